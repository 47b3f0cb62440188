//! The fjall engine — the only file that imports `fjall`.
//!
//! One fjall keyspace per node directory, with two partitions: `data` for records and `meta` for
//! the small metadata records (node identity, layout, catalog, and the reserved
//! [`STORAGE_FORMAT_META`]). fjall is a log-structured merge tree: writes go to a journal shared by
//! both partitions and to in-memory tables, which background threads flush into sorted segment
//! files and compact (leveled, LZ4-compressed blocks).
//!
//! Durability is explicit, as with sled: the keyspace is opened with `fsync_ms(None)`, so no fjall
//! thread ever fsyncs on a timer, and [`Storage::sync`] (`Keyspace::persist(SyncAll)`, an fsync
//! of the journal) is the only barrier. Each write hands its journal entry to the operating system
//! right away (fjall's default), so a killed process loses nothing the kernel already has, but
//! only `sync` survives a power loss. When to call it is decided by the node's durability setting
//! (see `durability.rs`). After a crash fjall replays the journal and drops a torn last batch —
//! one that was never synced, since a synced batch is complete.
//!
//! Every key is stored behind one constant byte ([`KEY_TAG`]): fjall refuses (by panicking) an
//! empty key, which the trait allows, and a common first byte leaves the order of keys — and so
//! prefix scans — unchanged. fjall keeps key lengths in 16 bits, so keys longer than
//! [`MAX_KEY_BYTES`] are refused with an error before fjall sees them (it would truncate the
//! length in its journal, or panic while holding its journal lock).
//!
//! fjall has no compare-and-swap on a plain partition, so [`Storage::update`] and
//! [`Storage::remove_if`] take one of [`LOCK_STRIPES`] mutexes chosen by a hash of the key around
//! their read-modify-write (see [`FjallStorage::update`] for why that suffices).
//!
//! fjall 2 does not lock its directory, and two processes writing one keyspace would destroy it,
//! so the store holds an exclusive `flock` on [`LOCK_FILE`] for as long as it is open.

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ::fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use nix::fcntl::{Flock, FlockArg};

use super::{
    check_meta_name, format_action, scan_capacity, scan_lower_bound, FormatAction, KeyRecord,
    Storage, StorageError, UpdateFn, STORAGE_FORMAT_META, STORAGE_FORMAT_VERSION,
};

const DATA_PARTITION: &str = "data";
const META_PARTITION: &str = "meta";

/// The byte in front of every stored key (data and metadata alike): part of this engine's format.
const KEY_TAG: u8 = 0;

/// Longest key (data key or metadata name) this engine stores: fjall's 16-bit key length, less
/// the [`KEY_TAG`] byte.
pub const MAX_KEY_BYTES: usize = u16::MAX as usize - 1;

/// The file in the store's directory that one process at a time holds an exclusive lock on.
pub const LOCK_FILE: &str = "kvorum.lock";

/// Mutexes that serialise read-modify-writes of keys hashing to the same stripe. 256 makes two
/// unrelated keys wait for each other rarely (1 in 256) while costing a few KiB.
pub const LOCK_STRIPES: usize = 256;

/// Default capacity of fjall's block cache (shared by both partitions).
pub const DEFAULT_CACHE_SIZE_BYTES: u64 = 64 * 1024 * 1024;
/// Default cap on all in-memory tables together (fjall's own default).
pub const DEFAULT_MAX_WRITE_BUFFER_BYTES: u64 = 64 * 1024 * 1024;
/// Default cap on the journal files kept on disk (fjall's own default): past it, fjall flushes
/// in-memory tables so old journals can be deleted.
pub const DEFAULT_MAX_JOURNAL_BYTES: u64 = 512 * 1024 * 1024;
/// Default size at which one partition's in-memory table is sealed and flushed (fjall's own).
pub const DEFAULT_MAX_MEMTABLE_BYTES: u32 = 16 * 1024 * 1024;

/// fjall refuses (by panicking) a journal cap below this: one journal file alone may reach 16 MiB.
const MIN_JOURNAL_BYTES: u64 = 24 * 1024 * 1024;
/// fjall refuses (by panicking) a write-buffer cap below this.
const MIN_WRITE_BUFFER_BYTES: u64 = 1024 * 1024;

