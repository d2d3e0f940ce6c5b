//! The service's faces, measured against a separate `courier --no-tui`:
//! snapshot round trips over the control socket, the time an attached
//! console takes to its first frame, and that console's idle CPU.

use std::path::Path;
use std::time::{Duration, Instant};

use color_eyre::eyre::{self, eyre};

use super::process::cpu_ticks;
use crate::control::{Client, Role, socket};

pub(super) struct FaceFigures {
    pub round_trip_p50_ms: f64,
    pub round_trip_p99_ms: f64,
    pub attach_ms: eyre::Result<f64>,
    pub attached_cpu_pct: eyre::Result<f64>,
}

/// Start the service (generator paused), then measure.
pub(super) async fn faces(dir: &Path, round_trips: usize, idle_secs: u64) -> eyre::Result<FaceFigures> {
    std::fs::create_dir_all(dir)?;
    let exe = std::env::current_exe()?;
    let data = dir.join("data");
    let mut service = tokio::process::Command::new(&exe)
        .arg("--data-dir")
        .arg(&data)
        .args(["--no-tui", "--paused"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let path = socket::resolve(&data, None)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket::is_live(&path).await.unwrap_or(false) {
        if Instant::now() > deadline {
            return Err(eyre!("the service did not open its socket within 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = async {
        let mut client = Client::connect(&path, Role::Bench, true).await?;
        // Start-up (dimension loads, first queries) is not the steady state.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for _ in 0..round_trips {
            let t = Instant::now();
            client.snapshot().await?;
            let _ = hist.record(t.elapsed().as_micros() as u64);
        }
        let (attach_ms, attached_cpu_pct) = attached_console(&exe, &data, idle_secs).await;
        Ok(FaceFigures {
            round_trip_p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
            round_trip_p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
            attach_ms,
            attached_cpu_pct,
        })
    }
    .await;
    if let Ok(c) = Client::connect(&path, Role::Stop, false).await {
        let _ = tokio::time::timeout(Duration::from_secs(30), c.stop(|_| {})).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), service.wait()).await;
    result
}

/// `courier attach` in tmux: time to its first frame (the pane shows the
/// shard pane), then its CPU over `secs` with the generator paused.
async fn attached_console(exe: &Path, data: &Path, secs: u64) -> (eyre::Result<f64>, eyre::Result<f64>) {
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output();
    if tmux(&["-V"]).is_err() {
        return (Err(eyre!("tmux is not installed")), Err(eyre!("tmux is not installed")));
    }
    let session = format!("courier-bench-attach-{}", std::process::id());
    let _ = tmux(&["new-session", "-d", "-s", &session, "-x", "160", "-y", "48", "cat"]);
    let cmd = format!("exec {} attach --data-dir {}", exe.display(), data.display());
    let t0 = Instant::now();
    let _ = tmux(&["respawn-pane", "-k", "-t", &session, &cmd]);
    let attach = loop {
        let screen =
            tmux(&["capture-pane", "-p", "-t", &session]).map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        if screen.as_deref().is_ok_and(|s| s.contains("Shard lag")) {
            break Ok(t0.elapsed().as_secs_f64() * 1000.0);
        }
        if t0.elapsed() > Duration::from_secs(20) {
            break Err(eyre!("no first frame in 20 s: {}", screen.unwrap_or_default().trim()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let cpu = async {
        if let Err(e) = &attach {
            return Err(eyre!("no console to measure: {e}"));
        }
        let pane = tmux(&["list-panes", "-t", &session, "-F", "#{pane_pid}"])?;
        let pid: u32 = String::from_utf8_lossy(&pane.stdout)
            .trim()
            .parse()
            .map_err(|_| eyre!("no console pid"))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let c0 = cpu_ticks(pid).ok_or_else(|| eyre!("the console exited"))?;
        let w0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let c1 = cpu_ticks(pid).ok_or_else(|| eyre!("the console exited"))?;
        Ok((c1 - c0) as f64 / 100.0 / w0.elapsed().as_secs_f64() * 100.0)
    }
    .await;
    let _ = tmux(&["send-keys", "-t", &session, "q"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tmux(&["kill-session", "-t", &session]);
    (attach, cpu)
}
