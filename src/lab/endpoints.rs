//! The lab's non-PowerShell endpoints: EWS, POX Autodiscover and the ActiveSync `OPTIONS` probe.
//!
//! Each answers the way Exchange does, including Exchange's error shapes (unknown mailbox, no
//! recipients, a newer `RequestServerVersion` than the server's). EWS answers every operation
//! in that operation's own response element with `ServerVersionInfo`; it implements what a
//! mail client needs to learn the version, send and find mail (`ConvertId`, `GetFolder` with
//! counts, `FindItem`, `GetItem`, `CreateItem`) and answers any other operation with
//! `ErrorInvalidOperation`. Sent mail goes to the outbox, one JSON file per message; a
//! mailbox's Inbox and Sent Items are read from it. These handlers get an already authenticated account; they must not
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

/// The `RequestServerVersion` values in order; a server answers those up to its own.
const API_VERSIONS: &[&str] = &[
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2015_SP1",
    "Exchange2016",
];

/// The newest `RequestServerVersion` the lab's version accepts.
fn newest_api(version: ExchangeVersion) -> &'static str {
    match version {
        ExchangeVersion::V2010 => "Exchange2010_SP2",
        ExchangeVersion::V2013 => "Exchange2013_SP1",
        ExchangeVersion::V2016 | ExchangeVersion::V2019 => "Exchange2016",
    }
}

fn ews_envelope(version: ExchangeVersion, body: &str) -> String {
    let (major, minor, build) = match version {
        ExchangeVersion::V2010 => (14, 3, 123),
        ExchangeVersion::V2013 => (15, 0, 1497),
        ExchangeVersion::V2016 => (15, 1, 2507),
        ExchangeVersion::V2019 => (15, 2, 1118),
    };
    let api = match version {
        ExchangeVersion::V2010 => "Exchange2010_SP2",
        ExchangeVersion::V2013 => "Exchange2013_SP1",
        ExchangeVersion::V2016 | ExchangeVersion::V2019 => "V2017_07_11",
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><h:ServerVersionInfo MajorVersion=\"{major}\" MinorVersion=\"{minor}\" MajorBuildNumber=\"{build}\" MinorBuildNumber=\"7\" Version=\"{api}\" xmlns:h=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// Operations whose answer is one message in the `...Response` element itself, not a list of
/// `...ResponseMessage`s.
const SINGLE_MESSAGE_OPS: &[&str] = &[
    "GetRoomLists",
    "GetRooms",
    "GetPasswordExpirationDate",
    "GetInboxRules",
    "UpdateInboxRules",
    "FindPeople",
    "GetSearchableMailboxes",
    "GetDiscoverySearchConfiguration",
    "GetHoldOnMailboxes",
    "SetHoldOnMailboxes",
    "GetUserPhoto",
];

/// One error response message for `op`, shaped as Exchange shapes that operation's answer.
fn ews_error(version: ExchangeVersion, op: &str, code: &str, text: &str) -> String {
    let inner = format!(
        "<m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>",
        esc(text)
    );
    let body = if SINGLE_MESSAGE_OPS.contains(&op) {
        format!("<m:{op}Response ResponseClass=\"Error\" {EWS_NS}>{inner}</m:{op}Response>")
    } else {
        format!(
            "<m:{op}Response {EWS_NS}><m:ResponseMessages><m:{op}ResponseMessage ResponseClass=\"Error\">{inner}</m:{op}ResponseMessage></m:ResponseMessages></m:{op}Response>"
        )
    };
    ews_envelope(version, &body)
}

/// A SOAP fault with an EWS response code (schema and version errors come this way).
fn ews_fault(code: &str, text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode xmlns:a=\"http://schemas.microsoft.com/exchange/services/2006/types\">a:{code}</faultcode><faultstring xml:lang=\"en-US\">{t}</faultstring><detail><e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{code}</e:ResponseCode><e:Message xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{t}</e:Message></detail></s:Fault></s:Body></s:Envelope>",
        t = esc(text)
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
    /// Whether a copy was saved in the sender's Sent Items (`SendAndSaveCopy`).
    #[serde(default)]
    pub saved_copy: bool,
}

/// What an EWS request did.
pub enum EwsOutcome {
    /// A response to return, and a message to put into the outbox when one was sent.
    Reply(u16, String, Option<SentMail>),
}

/// The distinguished folders the lab's mailboxes have: id, display name, folder class.
const FOLDERS: &[(&str, &str, &str)] = &[
    ("root", "Top of Information Store", ""),
    ("msgfolderroot", "Top of Information Store", "IPF.Note"),
    ("inbox", "Inbox", "IPF.Note"),
    ("sentitems", "Sent Items", "IPF.Note"),
    ("outbox", "Outbox", "IPF.Note"),
    ("drafts", "Drafts", "IPF.Note"),
    ("deleteditems", "Deleted Items", "IPF.Note"),
    ("junkemail", "Junk Email", "IPF.Note"),
];

const CHANGE_KEY: &str = "CQAAABYAAAA=";

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    String::from_utf8(b).ok()
}

fn folder_id(alias: &str, folder: &str) -> String {
    b64(&format!("LAB-FOLDER:{alias}:{folder}"))
}

fn item_id(mail: u64) -> String {
    b64(&format!("LAB-ITEM:{mail}"))
}

/// One mailbox's view of the lab's mail: what is in its folders.
struct Mailbox<'a> {
    alias: &'a str,
    smtp: &'a str,
    mail: &'a [SentMail],
}

