//! Ports: the traits the engine works through, and the types that cross them.
//!
//! The engine knows only these traits; adapters live in their own folders
//! (`embedded` today). Nothing here knows about the UI.

pub mod aws;
pub mod embedded;
pub mod ident;
pub mod kpl;
pub mod objects;
pub mod payload;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use ident::TableName;
pub use objects::ObjectUri;

/// A Kinesis-style shard id, e.g. `shardId-000000000003`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub String);

impl ShardId {
    pub fn from_index(i: usize) -> Self {
        ShardId(format!("shardId-{i:012}"))
    }
}

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A per-shard sequence number, as the decimal string Kinesis uses.
/// Within one shard, a later record has a greater number; compare with
/// [`SequenceNumber::cmp_numeric`], not as strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(pub String);

impl SequenceNumber {
    pub fn cmp_numeric(&self, other: &SequenceNumber) -> std::cmp::Ordering {
        cmp_sequence_numbers(&self.0, &other.0)
    }
}

/// Sequence numbers (decimal digits) compared as numbers, without copying
/// them. A user record of an aggregated record (`kpl`) is numbered
/// `PARENT:SUB` ([`sub_sequence_number`]): after its parent, before the
/// parent's later user records and before the next record.
pub fn cmp_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    fn digits(a: &str, b: &str) -> std::cmp::Ordering {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
    let ((a, a_sub), (b, b_sub)) = (split_sequence_number(a), split_sequence_number(b));
    digits(a, b).then_with(|| match (a_sub, b_sub) {
        (Some(x), Some(y)) => digits(x, y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    })
}

/// The place of user record `sub` (0-based, its index in the aggregate) of
/// the aggregated Kinesis record `parent`: `PARENT:SUB`. Dead letters keep
/// it; factOrders keeps the parent's ([`parent_sequence_number`]).
pub fn sub_sequence_number(parent: &str, sub: usize) -> String {
    format!("{parent}:{sub}")
}

/// `PARENT:SUB` as its parts; a plain sequence number has no sub-sequence.
pub fn split_sequence_number(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((parent, sub)) => (parent, Some(sub)),
        None => (s, None),
    }
}

/// The Kinesis record's own sequence number (that of a user record's
/// aggregate).
pub fn parent_sequence_number(s: &str) -> &str {
    split_sequence_number(s).0
}

impl std::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of a PutRecords call.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// The per-record answer of a PutRecords call, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Ok {
        shard_id: ShardId,
        sequence_number: SequenceNumber,
    },
    Failed {
        /// `ProvisionedThroughputExceededException` or `InternalFailure`.
        error_code: String,
        error_message: String,
    },
}

impl PutOutcome {
    pub fn is_throttle(&self) -> bool {
        matches!(self, PutOutcome::Failed { error_code, .. } if error_code.starts_with("ProvisionedThroughputExceeded"))
    }
}

/// Where a read starts, as in GetShardIterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    TrimHorizon,
    Latest,
    AfterSequenceNumber(SequenceNumber),
    AtSequenceNumber(SequenceNumber),
    /// The first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(i64),
}

/// A record read from a shard.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence_number: SequenceNumber,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// When the stream accepted it (ms since the Unix epoch).
    pub arrival_ms: i64,
}

#[derive(Debug, Clone)]
pub struct GetRecordsOutput {
    pub records: Vec<StreamRecord>,
    /// Opaque iterator for the next call; `None` once a closed shard (after a
    /// reshard) has been read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: u64,
    /// Records this read passed over because they aged out of retention
    /// before it reached them (as far as the backend can tell; Kinesis
    /// can't: 0).
    pub expired: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("ProvisionedThroughputExceededException: {0}")]
    Throttled(String),
    #[error("ExpiredIteratorException: {0}")]
    ExpiredIterator(String),
    /// A sequence number that is not of this shard (a checkpoint from a
    /// stream that was deleted and made again, or past the shard's end).
    #[error("InvalidArgumentException: {0}")]
    InvalidSequence(String),
    #[error("ResourceNotFoundException: {0}")]
    NotFound(String),
    #[error("stream I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A shard and where it came from: after a reshard, children are read only
/// once their parents have been read to the end, so an order's events stay in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: ShardId,
    pub parents: Vec<ShardId>,
    /// Which incarnation of the shard this is: it changes when the stream
    /// is deleted and made again under the same name (Kinesis: the shard's
    /// starting sequence number; embedded: the stream's creation id). A
    /// checkpoint taken on another incarnation means nothing here.
    pub origin: Option<String>,
}

