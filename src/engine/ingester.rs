//! The stream ingester: one reader per shard, micro-batches by size and age,
//! validation, and exactly-once loads (rows + checkpoint in one warehouse
//! transaction). Malformed records are dead-lettered; ingestion goes on.
//! It knows only the `Stream` and `Warehouse` ports.

use crate::sync::LockExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::event::parse_record;
use super::state::{Counters, ShardState, Shared};
use crate::backend::{
    DeadLetter, FactBatch, FactRow, SequenceNumber, ShardId, ShardInfo, StartPosition, Stream, StreamError, Warehouse,
    backoff, cmp_sequence_numbers,
};

#[derive(Clone)]
pub struct Ingester {
    pub shared: Arc<Shared>,
    pub stream: Arc<dyn Stream>,
    pub warehouse: Arc<dyn Warehouse>,
    pub batch_records: usize,
    pub batch_age: Duration,
    pub reads_per_sec: u64,
    /// Where a shard with no checkpoint starts.
    pub start: crate::ops::Position,
}

/// How the ingester is told to stop: `drain` = read to the tip, commit, exit;
/// `abort` = exit now (what is committed is safe; the rest is re-read next time).
#[derive(Clone)]
pub struct Stop {
    pub drain: CancellationToken,
    pub abort: CancellationToken,
}

/// Times a batch the warehouse refuses for its data is tried before it is
/// split: once more, in case the refusal was not about the data after all.
const NON_TRANSIENT_TRIES: u32 = 2;

enum Loaded {
    Done,
    Aborted,
    /// Refused for what is in it (not an outage): the warehouse's error.
    Refused(String),
}

/// What the warehouse knew of the shards when the ingester started.
struct Known {
    checkpoints: HashMap<String, SequenceNumber>,
    /// `ShardInfo::origin` each checkpoint was taken on.
    origins: HashMap<String, String>,
}

