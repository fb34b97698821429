//! The lab's Kerberos acceptor: what a default Exchange's `/PowerShell` (Exchange's own
//! Kerberos module) and its EWS/ActiveSync (Windows authentication) do with an AP-REQ.
//!
//! It decrypts the ticket with the service key from a real KDC's keytab, the authenticator
//! with the ticket's session key, and checks: the client's realm, the clock (5 minutes, against
//! the lab's own clock, so a skewed lab answers KRB_AP_ERR_SKEW as Windows does), replays, and
//! the channel binding in the authenticator's GSS checksum against the certificate the lab
//! served on that connection — as Extended Protection "None", "Allow" or "Require" says for the
//! endpoint. It answers with an AP-REP carrying an acceptor subkey (mutual authentication);
//! the resulting [`Protection`] seals and unseals WinRM messages over plain HTTP. Refusals
//! carry a KRB-ERROR token where Windows sends one (skew, wrong key), and none for a channel
//! binding mismatch (IIS answers a bare 401). For NTLM the lab reads the channel binding out of
//! the AUTHENTICATE message ([`ntlm_channel_bindings`]; `sspi`'s acceptor does not check it).
//! It never logs keys or tokens.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use base64::Engine;

use crate::exchange::auth::kerberos::tickets::{codes, MAX_SKEW};
use crate::wire::kerberos::crypto::{channel_bindings_hash, random_u31, Key, Protection};
use crate::wire::kerberos::gss::{self, NegState, NegTokenResp};
use crate::wire::kerberos::keytab::Keytab;
use crate::wire::kerberos::messages;

/// Extended Protection of one endpoint (IIS's `extendedProtection tokenChecking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedProtection {
    /// Channel bindings are not checked.
    None,
    /// Checked when the client sends them; a wrong one is refused.
    Allow,
    /// A sign-in without matching channel bindings is refused.
    Require,
}

/// Why a keytab cannot serve the lab.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptorError {
    #[error("the keytab holds no HTTP/<host> key (it has {principals}); export one with ktadd -k FILE HTTP/<host>")]
    NoHttpKey { principals: String },
}

/// An authenticator already seen: client, ctime, cusec.
type Seen = (String, i64, u32);

/// The replay cache: what was seen, and in which order (the oldest go first).
#[derive(Default)]
struct Replays {
    seen: HashSet<Seen>,
    order: VecDeque<Seen>,
}

/// The keytab's keys and the realm the lab's accounts live in.
pub struct Acceptor {
    keytab: Keytab,
    pub realm: String,
    /// `HTTP/<host>` from the keytab.
    pub spn: String,
    replays: Mutex<Replays>,
}

/// What one AP-REQ led to.
pub enum Outcome {
    /// Signed in as `client` (its first name component); the header value answers with the
    /// AP-REP.
    Accepted {
        client: String,
        header: String,
        protection: Box<Protection>,
    },
    /// Refused; the header value (`scheme token`, a KRB-ERROR) goes on the 401 when there is
    /// one.
    Refused {
        header: Option<String>,
        reason: String,
    },
}

/// Which HTTP scheme carried the token, and how it is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `Kerberos`: krb5 tokens as they are.
    Kerberos,
    /// `Negotiate` with SPNEGO tokens.
    Negotiate,
    /// `Negotiate` with bare krb5 tokens, as pypsrp and MIT's GSS-API send (Windows takes
    /// them too).
    NegotiateRaw,
}

impl Carrier {
    fn scheme(self) -> &'static str {
        match self {
            Carrier::Kerberos => "Kerberos",
            Carrier::Negotiate | Carrier::NegotiateRaw => "Negotiate",
        }
    }

    fn spnego(self) -> bool {
        self == Carrier::Negotiate
    }
}

/// The lab's clock (Unix seconds): the process clock, which `faketime` may skew.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn b64(t: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(t)
}

/// How a `Negotiate` first token carries Kerberos, if it does: SPNEGO offering Kerberos first
/// with an optimistic krb5 token, or a bare krb5 token (so the lab's Kerberos acceptor, not
/// NTLM's, answers it).
pub fn negotiate_kerberos(token: &[u8]) -> Option<Carrier> {
    if gss::parse_krb5_token(token).is_ok() {
        return Some(Carrier::NegotiateRaw);
    }
    gss::parse_neg_token_init(token)
        .is_ok_and(|init| {
            init.mech_types.first().is_some_and(|m| gss::is_kerberos(m))
                && init.mech_token.is_some()
        })
        .then_some(Carrier::Negotiate)
}

