//! Per-node wall clocks: a fixed offset from simulated time plus a drift, occasionally stepped.
//!
//! Only the HLC reads the wall clock (`Now::wall_ms`); the monotonic clock is the simulated time
//! itself, as timeouts must not jump with the wall clock.

/// Where the simulated wall clocks start (2024-01-01 in Unix milliseconds): realistic values, so
/// an HLC timestamp looks like one from a real node.
pub const EPOCH_MS: u64 = 1_704_067_200_000;

#[derive(Clone, Debug)]
pub struct Clock {
    /// Milliseconds this node's wall clock is ahead (negative: behind).
    pub offset_ms: i64,
    /// Parts per million the clock runs fast (negative: slow).
    pub drift_ppm: i64,
}

impl Clock {
    /// The wall-clock reading at simulated time `now_ms`.
    pub fn wall_ms(&self, now_ms: u64) -> u64 {
        let drift = (now_ms as i128 * self.drift_ppm as i128 / 1_000_000) as i64;
        let wall = EPOCH_MS as i128 + now_ms as i128 + self.offset_ms as i128 + drift as i128;
        wall.max(0) as u64
    }

    /// Steps the clock by `delta_ms` (an NTP correction or an operator's mistake).
    pub fn step(&mut self, delta_ms: i64) {
        self.offset_ms = self.offset_ms.saturating_add(delta_ms);
    }
}
