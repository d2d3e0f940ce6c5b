//! The Prometheus face: `--metrics ADDR` serves `/metrics` (Prometheus text
//! exposition, encoded by the `prometheus-client` crate) and `/healthz` for
//! load balancers and service managers. Both read the engine's snapshots
//! only; nothing here does pipeline work.

use crate::sync::LockExt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::Snapshot;
use crate::engine::snapshot::{GeneratorState, LoadState};

/// When `/healthz` says 503.
#[derive(Debug, Clone, Copy)]
pub struct HealthRules {
    /// Lag past this (ms)…
    pub lag_crit_ms: u64,
    /// …for longer than this is unhealthy.
    pub lag_grace: Duration,
}

/// The engine's health as `/healthz` reports it, kept up to date from
/// every snapshot (lag must stay past the threshold for the whole grace).
#[derive(Debug)]
pub struct Health {
    rules: HealthRules,
    lagging_since: Mutex<Option<Instant>>,
}

impl Health {
    pub fn new(rules: HealthRules) -> Self {
        Health {
            rules,
            lagging_since: Mutex::new(None),
        }
    }

    /// Look at a snapshot; `Err(reason)` when unhealthy.
    pub fn judge(&self, s: &Snapshot, now: Instant) -> Result<(), Unhealthy> {
        let worst = s.shards.iter().max_by_key(|sh| sh.millis_behind_latest);
        let mut since = self.lagging_since.locked();
        let lagging = worst.filter(|sh| sh.millis_behind_latest > self.rules.lag_crit_ms);
        *since = match (lagging, *since) {
            (Some(_), Some(t)) => Some(t),
            (Some(_), None) => Some(now),
            (None, _) => None,
        };
        if s.stopping {
            return Err(Unhealthy::Stopping);
        }
        if s.ingest.retrying {
            return Err(Unhealthy::Retrying);
        }
        if let (Some(sh), Some(t)) = (lagging, *since)
            && now.duration_since(t) >= self.rules.lag_grace
        {
            return Err(Unhealthy::Lagging {
                shard: sh.shard_id.clone(),
                behind_ms: sh.millis_behind_latest,
                crit_ms: self.rules.lag_crit_ms,
                for_secs: now.duration_since(t).as_secs_f64(),
            });
        }
        Ok(())
    }
}

/// Why `/healthz` answers 503.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unhealthy {
    #[error("stopping: draining what was acknowledged")]
    Stopping,
    #[error("warehouse retrying: commits are refused and backed off")]
    Retrying,
    #[error("{shard} is {behind_ms} ms behind (over ui.lag_crit_ms = {crit_ms} for {for_secs:.0}s)")]
    Lagging {
        shard: String,
        behind_ms: u64,
        crit_ms: u64,
        for_secs: f64,
    },
}

/// The metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "--metrics {0} is not a loopback address: the metrics endpoint binds 127.0.0.1 unless --allow-remote is given"
    )]
    NotLoopback(SocketAddr),
    #[error("--metrics {addr}: {error}")]
    Bind { addr: SocketAddr, error: std::io::Error },
}

