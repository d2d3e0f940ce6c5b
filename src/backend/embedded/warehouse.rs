//! The embedded warehouse: a DuckDB file standing in for Redshift.
//!
//! It owns the SQL that loads dimensions (validate, then COPY, swapped in one
//! transaction), the exactly-once fact load (staging + upsert + checkpoint in
//! one transaction) and rendering query results as text. Writes go through one
//! connection; queries use a second one so a long dashboard query never holds
//! up ingestion.

use crate::sync::LockExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use duckdb::{Connection, params};

use super::csv_check;
use super::duck::{begin, sql_err};
use crate::backend::ident::{Ident, literal};
use crate::backend::lease::{LeaseRound, LeaseRow, parse_rows};
use crate::backend::{FactBatch, ObjectUri, ResultSet, SequenceNumber, TableName, Warehouse, WarehouseError};

/// The schema DDL shipped in `sql/schema`, run in order.
pub const SCHEMA_SQL: &[(&str, &str)] = &[
    (
        "sql/schema/01_dimensions.sql",
        include_str!("../../../sql/schema/01_dimensions.sql"),
    ),
    (
        "sql/schema/02_facts.sql",
        include_str!("../../../sql/schema/02_facts.sql"),
    ),
    (
        "sql/schema/03_bookkeeping.sql",
        include_str!("../../../sql/schema/03_bookkeeping.sql"),
    ),
];

/// factOrders' key as `sql/schema/02_facts.sql` declares it (for Redshift,
/// where it is informational).
pub(crate) const FACT_KEY: &str = "OrderID BIGINT PRIMARY KEY,";

/// The schema DDL as the embedded warehouse runs it: factOrders without its
/// PRIMARY KEY. DuckDB enforces one with an ART index that every load
/// updates and that grows with the table (time and memory under the cap);
/// courier keeps one row per OrderID itself — its single writer looks each
/// staged OrderID up and updates or inserts (`fact_load`) — as it must on
/// Redshift, which does not enforce keys.
pub fn embedded_schema_sql() -> impl Iterator<Item = (&'static str, std::borrow::Cow<'static, str>)> {
    SCHEMA_SQL.iter().map(|(file, sql)| {
        let sql = if sql.contains(FACT_KEY) {
            std::borrow::Cow::Owned(sql.replace(FACT_KEY, "OrderID BIGINT,"))
        } else {
            std::borrow::Cow::Borrowed(*sql)
        };
        (*file, sql)
    })
}

pub struct DuckDbWarehouse {
    path: PathBuf,
    schema: Ident,
    objects_root: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    /// Fact batches waiting for the writer, committed together.
    pending: Arc<Mutex<Vec<PendingBatch>>>,
    /// Batches in the last group commit: above one, several shards are
    /// loading, and a lone batch waits `COMMIT_DELAY` for company.
    last_group: Arc<AtomicUsize>,
}

type PendingBatch = (
    Arc<FactBatch>,
    tokio::sync::oneshot::Sender<Result<u64, WarehouseError>>,
);

/// At most this many rows go into one group commit.
const GROUP_ROWS: usize = 200_000;
/// The CSV reader's buffer for a dimension COPY: DuckDB's default (32 MB, a
/// few at once) does not fit under a small `memory_limit` and fails a large
/// file; 4 MiB (twice the longest line it accepts) loads as fast.
const CSV_BUFFER_BYTES: usize = 4 << 20;
/// How often the writer gives freed memory back (`crate::memory`).
const TRIM_EVERY_MS: u64 = 1000;
const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

