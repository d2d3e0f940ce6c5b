//! The stream ingester: one reader per shard, micro-batches by size and age,
//! validation, and exactly-once loads (rows + checkpoint in one warehouse
//! transaction). Malformed records are dead-lettered; ingestion goes on.
//! It knows only the `Stream` and `Warehouse` ports.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::event::parse_record;
use super::state::{Counters, ShardState, Shared};
use crate::backend::{
    DeadLetter, FactBatch, FactRow, SequenceNumber, ShardId, StartPosition, Stream, StreamError, Warehouse, backoff,
};

#[derive(Clone)]
pub struct Ingester {
    pub shared: Arc<Shared>,
    pub stream: Arc<dyn Stream>,
    pub warehouse: Arc<dyn Warehouse>,
    pub batch_records: usize,
    pub batch_age: Duration,
    pub reads_per_sec: u64,
}

/// How the ingester is told to stop: `drain` = read to the tip, commit, exit;
/// `abort` = exit now (what is committed is safe; the rest is re-read next time).
#[derive(Clone)]
pub struct Stop {
    pub drain: CancellationToken,
    pub abort: CancellationToken,
}

#[derive(Default)]
struct Batch {
    rows: Vec<FactRow>,
    dead: Vec<DeadLetter>,
    last: Option<SequenceNumber>,
    started: Option<Instant>,
}

impl Batch {
    fn len(&self) -> usize {
        self.rows.len() + self.dead.len()
    }
}

