//! Process measurements: peak RSS of a separate `courier --no-tui` at a
//! rate, CPU of the idle console in tmux, and the console's frame time.

use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{self, eyre};

/// Resident memory of process `pid`, MB (10^6 bytes): all of it (VmRSS),
/// and its private part (RssAnon: heap, stacks).
fn rss_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kb| kb * 1024.0 / 1e6)
    };
    Some((field("VmRSS:")?, field("RssAnon:")?))
}

/// utime + stime of process `pid`, in clock ticks.
pub(super) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Run this binary headless at `rate` (8 shards with limits raised so the
/// tool, not the simulated Kinesis limit, is measured) for `secs`; peak RSS
/// and its private part at that moment (MB), the acknowledged rate, and the
/// process's CPU seconds per million acknowledged events.
/// Sampled every 50 ms: each group load lifts RSS for a few tenths of a
/// second, and a coarser sampler misses the top of it.
pub(super) async fn rss_at_rate(dir: &Path, rate: u32, secs: u64) -> eyre::Result<(f64, f64, f64, f64)> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("rss.toml");
    std::fs::write(
        &config,
        "[stream]\nshards = 8\nwrite_records_per_sec = 10000000\nwrite_bytes_per_sec = 17179869184\n\
         reads_per_sec = 20\nread_bytes_per_sec = 17179869184\nfsync = false\n",
    )?;
    let exe = std::env::current_exe()?;
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
        .spawn()?;
    let pid = child.id().ok_or_else(|| eyre!("no pid"))?;
    let sampler = tokio::spawn(async move {
        let (mut peak, mut ticks) = ((0.0f64, 0.0f64), 0u64);
        while let Some(r) = rss_of(pid) {
            if r.0 > peak.0 {
                peak = r;
            }
            // The child's CPU so far (the last reading before it exits).
            ticks = cpu_ticks(pid).unwrap_or(ticks);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (peak, ticks)
    });
    let out = child.wait_with_output().await?;
    let (peak, ticks) = sampler.await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| eyre!("no summary from the run"))?;
    let acked = summary["acknowledged"].as_f64().unwrap_or(0.0);
    let rate = acked / summary["seconds"].as_f64().unwrap_or(1.0).max(1.0);
    // USER_HZ is 100 on Linux: seconds of CPU per million acknowledged events.
    let cpu_per_million = ticks as f64 / 100.0 / acked.max(1.0) * 1e6;
    Ok((peak.0, peak.1, rate, cpu_per_million))
}

/// Open the console (this binary) in a detached tmux session with the
/// generator paused, let it settle, and measure its CPU over `secs`.
pub(super) async fn idle_console_cpu(dir: &Path, secs: u64) -> eyre::Result<f64> {
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output();
    if tmux(&["-V"]).is_err() {
        return Err(eyre!("tmux is not installed"));
    }
    std::fs::create_dir_all(dir)?;
    let exe = std::env::current_exe()?;
    let session = format!("courier-bench-{}", std::process::id());
    let cmd = format!("{} --data-dir {} --paused", exe.display(), dir.join("data").display());
    let started = tmux(&["new-session", "-d", "-s", &session, "-x", "160", "-y", "48", &cmd])?;
    if !started.status.success() {
        return Err(eyre!("{}", String::from_utf8_lossy(&started.stderr).trim()));
    }
    let result = async {
        let pane = tmux(&["list-panes", "-t", &session, "-F", "#{pane_pid}"])?;
        let pid: u32 = String::from_utf8_lossy(&pane.stdout)
            .trim()
            .parse()
            .map_err(|_| eyre!("no console pid"))?;
        // Start-up (dimension loads, first queries) is not idle: let it pass.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let t0 = cpu_ticks(pid).ok_or_else(|| eyre!("the console exited"))?;
        let w0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let t1 = cpu_ticks(pid).ok_or_else(|| eyre!("the console exited"))?;
        let ticks_per_sec = 100.0; // USER_HZ on Linux
        Ok((t1 - t0) as f64 / ticks_per_sec / w0.elapsed().as_secs_f64() * 100.0)
    }
    .await;
    let _ = tmux(&["send-keys", "-t", &session, "q"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = tmux(&["kill-session", "-t", &session]);
    result
}

pub(super) fn frame_render(frames: usize) -> (f64, f64) {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let now = chrono::Utc::now();
    let snap = crate::ui::demo::sample_snapshot(64, 1000, now);
    let mut app = crate::ui::app::App::new(
        crate::ui::keymap::Keymap::default(),
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
