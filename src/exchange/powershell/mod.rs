//! Exchange remote PowerShell client: a runspace pool over WinRM, and pipelines run in it.
//!
//! [`RunspacePool::open`] creates the shell (SESSION_CAPABILITY + INIT_RUNSPACEPOOL in the
//! creationXml) and waits for RUNSPACEPOOL_STATE Opened; [`RunspacePool::invoke`] runs one
//! pipeline of commands (never a script: Exchange's runspace is in no-language mode) and
//! streams its output objects, collecting errors and warnings, receiving page after page until
//! the pipeline ends. Several pipelines may run at once, each on its own HTTP connection, up
//! to the pool's size. Faults, failed pipelines and broken runspaces become [`PsError`]s with
//! the server's own words. It must not interpret Exchange objects: [`cmdlets`] does, as the
//! remote PowerShell implementation of [`crate::exchange::ops::Exchange`].

pub mod cmdlets;
pub mod permissions;

pub use cmdlets::RemotePowerShell;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Mutex, Semaphore};
use uuid::Uuid;

use super::client::{Session, SessionError};
use crate::wire::clixml::{ErrorRecord, Value};
use crate::wire::psrp::message::{Message, MessageType};
use crate::wire::psrp::objects::{
    self, Command, CreatePipeline, InitRunspacePool, ProtocolVersion, StateInfo,
};
use crate::wire::psrp::Reassembler;
use crate::wire::session::ClientSession;
use crate::wire::wsman::{ns, Body, Envelope, RequestContext, WsManFault};

/// An error record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsErrorRecord {
    pub message: String,
    pub fully_qualified_error_id: Option<String>,
    pub category: Option<String>,
}

impl PsErrorRecord {
    fn from_value(v: &Value) -> PsErrorRecord {
        match ErrorRecord::from_value(v) {
            Some(r) => PsErrorRecord {
                message: r.message().unwrap_or_else(|| "(no message)".into()),
                fully_qualified_error_id: r.fully_qualified_error_id(),
                category: r.category_info().message,
            },
            None => PsErrorRecord {
                message: v.as_str().unwrap_or("(no message)").to_string(),
                fully_qualified_error_id: None,
                category: None,
            },
        }
    }
}

impl std::fmt::Display for PsErrorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.fully_qualified_error_id {
            write!(f, " [{id}]")?;
        }
        Ok(())
    }
}

/// What can go wrong with remote PowerShell.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PsError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("{url}: {fault}")]
    Fault { url: String, fault: Box<WsManFault> },
    #[error("{url}: unexpected answer from the server: {detail}")]
    Protocol { url: String, detail: String },
    #[error("the runspace pool did not open: {detail}")]
    NotOpened { detail: String },
    #[error("{command} failed: {error}")]
    PipelineFailed {
        command: String,
        error: PsErrorRecord,
    },
    #[error("the runspace pool is broken; it must be opened again")]
    Broken,
}

impl PsError {
    /// The server or the domain refused the account: retrying counts toward its lockout.
    pub fn is_credential_error(&self) -> bool {
        matches!(self, PsError::Session(e) if e.is_credential_error())
    }

    /// The WS-Man fault, when this is one.
    pub fn fault(&self) -> Option<&WsManFault> {
        match self {
            PsError::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }
}

/// What a pipeline produced besides its output objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineReport {
    /// Output objects received.
    pub objects: usize,
    /// Non-terminating errors (ERROR_RECORD).
    pub errors: Vec<PsErrorRecord>,
    /// Warnings (WARNING_RECORD), e.g. Exchange's "more results available".
    pub warnings: Vec<String>,
    /// CLIXML elements the decoder did not know and skipped (each one logged).
    pub skipped_elements: usize,
}

/// Where and how to open the pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// `https://cas/PowerShell/`
    pub url: String,
    /// e.g. [`ns::RESOURCE_EXCHANGE`]
    pub resource_uri: String,
    /// Pipelines that may run at once (MaxRunspaces), each on its own connection.
    pub max_runspaces: usize,
    pub max_envelope_size: u32,
    /// Server-side wait for output per Receive, in seconds.
    pub operation_timeout_secs: u32,
}

impl PoolOptions {
    pub fn exchange(url: &str) -> Self {
        PoolOptions {
            url: url.to_string(),
            resource_uri: ns::RESOURCE_EXCHANGE.to_string(),
            max_runspaces: 1,
            max_envelope_size: 512_000,
            operation_timeout_secs: 60,
        }
    }
}

