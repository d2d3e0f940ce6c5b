//! One running pipeline, many faces: the real binary as a service
//! (`--no-tui`), and consoles, `query`, `status`, `stop`, the metrics and
//! Kinesis endpoints and bad socket clients against it, as an operator (or
//! a careless script) would use them.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;
use crate::common::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_courier");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn courier(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .output()
        .expect("courier runs")
}

/// `courier --no-tui` on `dir` in the background, its output in files.
struct Service {
    child: Child,
    dir: PathBuf,
}

impl Service {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let out = std::fs::File::create(dir.join("service.out")).unwrap();
        let err = std::fs::File::create(dir.join("service.err")).unwrap();
        let child = Command::new(BIN)
            .args(["--data-dir", dir.to_str().unwrap(), "--no-tui"])
            .args(args)
            .env("XDG_CONFIG_HOME", dir.join("no-config"))
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("courier starts");
        let s = Service {
            child,
            dir: dir.to_path_buf(),
        };
        s.wait_for("the service to answer on its socket", |st| st["running"] == true);
        s
    }

    fn status(&self) -> serde_json::Value {
        let out = courier(&self.dir, &["status", "--json"]);
        serde_json::from_str(text(&out.stdout).trim()).unwrap_or(serde_json::Value::Null)
    }

    fn wait_for(&self, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let st = self.status();
            if f(&st) {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status {st}\nservice stderr: {}",
                std::fs::read_to_string(self.dir.join("service.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// `courier stop`; the service's exit status and its summary line.
    fn stop(mut self) -> (Output, std::process::ExitStatus, String) {
        let out = courier(&self.dir, &["stop"]);
        let status = self.child.wait().unwrap();
        let stdout = std::fs::read_to_string(self.dir.join("service.out")).unwrap();
        (out, status, stdout)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn summary_field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} missing in {line}"))
}

fn count(dir: &Path, sql: &str) -> Vec<String> {
    let out = courier(dir, &["query", "--format", "csv", sql]);
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout).lines().skip(1).map(str::to_string).collect()
}

const FACTS: &str = "SELECT COUNT(*), COUNT(DISTINCT OrderID) FROM food_delivery_datamart.factOrders";

#[test]
fn consoles_attach_detach_and_stop_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut service = Service::start(dir.path(), &["--rate", "300"]);
    // A second engine on the same data dir is refused, and told how to attach.
    let second = courier(dir.path(), &["--no-tui", "--for", "2s"]);
    assert_eq!(second.status.code(), Some(2));
    let err = text(&second.stderr);
    assert!(
        err.contains("already running") && err.contains("courier attach"),
        "{err}"
    );

    let a = Tmux::shell("attach-a", 160, 45);
    let console = format!("XDG_CONFIG_HOME={d}/no-config {BIN} --data-dir {d}; echo EXIT=$?");
    a.keys(&[&console, "Enter"]);
    a.wait_for("the attached console with live panes", |s| {
        s.contains("RUNNING") && s.contains("Shard lag (4)") && s.matches(" loaded ").count() >= 3
    });
    a.keys(&["p"]);
    a.wait_for("the service paused", |s| s.contains("PAUSED"));
    let st = service.wait_for("status to show the pause", |st| st["generator"]["state"] == "paused");
    assert_eq!(st["read_only"], false, "{st}");
    a.keys(&["p"]);
    a.wait_for("the service running again", |s| s.contains("RUNNING"));
    // `q` detaches: the console leaves, the service goes on ingesting.
    a.keys(&["q"]);
    let s = a.wait_for("the detach", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(
        s.contains("detached; the service keeps running") && s.contains("EXIT=0"),
        "{s}"
    );
    assert!(!s.contains("Shard lag"), "the console's screen is gone:\n{s}");
    let before = service.status()["ingest"]["ingested"].as_u64().unwrap();
    service.wait_for("ingestion to go on after the detach", |st| {
        st["ingest"]["ingested"].as_u64().unwrap_or(0) > before
    });
    assert!(service.alive());

    // Reattach, with a read-only console beside it.
    a.keys(&[&console, "Enter"]);
    a.wait_for("the reattached console", |s| {
        s.contains("RUNNING") && s.contains("Shard lag (4)")
    });
    let b = Tmux::shell("attach-b", 160, 45);
    b.keys(&[
        &format!("XDG_CONFIG_HOME={d}/no-config {BIN} attach --read-only --data-dir {d}; echo EXIT=$?"),
        "Enter",
    ]);
    b.wait_for("the read-only console", |s| {
        s.contains("READ-ONLY") && s.contains("RUNNING")
    });
    b.keys(&["p"]);
    b.wait_for("the refusal", |s| s.contains("read-only: pause refused"));
    assert_eq!(service.status()["generator"]["state"], "running");
    b.keys(&["S"]);
    b.wait_for("stop refused too", |s| s.contains("read-only: stop_service refused"));
    // The stop key asks first; anything but `y` keeps the service.
    a.keys(&["S"]);
    a.wait_for("the confirmation", |s| s.contains("Stop the pipeline service?"));
    a.keys(&["n"]);
    a.wait_for("the cancel", |s| s.contains("stop cancelled"));
    assert!(service.alive());

    // `courier stop` drains; both consoles are told and exit cleanly.
    let (out, status, stdout) = service.stop();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(status.success(), "the service exits 0");
    let summary = stdout.lines().find(|l| l.starts_with("summary:")).expect("a summary");
    assert!(summary.contains("drained=true"), "{summary}");
    assert_eq!(
        text(&out.stdout).trim(),
        summary,
        "`courier stop` prints the service's summary"
    );
    for t in [&a, &b] {
        let s = t.wait_for("the console to close", |s| {
            s.matches("EXIT=").count() >= 1 && s.trim_end().ends_with("READY$")
        });
        assert!(s.contains("the service stopped; this console closed"), "{s}");
        assert!(!s.contains("Shard lag"), "the terminal is restored:\n{s}");
    }
    assert_eq!(
        summary_field(summary, "ingested"),
        summary_field(summary, "acknowledged")
    );
    let orders = summary_field(summary, "acknowledged_orders");
    assert!(orders > 100, "{summary}");
    assert_eq!(count(dir.path(), FACTS), vec![format!("{orders},{orders}")]);
    assert!(!dir.path().join("courier.sock").exists(), "the socket is removed");
}

#[test]
fn query_and_status_go_through_the_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &["--rate", "500"]);
    service.wait_for("ingestion to start", |st| {
        st["ingest"]["ingested"].as_u64().unwrap_or(0) > 0
    });
    let first: u64 = count(dir.path(), FACTS)[0].split(',').next().unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let second: u64 = count(dir.path(), FACTS)[0].split(',').next().unwrap().parse().unwrap();
    assert!(
        second > first,
        "COUNT(*) grows while the service runs: {first} then {second}"
    );
    let st = service.status();
    assert_eq!(st["running"], true);
    assert_eq!(st["shards"].as_array().unwrap().len(), 4, "{st}");
    assert!(st["pid"].as_u64().is_some() && st["socket"].as_str().unwrap().ends_with("courier.sock"));
    // emulate opens the data dir's streams: refused beside a live engine.
    let emulate = courier(
        dir.path(),
        &["emulate", "--kinesis", "127.0.0.1:0", "--redshift-data", "127.0.0.1:0"],
    );
    assert_eq!(emulate.status.code(), Some(2));
    assert!(
        text(&emulate.stderr).contains("an engine is running"),
        "{}",
        text(&emulate.stderr)
    );
    let text_status = courier(dir.path(), &["status"]);
    assert!(
        text(&text_status.stdout).contains("courier: running on"),
        "{}",
        text(&text_status.stdout)
    );

    // Read-only unless --write; SQL errors as without a service.
    let write = courier(dir.path(), &["query", "CREATE TABLE scratch (x INT)"]);
    assert_eq!(write.status.code(), Some(1));
    assert!(text(&write.stderr).contains("pass --write"), "{}", text(&write.stderr));
    let ok = courier(dir.path(), &["query", "--write", "CREATE TABLE scratch (x INT)"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let bad = courier(dir.path(), &["query", "SELEC 1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("query failed") && text(&bad.stderr).contains("syntax error"));
    let dims = "SELECT COUNT(*) AS n, MIN(CustomerID) AS lo FROM food_delivery_datamart.dimCustomers";
    let formats = ["table", "csv", "json"];
    let live: Vec<String> = formats
        .iter()
        .map(|f| text(&courier(dir.path(), &["query", "--format", f, dims]).stdout))
        .collect();
    let (out, status, _) = service.stop();
    assert!(out.status.success() && status.success());
    let after = courier(dir.path(), &["status", "--json"]);
    assert_eq!(after.status.code(), Some(3), "status says it is not running");
    let v: serde_json::Value = serde_json::from_str(text(&after.stdout).trim()).unwrap();
    assert_eq!(v["running"], false);
    let direct: Vec<String> = formats
        .iter()
        .map(|f| text(&courier(dir.path(), &["query", "--format", f, dims]).stdout))
        .collect();
    assert_eq!(live, direct, "the same answer with or without a service");
    assert_eq!(courier(dir.path(), &["stop"]).status.code(), Some(3));
}

/// A raw client: send `lines`, read what comes back until the service closes.
fn raw(socket: &Path, lines: &[u8], half_close: bool) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The service may close mid-write (an oversized line): what it said is still read.
    let _ = s.write_all(lines);
    if half_close {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut out = String::new();
    let _ = BufReader::new(s).read_to_string(&mut out);
    out
}

#[test]
fn bad_socket_clients_get_clear_errors_and_the_service_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    // A stale socket from a crashed run is replaced.
    let sock = dir.path().join("courier.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut service = Service::start(dir.path(), &["--rate", "200"]);
    let mode = std::fs::metadata(&sock).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let garbage = raw(&sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    assert!(garbage.contains("not a courier control client"), "{garbage}");
    let other = raw(
        &sock,
        b"{\"hello\":{\"courier_protocol\":99,\"role\":\"console\"}}\n",
        false,
    );
    assert!(other.contains("control protocol 99 is not spoken here"), "{other}");
    let binary = raw(&sock, &[0xff, 0xfe, 0x00, b'\n'], false);
    assert!(binary.contains("not a courier control client"), "{binary}");
    let long = raw(&sock, &vec![b'x'; 2 << 20], false);
    assert!(long.contains("longer than"), "{long}");
    // Half-closed after a hello and one request: the answer still comes.
    let half = raw(
        &sock,
        b"{\"hello\":{\"courier_protocol\":1,\"role\":\"status\"}}\n\"snapshot\"\n",
        true,
    );
    let replies: Vec<&str> = half.lines().collect();
    assert!(
        replies.len() == 2 && replies[0].contains("welcome") && replies[1].contains("\"snapshot\""),
        "{half}"
    );
    let bad_request = raw(
        &sock,
        b"{\"hello\":{\"courier_protocol\":1,\"role\":\"status\"}}\n{\"drop\":1}\n",
        false,
    );
    assert!(bad_request.contains("bad request"), "{bad_request}");
    // One that connects and says nothing is dropped after a while; meanwhile others are served.
    let mut silent = UnixStream::connect(&sock).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(service.status()["running"] == true);
    let mut line = String::new();
    let _ = BufReader::new(&mut silent).read_line(&mut line);
    assert!(line.contains("no hello within"), "{line}");
    assert!(service.alive());

    // A path too long for a Unix socket: a clear error, exit 2.
    let long_dir = dir.path().join("d".repeat(110));
    let out = Command::new(BIN)
        .args(["--data-dir", long_dir.to_str().unwrap(), "--no-tui", "--for", "1s"])
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a Unix socket path may have at most 107"),
        "{}",
        text(&out.stderr)
    );

    // A socket owned by someone else is not talked to (needs root to set up).
    if unsafe_is_root() {
        let chown = |uid: &str| {
            Command::new("chown")
                .args([uid, sock.to_str().unwrap()])
                .status()
                .unwrap()
        };
        assert!(chown("65534").success());
        let out = courier(dir.path(), &["status"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("belongs to uid 65534"),
            "{}",
            text(&out.stderr)
        );
        assert!(chown("0").success());
    } else {
        println!("not root: the foreign-owner case is skipped");
    }
    assert_eq!(
        service.status()["running"],
        true,
        "the service kept running through all of it"
    );
    let (out, status, _) = service.stop();
    assert!(out.status.success() && status.success());
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

fn python() -> Command {
    let mut c = Command::new("bash");
    c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/emulators.sh"))
        .arg("python");
    c
}

#[test]
fn boto3_put_record_into_the_running_pipeline_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let service = Service::start(dir.path(), &["--paused", "--kinesis-endpoint", &addr]);
    let out = python()
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/boto3_producer.py"))
        .args([
            "--endpoint",
            &format!("http://{addr}"),
            "--stream",
            "incoming-food-order-data",
        ])
        .args(["--count", "300", "--first-order-id", "900000001"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "producer: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    service.wait_for("the 300 records ingested", |st| st["ingest"]["ingested"] == 300);
    let (stop, status, stdout) = service.stop();
    assert!(stop.status.success() && status.success(), "{stdout}");
    let rows = count(
        dir.path(),
        "SELECT COUNT(*), COUNT(DISTINCT OrderID), MIN(OrderID), MAX(OrderID) FROM food_delivery_datamart.factOrders \
         WHERE OrderID BETWEEN 900000001 AND 900000300",
    );
    assert_eq!(rows, vec!["300,300,900000001,900000300".to_string()]);
    // The engine's stream and emulate's share one layout in the data dir.
    assert!(dir.path().join("streams/incoming-food-order-data/shards").exists());
}

/// GET `path` from `addr`: (status code, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (code, body)
}

fn parse_metrics(body: &str) -> serde_json::Value {
    let mut child = python()
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/prom_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused it: {}\n{body}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn metrics_are_prometheus_text_and_healthz_answers() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let service = Service::start(dir.path(), &["--rate", "400", "--metrics", &addr]);
    service.wait_for("some ingestion", |st| {
        st["ingest"]["ingested"].as_u64().unwrap_or(0) > 200
    });
    let (code, body) = http_get(&addr, "/metrics");
    assert_eq!(code, 200);
    let m = parse_metrics(&body);
    let samples = |name: &str| m[name]["samples"].as_array().cloned().unwrap_or_default();
    assert_eq!(m["courier_shard_millis_behind_latest"]["type"], "gauge");
    assert_eq!(samples("courier_shard_records_behind").len(), 4, "one per shard");
    assert_eq!(m["courier_ingested_events"]["type"], "counter");
    assert!(samples("courier_ingested_events")[0][2].as_f64().unwrap() > 200.0);
    assert_eq!(samples("courier_generator_target_rate")[0][2], 400.0);
    let fresh = samples("courier_freshness_seconds");
    assert_eq!(m["courier_freshness_seconds"]["type"], "histogram");
    let buckets: Vec<&serde_json::Value> = fresh
        .iter()
        .filter(|s| s[0] == "courier_freshness_seconds_bucket")
        .collect();
    assert!(
        buckets.iter().any(|b| b[1]["le"] == "+Inf") && buckets.len() >= 10,
        "{fresh:?}"
    );
    let count = fresh
        .iter()
        .find(|s| s[0] == "courier_freshness_seconds_count")
        .unwrap()[2]
        .as_f64()
        .unwrap();
    let inf = buckets.iter().find(|b| b[1]["le"] == "+Inf").unwrap()[2]
        .as_f64()
        .unwrap();
    assert!(count > 0.0 && count == inf, "_count equals the +Inf bucket");
    assert!(fresh.iter().any(|s| s[0] == "courier_freshness_seconds_sum"));
    assert_eq!(samples("courier_dimension_loaded").len(), 3);
    assert!(
        samples("courier_dimension_last_load_timestamp_seconds")[0][2]
            .as_f64()
            .unwrap()
            > 1.7e9
    );
    assert_eq!(samples("courier_warehouse_retrying")[0][2], 0.0);
    for family in [
        "courier_dead_lettered_events",
        "courier_throttled_puts",
        "courier_failed_puts",
        "courier_generator_acked_rate",
    ] {
        assert!(!samples(family).is_empty(), "{family} missing");
    }
    let (code, body) = http_get(&addr, "/healthz");
    assert_eq!((code, body.trim()), (200, "ok"));
    // Not served on other paths; not bound beyond loopback unless told.
    assert_eq!(http_get(&addr, "/nope").0, 404);
    let remote = courier(dir.path(), &["--no-tui", "--for", "1s", "--metrics", "0.0.0.0:0"]);
    assert_eq!(remote.status.code(), Some(2));
    assert!(
        text(&remote.stderr).contains("not a loopback address"),
        "{}",
        text(&remote.stderr)
    );
    let (out, status, _) = service.stop();
    assert!(out.status.success() && status.success());
}

#[test]
fn a_console_whose_service_dies_says_so_and_a_new_service_takes_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut service = Service::start(dir.path(), &["--rate", "200"]);
    let t = Tmux::shell("killed", 160, 45);
    t.keys(&[
        &format!("XDG_CONFIG_HOME={d}/no-config {BIN} attach --data-dir {d}; echo EXIT=$?"),
        "Enter",
    ]);
    t.wait_for("the attached console", |s| {
        s.contains("RUNNING") && s.contains("Shard lag (4)")
    });
    service.child.kill().unwrap();
    let _ = service.child.wait();
    let s = t.wait_for("the console to notice", |s| {
        s.contains("EXIT=") && s.trim_end().ends_with("READY$")
    });
    assert!(s.contains("lost the service") && s.contains("EXIT=1"), "{s}");
    assert!(!s.contains("Shard lag"), "the terminal is restored:\n{s}");
    // The dead service left its socket behind: the next one replaces it.
    assert!(dir.path().join("courier.sock").exists());
    let again = Service::start(dir.path(), &["--paused"]);
    let (out, status, stdout) = again.stop();
    assert!(out.status.success() && status.success(), "{stdout}");
    assert!(stdout.contains("drained=true"), "{stdout}");
}

#[test]
fn a_service_for_watchers_only_refuses_changes_tells_systemd_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // systemd's notify socket, played by a datagram socket of ours.
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let out = std::fs::File::create(dir.path().join("service.out")).unwrap();
    let err = std::fs::File::create(dir.path().join("service.err")).unwrap();
    let child = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "--no-tui", "--rate", "200"])
        .arg("--attach-read-only")
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .env("NOTIFY_SOCKET", &notify_path)
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    let mut service = Service {
        child,
        dir: dir.path().to_path_buf(),
    };
    service.wait_for("ingestion", |st| st["ingest"]["ingested"].as_u64().unwrap_or(0) > 0);
    let sock = dir.path().join("courier.sock");
    let hello = raw(
        &sock,
        b"{\"hello\":{\"courier_protocol\":1,\"role\":\"console\",\"read_only\":false}}\n{\"command\":\"pause_generator\"}\n",
        true,
    );
    let replies: Vec<serde_json::Value> = hello.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(replies[0]["welcome"]["read_only"], true, "{hello}");
    assert!(
        replies[1]["refused"]["message"].as_str().unwrap().contains("read-only"),
        "{hello}"
    );
    let stop = courier(dir.path(), &["stop"]);
    assert_eq!(stop.status.code(), Some(1));
    assert!(text(&stop.stderr).contains("stop refused"), "{}", text(&stop.stderr));
    let write = courier(dir.path(), &["query", "--write", "CREATE TABLE t (x INT)"]);
    assert_eq!(write.status.code(), Some(1));
    assert!(text(&write.stderr).contains("read-only"), "{}", text(&write.stderr));
    assert_eq!(service.status()["generator"]["state"], "running");
    // SIGTERM (systemctl stop) drains as before.
    assert!(
        Command::new("kill")
            .args(["-TERM", &service.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    let status = service.child.wait().unwrap();
    assert!(status.success());
    let stdout = std::fs::read_to_string(dir.path().join("service.out")).unwrap();
    let summary = stdout.lines().find(|l| l.starts_with("summary:")).unwrap();
    assert!(summary.contains("drained=true"), "{summary}");
    assert_eq!(
        summary_field(summary, "ingested"),
        summary_field(summary, "acknowledged")
    );
    assert!(!sock.exists(), "the socket is removed on a clean stop");
}

#[test]
fn operator_commands_tail_trace_dlq_and_rewind_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let service = Service::start(dir.path(), &["--paused", "--kinesis-endpoint", &addr]);
    // An outside producer; every 50th event stamped with time.time_ns().
    let out = python()
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/boto3_producer.py"))
        .args([
            "--endpoint",
            &format!("http://{addr}"),
            "--stream",
            "incoming-food-order-data",
        ])
        .args([
            "--count",
            "200",
            "--first-order-id",
            "700000001",
            "--nanos-every",
            "50",
            "--seed",
            "7",
        ])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", dir.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-aws-credentials"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "producer: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let st = service.wait_for("all 200 handled", |st| {
        st["ingest"]["ingested"].as_u64().unwrap_or(0) + st["ingest"]["dead_lettered"].as_u64().unwrap_or(0) >= 200
    });
    assert_eq!(st["ingest"]["dead_lettered"], 4, "{st}");
    let d = dir.path();

    // tail: the producer's record, decoded, found by a field.
    let out = courier(
        d,
        &[
            "tail",
            "--json",
            "--filter",
            "OrderID=700000007",
            "--from",
            "trim_horizon",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["json"]["OrderID"], 700000007);
    assert!(lines[0]["sequence_number"].is_string() && lines[0]["bytes"].as_u64().unwrap() > 100);
    let out = courier(d, &["tail", "-n", "3"]);
    let shown = text(&out.stdout);
    assert_eq!(shown.matches("  seq ").count(), 3, "{shown}");
    assert!(shown.contains("\"OrderID\": 7000002"), "the newest records: {shown}");

    // trace: its shard, its event, its row.
    let out = courier(d, &["trace", "700000007"]);
    let t = text(&out.stdout);
    assert!(out.status.success(), "{t}{}", text(&out.stderr));
    assert!(
        t.contains("order 700000007 → shardId-") && t.contains("events in the stream: 1"),
        "{t}"
    );
    assert!(t.contains("orderid         700000007"), "{t}");
    let out = courier(d, &["trace", "123456789012"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("order 123456789012 is not in the stream, factOrders or the dead letters"));
    let out = courier(d, &["trace", "seven"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"seven\" is not an OrderID"));

    // dlq: the four poisoned events, whole, with why.
    let out = courier(d, &["dlq", "list", "--json"]);
    let letters: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 4, "{letters:?}");
    assert!(
        letters
            .iter()
            .all(|l| l["reason"].as_str().unwrap().contains("EmittedAt"))
    );
    let seq = letters[0]["sequence_number"].as_str().unwrap().to_string();
    let shard = letters[0]["shard_id"].as_str().unwrap().to_string();
    let out = courier(d, &["dlq", "show", &seq, "--shard", &shard]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("\"EmittedAt\": 17") && shown.contains("attempts     1"),
        "{shown}"
    );
    let out = courier(d, &["--read-only", "dlq", "redrive", "--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("read-only"), "{}", text(&out.stderr));
    // Redriven with the parser unchanged: they fail again, nothing loads.
    let out = courier(d, &["dlq", "redrive", "--reason", "emittedat"]);
    assert!(
        text(&out.stdout).contains("4 tried, 0 loaded into factOrders (marked redriven), 4 failed again"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(count(d, FACTS), vec!["196,196".to_string()]);

    // rewind: bad input refused, nothing moved; then a replay that changes nothing.
    for (args, want) in [
        (vec!["rewind", "--shard", "9", "--to", "latest"], "no shard \"9\""),
        (
            vec!["rewind", "--all", "--to", "2999-01-01T00:00:00Z"],
            "is in the future",
        ),
        (vec!["rewind", "--all", "--to", "whenever"], "not a position"),
        (
            vec!["--read-only", "rewind", "--all", "--to", "trim_horizon"],
            "read-only",
        ),
    ] {
        let out = courier(d, &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    }
    let before = count(
        d,
        "SELECT OrderID, OrderStatus, SequenceNumber, IngestTime FROM food_delivery_datamart.factOrders ORDER BY 1",
    );
    let out = courier(d, &["rewind", "--all", "--to", "trim_horizon"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rewinding every shard to trim horizon"));
    service.wait_for("the replay", |st| st["ingest"]["ingested"].as_u64().unwrap_or(0) >= 392);
    let after = count(
        d,
        "SELECT OrderID, OrderStatus, SequenceNumber, IngestTime FROM food_delivery_datamart.factOrders ORDER BY 1",
    );
    assert_eq!(after, before, "the replay changed no row");
    let (stop, status, stdout) = service.stop();
    assert!(stop.status.success() && status.success(), "{stdout}");
    // No engine: the same commands read the data dir directly.
    let out = courier(d, &["dlq", "list"]);
    assert!(text(&out.stdout).contains("EmittedAt"), "{}", text(&out.stdout));
    let out = courier(d, &["rewind", "--all", "--to", "latest"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no engine runs"));
}
