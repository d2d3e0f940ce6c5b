//! The pipeline's work: dimension loader, generator, ingester, live queries.
//!
//! [`start`] runs them as tokio tasks over the ports in `backend` and hands
//! back an [`EngineHandle`]: a `watch` of [`Snapshot`]s, an `mpsc` of
//! [`Command`]s, and a stop that drains. Front ends never touch the tasks.

pub mod dimensions;
pub mod event;
pub mod generator;
pub mod ingester;
pub mod queries;
pub mod snapshot;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::backend::{
    ObjectStore, ObjectStoreError, ObjectUri, Stream, TableName, Warehouse, WarehouseError, ident::Ident,
};
use dimensions::{DimensionIds, DimensionLoader};
use generator::{Generator, GeneratorControl, OrderIds, Resume};
use ingester::{IngestError, Ingester, Stop};
use queries::{QueryRunner, QuerySource};
use snapshot::{BackendInfo, DimensionLoad, LoadState};
pub use snapshot::{Command, Snapshot};
use state::{Counters, Shared};

/// The ports the engine works through.
#[derive(Clone)]
pub struct Ports {
    pub stream: Arc<dyn Stream>,
    pub objects: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
}

/// What the engine needs to know, resolved from config and flags.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub backend: BackendInfo,
    pub schema: Ident,
    pub bucket: String,
    pub dims_prefix: String,
    pub dimension_rows: [u32; 3],
    pub dimension_seed: u64,
    pub regenerate_dimensions: bool,
    pub rate: u32,
    pub start_paused: bool,
    pub status_updates: bool,
    pub put_batch_records: usize,
    pub ingest_batch_records: usize,
    pub ingest_batch_age: Duration,
    pub reads_per_sec: u64,
    pub queries: QuerySource,
    pub read_only: bool,
    /// Where the generator reserves OrderID blocks.
    pub state_dir: PathBuf,
    /// Longest the ingester may take to drain on stop.
    pub drain_timeout: Duration,
    /// Where a shard with no checkpoint starts.
    pub start: crate::ops::Position,
    /// This instance's shard leases.
    pub lease: ingester::LeaseSettings,
}

/// Final counts of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub generated: u64,
    pub acknowledged: u64,
    /// Distinct new orders acknowledged (each may have had status updates).
    pub acknowledged_orders: u64,
    pub ingested: u64,
    pub dead_lettered: u64,
    /// Records retention dropped before they were read: lost.
    #[serde(default)]
    pub expired: u64,
    /// Status updates given up past the pending bound.
    #[serde(default)]
    pub updates_given_up: u64,
    pub throttled: u64,
    pub failed: u64,
    /// Rows in factOrders at the end (all runs on this warehouse).
    pub fact_rows: Option<u64>,
    pub drained: bool,
    pub seconds: f64,
}

/// Why the engine stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("creating the warehouse schema: {0}")]
    Schema(WarehouseError),
    #[error("moving old dead letters: {0}")]
    OldDeadLetters(crate::ops::OpError),
    #[error("uploading dimension CSVs: {0}")]
    DimensionSources(ObjectStoreError),
    #[error("ingester: {0}")]
    Ingester(IngestError),
    #[error("{what} task failed: {error}")]
    Task {
        what: &'static str,
        error: tokio::task::JoinError,
    },
}

pub struct EngineHandle {
    pub snapshots: watch::Receiver<Snapshot>,
    pub commands: mpsc::Sender<Command>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<Summary, EngineError>>,
}

impl EngineHandle {
    /// Ask the engine to stop: the generator stops, the ingester drains.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Wait for the engine to finish (after `stop`, or a fatal error).
    pub async fn wait(self) -> Result<Summary, EngineError> {
        self.task
            .await
            .map_err(|error| EngineError::Task { what: "engine", error })?
    }

    /// True once the engine has finished (e.g. on a fatal error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Start the engine on `ports`.
pub fn start(settings: EngineSettings, ports: Ports) -> EngineHandle {
    let tables: Vec<(TableName, ObjectUri)> = dimensions::TABLES
        .iter()
        .map(|(t, _)| {
            let table = TableName::new(&settings.schema, t).expect("built-in table names are identifiers");
            let key = format!("{}/{t}.csv", settings.dims_prefix);
            let uri = ObjectUri::new(&settings.bucket, &key).expect("validated bucket and prefix");
            (table, uri)
        })
        .collect();
    let dims = tables
        .iter()
        .map(|(t, u)| DimensionLoad {
            table: t.table.to_string(),
            source: u.to_string(),
            state: LoadState::Pending,
            last_loaded: None,
        })
        .collect();
    let shared = Arc::new(Shared::new(settings.backend.clone(), settings.read_only, dims));
    shared.set_target_rate(settings.rate);
    let (snap_tx, snap_rx) = watch::channel(shared.snapshot());
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(settings, ports, shared, tables, snap_tx, cmd_rx, stop.clone()));
    EngineHandle {
        snapshots: snap_rx,
        commands: cmd_tx,
        stop,
        task,
    }
}

