//! Kerberos messages (RFC 4120) as this connector sends and reads them: AS and TGS exchanges
//! with the KDC, the AP-REQ/AP-REP of a sign-in to a service (with the GSS checksum and the
//! channel binding of RFC 4121 and MS-KILE), KRB-ERROR with Active Directory's extended
//! status, and the acceptor side the lab needs.
//!
//! Built on `picky-krb`'s ASN.1 types. No I/O and no clock: times are passed in as Unix
//! seconds. Errors name the message and field, never key or ticket bytes.

use picky_asn1::bit_string::BitString;
use picky_asn1::date::GeneralizedTime;
use picky_asn1::restricted_string::Ia5String;
use picky_asn1::wrapper::{
    Asn1SequenceOf, BitStringAsn1, ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag10,
    ExplicitContextTag11, ExplicitContextTag2, ExplicitContextTag3, ExplicitContextTag4,
    ExplicitContextTag5, ExplicitContextTag6, ExplicitContextTag7, ExplicitContextTag8,
    ExplicitContextTag9, GeneralStringAsn1, GeneralizedTimeAsn1, IntegerAsn1, OctetStringAsn1,
    Optional,
};
use picky_krb::data_types::{
    AuthenticatorInner, AuthorizationDataInner, Checksum, EncApRepPartInner, EncryptedData,
    EncryptionKey, EtypeInfo2, KerbPaPacRequest, PaData, PaEncTsEnc, PrincipalName, Ticket,
};
use picky_krb::messages::{
    ApRep, ApRepInner, ApReq, ApReqInner, AsRep, AsReq, EncAsRepPart, EncTgsRepPart, KdcRep,
    KdcReq, KdcReqBody, KrbError, KrbErrorInner, TgsRep, TgsReq,
};

use super::crypto::{usage, CryptoError, Etype, Key};
use super::names::Principal;

