//! Configuration: a TOML file (`--config`, or `courier/config.toml` in the
//! user's config dir) over built-in defaults. Every key is documented in
//! `config.example.toml`. Loading never panics: a bad file is a
//! [`ConfigError`] that names the file, the key and what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::backend::ident::Ident;
use crate::backend::objects::valid_bucket;

#[derive(Debug, thiserror::Error)]
#[error("config file {file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

/// A config value that can't be used: the key, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadKey {
    #[error("key {key}: {why}")]
    Value { key: String, why: String },
    #[error("key {0}")]
    Keys(crate::keys::KeymapError),
}

fn bad(key: &str, why: impl Into<String>) -> BadKey {
    BadKey::Value {
        key: key.to_string(),
        why: why.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Embedded,
    Aws,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `embedded` (default) or `aws`.
    pub backend: BackendKind,
    /// Where the embedded default keeps its state (stream, objects, warehouse).
    pub data_dir: Option<PathBuf>,
    /// Observe only: refuse reloads and generator control.
    pub read_only: bool,
    pub stream: StreamConfig,
    pub storage: StorageConfig,
    pub warehouse: WarehouseConfig,
    pub dimensions: DimensionsConfig,
    pub generator: GeneratorConfig,
    pub ingester: IngesterConfig,
    pub queries: QueriesConfig,
    /// The AWS backend: where Kinesis, S3 and the Redshift Data API are.
    pub aws: AwsConfig,
    /// Console settings.
    pub ui: UiConfig,
    /// The running service's faces: control socket, metrics, Kinesis endpoint.
    pub service: ServiceConfig,
    /// Key bindings: action name → one key or a list of keys.
    pub keys: BTreeMap<String, KeyList>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Redraw interval, milliseconds.
    pub tick_ms: u64,
    /// Shard lag (MillisBehindLatest) shown yellow from this many ms…
    pub lag_warn_ms: u64,
    /// …and red from this many.
    pub lag_crit_ms: u64,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            tick_ms: 250,
            lag_warn_ms: 1000,
            lag_crit_ms: 5000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Control socket path (default `<data dir>/courier.sock`).
    pub socket: Option<PathBuf>,
    /// Serve Prometheus `/metrics` and `/healthz` here, e.g. "127.0.0.1:9464".
    pub metrics: Option<std::net::SocketAddr>,
    /// Serve the embedded stream over the Kinesis API here, e.g. "127.0.0.1:4567".
    pub kinesis_endpoint: Option<std::net::SocketAddr>,
    /// Consoles that attach may only watch (no generator control, no stop).
    pub attach_read_only: bool,
    /// `/healthz` says 503 once a shard's lag stays past `ui.lag_crit_ms` this long.
    #[serde(deserialize_with = "duration")]
    pub health_lag_grace: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            socket: None,
            metrics: None,
            kinesis_endpoint: None,
            attach_read_only: false,
            health_lag_grace: Duration::from_secs(30),
        }
    }
}

/// `pause = "p"` or `pause = ["p", "space"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a key name like \"p\" or a list of key names like [\"p\", \"space\"]"
)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn keys(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(ks) => ks.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    pub name: String,
    pub shards: usize,
    pub write_records_per_sec: u64,
    pub write_bytes_per_sec: u64,
    pub reads_per_sec: u64,
    pub read_bytes_per_sec: u64,
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
    /// fsync each put before acknowledging it (survives power loss, not only crashes).
    pub fsync: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub bucket: String,
    /// Key prefix of the dimension CSVs.
    pub dims_prefix: String,
    /// Key prefix of the fact micro-batches staged for COPY (AWS backend).
    pub staging_prefix: String,
}

