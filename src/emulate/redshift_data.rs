//! The Redshift Data API over courier's embedded DuckDB warehouse: SQL in the
//! Redshift dialect (translated as for the dashboard queries), COPY from S3,
//! asynchronous statements polled with DescribeStatement, typed results paged
//! with GetStatementResult.

use crate::sync::LockExt;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use color_eyre::eyre::{self, WrapErr};
use duckdb::Connection;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::{DataType, Float64Type, Int64Type};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Value, json};

use super::copy::{CopyError, CopyParseError, CopySource, parse_copy, run_copy};
use super::{ApiError, ApiResult};
use crate::backend::WarehouseError;
use crate::backend::embedded::DuckDbWarehouse;
use crate::dialect::TranslateError;

/// The Data API refuses longer SQL.
const MAX_SQL_BYTES: usize = 100_000;
/// Rows per GetStatementResult page.
const PAGE_ROWS: usize = 1000;
/// Statements remembered (oldest forgotten first).
const KEEP_STATEMENTS: usize = 1000;
/// The largest result one statement may have, as the Data API's 100 MB.
const MAX_RESULT_BYTES: usize = 100 << 20;
/// Results kept for GetStatementResult, all statements together: past it
/// the oldest statements are forgotten first.
const MAX_KEPT_RESULT_BYTES: usize = 512 << 20;

/// Why a statement failed: its text is the statement's `Error` in
/// DescribeStatement (after `ERROR: `), as the client sees it.
#[derive(Debug, thiserror::Error)]
enum StatementError {
    #[error(transparent)]
    CopySyntax(#[from] CopyParseError),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Sql(#[from] duckdb::Error),
    #[error("cannot render result: {0}")]
    Render(ArrowError),
    #[error("syntax error: no SQL statement given")]
    NoStatement,
    #[error(
        "the query's result is about {mb} MB; the Data API returns at most {} MB: add a LIMIT or select fewer columns",
        MAX_RESULT_BYTES >> 20
    )]
    ResultTooLarge { mb: usize },
}

#[derive(Clone, Default)]
struct Column {
    name: String,
    type_name: String,
}

#[derive(Clone, Default)]
struct Outcome {
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    has_result_set: bool,
    result_rows: i64,
    /// About what `rows` holds in memory.
    bytes: usize,
}

/// About the memory one result field takes.
fn field_bytes(v: &Value) -> usize {
    48 + v.get("stringValue").and_then(Value::as_str).map_or(0, str::len)
}

#[derive(Clone)]
struct Sub {
    sql: String,
    status: &'static str,
    error: Option<String>,
    outcome: Outcome,
    duration_ns: i64,
}

struct Statement {
    id: String,
    subs: Vec<Sub>,
    batch: bool,
    status: &'static str,
    error: Option<String>,
    created: f64,
    updated: f64,
    duration_ns: i64,
    database: String,
    target: (&'static str, String),
}

pub struct DataApi {
    warehouse: DuckDbWarehouse,
    copy: CopySource,
    statements: Mutex<HashMap<String, Statement>>,
    order: Mutex<VecDeque<String>>,
    /// One writer at a time, as Redshift serializes conflicting transactions.
    write: Mutex<()>,
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// SQL without leading `--` and `/* */` comments.
fn strip_comments(sql: &str) -> String {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return s.to_string();
        }
    }
}

fn is_query(sql: &str) -> bool {
    let head = sql
        .trim_start()
        .trim_start_matches('(')
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        head.as_str(),
        "SELECT" | "WITH" | "SHOW" | "VALUES" | "DESCRIBE" | "EXPLAIN"
    )
}

/// Arrow columns to Data API fields: integers as longValue, floats as
/// doubleValue, booleans as booleanValue, the rest (DECIMAL, dates,
/// timestamps, text) as stringValue the way Redshift prints them.
fn typed_rows(batches: &[duckdb::arrow::record_batch::RecordBatch]) -> Result<Vec<Vec<Value>>, ArrowError> {
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let mut rows = Vec::new();
    for batch in batches {
        let cols: Vec<(ArrayRef, ArrayFormatter)> = batch
            .columns()
            .iter()
            .map(|c| Ok((c.clone(), ArrayFormatter::try_new(c.as_ref(), &options)?)))
            .collect::<Result<Vec<_>, ArrowError>>()?;
        for r in 0..batch.num_rows() {
            rows.push(cols.iter().map(|(col, f)| field(col, f, r)).collect::<Vec<_>>());
        }
    }
    Ok(rows)
}