impl Acceptor {
    /// An acceptor for the HTTP service in `keytab`, for clients of `realm`.
    pub fn new(keytab: Keytab, realm: &str) -> Result<Acceptor, AcceptorError> {
        let spn = keytab
            .entries
            .iter()
            .find(|e| {
                e.components.len() == 2
                    && e.components
                        .first()
                        .is_some_and(|c| c.eq_ignore_ascii_case("HTTP"))
            })
            .map(|e| e.components.join("/"))
            .ok_or_else(|| AcceptorError::NoHttpKey {
                principals: keytab.principals().join(", "),
            })?;
        Ok(Acceptor {
            keytab,
            realm: realm.to_ascii_uppercase(),
            spn,
            replays: Mutex::new(Replays::default()),
        })
    }

    /// The host of the SPN (the name clients must use).
    pub fn host(&self) -> &str {
        self.spn.split_once('/').map(|(_, h)| h).unwrap_or_default()
    }

    fn spn_components(&self) -> Vec<String> {
        self.spn.split('/').map(str::to_string).collect()
    }

    fn error_header(&self, carrier: Carrier, code: u32, text: &str) -> Option<String> {
        let err = messages::krb_error(code, now(), &self.realm, &self.spn_components(), Some(text))
            .ok()?;
        let krb = gss::krb5_token(gss::TOK_ERROR, &err);
        let token = match carrier.spnego() {
            false => krb,
            true => gss::neg_token_resp(&NegTokenResp {
                state: Some(NegState::Reject),
                supported_mech: None,
                response_token: Some(krb),
                mech_list_mic: None,
            }),
        };
        Some(format!("{} {}", carrier.scheme(), b64(&token)))
    }

    fn refuse(&self, carrier: Carrier, code: Option<u32>, reason: String) -> Outcome {
        tracing::debug!(%reason, "lab: Kerberos sign-in refused");
        Outcome::Refused {
            header: code.and_then(|c| self.error_header(carrier, c, &reason)),
            reason,
        }
    }

