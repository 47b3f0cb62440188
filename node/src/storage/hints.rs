//! Hinted handoff's store: object states waiting for a replica that could not be reached.
//!
//! When a write cannot reach one of a key's primary replicas, a stand-in node keeps a *hint*:
//! the key's object state (an opaque record, versioned by the layer above) addressed to that
//! primary, and hands it over when the primary is reachable again. [`HintStore`] is where those
//! hints live between the two moments. It knows nothing about objects or peers; the layer above
//! merges states, delivers hints and decides when to sync.
//!
//! Why it is built this way:
//! - **Persisted in the data keyspace.** Hints must survive a restart of the node holding them,
//!   and the [`Storage`] trait has one keyspace, so hints are ordinary records under the reserved
//!   namespace [`HINT_NAMESPACE`](super::keys::HINT_NAMESPACE): key
//!   `ff ff ff ff | target node (u64 BE) | data key` (see `keys.rs`), so one target's hints are
//!   one prefix scan, in data-key order. Value: `HINT_FORMAT_VERSION (1 byte) | created_ms
//!   (u64 BE) | record`.
//! - **A state, not an op.** A hint holds the whole object state, so a second change to the same
//!   key is merged into the existing hint (by the caller's merge) instead of queued behind it:
//!   one entry per (target, key), and delivering it once delivers every change. The hint keeps
//!   its original `created_ms`, the time of the oldest change it carries.
//! - **Bounded, and refusing rather than dropping.** Total bytes (all targets) and the age of a
//!   target's oldest hint are bounded ([`HintLimits`]). Over a bound a *new* change is refused
//!   with a [`HintRefused`] and counted; an existing hint is never dropped to make room, because
//!   dropping from the middle would silently lose an acknowledged write's only copy for that
//!   replica. A target whose oldest hint is too old has been down too long for handoff to be the
//!   cheap path: anti-entropy repairs it instead, and the target accepts hints again once its
//!   backlog has been delivered.
//! - **Deleted only after the target acknowledged exactly what is stored.** [`HintStore::acknowledge`]
//!   removes a hint with the storage's compare-and-delete ([`Storage::remove_if`]), so a change
//!   merged into the hint while it was in flight is never lost: the hint stays for the next round.
//! - **Exact accounting.** Byte and backlog counters are kept in memory, rebuilt by one scan in
//!   [`HintStore::open`], and changed only by what an atomic storage operation actually did.
//!   Concurrent adds and acknowledgements need an order that keeps them exact without a lock
//!   around the storage: a hint state is *counted before* the storage commits it (an
//!   [`HintStore::add`] attempt books its new state first, and takes it back if the attempt
//!   loses a compare-and-swap race or fails), and a state is *uncounted only after* the storage
//!   committed its replacement or removal. So nothing is ever subtracted that was not counted,
//!   and the counted bytes are never below the stored bytes: checking the bound against them
//!   keeps the stored bytes within it even while several adds are in flight. While a merge is in
//!   flight both its old and new state are counted, which can only make the bound momentarily
//!   stricter; when nothing is in flight the numbers equal a rescan.
//!
//! Durability: like every write, a hint is on stable storage only after [`Storage::sync`]; the
//! caller makes it durable (through group commit) before it counts the write as stored. A crash
//! loses unsynced hints and brings back unsynced acknowledgements (a hint delivered twice is
//! harmless: delivery merges a state). Open a fresh `HintStore` after a crash so the accounting
//! is rebuilt from what survived.
//!
//! One `HintStore` per storage: it assumes it is the only writer of the hint namespace.
//!
//! In builds with the `fault-injection` feature, the `drop-hints` fault makes
//! [`HintStore::add`] succeed without storing anything, so that a test harness can check that
//! its convergence checker notices writes that never reach a replica.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::keys::{
    check_namespace, decode_data_key, decode_hint_key, encode_hint_key, hint_target_prefix,
    hints_prefix,
};
use super::{Storage, StorageError};

/// Format version written as the first byte of every hint value.
pub const HINT_FORMAT_VERSION: u8 = 1;

/// Length of the `version | created_ms` header of a hint value.
const HINT_VALUE_HEADER_LEN: usize = 1 + 8;

