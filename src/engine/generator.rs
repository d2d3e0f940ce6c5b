//! The mock-order generator: builds order events in the reference shape at a
//! target rate (held by a token-bucket rate limiter), puts them in PutRecords
//! batches, retries exactly the failed entries with backoff, and later emits
//! status updates for acknowledged orders. It knows only the `Stream` port.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::dimensions::DimensionIds;
use super::event::{OrderEvent, STATUSES, format_order_date, parse_order_date};
use super::snapshot::GeneratorState;
use super::state::{Counters, Shared};
use crate::backend::{PutEntry, PutOutcome, Stream, Warehouse, WarehouseError, backoff};

/// Largest PutRecords request body Kinesis accepts.
const MAX_PUT_BYTES: usize = 5 << 20;
/// Order IDs are reserved on disk in blocks, so they stay unique across restarts and crashes.
const ID_BLOCK: i64 = 100_000;
/// Bound on scheduled status updates (memory).
const MAX_PENDING_UPDATES: usize = 200_000;
/// A record failing with a non-throttle error is given up after this many tries.
const MAX_ATTEMPTS: u32 = 10;

/// What the front end controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorControl {
    pub paused: bool,
    pub rate: u32,
}

/// Hands out OrderIDs unique across restarts: a block is written (fsynced) to
/// `path` before any ID in it is used — or, where the warehouse is shared by
/// several instances (AWS), claimed in the warehouse, where every instance
/// sees the claims.
pub struct OrderIds {
    path: PathBuf,
    next: i64,
    end: i64,
    shared: Option<Arc<dyn Warehouse>>,
}

