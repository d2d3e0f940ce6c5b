//! Redshift through the Redshift Data API (aws-sdk-redshiftdata), behind the
//! `Warehouse` port. Statements are submitted, polled with backoff until they
//! finish, and their results paged in. Loads go through S3 and COPY; a fact
//! micro-batch, its dead letters and its checkpoint commit in one
//! BatchExecuteStatement (one transaction), idempotently, so a retry after a
//! lost answer changes nothing: exactly once, as on the embedded default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::types::{Field, StatusString};

use super::describe;
use crate::backend::embedded::csv_check;
use crate::backend::embedded::warehouse::SCHEMA_SQL;
use crate::backend::ident::Ident;
use crate::backend::lease::{LeaseRound, LeaseRow, fence_sql, parse_rows};
use crate::backend::{
    FactBatch, ObjectStore, ObjectStoreError, ObjectUri, ResultSet, SequenceNumber, TableName, Warehouse,
    WarehouseError, parent_sequence_number, payload,
};

/// The Data API refuses statements over 100 KB.
pub const MAX_STATEMENT_BYTES: usize = 100_000;

/// A statement still running this long after it was submitted is cancelled
/// (CancelStatement) and the load tried again: a micro-batch takes seconds.
pub const STATEMENT_DEADLINE: Duration = Duration::from_secs(600);

/// How long one wait polls a statement whose DescribeStatement keeps
/// failing before it hands back to the caller (who shows that it is
/// retrying and asks again; the statement is polled, not resubmitted).
const DESCRIBE_PATIENCE: Duration = Duration::from_secs(2);

/// Which Redshift, and how the Data API signs in to it.
#[derive(Debug, Clone, Default)]
pub struct RedshiftTarget {
    pub workgroup: Option<String>,
    pub cluster_identifier: Option<String>,
    pub database: String,
    pub secret_arn: Option<String>,
    pub db_user: Option<String>,
}

pub struct RedshiftDataWarehouse {
    client: Client,
    target: RedshiftTarget,
    schema: Ident,
    copy_role_arn: String,
    /// Where fact micro-batches are staged for COPY.
    objects: Arc<dyn ObjectStore>,
    bucket: String,
    staging_prefix: String,
    /// Loads submitted whose outcome is not known yet (DescribeStatement
    /// failed): by load key, the statement id and when it was submitted. A
    /// retry of the same load polls that statement instead of submitting a
    /// second one while the first may still run.
    in_flight: Mutex<HashMap<String, (String, Instant)>>,
}

/// What waiting for a statement found out.
enum Waited {
    /// FINISHED; whether it has a result set.
    Finished(bool),
    /// FAILED, ABORTED or cancelled, or the service no longer knows it: the
    /// statement is over (or never ran); its error.
    Over(WarehouseError),
    /// DescribeStatement keeps failing: the statement may still run.
    Unknown(WarehouseError),
}

// Every value put into SQL text passes `literal`; none carries a backslash
// (names, ARNs and keys are validated at config load, shard ids and sequence
// numbers come from Kinesis), so doubling quotes is the whole escape in
// Redshift and in the emulator alike.
use crate::backend::ident::literal;

fn data_api_err<E>(what: &str, err: aws_sdk_redshiftdata::error::SdkError<E>) -> WarehouseError
where
    E: aws_sdk_redshiftdata::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = describe(&err);
    match code.as_deref() {
        Some(
            "ValidationException"
            | "ResourceNotFoundException"
            | "ExecuteStatementException"
            | "BatchExecuteStatementException",
        ) => WarehouseError::Sql(format!("{what}: {message}")),
        // Throttling, ActiveStatementsExceeded, 5xx, connection failures: try again later.
        _ => WarehouseError::Unavailable(format!("{what}: {message}")),
    }
}

