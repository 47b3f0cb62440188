//! Listing the keyspace: the pages behind `SCAN`, `KEYS`, `DBSIZE`, `RANDOMKEY` and `FLUSHDB`.
//!
//! Keys are listed partition by partition, and within a partition in order of their
//! [`key_hash`]. Since a key's partition is the top bits of its hash, the whole keyspace is
//! then in hash order, the same on every node: a `SCAN` cursor is simply the hash to resume at,
//! valid through any node of the cluster and across calls. (Storage keeps a partition's keys in
//! byte order; a page sorts the partition's keys by hash, which costs one read of the partition
//! per page.)
//!
//! One request covers a run of consecutive partitions that share their primaries (in a cluster
//! of N nodes with N replicas, all of them), so a walk costs a round trip per run, not per
//! partition. A page is the union of the pages of those partitions' reachable primaries (a key written
//! with `W=1` is listed while the others catch up), cut to the smallest `limit` hashes so the
//! next page starts where this one ends. A listing reflects each replica's state when it was
//! read: keys created or deleted meanwhile may or may not appear, as with Redis's `SCAN`.

use kvorum_consistency::{record, KeyPage, ListedKey};
use kvorum_ring::{key_hash, NamespaceId, PartitionId};

use crate::storage::{keys, Storage};

/// Keys read from storage per scan call while building a page.
const SCAN_BATCH: usize = 1024;

/// The live keys of partitions `first..end` of `ns` in this node's storage, in hash order from
/// `from_hash` on, at most `limit` (more when several keys share the last hash, so a page never
/// splits a hash). The page's `next` is set when a partition had more; a page that ends the
/// range has none.
pub fn list_local(
    storage: &dyn Storage,
    ns: NamespaceId,
    (first, end): (PartitionId, PartitionId),
    partition_bits: u8,
    from_hash: u64,
    limit: usize,
    now_ms: u64,
) -> Result<KeyPage, String> {
    let limit = limit.max(1);
    let mut keys = Vec::new();
    let end = end.0.max(first.0 + 1);
    for partition in first.0..end {
        let room = limit.saturating_sub(keys.len()).max(1);
        let page = list_partition(storage, ns, PartitionId(partition), from_hash, room, now_ms)?;
        keys.extend(page.keys);
        if page.next.is_some() {
            return Ok(KeyPage {
                keys,
                next: page.next,
            });
        }
        if keys.len() >= limit {
            // This partition is done exactly: the next page starts with the next one.
            let next =
                (partition + 1 < end).then(|| partition_start(partition + 1, partition_bits));
            return Ok(KeyPage { keys, next });
        }
    }
    Ok(KeyPage { keys, next: None })
}

/// The smallest hash in `partition`.
pub fn partition_start(partition: u32, partition_bits: u8) -> u64 {
    match partition_bits {
        0 => 0,
        bits => u64::from(partition) << (64 - u32::from(bits.min(32))),
    }
}

/// [`list_local`] for one partition.
fn list_partition(
    storage: &dyn Storage,
    ns: NamespaceId,
    partition: PartitionId,
    from_hash: u64,
    limit: usize,
    now_ms: u64,
) -> Result<KeyPage, String> {
    let prefix = keys::partition_prefix(ns.0, partition.0);
    let mut found = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = storage
            .scan_prefix(&prefix, after.as_deref(), SCAN_BATCH)
            .map_err(|e| e.to_string())?;
        let Some(last) = batch.last() else { break };
        after = Some(last.0.clone());
        for (stored_key, stored) in &batch {
            let (_, _, key) = keys::decode_data_key(stored_key).map_err(|e| e.to_string())?;
            let hash = key_hash(ns, key);
            if hash < from_hash {
                continue;
            }
            let object = match record::decode_object(stored) {
                Ok(object) => object,
                Err(e) => {
                    // Anti-entropy repairs it; a listing skips it rather than failing.
                    tracing::warn!(error = %e, "corrupt record skipped by a key listing");
                    continue;
                }
            };
            if let Some(value) = object.read(now_ms) {
                found.push(ListedKey {
                    hash,
                    key: key.to_vec(),
                    kind: value.kind(),
                });
            }
        }
        if batch.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(cut(found, limit))
}

/// The most records `INFO keyspace` counts per call: beyond, counts stop growing (the walk
/// is synchronous with the command).
pub const MAX_COUNTED_KEYS: usize = 1_000_000;

