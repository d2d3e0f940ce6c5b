//! `courier bench`: measures the hot paths on this machine and prints one
//! table of figure, goal and pass/fail. Timings live here, never in tests.
//! Build with `--release` for figures that mean anything; a debug build
//! (and the -O0 bundled DuckDB) is many times slower.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::embedded::{DirObjectStore, DuckDbWarehouse, EmbeddedStream, StreamLimits};
use crate::backend::{
    FactBatch, FactRow, ObjectStore, ObjectUri, PutEntry, SequenceNumber, Stream, TableName, Warehouse,
};
use crate::config::Config;
use crate::engine::event::{OrderEvent, format_order_date};
use crate::setup::{self, EmbeddedPaths};

/// One line of the table.
pub struct Figure {
    pub name: &'static str,
    pub measured: String,
    pub goal: &'static str,
    /// None when there is nothing to judge (not measured here).
    pub pass: Option<bool>,
}

/// Sizes of a run: `--quick` keeps the whole run under two minutes.
pub struct Sizes {
    pub events: usize,
    pub ingest_rows: usize,
    pub copy_rows: u32,
    pub freshness_secs: u64,
    pub capacity_secs: u64,
    pub frames: usize,
    pub protocol_secs: u64,
    pub rss_secs: u64,
    pub idle_secs: u64,
}

impl Sizes {
    pub fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                events: 100_000,
                ingest_rows: 100_000,
                copy_rows: 100_000,
                freshness_secs: 8,
                capacity_secs: 8,
                frames: 200,
                protocol_secs: 4,
                rss_secs: 8,
                idle_secs: 5,
            }
        } else {
            Sizes {
                events: 2_000_000,
                ingest_rows: 2_000_000,
                copy_rows: 1_000_000,
                freshness_secs: 30,
                capacity_secs: 30,
                frames: 2_000,
                protocol_secs: 15,
                rss_secs: 30,
                idle_secs: 20,
            }
        }
    }
}

fn unlimited() -> StreamLimits {
    StreamLimits {
        write_records_per_sec: u64::MAX / 2,
        write_bytes_per_sec: u64::MAX / 2,
        reads_per_sec: 1_000_000,
        read_bytes_per_sec: u64::MAX / 2,
        fsync: false,
        ..StreamLimits::default()
    }
}

/// An order as the generator makes it; `now` is read once per batch, as
/// the generator does.
fn event(id: i64, now: chrono::DateTime<chrono::Utc>) -> OrderEvent {
    OrderEvent {
        order_id: id,
        customer_id: (id % 200) as i32 + 1,
        restaurant_id: (id % 50) as i32 + 1,
        rider_id: (id % 30) as i32 + 1,
        order_date: format_order_date(now.naive_utc()),
        delivery_time: 15 + (id % 46) as i32,
        order_value: 10.0 + (id % 9000) as f64 / 100.0,
        delivery_fee: 2.5,
        tip_amount: 1.25,
        order_status: "Delivered".into(),
        emitted_at: Some(now.timestamp_millis()),
    }
}

