//! `courier emulate`: courier's embedded stream served over the Kinesis JSON
//! 1.1 protocol and its DuckDB warehouse over the Redshift Data API, so the
//! AWS backend — and unmodified AWS clients (SDKs, boto3, the AWS CLI) — run
//! against this machine. It binds loopback unless told otherwise. With
//! `COURIER_EMULATE_ACCESS_KEY_ID` set, only requests signed (SigV4) with
//! that access key id are served — another local user of a shared host is
//! refused; signatures themselves are not verified. SQL is limited to what
//! a Data API client sends, and its DuckDB reads no file but COPY's own.

mod copy;
mod kinesis;
mod redshift_data;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use color_eyre::eyre::{self, WrapErr, bail};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use copy::{CopyCommand, CopyError, CopyParseError, CopySource, ScratchDirError, parse_copy};

use crate::backend::embedded::DuckDbWarehouse;
use crate::config::Config;

/// An error as the AWS JSON protocols carry it.
#[derive(Debug)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub status: StatusCode,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            code: "InternalFailure".into(),
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub struct EmulateOptions {
    pub data_dir: PathBuf,
    pub kinesis: SocketAddr,
    pub redshift_data: SocketAddr,
    pub s3_endpoint: Option<String>,
    pub allow_remote: bool,
}

const JSON_11: &str = "application/x-amz-json-1.1";

fn respond(result: ApiResult<Value>) -> Response {
    match result {
        Ok(v) => (StatusCode::OK, [(header::CONTENT_TYPE, JSON_11)], v.to_string()).into_response(),
        Err(e) => {
            let body = json!({"__type": e.code, "message": e.message, "Message": e.message});
            (
                e.status,
                [
                    (header::CONTENT_TYPE, JSON_11),
                    (header::HeaderName::from_static("x-amzn-errortype"), e.code.as_str()),
                ],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// The environment variable naming the one access key id served.
pub const ACCESS_KEY_ENV: &str = "COURIER_EMULATE_ACCESS_KEY_ID";

fn required_access_key() -> Option<&'static str> {
    static KEY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| std::env::var(ACCESS_KEY_ENV).ok().filter(|k| !k.trim().is_empty()))
        .as_deref()
}

/// The access key id of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, …`).
fn access_key_of(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    cred.split('/').next().filter(|k| !k.is_empty())
}

fn check_access_key(headers: &HeaderMap) -> ApiResult<()> {
    let Some(want) = required_access_key() else {
        return Ok(());
    };
    match access_key_of(headers) {
        Some(got) if got == want => Ok(()),
        got => {
            tracing::warn!(
                access_key = got.unwrap_or("none"),
                "refused a request: not the access key id served"
            );
            Err(ApiError::new(
                "UnrecognizedClientException",
                format!(
                    "The security token included in the request is invalid: this endpoint serves one access key id \
                     ({ACCESS_KEY_ENV}), and the request was signed with {}",
                    got.map_or("none".to_string(), |g| format!("another ({g})"))
                ),
            ))
        }
    }
}

/// The operation from `X-Amz-Target: <prefix>.<Op>` and the JSON body.
fn request(headers: &HeaderMap, body: &Bytes, prefix: &str) -> ApiResult<(String, Value)> {
    check_access_key(headers)?;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new("UnknownOperationException", "missing X-Amz-Target"))?;
    let op = target
        .strip_prefix(prefix)
        .and_then(|t| t.strip_prefix('.'))
        .ok_or_else(|| ApiError::new("UnknownOperationException", format!("{target} is not served here")))?;
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("cbor"))
    {
        return Err(ApiError::new(
            "UnknownOperationException",
            "courier emulate speaks the JSON 1.1 protocol, not CBOR",
        ));
    }
    let value: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::new("SerializationException", format!("bad JSON: {e}")))?
    };
    Ok((op.to_string(), value))
}

async fn kinesis_handler(State(s): State<Arc<kinesis::Streams>>, headers: HeaderMap, body: Bytes) -> Response {
    let result = match request(&headers, &body, "Kinesis_20131202") {
        Ok((op, req)) => s.call(&op, req).await,
        Err(e) => Err(e),
    };
    respond(result)
}

