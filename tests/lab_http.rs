//! The real `eas-connector lab` binary, probed with curl (an HTTP client nobody here wrote):
//! the documented answers of every endpoint, the control endpoint's faults, and a clean exit
//! on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct LabProc {
    child: Child,
    dir: tempfile::TempDir,
    info: serde_json::Value,
}

impl LabProc {
    fn start(extra: &[&str]) -> LabProc {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eas-connector"))
            .args(["lab", "--state-dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lab_json = dir.path().join("lab.json");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lab_json.exists() {
            assert!(Instant::now() < deadline, "lab did not write lab.json");
            std::thread::sleep(Duration::from_millis(20));
        }
        let info = serde_json::from_slice(&std::fs::read(&lab_json).unwrap()).unwrap();
        LabProc { child, dir, info }
    }
    fn url(&self, i: usize) -> String {
        self.info["servers"][i]["url"].as_str().unwrap().to_string()
    }
    fn ca(&self) -> PathBuf {
        PathBuf::from(self.info["ca_file"].as_str().unwrap())
    }
    fn creds(&self, who: &str) -> String {
        let a = &self.info["accounts"][who];
        format!(
            "{}:{}",
            a["user"].as_str().unwrap(),
            a["password"].as_str().unwrap()
        )
    }
    /// curl with the lab CA trusted; returns (status, headers+body).
    fn curl(&self, args: &[&str]) -> (u16, String) {
        curl(&self.ca(), args)
    }
    fn control(&self, method: &str, path: &str) -> serde_json::Value {
        let c = &self.info["control"];
        let out = Command::new("curl")
            .args(["-sS", "-X", method, "-H"])
            .arg(format!(
                "Authorization: Bearer {}",
                c["token"].as_str().unwrap()
            ))
            .arg(format!("{}{}", c["url"].as_str().unwrap(), path))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
    }
}

impl Drop for LabProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(ca: &Path, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn autodiscover_body(email: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{email}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>")
}

#[test]
fn every_endpoint_answers_as_documented() {
    let lab = LabProc::start(&["--servers", "2", "--devices", "50", "--seed", "3"]);
    let base = lab.url(0);
    let svc = lab.creds("service");
    let notify = lab.creds("notification");

    // Without credentials: 401 with the scheme to use, on every endpoint.
    for (method, path) in [
        ("OPTIONS", "/Microsoft-Server-ActiveSync"),
        ("POST", "/autodiscover/autodiscover.xml"),
        ("POST", "/EWS/Exchange.asmx"),
    ] {
        let (status, text) = lab.curl(&["-X", method, &format!("{base}{path}")]);
        assert_eq!(status, 401, "{path}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{path}: {text}"
        );
    }
    // A wrong password is a 401 too.
    let (status, _) = lab.curl(&[
        "-X",
        "OPTIONS",
        "-u",
        "LAB\\svc-eas:wrong",
        &format!("{base}/Microsoft-Server-ActiveSync"),
    ]);
    assert_eq!(status, 401);

    // ActiveSync OPTIONS: protocol versions and commands.
    let (status, text) = lab.curl(&[
        "-X",
        "OPTIONS",
        "-u",
        &svc,
        &format!("{base}/Microsoft-Server-ActiveSync"),
    ]);
    assert_eq!(status, 200, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("ms-asprotocolversions: 2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1"),
        "{text}"
    );
    assert!(
        lower.contains("ms-asprotocolcommands: sync,sendmail"),
        "{text}"
    );
    assert!(lower.contains("ms-server-activesync: 15.20"), "{text}");

    // Autodiscover: the EWS URL for the notification mailbox; the documented error otherwise.
    let mailbox = lab.info["accounts"]["notification"]["mailbox"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, text) = lab.curl(&[
        "-u",
        &notify,
        "-H",
        "Content-Type: text/xml",
        "--data",
        &autodiscover_body(&mailbox),
        &format!("{base}/autodiscover/autodiscover.xml"),
    ]);
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("<EwsUrl>{base}/EWS/Exchange.asmx</EwsUrl>")),
        "{text}"
    );
    let (_, text) = lab.curl(&[
        "-u",
        &notify,
        "--data",
        &autodiscover_body("nobody@contoso.test"),
        &format!("{base}/autodiscover/autodiscover.xml"),
    ]);
    assert!(
        text.contains(
            "<ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message>"
        ),
        "{text}"
    );

