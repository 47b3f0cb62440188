//! Sealed records: every record any caller stores carries a checksum, whatever the engine.
//!
//! [`SealedStorage`] wraps an engine (`Arc<dyn Storage>`) and stores each record as
//! `[SEAL_VERSION][record hash, u64 big-endian][payload]` ([`seal`]). The record hash is XXH3-64
//! of the stored key followed by the payload ([`record_hash`]). Binding the key in means a record
//! written — or moved by a damaged engine — under the wrong key is caught as well as a flipped
//! bit. Every read opens the envelope and checks the hash ([`open`]): a record that fails is
//! [`StorageError::CorruptRecord`], counted, logged, reported to the [`RecordObserver`], and never
//! handed to a caller as data. Engines checksum their own blocks to varying degrees; sealing at
//! this layer gives the same end-to-end guarantee on every engine and covers bugs above the
//! engine's block format too.
//!
//! The record hash doubles as anti-entropy's leaf hash, which is why it is a pure function of
//! `(key, payload)`: two replicas holding the same record compute the same hash without
//! exchanging it. The observer is told of every change as `(key, hash before, hash after)` —
//! exactly the update an XOR (TicTac) tree needs to follow the store without re-reading it.
//!
//! What the wrapper does with each kind of record:
//! - **Data records** (every key of the data keyspace, hints included): sealed on write, opened
//!   on read. A corrupt record fails a `get` or an `update` (the key is left as it is) and is
//!   skipped by a scan, so a background walk over a partition keeps going past one bad record.
//! - **Metadata records** are sealed too, with the metadata name as the key. A corrupt one is an
//!   error for the caller (it is never skipped: node identity or layout cannot be guessed) and is
//!   counted and logged, but not reported to the observer: metadata is not replicated data, so
//!   there is nothing for anti-entropy to repair.
//! - **Format markers** ([`STORAGE_FORMAT_META`], [`RECORD_FORMAT_META`]) are stored bare (one
//!   version byte): a marker that says how records are laid out must be readable before the layout
//!   is known. Reads pass through; writes are refused with [`StorageError::ReservedMeta`].
//!
//! Scan paging rule: a scan returns only records that pass their check and still fills the page
//! to `limit` by reading past corrupt ones, so — exactly as with a bare engine — a page shorter
//! than `limit` means the prefix is exhausted, and the caller continues from the last key it was
//! given. The wrapper never reads past the last key it returns (each raw read asks for no more
//! entries than the page still lacks), so no record is skipped by a page boundary and each
//! corrupt record is reported once per pass.
//!
//! Migration: a store written before sealing existed (no [`RECORD_FORMAT_META`] record) is sealed
//! in place the first time it is wrapped — every data record, page by page, and the metadata
//! records earlier builds wrote ([`LEGACY_META`]; the trait cannot list metadata) — then synced,
//! and only then stamped with `RECORD_FORMAT_META = [SEAL_VERSION]` (and synced again). A crash
//! part-way leaves the store unstamped, and the next wrap resumes: a record that already opens
//! under its key is left as it is, so nothing is sealed twice. (An unsealed record that happens
//! to be a valid seal of itself would need a 64-bit hash collision.) Unsealed records carry no
//! checksum, so migration cannot judge them corrupt: it seals what it finds. Migration does not
//! report changes to the observer — the anti-entropy trees are built from the store after it is
//! wrapped.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use xxhash_rust::xxh3::Xxh3Default;

use super::{KeyRecord, Storage, StorageError, UpdateFn, STORAGE_FORMAT_META};

/// Envelope version byte of a sealed record.
pub const SEAL_VERSION: u8 = 1;

/// Header length: version byte + 8-byte checksum.
pub const SEAL_HEADER_LEN: usize = 9;

/// The metadata record that says the store's records are sealed, and with which envelope
/// version: one bare byte, [`SEAL_VERSION`]. Reserved: [`SealedStorage`] refuses to write it.
pub const RECORD_FORMAT_META: &str = "record_format";

/// Metadata names that builds from before sealing wrote (unsealed), sealed in place by the
/// migration. Frozen: a name introduced after sealing is always written sealed, so it never needs
/// migrating and must not be added here.
pub const LEGACY_META: &[&str] = &["node_id", "layout", "namespace_catalog"];

/// Records read per page while migrating an unsealed store.
const MIGRATE_PAGE: usize = 1024;

/// The record's checksum: XXH3-64 (seed 0) over (stored key ‖ payload).
///
/// Anti-entropy uses this value as the key's leaf hash, so it is a pure function of
/// `(key, payload)`. The key's length is not hashed in: a record is always checked under the key
/// it was looked up by, so a record moved to another key fails unless its payload also shifted by
/// exactly the difference — not a way storage fails.
pub fn record_hash(key: &[u8], payload: &[u8]) -> u64 {
    // Streaming equals one-shot XXH3 over the concatenation, without building it.
    let mut hasher = Xxh3Default::new();
    hasher.update(key);
    hasher.update(payload);
    hasher.digest()
}

/// `[SEAL_VERSION][record_hash as u64 big-endian][payload]`.
pub fn seal(key: &[u8], payload: &[u8]) -> Vec<u8> {
    seal_hashed(record_hash(key, payload), payload)
}

/// [`seal`] with the record hash already computed.
fn seal_hashed(hash: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL_HEADER_LEN + payload.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&hash.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Verifies and strips the envelope; a wrong version, short record or checksum mismatch is
/// [`StorageError::CorruptRecord`] naming `key` (the stored key bytes).
pub fn open<'a>(key: &[u8], sealed: &'a [u8]) -> Result<&'a [u8], StorageError> {
    verify(key, sealed).map(|(_, payload)| payload)
}

