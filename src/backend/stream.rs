//! The stream port: a Kinesis-semantics stream of shards, and the types that
//! cross it (shards, sequence numbers, puts, reads, errors).

use async_trait::async_trait;

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

/// A Kinesis stream name (1-128 of letters, digits, `_ . -`) that is also
/// safe as a directory name: not `.`, `..` or any other run of dots.
pub fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.chars().all(|c| c == '.')
}
