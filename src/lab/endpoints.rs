//! The lab's non-PowerShell endpoints: EWS (`CreateItem`, `GetFolder`), POX Autodiscover and
//! the ActiveSync `OPTIONS` probe.
//!
//! Each answers the way Exchange does for the requests the connector sends, including
//! Exchange's error shapes (unknown mailbox, no recipients). Sent mail goes to the outbox, one
//! JSON file per message. These handlers get an already authenticated account; they must not
//! do authentication themselves.

use std::path::Path;

use super::accounts::Account;
use super::org::{ExchangeVersion, Org};
use crate::wire::xmlscan::{esc, scan};

/// POX Autodiscover for `body`; `ews_url` and `as_url` are this server's.
pub fn autodiscover(
    org: &Org,
    body: &[u8],
    ews_url: &str,
    as_url: &str,
    server_name: &str,
) -> (u16, String) {
    let Some(req) = scan(body) else {
        return (400, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>The request is not well-formed XML.</Error>".into());
    };
    let email = req
        .text("Request/EMailAddress")
        .unwrap_or_default()
        .to_string();
    let mailbox = org
        .find_mailbox(&email)
        .map(|i| &org.mailboxes[i as usize])
        .filter(|m| m.primary_smtp.eq_ignore_ascii_case(&email));
    let inner = match mailbox {
        Some(m) => format!(
            "<User><DisplayName>{}</DisplayName><LegacyDN>/o=Contoso Lab/ou=Exchange Administrative Group/cn=Recipients/cn={}</LegacyDN><AutoDiscoverSMTPAddress>{}</AutoDiscoverSMTPAddress><DeploymentId>5a1f7d0e-2c4b-4f5e-9d7a-1b2c3d4e5f60</DeploymentId></User>\
<Account><AccountType>email</AccountType><Action>settings</Action><MicrosoftOnline>False</MicrosoftOnline>\
<Protocol><Type>EXCH</Type><Server>{}</Server><ASUrl>{}</ASUrl><EwsUrl>{}</EwsUrl><EcpUrl>{}</EcpUrl></Protocol>\
<Protocol><Type>EXPR</Type><Server>{}</Server><SSL>On</SSL><AuthPackage>Basic</AuthPackage><ASUrl>{}</ASUrl><EwsUrl>{}</EwsUrl></Protocol>\
</Account>",
            esc(&m.display_name),
            esc(&m.alias),
            esc(&m.primary_smtp),
            esc(server_name),
            esc(as_url),
            esc(ews_url),
            esc(&ews_url.replace("/EWS/Exchange.asmx", "/ecp/")),
            esc(server_name),
            esc(as_url),
            esc(ews_url),
        ),
        None => "<Error Time=\"00:00:00.0000000\" Id=\"2477272013\"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData /></Error>".to_string(),
    };
    (
        200,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\"><Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">{inner}</Response></Autodiscover>"
        ),
    )
}

const EWS_NS: &str = "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"";

