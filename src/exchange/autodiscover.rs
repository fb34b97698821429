//! POX Autodiscover: find the EWS URL of a mailbox.
//!
//! Candidates are tried in the documented order, after the one a domain-joined client would
//! get from Active Directory's SCP (here: the configured Client Access Server):
//! `https://<domain>/autodiscover/autodiscover.xml`, `https://autodiscover.<domain>/…`, an
//! HTTP redirect from `http://autodiscover.<domain>/…`, and the `_autodiscover._tcp.<domain>`
//! SRV record. `redirectAddr` and `redirectUrl` answers are followed (at most 10 times). An
//! authoritative "address can't be found" stops the search. Every attempt is recorded so a
//! failure can say what was tried. It never sends credentials over plain HTTP.

use bytes::Bytes;
use hyper::Method;

use super::client::{Credentials, Session, SessionError};
use super::http::{ConnectOptions, Connection, Endpoint};
use crate::wire::xmlscan::{esc, scan};

const MAX_REDIRECTS: usize = 10;

/// One URL tried, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attempt {
    pub step: &'static str,
    pub url: String,
    pub outcome: String,
}

/// The EWS URL found, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Discovered {
    pub ews_url: String,
    pub email: String,
    pub display_name: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// Why Autodiscover found nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AutodiscoverError {
    #[error("'{0}' is not an email address")]
    BadAddress(String),
    #[error("Autodiscover at {url} says the address {email} can't be found (no such mailbox); check NotificationAccount/Mailbox")]
    UnknownMailbox {
        email: String,
        url: String,
        attempts: Vec<Attempt>,
    },
    #[error("Autodiscover found no EWS URL for {email}; tried: {}; set ExchangeWebServiceURL to skip Autodiscover", attempts_text(.attempts))]
    NotFound {
        email: String,
        attempts: Vec<Attempt>,
    },
    #[error("Autodiscover for {email} was redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects {
        email: String,
        attempts: Vec<Attempt>,
    },
}

impl AutodiscoverError {
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            AutodiscoverError::BadAddress(_) => &[],
            AutodiscoverError::UnknownMailbox { attempts, .. }
            | AutodiscoverError::NotFound { attempts, .. }
            | AutodiscoverError::TooManyRedirects { attempts, .. } => attempts,
        }
    }
}

fn attempts_text(a: &[Attempt]) -> String {
    a.iter()
        .map(|a| format!("{} ({})", a.url, a.outcome))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The POX request body for `email`.
pub fn request_body(email: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>",
        esc(email)
    )
}

/// What one Autodiscover answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Settings {
        ews_url: String,
        display_name: Option<String>,
    },
    RedirectAddr(String),
    RedirectUrl(String),
    /// An `<Error>` answer: code and message.
    Error {
        code: String,
        message: String,
    },
    /// Settings without an EWS URL.
    NoEws,
}

/// Read an Autodiscover response body.
pub fn parse_answer(body: &[u8]) -> Option<Answer> {
    let s = scan(body)?;
    if let Some(code) = s.text("Error/ErrorCode") {
        return Some(Answer::Error {
            code: code.to_string(),
            message: s.text("Error/Message").unwrap_or_default().to_string(),
        });
    }
    match s.text("Account/Action") {
        Some("redirectAddr") => {
            return s
                .text("Account/RedirectAddr")
                .map(|a| Answer::RedirectAddr(a.to_string()))
        }
        Some("redirectUrl") => {
            return s
                .text("Account/RedirectUrl")
                .map(|u| Answer::RedirectUrl(u.to_string()))
        }
        _ => {}
    }
    // Prefer the EXCH (internal) protocol's EwsUrl, then EXPR's, then any.
    let mut ews = None;
    let mut current_type = None;
    for (path, text) in &s.texts {
        if path.ends_with("Protocol/Type") {
            current_type = Some(text.clone());
        }
        if path.ends_with("Protocol/EwsUrl") {
            match (current_type.as_deref(), &ews) {
                (Some("EXCH"), _) | (_, None) => ews = Some(text.clone()),
                _ => {}
            }
        }
    }
    Some(match ews {
        Some(u) => Answer::Settings {
            ews_url: u,
            display_name: s.text("User/DisplayName").map(str::to_string),
        },
        None => Answer::NoEws,
    })
}

