//! Notifications: when a device becomes blocked or quarantined, its user gets one mail —
//! which device, why, and what to do — sent through EWS from the notification account.
//!
//! Messages come from templates in English, Dutch and French; a file
//! `Templates/<lang>/<blocked|quarantined>.html` in the organization folder (first line
//! `Subject: …`, then the HTML body) overrides the built-in one. Every value put into a
//! template is HTML-escaped; the only markup made from data is a link: the policy's
//! `enroll_url` (`{{enroll_link}}`, and a sentence with it in the built-in quarantine mail)
//! and the `http(s)://` URLs in the organization's own words (`{{instructions}}`), each
//! checked to be an http or https URL and attribute-escaped in its `href`. Mail may be sent
//! as another address (the policy's `send_as`, EWS `From`), which needs the SendAs right. Mails wait in a persistent
//! queue (`NotificationQueue.json`): written before any attempt, removed only after EWS
//! accepted the message, retried with back-off on later syncs; a failure never stops or
//! delays enforcement and never loses a message. Which state a user was told about is kept
//! by the engine, so each state change is mailed once, not on every sync.

use crate::config::OrgFile;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::policy::Action;
use crate::exchange::client::{Credentials, Session};
use crate::exchange::ews::{Ews, Mail};
use crate::exchange::http::{ConnectOptions, Endpoint};

/// What a template is filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFacts {
    pub user: String,
    pub device: String,
    pub device_type: String,
    pub device_model: String,
    pub device_id: String,
    pub action: Action,
    pub reason: String,
    /// The organization's own words (UserMailInsert), may be empty.
    pub instructions: String,
}

const EN_BLOCKED: &str = "Subject: Your device {{device}} can no longer sync with your mailbox\n\n<p>Hello {{user}},</p><p>Your device <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) has been <b>blocked</b> from synchronizing mail, calendar and contacts.</p><p>Reason: {{reason}}.</p><p>What to do: contact your IT helpdesk if you need this device; a blocked device stays blocked until IT changes the policy.</p><p>{{instructions}}</p>";
const EN_QUARANTINED: &str = "Subject: Your device {{device}} is waiting for approval\n\n<p>Hello {{user}},</p><p>Your device <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) has been put in <b>quarantine</b>: it cannot sync mail, calendar and contacts until it is approved.</p><p>Reason: {{reason}}.</p><p>What to do: enroll the device in device management (or ask your IT helpdesk to approve it). It will sync again within minutes after approval.</p>{{enroll_paragraph}}<p>{{instructions}}</p>";
const NL_BLOCKED: &str = "Subject: Uw apparaat {{device}} kan niet meer synchroniseren met uw mailbox\n\n<p>Beste {{user}},</p><p>Uw apparaat <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) is <b>geblokkeerd</b> voor het synchroniseren van e-mail, agenda en contactpersonen.</p><p>Reden: {{reason}}.</p><p>Wat te doen: neem contact op met uw IT-helpdesk als u dit apparaat nodig hebt; een geblokkeerd apparaat blijft geblokkeerd tot IT het beleid wijzigt.</p><p>{{instructions}}</p>";
const NL_QUARANTINED: &str = "Subject: Uw apparaat {{device}} wacht op goedkeuring\n\n<p>Beste {{user}},</p><p>Uw apparaat <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) staat in <b>quarantaine</b>: het kan geen e-mail, agenda en contactpersonen synchroniseren tot het is goedgekeurd.</p><p>Reden: {{reason}}.</p><p>Wat te doen: meld het apparaat aan bij apparaatbeheer (of vraag uw IT-helpdesk om goedkeuring). Na goedkeuring synchroniseert het binnen enkele minuten weer.</p>{{enroll_paragraph}}<p>{{instructions}}</p>";
const FR_BLOCKED: &str = "Subject: Votre appareil {{device}} ne peut plus se synchroniser avec votre boîte aux lettres\n\n<p>Bonjour {{user}},</p><p>Votre appareil <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) a été <b>bloqué</b> : il ne peut plus synchroniser la messagerie, le calendrier et les contacts.</p><p>Motif : {{reason}}.</p><p>Que faire : contactez votre support informatique si vous avez besoin de cet appareil ; il restera bloqué tant que la stratégie n’est pas modifiée.</p><p>{{instructions}}</p>";
const FR_QUARANTINED: &str = "Subject: Votre appareil {{device}} attend une approbation\n\n<p>Bonjour {{user}},</p><p>Votre appareil <b>{{device}}</b> ({{device_model}}, ID {{device_id}}) a été mis en <b>quarantaine</b> : il ne peut pas synchroniser la messagerie, le calendrier et les contacts avant d’être approuvé.</p><p>Motif : {{reason}}.</p><p>Que faire : inscrivez l’appareil dans la gestion des appareils (ou demandez son approbation au support informatique). Il se synchronisera à nouveau quelques minutes après l’approbation.</p>{{enroll_paragraph}}<p>{{instructions}}</p>";