/// A message could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the {what} is malformed")]
    Malformed { what: &'static str },
    #[error("a name or realm holds characters Kerberos cannot carry: {0:?}")]
    BadName(String),
    #[error("the {what} uses encryption type {etype}, which is not supported (only AES128 and AES256; enable AES for the account)")]
    Etype { what: &'static str, etype: i64 },
    #[error("the {what} could not be decrypted: {source}")]
    Decrypt {
        what: &'static str,
        source: CryptoError,
    },
    #[error("the {what} answers another request (its nonce differs)")]
    Nonce { what: &'static str },
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

fn malformed(what: &'static str) -> MessageError {
    MessageError::Malformed { what }
}

fn kstring(s: &str) -> Result<GeneralStringAsn1, MessageError> {
    Ia5String::from_string(s.to_string())
        .map(GeneralStringAsn1::from)
        .map_err(|_| MessageError::BadName(s.to_string()))
}

fn int(n: i64) -> IntegerAsn1 {
    IntegerAsn1::from_bytes_be_signed(n.to_be_bytes().to_vec())
}

fn uint(n: u32) -> IntegerAsn1 {
    IntegerAsn1::from_bytes_be_unsigned(n.to_be_bytes().to_vec())
}

/// The value of an ASN.1 INTEGER (up to 64 bits, signed).
pub fn int_value(i: &IntegerAsn1) -> i64 {
    let b = i.as_signed_bytes_be();
    let neg = b.first().is_some_and(|x| x & 0x80 != 0);
    let mut v: i64 = if neg { -1 } else { 0 };
    for x in b.iter().take(8) {
        v = (v << 8) | i64::from(*x);
    }
    v
}

/// A KerberosTime from Unix seconds.
pub fn ktime(secs: i64) -> GeneralizedTimeAsn1 {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let d = GeneralizedTime::new(
        u16::try_from(t.year()).unwrap_or(1970),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    );
    GeneralizedTimeAsn1::from(d.unwrap_or_else(epoch))
}

#[allow(clippy::expect_used)]
fn epoch() -> GeneralizedTime {
    // The fields of a real date always pass `GeneralizedTime::new`; this is only its type's
    // fallback, and 1970-01-01 00:00:00 is valid.
    GeneralizedTime::new(1970, 1, 1, 0, 0, 0).expect("the epoch is a valid date")
}

/// Unix seconds of a KerberosTime.
pub fn unix(t: &GeneralizedTimeAsn1) -> i64 {
    let d = &t.0;
    let date = time::Date::from_calendar_date(
        i32::from(d.year()),
        time::Month::try_from(d.month()).unwrap_or(time::Month::January),
        d.day(),
    );
    let tod = time::Time::from_hms(d.hour(), d.minute(), d.second());
    match (date, tod) {
        (Ok(date), Ok(tod)) => time::PrimitiveDateTime::new(date, tod)
            .assume_utc()
            .unix_timestamp(),
        _ => 0,
    }
}

fn principal_name(name_type: u8, components: &[String]) -> Result<PrincipalName, MessageError> {
    Ok(PrincipalName {
        name_type: ExplicitContextTag0::from(int(i64::from(name_type))),
        name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(
            components
                .iter()
                .map(|c| kstring(c))
                .collect::<Result<Vec<_>, _>>()?,
        )),
    })
}

/// The components of a PrincipalName.
pub fn components(p: &PrincipalName) -> Vec<String> {
    p.name_string
        .0
         .0
        .iter()
        .map(|s| String::from_utf8_lossy(s.0.as_bytes()).into_owned())
        .collect()
}

fn kerberos_flags(bits: u32) -> BitStringAsn1 {
    BitStringAsn1::from(BitString::with_bytes(bits.to_be_bytes().to_vec()))
}

const NT_PRINCIPAL: u8 = 1;
const NT_SRV_INST: u8 = 2;
const NT_ENTERPRISE: u8 = 10;
/// renewable | canonicalize | renewable-ok
const AS_OPTIONS: u32 = 0x0081_0010;
/// renewable | canonicalize
const TGS_OPTIONS: u32 = 0x0081_0000;
/// mutual-required
const AP_OPTIONS_MUTUAL: u32 = 0x2000_0000;
const PA_TGS_REQ: i64 = 1;
const PA_ENC_TIMESTAMP: i64 = 2;
const PA_ETYPE_INFO2: i64 = 19;
/// Active Directory puts KERB-EXT-ERROR (NTSTATUS, reserved, flags) in a PA-PW-SALT.
const PA_PW_SALT: i64 = 3;
const PA_PAC_REQUEST: i64 = 128;
const AD_IF_RELEVANT: i64 = 1;
/// MS-KILE 2.2.11 AD-AUTH-DATA-AP-OPTIONS.
const AD_AUTH_DATA_AP_OPTIONS: i64 = 143;
/// MS-KILE: the client used channel bindings; a 32-bit little-endian value.
pub const KERB_AP_OPTIONS_CBT: u32 = 0x4000;
/// RFC 4121 §4.1.1: the GSS checksum type.
pub const GSS_CHECKSUM_TYPE: i64 = 0x8003;

fn encrypted(
    key: &Key,
    usage: i32,
    plain: &[u8],
    kvno: Option<u32>,
) -> Result<EncryptedData, MessageError> {
    Ok(EncryptedData {
        etype: ExplicitContextTag0::from(int(i64::from(key.etype.number()))),
        kvno: Optional::from(kvno.map(|k| ExplicitContextTag1::from(uint(k)))),
        cipher: ExplicitContextTag2::from(OctetStringAsn1::from(key.encrypt(usage, plain)?)),
    })
}

fn decrypt(
    key: &Key,
    usage: i32,
    data: &EncryptedData,
    what: &'static str,
) -> Result<Vec<u8>, MessageError> {
    let etype = int_value(&data.etype.0);
    if etype != i64::from(key.etype.number()) {
        return Err(MessageError::Etype { what, etype });
    }
    key.decrypt(usage, &data.cipher.0 .0)
        .map_err(|source| MessageError::Decrypt { what, source })
}

fn der<T: serde::Serialize>(v: &T, what: &'static str) -> Result<Vec<u8>, MessageError> {
    picky_asn1_der::to_vec(v).map_err(|_| malformed(what))
}

fn key_of(k: &EncryptionKey, what: &'static str) -> Result<Key, MessageError> {
    let etype = int_value(&k.key_type.0);
    let e = Etype::from_number(etype).ok_or(MessageError::Etype { what, etype })?;
    Ok(Key::new(e, k.key_value.0 .0.clone())?)
}

fn encryption_key(k: &Key) -> EncryptionKey {
    EncryptionKey {
        key_type: ExplicitContextTag0::from(int(i64::from(k.etype.number()))),
        key_value: ExplicitContextTag1::from(OctetStringAsn1::from(k.bytes().to_vec())),
    }
}

fn pa(kind: i64, data: Vec<u8>) -> PaData {
    PaData {
        padata_type: ExplicitContextTag1::from(int(kind)),
        padata_data: ExplicitContextTag2::from(OctetStringAsn1::from(data)),
    }
}

fn kdc_req_body(
    cname: Option<&Principal>,
    realm: &str,
    sname: &[String],
    nonce: u32,
    till: i64,
    options: u32,
) -> Result<KdcReqBody, MessageError> {
    let cname = match cname {
        Some(p) => Some(ExplicitContextTag1::from(principal_name(
            if p.enterprise {
                NT_ENTERPRISE
            } else {
                NT_PRINCIPAL
            },
            &p.components,
        )?)),
        None => None,
    };
    Ok(KdcReqBody {
        kdc_options: ExplicitContextTag0::from(kerberos_flags(options)),
        cname: Optional::from(cname),
        realm: ExplicitContextTag2::from(kstring(realm)?),
        sname: Optional::from(Some(ExplicitContextTag3::from(principal_name(
            NT_SRV_INST,
            sname,
        )?))),
        from: Optional::from(None),
        till: ExplicitContextTag5::from(ktime(till)),
        rtime: Optional::from(None),
        nonce: ExplicitContextTag7::from(uint(nonce)),
        etype: ExplicitContextTag8::from(Asn1SequenceOf::from(vec![
            int(i64::from(Etype::Aes256.number())),
            int(i64::from(Etype::Aes128.number())),
        ])),
        addresses: Optional::from(None),
        enc_authorization_data: Optional::from(None),
        additional_tickets: Optional::from(None),
    })
}

/// An AS-REQ for a TGT of `client`, with PA-ENC-TIMESTAMP when `preauth` (key, now) is given.
pub fn as_req(
    client: &Principal,
    nonce: u32,
    till: i64,
    preauth: Option<(&Key, i64, u32)>,
) -> Result<Vec<u8>, MessageError> {
    let body = kdc_req_body(
        Some(client),
        &client.realm,
        &["krbtgt".to_string(), client.realm.clone()],
        nonce,
        till,
        AS_OPTIONS,
    )?;
    let mut padata = Vec::new();
    if let Some((key, now, usec)) = preauth {
        let ts = PaEncTsEnc {
            patimestamp: ExplicitContextTag0::from(ktime(now)),
            pausec: Optional::from(Some(ExplicitContextTag1::from(uint(usec)))),
        };
        let enc = encrypted(
            key,
            usage::AS_REQ_PA_ENC_TIMESTAMP,
            &der(&ts, "PA-ENC-TS-ENC")?,
            None,
        )?;
        padata.push(pa(PA_ENC_TIMESTAMP, der(&enc, "PA-ENC-TIMESTAMP")?));
    }
    let pac = KerbPaPacRequest {
        include_pac: ExplicitContextTag0::from(true),
    };
    padata.push(pa(PA_PAC_REQUEST, der(&pac, "PA-PAC-REQUEST")?));
    let req = AsReq::from(KdcReq {
        pvno: ExplicitContextTag1::from(int(5)),
        msg_type: ExplicitContextTag2::from(int(10)),
        padata: Optional::from(Some(ExplicitContextTag3::from(Asn1SequenceOf::from(
            padata,
        )))),
        req_body: ExplicitContextTag4::from(body),
    });
    der(&req, "AS-REQ")
}

/// A ticket with its session key and times, as a KDC issued it. `Debug` names it without its
/// bytes.
#[derive(Clone)]
pub struct IssuedTicket {
    pub ticket: Ticket,
    pub key: Key,
    /// The client as the KDC named it (canonicalized).
    pub client: Principal,
    /// The service, e.g. `krbtgt/REALM` or `HTTP/cas01.contoso.com`.
    pub service: Vec<String>,
    pub service_realm: String,
    pub auth_time: i64,
    pub start_time: i64,
    pub end_time: i64,
}

impl std::fmt::Debug for IssuedTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTicket")
            .field("client", &self.client)
            .field("service", &self.service)
            .field("service_realm", &self.service_realm)
            .field("end_time", &self.end_time)
            .finish_non_exhaustive()
    }
}

