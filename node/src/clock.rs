//! The node's wall clock, in one place.
//!
//! TTLs are absolute instants (ms since the Unix epoch) computed and checked against this
//! clock; the replication driver reads it for the HLC. Keeping every read here is what lets a
//! test hook shift this node's clock without touching the machine's.
//!
//! With the `fault-injection` feature, [`wall_ms`] adds a process-wide signed offset
//! (`set_offset_ms`, set by `DEBUG CLOCK-OFFSET`), so a test harness can skew one node's
//! clock against the others. The HLC stays monotonic when the offset moves backwards: it never
//! mints a timestamp at or below one it issued or observed, whatever the wall clock says
//! (`kvorum_consistency::Hlc::now`). TTLs do follow the shifted clock, as they would a real
//! skewed one.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is before it), shifted by the test
/// offset in `fault-injection` builds.
pub fn wall_ms() -> u64 {
    let system = system_ms();
    #[cfg(feature = "fault-injection")]
    let system = shifted(system, offset_ms());
    system
}

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(feature = "fault-injection")]
pub use offset::{offset_ms, set_offset_ms, OffsetOutOfRange, MAX_OFFSET_MS};

#[cfg(feature = "fault-injection")]
use offset::shifted;

#[cfg(feature = "fault-injection")]
mod offset {
    use std::sync::atomic::{AtomicI64, Ordering};

    /// The largest offset either way: one day. Skew beyond that tests nothing a day does not,
    /// and a typo (seconds for milliseconds, an extra zero) is refused instead of throwing the
    /// node's TTLs years off.
    pub const MAX_OFFSET_MS: i64 = 24 * 60 * 60 * 1000;

    /// Added to every reading of the system clock; one node per process, so process-wide.
    static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

    /// An offset beyond [`MAX_OFFSET_MS`] either way.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("clock offset {0} ms is out of range: at most {MAX_OFFSET_MS} ms (one day) either way")]
    pub struct OffsetOutOfRange(pub i64);

    /// The offset added to the system clock, in ms (negative: this node's clock is behind).
    pub fn offset_ms() -> i64 {
        OFFSET_MS.load(Ordering::Relaxed)
    }

    /// Sets the offset added to every later clock reading (replacing the previous offset, not
    /// adding to it).
    pub fn set_offset_ms(ms: i64) -> Result<(), OffsetOutOfRange> {
        check(ms)?;
        OFFSET_MS.store(ms, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn check(ms: i64) -> Result<(), OffsetOutOfRange> {
        if ms.unsigned_abs() > MAX_OFFSET_MS.unsigned_abs() {
            return Err(OffsetOutOfRange(ms));
        }
        Ok(())
    }

    /// `system_ms` moved by `offset_ms`, clamped to the representable range.
    pub(super) fn shifted(system_ms: u64, offset_ms: i64) -> u64 {
        system_ms.saturating_add_signed(offset_ms)
    }
}

// The process-wide offset is only ever set by the integration tests (one node per process);
// these tests check the arithmetic without touching it, as other tests of this binary read the
// clock concurrently.
#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::offset::{check, shifted};
    use super::*;

    #[test]
    fn the_offset_moves_the_reading_both_ways_and_clamps() {
        assert_eq!(shifted(10_000, 5_000), 15_000);
        assert_eq!(shifted(10_000, -4_000), 6_000);
        assert_eq!(shifted(1_000, -4_000), 0);
        assert_eq!(shifted(u64::MAX - 1, 5), u64::MAX);
    }

    #[test]
    fn offsets_beyond_a_day_either_way_are_refused() {
        assert_eq!(check(MAX_OFFSET_MS), Ok(()));
        assert_eq!(check(-MAX_OFFSET_MS), Ok(()));
        assert_eq!(check(0), Ok(()));
        assert_eq!(
            check(MAX_OFFSET_MS + 1),
            Err(OffsetOutOfRange(MAX_OFFSET_MS + 1))
        );
        assert_eq!(check(i64::MIN), Err(OffsetOutOfRange(i64::MIN)));
        assert!(OffsetOutOfRange(-90_000_000)
            .to_string()
            .contains("at most 86400000 ms"));
    }

    #[test]
    fn the_hlc_never_goes_back_when_the_offset_does() {
        let mut hlc = kvorum_consistency::Hlc::new();
        let now = 1_700_000_000_000;
        let before = hlc.now(shifted(now, 0));
        let after = hlc.now(shifted(now, -MAX_OFFSET_MS));
        assert!(after > before, "{after} after {before}");
    }
}
