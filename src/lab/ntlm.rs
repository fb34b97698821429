//! The lab's NTLM and Negotiate (SPNEGO carrying NTLM) server side, through `sspi`'s acceptor.
//!
//! Like IIS, the identity belongs to the TCP connection: each connection has a [`ConnAuth`]
//! that goes from no handshake, to a handshake in progress (after the client's NEGOTIATE
//! message), to authenticated as one lab account. Raw NTLM tokens are accepted under both the
//! `NTLM` and the `Negotiate` scheme (as Windows does); SPNEGO tokens under `Negotiate`. The
//! password is checked against the named account only (NTLMv2 response and MIC, verified by
//! `sspi`). An authenticated connection keeps its context, so that WinRM messages sealed by the
//! client over plain HTTP can be unsealed and answers sealed ([`seal`], [`unseal`]). It never
//! logs a token, a password or a message body.

use base64::Engine;
use sspi::negotiate::NegotiateConfig;
use sspi::ntlm::NtlmConfig;
use sspi::{
    AuthIdentity, BufferType, CredentialUse, DataRepresentation, Negotiate, Ntlm, SecurityBuffer,
    SecurityStatus, ServerRequestFlags, Sspi, SspiEx, SspiImpl, Username,
};

use super::accounts::{Account, Accounts, DOMAIN};
use crate::wire::sealing::{self, EncryptionError, Framed, Sealed};

/// A handshake in progress on one connection.
pub(super) enum Pending {
    Ntlm(Box<Ntlm>),
    Negotiate(Box<Negotiate>),
}

/// The authentication state of one lab connection.
#[derive(Default)]
pub(super) enum ConnAuth {
    #[default]
    None,
    Pending(Pending),
    /// Signed in as this account; the context seals and unseals its messages.
    Authenticated(Account, Pending),
    /// Signed in with Kerberos; the protection seals and unseals its messages.
    Kerberos(Account, Box<crate::wire::kerberos::crypto::Protection>),
}

fn kerberos_error(e: crate::wire::kerberos::crypto::TokenError) -> EncryptionError {
    match e {
        crate::wire::kerberos::crypto::TokenError::Malformed(m) => {
            EncryptionError::Malformed(m.to_string())
        }
        other => EncryptionError::Unseal(other.to_string()),
    }
}

/// Seal an answer with the connection's context; `None` when it has none (not Kerberos, NTLM
/// or Negotiate).
pub(super) fn seal(state: &mut ConnAuth, data: &[u8]) -> Option<Result<Sealed, EncryptionError>> {
    match state {
        ConnAuth::Kerberos(_, p) => Some(p.wrap(data).map_err(kerberos_error)),
        ConnAuth::Authenticated(_, Pending::Ntlm(c)) => Some(sealing::seal(c.as_mut(), data)),
        ConnAuth::Authenticated(_, Pending::Negotiate(c)) => Some(sealing::seal(c.as_mut(), data)),
        _ => None,
    }
}

/// Unseal a request with the connection's context; `None` when it has none.
pub(super) fn unseal(
    state: &mut ConnAuth,
    framed: &Framed,
) -> Option<Result<Vec<u8>, EncryptionError>> {
    match state {
        ConnAuth::Kerberos(_, p) => Some(
            p.unwrap(&framed.signature, &framed.sealed)
                .map_err(kerberos_error)
                .and_then(|clear| {
                    if clear.len() == framed.original_len {
                        Ok(clear)
                    } else {
                        Err(EncryptionError::Length {
                            expected: framed.original_len,
                            actual: clear.len(),
                        })
                    }
                }),
        ),
        ConnAuth::Authenticated(_, Pending::Ntlm(c)) => Some(sealing::unseal(c.as_mut(), framed)),
        ConnAuth::Authenticated(_, Pending::Negotiate(c)) => {
            Some(sealing::unseal(c.as_mut(), framed))
        }
        _ => None,
    }
}

/// What one `Authorization: NTLM|Negotiate` header leads to.
pub(super) enum Outcome {
    /// Send 401 with `WWW-Authenticate: <scheme> <token>`.
    Challenge(String),
    /// Authenticated; the optional header value goes on the response (SPNEGO's final token).
    Accepted(Account, Option<String>),
    /// Refused or malformed: send a fresh 401.
    Refused,
}

const NTLMSSP: &[u8] = b"NTLMSSP\0";

fn b64(t: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(t)
}

/// The account a client-supplied name refers to (`LAB\alias`, `alias@domain`, or an alias
/// with some other domain part).
fn account_for(accounts: &Accounts, username: &Username) -> Option<Account> {
    accounts
        .find(username.inner())
        .or_else(|| accounts.find(username.account_name()))
        .cloned()
}

/// Every account under both of its names, for the SPNEGO acceptor's candidate list.
fn identities(accounts: &Accounts) -> Vec<AuthIdentity> {
    let mut out = Vec::new();
    for a in accounts.all() {
        let alias = a.upn.split('@').next().unwrap_or_default();
        let suffix = a.upn.split('@').nth(1).unwrap_or_default();
        for name in [
            Username::new_down_level_logon_name(alias, DOMAIN),
            Username::new_upn(alias, suffix),
        ]
        .into_iter()
        .flatten()
        {
            out.push(AuthIdentity {
                username: name,
                password: a.password.clone().into(),
            });
        }
    }
    out
}