/// Makes new authenticated connections for extra parallel pipelines.
pub type SessionFactory = Arc<dyn Fn() -> Session + Send + Sync>;

struct Inner {
    url: String,
    path: String,
    client: std::sync::Mutex<ClientSession>,
    idle: Mutex<Vec<Session>>,
    factory: SessionFactory,
    permits: Semaphore,
    broken: std::sync::atomic::AtomicBool,
}

/// An open runspace pool. Cheap to clone; pipelines may run concurrently.
#[derive(Clone)]
pub struct RunspacePool {
    inner: Arc<Inner>,
}

fn new_id() -> Uuid {
    Uuid::new_v4()
}

/// Parse a response envelope, turning SOAP faults into errors.
fn parse_envelope(url: &str, body: &[u8]) -> Result<Envelope, PsError> {
    let text = std::str::from_utf8(body).map_err(|_| PsError::Protocol {
        url: url.to_string(),
        detail: "the response is not UTF-8".into(),
    })?;
    let env = Envelope::parse(text).map_err(|e| PsError::Protocol {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    env.into_result().map_err(|f| PsError::Fault {
        url: url.to_string(),
        fault: f.0,
    })
}

impl RunspacePool {
    /// Create the shell and open the pool on `session`'s server.
    pub async fn open(
        mut session: Session,
        factory: SessionFactory,
        opts: &PoolOptions,
    ) -> Result<RunspacePool, PsError> {
        let mut ctx = RequestContext::exchange(opts.url.clone());
        ctx.resource_uri = opts.resource_uri.clone();
        ctx.max_envelope_size = opts.max_envelope_size;
        ctx.operation_timeout_secs = opts.operation_timeout_secs;
        let path = super::http::Endpoint::parse(&opts.url)
            .map(|e| e.path)
            .unwrap_or_else(|_| "/PowerShell/".into());
        let max = opts.max_runspaces.max(1);
        let mut cs = ClientSession::new(ctx, new_id(), ProtocolVersion::V2_3);
        let init = InitRunspacePool {
            min_runspaces: 1,
            max_runspaces: i32::try_from(max).unwrap_or(1),
            ..InitRunspacePool::default()
        };
        let create = cs.open(new_id(), &init).map_err(|e| PsError::Protocol {
            url: opts.url.clone(),
            detail: e.to_string(),
        })?;
        let resp = session.request_winrm(&path, Bytes::from(create)).await?;
        check_status(&opts.url, &resp)?;
        let env = parse_envelope(&opts.url, &resp.body)?;
        if !matches!(env.body, Body::Created { .. }) {
            return Err(PsError::Protocol {
                url: opts.url.clone(),
                detail: "the answer to Create is not a CreateResponse".into(),
            });
        }
        let pool = RunspacePool {
            inner: Arc::new(Inner {
                url: opts.url.clone(),
                path,
                client: std::sync::Mutex::new(cs),
                idle: Mutex::new(Vec::new()),
                factory,
                permits: Semaphore::new(max),
                broken: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        // Receive on the shell until the pool reports Opened.
        let mut reasm = Reassembler::new();
        for _ in 0..20 {
            let msgs = pool
                .receive_messages(&mut session, None, &mut reasm)
                .await?
                .0;
            for m in msgs {
                if m.message_type.known() == Some(MessageType::RunspacePoolState) {
                    let v = m.value().ok().flatten().unwrap_or(Value::Nil);
                    let st = StateInfo::from_runspace_pool(&v).map_err(|e| PsError::NotOpened {
                        detail: e.to_string(),
                    })?;
                    match st.state {
                        objects::runspace_pool_state::OPENED => {
                            pool.inner.idle.lock().await.push(session);
                            return Ok(pool);
                        }
                        objects::runspace_pool_state::BROKEN
                        | objects::runspace_pool_state::CLOSED => {
                            let detail = st
                                .error
                                .as_ref()
                                .map(|e| PsErrorRecord::from_value(e).to_string())
                                .unwrap_or_else(|| format!("state {}", st.state));
                            return Err(PsError::NotOpened { detail });
                        }
                        _ => {}
                    }
                }
            }
        }
        Err(PsError::NotOpened {
            detail: "no RUNSPACEPOOL_STATE Opened after 20 receives".into(),
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// POST one envelope on `session`.
    async fn post(&self, session: &mut Session, envelope: String) -> Result<Envelope, PsError> {
        let resp = session
            .request_winrm(&self.inner.path, Bytes::from(envelope))
            .await?;
        check_status(&self.inner.url, &resp)?;
        parse_envelope(&self.inner.url, &resp.body)
    }

    /// One Receive: the PSRP messages it carried and whether the command is done.
    async fn receive_messages(
        &self,
        session: &mut Session,
        pipeline: Option<Uuid>,
        reasm: &mut Reassembler,
    ) -> Result<(Vec<Message>, bool), PsError> {
        let req = self.lock_client().receive(new_id(), pipeline);
        let env = match self.post(session, req).await {
            Ok(e) => e,
            // Nothing to say within OperationTimeout: not an error, ask again.
            Err(PsError::Fault { fault, .. })
                if fault.subcode.as_deref() == Some("TimedOut")
                    || fault.wsman_code == Some(2_150_858_793) =>
            {
                return Ok((Vec::new(), false));
            }
            Err(e) => return Err(e),
        };
        let Body::ReceiveResponse {
            streams,
            command_state,
        } = env.body
        else {
            return Err(PsError::Protocol {
                url: self.inner.url.clone(),
                detail: "the answer to Receive is not a ReceiveResponse".into(),
            });
        };
        let mut out = Vec::new();
        for s in streams {
            for raw in reasm.push_payload(&s.data).map_err(|e| PsError::Protocol {
                url: self.inner.url.clone(),
                detail: e.to_string(),
            })? {
                out.push(Message::parse(&raw).map_err(|e| PsError::Protocol {
                    url: self.inner.url.clone(),
                    detail: e.to_string(),
                })?);
            }
        }
        let done = command_state.as_ref().is_some_and(|c| c.is_done());
        Ok((out, done))
    }

    fn lock_client(&self) -> std::sync::MutexGuard<'_, ClientSession> {
        match self.inner.client.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    async fn take_session(&self) -> Session {
        match self.inner.idle.lock().await.pop() {
            Some(s) => s,
            None => (self.inner.factory)(),
        }
    }

    /// Run `commands` as one pipeline, handing each output object to `on_object` as it
    /// arrives. Fails when the pipeline fails (with the server's error record).
    pub async fn invoke_each(
        &self,
        commands: Vec<Command>,
        mut on_object: impl FnMut(Value) + Send,
    ) -> Result<PipelineReport, PsError> {
        if self.inner.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PsError::Broken);
        }
        let name = commands
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| PsError::Broken)?;
        let mut session = self.take_session().await;
        let result = self
            .run_pipeline(&mut session, &name, commands, &mut on_object)
            .await;
        match &result {
            // A connection-level failure: drop this connection, keep the pool.
            Err(PsError::Session(_)) => {}
            _ => self.inner.idle.lock().await.push(session),
        }
        result
    }

    /// Run `commands` and collect every output object.
    pub async fn invoke(
        &self,
        commands: Vec<Command>,
    ) -> Result<(Vec<Value>, PipelineReport), PsError> {
        let mut objects = Vec::new();
        let report = self.invoke_each(commands, |v| objects.push(v)).await?;
        Ok((objects, report))
    }

    async fn run_pipeline(
        &self,
        session: &mut Session,
        name: &str,
        commands: Vec<Command>,
        on_object: &mut (impl FnMut(Value) + Send),
    ) -> Result<PipelineReport, PsError> {
        let pid = new_id();
        let req = self
            .lock_client()
            .run(new_id(), pid, &CreatePipeline::new(commands))
            .map_err(|e| PsError::Protocol {
                url: self.inner.url.clone(),
                detail: e.to_string(),
            })?;
        let env = self.post(session, req).await?;
        if !matches!(env.body, Body::CommandResponse { .. }) {
            return Err(PsError::Protocol {
                url: self.inner.url.clone(),
                detail: "the answer to Command is not a CommandResponse".into(),
            });
        }
        let mut reasm = Reassembler::new();
        let mut report = PipelineReport::default();
        let mut final_state: Option<StateInfo> = None;
        let mut pending: VecDeque<Message> = VecDeque::new();
        loop {
            let (msgs, done) = self
                .receive_messages(session, Some(pid), &mut reasm)
                .await?;
            pending.extend(msgs);
            while let Some(m) = pending.pop_front() {
                let decoded = m.decode_value().map_err(|e| PsError::Protocol {
                    url: self.inner.url.clone(),
                    detail: e.to_string(),
                })?;
                let v = match decoded {
                    Some(d) => {
                        if d.skipped_total > 0 {
                            report.skipped_elements += d.skipped_total;
                            for s in &d.skipped {
                                tracing::warn!(
                                    pipeline = name,
                                    psrp_message = %m.message_type.name(),
                                    element = %s.element,
                                    context = s.context,
                                    "CLIXML element skipped (not understood); the rest of the object is kept"
                                );
                            }
                        }
                        d.value
                    }
                    None => Value::Nil,
                };
                match m.message_type.known() {
                    Some(MessageType::PipelineOutput) => {
                        report.objects += 1;
                        on_object(v);
                    }
                    Some(MessageType::ErrorRecord) => {
                        report.errors.push(PsErrorRecord::from_value(&v))
                    }
                    Some(MessageType::WarningRecord) => {
                        report.warnings.push(informational_text(&v))
                    }
                    Some(MessageType::PipelineState) => {
                        final_state =
                            Some(StateInfo::from_pipeline(&v).map_err(|e| PsError::Protocol {
                                url: self.inner.url.clone(),
                                detail: e.to_string(),
                            })?);
                    }
                    Some(MessageType::RunspacePoolState) => {
                        let st = StateInfo::from_runspace_pool(&v).ok();
                        if st.is_some_and(|s| {
                            s.state == objects::runspace_pool_state::BROKEN
                                || s.state == objects::runspace_pool_state::CLOSED
                        }) {
                            self.inner
                                .broken
                                .store(true, std::sync::atomic::Ordering::SeqCst);
                            return Err(PsError::Broken);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(st) = &final_state {
                if done || st.state != objects::pipeline_state::RUNNING {
                    break;
                }
            }
            if done && final_state.is_none() {
                return Err(PsError::Protocol {
                    url: self.inner.url.clone(),
                    detail: format!("{name} ended without a PIPELINE_STATE"),
                });
            }
        }
        // Tell the server we are finished with the command (as Windows PowerShell does).
        let signal = self.lock_client().terminate(new_id(), pid);
        let _ = self.post(session, signal).await;
        match final_state {
            Some(st) if st.state == objects::pipeline_state::COMPLETED => Ok(report),
            Some(st) => {
                let error = st
                    .error
                    .as_ref()
                    .map(PsErrorRecord::from_value)
                    .or_else(|| report.errors.first().cloned())
                    .unwrap_or(PsErrorRecord {
                        message: format!("pipeline state {}", st.state),
                        fully_qualified_error_id: None,
                        category: None,
                    });
                Err(PsError::PipelineFailed {
                    command: name.to_string(),
                    error,
                })
            }
            None => Err(PsError::Protocol {
                url: self.inner.url.clone(),
                detail: format!("{name} ended without a PIPELINE_STATE"),
            }),
        }
    }

    /// Close the pool (Delete the shell). Errors are returned but the pool is gone either way.
    pub async fn close(self) -> Result<(), PsError> {
        let req = self.lock_client().close(new_id());
        let mut session = self.take_session().await;
        self.post(&mut session, req).await.map(|_| ())
    }
}

/// The text of a WARNING/VERBOSE record (an InformationalRecord's `InformationalRecord_Message`).
fn informational_text(v: &Value) -> String {
    v.get("InformationalRecord_Message")
        .and_then(Value::as_str)
        .or_else(|| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// A non-SOAP HTTP error (e.g. 404 for a wrong virtual directory, 500 without a fault body).
fn check_status(url: &str, resp: &super::http::HttpResponse) -> Result<(), PsError> {
    match resp.status {
        200..=299 => Ok(()),
        // WS-Man faults come as 500 with a SOAP body; those are parsed by the caller.
        500 | 400 if resp.body.starts_with(b"<") || resp.body.starts_with(b"\xef\xbb\xbf<") => {
            let env = parse_envelope(url, &resp.body)?;
            Err(PsError::Protocol { url: url.to_string(), detail: format!("HTTP {} with a non-fault body: {:?}", resp.status, env.body) })
        }
        404 => Err(PsError::Protocol {
            url: url.to_string(),
            detail: "HTTP 404: no PowerShell endpoint at this path; check the path (Exchange uses /PowerShell)".into(),
        }),
        s => {
            let snippet: String = String::from_utf8_lossy(&resp.body).chars().take(200).collect();
            Err(PsError::Protocol { url: url.to_string(), detail: format!("HTTP {s}: {snippet}") })
        }
    }
}
