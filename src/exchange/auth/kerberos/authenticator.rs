//! Kerberos as an HTTP [`Authenticator`]: the bare `Kerberos` scheme (krb5 GSS tokens, as
//! `New-PSSession -Authentication Kerberos` sends) and `Negotiate` carrying Kerberos in SPNEGO.
//!
//! Per connection: [`Authenticator::prepare`] gets a service ticket for the server's SPN (from
//! the process's cache or the KDC); the first request carries an AP-REQ with a fresh subkey and
//! sequence number, bound over HTTPS to the connection's TLS certificate (channel binding,
//! with MS-KILE's KERB_AP_OPTIONS_CBT); the server's AP-REP (mutual authentication) gives the
//! acceptor's subkey, with which WinRM messages over plain HTTP are sealed and unsealed. A 401
//! answering the AP-REQ becomes a [`KerberosError`] that says why the server refused the
//! ticket. It never puts a key, ticket or password into an error or log line.

use std::future::Future;
use std::pin::Pin;

use base64::Engine;

use super::tickets::{self, codes, TicketRequest};
use super::{KerberosError, KerberosOptions, SkewAt};
use crate::exchange::client::{
    AuthError, Authenticator, ConnectionInfo, Credentials, Mechanism, Step,
};
use crate::wire::kerberos::crypto::{channel_bindings_hash, random_u31, Key, Protection};
use crate::wire::kerberos::gss::{self, NegState, NegTokenResp};
use crate::wire::kerberos::messages::{self, AuthenticatorSpec, GssChecksum, IssuedTicket};
use crate::wire::kerberos::names::{self, Principal};
use crate::wire::sealing::{self, Framed, Sealed};

/// Which HTTP scheme carries the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `WWW-Authenticate: Kerberos`: krb5 tokens as they are.
    Kerberos,
    /// `WWW-Authenticate: Negotiate`: krb5 tokens inside SPNEGO.
    Negotiate,
}

/// A server token: the krb5 message in it (token id, message) and the SPNEGO wrapper, if any.
type ServerToken = (Option<([u8; 2], Vec<u8>)>, Option<NegTokenResp>);

enum State {
    /// Nothing sent on this connection yet.
    Fresh,
    /// The AP-REQ went out.
    Sent {
        subkey: Key,
        seq: u32,
        bound: bool,
        ctime: i64,
        cusec: u32,
    },
    /// SPNEGO asked for our mechListMIC, which went out.
    MicSent(Protection),
    /// Signed in; the protection seals messages (when the server did mutual authentication).
    Done(Option<Protection>),
}

/// Kerberos for one account against one server, one connection at a time.
pub struct KerberosAuth {
    carrier: Carrier,
    creds: Credentials,
    opts: KerberosOptions,
    host: String,
    bind_channel: bool,
    conn: Option<ConnectionInfo>,
    target: Option<(Principal, Vec<String>, Option<String>)>,
    ticket: Option<IssuedTicket>,
    state: State,
}

fn b64(t: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(t)
}

impl KerberosAuth {
    /// `host` is the server's name as configured; `bind_channel`: send channel bindings over
    /// HTTPS (the `ChannelBinding` setting).
    pub fn new(
        carrier: Carrier,
        creds: &Credentials,
        host: &str,
        opts: &KerberosOptions,
        bind_channel: bool,
    ) -> KerberosAuth {
        KerberosAuth {
            carrier,
            creds: creds.clone(),
            opts: opts.clone(),
            host: host.to_string(),
            bind_channel,
            conn: None,
            target: None,
            ticket: None,
            state: State::Fresh,
        }
    }

    fn spn(&self) -> String {
        self.target
            .as_ref()
            .map(|(_, s, _)| s.join("/"))
            .unwrap_or_else(|| format!("HTTP/{}", self.host))
    }

    fn server(&self) -> String {
        self.conn
            .as_ref()
            .map(|c| c.authority.clone())
            .unwrap_or_else(|| self.host.clone())
    }

    /// The client principal, the SPN and its realm for this server (resolved once).
    async fn target(&mut self) -> Result<(Principal, Vec<String>, Option<String>), KerberosError> {
        if let Some(t) = &self.target {
            return Ok(t.clone());
        }
        let canonical = if self.opts.spn.is_some() {
            self.host.clone()
        } else {
            crate::exchange::dns::canonical_name(&self.host).await
        };
        let (client, _) =
            names::client_principal(&self.creds.user, self.opts.realm.as_deref(), &canonical)?;
        let (spn, spn_realm) = names::service_principal(self.opts.spn.as_deref(), &canonical)?;
        let t = (client, spn, spn_realm);
        self.target = Some(t.clone());
        Ok(t)
    }

