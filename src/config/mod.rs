//! The connector's configuration: where it lives, how it is read, checked and written.
//!
//! One file per Exchange organization, `ConnectorServiceConfiguration.xml` in the org's folder
//! (`<root>/<org>/`). Reading keeps the whole XML tree so that a rewrite changes only the values
//! the program owns and keeps what an admin added by hand, in place. A malformed file is never
//! reset: it is reported with line, column and element, and left untouched. This module must
//! never read or write a password; those belong to `secrets`.

pub mod address;
pub mod fields;
pub mod model;
pub mod purge;
pub mod store;
pub mod validate;
pub mod xmltree;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use address::{ServerAddress, ServerList};
pub use fields::{Field, SetError, FIELDS};
pub use model::{
    AuthenticationMethod, ChannelBinding, Choice, ConnectorConfig, ExchangeServerType,
    KerberosSettings, LogLevel, TimeOfDay,
};
pub use validate::ValueError;
use xmltree::{Document, Element, SyntaxError};

/// Every file and folder the connector keeps for an organization: the one list of their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgFile {
    /// `ConnectorServiceConfiguration.xml`.
    Config,
    /// The configuration's previous version, kept on every write.
    ConfigBackup,
    /// The folder of log files.
    Logs,
    /// The service's log file, in [`OrgFile::Logs`].
    Log,
    /// The engine's decision audit (JSON lines), in [`OrgFile::Logs`].
    Audit,
    /// The fallback secrets file (unencrypted, 0600; only where no store can be used).
    Secrets,
    /// The folder of systemd credentials (`<key>.cred`, encrypted with the host key).
    Credentials,
    /// Which secret store holds the organization's passwords (one word, no secret).
    SecretStoreChoice,
    /// What the service last did, for `service status` and the wizard's home.
    ServiceStatus,
    /// The service's sync state (watermark, failover servers).
    SyncState,
    /// The engine's per-device state.
    EngineState,
    /// The access policy the admin writes.
    Policy,
    /// Notification mail not yet sent.
    NotificationQueue,
    /// The sync state of `eas-connector engine run` (apart from the service's).
    RunSyncState,
    /// The admin's one-off device overrides (`devices allow|block|quarantine|clear`).
    Overrides,
    /// Every device as the last syncs saw and decided it (what `devices` lists).
    Devices,
    /// The last good read of Intune's managed devices (used while Graph fails).
    IntuneSnapshot,
    /// A read of Intune that shrank too much, waiting for `intune accept`.
    IntunePending,
}

impl OrgFile {
    /// Every entry, in the order `config purge` lists them.
    pub const ALL: [OrgFile; 18] = [
        OrgFile::Config,
        OrgFile::ConfigBackup,
        OrgFile::Logs,
        OrgFile::Log,
        OrgFile::Audit,
        OrgFile::Secrets,
        OrgFile::Credentials,
        OrgFile::SecretStoreChoice,
        OrgFile::ServiceStatus,
        OrgFile::SyncState,
        OrgFile::EngineState,
        OrgFile::Policy,
        OrgFile::NotificationQueue,
        OrgFile::RunSyncState,
        OrgFile::Overrides,
        OrgFile::Devices,
        OrgFile::IntuneSnapshot,
        OrgFile::IntunePending,
    ];

    /// The file's (or folder's) own name.
    pub fn name(self) -> &'static str {
        match self {
            OrgFile::Config => "ConnectorServiceConfiguration.xml",
            OrgFile::ConfigBackup => "ConnectorServiceConfiguration.xml.bak",
            OrgFile::Logs => "Logs",
            OrgFile::Log => "eas-connector.log",
            OrgFile::Audit => "decisions.jsonl",
            OrgFile::Secrets => "ConnectorSecrets.json",
            OrgFile::Credentials => "Credentials",
            OrgFile::SecretStoreChoice => "SecretStore.txt",
            OrgFile::ServiceStatus => "ServiceStatus.json",
            OrgFile::SyncState => "SyncState.json",
            OrgFile::EngineState => "EngineState.json",
            OrgFile::Policy => "AccessPolicy.toml",
            OrgFile::NotificationQueue => "NotificationQueue.json",
            OrgFile::RunSyncState => "EngineRunSyncState.json",
            OrgFile::Overrides => "DeviceOverrides.json",
            OrgFile::Devices => "Devices.json",
            OrgFile::IntuneSnapshot => "IntuneSnapshot.json",
            OrgFile::IntunePending => "IntunePending.json",
        }
    }

    /// Whether it lives in the `Logs` folder rather than directly in the org folder.
    pub fn in_logs(self) -> bool {
        matches!(self, OrgFile::Log | OrgFile::Audit)
    }
}
/// The organization used when none is named.
pub const DEFAULT_ORG: &str = "default";

