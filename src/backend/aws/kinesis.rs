//! Kinesis through aws-sdk-kinesis, behind the `Stream` port.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};

use super::describe;
use crate::backend::{
    GetRecordsOutput, PutEntry, PutOutcome, SequenceNumber, ShardId, ShardInfo, StartPosition, Stream, StreamError,
    StreamRecord,
};

pub struct KinesisStream {
    client: Client,
    name: String,
}

/// Map an SDK error to the port's: throttling, expired iterator and missing
/// stream by their codes; everything else keeps the SDK's full text.
fn stream_err<E>(what: &str, err: aws_sdk_kinesis::error::SdkError<E>) -> StreamError
where
    E: aws_sdk_kinesis::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = describe(&err);
    match code.as_deref() {
        Some("ProvisionedThroughputExceededException" | "LimitExceededException" | "ThrottlingException") => {
            StreamError::Throttled(message)
        }
        Some("ExpiredIteratorException") => StreamError::ExpiredIterator(message),
        Some("InvalidArgumentException") if what == "GetShardIterator" => StreamError::InvalidSequence(message),
        Some("ResourceNotFoundException") => StreamError::NotFound(message),
        _ => StreamError::Other(format!("{what}: {message}")),
    }
}

impl KinesisStream {
    pub fn new(client: Client, name: &str) -> Self {
        KinesisStream {
            client,
            name: name.to_string(),
        }
    }

    /// Wait until the stream is ACTIVE; create it with `shards` first when it
    /// is missing and `create` is set. Gives up after `timeout`.
    pub async fn ensure_active(&self, shards: usize, create: bool, timeout: Duration) -> Result<(), StreamError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut created = false;
        loop {
            match self
                .client
                .describe_stream_summary()
                .stream_name(&self.name)
                .send()
                .await
            {
                Ok(out) => {
                    let status = out.stream_description_summary().map(|s| s.stream_status().clone());
                    if matches!(status, Some(StreamStatus::Active) | Some(StreamStatus::Updating)) {
                        return Ok(());
                    }
                }
                Err(e) => match stream_err("DescribeStreamSummary", e) {
                    StreamError::NotFound(m) if !create => {
                        return Err(StreamError::NotFound(format!(
                            "{m} (set aws.create_missing = true to create stream {})",
                            self.name
                        )));
                    }
                    StreamError::NotFound(_) if !created => {
                        tracing::info!(stream = %self.name, shards, "creating the Kinesis stream");
                        self.client
                            .create_stream()
                            .stream_name(&self.name)
                            .shard_count(shards as i32)
                            .send()
                            .await
                            .map_err(|e| stream_err("CreateStream", e))?;
                        created = true;
                    }
                    StreamError::NotFound(_) | StreamError::Throttled(_) => {}
                    e => return Err(e),
                },
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StreamError::Other(format!(
                    "stream {} did not become ACTIVE within {timeout:?}",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// ListShards, all pages.
    async fn all_shards(&self) -> Result<Vec<aws_sdk_kinesis::types::Shard>, StreamError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // The API refuses StreamName together with NextToken.
            let req = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&self.name),
            };
            let out = req.send().await.map_err(|e| stream_err("ListShards", e))?;
            shards.extend(out.shards().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(shards),
            }
        }
    }
}

#[async_trait]
impl Stream for KinesisStream {
    fn name(&self) -> &str {
        &self.name
    }

    /// Open shards only (where new records go).
    async fn list_shards(&self) -> Result<Vec<ShardId>, StreamError> {
        Ok(self
            .all_shards()
            .await?
            .into_iter()
            .filter(|s| {
                s.sequence_number_range()
                    .is_none_or(|r| r.ending_sequence_number().is_none())
            })
            .map(|s| ShardId(s.shard_id().to_string()))
            .collect())
    }

    async fn shard_lineage(&self) -> Result<Vec<ShardInfo>, StreamError> {
        Ok(self
            .all_shards()
            .await?
            .into_iter()
            .map(|s| ShardInfo {
                id: ShardId(s.shard_id().to_string()),
                parents: [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .map(|p| ShardId(p.to_string()))
                    .collect(),
                origin: s
                    .sequence_number_range()
                    .map(|r| r.starting_sequence_number().to_string()),
            })
            .collect())
    }

    async fn put_records(&self, entries: Vec<PutEntry>) -> Result<Vec<PutOutcome>, StreamError> {
        let n = entries.len();
        let records = entries
            .into_iter()
            .map(|e| {
                PutRecordsRequestEntry::builder()
                    .partition_key(e.partition_key)
                    .data(Blob::new(e.data))
                    .build()
                    .map_err(|e| StreamError::Other(format!("PutRecords entry: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .put_records()
            .stream_name(&self.name)
            .set_records(Some(records))
            .send()
            .await
            .map_err(|e| stream_err("PutRecords", e))?;
        let results = out.records();
        if results.len() != n {
            return Err(StreamError::Other(format!(
                "PutRecords answered {} results for {n} records",
                results.len()
            )));
        }
        Ok(results
            .iter()
            .map(|r| match (r.error_code(), r.sequence_number(), r.shard_id()) {
                (None, Some(seq), Some(shard)) => PutOutcome::Ok {
                    shard_id: ShardId(shard.to_string()),
                    sequence_number: SequenceNumber(seq.to_string()),
                },
                (code, _, _) => PutOutcome::Failed {
                    error_code: code.unwrap_or("InternalFailure").to_string(),
                    error_message: r.error_message().unwrap_or_default().to_string(),
                },
            })
            .collect())
    }

    async fn shard_iterator(&self, shard: &ShardId, start: StartPosition) -> Result<String, StreamError> {
        let req = self
            .client
            .get_shard_iterator()
            .stream_name(&self.name)
            .shard_id(&shard.0);
        let req = match start {
            StartPosition::TrimHorizon => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            StartPosition::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
            StartPosition::AfterSequenceNumber(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq.0),
            StartPosition::AtSequenceNumber(seq) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(seq.0),
            StartPosition::AtTimestamp(ms) => req
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(aws_smithy_types::DateTime::from_millis(ms)),
        };
        let out = req.send().await.map_err(|e| stream_err("GetShardIterator", e))?;
        out.shard_iterator()
            .map(str::to_string)
            .ok_or_else(|| StreamError::Other(format!("GetShardIterator for {shard} returned no iterator")))
    }

    async fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOutput, StreamError> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit.clamp(1, 10_000) as i32)
            .send()
            .await
            .map_err(|e| stream_err("GetRecords", e))?;
        let records = out
            .records()
            .iter()
            .map(|r| StreamRecord {
                sequence_number: SequenceNumber(r.sequence_number().to_string()),
                partition_key: r.partition_key().to_string(),
                data: r.data().as_ref().to_vec(),
                arrival_ms: r
                    .approximate_arrival_timestamp()
                    .and_then(|t| t.to_millis().ok())
                    .unwrap_or_else(|| chrono::Utc::now().timestamp_millis()),
            })
            .collect();
        Ok(GetRecordsOutput {
            records,
            next_iterator: out.next_shard_iterator().map(str::to_string),
            millis_behind_latest: out.millis_behind_latest().unwrap_or(0).max(0) as u64,
            expired: 0,
        })
    }

    /// Kinesis doesn't tell how many records are behind; the lag pane shows
    /// MillisBehindLatest instead.
    async fn records_after(&self, _shard: &ShardId, _after: Option<&SequenceNumber>) -> Option<u64> {
        None
    }
}
