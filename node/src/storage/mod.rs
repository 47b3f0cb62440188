//! Byte-level storage: the only way the node reaches the disk.
//!
//! The layer above (replica logic, hints, anti-entropy) stores opaque *records* under opaque
//! *keys*; this module knows nothing about objects, versions or CRDTs. It offers exactly what
//! a Dynamo-style replica needs and no more: read one key, atomically read-modify-write one key
//! (the replica merges incoming state into the stored object in one step), range-scan a key
//! prefix (handoff, anti-entropy, SCAN), a few metadata records kept apart from data, and a
//! durability barrier.
//!
//! Layout:
//! - [`Storage`] (this file): the trait every engine implements.
//! - [`error`]: [`StorageError`], one clonable error type for the whole layer.
//! - [`keys`]: data-key encoding `namespace | partition | user key`, so one partition is one
//!   contiguous range; and the hint-key encoding under the reserved namespace
//!   [`HINT_NAMESPACE`].
//! - [`hints`]: [`HintStore`], hinted handoff's bounded, restart-proof store of object states
//!   waiting for an unreachable replica, kept in the data keyspace under [`HINT_NAMESPACE`].
//! - [`mem`]: [`MemStorage`], an in-memory engine for tests and the simulator, which can
//!   simulate a crash by losing everything written since the last `sync`.
//! - [`sled`] (the file `sled.rs`): [`SledStorage`], the on-disk engine.
//! - [`sealed`]: [`SealedStorage`], the checksumming wrapper every record passes through: a
//!   corrupt record is detected on every read, never served, and reported to a
//!   [`RecordObserver`] (anti-entropy, which also follows every change through it).
//! - [`engine`]: opens the configured engine.
//! - [`durability`]: [`Durability`] (`always` | `periodic:<ms>` | `never`) and [`GroupCommit`],
//!   which turns many writers' "make my write durable" into few fsyncs.
//!
//! Rules:
//! - Only `sled.rs` imports the `sled` crate. Anything engine-specific stays behind the trait so a
//!   second engine can be added (or sled replaced) without touching callers.
//! - Every persisted byte is versioned. An on-disk store records its format in the metadata
//!   record [`STORAGE_FORMAT_META`] and refuses to open a format it does not know; every record
//!   the layer above stores starts with its own version byte (that layer's concern).
//! - Writes are not durable until [`Storage::sync`] returns; when to call it is decided by
//!   [`Durability`] through [`GroupCommit`], never by the engine's own timers.
//! - Decoders return errors; nothing read from disk is trusted enough to panic on.

pub mod durability;
pub mod engine;
pub mod error;
pub mod fjall;
pub mod hints;
pub mod keys;
pub mod mem;
pub mod sealed;
pub mod sled;

#[cfg(test)]
mod conformance;

use std::ops::Bound;

pub use self::fjall::{FjallOptions, FjallStorage};
pub use self::sled::{SledOptions, SledStorage};
pub use durability::{Durability, GroupCommit, GroupCommitStats, ParseDurabilityError};
pub use error::StorageError;
pub use hints::{
    Hint, HintError, HintLimits, HintMergeFn, HintRefused, HintStats, HintStore, TargetBacklog,
};
pub use keys::{
    check_namespace, decode_data_key, encode_data_key, namespace_prefix, partition_prefix,
    HINT_NAMESPACE,
};
pub use mem::MemStorage;
pub use sealed::{NoObserver, RecordObserver, SealedStorage};

/// Name of the metadata record that holds an on-disk store's format version.
///
/// Reserved: [`Storage::put_meta`] refuses it, so no caller can clobber the version.
pub const STORAGE_FORMAT_META: &str = "storage_format";

/// The on-disk format version this build writes and accepts.
pub const STORAGE_FORMAT_VERSION: u8 = 1;

/// The closure [`Storage::update`] runs: current record in, new record (or None = unchanged) out.
pub type UpdateFn<'a> = dyn FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>, StorageError> + 'a;

/// One `(key, record)` pair returned by [`Storage::scan_prefix`].
pub type KeyRecord = (Vec<u8>, Vec<u8>);