impl DuckDbWarehouse {
    /// Open (or create) the DuckDB file at `path`. `objects_root` is the
    /// embedded object store's directory, where `s3://` sources are read.
    pub fn open(path: &Path, schema: &Ident, objects_root: &Path) -> Result<Self, WarehouseError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WarehouseError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let writer = Connection::open(path).map_err(|e| open_err(path, e))?;
        let reader = writer.try_clone().map_err(|e| open_err(path, e))?;
        for conn in [&writer, &reader] {
            Self::prepare_connection(conn, schema)?;
        }
        Ok(DuckDbWarehouse {
            path: path.to_path_buf(),
            schema: schema.clone(),
            objects_root: objects_root.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            pending: Arc::default(),
            last_group: Arc::default(),
        })
    }

    /// Open an existing warehouse file for queries only (`courier query`).
    pub fn open_for_query(path: &Path, schema: &Ident, objects_root: &Path) -> Result<Self, WarehouseError> {
        if !path.exists() {
            return Err(WarehouseError::Unavailable(format!(
                "no warehouse at {}: run `courier --no-tui` first, or pass the --data-dir it used",
                path.display()
            )));
        }
        Self::open(path, schema, objects_root)
    }

    fn prepare_connection(conn: &Connection, schema: &Ident) -> Result<(), WarehouseError> {
        conn.execute_batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path = '{schema},main';"
        ))
        .map_err(sql_err)?;
        crate::dialect::install(conn).map_err(sql_err)
    }

    /// A new connection to the same database — its own transaction and temp
    /// tables — prepared like the others (schema on the search path, dialect).
    pub fn connect(&self) -> Result<Connection, WarehouseError> {
        let conn = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_clone()
            .map_err(sql_err)?;
        // The schema exists since `open`: no catalog write here, which
        // could collide with another connection's transaction.
        if conn
            .execute_batch(&format!("SET search_path = '{},main';", self.schema))
            .is_err()
        {
            // The schema was dropped since: made again.
            Self::prepare_connection(&conn, &self.schema)?;
            return Ok(conn);
        }
        crate::dialect::install(&conn).map_err(sql_err)?;
        Ok(conn)
    }

    /// Cap DuckDB's buffer memory (`size` validated by config, e.g. "40MB").
    pub fn set_memory_limit(&self, size: &str) -> Result<(), WarehouseError> {
        let size: String = size.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .execute_batch(&format!("SET memory_limit = '{size}'"))
            .map_err(sql_err)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, WarehouseError> + Send + 'static,
    ) -> Result<T, WarehouseError> {
        let conn = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || f(&mut conn.locked()))
            .await
            .map_err(|e| WarehouseError::Unavailable(format!("warehouse task failed: {e}")))?
    }

    /// Run SQL on the query connection, blocking (for `courier query` and tests).
    pub fn query_blocking(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        run_query(&self.reader.locked(), sql)
    }
}

fn open_err(path: &Path, e: duckdb::Error) -> WarehouseError {
    let msg = e.to_string();
    if msg.contains("lock") {
        WarehouseError::Unavailable(format!(
            "{} is in use by another process (is a courier engine running on this data dir?): {msg}",
            path.display()
        ))
    } else {
        WarehouseError::Unavailable(format!("cannot open {}: {msg}", path.display()))
    }
}

/// Run Redshift SQL (one or more statements, translated for DuckDB); the
/// last statement's rows come back as text.
pub fn run_query(conn: &Connection, sql: &str) -> Result<ResultSet, WarehouseError> {
    use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};

    let statements = crate::dialect::translate_statements(sql).map_err(|e| WarehouseError::Sql(e.to_string()))?;
    crate::dialect::prepare(conn, &statements).map_err(sql_err)?;
    let Some((last, before)) = statements.split_last() else {
        return Err(WarehouseError::Sql("no SQL statement given".into()));
    };
    for s in before {
        conn.execute_batch(s).map_err(sql_err)?;
    }
    let mut stmt = conn.prepare(last).map_err(sql_err)?;
    let batches: Vec<_> = stmt.query_arrow([]).map_err(sql_err)?.collect();
    let columns = stmt.column_names();
    // Timestamps as Redshift (and psql) print them.
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| WarehouseError::Sql(format!("cannot render result: {e}")))?;
        for r in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(col, f)| (!col.is_null(r)).then(|| f.value(r).to_string()))
                    .collect(),
            );
        }
    }
    Ok(ResultSet { columns, rows })
}

