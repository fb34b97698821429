//! PSRP messages (MS-PSRP 2.2.1): the 40-byte header plus CLIXML data, and the
//! table of every message type with its MS-PSRP name and value.
//!
//! Header: Destination u32 little-endian (client = 1, server = 2), MessageType
//! u32 little-endian, RPID and PID as GUIDs in .NET byte order (first three
//! groups little-endian), then UTF-8 data that may start with a BOM. Unknown
//! message types are kept as their number ([`MessageTypeCode`]), not rejected.
//! This module must not fragment (see `fragment`) or know about WS-Man, and
//! must never panic on input.

use std::fmt;

use uuid::Uuid;

use crate::clixml::{self, ClixmlError, Value};

/// Length of the message header.
pub const MESSAGE_HEADER_LEN: usize = 40;

/// Message framing errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Fewer than 40 bytes.
    #[error("PSRP message of {0} bytes is shorter than its 40-byte header")]
    Truncated(usize),
    /// Destination other than 1 or 2.
    #[error("invalid PSRP destination {0:#x}")]
    BadDestination(u32),
    /// Data is not UTF-8.
    #[error("PSRP message data is not UTF-8")]
    NotUtf8,
    /// Data is not valid CLIXML.
    #[error("PSRP {message_type} data: {source}")]
    Clixml {
        message_type: String,
        #[source]
        source: ClixmlError,
    },
}

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    Client,
    Server,
}

impl Destination {
    /// Wire value (client = 1, server = 2).
    pub fn value(self) -> u32 {
        match self {
            Destination::Client => 1,
            Destination::Server => 2,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Client => "client",
            Destination::Server => "server",
        }
    }
}

