//! The real `eas-connector lab` binary's EWS, driven by a client no one here wrote:
//! exchangelib (PyPI) through `tests/peers/exchangelib_lab.py`, signed in as the lab's
//! notification account over NTLM. It learns the server version (its ConvertId probe), reads
//! the inbox and Sent Items counts, sends a mail with SendAndSaveCopy that lands in the lab's
//! outbox and Sent Items, finds it, and gets Exchange's error for an operation the lab does not
//! implement. Required when `EAS_TEST_PEERS=1` (scripts/test installs exchangelib), skipped
//! with a note otherwise.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct LabProc {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for LabProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_lab(extra: &[&str]) -> LabProc {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .args(["lab", "--state-dir"])
        .arg(dir.path())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("lab.json").exists() {
        assert!(Instant::now() < deadline, "lab did not write lab.json");
        std::thread::sleep(Duration::from_millis(20));
    }
    LabProc { child, dir }
}

fn run(lab: &LabProc) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/exchangelib_lab.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(lab.dir.path())
        .arg("anna.devries@contoso.test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exchangelib_lab.py failed:\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

fn outbox(lab: &LabProc) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(lab.dir.path().join("outbox"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

#[test]
fn exchangelib_reads_counts_and_sends_through_the_labs_ews() {
    if !support::python_module("exchangelib", "exchangelib") {
        return;
    }
    for (version, build, api) in [
        ("2019", "15.2.1118.7", "Exchange2016"),
        ("2010", "14.3.123.7", "Exchange2010_SP2"),
    ] {
        let lab = start_lab(&[
            "--servers",
            "1",
            "--devices",
            "5",
            "--exchange-version",
            version,
        ]);
        let r = run(&lab);
        println!("Exchange {version}: {r}");
        assert_eq!(r["build"], build, "{r}");
        assert_eq!(r["api_version"], api, "{r}");
        assert_eq!(r["inbox_total"], 0, "{r}");
        assert_eq!(r["sent_before"], 0, "{r}");
        assert_eq!(r["sent_after"], 1, "{r}");
        assert_eq!(r["inbox_after"], 1, "{r}");
        assert_eq!(r["sent_subjects"][0], "exchangelib to the lab", "{r}");
        assert_eq!(r["inbox_subjects"][0], "exchangelib to the lab", "{r}");
        assert_eq!(r["unimplemented"], "ErrorInvalidOperation", "{r}");
        let mail = outbox(&lab);
        assert_eq!(mail.len(), 1, "{mail:?}");
        assert_eq!(mail[0]["subject"], "exchangelib to the lab");
        assert_eq!(mail[0]["from"], "eas-notify@contoso.test");
        assert_eq!(mail[0]["sent_by"], "LAB\\eas-notify");
        assert_eq!(mail[0]["to"][0], "anna.devries@contoso.test");
        assert_eq!(mail[0]["saved_copy"], true);
    }
}
