//! In-memory engine for tests and the deterministic simulator.
//!
//! Besides the live maps, `MemStorage` keeps the state as of the last [`Storage::sync`] plus a
//! log of writes made since. [`MemStorage::crash`] throws the log away, which is what a power
//! loss does to writes an engine has not fsynced; the simulator uses it to check that nothing
//! acknowledged as durable is ever lost. [`MemStorage::crash_keeping`] keeps a prefix of the
//! log, modelling an engine that had written part of its log out before the crash.
//!
//! The pending log grows until the next `sync`; that is fine for tests, and the reason this
//! engine is not for production use.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{
    check_meta_name, scan_capacity, scan_lower_bound, KeyRecord, Storage, StorageError, UpdateFn,
};

/// A write not yet covered by a `sync`.
#[derive(Debug, Clone)]
enum PendingWrite {
    Data { key: Vec<u8>, record: Vec<u8> },
    Remove { key: Vec<u8> },
    Meta { name: String, value: Vec<u8> },
}

#[derive(Debug, Default)]
struct Maps {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    meta: BTreeMap<String, Vec<u8>>,
}

impl Maps {
    fn apply(&mut self, write: PendingWrite) {
        match write {
            PendingWrite::Data { key, record } => {
                self.data.insert(key, record);
            }
            PendingWrite::Remove { key } => {
                self.data.remove(&key);
            }
            PendingWrite::Meta { name, value } => {
                self.meta.insert(name, value);
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// What readers see.
    live: Maps,
    /// What survives a crash.
    synced: Maps,
    /// Writes in `live` but not yet in `synced`, oldest first.
    pending: Vec<PendingWrite>,
}

/// A [`Storage`] held in memory, with crash simulation.
#[derive(Debug, Default)]
pub struct MemStorage {
    state: Mutex<State>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a crash: every write since the last `sync` is lost.
    pub fn crash(&self) {
        self.crash_keeping(0);
    }

    /// Simulates a crash after the engine had persisted the oldest `kept` unsynced writes (in
    /// write order); the rest are lost. `kept` beyond the number of pending writes keeps them all.
    pub fn crash_keeping(&self, kept: usize) {
        let mut state = self.lock();
        let pending = std::mem::take(&mut state.pending);
        for write in pending.into_iter().take(kept) {
            state.synced.apply(write);
        }
        state.live = Maps {
            data: state.synced.data.clone(),
            meta: state.synced.meta.clone(),
        };
    }

    /// Number of writes made since the last `sync` (what a crash now would lose).
    pub fn pending_writes(&self) -> usize {
        self.lock().pending.len()
    }

    /// The state is only mutated after a caller's closure has returned, so a panic inside
    /// `update` leaves it consistent and a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage for MemStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock().live.data.get(key).cloned())
    }

    /// Runs `f` exactly once, under the store's lock (so `f` must not call back into the store).
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>, StorageError> {
        let mut state = self.lock();
        let current = state.live.data.get(key);
        match f(current.map(Vec::as_slice))? {
            None => Ok(current.cloned()),
            Some(record) => {
                state.live.data.insert(key.to_vec(), record.clone());
                state.pending.push(PendingWrite::Data {
                    key: key.to_vec(),
                    record: record.clone(),
                });
                Ok(Some(record))
            }
        }
    }

    fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
        let mut state = self.lock();
        if state.live.data.get(key).map(Vec::as_slice) != Some(expected) {
            return Ok(false);
        }
        state.live.data.remove(key);
        state
            .pending
            .push(PendingWrite::Remove { key: key.to_vec() });
        Ok(true)
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StorageError> {
        let state = self.lock();
        let range = (scan_lower_bound(prefix, after), Bound::Unbounded);
        let mut out = Vec::with_capacity(scan_capacity(limit));
        for (key, record) in state.live.data.range::<[u8], _>(range) {
            if out.len() >= limit || !key.starts_with(prefix) {
                break;
            }
            out.push((key.clone(), record.clone()));
        }
        Ok(out)
    }

    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock().live.meta.get(name).cloned())
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        check_meta_name(name)?;
        let mut state = self.lock();
        state.live.meta.insert(name.to_owned(), value.to_vec());
        state.pending.push(PendingWrite::Meta {
            name: name.to_owned(),
            value: value.to_vec(),
        });
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        let mut state = self.lock();
        let pending = std::mem::take(&mut state.pending);
        for write in pending {
            state.synced.apply(write);
        }
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::conformance::{self, Fixture};
    use std::sync::Arc;

    fn fixture() -> Fixture {
        Fixture::new(Arc::new(MemStorage::new()), ())
    }

    crate::storage::conformance::conformance_tests!(fixture);

    fn put(s: &MemStorage, key: &[u8], record: &[u8]) {
        s.update(key, &mut |_| Ok(Some(record.to_vec()))).unwrap();
    }

    #[test]
    fn crash_loses_exactly_the_unsynced_writes() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        s.put_meta("m", b"x").unwrap();
        s.sync().unwrap();
        put(&s, b"a", b"2");
        put(&s, b"b", b"1");
        s.put_meta("m", b"y").unwrap();
        assert_eq!(s.pending_writes(), 3);

        s.crash();

        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get(b"b").unwrap(), None);
        assert_eq!(s.get_meta("m").unwrap(), Some(b"x".to_vec()));
        assert_eq!(s.pending_writes(), 0);
        assert_eq!(conformance::all_keys(&s), vec![b"a".to_vec()]);
    }

    #[test]
    fn crash_brings_back_an_unsynced_removal_but_not_a_synced_one() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        put(&s, b"b", b"1");
        s.sync().unwrap();
        assert!(s.remove_if(b"a", b"1").unwrap());
        s.sync().unwrap();
        assert!(s.remove_if(b"b", b"1").unwrap());
        assert_eq!(s.pending_writes(), 1);

        s.crash();

        assert_eq!(s.get(b"a").unwrap(), None);
        assert_eq!(s.get(b"b").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn a_refused_removal_leaves_nothing_to_lose() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        s.sync().unwrap();
        assert!(!s.remove_if(b"a", b"2").unwrap());
        assert!(!s.remove_if(b"missing", b"1").unwrap());
        assert_eq!(s.pending_writes(), 0);
    }

    #[test]
    fn crash_before_any_sync_loses_everything() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        s.crash();
        assert_eq!(s.get(b"a").unwrap(), None);
    }

    #[test]
    fn crash_keeping_keeps_the_oldest_writes() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        put(&s, b"a", b"2");
        put(&s, b"b", b"1");
        s.crash_keeping(2);
        assert_eq!(s.get(b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get(b"b").unwrap(), None);
    }

    #[test]
    fn the_store_keeps_working_after_a_crash() {
        let s = MemStorage::new();
        put(&s, b"a", b"1");
        s.crash();
        put(&s, b"a", b"2");
        s.sync().unwrap();
        s.crash();
        assert_eq!(s.get(b"a").unwrap(), Some(b"2".to_vec()));
    }

    #[test]
    fn rejected_and_unchanged_updates_leave_nothing_to_lose() {
        let s = MemStorage::new();
        s.update(b"a", &mut |_| Ok(None)).unwrap();
        let _ = s.update(b"a", &mut |_| {
            Err(StorageError::Rejected {
                reason: "no".into(),
            })
        });
        assert_eq!(s.pending_writes(), 0);
    }
}
