//! A fixed sample snapshot for snapshot tests and the render benchmark.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::snapshot::*;

pub fn shard(i: usize, ms: u64, behind: u64, thr_w: u64) -> ShardLag {
    ShardLag {
        shard_id: format!("shardId-{i:012}"),
        millis_behind_latest: ms,
        records_behind: behind,
        read_rate: 250,
        throttled_reads: 0,
        throttled_writes: thr_w,
        ingested: 10_000 + i as u64,
        checkpoint: Some("1234".into()),
        replay_until: None,
        replay_left: None,
        owner: None,
        held: true,
        lease_expires_ms: None,
    }
}

/// A busy pipeline with some trouble: a lagging, throttled shard, a failed
/// and a loading dimension, a failed query, recent errors. Times are relative
/// to `now`, so a render of it is the same every time.
pub fn sample_snapshot(shards: usize, result_rows: usize, now: DateTime<Utc>) -> Snapshot {
    let ago = |s: i64| now - chrono::Duration::seconds(s);
    let mut shard_list: Vec<ShardLag> = (0..shards).map(|i| shard(i, 120, 40, 0)).collect();
    shard_list[1] = shard(1, 2_500, 3_100, 0);
    shard_list[2] = shard(2, 9_000, 18_000, 4_212); // a throttled, far-behind shard
    Snapshot {
        backend: BackendInfo { kind: "embedded".into(), detail: "/var/lib/courier".into(), stream: "incoming-food-order-data".into() },
        uptime: Duration::from_secs(3725),
        read_only: false,
        generator: GeneratorStats {
            state: GeneratorState::Running,
            target_rate: 1000,
            acked_rate: 987,
            generated: 1_234_567,
            orders_acknowledged: 600_000,
            sent: 1_240_000,
            acknowledged: 1_234_000,
            throttled: 4_212,
            failed: 0,
            updates_resumed: 0,
            updates_given_up: 0,
            rate_history: (0..300).map(|i| 900 + (i * 37 % 100)).collect(),
        },
        shards: shard_list,
        dimensions: vec![
            DimensionLoad {
                table: "dimCustomers".into(),
                source: "s3://courier-data/dims/dimCustomers.csv".into(),
                state: LoadState::Loaded { rows: 200, took: Duration::from_millis(211), at: ago(65) },
                last_loaded: Some((200, ago(65))),
            },
            DimensionLoad {
                table: "dimRestaurants".into(),
                source: "s3://courier-data/dims/dimRestaurants.csv".into(),
                state: LoadState::Failed {
                    reason: "s3://courier-data/dims/dimRestaurants.csv line 7: column RestaurantRating: \"x\" is not a number".into(),
                    at: ago(3),
                },
                last_loaded: Some((50, ago(600))),
            },
            DimensionLoad {
                table: "dimDeliveryRiders".into(),
                source: "s3://courier-data/dims/dimDeliveryRiders.csv".into(),
                state: LoadState::Loading { elapsed: Duration::from_millis(1_300) },
                last_loaded: Some((30, ago(600))),
            },
        ],
        ingest: IngestStats { ingested: 1_233_000, dead_lettered: 12, expired: 0, batches: 5_000, ingest_rate: 990, retrying: false },
        freshness: Freshness { p50_ms: Some(310), p99_ms: Some(870), samples: 1_000_000, ..Freshness::default() },
        queries: vec![
            QueryView {
                name: "01_orders_per_minute".into(),
                title: "Orders and revenue per minute".into(),
                refresh: Duration::from_secs(2),
                running: false,
                last: Some(std::sync::Arc::new(QueryResult {
                    columns: vec!["order_minute".into(), "orders".into(), "revenue".into()],
                    rows: (0..result_rows)
                        .map(|i| vec![format!("2026-11-25T11:{:02}:00", 59 - i % 60), (900 + i).to_string(), format!("{}.50", 45_000 + i)])
                        .collect(),
                    ran_at: ago(1),
                    took: Duration::from_millis(14),
                    error: None,
                })),
            },
            QueryView {
                name: "02_top_restaurants".into(),
                title: "Top restaurants by revenue".into(),
                refresh: Duration::from_secs(5),
                running: false,
                last: Some(std::sync::Arc::new(QueryResult {
                    columns: vec![],
                    rows: vec![],
                    ran_at: ago(2),
                    took: Duration::from_millis(3),
                    error: Some("Catalog Error: Table with name dimRestaurant does not exist!".into()),
                })),
            },
        ],
        errors: vec![
            ErrorEntry { at: ago(30), source: "generator".into(), message: "put failed: InternalFailure: disk full".into() },
            ErrorEntry {
                at: ago(3),
                source: "dimensions".into(),
                message: "loading dimRestaurants: s3://courier-data/dims/dimRestaurants.csv line 7: not a number".into(),
            },
        ],
        stopping: false,
        leases: LeaseStats::default(),
    }
}
