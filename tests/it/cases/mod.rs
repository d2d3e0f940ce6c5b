//! Redshift function cases and their fixture, shared by the dialect tests
//! (embedded translation) and the emulate tests (over the Data API).

pub mod fixture;
pub mod functions;
