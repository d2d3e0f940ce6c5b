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

/// Text the other end answered as its error: a query's or an operator
/// action's own failure. On the wire it is only the text (a JSON string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
#[serde(transparent)]
pub struct RemoteError(pub String);

impl From<&crate::ops::OpError> for RemoteError {
    fn from(e: &crate::ops::OpError) -> Self {
        RemoteError(e.to_string())
    }
}

impl From<RemoteError> for crate::ops::OpFailure {
    fn from(e: RemoteError) -> Self {
        crate::ops::OpFailure(e.0)
    }
}

/// Why a client's first line is not a hello this service takes.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    #[error("not a courier control client: the first line is not JSON ({0})")]
    NotJson(serde_json::Error),
    #[error("not a courier control client: the first line must be {{\"hello\":{{\"courier_protocol\":1,…}}}}")]
    NoHello,
    #[error(
        "control protocol {0} is not spoken here: this service (courier {version}) speaks protocol {PROTOCOL}; \
         use the courier binary that started it",
        version = env!("CARGO_PKG_VERSION")
    )]
    OtherVersion(u64),
    #[error("the hello has no courier_protocol version")]
    NoVersion,
    #[error("a bad hello: {0}")]
    Bad(serde_json::Error),
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
pub fn parse_hello(line: &str) -> Result<Hello, HelloError> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(HelloError::NotJson)?;
    let hello = value.get("hello").ok_or(HelloError::NoHello)?;
    match hello.get("courier_protocol").and_then(serde_json::Value::as_u64) {
        Some(v) if v == PROTOCOL as u64 => {}
        Some(v) => return Err(HelloError::OtherVersion(v)),
        None => return Err(HelloError::NoVersion),
    }
    serde_json::from_value(hello.clone()).map_err(HelloError::Bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_of_other_versions_and_garbage_are_named() {
        let ok = parse_hello(r#"{"hello":{"courier_protocol":1,"role":"console"}}"#).unwrap();
        assert_eq!(ok.role, Role::Console);
        assert!(!ok.read_only);
        let e = parse_hello(r#"{"hello":{"courier_protocol":7,"role":"console"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("protocol 7") && e.contains("speaks protocol 1"), "{e}");
        assert!(
            e.ends_with("speaks protocol 1; use the courier binary that started it"),
            "{e}"
        );
        let text = |line: &str| parse_hello(line).unwrap_err().to_string();
        assert!(text("GET / HTTP/1.1").starts_with("not a courier control client: the first line is not JSON ("));
        assert_eq!(
            text("{}"),
            r#"not a courier control client: the first line must be {"hello":{"courier_protocol":1,…}}"#
        );
        assert_eq!(
            text(r#"{"hello":{"role":"console"}}"#),
            "the hello has no courier_protocol version"
        );
        assert!(text(r#"{"hello":{"courier_protocol":1,"role":"root"}}"#).starts_with("a bad hello: "));
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
    fn remote_errors_are_only_text_on_the_wire() {
        let e = RemoteError("no shard \"7\"".into());
        assert_eq!(serde_json::to_string(&e).unwrap(), r#""no shard \"7\"""#);
        assert_eq!(
            serde_json::from_str::<RemoteError>(r#""x""#).unwrap(),
            RemoteError("x".into())
        );
        assert_eq!(e.to_string(), "no shard \"7\"");
        // A protocol-1 op error line is unchanged.
        let line = serde_json::to_string(&Reply::OpError {
            message: RemoteError::from(&crate::ops::OpError::NoShards).0,
        })
        .unwrap();
        assert_eq!(line, r#"{"op_error":{"message":"the stream has no shards"}}"#);
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