/// Default bound on the bytes of all hints (keys and values, all targets): 256 MiB.
pub const DEFAULT_MAX_HINT_BYTES: u64 = 256 * 1024 * 1024;

/// Default bound on the age of a target's oldest hint: 3 hours, like Cassandra's
/// `max_hint_window`. A target down longer is left to anti-entropy.
pub const DEFAULT_MAX_HINT_AGE_MS: u64 = 3 * 60 * 60 * 1000;

/// Hints read per storage scan while [`HintStore::open`] rebuilds the accounting.
const OPEN_SCAN_PAGE: usize = 1024;

/// The caller's merge for [`HintStore::add`]: the existing hint's record (or None) in, the new
/// record out.
pub type HintMergeFn<'a> = dyn FnMut(Option<&[u8]>) -> Result<Vec<u8>, StorageError> + 'a;

/// Bounds of the hint store (configuration section `[hints]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintLimits {
    /// Bound on the bytes of all hints (stored keys plus values, all targets). A change that
    /// would take the total above it is refused. 0 refuses every hint.
    pub max_bytes: u64,
    /// Bound on the age of a target's oldest hint, in milliseconds. Once a target's oldest hint
    /// is older, every change for that target is refused until its backlog is delivered.
    pub max_age_ms: u64,
}

impl Default for HintLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_HINT_BYTES,
            max_age_ms: DEFAULT_MAX_HINT_AGE_MS,
        }
    }
}

/// One stored hint, as handed out for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The node the hint is for.
    pub target: u64,
    /// The data key (`namespace | partition | user key`) the record belongs under.
    pub data_key: Vec<u8>,
    /// The object state to deliver (opaque; versioned by the layer above).
    pub record: Vec<u8>,
    /// When the oldest change this hint carries was hinted (caller's clock, ms).
    pub created_ms: u64,
}

/// Why a change was not stored as a hint. Nothing was written; the change is counted as refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HintRefused {
    /// Storing it would take the hints above [`HintLimits::max_bytes`].
    #[error(
        "hint for node {target} refused: it needs {needed} more bytes and {stored} of the \
         {max_bytes}-byte hint budget are in use"
    )]
    TooManyBytes {
        /// The node the hint was for.
        target: u64,
        /// Bytes the change would have added.
        needed: u64,
        /// Bytes of hints stored (or being stored) when it was refused.
        stored: u64,
        /// The configured bound.
        max_bytes: u64,
    },

    /// The target's oldest hint is older than [`HintLimits::max_age_ms`]: it has been
    /// unreachable too long, and anti-entropy must repair it instead.
    #[error(
        "hint for node {target} refused: its oldest undelivered hint is {age_ms} ms old \
         (limit {max_age_ms} ms); anti-entropy must repair it"
    )]
    TooOld {
        /// The node the hint was for.
        target: u64,
        /// `created_ms` of that node's oldest hint.
        oldest_ms: u64,
        /// Age of that hint at the time of the refusal.
        age_ms: u64,
        /// The configured bound.
        max_age_ms: u64,
    },
}

/// Failure of [`HintStore::add`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HintError {
    /// A bound refused the change (counted in [`HintStats`]).
    #[error(transparent)]
    Refused(#[from] HintRefused),
    /// The storage, a stored hint, the data key or the caller's merge failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Counters and gauges of a hint store, for metrics.
///
/// The counters (`stored` … `refused_age`) count since the store was opened; `bytes` and `count`
/// describe what is stored now (rebuilt by [`HintStore::open`]; while adds are in flight they
/// may briefly include a state being written, never miss one that is stored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintStats {
    /// Changes stored as a new hint.
    pub stored: u64,
    /// Changes merged into an existing hint.
    pub merged: u64,
    /// Hints deleted after their target acknowledged them.
    pub delivered: u64,
    /// Changes refused by the byte bound.
    pub refused_bytes: u64,
    /// Changes refused by the age bound.
    pub refused_age: u64,
    /// Bytes of all stored hints (keys plus values).
    pub bytes: u64,
    /// Number of stored hints.
    pub count: u64,
}

/// The hints waiting for one target node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetBacklog {
    /// The node the hints are for.
    pub target: u64,
    /// How many hints.
    pub hints: u64,
    /// Their bytes (keys plus values).
    pub bytes: u64,
    /// `created_ms` of the oldest one: how long the node has been missing changes.
    pub oldest_created_ms: u64,
}