/// The checksum written in a sealed record's header, without verifying the payload (None if the
/// record is too short to hold a header).
///
/// The version byte is deliberately not checked: this build writes only [`SEAL_VERSION`] and
/// refuses stores of any other, so a different byte there can only be damage to that one byte,
/// and the checksum beside it is still the one the record was written with — the value an
/// anti-entropy tree counted for the key and must take out again when the record is removed.
pub fn header_hash(sealed: &[u8]) -> Option<u64> {
    let (_version, rest) = sealed.split_first()?;
    rest.first_chunk::<8>()
        .map(|hash| u64::from_be_bytes(*hash))
}

/// [`open`], also returning the (verified) record hash.
fn verify<'a>(key: &[u8], sealed: &'a [u8]) -> Result<(u64, &'a [u8]), StorageError> {
    let corrupt = |reason: String| StorageError::CorruptRecord {
        key: key.to_vec(),
        reason,
    };
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(corrupt("empty record".to_owned()));
    };
    let Some((hash, payload)) = rest.split_first_chunk::<8>() else {
        return Err(corrupt(format!(
            "record of {} bytes is shorter than the {SEAL_HEADER_LEN}-byte envelope header",
            sealed.len()
        )));
    };
    if version != SEAL_VERSION {
        return Err(corrupt(format!(
            "envelope version {version}, expected {SEAL_VERSION}"
        )));
    }
    let stored = u64::from_be_bytes(*hash);
    let actual = record_hash(key, payload);
    if stored != actual {
        return Err(corrupt(format!(
            "checksum {actual:016x} of the {}-byte payload does not match the stored {stored:016x}",
            payload.len()
        )));
    }
    Ok((stored, payload))
}

/// The payload of a record [`verify`] accepted, reusing its buffer (no copy, no allocation).
fn into_payload(mut sealed: Vec<u8>) -> Vec<u8> {
    sealed.drain(..SEAL_HEADER_LEN.min(sealed.len()));
    sealed
}

/// Told about every change the wrapper makes and every corrupt record it meets.
///
/// Calls are made on the thread that made the storage call, after the engine call returned (never
/// under an engine lock), so an observer may read the store; it should be quick, since the
/// caller waits for it.
pub trait RecordObserver: Send + Sync + 'static {
    /// A record changed: `before`/`after` are the record hashes (header checksums) of the old and
    /// new record, None = absent. Called once per effective change (update, remove_if,
    /// quarantine), after the engine call returned, with exactly the `(before, after)` pair that
    /// took effect. Not called when nothing changed (an update that kept or rewrote the record
    /// as it was, a refused remove).
    fn changed(&self, key: &[u8], before: Option<u64>, after: Option<u64>);

    /// A stored data record failed its check (on get, update or scan). Called every time one is
    /// met. (Corrupt metadata records are the caller's error, not reported here.)
    fn corrupt(&self, key: &[u8], error: &StorageError);
}

/// An observer that does nothing (tests, tools).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl RecordObserver for NoObserver {
    fn changed(&self, _key: &[u8], _before: Option<u64>, _after: Option<u64>) {}
    fn corrupt(&self, _key: &[u8], _error: &StorageError) {}
}

/// A [`Storage`] whose records all carry a checksum. See the module docs.
pub struct SealedStorage {
    inner: Arc<dyn Storage>,
    observer: Arc<dyn RecordObserver>,
    corrupt: AtomicU64,
}

impl fmt::Debug for SealedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedStorage")
            .field("corrupt_count", &self.corrupt_count())
            .finish_non_exhaustive()
    }
}

/// What the last run of an update closure decided.
enum Outcome {
    /// Left the key as it was.
    Kept,
    /// Wrote `payload` (sealed), changing the record hash from `before` to `after`.
    Wrote {
        before: Option<u64>,
        after: u64,
        payload: Vec<u8>,
    },
}

impl SealedStorage {
    /// Wraps `inner`. If the store holds records written before sealing existed (no
    /// [`RECORD_FORMAT_META`] record), seals every existing record in place first (see the module
    /// docs), then stamps it. A store whose `RECORD_FORMAT_META` names another version is refused
    /// with [`StorageError::UnknownFormat`]; a malformed one is [`StorageError::Corrupt`].
    pub fn new(
        inner: Arc<dyn Storage>,
        observer: Arc<dyn RecordObserver>,
    ) -> Result<Self, StorageError> {
        let storage = SealedStorage {
            inner,
            observer,
            corrupt: AtomicU64::new(0),
        };
        match storage.inner.get_meta(RECORD_FORMAT_META)?.as_deref() {
            Some([SEAL_VERSION]) => {}
            Some([found]) => {
                return Err(StorageError::UnknownFormat {
                    found: *found,
                    supported: SEAL_VERSION,
                })
            }
            Some(other) => {
                return Err(StorageError::Corrupt {
                    what: format!(
                        "{RECORD_FORMAT_META} record is {} bytes long, expected 1",
                        other.len()
                    ),
                })
            }
            None => storage.migrate()?,
        }
        Ok(storage)
    }

