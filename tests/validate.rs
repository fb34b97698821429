//! The validation engine against the lab and against broken peers: a good configuration
//! passes every check, and each bad case fails at the right check with the exact message.
//! Proxy cases go through a real tinyproxy.

mod support;

use std::time::Duration;

use eas_connector::config::ConnectorConfig;
use eas_connector::lab::tls::LeafSpec;
use eas_connector::lab::{Lab, LabInfo, LabOptions};
use eas_connector::probe::{validate, CheckId, Input, Options, Report, Status};
use eas_connector::secrets::Secret;
use support::*;

async fn lab_with(opts: LabOptions) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        state_dir: dir.path().to_path_buf(),
        ..opts
    })
    .await
    .unwrap();
    (lab, dir)
}

async fn lab() -> (Lab, tempfile::TempDir) {
    lab_with(LabOptions {
        devices: 30,
        servers: 2,
        ..LabOptions::default()
    })
    .await
}

/// A complete, correct configuration for the lab.
fn input(info: &LabInfo) -> Input {
    let mut c = ConnectorConfig::new("default");
    c.set("ClientAccessServer", &info.servers[0].address)
        .unwrap();
    c.set("TrustedCaFile", &info.ca_file.display().to_string())
        .unwrap();
    c.set("ServiceAccount/User", &info.accounts.service.user)
        .unwrap();
    c.set("NotificationAccount/User", &info.accounts.notification.user)
        .unwrap();
    c.set(
        "NotificationAccount/Mailbox",
        info.accounts.notification.mailbox.as_deref().unwrap(),
    )
    .unwrap();
    // The lab's Microsoft cloud, for check 14.
    let cloud = info.cloud.as_ref().unwrap();
    c.set("Cloud/TenantId", &cloud.tenant_id).unwrap();
    c.set("Cloud/ApplicationId", &cloud.application_id).unwrap();
    c.set("Cloud/Authority", &cloud.authority).unwrap();
    c.set("Cloud/GraphUrl", &cloud.graph_url).unwrap();
    let cert = eas_connector::cloud::certificate::import_file(
        &cloud.pfx_file,
        Some(&Secret::new(&cloud.pfx_password)),
    )
    .unwrap();
    Input {
        config: c,
        config_problems: vec![],
        service_password: Some(Secret::new(info.accounts.service.password.clone())),
        notification_password: Some(Secret::new(info.accounts.notification.password.clone())),
        proxy_password: None,
        cloud_credential: Some(eas_connector::cloud::AppCredential::Certificate(
            cert,
            eas_connector::cloud::AssertionAlg::Ps256,
        )),
    }
}

