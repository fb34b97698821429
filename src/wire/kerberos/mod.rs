//! Kerberos without I/O: [`crypto`] (keys, encrypted parts, Wrap/MIC tokens, channel binding
//! hashes), [`messages`] (AS/TGS/AP messages and KRB-ERROR, the acceptor's side too), [`gss`]
//! (GSS framing and SPNEGO), [`keytab`] (service keys) and [`names`] (principals, realms and
//! SPNs from the configured account and server). The client that talks to KDCs and servers is
//! `exchange::auth::kerberos`; the lab's acceptor is `lab::kerberos`. Nothing here prints a
//! key or a ticket.

pub mod crypto;
pub mod gss;
pub mod keytab;
pub mod messages;
pub mod names;

pub use names::{NameError, Principal, RealmSource};
