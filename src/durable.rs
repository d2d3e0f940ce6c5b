//! Small files that must survive a power cut: written to a temp file,
//! fsynced, renamed over the old one, and the directory fsynced so the
//! rename itself is on disk; directories made the same way.

use std::io;
use std::path::Path;

/// fsync a directory, so entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Replace `path` with `contents` atomically and durably.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
}

/// `create_dir_all`, with each directory it made fsynced into its parent.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    std::fs::create_dir_all(dir)?;
    for made in missing.iter().rev() {
        if let Some(parent) = made.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_replace_and_dirs_are_made() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        super::create_dir_all(&nested).unwrap();
        assert!(nested.is_dir());
        let f = nested.join("next-id");
        super::write(&f, b"1").unwrap();
        super::write(&f, b"1001").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"1001");
        assert!(!nested.join("next-id.tmp").exists());
    }
}
