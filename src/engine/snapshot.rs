//! The engine's published view of itself, and the commands it accepts.
//!
//! Front ends (the TUI and `--no-tui`) render only from a [`Snapshot`] and
//! steer the engine only through [`Command`]s. Nothing here does I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything a front end may show, published on a `watch` channel several
/// times a second. Cloning it is cheap enough for a frame (a few KiB plus the
/// query results).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub backend: BackendInfo,
    /// Time since the engine started.
    #[serde(with = "duration_ms")]
    pub uptime: Duration,
    pub read_only: bool,
    pub generator: GeneratorStats,
    pub shards: Vec<ShardLag>,
    pub dimensions: Vec<DimensionLoad>,
    pub ingest: IngestStats,
    pub freshness: Freshness,
    pub queries: Vec<QueryView>,
    /// Newest last; bounded.
    pub errors: Vec<ErrorEntry>,
    /// Set once a stop was requested and the engine is draining.
    pub stopping: bool,
    #[serde(default)]
    pub leases: LeaseStats,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackendInfo {
    /// `embedded` or `aws`.
    pub kind: String,
    /// Human description: data dir for embedded; region/stream/workgroup for AWS.
    pub detail: String,
    pub stream: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorState {
    /// Waiting for the dimension tables before emitting anything.
    #[default]
    WaitingForDimensions,
    Running,
    Paused,
    Stopped,
}

impl GeneratorState {
    pub fn label(self) -> &'static str {
        match self {
            GeneratorState::WaitingForDimensions => "waiting for dimensions",
            GeneratorState::Running => "running",
            GeneratorState::Paused => "paused",
            GeneratorState::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeneratorStats {
    pub state: GeneratorState,
    /// Target events per second.
    pub target_rate: u32,
    /// Records acknowledged by the stream in the last second.
    pub acked_rate: u64,
    /// Events built (new orders and status updates).
    pub generated: u64,
    /// Distinct new orders acknowledged.
    pub orders_acknowledged: u64,
    /// Put attempts, counting each retry of a record again.
    pub sent: u64,
    pub acknowledged: u64,
    /// Per-record ProvisionedThroughputExceeded answers.
    pub throttled: u64,
    /// Records given up on or failed with a non-throttle error.
    pub failed: u64,
    /// Status updates of orders a previous run left open, scheduled again
    /// from the warehouse.
    #[serde(default)]
    pub updates_resumed: u64,
    /// Status updates given up (past the bound on pending ones).
    #[serde(default)]
    pub updates_given_up: u64,
    /// Acknowledged events/s, one sample per second, oldest first (last 5 minutes).
    pub rate_history: Vec<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShardLag {
    pub shard_id: String,
    pub millis_behind_latest: u64,
    pub records_behind: u64,
    /// Records read per second (last second).
    pub read_rate: u64,
    pub throttled_reads: u64,
    pub throttled_writes: u64,
    /// Records of this shard committed to the warehouse by this run.
    pub ingested: u64,
    /// Last checkpointed sequence number.
    pub checkpoint: Option<String>,
    /// After a rewind: the checkpoint it moved back from, until the replay
    /// passes it again.
    #[serde(default)]
    pub replay_until: Option<String>,
    /// Records still to replay to get there (when the stream can tell).
    #[serde(default)]
    pub replay_left: Option<u64>,
    /// The instance holding the shard's lease (`None`: no one does).
    #[serde(default)]
    pub owner: Option<String>,
    /// This instance reads the shard (else its figures are another's).
    #[serde(default)]
    pub held: bool,
    /// Milliseconds until the lease expires, at the last lease round.
    #[serde(default)]
    pub lease_expires_ms: Option<i64>,
}

/// The shard leases as this instance last saw them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseStats {
    /// This instance's name in the lease table.
    pub instance: String,
    /// Shards this instance reads.
    pub held: usize,
    /// Open shards (not read to their end).
    pub shards: usize,
    /// Instances holding a live lease, this one counted.
    pub instances: usize,
    /// Takeovers of any instance's leases, over the stream's life.
    pub takeovers: u64,
    /// Leases this instance lost to another (taken while it held them).
    pub lost: u64,
    /// Leases this instance took from another.
    pub taken: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoadState {
    Pending,
    Loading {
        #[serde(with = "duration_ms")]
        elapsed: Duration,
    },
    Loaded {
        rows: u64,
        #[serde(with = "duration_ms")]
        took: Duration,
        at: DateTime<Utc>,
    },
    Failed {
        reason: String,
        at: DateTime<Utc>,
    },
}

impl LoadState {
    pub fn label(&self) -> &'static str {
        match self {
            LoadState::Pending => "pending",
            LoadState::Loading { .. } => "loading",
            LoadState::Loaded { .. } => "loaded",
            LoadState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DimensionLoad {
    pub table: String,
    /// `s3://bucket/dims/<Table>.csv`
    pub source: String,
    pub state: LoadState,
    /// The last successful load, kept while a reload runs or after it fails.
    pub last_loaded: Option<(u64, DateTime<Utc>)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestStats {
    /// Records committed to factOrders by this run (including updates).
    pub ingested: u64,
    pub dead_lettered: u64,
    /// Records retention dropped before the ingester read them (lost).
    #[serde(default)]
    pub expired: u64,
    pub batches: u64,
    /// Events/s committed in the last second.
    pub ingest_rate: u64,
    /// True while the warehouse refuses writes and the ingester backs off.
    pub retrying: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Freshness {
    /// Event emitted → committed and visible to queries, milliseconds.
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub samples: u64,
    /// Sum of every sample, ms (for a histogram's `_sum`).
    #[serde(default)]
    pub sum_ms: f64,
    /// (upper bound ms, samples ≤ it), ascending: a cumulative histogram
    /// over [`FRESHNESS_BUCKETS_MS`], as Prometheus's `_bucket` lines.
    #[serde(default)]
    pub buckets: Vec<(u64, u64)>,
}

/// Freshness histogram bounds, ms: around the 1 s goal, up to a minute.
pub const FRESHNESS_BUCKETS_MS: [u64; 11] = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryView {
    /// File stem, e.g. `orders_per_minute`.
    pub name: String,
    pub title: String,
    #[serde(with = "duration_ms")]
    pub refresh: Duration,
    pub running: bool,
    /// Shared, not copied: a snapshot is taken ten times a second.
    #[serde(serialize_with = "shared_result", deserialize_with = "owned_result")]
    pub last: Option<std::sync::Arc<QueryResult>>,
}

fn owned_result<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::sync::Arc<QueryResult>>, D::Error> {
    Ok(Option::<QueryResult>::deserialize(d)?.map(std::sync::Arc::new))
}

fn shared_result<S: serde::Serializer>(r: &Option<std::sync::Arc<QueryResult>>, s: S) -> Result<S::Ok, S::Error> {
    r.as_deref().serialize(s)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub ran_at: DateTime<Utc>,
    #[serde(with = "duration_ms")]
    pub took: Duration,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEntry {
    pub at: DateTime<Utc>,
    /// Which part failed: `generator`, `ingester`, `dimensions`, `query`, `command`.
    pub source: String,
    pub message: String,
}

/// What a front end may ask of the engine (in process, or over the control
/// socket as JSON: `"pause_generator"`, `{"set_rate": 500}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    ReloadDimension(String),
    ReloadAllDimensions,
    PauseGenerator,
    ResumeGenerator,
    ToggleGenerator,
    SetRate(u32),
    /// Raise (+25%) or lower (−20%) the generator's rate from what the
    /// engine has now (not from a snapshot that may be stale).
    ScaleRate(RateStep),
    /// Re-run query `index` (into `Snapshot::queries`) now.
    RunQuery(usize),
    /// Re-read `sql/queries` from disk.
    ReloadQueries,
    /// Move the checkpoint of `shard` (all shards if None) to `to` while
    /// running: its reader drops what it has not committed and reads from
    /// there. Replayed records change nothing already current.
    Rewind {
        shard: Option<String>,
        to: crate::ops::Position,
    },
    /// Stop the pipeline: the generator stops, the ingester drains and
    /// checkpoints, every face is told. (A face quitting is not this.)
    StopService,
}

impl Command {
    /// Whether this command changes the pipeline (refused under `--read-only`).
    pub fn is_mutation(&self) -> bool {
        !matches!(self, Command::RunQuery(_) | Command::ReloadQueries)
    }
}

pub use crate::model::MAX_RATE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateStep {
    Up,
    Down,
}

impl RateStep {
    /// The rate one step from `rate`: +25% or −20% (at least 1), within
    /// 1..=`MAX_RATE`.
    pub fn apply(self, rate: u32) -> u32 {
        match self {
            RateStep::Up => rate.saturating_add((rate / 4).max(1)).min(MAX_RATE),
            RateStep::Down => rate.saturating_sub((rate / 5).max(1)).max(1),
        }
    }
}

pub(crate) mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
