//! Crash-safe file replacement, and one writer at a time per file.
//!
//! [`write_atomic`] (or [`write_atomic_with`], which streams the contents through a buffered
//! writer instead of taking them whole) writes a temporary file in the target's folder, flushes it to disk, keeps the
//! previous version as a backup when asked, renames the new file over the old one and flushes the
//! folder, so a crash at any instant leaves either the old or the new file, whole. Each writer's
//! temporary file is its own (process id and a counter in its name); a writer removes only the
//! temporary files of processes that no longer run (or that are over an hour old), never another
//! live writer's.
//!
//! Files holding passwords or user and device ids are owner-only: [`write_private`],
//! [`write_private_with`] and [`append_private`] create them with mode 0600 (and the folders
//! they create 0700); every such file goes through one of them.
//!
//! [`lock`] takes an advisory lock (`.<name>.lock` beside the file) for a read-modify-write, so
//! two writers (the CLI, the wizard, the service) never lose each other's changes; it waits a
//! bounded time and then names the process that holds it. It knows nothing about what it
//! writes; it must not be used for files outside the org folder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

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

/// The Unix mode of every file holding passwords or user and device ids: owner read/write.
pub const OWNER_ONLY: u32 = 0o600;
/// The Unix mode of the folders created for such files: owner only.
pub const OWNER_ONLY_DIR: u32 = 0o700;

/// The `icacls` arguments that give `path` Windows' equivalent of owner-only: nothing
/// inherited from the folder above (ProgramData lets every user read), full control for the
/// object's owner (OWNER RIGHTS), SYSTEM (the service) and Administrators; for a folder, the
/// same for what is created in it. SIDs, not names: names are localized.
pub fn owner_only_acl(path: &Path, folder: bool) -> Vec<std::ffi::OsString> {
    let inherit = if folder { "(OI)(CI)" } else { "" };
    let mut args = vec![
        path.as_os_str().to_owned(),
        "/inheritance:r".into(),
        "/grant:r".into(),
    ];
    for sid in ["S-1-3-4", "S-1-5-18", "S-1-5-32-544"] {
        args.push(format!("*{sid}:{inherit}F").into());
    }
    args.push("/Q".into());
    args
}

/// Apply [`owner_only_acl`] with the system's own icacls.exe (by full path: the service runs
/// as SYSTEM, whose PATH is not the admin's). The owner of a file may always change its ACL.
#[cfg(windows)]
fn make_owner_only(path: &Path, folder: bool) -> io::Result<()> {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
    let icacls = Path::new(&root).join("System32").join("icacls.exe");
    let out = std::process::Command::new(&icacls)
        .args(owner_only_acl(path, folder))
        .stdin(std::process::Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "icacls could not make {} owner-only ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Create `dir` and its missing parents; with `private`, those it creates are owner-only
/// ([`OWNER_ONLY_DIR`] on Unix, [`owner_only_acl`] on Windows for `dir` itself). Folders that
/// exist are left as they are.
fn create_dirs(dir: &Path, private: bool) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(OWNER_ONLY_DIR);
    }
    #[cfg(windows)]
    if private && !dir.exists() {
        b.create(dir)?;
        return make_owner_only(dir, true);
    }
    #[cfg(not(any(unix, windows)))]
    let _ = private;
    b.create(dir)
}

/// Create `dir` (and missing parents) owner-only; an existing folder is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    create_dirs(dir, true)
}

/// [`write_atomic`] for a file that holds passwords or user and device ids: owner-only, no
/// backup.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic(path, contents, None, Some(OWNER_ONLY))
}

/// [`write_atomic_with`] for a file that holds passwords or user and device ids: owner-only,
/// no backup.
pub fn write_private_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    write_atomic_with(path, None, Some(OWNER_ONLY), write)
}

