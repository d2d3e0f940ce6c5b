//! The engine's live state: what the tasks update and the publisher turns
//! into [`Snapshot`]s. Locks are held only to copy a few fields.

use crate::sync::LockExt;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::snapshot::{
    BackendInfo, DimensionLoad, ErrorEntry, Freshness, GeneratorState, LoadState, QueryView, ShardLag, Snapshot,
};

const MAX_ERRORS: usize = 50;
/// One sample a second for five minutes.
const RATE_HISTORY: usize = 300;

#[derive(Default)]
pub struct Counters {
    pub generated: AtomicU64,
    pub orders_acknowledged: AtomicU64,
    pub sent: AtomicU64,
    pub acknowledged: AtomicU64,
    pub throttled: AtomicU64,
    pub failed: AtomicU64,
    pub ingested: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Records retention dropped before the ingester read them.
    pub expired: AtomicU64,
    /// Status updates resumed from the warehouse at start (orders the last
    /// run left open).
    pub updates_resumed: AtomicU64,
    /// Status updates given up: past the pending bound, never emitted.
    pub updates_given_up: AtomicU64,
    pub batches: AtomicU64,
    /// Dimension loads that replaced a table.
    pub dimension_loads: AtomicU64,
}

impl Counters {
    /// Changes to the warehouse so far: committed batches and dimension loads.
    /// Equal values mean the data the dashboard queries read has not changed.
    pub fn data_version(&self) -> u64 {
        Self::get(&self.batches) + Self::get(&self.dimension_loads)
    }

    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Per-shard figures the ingester's reader updates.
#[derive(Debug, Clone, Default)]
pub struct ShardState {
    pub lag: ShardLag,
    pub read_total: u64,
}

pub struct Shared {
    started: Instant,
    backend: BackendInfo,
    read_only: bool,
    counters: Counters,
    generator_state: Mutex<GeneratorState>,
    target_rate: AtomicU64,
    shards: Mutex<Vec<ShardState>>,
    dimensions: Mutex<Vec<(DimensionLoad, Option<Instant>)>>,
    freshness: Mutex<Histogram<u64>>,
    queries: Mutex<Vec<QueryView>>,
    errors: Mutex<VecDeque<ErrorEntry>>,
    retrying: AtomicBool,
    stopping: AtomicBool,
    leases: Mutex<super::snapshot::LeaseStats>,
    rates: Mutex<Rates>,
    /// Rewinds asked for and not yet taken by their shard's reader.
    rewinds: Mutex<std::collections::HashMap<String, crate::ops::Position>>,
    rewind_asks: AtomicU64,
}

#[derive(Default)]
struct Rates {
    last_tick: Option<Instant>,
    last_acked: u64,
    last_ingested: u64,
    last_read: Vec<u64>,
    acked_rate: u64,
    ingest_rate: u64,
    history: VecDeque<u64>,
}

impl Shared {
    pub fn new(backend: BackendInfo, read_only: bool, dimensions: Vec<DimensionLoad>) -> Self {
        Shared {
            started: Instant::now(),
            backend,
            read_only,
            counters: Counters::default(),
            generator_state: Mutex::new(GeneratorState::WaitingForDimensions),
            target_rate: AtomicU64::new(0),
            shards: Mutex::new(Vec::new()),
            dimensions: Mutex::new(dimensions.into_iter().map(|d| (d, None)).collect()),
            freshness: Mutex::new(Histogram::new_with_bounds(1, 3_600_000, 3).expect("valid histogram bounds")),
            queries: Mutex::new(Vec::new()),
            errors: Mutex::new(VecDeque::new()),
            retrying: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            leases: Mutex::default(),
            rates: Mutex::new(Rates::default()),
            rewinds: Mutex::default(),
            rewind_asks: AtomicU64::new(0),
        }
    }

    /// The event counters the tasks add to.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether the engine refuses writes (`--read-only`).
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn set_generator_state(&self, state: GeneratorState) {
        *self.generator_state.locked() = state;
    }

