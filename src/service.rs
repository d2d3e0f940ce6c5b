//! The running pipeline's faces beyond the console: the control socket,
//! the Prometheus endpoint and the Kinesis endpoint, started around one
//! engine and told when it ends. The binary and the tests wire a service
//! the same way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use color_eyre::eyre::{self, eyre};
use tokio_util::sync::CancellationToken;

use crate::backend::embedded::EmbeddedStream;
use crate::config::Config;
use crate::control::{ControlServer, ServiceFaces};
use crate::engine::{EngineError, EngineHandle, Summary};
use crate::metrics::HealthRules;

/// An endpoint asked for on an address other hosts can reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{flag} {addr} is not a loopback address: it is served without authentication, \
     so it binds 127.0.0.1 unless --allow-remote is given"
)]
pub struct NotLoopback {
    pub flag: &'static str,
    pub addr: SocketAddr,
}

/// Which faces to open, resolved from flags and `[service]`.
#[derive(Debug, Clone, Default)]
pub struct FaceOptions {
    pub metrics: Option<SocketAddr>,
    pub kinesis_endpoint: Option<SocketAddr>,
    pub allow_remote: bool,
    pub attach_read_only: bool,
}

impl FaceOptions {
    /// Refuse non-loopback addresses before anything starts.
    pub fn check(&self) -> Result<(), NotLoopback> {
        for (flag, addr) in [
            ("--metrics", self.metrics),
            ("--kinesis-endpoint", self.kinesis_endpoint),
        ] {
            if let Some(a) = addr
                && !a.ip().is_loopback()
                && !self.allow_remote
            {
                return Err(NotLoopback { flag, addr: a });
            }
        }
        Ok(())
    }
}

/// The faces of one running engine.
pub struct Faces {
    control: ControlServer,
    stop: CancellationToken,
    pub metrics: Option<SocketAddr>,
    pub kinesis: Option<SocketAddr>,
}

impl Faces {
    /// Start the control server on `listener` (already claimed) and the
    /// endpoints `opts` asks for. `stream` is the embedded stream, if any.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        config: &Config,
        opts: &FaceOptions,
        socket: PathBuf,
        listener: tokio::net::UnixListener,
        engine: &EngineHandle,
        ports: crate::engine::Ports,
        stream: Option<(PathBuf, Arc<EmbeddedStream>)>,
        data_dir: String,
    ) -> eyre::Result<Self> {
        let stop = CancellationToken::new();
        let metrics = match opts.metrics {
            Some(addr) => {
                let rules = HealthRules {
                    lag_crit_ms: config.ui.lag_crit_ms,
                    lag_grace: config.service.health_lag_grace,
                };
                Some(
                    crate::metrics::serve(addr, opts.allow_remote, engine.snapshots.clone(), rules, stop.clone())
                        .await?,
                )
            }
            None => None,
        };
        let kinesis = match (opts.kinesis_endpoint, stream) {
            (Some(addr), Some((dir, stream))) => Some(
                crate::emulate::serve_running_stream(config, dir, stream, addr, opts.allow_remote, stop.clone())
                    .await?,
            ),
            (Some(_), None) => {
                return Err(eyre!(
                    "--kinesis-endpoint serves the embedded stream; with backend = \"aws\" \
                     producers put into Kinesis itself"
                ));
            }
            (None, _) => None,
        };
        let control = ControlServer::start(
            socket,
            listener,
            ServiceFaces {
                snapshots: engine.snapshots.clone(),
                commands: engine.commands.clone(),
                warehouse: ports.warehouse,
                stream: ports.stream,
                schema: config.schema(),
                attach_read_only: opts.attach_read_only,
                data_dir,
            },
        );
        Ok(Faces {
            control,
            stop,
            metrics,
            kinesis,
        })
    }

    pub fn socket(&self) -> &std::path::Path {
        self.control.path()
    }

    /// Tell every attached face how the engine ended, close the endpoints
    /// and remove the socket.
    pub async fn finish(self, ending: Result<Summary, Arc<EngineError>>) {
        self.control.finish(ending).await;
        self.stop.cancel();
    }
}
