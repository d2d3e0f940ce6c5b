//! The stream ingester: one reader per shard, micro-batches by size and age,
//! validation, and exactly-once loads (rows + checkpoint in one warehouse
//! transaction). Malformed records are dead-lettered; ingestion goes on.
//! It knows only the `Stream` and `Warehouse` ports.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::event::parse_record;
use super::state::{Counters, ShardState, Shared};
use crate::backend::lease::{self, LeaseRound, LeaseRow};
use crate::backend::{
    DeadLetter, FactBatch, FactRow, SequenceNumber, ShardId, ShardInfo, StartPosition, Stream, StreamError,
    StreamRecord, Warehouse, WarehouseError, backoff, cmp_sequence_numbers, kpl, parent_sequence_number,
    split_sequence_number, sub_sequence_number,
};

/// Why the ingester could not start.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("reading checkpoints: {0}")]
    Checkpoints(WarehouseError),
    #[error("reading the shards' origins: {0}")]
    Origins(WarehouseError),
}

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
    /// This instance's shard leases.
    pub lease: LeaseSettings,
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
    /// The shard's lease went to another instance: the batch is its to read.
    LeaseLost(String),
    /// Refused for what is in it (not an outage): the warehouse's error.
    Refused(String),
}

/// This instance's shard leases: its name in the lease table and how long
/// a lease lasts unless renewed.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub owner: String,
    pub duration: Duration,
}

impl LeaseSettings {
    /// `<host>-<hash of the data dir>`: one engine runs per data dir (the
    /// control socket sees to it), so the name is unique among live
    /// instances, and an engine started again on the same data dir (after
    /// a crash) holds its leases again at once instead of waiting for them
    /// to expire.
    pub fn default_owner(data_dir: &std::path::Path) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| {
                h.trim()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(60)
                    .collect::<String>()
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "courier".into());
        let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        use md5::Digest;
        let digest = md5::Md5::digest(dir.to_string_lossy().as_bytes());
        format!(
            "{host}-{:02x}{:02x}{:02x}{:02x}",
            digest[0], digest[1], digest[2], digest[3]
        )
    }

    /// How often leases are renewed and the lease table read: a fifth of
    /// the duration, so a dead instance's shards are taken within about
    /// 1.2 durations.
    pub fn round_every(&self) -> Duration {
        (self.duration / 5).max(Duration::from_millis(100))
    }
}

/// The ingester's view of the leases between rounds.
#[derive(Default)]
struct Leasing {
    lineage: Vec<ShardInfo>,
    /// The lease table at the last round.
    view: Vec<LeaseRow>,
    /// Running readers: the token that stops each.
    readers: HashMap<ShardId, CancellationToken>,
    tasks: HashMap<tokio::task::Id, ShardId>,
    /// Read to their end by this instance.
    finished: HashSet<ShardId>,
    /// Finished, not yet marked ended in the lease table.
    to_end: Vec<String>,
    /// Each shard's row in the lag pane.
    rows: HashMap<ShardId, usize>,
    /// A lease round has gone through.
    started: bool,
}

impl Leasing {
    /// The lag pane row of `shard`, added the first time.
    fn index(&mut self, shared: &Shared, shard: &ShardId) -> usize {
        *self.rows.entry(shard.clone()).or_insert_with(|| {
            let mut st = ShardState::default();
            st.lag.shard_id = shard.0.clone();
            shared.add_shard(st)
        })
    }

    /// Shards that may be read: listed, not read to their end, whose
    /// parents were (by any instance) or are no longer listed.
    fn ready(&self, view: &[LeaseRow]) -> Vec<String> {
        let listed: HashSet<&ShardId> = self.lineage.iter().map(|s| &s.id).collect();
        let ended = |id: &ShardId| self.finished.contains(id) || view.iter().any(|l| l.shard_id == id.0 && l.ended);
        self.lineage
            .iter()
            .filter(|s| !ended(&s.id))
            .filter(|s| s.parents.iter().all(|p| ended(p) || !listed.contains(p)))
            .map(|s| s.id.0.clone())
            .collect()
    }
}