/// Hinted handoff's persistent, bounded store of hints. See the module docs.
///
/// Calls block on the storage; async code calls them from `spawn_blocking`.
pub struct HintStore {
    storage: Arc<dyn Storage>,
    limits: HintLimits,
    accounting: Mutex<Accounting>,
}

impl fmt::Debug for HintStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HintStore")
            .field("limits", &self.limits)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HintStore {
    /// Opens the hint store over `storage`, scanning the stored hints once to rebuild the byte
    /// and backlog accounting (hints survive restarts). Fails on a damaged or unknown-version
    /// hint rather than guessing its size.
    pub fn open(storage: Arc<dyn Storage>, limits: HintLimits) -> Result<Self, StorageError> {
        let mut accounting = Accounting::default();
        let prefix = hints_prefix();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = storage.scan_prefix(&prefix, after.as_deref(), OPEN_SCAN_PAGE)?;
            for (key, value) in &page {
                let (target, _) = decode_hint_key(key)?;
                let (created_ms, _) = decode_hint_value(value)?;
                accounting.insert(target, Footprint::of(key, value, created_ms));
            }
            if page.len() < OPEN_SCAN_PAGE {
                break;
            }
            after = page.into_iter().next_back().map(|(key, _)| key);
        }
        Ok(Self {
            storage,
            limits,
            accounting: Mutex::new(accounting),
        })
    }

    /// The bounds this store enforces.
    pub fn limits(&self) -> HintLimits {
        self.limits
    }

    /// Stores the hint for (`target`, `data_key`), or merges into the one already stored.
    ///
    /// `merge` receives the existing hint's record (None if there is none) and returns the new
    /// record; the caller merges object states, so a key keeps one hint however many changes it
    /// gets. `merge` may run more than once (the storage retries a lost compare-and-swap), so it
    /// must be pure, and it must not call into this store or its storage. An existing hint keeps
    /// its `created_ms`; a new one gets `now_ms`.
    ///
    /// Refused with [`HintError::Refused`] — and counted — when the target's oldest hint is older
    /// than [`HintLimits::max_age_ms`], or when the change would take the total above
    /// [`HintLimits::max_bytes`] (a change that does not grow the hint is never refused for
    /// bytes). A refusal writes nothing and never drops an existing hint. `data_key` must be a
    /// data key of a real namespace.
    pub fn add(
        &self,
        target: u64,
        data_key: &[u8],
        now_ms: u64,
        merge: &mut HintMergeFn<'_>,
    ) -> Result<(), HintError> {
        let (ns, _, _) = decode_data_key(data_key)?;
        check_namespace(ns)?;
        #[cfg(feature = "fault-injection")]
        if crate::faults::FAULTS.drop_hints.is_on() {
            // Deliberately broken (the `drop-hints` fault): the caller believes it is stored.
            return Ok(());
        }
        let key = encode_hint_key(target, data_key);
        // The change the latest attempt booked, undone if that attempt does not commit.
        let mut booked: Option<Change> = None;
        let mut refused: Option<HintRefused> = None;
        let result = self.storage.update(&key, &mut |current| {
            if let Some(lost) = booked.take() {
                self.lock().remove(target, lost.new);
            }
            refused = None;
            let existing = current.map(decode_hint_value).transpose()?;
            let record = merge(existing.map(|(_, record)| record))?;
            let old = match (current, existing) {
                (Some(value), Some((created_ms, _))) => {
                    Some(Footprint::of(&key, value, created_ms))
                }
                _ => None,
            };
            let created_ms = old.map_or(now_ms, |old| old.created_ms);
            let value = encode_hint_value(created_ms, &record);
            let change = Change {
                old,
                new: Footprint::of(&key, &value, created_ms),
            };
            let mut accounting = self.lock();
            if let Err(refusal) = accounting.admit(target, change, now_ms, self.limits) {
                let reason = refusal.to_string();
                refused = Some(refusal);
                return Err(StorageError::Rejected { reason });
            }
            accounting.insert(target, change.new);
            booked = Some(change);
            Ok(Some(value))
        });
        let mut accounting = self.lock();
        match result {
            Ok(_) => {
                match booked {
                    Some(Change { old: Some(old), .. }) => {
                        accounting.remove(target, old);
                        accounting.merged += 1;
                    }
                    Some(Change { old: None, .. }) => accounting.stored += 1,
                    // The closure always writes or fails; nothing was booked, nothing to count.
                    None => {}
                }
                Ok(())
            }
            Err(err) => {
                if let Some(lost) = booked {
                    accounting.remove(target, lost.new);
                }
                match refused {
                    Some(refusal) => {
                        accounting.count_refusal(&refusal);
                        Err(HintError::Refused(refusal))
                    }
                    None => Err(HintError::Storage(err)),
                }
            }
        }
    }

    /// Up to `limit` hints for `target`, in data-key order, starting strictly after the data key
    /// `after` (None = from the first). To page, pass the last returned hint's `data_key`.
    pub fn pending(
        &self,
        target: u64,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Hint>, StorageError> {
        let prefix = hint_target_prefix(target);
        let after = after.map(|data_key| encode_hint_key(target, data_key));
        let entries = self.storage.scan_prefix(&prefix, after.as_deref(), limit)?;
        entries
            .into_iter()
            .map(|(key, value)| {
                let (stored_target, data_key) = decode_hint_key(&key)?;
                let (created_ms, record) = decode_hint_value(&value)?;
                Ok(Hint {
                    target: stored_target,
                    data_key: data_key.to_vec(),
                    record: record.to_vec(),
                    created_ms,
                })
            })
            .collect()
    }

    /// Deletes the hint for (`target`, `data_key`) after the target acknowledged `delivered` —
    /// only if the hint still holds exactly that record. A hint that was merged with a newer
    /// change meanwhile (or replaced) stays for the next delivery round. Returns whether it was
    /// deleted; `false` is always safe (the hint is delivered again, and delivery merges).
    pub fn acknowledge(
        &self,
        target: u64,
        data_key: &[u8],
        delivered: &[u8],
    ) -> Result<bool, StorageError> {
        let key = encode_hint_key(target, data_key);
        let Some(value) = self.storage.get(&key)? else {
            return Ok(false);
        };
        let (created_ms, record) = decode_hint_value(&value)?;
        if record != delivered || !self.storage.remove_if(&key, &value)? {
            return Ok(false);
        }
        let mut accounting = self.lock();
        accounting.remove(target, Footprint::of(&key, &value, created_ms));
        accounting.delivered += 1;
        Ok(true)
    }

    /// Targets with hints waiting, in target order.
    pub fn backlog(&self) -> Vec<TargetBacklog> {
        self.lock()
            .targets
            .iter()
            .map(|(&target, account)| TargetBacklog {
                target,
                hints: account.hints,
                bytes: account.bytes,
                oldest_created_ms: account.oldest().unwrap_or_default(),
            })
            .collect()
    }

    /// Counters and gauges, for metrics.
    pub fn stats(&self) -> HintStats {
        let accounting = self.lock();
        HintStats {
            stored: accounting.stored,
            merged: accounting.merged,
            delivered: accounting.delivered,
            refused_bytes: accounting.refused_bytes,
            refused_age: accounting.refused_age,
            bytes: accounting.bytes,
            count: accounting.hints,
        }
    }

    /// The accounting is only ever changed by short, non-panicking sections (the caller's merge
    /// runs outside the lock), so a poisoned lock still holds consistent numbers.
    fn lock(&self) -> MutexGuard<'_, Accounting> {
        self.accounting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Encodes a hint value: `version | created_ms (u64 BE) | record`.
fn encode_hint_value(created_ms: u64, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HINT_VALUE_HEADER_LEN + record.len());
    out.push(HINT_FORMAT_VERSION);
    out.extend_from_slice(&created_ms.to_be_bytes());
    out.extend_from_slice(record);
    out
}

