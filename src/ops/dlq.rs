//! Dead letters: list and show them decoded, move the old table's rows in,
//! and redrive — parse each again (after a fix to the parser, the schema or
//! the data) and load those that pass, exactly once: the newer-wins rule
//! keeps what is current, a redriven letter is marked (kept for audit) and
//! never redriven twice, one that fails again keeps the new reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{OpError, timestamp_ms};
use crate::backend::ident::{Ident, literal};
use crate::backend::{
    DeadLetter, FactBatch, FactRow, SequenceNumber, StreamRecord, Warehouse, cmp_sequence_numbers, payload,
};
use crate::engine::event::parse_record;

/// Which dead letters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DlqFilter {
    /// Only those whose reason contains this text (any case).
    pub reason: Option<String>,
    pub shard: Option<String>,
    pub sequence_number: Option<String>,
    /// Also the ones already redriven (listing only).
    pub include_redriven: bool,
    /// At most this many (default [`DEFAULT_LIMIT`]).
    pub limit: Option<usize>,
}

pub const DEFAULT_LIMIT: usize = 1000;
/// Most dead letters one redrive takes on (run it again for more).
pub const MAX_REDRIVE: usize = 10_000;
/// Dead letters per redrive batch (one transaction each).
const REDRIVE_BATCH: usize = 500;

/// A dead letter as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterView {
    pub stream: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub arrival_time: Option<String>,
    pub dead_at: Option<String>,
    pub reason: String,
    /// The payload decoded, bytes that are not text escaped.
    pub payload: String,
    /// Stored as base64 (not UTF-8, or it holds NUL).
    pub binary: bool,
    pub payload_bytes: Option<u64>,
    pub attempts: Option<u64>,
    pub redriven_at: Option<String>,
}

/// What a redrive did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedriveReport {
    /// Dead letters taken on.
    pub tried: u64,
    /// Parsed and loaded into factOrders (marked redriven).
    pub loaded: u64,
    /// Failed again (kept, with the new reason).
    pub failed_again: u64,
    /// The first few that failed again: (shard, sequence number, reason).
    pub failures: Vec<(String, String, String)>,
    /// More matched than one redrive takes on.
    pub more_left: bool,
}

fn where_clause(filter: &DlqFilter, redrive: bool) -> String {
    let mut conds = Vec::new();
    if redrive || !filter.include_redriven {
        conds.push("RedrivenAt IS NULL".to_string());
    }
    if let Some(r) = &filter.reason {
        conds.push(format!("POSITION({} IN LOWER(Reason)) > 0", literal(&r.to_lowercase())));
    }
    if let Some(s) = &filter.shard {
        conds.push(format!("ShardId = {}", literal(s)));
    }
    if let Some(s) = &filter.sequence_number {
        conds.push(format!("SequenceNumber = {}", literal(s)));
    }
    if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    }
}

/// A dead letter and its payload's bytes.
type Letter = (DeadLetterView, Vec<u8>);

/// Dead letters with their raw payloads, oldest first.
async fn select(
    warehouse: &dyn Warehouse,
    schema: &Ident,
    filter: &DlqFilter,
    redrive: bool,
    limit: usize,
) -> Result<Vec<Letter>, OpError> {
    let rs = warehouse
        .query(&format!(
            "SELECT StreamName, ShardId, SequenceNumber, ArrivalTime, DeadAt, Reason, PayloadEncoding, Payload, \
             PayloadBytes, Attempts, RedrivenAt FROM {schema}.courier_dlq {} \
             ORDER BY ArrivalTime, ShardId, LENGTH(SequenceNumber), SequenceNumber LIMIT {limit}",
            where_clause(filter, redrive)
        ))
        .await
        .map_err(OpError::ReadDeadLetters)?;
    Ok(rs
        .rows
        .into_iter()
        .map(|r| {
            let text = |i: usize| r.get(i).cloned().flatten();
            let bytes = payload::decode(text(6).as_deref(), &text(7).unwrap_or_default());
            let view = DeadLetterView {
                stream: text(0).unwrap_or_default(),
                shard_id: text(1).unwrap_or_default(),
                sequence_number: text(2).unwrap_or_default(),
                arrival_time: text(3),
                dead_at: text(4),
                reason: text(5).unwrap_or_default(),
                payload: payload::show(&bytes),
                binary: text(6).as_deref() == Some(payload::BASE64),
                payload_bytes: text(8).and_then(|v| v.parse().ok()),
                attempts: text(9).and_then(|v| v.parse().ok()),
                redriven_at: text(10),
            };
            (view, bytes)
        })
        .collect())
}

