//! A throwaway MIT Kerberos realm on loopback for the Kerberos tests, without root: Debian's
//! `krb5-kdc` (krb5kdc, kdb5_util), `krb5-admin-server` (kadmin.local) and `krb5-user` (kinit,
//! klist). [`TestRealm::start`] writes `krb5.conf` (for clients) and `kdc.conf` (for the KDC)
//! into a temporary folder, creates the database, the users (with `+requires_preauth`, as
//! Active Directory requires pre-authentication) and the services (random AES keys exported to
//! one keytab), then runs `krb5kdc -n` in the foreground on a free loopback TCP port (no UDP;
//! clients are told to use TCP). Every program that should use the realm needs the variables of
//! [`TestRealm::env`]. The KDC logs to `kdc.log` in the folder, so a test can count the AS
//! exchanges a client made ([`TestRealm::as_requests`]) to prove ticket caching and renewal.
//! Without the packages the realm is skipped with a note, unless `EAS_TEST_PEERS=1` requires
//! it. Dropping the realm stops the KDC and removes the folder. [`KerberosServer`] runs the
//! independent Kerberos/Negotiate acceptor `tests/peers/kerberos_server.py` (MIT's GSS-API
//! through pyspnego, system python) with the realm's keytab.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use eas_connector::lab::tls::ServerCert;

/// What the realm holds.
pub struct RealmSpec<'a> {
    /// Realm name, e.g. `EXAMPLE.TEST`.
    pub realm: &'a str,
    /// `(name, password)`: user principals created with `+requires_preauth`; a name without
    /// `@` is in `realm`.
    pub users: &'a [(&'a str, &'a str)],
    /// Service principals, e.g. `HTTP/localhost`, with random keys exported to the keytab
    /// (AES-256 and AES-128).
    pub services: &'a [&'a str],
    /// Maximum ticket lifetime in seconds (the KDC's `max_life`, also the principals' own
    /// limit); `None`: 10 hours.
    pub max_life_secs: Option<u32>,
}

/// The programs the realm runs.
struct Programs {
    krb5kdc: PathBuf,
    kdb5_util: PathBuf,
    kadmin_local: PathBuf,
    kinit: PathBuf,
    klist: PathBuf,
}

/// A running KDC with its database, configuration and keytab in `dir`.
pub struct TestRealm {
    pub realm: String,
    /// The KDC's TCP port on 127.0.0.1.
    pub port: u16,
    /// The realm's folder (configuration, database, keytab, logs, default ccache).
    pub dir: PathBuf,
    /// Client configuration (`KRB5_CONFIG`).
    pub krb5_conf: PathBuf,
    /// KDC configuration (`KRB5_KDC_PROFILE`).
    pub kdc_conf: PathBuf,
    /// Keys of every service of the spec (`KRB5_KTNAME` in [`TestRealm::env`]).
    pub keytab: PathBuf,
    /// The KDC's log (`AS_REQ` / `TGS_REQ` lines).
    pub kdc_log: PathBuf,
    programs: Programs,
    kdc: Option<Child>,
    _tmp: tempfile::TempDir,
}

const ENCTYPES: &str = "aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha1-96:normal";

/// The folder of the KDC's database plugins (`db2.so`), where Debian installed it.
fn db_module_dir() -> Option<PathBuf> {
    let mut candidates = vec![
        PathBuf::from("/usr/lib/krb5/plugins/kdb"),
        PathBuf::from("/usr/lib64/krb5/plugins/kdb"),
    ];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        candidates.extend(entries.flatten().map(|e| e.path().join("krb5/plugins/kdb")));
    }
    candidates.into_iter().find(|d| d.join("db2.so").is_file())
}

