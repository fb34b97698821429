//! A PKCS#12 (PFX) writer for the lab's cloud app: one certificate and its PKCS#8 private key,
//! as OpenSSL 3 writes them by default — both bags encrypted with PBES2 (PBKDF2-HMAC-SHA256,
//! AES-256-CBC; the password as UTF-8), the whole protected by an HMAC-SHA256 MAC keyed with
//! RFC 7292's PKCS#12 key derivation (the password as BMPString). `friendlyName` and
//! `localKeyId` tie key and certificate together, as Windows' certificate import expects.
//!
//! DER is written by hand (a handful of SEQUENCEs); the cryptography is aws-lc-rs. It only
//! writes; reading PFX files is the connector's business, not the lab's.

use std::num::NonZeroU32;

use aws_lc_rs::{cipher, digest, hmac, pbkdf2};

/// Iterations of PBKDF2 and of the MAC's key derivation (OpenSSL's default).
const ITERATIONS: u32 = 2048;

/// Why a PFX could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PfxError {
    #[error("the system's random generator failed")]
    Random,
    #[error("AES encryption failed")]
    Cipher,
}

// Object identifiers, DER-encoded contents (without tag and length).
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_CERT_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
];
const OID_SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
const OID_X509_CERT: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
const OID_FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
const OID_LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

fn oid(o: &[u8]) -> Vec<u8> {
    tlv(0x06, o)
}

fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

fn int(v: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = v
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    tlv(0x02, &bytes)
}

/// `[n] EXPLICIT`.
fn explicit(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, content)
}

fn random<const N: usize>() -> Result<[u8; N], PfxError> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| PfxError::Random)?;
    Ok(b)
}

/// PBES2 encryption of `data`: the AlgorithmIdentifier and the ciphertext.
fn pbes2(password: &str, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PfxError> {
    let salt: [u8; 16] = random()?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN),
        &salt,
        password.as_bytes(),
        &mut key[..],
    );
    let unbound =
        cipher::UnboundCipherKey::new(&cipher::AES_256, &key[..]).map_err(|_| PfxError::Cipher)?;
    let enc = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(unbound).map_err(|_| PfxError::Cipher)?;
    let mut buf = data.to_vec();
    let ctx = enc.encrypt(&mut buf).map_err(|_| PfxError::Cipher)?;
    let iv: &[u8] = (&ctx).try_into().map_err(|_| PfxError::Cipher)?;
    let alg = seq(&[
        &oid(OID_PBES2),
        &seq(&[
            &seq(&[
                &oid(OID_PBKDF2),
                &seq(&[
                    &octets(&salt),
                    &int(ITERATIONS),
                    &seq(&[&oid(OID_HMAC_SHA256), &[0x05, 0x00]]),
                ]),
            ]),
            &seq(&[&oid(OID_AES256_CBC), &octets(iv)]),
        ]),
    ]);
    Ok((alg, buf))
}

/// RFC 7292 appendix B key derivation with SHA-256 (id 3: MAC key), for a 32-byte key.
fn pkcs12_mac_key(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    const V: usize = 64;
    let mut bmp: Vec<u8> = password
        .encode_utf16()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    bmp.extend([0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(len).collect()
    };
    let mut input = vec![3u8; V];
    input.extend(fill(salt));
    input.extend(fill(&bmp));
    let mut a = digest::digest(&digest::SHA256, &input);
    for _ in 1..iterations {
        a = digest::digest(&digest::SHA256, a.as_ref());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(a.as_ref());
    out
}

/// A PFX holding `cert_der` and its PKCS#8 key, protected by `password`.
pub fn build(
    cert_der: &[u8],
    pkcs8_key: &[u8],
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, PfxError> {
    let key_id = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
    let bmp_name: Vec<u8> = friendly_name
        .encode_utf16()
        .flat_map(|c| c.to_be_bytes())
        .collect();
    let attributes = set(&[
        &seq(&[&oid(OID_FRIENDLY_NAME), &set(&[&tlv(0x1e, &bmp_name)])]),
        &seq(&[&oid(OID_LOCAL_KEY_ID), &set(&[&octets(key_id.as_ref())])]),
    ]);

    // The certificate: a certBag in SafeContents, encrypted (EncryptedData).
    let cert_bag = seq(&[
        &oid(OID_CERT_BAG),
        &explicit(
            0,
            &seq(&[&oid(OID_X509_CERT), &explicit(0, &octets(cert_der))]),
        ),
        &attributes,
    ]);
    let cert_safe = seq(&[&cert_bag]);
    let (alg, encrypted) = pbes2(password, &cert_safe)?;
    // encryptedContent [0] IMPLICIT OCTET STRING.
    let implicit_content = tlv(0x80, &encrypted);
    let encrypted_data = seq(&[&int(0), &seq(&[&oid(OID_DATA), &alg, &implicit_content])]);
    let cert_info = seq(&[&oid(OID_ENCRYPTED_DATA), &explicit(0, &encrypted_data)]);

    // The key: a pkcs8ShroudedKeyBag in SafeContents, in plain Data.
    let (alg, encrypted) = pbes2(password, pkcs8_key)?;
    let shrouded = seq(&[&alg, &octets(&encrypted)]);
    let key_bag = seq(&[
        &oid(OID_SHROUDED_KEY_BAG),
        &explicit(0, &shrouded),
        &attributes,
    ]);
    let key_safe = seq(&[&key_bag]);
    let key_info = seq(&[&oid(OID_DATA), &explicit(0, &octets(&key_safe))]);

    let auth_safe = seq(&[&cert_info, &key_info]);
    let mac_salt: [u8; 16] = random()?;
    let mac_key = zeroize::Zeroizing::new(pkcs12_mac_key(password, &mac_salt, ITERATIONS));
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &mac_key[..]), &auth_safe);
    let mac_data = seq(&[
        &seq(&[
            &seq(&[&oid(OID_SHA256), &[0x05, 0x00]]),
            &octets(mac.as_ref()),
        ]),
        &octets(&mac_salt),
        &int(ITERATIONS),
    ]);
    Ok(seq(&[
        &int(3),
        &seq(&[&oid(OID_DATA), &explicit(0, &octets(&auth_safe))]),
        &mac_data,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_long_form_past_127() {
        assert_eq!(tlv(0x04, &[0; 5])[..2], [0x04, 5]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(int(2048), vec![0x02, 0x02, 0x08, 0x00]);
        assert_eq!(int(0), vec![0x02, 0x01, 0x00]);
        assert_eq!(int(128), vec![0x02, 0x02, 0x00, 0x80]);
    }
}
