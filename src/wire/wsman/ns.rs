//! Namespace URIs, action URIs, resource URIs and signal codes used by WS-Man
//! / WinRS (MS-WSMV) as spoken by Exchange remote PowerShell.
//!
//! Constants only: no parsing, no building. Prefixes are never significant;
//! code matches on these URIs.

/// SOAP 1.2 envelope.
pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (2004/08).
pub const ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// DMTF WS-Management.
pub const WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
/// Microsoft WS-Management extensions (MS-WSMV).
pub const WSMV: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd";
/// Windows Remote Shell.
pub const SHELL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell";
/// WS-Transfer.
pub const TRANSFER: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer";
/// WS-Enumeration.
pub const ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
/// WS-Management fault detail (MS-WSMV).
pub const WSMAN_FAULT: &str = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
/// PowerShell's creationXml / connectXml namespace.
pub const POWERSHELL: &str = "http://schemas.microsoft.com/powershell";

/// The anonymous reply-to address.
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// Resource URI of Exchange's remote PowerShell configuration.
pub const RESOURCE_EXCHANGE: &str = "http://schemas.microsoft.com/powershell/Microsoft.Exchange";
/// Resource URI of the default Windows PowerShell configuration.
pub const RESOURCE_POWERSHELL: &str =
    "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";
/// Prefix shared by all PowerShell configurations (their shells carry PSRP).
pub const RESOURCE_POWERSHELL_PREFIX: &str = "http://schemas.microsoft.com/powershell/";
/// Resource URI of a cmd.exe WinRS shell (streams are raw bytes, not PSRP).
pub const RESOURCE_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";

/// Action URIs.
pub mod action {
    pub const CREATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create";
    pub const CREATE_RESPONSE: &str =
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse";
    pub const DELETE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete";
    pub const DELETE_RESPONSE: &str =
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse";
    pub const GET: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get";
    pub const GET_RESPONSE: &str = "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse";
    pub const ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
    pub const ENUMERATE_RESPONSE: &str =
        "http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse";
    pub const COMMAND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command";
    pub const COMMAND_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse";
    pub const SEND: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send";
    pub const SEND_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse";
    pub const RECEIVE: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive";
    pub const RECEIVE_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse";
    pub const SIGNAL: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal";
    pub const SIGNAL_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse";
    pub const CONNECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Connect";
    pub const CONNECT_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ConnectResponse";
    pub const DISCONNECT: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Disconnect";
    pub const DISCONNECT_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/DisconnectResponse";
    pub const RECONNECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect";
    pub const RECONNECT_RESPONSE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReconnectResponse";
    pub const FAULT: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
    pub const ADDRESSING_FAULT: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";
}

/// Signal codes.
pub mod signal {
    /// PSRP stop-pipeline signal exactly as Windows PowerShell sends it
    /// (the "crtl" misspelling is PowerShell's own).
    pub const PS_CTRL_C: &str = "powershell/signal/crtl_c";
    /// WinRS terminate (what clients send before deleting a command).
    pub const TERMINATE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/Terminate";
    /// WinRS Ctrl+C.
    pub const CTRL_C: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c";
}

/// Command states in ReceiveResponse.
pub mod command_state {
    pub const DONE: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";
    pub const RUNNING: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running";
    pub const PENDING: &str =
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending";
}
