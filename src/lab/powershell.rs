//! The lab's WinRM / WS-Management server for `POST /PowerShell`: the Microsoft.Exchange
//! session configuration, speaking MS-PSRP 2.1–2.3 inside WinRS shells.
//!
//! Create opens a runspace pool (SESSION_CAPABILITY + INIT_RUNSPACEPOOL in creationXml), whose
//! shell-level Receives then deliver SESSION_CAPABILITY + APPLICATION_PRIVATE_DATA and, in the
//! next Receive, RUNSPACEPOOL_STATE Opened — the order Windows uses. Command starts a pipeline
//! (CREATE_PIPELINE, possibly continued by Send) and runs it through [`super::cmdlets`];
//! Receive pages its output so every ReceiveResponse fits the request's MaxEnvelopeSize, with
//! `CommandState/Done` only on the last page; Signal stops or forgets a pipeline; Delete closes
//! the shell. Shells belong to one CAS and die with it. Faults use the shapes Windows sends
//! (recorded ones where a recording exists).
//!
//! Authentication happened before this module is called; it must not look at credentials, and
//! it must not log message contents (they may carry user data).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use super::accounts::Account;
use super::cmdlets::{self, Context, Emitted, Execution, Lazy, Outcome, ServerDesc};
use super::org::Org;
use super::{CasState, Shared};
use crate::wire::clixml::{PsObject, Value};
use crate::wire::psrp::fragment::{Fragment, FRAGMENT_HEADER_LEN};
use crate::wire::psrp::message::{Message, MessageType};
use crate::wire::psrp::objects::{
    application_private_data, pipeline_state, primitive_dictionary, runspace_pool_state, to_client,
    CreatePipeline, ProtocolVersion, SessionCapability, StateInfo,
};
use crate::wire::psrp::Reassembler;
use crate::wire::wsman::{
    command_response, create_response, delete_response, fault_response, guid_upper, ns,
    receive_response, send_response, signal_response, Body, Envelope, ResponseContext, StreamOut,
    WsManFault,
};

/// Bytes a `<rsp:Stream Name="stdout" CommandId="…">` wrapper adds besides its base64.
const STREAM_OVERHEAD: usize = 100;
/// Room kept free in every envelope for the ActivityId header and rounding.
const ENVELOPE_SLACK: usize = 160;
/// The longest a Receive waits for output when the client asks for more.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// The shells of one CAS.
#[derive(Default)]
pub(crate) struct Shells {
    map: Mutex<HashMap<String, Arc<Shell>>>,
}

impl Shells {
    fn get(&self, id: &str) -> Option<Arc<Shell>> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(&id.trim().to_ascii_uppercase()).cloned())
    }

    fn insert(&self, shell: Arc<Shell>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(shell.id.clone(), shell);
        }
    }

    fn remove(&self, id: &str) -> Option<Arc<Shell>> {
        self.map
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&id.trim().to_ascii_uppercase()))
    }

    /// Close every shell (the CAS went down).
    pub(crate) fn clear(&self) {
        let shells: Vec<Arc<Shell>> = match self.map.lock() {
            Ok(mut m) => m.drain().map(|(_, s)| s).collect(),
            Err(_) => Vec::new(),
        };
        for s in shells {
            s.close();
        }
    }
}