fn field(col: &ArrayRef, f: &ArrayFormatter, r: usize) -> Value {
    if col.is_null(r) || col.data_type() == &DataType::Null {
        return json!({"isNull": true});
    }
    match col.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => match duckdb::arrow::compute::cast(&col.slice(r, 1), &DataType::Int64) {
            Ok(a) => json!({"longValue": a.as_primitive::<Int64Type>().value(0)}),
            Err(_) => json!({"stringValue": f.value(r).to_string()}),
        },
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            match duckdb::arrow::compute::cast(&col.slice(r, 1), &DataType::Float64) {
                Ok(a) => json!({"doubleValue": a.as_primitive::<Float64Type>().value(0)}),
                Err(_) => json!({"stringValue": f.value(r).to_string()}),
            }
        }
        DataType::Boolean => json!({"booleanValue": col.as_boolean().value(r)}),
        _ => json!({"stringValue": f.value(r).to_string()}),
    }
}

fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 | DataType::Int16 => "int2",
        DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "int4",
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "int8",
        DataType::Float16 | DataType::Float32 => "float4",
        DataType::Float64 => "float8",
        DataType::Boolean => "bool",
        DataType::Decimal128(..) | DataType::Decimal256(..) => "numeric",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(..) => "timestamp",
        _ => "varchar",
    }
}

/// Run one Redshift statement on `conn`.
fn run_one(conn: &Connection, copy: &CopySource, sql: &str) -> Result<Outcome, StatementError> {
    if let Some(c) = parse_copy(sql)? {
        let n = run_copy(conn, copy, &c)?;
        return Ok(Outcome {
            result_rows: n as i64,
            ..Outcome::default()
        });
    }
    crate::dialect::data_api_statement_allowed(sql)?;
    let statements = crate::dialect::translate_statements(sql)?;
    crate::dialect::prepare(conn, &statements)?;
    let Some((last, before)) = statements.split_last() else {
        return Err(StatementError::NoStatement);
    };
    for s in before {
        conn.execute_batch(s)?;
    }
    if !is_query(last) {
        let n = conn.execute(last, [])?;
        return Ok(Outcome {
            result_rows: n as i64,
            ..Outcome::default()
        });
    }
    let mut stmt = conn.prepare(last)?;
    let batches: Vec<_> = stmt.query_arrow([])?.collect();
    let names = stmt.column_names();
    let types: Vec<&'static str> = match batches.first() {
        Some(b) => b.columns().iter().map(|c| type_name(c.data_type())).collect(),
        None => vec!["varchar"; names.len()],
    };
    let rows = typed_rows(&batches).map_err(StatementError::Render)?;
    let bytes: usize = rows.iter().flatten().map(field_bytes).sum();
    if bytes > MAX_RESULT_BYTES {
        return Err(StatementError::ResultTooLarge { mb: bytes >> 20 });
    }
    Ok(Outcome {
        bytes,
        columns: names
            .into_iter()
            .zip(types)
            .map(|(name, t)| Column {
                name,
                type_name: t.to_string(),
            })
            .collect(),
        result_rows: rows.len() as i64,
        rows,
        has_result_set: true,
    })
}

impl DataApi {
    pub fn new(warehouse: DuckDbWarehouse, copy: CopySource) -> eyre::Result<Self> {
        // A client's SQL reads no file: DuckDB's external access is off
        // (table functions such as read_text, read_csv or glob fail, and it
        // can't be turned back on) except for COPY's private directory.
        let scratch = super::copy::scratch_dir()?;
        let lockdown = format!(
            "CREATE SCHEMA IF NOT EXISTS public; SET allowed_directories = ['{}/']; \
             SET enable_external_access = false;",
            scratch.display().to_string().replace('\'', "''")
        );
        warehouse
            .connect()
            .and_then(|c| {
                c.execute_batch(&lockdown)
                    .map_err(|e| crate::backend::WarehouseError::Sql(e.to_string()))
            })
            .wrap_err("preparing the warehouse")?;
        Ok(DataApi {
            warehouse,
            copy,
            statements: Mutex::new(HashMap::new()),
            order: Mutex::new(VecDeque::new()),
            write: Mutex::new(()),
        })
    }

