//! The console's view state (focus, scroll, which query is shown, help, the
//! transient message) and what a key does to it. Pure: no I/O, no clock
//! beyond what is passed in; the engine's truth stays in the `Snapshot`.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyEvent;

use super::keymap::{Action, Key, Keymap};
use super::overlay::Overlay;
use crate::engine::snapshot::{Command, RateStep, Snapshot};
use crate::ops::{OpFailure, OpReply, OpRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Shards,
    Generator,
    Dimensions,
    Queries,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Shards, Pane::Generator, Pane::Dimensions, Pane::Queries];

    fn step(self, by: isize) -> Pane {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + by).rem_euclid(Self::ORDER.len() as isize) as usize]
    }
}

/// Thresholds for colouring shard lag.
#[derive(Debug, Clone, Copy)]
pub struct LagThresholds {
    pub warn_ms: u64,
    pub crit_ms: u64,
}

pub struct App {
    pub keymap: Keymap,
    pub focus: Pane,
    pub shard_scroll: usize,
    pub dimension_selected: usize,
    pub query_index: usize,
    pub query_scroll: usize,
    /// Result rows the queries pane showed at its last frame: scrolling
    /// stops where the last row is at the bottom, so the first Up after
    /// the end moves the view.
    pub query_viewport: std::cell::Cell<usize>,
    pub help: bool,
    pub lag: LagThresholds,
    pub colour: bool,
    pub quit: bool,
    /// Attached to a service over its socket: quitting detaches.
    pub attached: bool,
    /// Waiting for `y` to stop the service.
    pub confirm_stop: bool,
    /// Rewind, record browser, trace or dead letters, over the panes.
    pub overlay: Option<Overlay>,
    /// Operator requests a key asked for, for the run loop to send.
    pub pending_ops: Vec<OpRequest>,
    message: Option<(String, Instant)>,
}

const MESSAGE_FOR: Duration = Duration::from_secs(4);
const PAGE: usize = 10;

impl App {
    /// The console's view state. Whether it may change anything is the
    /// snapshot's `read_only` (the engine's mode, or this session's).
    pub fn new(keymap: Keymap, lag: LagThresholds, colour: bool) -> Self {
        App {
            keymap,
            focus: Pane::Shards,
            shard_scroll: 0,
            dimension_selected: 0,
            query_index: 0,
            query_scroll: 0,
            query_viewport: std::cell::Cell::new(1),
            help: false,
            lag,
            colour,
            quit: false,
            attached: false,
            confirm_stop: false,
            overlay: None,
            pending_ops: Vec::new(),
            message: None,
        }
    }

    /// The transient message, if still fresh.
    pub fn message(&self) -> Option<&str> {
        self.message
            .as_ref()
            .filter(|(_, at)| at.elapsed() < MESSAGE_FOR)
            .map(|(m, _)| m.as_str())
    }

    pub fn say(&mut self, m: impl Into<String>) {
        self.message = Some((m.into(), Instant::now()));
    }

