//! This node's side of every exchange step: reading and changing its own replica. Blocking
//! (storage calls): callers run these on the blocking pool.

use std::collections::BTreeSet;

use kvorum_consistency::antientropy::{segment_of, KeyHash, KeyObject};
use kvorum_consistency::{record, Mutation, Object, StorageResult};
use kvorum_ring::{NamespaceId, PartitionId};

use super::Context;
use crate::storage::keys::{encode_data_key, encode_hint_key, partition_prefix};
use crate::storage::sealed::record_hash;
use crate::storage::StorageError;

/// A page of a partition's keys: the keys, where to continue (if the partition holds more) and
/// how many records were read.
pub struct KeysPage {
    pub keys: Vec<KeyHash>,
    pub next: Option<Vec<u8>>,
    pub read: u64,
}

/// A page of `(key, record hash)` of the keys of `segments` (all segments if empty), reading
/// at most `limit` stored records after the user key `after`.
pub fn keys(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    segments: &BTreeSet<u16>,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<KeysPage, StorageError> {
    let prefix = partition_prefix(ns.0, partition.0);
    let after = after.map(|k| encode_data_key(ns.0, partition.0, k));
    let page = ctx
        .sealed
        .scan_hashes(&prefix, after.as_deref(), limit.max(1))?;
    let read = page.len() as u64;
    let next = match page.last() {
        Some((last, _)) if page.len() >= limit.max(1) => Some(last[prefix.len()..].to_vec()),
        _ => None,
    };
    let keys = page
        .into_iter()
        .filter_map(|(stored, hash)| {
            let key = stored.get(prefix.len()..)?.to_vec();
            let segment = segment_of(ns, &key) as u16;
            (segments.is_empty() || segments.contains(&segment)).then_some(KeyHash { key, hash })
        })
        .collect();
    Ok(KeysPage { keys, next, read })
}

/// This replica's state of each key (`None`: no record, or a corrupt one — which is then
/// queued for repair, never sent).
pub fn fetch(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    keys: Vec<Vec<u8>>,
) -> Vec<KeyObject> {
    keys.into_iter()
        .map(|key| {
            let stored = encode_data_key(ns.0, partition.0, &key);
            let object = match ctx.storage.get(&stored) {
                Ok(Some(bytes)) => record::decode_object(&bytes)
                    .map_err(|e| tracing::error!(error = %e, "undecodable object not sent"))
                    .ok(),
                Ok(None) => None,
                Err(e) => {
                    tracing::debug!(error = %e, "key not read for anti-entropy");
                    None
                }
            };
            KeyObject { key, object }
        })
        .collect()
}

/// Merges each state into this replica's (one atomic read-merge-write per key, the same path a
/// replicated write takes). Returns how many keys changed, or the first failure after trying
/// every key.
pub fn merge(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    objects: Vec<(Vec<u8>, Object)>,
) -> Result<u32, String> {
    let mut changed = 0;
    let mut failure = None;
    for (key, object) in objects {
        let stored = encode_data_key(ns.0, partition.0, &key);
        let mutation = Mutation::Merge(object);
        match crate::driver::apply(
            ctx.storage.as_ref(),
            &stored,
            &mutation,
            ctx.max_object_bytes,
            &ctx.metrics,
        ) {
            StorageResult::Applied { changed: true, .. } => changed += 1,
            StorageResult::Applied { .. } => {}
            other => {
                failure.get_or_insert_with(|| format!("merge failed: {other:?}"));
            }
        }
    }
    match failure {
        Some(reason) => Err(reason),
        None => Ok(changed),
    }
}

/// Deletes each tombstone whose record still has exactly the given hash (a key written since
/// it was listed keeps its new state). Returns how many records were removed.
pub fn purge(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    tombstones: &[KeyHash],
) -> Result<u32, StorageError> {
    let mut removed = 0;
    for t in tombstones {
        let stored = encode_data_key(ns.0, partition.0, &t.key);
        let Some(payload) = ctx.storage.get(&stored)? else {
            continue;
        };
        if record_hash(&stored, &payload) == t.hash && ctx.storage.remove_if(&stored, &payload)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether this node keeps a hint, for any target, of a key of the partition.
pub fn holds_hints(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
) -> Result<bool, StorageError> {
    let data_prefix = partition_prefix(ns.0, partition.0);
    for target in ctx.layout.nodes() {
        let prefix = encode_hint_key(target.0, &data_prefix);
        if !ctx.storage.scan_prefix(&prefix, None, 1)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The tombstones of a partition (records whose key reads as absent at `now_ms`: deleted, or
/// expired), at most `max`, as `(key, record hash)`. Also returns the records read.
pub fn tombstones(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    now_ms: u64,
    max: usize,
) -> Result<(Vec<KeyHash>, u64), StorageError> {
    const PAGE: usize = 1024;
    let prefix = partition_prefix(ns.0, partition.0);
    let mut found = Vec::new();
    let mut read = 0u64;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = ctx.storage.scan_prefix(&prefix, after.as_deref(), PAGE)?;
        read += page.len() as u64;
        for (stored, payload) in &page {
            let Ok(object) = record::decode_object(payload) else {
                continue;
            };
            if !object.exists(now_ms) {
                found.push(KeyHash {
                    key: stored.get(prefix.len()..).unwrap_or_default().to_vec(),
                    hash: record_hash(stored, payload),
                });
                if found.len() >= max {
                    return Ok((found, read));
                }
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == PAGE => after = Some(last.clone()),
            _ => return Ok((found, read)),
        }
    }
}