    fn remember(&self, st: Statement) {
        let id = st.id.clone();
        self.statements.locked().insert(id.clone(), st);
        let mut order = self.order.locked();
        order.push_back(id);
        while order.len() > KEEP_STATEMENTS {
            if let Some(old) = order.pop_front() {
                self.statements.locked().remove(&old);
            }
        }
    }

    /// Run statement `id` (all its SQL in one transaction when a batch).
    fn execute(&self, id: &str) {
        let (sqls, batch) = {
            let mut map = self.statements.locked();
            let Some(st) = map.get_mut(id) else { return };
            st.status = "STARTED";
            st.updated = now_secs();
            (st.subs.iter().map(|s| s.sql.clone()).collect::<Vec<_>>(), st.batch)
        };
        let started = Instant::now();
        let writes = batch || sqls.iter().any(|s| !is_query(&strip_comments(s)));
        let _guard = writes.then(|| self.write.locked());
        // The statements that ran, with their durations; and the one that
        // failed, if one did (its error is the outcome's).
        let mut done: Vec<(Outcome, i64)> = Vec::new();
        let mut failed: Option<(usize, i64)> = None;
        let outcome = (|| -> Result<(), StatementError> {
            let conn = self.warehouse.connect()?;
            // Redshift resolves unqualified names in `public`.
            conn.execute_batch("SET search_path = 'public,main'")?;
            if batch {
                conn.execute_batch("BEGIN TRANSACTION")?;
            }
            for sql in &sqls {
                let t = Instant::now();
                let r = run_one(&conn, &self.copy, sql);
                let ns = t.elapsed().as_nanos() as i64;
                match r {
                    Ok(o) => done.push((o, ns)),
                    Err(e) => {
                        failed = Some((done.len(), ns));
                        if batch {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                        return Err(e);
                    }
                }
            }
            if batch {
                conn.execute_batch("COMMIT")?;
            }
            Ok(())
        })();
        let error = outcome.as_ref().err().map(|e| format!("ERROR: {e}"));
        let mut map = self.statements.locked();
        let Some(st) = map.get_mut(id) else { return };
        st.updated = now_secs();
        st.duration_ns = started.elapsed().as_nanos() as i64;
        for (i, sub) in st.subs.iter_mut().enumerate() {
            match (done.get(i), failed) {
                (Some((o, ns)), _) => {
                    sub.status = if outcome.is_ok() { "FINISHED" } else { "ABORTED" };
                    sub.outcome = o.clone();
                    sub.duration_ns = *ns;
                }
                (None, Some((at, ns))) if at == i => {
                    sub.status = "FAILED";
                    sub.error = error.clone();
                    sub.duration_ns = ns;
                }
                (None, _) => sub.status = if outcome.is_ok() { "FINISHED" } else { "ABORTED" },
            }
        }
        match error {
            None => st.status = "FINISHED",
            Some(e) => {
                st.status = "FAILED";
                st.error = Some(e);
            }
        }
        drop(map);
        self.forget_past_budget(id);
    }

    /// Forget the oldest statements (never `keep`) while the results kept
    /// take more than `MAX_KEPT_RESULT_BYTES`.
    fn forget_past_budget(&self, keep: &str) {
        // The order `remember` takes the locks in: order, then statements.
        let mut order = self.order.locked();
        let mut map = self.statements.locked();
        let size = |st: &Statement| st.subs.iter().map(|s| s.outcome.bytes).sum::<usize>();
        let mut total: usize = map.values().map(size).sum();
        if total <= MAX_KEPT_RESULT_BYTES {
            return;
        }
        let mut kept = std::collections::VecDeque::with_capacity(order.len());
        while let Some(old) = order.pop_front() {
            if total > MAX_KEPT_RESULT_BYTES && old != keep {
                if let Some(st) = map.remove(&old) {
                    total -= size(&st);
                }
            } else {
                kept.push_back(old);
            }
        }
        *order = kept;
    }

    fn target(req: &Value) -> ApiResult<(&'static str, String)> {
        let get = |k: &str| req.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        match (get("WorkgroupName"), get("ClusterIdentifier")) {
            (Some(w), None) => Ok(("WorkgroupName", w.to_string())),
            (None, Some(c)) => Ok(("ClusterIdentifier", c.to_string())),
            (Some(_), Some(_)) => Err(ApiError::validation(
                "Either WorkgroupName or ClusterIdentifier must be given, not both",
            )),
            (None, None) => Err(ApiError::validation(
                "Either WorkgroupName or ClusterIdentifier is required",
            )),
        }
    }

    /// One RedshiftData operation.
    pub async fn call(self: &Arc<Self>, op: &str, req: Value) -> ApiResult<Value> {
        match op {
            "ExecuteStatement" | "BatchExecuteStatement" => {
                self.execute_statement(op == "BatchExecuteStatement", req).await
            }
            "DescribeStatement" => self.describe_statement(req).await,
            "GetStatementResult" => self.get_statement_result(req).await,
            "CancelStatement" => self.cancel_statement(req).await,
            "ListStatements" => self.list_statements(req).await,
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("RedshiftData.{other} is not served by courier emulate"),
            )),
        }
    }

    /// ExecuteStatement and BatchExecuteStatement (`batch`).
    async fn execute_statement(self: &Arc<Self>, batch: bool, req: Value) -> ApiResult<Value> {
        let sqls: Vec<String> = if batch {
            req.get("Sqls")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        } else {
            req.get("Sql")
                .and_then(Value::as_str)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default()
        };
        if sqls.is_empty() || sqls.iter().any(|s| s.trim().is_empty()) {
            return Err(ApiError::validation("SQL statement is required"));
        }
        if batch && sqls.len() > 40 {
            return Err(ApiError::validation(
                "BatchExecuteStatement takes at most 40 statements",
            ));
        }
        if let Some(big) = sqls.iter().find(|s| s.len() > MAX_SQL_BYTES) {
            return Err(ApiError::validation(format!(
                "SQL statement is {} bytes; the limit is {MAX_SQL_BYTES} bytes (100 KB)",
                big.len()
            )));
        }
        let database = req
            .get("Database")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::validation("Database is required"))?
            .to_string();
        let target = Self::target(&req)?;
        let id = uuid();
        let now = now_secs();
        self.remember(Statement {
            id: id.clone(),
            subs: sqls
                .into_iter()
                .map(|sql| Sub {
                    sql,
                    status: "SUBMITTED",
                    error: None,
                    outcome: Outcome::default(),
                    duration_ns: 0,
                })
                .collect(),
            batch,
            status: "SUBMITTED",
            error: None,
            created: now,
            updated: now,
            duration_ns: 0,
            database: database.clone(),
            target: target.clone(),
        });
        let this = Arc::clone(self);
        let run_id = id.clone();
        tokio::task::spawn_blocking(move || this.execute(&run_id));
        let mut out = json!({"Id": id, "CreatedAt": now, "Database": database});
        out[target.0] = json!(target.1);
        for k in ["DbUser", "SecretArn", "DbGroups"] {
            if let Some(v) = req.get(k) {
                out[k] = v.clone();
            }
        }
        Ok(out)
    }

    /// DescribeStatement.
    async fn describe_statement(self: &Arc<Self>, req: Value) -> ApiResult<Value> {
        let id = req.get("Id").and_then(Value::as_str).unwrap_or_default();
        let (base, sub_index) = split_id(id);
        let map = self.statements.locked();
        let st = map.get(base).ok_or_else(|| not_found(id))?;
        if let Some(i) = sub_index {
            let sub = st.subs.get(i.wrapping_sub(1)).ok_or_else(|| not_found(id))?;
            return Ok(describe_sub(id, st, sub));
        }
        let (has, rows) = st
            .subs
            .last()
            .map_or((false, -1), |s| (s.outcome.has_result_set, s.outcome.result_rows));
        let mut out = json!({
            "Id": st.id, "Status": st.status, "QueryString": st.subs.iter().map(|s| s.sql.as_str()).collect::<Vec<_>>().join("; "),
            "CreatedAt": st.created, "UpdatedAt": st.updated, "Duration": st.duration_ns,
            "HasResultSet": !st.batch && has && st.status == "FINISHED",
            "ResultRows": if st.status == "FINISHED" { rows } else { -1 },
            "ResultSize": -1, "RedshiftPid": std::process::id(), "RedshiftQueryId": 0,
            "Database": st.database, "IsBatchStatement": st.batch,
        });
        out[st.target.0] = json!(st.target.1);
        if let Some(e) = &st.error {
            out["Error"] = json!(e);
        }
        if st.batch {
            out["SubStatements"] = json!(
                st.subs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| describe_sub(&format!("{}:{}", st.id, i + 1), st, s))
                    .collect::<Vec<_>>()
            );
        }
        Ok(out)
    }

    /// GetStatementResult.
    async fn get_statement_result(self: &Arc<Self>, req: Value) -> ApiResult<Value> {
        let id = req.get("Id").and_then(Value::as_str).unwrap_or_default();
        let (base, sub_index) = split_id(id);
        let map = self.statements.locked();
        let st = map.get(base).ok_or_else(|| not_found(id))?;
        let sub = match sub_index {
            Some(i) => st.subs.get(i.wrapping_sub(1)).ok_or_else(|| not_found(id))?,
            None if st.batch => {
                return Err(ApiError::validation(
                    "GetStatementResult of a batch needs a sub-statement id like Id:1",
                ));
            }
            None => st.subs.first().ok_or_else(|| not_found(id))?,
        };
        if sub.status != "FINISHED" {
            return Err(ApiError::new(
                "ResourceNotFoundException",
                format!(
                    "Query {id} has status {}; results are available once FINISHED",
                    sub.status
                ),
            ));
        }
        if !sub.outcome.has_result_set {
            return Err(ApiError::validation(format!("Query {id} does not have result")));
        }
        let start: usize = req
            .get("NextToken")
            .and_then(Value::as_str)
            .map(|t| t.parse().map_err(|_| ApiError::validation("NextToken is not valid")))
            .transpose()?
            .unwrap_or(0);
        let rows = &sub.outcome.rows;
        let end = start.saturating_add(PAGE_ROWS).min(rows.len());
        let mut out = json!({
            "Records": rows.get(start..end).unwrap_or_default(),
            "ColumnMetadata": sub.outcome.columns.iter().map(|c| json!({
                "name": c.name, "label": c.name, "typeName": c.type_name, "nullable": 1,
                "isCaseSensitive": false, "isCurrency": false, "isSigned": true,
                "length": 0, "precision": 0, "scale": 0, "schemaName": "", "tableName": "",
                "columnDefault": null,
            })).collect::<Vec<_>>(),
            "TotalNumRows": rows.len(),
        });
        if end < rows.len() {
            out["NextToken"] = json!(end.to_string());
        }
        Ok(out)
    }

    /// CancelStatement.
    async fn cancel_statement(self: &Arc<Self>, req: Value) -> ApiResult<Value> {
        let id = req.get("Id").and_then(Value::as_str).unwrap_or_default();
        let map = self.statements.locked();
        let st = map.get(split_id(id).0).ok_or_else(|| not_found(id))?;
        Ok(json!({"Status": st.status == "SUBMITTED" || st.status == "STARTED"}))
    }

    /// ListStatements.
    async fn list_statements(self: &Arc<Self>, _req: Value) -> ApiResult<Value> {
        let order = self.order.locked();
        let map = self.statements.locked();
        let list: Vec<Value> = order
            .iter()
            .rev()
            .take(100)
            .filter_map(|id| map.get(id))
            .map(|st| {
                json!({"Id": st.id, "Status": st.status, "CreatedAt": st.created, "UpdatedAt": st.updated,
                           "IsBatchStatement": st.batch,
                           "QueryString": st.subs.first().map(|s| s.sql.as_str()).unwrap_or("")})
            })
            .collect();
        Ok(json!({"Statements": list}))
    }
}

fn describe_sub(id: &str, st: &Statement, s: &Sub) -> Value {
    let mut v = json!({
        "Id": id, "Status": s.status, "QueryString": s.sql, "CreatedAt": st.created, "UpdatedAt": st.updated,
        "Duration": s.duration_ns, "HasResultSet": s.outcome.has_result_set && s.status == "FINISHED",
        "ResultRows": if s.status == "FINISHED" { s.outcome.result_rows } else { -1 }, "ResultSize": -1,
        "RedshiftQueryId": 0,
    });
    if let Some(e) = &s.error {
        v["Error"] = json!(e);
    }
    v
}

fn split_id(id: &str) -> (&str, Option<usize>) {
    match id.rsplit_once(':') {
        Some((base, n)) => match n.parse() {
            Ok(n) => (base, Some(n)),
            Err(_) => (id, None),
        },
        None => (id, None),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new("ResourceNotFoundException", format!("Query does not exist: {id}"))
}

/// A random version-4 UUID, as statement ids are.
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut third = h(6..8);
    third.replace_range(0..1, "4");
    format!("{}-{}-{}-{}-{}", h(0..4), h(4..6), third, h(8..10), h(10..16))
}
