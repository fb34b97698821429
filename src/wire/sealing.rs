//! WinRM HTTP message encryption (MS-WSMV 2.2.9.1, `HTTP-SPNEGO-session-encrypted` and
//! `HTTP-Kerberos-session-encrypted`): the MIME framing of a sealed SOAP envelope, and
//! sealing/unsealing with an established `sspi` NTLM or Negotiate context (Kerberos contexts
//! seal with [`crate::kerberos::crypto::Protection`]). Shared by the connector's client and
//! the lab's server.
//!
//! Over plain `http://` WinRM refuses clear bodies after NTLM/Negotiate authentication
//! (`AllowUnencrypted=false`), so each body is sent as
//! `multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`:
//! a first part naming the original content and its length, a second part
//! (`application/octet-stream`) holding a 4-byte little-endian signature length, the signature
//! and the sealed bytes, then the closing boundary. Exchange writes `-- Encrypted Boundary`
//! (with a space); decoding tolerates that. This module does no I/O, keeps no keys of its own
//! and never puts message bytes into errors.

use sspi::{EncryptionFlags, SecurityBufferRef, Sspi};

/// The `protocol` parameter for NTLM and Negotiate.
pub const PROTOCOL_SPNEGO: &str = "application/HTTP-SPNEGO-session-encrypted";
/// The `protocol` parameter for the bare `Kerberos` scheme (framed the same way).
pub const PROTOCOL_KERBEROS: &str = "application/HTTP-Kerberos-session-encrypted";
/// The boundary WinRM uses.
pub const BOUNDARY: &str = "Encrypted Boundary";
/// What the sealed content is.
pub const ORIGINAL_TYPE: &str = "application/soap+xml;charset=UTF-8";
/// Largest signature accepted when decoding (NTLM's is 16 bytes, Kerberos' about 60).
const MAX_SIGNATURE: usize = 1024;

/// Why a body could not be framed, sealed or unsealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("the encrypted body is malformed: {0}")]
    Malformed(String),
    #[error(
        "the encrypted body uses protocol {0:?}, which is not supported (only {PROTOCOL_SPNEGO} and {PROTOCOL_KERBEROS})"
    )]
    Protocol(String),
    #[error("sealing the message failed: {0}")]
    Seal(String),
    #[error("the message could not be unsealed ({0}): wrong key, altered or out of order")]
    Unseal(String),
    #[error("the unsealed message is {actual} bytes but the header says {expected}")]
    Length { expected: usize, actual: usize },
}

/// The `Content-Type` of a body encrypted with `protocol` ([`PROTOCOL_SPNEGO`] or
/// [`PROTOCOL_KERBEROS`]).
pub fn content_type(protocol: &str) -> String {
    format!("multipart/encrypted;protocol=\"{protocol}\";boundary=\"{BOUNDARY}\"")
}

/// The protocol of an encrypted body's `Content-Type`, if it is one this module frames.
pub fn protocol_of(content_type: &str) -> Option<&'static str> {
    let p = parameter(content_type, "protocol")?;
    [PROTOCOL_SPNEGO, PROTOCOL_KERBEROS]
        .into_iter()
        .find(|k| p.eq_ignore_ascii_case(k))
}

/// Whether a `Content-Type` says the body is encrypted this way.
pub fn is_encrypted(content_type: &str) -> bool {
    let ct = content_type.trim_start().to_ascii_lowercase();
    ct.starts_with("multipart/encrypted") || ct.starts_with("multipart/x-multi-encrypted")
}

