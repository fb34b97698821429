//! The connector's Exchange clients against the lab (in-process): ActiveSync OPTIONS,
//! Autodiscover, and EWS, with good and bad credentials.

use eas_connector::exchange::activesync;
use eas_connector::exchange::autodiscover::{discover, AutodiscoverError};
use eas_connector::exchange::client::{Credentials, Session, SessionError};
use eas_connector::exchange::ews::{Ews, EwsError, Mail};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::lab::{Lab, LabInfo, LabOptions};
use eas_connector::secrets::Secret;

async fn lab() -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        devices: 20,
        servers: 2,
        state_dir: dir.path().to_path_buf(),
        ..LabOptions::default()
    })
    .await
    .unwrap();
    (lab, dir)
}

fn creds(info: &LabInfo, who: &str) -> Credentials {
    let a = match who {
        "service" => &info.accounts.service,
        "limited" => &info.accounts.limited,
        _ => &info.accounts.notification,
    };
    Credentials {
        user: a.user.clone(),
        password: Secret::new(a.password.clone()),
    }
}

fn opts(info: &LabInfo) -> ConnectOptions {
    ConnectOptions::new(Some(&info.ca_file), None).unwrap()
}

fn session(info: &LabInfo, who: &str) -> Session {
    Session::basic(
        Endpoint::parse(&info.servers[0].url).unwrap(),
        opts(info),
        &creds(info, who),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn activesync_options_lists_versions() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let got = activesync::options(&mut session(&info, "service"))
        .await
        .unwrap();
    assert!(
        got.protocol_versions.contains(&"16.1".to_string()),
        "{got:?}"
    );
    assert!(got.commands.contains(&"Sync".to_string()));
    assert_eq!(got.server_version.as_deref(), Some("15.20"));

    let mut bad = Session::basic(
        Endpoint::parse(&info.servers[0].url).unwrap(),
        opts(&info),
        &Credentials {
            user: info.accounts.service.user.clone(),
            password: Secret::new("wrong"),
        },
    );
    let e = activesync::options(&mut bad).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("refused the credentials of LAB\\svc-eas")
            && text.contains("offers Negotiate, NTLM, Basic"),
        "{text}"
    );
    assert!(!text.contains("wrong"));
}

#[tokio::test(flavor = "multi_thread")]
async fn autodiscover_finds_ews_through_the_cas_first() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let mailbox = info.accounts.notification.mailbox.clone().unwrap();
    let cas = info.servers[0].address.clone();
    let found = discover(
        &mailbox,
        Some(&cas),
        &opts(&info),
        &creds(&info, "notification"),
    )
    .await
    .unwrap();
    assert_eq!(
        found.ews_url,
        format!("{}/EWS/Exchange.asmx", info.servers[0].url)
    );
    assert_eq!(found.attempts.len(), 1);
    assert_eq!(found.attempts[0].step, "Client Access Server (SCP)");

    let e = discover(
        "nobody@contoso.test",
        Some(&cas),
        &opts(&info),
        &creds(&info, "notification"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, AutodiscoverError::UnknownMailbox { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("can't be found"), "{e}");

    // Wrong password: the CAS refuses, the public candidates do not resolve; every attempt is named.
    let wrong = Credentials {
        user: info.accounts.notification.user.clone(),
        password: Secret::new("nope"),
    };
    let e = discover(&mailbox, Some(&cas), &opts(&info), &wrong)
        .await
        .unwrap_err();
    let AutodiscoverError::NotFound { attempts, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(attempts[0].outcome, "credentials refused (HTTP 401)");
    assert!(
        attempts.iter().any(|a| a.step == "autodiscover.domain"),
        "{attempts:?}"
    );
    assert!(e.to_string().contains("set ExchangeWebServiceURL"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ews_checks_the_mailbox_and_sends_mail_to_the_outbox() {
    let (lab, _d) = lab().await;
    let info = lab.info().clone();
    let mut ews = Ews::new(session(&info, "notification"), "/EWS/Exchange.asmx");
    ews.check_mailbox().await.unwrap();
    ews.send(&Mail {
        to: vec!["anna.devries@contoso.test".into()],
        subject: "Your phone & EAS".into(),
        html_body: "<p>Hello</p>".into(),
        from: None,
    })
    .await
    .unwrap();
    let files: Vec<_> = std::fs::read_dir(&info.outbox_dir)
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let mail: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files[0].path()).unwrap()).unwrap();
    assert_eq!(mail["subject"], "Your phone & EAS");
    assert_eq!(mail["body"], "<p>Hello</p>");
    assert_eq!(
        mail["from"],
        info.accounts.notification.mailbox.clone().unwrap()
    );

    let e = ews
        .send(&Mail {
            to: vec![],
            subject: "x".into(),
            html_body: "x".into(),
            from: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, EwsError::Response { ref code, .. } if code == "ErrorInvalidRecipients"),
        "{e:?}"
    );

    // Sent as another address: with the SendAs right the lab grants (it-helpdesk@), the
    // mail leaves as that address; without it, Exchange's ErrorSendAsDenied and no mail.
    ews.send(&Mail {
        to: vec!["anna.devries@contoso.test".into()],
        subject: "as helpdesk".into(),
        html_body: "<p>Hi</p>".into(),
        from: Some("it-helpdesk@contoso.test".into()),
    })
    .await
    .unwrap();
    let e = ews
        .send(&Mail {
            to: vec!["anna.devries@contoso.test".into()],
            subject: "as the ceo".into(),
            html_body: "<p>Hi</p>".into(),
            from: Some("ceo@contoso.test".into()),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, EwsError::Response { ref code, .. } if code == "ErrorSendAsDenied"),
        "{e:?}"
    );
    let mut sent: Vec<serde_json::Value> = std::fs::read_dir(&info.outbox_dir)
        .unwrap()
        .flatten()
        .map(|f| serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap())
        .collect();
    sent.sort_by_key(|m| m["id"].as_u64());
    assert_eq!(sent.len(), 2, "the denied mail was not sent");
    assert_eq!(sent[1]["from"], "it-helpdesk@contoso.test");
    assert_eq!(sent[1]["sent_by"], info.accounts.notification.user);

    // The limited account has no mailbox.
    let mut limited = Ews::new(session(&info, "limited"), "/EWS/Exchange.asmx");
    let e = limited.check_mailbox().await.unwrap_err();
    assert!(e.to_string().contains("ErrorNonExistentMailbox"), "{e}");

    // A throttled CAS says so.
    let mut s = session(&info, "notification");
    let url = format!("{}/servers/LAB-CAS01/throttle?count=1", info.control.url);
    let _ = control_post(&url, &info.control.token).await;
    let e = activesync::options(&mut s).await.unwrap_err();
    assert!(
        matches!(
            e,
            activesync::ActiveSyncError::Session(SessionError::Throttled {
                retry_after: Some(1),
                ..
            })
        ),
        "{e:?}"
    );
}

async fn control_post(url: &str, token: &str) -> u16 {
    let ep = Endpoint::parse(url).unwrap();
    let mut c = eas_connector::exchange::http::Connection::open(
        &ep,
        &ConnectOptions::new(None, None).unwrap(),
    )
    .await
    .unwrap();
    let req = hyper::Request::post(&ep.path)
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    c.send(req).await.unwrap().status
}
