//! The pipeline's work: generator, dimension loader, ingester, live queries.

pub mod snapshot;