/// What a KDC answered.
#[derive(Debug, Clone)]
pub enum KdcReply {
    As(Box<KdcRep>),
    Tgs(Box<KdcRep>),
    Error(Box<KrbErrorInfo>),
}

/// A KRB-ERROR, read for what the connector needs to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrbErrorInfo {
    pub code: u32,
    /// The KDC's (or server's) time, Unix seconds.
    pub server_time: i64,
    pub realm: String,
    /// The client realm the error names (a WRONG_REALM referral points there).
    pub client_realm: Option<String>,
    pub text: Option<String>,
    /// ETYPE-INFO2 of a PREAUTH_REQUIRED/PREAUTH_FAILED: etype and salt.
    pub etype_info: Vec<(i64, Option<Vec<u8>>)>,
    /// Active Directory's NTSTATUS in KERB-EXT-ERROR, e.g. 0xC0000234 (locked out).
    pub nt_status: Option<u32>,
}

/// Read a KDC's answer to an AS-REQ or TGS-REQ.
pub fn parse_kdc_reply(bytes: &[u8]) -> Result<KdcReply, MessageError> {
    match bytes.first() {
        Some(0x6b) => picky_asn1_der::from_bytes::<AsRep>(bytes)
            .map(|r| KdcReply::As(Box::new(r.0)))
            .map_err(|_| malformed("AS-REP")),
        Some(0x6d) => picky_asn1_der::from_bytes::<TgsRep>(bytes)
            .map(|r| KdcReply::Tgs(Box::new(r.0)))
            .map_err(|_| malformed("TGS-REP")),
        Some(0x7e) => parse_krb_error(bytes).map(|e| KdcReply::Error(Box::new(e))),
        _ => Err(malformed("KDC reply")),
    }
}

/// Read a KRB-ERROR.
pub fn parse_krb_error(bytes: &[u8]) -> Result<KrbErrorInfo, MessageError> {
    let e: KrbError = picky_asn1_der::from_bytes(bytes).map_err(|_| malformed("KRB-ERROR"))?;
    let e = e.0;
    let mut etype_info = Vec::new();
    let mut nt_status = None;
    if let Some(data) = e.e_data.0.as_ref().map(|d| d.0 .0.clone()) {
        if let Ok(method) = picky_asn1_der::from_bytes::<Asn1SequenceOf<PaData>>(&data) {
            // METHOD-DATA (a SEQUENCE OF PA-DATA): ETYPE-INFO2 (the salt), and Active
            // Directory's NTSTATUS in a 12-byte PA-PW-SALT (type 3).
            for p in method.0 {
                let data = &p.padata_data.0 .0;
                match int_value(&p.padata_type.0) {
                    PA_ETYPE_INFO2 => {
                        if let Ok(info) = picky_asn1_der::from_bytes::<EtypeInfo2>(data) {
                            for entry in info.0 {
                                let salt = entry.salt.0.map(|s| s.0 .0.as_bytes().to_vec());
                                etype_info.push((int_value(&entry.etype.0), salt));
                            }
                        }
                    }
                    PA_PW_SALT if data.len() == 12 => nt_status = nt_status_of(data),
                    _ => {}
                }
            }
        } else {
            // KERB-ERROR-DATA (MS-KILE 2.2.1) with KERB_ERR_TYPE_EXTENDED (3): KERB-EXT-ERROR.
            nt_status = kerb_error_data_status(&data);
        }
    }
    Ok(KrbErrorInfo {
        code: e.error_code.0,
        server_time: unix(&e.stime.0),
        realm: String::from_utf8_lossy(e.realm.0 .0.as_bytes()).into_owned(),
        client_realm: e
            .crealm
            .0
            .map(|r| String::from_utf8_lossy(r.0 .0.as_bytes()).into_owned()),
        text: e
            .e_text
            .0
            .map(|t| String::from_utf8_lossy(t.0 .0.as_bytes()).into_owned()),
        etype_info,
        nt_status,
    })
}

/// The NTSTATUS at the start of a KERB-EXT-ERROR (little-endian).
fn nt_status_of(ext: &[u8]) -> Option<u32> {
    ext.get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
}

