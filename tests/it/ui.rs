//! The console rendered with ratatui's TestBackend from fixed snapshots,
//! compared with accepted screens (insta), and its key handling.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use chrono::{DateTime, TimeZone, Utc};
use courier::engine::snapshot::*;
use courier::ui::app::{App, LagThresholds, Pane};
use courier::ui::keymap::Keymap;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn fixture(shards: usize, result_rows: usize) -> Snapshot {
    courier::ui::demo::sample_snapshot(shards, result_rows, now())
}

fn app() -> App {
    App::new(
        Keymap::default(),
        LagThresholds {
            warn_ms: 1000,
            crit_ms: 5000,
        },
        false,
    )
}

fn screen(app: &App, snap: &Snapshot, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| courier::ui::draw(f, app, snap, now())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The snapshot a read-only engine (or a read-only session) publishes.
fn read_only(s: &Snapshot) -> Snapshot {
    let mut s = s.clone();
    s.read_only = true;
    s
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn whole_screen_with_failures() {
    let s = screen(&app(), &fixture(4, 8), 140, 36);
    assert!(s.contains("FAILED"), "failed dimension shown");
    assert!(s.contains("4212"), "throttled writes shown");
    insta::assert_snapshot!("whole_screen", s);
}

#[test]
fn failed_query_shows_its_error() {
    let mut a = app();
    let snap = fixture(4, 8);
    a.handle_key(&key(']'), &snap);
    let s = screen(&a, &snap, 140, 36);
    assert!(s.contains("Query 2/2: Top restaurants by revenue"));
    assert!(s.contains("Catalog Error: Table with name dimRestaurant does not exist!"));
    insta::assert_snapshot!("failed_query", s);
}

#[test]
fn compact_layout_on_a_small_terminal_shows_the_focused_pane() {
    let mut a = app();
    let snap = fixture(4, 8);
    insta::assert_snapshot!("compact_shards", screen(&a, &snap, 60, 15));
    a.handle_key(&KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &snap);
    a.handle_key(&KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &snap);
    assert_eq!(a.focus, Pane::Dimensions);
    insta::assert_snapshot!("compact_dimensions", screen(&a, &snap, 60, 15));
    let tiny = screen(&a, &snap, 30, 8);
    assert!(tiny.contains("terminal too small"), "{tiny}");
}

#[test]
fn help_lists_every_binding() {
    let mut a = app();
    let snap = fixture(4, 3);
    a.handle_key(&key('?'), &snap);
    assert!(a.help);
    let s = screen(&a, &snap, 140, 36);
    for (_, _, _, help, _) in courier::ui::keymap::ACTIONS {
        assert!(s.contains(help), "help lacks {help:?}");
    }
    insta::assert_snapshot!("help", s);
    a.handle_key(&key('x'), &snap);
    assert!(!a.help, "any key closes help");
}

#[test]
fn sixty_four_shards_scroll() {
    let mut a = app();
    let snap = fixture(64, 3);
    for _ in 0..40 {
        a.handle_key(&key('j'), &snap);
    }
    let s = screen(&a, &snap, 140, 36);
    assert!(s.contains("41-59 of 64"), "{s}");
    assert!(s.contains("000000000040"), "scrolled to shard 40: {s}");
    insta::assert_snapshot!("shards_64_scrolled", s);
}

#[test]
fn keys_send_commands_and_read_only_refuses_mutations() {
    let snap = fixture(4, 3);
    let mut a = app();
    assert_eq!(a.handle_key(&key('p'), &snap), Some(Command::ToggleGenerator));
    assert_eq!(a.handle_key(&key('R'), &snap), Some(Command::ReloadAllDimensions));
    assert_eq!(a.handle_key(&key('+'), &snap), Some(Command::ScaleRate(RateStep::Up)));
    assert_eq!(a.handle_key(&key('-'), &snap), Some(Command::ScaleRate(RateStep::Down)));
    assert_eq!(RateStep::Up.apply(1000), 1250);
    assert_eq!(RateStep::Down.apply(1000), 800);
    assert_eq!(RateStep::Up.apply(MAX_RATE), MAX_RATE);
    assert_eq!(RateStep::Down.apply(1), 1);
    assert_eq!(RateStep::Up.apply(0), 1);
    assert_eq!(a.handle_key(&key('x'), &snap), Some(Command::RunQuery(0)));
    assert_eq!(
        a.handle_key(&KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL), &snap),
        Some(Command::ReloadQueries)
    );
    a.focus = Pane::Dimensions;
    a.handle_key(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), &snap);
    assert_eq!(
        a.handle_key(&key('r'), &snap),
        Some(Command::ReloadDimension("dimRestaurants".into()))
    );

    let mut ro = app();
    let ro_snap = read_only(&snap);
    for c in ['p', 'R', 'r', '+', '-'] {
        assert_eq!(ro.handle_key(&key(c), &ro_snap), None, "{c} refused");
    }
    assert!(ro.message().unwrap().contains("read-only"));
    assert_eq!(
        ro.handle_key(&key('x'), &ro_snap),
        Some(Command::RunQuery(0)),
        "queries still run"
    );
    let s = screen(&ro, &ro_snap, 140, 36);
    assert!(s.contains("READ-ONLY"));
    ro.handle_key(&key('q'), &ro_snap);
    assert!(ro.quit);
}

