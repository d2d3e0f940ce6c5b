//! The exactly-once fact load on DuckDB: micro-batches and their checkpoints
//! in one transaction. Batches that queue up while the writer is busy are
//! loaded together (group commit): one staging pass, one lookup, one upsert,
//! one insert and one log flush for all of them, each with its checkpoint.
//!
//! Rows pass through a connection-local TEMP staging table (filled with the
//! Appender from Arrow columns, typed, never written to the log), one row per OrderID — the
//! newest of the group — and are then split: OrderIDs the table already
//! holds are updated (`UPDATE … FROM` the staged rows) — a row only replaces
//! one with an older sequence number, so redelivery changes nothing and a
//! newer status wins — and the rest are inserted plainly. The split is
//! looked up first (a join the staged keys prune by zone map), and with it
//! whether a newer row keeps the order's own columns: a status event does,
//! and then only its five status columns are set. No join here is a plain
//! equi-join on OrderID: for one DuckDB builds a "perfect" hash table,
//! arrays as long as the staged keys' range (up to 2^20) for every column
//! it carries — ~35 MB per group at 100,000 events/s, outside
//! `memory_limit`. The lookup is a LEFT join (every staged row, found or
//! not) and each update also checks that its row is newer. Every column an
//! UPDATE sets is written to the log and versioned, so setting all fourteen
//! cost half the load's time. The embedded factOrders has no PRIMARY KEY
//! index (`embedded_schema_sql`):
//! this lookup is what keeps one row per OrderID, and without the index the
//! load is ~15% faster and needs less memory under the cap. Staging is
//! created afresh for each group, so its memory goes with it.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use duckdb::arrow::error::ArrowError;
use duckdb::types::{TimeUnit, Value};
use duckdb::{Connection, params};

use super::duck::{begin, is_unavailable};
use crate::backend::ident::Ident;
use crate::backend::lease::LEASE_LOST;
use crate::backend::{FactBatch, FactRow, WarehouseError, cmp_sequence_numbers, parent_sequence_number, payload};
use crate::model::STATUSES;

fn err(what: &str) -> impl Fn(duckdb::Error) -> WarehouseError + '_ {
    move |e| {
        let msg = e.to_string();
        if msg.contains("lock") || is_unavailable(&msg) {
            WarehouseError::Unavailable(format!("{what}: {msg}"))
        } else {
            WarehouseError::Sql(format!("{what}: {msg}"))
        }
    }
}

const STAGING: &str = "courier_fact_staging";
const EXISTING: &str = "courier_fact_existing";

/// Newer-than test on sequence numbers kept as decimal text.
const NEWER: &str = "(length(s.SequenceNumber) > length(f.SequenceNumber) \
     OR (length(s.SequenceNumber) = length(f.SequenceNumber) \
         AND s.SequenceNumber > f.SequenceNumber))";

/// The order's own columns, and the shard it came from: a status event
/// keeps them all.
const ORDER_COLUMNS: &[&str] = &[
    "CustomerID",
    "RestaurantID",
    "RiderID",
    "OrderDate",
    "DeliveryTime",
    "OrderValue",
    "DeliveryFee",
    "TipAmount",
    "ShardId",
];
/// What every newer event of an order sets.
const STATUS_COLUMNS: &[&str] = &[
    "OrderStatus",
    "SequenceNumber",
    "ArrivalTime",
    "IngestTime",
    "EmittedAt",
];

