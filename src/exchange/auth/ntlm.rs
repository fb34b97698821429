//! NTLM and Negotiate (SPNEGO carrying NTLM) as an [`Authenticator`], through the pure-Rust
//! `sspi` crate.
//!
//! Both are connection-oriented: the NEGOTIATE, CHALLENGE and AUTHENTICATE messages travel on
//! one TCP connection, and once the server accepts, that connection is authenticated and later
//! requests on it carry no `Authorization` header (as IIS does). The [`Session`] keeps the
//! connection and calls [`Authenticator::reset`] when it has to open a new one, which restarts
//! the handshake. The target name is `HTTP/<host>`. User names may be UPNs (`user@domain`) or
//! down-level (`DOMAIN\user`). Tokens and passwords are never logged or put into errors; an
//! error names the step (which message) and the `sspi` error kind only.
//!
//! Over HTTPS the AUTHENTICATE message carries the connection's channel binding
//! (MsvAvChannelBindings, the MD5 of its `tls-server-end-point` bindings), as Extended
//! Protection asks, unless `ChannelBinding = Off`.
//!
//! Integrity and confidentiality are always requested (as Windows clients do), so an
//! authenticated context can seal WinRM messages over plain HTTP ([`crate::wire::sealing`]); with
//! Negotiate, the server's final SPNEGO token (its mechListMIC) is checked on acceptance, which
//! also keeps the sequence numbers of sealed messages in step with the server.
//!
//! [`Session`]: super::client::Session

use base64::Engine;
use sspi::negotiate::NegotiateConfig;
use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, AuthIdentityBuffers, BufferType, ClientRequestFlags, CredentialUse,
    CredentialsBuffers, DataRepresentation, Negotiate, Ntlm, SecurityBuffer, Sspi, SspiImpl,
    Username,
};

use super::{AuthError, Authenticator, ConnectionInfo, Credentials, Step};
use crate::wire::sealing::{self, Framed, Sealed};

/// The workstation name the connector gives in NTLM messages.
const WORKSTATION: &str = "EAS-CONNECTOR";

/// Which `sspi` package to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Raw NTLM, HTTP scheme `NTLM`.
    Ntlm,
    /// SPNEGO with NTLM inside, HTTP scheme `Negotiate`.
    Negotiate,
}

impl Mechanism {
    pub fn scheme(self) -> &'static str {
        match self {
            Mechanism::Ntlm => "NTLM",
            Mechanism::Negotiate => "Negotiate",
        }
    }
}

enum Context {
    Ntlm(Box<Ntlm>, Option<AuthIdentityBuffers>),
    Negotiate(Box<Negotiate>, Option<CredentialsBuffers>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent on this connection yet.
    Fresh,
    /// First token sent; waiting for the server's challenge.
    Negotiating,
    /// Answer to the challenge sent; a 401 now means the credentials were refused.
    Answered,
    /// The server accepted: this connection is authenticated.
    Done,
}

/// NTLM or Negotiate for one user, one connection at a time.
pub struct SspiAuth {
    mech: Mechanism,
    creds: Credentials,
    target: String,
    ctx: Option<Context>,
    state: State,
    /// The context said `Ok`: nothing more to feed it.
    complete: bool,
    /// Send channel bindings over HTTPS (`ChannelBinding = Auto`).
    bind_channel: bool,
    /// The `tls-server-end-point` data of the current connection, when it is bound.
    binding: Option<Vec<u8>>,
}

/// A `SEC_CHANNEL_BINDINGS` structure (what `sspi` takes) with zero addresses and
/// `application_data` after the 32-byte header.
fn sec_channel_bindings(application_data: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 24];
    v.extend_from_slice(&(application_data.len() as u32).to_le_bytes());
    v.extend_from_slice(&32u32.to_le_bytes());
    v.extend_from_slice(application_data);
    v
}

impl SspiAuth {
    /// An authenticator for `creds` against `host` (the SPN is `HTTP/<host>`); with
    /// `bind_channel`, sign-ins over HTTPS carry the connection's channel binding
    /// (MsvAvChannelBindings).
    pub fn new(mech: Mechanism, creds: &Credentials, host: &str, bind_channel: bool) -> Self {
        SspiAuth {
            mech,
            creds: creds.clone(),
            target: format!("HTTP/{host}"),
            ctx: None,
            state: State::Fresh,
            complete: false,
            bind_channel,
            binding: None,
        }
    }

