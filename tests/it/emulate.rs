//! `courier emulate` over the wire, with the real AWS SDK clients: the
//! Redshift Data API's statement life cycle, transactions, typed and paged
//! results, limits and COPY; the Kinesis API's stream management; loopback
//! binding.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

use crate::common::free_port;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_redshiftdata::types::{Field, StatusString};

const BIN: &str = env!("CARGO_BIN_EXE_courier");

struct Emulate {
    child: Child,
    kinesis: String,
    redshift_data: String,
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Emulate {
    start_with(dir, &[])
}

fn start_with(dir: &Path, env: &[(&str, &str)]) -> Emulate {
    let (k, r) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .envs(env.iter().copied())
        .args(["emulate", "--data-dir"])
        .arg(dir)
        .args(["--kinesis", &format!("127.0.0.1:{k}")])
        .args(["--redshift-data", &format!("127.0.0.1:{r}")])
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("Redshift Data API on"));
    assert!(ready, "courier emulate did not come up");
    std::thread::spawn(move || lines.for_each(drop));
    Emulate {
        child,
        kinesis: format!("http://127.0.0.1:{k}"),
        redshift_data: format!("http://127.0.0.1:{r}"),
    }
}

fn data_api(endpoint: &str) -> aws_sdk_redshiftdata::Client {
    data_api_as(endpoint, "test")
}

