//! Dimension load state: one row per table, a spinner while loading, the
//! error text when a load failed.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, Table};

use super::{human, pane_block};
use crate::engine::snapshot::{LoadState, Snapshot};
use crate::ui::app::{App, Pane};
use crate::ui::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds().max(0);
    if s < 60 {
        format!("{s}s ago")
    } else {
        format!("{}m ago", s / 60)
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme, now: DateTime<Utc>) {
    let focused = app.focus == Pane::Dimensions;
    let block = pane_block(" Dimensions ".into(), focused, theme);
    let rows = snap.dimensions.iter().enumerate().map(|(i, d)| {
        let (state, style, rows, when, took) = match &d.state {
            LoadState::Pending => (
                "pending".to_string(),
                theme.dim(),
                String::new(),
                String::new(),
                String::new(),
            ),
            LoadState::Loading { elapsed } => (
                format!(
                    "{} loading",
                    SPINNER[(elapsed.as_millis() / 100) as usize % SPINNER.len()]
                ),
                theme.warn(),
                d.last_loaded.map_or(String::new(), |(r, _)| human(r)),
                format!("{:.1}s", elapsed.as_secs_f64()),
                String::new(),
            ),
            LoadState::Loaded { rows, took, at } => (
                "loaded".to_string(),
                theme.ok(),
                human(*rows),
                ago(now, *at),
                format!("{}ms", took.as_millis()),
            ),
            LoadState::Failed { at, .. } => (
                "FAILED".to_string(),
                theme.bad(),
                d.last_loaded
                    .map_or(String::new(), |(r, _)| format!("{} kept", human(r))),
                ago(now, *at),
                String::new(),
            ),
        };
        // A failed load shows why in place of the source (the reason names the file).
        let detail = match &d.state {
            LoadState::Failed { reason, .. } => reason.clone(),
            _ => d.source.clone(),
        };
        let row = Row::new(vec![d.table.clone(), state, rows, when, took, detail]).style(style);
        if focused && i == app.dimension_selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let header = Row::new(["table", "state", "rows", "loaded", "took", "source / error"]).style(theme.title());
    let widths = [
        Constraint::Length(17),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Min(20),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).block(block).column_spacing(1),
        area,
    );
}
