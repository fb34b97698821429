//! systemd registration: one template unit `eas-connector@.service` (an instance per
//! organization) plus, per organization, a drop-in `eas-connector@<org>.service.d/eas-connector.conf`
//! holding that instance's command line and writable folder, and a second drop-in
//! `credentials.conf` with one `LoadCredentialEncrypted=` line per password stored as a systemd
//! credential (rewritten whenever that set changes: a missing file would stop the unit from
//! starting); `systemctl daemon-reload`, `enable --now`, `disable --now`.
//!
//! The unit folder and the `systemctl` program can be replaced (`EAS_CONNECTOR_SYSTEMD_UNIT_DIR`,
//! `EAS_CONNECTOR_SYSTEMCTL`) so tests run without a live systemd and record the commands. It
//! writes only the template and its own drop-ins, and uninstall removes exactly those; it must
//! not touch other units.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::manager::{InstallSpec, ServiceError, ServiceManager, ServiceState};

/// Environment variable replacing `/etc/systemd/system`.
pub const UNIT_DIR_ENV: &str = "EAS_CONNECTOR_SYSTEMD_UNIT_DIR";
/// Environment variable replacing the `systemctl` program.
pub const SYSTEMCTL_ENV: &str = "EAS_CONNECTOR_SYSTEMCTL";
/// File name of the template unit.
pub const TEMPLATE_NAME: &str = "eas-connector@.service";
const DROP_IN_NAME: &str = "eas-connector.conf";
/// The drop-in with the organization's `LoadCredentialEncrypted=` lines.
pub const CREDS_DROP_IN_NAME: &str = "credentials.conf";
const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";

fn unit_dir_from_env() -> PathBuf {
    std::env::var_os(UNIT_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_UNIT_DIR), PathBuf::from)
}

/// Whether a service is registered for `org`: its drop-in is in the unit folder. Needs no
/// running systemd.
pub fn is_registered(org: &str) -> bool {
    unit_dir_from_env()
        .join(format!("{}.d", unit_name(org)))
        .join(DROP_IN_NAME)
        .is_file()
}

/// After the set of the organization's systemd credentials changed (set-password,
/// clear-password, migrate-secrets): rewrite the unit's `LoadCredentialEncrypted=` lines when
/// its service is registered. Returns what the admin must do next (restart: systemd decrypts
/// credentials only when the service starts), or `None` when no service is registered.
pub fn refresh_credentials(
    loc: &crate::config::ConfigLocation,
) -> Result<Option<String>, ServiceError> {
    let org = loc.org();
    if !is_registered(org) {
        return Ok(None);
    }
    let sd = Systemd::from_env()?;
    if sd.write_credentials("update the service's credentials", org, &loc.org_dir())? {
        sd.systemctl("update the service's credentials", org, &["daemon-reload"])?;
    }
    Ok(Some(format!(
        "{unit} loads its credentials when it starts; a running service re-reads a changed one on `reload` (set-password sends it), and a restart (`systemctl restart {unit}`) loads them all afresh",
        unit = unit_name(org)
    )))
}

/// systemd as the service manager.
#[derive(Debug, Clone)]
pub struct Systemd {
    unit_dir: PathBuf,
    systemctl: PathBuf,
    /// Whether root is required (the real unit folder); not for a test folder.
    needs_root: bool,
}

impl Systemd {
    /// systemd with the unit folder and program from the environment, or the defaults.
    /// Fails with [`ServiceError::Unavailable`] when systemd is not running here (unless
    /// `EAS_CONNECTOR_SYSTEMCTL` names a stand-in).
    pub fn from_env() -> Result<Systemd, ServiceError> {
        let systemctl = std::env::var_os(SYSTEMCTL_ENV).filter(|v| !v.is_empty());
        if systemctl.is_none() && !Path::new("/run/systemd/system").is_dir() {
            return Err(ServiceError::Unavailable(
                "systemd is not running on this machine (no /run/systemd/system); run the connector in the foreground with `eas-connector run`, or under another supervisor".into(),
            ));
        }
        let unit_dir = std::env::var_os(UNIT_DIR_ENV).filter(|v| !v.is_empty());
        Ok(Systemd {
            needs_root: unit_dir.is_none(),
            unit_dir: unit_dir_from_env(),
            systemctl: systemctl.map_or_else(|| PathBuf::from("systemctl"), PathBuf::from),
        })
    }

