//! The face side of the control socket: `courier attach`, `query`, `status`
//! and `stop` talk to a running service through a [`Client`]. An attached
//! console gets the same `watch` of snapshots and `mpsc` of commands as an
//! in-process one, so it renders and steers exactly the same way.

use crate::sync::LockExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::BufReader;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use super::protocol::{self, Hello, MAX_REPLY_LINE, PROTOCOL, RemoteError, Reply, Request, Role, Welcome, WireError};
use super::socket::{self, SocketError};
use crate::backend::ResultSet;
use crate::engine::{Command, Snapshot, Summary};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("the service refused: {0}")]
    Refused(String),
    #[error("the service closed the connection")]
    Closed,
    #[error("the control socket's answer was not understood: {0}")]
    Protocol(String),
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Closed => ClientError::Closed,
            WireError::Io(e) => ClientError::Io(e),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    pub welcome: Welcome,
}

/// How an attached console's link to the service ended.
#[derive(Debug, Clone)]
pub enum LinkEnd {
    /// The service stopped (drained and checkpointed).
    Stopped(Summary),
    /// The service reported an error or the connection broke.
    Lost(String),
}

/// A console's link to a running service.
pub struct Attached {
    pub snapshots: watch::Receiver<Snapshot>,
    pub commands: mpsc::Sender<Command>,
    /// Refusals from the service, to show in the footer.
    pub notices: mpsc::Receiver<String>,
    /// Set once the link ends (the snapshot channel closes then).
    pub ended: Arc<Mutex<Option<LinkEnd>>>,
    pub welcome: Welcome,
}

