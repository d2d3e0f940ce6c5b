//! Wiring: from a [`Config`] (plus flags) to the engine's ports and settings.
//! The binary and the integration tests build the engine the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{self, WrapErr, eyre};

use crate::backend::embedded::{DirObjectStore, DuckDbWarehouse, EmbeddedStream, StreamLimits};
use crate::config::{BackendKind, Config};
use crate::engine::queries::QuerySource;
use crate::engine::snapshot::BackendInfo;
use crate::engine::{EngineSettings, Ports};

/// Where the embedded default keeps its parts under the data dir.
#[derive(Debug, Clone)]
pub struct EmbeddedPaths {
    pub data_dir: PathBuf,
    /// Every embedded stream, one folder each: the engine's and any that
    /// `courier emulate` or the `--kinesis-endpoint` create share it.
    pub stream_dir: PathBuf,
    pub warehouse: PathBuf,
    pub objects: PathBuf,
}

impl EmbeddedPaths {
    pub fn new(data_dir: &Path) -> Self {
        EmbeddedPaths {
            data_dir: data_dir.to_path_buf(),
            stream_dir: data_dir.join("streams"),
            warehouse: data_dir.join("warehouse.duckdb"),
            objects: data_dir.join("objects"),
        }
    }
}

/// The embedded stream's limits from config.
pub fn stream_limits(config: &Config) -> StreamLimits {
    let s = &config.stream;
    StreamLimits {
        write_records_per_sec: s.write_records_per_sec,
        write_bytes_per_sec: s.write_bytes_per_sec,
        reads_per_sec: s.reads_per_sec,
        read_bytes_per_sec: s.read_bytes_per_sec,
        retention: s.retention,
        fsync: s.fsync,
        ..StreamLimits::default()
    }
}

/// Open the embedded stream, object store and warehouse under `paths`.
/// Also returns the stream itself (for retention and tests).
pub fn embedded_ports(config: &Config, paths: &EmbeddedPaths) -> eyre::Result<(Ports, Arc<EmbeddedStream>)> {
    create_data_dir(paths)?;
    move_old_stream(paths, &config.stream.name)?;
    let stream = Arc::new(
        EmbeddedStream::open(
            &paths.stream_dir,
            &config.stream.name,
            config.stream.shards,
            stream_limits(config),
        )
        .wrap_err("opening the embedded stream")?,
    );
    let warehouse = DuckDbWarehouse::open(&paths.warehouse, &config.schema(), &paths.objects)?;
    warehouse
        .set_memory_limit(&config.warehouse.memory_limit)
        .wrap_err("warehouse.memory_limit")?;
    let ports = Ports {
        stream: Arc::new(Arc::clone(&stream)),
        objects: Arc::new(DirObjectStore::new(&paths.objects)),
        warehouse: Arc::new(warehouse),
    };
    Ok((ports, stream))
}

/// Data dirs made before `emulate` and the engine shared `streams/` kept the
/// engine's stream in `stream/<name>`: move it, checkpoints still apply.
fn move_old_stream(paths: &EmbeddedPaths, name: &str) -> eyre::Result<()> {
    let old = paths.data_dir.join("stream").join(name);
    let new = paths.stream_dir.join(name);
    if old.join("shards").exists() && !new.exists() {
        std::fs::create_dir_all(&paths.stream_dir).wrap_err_with(|| paths.stream_dir.display().to_string())?;
        std::fs::rename(&old, &new).wrap_err_with(|| format!("moving {} to {}", old.display(), new.display()))?;
        let _ = std::fs::remove_dir(paths.data_dir.join("stream"));
        tracing::info!("moved the embedded stream {} to {}", old.display(), new.display());
    }
    Ok(())
}

/// Connect to Kinesis, S3 and the Redshift Data API as `[aws]` says (the
/// default credential chain signs), creating the stream and the bucket when
/// they are missing and `aws.create_missing` is set.
pub async fn aws_ports(config: &Config) -> eyre::Result<Ports> {
    use crate::backend::aws::{Clients, KinesisStream, S3ObjectStore, sdk_config};
    let aws = &config.aws;
    let sdk = sdk_config(aws).await;
    let clients = Clients::new(&sdk, aws);
    let region = sdk.region().map(|r| r.to_string());
    let stream = KinesisStream::new(clients.kinesis, &config.stream.name);
    stream
        .ensure_active(config.stream.shards, aws.create_missing, Duration::from_secs(60))
        .await
        .wrap_err_with(|| format!("Kinesis stream {}", config.stream.name))?;
    let objects = S3ObjectStore::new(clients.s3);
    objects
        .ensure_bucket(&config.storage.bucket, region.as_deref(), aws.create_missing)
        .await?;
    let objects: Arc<dyn crate::backend::ObjectStore> = Arc::new(objects);
    let warehouse = aws_warehouse(config, clients.redshift_data, Arc::clone(&objects));
    Ok(Ports {
        stream: Arc::new(stream),
        objects,
        warehouse: Arc::new(warehouse),
    })
}

/// The Redshift Data API warehouse `[aws]` names, staging through `objects`.
pub fn aws_warehouse(
    config: &Config,
    client: aws_sdk_redshiftdata::Client,
    objects: Arc<dyn crate::backend::ObjectStore>,
) -> crate::backend::aws::RedshiftDataWarehouse {
    use crate::backend::aws::{RedshiftDataWarehouse, RedshiftTarget};
    let aws = &config.aws;
    let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let target = RedshiftTarget {
        workgroup: some(&aws.workgroup),
        cluster_identifier: some(&aws.cluster_identifier),
        database: aws.database.clone().unwrap_or_default(),
        secret_arn: some(&aws.secret_arn),
        db_user: some(&aws.db_user),
    };
    RedshiftDataWarehouse::new(
        client,
        target,
        config.schema(),
        aws.copy_role_arn.clone().unwrap_or_default(),
        objects,
        config.storage.bucket.clone(),
        config.storage.staging_prefix.clone(),
    )
}