/// A Kinesis-semantics stream.
#[async_trait]
pub trait Stream: Send + Sync {
    fn name(&self) -> &str;
    async fn list_shards(&self) -> Result<Vec<ShardId>, StreamError>;
    /// Every readable shard (open, or closed with records still retained)
    /// with its parents. Streams that never reshard have no parents.
    async fn shard_lineage(&self) -> Result<Vec<ShardInfo>, StreamError> {
        Ok(self
            .list_shards()
            .await?
            .into_iter()
            .map(|id| ShardInfo {
                id,
                parents: Vec::new(),
                origin: self.incarnation(),
            })
            .collect())
    }
    /// The stream's incarnation, for streams where it is one value for
    /// every shard (see `ShardInfo::origin`).
    fn incarnation(&self) -> Option<String> {
        None
    }
    /// PutRecords: ≤ 500 entries, ≤ 5 MiB. Each entry succeeds or fails alone.
    async fn put_records(&self, entries: Vec<PutEntry>) -> Result<Vec<PutOutcome>, StreamError>;
    async fn shard_iterator(&self, shard: &ShardId, start: StartPosition) -> Result<String, StreamError>;
    async fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput, StreamError>;
    /// Records in the shard after `after` (None = from the oldest retained).
    /// Used for the "records behind" figure; `None` if the backend can't tell.
    async fn records_after(&self, shard: &ShardId, after: Option<&SequenceNumber>) -> Option<u64>;
    /// Puts refused with ProvisionedThroughputExceeded on `shard` so far, if
    /// the backend counts them per shard.
    fn write_throttles(&self, _shard: &ShardId) -> Option<u64> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("no such object {0}")]
    NotFound(String),
    #[error("{uri}: {source}")]
    Io { uri: String, source: std::io::Error },
}

/// A Kinesis stream name (1-128 of letters, digits, `_ . -`) that is also
/// safe as a directory name: not `.`, `..` or any other run of dots.
pub fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.chars().all(|c| c == '.')
}

/// An S3-like object store.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>) -> Result<(), ObjectStoreError>;
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, ObjectStoreError>;
    /// Remove an object; one already gone is no error.
    async fn delete(&self, uri: &ObjectUri) -> Result<(), ObjectStoreError>;
}