#[async_trait]
impl Warehouse for DuckDbWarehouse {
    async fn ensure_schema(&self) -> Result<(), WarehouseError> {
        self.with_writer(|conn| {
            for (file, sql) in embedded_schema_sql() {
                conn.execute_batch(&sql)
                    .map_err(|e| WarehouseError::Sql(format!("{file}: {e}")))?;
            }
            Ok(())
        })
        .await
    }

    async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        let conn = Arc::clone(&self.reader);
        let sql = sql.to_string();
        tokio::task::spawn_blocking(move || run_query(&conn.locked(), &sql))
            .await
            .map_err(|e| WarehouseError::Unavailable(format!("query task failed: {e}")))?
    }

    async fn copy_replace(&self, table: &TableName, source: &ObjectUri) -> Result<u64, WarehouseError> {
        let path = self.objects_root.join(&source.bucket).join(&source.key);
        let table = table.clone();
        let source = source.clone();
        self.with_writer(move |conn| {
            let columns = table_columns(conn, &table)?;
            let rows = csv_check::validate_file(&path, &source.to_string(), &columns).map_err(|e| WarehouseError::Load(e.to_string()))?;
            let tx = begin(conn).map_err(sql_err)?;
            tx.execute_batch(&format!("DELETE FROM {table};")).map_err(sql_err)?;
            let loaded = tx
                .execute(
                    &format!(
                        "COPY {table} FROM {} (FORMAT csv, HEADER true, QUOTE '\"', ESCAPE '\"', DATEFORMAT '%Y-%m-%d', BUFFER_SIZE {})",
                        literal(&path.to_string_lossy()),
                        CSV_BUFFER_BYTES
                    ),
                    [],
                )
                .map_err(|e| WarehouseError::Load(format!("COPY {table} FROM {source}: {e}")))?;
            if loaded as u64 != rows {
                return Err(WarehouseError::Load(format!(
                    "COPY {table} FROM {source} loaded {loaded} rows but the file has {rows}; kept the previous table"
                )));
            }
            tx.commit().map_err(sql_err)?;
            Ok(rows)
        })
        .await
    }

    /// Queue the batch, then let the writer commit everything queued by
    /// then in one transaction (group commit). Every caller queues before it
    /// asks the writer, so no batch is left behind; a group that fails is
    /// retried one batch at a time, so a bad batch fails alone.
    async fn load_facts(&self, batch: Arc<FactBatch>) -> Result<u64, WarehouseError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((batch, reply));
        let pending = Arc::clone(&self.pending);
        let last_group = Arc::clone(&self.last_group);
        let schema = self.schema.clone();
        self.with_writer(move |conn| {
            // A lone batch while other shards are loading too: give them a
            // moment to join (commit delay), one commit instead of several.
            let lone = pending.locked().len() == 1;
            if lone && last_group.load(Ordering::Relaxed) > 1 {
                std::thread::sleep(COMMIT_DELAY);
            }
            let group = {
                let mut queue = pending.locked();
                let mut rows = 0;
                let take = queue
                    .iter()
                    .take_while(|(b, _)| {
                        rows += b.rows.len();
                        rows <= GROUP_ROWS
                    })
                    .count()
                    .max(1)
                    .min(queue.len());
                queue.drain(..take).collect::<Vec<_>>()
            };
            if group.is_empty() {
                return Ok(()); // an earlier writer took ours along
            }
            last_group.store(group.len(), Ordering::Relaxed);
            let (batches, replies): (Vec<Arc<FactBatch>>, Vec<_>) = group.into_iter().unzip();
            match super::fact_load::load_group(conn, &schema, &batches) {
                Ok(counts) => {
                    for (reply, n) in replies.into_iter().zip(counts) {
                        let _ = reply.send(Ok(n));
                    }
                }
                Err(e) if batches.len() == 1 => {
                    if let Some(reply) = replies.into_iter().next() {
                        let _ = reply.send(Err(e));
                    }
                }
                Err(_) => {
                    for (b, reply) in batches.iter().zip(replies) {
                        let one = super::fact_load::load_group(conn, &schema, std::slice::from_ref(b));
                        let _ = reply.send(one.map(|n| n.first().copied().unwrap_or(0)));
                    }
                }
            }
            drop(batches);
            crate::memory::trim_now_and_then(TRIM_EVERY_MS);
            Ok(())
        })
        .await?;
        answer
            .await
            .map_err(|_| WarehouseError::Unavailable("the warehouse writer stopped before committing".into()))?
    }

    async fn lease_round(&self, round: &LeaseRound) -> Result<Vec<LeaseRow>, WarehouseError> {
        let sqls = round.statements(&self.schema).join(";\n");
        self.with_writer(move |conn| {
            let tx = begin(conn).map_err(sql_err)?;
            let rs = run_query(&tx, &sqls)?;
            tx.commit().map_err(sql_err)?;
            Ok(parse_rows(rs.rows))
        })
        .await
    }

    async fn shard_origins(&self, stream: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let schema = self.schema.clone();
        let stream = stream.to_string();
        self.with_writer(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT ShardId, Origin FROM {schema}.courier_shard_origins WHERE StreamName = ? ORDER BY ShardId"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![stream], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(sql_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
        })
        .await
    }

    async fn set_shard_origin(
        &self,
        stream: &str,
        shard: &str,
        origin: Option<&str>,
        forget_checkpoint: bool,
    ) -> Result<(), WarehouseError> {
        let schema = self.schema.clone();
        let (stream, shard, origin) = (stream.to_string(), shard.to_string(), origin.map(str::to_string));
        self.with_writer(move |conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            if forget_checkpoint {
                tx.execute(
                    &format!("DELETE FROM {schema}.courier_checkpoints WHERE StreamName = ? AND ShardId = ?"),
                    params![stream, shard],
                )
                .map_err(sql_err)?;
            }
            if let Some(origin) = origin {
                tx.execute(
                    &format!(
                        "INSERT INTO {schema}.courier_shard_origins VALUES (?, ?, ?, now()) \
                         ON CONFLICT (StreamName, ShardId) DO UPDATE SET Origin = EXCLUDED.Origin, SeenAt = EXCLUDED.SeenAt"
                    ),
                    params![stream, shard, origin],
                )
                .map_err(sql_err)?;
            }
            tx.commit().map_err(sql_err)
        })
        .await
    }

    async fn checkpoints(&self, stream: &str) -> Result<Vec<(String, SequenceNumber)>, WarehouseError> {
        let schema = self.schema.clone();
        let stream = stream.to_string();
        self.with_writer(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT ShardId, SequenceNumber FROM {schema}.courier_checkpoints WHERE StreamName = ? ORDER BY ShardId"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![stream], |r| Ok((r.get::<_, String>(0)?, SequenceNumber(r.get::<_, String>(1)?))))
                .map_err(sql_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
        })
        .await
    }
}

/// Column names and DuckDB types of `table`, in order.
fn table_columns(conn: &Connection, table: &TableName) -> Result<Vec<(String, String)>, WarehouseError> {
    let mut stmt = conn
        .prepare(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?) ORDER BY ordinal_position",
        )
        .map_err(sql_err)?;
    let cols = stmt
        .query_map(params![table.schema.as_str(), table.table.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(sql_err)?
        .collect::<Result<Vec<(String, String)>, _>>()
        .map_err(sql_err)?;
    if cols.is_empty() {
        return Err(WarehouseError::Sql(format!("table {table} does not exist")));
    }
    Ok(cols)
}
