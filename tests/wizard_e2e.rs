//! The real `eas-connector-setup` binary under Xvfb, driven with xdotool like an admin at the
//! keyboard: Try the lab (Alt+T), Enter and Alt+N (with the focus in a text box) through every page, Connect against the lab, Apply
//! (configuration and passwords; a stand-in systemctl is offered, and must not be used for the
//! lab), Finish; then the written configuration and the stored passwords are checked, and
//! `eas-connector configure --answers` with the lab's answers file must write the same
//! configuration.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eas_connector::config::{ConfigFile, ConfigLocation};
use eas_connector::secrets::{self, Preference, SecretKind};

/// A process killed (by its own id) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `Xvfb :N` on a free display number.
fn xvfb(bin: &Path) -> (Proc, String) {
    for n in (120 + std::process::id() % 200)..(400 + std::process::id() % 200) {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new(bin)
            .args([
                format!(":{n}").as_str(),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Proc(child);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (p, format!(":{n}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("could not start Xvfb");
}

struct Xdo {
    bin: PathBuf,
    display: String,
    window: String,
}

impl Xdo {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn key(&self, key: &str) {
        self.run(&["windowfocus", "--sync", &self.window]);
        self.run(&["key", "--clearmodifiers", key]);
        std::thread::sleep(Duration::from_millis(150));
    }

    fn title(&self) -> String {
        self.run(&["getwindowname", &self.window])
    }

    /// Wait until the window title ends with `page`.
    fn wait_page(&self, page: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.title().ends_with(page) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

/// Whether the lab answers on /PowerShell (validation checks 6–10 need it).
#[test]
fn setup_binary_under_xvfb_with_the_lab() {
    let Some(xvfb_bin) = support::peer_program("Xvfb", "xvfb") else {
        return;
    };
    let Some(xdotool) = support::peer_program("xdotool", "xdotool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cfg");
    let (_x, display) = xvfb(&xvfb_bin);
    // A stand-in systemctl that logs its calls, and a private unit folder, so that the wizard
    // has a service manager to offer, and never touches the machine's.
    let units = dir.path().join("units");
    let systemctl_log = dir.path().join("systemctl.log");
    let systemctl = dir.path().join("systemctl");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            &systemctl,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$1\" = show ] && printf 'LoadState=loaded\\nActiveState=active\\n'\nexit 0\n",
                systemctl_log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let app = Command::new(env!("CARGO_BIN_EXE_eas-connector-setup"))
        .env("EAS_CONNECTOR_SYSTEMD_UNIT_DIR", &units)
        .env("EAS_CONNECTOR_SYSTEMCTL", &systemctl)
        .arg("--config-dir")
        .arg(&root)
        .args(["--lang", "en"])
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .env("TMPDIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut app = Proc(app);
    let window = Command::new(&xdotool)
        .args(["search", "--sync", "--name", "EAS Connector Setup"])
        .env("DISPLAY", &display)
        .output()
        .unwrap();
    let window = String::from_utf8_lossy(&window.stdout)
        .lines()
        .next()
        .expect("the wizard's window")
        .to_string();
    let x = Xdo {
        bin: xdotool,
        display,
        window,
    };
    assert!(
        x.wait_page("Welcome", Duration::from_secs(10)),
        "{}",
        x.title()
    );
    x.key("alt+t");
    assert!(
        x.wait_page("Exchange server type", Duration::from_secs(30)),
        "the lab starts and the wizard moves on: {}",
        x.title()
    );
    for page in [
        "Server",
        "Proxy",
        "Service account",
        "Notification account",
        "Options",
        "Compliance source",
        "Connect",
    ] {
        // Alt+N where the focus is in a text box (the Server page opens in its address, the
        // Service account page in its user): Next, and the `n` typed nowhere (the written
        // configuration is compared with the CLI's below).
        if matches!(page, "Proxy" | "Notification account") {
            x.key("alt+n");
        } else {
            x.key("Return");
        }
        assert!(
            x.wait_page(page, Duration::from_secs(5)),
            "{page}: {}",
            x.title()
        );
    }
    // Connect runs the checks; Enter moves on once they all pass.
    let t0 = Instant::now();
    while !x.title().ends_with("Summary") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "Connect did not pass"
        );
        x.key("Return");
        std::thread::sleep(Duration::from_millis(500));
    }
    x.key("Return");
    assert!(x.wait_page("Apply", Duration::from_secs(5)));
    let t0 = Instant::now();
    while !x.title().ends_with("Done") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "Apply did not finish"
        );
        x.key("Return");
        std::thread::sleep(Duration::from_millis(300));
    }
    // While the wizard (and its lab) still runs: the CLI with the lab's answers file.
    let answers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("answers.toml"))
        .find(|p| p.is_file())
        .expect("the wizard's lab wrote answers.toml in TMPDIR");
    let root_cli = dir.path().join("cfg-cli");
    let out = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
        .arg("--config-dir")
        .arg(&root_cli)
        .args([
            "--org",
            eas_connector::wizard::LAB_ORG,
            "configure",
            "--answers",
        ])
        .arg(&answers)
        .arg("--no-service")
        .env("EAS_CONNECTOR_SECRET_STORE", "file")
        .output()
        .unwrap();
    assert!(out.status.success(), "configure --answers: {out:?}");
    x.key("Return");
    let t0 = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = app.0.try_wait() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "Finish closes the wizard"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let loc = ConfigLocation::new(Some(&root), eas_connector::wizard::LAB_ORG).unwrap();
    let file = ConfigFile::load(&loc).unwrap();
    assert!(!file.config.client_access_server.is_empty());
    let store = secrets::open(&loc, Preference::File).unwrap().store;
    assert!(store.get(SecretKind::ServiceAccount).unwrap().is_some());
    assert!(store
        .get(SecretKind::NotificationAccount)
        .unwrap()
        .is_some());
    let xml = std::fs::read_to_string(loc.config_file()).unwrap();
    let pw = store.get(SecretKind::ServiceAccount).unwrap().unwrap();
    assert!(!xml.contains(pw.expose()), "no password in the XML");
    // The same configuration as the CLI writes from the lab's answers file.
    let loc_cli = ConfigLocation::new(Some(&root_cli), eas_connector::wizard::LAB_ORG).unwrap();
    let xml_cli = std::fs::read_to_string(loc_cli.config_file()).unwrap();
    assert_eq!(
        xml, xml_cli,
        "wizard and configure --answers wrote different files"
    );
    // The lab demonstration never registers a service (its Exchange ends with the wizard),
    // even where one could be registered.
    assert!(!units.exists(), "no unit written for the lab");
    assert!(!systemctl_log.exists(), "systemctl not called for the lab");
}

/// On a server (no display, or one that cannot be opened) the wizard explains and points to
/// `configure --answers`, with exit code 3: no panic, no backtrace.
#[test]
fn without_a_display_the_wizard_explains_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    for display in [None, Some(":4999")] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_eas-connector-setup"));
        c.arg("--config-dir")
            .arg(dir.path())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
        if let Some(d) = display {
            c.env("DISPLAY", d);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{display:?}: {err}");
        assert!(
            err.contains("the setup window") && err.contains("configure --answers FILE"),
            "{display:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("stack backtrace"),
            "{display:?}: {err}"
        );
    }
}