macro_rules! message_types {
    ($($variant:ident = $value:literal, $name:literal;)*) => {
        /// Every MS-PSRP 2.2.1 message type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $($variant,)*
        }

        impl MessageType {
            /// All known types.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant,)*];

            /// The wire value.
            pub fn value(self) -> u32 {
                match self {
                    $(MessageType::$variant => $value,)*
                }
            }

            /// The MS-PSRP name, e.g. `SESSION_CAPABILITY`.
            pub fn name(self) -> &'static str {
                match self {
                    $(MessageType::$variant => $name,)*
                }
            }

            /// The type for a wire value, if known.
            pub fn from_value(v: u32) -> Option<MessageType> {
                match v {
                    $($value => Some(MessageType::$variant),)*
                    _ => None,
                }
            }

            /// The type for an MS-PSRP name, if known.
            pub fn from_name(n: &str) -> Option<MessageType> {
                match n {
                    $($name => Some(MessageType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

message_types! {
    SessionCapability = 0x0001_0002, "SESSION_CAPABILITY";
    InitRunspacePool = 0x0001_0004, "INIT_RUNSPACEPOOL";
    PublicKey = 0x0001_0005, "PUBLIC_KEY";
    EncryptedSessionKey = 0x0001_0006, "ENCRYPTED_SESSION_KEY";
    PublicKeyRequest = 0x0001_0007, "PUBLIC_KEY_REQUEST";
    ConnectRunspacePool = 0x0001_0008, "CONNECT_RUNSPACEPOOL";
    RunspacePoolInitData = 0x0002_100B, "RUNSPACEPOOL_INIT_DATA";
    ResetRunspaceState = 0x0002_100C, "RESET_RUNSPACE_STATE";
    SetMaxRunspaces = 0x0002_1002, "SET_MAX_RUNSPACES";
    SetMinRunspaces = 0x0002_1003, "SET_MIN_RUNSPACES";
    RunspaceAvailability = 0x0002_1004, "RUNSPACE_AVAILABILITY";
    RunspacePoolState = 0x0002_1005, "RUNSPACEPOOL_STATE";
    CreatePipeline = 0x0002_1006, "CREATE_PIPELINE";
    GetAvailableRunspaces = 0x0002_1007, "GET_AVAILABLE_RUNSPACES";
    UserEvent = 0x0002_1008, "USER_EVENT";
    ApplicationPrivateData = 0x0002_1009, "APPLICATION_PRIVATE_DATA";
    GetCommandMetadata = 0x0002_100A, "GET_COMMAND_METADATA";
    RunspacePoolHostCall = 0x0002_1100, "RUNSPACEPOOL_HOST_CALL";
    RunspacePoolHostResponse = 0x0002_1101, "RUNSPACEPOOL_HOST_RESPONSE";
    PipelineInput = 0x0004_1002, "PIPELINE_INPUT";
    EndOfPipelineInput = 0x0004_1003, "END_OF_PIPELINE_INPUT";
    PipelineOutput = 0x0004_1004, "PIPELINE_OUTPUT";
    ErrorRecord = 0x0004_1005, "ERROR_RECORD";
    PipelineState = 0x0004_1006, "PIPELINE_STATE";
    DebugRecord = 0x0004_1007, "DEBUG_RECORD";
    VerboseRecord = 0x0004_1008, "VERBOSE_RECORD";
    WarningRecord = 0x0004_1009, "WARNING_RECORD";
    ProgressRecord = 0x0004_1010, "PROGRESS_RECORD";
    InformationRecord = 0x0004_1011, "INFORMATION_RECORD";
    PipelineHostCall = 0x0004_1100, "PIPELINE_HOST_CALL";
    PipelineHostResponse = 0x0004_1101, "PIPELINE_HOST_RESPONSE";
}

/// A message type as found on the wire: known or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageTypeCode(pub u32);

impl MessageTypeCode {
    /// The known type, if any.
    pub fn known(self) -> Option<MessageType> {
        MessageType::from_value(self.0)
    }

    /// MS-PSRP name, or `UNKNOWN(0x…)`.
    pub fn name(self) -> String {
        match self.known() {
            Some(t) => t.name().to_string(),
            None => format!("UNKNOWN(0x{:08X})", self.0),
        }
    }
}

impl From<MessageType> for MessageTypeCode {
    fn from(t: MessageType) -> Self {
        MessageTypeCode(t.value())
    }
}

impl fmt::Display for MessageTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One PSRP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub destination: Destination,
    pub message_type: MessageTypeCode,
    /// Runspace pool id.
    pub rpid: Uuid,
    /// Pipeline id (nil for runspace-pool messages).
    pub pid: Uuid,
    /// CLIXML data as sent (may start with a UTF-8 BOM).
    pub data: Vec<u8>,
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(s))
}

fn guid(b: &[u8], at: usize) -> Option<Uuid> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Uuid::from_bytes_le(s))
}

impl Message {
    /// Build a message whose data is the CLIXML of `value`.
    pub fn new(
        destination: Destination,
        message_type: MessageType,
        rpid: Uuid,
        pid: Uuid,
        value: &Value,
    ) -> Self {
        Message {
            destination,
            message_type: message_type.into(),
            rpid,
            pid,
            data: clixml::to_clixml(value).into_bytes(),
        }
    }

    /// Parse the wire form.
    pub fn parse(bytes: &[u8]) -> Result<Message, MessageError> {
        let short = || MessageError::Truncated(bytes.len());
        let dest = le_u32(bytes, 0).ok_or_else(short)?;
        let destination = match dest {
            1 => Destination::Client,
            2 => Destination::Server,
            other => return Err(MessageError::BadDestination(other)),
        };
        let message_type = MessageTypeCode(le_u32(bytes, 4).ok_or_else(short)?);
        let rpid = guid(bytes, 8).ok_or_else(short)?;
        let pid = guid(bytes, 24).ok_or_else(short)?;
        let data = bytes.get(MESSAGE_HEADER_LEN..).ok_or_else(short)?.to_vec();
        Ok(Message {
            destination,
            message_type,
            rpid,
            pid,
            data,
        })
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(MESSAGE_HEADER_LEN + self.data.len());
        v.extend_from_slice(&self.destination.value().to_le_bytes());
        v.extend_from_slice(&self.message_type.0.to_le_bytes());
        v.extend_from_slice(&self.rpid.to_bytes_le());
        v.extend_from_slice(&self.pid.to_bytes_le());
        v.extend_from_slice(&self.data);
        v
    }

    /// The data as text, BOM removed.
    pub fn data_str(&self) -> Result<&str, MessageError> {
        let s = std::str::from_utf8(&self.data).map_err(|_| MessageError::NotUtf8)?;
        Ok(s.strip_prefix('\u{FEFF}').unwrap_or(s))
    }

    /// Deserialize the data; `None` when the data is empty or only whitespace
    /// (END_OF_PIPELINE_INPUT, for one).
    pub fn value(&self) -> Result<Option<Value>, MessageError> {
        Ok(self.decode_value()?.map(|d| d.value))
    }

    /// [`Message::value`] with what the decoder skipped (elements it does not know), for the
    /// caller to log.
    pub fn decode_value(&self) -> Result<Option<clixml::Decoded>, MessageError> {
        let s = self.data_str()?;
        if s.trim().is_empty() {
            return Ok(None);
        }
        clixml::decode(s, &clixml::ClixmlLimits::default())
            .map(Some)
            .map_err(|source| MessageError::Clixml {
                message_type: self.message_type.name(),
                source,
            })
    }
}