async fn run(
    settings: EngineSettings,
    ports: Ports,
    shared: Arc<Shared>,
    tables: Vec<(TableName, ObjectUri)>,
    snap_tx: watch::Sender<Snapshot>,
    mut cmd_rx: mpsc::Receiver<Command>,
    stop: CancellationToken,
) -> Result<Summary, EngineError> {
    let started = Instant::now();
    // The publisher runs from the start so front ends see the set-up too.
    let publisher_stop = CancellationToken::new();
    let publisher = tokio::spawn(publish(Arc::clone(&shared), snap_tx, publisher_stop.clone()));
    let result = run_pipeline(&settings, &ports, &shared, tables, &mut cmd_rx, &stop).await;
    publisher_stop.cancel();
    let _ = publisher.await;
    let fact_rows = match ports
        .warehouse
        .query(&format!("SELECT COUNT(*) FROM {}.factOrders", settings.schema))
        .await
    {
        Ok(rs) => rs.rows.first().and_then(|r| r[0].as_deref()?.parse().ok()),
        Err(_) => None,
    };
    let c = shared.counters();
    let summary = Summary {
        generated: Counters::get(&c.generated),
        acknowledged: Counters::get(&c.acknowledged),
        acknowledged_orders: Counters::get(&c.orders_acknowledged),
        ingested: Counters::get(&c.ingested),
        dead_lettered: Counters::get(&c.dead_lettered),
        expired: Counters::get(&c.expired),
        updates_given_up: Counters::get(&c.updates_given_up),
        throttled: Counters::get(&c.throttled),
        failed: Counters::get(&c.failed),
        fact_rows,
        drained: result.as_ref().is_ok_and(|d| *d),
        seconds: started.elapsed().as_secs_f64(),
    };
    result.map(|_| summary)
}

/// Set up, run until `stop`, then drain. Ok(true) if the drain finished in time.
async fn run_pipeline(
    settings: &EngineSettings,
    ports: &Ports,
    shared: &Arc<Shared>,
    tables: Vec<(TableName, ObjectUri)>,
    cmd_rx: &mut mpsc::Receiver<Command>,
    stop: &CancellationToken,
) -> Result<bool, EngineError> {
    ports.warehouse.ensure_schema().await.map_err(EngineError::Schema)?;
    crate::ops::dlq::migrate_old_table(ports.warehouse.as_ref(), &settings.schema, ports.stream.name())
        .await
        .map_err(EngineError::OldDeadLetters)?;
    let loader = Arc::new(DimensionLoader {
        shared: Arc::clone(shared),
        objects: Arc::clone(&ports.objects),
        warehouse: Arc::clone(&ports.warehouse),
        tables,
    });
    loader
        .ensure_sources(
            settings.dimension_rows,
            settings.dimension_seed,
            settings.regenerate_dimensions,
        )
        .await
        .map_err(EngineError::DimensionSources)?;
    // Dimensions first, then ingestion (as the reference's chained DAGs).
    loader.load_all().await;
    let (ids_tx, ids_rx) = watch::channel(Arc::new(DimensionIds::default()));
    refresh_ids(&loader, &ids_tx).await;

    let (ctl_tx, ctl_rx) = watch::channel(GeneratorControl {
        paused: settings.start_paused,
        rate: settings.rate,
    });
    let gen_stop = CancellationToken::new();
    let generator = Generator {
        shared: Arc::clone(shared),
        stream: Arc::clone(&ports.stream),
        ids: ids_rx,
        control: ctl_rx,
        order_ids: OrderIds::shared(settings.state_dir.join("next-order-id"), Arc::clone(&ports.warehouse)),
        status_updates: settings.status_updates,
        resume: (settings.status_updates && !settings.read_only).then(|| Resume {
            warehouse: Arc::clone(&ports.warehouse),
            schema: settings.schema.to_string(),
            settle: settings.ingest_batch_age * 2 + Duration::from_secs(1),
        }),
        batch_records: settings.put_batch_records,
    };
    let ingest_stop = Stop {
        drain: CancellationToken::new(),
        abort: CancellationToken::new(),
    };
    let ingester = Ingester {
        shared: Arc::clone(shared),
        stream: Arc::clone(&ports.stream),
        warehouse: Arc::clone(&ports.warehouse),
        batch_records: settings.ingest_batch_records,
        batch_age: settings.ingest_batch_age,
        reads_per_sec: settings.reads_per_sec,
        start: settings.start,
        lease: settings.lease.clone(),
    };
    let mut ingest_task = tokio::spawn(ingester.run(ingest_stop.clone()));
    let gen_task = tokio::spawn(generator.run(gen_stop.clone()));
    let mut runner = QueryRunner::new(
        Arc::clone(shared),
        Arc::clone(&ports.warehouse),
        settings.queries.clone(),
    );
    let mut ingest_done = false;
    let mut commands_open = true;

    loop {
        let next = runner
            .next_due()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = stop.cancelled() => break,
            r = &mut ingest_task, if !ingest_done => {
                ingest_done = true;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { gen_stop.cancel(); return Err(EngineError::Ingester(e)); }
                    Err(error) => { gen_stop.cancel(); return Err(EngineError::Task { what: "ingester", error }); }
                }
            }
            cmd = cmd_rx.recv(), if commands_open => match cmd {
                Some(Command::StopService) if !settings.read_only => {
                    tracing::info!("stop requested by a console or `courier stop`");
                    break;
                }
                Some(cmd) => handle_command(cmd, settings, shared, &loader, &ids_tx, &ctl_tx, &mut runner).await,
                None => commands_open = false,
            },
            _ = tokio::time::sleep_until(next.into()) => runner.run_due().await,
        }
    }

    // Stop: generator first (nothing new is acknowledged), then drain the ingester.
    shared.set_stopping();
    gen_stop.cancel();
    let _ = gen_task.await;
    ingest_stop.drain.cancel();
    if ingest_done {
        return Ok(true);
    }
    match tokio::time::timeout(settings.drain_timeout, &mut ingest_task).await {
        Ok(Ok(Ok(()))) => Ok(true),
        Ok(Ok(Err(e))) => Err(EngineError::Ingester(e)),
        Ok(Err(error)) => Err(EngineError::Task {
            what: "ingester",
            error,
        }),
        Err(_) => {
            shared.error(
                "ingester",
                "drain timed out; the rest is re-read from the checkpoints next run",
            );
            ingest_stop.abort.cancel();
            let _ = ingest_task.await;
            Ok(false)
        }
    }
}

