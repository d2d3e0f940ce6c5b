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
    /// Move the running engine's checkpoints: its readers drop what they have
    /// not committed and read again from POSITION. Replayed records change
    /// nothing already current (newer events win).
    #[command(group(clap::ArgGroup::new("which").required(true).args(["shard", "all"])))]
    Rewind {
        /// The shard (`shardId-000000000001` or `1`).
        #[arg(long, value_name = "ID")]
        shard: Option<String>,
        /// Every shard.
        #[arg(long)]
        all: bool,
        /// trim_horizon, latest, a UTC time (2026-12-03T10:00:00Z) or a time ago (15m).
        #[arg(long, value_name = "POSITION")]
        to: String,
    },
    /// Print a shard's records (default: the newest, of every shard), decoded.
    Tail {
        /// The shard (`shardId-000000000001` or `1`); default every shard.
        #[arg(long, value_name = "ID")]
        shard: Option<String>,
        /// Read forward from here: trim_horizon, latest, a UTC time or a time ago.
        #[arg(long, value_name = "POSITION")]
        from: Option<String>,
        /// Only records that arrived before this time (page back).
        #[arg(long, value_name = "TIME")]
        before: Option<String>,
        /// Text the record contains, or Field=value (e.g. OrderStatus=Cancelled).
        #[arg(long, value_name = "FILTER")]
        filter: Option<String>,
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        /// One JSON object per record.
        #[arg(long)]
        json: bool,
    },
    /// Show an order's journey: its shard, its events in the stream, its row, its dead letters.
    Trace {
        /// The OrderID.
        order_id: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Dead letters: list, show, redrive.
    Dlq {
        #[command(subcommand)]
        action: DlqCmd,
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

#[derive(Subcommand, Debug)]
pub enum DlqCmd {
    /// List dead letters not yet redriven, oldest first.
    List {
        /// Only those whose reason contains TEXT.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        #[arg(long, value_name = "ID")]
        shard: Option<String>,
        /// Also those already redriven.
        #[arg(long)]
        redriven: bool,
        #[arg(short = 'n', long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per dead letter.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter in full (payload decoded).
    Show {
        /// Its sequence number.
        sequence_number: String,
        #[arg(long, value_name = "ID")]
        shard: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Parse dead letters again and load those that pass (after a fix);
    /// they are marked redriven, those that fail again keep the new reason.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["reason", "all"])))]
    Redrive {
        /// Only those whose reason contains TEXT.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Every dead letter not yet redriven.
        #[arg(long)]
        all: bool,
        #[arg(long, value_name = "ID")]
        shard: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// A `--for` value that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a duration like 30s or 5m: {why}")]
pub struct BadDuration {
    pub given: String,
    pub why: String,
}

pub fn parse_duration(s: &str) -> Result<Duration, BadDuration> {
    humantime::parse_duration(s).map_err(|e| BadDuration {
        given: s.to_string(),
        why: e.to_string(),
    })
}