    fn fail(&self, step: &str, e: sspi::Error) -> AuthError {
        AuthError::Message(format!(
            "{} authentication of {} failed while {step}: {:?} ({}); check the user name format (DOMAIN\\user or user@domain) and that the server allows {}",
            self.mech.scheme(),
            self.creds.user,
            e.error_type,
            e.description,
            self.mech.scheme()
        ))
    }

    fn identity(&self) -> Result<AuthIdentity, AuthError> {
        let username = Username::parse(&self.creds.user).map_err(|e| {
            AuthError::Message(format!(
                "the user name {:?} cannot be used for {}: {e}; write it as DOMAIN\\user or user@domain",
                self.creds.user,
                self.mech.scheme()
            ))
        })?;
        Ok(AuthIdentity {
            username,
            password: self.creds.password.expose().to_string().into(),
        })
    }

    /// Make a new context and its credentials handle.
    fn start(&mut self) -> Result<(), AuthError> {
        let identity = self.identity()?;
        let ctx = match self.mech {
            Mechanism::Ntlm => {
                let mut ntlm = Box::new(Ntlm::with_config(NtlmConfig::new(WORKSTATION.into())));
                let acq = ntlm
                    .acquire_credentials_handle()
                    .with_credential_use(CredentialUse::Outbound)
                    .with_auth_data(&identity)
                    .execute(ntlm.as_mut())
                    .map_err(|e| self.fail("loading the credentials", e))?;
                Context::Ntlm(ntlm, acq.credentials_handle)
            }
            Mechanism::Negotiate => {
                let config = NegotiateConfig::new(
                    Box::new(NtlmConfig::new(WORKSTATION.into())),
                    Some("ntlm".to_string()),
                    WORKSTATION.to_string(),
                );
                let mut neg = Box::new(
                    Negotiate::new_client(config).map_err(|e| self.fail("setting up SPNEGO", e))?,
                );
                let data = sspi::Credentials::AuthIdentity(identity);
                let acq = neg
                    .acquire_credentials_handle()
                    .with_credential_use(CredentialUse::Outbound)
                    .with_auth_data(&data)
                    .execute(neg.as_mut())
                    .map_err(|e| self.fail("loading the credentials", e))?;
                Context::Negotiate(neg, acq.credentials_handle)
            }
        };
        self.ctx = Some(ctx);
        self.complete = false;
        Ok(())
    }

