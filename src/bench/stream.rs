//! Generator and stream measurements: into the embedded stream, over the
//! Kinesis protocol against a boto3 producer, and the real engine run at a
//! rate (capacity share, freshness).

use color_eyre::eyre::{self, WrapErr, eyre};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::embedded::{EmbeddedStream, StreamLimits};
use crate::backend::{PutEntry, Stream};
use crate::config::Config;
use crate::engine::event::{OrderEvent, format_order_date};
use crate::setup::{self, EmbeddedPaths};

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
pub(super) async fn generator_to_stream(dir: &Path, n: usize) -> eyre::Result<f64> {
    let stream = Arc::new(EmbeddedStream::open(dir, "bench", 8, unlimited())?);
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
        Stream::put_records(&stream, entries).await?;
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

fn free_port() -> eyre::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .wrap_err("no free port")
}

/// Through the same Kinesis-protocol endpoint (`courier emulate`), in the
/// same run: courier's PutRecords path (batches of 500, 4 in flight,
/// serialization included) for `secs`, then the reference generator's
/// method — boto3, one `put_record` per order — for `secs`. Events/s of each.
pub(super) async fn kinesis_vs_boto3(dir: &Path, secs: u64) -> eyre::Result<(f64, f64)> {
    use std::io::BufRead;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let producer = repo.join("scripts/boto3_producer.py");
    let emulators = repo.join("scripts/emulators.sh");
    if !producer.exists() || !emulators.exists() {
        return Err(eyre!(
            "scripts/boto3_producer.py is not here (run from a courier checkout)"
        ));
    }
    std::fs::create_dir_all(dir)?;
    let config = dir.join("emulate.toml");
    std::fs::write(
        &config,
        "[stream]\nname = \"bench\"\nshards = 8\nwrite_records_per_sec = 10000000\n\
         write_bytes_per_sec = 17179869184\nfsync = false\n",
    )?;
    let (kport, rport) = (free_port()?, free_port()?);
    let exe = std::env::current_exe()?;
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
        .wrap_err("starting courier emulate")?;
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
        return Err(eyre!("courier emulate did not start"));
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
                let out = stream.put_records(entries).await?;
                sent += out
                    .iter()
                    .filter(|o| matches!(o, crate::backend::PutOutcome::Ok { .. }))
                    .count() as u64;
            }
            Ok::<u64, eyre::Report>(sent)
        });
    }
    let mut ours = 0u64;
    while let Some(r) = tasks.join_next().await {
        ours += r??;
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
        .wrap_err("running the boto3 producer")?;
    drop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            eyre!(
                "the boto3 producer failed (scripts/emulators.sh install?): {}",
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            )
        })?;
    let boto3 = report["rate"]
        .as_f64()
        .ok_or_else(|| eyre!("the boto3 producer reported no rate"))?;
    Ok((ours, boto3))
}

/// Run the real engine for `secs` at `rate` on `shards` shards with the
/// given per-shard write limit; returns (acked/s, lost, p50, p99).
pub(super) async fn engine_run(
    dir: &Path,
    rate: u32,
    shards: usize,
    shard_limit: u64,
    secs: u64,
) -> eyre::Result<(f64, u64, Option<u64>, Option<u64>)> {
    let text = format!(
        "[stream]\nshards = {shards}\nwrite_records_per_sec = {shard_limit}\nwrite_bytes_per_sec = 17179869184\n\
         reads_per_sec = 20\nread_bytes_per_sec = 17179869184\nfsync = false\n\
         [generator]\nstatus_updates = false\n[ingester]\nbatch_age = \"100ms\"\ndrain_timeout = \"120s\"\n"
    );
    let cfg = Config::parse(&text, "bench")?;
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
