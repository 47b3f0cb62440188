//! A key's time to live: a last-writer-wins register of an optional expiry instant.
//!
//! `EXPIRE` on one side of a partition and `PERSIST` (or a `SET`, which clears the TTL) on the
//! other resolve by the HLC timestamp of the change, the same on every replica. The instant is
//! wall-clock milliseconds since the Unix epoch; a key whose instant is at or before "now" reads
//! as absent everywhere, at once, whether or not it has been purged yet.

use serde::{Deserialize, Serialize};

use crate::hlc::Timestamp;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Expiry {
    /// When the TTL was last set or cleared.
    pub ts: Timestamp,
    /// Milliseconds since the Unix epoch; `None`: no TTL.
    pub at_ms: Option<u64>,
}

impl Expiry {
    /// The later change wins; equal timestamps (the same change) compare by instant.
    pub fn merge(self, other: Expiry) -> Expiry {
        self.max(other)
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.at_ms.is_some_and(|at| at <= now_ms)
    }
}
