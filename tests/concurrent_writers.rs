//! Writers racing on one organization: `config set` and `config set-password` processes
//! started at the same moment on different fields (or passwords) must each keep their change
//! (no lost update), never fail because of the other (no temp file removed under a live
//! writer), and leave whole files.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use eas_connector::config::{ConfigFile, ConfigLocation};

use std::io::Write;

fn cmd(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
    c.arg("--config-dir")
        .arg(root)
        .arg("--org")
        .arg("race")
        .env_remove("EAS_CONNECTOR_CONFIG_DIR")
        .env_remove("EAS_CONNECTOR_ORG")
        .env_remove("RUST_LOG")
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn set(root: &Path, field: &str, value: &str) -> Child {
    cmd(root)
        .args(["config", "set", field, value])
        .spawn()
        .unwrap()
}

fn set_password(root: &Path, which: &str, password: &str) -> Child {
    let mut child = cmd(root)
        .args(["config", "set-password", which])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child
}

/// Wait for every child; the stderr of each that failed.
fn failures(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect()
}

/// The value of `path` in the organization's configuration file, read as the connector reads it
/// (which also proves the file whole).
fn field(root: &Path, path: &str) -> String {
    let loc = ConfigLocation::new(Some(root), "race").unwrap();
    let file = ConfigFile::load(&loc).unwrap_or_else(|e| panic!("{e}"));
    file.config.get(path).unwrap()
}

#[test]
fn racing_config_sets_lose_no_update_and_fail_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let trials = 40;
    let (mut lost, mut failed) = (0, Vec::new());
    for i in 0..trials {
        let port = (2000 + i).to_string();
        let minutes = (100 + i).to_string();
        let runspaces = (1 + i % 16).to_string();
        failed.extend(failures(vec![
            set(root, "Proxy/Port", &port),
            set(root, "QuickSyncIntervalMinutes", &minutes),
            set(root, "MaxParallelRunspaces", &runspaces),
        ]));
        lost += usize::from(field(root, "Proxy/Port") != port)
            + usize::from(field(root, "QuickSyncIntervalMinutes") != minutes)
            + usize::from(field(root, "MaxParallelRunspaces") != runspaces);
    }
    eprintln!(
        "{trials} trials of 3 racing writers: {lost} lost updates, {} failed writes",
        failed.len()
    );
    assert_eq!(failed, Vec::<String>::new(), "failed writes");
    assert_eq!(lost, 0, "lost updates in {trials} trials");
}

#[test]
fn racing_password_writers_and_config_sets_keep_everything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let secrets = root.join("race").join("ConnectorSecrets.json");
    let trials = 25;
    let (mut lost, mut failed) = (0, Vec::new());
    for i in 0..trials {
        let (svc, proxy, notify) = (
            format!("svc-pw-{i}"),
            format!("proxy-pw-{i}"),
            format!("mail-pw-{i}"),
        );
        let port = (3000 + i).to_string();
        failed.extend(failures(vec![
            set_password(root, "service-account", &svc),
            set_password(root, "proxy", &proxy),
            set_password(root, "notification-account", &notify),
            set(root, "Proxy/Port", &port),
        ]));
        let stored: serde_json::Value =
            serde_json::from_slice(&fs::read(&secrets).unwrap()).unwrap();
        let values: Vec<String> = stored
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        lost += [&svc, &proxy, &notify]
            .iter()
            .filter(|p| !values.contains(p))
            .count();
        lost += usize::from(field(root, "Proxy/Port") != port);
    }
    eprintln!(
        "{trials} trials of 4 racing writers: {lost} lost updates, {} failed writes",
        failed.len()
    );
    assert_eq!(failed, Vec::<String>::new(), "failed writes");
    assert_eq!(lost, 0, "lost updates in {trials} trials");
}

/// `configure --answers` (the wizard's Apply, through the same code) racing `config set` and
/// `set-password`: the plan is applied over the file as it is when Apply writes, so the
/// other writers' changes survive, and Apply's own fields are all there.
#[test]
fn racing_configure_keeps_the_other_writers_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let secrets = root.join("race").join("ConnectorSecrets.json");
    let trials = 20;
    let (mut lost, mut failed) = (0, Vec::new());
    for i in 0..trials {
        let cas = format!("cas{i}.contoso.test");
        let answers = root.join(format!("answers-{i}.toml"));
        std::fs::write(
            &answers,
            format!(
                "ClientAccessServer = \"{cas}\"\n[ServiceAccount]\nUser = 'CONTOSO\\svc-eas'\n[NotificationAccount]\nUser = \"n@contoso.test\"\nMailbox = \"n@contoso.test\"\n"
            ),
        )
        .unwrap();
        let port = (4000 + i).to_string();
        let pw = format!("svc-pw-{i}");
        let configure = cmd(root)
            .args([
                "configure",
                "--skip-validation",
                "--no-service",
                "--answers",
            ])
            .arg(&answers)
            .spawn()
            .unwrap();
        failed.extend(failures(vec![
            configure,
            set(root, "Proxy/Port", &port),
            set_password(root, "service-account", &pw),
        ]));
        let stored = fs::read_to_string(&secrets).unwrap();
        for (what, kept) in [
            (
                "ClientAccessServer",
                field(root, "ClientAccessServer") == cas,
            ),
            ("Proxy/Port", field(root, "Proxy/Port") == port),
            ("service-account password", stored.contains(&pw)),
        ] {
            if !kept {
                lost += 1;
                eprintln!("trial {i}: {what} lost");
            }
        }
    }
    eprintln!(
        "{trials} trials of configure racing 2 writers: {lost} lost updates, {} failed writes",
        failed.len()
    );
    assert_eq!(failed, Vec::<String>::new(), "failed writes");
    assert_eq!(lost, 0, "lost updates in {trials} trials");
}

