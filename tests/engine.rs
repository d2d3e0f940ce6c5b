//! The real engine on the embedded default, on a temp data dir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::backend::embedded::stream::shard_for_key;
use courier::backend::embedded::{DuckDbWarehouse, EmbeddedStream, StreamLimits};
use courier::backend::{ObjectUri, PutEntry, PutOutcome, Stream, TableName, Warehouse};
use courier::config::Config;
use courier::engine::{self, Snapshot};
use courier::setup::{self, EmbeddedPaths};

fn config(text: &str) -> Config {
    Config::parse(text, "test.toml").expect("test config parses")
}

async fn wait_for(rx: &mut tokio::sync::watch::Receiver<Snapshot>, what: &str, f: impl Fn(&Snapshot) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if f(&rx.borrow()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last snapshot: {:?}",
            *rx.borrow()
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
}

fn count(w: &DuckDbWarehouse, sql: &str) -> u64 {
    let rs = w.query_blocking(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rs.rows[0][0].as_deref().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_runs_end_to_end_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[ingester]\nbatch_age = \"100ms\"\n[stream]\nfsync = false\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, _stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    let settings = setup::engine_settings(&cfg, &paths, Some(2000), false, false);
    let handle = engine::start(settings, ports);
    let mut rx = handle.snapshots.clone();
    wait_for(&mut rx, "3000 acknowledged and status updates", |s| {
        s.generator.acknowledged >= 3000 && s.generator.acknowledged > s.generator.orders_acknowledged
    })
    .await;
    wait_for(&mut rx, "ingestion", |s| {
        s.ingest.ingested > 0 && s.freshness.p99_ms.is_some()
    })
    .await;
    let snap = rx.borrow().clone();
    assert_eq!(snap.shards.len(), 4);
    assert!(
        snap.dimensions.iter().all(|d| d.state.label() == "loaded"),
        "{:?}",
        snap.dimensions
    );
    assert!(snap.queries.len() >= 4);
    handle.stop();
    let summary = handle.wait().await.expect("engine stops cleanly");
    assert!(summary.drained);
    assert_eq!(summary.ingested, summary.acknowledged, "{summary:?}");
    assert_eq!(summary.dead_lettered, 0);
    assert_eq!(summary.fact_rows, Some(summary.acknowledged_orders));

    let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &cfg.schema(), &paths.objects).unwrap();
    let s = "food_delivery_datamart";
    assert_eq!(count(&w, &format!("SELECT COUNT(*) FROM {s}.dimCustomers")), 200);
    assert_eq!(count(&w, &format!("SELECT COUNT(*) FROM {s}.dimRestaurants")), 50);
    assert_eq!(count(&w, &format!("SELECT COUNT(*) FROM {s}.dimDeliveryRiders")), 30);
    assert_eq!(
        count(&w, &format!("SELECT COUNT(*) FROM {s}.factOrders")),
        summary.acknowledged_orders
    );
    assert_eq!(
        count(&w, &format!("SELECT COUNT(DISTINCT OrderID) FROM {s}.factOrders")),
        summary.acknowledged_orders
    );
    // Every order references loaded dimensions.
    assert_eq!(
        count(
            &w,
            &format!(
                "SELECT COUNT(*) FROM {s}.factOrders o LEFT JOIN {s}.dimCustomers c ON c.CustomerID = o.CustomerID \
                 WHERE c.CustomerID IS NULL"
            )
        ),
        0
    );
    // Status updates moved some orders on; checkpoints cover every shard.
    assert!(
        count(
            &w,
            &format!("SELECT COUNT(*) FROM {s}.factOrders WHERE OrderStatus <> 'Processing'")
        ) > 0
    );
    assert_eq!(count(&w, &format!("SELECT COUNT(*) FROM {s}.courier_checkpoints")), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_are_dead_lettered_and_ingestion_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[ingester]\nbatch_age = \"50ms\"\n[stream]\nfsync = false\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    let good = |id: i64, status: &str| {
        format!(
            r#"{{"OrderID": {id}, "CustomerID": 1, "RestaurantID": 2, "RiderID": 3, "OrderDate": "2026-11-20T14:03:11.482913", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 1, "OrderStatus": "{status}"}}"#
        )
    };
    let records = [
        ("1", good(1, "Processing")),
        ("2", "{not json".to_string()),
        ("3", r#"{"OrderID": 3}"#.to_string()),
        ("4", good(4, "Teleported")),
        ("5", good(5, "Delivered").replace("45.5", "\"lots\"")),
        ("1", good(1, "Delivered")),
        ("6", good(6, "Cancelled")),
    ];
    let entries = records
        .iter()
        .map(|(k, d)| PutEntry {
            partition_key: k.to_string(),
            data: d.clone().into_bytes(),
        })
        .collect();
    let out = Stream::put_records(&stream, entries).await.unwrap();
    assert!(out.iter().all(|o| matches!(o, PutOutcome::Ok { .. })));
    let settings = setup::engine_settings(&cfg, &paths, Some(100), true, false);
    let handle = engine::start(settings, ports);
    let mut rx = handle.snapshots.clone();
    wait_for(&mut rx, "all 7 records handled", |s| {
        s.ingest.ingested + s.ingest.dead_lettered >= 7
    })
    .await;
    handle.stop();
    let summary = handle.wait().await.unwrap();
    assert_eq!(summary.dead_lettered, 4);
    assert_eq!(summary.ingested, 3);
    assert_eq!(summary.generated, 0, "the generator was paused");

    let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &cfg.schema(), &paths.objects).unwrap();
    let rs = w
        .query_blocking(
            "SELECT Reason, Payload FROM food_delivery_datamart.courier_dead_letters ORDER BY CAST(SequenceNumber AS BIGINT)",
        )
        .unwrap();
    let reasons: Vec<&str> = rs.rows.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not an order event")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing field")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("unknown OrderStatus \"Teleported\"")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("invalid type")), "{reasons:?}");
    assert!(
        rs.rows.iter().any(|r| r[1].as_deref() == Some("{not json")),
        "raw payload kept"
    );
    // The good records landed; order 1's later event won.
    let rs = w
        .query_blocking("SELECT OrderID, OrderStatus FROM food_delivery_datamart.factOrders ORDER BY OrderID")
        .unwrap();
    let rows: Vec<(String, String)> = rs
        .rows
        .iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("1".to_string(), "Delivered".to_string()),
            ("6".to_string(), "Cancelled".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dimension_reload_is_atomic_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let schema = Config::default().schema();
    let w = Arc::new(DuckDbWarehouse::open(&dir.path().join("w.duckdb"), &schema, &objects).unwrap());
    w.ensure_schema().await.unwrap();
    let uri = ObjectUri::parse("s3://courier-data/dims/dimCustomers.csv").unwrap();
    let path = objects.join("courier-data/dims/dimCustomers.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        courier::engine::dimensions::generate_csv("dimCustomers", 5000, 1),
    )
    .unwrap();
    let table = TableName::new(&schema, "dimCustomers").unwrap();
    assert_eq!(w.copy_replace(&table, &uri).await.unwrap(), 5000);

    let reader = Arc::clone(&w);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let seen = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let rs = reader
                .query_blocking("SELECT COUNT(*) FROM food_delivery_datamart.dimCustomers")
                .unwrap();
            seen.push(rs.rows[0][0].clone().unwrap());
        }
        seen
    });
    for _ in 0..10 {
        assert_eq!(w.copy_replace(&table, &uri).await.unwrap(), 5000);
    }
    // A bad file fails the load and leaves the previous rows in place.
    std::fs::write(&path, "CustomerID,Name\n1,x\n").unwrap();
    let err = w.copy_replace(&table, &uri).await.unwrap_err().to_string();
    assert!(
        err.contains("s3://courier-data/dims/dimCustomers.csv line 1: header is"),
        "{err}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = seen.await.unwrap();
    assert!(seen.len() > 5, "the reader ran during the reloads");
    assert!(
        seen.iter().all(|c| c == "5000"),
        "a reader saw a half-loaded table: {seen:?}"
    );
    let rs = w
        .query_blocking("SELECT COUNT(*) FROM food_delivery_datamart.dimCustomers")
        .unwrap();
    assert_eq!(rs.rows[0][0].as_deref(), Some("5000"));
}

