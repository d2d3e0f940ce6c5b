//! The `courier` command line: parse flags, load config, and wire a face to
//! the pipeline — start the engine (console or headless, with its control
//! socket, metrics and Kinesis endpoint), or reach a running one through its
//! socket (`attach`, `query`, `status`, `stop`).

mod cli;

use courier::sync::LockExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio_util::sync::CancellationToken;

use cli::{Cli, Cmd, DlqCmd, Format};
use courier::backend::ResultSet;
use courier::config::{Config, ConfigError};
use courier::control::{self, Client, LinkEnd, Role, SocketError, socket};
use courier::ops::{self, OpReply, OpRequest, Position};
use courier::setup::{self, EmbeddedPaths};
use courier::ui::app::{App, LagThresholds};
use courier::ui::{Exit, Link};

#[global_allocator]
static ALLOCATOR: courier::memory::CountingAllocator = courier::memory::CountingAllocator;

fn main() -> ExitCode {
    courier::memory::tune();
    let cli = Cli::parse();
    if let Err(e) = color_eyre::install() {
        eprintln!("courier: {e}");
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    // A console owns the terminal: its logs go to a file in the data dir.
    let console = matches!(cli.command, None | Some(Cmd::Attach)) && !cli.no_tui;
    let log_file = console.then(|| config.resolve_data_dir(cli.data_dir.as_deref()).join("courier.log"));
    init_logging(&cli.log, log_file.as_deref());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("courier: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        // One stop for every task and face: SIGINT, SIGTERM or --for.
        let stop = CancellationToken::new();
        // Only the long-running faces stop gracefully; a one-shot command
        // (query, status, stop, bench) keeps the default: Ctrl-C ends it.
        if matches!(cli.command, None | Some(Cmd::Attach) | Some(Cmd::Emulate { .. })) {
            spawn_stop_on_signals(stop.clone(), cli.run_for);
        }
        match &cli.command {
            Some(Cmd::Query { sql, format, write }) => query(&cli, &config, sql, *format, *write).await,
            Some(Cmd::Emulate {
                kinesis,
                redshift_data,
                s3_endpoint,
            }) => {
                // emulate opens every stream of the data dir: never beside a live engine.
                if let Ok(Some(path)) = live_socket(&cli, &config).await {
                    eprintln!(
                        "courier emulate: an engine is running on this data dir (socket {}); \
                         its stream is served with `courier --no-tui --kinesis-endpoint ADDR`",
                        path.display()
                    );
                    return Ok(ExitCode::from(2));
                }
                let opts = courier::emulate::EmulateOptions {
                    data_dir: config.resolve_data_dir(cli.data_dir.as_deref()),
                    kinesis: *kinesis,
                    redshift_data: *redshift_data,
                    s3_endpoint: s3_endpoint.clone(),
                    allow_remote: cli.allow_remote,
                };
                match courier::emulate::run(&config, opts, stop).await {
                    Ok(()) => Ok(ExitCode::SUCCESS),
                    Err(e) => {
                        eprintln!("courier emulate: {e:#}");
                        Ok(ExitCode::from(2))
                    }
                }
            }
            Some(Cmd::Bench { quick, only }) => {
                let figures = courier::bench::run(*quick, only.as_deref(), |step| eprintln!("bench: {step}…")).await;
                print!("{}", courier::bench::table(&figures));
                Ok(ExitCode::SUCCESS)
            }
            Some(Cmd::Attach) => match socket_of(&cli, &config) {
                Ok(path) => attach(&cli, &config, &path, stop).await,
                Err(e) => Ok(refused(&e)),
            },
            Some(Cmd::Status { json }) => status(&cli, &config, *json).await,
            Some(Cmd::Rewind { shard, all: _, to }) => rewind(&cli, &config, shard.as_deref(), to).await,
            Some(cmd @ (Cmd::Tail { .. } | Cmd::Trace { .. } | Cmd::Dlq { .. })) => operate(&cli, &config, cmd).await,
            Some(Cmd::Stop) => stop_service(&cli, &config).await,
            None => run(&cli, &config, stop).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("courier: {e:?}");
            ExitCode::FAILURE
        }
    }
}

fn spawn_stop_on_signals(stop: CancellationToken, run_for: Option<Duration>) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let deadline = async {
            match run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                tracing::info!("SIGTERM: stopping");
            }
            _ = deadline => tracing::info!("--for elapsed: stopping"),
        }
        stop.cancel();
        // A second signal while draining: exit now. Nothing acknowledged is
        // lost — what was not committed is read again from the checkpoints
        // by the next run.
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::warn!("second signal: exiting without finishing the drain");
        courier::ui::restore_terminal();
        eprintln!(
            "courier: second signal: exiting now without finishing the drain; \
             records not yet committed are read again from the checkpoints on the next start"
        );
        std::process::exit(130);
    });
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("courier: {e}");
    ExitCode::from(2)
}

