//! courier's integration tests, as one test binary (DuckDB and the crate are
//! linked once). Each module is one area; `common` holds what they share.
//! Run one area with `cargo test --test it <module>::`, e.g.
//! `cargo test --test it faults:: -- --nocapture`.
#![allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test

mod cases;
mod common;

mod aws;
mod cli;
mod emulate;
mod engine;
mod faults;
mod redshift_dialect;
mod service;
mod tui_tmux;
mod ui;