#[test]
fn no_size_panics() {
    let snap = fixture(64, 1000);
    let mut a = app();
    for (w, h) in [
        (1, 1),
        (10, 3),
        (39, 9),
        (40, 10),
        (60, 15),
        (80, 24),
        (99, 23),
        (100, 24),
        (200, 60),
    ] {
        for _ in 0..4 {
            screen(&a, &snap, w, h);
            a.handle_key(&KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &snap);
        }
    }
    let empty = Snapshot::default();
    for (w, h) in [(1, 1), (60, 15), (140, 36)] {
        screen(&a, &empty, w, h);
        a.handle_key(&key('j'), &empty);
        a.handle_key(&key(']'), &empty);
        a.handle_key(&key('r'), &empty);
    }
}

#[test]
fn stopping_the_service_asks_first_and_an_attached_console_detaches() {
    let mut a = app();
    a.attached = true;
    let snap = fixture(4, 3);
    let s = screen(&a, &snap, 140, 36);
    assert!(s.contains("q detach"), "the footer says q detaches: {s}");
    assert_eq!(a.handle_key(&key('S'), &snap), None, "S only asks");
    let s = screen(&a, &snap, 140, 36);
    assert!(s.contains("Stop the pipeline service?") && s.contains("y stop"), "{s}");
    insta::assert_snapshot!("confirm_stop", s);
    assert_eq!(a.handle_key(&key('n'), &snap), None);
    assert_eq!(a.message(), Some("stop cancelled: the service keeps running"));
    assert!(!screen(&a, &snap, 140, 36).contains("Stop the pipeline service?"));
    a.handle_key(&key('S'), &snap);
    assert_eq!(a.handle_key(&key('y'), &snap), Some(Command::StopService));
    a.handle_key(&key('?'), &snap);
    assert!(screen(&a, &snap, 140, 36).contains("detach (the service keeps running)"));
    // Read-only: refused at once, nothing asked.
    let mut ro = app();
    let ro_snap = read_only(&snap);
    assert_eq!(ro.handle_key(&key('S'), &ro_snap), None);
    assert!(!ro.confirm_stop);
    assert_eq!(ro.message(), Some("read-only: stop_service refused"));
}

// ---- operator overlays ----

use courier::ops::dlq::{DeadLetterView, RedriveReport};
use courier::ops::records::{RecordView, TailPage, Trace};
use courier::ops::{OpReply, OpRequest};

fn record(seq: u64, id: i64, status: &str) -> RecordView {
    let text = format!(
        r#"{{"OrderID": {id}, "CustomerID": 7, "RestaurantID": 3, "RiderID": 2, "OrderDate": "2026-11-25T11:59:00.000000", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 1.0, "OrderStatus": "{status}"}}"#
    );
    RecordView {
        shard_id: "shardId-000000000001".into(),
        sequence_number: seq.to_string(),
        partition_key: id.to_string(),
        arrival_ms: now().timestamp_millis() - 60_000 + seq as i64 * 100,
        bytes: text.len(),
        json: serde_json::from_str(&text).ok(),
        text,
    }
}

fn letter(seq: u64, reason: &str, payload: &str, binary: bool) -> DeadLetterView {
    DeadLetterView {
        stream: "incoming-food-order-data".into(),
        shard_id: "shardId-000000000002".into(),
        sequence_number: seq.to_string(),
        arrival_time: Some("2026-11-25 11:58:00.123".into()),
        dead_at: Some("2026-11-25 11:58:00.400".into()),
        reason: reason.into(),
        payload: payload.into(),
        binary,
        payload_bytes: Some(payload.len() as u64),
        attempts: Some(1),
        redriven_at: None,
    }
}

