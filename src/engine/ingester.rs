//! The stream ingester: one reader per shard, micro-batches by size and age,
//! validation, and exactly-once loads (rows + checkpoint in one warehouse
//! transaction). Malformed records are dead-lettered; ingestion goes on.
//! It knows only the `Stream` and `Warehouse` ports.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::event::parse_record;
use super::state::{Counters, ShardState, Shared};
use crate::backend::{
    DeadLetter, FactBatch, FactRow, SequenceNumber, ShardId, ShardInfo, StartPosition, Stream, StreamError, Warehouse,
    backoff,
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
    /// Run one reader per shard until stopped. Shards are listed again every
    /// few seconds, so shards made by a reshard are picked up; a child shard
    /// is read once its parents have been read to their end.
    pub async fn run(self, stop: Stop) -> Result<(), String> {
        let checkpoints: HashMap<String, SequenceNumber> = self
            .warehouse
            .checkpoints(self.stream.name())
            .await
            .map_err(|e| format!("reading checkpoints: {e}"))?
            .into_iter()
            .collect();
        let lineage = self
            .stream
            .shard_lineage()
            .await
            .map_err(|e| format!("listing shards: {e}"))?;
        let mut started: HashMap<ShardId, usize> = HashMap::new();
        let mut finished: HashSet<ShardId> = HashSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        self.spawn_ready(&lineage, &checkpoints, &mut started, &finished, &mut tasks, &stop);
        let mut relist = tokio::time::interval(Duration::from_secs(5));
        relist.tick().await;
        loop {
            tokio::select! {
                r = tasks.join_next() => match r {
                    Some(Ok((shard, closed))) => {
                        if closed {
                            finished.insert(shard);
                            self.relist(&checkpoints, &mut started, &finished, &mut tasks, &stop).await;
                        }
                    }
                    Some(Err(e)) => self.shared.error("ingester", format!("shard reader failed: {e}")),
                    None if stop.drain.is_cancelled() || stop.abort.is_cancelled() => return Ok(()),
                    None => {
                        tokio::select! {
                            _ = relist.tick() => {}
                            _ = stop.drain.cancelled() => {}
                            _ = stop.abort.cancelled() => {}
                        }
                        self.relist(&checkpoints, &mut started, &finished, &mut tasks, &stop).await;
                    }
                },
                _ = relist.tick() => self.relist(&checkpoints, &mut started, &finished, &mut tasks, &stop).await,
            }
        }
    }

    async fn relist(
        &self,
        checkpoints: &HashMap<String, SequenceNumber>,
        started: &mut HashMap<ShardId, usize>,
        finished: &HashSet<ShardId>,
        tasks: &mut tokio::task::JoinSet<(ShardId, bool)>,
        stop: &Stop,
    ) {
        if stop.abort.is_cancelled() {
            return;
        }
        match self.stream.shard_lineage().await {
            Ok(lineage) => self.spawn_ready(&lineage, checkpoints, started, finished, tasks, stop),
            Err(e) => self.shared.error("ingester", format!("listing shards: {e}")),
        }
    }

    /// Start a reader for every listed shard not started yet whose parents
    /// are finished (or no longer listed: expired).
    fn spawn_ready(
        &self,
        lineage: &[ShardInfo],
        checkpoints: &HashMap<String, SequenceNumber>,
        started: &mut HashMap<ShardId, usize>,
        finished: &HashSet<ShardId>,
        tasks: &mut tokio::task::JoinSet<(ShardId, bool)>,
        stop: &Stop,
    ) {
        let listed: HashSet<&ShardId> = lineage.iter().map(|s| &s.id).collect();
        for info in lineage {
            if started.contains_key(&info.id) {
                continue;
            }
            let ready = info.parents.iter().all(|p| finished.contains(p) || !listed.contains(p));
            if !ready {
                continue;
            }
            let cp = checkpoints.get(&info.id.0).cloned();
            let index = {
                let mut shards = self.shared.shards.lock().unwrap();
                let mut st = ShardState::default();
                st.lag.shard_id = info.id.0.clone();
                st.lag.checkpoint = cp.as_ref().map(|c| c.0.clone());
                shards.push(st);
                shards.len() - 1
            };
            started.insert(info.id.clone(), index);
            tasks.spawn(self.clone().read_shard(index, info.id.clone(), cp, stop.clone()));
        }
    }

    /// Read one shard until stopped; `(shard, true)` once a closed shard has
    /// been read to its end and committed.
    async fn read_shard(
        self,
        index: usize,
        shard: ShardId,
        checkpoint: Option<SequenceNumber>,
        stop: Stop,
    ) -> (ShardId, bool) {
        let closed = self.read_shard_inner(index, &shard, checkpoint, stop).await;
        (shard, closed)
    }

    async fn read_shard_inner(
        &self,
        index: usize,
        shard: &ShardId,
        mut checkpoint: Option<SequenceNumber>,
        stop: Stop,
    ) -> bool {
        let min_interval = Duration::from_millis(1000 / self.reads_per_sec.max(1)) + Duration::from_millis(5);
        let mut iterator: Option<String> = None;
        let mut batch = Batch::default();
        let mut last_call: Option<Instant> = None;
        let mut errors = 0u32;
        loop {
            if stop.abort.is_cancelled() {
                return false;
            }
            let draining = stop.drain.is_cancelled();
            if let Some(t) = last_call {
                let wait = min_interval.saturating_sub(t.elapsed());
                tokio::select! {
                    _ = stop.abort.cancelled() => return false,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            let it = match &iterator {
                Some(it) => it.clone(),
                None => {
                    let from = batch.last.as_ref().or(checkpoint.as_ref()).cloned();
                    let start = from.map_or(StartPosition::TrimHorizon, StartPosition::AfterSequenceNumber);
                    match self.stream.shard_iterator(shard, start).await {
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
            // No more than the batch has room for: a batch never outgrows
            // `batch_records`, and is sized for it once (memory).
            let room = self.batch_records.saturating_sub(batch.len()).clamp(1, 10_000);
            let out = match self.stream.get_records(&it, room).await {
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
            let end_of_shard = out.next_iterator.is_none();
            iterator = out.next_iterator;
            let got = out.records.len();
            // Sized as it fills, not for `batch_records` up front: by age a
            // batch is committed long before it is full at most rates.
            if let Some(n) =
                crate::memory::room_to_reserve(batch.rows.len(), batch.rows.capacity(), got, self.batch_records)
            {
                batch.rows.reserve_exact(n);
            }
            for rec in out.records {
                if batch.started.is_none() {
                    batch.started = Some(Instant::now());
                }
                match parse_record(&rec) {
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
            if batch.len() > 0 && (full || old || (draining && caught_up) || end_of_shard) {
                match self
                    .commit(index, shard, std::mem::take(&mut batch), checkpoint.as_ref(), &stop)
                    .await
                {
                    Some(cp) => checkpoint = Some(cp),
                    None => return false, // aborted: the uncommitted part is re-read next run
                }
            }
            if end_of_shard {
                self.with_shard(index, |s| {
                    s.lag.millis_behind_latest = 0;
                    s.lag.records_behind = 0;
                    s.lag.checkpoint = checkpoint.as_ref().map(|c| c.0.clone());
                });
                return true;
            }
            let behind = self.stream.records_after(shard, checkpoint.as_ref()).await;
            let throttled_writes = self.stream.write_throttles(shard);
            self.with_shard(index, |s| {
                s.lag.throttled_writes = throttled_writes.unwrap_or(s.lag.throttled_writes);
                s.lag.records_behind = behind.unwrap_or(0);
                s.lag.checkpoint = checkpoint.as_ref().map(|c| c.0.clone());
            });
            if draining && caught_up && batch.len() == 0 && behind.is_none_or(|b| b == 0) {
                return false;
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
        let fb = Arc::new(FactBatch {
            stream: self.stream.name().to_string(),
            shard_id: shard.0.clone(),
            rows: batch.rows,
            dead_letters: batch.dead,
            checkpoint: checkpoint.clone(),
        });
        let mut attempt = 0u32;
        loop {
            match self.warehouse.load_facts(Arc::clone(&fb)).await {
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
