//! S3 through aws-sdk-s3, behind the `ObjectStore` port.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use color_eyre::eyre::{self, eyre};

use super::describe;
use crate::backend::{ObjectStore, ObjectStoreError, ObjectUri};

pub struct S3ObjectStore {
    client: Client,
}

fn io(uri: &ObjectUri, message: String) -> ObjectStoreError {
    ObjectStoreError::Io {
        uri: uri.to_string(),
        source: std::io::Error::other(message),
    }
}

impl S3ObjectStore {
    pub fn new(client: Client) -> Self {
        S3ObjectStore { client }
    }

    /// Check the bucket is there; create it when it is missing and `create` is set.
    pub async fn ensure_bucket(&self, bucket: &str, region: Option<&str>, create: bool) -> eyre::Result<()> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                let (code, message) = describe(&e);
                let missing =
                    code.as_deref() == Some("NotFound") || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if !missing {
                    return Err(eyre!("bucket {bucket}: {message}"));
                }
                if !create {
                    return Err(eyre!(
                        "bucket {bucket} does not exist (set aws.create_missing = true to create it)"
                    ));
                }
            }
        }
        tracing::info!(bucket, "creating the S3 bucket");
        let mut req = self.client.create_bucket().bucket(bucket);
        if let Some(region) = region.filter(|r| *r != "us-east-1") {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| eyre!("creating bucket {bucket}: {}", describe(&e).1))
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, uri: &ObjectUri, body: Vec<u8>) -> Result<(), ObjectStoreError> {
        self.client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| io(uri, format!("PutObject: {}", describe(&e).1)))
    }

    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, ObjectStoreError> {
        let out = match self.client.get_object().bucket(&uri.bucket).key(&uri.key).send().await {
            Ok(out) => out,
            Err(e) => {
                let (code, message) = describe(&e);
                return Err(match code.as_deref() {
                    Some("NoSuchKey" | "NotFound") => ObjectStoreError::NotFound(uri.to_string()),
                    _ => io(uri, format!("GetObject: {message}")),
                });
            }
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| io(uri, format!("reading the body: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }

    async fn delete(&self, uri: &ObjectUri) -> Result<(), ObjectStoreError> {
        self.client
            .delete_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| io(uri, format!("DeleteObject: {}", describe(&e).1)))
    }
}
