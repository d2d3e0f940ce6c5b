//! The embedded stream: Kinesis semantics over per-shard [`ShardLog`]s.
//!
//! It owns shard assignment (MD5 of the partition key onto evenly split hash
//! ranges, as Kinesis does), per-shard write and read limits with Kinesis's
//! error codes, iterators, MillisBehindLatest and retention.

use crate::sync::LockExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use md5::{Digest, Md5};

use super::shard_log::ShardLog;
use crate::backend::{
    GetRecordsOutput, PutEntry, PutOutcome, SequenceNumber, ShardId, StartPosition, Stream, StreamError, StreamRecord,
};

/// Kinesis's per-shard limits (and this stream's knobs).
#[derive(Debug, Clone)]
pub struct StreamLimits {
    pub write_records_per_sec: u64,
    pub write_bytes_per_sec: u64,
    pub reads_per_sec: u64,
    pub read_bytes_per_sec: u64,
    pub retention: Duration,
    pub fsync: bool,
    pub segment_bytes: u64,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            write_records_per_sec: 1000,
            write_bytes_per_sec: 1 << 20,
            reads_per_sec: 5,
            read_bytes_per_sec: 2 << 20,
            retention: Duration::from_secs(24 * 3600),
            fsync: true,
            segment_bytes: 64 << 20,
        }
    }
}

/// Most records one GetRecords call returns, as in Kinesis.
pub const MAX_GET_RECORDS: usize = 10_000;
/// Largest record data Kinesis accepts.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Which shard of an evenly split `n`-shard stream a partition key lands on.
pub fn shard_for_key(partition_key: &str, n: usize) -> usize {
    let hash = u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into());
    shard_for_hash(hash, n)
}

/// Kinesis splits the 128-bit key space evenly: shard i starts at
/// i × ⌊2¹²⁸ / n⌋ and the last shard ends at 2¹²⁸ − 1.
pub fn shard_for_hash(hash: u128, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n128 = n as u128;
    let step = if n.is_power_of_two() {
        1u128 << (128 - n.trailing_zeros())
    } else {
        u128::MAX / n128
    };
    ((hash / step) as usize).min(n - 1)
}

/// A shard's allowance of one unit (records, calls or bytes): a token
/// bucket refilled continuously at `per_sec` and holding at most one
/// second's worth. A sustained rate never exceeds the limit, wherever a
/// span starts; a count reset on each wall-clock second let a burst that
/// straddled the boundary through whole.
#[derive(Default)]
struct Bucket {
    level: f64,
    /// When `level` was last brought up to date; `None`: not yet used, full.
    at_ms: Option<i64>,
}

impl Bucket {
    /// Bring the level up to `now_ms`.
    fn refill(&mut self, per_sec: u64, now_ms: i64) {
        let cap = per_sec as f64;
        self.level = match self.at_ms {
            None => cap,
            Some(at) => (self.level + (now_ms - at).max(0) as f64 * cap / 1000.0).min(cap),
        };
        self.at_ms = Some(now_ms);
    }
}

/// Records (or calls) and bytes, each with its bucket.
#[derive(Default)]
struct Allowance {
    count: Bucket,
    bytes: Bucket,
}

impl Allowance {
    fn refill(&mut self, count_per_sec: u64, bytes_per_sec: u64, now_ms: i64) {
        self.count.refill(count_per_sec, now_ms);
        self.bytes.refill(bytes_per_sec, now_ms);
    }

    /// Take `count` and `bytes` if both are there; else take nothing.
    fn try_take(&mut self, count: f64, bytes: f64) -> bool {
        let there = self.count.level >= count && self.bytes.level >= bytes;
        if there {
            self.count.level -= count;
            self.bytes.level -= bytes;
        }
        there
    }
}

struct Shard {
    id: ShardId,
    log: Mutex<ShardLog>,
    writes: Mutex<Allowance>,
    reads: Mutex<Allowance>,
    throttled_writes: std::sync::atomic::AtomicU64,
}

/// The hash key range `(start, end)` of shard `i` of an evenly split `n`-shard
/// stream, as ListShards reports it.
pub fn hash_range(i: usize, n: usize) -> (u128, u128) {
    if n <= 1 {
        return (0, u128::MAX);
    }
    let step = if n.is_power_of_two() {
        1u128 << (128 - n.trailing_zeros())
    } else {
        u128::MAX / n as u128
    };
    let start = step * i as u128;
    let end = if i + 1 >= n {
        u128::MAX
    } else {
        step * (i as u128 + 1) - 1
    };
    (start, end)
}

