//! The engine's commands in the real binary: `policy example` / `policy check` (problems with
//! file:line:column, exit 1), `enforce` / `enforce --confirm`, and `report --since`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(root)
        .args(args)
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn policy_check_enforce_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("default");
    std::fs::create_dir_all(&org).unwrap();

    let o = run(dir.path(), &["policy", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no access policy"), "{}", text(&o));

    // The example is valid as printed, and with its inventory file turned on.
    let o = run(dir.path(), &["policy", "example"]);
    assert!(o.status.success());
    std::fs::write(org.join("AccessPolicy.toml"), &o.stdout).unwrap();
    let o = run(dir.path(), &["policy", "check"]);
    assert!(o.status.success(), "{}", text(&o));
    let printed = String::from_utf8(run(dir.path(), &["policy", "example"]).stdout).unwrap();
    std::fs::write(
        org.join("AccessPolicy.toml"),
        printed.replace("# files = ", "files = "),
    )
    .unwrap();
    std::fs::write(
        org.join("inventory.csv"),
        "EAS device id,User,Compliant\nDEV1,a@contoso.com,yes\n",
    )
    .unwrap();
    let o = run(dir.path(), &["policy", "check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 rule(s), 2 inventory device(s)"),
        "{}",
        text(&o)
    );

    // Problems come with file, line and column.
    std::fs::write(
        org.join("AccessPolicy.toml"),
        "default = \"Quarantine\"\n\n[[rule]]\nname = \"x\"\ndevice_os = \"iOS*\"\naction = \"Deny\"\n",
    )
    .unwrap();
    std::fs::write(
        org.join("inventory.csv"),
        "EAS device id,User,Compliant\nDEV1,a@contoso.com,perhaps\n",
    )
    .unwrap();
    let o = run(dir.path(), &["policy", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("AccessPolicy.toml:6:10: 'Deny' is not an action"),
        "{t}"
    );

    let o = run(dir.path(), &["enforce"]);
    assert!(text(&o).contains("NOT confirmed"), "{}", text(&o));
    let o = run(dir.path(), &["enforce", "--confirm"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(dir.path(), &["enforce"]);
    assert!(text(&o).contains("Enforcement is on"), "{}", text(&o));

    let logs = org.join("Logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("decisions.jsonl"),
        "{\"time\":\"2026-01-02T00:00:00Z\",\"device_id\":\"D1\",\"device\":\"a_iPhone\",\"user\":\"a@x\",\"mailbox\":\"x/Users/a\",\"source\":\"rules\",\"reason\":\"rule\",\"action\":\"Block\",\"outcome\":\"applied\",\"sync\":\"full\"}\n\
         {\"time\":\"2026-01-03T00:00:00Z\",\"device_id\":\"D2\",\"device\":\"b_Android\",\"user\":\"b@x\",\"mailbox\":\"x/Users/b\",\"source\":\"default\",\"reason\":\"unknown device\",\"action\":\"Allow\",\"conflict\":{\"wanted\":\"Quarantine\",\"exchange\":\"Allow\",\"reason\":\"DeviceRule\",\"rule\":\"Android (DeviceType)\",\"resolution\":\"reported\"},\"outcome\":\"unchanged\",\"sync\":\"full\"}\n",
    )
    .unwrap();
    let o = run(dir.path(), &["report"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(
        t.contains("2 decisions on 2 devices")
            && t.contains("a_iPhone Block")
            && t.contains(
                "b_Android policy says Quarantine, device access rule \"Android (DeviceType)\" says Allow: left allowed"
            ),
        "{t}"
    );
    let o = run(dir.path(), &["report", "--since", "2026-02-01", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decisions"], 0);
    let o = run(dir.path(), &["report", "--since", "yesterday-ish"]);
    assert!(!o.status.success());
}
