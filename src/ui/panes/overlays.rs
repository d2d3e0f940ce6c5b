//! The operator overlays: rewind (asks first), the trace prompt, the
//! record browser, an order's trace and the dead letters. Each draws over
//! the panes from its view state; answers still coming show as "loading".

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, TableState, Wrap};

use crate::engine::snapshot::Snapshot;
use crate::ops::show;
use crate::ui::overlay::{DeadLetters, Overlay, REWIND_TO, Records};
use crate::ui::theme::Theme;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [area] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [area] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    area
}

fn big(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4).max(40),
        area.height.saturating_sub(2).max(8),
    )
}

fn frame_block<'a>(title: String, keys: &'a str, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(title)
        .title_bottom(Line::styled(keys, theme.dim()))
        .border_style(theme.border(true))
}

pub fn render(frame: &mut Frame, area: Rect, overlay: &Overlay, snap: &Snapshot, theme: &Theme) {
    match overlay {
        Overlay::Rewind { shard, choice, .. } => rewind(frame, area, shard.as_deref(), *choice, snap, theme),
        Overlay::TracePrompt { text } => {
            let area = centered(area, 50, 3);
            frame.render_widget(Clear, area);
            let line = Line::from(vec![
                Span::raw(" OrderID: "),
                Span::styled(format!("{text}▏"), theme.key()),
            ]);
            frame.render_widget(
                Paragraph::new(line).block(frame_block(
                    " Trace an order ".into(),
                    " enter trace · esc cancel ",
                    theme,
                )),
                area,
            );
        }
        Overlay::Records(r) => records(frame, big(area), r, theme),
        Overlay::Trace {
            order_id,
            answer,
            scroll,
        } => {
            let area = big(area);
            frame.render_widget(Clear, area);
            let text = match answer {
                None => format!("tracing order {order_id}…"),
                Some(Err(e)) => format!("trace failed: {e}"),
                Some(Ok(t)) if !t.found() => format!(
                    "{}\norder {order_id} is not in the stream, factOrders or the dead letters",
                    show::trace(t)
                ),
                Some(Ok(t)) => show::trace(t),
            };
            let block = frame_block(
                format!(" Order {order_id} "),
                " ↑↓ scroll · / another order · any other key closes ",
                theme,
            );
            frame.render_widget(Paragraph::new(text).block(block).scroll((*scroll as u16, 0)), area);
        }
        Overlay::DeadLetters(d) => dead_letters(frame, big(area), d, theme),
    }
}

fn rewind(frame: &mut Frame, area: Rect, shard: Option<&str>, choice: usize, snap: &Snapshot, theme: &Theme) {
    let area = centered(area, 96, REWIND_TO.len() as u16 + 7);
    frame.render_widget(Clear, area);
    let which = shard.map_or_else(
        || format!("every shard ({})", snap.shards.len()),
        |s| format!("shard {s}"),
    );
    let mut lines = vec![
        Line::from(vec![
            Span::raw("Rewind "),
            Span::styled(which, theme.title()),
            Span::raw(" to:"),
        ]),
        Line::raw(""),
    ];
    for (i, (label, _)) in REWIND_TO.iter().enumerate() {
        let mark = if i == choice { "▶ " } else { "  " };
        let style = if i == choice { theme.key() } else { theme.dim() };
        lines.push(Line::styled(format!("{mark}{label}"), style));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "Uncommitted records are read again; replayed events change nothing already current.",
    ));
    let block = frame_block(
        " Rewind — replay from the stream ".into(),
        " ↑↓ where · tab all / selected shard · y or enter rewinds · other keys cancel ",
        theme,
    );
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn records(frame: &mut Frame, area: Rect, r: &Records, theme: &Theme) {
    frame.render_widget(Clear, area);
    let mut title = format!(" Records of {} ", r.shard);
    if let Some(f) = &r.filter {
        title.push_str(&format!("· filter {f} "));
    }
    title.push_str(if r.before_ms.is_some() {
        "· older page "
    } else {
        "· newest "
    });
    // The counts in the title, where they stay in sight however long the page.
    if let Some(Ok(page)) = &r.answer {
        title.push_str(&format!("· {} shown, {} read ", page.records.len(), page.scanned));
    }
    let mut lines: Vec<Line> = Vec::new();
    if let Some(text) = &r.editing {
        lines.push(Line::from(vec![
            Span::raw("filter (text, or Field=value like OrderStatus=Cancelled): "),
            Span::styled(format!("{text}▏"), theme.key()),
        ]));
    }
    match &r.answer {
        None => lines.push(Line::styled("reading…", theme.dim())),
        Some(Err(e)) => lines.push(Line::styled(format!("read failed: {e}"), theme.bad())),
        Some(Ok(page)) => {
            if page.throttled > 0 {
                lines.push(Line::styled(
                    format!(
                        "throttled {} time(s) by the shard's read limit: waited, the ingester kept its share",
                        page.throttled
                    ),
                    theme.warn(),
                ));
            }
            if page.records.is_empty() {
                lines.push(Line::styled("no records here", theme.dim()));
            }
            // Newest at the top.
            for rec in page.records.iter().rev() {
                lines.push(Line::styled(show::record_header(rec), theme.title()));
                for l in show::body(rec).lines() {
                    lines.push(Line::raw(format!("  {l}")));
                }
            }
            lines.push(Line::styled(
                format!(
                    "{} shown, {} read{}",
                    page.records.len(),
                    page.scanned,
                    if page.stopped_short {
                        " (stopped at the read bound: there may be more)"
                    } else {
                        ""
                    }
                ),
                theme.dim(),
            ));
        }
    }
    let block = frame_block(
        title,
        " ↑↓ scroll · b older · n newer · tab shard · / filter · r refresh · esc close ",
        theme,
    );
    frame.render_widget(Paragraph::new(lines).block(block).scroll((r.scroll as u16, 0)), area);
}