    /// Answer a client's first token. `binding` is the `tls-server-end-point` data of the
    /// certificate served on this connection (HTTPS), checked as `ep` says.
    pub fn accept(
        &self,
        carrier: Carrier,
        token: &[u8],
        binding: Option<&[u8]>,
        ep: ExtendedProtection,
    ) -> Outcome {
        let (krb_token, mech) = match carrier {
            Carrier::Kerberos | Carrier::NegotiateRaw => (token.to_vec(), None),
            Carrier::Negotiate => match gss::parse_neg_token_init(token) {
                Ok(init) => match (init.mech_types.first(), init.mech_token) {
                    (Some(m), Some(t)) if gss::is_kerberos(m) => (t, Some(m.clone())),
                    _ => {
                        return self.refuse(carrier, None, "SPNEGO without a Kerberos token".into())
                    }
                },
                Err(e) => return self.refuse(carrier, None, e.to_string()),
            },
        };
        let ap_req = match gss::parse_krb5_token(&krb_token) {
            Ok((id, msg)) if id == gss::TOK_AP_REQ => msg.to_vec(),
            _ => return self.refuse(carrier, None, "not a krb5 AP-REQ token".into()),
        };
        let keytab = &self.keytab;
        let req = match messages::accept_ap_req(&ap_req, &|s, e, k| keytab.key_for(s, e, k)) {
            Ok(r) => r,
            Err(r) => {
                return self.refuse(carrier, Some(r.code), r.reason);
            }
        };
        if !req.client.realm.eq_ignore_ascii_case(&self.realm) {
            return self.refuse(
                carrier,
                Some(codes::KRB_AP_ERR_BADMATCH),
                format!(
                    "client realm {} is not the lab's {}",
                    req.client.realm, self.realm
                ),
            );
        }
        let t = now();
        if (req.ctime - t).abs() > MAX_SKEW {
            return self.refuse(
                carrier,
                Some(codes::KRB_AP_ERR_SKEW),
                format!(
                    "clock skew: the authenticator says {} s from the lab's clock",
                    req.ctime - t
                ),
            );
        }
        if t > req.ticket_end + MAX_SKEW {
            return self.refuse(
                carrier,
                Some(codes::KRB_AP_ERR_TKT_EXPIRED),
                "the ticket has expired".into(),
            );
        }
        // Channel binding (Extended Protection), over HTTPS only.
        let sent = req.gss.map(|g| g.bindings).filter(|b| *b != [0u8; 16]);
        if let Some(expected) = binding {
            let matches = sent == Some(channel_bindings_hash(expected));
            let refused = match ep {
                ExtendedProtection::None => false,
                ExtendedProtection::Allow => sent.is_some() && !matches,
                ExtendedProtection::Require => !matches,
            };
            if refused {
                // IIS answers a bare 401: no KRB-ERROR.
                return self.refuse(
                    carrier,
                    None,
                    if sent.is_none() {
                        "Extended Protection requires a channel binding token, and none was sent"
                            .into()
                    } else {
                        "the channel binding token does not match the certificate served".into()
                    },
                );
            }
        }
        let key = (req.client.to_string(), req.ctime, req.cusec);
        if let Ok(mut r) = self.replays.lock() {
            if !r.seen.insert(key.clone()) {
                drop(r);
                return self.refuse(
                    carrier,
                    Some(codes::KRB_AP_ERR_REPEAT),
                    "a replayed authenticator".into(),
                );
            }
            r.order.push_back(key);
            while r.order.len() > 10_000 {
                if let Some(old) = r.order.pop_front() {
                    r.seen.remove(&old);
                }
            }
        }
        // Mutual authentication: our subkey and sequence number in the AP-REP.
        let etype = req.session_key.etype;
        let (Ok(subkey), Ok(seq)) = (Key::random(etype), random_u31()) else {
            return self.refuse(carrier, None, "no random numbers".into());
        };
        let rep = match messages::ap_rep(&req.session_key, req.ctime, req.cusec, Some(&subkey), seq)
        {
            Ok(r) => r,
            Err(e) => return self.refuse(carrier, None, e.to_string()),
        };
        let krb = gss::krb5_token(gss::TOK_AP_REP, &rep);
        let token = match carrier.spnego() {
            false => krb,
            true => gss::neg_token_resp(&NegTokenResp {
                state: Some(NegState::AcceptCompleted),
                supported_mech: mech,
                response_token: Some(krb),
                mech_list_mic: None,
            }),
        };
        let protection = Protection::new(
            subkey,
            true,
            false,
            u64::from(req.seq.unwrap_or(0)),
            u64::from(seq),
        );
        Outcome::Accepted {
            client: req.client.components.first().cloned().unwrap_or_default(),
            header: format!("{} {}", carrier.scheme(), b64(&token)),
            protection: Box::new(protection),
        }
    }
}

/// The MsvAvChannelBindings hash in an NTLM AUTHENTICATE message (raw or inside an SPNEGO
/// NegTokenResp), `Some(None)` when the message has none, `None` when it is not an
/// AUTHENTICATE message. `sspi`'s acceptor does not check it; the lab does.
pub fn ntlm_channel_bindings(token: &[u8]) -> Option<Option<[u8; 16]>> {
    let raw = if token.starts_with(b"NTLMSSP\0") {
        token.to_vec()
    } else {
        gss::parse_neg_token_resp(token).ok()?.response_token?
    };
    if raw.get(..8)? != b"NTLMSSP\0" || raw.get(8..12)? != [3, 0, 0, 0] {
        return None;
    }
    let len = usize::from(u16::from_le_bytes(raw.get(20..22)?.try_into().ok()?));
    let off = u32::from_le_bytes(raw.get(24..28)?.try_into().ok()?) as usize;
    let resp = raw.get(off..off.checked_add(len)?)?;
    // NTLMv2: NTProofStr(16), then the blob: 28 bytes of header, then AV pairs.
    let mut av = resp.get(16 + 28..)?;
    while let Some(head) = av.get(..4) {
        let id = u16::from_le_bytes([head.first().copied()?, head.get(1).copied()?]);
        let n = usize::from(u16::from_le_bytes([
            head.get(2).copied()?,
            head.get(3).copied()?,
        ]));
        let value = av.get(4..4 + n)?;
        match id {
            0 => break,
            0x000a => return Some(value.try_into().ok()),
            _ => {}
        }
        av = av.get(4 + n..)?;
    }
    Some(None)
}