/// Open an overlay with its key, then give it the operator's answer.
fn opened(c: char, snap: &Snapshot, reply: Option<OpReply>) -> App {
    let mut a = app();
    a.handle_key(&key(c), snap);
    if let Some(reply) = reply {
        let req = a.pending_ops.pop().expect("the overlay asked the operator");
        a.answer(&req, Ok(reply));
    }
    a
}

#[test]
fn record_browser_shows_the_newest_records_decoded() {
    let snap = fixture(4, 8);
    let a = opened(
        't',
        &snap,
        Some(OpReply::Records(TailPage {
            records: vec![record(41, 12, "Processing"), record(42, 12, "On the way")],
            scanned: 180,
            throttled: 2,
            stopped_short: false,
        })),
    );
    let s = screen(&a, &snap, 140, 36);
    assert!(s.contains("Records of shardId-000000000000"), "{s}");
    assert!(
        s.contains("seq 42") && s.contains("\"OrderStatus\": \"On the way\""),
        "{s}"
    );
    assert!(s.contains("throttled 2 time(s)"), "{s}");
    insta::assert_snapshot!("record_browser", s);
}

#[test]
fn trace_prompt_then_the_orders_journey() {
    let snap = fixture(4, 8);
    let mut a = app();
    a.handle_key(&key('/'), &snap);
    for c in "12x".chars() {
        a.handle_key(&key(c), &snap);
    }
    assert!(screen(&a, &snap, 140, 36).contains("OrderID: 12▏"));
    a.handle_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    let req = a.pending_ops.pop().unwrap();
    assert_eq!(req, OpRequest::Trace { order_id: 12 });
    a.answer(
        &req,
        Ok(OpReply::Trace(Box::new(Trace {
            order_id: 12,
            shard_id: "shardId-000000000001".into(),
            events: vec![
                record(41, 12, "Processing"),
                record(42, 12, "On the way"),
                record(57, 12, "Delivered"),
            ],
            scanned: 300,
            throttled: 0,
            stopped_short: false,
            row: Some(vec![
                ("orderid".into(), Some("12".into())),
                ("orderstatus".into(), Some("Delivered".into())),
                ("sequencenumber".into(), Some("57".into())),
            ]),
            freshness_ms: Some(412),
            dead_letters: vec![],
        }))),
    );
    let s = screen(&a, &snap, 140, 36);
    assert!(
        s.contains("Processing  seq 41") && s.contains("Delivered   seq 57"),
        "{s}"
    );
    assert!(s.contains("412 ms"), "{s}");
    insta::assert_snapshot!("trace", s);
}

#[test]
fn dead_letters_list_open_and_redrive_asks_first() {
    let snap = fixture(4, 8);
    let list = vec![
        letter(
            9,
            "EmittedAt 1764000000123456789 is not a time in milliseconds",
            "{\"OrderID\": 3, \"EmittedAt\": 1764000000123456789}",
            false,
        ),
        letter(12, "not an order event: invalid unicode", "{\"OrderID\": \\xff}", true),
    ];
    let mut a = opened('d', &snap, Some(OpReply::DeadLetters(list)));
    insta::assert_snapshot!("dead_letters", screen(&a, &snap, 140, 36));
    a.handle_key(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), &snap);
    a.handle_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    let s = screen(&a, &snap, 140, 36);
    assert!(
        s.contains("not text: bytes escaped") && s.contains("sequence     12"),
        "{s}"
    );
    a.handle_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &snap);
    // D asks; only y redrives.
    a.handle_key(&key('D'), &snap);
    assert!(screen(&a, &snap, 140, 36).contains("redrive them all?"));
    a.handle_key(&key('n'), &snap);
    assert!(a.pending_ops.is_empty(), "no redrive without y");
    a.handle_key(&key('D'), &snap);
    a.handle_key(&key('y'), &snap);
    let req = a.pending_ops.pop().unwrap();
    assert!(matches!(req, OpRequest::Redrive(_)));
    a.answer(
        &req,
        Ok(OpReply::Redriven(RedriveReport {
            tried: 2,
            loaded: 1,
            failed_again: 1,
            ..Default::default()
        })),
    );
    // After the report, the list is read again.
    assert!(matches!(a.pending_ops.pop(), Some(OpRequest::DeadLetters(_))));
    assert!(screen(&a, &snap, 140, 36).contains("2 tried, 1 loaded"));
    // Read-only: the redrive is refused before it is asked.
    let mut ro = app();
    let ro_snap = read_only(&snap);
    ro.handle_key(&key('d'), &ro_snap);
    let req = ro.pending_ops.pop().unwrap();
    ro.answer(&req, Ok(OpReply::DeadLetters(vec![letter(9, "x", "{}", false)])));
    ro.handle_key(&key('D'), &ro_snap);
    ro.handle_key(&key('y'), &ro_snap);
    assert!(ro.pending_ops.is_empty());
    assert!(screen(&ro, &ro_snap, 140, 36).contains("read-only: redrive refused"));
}