/// The built-in template for a language and action (`en` when the language is unknown).
pub fn builtin(language: &str, action: Action) -> &'static str {
    match (language, action) {
        ("nl", Action::Block) => NL_BLOCKED,
        ("nl", _) => NL_QUARANTINED,
        ("fr", Action::Block) => FR_BLOCKED,
        ("fr", _) => FR_QUARANTINED,
        (_, Action::Block) => EN_BLOCKED,
        (_, _) => EN_QUARANTINED,
    }
}

fn template_file(org_dir: &Path, language: &str, action: Action) -> PathBuf {
    org_dir.join("Templates").join(language).join(match action {
        Action::Block => "blocked.html",
        _ => "quarantined.html",
    })
}

/// Escaped for HTML text and double- or single-quoted attribute values.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A clickable link to `url` (already checked to be http or https), showing `text`.
fn anchor(url: &url::Url, text: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        html_escape(url.as_str()),
        html_escape(text)
    )
}

/// Admin text as HTML: escaped, with each `http://` or `https://` URL in it made a link
/// (the URL ends at white space, a quote or an angle bracket; trailing punctuation stays
/// text). Anything that does not parse as such a URL stays text.
pub fn linkify(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    loop {
        let start = ["https://", "http://"]
            .iter()
            .filter_map(|p| {
                rest.char_indices().map(|(i, _)| i).find(|&i| {
                    rest[i..]
                        .get(..p.len())
                        .is_some_and(|s| s.eq_ignore_ascii_case(p))
                })
            })
            .min();
        let Some(start) = start else {
            out.push_str(&html_escape(rest));
            return out;
        };
        out.push_str(&html_escape(&rest[..start]));
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        let candidate = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        match super::policy::web_link(candidate) {
            Ok(u) if !candidate.is_empty() => out.push_str(&anchor(&u, candidate)),
            _ => out.push_str(&html_escape(candidate)),
        }
        rest = &tail[candidate.len()..];
    }
}

/// The sentence with the enrollment link in the built-in quarantine mails.
fn enroll_sentence(language: &str) -> &'static str {
    match language {
        "nl" => "Meld uw apparaat hier aan:",
        "fr" => "Inscrivez votre appareil ici :",
        _ => "Enroll your device here:",
    }
}