/// Splits a hint value into `(created_ms, record)`.
fn decode_hint_value(value: &[u8]) -> Result<(u64, &[u8]), StorageError> {
    let (&version, rest) = value.split_first().ok_or_else(|| StorageError::Corrupt {
        what: "hint value is empty".into(),
    })?;
    if version != HINT_FORMAT_VERSION {
        return Err(StorageError::Corrupt {
            what: format!(
                "hint value has format version {version}; this build reads {HINT_FORMAT_VERSION}"
            ),
        });
    }
    let (created_ms, record) =
        rest.split_first_chunk::<8>()
            .ok_or_else(|| StorageError::Corrupt {
                what: format!(
                "hint value of {} bytes is shorter than its {HINT_VALUE_HEADER_LEN}-byte header",
                value.len()
            ),
            })?;
    Ok((u64::from_be_bytes(*created_ms), record))
}

/// What one stored hint costs: its bytes (key plus value) and its creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footprint {
    bytes: u64,
    created_ms: u64,
}

impl Footprint {
    fn of(key: &[u8], value: &[u8], created_ms: u64) -> Self {
        let bytes = key.len().saturating_add(value.len());
        Self {
            bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
            created_ms,
        }
    }
}

/// One write of a hint: what was stored under the key before (None = nothing) and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    old: Option<Footprint>,
    new: Footprint,
}