    /// Run one `InitializeSecurityContext` step; `input` is the server's token, if any.
    fn step(&mut self, input: Option<Vec<u8>>, what: &str) -> Result<Vec<u8>, AuthError> {
        let target = self.target.clone();
        // Integrity and confidentiality, as Windows' WinRM client asks: without SIGN, MS-NLMP
        // makes every signature the constant `01 00 .. 00`, which `sspi` does not do for the
        // SPNEGO mechListMIC, so SPNEGO acceptors (pyspnego, Windows) refuse it.
        let flags = ClientRequestFlags::MUTUAL_AUTH
            | ClientRequestFlags::ALLOCATE_MEMORY
            | ClientRequestFlags::INTEGRITY
            | ClientRequestFlags::CONFIDENTIALITY;
        let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
        let mut input_bufs: Vec<SecurityBuffer> = input
            .map(|t| vec![SecurityBuffer::new(t, BufferType::Token)])
            .unwrap_or_default();
        if let (false, Some(b)) = (input_bufs.is_empty(), &self.binding) {
            input_bufs.push(SecurityBuffer::new(
                sec_channel_bindings(b),
                BufferType::ChannelBindings,
            ));
        }
        let has_input = !input_bufs.is_empty();
        // The same call on either context type (they share no trait object).
        macro_rules! step {
            ($ctx:expr, $handle:expr) => {{
                let mut builder = $ctx
                    .initialize_security_context()
                    .with_credentials_handle($handle)
                    .with_context_requirements(flags)
                    .with_target_data_representation(DataRepresentation::Native)
                    .with_target_name(&target)
                    .with_output(&mut output);
                if has_input {
                    builder = builder.with_input(&mut input_bufs);
                }
                $ctx.initialize_security_context_impl(&mut builder)
                    .and_then(|mut g| g.resolve_to_result())
            }};
        }
        let result = match self.ctx.as_mut() {
            None => {
                return Err(AuthError::Message(
                    "NTLM context missing (internal error)".into(),
                ))
            }
            Some(Context::Ntlm(ctx, handle)) => step!(ctx, handle),
            Some(Context::Negotiate(ctx, handle)) => step!(ctx, handle),
        };
        let result = result.map_err(|e| self.fail(what, e))?;
        self.complete = result.status == sspi::SecurityStatus::Ok;
        if matches!(
            result.status,
            sspi::SecurityStatus::CompleteNeeded | sspi::SecurityStatus::CompleteAndContinue
        ) {
            let done = match self.ctx.as_mut() {
                Some(Context::Ntlm(ctx, _)) => ctx.complete_auth_token(&mut output),
                Some(Context::Negotiate(ctx, _)) => ctx.complete_auth_token(&mut output),
                None => Ok(sspi::SecurityStatus::Ok),
            };
            done.map_err(|e| self.fail(what, e))?;
        }
        Ok(output
            .into_iter()
            .next()
            .map(|b| b.buffer)
            .unwrap_or_default())
    }

    fn header(&self, token: &[u8]) -> String {
        format!(
            "{} {}",
            self.mech.scheme(),
            base64::engine::general_purpose::STANDARD.encode(token)
        )
    }
}

