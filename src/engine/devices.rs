//! The devices one sync has read, kept compactly: a 100 000-device organization is read
//! whole on a full sync, so each device is an id, its mailbox (shared), Exchange's state and
//! reason, and indexes into one table of the strings devices share (types, models, OS
//! versions, user agents, display names).
//!
//! Pure data: it reads nothing and decides nothing.

use std::collections::HashMap;
use std::sync::Arc;

use super::policy::{DeviceFacts, GroupMembers};
use super::state::MailboxInfo;
use crate::exchange::ops::MobileDevice;
use crate::wire::exchange::{DeviceAccessState, DeviceAccessStateReason};

/// A device as read: 56 bytes plus its id.
pub struct Seen {
    pub device_id: Box<str>,
    /// The mailbox's canonical identity (`domain/Users/Name`), shared by its devices.
    pub mailbox: Arc<str>,
    pub state: DeviceAccessState,
    pub reason: DeviceAccessStateReason,
    display: Sym,
    device_type: Sym,
    model: Sym,
    os: Sym,
    user_agent: Sym,
}

/// A string in an [`Interner`].
#[derive(Clone, Copy)]
struct Sym(u32);

/// Strings kept once, as shared `Arc<str>`s.
#[derive(Default)]
pub struct Interner {
    index: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn sym(&mut self, s: &str) -> Sym {
        if let Some(&n) = self.index.get(s) {
            return Sym(n);
        }
        let n = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let a: Arc<str> = Arc::from(s);
        self.index.insert(a.clone(), n);
        self.strings.push(a);
        Sym(n)
    }

    /// `s`, shared with every earlier copy.
    pub fn get(&mut self, s: &str) -> Arc<str> {
        let Sym(n) = self.sym(s);
        self.strings
            .get(n as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(s))
    }

    fn str(&self, Sym(n): Sym) -> &str {
        self.strings.get(n as usize).map_or("", |s| s)
    }
}

/// The devices of one read (a pass), with the string table kept across passes.
#[derive(Default)]
pub struct DeviceSet {
    strings: Interner,
    devices: Vec<Seen>,
}

/// The mailbox part of a device identity (`domain/Users/Name/ExchangeActiveSyncDevices/…`),
/// else the user's display name.
pub fn mailbox_of(d: &MobileDevice) -> &str {
    d.parsed_identity()
        .map_or(d.user_display_name.as_str(), |i| i.mailbox)
}

impl DeviceSet {
    /// Forget the devices (a new pass), keep the strings.
    pub fn clear(&mut self) {
        self.devices.clear();
    }

    pub fn push(&mut self, d: &MobileDevice) {
        let s = &mut self.strings;
        let seen = Seen {
            device_id: d.device_id.as_str().into(),
            mailbox: s.get(mailbox_of(d)),
            state: d.access_state,
            reason: d.access_state_reason,
            display: s.sym(&d.user_display_name),
            device_type: s.sym(&d.device_type),
            model: s.sym(&d.device_model),
            os: s.sym(&d.device_os),
            user_agent: s.sym(&d.user_agent),
        };
        self.devices.push(seen);
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Seen> {
        self.devices.iter()
    }

    /// The device ids, for a read that has to start again elsewhere.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.devices.iter().map(|d| &*d.device_id)
    }

    pub fn display_name(&self, d: &Seen) -> &str {
        self.strings.str(d.display)
    }

    pub fn device_type(&self, d: &Seen) -> &str {
        self.strings.str(d.device_type)
    }

    pub fn model(&self, d: &Seen) -> &str {
        self.strings.str(d.model)
    }

    /// What the policy's sources see of a device, with its mailbox's directory entry.
    pub fn facts<'a>(
        &'a self,
        d: &'a Seen,
        info: &'a MailboxInfo,
        groups: &'a GroupMembers,
    ) -> DeviceFacts<'a> {
        DeviceFacts {
            device_id: &d.device_id,
            device_type: self.strings.str(d.device_type),
            device_model: self.strings.str(d.model),
            device_os: self.strings.str(d.os),
            user_agent: self.strings.str(d.user_agent),
            user_display_name: self.strings.str(d.display),
            user_alias: &info.alias,
            user_smtp: &info.smtp,
            mailbox: &d.mailbox,
            access_state: d.state,
            groups,
        }
    }
}

/// A device id compared and hashed without regard to ASCII case, borrowed.
pub struct NoCase<'a>(pub &'a str);

impl PartialEq for NoCase<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for NoCase<'_> {}

impl std::hash::Hash for NoCase<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for b in self.0.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
    }
}
