//! `eas-connector cloud …`: the Microsoft cloud identity's credential (import a certificate,
//! store a client secret) and what is configured. The key or secret goes into the credential
//! store only; the file imported is not needed afterwards.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use super::Outcome;
use crate::cloud::certificate;
use crate::config::{fields, model::CloudCredential, ConfigFile, ConfigLocation, OrgFile};
use crate::secrets::{self, Preference, Secret, SecretKind};

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Import the app registration's certificate and private key (PEM with both, or a
    /// PFX/PKCS#12) into the credential store, and set Cloud/Credential to Certificate.
    SetCertificate {
        /// The PEM or PFX file; it is not needed afterwards.
        file: PathBuf,
        /// Environment variable holding the PFX's password.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Store the app registration's client secret (prompted, or one line on stdin) and set
    /// Cloud/Credential to Secret.
    SetSecret {
        /// Read it from stdin even on a terminal.
        #[arg(long)]
        stdin: bool,
    },
    /// Show the cloud identity, where its credential is, and the certificate's thumbprint,
    /// subject and expiry (never the key or secret).
    Show,
}

impl CloudCommand {
    pub fn writes(&self) -> bool {
        !matches!(self, CloudCommand::Show)
    }
}

pub(super) fn run(cmd: CloudCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    match cmd {
        CloudCommand::SetCertificate { file, password_env } => {
            let password = match password_env {
                Some(var) => Some(Secret::new(std::env::var(&var).with_context(|| {
                    format!("--password-env {var}: the environment variable is not set; set it to the PFX's password")
                })?)),
                None => None,
            };
            let cert = certificate::import_file(&file, password.as_ref())?;
            let opened = secrets::open(loc, Preference::from_env()?)?;
            if let Some(w) = &opened.warning {
                eprintln!("WARNING: {w}");
            }
            certificate::save(opened.store.as_ref(), &cert)?;
            set_fields(
                loc,
                &[
                    (
                        &fields::CLOUD_CREDENTIAL,
                        CloudCredential::Certificate.name_str(),
                    ),
                    (&fields::CLOUD_CERTIFICATE_THUMBPRINT, &cert.thumbprint),
                ],
            )?;
            tracing::info!(thumbprint = %cert.thumbprint, backend = %opened.store.backend(), "cloud certificate imported");
            println!(
                "imported certificate {} ({}, valid until {}) and its key into {}\nupload the same certificate (public part) to the app registration's Certificates & secrets; {} is not needed any more",
                cert.thumbprint,
                cert.subject,
                cert.not_after,
                opened.store.describe(SecretKind::CloudPrivateKey),
                file.display()
            );
            Ok(Outcome::Success)
        }
        CloudCommand::SetSecret { stdin } => {
            let secret = super::config_cmd::read_password(SecretKind::CloudClientSecret, stdin)?;
            let opened = secrets::open(loc, Preference::from_env()?)?;
            if let Some(w) = &opened.warning {
                eprintln!("WARNING: {w}");
            }
            opened.store.set(SecretKind::CloudClientSecret, &secret)?;
            set_fields(
                loc,
                &[(
                    &fields::CLOUD_CREDENTIAL,
                    CloudCredential::Secret.name_str(),
                )],
            )?;
            tracing::info!(backend = %opened.store.backend(), "cloud client secret stored");
            println!(
                "stored the {} in {}",
                SecretKind::CloudClientSecret.label(),
                opened.store.describe(SecretKind::CloudClientSecret)
            );
            Ok(Outcome::Success)
        }
        CloudCommand::Show => show(loc),
    }
}

fn set_fields(loc: &ConfigLocation, values: &[(&fields::Field, &str)]) -> anyhow::Result<()> {
    let _writer = loc.lock(OrgFile::Config)?;
    let mut file = ConfigFile::load_or_new(loc)
        .context("the credential was stored, but the configuration could not be read")?;
    for (f, v) in values {
        f.set(&mut file.config, v)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.path))?;
    }
    file.save()?;
    Ok(())
}

fn show(loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let file = ConfigFile::load(loc)?;
    let c = &file.config.cloud;
    for f in [
        &fields::CLOUD_TENANT_ID,
        &fields::CLOUD_APPLICATION_ID,
        &fields::CLOUD_AUTHORITY,
        &fields::CLOUD_GRAPH_URL,
        &fields::CLOUD_CREDENTIAL,
        &fields::CLOUD_CERTIFICATE_THUMBPRINT,
    ] {
        println!("{:<28} {}", f.path, f.get(&file.config));
    }
    let opened = secrets::open(loc, Preference::from_env()?)?;
    match c.credential {
        CloudCredential::Certificate => match certificate::load(opened.store.as_ref()) {
            Ok(cert) => println!(
                "certificate                  {} ({}, valid until {}) in {}",
                cert.thumbprint,
                cert.subject,
                cert.not_after,
                opened.store.describe(SecretKind::CloudPrivateKey)
            ),
            Err(e) => println!("certificate                  not usable: {e}"),
        },
        CloudCredential::Secret => match opened.store.get(SecretKind::CloudClientSecret)? {
            Some(_) => println!(
                "client secret                stored in {}",
                opened.store.describe(SecretKind::CloudClientSecret)
            ),
            None => println!(
                "client secret                not stored; run `eas-connector --org {} cloud set-secret`",
                loc.org()
            ),
        },
    }
    Ok(Outcome::Success)
}