/// The hints of one target.
#[derive(Debug, Default)]
struct TargetAccount {
    hints: u64,
    bytes: u64,
    /// `created_ms` → number of hints created then; the first entry is the oldest hint.
    created: BTreeMap<u64, u64>,
}

impl TargetAccount {
    fn oldest(&self) -> Option<u64> {
        self.created.keys().next().copied()
    }
}

/// Byte, count and age accounting of all hints, plus the counters since open.
///
/// Arithmetic saturates rather than panics; with one store per storage (the documented use)
/// every removal follows the insertion of what it removes (see the module docs), so it never
/// needs to.
#[derive(Debug, Default)]
struct Accounting {
    targets: BTreeMap<u64, TargetAccount>,
    bytes: u64,
    hints: u64,
    stored: u64,
    merged: u64,
    delivered: u64,
    refused_bytes: u64,
    refused_age: u64,
}

impl Accounting {
    /// Checks `change` for `target` against the bounds.
    fn admit(
        &self,
        target: u64,
        change: Change,
        now_ms: u64,
        limits: HintLimits,
    ) -> Result<(), HintRefused> {
        if let Some(oldest_ms) = self.targets.get(&target).and_then(TargetAccount::oldest) {
            let age_ms = now_ms.saturating_sub(oldest_ms);
            if age_ms > limits.max_age_ms {
                return Err(HintRefused::TooOld {
                    target,
                    oldest_ms,
                    age_ms,
                    max_age_ms: limits.max_age_ms,
                });
            }
        }
        let needed = change
            .new
            .bytes
            .saturating_sub(change.old.map_or(0, |old| old.bytes));
        if needed > 0 && self.bytes.saturating_add(needed) > limits.max_bytes {
            return Err(HintRefused::TooManyBytes {
                target,
                needed,
                stored: self.bytes,
                max_bytes: limits.max_bytes,
            });
        }
        Ok(())
    }

    fn insert(&mut self, target: u64, hint: Footprint) {
        self.bytes = self.bytes.saturating_add(hint.bytes);
        self.hints = self.hints.saturating_add(1);
        let account = self.targets.entry(target).or_default();
        account.bytes = account.bytes.saturating_add(hint.bytes);
        account.hints = account.hints.saturating_add(1);
        let same_age = account.created.entry(hint.created_ms).or_default();
        *same_age = same_age.saturating_add(1);
    }

    fn remove(&mut self, target: u64, hint: Footprint) {
        self.bytes = self.bytes.saturating_sub(hint.bytes);
        self.hints = self.hints.saturating_sub(1);
        let Some(account) = self.targets.get_mut(&target) else {
            return;
        };
        account.bytes = account.bytes.saturating_sub(hint.bytes);
        account.hints = account.hints.saturating_sub(1);
        if let Some(n) = account.created.get_mut(&hint.created_ms) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                account.created.remove(&hint.created_ms);
            }
        }
        if account.hints == 0 {
            self.targets.remove(&target);
        }
    }

    fn count_refusal(&mut self, refusal: &HintRefused) {
        match refusal {
            HintRefused::TooManyBytes { .. } => self.refused_bytes += 1,
            HintRefused::TooOld { .. } => self.refused_age += 1,
        }
    }
}

#[cfg(test)]
mod tests;