/// Everything that can go wrong with the configuration, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no configuration for organization '{org}' at {path}; create one with the setup wizard (eas-connector-setup) or `eas-connector config set FIELD VALUE`")]
    NotFound { org: String, path: PathBuf },
    #[error("{path}: {source}. The file was left untouched; correct it by hand (a previous version may be in {backup}).", backup = .path.with_extension("xml.bak").display())]
    Malformed { path: PathBuf, source: SyntaxError },
    #[error("{path}: {}", problems_text(.problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<FieldProblem>,
    },
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the configuration was not changed: {0}")]
    Busy(#[from] store::LockError),
    #[error("organization name: {0}")]
    BadOrg(ValueError),
    #[error("no configuration folder could be determined: {0}; pass --config-dir DIR")]
    NoRoot(&'static str),
}

fn problems_text(problems: &[FieldProblem]) -> String {
    let mut s = format!("{} problem(s):", problems.len());
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

/// One problem with one field, located in the file where possible.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldProblem {
    /// Element path below the root, e.g. `Proxy/Port`.
    pub field: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What is wrong, and what is expected.
    pub problem: String,
    /// What to do about it, when more than the problem says.
    pub fix: Option<String>,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "line {l}, column {c}: ")?;
        }
        write!(f, "<{}> {}", self.field, self.problem)?;
        if let Some(fix) = &self.fix {
            write!(f, " — {fix}")?;
        }
        Ok(())
    }
}

/// Where an organization's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    root: PathBuf,
    org: String,
}

impl ConfigLocation {
    /// The location for `org` under `config_dir`, or under the platform's root when `None`:
    /// Windows `%ProgramData%\EAS Connector`, Linux `/etc/eas-connector` for root, otherwise
    /// `$XDG_CONFIG_HOME/eas-connector`.
    pub fn new(config_dir: Option<&Path>, org: &str) -> Result<Self, ConfigError> {
        validate::org_name(org).map_err(ConfigError::BadOrg)?;
        let root = match config_dir {
            Some(d) => d.to_path_buf(),
            None => default_root()?,
        };
        Ok(ConfigLocation {
            root,
            org: org.to_string(),
        })
    }

    pub fn org(&self) -> &str {
        &self.org
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn org_dir(&self) -> PathBuf {
        self.root.join(&self.org)
    }
    /// Where `f` is for this organization.
    pub fn file(&self, f: OrgFile) -> PathBuf {
        if f.in_logs() {
            self.logs_dir().join(f.name())
        } else {
            self.org_dir().join(f.name())
        }
    }
    pub fn config_file(&self) -> PathBuf {
        self.file(OrgFile::Config)
    }
    pub fn backup_file(&self) -> PathBuf {
        self.file(OrgFile::ConfigBackup)
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.org_dir().join(OrgFile::Logs.name())
    }

    /// Lock `f` for a read-modify-write (see [`store::lock`]): hold the guard from before
    /// reading it until after writing it, so no other writer's change is lost.
    pub fn lock(&self, f: OrgFile) -> Result<store::FileLock, store::LockError> {
        store::lock(&self.file(f), store::LOCK_WAIT)
    }

    /// Organizations that have a configuration file under this root.
    pub fn existing_orgs(&self) -> Vec<String> {
        let mut orgs: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join(OrgFile::Config.name()).is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        orgs.sort();
        orgs
    }
}

/// The platform's configuration root.
pub fn default_root() -> Result<PathBuf, ConfigError> {
    #[cfg(windows)]
    {
        let pd = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        Ok(PathBuf::from(pd).join("EAS Connector"))
    }
    #[cfg(unix)]
    {
        if rustix::process::geteuid().is_root() {
            return Ok(PathBuf::from("/etc/eas-connector"));
        }
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            return Ok(PathBuf::from(x).join("eas-connector"));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(h) => Ok(PathBuf::from(h).join(".config").join("eas-connector")),
            None => Err(ConfigError::NoRoot(
                "neither XDG_CONFIG_HOME nor HOME is set",
            )),
        }
    }
    #[cfg(not(any(windows, unix)))]
    {
        Err(ConfigError::NoRoot("unsupported platform"))
    }
}