/// A durable, sharded, Kinesis-like stream in a directory.
pub struct EmbeddedStream {
    name: String,
    shards: Vec<Arc<Shard>>,
    limits: StreamLimits,
    /// Made when the stream is created (its `incarnation` file): a stream
    /// deleted and made again under the same name gets a new one.
    incarnation: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl EmbeddedStream {
    /// Open the stream `name` under `dir`, creating it with `shard_count`
    /// shards if new. An existing stream keeps its shard count; asking for a
    /// different one is an error (the embedded stream does not reshard).
    pub fn open(dir: &Path, name: &str, shard_count: usize, limits: StreamLimits) -> Result<Self, StreamError> {
        let root: PathBuf = dir.join(name);
        crate::durable::create_dir_all(&root)?;
        let meta = root.join("shards");
        let count = match std::fs::read_to_string(&meta) {
            Ok(s) => {
                let on_disk: usize = s
                    .trim()
                    .parse()
                    .map_err(|_| StreamError::Other(format!("{} is corrupt", meta.display())))?;
                if on_disk != shard_count {
                    return Err(StreamError::Other(format!(
                        "stream {name} in {} has {on_disk} shards but the config asks for {shard_count}; \
                         the embedded stream does not reshard: set stream.shards = {on_disk} or use a new data dir",
                        root.display()
                    )));
                }
                on_disk
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !(1..=1024).contains(&shard_count) {
                    return Err(StreamError::Other(format!(
                        "shard count {shard_count} is outside 1..=1024"
                    )));
                }
                crate::durable::write(&meta, shard_count.to_string().as_bytes())?;
                shard_count
            }
            Err(e) => return Err(e.into()),
        };
        let shards = (0..count)
            .map(|i| {
                let id = ShardId::from_index(i);
                let log = ShardLog::open(&root.join(&id.0), limits.segment_bytes, limits.fsync)?;
                Ok(Arc::new(Shard {
                    id,
                    log: Mutex::new(log),
                    writes: Default::default(),
                    reads: Default::default(),
                    throttled_writes: Default::default(),
                }))
            })
            .collect::<Result<Vec<_>, std::io::Error>>()?;
        let id_file = root.join("incarnation");
        let incarnation = match std::fs::read_to_string(&id_file) {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            Ok(_) => return Err(StreamError::Other(format!("{} is empty", id_file.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = format!("{}-{:016x}", now_ms(), rand::random::<u64>());
                crate::durable::write(&id_file, id.as_bytes())?;
                id
            }
            Err(e) => return Err(e.into()),
        };
        Ok(EmbeddedStream {
            name: name.to_string(),
            shards,
            limits,
            incarnation,
        })
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Drop segments older than the retention period. Returns records dropped.
    pub fn enforce_retention(&self) -> std::io::Result<u64> {
        let cutoff = now_ms() - self.limits.retention.as_millis() as i64;
        let mut dropped = 0;
        for shard in &self.shards {
            dropped += shard.log.locked().trim_before(cutoff)?;
        }
        Ok(dropped)
    }

    fn put_blocking(&self, entries: Vec<PutEntry>) -> Result<Vec<PutOutcome>, StreamError> {
        if entries.len() > 500 {
            return Err(StreamError::Other(format!(
                "PutRecords takes at most 500 records, got {}",
                entries.len()
            )));
        }
        let mut outcomes: Vec<Option<PutOutcome>> = vec![None; entries.len()];
        let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); self.shards.len()];
        for (i, e) in entries.iter().enumerate() {
            if e.partition_key.is_empty() || e.partition_key.len() > 256 {
                outcomes[i] = Some(failed(
                    "InvalidArgumentException",
                    "partition key must be 1-256 characters",
                ));
            } else if e.data.len() + e.partition_key.len() > MAX_RECORD_BYTES {
                outcomes[i] = Some(failed("InvalidArgumentException", "record is larger than 1 MiB"));
            } else {
                by_shard[shard_for_key(&e.partition_key, self.shards.len())].push(i);
            }
        }
        let now = now_ms();
        for (shard, idxs) in self.shards.iter().zip(by_shard) {
            if idxs.is_empty() {
                continue;
            }
            let mut accepted = Vec::with_capacity(idxs.len());
            {
                let mut w = shard.writes.locked();
                w.refill(self.limits.write_records_per_sec, self.limits.write_bytes_per_sec, now);
                for i in idxs {
                    let size = (entries[i].data.len() + entries[i].partition_key.len()) as f64;
                    if !w.try_take(1.0, size) {
                        shard
                            .throttled_writes
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        outcomes[i] = Some(failed(
                            "ProvisionedThroughputExceededException",
                            &format!("Rate exceeded for shard {} in stream {}", shard.id, self.name),
                        ));
                    } else {
                        accepted.push(i);
                    }
                }
            }
            if accepted.is_empty() {
                continue;
            }
            let recs: Vec<(&str, &[u8])> = accepted
                .iter()
                .map(|&i| (entries[i].partition_key.as_str(), entries[i].data.as_slice()))
                .collect();
            let first = match shard.log.locked().append(&recs, now) {
                Ok(first) => first,
                Err(e) => {
                    tracing::error!(shard = %shard.id, error = %e, "stream append failed");
                    for &i in &accepted {
                        outcomes[i] = Some(failed(
                            "InternalFailure",
                            &format!("append to {} failed: {e}", shard.id),
                        ));
                    }
                    continue;
                }
            };
            for (k, &i) in accepted.iter().enumerate() {
                outcomes[i] = Some(PutOutcome::Ok {
                    shard_id: shard.id.clone(),
                    sequence_number: SequenceNumber(itoa::Buffer::new().format(first + k as u64).to_string()),
                });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every entry has an outcome"))
            .collect())
    }

    fn parse_iterator(&self, it: &str) -> Result<(usize, u64), StreamError> {
        let bad = || {
            StreamError::Other(format!(
                "InvalidArgumentException: {it:?} is not a shard iterator of this stream"
            ))
        };
        let (shard, seq) = it.split_once(':').ok_or_else(bad)?;
        let shard: usize = shard.parse().map_err(|_| bad())?;
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if shard >= self.shards.len() {
            return Err(bad());
        }
        Ok((shard, seq))
    }

    fn get_blocking(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput, StreamError> {
        let (idx, from) = self.parse_iterator(iterator)?;
        let shard = &self.shards[idx];
        let now = now_ms();
        let budget = {
            let mut r = shard.reads.locked();
            r.refill(self.limits.reads_per_sec, self.limits.read_bytes_per_sec, now);
            // A call needs a byte left over; what it reads is charged after.
            if r.bytes.level < 1.0 || !r.try_take(1.0, 0.0) {
                return Err(StreamError::Throttled(format!(
                    "Rate exceeded for shard {} in stream {}: more than {} GetRecords calls or {} bytes a second",
                    shard.id, self.name, self.limits.reads_per_sec, self.limits.read_bytes_per_sec
                )));
            }
            r.bytes.level as usize
        };
        let log = shard.log.locked();
        let records = log.read(from, limit.clamp(1, MAX_GET_RECORDS), budget)?;
        let tip = log.next_seq();
        // Sequence numbers are dense here: a gap before the oldest kept
        // record is records retention dropped before this read got there.
        let expired = log.first_seq().saturating_sub(from);
        let next = records.last().map_or(from.max(log.first_seq()), |r| r.seq + 1);
        let behind = if next < tip {
            log.arrival_near(next).map_or(0, |a| (now - a).max(0) as u64)
        } else {
            0
        };
        drop(log);
        let bytes: usize = records.iter().map(|r| r.data.len()).sum();
        shard.reads.locked().bytes.level -= bytes as f64;
        Ok(GetRecordsOutput {
            records: records
                .into_iter()
                .map(|r| StreamRecord {
                    sequence_number: SequenceNumber(r.seq.to_string()),
                    partition_key: r.partition_key,
                    data: r.data,
                    arrival_ms: r.arrival_ms,
                })
                .collect(),
            next_iterator: Some(format!("{idx}:{next}")),
            millis_behind_latest: behind,
            expired,
        })
    }

    fn shard_index(&self, shard: &ShardId) -> Result<usize, StreamError> {
        self.shards
            .iter()
            .position(|s| &s.id == shard)
            .ok_or_else(|| StreamError::NotFound(format!("shard {shard} in stream {}", self.name)))
    }
}

fn seq_number(s: &SequenceNumber) -> Result<u64, StreamError> {
    s.0.parse()
        .map_err(|_| StreamError::Other(format!("InvalidArgumentException: bad sequence number {s}")))
}

fn failed(code: &str, message: &str) -> PutOutcome {
    PutOutcome::Failed {
        error_code: code.to_string(),
        error_message: message.to_string(),
    }
}

#[async_trait]
impl Stream for Arc<EmbeddedStream> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn list_shards(&self) -> Result<Vec<ShardId>, StreamError> {
        Ok(self.shards.iter().map(|s| s.id.clone()).collect())
    }

    async fn put_records(&self, entries: Vec<PutEntry>) -> Result<Vec<PutOutcome>, StreamError> {
        if !self.limits.fsync {
            // Without fsync an append is a copy into the page cache (tens of
            // microseconds for a full batch): cheaper done here than handed
            // to the blocking pool and back.
            return self.put_blocking(entries);
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.put_blocking(entries))
            .await
            .map_err(|e| StreamError::Other(format!("put task failed: {e}")))?
    }

    async fn shard_iterator(&self, shard: &ShardId, start: StartPosition) -> Result<String, StreamError> {
        let idx = self.shard_index(shard)?;
        let log = self.shards[idx].log.locked();
        // As Kinesis: a sequence number this shard never gave out is refused.
        let beyond = |s: &SequenceNumber, n: u64| {
            if n < log.next_seq() {
                return Ok(());
            }
            Err(StreamError::InvalidSequence(format!(
                "sequence number {} is past the end of {shard} in stream {} (its next is {}): \
                 it did not come from this stream",
                s.0,
                self.name,
                log.next_seq()
            )))
        };
        let seq = match start {
            StartPosition::TrimHorizon => log.first_seq(),
            StartPosition::Latest => log.next_seq(),
            StartPosition::AfterSequenceNumber(s) => {
                let n = seq_number(&s)?;
                beyond(&s, n)?;
                n.saturating_add(1)
            }
            StartPosition::AtSequenceNumber(s) => {
                let n = seq_number(&s)?;
                beyond(&s, n)?;
                n
            }
            StartPosition::AtTimestamp(ms) => log.seq_at_time(ms)?,
        };
        Ok(format!("{idx}:{seq}"))
    }

    async fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput, StreamError> {
        let this = Arc::clone(self);
        let iterator = iterator.to_string();
        tokio::task::spawn_blocking(move || this.get_blocking(&iterator, limit))
            .await
            .map_err(|e| StreamError::Other(format!("read task failed: {e}")))?
    }

    fn incarnation(&self) -> Option<String> {
        Some(self.incarnation.clone())
    }

    async fn records_after(&self, shard: &ShardId, after: Option<&SequenceNumber>) -> Option<u64> {
        let idx = self.shard_index(shard).ok()?;
        let log = self.shards[idx].log.locked();
        let from = match after {
            Some(s) => s.0.parse::<u64>().ok()?.saturating_add(1),
            None => log.first_seq(),
        };
        Some(log.next_seq().saturating_sub(from.max(log.first_seq())))
    }

    fn write_throttles(&self, shard: &ShardId) -> Option<u64> {
        let idx = self.shard_index(shard).ok()?;
        Some(
            self.shards[idx]
                .throttled_writes
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_across_a_second_boundary_is_held_to_the_rate() {
        let mut b = Allowance::default();
        let take = |b: &mut Allowance, now: i64, n: usize| {
            b.refill(1000, u64::MAX, now);
            (0..n).take_while(|_| b.try_take(1.0, 0.0)).count()
        };
        // 1000 at .900 and 1000 at 1.000: a count reset each second took
        // all 2000; the bucket takes the first 1000 and 100 refilled since.
        assert_eq!(take(&mut b, 900, 1000), 1000);
        assert_eq!(take(&mut b, 1000, 1000), 100);
        // Idle for long, it holds no more than one second's worth.
        assert_eq!(take(&mut b, 60_000, 5000), 1000);
        // A clock stepping back refills nothing.
        assert_eq!(take(&mut b, 50_000, 10), 0);
    }

    #[test]
    fn even_split_matches_kinesis_hash_ranges() {
        // Starting hash keys of a 4-shard stream, as Kinesis reports them.
        let starts = [
            0u128,
            85070591730234615865843651857942052864,
            170141183460469231731687303715884105728,
            255211775190703847597530955573826158592,
        ];
        for (i, &s) in starts.iter().enumerate() {
            assert_eq!(shard_for_hash(s, 4), i);
            if s > 0 {
                assert_eq!(shard_for_hash(s - 1, 4), i - 1);
            }
        }
        assert_eq!(shard_for_hash(u128::MAX, 4), 3);
        // 3 shards: shard 1 starts at 113427455640312821154458202477256070485.
        assert_eq!(shard_for_hash(113427455640312821154458202477256070484, 3), 0);
        assert_eq!(shard_for_hash(113427455640312821154458202477256070485, 3), 1);
        assert_eq!(shard_for_hash(u128::MAX, 3), 2);
        assert_eq!(shard_for_hash(u128::MAX, 1), 0);
        for n in [1, 3, 4, 7] {
            let mut next = 0u128;
            for i in 0..n {
                let (start, end) = hash_range(i, n);
                assert_eq!(start, next, "no gap before shard {i} of {n}");
                assert_eq!(shard_for_hash(start, n), i);
                assert_eq!(shard_for_hash(end, n), i);
                next = end.wrapping_add(1);
            }
            assert_eq!(hash_range(n - 1, n).1, u128::MAX);
        }
    }
}