    fn ap_req_token(&mut self) -> Result<String, AuthError> {
        let ticket = self.ticket.as_ref().ok_or_else(|| {
            AuthError::Message(
                "Kerberos: no service ticket for this connection (internal error)".into(),
            )
        })?;
        let subkey = Key::random(ticket.key.etype).map_err(kerr_protocol)?;
        let seq = random_u31().map_err(kerr_protocol)?;
        let binding = self
            .conn
            .as_ref()
            .filter(|c| c.https && self.bind_channel)
            .and_then(|c| c.tls_server_end_point.as_deref());
        let (now, usec) = tickets::now(&ticket.client.realm);
        let ap = messages::ap_req(
            ticket,
            &AuthenticatorSpec {
                client: &ticket.client,
                now,
                usec,
                subkey: Some(&subkey),
                seq: Some(seq),
                gss: Some(GssChecksum {
                    bindings: binding.map(channel_bindings_hash).unwrap_or([0; 16]),
                    flags: messages::GSS_FLAGS,
                    cbt_asserted: binding.is_some(),
                }),
            },
        )
        .map_err(|e| AuthError::from(protocol("this machine", e)))?;
        let krb = gss::krb5_token(gss::TOK_AP_REQ, &ap);
        let token = match self.carrier {
            Carrier::Kerberos => krb,
            Carrier::Negotiate => gss::neg_token_init(&gss::kerberos_mech_types(), &krb),
        };
        self.state = State::Sent {
            subkey,
            seq,
            bound: binding.is_some(),
            ctime: now,
            cusec: usec,
        };
        Ok(format!("{} {}", self.scheme(), b64(&token)))
    }

    /// The server's answer token: its krb5 message (AP-REP or KRB-ERROR) and, for SPNEGO, the
    /// NegTokenResp around it.
    fn read_server_token(&self, b64_token: &str) -> Result<ServerToken, KerberosError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64_token.trim())
            .map_err(|_| protocol(&self.server(), "the server's token is not base64"))?;
        let (krb, neg) = match self.carrier {
            Carrier::Negotiate => {
                let neg =
                    gss::parse_neg_token_resp(&raw).map_err(|e| protocol(&self.server(), e))?;
                (neg.response_token.clone(), Some(neg))
            }
            Carrier::Kerberos => (Some(raw), None),
        };
        let krb = match krb {
            Some(t) => {
                let (id, msg) =
                    gss::parse_krb5_token(&t).map_err(|e| protocol(&self.server(), e))?;
                Some((id, msg.to_vec()))
            }
            None => None,
        };
        Ok((krb, neg))
    }

    /// What a refusal of our AP-REQ means.
    fn refusal(&self, error: Option<&messages::KrbErrorInfo>, bound: bool) -> KerberosError {
        let server = self.server();
        let spn = self.spn();
        let Some(e) = error else {
            // IIS says no more than 401: the likely causes, most frequent first.
            return KerberosError::SignInRefused {
                server,
                spn,
                user: self.creds.user.clone(),
                bound_to: bound
                    .then(|| self.conn.as_ref().and_then(|c| c.certificate.clone()))
                    .flatten(),
            };
        };
        match e.code {
            codes::KRB_AP_ERR_SKEW => KerberosError::ClockSkew {
                at: SkewAt::Server { server },
                offset_secs: Some(e.server_time - tickets::now(&self.ticket.as_ref().map(|t| t.client.realm.clone()).unwrap_or_default()).0),
            },
            codes::KRB_AP_ERR_MODIFIED | codes::KRB_AP_ERR_BAD_INTEGRITY | codes::KRB_AP_ERR_NOKEY => {
                KerberosError::TicketRefused {
                    server,
                    spn: spn.clone(),
                    reason: format!("Kerberos error {}: the ticket is not encrypted with a key the server has", e.code),
                    fix: format!("the SPN {spn} belongs to another account than the one the server runs as (a load-balanced name needs the alternate service account's SPN in Kerberos/ServicePrincipalName), or the server's key changed; check with setspn -Q {spn}"),
                }
            }
            codes::KRB_AP_ERR_TKT_EXPIRED => KerberosError::TicketRefused {
                server,
                spn,
                reason: "the ticket has expired by the server's clock".into(),
                fix: "synchronize the Exchange server's time with the domain".into(),
            },
            code => KerberosError::TicketRefused {
                server,
                spn,
                reason: format!(
                    "Kerberos error {code}{}",
                    e.text.as_deref().map(|t| format!(": {t}")).unwrap_or_default()
                ),
                fix: "see the server's System event log (Kerberos) for details".into(),
            },
        }
    }

    /// Verify the server's SPNEGO mechListMIC over our mechanism list, when it sent one.
    fn check_mic(
        &self,
        protection: &mut Protection,
        neg: Option<&NegTokenResp>,
    ) -> Result<(), KerberosError> {
        match neg.and_then(|n| n.mech_list_mic.as_ref()) {
            Some(mic) => protection
                .verify_mic(&gss::kerberos_mech_types(), mic)
                .map_err(|e| protocol(&self.server(), format!("the SPNEGO mechListMIC: {e}"))),
            None => Ok(()),
        }
    }

    fn establish(
        &mut self,
        ap_rep: Option<&[u8]>,
        subkey: Key,
        seq: u32,
        sent: (i64, u32),
    ) -> Result<Protection, KerberosError> {
        let ticket = self
            .ticket
            .as_ref()
            .ok_or_else(|| protocol("this machine", "no ticket"))?;
        match ap_rep {
            Some(rep) => {
                let info = messages::open_ap_rep(rep, &ticket.key)
                    .map_err(|e| protocol(&self.server(), e))?;
                // The AP-REP must echo our authenticator's time (RFC 4120 §3.2.5): an old one
                // for the same (cached) ticket must not pass as mutual authentication.
                if (info.ctime, info.cusec) != sent {
                    return Err(protocol(
                        &self.server(),
                        "the AP-REP does not answer this sign-in (its time differs)",
                    ));
                }
                let acceptor_seq = u64::from(info.seq.unwrap_or(0));
                Ok(match info.subkey {
                    Some(k) => Protection::new(k, true, true, u64::from(seq), acceptor_seq),
                    None => Protection::new(subkey, false, true, u64::from(seq), acceptor_seq),
                })
            }
            None => Ok(Protection::new(
                subkey,
                false,
                true,
                u64::from(seq),
                u64::from(seq),
            )),
        }
    }
}

