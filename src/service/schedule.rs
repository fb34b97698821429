//! When the service syncs: a quick sync every `QuickSyncIntervalMinutes`, a full sync daily at
//! `FullSyncTimeOfDay` (local time, DST-aware) and once at start-up, and bounded exponential
//! backoff after a failure.
//!
//! Everything here is pure arithmetic on times handed in by the caller, so it is tested without
//! waiting. It must not sleep, read the clock or run a sync itself: the runtime does that and
//! reports back with [`Scheduler::finished`].

use std::time::Duration;

use jiff::civil::Time;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::config::TimeOfDay;
use crate::engine::SyncKind;

/// `FullSyncTimeOfDay` as a civil time (the configuration has already checked it).
pub fn daily_time(t: TimeOfDay) -> Time {
    Time::new(t.hour as i8, t.minute as i8, 0, 0).unwrap_or_default()
}

/// The first instant after `now` at which the local clock of `now`'s time zone shows `at`.
///
/// On a day when `at` does not exist (the spring-forward gap) it is the instant just after the
/// gap (02:30 becomes 03:30); on a day when `at` happens twice (the fall-back fold) it is the
/// first of the two, so the sync still runs once a day.
pub fn next_daily(now: &Zoned, at: Time) -> Zoned {
    let tz = now.time_zone().clone();
    let mut date = now.date();
    for _ in 0..3 {
        if let Ok(candidate) = date.to_datetime(at).to_zoned(tz.clone()) {
            if candidate.timestamp() > now.timestamp() {
                return candidate;
            }
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    // Only reachable at the end of the representable calendar.
    now.clone()
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// Exponential backoff with a ceiling: `initial`, ×2 per consecutive failure, never more than
/// `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th consecutive failure (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        self.initial
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// The service's timetable.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduler {
    quick_every: Duration,
    full_at: Time,
    backoff: Backoff,
    next_quick: Timestamp,
    next_full: Zoned,
    retry: Option<(SyncKind, Timestamp)>,
    failures: u32,
    last_start: Option<Timestamp>,
}

impl Scheduler {
    /// A timetable starting at `now`: a full sync at once, quick syncs every `quick_every`
    /// after it, a full sync daily at `full_at`.
    pub fn new(quick_every: Duration, full_at: Time, backoff: Backoff, now: &Zoned) -> Self {
        Scheduler {
            quick_every,
            full_at,
            backoff,
            next_quick: add(now.timestamp(), quick_every),
            next_full: now.clone(),
            retry: None,
            failures: 0,
            last_start: None,
        }
    }

    /// New settings (after a reload); the start-up full sync is not repeated.
    pub fn reconfigure(&mut self, quick_every: Duration, full_at: Time, now: &Zoned) {
        let full_pending = self.next_full.timestamp() <= now.timestamp();
        self.quick_every = quick_every;
        self.full_at = full_at;
        if !full_pending {
            self.next_full = next_daily(now, full_at);
        }
        self.next_quick = add(self.last_start.unwrap_or(now.timestamp()), quick_every);
    }

    /// The sync due at `now`, if any; a full sync goes first.
    pub fn due(&self, now: Timestamp) -> Option<SyncKind> {
        if let Some((kind, at)) = self.retry {
            if at <= now {
                return Some(kind);
            }
        }
        if self.next_full.timestamp() <= now {
            Some(SyncKind::Full)
        } else if self.next_quick <= now {
            Some(SyncKind::Quick)
        } else {
            None
        }
    }

    /// When something is next due.
    pub fn next_wake(&self) -> Timestamp {
        let mut t = self.next_quick.min(self.next_full.timestamp());
        if let Some((_, at)) = self.retry {
            t = t.min(at);
        }
        t
    }

    /// A sync (scheduled or manual) started at `at`.
    pub fn started(&mut self, at: Timestamp) {
        self.last_start = Some(at);
    }

    /// A sync of `kind` ended at `now`; returns the wait before the retry after a failure.
    pub fn finished(&mut self, kind: SyncKind, ok: bool, now: &Zoned) -> Option<Duration> {
        let t = now.timestamp();
        let start = self.last_start.unwrap_or(t);
        // A full sync also covers the quick one; either way the next quick counts from here.
        self.next_quick = add(start, self.quick_every).max(t);
        if kind == SyncKind::Full && self.next_full.timestamp() <= t {
            self.next_full = next_daily(now, self.full_at);
        }
        if ok {
            self.failures = 0;
            if kind == SyncKind::Full || self.retry.map(|r| r.0) == Some(SyncKind::Quick) {
                self.retry = None;
            }
            return None;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = self.backoff.delay(self.failures);
        let at = add(t, delay);
        let keep_full = self.retry.map(|r| r.0) == Some(SyncKind::Full) && kind == SyncKind::Quick;
        if keep_full {
            self.retry = Some((SyncKind::Full, at));
        } else if kind == SyncKind::Full || at < self.next_quick {
            self.retry = Some((kind, at));
        } else {
            // The regular quick sync comes sooner than the retry would.
            self.retry = None;
        }
        Some(delay)
    }

    pub fn next_quick(&self) -> Timestamp {
        self.next_quick
    }
    pub fn next_full(&self) -> Timestamp {
        self.next_full.timestamp()
    }
    /// The pending retry after a failure.
    pub fn retry(&self) -> Option<(SyncKind, Timestamp)> {
        self.retry
    }
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn ny() -> TimeZone {
        TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
    }
    fn at(tz: &TimeZone, s: &str) -> Zoned {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz.clone())
            .unwrap()
    }
    fn hm(h: i8, m: i8) -> Time {
        Time::new(h, m, 0, 0).unwrap()
    }

    #[test]
    fn the_configured_time_of_day_is_a_civil_time() {
        let t = |v| daily_time(TimeOfDay::parse(v).unwrap());
        assert_eq!(t("02:00"), hm(2, 0));
        assert_eq!(t("23:59"), hm(23, 59));
    }

    #[test]
    fn daily_later_today_or_tomorrow() {
        let tz = ny();
        let n = next_daily(&at(&tz, "2026-06-10T01:00"), hm(2, 0));
        assert_eq!(n.datetime().to_string(), "2026-06-10T02:00:00");
        let n = next_daily(&at(&tz, "2026-06-10T02:00"), hm(2, 0));
        assert_eq!(n.datetime().to_string(), "2026-06-11T02:00:00");
        // Across midnight and the end of a month/year.
        let n = next_daily(&at(&tz, "2026-12-31T23:30"), hm(0, 15));
        assert_eq!(n.datetime().to_string(), "2027-01-01T00:15:00");
    }

    #[test]
    fn daily_across_dst() {
        let tz = ny();
        // Spring forward 2026-03-08: 02:30 does not exist; it runs at 03:30 EDT.
        let n = next_daily(&at(&tz, "2026-03-08T01:00"), hm(2, 30));
        assert_eq!(n.datetime().to_string(), "2026-03-08T03:30:00");
        assert_eq!(n.offset().seconds(), -4 * 3600);
        // From the day before the change to the change day is 23 h.
        let a = next_daily(&at(&tz, "2026-03-07T02:00"), hm(3, 0));
        let b = next_daily(&a, hm(3, 0));
        assert_eq!(a.timestamp().duration_until(b.timestamp()).as_hours(), 23);
        // Fall back 2026-11-01: 01:30 happens twice; once a day, the first.
        let n = next_daily(&at(&tz, "2026-11-01T00:00"), hm(1, 30));
        assert_eq!(n.offset().seconds(), -4 * 3600);
        let after = next_daily(&n, hm(1, 30));
        assert_eq!(after.datetime().to_string(), "2026-11-02T01:30:00");
        assert_eq!(
            n.timestamp().duration_until(after.timestamp()).as_hours(),
            25
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(1), Duration::from_secs(30));
        assert_eq!(b.delay(2), Duration::from_secs(60));
        assert_eq!(b.delay(4), Duration::from_secs(240));
        assert_eq!(b.delay(6), Duration::from_secs(900));
        assert_eq!(b.delay(40), Duration::from_secs(900));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(900));
        let mut last = Duration::ZERO;
        for n in 1..100 {
            let d = b.delay(n);
            assert!(d >= last && d <= b.max);
            last = d;
        }
    }

    #[test]
    fn startup_full_then_quick_then_daily_full() {
        let tz = ny();
        let t0 = at(&tz, "2026-06-10T10:00");
        let mut s = Scheduler::new(
            Duration::from_secs(15 * 60),
            hm(2, 0),
            Backoff::default(),
            &t0,
        );
        assert_eq!(s.due(t0.timestamp()), Some(SyncKind::Full));
        s.started(t0.timestamp());
        let t1 = at(&tz, "2026-06-10T10:01");
        assert_eq!(s.finished(SyncKind::Full, true, &t1), None);
        assert_eq!(s.due(t1.timestamp()), None);
        assert_eq!(s.next_quick(), at(&tz, "2026-06-10T10:15").timestamp());
        assert_eq!(s.next_full(), at(&tz, "2026-06-11T02:00").timestamp());
        assert_eq!(s.next_wake(), s.next_quick());
        let t2 = at(&tz, "2026-06-10T10:15");
        assert_eq!(s.due(t2.timestamp()), Some(SyncKind::Quick));
        s.started(t2.timestamp());
        s.finished(SyncKind::Quick, true, &at(&tz, "2026-06-10T10:16"));
        assert_eq!(s.next_quick(), at(&tz, "2026-06-10T10:30").timestamp());
        let t3 = at(&tz, "2026-06-11T02:00");
        assert_eq!(s.due(t3.timestamp()), Some(SyncKind::Full));
    }

    #[test]
    fn failures_retry_with_backoff_and_reset_on_success() {
        let tz = ny();
        let t0 = at(&tz, "2026-06-10T10:00");
        let mut s = Scheduler::new(Duration::from_secs(3600), hm(2, 0), Backoff::default(), &t0);
        s.started(t0.timestamp());
        assert_eq!(
            s.finished(SyncKind::Full, false, &t0),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            s.retry(),
            Some((SyncKind::Full, at(&tz, "2026-06-10T10:00:30").timestamp()))
        );
        // The daily full is not repeated at start-up; the retry is what is due.
        assert_eq!(s.next_full(), at(&tz, "2026-06-11T02:00").timestamp());
        let t1 = at(&tz, "2026-06-10T10:00:30");
        assert_eq!(s.due(t1.timestamp()), Some(SyncKind::Full));
        s.started(t1.timestamp());
        assert_eq!(
            s.finished(SyncKind::Full, false, &t1),
            Some(Duration::from_secs(60))
        );
        // A failing quick sync does not replace the pending full retry.
        s.started(t1.timestamp());
        s.finished(SyncKind::Quick, false, &t1);
        assert_eq!(s.retry().unwrap().0, SyncKind::Full);
        s.started(t1.timestamp());
        s.finished(SyncKind::Full, true, &t1);
        assert_eq!(s.retry(), None);
        assert_eq!(s.consecutive_failures(), 0);
    }

    #[test]
    fn quick_retry_dropped_when_the_regular_one_is_sooner() {
        let tz = ny();
        let t0 = at(&tz, "2026-06-10T10:00");
        let mut s = Scheduler::new(
            Duration::from_secs(5 * 60),
            hm(2, 0),
            Backoff::default(),
            &t0,
        );
        s.started(t0.timestamp());
        s.finished(SyncKind::Full, true, &t0);
        for _ in 0..5 {
            s.started(t0.timestamp());
            s.finished(SyncKind::Quick, false, &t0);
        }
        // 5th failure: 480 s > the 300 s interval.
        assert_eq!(s.retry(), None);
        assert_eq!(s.next_quick(), at(&tz, "2026-06-10T10:05").timestamp());
    }
}
