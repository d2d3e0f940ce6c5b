//! courier's AWS backend over the real wire protocols: the real AWS SDK
//! clients against kinesis-local (Kinesis), moto server (S3) and `courier
//! emulate` (Redshift Data API, and Kinesis for the conformance checks).
//! The emulators are installed by `scripts/emulators.sh install` (the
//! README's test command runs it) and bound to 127.0.0.1 only.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use crate::common::free_port;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;

const BIN: &str = env!("CARGO_BIN_EXE_courier");
const SCHEMA: &str = "food_delivery_datamart";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fake credentials, recognisable so a test can grep that they never leak.
fn fake_env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDCOURIERTEST0FAKE")
        .env("AWS_SECRET_ACCESS_KEY", "courier-fake-secret-key-0123456789")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("no-config"))
}

/// kinesis-local and moto server, started by scripts/emulators.sh, stopped on drop.
struct Emulators {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Emulators {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(repo().join("scripts/emulators.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "scripts/emulators.sh start failed (run `scripts/emulators.sh install` first):\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.path().join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        Emulators { dir, env }
    }

    fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the emulators' env file"))
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/emulators.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// `courier emulate` on free loopback ports, killed on drop.
struct Emulate {
    child: Child,
    kinesis: String,
    redshift_data: String,
}

impl Emulate {
    fn start(data_dir: &Path, home: &Path, s3_endpoint: Option<&str>, config: Option<&Path>) -> Self {
        Self::start_at(free_port(), free_port(), data_dir, home, s3_endpoint, config)
    }

    fn start_at(
        k: u16,
        r: u16,
        data_dir: &Path,
        home: &Path,
        s3_endpoint: Option<&str>,
        config: Option<&Path>,
    ) -> Self {
        let mut cmd = Command::new(BIN);
        fake_env(&mut cmd, home);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["emulate", "--data-dir"])
            .arg(data_dir)
            .args(["--kinesis", &format!("127.0.0.1:{k}")])
            .args(["--redshift-data", &format!("127.0.0.1:{r}")]);
        if let Some(s3) = s3_endpoint {
            cmd.args(["--s3-endpoint", s3]);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("courier emulate starts");
        // Wait for the "ready" line, then let its stderr drain in the background.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                panic!("courier emulate did not come up:\n{seen}");
            }
            seen.push_str(&line);
            if line.contains("Redshift Data API on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in stderr.lines() {});
        Emulate {
            child,
            kinesis: format!("http://127.0.0.1:{k}"),
            redshift_data: format!("http://127.0.0.1:{r}"),
        }
    }
}

impl Emulate {
    fn ports(&self) -> (u16, u16) {
        let port = |u: &str| u.rsplit(':').next().unwrap().parse().unwrap();
        (port(&self.kinesis), port(&self.redshift_data))
    }
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A courier config for the AWS backend pointed at local endpoints.
fn aws_config(dir: &Path, stream: &str, shards: usize, kinesis: &str, s3: &str, redshift_data: &str) -> PathBuf {
    let path = dir.join("courier.toml");
    std::fs::write(
        &path,
        format!(
            r#"backend = "aws"
data_dir = "{state}"

[stream]
name = "{stream}"
shards = {shards}

[storage]
bucket = "courier-test"

[ingester]
batch_age = "300ms"

[aws]
region = "us-east-1"
kinesis_endpoint_url = "{kinesis}"
s3_endpoint_url = "{s3}"
redshift_data_endpoint_url = "{redshift_data}"
workgroup = "courier"
database = "dev"
copy_role_arn = "arn:aws:iam::123456789012:role/courier-copy"
create_missing = true
"#,
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    path
}

fn courier(home: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    fake_env(&mut cmd, home);
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("courier runs")
}

fn summary(out: &std::process::Output) -> serde_json::Value {
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    let last = stdout.lines().last().expect("a summary line");
    let v: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{last}: {e}"));
    assert_eq!(v["summary"], true, "{v}");
    v
}

fn query_csv(home: &Path, config: &Path, sql: &str) -> Vec<String> {
    let out = courier(home, config, &["query", "--format", "csv", sql]);
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout).lines().skip(1).map(str::to_string).collect()
}

fn kinesis_client(endpoint: &str) -> aws_sdk_kinesis::Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDCOURIERTEST0FAKE", "fake", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}

async fn wait_active(client: &aws_sdk_kinesis::Client, stream: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(out) = client.describe_stream_summary().stream_name(stream).send().await
            && out
                .stream_description_summary()
                .is_some_and(|s| s.stream_status().as_str() == "ACTIVE")
        {
            return;
        }
        assert!(Instant::now() < deadline, "{stream} never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exactly once: every acknowledged order is in factOrders once; nothing
/// was dead-lettered; the ingester loaded everything acknowledged.
fn assert_exactly_once(home: &Path, config: &Path, s: &serde_json::Value) {
    let orders = s["acknowledged_orders"].as_u64().unwrap();
    assert!(orders > 0, "{s}");
    assert_eq!(s["ingested"], s["acknowledged"], "{s}");
    assert_eq!(s["dead_lettered"], 0, "{s}");
    let rows = query_csv(
        home,
        config,
        &format!("SELECT COUNT(*), COUNT(DISTINCT OrderID) FROM {SCHEMA}.factOrders"),
    );
    assert_eq!(rows, vec![format!("{orders},{orders}")], "{s}");
}

/// The whole pipeline on the AWS backend: dimensions COPY'd from S3 (moto),
/// the generator writes to Kinesis (kinesis-local), the ingester stages to
/// S3 and loads through the Redshift Data API (courier emulate) exactly
/// once, and the dashboard queries return rows.
#[test]
fn pipeline_runs_against_kinesis_local_moto_and_the_data_api() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), home, Some(&s3), None);
    let config = aws_config(
        home,
        "courier-e2e",
        4,
        emu.get("KINESIS_ENDPOINT"),
        &s3,
        &rs.redshift_data,
    );
    let out = courier(home, &config, &["--no-tui", "--json", "--for", "10s", "--rate", "400"]);
    let s = summary(&out);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        !all.contains("courier-fake-secret") && !all.contains("AKIDCOURIERTEST0FAKE"),
        "credentials leaked into the output"
    );
    assert_exactly_once(home, &config, &s);
    for (table, n) in [("dimCustomers", 200), ("dimRestaurants", 50), ("dimDeliveryRiders", 30)] {
        let rows = query_csv(home, &config, &format!("SELECT COUNT(*) FROM {SCHEMA}.{table}"));
        assert_eq!(rows, vec![n.to_string()], "{table}");
    }
    // The dashboard queries run through the Data API and return rows.
    for file in [
        "sql/queries/01_orders_by_status.sql",
        "sql/queries/02_top_restaurants.sql",
    ] {
        let path = repo().join(file);
        if !path.exists() {
            continue;
        }
        let sql = std::fs::read_to_string(&path).unwrap();
        let rows = query_csv(home, &config, &sql);
        assert!(!rows.is_empty(), "{file} returned no rows");
    }
    // The staged micro-batches are in the bucket (moto), as COPY read them.
    let status_lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        status_lines.iter().any(|l| l["backend"]["kind"] == "aws"),
        "status lines name the backend"
    );
}

/// A reshard (UpdateShardCount 2 → 4 on kinesis-local) during ingestion
/// loses nothing: parents are read to their end, then their children.
#[test]
fn a_reshard_during_ingestion_loses_nothing() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let config = aws_config(&home, "courier-reshard", 2, &kinesis, &s3, &rs.redshift_data);
    let runner = {
        let (home, config) = (home.clone(), config.clone());
        std::thread::spawn(move || courier(&home, &config, &["--no-tui", "--json", "--for", "25s", "--rate", "300"]))
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shards_after = rt.block_on(async {
        let client = kinesis_client(&kinesis);
        tokio::time::sleep(Duration::from_secs(8)).await;
        wait_active(&client, "courier-reshard").await;
        client
            .update_shard_count()
            .stream_name("courier-reshard")
            .target_shard_count(4)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .expect("UpdateShardCount");
        wait_active(&client, "courier-reshard").await;
        let shards = client
            .list_shards()
            .stream_name("courier-reshard")
            .send()
            .await
            .unwrap();
        shards.shards().len()
    });
    assert!(shards_after > 2, "the reshard made new shards ({shards_after})");
    let out = runner.join().unwrap();
    let s = summary(&out);
    assert_exactly_once(&home, &config, &s);
    // Rows came in through the children too.
    let child_rows = query_csv(
        &home,
        &config,
        &format!("SELECT COUNT(DISTINCT ShardId) FROM {SCHEMA}.factOrders"),
    );
    let distinct: usize = child_rows[0].parse().unwrap();
    assert!(
        distinct > 2,
        "rows came from {distinct} shards; expected parents and children"
    );
}

/// The same partition keys land on the same shard ids through courier's
/// embedded stream (over `courier emulate`) and through kinesis-local; and
/// a shard pushed past 1000 records/s gets per-record throttling from
/// courier's stream.
#[test]
fn shard_assignment_and_throttling_conform_to_kinesis() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let emulate = Emulate::start(&home.join("emulate"), home, None, None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let keys: Vec<String> = (0..300)
            .map(|i| {
                if i % 3 == 0 {
                    format!("order-{i}")
                } else {
                    (i * 7919).to_string()
                }
            })
            .collect();
        for shards in [1, 3, 4] {
            let stream = format!("conformance-{shards}");
            let mut seen = Vec::new();
            for endpoint in [emu.get("KINESIS_ENDPOINT"), emulate.kinesis.as_str()] {
                let client = kinesis_client(endpoint);
                client
                    .create_stream()
                    .stream_name(&stream)
                    .shard_count(shards)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("CreateStream on {endpoint}: {e:?}"));
                wait_active(&client, &stream).await;
                let mut assigned = Vec::new();
                for k in &keys {
                    let out = client
                        .put_record()
                        .stream_name(&stream)
                        .partition_key(k)
                        .data(Blob::new(b"{}".to_vec()))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("PutRecord on {endpoint}: {e:?}"));
                    assigned.push(out.shard_id().to_string());
                }
                seen.push(assigned);
            }
            let differ: Vec<_> = keys
                .iter()
                .zip(seen[0].iter().zip(&seen[1]))
                .filter(|(_, (a, b))| a != b)
                .take(5)
                .collect();
            assert!(
                differ.is_empty(),
                "{shards} shards: kinesis-local vs courier differ on {differ:?}"
            );
            let distinct: std::collections::BTreeSet<_> = seen[1].iter().collect();
            assert_eq!(distinct.len(), shards as usize, "keys spread over every shard");
        }