/// A parameter (`protocol`, `boundary`) of a `Content-Type`, unquoted.
fn parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Frame a sealed message: `signature` and `sealed` as produced by [`seal`], `original_len`
/// the length of the clear envelope.
pub fn encode(protocol: &str, signature: &[u8], sealed: &[u8], original_len: usize) -> Vec<u8> {
    let head = format!(
        "--{BOUNDARY}\r\n\tContent-Type: {protocol}\r\n\tOriginalContent: type={ORIGINAL_TYPE};Length={original_len}\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n"
    );
    let tail = format!("--{BOUNDARY}--\r\n");
    let mut out = Vec::with_capacity(head.len() + 4 + signature.len() + sealed.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&(signature.len() as u32).to_le_bytes());
    out.extend_from_slice(signature);
    out.extend_from_slice(sealed);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// The pieces of an encrypted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    pub signature: Vec<u8>,
    pub sealed: Vec<u8>,
    /// `Length=` of the `OriginalContent` header.
    pub original_len: usize,
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Split an encrypted body (`content_type` is its `Content-Type` header) into its pieces.
pub fn decode(content_type: &str, body: &[u8]) -> Result<Framed, EncryptionError> {
    let bad = |s: &str| EncryptionError::Malformed(s.to_string());
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/encrypted")
    {
        return Err(bad("only multipart/encrypted (one part) is supported"));
    }
    if protocol_of(content_type).is_none() {
        return Err(EncryptionError::Protocol(
            parameter(content_type, "protocol").unwrap_or_default(),
        ));
    }
    let boundary = parameter(content_type, "boundary").ok_or_else(|| bad("no boundary"))?;
    // The first part: `--[ ]boundary`, headers up to the second boundary.
    let first = body
        .strip_prefix(b"--")
        .map(|b| {
            let skip = b.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
            b.get(skip..).unwrap_or_default()
        })
        .and_then(|b| b.strip_prefix(boundary.as_bytes()))
        .ok_or_else(|| bad("it does not start with the boundary"))?;
    let octet = b"content-type: application/octet-stream";
    let at = find_ci(first, octet).ok_or_else(|| bad("no application/octet-stream part"))?;
    let headers = String::from_utf8_lossy(first.get(..at).unwrap_or_default()).into_owned();
    let original_len = headers
        .split_once("Length=")
        .map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse::<usize>().ok())
        .ok_or_else(|| bad("no OriginalContent Length"))?;
    let rest = first.get(at + octet.len()..).unwrap_or_default();
    let rest = rest
        .strip_prefix(b"\r\n")
        .or_else(|| rest.strip_prefix(b"\n"))
        .ok_or_else(|| bad("no line end after the octet-stream header"))?;
    // The closing boundary, `--[ ]boundary--` and an optional line end, at the very end.
    let mut end = rest.len();
    let trimmed = rest.strip_suffix(b"\r\n").unwrap_or(rest);
    let closing = format!("{boundary}--");
    if let Some(before) = trimmed.strip_suffix(closing.as_bytes()) {
        let ws = before
            .iter()
            .rev()
            .take_while(|c| **c == b' ' || **c == b'\t')
            .count();
        let before = before.get(..before.len() - ws).unwrap_or_default();
        if let Some(b) = before.strip_suffix(b"--") {
            end = b.len();
        }
    }
    if end == rest.len() {
        return Err(bad("no closing boundary"));
    }
    let payload = rest.get(..end).unwrap_or_default();
    let len_bytes: [u8; 4] = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("shorter than the signature length"))?;
    let sig_len = u32::from_le_bytes(len_bytes) as usize;
    if sig_len > MAX_SIGNATURE {
        return Err(bad("the signature length is implausible"));
    }
    let signature = payload
        .get(4..4 + sig_len)
        .ok_or_else(|| bad("shorter than its signature"))?
        .to_vec();
    let sealed = payload.get(4 + sig_len..).unwrap_or_default().to_vec();
    Ok(Framed {
        signature,
        sealed,
        original_len,
    })
}

/// A sealed message: `(signature, sealed bytes)`.
pub type Sealed = (Vec<u8>, Vec<u8>);