impl Client {
    /// Connect to the service on `path` and say hello.
    pub async fn connect(path: &Path, role: Role, read_only: bool) -> Result<Self, ClientError> {
        let stream = socket::connect(path).await?;
        let (read, writer) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
            welcome: Welcome {
                courier_protocol: PROTOCOL,
                version: String::new(),
                pid: 0,
                read_only,
                data_dir: String::new(),
            },
        };
        let hello = Request::Hello(Hello {
            courier_protocol: PROTOCOL,
            role,
            read_only,
        });
        client.send(&hello).await?;
        match client.recv().await? {
            Reply::Welcome(w) if w.courier_protocol == PROTOCOL => client.welcome = w,
            Reply::Welcome(w) => {
                return Err(ClientError::Protocol(format!(
                    "the service speaks control protocol {}, this courier {PROTOCOL}",
                    w.courier_protocol
                )));
            }
            Reply::Error { message } => return Err(ClientError::Refused(message)),
            other => return Err(ClientError::Protocol(format!("expected a welcome, got {other:?}"))),
        }
        Ok(client)
    }

    async fn send(&mut self, r: &Request) -> Result<(), ClientError> {
        protocol::write_message(&mut self.writer, r)
            .await
            .map_err(ClientError::Io)
    }

    async fn recv(&mut self) -> Result<Reply, ClientError> {
        let line = protocol::read_line(&mut self.reader, MAX_REPLY_LINE).await?;
        serde_json::from_str(&line).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// The service's current snapshot.
    pub async fn snapshot(&mut self) -> Result<Snapshot, ClientError> {
        self.send(&Request::Snapshot).await?;
        match self.recv().await? {
            Reply::Snapshot(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// Run SQL on the service's warehouse: `Ok(Err(message))` is the SQL's own error.
    pub async fn query(&mut self, sql: &str, write: bool) -> Result<Result<ResultSet, RemoteError>, ClientError> {
        self.send(&Request::Query {
            sql: sql.to_string(),
            write,
        })
        .await?;
        match self.recv().await? {
            Reply::Result(rs) => Ok(Ok(rs)),
            Reply::QueryError { message } => Ok(Err(RemoteError(message))),
            other => Err(unexpected(other)),
        }
    }

    /// An operator action through the service: `Ok(Err(message))` is its own failure.
    pub async fn op(
        &mut self,
        op: crate::ops::OpRequest,
    ) -> Result<Result<crate::ops::OpReply, RemoteError>, ClientError> {
        self.send(&Request::Op(op)).await?;
        match self.recv().await? {
            Reply::Op(r) => Ok(Ok(r)),
            Reply::OpError { message } => Ok(Err(RemoteError(message))),
            other => Err(unexpected(other)),
        }
    }

    /// Send one command; an error if it was refused.
    pub async fn command(&mut self, c: Command) -> Result<(), ClientError> {
        self.send(&Request::Command(c)).await?;
        match self.recv().await? {
            Reply::Accepted => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Ask the service to stop; waits while it drains, returns its summary.
    /// `progress` sees each snapshot meanwhile.
    pub async fn stop(mut self, mut progress: impl FnMut(&Snapshot)) -> Result<Summary, ClientError> {
        self.send(&Request::Subscribe { every_ms: 1000 }).await?;
        self.send(&Request::Command(Command::StopService)).await?;
        loop {
            match self.recv().await? {
                Reply::Snapshot(s) => progress(&s),
                Reply::Accepted => {}
                Reply::Stopped(summary) => return Ok(summary),
                other => return Err(unexpected(other)),
            }
        }
    }

    /// Subscribe (a snapshot at most every `every`) and hand back channels
    /// a console runs on.
    pub async fn attach(mut self, every: std::time::Duration) -> Result<Attached, ClientError> {
        self.send(&Request::Subscribe {
            every_ms: every.as_millis() as u64,
        })
        .await?;
        let first = match self.recv().await? {
            Reply::Snapshot(s) => *s,
            other => return Err(unexpected(other)),
        };
        let (snap_tx, snapshots) = watch::channel(first);
        let (commands, mut cmd_rx) = mpsc::channel::<Command>(64);
        let (notice_tx, notices) = mpsc::channel::<String>(16);
        let ended = Arc::new(Mutex::new(None));
        let welcome = self.welcome.clone();
        let Client {
            mut reader, mut writer, ..
        } = self;
        let end = Arc::clone(&ended);
        // Reading and writing are separate tasks: a read cut off by select!
        // would lose a half-read line.
        let reader_task = tokio::spawn(async move {
            let outcome = loop {
                let reply = match protocol::read_line(&mut reader, MAX_REPLY_LINE).await {
                    Ok(l) => serde_json::from_str::<Reply>(&l).map_err(|e| e.to_string()),
                    Err(WireError::Closed) => break LinkEnd::Lost("the service closed the connection".into()),
                    Err(e) => Err(e.to_string()),
                };
                match reply {
                    Ok(Reply::Snapshot(s)) => {
                        let _ = snap_tx.send(*s);
                    }
                    Ok(Reply::Accepted) => {}
                    Ok(Reply::Refused { message }) => {
                        let _ = notice_tx.try_send(message);
                    }
                    Ok(Reply::Stopped(summary)) => break LinkEnd::Stopped(summary),
                    Ok(Reply::Error { message }) => break LinkEnd::Lost(message),
                    Ok(other) => break LinkEnd::Lost(format!("unexpected message {other:?}")),
                    Err(e) => break LinkEnd::Lost(format!("connection broken: {e}")),
                }
            };
            *end.locked() = Some(outcome);
            drop(snap_tx);
        });
        tokio::spawn(async move {
            while let Some(c) = cmd_rx.recv().await {
                if protocol::write_message(&mut writer, &Request::Command(c))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // The console quit: detach (the service sees the connection close).
            reader_task.abort();
        });
        Ok(Attached {
            snapshots,
            commands,
            notices,
            ended,
            welcome,
        })
    }
}

fn unexpected(reply: Reply) -> ClientError {
    match reply {
        Reply::Refused { message } | Reply::Error { message } => ClientError::Refused(message),
        other => ClientError::Protocol(format!("unexpected answer {other:?}")),
    }
}

/// A console's operator requests sent to the service, one connection each.
pub struct SocketOperator {
    pub path: std::path::PathBuf,
    pub read_only: bool,
}

#[async_trait::async_trait]
impl crate::ops::Operator for SocketOperator {
    async fn run(&self, op: crate::ops::OpRequest) -> Result<crate::ops::OpReply, crate::ops::OpFailure> {
        let unreachable = |e: ClientError| crate::ops::OpFailure(e.to_string());
        let mut client = Client::connect(&self.path, Role::Console, self.read_only)
            .await
            .map_err(unreachable)?;
        Ok(client.op(op).await.map_err(unreachable)??)
    }
}