struct Shell {
    id: String,
    rpid: Uuid,
    owner: String,
    account: Account,
    state: tokio::sync::Mutex<ShellState>,
    notify: tokio::sync::Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl Shell {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// One PSRP message being cut into fragments.
struct Outgoing {
    object_id: u64,
    data: Vec<u8>,
    offset: usize,
    next_fragment: u64,
}

/// Where a pipeline's messages come from: records, lazily rendered objects, trailing
/// records and the final state.
#[derive(Default)]
struct Source {
    head: VecDeque<Message>,
    lazy: Option<Lazy>,
    tail: VecDeque<Message>,
}

impl Source {
    fn is_empty(&self) -> bool {
        self.head.is_empty()
            && self.tail.is_empty()
            && self.lazy.as_ref().is_none_or(|l| l.remaining() == 0)
    }
}

struct Pipeline {
    pid: Uuid,
    incoming: Reassembler,
    /// `None` until CREATE_PIPELINE has fully arrived.
    source: Option<Source>,
    partial: Option<Outgoing>,
    done_sent: bool,
}

struct ShellState {
    next_object_id: u64,
    incoming: Reassembler,
    /// Shell-level messages, one batch per Receive (Windows sends the pool state after the
    /// capability and private data, in a second response).
    batches: VecDeque<VecDeque<Message>>,
    partial: Option<Outgoing>,
    pipelines: HashMap<String, Pipeline>,
}

/// A fresh random GUID (the OS RNG through rustls' provider; a counter-mixed fallback).
fn new_uuid() -> Uuid {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut buf = [0u8; 16];
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    if provider.secure_random.fill(&mut buf).is_err() {
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        let mut rng = super::org::SplitMix::new(super::now() as u64 ^ n.rotate_left(32));
        buf[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        buf[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    uuid::Builder::from_random_bytes(buf).into_uuid()
}

/// What a request gets back: HTTP status and SOAP text.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

fn ok(body: String) -> Reply {
    Reply { status: 200, body }
}

/// Add the `p:ActivityId` header Windows puts after `MessageID`.
fn with_activity_id(mut xml: String) -> String {
    if let Some(at) = xml.find("</a:MessageID>") {
        let insert = format!("<p:ActivityId>{}</p:ActivityId>", guid_upper(new_uuid()));
        xml.insert_str(at + "</a:MessageID>".len(), &insert);
    }
    xml
}

struct Req<'a> {
    rc: ResponseContext,
    machine: String,
    env: &'a Envelope,
}

impl Req<'_> {
    fn fault(&self, f: WsManFault) -> Reply {
        Reply {
            status: 500,
            body: with_activity_id(fault_response(&self.rc, &f)),
        }
    }

    fn invalid_selectors(&self, message: String) -> Reply {
        self.fault(WsManFault {
            code: "Sender".into(),
            subcode: Some("InvalidSelectors".into()),
            reason: Some("The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ".into()),
            detail: Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors".into()),
            wsman_code: Some(2_150_858_843),
            machine: Some(self.machine.clone()),
            message: Some(message),
            provider: None,
        })
    }

    fn shell_not_found(&self, id: &str) -> Reply {
        self.invalid_selectors(format!(
            "The request for the Windows Remote Shell with ShellId {id} failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
        ))
    }

    fn command_not_found(&self) -> Reply {
        self.invalid_selectors("The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. Either the command has completed execution or the client specified an invalid command identifier. ".into())
    }

    fn timed_out(&self) -> Reply {
        let text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ";
        self.fault(WsManFault {
            code: "Receiver".into(),
            subcode: Some("TimedOut".into()),
            reason: Some(text.into()),
            detail: None,
            wsman_code: Some(2_150_858_793),
            machine: Some(self.machine.clone()),
            message: Some(text.into()),
            provider: None,
        })
    }

    fn invalid_parameter(&self, message: String) -> Reply {
        self.fault(WsManFault {
            code: "Sender".into(),
            subcode: Some("InvalidParameter".into()),
            reason: Some("The parameter is incorrect. ".into()),
            detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue".into(),
            ),
            wsman_code: Some(87),
            machine: Some(self.machine.clone()),
            message: Some(message),
            provider: None,
        })
    }

    fn encoding_limit(&self) -> Reply {
        let text = "The WS-Management service cannot process the request because the response would exceed the maximum envelope size in the request (MaxEnvelopeSize). ";
        self.fault(WsManFault {
            code: "Sender".into(),
            subcode: Some("EncodingLimit".into()),
            reason: Some(text.into()),
            detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/MaxEnvelopeSize".into(),
            ),
            wsman_code: None,
            machine: Some(self.machine.clone()),
            message: Some(text.into()),
            provider: None,
        })
    }

    fn max_envelope(&self) -> usize {
        self.env
            .header
            .max_envelope_size
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(153_600)
    }

    fn timeout(&self) -> Duration {
        let secs = self
            .env
            .header
            .operation_timeout
            .as_deref()
            .and_then(|t| t.trim().strip_prefix("PT"))
            .and_then(|t| t.strip_suffix('S'))
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(60.0);
        Duration::from_secs_f64(secs).min(MAX_WAIT)
    }
}

/// Handle one WS-Man request from `account` on `cas`.
pub(crate) async fn handle(
    shared: &Arc<Shared>,
    cas: &Arc<CasState>,
    account: &Account,
    body: &[u8],
) -> Reply {
    let Some(env) = std::str::from_utf8(body)
        .ok()
        .and_then(|t| Envelope::parse(t).ok())
    else {
        return Reply {
            status: 400,
            body: "<html><body>Bad Request: the request is not a SOAP envelope.</body></html>"
                .into(),
        };
    };
    let req = Req {
        rc: ResponseContext {
            message_id: new_uuid(),
            relates_to: env.header.message_id.clone().unwrap_or_default(),
        },
        machine: cas.addr.ip().to_string(),
        env: &env,
    };
    let action = env.header.action.clone().unwrap_or_default();
    let resource = env.header.resource_uri.clone().unwrap_or_default();
    if !resource.eq_ignore_ascii_case(ns::RESOURCE_EXCHANGE) {
        let name = resource
            .strip_prefix(ns::RESOURCE_POWERSHELL_PREFIX)
            .unwrap_or(&resource);
        return req.fault(WsManFault {
            code: "Sender".into(),
            subcode: Some("DestinationUnreachable".into()),
            reason: Some("The WS-Management service cannot process the request. The service cannot find the resource identified by the resource URI and selectors. ".into()),
            detail: Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI".into()),
            wsman_code: Some(2_150_858_752),
            machine: Some(req.machine.clone()),
            message: Some(format!(
                "The WS-Management service cannot process the request. Cannot find the {name} session configuration in the WSMan: drive on the {} computer. ",
                cas.name
            )),
            provider: None,
        });
    }
    match action.as_str() {
        ns::action::CREATE => create(shared, cas, account, &req).await,
        ns::action::COMMAND
        | ns::action::SEND
        | ns::action::RECEIVE
        | ns::action::SIGNAL
        | ns::action::DELETE => {
            let id = env.header.shell_id().unwrap_or_default().to_string();
            let shell = match cas.shells.get(&id) {
                Some(s) if s.owner == account.user && !s.is_closed() => s,
                _ => return req.shell_not_found(&id),
            };
            match action.as_str() {
                ns::action::COMMAND => command(shared, cas, &shell, &req).await,
                ns::action::SEND => send(shared, cas, &shell, &req).await,
                ns::action::RECEIVE => receive(shared, &shell, &req).await,
                ns::action::SIGNAL => signal(&shell, &req).await,
                _ => {
                    if let Some(s) = cas.shells.remove(&id) {
                        s.close();
                    }
                    ok(with_activity_id(delete_response(&req.rc)))
                }
            }
        }
        _ => req.fault(WsManFault {
            code: "Sender".into(),
            subcode: Some("ActionNotSupported".into()),
            reason: Some("The action is not supported by the service.".into()),
            detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/ActionMismatch".into(),
            ),
            wsman_code: None,
            machine: Some(req.machine.clone()),
            message: Some(format!(
                "The WS-Management service cannot process the request because the action {action} is not supported by the Microsoft.Exchange session configuration. "
            )),
            provider: None,
        }),
    }
}

