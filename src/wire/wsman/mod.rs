//! WS-Management (SOAP 1.2 + WinRS, MS-WSMV) as Exchange remote PowerShell
//! uses it: parsing any request or response envelope, decoding faults into a
//! typed error, and building the client's requests and the server's responses.
//!
//! Namespace URIs, never prefixes, identify elements. This layer carries PSRP
//! bytes opaquely (base64 in Stream/Arguments/creationXml) and must not
//! interpret them; it does no HTTP and no authentication.

pub mod build;
pub mod envelope;
pub mod fault;
pub mod ns;

pub use build::{
    command_response, create_response, delete_response, fault_response, guid_upper,
    receive_response, send_response, signal_response, RequestContext, ResponseContext, StreamOut,
};
pub use envelope::{
    Body, CommandState, Envelope, EnvelopeError, FaultError, Header, ShellCreate, ShellInfo,
    StreamData, WsOption,
};
pub use fault::WsManFault;
