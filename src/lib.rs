//! EAS Connector: an Exchange ActiveSync access connector.
//!
//! The library holds everything the binaries share; the binaries in `src/bin/` only parse
//! arguments and report errors. It must not print to stdout/stderr on its own (the `cli`
//! module is the one place that writes for humans) and must never expose a secret in a
//! `Display`, `Debug`, log line or error.
pub mod cli;
pub mod cloud;
/// The wire formats (their own crate: no I/O).
pub use eas_wire as wire;
pub mod config;
pub mod engine;
pub mod exchange;
pub mod lab;
pub mod logging;
pub mod probe;
pub mod secrets;
pub mod service;
pub mod setup;
#[cfg(feature = "gui")]
pub mod wizard;
