//! Failed-secret limiting: a wrong deploy key or admin token counts against its source (an
//! IPv4 address, or an IPv6 /64, which one host usually holds whole); past
//! `max_failed_attempts_per_minute` in a one-minute window, every request from that source
//! that needs a secret is refused (429) until the window ends, a correct secret included, so
//! that a guess learns nothing while it is blocked.
//!
//! The table is bounded: past [`MAX_SOURCES`] sources, expired windows are dropped, and if the
//! table is still full the newcomers share one window (an attacker with many addresses blocks
//! only other newcomers, never the sources already known, and still gets no more guesses).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The length of a window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most sources tracked one by one.
pub const MAX_SOURCES: usize = 4096;

/// Where failures are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SourceKey {
    /// One address or /64.
    Net(IpAddr),
    /// Every newcomer while the table is full.
    Overflow,
}

/// The source an address counts as: IPv4 (IPv4-mapped IPv6 too) whole, IPv6 by its /64.
fn net_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// One source's window: when it started and the failures in it.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed secrets per source.
#[derive(Debug)]
pub struct FailureLimiter {
    max_per_window: u32,
    windows: Mutex<HashMap<SourceKey, Window>>,
}

impl FailureLimiter {
    /// A limiter allowing `max_per_window` failures per source per minute.
    pub fn new(max_per_window: u32) -> FailureLimiter {
        FailureLimiter {
            max_per_window: max_per_window.max(1),
            windows: Mutex::default(),
        }
    }

    /// The key `ip` counts under now (the overflow key when the table is full).
    fn key_for(map: &mut HashMap<SourceKey, Window>, ip: IpAddr, now: Instant) -> SourceKey {
        let key = SourceKey::Net(net_of(ip));
        if map.contains_key(&key) || map.len() < MAX_SOURCES {
            return key;
        }
        map.retain(|_, w| now.duration_since(w.started) < WINDOW);
        if map.len() < MAX_SOURCES {
            key
        } else {
            SourceKey::Overflow
        }
    }

    /// `Some(seconds to wait)` when `ip` has used up its failures in the current window.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = SourceKey::Net(net_of(ip));
        let window = map.get(&key).or_else(|| {
            (map.len() >= MAX_SOURCES)
                .then(|| map.get(&SourceKey::Overflow))
                .flatten()
        })?;
        let age = now.duration_since(window.started);
        (age < WINDOW && window.failures >= self.max_per_window)
            .then(|| (WINDOW - age).as_secs().max(1))
    }

    /// Counts one failed secret from `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = Self::key_for(&mut map, ip, now);
        let window = map.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_blocked_after_its_failures_until_the_minute_ends() {
        let limiter = FailureLimiter::new(3);
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..3 {
            assert_eq!(limiter.blocked(ip, t0), None, "{i}");
            limiter.record_failure(ip, t0);
        }
        assert_eq!(limiter.blocked(ip, t0), Some(60));
        assert_eq!(limiter.blocked(ip, t0 + Duration::from_secs(45)), Some(15));
        // The same host through IPv4-mapped IPv6 is the same source; another is not.
        assert!(
            limiter
                .blocked("::ffff:192.0.2.1".parse().unwrap(), t0)
                .is_some()
        );
        assert_eq!(limiter.blocked(other, t0), None);
        let later = t0 + WINDOW;
        assert_eq!(limiter.blocked(ip, later), None);
        limiter.record_failure(ip, later);
        assert_eq!(limiter.blocked(ip, later), None);
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let limiter = FailureLimiter::new(2);
        let t0 = Instant::now();
        limiter.record_failure("2001:db8::1".parse().unwrap(), t0);
        limiter.record_failure("2001:db8::ffff:2".parse().unwrap(), t0);
        assert!(
            limiter
                .blocked("2001:db8::3".parse().unwrap(), t0)
                .is_some()
        );
        assert!(
            limiter
                .blocked("2001:db8:0:1::3".parse().unwrap(), t0)
                .is_none()
        );
    }

    #[test]
    fn the_table_is_bounded_and_newcomers_share_a_window_when_it_is_full() {
        let limiter = FailureLimiter::new(1);
        let t0 = Instant::now();
        for i in 0..MAX_SOURCES as u32 {
            limiter.record_failure(IpAddr::V4((0x0a00_0000 + i).into()), t0);
        }
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(limiter.blocked(a, t0), None);
        limiter.record_failure(a, t0);
        // a and b share the overflow window; known sources keep their own.
        assert!(limiter.blocked(b, t0).is_some());
        assert!(
            limiter
                .blocked(IpAddr::V4(0x0a00_0001.into()), t0)
                .is_some()
        );
        assert!(limiter.windows.lock().unwrap().len() <= MAX_SOURCES + 1);
        // Once the old windows expire, room is made again.
        let later = t0 + WINDOW;
        limiter.record_failure(b, later);
        assert!(limiter.windows.lock().unwrap().len() < 10);
    }
}