    /// Seals every record of a store written before sealing existed (resuming an interrupted
    /// run), syncs, then stamps the store. On a new, empty store this is one empty scan.
    fn migrate(&self) -> Result<(), StorageError> {
        let mut sealed = 0u64;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .inner
                .scan_prefix(&[], after.as_deref(), MIGRATE_PAGE)?;
            let full = page.len() == MIGRATE_PAGE;
            for (key, _) in &page {
                let mut changed = false;
                self.inner.update(key, &mut |current| {
                    changed = false;
                    let Some(raw) = current else {
                        return Ok(None);
                    };
                    if open(key, raw).is_ok() {
                        return Ok(None); // sealed by an earlier, interrupted migration
                    }
                    changed = true;
                    Ok(Some(seal(key, raw)))
                })?;
                sealed += u64::from(changed);
            }
            after = page.into_iter().next_back().map(|(key, _)| key);
            if !full {
                break;
            }
        }
        for name in LEGACY_META {
            if let Some(raw) = self.inner.get_meta(name)? {
                if open(name.as_bytes(), &raw).is_err() {
                    self.inner.put_meta(name, &seal(name.as_bytes(), &raw))?;
                    sealed += 1;
                }
            }
        }
        // The stamp must not reach the disk before the records it vouches for.
        self.inner.sync()?;
        self.inner.put_meta(RECORD_FORMAT_META, &[SEAL_VERSION])?;
        self.inner.sync()?;
        if sealed > 0 {
            tracing::info!(
                records = sealed,
                "sealed the records of a store written before records carried checksums"
            );
        }
        Ok(())
    }

    /// Counts, logs and reports a corrupt data record.
    fn met_corrupt(&self, key: &[u8], error: &StorageError) {
        self.corrupt.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            key = %key.escape_ascii(),
            error = %error,
            "corrupt record not served; anti-entropy repairs it from the other replicas"
        );
        self.observer.corrupt(key, error);
    }

    /// Removes the record under `key` if it is corrupt and its stored bytes are still exactly the
    /// corrupt bytes read here (compare-and-delete on the raw record), so a repair can replace it.
    /// Returns whether it removed: false for a missing key, a record that passes its check (a
    /// repair got there first) or one that changed meanwhile.
    ///
    /// When it removed, tells the observer `changed(key, header_hash(raw), None)`: the hash the
    /// record was written with, which is what a tree counted for it. Quarantine does not report the
    /// record as corrupt again — it acts on such a report.
    pub fn quarantine(&self, key: &[u8]) -> Result<bool, StorageError> {
        let Some(raw) = self.inner.get(key)? else {
            return Ok(false);
        };
        if open(key, &raw).is_ok() {
            return Ok(false);
        }
        let removed = self.inner.remove_if(key, &raw)?;
        if removed {
            tracing::warn!(
                key = %key.escape_ascii(),
                "corrupt record removed, to be repaired from the other replicas"
            );
            self.observer.changed(key, header_hash(&raw), None);
        }
        Ok(removed)
    }

    /// Every `(key, record hash)` under `prefix` strictly after `after`, at most `limit`, without
    /// copying payloads out but verifying every checksum: corrupt records are reported to the
    /// observer and skipped, with the same paging rule as [`Storage::scan_prefix`] (a short page
    /// means the prefix is exhausted). Anti-entropy rebuilds its trees with this.
    pub fn scan_hashes(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, u64)>, StorageError> {
        self.scan_verified(prefix, after, limit, |key, hash, _raw| (key, hash))
    }

    /// The number of corrupt records met since start (for the metric): every failed check on a
    /// get, update or scan, data or metadata, counts once each time it is met.
    pub fn corrupt_count(&self) -> u64 {
        self.corrupt.load(Ordering::Relaxed)
    }

    /// Damages the record under `key` through the engine, behind the wrapper's back, as a failing
    /// disk would: flips the last payload byte (a checksum byte when the payload is empty). Exists
    /// for fault-injection tests only (`DEBUG DAMAGE-RECORD`) — the observer is not told, exactly
    /// as it would not be of real damage. Returns whether there was a record.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn damage_record(&self, key: &[u8]) -> Result<bool, StorageError> {
        let mut found = false;
        self.inner.update(key, &mut |current| {
            found = current.is_some();
            Ok(current.map(|raw| {
                let mut damaged = raw.to_vec();
                if let Some(last) = damaged.last_mut() {
                    *last ^= 0x5a;
                } else {
                    damaged.push(0x5a); // an empty record: the engine lost the whole envelope
                }
                damaged
            }))
        })?;
        Ok(found)
    }

    /// The records under `prefix` that pass their check, mapped by `keep(key, hash, raw)`;
    /// corrupt ones are reported and skipped. Implements the paging rule of the module docs: raw
    /// reads ask for exactly the entries the page still lacks, so nothing past the last returned
    /// key is consumed, and keep going while a raw read came back full.
    fn scan_verified<T>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        mut keep: impl FnMut(Vec<u8>, u64, Vec<u8>) -> T,
    ) -> Result<Vec<T>, StorageError> {
        let mut out = Vec::new();
        let mut from: Option<Vec<u8>> = None;
        while out.len() < limit {
            let want = limit - out.len();
            let page = self
                .inner
                .scan_prefix(prefix, from.as_deref().or(after), want)?;
            let full = page.len() == want;
            let mut last = None;
            for (key, raw) in page {
                match verify(&key, &raw) {
                    Ok((hash, _)) => {
                        last = Some(key.clone());
                        out.push(keep(key, hash, raw));
                    }
                    Err(e) => {
                        self.met_corrupt(&key, &e);
                        last = Some(key);
                    }
                }
            }
            if !full {
                break;
            }
            from = last;
        }
        Ok(out)
    }

    fn is_format_marker(name: &str) -> bool {
        name == STORAGE_FORMAT_META || name == RECORD_FORMAT_META
    }
}