/// Serialize and put `n` events through PutRecords batches of 500.
async fn generator_to_stream(dir: &Path, n: usize) -> Result<f64, String> {
    let stream = Arc::new(EmbeddedStream::open(dir, "bench", 8, unlimited()).map_err(|e| e.to_string())?);
    let started = Instant::now();
    let mut next = 1i64;
    while (next as usize) <= n {
        let now = chrono::Utc::now();
        let entries: Vec<PutEntry> = (0..500.min(n + 1 - next as usize))
            .map(|i| {
                let id = next + i as i64;
                PutEntry {
                    partition_key: itoa::Buffer::new().format(id).to_string(),
                    data: event(id, now).to_json(),
                }
            })
            .collect();
        next += entries.len() as i64;
        Stream::put_records(&stream, entries).await.map_err(|e| e.to_string())?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// `courier emulate` (this binary) serving an unthrottled 8-shard stream on a
/// free loopback port; killed on drop.
struct EmulateChild(std::process::Child);

impl Drop for EmulateChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Through the same Kinesis-protocol endpoint (`courier emulate`), in the
/// same run: courier's PutRecords path (batches of 500, 4 in flight,
/// serialization included) for `secs`, then the reference generator's
/// method — boto3, one `put_record` per order — for `secs`. Events/s of each.
async fn kinesis_vs_boto3(dir: &Path, secs: u64) -> Result<(f64, f64), String> {
    use std::io::BufRead;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let producer = repo.join("scripts/boto3_producer.py");
    let emulators = repo.join("scripts/emulators.sh");
    if !producer.exists() || !emulators.exists() {
        return Err("scripts/boto3_producer.py is not here (run from a courier checkout)".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let config = dir.join("emulate.toml");
    std::fs::write(
        &config,
        "[stream]\nname = \"bench\"\nshards = 8\nwrite_records_per_sec = 10000000\n\
         write_bytes_per_sec = 17179869184\nfsync = false\n",
    )
    .map_err(|e| e.to_string())?;
    let (kport, rport) = (free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .arg("--config")
        .arg(&config)
        .args(["emulate", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--kinesis", &format!("127.0.0.1:{kport}")])
        .args(["--redshift-data", &format!("127.0.0.1:{rport}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting courier emulate: {e}"))?;
    let stderr = child.stderr.take();
    let child = EmulateChild(child);
    let ready = tokio::task::spawn_blocking(move || {
        let Some(stderr) = stderr else { return false };
        let mut lines = std::io::BufReader::new(stderr).lines();
        let ok = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("Redshift Data API on"));
        std::thread::spawn(move || lines.for_each(drop));
        ok
    });
    if !tokio::time::timeout(Duration::from_secs(30), ready)
        .await
        .is_ok_and(|r| r.unwrap_or(false))
    {
        return Err("courier emulate did not start".into());
    }
    let endpoint = format!("http://127.0.0.1:{kport}");

    // courier's side: the AWS adapter, as the generator uses it.
    let aws = crate::config::AwsConfig {
        region: Some("us-east-1".into()),
        kinesis_endpoint_url: Some(endpoint.clone()),
        ..Default::default()
    };
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::SharedCredentialsProvider::new(
            aws_sdk_kinesis::config::Credentials::new("bench", "bench", None, None, "courier-bench"),
        ))
        .build();
    let stream: Arc<dyn Stream> = Arc::new(crate::backend::aws::KinesisStream::new(
        crate::backend::aws::Clients::new(&sdk, &aws).kinesis,
        "bench",
    ));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..4i64 {
        let stream = Arc::clone(&stream);
        tasks.spawn(async move {
            let mut sent = 0u64;
            let mut next = worker * 1_000_000_000;
            while Instant::now() < until {
                let now = chrono::Utc::now();
                let entries: Vec<PutEntry> = (0..500)
                    .map(|i| PutEntry {
                        partition_key: itoa::Buffer::new().format(next + i).to_string(),
                        data: event(next + i, now).to_json(),
                    })
                    .collect();
                next += 500;
                let out = stream.put_records(entries).await.map_err(|e| e.to_string())?;
                sent += out
                    .iter()
                    .filter(|o| matches!(o, crate::backend::PutOutcome::Ok { .. }))
                    .count() as u64;
            }
            Ok::<u64, String>(sent)
        });
    }
    let mut ours = 0u64;
    while let Some(r) = tasks.join_next().await {
        ours += r.map_err(|e| e.to_string())??;
    }
    let ours = ours as f64 / started.elapsed().as_secs_f64();

    // The reference method: boto3, one put_record per order.
    let out = tokio::process::Command::new("bash")
        .arg(&emulators)
        .arg("python")
        .arg(&producer)
        .args([
            "--endpoint",
            &endpoint,
            "--stream",
            "bench",
            "--seconds",
            &secs.to_string(),
        ])
        .args(["--first-order-id", "900000000000"])
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .output()
        .await
        .map_err(|e| format!("running the boto3 producer: {e}"))?;
    drop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "the boto3 producer failed (scripts/emulators.sh install?): {}",
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            )
        })?;
    let boto3 = report["rate"].as_f64().ok_or("the boto3 producer reported no rate")?;
    Ok((ours, boto3))
}

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
async fn ingest(dir: &Path, n: usize, updates: bool) -> Result<f64, String> {
    let schema = Config::default().schema();
    let w = Arc::new(
        DuckDbWarehouse::open(&dir.join("bench.duckdb"), &schema, &dir.join("objects")).map_err(|e| e.to_string())?,
    );
    w.ensure_schema().await.map_err(|e| e.to_string())?;
    let date = chrono::Utc::now().naive_utc();
    let per_shard = n / INGEST_SHARDS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..INGEST_SHARDS)
        .map(|shard| {
            let w = Arc::clone(&w);
            tokio::spawn(async move {
                let shard_id = format!("shardId-{shard:012}");
                let row = |order_id: i64, status: &str, seq: u64| FactRow {
                    order_id,
                    customer_id: 1 + (order_id % 200) as i32,
                    restaurant_id: 1 + (order_id % 50) as i32,
                    rider_id: 1 + (order_id % 30) as i32,
                    order_date: date,
                    delivery_time: 15 + (order_id % 46) as i32,
                    order_value: 1000 + order_id % 9000,
                    delivery_fee: 250,
                    tip_amount: 100,
                    order_status: status.into(),
                    shard_id: shard_id.clone(),
                    sequence_number: seq.to_string(),
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
                    };
                    w.load_facts(Arc::new(batch)).await.map_err(|e| e.to_string())?;
                }
                Ok::<usize, String>(sent)
            })
        })
        .collect();
    let mut loaded = 0;
    for t in tasks {
        loaded += t.await.map_err(|e| e.to_string())??;
    }
    Ok(loaded as f64 / started.elapsed().as_secs_f64())
}

/// Generate, upload and COPY a customers file of `rows` rows.
async fn dimension_copy(dir: &Path, rows: u32) -> Result<Duration, String> {
    let schema = Config::default().schema();
    let objects = dir.join("objects");
    let w = DuckDbWarehouse::open(&dir.join("copy.duckdb"), &schema, &objects).map_err(|e| e.to_string())?;
    w.ensure_schema().await.map_err(|e| e.to_string())?;
    let uri = ObjectUri::parse("s3://bench/dims/dimCustomers.csv")?;
    DirObjectStore::new(&objects)
        .put(&uri, crate::engine::dimensions::generate_csv("dimCustomers", rows, 1))
        .await
        .map_err(|e| e.to_string())?;
    let table = TableName::new(&schema, "dimCustomers")?;
    let started = Instant::now();
    w.copy_replace(&table, &uri).await.map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

/// Run the real engine for `secs` at `rate` on `shards` shards with the
/// given per-shard write limit; returns (acked/s, lost, p50, p99).
async fn engine_run(
    dir: &Path,
    rate: u32,
    shards: usize,
    shard_limit: u64,
    secs: u64,
) -> Result<(f64, u64, Option<u64>, Option<u64>), String> {
    let text = format!(
        "[stream]\nshards = {shards}\nwrite_records_per_sec = {shard_limit}\nwrite_bytes_per_sec = 17179869184\n\
         reads_per_sec = 20\nread_bytes_per_sec = 17179869184\nfsync = false\n\
         [generator]\nstatus_updates = false\n[ingester]\nbatch_age = \"100ms\"\ndrain_timeout = \"120s\"\n"
    );
    let cfg = Config::parse(&text, "bench").map_err(|e| e.to_string())?;
    let paths = EmbeddedPaths::new(dir);
    let (ports, _) = setup::embedded_ports(&cfg, &paths)?;
    let handle = crate::engine::start(setup::engine_settings(&cfg, &paths, Some(rate), false, false), ports);
    let mut rx = handle.snapshots.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.borrow().generator.acknowledged == 0 && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
    // Rates from the snapshots' own clock: a snapshot is published every
    // few hundred milliseconds, and timing it with ours would skew the rate.
    let (start_acked, start_at) = {
        let s = rx.borrow();
        (s.generator.acknowledged, s.uptime)
    };
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let snap = rx.borrow().clone();
    let rate = (snap.generator.acknowledged - start_acked) as f64
        / snap.uptime.saturating_sub(start_at).as_secs_f64().max(0.001);
    handle.stop();
    let summary = handle.wait().await?;
    Ok((
        rate,
        summary.acknowledged - summary.ingested,
        snap.freshness.p50_ms,
        snap.freshness.p99_ms,
    ))
}

/// VmRSS of process `pid`, MiB.
fn rss_of(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

/// utime + stime of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Run this binary headless at `rate` (8 shards with limits raised so the
/// tool, not the simulated Kinesis limit, is measured) for `secs`; peak RSS
/// (MiB) and the acknowledged rate.
async fn rss_at_rate(dir: &Path, rate: u32, secs: u64) -> Result<(f64, f64), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let config = dir.join("rss.toml");
    std::fs::write(
        &config,
        "[stream]\nshards = 8\nwrite_records_per_sec = 10000000\nwrite_bytes_per_sec = 17179869184\n\
         reads_per_sec = 20\nread_bytes_per_sec = 17179869184\nfsync = false\n",
    )
    .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = tokio::process::Command::new(exe)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args([
            "--no-tui",
            "--json",
            "--rate",
            &rate.to_string(),
            "--for",
            &format!("{secs}s"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let sampler = tokio::spawn(async move {
        let mut peak = 0.0f64;
        while let Some(r) = rss_of(pid) {
            peak = peak.max(r);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        peak
    });
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    let peak = sampler.await.map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("no summary from the run")?;
    let rate = summary["acknowledged"].as_f64().unwrap_or(0.0) / summary["seconds"].as_f64().unwrap_or(1.0).max(1.0);
    Ok((peak, rate))
}

/// Open the console (this binary) in a detached tmux session with the
/// generator paused, let it settle, and measure its CPU over `secs`.
async fn idle_console_cpu(dir: &Path, secs: u64) -> Result<f64, String> {
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output();
    if tmux(&["-V"]).is_err() {
        return Err("tmux is not installed".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let session = format!("courier-bench-{}", std::process::id());
    let cmd = format!("{} --data-dir {} --paused", exe.display(), dir.join("data").display());
    let started =
        tmux(&["new-session", "-d", "-s", &session, "-x", "160", "-y", "48", &cmd]).map_err(|e| e.to_string())?;
    if !started.status.success() {
        return Err(String::from_utf8_lossy(&started.stderr).trim().to_string());
    }
    let result = async {
        let pane = tmux(&["list-panes", "-t", &session, "-F", "#{pane_pid}"]).map_err(|e| e.to_string())?;
        let pid: u32 = String::from_utf8_lossy(&pane.stdout)
            .trim()
            .parse()
            .map_err(|_| "no console pid".to_string())?;
        // Start-up (dimension loads, first queries) is not idle: let it pass.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let t0 = cpu_ticks(pid).ok_or("the console exited")?;
        let w0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let t1 = cpu_ticks(pid).ok_or("the console exited")?;
        let ticks_per_sec = 100.0; // USER_HZ on Linux
        Ok((t1 - t0) as f64 / ticks_per_sec / w0.elapsed().as_secs_f64() * 100.0)
    }
    .await;
    let _ = tmux(&["send-keys", "-t", &session, "q"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = tmux(&["kill-session", "-t", &session]);
    result
}

fn frame_render(frames: usize) -> (f64, f64) {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let now = chrono::Utc::now();
    let snap = crate::ui::demo::sample_snapshot(64, 1000, now);
    let mut app = crate::ui::app::App::new(
        crate::ui::keymap::Keymap::default(),
        false,
        crate::ui::app::LagThresholds {
            warn_ms: 1000,
            crit_ms: 5000,
        },
        true,
    );
    app.focus = crate::ui::app::Pane::Queries;
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 60));
    for i in 0..frames {
        app.query_scroll = i % 900;
        let t = Instant::now();
        let _ = terminal.draw(|f| crate::ui::draw(f, &app, &snap, now));
        let _ = hist.record(t.elapsed().as_micros() as u64);
    }
    (
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
    )
}

/// Run every measurement; each is independent, a failure is reported in its row.
pub async fn run(quick: bool, only: Option<&str>, progress: impl Fn(&str)) -> Vec<Figure> {
    // `--only WORD`: just the measurements whose step names contain WORD.
    let want = |step: &str| only.is_none_or(|w| step.to_lowercase().contains(&w.to_lowercase()));
    let sizes = Sizes::new(quick);
    let tmp = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            return vec![Figure {
                name: "set-up",
                measured: e,
                goal: "",
                pass: Some(false),
            }];
        }
    };
    let mut out = Vec::new();
    let err = |e: String| format!("error: {e}");

    if want("generator → embedded stream") {
        progress("generator → embedded stream");
        out.push(match generator_to_stream(&tmp.join("gen"), sizes.events).await {
            Ok(r) => Figure {
                name: "generator → embedded stream, events/s",
                measured: format!("{r:.0}"),
                goal: "≥ 1,000,000",
                pass: Some(r >= 1e6),
            },
            Err(e) => Figure {
                name: "generator → embedded stream, events/s",
                measured: err(e),
                goal: "≥ 1,000,000",
                pass: Some(false),
            },
        });
    }
    if want("Kinesis protocol: courier vs a boto3 put_record producer") {
        progress("Kinesis protocol: courier vs a boto3 put_record producer");
        out.push(
            match kinesis_vs_boto3(&tmp.join("kinesis"), sizes.protocol_secs).await {
                Ok((ours, boto3)) => Figure {
                    name: "Kinesis-protocol generator vs boto3 put_record producer",
                    measured: format!("{ours:.0} vs {boto3:.0} ev/s = {:.0}×", ours / boto3.max(1.0)),
                    goal: "≥ 100×",
                    pass: Some(ours >= 100.0 * boto3),
                },
                Err(e) => Figure {
                    name: "Kinesis-protocol generator vs boto3 put_record producer",
                    measured: format!("not measured: {e}"),
                    goal: "≥ 100×",
                    pass: None,
                },
            },
        );
    }
    if want("stream capacity share") {
        progress("stream capacity share");
        out.push(
            match engine_run(&tmp.join("cap"), 4 * 1000 * 6 / 5, 4, 1000, sizes.capacity_secs).await {
                Ok((rate, lost, ..)) => Figure {
                    name: "share of 4×1000 rec/s capacity achieved, records lost",
                    measured: format!("{:.1}%, {lost} lost", rate / 40.0),
                    goal: "≥ 99%, 0",
                    pass: Some(rate / 40.0 >= 99.0 && lost == 0),
                },
                Err(e) => Figure {
                    name: "share of capacity achieved",
                    measured: err(e),
                    goal: "≥ 99%, 0",
                    pass: Some(false),
                },
            },
        );
    }
    for (updates, name) in [
        (false, "embedded ingest exactly-once, events/s (new orders)"),
        (true, "embedded ingest exactly-once, events/s (with status updates)"),
    ] {
        if want(name) {
            progress(name);
            let dir = tmp.join(if updates { "ingest-updates" } else { "ingest" });
            out.push(match ingest(&dir, sizes.ingest_rows, updates).await {
                Ok(r) => Figure {
                    name,
                    measured: format!("{r:.0}"),
                    goal: "≥ 250,000",
                    pass: Some(r >= 250_000.0),
                },
                Err(e) => Figure {
                    name,
                    measured: err(e),
                    goal: "≥ 250,000",
                    pass: Some(false),
                },
            });
        }
    }
    if want("freshness at 10,000 events/s") {
        progress("freshness at 10,000 events/s");
        match engine_run(&tmp.join("fresh"), 10_000, 16, 1000, sizes.freshness_secs).await {
            Ok((_, _, p50, p99)) => {
                let fmt = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
                out.push(Figure {
                    name: "freshness at 10,000 events/s, p50 / p99",
                    measured: format!("{} / {}", fmt(p50), fmt(p99)),
                    goal: "p99 ≤ 1 s",
                    pass: Some(p99.is_some_and(|v| v <= 1000)),
                });
            }
            Err(e) => out.push(Figure {
                name: "freshness at 10,000 events/s",
                measured: err(e),
                goal: "p99 ≤ 1 s",
                pass: Some(false),
            }),
        }
    }
    if want("RSS at 100,000 events/s (a separate courier process)") {
        progress("RSS at 100,000 events/s (a separate courier process)");
        out.push(match rss_at_rate(&tmp.join("rss"), 100_000, sizes.rss_secs).await {
            Ok((peak, rate)) => Figure {
                name: "peak RSS of `courier --no-tui` at 100,000 events/s, MiB",
                measured: format!("{peak:.0} (acked {rate:.0}/s)"),
                goal: "≤ 150",
                pass: Some(peak <= 150.0 && rate >= 95_000.0),
            },
            Err(e) => Figure {
                name: "peak RSS of `courier --no-tui` at 100,000 events/s, MiB",
                measured: err(e),
                goal: "≤ 150",
                pass: Some(false),
            },
        });
    }
    if want("idle CPU with the console open (tmux)") {
        progress("idle CPU with the console open (tmux)");
        out.push(match idle_console_cpu(&tmp.join("idle"), sizes.idle_secs).await {
            Ok(pct) => Figure {
                name: "CPU of the open console, generator paused, % of a core",
                measured: format!("{pct:.2}"),
                goal: "≤ 1",
                pass: Some(pct <= 1.0),
            },
            Err(e) => Figure {
                name: "CPU of the open console, generator paused, % of a core",
                measured: format!("not measured: {e}"),
                goal: "≤ 1",
                pass: None,
            },
        });
    }
    if want("dimension COPY") {
        progress("dimension COPY");
        let copy_name = if quick {
            "dimension COPY of 100,000 customer rows, s"
        } else {
            "dimension COPY of 1,000,000 customer rows, s"
        };
        out.push(match dimension_copy(&tmp.join("copy"), sizes.copy_rows).await {
            Ok(d) => Figure {
                name: copy_name,
                measured: format!("{:.2}", d.as_secs_f64()),
                goal: "≤ 3 (1M rows)",
                pass: (!quick).then_some(d.as_secs_f64() <= 3.0),
            },
            Err(e) => Figure {
                name: copy_name,
                measured: err(e),
                goal: "≤ 3",
                pass: Some(false),
            },
        });
    }
    if want("frame render") {
        progress("frame render");
        let (p50, p99) = frame_render(sizes.frames);
        out.push(Figure {
            name: "console frame, 64 shards + 1000-row result, p50 / p99 ms",
            measured: format!("{p50:.2} / {p99:.2}"),
            goal: "≤ 2",
            pass: Some(p99 <= 2.0),
        });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("courier-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The table as text.
pub fn table(figures: &[Figure]) -> String {
    let w = figures.iter().map(|f| f.name.chars().count()).max().unwrap_or(10);
    let m = figures
        .iter()
        .map(|f| f.measured.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut s = format!("{:<w$}  {:<m$}  {:<18}  result\n", "figure", "measured", "goal");
    for f in figures {
        let verdict = match f.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "-",
        };
        s.push_str(&format!(
            "{:<w$}  {:<m$}  {:<18}  {verdict}\n",
            f.name, f.measured, f.goal
        ));
    }
    s
}