fn data_api_as(endpoint: &str, key: &str) -> aws_sdk_redshiftdata::Client {
    let conf = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(aws_sdk_redshiftdata::config::BehaviorVersion::latest())
        .region(aws_sdk_redshiftdata::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_redshiftdata::config::Credentials::new(
            key, "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_redshiftdata::Client::from_conf(conf)
}

/// Poll until done; (status, error).
async fn wait(c: &aws_sdk_redshiftdata::Client, id: &str) -> (StatusString, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = c.describe_statement().id(id).send().await.unwrap();
        let status = d.status().cloned().unwrap();
        if matches!(
            status,
            StatusString::Finished | StatusString::Failed | StatusString::Aborted
        ) {
            return (status, d.error().map(str::to_string));
        }
        assert!(Instant::now() < deadline, "statement {id} never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn batch(c: &aws_sdk_redshiftdata::Client, sqls: &[&str]) -> (StatusString, Option<String>) {
    let out = c
        .batch_execute_statement()
        .set_sqls(Some(sqls.iter().map(|s| s.to_string()).collect()))
        .database("dev")
        .workgroup_name("courier")
        .send()
        .await
        .unwrap();
    wait(c, out.id().unwrap()).await
}

/// Submit one statement and wait for it: (id, status, error).
async fn submit(c: &aws_sdk_redshiftdata::Client, sql: &str) -> (String, StatusString, Option<String>) {
    let out = c
        .execute_statement()
        .sql(sql)
        .database("dev")
        .workgroup_name("courier")
        .send()
        .await
        .unwrap();
    let id = out.id().unwrap().to_string();
    let (status, error) = wait(c, &id).await;
    (id, status, error)
}

async fn execute(c: &aws_sdk_redshiftdata::Client, sql: &str) -> String {
    let (id, status, error) = submit(c, sql).await;
    assert_eq!(status, StatusString::Finished, "{sql}: {error:?}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_api_runs_statements_transactions_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let c = data_api(&emu.redshift_data);

    // A batch is one transaction: a failing statement leaves nothing behind,
    // and DescribeStatement carries the database's error text.
    let (status, error) = batch(
        &c,
        &[
            "CREATE TABLE public.t (id BIGINT, price DECIMAL(8,2), name VARCHAR(20))",
            "INSERT INTO public.t VALUES (1, 2.50, 'a')",
            "INSERT INTO public.missing VALUES (1)",
        ],
    )
    .await;
    assert_eq!(status, StatusString::Failed);
    assert!(error.as_deref().unwrap_or("").contains("missing"), "{error:?}");
    let (status, error) = batch(&c, &["SELECT COUNT(*) FROM public.t"]).await;
    assert_eq!(status, StatusString::Failed, "the table was rolled back");
    assert!(error.unwrap().contains("t"));

    let (status, error) = batch(
        &c,
        &[
            "CREATE TABLE public.t (id BIGINT, price DECIMAL(8,2), name VARCHAR(20))",
            "INSERT INTO public.t SELECT i, i / 100.0, CASE WHEN i % 2 = 0 THEN 'even' END FROM range(2500) r(i)",
        ],
    )
    .await;
    assert_eq!(status, StatusString::Finished, "{error:?}");

    // Typed fields, paged by NextToken.
    let id = execute(&c, "SELECT id, price, name FROM public.t ORDER BY id").await;
    let mut rows: Vec<Vec<Field>> = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .get_statement_result()
            .id(&id)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        pages += 1;
        if pages == 1 {
            let names: Vec<_> = out.column_metadata().iter().map(|m| m.name().unwrap_or("")).collect();
            assert_eq!(names, ["id", "price", "name"]);
            assert_eq!(out.total_num_rows(), 2500);
        }
        rows.extend(out.records().iter().cloned());
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(rows.len(), 2500);
    assert_eq!(rows[1234][0], Field::LongValue(1234));
    assert_eq!(rows[1234][1], Field::StringValue("12.34".into()));
    assert_eq!(rows[1234][2], Field::StringValue("even".into()));
    assert_eq!(rows[1235][2], Field::IsNull(true));

    // A DML statement has no result set; the rows it touched are counted.
    let id = execute(&c, "DELETE FROM public.t WHERE id >= 2000").await;
    let d = c.describe_statement().id(&id).send().await.unwrap();
    assert_eq!(d.has_result_set(), Some(false));
    assert_eq!(d.result_rows(), 500);
    let e = c.get_statement_result().id(&id).send().await.unwrap_err();
    assert!(format!("{e:?}").contains("does not have result"), "{e:?}");

    // Limits and required parameters, as the real API answers them.
    let big = format!("SELECT '{}'", "x".repeat(100_001));
    let e = c
        .execute_statement()
        .sql(big)
        .database("dev")
        .workgroup_name("courier")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("ValidationException"), "{e:?}");
    let e = c
        .execute_statement()
        .sql("SELECT 1")
        .database("dev")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("WorkgroupName or ClusterIdentifier"), "{e:?}");
    let e = c.describe_statement().id("no-such-id").send().await.unwrap_err();
    assert!(format!("{e:?}").contains("ResourceNotFoundException"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_loads_plain_and_gzip_csv_from_the_object_dir() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let c = data_api(&emu.redshift_data);
    let objects = dir.path().join("objects/courier-data/in");
    std::fs::create_dir_all(&objects).unwrap();
    let csv = "id,name,joined\n1,\"Sharma, A\",2024-01-02\n2,\"He said \"\"hi\"\"\",2024-02-03\n";
    std::fs::write(objects.join("plain.csv"), csv).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(csv.as_bytes()).unwrap();
    std::fs::write(objects.join("data.csv.gz"), gz.finish().unwrap()).unwrap();
    let (status, error) = batch(
        &c,
        &[
            "CREATE TABLE public.people (id INT, name VARCHAR(50), joined DATE)",
            "COPY public.people FROM 's3://courier-data/in/plain.csv' IAM_ROLE 'arn:aws:iam::123456789012:role/r' \
             CSV IGNOREHEADER 1 QUOTE AS '\"'",
            "COPY public.people FROM 's3://courier-data/in/data.csv.gz' IAM_ROLE 'arn:aws:iam::123456789012:role/r' \
             CSV GZIP IGNOREHEADER 1",
        ],
    )
    .await;
    assert_eq!(status, StatusString::Finished, "{error:?}");
    let id = execute(&c, "SELECT COUNT(*), MAX(name), MIN(joined) FROM public.people").await;
    let out = c.get_statement_result().id(&id).send().await.unwrap();
    assert_eq!(
        out.records()[0],
        vec![
            Field::LongValue(4),
            Field::StringValue("Sharma, A".into()),
            Field::StringValue("2024-01-02".into())
        ]
    );
    let (status, error) = batch(
        &c,
        &["COPY public.people FROM 's3://courier-data/in/nope.csv' IAM_ROLE 'arn:aws:iam::1:role/r' CSV"],
    )
    .await;
    assert_eq!(status, StatusString::Failed);
    assert!(error.unwrap().contains("in/nope.csv' does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_streams_are_created_listed_and_described() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(&emu.kinesis)
        .build();
    let k = aws_sdk_kinesis::Client::from_conf(conf);
    let names = k.list_streams().send().await.unwrap();
    assert_eq!(
        names.stream_names(),
        ["incoming-food-order-data"],
        "the configured stream exists from the start"
    );
    k.create_stream()
        .stream_name("other")
        .shard_count(3)
        .send()
        .await
        .unwrap();
    let e = k
        .create_stream()
        .stream_name("other")
        .shard_count(3)
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("ResourceInUseException"), "{e:?}");
    let s = k.describe_stream_summary().stream_name("other").send().await.unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!(s.open_shard_count(), 3);
    assert_eq!(s.stream_status().as_str(), "ACTIVE");
    let shards = k.list_shards().stream_name("other").send().await.unwrap();
    let ranges: Vec<(u128, u128)> = shards
        .shards()
        .iter()
        .map(|s| {
            let r = s.hash_key_range().unwrap();
            (
                r.starting_hash_key().parse().unwrap(),
                r.ending_hash_key().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(ranges.first().unwrap().0, 0);
    assert_eq!(ranges.last().unwrap().1, u128::MAX);
    assert!(ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0), "no gaps: {ranges:?}");
    let e = k
        .describe_stream_summary()
        .stream_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("ResourceNotFoundException"), "{e:?}");
    // Hardening 16: names that are paths are refused, nothing is written.
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for bad in [".", "..", "...", "a/b"] {
        let e = k
            .create_stream()
            .stream_name(bad)
            .shard_count(1)
            .send()
            .await
            .unwrap_err();
        let shown = format!("{e:?}");
        assert!(
            shown.contains("ValidationException") && shown.contains("not valid"),
            "{bad}: {shown}"
        );
    }
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written for a refused name");
}

#[test]
fn it_refuses_a_non_loopback_address_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["emulate", "--data-dir"])
        .arg(dir.path())
        .args(["--kinesis", "0.0.0.0:0", "--redshift-data", "127.0.0.1:0"])
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0.0.0.0:0 is not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );
}

/// Hardening 16: a NextToken or a sequence number at the edge of u64 gets
/// an answer, not a crashed handler (the emulator runs as a debug build in
/// tests, where an overflow panics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_sequence_numbers_at_the_edge_get_answers() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let c = data_api(&emu.redshift_data);
    let id = execute(&c, "SELECT 1 AS one").await;
    let page = c
        .get_statement_result()
        .id(&id)
        .next_token(u64::MAX.to_string())
        .send()
        .await
        .expect("an answer");
    assert!(page.records().is_empty());
    let e = c
        .get_statement_result()
        .id(&id)
        .next_token("-1")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("NextToken is not valid"), "{e:?}");
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(&emu.kinesis)
        .build();
    let k = aws_sdk_kinesis::Client::from_conf(conf);
    // As Kinesis: a sequence number the shard never gave out is refused.
    let e = k
        .get_shard_iterator()
        .stream_name("incoming-food-order-data")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(u64::MAX.to_string())
        .send()
        .await
        .unwrap_err();
    let shown = format!("{e:?}");
    assert!(
        shown.contains("InvalidArgumentException") && shown.contains("did not come from this stream"),
        "{shown}"
    );
    let it = k
        .get_shard_iterator()
        .stream_name("incoming-food-order-data")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::Latest)
        .send()
        .await
        .expect("an iterator at the end");
    let out = k
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .expect("an empty page");
    assert!(out.records().is_empty());
    // The emulator still answers.
    execute(&c, "SELECT 2").await;
}

