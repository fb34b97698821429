//! `eas-connector config …`: path, show, check, set, set-password, clear-password,
//! migrate-secrets, purge.
//!
//! Reads and writes go through `config::ConfigFile` (atomic, with backup, unknown elements
//! kept) and `secrets` (systemd credentials, the OS vault, or the plainly announced unencrypted
//! file). Passwords are read
//! from a prompt without echo or from stdin, never from the command line (it would land in
//! shell history and process lists), and are never printed.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::Outcome;
use crate::config::purge::{self as purging, OrgFolder};
use crate::config::{fields, model, ConfigError, ConfigFile, ConfigLocation, OrgFile, FIELDS};
use crate::secrets::{self, Preference, Secret, SecretKind};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print where the configuration, its backup and the logs are.
    Path,
    /// Print the effective configuration; passwords only as where they are stored.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration file; exit 1 with line, column and element for each problem.
    Check,
    /// Set one field (e.g. `Proxy/Port 3128`); an empty VALUE resets it to its default.
    /// Written atomically; the previous file is kept as ConnectorServiceConfiguration.xml.bak.
    Set {
        /// Field path as in the file, e.g. ClientAccessServer, Proxy/Host or Proxy.Port.
        field: String,
        value: String,
    },
    /// Store a password in the credential store (prompted, or one line from stdin).
    SetPassword {
        account: PasswordFor,
        /// Read the password from the first line of stdin, even on a terminal.
        #[arg(long)]
        stdin: bool,
    },
    /// Remove a stored password.
    ClearPassword { account: PasswordFor },
    /// Move every stored password into another store (from an old ConnectorSecrets.json
    /// too); the old copy is removed only after the new one reads back.
    MigrateSecrets {
        /// The store to move them to.
        #[arg(long, value_enum)]
        to: MigrateTo,
    },
    /// Delete the organization's folder (configuration, .bak, Logs, status and state files)
    /// and its passwords from the credential store. Refused while its service is installed.
    Purge {
        /// Every organization under the configuration root instead of --org; the root folder
        /// goes too when nothing else is left in it.
        #[arg(long)]
        all: bool,
        /// Really delete (without it, only says what would be deleted).
        #[arg(long)]
        yes: bool,
    },
}

impl ConfigCommand {
    pub(super) fn writes(&self) -> bool {
        matches!(
            self,
            ConfigCommand::Set { .. }
                | ConfigCommand::SetPassword { .. }
                | ConfigCommand::ClearPassword { .. }
                | ConfigCommand::MigrateSecrets { .. }
        )
    }

    /// Whether the command deletes organization folders: it must not log into them (an open
    /// log file cannot be deleted on Windows, and the log would be deleted anyway).
    pub(super) fn deletes_org_dirs(&self) -> bool {
        matches!(self, ConfigCommand::Purge { .. })
    }
}

/// A store `config migrate-secrets` moves passwords to.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MigrateTo {
    /// systemd credentials, encrypted with this machine's key (Linux, as root).
    Systemd,
    /// This account's Secret Service (desktop keyring); `os` is another name for it.
    #[value(alias = "os")]
    SecretService,
}

/// Which account's password.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PasswordFor {
    /// The Exchange service account.
    ServiceAccount,
    /// The notification mailbox account.
    NotificationAccount,
    /// The proxy account.
    Proxy,
}

impl From<PasswordFor> for SecretKind {
    fn from(a: PasswordFor) -> Self {
        match a {
            PasswordFor::ServiceAccount => SecretKind::ServiceAccount,
            PasswordFor::NotificationAccount => SecretKind::NotificationAccount,
            PasswordFor::Proxy => SecretKind::Proxy,
        }
    }
}

pub(super) fn run(cmd: ConfigCommand, loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    match cmd {
        ConfigCommand::Path => {
            println!("configuration: {}", loc.config_file().display());
            println!("backup:        {}", loc.backup_file().display());
            println!("logs:          {}", loc.logs_dir().display());
            Ok(Outcome::Success)
        }
        ConfigCommand::Show { json } => show(loc, json),
        ConfigCommand::Check => check(loc),
        ConfigCommand::Set { field, value } => set(loc, &field, &value),
        ConfigCommand::SetPassword { account, stdin } => set_password(loc, account.into(), stdin),
        ConfigCommand::ClearPassword { account } => clear_password(loc, account.into()),
        ConfigCommand::MigrateSecrets { to } => migrate_secrets(
            loc,
            match to {
                MigrateTo::Systemd => secrets::StoreKind::Systemd,
                MigrateTo::SecretService => secrets::StoreKind::Os,
            },
        ),
        ConfigCommand::Purge { all, yes } => purge(loc, all, yes),
    }
}