fn server_capability() -> Value {
    SessionCapability::new(ProtocolVersion::V2_3).to_value()
}

fn private_data() -> Value {
    let table = primitive_dictionary(&[
        ("PSVersion".into(), Value::Version("5.1.17763.1".into())),
        ("PSEdition".into(), Value::string("Desktop")),
        ("WSManStackVersion".into(), Value::Version("3.0".into())),
        (
            "PSRemotingProtocolVersion".into(),
            Value::Version("2.3".into()),
        ),
        (
            "SerializationVersion".into(),
            Value::Version("1.1.0.1".into()),
        ),
        (
            "CLRVersion".into(),
            Value::Version("4.0.30319.42000".into()),
        ),
        ("BuildVersion".into(), Value::Version("10.0.17763.1".into())),
    ]);
    application_private_data(&[("PSVersionTable".into(), table)])
}

async fn create(
    _shared: &Arc<Shared>,
    cas: &Arc<CasState>,
    account: &Account,
    req: &Req<'_>,
) -> Reply {
    let Body::CreateShell(create) = &req.env.body else {
        return req.invalid_parameter("The Create request does not carry a Shell.".into());
    };
    let version = req.env.header.option("protocolversion").unwrap_or("2.3");
    if ProtocolVersion::parse(version).is_none() {
        return req.invalid_parameter(format!(
            "The client's PSRP protocol version {version} is not supported; this server speaks 2.1 to 2.3."
        ));
    }
    let Some(creation) = &create.creation_xml else {
        return req.invalid_parameter("The Create request has no creationXml.".into());
    };
    let mut incoming = Reassembler::new();
    let messages: Vec<Message> = match incoming.push_payload(creation) {
        Ok(ms) => ms.iter().filter_map(|m| Message::parse(m).ok()).collect(),
        Err(e) => return req.invalid_parameter(format!("creationXml: {e}")),
    };
    let cap = messages
        .iter()
        .find(|m| m.message_type.known() == Some(MessageType::SessionCapability));
    let init = messages
        .iter()
        .any(|m| m.message_type.known() == Some(MessageType::InitRunspacePool));
    let Some(cap) = cap.filter(|_| init) else {
        return req.invalid_parameter(
            "creationXml must carry SESSION_CAPABILITY and INIT_RUNSPACEPOOL.".into(),
        );
    };
    let client_version = cap
        .value()
        .ok()
        .flatten()
        .and_then(|v| SessionCapability::from_value(&v).ok())
        .and_then(|c| c.protocol());
    if client_version.is_none() {
        return req
            .invalid_parameter("SESSION_CAPABILITY has no supported protocolversion.".into());
    }
    let shell_uuid = create
        .shell_id
        .as_deref()
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .unwrap_or(cap.rpid);
    let shell_uuid = if shell_uuid.is_nil() {
        new_uuid()
    } else {
        shell_uuid
    };
    let rpid = if cap.rpid.is_nil() {
        shell_uuid
    } else {
        cap.rpid
    };
    let id = guid_upper(shell_uuid);
    let first: VecDeque<Message> = [
        to_client(
            MessageType::SessionCapability,
            Uuid::nil(),
            Uuid::nil(),
            &server_capability(),
        ),
        to_client(
            MessageType::ApplicationPrivateData,
            rpid,
            Uuid::nil(),
            &private_data(),
        ),
    ]
    .into();
    let opened = to_client(
        MessageType::RunspacePoolState,
        rpid,
        Uuid::nil(),
        &StateInfo {
            state: runspace_pool_state::OPENED,
            error: None,
        }
        .runspace_pool_value(),
    );
    let shell = Arc::new(Shell {
        id: id.clone(),
        rpid,
        owner: account.user.clone(),
        account: account.clone(),
        state: tokio::sync::Mutex::new(ShellState {
            next_object_id: 1,
            incoming,
            batches: [first, VecDeque::from([opened])].into(),
            partial: None,
            pipelines: HashMap::new(),
        }),
        notify: tokio::sync::Notify::new(),
        closed: std::sync::atomic::AtomicBool::new(false),
    });
    cas.shells.insert(shell);
    let address = req
        .env
        .header
        .to
        .clone()
        .unwrap_or_else(|| format!("{}/PowerShell", cas.url()));
    ok(with_activity_id(create_response(
        &req.rc,
        &address,
        ns::RESOURCE_EXCHANGE,
        &id,
    )))
}

