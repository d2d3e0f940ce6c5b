//! The `courier` command line: parse flags, load config, build the ports,
//! start the engine, and hand it to a front end (console or headless).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use color_eyre::eyre::{Result, eyre};

use courier::backend::ResultSet;
use courier::config::{Config, ConfigError};
use courier::engine::EngineHandle;
use courier::setup::{self, EmbeddedPaths};
use courier::ui::app::{App, LagThresholds};

#[derive(Parser, Debug)]
#[command(
    name = "courier",
    version,
    about = "Run and watch a real-time food-delivery analytics pipeline",
    long_about = "courier runs a food-delivery analytics pipeline — order generator → stream → \
                  exactly-once ingester → warehouse, with dimension loads and live dashboard \
                  queries — and shows it live in a terminal console, or headless with --no-tui.\n\n\
                  With no AWS account it runs on the embedded default: a DuckDB warehouse, a \
                  directory as object store and an embedded stream with Kinesis semantics.",
    after_help = "Examples:\n  courier                          open the console on the embedded default\n  \
                  courier --no-tui --for 30s --json   run headless for 30 s, JSON status lines\n  \
                  courier query \"SELECT COUNT(*) FROM food_delivery_datamart.factOrders\""
)]
struct Cli {
    /// Config file (default: <config dir>/courier/config.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the embedded default keeps its stream, objects and warehouse.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run without the console: one status line per second, a summary at the end.
    #[arg(long)]
    no_tui: bool,
    /// With --no-tui: print each status line (and the summary) as one JSON object.
    #[arg(long, requires = "no_tui")]
    json: bool,
    /// Stop after this long (e.g. 30s, 5m); default: until SIGINT/SIGTERM.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    run_for: Option<Duration>,
    /// Target generator rate, events per second (overrides generator.rate).
    #[arg(long, value_name = "EVENTS_PER_SEC")]
    rate: Option<u32>,
    /// Start with the generator paused.
    #[arg(long)]
    paused: bool,
    /// Observe only: refuse reloads and generator control.
    #[arg(long)]
    read_only: bool,
    /// Log filter (also RUST_LOG), e.g. info, courier=debug.
    #[arg(long, global = true, default_value = "warn", value_name = "FILTER")]
    log: String,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve the embedded stream over the Kinesis API and the embedded warehouse
    /// over the Redshift Data API, for the AWS backend and AWS clients, until
    /// SIGINT/SIGTERM. Data lives in --data-dir.
    Emulate {
        /// Address of the Kinesis (JSON 1.1) endpoint.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4567")]
        kinesis: std::net::SocketAddr,
        /// Address of the Redshift Data API endpoint.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4568")]
        redshift_data: std::net::SocketAddr,
        /// Where COPY … FROM 's3://…' fetches objects (default: the data dir's objects/).
        #[arg(long, value_name = "URL")]
        s3_endpoint: Option<String>,
        /// Allow non-loopback addresses (the endpoints do not check signatures).
        #[arg(long)]
        allow_remote: bool,
    },
    /// Run SQL (Redshift dialect) against the configured warehouse and print the result.
    Query {
        /// The SQL to run (several statements may be separated by `;`), or `-` to read it from stdin.
        #[arg(allow_hyphen_values = true)]
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Measure the hot paths on this machine and print figure / goal / pass
    /// (use a release build: `cargo run --release -- bench`).
    Bench {
        /// A short run (under two minutes) with smaller sizes; figures printed, not judged strictly.
        #[arg(long)]
        quick: bool,
        /// Only the measurements whose names contain WORD (e.g. ingest, generator, rss).
        #[arg(long, value_name = "WORD")]
        only: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration like 30s or 5m: {e}"))
}

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
    // The console owns the terminal: its logs go to a file in the data dir.
    let console = cli.command.is_none() && !cli.no_tui;
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
        match &cli.command {
            Some(Cmd::Query { sql, format }) => query(&cli, &config, sql, *format).await,
            Some(Cmd::Emulate {
                kinesis,
                redshift_data,
                s3_endpoint,
                allow_remote,
            }) => {
                let opts = courier::emulate::EmulateOptions {
                    data_dir: config.resolve_data_dir(cli.data_dir.as_deref()),
                    kinesis: *kinesis,
                    redshift_data: *redshift_data,
                    s3_endpoint: s3_endpoint.clone(),
                    allow_remote: *allow_remote,
                };
                let stop = tokio_util::sync::CancellationToken::new();
                let on_signal = stop.clone();
                tokio::spawn(async move {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
                    }
                    on_signal.cancel();
                });
                match courier::emulate::run(&config, opts, stop).await {
                    Ok(()) => Ok(ExitCode::SUCCESS),
                    Err(e) => {
                        eprintln!("courier emulate: {e}");
                        Ok(ExitCode::from(2))
                    }
                }
            }
            Some(Cmd::Bench { quick, only }) => {
                let figures = courier::bench::run(*quick, only.as_deref(), |step| eprintln!("bench: {step}…")).await;
                print!("{}", courier::bench::table(&figures));
                Ok(ExitCode::SUCCESS)
            }
            None => run(&cli, &config).await,
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

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("courier: {e}");
    ExitCode::from(2)
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

async fn run(cli: &Cli, config: &Config) -> Result<ExitCode> {
    let paths = EmbeddedPaths::new(&config.resolve_data_dir(cli.data_dir.as_deref()));
    let (ports, stream) = setup::ports(config, &paths).await.map_err(|e| eyre!("{e}"))?;
    if let Some(stream) = stream {
        setup::spawn_retention(stream);
    }
    let settings = setup::engine_settings(config, &paths, cli.rate, cli.paused, cli.read_only);
    let engine = courier::engine::start(settings, ports);
    if cli.no_tui {
        let summary = courier::headless::run(engine, cli.json, cli.run_for)
            .await
            .map_err(|e| eyre!("{e}"))?;
        return Ok(if summary.drained {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    console(engine, config, cli.read_only || config.read_only, cli.run_for).await
}

/// The console over the engine; on quit the engine drains and the summary
/// is printed once the terminal is restored.
async fn console(
    engine: EngineHandle,
    config: &Config,
    read_only: bool,
    run_for: Option<Duration>,
) -> Result<ExitCode> {
    let keymap = config.keymap().map_err(|e| eyre!("{e}"))?;
    let lag = LagThresholds {
        warn_ms: config.ui.lag_warn_ms,
        crit_ms: config.ui.lag_crit_ms,
    };
    let app = App::new(keymap, read_only, lag, courier::ui::colour_enabled());
    let tick = Duration::from_millis(config.ui.tick_ms);
    let ui = courier::ui::run(engine.snapshots.clone(), engine.commands.clone(), app, tick);
    let result = match run_for {
        Some(d) => tokio::time::timeout(d, ui).await.unwrap_or(Ok(())),
        None => ui.await,
    };
    eprintln!("courier: stopping — draining what was acknowledged…");
    engine.stop();
    let summary = engine.wait().await.map_err(|e| eyre!("{e}"))?;
    println!("{}", courier::headless::summary_line(&summary));
    result?;
    Ok(if summary.drained {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn query(cli: &Cli, config: &Config, sql: &str, format: Format) -> Result<ExitCode> {
    let paths = EmbeddedPaths::new(&config.resolve_data_dir(cli.data_dir.as_deref()));
    let warehouse = match setup::query_warehouse(config, &paths).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("courier: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let sql = if sql == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| eyre!("reading SQL from stdin: {e}"))?;
        text
    } else {
        sql.to_string()
    };
    match warehouse.query(&sql).await {
        Ok(rs) => {
            print!("{}", render(&rs, format));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("courier: query failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn render(rs: &ResultSet, format: Format) -> String {
    match format {
        Format::Table => courier::table::aligned(rs),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record(&rs.columns);
            for row in &rs.rows {
                let _ = w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")));
            }
            String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
        }
        Format::Json => {
            let numeric = courier::table::numeric_columns(rs);
            let mut out = String::new();
            for row in &rs.rows {
                let obj: serde_json::Map<String, serde_json::Value> = rs
                    .columns
                    .iter()
                    .zip(row)
                    .zip(&numeric)
                    .map(|((c, v), num)| {
                        let value = match v {
                            None => serde_json::Value::Null,
                            Some(s) if *num => serde_json::from_str::<serde_json::Number>(s)
                                .map_or_else(|_| serde_json::Value::String(s.clone()), serde_json::Value::Number),
                            Some(s) => serde_json::Value::String(s.clone()),
                        };
                        (c.clone(), value)
                    })
                    .collect();
                out.push_str(&serde_json::Value::Object(obj).to_string());
                out.push('\n');
            }
            out
        }
    }
}