/// Dead letters matching `filter`, oldest first.
pub async fn list(
    warehouse: &dyn Warehouse,
    schema: &Ident,
    filter: &DlqFilter,
) -> Result<Vec<DeadLetterView>, OpError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_REDRIVE);
    Ok(select(warehouse, schema, filter, false, limit)
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// Parse the matching dead letters again and load those that pass.
pub async fn redrive(warehouse: &dyn Warehouse, schema: &Ident, filter: &DlqFilter) -> Result<RedriveReport, OpError> {
    let limit = filter.limit.unwrap_or(MAX_REDRIVE).clamp(1, MAX_REDRIVE);
    let letters = select(warehouse, schema, filter, true, limit + 1).await?;
    let mut report = RedriveReport {
        more_left: letters.len() > limit,
        ..RedriveReport::default()
    };
    // Per stream and shard (a batch is one shard's), in sequence order.
    let mut by_shard: BTreeMap<(String, String), Vec<Letter>> = BTreeMap::new();
    for (view, bytes) in letters.into_iter().take(limit) {
        by_shard
            .entry((view.stream.clone(), view.shard_id.clone()))
            .or_default()
            .push((view, bytes));
    }
    for ((stream, shard), mut letters) in by_shard {
        letters.sort_by(|a, b| cmp_sequence_numbers(&a.0.sequence_number, &b.0.sequence_number));
        for chunk in letters.chunks(REDRIVE_BATCH) {
            let mut rows = Vec::new();
            let mut failed = Vec::new();
            for (view, bytes) in chunk {
                let rec = StreamRecord {
                    sequence_number: SequenceNumber(view.sequence_number.clone()),
                    partition_key: String::new(),
                    data: bytes.clone(),
                    arrival_ms: view.arrival_time.as_deref().and_then(timestamp_ms).unwrap_or(0),
                };
                match parse_record(&rec) {
                    Ok(row) => rows.push(row),
                    Err(reason) => failed.push(dead(&rec, &shard, reason.to_string())),
                }
            }
            report.tried += chunk.len() as u64;
            let (loaded, refused) = load(warehouse, &stream, &shard, rows, failed, chunk).await?;
            report.loaded += loaded;
            report.failed_again += refused.len() as u64;
            for d in refused {
                if report.failures.len() < 20 {
                    report.failures.push((shard.clone(), d.sequence_number, d.reason));
                }
            }
        }
    }
    Ok(report)
}

fn dead(rec: &StreamRecord, shard: &str, reason: String) -> DeadLetter {
    DeadLetter {
        shard_id: shard.to_string(),
        sequence_number: rec.sequence_number.0.clone(),
        arrival_ms: rec.arrival_ms,
        reason,
        payload: rec.data.clone(),
    }
}

fn batch(stream: &str, shard: &str, rows: Vec<FactRow>, dead_letters: Vec<DeadLetter>) -> FactBatch {
    let last = rows
        .iter()
        .map(|r| r.sequence_number.as_str())
        .chain(dead_letters.iter().map(|d| d.sequence_number.as_str()))
        .max_by(|a, b| cmp_sequence_numbers(a, b))
        .unwrap_or("0")
        .to_string();
    FactBatch {
        stream: stream.to_string(),
        shard_id: shard.to_string(),
        rows,
        dead_letters,
        checkpoint: SequenceNumber(last),
        redrive: true,
        rewound: false,
        partial: false,
        lease_owner: None,
    }
}

/// Load one redrive batch; if the warehouse refuses it for its data, each
/// row alone, so one refused row fails alone. Returns (rows loaded, dead
/// letters that failed again).
async fn load(
    warehouse: &dyn Warehouse,
    stream: &str,
    shard: &str,
    rows: Vec<FactRow>,
    failed: Vec<DeadLetter>,
    letters: &[Letter],
) -> Result<(u64, Vec<DeadLetter>), OpError> {
    let n = rows.len() as u64;
    let whole = Arc::new(batch(stream, shard, rows, failed.clone()));
    match warehouse.load_facts(Arc::clone(&whole)).await {
        Ok(_) => return Ok((n, failed)),
        Err(e) if e.is_transient() => return Err(OpError::RedriveStopped(e)),
        Err(_) => {}
    }
    let mut loaded = 0;
    let mut refused = failed;
    for row in &whole.rows {
        let one = Arc::new(batch(stream, shard, vec![row.clone()], Vec::new()));
        match warehouse.load_facts(one).await {
            Ok(_) => loaded += 1,
            Err(e) if e.is_transient() => return Err(OpError::RedriveStopped(e)),
            Err(e) => {
                let bytes = letters
                    .iter()
                    .find(|(v, _)| v.sequence_number == row.sequence_number.as_str())
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                refused.push(DeadLetter {
                    shard_id: shard.to_string(),
                    sequence_number: row.sequence_number.to_string(),
                    arrival_ms: row.arrival_ms,
                    reason: format!("refused by the warehouse: {e}"),
                    payload: bytes,
                });
            }
        }
    }
    let marks = Arc::new(batch(stream, shard, Vec::new(), refused.clone()));
    warehouse.load_facts(marks).await.map_err(OpError::RecordReasons)?;
    Ok((loaded, refused))
}

/// Move the rows of the table dead letters were kept in before
/// `courier_dlq` (no stream, text payloads) over, once.
pub async fn migrate_old_table(warehouse: &dyn Warehouse, schema: &Ident, stream: &str) -> Result<(), OpError> {
    let exists = warehouse
        .query(&format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE LOWER(table_schema) = LOWER({}) \
             AND LOWER(table_name) = 'courier_dead_letters'",
            literal(schema.as_str())
        ))
        .await
        .map_err(OpError::FindOldTable)?;
    if exists.rows.first().and_then(|r| r[0].as_deref()) != Some("1") {
        return Ok(());
    }
    let stream = literal(stream);
    warehouse
        .query(&format!(
            "INSERT INTO {schema}.courier_dlq SELECT {stream}, o.ShardId, o.SequenceNumber, o.ArrivalTime, o.ArrivalTime, \
             o.Reason, 'utf8', o.Payload, OCTET_LENGTH(o.Payload), 1, NULL FROM {schema}.courier_dead_letters o \
             WHERE NOT EXISTS (SELECT 1 FROM {schema}.courier_dlq d WHERE d.StreamName = {stream} \
             AND d.ShardId = o.ShardId AND d.SequenceNumber = o.SequenceNumber)"
        ))
        .await
        .map_err(OpError::MoveOldTable)?;
    warehouse
        .query(&format!("DROP TABLE {schema}.courier_dead_letters"))
        .await
        .map_err(OpError::DropOldTable)?;
    tracing::info!("moved the dead letters of courier_dead_letters to courier_dlq");
    Ok(())
}