fn warning_record(text: &str) -> Value {
    Value::object(
        PsObject::new()
            .with_type_names([
                "System.Management.Automation.WarningRecord",
                "System.Management.Automation.InformationalRecord",
                "System.Object",
            ])
            .with_to_string(text)
            .with_extended("InformationalRecord_Message", Value::string(text))
            .with_extended(
                "InformationalRecord_SerializeInvocationInfo",
                Value::Bool(false),
            ),
    )
}

fn record_message(rpid: Uuid, pid: Uuid, e: &Emitted) -> Message {
    match e {
        Emitted::Output(v) => to_client(MessageType::PipelineOutput, rpid, pid, v),
        Emitted::Warning(w) => to_client(MessageType::WarningRecord, rpid, pid, &warning_record(w)),
        Emitted::Error(v) => to_client(MessageType::ErrorRecord, rpid, pid, v),
    }
}

fn state_message(rpid: Uuid, pid: Uuid, outcome: &Outcome) -> Message {
    let info = match outcome {
        Outcome::Completed => StateInfo {
            state: pipeline_state::COMPLETED,
            error: None,
        },
        Outcome::Failed(e) => StateInfo {
            state: pipeline_state::FAILED,
            error: Some(e.clone()),
        },
    };
    to_client(
        MessageType::PipelineState,
        rpid,
        pid,
        &info.pipeline_value(),
    )
}