/// The Redshift target (database, workgroup or cluster, how to sign in) set
/// on an ExecuteStatement or BatchExecuteStatement request.
macro_rules! on_target {
    ($req:expr, $t:expr) => {
        $req.database(&$t.database)
            .set_workgroup_name($t.workgroup.clone())
            .set_cluster_identifier($t.cluster_identifier.clone())
            .set_secret_arn($t.secret_arn.clone())
            .set_db_user($t.db_user.clone())
    };
}

fn statement_id(op: &str, id: Option<&str>) -> Result<String, WarehouseError> {
    id.map(str::to_string)
        .ok_or_else(|| WarehouseError::Unavailable(format!("{op} returned no statement id")))
}

/// One Data API field as text (NULL as None).
fn field_text(f: &Field) -> Option<String> {
    match f {
        Field::IsNull(true) => None,
        Field::IsNull(false) => Some(String::new()),
        Field::BooleanValue(b) => Some(b.to_string()),
        Field::LongValue(v) => Some(v.to_string()),
        Field::DoubleValue(v) => Some(v.to_string()),
        Field::StringValue(s) => Some(s.clone()),
        Field::BlobValue(b) => Some(String::from_utf8_lossy(b.as_ref()).into_owned()),
        _ => Some("?".into()),
    }
}

/// The schema files' statements, each table schema-qualified.
pub fn schema_statements(schema: &Ident) -> Vec<String> {
    let mut out = vec![format!("CREATE SCHEMA IF NOT EXISTS {schema}")];
    for (_, text) in SCHEMA_SQL {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            out.push(stmt.replacen(
                "CREATE TABLE IF NOT EXISTS ",
                &format!("CREATE TABLE IF NOT EXISTS {schema}."),
                1,
            ));
        }
    }
    out
}

/// Cents as an exact decimal literal.
fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

fn ts_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

fn gzip_csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, WarehouseError> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut w = csv::Writer::from_writer(gz);
    let fail = |e: &dyn std::fmt::Display| WarehouseError::Load(format!("staging CSV: {e}"));
    w.write_record(header).map_err(|e| fail(&e))?;
    for r in rows {
        w.write_record(&r).map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))?.finish().map_err(|e| fail(&e))
}

const FACT_STAGE: &str = "courier_stage_facts";
const DEAD_STAGE: &str = "courier_stage_dead";