/// Tunables of the fjall engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FjallOptions {
    /// Capacity of the block cache, in bytes.
    pub cache_size_bytes: u64,
    /// Upper bound of all in-memory tables together, in bytes (at least 1 MiB).
    pub max_write_buffer_bytes: u64,
    /// Upper bound of the journal files on disk, in bytes (at least 24 MiB).
    pub max_journal_bytes: u64,
    /// Size at which a partition's in-memory table is flushed to a segment file, in bytes.
    pub max_memtable_bytes: u32,
}

impl Default for FjallOptions {
    fn default() -> Self {
        Self {
            cache_size_bytes: DEFAULT_CACHE_SIZE_BYTES,
            max_write_buffer_bytes: DEFAULT_MAX_WRITE_BUFFER_BYTES,
            max_journal_bytes: DEFAULT_MAX_JOURNAL_BYTES,
            max_memtable_bytes: DEFAULT_MAX_MEMTABLE_BYTES,
        }
    }
}

impl FjallOptions {
    /// Refuses values fjall would panic on, so a bad setting is an error at open, not a crash.
    fn check(&self) -> Result<(), StorageError> {
        let too_small = |what: &str, value: u64, min: u64| StorageError::Engine {
            op: "open",
            message: format!("fjall {what} of {value} bytes is below the minimum of {min}"),
        };
        if self.max_journal_bytes < MIN_JOURNAL_BYTES {
            return Err(too_small(
                "journal cap",
                self.max_journal_bytes,
                MIN_JOURNAL_BYTES,
            ));
        }
        if self.max_write_buffer_bytes < MIN_WRITE_BUFFER_BYTES {
            return Err(too_small(
                "write buffer cap",
                self.max_write_buffer_bytes,
                MIN_WRITE_BUFFER_BYTES,
            ));
        }
        Ok(())
    }
}

/// A [`Storage`] backed by a fjall keyspace in one directory.
pub struct FjallStorage {
    dir: PathBuf,
    keyspace: Keyspace,
    data: PartitionHandle,
    meta: PartitionHandle,
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
    /// Held (and declared last, so dropped last) while the keyspace is open.
    _lock: Flock<File>,
}

impl std::fmt::Debug for FjallStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStorage")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FjallStorage {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        Self::open_with(dir, &FjallOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`.
    ///
    /// A new store is stamped with [`STORAGE_FORMAT_VERSION`] (and synced) before this returns;
    /// an existing store must carry that version or opening fails with
    /// [`StorageError::UnknownFormat`]. A store with records but no version is
    /// [`StorageError::Corrupt`]. A store another process has open is refused with
    /// [`StorageError::Io`].
    pub fn open_with(dir: &Path, options: &FjallOptions) -> Result<Self, StorageError> {
        options.check()?;
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io("create store directory", &e))?;
        let lock = lock_dir(dir)?;
        let keyspace = Config::new(dir)
            .fsync_ms(None)
            .manual_journal_persist(false)
            .cache_size(options.cache_size_bytes)
            .max_write_buffer_size(options.max_write_buffer_bytes)
            .max_journaling_size(options.max_journal_bytes)
            .open()
            .map_err(|e| engine_error("open", e))?;
        let partition =
            || PartitionCreateOptions::default().max_memtable_size(options.max_memtable_bytes);
        let data = keyspace
            .open_partition(DATA_PARTITION, partition())
            .map_err(|e| engine_error("open data partition", e))?;
        let meta = keyspace
            .open_partition(META_PARTITION, partition())
            .map_err(|e| engine_error("open meta partition", e))?;
        let storage = Self {
            dir: dir.to_path_buf(),
            keyspace,
            data,
            meta,
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
            _lock: lock,
        };
        storage.check_or_stamp_format()?;
        Ok(storage)
    }

    fn check_or_stamp_format(&self) -> Result<(), StorageError> {
        let recorded = self
            .meta
            .get(tagged(STORAGE_FORMAT_META.as_bytes()))
            .map_err(|e| engine_error("read storage format", e))?;
        let empty = || -> Result<bool, StorageError> {
            let data = self
                .data
                .is_empty()
                .map_err(|e| engine_error("read storage format", e))?;
            let meta = self
                .meta
                .is_empty()
                .map_err(|e| engine_error("read storage format", e))?;
            Ok(data && meta)
        };
        match format_action(recorded.as_deref(), empty)? {
            FormatAction::Accept => Ok(()),
            FormatAction::Stamp => {
                self.meta
                    .insert(
                        tagged(STORAGE_FORMAT_META.as_bytes()),
                        [STORAGE_FORMAT_VERSION],
                    )
                    .map_err(|e| engine_error("write storage format", e))?;
                self.sync()
            }
        }
    }

    /// The stripe lock of `key`. A poisoned stripe (a closure panicked while holding it) is
    /// still usable: it guards no data of its own, and the record it protected was either
    /// written whole or not at all.
    fn stripe(&self, key: &[u8]) -> MutexGuard<'_, ()> {
        let index = (self.hasher.hash_one(key) % LOCK_STRIPES as u64) as usize;
        self.stripes[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `key` as stored: behind [`KEY_TAG`].
fn tagged(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(KEY_TAG);
    out.extend_from_slice(key);
    out
}

/// `key` as stored, for a write: refuses what fjall cannot store.
fn tagged_for_write(op: &'static str, key: &[u8], record: &[u8]) -> Result<Vec<u8>, StorageError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::Engine {
            op,
            message: format!(
                "a key of {} bytes is longer than the fjall engine's limit of {MAX_KEY_BYTES}",
                key.len()
            ),
        });
    }
    if u32::try_from(record.len()).is_err() {
        return Err(StorageError::Engine {
            op,
            message: format!(
                "a record of {} bytes is larger than the fjall engine's limit of 4 GiB",
                record.len()
            ),
        });
    }
    Ok(tagged(key))
}

