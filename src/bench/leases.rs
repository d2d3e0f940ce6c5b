//! Shard-lease measurements: two ingesters (instances) in one process on
//! one embedded stream and warehouse — how long the second takes to get
//! its share, and to take over every shard once the first stops without
//! giving its leases up (as a killed instance does).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{self, eyre};
use tokio_util::sync::CancellationToken;

use crate::backend::embedded::{DuckDbWarehouse, EmbeddedStream, StreamLimits};
use crate::backend::{Stream, Warehouse};
use crate::config::Config;
use crate::engine::ingester::{Ingester, LeaseSettings, Stop};
use crate::engine::snapshot::BackendInfo;
use crate::engine::state::Shared;

/// The lease the figure is measured with.
pub(super) const LEASE: Duration = Duration::from_secs(5);
const SHARDS: usize = 8;

/// What the lease measurement found.
pub(super) struct Takeover {
    /// From the second instance's start to each holding half the shards.
    pub balanced: Duration,
    /// From the first instance's end (leases not released) to the second
    /// holding every shard.
    pub takeover: Duration,
}

fn instance(shared: &Arc<Shared>, stream: &Arc<dyn Stream>, warehouse: &Arc<dyn Warehouse>, name: &str) -> Ingester {
    Ingester {
        shared: Arc::clone(shared),
        stream: Arc::clone(stream),
        warehouse: Arc::clone(warehouse),
        batch_records: 10_000,
        batch_age: Duration::from_millis(200),
        reads_per_sec: 4,
        start: crate::ops::Position::TrimHorizon,
        lease: LeaseSettings {
            owner: name.to_string(),
            duration: LEASE,
        },
    }
}

fn held(shared: &Shared) -> usize {
    shared.snapshot().leases.held
}

async fn until(limit: Duration, what: &str, f: impl Fn() -> bool) -> eyre::Result<Duration> {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > limit {
            return Err(eyre!("{what}: not within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(t.elapsed())
}

pub(super) async fn takeover(dir: &Path) -> eyre::Result<Takeover> {
    let stream: Arc<dyn Stream> = Arc::new(Arc::new(EmbeddedStream::open(
        &dir.join("stream"),
        "bench-leases",
        SHARDS,
        StreamLimits::default(),
    )?));
    let schema = Config::default().schema();
    let warehouse: Arc<dyn Warehouse> = Arc::new(DuckDbWarehouse::open(
        &dir.join("w.duckdb"),
        &schema,
        &dir.join("objects"),
    )?);
    warehouse.ensure_schema().await?;
    let shared = || Arc::new(Shared::new(BackendInfo::default(), false, Vec::new()));
    let (a_state, b_state) = (shared(), shared());
    let stop = || Stop {
        drain: CancellationToken::new(),
        abort: CancellationToken::new(),
    };
    let (a_stop, b_stop) = (stop(), stop());
    let a = tokio::spawn(instance(&a_state, &stream, &warehouse, "bench-a").run(a_stop.clone()));
    until(LEASE * 3, "the first instance takes every shard", || {
        held(&a_state) == SHARDS
    })
    .await?;
    let b = tokio::spawn(instance(&b_state, &stream, &warehouse, "bench-b").run(b_stop.clone()));
    let balanced = until(LEASE * 4, "the two instances hold half each", || {
        held(&a_state) == SHARDS / 2 && held(&b_state) == SHARDS / 2
    })
    .await?;
    // The first stops as a killed instance would: its leases not given up.
    a_stop.abort.cancel();
    let ended = Instant::now();
    let _ = a.await;
    let waited = until(LEASE * 4, "the second instance takes every shard", || {
        held(&b_state) == SHARDS
    })
    .await;
    let takeover = ended.elapsed();
    b_stop.abort.cancel();
    let _ = b.await;
    waited?;
    Ok(Takeover { balanced, takeover })
}
