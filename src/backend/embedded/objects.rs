//! The embedded object store: a directory, one file per object at
//! `<root>/<bucket>/<key>`. Writes are atomic (temp file + rename).

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::backend::{ObjectStore, ObjectStoreError, ObjectUri};

pub struct DirObjectStore {
    root: PathBuf,
}

impl DirObjectStore {
    pub fn new(root: &Path) -> Self {
        DirObjectStore {
            root: root.to_path_buf(),
        }
    }

    /// Where an object lives on disk (the embedded warehouse reads it there).
    pub fn path_of(&self, uri: &ObjectUri) -> PathBuf {
        self.root.join(&uri.bucket).join(&uri.key)
    }
}

#[async_trait]
impl ObjectStore for DirObjectStore {
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        let path = self.path_of(uri);
        let io = |source| ObjectStoreError::Io {
            uri: uri.to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        tokio::fs::write(&tmp, body).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, ObjectStoreError> {
        match tokio::fs::read(self.path_of(uri)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ObjectStoreError::NotFound(uri.to_string())),
            Err(source) => Err(ObjectStoreError::Io {
                uri: uri.to_string(),
                source,
            }),
        }
    }

    async fn delete(&self, uri: &ObjectUri) -> Result<(), ObjectStoreError> {
        match tokio::fs::remove_file(self.path_of(uri)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ObjectStoreError::Io {
                uri: uri.to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}
