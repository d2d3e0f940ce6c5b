//! The operator console. It renders only from the engine's `Snapshot` and
//! steers the engine only with `Command`s; no AWS or SQL code lives here.
//!
//! `run` owns the terminal (restored by a guard on quit, error, panic and
//! SIGTERM), a thread that reads keys, and a redraw tick. The same console
//! runs over an in-process engine or one attached over the control socket. `draw` is the one place the
//! screen is split into panes.

pub mod app;
pub mod demo;
/// The key table lives below the UI (the config checks `[keys]` with it).
pub use crate::keys as keymap;
pub mod overlay;
pub mod panes;
pub mod theme;

use std::time::Duration;

use chrono::{DateTime, Utc};
use color_eyre::Result;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::snapshot::{Command, Snapshot};
use crate::ops::{OpFailure, OpReply, OpRequest};
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
        panes::chrome::header(frame, header, snap, &theme);
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
        panes::chrome::header(frame, header, snap, &theme);
        render_pane(frame, body, app, snap, &theme, now, app.focus);
        if !snap.errors.is_empty() {
            panes::chrome::errors(frame, errors, snap, &theme, now);
        }
        panes::chrome::footer(frame, footer, app, &theme);
    }
    if app.help {
        panes::chrome::help(frame, area, app, &theme);
    }
    if let Some(o) = &app.overlay {
        panes::overlays::render(frame, area, o, snap, &theme);
    }
    if app.confirm_stop {
        panes::chrome::confirm_stop(frame, area, &theme);
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

/// What a console runs on: the engine's snapshots and commands, in process
/// or over the control socket (whose refusals come as notices).
pub struct Link {
    pub snapshots: watch::Receiver<Snapshot>,
    pub commands: mpsc::Sender<Command>,
    pub notices: Option<mpsc::Receiver<String>>,
    /// Who answers the overlays' operator requests (tail, trace, dead letters).
    pub ops: Option<std::sync::Arc<dyn crate::ops::Operator>>,
}

/// Why the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The operator quit (or detached).
    Quit,
    /// `stop` was cancelled: a signal, or `--for` ran out.
    Stopped,
    /// The engine stopped publishing (it finished, or the link broke).
    EngineGone,
}

/// Leave raw mode and the alternate screen, if the console had them (a
/// no-op otherwise): for a process about to exit without unwinding.
pub fn restore_terminal() {
    if crossterm::terminal::is_raw_mode_enabled().unwrap_or(false) {
        ratatui::restore();
    }
}

/// Restores the terminal when dropped, on every way out of [`run`] (an
/// error, an early return); a panic is covered by ratatui's hook.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the console until the user quits, `stop` is cancelled or the engine
/// goes away. The terminal is restored on every way out, a panic included
/// (ratatui's hook restores it before the report prints).
pub async fn run(mut link: Link, mut app: App, tick: Duration, stop: CancellationToken) -> Result<Exit> {
    let mut terminal = ratatui::init();
    let _guard = TerminalGuard;
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
    // Test hook: prove a panic inside the console leaves the terminal restored.
    let panic_for_test = std::env::var_os("COURIER_TEST_UI_PANIC").is_some();
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let snapshots = &mut link.snapshots;
    let (answer_tx, mut answers) = mpsc::channel::<(OpRequest, Result<OpReply, OpFailure>)>(16);
    loop {
        for op in std::mem::take(&mut app.pending_ops) {
            match &link.ops {
                Some(ops) => {
                    let (ops, tx) = (std::sync::Arc::clone(ops), answer_tx.clone());
                    tokio::spawn(async move {
                        let reply = ops.run(op.clone()).await;
                        let _ = tx.send((op, reply)).await;
                    });
                }
                None => app.answer(
                    &op,
                    Err(OpFailure("operator actions are not available on this console".into())),
                ),
            }
        }
        let gone = snapshots.has_changed().is_err();
        let snap = snapshots.borrow_and_update().clone();
        terminal.draw(|f| draw(f, &app, &snap, Utc::now()))?;
        if panic_for_test && snap.uptime > Duration::from_secs(1) {
            panic!("COURIER_TEST_UI_PANIC is set: panicking inside the console on purpose");
        }
        if app.quit {
            return Ok(Exit::Quit);
        }
        if gone {
            return Ok(Exit::EngineGone);
        }
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return Ok(Exit::Stopped),
            Some(notice) = async { match link.notices.as_mut() { Some(n) => n.recv().await, None => std::future::pending().await } } => {
                app.say(notice);
            }
            Some((op, reply)) = answers.recv() => app.answer(&op, reply),
            ev = key_rx.recv() => match ev {
                Some(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    if let Some(cmd) = app.handle_key(&k, &snap)
                        && link.commands.send(cmd).await.is_err()
                    {
                        app.say("the engine has stopped");
                    }
                }
                Some(_) => {}
                None => return Ok(Exit::Quit),
            },
        }
    }
}