fn source_of(rpid: Uuid, pid: Uuid, e: Execution) -> Source {
    let mut tail: VecDeque<Message> = e
        .trailing
        .iter()
        .map(|r| record_message(rpid, pid, r))
        .collect();
    tail.push_back(state_message(rpid, pid, &e.outcome));
    Source {
        head: e
            .records
            .iter()
            .map(|r| record_message(rpid, pid, r))
            .collect(),
        lazy: e.lazy,
        tail,
    }
}

fn servers(shared: &Shared) -> Vec<ServerDesc> {
    shared
        .servers
        .iter()
        .map(|s| ServerDesc {
            name: s.name.clone(),
            address: s.addr.to_string(),
        })
        .collect()
}

/// Feed payload bytes to a pipeline; run it once CREATE_PIPELINE is complete.
fn feed_pipeline(
    shared: &Shared,
    cas: &CasState,
    shell: &Shell,
    p: &mut Pipeline,
    payload: &[u8],
) -> Result<(), String> {
    let done = p
        .incoming
        .push_payload(payload)
        .map_err(|e| e.to_string())?;
    for raw in done {
        let m = Message::parse(&raw).map_err(|e| e.to_string())?;
        if m.message_type.known() != Some(MessageType::CreatePipeline) || p.source.is_some() {
            // PIPELINE_INPUT / END_OF_PIPELINE_INPUT: the lab's cmdlets take no input.
            continue;
        }
        let value = m
            .value()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "CREATE_PIPELINE is empty".to_string())?;
        let create = CreatePipeline::from_value(&value).map_err(|e| e.to_string())?;
        let list = servers(shared);
        let ctx = Context {
            account: &shell.account,
            servers: &list,
            server: &cas.name,
            now: super::now(),
        };
        let exec = cmdlets::execute(&shared.org, &ctx, &create.commands);
        p.source = Some(source_of(shell.rpid, p.pid, exec));
    }
    Ok(())
}

async fn command(
    shared: &Arc<Shared>,
    cas: &Arc<CasState>,
    shell: &Arc<Shell>,
    req: &Req<'_>,
) -> Reply {
    let Body::Command {
        command_id,
        arguments,
        ..
    } = &req.env.body
    else {
        return req.invalid_parameter("The Command request has no CommandLine.".into());
    };
    let pid = command_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c.trim()).ok())
        .unwrap_or_else(new_uuid);
    let cid = guid_upper(pid);
    let mut payload = Vec::new();
    for a in arguments {
        match base64_decode(a) {
            Some(b) => payload.extend(b),
            None => return req.invalid_parameter("Arguments is not valid base64.".into()),
        }
    }
    let mut p = Pipeline {
        pid,
        incoming: Reassembler::new(),
        source: None,
        partial: None,
        done_sent: false,
    };
    if let Err(e) = feed_pipeline(shared, cas, shell, &mut p, &payload) {
        return req.invalid_parameter(format!("CREATE_PIPELINE: {e}"));
    }
    shell.state.lock().await.pipelines.insert(cid.clone(), p);
    shell.notify.notify_waiters();
    ok(with_activity_id(command_response(&req.rc, &cid)))
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// A reply to a shell-level message (SET_MAX/MIN_RUNSPACES, GET_AVAILABLE_RUNSPACES).
fn shell_reply(rpid: Uuid, m: &Message) -> Option<Message> {
    let ci = m
        .value()
        .ok()
        .flatten()
        .and_then(|v| v.get("ci").and_then(Value::as_i64))
        .unwrap_or(0);
    let answer = match m.message_type.known()? {
        MessageType::SetMaxRunspaces | MessageType::SetMinRunspaces => Value::Bool(true),
        MessageType::GetAvailableRunspaces => Value::Int64(1),
        _ => return None,
    };
    let v = Value::object(
        PsObject::new()
            .with_extended("SetMinMaxRunspacesResponse", answer)
            .with_extended("ci", Value::Int64(ci)),
    );
    Some(to_client(
        MessageType::RunspaceAvailability,
        rpid,
        Uuid::nil(),
        &v,
    ))
}