/// Hardening 15: a Data API client's SQL reads no file and runs none of
/// DuckDB's own statements; with COURIER_EMULATE_ACCESS_KEY_ID set, only
/// requests signed with that access key id are served (another local user
/// of a shared host is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reads_no_file_runs_no_duckdb_statement_and_needs_the_access_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = "AKIDCOURIEREMULATE01";
    let emu = start_with(dir.path(), &[("COURIER_EMULATE_ACCESS_KEY_ID", key)]);
    let stranger = data_api(&emu.redshift_data);
    let e = stranger
        .execute_statement()
        .sql("SELECT 1")
        .database("dev")
        .workgroup_name("courier")
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("UnrecognizedClientException"), "{e:?}");
    let k = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(&emu.kinesis)
            .build(),
    );
    let e = k.list_streams().send().await.unwrap_err();
    assert!(format!("{e:?}").contains("UnrecognizedClientException"), "{e:?}");

    let c = data_api_as(&emu.redshift_data, key);
    execute(&c, "CREATE TABLE t (a INT)").await;
    for (sql, want) in [
        ("SELECT * FROM read_text('/etc/passwd')", "disabled"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled"),
        ("SELECT * FROM glob('/etc/*')", "disabled"),
        ("SET enable_external_access = true", "not DuckDB's own statements"),
        ("ATTACH '/tmp/other.duckdb' AS other", "not DuckDB's own statements"),
        ("INSTALL httpfs", ""),
        ("PRAGMA database_list", ""),
    ] {
        let out = c
            .execute_statement()
            .sql(sql)
            .database("dev")
            .workgroup_name("courier")
            .send()
            .await;
        let (status, error) = match out {
            Ok(o) => wait(&c, o.id().unwrap()).await,
            Err(e) => (StatusString::Failed, Some(format!("{e:?}"))),
        };
        let error = error.unwrap_or_default();
        println!("{sql}: {status:?} {error}");
        assert_eq!(status, StatusString::Failed, "{sql} must be refused");
        assert!(error.contains(want), "{sql}: {error}");
        assert!(!error.contains("root:"), "{sql} read the file: {error}");
    }
    // What a client needs still runs.
    execute(&c, "INSERT INTO t VALUES (1), (2)").await;
    let id = execute(&c, "SELECT COUNT(*) FROM t").await;
    let page = c.get_statement_result().id(&id).send().await.unwrap();
    assert_eq!(format!("{:?}", page.records()[0][0]), "LongValue(2)");
}