/// A configuration read from (or about to be written to) its file, with the XML tree that
/// keeps the admin's own additions.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    backup: PathBuf,
    doc: Document,
    /// The typed values; change them, then [`ConfigFile::save`].
    pub config: ConnectorConfig,
}

impl ConfigFile {
    /// Read and check the file at `loc`. Fails with [`ConfigError::NotFound`] when there is none.
    pub fn load(loc: &ConfigLocation) -> Result<Self, ConfigError> {
        let path = loc.config_file();
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ConfigError::NotFound {
                    org: loc.org.clone(),
                    path,
                })
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let text = match String::from_utf8(text) {
            Ok(t) => t,
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let valid = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
                let (line, column) = xmltree::line_column(&valid, offset);
                return Err(ConfigError::Malformed {
                    path,
                    source: SyntaxError {
                        line,
                        column,
                        element: None,
                        reason: "the file is not UTF-8 text; save it as UTF-8".into(),
                    },
                });
            }
        };
        Self::from_text(loc, &text)
    }

    /// Read the file at `loc`, or start a new one (not yet written) when there is none.
    pub fn load_or_new(loc: &ConfigLocation) -> Result<Self, ConfigError> {
        match Self::load(loc) {
            Err(ConfigError::NotFound { .. }) => Ok(Self::new(loc)),
            other => other,
        }
    }

    /// A new configuration with defaults for `loc`'s organization.
    pub fn new(loc: &ConfigLocation) -> Self {
        ConfigFile {
            path: loc.config_file(),
            backup: loc.backup_file(),
            doc: Document::new(model::ROOT),
            config: ConnectorConfig::new(&loc.org),
        }
    }

    /// Parse `text` as the configuration for `loc`.
    pub fn from_text(loc: &ConfigLocation, text: &str) -> Result<Self, ConfigError> {
        let path = loc.config_file();
        let doc = Document::parse(text).map_err(|source| ConfigError::Malformed {
            path: path.clone(),
            source,
        })?;
        let (config, problems) = read_fields(&doc, &loc.org);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid { path, problems });
        }
        Ok(ConfigFile {
            path,
            backup: loc.backup_file(),
            doc,
            config,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Problems that keep this configuration from being used by the service (missing server,
    /// accounts, …), located at the element where one exists.
    pub fn completeness_problems(&self) -> Vec<FieldProblem> {
        self.config
            .completeness_problems()
            .into_iter()
            .map(|(field, problem, fix)| {
                let pos =
                    find_element(&self.doc.root, field.path).and_then(|e| self.doc.position(e));
                FieldProblem {
                    field: field.path.to_string(),
                    line: pos.map(|p| p.0),
                    column: pos.map(|p| p.1),
                    problem,
                    fix: Some(fix),
                }
            })
            .collect()
    }

    /// The XML this configuration would be written as.
    pub fn to_xml(&mut self) -> String {
        apply_fields(&self.config, &mut self.doc);
        self.doc.to_xml()
    }

    /// Write the configuration atomically, keeping the previous file as the backup.
    pub fn save(&mut self) -> Result<(), ConfigError> {
        let xml = self.to_xml();
        store::write_atomic(&self.path, xml.as_bytes(), Some(&self.backup), None).map_err(
            |source| ConfigError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            },
        )
    }
}

fn find_element<'a>(root: &'a Element, path: &str) -> Option<&'a Element> {
    let mut e = root;
    for part in path.split('/') {
        e = e.child(part)?;
    }
    Some(e)
}

