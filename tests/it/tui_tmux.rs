//! The real console in tmux, driven as an operator would: send keys, read
//! the screen with capture-pane. Needs tmux (scripts/test.sh installs it).
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::process::Command;

use crate::common::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_courier");

#[test]
fn operator_session_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::shell("ops", 160, 45);
    let cmd = format!(
        "XDG_CONFIG_HOME={}/cfg {BIN} --data-dir {} --rate 400; echo EXIT=$?",
        dir.path().display(),
        dir.path().display()
    );
    t.keys(&[&cmd, "Enter"]);
    t.wait_for("the console with loaded dimensions and a running generator", |s| {
        s.contains("RUNNING")
            && s.matches(" loaded ").count() >= 3
            && s.contains("Shard lag (4)")
            && s.contains("Orders and revenue per minute")
    });

    t.keys(&["p"]);
    t.wait_for("generator paused", |s| s.contains("PAUSED"));

    t.keys(&["R"]);
    t.wait_for("reload started", |s| s.contains("reloading all dimension tables"));
    t.wait_for("dimensions loaded again", |s| {
        s.matches(" loaded ").count() >= 3 && s.contains("0s ago")
    });

    t.keys(&["]"]);
    t.wait_for("the next query", |s| {
        s.contains("Query 2/6: Top restaurants by revenue")
    });

    t.keys(&["?"]);
    // Waits for the popup's last line too: a capture can land while the
    // terminal is still drawing the frame that opens it.
    let s = t.wait_for("help", |s| {
        s.contains("Keys — any key closes") && s.contains("re-read sql/queries from disk")
    });
    assert!(
        s.contains("pause / resume the generator") && s.contains("re-read sql/queries from disk"),
        "{s}"
    );
    t.keys(&["Escape"]);
    t.wait_for("help closed", |s| !s.contains("Keys — any key closes"));

    t.keys(&["q"]);
    let s = t.wait_for("a clean exit with the prompt back", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.contains("summary: generated="), "{s}");
    assert!(s.replace('\n', "").contains("drained=true"), "{s}");
}

#[test]
fn no_color_and_sigterm_restore_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::shell("term", 120, 30);
    let cmd = format!(
        "NO_COLOR=1 XDG_CONFIG_HOME={d}/cfg {BIN} --data-dir {d} --paused --read-only; echo EXIT=$?",
        d = dir.path().display()
    );
    t.keys(&[&cmd, "Enter"]);
    t.wait_for("the console", |s| s.contains("PAUSED") && s.contains("READ-ONLY"));
    // With NO_COLOR the screen carries no colour escapes (bold/reverse are allowed).
    let styled = t.tmux(&["capture-pane", "-p", "-e", "-t", "t"]);
    for sgr in styled
        .split("\x1b[")
        .skip(1)
        .filter_map(|rest| rest.split_once('m').map(|(p, _)| p))
    {
        for p in sgr.split(';').filter_map(|p| p.parse::<u32>().ok()) {
            let colour = matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107);
            assert!(!colour, "colour escape \\e[{sgr}m under NO_COLOR");
        }
    }
    // Read-only refuses generator control, visibly.
    t.keys(&["p"]);
    t.wait_for("the refusal", |s| s.contains("read-only: pause refused"));
    // SIGTERM: the console leaves, the terminal comes back, the engine drains.
    let status = Command::new("pkill")
        .args(["-TERM", "-f", &format!("data-dir {} --paused", dir.path().display())])
        .status()
        .unwrap();
    assert!(status.success(), "courier was running");
    let s = t.wait_for("the prompt after SIGTERM", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.contains("summary: generated=0"), "{s}");
    assert!(!s.contains("Shard lag"), "the console's screen is gone:\n{s}");
}

#[test]
fn a_panic_in_the_console_restores_the_terminal_and_prints_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::shell("panic", 120, 30);
    let cmd = format!(
        "COURIER_TEST_UI_PANIC=1 XDG_CONFIG_HOME={d}/cfg {BIN} --data-dir {d} --paused 2>{d}/err.txt; echo EXIT=$?",
        d = dir.path().display()
    );
    t.keys(&[&cmd, "Enter"]);
    let s = t.wait_for("the prompt after the panic", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(!s.contains("EXIT=0"), "a panic is not a clean exit:\n{s}");
    assert!(!s.contains("Shard lag"), "the console's screen is gone:\n{s}");
    // The terminal works normally again: a typed command echoes and runs.
    t.keys(&["echo still-$((40+2))", "Enter"]);
    t.wait_for("a working terminal", |s| s.contains("still-42"));
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert!(
        err.contains("panicking inside the console on purpose"),
        "the error is printed: {err}"
    );
}