impl OrderIds {
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        Ok(OrderIds {
            path,
            next: 0,
            end: 0,
            shared: None,
        })
    }

    /// Blocks claimed in `warehouse` if it reserves them, else in `path`.
    pub fn shared(path: PathBuf, warehouse: Arc<dyn Warehouse>) -> Self {
        OrderIds {
            path,
            next: 0,
            end: 0,
            shared: Some(warehouse),
        }
    }

    /// Before a batch of `n` new orders: with blocks claimed in the
    /// warehouse, make sure `n` IDs are in hand (the rest of a block too
    /// small is left unused).
    /// Fails with the warehouse's error when it could not claim a block.
    pub async fn ensure(&mut self, n: i64) -> Result<(), WarehouseError> {
        let Some(w) = &self.shared else { return Ok(()) };
        if self.end - self.next >= n {
            return Ok(());
        }
        match w.reserve_order_ids(ID_BLOCK).await? {
            Some(first) => {
                tracing::info!(
                    first,
                    end = first + ID_BLOCK,
                    "claimed an order id block in the warehouse"
                );
                self.next = first;
                self.end = first + ID_BLOCK;
                Ok(())
            }
            // The warehouse doesn't share: the local file it is.
            None => {
                self.shared = None;
                Ok(())
            }
        }
    }

    pub fn next_id(&mut self) -> std::io::Result<i64> {
        if self.shared.is_some() && self.next >= self.end {
            return Err(std::io::Error::other("no order id block claimed"));
        }
        if self.next >= self.end {
            let start = match std::fs::read_to_string(&self.path) {
                Ok(s) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| std::io::Error::other(format!("{} does not hold an order id", self.path.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
                Err(e) => return Err(e),
            };
            // Durable before any id of the block is used: the rename and
            // its directory entry fsynced too.
            crate::durable::write(&self.path, (start + ID_BLOCK).to_string().as_bytes())?;
            self.next = start;
            self.end = start + ID_BLOCK;
        }
        self.next += 1;
        Ok(self.next - 1)
    }
}

struct Pending {
    event: OrderEvent,
    is_new: bool,
}

/// A scheduled status update, kept compact (40 bytes, no heap): at 100,000
/// events/s up to `MAX_PENDING_UPDATES` of these wait at once.
struct Update {
    order_id: i64,
    order_date_micros: i64,
    /// When it is due: milliseconds after the generator's `epoch`, modulo
    /// 2^32 (compared with wrapping: updates are due seconds ahead).
    due_ms: u32,
    customer_id: i32,
    restaurant_id: i32,
    rider_id: i32,
    /// Order value, delivery fee and tip in cents (the generator makes them
    /// as whole cents up to 100.00, so they come back as the same numbers).
    cents: [u16; 3],
    delivery_time: u8,
    /// Index into `STATUSES`.
    status: u8,
}

fn cents(v: f64) -> Option<u16> {
    let c = (v * 100.0).round();
    (0.0..=u16::MAX as f64).contains(&c).then_some(c as u16)
}

impl Update {
    /// Due at `now_ms` (milliseconds after the epoch)?
    fn is_due(&self, now_ms: u64) -> bool {
        (now_ms as u32).wrapping_sub(self.due_ms) as i32 >= 0
    }

    fn into_event(self, emitted_ms: i64) -> OrderEvent {
        let date = chrono::DateTime::from_timestamp_micros(self.order_date_micros).map_or_else(
            || format_order_date(chrono::NaiveDateTime::default()),
            |d| format_order_date(d.naive_utc()),
        );
        OrderEvent {
            order_id: self.order_id,
            customer_id: self.customer_id,
            restaurant_id: self.restaurant_id,
            rider_id: self.rider_id,
            order_date: date,
            delivery_time: self.delivery_time as i32,
            order_value: self.cents[0] as f64 / 100.0,
            delivery_fee: self.cents[1] as f64 / 100.0,
            tip_amount: self.cents[2] as f64 / 100.0,
            order_status: STATUSES[self.status as usize].to_string(),
            emitted_at: Some(emitted_ms),
        }
    }
}

pub struct Generator {
    pub shared: Arc<Shared>,
    pub stream: Arc<dyn Stream>,
    pub ids: watch::Receiver<Arc<DimensionIds>>,
    pub control: watch::Receiver<GeneratorControl>,
    pub order_ids: OrderIds,
    pub status_updates: bool,
    /// Where open orders of earlier runs are found, to resume their status
    /// updates (None: not resumed).
    pub resume: Option<Resume>,
    pub batch_records: usize,
}

/// The warehouse the pending status updates are derived from again on
/// start: an order still `Processing` or `On the way` there, from an
/// earlier run, gets its next status as if it had never been interrupted.
pub struct Resume {
    pub warehouse: Arc<dyn Warehouse>,
    pub schema: String,
    /// How long after reaching the stream's tip what was read is committed
    /// (a few batch ages).
    pub settle: Duration,
}

/// After this long waiting for the ingester to catch up, the resume says
/// what it waits for.
const RESUME_WAIT: Duration = Duration::from_secs(30);

impl Generator {
    fn set_state(&self, s: GeneratorState) {
        self.shared.set_generator_state(s);
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut rng = SmallRng::from_os_rng();
        // Grown as the rate needs, up to its bound (`room_to_reserve`).
        let mut updates: VecDeque<Update> = VecDeque::new();
        let epoch = Instant::now();
        let mut limiter: Option<(u32, RateLimiter<_, _, _>)> = None;
        let mut last_error = (String::new(), Instant::now());
        let mut carry: Vec<Pending> = Vec::new();
        // The first OrderID this run hands out: orders below it are earlier
        // runs', whose pending updates the resume finds in the warehouse.
        let mut first_id: Option<i64> = None;
        let mut resumed: Option<tokio::sync::oneshot::Receiver<Result<Vec<Update>, WarehouseError>>> = None;
        while !cancel.is_cancelled() {
            if let Some(rx) = &mut resumed {
                match rx.try_recv() {
                    Ok(Ok(list)) => {
                        resumed = None;
                        let n = list.len() as u64;
                        let room = MAX_PENDING_UPDATES.saturating_sub(updates.len());
                        let taken = list.len().min(room);
                        updates.extend(list.into_iter().take(taken));
                        Counters::add(&self.shared.counters().updates_resumed, taken as u64);
                        Counters::add(&self.shared.counters().updates_given_up, n - taken as u64);
                        tracing::info!(
                            resumed = taken,
                            "status updates of open orders from earlier runs resumed"
                        );
                    }
                    Ok(Err(e)) => {
                        resumed = None;
                        self.shared
                            .error("generator", format!("resuming status updates of open orders: {e}"));
                    }
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
                    Err(tokio::sync::oneshot::error::TryRecvError::Closed) => resumed = None,
                }
            }
            let ids = self.ids.borrow().clone();
            if !ids.is_usable() {
                self.set_state(GeneratorState::WaitingForDimensions);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.ids.changed() => continue,
                }
            }
            let ctl = *self.control.borrow();
            self.shared.set_target_rate(ctl.rate);
            if ctl.paused || ctl.rate == 0 {
                self.set_state(GeneratorState::Paused);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.control.changed() => continue,
                }
            }
            self.set_state(GeneratorState::Running);
            let burst = (ctl.rate / 10).clamp(1, self.batch_records as u32);
            if limiter.as_ref().is_none_or(|(r, _)| *r != ctl.rate) {
                // The bucket holds a tenth of a second (at least a batch): a
                // round that came late — a slow put, a busy core — is made
                // up by the next ones. Holding one batch, at 100,000/s that
                // is 5 ms, and every longer stall lost rate for good.
                let slack = (ctl.rate / 10).max(burst);
                let quota = Quota::per_second(NonZeroU32::new(ctl.rate).expect("rate > 0"))
                    .allow_burst(NonZeroU32::new(slack).expect("slack > 0"));
                limiter = Some((ctl.rate, RateLimiter::direct(quota)));
            }
            let (_, lim) = limiter.as_ref().expect("set above");
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.control.changed() => continue,
                r = lim.until_n_ready(NonZeroU32::new(burst).expect("burst > 0")) => { let _ = r; }
            }
            // Records a full shard turned away last round go first; new
            // orders fill the batch up to `burst`, so other shards keep
            // getting work meanwhile and the backlog stays bounded.
            let mut batch = std::mem::take(&mut carry);
            let carried = batch.len();
            let now_ms = epoch.elapsed().as_millis() as u64;
            // One wall-clock reading per batch: every event of it is emitted now.
            let wall = chrono::Utc::now();
            while batch.len() < burst as usize && updates.front().is_some_and(|u| u.is_due(now_ms)) {
                let u = updates.pop_front().expect("checked");
                batch.push(Pending {
                    event: u.into_event(wall.timestamp_millis()),
                    is_new: false,
                });
            }
            // No new orders without IDs; what is already in the batch goes.
            let mut have_ids = true;
            if batch.len() < burst as usize
                && let Err(e) = self.order_ids.ensure(burst as i64).await
            {
                self.shared
                    .error("generator", format!("claiming order ids in the warehouse: {e}"));
                have_ids = false;
                tokio::select! { _ = cancel.cancelled() => {}, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
            }
            while have_ids && batch.len() < burst as usize {
                match self.new_order(&ids, &mut rng, wall) {
                    Ok(e) => {
                        if first_id.is_none() {
                            first_id = Some(e.order_id);
                            if let Some(r) = self.resume.take() {
                                let (tx, rx) = tokio::sync::oneshot::channel();
                                resumed = Some(rx);
                                let shared = Arc::clone(&self.shared);
                                let (cancel, below) = (cancel.clone(), e.order_id);
                                tokio::spawn(async move {
                                    let _ = tx.send(open_orders(r, shared, below, epoch, cancel).await);
                                });
                            }
                        }
                        batch.push(Pending { event: e, is_new: true })
                    }
                    Err(e) => {
                        self.shared.error("generator", format!("cannot reserve order ids: {e}"));
                        tokio::select! { _ = cancel.cancelled() => break, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
                        break;
                    }
                }
            }
            Counters::add(&self.shared.counters().generated, (batch.len() - carried) as u64);
            let (acked, throttled) = self.put_with_retry(batch, &cancel, &mut last_error).await;
            carry = throttled;
            if self.status_updates {
                let now_ms = epoch.elapsed().as_millis() as u64;
                for p in acked {
                    if updates.len() >= MAX_PENDING_UPDATES {
                        // Counted, not silent: the order keeps its status.
                        if matches!(p.event.order_status.as_str(), "Processing" | "On the way") {
                            Counters::add(&self.shared.counters().updates_given_up, 1);
                        }
                        continue;
                    }
                    if let Some(u) = next_status(&p.event, now_ms, &mut rng) {
                        let (len, cap) = (updates.len(), updates.capacity());
                        if let Some(n) = crate::memory::room_to_reserve(len, cap, 1, MAX_PENDING_UPDATES) {
                            updates.reserve_exact(n);
                        }
                        updates.push_back(u);
                    }
                }
            }
        }
        // Never acknowledged, so not lost: counted as failed.
        Counters::add(&self.shared.counters().failed, carry.len() as u64);
        self.set_state(GeneratorState::Stopped);
    }

    fn new_order(
        &mut self,
        ids: &DimensionIds,
        rng: &mut SmallRng,
        now: chrono::DateTime<chrono::Utc>,
    ) -> std::io::Result<OrderEvent> {
        let order_id = self.order_ids.next_id()?;
        // Most orders happen now; a few arrive late, dated up to 30 days back,
        // as the reference producer's spread does. None is dropped.
        let date = if rng.random_bool(0.05) {
            now - chrono::Duration::seconds(rng.random_range(60..30 * 86_400))
        } else {
            now
        };
        let status = if self.status_updates {
            if rng.random_bool(0.05) {
                "Cancelled"
            } else {
                "Processing"
            }
        } else {
            [
                "Delivered",
                "Delivered",
                "Delivered",
                "Cancelled",
                "Processing",
                "On the way",
            ][rng.random_range(0..6)]
        };
        let money = |rng: &mut SmallRng, lo: u32, hi: u32| rng.random_range(lo * 100..=hi * 100) as f64 / 100.0;
        Ok(OrderEvent {
            order_id,
            customer_id: ids.customers[rng.random_range(0..ids.customers.len())],
            restaurant_id: ids.restaurants[rng.random_range(0..ids.restaurants.len())],
            rider_id: ids.riders[rng.random_range(0..ids.riders.len())],
            order_date: format_order_date(date.naive_utc()),
            delivery_time: rng.random_range(15..=60),
            order_value: money(rng, 10, 100),
            delivery_fee: money(rng, 2, 10),
            tip_amount: money(rng, 0, 20),
            order_status: status.to_string(),
            emitted_at: Some(now.timestamp_millis()),
        })
    }

    /// Put `batch` until every record is acknowledged or only throttled
    /// ones are left (failures are retried with backoff here). Returns the
    /// acknowledged and the throttled, which the caller puts first into its
    /// next batch: a full shard's window reopens within a second, and the
    /// other shards need not wait for it.
    async fn put_with_retry(
        &self,
        batch: Vec<Pending>,
        cancel: &CancellationToken,
        last_error: &mut (String, Instant),
    ) -> (Vec<Pending>, Vec<Pending>) {
        let c = self.shared.counters();
        let mut todo: Vec<(Pending, u32)> = batch.into_iter().map(|p| (p, 0)).collect();
        let mut acked = Vec::new();
        let mut round = 0u32;
        while !todo.is_empty() {
            let mut retry = Vec::new();
            // Only throttled (no failure) this round: the shard's window
            // reopens within a second, so retry soon rather than idling.
            let mut only_throttled = true;
            let mut rest = std::mem::take(&mut todo).into_iter().peekable();
            while rest.peek().is_some() {
                let mut chunk = Vec::new();
                let mut entries = Vec::new();
                let mut bytes = 0;
                while let Some((p, _)) = rest.peek() {
                    let data = p.event.to_json();
                    let key = itoa::Buffer::new().format(p.event.order_id).to_string();
                    if !entries.is_empty() && (entries.len() == 500 || bytes + data.len() + key.len() > MAX_PUT_BYTES) {
                        break;
                    }
                    bytes += data.len() + key.len();
                    entries.push(PutEntry {
                        partition_key: key,
                        data,
                    });
                    chunk.push(rest.next().expect("peeked"));
                }
                Counters::add(&c.sent, entries.len() as u64);
                match self.stream.put_records(entries).await {
                    Ok(outcomes) => {
                        for ((p, attempts), o) in chunk.into_iter().zip(outcomes) {
                            match o {
                                PutOutcome::Ok { .. } => {
                                    Counters::add(&c.acknowledged, 1);
                                    if p.is_new {
                                        Counters::add(&c.orders_acknowledged, 1);
                                    }
                                    acked.push(p);
                                }
                                o if o.is_throttle() => {
                                    Counters::add(&c.throttled, 1);
                                    retry.push((p, attempts));
                                }
                                PutOutcome::Failed {
                                    error_code,
                                    error_message,
                                } => {
                                    only_throttled = false;
                                    self.report(last_error, format!("put failed: {error_code}: {error_message}"));
                                    if attempts + 1 >= MAX_ATTEMPTS {
                                        Counters::add(&c.failed, 1);
                                    } else {
                                        retry.push((p, attempts + 1));
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        only_throttled = false;
                        self.report(last_error, format!("PutRecords failed: {e}"));
                        for (p, attempts) in chunk {
                            if attempts + 1 >= MAX_ATTEMPTS {
                                Counters::add(&c.failed, 1);
                            } else {
                                retry.push((p, attempts + 1));
                            }
                        }
                    }
                }
            }
            todo = retry;
            if todo.is_empty() {
                break;
            }
            if only_throttled {
                return (acked, todo.into_iter().map(|(p, _)| p).collect());
            }
            let wait = backoff(round, Duration::from_millis(50), Duration::from_secs(2));
            round += 1;
            tokio::select! {
                _ = cancel.cancelled() => {
                    // Never acknowledged, so not lost: counted as failed.
                    Counters::add(&c.failed, todo.len() as u64);
                    break;
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        (acked, Vec::new())
    }

    /// Surface an error without flooding: the same message at most every 5 s.
    fn report(&self, last: &mut (String, Instant), message: String) {
        if last.0 != message || last.1.elapsed() > Duration::from_secs(5) {
            self.shared.error("generator", message.clone());
            *last = (message, Instant::now());
        }
    }
}

/// The pending status updates of orders earlier runs left open: every
/// order below `below` that the warehouse holds as `Processing` or `On the
/// way`, once the ingester has loaded what the stream held at start (an
/// update still in the stream would otherwise be emitted again after a
/// later one, and the order's status go back). The newest `MAX_PENDING_UPDATES` are scheduled; the
/// rest stay open until a later start finds room for them.
async fn open_orders(
    r: Resume,
    shared: Arc<Shared>,
    below: i64,
    epoch: Instant,
    cancel: CancellationToken,
) -> Result<Vec<Update>, WarehouseError> {
    let waited = Instant::now();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut said = false;
    loop {
        let (all, total) = shared.read_shards(|shards| {
            for s in shards {
                // Reached the tip after a read (MillisBehindLatest is 0 before
                // the first one too): what the stream held at start is read.
                let read = s.read_total > 0 || waited.elapsed() > Duration::from_secs(5);
                if read && s.lag.millis_behind_latest == 0 {
                    seen.insert(s.lag.shard_id.clone());
                }
            }
            (shards.iter().all(|s| seen.contains(&s.lag.shard_id)), shards.len())
        });
        if all && total > 0 {
            break;
        }
        if !said && waited.elapsed() >= RESUME_WAIT {
            said = true;
            tracing::warn!("status updates of open orders resume once the ingester has caught up with the stream");
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(Vec::new()),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    // Read is not yet committed: a batch's age later, it is.
    tokio::select! {
        _ = cancel.cancelled() => return Ok(Vec::new()),
        _ = tokio::time::sleep(r.settle) => {}
    }
    let rs = r
        .warehouse
        .query(&format!(
            "SELECT OrderID, CustomerID, RestaurantID, RiderID, OrderDate, DeliveryTime, OrderValue, DeliveryFee, \
             TipAmount, OrderStatus FROM {}.factOrders WHERE OrderStatus IN ('Processing', 'On the way') \
             AND OrderID < {below} ORDER BY OrderID DESC LIMIT {MAX_PENDING_UPDATES}",
            r.schema
        ))
        .await?;
    let mut rng = SmallRng::from_os_rng();
    let now_ms = epoch.elapsed().as_millis() as u64;
    let mut out = Vec::with_capacity(rs.rows.len());
    for row in &rs.rows {
        if let Some(event) = open_order(row)
            && let Some(u) = next_status(&event, now_ms, &mut rng)
        {
            out.push(u);
        }
    }
    // Oldest first, as the queue is.
    out.reverse();
    Ok(out)
}

/// An open order read back from factOrders (None: not one the generator
/// made, so not its to update).
fn open_order(row: &[Option<String>]) -> Option<OrderEvent> {
    let cell = |i: usize| row.get(i)?.as_deref();
    let int = |i: usize| cell(i)?.trim().parse::<i64>().ok();
    let money = |i: usize| cell(i)?.trim().parse::<f64>().ok();
    let date = chrono::NaiveDateTime::parse_from_str(cell(4)?.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    Some(OrderEvent {
        order_id: int(0)?,
        customer_id: i32::try_from(int(1)?).ok()?,
        restaurant_id: i32::try_from(int(2)?).ok()?,
        rider_id: i32::try_from(int(3)?).ok()?,
        order_date: format_order_date(date),
        delivery_time: i32::try_from(int(5)?).ok()?,
        order_value: money(6)?,
        delivery_fee: money(7)?,
        tip_amount: money(8)?,
        order_status: cell(9)?.to_string(),
        emitted_at: None,
    })
}

/// The next status of an acknowledged order, due a few seconds later.
fn next_status(event: &OrderEvent, now_ms: u64, rng: &mut SmallRng) -> Option<Update> {
    let next = match event.order_status.as_str() {
        "Processing" => "On the way",
        "On the way" => {
            if rng.random_bool(0.03) {
                "Cancelled"
            } else {
                "Delivered"
            }
        }
        _ => return None,
    };
    Some(Update {
        due_ms: (now_ms + rng.random_range(1000..4000)) as u32,
        order_id: event.order_id,
        order_date_micros: parse_order_date(&event.order_date)?.and_utc().timestamp_micros(),
        customer_id: event.customer_id,
        restaurant_id: event.restaurant_id,
        rider_id: event.rider_id,
        delivery_time: u8::try_from(event.delivery_time).ok()?,
        cents: [
            cents(event.order_value)?,
            cents(event.delivery_fee)?,
            cents(event.tip_amount)?,
        ],
        status: STATUSES.iter().position(|s| *s == next)? as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_update_is_the_same_order_with_the_next_status() {
        let mut rng = SmallRng::seed_from_u64(7);
        let order = OrderEvent {
            order_id: 9_000_000_001,
            customer_id: 12,
            restaurant_id: 34,
            rider_id: 56,
            order_date: "2026-11-30T23:59:58.123456".into(),
            delivery_time: 42,
            order_value: 99.99,
            delivery_fee: 2.05,
            tip_amount: 0.0,
            order_status: "Processing".into(),
            emitted_at: Some(1),
        };
        assert_eq!(std::mem::size_of::<Update>(), 40);
        let u = next_status(&order, 5_000, &mut rng).expect("Processing has a next status");
        assert!((6_000..9_000).contains(&u.due_ms));
        assert!(!u.is_due(5_999) && u.is_due(9_000));
        // Due times are kept modulo 2^32 ms (49.7 days) and still compare
        // right across the wrap.
        let near_wrap = u64::from(u32::MAX) - 500;
        let w = next_status(&order, near_wrap, &mut rng).unwrap();
        assert!(w.due_ms < 4_000, "wrapped");
        assert!(!w.is_due(near_wrap) && !w.is_due(near_wrap + 999) && w.is_due(near_wrap + 4_000));
        let next = u.into_event(77);
        assert_eq!(
            next,
            OrderEvent {
                order_status: "On the way".into(),
                emitted_at: Some(77),
                ..order.clone()
            }
        );
        let last = next_status(&next, 0, &mut rng).unwrap().into_event(78);
        assert!(["Delivered", "Cancelled"].contains(&last.order_status.as_str()));
        assert_eq!(last.order_value.to_bits(), order.order_value.to_bits());
        assert!(
            next_status(&last, 0, &mut rng).is_none(),
            "a closed order has no update"
        );
    }
}