/// The NTSTATUS of a KERB-ERROR-DATA `SEQUENCE { data-type [1] INTEGER, data-value [2] OCTET
/// STRING OPTIONAL }` whose type is KERB_ERR_TYPE_EXTENDED (3).
fn kerb_error_data_status(der: &[u8]) -> Option<u32> {
    use super::gss::read_tlv;
    let (tag, mut fields, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (mut kind, mut value) = (None, None);
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields)?;
        fields = rest;
        let (inner, v, _) = read_tlv(content)?;
        match (tag, inner) {
            (0xa1, 0x02) => kind = Some(int_value(&IntegerAsn1::from_bytes_be_signed(v.to_vec()))),
            (0xa2, 0x04) => value = Some(v),
            _ => {}
        }
    }
    (kind == Some(3)).then_some(())?;
    nt_status_of(value?)
}

fn open_kdc_rep(
    rep: &KdcRep,
    key: &Key,
    usage: i32,
    nonce: u32,
    what: &'static str,
) -> Result<IssuedTicket, MessageError> {
    let plain = decrypt(key, usage, &rep.enc_part.0, what)?;
    // EncASRepPart is [APPLICATION 25], EncTGSRepPart [APPLICATION 26]; some KDCs send
    // the TGS form for an AS-REP.
    let part = match plain.first() {
        Some(0x79) => picky_asn1_der::from_bytes::<EncAsRepPart>(&plain).map(|p| p.0),
        Some(0x7a) => picky_asn1_der::from_bytes::<EncTgsRepPart>(&plain).map(|p| p.0),
        _ => return Err(malformed(what)),
    }
    .map_err(|_| malformed(what))?;
    if int_value(&part.nonce.0) != i64::from(nonce) {
        return Err(MessageError::Nonce { what });
    }
    let auth_time = unix(&part.auth_time.0);
    Ok(IssuedTicket {
        ticket: rep.ticket.0.clone(),
        key: key_of(&part.key.0, what)?,
        client: Principal {
            components: components(&rep.cname.0),
            realm: String::from_utf8_lossy(rep.crealm.0 .0.as_bytes()).into_owned(),
            enterprise: false,
        },
        service: components(&part.sname.0),
        service_realm: String::from_utf8_lossy(part.srealm.0 .0.as_bytes()).into_owned(),
        auth_time,
        start_time: part
            .start_time
            .0
            .as_ref()
            .map(|t| unix(&t.0))
            .unwrap_or(auth_time),
        end_time: unix(&part.end_time.0),
    })
}

/// The TGT in an AS-REP, decrypted with the client's long-term key.
pub fn open_as_rep(rep: &KdcRep, key: &Key, nonce: u32) -> Result<IssuedTicket, MessageError> {
    open_kdc_rep(rep, key, usage::AS_REP_ENC_PART, nonce, "AS-REP")
}

/// The service ticket in a TGS-REP, decrypted with the TGT's session key.
pub fn open_tgs_rep(rep: &KdcRep, tgt_key: &Key, nonce: u32) -> Result<IssuedTicket, MessageError> {
    open_kdc_rep(
        rep,
        tgt_key,
        usage::TGS_REP_ENC_PART_SESSION_KEY,
        nonce,
        "TGS-REP",
    )
}

/// The etype the AS-REP's enc-part uses (to pick the matching long-term key).
pub fn rep_etype(rep: &KdcRep) -> i64 {
    int_value(&rep.enc_part.0.etype.0)
}

/// The salt a KDC names for `etype` in a reply's PA-ETYPE-INFO2 (an AS-REP to a request
/// without pre-authentication).
pub fn rep_salt(rep: &KdcRep, etype: i64) -> Option<Vec<u8>> {
    let padata = rep.padata.0.as_ref()?;
    padata
        .0
         .0
        .iter()
        .filter(|p| int_value(&p.padata_type.0) == PA_ETYPE_INFO2)
        .filter_map(|p| picky_asn1_der::from_bytes::<EtypeInfo2>(&p.padata_data.0 .0).ok())
        .flat_map(|info| info.0)
        .find(|e| int_value(&e.etype.0) == etype)
        .and_then(|e| e.salt.0.map(|s| s.0 .0.as_bytes().to_vec()))
}

/// What goes into an authenticator.
pub struct AuthenticatorSpec<'a> {
    pub client: &'a Principal,
    pub now: i64,
    pub usec: u32,
    pub subkey: Option<&'a Key>,
    pub seq: Option<u32>,
    /// The RFC 4121 GSS checksum (flags and channel binding hash), for an AP-REQ to a service.
    pub gss: Option<GssChecksum>,
}

/// The RFC 4121 §4.1.1 authenticator checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GssChecksum {
    /// MD5 of the channel bindings, or zeros without them.
    pub bindings: [u8; 16],
    pub flags: u32,
    /// Assert in the authorization data that channel bindings were used (MS-KILE
    /// KERB_AP_OPTIONS_CBT), as Windows does for Extended Protection.
    pub cbt_asserted: bool,
}

/// GSS flags: mutual, replay, sequence, confidentiality, integrity, extended errors.
pub const GSS_FLAGS: u32 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x4000;

impl GssChecksum {
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&self.bindings);
        v.extend_from_slice(&self.flags.to_le_bytes());
        v
    }
}