async fn send(
    shared: &Arc<Shared>,
    cas: &Arc<CasState>,
    shell: &Arc<Shell>,
    req: &Req<'_>,
) -> Reply {
    let Body::Send(streams) = &req.env.body else {
        return req.invalid_parameter("The Send request has no streams.".into());
    };
    let mut st = shell.state.lock().await;
    for s in streams {
        match &s.command_id {
            Some(cid) => {
                let key = cid.trim().to_ascii_uppercase();
                let Some(p) = st.pipelines.get_mut(&key) else {
                    return req.command_not_found();
                };
                if let Err(e) = feed_pipeline(shared, cas, shell, p, &s.data) {
                    return req.invalid_parameter(format!("Send: {e}"));
                }
            }
            None => {
                let done = match st.incoming.push_payload(&s.data) {
                    Ok(d) => d,
                    Err(e) => return req.invalid_parameter(format!("Send: {e}")),
                };
                let replies: VecDeque<Message> = done
                    .iter()
                    .filter_map(|raw| Message::parse(raw).ok())
                    .filter_map(|m| shell_reply(shell.rpid, &m))
                    .collect();
                if !replies.is_empty() {
                    st.batches.push_back(replies);
                }
            }
        }
    }
    drop(st);
    shell.notify.notify_waiters();
    ok(with_activity_id(send_response(&req.rc)))
}

/// Fill one page: fragments cut to fit `budget` bytes of stream elements. `next` yields the
/// next message to send. Returns the fragments' wire bytes.
fn fill_page(
    budget: usize,
    next_object_id: &mut u64,
    partial: &mut Option<Outgoing>,
    next: &mut dyn FnMut() -> Option<Message>,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut left = budget;
    loop {
        // Largest fragment (header included) whose base64 fits in what is left.
        let room = left.saturating_sub(STREAM_OVERHEAD) / 4 * 3;
        if room <= FRAGMENT_HEADER_LEN {
            break;
        }
        if partial.is_none() {
            let Some(m) = next() else { break };
            *partial = Some(Outgoing {
                object_id: *next_object_id,
                data: m.encode(),
                offset: 0,
                next_fragment: 0,
            });
            *next_object_id = next_object_id.saturating_add(1);
        }
        let Some(o) = partial.as_mut() else { break };
        let rest = o.data.len().saturating_sub(o.offset);
        let take = rest.min(room - FRAGMENT_HEADER_LEN);
        let end = o.offset + take == o.data.len();
        let frag = Fragment {
            object_id: o.object_id,
            fragment_id: o.next_fragment,
            start: o.offset == 0,
            end,
            blob: o
                .data
                .get(o.offset..o.offset + take)
                .unwrap_or_default()
                .to_vec(),
        };
        let bytes = frag.encode();
        left = left.saturating_sub(STREAM_OVERHEAD + bytes.len().div_ceil(3) * 4);
        out.push(bytes);
        o.offset += take;
        o.next_fragment += 1;
        if end {
            *partial = None;
        }
    }
    out
}

/// Bytes left for streams in a ReceiveResponse of `max_envelope` bytes.
fn stream_budget(rc: &ResponseContext, cid: Option<&str>, max_envelope: usize) -> Option<usize> {
    let state = cid.map(|c| (c, ns::command_state::DONE, Some(0)));
    let base = receive_response(rc, &[], state).len() + ENVELOPE_SLACK;
    max_envelope
        .checked_sub(base)
        .filter(|b| *b > STREAM_OVERHEAD + 64)
}

fn org_read(shared: &Shared) -> std::sync::RwLockReadGuard<'_, Org> {
    match shared.org.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

