//! The Windows Event Log: what the service reports there, under which IDs, and the source
//! registration that `service install` makes and `service uninstall` removes.
//!
//! [`EventLogLayer`] is a `tracing` layer that forwards the connector's own warnings and errors,
//! and the information events that carry an `event_id` field (service started/stopped, sync
//! finished, reload), to an [`EventSink`]; the log files keep everything else. Free-form
//! warnings and errors are rate limited so that a failing org cannot flood the Application log;
//! catalogued events are never dropped. The sink on Windows is
//! `RegisterEventSourceW`/`ReportEventW` through `winsafe` (our crate forbids `unsafe`); on
//! Linux the service's stderr already goes to the journal, so there is no sink. The event text
//! is built from the event's fields like the log file's, so it holds no secret either.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Event IDs: see `event_ids.in`.
pub mod ids {
    include!("event_ids.in");
}

/// The event source name for `org`: what the Event Viewer's "Source" column shows.
pub fn source_name(org: &str) -> String {
    format!("EAS Connector ({org})")
}

/// The Event Log's three event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Information,
    Warning,
    Error,
}

/// Where events go.
pub trait EventSink: Send + Sync + 'static {
    /// Write one event; the error is the platform's words.
    fn report(&self, kind: EventKind, id: u32, text: &str) -> Result<(), String>;
}

/// The platform's Event Log for `source`: `Some` on Windows only.
pub fn platform_sink(source: &str) -> Option<Box<dyn EventSink>> {
    #[cfg(windows)]
    {
        Some(Box::new(windows::WindowsEventLog::new(source)))
    }
    #[cfg(not(windows))]
    {
        let _ = source;
        None
    }
}

/// Why the event source could not be registered or removed.
#[derive(Debug, thiserror::Error)]
#[error("the Event Log source '{source_name}' could not be {action}: {reason}")]
pub struct SourceError {
    pub source_name: String,
    pub action: &'static str,
    pub reason: String,
}

/// Register `source` in the Application log with `exe`'s message table (idempotent). Windows
/// only; elsewhere there is nothing to register.
pub fn register_source(source: &str, exe: &std::path::Path) -> Result<(), SourceError> {
    #[cfg(windows)]
    {
        windows::register(source, exe)
    }
    #[cfg(not(windows))]
    {
        let _ = (source, exe);
        Ok(())
    }
}

/// Remove what [`register_source`] made; an absent source is not an error.
pub fn remove_source(source: &str) -> Result<(), SourceError> {
    #[cfg(windows)]
    {
        windows::remove(source)
    }
    #[cfg(not(windows))]
    {
        let _ = source;
        Ok(())
    }
}

/// At most this many events per window; the rest are counted and the count is reported with
/// the next event that is written.
const BURST: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// ReportEventW takes at most 31,839 characters per string.
const MAX_TEXT: usize = 30_000;