fn authenticator(
    spec: &AuthenticatorSpec<'_>,
    body_checksum: Option<Checksum>,
) -> Result<Vec<u8>, MessageError> {
    let (cksum, auth_data) = match (&spec.gss, body_checksum) {
        (Some(g), _) => {
            let cksum = Checksum {
                cksumtype: ExplicitContextTag0::from(int(GSS_CHECKSUM_TYPE)),
                checksum: ExplicitContextTag1::from(OctetStringAsn1::from(g.bytes())),
            };
            let ad = if g.cbt_asserted {
                let inner = Asn1SequenceOf::from(vec![AuthorizationDataInner {
                    ad_type: ExplicitContextTag0::from(int(AD_AUTH_DATA_AP_OPTIONS)),
                    ad_data: ExplicitContextTag1::from(OctetStringAsn1::from(
                        KERB_AP_OPTIONS_CBT.to_le_bytes().to_vec(),
                    )),
                }]);
                Some(ExplicitContextTag8::from(Asn1SequenceOf::from(vec![
                    AuthorizationDataInner {
                        ad_type: ExplicitContextTag0::from(int(AD_IF_RELEVANT)),
                        ad_data: ExplicitContextTag1::from(OctetStringAsn1::from(der(
                            &inner,
                            "authorization data",
                        )?)),
                    },
                ])))
            } else {
                None
            };
            (Some(ExplicitContextTag3::from(cksum)), ad)
        }
        (None, Some(c)) => (Some(ExplicitContextTag3::from(c)), None),
        (None, None) => (None, None),
    };
    let a = picky_krb::data_types::Authenticator::from(AuthenticatorInner {
        authenticator_vno: ExplicitContextTag0::from(int(5)),
        crealm: ExplicitContextTag1::from(kstring(&spec.client.realm)?),
        cname: ExplicitContextTag2::from(principal_name(
            if spec.client.enterprise {
                NT_ENTERPRISE
            } else {
                NT_PRINCIPAL
            },
            &spec.client.components,
        )?),
        cksum: Optional::from(cksum),
        cusec: ExplicitContextTag4::from(uint(spec.usec)),
        ctime: ExplicitContextTag5::from(ktime(spec.now)),
        subkey: Optional::from(
            spec.subkey
                .map(|k| ExplicitContextTag6::from(encryption_key(k))),
        ),
        seq_number: Optional::from(spec.seq.map(|s| ExplicitContextTag7::from(uint(s)))),
        authorization_data: Optional::from(auth_data),
    });
    der(&a, "authenticator")
}

fn ap_req_der(
    ticket: &Ticket,
    session_key: &Key,
    authenticator_plain: &[u8],
    usage: i32,
    options: u32,
) -> Result<Vec<u8>, MessageError> {
    let req = ApReq::from(ApReqInner {
        pvno: ExplicitContextTag0::from(int(5)),
        msg_type: ExplicitContextTag1::from(int(14)),
        ap_options: ExplicitContextTag2::from(kerberos_flags(options)),
        ticket: ExplicitContextTag3::from(ticket.clone()),
        authenticator: ExplicitContextTag4::from(encrypted(
            session_key,
            usage,
            authenticator_plain,
            None,
        )?),
    });
    der(&req, "AP-REQ")
}

/// A TGS-REQ for a ticket to `service` (`HTTP`, `host`) in `realm`, authenticated with `tgt`.
pub fn tgs_req(
    tgt: &IssuedTicket,
    realm: &str,
    service: &[String],
    nonce: u32,
    till: i64,
    now: i64,
    usec: u32,
) -> Result<Vec<u8>, MessageError> {
    let body = kdc_req_body(None, realm, service, nonce, till, TGS_OPTIONS)?;
    let body_der = der(&body, "KDC-REQ-BODY")?;
    let cksum = Checksum {
        cksumtype: ExplicitContextTag0::from(int(i64::from(tgt.key.etype.checksum_type()))),
        checksum: ExplicitContextTag1::from(OctetStringAsn1::from(
            tgt.key.checksum(usage::TGS_REQ_AUTH_CKSUM, &body_der)?,
        )),
    };
    let auth = authenticator(
        &AuthenticatorSpec {
            client: &tgt.client,
            now,
            usec,
            subkey: None,
            seq: None,
            gss: None,
        },
        Some(cksum),
    )?;
    let ap = ap_req_der(
        &tgt.ticket,
        &tgt.key,
        &auth,
        usage::TGS_REQ_AUTHENTICATOR,
        0,
    )?;
    let pac = KerbPaPacRequest {
        include_pac: ExplicitContextTag0::from(true),
    };
    let req = TgsReq::from(KdcReq {
        pvno: ExplicitContextTag1::from(int(5)),
        msg_type: ExplicitContextTag2::from(int(12)),
        padata: Optional::from(Some(ExplicitContextTag3::from(Asn1SequenceOf::from(vec![
            pa(PA_TGS_REQ, ap),
            pa(PA_PAC_REQUEST, der(&pac, "PA-PAC-REQUEST")?),
        ])))),
        req_body: ExplicitContextTag4::from(body),
    });
    der(&req, "TGS-REQ")
}

/// An AP-REQ to a service (mutual authentication required), DER-encoded without GSS framing.
pub fn ap_req(
    service_ticket: &IssuedTicket,
    spec: &AuthenticatorSpec<'_>,
) -> Result<Vec<u8>, MessageError> {
    let auth = authenticator(spec, None)?;
    ap_req_der(
        &service_ticket.ticket,
        &service_ticket.key,
        &auth,
        usage::AP_REQ_AUTHENTICATOR,
        AP_OPTIONS_MUTUAL,
    )
}

/// What the acceptor's AP-REP says.
#[derive(Debug, Clone)]
pub struct ApRepInfo {
    pub ctime: i64,
    pub cusec: u32,
    pub subkey: Option<Key>,
    pub seq: Option<u32>,
}

fn small_uint(i: &IntegerAsn1) -> u32 {
    u32::try_from(int_value(i) & 0xffff_ffff).unwrap_or(0)
}

