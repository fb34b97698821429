//! The PowerShell Remoting Protocol layer (MS-PSRP): fragments (2.2.4),
//! messages and their types (2.2.1), and the PSRP-specific objects (2.2.2–2.2.3).
//!
//! It turns bytes carried in WS-Man streams into typed messages and back. It
//! must not know about SOAP or HTTP, and it must not panic on any input.

pub mod fragment;
pub mod message;
pub mod objects;

pub use fragment::{
    fragment_message, parse_fragments, split_message, Fragment, FragmentError, Reassembler,
    ReassemblyLimits, FRAGMENT_HEADER_LEN,
};
pub use message::{
    Destination, Message, MessageError, MessageType, MessageTypeCode, MESSAGE_HEADER_LEN,
};
