//! `eas-connector config purge [--all] --yes`, the real binary in temporary folders: what it
//! says without `--yes`, its refusal while a service is installed (systemd through a stand-in
//! `systemctl` and unit folder), and that it deletes exactly the organizations' folders and
//! passwords (fallback file store) and nothing else.

#![cfg(unix)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("systemctl");
        std::fs::write(
            &prog,
            "#!/bin/sh\n[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\n'\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        Root { dir }
    }
    /// The configuration root (a sub-folder, so that the test's own files are outside it).
    fn root(&self) -> PathBuf {
        self.dir.path().join("config")
    }
    fn org_dir(&self, org: &str) -> PathBuf {
        self.root().join(org)
    }
    fn run(&self, org: &str, args: &[&str], stdin: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector"));
        c.arg("--config-dir")
            .arg(self.root())
            .arg("--org")
            .arg(org)
            .args(args)
            .env_remove("EAS_CONNECTOR_CONFIG_DIR")
            .env_remove("EAS_CONNECTOR_ORG")
            .env_remove("RUST_LOG")
            .env("EAS_CONNECTOR_SECRET_STORE", "file")
            .env(
                "EAS_CONNECTOR_SYSTEMD_UNIT_DIR",
                self.dir.path().join("units"),
            )
            .env("EAS_CONNECTOR_SYSTEMCTL", self.dir.path().join("systemctl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
    /// An organization with a configuration (and its .bak), a password and a log folder.
    fn org(&self, org: &str) {
        for (f, v) in [
            ("ClientAccessServer", "cas01.contoso.test"),
            ("ServiceAccount/User", "CONTOSO\\svc"),
        ] {
            ok(&self.run(org, &["config", "set", f, v], ""));
        }
        ok(&self.run(
            org,
            &["config", "set-password", "service-account"],
            "Purge-Me-pw-4411\n",
        ));
        let d = self.org_dir(org);
        for f in [
            "ConnectorServiceConfiguration.xml",
            "ConnectorServiceConfiguration.xml.bak",
            "ConnectorSecrets.json",
            "Logs",
        ] {
            assert!(d.join(f).exists(), "{}", d.join(f).display());
        }
    }
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn refused(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
    assert!(err.contains("nothing was deleted"), "{err}");
}

fn all_files(p: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        v.push(e.path());
        if e.path().is_dir() {
            v.extend(all_files(&e.path()));
        }
    }
    v.sort();
    v
}

#[test]
fn purge_one_org_needs_yes_and_no_service() {
    let r = Root::new();
    r.org("contoso");
    r.org("fabrikam");
    let fabrikam_before = all_files(&r.org_dir("fabrikam"));

    // Without --yes: says what would go, deletes nothing.
    let o = r.run("contoso", &["config", "purge"], "");
    refused(
        &o,
        &[
            &r.org_dir("contoso").display().to_string(),
            "ConnectorServiceConfiguration.xml.bak",
            "ConnectorSecrets.json",
            "Logs",
            "eas-connector --org contoso config purge --yes",
        ],
    );
    assert!(r.org_dir("contoso").join("ConnectorSecrets.json").exists());

    // With a service installed: refused, even with --yes.
    ok(&r.run("contoso", &["service", "install"], ""));
    let o = r.run("contoso", &["config", "purge", "--yes"], "");
    refused(
        &o,
        &[
            "eas-connector@contoso.service",
            "service uninstall --org NAME",
        ],
    );
    assert!(r
        .org_dir("contoso")
        .join("ConnectorServiceConfiguration.xml")
        .exists());

    ok(&r.run("contoso", &["service", "uninstall"], ""));
    let out = ok(&r.run("contoso", &["config", "purge", "--yes"], ""));
    assert!(
        out.contains(&format!("deleted {}", r.org_dir("contoso").display())),
        "{out}"
    );
    assert!(!r.org_dir("contoso").exists());
    // The other organization is untouched, and its password still reads back.
    assert_eq!(all_files(&r.org_dir("fabrikam")), fabrikam_before);
    let show = ok(&r.run("fabrikam", &["config", "show"], ""));
    assert!(
        show.lines()
            .any(|l| l.contains("service account password") && l.contains(" stored")),
        "{show}"
    );
    // Purging again is fine: nothing left.
    ok(&r.run("contoso", &["config", "purge", "--yes"], ""));
}

#[test]
fn purge_all_removes_every_org_and_nothing_else() {
    let r = Root::new();
    r.org("contoso");
    r.org("fabrikam");
    ok(&r.run("fabrikam", &["service", "install"], ""));
    let o = r.run("default", &["config", "purge", "--all", "--yes"], "");
    refused(&o, &["eas-connector@fabrikam.service"]);
    assert!(r.org_dir("contoso").exists() && r.org_dir("fabrikam").exists());
    ok(&r.run("default", &["service", "uninstall", "--all"], ""));

    let o = r.run("default", &["config", "purge", "--all"], "");
    refused(
        &o,
        &[
            &r.org_dir("contoso").display().to_string(),
            &r.org_dir("fabrikam").display().to_string(),
            "eas-connector config purge --all --yes",
        ],
    );
    // Not the default org's folder: `--all` found no such folder and `--org` is ignored.
    assert!(!r.org_dir("default").exists());

    // A folder that is not an organization's, and a file, stay; so does the root then.
    std::fs::create_dir_all(r.root().join("photos")).unwrap();
    std::fs::write(r.root().join("photos/cat.txt"), "meow").unwrap();
    ok(&r.run("default", &["config", "purge", "--all", "--yes"], ""));
    assert_eq!(
        all_files(&r.root()),
        [r.root().join("photos"), r.root().join("photos/cat.txt")]
    );
    // Once only our folders were there, the root itself goes too.
    std::fs::remove_dir_all(r.root().join("photos")).unwrap();
    r.org("contoso");
    let out = ok(&r.run("default", &["config", "purge", "--all", "--yes"], ""));
    assert!(
        out.contains(&format!("deleted {}", r.root().display())),
        "{out}"
    );
    assert!(!r.root().exists());
    // Nothing to purge is not an error.
    let out = ok(&r.run("default", &["config", "purge", "--all", "--yes"], ""));
    assert!(out.contains("nothing to delete"), "{out}");
}