impl Storage for SealedStorage {
    /// The record's payload; a corrupt record is reported and is
    /// [`StorageError::CorruptRecord`], never its bytes.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(raw) = self.inner.get(key)? else {
            return Ok(None);
        };
        match verify(key, &raw) {
            Ok(_) => Ok(Some(into_payload(raw))),
            Err(e) => {
                self.met_corrupt(key, &e);
                Err(e)
            }
        }
    }

    /// `f` sees the opened payload and its result is sealed. A corrupt current record is reported
    /// and fails the update with [`StorageError::CorruptRecord`] before `f` runs, leaving the key
    /// as it is (a merge into damaged bytes would make the damage permanent).
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>, StorageError> {
        // The engine may run the closure more than once (compare-and-swap retry); only the last
        // run's decision took effect, so each run starts from a clean slate.
        let mut outcome = Outcome::Kept;
        let mut corrupt: Option<StorageError> = None;
        let result = self.inner.update(key, &mut |current| {
            outcome = Outcome::Kept;
            corrupt = None;
            let (before, payload) = match current {
                None => (None, None),
                Some(raw) => match verify(key, raw) {
                    Ok((hash, payload)) => (Some(hash), Some(payload)),
                    Err(e) => {
                        corrupt = Some(e.clone());
                        return Err(e);
                    }
                },
            };
            let Some(next) = f(payload)? else {
                return Ok(None);
            };
            let after = record_hash(key, &next);
            let sealed = seal_hashed(after, &next);
            outcome = Outcome::Wrote {
                before,
                after,
                payload: next,
            };
            Ok(Some(sealed))
        });
        let stored = match result {
            Ok(stored) => stored,
            Err(e) => {
                // Reported here rather than in the closure: once per call, outside engine locks.
                if let Some(met) = &corrupt {
                    self.met_corrupt(key, met);
                }
                return Err(e);
            }
        };
        match outcome {
            Outcome::Wrote {
                before,
                after,
                payload,
            } => {
                if before != Some(after) {
                    self.observer.changed(key, before, Some(after));
                }
                Ok(Some(payload))
            }
            // The engine hands back the record the last run saw, which that run verified.
            Outcome::Kept => Ok(stored.map(into_payload)),
        }
    }

    /// Removes the key only if its stored payload is exactly `expected`: the sealed form of
    /// `expected` is compared with the stored bytes, so a corrupt record is never removed here
    /// (that is [`SealedStorage::quarantine`]'s job).
    fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
        let hash = record_hash(key, expected);
        let removed = self.inner.remove_if(key, &seal_hashed(hash, expected))?;
        if removed {
            self.observer.changed(key, Some(hash), None);
        }
        Ok(removed)
    }

    /// Opened records; corrupt ones are reported and skipped, and the page is still filled (see
    /// the paging rule in the module docs).
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StorageError> {
        self.scan_verified(prefix, after, limit, |key, _hash, raw| {
            (key, into_payload(raw))
        })
    }

    /// A sealed metadata record, opened; a corrupt one is counted, logged and returned as
    /// [`StorageError::CorruptRecord`] (key = the name). Format markers are read bare.
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let raw = self.inner.get_meta(name)?;
        if Self::is_format_marker(name) {
            return Ok(raw);
        }
        let Some(raw) = raw else {
            return Ok(None);
        };
        match verify(name.as_bytes(), &raw) {
            Ok(_) => Ok(Some(into_payload(raw))),
            Err(e) => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                tracing::error!(meta = name, error = %e, "corrupt metadata record");
                Err(e)
            }
        }
    }

    /// Seals `value` under the name. Refuses the format markers with
    /// [`StorageError::ReservedMeta`].
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        if Self::is_format_marker(name) {
            return Err(StorageError::ReservedMeta {
                name: name.to_owned(),
            });
        }
        self.inner.put_meta(name, &seal(name.as_bytes(), value))
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.inner.sync()
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.inner.size_on_disk()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::{MemStorage, SledStorage};
    use std::sync::Mutex;

    /// Everything an observer was told, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Changed(Vec<u8>, Option<u64>, Option<u64>),
        Corrupt(Vec<u8>),
    }

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<Event>>,
    }

    impl Recorder {
        fn take(&self) -> Vec<Event> {
            std::mem::take(&mut *self.events.lock().unwrap())
        }
    }

    impl RecordObserver for Recorder {
        fn changed(&self, key: &[u8], before: Option<u64>, after: Option<u64>) {
            let event = Event::Changed(key.to_vec(), before, after);
            self.events.lock().unwrap().push(event);
        }
        fn corrupt(&self, key: &[u8], error: &StorageError) {
            assert!(
                matches!(error, StorageError::CorruptRecord { key: k, .. } if k == key),
                "reported error names another key: {error}"
            );
            self.events
                .lock()
                .unwrap()
                .push(Event::Corrupt(key.to_vec()));
        }
    }

    /// A sealed store over a memory engine, with the engine and the observer's record at hand.
    fn sealed_mem() -> (Arc<MemStorage>, Arc<Recorder>, SealedStorage) {
        let inner = Arc::new(MemStorage::new());
        let recorder = Arc::new(Recorder::default());
        let sealed = SealedStorage::new(inner.clone(), recorder.clone()).unwrap();
        (inner, recorder, sealed)
    }

    fn put(s: &dyn Storage, key: &[u8], payload: &[u8]) {
        s.update(key, &mut |_| Ok(Some(payload.to_vec()))).unwrap();
    }

    /// Overwrites the raw record under `key` through the engine, as damage would.
    fn put_raw(inner: &dyn Storage, key: &[u8], raw: &[u8]) {
        put(inner, key, raw);
    }

    fn h(key: &[u8], payload: &[u8]) -> Option<u64> {
        Some(record_hash(key, payload))
    }

    fn corrupt(key: &[u8]) -> Event {
        Event::Corrupt(key.to_vec())
    }

    fn changed(key: &[u8], before: Option<u64>, after: Option<u64>) -> Event {
        Event::Changed(key.to_vec(), before, after)
    }

    mod on_mem {
        use super::*;
        use crate::storage::conformance::Fixture;

        fn fixture() -> Fixture {
            let inner = Arc::new(MemStorage::new());
            let sealed = SealedStorage::new(inner, Arc::new(NoObserver)).unwrap();
            Fixture::new(Arc::new(sealed), ())
        }

        crate::storage::conformance::conformance_tests!(fixture);
    }

    mod on_sled {
        use super::*;
        use crate::storage::conformance::Fixture;

        fn fixture() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let inner = Arc::new(SledStorage::open(dir.path()).unwrap());
            let sealed = SealedStorage::new(inner, Arc::new(NoObserver)).unwrap();
            Fixture::new(Arc::new(sealed), dir)
        }

        crate::storage::conformance::conformance_tests!(fixture);
    }

    #[test]
    fn the_envelope_is_version_then_big_endian_hash_then_payload() {
        let sealed = seal(b"key", b"payload");
        let hash = xxhash_rust::xxh3::xxh3_64(b"keypayload");
        assert_eq!(record_hash(b"key", b"payload"), hash);
        let mut expected = vec![SEAL_VERSION];
        expected.extend_from_slice(&hash.to_be_bytes());
        expected.extend_from_slice(b"payload");
        assert_eq!(sealed, expected);
        assert_eq!(sealed.len(), SEAL_HEADER_LEN + 7);
        assert_eq!(open(b"key", &sealed), Ok(&b"payload"[..]));
        assert_eq!(header_hash(&sealed), Some(hash));
    }

    #[test]
    fn an_empty_payload_round_trips() {
        let sealed = seal(b"", b"");
        assert_eq!(sealed.len(), SEAL_HEADER_LEN);
        assert_eq!(open(b"", &sealed), Ok(&b""[..]));
    }

    #[test]
    fn every_defect_is_a_corrupt_record_naming_the_key() {
        let good = seal(b"k", b"payload");
        let mut payload_flip = good.clone();
        payload_flip[SEAL_HEADER_LEN + 2] ^= 1;
        let mut hash_flip = good.clone();
        hash_flip[3] ^= 0x80;
        let mut version_flip = good.clone();
        version_flip[0] = 2;
        let defects: Vec<(&str, Vec<u8>, &[u8])> = vec![
            ("payload bit", payload_flip, b"k"),
            ("checksum bit", hash_flip, b"k"),
            ("version", version_flip, b"k"),
            ("truncated payload", good[..good.len() - 1].to_vec(), b"k"),
            (
                "truncated header",
                good[..SEAL_HEADER_LEN - 1].to_vec(),
                b"k",
            ),
            ("empty", Vec::new(), b"k"),
            ("other key", good.clone(), b"k2"),
        ];
        for (what, raw, key) in defects {
            match open(key, &raw) {
                Err(StorageError::CorruptRecord { key: k, reason }) => {
                    assert_eq!(k, key, "{what}");
                    assert!(!reason.is_empty(), "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn header_hash_reads_the_written_checksum_unless_the_header_is_cut() {
        let good = seal(b"k", b"v");
        let written = record_hash(b"k", b"v");
        let mut payload_flip = good.clone();
        payload_flip[SEAL_HEADER_LEN] ^= 1;
        let mut version_flip = good.clone();
        version_flip[0] ^= 0xff;
        assert_eq!(header_hash(&payload_flip), Some(written));
        assert_eq!(header_hash(&version_flip), Some(written));
        assert_eq!(header_hash(&good[..SEAL_HEADER_LEN]), Some(written));
        assert_eq!(header_hash(&good[..SEAL_HEADER_LEN - 1]), None);
        assert_eq!(header_hash(&[]), None);
    }

    #[test]
    fn records_and_metadata_are_stored_sealed() {
        let (inner, _, s) = sealed_mem();
        put(&s, b"k", b"v");
        s.put_meta("layout", b"epoch 1").unwrap();
        assert_eq!(inner.get(b"k").unwrap(), Some(seal(b"k", b"v")));
        assert_eq!(
            inner.get_meta("layout").unwrap(),
            Some(seal(b"layout", b"epoch 1"))
        );
        assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.get_meta("layout").unwrap(), Some(b"epoch 1".to_vec()));
    }

    /// The kinds of damage a record can suffer, applied through the engine to the record of
    /// `key` (whose payload is `payload`).
    fn damage_kinds(key: &[u8], payload: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let good = seal(key, payload);
        let mut payload_flip = good.clone();
        payload_flip[SEAL_HEADER_LEN] ^= 0x01;
        let mut header_flip = good.clone();
        header_flip[5] ^= 0x10;
        let mut version_flip = good.clone();
        version_flip[0] = 7;
        vec![
            ("flipped payload byte", payload_flip),
            ("flipped checksum byte", header_flip),
            ("wrong version byte", version_flip),
            ("truncated payload", good[..good.len() - 2].to_vec()),
            ("truncated header", good[..4].to_vec()),
            // The healthy record of another key, copied over this one.
            ("record of another key", seal(b"p-other", payload)),
        ]
    }

    #[test]
    fn damage_is_detected_on_get_update_and_scan_and_reported() {
        for (what, raw) in damage_kinds(b"p-bad", b"precious value") {
            let (inner, recorder, s) = sealed_mem();
            put(&s, b"p-a", b"a");
            put(&s, b"p-bad", b"precious value");
            put(&s, b"p-z", b"z");
            recorder.take();
            put_raw(inner.as_ref(), b"p-bad", &raw);

            // get: an error, never the bytes.
            assert!(
                matches!(s.get(b"p-bad"), Err(StorageError::CorruptRecord { ref key, .. }) if key == b"p-bad"),
                "{what}"
            );
            assert_eq!(recorder.take(), vec![corrupt(b"p-bad")], "{what}");

            // update: the closure never sees the damaged bytes and the key is left as it is.
            let mut ran = false;
            let result = s.update(b"p-bad", &mut |_| {
                ran = true;
                Ok(Some(b"merged".to_vec()))
            });
            assert!(
                matches!(result, Err(StorageError::CorruptRecord { ref key, .. }) if key == b"p-bad"),
                "{what}: {result:?}"
            );
            assert!(!ran, "{what}");
            assert_eq!(inner.get(b"p-bad").unwrap(), Some(raw.clone()), "{what}");
            assert_eq!(recorder.take(), vec![corrupt(b"p-bad")], "{what}");

            // remove_if by the old payload does not remove the damaged record.
            assert!(!s.remove_if(b"p-bad", b"precious value").unwrap(), "{what}");

            // scans: skipped, the rest still served.
            let scanned = s.scan_prefix(b"p-", None, 10).unwrap();
            assert_eq!(
                scanned,
                vec![
                    (b"p-a".to_vec(), b"a".to_vec()),
                    (b"p-z".to_vec(), b"z".to_vec())
                ],
                "{what}"
            );
            assert_eq!(recorder.take(), vec![corrupt(b"p-bad")], "{what}");
            let hashes = s.scan_hashes(b"p-", None, 10).unwrap();
            assert_eq!(
                hashes,
                vec![
                    (b"p-a".to_vec(), record_hash(b"p-a", b"a")),
                    (b"p-z".to_vec(), record_hash(b"p-z", b"z"))
                ],
                "{what}"
            );
            assert_eq!(recorder.take(), vec![corrupt(b"p-bad")], "{what}");
            assert_eq!(s.corrupt_count(), 4, "{what}");
        }
    }

    #[test]
    fn the_observer_sees_each_change_with_its_hashes() {
        let (_, recorder, s) = sealed_mem();
        put(&s, b"k", b"v1");
        put(&s, b"k", b"v2");
        // Kept and rejected updates, a rewrite of the same record, refused removes: no change.
        assert_eq!(
            s.update(b"k", &mut |_| Ok(None)).unwrap(),
            Some(b"v2".to_vec())
        );
        let refused = s.update(b"k", &mut |_| {
            Err(StorageError::Rejected {
                reason: "no".into(),
            })
        });
        assert!(matches!(refused, Err(StorageError::Rejected { .. })));
        put(&s, b"k", b"v2");
        assert!(!s.remove_if(b"k", b"v1").unwrap());
        assert!(!s.remove_if(b"absent", b"v1").unwrap());
        assert!(s.remove_if(b"k", b"v2").unwrap());
        assert_eq!(
            recorder.take(),
            vec![
                changed(b"k", None, h(b"k", b"v1")),
                changed(b"k", h(b"k", b"v1"), h(b"k", b"v2")),
                changed(b"k", h(b"k", b"v2"), None),
            ]
        );
        assert_eq!(s.corrupt_count(), 0);
    }

    #[test]
    fn an_update_whose_closure_ran_twice_reports_the_change_that_took_effect() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(SledStorage::open(dir.path()).unwrap());
        let recorder = Arc::new(Recorder::default());
        let s = SealedStorage::new(inner, recorder.clone()).unwrap();
        put(&s, b"k", b"base");
        recorder.take();

        let mut seen = Vec::new();
        let stored = s
            .update(b"k", &mut |cur| {
                seen.push(cur.map(<[u8]>::to_vec));
                if seen.len() == 1 {
                    // A concurrent writer wins the race: sled runs this closure again.
                    put(&s, b"k", b"winner");
                }
                let mut next = cur.unwrap_or_default().to_vec();
                next.extend_from_slice(b"+1");
                Ok(Some(next))
            })
            .unwrap();

        assert_eq!(seen, vec![Some(b"base".to_vec()), Some(b"winner".to_vec())]);
        assert_eq!(stored, Some(b"winner+1".to_vec()));
        assert_eq!(s.get(b"k").unwrap(), Some(b"winner+1".to_vec()));
        assert_eq!(
            recorder.take(),
            vec![
                changed(b"k", h(b"k", b"base"), h(b"k", b"winner")),
                changed(b"k", h(b"k", b"winner"), h(b"k", b"winner+1")),
            ]
        );
    }

    #[test]
    fn a_race_that_ends_in_no_change_reports_only_the_winner() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(SledStorage::open(dir.path()).unwrap());
        let recorder = Arc::new(Recorder::default());
        let s = SealedStorage::new(inner, recorder.clone()).unwrap();

        let mut runs = 0;
        let stored = s
            .update(b"k", &mut |cur| {
                runs += 1;
                if runs == 1 {
                    put(&s, b"k", b"winner");
                }
                // Insert if absent: the second run finds the winner's record and keeps it.
                Ok(cur.is_none().then(|| b"mine".to_vec()))
            })
            .unwrap();

        assert_eq!(runs, 2);
        assert_eq!(stored, Some(b"winner".to_vec()));
        assert_eq!(
            recorder.take(),
            vec![changed(b"k", None, h(b"k", b"winner"))]
        );
    }

    #[test]
    fn quarantine_removes_a_corrupt_record_and_untracks_its_written_hash() {
        let (inner, recorder, s) = sealed_mem();
        put(&s, b"k", b"value");
        put(&s, b"healthy", b"fine");
        assert!(s.damage_record(b"k").unwrap());
        recorder.take();

        assert!(!s.quarantine(b"healthy").unwrap());
        assert!(!s.quarantine(b"absent").unwrap());
        assert!(s.quarantine(b"k").unwrap());
        assert_eq!(inner.get(b"k").unwrap(), None);
        assert_eq!(s.get(b"healthy").unwrap(), Some(b"fine".to_vec()));
        assert_eq!(
            recorder.take(),
            vec![changed(b"k", h(b"k", b"value"), None)]
        );
        // The key can be written again (the repair).
        put(&s, b"k", b"value");
        assert_eq!(s.get(b"k").unwrap(), Some(b"value".to_vec()));
    }

    /// What [`Interleaved`] does to the engine just before the next compare-and-delete.
    type Hook = Box<dyn FnOnce(&MemStorage) + Send>;

    /// An engine that lets a test change a record between quarantine's read and its
    /// compare-and-delete.
    struct Interleaved {
        inner: MemStorage,
        before_remove: Mutex<Option<Hook>>,
    }

    impl Storage for Interleaved {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.get(key)
        }
        fn update(
            &self,
            key: &[u8],
            f: &mut UpdateFn<'_>,
        ) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.update(key, f)
        }
        fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
            let hook = self.before_remove.lock().unwrap().take();
            if let Some(hook) = hook {
                hook(&self.inner);
            }
            self.inner.remove_if(key, expected)
        }
        fn scan_prefix(
            &self,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<KeyRecord>, StorageError> {
            self.inner.scan_prefix(prefix, after, limit)
        }
        fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.get_meta(name)
        }
        fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
            self.inner.put_meta(name, value)
        }
        fn sync(&self) -> Result<(), StorageError> {
            self.inner.sync()
        }
        fn size_on_disk(&self) -> Result<u64, StorageError> {
            self.inner.size_on_disk()
        }
    }

    #[test]
    fn quarantine_leaves_a_record_that_changed_after_it_was_read() {
        let inner = Arc::new(Interleaved {
            inner: MemStorage::new(),
            before_remove: Mutex::new(None),
        });
        let recorder = Arc::new(Recorder::default());
        let s = SealedStorage::new(inner.clone(), recorder.clone()).unwrap();
        put(&s, b"k", b"value");
        assert!(s.damage_record(b"k").unwrap());
        // A repair lands between quarantine's read and its delete.
        *inner.before_remove.lock().unwrap() = Some(Box::new(|engine: &MemStorage| {
            put(engine, b"k", &seal(b"k", b"repaired"));
        }));
        recorder.take();

        assert!(!s.quarantine(b"k").unwrap());
        assert_eq!(s.get(b"k").unwrap(), Some(b"repaired".to_vec()));
        assert_eq!(recorder.take(), vec![]);
    }

    #[test]
    fn damage_record_reports_whether_there_was_a_record() {
        let (_, _, s) = sealed_mem();
        assert!(!s.damage_record(b"absent").unwrap());
        assert_eq!(s.get(b"absent").unwrap(), None);
        put(&s, b"empty", b"");
        assert!(s.damage_record(b"empty").unwrap());
        assert!(matches!(
            s.get(b"empty"),
            Err(StorageError::CorruptRecord { .. })
        ));
    }

    /// Keys `p00`..`p09` with payload = key; `bad` of them damaged.
    fn paged_store(bad: &[usize]) -> (Arc<Recorder>, SealedStorage) {
        let (inner, recorder, s) = sealed_mem();
        for i in 0..10 {
            let key = format!("p{i:02}").into_bytes();
            put(&s, &key, &key);
        }
        put(&s, b"q", b"q");
        for &i in bad {
            put_raw(
                inner.as_ref(),
                format!("p{i:02}").as_bytes(),
                b"garbage!!!!",
            );
        }
        recorder.take();
        (recorder, s)
    }

    fn page_through(s: &SealedStorage, limit: usize) -> Vec<Vec<Vec<u8>>> {
        let mut pages = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page: Vec<Vec<u8>> = s
                .scan_prefix(b"p", after.as_deref(), limit)
                .unwrap()
                .into_iter()
                .map(|(key, payload)| {
                    assert_eq!(key, payload);
                    key
                })
                .collect();
            let short = page.len() < limit;
            after = page.last().cloned().or(after);
            pages.push(page);
            if short {
                return pages;
            }
        }
    }

    fn keys(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    #[test]
    fn scan_pages_stay_full_across_a_run_of_corrupt_records() {
        let (recorder, s) = paged_store(&[2, 3, 4, 5, 6]);
        assert_eq!(
            page_through(&s, 2),
            vec![keys(&["p00", "p01"]), keys(&["p07", "p08"]), keys(&["p09"]),]
        );
        // Each corrupt record met exactly once in the pass.
        let met: Vec<Event> = ["p02", "p03", "p04", "p05", "p06"]
            .iter()
            .map(|k| corrupt(k.as_bytes()))
            .collect();
        assert_eq!(recorder.take(), met);
        assert_eq!(
            keys_of_hashes(s.scan_hashes(b"p", Some(b"p01"), 3).unwrap()),
            keys(&["p07", "p08", "p09"])
        );
        assert_eq!(s.corrupt_count(), 10);
    }

    #[test]
    fn a_page_that_ends_in_corrupt_records_is_not_read_past() {
        let (recorder, s) = paged_store(&[2, 3]);
        // p02/p03 come after the page's last key: not consumed, not reported yet.
        assert_eq!(
            keys_of(s.scan_prefix(b"p", None, 2).unwrap()),
            keys(&["p00", "p01"])
        );
        assert_eq!(recorder.take(), vec![]);
        assert_eq!(
            keys_of(s.scan_prefix(b"p", Some(b"p01"), 2).unwrap()),
            keys(&["p04", "p05"])
        );
        assert_eq!(recorder.take(), vec![corrupt(b"p02"), corrupt(b"p03")]);
    }

    #[test]
    fn a_prefix_of_only_corrupt_records_scans_empty() {
        let all: Vec<usize> = (0..10).collect();
        let (_, s) = paged_store(&all);
        assert_eq!(page_through(&s, 3), vec![Vec::<Vec<u8>>::new()]);
        assert!(s.scan_prefix(b"p", None, usize::MAX).unwrap().is_empty());
        assert_eq!(s.get(b"q").unwrap(), Some(b"q".to_vec()));
    }

    fn keys_of(entries: Vec<KeyRecord>) -> Vec<Vec<u8>> {
        entries.into_iter().map(|(k, _)| k).collect()
    }

    fn keys_of_hashes(entries: Vec<(Vec<u8>, u64)>) -> Vec<Vec<u8>> {
        entries.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn corrupt_metadata_is_an_error_not_a_data_report() {
        let (inner, recorder, s) = sealed_mem();
        s.put_meta("layout", b"epoch 3").unwrap();
        let mut raw = inner.get_meta("layout").unwrap().unwrap();
        raw[SEAL_HEADER_LEN] ^= 1;
        inner.put_meta("layout", &raw).unwrap();
        assert!(matches!(
            s.get_meta("layout"),
            Err(StorageError::CorruptRecord { ref key, .. }) if key == b"layout"
        ));
        assert_eq!(s.corrupt_count(), 1);
        assert_eq!(recorder.take(), vec![]);
        // Rewriting it heals it.
        s.put_meta("layout", b"epoch 4").unwrap();
        assert_eq!(s.get_meta("layout").unwrap(), Some(b"epoch 4".to_vec()));
    }

    #[test]
    fn the_format_markers_are_read_bare_and_cannot_be_written() {
        let (_, _, s) = sealed_mem();
        assert_eq!(
            s.get_meta(RECORD_FORMAT_META).unwrap(),
            Some(vec![SEAL_VERSION])
        );
        for name in [RECORD_FORMAT_META, STORAGE_FORMAT_META] {
            assert_eq!(
                s.put_meta(name, &[SEAL_VERSION]),
                Err(StorageError::ReservedMeta {
                    name: name.to_owned()
                })
            );
        }
    }

    /// Writes records the way a build from before sealing did: bare, through the engine.
    fn unsealed_store() -> Arc<MemStorage> {
        let inner = Arc::new(MemStorage::new());
        for i in 0..2500u32 {
            let key = i.to_be_bytes();
            put(inner.as_ref(), &key, format!("value {i}").as_bytes());
        }
        // A record that looks like it starts with an envelope (version byte 1), as object
        // records and hints do.
        put(
            inner.as_ref(),
            b"looks-sealed",
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        );
        put(inner.as_ref(), b"empty", b"");
        inner.put_meta("node_id", b"\x01node 7").unwrap();
        inner.put_meta("namespace_catalog", b"catalog").unwrap();
        inner.sync().unwrap();
        inner
    }

    fn check_migrated(inner: &MemStorage, s: &SealedStorage) {
        for i in 0..2500u32 {
            let key = i.to_be_bytes();
            let payload = format!("value {i}").into_bytes();
            assert_eq!(s.get(&key).unwrap(), Some(payload.clone()));
            assert_eq!(inner.get(&key).unwrap(), Some(seal(&key, &payload)));
        }
        assert_eq!(
            s.get(b"looks-sealed").unwrap(),
            Some(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        );
        assert_eq!(s.get(b"empty").unwrap(), Some(Vec::new()));
        assert_eq!(s.get_meta("node_id").unwrap(), Some(b"\x01node 7".to_vec()));
        assert_eq!(
            s.get_meta("namespace_catalog").unwrap(),
            Some(b"catalog".to_vec())
        );
        assert_eq!(s.get_meta("layout").unwrap(), None);
        assert_eq!(
            inner.get_meta(RECORD_FORMAT_META).unwrap(),
            Some(vec![SEAL_VERSION])
        );
        assert_eq!(s.scan_prefix(&[], None, usize::MAX).unwrap().len(), 2502);
        assert_eq!(s.corrupt_count(), 0);
    }

    #[test]
    fn an_unsealed_store_is_sealed_in_place_and_stamped_durably() {
        let inner = unsealed_store();
        let recorder = Arc::new(Recorder::default());
        let s = SealedStorage::new(inner.clone(), recorder.clone()).unwrap();
        assert_eq!(inner.pending_writes(), 0, "migration ends with a sync");
        check_migrated(&inner, &s);
        assert_eq!(recorder.take(), vec![]);

        // A crash now loses nothing, and a second wrap does not seal again.
        inner.crash();
        let again = SealedStorage::new(inner.clone(), Arc::new(NoObserver)).unwrap();
        assert_eq!(inner.pending_writes(), 0, "nothing rewritten");
        check_migrated(&inner, &again);
    }

    #[test]
    fn an_interrupted_migration_resumes_without_sealing_twice() {
        let inner = unsealed_store();
        // A migration that sealed the first records (and synced them), then crashed unstamped.
        let first = inner.scan_prefix(&[], None, 700).unwrap();
        for (key, raw) in &first {
            put(inner.as_ref(), key, &seal(key, raw));
        }
        inner.sync().unwrap();
        assert_eq!(inner.get_meta(RECORD_FORMAT_META).unwrap(), None);

        let s = SealedStorage::new(inner.clone(), Arc::new(NoObserver)).unwrap();
        check_migrated(&inner, &s);
    }

    #[test]
    fn a_new_store_is_stamped_without_touching_anything_else() {
        let (inner, _, s) = sealed_mem();
        assert_eq!(
            inner.get_meta(RECORD_FORMAT_META).unwrap(),
            Some(vec![SEAL_VERSION])
        );
        assert_eq!(inner.pending_writes(), 0);
        assert!(s.scan_prefix(&[], None, 10).unwrap().is_empty());
    }

    #[test]
    fn a_sealed_sled_store_reopens_without_migrating() {
        let dir = tempfile::tempdir().unwrap();
        {
            let inner = Arc::new(SledStorage::open(dir.path()).unwrap());
            put(inner.as_ref(), b"old", b"unsealed");
            let s = SealedStorage::new(inner, Arc::new(NoObserver)).unwrap();
            put(&s, b"new", b"sealed");
            s.sync().unwrap();
        }
        let inner = Arc::new(SledStorage::open(dir.path()).unwrap());
        assert_eq!(inner.get(b"old").unwrap(), Some(seal(b"old", b"unsealed")));
        let s = SealedStorage::new(inner.clone(), Arc::new(NoObserver)).unwrap();
        assert_eq!(s.get(b"old").unwrap(), Some(b"unsealed".to_vec()));
        assert_eq!(s.get(b"new").unwrap(), Some(b"sealed".to_vec()));
        assert_eq!(inner.get(b"new").unwrap(), Some(seal(b"new", b"sealed")));
    }

    #[test]
    fn an_unknown_record_format_is_refused() {
        let inner = Arc::new(MemStorage::new());
        inner.put_meta(RECORD_FORMAT_META, &[2]).unwrap();
        put(inner.as_ref(), b"k", b"v");
        assert_eq!(
            SealedStorage::new(inner.clone(), Arc::new(NoObserver)).unwrap_err(),
            StorageError::UnknownFormat {
                found: 2,
                supported: SEAL_VERSION
            }
        );
        // Refused without rewriting anything.
        assert_eq!(inner.get(b"k").unwrap(), Some(b"v".to_vec()));

        inner.put_meta(RECORD_FORMAT_META, &[1, 0]).unwrap();
        assert!(matches!(
            SealedStorage::new(inner, Arc::new(NoObserver)).unwrap_err(),
            StorageError::Corrupt { .. }
        ));
    }
}