/// A stored key without its [`KEY_TAG`]; a key without it was not written by this engine.
fn untagged(stored: &[u8]) -> Result<&[u8], StorageError> {
    match stored.split_first() {
        Some((&KEY_TAG, key)) => Ok(key),
        _ => Err(StorageError::Corrupt {
            what: format!("fjall data key {stored:02x?} does not start with the engine's key tag"),
        }),
    }
}

/// Takes the exclusive lock of a store directory, or says who holds it.
fn lock_dir(dir: &Path) -> Result<Flock<File>, StorageError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io("open lock file", &e))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| StorageError::Io {
        op: "lock store",
        message: match errno {
            nix::errno::Errno::EWOULDBLOCK => format!(
                "{} is locked by another process (is another node running on this data_dir?)",
                path.display()
            ),
            other => format!("{}: {other}", path.display()),
        },
    })
}

impl Storage for FjallStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(None); // could never have been written
        }
        let record = self
            .data
            .get(tagged(key))
            .map_err(|e| engine_error("get", e))?;
        Ok(record.map(|r| r.to_vec()))
    }

    /// Read, run `f` once, write — all under the key's stripe lock.
    ///
    /// Why a lock is enough for atomicity: every write to the data partition goes through this
    /// struct's `update` and `remove_if` (the partition handle is private, and `put_meta` writes
    /// only the meta partition), and both take the key's stripe first. So between this call's
    /// read and its write no other writer can change the key; readers never block and see the
    /// record before or after, each a whole record. The directory lock keeps other processes
    /// out. Unlike sled's compare-and-swap loop, `f` runs exactly once and never loses a race,
    /// so [`StorageError::Contention`] cannot happen here.
    ///
    /// `f` must not call back into this store: the stripe is not re-entrant.
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>, StorageError> {
        let _stripe = self.stripe(key);
        let current = self.get(key)?;
        let Some(record) = f(current.as_deref())? else {
            return Ok(current);
        };
        let stored = tagged_for_write("update", key, &record)?;
        self.data
            .insert(stored, record.as_slice())
            .map_err(|e| engine_error("update", e))?;
        Ok(Some(record))
    }

    /// Compare and delete under the key's stripe lock (see [`FjallStorage::update`]).
    fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
        let _stripe = self.stripe(key);
        if self.get(key)?.as_deref() != Some(expected) {
            return Ok(false);
        }
        self.data
            .remove(tagged(key))
            .map_err(|e| engine_error("remove", e))?;
        Ok(true)
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
        let lower = match scan_lower_bound(prefix, after) {
            Bound::Included(key) => Bound::Included(tagged(key)),
            Bound::Excluded(key) => Bound::Excluded(tagged(key)),
            Bound::Unbounded => Bound::Unbounded,
        };
        for entry in self.data.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (stored, record) = entry.map_err(|e| engine_error("scan", e))?;
            let key = untagged(&stored)?;
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
        if name.len() > MAX_KEY_BYTES {
            return Ok(None); // could never have been written
        }
        let value = self
            .meta
            .get(tagged(name.as_bytes()))
            .map_err(|e| engine_error("get meta", e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        check_meta_name(name)?;
        let stored = tagged_for_write("put meta", name.as_bytes(), value)?;
        self.meta
            .insert(stored, value)
            .map_err(|e| engine_error("put meta", e))
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.keyspace
            .persist(PersistMode::SyncAll)
            .map_err(|e| engine_error("sync", e))
    }

    /// fjall's own account of its journals and segment files (no directory walk).
    fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.keyspace.disk_space())
    }
}