impl RedshiftDataWarehouse {
    pub fn new(
        client: Client,
        target: RedshiftTarget,
        schema: Ident,
        copy_role_arn: String,
        objects: Arc<dyn ObjectStore>,
        bucket: String,
        staging_prefix: String,
    ) -> Self {
        RedshiftDataWarehouse {
            client,
            target,
            schema,
            copy_role_arn,
            objects,
            bucket,
            staging_prefix,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn check_size(sql: &str) -> Result<(), WarehouseError> {
        if sql.len() > MAX_STATEMENT_BYTES {
            return Err(WarehouseError::Sql(format!(
                "statement is {} bytes; the Redshift Data API takes at most {MAX_STATEMENT_BYTES}",
                sql.len()
            )));
        }
        Ok(())
    }

    /// ExecuteStatement, then wait for it. Returns the statement id and
    /// whether it has a result set.
    async fn execute(&self, sql: &str) -> Result<(String, bool), WarehouseError> {
        Self::check_size(sql)?;
        let req = on_target!(self.client.execute_statement().sql(sql), self.target);
        let out = req.send().await.map_err(|e| data_api_err("ExecuteStatement", e))?;
        let id = statement_id("ExecuteStatement", out.id())?;
        match self.wait(&id, Instant::now()).await {
            Waited::Finished(has_rows) => Ok((id, has_rows)),
            // A query is not retried here: the caller says so.
            Waited::Over(e) | Waited::Unknown(e) => Err(e),
        }
    }

    /// BatchExecuteStatement (one transaction), then wait for it.
    async fn batch(&self, sqls: Vec<String>) -> Result<(), WarehouseError> {
        self.batch_once(None, sqls).await.map(|_| ())
    }

    /// A batch that may be asked for again under the same `key` (a load the
    /// ingester retries): when an earlier submission's outcome is unknown,
    /// that statement is polled again instead of a second one submitted;
    /// a new one goes only once the service says the first is over or no
    /// longer knows it.
    /// Returns the batch's statement id.
    async fn batch_once(&self, key: Option<&str>, sqls: Vec<String>) -> Result<String, WarehouseError> {
        let earlier = key.and_then(|k| self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).get(k).cloned());
        let (id, submitted) = match earlier {
            Some(known) => known,
            None => {
                for s in &sqls {
                    Self::check_size(s)?;
                }
                let req = on_target!(self.client.batch_execute_statement().set_sqls(Some(sqls)), self.target);
                let out = req.send().await.map_err(|e| data_api_err("BatchExecuteStatement", e))?;
                (statement_id("BatchExecuteStatement", out.id())?, Instant::now())
            }
        };
        let waited = self.wait(&id, submitted).await;
        if let Some(k) = key {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            match &waited {
                Waited::Unknown(_) => {
                    in_flight.insert(k.to_string(), (id.clone(), submitted));
                }
                _ => {
                    in_flight.remove(k);
                }
            }
        }
        match waited {
            Waited::Finished(_) => Ok(id),
            Waited::Over(e) | Waited::Unknown(e) => Err(e),
        }
    }

    /// Poll DescribeStatement with backoff until the statement is done.
    /// FAILED carries Redshift's error text. A statement the service no
    /// longer knows (it restarted, or the id expired) is over with its
    /// outcome unknown: the caller submits it again, which every load is
    /// written to survive (staged rows go in only if newer, the checkpoint
    /// only moves forward). DescribeStatement failing (the endpoint away,
    /// throttling) says nothing about the statement: after a while the wait
    /// hands back `Unknown` and the same statement is polled next time. One
    /// past `STATEMENT_DEADLINE` is cancelled.
    async fn wait(&self, id: &str, submitted: Instant) -> Waited {
        let mut delay = Duration::from_millis(10);
        let mut failing_since: Option<Instant> = None;
        loop {
            if submitted.elapsed() > STATEMENT_DEADLINE {
                let cancelled = self.client.cancel_statement().id(id).send().await;
                tracing::warn!(
                    statement = id,
                    ok = cancelled.is_ok(),
                    "statement past its deadline: cancelled"
                );
                return Waited::Over(WarehouseError::Unavailable(format!(
                    "statement {id} still ran after {} s: cancelled",
                    STATEMENT_DEADLINE.as_secs()
                )));
            }
            match self.client.describe_statement().id(id).send().await {
                Ok(d) => {
                    failing_since = None;
                    match d.status() {
                        Some(StatusString::Finished) => return Waited::Finished(d.has_result_set().unwrap_or(false)),
                        Some(StatusString::Failed) => {
                            return Waited::Over(WarehouseError::Sql(
                                d.error().unwrap_or("statement failed").to_string(),
                            ));
                        }
                        Some(StatusString::Aborted) => {
                            return Waited::Over(WarehouseError::Unavailable(format!("statement {id} was aborted")));
                        }
                        _ => {}
                    }
                }
                Err(e) => match data_api_err("DescribeStatement", e) {
                    // ResourceNotFound / Validation: the service forgot it.
                    WarehouseError::Sql(m) => return Waited::Over(WarehouseError::Unavailable(m)),
                    other => {
                        let since = *failing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= DESCRIBE_PATIENCE {
                            return Waited::Unknown(other);
                        }
                    }
                },
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// GetStatementResult, all pages.
    async fn fetch(&self, id: &str) -> Result<ResultSet, WarehouseError> {
        let mut rs = ResultSet::default();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .get_statement_result()
                .id(id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| data_api_err("GetStatementResult", e))?;
            if rs.columns.is_empty() {
                rs.columns = out
                    .column_metadata()
                    .iter()
                    .map(|c| c.label().or(c.name()).unwrap_or("?").to_string())
                    .collect();
            }
            rs.rows.extend(
                out.records()
                    .iter()
                    .map(|r| r.iter().map(field_text).collect::<Vec<_>>()),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(rs),
            }
        }
    }

    fn copy_sql(&self, table: &str, source: &ObjectUri, gzip: bool) -> String {
        format!(
            "COPY {table} FROM {} IAM_ROLE {} CSV IGNOREHEADER 1 QUOTE AS '\"'{}",
            literal(&source.to_string()),
            literal(&self.copy_role_arn),
            if gzip { " GZIP" } else { "" }
        )
    }

    /// Column names and types of a table, as the CSV check wants them.
    async fn columns(&self, table: &TableName) -> Result<Vec<(String, String)>, WarehouseError> {
        let rs = self
            .query(&format!(
                "SELECT column_name, CASE \
                   WHEN lower(data_type) LIKE 'numeric%' OR lower(data_type) LIKE 'decimal%' \
                     THEN 'DECIMAL(' || numeric_precision || ',' || numeric_scale || ')' \
                   WHEN lower(data_type) IN ('integer', 'int', 'int4') THEN 'INTEGER' \
                   WHEN lower(data_type) IN ('bigint', 'int8') THEN 'BIGINT' \
                   WHEN lower(data_type) = 'date' THEN 'DATE' ELSE 'VARCHAR' END \
                 FROM information_schema.columns \
                 WHERE lower(table_schema) = lower({}) AND lower(table_name) = lower({}) \
                 ORDER BY ordinal_position",
                literal(table.schema.as_str()),
                literal(table.table.as_str())
            ))
            .await?;
        if rs.rows.is_empty() {
            return Err(WarehouseError::Sql(format!("table {table} does not exist")));
        }
        Ok(rs
            .rows
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                (
                    it.next().flatten().unwrap_or_default(),
                    it.next().flatten().unwrap_or_default(),
                )
            })
            .collect())
    }

    fn staging_uri(&self, batch: &FactBatch, what: &str) -> Result<ObjectUri, WarehouseError> {
        let key = if batch.redrive {
            format!(
                "{}/{}/{}/redrive-{}-{}.{what}.csv.gz",
                self.staging_prefix,
                batch.stream,
                batch.shard_id,
                chrono::Utc::now().timestamp_millis(),
                batch.checkpoint.0
            )
        } else if batch.partial {
            // Parts of one aggregated record: named by their first user record.
            let first = batch.rows.first().map_or("", |r| r.sequence_number.as_str());
            format!(
                "{}/{}/{}/{}.part-{}.{what}.csv.gz",
                self.staging_prefix,
                batch.stream,
                batch.shard_id,
                batch.checkpoint.0,
                first.replace(':', "-")
            )
        } else {
            format!(
                "{}/{}/{}/{}.{what}.csv.gz",
                self.staging_prefix, batch.stream, batch.shard_id, batch.checkpoint.0
            )
        };
        ObjectUri::new(&self.bucket, &key).map_err(|e| WarehouseError::Load(e.to_string()))
    }

    /// `(ShardId, column)` of a per-shard bookkeeping table, for `stream`.
    async fn per_shard(
        &self,
        table: &str,
        column: &str,
        stream: &str,
    ) -> Result<Vec<(String, String)>, WarehouseError> {
        let rs = self
            .query(&format!(
                "SELECT ShardId, {column} FROM {}.{table} WHERE StreamName = {} ORDER BY ShardId",
                self.schema,
                literal(stream)
            ))
            .await?;
        Ok(rs
            .rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                Some((it.next()??, it.next()??))
            })
            .collect())
    }

    /// The staged objects of a committed load are no longer needed. A
    /// failure to delete costs only storage (a lifecycle rule on the
    /// staging prefix cleans up after a crash): logged, not raised.
    async fn unstage(&self, staged: &[ObjectUri]) {
        for uri in staged {
            if let Err(e) = self.objects.delete(uri).await {
                tracing::debug!(%uri, error = %e, "staged object not deleted");
            }
        }
    }

    async fn stage(&self, uri: &ObjectUri, body: Vec<u8>) -> Result<(), WarehouseError> {
        self.objects.put(uri, body).await.map_err(|e| match e {
            ObjectStoreError::NotFound(m) => WarehouseError::Load(format!("staging {uri}: {m}")),
            e => WarehouseError::Unavailable(format!("staging {uri}: {e}")),
        })
    }
}

