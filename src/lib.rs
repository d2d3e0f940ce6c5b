//! courier: run and watch a real-time food-delivery analytics pipeline.
//!
//! `engine` does the work over the ports in `backend`; `ui` and `headless`
//! are two faces over the same engine snapshot.

pub mod engine;
