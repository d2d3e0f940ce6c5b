//! `courier bench`: measures the hot paths on this machine and prints one
//! table of figure, goal and pass/fail. Timings live here, never in tests.
//! Build with `--release` for figures that mean anything; a debug build
//! (and the -O0 bundled DuckDB) is many times slower.
//!
//! `stream`: the generator and the stream (embedded, over the Kinesis
//! protocol, against shard capacity, freshness); `warehouse`: loads into
//! DuckDB; `process`: a separate courier process's memory and CPU, and the
//! console's frame time; `service`: the control socket's faces.

use color_eyre::eyre::{self, WrapErr};

mod leases;
mod process;
mod service;
mod stream;
mod warehouse;

use std::time::Duration;

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
    /// CPU time (user + system of this process) per million events, where
    /// the figure is a throughput: steadier than the wall rate on a busy
    /// machine.
    pub cpu: Option<String>,
    /// How far past its goal the figure is, as a fraction (0.25 = 25%
    /// better than the goal; negative: short of it). For a throughput it is
    /// in CPU terms: events per CPU-second of the process against the goal
    /// rate, so a busy machine does not move it.
    pub margin: Option<f64>,
    /// Heap allocations of courier's own code (not DuckDB's) per event,
    /// where the figure is a throughput measured in this process.
    pub allocs: Option<f64>,
}

/// The margin of a figure whose goal is an upper bound (`≤ goal`).
fn under(value: f64, goal: f64) -> Option<f64> {
    (value > 0.0 && value.is_finite()).then(|| goal / value - 1.0)
}

/// The margin of a figure whose goal is a lower bound (`≥ goal`).
fn over(value: f64, goal: f64) -> Option<f64> {
    (goal > 0.0 && value.is_finite()).then(|| value / goal - 1.0)
}

/// User + system CPU time of this process so far.
fn self_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid start.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// A throughput measured `reps` times: each run's events/s and its CPU
/// time per million events; the row shows the median rate (and the
/// spread), the CPU cost of the cheapest run.
struct Repeated {
    rates: Vec<f64>,
    cpu_per_million: Vec<f64>,
    allocs_per_event: Vec<f64>,
}

impl Repeated {
    async fn run<F, Fut>(reps: usize, events: usize, mut one: F) -> eyre::Result<Repeated>
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = eyre::Result<f64>>,
    {
        let mut r = Repeated {
            rates: Vec::new(),
            cpu_per_million: Vec::new(),
            allocs_per_event: Vec::new(),
        };
        for i in 0..reps.max(1) {
            let before = self_cpu();
            let allocs = crate::memory::allocations();
            let rate = one(i).await?;
            let cpu = self_cpu().saturating_sub(before).as_secs_f64();
            let allocs = crate::memory::allocations() - allocs;
            r.rates.push(rate);
            r.cpu_per_million.push(cpu / events.max(1) as f64 * 1e6);
            if allocs > 0 {
                r.allocs_per_event.push(allocs as f64 / events.max(1) as f64);
            }
        }
        Ok(r)
    }

    fn median(&self) -> f64 {
        let mut v = self.rates.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn measured(&self) -> String {
        let min = self.rates.iter().copied().fold(f64::INFINITY, f64::min);
        if self.rates.len() > 1 {
            format!("{:.0} (min {min:.0}, {} runs)", self.median(), self.rates.len())
        } else {
            format!("{:.0}", self.median())
        }
    }

    /// CPU seconds per million events of the cheapest run.
    fn best_cpu(&self) -> Option<f64> {
        let best = self.cpu_per_million.iter().copied().fold(f64::INFINITY, f64::min);
        best.is_finite().then_some(best)
    }

    fn cpu(&self) -> Option<String> {
        self.best_cpu().map(|best| format!("{best:.2} s"))
    }
}

/// How busy the machine was before the bench: cores busy over one second
/// (from /proc/stat) and the 1-minute load average. Figures taken while
/// something else runs are low; the bench says so first.
pub fn machine_load() -> Option<(f64, usize, f64)> {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
        let v: Vec<u64> = cpu.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
        Some((v.iter().sum(), idle))
    }
    let (t0, i0) = sample()?;
    std::thread::sleep(Duration::from_secs(1));
    let (t1, i1) = sample()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = (1.0 - (i1 - i0) as f64 / (t1 - t0).max(1) as f64) * cores as f64;
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((busy, cores, load))
}

