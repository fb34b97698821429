//! GSS-API token framing (RFC 2743 §3.1) and SPNEGO (RFC 4178) for the Kerberos mechanism:
//! the `Kerberos` HTTP scheme carries krb5 tokens, `Negotiate` carries them inside SPNEGO.
//!
//! A small bounds-checked DER reader and writer, because these tokens arrive from the network:
//! no input may panic. No I/O, no keys.

/// DER of the Kerberos V5 mechanism OID 1.2.840.113554.1.2.2.
pub const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// DER of Microsoft's Kerberos OID 1.2.840.48018.1.2.2 (Windows lists it first).
pub const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// DER of SPNEGO's OID 1.3.6.1.5.5.2.
pub const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER of NTLMSSP's OID 1.3.6.1.4.1.311.2.2.10.
pub const NTLM_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// Kerberos GSS token identifiers (RFC 4121 §4.1).
pub const TOK_AP_REQ: [u8; 2] = [0x01, 0x00];
pub const TOK_AP_REP: [u8; 2] = [0x02, 0x00];
pub const TOK_ERROR: [u8; 2] = [0x03, 0x00];

/// A token that is not what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} token is malformed")]
pub struct GssError {
    pub what: &'static str,
}

fn bad(what: &'static str) -> GssError {
    GssError { what }
}

/// Append a DER TLV.
pub fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let len_bytes = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | len_bytes.len() as u8);
        out.extend_from_slice(len_bytes);
    }
    out.extend_from_slice(content);
}

fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 6);
    tlv(&mut v, tag, content);
    v
}

/// Read one DER TLV: `(tag, content, rest)`.
pub fn read_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, data.get(header..end)?, data.get(end..)?))
}

/// A GSS initial-context token: `[APPLICATION 0] { OID, inner }`.
pub fn initial_token(oid: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut body = wrap(0x06, oid);
    body.extend_from_slice(inner);
    wrap(0x60, &body)
}

/// Split a GSS initial-context token into its OID and what follows.
pub fn parse_initial_token(token: &[u8]) -> Result<(&[u8], &[u8]), GssError> {
    let (tag, body, _) = read_tlv(token).ok_or(bad("GSS"))?;
    if tag != 0x60 {
        return Err(bad("GSS"));
    }
    let (tag, oid, inner) = read_tlv(body).ok_or(bad("GSS"))?;
    if tag != 0x06 {
        return Err(bad("GSS"));
    }
    Ok((oid, inner))
}

/// A krb5 mechanism token: token id and message.
pub fn krb5_token(tok_id: [u8; 2], message: &[u8]) -> Vec<u8> {
    let mut inner = tok_id.to_vec();
    inner.extend_from_slice(message);
    initial_token(KRB5_OID, &inner)
}

/// Read a krb5 mechanism token: its token id and message.
pub fn parse_krb5_token(token: &[u8]) -> Result<([u8; 2], &[u8]), GssError> {
    let (oid, inner) = parse_initial_token(token)?;
    if oid != KRB5_OID && oid != MS_KRB5_OID {
        return Err(bad("Kerberos"));
    }
    let id: [u8; 2] = inner
        .get(..2)
        .and_then(|b| b.try_into().ok())
        .ok_or(bad("Kerberos"))?;
    Ok((id, inner.get(2..).unwrap_or_default()))
}

/// The DER `mechTypes` list this client offers (its MIC is computed over exactly these bytes).
pub fn kerberos_mech_types() -> Vec<u8> {
    let mut oids = wrap(0x06, MS_KRB5_OID);
    oids.extend(wrap(0x06, KRB5_OID));
    wrap(0x30, &oids)
}

/// SPNEGO's first token: Kerberos offered, with the AP-REQ as the optimistic mechanism token.
pub fn neg_token_init(mech_types: &[u8], mech_token: &[u8]) -> Vec<u8> {
    let mut seq = wrap(0xa0, mech_types);
    seq.extend(wrap(0xa2, &wrap(0x04, mech_token)));
    initial_token(SPNEGO_OID, &wrap(0xa0, &wrap(0x30, &seq)))
}

/// The negotiation state of a NegTokenResp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted,
    AcceptIncomplete,
    Reject,
    RequestMic,
}

/// A NegTokenResp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenResp {
    pub state: Option<NegState>,
    pub supported_mech: Option<Vec<u8>>,
    pub response_token: Option<Vec<u8>>,
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Encode a NegTokenResp (`[1] SEQUENCE { ... }`).
pub fn neg_token_resp(r: &NegTokenResp) -> Vec<u8> {
    let mut seq = Vec::new();
    if let Some(s) = r.state {
        let v = match s {
            NegState::AcceptCompleted => 0u8,
            NegState::AcceptIncomplete => 1,
            NegState::Reject => 2,
            NegState::RequestMic => 3,
        };
        seq.extend(wrap(0xa0, &wrap(0x0a, &[v])));
    }
    if let Some(m) = &r.supported_mech {
        seq.extend(wrap(0xa1, &wrap(0x06, m)));
    }
    if let Some(t) = &r.response_token {
        seq.extend(wrap(0xa2, &wrap(0x04, t)));
    }
    if let Some(m) = &r.mech_list_mic {
        seq.extend(wrap(0xa3, &wrap(0x04, m)));
    }
    wrap(0xa1, &wrap(0x30, &seq))
}