    // EWS CreateItem with SendAndSaveCopy lands in the outbox.
    let mail = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Body><m:CreateItem MessageDisposition=\"SendAndSaveCopy\"><m:Items><t:Message><t:Subject>Test from curl</t:Subject><t:Body BodyType=\"Text\">hello</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>anna.devries@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>";
    let (status, text) = lab.curl(&[
        "-u",
        &notify,
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data",
        mail,
        &format!("{base}/EWS/Exchange.asmx"),
    ]);
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("ResponseClass=\"Success\"")
            && text.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
        "{text}"
    );
    let outbox = lab.control("GET", "/outbox");
    assert_eq!(outbox[0]["subject"], "Test from curl");
    assert_eq!(outbox[0]["from"], mailbox.as_str());
    assert_eq!(
        std::fs::read_dir(lab.dir.path().join("outbox"))
            .unwrap()
            .count(),
        1
    );

    // Unknown paths are 404, like IIS.
    let (status, _) = lab.curl(&["-u", &svc, &format!("{base}/nope")]);
    assert_eq!(status, 404);
}

#[test]
fn control_endpoint_stops_throttles_and_restarts_a_cas() {
    let lab = LabProc::start(&["--servers", "2", "--devices", "10"]);
    let svc = lab.creds("service");
    let probe = |i: usize| {
        lab.curl(&[
            "-X",
            "OPTIONS",
            "-u",
            &svc,
            &format!("{}/Microsoft-Server-ActiveSync", lab.url(i)),
        ])
    };
    assert_eq!(probe(0).0, 200);
    assert_eq!(
        lab.control("POST", "/servers/LAB-CAS01/stop")["running"],
        false
    );
    let (status, text) = probe(0);
    assert_eq!(status, 0, "a stopped CAS refuses connections: {text}");
    assert!(
        text.contains("Failed to connect") || text.contains("Connection refused"),
        "{text}"
    );
    assert_eq!(probe(1).0, 200, "the other CAS still answers");
    assert_eq!(
        lab.control("POST", "/servers/LAB-CAS01/start")["running"],
        true
    );
    assert_eq!(probe(0).0, 200);

    lab.control("POST", "/servers/LAB-CAS02/throttle?count=2");
    assert_eq!(probe(1).0, 503);
    assert_eq!(probe(1).0, 503);
    assert_eq!(probe(1).0, 200);

    let state = lab.control("GET", "/state");
    assert_eq!(state["device_states"]["Allowed"], 10);
    let touched = lab.control("POST", "/devices/touch?count=3&seed=9");
    assert_eq!(touched["touched"], 3);
    let devices = lab.control("GET", "/devices");
    assert_eq!(devices.as_array().unwrap().len(), 10);

    // Wrong token: refused.
    let out = Command::new("curl")
        .args(["-sS", "-H", "Authorization: Bearer nope"])
        .arg(format!(
            "{}/state",
            lab.info["control"]["url"].as_str().unwrap()
        ))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrong bearer token"));
}

#[test]
fn answers_file_sets_up_a_connector_for_this_lab() {
    let lab = LabProc::start(&["--servers", "1", "--devices", "5"]);
    let answers = std::fs::read_to_string(lab.dir.path().join("answers.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&answers).unwrap();
    assert_eq!(
        parsed["ClientAccessServer"].as_str().unwrap(),
        lab.info["servers"][0]["address"].as_str().unwrap()
    );
    assert_eq!(
        parsed["ServiceAccount"]["User"].as_str().unwrap(),
        "LAB\\svc-eas"
    );
    assert!(std::path::Path::new(parsed["TrustedCaFile"].as_str().unwrap()).is_file());
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_lab_cleanly() {
    let mut lab = LabProc::start(&["--servers", "1", "--devices", "5"]);
    let pid = lab.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = lab.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "lab did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