        // One hot shard, 1500 records at once: past the 1000/s limit some get
        // ProvisionedThroughputExceededException, per record.
        let client = kinesis_client(&emulate.kinesis);
        let entries = |n: usize| {
            (0..n)
                .map(|i| {
                    aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                        .partition_key("hot-key")
                        .data(Blob::new(format!("{{\"n\":{i}}}").into_bytes()))
                        .build()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        let mut ok = 0;
        let mut throttled = 0;
        let started = Instant::now();
        for _ in 0..3 {
            let out = client
                .put_records()
                .stream_name("conformance-4")
                .set_records(Some(entries(500)))
                .send()
                .await
                .unwrap();
            for r in out.records() {
                match r.error_code() {
                    None => ok += 1,
                    Some("ProvisionedThroughputExceededException") => throttled += 1,
                    Some(other) => panic!("unexpected error code {other}"),
                }
            }
        }
        // The shard holds at most a second's allowance, refilled at 1000/s:
        // it takes at most 1000 plus a record per millisecond the calls took,
        // wherever they fall relative to a wall-clock second.
        let refilled = started.elapsed().as_millis() as u64 + 1;
        assert_eq!(ok + throttled, 1500);
        assert!(ok <= 1000 + refilled, "ok {ok}, throttled {throttled} in {refilled} ms");
        assert!(ok >= 500, "a fresh shard takes a burst: ok {ok}");
    });
}

/// A producer written like the reference generator — boto3, one
/// `put_record` per order — feeds courier's pipeline through `courier
/// emulate`, and its orders appear in factOrders.
#[test]
fn a_boto3_put_record_producer_feeds_the_pipeline() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let config = aws_config(
        &home,
        "incoming-food-order-data",
        4,
        &rs.kinesis,
        &s3,
        &rs.redshift_data,
    );
    // courier runs with its own generator paused: every order comes from boto3.
    let runner = {
        let (home, config) = (home.clone(), config.clone());
        std::thread::spawn(move || courier(&home, &config, &["--no-tui", "--json", "--paused", "--for", "20s"]))
    };
    std::thread::sleep(Duration::from_secs(5));
    let python = emu.get("EMULATORS_PYTHON").to_string();
    let mut cmd = Command::new(python);
    fake_env(&mut cmd, &home);
    let out = cmd
        .arg(repo().join("scripts/boto3_producer.py"))
        .args(["--endpoint", &rs.kinesis, "--stream", "incoming-food-order-data"])
        .args(["--count", "300", "--first-order-id", "900000001"])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "producer: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(report["sent"], 300, "{report}");
    let s = summary(&runner.join().unwrap());
    assert_eq!(s["ingested"], 300, "{s}");
    let rows = query_csv(
        &home,
        &config,
        &format!(
            "SELECT COUNT(*), COUNT(DISTINCT OrderID), MIN(OrderID), MAX(OrderID) FROM {SCHEMA}.factOrders \
             WHERE OrderID BETWEEN 900000001 AND 900000300"
        ),
    );
    assert_eq!(rows, vec!["300,300,900000001,900000300".to_string()]);
}

