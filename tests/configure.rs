//! `eas-connector configure --answers`, the real binary: writes what the answers say,
//! reconfigures in place, refuses bad answers, and undoes everything when a step fails.

use std::path::Path;
use std::process::{Command, Output};

fn configure(root: &Path, answers: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(root)
        .args(["configure", "--answers"])
        .arg(answers)
        .args(extra)
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
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

const ANSWERS: &str = r#"
ExchangeServerType = "OnPremises"
ClientAccessServer = "cas01.contoso.test"
QuickSyncIntervalMinutes = 30
[Proxy]
Enabled = true
Host = "proxy.contoso.test"
Port = 3128
UseCredentials = true
User = "proxyuser"
Password = "Proxy-Pa55!"
[ServiceAccount]
User = 'CONTOSO\svc-eas'
Password = "Svc-Pa55!"
[NotificationAccount]
User = "eas-notify@contoso.test"
Mailbox = "eas-notify@contoso.test"
PasswordEnv = "EAS_TEST_NOTIFY_PW"
"#;

#[test]
fn answers_write_config_and_secrets_and_reconfigure_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, ANSWERS).unwrap();
    let root = dir.path().join("cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(&root)
        .args([
            "configure",
            "--skip-validation",
            "--no-service",
            "--answers",
        ])
        .arg(&answers)
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .env("EAS_TEST_NOTIFY_PW", "Notify-Pa55!")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("WARNING: --skip-validation"),
        "{}",
        text(&out)
    );
    let xml =
        std::fs::read_to_string(root.join("default/ConnectorServiceConfiguration.xml")).unwrap();
    for expected in [
        "<ClientAccessServer>cas01.contoso.test</ClientAccessServer>",
        "<Port>3128</Port>",
        "<QuickSyncIntervalMinutes>30</QuickSyncIntervalMinutes>",
        "<User>CONTOSO\\svc-eas</User>",
    ] {
        assert!(xml.contains(expected), "{expected} missing:\n{xml}");
    }
    let secrets = std::fs::read_to_string(root.join("default/ConnectorSecrets.json")).unwrap();
    assert!(
        secrets.contains("Svc-Pa55!")
            && secrets.contains("Notify-Pa55!")
            && secrets.contains("Proxy-Pa55!")
    );
    assert!(!xml.contains("Pa55"));

    // An admin's own element, then a reconfigure that changes only the proxy.
    let edited = xml.replace("<LogLevel>", "<SiteNote>keep</SiteNote>\n  <LogLevel>");
    std::fs::write(
        root.join("default/ConnectorServiceConfiguration.xml"),
        &edited,
    )
    .unwrap();
    std::fs::write(&answers, "[Proxy]\nEnabled = false\n").unwrap();
    let out = configure(&root, &answers, &["--skip-validation", "--no-service"]);
    assert!(out.status.success(), "{}", text(&out));
    let after =
        std::fs::read_to_string(root.join("default/ConnectorServiceConfiguration.xml")).unwrap();
    assert_eq!(
        after,
        edited.replace("<Enabled>true</Enabled>", "<Enabled>false</Enabled>")
    );
    let secrets_after =
        std::fs::read_to_string(root.join("default/ConnectorSecrets.json")).unwrap();
    assert!(
        secrets_after.contains("Svc-Pa55!"),
        "stored passwords are kept"
    );
}

#[test]
fn bad_answers_are_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.toml");
    for (content, expected) in [
        (
            "ClientAccessServer = \"cas01\"",
            "answers file: ClientAccessServer: 'cas01' is not fully qualified",
        ),
        (
            "Bogus = 1",
            "answers file: 'Bogus' is not a configuration field",
        ),
        (
            "[Proxy\nPort=1",
            "answers file, line 1, column 7: not valid TOML",
        ),
    ] {
        std::fs::write(&answers, content).unwrap();
        let out = configure(
            &dir.path().join("cfg"),
            &answers,
            &["--skip-validation", "--no-service"],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out).contains(expected), "{content}: {}", text(&out));
        assert!(!dir
            .path()
            .join("cfg/default/ConnectorServiceConfiguration.xml")
            .exists());
    }
    std::fs::write(&answers, "ClientAccessServer = \"cas01.contoso.test\"").unwrap();
    let out = configure(
        &dir.path().join("cfg"),
        &answers,
        &["--skip-validation", "--no-service"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("the configuration is incomplete"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_failing_step_undoes_the_configuration_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cfg");
    let answers = dir.path().join("answers.toml");
    std::fs::write(
        &answers,
        ANSWERS.replace("PasswordEnv = \"EAS_TEST_NOTIFY_PW\"", "Password = \"n\""),
    )
    .unwrap();
    assert!(
        configure(&root, &answers, &["--skip-validation", "--no-service"])
            .status
            .success()
    );
    let before = std::fs::read(root.join("default/ConnectorServiceConfiguration.xml")).unwrap();
    // Make the secrets file unusable: a folder where the file should be.
    std::fs::remove_file(root.join("default/ConnectorSecrets.json")).unwrap();
    std::fs::create_dir(root.join("default/ConnectorSecrets.json")).unwrap();
    std::fs::write(
        &answers,
        ANSWERS
            .replace("cas01.contoso.test", "cas02.contoso.test")
            .replace("PasswordEnv = \"EAS_TEST_NOTIFY_PW\"", "Password = \"n\""),
    )
    .unwrap();
    let out = configure(&root, &answers, &["--skip-validation", "--no-service"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("Store the passwords: the secrets file")
            && t.contains("everything done before was undone"),
        "{t}"
    );
    assert!(t.contains("↩ restored the previous configuration"), "{t}");
    assert_eq!(
        std::fs::read(root.join("default/ConnectorServiceConfiguration.xml")).unwrap(),
        before
    );
}