impl Mailbox<'_> {
    /// The mail in `folder`, oldest first.
    fn items(&self, folder: &str) -> Vec<&SentMail> {
        self.mail
            .iter()
            .filter(|m| match folder {
                "inbox" => m.to.iter().any(|t| t.eq_ignore_ascii_case(self.smtp)),
                "sentitems" => m.saved_copy && m.from.eq_ignore_ascii_case(self.smtp),
                _ => false,
            })
            .collect()
    }

    /// `DistinguishedFolderId Id` or one of our `FolderId Id`s to the folder's name.
    fn resolve(&self, distinguished: Option<&str>, id: Option<&str>) -> Option<&'static str> {
        let name = match (distinguished, id) {
            (Some(d), _) => d.to_string(),
            (None, Some(id)) => {
                let raw = unb64(id)?;
                let rest = raw.strip_prefix("LAB-FOLDER:")?;
                let (alias, name) = rest.split_once(':')?;
                if !alias.eq_ignore_ascii_case(self.alias) {
                    return None;
                }
                name.to_string()
            }
            (None, None) => return None,
        };
        FOLDERS.iter().find(|f| f.0 == name).map(|f| f.0)
    }

    fn folder_xml(&self, folder: &str) -> String {
        let (_, display, class) = FOLDERS
            .iter()
            .find(|f| f.0 == folder)
            .copied()
            .unwrap_or((folder, folder, "IPF.Note"));
        let total = self.items(folder).len();
        format!(
            "<t:Folder><t:FolderId Id=\"{}\" ChangeKey=\"{CHANGE_KEY}\"/><t:ParentFolderId Id=\"{}\" ChangeKey=\"{CHANGE_KEY}\"/><t:FolderClass>{class}</t:FolderClass><t:DisplayName>{display}</t:DisplayName><t:TotalCount>{total}</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>",
            esc(&folder_id(self.alias, folder)),
            esc(&folder_id(self.alias, "msgfolderroot")),
        )
    }

    fn item_xml(&self, m: &SentMail, folder: &str, full: bool) -> String {
        let when = time::OffsetDateTime::from_unix_timestamp(m.time)
            .map(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let mbx = |a: &str| {
            format!(
                "<t:Mailbox><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>",
                esc(a)
            )
        };
        let mut x = format!(
            "<t:Message><t:ItemId Id=\"{}\" ChangeKey=\"{CHANGE_KEY}\"/><t:ParentFolderId Id=\"{}\" ChangeKey=\"{CHANGE_KEY}\"/><t:ItemClass>IPM.Note</t:ItemClass><t:Subject>{}</t:Subject><t:Sensitivity>Normal</t:Sensitivity><t:DateTimeReceived>{when}</t:DateTimeReceived><t:Size>{}</t:Size><t:Importance>Normal</t:Importance><t:IsSubmitted>false</t:IsSubmitted><t:IsDraft>false</t:IsDraft><t:IsFromMe>{}</t:IsFromMe><t:DateTimeSent>{when}</t:DateTimeSent><t:DateTimeCreated>{when}</t:DateTimeCreated><t:HasAttachments>false</t:HasAttachments>",
            esc(&item_id(m.id)),
            esc(&folder_id(self.alias, folder)),
            esc(&m.subject),
            m.body.len() + m.subject.len() + 200,
            folder == "sentitems",
        );
        if full {
            x.push_str(&format!(
                "<t:Body BodyType=\"{}\">{}</t:Body><t:ToRecipients>{}</t:ToRecipients>",
                if m.body_type.eq_ignore_ascii_case("html") {
                    "HTML"
                } else {
                    "Text"
                },
                esc(&m.body),
                m.to.iter().map(|t| mbx(t)).collect::<String>()
            ));
        }
        x.push_str(&format!(
            "<t:From>{}</t:From><t:IsRead>true</t:IsRead></t:Message>",
            mbx(&m.from)
        ));
        x
    }
}

