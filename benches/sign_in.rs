//! Sign-in plus runspace open, Kerberos against NTLM, in one run: a real MIT KDC and the lab
//! (in this process, with the realm's keytab, so `/PowerShell` takes both Kerberos inside
//! Negotiate and NTLM), each iteration a new `Target::open` — a new TCP connection, the sign-in
//! and the WinRM/PSRP runspace pool — then closed. Kerberos is measured twice: the first
//! sign-in of a process (an AS and a TGS exchange with the KDC first) and later ones (the
//! cached service ticket: only the AP exchange). Pairs alternate, so the ratio holds when the
//! machine's speed drifts. Prints medians and ratios.
//!
//! `cargo bench --bench sign_in [-- --latency-ms N --runs N]`; under `cargo test` (no
//! `--bench`) it makes one pass of each as a smoke test. Needs Debian's krb5-kdc (skipped with
//! a note otherwise).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use eas_connector::engine::target::Target;
use eas_connector::exchange::auth::kerberos::{tickets, KerberosOptions};
use eas_connector::exchange::client::{AuthMethod, Credentials};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::lab::{Lab, LabOptions};
use eas_connector::secrets::Secret;
use support::kdc::{RealmSpec, TestRealm};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let runs = if bench { arg("--runs", 30) } else { 1 };
    let latency = arg("--latency-ms", 0);
    let Some(realm) = TestRealm::start(&RealmSpec {
        realm: "BENCH.TEST",
        users: &[],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    }) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let lab = Lab::start(LabOptions {
            devices: 10,
            latency_ms: latency,
            servers: 1,
            state_dir: dir.path().to_path_buf(),
            keytab: Some(realm.keytab.clone()),
            realm: Some("BENCH.TEST".into()),
            ..LabOptions::default()
        })
        .await
        .unwrap();
        let info = lab.info().clone();
        let svc = &info.accounts.service;
        realm.add_user(svc.user.rsplit('\\').next().unwrap(), &svc.password);
        let target = |method: AuthMethod| {
            let mut connect = ConnectOptions::new(Some(&info.ca_file), None).unwrap();
            connect.auth = method;
            connect.kerberos = KerberosOptions {
                realm: Some("BENCH.TEST".into()),
                kdc: Some(realm.kdc_address()),
                spn: None,
                renew_before_expiry_secs: 300,
            };
            Target {
                powershell: Endpoint::parse(&format!("{}/PowerShell/", info.servers[0].url))
                    .unwrap(),
                connect,
                service: Credentials {
                    user: svc.user.clone(),
                    password: Secret::new(&svc.password),
                },
                resource_uri: eas_connector::wire::wsman::ns::RESOURCE_EXCHANGE.to_string(),
                max_runspaces: 1,
            }
        };
        let open = |t: Target| async move {
            let started = Instant::now();
            let ex = t.open().await.unwrap();
            let took = started.elapsed();
            let _ = ex.pool().clone().close().await;
            took
        };
        let (kerberos, ntlm) = (target(AuthMethod::Kerberos), target(AuthMethod::Ntlm));
        let (mut first, mut cached, mut with_ntlm) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            tickets::clear_cache();
            first.push(open(kerberos.clone()).await);
            cached.push(open(kerberos.clone()).await);
            with_ntlm.push(open(ntlm.clone()).await);
        }
        let (f, c, n) = (
            median(&mut first),
            median(&mut cached),
            median(&mut with_ntlm),
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "sign-in + runspace open, {runs} runs, lab latency {latency} ms (medians):\n  \
             Kerberos, first of a process (AS + TGS + AP): {:.1} ms\n  \
             Kerberos, cached ticket (AP only):            {:.1} ms\n  \
             NTLM:                                         {:.1} ms\n  \
             ratio Kerberos cached / NTLM: {:.2}; Kerberos first / NTLM: {:.2}",
            ms(f),
            ms(c),
            ms(n),
            ms(c) / ms(n),
            ms(f) / ms(n)
        );
        drop(lab);
    });
}
