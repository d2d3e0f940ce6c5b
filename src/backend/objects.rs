//! `s3://bucket/key` object addresses.

use std::fmt;

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectUri {
    pub bucket: String,
    pub key: String,
}

impl ObjectUri {
    /// Parse `s3://bucket/key`. Bucket names follow S3's rules (3–63 of
    /// lowercase letters, digits, `-`, `.`); keys may not climb out with `..`.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| UriError::NotS3(s.to_string()))?;
        let (bucket, key) = rest.split_once('/').ok_or_else(|| UriError::NoKey(s.to_string()))?;
        Self::new(bucket, key)
    }

    pub fn new(bucket: &str, key: &str) -> Result<Self, UriError> {
        valid_bucket(bucket)?;
        if key.is_empty() || key.split('/').any(|part| part == ".." || part == ".") || key.starts_with('/') {
            return Err(UriError::BadKey(key.to_string()));
        }
        Ok(ObjectUri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

/// Why a string is not an object address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("{0:?} is not an s3:// address")]
    NotS3(String),
    #[error("{0:?} has no key after the bucket")]
    NoKey(String),
    #[error("object key {0:?} is empty or has . or .. parts")]
    BadKey(String),
    #[error("bucket {0:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, - and .)")]
    BadBucket(String),
}

pub fn valid_bucket(bucket: &str) -> Result<(), UriError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(UriError::BadBucket(bucket.to_string()))
    }
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("no such object {0}")]
    NotFound(String),
    #[error("{uri}: {source}")]
    Io { uri: String, source: std::io::Error },
}

/// An S3-like object store.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>) -> Result<(), ObjectStoreError>;
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, ObjectStoreError>;
    /// Remove an object; one already gone is no error.
    async fn delete(&self, uri: &ObjectUri) -> Result<(), ObjectStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let u = ObjectUri::parse("s3://courier-data/dims/dimCustomers.csv").unwrap();
        assert_eq!(u.bucket, "courier-data");
        assert_eq!(u.key, "dims/dimCustomers.csv");
        assert_eq!(u.to_string(), "s3://courier-data/dims/dimCustomers.csv");
        assert!(ObjectUri::parse("http://x/y").is_err());
        assert!(ObjectUri::parse("s3://courier-data/../etc/passwd").is_err());
        assert!(ObjectUri::parse("s3://Bad_Bucket/k").is_err());
    }
}