/// Whether a password is needed for `kind` with this configuration.
fn password_used(config: &model::ConnectorConfig, kind: SecretKind) -> Result<(), &'static str> {
    match kind {
        SecretKind::ServiceAccount => Ok(()),
        SecretKind::NotificationAccount => Ok(()),
        SecretKind::Proxy if config.proxy.enabled && config.proxy.use_credentials => Ok(()),
        SecretKind::Proxy => Err("not used: Proxy/Enabled or Proxy/UseCredentials is false"),
        _ if !config.cloud.is_configured() => {
            Err("not used: Cloud/TenantId or Cloud/ApplicationId is empty")
        }
        SecretKind::CloudClientSecret
            if config.cloud.credential == model::CloudCredential::Secret =>
        {
            Ok(())
        }
        SecretKind::CloudClientSecret => Err("not used: Cloud/Credential is Certificate"),
        SecretKind::CloudCertificate | SecretKind::CloudPrivateKey
            if config.cloud.credential == model::CloudCredential::Certificate =>
        {
            Ok(())
        }
        SecretKind::CloudCertificate | SecretKind::CloudPrivateKey => {
            Err("not used: Cloud/Credential is Secret")
        }
    }
}

fn show(loc: &ConfigLocation, as_json: bool) -> anyhow::Result<Outcome> {
    let file = ConfigFile::load(loc)?;
    let cfg = &file.config;
    let opened = secrets::Preference::from_env().and_then(|p| secrets::open(loc, p));
    let mut entries = Vec::new();
    for kind in SecretKind::ALL {
        let (state, location) = match &opened {
            Ok(o) => match secrets::get_any(o.store.as_ref(), kind) {
                Ok(Some(_)) => ("stored", o.store.describe(kind)),
                Ok(None) => ("not stored", o.store.describe(kind)),
                Err(e) => ("unreadable", e.to_string()),
            },
            Err(e) => ("unknown", e.to_string()),
        };
        entries.push((kind, state, location, password_used(cfg, kind).err()));
    }
    if as_json {
        let secrets_json: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .map(|(k, state, location, unused)| {
                (
                    k.key().to_string(),
                    json!({"state": state, "location": location, "in_use": unused.is_none()}),
                )
            })
            .collect();
        let store = match &opened {
            Ok(o) => {
                json!({"store": o.kind.word(), "backend": o.store.backend().to_string(), "warning": o.warning})
            }
            Err(e) => json!({"error": e.to_string()}),
        };
        let out = json!({
            "path": file.path(),
            "organization": loc.org(),
            "config": cfg,
            "secret_store": store,
            "secrets": secrets_json,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Success);
    }
    println!("# {}", file.path().display());
    let width = FIELDS.iter().map(|f| f.path.len()).max().unwrap_or(0);
    for f in FIELDS {
        let v = f.get(cfg);
        let shown = if v.is_empty() {
            "(not set)".to_string()
        } else {
            v
        };
        println!("{:width$}  {shown}", f.path);
    }
    println!();
    match &opened {
        Ok(o) => {
            println!("Passwords are kept in: {}", o.store.backend());
            if let Some(w) = &o.warning {
                println!("  WARNING: {w}");
            }
        }
        Err(e) => println!("Passwords: the credential store could not be opened: {e}"),
    }
    for (kind, state, location, unused) in &entries {
        match unused {
            Some(why) => println!("  {:<30} {state} ({why})", kind.label()),
            None => println!("  {:<30} {state} — {location}", kind.label()),
        }
    }
    Ok(Outcome::Success)
}

fn check(loc: &ConfigLocation) -> anyhow::Result<Outcome> {
    let file = match ConfigFile::load(loc) {
        Ok(f) => f,
        Err(e @ (ConfigError::Malformed { .. } | ConfigError::Invalid { .. })) => {
            eprintln!("✘ {e}");
            return Ok(Outcome::ProblemsFound);
        }
        Err(e) => return Err(e.into()),
    };
    let problems = file.completeness_problems();
    if problems.is_empty() {
        println!("✔ {} is valid and complete", file.path().display());
        return Ok(Outcome::Success);
    }
    eprintln!(
        "✘ {}: {} problem(s):",
        file.path().display(),
        problems.len()
    );
    for p in problems {
        eprintln!("  {p}");
    }
    Ok(Outcome::ProblemsFound)
}

fn set(loc: &ConfigLocation, field: &str, value: &str) -> anyhow::Result<Outcome> {
    let Some(spec) = fields::find(field) else {
        let known: Vec<&str> = FIELDS.iter().map(|f| f.path).collect();
        bail!(
            "'{}' is not a configuration field; the fields are: {}",
            crate::config::validate::shown(field),
            known.join(", ")
        );
    };
    if spec.managed() {
        bail!(
            "{} is managed by EAS Connector and cannot be set by hand",
            spec.path
        );
    }
    let _writer = loc.lock(OrgFile::Config)?;
    let mut file = ConfigFile::load_or_new(loc).context("the configuration was not changed")?;
    spec.set(&mut file.config, value)
        .map_err(|e| anyhow::anyhow!("{}: {e}", spec.path))?;
    file.save()?;
    tracing::info!(field = spec.path, file = %file.path().display(), "configuration field changed");
    println!(
        "{} = {} in {}",
        spec.path,
        spec.get(&file.config),
        file.path().display()
    );
    // Saved, but say so when the value leaves the connector unable to run (e.g. an empty
    // ClientAccessServer).
    for p in file
        .completeness_problems()
        .iter()
        .filter(|p| p.field == spec.path)
    {
        eprintln!("warning: {p}");
    }
    Ok(Outcome::Success)
}

pub(super) fn read_password(kind: SecretKind, from_stdin: bool) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let secret = if from_stdin || !stdin.is_terminal() {
        let mut line = zeroize::Zeroizing::new(String::new());
        stdin
            .lock()
            .read_line(&mut line)
            .context("could not read the password from stdin")?;
        Secret::new(line.trim_end_matches(['\r', '\n']))
    } else {
        let first = Secret::new(rpassword::prompt_password(format!("{}: ", kind.label()))?);
        let again = Secret::new(rpassword::prompt_password("again, to confirm: ")?);
        if first != again {
            bail!("the two passwords differ; nothing was stored");
        }
        first
    };
    if secret.is_empty() {
        bail!(
            "the {} is empty; nothing was stored (use `config clear-password` to remove one)",
            kind.label()
        );
    }
    Ok(secret)
}