/// The staged columns as factOrders wants them (money staged as cents, times
/// as integers: the Appender takes those without building a value each). The
/// group's shards are the list `$1` (a row stages its 1-based index into it)
/// and its ingest time is `$2`; a known status is staged as its 1-based
/// index into `$3` (the list of statuses), any other as its text.
const STAGED_ROW: &str = "OrderID, CustomerID, RestaurantID, RiderID, make_timestamp(OrderDateMicros) AS OrderDate, DeliveryTime, \
     CAST(OrderValue * 0.01 AS DECIMAL(8,2)) AS OrderValue, CAST(DeliveryFee * 0.01 AS DECIMAL(8,2)) AS DeliveryFee, \
     CAST(TipAmount * 0.01 AS DECIMAL(8,2)) AS TipAmount, COALESCE(OrderStatus, $3[StatusIndex]) AS OrderStatus, \
     $1[ShardIndex] AS ShardId, SequenceNumber, \
     epoch_ms(ArrivalMs) AS ArrivalTime, $2 AS IngestTime, epoch_ms(EmittedMs) AS EmittedAt";

/// Rows staged per Arrow batch: a few DuckDB vectors, a megabyte or so.
const STAGE_CHUNK: usize = 8192;

/// `rows` as the staging table's columns, in its order: handed to the
/// Appender a column at a time (a row at a time costs a call per value).
fn staged_batch(rows: &[(&FactRow, usize)]) -> Result<RecordBatch, ArrowError> {
    let i64s =
        |f: fn(&FactRow) -> i64| -> ArrayRef { Arc::new(Int64Array::from_iter_values(rows.iter().map(|(r, _)| f(r)))) };
    let i32s =
        |f: fn(&FactRow) -> i32| -> ArrayRef { Arc::new(Int32Array::from_iter_values(rows.iter().map(|(r, _)| f(r)))) };
    let status: Vec<Option<usize>> = rows.iter().map(|(r, _)| known_status(r.order_status)).collect();
    RecordBatch::try_from_iter([
        ("OrderID", i64s(|r| r.order_id)),
        ("CustomerID", i32s(|r| r.customer_id)),
        ("RestaurantID", i32s(|r| r.restaurant_id)),
        ("RiderID", i32s(|r| r.rider_id)),
        ("OrderDateMicros", i64s(|r| r.order_date.and_utc().timestamp_micros())),
        ("DeliveryTime", i32s(|r| r.delivery_time)),
        ("OrderValue", i64s(|r| r.order_value.into())),
        ("DeliveryFee", i64s(|r| r.delivery_fee.into())),
        ("TipAmount", i64s(|r| r.tip_amount.into())),
        (
            "StatusIndex",
            Arc::new(Int32Array::from_iter(status.iter().map(|s| s.map(|i| i as i32 + 1)))) as ArrayRef,
        ),
        (
            "OrderStatus",
            Arc::new(StringArray::from_iter(
                rows.iter()
                    .zip(&status)
                    .map(|((r, _), s)| s.is_none().then_some(r.order_status)),
            )),
        ),
        (
            "ShardIndex",
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|(_, shard)| *shard as i32 + 1),
            )),
        ),
        (
            "SequenceNumber",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(r, _)| parent_sequence_number(&r.sequence_number)),
            )),
        ),
        ("ArrivalMs", i64s(|r| r.arrival_ms)),
        (
            "EmittedMs",
            Arc::new(Int64Array::from_iter(rows.iter().map(|(r, _)| r.emitted_ms))),
        ),
    ])
}

fn known_status(s: &str) -> Option<usize> {
    STATUSES.iter().position(|k| *k == s)
}

fn text_list<'a>(items: impl Iterator<Item = &'a str>) -> Value {
    Value::List(items.map(|s| Value::Text(s.to_string())).collect())
}

/// `columns`, each written by `f`, joined by `sep`.
fn each_column(columns: &[&str], f: impl Fn(&str) -> String, sep: &str) -> String {
    columns.iter().map(|c| f(c)).collect::<Vec<_>>().join(sep)
}

fn ms(v: i64) -> Value {
    Value::Timestamp(TimeUnit::Millisecond, v)
}

