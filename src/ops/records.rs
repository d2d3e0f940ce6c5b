//! The records of a shard (tail, with paging back and a filter) and an
//! order's journey (trace). Reads go through the `Stream` port at a pace
//! that leaves the shard's read allowance to the ingester: at most
//! [`READS_PER_SEC`] calls a second, each throttle waited out and counted,
//! and a bound on the calls one answer may take.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{OpError, Position, timestamp_ms};
use crate::backend::ident::Ident;
use crate::backend::{ShardId, StartPosition, Stream, StreamError, StreamRecord, Warehouse, payload};

/// GetRecords calls a second a tail or trace makes on a shard: Kinesis
/// allows five, the ingester needs the rest.
pub const READS_PER_SEC: u64 = 2;
/// Most GetRecords calls one answer takes (then it says it stopped short).
const MAX_CALLS: u32 = 40;
/// How far back a tail looks first for the newest records; doubled until
/// it finds enough or reaches the trim horizon.
const FIRST_WINDOW_MS: i64 = 60_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailRequest {
    /// Default: every shard.
    pub shard: Option<String>,
    /// Read forward from here; default: the newest records.
    pub from: Option<Position>,
    /// Only records that arrived before this time (ms): paging back.
    pub before_ms: Option<i64>,
    /// Text the payload contains, or `Field=value` of the decoded JSON.
    pub filter: Option<String>,
    /// How many records (default 20, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub arrival_ms: i64,
    pub bytes: usize,
    /// The payload as text (bytes that are not escaped).
    pub text: String,
    /// The payload decoded, when it is JSON.
    pub json: Option<serde_json::Value>,
}

impl RecordView {
    fn of(shard: &ShardId, r: StreamRecord) -> Self {
        RecordView {
            shard_id: shard.0.clone(),
            sequence_number: r.sequence_number.0,
            partition_key: r.partition_key,
            arrival_ms: r.arrival_ms,
            bytes: r.data.len(),
            json: serde_json::from_slice(&r.data).ok(),
            text: payload::show(&r.data),
        }
    }

    pub fn arrival(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.arrival_ms)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailPage {
    /// Oldest first.
    pub records: Vec<RecordView>,
    /// Records read to find them.
    pub scanned: u64,
    /// Reads the stream throttled (each waited out).
    pub throttled: u64,
    /// The read stopped at its bound before the end: there may be more.
    pub stopped_short: bool,
}

/// Why text is not a [`Filter`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("an empty filter: give text, or Field=value like OrderID=123")]
    Empty,
}

/// A shard the stream does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("no shard {asked:?} in this stream (it has {})", joined(.shards))]
    Unknown { asked: String, shards: Vec<ShardId> },
}

fn joined(shards: &[ShardId]) -> String {
    shards.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(", ")
}

/// A record filter: text anywhere in the payload, or `Field=value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Text(String),
    Field(String, String),
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FilterError::Empty);
        }
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !k.trim().contains(' ') => {
                Ok(Filter::Field(k.trim().to_string(), v.trim().to_string()))
            }
            _ => Ok(Filter::Text(s.to_string())),
        }
    }

    pub fn matches(&self, r: &RecordView) -> bool {
        match self {
            Filter::Text(t) => r.text.to_lowercase().contains(&t.to_lowercase()),
            Filter::Field(k, v) => {
                let Some(obj) = r.json.as_ref().and_then(|j| j.as_object()) else {
                    return false;
                };
                obj.iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case(k))
                    .any(|(_, got)| match got {
                        serde_json::Value::String(s) => s.eq_ignore_ascii_case(v),
                        other => other.to_string().as_str() == v.as_str(),
                    })
            }
        }
    }
}

/// Reads of one shard, paced, throttles waited out.
struct Reader<'a> {
    stream: &'a dyn Stream,
    calls: u32,
    last: Option<tokio::time::Instant>,
    throttled: u64,
    scanned: u64,
}

impl<'a> Reader<'a> {
    fn new(stream: &'a dyn Stream) -> Self {
        Reader {
            stream,
            calls: 0,
            last: None,
            throttled: 0,
            scanned: 0,
        }
    }