/// One `AcceptSecurityContext` step on a context.
fn accept<C>(ctx: &mut C, token: Vec<u8>) -> Result<(SecurityStatus, Vec<u8>), sspi::Error>
where
    C: Sspi + SspiImpl,
    C::CredentialsHandle: Default,
{
    let mut handle = C::CredentialsHandle::default();
    let mut input = vec![SecurityBuffer::new(token, BufferType::Token)];
    let mut output = vec![SecurityBuffer::new(Vec::new(), BufferType::Token)];
    let builder = ctx
        .accept_security_context()
        .with_credentials_handle(&mut handle)
        .with_context_requirements(ServerRequestFlags::ALLOCATE_MEMORY)
        .with_target_data_representation(DataRepresentation::Native)
        .with_input(&mut input)
        .with_output(&mut output);
    let result = ctx
        .accept_security_context_impl(builder)?
        .resolve_to_result()?;
    let out = output
        .into_iter()
        .next()
        .map(|b| b.buffer)
        .unwrap_or_default();
    Ok((result.status, out))
}

fn new_ntlm() -> Result<Box<Ntlm>, sspi::Error> {
    let mut ntlm = Box::new(Ntlm::with_config(NtlmConfig::default()));
    ntlm.acquire_credentials_handle()
        .with_credential_use(CredentialUse::Inbound)
        .execute(ntlm.as_mut())?;
    Ok(ntlm)
}

fn new_negotiate(accounts: &Accounts) -> Result<Box<Negotiate>, sspi::Error> {
    let config = NegotiateConfig::new(
        Box::new(NtlmConfig::default()),
        Some("ntlm".to_string()),
        "LAB-CAS".to_string(),
    );
    let mut neg = Box::new(Negotiate::new_server(config, identities(accounts))?);
    neg.acquire_credentials_handle()
        .with_credential_use(CredentialUse::Inbound)
        .execute(neg.as_mut())?;
    Ok(neg)
}

/// Advance `state` with the client's `scheme token` header value.
pub(super) fn step(
    state: &mut ConnAuth,
    accounts: &Accounts,
    scheme: &str,
    token_b64: &str,
) -> Outcome {
    let Ok(token) = base64::engine::general_purpose::STANDARD.decode(token_b64.trim()) else {
        *state = ConnAuth::None;
        return Outcome::Refused;
    };
    let raw_type = token
        .strip_prefix(NTLMSSP)
        .and_then(|rest| rest.first().copied());
    let result = match (std::mem::take(state), raw_type) {
        // NTLM NEGOTIATE: a new handshake on this connection, whatever came before.
        (_, Some(1)) => new_ntlm().and_then(|mut ntlm| {
            let (_, out) = accept(ntlm.as_mut(), token)?;
            *state = ConnAuth::Pending(Pending::Ntlm(ntlm));
            Ok(Outcome::Challenge(format!("{scheme} {}", b64(&out))))
        }),
        // NTLM AUTHENTICATE answering our challenge.
        (ConnAuth::Pending(Pending::Ntlm(mut ntlm)), Some(3)) => (|| {
            accept(ntlm.as_mut(), token)?;
            let names = ntlm.query_context_names()?;
            let Some(account) = account_for(accounts, &names.username) else {
                return Ok(Outcome::Refused);
            };
            ntlm.custom_set_auth_identity(AuthIdentity {
                username: names.username,
                password: account.password.clone().into(),
            })?;
            ntlm.complete_auth_token(&mut [])?;
            *state = ConnAuth::Authenticated(account.clone(), Pending::Ntlm(ntlm));
            Ok(Outcome::Accepted(account, None))
        })(),
        (_, Some(_)) => Ok(Outcome::Refused),
        // SPNEGO NegTokenInit: a new handshake.
        (_, None) if token.first() == Some(&0x60) => new_negotiate(accounts).and_then(|mut neg| {
            let (status, out) = accept(neg.as_mut(), token)?;
            finish_spnego(state, accounts, neg, status, out)
        }),
        // SPNEGO NegTokenResp continuing a handshake.
        (ConnAuth::Pending(Pending::Negotiate(mut neg)), None) => accept(neg.as_mut(), token)
            .and_then(|(status, out)| finish_spnego(state, accounts, neg, status, out)),
        (_, None) => Ok(Outcome::Refused),
    };
    match result {
        Ok(o) => o,
        Err(e) => {
            tracing::debug!(kind = ?e.error_type, "lab: NTLM/Negotiate handshake refused");
            *state = ConnAuth::None;
            Outcome::Refused
        }
    }
}

fn finish_spnego(
    state: &mut ConnAuth,
    accounts: &Accounts,
    mut neg: Box<Negotiate>,
    status: SecurityStatus,
    out: Vec<u8>,
) -> Result<Outcome, sspi::Error> {
    if status == SecurityStatus::Ok {
        let names = neg.query_context_names()?;
        return Ok(match account_for(accounts, &names.username) {
            Some(a) => {
                *state = ConnAuth::Authenticated(a.clone(), Pending::Negotiate(neg));
                Outcome::Accepted(
                    a,
                    (!out.is_empty()).then(|| format!("Negotiate {}", b64(&out))),
                )
            }
            None => Outcome::Refused,
        });
    }
    *state = ConnAuth::Pending(Pending::Negotiate(neg));
    Ok(Outcome::Challenge(format!("Negotiate {}", b64(&out))))
}
