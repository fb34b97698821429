//! The client's request sequence against a PowerShell endpoint (phase 2):
//! open a runspace pool (Create with creationXml carrying SESSION_CAPABILITY +
//! INIT_RUNSPACEPOOL), receive its state, run a pipeline (Command with
//! CREATE_PIPELINE), receive output, signal terminate, delete.
//!
//! [`ClientSession`] only builds envelopes and keeps the PSRP object-id
//! counter; it does no I/O, reads no clock and draws no randomness — the
//! caller supplies message ids, shell and pipeline ids. As in Windows
//! PowerShell, the shell id is the runspace pool id and a command id is the
//! pipeline id. It must not interpret responses (use `wsman::Envelope` and
//! `psrp::Reassembler` for that).

use uuid::Uuid;

use crate::psrp::fragment::{split_message, FragmentError};
use crate::psrp::message::{Message, MessageType};
use crate::psrp::objects::{
    to_server, CreatePipeline, InitRunspacePool, ProtocolVersion, SessionCapability,
};
use crate::wsman::{ns, RequestContext};

/// Builds the requests of one client session.
#[derive(Debug, Clone)]
pub struct ClientSession {
    pub ctx: RequestContext,
    /// Shell id == runspace pool id.
    pub shell_id: Uuid,
    pub protocol: ProtocolVersion,
    next_object_id: u64,
}

impl ClientSession {
    /// A session for `ctx` whose shell / runspace pool id is `shell_id`.
    pub fn new(ctx: RequestContext, shell_id: Uuid, protocol: ProtocolVersion) -> Self {
        ClientSession {
            ctx,
            shell_id,
            protocol,
            next_object_id: 1,
        }
    }

    /// Largest fragment we emit: what fits a quarter of the envelope once
    /// base64-encoded, leaving room for headers.
    fn max_fragment(&self) -> usize {
        let env = usize::try_from(self.ctx.max_envelope_size).unwrap_or(usize::MAX);
        (env / 4 * 3).saturating_sub(2048).max(1024)
    }

    /// Fragment messages with consecutive object ids, concatenated.
    pub fn fragment(&mut self, messages: &[Message]) -> Result<Vec<u8>, FragmentError> {
        let max = self.max_fragment();
        let mut out = Vec::new();
        for m in messages {
            let id = self.next_object_id;
            self.next_object_id = self.next_object_id.saturating_add(1);
            for f in split_message(id, &m.encode(), max)? {
                f.encode_into(&mut out);
            }
        }
        Ok(out)
    }

    /// Create the shell and open the runspace pool.
    pub fn open(
        &mut self,
        message_id: Uuid,
        init: &InitRunspacePool,
    ) -> Result<String, FragmentError> {
        let rpid = self.shell_id;
        let msgs = [
            to_server(
                MessageType::SessionCapability,
                rpid,
                Uuid::nil(),
                &SessionCapability::new(self.protocol).to_value(),
            ),
            to_server(
                MessageType::InitRunspacePool,
                rpid,
                Uuid::nil(),
                &init.to_value(),
            ),
        ];
        let creation = self.fragment(&msgs)?;
        Ok(self
            .ctx
            .create_shell(message_id, self.shell_id, &creation, self.protocol.as_str()))
    }

    /// Receive on the shell (`None`) or on a pipeline.
    pub fn receive(&self, message_id: Uuid, pipeline_id: Option<Uuid>) -> String {
        self.ctx
            .receive(message_id, self.shell_id, pipeline_id, "stdout")
    }

    /// Start `pipeline` as command `pipeline_id`.
    pub fn run(
        &mut self,
        message_id: Uuid,
        pipeline_id: Uuid,
        pipeline: &CreatePipeline,
    ) -> Result<String, FragmentError> {
        let msg = to_server(
            MessageType::CreatePipeline,
            self.shell_id,
            pipeline_id,
            &pipeline.to_value(self.protocol),
        );
        let args = self.fragment(&[msg])?;
        Ok(self
            .ctx
            .command(message_id, self.shell_id, pipeline_id, &args))
    }

    /// Terminate a pipeline.
    pub fn terminate(&self, message_id: Uuid, pipeline_id: Uuid) -> String {
        self.ctx.signal(
            message_id,
            self.shell_id,
            pipeline_id,
            ns::signal::TERMINATE,
        )
    }

    /// Close the shell.
    pub fn close(&self, message_id: Uuid) -> String {
        self.ctx.delete(message_id, self.shell_id)
    }
}