fn quick() -> Options {
    Options {
        check_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

async fn run(input: Input, opts: Options) -> Report {
    validate(input, opts, None).await
}

/// Assert that `id` failed with a detail starting with `expected`, and print the report when not.
fn failed(report: &Report, id: CheckId, expected: &str) {
    let c = report.get(id).unwrap();
    assert!(
        c.status == Status::Failed && c.detail.starts_with(expected),
        "{id:?}: expected failure '{expected}…'\n{}",
        report.to_text()
    );
    assert!(c.fix.is_some(), "{id:?} has no fix hint");
    assert!(!report.ok);
}

fn skipped_because(report: &Report, id: CheckId, root: CheckId) {
    let c = report.get(id).unwrap();
    assert_eq!(c.status, Status::Skipped, "{}", report.to_text());
    assert_eq!(
        c.detail,
        format!("skipped: {}. {} failed", root.number(), root.title())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_configuration_passes_every_check() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let report = run(
        input(&info),
        Options {
            send_test_mail: true,
            ..quick()
        },
    )
    .await;
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(report.checks.len(), 14);
    for c in &report.checks {
        let expected = if c.id == CheckId::Proxy {
            Status::NotApplicable
        } else {
            Status::Passed
        };
        assert_eq!(c.status, expected, "{}", report.to_text());
    }
    assert!(report
        .get(CheckId::Cmdlets)
        .unwrap()
        .detail
        .contains("required cmdlets are available to LAB\\svc-eas"));
    assert!(report
        .get(CheckId::ExchangeServers)
        .unwrap()
        .detail
        .starts_with("2 Client Access Server(s), Exchange 2019"));
    let outbox: Vec<_> = std::fs::read_dir(&info.outbox_dir).unwrap().collect();
    assert_eq!(outbox.len(), 1, "the test mail");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_ports_and_certificates() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();

    // 1. Unresolvable host.
    let mut i = input(&info);
    i.config
        .set("ClientAccessServer", "no-such-cas.invalid")
        .unwrap();
    let r = run(i, quick()).await;
    failed(
        &r,
        CheckId::Dns,
        "the name 'no-such-cas.invalid' could not be resolved: ",
    );
    skipped_because(&r, CheckId::Tcp, CheckId::Dns);
    skipped_because(&r, CheckId::Cmdlets, CheckId::Dns);

    // 2. Closed port.
    let port = free_port();
    let mut i = input(&info);
    i.config
        .set("ClientAccessServer", &format!("127.0.0.1:{port}"))
        .unwrap();
    let r = run(i, quick()).await;
    failed(&r, CheckId::Tcp, &format!("connection to 127.0.0.1:{port} was refused (nothing listens on port {port}, or a firewall rejects it)"));

    // 3. A plain HTTP server where HTTPS is expected.
    let plain = plain_server();
    let mut i = input(&info);
    i.config
        .set(
            "ClientAccessServer",
            &format!("127.0.0.1:{}", plain.addr.port()),
        )
        .unwrap();
    let r = run(i, quick()).await;
    failed(&r, CheckId::Tls, "TLS with 127.0.0.1 failed: the server did not answer with TLS (plain HTTP on an HTTPS port?)");

    // 4. The lab's certificate without trusting the lab CA.
    let mut i = input(&info);
    i.config.set("TrustedCaFile", "").unwrap();
    let r = run(i, quick()).await;
    failed(
        &r,
        CheckId::Tls,
        "TLS with 127.0.0.1 failed: the certificate is not issued by a trusted CA",
    );
    assert!(
        r.get(CheckId::Tls).unwrap().detail.contains(
            "the server's certificate: subject CN=127.0.0.1, issuer CN=EAS Connector Lab CA"
        ),
        "{}",
        r.to_text()
    );

    // 5-7. Self-signed, wrong name, expired.
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_file) = ca_in(dir.path());
    let mut self_signed = LeafSpec::loopback(&[]);
    self_signed.self_signed = true;
    let mut expired = LeafSpec::loopback(&[]);
    expired.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    expired.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    for (spec, expected) in [
        (
            self_signed,
            "TLS with 127.0.0.1 failed: the certificate is not issued by a trusted CA",
        ),
        (
            LeafSpec::valid_for(&["mail.fabrikam.test"]),
            "TLS with 127.0.0.1 failed: the certificate is not valid for this name",
        ),
        (
            expired,
            "TLS with 127.0.0.1 failed: the certificate has expired; renew it on the server",
        ),
    ] {
        let server = tls_server(ca.issue(&spec).unwrap());
        let mut i = input(&info);
        i.config
            .set(
                "ClientAccessServer",
                &format!("127.0.0.1:{}", server.addr.port()),
            )
            .unwrap();
        i.config
            .set("TrustedCaFile", &ca_file.display().to_string())
            .unwrap();
        failed(&run(i, quick()).await, CheckId::Tls, expected);
    }

    // 8. A CA file that is not PEM: the configuration check says so.
    let bad_ca = dir.path().join("not-a-ca.pem");
    std::fs::write(&bad_ca, "hello").unwrap();
    let mut i = input(&info);
    i.config
        .set("TrustedCaFile", &bad_ca.display().to_string())
        .unwrap();
    let r = run(i, quick()).await;
    failed(
        &r,
        CheckId::Config,
        &format!(
            "the trusted CA file {} could not be used: it holds no PEM certificate",
            bad_ca.display()
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_accounts_paths_and_mailboxes() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let url = format!("{}/PowerShell/", info.servers[0].url);

    // 9. Wrong service account password.
    let mut i = input(&info);
    i.service_password = Some(Secret::new("not-the-password"));
    let r = run(i, quick()).await;
    failed(&r, CheckId::ServiceAccount, &format!("{url}: the server refused the credentials of LAB\\svc-eas with NTLM (Negotiate) (HTTP 401; it offers Negotiate, NTLM, Basic); check the user name and password"));
    assert!(!r.to_text().contains("not-the-password"));
    skipped_because(&r, CheckId::Runspace, CheckId::ServiceAccount);

    // 10. An account missing cmdlets (the lab's view-only help-desk account).
    let mut i = input(&info);
    i.config
        .set("ServiceAccount/User", &info.accounts.limited.user)
        .unwrap();
    i.service_password = Some(Secret::new(info.accounts.limited.password.clone()));
    let r = run(i, quick()).await;
    failed(&r, CheckId::Cmdlets, "LAB\\helpdesk may not run ");
    let c = r.get(CheckId::Cmdlets).unwrap();
    assert!(
        c.detail.contains(
            "Set-CASMailbox (role \"Mail Recipients\"; role groups: Recipient Management, Organization Management)"
        ) && !c.detail.contains("Get-"),
        "{}",
        c.detail
    );
    assert!(
        c.fix
            .as_deref()
            .unwrap()
            .starts_with("add LAB\\helpdesk to: Organization Management (role \"Organization Client Access\"), Recipient Management (role \"Mail Recipients\"), Recipient Management (role \"Recipient Policies\")"),
        "{:?}",
        c.fix
    );

    // 11. Wrong PowerShell path.
    let r = run(
        input(&info),
        Options {
            powershell_path: "/PowerShel/".into(),
            ..quick()
        },
    )
    .await;
    failed(
        &r,
        CheckId::WinRm,
        &format!(
            "{} answers HTTP 404: there is no PowerShell virtual directory at /PowerShel/",
            info.servers[0].address
        ),
    );

    // 12. Notification mailbox unknown to Autodiscover.
    let mut i = input(&info);
    i.config
        .set("NotificationAccount/Mailbox", "nobody@contoso.test")
        .unwrap();
    let r = run(i, quick()).await;
    failed(&r, CheckId::Autodiscover, &format!("Autodiscover at https://{}/autodiscover/autodiscover.xml says the address nobody@contoso.test can't be found", info.servers[0].address));
    skipped_because(&r, CheckId::Ews, CheckId::Autodiscover);

    // 13. EWS refuses the notification account (explicit EWS URL, wrong password).
    let mut i = input(&info);
    i.config
        .set(
            "ExchangeWebServiceURL",
            &format!("{}/EWS/Exchange.asmx", info.servers[0].url),
        )
        .unwrap();
    i.notification_password = Some(Secret::new("wrong"));
    let r = run(i, quick()).await;
    assert_eq!(r.get(CheckId::Autodiscover).unwrap().status, Status::Passed);
    failed(
        &r,
        CheckId::Ews,
        &format!(
            "{}/EWS/Exchange.asmx: the server refused the credentials of LAB\\eas-notify",
            info.servers[0].url
        ),
    );

    // 14. A missing password is a configuration problem, found before any network step.
    let mut i = input(&info);
    i.service_password = None;
    let r = run(i, quick()).await;
    failed(&r, CheckId::Config, "no service account password is stored");
    skipped_because(&r, CheckId::Dns, CheckId::Config);

    // 15. Failover on, but a single CAS: a warning, not a failure.
    let (one, _d1) = lab_with(LabOptions {
        devices: 5,
        servers: 1,
        ..LabOptions::default()
    })
    .await;
    let r = run(input(one.info()), quick()).await;
    let c = r.get(CheckId::ExchangeServers).unwrap();
    assert_eq!(c.status, Status::Warning, "{}", r.to_text());
    assert_eq!(
        c.fix.as_deref(),
        Some("CAS failover is on, but there is no other server to fail over to")
    );
    assert!(r.ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_slow_and_stopped_servers() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();

    // 16. 503 throttling.
    lab.set_throttle("LAB-CAS01", 1000).unwrap();
    let r = run(input(&info), quick()).await;
    failed(
        &r,
        CheckId::WinRm,
        &format!(
            "{} answers HTTP 503: the server is throttling requests or overloaded",
            info.servers[0].address
        ),
    );
    lab.set_throttle("LAB-CAS01", 0).unwrap();

    // 17. A server slower than the check timeout.
    lab.set_latency("LAB-CAS01", 2500).unwrap();
    let r = run(
        input(&info),
        Options {
            check_timeout: Duration::from_secs(1),
            ..Options::default()
        },
    )
    .await;
    // The request's own timeout and the check's are both 1 s: either may say it first.
    let c = r.get(CheckId::WinRm).unwrap();
    assert!(
        c.status == Status::Failed
            && c.detail.starts_with("no answer ")
            && c.detail.ends_with("within 1 s")
            && c.fix.is_some(),
        "{}",
        r.to_text()
    );
    lab.set_latency("LAB-CAS01", 0).unwrap();

    // 18. A stopped CAS.
    lab.stop_server("LAB-CAS01").unwrap();
    let r = run(input(&info), quick()).await;
    failed(
        &r,
        CheckId::Tcp,
        &format!("connection to {} was refused", info.servers[0].address),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_cases_through_a_real_tinyproxy() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let lab_port: u16 = info.servers[0]
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The Microsoft cloud (check 14) is reached through the proxy too: its two ports are
    // allowed like Exchange's.
    let cloud = info.cloud.as_ref().unwrap();
    let port_of = |url: &str| url::Url::parse(url).unwrap().port().unwrap();
    let (login_port, graph_port) = (port_of(&cloud.authority), port_of(&cloud.graph_url));
    let Some(proxy) = tinyproxy("eas", "proxy-pw-2", &[lab_port, login_port, graph_port]) else {
        return;
    };
    let with_proxy = |user: Option<&str>, pass: Option<&str>, port: u16| {
        let mut i = input(&info);
        i.config.set("Proxy/Enabled", "true").unwrap();
        i.config.set("Proxy/Host", "127.0.0.1").unwrap();
        i.config.set("Proxy/Port", &port.to_string()).unwrap();
        if let Some(u) = user {
            i.config.set("Proxy/UseCredentials", "true").unwrap();
            i.config.set("Proxy/User", u).unwrap();
        }
        i.proxy_password = pass.map(Secret::new);
        i
    };

    // Through the proxy, everything passes.
    let r = run(
        with_proxy(Some("eas"), Some("proxy-pw-2"), proxy.port),
        quick(),
    )
    .await;
    assert!(r.ok, "{}", r.to_text());
    assert_eq!(
        r.get(CheckId::Proxy).unwrap().detail,
        format!(
            "127.0.0.1:{} accepted CONNECT to {}",
            proxy.port, info.servers[0].address
        )
    );

    // The Microsoft cloud always goes through the proxy: one that allows only Exchange's port
    // fails check 14 with the proxy's fix, and Exchange's checks pass.
    let Some(exchange_only) = tinyproxy("eas", "proxy-pw-2", &[lab_port]) else {
        return;
    };
    let r = run(
        with_proxy(Some("eas"), Some("proxy-pw-2"), exchange_only.port),
        quick(),
    )
    .await;
    failed(&r, CheckId::Intune, "signing in to Entra ID failed");
    assert!(r
        .get(CheckId::Intune)
        .unwrap()
        .detail
        .contains("refused to connect"));
    assert_eq!(
        r.get(CheckId::Intune).unwrap().remedy.as_deref(),
        Some(&eas_connector::probe::Fix::Cloud(
            eas_connector::probe::CloudFix::Proxy
        ))
    );
    assert_eq!(r.get(CheckId::Tcp).unwrap().status, Status::Passed);
    // Proxy/BypassForExchange: Exchange is reached directly (check 4 does not apply) while
    // the cloud still takes the proxy — here one that allows only the cloud's ports.
    let Some(cloud_only) = tinyproxy("eas", "proxy-pw-2", &[login_port, graph_port]) else {
        return;
    };
    let mut i = with_proxy(Some("eas"), Some("proxy-pw-2"), cloud_only.port);
    i.config.set("Proxy/BypassForExchange", "true").unwrap();
    let r = run(i, quick()).await;
    assert!(r.ok, "{}", r.to_text());
    assert_eq!(r.get(CheckId::Proxy).unwrap().status, Status::NotApplicable);
    assert_eq!(r.get(CheckId::Intune).unwrap().status, Status::Passed);
    let mut i = with_proxy(Some("eas"), Some("proxy-pw-2"), exchange_only.port);
    i.config.set("Proxy/BypassForExchange", "true").unwrap();
    let r = run(i, quick()).await;
    failed(&r, CheckId::Intune, "signing in to Entra ID failed");

    // 19. Proxy down.
    let down = free_port();
    let r = run(with_proxy(Some("eas"), Some("proxy-pw-2"), down), quick()).await;
    failed(&r, CheckId::Proxy, &format!("the proxy 127.0.0.1:{down} could not be reached: connection to 127.0.0.1:{down} was refused"));
    skipped_because(&r, CheckId::Tcp, CheckId::Proxy);

    // 20. Wrong proxy password (tinyproxy answers 401).
    let r = run(with_proxy(Some("eas"), Some("wrong"), proxy.port), quick()).await;
    failed(&r, CheckId::Proxy, &format!("the proxy 127.0.0.1:{} rejected the credentials (HTTP 401); check the proxy user and password", proxy.port));
    assert!(!r.to_text().contains("wrong\""));

    // 21. No proxy credentials where they are required (407).
    let r = run(with_proxy(None, None, proxy.port), quick()).await;
    failed(
        &r,
        CheckId::Proxy,
        &format!(
            "the proxy 127.0.0.1:{} rejected the credentials (HTTP 407)",
            proxy.port
        ),
    );

    // 22. The proxy refuses the target port.
    let Some(strict) = tinyproxy("eas", "proxy-pw-2", &[1]) else {
        return;
    };
    let r = run(
        with_proxy(Some("eas"), Some("proxy-pw-2"), strict.port),
        quick(),
    )
    .await;
    failed(
        &r,
        CheckId::Proxy,
        &format!(
            "the proxy 127.0.0.1:{} refused to connect to {} (HTTP 403",
            strict.port, info.servers[0].address
        ),
    );

    // 23. The proxy works but cannot reach the server.
    let mut i = with_proxy(Some("eas"), Some("proxy-pw-2"), proxy.port);
    i.config
        .set("ClientAccessServer", &format!("127.0.0.1:{}", free_port()))
        .unwrap();
    let Some(open) = tinyproxy("eas", "proxy-pw-2", &[]) else {
        return;
    };
    i.config.set("Proxy/Port", &open.port.to_string()).unwrap();
    let r = run(i, quick()).await;
    assert_eq!(
        r.get(CheckId::Proxy).unwrap().status,
        Status::Passed,
        "{}",
        r.to_text()
    );
    failed(
        &r,
        CheckId::Tcp,
        &format!(
            "the proxy 127.0.0.1:{} could not connect to 127.0.0.1:",
            open.port
        ),
    );
}