/// Where the AWS services are and which Redshift to use. Never credentials:
/// those come from the AWS default chain (env, profile, SSO, instance role).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    /// Region; default: the chain's (AWS_REGION, the profile).
    pub region: Option<String>,
    /// Named profile of ~/.aws/config; default: the chain's.
    pub profile: Option<String>,
    /// Endpoint overrides (emulators, LocalStack, VPC endpoints).
    pub kinesis_endpoint_url: Option<String>,
    pub s3_endpoint_url: Option<String>,
    pub redshift_data_endpoint_url: Option<String>,
    /// Redshift Serverless workgroup, or…
    pub workgroup: Option<String>,
    /// …a provisioned cluster.
    pub cluster_identifier: Option<String>,
    pub database: Option<String>,
    /// Secrets Manager ARN with the database credentials, or…
    pub secret_arn: Option<String>,
    /// …a database user (temporary credentials via GetClusterCredentials).
    pub db_user: Option<String>,
    /// IAM role Redshift assumes to COPY from the bucket.
    pub copy_role_arn: Option<String>,
    /// Create the stream and the bucket when they don't exist.
    pub create_missing: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarehouseConfig {
    pub schema: String,
    /// Embedded DuckDB's buffer memory cap, e.g. "128MB" (data past it is
    /// spilled to the database file, not lost).
    pub memory_limit: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DimensionsConfig {
    pub customers: u32,
    pub restaurants: u32,
    pub riders: u32,
    /// Seed for the generated dimension data (same seed, same CSVs).
    pub seed: u64,
    /// Regenerate and upload the CSVs at start even when they already exist.
    pub regenerate: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Target events per second.
    pub rate: u32,
    /// Start paused.
    pub paused: bool,
    /// Also emit Processing → On the way → Delivered updates for orders.
    pub status_updates: bool,
    /// Records per PutRecords call (≤ 500).
    pub batch_records: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngesterConfig {
    /// Commit a micro-batch once it holds this many records…
    pub batch_records: usize,
    /// …or once its oldest record waited this long.
    #[serde(deserialize_with = "duration")]
    pub batch_age: Duration,
    /// On stop, how long the ingester may take to load what was acknowledged.
    #[serde(deserialize_with = "duration")]
    pub drain_timeout: Duration,
    /// Where a shard with no checkpoint is read from: `trim_horizon` (the
    /// oldest record kept), `latest` (only new ones) or `at_timestamp`
    /// (from `start_timestamp`).
    pub start: String,
    /// With `start = "at_timestamp"`: a UTC time, e.g. `2026-12-03T10:00:00Z`.
    pub start_timestamp: Option<String>,
    /// GetRecords calls per second per shard the ingester makes (at most
    /// the stream's `reads_per_sec`): the rest of a Kinesis shard's 5 is
    /// left to other consumers (`courier tail`, another application).
    pub reads_per_sec: u64,
    /// How long a shard's lease lasts unless renewed (renewed every fifth
    /// of it): where several instances share a stream, a dead instance's
    /// shards are taken over this long after its last renewal.
    #[serde(deserialize_with = "duration")]
    pub lease_duration: Duration,
    /// This instance's name in the lease table; unique among the instances
    /// sharing a stream. Default: `<host>-<hash of the data dir>`.
    pub instance_id: Option<String>,
}

impl IngesterConfig {
    /// `start` (and `start_timestamp`) as a position, or what is wrong with them.
    pub fn start_position(&self) -> Result<crate::ops::Position, BadKey> {
        use crate::ops::Position;
        match (self.start.as_str(), &self.start_timestamp) {
            ("trim_horizon", None) => Ok(Position::TrimHorizon),
            ("latest", None) => Ok(Position::Latest),
            ("at_timestamp", Some(t)) => match Position::parse(t, chrono::Utc::now()) {
                Ok(p @ Position::AtTimestamp(_)) => Ok(p),
                Ok(_) => Err(bad(
                    "ingester.start_timestamp",
                    format!("{t:?} is not a time like 2026-12-03T10:00:00Z"),
                )),
                Err(e) => Err(bad("ingester.start_timestamp", e.to_string())),
            },
            ("at_timestamp", None) => Err(bad(
                "ingester.start",
                "\"at_timestamp\" needs ingester.start_timestamp (e.g. \"2026-12-03T10:00:00Z\")",
            )),
            ("trim_horizon" | "latest", Some(_)) => Err(bad(
                "ingester.start_timestamp",
                format!("only used with start = \"at_timestamp\" (start is {:?})", self.start),
            )),
            (other, _) => Err(bad(
                "ingester.start",
                format!("{other:?} is not one of \"trim_horizon\", \"latest\", \"at_timestamp\""),
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueriesConfig {
    /// Folder of dashboard queries; default `sql/queries` if it exists, else the built-in ones.
    pub dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: BackendKind::Embedded,
            data_dir: None,
            read_only: false,
            stream: StreamConfig::default(),
            storage: StorageConfig::default(),
            warehouse: WarehouseConfig::default(),
            dimensions: DimensionsConfig::default(),
            generator: GeneratorConfig::default(),
            ingester: IngesterConfig::default(),
            queries: QueriesConfig::default(),
            aws: AwsConfig::default(),
            ui: UiConfig::default(),
            service: ServiceConfig::default(),
            keys: BTreeMap::new(),
        }
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        // Kinesis's limits, as the embedded stream enforces them by default.
        let l = crate::backend::embedded::StreamLimits::default();
        StreamConfig {
            name: "incoming-food-order-data".into(),
            shards: 4,
            write_records_per_sec: l.write_records_per_sec,
            write_bytes_per_sec: l.write_bytes_per_sec,
            reads_per_sec: l.reads_per_sec,
            read_bytes_per_sec: l.read_bytes_per_sec,
            retention: l.retention,
            fsync: l.fsync,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            bucket: "courier-data".into(),
            dims_prefix: "dims".into(),
            staging_prefix: "staging".into(),
        }
    }
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            schema: "food_delivery_datamart".into(),
            memory_limit: "40MB".into(),
        }
    }
}

impl Default for DimensionsConfig {
    fn default() -> Self {
        DimensionsConfig {
            customers: 200,
            restaurants: 50,
            riders: 30,
            seed: 42,
            regenerate: false,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            rate: 1000,
            paused: false,
            status_updates: true,
            batch_records: 500,
        }
    }
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            batch_records: 10_000,
            batch_age: Duration::from_millis(200),
            drain_timeout: Duration::from_secs(30),
            start: "trim_horizon".into(),
            start_timestamp: None,
            reads_per_sec: 4,
            lease_duration: Duration::from_secs(15),
            instance_id: None,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "{s:?} is not a duration like \"200ms\", \"5s\" or \"24h\": {e}"
        ))
    })
}

