//! The sled engine — the only file that imports `sled`.
//!
//! One sled database per node directory, with two trees: `data` for records and `meta` for the
//! small metadata records (node identity, layout, catalog, and the reserved
//! [`STORAGE_FORMAT_META`]). sled's default tree is left unused so nothing can land in it by
//! accident.
//!
//! Durability is explicit: the database is opened with `flush_every_ms(None)`, so sled never
//! fsyncs on its own timer and [`Storage::sync`] (`Db::flush`) is the only barrier. When to call
//! it is decided by the node's durability setting (see `durability.rs`).
//!
//! sled's own `flush` writes its log with `sync_file_range` and never fsyncs it (its periodic
//! flusher, turned off here, is what would): [`Storage::sync`] therefore also fsyncs the log
//! file. Values sled keeps as separate blob files (very large ones) are still not fsynced.
//!
//! sled 0.34 is unmaintained; the crash and space tests made fjall the default engine
//! (docs/DEPENDENCIES.md), and sled stays selectable. Nothing outside this file may depend on it.

use std::num::NonZeroU32;
use std::ops::Bound;
use std::path::Path;

use super::{
    check_meta_name, format_action, scan_capacity, scan_lower_bound, FormatAction, KeyRecord,
    Storage, StorageError, UpdateFn, STORAGE_FORMAT_META, STORAGE_FORMAT_VERSION,
};

const DATA_TREE: &str = "data";
/// The file sled 0.34 keeps its log and pages in, inside its directory.
const SLED_LOG_FILE: &str = "db";
const META_TREE: &str = "meta";

/// Default cap on sled's page cache.
pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// Default number of compare-and-swap attempts one `update` makes before giving up.
pub const DEFAULT_MAX_UPDATE_ATTEMPTS: NonZeroU32 = match NonZeroU32::new(10_000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// Tunables of the sled engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    /// Upper bound of sled's in-memory page cache, in bytes.
    pub cache_capacity_bytes: u64,
    /// How many times one `update` retries after losing a compare-and-swap race to a
    /// concurrent writer of the same key before failing with [`StorageError::Contention`].
    /// Someone always wins a race, so this only bounds how long one unlucky caller can starve.
    pub max_update_attempts: NonZeroU32,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: DEFAULT_CACHE_CAPACITY_BYTES,
            max_update_attempts: DEFAULT_MAX_UPDATE_ATTEMPTS,
        }
    }
}

/// A [`Storage`] backed by a sled database in one directory.
#[derive(Debug)]
pub struct SledStorage {
    db: ::sled::Db,
    /// sled's log file (`<dir>/db`): `Db::flush` writes it with `sync_file_range`, which does
    /// not make it durable against a power cut, so [`Storage::sync`] also fsyncs it.
    log: std::fs::File,
    data: ::sled::Tree,
    meta: ::sled::Tree,
    max_update_attempts: NonZeroU32,
}

