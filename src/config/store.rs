//! Crash-safe file replacement.
//!
//! [`write_atomic`] (or [`write_atomic_with`], which streams the contents through a buffered
//! writer instead of taking them whole) writes a temporary file in the target's folder, flushes it to disk, keeps the
//! previous version as a backup when asked, renames the new file over the old one and flushes the
//! folder, so a crash at any instant leaves either the old or the new file, whole. It knows
//! nothing about what it writes; it must not be used for files outside the org folder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where the temporary files for `path` start their names.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!("{}{}-{n}", temp_prefix(path), std::process::id()))
}

/// Create a new file for writing; on Unix with `mode` (e.g. 0o600) from its first byte.
fn create_new(path: &Path, mode: Option<u32>) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode.unwrap_or(0o644));
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path)
}

fn write_new(
    path: &Path,
    mode: Option<u32>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let result = (|| {
        let mut w = io::BufWriter::with_capacity(64 * 1024, create_new(path, mode)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Flush a folder's entry table so a rename in it survives a power cut (Unix only; on
/// Windows a rename is flushed by the file system journal).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Remove temporary files that an interrupted earlier write left beside `path`.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), prefix) = (path.parent(), temp_prefix(path)) else {
        return;
    };
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Replace `path` with `contents` atomically. When `backup` is given and `path` exists, the
/// current version is first copied (atomically too) to `backup`. `mode` sets Unix permissions
/// of the new file from its creation (use `Some(0o600)` for files only the owner may read).
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    backup: Option<&Path>,
    mode: Option<u32>,
) -> io::Result<()> {
    write_atomic_with(path, backup, mode, |w| w.write_all(contents))
}

/// [`write_atomic`], with the new contents written by `write` into a buffered writer (so a
/// large file need not be held in memory whole). An error from `write` leaves `path`
/// untouched.
pub fn write_atomic_with(
    path: &Path,
    backup: Option<&Path>,
    mode: Option<u32>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    remove_stale_temps(path);
    let tmp = temp_path(path);
    write_new(&tmp, mode, write)?;
    let result = (|| {
        if let Some(backup) = backup {
            match fs::read(path) {
                Ok(old) => {
                    let btmp = temp_path(path);
                    write_new(&btmp, mode, |w| w.write_all(&old))?;
                    if let Err(e) = fs::rename(&btmp, backup) {
                        let _ = fs::remove_file(&btmp);
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("a.xml");
        let b = dir.path().join("sub").join("a.xml.bak");
        write_atomic(&p, b"one", Some(&b), None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert!(!b.exists(), "no backup of a file that did not exist");
        write_atomic(&p, b"two", Some(&b), None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read(&b).unwrap(), b"one");
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn streamed_writes_are_atomic_too() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        write_atomic_with(&p, None, None, |w| {
            w.write_all(b"{\"a\":")?;
            w.write_all(b"1}")
        })
        .unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{\"a\":1}");
        let failed = write_atomic_with(&p, None, None, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("serializer failed"))
        });
        assert!(failed.is_err());
        assert_eq!(
            fs::read(&p).unwrap(),
            b"{\"a\":1}",
            "a failed write changes nothing"
        );
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn stale_temp_files_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.xml");
        let stale = dir.path().join(".a.xml.tmp-999-0");
        fs::write(&stale, "half").unwrap();
        write_atomic(&p, b"x", None, None).unwrap();
        assert!(!stale.exists());
    }

    #[cfg(unix)]
    #[test]
    fn mode_applies_from_creation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let b = dir.path().join("s.json.bak");
        write_atomic(&p, b"1", Some(&b), Some(0o600)).unwrap();
        write_atomic(&p, b"2", Some(&b), Some(0o600)).unwrap();
        for f in [&p, &b] {
            assert_eq!(fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
