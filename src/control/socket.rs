//! Where a data dir's control socket lives, and claiming it: one engine per
//! data dir. The socket is `<data dir>/courier.sock` (mode 0600), or, when
//! that path is too long for a Unix socket, `$XDG_RUNTIME_DIR/courier/<hash>.sock`.
//! A socket left by a crashed run (nothing accepts on it) is replaced; a live
//! one means an engine runs there already.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// `sun_path` holds 108 bytes, the last one the terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;
pub const SOCKET_NAME: &str = "courier.sock";

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(
        "courier is already running on this data dir (control socket {path}{pid}): attach a console with \
         `courier attach` (or just `courier`), query it with `courier query`, see it with `courier status`, \
         stop it with `courier stop`"
    )]
    AlreadyRunning { path: PathBuf, pid: String },
    #[error("no courier service is running here (no live control socket at {0})")]
    NotRunning(PathBuf),
    #[error(
        "the control socket path {path} is {len} bytes; a Unix socket path may have at most {MAX_SOCKET_PATH}: \
         use a shorter --data-dir, set XDG_RUNTIME_DIR, or pass --socket PATH"
    )]
    TooLong { path: PathBuf, len: usize },
    #[error("{path} belongs to uid {owner}, not to you (uid {me}): refusing to use another user's courier socket")]
    NotOurs { path: PathBuf, owner: u32, me: u32 },
    #[error("{0} exists and is not a socket; not touching it (remove it, or pass --socket PATH)")]
    NotASocket(PathBuf),
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SocketError + '_ {
    move |source| SocketError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The effective uid of this process.
pub fn own_uid() -> u32 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
    }
}

fn check_len(path: PathBuf) -> Result<PathBuf, SocketError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(SocketError::TooLong { path, len });
    }
    Ok(path)
}

/// The socket of `data_dir` (or `explicit`, which must fit).
pub fn resolve(data_dir: &Path, explicit: Option<&Path>) -> Result<PathBuf, SocketError> {
    if let Some(p) = explicit {
        return check_len(std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    }
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let beside = dir.join(SOCKET_NAME);
    match check_len(beside) {
        Ok(p) => Ok(p),
        Err(too_long) => {
            let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) else {
                return Err(too_long);
            };
            let hash = Md5::digest(dir.as_os_str().as_encoded_bytes());
            let name: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
            check_len(PathBuf::from(runtime).join("courier").join(format!("{name}.sock"))).map_err(|_| too_long)
        }
    }
}

/// Refuse a socket that is not a socket or belongs to someone else.
fn check_owner(path: &Path) -> Result<bool, SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_path_buf()));
    }
    // Even root does not talk to a socket it does not own: whoever owns it
    // could be anyone pretending to be a courier service.
    let me = own_uid();
    if meta.uid() != me {
        return Err(SocketError::NotOurs {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    Ok(true)
}

/// Connect to the live socket at `path` (checked to be ours).
pub async fn connect(path: &Path) -> Result<tokio::net::UnixStream, SocketError> {
    if !check_owner(path)? {
        return Err(SocketError::NotRunning(path.to_path_buf()));
    }
    match tokio::net::UnixStream::connect(path).await {
        Ok(s) => Ok(s),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ) =>
        {
            Err(SocketError::NotRunning(path.to_path_buf()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Whether an engine answers on `path` (a stale or missing socket: no).
pub async fn is_live(path: &Path) -> Result<bool, SocketError> {
    match connect(path).await {
        Ok(_) => Ok(true),
        Err(SocketError::NotRunning(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Claim `path` for this engine: refuse if an engine answers there, replace
/// a stale socket, bind, and make it 0600.
pub async fn claim(path: &Path) -> Result<tokio::net::UnixListener, SocketError> {
    if let Some(dir) = path.parent() {
        let fresh = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if fresh {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    match connect(path).await {
        Ok(live) => {
            let pid = live
                .peer_cred()
                .ok()
                .and_then(|c| c.pid())
                .map_or(String::new(), |p| format!(", pid {p}"));
            return Err(SocketError::AlreadyRunning {
                path: path.to_path_buf(),
                pid,
            });
        }
        Err(SocketError::NotRunning(_)) => {
            if path.exists() {
                tracing::warn!(
                    "replacing the stale control socket {} (its engine ended without removing it)",
                    path.display()
                );
                std::fs::remove_file(path).map_err(io(path))?;
            }
        }
        Err(e) => return Err(e),
    }
    let listener = match tokio::net::UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(SocketError::AlreadyRunning {
                path: path.to_path_buf(),
                pid: String::new(),
            });
        }
        Err(e) => return Err(io(path)(e)),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_data_dir_falls_back_to_the_runtime_dir_or_is_refused() {
        let short = resolve(Path::new("/tmp/c"), None).unwrap();
        assert_eq!(short, Path::new("/tmp/c/courier.sock"));
        let long = format!("/tmp/{}", "d".repeat(120));
        let explicit = resolve(Path::new("/tmp"), Some(Path::new(&long)));
        assert!(
            matches!(explicit, Err(SocketError::TooLong { len: 125, .. })),
            "{explicit:?}"
        );
        let msg = explicit.unwrap_err().to_string();
        assert!(msg.contains("at most 107") && msg.contains("--socket"), "{msg}");
    }
}
