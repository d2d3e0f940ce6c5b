//! Ports: the traits the engine works through, and the types that cross them.
//!
//! The engine knows only these traits; adapters live in their own folders
//! (`embedded`, `aws`), one file per port (`stream`, `objects`,
//! `warehouse`). Nothing here knows about the engine or the UI.

pub mod aws;
pub mod embedded;
pub mod ident;
pub mod kpl;
pub mod lease;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn user_records_sort_after_their_parent_and_before_the_next_record() {
        assert_eq!(cmp_sequence_numbers("10", "9"), Greater);
        assert_eq!(cmp_sequence_numbers("009", "9"), Equal);
        assert_eq!(cmp_sequence_numbers("9:0", "9"), Greater);
        assert_eq!(cmp_sequence_numbers("9:2", "9:10"), Less);
        assert_eq!(cmp_sequence_numbers("9:99", "10"), Less);
        assert_eq!(cmp_sequence_numbers("10:0", "9:5"), Greater);
        assert_eq!(sub_sequence_number("49590338", 3), "49590338:3");
        assert_eq!(split_sequence_number("49590338:3"), ("49590338", Some("3")));
        assert_eq!(parent_sequence_number("49590338:3"), "49590338");
        assert_eq!(parent_sequence_number("49590338"), "49590338");
    }
}
