//! Tickets: the AS exchange (a TGT for the service account, with encrypted-timestamp
//! pre-authentication and the salt the KDC names), the TGS exchange (a ticket for an Exchange
//! server's SPN, following cross-realm referrals) and the process's ticket cache.
//!
//! The cache keeps one TGT per account and KDC setting (keyed with a salted hash of the
//! password, so a new password always makes a fresh AS exchange) and the service tickets got
//! with it — or the domain's refusal of that password, which is then not tried again in this
//! process (every try counts toward the account's lockout). A TGT is replaced by a fresh AS
//! exchange `renew_before_expiry` seconds before it expires, so a service that runs for weeks
//! keeps signing in. The KDC's clock is learned from its tickets and its skew errors and used
//! for that realm (as MIT's `kdc_timesync`); realms whose KDCs did not answer are not asked
//! again for two minutes. Each account has its own lock: parallel runspaces opening at once
//! make one AS exchange, not four. [`clear_cache`] forgets it all (a service reload, each
//! validation). It never logs a password, key or ticket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use sha2::Digest as _;

use super::kdc::{self, Kdc, KdcSource};
use super::{AccountProblem, KerberosError, SkewAt};
use crate::secrets::Secret;
use crate::wire::kerberos::crypto::{random_fill, random_u31, Etype, Key};
use crate::wire::kerberos::messages::{self, IssuedTicket, KdcReply, KrbErrorInfo};
use crate::wire::kerberos::names::Principal;

/// KRB-ERROR codes this module acts on (RFC 4120 §7.5.9).
pub mod codes {
    pub const KDC_ERR_NAME_EXP: u32 = 1;
    pub const KDC_ERR_C_PRINCIPAL_UNKNOWN: u32 = 6;
    pub const KDC_ERR_S_PRINCIPAL_UNKNOWN: u32 = 7;
    pub const KDC_ERR_POLICY: u32 = 12;
    pub const KDC_ERR_ETYPE_NOSUPP: u32 = 14;
    pub const KDC_ERR_CLIENT_REVOKED: u32 = 18;
    pub const KDC_ERR_KEY_EXPIRED: u32 = 23;
    pub const KDC_ERR_PREAUTH_FAILED: u32 = 24;
    pub const KDC_ERR_PREAUTH_REQUIRED: u32 = 25;
    pub const KRB_AP_ERR_BAD_INTEGRITY: u32 = 31;
    pub const KRB_AP_ERR_TKT_EXPIRED: u32 = 32;
    pub const KRB_AP_ERR_REPEAT: u32 = 34;
    pub const KRB_AP_ERR_BADMATCH: u32 = 36;
    pub const KRB_AP_ERR_SKEW: u32 = 37;
    pub const KRB_AP_ERR_MODIFIED: u32 = 41;
    pub const KRB_AP_ERR_NOKEY: u32 = 45;
    pub const KDC_ERR_WRONG_REALM: u32 = 68;
}

/// Active Directory NTSTATUS values in KERB-EXT-ERROR.
mod nt {
    pub const ACCOUNT_LOCKED_OUT: u32 = 0xC000_0234;
    pub const ACCOUNT_DISABLED: u32 = 0xC000_0072;
    pub const ACCOUNT_EXPIRED: u32 = 0xC000_0193;
    pub const PASSWORD_EXPIRED: u32 = 0xC000_0071;
    pub const PASSWORD_MUST_CHANGE: u32 = 0xC000_0224;
    pub const INVALID_LOGON_HOURS: u32 = 0xC000_006F;
    pub const INVALID_WORKSTATION: u32 = 0xC000_0070;
}

/// Ticket lifetime asked for; the KDC grants at most its own maximum.
const ASK_LIFETIME: i64 = 10 * 3600;
/// More than this many seconds of clock difference is skew (RFC 4120's usual 5 minutes).
pub const MAX_SKEW: i64 = 300;

/// How often the exchanges ran in this process (for tests and `diag`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub as_exchanges: u64,
    pub tgs_exchanges: u64,
}

