//! `eas-connector diag decode-wsman`, the real binary over the real recordings: every file
//! decodes with exit 0 and the documented JSON fields; broken input exits non-zero naming
//! the envelope.

mod common;

use std::process::Command;

fn decode(path: &std::path::Path, json: bool) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
    c.args(["diag", "decode-wsman"]);
    if json {
        c.arg("--json");
    }
    c.arg(path).output().unwrap()
}

#[test]
fn every_recording_decodes_to_json_lines() {
    let Some(dir) = common::recordings_dir() else {
        eprintln!("SKIPPED: recordings not found (set EAS_PSRP_RECORDINGS)");
        return;
    };
    let mut files = 0;
    let mut total = 0;
    let mut types = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = entry.path();
        if p.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        files += 1;
        let out = decode(&p, true);
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in [
                "index",
                "direction",
                "message_type",
                "rpid",
                "pid",
                "object",
            ] {
                assert!(
                    v.get(key).is_some(),
                    "{}: {key} missing in {line}",
                    p.display()
                );
            }
            assert!(matches!(
                v["direction"].as_str(),
                Some("request" | "response")
            ));
            types.insert(v["message_type"].as_str().unwrap().to_string());
            total += 1;
        }
    }
    assert_eq!(files, 60, "the shared folder holds 60 recordings");
    assert!(total > 600, "{total}");
    for t in [
        "SESSION_CAPABILITY",
        "INIT_RUNSPACEPOOL",
        "RUNSPACEPOOL_STATE",
        "CREATE_PIPELINE",
        "PIPELINE_OUTPUT",
        "PIPELINE_STATE",
        "ERROR_RECORD",
    ] {
        assert!(types.contains(t), "{t} never seen: {types:?}");
    }
}

#[test]
fn broken_captures_fail_with_the_envelope_index() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.yml");
    std::fs::write(&p, "messages:\n- request: <s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body></s:Body></s:Envelope>\n  response: '<s:Envelope'\n").unwrap();
    let out = decode(&p, true);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("envelope 0 (response)"), "{err}");

    let Some(rec) = common::recordings_dir() else {
        return;
    };
    // A real recording with one base64 stream cut short.
    let text = std::fs::read_to_string(rec.join("test_psrp_open_runspace.yml")).unwrap();
    let start = text.find("<rsp:Stream").expect("a stream");
    let gt = start + text[start..].find('>').unwrap() + 1;
    let cut = format!("{}{}", &text[..gt], &text[gt + 40..]);
    std::fs::write(&p, cut).unwrap();
    let out = decode(&p, false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("envelope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
