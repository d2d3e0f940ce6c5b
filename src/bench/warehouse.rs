//! Warehouse measurements: exactly-once fact loads and a dimension COPY on
//! the embedded DuckDB warehouse.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre;

use crate::backend::embedded::{DirObjectStore, DuckDbWarehouse};
use crate::backend::{FactBatch, FactRow, ObjectStore, ObjectUri, SequenceNumber, TableName, Warehouse};
use crate::config::Config;
/// Shards loading at once in the ingest figure, as the ingester does.
const INGEST_SHARDS: usize = 8;
/// Rows per micro-batch: the ingester's default `batch_records`.
const INGEST_BATCH: usize = 10_000;

/// Exactly-once loads of `n` events: one task per shard, as the ingester
/// runs them, each committing micro-batches of 10,000 rows with their
/// checkpoint. With `updates`, the events are the generator's default mix:
/// every order arrives as Processing, then On the way and Delivered in later
/// batches (two of three events update a row already loaded); without, every
/// event is a new order.
pub(super) async fn ingest(dir: &Path, n: usize, updates: bool) -> eyre::Result<f64> {
    let schema = Config::default().schema();
    let w = Arc::new(DuckDbWarehouse::open(
        &dir.join("bench.duckdb"),
        &schema,
        &dir.join("objects"),
    )?);
    // Measured as courier runs it: under the default memory cap.
    w.set_memory_limit(&Config::default().warehouse.memory_limit)?;
    w.ensure_schema().await?;
    let date = chrono::Utc::now().naive_utc();
    let per_shard = n / INGEST_SHARDS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..INGEST_SHARDS)
        .map(|shard| {
            let w = Arc::clone(&w);
            tokio::spawn(async move {
                let shard_id = format!("shardId-{shard:012}");
                let row = |order_id: i64, status: &'static str, seq: u64| FactRow {
                    order_id,
                    customer_id: 1 + (order_id % 200) as i32,
                    restaurant_id: 1 + (order_id % 50) as i32,
                    rider_id: 1 + (order_id % 30) as i32,
                    order_date: date,
                    delivery_time: 15 + (order_id % 46) as i32,
                    order_value: 1000 + (order_id % 9000) as i32,
                    delivery_fee: 250,
                    tip_amount: 100,
                    order_status: status,
                    sequence_number: seq.to_string().into(),
                    arrival_ms: 0,
                    emitted_ms: None,
                };
                let mut seq = 0u64;
                let mut sent = 0usize;
                let mut batch_no = 0i64;
                // With updates, a batch is a third new orders and updates of
                // the orders of the two batches before it.
                let new_per_batch = if updates { INGEST_BATCH / 3 } else { INGEST_BATCH } as i64;
                let order = |batch: i64, i: i64| (batch * new_per_batch + i) * INGEST_SHARDS as i64 + shard as i64;
                while sent < per_shard {
                    let mut rows = Vec::with_capacity(INGEST_BATCH);
                    for i in 0..new_per_batch {
                        seq += 1;
                        rows.push(row(order(batch_no, i), "Processing", seq));
                        if updates {
                            for (back, status) in [(1, "On the way"), (2, "Delivered")] {
                                if batch_no >= back {
                                    seq += 1;
                                    rows.push(row(order(batch_no - back, i), status, seq));
                                }
                            }
                        }
                    }
                    rows.truncate(per_shard - sent);
                    sent += rows.len();
                    batch_no += 1;
                    let batch = FactBatch {
                        stream: "bench".into(),
                        shard_id: shard_id.clone(),
                        rows,
                        dead_letters: vec![],
                        checkpoint: SequenceNumber(seq.to_string()),
                        redrive: false,
                        rewound: false,
                        partial: false,
                        lease_owner: None,
                    };
                    w.load_facts(Arc::new(batch)).await?;
                }
                Ok::<usize, eyre::Report>(sent)
            })
        })
        .collect();
    let mut loaded = 0;
    for t in tasks {
        loaded += t.await??;
    }
    Ok(loaded as f64 / started.elapsed().as_secs_f64())
}

/// Generate, upload and COPY a customers file of `rows` rows.
pub(super) async fn dimension_copy(dir: &Path, rows: u32) -> eyre::Result<Duration> {
    let schema = Config::default().schema();
    let objects = dir.join("objects");
    let w = DuckDbWarehouse::open(&dir.join("copy.duckdb"), &schema, &objects)?;
    w.set_memory_limit(&Config::default().warehouse.memory_limit)?;
    w.ensure_schema().await?;
    let uri = ObjectUri::parse("s3://bench/dims/dimCustomers.csv")?;
    DirObjectStore::new(&objects)
        .put(&uri, crate::engine::dimensions::generate_csv("dimCustomers", rows, 1))
        .await?;
    let table = TableName::new(&schema, "dimCustomers")?;
    let started = Instant::now();
    w.copy_replace(&table, &uri).await?;
    Ok(started.elapsed())
}
