//! The Microsoft cloud client: Entra ID app-only sign-in and the Microsoft Graph calls the
//! connector makes (Intune's managed devices).
//!
//! One module for every Microsoft cloud call (Intune now, Exchange Online later): the identity
//! is the configuration's `<Cloud>` section, the credential (a certificate's key or a client
//! secret) comes from the secret store ([`certificate`]), and every request goes through the
//! configured proxy and `TrustedCaFile`. It decides nothing about devices (that is the
//! engine's), writes no file and never puts a key, secret or token into an error, log line
//! or `Debug` output.

pub mod certificate;

pub use certificate::{AppCertificate, ImportError};