/// Hardening 16: a result past the Data API's 100 MB is refused with why,
/// not kept in memory (results kept for GetStatementResult are bounded too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_past_100_mb_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let c = data_api(&emu.redshift_data);
    let out = c
        .execute_statement()
        .sql("SELECT repeat('x', 1000000) AS big FROM range(110)")
        .database("dev")
        .workgroup_name("courier")
        .send()
        .await
        .unwrap();
    let (status, error) = wait(&c, out.id().unwrap()).await;
    assert_eq!(status, StatusString::Failed);
    let error = error.unwrap_or_default();
    assert!(error.contains("the Data API returns at most 100 MB"), "{error}");
    execute(&c, "SELECT 1").await;
}

use crate::cases::{fixture, functions};

/// A Data API field as the function cases write answers.
fn field_text(f: &Field) -> Option<String> {
    match f {
        Field::IsNull(true) => None,
        Field::LongValue(v) => Some(v.to_string()),
        Field::DoubleValue(v) => Some(v.to_string()),
        Field::StringValue(s) => Some(s.clone()),
        Field::BooleanValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// The documented Redshift function cases, through the Data API as a
/// client sends them: the same answers as on the embedded warehouse, and
/// the refused ones fail naming what is not supported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_functions_give_their_documented_answers_through_the_data_api() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(dir.path());
    let c = data_api(&emu.redshift_data);
    let mut setup: Vec<String> = Vec::new();
    for (_, text) in courier::backend::embedded::warehouse::SCHEMA_SQL {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        setup.extend(
            code.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    setup.extend(
        fixture::DATA
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from),
    );
    let refs: Vec<&str> = setup.iter().map(String::as_str).collect();
    let (status, error) = batch(&c, &refs).await;
    assert_eq!(status, StatusString::Finished, "{error:?}");

    let mut failures = Vec::new();
    for (function, sql, want) in functions::CASES {
        let (id, status, error) = submit(&c, sql).await;
        if status != StatusString::Finished {
            failures.push(format!("{function}: {sql}\n  error: {error:?}"));
            continue;
        }
        let result = c.get_statement_result().id(&id).send().await.unwrap();
        let rows: Vec<Vec<Option<String>>> = result
            .records()
            .iter()
            .map(|r| r.iter().map(field_text).collect())
            .collect();
        if !fixture::rows_match(&rows, want) {
            failures.push(format!("{function}: {sql}\n  want {want:?}\n  got  {rows:?}"));
        }
    }
    for (sql, names) in functions::REFUSED {
        let (_, status, error) = submit(&c, sql).await;
        let error = error.unwrap_or_default();
        if status != StatusString::Failed || !error.contains(names) {
            failures.push(format!("refused {sql}: {status:?} {error}"));
        }
    }
    println!(
        "{} documented answers and {} refusals through the Data API, {} differ",
        functions::CASES.len(),
        functions::REFUSED.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
