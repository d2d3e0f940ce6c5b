//! The warehouse port: a Redshift-like warehouse, and the types that cross
//! it (query results, validated fact rows, micro-batches, dead letters,
//! errors).

use std::sync::Arc;

use async_trait::async_trait;

use super::lease::{LeaseRound, LeaseRow};
use super::{ObjectUri, SequenceNumber, TableName};

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
    /// The instance that must still hold the shard's lease for this to
    /// commit (checked in the same transaction); `None`: no fence (a
    /// redrive, which reads no shard).
    pub lease_owner: Option<String>,
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
    /// The commit's fence found that its instance no longer holds the
    /// shard's lease: another instance reads the shard now.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, WarehouseError::Sql(m) | WarehouseError::Load(m) if m.contains(super::lease::LEASE_LOST))
    }

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
    /// One round trip to the shard leases (`LeaseRound`: renew, take,
    /// release, mark ended) in one transaction; every lease of the stream
    /// after it.
    async fn lease_round(&self, round: &LeaseRound) -> Result<Vec<LeaseRow>, WarehouseError>;
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
