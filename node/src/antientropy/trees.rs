//! The node's anti-entropy trees: one [`SegmentTree`] per `(namespace, partition)` this node
//! holds data of, kept up to date by the storage layer's [`RecordObserver`] calls.
//!
//! Every record the node stores is sealed with a record hash (`storage::sealed`); the sealed
//! storage tells [`Trees`] of every change as `(key, hash before, hash after)`, which is exactly
//! the XOR update a TicTac tree needs, so the trees follow the store without ever re-reading
//! it. At start-up the trees are built once from a raw scan of the store, before the node
//! serves anything.
//!
//! Corrupt records: a tree counts a record by the hash in its header, the one it was written
//! with, so when a corrupt record is quarantined (removed so a repair can replace it) the tree
//! drops exactly what it had counted. Every corrupt record the storage layer meets is queued
//! (bounded, see [`CORRUPT_QUEUE`]) for the repair task.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use kvorum_consistency::antientropy::{segment_of, SegmentTree};
use kvorum_ring::{NamespaceId, PartitionId};
use tokio::sync::mpsc;

use crate::storage::keys::{decode_data_key, HINT_NAMESPACE};
use crate::storage::sealed::{self, RecordObserver};
use crate::storage::{Storage, StorageError};

/// Corrupt keys waiting for repair; beyond it a key is dropped from the queue (with a log
/// line): it is met again the next time anything reads it, or at the next start.
pub const CORRUPT_QUEUE: usize = 1024;

/// Records read per page while building the trees.
const BUILD_PAGE: usize = 4096;

type TreeId = (NamespaceId, PartitionId);

/// Every partition tree of this node. Cheap to share (`Arc`).
pub struct Trees {
    trees: Mutex<HashMap<TreeId, SegmentTree>>,
    corrupt: mpsc::Sender<Vec<u8>>,
}

impl Trees {
    /// Empty trees; corrupt keys go to `corrupt`.
    pub fn new(corrupt: mpsc::Sender<Vec<u8>>) -> Trees {
        Trees {
            trees: Mutex::new(HashMap::new()),
            corrupt,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TreeId, SegmentTree>> {
        // A panic while holding the lock cannot leave a tree half-updated (one XOR), so a
        // poisoned lock is still consistent.
        self.trees.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces every tree with one built from `raw`, the engine under the sealed storage
    /// (records as stored, envelope included). Returns the number of records counted.
    ///
    /// Must run before anything writes through the sealed storage: a write during the build
    /// could be counted twice.
    pub fn build(&self, raw: &dyn Storage) -> Result<u64, StorageError> {
        let mut built: HashMap<TreeId, SegmentTree> = HashMap::new();
        let mut after: Option<Vec<u8>> = None;
        let mut counted = 0u64;
        loop {
            let page = raw.scan_prefix(&[], after.as_deref(), BUILD_PAGE)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (key, record) in &page {
                let Ok((ns, partition, user_key)) = decode_data_key(key) else {
                    continue;
                };
                if ns == HINT_NAMESPACE {
                    // Hints sort after every namespace: no data key follows.
                    *self.lock() = built;
                    return Ok(counted);
                }
                if let Err(e) = sealed::open(key, record) {
                    self.corrupt(key, &e);
                }
                let ns = NamespaceId(ns);
                built
                    .entry((ns, PartitionId(partition)))
                    .or_default()
                    .change(segment_of(ns, user_key), None, sealed::header_hash(record));
                counted += 1;
            }
            if page.len() < BUILD_PAGE {
                break;
            }
        }
        *self.lock() = built;
        Ok(counted)
    }

    /// The root of a partition's tree (0: holds nothing).
    pub fn root(&self, ns: NamespaceId, partition: PartitionId) -> u64 {
        self.lock()
            .get(&(ns, partition))
            .map_or(0, SegmentTree::root)
    }

    /// The segment hashes of a partition's tree (all zero: holds nothing).
    pub fn segments(&self, ns: NamespaceId, partition: PartitionId) -> Vec<u64> {
        self.lock()
            .get(&(ns, partition))
            .map(|t| t.segments().to_vec())
            .unwrap_or_else(|| SegmentTree::default().segments().to_vec())
    }

    /// Namespaces this node holds (or held since start) data of.
    pub fn namespaces(&self) -> BTreeSet<NamespaceId> {
        self.lock().keys().map(|(ns, _)| *ns).collect()
    }

    /// The XOR of every partition root of `ns`: two nodes that replicate the same partitions
    /// of `ns` hold the same data exactly when their digests are equal.
    pub fn digest(&self, ns: NamespaceId) -> u64 {
        self.lock()
            .iter()
            .filter(|((n, _), _)| *n == ns)
            .fold(0, |acc, (_, t)| acc ^ t.root())
    }
}

impl RecordObserver for Trees {
    fn changed(&self, key: &[u8], before: Option<u64>, after: Option<u64>) {
        if before == after {
            return;
        }
        let Ok((ns, partition, user_key)) = decode_data_key(key) else {
            return;
        };
        if ns == HINT_NAMESPACE {
            return;
        }
        let ns = NamespaceId(ns);
        self.lock()
            .entry((ns, PartitionId(partition)))
            .or_default()
            .change(segment_of(ns, user_key), before, after);
    }

    fn corrupt(&self, key: &[u8], error: &StorageError) {
        // The storage layer has logged and counted it.
        let _ = error;
        // Hints and metadata have no other replica to repair from; the error reaches whoever
        // reads them.
        let data = matches!(decode_data_key(key), Ok((ns, _, _)) if ns != HINT_NAMESPACE);
        if data && self.corrupt.try_send(key.to_vec()).is_err() {
            tracing::warn!("repair queue full: a corrupt record waits until it is read again");
        }
    }
}