impl TestRealm {
    /// Create the realm and start its KDC. `None` (with a note) when the Kerberos packages are
    /// missing and peers are optional; a panic when `EAS_TEST_PEERS=1` and they are missing,
    /// or when anything fails.
    pub fn start(spec: &RealmSpec) -> Option<TestRealm> {
        let programs = Programs {
            krb5kdc: super::peer_program("krb5kdc", "krb5-kdc")?,
            kdb5_util: super::peer_program("kdb5_util", "krb5-kdc")?,
            kadmin_local: super::peer_program("kadmin.local", "krb5-admin-server")?,
            kinit: super::peer_program("kinit", "krb5-user")?,
            klist: super::peer_program("klist", "krb5-user")?,
        };
        let Some(modules) = db_module_dir() else {
            assert!(
                !super::peers_required(),
                "the KDC's db2.so plugin was not found (Debian package krb5-kdc)"
            );
            eprintln!("SKIPPED: the KDC's db2.so plugin was not found (Debian package krb5-kdc)");
            return None;
        };
        let tmp = tempfile::Builder::new()
            .prefix("eas-test-realm-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let mut realm = TestRealm {
            realm: spec.realm.to_string(),
            port: 0,
            krb5_conf: dir.join("krb5.conf"),
            kdc_conf: dir.join("kdc.conf"),
            keytab: dir.join("service.keytab"),
            kdc_log: dir.join("kdc.log"),
            dir,
            programs,
            kdc: None,
            _tmp: tmp,
        };
        realm.write_config(spec, &modules);
        realm.run(
            &realm.programs.kdb5_util,
            &[
                "-r",
                spec.realm,
                "create",
                "-s",
                "-P",
                "Test-Realm-Master-1!",
            ],
        );
        for (user, password) in spec.users {
            realm.add_user(user, password);
        }
        for service in spec.services {
            realm.add_service(service);
        }
        // The port was free when chosen; another process may take it before the KDC binds.
        for _ in 0..5 {
            if realm.spawn_kdc() {
                return Some(realm);
            }
            realm.port = super::free_port();
            realm.write_config(spec, &modules);
        }
        panic!("krb5kdc did not start:\n{}", realm.kdc_output());
    }

    fn write_config(&mut self, spec: &RealmSpec, modules: &Path) {
        if self.port == 0 {
            self.port = super::free_port();
        }
        let (d, r, p) = (self.dir.display(), spec.realm, self.port);
        let max_life = spec.max_life_secs.unwrap_or(36_000);
        std::fs::write(
            &self.krb5_conf,
            format!(
                "[libdefaults]\n default_realm = {r}\n dns_lookup_kdc = false\n \
                 dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n \
                 udp_preference_limit = 1\n default_ccache_name = FILE:{d}/ccache\n \
                 default_keytab_name = FILE:{d}/service.keytab\n\n\
                 [realms]\n {r} = {{\n  kdc = 127.0.0.1:{p}\n }}\n\n\
                 [dbmodules]\n db_module_dir = {m}\n",
                m = modules.display()
            ),
        )
        .unwrap();
        std::fs::write(
            &self.kdc_conf,
            format!(
                "[kdcdefaults]\n kdc_ports = {p}\n kdc_tcp_ports = {p}\n kdc_listen = \"\"\n \
                 kdc_tcp_listen = 127.0.0.1:{p}\n\n\
                 [realms]\n {r} = {{\n  database_name = {d}/principal\n  \
                 key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n  \
                 max_life = {max_life}s\n  max_renewable_life = 7d\n  \
                 master_key_type = aes256-cts-hmac-sha1-96\n  \
                 supported_enctypes = {enc}\n }}\n\n\
                 [logging]\n kdc = FILE:{d}/kdc.log\n admin_server = FILE:{d}/kadmin.log\n \
                 default = FILE:{d}/krb5lib.log\n",
                enc = ENCTYPES.replace(',', " ")
            ),
        )
        .unwrap();
    }

