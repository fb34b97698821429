//! The client side of Exchange: everything that talks to remote PowerShell, Autodiscover, EWS
//! and ActiveSync. Wire formats are in [`crate::wire`] (no I/O); here is the I/O built on them:
//! [`http`] (one connection, stage-by-stage errors), [`dns`] (SRV records and canonical names),
//! [`auth`] (Basic, NTLM, Negotiate, Kerberos, channel binding), [`client`] (an authenticated
//! session, with WinRM message sealing over plain HTTP), [`ops`] (the [`ops::Exchange`] trait:
//! the typed operations the rest of the program uses, whatever the transport),
//! [`powershell`] (the runspace pool, and `powershell::cmdlets`, the trait over remote
//! PowerShell), [`autodiscover`], [`ews`] and [`activesync`]. It must not read the
//! configuration (`engine::target` turns it into connection options). The rest of the program
//! sees typed operations and typed errors; it must not build cmdlets or parse CLIXML itself.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

pub mod activesync;
pub mod auth;
pub mod autodiscover;
pub mod client;
pub mod dns;
pub mod ews;
pub mod http;
pub mod ops;
pub mod powershell;