/// `eas-connector intune …`: the Intune source's snapshot.
#[derive(Debug, Subcommand)]
pub enum IntuneCommand {
    /// Accept a read of Intune that shrank more than the policy's max_shrink_percent: it
    /// becomes the snapshot the next sync decides with.
    Accept,
    /// Show the snapshot in force and any read waiting for acceptance.
    Show,
    /// Read Intune's managed devices now through <Cloud> (every page; nothing is written):
    /// how many, by compliance state, the pages, the throttling waits and the time taken.
    Read {
        #[arg(long)]
        json: bool,
    },
}

impl IntuneCommand {
    pub fn writes(&self) -> bool {
        matches!(self, IntuneCommand::Accept)
    }
}

pub(super) fn intune(cmd: IntuneCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    match cmd {
        IntuneCommand::Accept => {
            let a = crate::engine::intune::accept(&loc.org_dir())?;
            tracing::info!(previous = a.previous, accepted = a.accepted, admin = %super::admin_name(), "shrunken Intune read accepted");
            println!(
                "accepted Intune's read: {} enrolled devices (the previous snapshot had {}); the next sync decides with it",
                a.accepted, a.previous
            );
            Ok(Outcome::Success)
        }
        IntuneCommand::Read { json } => read(loc, json),
        IntuneCommand::Show => {
            for (f, what) in [
                (OrgFile::IntuneSnapshot, "snapshot in force"),
                (OrgFile::IntunePending, "waiting for `intune accept`"),
            ] {
                let path = loc.file(f);
                match std::fs::read(&path) {
                    Ok(b) => {
                        let s: crate::engine::policy::intune::IntuneSnapshot =
                            serde_json::from_slice(&b)
                                .with_context(|| format!("{} is damaged", path.display()))?;
                        println!(
                            "{what}: {} enrolled devices with an EAS id of {} managed, read {}",
                            s.devices.len(),
                            s.managed_devices,
                            s.taken_at.map(|t| t.to_string()).unwrap_or_default()
                        );
                    }
                    Err(_) => println!("{what}: none"),
                }
            }
            Ok(Outcome::Success)
        }
    }
}

fn read(loc: &ConfigLocation, as_json: bool) -> anyhow::Result<Outcome> {
    let file = ConfigFile::load(loc)?;
    let cfg = &file.config;
    let opened = secrets::open(loc, Preference::from_env()?)?;
    let proxy = if cfg.proxy.enabled && cfg.proxy.use_credentials {
        opened.store.get(SecretKind::Proxy)?
    } else {
        None
    };
    let mut graph = crate::cloud::graph_client(
        cfg,
        opened.store.as_ref(),
        proxy.as_ref(),
        crate::cloud::AssertionAlg::default(),
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let read = rt.block_on(graph.managed_devices(
        crate::cloud::graph::PAGE_SIZE,
        false,
        &mut |_, _| {},
        &mut |w| {
            if !as_json {
                eprintln!(
                    "Graph answered {} and asked to wait {} s",
                    w.status, w.seconds
                )
            }
        },
    ))?;
    let seconds = started.elapsed().as_secs_f64();
    let snap = crate::engine::policy::intune::IntuneSnapshot::from_devices(
        &read.devices,
        jiff::Timestamp::now(),
    );
    let mut by_state: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in snap.devices.values() {
        *by_state.entry(r.compliance.as_str()).or_default() += 1;
    }
    if as_json {
        println!(
            "{}",
            serde_json::json!({
                "managed_devices": read.devices.len(),
                "enrolled_with_eas_id": snap.devices.len(),
                "by_compliance_state": by_state,
                "pages": read.pages,
                "waits": read.waits,
                "tokens_fetched": read.tokens_fetched,
                "seconds": seconds,
            })
        );
    } else {
        println!(
            "{} managed devices in {} pages ({:.1} s); {} enrolled with an ActiveSync id:",
            read.devices.len(),
            read.pages,
            seconds,
            snap.devices.len()
        );
        for (s, n) in by_state {
            println!("  {s:<16} {n}");
        }
    }
    Ok(Outcome::Success)
}