/// Decrypt an AP-REP (DER, without GSS framing) with the service ticket's session key.
pub fn open_ap_rep(bytes: &[u8], session_key: &Key) -> Result<ApRepInfo, MessageError> {
    let rep: ApRep = picky_asn1_der::from_bytes(bytes).map_err(|_| malformed("AP-REP"))?;
    let plain = decrypt(
        session_key,
        usage::AP_REP_ENC_PART,
        &rep.0.enc_part.0,
        "AP-REP",
    )?;
    let part: picky_krb::data_types::EncApRepPart =
        picky_asn1_der::from_bytes(&plain).map_err(|_| malformed("AP-REP"))?;
    let part = part.0;
    Ok(ApRepInfo {
        ctime: unix(&part.ctime.0),
        cusec: small_uint(&part.cusec.0),
        subkey: match part.subkey.0 {
            Some(k) => Some(key_of(&k.0, "AP-REP")?),
            None => None,
        },
        seq: part.seq_number.0.map(|s| small_uint(&s.0)),
    })
}

/// An AP-REP answering an authenticator (acceptor side).
pub fn ap_rep(
    session_key: &Key,
    ctime: i64,
    cusec: u32,
    subkey: Option<&Key>,
    seq: u32,
) -> Result<Vec<u8>, MessageError> {
    let part = picky_krb::data_types::EncApRepPart::from(EncApRepPartInner {
        ctime: ExplicitContextTag0::from(ktime(ctime)),
        cusec: ExplicitContextTag1::from(uint(cusec)),
        subkey: Optional::from(subkey.map(|k| ExplicitContextTag2::from(encryption_key(k)))),
        seq_number: Optional::from(Some(ExplicitContextTag3::from(uint(seq)))),
    });
    let enc = encrypted(
        session_key,
        usage::AP_REP_ENC_PART,
        &der(&part, "EncAPRepPart")?,
        None,
    )?;
    der(
        &ApRep::from(ApRepInner {
            pvno: ExplicitContextTag0::from(int(5)),
            msg_type: ExplicitContextTag1::from(int(15)),
            enc_part: ExplicitContextTag2::from(enc),
        }),
        "AP-REP",
    )
}

/// A KRB-ERROR from a service or KDC (the lab's acceptor and tests).
pub fn krb_error(
    code: u32,
    server_time: i64,
    realm: &str,
    service: &[String],
    text: Option<&str>,
) -> Result<Vec<u8>, MessageError> {
    let e = KrbError::from(KrbErrorInner {
        pvno: ExplicitContextTag0::from(int(5)),
        msg_type: ExplicitContextTag1::from(int(30)),
        ctime: Optional::from(None),
        cusec: Optional::from(None),
        stime: ExplicitContextTag4::from(ktime(server_time)),
        susec: ExplicitContextTag5::from(uint(0)),
        error_code: ExplicitContextTag6::from(code),
        crealm: Optional::from(None),
        cname: Optional::from(None),
        realm: ExplicitContextTag9::from(kstring(realm)?),
        sname: ExplicitContextTag10::from(principal_name(NT_SRV_INST, service)?),
        e_text: Optional::from(match text {
            Some(t) => Some(ExplicitContextTag11::from(kstring(t)?)),
            None => None,
        }),
        e_data: Optional::from(None),
    });
    der(&e, "KRB-ERROR")
}

/// An AP-REQ as the acceptor reads it.
#[derive(Debug, Clone)]
pub struct AcceptedRequest {
    pub client: Principal,
    pub session_key: Key,
    pub subkey: Option<Key>,
    pub seq: Option<u32>,
    pub ctime: i64,
    pub cusec: u32,
    pub ticket_end: i64,
    pub mutual: bool,
    /// The GSS checksum, when the authenticator has one.
    pub gss: Option<GssChecksum>,
}

/// Why an acceptor refuses an AP-REQ, as a KRB-ERROR code with a reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (Kerberos error {code})")]
pub struct ApRefusal {
    pub code: u32,
    pub reason: String,
}

/// The acceptor's keys: the long-term key for a service principal, etype and key version.
pub type ServiceKeys<'a> = &'a dyn Fn(&[String], Etype, Option<u32>) -> Option<Key>;

