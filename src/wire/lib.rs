//! EAS Connector's wire formats, without I/O: what the connector's client and the lab's server
//! both speak, and the words Exchange uses.
//!
//! Layers, bottom up: [`xml`] (a namespace-aware tokenizer and tree with limits) and
//! [`xmlscan`], [`clixml`] (PowerShell's value model), [`psrp`] (fragments, messages, PSRP
//! objects), [`wsman`] (envelopes, faults, builders), [`session`] (the client's request
//! sequence as a state machine), [`sealing`] (WinRM message encryption framing), [`capture`]
//! (decoding recordings for support), [`kerberos`] (keys, tokens and messages), and
//! [`exchange`] (Exchange's vocabulary: access states and reasons, device identities, list
//! updates, OPATH filters). Nothing here opens a socket or a file or spawns a task — the
//! crate has no I/O dependency, and `tests/wire_has_no_io.rs` in the product checks its
//! sources for `std::fs` and `std::net`. Input comes from the network, so nothing here may
//! panic on it: the lints below make indexing, `unwrap` and `panic!` compile errors.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

pub mod capture;
pub mod clixml;
pub mod exchange;
pub mod kerberos;
pub mod psrp;
pub mod sealing;
pub mod session;
pub mod wsman;
pub mod xml;
pub mod xmlscan;
