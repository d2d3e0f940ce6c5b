//! The Kinesis JSON 1.1 protocol over courier's embedded stream: unmodified
//! clients (the AWS SDKs, boto3, the AWS CLI) talk to it as to Kinesis.

use crate::sync::LockExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use color_eyre::eyre::{self, WrapErr, eyre};
use serde_json::{Value, json};

use super::{ApiError, ApiResult};
use crate::backend::embedded::stream::hash_range;
use crate::backend::embedded::{EmbeddedStream, StreamLimits};
use crate::backend::{PutEntry, PutOutcome, SequenceNumber, ShardId, StartPosition, Stream, StreamError};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

/// Every stream under `<data dir>/streams`, opened on demand.
pub struct Streams {
    dir: PathBuf,
    limits: StreamLimits,
    open: Mutex<BTreeMap<String, (Arc<EmbeddedStream>, f64)>>,
}

fn arn(name: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

fn stream_err(e: StreamError) -> ApiError {
    match e {
        StreamError::Throttled(m) => ApiError::new("ProvisionedThroughputExceededException", m),
        StreamError::ExpiredIterator(m) => ApiError::new("ExpiredIteratorException", m),
        StreamError::NotFound(m) => ApiError::new("ResourceNotFoundException", m),
        StreamError::InvalidSequence(m) => ApiError::new("InvalidArgumentException", m),
        StreamError::Other(m) if m.contains("bad") || m.contains("iterator") => {
            ApiError::new("InvalidArgumentException", m)
        }
        e => ApiError::internal(e.to_string()),
    }
}

fn str_field<'a>(req: &'a Value, key: &str) -> ApiResult<&'a str> {
    req.get(key).and_then(Value::as_str).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

impl Streams {
    /// Open the streams already under `dir` and make sure `name` (with
    /// `shards` shards) exists.
    pub fn open(dir: PathBuf, limits: StreamLimits, name: &str, shards: usize) -> eyre::Result<Self> {
        std::fs::create_dir_all(&dir).wrap_err_with(|| dir.display().to_string())?;
        let this = Streams {
            dir,
            limits,
            open: Mutex::new(BTreeMap::new()),
        };
        for n in this.on_disk()? {
            this.reopen(&n)?;
        }
        if this.get(name).is_err() {
            this.create(name, shards).map_err(|e| eyre!(e.message))?;
        }
        Ok(this)
    }