static AS_COUNT: AtomicU64 = AtomicU64::new(0);
static TGS_COUNT: AtomicU64 = AtomicU64::new(0);

pub fn stats() -> Stats {
    Stats {
        as_exchanges: AS_COUNT.load(Ordering::Relaxed),
        tgs_exchanges: TGS_COUNT.load(Ordering::Relaxed),
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    principal: String,
    kdc: String,
    password_tag: [u8; 32],
}

struct Entry {
    tgt: IssuedTicket,
    services: HashMap<String, IssuedTicket>,
}

/// One account's tickets — or the domain's refusal of it — behind its own lock: a slow KDC
/// holds up only that account's sign-ins, parallel runspaces opening at once make one AS
/// exchange, and a refused password is tried once per process (every try counts toward the
/// account's lockout), until the password changes (another cache key) or the cache is
/// cleared (a service reload).
#[derive(Default)]
struct SlotState {
    entry: Option<Entry>,
    refused: Option<KerberosError>,
}

type Slot = std::sync::Arc<tokio::sync::Mutex<SlotState>>;

fn cache() -> &'static Mutex<HashMap<CacheKey, Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Slot>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn slot(key: &CacheKey) -> Slot {
    let mut map = match cache().lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    map.entry(key.clone()).or_default().clone()
}

/// Realms whose KDCs did not answer, and when: for a while, sign-ins move on to the next
/// mechanism at once instead of waiting for every KDC's timeout again.
fn unreachable() -> &'static Mutex<HashMap<String, (std::time::Instant, KerberosError)>> {
    static UNREACHABLE: OnceLock<Mutex<HashMap<String, (std::time::Instant, KerberosError)>>> =
        OnceLock::new();
    UNREACHABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// How long a realm whose KDCs did not answer is not asked again.
const UNREACHABLE_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// KDC time minus local time, per realm (learned from a KDC's skew error).
fn offsets() -> &'static Mutex<HashMap<String, i64>> {
    static OFFSETS: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    OFFSETS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn offset(realm: &str) -> i64 {
    offsets()
        .lock()
        .map(|m| m.get(realm).copied().unwrap_or(0))
        .unwrap_or(0)
}

/// The clock difference learned with `realm`'s KDC (seconds; KDC minus this machine).
pub fn clock_offset(realm: &str) -> i64 {
    offset(realm)
}

fn local_now() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_micros())
}

/// Remember how far the KDC's clock is from this one, from a ticket's auth time (issued just
/// now): differences under a minute are latency, not skew.
fn learn_offset(realm: &str, kdc_time: i64) {
    let diff = kdc_time - local_now().0;
    if let Ok(mut m) = offsets().lock() {
        if diff.abs() > 60 {
            m.insert(realm.to_string(), diff);
        } else {
            m.remove(realm);
        }
    }
}

/// The time to put in messages for `realm`: this machine's, corrected by what its KDC said.
/// No two calls in this process answer the same microsecond: an acceptor's replay cache keys
/// authenticators by client, seconds and microseconds, so two sign-ins started together (a
/// validation's parallel checks, parallel runspaces) would otherwise be refused as a replay
/// (KRB_AP_ERR_REPEAT), as MIT's and Windows' clients also avoid.
pub fn now(realm: &str) -> (i64, u32) {
    let (s, us) = unique(local_now());
    (s + offset(realm), us)
}

/// `t`, or one microsecond after the last time handed out when `t` is not later than it.
fn unique(t: (i64, u32)) -> (i64, u32) {
    static LAST: Mutex<i64> = Mutex::new(0);
    let is = t.0 * 1_000_000 + i64::from(t.1);
    let Ok(mut last) = LAST.lock() else {
        return t;
    };
    *last = after(*last, is);
    (
        last.div_euclid(1_000_000),
        last.rem_euclid(1_000_000) as u32,
    )
}