struct Limiter {
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

/// A `tracing` layer that writes the connector's notable events to an [`EventSink`].
pub struct EventLogLayer {
    sink: Box<dyn EventSink>,
    limiter: Mutex<Limiter>,
}

impl EventLogLayer {
    pub fn new(sink: Box<dyn EventSink>) -> Self {
        EventLogLayer {
            sink,
            limiter: Mutex::new(Limiter {
                window_start: None,
                in_window: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(suppressed so far)` when this event may be written now.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut l = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        if l.window_start
            .is_none_or(|s| now.duration_since(s) >= WINDOW)
        {
            l.window_start = Some(now);
            l.in_window = 0;
        }
        if l.in_window >= BURST {
            l.suppressed += 1;
            return None;
        }
        l.in_window += 1;
        Some(std::mem::take(&mut l.suppressed))
    }
}

/// The event's message, its `event_id`, and its other fields as `name: value` lines.
#[derive(Default)]
struct Fields {
    message: String,
    event_id: Option<u32>,
    rest: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "event_id" {
            self.event_id = u32::try_from(value).ok();
        } else {
            let _ = write!(self.rest, "\r\n{}: {value}", field.name());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "event_id" {
            self.event_id = u32::try_from(value).ok();
        } else {
            let _ = write!(self.rest, "\r\n{}: {value}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let _ = write!(self.rest, "\r\n{}: {value}", field.name());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.rest, "\r\n{}: {value:?}", field.name());
        }
    }
}

fn kind_and_default_id(level: &Level) -> Option<(EventKind, u32)> {
    match *level {
        Level::ERROR => Some((EventKind::Error, ids::ERROR)),
        Level::WARN => Some((EventKind::Warning, ids::WARNING)),
        Level::INFO => Some((EventKind::Information, ids::INFORMATION)),
        _ => None,
    }
}

impl<S: Subscriber> Layer<S> for EventLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Only the connector's own events: a dependency's chatter stays in the log files.
        if !meta.target().starts_with("eas_connector") {
            return;
        }
        let Some((kind, default_id)) = kind_and_default_id(meta.level()) else {
            return;
        };
        let mut f = Fields::default();
        event.record(&mut f);
        // Information only when it is one of the catalogued events.
        if kind == EventKind::Information && f.event_id.is_none() {
            return;
        }
        // Catalogued events are few (per sync at most) and monitoring keys on them: they are
        // never dropped. The limit is for the free-form warnings and errors.
        let suppressed = if f.event_id.is_some() {
            0
        } else {
            match self.admit(Instant::now()) {
                Some(n) => n,
                None => return,
            }
        };
        let mut text = f.message;
        if !f.rest.is_empty() {
            text.push_str("\r\n");
            text.push_str(&f.rest);
        }
        if suppressed > 0 {
            let _ = write!(
                text,
                "\r\n\r\n({suppressed} earlier event(s) were not written to the Event Log, to keep \
                 it readable; the log files have them all.)"
            );
        }
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" …");
        }
        // Nowhere to report a failing Event Log but the log files, which already have this.
        let _ = self
            .sink
            .report(kind, f.event_id.unwrap_or(default_id), &text);
    }
}

#[cfg(windows)]
mod windows {
    //! `RegisterEventSourceW`/`ReportEventW` and the source's registry key, through winsafe.
    //! Thin on purpose: everything decided is decided above.

    use super::{EventKind, EventSink, SourceError};
    use winsafe::{self as w, co};

    const APPLICATION_LOG: &str = r"SYSTEM\CurrentControlSet\Services\EventLog\Application";

    pub struct WindowsEventLog {
        source: String,
    }

    impl WindowsEventLog {
        pub fn new(source: &str) -> Self {
            WindowsEventLog {
                source: source.to_string(),
            }
        }
    }

    impl EventSink for WindowsEventLog {
        fn report(&self, kind: EventKind, id: u32, text: &str) -> Result<(), String> {
            // Opened per event: events are rare, and no handle has to be shared across threads.
            let log =
                w::HEVENTLOG::RegisterEventSource(None, &self.source).map_err(|e| e.to_string())?;
            let t = match kind {
                EventKind::Information => co::EVENTLOG::INFORMATION_TYPE,
                EventKind::Warning => co::EVENTLOG::WARNING_TYPE,
                EventKind::Error => co::EVENTLOG::ERROR_TYPE,
            };
            log.ReportEvent(t, 0, id, None, &[text], &[])
                .map_err(|e| e.to_string())
        }
    }

    fn key(source: &str) -> String {
        format!(r"{APPLICATION_LOG}\{source}")
    }

    pub fn register(source: &str, exe: &std::path::Path) -> Result<(), SourceError> {
        let fail = |e: w::co::ERROR| SourceError {
            source_name: source.to_string(),
            action: "registered",
            reason: if e == co::ERROR::ACCESS_DENIED {
                "access denied; run elevated (as administrator)".into()
            } else {
                e.to_string()
            },
        };
        let (k, _) = w::HKEY::LOCAL_MACHINE
            .RegCreateKeyEx(
                &key(source),
                None,
                co::REG_OPTION::NON_VOLATILE,
                co::KEY::SET_VALUE,
                None,
            )
            .map_err(fail)?;
        k.RegSetKeyValue(
            None,
            Some("EventMessageFile"),
            w::RegistryValue::ExpandSz(exe.display().to_string()),
        )
        .map_err(fail)?;
        // Error, warning and information.
        k.RegSetKeyValue(None, Some("TypesSupported"), w::RegistryValue::Dword(7))
            .map_err(fail)
    }

    pub fn remove(source: &str) -> Result<(), SourceError> {
        match w::HKEY::LOCAL_MACHINE.RegDeleteTree(Some(&key(source))) {
            Ok(()) => Ok(()),
            Err(e) if e == co::ERROR::FILE_NOT_FOUND => Ok(()),
            Err(e) => Err(SourceError {
                source_name: source.to_string(),
                action: "removed",
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Records what would reach the Event Log.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<(EventKind, u32, String)>>>);

    impl EventSink for Recorder {
        fn report(&self, kind: EventKind, id: u32, text: &str) -> Result<(), String> {
            self.0.lock().unwrap().push((kind, id, text.to_string()));
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<(EventKind, u32, String)> {
        let rec = Recorder::default();
        let subscriber =
            tracing_subscriber::registry().with(EventLogLayer::new(Box::new(rec.clone())));
        tracing::subscriber::with_default(subscriber, f);
        let v = rec.0.lock().unwrap().clone();
        v
    }

    #[test]
    fn warnings_errors_and_catalogued_information_only() {
        let got = capture(|| {
            tracing::info!("plain information stays in the log files");
            tracing::debug!(event_id = ids::SERVICE_STARTED, "debug never goes");
            tracing::info!(
                event_id = ids::FULL_SYNC_FINISHED,
                devices = 20u64,
                server = "cas1",
                "sync finished"
            );
            tracing::warn!(kind = ?"Quick", error = "timeout", "sync failed");
            tracing::error!("boom");
            tracing::warn!(target: "hyper", "a dependency's warning");
        });
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, EventKind::Information);
        assert_eq!(got[0].1, ids::FULL_SYNC_FINISHED);
        assert_eq!(got[0].2, "sync finished\r\n\r\ndevices: 20\r\nserver: cas1");
        assert_eq!((got[1].0, got[1].1), (EventKind::Warning, ids::WARNING));
        assert_eq!(
            got[1].2,
            "sync failed\r\n\r\nkind: \"Quick\"\r\nerror: timeout"
        );
        assert_eq!(
            (got[2].0, got[2].1, got[2].2.as_str()),
            (EventKind::Error, ids::ERROR, "boom")
        );
    }

    #[test]
    fn a_flood_is_cut_and_the_cut_is_counted() {
        let got = capture(|| {
            for i in 0..(BURST + 5) {
                tracing::warn!(n = i, "again");
            }
            tracing::warn!(event_id = ids::SYNC_FAILED, "a catalogued event still goes");
        });
        assert_eq!(got.len(), BURST as usize + 1);
        assert_eq!(got[BURST as usize].1, ids::SYNC_FAILED);
        let layer = EventLogLayer::new(Box::new(Recorder::default()));
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(layer.admit(t0), Some(0));
        }
        assert_eq!(layer.admit(t0), None);
        assert_eq!(layer.admit(t0), None);
        // A new window: admitted, and told how many were dropped.
        assert_eq!(layer.admit(t0 + WINDOW), Some(2));
        assert_eq!(layer.admit(t0 + WINDOW), Some(0));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let got = capture(|| tracing::error!("{}", "é".repeat(MAX_TEXT)));
        assert!(got[0].2.len() <= MAX_TEXT + " …".len());
        assert!(got[0].2.ends_with(" …"));
    }

    #[test]
    fn catalogue_ids_are_unique_and_in_their_type_ranges() {
        let mut seen = std::collections::BTreeSet::new();
        for (id, name) in ids::CATALOGUE {
            assert!(seen.insert(id), "{id} twice");
            assert!((1000..4000).contains(id), "{id} {name}");
        }
        for id in [ids::SERVICE_STARTED, ids::SYNC_FAILED, ids::SERVICE_FAILED] {
            assert!(seen.contains(&id));
        }
        assert_eq!(source_name("contoso"), "EAS Connector (contoso)");
    }
}