    /// Start krb5kdc on `self.port`; false when it exited before accepting connections. Ready
    /// means its log says so (a new "commencing operation") and the port accepts: the port
    /// alone could be another process's that took it first.
    fn spawn_kdc(&mut self) -> bool {
        let started = |log: String| log.matches("commencing operation").count();
        let before = started(self.log());
        let out = std::fs::File::create(self.dir.join("krb5kdc.out")).unwrap();
        let child = Command::new(&self.programs.krb5kdc)
            .args(["-n", "-r", &self.realm])
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.kdc = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if started(self.log()) > before
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return true;
            }
            if let Some(Ok(Some(_))) = self.kdc.as_mut().map(Child::try_wait) {
                self.kdc = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    fn kdc_output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("krb5kdc.out"), read("kdc.log"))
    }

    /// Run a realm tool with the realm's environment; panics with its output on failure.
    fn run(&self, program: &Path, args: &[&str]) -> Output {
        let out = Command::new(program)
            .args(args)
            .envs(self.env())
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The KDC's address, `127.0.0.1:PORT` (TCP).
    pub fn kdc_address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Run one `kadmin.local -q` query and return its standard output. Panics with the output
    /// when it fails: kadmin.local exits 0 after most failed queries, so any message on stderr
    /// other than its "No policy specified" notice counts as a failure.
    pub fn kadmin(&self, query: &str) -> String {
        let out = self.run(
            &self.programs.kadmin_local,
            &["-r", &self.realm, "-q", query],
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failed = stderr
            .lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with("No policy specified"));
        assert!(
            !failed,
            "kadmin.local -q {query:?} failed:\n{stdout}{stderr}"
        );
        stdout
    }

    /// Add a user principal with `+requires_preauth` (e.g. a lab account once its password
    /// is known). The password must not contain `"`.
    pub fn add_user(&self, name: &str, password: &str) {
        self.kadmin(&format!(
            "addprinc +requires_preauth -pw \"{password}\" {name}"
        ));
    }

    /// Make `name` a user with `password`: added, or its password set when it exists.
    pub fn ensure_user(&self, name: &str, password: &str) {
        if self
            .kadmin("listprincs")
            .lines()
            .any(|l| l.trim() == self.principal(name))
        {
            self.kadmin(&format!("cpw -pw \"{password}\" {name}"));
        } else {
            self.add_user(name, password);
        }
    }

    /// Add a service principal with a random key and export its AES keys to the keytab.
    pub fn add_service(&self, spn: &str) {
        self.kadmin(&format!("addprinc -randkey {spn}"));
        self.kadmin(&format!(
            "ktadd -k {} -e {ENCTYPES} {spn}",
            self.keytab.display()
        ));
    }

    /// Stop the KDC (clients then find no KDC reachable). Does nothing when it is stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.kdc.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the KDC again on the same port, with the same database.
    pub fn restart(&mut self) {
        self.stop();
        // The port may linger briefly after the old KDC closed it; try a few times.
        for _ in 0..10 {
            if self.spawn_kdc() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("krb5kdc did not restart:\n{}", self.kdc_output());
    }

    /// Whether the KDC is running.
    pub fn is_running(&self) -> bool {
        self.kdc.is_some()
    }

    /// The environment for programs that use the realm: `KRB5_CONFIG` (clients),
    /// `KRB5_KDC_PROFILE` (KDC and kadmin), `KRB5_KTNAME` (acceptors: the services' keytab)
    /// and `KRB5RCACHEDIR` (acceptors' replay cache, in the realm's folder). The default
    /// credential cache is `FILE:<dir>/ccache`; set `KRB5CCNAME` to use another.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KRB5_CONFIG".into(), self.krb5_conf.display().to_string()),
            (
                "KRB5_KDC_PROFILE".into(),
                self.kdc_conf.display().to_string(),
            ),
            (
                "KRB5_KTNAME".into(),
                format!("FILE:{}", self.keytab.display()),
            ),
            ("KRB5RCACHEDIR".into(), self.dir.display().to_string()),
        ]
    }

    /// `user@REALM` for a name without a realm.
    pub fn principal(&self, name: &str) -> String {
        if name.contains('@') {
            name.to_string()
        } else {
            format!("{name}@{}", self.realm)
        }
    }

    /// `kinit` into the credential cache file `ccache` with the password on stdin; the error
    /// output when it fails.
    pub fn try_kinit(&self, principal: &str, password: &str, ccache: &Path) -> Result<(), String> {
        let mut child = Command::new(&self.programs.kinit)
            .arg("-c")
            .arg(format!("FILE:{}", ccache.display()))
            .arg(self.principal(principal))
            .envs(self.env())
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = writeln!(stdin, "{password}");
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `kinit` as [`TestRealm::try_kinit`]; panics when it fails.
    pub fn kinit(&self, principal: &str, password: &str, ccache: &Path) {
        if let Err(e) = self.try_kinit(principal, password, ccache) {
            panic!("kinit {principal} failed: {e}");
        }
    }

    /// `klist -c FILE:ccache`: the cache's tickets (panics when the cache is unreadable).
    pub fn klist(&self, ccache: &Path) -> String {
        let out = self.run(
            &self.programs.klist,
            &["-c", &format!("FILE:{}", ccache.display())],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The KDC's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.kdc_log).unwrap_or_default()
    }

    /// Count of `AS_REQ` lines in the KDC log: every AS exchange, including the first round
    /// the KDC answers with "pre-authentication required" (so one password sign-in with
    /// pre-authentication usually counts 2).
    pub fn as_requests(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(" AS_REQ "))
            .count()
    }

    /// Count of TGTs issued (`AS_REQ` lines with `ISSUE:`): one per successful sign-in.
    pub fn tgts_issued(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(" AS_REQ ") && l.contains(" ISSUE: "))
            .count()
    }

    /// Count of `TGS_REQ` lines: service tickets asked for (and renewals).
    pub fn tgs_requests(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(" TGS_REQ "))
            .count()
    }
}

