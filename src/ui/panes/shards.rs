//! Shard lag: one row per shard, coloured by MillisBehindLatest, with a
//! total line; scrolls for many shards.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::{human, ms, pane_block};
use crate::engine::snapshot::Snapshot;
use crate::ui::app::{App, Pane};
use crate::ui::theme::Theme;

const BAR: usize = 10;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let focused = app.focus == Pane::Shards;
    let n = snap.shards.len();
    let visible = area.height.saturating_sub(4) as usize;
    let start = app.shard_scroll.min(n.saturating_sub(visible.max(1)));
    let range = if n > visible {
        format!(" {}-{} of {n}", start + 1, (start + visible).min(n))
    } else {
        String::new()
    };
    // Several instances share the stream: which shards this one reads.
    let l = &snap.leases;
    let shared = l.instances > 1 || snap.shards.iter().any(|s| !s.held);
    let leases = if shared {
        format!(
            " · {} reads {}/{} · {} instances",
            l.instance, l.held, l.shards, l.instances
        )
    } else {
        String::new()
    };
    let block = pane_block(format!(" Shard lag ({n}){range}{leases} "), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, total_area] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let worst = snap
        .shards
        .iter()
        .map(|s| s.millis_behind_latest)
        .max()
        .unwrap_or(0)
        .max(app.lag.crit_ms);
    let rows = snap.shards.iter().enumerate().skip(start).take(visible).map(|(i, s)| {
        let style = if focused && i == app.shard_scroll {
            // The selected shard: what `t` browses and `w` may rewind.
            theme.key()
        } else if shared && !s.held {
            theme.dim()
        } else if s.millis_behind_latest >= app.lag.crit_ms {
            theme.bad()
        } else if s.millis_behind_latest >= app.lag.warn_ms {
            theme.warn()
        } else {
            theme.ok()
        };
        let filled = ((s.millis_behind_latest as f64 / worst as f64) * BAR as f64).ceil() as usize;
        let bar = match (&s.replay_until, s.replay_left) {
            // A replay after a rewind: records still to read again.
            (Some(_), Some(left)) => format!("⟲ {}", human(left)),
            (Some(_), None) => "⟲ replay".to_string(),
            // Read by another instance (or by no one until its lease is taken).
            _ if shared && !s.held => format!("→ {}", s.owner.as_deref().unwrap_or("free")),
            _ => format!("{}{}", "█".repeat(filled.min(BAR)), "·".repeat(BAR - filled.min(BAR))),
        };
        let id = s.shard_id.trim_start_matches("shardId-").to_string();
        Row::new(vec![
            id,
            ms(s.millis_behind_latest),
            human(s.records_behind),
            human(s.read_rate),
            human(s.throttled_reads),
            human(s.throttled_writes),
            bar,
        ])
        .style(style)
    });
    let header = Row::new(["shard", "behind", "records", "read/s", "thr R", "thr W", "lag"]).style(theme.title());
    let widths = [
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(BAR as u16),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), table_area);
    let sum = |f: fn(&crate::engine::snapshot::ShardLag) -> u64| snap.shards.iter().map(f).sum::<u64>();
    let max_ms = snap.shards.iter().map(|s| s.millis_behind_latest).max().unwrap_or(0);
    let mut figures = format!(
        "max {}  behind {}  read {}/s  thr R {} W {}",
        ms(max_ms),
        human(sum(|s| s.records_behind)),
        human(sum(|s| s.read_rate)),
        human(sum(|s| s.throttled_reads)),
        human(sum(|s| s.throttled_writes)),
    );
    if shared {
        figures.push_str(&format!("  takeovers {}", l.takeovers));
    }
    let total = Line::from(vec![Span::styled("total ", theme.title()), Span::raw(figures)]);
    frame.render_widget(Paragraph::new(total), total_area);
}