#[test]
fn partition_keys_land_on_kinesis_shards() {
    // Shards for these keys, from MD5 and Kinesis's evenly split hash ranges
    // (computed independently with Python's hashlib).
    let cases: [(&str, [usize; 6]); 6] = [
        ("1", [0, 1, 2, 3, 3, 6]),
        ("2", [0, 1, 2, 3, 3, 6]),
        ("42", [0, 1, 1, 2, 3, 5]),
        ("1000", [0, 1, 1, 2, 3, 5]),
        ("123456789", [0, 0, 0, 0, 0, 1]),
        ("incoming-food-order-data", [0, 1, 2, 3, 4, 7]),
    ];
    for (key, want) in cases {
        for (n, w) in [1, 2, 3, 4, 5, 8].into_iter().zip(want) {
            assert_eq!(shard_for_key(key, n), w, "key {key:?} with {n} shards");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_past_its_write_limit_throttles_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let limits = StreamLimits {
        fsync: false,
        ..StreamLimits::default()
    };
    let stream = Arc::new(EmbeddedStream::open(dir.path(), "s", 4, limits).unwrap());
    // The shard's allowance is one second's worth (1000 records), refilled
    // at 1000/s: over the three calls it takes in at most 1000 plus a
    // record per millisecond they took.
    let started = Instant::now();
    let mut ok = 0;
    let mut throttled = 0;
    for _ in 0..3 {
        // Key "42" lands on shard 2 of 4; one good record for shard 3 rides along.
        let mut entries: Vec<PutEntry> = (0..499)
            .map(|_| PutEntry {
                partition_key: "42".into(),
                data: vec![b'x'; 100],
            })
            .collect();
        entries.push(PutEntry {
            partition_key: "1".into(),
            data: b"other shard".to_vec(),
        });
        for o in Stream::put_records(&stream, entries).await.unwrap() {
            match o {
                PutOutcome::Ok { shard_id, .. } => {
                    ok += 1;
                    assert!(shard_id.0 == "shardId-000000000002" || shard_id.0 == "shardId-000000000003");
                }
                PutOutcome::Failed {
                    error_code,
                    error_message,
                } => {
                    assert_eq!(error_code, "ProvisionedThroughputExceededException");
                    assert!(error_message.contains("shardId-000000000002"), "{error_message}");
                    throttled += 1;
                }
            }
        }
    }
    let refilled = started.elapsed().as_millis() as u64 + 1;
    let hot_ok = ok - 3;
    assert_eq!(ok + throttled, 1500, "every entry has an outcome");
    assert!(
        (1000..=1000 + refilled).contains(&hot_ok),
        "hot shard took {hot_ok} of 1497 in {refilled} ms; the other shard's 3 all went in"
    );
    let hot = courier::backend::ShardId::from_index(2);
    assert_eq!(Stream::write_throttles(&stream, &hot), Some(throttled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_engine_refuses_mutations() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[stream]\nfsync = false\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, _stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    let settings = setup::engine_settings(&cfg, &paths, Some(200), false, true);
    let handle = engine::start(settings, ports);
    let mut rx = handle.snapshots.clone();
    wait_for(&mut rx, "the generator running", |s| {
        s.generator.state == engine::snapshot::GeneratorState::Running
    })
    .await;
    for cmd in [
        engine::Command::PauseGenerator,
        engine::Command::SetRate(5),
        engine::Command::ReloadAllDimensions,
        engine::Command::ReloadDimension("dimCustomers".into()),
    ] {
        handle.commands.send(cmd).await.unwrap();
    }
    wait_for(&mut rx, "four refusals", |s| {
        s.errors.iter().filter(|e| e.message.contains("read-only")).count() == 4
    })
    .await;
    let snap = rx.borrow().clone();
    assert_eq!(snap.generator.state, engine::snapshot::GeneratorState::Running);
    assert_eq!(snap.generator.target_rate, 200);
    assert!(snap.read_only);
    handle.stop();
    assert!(handle.wait().await.unwrap().drained);
}