fn dead_letters(frame: &mut Frame, area: Rect, d: &DeadLetters, theme: &Theme) {
    frame.render_widget(Clear, area);
    let keys = if d.confirm_redrive {
        " y redrive every listed dead letter · any other key cancels "
    } else {
        " ↑↓ select · enter full payload · D redrive all (asks) · r refresh · esc close "
    };
    let report = match &d.report {
        Some(Ok(r)) => Some(Line::styled(
            show::redriven(r).lines().next().unwrap_or("").to_string(),
            theme.title(),
        )),
        Some(Err(e)) => Some(Line::styled(format!("redrive failed: {e}"), theme.bad())),
        None => None,
    };
    let list = match &d.answer {
        None => {
            let block = frame_block(" Dead letters ".into(), keys, theme);
            let mut lines: Vec<Line> = report.into_iter().collect();
            lines.push(Line::styled("reading…", theme.dim()));
            frame.render_widget(Paragraph::new(lines).block(block), area);
            return;
        }
        Some(Err(e)) => {
            let block = frame_block(" Dead letters ".into(), keys, theme);
            frame.render_widget(Paragraph::new(format!("could not read them: {e}")).block(block), area);
            return;
        }
        Some(Ok(list)) => list,
    };
    let title = format!(
        " Dead letters ({}{}) ",
        list.len(),
        if d.confirm_redrive {
            " — redrive them all?"
        } else {
            ""
        }
    );
    let block = frame_block(title, keys, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [top, body] =
        Layout::vertical([Constraint::Length(u16::from(report.is_some())), Constraint::Min(1)]).areas(inner);
    if let Some(r) = report {
        frame.render_widget(Paragraph::new(r), top);
    }
    if list.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no dead letters — every record loaded", theme.dim())),
            body,
        );
        return;
    }
    if d.open
        && let Some(one) = list.get(d.selected)
    {
        frame.render_widget(Paragraph::new(show::dead_letter(one)).wrap(Wrap { trim: false }), body);
        return;
    }
    let rows = list.iter().map(|l| {
        Row::new(vec![
            l.arrival_time.clone().unwrap_or_default(),
            l.shard_id.clone(),
            l.sequence_number.clone(),
            l.attempts.map_or(String::new(), |a| a.to_string()),
            l.reason.clone(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(23),
            Constraint::Length(20),
            Constraint::Length(10),
            Constraint::Length(5),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["arrived", "shard", "seq", "tries", "reason"]).style(theme.title()))
    .row_highlight_style(theme.key());
    let mut state = TableState::default().with_selected(Some(d.selected));
    frame.render_stateful_widget(table, body, &mut state);
}