/// What the warehouse knows of the shards when readers start.
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

/// A piece in two, in stream order; committed in turn, they leave what the
/// piece would have. Where the piece holds several Kinesis records, it is
/// cut between two of them near its middle row: the first half takes the
/// dead letters up to there and is checkpointed there. A piece that is one
/// aggregated record is cut between its OrderIDs (each order's user records
/// stay together, so each half loads the order's latest as the whole
/// would): the first half is `partial`, and only the second, with the dead
/// letters and the checkpoint, completes the record. `None`: the piece is
/// one order of one record, which can't be cut.
fn split(piece: &FactBatch) -> Option<(FactBatch, FactBatch)> {
    let parent = |r: &FactRow| parent_sequence_number(&r.sequence_number).to_string();
    let part = |rows: Vec<FactRow>, dead_letters, checkpoint, partial| FactBatch {
        stream: piece.stream.clone(),
        shard_id: piece.shard_id.clone(),
        rows,
        dead_letters,
        checkpoint,
        redrive: piece.redrive,
        rewound: piece.rewound,
        partial,
        lease_owner: piece.lease_owner.clone(),
    };
    let mid = piece.rows.len() / 2;
    let boundaries = (1..piece.rows.len()).filter(|&i| parent(&piece.rows[i - 1]) != parent(&piece.rows[i]));
    if let Some(at) = boundaries.min_by_key(|&i| i.abs_diff(mid)) {
        let cut = parent(&piece.rows[at - 1]);
        let (early, late): (Vec<DeadLetter>, Vec<DeadLetter>) = piece
            .dead_letters
            .iter()
            .cloned()
            .partition(|d| cmp_sequence_numbers(parent_sequence_number(&d.sequence_number), &cut).is_le());
        let first = part(piece.rows[..at].to_vec(), early, SequenceNumber(cut), false);
        let second = part(piece.rows[at..].to_vec(), late, piece.checkpoint.clone(), piece.partial);
        return Some((first, second));
    }
    let mut seen = HashSet::new();
    let orders: Vec<i64> = piece
        .rows
        .iter()
        .map(|r| r.order_id)
        .filter(|o| seen.insert(*o))
        .collect();
    if orders.len() < 2 {
        return None;
    }
    let first_orders: HashSet<i64> = orders[..orders.len() / 2].iter().copied().collect();
    let (early, late): (Vec<FactRow>, Vec<FactRow>) = piece
        .rows
        .iter()
        .cloned()
        .partition(|r| first_orders.contains(&r.order_id));
    Some((
        part(early, Vec::new(), piece.checkpoint.clone(), true),
        part(
            late,
            piece.dead_letters.clone(),
            piece.checkpoint.clone(),
            piece.partial,
        ),
    ))
}

