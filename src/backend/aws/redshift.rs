//! Redshift through the Redshift Data API (aws-sdk-redshiftdata), behind the
//! `Warehouse` port. Statements are submitted, polled with backoff until they
//! finish, and their results paged in. Loads go through S3 and COPY; a fact
//! micro-batch, its dead letters and its checkpoint commit in one
//! BatchExecuteStatement (one transaction), idempotently, so a retry after a
//! lost answer changes nothing: exactly once, as on the embedded default.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::types::{Field, StatusString};

use super::describe;
use crate::backend::embedded::csv_check;
use crate::backend::embedded::warehouse::SCHEMA_SQL;
use crate::backend::ident::Ident;
use crate::backend::{
    FactBatch, ObjectStore, ObjectStoreError, ObjectUri, ResultSet, SequenceNumber, TableName, Warehouse,
    WarehouseError, payload,
};

/// The Data API refuses statements over 100 KB.
pub const MAX_STATEMENT_BYTES: usize = 100_000;

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
        let has_rows = self.wait(&id).await?;
        Ok((id, has_rows))
    }

    /// BatchExecuteStatement (one transaction), then wait for it.
    async fn batch(&self, sqls: Vec<String>) -> Result<(), WarehouseError> {
        for s in &sqls {
            Self::check_size(s)?;
        }
        let req = on_target!(self.client.batch_execute_statement().set_sqls(Some(sqls)), self.target);
        let out = req.send().await.map_err(|e| data_api_err("BatchExecuteStatement", e))?;
        let id = statement_id("BatchExecuteStatement", out.id())?;
        self.wait(&id).await.map(|_| ())
    }

    /// Poll DescribeStatement with backoff until the statement is done.
    /// Ok(has_result_set) when FINISHED; FAILED carries Redshift's error text.
    /// A DescribeStatement that fails even after the SDK's own retries ends
    /// the wait as `Unavailable` at once: the caller shows that it is
    /// retrying and replays the statement, which every load is written to
    /// survive (staged rows go in only if absent, the checkpoint is replaced).
    async fn wait(&self, id: &str) -> Result<bool, WarehouseError> {
        let mut delay = Duration::from_millis(10);
        loop {
            match self.client.describe_statement().id(id).send().await {
                Ok(d) => match d.status() {
                    Some(StatusString::Finished) => return Ok(d.has_result_set().unwrap_or(false)),
                    Some(StatusString::Failed) => {
                        return Err(WarehouseError::Sql(d.error().unwrap_or("statement failed").to_string()));
                    }
                    Some(StatusString::Aborted) => {
                        return Err(WarehouseError::Unavailable(format!("statement {id} was aborted")));
                    }
                    _ => {}
                },
                Err(e) => {
                    return Err(match data_api_err("DescribeStatement", e) {
                        // The service forgot the statement (restarted, or it
                        // expired): its outcome is unknown, so try again.
                        WarehouseError::Sql(m) => WarehouseError::Unavailable(m),
                        other => other,
                    });
                }
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
        } else {
            format!(
                "{}/{}/{}/{}.{what}.csv.gz",
                self.staging_prefix, batch.stream, batch.shard_id, batch.checkpoint.0
            )
        };
        ObjectUri::new(&self.bucket, &key).map_err(WarehouseError::Load)
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
        let rows = csv_check::validate(body.as_slice(), &source.to_string(), &columns).map_err(WarehouseError::Load)?;
        // DELETE + COPY in one transaction: readers see the old rows or the new ones.
        self.batch(vec![
            format!("DELETE FROM {table}"),
            self.copy_sql(&table.to_string(), source, false),
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
                    r.sequence_number.to_string(),
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
            self.batch(sqls).await?;
            return Ok(latest.len() as u64);
        }
        let (stream, shard) = (literal(&batch.stream), literal(&batch.shard_id));
        sqls.extend([
            format!("DELETE FROM {s}.courier_checkpoints WHERE StreamName = {stream} AND ShardId = {shard}"),
            format!(
                "INSERT INTO {s}.courier_checkpoints VALUES ({stream}, {shard}, {}, CAST({} AS TIMESTAMP))",
                literal(&batch.checkpoint.0),
                literal(&ingest)
            ),
        ]);
        self.batch(sqls).await?;
        Ok(latest.len() as u64)
    }

    async fn checkpoints(&self, stream: &str) -> Result<Vec<(String, SequenceNumber)>, WarehouseError> {
        let rs = self
            .query(&format!(
                "SELECT ShardId, SequenceNumber FROM {}.courier_checkpoints WHERE StreamName = {} ORDER BY ShardId",
                self.schema,
                literal(stream)
            ))
            .await?;
        Ok(rs
            .rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                Some((it.next()??, SequenceNumber(it.next()??)))
            })
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
        assert_eq!(s.len(), 1 + 3 + 1 + 2);
    }
}