/// Subject and HTML body for `facts`, from the org folder's template or the built-in one;
/// `enroll_url` (the policy's, already checked) fills `{{enroll_link}}`, `{{enroll_url}}` and
/// `{{enroll_paragraph}}` (all empty without one).
pub fn render(
    org_dir: &Path,
    language: &str,
    enroll_url: Option<&url::Url>,
    facts: &MailFacts,
) -> (String, String) {
    let custom = std::fs::read_to_string(template_file(org_dir, language, facts.action)).ok();
    let template = custom
        .as_deref()
        .unwrap_or_else(|| builtin(language, facts.action));
    let (subject, body) = match template.split_once('\n') {
        Some((first, rest)) if first.trim_start().starts_with("Subject:") => (
            first.trim_start().trim_start_matches("Subject:").trim(),
            rest.trim_start_matches(['\r', '\n']),
        ),
        _ => ("Your mobile device's access to your mailbox", template),
    };
    let link = enroll_url.map(|u| anchor(u, u.as_str()));
    let fill = |t: &str, escape: bool| {
        let e = |s: &str| {
            if escape {
                html_escape(s)
            } else {
                s.to_string()
            }
        };
        let (enroll_link, enroll_text, enroll_paragraph, instructions) = if escape {
            (
                link.clone().unwrap_or_default(),
                enroll_url
                    .map(|u| html_escape(u.as_str()))
                    .unwrap_or_default(),
                link.as_ref()
                    .map(|l| format!("<p>{} {l}</p>", enroll_sentence(language)))
                    .unwrap_or_default(),
                linkify(&facts.instructions),
            )
        } else {
            let url = enroll_url.map(|u| u.to_string()).unwrap_or_default();
            (url.clone(), url, String::new(), facts.instructions.clone())
        };
        t.replace("{{enroll_link}}", &enroll_link)
            .replace("{{enroll_url}}", &enroll_text)
            .replace("{{enroll_paragraph}}", &enroll_paragraph)
            .replace("{{user}}", &e(&facts.user))
            .replace("{{device}}", &e(&facts.device))
            .replace("{{device_type}}", &e(&facts.device_type))
            .replace("{{device_model}}", &e(&facts.device_model))
            .replace("{{device_id}}", &e(&facts.device_id))
            .replace("{{state}}", &e(facts.action.as_str()))
            .replace("{{reason}}", &e(&facts.reason))
            .replace("{{instructions}}", &instructions)
    };
    (fill(subject, false), fill(body, true))
}

