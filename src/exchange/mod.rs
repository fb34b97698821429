//! Everything that talks to Exchange remote PowerShell, Autodiscover, EWS and ActiveSync.
//!
//! Codec layers, bottom up, shared by the connector's client and the lab's server: [`xml`]
//! (namespace-aware tree with limits), [`clixml`] (value model), [`psrp`] (fragments,
//! messages, PSRP objects), [`wsman`] (envelopes, faults, builders), [`capture`] (decode
//! recordings for support) and [`session`] (the client's request sequence). These do no I/O
//! and may not panic on hostile input (the lints below make that a compile error).
//!
//! I/O layers: [`http`] (one connection, stage-by-stage errors), [`dns`] (SRV records and
//! canonical names), [`client`] (an authenticated session: Kerberos from [`kerberos`], NTLM
//! and Negotiate from [`ntlm`], Basic; with WinRM message encryption from [`encryption`] over
//! plain HTTP), and the typed clients built on them. [`kerberos`] keeps its own codec layers
//! (keys, messages, GSS tokens) free of I/O too. The rest of the program sees typed
//! operations and typed errors; wire formats stay in here.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

pub mod activesync;
pub mod autodiscover;
pub mod capture;
pub mod client;
pub mod clixml;
pub mod dns;
pub mod encryption;
pub mod ews;
pub mod http;
pub mod kerberos;
pub mod ntlm;
pub mod ops;
pub mod powershell;
pub mod psrp;
pub mod session;
pub mod target;
pub mod wsman;
pub mod xml;
pub mod xmlscan;