fn set_password(
    loc: &ConfigLocation,
    kind: SecretKind,
    from_stdin: bool,
) -> anyhow::Result<Outcome> {
    let secret = read_password(kind, from_stdin)?;
    let opened = secrets::open(loc, Preference::from_env()?)?;
    if let Some(w) = &opened.warning {
        eprintln!("WARNING: {w}");
    }
    opened.store.set(kind, &secret)?;
    tracing::info!(secret = kind.key(), backend = %opened.store.backend(), "password stored");
    println!(
        "stored the {} in {}",
        kind.label(),
        opened.store.describe(kind)
    );
    // A running service re-reads its passwords (and resumes syncs it paused for a refused
    // account); none running is fine.
    if let Ok(crate::service::control::Reply::Reloaded { .. }) = crate::service::control::request(
        loc,
        &crate::service::control::Request::Reload,
        std::time::Duration::from_secs(5),
    ) {
        println!("the running service re-read its passwords");
    }
    after_credentials_changed(loc, opened.kind)?;
    Ok(Outcome::Success)
}

/// After systemd credentials changed: the unit's `LoadCredentialEncrypted=` lines follow, and
/// the admin is told that the service must restart to load them.
fn after_credentials_changed(loc: &ConfigLocation, kind: secrets::StoreKind) -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    if kind == secrets::StoreKind::Systemd {
        if let Some(next) = crate::service::systemd::refresh_credentials(loc)
            .context("the password was stored, but the service's unit could not be updated")?
        {
            println!("{next}");
        }
    }
    let _ = (loc, kind);
    Ok(())
}

fn migrate_secrets(loc: &ConfigLocation, to: secrets::StoreKind) -> anyhow::Result<Outcome> {
    let done = secrets::migrate(loc, to).with_context(|| {
        format!(
            "config migrate-secrets --to {}: the passwords were not moved; the store in use is unchanged",
            to.word()
        )
    })?;
    tracing::info!(to = to.word(), moved = done.moved.len(), "passwords moved");
    let labels: Vec<&str> = done.moved.iter().map(|k| k.label()).collect();
    if labels.is_empty() {
        println!(
            "no password was stored; {} is now this organization's store",
            to.admin_words()
        );
    } else {
        println!("now in {}: {}", to.admin_words(), labels.join(", "));
    }
    for from in &done.removed_from {
        println!("removed the old copies from {from}");
    }
    after_credentials_changed(loc, to)?;
    Ok(Outcome::Success)
}

fn clear_password(loc: &ConfigLocation, kind: SecretKind) -> anyhow::Result<Outcome> {
    let opened = secrets::open(loc, Preference::from_env()?)?;
    if opened.store.delete(kind)? {
        tracing::info!(secret = kind.key(), "password removed");
        println!(
            "removed the {} from {}",
            kind.label(),
            opened.store.backend()
        );
        after_credentials_changed(loc, opened.kind)?;
    } else {
        println!(
            "no {} was stored in {}",
            kind.label(),
            opened.store.backend()
        );
    }
    Ok(Outcome::Success)
}