#[test]
fn rewind_asks_where_and_only_y_rewinds() {
    let snap = fixture(4, 8);
    let mut a = app();
    a.handle_key(&key('w'), &snap);
    insta::assert_snapshot!("rewind", screen(&a, &snap, 140, 36));
    // Esc: nothing sent.
    assert_eq!(
        a.handle_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &snap),
        None
    );
    a.handle_key(&key('w'), &snap);
    a.handle_key(&KeyEvent::new(KeyCode::Up, KeyModifiers::NONE), &snap);
    a.handle_key(&KeyEvent::new(KeyCode::Up, KeyModifiers::NONE), &snap);
    a.handle_key(&KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &snap);
    let cmd = a.handle_key(&key('y'), &snap);
    assert_eq!(
        cmd,
        Some(Command::Rewind {
            shard: Some("shardId-000000000000".into()),
            to: courier::ops::Position::TrimHorizon
        })
    );
    let mut ro = app();
    let ro_snap = read_only(&snap);
    assert_eq!(ro.handle_key(&key('w'), &ro_snap), None);
    assert!(ro.overlay.is_none());
}

#[test]
fn a_replaying_shard_shows_what_is_left() {
    let mut snap = fixture(4, 8);
    snap.shards[3].replay_until = Some("900".into());
    snap.shards[3].replay_left = Some(1234);
    let s = screen(&app(), &snap, 140, 36);
    assert!(s.contains("⟲ 1234"), "{s}");
}

/// Scroll knows the viewport: after scrolling a result to its end, the
/// first Up moves the view (it used to take up to a screen of presses).
#[test]
fn scrolling_up_from_the_end_of_a_result_moves_at_once() {
    let mut a = app();
    let snap = fixture(4, 200);
    a.focus = Pane::Queries;
    let first = screen(&a, &snap, 140, 36);
    let rows = |s: &str| {
        s.lines()
            .find_map(|l| {
                l.split("rows ")
                    .nth(1)
                    .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
            })
            .unwrap_or_default()
    };
    assert!(rows(&first).starts_with("1-"), "{first}");
    for _ in 0..40 {
        a.handle_key(&KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE), &snap);
    }
    let end = rows(&screen(&a, &snap, 140, 36));
    assert!(end.ends_with("-200"), "at the end: {end}");
    a.handle_key(&key('k'), &snap);
    let up = rows(&screen(&a, &snap, 140, 36));
    let top = |r: &str| r.split('-').next().unwrap().parse::<usize>().unwrap();
    println!("end {end}, one up {up}");
    assert_eq!(top(&up), top(&end) - 1, "one Up from the end moves one row");
}

/// Several instances share the stream: the shard pane's title says which
/// instance this is and how many shards it reads; shards held elsewhere
/// show their holder, dimmed, and one no one holds says so.
#[test]
fn shards_held_by_other_instances_show_their_holder() {
    let a = app();
    let mut snap = fixture(4, 8);
    for (i, s) in snap.shards.iter_mut().enumerate() {
        s.held = i % 2 == 0;
        s.owner = Some(if s.held { "host-a" } else { "host-b" }.into());
        if !s.held {
            s.millis_behind_latest = 0;
            s.records_behind = 0;
            s.read_rate = 0;
        }
    }
    snap.shards[3].owner = None;
    snap.leases = courier::engine::snapshot::LeaseStats {
        instance: "host-a".into(),
        held: 2,
        shards: 4,
        instances: 2,
        takeovers: 3,
        lost: 0,
        taken: 1,
    };
    let s = screen(&a, &snap, 160, 30);
    assert!(s.contains("host-a reads 2/4 · 2 instances"), "{s}");
    assert!(s.contains("takeovers 3"), "{s}");
    assert!(s.contains("→ host-b") && s.contains("→ free"), "{s}");
    insta::assert_snapshot!("shards_shared_by_instances", s);
}