    /// Records from `start` on, until `until_ms` (default: the tip as the
    /// scan starts — a busy shard's new records don't keep it going), or
    /// the call bound; each one goes to `each`. Ok(true) when it reached the end.
    async fn scan(
        &mut self,
        shard: &ShardId,
        start: StartPosition,
        until_ms: Option<i64>,
        mut each: impl FnMut(StreamRecord),
    ) -> Result<bool, OpError> {
        let pace = Duration::from_millis(1000 / READS_PER_SEC);
        let until_ms = until_ms.or_else(|| Some(chrono::Utc::now().timestamp_millis()));
        let mut it = self
            .stream
            .shard_iterator(shard, start)
            .await
            .map_err(|error| OpError::ReadShard {
                shard: shard.clone(),
                error,
            })?;
        loop {
            if self.calls >= MAX_CALLS {
                return Ok(false);
            }
            if let Some(t) = self.last {
                tokio::time::sleep_until(t + pace).await;
            }
            self.last = Some(tokio::time::Instant::now());
            self.calls += 1;
            let out = match self.stream.get_records(&it, 10_000).await {
                Ok(out) => out,
                Err(StreamError::Throttled(_)) => {
                    self.throttled += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(error) => {
                    return Err(OpError::ReadShard {
                        shard: shard.clone(),
                        error,
                    });
                }
            };
            let got = out.records.len();
            for r in out.records {
                if until_ms.is_some_and(|u| r.arrival_ms >= u) {
                    return Ok(true);
                }
                self.scanned += 1;
                each(r);
            }
            match out.next_iterator {
                Some(next) if got > 0 || out.millis_behind_latest > 0 => it = next,
                _ => return Ok(true),
            }
        }
    }
}

async fn shards_of(stream: &dyn Stream, shard: Option<&str>) -> Result<Vec<ShardId>, OpError> {
    let all = stream.list_shards().await.map_err(OpError::ListShards)?;
    match shard {
        None => Ok(all),
        Some(s) => {
            let want = resolve_shard(&all, s)?;
            Ok(vec![want])
        }
    }
}

/// A shard named in full (`shardId-000000000001`) or by its number (`1`).
pub fn resolve_shard(all: &[ShardId], s: &str) -> Result<ShardId, ShardError> {
    all.iter()
        .find(|id| id.0 == s || s.parse::<usize>().is_ok_and(|n| ShardId::from_index(n) == **id))
        .cloned()
        .ok_or_else(|| ShardError::Unknown {
            asked: s.to_string(),
            shards: all.to_vec(),
        })
}

/// The records `req` asks for.
pub async fn tail(stream: &dyn Stream, req: &TailRequest) -> Result<TailPage, OpError> {
    let filter = req.filter.as_deref().map(Filter::parse).transpose()?;
    let limit = req.limit.unwrap_or(20).clamp(1, 1000);
    let shards = shards_of(stream, req.shard.as_deref()).await?;
    let mut reader = Reader::new(stream);
    let mut page = TailPage::default();
    let keep = |r: &RecordView| filter.as_ref().is_none_or(|f| f.matches(r));
    if let Some(from) = req.from {
        // Forward from a position: the first `limit` that match.
        let mut out = Vec::new();
        for shard in &shards {
            let mut found = Vec::new();
            let ended = reader
                .scan(shard, from.start(), req.before_ms, |r| {
                    let v = RecordView::of(shard, r);
                    if found.len() < limit && keep(&v) {
                        found.push(v);
                    }
                })
                .await?;
            page.stopped_short |= !ended;
            out.extend(found);
        }
        out.sort_by_key(|r| r.arrival_ms);
        out.truncate(limit);
        page.records = out;
    } else {
        // The newest `limit` (before `before_ms`): windows back in time.
        let end = req
            .before_ms
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis() + 1);
        let mut window = FIRST_WINDOW_MS;
        loop {
            let start_ms = end - window;
            let mut all_ended = true;
            let mut got: Vec<RecordView> = Vec::new();
            for shard in &shards {
                // Each shard's newest `limit`; the page is the newest of those.
                let mut newest: VecDeque<RecordView> = VecDeque::new();
                let ended = reader
                    .scan(shard, StartPosition::AtTimestamp(start_ms), Some(end), |r| {
                        let v = RecordView::of(shard, r);
                        if keep(&v) {
                            newest.push_back(v);
                            if newest.len() > limit {
                                newest.pop_front();
                            }
                        }
                    })
                    .await?;
                all_ended &= ended;
                got.extend(newest);
            }
            got.sort_by_key(|r| r.arrival_ms);
            let enough = got.len() >= limit;
            let skip = got.len().saturating_sub(limit);
            page.records = got.split_off(skip);
            page.stopped_short = !all_ended;
            // Further back only while there may be older records and time left.
            if enough || !all_ended || reader.calls >= MAX_CALLS || window > 400 * 24 * 3600 * 1000 {
                break;
            }
            window *= 8;
        }
    }
    page.scanned = reader.scanned;
    page.throttled = reader.throttled;
    Ok(page)
}

/// An order's journey.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub order_id: i64,
    /// The shard its partition key (the OrderID) hashes to.
    pub shard_id: String,
    /// Its events still in the stream, oldest first.
    pub events: Vec<RecordView>,
    pub scanned: u64,
    pub throttled: u64,
    pub stopped_short: bool,
    /// Its row in factOrders: column → value.
    pub row: Option<Vec<(String, Option<String>)>>,
    /// Emitted → visible in the warehouse, ms (when the row has EmittedAt).
    pub freshness_ms: Option<i64>,
    pub dead_letters: Vec<super::dlq::DeadLetterView>,
}

