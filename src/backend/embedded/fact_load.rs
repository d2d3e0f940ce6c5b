//! The exactly-once fact load on DuckDB: one micro-batch and its checkpoint
//! in one transaction. Rows pass through a staging table (filled with the
//! Appender, not row INSERTs) and are upserted: a row only replaces an
//! existing one with an older sequence number, so redelivery changes nothing
//! and a newer status for an OrderID wins.

use duckdb::{Connection, params};

use crate::backend::ident::Ident;
use crate::backend::{FactBatch, WarehouseError};

fn err(what: &str) -> impl Fn(duckdb::Error) -> WarehouseError + '_ {
    move |e| {
        let msg = e.to_string();
        if msg.contains("lock") || msg.contains("IO Error") {
            WarehouseError::Unavailable(format!("{what}: {msg}"))
        } else {
            WarehouseError::Sql(format!("{what}: {msg}"))
        }
    }
}

/// Newer-than test on sequence numbers kept as decimal text.
const NEWER: &str = "(length(EXCLUDED.SequenceNumber) > length(factOrders.SequenceNumber) \
     OR (length(EXCLUDED.SequenceNumber) = length(factOrders.SequenceNumber) \
         AND EXCLUDED.SequenceNumber > factOrders.SequenceNumber))";

pub fn load(conn: &mut Connection, schema: &Ident, batch: FactBatch) -> Result<u64, WarehouseError> {
    let ingest_ms = chrono::Utc::now().timestamp_millis();
    let tx = conn.transaction().map_err(err("begin"))?;
    tx.execute_batch(&format!("DELETE FROM {schema}.courier_fact_staging"))
        .map_err(err("clear staging"))?;
    {
        let mut app = tx
            .appender_to_db("courier_fact_staging", schema.as_str())
            .map_err(err("open appender"))?;
        for r in batch.latest_rows() {
            app.append_row(params![
                r.order_id,
                r.customer_id,
                r.restaurant_id,
                r.rider_id,
                crate::engine::event::format_order_date(r.order_date),
                r.delivery_time,
                r.order_value as f64 / 100.0,
                r.delivery_fee as f64 / 100.0,
                r.tip_amount as f64 / 100.0,
                r.order_status,
                r.shard_id,
                r.sequence_number,
                r.arrival_ms,
                ingest_ms,
                r.emitted_ms,
            ])
            .map_err(err("append to staging"))?;
        }
        app.flush().map_err(err("flush staging"))?;
    }
    let updated = tx
        .execute(
            &format!(
                "INSERT INTO {schema}.factOrders \
                 SELECT OrderID, CustomerID, RestaurantID, RiderID, CAST(OrderDate AS TIMESTAMP), DeliveryTime, \
                        CAST(OrderValue AS DECIMAL(8,2)), CAST(DeliveryFee AS DECIMAL(8,2)), CAST(TipAmount AS DECIMAL(8,2)), \
                        OrderStatus, ShardId, SequenceNumber, epoch_ms(ArrivalMs), epoch_ms(IngestMs), \
                        CASE WHEN EmittedMs IS NULL THEN NULL ELSE epoch_ms(EmittedMs) END \
                 FROM {schema}.courier_fact_staging \
                 ON CONFLICT (OrderID) DO UPDATE SET \
                   CustomerID = EXCLUDED.CustomerID, RestaurantID = EXCLUDED.RestaurantID, RiderID = EXCLUDED.RiderID, \
                   OrderDate = EXCLUDED.OrderDate, DeliveryTime = EXCLUDED.DeliveryTime, OrderValue = EXCLUDED.OrderValue, \
                   DeliveryFee = EXCLUDED.DeliveryFee, TipAmount = EXCLUDED.TipAmount, OrderStatus = EXCLUDED.OrderStatus, \
                   ShardId = EXCLUDED.ShardId, SequenceNumber = EXCLUDED.SequenceNumber, ArrivalTime = EXCLUDED.ArrivalTime, \
                   IngestTime = EXCLUDED.IngestTime, EmittedAt = EXCLUDED.EmittedAt \
                 WHERE {NEWER}"
            ),
            [],
        )
        .map_err(err("upsert factOrders"))?;
    if !batch.dead_letters.is_empty() {
        let mut stmt = tx
            .prepare(&format!(
                "INSERT INTO {schema}.courier_dead_letters VALUES (?, ?, epoch_ms(?), ?, ?) ON CONFLICT DO NOTHING"
            ))
            .map_err(err("prepare dead letter"))?;
        for d in &batch.dead_letters {
            stmt.execute(params![
                d.shard_id,
                d.sequence_number,
                d.arrival_ms,
                d.reason,
                String::from_utf8_lossy(&d.payload).into_owned()
            ])
            .map_err(err("insert dead letter"))?;
        }
    }
    tx.execute(
        &format!(
            "INSERT INTO {schema}.courier_checkpoints VALUES (?, ?, ?, epoch_ms(?)) \
             ON CONFLICT (StreamName, ShardId) DO UPDATE SET SequenceNumber = EXCLUDED.SequenceNumber, UpdatedAt = EXCLUDED.UpdatedAt"
        ),
        params![batch.stream, batch.shard_id, batch.checkpoint.0, ingest_ms],
    )
    .map_err(err("write checkpoint"))?;
    tx.commit().map_err(err("commit"))?;
    Ok(updated as u64)
}
