//! Live query results: the current query's title, when it ran and how long
//! it took, its rows as a scrollable table, or its error.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use super::pane_block;
use crate::engine::snapshot::Snapshot;
use crate::ui::app::{App, Pane};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme, now: DateTime<Utc>) {
    let focused = app.focus == Pane::Queries;
    let n = snap.queries.len();
    let Some(q) = snap.queries.get(app.query_index.min(n.saturating_sub(1))) else {
        let block = pane_block(" Queries ".into(), focused, theme);
        frame.render_widget(Paragraph::new("no queries in sql/queries").block(block), area);
        return;
    };
    let block = pane_block(
        format!(" Query {}/{n}: {} ", app.query_index.min(n - 1) + 1, q.title),
        focused,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status_area, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let Some(r) = &q.last else {
        let msg = if q.running { "running…" } else { "not run yet" };
        frame.render_widget(Paragraph::new(Span::styled(msg, theme.dim())), status_area);
        return;
    };
    let ago = (now - r.ran_at).num_seconds().max(0);
    let mut status = vec![Span::styled(
        format!(
            "ran {ago}s ago in {}ms · every {}s",
            r.took.as_millis(),
            q.refresh.as_secs()
        ),
        theme.dim(),
    )];
    if q.running {
        status.push(Span::styled("  · running…", theme.warn()));
    }
    if let Some(err) = &r.error {
        status.push(Span::styled("  · FAILED", theme.bad()));
        frame.render_widget(Paragraph::new(Line::from(status)), status_area);
        frame.render_widget(
            Paragraph::new(Span::styled(err.clone(), theme.bad())).wrap(Wrap { trim: false }),
            body,
        );
        return;
    }
    let visible = body.height.saturating_sub(1) as usize;
    app.query_viewport.set(visible.max(1));
    let start = app.query_scroll.min(r.rows.len().saturating_sub(visible.max(1)));
    status.push(Span::styled(
        format!(
            "  · rows {}-{} of {}",
            (start + 1).min(r.rows.len()),
            (start + visible).min(r.rows.len()),
            r.rows.len()
        ),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(Line::from(status)), status_area);
    // Columns as wide as their widest visible value, within reason.
    let widths: Vec<Constraint> = r
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = r
                .rows
                .iter()
                .skip(start)
                .take(visible)
                .map(|row| row.get(i).map_or(0, |v| v.chars().count()));
            Constraint::Length(w.chain([c.chars().count()]).max().unwrap_or(4).min(40) as u16)
        })
        .collect();
    let rows = r.rows.iter().skip(start).take(visible).map(|row| Row::new(row.clone()));
    let header = Row::new(r.columns.clone()).style(theme.title());
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(2), body);
}