    /// The generator's target rate, events/s, as the engine last set it.
    pub fn target_rate(&self) -> u32 {
        self.target_rate.load(Ordering::Relaxed) as u32
    }

    pub fn set_target_rate(&self, rate: u32) {
        self.target_rate.store(u64::from(rate), Ordering::Relaxed);
    }

    /// Whether the ingester is retrying a warehouse that refused a commit.
    pub fn set_retrying(&self, retrying: bool) {
        self.retrying.store(retrying, Ordering::Relaxed);
    }

    /// The engine has begun to stop (drain, then exit).
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Start a shard's figures; its index for [`Shared::with_shard`].
    pub fn add_shard(&self, state: ShardState) -> usize {
        let mut shards = self.shards.locked();
        shards.push(state);
        shards.len() - 1
    }

    /// Update the lease figures (under the lock: keep `f` short).
    pub fn with_leases(&self, f: impl FnOnce(&mut super::snapshot::LeaseStats)) {
        f(&mut self.leases.locked());
    }

    /// Update shard `index`'s figures (under the lock: keep `f` short).
    pub fn with_shard(&self, index: usize, f: impl FnOnce(&mut ShardState)) {
        if let Some(s) = self.shards.locked().get_mut(index) {
            f(s);
        }
    }

    /// Read every shard's figures (under the lock: keep `f` short).
    pub fn read_shards<T>(&self, f: impl FnOnce(&[ShardState]) -> T) -> T {
        f(&self.shards.locked())
    }

    /// Replace the dashboard queries' views; `f` gets the old ones.
    pub fn replace_queries(&self, f: impl FnOnce(Vec<QueryView>) -> Vec<QueryView>) {
        let mut views = self.queries.locked();
        let old = std::mem::take(&mut *views);
        *views = f(old);
    }

    /// Update query `index`'s view (under the lock: keep `f` short).
    pub fn with_query(&self, index: usize, f: impl FnOnce(&mut QueryView)) {
        if let Some(v) = self.queries.locked().get_mut(index) {
            f(v);
        }
    }

    /// Ask the readers of `shards` to start again from `to`.
    pub fn ask_rewind(&self, shards: impl IntoIterator<Item = String>, to: crate::ops::Position) {
        let mut r = self.rewinds.locked();
        for s in shards {
            r.insert(s, to);
        }
        self.rewind_asks.fetch_add(1, Ordering::Release);
    }

    /// A rewind asked for `shard` since the reader last looked (`seen`).
    pub fn take_rewind(&self, shard: &str, seen: &mut u64) -> Option<crate::ops::Position> {
        let asks = self.rewind_asks.load(Ordering::Acquire);
        if asks == *seen {
            return None;
        }
        let mut r = self.rewinds.locked();
        let taken = r.remove(shard);
        if r.is_empty() {
            *seen = asks;
        }
        taken
    }

    /// The shards readers have started on, by id.
    pub fn shard_ids(&self) -> Vec<String> {
        self.shards.locked().iter().map(|s| s.lag.shard_id.clone()).collect()
    }

    /// Record an error for the console's error list (and the log).
    pub fn error(&self, source: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(source, "{message}");
        let mut errors = self.errors.locked();
        if errors.len() == MAX_ERRORS {
            errors.pop_front();
        }
        errors.push_back(ErrorEntry {
            at: chrono::Utc::now(),
            source: source.into(),
            message,
        });
    }

    pub fn set_dimension(&self, table: &str, state: LoadState, loading_since: Option<Instant>) {
        let mut dims = self.dimensions.locked();
        if let Some((d, since)) = dims.iter_mut().find(|(d, _)| d.table == table) {
            if let LoadState::Loaded { rows, at, .. } = &state {
                d.last_loaded = Some((*rows, *at));
            }
            d.state = state;
            *since = loading_since;
        }
    }