impl SledStorage {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        Self::open_with(dir, &SledOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`.
    ///
    /// A new store is stamped with [`STORAGE_FORMAT_VERSION`] (and synced) before this returns;
    /// an existing store must carry that version or opening fails with
    /// [`StorageError::UnknownFormat`]. A store with records but no version is
    /// [`StorageError::Corrupt`].
    pub fn open_with(dir: &Path, options: &SledOptions) -> Result<Self, StorageError> {
        let db = ::sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_capacity_bytes)
            .flush_every_ms(None)
            .open()
            .map_err(|e| engine_error("open", e))?;
        let data = db
            .open_tree(DATA_TREE)
            .map_err(|e| engine_error("open data tree", e))?;
        let meta = db
            .open_tree(META_TREE)
            .map_err(|e| engine_error("open meta tree", e))?;
        let log = std::fs::File::open(dir.join(SLED_LOG_FILE))
            .map_err(|e| StorageError::io("open sled log for fsync", &e))?;
        let storage = Self {
            db,
            log,
            data,
            meta,
            max_update_attempts: options.max_update_attempts,
        };
        storage.check_or_stamp_format()?;
        Ok(storage)
    }

    fn check_or_stamp_format(&self) -> Result<(), StorageError> {
        let recorded = self
            .meta
            .get(STORAGE_FORMAT_META)
            .map_err(|e| engine_error("read storage format", e))?;
        let empty = || Ok(self.data.is_empty() && self.meta.is_empty());
        match format_action(recorded.as_deref(), empty)? {
            FormatAction::Accept => Ok(()),
            FormatAction::Stamp => {
                self.meta
                    .insert(STORAGE_FORMAT_META, &[STORAGE_FORMAT_VERSION])
                    .map_err(|e| engine_error("write storage format", e))?;
                self.sync()
            }
        }
    }
}

impl Storage for SledStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let record = self.data.get(key).map_err(|e| engine_error("get", e))?;
        Ok(record.map(|r| r.to_vec()))
    }

    /// A compare-and-swap loop: read, run `f`, swap in the result if the record is still the
    /// one `f` saw, otherwise run `f` again on the record that won. (sled's own
    /// `update_and_fetch` cannot carry an error out of the closure, hence the hand-written loop.)
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>, StorageError> {
        let mut current = self.data.get(key).map_err(|e| engine_error("update", e))?;
        for _ in 0..self.max_update_attempts.get() {
            let Some(record) = f(current.as_deref())? else {
                return Ok(current.map(|r| r.to_vec()));
            };
            let swapped = self
                .data
                .compare_and_swap(key, current.as_ref(), Some(record.as_slice()))
                .map_err(|e| engine_error("update", e))?;
            match swapped {
                Ok(()) => return Ok(Some(record)),
                Err(lost) => current = lost.current,
            }
        }
        Err(StorageError::Contention {
            attempts: self.max_update_attempts.get(),
        })
    }

    /// One compare-and-swap to "absent": sled compares the stored bytes with `expected`.
    fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
        let swapped = self
            .data
            .compare_and_swap(key, Some(expected), None::<&[u8]>)
            .map_err(|e| engine_error("remove", e))?;
        Ok(swapped.is_ok())
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StorageError> {
        let mut out = Vec::with_capacity(scan_capacity(limit));
        if limit == 0 {
            return Ok(out);
        }
        let range = (scan_lower_bound(prefix, after), Bound::Unbounded);
        for entry in self.data.range::<&[u8], _>(range) {
            let (key, record) = entry.map_err(|e| engine_error("scan", e))?;
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_vec(), record.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let value = self
            .meta
            .get(name)
            .map_err(|e| engine_error("get meta", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        check_meta_name(name)?;
        self.meta
            .insert(name, value)
            .map_err(|e| engine_error("put meta", e))?;
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.db.flush().map_err(|e| engine_error("sync", e))?;
        self.log
            .sync_all()
            .map_err(|e| StorageError::io("fsync sled log", &e))
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.db
            .size_on_disk()
            .map_err(|e| engine_error("size on disk", e))
    }
}

/// Translates a sled error, keeping I/O and corruption distinguishable for the caller.
fn engine_error(op: &'static str, err: ::sled::Error) -> StorageError {
    match err {
        ::sled::Error::Io(io) => StorageError::io(op, &io),
        ::sled::Error::Corruption { at, .. } => StorageError::Corrupt {
            what: format!("sled reported corruption during {op} at {at:?}"),
        },
        other => StorageError::Engine {
            op,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::conformance::Fixture;
    use std::sync::Arc;

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let storage = SledStorage::open(dir.path()).unwrap();
        Fixture::new(Arc::new(storage), dir)
    }

    crate::storage::conformance::conformance_tests!(fixture);

    #[test]
    fn new_store_is_stamped_with_the_format_version() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(
            s.get_meta(STORAGE_FORMAT_META).unwrap(),
            Some(vec![STORAGE_FORMAT_VERSION])
        );
    }

    #[test]
    fn reopen_returns_what_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStorage::open(dir.path()).unwrap();
            s.update(b"k", &mut |_| Ok(Some(b"v1".to_vec()))).unwrap();
            s.put_meta("node_id", b"n1").unwrap();
            s.sync().unwrap();
        }
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(s.get_meta("node_id").unwrap(), Some(b"n1".to_vec()));
        assert!(s.size_on_disk().unwrap() > 0);
    }

    /// Writes an arbitrary format record the way a different build would have.
    fn tamper_format(dir: &Path, value: &[u8]) {
        let db = ::sled::open(dir).unwrap();
        db.open_tree(META_TREE)
            .unwrap()
            .insert(STORAGE_FORMAT_META, value)
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStorage::open(dir.path()).unwrap());
        tamper_format(dir.path(), &[2]);
        assert_eq!(
            SledStorage::open(dir.path()).unwrap_err(),
            StorageError::UnknownFormat {
                found: 2,
                supported: STORAGE_FORMAT_VERSION
            }
        );
    }

    #[test]
    fn malformed_format_record_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStorage::open(dir.path()).unwrap());
        tamper_format(dir.path(), &[1, 0]);
        assert!(matches!(
            SledStorage::open(dir.path()).unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }

    #[test]
    fn records_without_a_format_record_are_corruption() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = ::sled::open(dir.path()).unwrap();
            db.open_tree(DATA_TREE).unwrap().insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            SledStorage::open(dir.path()).unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }

    /// A closure that, on its first run, lets another writer change the key underneath it —
    /// the interleaving a concurrent `update` produces.
    fn racing_update(s: &SledStorage) -> Result<Option<Vec<u8>>, StorageError> {
        let mut calls = Vec::new();
        let result = s.update(b"k", &mut |cur| {
            calls.push(cur.map(<[u8]>::to_vec));
            if calls.len() == 1 {
                s.update(b"k", &mut |_| Ok(Some(b"winner".to_vec())))?;
            }
            let mut next = cur.unwrap_or_default().to_vec();
            next.extend_from_slice(b"+1");
            Ok(Some(next))
        });
        if result.is_ok() {
            assert_eq!(calls, vec![None, Some(b"winner".to_vec())]);
        }
        result
    }

    #[test]
    fn a_lost_race_reruns_the_closure_on_the_winning_record() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStorage::open(dir.path()).unwrap();
        assert_eq!(racing_update(&s).unwrap(), Some(b"winner+1".to_vec()));
        assert_eq!(s.get(b"k").unwrap(), Some(b"winner+1".to_vec()));
    }

    #[test]
    fn too_many_lost_races_is_a_contention_error() {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions {
            max_update_attempts: NonZeroU32::MIN,
            ..SledOptions::default()
        };
        let s = SledStorage::open_with(dir.path(), &options).unwrap();
        assert_eq!(
            racing_update(&s),
            Err(StorageError::Contention { attempts: 1 })
        );
        assert_eq!(s.get(b"k").unwrap(), Some(b"winner".to_vec()));
    }

    #[test]
    fn custom_options_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions {
            cache_capacity_bytes: 1024 * 1024,
            max_update_attempts: NonZeroU32::MIN,
        };
        let s = SledStorage::open_with(dir.path(), &options).unwrap();
        assert_eq!(
            s.update(b"k", &mut |_| Ok(Some(b"v".to_vec()))).unwrap(),
            Some(b"v".to_vec())
        );
    }
}