impl Drop for TestRealm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `tests/peers/kerberos_server.py` running with a realm's environment (keytab, krb5.conf);
/// stopped on drop. See the script's docstring for its arguments and answers.
pub struct KerberosServer {
    child: Child,
    /// Its port on 127.0.0.1 (serve `localhost`: the keytab's `HTTP/localhost`).
    pub port: u16,
    stderr: PathBuf,
}

impl KerberosServer {
    /// Start it with `args` (e.g. `["--plain"]` or `["--cert", C, "--key", K, "--bindings",
    /// "none"]`). `None` (with a note) when the system python lacks gssapi, krb5, pyspnego and
    /// peers are optional.
    pub fn start(realm: &TestRealm, args: &[&str]) -> Option<KerberosServer> {
        if !super::system_python_module("gssapi, krb5, spnego", "python3-gssapi, krb5, pyspnego") {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/kerberos_server.py");
        let stderr = realm.dir.join(format!(
            "kerberos_server-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(super::SYSTEM_PYTHON)
            .arg(script)
            .args(args)
            .envs(realm.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kerberos_server.py {args:?} did not start:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        Some(KerberosServer {
            child,
            port,
            stderr,
        })
    }

    /// Its stderr so far: `accepted: USER with SCHEME ...`, `refused: REASON`, `challenge: ...`.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for KerberosServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write `cert` as `dir/NAME.pem` (certificate) and `dir/NAME.key` (PKCS#8 key, PEM), the
/// files kerberos_server.py's `--cert` / `--key` (and `--bindings other:`) take.
pub fn write_pem(cert: &ServerCert, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, &cert.pem).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.key.secret_der());
    let mut key = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        key.push_str(std::str::from_utf8(chunk).unwrap());
        key.push('\n');
    }
    key.push_str("-----END PRIVATE KEY-----\n");
    std::fs::write(&key_path, key).unwrap();
    (cert_path, key_path)
}
