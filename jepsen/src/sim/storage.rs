//! A node's in-memory storage: what survives a crash (synced) and what does not yet (dirty).
//!
//! Every write lands in the dirty overlay at once (reads see it, as they would in a real engine's
//! page cache) and is reported to the core only after the next simulated fsync moved it into the
//! synced map. A crash drops the overlay, so writes whose completion the core never saw may be
//! lost, while everything it was told is durable survives. Hints (for hinted handoff) are kept
//! the same way, per target node.

use std::collections::BTreeMap;

use kvorum_consistency::{Key, Object};
use kvorum_ring::NodeId;

/// One node's keys and hints.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    synced: BTreeMap<Vec<u8>, Object>,
    dirty: BTreeMap<Vec<u8>, Object>,
    synced_hints: BTreeMap<(NodeId, Vec<u8>), (Key, Object)>,
    dirty_hints: BTreeMap<(NodeId, Vec<u8>), (Key, Object)>,
}

impl Storage {
    /// The current state of a key (dirty writes included).
    pub fn get(&self, key: &[u8]) -> Option<&Object> {
        self.dirty.get(key).or_else(|| self.synced.get(key))
    }

    pub fn put(&mut self, key: &[u8], object: Object) {
        self.dirty.insert(key.to_vec(), object);
    }

    /// Merges `object` into the hint kept for `target`; returns the new hint.
    pub fn merge_hint(&mut self, target: NodeId, key: &Key, object: &Object) -> Object {
        let slot = (target, key.key.clone());
        let merged = match self.hint(target, &key.key) {
            Some(existing) => existing.merge(object),
            None => object.clone(),
        };
        self.dirty_hints.insert(slot, (key.clone(), merged.clone()));
        merged
    }

    pub fn hint(&self, target: NodeId, key: &[u8]) -> Option<&Object> {
        let slot = (target, key.to_vec());
        self.dirty_hints
            .get(&slot)
            .or_else(|| self.synced_hints.get(&slot))
            .map(|(_, o)| o)
    }

    /// Deletes a delivered hint, unless it changed since `delivered` was read from it.
    pub fn remove_hint_if(&mut self, target: NodeId, key: &[u8], delivered: &Object) {
        if self.hint(target, key) == Some(delivered) {
            let slot = (target, key.to_vec());
            self.dirty_hints.remove(&slot);
            self.synced_hints.remove(&slot);
        }
    }

    /// Every hint: (target, key, state).
    pub fn hints(&self) -> Vec<(NodeId, Key, Object)> {
        let mut all: BTreeMap<&(NodeId, Vec<u8>), &(Key, Object)> =
            self.synced_hints.iter().collect();
        all.extend(self.dirty_hints.iter());
        all.into_iter()
            .map(|((t, _), (k, o))| (*t, k.clone(), o.clone()))
            .collect()
    }

    /// Makes every write so far durable (a group-commit fsync).
    pub fn sync(&mut self) {
        self.synced.append(&mut self.dirty);
        self.synced_hints.append(&mut self.dirty_hints);
    }

    /// What a crash leaves behind.
    pub fn crash(&mut self) {
        self.dirty.clear();
        self.dirty_hints.clear();
    }

    /// Every key and its current state.
    pub fn objects(&self) -> BTreeMap<Vec<u8>, Object> {
        let mut all = self.synced.clone();
        all.extend(self.dirty.iter().map(|(k, o)| (k.clone(), o.clone())));
        all
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kvorum_consistency::Timestamp;

    fn object(v: &str) -> Object {
        Object::new()
            .write(
                NodeId(1),
                &Default::default(),
                Some(Bytes::from(v.to_owned())),
                Timestamp {
                    physical_ms: 1,
                    logical: 0,
                },
            )
            .0
    }

    #[test]
    fn a_crash_keeps_what_was_synced_and_loses_the_rest() {
        let mut s = Storage::default();
        s.put(b"a", object("synced"));
        s.sync();
        s.put(b"a", object("dirty"));
        s.put(b"b", object("dirty"));
        assert_eq!(
            s.get(b"a"),
            Some(&object("dirty")),
            "reads see unsynced writes"
        );
        s.crash();
        assert_eq!(s.get(b"a"), Some(&object("synced")));
        assert_eq!(s.get(b"b"), None);
    }

    #[test]
    fn a_delivered_hint_is_deleted_only_if_unchanged() {
        let mut s = Storage::default();
        let key = Key {
            ns: kvorum_ring::NamespaceId(0),
            key: b"k".to_vec(),
        };
        let sent = s.merge_hint(NodeId(2), &key, &object("x"));
        s.merge_hint(NodeId(2), &key, &object("y"));
        s.remove_hint_if(NodeId(2), b"k", &sent);
        assert_eq!(s.hints().len(), 1, "a newer hint arrived meanwhile");
        let current = s.hint(NodeId(2), b"k").unwrap().clone();
        s.remove_hint_if(NodeId(2), b"k", &current);
        assert!(s.hints().is_empty());
    }
}
