//! The operator overlays' view state and keys: rewind (asks first), the
//! record browser, an order trace and the dead letters. Like `app`, pure:
//! a key may yield a `Command` for the engine or an `OpRequest` for the
//! operator (answered later through [`Overlay::answer`]); no I/O here.

use ratatui::crossterm::event::KeyCode;

use super::keymap::Key;
use crate::engine::snapshot::{Command, Snapshot};
use crate::ops::dlq::{DeadLetterView, DlqFilter, RedriveReport};
use crate::ops::records::{TailPage, TailRequest, Trace};
use crate::ops::{OpFailure, OpReply, OpRequest, Position};

/// Where a rewind may go, as offered: label and how far back (None: an end).
pub const REWIND_TO: [(&str, Option<i64>); 5] = [
    ("the trim horizon (everything kept)", None),
    ("1 hour ago", Some(3_600_000)),
    ("10 minutes ago", Some(600_000)),
    ("1 minute ago", Some(60_000)),
    ("latest (skip what is unread)", None),
];

/// Records a browser page shows.
const PAGE_RECORDS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// Asking where to rewind `shard` (None: every shard) to; Tab switches
    /// between every shard and the one `selected` in the shards pane.
    Rewind {
        shard: Option<String>,
        selected: Option<String>,
        choice: usize,
    },
    /// Typing the OrderID to trace.
    TracePrompt {
        text: String,
    },
    Records(Records),
    Trace {
        order_id: i64,
        answer: Option<Result<Box<Trace>, OpFailure>>,
        scroll: usize,
    },
    DeadLetters(DeadLetters),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Records {
    pub shard: String,
    pub filter: Option<String>,
    /// Typing a filter (Enter applies it, Esc drops it).
    pub editing: Option<String>,
    /// `before_ms` of the pages paged back from, newest first (None: the newest).
    pub back: Vec<Option<i64>>,
    pub before_ms: Option<i64>,
    pub answer: Option<Result<TailPage, OpFailure>>,
    pub scroll: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeadLetters {
    pub answer: Option<Result<Vec<DeadLetterView>, OpFailure>>,
    pub selected: usize,
    /// Showing the selected one in full.
    pub open: bool,
    /// Waiting for `y` to redrive every listed one.
    pub confirm_redrive: bool,
    pub report: Option<Result<RedriveReport, OpFailure>>,
}

/// What a key in an overlay asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Effect {
    pub command: Option<Command>,
    pub op: Option<OpRequest>,
    /// A line for the footer.
    pub say: Option<String>,
}

impl Records {
    fn tail(&self) -> TailRequest {
        TailRequest {
            shard: Some(self.shard.clone()),
            from: None,
            before_ms: self.before_ms,
            filter: self.filter.clone(),
            limit: Some(PAGE_RECORDS),
        }
    }

    pub fn request(&self) -> OpRequest {
        OpRequest::Tail(self.tail())
    }
}

fn list_request() -> OpRequest {
    OpRequest::DeadLetters(DlqFilter {
        limit: Some(200),
        ..DlqFilter::default()
    })
}

impl Overlay {
    /// The record browser on `shard`, and its first request.
    pub fn records(shard: String) -> (Overlay, OpRequest) {
        let r = Records {
            shard,
            ..Records::default()
        };
        let req = r.request();
        (Overlay::Records(r), req)
    }

    pub fn dead_letters() -> (Overlay, OpRequest) {
        (Overlay::DeadLetters(DeadLetters::default()), list_request())
    }

