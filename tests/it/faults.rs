//! Fault tests: nothing acknowledged is lost or doubled, whatever breaks.
//! Each prints its figures. The crash loop runs `COURIER_CRASH_ITERATIONS`
//! times (default 5 here; `COURIER_CRASH_ITERATIONS=20 cargo test --test
//! it faults::crash -- --nocapture` is the full run).
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use courier::backend::embedded::{DuckDbWarehouse, EmbeddedStream, StreamLimits};
use courier::backend::{
    FactBatch, ObjectUri, PutEntry, ResultSet, SequenceNumber, ShardId, StartPosition, Stream, TableName, Warehouse,
    WarehouseError,
};
use courier::config::Config;
use courier::engine::{self, Ports, Snapshot};
use courier::setup::{self, EmbeddedPaths};

const BIN: &str = env!("CARGO_BIN_EXE_courier");

/// These tests load the machine; one at a time keeps their figures honest.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every record in the stream, per OrderID: the status of its last record
/// (sequence order within its shard).
async fn stream_truth(stream: &Arc<EmbeddedStream>) -> HashMap<i64, String> {
    let mut latest = HashMap::new();
    for shard in Stream::list_shards(stream).await.unwrap() {
        let mut it = Stream::shard_iterator(stream, &shard, StartPosition::TrimHorizon)
            .await
            .unwrap();
        loop {
            let out = match Stream::get_records(stream, &it, 10_000).await {
                Ok(out) => out,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            };
            for r in &out.records {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.data)
                    && let (Some(id), Some(status)) = (v["OrderID"].as_i64(), v["OrderStatus"].as_str())
                {
                    latest.insert(id, status.to_string());
                }
            }
            it = out.next_iterator.expect("the embedded stream never closes a shard");
            if out.records.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(210)).await;
        }
    }
    latest
}

fn warehouse_rows(paths: &EmbeddedPaths) -> (u64, HashMap<i64, String>) {
    let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &Config::default().schema(), &paths.objects).unwrap();
    let rs = w
        .query_blocking("SELECT OrderID, OrderStatus FROM food_delivery_datamart.factOrders")
        .unwrap();
    let total = rs.rows.len() as u64;
    let map = rs
        .rows
        .iter()
        .map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r[1].clone().unwrap()))
        .collect();
    (total, map)
}

