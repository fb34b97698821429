//! Removing an organization's folder (`<root>/<org>/`): the configuration, its backup, `Logs\`,
//! the service's status and sync state, the engine's files and the fallback secrets file.
//!
//! This is what `eas-connector config purge` and the MSI's `PURGE=1` uninstall delete. It only
//! ever removes folders that are recognisably an organization's (a valid name and at least one
//! of the files the connector writes), so `--config-dir` pointing at a folder that holds other
//! things cannot make `--all` delete them. Passwords in the OS credential store are the job of
//! `secrets::purge`; the service check is the caller's.

use std::io;
use std::path::{Path, PathBuf};

use super::{ConfigError, ConfigLocation, OrgFile};

/// Names inside a folder that mark it as an organization's folder made by the connector.
fn is_marker(name: &str) -> bool {
    OrgFile::ALL
        .iter()
        .any(|f| !f.in_logs() && f.name() == name)
}

/// One organization's folder as found on disk, before it is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFolder {
    /// The organization's name (the folder's name).
    pub org: String,
    /// The folder itself.
    pub dir: PathBuf,
    /// The names directly inside it, sorted (what a person is told will be deleted).
    pub entries: Vec<String>,
}

fn entries(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ConfigError::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The folder of `loc`'s organization, or `None` when there is none.
pub fn org_folder(loc: &ConfigLocation) -> Result<Option<OrgFolder>, ConfigError> {
    let dir = loc.org_dir();
    if !dir.is_dir() {
        return Ok(None);
    }
    Ok(Some(OrgFolder {
        org: loc.org().to_string(),
        entries: entries(&dir)?,
        dir,
    }))
}

/// Every organization folder under `root` (the `--all` of `config purge`): sub-folders with a
/// valid organization name holding at least one file the connector writes. Sorted by name.
pub fn org_folders(root: &Path) -> Result<Vec<OrgFolder>, ConfigError> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ConfigError::Io {
                action: "list",
                path: root.to_path_buf(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for e in rd.flatten() {
        let dir = e.path();
        let org = e.file_name().to_string_lossy().into_owned();
        if !dir.is_dir() || super::validate::org_name(&org).is_err() {
            continue;
        }
        let names = entries(&dir)?;
        if names.iter().any(|n| is_marker(n)) {
            found.push(OrgFolder {
                org,
                dir,
                entries: names,
            });
        }
    }
    found.sort_by(|a, b| a.org.cmp(&b.org));
    Ok(found)
}

/// Delete an organization's folder and everything in it.
pub fn remove(folder: &OrgFolder) -> Result<(), ConfigError> {
    match std::fs::remove_dir_all(&folder.dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ConfigError::Io {
            action: "delete",
            path: folder.dir.clone(),
            source,
        }),
    }
}

/// Delete the configuration root when nothing is left in it; `Ok(true)` when it was removed.
/// Anything else found there (not ours) keeps it.
pub fn remove_root_if_empty(root: &Path) -> Result<bool, ConfigError> {
    match std::fs::read_dir(root) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Ok(false);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(ConfigError::Io {
                action: "list",
                path: root.to_path_buf(),
                source,
            })
        }
    }
    std::fs::remove_dir(root).map_err(|source| ConfigError::Io {
        action: "delete",
        path: root.to_path_buf(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connector_folders_are_found() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("contoso/Logs")).unwrap();
        std::fs::write(root.join("contoso").join(OrgFile::Config.name()), "x").unwrap();
        std::fs::create_dir_all(root.join("logsonly/Logs")).unwrap();
        std::fs::create_dir_all(root.join("photos")).unwrap();
        std::fs::write(root.join("photos/cat.jpg"), "x").unwrap();
        std::fs::create_dir_all(root.join("bad name")).unwrap();
        std::fs::write(root.join("bad name").join(OrgFile::Config.name()), "x").unwrap();
        std::fs::write(root.join("file.txt"), "x").unwrap();
        let found = org_folders(root).unwrap();
        let orgs: Vec<&str> = found.iter().map(|f| f.org.as_str()).collect();
        assert_eq!(orgs, ["contoso", "logsonly"]);
        assert_eq!(found[0].entries, [OrgFile::Config.name(), "Logs"]);
        for f in &found {
            remove(f).unwrap();
        }
        assert!(root.join("photos/cat.jpg").exists());
        assert!(!remove_root_if_empty(root).unwrap());
        assert!(org_folders(&root.join("missing")).unwrap().is_empty());
    }

    #[test]
    fn empty_root_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("EAS Connector");
        std::fs::create_dir(&root).unwrap();
        assert!(remove_root_if_empty(&root).unwrap());
        assert!(!root.exists());
        assert!(!remove_root_if_empty(&root).unwrap());
    }
}
