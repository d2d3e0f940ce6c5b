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
use crate::backend::{StartPosition, Stream, Warehouse};

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

/// Who answers a console's operator requests: the engine's own ports in
/// process, or the service over its socket when attached.
#[async_trait::async_trait]
pub trait Operator: Send + Sync {
    async fn run(&self, op: OpRequest) -> Result<OpReply, String>;
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
    async fn run(&self, op: OpRequest) -> Result<OpReply, String> {
        if self.read_only && op.is_mutation() {
            return Err("read-only: a redrive changes the warehouse".into());
        }
        run(&op, self.stream.as_ref(), self.warehouse.as_ref(), &self.schema).await
    }
}

/// Answer `op` over these ports.
pub async fn run(
    op: &OpRequest,
    stream: &dyn Stream,
    warehouse: &dyn Warehouse,
    schema: &Ident,
) -> Result<OpReply, String> {
    Ok(match op {
        OpRequest::Tail(req) => OpReply::Records(records::tail(stream, req).await?),
        OpRequest::Trace { order_id } => {
            OpReply::Trace(Box::new(records::trace(stream, warehouse, schema, *order_id).await?))
        }
        OpRequest::DeadLetters(f) => OpReply::DeadLetters(dlq::list(warehouse, schema, f).await?),
        OpRequest::Redrive(f) => OpReply::Redriven(dlq::redrive(warehouse, schema, f).await?),
    })
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
    pub fn parse(s: &str, now: DateTime<Utc>) -> Result<Position, String> {
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
            let d = chrono::Duration::from_std(d).map_err(|_| format!("{t:?} is too long ago"))?;
            now.checked_sub_signed(d)
                .ok_or_else(|| format!("{t:?} is too long ago"))?
        } else {
            return Err(format!(
                "{t:?} is not a position: use trim_horizon, latest, a UTC time like 2026-12-03T10:00:00Z, \
                 or a time ago like 15m"
            ));
        };
        if at > now {
            return Err(format!(
                "{} is in the future (now is {}): no record has arrived there yet",
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                now.format("%Y-%m-%d %H:%M:%S UTC")
            ));
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
        assert!(at("2027-01-01T00:00:00Z").unwrap_err().contains("in the future"));
        assert!(at("yesterday-ish").unwrap_err().contains("not a position"));
        assert_eq!(timestamp_ms("2026-12-03 11:50:00"), Some(ten));
    }
}
