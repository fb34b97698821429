//! Everything that talks to Exchange: HTTP connections, WinRM/PSRP, Autodiscover and EWS.
//!
//! The rest of the program sees typed operations and typed errors; wire formats stay in here.
pub mod http;