/// A task aborted when its handle is dropped (the reader goes with its
/// supervisor).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A panic's message, as far as it is text.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// A piece in two at its middle row, in stream order: the first half with
/// the dead letters up to its last row, checkpointed there; the rest with
/// the piece's own checkpoint. Committed in turn, they leave what the
/// piece would have.
fn split(piece: &FactBatch) -> (FactBatch, FactBatch) {
    let mid = piece.rows.len() / 2;
    let cut = piece.rows[mid - 1].sequence_number.to_string();
    let (early, late): (Vec<DeadLetter>, Vec<DeadLetter>) = piece
        .dead_letters
        .iter()
        .cloned()
        .partition(|d| cmp_sequence_numbers(&d.sequence_number, &cut).is_le());
    let part = |rows: &[FactRow], dead_letters, checkpoint| FactBatch {
        stream: piece.stream.clone(),
        shard_id: piece.shard_id.clone(),
        rows: rows.to_vec(),
        dead_letters,
        checkpoint,
        redrive: piece.redrive,
        rewound: piece.rewound,
    };
    let first = part(&piece.rows[..mid], early, SequenceNumber(cut));
    let second = part(&piece.rows[mid..], late, piece.checkpoint.clone());
    (first, second)
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
        // Where to start: tried until the warehouse answers (it may be
        // starting too), the error shown; stopped, nothing to drain.
        let mut tries = 0u32;
        let checkpoints = loop {
            let read = async {
                let checkpoints = self
                    .warehouse
                    .checkpoints(self.stream.name())
                    .await
                    .map_err(|e| format!("reading checkpoints: {e}"))?;
                let origins = self
                    .warehouse
                    .shard_origins(self.stream.name())
                    .await
                    .map_err(|e| format!("reading the shards' origins: {e}"))?;
                Ok::<_, String>(Known {
                    checkpoints: checkpoints.into_iter().collect(),
                    origins: origins.into_iter().collect(),
                })
            };
            match read.await {
                Ok(k) => break k,
                Err(e) => {
                    self.shared.error("ingester", e.clone());
                    tries += 1;
                    tokio::select! {
                        _ = stop.drain.cancelled() => return Err(e),
                        _ = stop.abort.cancelled() => return Err(e),
                        _ = tokio::time::sleep(backoff(tries, Duration::from_millis(200), Duration::from_secs(5))) => {}
                    }
                }
            }
        };
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
        checkpoints: &Known,
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
        checkpoints: &Known,
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
            let mut cp = checkpoints.checkpoints.get(&info.id.0).cloned();
            // The checkpoint counts only on the incarnation it was taken on.
            let origin = match (&info.origin, checkpoints.origins.get(&info.id.0)) {
                (Some(now), Some(was)) if now != was => {
                    if let Some(old) = cp.take() {
                        self.shared.error(
                            "ingester",
                            format!(
                                "{}: stream {} was deleted and made again (shard origin {was} → {now}): its \
                                 checkpoint {} is of the old stream; reading the shard from its start",
                                info.id,
                                self.stream.name(),
                                old.0
                            ),
                        );
                    }
                    Some((Some(now.clone()), true))
                }
                (Some(now), None) => Some((Some(now.clone()), false)),
                _ => None,
            };
            let index = {
                let mut shards = self.shared.shards.locked();
                let mut st = ShardState::default();
                st.lag.shard_id = info.id.0.clone();
                st.lag.checkpoint = cp.as_ref().map(|c| c.0.clone());
                shards.push(st);
                shards.len() - 1
            };
            started.insert(info.id.clone(), index);
            tasks.spawn(
                self.clone()
                    .read_shard(index, info.id.clone(), cp, origin, stop.clone()),
            );
        }
    }

    /// Read one shard until stopped; `(shard, true)` once a closed shard has
    /// been read to its end and committed.
    async fn read_shard(
        self,
        index: usize,
        shard: ShardId,
        checkpoint: Option<SequenceNumber>,
        origin: Option<(Option<String>, bool)>,
        stop: Stop,
    ) -> (ShardId, bool) {
        // The origin is recorded (and a stale checkpoint dropped) before
        // anything of the shard is committed.
        if let Some((origin, forget)) = origin
            && !self.record_origin(&shard, origin.as_deref(), forget, &stop).await
        {
            return (shard, false);
        }
        // The reader runs as a task of its own so that a panic in it (a
        // bug) is caught here: it is started again from the shard's
        // committed checkpoint — what it had not committed is read again —
        // and the error shown. A bug must not stop a shard for good.
        let mut checkpoint = checkpoint;
        let mut restarts = 0u32;
        loop {
            let (me, id, st) = (self.clone(), shard.clone(), stop.clone());
            let mut reader = AbortOnDrop(tokio::spawn(async move {
                me.read_shard_inner(index, &id, checkpoint, st).await
            }));
            let e = match (&mut reader.0).await {
                Ok(closed) => return (shard, closed),
                Err(e) => e,
            };
            if !e.is_panic() || stop.abort.is_cancelled() {
                self.shared.error("ingester", format!("{shard}: reader ended: {e}"));
                return (shard, false);
            }
            let what = panic_text(e.into_panic());
            restarts += 1;
            self.shared.error(
                "ingester",
                format!("{shard}: reader panicked ({what}); restarted from its checkpoint"),
            );
            tracing::error!(%shard, panic = %what, restarts, "shard reader panicked: restarting it");
            tokio::time::sleep(backoff(restarts, Duration::from_millis(200), Duration::from_secs(10))).await;
            checkpoint = loop {
                match self.warehouse.checkpoints(self.stream.name()).await {
                    Ok(cps) => break cps.into_iter().find(|(s, _)| *s == shard.0).map(|(_, c)| c),
                    Err(err) => {
                        self.shared
                            .error("ingester", format!("{shard}: reading its checkpoint: {err}"));
                        tokio::select! {
                            _ = stop.abort.cancelled() => return (shard, false),
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            };
        }
    }

    /// `Warehouse::set_shard_origin`, tried until it works; false if
    /// stopped first.
    async fn record_origin(&self, shard: &ShardId, origin: Option<&str>, forget: bool, stop: &Stop) -> bool {
        let mut tries = 0u32;
        loop {
            match self
                .warehouse
                .set_shard_origin(self.stream.name(), &shard.0, origin, forget)
                .await
            {
                Ok(()) => return true,
                Err(e) => {
                    if tries == 0 {
                        self.shared
                            .error("ingester", format!("{shard}: recording its origin: {e}"));
                    }
                    tries += 1;
                    tokio::select! {
                        _ = stop.abort.cancelled() => return false,
                        _ = tokio::time::sleep(backoff(tries, Duration::from_millis(200), Duration::from_secs(5))) => {}
                    }
                }
            }
        }
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
        let mut throttles = 0u32;
        // After a rewind: where to read from until the next commit, and
        // the checkpoint the replay moved back from.
        let mut restart: Option<StartPosition> = None;
        let mut replay_until: Option<SequenceNumber> = None;
        let mut rewinds_seen = 0u64;
        loop {
            if stop.abort.is_cancelled() {
                return false;
            }
            if let Some(to) = self.shared.take_rewind(&shard.0, &mut rewinds_seen) {
                // What is not committed is read again from the new position.
                let dropped = batch.len();
                batch = Batch::default();
                iterator = None;
                restart = Some(to.start());
                replay_until = match (to, &checkpoint) {
                    (crate::ops::Position::Latest, _) => None,
                    (_, cp) => cp.clone().or(replay_until),
                };
                tracing::info!(%shard, to = %to.label(), dropped, "rewound");
                self.with_shard(index, |s| {
                    s.lag.replay_until = replay_until.as_ref().map(|c| c.0.clone());
                    s.lag.replay_left = None;
                });
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
                    let start = match (&batch.last, &restart, &checkpoint) {
                        (Some(last), _, _) => StartPosition::AfterSequenceNumber(last.clone()),
                        (None, Some(p), _) => p.clone(),
                        (None, None, Some(cp)) => StartPosition::AfterSequenceNumber(cp.clone()),
                        (None, None, None) => self.start.start(),
                    };
                    match self.stream.shard_iterator(shard, start).await {
                        Ok(it) => it,
                        Err(StreamError::InvalidSequence(m)) if batch.last.is_none() && restart.is_none() => {
                            // The checkpoint is of no sequence this shard
                            // gave out: the stream was made again.
                            self.shared.error(
                                "ingester",
                                format!(
                                    "{shard}: its checkpoint {} is not of this stream ({m}): the stream was made \
                                     again; reading the shard from its start",
                                    checkpoint.as_ref().map_or("?", |c| c.0.as_str())
                                ),
                            );
                            if !self.record_origin(shard, None, true, &stop).await {
                                return false;
                            }
                            checkpoint = None;
                            restart = Some(StartPosition::TrimHorizon);
                            continue;
                        }
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
                    throttles = 0;
                    out
                }
                Err(StreamError::Throttled(_)) => {
                    // Another consumer shares the shard's reads: back off.
                    throttles += 1;
                    self.with_shard(index, |s| s.lag.throttled_reads += 1);
                    tokio::select! {
                        _ = stop.abort.cancelled() => return false,
                        _ = tokio::time::sleep(backoff(throttles, Duration::from_millis(100), Duration::from_secs(5))) => {}
                    }
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
            if out.expired > 0 {
                Counters::add(&self.shared.counters.expired, out.expired);
                self.shared.error(
                    "ingester",
                    format!(
                        "{shard}: {} records aged out of the stream's retention before they were read: lost",
                        out.expired
                    ),
                );
            }
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
            // Caught up is MillisBehindLatest = 0: Kinesis may answer an empty
            // page while records are still ahead (a gap in the shard).
            let caught_up = out.millis_behind_latest == 0;
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
                    Some(cp) => {
                        checkpoint = Some(cp);
                        restart = None;
                    }
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
            let mut replay_left = None;
            if let Some(until) = &replay_until {
                let passed = checkpoint.as_ref().is_some_and(|c| c.cmp_numeric(until).is_ge());
                if passed {
                    replay_until = None;
                    self.with_shard(index, |s| s.lag.replay_until = None);
                } else if let (Some(b), Some(after)) = (behind, self.stream.records_after(shard, Some(until)).await) {
                    replay_left = Some(b.saturating_sub(after));
                }
            }
            self.with_shard(index, |s| {
                s.lag.throttled_writes = throttled_writes.unwrap_or(s.lag.throttled_writes);
                s.lag.records_behind = behind.unwrap_or(0);
                s.lag.checkpoint = checkpoint.as_ref().map(|c| c.0.clone());
                s.lag.replay_left = replay_left;
            });
            if draining && caught_up && batch.len() == 0 && behind.is_none_or(|b| b == 0) {
                return false;
            }
        }
    }

    /// Commit a batch. While the warehouse is away (a transient error) it
    /// is retried with backoff; a batch the warehouse refuses for what is
    /// in it is split in two and each half committed in turn, down to the
    /// records it refuses, which are dead-lettered with the warehouse's
    /// error: poison never stalls a shard. Returns the new checkpoint, or
    /// None if stopped by `abort` first.
    async fn commit(
        &self,
        index: usize,
        shard: &ShardId,
        batch: Batch,
        previous: Option<&SequenceNumber>,
        stop: &Stop,
    ) -> Option<SequenceNumber> {
        let checkpoint = batch.last.clone()?;
        let oldest_ms = batch
            .rows
            .iter()
            .map(|r| r.arrival_ms)
            .chain(batch.dead.iter().map(|d| d.arrival_ms))
            .min();
        let whole = FactBatch {
            stream: self.stream.name().to_string(),
            shard_id: shard.0.clone(),
            rows: batch.rows,
            dead_letters: batch.dead,
            checkpoint: checkpoint.clone(),
            redrive: false,
            // Only a rewind reads again what is already checkpointed.
            rewound: previous.is_some_and(|p| cmp_sequence_numbers(&checkpoint.0, &p.0).is_le()),
        };
        // Pieces still to commit, in stream order (the last is next).
        let mut todo = vec![(Arc::new(whole), NON_TRANSIENT_TRIES)];
        let mut split_said = false;
        while let Some((piece, tries)) = todo.pop() {
            let refused = match self
                .load_retrying(index, shard, &piece, previous, oldest_ms, tries, stop)
                .await
            {
                Loaded::Done => {
                    self.count_committed(index, &piece);
                    continue;
                }
                Loaded::Aborted => return None,
                Loaded::Refused(e) => e,
            };
            if piece.rows.len() > 1 {
                if !split_said {
                    split_said = true;
                    self.shared.error(
                        "ingester",
                        format!(
                            "{shard}: the warehouse refused a batch of {} records ({refused}); \
                             splitting it to find the records it refuses",
                            piece.rows.len() + piece.dead_letters.len()
                        ),
                    );
                }
                let (first, second) = split(&piece);
                todo.push((Arc::new(second), 1));
                todo.push((Arc::new(first), 1));
            } else if let Some(row) = piece.rows.first() {
                let seq = SequenceNumber(row.sequence_number.to_string());
                self.shared.error(
                    "ingester",
                    format!("{shard}: record {seq} dead-lettered: the warehouse refused it: {refused}"),
                );
                let mut dead = piece.dead_letters.clone();
                dead.push(DeadLetter {
                    shard_id: shard.0.clone(),
                    sequence_number: seq.0.clone(),
                    arrival_ms: row.arrival_ms,
                    reason: format!("refused by the warehouse: {refused}"),
                    payload: self.payload_of(shard, &seq, row).await,
                });
                dead.sort_by(|a, b| cmp_sequence_numbers(&a.sequence_number, &b.sequence_number));
                todo.push((
                    Arc::new(FactBatch {
                        stream: piece.stream.clone(),
                        shard_id: piece.shard_id.clone(),
                        rows: Vec::new(),
                        dead_letters: dead,
                        checkpoint: piece.checkpoint.clone(),
                        redrive: piece.redrive,
                        rewound: piece.rewound,
                    }),
                    1,
                ));
            } else if piece.dead_letters.iter().any(|d| !d.payload.is_empty()) {
                // The dead letters themselves are refused: keep their
                // place and reason, without the payload.
                self.shared.error(
                    "ingester",
                    format!("{shard}: dead letters refused ({refused}); keeping them without their payloads"),
                );
                let dead = piece
                    .dead_letters
                    .iter()
                    .map(|d| DeadLetter {
                        payload: Vec::new(),
                        reason: format!("{} (payload not storable: {refused})", d.reason),
                        ..d.clone()
                    })
                    .collect();
                todo.push((
                    Arc::new(FactBatch {
                        dead_letters: dead,
                        ..(*piece).clone()
                    }),
                    1,
                ));
            } else {
                // Nothing left to take out: wait as for an outage.
                todo.push((piece, u32::MAX));
            }
        }
        self.shared.retrying.store(false, Ordering::Relaxed);
        Some(checkpoint)
    }

    /// Load one piece: transient errors are retried with backoff until
    /// `abort`; a refusal for the data is tried `tries` times in all.
    #[allow(clippy::too_many_arguments)]
    async fn load_retrying(
        &self,
        index: usize,
        shard: &ShardId,
        piece: &Arc<FactBatch>,
        previous: Option<&SequenceNumber>,
        oldest_ms: Option<i64>,
        tries: u32,
        stop: &Stop,
    ) -> Loaded {
        let mut attempt = 0u32;
        let mut refusals = 0u32;
        loop {
            let e = match self.warehouse.load_facts(Arc::clone(piece)).await {
                Ok(_) => return Loaded::Done,
                Err(e) => e,
            };
            if !e.is_transient() {
                refusals += 1;
                if refusals >= tries {
                    return Loaded::Refused(e.to_string());
                }
            }
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
                _ = stop.abort.cancelled() => return Loaded::Aborted,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The record's bytes as the stream holds them, read again (one read);
    /// if that fails, the event as it was parsed.
    async fn payload_of(&self, shard: &ShardId, seq: &SequenceNumber, row: &FactRow) -> Vec<u8> {
        if let Ok(it) = self
            .stream
            .shard_iterator(shard, StartPosition::AtSequenceNumber(seq.clone()))
            .await
            && let Ok(out) = self.stream.get_records(&it, 1).await
            && let Some(rec) = out.records.into_iter().find(|r| &r.sequence_number == seq)
        {
            return rec.data;
        }
        super::event::OrderEvent::of_row(row).to_json()
    }

    fn count_committed(&self, index: usize, piece: &FactBatch) {
        let now = chrono::Utc::now().timestamp_millis();
        self.shared
            .record_freshness(piece.rows.iter().filter_map(|r| r.emitted_ms), now);
        let c = &self.shared.counters;
        Counters::add(&c.ingested, piece.rows.len() as u64);
        Counters::add(&c.dead_lettered, piece.dead_letters.len() as u64);
        Counters::add(&c.batches, 1);
        self.with_shard(index, |s| s.lag.ingested += piece.rows.len() as u64);
    }

    fn with_shard(&self, index: usize, f: impl FnOnce(&mut ShardState)) {
        if let Some(s) = self.shared.shards.locked().get_mut(index) {
            f(s);
        }
    }
}
