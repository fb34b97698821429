//! The background service: registration with the platform's service manager, the runtime
//! (`eas-connector run`), its status file and its local control channel.
//!
//! Everything that registers, starts or stops a service goes through [`ServiceManager`], so
//! the wizard, `configure` and `eas-connector service …` behave the same on Windows (SCM) and
//! Linux (systemd).

pub mod manager;
