//! The control socket's wire format: JSON lines, one message a line, and a
//! handshake first that names the protocol version. A client of another
//! version, or one that is not a courier client at all, gets an `error`
//! line saying so and the connection closes; the service keeps running.
//!
//! Client → service: `{"hello":{"courier_protocol":1,"role":"console","read_only":false}}`,
//! then `{"subscribe":{"every_ms":250}}`, `"snapshot"`, `{"command":"pause_generator"}`,
//! `{"query":{"sql":"SELECT 1","write":false}}`, `{"op":{"trace":{"order_id":7}}}`.
//! Service → client: `{"welcome":{…}}`, then `{"snapshot":{…}}`, `"accepted"`,
//! `{"refused":{"message":…}}`, `{"result":{…}}`, `{"query_error":{…}}`,
//! `{"stopped":{…summary…}}` as the service ends, `{"error":{"message":…}}`.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::backend::ResultSet;
use crate::engine::{Command, Snapshot, Summary};

/// Bumped whenever a message changes shape.
pub const PROTOCOL: u32 = 1;
/// Longest line a client may send (SQL included).
pub const MAX_REQUEST_LINE: usize = 1 << 20;
/// Longest line the service sends (a query result is one line).
pub const MAX_REPLY_LINE: usize = 256 << 20;

/// What the client is, for the service's log and its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Console,
    Query,
    Status,
    Stop,
    Bench,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub courier_protocol: u32,
    pub role: Role,
    /// Ask for a read-only connection (mutations refused).
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub courier_protocol: u32,
    /// The service's courier version.
    pub version: String,
    pub pid: u32,
    /// Whether this connection may change nothing (asked for, or the
    /// service allows read-only attaches only, or the service is read-only).
    pub read_only: bool,
    pub data_dir: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    /// Send new snapshots from now on, at most one per `every_ms` (a
    /// console redraws at its tick; more would be parsed for nothing).
    Subscribe {
        #[serde(default)]
        every_ms: u64,
    },
    /// Send the current snapshot once.
    Snapshot,
    Command(Command),
    /// Run SQL on the service's warehouse; read-only unless `write`.
    Query {
        sql: String,
        write: bool,
    },
    /// Tail, trace, list or redrive dead letters through the engine's ports.
    Op(crate::ops::OpRequest),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Welcome(Welcome),
    Snapshot(Box<Snapshot>),
    /// The command was handed to the engine.
    Accepted,
    Refused {
        message: String,
    },
    Result(ResultSet),
    QueryError {
        message: String,
    },
    Op(crate::ops::OpReply),
    /// The operation failed or was refused (the connection stays).
    OpError {
        message: String,
    },
    /// The engine finished (drained and checkpointed); the connection closes.
    Stopped(Summary),
    /// A protocol error or the engine's failure; the connection closes.
    Error {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection closed")]
    Closed,
    #[error("a line longer than {0} bytes")]
    TooLong(usize),
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Read one line of at most `max` bytes (without its newline).
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Result<String, WireError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return if line.is_empty() {
                Err(WireError::Closed)
            } else {
                Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()))
            };
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max + 1 {
            return Err(WireError::TooLong(max));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return String::from_utf8(line).map_err(|_| WireError::NotUtf8);
        }
    }
}

/// Write one message as a line.
pub async fn write_message<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await?;
    w.flush().await
}

/// Parse a client's first line: a hello of this protocol version, or an
/// error that says what was wrong with it.
pub fn parse_hello(line: &str) -> Result<Hello, String> {
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("not a courier control client: the first line is not JSON ({e})"))?;
    let hello = value.get("hello").ok_or_else(|| {
        "not a courier control client: the first line must be {\"hello\":{\"courier_protocol\":1,…}}".to_string()
    })?;
    match hello.get("courier_protocol").and_then(serde_json::Value::as_u64) {
        Some(v) if v == PROTOCOL as u64 => {}
        Some(v) => {
            return Err(format!(
                "control protocol {v} is not spoken here: this service (courier {}) speaks protocol {PROTOCOL}; \
                 use the courier binary that started it",
                env!("CARGO_PKG_VERSION")
            ));
        }
        None => return Err("the hello has no courier_protocol version".into()),
    }
    serde_json::from_value(hello.clone()).map_err(|e| format!("a bad hello: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_of_other_versions_and_garbage_are_named() {
        let ok = parse_hello(r#"{"hello":{"courier_protocol":1,"role":"console"}}"#).unwrap();
        assert_eq!(ok.role, Role::Console);
        assert!(!ok.read_only);
        let e = parse_hello(r#"{"hello":{"courier_protocol":7,"role":"console"}}"#).unwrap_err();
        assert!(e.contains("protocol 7") && e.contains("speaks protocol 1"), "{e}");
        assert!(parse_hello("GET / HTTP/1.1").unwrap_err().contains("not JSON"));
        assert!(parse_hello("{}").unwrap_err().contains("first line must be"));
        assert!(
            parse_hello(r#"{"hello":{"courier_protocol":1,"role":"root"}}"#)
                .unwrap_err()
                .contains("bad hello")
        );
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let mut r = tokio::io::BufReader::new(&b"abc\nlonger than four\n"[..]);
        assert_eq!(read_line(&mut r, 4).await.unwrap(), "abc");
        assert!(matches!(read_line(&mut r, 4).await, Err(WireError::TooLong(4))));
        let mut empty = tokio::io::BufReader::new(&b""[..]);
        assert!(matches!(read_line(&mut empty, 4).await, Err(WireError::Closed)));
    }

    #[test]
    fn commands_and_snapshots_round_trip() {
        let line = serde_json::to_string(&Request::Command(Command::SetRate(500))).unwrap();
        assert_eq!(line, r#"{"command":{"set_rate":500}}"#);
        let snap = Snapshot::default();
        let back: Reply =
            serde_json::from_str(&serde_json::to_string(&Reply::Snapshot(Box::new(snap))).unwrap()).unwrap();
        assert!(matches!(back, Reply::Snapshot(_)));
    }
}