async fn post(
    url: &str,
    email: &str,
    opts: &ConnectOptions,
    creds: &Credentials,
) -> Result<Answer, String> {
    let ep = Endpoint::parse(url).map_err(|e| e.to_string())?;
    if !ep.https {
        return Err("not https; credentials are never sent over plain HTTP".into());
    }
    let mut s = Session::connect(ep.clone(), opts.clone(), creds);
    let resp = s
        .request(
            Method::POST,
            &ep.path,
            Some("text/xml; charset=utf-8"),
            Bytes::from(request_body(email)),
        )
        .await
        .map_err(|e| match e {
            SessionError::Unauthorized { .. } => "credentials refused (HTTP 401)".to_string(),
            other => other.to_string(),
        })?;
    match resp.status {
        200 => {
            parse_answer(&resp.body).ok_or_else(|| "the answer is not Autodiscover XML".to_string())
        }
        302 | 301 => Err(format!(
            "redirected (HTTP {}) to {}",
            resp.status,
            resp.header_values("location").join(", ")
        )),
        s => Err(format!("HTTP {s}")),
    }
}

/// `Location` of `http://autodiscover.<domain>/autodiscover/autodiscover.xml`, sent without
/// credentials.
async fn http_redirect(domain: &str, opts: &ConnectOptions) -> Result<String, String> {
    let ep = Endpoint::parse(&format!(
        "http://autodiscover.{domain}/autodiscover/autodiscover.xml"
    ))
    .map_err(|e| e.to_string())?;
    let mut c = Connection::open(&ep, opts)
        .await
        .map_err(|e| e.to_string())?;
    let req = hyper::Request::get(&ep.path)
        .body(http_body_util::Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = c.send(req).await.map_err(|e| e.to_string())?;
    match resp.status {
        301 | 302 | 307 | 308 => resp
            .header_values("location")
            .into_iter()
            .next()
            .filter(|l| l.starts_with("https://"))
            .ok_or_else(|| "redirect without an https Location".to_string()),
        s => Err(format!("HTTP {s}, no redirect")),
    }
}

/// `https://target:port/autodiscover/autodiscover.xml` from the SRV record, if any.
async fn srv_lookup(domain: &str) -> Result<String, String> {
    let (target, port) = super::dns::srv_lookup(&format!("_autodiscover._tcp.{domain}"))
        .await
        .into_iter()
        .next()
        .ok_or_else(|| "no SRV record".to_string())?;
    Ok(format!(
        "https://{target}:{port}/autodiscover/autodiscover.xml"
    ))
}

/// Find the EWS URL for `email`. `cas` is the configured server (`host[:port]`), tried first.
pub async fn discover(
    email: &str,
    cas: Option<&str>,
    opts: &ConnectOptions,
    creds: &Credentials,
) -> Result<Discovered, AutodiscoverError> {
    let mut email = email.to_string();
    let mut attempts = Vec::new();
    for _hop in 0..MAX_REDIRECTS {
        let Some((_, domain)) = email
            .rsplit_once('@')
            .map(|(l, d)| (l.to_string(), d.to_ascii_lowercase()))
        else {
            return Err(AutodiscoverError::BadAddress(email));
        };
        let mut candidates: Vec<(&'static str, String)> = Vec::new();
        if let Some(c) = cas {
            candidates.push((
                "Client Access Server (SCP)",
                format!("https://{c}/autodiscover/autodiscover.xml"),
            ));
        }
        candidates.push((
            "domain",
            format!("https://{domain}/autodiscover/autodiscover.xml"),
        ));
        candidates.push((
            "autodiscover.domain",
            format!("https://autodiscover.{domain}/autodiscover/autodiscover.xml"),
        ));
        let mut redirected = None;
        let mut idx = 0;
        let mut extra_done = false;
        loop {
            let (step, url) = match candidates.get(idx) {
                Some(c) => c.clone(),
                None if !extra_done => {
                    extra_done = true;
                    match http_redirect(&domain, opts).await {
                        Ok(loc) => {
                            attempts.push(Attempt {
                                step: "HTTP redirect",
                                url: format!(
                                    "http://autodiscover.{domain}/autodiscover/autodiscover.xml"
                                ),
                                outcome: format!("redirects to {loc}"),
                            });
                            candidates.push(("HTTP redirect target", loc));
                        }
                        Err(e) => attempts.push(Attempt {
                            step: "HTTP redirect",
                            url: format!(
                                "http://autodiscover.{domain}/autodiscover/autodiscover.xml"
                            ),
                            outcome: e,
                        }),
                    }
                    match srv_lookup(&domain).await {
                        Ok(u) => candidates.push(("SRV record", u)),
                        Err(e) => attempts.push(Attempt {
                            step: "SRV record",
                            url: format!("_autodiscover._tcp.{domain}"),
                            outcome: e,
                        }),
                    }
                    continue;
                }
                None => break,
            };
            idx += 1;
            match post(&url, &email, opts, creds).await {
                Ok(Answer::Settings {
                    ews_url,
                    display_name,
                }) => {
                    attempts.push(Attempt {
                        step,
                        url,
                        outcome: format!("EWS URL {ews_url}"),
                    });
                    return Ok(Discovered {
                        ews_url,
                        email,
                        display_name,
                        attempts,
                    });
                }
                Ok(Answer::RedirectAddr(addr)) => {
                    attempts.push(Attempt {
                        step,
                        url,
                        outcome: format!("redirect to address {addr}"),
                    });
                    redirected = Some(addr);
                    break;
                }
                Ok(Answer::RedirectUrl(u)) => {
                    attempts.push(Attempt {
                        step,
                        url,
                        outcome: format!("redirect to {u}"),
                    });
                    candidates.insert(idx, ("redirectUrl", u));
                }
                Ok(Answer::Error { code, message }) => {
                    attempts.push(Attempt {
                        step,
                        url: url.clone(),
                        outcome: format!("error {code}: {message}"),
                    });
                    if code == "500" {
                        return Err(AutodiscoverError::UnknownMailbox {
                            email,
                            url,
                            attempts,
                        });
                    }
                }
                Ok(Answer::NoEws) => attempts.push(Attempt {
                    step,
                    url,
                    outcome: "answer without an EWS URL".into(),
                }),
                Err(e) => attempts.push(Attempt {
                    step,
                    url,
                    outcome: e,
                }),
            }
        }
        match redirected {
            Some(addr) => email = addr,
            None => return Err(AutodiscoverError::NotFound { email, attempts }),
        }
    }
    Err(AutodiscoverError::TooManyRedirects { email, attempts })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        let settings = br#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><User><DisplayName>EAS</DisplayName></User><Account><Action>settings</Action><Protocol><Type>EXPR</Type><EwsUrl>https://ext/EWS/Exchange.asmx</EwsUrl></Protocol><Protocol><Type>EXCH</Type><EwsUrl>https://int/EWS/Exchange.asmx</EwsUrl></Protocol></Account></Response></Autodiscover>"#;
        assert_eq!(
            parse_answer(settings).unwrap(),
            Answer::Settings {
                ews_url: "https://int/EWS/Exchange.asmx".into(),
                display_name: Some("EAS".into())
            }
        );
        let redirect = b"<Autodiscover><Response><Account><Action>redirectAddr</Action><RedirectAddr>a@b.test</RedirectAddr></Account></Response></Autodiscover>";
        assert_eq!(
            parse_answer(redirect).unwrap(),
            Answer::RedirectAddr("a@b.test".into())
        );
        let err = b"<Autodiscover><Response><Error><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message></Error></Response></Autodiscover>";
        assert_eq!(
            parse_answer(err).unwrap(),
            Answer::Error {
                code: "500".into(),
                message: "The email address can't be found.".into()
            }
        );
        assert!(parse_answer(b"not xml <").is_none());
        assert!(request_body("a&b@c.test").contains("a&amp;b@c.test"));
    }
}
