//! The operator console. It renders only from the engine's `Snapshot` and
//! steers the engine only with `Command`s; no AWS or SQL code lives here.
//!
//! `run` owns the terminal (restored on quit, error, panic and SIGTERM), a
//! thread that reads keys, and a redraw tick. `draw` is the one place the
//! screen is split into panes.

pub mod app;
pub mod demo;
pub mod keymap;
pub mod panes;
pub mod theme;

use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::Result;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use tokio::sync::{mpsc, watch};

use crate::engine::snapshot::{Command, Snapshot};
use app::{App, Pane};
use theme::Theme;

/// Below this the console shows a notice instead of panes.
pub const MIN_SIZE: (u16, u16) = (40, 10);
/// Below this it shows one pane at a time (the focused one).
pub const FULL_SIZE: (u16, u16) = (100, 24);

/// Whether to use colour: not when `NO_COLOR` is set to anything non-empty.
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Draw the whole screen from `snap`; `now` is passed in so rendering is
/// deterministic under test.
pub fn draw(frame: &mut Frame, app: &App, snap: &Snapshot, now: DateTime<Utc>) {
    let area = frame.area();
    let theme = Theme::new(app.colour);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        panes::chrome::too_small(frame, area);
        return;
    }
    let full = area.width >= FULL_SIZE.0 && area.height >= FULL_SIZE.1;
    if full {
        let dims_height = snap.dimensions.len() as u16 + 3;
        let [header, body, dims, errors, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(10),
            Constraint::Length(dims_height),
            Constraint::Length(5),
            Constraint::Length(1),
        ])
        .areas(area);
        let [shards, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        let [generator, queries] = Layout::vertical([Constraint::Length(8), Constraint::Min(5)]).areas(right);
        panes::chrome::header(frame, header, app, snap, &theme);
        panes::shards::render(frame, shards, app, snap, &theme);
        panes::dimensions::render(frame, dims, app, snap, &theme, now);
        panes::generator::render(frame, generator, app, snap, &theme);
        panes::queries::render(frame, queries, app, snap, &theme, now);
        panes::chrome::errors(frame, errors, snap, &theme, now);
        panes::chrome::footer(frame, footer, app, &theme);
    } else {
        let [header, body, errors, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(if snap.errors.is_empty() { 0 } else { 3 }),
            Constraint::Length(1),
        ])
        .areas(area);
        panes::chrome::header(frame, header, app, snap, &theme);
        render_pane(frame, body, app, snap, &theme, now, app.focus);
        if !snap.errors.is_empty() {
            panes::chrome::errors(frame, errors, snap, &theme, now);
        }
        panes::chrome::footer(frame, footer, app, &theme);
    }
    if app.help {
        panes::chrome::help(frame, area, &app.keymap, &theme);
    }
}

fn render_pane(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme, now: DateTime<Utc>, p: Pane) {
    match p {
        Pane::Shards => panes::shards::render(frame, area, app, snap, theme),
        Pane::Generator => panes::generator::render(frame, area, app, snap, theme),
        Pane::Dimensions => panes::dimensions::render(frame, area, app, snap, theme, now),
        Pane::Queries => panes::queries::render(frame, area, app, snap, theme, now),
    }
}

/// Run the console until the user quits (or SIGTERM). The terminal is
/// restored on every way out, a panic included (ratatui's hook restores it
/// before the report prints).
pub async fn run(
    mut snapshots: watch::Receiver<Snapshot>,
    commands: mpsc::Sender<Command>,
    mut app: App,
    tick: Duration,
) -> Result<()> {
    let mut terminal = ratatui::init();
    let (key_tx, mut key_rx) = mpsc::channel::<Event>(64);
    // crossterm's read blocks: it gets a thread; it ends when the channel closes.
    std::thread::spawn(move || {
        loop {
            match event::poll(Duration::from_millis(200)) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if key_tx.blocking_send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {
                    if key_tx.is_closed() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Test hook: prove a panic inside the console leaves the terminal restored.
    let panic_for_test = std::env::var_os("COURIER_TEST_UI_PANIC").is_some();
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let result: Result<()> = async {
        loop {
            let snap = snapshots.borrow_and_update().clone();
            terminal.draw(|f| draw(f, &app, &snap, Utc::now()))?;
            if panic_for_test && snap.uptime > Duration::from_secs(1) {
                panic!("COURIER_TEST_UI_PANIC is set: panicking inside the console on purpose");
            }
            if app.quit {
                return Ok(());
            }
            tokio::select! {
                _ = ticker.tick() => {}
                _ = sigterm.recv() => return Ok(()),
                ev = key_rx.recv() => match ev {
                    Some(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                        if let Some(cmd) = app.handle_key(&k, &snap)
                            && commands.send(cmd).await.is_err()
                        {
                            app.say("the engine has stopped");
                        }
                    }
                    Some(_) => {}
                    None => return Ok(()),
                },
            }
        }
    }
    .await;
    drop(key_rx);
    ratatui::restore();
    result
}