/// One organization `config purge` works on: its location and its folder, if it has one.
struct PurgeTarget {
    loc: ConfigLocation,
    folder: Option<OrgFolder>,
}

fn purge_targets(loc: &ConfigLocation, all: bool) -> anyhow::Result<Vec<PurgeTarget>> {
    if !all {
        return Ok(vec![PurgeTarget {
            loc: loc.clone(),
            folder: purging::org_folder(loc)?,
        }]);
    }
    purging::org_folders(loc.root())?
        .into_iter()
        .map(|f| {
            Ok(PurgeTarget {
                loc: ConfigLocation::new(Some(loc.root()), &f.org)?,
                folder: Some(f),
            })
        })
        .collect()
}

/// Refuse while a service is installed for one of the organizations: it would keep running
/// without its configuration (and on Windows it holds its log file open).
fn refuse_if_service_installed(targets: &[PurgeTarget]) -> anyhow::Result<()> {
    let m = match crate::service::platform_manager() {
        Ok(m) => m,
        // No service manager here: no service can be installed through it.
        Err(crate::service::ServiceError::Unavailable(_)) => return Ok(()),
        Err(e) => {
            bail!("config purge: could not check for installed services: {e}; nothing was deleted")
        }
    };
    let mut installed = Vec::new();
    for t in targets {
        let org = t.loc.org();
        let state = m.state(org).with_context(|| {
            format!("config purge: could not check whether a service is installed for organization '{org}'; nothing was deleted")
        })?;
        if state != crate::service::ServiceState::NotInstalled {
            installed.push(format!("{} (organization '{org}')", m.service_name(org)));
        }
    }
    if !installed.is_empty() {
        bail!(
            "config purge: a service is still installed: {}; remove it first with `eas-connector service uninstall --org NAME` (or `service uninstall --all`), then purge again; nothing was deleted",
            installed.join(", ")
        );
    }
    Ok(())
}

fn purge_plan_text(targets: &[PurgeTarget], pref: Preference) -> String {
    let mut s = String::new();
    for t in targets {
        let org = t.loc.org();
        match &t.folder {
            Some(f) if f.entries.is_empty() => {
                s.push_str(&format!("\n  the empty folder {}", f.dir.display()));
            }
            Some(f) => s.push_str(&format!(
                "\n  the folder {} with everything in it: {}",
                f.dir.display(),
                f.entries.join(", ")
            )),
            None => s.push_str(&format!(
                "\n  (organization '{org}' has no folder at {})",
                t.loc.org_dir().display()
            )),
        }
        if pref != Preference::File {
            let accounts: Vec<String> = SecretKind::ALL
                .iter()
                .map(|k| format!("\"{org}/{}\"", k.key()))
                .collect();
            s.push_str(&format!(
                "\n  the passwords of '{org}' in {}, service \"{}\", accounts {}",
                secrets::vault_name(),
                secrets::VAULT_SERVICE,
                accounts.join(", ")
            ));
        }
    }
    s
}

fn purge(loc: &ConfigLocation, all: bool, yes: bool) -> anyhow::Result<Outcome> {
    let targets = purge_targets(loc, all)?;
    if targets.is_empty() {
        println!(
            "no organization folder under {}; nothing to delete",
            loc.root().display()
        );
        return Ok(Outcome::Success);
    }
    refuse_if_service_installed(&targets)?;
    let pref = Preference::from_env()?;
    if !yes {
        let again = if all {
            "eas-connector config purge --all --yes".to_string()
        } else {
            format!("eas-connector --org {} config purge --yes", loc.org())
        };
        bail!(
            "config purge would delete:{}\nThis cannot be undone, so nothing was deleted; to delete it, run `{again}`",
            purge_plan_text(&targets, pref)
        );
    }
    for t in &targets {
        let org = t.loc.org();
        let purged = secrets::purge(&t.loc, pref).with_context(|| {
            format!("config purge: the passwords of organization '{org}' could not be deleted; its folder was kept")
        })?;
        if let Some(f) = &t.folder {
            purging::remove(f).with_context(|| format!("config purge: organization '{org}'"))?;
            println!("deleted {}", f.dir.display());
        }
        if !purged.from_vault.is_empty() {
            let labels: Vec<&str> = purged.from_vault.iter().map(|k| k.label()).collect();
            println!(
                "deleted from {} for '{org}': {}",
                secrets::vault_name(),
                labels.join(", ")
            );
        } else if let Some(why) = &purged.vault_skipped {
            println!("passwords of '{org}': {why}");
        } else {
            println!(
                "no password of '{org}' was stored in {}",
                secrets::vault_name()
            );
        }
        tracing::info!(org, "organization purged");
    }
    if all && purging::remove_root_if_empty(loc.root())? {
        println!("deleted {}", loc.root().display());
    }
    Ok(Outcome::Success)
}
