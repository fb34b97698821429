//! Test peers shared by the integration tests: a real tinyproxy, small TLS and plain HTTP
//! servers with chosen certificates, and free ports. Peers that need Debian packages are
//! required when `EAS_TEST_PEERS=1` (scripts/test sets it) and skipped with a note otherwise.
#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eas_connector::lab::tls::{LabCa, LeafSpec, ServerCert};

pub mod kdc;

/// Whether tests that need external peers must run (and fail if a peer is missing).
pub fn peers_required() -> bool {
    std::env::var("EAS_TEST_PEERS").as_deref() == Ok("1")
}

/// A program from a Debian package, or `None` (with a note) when peers are optional.
pub fn peer_program(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !peers_required(),
            "{name} is required (Debian package {package}); scripts/test installs it"
        );
        eprintln!(
            "SKIPPED: {name} not installed (Debian package {package}); scripts/test installs it"
        );
    }
    found
}

/// Whether `python` can import `module` (package `package`); `false` (with a note) when
/// peers are optional, a failed assertion when they are required.
fn python_can_import(python: &str, module: &str, package: &str) -> bool {
    let ok = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !peers_required(),
            "{package} is required for {python}; scripts/test installs it"
        );
        eprintln!("SKIPPED: {python} with {package} not available; scripts/test installs it");
    }
    ok
}

/// Whether `python3` can import `module` (PyPI package `package`).
pub fn python_module(module: &str, package: &str) -> bool {
    python_can_import("python3", module, package)
}