fn compare(truth: &HashMap<i64, String>, total: u64, rows: &HashMap<i64, String>) -> (usize, u64, usize) {
    let lost = truth.keys().filter(|id| !rows.contains_key(id)).count();
    let duplicated = total - rows.len() as u64;
    let stale = truth
        .iter()
        .filter(|(id, s)| rows.get(id).is_some_and(|r| r != *s))
        .count();
    (lost, duplicated, stale)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_loses_and_doubles_nothing() {
    let _serial = SERIAL.lock().await;
    let iterations: usize = std::env::var("COURIER_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let started = Instant::now();
    for i in 0..iterations {
        let mut child = Command::new(BIN)
            .args(["--data-dir", &data, "--no-tui", "--rate", "3000"])
            .env("XDG_CONFIG_HOME", dir.path().join("cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a "random" moment, 1.5-4.5 s in: set-up, loads, mid-batch, mid-commit.
        let ms = 1500 + (std::process::id() as u64 * 7919 + i as u64 * 104_729) % 3000;
        std::thread::sleep(Duration::from_millis(ms));
        Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap();
        let _ = child.wait();
    }
    // Then run to completion: no new orders, drain everything.
    let recover = Instant::now();
    let out = Command::new(BIN)
        .args(["--data-dir", &data, "--no-tui", "--json", "--paused", "--for", "8s"])
        .env("XDG_CONFIG_HOME", dir.path().join("cfg"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recovery = recover.elapsed();

    let cfg = Config::default();
    let paths = EmbeddedPaths::new(dir.path());
    let stream = Arc::new(
        EmbeddedStream::open(
            &paths.stream_dir,
            &cfg.stream.name,
            cfg.stream.shards,
            setup::stream_limits(&cfg),
        )
        .unwrap(),
    );
    let truth = stream_truth(&stream).await;
    let (total, rows) = warehouse_rows(&paths);
    let (lost, duplicated, stale) = compare(&truth, total, &rows);
    println!(
        "crash loop: {iterations} SIGKILLs over {:.0}s; orders in the stream {}, rows in factOrders {total}, \
         lost {lost}, duplicated {duplicated}, stale status {stale}; final run {:.1}s",
        started.elapsed().as_secs_f64(),
        truth.len(),
        recovery.as_secs_f64()
    );
    assert!(truth.len() > 1000, "the loop produced orders");
    assert_eq!((lost, duplicated, stale), (0, 0, 0));
    assert_eq!(
        rows.len(),
        truth.len(),
        "nothing in factOrders that the stream never had"
    );
}

fn config(text: &str) -> Config {
    Config::parse(text, "test.toml").unwrap()
}

async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<Snapshot>,
    secs: u64,
    what: &str,
    f: impl Fn(&Snapshot) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f(&rx.borrow()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            rx.borrow().ingest
        );
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_are_dead_lettered_and_every_good_one_loads() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[ingester]\nbatch_age = \"100ms\"\n[stream]\nfsync = false\nwrite_records_per_sec = 100000\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    let settings = setup::engine_settings(&cfg, &paths, Some(100), true, false);
    let handle = engine::start(settings, ports);
    let mut rx = handle.snapshots.clone();
    // An outside producer: 4,000 good orders with 1% poison mixed in.
    let good = |id: i64| {
        format!(
            r#"{{"OrderID": {id}, "CustomerID": 1, "RestaurantID": 2, "RiderID": 3, "OrderDate": "2026-11-20T14:03:11.482913", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 1, "OrderStatus": "Delivered"}}"#
        )
    };
    let poison = [
        "{\"OrderID\": ".to_string(),
        r#"{"OrderID": 5, "CustomerID": 1}"#.to_string(),
        good(7).replace("\"DeliveryTime\": 30", "\"DeliveryTime\": \"thirty\""),
        good(8).replace("Delivered", "Eaten"),
        format!("{{\"OrderID\": 9, \"pad\": \"{}\"}}", "x".repeat(200_000)),
    ];
    let mut entries = Vec::new();
    let mut bad = 0;
    for i in 0..4000i64 {
        entries.push(PutEntry {
            partition_key: (1_000_000 + i).to_string(),
            data: good(1_000_000 + i).into_bytes(),
        });
        if i % 100 == 50 {
            let p = &poison[bad % poison.len()];
            entries.push(PutEntry {
                partition_key: format!("poison-{bad}"),
                data: p.clone().into_bytes(),
            });
            bad += 1;
        }
    }
    for chunk in entries.chunks(400) {
        let out = Stream::put_records(&stream, chunk.to_vec()).await.unwrap();
        assert!(
            out.iter()
                .all(|o| !matches!(o, courier::backend::PutOutcome::Failed { .. }))
        );
    }
    wait_for(&mut rx, 90, "all records handled", |s| {
        s.ingest.ingested + s.ingest.dead_lettered >= 4000 + bad as u64
    })
    .await;
    handle.stop();
    let summary = handle.wait().await.unwrap();
    println!(
        "poison: {} good, {bad} poison → ingested {}, dead-lettered {}",
        4000, summary.ingested, summary.dead_lettered
    );
    assert_eq!(summary.ingested, 4000);
    assert_eq!(summary.dead_lettered, bad as u64);
    let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &cfg.schema(), &paths.objects).unwrap();
    let rs = w
        .query_blocking("SELECT Reason FROM food_delivery_datamart.courier_dlq WHERE Reason IS NULL OR Reason = ''")
        .unwrap();
    assert!(rs.rows.is_empty(), "every dead letter has a reason");
    let rs = w
        .query_blocking("SELECT COUNT(*) FROM food_delivery_datamart.factOrders")
        .unwrap();
    assert_eq!(rs.rows[0][0].as_deref(), Some("4000"));
}

/// A warehouse that refuses fact loads while `down` is set: the real DuckDB
/// warehouse behind an outage switch.
struct Outage {
    inner: DuckDbWarehouse,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl Warehouse for Outage {
    async fn ensure_schema(&self) -> Result<(), WarehouseError> {
        self.inner.ensure_schema().await
    }
    async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        self.inner.query(sql).await
    }
    async fn copy_replace(&self, t: &TableName, s: &ObjectUri) -> Result<u64, WarehouseError> {
        self.inner.copy_replace(t, s).await
    }
    async fn load_facts(&self, batch: std::sync::Arc<FactBatch>) -> Result<u64, WarehouseError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(WarehouseError::Unavailable(
                "injected outage: connection refused".into(),
            ));
        }
        self.inner.load_facts(batch).await
    }
    async fn checkpoints(&self, stream: &str) -> Result<Vec<(String, SequenceNumber)>, WarehouseError> {
        self.inner.checkpoints(stream).await
    }
    async fn lease_round(
        &self,
        round: &courier::backend::lease::LeaseRound,
    ) -> Result<Vec<courier::backend::lease::LeaseRow>, WarehouseError> {
        self.inner.lease_round(round).await
    }
}

/// GET /healthz: (status, body without its newline).
async fn healthz(addr: std::net::SocketAddr) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: courier\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let code = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .trim_end()
        .to_string();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_outage_is_retried_and_nothing_is_lost() {
    let _serial = SERIAL.lock().await;
    let outage_secs: u64 = std::env::var("COURIER_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[ingester]\nbatch_age = \"100ms\"\n[stream]\nfsync = false\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, _stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let inner = DuckDbWarehouse::open(&dir.path().join("outage.duckdb"), &cfg.schema(), &paths.objects).unwrap();
    let ports = Ports {
        warehouse: Arc::new(Outage {
            inner,
            down: Arc::clone(&down),
        }),
        ..ports
    };
    let settings = setup::engine_settings(&cfg, &paths, Some(800), false, false);
    let handle = engine::start(settings, ports);
    // The service's health endpoint, over the same snapshots.
    let rules = courier::metrics::HealthRules {
        lag_crit_ms: cfg.ui.lag_crit_ms,
        lag_grace: cfg.service.health_lag_grace,
    };
    let metrics_stop = tokio_util::sync::CancellationToken::new();
    let addr = courier::metrics::serve(
        "127.0.0.1:0".parse().unwrap(),
        false,
        handle.snapshots.clone(),
        rules,
        metrics_stop.clone(),
    )
    .await
    .unwrap();
    let mut rx = handle.snapshots.clone();
    wait_for(&mut rx, 60, "ingestion", |s| s.ingest.ingested > 1000).await;
    assert_eq!(healthz(addr).await, (200, "ok".to_string()));
    down.store(true, Ordering::Relaxed);
    let went_down = Instant::now();
    wait_for(&mut rx, 30, "the retrying state", |s| s.ingest.retrying).await;
    let (code, reason) = healthz(addr).await;
    assert_eq!(code, 503, "{reason}");
    assert!(reason.contains("warehouse retrying"), "{reason}");
    tokio::time::sleep(Duration::from_secs(outage_secs).saturating_sub(went_down.elapsed())).await;
    let during = rx.borrow().clone();
    let behind: u64 = during.shards.iter().map(|s| s.records_behind).sum();
    let behind_ms = during.shards.iter().map(|s| s.millis_behind_latest).max().unwrap_or(0);
    assert!(behind > 0, "the lag shows the outage");
    assert!(
        behind_ms >= 1000,
        "MillisBehindLatest grows during the outage: {behind_ms}"
    );
    down.store(false, Ordering::Relaxed);
    let back = Instant::now();
    wait_for(&mut rx, 60, "catching up", |s| {
        !s.ingest.retrying && s.shards.iter().all(|sh| sh.records_behind < 2000)
    })
    .await;
    let caught_up = back.elapsed();
    assert_eq!(
        healthz(addr).await,
        (200, "ok".to_string()),
        "healthy again once caught up"
    );
    metrics_stop.cancel();
    handle.stop();
    let summary = handle.wait().await.unwrap();
    println!(
        "warehouse outage: {outage_secs}s down, {behind} records / {behind_ms} ms behind at the end of it, caught up {:.1}s after; \
         acknowledged {}, ingested {}, lost {}",
        caught_up.as_secs_f64(),
        summary.acknowledged,
        summary.ingested,
        summary.acknowledged - summary.ingested
    );
    assert!(summary.drained);
    assert_eq!(summary.ingested, summary.acknowledged);
    assert_eq!(summary.fact_rows, Some(summary.acknowledged_orders));
    assert!(
        during.errors.iter().any(|e| e.message.contains("injected outage")),
        "the outage is reported"
    );
    assert!(
        during.errors.len() < 20,
        "no error storm: {} entries",
        during.errors.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_settles_at_the_shard_limit_and_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let secs: u64 = std::env::var("COURIER_OVERLOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[stream]\nshards = 1\nfsync = false\n[generator]\nstatus_updates = false\n");
    let paths = EmbeddedPaths::new(dir.path());
    let (ports, _stream) = setup::embedded_ports(&cfg, &paths).unwrap();
    // 5x the shard's 1000 records/s.
    let settings = setup::engine_settings(&cfg, &paths, Some(5000), false, false);
    let handle = engine::start(settings, ports);
    let mut rx = handle.snapshots.clone();
    wait_for(&mut rx, 60, "the generator running", |s| s.generator.acknowledged > 0).await;
    let start_acked = rx.borrow().generator.acknowledged;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let snap = rx.borrow().clone();
    let rate = (snap.generator.acknowledged - start_acked) as f64 / t0.elapsed().as_secs_f64();
    handle.stop();
    let summary = handle.wait().await.unwrap();
    println!(
        "overload: target 5000/s on one 1000/s shard for {secs}s → achieved {rate:.0}/s, throttled {}, \
         errors logged {}, acknowledged {}, ingested {}, lost {}",
        summary.throttled,
        snap.errors.len(),
        summary.acknowledged,
        summary.ingested,
        summary.acknowledged - summary.ingested
    );
    assert!(
        (900.0..=1100.0).contains(&rate),
        "achieved rate {rate:.0}/s should settle at the 1000/s limit"
    );
    assert!(
        summary.throttled > 0 && snap.shards[0].throttled_writes > 0,
        "throttles counted and shown"
    );
    assert!(
        snap.errors.is_empty(),
        "throttling is not an error storm: {:?}",
        snap.errors
    );
    assert_eq!(summary.ingested, summary.acknowledged);
    assert_eq!(summary.fact_rows, Some(summary.acknowledged_orders));
    let _ = ShardId::from_index(0);
    let _ = StreamLimits::default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dimension_files_fail_with_file_and_line_and_keep_the_old_table() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let schema = Config::default().schema();
    let w = DuckDbWarehouse::open(&dir.path().join("w.duckdb"), &schema, &objects).unwrap();
    w.ensure_schema().await.unwrap();
    let uri = ObjectUri::parse("s3://courier-data/dims/dimRestaurants.csv").unwrap();
    let path = objects.join("courier-data/dims/dimRestaurants.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let table = TableName::new(&schema, "dimRestaurants").unwrap();
    std::fs::write(
        &path,
        courier::engine::dimensions::generate_csv("dimRestaurants", 50, 3),
    )
    .unwrap();
    assert_eq!(w.copy_replace(&table, &uri).await.unwrap(), 50);
    let header = "RestaurantID,RestaurantName,CuisineType,RestaurantAddress,RestaurantRating\n";
    let cases: [(&str, String, &str); 5] = [
        (
            "wrong header",
            "ID,Name,Cuisine,Address,Rating\n1,a,b,c,4.0\n".into(),
            "line 1: header is",
        ),
        (
            "short row",
            format!("{header}1,A,Thai,\"1 Rd, X\",4.0\n2,B,Thai\n"),
            "line 3: 3 fields, expected 5",
        ),
        (
            "bad number",
            format!("{header}1,A,Thai,\"1 Rd, X\",four\n"),
            "line 2: column RestaurantRating: \"four\" is not a number",
        ),
        (
            "unterminated quote",
            format!("{header}1,A,Thai,\"1 Rd, X\",4.0\n2,B,Thai,\"2 Rd, Y,4.5\n3,C,Thai,\"3 Rd\",3.0\n"),
            "line 3: column RestaurantAddress runs across lines (an unterminated quote?)",
        ),
        (
            "missing object",
            String::new(),
            "s3://courier-data/dims/dimRestaurants.csv: no such object",
        ),
    ];
    for (what, body, want) in cases {
        if what == "missing object" {
            std::fs::remove_file(&path).unwrap();
        } else {
            std::fs::write(&path, body).unwrap();
        }
        let err = w.copy_replace(&table, &uri).await.unwrap_err().to_string();
        println!("bad dimension input, {what}: {err}");
        assert!(
            err.contains("s3://courier-data/dims/dimRestaurants.csv") && err.contains(want),
            "{what}: {err}"
        );
        let rs = w
            .query("SELECT COUNT(*) FROM food_delivery_datamart.dimRestaurants")
            .await
            .unwrap();
        assert_eq!(
            rs.rows[0][0].as_deref(),
            Some("50"),
            "{what}: the previous table is intact"
        );
    }
}