/// A key-value engine the node can store replicas, hints and metadata in.
///
/// Keys and records are opaque bytes. Implementations must be safe to share between threads;
/// calls block (they may touch the disk), so async code calls them from `spawn_blocking` or
/// accepts the short stall.
pub trait Storage: Send + Sync + 'static {
    /// Current record of a key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Atomic read-modify-write of one key: `f` sees the current record (or None) and returns the
    /// new record, or None to leave the key unchanged; the closure may be called more than once
    /// (compare-and-swap retry), so it must be pure. Returns the record stored after the call.
    ///
    /// If `f` returns an error, the key is left unchanged and the error is returned as is.
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>, StorageError>;

    /// Atomic compare-and-delete of one key: removes it only if its current record is exactly
    /// `expected`, and returns whether it did (false for a missing key or any other record).
    ///
    /// Why compare-and-delete rather than a plain delete: the one caller that deletes (hinted
    /// handoff) must never remove a record that changed after it was read, or a change merged in
    /// meanwhile would be lost. Like any write, a removal is durable only after [`Storage::sync`];
    /// a crash before that can bring the key back as it was at the last sync.
    fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError>;

    /// Keys and records with the given prefix, in key order, starting strictly after `after`
    /// (None = from the start), at most `limit` entries.  (Used by handoff / anti-entropy / SCAN.)
    ///
    /// To page through a prefix, pass the last key of the previous page as `after`.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StorageError>;

    /// Small metadata records (node identity, layout, catalog), kept apart from data.
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// Stores a metadata record. Refuses names the storage layer reserves
    /// ([`STORAGE_FORMAT_META`]) with [`StorageError::ReservedMeta`].
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError>;

    /// Durability barrier: everything written before this call is on stable storage when it returns.
    fn sync(&self) -> Result<(), StorageError>;

    /// Approximate bytes on disk (0 for memory), for metrics.
    fn size_on_disk(&self) -> Result<u64, StorageError>;
}

/// Refuses metadata names the storage layer keeps for itself.
fn check_meta_name(name: &str) -> Result<(), StorageError> {
    if name == STORAGE_FORMAT_META {
        return Err(StorageError::ReservedMeta {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Lower bound of a prefix scan: strictly after `after` when that lies inside or beyond the
/// prefix range, otherwise the prefix itself (inclusive). Shared by the engines so they agree on
/// the edge cases (an `after` that sorts before the prefix, or is a proper prefix of it).
fn scan_lower_bound<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
    match after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// Capacity to reserve for a scan result: the limit, but never a huge up-front allocation just
/// because a caller asked for "everything".
fn scan_capacity(limit: usize) -> usize {
    limit.min(1024)
}

/// What opening an on-disk store must do about its format record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FormatAction {
    /// The store carries this build's format.
    Accept,
    /// The store is empty and unstamped: write [`STORAGE_FORMAT_VERSION`] and sync.
    Stamp,
}

/// The format rule of every on-disk engine, from the [`STORAGE_FORMAT_META`] record found at
/// open (`recorded`) and whether the store holds nothing at all (`store_is_empty`, asked only
/// when there is no record). Engine-neutral so each engine applies the same rule.
pub(crate) fn format_action(
    recorded: Option<&[u8]>,
    store_is_empty: impl FnOnce() -> Result<bool, StorageError>,
) -> Result<FormatAction, StorageError> {
    match recorded {
        Some([version]) if *version == STORAGE_FORMAT_VERSION => Ok(FormatAction::Accept),
        Some([version]) => Err(StorageError::UnknownFormat {
            found: *version,
            supported: STORAGE_FORMAT_VERSION,
        }),
        Some(other) => Err(StorageError::Corrupt {
            what: format!(
                "{STORAGE_FORMAT_META} record is {} bytes long, expected 1",
                other.len()
            ),
        }),
        // A brand-new store, or one whose creation was cut short before the stamp was synced.
        // Either way there is nothing to misread, so stamp it.
        None if store_is_empty()? => Ok(FormatAction::Stamp),
        None => Err(StorageError::Corrupt {
            what: format!("store holds records but no {STORAGE_FORMAT_META} record"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_rule_accepts_stamps_and_refuses() {
        let empty = || Ok(true);
        let full = || Ok(false);
        let v = STORAGE_FORMAT_VERSION;
        assert_eq!(format_action(Some(&[v]), full), Ok(FormatAction::Accept));
        assert_eq!(format_action(None, empty), Ok(FormatAction::Stamp));
        assert!(matches!(
            format_action(None, full),
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            format_action(Some(&[v + 1]), full),
            Err(StorageError::UnknownFormat { .. })
        ));
        assert!(matches!(
            format_action(Some(&[]), full),
            Err(StorageError::Corrupt { .. })
        ));
    }
}
