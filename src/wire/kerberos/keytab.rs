//! MIT keytab files (format version 0x502, as `ktadd`/`ktutil` and Windows `ktpass` write
//! them): the service keys an acceptor — the lab's Exchange — decrypts tickets with.
//!
//! Parses bytes only (the caller reads the file); never prints a key. Entries with an
//! encryption type this crate does not speak are kept out, not refused.

use super::crypto::{Etype, Key};

/// One key of one principal.
#[derive(Debug, Clone)]
pub struct KeytabEntry {
    pub components: Vec<String>,
    pub realm: String,
    pub kvno: u32,
    pub key: Key,
}

/// A keytab: its usable entries.
#[derive(Debug, Clone, Default)]
pub struct Keytab {
    pub entries: Vec<KeytabEntry>,
}

/// Why a keytab could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeytabError {
    #[error("it is not a keytab (the first bytes are not the version 0x0502 that ktutil and ktpass write)")]
    Version,
    #[error("it is cut short or damaged at byte {0}")]
    Truncated(usize),
    #[error("it holds no AES key (the lab needs aes256-cts or aes128-cts keys)")]
    NoUsableKey,
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeytabError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(KeytabError::Truncated(self.at))?;
        let s = self
            .data
            .get(self.at..end)
            .ok_or(KeytabError::Truncated(self.at))?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, KeytabError> {
        Ok(*self
            .take(1)?
            .first()
            .ok_or(KeytabError::Truncated(self.at))?)
    }
    fn u16(&mut self) -> Result<u16, KeytabError> {
        let at = self.at;
        let b: [u8; 2] = self
            .take(2)?
            .try_into()
            .map_err(|_| KeytabError::Truncated(at))?;
        Ok(u16::from_be_bytes(b))
    }
    fn u32(&mut self) -> Result<u32, KeytabError> {
        let at = self.at;
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| KeytabError::Truncated(at))?;
        Ok(u32::from_be_bytes(b))
    }
    fn string(&mut self) -> Result<String, KeytabError> {
        let n = usize::from(self.u16()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

impl Keytab {
    /// Parse a keytab file's bytes.
    pub fn parse(data: &[u8]) -> Result<Keytab, KeytabError> {
        if data.get(..2) != Some(&[0x05, 0x02][..]) {
            return Err(KeytabError::Version);
        }
        let mut r = Reader { data, at: 2 };
        let mut entries = Vec::new();
        while r.at < data.len() {
            let size = r.u32()? as i32;
            if size < 0 {
                // A hole left by a deleted entry.
                r.take(size.unsigned_abs() as usize)?;
                continue;
            }
            let size = size as usize;
            let body = r.take(size)?;
            let mut e = Reader { data: body, at: 0 };
            let count = usize::from(e.u16()?);
            let realm = e.string()?;
            let mut components = Vec::with_capacity(count);
            for _ in 0..count {
                components.push(e.string()?);
            }
            let _name_type = e.u32()?;
            let _timestamp = e.u32()?;
            let vno8 = u32::from(e.u8()?);
            let keytype = e.u16()?;
            let key_len = usize::from(e.u16()?);
            let key_bytes = e.take(key_len)?.to_vec();
            // A 32-bit kvno may follow; when present and non-zero it wins.
            let kvno = if body.len() >= e.at + 4 {
                match e.u32()? {
                    0 => vno8,
                    v => v,
                }
            } else {
                vno8
            };
            if let Some(etype) = Etype::from_number(i64::from(keytype)) {
                if let Ok(key) = Key::new(etype, key_bytes) {
                    entries.push(KeytabEntry {
                        components,
                        realm,
                        kvno,
                        key,
                    });
                }
            }
        }
        if entries.is_empty() {
            return Err(KeytabError::NoUsableKey);
        }
        Ok(Keytab { entries })
    }

    /// The key for `service` (case-insensitive host part) of type `etype`, the given version
    /// or else the newest.
    pub fn key_for(&self, service: &[String], etype: Etype, kvno: Option<u32>) -> Option<Key> {
        let same = |e: &KeytabEntry| {
            e.components.len() == service.len()
                && e.components
                    .iter()
                    .zip(service)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
                && e.key.etype == etype
        };
        let mut candidates: Vec<&KeytabEntry> = self.entries.iter().filter(|e| same(e)).collect();
        if let Some(k) = kvno {
            if let Some(e) = candidates.iter().find(|e| e.kvno == k) {
                return Some(e.key.clone());
            }
        }
        candidates.sort_by_key(|e| e.kvno);
        candidates.last().map(|e| e.key.clone())
    }

    /// The principals in the keytab, `name/host@REALM`, once each.
    pub fn principals(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            let p = format!("{}@{}", e.components.join("/"), e.realm);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn entry(
        realm: &str,
        comps: &[&str],
        kvno: u8,
        etype: u16,
        key: &[u8],
        kvno32: Option<u32>,
    ) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(comps.len() as u16).to_be_bytes());
        b.extend_from_slice(&(realm.len() as u16).to_be_bytes());
        b.extend_from_slice(realm.as_bytes());
        for c in comps {
            b.extend_from_slice(&(c.len() as u16).to_be_bytes());
            b.extend_from_slice(c.as_bytes());
        }
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.push(kvno);
        b.extend_from_slice(&etype.to_be_bytes());
        b.extend_from_slice(&(key.len() as u16).to_be_bytes());
        b.extend_from_slice(key);
        if let Some(v) = kvno32 {
            b.extend_from_slice(&v.to_be_bytes());
        }
        let mut out = (b.len() as u32).to_be_bytes().to_vec();
        out.extend(b);
        out
    }

    #[test]
    fn parses_entries_holes_and_versions() {
        let mut kt = vec![0x05, 0x02];
        kt.extend(entry(
            "EAS.TEST",
            &["HTTP", "cas01.eas.test"],
            2,
            18,
            &[1; 32],
            Some(2),
        ));
        // A hole.
        kt.extend_from_slice(&(-6i32).to_be_bytes());
        kt.extend_from_slice(&[0; 6]);
        kt.extend(entry(
            "EAS.TEST",
            &["HTTP", "cas01.eas.test"],
            3,
            17,
            &[2; 16],
            None,
        ));
        // An RC4 key: kept out.
        kt.extend(entry(
            "EAS.TEST",
            &["HTTP", "cas01.eas.test"],
            3,
            23,
            &[3; 16],
            None,
        ));
        kt.extend(entry(
            "EAS.TEST",
            &["HTTP", "cas01.eas.test"],
            0,
            18,
            &[4; 32],
            Some(300),
        ));
        let k = Keytab::parse(&kt).unwrap();
        assert_eq!(k.entries.len(), 3);
        let svc = ["HTTP".to_string(), "CAS01.eas.test".to_string()];
        assert_eq!(
            k.key_for(&svc, Etype::Aes128, None).unwrap().bytes(),
            &[2; 16]
        );
        assert_eq!(
            k.key_for(&svc, Etype::Aes256, Some(2)).unwrap().bytes(),
            &[1; 32]
        );
        // The newest when the version is unknown; the 32-bit kvno counts.
        assert_eq!(
            k.key_for(&svc, Etype::Aes256, Some(9)).unwrap().bytes(),
            &[4; 32]
        );
        assert_eq!(k.principals(), vec!["HTTP/cas01.eas.test@EAS.TEST"]);
        for n in 0..kt.len() {
            let _ = Keytab::parse(&kt[..n]);
        }
        assert_eq!(
            Keytab::parse(b"\x05\x01").unwrap_err(),
            KeytabError::Version
        );
        assert_eq!(
            Keytab::parse(&[5, 2]).unwrap_err(),
            KeytabError::NoUsableKey
        );
    }
}
