//! The service side of the control socket: every connection is a face over
//! the running engine — it reads the engine's snapshots, hands its commands
//! to the engine and runs its queries on the engine's own warehouse. A bad
//! client (garbage, another protocol version, another user, one that stops
//! reading) gets an error line or is dropped; the service never stops for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::protocol::{self, MAX_REQUEST_LINE, PROTOCOL, Reply, Request, Welcome, WireError};
use crate::backend::ident::Ident;
use crate::backend::{Stream, Warehouse};
use crate::engine::{Command, EngineError, Snapshot, Summary};

/// A client has this long to say hello.
const HELLO_WITHIN: Duration = Duration::from_secs(5);
/// A client that does not take a line for this long is dropped.
const WRITE_WITHIN: Duration = Duration::from_secs(10);

/// How the engine ended, for the faces still attached.
pub type Ending = Option<Result<Summary, Arc<EngineError>>>;

/// A request line that is not one: the connection gets this and is closed.
#[derive(Debug, thiserror::Error)]
enum BadRequest {
    #[error("bad request: {0}")]
    Line(WireError),
    #[error("bad request: {0}")]
    Json(serde_json::Error),
}

/// What connections reach the engine through.
#[derive(Clone)]
pub struct ServiceFaces {
    pub snapshots: watch::Receiver<Snapshot>,
    pub commands: mpsc::Sender<Command>,
    pub warehouse: Arc<dyn Warehouse>,
    pub stream: Arc<dyn Stream>,
    pub schema: Ident,
    /// Only read-only attaches: every connection is read-only.
    pub attach_read_only: bool,
    pub data_dir: String,
}

/// The listening socket; [`ControlServer::finish`] tells every face how the
/// engine ended and removes the socket.
pub struct ControlServer {
    path: std::path::PathBuf,
    ending: watch::Sender<Ending>,
    accept: tokio::task::JoinHandle<JoinSet<()>>,
}

