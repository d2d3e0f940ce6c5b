//! One file per pane; each renders from the `Snapshot` and the view state.

pub mod chrome;
pub mod dimensions;
pub mod generator;
pub mod overlays;
pub mod queries;
pub mod shards;

use ratatui::widgets::{Block, BorderType};

use super::theme::Theme;

/// A pane's frame, highlighted when it has focus.
pub fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(theme.border(focused))
        .title(title)
}

/// `1234567` → `1.23M`; small numbers as they are.
pub fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

/// `3723s` → `1h02m03s`.
pub fn hms(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A duration in ms as `850ms` or `1.2s`.
pub fn ms(v: u64) -> String {
    if v < 1000 {
        format!("{v}ms")
    } else {
        format!("{:.1}s", v as f64 / 1000.0)
    }
}