/// A face could not reach (or claim) the socket: exit 2, or 3 when nothing runs.
fn refused(e: &SocketError) -> ExitCode {
    eprintln!("courier: {e}");
    match e {
        SocketError::NotRunning(_) => ExitCode::from(3),
        _ => ExitCode::from(2),
    }
}

fn client_error(e: &control::ClientError) -> ExitCode {
    match e {
        control::ClientError::Socket(s) => refused(s),
        other => {
            eprintln!("courier: {other}");
            ExitCode::from(2)
        }
    }
}

fn socket_of(cli: &Cli, config: &Config) -> Result<PathBuf, SocketError> {
    let data_dir = config.resolve_data_dir(cli.data_dir.as_deref());
    socket::resolve(&data_dir, cli.socket.as_deref().or(config.service.socket.as_deref()))
}

/// The socket of a running engine, if one answers (a face that can also
/// work without one, like `query`, goes on without it).
async fn live_socket(cli: &Cli, config: &Config) -> Result<Option<PathBuf>, SocketError> {
    let path = match socket_of(cli, config) {
        Ok(p) => p,
        // No socket can exist at a path too long for one (unless --socket).
        Err(SocketError::TooLong { .. }) if cli.socket.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(socket::is_live(&path).await?.then_some(path))
}

fn init_logging(filter: &str, file: Option<&std::path::Path>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let opened = file.and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
    });
    match opened {
        Some(f) => builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).init(),
        None if file.is_some() => builder.with_writer(std::io::sink).init(),
        None => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}