/// Seal `data` with an established context: `(signature, sealed bytes)`.
pub fn seal<C: Sspi>(ctx: &mut C, data: &[u8]) -> Result<Sealed, EncryptionError> {
    let sizes = ctx
        .query_context_sizes()
        .map_err(|e| EncryptionError::Seal(format!("{:?}", e.error_type)))?;
    let mut signature = vec![0u8; sizes.security_trailer as usize];
    let mut sealed = data.to_vec();
    let mut bufs = [
        SecurityBufferRef::token_buf(&mut signature),
        SecurityBufferRef::data_buf(&mut sealed),
    ];
    ctx.encrypt_message(EncryptionFlags::empty(), &mut bufs)
        .map_err(|e| EncryptionError::Seal(format!("{:?}", e.error_type)))?;
    let sig_len = bufs.first().map(|b| b.data().len()).unwrap_or_default();
    signature.truncate(sig_len);
    Ok((signature, sealed))
}

/// Unseal what [`decode`] found with an established context, checking the signature and the
/// announced length.
pub fn unseal<C: Sspi>(ctx: &mut C, framed: &Framed) -> Result<Vec<u8>, EncryptionError> {
    let mut signature = framed.signature.clone();
    let mut data = framed.sealed.clone();
    let mut bufs = [
        SecurityBufferRef::token_buf(&mut signature),
        SecurityBufferRef::data_buf(&mut data),
    ];
    ctx.decrypt_message(&mut bufs)
        .map_err(|e| EncryptionError::Unseal(format!("{:?}", e.error_type)))?;
    let clear = bufs.get(1).map(|b| b.data().to_vec()).unwrap_or_default();
    if clear.len() != framed.original_len {
        return Err(EncryptionError::Length {
            expected: framed.original_len,
            actual: clear.len(),
        });
    }
    Ok(clear)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_tolerate_exchange_boundary() {
        let body = encode(PROTOCOL_SPNEGO, &[7u8; 16], b"sealed-bytes", 12);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=12\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\0\0\0"), "{text}");
        assert!(text.ends_with("sealed-bytes--Encrypted Boundary--\r\n"));
        let f = decode(&content_type(PROTOCOL_SPNEGO), &body).unwrap();
        assert_eq!(f.signature, vec![7u8; 16]);
        assert_eq!(f.sealed, b"sealed-bytes");
        assert_eq!(f.original_len, 12);
        // Exchange: `-- Encrypted Boundary`, unquoted boundary parameter.
        let quirky = String::from_utf8(body.clone())
            .unwrap()
            .replace("--Encrypted", "-- Encrypted");
        let ct = "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=Encrypted Boundary";
        assert_eq!(decode(ct, quirky.as_bytes()).unwrap(), f);
        // Sealed bytes that happen to contain the boundary do not cut the payload.
        let tricky = encode(
            PROTOCOL_KERBEROS,
            &[1u8; 16],
            b"x--Encrypted Boundary--\r\ny",
            26,
        );
        assert_eq!(
            decode(&content_type(PROTOCOL_KERBEROS), &tricky)
                .unwrap()
                .sealed,
            b"x--Encrypted Boundary--\r\ny"
        );
    }

    #[test]
    fn malformed_bodies_are_refused_without_panicking() {
        let good = encode(PROTOCOL_SPNEGO, &[7u8; 16], b"abc", 3);
        for n in 0..good.len() {
            let _ = decode(&content_type(PROTOCOL_SPNEGO), &good[..n]);
        }
        assert!(decode(&content_type(PROTOCOL_SPNEGO), b"").is_err());
        assert!(matches!(
            decode("multipart/encrypted;protocol=\"application/HTTP-CredSSP-session-encrypted\";boundary=\"Encrypted Boundary\"", &good),
            Err(EncryptionError::Protocol(_))
        ));
        assert!(decode("application/soap+xml", &good).is_err());
        let mut huge = good.clone();
        let at = huge
            .windows(14)
            .position(|w| w == b"octet-stream\r\n")
            .unwrap()
            + 14;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&content_type(PROTOCOL_SPNEGO), &huge).is_err());
    }
}