/// The Redshift Data API goes away (the endpoint is killed: connections
/// refused, statements in flight lost) for a while during ingestion: the
/// ingester retries with backoff, shows it, loses nothing and resumes by
/// itself once the endpoint is back. `COURIER_OUTAGE_SECS` sets the outage
/// (default 10 s; the documented full run uses 30).
#[test]
fn a_data_api_outage_is_retried_and_loses_nothing() {
    let outage: u64 = std::env::var("COURIER_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let (kp, rp) = rs.ports();
    let config = aws_config(
        &home,
        "courier-outage",
        2,
        emu.get("KINESIS_ENDPOINT"),
        &s3,
        &rs.redshift_data,
    );
    let run_for = format!("{}s", outage + 40);
    let mut cmd = Command::new(BIN);
    fake_env(&mut cmd, &home);
    let mut child = cmd
        .arg("--config")
        .arg(&config)
        .args(["--no-tui", "--json", "--rate", "300", "--for", &run_for])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<u64>();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .inspect(|l| {
                let ingested = serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["ingest"]["ingested"].as_u64());
                let _ = seen_tx.send(ingested.unwrap_or(0));
            })
            .map(|l| (started.elapsed(), l))
            .collect::<Vec<_>>()
    });
    // Take the Data API away once ingestion is under way (set-up on a busy
    // machine can take a while), plus a few seconds of steady running.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen_rx.recv_timeout(Duration::from_secs(1)).unwrap_or(0) < 500 {
        assert!(Instant::now() < deadline, "ingestion never started");
    }
    std::thread::sleep(Duration::from_secs(3));
    drop(rs); // the Data API is gone
    let down_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(outage));
    let _rs = Emulate::start_at(kp, rp, &home.join("emulate"), &home, Some(&s3), None);
    let up_at = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let lines = lines.join().unwrap();
    let mut with_stdout = out;
    with_stdout.stdout = lines
        .iter()
        .map(|(_, l)| format!("{l}\n"))
        .collect::<String>()
        .into_bytes();
    let s = summary(&with_stdout);
    let status: Vec<(Duration, serde_json::Value)> = lines
        .iter()
        .filter_map(|(t, l)| Some((*t, serde_json::from_str::<serde_json::Value>(l).ok()?)))
        .filter(|(_, v)| v["summary"] != true)
        .collect();
    let retrying_seen = status
        .iter()
        .any(|(t, v)| *t > down_at && *t < up_at + Duration::from_secs(2) && v["ingest"]["retrying"] == true);
    assert!(
        retrying_seen,
        "the status showed the warehouse retrying during the outage"
    );
    let max_lag = status
        .iter()
        .filter(|(t, _)| *t > down_at && *t < up_at)
        .flat_map(|(_, v)| v["shards"].as_array().cloned().unwrap_or_default())
        .filter_map(|sh| sh["millis_behind_latest"].as_u64())
        .max()
        .unwrap_or(0);
    let recovered = status
        .iter()
        .find(|(t, v)| *t > up_at && v["ingest"]["retrying"] == false)
        .map(|(t, _)| t.saturating_sub(up_at));
    assert!(recovered.is_some(), "ingestion resumed by itself after the outage");
    assert_exactly_once(&home, &config, &s);
    println!(
        "data api outage: {outage} s; acknowledged {} records ({} orders), ingested {}, lost 0, duplicated 0; \
         lag during the outage up to {max_lag} ms; resumed {:.1} s after the endpoint came back",
        s["acknowledged"],
        s["acknowledged_orders"],
        s["ingested"],
        recovered.unwrap().as_secs_f64()
    );
}

fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::SharedCredentialsProvider::new(
            Credentials::new("AKIDCOURIERTEST0FAKE", "fake", None, None, "test"),
        ))
        .build()
}

/// courier's Kinesis adapter on kinesis-local, with the embedded warehouse:
/// the engine runs, a reshard (2 → 4 shards) happens mid-ingestion, and
/// every acknowledged order is loaded exactly once — parents read to their
/// end, then their children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kinesis_adapter_follows_a_reshard_exactly_once() {
    use courier::backend::aws::{Clients, KinesisStream};
    use courier::backend::embedded::{DirObjectStore, DuckDbWarehouse};
    use courier::setup::{self, EmbeddedPaths};

    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = courier::config::Config::parse(
        &format!(
            "[stream]\nname = \"reshard-inproc\"\nshards = 2\n[ingester]\nbatch_age = \"200ms\"\n\
             [aws]\nkinesis_endpoint_url = \"{}\"\ncreate_missing = true\n",
            emu.get("KINESIS_ENDPOINT")
        ),
        "t.toml",
    )
    .unwrap();
    let clients = Clients::new(&aws_sdk_config(), &cfg.aws);
    let stream = KinesisStream::new(clients.kinesis.clone(), "reshard-inproc");
    stream
        .ensure_active(2, true, Duration::from_secs(60))
        .await
        .expect("stream created");
    let paths = EmbeddedPaths::new(dir.path());
    std::fs::create_dir_all(&paths.data_dir).unwrap();
    let warehouse = DuckDbWarehouse::open(&paths.warehouse, &cfg.schema(), &paths.objects).unwrap();
    let ports = courier::engine::Ports {
        stream: std::sync::Arc::new(stream),
        objects: std::sync::Arc::new(DirObjectStore::new(&paths.objects)),
        warehouse: std::sync::Arc::new(warehouse),
    };
    let settings = setup::engine_settings(&cfg, &paths, Some(400), false, false);
    let handle = courier::engine::start(settings, ports);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let client = &clients.kinesis;
    client
        .update_shard_count()
        .stream_name("reshard-inproc")
        .target_shard_count(4)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .expect("UpdateShardCount");
    wait_active(client, "reshard-inproc").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let shards_seen = handle.snapshots.borrow().shards.len();
    handle.stop();
    let s = handle.wait().await.expect("engine stops cleanly");
    assert!(s.drained, "{s:?}");
    assert!(
        shards_seen >= 6,
        "readers for 2 parents + 4 children, saw {shards_seen}"
    );
    assert_eq!(s.ingested, s.acknowledged, "{s:?}");
    assert_eq!(s.fact_rows, Some(s.acknowledged_orders), "{s:?}");
    let w = DuckDbWarehouse::open_for_query(&paths.warehouse, &cfg.schema(), &paths.objects).unwrap();
    let rs = w
        .query_blocking(&format!(
            "SELECT COUNT(*), COUNT(DISTINCT OrderID), COUNT(DISTINCT ShardId) FROM {SCHEMA}.factOrders"
        ))
        .unwrap();
    let row: Vec<u64> = rs.rows[0]
        .iter()
        .map(|v| v.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(row[0], s.acknowledged_orders);
    assert_eq!(row[1], s.acknowledged_orders);
    assert!(row[2] > 2, "rows from parents and children: {row:?}");
    println!(
        "reshard 2 -> 4 on kinesis-local: acknowledged {} records ({} orders), ingested {}, lost 0, duplicated 0, rows from {} shards",
        s.acknowledged, s.acknowledged_orders, s.ingested, row[2]
    );
}