/// The microsecond to hand out at clock reading `is` when `last` was the previous one: `is`
/// when later, else `last + 1`; a clock stepped back by more than a second is believed (NTP),
/// not held.
fn after(last: i64, is: i64) -> i64 {
    if is > last || last - is > 1_000_000 {
        is
    } else {
        last + 1
    }
}

fn password_tag(password: &Secret) -> [u8; 32] {
    static SALT: OnceLock<[u8; 32]> = OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut s = [0u8; 32];
        let _ = random_fill(&mut s);
        s
    });
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(password.expose().as_bytes());
    h.finalize().into()
}

/// Forget every cached ticket, refusal and unreachable realm (a service reload, after the
/// account or the KDCs were fixed; benchmarks and tests start from cold with it).
pub fn clear_cache() {
    if let Ok(mut m) = cache().lock() {
        m.clear();
    }
    if let Ok(mut u) = unreachable().lock() {
        u.clear();
    }
}

/// What a sign-in needs: the account, the KDC setting, the SPN and the renewal margin.
#[derive(Debug, Clone)]
pub struct TicketRequest<'a> {
    pub client: &'a Principal,
    pub password: &'a Secret,
    /// `Kerberos/KdcAddress` (applies to the client's realm).
    pub kdc_setting: Option<&'a str>,
    pub service: &'a [String],
    /// The SPN's realm when the setting names one; else the client's.
    pub service_realm: Option<&'a str>,
    pub renew_before_expiry: i64,
}

fn spn_text(service: &[String]) -> String {
    service.join("/")
}

/// A service ticket for `req.service`: from the cache, or through the TGS exchange (and the
/// AS exchange first when the cached TGT is missing or about to expire).
pub async fn service_ticket(req: &TicketRequest<'_>) -> Result<IssuedTicket, KerberosError> {
    let key = CacheKey {
        principal: req.client.to_string(),
        kdc: req.kdc_setting.unwrap_or_default().to_string(),
        password_tag: password_tag(req.password),
    };
    let spn = spn_text(req.service);
    let slot = slot(&key);
    let mut state = slot.lock().await;
    if let Some(e) = &state.refused {
        return Err(e.clone());
    }
    let entry = &mut state.entry;
    let realm = req.client.realm.clone();
    let fresh = |t: &IssuedTicket| now(&realm).0 + req.renew_before_expiry < t.end_time;
    if let Some(e) = entry.as_ref().filter(|e| fresh(&e.tgt)) {
        if let Some(t) = e.services.get(&spn).filter(|t| fresh(t)) {
            return Ok(t.clone());
        }
    }
    let tgt = match entry.as_ref().map(|e| e.tgt.clone()).filter(|t| fresh(t)) {
        Some(t) => t,
        None => {
            let t = match as_exchange_once(req, &key.kdc).await {
                Ok(t) => t,
                Err(e) => {
                    if e.is_credential_error() {
                        state.refused = Some(e.clone());
                    }
                    return Err(e);
                }
            };
            *entry = Some(Entry {
                tgt: t.clone(),
                services: HashMap::new(),
            });
            t
        }
    };
    let ticket = match tgs_exchange(&tgt, req).await {
        Err(KerberosError::Kdc { code, .. }) if code == codes::KRB_AP_ERR_TKT_EXPIRED => {
            // The KDC considers the TGT expired (its clock is ahead): one fresh AS exchange.
            let t = as_exchange_once(req, &key.kdc).await?;
            let ticket = tgs_exchange(&t, req).await?;
            *entry = Some(Entry {
                tgt: t,
                services: HashMap::new(),
            });
            ticket
        }
        other => other?,
    };
    if let Some(e) = entry.as_mut() {
        e.services.insert(spn, ticket.clone());
    }
    Ok(ticket)
}