/// Read a NegTokenResp.
pub fn parse_neg_token_resp(token: &[u8]) -> Result<NegTokenResp, GssError> {
    let e = || bad("SPNEGO NegTokenResp");
    let (tag, body, _) = read_tlv(token).ok_or_else(e)?;
    if tag != 0xa1 {
        return Err(e());
    }
    let (tag, mut fields, _) = read_tlv(body).ok_or_else(e)?;
    if tag != 0x30 {
        return Err(e());
    }
    let mut r = NegTokenResp::default();
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields).ok_or_else(e)?;
        fields = rest;
        let (inner_tag, value, _) = read_tlv(content).ok_or_else(e)?;
        match (tag, inner_tag) {
            (0xa0, 0x0a) => {
                r.state = Some(match value {
                    [0] => NegState::AcceptCompleted,
                    [1] => NegState::AcceptIncomplete,
                    [2] => NegState::Reject,
                    [3] => NegState::RequestMic,
                    _ => return Err(e()),
                })
            }
            (0xa1, 0x06) => r.supported_mech = Some(value.to_vec()),
            (0xa2, 0x04) => r.response_token = Some(value.to_vec()),
            (0xa3, 0x04) => r.mech_list_mic = Some(value.to_vec()),
            _ => return Err(e()),
        }
    }
    Ok(r)
}

/// A NegTokenInit as an acceptor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegTokenInit {
    /// The DER `mechTypes` SEQUENCE as sent (its MIC covers these bytes).
    pub mech_types_der: Vec<u8>,
    pub mech_types: Vec<Vec<u8>>,
    pub mech_token: Option<Vec<u8>>,
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Read SPNEGO's first token.
pub fn parse_neg_token_init(token: &[u8]) -> Result<NegTokenInit, GssError> {
    let e = || bad("SPNEGO NegTokenInit");
    let (oid, inner) = parse_initial_token(token)?;
    if oid != SPNEGO_OID {
        return Err(e());
    }
    let (tag, body, _) = read_tlv(inner).ok_or_else(e)?;
    if tag != 0xa0 {
        return Err(e());
    }
    let (tag, mut fields, _) = read_tlv(body).ok_or_else(e)?;
    if tag != 0x30 {
        return Err(e());
    }
    let mut r = NegTokenInit::default();
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields).ok_or_else(e)?;
        fields = rest;
        match tag {
            0xa0 => {
                r.mech_types_der = content.to_vec();
                let (t, mut oids, _) = read_tlv(content).ok_or_else(e)?;
                if t != 0x30 {
                    return Err(e());
                }
                while !oids.is_empty() {
                    let (t, oid, rest) = read_tlv(oids).ok_or_else(e)?;
                    if t != 0x06 {
                        return Err(e());
                    }
                    r.mech_types.push(oid.to_vec());
                    oids = rest;
                }
            }
            0xa1 => {}
            0xa2 => {
                let (t, v, _) = read_tlv(content).ok_or_else(e)?;
                if t != 0x04 {
                    return Err(e());
                }
                r.mech_token = Some(v.to_vec());
            }
            0xa3 => {
                let (t, v, _) = read_tlv(content).ok_or_else(e)?;
                if t != 0x04 {
                    return Err(e());
                }
                r.mech_list_mic = Some(v.to_vec());
            }
            _ => return Err(e()),
        }
    }
    Ok(r)
}

/// Whether an OID is one of the Kerberos mechanism's.
pub fn is_kerberos(oid: &[u8]) -> bool {
    oid == KRB5_OID || oid == MS_KRB5_OID
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn spnego_round_trips_and_long_lengths() {
        let ap = vec![0xabu8; 1500];
        let init = neg_token_init(&kerberos_mech_types(), &krb5_token(TOK_AP_REQ, &ap));
        let parsed = parse_neg_token_init(&init).unwrap();
        assert_eq!(
            parsed.mech_types,
            vec![MS_KRB5_OID.to_vec(), KRB5_OID.to_vec()]
        );
        assert_eq!(parsed.mech_types_der, kerberos_mech_types());
        let (id, msg) = parse_krb5_token(parsed.mech_token.as_ref().unwrap()).unwrap();
        assert_eq!((id, msg), (TOK_AP_REQ, ap.as_slice()));
        let resp = NegTokenResp {
            state: Some(NegState::AcceptCompleted),
            supported_mech: Some(MS_KRB5_OID.to_vec()),
            response_token: Some(vec![1, 2, 3]),
            mech_list_mic: Some(vec![9; 28]),
        };
        assert_eq!(parse_neg_token_resp(&neg_token_resp(&resp)).unwrap(), resp);
    }

    #[test]
    fn hostile_tokens_are_errors() {
        let init = neg_token_init(&kerberos_mech_types(), &krb5_token(TOK_AP_REQ, &[7; 300]));
        for n in 0..init.len() {
            let _ = parse_neg_token_init(&init[..n]);
            let _ = parse_neg_token_resp(&init[..n]);
            let _ = parse_krb5_token(&init[..n]);
        }
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(read_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_krb5_token(&initial_token(NTLM_OID, &[1, 0])).is_err());
    }
}
