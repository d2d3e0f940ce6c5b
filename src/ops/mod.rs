//! Operator actions over the ports, the same whoever asks — the running
//! engine for a console or a control-socket client, or `courier` itself
//! when no engine runs: where a reader starts ([`Position`]), dead letters
//! (list, show, redrive), the records of a shard (tail) and an order's
//! journey (trace). Nothing here knows about the UI or the socket.

pub mod dlq;
pub mod records;
pub mod show;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::ident::Ident;
use crate::backend::{ShardId, StartPosition, Stream, StreamError, Warehouse, WarehouseError};

/// An operator's question or action, as the control socket carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpRequest {
    Tail(records::TailRequest),
    Trace { order_id: i64 },
    DeadLetters(dlq::DlqFilter),
    Redrive(dlq::DlqFilter),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpReply {
    Records(records::TailPage),
    Trace(Box<records::Trace>),
    DeadLetters(Vec<dlq::DeadLetterView>),
    Redriven(dlq::RedriveReport),
}

impl OpRequest {
    /// Whether it changes the warehouse (refused read-only).
    pub fn is_mutation(&self) -> bool {
        matches!(self, OpRequest::Redrive(_))
    }
}

/// Why an operator action failed: the request was refused or can't be
/// answered as asked, or the stream or the warehouse failed (which, and
/// doing what, is in the variant; the port's own error is inside).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A redrive asked of a read-only operator.
    #[error("read-only: a redrive changes the warehouse")]
    ReadOnly,
    /// A bad request: the tail's filter.
    #[error(transparent)]
    Filter(#[from] records::FilterError),
    /// A bad request: a shard the stream does not have.
    #[error(transparent)]
    Shard(#[from] records::ShardError),
    #[error("the stream has no shards")]
    NoShards,
    #[error("listing shards: {0}")]
    ListShards(StreamError),
    /// Reading a shard's records failed.
    #[error("{shard}: {error}")]
    ReadShard { shard: ShardId, error: StreamError },
    #[error("reading dead letters: {0}")]
    ReadDeadLetters(WarehouseError),
    #[error("reading factOrders: {0}")]
    ReadFacts(WarehouseError),
    /// A redrive batch failed for a reason that may pass (nothing of it
    /// was loaded; what was loaded before stays).
    #[error("redrive stopped, try again: {0}")]
    RedriveStopped(WarehouseError),
    #[error("recording the new reasons: {0}")]
    RecordReasons(WarehouseError),
    /// Looking for the table dead letters were kept in before `courier_dlq`.
    #[error("{0}")]
    FindOldTable(WarehouseError),
    #[error("moving courier_dead_letters to courier_dlq: {0}")]
    MoveOldTable(WarehouseError),
    #[error("dropping the moved courier_dead_letters: {0}")]
    DropOldTable(WarehouseError),
}

impl OpError {
    /// Refused or asked wrongly: asking the same again fails the same way.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, OpError::ReadOnly | OpError::Filter(_) | OpError::Shard(_))
    }

    /// The stream's error, when the stream failed.
    pub fn stream_error(&self) -> Option<&StreamError> {
        match self {
            OpError::ListShards(e) | OpError::ReadShard { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The warehouse's error, when the warehouse failed.
    pub fn warehouse_error(&self) -> Option<&WarehouseError> {
        match self {
            OpError::ReadDeadLetters(e)
            | OpError::ReadFacts(e)
            | OpError::RedriveStopped(e)
            | OpError::RecordReasons(e)
            | OpError::FindOldTable(e)
            | OpError::MoveOldTable(e)
            | OpError::DropOldTable(e) => Some(e),
            _ => None,
        }
    }
}

/// An operator request's failure as a console shows it: an [`OpError`]'s
/// text in process, or what the service answered (or why it could not be
/// asked) when attached. Only text: it crosses the control socket as such.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OpFailure(pub String);

impl From<OpError> for OpFailure {
    fn from(e: OpError) -> Self {
        OpFailure(e.to_string())
    }
}

/// Who answers a console's operator requests: the engine's own ports in
/// process, or the service over its socket when attached.
#[async_trait::async_trait]
pub trait Operator: Send + Sync {
    async fn run(&self, op: OpRequest) -> Result<OpReply, OpFailure>;
}

/// Operator requests answered over the engine's ports, in process.
pub struct LocalOperator {
    pub stream: std::sync::Arc<dyn Stream>,
    pub warehouse: std::sync::Arc<dyn Warehouse>,
    pub schema: Ident,
    pub read_only: bool,
}

#[async_trait::async_trait]
impl Operator for LocalOperator {
    async fn run(&self, op: OpRequest) -> Result<OpReply, OpFailure> {
        if self.read_only && op.is_mutation() {
            return Err(OpError::ReadOnly.into());
        }
        Ok(run(&op, self.stream.as_ref(), self.warehouse.as_ref(), &self.schema).await?)
    }
}

/// Answer `op` over these ports.
pub async fn run(
    op: &OpRequest,
    stream: &dyn Stream,
    warehouse: &dyn Warehouse,
    schema: &Ident,
) -> Result<OpReply, OpError> {
    Ok(match op {
        OpRequest::Tail(req) => OpReply::Records(records::tail(stream, req).await?),
        OpRequest::Trace { order_id } => {
            OpReply::Trace(Box::new(records::trace(stream, warehouse, schema, *order_id).await?))
        }
        OpRequest::DeadLetters(f) => OpReply::DeadLetters(dlq::list(warehouse, schema, f).await?),
        OpRequest::Redrive(f) => OpReply::Redriven(dlq::redrive(warehouse, schema, f).await?),
    })
}

/// Why text is not a [`Position`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error(
        "{0:?} is not a position: use trim_horizon, latest, a UTC time like 2026-12-03T10:00:00Z, \
         or a time ago like 15m"
    )]
    NotAPosition(String),
    /// A time ago further back than a time can be.
    #[error("{0:?} is too long ago")]
    TooLongAgo(String),
    #[error(
        "{} is in the future (now is {}): no record has arrived there yet",
        .at.format("%Y-%m-%d %H:%M:%S UTC"),
        .now.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    InTheFuture { at: DateTime<Utc>, now: DateTime<Utc> },
}