/// The AS exchange, unless the realm's KDCs did not answer a moment ago (then that error at
/// once).
async fn as_exchange_once(
    req: &TicketRequest<'_>,
    kdc_key: &str,
) -> Result<IssuedTicket, KerberosError> {
    let down_key = format!("{}|{kdc_key}", req.client.realm);
    if let Ok(u) = unreachable().lock() {
        if let Some((at, e)) = u.get(&down_key) {
            if at.elapsed() < UNREACHABLE_FOR {
                return Err(e.clone());
            }
        }
    }
    match as_exchange(req.client, req.password, req.kdc_setting).await {
        Err(e @ KerberosError::NoKdc { .. }) => {
            if let Ok(mut u) = unreachable().lock() {
                u.insert(down_key, (std::time::Instant::now(), e.clone()));
            }
            Err(e)
        }
        other => other,
    }
}

fn account_problem(e: &KrbErrorInfo) -> Option<AccountProblem> {
    let by_status = e.nt_status.and_then(|s| match s {
        nt::ACCOUNT_LOCKED_OUT => Some(AccountProblem::LockedOut),
        nt::ACCOUNT_DISABLED => Some(AccountProblem::Disabled),
        nt::ACCOUNT_EXPIRED => Some(AccountProblem::AccountExpired),
        nt::PASSWORD_EXPIRED | nt::PASSWORD_MUST_CHANGE => Some(AccountProblem::PasswordExpired),
        nt::INVALID_LOGON_HOURS | nt::INVALID_WORKSTATION => Some(AccountProblem::LogonRestricted),
        _ => None,
    });
    by_status.or(match e.code {
        codes::KDC_ERR_PREAUTH_FAILED | codes::KRB_AP_ERR_BAD_INTEGRITY => {
            Some(AccountProblem::WrongPassword)
        }
        codes::KDC_ERR_CLIENT_REVOKED => {
            // MIT says which in its e-text ("Client's credentials have been revoked" for a
            // lockout, "...locked out" in newer versions).
            let t = e.text.as_deref().unwrap_or_default().to_ascii_lowercase();
            Some(if t.contains("lock") {
                AccountProblem::LockedOut
            } else {
                AccountProblem::Revoked
            })
        }
        codes::KDC_ERR_KEY_EXPIRED => Some(AccountProblem::PasswordExpired),
        codes::KDC_ERR_NAME_EXP => Some(AccountProblem::AccountExpired),
        codes::KDC_ERR_C_PRINCIPAL_UNKNOWN => Some(AccountProblem::Unknown),
        _ => None,
    })
}

fn protocol(peer: &str, e: impl std::fmt::Display) -> KerberosError {
    KerberosError::Protocol {
        peer: peer.to_string(),
        detail: e.to_string(),
    }
}

/// The KDCs of `realm` and an error naming what was tried when none answers.
async fn send_to_realm(
    realm: &str,
    kdc_setting: Option<&str>,
    message: &[u8],
) -> Result<(Vec<u8>, String), KerberosError> {
    let (kdcs, source): (Vec<Kdc>, KdcSource) = kdc::locate(realm, kdc_setting).await;
    match kdc::send(&kdcs, message).await {
        Ok(r) => Ok((r, kdcs.first().map(ToString::to_string).unwrap_or_default())),
        Err(u) => Err(KerberosError::NoKdc {
            realm: realm.to_string(),
            source_text: source.describe().to_string(),
            tried: u.tried,
        }),
    }
}

fn default_salt(p: &Principal) -> Vec<u8> {
    let mut s = p.realm.clone().into_bytes();
    for c in &p.components {
        s.extend_from_slice(c.as_bytes());
    }
    s
}