fn ews_envelope(version: ExchangeVersion, body: &str) -> String {
    let (major, minor, build) = match version {
        ExchangeVersion::V2010 => (14, 3, 123),
        ExchangeVersion::V2013 => (15, 0, 1497),
        ExchangeVersion::V2016 => (15, 1, 2507),
        ExchangeVersion::V2019 => (15, 2, 1118),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><h:ServerVersionInfo MajorVersion=\"{major}\" MinorVersion=\"{minor}\" MajorBuildNumber=\"{build}\" MinorBuildNumber=\"7\" xmlns:h=\"http://schemas.microsoft.com/exchange/services/2006/types\"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

fn ews_error(version: ExchangeVersion, op: &str, code: &str, text: &str) -> String {
    ews_envelope(
        version,
        &format!(
            "<m:{op}Response {EWS_NS}><m:ResponseMessages><m:{op}ResponseMessage ResponseClass=\"Error\"><m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{op}ResponseMessage></m:ResponseMessages></m:{op}Response>",
            esc(text)
        ),
    )
}

/// A message the lab "sent", as kept in the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SentMail {
    pub id: u64,
    pub time: i64,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body_type: String,
    pub body: String,
    /// The authenticated account that sent it.
    pub sent_by: String,
}

/// What an EWS request did.
pub enum EwsOutcome {
    /// A response to return, and a message to put into the outbox when one was sent.
    Reply(u16, String, Option<SentMail>),
}

/// Handle an EWS SOAP request from `account`.
pub fn ews(org: &Org, account: &Account, body: &[u8], next_id: u64, now: i64) -> EwsOutcome {
    let version = org.version;
    let Some(req) = scan(body) else {
        return EwsOutcome::Reply(
            500,
            ews_error(
                version,
                "CreateItem",
                "ErrorSchemaValidation",
                "The request failed schema validation: the XML is not well-formed.",
            ),
            None,
        );
    };
    let Some(own) = account
        .mailbox
        .as_deref()
        .and_then(|a| org.find_mailbox(a))
        .map(|i| &org.mailboxes[i as usize])
    else {
        return EwsOutcome::Reply(
            500,
            ews_error(version, "GetFolder", "ErrorNonExistentMailbox", &format!("The SMTP address has no mailbox associated with it: account {} has no mailbox.", account.user)),
            None,
        );
    };
    if req.has("GetFolder") {
        let folder = req.attr("DistinguishedFolderId", "Id").unwrap_or("inbox");
        let body = format!(
            "<m:GetFolderResponse {EWS_NS}><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id=\"{}\" ChangeKey=\"AQAAAA==\"/><t:DisplayName>{}</t:DisplayName><t:TotalCount>0</t:TotalCount></t:Folder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>",
            esc(&format!("{}:{}", own.alias, folder)),
            esc(folder)
        );
        return EwsOutcome::Reply(200, ews_envelope(version, &body), None);
    }
    if !req.has("CreateItem") {
        return EwsOutcome::Reply(
            500,
            ews_error(
                version,
                "CreateItem",
                "ErrorInvalidRequest",
                "The lab's EWS supports CreateItem and GetFolder only.",
            ),
            None,
        );
    }
    let disposition = req
        .attr("CreateItem", "MessageDisposition")
        .unwrap_or("SaveOnly");
    let to: Vec<String> = req
        .all_texts("ToRecipients/Mailbox/EmailAddress")
        .map(str::to_string)
        .collect();
    if to.is_empty() {
        return EwsOutcome::Reply(
            200,
            ews_error(
                version,
                "CreateItem",
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid.",
            ),
            None,
        );
    }
    // `From` on the message: Exchange sends as that address only with SendAs on it.
    let from = match req.text("Message/From/Mailbox/EmailAddress") {
        None => own.primary_smtp.clone(),
        Some(f) if account.may_send_as(f, &own.primary_smtp) => f.to_string(),
        Some(_) => {
            return EwsOutcome::Reply(
                200,
                ews_error(
                    version,
                    "CreateItem",
                    "ErrorSendAsDenied",
                    "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
                ),
                None,
            )
        }
    };
    let subject = req.text("Message/Subject").unwrap_or_default().to_string();
    let body_text = req.text("Message/Body").unwrap_or_default().to_string();
    let body_type = req.attr("Body", "BodyType").unwrap_or("Text").to_string();
    let ok = ews_envelope(
        version,
        &format!("<m:CreateItemResponse {EWS_NS}><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items /></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>"),
    );
    let sent = (disposition == "SendAndSaveCopy" || disposition == "SendOnly").then(|| SentMail {
        id: next_id,
        time: now,
        from,
        to,
        subject,
        body_type,
        body: body_text,
        sent_by: account.user.clone(),
    });
    EwsOutcome::Reply(200, ok, sent)
}

/// Write a sent message into the outbox folder as `<id>.json`.
pub fn store_mail(outbox: &Path, mail: &SentMail) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(mail).map_err(std::io::Error::other)?;
    crate::config::store::write_private(&outbox.join(format!("{:06}.json", mail.id)), &json)
}