    pub fn record_freshness(&self, emitted_ms: impl Iterator<Item = i64>, visible_ms: i64) {
        let mut h = self.freshness.locked();
        for e in emitted_ms {
            let _ = h.record((visible_ms - e).clamp(1, 3_600_000) as u64);
        }
    }

    /// Advance the per-second rates; call about once a second.
    pub fn tick_rates(&self) {
        let now = Instant::now();
        let mut r = self.rates.locked();
        let secs = r
            .last_tick
            .map_or(1.0, |t| now.duration_since(t).as_secs_f64().max(0.001));
        let acked = Counters::get(&self.counters.acknowledged);
        let ingested = Counters::get(&self.counters.ingested);
        r.acked_rate = ((acked - r.last_acked) as f64 / secs).round() as u64;
        r.ingest_rate = ((ingested - r.last_ingested) as f64 / secs).round() as u64;
        r.last_acked = acked;
        r.last_ingested = ingested;
        let rate = r.acked_rate;
        if r.history.len() == RATE_HISTORY {
            r.history.pop_front();
        }
        r.history.push_back(rate);
        let mut shards = self.shards.locked();
        r.last_read.resize(shards.len(), 0);
        for (s, last) in shards.iter_mut().zip(r.last_read.iter_mut()) {
            s.lag.read_rate = ((s.read_total - *last) as f64 / secs).round() as u64;
            *last = s.read_total;
        }
        r.last_tick = Some(now);
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let rates = self.rates.locked();
        let h = self.freshness.locked();
        let freshness = Freshness {
            p50_ms: (!h.is_empty()).then(|| h.value_at_quantile(0.5)),
            p99_ms: (!h.is_empty()).then(|| h.value_at_quantile(0.99)),
            samples: h.len(),
            sum_ms: if h.is_empty() { 0.0 } else { h.mean() * h.len() as f64 },
            buckets: super::snapshot::FRESHNESS_BUCKETS_MS
                .iter()
                .map(|&le| (le, h.count_between(0, le)))
                .collect(),
        };
        drop(h);
        Snapshot {
            backend: self.backend.clone(),
            uptime: self.started.elapsed(),
            read_only: self.read_only,
            generator: super::snapshot::GeneratorStats {
                state: *self.generator_state.locked(),
                target_rate: self.target_rate.load(Ordering::Relaxed) as u32,
                acked_rate: rates.acked_rate,
                generated: Counters::get(&c.generated),
                orders_acknowledged: Counters::get(&c.orders_acknowledged),
                sent: Counters::get(&c.sent),
                acknowledged: Counters::get(&c.acknowledged),
                throttled: Counters::get(&c.throttled),
                failed: Counters::get(&c.failed),
                updates_resumed: Counters::get(&c.updates_resumed),
                updates_given_up: Counters::get(&c.updates_given_up),
                rate_history: rates.history.iter().copied().collect(),
            },
            shards: self.shards.locked().iter().map(|s| s.lag.clone()).collect(),
            dimensions: self
                .dimensions
                .locked()
                .iter()
                .map(|(d, since)| {
                    let mut d = d.clone();
                    if let (LoadState::Loading { elapsed }, Some(since)) = (&mut d.state, since) {
                        *elapsed = since.elapsed();
                    }
                    d
                })
                .collect(),
            ingest: super::snapshot::IngestStats {
                ingested: Counters::get(&c.ingested),
                dead_lettered: Counters::get(&c.dead_lettered),
                expired: Counters::get(&c.expired),
                batches: Counters::get(&c.batches),
                ingest_rate: rates.ingest_rate,
                retrying: self.retrying.load(Ordering::Relaxed),
            },
            freshness,
            queries: self.queries.locked().clone(),
            errors: self.errors.locked().iter().cloned().collect(),
            stopping: self.stopping.load(Ordering::Relaxed),
            leases: self.leases.locked().clone(),
        }
    }
}