#[test]
fn a_failed_load_shows_in_the_console_and_logs_go_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // A broken rider CSV already in the object store: its load fails.
    let dims = dir.path().join("objects/courier-data/dims");
    std::fs::create_dir_all(&dims).unwrap();
    std::fs::write(dims.join("dimDeliveryRiders.csv"), "RiderID,Name\n1,x\n").unwrap();
    let t = Tmux::shell("failed", 160, 45);
    let cmd = format!(
        "XDG_CONFIG_HOME={d}/cfg {BIN} --data-dir {d} --paused; echo EXIT=$?",
        d = dir.path().display()
    );
    t.keys(&[&cmd, "Enter"]);
    let s = t.wait_for("the failed load with its reason", |s| {
        s.contains("FAILED") && s.contains("dimDeliveryRiders.csv line 1: header is")
    });
    assert!(!s.contains("WARN"), "a log line scribbled over the console:\n{s}");
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXIT=0"));
    let log = std::fs::read_to_string(dir.path().join("courier.log")).unwrap();
    assert!(log.contains("WARN") && log.contains("dimDeliveryRiders"), "{log}");
}

#[test]
fn operator_overlays_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::shell("overlays", 150, 45);
    let cmd = format!(
        "XDG_CONFIG_HOME={d}/cfg {BIN} --data-dir {d} --rate 100; echo EXIT=$?",
        d = dir.path().display()
    );
    t.keys(&[&cmd, "Enter"]);
    t.wait_for("ingestion under way", |s| {
        s.contains("RUNNING") && !s.contains("ingested 0 ")
    });
    // The record browser: the selected shard's newest records, decoded.
    t.keys(&["t"]);
    t.wait_for("records of shard 0", |s| {
        s.contains("Records of shardId-000000000000") && s.contains("\"OrderStatus\"") && s.contains("  seq ")
    });
    t.keys(&["Tab"]);
    t.wait_for("records of shard 1", |s| {
        s.contains("Records of shardId-000000000001") && s.contains("\"OrderID\"")
    });
    t.keys(&["/"]);
    t.keys(&["OrderStatus=Processing", "Enter"]);
    let s = t.wait_for("the filtered page", |s| {
        s.contains("filter OrderStatus=Processing") && s.contains(" shown, ")
    });
    assert!(!s.contains("\"OrderStatus\": \"Delivered\""), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the browser closed", |s| !s.contains("Records of shardId"));
    // Trace order 1: its events and its row.
    t.keys(&["/"]);
    t.wait_for("the OrderID prompt", |s| s.contains("OrderID:"));
    t.keys(&["1", "Enter"]);
    let s = t.wait_for("the trace", |s| {
        s.contains("order 1 → shardId-") && s.contains("factOrders row:")
    });
    assert!(s.contains("Processing") && s.contains("orderid         1"), "{s}");
    t.keys(&["Escape"]);
    // Escape and a key at once read as Alt-key: wait for the close first.
    t.wait_for("the trace closed", |s| !s.contains("factOrders row:"));
    // Dead letters: none on a clean run.
    t.keys(&["d"]);
    t.wait_for("the dead letters", |s| {
        s.contains("Dead letters (0)") && s.contains("no dead letters")
    });
    t.keys(&["Escape"]);
    t.wait_for("the dead letters closed", |s| !s.contains("Dead letters (0)"));
    // Rewind asks; y rewinds every shard.
    t.keys(&["w"]);
    t.wait_for("the rewind question", |s| s.contains("Rewind every shard (4) to:"));
    t.keys(&["Up"]);
    t.keys(&["Up"]);
    t.keys(&["y"]);
    t.wait_for("the rewind sent", |s| {
        s.contains("rewinding every shard to trim horizon")
    });
    t.keys(&["q"]);
    let s = t.wait_for("a clean exit", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    // The summary line may wrap at the pane's width.
    let joined = s.replace('\n', "");
    assert!(s.contains("EXIT=0") && joined.contains("drained=true"), "{s}");
}

/// Hardening 11: `--for` ends the console too — at the deadline the engine
/// drains, the terminal is restored and the summary prints.
#[test]
fn the_console_stops_at_its_for_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::shell("for", 150, 40);
    let cmd = format!(
        "XDG_CONFIG_HOME={d}/cfg {BIN} --data-dir {d} --rate 100 --for 6s; echo EXIT=$?",
        d = dir.path().display()
    );
    let started = std::time::Instant::now();
    t.keys(&[&cmd, "Enter"]);
    t.wait_for("the console", |s| s.contains("Shard lag (4)"));
    let s = t.wait_for("the exit at the deadline, the prompt back", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    let took = started.elapsed();
    println!("console with --for 6s exited after {took:?}");
    assert!(
        s.contains("EXIT=0") && s.replace('\n', "").contains("drained=true"),
        "{s}"
    );
    assert!(!s.contains("Shard lag"), "the console's screen is gone: {s}");
    assert!(took < std::time::Duration::from_secs(40), "{took:?}");
}