    /// Apply a key. `Ok(None)`: the overlay closes.
    pub fn key(mut self, key: &Key, snap: &Snapshot, now_ms: i64) -> (Option<Overlay>, Effect) {
        let mut fx = Effect::default();
        if key.code == KeyCode::Esc && !self.is_typing() {
            return (None, fx);
        }
        match &mut self {
            Overlay::Rewind {
                shard,
                selected,
                choice,
            } => match key.code {
                KeyCode::Tab | KeyCode::BackTab => {
                    *shard = if shard.is_some() { None } else { selected.clone() };
                }
                KeyCode::Left | KeyCode::Up | KeyCode::Char('k') | KeyCode::Char('h') => {
                    *choice = choice.saturating_sub(1)
                }
                KeyCode::Right | KeyCode::Down | KeyCode::Char('j') | KeyCode::Char('l') => {
                    *choice = (*choice + 1).min(REWIND_TO.len() - 1)
                }
                KeyCode::Char('y') | KeyCode::Enter => {
                    let to = match (*choice, REWIND_TO[*choice].1) {
                        (0, _) => Position::TrimHorizon,
                        (_, Some(back)) => Position::AtTimestamp(now_ms - back),
                        _ => Position::Latest,
                    };
                    fx.command = Some(Command::Rewind {
                        shard: shard.clone(),
                        to,
                    });
                    return (None, fx);
                }
                _ => {
                    fx.say = Some("rewind cancelled: nothing moved".into());
                    return (None, fx);
                }
            },
            Overlay::TracePrompt { text } => match key.code {
                KeyCode::Esc => return (None, fx),
                KeyCode::Char(c) if c.is_ascii_digit() || (c == '-' && text.is_empty()) => text.push(c),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Enter => match text.parse::<i64>() {
                    Ok(order_id) => {
                        fx.op = Some(OpRequest::Trace { order_id });
                        return (
                            Some(Overlay::Trace {
                                order_id,
                                answer: None,
                                scroll: 0,
                            }),
                            fx,
                        );
                    }
                    Err(_) => fx.say = Some(format!("{text:?} is not an OrderID (a whole number)")),
                },
                _ => fx.say = Some("type the OrderID's digits, Enter to trace, Esc to cancel".into()),
            },
            Overlay::Records(r) => {
                if let Some(text) = &mut r.editing {
                    match key.code {
                        KeyCode::Esc => r.editing = None,
                        KeyCode::Backspace => {
                            text.pop();
                        }
                        KeyCode::Char(c) => text.push(c),
                        KeyCode::Enter => {
                            let text = r.editing.take().unwrap_or_default();
                            if text.trim().is_empty() {
                                r.filter = None;
                            } else if let Err(e) = crate::ops::records::Filter::parse(&text) {
                                fx.say = Some(e.to_string());
                                return (Some(self), fx);
                            } else {
                                r.filter = Some(text);
                            }
                            r.back.clear();
                            r.before_ms = None;
                            r.answer = None;
                            fx.op = Some(r.request());
                        }
                        _ => {}
                    }
                    return (Some(self), fx);
                }
                match key.code {
                    KeyCode::Char('/') | KeyCode::Char('f') => r.editing = Some(r.filter.clone().unwrap_or_default()),
                    KeyCode::Char('b') | KeyCode::PageUp => {
                        let oldest = match &r.answer {
                            Some(Ok(p)) => p.records.first().map(|x| x.arrival_ms),
                            _ => None,
                        };
                        match oldest {
                            Some(ms) => {
                                r.back.push(r.before_ms);
                                r.before_ms = Some(ms);
                                r.answer = None;
                                r.scroll = 0;
                                fx.op = Some(r.request());
                            }
                            None => fx.say = Some("no older records on this page to page back from".into()),
                        }
                    }
                    KeyCode::Char('n') | KeyCode::PageDown => match r.back.pop() {
                        Some(before) => {
                            r.before_ms = before;
                            r.answer = None;
                            r.scroll = 0;
                            fx.op = Some(r.request());
                        }
                        None => fx.say = Some("this is the newest page (r refreshes it)".into()),
                    },
                    KeyCode::Char('r') => {
                        r.answer = None;
                        fx.op = Some(r.request());
                    }
                    KeyCode::Tab | KeyCode::Right | KeyCode::BackTab | KeyCode::Left => {
                        let ids: Vec<&str> = snap.shards.iter().map(|s| s.shard_id.as_str()).collect();
                        if !ids.is_empty() {
                            let at = ids.iter().position(|s| *s == r.shard).unwrap_or(0);
                            let by = if matches!(key.code, KeyCode::Tab | KeyCode::Right) {
                                1
                            } else {
                                ids.len() - 1
                            };
                            r.shard = ids[(at + by) % ids.len()].to_string();
                            r.back.clear();
                            r.before_ms = None;
                            r.answer = None;
                            r.scroll = 0;
                            fx.op = Some(r.request());
                        }
                    }
                    KeyCode::Up | KeyCode::Char('k') => r.scroll = r.scroll.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => r.scroll += 1,
                    KeyCode::Char('q') => return (None, fx),
                    _ => {}
                }
            }
            Overlay::Trace { scroll, .. } => match key.code {
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::PageDown => *scroll += 10,
                KeyCode::Char('/') => return (Some(Overlay::TracePrompt { text: String::new() }), fx),
                _ => return (None, fx),
            },
            Overlay::DeadLetters(d) => {
                let n = match &d.answer {
                    Some(Ok(l)) => l.len(),
                    _ => 0,
                };
                if d.confirm_redrive {
                    d.confirm_redrive = false;
                    if key.code == KeyCode::Char('y') {
                        fx.op = Some(OpRequest::Redrive(DlqFilter::default()));
                        fx.say = Some("redriving the dead letters…".into());
                    } else {
                        fx.say = Some("redrive cancelled: nothing changed".into());
                    }
                    return (Some(self), fx);
                }
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => d.selected = d.selected.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => d.selected = (d.selected + 1).min(n.saturating_sub(1)),
                    KeyCode::Enter => d.open = !d.open && n > 0,
                    KeyCode::Char('r') => {
                        d.answer = None;
                        fx.op = Some(list_request());
                    }
                    KeyCode::Char('D') if n == 0 => fx.say = Some("no dead letters to redrive".into()),
                    KeyCode::Char('D') => d.confirm_redrive = true,
                    KeyCode::Char('q') => return (None, fx),
                    _ => {}
                }
            }
        }
        (Some(self), fx)
    }

    fn is_typing(&self) -> bool {
        matches!(self, Overlay::TracePrompt { .. }) || matches!(self, Overlay::Records(r) if r.editing.is_some())
    }

    /// Take the operator's answer to `req`. Returns a follow-up request
    /// (the list again, after a redrive).
    pub fn answer(&mut self, req: &OpRequest, reply: Result<OpReply, OpFailure>) -> Option<OpRequest> {
        match (self, req, reply) {
            (Overlay::Records(r), OpRequest::Tail(t), reply) if *t == r.tail() => {
                r.answer = Some(reply.and_then(|x| match x {
                    OpReply::Records(p) => Ok(p),
                    other => Err(unexpected(&other)),
                }));
            }
            (Overlay::Trace { order_id, answer, .. }, OpRequest::Trace { order_id: asked }, reply)
                if asked == order_id =>
            {
                *answer = Some(reply.and_then(|x| match x {
                    OpReply::Trace(t) => Ok(t),
                    other => Err(unexpected(&other)),
                }));
            }
            (Overlay::DeadLetters(d), OpRequest::DeadLetters(_), reply) => {
                d.answer = Some(reply.and_then(|x| match x {
                    OpReply::DeadLetters(l) => Ok(l),
                    other => Err(unexpected(&other)),
                }));
                let n = d.answer.as_ref().map_or(0, |a| a.as_ref().map_or(0, Vec::len));
                d.selected = d.selected.min(n.saturating_sub(1));
                d.open &= n > 0;
            }
            (Overlay::DeadLetters(d), OpRequest::Redrive(_), reply) => {
                d.report = Some(reply.and_then(|x| match x {
                    OpReply::Redriven(r) => Ok(r),
                    other => Err(unexpected(&other)),
                }));
                d.answer = None;
                d.open = false;
                return Some(list_request());
            }
            _ => {} // an answer to a view since left
        }
        None
    }
}

/// An answer of another kind than the request asked for.
fn unexpected(reply: &OpReply) -> OpFailure {
    OpFailure(format!("unexpected answer {reply:?}"))
}
