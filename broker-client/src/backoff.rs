//! Reconnect delays: exponential, capped, with jitter.

use std::hash::BuildHasher;
use std::time::Duration;

/// How long to wait before reconnect attempt `n`: `initial × 2ⁿ`, capped at `max`, of which a
/// random half is skipped ("equal jitter"), so that many sensors cut off by one broker restart
/// do not all come back in the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 250 ms doubling up to 30 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The project's reconnect policy for every role: 250 ms doubling up to `max` (a role's
    /// `hpfeeds.reconnect_max_secs`).
    pub fn up_to(max: Duration) -> Self {
        Self {
            max,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt` (0 = the first retry), given a random number.
    pub fn delay_with(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            random % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// The delay before attempt `attempt`, with fresh randomness.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, random_u64())
    }
}

/// A random number from the standard library's per-process hash keys; enough for jitter.
fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        // Without jitter (random 0) the delay is half the ceiling; with the most jitter, all of it.
        assert_eq!(b.delay_with(0, 0), Duration::from_millis(50));
        assert_eq!(b.delay_with(0, 50_000_000), Duration::from_millis(100));
        assert_eq!(b.delay_with(3, 0), Duration::from_millis(400));
        assert_eq!(b.delay_with(5, 0), Duration::from_secs(1));
        assert_eq!(b.delay_with(1000, 0), Duration::from_secs(1));
        for attempt in 0..100 {
            for r in [0, 1, 12345, u64::MAX / 3, u64::MAX] {
                let d = b.delay_with(attempt, r);
                assert!(d <= b.max, "attempt {attempt}: {d:?}");
                assert!(d >= b.initial / 2);
            }
        }
    }

    #[test]
    fn every_role_starts_at_250_ms_and_caps_at_its_maximum() {
        let b = Backoff::up_to(Duration::from_secs(60));
        assert_eq!(b.initial, Duration::from_millis(250));
        assert_eq!(b.max, Duration::from_secs(60));
    }

    #[test]
    fn jitter_varies() {
        let b = Backoff::default();
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.delay(4)).collect();
        assert!(delays.len() > 1);
    }
}