/// Translates a fjall error, keeping I/O and corruption distinguishable for the caller.
fn engine_error(op: &'static str, err: ::fjall::Error) -> StorageError {
    use ::fjall::Error as F;
    use ::fjall::LsmError as L;
    let corrupt = |what: String| StorageError::Corrupt {
        what: format!("fjall reported corruption during {op}: {what}"),
    };
    match err {
        F::Io(io) | F::Storage(L::Io(io)) => StorageError::io(op, &io),
        // fjall poisons the keyspace when a journal write or fsync fails (the I/O error itself
        // is only logged): from then on nothing is durable, and every write says so.
        F::Poisoned => StorageError::Io {
            op,
            message: "an earlier write or fsync of the journal failed; the store refuses \
                      further writes until the node restarts"
                .to_owned(),
        },
        F::JournalRecovery(e) => corrupt(format!("journal recovery: {e}")),
        F::Decode(e) => corrupt(format!("undecodable metadata: {e}")),
        F::Storage(
            e @ (L::Decode(_) | L::Decompress(_) | L::InvalidChecksum(_) | L::Unrecoverable),
        ) => corrupt(format!("{e:?}")),
        other => StorageError::Engine {
            op,
            message: format!("{other:?}"),
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
        let storage = FjallStorage::open(dir.path()).unwrap();
        Fixture::new(Arc::new(storage), dir)
    }

    crate::storage::conformance::conformance_tests!(fixture);

    #[test]
    fn new_store_is_stamped_with_the_format_version() {
        let dir = tempfile::tempdir().unwrap();
        let s = FjallStorage::open(dir.path()).unwrap();
        assert_eq!(
            s.get_meta(STORAGE_FORMAT_META).unwrap(),
            Some(vec![STORAGE_FORMAT_VERSION])
        );
    }

    #[test]
    fn reopen_returns_what_was_synced() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = FjallStorage::open(dir.path()).unwrap();
            s.update(b"k", &mut |_| Ok(Some(b"v1".to_vec()))).unwrap();
            s.update(b"gone", &mut |_| Ok(Some(b"x".to_vec()))).unwrap();
            assert!(s.remove_if(b"gone", b"x").unwrap());
            s.put_meta("node_id", b"n1").unwrap();
            s.sync().unwrap();
        }
        let s = FjallStorage::open(dir.path()).unwrap();
        assert_eq!(s.get(b"k").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(s.get(b"gone").unwrap(), None);
        assert_eq!(s.get_meta("node_id").unwrap(), Some(b"n1".to_vec()));
        assert!(s.size_on_disk().unwrap() > 0);
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = FjallStorage::open(dir.path()).unwrap();
        let err = FjallStorage::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StorageError::Io { message, .. } if message.contains("locked")),
            "{err:?}"
        );
        drop(first);
        FjallStorage::open(dir.path()).unwrap();
    }

    /// Writes an arbitrary format record the way a different build would have.
    fn tamper_format(dir: &Path, value: &[u8]) {
        let keyspace = Config::new(dir).open().unwrap();
        let meta = keyspace
            .open_partition(META_PARTITION, PartitionCreateOptions::default())
            .unwrap();
        meta.insert(tagged(STORAGE_FORMAT_META.as_bytes()), value)
            .unwrap();
        keyspace.persist(PersistMode::SyncAll).unwrap();
    }

    #[test]
    fn unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(FjallStorage::open(dir.path()).unwrap());
        tamper_format(dir.path(), &[2]);
        assert_eq!(
            FjallStorage::open(dir.path()).unwrap_err(),
            StorageError::UnknownFormat {
                found: 2,
                supported: STORAGE_FORMAT_VERSION
            }
        );
    }

    #[test]
    fn malformed_format_record_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        drop(FjallStorage::open(dir.path()).unwrap());
        tamper_format(dir.path(), &[1, 0]);
        assert!(matches!(
            FjallStorage::open(dir.path()).unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }

    #[test]
    fn records_without_a_format_record_are_corruption() {
        let dir = tempfile::tempdir().unwrap();
        {
            let keyspace = Config::new(dir.path()).open().unwrap();
            let data = keyspace
                .open_partition(DATA_PARTITION, PartitionCreateOptions::default())
                .unwrap();
            data.insert(tagged(b"k"), b"v").unwrap();
            keyspace.persist(PersistMode::SyncAll).unwrap();
        }
        assert!(matches!(
            FjallStorage::open(dir.path()).unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }

    #[test]
    fn keys_fjall_cannot_hold_are_refused_without_harm() {
        let dir = tempfile::tempdir().unwrap();
        let s = FjallStorage::open(dir.path()).unwrap();
        let longest = vec![b'k'; MAX_KEY_BYTES];
        let too_long = vec![b'k'; MAX_KEY_BYTES + 1];
        s.update(&longest, &mut |_| Ok(Some(b"v".to_vec())))
            .unwrap();
        assert!(matches!(
            s.update(&too_long, &mut |_| Ok(Some(b"v".to_vec()))),
            Err(StorageError::Engine { op: "update", .. })
        ));
        assert_eq!(s.get(&too_long).unwrap(), None);
        assert!(!s.remove_if(&too_long, b"v").unwrap());
        // The empty key is a key like any other.
        s.update(b"", &mut |_| Ok(Some(b"empty".to_vec()))).unwrap();
        s.sync().unwrap();
        drop(s);
        let s = FjallStorage::open(dir.path()).unwrap();
        assert_eq!(s.get(&longest).unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.get(b"").unwrap(), Some(b"empty".to_vec()));
        assert_eq!(
            s.scan_prefix(b"", None, 10).unwrap(),
            vec![(Vec::new(), b"empty".to_vec()), (longest, b"v".to_vec())]
        );
    }

    #[test]
    fn options_fjall_would_panic_on_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for options in [
            FjallOptions {
                max_journal_bytes: 1024 * 1024,
                ..FjallOptions::default()
            },
            FjallOptions {
                max_write_buffer_bytes: 1024,
                ..FjallOptions::default()
            },
        ] {
            assert!(matches!(
                FjallStorage::open_with(dir.path(), &options).unwrap_err(),
                StorageError::Engine { op: "open", .. }
            ));
        }
    }

    #[test]
    fn custom_options_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let options = FjallOptions {
            cache_size_bytes: 1024 * 1024,
            max_write_buffer_bytes: MIN_WRITE_BUFFER_BYTES,
            max_journal_bytes: MIN_JOURNAL_BYTES,
            max_memtable_bytes: 256 * 1024,
        };
        let s = FjallStorage::open_with(dir.path(), &options).unwrap();
        // Enough data to seal and flush several small memtables into segment files.
        let record = vec![7u8; 1024];
        for i in 0u32..2_000 {
            s.update(&i.to_be_bytes(), &mut |_| Ok(Some(record.clone())))
                .unwrap();
        }
        s.sync().unwrap();
        assert_eq!(s.scan_prefix(b"", None, usize::MAX).unwrap().len(), 2_000);
        assert_eq!(s.get(&1_999u32.to_be_bytes()).unwrap(), Some(record));
    }
}