/// The S3 adapter on moto: put, get, a missing key is NotFound, a missing
/// bucket is created only when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_adapter_puts_gets_and_names_missing_objects() {
    use courier::backend::aws::{Clients, S3ObjectStore};
    use courier::backend::{ObjectStore, ObjectStoreError, ObjectUri};

    let emu = Emulators::start();
    let cfg = courier::config::Config::parse(
        &format!("[aws]\ns3_endpoint_url = \"{}\"\n", emu.get("S3_ENDPOINT")),
        "t.toml",
    )
    .unwrap();
    let store = S3ObjectStore::new(Clients::new(&aws_sdk_config(), &cfg.aws).s3);
    let e = store
        .ensure_bucket("courier-s3-test", Some("us-east-1"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    store
        .ensure_bucket("courier-s3-test", Some("us-east-1"), true)
        .await
        .unwrap();
    store
        .ensure_bucket("courier-s3-test", Some("us-east-1"), false)
        .await
        .unwrap();
    let uri = ObjectUri::new("courier-s3-test", "dims/dimCustomers.csv").unwrap();
    let body = b"CustomerID,CustomerName\n1,\"Asha, K\"\n".to_vec();
    store.put(&uri, body.clone()).await.unwrap();
    assert_eq!(store.get(&uri).await.unwrap(), body);
    let missing = ObjectUri::new("courier-s3-test", "dims/nope.csv").unwrap();
    match store.get(&missing).await {
        Err(ObjectStoreError::NotFound(m)) => assert!(m.contains("nope.csv"), "{m}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

// ---- operator actions on the AWS path (issue 17) ----

fn event(id: i64, status: &str) -> String {
    format!(
        r#"{{"OrderID": {id}, "CustomerID": 1, "RestaurantID": 2, "RiderID": 3, "OrderDate": "2026-11-20T14:03:11.482913", "DeliveryTime": 30, "OrderValue": 45.5, "DeliveryFee": 3.25, "TipAmount": 1, "OrderStatus": "{status}"}}"#
    )
}

/// `courier --config C --no-tui` in the background (the AWS backend), its
/// output in files, asked with `courier status`; killed on drop.
struct AwsService {
    child: Child,
    home: PathBuf,
    config: PathBuf,
}

impl AwsService {
    fn start(home: &Path, config: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        fake_env(&mut cmd, home);
        let child = cmd
            .arg("--config")
            .arg(config)
            .arg("--no-tui")
            .args(args)
            .stdout(std::fs::File::create(home.join("service.out")).unwrap())
            .stderr(std::fs::File::create(home.join("service.err")).unwrap())
            .spawn()
            .expect("courier starts");
        let s = AwsService {
            child,
            home: home.to_path_buf(),
            config: config.to_path_buf(),
        };
        s.wait_for("the service to answer on its socket", |st| st["running"] == true);
        s
    }

    fn wait_for(&self, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let out = courier(&self.home, &self.config, &["status", "--json"]);
            let st = serde_json::from_str(text(&out.stdout).trim()).unwrap_or(serde_json::Value::Null);
            if f(&st) {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status {st}\nservice stderr: {}",
                std::fs::read_to_string(self.home.join("service.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn stop(mut self) -> String {
        let out = courier(&self.home, &self.config, &["stop"]);
        assert!(out.status.success(), "stop: {}", text(&out.stderr));
        let status = self.child.wait().unwrap();
        let stdout = std::fs::read_to_string(self.home.join("service.out")).unwrap();
        assert!(status.success(), "{stdout}");
        stdout
    }
}

impl Drop for AwsService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn handled(st: &serde_json::Value) -> u64 {
    st["ingest"]["ingested"].as_u64().unwrap_or(0) + st["ingest"]["dead_lettered"].as_u64().unwrap_or(0)
}

/// Issue 17 on the AWS path — kinesis-local, S3 staging on moto, COPY and
/// MERGE through the Data API (`courier emulate`): poison on one shard
/// (EmittedAt in nanoseconds, NUL in a string, bytes that are not UTF-8, a
/// year 0, and a DeliveryTime the operator's own factOrders (SMALLINT)
/// refuses) is dead-lettered byte for byte and every good record lands;
/// redrive after the table is fixed loads the refused one exactly once and
/// a second redrive changes nothing; a rewind to trim_horizon while running
/// replays every record and leaves factOrders as it was.
#[test]
fn poison_redrive_and_rewind_on_the_aws_path() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let stream = "courier-ops";
    let config = aws_config(&home, stream, 2, &kinesis, &s3, &rs.redshift_data);
    let facts_ddl = std::fs::read_to_string(repo().join("sql/schema/02_facts.sql"))
        .unwrap()
        .replace(
            "CREATE TABLE IF NOT EXISTS factOrders",
            &format!("CREATE TABLE {SCHEMA}.factOrders"),
        );
    // The operator's factOrders, made before courier: DeliveryTime SMALLINT.
    let strict = facts_ddl.replace("DeliveryTime INT,", "DeliveryTime SMALLINT,");
    assert_ne!(strict, facts_ddl);
    for sql in [format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"), strict] {
        let out = courier(&home, &config, &["query", "--write", &sql]);
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    }
    let service = AwsService::start(&home, &config, &["--paused"]);

    // 20 orders, each Processing then Delivered, all on one shard (one key),
    // the poison among them.
    let mut invalid_utf8 = event(103, "Processing").into_bytes();
    let at = invalid_utf8.windows(4).position(|w| w == b"Proc").unwrap();
    invalid_utf8[at] = 0xff;
    let poison: Vec<Vec<u8>> = vec![
        event(101, "Processing")
            .replace("\"OrderStatus\"", "\"EmittedAt\": 1764000000123456789, \"OrderStatus\"")
            .into_bytes(),
        event(102, "Processing")
            .replace("Processing", "Process\\u0000ing")
            .into_bytes(),
        invalid_utf8,
        event(104, "Processing")
            .replace("2026-11-20", "0000-11-20")
            .into_bytes(),
        // Valid for courier, refused by this factOrders: found by bisecting.
        event(105, "Delivered")
            .replace("\"DeliveryTime\": 30", "\"DeliveryTime\": 40000")
            .into_bytes(),
    ];
    let mut records: Vec<Vec<u8>> = Vec::new();
    for status in ["Processing", "Delivered"] {
        for id in 1..=20 {
            records.push(event(id, status).into_bytes());
            if status == "Delivered" && id % 4 == 0 {
                records.push(poison[(id / 4 - 1) as usize].clone());
            }
        }
    }
    let total = records.len() as u64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = kinesis_client(&kinesis);
        wait_active(&client, stream).await;
        for data in &records {
            client
                .put_record()
                .stream_name(stream)
                .partition_key("7")
                .data(Blob::new(data.clone()))
                .send()
                .await
                .expect("PutRecord");
        }
    });
    let st = service.wait_for("every record handled", |st| handled(st) >= total);
    assert_eq!(st["ingest"]["ingested"], total - 5, "{st}");
    assert_eq!(st["ingest"]["dead_lettered"], 5, "{st}");
    let facts = format!(
        "SELECT COUNT(*), COUNT(DISTINCT OrderID), SUM(CASE WHEN OrderStatus = 'Delivered' THEN 1 ELSE 0 END) FROM {SCHEMA}.factOrders"
    );
    assert_eq!(query_csv(&home, &config, &facts), vec!["20,20,20".to_string()]);

    // The dead letters, whole: the bytes that are not text kept as base64.
    let out = courier(&home, &config, &["dlq", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let letters: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 5, "{letters:?}");
    let by_order = |id: &str| {
        letters
            .iter()
            .find(|l| l["payload"].as_str().unwrap().contains(&format!(": {id},")))
            .unwrap_or_else(|| panic!("no dead letter for order {id}: {letters:?}"))
    };
    assert!(
        by_order("101")["reason"]
            .as_str()
            .unwrap()
            .contains("EmittedAt 1764000000123456789")
    );
    assert_eq!(by_order("103")["binary"], true);
    assert_eq!(by_order("103")["payload_bytes"], poison[2].len() as u64);
    let refused = by_order("105");
    assert!(
        refused["reason"].as_str().unwrap().contains("refused by the warehouse"),
        "{refused}"
    );
    // Redrive before the fix: it fails again, nothing loads.
    let redrive = ["dlq", "redrive", "--reason", "refused by the warehouse"];
    let out = courier(&home, &config, &redrive);
    assert!(
        text(&out.stdout).contains("1 tried, 0 loaded into factOrders (marked redriven), 1 failed again"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The fix: factOrders as courier makes it, its rows kept.
    for sql in [
        format!("CREATE TABLE {SCHEMA}.f2 AS SELECT * FROM {SCHEMA}.factOrders"),
        format!("DROP TABLE {SCHEMA}.factOrders"),
        facts_ddl.clone(),
        format!("INSERT INTO {SCHEMA}.factOrders SELECT * FROM {SCHEMA}.f2"),
        format!("DROP TABLE {SCHEMA}.f2"),
    ] {
        let out = courier(&home, &config, &["query", "--write", &sql]);
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    }
    let out = courier(&home, &config, &redrive);
    assert!(
        text(&out.stdout).contains("1 tried, 1 loaded into factOrders (marked redriven), 0 failed again"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = courier(&home, &config, &redrive);
    assert!(text(&out.stdout).contains("0 tried"), "{}", text(&out.stdout));
    assert_eq!(query_csv(&home, &config, &facts), vec!["21,21,21".to_string()]);
    let audit = query_csv(
        &home,
        &config,
        &format!(
            "SELECT COUNT(*), SUM(CASE WHEN RedrivenAt IS NULL THEN 0 ELSE 1 END), MAX(Attempts) FROM {SCHEMA}.courier_dlq"
        ),
    );
    assert_eq!(audit, vec!["5,1,3".to_string()], "kept for audit");

    // Rewind every shard to trim_horizon while running: a full replay that
    // changes no row (the newer-wins rule), nothing resurrected.
    let every_row = format!("SELECT * FROM {SCHEMA}.factOrders ORDER BY OrderID");
    let before = query_csv(&home, &config, &every_row);
    let out = courier(
        &home,
        &config,
        &["rewind", "--shard", "shardId-000000000009", "--to", "latest"],
    );
    assert!(
        !out.status.success() && text(&out.stderr).contains("no shard"),
        "{}",
        text(&out.stderr)
    );
    let out = courier(&home, &config, &["rewind", "--all", "--to", "trim_horizon"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = service.wait_for("the replay", |st| {
        handled(st) >= 2 * total
            && st["shards"]
                .as_array()
                .is_some_and(|s| s.iter().all(|sh| sh["replay_left"].as_u64().unwrap_or(0) == 0))
    });
    assert_eq!(handled(&st), 2 * total, "{st}");
    assert_eq!(
        query_csv(&home, &config, &every_row),
        before,
        "the replay changed no row"
    );
    assert_eq!(
        audit,
        query_csv(
            &home,
            &config,
            &format!(
                "SELECT COUNT(*), SUM(CASE WHEN RedrivenAt IS NULL THEN 0 ELSE 1 END), MAX(Attempts) FROM {SCHEMA}.courier_dlq"
            ),
        ),
        "no dead letter twice"
    );
    let summary_line = service.stop();
    assert!(summary_line.contains("drained=true"), "{summary_line}");
}

// ---- hardening (issue 18) on the AWS path ----

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDCOURIERTEST0FAKE", "fake", None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn keys_under(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// Hardening 4 and 13: COPY's FROM is a prefix on Redshift (and on `courier
/// emulate`, which follows it), so `dims/dimCustomers.csv.bak` beside the
/// file was loaded too; a manifest now names exactly the file. And the
/// micro-batches staged for COPY are deleted once committed.
#[test]
fn a_backup_beside_a_dimension_file_is_not_loaded_and_staged_batches_are_deleted() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3_url = emu.get("S3_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3_url), None);
    let config = aws_config(
        &home,
        "courier-dims",
        2,
        emu.get("KINESIS_ENDPOINT"),
        &s3_url,
        &rs.redshift_data,
    );
    let s = summary(&courier(
        &home,
        &config,
        &["--no-tui", "--json", "--for", "6s", "--rate", "300"],
    ));
    assert_exactly_once(&home, &config, &s);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = s3_client(&s3_url);
    let staged = rt.block_on(async {
        s3.copy_object()
            .bucket("courier-test")
            .copy_source("courier-test/dims/dimCustomers.csv")
            .key("dims/dimCustomers.csv.bak")
            .send()
            .await
            .expect("CopyObject");
        keys_under(&s3, "courier-test", "staging/").await
    });
    let batches: Vec<&String> = staged.iter().filter(|k| !k.starts_with("staging/manifests/")).collect();
    println!("left under staging/ after a run: {staged:?}");
    assert!(batches.is_empty(), "staged micro-batches left behind: {batches:?}");
    // The next start loads the dimensions again, with the .bak beside them.
    let s = summary(&courier(
        &home,
        &config,
        &["--no-tui", "--json", "--for", "3s", "--paused"],
    ));
    assert_eq!(s["drained"], true, "{s}");
    let rows = query_csv(
        &home,
        &config,
        &format!("SELECT COUNT(*), COUNT(DISTINCT CustomerID) FROM {SCHEMA}.dimCustomers"),
    );
    assert_eq!(
        rows,
        vec!["200,200".to_string()],
        "only dimCustomers.csv is loaded, not the .bak beside it"
    );
}

/// Hardening 3: the checkpoint only moves forward on Redshift — a late
/// commit of an older batch (a statement resubmitted while the first still
/// ran) can't move it back — except on the first commit after a rewind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_of_an_older_batch_does_not_move_the_checkpoint_back() {
    use courier::backend::aws::{Clients, S3ObjectStore};
    use courier::backend::{FactBatch, SequenceNumber, Warehouse};
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3_url = emu.get("S3_ENDPOINT").to_string();
    let rs = tokio::task::block_in_place(|| Emulate::start(&home.join("emulate"), &home, Some(&s3_url), None));
    let config_path = aws_config(
        &home,
        "courier-cp",
        1,
        emu.get("KINESIS_ENDPOINT"),
        &s3_url,
        &rs.redshift_data,
    );
    let cfg = courier::config::Config::load(Some(&config_path)).unwrap();
    let clients = Clients::new(&aws_sdk_config(), &cfg.aws);
    let objects = S3ObjectStore::new(clients.s3);
    objects
        .ensure_bucket("courier-test", Some("us-east-1"), true)
        .await
        .unwrap();
    let objects: Arc<dyn courier::backend::ObjectStore> = Arc::new(objects);
    let w = courier::setup::aws_warehouse(&cfg, clients.redshift_data, objects);
    w.ensure_schema().await.unwrap();
    let commit = |seq: &str, rewound: bool| FactBatch {
        stream: "courier-cp".into(),
        shard_id: "shardId-000000000000".into(),
        rows: Vec::new(),
        dead_letters: Vec::new(),
        checkpoint: SequenceNumber(seq.into()),
        redrive: false,
        rewound,
        partial: false,
        lease_owner: None,
    };
    w.load_facts(Arc::new(commit(
        "49590338271490256608559692538361571095921575989136588802",
        false,
    )))
    .await
    .unwrap();
    w.load_facts(Arc::new(commit(
        "49590338271490256608559692538361571095921575989136588898",
        false,
    )))
    .await
    .unwrap();
    // Late: an older batch's commit lands after the newer one.
    w.load_facts(Arc::new(commit(
        "49590338271490256608559692538361571095921575989136588850",
        false,
    )))
    .await
    .unwrap();
    let cp = w.checkpoints("courier-cp").await.unwrap();
    println!("after a late older commit: {cp:?}");
    assert_eq!(cp.len(), 1);
    assert!(cp[0].1.0.ends_with("898"), "{cp:?}");
    // A shorter number is older (sequence numbers compare as numbers).
    w.load_facts(Arc::new(commit("999", false))).await.unwrap();
    assert!(w.checkpoints("courier-cp").await.unwrap()[0].1.0.ends_with("898"));
    // A rewind moves it back, on purpose.
    w.load_facts(Arc::new(commit("999", true))).await.unwrap();
    assert_eq!(w.checkpoints("courier-cp").await.unwrap()[0].1.0, "999");
}

/// Hardening 9: while a drain waits on a warehouse that is away, a second
/// SIGTERM exits at once (130), and nothing acknowledged is lost: the next
/// run reads again from the checkpoints and every order in the stream ends
/// up in factOrders once.
#[test]
fn a_second_signal_exits_at_once_and_the_next_run_loses_nothing() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let (kp, rp) = rs.ports();
    let stream = "courier-signal";
    let config = aws_config(&home, stream, 2, &kinesis, &s3, &rs.redshift_data);
    let mut cmd = Command::new(BIN);
    fake_env(&mut cmd, &home);
    let mut child = cmd
        .arg("--config")
        .arg(&config)
        .args(["--no-tui", "--json", "--rate", "300"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let n = serde_json::from_str::<serde_json::Value>(&l)
                .ok()
                .and_then(|v| v["ingest"]["ingested"].as_u64());
            let _ = tx.send(n.unwrap_or(0));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.recv_timeout(Duration::from_secs(1)).unwrap_or(0) < 300 {
        assert!(Instant::now() < deadline, "ingestion never started");
    }
    drop(rs); // the Data API is gone: the drain can't finish
    std::thread::sleep(Duration::from_secs(1));
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    };
    kill("-TERM");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGTERM drains (and waits for the warehouse)"
    );
    let second = Instant::now();
    kill("-TERM");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            second.elapsed() < Duration::from_secs(5),
            "the second SIGTERM did not exit at once"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let exited_in = second.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    println!("second SIGTERM: exit {status:?} after {exited_in:?}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("second signal"), "{stderr}");
    // The next run, the warehouse back: what was not committed is read again.
    let _rs = Emulate::start_at(kp, rp, &home.join("emulate"), &home, Some(&s3), None);
    let s = summary(&courier(
        &home,
        &config,
        &["--no-tui", "--json", "--paused", "--for", "8s"],
    ));
    assert_eq!(s["drained"], true, "{s}");
    let python = emu.get("EMULATORS_PYTHON").to_string();
    let mut cmd = Command::new(python);
    fake_env(&mut cmd, &home);
    let out = cmd
        .arg(repo().join("scripts/boto3_producer.py"))
        .args(["--endpoint", &kinesis, "read", stream])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    let in_stream = read["distinct_order_ids"].as_u64().unwrap();
    let rows = query_csv(
        &home,
        &config,
        &format!("SELECT COUNT(*), COUNT(DISTINCT OrderID) FROM {SCHEMA}.factOrders"),
    );
    println!("orders in the stream {in_stream}, in factOrders {rows:?}");
    assert!(in_stream > 300);
    assert_eq!(rows, vec![format!("{in_stream},{in_stream}")]);
}

/// Hardening 1: OrderIDs are claimed in the warehouse on the AWS path. A
/// second instance (here: the same stream and warehouse from a fresh data
/// dir, as a new host or container would) used to start again at 1 and the
/// newer-sequence rule then overwrote the first instance's orders.
#[test]
fn a_second_instance_with_a_fresh_data_dir_does_not_reuse_order_ids() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&dir.path().join("emulate"), dir.path(), Some(&s3), None);
    let mut orders = 0;
    for host in ["host-a", "host-b"] {
        let home = dir.path().join(host);
        std::fs::create_dir_all(&home).unwrap();
        let config = aws_config(&home, "courier-ids", 2, &kinesis, &s3, &rs.redshift_data);
        let s = summary(&courier(
            &home,
            &config,
            &["--no-tui", "--json", "--for", "10s", "--rate", "300"],
        ));
        assert_eq!(s["drained"], true, "{s}");
        orders += s["acknowledged_orders"].as_u64().unwrap();
        let rows = query_csv(
            &home,
            &config,
            &format!("SELECT COUNT(*), COUNT(DISTINCT OrderID) FROM {SCHEMA}.factOrders"),
        );
        println!("after {host}: {orders} orders acknowledged in all, factOrders {rows:?}");
        assert_eq!(
            rows,
            vec![format!("{orders},{orders}")],
            "no order overwritten by another's"
        );
    }
    let home = dir.path().join("host-b");
    let config = home.join("courier.toml");
    let claims = query_csv(
        &home,
        &config,
        &format!("SELECT COUNT(*), COUNT(DISTINCT FirstID) FROM {SCHEMA}.courier_order_ids"),
    );
    assert_eq!(claims, vec!["2,2".to_string()], "one claim per instance");
}

/// Hardening 2 on Kinesis (kinesis-local): the stream deleted and made
/// again under the same name. Its old checkpoint used to get
/// InvalidArgumentException on every GetShardIterator, retried for ever;
/// now the shard's origin (its starting sequence number) or that refusal
/// tells courier, which says so and reads the new shard from its start.
#[test]
fn a_kinesis_stream_made_again_is_read_from_its_start() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let stream = "courier-remade";
    let config = aws_config(&home, stream, 1, &kinesis, &s3, &rs.redshift_data);
    let s = summary(&courier(
        &home,
        &config,
        &["--no-tui", "--json", "--for", "12s", "--rate", "200"],
    ));
    let first = s["acknowledged_orders"].as_u64().unwrap();
    assert!(first > 0 && s["drained"] == true, "{s}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = kinesis_client(&kinesis);
        client
            .delete_stream()
            .stream_name(stream)
            .send()
            .await
            .expect("DeleteStream");
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .is_ok()
        {
            assert!(Instant::now() < deadline, "the stream was never deleted");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        client
            .create_stream()
            .stream_name(stream)
            .shard_count(1)
            .send()
            .await
            .expect("CreateStream");
        wait_active(&client, stream).await;
        for id in 800_000_001..=800_000_020i64 {
            client
                .put_record()
                .stream_name(stream)
                .partition_key(id.to_string())
                .data(Blob::new(event(id, "Processing").into_bytes()))
                .send()
                .await
                .expect("PutRecord");
        }
    });
    let out = courier(&home, &config, &["--no-tui", "--json", "--paused", "--for", "12s"]);
    let s = summary(&out);
    let said = text(&out.stderr) + &text(&out.stdout);
    println!("after the stream was made again: {s}");
    assert_eq!(s["ingested"], 20, "{s}");
    assert!(
        said.contains("was deleted and made again") || said.contains("is not of this stream"),
        "{said}"
    );
    let rows = query_csv(
        &home,
        &config,
        &format!("SELECT COUNT(*) FROM {SCHEMA}.factOrders WHERE OrderID BETWEEN 800000001 AND 800000020"),
    );
    assert_eq!(rows, vec!["20".to_string()]);
}

// ---- KPL-aggregated records (issue 19) ----

/// Order `i` of aggregate `a` in `a_kpl_aggregated_stream_lands_every_user_record_once`.
fn kpl_order(a: i64, i: i64) -> i64 {
    7_000_000 + a * 100 + i
}

/// KPL-aggregated records, made by awslabs' aws-kinesis-agg (npm, the
/// version `scripts/emulators.sh` pins), put into kinesis-local: 50
/// aggregates of 20 user records each — 15 new orders, status updates of
/// three of them in the same aggregate (one updated twice), an update of
/// an order of the previous aggregate, and one poison user record — plus a
/// 51st aggregate whose MD5 is damaged. courier de-aggregates them: every
/// user record's order is in factOrders once with its latest status, the
/// poison is dead-lettered with its sub-sequence number, the damaged one
/// is dead-lettered whole as a plain record saying why, and a second run
/// (a restart) changes nothing.
#[test]
fn a_kpl_aggregated_stream_lands_every_user_record_once() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let stream = "courier-kpl";
    let config = aws_config(&home, stream, 2, &kinesis, &s3, &rs.redshift_data);

    let (aggregates, per) = (50i64, 20usize);
    let poison_at = (25i64, 19usize);
    let mut groups: Vec<Vec<(i64, String)>> = Vec::new();
    for a in 0..aggregates {
        let mut g: Vec<(i64, String)> = (0..15)
            .map(|i| (kpl_order(a, i), event(kpl_order(a, i), "Processing")))
            .collect();
        for i in 0..3 {
            g.push((kpl_order(a, i), event(kpl_order(a, i), "On the way")));
        }
        if a == 0 {
            g.push((kpl_order(0, 3), event(kpl_order(0, 3), "Cancelled")));
        } else {
            g.push((kpl_order(a - 1, 0), event(kpl_order(a - 1, 0), "Delivered")));
        }
        if a == poison_at.0 {
            g.push((kpl_order(a, 1), event(kpl_order(a, 1), "Lost")));
        } else {
            g.push((kpl_order(a, 1), event(kpl_order(a, 1), "Delivered")));
        }
        assert_eq!(g.len(), per);
        groups.push(g);
    }
    // The 51st: five more orders, its MD5 to be damaged.
    groups.push(
        (1..=5)
            .map(|i| (7_900_000 + i, event(7_900_000 + i, "Processing")))
            .collect(),
    );
    let input = serde_json::Value::Array(
        groups
            .iter()
            .map(|g| {
                serde_json::Value::Array(
                    g.iter()
                        .map(|(id, data)| serde_json::json!({"partition_key": id.to_string(), "data_base64": b64.encode(data)}))
                        .collect(),
                )
            })
            .collect(),
    );
    let mut agg = Command::new("bash")
        .arg(repo().join("scripts/emulators.sh"))
        .arg("kpl-aggregate")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    {
        use std::io::Write;
        agg.stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
    }
    let out = agg.wait_with_output().unwrap();
    assert!(out.status.success(), "kpl-aggregate: {}", text(&out.stderr));
    let mut records: Vec<Vec<u8>> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            b64.decode(v["data_base64"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(records.len(), groups.len());
    assert!(
        records.iter().all(|r| r.starts_with(&[0xF3, 0x89, 0x9A, 0xC2])),
        "aggregates"
    );
    let damaged = records.last_mut().unwrap();
    *damaged.last_mut().unwrap() ^= 0xff;
    let damaged = damaged.clone();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = kinesis_client(&kinesis);
        client
            .create_stream()
            .stream_name(stream)
            .shard_count(2)
            .send()
            .await
            .expect("CreateStream");
        wait_active(&client, stream).await;
        // One Kinesis partition key for every aggregate, as the KPL routes
        // an aggregate to one shard: an order's events stay in order.
        for data in &records {
            client
                .put_record()
                .stream_name(stream)
                .partition_key("courier-kpl")
                .data(Blob::new(data.clone()))
                .send()
                .await
                .expect("PutRecord");
        }
    });
    let user_records = aggregates as u64 * per as u64;
    let run = |secs: &str| {
        summary(&courier(
            &home,
            &config,
            &["--no-tui", "--json", "--paused", "--for", secs],
        ))
    };
    let s = run("10s");
    assert_eq!(s["ingested"], user_records - 1, "{s}");
    assert_eq!(s["dead_lettered"], 2, "{s}");

    // Every order once, with its latest status.
    let latest = |a: i64, i: i64| -> &'static str {
        match i {
            0 if a + 1 < aggregates => "Delivered",
            0 | 2 => "On the way",
            1 if a == poison_at.0 => "On the way",
            1 => "Delivered",
            3 if a == 0 => "Cancelled",
            _ => "Processing",
        }
    };
    let mut want: Vec<String> = Vec::new();
    for a in 0..aggregates {
        for i in 0..15 {
            want.push(format!("{},{}", kpl_order(a, i), latest(a, i)));
        }
    }
    let facts = format!("SELECT OrderID, OrderStatus FROM {SCHEMA}.factOrders ORDER BY OrderID");
    let rows = query_csv(&home, &config, &facts);
    assert_eq!(rows.len(), want.len());
    assert_eq!(rows, want);
    let summary_sql = format!(
        "SELECT COUNT(*), COUNT(DISTINCT OrderID), SUM(CASE WHEN SequenceNumber LIKE '%:%' THEN 1 ELSE 0 END) \
         FROM {SCHEMA}.factOrders"
    );
    assert_eq!(
        query_csv(&home, &config, &summary_sql),
        vec!["750,750,0".to_string()],
        "parents' numbers"
    );

    // The poison, with its sub-sequence number; the damaged aggregate whole.
    let out = courier(&home, &config, &["dlq", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let letters: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 2, "{letters:?}");
    let poison = letters
        .iter()
        .find(|l| l["sequence_number"].as_str().unwrap().ends_with(":19"))
        .unwrap_or_else(|| panic!("no poison dead letter with sub-sequence 19: {letters:?}"));
    let reason = poison["reason"].as_str().unwrap();
    assert!(
        reason.contains("user record 19 of 20 in aggregated record") && reason.contains("unknown OrderStatus \"Lost\""),
        "{reason}"
    );
    assert_eq!(poison["payload"].as_str().unwrap(), event(kpl_order(25, 1), "Lost"));
    let whole = letters
        .iter()
        .find(|l| l["binary"] == true)
        .expect("the damaged aggregate");
    assert!(!whole["sequence_number"].as_str().unwrap().contains(':'), "{whole}");
    assert_eq!(whole["payload_bytes"], damaged.len() as u64);
    assert!(
        whole["reason"]
            .as_str()
            .unwrap()
            .contains("magic number but is no aggregate: its MD5"),
        "{whole}"
    );

    // A restart: nothing is read again, nothing changes.
    let every_row = format!("SELECT * FROM {SCHEMA}.factOrders ORDER BY OrderID");
    let before = query_csv(&home, &config, &every_row);
    let again = run("5s");
    assert_eq!(
        (again["ingested"].as_u64(), again["dead_lettered"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(
        query_csv(&home, &config, &every_row),
        before,
        "the restart changed no row"
    );
    let dlq = format!("SELECT COUNT(*) FROM {SCHEMA}.courier_dlq");
    assert_eq!(query_csv(&home, &config, &dlq), vec!["2".to_string()]);
    println!(
        "KPL: {} Kinesis records ({} aggregates of {per} user records + 1 damaged), {user_records} user records: \
         {} ingested, {} dead-lettered, {} factOrders rows; restart: {} ingested, {} dead-lettered",
        records.len(),
        aggregates,
        s["ingested"],
        s["dead_lettered"],
        rows.len(),
        again["ingested"],
        again["dead_lettered"]
    );
}

/// A config for instance `name` of several sharing one stream: its own
/// data dir under `dir`, short leases so the test sees takeovers quickly.
fn instance_config(dir: &Path, name: &str, stream: &str, shards: usize, emu: &Emulators, rs: &Emulate) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = aws_config(
        dir,
        stream,
        shards,
        emu.get("KINESIS_ENDPOINT"),
        emu.get("S3_ENDPOINT"),
        &rs.redshift_data,
    );
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "batch_age = \"300ms\"\n",
        &format!("batch_age = \"1s\"\nlease_duration = \"{LEASE_SECS}s\"\ninstance_id = \"{name}\"\n"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

const LEASE_SECS: u64 = 6;

/// Live leases per owner (open shards only), by the warehouse's clock;
/// `None` if the query failed (the emulator may refuse a read that meets
/// a commit: polled again).
fn live_leases(home: &Path, config: &Path, stream: &str) -> Option<BTreeMap<String, usize>> {
    let sql = format!(
        "SELECT Owner, COUNT(*) FROM {SCHEMA}.courier_leases WHERE StreamName = '{stream}' \
         AND Owner IS NOT NULL AND NOT Ended AND ExpiresAt > GETDATE() GROUP BY Owner ORDER BY Owner"
    );
    let out = courier(home, config, &["query", "--format", "csv", &sql]);
    if !out.status.success() {
        eprintln!("lease query failed (polled again): {}", text(&out.stderr).trim());
        return None;
    }
    Some(
        text(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (o, n) = l.split_once(',')?;
                Some((o.to_string(), n.parse().ok()?))
            })
            .collect(),
    )
}

/// Poll `f` every 250 ms until it holds or `limit` passes; how long it took.
fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    t.elapsed()
}

/// Every order in the stream (every record Kinesis acknowledged), with its
/// latest status: shards read from their start in id order (a child after
/// its parents, whose ids are lower), records in sequence order.
async fn stream_truth(client: &aws_sdk_kinesis::Client, stream: &str) -> BTreeMap<i64, String> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let out = req.send().await.expect("ListShards");
        shards.extend(out.shards().iter().map(|s| s.shard_id().to_string()));
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    shards.sort();
    let mut latest = BTreeMap::new();
    for shard in shards {
        let mut it = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(&shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator()
            .map(str::to_string);
        while let Some(i) = it.take() {
            let out = client
                .get_records()
                .shard_iterator(&i)
                .send()
                .await
                .expect("GetRecords");
            for r in out.records() {
                let v: serde_json::Value = serde_json::from_slice(r.data().as_ref()).unwrap();
                latest.insert(
                    v["OrderID"].as_i64().unwrap(),
                    v["OrderStatus"].as_str().unwrap().to_string(),
                );
            }
            let done = out.records().is_empty() && out.millis_behind_latest() == Some(0);
            if !done {
                it = out.next_shard_iterator().map(str::to_string);
            }
        }
    }
    latest
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Three courier instances share one stream of 8 shards on the AWS path
/// (kinesis-local + moto + `courier emulate`): their leases spread (none
/// holds more than ceil(8/3) + 1); one is SIGKILLed mid-ingestion and its
/// shards are taken over once its leases expire (the time printed); the stream is
/// resharded 8 → 16 while they run; another is SIGSTOPped past its lease —
/// its shards are taken, and once resumed its readers stop (their commits
/// are refused by the fence) and it rejoins with leases of its own. A last
/// instance drains what is left. factOrders then holds every order the
/// stream acknowledged exactly once, with its latest status.
#[test]
fn three_instances_share_the_shards_take_over_a_killed_one_and_fence_a_paused_one() {
    let emu = Emulators::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let s3 = emu.get("S3_ENDPOINT").to_string();
    let kinesis = emu.get("KINESIS_ENDPOINT").to_string();
    let rs = Emulate::start(&home.join("emulate"), &home, Some(&s3), None);
    let stream = "courier-scale";
    let configs: Vec<PathBuf> = (0..4)
        .map(|i| instance_config(&home.join(format!("i{i}")), &format!("inst-{i}"), stream, 8, &emu, &rs))
        .collect();
    let query = instance_config(&home.join("q"), "inst-q", stream, 8, &emu, &rs);
    let start = |i: usize| {
        let mut cmd = Command::new(BIN);
        fake_env(&mut cmd, &home);
        cmd.arg("--config")
            .arg(&configs[i])
            .args(["--no-tui", "--json", "--for", "600s", "--rate", "60"])
            .stdout(std::fs::File::create(home.join(format!("i{i}.out"))).unwrap())
            .stderr(std::fs::File::create(home.join(format!("i{i}.err"))).unwrap())
            .spawn()
            .unwrap()
    };
    let mut a = start(0);
    std::thread::sleep(Duration::from_secs(2));
    let mut b = start(1);
    let mut c = start(2);
    let owners = || live_leases(&home, &query, stream).unwrap_or_default();

    // Spread: each of the three holds some, none more than ceil(8/3) + 1.
    let spread = wait_for(Duration::from_secs(120), "leases spread over three instances", || {
        let o = owners();
        o.len() == 3 && o.values().sum::<usize>() == 8 && o.values().all(|&n| n <= 4)
    });
    println!(
        "leases spread over 3 instances in {:.1} s: {:?}",
        spread.as_secs_f64(),
        owners()
    );

    // SIGKILL inst-2 mid-ingestion: its shards go to the others.
    let held = owners().get("inst-2").copied().unwrap_or(0);
    signal(&c, "KILL");
    let _ = c.wait();
    let takeover = wait_for(
        Duration::from_secs(LEASE_SECS + 15),
        "the killed instance's shards taken over",
        || {
            let o = owners();
            !o.contains_key("inst-2") && o.values().sum::<usize>() == 8
        },
    );
    println!(
        "takeover of {held} shards after SIGKILL: {:.1} s (lease {LEASE_SECS} s)",
        takeover.as_secs_f64()
    );
    assert!(
        takeover <= Duration::from_secs(LEASE_SECS + 5),
        "takeover took {takeover:?}"
    );

    // A reshard while two instances run.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = kinesis_client(&kinesis);
    rt.block_on(async {
        wait_active(&client, stream).await;
        client
            .update_shard_count()
            .stream_name(stream)
            .target_shard_count(16)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .expect("UpdateShardCount");
        wait_active(&client, stream).await;
    });

    // SIGSTOP inst-1 past its lease: inst-0 takes everything.
    wait_for(
        Duration::from_secs(60),
        "the children spread over both instances",
        || {
            let o = owners();
            o.len() == 2 && o.values().sum::<usize>() == 16
        },
    );
    signal(&b, "STOP");
    let paused = wait_for(
        Duration::from_secs(LEASE_SECS + 15),
        "inst-0 takes the paused instance's shards",
        || {
            let o = owners();
            o.len() == 1 && o.get("inst-0") == Some(&16)
        },
    );
    println!("paused instance's shards taken in {:.1} s", paused.as_secs_f64());
    std::thread::sleep(Duration::from_secs(2));
    signal(&b, "CONT");
    // Resumed, it stops its readers and rejoins: balanced again.
    let rejoin = wait_for(Duration::from_secs(120), "the resumed instance rejoins", || {
        let o = owners();
        o.len() == 2 && o.values().sum::<usize>() == 16 && o.values().all(|&n| n <= 9)
    });
    println!(
        "resumed instance rejoined in {:.1} s: {:?}",
        rejoin.as_secs_f64(),
        owners()
    );

    for child in [&mut a, &mut b] {
        signal(child, "TERM");
        assert!(child.wait().unwrap().success());
    }
    // inst-1's readers were stopped when it found its leases gone.
    let lines = std::fs::read_to_string(home.join("i1.out")).unwrap();
    let lost = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["leases"]["lost"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(lost >= 1, "the paused instance saw no lease lost:\n{lines}");
    // A last instance drains what the others left (their shards released, the
    // killed one's expired).
    let out = courier(&home, &configs[3], &["--no-tui", "--json", "--for", "15s", "--paused"]);
    summary(&out);

    let truth = rt.block_on(stream_truth(&client, stream));
    let rows = query_csv(
        &home,
        &query,
        &format!("SELECT OrderID, OrderStatus FROM {SCHEMA}.factOrders ORDER BY OrderID"),
    );
    let loaded: BTreeMap<i64, String> = rows
        .iter()
        .filter_map(|l| {
            let (id, st) = l.split_once(',')?;
            Some((id.parse().ok()?, st.to_string()))
        })
        .collect();
    assert!(truth.len() > 500, "only {} orders in the stream", truth.len());
    assert_eq!(rows.len(), loaded.len(), "an OrderID is in factOrders twice");
    let missing: Vec<_> = truth.keys().filter(|k| !loaded.contains_key(k)).take(5).collect();
    let wrong: Vec<_> = truth
        .iter()
        .filter(|(k, v)| loaded.get(k).is_some_and(|l| l != *v))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && wrong.is_empty(),
        "missing {missing:?}, stale status {wrong:?}"
    );
    assert_eq!(
        loaded.len(),
        truth.len(),
        "factOrders holds orders the stream never had"
    );
    let takeovers = query_csv(
        &home,
        &query,
        &format!("SELECT SUM(Takeovers) FROM {SCHEMA}.courier_leases WHERE StreamName = '{stream}'"),
    );
    println!(
        "{} orders, each once with its latest status; takeovers recorded: {}",
        truth.len(),
        takeovers[0]
    );
}