    /// systemd with an explicit unit folder and program (tests).
    pub fn with_paths(unit_dir: PathBuf, systemctl: PathBuf) -> Systemd {
        Systemd {
            unit_dir,
            systemctl,
            needs_root: false,
        }
    }

    pub fn template_path(&self) -> PathBuf {
        self.unit_dir.join(TEMPLATE_NAME)
    }

    pub fn drop_in_dir(&self, org: &str) -> PathBuf {
        self.unit_dir.join(format!("{}.d", unit_name(org)))
    }

    pub fn drop_in_path(&self, org: &str) -> PathBuf {
        self.drop_in_dir(org).join(DROP_IN_NAME)
    }

    pub fn creds_drop_in_path(&self, org: &str) -> PathBuf {
        self.drop_in_dir(org).join(CREDS_DROP_IN_NAME)
    }

    /// Write the `LoadCredentialEncrypted=` drop-in for the credentials in `org_dir` now;
    /// whether it changed.
    fn write_credentials(
        &self,
        action: &'static str,
        org: &str,
        org_dir: &Path,
    ) -> Result<bool, ServiceError> {
        let path = self.creds_drop_in_path(org);
        let text = credentials_drop_in_text(org, org_dir);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
            return Ok(false);
        }
        self.write(action, org, &path, &text)?;
        Ok(true)
    }

    fn check_root(&self, action: &'static str) -> Result<(), ServiceError> {
        if self.needs_root && !rustix::process::geteuid().is_root() {
            return Err(ServiceError::NotElevated { action });
        }
        Ok(())
    }

    fn systemctl(
        &self,
        action: &'static str,
        org: &str,
        args: &[&str],
    ) -> Result<String, ServiceError> {
        let out = Command::new(&self.systemctl)
            .args(args)
            .output()
            .map_err(|e| ServiceError::Failed {
                action,
                service: unit_name(org),
                detail: format!("could not run {}: {e}", self.systemctl.display()),
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            if stderr.contains("Access denied")
                || stderr.contains("authentication required")
                || stderr.contains("Permission denied")
            {
                return Err(ServiceError::NotElevated { action });
            }
            return Err(ServiceError::Failed {
                action,
                service: unit_name(org),
                detail: format!("systemctl {}: {stderr}", args.join(" ")),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn io(action: &'static str, org: &str, path: &Path, e: std::io::Error) -> ServiceError {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            return ServiceError::NotElevated { action };
        }
        ServiceError::Failed {
            action,
            service: unit_name(org),
            detail: format!("{}: {e}", path.display()),
        }
    }

    fn write(
        &self,
        action: &'static str,
        org: &str,
        path: &Path,
        text: &str,
    ) -> Result<(), ServiceError> {
        if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
            return Ok(());
        }
        crate::config::store::write_atomic(path, text.as_bytes(), None, Some(0o644))
            .map_err(|e| Self::io(action, org, path, e))
    }
}

/// The unit name for `org`. Organization names are letters, digits, '-', '_' and '.', all
/// of which systemd takes literally in an instance name.
pub fn unit_name(org: &str) -> String {
    format!("eas-connector@{org}.service")
}

/// Quote a word for a systemd command line (`ExecStart=`): always in double quotes, with
/// `\`, `"` escaped and `%` and `$` doubled so they are not specifiers or variables.
fn quote(word: &str) -> String {
    let mut s = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '%' => s.push_str("%%"),
            '$' => s.push_str("$$"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A path for a `ReadWritePaths=`-style list: space-separated, so spaces are escaped.
fn path_word(p: &Path) -> String {
    let s = p.display().to_string();
    if s.contains([' ', '"', '\\']) {
        let inner = s
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('%', "%%");
        format!("\"{inner}\"")
    } else {
        s.replace('%', "%%")
    }
}

/// The template unit: what every organization's instance shares.
pub fn template_text() -> String {
    format!(
        "\
# Written by `eas-connector service install`; removed by `eas-connector service uninstall`.
# One instance per Exchange organization: eas-connector@<org>.service. Each instance's command
# line and writable folder are in eas-connector@<org>.service.d/{DROP_IN_NAME}.
[Unit]
Description=EAS Connector (%i)
Documentation=https://github.com/eas-connector/eas-connector
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/bin/false
Restart=on-failure
RestartSec=10s
TimeoutStopSec=10s
KillMode=mixed
# Hardening: the service only talks to Exchange over the network and writes its org folder.
NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes
PrivateDevices=yes
ProtectHome=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
CapabilityBoundingSet=
UMask=0077

[Install]
WantedBy=multi-user.target
"
    )
}

/// The credentials drop-in for one organization: a `LoadCredentialEncrypted=` line for each
/// `<key>.cred` in its `Credentials` folder (the credential's ID is the key, as embedded in
/// it), so systemd decrypts them into `$CREDENTIALS_DIRECTORY` at the service's start.
pub fn credentials_drop_in_text(org: &str, org_dir: &Path) -> String {
    use crate::secrets::systemd::{cred_path, SystemdCreds};
    let dir = org_dir.join(crate::config::OrgFile::Credentials.name());
    let mut lines = String::new();
    for kind in SystemdCreds::stored(&dir) {
        lines.push_str(&format!(
            "LoadCredentialEncrypted={}:{}\n",
            kind.key(),
            cred_path(&dir, kind)
                .display()
                .to_string()
                .replace('%', "%%")
        ));
    }
    format!(
        "\
# Written by eas-connector (service install, set-password, clear-password, migrate-secrets).
# The passwords of organization {org}, encrypted with this machine's key; systemd decrypts them
# at the service's start into $CREDENTIALS_DIRECTORY.
[Service]
{lines}"
    )
}

/// The drop-in for one organization: its command line and its writable folder.
pub fn drop_in_text(org: &str, spec: &InstallSpec, org_dir: &Path) -> String {
    let mut exec = format!(
        "{} run --org {}",
        quote(&spec.exe.display().to_string()),
        quote(org)
    );
    if let Some(d) = &spec.config_dir {
        exec.push_str(&format!(
            " --config-dir {}",
            quote(&d.display().to_string())
        ));
    }
    let under = |prefixes: &[&str]| prefixes.iter().any(|p| org_dir.starts_with(p));
    let mut extra = String::new();
    // A configuration kept under a home folder or /tmp must stay reachable.
    if under(&["/home", "/root", "/run/user"]) {
        extra.push_str("ProtectHome=read-only\n");
    }
    if under(&["/tmp", "/var/tmp"]) {
        extra.push_str("PrivateTmp=no\n");
    }
    format!(
        "\
# Written by `eas-connector service install --org {org}`.
[Service]
ExecStart=
ExecStart={exec}
ReadWritePaths={rw}
{extra}",
        rw = path_word(org_dir)
    )
}

impl ServiceManager for Systemd {
    fn describe(&self) -> String {
        "systemd".into()
    }

    fn can_register(&self) -> Result<(), ServiceError> {
        self.check_root("register the service")
    }

    fn service_name(&self, org: &str) -> String {
        unit_name(org)
    }

    fn install(&self, org: &str, spec: &InstallSpec) -> Result<(), ServiceError> {
        const A: &str = "install";
        self.check_root(A)?;
        let loc =
            crate::config::ConfigLocation::new(spec.config_dir.as_deref(), org).map_err(|e| {
                ServiceError::Failed {
                    action: A,
                    service: unit_name(org),
                    detail: e.to_string(),
                }
            })?;
        let org_dir = loc.org_dir();
        std::fs::create_dir_all(&org_dir).map_err(|e| Self::io(A, org, &org_dir, e))?;
        self.write(A, org, &self.template_path(), &template_text())?;
        self.write(
            A,
            org,
            &self.drop_in_path(org),
            &drop_in_text(org, spec, &org_dir),
        )?;
        self.write_credentials(A, org, &org_dir)?;
        self.systemctl(A, org, &["daemon-reload"])?;
        self.systemctl(A, org, &["enable", "--now", &unit_name(org)])?;
        Ok(())
    }

    fn uninstall(&self, org: &str) -> Result<(), ServiceError> {
        const A: &str = "uninstall";
        self.check_root(A)?;
        let drop_in = self.drop_in_path(org);
        if !drop_in.exists() {
            return Ok(());
        }
        self.systemctl(A, org, &["disable", "--now", &unit_name(org)])?;
        std::fs::remove_file(&drop_in).map_err(|e| Self::io(A, org, &drop_in, e))?;
        let creds = self.creds_drop_in_path(org);
        match std::fs::remove_file(&creds) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Self::io(A, org, &creds, e)),
        }
        let dir = self.drop_in_dir(org);
        let _ = std::fs::remove_dir(&dir); // only when empty: an admin's own drop-ins stay
        if self.installed()?.is_empty() {
            let t = self.template_path();
            match std::fs::remove_file(&t) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Self::io(A, org, &t, e)),
            }
        }
        self.systemctl(A, org, &["daemon-reload"])?;
        Ok(())
    }

    fn start(&self, org: &str) -> Result<(), ServiceError> {
        self.check_root("start")?;
        self.systemctl("start", org, &["start", &unit_name(org)])
            .map(drop)
    }

    fn stop(&self, org: &str) -> Result<(), ServiceError> {
        self.check_root("stop")?;
        self.systemctl("stop", org, &["stop", &unit_name(org)])
            .map(drop)
    }

    fn state(&self, org: &str) -> Result<ServiceState, ServiceError> {
        if !self.drop_in_path(org).exists() {
            return Ok(ServiceState::NotInstalled);
        }
        let out = self.systemctl(
            "status",
            org,
            &[
                "show",
                "--property=LoadState,ActiveState,SubState,Result",
                &unit_name(org),
            ],
        )?;
        Ok(parse_show(&out))
    }

    fn installed(&self) -> Result<Vec<String>, ServiceError> {
        let mut orgs: Vec<String> = std::fs::read_dir(&self.unit_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let org = name
                    .strip_prefix("eas-connector@")?
                    .strip_suffix(".service.d")?;
                (!org.is_empty() && e.path().join(DROP_IN_NAME).is_file()).then(|| org.to_string())
            })
            .collect();
        orgs.sort();
        Ok(orgs)
    }
}