/// Read and decrypt an AP-REQ (DER, without GSS framing). `service_key` returns the long-term
/// key for the ticket's service, etype and key version; the caller checks times, replays and
/// channel bindings.
pub fn accept_ap_req(
    bytes: &[u8],
    service_key: ServiceKeys<'_>,
) -> Result<AcceptedRequest, ApRefusal> {
    let refuse = |code: u32, reason: &str| ApRefusal {
        code,
        reason: reason.to_string(),
    };
    let req: ApReq =
        picky_asn1_der::from_bytes(bytes).map_err(|_| refuse(40, "the AP-REQ is malformed"))?;
    let req = req.0;
    let ticket = &req.ticket.0 .0;
    let sname = components(&ticket.sname.0);
    let etype_n = int_value(&ticket.enc_part.0.etype.0);
    let etype = Etype::from_number(etype_n)
        .ok_or_else(|| refuse(14, "the ticket's encryption type is not supported"))?;
    let kvno = ticket.enc_part.0.kvno.0.as_ref().map(|k| small_uint(&k.0));
    let key = service_key(&sname, etype, kvno).ok_or_else(|| {
        refuse(
            45,
            "no key for the ticket's service principal (wrong SPN or keytab)",
        )
    })?;
    let plain = key
        .decrypt(usage::TICKET, &ticket.enc_part.0.cipher.0 .0)
        .map_err(|_| refuse(31, "the ticket does not decrypt with the service key (keytab out of date, or the SPN belongs to another account)"))?;
    let enc: picky_krb::data_types::EncTicketPart =
        picky_asn1_der::from_bytes(&plain).map_err(|_| refuse(40, "the ticket is malformed"))?;
    let enc = enc.0;
    let session_key = key_of(&enc.key.0, "ticket")
        .map_err(|_| refuse(14, "the ticket's session key is not AES"))?;
    let auth_plain = session_key
        .decrypt(
            usage::AP_REQ_AUTHENTICATOR,
            &req.authenticator.0.cipher.0 .0,
        )
        .map_err(|_| {
            refuse(
                31,
                "the authenticator does not decrypt with the ticket's session key",
            )
        })?;
    let auth: picky_krb::data_types::Authenticator = picky_asn1_der::from_bytes(&auth_plain)
        .map_err(|_| refuse(40, "the authenticator is malformed"))?;
    let auth = auth.0;
    let client = Principal {
        components: components(&enc.cname.0),
        realm: String::from_utf8_lossy(enc.crealm.0 .0.as_bytes()).into_owned(),
        enterprise: false,
    };
    if components(&auth.cname.0) != client.components
        || String::from_utf8_lossy(auth.crealm.0 .0.as_bytes()) != client.realm
    {
        return Err(refuse(
            36,
            "the authenticator names another client than the ticket",
        ));
    }
    let mut gss = None;
    if let Some(c) = auth.cksum.0.as_ref() {
        if int_value(&c.0.cksumtype.0) == GSS_CHECKSUM_TYPE {
            let v = &c.0.checksum.0 .0;
            let lgth = v
                .get(0..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes);
            let bnd = v.get(4..20).and_then(|b| <[u8; 16]>::try_from(b).ok());
            let flags = v
                .get(20..24)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes);
            match (lgth, bnd, flags) {
                (Some(16), Some(bindings), Some(flags)) => {
                    gss = Some(GssChecksum {
                        bindings,
                        flags,
                        cbt_asserted: cbt_asserted(
                            auth.authorization_data.0.as_ref().map(|a| &a.0),
                        ),
                    })
                }
                _ => return Err(refuse(31, "the GSS checksum is malformed")),
            }
        }
    }
    let options = req.ap_options.0 .0.as_bytes();
    // A BIT STRING: unused-bits byte, then the flags; mutual-required is bit 2.
    let mutual = options.get(1).is_some_and(|b| b & 0x20 != 0);
    Ok(AcceptedRequest {
        client,
        session_key,
        subkey: match auth.subkey.0 {
            Some(k) => Some(
                key_of(&k.0, "authenticator").map_err(|_| refuse(14, "the subkey is not AES"))?,
            ),
            None => None,
        },
        seq: auth.seq_number.0.map(|s| small_uint(&s.0)),
        ctime: unix(&auth.ctime.0),
        cusec: small_uint(&auth.cusec.0),
        ticket_end: unix(&enc.endtime.0),
        mutual,
        gss,
    })
}

