//! The real `courier` binary, as an operator or a script runs it.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_courier");

fn courier(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .output()
        .expect("courier runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn headless_json_run_then_query_agrees_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = courier(dir.path(), &["--no-tui", "--json", "--for", "6s", "--rate", "500"]);
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(lines.len() >= 4, "a status line a second, then the summary:\n{stdout}");
    let status = &lines[lines.len() - 2];
    assert!(status["shards"].as_array().unwrap().len() == 4, "{status}");
    assert!(
        status["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"]["state"] == "loaded"),
        "{status}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["summary"], true);
    for key in ["generated", "acknowledged", "ingested", "dead_lettered"] {
        assert!(summary[key].is_u64(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["ingested"], summary["acknowledged"]);
    assert!(summary["acknowledged"].as_u64().unwrap() > 500);
    let orders = summary["acknowledged_orders"].as_u64().unwrap();

    let q = courier(
        dir.path(),
        &[
            "query",
            "--format",
            "csv",
            "SELECT COUNT(*), COUNT(DISTINCT OrderID) FROM food_delivery_datamart.factOrders",
        ],
    );
    assert!(q.status.success(), "{}", text(&q.stderr));
    assert_eq!(text(&q.stdout).lines().nth(1).unwrap(), format!("{orders},{orders}"));
    let q = courier(
        dir.path(),
        &[
            "query",
            "SELECT 'dimCustomers' AS t, COUNT(*) AS n FROM food_delivery_datamart.dimCustomers",
        ],
    );
    let table = text(&q.stdout);
    assert!(
        table.contains("dimCustomers |") && table.contains("200") && table.contains("(1 row)"),
        "{table}"
    );
}

#[test]
fn sql_errors_are_clear_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = courier(dir.path(), &["query", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no warehouse at"), "{}", text(&out.stderr));
    let ok = courier(dir.path(), &["--no-tui", "--for", "1s", "--paused"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let out = courier(dir.path(), &["query", "SELEC 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("query failed") && err.contains("syntax error"), "{err}");
    let out = courier(
        dir.path(),
        &["query", "SELECT nope FROM food_delivery_datamart.factOrders"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}

#[test]
fn a_bad_config_names_file_and_key_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    for (body, want) in [
        ("[generator]\nrate = \"fast\"\n", "rate"),
        ("[stream]\nshards = 0\n", "key stream.shards"),
        ("[warehouse]\nschema = \"a;drop\"\n", "key warehouse.schema"),
        ("[nope]\n", "unknown field `nope`"),
    ] {
        std::fs::write(&cfg, body).unwrap();
        let out = courier(
            dir.path(),
            &["--config", cfg.to_str().unwrap(), "--no-tui", "--for", "1s"],
        );
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("config file {}", cfg.display())) && err.contains(want),
            "{err}"
        );
    }
    let missing = dir.path().join("missing.toml");
    let out = courier(dir.path(), &["--config", missing.to_str().unwrap(), "--no-tui"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
}

#[test]
fn sigterm_stops_gracefully_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args([
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--no-tui",
                "--json",
                "--rate",
                "800",
            ])
            .args(extra)
            .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let child = run(&[]);
    std::thread::sleep(Duration::from_secs(5));
    let sent = Instant::now();
    send_signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    let stopped_in = sent.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["drained"], true);
    assert_eq!(summary["ingested"], summary["acknowledged"]);
    eprintln!("SIGTERM to exit: {stopped_in:?}");
    let first = summary["acknowledged_orders"].as_u64().unwrap();

    let out = run(&["--for", "3s"]).wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    let second = summary["acknowledged_orders"].as_u64().unwrap();
    assert_eq!(
        summary["fact_rows"].as_u64().unwrap(),
        first + second,
        "no gap, no duplicate: {summary}"
    );
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn no_credential_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("AWS_ACCESS_KEY_ID", "AKIAFAKECOURIERTEST1"),
        ("AWS_SECRET_ACCESS_KEY", "fakeSecretCourierTest/0123456789abcdefXYZ"),
        ("AWS_SESSION_TOKEN", "FakeSessionTokenCourierTestValue0987654321"),
    ];
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--no-tui",
        "--json",
        "--for",
        "3s",
        "--log",
        "debug",
    ])
    .env("XDG_CONFIG_HOME", dir.path().join("cfg"));
    for (k, v) in secrets {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for (k, v) in secrets {
        assert!(!all.contains(v), "{k}'s value leaked into the output");
    }
    let q = courier(dir.path(), &["query", "SELECT 1"]);
    assert!(q.status.success());
}

#[test]
fn an_unreadable_config_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where a file should be: unreadable as a config whoever runs the test.
    let out = courier(dir.path(), &["--config", dir.path().to_str().unwrap(), "--no-tui"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn bench_quick_prints_every_figure() {
    let out = Command::new(BIN).args(["bench", "--quick"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for figure in [
        "generator → embedded stream",
        "Kinesis-protocol generator",
        "capacity achieved",
        "embedded ingest exactly-once",
        "freshness at 10,000 events/s",
        "peak RSS of `courier --no-tui`",
        "CPU of the open console",
        "dimension COPY",
        "console frame",
        "snapshot round trip over the control socket",
        "`courier attach` to its first frame",
        "CPU of an attached console",
    ] {
        assert!(table.contains(figure), "{figure} missing:\n{table}");
    }
    assert!(!table.contains("error:"), "a measurement failed:\n{table}");
    println!("{table}");
}
