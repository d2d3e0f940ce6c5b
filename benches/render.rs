//! Frame render time of the console with 64 shards and a 1000-row query
//! result, into an off-screen 200×60 buffer. Prints figures; asserts nothing.
//!
//!     cargo bench --bench render      (release; the figure that counts)
//!     cargo test --bench render       (debug build: a quick, pessimistic run)
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::time::Instant;

use chrono::Utc;
use courier::ui::app::{App, LagThresholds, Pane};
use courier::ui::keymap::Keymap;
use hdrhistogram::Histogram;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let now = Utc::now();
    let snap = courier::ui::demo::sample_snapshot(64, 1000, now);
    let mut app = App::new(
        Keymap::default(),
        LagThresholds {
            warn_ms: 1000,
            crit_ms: 5000,
        },
        true,
    );
    app.focus = Pane::Queries;
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("bounds");
    for i in 0..1_100 {
        app.query_scroll = i % 900;
        app.shard_scroll = i % 40;
        let t = Instant::now();
        terminal.draw(|f| courier::ui::draw(f, &app, &snap, now)).expect("draw");
        if i >= 100 {
            hist.record(t.elapsed().as_nanos() as u64 / 1000).expect("in range");
        }
    }
    println!(
        "frame render, 64 shards + 1000-row result, 200x60: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({} frames, goal <= 2 ms)",
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        hist.len()
    );
}