impl Figure {
    fn margin(mut self, margin: Option<f64>) -> Figure {
        self.margin = margin;
        self
    }

    /// The row of a measurement: `judge` says what was measured and whether
    /// it meets `goal`; an error is a failed row.
    fn of<T, E: std::fmt::Display>(
        name: &'static str,
        goal: &'static str,
        result: Result<T, E>,
        judge: impl FnOnce(T) -> (String, Option<bool>),
    ) -> Figure {
        let (measured, pass) = result.map_or_else(|e| (format!("error: {e:#}"), Some(false)), judge);
        Figure {
            name,
            measured,
            goal,
            pass,
            cpu: None,
            margin: None,
            allocs: None,
        }
    }

    /// As `of`, for a measurement this machine may lack a tool for: an error
    /// is a row not judged.
    fn unless_missing<T, E: std::fmt::Display>(
        name: &'static str,
        goal: &'static str,
        result: Result<T, E>,
        judge: impl FnOnce(T) -> (String, Option<bool>),
    ) -> Figure {
        let missing = result.as_ref().err().map(|e| format!("not measured: {e:#}"));
        let mut figure = Figure::of(name, goal, result, judge);
        if let Some(measured) = missing {
            (figure.measured, figure.pass) = (measured, None);
        }
        figure
    }
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
    pub round_trips: usize,
    /// Runs of each short throughput figure (median and min printed).
    pub reps: usize,
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
                round_trips: 200,
                reps: 1,
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
                round_trips: 2_000,
                reps: 3,
            }
        }
    }
}

/// The row's CPU cost, where the throughput was measured.
/// The row's CPU cost and, against `goal_rate` events/s, its margin in CPU
/// terms (events per CPU-second over the goal rate).
fn with_cpu(r: &eyre::Result<Repeated>, goal_rate: f64, mut f: Figure) -> Figure {
    f.cpu = r.as_ref().ok().and_then(Repeated::cpu);
    f.allocs = r
        .as_ref()
        .ok()
        .and_then(|r| r.allocs_per_event.iter().copied().reduce(f64::min));
    f.margin = r
        .as_ref()
        .ok()
        .and_then(Repeated::best_cpu)
        .and_then(|cpu| under(cpu, 1e6 / goal_rate));
    f
}