/// The stress test of the issue: four writers on one organization at once, 200 operations
/// each — `config set` (the CLI), `config set-password`, `configure --answers` (the wizard's
/// Apply, through the same code) and the service's status file (its own writer, in this
/// process) — while a reader loads the configuration throughout. Every operation succeeds, no
/// read sees a torn file or a value going back (a lost update), and the last value of each
/// writer is what the files hold.
#[test]
fn four_writers_two_hundred_operations_each_lose_nothing() {
    use eas_connector::service::status::{self, Status};
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let loc = ConfigLocation::new(Some(&root), "race").unwrap();
    let ops = 200;
    let done = AtomicBool::new(false);
    let run = |c: Child| failures(vec![c]);
    let (cli, passwords, apply, service, torn) = std::thread::scope(|s| {
        let cli = s.spawn(|| {
            (0..ops)
                .flat_map(|i| run(set(&root, "Proxy/Port", &(5000 + i).to_string())))
                .collect::<Vec<_>>()
        });
        let passwords = s.spawn(|| {
            (0..ops)
                .flat_map(|i| run(set_password(&root, "service-account", &format!("pw-{i}"))))
                .collect::<Vec<_>>()
        });
        let apply = s.spawn(|| {
            (0..ops)
                .flat_map(|i| {
                    let answers = root.join(format!("answers-{i}.toml"));
                    fs::write(
                        &answers,
                        format!(
                            "ClientAccessServer = \"cas{i}.contoso.test\"\nMaxParallelRunspaces = {}\n[ServiceAccount]\nUser = 'CONTOSO\\svc-eas'\n[NotificationAccount]\nUser = \"n@contoso.test\"\nMailbox = \"n@contoso.test\"\n",
                            1 + i % 16
                        ),
                    )
                    .unwrap();
                    let c = cmd(&root)
                        .args(["configure", "--skip-validation", "--no-service", "--answers"])
                        .arg(&answers)
                        .spawn()
                        .unwrap();
                    run(c)
                })
                .collect::<Vec<_>>()
        });
        let service = s.spawn(|| {
            let path = status::status_path(&loc);
            (0..ops)
                .filter_map(|_| {
                    let previous = Status::read(&path).ok().flatten();
                    Status::starting("race", previous)
                        .write(&path)
                        .err()
                        .map(|e| e.to_string())
                })
                .collect::<Vec<_>>()
        });
        // A lost update shows as a value going back: each writer's values only grow.
        let reader = s.spawn(|| {
            let mut torn = Vec::new();
            let (mut port, mut cas) = (0u32, 0u32);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(2));
                if !loc.config_file().exists() {
                    continue;
                }
                match ConfigFile::load(&loc) {
                    Err(e) => torn.push(e.to_string()),
                    Ok(f) => {
                        // Before the CLI's first set the file has no port, and the
                        // default (8080) is read: that is not a value the writer wrote.
                        let now_port = Some(u32::from(f.config.proxy.port))
                            .filter(|p| (5000..5000 + ops as u32).contains(p))
                            .unwrap_or(0);
                        let now_cas = f
                            .config
                            .client_access_server
                            .first()
                            .and_then(|a| {
                                a.host.strip_prefix("cas")?.split('.').next()?.parse().ok()
                            })
                            .unwrap_or(0);
                        if now_port < port || now_cas < cas {
                            torn.push(format!(
                                "went back: port {port} -> {now_port}, cas{cas} -> cas{now_cas}"
                            ));
                        }
                        (port, cas) = (port.max(now_port), cas.max(now_cas));
                    }
                }
            }
            torn
        });
        let results = (
            cli.join().unwrap(),
            passwords.join().unwrap(),
            apply.join().unwrap(),
            service.join().unwrap(),
        );
        done.store(true, Ordering::Relaxed);
        (
            results.0,
            results.1,
            results.2,
            results.3,
            reader.join().unwrap(),
        )
    });
    eprintln!(
        "4 writers x {ops}: failed cli {}, passwords {}, apply {}, service {}; torn reads or lost updates seen {}",
        cli.len(),
        passwords.len(),
        apply.len(),
        service.len(),
        torn.len()
    );
    assert_eq!(cli, Vec::<String>::new(), "config set failures");
    assert_eq!(passwords, Vec::<String>::new(), "set-password failures");
    assert_eq!(apply, Vec::<String>::new(), "configure failures");
    assert_eq!(service, Vec::<String>::new(), "status write failures");
    assert_eq!(
        torn,
        Vec::<String>::new(),
        "a reader saw a torn configuration"
    );
    let last = ops - 1;
    assert_eq!(field(&root, "Proxy/Port"), (5000 + last).to_string());
    assert_eq!(
        field(&root, "ClientAccessServer"),
        format!("cas{last}.contoso.test")
    );
    assert_eq!(
        field(&root, "MaxParallelRunspaces"),
        (1 + last % 16).to_string()
    );
    let secrets = fs::read_to_string(root.join("race").join("ConnectorSecrets.json")).unwrap();
    assert!(secrets.contains(&format!("\"pw-{last}\"")), "{secrets}");
    assert!(Status::read(&status::status_path(&loc)).unwrap().is_some());
}