impl ControlServer {
    pub fn start(path: std::path::PathBuf, listener: tokio::net::UnixListener, faces: ServiceFaces) -> Self {
        let (ending, ending_rx) = watch::channel(None);
        let accept = tokio::spawn(accept_loop(listener, faces, ending_rx));
        ControlServer { path, ending, accept }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Send the ending to every connection, give them a moment to write it,
    /// close them and remove the socket.
    pub async fn finish(self, ending: Result<Summary, Arc<EngineError>>) {
        let _ = self.ending.send(Some(ending));
        if let Ok(mut conns) = self.accept.await {
            let all = async { while conns.join_next().await.is_some() {} };
            if tokio::time::timeout(Duration::from_secs(3), all).await.is_err() {
                conns.abort_all();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(
    listener: tokio::net::UnixListener,
    faces: ServiceFaces,
    ending: watch::Receiver<Ending>,
) -> JoinSet<()> {
    let mut conns = JoinSet::new();
    let mut done = ending.clone();
    loop {
        tokio::select! {
            _ = async { drop(done.wait_for(Option::is_some).await) } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, faces.clone(), ending.clone()));
                }
                Err(e) => {
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns
}

async fn send(w: &mut OwnedWriteHalf, reply: &Reply) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_WITHIN, protocol::write_message(w, reply)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!("control client went away: {e}");
            Err(())
        }
        Err(_) => {
            tracing::warn!(
                "control client dropped: it took no data for {}s",
                WRITE_WITHIN.as_secs()
            );
            Err(())
        }
    }
}

fn ending_reply(ending: &Ending) -> Reply {
    match ending {
        Some(Ok(summary)) => Reply::Stopped(summary.clone()),
        Some(Err(e)) => Reply::Error {
            message: format!("the service stopped: {e}"),
        },
        None => Reply::Error {
            message: "the service stopped".into(),
        },
    }
}

async fn connection(stream: UnixStream, faces: ServiceFaces, mut ending: watch::Receiver<Ending>) {
    let peer = stream.peer_cred().ok();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let me = super::socket::own_uid();
    if let Some(cred) = peer
        && cred.uid() != me
        && cred.uid() != 0
    {
        let message = format!(
            "uid {} may not use this control socket: it serves its owner (uid {me}) only",
            cred.uid()
        );
        tracing::warn!("control socket: {message}");
        let _ = send(&mut write, &Reply::Error { message }).await;
        return;
    }
    let hello = match tokio::time::timeout(HELLO_WITHIN, protocol::read_line(&mut read, MAX_REQUEST_LINE)).await {
        Err(_) => {
            let message = format!("no hello within {}s", HELLO_WITHIN.as_secs());
            let _ = send(&mut write, &Reply::Error { message }).await;
            return;
        }
        Ok(Err(WireError::Closed)) => return,
        Ok(Err(e)) => {
            let message = format!("not a courier control client: {e}");
            let _ = send(&mut write, &Reply::Error { message }).await;
            return;
        }
        Ok(Ok(line)) => match protocol::parse_hello(&line) {
            Ok(h) => h,
            Err(refused) => {
                tracing::warn!("control socket: refused a client: {refused}");
                let _ = send(
                    &mut write,
                    &Reply::Error {
                        message: refused.to_string(),
                    },
                )
                .await;
                return;
            }
        },
    };
    let read_only = hello.read_only || faces.attach_read_only || faces.snapshots.borrow().read_only;
    let welcome = Welcome {
        courier_protocol: PROTOCOL,
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        read_only,
        data_dir: faces.data_dir.clone(),
    };
    if send(&mut write, &Reply::Welcome(welcome)).await.is_err() {
        return;
    }
    tracing::info!(role = ?hello.role, read_only, "control client attached");
    // Lines are read by their own task: a read cut off by select! would lose
    // a half-read line.
    let (req_tx, mut requests) = mpsc::channel::<Result<Request, BadRequest>>(8);
    let reader = tokio::spawn(async move {
        loop {
            let parsed = match protocol::read_line(&mut read, MAX_REQUEST_LINE).await {
                Err(WireError::Closed) => return,
                Err(e) => Err(BadRequest::Line(e)),
                Ok(line) => serde_json::from_str::<Request>(&line).map_err(BadRequest::Json),
            };
            let fatal = parsed.is_err();
            if req_tx.send(parsed).await.is_err() || fatal {
                return;
            }
        }
    });
    serve_requests(&faces, read_only, &mut write, &mut requests, &mut ending).await;
    reader.abort();
}

async fn serve_requests(
    faces: &ServiceFaces,
    read_only: bool,
    write: &mut OwnedWriteHalf,
    requests: &mut mpsc::Receiver<Result<Request, BadRequest>>,
    ending: &mut watch::Receiver<Ending>,
) {
    let mut snapshots = faces.snapshots.clone();
    let mut subscribed = false;
    let mut every = Duration::ZERO;
    let mut next_send = tokio::time::Instant::now();
    let mut reading = true;
    loop {
        tokio::select! {
            _ = ending.changed() => {
                let reply = ending_reply(&ending.borrow());
                let _ = send(write, &reply).await;
                return;
            }
            changed = async {
                tokio::time::sleep_until(next_send).await;
                snapshots.changed().await
            }, if subscribed => {
                if changed.is_err() {
                    // The engine stopped publishing: wait for how it ended.
                    let _ = ending.wait_for(Option::is_some).await;
                    let reply = ending_reply(&ending.borrow());
                    let _ = send(write, &reply).await;
                    return;
                }
                let snap = as_seen(snapshots.borrow_and_update().clone(), read_only);
                next_send = tokio::time::Instant::now() + every;
                if send(write, &Reply::Snapshot(Box::new(snap))).await.is_err() {
                    return;
                }
            }
            request = requests.recv(), if reading => {
                let request = match request {
                    // Half-closed: nothing more will come, but a subscriber still reads.
                    None if subscribed => { reading = false; continue; }
                    None => return,
                    Some(Err(bad)) => {
                        let _ = send(write, &Reply::Error { message: bad.to_string() }).await;
                        return;
                    }
                    Some(Ok(r)) => r,
                };
                let reply = match request {
                    Request::Hello(_) => Reply::Error { message: "hello was already said".into() },
                    Request::Subscribe { every_ms } => {
                        subscribed = true;
                        every = Duration::from_millis(every_ms.min(10_000));
                        next_send = tokio::time::Instant::now() + every;
                        Reply::Snapshot(Box::new(as_seen(snapshots.borrow_and_update().clone(), read_only)))
                    }
                    // The engine's own mode, for `courier status`.
                    Request::Snapshot => Reply::Snapshot(Box::new(snapshots.borrow().clone())),
                    Request::Command(c) => command(faces, read_only, c).await,
                    Request::Query { sql, write: allow_write } => query(faces, read_only, &sql, allow_write).await,
                    Request::Op(op) => operation(faces, read_only, op).await,
                };
                let fatal = matches!(reply, Reply::Error { .. });
                if send(write, &reply).await.is_err() || fatal {
                    return;
                }
            }
        }
    }
}

/// The snapshot as this session's console sees it (subscriptions): a
/// read-only session's is marked read-only, so the console reads its mode
/// from the snapshot alone.
fn as_seen(mut snap: crate::engine::Snapshot, read_only: bool) -> crate::engine::Snapshot {
    snap.read_only |= read_only;
    snap
}

async fn command(faces: &ServiceFaces, read_only: bool, c: Command) -> Reply {
    if read_only && c.is_mutation() {
        return Reply::Refused {
            message: format!("read-only: {c:?} refused"),
        };
    }
    if let Command::Rewind { shard: Some(s), .. } = &c {
        let known: Vec<String> = faces
            .snapshots
            .borrow()
            .shards
            .iter()
            .map(|l| l.shard_id.clone())
            .collect();
        if !known.contains(s) {
            return Reply::Refused {
                message: format!("no shard {s:?} is being read (shards: {})", known.join(", ")),
            };
        }
    }
    match faces.commands.send(c).await {
        Ok(()) => Reply::Accepted,
        Err(_) => Reply::Refused {
            message: "the engine has stopped taking commands".into(),
        },
    }
}

async fn query(faces: &ServiceFaces, read_only: bool, sql: &str, write: bool) -> Reply {
    if write && read_only {
        return Reply::QueryError {
            message: "read-only: --write refused on this service".into(),
        };
    }
    // SQL that does not parse goes on to the warehouse, which names the
    // error exactly as `courier query` without a service does.
    if !write && matches!(crate::dialect::is_read_only(sql), Ok(false)) {
        return Reply::QueryError {
            message: READ_ONLY_QUERY.into(),
        };
    }
    match faces.warehouse.query(sql).await {
        Ok(rs) => Reply::Result(rs),
        Err(e) => Reply::QueryError { message: e.to_string() },
    }
}

async fn operation(faces: &ServiceFaces, read_only: bool, op: crate::ops::OpRequest) -> Reply {
    if read_only && op.is_mutation() {
        return Reply::OpError {
            message: "read-only: a redrive changes the warehouse and this connection may only watch".into(),
        };
    }
    match crate::ops::run(&op, faces.stream.as_ref(), faces.warehouse.as_ref(), &faces.schema).await {
        Ok(r) => Reply::Op(r),
        Err(e) => Reply::OpError { message: e.to_string() },
    }
}

/// What `courier query` says of a statement that would change the warehouse.
pub const READ_ONLY_QUERY: &str =
    "this SQL changes the warehouse and `courier query` is read-only: pass --write to run it";