/// Encodes the newest snapshot on every scrape.
#[derive(Debug)]
struct SnapshotCollector(watch::Receiver<Snapshot>);

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: N,
) -> std::fmt::Result {
    ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// One gauge per labelled item.
fn gauges<'a, T: 'a, N: prometheus_client::encoding::EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    (name, help, label): (&str, &str, &'static str),
    items: impl IntoIterator<Item = &'a T>,
    f: impl Fn(&T) -> (String, N),
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for item in items {
        let (value_label, v) = f(item);
        ConstGauge::new(v).encode(m.encode_family(&[(label, value_label.as_str())])?)?;
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = self.0.borrow().clone();
        let g = &s.generator;
        gauge(
            &mut e,
            "courier_up_seconds",
            "Time since the engine started.",
            s.uptime.as_secs_f64(),
        )?;
        gauges(
            &mut e,
            (
                "courier_shard_millis_behind_latest",
                "MillisBehindLatest of the shard's last read.",
                "shard",
            ),
            &s.shards,
            |sh| (sh.shard_id.clone(), sh.millis_behind_latest),
        )?;
        gauges(
            &mut e,
            (
                "courier_shard_records_behind",
                "Records in the stream after the shard's checkpoint.",
                "shard",
            ),
            &s.shards,
            |sh| (sh.shard_id.clone(), sh.records_behind),
        )?;
        gauges(
            &mut e,
            (
                "courier_shard_lease_held",
                "1 while this instance holds the shard's lease and reads it.",
                "shard",
            ),
            &s.shards,
            |sh| (sh.shard_id.clone(), u32::from(sh.held)),
        )?;
        gauge(
            &mut e,
            "courier_leases_held",
            "Shards this instance reads.",
            s.leases.held as u64,
        )?;
        gauge(
            &mut e,
            "courier_lease_instances",
            "Instances holding a live shard lease on the stream, this one counted.",
            s.leases.instances as u64,
        )?;
        counter(
            &mut e,
            "courier_lease_takeovers",
            "Shard leases taken from another instance, over the stream's life (all instances).",
            s.leases.takeovers,
        )?;
        counter(
            &mut e,
            "courier_leases_lost",
            "Shard leases another instance took from this one.",
            s.leases.lost,
        )?;
        gauge(
            &mut e,
            "courier_generator_target_rate",
            "Generator target, events/s.",
            g.target_rate,
        )?;
        gauge(
            &mut e,
            "courier_generator_acked_rate",
            "Events/s the stream acknowledged in the last second.",
            g.acked_rate,
        )?;
        gauge(
            &mut e,
            "courier_generator_running",
            "1 while the generator emits (0 paused, waiting for dimensions or stopped).",
            u32::from(g.state == GeneratorState::Running),
        )?;
        counter(
            &mut e,
            "courier_generated_events",
            "Events the generator built.",
            g.generated,
        )?;
        counter(
            &mut e,
            "courier_acknowledged_events",
            "Events the stream acknowledged.",
            g.acknowledged,
        )?;
        counter(
            &mut e,
            "courier_throttled_puts",
            "Per-record ProvisionedThroughputExceeded answers.",
            g.throttled,
        )?;
        counter(
            &mut e,
            "courier_failed_puts",
            "Records given up on or failed with a non-throttle error.",
            g.failed,
        )?;
        counter(
            &mut e,
            "courier_ingested_events",
            "Events committed to factOrders (updates included).",
            s.ingest.ingested,
        )?;
        counter(
            &mut e,
            "courier_dead_lettered_events",
            "Records kept in the dead-letter table.",
            s.ingest.dead_lettered,
        )?;
        counter(
            &mut e,
            "courier_expired_events",
            "Records the stream's retention dropped before the ingester read them (lost).",
            s.ingest.expired,
        )?;
        counter(
            &mut e,
            "courier_status_updates_resumed",
            "Status updates of orders a previous run left open, scheduled again from the warehouse.",
            g.updates_resumed,
        )?;
        counter(
            &mut e,
            "courier_status_updates_given_up",
            "Status updates given up past the bound on pending ones (the order keeps its last status).",
            g.updates_given_up,
        )?;
        counter(
            &mut e,
            "courier_committed_batches",
            "Micro-batches committed with their checkpoints.",
            s.ingest.batches,
        )?;
        gauge(
            &mut e,
            "courier_ingest_rate",
            "Events/s committed in the last second.",
            s.ingest.ingest_rate,
        )?;
        gauge(
            &mut e,
            "courier_warehouse_retrying",
            "1 while the warehouse refuses commits and the ingester backs off.",
            u32::from(s.ingest.retrying),
        )?;
        let f = &s.freshness;
        let mut m = e.encode_descriptor(
            "courier_freshness_seconds",
            "Event emitted → committed and visible to queries.",
            None,
            MetricType::Histogram,
        )?;
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = f
            .buckets
            .iter()
            .map(|&(le, cumulative)| {
                let here = cumulative.saturating_sub(below);
                below = cumulative;
                (le as f64 / 1000.0, here)
            })
            .collect();
        m.encode_histogram::<NoLabelSet>(f.sum_ms / 1000.0, f.samples, &buckets, None)?;
        gauges(
            &mut e,
            (
                "courier_dimension_loaded",
                "1 when the table's last load succeeded and none runs.",
                "table",
            ),
            &s.dimensions,
            |d| (d.table.clone(), u32::from(matches!(d.state, LoadState::Loaded { .. }))),
        )?;
        gauges(
            &mut e,
            (
                "courier_dimension_load_failed",
                "1 when the table's last load failed.",
                "table",
            ),
            &s.dimensions,
            |d| (d.table.clone(), u32::from(matches!(d.state, LoadState::Failed { .. }))),
        )?;
        gauges(
            &mut e,
            (
                "courier_dimension_rows",
                "Rows of the table's last successful load.",
                "table",
            ),
            &s.dimensions,
            |d| (d.table.clone(), d.last_loaded.map_or(0, |(rows, _)| rows)),
        )?;
        gauges(
            &mut e,
            (
                "courier_dimension_last_load_timestamp_seconds",
                "Unix time of the table's last successful load (0: never).",
                "table",
            ),
            &s.dimensions,
            |d| (d.table.clone(), d.last_loaded.map_or(0, |(_, at)| at.timestamp())),
        )?;
        gauges(
            &mut e,
            (
                "courier_query_seconds",
                "Run time of the dashboard query's last run.",
                "query",
            ),
            s.queries.iter().filter(|q| q.last.is_some()),
            |q| (q.name.clone(), q.last.as_ref().map_or(0.0, |r| r.took.as_secs_f64())),
        )?;
        gauges(
            &mut e,
            (
                "courier_query_failed",
                "1 when the dashboard query's last run failed.",
                "query",
            ),
            s.queries.iter().filter(|q| q.last.is_some()),
            |q| {
                (
                    q.name.clone(),
                    u32::from(q.last.as_ref().is_some_and(|r| r.error.is_some())),
                )
            },
        )?;
        gauge(
            &mut e,
            "courier_stopping",
            "1 once a stop was asked for and the engine drains.",
            u32::from(s.stopping),
        )
    }
}

#[derive(Clone)]
struct Face {
    registry: Arc<Registry>,
    snapshots: watch::Receiver<Snapshot>,
    health: Arc<Health>,
}

async fn metrics(State(face): State<Face>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut body, &face.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "encoding the metrics failed\n".to_string(),
        ),
    }
}