#[async_trait]
impl Warehouse for RedshiftDataWarehouse {
    async fn ensure_schema(&self) -> Result<(), WarehouseError> {
        self.batch(schema_statements(&self.schema)).await
    }

    async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        let (id, has_rows) = self.execute(sql).await?;
        if has_rows {
            self.fetch(&id).await
        } else {
            Ok(ResultSet::default())
        }
    }

    async fn copy_replace(&self, table: &TableName, source: &ObjectUri) -> Result<u64, WarehouseError> {
        // Check the file first, so a bad one fails with its line and the table is untouched.
        let body = self.objects.get(source).await.map_err(|e| match e {
            ObjectStoreError::NotFound(_) => WarehouseError::Load(format!("{source}: no such object")),
            e => WarehouseError::Unavailable(e.to_string()),
        })?;
        let columns = self.columns(table).await?;
        let rows = csv_check::validate(body.as_slice(), &source.to_string(), &columns)
            .map_err(|e| WarehouseError::Load(e.to_string()))?;
        // COPY's FROM is a prefix: `dimCustomers.csv.bak` beside the file
        // would be loaded too. A manifest names exactly the one file.
        let manifest = ObjectUri {
            bucket: self.bucket.clone(),
            key: format!("{}/manifests/{}.manifest", self.staging_prefix, table.table.as_str()),
        };
        let body = serde_json::json!({"entries": [{"url": source.to_string(), "mandatory": true}]});
        self.stage(&manifest, body.to_string().into_bytes()).await?;
        // DELETE + COPY in one transaction: readers see the old rows or the new ones.
        self.batch(vec![
            format!("DELETE FROM {table}"),
            format!("{} MANIFEST", self.copy_sql(&table.to_string(), &manifest, false)),
        ])
        .await
        .map_err(|e| match e {
            WarehouseError::Sql(m) => WarehouseError::Load(format!("COPY {table} FROM {source}: {m}")),
            e => e,
        })?;
        Ok(rows)
    }

    async fn load_facts(&self, batch: Arc<FactBatch>) -> Result<u64, WarehouseError> {
        let s = &self.schema;
        let latest = batch.latest_rows();
        let ingest = ts_ms(chrono::Utc::now().timestamp_millis());
        let mut sqls = Vec::new();
        // First the fence: the whole transaction fails unless this instance
        // still holds the shard's lease.
        if let Some(owner) = &batch.lease_owner {
            sqls.push(fence_sql(s, &batch.stream, &batch.shard_id, owner));
        }
        let mut staged = Vec::new();
        // The same load asked again (a retry) has the same key.
        let key = format!(
            "{}/{}/{}/{}/{}/{}/{}",
            batch.stream,
            batch.shard_id,
            batch.checkpoint.0,
            batch.rows.len(),
            batch.dead_letters.len(),
            batch.redrive,
            // Parts of one aggregated record share its checkpoint.
            batch.rows.first().map_or("", |r| r.sequence_number.as_str())
        );
        if !latest.is_empty() {
            let rows = latest.iter().map(|r| {
                vec![
                    r.order_id.to_string(),
                    r.customer_id.to_string(),
                    r.restaurant_id.to_string(),
                    r.rider_id.to_string(),
                    r.order_date.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
                    r.delivery_time.to_string(),
                    money(r.order_value.into()),
                    money(r.delivery_fee.into()),
                    money(r.tip_amount.into()),
                    r.order_status.to_string(),
                    batch.shard_id.clone(),
                    parent_sequence_number(&r.sequence_number).to_string(),
                    ts_ms(r.arrival_ms),
                    ingest.clone(),
                    r.emitted_ms.map(ts_ms).unwrap_or_default(),
                ]
            });
            let body = gzip_csv(
                &[
                    "OrderID",
                    "CustomerID",
                    "RestaurantID",
                    "RiderID",
                    "OrderDate",
                    "DeliveryTime",
                    "OrderValue",
                    "DeliveryFee",
                    "TipAmount",
                    "OrderStatus",
                    "ShardId",
                    "SequenceNumber",
                    "ArrivalTime",
                    "IngestTime",
                    "EmittedAt",
                ],
                rows,
            )?;
            let uri = self.staging_uri(&batch, "facts")?;
            self.stage(&uri, body).await?;
            staged.push(uri.clone());
            let newer = |a: &str, b: &str| {
                format!(
                    "(LENGTH({a}.SequenceNumber) > LENGTH({b}.SequenceNumber) OR (LENGTH({a}.SequenceNumber) = \
                     LENGTH({b}.SequenceNumber) AND {a}.SequenceNumber > {b}.SequenceNumber))"
                )
            };
            sqls.extend([
                format!(
                    "CREATE TEMP TABLE {FACT_STAGE} (OrderID BIGINT, CustomerID INT, RestaurantID INT, RiderID INT, \
                     OrderDate VARCHAR(32), DeliveryTime INT, OrderValue DECIMAL(8,2), DeliveryFee DECIMAL(8,2), \
                     TipAmount DECIMAL(8,2), OrderStatus VARCHAR(50), ShardId VARCHAR(64), SequenceNumber VARCHAR(128), \
                     ArrivalTime VARCHAR(32), IngestTime VARCHAR(32), EmittedAt VARCHAR(32))"
                ),
                self.copy_sql(FACT_STAGE, &uri, true),
                // A newer event replaces the row; an older or repeated one changes nothing.
                format!(
                    "DELETE FROM {s}.factOrders USING {FACT_STAGE} WHERE factOrders.OrderID = {FACT_STAGE}.OrderID AND {}",
                    newer(FACT_STAGE, "factOrders")
                ),
                format!(
                    "INSERT INTO {s}.factOrders SELECT OrderID, CustomerID, RestaurantID, RiderID, \
                     CAST(OrderDate AS TIMESTAMP), DeliveryTime, OrderValue, DeliveryFee, TipAmount, OrderStatus, \
                     ShardId, SequenceNumber, CAST(ArrivalTime AS TIMESTAMP), CAST(IngestTime AS TIMESTAMP), \
                     CAST(NULLIF(EmittedAt, '') AS TIMESTAMP) FROM {FACT_STAGE} \
                     WHERE NOT EXISTS (SELECT 1 FROM {s}.factOrders f WHERE f.OrderID = {FACT_STAGE}.OrderID)"
                ),
                format!("DROP TABLE {FACT_STAGE}"),
            ]);
        }
        if !batch.dead_letters.is_empty() {
            let rows = batch.dead_letters.iter().map(|d| {
                let (encoding, text) = payload::encode(&d.payload);
                vec![
                    d.shard_id.clone(),
                    d.sequence_number.clone(),
                    ts_ms(d.arrival_ms),
                    payload::clean_text(&d.reason, 1024),
                    encoding.to_string(),
                    text,
                    d.payload.len().to_string(),
                ]
            });
            let body = gzip_csv(
                &[
                    "ShardId",
                    "SequenceNumber",
                    "ArrivalTime",
                    "Reason",
                    "PayloadEncoding",
                    "Payload",
                    "PayloadBytes",
                ],
                rows,
            )?;
            let uri = self.staging_uri(&batch, "dead")?;
            self.stage(&uri, body).await?;
            staged.push(uri.clone());
            let stream = literal(&batch.stream);
            let same = format!(
                "x.StreamName = {stream} AND x.ShardId = {DEAD_STAGE}.ShardId AND x.SequenceNumber = {DEAD_STAGE}.SequenceNumber"
            );
            sqls.extend([
                format!(
                    "CREATE TEMP TABLE {DEAD_STAGE} (ShardId VARCHAR(64), SequenceNumber VARCHAR(128), \
                     ArrivalTime VARCHAR(32), Reason VARCHAR(1024), PayloadEncoding VARCHAR(8), Payload VARCHAR(65535), \
                     PayloadBytes INT)"
                ),
                self.copy_sql(DEAD_STAGE, &uri, true),
            ]);
            if batch.redrive {
                // Failed again: the new reason, one more attempt.
                sqls.push(format!(
                    "UPDATE {s}.courier_dlq SET Reason = {DEAD_STAGE}.Reason, Attempts = {s}.courier_dlq.Attempts + 1 \
                     FROM {DEAD_STAGE} WHERE {s}.courier_dlq.StreamName = {stream} \
                     AND {s}.courier_dlq.ShardId = {DEAD_STAGE}.ShardId \
                     AND {s}.courier_dlq.SequenceNumber = {DEAD_STAGE}.SequenceNumber"
                ));
            }
            sqls.extend([
                format!(
                    "INSERT INTO {s}.courier_dlq SELECT {stream}, ShardId, SequenceNumber, CAST(ArrivalTime AS TIMESTAMP), \
                     CAST({} AS TIMESTAMP), Reason, PayloadEncoding, Payload, PayloadBytes, 1, NULL FROM {DEAD_STAGE} \
                     WHERE NOT EXISTS (SELECT 1 FROM {s}.courier_dlq x WHERE {same})",
                    literal(&ingest)
                ),
                format!("DROP TABLE {DEAD_STAGE}"),
            ]);
        }
        if batch.partial {
            // The rest of its aggregated record follows with the checkpoint.
            self.batch_once(Some(&key), sqls).await?;
            self.unstage(&staged).await;
            return Ok(latest.len() as u64);
        }
        if batch.redrive {
            if !batch.rows.is_empty() {
                let seqs: Vec<String> = batch.rows.iter().map(|r| literal(&r.sequence_number)).collect();
                sqls.push(format!(
                    "UPDATE {s}.courier_dlq SET RedrivenAt = CAST({} AS TIMESTAMP), Attempts = Attempts + 1 \
                     WHERE StreamName = {} AND ShardId = {} AND SequenceNumber IN ({}) AND RedrivenAt IS NULL",
                    literal(&ingest),
                    literal(&batch.stream),
                    literal(&batch.shard_id),
                    seqs.join(", ")
                ));
            }
            self.batch_once(Some(&key), sqls).await?;
            self.unstage(&staged).await;
            return Ok(latest.len() as u64);
        }
        let (stream, shard) = (literal(&batch.stream), literal(&batch.shard_id));
        let cp = literal(&batch.checkpoint.0);
        // The checkpoint only moves forward — a late commit of an older
        // batch can't move it back — except on the first commit after a
        // rewind, which moves it where the operator asked.
        let only_older = if batch.rewound {
            String::new()
        } else {
            format!(
                " AND (LENGTH({cp}) > LENGTH(SequenceNumber) OR (LENGTH({cp}) = LENGTH(SequenceNumber) AND {cp} > SequenceNumber))"
            )
        };
        sqls.extend([
            format!("DELETE FROM {s}.courier_checkpoints WHERE StreamName = {stream} AND ShardId = {shard}{only_older}"),
            format!(
                "INSERT INTO {s}.courier_checkpoints SELECT {stream}, {shard}, {cp}, CAST({} AS TIMESTAMP) \
                 WHERE NOT EXISTS (SELECT 1 FROM {s}.courier_checkpoints WHERE StreamName = {stream} AND ShardId = {shard})",
                literal(&ingest)
            ),
        ]);
        self.batch_once(Some(&key), sqls).await?;
        self.unstage(&staged).await;
        Ok(latest.len() as u64)
    }

    async fn reserve_order_ids(&self, block: i64) -> Result<Option<i64>, WarehouseError> {
        let s = &self.schema;
        let claim = format!("{:032x}", rand::random::<u128>());
        let now = ts_ms(chrono::Utc::now().timestamp_millis());
        // One statement, so one transaction: above every claim and every
        // OrderID already loaded. Two instances claiming at once collide
        // under Redshift's serializable isolation; the loser retries.
        self.batch(vec![format!(
            "INSERT INTO {s}.courier_order_ids SELECT {}, n, n + {block}, CAST({} AS TIMESTAMP) FROM \
             (SELECT GREATEST(COALESCE((SELECT MAX(EndID) FROM {s}.courier_order_ids), 1), \
             COALESCE((SELECT MAX(OrderID) + 1 FROM {s}.factOrders), 1)) AS n) AS next_block",
            literal(&claim),
            literal(&now)
        )])
        .await?;
        let rs = self
            .query(&format!(
                "SELECT FirstID FROM {s}.courier_order_ids WHERE Claim = {}",
                literal(&claim)
            ))
            .await?;
        rs.rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| WarehouseError::Sql(format!("order id claim {claim} was not recorded")))
    }

    async fn lease_round(&self, round: &LeaseRound) -> Result<Vec<LeaseRow>, WarehouseError> {
        let sqls = round.statements(&self.schema);
        let last = sqls.len();
        let id = self.batch_once(None, sqls).await?;
        // The read is the batch's last statement: its own result, `ID:N`.
        let rs = self.fetch(&format!("{id}:{last}")).await?;
        Ok(parse_rows(rs.rows))
    }

    async fn shard_origins(&self, stream: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        self.per_shard("courier_shard_origins", "Origin", stream).await
    }

    async fn set_shard_origin(
        &self,
        stream: &str,
        shard: &str,
        origin: Option<&str>,
        forget_checkpoint: bool,
    ) -> Result<(), WarehouseError> {
        let s = &self.schema;
        let (stream, shard) = (literal(stream), literal(shard));
        let now = literal(&ts_ms(chrono::Utc::now().timestamp_millis()));
        let mut sqls = Vec::new();
        if forget_checkpoint {
            sqls.push(format!(
                "DELETE FROM {s}.courier_checkpoints WHERE StreamName = {stream} AND ShardId = {shard}"
            ));
        }
        if let Some(origin) = origin {
            sqls.extend([
                format!("DELETE FROM {s}.courier_shard_origins WHERE StreamName = {stream} AND ShardId = {shard}"),
                format!(
                    "INSERT INTO {s}.courier_shard_origins VALUES ({stream}, {shard}, {}, CAST({now} AS TIMESTAMP))",
                    literal(origin)
                ),
            ]);
        }
        if sqls.is_empty() {
            return Ok(());
        }
        self.batch(sqls).await
    }

    async fn checkpoints(&self, stream: &str) -> Result<Vec<(String, SequenceNumber)>, WarehouseError> {
        let rows = self.per_shard("courier_checkpoints", "SequenceNumber", stream).await?;
        Ok(rows
            .into_iter()
            .map(|(shard, seq)| (shard, SequenceNumber(seq)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped() {
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(money(1234), "12.34");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-250), "-2.50");
    }

    #[test]
    fn schema_statements_are_qualified() {
        let s = schema_statements(&Ident::parse("schema", "dm").unwrap());
        assert_eq!(s[0], "CREATE SCHEMA IF NOT EXISTS dm");
        assert!(
            s.iter()
                .any(|x| x.starts_with("CREATE TABLE IF NOT EXISTS dm.factOrders"))
        );
        assert!(s.iter().all(|x| !x.contains(';') && !x.contains("--")));
        assert_eq!(s.len(), 1 + 3 + 1 + 5);
    }
}
