//! The `_xHHHH_` escaping PowerShell applies to CLIXML strings (MS-PSRP 2.2.5.3.2).
//!
//! Decoding turns every `_xHHHH_` (four hex digits) into its UTF-16 code unit,
//! joining surrogate pairs; an unpaired surrogate becomes U+FFFD because a Rust
//! `String` cannot hold it. Encoding escapes control characters, characters
//! XML cannot carry, characters outside the BMP (as a surrogate pair of
//! escapes) and a literal `_` that starts `_x` (as `_x005F_`). This module must
//! not do XML entity escaping; that is the writer's job.

/// Decode `_xHHHH_` escapes.
pub fn decode(s: &str) -> String {
    if !s.contains("_x") {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut pending_high: Option<u16> = None;
    let mut i = 0usize;
    let mut last = 0usize;
    while let Some(rel) = s.get(i..).and_then(|rest| rest.find("_x")) {
        let at = i + rel;
        let unit = bytes
            .get(at + 2..at + 6)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .filter(|_| bytes.get(at + 6) == Some(&b'_'));
        match unit {
            Some(u) => {
                if at > last {
                    flush_high(&mut out, &mut pending_high);
                    out.push_str(s.get(last..at).unwrap_or(""));
                }
                push_unit(&mut out, &mut pending_high, u);
                i = at + 7;
                last = i;
            }
            None => {
                i = at + 2;
            }
        }
    }
    flush_high(&mut out, &mut pending_high);
    out.push_str(s.get(last..).unwrap_or(""));
    out
}

fn flush_high(out: &mut String, pending: &mut Option<u16>) {
    if pending.take().is_some() {
        out.push('\u{FFFD}');
    }
}

fn push_unit(out: &mut String, pending: &mut Option<u16>, u: u16) {
    match u {
        0xD800..=0xDBFF => {
            flush_high(out, pending);
            *pending = Some(u);
        }
        0xDC00..=0xDFFF => match pending.take() {
            Some(h) => {
                let c = 0x10000 + (((u32::from(h) - 0xD800) << 10) | (u32::from(u) - 0xDC00));
                out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            None => out.push('\u{FFFD}'),
        },
        _ => {
            flush_high(out, pending);
            out.push(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}'));
        }
    }
}

fn needs_escape(c: char) -> bool {
    let v = c as u32;
    v < 0x20 || (0x7F..=0x9F).contains(&v) || v == 0xFFFE || v == 0xFFFF || v > 0xFFFF
}

/// Encode a string with `_xHHHH_` escapes.
pub fn encode(s: &str) -> String {
    if !s.chars().any(needs_escape) && !s.contains("_x") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '_' && it.peek() == Some(&'x') {
            out.push_str("_x005F_");
        } else if needs_escape(c) {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("_x{:04X}_", u));
            }
        } else {
            out.push(c);
        }
    }
    out
}
