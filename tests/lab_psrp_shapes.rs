//! The lab's `/PowerShell` server answers our own client requests (`ClientSession`) with the
//! shapes recorded from real Windows servers (`test_psrp_open_runspace.yml`,
//! `test_client_execute_ps.yml`): same response Actions, same header element set, same PSRP
//! message type sequence, same CommandState — ids and payload values aside. Plus the server
//! behaviours no recording shows in one place: paging under MaxEnvelopeSize, concurrent
//! pipelines, faults, the idle timeout, and shells dying with their CAS.

mod common;

use bytes::Bytes;
use eas_connector::exchange::client::{Credentials, Session};
use eas_connector::exchange::http::{ConnectOptions, Endpoint};
use eas_connector::lab::{Lab, LabOptions};
use eas_connector::secrets::Secret;
use eas_connector::wire::capture::{Capture, Direction};
use eas_connector::wire::clixml::Value;
use eas_connector::wire::psrp::message::MessageType;
use eas_connector::wire::psrp::objects::{
    Command, CreatePipeline, InitRunspacePool, ProtocolVersion,
};
use eas_connector::wire::session::ClientSession;
use eas_connector::wire::wsman::{ns, Body, Envelope, RequestContext};
use hyper::Method;
use uuid::Uuid;

#[derive(Debug, PartialEq)]
struct Shape {
    action: String,
    header_elements: Vec<String>,
    psrp_types: Vec<String>,
    command_state: Option<(String, bool)>,
}

/// PSRP message types per response, with runs of PIPELINE_OUTPUT collapsed to one and
/// PROGRESS_RECORD dropped (Windows' "Preparing modules for first use" is a first-run artefact).
fn shapes(pairs: &[(String, String)]) -> Vec<Shape> {
    let yaml: String = std::iter::once("messages:\n".to_string())
        .chain(pairs.iter().map(|(q, r)| {
            format!(
                "- request: '{}'\n  response: '{}'\n",
                q.replace('\'', "''"),
                r.replace('\'', "''")
            )
        }))
        .collect();
    let cap = Capture::parse(&yaml).unwrap();
    let msgs = cap.messages().unwrap();
    pairs
        .iter()
        .enumerate()
        .map(|(i, (_, r))| {
            let env = Envelope::parse(r).unwrap();
            let mut header_elements = env.header.element_names.clone();
            header_elements.sort();
            let mut psrp_types: Vec<String> = Vec::new();
            for m in msgs
                .iter()
                .filter(|m| m.index == i && m.direction == Direction::Response)
            {
                let name = m.message.message_type.name();
                if name == "PROGRESS_RECORD"
                    || (name == "PIPELINE_OUTPUT" && psrp_types.last() == Some(&name))
                {
                    continue;
                }
                psrp_types.push(name);
            }
            let command_state = match &env.body {
                Body::ReceiveResponse {
                    command_state: Some(cs),
                    ..
                } => Some((cs.state.clone().unwrap_or_default(), cs.exit_code.is_some())),
                _ => None,
            };
            Shape {
                action: env.header.action.unwrap_or_default(),
                header_elements,
                psrp_types,
                command_state,
            }
        })
        .collect()
}

struct Client {
    session: Session,
    psrp: ClientSession,
    path: String,
}

impl Client {
    fn new(lab: &Lab, who: &str, max_envelope: u32, timeout_secs: u32) -> Client {
        let info = lab.info();
        let server = &info.servers[0];
        let acc = match who {
            "limited" => &info.accounts.limited,
            _ => &info.accounts.service,
        };
        let creds = Credentials {
            user: acc.user.clone(),
            password: Secret::new(acc.password.clone()),
        };
        let opts = ConnectOptions::new(Some(&info.ca_file), None).unwrap();
        let session = Session::basic(Endpoint::parse(&server.url).unwrap(), opts, &creds);
        let ctx = RequestContext {
            max_envelope_size: max_envelope,
            operation_timeout_secs: timeout_secs,
            session_id: Some(Uuid::from_u128(77)),
            ..RequestContext::exchange(format!("{}/PowerShell", server.url))
        };
        Client {
            session,
            psrp: ClientSession::new(ctx, Uuid::from_u128(rand_u128()), ProtocolVersion::V2_3),
            path: "/PowerShell".into(),
        }
    }

    async fn post(&mut self, xml: String) -> (u16, String) {
        let r = self
            .session
            .request(
                Method::POST,
                &self.path,
                Some("application/soap+xml;charset=UTF-8"),
                Bytes::from(xml),
            )
            .await
            .unwrap();
        (r.status, String::from_utf8(r.body.to_vec()).unwrap())
    }

    /// Send and keep the pair.
    async fn pair(&mut self, xml: String, pairs: &mut Vec<(String, String)>) -> Envelope {
        let (_, resp) = self.post(xml.clone()).await;
        let env = Envelope::parse(&resp).unwrap();
        pairs.push((xml, resp));
        env
    }
}

fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    t ^ (u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64)
}

fn mid() -> Uuid {
    Uuid::from_u128(rand_u128())
}

async fn start(devices: u32) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::start(LabOptions {
        servers: 2,
        devices,
        state_dir: dir.path().to_path_buf(),
        ..LabOptions::default()
    })
    .await
    .unwrap();
    (lab, dir)
}

fn pipeline(cmd: Command) -> CreatePipeline {
    CreatePipeline::new(vec![cmd])
}

/// Receive on a pipeline until Done; returns the number of ReceiveResponses and the
/// PSRP payload bytes of each.
async fn receive_all(c: &mut Client, pid: Uuid, max: usize) -> Vec<Envelope> {
    let mut out = Vec::new();
    loop {
        let (status, resp) = c.post(c.psrp.receive(mid(), Some(pid))).await;
        assert_eq!(status, 200, "{resp}");
        assert!(
            resp.len() <= max,
            "response {} > MaxEnvelopeSize {max}",
            resp.len()
        );
        let env = Envelope::parse(&resp).unwrap();
        let done = match &env.body {
            Body::ReceiveResponse { command_state, .. } => {
                command_state.as_ref().is_some_and(|c| c.is_done())
            }
            other => panic!("{other:?}"),
        };
        out.push(env);
        if done {
            return out;
        }
    }
}