/// Live keys and keys with a TTL per namespace held by this node's replica, for `INFO
/// keyspace`: `(namespace, keys, expires)` for each of `namespaces` that holds any, in the
/// order given. The [`MAX_COUNTED_KEYS`] budget is shared: namespaces after it is spent count
/// nothing.
pub fn count_local(
    storage: &dyn Storage,
    namespaces: &[NamespaceId],
    now_ms: u64,
) -> Vec<(NamespaceId, u64, u64)> {
    let mut out = Vec::new();
    let mut budget = MAX_COUNTED_KEYS;
    for &ns in namespaces {
        let prefix = keys::namespace_prefix(ns.0);
        let (mut count, mut expires) = (0u64, 0u64);
        let mut after: Option<Vec<u8>> = None;
        while budget > 0 {
            let Ok(batch) = storage.scan_prefix(&prefix, after.as_deref(), SCAN_BATCH.min(budget))
            else {
                break;
            };
            budget -= batch.len();
            for (_, stored) in &batch {
                if let Ok(object) = record::decode_object(stored) {
                    if object.exists(now_ms) {
                        count += 1;
                        expires += u64::from(object.expires_at(now_ms).is_some());
                    }
                }
            }
            match batch.last() {
                Some((key, _)) if batch.len() == SCAN_BATCH => after = Some(key.clone()),
                _ => break,
            }
        }
        if count > 0 {
            out.push((ns, count, expires));
        }
    }
    out
}

/// The union of the pages several replicas gave for the same request, cut to `limit`.
pub fn union(pages: Vec<KeyPage>, limit: usize) -> KeyPage {
    // A replica whose page was cut at hash `h` may hold more keys after `h` that another did
    // not list: the union is only complete up to the smallest such cut.
    let horizon = pages.iter().filter_map(|p| p.next).min();
    let mut keys: Vec<ListedKey> = pages
        .into_iter()
        .flat_map(|p| p.keys)
        .filter(|k| horizon.is_none_or(|h| k.hash < h))
        .collect();
    keys.sort_by(|a, b| (a.hash, &a.key).cmp(&(b.hash, &b.key)));
    keys.dedup_by(|a, b| a.hash == b.hash && a.key == b.key);
    let mut page = cut(keys, limit);
    if page.next.is_none() {
        page.next = horizon;
    }
    page
}

/// Sorts by hash and keeps the first `limit` keys (and any that share the last one's hash).
fn cut(mut keys: Vec<ListedKey>, limit: usize) -> KeyPage {
    keys.sort_by(|a, b| (a.hash, &a.key).cmp(&(b.hash, &b.key)));
    let limit = limit.max(1);
    if keys.len() <= limit {
        return KeyPage { keys, next: None };
    }
    let last_hash = keys[limit - 1].hash;
    let end = keys.partition_point(|k| k.hash <= last_hash);
    let next = keys.get(end).map(|k| k.hash);
    keys.truncate(end);
    KeyPage { keys, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvorum_consistency::Kind;

    fn key(hash: u64, name: &str) -> ListedKey {
        ListedKey {
            hash,
            key: name.as_bytes().to_vec(),
            kind: Kind::Register,
        }
    }

    #[test]
    fn a_cut_never_splits_a_hash_and_says_where_to_resume() {
        let page = cut(vec![key(5, "e"), key(1, "a"), key(3, "c"), key(3, "d")], 2);
        let names: Vec<_> = page.keys.iter().map(|k| k.key.clone()).collect();
        assert_eq!(names, vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
        assert_eq!(page.next, Some(5));
        assert_eq!(cut(vec![key(1, "a")], 2).next, None);
    }

    #[test]
    fn pages_over_a_range_of_partitions_walk_every_key_once() {
        use crate::storage::MemStorage;
        use kvorum_consistency::{op, Object, Op, Timestamp};
        use kvorum_ring::{partition_of, NodeId};

        let storage = MemStorage::new();
        let bits = 4;
        let ns = NamespaceId(0);
        let value = op::apply(&Op::set("v"), &Object::new(), NodeId(1), Timestamp::ZERO)
            .map(|a| a.object)
            .unwrap_or_default();
        let names: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
        for name in &names {
            let hash = key_hash(ns, name.as_bytes());
            let stored = keys::encode_data_key(0, partition_of(hash, bits).0, name.as_bytes());
            let bytes = record::encode_object(&value).unwrap_or_default();
            let _ = storage.update(&stored, &mut |_| Ok(Some(bytes.clone())));
        }
        // Walk partitions 0..16 in pages of 7, as a driver would.
        let mut seen = Vec::new();
        let mut from = Some(0u64);
        let mut pages = 0;
        while let Some(at) = from {
            let first = partition_of(at, bits);
            let page = list_local(&storage, ns, (first, PartitionId(16)), bits, at, 7, 0)
                .unwrap_or_default();
            assert!(page.keys.len() <= 7 || page.next.is_some());
            seen.extend(
                page.keys
                    .into_iter()
                    .map(|k| String::from_utf8_lossy(&k.key).into_owned()),
            );
            from = page.next;
            pages += 1;
            assert!(pages < 100);
        }
        seen.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(seen, expected);
        assert!(pages <= 9, "{pages} pages for 50 keys in pages of about 7");
    }

    #[test]
    fn a_union_is_complete_only_up_to_the_earliest_cut() {
        let a = KeyPage {
            keys: vec![key(1, "a"), key(2, "b")],
            next: Some(7),
        };
        let b = KeyPage {
            keys: vec![key(2, "b"), key(8, "h")],
            next: None,
        };
        let page = union(vec![a, b], 10);
        let hashes: Vec<_> = page.keys.iter().map(|k| k.hash).collect();
        assert_eq!(hashes, vec![1, 2]);
        assert_eq!(page.next, Some(7));
    }
}