async fn refresh_ids(loader: &DimensionLoader, ids_tx: &watch::Sender<Arc<DimensionIds>>) {
    match loader.ids().await {
        Ok(ids) => {
            let _ = ids_tx.send(Arc::new(ids));
        }
        Err(e) => loader.shared.error("dimensions", format!("reading dimension ids: {e}")),
    }
}

async fn handle_command(
    cmd: Command,
    settings: &EngineSettings,
    shared: &Arc<Shared>,
    loader: &Arc<DimensionLoader>,
    ids_tx: &watch::Sender<Arc<DimensionIds>>,
    ctl_tx: &watch::Sender<GeneratorControl>,
    runner: &mut QueryRunner,
) {
    if settings.read_only && cmd.is_mutation() {
        shared.error("command", format!("refused {cmd:?}: courier is read-only"));
        return;
    }
    match cmd {
        Command::ReloadDimension(table) => {
            let (loader, ids_tx) = (Arc::clone(loader), ids_tx.clone());
            tokio::spawn(async move {
                if loader.load(&table).await.is_ok() {
                    refresh_ids(&loader, &ids_tx).await;
                }
            });
        }
        Command::ReloadAllDimensions => {
            let (loader, ids_tx) = (Arc::clone(loader), ids_tx.clone());
            tokio::spawn(async move {
                loader.load_all().await;
                refresh_ids(&loader, &ids_tx).await;
            });
        }
        Command::PauseGenerator => ctl_tx.send_modify(|c| c.paused = true),
        Command::ResumeGenerator => ctl_tx.send_modify(|c| c.paused = false),
        Command::ToggleGenerator => ctl_tx.send_modify(|c| c.paused = !c.paused),
        Command::SetRate(rate) => {
            let rate = rate.min(snapshot::MAX_RATE);
            shared.set_target_rate(rate);
            ctl_tx.send_modify(|c| c.rate = rate);
        }
        Command::ScaleRate(step) => ctl_tx.send_modify(|c| {
            c.rate = step.apply(c.rate);
            shared.set_target_rate(c.rate);
        }),
        Command::RunQuery(i) => runner.run_now(i),
        Command::Rewind { shard, to } => {
            let known = shared.shard_ids();
            let shards: Vec<String> = match shard {
                None => known,
                Some(s) if known.contains(&s) => vec![s],
                Some(s) => {
                    shared.error("command", format!("rewind: no shard {s:?} is being read"));
                    return;
                }
            };
            tracing::info!(shards = shards.len(), to = %to.label(), "rewind asked");
            shared.ask_rewind(shards, to);
        }
        Command::ReloadQueries => runner.reload(),
        // Handled by the run loop (it ends the loop); here only when refused.
        Command::StopService => {}
    }
}

/// Publish a snapshot every 100 ms; advance rates every second.
async fn publish(shared: Arc<Shared>, tx: watch::Sender<Snapshot>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        n += 1;
        if n.is_multiple_of(10) {
            shared.tick_rates();
        }
        let _ = tx.send(shared.snapshot());
    }
    let _ = tx.send(shared.snapshot());
}