async fn healthz(State(face): State<Face>) -> impl IntoResponse {
    let snap = face.snapshots.borrow().clone();
    match face.health.judge(&snap, Instant::now()) {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {reason}\n")),
    }
}

/// Bind `addr` (loopback unless `allow_remote`) and serve until `stop`.
/// Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    allow_remote: bool,
    snapshots: watch::Receiver<Snapshot>,
    rules: HealthRules,
    stop: CancellationToken,
) -> Result<SocketAddr, ServeError> {
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(addr));
    }
    let bind = |error| ServeError::Bind { addr, error };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshots.clone())));
    let health = Arc::new(Health::new(rules));
    // Lag has to stay critical for the whole grace: watch every snapshot,
    // not only the scrapes.
    let (watcher, mut rx) = (Arc::clone(&health), snapshots.clone());
    let watch_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = watch_stop.cancelled() => return,
                changed = rx.changed() => if changed.is_err() { return },
            }
            let snap = rx.borrow_and_update().clone();
            let _ = watcher.judge(&snap, Instant::now());
        }
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Face {
            registry: Arc::new(registry),
            snapshots,
            health,
        });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::warn!("metrics endpoint: {e}");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::ShardLag;

    #[test]
    fn lag_is_unhealthy_only_after_the_grace() {
        let h = Health::new(HealthRules {
            lag_crit_ms: 1000,
            lag_grace: Duration::from_secs(10),
        });
        let mut s = Snapshot::default();
        s.shards.push(ShardLag {
            shard_id: "shardId-000000000001".into(),
            millis_behind_latest: 5000,
            ..ShardLag::default()
        });
        let t0 = Instant::now();
        assert!(h.judge(&s, t0).is_ok());
        assert!(h.judge(&s, t0 + Duration::from_secs(5)).is_ok());
        let e = h.judge(&s, t0 + Duration::from_secs(11)).unwrap_err().to_string();
        assert!(e.contains("shardId-000000000001 is 5000 ms behind"), "{e}");
        s.shards[0].millis_behind_latest = 10;
        assert!(h.judge(&s, t0 + Duration::from_secs(12)).is_ok());
        s.ingest.retrying = true;
        assert!(
            h.judge(&s, t0 + Duration::from_secs(13))
                .unwrap_err()
                .to_string()
                .contains("warehouse retrying")
        );
    }
}
