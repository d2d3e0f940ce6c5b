//! `courier bench`: measures the hot paths on this machine and prints one
//! table of figure, goal and pass/fail. Timings live here, never in tests.
//! Build with `--release` for figures that mean anything; a debug build
//! (and the -O0 bundled DuckDB) is many times slower.

//!
//! `stream`: the generator and the stream (embedded, over the Kinesis
//! protocol, against shard capacity, freshness); `warehouse`: loads into
//! DuckDB; `process`: a separate courier process's memory and CPU, and the
//! console's frame time.

mod process;
mod stream;
mod warehouse;

use process::{frame_render, idle_console_cpu, rss_at_rate};
use stream::{engine_run, generator_to_stream, kinesis_vs_boto3};
use warehouse::{dimension_copy, ingest};

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
            Ok((peak, private, rate)) => Figure {
                name: "peak RSS of `courier --no-tui` at 100,000 events/s, MB",
                measured: format!("{peak:.0} ({private:.0} private; acked {rate:.0}/s)"),
                goal: "≤ 150",
                pass: Some(peak <= 150.0 && rate >= 95_000.0),
            },
            Err(e) => Figure {
                name: "peak RSS of `courier --no-tui` at 100,000 events/s, MB",
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