    /// The streams under `dir` with `running` — the engine's own stream,
    /// already open — served as it is: what producers put, the engine ingests.
    pub fn around(dir: PathBuf, limits: StreamLimits, running: Arc<EmbeddedStream>) -> eyre::Result<Self> {
        let this = Streams {
            dir,
            limits,
            open: Mutex::new(BTreeMap::new()),
        };
        let name = running.name().to_string();
        this.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), (running, now_secs()));
        for other in this.on_disk()? {
            if other != name {
                this.reopen(&other)?;
            }
        }
        Ok(this)
    }

    fn on_disk(&self) -> eyre::Result<Vec<String>> {
        Ok(std::fs::read_dir(&self.dir)
            .wrap_err_with(|| self.dir.display().to_string())?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("shards").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    fn reopen(&self, name: &str) -> eyre::Result<()> {
        let count: usize = std::fs::read_to_string(self.dir.join(name).join("shards"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        self.create(name, count).map(|_| ()).map_err(|e| eyre!(e.message))
    }

    fn create(&self, name: &str, shards: usize) -> ApiResult<Arc<EmbeddedStream>> {
        let s = EmbeddedStream::open(&self.dir, name, shards, self.limits.clone()).map_err(stream_err)?;
        let s = Arc::new(s);
        self.open
            .locked()
            .insert(name.to_string(), (Arc::clone(&s), now_secs()));
        Ok(s)
    }

    fn get(&self, name: &str) -> ApiResult<(Arc<EmbeddedStream>, f64)> {
        self.open.locked().get(name).cloned().ok_or_else(|| {
            ApiError::new(
                "ResourceNotFoundException",
                format!("Stream {name} under account {ACCOUNT} not found."),
            )
        })
    }

    fn named(&self, req: &Value) -> ApiResult<(String, Arc<EmbeddedStream>, f64)> {
        let name = match req.get("StreamName").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => match req.get("StreamARN").and_then(Value::as_str) {
                Some(a) => a.rsplit('/').next().unwrap_or_default().to_string(),
                None => return Err(ApiError::validation("StreamName or StreamARN is required")),
            },
        };
        let (s, created) = self.get(&name)?;
        Ok((name, s, created))
    }

    fn shards_json(s: &EmbeddedStream) -> Vec<Value> {
        let n = s.shard_count();
        (0..n)
            .map(|i| {
                let (start, end) = hash_range(i, n);
                json!({
                    "ShardId": ShardId::from_index(i).0,
                    "HashKeyRange": {"StartingHashKey": start.to_string(), "EndingHashKey": end.to_string()},
                    "SequenceNumberRange": {"StartingSequenceNumber": "0"},
                })
            })
            .collect()
    }

    /// One Kinesis_20131202 operation.
    pub async fn call(&self, op: &str, req: Value) -> ApiResult<Value> {
        match op {
            "CreateStream" => self.create_stream(req).await,
            "ListStreams" => self.list_streams(req).await,
            "DescribeStreamSummary" => self.describe_stream_summary(req).await,
            "DescribeStream" => self.describe_stream(req).await,
            "ListShards" => self.list_shards(req).await,
            "PutRecord" => self.put_record(req).await,
            "PutRecords" => self.put_records(req).await,
            "GetShardIterator" => self.get_shard_iterator(req).await,
            "GetRecords" => self.get_records(req).await,
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("Kinesis_20131202.{other} is not served by courier emulate"),
            )),
        }
    }

    /// CreateStream.
    async fn create_stream(&self, req: Value) -> ApiResult<Value> {
        let name = str_field(&req, "StreamName")?;
        if !crate::backend::valid_stream_name(name) {
            return Err(ApiError::validation(format!(
                "stream name {name:?} is not valid: 1-128 of letters, digits, _ . - (not only dots)"
            )));
        }
        if self.get(name).is_ok() {
            return Err(ApiError::new(
                "ResourceInUseException",
                format!("Stream {name} under account {ACCOUNT} already exists."),
            ));
        }
        let shards = req.get("ShardCount").and_then(Value::as_u64).unwrap_or(4) as usize;
        if !(1..=1024).contains(&shards) {
            return Err(ApiError::new("InvalidArgumentException", "ShardCount must be 1..1024"));
        }
        self.create(name, shards)?;
        Ok(json!({}))
    }

    /// ListStreams.
    async fn list_streams(&self, _req: Value) -> ApiResult<Value> {
        let open = self.open.locked();
        let names: Vec<&String> = open.keys().collect();
        let summaries: Vec<Value> = open
            .iter()
            .map(|(n, (_, created))| {
                json!({"StreamName": n, "StreamARN": arn(n), "StreamStatus": "ACTIVE",
                           "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                           "StreamCreationTimestamp": created})
            })
            .collect();
        Ok(json!({"StreamNames": names, "HasMoreStreams": false, "StreamSummaries": summaries}))
    }

    /// DescribeStreamSummary.
    async fn describe_stream_summary(&self, req: Value) -> ApiResult<Value> {
        let (name, s, created) = self.named(&req)?;
        Ok(json!({"StreamDescriptionSummary": {
            "StreamName": name, "StreamARN": arn(&name), "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": (self.limits.retention.as_secs() / 3600).max(1),
            "StreamCreationTimestamp": created, "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE", "OpenShardCount": s.shard_count(), "ConsumerCount": 0,
        }}))
    }

    /// DescribeStream.
    async fn describe_stream(&self, req: Value) -> ApiResult<Value> {
        let (name, s, created) = self.named(&req)?;
        Ok(json!({"StreamDescription": {
            "StreamName": name, "StreamARN": arn(&name), "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "Shards": Self::shards_json(&s), "HasMoreShards": false,
            "RetentionPeriodHours": (self.limits.retention.as_secs() / 3600).max(1),
            "StreamCreationTimestamp": created, "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }}))
    }

    /// ListShards.
    async fn list_shards(&self, req: Value) -> ApiResult<Value> {
        if req.get("NextToken").and_then(Value::as_str).is_some() {
            // Every shard fits one page: a token means "after the last one".
            return Ok(json!({"Shards": []}));
        }
        let (_, s, _) = self.named(&req)?;
        Ok(json!({"Shards": Self::shards_json(&s)}))
    }

    /// PutRecord.
    async fn put_record(&self, req: Value) -> ApiResult<Value> {
        let (_, s, _) = self.named(&req)?;
        let entry = put_entry(&req)?;
        let out = s.put_records(vec![entry]).await.map_err(stream_err)?;
        match out.into_iter().next() {
            Some(PutOutcome::Ok {
                shard_id,
                sequence_number,
            }) => Ok(json!({"ShardId": shard_id.0, "SequenceNumber": sequence_number.0, "EncryptionType": "NONE"})),
            Some(PutOutcome::Failed {
                error_code,
                error_message,
            }) => Err(ApiError::new(&error_code, error_message)),
            None => Err(ApiError::internal("no result")),
        }
    }

    /// PutRecords.
    async fn put_records(&self, req: Value) -> ApiResult<Value> {
        let (_, s, _) = self.named(&req)?;
        let records = req
            .get("Records")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::validation("Records is required"))?;
        if records.is_empty() || records.len() > 500 {
            return Err(ApiError::validation(format!(
                "Records has {} entries; PutRecords takes 1 to 500",
                records.len()
            )));
        }
        let entries = records.iter().map(put_entry).collect::<ApiResult<Vec<_>>>()?;
        let total: usize = entries.iter().map(|e| e.data.len() + e.partition_key.len()).sum();
        if total > 5 << 20 {
            return Err(ApiError::new(
                "InvalidArgumentException",
                format!("PutRecords request is {total} bytes; the limit is 5 MiB"),
            ));
        }
        let out = s.put_records(entries).await.map_err(stream_err)?;
        let failed = out.iter().filter(|o| !matches!(o, PutOutcome::Ok { .. })).count();
        let results: Vec<Value> = out
            .into_iter()
            .map(|o| match o {
                PutOutcome::Ok {
                    shard_id,
                    sequence_number,
                } => json!({"ShardId": shard_id.0, "SequenceNumber": sequence_number.0}),
                PutOutcome::Failed {
                    error_code,
                    error_message,
                } => json!({"ErrorCode": error_code, "ErrorMessage": error_message}),
            })
            .collect();
        Ok(json!({"FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE"}))
    }

    /// GetShardIterator.
    async fn get_shard_iterator(&self, req: Value) -> ApiResult<Value> {
        let (name, s, _) = self.named(&req)?;
        let shard = ShardId(str_field(&req, "ShardId")?.to_string());
        let seq = || -> ApiResult<SequenceNumber> {
            let v = str_field(&req, "StartingSequenceNumber")?;
            v.parse::<u64>().map(|_| SequenceNumber(v.to_string())).map_err(|_| {
                ApiError::new(
                    "InvalidArgumentException",
                    format!("StartingSequenceNumber {v} is not valid"),
                )
            })
        };
        let start = match str_field(&req, "ShardIteratorType")? {
            "TRIM_HORIZON" => StartPosition::TrimHorizon,
            "LATEST" => StartPosition::Latest,
            "AFTER_SEQUENCE_NUMBER" => StartPosition::AfterSequenceNumber(seq()?),
            "AT_SEQUENCE_NUMBER" => StartPosition::AtSequenceNumber(seq()?),
            "AT_TIMESTAMP" => {
                // The SDKs send epoch seconds, with a fraction.
                let secs = req
                    .get("Timestamp")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| ApiError::new("InvalidArgumentException", "AT_TIMESTAMP needs a Timestamp"))?;
                if !secs.is_finite() || secs.abs() > 1e13 {
                    return Err(ApiError::new("InvalidArgumentException", "Timestamp is out of range"));
                }
                StartPosition::AtTimestamp((secs * 1000.0).round() as i64)
            }
            other => {
                return Err(ApiError::new(
                    "InvalidArgumentException",
                    format!("ShardIteratorType {other} is not supported here"),
                ));
            }
        };
        let it = s.shard_iterator(&shard, start).await.map_err(stream_err)?;
        Ok(json!({"ShardIterator": B64.encode(format!("{name}/{it}"))}))
    }

    /// GetRecords.
    async fn get_records(&self, req: Value) -> ApiResult<Value> {
        let token = str_field(&req, "ShardIterator")?;
        let decoded = B64
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::new("InvalidArgumentException", "ShardIterator is not valid"))?;
        let (name, inner) = decoded
            .split_once('/')
            .ok_or_else(|| ApiError::new("InvalidArgumentException", "ShardIterator is not valid"))?;
        let (s, _) = self.get(name)?;
        let limit = req
            .get("Limit")
            .and_then(Value::as_u64)
            .unwrap_or(10_000)
            .clamp(1, 10_000) as usize;
        let out = s.get_records(inner, limit).await.map_err(stream_err)?;
        let records: Vec<Value> = out
            .records
            .into_iter()
            .map(|r| {
                json!({"SequenceNumber": r.sequence_number.0, "PartitionKey": r.partition_key,
                           "Data": B64.encode(&r.data), "ApproximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0})
            })
            .collect();
        let next = out.next_iterator.map(|it| B64.encode(format!("{name}/{it}")));
        Ok(json!({"Records": records, "NextShardIterator": next, "MillisBehindLatest": out.millis_behind_latest}))
    }
}

fn put_entry(v: &Value) -> ApiResult<PutEntry> {
    let key = str_field(v, "PartitionKey")?;
    if key.is_empty() || key.len() > 256 {
        return Err(ApiError::validation("PartitionKey must be 1 to 256 characters"));
    }
    let data = B64
        .decode(str_field(v, "Data")?)
        .map_err(|_| ApiError::new("SerializationException", "Data is not valid base64"))?;
    if data.len() > 1 << 20 {
        return Err(ApiError::validation("Data is larger than 1 MiB"));
    }
    Ok(PutEntry {
        partition_key: key.to_string(),
        data,
    })
}
