//! Hybrid logical clock (HLC).
//!
//! Every node keeps one `Hlc`. A timestamp is `(physical_ms, logical)`: the physical part follows
//! the node's wall clock when it moves forward and the logical counter orders events within one
//! millisecond or while the wall clock lags behind a timestamp already seen (from the past of this
//! node or from a peer). Timestamps therefore never go backwards on a node, and a write that
//! causally follows another always carries a larger timestamp, even under clock skew.
//!
//! The clock never reads the system time itself: the caller passes `wall_ms` (sans-IO rule), so
//! the simulator can skew and step clocks at will.

use serde::{Deserialize, Serialize};

/// One HLC reading. Ordered by physical time, then logical counter.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch, as far as the minting node knew.
    pub physical_ms: u64,
    /// Orders events that share `physical_ms`.
    pub logical: u32,
}

impl Timestamp {
    /// The smallest timestamp; every real reading is larger.
    pub const ZERO: Timestamp = Timestamp {
        physical_ms: 0,
        logical: 0,
    };
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.physical_ms, self.logical)
    }
}

/// A node's hybrid logical clock.
#[derive(Clone, Debug, Default)]
pub struct Hlc {
    last: Timestamp,
}

impl Hlc {
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest timestamp issued or observed.
    pub fn last(&self) -> Timestamp {
        self.last
    }

    /// Mints a new timestamp, strictly greater than every timestamp issued or observed before.
    pub fn now(&mut self, wall_ms: u64) -> Timestamp {
        self.last = if wall_ms > self.last.physical_ms {
            Timestamp {
                physical_ms: wall_ms,
                logical: 0,
            }
        } else {
            successor(self.last)
        };
        self.last
    }

    /// Takes a timestamp received from elsewhere into account, so that later readings of this
    /// clock are greater than it.
    pub fn observe(&mut self, remote: Timestamp) {
        if remote > self.last {
            self.last = remote;
        }
    }
}

/// The next timestamp after `ts`; the logical counter overflowing carries into the physical part
/// rather than wrapping.
pub(crate) fn successor(ts: Timestamp) -> Timestamp {
    match ts.logical.checked_add(1) {
        Some(logical) => Timestamp {
            physical_ms: ts.physical_ms,
            logical,
        },
        None => Timestamp {
            physical_ms: ts.physical_ms.saturating_add(1),
            logical: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_wall_clock_when_it_moves_forward() {
        let mut c = Hlc::new();
        assert_eq!(
            c.now(100),
            Timestamp {
                physical_ms: 100,
                logical: 0
            }
        );
        assert_eq!(
            c.now(105),
            Timestamp {
                physical_ms: 105,
                logical: 0
            }
        );
    }

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let mut c = Hlc::new();
        let a = c.now(1_000);
        let b = c.now(400);
        let d = c.now(1_000);
        assert!(a < b && b < d);
    }

    #[test]
    fn a_skewed_peer_timestamp_pushes_later_readings_past_it() {
        let mut c = Hlc::new();
        c.now(1_000);
        let remote = Timestamp {
            physical_ms: 60_000,
            logical: 7,
        };
        c.observe(remote);
        assert!(c.now(1_001) > remote);
    }

    #[test]
    fn logical_overflow_carries_into_physical() {
        let mut c = Hlc::new();
        c.observe(Timestamp {
            physical_ms: 5,
            logical: u32::MAX,
        });
        assert_eq!(
            c.now(0),
            Timestamp {
                physical_ms: 6,
                logical: 0
            }
        );
    }
}