impl Authenticator for SspiAuth {
    fn scheme(&self) -> &'static str {
        self.mech.scheme()
    }

    fn mechanism(&self) -> super::Mechanism {
        match self.mech {
            Mechanism::Ntlm => super::Mechanism::Ntlm,
            Mechanism::Negotiate => super::Mechanism::NegotiateNtlm,
        }
    }

    fn prepare<'a>(
        &'a mut self,
        conn: &'a ConnectionInfo,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AuthError>> + Send + 'a>>
    {
        self.binding = if conn.https && self.bind_channel {
            conn.tls_server_end_point.clone()
        } else {
            None
        };
        Box::pin(async { Ok(()) })
    }

    fn next(&mut self, challenge: Option<&str>) -> Result<Step, AuthError> {
        match (self.state, challenge) {
            // An authenticated connection needs no header.
            (State::Done, None) => Ok(Step::Nothing),
            (State::Fresh, _) | (State::Negotiating | State::Answered, None) => {
                self.start()?;
                let token = self.step(None, "writing the NEGOTIATE message")?;
                self.state = State::Negotiating;
                Ok(Step::Send(self.header(&token)))
            }
            (State::Negotiating, Some(tok)) => {
                let tok = tok.trim();
                if tok.is_empty() {
                    // The server answered our first message with a bare scheme: refused.
                    return Ok(Step::GiveUp);
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(tok)
                    .map_err(|_| {
                        AuthError::Message(format!(
                            "the server's {} challenge is not base64; is something between the connector and Exchange rewriting headers?",
                            self.mech.scheme()
                        ))
                    })?;
                let token = self.step(Some(bytes), "answering the server's CHALLENGE")?;
                self.state = State::Answered;
                Ok(Step::Send(self.header(&token)))
            }
            // A 401 after our answer (or on an authenticated connection): refused.
            (State::Answered | State::Done, Some(_)) => Ok(Step::GiveUp),
        }
    }

    fn accepted(&mut self, final_token: Option<&str>) -> Result<(), AuthError> {
        if self.state == State::Fresh || self.state == State::Done {
            return Ok(());
        }
        self.state = State::Done;
        // SPNEGO's last word: the server's mechListMIC, which the context must verify.
        let tok = final_token.map(str::trim).unwrap_or_default();
        if self.mech == Mechanism::Negotiate && !tok.is_empty() && !self.complete {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(tok)
                .map_err(|_| {
                    AuthError::Message("the server's final Negotiate token is not base64; is something between the connector and Exchange rewriting headers?".into())
                })?;
            self.step(
                Some(bytes),
                "checking the server's final SPNEGO token (mutual authentication)",
            )?;
        }
        Ok(())
    }

    fn can_seal(&self) -> bool {
        self.state == State::Done && self.ctx.is_some()
    }

    fn seal(&mut self, data: &[u8]) -> Result<Sealed, AuthError> {
        let scheme = self.mech.scheme();
        let r = match self.ctx.as_mut() {
            Some(Context::Ntlm(ctx, _)) => sealing::seal(ctx.as_mut(), data),
            Some(Context::Negotiate(ctx, _)) => sealing::seal(ctx.as_mut(), data),
            None => {
                return Err(AuthError::Message(format!(
                    "{scheme}: no authenticated context to seal with"
                )))
            }
        };
        r.map_err(|e| AuthError::Message(format!("{scheme} message encryption: {e}")))
    }

    fn unseal(&mut self, framed: &Framed) -> Result<Vec<u8>, AuthError> {
        let scheme = self.mech.scheme();
        let r = match self.ctx.as_mut() {
            Some(Context::Ntlm(ctx, _)) => sealing::unseal(ctx.as_mut(), framed),
            Some(Context::Negotiate(ctx, _)) => sealing::unseal(ctx.as_mut(), framed),
            None => {
                return Err(AuthError::Message(format!(
                    "{scheme}: no authenticated context to unseal with"
                )))
            }
        };
        r.map_err(|e| AuthError::Message(format!("{scheme} message encryption: {e}")))
    }

    fn reset(&mut self) {
        self.ctx = None;
        self.state = State::Fresh;
        self.complete = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    fn creds(user: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: Secret::new("pw"),
        }
    }

    #[test]
    fn first_messages_are_ntlm_and_spnego() {
        let mut a = SspiAuth::new(Mechanism::Ntlm, &creds("LAB\\svc"), "cas01", true);
        let Step::Send(h) = a.next(None).unwrap() else {
            panic!("no header")
        };
        let tok = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert_eq!(&tok[..8], b"NTLMSSP\0");
        let mut n = SspiAuth::new(
            Mechanism::Negotiate,
            &creds("svc@contoso.test"),
            "cas01",
            true,
        );
        let Step::Send(h) = n.next(None).unwrap() else {
            panic!("no header")
        };
        let tok = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("Negotiate ").unwrap())
            .unwrap();
        assert_eq!(tok[0], 0x60, "SPNEGO NegTokenInit");
        assert!(!h.contains("pw"));
    }

    /// SIGN, SEAL and KEY_EXCH must be asked for: sealing needs them, and without SIGN an
    /// SPNEGO mechListMIC from `sspi` does not match what pyspnego and Windows expect.
    #[test]
    fn integrity_and_confidentiality_are_requested() {
        let mut a = SspiAuth::new(Mechanism::Ntlm, &creds("LAB\\svc"), "cas01", true);
        let Step::Send(h) = a.next(None).unwrap() else {
            panic!("no header")
        };
        let tok = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("NTLM ").unwrap())
            .unwrap();
        let flags = u32::from_le_bytes(tok[12..16].try_into().unwrap());
        const SIGN: u32 = 0x10;
        const SEAL: u32 = 0x20;
        const KEY_EXCH: u32 = 0x4000_0000;
        assert_eq!(
            flags & (SIGN | SEAL | KEY_EXCH),
            SIGN | SEAL | KEY_EXCH,
            "{flags:#x}"
        );
    }

    #[test]
    fn refused_after_answer_and_reset_restarts() {
        let mut a = SspiAuth::new(Mechanism::Ntlm, &creds("LAB\\svc"), "cas01", true);
        assert!(matches!(a.next(None).unwrap(), Step::Send(_)));
        assert!(matches!(a.next(Some("")).unwrap(), Step::GiveUp));
        a.reset();
        assert!(matches!(a.next(None).unwrap(), Step::Send(_)));
        a.accepted(None).unwrap();
        assert!(matches!(a.next(None).unwrap(), Step::Nothing));
    }
}
