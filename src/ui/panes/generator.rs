//! Generator: state, target vs acknowledged rate, counts, and a sparkline of
//! the acknowledged rate over the last minutes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::{human, pane_block};
use crate::engine::snapshot::{GeneratorState, Snapshot};
use crate::ui::app::{App, Pane};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let g = &snap.generator;
    let block = pane_block(" Generator ".into(), app.focus == Pane::Generator, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text_area, spark_area] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    let state_style = match g.state {
        GeneratorState::Running => theme.ok(),
        GeneratorState::Paused => theme.warn(),
        _ => theme.dim(),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(g.state.label().to_uppercase(), state_style),
            Span::raw(format!(
                "  target {}/s  acked {}/s",
                human(g.target_rate as u64),
                human(g.acked_rate)
            )),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "acked {}  orders {}  ",
                human(g.acknowledged),
                human(g.orders_acknowledged)
            )),
            Span::styled(
                format!("throttled {}", human(g.throttled)),
                if g.throttled > 0 { theme.warn() } else { theme.dim() },
            ),
            Span::raw("  "),
            Span::styled(
                format!("failed {}", human(g.failed)),
                if g.failed > 0 { theme.bad() } else { theme.dim() },
            ),
            // Shown only when it happened: updates resumed from an earlier
            // run, and any given up past the pending bound.
            Span::styled(
                if g.updates_resumed > 0 {
                    format!("  resumed {}", human(g.updates_resumed))
                } else {
                    String::new()
                },
                theme.dim(),
            ),
            Span::styled(
                if g.updates_given_up > 0 {
                    format!("  updates given up {}", human(g.updates_given_up))
                } else {
                    String::new()
                },
                theme.bad(),
            ),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
    if spark_area.height > 0 {
        let width = spark_area.width as usize;
        let history = &g.rate_history[g.rate_history.len().saturating_sub(width)..];
        frame.render_widget(Sparkline::default().data(history).style(theme.ok()), spark_area);
    }
}