/// A `Warehouse` for `courier query`: the embedded DuckDB file (which must
/// exist) or the Redshift Data API.
pub async fn query_warehouse(
    config: &Config,
    paths: &EmbeddedPaths,
) -> eyre::Result<Arc<dyn crate::backend::Warehouse>> {
    match config.backend {
        BackendKind::Embedded => {
            let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &config.schema(), &paths.objects)?;
            Ok(Arc::new(w))
        }
        BackendKind::Aws => {
            let sdk = crate::backend::aws::sdk_config(&config.aws).await;
            let clients = crate::backend::aws::Clients::new(&sdk, &config.aws);
            let objects = Arc::new(crate::backend::aws::S3ObjectStore::new(clients.s3));
            Ok(Arc::new(aws_warehouse(config, clients.redshift_data, objects)))
        }
    }
}

/// The ports for an operator command when no engine runs: the embedded
/// data dir must hold a warehouse already (a run made it), AWS is reached
/// as the engine would.
pub async fn operator_ports(config: &Config, paths: &EmbeddedPaths) -> eyre::Result<Ports> {
    match config.backend {
        BackendKind::Embedded => {
            if !paths.warehouse.exists() {
                return Err(eyre!(
                    "no warehouse at {}: run `courier --no-tui` first, or pass the --data-dir it used",
                    paths.warehouse.display()
                ));
            }
            let ports = embedded_ports(config, paths)?.0;
            prepare_for_operator(config, &ports).await?;
            Ok(ports)
        }
        BackendKind::Aws => {
            let ports = aws_ports(config).await?;
            prepare_for_operator(config, &ports).await?;
            Ok(ports)
        }
    }
}

/// The tables a newer courier keeps (dead letters moved to `courier_dlq`).
async fn prepare_for_operator(config: &Config, ports: &Ports) -> eyre::Result<()> {
    ports.warehouse.ensure_schema().await.wrap_err("the warehouse schema")?;
    crate::ops::dlq::migrate_old_table(ports.warehouse.as_ref(), &config.schema(), &config.stream.name).await?;
    Ok(())
}

/// The ports `config.backend` names. The embedded stream comes back too, for retention.
pub async fn ports(config: &Config, paths: &EmbeddedPaths) -> eyre::Result<(Ports, Option<Arc<EmbeddedStream>>)> {
    match config.backend {
        BackendKind::Embedded => embedded_ports(config, paths).map(|(p, s)| (p, Some(s))),
        BackendKind::Aws => {
            create_data_dir(paths)?;
            aws_ports(config).await.map(|p| (p, None))
        }
    }
}

fn create_data_dir(paths: &EmbeddedPaths) -> eyre::Result<()> {
    std::fs::create_dir_all(&paths.data_dir)
        .wrap_err_with(|| format!("creating the data dir {}", paths.data_dir.display()))
}

/// Engine settings from config; `rate`, `paused` and `read_only` are the flags' overrides.
pub fn engine_settings(
    config: &Config,
    paths: &EmbeddedPaths,
    rate: Option<u32>,
    paused: bool,
    read_only: bool,
) -> EngineSettings {
    EngineSettings {
        backend: match config.backend {
            BackendKind::Embedded => BackendInfo {
                kind: "embedded".into(),
                detail: paths.data_dir.display().to_string(),
                stream: config.stream.name.clone(),
            },
            BackendKind::Aws => BackendInfo {
                kind: "aws".into(),
                detail: [
                    config.aws.region.clone(),
                    config.aws.workgroup.clone().or(config.aws.cluster_identifier.clone()),
                ]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
                stream: config.stream.name.clone(),
            },
        },
        schema: config.schema(),
        bucket: config.storage.bucket.clone(),
        dims_prefix: config.storage.dims_prefix.clone(),
        dimension_rows: [
            config.dimensions.customers,
            config.dimensions.restaurants,
            config.dimensions.riders,
        ],
        dimension_seed: config.dimensions.seed,
        regenerate_dimensions: config.dimensions.regenerate,
        rate: rate.unwrap_or(config.generator.rate),
        start_paused: paused || config.generator.paused,
        status_updates: config.generator.status_updates,
        put_batch_records: config.generator.batch_records,
        ingest_batch_records: config.ingester.batch_records,
        ingest_batch_age: config.ingester.batch_age,
        reads_per_sec: config.ingester.reads_per_sec.min(config.stream.reads_per_sec),
        queries: QuerySource::resolve(config.queries.dir.as_deref()),
        read_only: read_only || config.read_only,
        state_dir: paths.data_dir.clone(),
        drain_timeout: config.ingester.drain_timeout,
        // Validated when the config was loaded.
        start: config
            .ingester
            .start_position()
            .unwrap_or(crate::ops::Position::TrimHorizon),
        lease: crate::engine::ingester::LeaseSettings {
            owner: config
                .ingester
                .instance_id
                .clone()
                .unwrap_or_else(|| crate::engine::ingester::LeaseSettings::default_owner(&paths.data_dir)),
            duration: config.ingester.lease_duration,
        },
    }
}

/// Drop stream records past retention, once a minute, for as long as the runtime runs.
pub fn spawn_retention(stream: Arc<EmbeddedStream>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = stream.enforce_retention() {
                tracing::warn!("stream retention: {e}");
            }
        }
    });
}