/// One row per OrderID across the group, as applying the batches in order
/// would leave it: a later row replaces an earlier one only if its sequence
/// number is newer. Rows keep their first position (arrival order). Also
/// each batch's count of rows (one per OrderID).
fn group_rows(batches: &[Arc<FactBatch>]) -> (Vec<(&FactRow, usize)>, Vec<u64>) {
    let mut rows: Vec<(&FactRow, usize)> = Vec::with_capacity(batches.iter().map(|b| b.rows.len()).sum());
    let mut at: HashMap<i64, usize> = HashMap::with_capacity(rows.capacity());
    let mut counts = Vec::with_capacity(batches.len());
    for (shard, batch) in batches.iter().enumerate() {
        let latest = batch.latest_rows();
        counts.push(latest.len() as u64);
        for r in latest {
            match at.get(&r.order_id) {
                Some(&i) if cmp_sequence_numbers(&r.sequence_number, &rows[i].0.sequence_number).is_gt() => {
                    rows[i] = (r, shard)
                }
                Some(_) => {}
                None => {
                    at.insert(r.order_id, rows.len());
                    rows.push((r, shard));
                }
            }
        }
    }
    (rows, counts)
}

/// Load `batches` in one transaction. Returns, per batch, its rows (one per
/// OrderID) now reflected in the table — loaded, or already there as new.
pub fn load_group(
    conn: &mut Connection,
    schema: &Ident,
    batches: &[Arc<FactBatch>],
) -> Result<Vec<u64>, WarehouseError> {
    let ingest_ms = chrono::Utc::now().timestamp_millis();
    let (rows, counts) = group_rows(batches);
    let tx = begin(conn).map_err(err("begin"))?;
    // The fence: a batch commits only while its instance holds its shard's
    // lease (the same test as on Redshift, in this transaction).
    for b in batches {
        if let Some(owner) = &b.lease_owner {
            let held: i64 = tx
                .query_row(
                    &format!(
                        "SELECT count(*) FROM {schema}.courier_leases WHERE StreamName = ? AND ShardId = ? \
                         AND Owner = ? AND ExpiresAt > getdate()"
                    ),
                    params![b.stream, b.shard_id, owner],
                    |r| r.get(0),
                )
                .map_err(err("check the shard's lease"))?;
            if held == 0 {
                return Err(WarehouseError::Sql(format!(
                    "{LEASE_LOST}: {owner} no longer holds {}",
                    b.shard_id
                )));
            }
        }
    }
    // Created afresh per group: rows deleted from a long-lived temp table
    // keep their memory until the table goes.
    tx.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {STAGING} (
            OrderID BIGINT, CustomerID INT, RestaurantID INT, RiderID INT, OrderDateMicros BIGINT,
            DeliveryTime INT, OrderValue BIGINT, DeliveryFee BIGINT, TipAmount BIGINT, StatusIndex INT, OrderStatus VARCHAR,
            ShardIndex INT, SequenceNumber VARCHAR, ArrivalMs BIGINT, EmittedMs BIGINT);
         CREATE OR REPLACE TEMP TABLE {EXISTING} (OrderID BIGINT, Found BOOLEAN, Newer BOOLEAN, Same BOOLEAN);"
    ))
    .map_err(err("create staging"))?;
    {
        let mut app = tx
            .appender_to_catalog_and_db(STAGING, "temp", "main")
            .map_err(err("open appender"))?;
        for chunk in rows.chunks(STAGE_CHUNK) {
            app.append_record_batch(staged_batch(chunk).map_err(|e| WarehouseError::Load(format!("stage rows: {e}")))?)
                .map_err(err("append to staging"))?;
        }
        app.flush().map_err(err("flush staging"))?;
    }
    let (shards, at, statuses) = (
        text_list(batches.iter().map(|b| b.shard_id.as_str())),
        ms(ingest_ms),
        text_list(STATUSES.iter().copied()),
    );
    // For every staged order: whether the table holds it, whether the staged
    // row is newer, and whether it keeps the order's own columns (a status
    // event does). A LEFT join, not an inner one: see the module's note.
    let same = each_column(ORDER_COLUMNS, |c| format!("f.{c} IS NOT DISTINCT FROM s.{c}"), " AND ");
    tx.execute(
        &format!(
            "INSERT INTO temp.main.{EXISTING} SELECT s.OrderID, f.OrderID IS NOT NULL, {NEWER}, {same} \
             FROM (SELECT {STAGED_ROW} FROM temp.main.{STAGING}) AS s LEFT JOIN {schema}.factOrders AS f \
             ON f.OrderID = s.OrderID"
        ),
        params![shards, at, statuses],
    )
    .map_err(err("look up existing orders"))?;
    let (status_only, whole): (i64, i64) = tx
        .query_row(
            &format!(
                "SELECT count(*) FILTER (Found AND Newer AND Same), count(*) FILTER (Found AND Newer AND NOT Same) \
                 FROM temp.main.{EXISTING}"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err("count updates"))?;
    // Each update only where it has rows: an update costs even with none.
    // A status event rewrites the status columns alone: every column an
    // update sets is logged and versioned, ShardId's text among them.
    let all: Vec<&str> = ORDER_COLUMNS.iter().chain(STATUS_COLUMNS).copied().collect();
    for (rows, which, columns) in [(status_only, "Same", STATUS_COLUMNS), (whole, "NOT Same", &all[..])] {
        if rows == 0 {
            continue;
        }
        let set = each_column(columns, |c| format!("{c} = s.{c}"), ", ");
        tx.execute(
            &format!(
                "UPDATE {schema}.factOrders AS f SET {set} \
                 FROM (SELECT {STAGED_ROW} FROM temp.main.{STAGING} \
                       WHERE OrderID IN (SELECT OrderID FROM temp.main.{EXISTING} WHERE Found AND Newer AND {which})) AS s \
                 WHERE f.OrderID = s.OrderID AND {NEWER}"
            ),
            params![shards, at, statuses],
        )
        .map_err(err("update factOrders"))?;
    }
    tx.execute(
        &format!(
            "INSERT INTO {schema}.factOrders SELECT {STAGED_ROW} FROM temp.main.{STAGING} \
             WHERE OrderID IN (SELECT OrderID FROM temp.main.{EXISTING} WHERE NOT Found)"
        ),
        params![shards, at, statuses],
    )
    .map_err(err("insert factOrders"))?;
    for batch in batches {
        write_dead_letters(&tx, schema, batch, ingest_ms)?;
        if batch.redrive && !batch.rows.is_empty() {
            let seqs = text_list(batch.rows.iter().map(|r| r.sequence_number.as_str()));
            tx.execute(
                &format!(
                    "UPDATE {schema}.courier_dlq SET RedrivenAt = epoch_ms(?), Attempts = Attempts + 1 \
                     WHERE StreamName = ? AND ShardId = ? AND list_contains(?, SequenceNumber) AND RedrivenAt IS NULL"
                ),
                params![ingest_ms, batch.stream, batch.shard_id, seqs],
            )
            .map_err(err("mark dead letters redriven"))?;
        }
    }
    // Every batch's checkpoint in one statement (a statement each cost ~10%
    // of the load): per shard the group's last, which is its newest — one
    // row may not be set twice in a statement.
    let mut last: HashMap<(&str, &str), &str> = HashMap::with_capacity(batches.len());
    for b in batches.iter().filter(|b| !b.redrive && !b.partial) {
        last.insert((b.stream.as_str(), b.shard_id.as_str()), b.checkpoint.0.as_str());
    }
    let tuples = vec!["(?, ?, ?, epoch_ms(?))"; last.len()].join(", ");
    let values: Vec<Value> = last
        .into_iter()
        .flat_map(|((stream, shard), cp)| {
            [stream, shard, cp]
                .map(|v| Value::Text(v.to_string()))
                .into_iter()
                .chain([Value::BigInt(ingest_ms)])
        })
        .collect();
    if !values.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO {schema}.courier_checkpoints VALUES {tuples} \
                 ON CONFLICT (StreamName, ShardId) DO UPDATE SET SequenceNumber = EXCLUDED.SequenceNumber, UpdatedAt = EXCLUDED.UpdatedAt"
            ),
            duckdb::params_from_iter(values),
        )
        .map_err(err("write checkpoints"))?;
    }
    tx.commit().map_err(err("commit"))?;
    Ok(counts)
}

