//! `eas-connector lab`: run the simulated Exchange organization in the foreground until
//! Ctrl-C or SIGTERM, after printing where everything is.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::Outcome;
use crate::lab::{AuthProfile, ExchangeVersion, ExtendedProtectionMode, Lab, LabOptions};

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Address of the first simulated CAS (port 0: free ports; port P: servers on P, P+1, …).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Number of simulated Client Access Servers (1-16).
    #[arg(long, default_value_t = 2)]
    servers: usize,
    /// Number of ActiveSync devices in the org.
    #[arg(long, default_value_t = 200)]
    devices: u32,
    /// Seed for the generated org and the account passwords.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Exchange version to simulate.
    #[arg(long, default_value = "2019", value_parser = ["2010", "2013", "2016", "2019"])]
    exchange_version: String,
    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Where lab.json, answers.toml, the CA and the outbox go [default: a new temporary folder].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Serve plain http:// instead of HTTPS; /PowerShell then requires WinRM message
    /// encryption (NTLM or Negotiate), like WinRM with AllowUnencrypted=false.
    #[arg(long)]
    plain_http: bool,
    /// How the servers authenticate: `lab` (Negotiate, NTLM and Basic everywhere) or
    /// `exchange-default` (as an Exchange nobody reconfigured: /PowerShell Kerberos only over
    /// http:// and https://, EWS and ActiveSync Negotiate/NTLM with Extended Protection
    /// "Allow"; needs --keytab and --realm).
    #[arg(long, default_value = "lab", value_parser = ["lab", "exchange-default"])]
    auth_profile: String,
    /// A keytab (from the realm's KDC) with the HTTP/<host> key the servers accept Kerberos
    /// tickets with; the URLs then use that host name.
    #[arg(long, value_name = "FILE")]
    keytab: Option<PathBuf>,
    /// The Kerberos realm of the lab's accounts, e.g. EAS.TEST.
    #[arg(long, value_name = "REALM")]
    realm: Option<String>,
    /// The KDC to name in answers.toml (Kerberos/KdcAddress), host:port.
    #[arg(long, value_name = "HOST:PORT")]
    kdc: Option<String>,
    /// Extended Protection on the HTTPS endpoints: `exchange-default` (/PowerShell None, EWS
    /// and ActiveSync Allow) or `require` (every HTTPS endpoint refuses a sign-in without a
    /// matching channel binding token).
    #[arg(long, default_value = "exchange-default", value_parser = ["exchange-default", "require"])]
    extended_protection: String,
}

pub(super) fn run(args: LabArgs) -> anyhow::Result<Outcome> {
    let version = ExchangeVersion::parse(&args.exchange_version)
        .ok_or_else(|| anyhow::anyhow!("--exchange-version must be 2010, 2013, 2016 or 2019"))?;
    let mut opts = LabOptions {
        listen: args.listen,
        servers: args.servers,
        devices: args.devices,
        seed: args.seed,
        version,
        latency_ms: args.latency_ms,
        plain_http: args.plain_http,
        auth_profile: if args.auth_profile == "exchange-default" {
            AuthProfile::ExchangeDefault
        } else {
            AuthProfile::Lab
        },
        keytab: args.keytab,
        realm: args.realm,
        kdc: args.kdc,
        extended_protection: if args.extended_protection == "require" {
            ExtendedProtectionMode::Require
        } else {
            ExtendedProtectionMode::ExchangeDefault
        },
        ..LabOptions::default()
    };
    if let Some(d) = args.state_dir {
        opts.state_dir = d;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = Shutdown::install();
        let lab = Lab::start(opts).await?;
        let info = lab.info();
        println!("{}", serde_json::to_string_pretty(info)?);
        eprintln!(
            "lab: {} devices, {} CAS, Exchange {}; ready in {} ms, org ≈ {:.1} MB",
            info.devices,
            info.servers.len(),
            info.exchange_version,
            lab.startup.as_millis(),
            lab.org_bytes() as f64 / 1_048_576.0
        );
        eprintln!(
            "lab: state in {}; answers file {}",
            info.state_dir.display(),
            info.state_dir.join("answers.toml").display()
        );
        eprintln!("lab: running until Ctrl-C or SIGTERM");
        shutdown.wait().await;
        eprintln!("lab: stopping");
        lab.shutdown();
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Outcome::Success)
}

/// SIGTERM / Ctrl-C, listened for from before the lab writes `lab.json`: a supervisor that
/// signals as soon as the file appears still gets a clean stop.
struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    fn install() -> Shutdown {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Shutdown {
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Shutdown {}
        }
    }

    #[allow(unused_mut)]
    async fn wait(mut self) {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
