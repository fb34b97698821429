//! Shared test helpers: locating the pypsrp recordings (never copied into the
//! repository) and a deterministic xorshift generator.
#![allow(dead_code)]

use std::path::PathBuf;

/// The recordings folder: `EAS_PSRP_RECORDINGS`, else
/// `<CARGO_MANIFEST_DIR>/../shared/fixtures/pypsrp-recordings`, else
/// `/work/shared/fixtures/pypsrp-recordings`. `None` (and a printed note) when absent.
pub fn recordings_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("EAS_PSRP_RECORDINGS") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/pypsrp-recordings"),
    );
    candidates.push(PathBuf::from("/work/shared/fixtures/pypsrp-recordings"));
    let found = candidates.into_iter().find(|p| p.is_dir());
    if found.is_none() {
        println!("pypsrp recordings not found (set EAS_PSRP_RECORDINGS); skipping");
    }
    found
}

/// All `*.yml` recordings, sorted, with their text.
pub fn recordings() -> Vec<(String, String)> {
    let Some(dir) = recordings_dir() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).ok()?;
            Some((name, text))
        })
        .collect()
}

/// xorshift64* — deterministic, dependency-free.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}