impl AwsConfig {
    /// Every value is checked even for the embedded backend; the Redshift
    /// target is required only when `backend = "aws"`.
    fn validate(&self, required: bool) -> Result<(), BadKey> {
        fn opt(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        if let Some(r) = opt(&self.region)
            && !(r.len() <= 32
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(bad(
                "aws.region",
                format!("{r:?} is not a region name like \"eu-west-1\""),
            ));
        }
        for (key, v) in [
            ("aws.profile", &self.profile),
            ("aws.workgroup", &self.workgroup),
            ("aws.cluster_identifier", &self.cluster_identifier),
            ("aws.db_user", &self.db_user),
        ] {
            if let Some(v) = opt(v)
                && !(v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
            {
                return Err(bad(key, format!("{v:?} may only have letters, digits, _ - and .")));
            }
        }
        if let Some(db) = opt(&self.database) {
            Ident::parse("database", db).map_err(|e| bad("aws.database", e.to_string()))?;
        }
        for (key, v) in [
            ("aws.kinesis_endpoint_url", &self.kinesis_endpoint_url),
            ("aws.s3_endpoint_url", &self.s3_endpoint_url),
            ("aws.redshift_data_endpoint_url", &self.redshift_data_endpoint_url),
        ] {
            if let Some(v) = opt(v)
                && !((v.starts_with("http://") || v.starts_with("https://")) && !v.contains(char::is_whitespace))
            {
                return Err(bad(key, format!("{v:?} is not an http:// or https:// URL")));
            }
        }
        for (key, v, service) in [
            ("aws.secret_arn", &self.secret_arn, "secretsmanager"),
            ("aws.copy_role_arn", &self.copy_role_arn, "iam"),
        ] {
            if let Some(v) = opt(v) {
                let ok = v.starts_with("arn:")
                    && v.split(':').nth(2) == Some(service)
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || ":/_+=,.@-".contains(c));
                if !ok {
                    return Err(bad(key, format!("{v:?} is not an arn:aws:{service}:… ARN")));
                }
            }
        }
        if !required {
            return Ok(());
        }
        match (opt(&self.workgroup), opt(&self.cluster_identifier)) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "aws.workgroup",
                    "give a Serverless workgroup or aws.cluster_identifier, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "aws.workgroup",
                    "backend \"aws\" needs a Redshift Serverless aws.workgroup or a provisioned aws.cluster_identifier",
                ));
            }
            (None, Some(_)) if opt(&self.secret_arn).is_none() && opt(&self.db_user).is_none() => {
                return Err(bad(
                    "aws.secret_arn",
                    "a provisioned cluster needs aws.secret_arn or aws.db_user",
                ));
            }
            _ => {}
        }
        if opt(&self.database).is_none() {
            return Err(bad(
                "aws.database",
                "backend \"aws\" needs the Redshift database name, e.g. \"dev\"",
            ));
        }
        if opt(&self.copy_role_arn).is_none() {
            return Err(bad(
                "aws.copy_role_arn",
                "backend \"aws\" needs the IAM role Redshift assumes for COPY from S3",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// The default config file: `<config dir>/courier/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "courier").map(|d| d.config_dir().join("config.toml"))
    }

    /// Load `path`, or the default path if it exists, or built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, required) = match path {
            Some(p) => (Some(p.to_path_buf()), true),
            None => (Self::default_path(), false),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(ConfigError {
                    file,
                    message: format!("cannot read: {e}"),
                });
            }
        };
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate().map_err(|bad| ConfigError {
            file: file.to_string(),
            message: bad.to_string(),
        })?;
        Ok(config)
    }

    /// Checks serde can't express; each message names the key.
    fn validate(&self) -> Result<(), BadKey> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(bad(key, format!("must be between {lo} and {hi}, got {v}")))
            }
        };
        range("stream.shards", self.stream.shards as u64, 1, 1024)?;
        range(
            "stream.write_records_per_sec",
            self.stream.write_records_per_sec,
            1,
            10_000_000,
        )?;
        range(
            "stream.write_bytes_per_sec",
            self.stream.write_bytes_per_sec,
            1024,
            1 << 34,
        )?;
        range("stream.reads_per_sec", self.stream.reads_per_sec, 1, 1000)?;
        range(
            "stream.read_bytes_per_sec",
            self.stream.read_bytes_per_sec,
            1024,
            1 << 34,
        )?;
        range(
            "generator.rate",
            self.generator.rate as u64,
            0,
            crate::model::MAX_RATE as u64,
        )?;
        range("generator.batch_records", self.generator.batch_records as u64, 1, 500)?;
        range(
            "ingester.batch_records",
            self.ingester.batch_records as u64,
            1,
            1_000_000,
        )?;
        range("dimensions.customers", self.dimensions.customers as u64, 1, 100_000_000)?;
        range(
            "dimensions.restaurants",
            self.dimensions.restaurants as u64,
            1,
            10_000_000,
        )?;
        range("dimensions.riders", self.dimensions.riders as u64, 1, 10_000_000)?;
        self.ingester.start_position()?;
        if self.ingester.reads_per_sec == 0 {
            return Err(bad("ingester.reads_per_sec", "must be at least 1"));
        }
        if self.ingester.lease_duration < Duration::from_secs(1) {
            return Err(bad("ingester.lease_duration", "must be at least 1s"));
        }
        if let Some(id) = &self.ingester.instance_id
            && (id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)))
        {
            return Err(bad(
                "ingester.instance_id",
                "1–100 characters of letters, digits, '-', '_', '.', ':'",
            ));
        }
        if self.ingester.batch_age.is_zero() {
            return Err(bad("ingester.batch_age", "must be more than 0"));
        }
        if !crate::backend::valid_stream_name(&self.stream.name) {
            return Err(bad(
                "stream.name",
                format!(
                    "{:?} is not a valid stream name (1-128 of letters, digits, _ . -, not only dots)",
                    self.stream.name
                ),
            ));
        }
        valid_bucket(&self.storage.bucket).map_err(|e| bad("storage.bucket", e.to_string()))?;
        for (key, prefix) in [
            ("storage.dims_prefix", &self.storage.dims_prefix),
            ("storage.staging_prefix", &self.storage.staging_prefix),
        ] {
            let ok = !prefix.is_empty()
                && prefix.split('/').all(|p| !p.is_empty() && p != "..")
                && prefix.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
            if !ok {
                return Err(bad(key, format!("{prefix:?} is not a plain key prefix like \"dims\"")));
            }
        }
        Ident::parse("schema", &self.warehouse.schema).map_err(|e| bad("warehouse.schema", e.to_string()))?;
        let m = self.warehouse.memory_limit.trim();
        let digits = m.chars().take_while(|c| c.is_ascii_digit()).count();
        let unit = m[digits..].trim().to_ascii_uppercase();
        if digits == 0 || !["KB", "MB", "GB", "KIB", "MIB", "GIB"].contains(&unit.as_str()) {
            return Err(bad(
                "warehouse.memory_limit",
                format!("{m:?} is not a size like \"40MB\" or \"1GB\""),
            ));
        }
        range("ui.tick_ms", self.ui.tick_ms, 16, 10_000)?;
        if self.ui.lag_warn_ms > self.ui.lag_crit_ms {
            return Err(bad(
                "ui.lag_warn_ms",
                format!(
                    "{} is above ui.lag_crit_ms {}; the yellow threshold must be the lower one",
                    self.ui.lag_warn_ms, self.ui.lag_crit_ms
                ),
            ));
        }
        self.keymap().map_err(BadKey::Keys)?;
        self.aws.validate(self.backend == BackendKind::Aws)
    }

    /// The console's key table: defaults with `[keys]` applied.
    pub fn keymap(&self) -> Result<crate::keys::Keymap, crate::keys::KeymapError> {
        let overrides = self.keys.iter().map(|(k, v)| (k.clone(), v.keys())).collect();
        crate::keys::Keymap::new(&overrides)
    }

    pub fn schema(&self) -> Ident {
        Ident::parse("schema", &self.warehouse.schema).expect("validated at load")
    }

    /// The data dir: `--data-dir`, then `data_dir` in the file, then the platform default.
    pub fn resolve_data_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.data_dir.clone())
            .or_else(|| directories::ProjectDirs::from("", "", "courier").map(|d| d.data_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".courier"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_to_the_defaults() {
        let text = include_str!("../config.example.toml");
        let c = Config::parse(text, "config.example.toml").unwrap();
        let d = Config::default();
        assert_eq!(c.stream.name, d.stream.name);
        assert_eq!(c.stream.shards, d.stream.shards);
        assert_eq!(c.stream.retention, d.stream.retention);
        assert_eq!(c.generator.rate, d.generator.rate);
        assert_eq!(c.dimensions.customers, 200);
        assert_eq!(c.ingester.batch_age, d.ingester.batch_age);
    }

    /// Every key of the example config, given a value of the wrong type, is
    /// refused with an error that names it.
    #[test]
    fn every_key_with_a_wrong_type_is_named() {
        let example: toml::Table = toml::from_str(include_str!("../config.example.toml")).unwrap();
        let mut checked = 0;
        for (section, value) in &example {
            let leaves: Vec<(Option<&str>, &str, &toml::Value)> = match value {
                toml::Value::Table(t) => t.iter().map(|(k, v)| (Some(section.as_str()), k.as_str(), v)).collect(),
                v => vec![(None, section.as_str(), v)],
            };
            for (table, key, v) in leaves {
                let wrong = match v {
                    toml::Value::String(_) => toml::Value::Integer(7),
                    toml::Value::Integer(_) => toml::Value::String("seven".into()),
                    toml::Value::Boolean(_) => toml::Value::String("maybe".into()),
                    _ => toml::Value::Boolean(true),
                };
                let mut doc = toml::Table::new();
                match table {
                    Some(t) => {
                        let mut inner = toml::Table::new();
                        inner.insert(key.to_string(), wrong);
                        doc.insert(t.to_string(), toml::Value::Table(inner));
                    }
                    None => {
                        doc.insert(key.to_string(), wrong);
                    }
                }
                let text = toml::to_string(&doc).unwrap();
                let e = Config::parse(&text, "c.toml").unwrap_err().to_string();
                assert!(e.contains(key), "{text:?} -> {e}");
                checked += 1;
            }
        }
        assert!(checked >= 25, "checked {checked} keys");
    }

    #[test]
    fn bad_values_name_file_and_key() {
        let cases = [
            ("[generator]\nrate = \"fast\"\n", "rate"),
            (
                "[stream]\nshards = 0\n",
                "key stream.shards: must be between 1 and 1024, got 0",
            ),
            ("[stream]\nretention = \"forever\"\n", "is not a duration"),
            ("[warehouse]\nschema = \"x; drop table y\"\n", "key warehouse.schema"),
            ("[storage]\nbucket = \"Bad Bucket\"\n", "key storage.bucket"),
            ("[stream]\nnam = \"x\"\n", "unknown field `nam`"),
            ("colour = 1\n", "unknown field `colour`"),
            ("[generator\n", "TOML parse error"),
            ("backend = \"cloud\"\n", "unknown variant `cloud`"),
            ("[keys]\npause = \"r\"\n", "key keys: r is bound to both"),
            ("[keys]\nfly = \"f\"\n", "key keys.fly: no such action"),
            ("[keys]\npause = 5\n", "expected a key name like \"p\""),
            ("[ui]\ntick_ms = 0\n", "key ui.tick_ms"),
            ("[ui]\nlag_warn_ms = 9000\n", "key ui.lag_warn_ms"),
            ("backend = \"aws\"\n", "key aws.workgroup"),
            (
                "backend = \"aws\"\n[aws]\nworkgroup = \"w\"\ndatabase = \"dev\"\n",
                "key aws.copy_role_arn",
            ),
            (
                "backend = \"aws\"\n[aws]\ncluster_identifier = \"c\"\ndatabase = \"dev\"\n",
                "key aws.secret_arn",
            ),
            (
                "[aws]\ncopy_role_arn = \"arn:aws:iam::1:role/x' OR 1=1\"\n",
                "key aws.copy_role_arn",
            ),
            ("[aws]\ndatabase = \"dev; drop\"\n", "key aws.database"),
            (
                "[aws]\nkinesis_endpoint_url = \"ftp://x\"\n",
                "key aws.kinesis_endpoint_url",
            ),
            (
                "[aws]\naws_secret_access_key = \"x\"\n",
                "unknown field `aws_secret_access_key`",
            ),
            ("[storage]\nstaging_prefix = \"../x\"\n", "key storage.staging_prefix"),
            ("[warehouse]\nmemory_limit = \"lots\"\n", "key warehouse.memory_limit"),
        ];
        for (text, want) in cases {
            let e = Config::parse(text, "/tmp/c.toml").unwrap_err().to_string();
            assert!(e.starts_with("config file /tmp/c.toml: "), "{e}");
            assert!(e.contains(want), "{e:?} should mention {want:?}");
        }
    }
}
