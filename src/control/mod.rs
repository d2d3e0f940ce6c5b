//! The control socket: the running engine's door for faces that come and
//! go — `courier attach` (a console), `courier query`, `courier status`,
//! `courier stop`. One engine per data dir; the socket says whether it runs.
//!
//! `socket` finds and claims the path, `protocol` is the wire format,
//! `server` serves connections over the engine, `client` is the faces' side.

pub mod client;
pub mod protocol;
pub mod server;
pub mod socket;

pub use client::{Attached, Client, ClientError, LinkEnd};
pub use protocol::Role;
pub use server::{ControlServer, ServiceFaces};
pub use socket::SocketError;

/// Tell systemd (a `Type=notify` unit) how the service is doing: `READY=1`,
/// `STOPPING=1`, `STATUS=…`. A no-op outside systemd.
pub fn notify_service_manager(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("sd_notify: {e}");
            return;
        }
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket name (Linux).
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            Err(std::io::Error::other("abstract sockets need Linux"))
        }
    } else {
        sock.send_to(state.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = sent {
        tracing::warn!("sd_notify {state:?}: {e}");
    }
}
