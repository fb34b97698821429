//! Bad input, as a hostile tester types it, against the real binary: each is refused with a
//! non-zero exit and a first line that names the field or file, never echoes a password (in
//! clear, base64 or UTF-16), never repeats a huge value whole, and never lets a line break
//! into a value the file then calls valid.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const SECRET: &str = "Hostile-Pa55!word#42";

fn cmd(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
    c.arg("--config-dir")
        .arg(root)
        .arg("--org")
        .arg("hostile")
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
        .env_remove("RUST_LOG")
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .stdin(Stdio::null());
    c
}

fn run(root: &Path, args: &[&str]) -> Output {
    cmd(root).args(args).output().unwrap()
}

fn all_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The secret in clear, in base64, or in UTF-16 (little- or big-endian) anywhere in `bytes`.
fn leaks(bytes: &[u8], secret: &str) -> bool {
    use base64::Engine as _;
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let le: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = secret.encode_utf16().flat_map(u16::to_be_bytes).collect();
    has(secret.as_bytes()) || has(b64.as_bytes()) || has(&le) || has(&be)
}

/// Every file under `dir` (logs included) that holds the secret in any form.
fn files_leaking(dir: &Path, secret: &str) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| leaks(&b, secret)) {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn a_broken_answers_file_never_shows_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cfg");
    for (i, broken) in [
        format!("[ServiceAccount]\nUser = 'LAB\\svc'\nPassword = \"{SECRET}\n"),
        format!("[ServiceAccount]\nPassword = {SECRET}\n"),
        format!("[Proxy]\nPassword = \"{SECRET}\" # ok\nPassword = \"{SECRET}\"\n"),
        format!("[NotificationAccount\nPassword = \"{SECRET}\"\n"),
    ]
    .iter()
    .enumerate()
    {
        let answers = dir.path().join(format!("answers-{i}.toml"));
        std::fs::write(&answers, broken).unwrap();
        let o = cmd(&root)
            .args(["-vvv", "configure", "--skip-validation", "--no-service"])
            .arg("--answers")
            .arg(&answers)
            .output()
            .unwrap();
        let text = all_text(&o);
        assert!(!o.status.success(), "{text}");
        assert!(
            !leaks(&o.stdout, SECRET) && !leaks(&o.stderr, SECRET),
            "{text}"
        );
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains("answers file, line "), "{first}");
    }
    assert_eq!(
        files_leaking(&root, SECRET),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn bad_values_are_refused_shown_short_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let huge = "a".repeat(120_000);
    // (arguments, what the first line must name)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["config", "set", "ServiceAccount/User", "LAB\\svc\nevil"],
            "ServiceAccount/User",
        ),
        (
            vec![
                "config",
                "set",
                "NotificationAccount/Mailbox",
                "a@b.com\r\nBcc: x@y.com",
            ],
            "NotificationAccount/Mailbox",
        ),
        (
            vec![
                "config",
                "set",
                "ClientAccessServer",
                "cas01.contoso.com\tx",
            ],
            "ClientAccessServer",
        ),
        (
            vec!["config", "set", "Proxy/Host", "proxy\u{1b}[2J.contoso.com"],
            "Proxy/Host",
        ),
        (
            vec!["config", "set", "ServiceAccount/User", &huge],
            "ServiceAccount/User",
        ),
        (
            vec!["config", "set", &huge, "1"],
            "not a configuration field",
        ),
    ];
    for (args, names) in &cases {
        let o = run(root, args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(names), "{first}");
        assert!(stderr.len() < 2_000, "{} bytes echoed", stderr.len());
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\t') && !stderr.contains('\r'),
            "{stderr:?}"
        );
        assert!(!stderr.contains("evil\n"), "a forged line: {stderr:?}");
    }
    // Nothing was written: no configuration holds a line break.
    let config = root
        .join("hostile")
        .join("ConnectorServiceConfiguration.xml");
    assert!(!config.exists());
}

#[test]
fn a_line_break_written_into_the_file_by_hand_is_found_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let org = root.join("hostile");
    std::fs::create_dir_all(&org).unwrap();
    std::fs::write(
        org.join("ConnectorServiceConfiguration.xml"),
        "<ConnectorServiceConfiguration>\n  <ClientAccessServer>cas01.contoso.com</ClientAccessServer>\n  <ServiceAccount>\n    <User>LAB\\svc\nevil</User>\n  </ServiceAccount>\n</ConnectorServiceConfiguration>\n",
    )
    .unwrap();
    let o = run(root, &["config", "check"]);
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("line 4") && text.contains("<ServiceAccount/User>"),
        "{text}"
    );
    assert!(text.contains("control character"), "{text}");
}

#[test]
fn an_empty_client_access_server_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let o = run(
        root,
        &["config", "set", "ClientAccessServer", "cas01.contoso.com"],
    );
    assert!(o.status.success(), "{}", all_text(&o));
    let o = run(root, &["config", "set", "ClientAccessServer", ""]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("<ClientAccessServer>"),
        "{}",
        all_text(&o)
    );
}

#[test]
fn status_of_an_unknown_organization_fails_and_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let o = run(
        root,
        &["config", "set", "ClientAccessServer", "cas01.contoso.com"],
    );
    assert!(o.status.success(), "{}", all_text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(root)
        .args(["--org", "nosuch", "status"])
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
        .output()
        .unwrap();
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no organization 'nosuch'") && text.contains("hostile"),
        "{text}"
    );
}

#[test]
fn a_damaged_status_file_is_reported_and_not_contradicted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let o = run(
        root,
        &["config", "set", "ClientAccessServer", "cas01.contoso.com"],
    );
    assert!(o.status.success(), "{}", all_text(&o));
    std::fs::write(
        root.join("hostile").join("ServiceStatus.json"),
        "{\"format\":1,\"organiz",
    )
    .unwrap();
    let o = run(root, &["status"]);
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("ServiceStatus.json"), "{text}");
    assert!(text.contains("damaged"), "{text}");
    assert!(!text.contains("has not run yet"), "{text}");
}

#[test]
fn report_counts_torn_and_damaged_audit_lines_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let logs = root.join("hostile").join("Logs");
    std::fs::create_dir_all(&logs).unwrap();
    let good = r#"{"time":"2026-02-01T00:00:00Z","device_id":"A","device":"u_A","user":"u@x","mailbox":"x/Users/u","source":"rules","reason":"r","action":"Block","outcome":"applied","sync":"full"}"#;
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\x00 not text\n");
    bytes.extend_from_slice(format!("{good}\n").as_bytes());
    bytes.extend_from_slice(&good.as_bytes()[..40]);
    std::fs::write(logs.join("decisions.jsonl"), bytes).unwrap();
    let o = run(root, &["report"]);
    let text = all_text(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("2 decisions"), "{text}");
    assert!(
        text.contains("2 unreadable line(s) skipped in")
            && text.contains("decisions.jsonl:2, decisions.jsonl:4"),
        "{text}"
    );
}