impl Ingester {
    /// Run one reader per shard until stopped.
    pub async fn run(self, stop: Stop) -> Result<(), String> {
        let shards = self
            .stream
            .list_shards()
            .await
            .map_err(|e| format!("listing shards: {e}"))?;
        let checkpoints: HashMap<String, SequenceNumber> = self
            .warehouse
            .checkpoints(self.stream.name())
            .await
            .map_err(|e| format!("reading checkpoints: {e}"))?
            .into_iter()
            .collect();
        *self.shared.shards.lock().unwrap() = shards
            .iter()
            .map(|s| {
                let mut st = ShardState::default();
                st.lag.shard_id = s.0.clone();
                st.lag.checkpoint = checkpoints.get(&s.0).map(|c| c.0.clone());
                st
            })
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, shard) in shards.into_iter().enumerate() {
            let cp = checkpoints.get(&shard.0).cloned();
            tasks.spawn(self.clone().read_shard(i, shard, cp, stop.clone()));
        }
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                self.shared.error("ingester", format!("shard reader failed: {e}"));
            }
        }
        Ok(())
    }

    async fn read_shard(self, index: usize, shard: ShardId, mut checkpoint: Option<SequenceNumber>, stop: Stop) {
        let min_interval = Duration::from_millis(1000 / self.reads_per_sec.max(1)) + Duration::from_millis(5);
        let mut iterator: Option<String> = None;
        let mut batch = Batch::default();
        let mut last_call: Option<Instant> = None;
        let mut errors = 0u32;
        loop {
            if stop.abort.is_cancelled() {
                return;
            }
            let draining = stop.drain.is_cancelled();
            if let Some(t) = last_call {
                let wait = min_interval.saturating_sub(t.elapsed());
                tokio::select! {
                    _ = stop.abort.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            let it = match &iterator {
                Some(it) => it.clone(),
                None => {
                    let from = batch.last.as_ref().or(checkpoint.as_ref()).cloned();
                    let start = from.map_or(StartPosition::TrimHorizon, StartPosition::AfterSequenceNumber);
                    match self.stream.shard_iterator(&shard, start).await {
                        Ok(it) => it,
                        Err(e) => {
                            self.shared.error("ingester", format!("{shard}: GetShardIterator: {e}"));
                            tokio::time::sleep(backoff(errors, Duration::from_millis(200), Duration::from_secs(5)))
                                .await;
                            errors += 1;
                            continue;
                        }
                    }
                }
            };
            last_call = Some(Instant::now());
            let out = match self.stream.get_records(&it, 10_000).await {
                Ok(out) => {
                    errors = 0;
                    out
                }
                Err(StreamError::Throttled(_)) => {
                    self.with_shard(index, |s| s.lag.throttled_reads += 1);
                    continue;
                }
                Err(StreamError::ExpiredIterator(_)) => {
                    iterator = None;
                    continue;
                }
                Err(e) => {
                    if errors == 0 {
                        self.shared.error("ingester", format!("{shard}: GetRecords: {e}"));
                    }
                    errors += 1;
                    iterator = None;
                    tokio::time::sleep(backoff(errors, Duration::from_millis(200), Duration::from_secs(5))).await;
                    continue;
                }
            };
            iterator = Some(out.next_iterator);
            let got = out.records.len();
            for rec in out.records {
                if batch.started.is_none() {
                    batch.started = Some(Instant::now());
                }
                match parse_record(&rec, &shard.0) {
                    Ok(row) => batch.rows.push(row),
                    Err(reason) => batch.dead.push(DeadLetter {
                        shard_id: shard.0.clone(),
                        sequence_number: rec.sequence_number.0.clone(),
                        arrival_ms: rec.arrival_ms,
                        reason,
                        payload: rec.data,
                    }),
                }
                batch.last = Some(rec.sequence_number);
            }
            let caught_up = got == 0 || out.millis_behind_latest == 0;
            self.with_shard(index, |s| {
                s.read_total += got as u64;
                s.lag.millis_behind_latest = out.millis_behind_latest;
            });
            let full = batch.len() >= self.batch_records;
            let old = batch.started.is_some_and(|t| t.elapsed() >= self.batch_age);
            if batch.len() > 0 && (full || old || (draining && caught_up)) {
                match self
                    .commit(index, &shard, std::mem::take(&mut batch), checkpoint.as_ref(), &stop)
                    .await
                {
                    Some(cp) => checkpoint = Some(cp),
                    None => return, // aborted: the uncommitted part is re-read next run
                }
            }
            let behind = self.stream.records_after(&shard, checkpoint.as_ref()).await;
            let throttled_writes = self.stream.write_throttles(&shard);
            self.with_shard(index, |s| {
                s.lag.throttled_writes = throttled_writes.unwrap_or(s.lag.throttled_writes);
                s.lag.records_behind = behind.unwrap_or(0);
                s.lag.checkpoint = checkpoint.as_ref().map(|c| c.0.clone());
            });
            if draining && caught_up && batch.len() == 0 && behind.is_none_or(|b| b == 0) {
                return;
            }
        }
    }

    /// Commit a batch, retrying with backoff while the warehouse refuses.
    /// Returns the new checkpoint, or None if stopped by `abort` first.
    async fn commit(
        &self,
        index: usize,
        shard: &ShardId,
        batch: Batch,
        previous: Option<&SequenceNumber>,
        stop: &Stop,
    ) -> Option<SequenceNumber> {
        let checkpoint = batch.last.clone().expect("a non-empty batch has a last record");
        let oldest_ms = batch
            .rows
            .iter()
            .map(|r| r.arrival_ms)
            .chain(batch.dead.iter().map(|d| d.arrival_ms))
            .min();
        let fb = FactBatch {
            stream: self.stream.name().to_string(),
            shard_id: shard.0.clone(),
            rows: batch.rows,
            dead_letters: batch.dead,
            checkpoint: checkpoint.clone(),
        };
        let mut attempt = 0u32;
        loop {
            match self.warehouse.load_facts(fb.clone()).await {
                Ok(_) => break,
                Err(e) => {
                    self.shared.retrying.store(true, Ordering::Relaxed);
                    if attempt == 0 || attempt.is_multiple_of(10) {
                        self.shared
                            .error("ingester", format!("{shard}: load failed, retrying: {e}"));
                    }
                    // While the warehouse is away the lag keeps growing: show it.
                    let behind = self.stream.records_after(shard, previous).await;
                    let now = chrono::Utc::now().timestamp_millis();
                    self.with_shard(index, |s| {
                        s.lag.millis_behind_latest = oldest_ms.map_or(0, |o| (now - o).max(0) as u64);
                        s.lag.records_behind = behind.unwrap_or(s.lag.records_behind);
                    });
                    let wait = backoff(attempt, Duration::from_millis(100), Duration::from_secs(5));
                    attempt += 1;
                    tokio::select! {
                        _ = stop.abort.cancelled() => return None,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        self.shared.retrying.store(false, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp_millis();
        self.shared
            .record_freshness(fb.rows.iter().filter_map(|r| r.emitted_ms), now);
        let c = &self.shared.counters;
        Counters::add(&c.ingested, fb.rows.len() as u64);
        Counters::add(&c.dead_lettered, fb.dead_letters.len() as u64);
        Counters::add(&c.batches, 1);
        self.with_shard(index, |s| s.lag.ingested += fb.rows.len() as u64);
        Some(checkpoint)
    }

    fn with_shard(&self, index: usize, f: impl FnOnce(&mut ShardState)) {
        if let Some(s) = self.shared.shards.lock().unwrap().get_mut(index) {
            f(s);
        }
    }
}