    /// Apply a key; returns the command to send to the engine, if any.
    pub fn handle_key(&mut self, event: &KeyEvent, snap: &Snapshot) -> Option<Command> {
        let key = Key::from_event(event);
        let action = self.keymap.action_for(&key);
        if self.confirm_stop {
            self.confirm_stop = false;
            if key.code == ratatui::crossterm::event::KeyCode::Char('y') && !key.ctrl && !key.alt {
                self.say("stopping the service: draining and checkpointing…");
                return Some(Command::StopService);
            }
            self.say("stop cancelled: the service keeps running");
            return None;
        }
        if let Some(overlay) = self.overlay.take() {
            let now_ms = chrono::Utc::now().timestamp_millis();
            let (next, fx) = overlay.key(&key, snap, now_ms);
            self.overlay = next;
            if let Some(m) = fx.say {
                self.say(m);
            }
            if let Some(op) = fx.op {
                if snap.read_only && op.is_mutation() {
                    self.say("read-only: redrive refused");
                } else {
                    self.pending_ops.push(op);
                }
            }
            return match fx.command {
                Some(c) if snap.read_only && c.is_mutation() => {
                    self.say("read-only: rewind refused");
                    None
                }
                Some(c) => {
                    self.say(describe(&c, snap));
                    Some(c)
                }
                None => None,
            };
        }
        if self.help {
            match action {
                Some(Action::Quit) => self.quit = true,
                _ => self.help = false,
            }
            return None;
        }
        let action = action?;
        let command = match action {
            Action::Quit => {
                self.quit = true;
                None
            }
            Action::Help => {
                self.help = true;
                None
            }
            Action::StopService if snap.read_only => Some(Command::StopService),
            Action::StopService => {
                self.confirm_stop = true;
                None
            }
            Action::FocusNext => {
                self.focus = self.focus.step(1);
                None
            }
            Action::FocusPrev => {
                self.focus = self.focus.step(-1);
                None
            }
            Action::ScrollUp => self.scroll(snap, -1),
            Action::ScrollDown => self.scroll(snap, 1),
            Action::PageUp => self.scroll(snap, -(PAGE as isize)),
            Action::PageDown => self.scroll(snap, PAGE as isize),
            Action::ReloadDimension => {
                let table = snap.dimensions.get(self.dimension_selected).map(|d| d.table.clone());
                table.map(Command::ReloadDimension)
            }
            Action::ReloadAll => Some(Command::ReloadAllDimensions),
            Action::Pause => Some(Command::ToggleGenerator),
            Action::RateUp => Some(Command::ScaleRate(RateStep::Up)),
            Action::RateDown => Some(Command::ScaleRate(RateStep::Down)),
            Action::RerunQuery => {
                (self.query_index < snap.queries.len()).then_some(Command::RunQuery(self.query_index))
            }
            Action::PrevQuery | Action::NextQuery => {
                let n = snap.queries.len().max(1);
                let by = if action == Action::NextQuery { 1 } else { n - 1 };
                self.query_index = (self.query_index + by) % n;
                self.query_scroll = 0;
                None
            }
            Action::ReloadQueries => Some(Command::ReloadQueries),
            Action::Rewind if snap.read_only => {
                self.say("read-only: rewind refused");
                None
            }
            Action::Rewind => {
                let selected = snap.shards.get(self.shard_scroll).map(|s| s.shard_id.clone());
                self.overlay = Some(Overlay::Rewind {
                    shard: None,
                    selected,
                    choice: 2,
                });
                None
            }
            Action::Tail => {
                match snap.shards.get(self.shard_scroll).or(snap.shards.first()) {
                    Some(s) => {
                        let (o, req) = Overlay::records(s.shard_id.clone());
                        self.overlay = Some(o);
                        self.pending_ops.push(req);
                    }
                    None => self.say("no shard is being read yet"),
                }
                None
            }
            Action::Trace => {
                self.overlay = Some(Overlay::TracePrompt { text: String::new() });
                None
            }
            Action::DeadLetters => {
                let (o, req) = Overlay::dead_letters();
                self.overlay = Some(o);
                self.pending_ops.push(req);
                None
            }
        };
        match command {
            Some(c) if snap.read_only && c.is_mutation() => {
                self.say(format!("read-only: {} refused", Keymap::name(action)));
                None
            }
            Some(c) => {
                self.say(describe(&c, snap));
                Some(c)
            }
            None => None,
        }
    }

    /// The operator's answer to `req`, for the overlay that asked.
    pub fn answer(&mut self, req: &OpRequest, reply: Result<OpReply, OpFailure>) {
        if let Some(o) = self.overlay.as_mut()
            && let Some(next) = o.answer(req, reply)
        {
            self.pending_ops.push(next);
        }
    }

    fn scroll(&mut self, snap: &Snapshot, by: isize) -> Option<Command> {
        let clamp =
            |v: usize, len: usize| -> usize { (v as isize + by).clamp(0, len.saturating_sub(1) as isize) as usize };
        match self.focus {
            Pane::Shards => self.shard_scroll = clamp(self.shard_scroll, snap.shards.len()),
            Pane::Dimensions => self.dimension_selected = clamp(self.dimension_selected, snap.dimensions.len()),
            Pane::Queries => {
                let rows = snap
                    .queries
                    .get(self.query_index)
                    .and_then(|q| q.last.as_ref())
                    .map_or(0, |r| r.rows.len());
                let last_top = rows.saturating_sub(self.query_viewport.get().max(1)) + 1;
                self.query_scroll = clamp(self.query_scroll.min(last_top.saturating_sub(1)), last_top);
            }
            Pane::Generator => {}
        }
        None
    }
}

fn describe(c: &Command, snap: &Snapshot) -> String {
    match c {
        Command::ReloadDimension(t) => format!("reloading {t}"),
        Command::ReloadAllDimensions => "reloading all dimension tables".into(),
        Command::ToggleGenerator => {
            if snap.generator.state == crate::engine::snapshot::GeneratorState::Paused {
                "resuming the generator".into()
            } else {
                "pausing the generator".into()
            }
        }
        Command::PauseGenerator => "pausing the generator".into(),
        Command::ResumeGenerator => "resuming the generator".into(),
        Command::SetRate(r) => format!("generator rate → {r}/s"),
        Command::ScaleRate(step) => format!("generator rate → {}/s", step.apply(snap.generator.target_rate)),
        Command::RunQuery(i) => {
            format!(
                "running {}",
                snap.queries.get(*i).map_or("the query", |q| q.title.as_str())
            )
        }
        Command::ReloadQueries => "re-reading sql/queries".into(),
        Command::StopService => "stopping the service".into(),
        Command::Rewind { shard, to } => format!(
            "rewinding {} to {}",
            shard.as_deref().unwrap_or("every shard"),
            to.label()
        ),
    }
}