/// The AS exchange: a TGT for `client`.
pub async fn as_exchange(
    client: &Principal,
    password: &Secret,
    kdc_setting: Option<&str>,
) -> Result<IssuedTicket, KerberosError> {
    AS_COUNT.fetch_add(1, Ordering::Relaxed);
    let mut client = client.clone();
    let mut preauth: Option<(Etype, Vec<u8>)> = None;
    let mut skew_retried = false;
    let mut realm_hops = 0;
    let mut kdc_setting = kdc_setting;
    for _round in 0..8 {
        let realm = client.realm.clone();
        let nonce = random_u31().map_err(|e| protocol("this machine", e))?;
        let (now_s, usec) = now(&realm);
        let key = match &preauth {
            Some((etype, salt)) => Some(
                Key::from_password(*etype, password.expose(), salt)
                    .map_err(|e| protocol("this machine", e))?,
            ),
            None => None,
        };
        let req = messages::as_req(
            &client,
            nonce,
            now_s + ASK_LIFETIME,
            key.as_ref().map(|k| (k, now_s, usec)),
        )
        .map_err(|e| protocol("this machine", e))?;
        let (reply, kdc) = send_to_realm(&realm, kdc_setting, &req).await?;
        match messages::parse_kdc_reply(&reply).map_err(|e| protocol(&kdc, e))? {
            KdcReply::As(rep) => {
                // Without pre-authentication, the salt comes from the reply's PA-ETYPE-INFO2
                // (or is the default); the enc-part's etype picks the key.
                let key = match key {
                    Some(k) => k,
                    None => {
                        let n = messages::rep_etype(&rep);
                        let etype = Etype::from_number(n).ok_or(KerberosError::NoAesKeys {
                            principal: client.to_string(),
                            realm: realm.clone(),
                        })?;
                        let salt =
                            messages::rep_salt(&rep, n).unwrap_or_else(|| default_salt(&client));
                        Key::from_password(etype, password.expose(), &salt)
                            .map_err(|e| protocol("this machine", e))?
                    }
                };
                let issued = messages::open_as_rep(&rep, &key, nonce).map_err(|e| match e {
                    messages::MessageError::Decrypt { .. } => KerberosError::Account {
                        principal: client.to_string(),
                        realm: realm.clone(),
                        problem: AccountProblem::WrongPassword,
                    },
                    other => protocol(&kdc, other),
                })?;
                learn_offset(&realm, issued.auth_time);
                return Ok(issued);
            }
            KdcReply::Tgs(_) => return Err(protocol(&kdc, "a TGS-REP answered an AS-REQ")),
            KdcReply::Error(e) => {
                if e.code == codes::KDC_ERR_PREAUTH_REQUIRED && preauth.is_none() {
                    preauth = Some(choose_etype(&e, &client)?);
                    continue;
                }
                // A KDC that does not resolve enterprise names (MIT): the plain name, before
                // any password was tried.
                if e.code == codes::KDC_ERR_C_PRINCIPAL_UNKNOWN && preauth.is_none() {
                    if let Some(plain) = client.plain() {
                        client = plain;
                        continue;
                    }
                }
                if e.code == codes::KRB_AP_ERR_SKEW && !skew_retried {
                    skew_retried = true;
                    let (local, _) = local_now();
                    if let Ok(mut m) = offsets().lock() {
                        m.insert(realm.clone(), e.server_time - local);
                    }
                    tracing::warn!(
                        realm = %realm,
                        offset_secs = e.server_time - local,
                        "this machine's clock differs from the KDC's; Kerberos uses the KDC's time"
                    );
                    continue;
                }
                if e.code == codes::KRB_AP_ERR_SKEW {
                    return Err(KerberosError::ClockSkew {
                        at: SkewAt::Kdc { kdc },
                        offset_secs: Some(e.server_time - local_now().0),
                    });
                }
                if e.code == codes::KDC_ERR_WRONG_REALM && realm_hops < 2 {
                    if let Some(r) = e.client_realm.clone().filter(|r| *r != realm) {
                        // Another realm: its own salt and clock.
                        realm_hops += 1;
                        client.realm = r;
                        kdc_setting = None;
                        preauth = None;
                        skew_retried = false;
                        continue;
                    }
                }
                if let Some(problem) = account_problem(&e) {
                    return Err(KerberosError::Account {
                        principal: client.to_string(),
                        realm,
                        problem,
                    });
                }
                if e.code == codes::KDC_ERR_ETYPE_NOSUPP {
                    return Err(KerberosError::NoAesKeys {
                        principal: client.to_string(),
                        realm,
                    });
                }
                return Err(KerberosError::Kdc {
                    realm,
                    what: "the AS-REQ (sign-in of the service account)",
                    code: e.code,
                    text: e.text,
                });
            }
        }
    }
    Err(protocol(
        &client.realm,
        "the AS exchange did not finish (too many rounds)",
    ))
}