/// Where a shard's reader starts: with no checkpoint (`[ingester] start`),
/// after a rewind, or for a tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The oldest record the stream still holds.
    TrimHorizon,
    /// Only records put from now on.
    Latest,
    /// The first record that arrived at or after this time (ms since the epoch).
    AtTimestamp(i64),
}

impl Position {
    pub fn start(self) -> StartPosition {
        match self {
            Position::TrimHorizon => StartPosition::TrimHorizon,
            Position::Latest => StartPosition::Latest,
            Position::AtTimestamp(ms) => StartPosition::AtTimestamp(ms),
        }
    }

    /// `trim_horizon`, `latest`, a UTC time (`2026-12-03T10:00:00Z`,
    /// `2026-12-03 10:00:00`) or a time ago (`15m`, `2h ago`). A time in
    /// the future is refused: nothing has arrived there yet.
    pub fn parse(s: &str, now: DateTime<Utc>) -> Result<Position, PositionError> {
        let t = s.trim();
        match t.to_ascii_lowercase().replace('-', "_").as_str() {
            "trim_horizon" | "oldest" | "earliest" => return Ok(Position::TrimHorizon),
            "latest" | "now" => return Ok(Position::Latest),
            _ => {}
        }
        let at = if let Ok(d) = DateTime::parse_from_rfc3339(t) {
            d.with_timezone(&Utc)
        } else if let Some(n) = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        {
            n.and_utc()
        } else if let Ok(d) = humantime::parse_duration(t.trim_end_matches("ago").trim()) {
            let too_long = || PositionError::TooLongAgo(t.to_string());
            let d = chrono::Duration::from_std(d).map_err(|_| too_long())?;
            now.checked_sub_signed(d).ok_or_else(too_long)?
        } else {
            return Err(PositionError::NotAPosition(t.to_string()));
        };
        if at > now {
            return Err(PositionError::InTheFuture { at, now });
        }
        Ok(Position::AtTimestamp(at.timestamp_millis()))
    }

    pub fn label(self) -> String {
        match self {
            Position::TrimHorizon => "trim horizon".into(),
            Position::Latest => "latest".into(),
            Position::AtTimestamp(ms) => DateTime::from_timestamp_millis(ms)
                .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        }
    }
}

/// Warehouse text for a timestamp (`2026-12-03 10:00:00.123`) back to ms.
pub(crate) fn timestamp_ms(text: &str) -> Option<i64> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_the_future_is_refused() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s| Position::parse(s, now);
        assert_eq!(at("trim_horizon"), Ok(Position::TrimHorizon));
        assert_eq!(at("TRIM-HORIZON"), Ok(Position::TrimHorizon));
        assert_eq!(at("latest"), Ok(Position::Latest));
        let ten = now.timestamp_millis() - 600_000;
        assert_eq!(at("10m"), Ok(Position::AtTimestamp(ten)));
        assert_eq!(at("10m ago"), Ok(Position::AtTimestamp(ten)));
        assert_eq!(at("2026-12-03T11:50:00Z"), Ok(Position::AtTimestamp(ten)));
        assert_eq!(at("2026-12-03 11:50:00"), Ok(Position::AtTimestamp(ten)));
        let future = at("2027-01-01T00:00:00Z").unwrap_err().to_string();
        assert_eq!(
            future,
            "2027-01-01 00:00:00 UTC is in the future (now is 2026-12-03 12:00:00 UTC): \
             no record has arrived there yet"
        );
        let garbage = at("yesterday-ish").unwrap_err().to_string();
        assert_eq!(
            garbage,
            "\"yesterday-ish\" is not a position: use trim_horizon, latest, a UTC time like \
             2026-12-03T10:00:00Z, or a time ago like 15m"
        );
        assert_eq!(timestamp_ms("2026-12-03 11:50:00"), Some(ten));
    }
}
