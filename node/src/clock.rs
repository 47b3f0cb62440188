//! The node's wall clock, in one place.
//!
//! TTLs are absolute instants (ms since the Unix epoch) computed and checked against this
//! clock; the replication driver reads it for the HLC. Keeping every read here is what lets a
//! test hook shift this node's clock without touching the machine's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