/// A query result with every value rendered as text (NULL as `None`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A validated fact row. Kept small, as tens of thousands are in flight at
/// once: the status is one of `STATUSES`, the shard is its batch's, and a
/// sequence number of up to 24 digits (every embedded one) is held inline.
#[derive(Debug, Clone, PartialEq)]
pub struct FactRow {
    pub order_id: i64,
    pub customer_id: i32,
    pub restaurant_id: i32,
    pub rider_id: i32,
    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]`, already validated.
    pub order_date: chrono::NaiveDateTime,
    pub delivery_time: i32,
    /// Cents (DECIMAL(8,2) fits an i32).
    pub order_value: i32,
    pub delivery_fee: i32,
    pub tip_amount: i32,
    pub order_status: &'static str,
    pub sequence_number: compact_str::CompactString,
    pub arrival_ms: i64,
    pub emitted_ms: Option<i64>,
}

/// A record that could not be loaded, kept with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub shard_id: String,
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub reason: String,
    pub payload: Vec<u8>,
}

/// One micro-batch of one shard, committed with its checkpoint in one transaction.
#[derive(Debug, Clone)]
pub struct FactBatch {
    pub stream: String,
    pub shard_id: String,
    pub rows: Vec<FactRow>,
    pub dead_letters: Vec<DeadLetter>,
    /// The last sequence number this batch covers.
    pub checkpoint: SequenceNumber,
    /// A redrive of dead letters, not a read of the stream: no checkpoint is
    /// written; the dead letters whose rows load are marked redriven, and
    /// `dead_letters` (those that failed again) get their new reason.
    pub redrive: bool,
    /// The checkpoint moves back (the first commit after a rewind); any
    /// other commit only moves it forward.
    pub rewound: bool,
    /// Part of one aggregated record whose other user records are still to
    /// commit: it writes no checkpoint (the record's would skip the rest
    /// after a crash).
    pub partial: bool,
}

impl FactBatch {
    /// The rows to load: within a batch (one shard, in sequence order) only
    /// each OrderID's last event matters.
    pub fn latest_rows(&self) -> Vec<&FactRow> {
        let mut last: std::collections::HashMap<i64, usize> = std::collections::HashMap::with_capacity(self.rows.len());
        for (i, r) in self.rows.iter().enumerate() {
            last.insert(r.order_id, i);
        }
        self.rows
            .iter()
            .enumerate()
            .filter(|(i, r)| last.get(&r.order_id) == Some(i))
            .map(|(_, r)| r)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse can't be reached or is locked; retry later.
    #[error("warehouse unavailable: {0}")]
    Unavailable(String),
    /// The SQL or the data was refused.
    #[error("{0}")]
    Sql(String),
    #[error("{0}")]
    Load(String),
}

impl WarehouseError {
    /// Whether trying again later may succeed: the warehouse is away, out of
    /// memory, or two transactions collided. Anything else is about the SQL
    /// or the data, and fails the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            WarehouseError::Unavailable(_) => true,
            WarehouseError::Sql(m) | WarehouseError::Load(m) => {
                let m = m.to_ascii_lowercase();
                [
                    "serializable isolation violation",
                    "transaction conflict",
                    "write-write conflict",
                    "deadlock",
                    "out of memory",
                    "could not set lock",
                ]
                .iter()
                .any(|t| m.contains(t))
            }
        }
    }
}

/// A Redshift-like warehouse.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Create the schema, dimension, fact and bookkeeping tables if missing.
    async fn ensure_schema(&self) -> Result<(), WarehouseError>;
    /// Run SQL written in the Redshift dialect; the last statement's rows come back.
    async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError>;
    /// Replace `table` with the CSV object at `source` (header row, RFC-4180),
    /// atomically: readers see the old rows or the new ones, never neither.
    /// Returns the row count.
    async fn copy_replace(&self, table: &TableName, source: &ObjectUri) -> Result<u64, WarehouseError>;
    /// Commit a micro-batch and its checkpoint in one transaction, exactly once.
    /// Returns how many fact rows were inserted or updated. Shared, so a
    /// caller that retries keeps the batch without a copy of it.
    async fn load_facts(&self, batch: Arc<FactBatch>) -> Result<u64, WarehouseError>;
    /// Last committed sequence number per shard of `stream`.
    async fn checkpoints(&self, stream: &str) -> Result<Vec<(String, SequenceNumber)>, WarehouseError>;
    /// Where several generators share this warehouse (instances, hosts),
    /// claim `block` OrderIDs no one has used or claimed: the first of
    /// them. `None`: not shared (the embedded warehouse lives in the data
    /// dir, beside the generator's own reservation file).
    async fn reserve_order_ids(&self, _block: i64) -> Result<Option<i64>, WarehouseError> {
        Ok(None)
    }
    /// Per shard of `stream`: the incarnation (`ShardInfo::origin`) its
    /// checkpoint was taken on.
    async fn shard_origins(&self, _stream: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        Ok(Vec::new())
    }
    /// Record the incarnation a shard's checkpoints belong to (if given);
    /// with `forget_checkpoint` its checkpoint goes in the same transaction
    /// (the stream was made again: the old one points nowhere).
    async fn set_shard_origin(
        &self,
        _stream: &str,
        _shard: &str,
        _origin: Option<&str>,
        _forget_checkpoint: bool,
    ) -> Result<(), WarehouseError> {
        Ok(())
    }
}

/// Backoff for retries: doubling from `base`, capped, with full jitter.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exp.min(cap).as_millis() as u64;
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn user_records_sort_after_their_parent_and_before_the_next_record() {
        assert_eq!(cmp_sequence_numbers("10", "9"), Greater);
        assert_eq!(cmp_sequence_numbers("009", "9"), Equal);
        assert_eq!(cmp_sequence_numbers("9:0", "9"), Greater);
        assert_eq!(cmp_sequence_numbers("9:2", "9:10"), Less);
        assert_eq!(cmp_sequence_numbers("9:99", "10"), Less);
        assert_eq!(cmp_sequence_numbers("10:0", "9:5"), Greater);
        assert_eq!(sub_sequence_number("49590338", 3), "49590338:3");
        assert_eq!(split_sequence_number("49590338:3"), ("49590338", Some("3")));
        assert_eq!(parent_sequence_number("49590338:3"), "49590338");
        assert_eq!(parent_sequence_number("49590338"), "49590338");
    }
}