async fn data_api_handler(State(s): State<Arc<redshift_data::DataApi>>, headers: HeaderMap, body: Bytes) -> Response {
    let result = match request(&headers, &body, "RedshiftData") {
        Ok((op, req)) => s.call(&op, req).await,
        Err(e) => Err(e),
    };
    respond(result)
}

fn check_loopback(addr: SocketAddr, allow_remote: bool, what: &str) -> eyre::Result<()> {
    if !addr.ip().is_loopback() && !allow_remote {
        bail!(
            "{what} {addr} is not a loopback address; it serves an unauthenticated endpoint, \
             so it binds 127.0.0.1 unless --allow-remote is given"
        );
    }
    Ok(())
}

fn kinesis_router(streams: kinesis::Streams) -> Router {
    Router::new()
        .route("/", post(kinesis_handler))
        .layer(DefaultBodyLimit::max(16 << 20))
        .with_state(Arc::new(streams))
}

/// `--kinesis-endpoint`: the running engine's embedded stream (and any other
/// stream of the data dir) over the Kinesis JSON 1.1 API, until `stop`.
/// Records put here are ingested like the generator's. Returns the bound address.
pub async fn serve_running_stream(
    config: &Config,
    stream_dir: PathBuf,
    running: Arc<crate::backend::embedded::EmbeddedStream>,
    addr: SocketAddr,
    allow_remote: bool,
    stop: CancellationToken,
) -> eyre::Result<SocketAddr> {
    check_loopback(addr, allow_remote, "--kinesis-endpoint")?;
    let streams = kinesis::Streams::around(stream_dir, crate::setup::stream_limits(config), running)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .wrap_err_with(|| format!("--kinesis-endpoint {addr}"))?;
    let bound = listener.local_addr()?;
    let app = kinesis_router(streams);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::warn!("Kinesis endpoint: {e}");
        }
    });
    Ok(bound)
}

/// Serve until `stop` is cancelled.
pub async fn run(config: &Config, opts: EmulateOptions, stop: CancellationToken) -> eyre::Result<()> {
    check_loopback(opts.kinesis, opts.allow_remote, "courier emulate: Kinesis")?;
    check_loopback(
        opts.redshift_data,
        opts.allow_remote,
        "courier emulate: Redshift Data API",
    )?;
    let streams = kinesis::Streams::open(
        crate::setup::EmbeddedPaths::new(&opts.data_dir).stream_dir,
        crate::setup::stream_limits(config),
        &config.stream.name,
        config.stream.shards,
    )?;
    let paths = crate::setup::EmbeddedPaths::new(&opts.data_dir);
    let warehouse = DuckDbWarehouse::open(&paths.warehouse, &config.schema(), &paths.objects)?;
    let source = match &opts.s3_endpoint {
        Some(url) => {
            let sdk = crate::backend::aws::sdk_config(&config.aws).await;
            let s3 = aws_sdk_s3::config::Builder::from(&sdk)
                .endpoint_url(url)
                .force_path_style(true)
                .build();
            CopySource::S3(aws_sdk_s3::Client::from_conf(s3))
        }
        None => CopySource::Dir(paths.objects.clone()),
    };
    let data_api = Arc::new(redshift_data::DataApi::new(warehouse, source)?);
    let limit = DefaultBodyLimit::max(16 << 20);
    let kinesis_app = kinesis_router(streams);
    let data_app = Router::new()
        .route("/", post(data_api_handler))
        .layer(limit)
        .with_state(data_api);
    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("binding {addr}"))
    };
    let (kl, rl) = (bind(opts.kinesis).await?, bind(opts.redshift_data).await?);
    let (ka, ra) = (kl.local_addr()?, rl.local_addr()?);
    let serve = |listener, app| {
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    };
    let k = serve(kl, kinesis_app);
    let r = serve(rl, data_app);
    eprintln!(
        "courier emulate: Kinesis on http://{ka}, Redshift Data API on http://{ra} (data in {})",
        opts.data_dir.display()
    );
    let (k, r) = tokio::join!(k, r);
    for res in [k, r] {
        res.wrap_err("server task failed")?.wrap_err("server failed")?;
    }
    Ok(())
}
