//! Header, footer, recent errors, the help overlay and the too-small notice.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Wrap};

use super::{hms, human, ms};
use crate::engine::snapshot::Snapshot;
use crate::ui::app::App;
use crate::ui::keymap::{ACTIONS, Action};
use crate::ui::theme::Theme;

pub fn header(frame: &mut Frame, area: Rect, snap: &Snapshot, theme: &Theme) {
    let fresh = match (snap.freshness.p50_ms, snap.freshness.p99_ms) {
        (Some(a), Some(b)) => format!("fresh p50 {} p99 {}", ms(a), ms(b)),
        _ => "fresh –".into(),
    };
    let mut spans = vec![Span::styled(" courier ", theme.header())];
    // Badges first, so a narrow terminal still shows them.
    if snap.read_only {
        spans.push(Span::styled("READ-ONLY ", theme.warn()));
    }
    if snap.ingest.retrying {
        spans.push(Span::styled("WAREHOUSE RETRYING ", theme.bad()));
    }
    if snap.stopping {
        spans.push(Span::styled("STOPPING ", theme.warn()));
    }
    spans.push(Span::raw(format!(
        "│ {} {} │ stream {} │ up {} │ {fresh} │ ingested {} dlq {}",
        snap.backend.kind,
        snap.backend.detail,
        snap.backend.stream,
        hms(snap.uptime),
        human(snap.ingest.ingested),
        human(snap.ingest.dead_lettered)
    )));
    if snap.ingest.expired > 0 {
        spans.push(Span::styled(
            format!(" expired {}", human(snap.ingest.expired)),
            theme.bad(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    if let Some(m) = app.message() {
        spans.push(Span::styled(format!(" {m} "), theme.warn()));
        spans.push(Span::raw("│"));
    }
    for (action, _, _, _, label) in ACTIONS {
        if label.is_empty() {
            continue;
        }
        let label = if *action == Action::Quit && app.attached {
            "detach"
        } else {
            label
        };
        spans.push(Span::styled(
            format!(" {}", app.keymap.keys_label(*action)),
            theme.key(),
        ));
        spans.push(Span::raw(format!(" {label} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn errors(frame: &mut Frame, area: Rect, snap: &Snapshot, theme: &Theme, now: DateTime<Utc>) {
    let block = Block::bordered().title(format!(" Recent errors ({}) ", snap.errors.len()));
    let lines: Vec<Line> = snap
        .errors
        .iter()
        .rev()
        .take(area.height.saturating_sub(2) as usize)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:>4}s ago ", (now - e.at).num_seconds().max(0)), theme.dim()),
                Span::styled(format!("{}: ", e.source), theme.title()),
                Span::styled(e.message.clone(), theme.bad()),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled("none", theme.dim())]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body).block(block), area);
}

/// The stop confirmation: only `y` stops.
pub fn confirm_stop(frame: &mut Frame, area: Rect, theme: &Theme) {
    let [area] = Layout::vertical([Constraint::Length(6)]).flex(Flex::Center).areas(area);
    let [area] = Layout::horizontal([Constraint::Length(64.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(Clear, area);
    let text = vec![
        Line::raw("The generator stops, the ingester drains and checkpoints,"),
        Line::raw("and every attached console is closed."),
        Line::from(vec![
            Span::styled("y", theme.key()),
            Span::raw(" stop   any other key: keep it running"),
        ]),
    ];
    let block = Block::bordered()
        .title(" Stop the pipeline service? ")
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: true }), area);
}

pub fn help(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let keymap = &app.keymap;
    let height = (ACTIONS.len() as u16 + 4).min(area.height);
    let [area] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [area] = Layout::horizontal([Constraint::Length(64.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(Clear, area);
    let rows = ACTIONS.iter().map(|(action, _, _, help, _)| {
        let help = if *action == Action::Quit && app.attached {
            "detach (the service keeps running)"
        } else {
            help
        };
        Row::new(vec![
            Span::styled(keymap.keys_label(*action), theme.key()),
            Span::raw(help),
        ])
    });
    let table = Table::new(rows, [Constraint::Length(14), Constraint::Min(10)]).block(
        Block::bordered()
            .title(" Keys — any key closes ")
            .border_style(theme.border(true)),
    );
    frame.render_widget(table, area);
}

pub fn too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "terminal too small ({}×{}); courier needs at least 40×10",
        area.width, area.height
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}