/// Whether authorization data asserts KERB_AP_OPTIONS_CBT (inside AD-IF-RELEVANT). Any other
/// length than MS-KILE's 4 bytes does not count.
fn cbt_asserted(ad: Option<&Asn1SequenceOf<AuthorizationDataInner>>) -> bool {
    let Some(ad) = ad else { return false };
    ad.0.iter().any(|e| {
        int_value(&e.ad_type.0) == AD_IF_RELEVANT
            && picky_asn1_der::from_bytes::<Asn1SequenceOf<AuthorizationDataInner>>(&e.ad_data.0 .0)
                .map(|inner| {
                    inner.0.iter().any(|i| {
                        int_value(&i.ad_type.0) == AD_AUTH_DATA_AP_OPTIONS
                            && i.ad_data.0 .0.len() == 4
                            && i.ad_data
                                .0
                                 .0
                                .get(..4)
                                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                                .map(u32::from_le_bytes)
                                .is_some_and(|v| v & KERB_AP_OPTIONS_CBT != 0)
                    })
                })
                .unwrap_or(false)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn principal(name: &str, realm: &str) -> Principal {
        Principal {
            components: vec![name.into()],
            realm: realm.into(),
            enterprise: false,
        }
    }

    #[test]
    fn times_round_trip() {
        for t in [0, 1_700_000_000, 2_145_916_800] {
            assert_eq!(unix(&ktime(t)), t);
        }
        assert_eq!(int_value(&uint(0xffff_ffff)), 0xffff_ffff);
        assert_eq!(int_value(&int(-5)), -5);
    }

    /// A service ticket made here (as a KDC would), an AP-REQ with a channel binding, the
    /// acceptor's view of it, and the AP-REP back.
    #[test]
    fn ap_exchange_round_trip_with_channel_binding() {
        let service_key = Key::random(Etype::Aes256).unwrap();
        let session = Key::random(Etype::Aes256).unwrap();
        let client = principal("svc-eas", "EAS.TEST");
        let ticket = test_ticket(&service_key, &session, &client, 2_000_000_000);
        let issued = IssuedTicket {
            ticket,
            key: session.clone(),
            client: client.clone(),
            service: vec!["HTTP".into(), "cas01.eas.test".into()],
            service_realm: "EAS.TEST".into(),
            auth_time: 0,
            start_time: 0,
            end_time: 2_000_000_000,
        };
        let sub = Key::random(Etype::Aes256).unwrap();
        let bindings = super::super::crypto::channel_bindings_hash(b"tls-server-end-point:x");
        let req = ap_req(
            &issued,
            &AuthenticatorSpec {
                client: &client,
                now: 1_800_000_000,
                usec: 42,
                subkey: Some(&sub),
                seq: Some(77),
                gss: Some(GssChecksum {
                    bindings,
                    flags: GSS_FLAGS,
                    cbt_asserted: true,
                }),
            },
        )
        .unwrap();
        let k2 = service_key.clone();
        let got = accept_ap_req(&req, &|s, e, _| {
            (s == ["HTTP", "cas01.eas.test"] && e == Etype::Aes256).then(|| k2.clone())
        })
        .unwrap();
        assert_eq!(got.client, client);
        assert_eq!(got.seq, Some(77));
        assert_eq!(got.ctime, 1_800_000_000);
        assert!(got.mutual);
        let gss = got.gss.unwrap();
        assert_eq!(gss.bindings, bindings);
        assert!(gss.cbt_asserted);
        assert_eq!(got.subkey.as_ref(), Some(&sub));
        // A wrong service key refuses with a code.
        let wrong = Key::random(Etype::Aes256).unwrap();
        let e = accept_ap_req(&req, &|_, _, _| Some(wrong.clone())).unwrap_err();
        assert_eq!(e.code, 31);
        let e = accept_ap_req(&req, &|_, _, _| None).unwrap_err();
        assert_eq!(e.code, 45);
        // AP-REP.
        let acc_sub = Key::random(Etype::Aes256).unwrap();
        let rep = ap_rep(&session, got.ctime, got.cusec, Some(&acc_sub), 9).unwrap();
        let info = open_ap_rep(&rep, &session).unwrap();
        assert_eq!(info.seq, Some(9));
        assert_eq!(info.subkey, Some(acc_sub));
        assert!(open_ap_rep(&rep, &wrong).is_err());
        // Hostile bytes never panic.
        for n in 0..req.len() {
            let _ = accept_ap_req(&req[..n], &|_, _, _| None);
            let _ = parse_kdc_reply(&req[..n]);
        }
    }

    /// Active Directory's extended error, as a locked-out account gets it: KERB-ERROR-DATA
    /// with type 3 and KERB-EXT-ERROR (STATUS_ACCOUNT_LOCKED_OUT, 0, 1) — and the same status
    /// in a METHOD-DATA's 12-byte PA-PW-SALT.
    #[test]
    fn active_directory_extended_errors_are_read() {
        let ext = [0x34, 0x02, 0x00, 0xc0, 0, 0, 0, 0, 1, 0, 0, 0];
        let mut data = vec![
            0x30, 0x15, 0xa1, 0x03, 0x02, 0x01, 0x03, 0xa2, 0x0e, 0x04, 0x0c,
        ];
        data.extend_from_slice(&ext);
        assert_eq!(kerb_error_data_status(&data), Some(0xC000_0234));
        // Another data type, or a cut-short value: nothing.
        let mut other = data.clone();
        other[6] = 0x02;
        assert_eq!(kerb_error_data_status(&other), None);
        for n in 0..data.len() {
            let _ = kerb_error_data_status(&data[..n]);
        }
        let method = Asn1SequenceOf::from(vec![pa(PA_PW_SALT, ext.to_vec())]);
        let with_method = |e_data: Vec<u8>| {
            let mut err = picky_asn1_der::from_bytes::<KrbError>(
                &krb_error(18, 0, "R", &["krbtgt".into(), "R".into()], None).unwrap(),
            )
            .unwrap();
            err.0.e_data = Optional::from(Some(picky_asn1::wrapper::ExplicitContextTag12::from(
                OctetStringAsn1::from(e_data),
            )));
            parse_krb_error(&picky_asn1_der::to_vec(&err).unwrap()).unwrap()
        };
        assert_eq!(
            with_method(picky_asn1_der::to_vec(&method).unwrap()).nt_status,
            Some(0xC000_0234)
        );
        assert_eq!(with_method(data).nt_status, Some(0xC000_0234));
    }

    #[test]
    fn krb_errors_round_trip() {
        let e = krb_error(
            37,
            1_800_000_123,
            "EAS.TEST",
            &["HTTP".into(), "h".into()],
            Some("skew"),
        )
        .unwrap();
        let KdcReply::Error(info) = parse_kdc_reply(&e).unwrap() else {
            panic!("not an error")
        };
        assert_eq!(info.code, 37);
        assert_eq!(info.server_time, 1_800_000_123);
        assert_eq!(info.text.as_deref(), Some("skew"));
    }

    /// Make a ticket the way a KDC does (for tests of the AP exchange).
    pub(crate) fn test_ticket(
        service_key: &Key,
        session: &Key,
        client: &Principal,
        end: i64,
    ) -> Ticket {
        use picky_krb::data_types::{
            EncTicketPart, EncTicketPartInner, TicketInner, TransitedEncoding,
        };
        let enc = EncTicketPart::from(EncTicketPartInner {
            flags: ExplicitContextTag0::from(kerberos_flags(0)),
            key: ExplicitContextTag1::from(encryption_key(session)),
            crealm: ExplicitContextTag2::from(kstring(&client.realm).unwrap()),
            cname: ExplicitContextTag3::from(principal_name(1, &client.components).unwrap()),
            transited: ExplicitContextTag4::from(TransitedEncoding {
                tr_type: ExplicitContextTag0::from(int(1)),
                contents: ExplicitContextTag1::from(OctetStringAsn1::from(Vec::new())),
            }),
            auth_time: ExplicitContextTag5::from(ktime(end - 3600)),
            starttime: Optional::from(None),
            endtime: ExplicitContextTag7::from(ktime(end)),
            renew_till: Optional::from(None),
            caddr: Optional::from(None),
            authorization_data: Optional::from(None),
        });
        let cipher = encrypted(
            service_key,
            usage::TICKET,
            &der(&enc, "t").unwrap(),
            Some(2),
        )
        .unwrap();
        Ticket::from(TicketInner {
            tkt_vno: ExplicitContextTag0::from(int(5)),
            realm: ExplicitContextTag1::from(kstring(&client.realm).unwrap()),
            sname: ExplicitContextTag2::from(
                principal_name(2, &["HTTP".into(), "cas01.eas.test".into()]).unwrap(),
            ),
            enc_part: ExplicitContextTag3::from(cipher),
        })
    }
}
