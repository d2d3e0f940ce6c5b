//! Keys as data: every action the console takes, its default keys, and the
//! overrides from the config's `[keys]` table. The footer and the help
//! overlay are rendered from this same table, so they never disagree with
//! what the keys do.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    StopService,
    Help,
    FocusNext,
    FocusPrev,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ReloadDimension,
    ReloadAll,
    Pause,
    RateUp,
    RateDown,
    RerunQuery,
    PrevQuery,
    NextQuery,
    ReloadQueries,
    Rewind,
    Tail,
    Trace,
    DeadLetters,
}

/// (action, config name, default keys, help text, footer label or "" if not in the footer)
pub const ACTIONS: &[(Action, &str, &[&str], &str, &str)] = &[
    (Action::Quit, "quit", &["q"], "quit (drains the ingester first)", "quit"),
    (
        Action::StopService,
        "stop_service",
        &["S"],
        "stop the service (asks first, then drains)",
        "",
    ),
    (Action::Help, "help", &["?"], "show or hide this help", "help"),
    (
        Action::FocusNext,
        "focus_next",
        &["tab"],
        "focus the next pane",
        "focus",
    ),
    (
        Action::FocusPrev,
        "focus_prev",
        &["backtab"],
        "focus the previous pane",
        "",
    ),
    (
        Action::ScrollUp,
        "scroll_up",
        &["up", "k"],
        "scroll up / select the row above",
        "",
    ),
    (
        Action::ScrollDown,
        "scroll_down",
        &["down", "j"],
        "scroll down / select the row below",
        "",
    ),
    (Action::PageUp, "page_up", &["pageup"], "scroll up a page", ""),
    (Action::PageDown, "page_down", &["pagedown"], "scroll down a page", ""),
    (
        Action::ReloadDimension,
        "reload_dimension",
        &["r"],
        "reload the selected dimension table",
        "reload",
    ),
    (
        Action::ReloadAll,
        "reload_all",
        &["R"],
        "reload all dimension tables",
        "reload all",
    ),
    (Action::Pause, "pause", &["p"], "pause / resume the generator", "pause"),
    (
        Action::RateUp,
        "rate_up",
        &["+", "="],
        "raise the generator rate by 25%",
        "rate",
    ),
    (
        Action::RateDown,
        "rate_down",
        &["-"],
        "lower the generator rate by 20%",
        "",
    ),
    (
        Action::RerunQuery,
        "rerun_query",
        &["enter", "x"],
        "re-run the current query now",
        "run",
    ),
    (Action::PrevQuery, "prev_query", &["["], "previous query", ""),
    (Action::NextQuery, "next_query", &["]"], "next query", "next query"),
    (
        Action::ReloadQueries,
        "reload_queries",
        &["ctrl-r"],
        "re-read sql/queries from disk",
        "",
    ),
    (
        Action::Tail,
        "tail",
        &["t"],
        "browse the selected shard's newest records",
        "",
    ),
    (Action::Trace, "trace", &["/"], "trace an order by its OrderID", ""),
    (
        Action::DeadLetters,
        "dead_letters",
        &["d"],
        "dead letters: look, redrive (asks first)",
        "",
    ),
    (
        Action::Rewind,
        "rewind",
        &["w"],
        "rewind shards to replay (asks first)",
        "",
    ),
];

/// One key: a code with Ctrl/Alt. Shift is part of the character (`R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Self {
        let code = match e.code {
            KeyCode::BackTab => KeyCode::BackTab,
            KeyCode::Tab if e.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        Key {
            code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
            alt: e.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Parse `q`, `R`, `+`, `enter`, `tab`, `backtab`, `up`, `pagedown`, `f5`,
    /// `space`, `ctrl-r`, `alt-x`.
    pub fn parse(s: &str) -> Result<Self, BadKeyName> {
        let mut rest = s;
        let (mut ctrl, mut alt) = (false, false);
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "esc" | "escape" => KeyCode::Esc,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "backspace" => KeyCode::Backspace,
                "delete" => KeyCode::Delete,
                f if f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) => {
                    KeyCode::F(f[1..].parse().expect("checked"))
                }
                _ => {
                    return Err(BadKeyName(s.to_string()));
                }
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A key name courier does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a key name (e.g. \"q\", \"R\", \"enter\", \"ctrl-r\", \"f5\")")]
pub struct BadKeyName(pub String);

/// Why a `[keys]` table can't be used, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("keys.{0}: {1}")]
    BadKey(String, BadKeyName),
    #[error("keys.{name}: no such action (actions: {known})")]
    NoSuchAction { name: String, known: String },
    #[error("keys.{0}: Ctrl-C is reserved for quit")]
    CtrlC(&'static str),
    #[error("keys: {key} is bound to both {first} and {second}")]
    Clash {
        key: String,
        first: &'static str,
        second: &'static str,
    },
}

/// The key table in force.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<Key>>,
}