/// Open `path` for appending (a log, the decision audit), created owner-only with its folder;
/// a file an older version left readable by others is made owner-only.
pub fn append_private(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(OWNER_ONLY);
        let f = opts.open(path)?;
        let mode = f.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            f.set_permissions(fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(f)
    }
    #[cfg(windows)]
    {
        let new = !path.exists();
        let f = opts.open(path)?;
        if new {
            make_owner_only(path, false)?;
        }
        Ok(f)
    }
    #[cfg(not(any(unix, windows)))]
    opts.open(path)
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
        f.sync_all()?;
        // Windows: the ACL before the rename (a rename keeps it), so the file is never
        // readable by others under its real name.
        #[cfg(windows)]
        if mode.is_some_and(|m| m & 0o077 == 0) {
            drop(f);
            make_owner_only(path, false)?;
        }
        Ok(())
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

/// A temporary file older than this is stale whoever wrote it (no write takes an hour).
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Whether the process `pid` still runs (on Unix; elsewhere we cannot tell and say yes).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(p) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        // EPERM: it runs, as another user.
        !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Whether the temporary file `name` (after `prefix`) was left by an interrupted write: its
/// writer no longer runs, or it is older than [`STALE_TEMP_AGE`]. A live writer's file is not.
fn is_stale_temp(rest: &str, modified: Option<SystemTime>) -> bool {
    let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
    let old = modified
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > STALE_TEMP_AGE);
    match pid {
        Some(pid) if pid == std::process::id() => old,
        Some(pid) => old || !process_alive(pid),
        None => old,
    }
}

/// Remove temporary files that an interrupted earlier write left beside `path`.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), prefix) = (path.parent(), temp_prefix(path)) else {
        return;
    };
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let modified = e.metadata().and_then(|m| m.modified()).ok();
            if is_stale_temp(rest, modified) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// How long [`lock`] waits for another writer by default.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Why a file could not be locked for writing.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path} is being changed by {holder}; waited {waited_s} s. Try again when it has finished (the lock is {lock})", path = .path.display(), lock = .lock.display())]
    Busy {
        path: PathBuf,
        lock: PathBuf,
        holder: String,
        waited_s: u64,
    },
    #[error("could not lock {path} for writing ({lock}): {source}", path = .path.display(), lock = .lock.display())]
    Io {
        path: PathBuf,
        lock: PathBuf,
        source: io::Error,
    },
}

/// An advisory lock on one file, released when dropped (or when the process ends, even by a
/// crash: the OS drops it with the handle).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// The lock file guarding `path`: `.<name>.lock` in the same folder. It is never deleted
/// (deleting a lock file lets two writers lock two different files).
pub fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.lock"))
}

/// Who this process is, for the lock file: `eas-connector (pid 1234)`.
fn holder_text() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "a process".into());
    format!("{exe} (pid {})", std::process::id())
}