/// The lab's mail: every message in the outbox folder (`<id>.json`), oldest first. A file that
/// does not parse is left out.
pub fn load_mail(outbox: &Path) -> Vec<SentMail> {
    let mut paths: Vec<_> = std::fs::read_dir(outbox)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

/// The operation a SOAP request asks for: the first element in its `Body`.
fn operation(req: &crate::wire::xmlscan::Scanned) -> Option<&str> {
    let at = req.elements.iter().position(|(e, _)| e == "Body")?;
    req.elements.get(at + 1).map(|(e, _)| e.as_str())
}

/// Handle an EWS SOAP request from `account`, with `mail` the lab's sent mail (what the
/// mailboxes' Inbox and Sent Items hold). Every operation gets its own response element; those
/// the lab does not implement get Exchange's `ErrorInvalidOperation` in it.
pub fn ews(
    org: &Org,
    account: &Account,
    body: &[u8],
    mail: &[SentMail],
    next_id: u64,
    now: i64,
) -> EwsOutcome {
    let version = org.version;
    let reply = |code: u16, xml: String| EwsOutcome::Reply(code, xml, None);
    let Some(req) = scan(body) else {
        return reply(
            500,
            ews_fault(
                "ErrorSchemaValidation",
                "The request failed schema validation: the XML is not well-formed.",
            ),
        );
    };
    let Some(op) = operation(&req).map(str::to_string) else {
        return reply(
            500,
            ews_fault(
                "ErrorSchemaValidation",
                "The request failed schema validation: the SOAP Body holds no operation.",
            ),
        );
    };
    // A client newer than the server asks with a version the server does not know.
    let asked = req
        .attr("RequestServerVersion", "Version")
        .unwrap_or("Exchange2007_SP1");
    let rank = |v: &str| API_VERSIONS.iter().position(|a| *a == v);
    if rank(asked).is_none_or(|r| Some(r) > rank(newest_api(version))) {
        return reply(
            500,
            ews_fault(
                "ErrorInvalidServerVersion",
                "The specified server version is invalid.",
            ),
        );
    }
    let Some(own) = account
        .mailbox
        .as_deref()
        .and_then(|a| org.find_mailbox(a))
        .map(|i| &org.mailboxes[i as usize])
    else {
        return reply(
            500,
            ews_error(version, &op, "ErrorNonExistentMailbox", &format!("The SMTP address has no mailbox associated with it: account {} has no mailbox.", account.user)),
        );
    };
    let mbx = Mailbox {
        alias: &own.alias,
        smtp: &own.primary_smtp,
        mail,
    };
    let ok = |op: &str, messages: Vec<String>| {
        ews_envelope(
            version,
            &format!(
                "<m:{op}Response {EWS_NS}><m:ResponseMessages>{}</m:ResponseMessages></m:{op}Response>",
                messages.concat()
            ),
        )
    };
    let success = |op: &str, inner: &str| {
        format!("<m:{op}ResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>{inner}</m:{op}ResponseMessage>")
    };
    let failure = |op: &str, code: &str, text: &str| {
        format!("<m:{op}ResponseMessage ResponseClass=\"Error\"><m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{op}ResponseMessage>", esc(text))
    };
    // The folder ids a request names, in order: (distinguished id, folder id).
    let folder_refs = || -> Vec<(Option<String>, Option<String>)> {
        req.elements
            .iter()
            .filter(|(e, _)| e == "DistinguishedFolderId" || e == "FolderId")
            .map(|(e, a)| {
                let id = a.iter().find(|(k, _)| k == "Id").map(|(_, v)| v.clone());
                if e == "DistinguishedFolderId" {
                    (id, None)
                } else {
                    (None, id)
                }
            })
            .collect()
    };
    match op.as_str() {
        "ConvertId" => {
            // Ids the lab issued convert to themselves; any other is malformed, as on Exchange.
            let msgs = req
                .elements
                .iter()
                .filter(|(e, _)| e == "AlternateId")
                .map(|(_, a)| {
                    let id = a.iter().find(|(k, _)| k == "Id").map(|(_, v)| v.as_str());
                    match id.and_then(unb64) {
                        Some(raw) if raw.starts_with("LAB-") => success(
                            "ConvertId",
                            &format!(
                                "<m:AlternateId xsi:type=\"t:AlternateIdType\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Format=\"EwsId\" Id=\"{}\" Mailbox=\"{}\"/>",
                                esc(id.unwrap_or_default()),
                                esc(mbx.smtp)
                            ),
                        ),
                        _ => failure("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed."),
                    }
                })
                .collect();
            reply(200, ok("ConvertId", msgs))
        }
        "GetFolder" => {
            let msgs = folder_refs()
                .into_iter()
                .map(|(d, id)| match mbx.resolve(d.as_deref(), id.as_deref()) {
                    Some(f) => success("GetFolder", &format!("<m:Folders>{}</m:Folders>", mbx.folder_xml(f))),
                    None => failure("GetFolder", "ErrorFolderNotFound", "The specified folder could not be found in the store."),
                })
                .collect();
            reply(200, ok("GetFolder", msgs))
        }
        "FindItem" => {
            let max = req
                .attr("IndexedPageItemView", "MaxEntriesReturned")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let offset = req
                .attr("IndexedPageItemView", "Offset")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let newest_first = req.attr("FieldOrder", "Order") == Some("Descending");
            let msgs = folder_refs()
                .into_iter()
                .map(|(d, id)| match mbx.resolve(d.as_deref(), id.as_deref()) {
                    Some(f) => {
                        let mut items = mbx.items(f);
                        if newest_first {
                            items.reverse();
                        }
                        let total = items.len();
                        let page: Vec<&SentMail> = items.into_iter().skip(offset).take(max).collect();
                        let last = offset.saturating_add(page.len()) >= total;
                        success(
                            "FindItem",
                            &format!(
                                "<m:RootFolder IndexedPagingOffset=\"{}\" TotalItemsInView=\"{total}\" IncludesLastItemInRange=\"{last}\"><t:Items>{}</t:Items></m:RootFolder>",
                                offset.saturating_add(page.len()),
                                page.iter().map(|m| mbx.item_xml(m, f, false)).collect::<String>()
                            ),
                        )
                    }
                    None => failure("FindItem", "ErrorFolderNotFound", "The specified folder could not be found in the store."),
                })
                .collect();
            reply(200, ok("FindItem", msgs))
        }
        "GetItem" => {
            let msgs = req
                .elements
                .iter()
                .filter(|(e, _)| e == "ItemId")
                .map(|(_, a)| {
                    let id = a.iter().find(|(k, _)| k == "Id").map(|(_, v)| v.as_str());
                    let found = id
                        .and_then(unb64)
                        .and_then(|raw| raw.strip_prefix("LAB-ITEM:")?.parse::<u64>().ok())
                        .and_then(|n| {
                            ["sentitems", "inbox"].into_iter().find_map(|f| {
                                mbx.items(f).into_iter().find(|m| m.id == n).map(|m| (m, f))
                            })
                        });
                    match found {
                        Some((m, f)) => success("GetItem", &format!("<m:Items>{}</m:Items>", mbx.item_xml(m, f, true))),
                        None => failure("GetItem", "ErrorItemNotFound", "The specified object was not found in the store."),
                    }
                })
                .collect();
            reply(200, ok("GetItem", msgs))
        }
        "CreateItem" => create_item(&req, account, &mbx, next_id, now, |msg| ok("CreateItem", vec![msg]), version),
        other => reply(
            200,
            ews_error(
                version,
                other,
                "ErrorInvalidOperation",
                &format!("The operation {other} is not available on this lab server; it answers ConvertId, GetFolder, FindItem, GetItem and CreateItem."),
            ),
        ),
    }
}

/// `CreateItem`: a message sent with `SendAndSaveCopy` or `SendOnly` goes to the outbox (the
/// former with its copy in Sent Items); `SaveOnly` answers with the new item's id but the lab
/// keeps no drafts. The one place that decides what a sent message holds.
fn create_item(
    req: &crate::wire::xmlscan::Scanned,
    account: &Account,
    mbx: &Mailbox<'_>,
    next_id: u64,
    now: i64,
    wrap: impl Fn(String) -> String,
    version: ExchangeVersion,
) -> EwsOutcome {
    let disposition = req
        .attr("CreateItem", "MessageDisposition")
        .unwrap_or("SaveOnly");
    let to: Vec<String> = req
        .all_texts("ToRecipients/Mailbox/EmailAddress")
        .map(str::to_string)
        .collect();
    let sends = disposition == "SendAndSaveCopy" || disposition == "SendOnly";
    if to.is_empty() && sends {
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
        None => mbx.smtp.to_string(),
        Some(f) if account.may_send_as(f, mbx.smtp) => f.to_string(),
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
    // Sent mail comes back as an empty <Items/>, as Exchange answers; a saved draft with its id.
    let items = if sends {
        "<m:Items />".to_string()
    } else {
        format!(
            "<m:Items><t:Message><t:ItemId Id=\"{}\" ChangeKey=\"{CHANGE_KEY}\"/></t:Message></m:Items>",
            esc(&item_id(next_id))
        )
    };
    let ok = wrap(format!("<m:CreateItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>{items}</m:CreateItemResponseMessage>"));
    let sent = sends.then(|| SentMail {
        id: next_id,
        time: now,
        from,
        to,
        subject,
        body_type,
        body: body_text,
        sent_by: account.user.clone(),
        saved_copy: disposition == "SendAndSaveCopy",
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
            &[],
            1,
            5,
        );
        assert!(body.contains("ResponseClass=\"Success\""), "{body}");
        assert_eq!(sent.unwrap().from, "IT-Helpdesk@contoso.test");
        let EwsOutcome::Reply(code, body, sent) = ews(
            &org,
            &acc.notification,
            req("ceo@contoso.test").as_bytes(),
            &[],
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
            &[],
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
            ews(&org, &acc.notification, req.as_bytes(), &[], 1, 5);
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
            &[],
            2,
            5,
        );
        assert!(
            body.contains("ErrorInvalidRecipients") && sent.is_none(),
            "{body}"
        );
        let EwsOutcome::Reply(code, body, _) = ews(&org, &acc.limited, req.as_bytes(), &[], 3, 5);
        assert_eq!(code, 500);
        assert!(body.contains("ErrorNonExistentMailbox"));
    }
}