impl Trace {
    pub fn found(&self) -> bool {
        !self.events.is_empty() || self.row.is_some() || !self.dead_letters.is_empty()
    }
}

/// Where order `order_id` went: its shard, its events, its row, its dead letters.
pub async fn trace(
    stream: &dyn Stream,
    warehouse: &dyn Warehouse,
    schema: &Ident,
    order_id: i64,
) -> Result<Trace, OpError> {
    let key = order_id.to_string();
    let shards = stream.list_shards().await.map_err(OpError::ListShards)?;
    if shards.is_empty() {
        return Err(OpError::NoShards);
    }
    let shard = shards[crate::backend::embedded::stream::shard_for_key(&key, shards.len())].clone();
    let rs = warehouse
        .query(&format!(
            "SELECT OrderID, OrderStatus, OrderDate, CustomerID, RestaurantID, RiderID, OrderValue, ShardId, \
             SequenceNumber, ArrivalTime, IngestTime, EmittedAt FROM {schema}.factOrders WHERE OrderID = {order_id}"
        ))
        .await
        .map_err(OpError::ReadFacts)?;
    let row = rs
        .rows
        .first()
        .map(|r| rs.columns.iter().cloned().zip(r.iter().cloned()).collect::<Vec<_>>());
    let cell = |name: &str| -> Option<String> {
        row.as_ref()?
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.clone())
    };
    let freshness_ms = match (cell("EmittedAt"), cell("IngestTime")) {
        (Some(e), Some(i)) => timestamp_ms(&i).zip(timestamp_ms(&e)).map(|(i, e)| i - e),
        _ => None,
    };
    // Its events arrive within minutes of each other: read from a while
    // before its row's last arrival, or from the trim horizon.
    let start = match cell("ArrivalTime").as_deref().and_then(timestamp_ms) {
        Some(ms) => StartPosition::AtTimestamp(ms - 3_600_000),
        None => StartPosition::TrimHorizon,
    };
    let filter = Filter::Field("OrderID".into(), key.clone());
    let mut reader = Reader::new(stream);
    let mut events = Vec::new();
    let ended = reader
        .scan(&shard, start, None, |r| {
            let v = RecordView::of(&shard, r);
            if filter.matches(&v) && events.len() < 1000 {
                events.push(v);
            }
        })
        .await?;
    let candidates = super::dlq::list(
        warehouse,
        schema,
        &super::dlq::DlqFilter {
            include_redriven: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_default();
    let dead_letters = candidates
        .into_iter()
        .filter(|d| {
            serde_json::from_str::<serde_json::Value>(&d.payload)
                .ok()
                .and_then(|j| j.get("OrderID").cloned())
                .is_some_and(|v| v.as_i64() == Some(order_id))
                || (d.payload.contains(&key) && serde_json::from_str::<serde_json::Value>(&d.payload).is_err())
        })
        .collect();
    Ok(Trace {
        order_id,
        shard_id: shard.0.clone(),
        events,
        scanned: reader.scanned,
        throttled: reader.throttled,
        stopped_short: !ended,
        row,
        freshness_ms,
        dead_letters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> RecordView {
        RecordView {
            shard_id: "s".into(),
            sequence_number: "1".into(),
            partition_key: "1".into(),
            arrival_ms: 0,
            bytes: text.len(),
            text: text.into(),
            json: serde_json::from_str(text).ok(),
        }
    }

    #[test]
    fn filters_match_text_or_a_field() {
        let r = view(r#"{"OrderID": 123, "OrderStatus": "Cancelled"}"#);
        assert!(Filter::parse("OrderID=123").unwrap().matches(&r));
        assert!(Filter::parse("orderid = 123").unwrap().matches(&r));
        assert!(!Filter::parse("OrderID=12").unwrap().matches(&r));
        assert!(Filter::parse("OrderStatus=cancelled").unwrap().matches(&r));
        assert!(Filter::parse("cancel").unwrap().matches(&r));
        assert!(!Filter::parse("Delivered").unwrap().matches(&r));
        assert!(
            !Filter::parse("OrderID=123")
                .unwrap()
                .matches(&view("{not json OrderID=123"))
        );
        assert_eq!(Filter::parse("  "), Err(FilterError::Empty));
        assert!(FilterError::Empty.to_string().contains("Field=value like OrderID=123"));
        let all = [ShardId::from_index(0), ShardId::from_index(1)];
        assert_eq!(resolve_shard(&all, "1"), Ok(ShardId::from_index(1)));
        assert_eq!(resolve_shard(&all, "shardId-000000000000"), Ok(ShardId::from_index(0)));
        assert_eq!(
            resolve_shard(&all, "7").unwrap_err().to_string(),
            "no shard \"7\" in this stream (it has shardId-000000000000, shardId-000000000001)"
        );
    }
}
