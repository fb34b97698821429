//! The real `eas-connector lab` binary driven by independent Python clients: its `/PowerShell`
//! by pypsrp (PyPI, `tests/peers/pypsrp_lab.py`), its EWS by exchangelib (PyPI,
//! `tests/peers/exchangelib_lab.py`). Required when `EAS_TEST_PEERS=1` (scripts/test installs
//! both), skipped with a note otherwise.

mod support;

use support::LabProc;

use std::path::Path;
use std::process::Command;

/// `python3` with pypsrp importable, or `None` (with a note) when peers are optional.
fn pypsrp() -> Option<&'static str> {
    support::python_module("pypsrp", "pypsrp").then_some("python3")
}

#[test]
fn pypsrp_runs_the_connector_cmdlets_against_the_lab() {
    let Some(python) = pypsrp() else { return };
    let devices = 1200;
    let lab = LabProc::start(&["--servers", "2", "--devices", &devices.to_string()]);
    let r = run_peer(python, "pypsrp_lab.py", &lab, &devices.to_string());
    println!(
        "pypsrp fetched {devices} devices in {} s",
        r["fetch_seconds"]
    );

    assert_eq!(r["devices"], devices);
    assert_eq!(
        r["type_names"][0],
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.MobileDevice"
    );
    assert_eq!(r["default_result_size"], 1000);
    assert!(r["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("By default, only the first 1000 items are returned."));
    assert_eq!(r["blocked_state"], "Blocked");
    assert_eq!(r["blocked_reason"], "Individual");
    assert_eq!(r["when_changed_moved"], true);
    assert_eq!(r["filtered_blocked"], 1);
    assert_eq!(r["script_had_errors"], true);
    assert_eq!(r["script_errors"][0], "ScriptsNotAllowed");
    assert_eq!(
        r["script_error_message"][0],
        "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
    );
    let limited: Vec<&str> = r["limited_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(limited.contains(&"Get-MobileDevice"), "{limited:?}");
    assert!(!limited.contains(&"Set-CASMailbox"), "{limited:?}");
    assert_eq!(r["limited_set_errors"][0], "CommandNotFoundException");
}

/// pypsrp with `auth="ntlm"` and `auth="negotiate"` (pyspnego's NTLM) against the lab: the
/// lab's NTLM acceptor checked by an independent client, on the connection pypsrp keeps.
#[test]
fn pypsrp_signs_in_with_ntlm_and_negotiate() {
    let Some(python) = pypsrp() else { return };
    let lab = LabProc::start(&["--servers", "1", "--devices", "40"]);
    pypsrp_ntlm(python, &lab, &[]);
}

/// Run tests/peers/pypsrp_ntlm.py against `lab`: NTLM and Negotiate each read the lab's 40
/// devices with no error, and a wrong password is refused. Returns the script's report.
fn pypsrp_ntlm(python: &str, lab: &LabProc, extra: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pypsrp_ntlm.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(lab.dir.path())
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pypsrp_ntlm.py {extra:?} failed:\n{stderr}\n{stdout}"
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for auth in ["ntlm", "negotiate"] {
        assert_eq!(r[format!("{auth}_devices")], 40, "{r}");
        assert_eq!(r[format!("{auth}_errors")], serde_json::json!([]), "{r}");
        assert_eq!(r[format!("{auth}_wrong_password")], "refused", "{r}");
    }
    r
}

/// pypsrp over plain HTTP (`ssl=False`) with `auth="ntlm"` and `auth="negotiate"`: its
/// default encryption seals every message (HTTP-SPNEGO-session-encrypted), so the lab's
/// framing, sealing and unsealing are checked by an implementation no one here wrote; with
/// `encryption="never"` the lab refuses the clear envelope.
#[test]
fn pypsrp_runs_get_mobile_device_over_http_with_encryption() {
    let Some(python) = pypsrp() else { return };
    let lab = LabProc::start(&["--servers", "1", "--devices", "40", "--plain-http"]);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lab.dir.path().join("lab.json")).unwrap()).unwrap();
    assert!(info["servers"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    let r = pypsrp_ntlm(python, &lab, &["http"]);
    let clear = r["clear_envelope"].as_str().unwrap();
    assert!(clear.contains("400"), "{clear}");
}

// exchangelib (PyPI), an EWS client no one here wrote, through `tests/peers/exchangelib_lab.py`,
// signed in as the lab's notification account over NTLM: it learns the server version (its
// ConvertId probe), reads the inbox and Sent Items counts, sends a mail with SendAndSaveCopy
// that lands in the lab's outbox and Sent Items, finds it, and gets Exchange's error for an
// operation the lab does not implement.

/// Run `tests/peers/<script>` with `python` on the lab's folder and `arg`; its one JSON line.
fn run_peer(python: &str, script: &str, lab: &LabProc, arg: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(script);
    let out = Command::new(python)
        .arg(&path)
        .arg(lab.dir.path())
        .arg(arg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stderr}\n{stdout}");
    serde_json::from_str(stdout.trim()).unwrap()
}

fn run_exchangelib(lab: &LabProc) -> serde_json::Value {
    run_peer(
        "python3",
        "exchangelib_lab.py",
        lab,
        "anna.devries@contoso.test",
    )
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
        let lab = LabProc::start(&[
            "--servers",
            "1",
            "--devices",
            "5",
            "--exchange-version",
            version,
        ]);
        let r = run_exchangelib(&lab);
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