/// Read every known field from the tree, collecting every problem rather than stopping at one.
fn read_fields(doc: &Document, org: &str) -> (ConnectorConfig, Vec<FieldProblem>) {
    let mut config = ConnectorConfig::new(org);
    let mut problems = Vec::new();
    let at = |e: &Element, field: &str, problem: String, fix: Option<String>| {
        let pos = doc.position(e);
        FieldProblem {
            field: field.to_string(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            problem,
            fix,
        }
    };
    if doc.root.name != model::ROOT {
        problems.push(at(
            &doc.root,
            &doc.root.name,
            format!(
                "is not a connector configuration: the top element must be <{}>",
                model::ROOT
            ),
            Some("check that this is the right file".into()),
        ));
        return (config, problems);
    }
    // Known sections must appear once.
    for section in fields::top_level_order() {
        let all: Vec<&Element> = doc.root.children_named(section).collect();
        if let Some(second) = all.get(1) {
            problems.push(at(
                second,
                section,
                format!("appears {} times", all.len()),
                Some("keep exactly one".into()),
            ));
        }
    }
    for spec in FIELDS {
        let mut parts = spec.path.split('/');
        let Some(first) = parts.next() else { continue };
        let mut el = doc.root.child(first);
        for part in parts {
            if let Some(e) = el {
                let all: Vec<&Element> = e.children_named(part).collect();
                if let Some(second) = all.get(1) {
                    problems.push(at(
                        second,
                        spec.path,
                        format!("appears {} times", all.len()),
                        Some("keep exactly one".into()),
                    ));
                }
            }
            el = el.and_then(|e| e.child(part));
        }
        let Some(el) = el else { continue };
        if el.has_element_children() {
            problems.push(at(
                el,
                spec.path,
                "holds elements, but must hold a value".into(),
                None,
            ));
            continue;
        }
        let text = el.text();
        if let Err(problem) = spec.set(&mut config, &text) {
            problems.push(at(el, spec.path, problem.to_string(), None));
        }
    }
    if let Some(el) = doc.root.child("Organization") {
        if !el.text().trim().is_empty() && config.organization != org {
            problems.push(at(
                el,
                "Organization",
                format!(
                    "is '{}', but this file is in the folder of organization '{org}'",
                    config.organization
                ),
                Some(format!(
                    "use --org {} or correct the element",
                    config.organization
                )),
            ));
        }
    }
    (config, problems)
}

/// Write every known field's value into the tree, creating missing elements in canonical
/// order and leaving everything else untouched.
fn apply_fields(config: &ConnectorConfig, doc: &mut Document) {
    let top = fields::top_level_order();
    for spec in FIELDS {
        let value = spec.get(config);
        match spec.path.split_once('/') {
            None => doc
                .root
                .child_mut_or_insert(spec.path, &top, 0)
                .set_text(&value),
            Some((section, leaf)) => {
                let order = fields::section_order(section);
                doc.root
                    .child_mut_or_insert(section, &top, 0)
                    .child_mut_or_insert(leaf, &order, 1)
                    .set_text(&value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(dir: &Path) -> ConfigLocation {
        ConfigLocation::new(Some(dir), "contoso").unwrap()
    }

    #[test]
    fn new_file_has_every_field_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let l = loc(dir.path());
        let mut f = ConfigFile::new(&l);
        f.config
            .set("ClientAccessServer", "cas01.contoso.com")
            .unwrap();
        f.save().unwrap();
        let text = std::fs::read_to_string(l.config_file()).unwrap();
        for spec in FIELDS {
            let leaf = spec.path.rsplit('/').next().unwrap();
            assert!(
                text.contains(&format!("<{leaf}")),
                "{leaf} missing:\n{text}"
            );
        }
        let back = ConfigFile::load(&l).unwrap();
        assert_eq!(back.config, f.config);
    }

    #[test]
    fn unknown_elements_survive_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let l = loc(dir.path());
        let original = "<?xml version=\"1.0\"?>\n<!-- managed by hand -->\n<ConnectorServiceConfiguration>\n  <Organization>contoso</Organization>\n  <SiteNote owner=\"ops\">do not touch<Ticket>CHG-1</Ticket></SiteNote>\n  <ClientAccessServer>old.contoso.com</ClientAccessServer>\n  <Proxy>\n    <Enabled>false</Enabled>\n    <!-- proxy comment -->\n    <Vendor>squid</Vendor>\n  </Proxy>\n</ConnectorServiceConfiguration>\n";
        std::fs::create_dir_all(l.org_dir()).unwrap();
        std::fs::write(l.config_file(), original).unwrap();
        let mut f = ConfigFile::load(&l).unwrap();
        f.config
            .set("ClientAccessServer", "new.contoso.com")
            .unwrap();
        f.config.set("Proxy/Port", "3128").unwrap();
        f.save().unwrap();
        let text = std::fs::read_to_string(l.config_file()).unwrap();
        let note = text
            .find("<SiteNote owner=\"ops\">do not touch<Ticket>CHG-1</Ticket></SiteNote>")
            .expect(&text);
        let org = text.find("<Organization>").unwrap();
        let cas = text
            .find("<ClientAccessServer>new.contoso.com</ClientAccessServer>")
            .unwrap();
        assert!(org < note && note < cas, "SiteNote moved:\n{text}");
        assert!(
            text.contains("<!-- managed by hand -->") && text.contains("<!-- proxy comment -->")
        );
        let comment = text.find("<!-- proxy comment -->").unwrap();
        let vendor = text.find("<Vendor>squid</Vendor>").unwrap();
        let proxy_end = text.find("</Proxy>").unwrap();
        assert!(
            comment < vendor && vendor < proxy_end,
            "Vendor moved:\n{text}"
        );
        assert_eq!(std::fs::read_to_string(l.backup_file()).unwrap(), original);
        // A second rewrite changes nothing more.
        let mut g = ConfigFile::load(&l).unwrap();
        g.save().unwrap();
        assert_eq!(std::fs::read_to_string(l.config_file()).unwrap(), text);
    }

    #[test]
    fn bad_values_are_all_reported_with_positions() {
        let dir = tempfile::tempdir().unwrap();
        let l = loc(dir.path());
        let text = "<ConnectorServiceConfiguration>\n  <Proxy>\n    <Port>70000</Port>\n  </Proxy>\n  <MaxParallelRunspaces>99</MaxParallelRunspaces>\n  <ClientAccessServer>a</ClientAccessServer>\n  <ClientAccessServer>b</ClientAccessServer>\n</ConnectorServiceConfiguration>";
        let err = ConfigFile::from_text(&l, text).unwrap_err();
        let ConfigError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let fields: Vec<_> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.line))
            .collect();
        assert!(fields.contains(&("Proxy/Port", Some(3))), "{fields:?}");
        assert!(
            fields.contains(&("MaxParallelRunspaces", Some(5))),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("ClientAccessServer", Some(7))),
            "{fields:?}"
        );
        assert!(
            err.to_string().contains("line 3, column 5: <Proxy/Port>"),
            "{err}"
        );
    }

    #[test]
    fn wrong_root_and_org_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let l = loc(dir.path());
        assert!(ConfigFile::from_text(&l, "<Other/>")
            .unwrap_err()
            .to_string()
            .contains("top element"));
        let e = ConfigFile::from_text(&l, "<ConnectorServiceConfiguration><Organization>fabrikam</Organization></ConnectorServiceConfiguration>").unwrap_err();
        assert!(e.to_string().contains("--org fabrikam"), "{e}");
    }

    #[test]
    fn completeness_points_at_the_element() {
        let dir = tempfile::tempdir().unwrap();
        let l = loc(dir.path());
        let f = ConfigFile::from_text(&l, "<ConnectorServiceConfiguration>\n<Proxy>\n<Enabled>true</Enabled>\n<Host></Host>\n</Proxy>\n</ConnectorServiceConfiguration>").unwrap();
        let p = f.completeness_problems();
        let host = p.iter().find(|p| p.field == "Proxy/Host").unwrap();
        assert_eq!(host.line, Some(4));
    }
}