fn choose_etype(e: &KrbErrorInfo, client: &Principal) -> Result<(Etype, Vec<u8>), KerberosError> {
    let mut best: Option<(Etype, Vec<u8>)> = None;
    for (n, salt) in &e.etype_info {
        if let Some(etype) = Etype::from_number(*n) {
            let better = match &best {
                None => true,
                Some((b, _)) => *b == Etype::Aes128 && etype == Etype::Aes256,
            };
            if better {
                best = Some((etype, salt.clone().unwrap_or_else(|| default_salt(client))));
            }
        }
    }
    match best {
        Some(b) => Ok(b),
        // No ETYPE-INFO2 at all: AES256 with the default salt (MIT without e-data).
        None if e.etype_info.is_empty() => Ok((Etype::Aes256, default_salt(client))),
        None => Err(KerberosError::NoAesKeys {
            principal: client.to_string(),
            realm: client.realm.clone(),
        }),
    }
}

/// The TGS exchange: a ticket for `req.service`, following referrals to other realms.
async fn tgs_exchange(
    tgt: &IssuedTicket,
    req: &TicketRequest<'_>,
) -> Result<IssuedTicket, KerberosError> {
    TGS_COUNT.fetch_add(1, Ordering::Relaxed);
    let spn = spn_text(req.service);
    let mut ticket = tgt.clone();
    // The realm whose KDC gets the request: where the TGT is for.
    let mut realm = tgt
        .service
        .get(1)
        .cloned()
        .unwrap_or_else(|| tgt.client.realm.clone());
    let target_realm = req
        .service_realm
        .map(str::to_string)
        .unwrap_or_else(|| realm.clone());
    for _hop in 0..4 {
        let nonce = random_u31().map_err(|e| protocol("this machine", e))?;
        let (now_s, usec) = now(&tgt.client.realm);
        // After a referral the request names the realm it was referred to.
        let body_realm = if ticket
            .service
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("krbtgt"))
            && !realm.eq_ignore_ascii_case(&tgt.client.realm)
        {
            realm.clone()
        } else {
            target_realm.clone()
        };
        let msg = messages::tgs_req(
            &ticket,
            &body_realm,
            req.service,
            nonce,
            now_s + ASK_LIFETIME,
            now_s,
            usec,
        )
        .map_err(|e| protocol("this machine", e))?;
        let setting = if realm.eq_ignore_ascii_case(&tgt.client.realm) {
            req.kdc_setting
        } else {
            None
        };
        let (reply, kdc) = send_to_realm(&realm, setting, &msg).await?;
        match messages::parse_kdc_reply(&reply).map_err(|e| protocol(&kdc, e))? {
            KdcReply::Tgs(rep) => {
                let issued = messages::open_tgs_rep(&rep, &ticket.key, nonce)
                    .map_err(|e| protocol(&kdc, e))?;
                let is_referral = issued.service.len() == 2
                    && issued
                        .service
                        .first()
                        .is_some_and(|s| s.eq_ignore_ascii_case("krbtgt"))
                    && !issued
                        .service
                        .get(1)
                        .is_some_and(|r| r.eq_ignore_ascii_case(&realm));
                if is_referral {
                    realm = issued.service.get(1).cloned().unwrap_or_default();
                    ticket = IssuedTicket {
                        client: tgt.client.clone(),
                        ..issued
                    };
                    continue;
                }
                return Ok(IssuedTicket {
                    client: tgt.client.clone(),
                    ..issued
                });
            }
            KdcReply::As(_) => return Err(protocol(&kdc, "an AS-REP answered a TGS-REQ")),
            KdcReply::Error(e) => {
                return Err(match e.code {
                    codes::KDC_ERR_S_PRINCIPAL_UNKNOWN => KerberosError::UnknownSpn {
                        spn: spn.clone(),
                        realm: realm.clone(),
                    },
                    codes::KRB_AP_ERR_SKEW => KerberosError::ClockSkew {
                        at: SkewAt::Kdc { kdc },
                        offset_secs: Some(e.server_time - local_now().0),
                    },
                    codes::KDC_ERR_ETYPE_NOSUPP => KerberosError::NoAesKeys {
                        principal: spn.clone(),
                        realm: realm.clone(),
                    },
                    code => match account_problem(&e)
                        .filter(|_| code == codes::KDC_ERR_CLIENT_REVOKED)
                    {
                        Some(problem) => KerberosError::Account {
                            principal: tgt.client.to_string(),
                            realm: realm.clone(),
                            problem,
                        },
                        None => KerberosError::Kdc {
                            realm: realm.clone(),
                            what: "the TGS-REQ (a ticket for the Exchange server)",
                            code,
                            text: e.text,
                        },
                    },
                });
            }
        }
    }
    Err(protocol(&realm, "too many cross-realm referrals"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_times_never_repeat_even_from_many_threads_or_a_stalled_clock() {
        let all: Vec<(i64, u32)> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..2000).map(|_| now("R")).collect::<Vec<_>>()))
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        // The same clock reading twice: the second is one microsecond later.
        assert_eq!(after(7_000_000, 7_000_000), 7_000_001);
        assert_eq!(after(7_000_001, 7_000_000), 7_000_002);
        assert_eq!(after(7_000_001, 7_000_005), 7_000_005);
        // A clock stepped back by more than a second is believed.
        assert_eq!(after(7_000_000, 5_000_000), 5_000_000);
    }

    fn err(code: u32, nt: Option<u32>, text: Option<&str>) -> KrbErrorInfo {
        KrbErrorInfo {
            code,
            server_time: 0,
            realm: "R".into(),
            client_realm: None,
            text: text.map(str::to_string),
            etype_info: Vec::new(),
            nt_status: nt,
        }
    }

    #[test]
    fn account_problems_from_codes_and_ad_status() {
        assert_eq!(
            account_problem(&err(24, None, None)),
            Some(AccountProblem::WrongPassword)
        );
        assert_eq!(
            account_problem(&err(18, Some(0xC000_0234), None)),
            Some(AccountProblem::LockedOut)
        );
        assert_eq!(
            account_problem(&err(18, Some(0xC000_0072), None)),
            Some(AccountProblem::Disabled)
        );
        assert_eq!(
            account_problem(&err(
                18,
                None,
                Some("Client's credentials have been revoked")
            )),
            Some(AccountProblem::Revoked)
        );
        assert_eq!(
            account_problem(&err(23, None, None)),
            Some(AccountProblem::PasswordExpired)
        );
        assert_eq!(
            account_problem(&err(1, None, None)),
            Some(AccountProblem::AccountExpired)
        );
        assert_eq!(account_problem(&err(7, None, None)), None);
    }

    #[test]
    fn the_best_aes_key_and_its_salt_are_chosen() {
        let p = Principal {
            components: vec!["svc".into()],
            realm: "EAS.TEST".into(),
            enterprise: false,
        };
        let mut e = err(25, None, None);
        e.etype_info = vec![
            (23, None),
            (17, Some(b"S1".to_vec())),
            (18, Some(b"S2".to_vec())),
        ];
        assert_eq!(
            choose_etype(&e, &p).unwrap(),
            (Etype::Aes256, b"S2".to_vec())
        );
        e.etype_info = vec![(23, None)];
        assert!(matches!(
            choose_etype(&e, &p),
            Err(KerberosError::NoAesKeys { .. })
        ));
        e.etype_info.clear();
        assert_eq!(
            choose_etype(&e, &p).unwrap(),
            (Etype::Aes256, b"EAS.TESTsvc".to_vec())
        );
    }

    #[test]
    fn password_tags_differ_by_password_only() {
        let a = password_tag(&Secret::new("one"));
        assert_eq!(a, password_tag(&Secret::new("one")));
        assert_ne!(a, password_tag(&Secret::new("two")));
    }
}