/// Validate one Kinesis record into the batch: a plain record is a row or
/// a dead letter; an aggregated one (`kpl`) is each of its user records in
/// turn, validated as if it had been put alone and numbered `PARENT:SUB`.
/// A record with the aggregate's magic number that is no aggregate is
/// taken as plain, its dead letter saying why. Returns how many user
/// records it held (1 for a plain record).
fn take_record(shard: &str, rec: &StreamRecord, batch: &mut Batch) -> usize {
    let dead = |sequence_number: String, reason: String, payload: Vec<u8>| DeadLetter {
        shard_id: shard.to_string(),
        sequence_number,
        arrival_ms: rec.arrival_ms,
        reason,
        payload,
    };
    let not_aggregate = match kpl::unpack(&rec.data) {
        kpl::Unpacked::Aggregate(users) => {
            let n = users.len();
            for (k, user) in users.into_iter().enumerate() {
                let one = StreamRecord {
                    sequence_number: SequenceNumber(sub_sequence_number(&rec.sequence_number.0, k)),
                    partition_key: user.partition_key,
                    data: user.data,
                    arrival_ms: rec.arrival_ms,
                };
                match parse_record(&one) {
                    Ok(row) => batch.rows.push(row),
                    Err(reason) => batch.dead.push(dead(
                        one.sequence_number.0,
                        format!(
                            "user record {k} of {n} in aggregated record {}: {reason}",
                            rec.sequence_number
                        ),
                        one.data,
                    )),
                }
            }
            return n;
        }
        kpl::Unpacked::Plain => None,
        kpl::Unpacked::NotAggregate(why) => Some(why),
    };
    match parse_record(rec) {
        Ok(row) => batch.rows.push(row),
        Err(reason) => {
            let reason = match not_aggregate {
                Some(why) => format!("{reason} (it has the KPL aggregate's magic number but is no aggregate: {why})"),
                None => reason.to_string(),
            };
            batch
                .dead
                .push(dead(rec.sequence_number.0.clone(), reason, rec.data.clone()));
        }
    }
    1
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
    /// Run one reader per shard this instance holds the lease of, until
    /// stopped. Every lease round (a fifth of the lease's duration) renews
    /// the leases held, takes free or expired ones and balances them with
    /// the other instances (`lease::plan_takes`), starts readers for the
    /// shards newly held and stops those whose lease went to another
    /// instance. Shards are listed at each round, so shards made by a
    /// reshard are picked up; a child shard is read once its parents have
    /// been read to their end, by whichever instance held them.
    pub async fn run(self, stop: Stop) -> Result<(), IngestError> {
        let mut leasing = Leasing::default();
        self.shared.with_leases(|l| l.instance = self.lease.owner.clone());
        let mut tasks = tokio::task::JoinSet::new();
        let mut round = tokio::time::interval(self.lease.round_every());
        round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut drain_seen = false;
        loop {
            tokio::select! {
                r = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (id, outcome) = match r {
                        Some(Ok((id, out))) => (id, Some(out)),
                        Some(Err(e)) => {
                            self.shared.error("ingester", format!("shard reader failed: {e}"));
                            (e.id(), None)
                        }
                        None => continue,
                    };
                    if let Some(shard) = leasing.tasks.remove(&id) {
                        leasing.readers.remove(&shard);
                        if let Some((_, true)) = outcome {
                            leasing.finished.insert(shard.clone());
                            leasing.to_end.push(shard.0.clone());
                            round.reset_immediately();
                        }
                    }
                    if tasks.is_empty() && stop.drain.is_cancelled() {
                        self.release_all(&mut leasing).await;
                        return Ok(());
                    }
                }
                _ = round.tick() => {
                    if stop.abort.is_cancelled() {
                        return Ok(());
                    }
                    self.lease_round(&mut leasing, &mut tasks, &stop).await;
                    if stop.drain.is_cancelled() && leasing.started && tasks.is_empty() {
                        self.release_all(&mut leasing).await;
                        return Ok(());
                    }
                }
                _ = stop.drain.cancelled(), if !drain_seen => {
                    drain_seen = true;
                    // Before the first round nothing is read yet: that
                    // round still starts the readers, which then drain.
                    if tasks.is_empty() && leasing.started {
                        self.release_all(&mut leasing).await;
                        return Ok(());
                    }
                }
                _ = stop.abort.cancelled() => return Ok(()),
            }
        }
    }

    /// One lease round: renew, mark shards read to their end, take (when
    /// not draining), then start and stop readers to match.
    async fn lease_round(&self, leasing: &mut Leasing, tasks: &mut tokio::task::JoinSet<(ShardId, bool)>, stop: &Stop) {
        match self.stream.shard_lineage().await {
            Ok(l) => leasing.lineage = l,
            Err(e) => self.shared.error("ingester", format!("listing shards: {e}")),
        }
        let me = self.lease.owner.as_str();
        let mut ask = LeaseRound::new(self.stream.name(), me, self.lease.duration);
        ask.renew = true;
        ask.end = std::mem::take(&mut leasing.to_end);
        let view = match self.warehouse.lease_round(&ask).await {
            Ok(v) => v,
            Err(e) => {
                leasing.to_end = ask.end;
                self.shared.error("ingester", format!("shard leases: {e}"));
                return;
            }
        };
        // A draining instance takes nothing more, unless it stopped before
        // its first round: then that round's shards are drained.
        let draining = stop.drain.is_cancelled() && leasing.started;
        leasing.started = true;
        let view = if draining {
            view
        } else {
            let ready = leasing.ready(&view);
            let takes = lease::plan_takes(me, &ready, &view);
            if takes.is_empty() {
                view
            } else {
                let stolen: Vec<String> = takes
                    .iter()
                    .filter(|t| view.iter().any(|l| l.shard_id == t.shard_id && l.live()))
                    .map(|t| t.shard_id.clone())
                    .collect();
                let mut ask = LeaseRound::new(self.stream.name(), me, self.lease.duration);
                ask.take = takes;
                match self.warehouse.lease_round(&ask).await {
                    Ok(after) => {
                        let got = stolen
                            .iter()
                            .filter(|s| {
                                after
                                    .iter()
                                    .any(|l| &l.shard_id == *s && l.owner.as_deref() == Some(me))
                            })
                            .count();
                        if got > 0 {
                            self.shared.with_leases(|l| l.taken += got as u64);
                        }
                        after
                    }
                    Err(e) => {
                        self.shared.error("ingester", format!("taking shard leases: {e}"));
                        view
                    }
                }
            }
        };
        // Readers of shards whose lease another instance holds now stop;
        // their uncommitted batch is the new holder's to read.
        for (shard, reader) in &leasing.readers {
            let holder = view
                .iter()
                .find(|l| l.shard_id == shard.0)
                .and_then(|l| l.owner.clone());
            if holder.as_deref() != Some(me) && !reader.is_cancelled() {
                reader.cancel();
                self.shared.with_leases(|l| l.lost += 1);
                let to = holder.as_deref().unwrap_or("no one");
                tracing::info!(%shard, to, "shard lease lost: its reader stops");
                self.shared.error(
                    "ingester",
                    format!("{shard}: its lease went to {to}; this instance stops reading it"),
                );
            }
        }
        if !draining {
            let mine: Vec<ShardInfo> = leasing
                .lineage
                .iter()
                .filter(|s| !leasing.readers.contains_key(&s.id) && !leasing.finished.contains(&s.id))
                .filter(|s| {
                    view.iter()
                        .any(|l| l.shard_id == s.id.0 && l.owner.as_deref() == Some(me) && l.live())
                })
                .cloned()
                .collect();
            if !mine.is_empty() {
                self.start_readers(&mine, leasing, tasks, stop).await;
            }
        }
        self.show_leases(leasing, &view);
        leasing.view = view;
    }

    /// Start readers for `shards`, just leased: from their checkpoints as
    /// the warehouse holds them now (another instance may have moved them).
    async fn start_readers(
        &self,
        shards: &[ShardInfo],
        leasing: &mut Leasing,
        tasks: &mut tokio::task::JoinSet<(ShardId, bool)>,
        stop: &Stop,
    ) {
        let known = async {
            let checkpoints = self
                .warehouse
                .checkpoints(self.stream.name())
                .await
                .map_err(IngestError::Checkpoints)?;
            let origins = self
                .warehouse
                .shard_origins(self.stream.name())
                .await
                .map_err(IngestError::Origins)?;
            Ok::<_, IngestError>(Known {
                checkpoints: checkpoints.into_iter().collect(),
                origins: origins.into_iter().collect(),
            })
        };
        let known = match known.await {
            Ok(k) => k,
            Err(e) => {
                // Tried again at the next round.
                self.shared.error("ingester", e.to_string());
                return;
            }
        };
        for info in shards {
            let mut cp = known.checkpoints.get(&info.id.0).cloned();
            // The checkpoint counts only on the incarnation it was taken on.
            let origin = match (&info.origin, known.origins.get(&info.id.0)) {
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
            let index = leasing.index(&self.shared, &info.id);
            self.with_shard(index, |s| {
                s.lag.checkpoint = cp.as_ref().map(|c| c.0.clone());
                s.lag.held = true;
            });
            let reader = Stop {
                drain: stop.drain.clone(),
                abort: stop.abort.child_token(),
            };
            leasing.readers.insert(info.id.clone(), reader.abort.clone());
            let handle = tasks.spawn(self.clone().read_shard(index, info.id.clone(), cp, origin, reader));
            leasing.tasks.insert(handle.id(), info.id.clone());
        }
    }

    /// On a drained stop: give up every lease held, so other instances
    /// take the shards at once instead of after the lease's expiry.
    async fn release_all(&self, leasing: &mut Leasing) {
        let me = self.lease.owner.as_str();
        let mut ask = LeaseRound::new(self.stream.name(), me, self.lease.duration);
        ask.end = std::mem::take(&mut leasing.to_end);
        ask.release = leasing
            .view
            .iter()
            .filter(|l| l.owner.as_deref() == Some(me))
            .map(|l| l.shard_id.clone())
            .collect();
        if ask.release.is_empty() && ask.end.is_empty() {
            return;
        }
        if let Err(e) = self.warehouse.lease_round(&ask).await {
            tracing::warn!(error = %e, "releasing shard leases: they expire instead");
        }
    }

    /// The lease view into the snapshot: every open shard with its holder.
    fn show_leases(&self, leasing: &mut Leasing, view: &[LeaseRow]) {
        let me = self.lease.owner.as_str();
        let listed: Vec<ShardId> = leasing
            .lineage
            .iter()
            .filter(|s| !leasing.finished.contains(&s.id))
            .filter(|s| !view.iter().any(|l| l.shard_id == s.id.0 && l.ended))
            .map(|s| s.id.clone())
            .collect();
        for id in &listed {
            let index = leasing.index(&self.shared, id);
            let lease = view.iter().find(|l| l.shard_id == id.0);
            let held = leasing.readers.get(id).is_some_and(|r| !r.is_cancelled());
            self.with_shard(index, |s| {
                s.lag.owner = lease.filter(|l| l.live()).and_then(|l| l.owner.clone());
                s.lag.lease_expires_ms = lease.map(|l| l.expires_in_ms);
                s.lag.held = held;
                if !held {
                    s.lag.millis_behind_latest = 0;
                    s.lag.records_behind = 0;
                    s.lag.read_rate = 0;
                }
            });
        }
        let instances: HashSet<&str> = view
            .iter()
            .filter(|l| l.live())
            .filter_map(|l| l.owner.as_deref())
            .chain([me])
            .collect();
        let held = leasing.readers.values().filter(|r| !r.is_cancelled()).count();
        self.shared.with_leases(|l| {
            l.held = held;
            l.shards = listed.len();
            l.instances = instances.len();
            l.takeovers = view.iter().map(|l| l.takeovers.max(0) as u64).sum();
        });
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
        // Most user records one Kinesis record of this shard held so far.
        let mut fan_out = 1usize;
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
            // Aggregated records count for the user records they hold.
            let room = (self.batch_records.saturating_sub(batch.len()) / fan_out).clamp(1, 10_000);
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
                Counters::add(&self.shared.counters().expired, out.expired);
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
                let users = take_record(&shard.0, &rec, &mut batch);
                fan_out = fan_out.max(users);
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
            partial: false,
            lease_owner: Some(self.lease.owner.clone()),
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
                Loaded::LeaseLost(e) => {
                    self.shared.set_retrying(false);
                    self.shared.error(
                        "ingester",
                        format!("{shard}: commit refused, the shard's lease is no longer this instance's ({e})"),
                    );
                    return None;
                }
                Loaded::Refused(e) => e,
            };
            let halves = if piece.rows.len() > 1 { split(&piece) } else { None };
            if let Some((first, second)) = halves {
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
                todo.push((Arc::new(second), 1));
                todo.push((Arc::new(first), 1));
            } else if let Some(row) = piece.rows.last() {
                // The one row the piece loads: a lone record's, or the
                // latest user record of one order of one aggregated record.
                let seq = SequenceNumber(row.sequence_number.to_string());
                self.shared.error(
                    "ingester",
                    format!("{shard}: record {seq} dead-lettered: the warehouse refused it: {refused}"),
                );
                let letter = DeadLetter {
                    shard_id: shard.0.clone(),
                    sequence_number: seq.0.clone(),
                    arrival_ms: row.arrival_ms,
                    reason: match split_sequence_number(&seq.0) {
                        (parent, Some(sub)) => format!(
                            "refused by the warehouse: {refused} (user record {sub} of aggregated record {parent})"
                        ),
                        (_, None) => format!("refused by the warehouse: {refused}"),
                    },
                    payload: self.payload_of(shard, &seq, row).await,
                };
                let rest = &piece.rows[..piece.rows.len() - 1];
                let part = |rows: Vec<FactRow>, dead_letters, partial| FactBatch {
                    stream: piece.stream.clone(),
                    shard_id: piece.shard_id.clone(),
                    rows,
                    dead_letters,
                    checkpoint: piece.checkpoint.clone(),
                    redrive: piece.redrive,
                    rewound: piece.rewound,
                    partial,
                    lease_owner: piece.lease_owner.clone(),
                };
                if rest.is_empty() {
                    let mut dead = piece.dead_letters.clone();
                    dead.push(letter);
                    dead.sort_by(|a, b| cmp_sequence_numbers(&a.sequence_number, &b.sequence_number));
                    todo.push((Arc::new(part(Vec::new(), dead, piece.partial)), 1));
                } else {
                    // The order's earlier user records load after the
                    // refused one is kept (so that a crash between the two
                    // can't leave an earlier status without the refusal).
                    todo.push((
                        Arc::new(part(rest.to_vec(), piece.dead_letters.clone(), piece.partial)),
                        1,
                    ));
                    todo.push((Arc::new(part(Vec::new(), vec![letter], true)), 1));
                }
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
        self.shared.set_retrying(false);
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
            if e.is_lease_lost() {
                return Loaded::LeaseLost(e.to_string());
            }
            if !e.is_transient() {
                refusals += 1;
                if refusals >= tries {
                    return Loaded::Refused(e.to_string());
                }
            }
            self.shared.set_retrying(true);
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
    /// A user record of an aggregated record (`PARENT:SUB`): its own bytes.
    async fn payload_of(&self, shard: &ShardId, seq: &SequenceNumber, row: &FactRow) -> Vec<u8> {
        let (parent, sub) = split_sequence_number(&seq.0);
        let parent = SequenceNumber(parent.to_string());
        if let Ok(it) = self
            .stream
            .shard_iterator(shard, StartPosition::AtSequenceNumber(parent.clone()))
            .await
            && let Ok(out) = self.stream.get_records(&it, 1).await
            && let Some(rec) = out.records.into_iter().find(|r| r.sequence_number == parent)
        {
            match (sub.and_then(|s| s.parse::<usize>().ok()), kpl::unpack(&rec.data)) {
                (None, _) => return rec.data,
                (Some(k), kpl::Unpacked::Aggregate(users)) if k < users.len() => {
                    return users.into_iter().nth(k).map(|u| u.data).unwrap_or_default();
                }
                _ => {}
            }
        }
        super::event::OrderEvent::of_row(row).to_json()
    }

    fn count_committed(&self, index: usize, piece: &FactBatch) {
        let now = chrono::Utc::now().timestamp_millis();
        self.shared
            .record_freshness(piece.rows.iter().filter_map(|r| r.emitted_ms), now);
        let c = self.shared.counters();
        Counters::add(&c.ingested, piece.rows.len() as u64);
        Counters::add(&c.dead_lettered, piece.dead_letters.len() as u64);
        Counters::add(&c.batches, 1);
        self.with_shard(index, |s| s.lag.ingested += piece.rows.len() as u64);
    }

    fn with_shard(&self, index: usize, f: impl FnOnce(&mut ShardState)) {
        self.shared.with_shard(index, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, status: &str) -> Vec<u8> {
        format!(
            r#"{{"OrderID": {id}, "CustomerID": 1, "RestaurantID": 2, "RiderID": 3, "OrderDate": "2026-11-20T14:03:11.482913", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 1, "OrderStatus": "{status}"}}"#
        )
        .into_bytes()
    }

    fn record(seq: &str, data: Vec<u8>) -> StreamRecord {
        StreamRecord {
            sequence_number: SequenceNumber(seq.into()),
            partition_key: "1".into(),
            data,
            arrival_ms: 0,
        }
    }

    #[test]
    fn an_aggregate_is_taken_user_record_by_user_record() {
        let users = [
            event(1, "Processing"),
            event(2, "Processing"),
            b"not json".to_vec(),
            event(1, "Delivered"),
        ];
        let data = kpl::aggregate(users.iter().map(|u| ("1", u.as_slice())));
        let mut batch = Batch::default();
        assert_eq!(take_record("shardId-000000000000", &record("77", data), &mut batch), 4);
        let seqs: Vec<&str> = batch.rows.iter().map(|r| r.sequence_number.as_str()).collect();
        assert_eq!(seqs, ["77:0", "77:1", "77:3"]);
        assert_eq!(batch.dead.len(), 1);
        let d = &batch.dead[0];
        assert_eq!(d.sequence_number, "77:2");
        assert_eq!(d.payload, b"not json");
        assert!(
            d.reason
                .starts_with("user record 2 of 4 in aggregated record 77: not an order event"),
            "{}",
            d.reason
        );
        let fb = FactBatch {
            stream: "s".into(),
            shard_id: "shardId-000000000000".into(),
            rows: batch.rows.clone(),
            dead_letters: vec![],
            checkpoint: SequenceNumber("77".into()),
            redrive: false,
            rewound: false,
            partial: false,
            lease_owner: None,
        };
        let latest: Vec<(i64, &str)> = fb.latest_rows().iter().map(|r| (r.order_id, r.order_status)).collect();
        assert_eq!(latest, [(2, "Processing"), (1, "Delivered")]);
        // The magic number with a bad MD5: a plain record, dead-lettered whole.
        let mut damaged = kpl::aggregate([("1", event(5, "Processing").as_slice())]);
        *damaged.last_mut().unwrap() ^= 1;
        let mut batch = Batch::default();
        assert_eq!(take_record("s", &record("78", damaged.clone()), &mut batch), 1);
        assert!(batch.rows.is_empty());
        assert_eq!(batch.dead[0].sequence_number, "78");
        assert_eq!(batch.dead[0].payload, damaged);
        assert!(
            batch.dead[0]
                .reason
                .contains("magic number but is no aggregate: its MD5")
        );
    }

    #[test]
    fn a_piece_is_never_cut_inside_one_order_of_one_aggregate() {
        let mut batch = Batch::default();
        take_record("s", &record("5", event(9, "Processing")), &mut batch);
        let users = [event(1, "Processing"), event(2, "Processing"), event(1, "Delivered")];
        take_record(
            "s",
            &record("6", kpl::aggregate(users.iter().map(|u| ("1", u.as_slice())))),
            &mut batch,
        );
        take_record("s", &record("7", b"poison".to_vec()), &mut batch);
        let piece = FactBatch {
            stream: "s".into(),
            shard_id: "s".into(),
            rows: batch.rows,
            dead_letters: batch.dead,
            checkpoint: SequenceNumber("7".into()),
            redrive: false,
            rewound: false,
            partial: false,
            lease_owner: None,
        };
        let seqs = |b: &FactBatch| b.rows.iter().map(|r| r.sequence_number.to_string()).collect::<Vec<_>>();
        // Between the records: the aggregate stays whole.
        let (a, b) = split(&piece).unwrap();
        assert_eq!(
            (seqs(&a), a.checkpoint.0.as_str(), a.partial),
            (vec!["5".to_string()], "5", false)
        );
        assert_eq!(seqs(&b), ["6:0", "6:1", "6:2"]);
        assert_eq!(
            (b.checkpoint.0.as_str(), b.dead_letters.len(), b.partial),
            ("7", 1, false)
        );
        // Inside the aggregate: by order, the first part partial.
        let (c, d) = split(&b).unwrap();
        assert_eq!(
            (seqs(&c), c.partial, c.dead_letters.len()),
            (vec!["6:0".into(), "6:2".into()], true, 0)
        );
        assert_eq!(
            (seqs(&d), d.partial, d.dead_letters.len()),
            (vec!["6:1".to_string()], false, 1)
        );
        assert!(split(&c).is_none(), "one order of one record");
    }
}
