//! The command line's shape: flags, subcommands, formats. `main` wires them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

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
pub struct Cli {
    /// Config file (default: <config dir>/courier/config.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the embedded default keeps its stream, objects and warehouse.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run without the console: one status line per second, a summary at the end.
    #[arg(long)]
    pub no_tui: bool,
    /// With --no-tui: print each status line (and the summary) as one JSON object.
    #[arg(long, requires = "no_tui")]
    pub json: bool,
    /// Stop after this long (e.g. 30s, 5m); default: until SIGINT/SIGTERM.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,
    /// Target generator rate, events per second (overrides generator.rate).
    #[arg(long, value_name = "EVENTS_PER_SEC")]
    pub rate: Option<u32>,
    /// Start with the generator paused.
    #[arg(long)]
    pub paused: bool,
    /// Observe only: refuse reloads and generator control (with `attach`: a watching console).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Control socket of the running engine (default: <data dir>/courier.sock).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Serve Prometheus /metrics and /healthz on ADDR (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Serve the running embedded stream over the Kinesis API on ADDR, for outside producers.
    #[arg(long, value_name = "ADDR")]
    pub kinesis_endpoint: Option<std::net::SocketAddr>,
    /// Let --metrics / --kinesis-endpoint (and `emulate`) bind non-loopback addresses.
    #[arg(long, global = true)]
    pub allow_remote: bool,
    /// Consoles that attach to this service may only watch.
    #[arg(long)]
    pub attach_read_only: bool,
    /// Log filter (also RUST_LOG), e.g. info, courier=debug.
    #[arg(long, global = true, default_value = "warn", value_name = "FILTER")]
    pub log: String,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
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
    },
    /// Run SQL (Redshift dialect) against the configured warehouse and print the result.
    Query {
        /// The SQL to run (several statements may be separated by `;`), or `-` to read it from stdin.
        #[arg(allow_hyphen_values = true)]
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Allow SQL that changes the warehouse (refused otherwise).
        #[arg(long)]
        write: bool,
    },
    /// Attach a console to the engine running on this data dir (or --socket);
    /// `q` detaches and leaves it running.
    Attach,
    /// Print the running engine's status (exit 3 when none runs).
    Status {
        /// One JSON object instead of a status line.
        #[arg(long)]
        json: bool,
    },
    /// Stop the engine running on this data dir: it drains and checkpoints;
    /// prints its summary.
    Stop,
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
pub enum Format {
    Table,
    Csv,
    Json,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration like 30s or 5m: {e}"))
}
