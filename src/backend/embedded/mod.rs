//! The embedded default: every port served on this machine, no account, no
//! server. Stream = sharded logs, object store = a directory, warehouse = DuckDB.

pub mod csv_check;
mod duck;
mod fact_load;
pub mod objects;
pub mod shard_log;
pub mod stream;
pub mod warehouse;

pub use objects::DirObjectStore;
pub use stream::{EmbeddedStream, StreamLimits};
pub use warehouse::DuckDbWarehouse;