fn protocol(peer: &str, e: impl std::fmt::Display) -> KerberosError {
    KerberosError::Protocol {
        peer: peer.to_string(),
        detail: e.to_string(),
    }
}

fn kerr_protocol(e: impl std::fmt::Display) -> AuthError {
    AuthError::from(protocol("this machine", e))
}

impl Authenticator for KerberosAuth {
    fn scheme(&self) -> &'static str {
        match self.carrier {
            Carrier::Kerberos => "Kerberos",
            Carrier::Negotiate => "Negotiate",
        }
    }

    fn mechanism(&self) -> Mechanism {
        match self.carrier {
            Carrier::Kerberos => Mechanism::Kerberos,
            Carrier::Negotiate => Mechanism::NegotiateKerberos,
        }
    }

    fn prepare<'a>(
        &'a mut self,
        conn: &'a ConnectionInfo,
    ) -> Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send + 'a>> {
        Box::pin(async move {
            self.conn = Some(conn.clone());
            let (client, spn, spn_realm) = self.target().await?;
            let password = self.creds.password.clone();
            let ticket = tickets::service_ticket(&TicketRequest {
                client: &client,
                password: &password,
                kdc_setting: self.opts.kdc.as_deref(),
                service: &spn,
                service_realm: spn_realm.as_deref(),
                renew_before_expiry: i64::from(self.opts.renew_before_expiry_secs),
            })
            .await?;
            self.ticket = Some(ticket);
            Ok(())
        })
    }

    fn next(&mut self, challenge: Option<&str>) -> Result<Step, AuthError> {
        match (&self.state, challenge) {
            (State::Done(_), None) => Ok(Step::Nothing),
            (State::Fresh, _) | (State::Sent { .. } | State::MicSent(_), None) => {
                Ok(Step::Send(self.ap_req_token()?))
            }
            (State::Sent { .. }, Some(tok)) => {
                let State::Sent {
                    subkey,
                    seq,
                    bound,
                    ctime,
                    cusec,
                } = std::mem::replace(&mut self.state, State::Fresh)
                else {
                    return Ok(Step::GiveUp);
                };
                if tok.trim().is_empty() {
                    return Err(self.refusal(None, bound).into());
                }
                let (krb, neg) = self.read_server_token(tok)?;
                match krb {
                    Some((id, msg)) if id == gss::TOK_ERROR => {
                        let e = messages::parse_krb_error(&msg)
                            .map_err(|e| protocol(&self.server(), e))?;
                        Err(self.refusal(Some(&e), bound).into())
                    }
                    // SPNEGO wants another round: our mechListMIC after the AP-REP.
                    Some((id, msg))
                        if id == gss::TOK_AP_REP
                            && neg.as_ref().and_then(|n| n.state) == Some(NegState::RequestMic) =>
                    {
                        let mut protection =
                            self.establish(Some(&msg), subkey, seq, (ctime, cusec))?;
                        self.check_mic(&mut protection, neg.as_ref())?;
                        let mic = protection
                            .mic(&gss::kerberos_mech_types())
                            .map_err(|e| protocol("this machine", e))?;
                        let resp = gss::neg_token_resp(&NegTokenResp {
                            state: None,
                            supported_mech: None,
                            response_token: None,
                            mech_list_mic: Some(mic),
                        });
                        self.state = State::MicSent(protection);
                        Ok(Step::Send(format!("Negotiate {}", b64(&resp))))
                    }
                    _ => Err(self.refusal(None, bound).into()),
                }
            }
            // Asked again on a signed-in connection (IIS without authPersistNonNTLM, a
            // recycled application pool, a load balancer moving connections): sign in anew.
            // A refused AP-REQ costs the account nothing, so this is not a credential retry.
            (State::Done(_), Some(_)) => Ok(Step::Send(self.ap_req_token()?)),
            (State::MicSent(_), Some(_)) => Err(self.refusal(None, false).into()),
        }
    }

    fn accepted(&mut self, final_token: Option<&str>) -> Result<(), AuthError> {
        let tok = final_token.map(str::trim).filter(|t| !t.is_empty());
        match std::mem::replace(&mut self.state, State::Done(None)) {
            State::Sent {
                subkey,
                seq,
                ctime,
                cusec,
                ..
            } => {
                let (krb, neg) = match tok {
                    Some(t) => self.read_server_token(t)?,
                    None => (None, None),
                };
                if neg.as_ref().and_then(|n| n.state) == Some(NegState::Reject) {
                    return Err(self.refusal(None, false).into());
                }
                let ap_rep = match &krb {
                    Some((id, msg)) if *id == gss::TOK_AP_REP => Some(msg.as_slice()),
                    Some(_) => {
                        return Err(
                            protocol(&self.server(), "the final token is not an AP-REP").into()
                        )
                    }
                    None => None,
                };
                let mut protection = self.establish(ap_rep, subkey, seq, (ctime, cusec))?;
                self.check_mic(&mut protection, neg.as_ref())?;
                // Without the server's AP-REP there is no mutual authentication and no agreed
                // key: such a context must not seal.
                self.state = State::Done(ap_rep.map(|_| protection));
                Ok(())
            }
            State::MicSent(mut p) => {
                // The acceptor's last word may carry its own mechListMIC.
                if let Some(t) = tok {
                    let (_, neg) = self.read_server_token(t)?;
                    if let Some(mic) = neg.as_ref().and_then(|n| n.mech_list_mic.as_ref()) {
                        p.verify_mic(&gss::kerberos_mech_types(), mic)
                            .map_err(|e| {
                                protocol(&self.server(), format!("the SPNEGO mechListMIC: {e}"))
                            })?;
                    }
                }
                self.state = State::Done(Some(p));
                Ok(())
            }
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    fn reset(&mut self) {
        self.state = State::Fresh;
        self.conn = None;
    }

    fn can_seal(&self) -> bool {
        matches!(self.state, State::Done(Some(_)))
    }

    fn seal_protocol(&self) -> &'static str {
        match self.carrier {
            Carrier::Kerberos => sealing::PROTOCOL_KERBEROS,
            Carrier::Negotiate => sealing::PROTOCOL_SPNEGO,
        }
    }

    fn seal(&mut self, data: &[u8]) -> Result<Sealed, AuthError> {
        match &mut self.state {
            State::Done(Some(p)) => p
                .wrap(data)
                .map_err(|e| AuthError::Message(format!("Kerberos message encryption: {e}"))),
            _ => Err(AuthError::Message(
                "Kerberos: no mutually authenticated context to encrypt with".into(),
            )),
        }
    }

    fn unseal(&mut self, framed: &Framed) -> Result<Vec<u8>, AuthError> {
        match &mut self.state {
            State::Done(Some(p)) => {
                let clear = p
                    .unwrap(&framed.signature, &framed.sealed)
                    .map_err(|e| AuthError::Message(format!("Kerberos message encryption: {e}")))?;
                if clear.len() != framed.original_len {
                    return Err(AuthError::Message(format!(
                        "Kerberos message encryption: the unsealed message is {} bytes but the header says {}",
                        clear.len(),
                        framed.original_len
                    )));
                }
                Ok(clear)
            }
            _ => Err(AuthError::Message(
                "Kerberos: no mutually authenticated context to decrypt with".into(),
            )),
        }
    }
}