async fn run(cli: &Cli, config: &Config, stop: CancellationToken) -> Result<ExitCode> {
    let data_dir = config.resolve_data_dir(cli.data_dir.as_deref());
    let socket_path = match socket_of(cli, config) {
        Ok(p) => p,
        Err(e) => return Ok(refused(&e)),
    };
    // One engine per data dir: a console on a running one attaches to it.
    if !cli.no_tui && matches!(socket::is_live(&socket_path).await, Ok(true)) {
        return attach(cli, config, &socket_path, stop).await;
    }
    let opts = courier::service::FaceOptions {
        metrics: cli.metrics.or(config.service.metrics),
        kinesis_endpoint: cli.kinesis_endpoint.or(config.service.kinesis_endpoint),
        allow_remote: cli.allow_remote,
        attach_read_only: cli.attach_read_only || config.service.attach_read_only,
    };
    if let Err(e) = opts.check() {
        eprintln!("courier: {e}");
        return Ok(ExitCode::from(2));
    }
    let listener = match socket::claim(&socket_path).await {
        Ok(l) => l,
        Err(e) => return Ok(refused(&e)),
    };
    let paths = EmbeddedPaths::new(&data_dir);
    let (ports, stream) = match setup::ports(config, &paths).await {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&socket_path);
            return Err(e);
        }
    };
    if let Some(stream) = &stream {
        setup::spawn_retention(std::sync::Arc::clone(stream));
    }
    let settings = setup::engine_settings(config, &paths, cli.rate, cli.paused, cli.read_only);
    let faces_ports = ports.clone();
    let operator = std::sync::Arc::new(ops::LocalOperator {
        stream: std::sync::Arc::clone(&ports.stream),
        warehouse: std::sync::Arc::clone(&ports.warehouse),
        schema: config.schema(),
        read_only: cli.read_only || config.read_only,
    });
    let engine = courier::engine::start(settings, ports);
    let faces = courier::service::Faces::start(
        config,
        &opts,
        socket_path.clone(),
        listener,
        &engine,
        faces_ports,
        stream.map(|s| (paths.stream_dir.clone(), s)),
        data_dir.display().to_string(),
    )
    .await;
    let faces = match faces {
        Ok(f) => f,
        Err(e) => {
            eprintln!("courier: {e:#}");
            engine.stop();
            let _ = engine.wait().await;
            let _ = std::fs::remove_file(&socket_path);
            return Ok(ExitCode::from(2));
        }
    };
    tracing::info!(socket = %faces.socket().display(), "control socket listening");
    if cli.no_tui {
        eprintln!(
            "courier: running on {}; control socket {}{}{}",
            data_dir.display(),
            faces.socket().display(),
            faces
                .metrics
                .map_or(String::new(), |a| format!("; metrics http://{a}/metrics")),
            faces
                .kinesis
                .map_or(String::new(), |a| format!("; Kinesis endpoint http://{a}")),
        );
    }
    control::notify_service_manager("READY=1");
    let outcome = if cli.no_tui {
        courier::headless::run(engine, cli.json, stop).await.map(|s| (s, None))
    } else {
        console(engine, config, stop, operator).await
    };
    control::notify_service_manager("STOPPING=1");
    match outcome {
        Ok((summary, ui_error)) => {
            faces.finish(Ok(summary.clone())).await;
            if let Some(e) = ui_error {
                return Err(e);
            }
            Ok(if summary.drained {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(e) => {
            let e = std::sync::Arc::new(e);
            faces.finish(Err(std::sync::Arc::clone(&e))).await;
            Err(e.into())
        }
    }
}

fn app_for(config: &Config) -> Result<App> {
    let keymap = config.keymap().wrap_err("key bindings")?;
    let lag = LagThresholds {
        warn_ms: config.ui.lag_warn_ms,
        crit_ms: config.ui.lag_crit_ms,
    };
    Ok(App::new(keymap, lag, courier::ui::colour_enabled()))
}

/// The console over the in-process engine. Quitting it stops the engine it
/// hosts (drained; the summary prints once the terminal is restored); to
/// leave a pipeline running, run it with --no-tui and attach.
async fn console(
    engine: courier::engine::EngineHandle,
    config: &Config,
    stop: CancellationToken,
    operator: std::sync::Arc<ops::LocalOperator>,
) -> Result<(courier::engine::Summary, Option<color_eyre::Report>), courier::engine::EngineError> {
    let ui_result = match app_for(config) {
        Ok(app) => {
            let link = Link {
                snapshots: engine.snapshots.clone(),
                commands: engine.commands.clone(),
                notices: None,
                ops: Some(operator),
            };
            courier::ui::run(link, app, Duration::from_millis(config.ui.tick_ms), stop).await
        }
        Err(e) => Err(e),
    };
    eprintln!("courier: stopping — draining what was acknowledged…");
    engine.stop();
    let summary = engine.wait().await?;
    println!("{}", courier::headless::summary_line(&summary));
    Ok((summary, ui_result.err()))
}

/// A console attached to the engine behind `path`: `q` detaches.
async fn attach(cli: &Cli, config: &Config, path: &Path, stop: CancellationToken) -> Result<ExitCode> {
    let client = match Client::connect(path, Role::Console, cli.read_only).await {
        Ok(c) => c,
        Err(e) => return Ok(client_error(&e)),
    };
    let tick = Duration::from_millis(config.ui.tick_ms);
    let attached = match client.attach(tick).await {
        Ok(a) => a,
        Err(e) => return Ok(client_error(&e)),
    };
    let mut app = app_for(config)?;
    app.attached = true;
    let (pid, ended) = (attached.welcome.pid, std::sync::Arc::clone(&attached.ended));
    let link = Link {
        snapshots: attached.snapshots,
        commands: attached.commands,
        notices: Some(attached.notices),
        ops: Some(std::sync::Arc::new(control::client::SocketOperator {
            path: path.to_path_buf(),
            read_only: attached.welcome.read_only,
        })),
    };
    let exit = courier::ui::run(link, app, tick, stop).await?;
    let end = ended.locked().clone();
    match (exit, end) {
        (Exit::EngineGone, Some(LinkEnd::Stopped(summary))) => {
            eprintln!("courier: the service stopped; this console closed");
            println!("{}", courier::headless::summary_line(&summary));
            Ok(ExitCode::SUCCESS)
        }
        (Exit::EngineGone, lost) => {
            let why = match lost {
                Some(LinkEnd::Lost(m)) => m,
                _ => "the connection closed".into(),
            };
            eprintln!("courier: lost the service (pid {pid}): {why}");
            Ok(ExitCode::FAILURE)
        }
        _ => {
            eprintln!(
                "courier: detached; the service keeps running (pid {pid}, socket {})",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn status(cli: &Cli, config: &Config, json: bool) -> Result<ExitCode> {
    let data_dir = config.resolve_data_dir(cli.data_dir.as_deref());
    let path = match live_socket(cli, config).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"running": false, "data_dir": data_dir.display().to_string()})
                );
            } else {
                println!("courier: not running on {}", data_dir.display());
            }
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Ok(refused(&e)),
    };
    let mut client = match Client::connect(&path, Role::Status, true).await {
        Ok(c) => c,
        Err(e) => return Ok(client_error(&e)),
    };
    let snap = match client.snapshot().await {
        Ok(s) => s,
        Err(e) => return Ok(client_error(&e)),
    };
    if json {
        let mut v = courier::headless::status_json(&snap);
        v["running"] = serde_json::Value::Bool(true);
        v["pid"] = client.welcome.pid.into();
        v["socket"] = path.display().to_string().into();
        println!("{v}");
    } else {
        println!(
            "courier: running on {} (pid {}, socket {})",
            client.welcome.data_dir,
            client.welcome.pid,
            path.display()
        );
        println!("{}", courier::headless::status_line(&snap));
    }
    Ok(ExitCode::SUCCESS)
}

async fn stop_service(cli: &Cli, config: &Config) -> Result<ExitCode> {
    let path = match live_socket(cli, config).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            let data_dir = config.resolve_data_dir(cli.data_dir.as_deref());
            eprintln!("courier: no courier service is running on {}", data_dir.display());
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Ok(refused(&e)),
    };
    let client = match Client::connect(&path, Role::Stop, false).await {
        Ok(c) => c,
        Err(e) => return Ok(client_error(&e)),
    };
    if client.welcome.read_only {
        eprintln!("courier: stop refused: this service is read-only to its faces (stop it with SIGTERM)");
        return Ok(ExitCode::FAILURE);
    }
    let pid = client.welcome.pid;
    eprintln!("courier: stopping the service (pid {pid}): draining what was acknowledged…");
    let mut last = std::time::Instant::now();
    let summary = client
        .stop(|s| {
            if s.stopping && last.elapsed() >= Duration::from_secs(2) {
                last = std::time::Instant::now();
                eprintln!("courier: still draining — {}", courier::headless::status_line(s));
            }
        })
        .await;
    match summary {
        Ok(summary) => {
            println!("{}", courier::headless::summary_line(&summary));
            Ok(if summary.drained {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(e) => {
            eprintln!("courier: stop: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn query(cli: &Cli, config: &Config, sql: &str, format: Format, write: bool) -> Result<ExitCode> {
    let sql = if sql == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).wrap_err("reading SQL from stdin")?;
        text
    } else {
        sql.to_string()
    };
    // The running engine's own warehouse connection, when one runs.
    let live = match live_socket(cli, config).await {
        Ok(l) => l,
        Err(e) => return Ok(refused(&e)),
    };
    let result = match live {
        Some(path) => {
            let mut client = match Client::connect(&path, Role::Query, false).await {
                Ok(c) => c,
                Err(e) => return Ok(client_error(&e)),
            };
            match client.query(&sql, write).await {
                Ok(r) => r.map_err(color_eyre::Report::new),
                Err(e) => return Ok(client_error(&e)),
            }
        }
        None => {
            if !write && matches!(courier::dialect::is_read_only(&sql), Ok(false)) {
                Err(eyre!(control::server::READ_ONLY_QUERY))
            } else {
                let paths = EmbeddedPaths::new(&config.resolve_data_dir(cli.data_dir.as_deref()));
                match setup::query_warehouse(config, &paths).await {
                    Ok(w) => w.query(&sql).await.map_err(color_eyre::Report::new),
                    Err(e) => {
                        eprintln!("courier: {e:#}");
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        }
    };
    match result {
        Ok(rs) => {
            print!("{}", render(&rs, format));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("courier: query failed: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn rewind(cli: &Cli, config: &Config, shard: Option<&str>, to: &str) -> Result<ExitCode> {
    let to = match Position::parse(to, chrono::Utc::now()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("courier rewind: --to {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let path = match live_socket(cli, config).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            eprintln!(
                "courier rewind: no engine runs on this data dir; start it (`courier --no-tui`) and rewind it \
                 while it runs: its readers move at once, nothing else changes"
            );
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Ok(refused(&e)),
    };
    let mut client = match Client::connect(&path, Role::Query, cli.read_only).await {
        Ok(c) => c,
        Err(e) => return Ok(client_error(&e)),
    };
    let shard = match shard {
        None => None,
        Some(s) => {
            let snap = match client.snapshot().await {
                Ok(s) => s,
                Err(e) => return Ok(client_error(&e)),
            };
            let ids: Vec<courier::backend::ShardId> = snap
                .shards
                .iter()
                .map(|l| courier::backend::ShardId(l.shard_id.clone()))
                .collect();
            match ops::records::resolve_shard(&ids, s) {
                Ok(id) => Some(id.0),
                Err(e) => {
                    eprintln!("courier rewind: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    };
    let what = shard.clone().unwrap_or_else(|| "every shard".into());
    match client.command(courier::engine::Command::Rewind { shard, to }).await {
        Ok(()) => {
            println!(
                "rewinding {what} to {}: the readers restart from there; `courier status` shows the replay",
                to.label()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(client_error(&e)),
    }
}

/// A tail, trace or dlq command line that can't make a request (exit 2).
#[derive(Debug, thiserror::Error)]
enum Usage {
    #[error("--from {0}")]
    From(ops::PositionError),
    #[error("--before {0}")]
    Before(ops::PositionError),
    #[error("--before takes a time, e.g. 2026-12-03T10:00:00Z or 15m")]
    BeforeNotATime,
    #[error("--filter: {0}")]
    Filter(ops::records::FilterError),
    #[error("{0:?} is not an OrderID (a whole number)")]
    OrderId(String),
    #[error("not an operator command")]
    NotAnOperatorCommand,
}

/// The request a tail, trace or dlq command makes; Err is a usage error.
fn op_request(cmd: &Cmd) -> Result<OpRequest, Usage> {
    let now = chrono::Utc::now();
    Ok(match cmd {
        Cmd::Tail {
            shard,
            from,
            before,
            filter,
            limit,
            ..
        } => {
            let from = from
                .as_deref()
                .map(|f| Position::parse(f, now))
                .transpose()
                .map_err(Usage::From)?;
            let before_ms = match before.as_deref().map(|b| Position::parse(b, now)).transpose() {
                Ok(None) => None,
                Ok(Some(Position::AtTimestamp(ms))) => Some(ms),
                Ok(Some(_)) => return Err(Usage::BeforeNotATime),
                Err(e) => return Err(Usage::Before(e)),
            };
            if let Some(f) = filter {
                ops::records::Filter::parse(f).map_err(Usage::Filter)?;
            }
            OpRequest::Tail(ops::records::TailRequest {
                shard: shard.clone(),
                from,
                before_ms,
                filter: filter.clone(),
                limit: Some(*limit),
            })
        }
        Cmd::Trace { order_id, .. } => OpRequest::Trace {
            order_id: order_id.trim().parse().map_err(|_| Usage::OrderId(order_id.clone()))?,
        },
        Cmd::Dlq { action } => match action {
            DlqCmd::List {
                reason,
                shard,
                redriven,
                limit,
                ..
            } => OpRequest::DeadLetters(ops::dlq::DlqFilter {
                reason: reason.clone(),
                shard: shard.clone(),
                include_redriven: *redriven,
                limit: Some(*limit),
                ..Default::default()
            }),
            DlqCmd::Show {
                sequence_number, shard, ..
            } => OpRequest::DeadLetters(ops::dlq::DlqFilter {
                sequence_number: Some(sequence_number.clone()),
                shard: shard.clone(),
                include_redriven: true,
                ..Default::default()
            }),
            DlqCmd::Redrive { reason, shard, .. } => OpRequest::Redrive(ops::dlq::DlqFilter {
                reason: reason.clone(),
                shard: shard.clone(),
                ..Default::default()
            }),
        },
        _ => return Err(Usage::NotAnOperatorCommand),
    })
}

/// tail, trace and dlq: through the running engine, or over the backend
/// itself when none runs.
async fn operate(cli: &Cli, config: &Config, cmd: &Cmd) -> Result<ExitCode> {
    let name = match cmd {
        Cmd::Tail { .. } => "tail",
        Cmd::Trace { .. } => "trace",
        _ => "dlq",
    };
    let request = match op_request(cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("courier {name}: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if cli.read_only && request.is_mutation() {
        eprintln!("courier {name}: read-only: a redrive changes the warehouse; nothing was changed");
        return Ok(ExitCode::from(2));
    }
    let answer = match live_socket(cli, config).await {
        Err(e) => return Ok(refused(&e)),
        Ok(Some(path)) => {
            let mut client = match Client::connect(&path, Role::Query, cli.read_only).await {
                Ok(c) => c,
                Err(e) => return Ok(client_error(&e)),
            };
            match client.op(request.clone()).await {
                Ok(r) => r.map_err(color_eyre::Report::new),
                Err(e) => return Ok(client_error(&e)),
            }
        }
        Ok(None) => {
            let paths = EmbeddedPaths::new(&config.resolve_data_dir(cli.data_dir.as_deref()));
            match setup::operator_ports(config, &paths).await {
                Ok(ports) => ops::run(
                    &request,
                    ports.stream.as_ref(),
                    ports.warehouse.as_ref(),
                    &config.schema(),
                )
                .await
                .map_err(color_eyre::Report::new),
                Err(e) => Err(e),
            }
        }
    };
    let reply = match answer {
        Ok(r) => r,
        Err(e) => {
            eprintln!("courier {name}: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let json = matches!(
        cmd,
        Cmd::Tail { json: true, .. }
            | Cmd::Trace { json: true, .. }
            | Cmd::Dlq {
                action: DlqCmd::List { json: true, .. } | DlqCmd::Show { json: true, .. }
            }
    );
    let show_one = matches!(
        cmd,
        Cmd::Dlq {
            action: DlqCmd::Show { .. }
        }
    );
    let line = |v: &dyn erased::Json| v.line();
    match reply {
        OpReply::Records(page) if json => page.records.iter().for_each(|r| println!("{}", line(r))),
        OpReply::Records(page) => print!("{}", ops::show::records(&page)),
        OpReply::Trace(t) => {
            if json {
                println!("{}", line(&*t));
            } else {
                print!("{}", ops::show::trace(&t));
            }
            if !t.found() {
                eprintln!(
                    "courier trace: order {} is not in the stream, factOrders or the dead letters",
                    t.order_id
                );
                return Ok(ExitCode::from(1));
            }
        }
        OpReply::DeadLetters(list) if show_one => match list.first() {
            None => {
                eprintln!("courier dlq show: no dead letter with that sequence number");
                return Ok(ExitCode::from(1));
            }
            Some(d) if json => println!("{}", line(d)),
            Some(d) => print!("{}", ops::show::dead_letter(d)),
        },
        OpReply::DeadLetters(list) if json => list.iter().for_each(|d| println!("{}", line(d))),
        OpReply::DeadLetters(list) => print!("{}", ops::show::dead_letters(&list)),
        OpReply::Redriven(r) => print!("{}", ops::show::redriven(&r)),
    }
    Ok(ExitCode::SUCCESS)
}

/// One JSON line of any answer.
mod erased {
    pub trait Json {
        fn line(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn line(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

fn render(rs: &ResultSet, format: Format) -> String {
    match format {
        Format::Table => courier::table::aligned(rs),
        Format::Csv => courier::table::csv(rs),
        Format::Json => courier::table::json_lines(rs),
    }
}