/// Run every measurement; each is independent, a failure is reported in its row.
pub async fn run(quick: bool, only: Option<&str>, progress: impl Fn(&str)) -> Vec<Figure> {
    // `--only WORD`: just the measurements whose step names contain WORD.
    let want = |step: &str| only.is_none_or(|w| step.to_lowercase().contains(&w.to_lowercase()));
    crate::memory::count_allocations(true);
    let sizes = Sizes::new(quick);
    let tmp = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            return vec![Figure {
                name: "set-up",
                measured: format!("{e:#}"),
                goal: "",
                cpu: None,
                pass: Some(false),
                margin: None,
                allocs: None,
            }];
        }
    };
    let mut out = Vec::new();
    // Nothing else should be using the CPU: say what was seen first.
    if let Some((busy, cores, load)) = machine_load() {
        let quiet = busy <= 0.25;
        if !quiet {
            progress(&format!(
                "warning: {busy:.2} of {cores} cores were busy before the bench (load {load:.2}); figures will be low"
            ));
        }
        out.push(Figure {
            name: "machine before the bench: cores busy, load average",
            measured: format!("{busy:.2} of {cores}, load {load:.2}"),
            goal: "≤ 0.25 busy",
            cpu: None,
            pass: Some(quiet),
            margin: None,
            allocs: None,
        });
    }

    if want("generator → embedded stream") {
        progress("generator → embedded stream");
        let r = Repeated::run(sizes.reps, sizes.events, |i| {
            let dir = tmp.join(format!("gen{i}"));
            async move { generator_to_stream(&dir, sizes.events).await }
        })
        .await;
        out.push(with_cpu(
            &r,
            1e6,
            Figure::of(
                "generator → embedded stream, events/s",
                "≥ 1,000,000",
                r.as_ref().map(|r| (r.median(), r.measured())),
                |(rate, shown)| (shown, Some(rate >= 1e6)),
            ),
        ));
    }
    if want("Kinesis protocol: courier vs a boto3 put_record producer") {
        progress("Kinesis protocol: courier vs a boto3 put_record producer");
        let r = kinesis_vs_boto3(&tmp.join("kinesis"), sizes.protocol_secs).await;
        let margin = r
            .as_ref()
            .ok()
            .and_then(|(ours, boto3)| over(ours / boto3.max(1.0), 100.0));
        out.push(
            Figure::unless_missing(
                "Kinesis-protocol generator vs boto3 put_record producer",
                "≥ 100×",
                r,
                |(ours, boto3)| {
                    let measured = format!("{ours:.0} vs {boto3:.0} ev/s = {:.0}×", ours / boto3.max(1.0));
                    (measured, Some(ours >= 100.0 * boto3))
                },
            )
            .margin(margin),
        );
    }
    if want("stream capacity share") {
        progress("stream capacity share");
        let r = engine_run(&tmp.join("cap"), 4 * 1000 * 6 / 5, 4, 1000, sizes.capacity_secs).await;
        let margin = r.as_ref().ok().and_then(|(rate, ..)| over(rate / 40.0, 99.0));
        out.push(
            Figure::of(
                "share of 4×1000 rec/s capacity achieved, records lost",
                "≥ 99%, 0",
                r,
                |(rate, lost, ..)| {
                    let share = rate / 40.0;
                    (format!("{share:.1}%, {lost} lost"), Some(share >= 99.0 && lost == 0))
                },
            )
            .margin(margin),
        );
    }
    for (updates, name) in [
        (false, "embedded ingest exactly-once, events/s (new orders)"),
        (true, "embedded ingest exactly-once, events/s (with status updates)"),
    ] {
        if want(name) {
            progress(name);
            let dir = tmp.join(if updates { "ingest-updates" } else { "ingest" });
            let r = Repeated::run(sizes.reps, sizes.ingest_rows, |i| {
                let dir = dir.join(i.to_string());
                async move { ingest(&dir, sizes.ingest_rows, updates).await }
            })
            .await;
            out.push(with_cpu(
                &r,
                250_000.0,
                Figure::of(
                    name,
                    "≥ 250,000",
                    r.as_ref().map(|r| (r.median(), r.measured())),
                    |(rate, shown)| (shown, Some(rate >= 250_000.0)),
                ),
            ));
        }
    }
    if want("freshness at 10,000 events/s") {
        progress("freshness at 10,000 events/s");
        let r = engine_run(&tmp.join("fresh"), 10_000, 16, 1000, sizes.freshness_secs).await;
        let margin = r
            .as_ref()
            .ok()
            .and_then(|(.., p99)| *p99)
            .and_then(|p99| under(p99 as f64, 1000.0));
        out.push(
            Figure::of(
                "freshness at 10,000 events/s, p50 / p99",
                "p99 ≤ 1 s",
                r,
                |(_, _, p50, p99)| {
                    let fmt = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
                    (
                        format!("{} / {}", fmt(p50), fmt(p99)),
                        Some(p99.is_some_and(|v| v <= 1000)),
                    )
                },
            )
            .margin(margin),
        );
    }
    if want("RSS at 100,000 events/s (a separate courier process)") {
        progress("RSS at 100,000 events/s (a separate courier process)");
        let r = rss_at_rate(&tmp.join("rss"), 100_000, sizes.rss_secs).await;
        let cpu = r.as_ref().ok().map(|(.., cpu)| format!("{cpu:.2} s"));
        let margin = r.as_ref().ok().and_then(|(peak, ..)| under(*peak, 150.0));
        // A peak at a rate the run did not sustain says nothing: under 99%
        // of the target acknowledged, the row fails and says so.
        let mut f = Figure::of(
            "peak RSS of `courier --no-tui` at 100,000 events/s, MB",
            "≤ 150, acked ≥ 99%",
            r,
            |(peak, private, rate, _)| {
                let sustained = rate >= 99_000.0;
                let short = if sustained { "" } else { ", under 99% of the target" };
                let measured = format!("{peak:.0} ({private:.0} private; acked {rate:.0}/s{short})");
                (measured, Some(peak <= 150.0 && sustained))
            },
        )
        .margin(margin);
        f.cpu = cpu;
        out.push(f);
    }
    if want("idle CPU with the console open (tmux)") {
        progress("idle CPU with the console open (tmux)");
        let r = idle_console_cpu(&tmp.join("idle"), sizes.idle_secs).await;
        let margin = r.as_ref().ok().and_then(|pct| under(*pct, 1.0));
        out.push(
            Figure::unless_missing(
                "CPU of the open console, generator paused, % of a core",
                "≤ 1",
                r,
                |pct| (format!("{pct:.2}"), Some(pct <= 1.0)),
            )
            .margin(margin),
        );
    }
    if want("control socket: round trip, attach, attached console CPU") {
        progress("control socket: round trip, attach, attached console CPU");
        let r = service::faces(&tmp.join("faces"), sizes.round_trips, sizes.idle_secs).await;
        match r {
            Ok(f) => {
                out.push(Figure {
                    name: "snapshot round trip over the control socket, p50 / p99 ms",
                    measured: format!("{:.2} / {:.2}", f.round_trip_p50_ms, f.round_trip_p99_ms),
                    goal: "p99 ≤ 5",
                    cpu: None,
                    pass: Some(f.round_trip_p99_ms <= 5.0),
                    margin: under(f.round_trip_p99_ms, 5.0),
                    allocs: None,
                });
                let attach_margin = f.attach_ms.as_ref().ok().and_then(|ms| under(*ms, 300.0));
                let cpu_margin = f.attached_cpu_pct.as_ref().ok().and_then(|pct| under(*pct, 1.0));
                out.push(
                    Figure::unless_missing("`courier attach` to its first frame, ms", "≤ 300", f.attach_ms, |ms| {
                        (format!("{ms:.0}"), Some(ms <= 300.0))
                    })
                    .margin(attach_margin),
                );
                out.push(
                    Figure::unless_missing(
                        "CPU of an attached console, generator paused, % of a core",
                        "≤ 1",
                        f.attached_cpu_pct,
                        |pct| (format!("{pct:.2}"), Some(pct <= 1.0)),
                    )
                    .margin(cpu_margin),
                );
            }
            Err(e) => out.push(Figure::of(
                "snapshot round trip over the control socket, p50 / p99 ms",
                "p99 ≤ 5",
                Err::<(), _>(e),
                |_| (String::new(), None),
            )),
        }
    }
    if want("dimension COPY") {
        progress("dimension COPY");
        let copy_name = if quick {
            "dimension COPY of 100,000 customer rows, s"
        } else {
            "dimension COPY of 1,000,000 customer rows, s"
        };
        let rows = sizes.copy_rows as usize;
        let r = Repeated::run(sizes.reps, rows, |i| {
            let dir = tmp.join(format!("copy{i}"));
            async move {
                let d = dimension_copy(&dir, sizes.copy_rows).await?;
                Ok(rows as f64 / d.as_secs_f64().max(1e-9))
            }
        })
        .await;
        // ≤ 3 s for 1M rows: 333,333 rows/s.
        out.push(with_cpu(
            &r,
            1e6 / 3.0,
            Figure::of(
                copy_name,
                "≤ 3 (1M rows)",
                r.as_ref().map(|r| rows as f64 / r.median()),
                |secs| (format!("{secs:.2}"), (!quick).then_some(secs <= 3.0)),
            ),
        ));
    }
    if want("shard lease takeover") {
        progress("shard lease takeover");
        let r = leases::takeover(&tmp.join("leases")).await;
        let goal = leases::LEASE.as_secs_f64() + 5.0;
        let margin = r.as_ref().ok().and_then(|t| under(t.takeover.as_secs_f64(), goal));
        out.push(
            Figure::of(
                "shard lease takeover after an instance dies, 8 shards, lease 5 s, s",
                "≤ lease + 5",
                r,
                |t| {
                    let s = t.takeover.as_secs_f64();
                    (
                        format!("{s:.1} (share balanced in {:.1})", t.balanced.as_secs_f64()),
                        Some(s <= goal),
                    )
                },
            )
            .margin(margin),
        );
    }
    if want("frame render") {
        progress("frame render");
        let (p50, p99) = frame_render(sizes.frames);
        out.push(Figure {
            name: "console frame, 64 shards + 1000-row result, p50 / p99 ms",
            measured: format!("{p50:.2} / {p99:.2}"),
            goal: "≤ 2",
            cpu: None,
            pass: Some(p99 <= 2.0),
            margin: under(p99, 2.0),
            allocs: None,
        });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

fn tempfile_dir() -> eyre::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("courier-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
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
    let mut s = format!(
        "{:<w$}  {:<m$}  {:<10}  {:<9}  {:<18}  {:<7}  result\n",
        "figure", "measured", "CPU/M ev", "allocs/ev", "goal", "margin"
    );
    for f in figures {
        let verdict = match f.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "-",
        };
        let margin = f.margin.map_or("-".to_string(), |m| format!("{:+.0}%", m * 100.0));
        s.push_str(&format!(
            "{:<w$}  {:<m$}  {:<10}  {:<9}  {:<18}  {margin:<7}  {verdict}\n",
            f.name,
            f.measured,
            f.cpu.as_deref().unwrap_or("-"),
            f.allocs.map_or("-".to_string(), |a| format!("{a:.2}")),
            f.goal
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_are_judged_against_the_goal_each_way() {
        // 2.4 s against ≤ 3 s: 25% to spare; 1.25M/s against ≥ 1M/s: 25%.
        assert!((under(2.4, 3.0).unwrap() - 0.25).abs() < 1e-9);
        assert!((over(1.25e6, 1e6).unwrap() - 0.25).abs() < 1e-9);
        assert!(under(0.0, 3.0).is_none());
        // 3.2 CPU-seconds per million events against 250,000 events/s
        // (4 s per million): 25% in CPU terms.
        let r: eyre::Result<Repeated> = Ok(Repeated {
            rates: vec![200_000.0],
            cpu_per_million: vec![3.6, 3.2],
            allocs_per_event: vec![2.5, 2.0],
        });
        let f = with_cpu(
            &r,
            250_000.0,
            Figure::of("ingest", "≥ 250,000", Ok::<_, String>(()), |_| {
                ("x".into(), Some(true))
            }),
        );
        assert!((f.margin.unwrap() - 0.25).abs() < 1e-9, "{:?}", f.margin);
        assert_eq!(f.allocs, Some(2.0));
        let short = Figure::of("rss", "≤ 150", Ok::<_, String>(()), |_| ("160".into(), Some(false)))
            .margin(under(160.0, 150.0));
        let t = table(&[f, short]);
        assert!(t.lines().next().unwrap().contains("margin"), "{t}");
        assert!(t.contains("+25%") && t.contains("-6%") && t.contains("2.00"), "{t}");
    }
}