/// A batch's dead letters, payloads stored so any bytes survive. Read from
/// the stream, one already kept stays as it is (a replay); in a redrive,
/// one that failed again takes its new reason.
fn write_dead_letters(
    tx: &duckdb::Transaction<'_>,
    schema: &Ident,
    batch: &FactBatch,
    now_ms: i64,
) -> Result<(), WarehouseError> {
    if batch.dead_letters.is_empty() {
        return Ok(());
    }
    let on_conflict = if batch.redrive {
        "ON CONFLICT DO UPDATE SET Reason = EXCLUDED.Reason, Attempts = courier_dlq.Attempts + 1"
    } else {
        "ON CONFLICT DO NOTHING"
    };
    let mut stmt = tx
        .prepare(&format!(
            "INSERT INTO {schema}.courier_dlq VALUES (?, ?, ?, epoch_ms(?), epoch_ms(?), ?, ?, ?, ?, 1, NULL) {on_conflict}"
        ))
        .map_err(err("prepare dead letter"))?;
    for d in &batch.dead_letters {
        let (encoding, text) = payload::encode(&d.payload);
        stmt.execute(params![
            batch.stream,
            d.shard_id,
            d.sequence_number,
            d.arrival_ms,
            now_ms,
            payload::clean_text(&d.reason, 1024),
            encoding,
            text,
            d.payload.len() as i64
        ])
        .map_err(err("insert dead letter"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::embedded::DuckDbWarehouse;
    use crate::backend::{FactRow, SequenceNumber, Warehouse};

    fn row(order_id: i64, status: &'static str, seq: u64) -> FactRow {
        FactRow {
            order_id,
            customer_id: 1,
            restaurant_id: 2,
            rider_id: 3,
            order_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
                .unwrap()
                .and_hms_micro_opt(14, 3, 11, 482_913)
                .unwrap(),
            delivery_time: 30,
            order_value: 4550,
            delivery_fee: 325,
            tip_amount: 0,
            order_status: status,
            sequence_number: seq.to_string().into(),
            arrival_ms: 1_764_000_000_000,
            emitted_ms: seq.is_multiple_of(2).then_some(1_764_000_000_500),
        }
    }

    fn batch(rows: Vec<FactRow>, checkpoint: u64) -> FactBatch {
        FactBatch {
            stream: "s".into(),
            shard_id: "shardId-000000000001".into(),
            rows,
            dead_letters: vec![],
            checkpoint: SequenceNumber(checkpoint.to_string()),
            redrive: false,
            rewound: false,
            partial: false,
            lease_owner: None,
        }
    }

    #[tokio::test]
    async fn new_rows_insert_newer_ones_update_older_and_replays_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Ident::parse("schema", "dm").unwrap();
        let w = DuckDbWarehouse::open(&dir.path().join("w.duckdb"), &schema, dir.path()).unwrap();
        w.ensure_schema().await.unwrap();
        w.load_facts(Arc::new(batch(
            vec![
                row(1, "Processing", 1),
                row(2, "Processing", 2),
                row(3, "Odd status", 3),
                row(4, "Processing", 4),
            ],
            4,
        )))
        .await
        .unwrap();
        // A newer event for 1 that also changes the order's value (the whole
        // row is set), a replay (same sequence) for 2, an older one for 3, a
        // newer status for 4 (its status columns alone are set).
        let mut changed = row(1, "On the way", 10);
        changed.order_value = 5000;
        let second = batch(
            vec![
                changed,
                row(2, "Processing", 2),
                row(3, "Delivered", 3),
                row(4, "Delivered", 11),
            ],
            11,
        );
        let second = Arc::new(second);
        w.load_facts(Arc::clone(&second)).await.unwrap();
        w.load_facts(second).await.unwrap();
        let rs = w
            .query_blocking(
                "SELECT OrderID, OrderStatus, SequenceNumber, ShardId, OrderDate, OrderValue, DeliveryFee, \
                 ArrivalTime, EmittedAt IS NULL, IngestTime IS NOT NULL FROM dm.factOrders ORDER BY 1",
            )
            .unwrap();
        let cells: Vec<Vec<String>> = rs
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.clone().unwrap_or_default()).collect())
            .collect();
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[0][..4], ["1", "On the way", "10", "shardId-000000000001"]);
        assert_eq!(cells[1][..3], ["2", "Processing", "2"]);
        assert_eq!(cells[2][..3], ["3", "Odd status", "3"]);
        assert_eq!(cells[3][..4], ["4", "Delivered", "11", "shardId-000000000001"]);
        assert_eq!(cells[0][4], "2026-11-20 14:03:11.482913");
        assert_eq!(cells[0][5..7], ["50.00", "3.25"]);
        assert_eq!(cells[3][4..7], ["2026-11-20 14:03:11.482913", "45.50", "3.25"]);
        assert_eq!(cells[0][7], "2025-11-24 16:00:00");
        assert_eq!(cells[0][8..], ["false", "true"]);
        assert_eq!(cells[2][8], "true");
        let cp = w.checkpoints("s").await.unwrap();
        assert_eq!(
            cp,
            vec![("shardId-000000000001".to_string(), SequenceNumber("11".into()))]
        );
    }

    #[tokio::test]
    async fn a_commit_is_fenced_by_its_instances_lease_and_a_steal_is_a_compare_and_set() {
        use crate::backend::lease::{LeaseRound, Take};
        let dir = tempfile::tempdir().unwrap();
        let schema = Ident::parse("schema", "dm").unwrap();
        let w = DuckDbWarehouse::open(&dir.path().join("w.duckdb"), &schema, dir.path()).unwrap();
        w.ensure_schema().await.unwrap();
        let shard = "shardId-000000000001";
        let round = |owner: &str, take: Vec<Take>| {
            let mut r = LeaseRound::new("s", owner, std::time::Duration::from_secs(30));
            r.renew = true;
            r.take = take;
            r
        };
        let take = |counter| Take {
            shard_id: shard.into(),
            seen_counter: counter,
            from: None,
        };
        // a takes the new shard; b's insert of the same shard changes nothing.
        let view = w.lease_round(&round("a", vec![take(None)])).await.unwrap();
        assert_eq!(view.len(), 1);
        assert_eq!(view[0].owner.as_deref(), Some("a"));
        assert!(view[0].live() && view[0].expires_in_ms > 25_000, "{view:?}");
        let view = w.lease_round(&round("b", vec![take(None)])).await.unwrap();
        assert_eq!((view[0].owner.as_deref(), view[0].counter), (Some("a"), 1));
        // a holds it: its batch commits.
        let fenced = |owner: &str, rows, cp| {
            let mut b = batch(rows, cp);
            b.lease_owner = Some(owner.to_string());
            Arc::new(b)
        };
        w.load_facts(fenced("a", vec![row(1, "Processing", 1)], 1))
            .await
            .unwrap();
        // b steals with a stale counter: refused; with the one it saw: taken.
        let a_renewed = w.lease_round(&round("a", vec![])).await.unwrap();
        assert_eq!(a_renewed[0].counter, 2);
        let view = w.lease_round(&round("b", vec![take(Some(1))])).await.unwrap();
        assert_eq!(view[0].owner.as_deref(), Some("a"));
        let view = w.lease_round(&round("b", vec![take(Some(2))])).await.unwrap();
        assert_eq!((view[0].owner.as_deref(), view[0].takeovers), (Some("b"), 1));
        // a's next commit is refused by the fence and changes nothing.
        let e = w
            .load_facts(fenced("a", vec![row(1, "Delivered", 2)], 2))
            .await
            .unwrap_err();
        assert!(e.is_lease_lost() && !e.is_transient(), "{e}");
        assert!(e.to_string().contains("a no longer holds shardId-000000000001"), "{e}");
        let cp = w.checkpoints("s").await.unwrap();
        assert_eq!(cp[0].1, SequenceNumber("1".into()));
        let rs = w.query_blocking("SELECT OrderStatus FROM dm.factOrders").unwrap();
        assert_eq!(rs.rows, vec![vec![Some("Processing".to_string())]]);
        // b's commits go through; a renewing takes nothing back.
        w.load_facts(fenced("b", vec![row(1, "Delivered", 2)], 2))
            .await
            .unwrap();
        let view = w.lease_round(&round("a", vec![])).await.unwrap();
        assert_eq!(view[0].owner.as_deref(), Some("b"));
        // Released, then ended: an ended shard is taken by no one.
        let mut release = LeaseRound::new("s", "b", std::time::Duration::from_secs(30));
        release.release = vec![shard.into()];
        let view = w.lease_round(&release).await.unwrap();
        assert!(view[0].owner.is_none() && !view[0].live());
        let mut end = LeaseRound::new("s", "b", std::time::Duration::from_secs(30));
        end.end = vec![shard.into(), "shardId-000000000009".into()];
        let view = w.lease_round(&end).await.unwrap();
        assert!(view.iter().all(|l| l.ended) && view.len() == 2, "{view:?}");
        let c = view[0].counter;
        let view = w.lease_round(&round("a", vec![take(Some(c))])).await.unwrap();
        assert!(view[0].owner.is_none());
    }

    #[test]
    fn a_group_keeps_the_newest_row_per_order_and_recovers_an_aborted_transaction() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE SCHEMA dm; SET search_path = 'dm,main';")
            .unwrap();
        for (_, sql) in crate::backend::embedded::warehouse::embedded_schema_sql() {
            conn.execute_batch(&sql).unwrap();
        }
        // factOrders without DuckDB's key index; the shipped DDL keeps it.
        let keys: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'factOrders'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(keys, 0);
        assert!(
            crate::backend::embedded::warehouse::SCHEMA_SQL
                .iter()
                .any(|(_, sql)| sql.contains(crate::backend::embedded::warehouse::FACT_KEY))
        );
        // A transaction left open and aborted (as when its ROLLBACK failed).
        let dup = "BEGIN; INSERT INTO dm.courier_checkpoints (StreamName, ShardId) VALUES ('s', 'x'); \
                   INSERT INTO dm.courier_checkpoints (StreamName, ShardId) VALUES ('s', 'x');";
        assert!(conn.execute_batch(dup).is_err());
        assert!(
            conn.execute_batch("SELECT 1").is_err(),
            "the transaction should be aborted"
        );
        let schema = Ident::parse("schema", "dm").unwrap();
        let mut other = batch(vec![row(5, "Processing", 9), row(7, "Processing", 11)], 11);
        other.shard_id = "shardId-000000000002".into();
        let counts = load_group(
            &mut conn,
            &schema,
            &[
                Arc::new(batch(vec![row(5, "On the way", 20), row(6, "Processing", 21)], 21)),
                Arc::new(other),
            ],
        )
        .unwrap();
        assert_eq!(counts, [2, 2]);
        type Row = (i64, String, String, String);
        let rows = |conn: &Connection| -> Vec<Row> {
            conn.prepare("SELECT OrderID, OrderStatus, SequenceNumber, ShardId FROM dm.factOrders ORDER BY 1")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let one = "shardId-000000000001".to_string();
        let two = "shardId-000000000002".to_string();
        let mut want: Vec<Row> = vec![
            (5, "On the way".into(), "20".into(), one.clone()),
            (6, "Processing".into(), "21".into(), one.clone()),
            (7, "Processing".into(), "11".into(), two),
        ];
        assert_eq!(rows(&conn), want);
        // A newer event of order 7 read from another shard (the stream was
        // resharded): it keeps the order's columns but not its ShardId, so
        // the whole row is set.
        load_group(
            &mut conn,
            &schema,
            &[Arc::new(batch(vec![row(7, "Delivered", 30)], 30))],
        )
        .unwrap();
        want[2] = (7, "Delivered".into(), "30".into(), one);
        assert_eq!(rows(&conn), want);
        let checkpoints: i64 = conn
            .query_row("SELECT count(*) FROM dm.courier_checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(checkpoints, 2);
    }

    /// User records of one aggregated record share its sequence number in
    /// factOrders: within the batch (which always holds the whole record)
    /// the later one of an order wins; replaying the record changes no
    /// row (an equal sequence number is not newer); a later record wins
    /// over it, an earlier one does not; a part of a record writes no
    /// checkpoint.
    #[tokio::test]
    async fn an_aggregates_later_user_record_wins_and_its_replay_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Ident::parse("schema", "dm").unwrap();
        let w = DuckDbWarehouse::open(&dir.path().join("w.duckdb"), &schema, dir.path()).unwrap();
        w.ensure_schema().await.unwrap();
        let sub = |order, status, seq: &str| FactRow {
            sequence_number: seq.into(),
            ..row(order, status, 1)
        };
        let every_row = "SELECT OrderID, OrderStatus, SequenceNumber, IngestTime FROM dm.factOrders ORDER BY 1";
        let cells = |w: &DuckDbWarehouse| -> Vec<Vec<String>> {
            w.query_blocking(every_row)
                .unwrap()
                .rows
                .iter()
                .map(|r| r.iter().map(|c| c.clone().unwrap_or_default()).collect())
                .collect()
        };
        let mut part = batch(vec![sub(3, "Processing", "50:0")], 50);
        part.partial = true;
        w.load_facts(Arc::new(part)).await.unwrap();
        assert!(
            w.checkpoints("s").await.unwrap().is_empty(),
            "a part writes no checkpoint"
        );
        let whole = Arc::new(batch(
            vec![
                sub(1, "Processing", "50:0"),
                sub(2, "Processing", "50:1"),
                sub(1, "On the way", "50:2"),
                sub(1, "Delivered", "50:3"),
                sub(2, "Cancelled", "50:4"),
            ],
            50,
        ));
        w.load_facts(Arc::clone(&whole)).await.unwrap();
        let first = cells(&w);
        let statuses: Vec<[&str; 3]> = first.iter().map(|r| [&*r[0], &*r[1], &*r[2]]).collect();
        assert_eq!(
            statuses,
            [
                ["1", "Delivered", "50"],
                ["2", "Cancelled", "50"],
                ["3", "Processing", "50"]
            ]
        );
        w.load_facts(whole).await.unwrap();
        assert_eq!(cells(&w), first, "the replay changed no row");
        // An earlier record changes nothing; a later one wins.
        w.load_facts(Arc::new(batch(vec![sub(1, "Cancelled", "49")], 50)))
            .await
            .unwrap();
        w.load_facts(Arc::new(batch(vec![sub(2, "Delivered", "51:0")], 51)))
            .await
            .unwrap();
        let last = cells(&w);
        assert_eq!(last[0][..3], ["1", "Delivered", "50"]);
        assert_eq!(last[1][..3], ["2", "Delivered", "51"]);
        assert_eq!(
            w.checkpoints("s").await.unwrap(),
            vec![("shardId-000000000001".to_string(), SequenceNumber("51".into()))]
        );
    }
}
