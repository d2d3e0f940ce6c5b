//! courier: run and watch a real-time food-delivery analytics pipeline.
//!
//! `engine` does the work over the ports in `backend`; `headless` (and the
//! console) are faces over the same engine snapshot. Layers point down:
//! faces (`ui`, `headless`, `control`) → `engine` → `backend` → `model`;
//! `config` and `keys` are read by all and import none of them.

pub mod backend;
pub mod bench;
pub mod config;
pub mod control;
pub mod dialect;
pub mod durable;
pub mod emulate;
pub mod engine;
pub mod headless;
pub mod keys;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod service;
pub mod setup;
pub mod sync;
pub mod table;
pub mod ui;