/// A mail waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    pub id: String,
    pub device_id: String,
    pub to: String,
    pub subject: String,
    pub html_body: String,
    pub queued_at: String,
    /// Sent as this address (EWS `From`), else as the notification mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub attempts: u32,
    /// Unix seconds before which it is not tried again.
    pub not_before: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The persistent queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub mails: Vec<QueuedMail>,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Queue {
    pub fn path(org_dir: &Path) -> PathBuf {
        org_dir.join(OrgFile::NotificationQueue.name())
    }

    /// Read the queue; a damaged file is kept aside (`.damaged`) rather than overwritten.
    pub fn load(org_dir: &Path) -> std::io::Result<Queue> {
        let path = Self::path(org_dir);
        match std::fs::read(&path) {
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(q) => Ok(q),
                Err(e) => {
                    let aside = path.with_extension("json.damaged");
                    std::fs::rename(&path, &aside)?;
                    tracing::error!(
                        "{} was damaged ({e}); kept as {}",
                        path.display(),
                        aside.display()
                    );
                    Ok(Queue::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Queue::default()),
            Err(e) => Err(e),
        }
    }

    /// Change the queue on disk: load, `change`, save, under the file's lock (the sync that
    /// queues mail and any process that drains it may run at once).
    pub fn update<T>(org_dir: &Path, change: impl FnOnce(&mut Queue) -> T) -> std::io::Result<T> {
        let path = Self::path(org_dir);
        let _writer = crate::config::store::lock(&path, crate::config::store::LOCK_WAIT)
            .map_err(std::io::Error::other)?;
        let mut q = Self::load(org_dir)?;
        let out = change(&mut q);
        q.save(org_dir)?;
        Ok(out)
    }

    pub fn save(&self, org_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::config::store::write_private(&Self::path(org_dir), &json)
    }

    pub fn push(&mut self, device_id: &str, to: &str, subject: String, html_body: String) {
        self.push_as(device_id, to, None, subject, html_body);
    }

    /// Queue a mail sent as `from` (see [`QueuedMail::from`]).
    pub fn push_as(
        &mut self,
        device_id: &str,
        to: &str,
        from: Option<&str>,
        subject: String,
        html_body: String,
    ) {
        self.mails.push(QueuedMail {
            id: uuid::Uuid::new_v4().to_string(),
            device_id: device_id.to_string(),
            to: to.to_string(),
            subject,
            html_body,
            queued_at: super::audit::now_rfc3339(),
            from: from.map(str::to_string),
            attempts: 0,
            not_before: 0,
            last_error: None,
        });
    }
}

/// Sends one mail.
pub trait MailSender: Send {
    fn send<'a>(
        &'a mut self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// How to reach EWS for the notification account.
#[derive(Debug, Clone)]
pub struct EwsSettings {
    /// `ExchangeWebServiceURL`; Autodiscover when `None`.
    pub ews_url: Option<String>,
    /// The notification mailbox (for Autodiscover).
    pub mailbox: String,
    /// The configured CAS (`host[:port]`), tried first by Autodiscover.
    pub cas: Option<String>,
    pub connect: ConnectOptions,
    pub credentials: Credentials,
}

/// Sends through EWS, finding the URL once.
pub struct EwsSender {
    settings: EwsSettings,
    client: Option<Ews>,
}

impl EwsSender {
    pub fn new(settings: EwsSettings) -> Self {
        EwsSender {
            settings,
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&mut Ews, String> {
        if self.client.is_none() {
            let url = match &self.settings.ews_url {
                Some(u) => u.clone(),
                None => {
                    crate::exchange::autodiscover::discover(
                        &self.settings.mailbox,
                        self.settings.cas.as_deref(),
                        &self.settings.connect,
                        &self.settings.credentials,
                    )
                    .await
                    .map_err(|e| e.to_string())?
                    .ews_url
                }
            };
            let ep = Endpoint::parse(&url).map_err(|e| e.to_string())?;
            let path = ep.path.clone();
            self.client = Some(Ews::new(
                Session::connect(
                    ep,
                    self.settings.connect.clone(),
                    &self.settings.credentials,
                ),
                &path,
            ));
        }
        self.client.as_mut().ok_or_else(|| "no EWS client".into())
    }
}

impl MailSender for EwsSender {
    fn send<'a>(
        &'a mut self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let r = self.client().await?.send(mail).await;
            if r.is_err() {
                // Rediscover and reconnect next time.
                self.client = None;
            }
            r.map_err(|e| match (&e, &mail.from) {
                (crate::exchange::ews::EwsError::Response { code, .. }, Some(from))
                    if code == "ErrorSendAsDenied" =>
                {
                    format!(
                        "{e} — the notification account {} has no SendAs right on {from}: grant it (Add-ADPermission -Identity <{from}'s mailbox or group> -User <account> -ExtendedRights \"Send As\"), or remove send_as from the access policy's [notifications]",
                        self.settings.credentials.user
                    )
                }
                _ => e.to_string(),
            })
        })
    }
}

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainReport {
    pub sent: usize,
    pub failed: usize,
    /// Still queued afterwards.
    pub queued: usize,
}

/// How long a mail taken for sending stays out of other senders' reach: a process killed
/// while sending leaves it due again after this.
const CLAIM_SECS: i64 = 600;

/// Try the due mails of the queue, within `budget`. Every change to the queue file is a
/// read-modify-write under its lock, by mail id, so a sync queueing mail (or another process
/// draining the same queue) meanwhile loses nothing: the due mails are first claimed (taken out
/// of reach for [`CLAIM_SECS`]), then sent one by one outside the lock, each removed (or
/// rescheduled) as soon as its result is known. A crash sends nothing twice but the one in
/// flight.
pub async fn drain(
    org_dir: &Path,
    sender: &mut dyn MailSender,
    budget: Duration,
) -> std::io::Result<DrainReport> {
    let started = Instant::now();
    let mut report = DrainReport::default();
    let now = unix_now();
    // Claim what is due: (mail, when it was due, to restore if it is not tried).
    let mut claimed: Vec<(QueuedMail, i64)> = Vec::new();
    Queue::update(org_dir, |q| {
        for m in q.mails.iter_mut().filter(|m| m.not_before <= now) {
            claimed.push((m.clone(), m.not_before));
            m.not_before = now + CLAIM_SECS;
        }
    })?;
    let mut claimed = claimed.into_iter();
    for (m, _) in claimed.by_ref() {
        let mail = Mail {
            to: vec![m.to.clone()],
            subject: m.subject.clone(),
            html_body: m.html_body.clone(),
            from: m.from.clone(),
        };
        match sender.send(&mail).await {
            Ok(()) => {
                Queue::update(org_dir, |q| q.mails.retain(|x| x.id != m.id))?;
                report.sent += 1;
            }
            Err(e) => {
                let attempts = m.attempts + 1;
                let wait = 60i64 << attempts.min(6);
                tracing::warn!(
                    "notification to {} failed (attempt {attempts}): {e}; retried later",
                    m.to
                );
                Queue::update(org_dir, |q| {
                    if let Some(x) = q.mails.iter_mut().find(|x| x.id == m.id) {
                        x.attempts = attempts;
                        x.not_before = unix_now() + wait.min(3600);
                        x.last_error = Some(e);
                    }
                })?;
                report.failed += 1;
                // The server is likely down: leave the rest for the next sync.
                break;
            }
        }
        if started.elapsed() > budget {
            break;
        }
    }
    // What was claimed but not tried is due again at once.
    let untried: Vec<(String, i64)> = claimed.map(|(m, due)| (m.id, due)).collect();
    let queued = Queue::update(org_dir, |q| {
        for (id, due) in &untried {
            if let Some(x) = q.mails.iter_mut().find(|x| &x.id == id) {
                x.not_before = *due;
            }
        }
        q.mails.len()
    })?;
    report.queued = queued;
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn facts(action: Action) -> MailFacts {
        MailFacts {
            user: "Anna <x>".into(),
            device: "anna_iPhone".into(),
            device_type: "iPhone".into(),
            device_model: "iPhone15C2".into(),
            device_id: "ApplX".into(),
            action,
            reason: "rule \"Old iOS\"".into(),
            instructions: "Enroll at https://mdm".into(),
        }
    }

    #[test]
    fn templates_in_three_languages_and_overrides() {
        let d = tempfile::tempdir().unwrap();
        let (s, b) = render(d.path(), "en", None, &facts(Action::Block));
        assert_eq!(
            s,
            "Your device anna_iPhone can no longer sync with your mailbox"
        );
        assert!(b.contains("Anna &lt;x&gt;") && b.contains("blocked") && b.contains("https://mdm"));
        let (s, _) = render(d.path(), "nl", None, &facts(Action::Quarantine));
        assert!(s.contains("wacht op goedkeuring"));
        let (s, _) = render(d.path(), "fr", None, &facts(Action::Block));
        assert!(s.starts_with("Votre appareil"));
        let t = d.path().join("Templates/en");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(
            t.join("blocked.html"),
            "Subject: Nope {{device}}\n\n<p>{{reason}}</p>",
        )
        .unwrap();
        let (s, b) = render(d.path(), "en", None, &facts(Action::Block));
        assert_eq!(
            (s.as_str(), b.as_str()),
            ("Nope anna_iPhone", "<p>rule &quot;Old iOS&quot;</p>")
        );
    }

    #[test]
    fn links_are_real_anchors_and_admin_text_stays_text() {
        let d = tempfile::tempdir().unwrap();
        let url =
            super::super::policy::web_link("https://mdm.contoso.com/enroll?a=1&b=\"x\"").unwrap();
        let mut f = facts(Action::Quarantine);
        f.instructions =
            "Questions? <script>alert(1)</script> See https://help.contoso.com/eas, or javascript:alert(1).".into();
        let (_, b) = render(d.path(), "en", Some(&url), &f);
        assert!(
            b.contains("<p>Enroll your device here: <a href=\"https://mdm.contoso.com/enroll?a=1&amp;b=%22x%22\">https://mdm.contoso.com/enroll?a=1&amp;b=%22x%22</a></p>"),
            "{b}"
        );
        assert!(
            b.contains("See <a href=\"https://help.contoso.com/eas\">https://help.contoso.com/eas</a>, or javascript:alert(1).</p>"),
            "{b}"
        );
        assert!(
            b.contains("&lt;script&gt;") && !b.contains("<script>"),
            "{b}"
        );
        // Without a URL the sentence is left out; Dutch and French have their own.
        let (_, b) = render(d.path(), "en", None, &f);
        assert!(!b.contains("Enroll your device here"), "{b}");
        let (_, b) = render(d.path(), "nl", Some(&url), &f);
        assert!(b.contains("Meld uw apparaat hier aan: <a href="), "{b}");
        // A custom template places the link itself.
        let t = d.path().join("Templates/en");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(
            t.join("quarantined.html"),
            "Subject: Enroll {{device}}\n\n<p>Go to {{enroll_link}} ({{enroll_url}})</p>",
        )
        .unwrap();
        let (s, b) = render(d.path(), "en", Some(&url), &f);
        assert_eq!(s, "Enroll anna_iPhone");
        assert!(
            b.starts_with("<p>Go to <a href=\"https://mdm.contoso.com/enroll?"),
            "{b}"
        );
    }

    #[test]
    fn only_http_and_https_urls_become_links() {
        assert_eq!(
            linkify("a http://x.test/p?q=<b> b"),
            "a <a href=\"http://x.test/p?q=\">http://x.test/p?q=</a>&lt;b&gt; b"
        );
        assert_eq!(linkify("https:// nothing"), "https:// nothing");
        assert_eq!(
            linkify("HTTPS://X.test."),
            "<a href=\"https://x.test/\">HTTPS://X.test</a>."
        );
        assert_eq!(linkify("ftp://x.test"), "ftp://x.test");
        assert_eq!(linkify("it's \"fine\""), "it&#39;s &quot;fine&quot;");
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "mailto:a@b.c",
            "https://u:p@x.test",
            "/relative",
        ] {
            assert!(super::super::policy::web_link(bad).is_err(), "{bad}");
        }
    }

    struct Flaky(usize, Vec<String>);
    impl MailSender for Flaky {
        fn send<'a>(
            &'a mut self,
            mail: &'a Mail,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
            Box::pin(async move {
                if self.0 > 0 {
                    self.0 -= 1;
                    return Err("down".into());
                }
                self.1.push(mail.to[0].clone());
                Ok(())
            })
        }
    }

    /// A sync that queues mail while another process drains the queue (the sender pushes one
    /// per send, as such a sync would): nothing it queued is lost.
    struct Meanwhile(std::path::PathBuf, Vec<String>);
    impl MailSender for Meanwhile {
        fn send<'a>(
            &'a mut self,
            mail: &'a Mail,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
            Box::pin(async move {
                Queue::update(&self.0, |q| q.push("D9", "late@x", "s".into(), "b".into())).unwrap();
                self.1.push(mail.to[0].clone());
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn mail_queued_while_the_queue_is_drained_is_kept() {
        let d = tempfile::tempdir().unwrap();
        Queue::update(d.path(), |q| {
            q.push("D1", "a@x", "s".into(), "b".into());
            q.push("D2", "b@x", "s".into(), "b".into());
        })
        .unwrap();
        let mut s = Meanwhile(d.path().to_path_buf(), Vec::new());
        let r = drain(d.path(), &mut s, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(s.1, vec!["a@x", "b@x"], "each sent once");
        assert_eq!((r.sent, r.queued), (2, 2));
        let q = Queue::load(d.path()).unwrap();
        assert!(q
            .mails
            .iter()
            .all(|m| m.to == "late@x" && m.not_before == 0));
    }

    #[tokio::test]
    async fn failures_stay_queued_and_are_retried() {
        let d = tempfile::tempdir().unwrap();
        let mut q = Queue::default();
        q.push("D1", "a@x", "s".into(), "b".into());
        q.push("D2", "b@x", "s".into(), "b".into());
        q.save(d.path()).unwrap();
        let mut s = Flaky(1, Vec::new());
        let r = drain(d.path(), &mut s, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((r.sent, r.failed, r.queued), (0, 1, 2));
        // Not due yet: nothing is tried.
        let r = drain(d.path(), &mut s, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((r.sent, r.queued), (1, 2 - 1));
        let mut q = Queue::load(d.path()).unwrap();
        q.mails[0].not_before = 0;
        q.save(d.path()).unwrap();
        let r = drain(d.path(), &mut s, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((r.sent, r.queued), (1, 0));
        assert_eq!(s.1, vec!["b@x", "a@x"]);
    }
}