/// Headers of the ActiveSync `OPTIONS` answer.
pub fn activesync_options(version: ExchangeVersion) -> Vec<(&'static str, String)> {
    vec![
        ("Allow", "OPTIONS,POST".into()),
        ("Public", "OPTIONS,POST".into()),
        ("MS-Server-ActiveSync", version.activesync_server_version().into()),
        ("MS-ASProtocolVersions", version.activesync_protocol_versions().into()),
        (
            "MS-ASProtocolCommands",
            "Sync,SendMail,SmartForward,SmartReply,GetAttachment,GetHierarchy,CreateCollection,DeleteCollection,MoveCollection,FolderSync,FolderCreate,FolderDelete,FolderUpdate,MoveItems,GetItemEstimate,MeetingResponse,Search,Settings,Ping,ItemOperations,Provision,ResolveRecipients,ValidateCert,Find".into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::accounts::Accounts;

    #[test]
    fn autodiscover_known_and_unknown() {
        let org = Org::generate(1, 10, ExchangeVersion::V2019);
        let req = |e: &str| {
            format!("<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{e}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>")
        };
        let (code, body) = autodiscover(
            &org,
            req("eas-notify@contoso.test").as_bytes(),
            "https://127.0.0.1:1/EWS/Exchange.asmx",
            "https://127.0.0.1:1/Microsoft-Server-ActiveSync",
            "LAB-CAS01",
        );
        assert_eq!(code, 200);
        let s = scan(body.as_bytes()).unwrap();
        assert_eq!(
            s.text("Protocol/EwsUrl"),
            Some("https://127.0.0.1:1/EWS/Exchange.asmx")
        );
        let (_, body) = autodiscover(&org, req("nobody@contoso.test").as_bytes(), "x", "y", "z");
        assert_eq!(
            scan(body.as_bytes()).unwrap().text("Error/ErrorCode"),
            Some("500")
        );
    }

    #[test]
    fn create_item_sends_as_another_address_only_with_send_as() {
        let org = Org::generate(1, 10, ExchangeVersion::V2019);
        let acc = Accounts::generate(1, &org.domain);
        let req = |from: &str| {
            format!("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Body><m:CreateItem MessageDisposition=\"SendAndSaveCopy\"><m:Items><t:Message><t:Subject>S</t:Subject><t:Body BodyType=\"HTML\">B</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>anna.devries@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients><t:From><t:Mailbox><t:EmailAddress>{from}</t:EmailAddress></t:Mailbox></t:From></t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>")
        };
        let EwsOutcome::Reply(_, body, sent) = ews(
            &org,
            &acc.notification,
            req("IT-Helpdesk@contoso.test").as_bytes(),
            1,
            5,
        );
        assert!(body.contains("ResponseClass=\"Success\""), "{body}");
        assert_eq!(sent.unwrap().from, "IT-Helpdesk@contoso.test");
        let EwsOutcome::Reply(code, body, sent) = ews(
            &org,
            &acc.notification,
            req("ceo@contoso.test").as_bytes(),
            2,
            5,
        );
        assert_eq!(code, 200);
        assert!(
            body.contains("<m:ResponseCode>ErrorSendAsDenied</m:ResponseCode>"),
            "{body}"
        );
        assert!(sent.is_none(), "nothing sent");
        // Its own address needs no right.
        let EwsOutcome::Reply(_, _, sent) = ews(
            &org,
            &acc.notification,
            req("eas-notify@contoso.test").as_bytes(),
            3,
            5,
        );
        assert!(sent.is_some());
    }

    #[test]
    fn create_item_sends_and_rejects_no_recipients() {
        let org = Org::generate(1, 10, ExchangeVersion::V2019);
        let acc = Accounts::generate(1, &org.domain);
        let req = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Body><m:CreateItem MessageDisposition=\"SendAndSaveCopy\"><m:Items><t:Message><t:Subject>Your device &amp; you</t:Subject><t:Body BodyType=\"HTML\">&lt;p&gt;Hi&lt;/p&gt;</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>anna.devries@contoso.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>";
        let EwsOutcome::Reply(code, body, sent) =
            ews(&org, &acc.notification, req.as_bytes(), 1, 5);
        assert_eq!(code, 200);
        assert!(body.contains("ResponseClass=\"Success\""));
        let sent = sent.unwrap();
        assert_eq!(sent.subject, "Your device & you");
        assert_eq!(sent.body, "<p>Hi</p>");
        assert_eq!(sent.to, vec!["anna.devries@contoso.test"]);
        assert_eq!(sent.from, "eas-notify@contoso.test");
        let EwsOutcome::Reply(_, body, sent) = ews(
            &org,
            &acc.notification,
            req.replace(
                "anna.devries@contoso.test</t:EmailAddress>",
                "</t:EmailAddress>",
            )
            .replace("<t:EmailAddress></t:EmailAddress>", "")
            .as_bytes(),
            2,
            5,
        );
        assert!(
            body.contains("ErrorInvalidRecipients") && sent.is_none(),
            "{body}"
        );
        let EwsOutcome::Reply(code, body, _) = ews(&org, &acc.limited, req.as_bytes(), 3, 5);
        assert_eq!(code, 500);
        assert!(body.contains("ErrorNonExistentMailbox"));
    }
}
