//! PSRP fragments (MS-PSRP 2.2.4): the 21-byte-header framing that carries a
//! PSRP message across one or more WS-Man stream payloads.
//!
//! Header: ObjectId u64 big-endian, FragmentId u64 big-endian, flags byte
//! (0x1 start, 0x2 end), BlobLength u32 big-endian, then the blob. This module
//! splits messages into fragments under a size limit, parses fragments out of a
//! payload, and reassembles them into messages across many envelopes. It must
//! not interpret the message inside the blob, and it must never panic: short
//! input, bad lengths, out-of-order ids and oversized messages are
//! [`FragmentError`]s.

use std::collections::HashMap;

/// Length of the fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 21;

/// Start-of-message flag.
pub const FLAG_START: u8 = 0x1;
/// End-of-message flag.
pub const FLAG_END: u8 = 0x2;

/// Fragment framing errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// Fewer bytes than the header or the declared blob length.
    #[error("truncated fragment: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    /// A fragment whose id is not the next one expected for its object.
    #[error(
        "out-of-order fragment for object {object_id}: expected fragment {expected}, got {got}"
    )]
    OutOfOrder {
        object_id: u64,
        expected: u64,
        got: u64,
    },
    /// A continuation fragment for an object that has not started.
    #[error("fragment {fragment_id} of object {object_id} arrived without a start fragment")]
    MissingStart { object_id: u64, fragment_id: u64 },
    /// A start fragment for an object already being reassembled.
    #[error("object {object_id} started twice")]
    DuplicateStart { object_id: u64 },
    /// A message larger than the reassembler's limit.
    #[error("message for object {object_id} exceeds {limit} bytes")]
    Oversized { object_id: u64, limit: usize },
    /// Too many messages in flight at once.
    #[error("more than {limit} partially received messages")]
    TooManyPending { limit: usize },
    /// Flag bits other than start/end set.
    #[error("invalid fragment flags {0:#04x}")]
    BadFlags(u8),
    /// `max_fragment_size` too small to carry any data.
    #[error("maximum fragment size {0} leaves no room for data")]
    MaxSizeTooSmall(usize),
}

/// One fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub object_id: u64,
    pub fragment_id: u64,
    pub start: bool,
    pub end: bool,
    pub blob: Vec<u8>,
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(s))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

impl Fragment {
    /// Append the wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.object_id.to_be_bytes());
        out.extend_from_slice(&self.fragment_id.to_be_bytes());
        let mut flags = 0u8;
        if self.start {
            flags |= FLAG_START;
        }
        if self.end {
            flags |= FLAG_END;
        }
        out.push(flags);
        let len = u32::try_from(self.blob.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.blob);
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(FRAGMENT_HEADER_LEN + self.blob.len());
        self.encode_into(&mut v);
        v
    }

    /// Parse one fragment at the start of `bytes`; returns it and the number of
    /// bytes consumed.
    pub fn parse(bytes: &[u8]) -> Result<(Fragment, usize), FragmentError> {
        let truncated = || FragmentError::Truncated {
            needed: FRAGMENT_HEADER_LEN,
            available: bytes.len(),
        };
        let object_id = be_u64(bytes, 0).ok_or_else(truncated)?;
        let fragment_id = be_u64(bytes, 8).ok_or_else(truncated)?;
        let flags = *bytes.get(16).ok_or_else(truncated)?;
        let len = be_u32(bytes, 17).ok_or_else(truncated)?;
        if flags & !(FLAG_START | FLAG_END) != 0 {
            return Err(FragmentError::BadFlags(flags));
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let end = FRAGMENT_HEADER_LEN.saturating_add(len);
        let blob = bytes
            .get(FRAGMENT_HEADER_LEN..end)
            .ok_or(FragmentError::Truncated {
                needed: end,
                available: bytes.len(),
            })?;
        Ok((
            Fragment {
                object_id,
                fragment_id,
                start: flags & FLAG_START != 0,
                end: flags & FLAG_END != 0,
                blob: blob.to_vec(),
            },
            end,
        ))
    }
}