fn decode_outputs(envs: &[Envelope]) -> Vec<(MessageType, Option<Value>)> {
    let mut re = eas_connector::wire::psrp::Reassembler::new();
    let mut out = Vec::new();
    for e in envs {
        if let Body::ReceiveResponse { streams, .. } = &e.body {
            for s in streams {
                for m in re.push_payload(&s.data).unwrap() {
                    let m = eas_connector::wire::psrp::Message::parse(&m).unwrap();
                    out.push((m.message_type.known().unwrap(), m.value().unwrap()));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_recorded_windows_shapes() {
    let recs = common::recordings();
    if recs.is_empty() {
        return;
    }
    let (lab, _dir) = start(20).await;
    for want in ["test_psrp_open_runspace.yml", "test_client_execute_ps.yml"] {
        let (_, text) = recs.iter().find(|(n, _)| n == want).unwrap();
        let cap = Capture::parse(text).unwrap();
        let recorded: Vec<(String, String)> = cap
            .items
            .iter()
            .filter_map(|i| Some((i.request.clone()?, i.response.clone()?)))
            .collect();
        let rec_shapes = shapes(&recorded);
        let mut c = Client::new(&lab, "service", 153_600, 20);
        let pid = Uuid::from_u128(rand_u128());
        let mut started = false;
        let mut pairs = Vec::new();
        for s in &rec_shapes {
            let action = s.action.rsplit('/').next().unwrap();
            let xml = match action {
                "CreateResponse" => c.psrp.open(mid(), &InitRunspacePool::default()).unwrap(),
                "ReceiveResponse" => c.psrp.receive(mid(), started.then_some(pid)),
                "CommandResponse" => {
                    started = true;
                    let p =
                        pipeline(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
                    c.psrp.run(mid(), pid, &p).unwrap()
                }
                "DeleteResponse" => c.psrp.close(mid()),
                other => panic!("no request for {other}"),
            };
            c.pair(xml, &mut pairs).await;
        }
        let ours = shapes(&pairs);
        for (i, (o, r)) in ours.iter().zip(&rec_shapes).enumerate() {
            assert_eq!(o, r, "{want}: response {i} differs");
        }
        assert_eq!(ours.len(), rec_shapes.len());
        println!("{want}: {} responses match", ours.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_page_under_max_envelope_size() {
    let (lab, _dir) = start(2000).await;
    let max = 20_000usize;
    let mut c = Client::new(&lab, "service", max as u32, 20);
    let mut pairs = Vec::new();
    let x = c.psrp.open(mid(), &InitRunspacePool::default()).unwrap();
    c.pair(x, &mut pairs).await;
    // Two concurrent pipelines on one shell.
    let (p1, p2) = (mid(), mid());
    let all = pipeline(Command::new("Get-MobileDevice").arg("ResultSize", "Unlimited"));
    let one = pipeline(Command::new("Get-ExchangeServer"));
    let x = c.psrp.run(mid(), p1, &all).unwrap();
    c.pair(x, &mut pairs).await;
    let x = c.psrp.run(mid(), p2, &one).unwrap();
    c.pair(x, &mut pairs).await;
    let servers = decode_outputs(&receive_all(&mut c, p2, max).await);
    let fqdns: Vec<&str> = servers
        .iter()
        .filter(|(t, _)| *t == MessageType::PipelineOutput)
        .map(|(_, v)| v.as_ref().unwrap().get("Fqdn").unwrap().as_str().unwrap())
        .collect();
    assert_eq!(
        fqdns,
        [
            lab.info().servers[0].address.as_str(),
            lab.info().servers[1].address.as_str()
        ]
    );
    let pages = receive_all(&mut c, p1, max).await;
    assert!(pages.len() > 50, "{} pages", pages.len());
    for p in &pages[..pages.len() - 1] {
        let Body::ReceiveResponse { command_state, .. } = &p.body else {
            panic!()
        };
        assert!(
            !command_state.as_ref().unwrap().is_done(),
            "Done before the last page"
        );
    }
    let msgs = decode_outputs(&pages);
    let outputs = msgs
        .iter()
        .filter(|(t, _)| *t == MessageType::PipelineOutput)
        .count();
    assert_eq!(outputs, 2000);
    assert_eq!(msgs.last().unwrap().0, MessageType::PipelineState);
    c.post(c.psrp.terminate(mid(), p1)).await;
    let (status, _) = c.post(c.psrp.close(mid())).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_timeouts_and_shells_dying_with_their_cas() {
    let (lab, _dir) = start(10).await;
    let mut c = Client::new(&lab, "service", 153_600, 1);
    let mut pairs = Vec::new();
    let x = c.psrp.open(mid(), &InitRunspacePool::default()).unwrap();
    c.pair(x, &mut pairs).await;
    for _ in 0..2 {
        c.pair(c.psrp.receive(mid(), None), &mut pairs).await;
    }
    // Idle shell: the Windows TimedOut fault after OperationTimeout (1 s here).
    let t = std::time::Instant::now();
    let (status, resp) = c.post(c.psrp.receive(mid(), None)).await;
    assert_eq!(status, 500);
    let f = Envelope::parse(&resp).unwrap();
    assert!(f.fault().unwrap().is_timeout(), "{resp}");
    assert_eq!(f.fault().unwrap().wsman_code, Some(2_150_858_793));
    assert!(t.elapsed() >= std::time::Duration::from_millis(900));

    // A failing command: PIPELINE_STATE Failed carrying the error record.
    let pid = mid();
    let bad = pipeline(Command::new("Get-Mailbox"));
    let x = c.psrp.run(mid(), pid, &bad).unwrap();
    c.post(x).await;
    let msgs = decode_outputs(&receive_all(&mut c, pid, 153_600).await);
    let (t, v) = msgs.last().unwrap();
    assert_eq!(*t, MessageType::PipelineState);
    let v = v.as_ref().unwrap();
    assert_eq!(v.get("PipelineState").unwrap().as_i32(), Some(5));
    let err = v.get("ExceptionAsErrorRecord").unwrap();
    assert_eq!(
        err.get("FullyQualifiedErrorId").unwrap().as_str(),
        Some("CommandNotFoundException")
    );

    // Unknown command id, unknown action, wrong configuration.
    let (status, resp) = c.post(c.psrp.receive(mid(), Some(mid()))).await;
    assert_eq!(status, 500);
    let f = Envelope::parse(&resp).unwrap();
    assert_eq!(
        f.fault().unwrap().subcode.as_deref(),
        Some("InvalidSelectors")
    );
    let xml = c
        .psrp
        .close(mid())
        .replace(ns::action::DELETE, ns::action::ENUMERATE);
    let (_, resp) = c.post(xml).await;
    assert_eq!(
        Envelope::parse(&resp)
            .unwrap()
            .fault()
            .unwrap()
            .subcode
            .as_deref(),
        Some("ActionNotSupported")
    );
    let xml = c
        .psrp
        .receive(mid(), None)
        .replace(ns::RESOURCE_EXCHANGE, ns::RESOURCE_POWERSHELL);
    let (_, resp) = c.post(xml).await;
    let f = Envelope::parse(&resp).unwrap();
    let f = f.fault().unwrap();
    assert_eq!(f.subcode.as_deref(), Some("DestinationUnreachable"));
    assert!(f
        .message
        .as_deref()
        .unwrap()
        .contains("Cannot find the Microsoft.PowerShell session configuration"));

    // The CAS goes down and comes back: the shell is gone.
    let name = lab.info().servers[0].name.clone();
    lab.stop_server(&name).unwrap();
    lab.start_server(&name).await.unwrap();
    let mut c2 = Client::new(&lab, "service", 153_600, 1);
    c2.psrp.shell_id = c.psrp.shell_id;
    let (status, resp) = c2.post(c2.psrp.receive(mid(), None)).await;
    assert_eq!(status, 500);
    let f = Envelope::parse(&resp).unwrap();
    assert!(f
        .fault()
        .unwrap()
        .message
        .as_deref()
        .unwrap()
        .contains("shell was not found"));
}