/// The system python, the only one with Debian's `python3-gssapi` (MIT Kerberos).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// Whether the system python ([`SYSTEM_PYTHON`]) can import `module` (package `package`:
/// a Debian package such as python3-gssapi, or a PyPI one); `false` (with a note) when peers
/// are optional, a failed assertion when they are required.
pub fn system_python_module(module: &str, package: &str) -> bool {
    python_can_import(SYSTEM_PYTHON, module, package)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running tinyproxy, stopped on drop.
pub struct Tinyproxy {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `child` comes to listen on 127.0.0.1:`port` within `wait` (false at once if it
/// exits).
fn listening(child: &mut Child, port: u16, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A folder squid's helpers (run as the `proxy` user) can read, holding `files` (name, bytes).
pub fn readable_by_proxy_user(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, bytes) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// A running squid (Debian's squid 5), with its access log.
pub struct Squid {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Squid {
    /// The access log so far: one line per request, with the user name squid authenticated.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The access log once `done` holds for it (squid writes a line when it closes the
    /// transaction, which may come just after the client got its answer); after 200 looks,
    /// the log as it is.
    pub fn access_log_when(&self, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..200 {
            let log = self.access_log();
            if done(&log) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.access_log()
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        // SIGTERM first (shutdown_lifetime 0: squid stops its helpers and exits at once).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start squid on loopback that lets every authenticated client CONNECT anywhere. `auth` holds
/// its `auth_param` lines (e.g. NTLM through `ntlm_fake_auth`, which takes any password);
/// `env` is given to squid and its helpers (a keytab for `negotiate_kerberos_auth`). `None`
/// (with a note) when squid is not installed and peers are optional.
pub fn squid(auth: &[String], env: &[(&str, &Path)]) -> Option<Squid> {
    let bin = peer_program("squid", "squid")?;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        // squid started as root runs as the `proxy` user: its files must be reachable.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = free_port();
        let d = dir.path().display();
        let conf = dir.path().join("squid.conf");
        let mut f = std::fs::File::create(&conf).unwrap();
        writeln!(
            f,
            "http_port 127.0.0.1:{port}\npid_filename {d}/squid.pid\ncache_log {d}/cache.log\naccess_log stdio:{d}/access.log squid\ncache deny all\ncoredump_dir {d}\nnetdb_filename none\npinger_enable off\nshutdown_lifetime 0 seconds\ndns_defnames off\nbuffered_logs off"
        )
        .unwrap();
        for line in auth {
            writeln!(f, "{line}").unwrap();
        }
        writeln!(
            f,
            "acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all"
        )
        .unwrap();
        drop(f);
        let mut cmd = Command::new(&bin);
        cmd.arg("-N").arg("-f").arg(&conf);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proxy = Squid { child, port, dir };
        if listening(&mut proxy.child, port, Duration::from_secs(15)) {
            return Some(proxy);
        }
        eprintln!(
            "squid did not start:\n{}",
            std::fs::read_to_string(proxy.dir.path().join("cache.log")).unwrap_or_default()
        );
        drop(proxy);
    }
    panic!("squid did not start");
}

/// Start tinyproxy on loopback with Basic auth `user:pass`; `connect_ports` limits CONNECT.
pub fn tinyproxy(user: &str, pass: &str, connect_ports: &[u16]) -> Option<Tinyproxy> {
    let bin = peer_program("tinyproxy", "tinyproxy")?;
    let mut dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let port = free_port();
        let conf = dir.path().join("tinyproxy.conf");
        let mut f = std::fs::File::create(&conf).unwrap();
        writeln!(f, "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nBasicAuth {user} {pass}\nDisableViaHeader Yes\nLogLevel Critical\nMaxClients 50").unwrap();
        for p in connect_ports {
            writeln!(f, "ConnectPort {p}").unwrap();
        }
        drop(f);
        let child = Command::new(&bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proxy = Tinyproxy {
            child,
            port,
            _dir: dir,
        };
        if listening(&mut proxy.child, port, Duration::from_secs(5)) {
            return Some(proxy);
        }
        let _ = proxy.child.kill();
        let _ = proxy.child.wait();
        dir = tempfile::tempdir().unwrap();
    }
    panic!("tinyproxy did not start");
}

/// A small HTTPS (or plain HTTP) server answering every request with 200 "ok", on loopback.
/// It runs on its own thread until the test process ends.
pub struct TestServer {
    pub addr: SocketAddr,
}

fn serve(cert: Option<ServerCert>) -> TestServer {
    let std_listener = StdListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let acceptor = cert.map(|c| tokio_rustls::TlsAcceptor::from(c.server_config().unwrap()));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let reply =
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                    let mut buf = [0u8; 4096];
                    match acceptor {
                        Some(a) => {
                            if let Ok(mut s) = a.accept(tcp).await {
                                let _ = s.read(&mut buf).await;
                                let _ = s.write_all(reply).await;
                                let _ = s.shutdown().await;
                            }
                        }
                        None => {
                            let mut s = tcp;
                            let _ = s.read(&mut buf).await;
                            let _ = s.write_all(reply).await;
                        }
                    }
                });
            }
        });
    });
    TestServer { addr }
}

/// An HTTPS server presenting `cert`.
pub fn tls_server(cert: ServerCert) -> TestServer {
    serve(Some(cert))
}

/// A plain HTTP server (to stand on a port where HTTPS is expected).
pub fn plain_server() -> TestServer {
    serve(None)
}

/// A CA and its PEM written to `dir/ca.pem`.
pub fn ca_in(dir: &Path) -> (LabCa, PathBuf) {
    let ca = LabCa::new("Test CA").unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    (ca, path)
}

/// A leaf valid for loopback names.
pub fn loopback_leaf() -> LeafSpec {
    LeafSpec::loopback(&[])
}

/// `eas-connector lab` in its own process, in a fresh folder, until dropped; `start` returns
/// once the lab has written `lab.json` (within 60 s).
pub struct LabProc {
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl LabProc {
    pub fn start(extra: &[&str]) -> LabProc {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
            .args(["lab", "--state-dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dir.path().join("lab.json").exists() {
            assert!(Instant::now() < deadline, "lab did not write lab.json");
            std::thread::sleep(Duration::from_millis(20));
        }
        LabProc { child, dir }
    }
}

impl Drop for LabProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