/// Ctrl-C always quits, whatever the config says.
pub const CTRL_C: Key = Key {
    code: KeyCode::Char('c'),
    ctrl: true,
    alt: false,
};

impl Keymap {
    /// Defaults, with `overrides` (config name → one key or a list) applied.
    /// Unknown action names, bad key names and clashes are errors naming them.
    pub fn new(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        let mut bindings = BTreeMap::new();
        for (action, name, defaults, _, _) in ACTIONS {
            let keys = match overrides.get(*name) {
                Some(list) => list
                    .iter()
                    .map(|k| Key::parse(k).map_err(|e| KeymapError::BadKey(name.to_string(), e)))
                    .collect(),
                None => defaults
                    .iter()
                    .map(|k| Key::parse(k).map_err(|e| KeymapError::BadKey(name.to_string(), e)))
                    .collect::<Result<Vec<_>, _>>(),
            }?;
            bindings.insert(*action, keys);
        }
        for name in overrides.keys() {
            if !ACTIONS.iter().any(|(_, n, ..)| n == name) {
                let known: Vec<&str> = ACTIONS.iter().map(|(_, n, ..)| *n).collect();
                return Err(KeymapError::NoSuchAction {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        let mut seen: HashMap<Key, Action> = HashMap::new();
        for (action, keys) in &bindings {
            for key in keys {
                if *key == CTRL_C && *action != Action::Quit {
                    return Err(KeymapError::CtrlC(Self::name(*action)));
                }
                if let Some(other) = seen.insert(*key, *action)
                    && other != *action
                {
                    return Err(KeymapError::Clash {
                        key: key.to_string(),
                        first: Self::name(other),
                        second: Self::name(*action),
                    });
                }
            }
        }
        Ok(Keymap { bindings })
    }

    pub fn name(action: Action) -> &'static str {
        ACTIONS.iter().find(|(a, ..)| *a == action).map_or("?", |(_, n, ..)| n)
    }

    pub fn action_for(&self, key: &Key) -> Option<Action> {
        if *key == CTRL_C {
            return Some(Action::Quit);
        }
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(key))
            .map(|(a, _)| *a)
    }

    /// The keys of `action`, joined for display (`↑/k`).
    pub fn keys_label(&self, action: Action) -> String {
        let keys = self.bindings.get(&action).map(Vec::as_slice).unwrap_or_default();
        keys.iter().map(Key::to_string).collect::<Vec<_>>().join("/")
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new(&BTreeMap::new()).expect("default bindings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(a, ks)| (a.to_string(), ks.iter().map(|k| k.to_string()).collect()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_keys() {
        let k = Keymap::default();
        let act = |s: &str| k.action_for(&Key::parse(s).unwrap());
        assert_eq!(act("p"), Some(Action::Pause));
        assert_eq!(act("R"), Some(Action::ReloadAll));
        assert_eq!(act("r"), Some(Action::ReloadDimension));
        assert_eq!(act("enter"), Some(Action::RerunQuery));
        assert_eq!(act("x"), Some(Action::RerunQuery));
        assert_eq!(act("ctrl-r"), Some(Action::ReloadQueries));
        assert_eq!(act("ctrl-c"), Some(Action::Quit));
        assert_eq!(act("]"), Some(Action::NextQuery));
        assert_eq!(act("j"), Some(Action::ScrollDown));
        assert_eq!(act("t"), Some(Action::Tail));
        assert_eq!(act("/"), Some(Action::Trace));
        assert_eq!(act("d"), Some(Action::DeadLetters));
        assert_eq!(act("w"), Some(Action::Rewind));
        assert_eq!(act("z"), None);
        assert_eq!(k.keys_label(Action::ScrollUp), "↑/k");
    }

    #[test]
    fn overrides_apply_and_bad_ones_are_named() {
        let k = Keymap::new(&overrides(&[("pause", &["space"])])).unwrap();
        assert_eq!(k.action_for(&Key::parse("space").unwrap()), Some(Action::Pause));
        assert_eq!(k.action_for(&Key::parse("p").unwrap()), None);
        let e = Keymap::new(&overrides(&[("pause", &["r"])])).unwrap_err().to_string();
        assert!(
            e.contains("r is bound to both") && e.contains("pause") && e.contains("reload_dimension"),
            "{e}"
        );
        let e = Keymap::new(&overrides(&[("explode", &["e"])])).unwrap_err().to_string();
        assert!(e.starts_with("keys.explode: no such action"), "{e}");
        let e = Keymap::new(&overrides(&[("pause", &["hyper-p"])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("keys.pause") && e.contains("is not a key name"), "{e}");
        let e = Keymap::new(&overrides(&[("help", &["ctrl-c"])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("reserved"), "{e}");
    }
}
