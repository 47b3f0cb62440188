//! The rate limit of anti-entropy work: a token bucket refilled at `max_keys_per_sec`.
//!
//! A unit of work is one object moved between replicas (fetched or merged), or
//! [`RECORDS_PER_UNIT`] records listed or scanned. Exchanges take units before doing the work
//! and sleep when the bucket is empty, so repair traffic stays a bounded share of the node's
//! capacity however far apart the replicas are.

use std::time::{Duration, Instant};

/// Records listed (by key and hash only) per unit of work: listing is much cheaper than moving
/// an object.
pub const RECORDS_PER_UNIT: u64 = 16;

pub struct Pacer {
    per_sec: f64,
    /// Largest burst: a second's worth of work.
    capacity: f64,
    tokens: f64,
    refilled: Instant,
}

impl Pacer {
    /// `per_sec` units per second (at least 1).
    pub fn new(per_sec: u32) -> Pacer {
        let per_sec = f64::from(per_sec.max(1));
        Pacer {
            per_sec,
            capacity: per_sec,
            tokens: per_sec,
            refilled: Instant::now(),
        }
    }

    /// Waits until `units` of work may be done.
    pub async fn take(&mut self, units: u64) {
        let wait = self.reserve(units as f64, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Units for `records` listed.
    pub fn records(records: u64) -> u64 {
        records.div_ceil(RECORDS_PER_UNIT)
    }

    /// Takes `units` now (the bucket may go negative) and says how long to wait until the debt
    /// is paid back.
    fn reserve(&mut self, units: f64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity) - units;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_sec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_capacity_waits_for_the_excess() {
        let mut p = Pacer::new(100);
        let now = Instant::now();
        assert_eq!(p.reserve(100.0, now), Duration::ZERO);
        // 50 more units at 100/s: half a second.
        assert_eq!(p.reserve(50.0, now), Duration::from_millis(500));
        // A second later the debt is paid and 50 units are back.
        assert_eq!(
            p.reserve(50.0, now + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn listing_is_cheaper_than_moving() {
        assert_eq!(Pacer::records(0), 0);
        assert_eq!(Pacer::records(1), 1);
        assert_eq!(Pacer::records(32), 2);
    }
}