async fn receive(shared: &Arc<Shared>, shell: &Arc<Shell>, req: &Req<'_>) -> Reply {
    let Body::Receive { command_id, .. } = &req.env.body else {
        return req.invalid_parameter("The Receive request has no DesiredStream.".into());
    };
    let cid = command_id.as_deref().map(|c| c.trim().to_ascii_uppercase());
    let Some(budget) = stream_budget(&req.rc, cid.as_deref(), req.max_envelope()) else {
        return req.encoding_limit();
    };
    let deadline = tokio::time::Instant::now() + req.timeout();
    loop {
        let notified = shell.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shell.is_closed() {
            return req.shell_not_found(&shell.id);
        }
        {
            let mut guard = shell.state.lock().await;
            let st = &mut *guard;
            match &cid {
                None => {
                    let frags = {
                        let batches = &mut st.batches;
                        let mut next = || -> Option<Message> {
                            let front = batches.front_mut()?;
                            if let Some(m) = front.pop_front() {
                                return Some(m);
                            }
                            // Deliver one batch per response.
                            batches.pop_front();
                            None
                        };
                        fill_page(budget, &mut st.next_object_id, &mut st.partial, &mut next)
                    };
                    if st.batches.front().is_some_and(VecDeque::is_empty) && st.partial.is_none() {
                        st.batches.pop_front();
                    }
                    if !frags.is_empty() {
                        let streams: Vec<StreamOut<'_>> = frags
                            .iter()
                            .map(|f| StreamOut {
                                name: "stdout",
                                command_id: None,
                                end: false,
                                data: f,
                            })
                            .collect();
                        return ok(with_activity_id(receive_response(&req.rc, &streams, None)));
                    }
                }
                Some(cid) => {
                    let Some(p) = st.pipelines.get_mut(cid) else {
                        return req.command_not_found();
                    };
                    if let Some(src) = p.source.as_mut() {
                        let frags = {
                            let org = org_read(shared);
                            let (rpid, pid) = (shell.rpid, p.pid);
                            let mut next = || -> Option<Message> {
                                if let Some(m) = src.head.pop_front() {
                                    return Some(m);
                                }
                                if let Some(l) = src.lazy.as_mut() {
                                    if let Some(v) = l.next_value(&org) {
                                        return Some(to_client(
                                            MessageType::PipelineOutput,
                                            rpid,
                                            pid,
                                            &v,
                                        ));
                                    }
                                }
                                src.tail.pop_front()
                            };
                            fill_page(budget, &mut st.next_object_id, &mut p.partial, &mut next)
                        };
                        let done = src.is_empty() && p.partial.is_none();
                        if !frags.is_empty() || done {
                            let streams: Vec<StreamOut<'_>> = frags
                                .iter()
                                .map(|f| StreamOut {
                                    name: "stdout",
                                    command_id: Some(cid.as_str()),
                                    end: false,
                                    data: f,
                                })
                                .collect();
                            let state = if done {
                                p.done_sent = true;
                                (cid.as_str(), ns::command_state::DONE, Some(0))
                            } else {
                                (cid.as_str(), ns::command_state::RUNNING, None)
                            };
                            return ok(with_activity_id(receive_response(
                                &req.rc,
                                &streams,
                                Some(state),
                            )));
                        }
                    }
                }
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return req.timed_out();
        }
    }
}

fn stopped_error() -> Value {
    crate::wire::clixml::ErrorRecordBuilder::new(
        "The pipeline has been stopped.",
        "PipelineStopped",
    )
    .exception_types([
        "System.Management.Automation.PipelineStoppedException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
        "System.Exception",
        "System.Object",
    ])
    .category(14, "OperationStopped")
    .build()
}

async fn signal(shell: &Arc<Shell>, req: &Req<'_>) -> Reply {
    let Body::Signal { command_id, code } = &req.env.body else {
        return req.invalid_parameter("The Signal request has no Signal.".into());
    };
    let cid = command_id
        .as_deref()
        .map(|c| c.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let code = code.as_deref().unwrap_or_default();
    let mut st = shell.state.lock().await;
    if !st.pipelines.contains_key(&cid) {
        return req.command_not_found();
    }
    if code == ns::signal::PS_CTRL_C || code == ns::signal::CTRL_C {
        if let Some(p) = st.pipelines.get_mut(&cid) {
            if !p.done_sent {
                let stop = to_client(
                    MessageType::PipelineState,
                    shell.rpid,
                    p.pid,
                    &StateInfo {
                        state: pipeline_state::STOPPED,
                        error: Some(stopped_error()),
                    }
                    .pipeline_value(),
                );
                p.source = Some(Source {
                    tail: VecDeque::from([stop]),
                    ..Source::default()
                });
                p.partial = None;
            }
        }
    } else {
        st.pipelines.remove(&cid);
    }
    drop(st);
    shell.notify.notify_waiters();
    ok(with_activity_id(signal_response(&req.rc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::psrp::fragment::parse_fragments;

    fn rc() -> ResponseContext {
        ResponseContext {
            message_id: Uuid::from_u128(1),
            relates_to: format!("uuid:{}", guid_upper(Uuid::from_u128(2))),
        }
    }

    #[test]
    fn pages_fit_the_envelope_and_reassemble() {
        let rpid = Uuid::from_u128(7);
        let pid = Uuid::from_u128(8);
        let cid = guid_upper(pid);
        let big = "x".repeat(20_000);
        let msgs: Vec<Message> = (0..40)
            .map(|i| {
                to_client(
                    MessageType::PipelineOutput,
                    rpid,
                    pid,
                    &Value::string(if i % 7 == 0 {
                        big.clone()
                    } else {
                        format!("item {i}")
                    }),
                )
            })
            .collect();
        for max in [8_192usize, 20_000, 153_600] {
            let mut queue: VecDeque<Message> = msgs.iter().cloned().collect();
            let budget = stream_budget(&rc(), Some(&cid), max).unwrap();
            let mut partial = None;
            let mut oid = 1;
            let mut re = Reassembler::new();
            let mut got = Vec::new();
            let mut pages = 0;
            loop {
                let frags = fill_page(budget, &mut oid, &mut partial, &mut || queue.pop_front());
                if frags.is_empty() {
                    break;
                }
                pages += 1;
                let streams: Vec<StreamOut<'_>> = frags
                    .iter()
                    .map(|f| StreamOut {
                        name: "stdout",
                        command_id: Some(&cid),
                        end: false,
                        data: f,
                    })
                    .collect();
                let done = queue.is_empty() && partial.is_none();
                let state = if done {
                    (cid.as_str(), ns::command_state::DONE, Some(0))
                } else {
                    (cid.as_str(), ns::command_state::RUNNING, None)
                };
                let xml = with_activity_id(receive_response(&rc(), &streams, Some(state)));
                assert!(xml.len() <= max, "{} > {max}", xml.len());
                let env = Envelope::parse(&xml).unwrap();
                let Body::ReceiveResponse { streams, .. } = env.body else {
                    panic!()
                };
                for s in streams {
                    for f in parse_fragments(&s.data).unwrap() {
                        if let Some(m) = re.push(f).unwrap() {
                            got.push(Message::parse(&m).unwrap());
                        }
                    }
                }
            }
            assert_eq!(got, msgs, "max {max}");
            assert!(pages > 1);
        }
        assert!(stream_budget(&rc(), Some(&cid), 1_000).is_none());
    }

    #[test]
    fn operation_timeout_is_read_from_the_header() {
        let env = Envelope::parse(
            &crate::wire::wsman::RequestContext::exchange("https://x/PowerShell").receive(
                Uuid::nil(),
                Uuid::nil(),
                None,
                "stdout",
            ),
        )
        .unwrap();
        let req = Req {
            rc: rc(),
            machine: "127.0.0.1".into(),
            env: &env,
        };
        assert_eq!(req.timeout(), Duration::from_secs(20));
        assert_eq!(req.max_envelope(), 153_600);
        let f = Envelope::parse(&req.timed_out().body).unwrap();
        assert!(f.fault().unwrap().is_timeout());
        let f = Envelope::parse(&req.shell_not_found("X").body).unwrap();
        assert_eq!(f.fault().unwrap().wsman_code, Some(2_150_858_843));
    }
}
