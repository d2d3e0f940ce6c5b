//! The domain's vocabulary, below every layer that uses it: the order
//! statuses an event may carry (the engine checks events against them, the
//! warehouse backends rank and store them).

/// Every status an order event may have, in the reference's order.
pub const STATUSES: [&str; 4] = ["Delivered", "Cancelled", "Processing", "On the way"];

/// The most events/s the generator is asked for (config, commands, keys).
pub const MAX_RATE: u32 = 10_000_000;