/// Parse every fragment in a payload (a stream may carry several back to back).
pub fn parse_fragments(mut bytes: &[u8]) -> Result<Vec<Fragment>, FragmentError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (f, used) = Fragment::parse(bytes)?;
        out.push(f);
        bytes = bytes.get(used..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Split one message into fragments whose encoded size (header included) is at
/// most `max_fragment_size`. An empty message yields one start+end fragment.
pub fn split_message(
    object_id: u64,
    data: &[u8],
    max_fragment_size: usize,
) -> Result<Vec<Fragment>, FragmentError> {
    if max_fragment_size <= FRAGMENT_HEADER_LEN {
        return Err(FragmentError::MaxSizeTooSmall(max_fragment_size));
    }
    let chunk = (max_fragment_size - FRAGMENT_HEADER_LEN).min(u32::MAX as usize);
    let mut frags: Vec<Fragment> = data
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| Fragment {
            object_id,
            fragment_id: i as u64,
            start: i == 0,
            end: false,
            blob: c.to_vec(),
        })
        .collect();
    if frags.is_empty() {
        frags.push(Fragment {
            object_id,
            fragment_id: 0,
            start: true,
            end: false,
            blob: Vec::new(),
        });
    }
    if let Some(last) = frags.last_mut() {
        last.end = true;
    }
    Ok(frags)
}

/// Split and encode: each element is one fragment's wire bytes.
pub fn fragment_message(
    object_id: u64,
    data: &[u8],
    max_fragment_size: usize,
) -> Result<Vec<Vec<u8>>, FragmentError> {
    Ok(split_message(object_id, data, max_fragment_size)?
        .iter()
        .map(Fragment::encode)
        .collect())
}

/// Limits for [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Largest reassembled message accepted.
    pub max_message_len: usize,
    /// Most objects in flight at once.
    pub max_pending: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_message_len: 64 * 1024 * 1024,
            max_pending: 1024,
        }
    }
}

#[derive(Debug)]
struct Partial {
    next: u64,
    data: Vec<u8>,
}

/// Reassembles fragments (from any number of envelopes) into messages.
/// Fragments of different objects may interleave; fragments of one object
/// must arrive in order.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    partial: HashMap<u64, Partial>,
}

impl Reassembler {
    /// A reassembler with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A reassembler with explicit limits.
    pub fn with_limits(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            partial: HashMap::new(),
        }
    }

    /// Number of messages started but not finished.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Feed one fragment; returns the message bytes when it completes one.
    pub fn push(&mut self, f: Fragment) -> Result<Option<Vec<u8>>, FragmentError> {
        let limit = self.limits.max_message_len;
        if f.start {
            if self.partial.contains_key(&f.object_id) {
                return Err(FragmentError::DuplicateStart {
                    object_id: f.object_id,
                });
            }
            if f.fragment_id != 0 {
                return Err(FragmentError::OutOfOrder {
                    object_id: f.object_id,
                    expected: 0,
                    got: f.fragment_id,
                });
            }
            if f.blob.len() > limit {
                return Err(FragmentError::Oversized {
                    object_id: f.object_id,
                    limit,
                });
            }
            if f.end {
                return Ok(Some(f.blob));
            }
            if self.partial.len() >= self.limits.max_pending {
                return Err(FragmentError::TooManyPending {
                    limit: self.limits.max_pending,
                });
            }
            self.partial.insert(
                f.object_id,
                Partial {
                    next: 1,
                    data: f.blob,
                },
            );
            return Ok(None);
        }
        let p = self
            .partial
            .get_mut(&f.object_id)
            .ok_or(FragmentError::MissingStart {
                object_id: f.object_id,
                fragment_id: f.fragment_id,
            })?;
        if f.fragment_id != p.next {
            let expected = p.next;
            self.partial.remove(&f.object_id);
            return Err(FragmentError::OutOfOrder {
                object_id: f.object_id,
                expected,
                got: f.fragment_id,
            });
        }
        if p.data.len().saturating_add(f.blob.len()) > limit {
            self.partial.remove(&f.object_id);
            return Err(FragmentError::Oversized {
                object_id: f.object_id,
                limit,
            });
        }
        p.data.extend_from_slice(&f.blob);
        p.next = p.next.saturating_add(1);
        if f.end {
            Ok(self.partial.remove(&f.object_id).map(|p| p.data))
        } else {
            Ok(None)
        }
    }

    /// Parse every fragment in `payload` and feed them; returns the messages
    /// completed by this payload, in order.
    pub fn push_payload(&mut self, payload: &[u8]) -> Result<Vec<Vec<u8>>, FragmentError> {
        let mut done = Vec::new();
        for f in parse_fragments(payload)? {
            if let Some(m) = self.push(f)? {
                done.push(m);
            }
        }
        Ok(done)
    }
}
