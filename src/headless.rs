//! The `--no-tui` front end: the same engine, one status line a second
//! (text or JSON), a final summary. It reads snapshots only.

use std::fmt::Write as _;
use std::time::Duration;

use crate::engine::snapshot::LoadState;
use crate::engine::{EngineError, EngineHandle, Snapshot, Summary};
use tokio_util::sync::CancellationToken;

/// One status line.
pub fn status_line(s: &Snapshot) -> String {
    let g = &s.generator;
    let mut line = format!(
        "{:>6.1}s gen {} {}/{} ev/s acked={} thr={} fail={} | ingest {} ev/s total={} dlq={}",
        s.uptime.as_secs_f64(),
        g.state.label(),
        g.acked_rate,
        g.target_rate,
        g.acknowledged,
        g.throttled,
        g.failed,
        s.ingest.ingest_rate,
        s.ingest.ingested,
        s.ingest.dead_lettered,
    );
    if s.ingest.expired > 0 {
        line.push_str(&format!(" expired={}", s.ingest.expired));
    }
    if s.ingest.retrying {
        line.push_str(" (warehouse retrying)");
    }
    let l = &s.leases;
    let shared = l.instances > 1 || s.shards.iter().any(|sh| !sh.held);
    if shared {
        let _ = write!(
            line,
            " | leases {} holds {}/{} of {} instances, takeovers={}",
            l.instance, l.held, l.shards, l.instances, l.takeovers
        );
    }
    line.push_str(" | lag");
    for sh in s.shards.iter().filter(|sh| sh.held || !shared) {
        let short = sh.shard_id.trim_start_matches("shardId-").trim_start_matches('0');
        let _ = write!(
            line,
            " {}:{}ms/{}",
            if short.is_empty() { "0" } else { short },
            sh.millis_behind_latest,
            sh.records_behind
        );
    }
    line.push_str(" | dims");
    for d in &s.dimensions {
        let state = match &d.state {
            LoadState::Loaded { rows, .. } => format!("loaded({rows})"),
            other => other.label().to_string(),
        };
        let _ = write!(line, " {}={state}", d.table);
    }
    match (s.freshness.p50_ms, s.freshness.p99_ms) {
        (Some(p50), Some(p99)) => {
            let _ = write!(line, " | fresh p50={p50}ms p99={p99}ms");
        }
        _ => line.push_str(" | fresh -"),
    }
    line
}

pub fn summary_line(s: &Summary) -> String {
    format!(
        "summary: generated={} acknowledged={} acknowledged_orders={} ingested={} dead_lettered={} expired={} throttled={} failed={} fact_rows={} drained={} seconds={:.1}",
        s.generated,
        s.acknowledged,
        s.acknowledged_orders,
        s.ingested,
        s.dead_lettered,
        s.expired,
        s.throttled,
        s.failed,
        s.fact_rows.map_or("?".to_string(), |n| n.to_string()),
        s.drained,
        s.seconds
    )
}

/// A snapshot as one JSON status line: no history, no result rows.
pub fn status_json(snap: &Snapshot) -> serde_json::Value {
    let mut snap = snap.clone();
    snap.generator.rate_history.clear();
    for q in snap.queries.iter_mut() {
        q.last = q.last.take().map(|r| {
            std::sync::Arc::new(crate::engine::snapshot::QueryResult {
                columns: r.columns.clone(),
                rows: Vec::new(),
                ran_at: r.ran_at,
                took: r.took,
                error: r.error.clone(),
            })
        });
    }
    serde_json::to_value(&snap).unwrap_or_default()
}

/// Run headless until `stop` is cancelled (SIGINT, SIGTERM, `--for`) or the
/// engine ends (`courier stop`, a fatal error); print status each second
/// and the summary at the end.
pub async fn run(engine: EngineHandle, json: bool, stop: CancellationToken) -> Result<Summary, EngineError> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => { tracing::info!("stopping"); break }
            _ = tick.tick() => {
                if engine.is_finished() {
                    break;
                }
                let snap = engine.snapshots.borrow().clone();
                if json {
                    println!("{}", status_json(&snap));
                } else {
                    println!("{}", status_line(&snap));
                }
            }
        }
    }
    engine.stop();
    let summary = engine.wait().await?;
    if json {
        let mut v = serde_json::to_value(&summary).unwrap_or_default();
        v["summary"] = serde_json::Value::Bool(true);
        println!("{v}");
    } else {
        println!("{}", summary_line(&summary));
    }
    Ok(summary)
}
