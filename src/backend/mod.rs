//! Ports: the traits the engine works through, and the types that cross them.
//!
//! The engine knows only these traits; adapters live in their own folders
//! (`embedded`, `aws`), one file per port (`stream`, `objects`,
//! `warehouse`). Nothing here knows about the engine or the UI.

pub mod aws;
pub mod embedded;
pub mod ident;
pub mod objects;
pub mod payload;
mod stream;
mod warehouse;

use std::time::Duration;

pub use ident::TableName;
pub use objects::{ObjectStore, ObjectStoreError, ObjectUri};
pub use stream::*;
pub use warehouse::*;

/// Backoff for retries: doubling from `base`, capped, with full jitter.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exp.min(cap).as_millis() as u64;
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling.max(1)))
}
