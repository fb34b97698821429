//! EWS for the notification mailbox: check that the account can use its mailbox
//! (`GetFolder` on the inbox) and send mail (`CreateItem` with `SendAndSaveCopy`).
//!
//! Answers are read for their `ResponseClass`, `ResponseCode` and `MessageText`, which become
//! [`EwsError::Response`] with Exchange's own words. It sends only what it is given; message
//! content (templates, languages) belongs to the notification engine.

use bytes::Bytes;
use hyper::Method;

use super::client::{Session, SessionError};
use crate::wire::xmlscan::{esc, scan};

/// What can go wrong with EWS.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EwsError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("EWS {operation} failed: {code}: {message}")]
    Response {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("EWS {operation}: HTTP {status} without an EWS answer{}", snippet_suffix(.snippet))]
    Http {
        operation: &'static str,
        status: u16,
        snippet: String,
    },
}

fn snippet_suffix(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

const ENVELOPE_START: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Header><t:RequestServerVersion Version=\"Exchange2010_SP2\"/></soap:Header><soap:Body>";
const ENVELOPE_END: &str = "</soap:Body></soap:Envelope>";

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    /// HTML body.
    pub html_body: String,
    /// Send as this address (`From`; the account needs SendAs on it), else as the mailbox.
    pub from: Option<String>,
}

/// The `CreateItem` request for `mail`.
pub fn create_item_body(mail: &Mail) -> String {
    let recipients: String = mail
        .to
        .iter()
        .map(|r| {
            format!(
                "<t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>",
                esc(r)
            )
        })
        .collect();
    // `From` comes after the recipients in the schema's order of Message's elements.
    let from = mail.from.as_deref().map_or_else(String::new, |f| {
        format!(
            "<t:From><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:From>",
            esc(f)
        )
    });
    format!(
        "{ENVELOPE_START}<m:CreateItem MessageDisposition=\"SendAndSaveCopy\"><m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{}</t:Subject><t:Body BodyType=\"HTML\">{}</t:Body><t:ToRecipients>{recipients}</t:ToRecipients>{from}</t:Message></m:Items></m:CreateItem>{ENVELOPE_END}",
        esc(&mail.subject),
        esc(&mail.html_body)
    )
}

fn get_folder_body() -> String {
    format!("{ENVELOPE_START}<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>{ENVELOPE_END}")
}

/// Read the first response message's class, code and text.
fn outcome(operation: &'static str, status: u16, body: &[u8]) -> Result<(), EwsError> {
    let Some(s) = scan(body) else {
        let snippet: String = String::from_utf8_lossy(body).chars().take(160).collect();
        return Err(EwsError::Http {
            operation,
            status,
            snippet,
        });
    };
    let class = s.elements.iter().find_map(|(name, attrs)| {
        name.ends_with("ResponseMessage")
            .then(|| {
                attrs
                    .iter()
                    .find(|(k, _)| k == "ResponseClass")
                    .map(|(_, v)| v.clone())
            })
            .flatten()
    });
    match class.as_deref() {
        Some("Success") | Some("Warning") => Ok(()),
        Some(_) => Err(EwsError::Response {
            operation,
            code: s.text("ResponseCode").unwrap_or("unknown").to_string(),
            message: s.text("MessageText").unwrap_or_default().to_string(),
        }),
        None => match s.text("faultstring") {
            Some(f) => Err(EwsError::Response {
                operation,
                code: "SOAP fault".into(),
                message: f.to_string(),
            }),
            None => Err(EwsError::Http {
                operation,
                status,
                snippet: String::new(),
            }),
        },
    }
}

/// An EWS endpoint with an authenticated session.
pub struct Ews {
    session: Session,
    path: String,
}

impl Ews {
    /// EWS at `path` (e.g. `/EWS/Exchange.asmx`) on `session`'s server.
    pub fn new(session: Session, path: &str) -> Self {
        Ews {
            session,
            path: path.to_string(),
        }
    }

    async fn call(&mut self, operation: &'static str, body: String) -> Result<(), EwsError> {
        let resp = self
            .session
            .request(
                Method::POST,
                &self.path,
                Some("text/xml; charset=utf-8"),
                Bytes::from(body),
            )
            .await?;
        outcome(operation, resp.status, &resp.body)
    }

    /// Prove the account can use its mailbox: `GetFolder` on the inbox.
    /// The session underneath (which mechanism signed in).
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub async fn check_mailbox(&mut self) -> Result<(), EwsError> {
        self.call("GetFolder", get_folder_body()).await
    }

    /// Send `mail` and keep a copy in Sent Items.
    pub async fn send(&mut self, mail: &Mail) -> Result<(), EwsError> {
        self.call("CreateItem", create_item_body(mail)).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert!(outcome("CreateItem", 200, b"<s:Envelope><s:Body><m:CreateItemResponse><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>").is_ok());
        let e = outcome("CreateItem", 200, b"<s:Envelope><s:Body><m:CreateItemResponse><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass=\"Error\"><m:MessageText>At least one recipient isn't valid.</m:MessageText><m:ResponseCode>ErrorInvalidRecipients</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "EWS CreateItem failed: ErrorInvalidRecipients: At least one recipient isn't valid."
        );
        assert!(matches!(
            outcome("GetFolder", 500, b"<html>oops"),
            Err(EwsError::Http { status: 500, .. })
        ));
    }

    #[test]
    fn create_item_escapes() {
        let b = create_item_body(&Mail {
            to: vec!["a@b.test".into()],
            subject: "A & B".into(),
            html_body: "<p>x</p>".into(),
            from: None,
        });
        assert!(
            b.contains("<t:Subject>A &amp; B</t:Subject>") && b.contains("&lt;p&gt;x&lt;/p&gt;")
        );
        assert!(b.contains("MessageDisposition=\"SendAndSaveCopy\""));
        assert!(!b.contains("<t:From>"));
        let b = create_item_body(&Mail {
            to: vec!["a@b.test".into()],
            subject: "s".into(),
            html_body: "b".into(),
            from: Some("it-helpdesk@b.test".into()),
        });
        assert!(
            b.contains("</t:ToRecipients><t:From><t:Mailbox><t:EmailAddress>it-helpdesk@b.test</t:EmailAddress></t:Mailbox></t:From></t:Message>"),
            "{b}"
        );
    }
}