/// Lock `path` for a read-modify-write, waiting up to `wait` for another writer (of any
/// process, or another handle of this one) to finish. Hold the returned guard from before the
/// read until after the write.
pub fn lock(path: &Path, wait: Duration) -> Result<FileLock, LockError> {
    let lock = lock_path(path);
    let io_err = |source| LockError::Io {
        path: path.to_path_buf(),
        lock: lock.clone(),
        source,
    };
    if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&lock).map_err(io_err)?;
    let start = Instant::now();
    let mut tries: u64 = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                tries += 1;
                // 5 ms, growing to 50 ms between tries.
                std::thread::sleep(Duration::from_millis((5 * tries).min(50)));
            }
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&lock)
                    .ok()
                    .map(|h| h.trim().chars().take(120).collect::<String>())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "another process".into());
                return Err(LockError::Busy {
                    path: path.to_path_buf(),
                    lock,
                    holder,
                    waited_s: wait.as_secs(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
    }
    // Name the holder for anyone who waits; a failure here only loses that courtesy.
    if file.set_len(0).is_ok() {
        use std::io::Seek;
        let _ = file.seek(io::SeekFrom::Start(0));
        let _ = file.write_all(holder_text().as_bytes());
    }
    Ok(FileLock { _file: file })
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
    create_dirs(dir, mode.is_some_and(|m| m & 0o077 == 0))?;
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
    fn the_windows_equivalent_of_owner_only_is_the_owner_system_and_administrators() {
        let args = |folder| {
            owner_only_acl(Path::new("C:\\PD\\x.json"), folder)
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            args(false),
            [
                "C:\\PD\\x.json",
                "/inheritance:r",
                "/grant:r",
                "*S-1-3-4:F",
                "*S-1-5-18:F",
                "*S-1-5-32-544:F",
                "/Q"
            ]
        );
        // A folder passes the same to what is created in it; no other group is named.
        let folder = args(true);
        assert!(folder[3..6].iter().all(|a| a.ends_with(":(OI)(CI)F")));
        assert!(!folder
            .iter()
            .any(|a| a.contains("S-1-1-0") || a.contains("S-1-5-32-545")));
    }

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
    fn stale_temp_files_are_cleaned_and_live_writers_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.xml");
        // No process has a pid above the kernel's maximum (2^22 on Linux).
        let stale = dir.path().join(".a.xml.tmp-999999999-0");
        fs::write(&stale, "half").unwrap();
        // A writer that still runs: this process (another thread's write in progress).
        let live = dir
            .path()
            .join(format!(".a.xml.tmp-{}-999999", std::process::id()));
        fs::write(&live, "in progress").unwrap();
        write_atomic(&p, b"x", None, None).unwrap();
        assert!(!stale.exists(), "a dead writer's temp file is removed");
        assert!(live.exists(), "a live writer's temp file is left alone");
    }

    #[test]
    fn staleness_by_writer_and_age() {
        let now = Some(SystemTime::now());
        let old = Some(SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(1));
        let me = std::process::id();
        assert!(!is_stale_temp(&format!("{me}-0"), now));
        assert!(is_stale_temp(&format!("{me}-0"), old));
        assert!(is_stale_temp("999999999-0", now));
        assert!(!is_stale_temp("garbage", now));
        assert!(is_stale_temp("garbage", old));
    }

    #[test]
    fn a_held_lock_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("org").join("a.xml");
        let held = lock(&p, Duration::ZERO).unwrap();
        let text = fs::read_to_string(lock_path(&p)).unwrap();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        // A second handle, as another process would have, is refused after the wait.
        let err = lock(&p, Duration::ZERO).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LockError::Busy { .. }), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())) && msg.contains("a.xml"),
            "{msg}"
        );
        drop(held);
        lock(&p, Duration::ZERO).expect("free again once dropped");
    }

    #[test]
    fn locked_read_modify_writes_lose_nothing() {
        // 4 threads, each with its own lock handle, append their own lines to one file 50
        // times each through read-modify-write; every line must be in the end result.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("counter.txt");
        write_atomic(&p, b"", None, None).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let p = &p;
                s.spawn(move || {
                    for i in 0..50 {
                        let _l = lock(p, LOCK_WAIT).unwrap();
                        let mut text = fs::read_to_string(p).unwrap();
                        text.push_str(&format!("{t}-{i}\n"));
                        write_atomic(p, text.as_bytes(), None, None).unwrap();
                    }
                });
            }
        });
        let text = fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 200, "lost updates");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_and_their_new_folders_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new").join("state.json");
        write_private(&p, b"{}").unwrap();
        assert_eq!(mode(&p), OWNER_ONLY);
        assert_eq!(mode(p.parent().unwrap()), OWNER_ONLY_DIR);
        let q = dir.path().join("streamed.json");
        write_private_with(&q, |w| w.write_all(b"{}")).unwrap();
        assert_eq!(mode(&q), OWNER_ONLY);
        // An append file an older version left 0644 becomes owner-only when opened.
        let log = dir.path().join("Logs").join("a.log");
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        fs::write(&log, "old\n").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = append_private(&log).unwrap();
        f.write_all(b"new\n").unwrap();
        assert_eq!(mode(&log), OWNER_ONLY);
        assert_eq!(fs::read_to_string(&log).unwrap(), "old\nnew\n");
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
