//! The AWS adapters: Kinesis (aws-sdk-kinesis), S3 (aws-sdk-s3) and Redshift
//! through the Redshift Data API (aws-sdk-redshiftdata), behind the same
//! ports as the embedded default. Credentials come only from the AWS default
//! chain; config holds where the services are, never who we are.

mod kinesis;
mod redshift;
mod s3;

pub use kinesis::KinesisStream;
pub use redshift::{RedshiftDataWarehouse, RedshiftTarget};
pub use s3::S3ObjectStore;

use aws_config::BehaviorVersion;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::config::AwsConfig;

/// The shared SDK config (region, profile, the default credential chain).
pub async fn sdk_config(aws: &AwsConfig) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = aws.region.as_deref().filter(|r| !r.is_empty()) {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(profile) = aws.profile.as_deref().filter(|p| !p.is_empty()) {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// A TCP connect to an AWS endpoint.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// One attempt of a call (the SDK retries within the operation's deadline).
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// A whole call, its retries included.
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Clients for the three services, each with its endpoint override.
pub struct Clients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub s3: aws_sdk_s3::Client,
    pub redshift_data: aws_sdk_redshiftdata::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig, aws: &AwsConfig) -> Self {
        let endpoint = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let mut k = aws_sdk_kinesis::config::Builder::from(sdk);
        if let Some(url) = endpoint(&aws.kinesis_endpoint_url) {
            k = k.endpoint_url(url);
        }
        let mut s = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(url) = endpoint(&aws.s3_endpoint_url) {
            // Emulators and most S3-compatible stores want path-style addressing.
            s = s.endpoint_url(url).force_path_style(true);
        }
        let mut r = aws_sdk_redshiftdata::config::Builder::from(sdk);
        if let Some(url) = endpoint(&aws.redshift_data_endpoint_url) {
            r = r.endpoint_url(url);
        }
        // No call waits for ever (a drain, a shutdown): every request has
        // a deadline, and so has each attempt within it.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        Clients {
            kinesis: aws_sdk_kinesis::Client::from_conf(k.timeout_config(timeouts.clone()).build()),
            s3: aws_sdk_s3::Client::from_conf(s.timeout_config(timeouts.clone()).build()),
            redshift_data: aws_sdk_redshiftdata::Client::from_conf(r.timeout_config(timeouts).build()),
        }
    }
}

/// An SDK error as `(code, message)`: the service's error code when the
/// service answered (e.g. `ProvisionedThroughputExceededException`), else
/// `None` and the whole chain (connection refused, timeout, …).
pub(crate) fn describe<E>(err: &aws_sdk_kinesis::error::SdkError<E>) -> (Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => DisplayErrorContext(err).to_string(),
    };
    (code, message)
}