/// Read `systemctl show` output into a state.
pub fn parse_show(out: &str) -> ServiceState {
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if get("LoadState") == "not-found" {
        return ServiceState::NotInstalled;
    }
    match get("ActiveState").as_str() {
        "active" | "reloading" => ServiceState::Running,
        "activating" => ServiceState::Starting,
        "deactivating" => ServiceState::Stopping,
        "failed" => ServiceState::Failed(format!("failed ({})", get("Result"))),
        _ => ServiceState::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Fake {
        _dir: tempfile::TempDir,
        units: PathBuf,
        log: PathBuf,
        config: PathBuf,
        sd: Systemd,
    }

    /// A stand-in systemctl that appends its argv to a log and answers `show`.
    fn fake() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let units = dir.path().join("units");
        let log = dir.path().join("systemctl.log");
        let prog = dir.path().join("systemctl");
        std::fs::write(
            &prog,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$1\" in show) printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nResult=success\\n';; esac\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("config root");
        let sd = Systemd::with_paths(units.clone(), prog);
        Fake {
            units,
            log,
            config,
            sd,
            _dir: dir,
        }
    }

    fn spec(f: &Fake) -> InstallSpec {
        InstallSpec {
            exe: PathBuf::from("/opt/eas connector/eas-connector"),
            config_dir: Some(f.config.clone()),
        }
    }

    fn calls(f: &Fake) -> Vec<String> {
        std::fs::read_to_string(&f.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn tree(dir: &Path) -> Vec<String> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            v.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                for sub in tree(&p) {
                    v.push(format!("{}/{sub}", e.file_name().to_string_lossy()));
                }
            }
        }
        v.sort();
        v
    }

    #[test]
    fn template_has_restart_and_hardening() {
        let t = template_text();
        for line in [
            "Restart=on-failure",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "ProtectHome=yes",
            "PrivateDevices=yes",
            "WantedBy=multi-user.target",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing");
        }
    }

    #[test]
    fn drop_in_quotes_and_opens_the_org_folder() {
        let spec = InstallSpec {
            exe: PathBuf::from("/opt/eas connector/eas-connector"),
            config_dir: Some(PathBuf::from("/srv/eas 100%")),
        };
        let d = drop_in_text("contoso", &spec, Path::new("/srv/eas 100%/contoso"));
        let dir = tempfile::tempdir().unwrap();
        let org_dir = dir.path().join("100% sure");
        std::fs::create_dir_all(org_dir.join("Credentials")).unwrap();
        assert!(!credentials_drop_in_text("c", &org_dir).contains("LoadCredentialEncrypted"));
        std::fs::write(org_dir.join("Credentials").join("proxy.cred"), "x").unwrap();
        let c = credentials_drop_in_text("c", &org_dir);
        assert!(
            c.contains(&format!(
                "LoadCredentialEncrypted=proxy:{}/100%% sure/Credentials/proxy.cred\n",
                dir.path().display()
            )),
            "{c}"
        );
        assert!(d.contains(
            "ExecStart=\"/opt/eas connector/eas-connector\" run --org \"contoso\" --config-dir \"/srv/eas 100%%\"\n"
        ), "{d}");
        assert!(
            d.contains("ReadWritePaths=\"/srv/eas 100%%/contoso\"\n"),
            "{d}"
        );
        let home = drop_in_text(
            "c",
            &InstallSpec {
                exe: "/usr/bin/eas-connector".into(),
                config_dir: None,
            },
            Path::new("/root/.config/eas-connector/c"),
        );
        assert!(home.contains("ProtectHome=read-only"));
        assert!(!home.contains("--config-dir"));
    }

    #[test]
    fn install_uninstall_command_sequence_and_files() {
        let f = fake();
        assert_eq!(f.sd.state("contoso").unwrap(), ServiceState::NotInstalled);
        f.sd.install("contoso", &spec(&f)).unwrap();
        assert_eq!(
            calls(&f),
            [
                "daemon-reload",
                "enable --now eas-connector@contoso.service"
            ]
        );
        assert_eq!(
            tree(&f.units),
            [
                "eas-connector@.service",
                "eas-connector@contoso.service.d",
                "eas-connector@contoso.service.d/credentials.conf",
                "eas-connector@contoso.service.d/eas-connector.conf"
            ]
        );
        let first = std::fs::read_to_string(f.sd.drop_in_path("contoso")).unwrap();
        // Idempotent: the same files, the same commands again.
        f.sd.install("contoso", &spec(&f)).unwrap();
        assert_eq!(
            std::fs::read_to_string(f.sd.drop_in_path("contoso")).unwrap(),
            first
        );
        assert_eq!(calls(&f).len(), 4);
        f.sd.install("fabrikam", &spec(&f)).unwrap();
        assert_eq!(f.sd.installed().unwrap(), ["contoso", "fabrikam"]);
        assert_eq!(f.sd.state("contoso").unwrap(), ServiceState::Running);
        f.sd.start("contoso").unwrap();
        f.sd.stop("contoso").unwrap();

        std::fs::remove_file(&f.log).unwrap();
        f.sd.uninstall("contoso").unwrap();
        assert_eq!(
            calls(&f),
            [
                "disable --now eas-connector@contoso.service",
                "daemon-reload"
            ]
        );
        // The template stays while fabrikam uses it.
        assert!(f.sd.template_path().exists());
        f.sd.uninstall("fabrikam").unwrap();
        assert!(tree(&f.units).is_empty(), "{:?}", tree(&f.units));
        // Uninstalling again does nothing.
        std::fs::remove_file(&f.log).unwrap();
        f.sd.uninstall("fabrikam").unwrap();
        assert!(calls(&f).is_empty());
        assert_eq!(f.sd.state("fabrikam").unwrap(), ServiceState::NotInstalled);
    }

    #[test]
    fn admin_files_beside_ours_survive_uninstall() {
        let f = fake();
        f.sd.install("contoso", &spec(&f)).unwrap();
        let mine = f.sd.drop_in_dir("contoso").join("override.conf");
        std::fs::write(&mine, "[Service]\nNice=5\n").unwrap();
        let other = f.units.join("other.service");
        std::fs::write(&other, "[Service]\nExecStart=/bin/true\n").unwrap();
        f.sd.uninstall("contoso").unwrap();
        assert!(mine.exists() && other.exists());
        assert!(!f.sd.drop_in_path("contoso").exists());
        assert!(!f.sd.template_path().exists());
    }

    #[test]
    fn show_output_maps_to_states() {
        assert_eq!(
            parse_show("LoadState=not-found\nActiveState=inactive\n"),
            ServiceState::NotInstalled
        );
        assert_eq!(
            parse_show("LoadState=loaded\nActiveState=inactive\n"),
            ServiceState::Stopped
        );
        assert_eq!(
            parse_show("ActiveState=activating\n"),
            ServiceState::Starting
        );
        assert_eq!(
            parse_show("ActiveState=failed\nResult=exit-code\n"),
            ServiceState::Failed("failed (exit-code)".into())
        );
    }

    #[test]
    fn systemctl_failure_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("systemctl");
        std::fs::write(
            &prog,
            "#!/bin/sh\necho 'Failed to enable unit: Access denied' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sd = Systemd::with_paths(dir.path().join("u"), prog);
        let spec = InstallSpec {
            exe: "/usr/bin/eas-connector".into(),
            config_dir: Some(dir.path().join("c")),
        };
        assert!(matches!(
            sd.install("contoso", &spec),
            Err(ServiceError::NotElevated { action: "install" })
        ));
    }

    /// `systemd-analyze verify` accepts the unit and its drop-in (offline; needs systemd's
    /// tools, which Debian installs with the systemd package).
    #[test]
    fn units_pass_systemd_analyze_verify() {
        let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            assert!(
                std::env::var("EAS_TEST_PEERS").as_deref() != Ok("1"),
                "systemd-analyze is required (Debian package systemd)"
            );
            eprintln!("SKIPPED: systemd-analyze not installed (Debian package systemd)");
            return;
        };
        let f = fake();
        // ExecStart must name an executable that exists for verify.
        let exe = std::env::current_exe().unwrap();
        let spec = InstallSpec {
            exe: exe.clone(),
            config_dir: Some(f.config.clone()),
        };
        // Two stored credentials (in a folder whose path has a space and a '%').
        let creds = f.config.join("contoso").join("Credentials");
        std::fs::create_dir_all(&creds).unwrap();
        std::fs::write(creds.join("service-account.cred"), "x").unwrap();
        std::fs::write(creds.join("proxy.cred"), "x").unwrap();
        f.sd.install("contoso", &spec).unwrap();
        let conf = std::fs::read_to_string(f.sd.creds_drop_in_path("contoso")).unwrap();
        let lines: Vec<&str> = conf
            .lines()
            .filter(|l| l.starts_with("LoadCredentialEncrypted="))
            .collect();
        assert_eq!(
            lines,
            [
                format!(
                    "LoadCredentialEncrypted=service-account:{}",
                    creds.join("service-account.cred").display()
                ),
                format!(
                    "LoadCredentialEncrypted=proxy:{}",
                    creds.join("proxy.cred").display()
                ),
            ]
        );
        let instance = f.units.join(unit_name("contoso"));
        // verify reads drop-ins from the unit's folder when given the instance by path.
        std::os::unix::fs::symlink(f.sd.template_path(), &instance).unwrap();
        let out = Command::new(analyze)
            .env("SYSTEMD_LOG_LEVEL", "notice")
            .arg("verify")
            .arg("--man=no")
            .arg(&instance)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let relevant: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("eas-connector"))
            .collect();
        assert!(
            out.status.success() && relevant.is_empty(),
            "systemd-analyze verify:\n{err}"
        );
    }
}
