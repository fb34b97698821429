//! A log file that rotates by size and keeps a bounded number of old files.
//!
//! `eas-connector.log` is the live file; when a write would take it past the size limit it
//! becomes `eas-connector.log.1`, older ones shift up and the oldest beyond the count is
//! deleted. Writing never fails the program: if the file cannot be opened, log lines are
//! dropped (a broken log disk must not stop access control). Log files are owner-only (they
//! name users and devices). It must not format anything.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Size and count limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Rotate before the live file would exceed this many bytes.
    pub max_bytes: u64,
    /// Files kept in all, the live one included.
    pub max_files: usize,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            max_bytes: 10 * 1024 * 1024,
            max_files: 30,
        }
    }
}

struct Inner {
    path: PathBuf,
    policy: RotationPolicy,
    file: Option<File>,
    size: u64,
}

/// A cloneable handle to the rotating file; usable as a `tracing` writer.
#[derive(Clone)]
pub struct RotatingFile(Arc<Mutex<Inner>>);

/// `<path>.<n>`: the `n`th older file.
pub fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Rotate `path` (closed by the caller): it becomes `<path>.1`, older ones shift up, and the
/// oldest beyond `max_files` (the live one included) is deleted.
pub fn shift(path: &Path, max_files: usize) -> io::Result<()> {
    let keep_old = max_files.saturating_sub(1);
    if keep_old == 0 {
        let _ = fs::remove_file(path);
    } else {
        let _ = fs::remove_file(numbered(path, keep_old));
        for n in (1..keep_old).rev() {
            let from = numbered(path, n);
            if from.exists() {
                fs::rename(&from, numbered(path, n + 1))?;
            }
        }
        fs::rename(path, numbered(path, 1))?;
    }
    Ok(())
}

/// The rotated files of `path` that exist, oldest first (`<path>.N` … `<path>.1`; the
/// live file not included).
pub fn rotated(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut found: Vec<(usize, PathBuf)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let n = e
                        .file_name()
                        .to_string_lossy()
                        .strip_prefix(&prefix)?
                        .parse::<usize>()
                        .ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, p)| p).collect()
}

impl Inner {
    fn open(&mut self) -> io::Result<()> {
        let f = crate::config::store::append_private(&self.path)?;
        self.size = f.metadata()?.len();
        self.file = Some(f);
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        shift(&self.path, self.policy.max_files)?;
        self.open()
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        if self.size > 0 && self.size + buf.len() as u64 > self.policy.max_bytes {
            self.rotate()?;
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(buf)?;
            self.size += buf.len() as u64;
        }
        Ok(())
    }
}

impl RotatingFile {
    pub fn new(path: PathBuf, policy: RotationPolicy) -> Self {
        RotatingFile(Arc::new(Mutex::new(Inner {
            path,
            policy,
            file: None,
            size: 0,
        })))
    }
}

/// One write of one log event.
pub struct EventWriter(RotatingFile);

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut inner) = self.0 .0.lock() {
            // Dropped on error by design: logging must not stop the connector.
            let _ = inner.write(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if let Ok(mut inner) = self.0 .0.lock() {
            if let Some(f) = inner.file.as_mut() {
                let _ = f.flush();
            }
        }
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = EventWriter;
    fn make_writer(&'a self) -> Self::Writer {
        EventWriter(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_bounds_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let f = RotatingFile::new(
            path.clone(),
            RotationPolicy {
                max_bytes: 100,
                max_files: 3,
            },
        );
        for i in 0..50 {
            let mut w = f.make_writer();
            w.write_all(format!("line {i:03} ........................\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["x.log", "x.log.1", "x.log.2"]);
        for n in &names {
            assert!(
                fs::metadata(dir.path().join(n)).unwrap().len() <= 100,
                "{n}"
            );
        }
        let live = fs::read_to_string(&path).unwrap();
        assert!(live.contains("line 049"));
        let older = fs::read_to_string(numbered(&path, 1)).unwrap();
        assert!(older.contains("line 04") && !older.contains("line 049"));
    }
}
