//! Behaviour of the hint store as its users see it: round trips, merging, bounds, restarts,
//! crashes and concurrent use, on both engines where the engine matters.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Barrier};

use super::*;
use crate::storage::keys::{encode_data_key, namespace_prefix, HINT_NAMESPACE};
use crate::storage::{MemStorage, SledStorage};

const T1: u64 = 1;
const T2: u64 = 2;

fn data_key(user_key: &str) -> Vec<u8> {
    encode_data_key(0, 3, user_key.as_bytes())
}

fn mem_store(limits: HintLimits) -> (Arc<MemStorage>, HintStore) {
    let storage = Arc::new(MemStorage::new());
    let store = HintStore::open(storage.clone(), limits).unwrap();
    (storage, store)
}

/// Stores `record` as the hint, replacing whatever was there.
fn put(
    store: &HintStore,
    target: u64,
    key: &[u8],
    now_ms: u64,
    record: &[u8],
) -> Result<(), HintError> {
    store.add(target, key, now_ms, &mut |_| Ok(record.to_vec()))
}

/// Appends `suffix` to the existing record, the way a state merge grows it.
fn append(
    store: &HintStore,
    target: u64,
    key: &[u8],
    now_ms: u64,
    suffix: &[u8],
) -> Result<(), HintError> {
    store.add(target, key, now_ms, &mut |old| {
        let mut next = old.unwrap_or_default().to_vec();
        next.extend_from_slice(suffix);
        Ok(next)
    })
}

fn records(store: &HintStore, target: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .pending(target, None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|hint| (hint.data_key, hint.record))
        .collect()
}

/// Bytes one stored hint takes: hint key (12-byte header + data key) plus value (9-byte header
/// + record).
fn footprint(key: &[u8], record: &[u8]) -> u64 {
    u64::try_from(12 + key.len() + 9 + record.len()).unwrap()
}

/// The accounting a fresh open (a full rescan) computes; must equal the live store's.
fn assert_matches_rescan(storage: Arc<dyn Storage>, store: &HintStore) {
    let rescanned = HintStore::open(storage, store.limits()).unwrap();
    let (live, fresh) = (store.stats(), rescanned.stats());
    assert_eq!((live.bytes, live.count), (fresh.bytes, fresh.count));
    assert_eq!(store.backlog(), rescanned.backlog());
}

#[test]
fn add_pending_acknowledge_round_trip() {
    let (storage, store) = mem_store(HintLimits::default());
    let (a, b, c) = (data_key("a"), data_key("b"), data_key("c"));
    put(&store, T1, &c, 30, b"rc").unwrap();
    put(&store, T1, &a, 10, b"ra").unwrap();
    put(&store, T1, &b, 20, b"rb").unwrap();
    put(&store, T2, &a, 40, b"other").unwrap();

    let all = store.pending(T1, None, 10).unwrap();
    assert_eq!(
        all,
        vec![
            Hint {
                target: T1,
                data_key: a.clone(),
                record: b"ra".to_vec(),
                created_ms: 10
            },
            Hint {
                target: T1,
                data_key: b.clone(),
                record: b"rb".to_vec(),
                created_ms: 20
            },
            Hint {
                target: T1,
                data_key: c.clone(),
                record: b"rc".to_vec(),
                created_ms: 30
            },
        ]
    );
    // Paging by data key.
    let first = store.pending(T1, None, 2).unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.pending(T1, Some(&first[1].data_key), 2).unwrap();
    assert_eq!(rest, all[2..].to_vec());

    assert_eq!(
        store.backlog(),
        vec![
            TargetBacklog {
                target: T1,
                hints: 3,
                bytes: footprint(&a, b"ra") * 3,
                oldest_created_ms: 10
            },
            TargetBacklog {
                target: T2,
                hints: 1,
                bytes: footprint(&a, b"other"),
                oldest_created_ms: 40
            },
        ]
    );

    for hint in &all {
        assert!(store.acknowledge(T1, &hint.data_key, &hint.record).unwrap());
    }
    assert!(
        !store.acknowledge(T1, &a, b"ra").unwrap(),
        "a second ack deletes nothing"
    );
    assert!(store.pending(T1, None, 10).unwrap().is_empty());
    assert_eq!(records(&store, T2), vec![(a.clone(), b"other".to_vec())]);
    assert_eq!(store.backlog().len(), 1);
    let stats = store.stats();
    assert_eq!(
        stats,
        HintStats {
            stored: 4,
            merged: 0,
            delivered: 3,
            refused_bytes: 0,
            refused_age: 0,
            bytes: footprint(&a, b"other"),
            count: 1,
        }
    );
    // Hints are invisible to the data path's per-namespace scans.
    assert!(storage
        .scan_prefix(&namespace_prefix(0), None, 10)
        .unwrap()
        .is_empty());
    assert_matches_rescan(storage, &store);
}

#[test]
fn a_merge_keeps_one_hint_and_its_original_creation_time() {
    let (storage, store) = mem_store(HintLimits::default());
    let k = data_key("k");
    append(&store, T1, &k, 100, b"a").unwrap();
    let mut seen = Vec::new();
    store
        .add(T1, &k, 200, &mut |old| {
            seen.push(old.map(<[u8]>::to_vec));
            Ok(b"ab".to_vec())
        })
        .unwrap();
    assert_eq!(seen, vec![Some(b"a".to_vec())]);
    assert_eq!(
        store.pending(T1, None, 10).unwrap(),
        vec![Hint {
            target: T1,
            data_key: k.clone(),
            record: b"ab".to_vec(),
            created_ms: 100
        }]
    );
    let stats = store.stats();
    assert_eq!((stats.stored, stats.merged, stats.count), (1, 1, 1));
    assert_eq!(stats.bytes, footprint(&k, b"ab"));
    assert_matches_rescan(storage, &store);
}

#[test]
fn acknowledging_a_stale_delivery_keeps_the_newer_hint() {
    let (storage, store) = mem_store(HintLimits::default());
    let k = data_key("k");
    append(&store, T1, &k, 1, b"a").unwrap();
    let in_flight = store.pending(T1, None, 1).unwrap();
    // A newer change arrives while the old state is being delivered.
    append(&store, T1, &k, 2, b"b").unwrap();

    assert!(!store.acknowledge(T1, &k, &in_flight[0].record).unwrap());
    assert_eq!(records(&store, T1), vec![(k.clone(), b"ab".to_vec())]);
    assert_eq!(store.stats().delivered, 0);

    assert!(store.acknowledge(T1, &k, b"ab").unwrap());
    assert_eq!(store.stats().count, 0);
    assert_matches_rescan(storage, &store);
}

#[test]
fn over_the_byte_bound_new_changes_are_refused_and_counted_and_old_hints_stay() {
    let (a, b, c) = (data_key("a"), data_key("b"), data_key("c"));
    let one = footprint(&a, b"xxxx");
    let (storage, store) = mem_store(HintLimits {
        max_bytes: 2 * one,
        ..HintLimits::default()
    });
    put(&store, T1, &a, 0, b"xxxx").unwrap();
    put(&store, T2, &b, 0, b"xxxx").unwrap();

    let refused = put(&store, T1, &c, 0, b"xxxx").unwrap_err();
    assert_eq!(
        refused,
        HintError::Refused(HintRefused::TooManyBytes {
            target: T1,
            needed: one,
            stored: 2 * one,
            max_bytes: 2 * one,
        })
    );
    // A merge that grows a hint is refused too; one that does not grow it is accepted.
    assert!(matches!(
        append(&store, T1, &a, 0, b"y"),
        Err(HintError::Refused(HintRefused::TooManyBytes { .. }))
    ));
    put(&store, T1, &a, 0, b"zzzz").unwrap();
    put(&store, T2, &b, 0, b"z").unwrap();

    assert_eq!(records(&store, T1), vec![(a.clone(), b"zzzz".to_vec())]);
    assert_eq!(records(&store, T2), vec![(b.clone(), b"z".to_vec())]);
    let stats = store.stats();
    assert_eq!(
        (stats.refused_bytes, stats.refused_age, stats.count),
        (2, 0, 2)
    );
    assert!(stats.bytes <= 2 * one);

    // Delivering frees room.
    assert!(store.acknowledge(T1, &a, b"zzzz").unwrap());
    put(&store, T1, &c, 0, b"xxxx").unwrap();
    assert_matches_rescan(storage, &store);
}

#[test]
fn a_hint_larger_than_the_whole_budget_is_refused() {
    let (_storage, store) = mem_store(HintLimits {
        max_bytes: 10,
        ..HintLimits::default()
    });
    assert!(matches!(
        put(&store, T1, &data_key("k"), 0, b"v"),
        Err(HintError::Refused(HintRefused::TooManyBytes { .. }))
    ));
    assert_eq!(store.stats().count, 0);
}

#[test]
fn a_target_down_too_long_is_refused_until_its_backlog_is_delivered() {
    let limits = HintLimits {
        max_age_ms: 1_000,
        ..HintLimits::default()
    };
    let (storage, store) = mem_store(limits);
    let (a, b, c) = (data_key("a"), data_key("b"), data_key("c"));
    put(&store, T1, &a, 0, b"1").unwrap();
    put(&store, T1, &b, 1_000, b"1").unwrap(); // exactly at the bound: still accepted

    let refused = put(&store, T1, &c, 1_001, b"1").unwrap_err();
    assert_eq!(
        refused,
        HintError::Refused(HintRefused::TooOld {
            target: T1,
            oldest_ms: 0,
            age_ms: 1_001,
            max_age_ms: 1_000,
        })
    );
    // Merges into the target's existing hints are refused as well, and nothing changes.
    assert!(matches!(
        append(&store, T1, &b, 1_001, b"2"),
        Err(HintError::Refused(HintRefused::TooOld { .. }))
    ));
    assert_eq!(
        records(&store, T1),
        vec![(a.clone(), b"1".to_vec()), (b.clone(), b"1".to_vec())]
    );
    // Other targets are unaffected.
    put(&store, T2, &c, 1_001, b"1").unwrap();
    assert_eq!(store.stats().refused_age, 2);

    // Delivering only the oldest hint moves the target's age to the next one.
    assert!(store.acknowledge(T1, &a, b"1").unwrap());
    put(&store, T1, &c, 1_500, b"1").unwrap();
    assert!(store.acknowledge(T1, &b, b"1").unwrap());
    assert!(store.acknowledge(T1, &c, b"1").unwrap());
    // With the backlog delivered the target accepts hints again, however late.
    put(&store, T1, &a, 99_000, b"2").unwrap();
    assert_eq!(store.backlog()[0].oldest_created_ms, 99_000);
    assert_matches_rescan(storage, &store);
}

#[test]
fn hints_and_their_accounting_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HintLimits {
        max_bytes: 10_000,
        max_age_ms: 1_000,
    };
    let (a, b) = (data_key("a"), data_key("b"));
    let (before_pending, before_backlog, before_stats) = {
        let storage = Arc::new(SledStorage::open(dir.path()).unwrap());
        let store = HintStore::open(storage.clone(), limits).unwrap();
        put(&store, T1, &a, 10, b"ra").unwrap();
        put(&store, T1, &b, 20, b"rb").unwrap();
        append(&store, T1, &b, 30, b"+").unwrap();
        put(&store, T2, &a, 40, b"x").unwrap();
        assert!(store.acknowledge(T2, &a, b"x").unwrap());
        storage.sync().unwrap();
        (
            store.pending(T1, None, 10).unwrap(),
            store.backlog(),
            store.stats(),
        )
    };

    let storage = Arc::new(SledStorage::open(dir.path()).unwrap());
    let store = HintStore::open(storage, limits).unwrap();
    assert_eq!(store.pending(T1, None, 10).unwrap(), before_pending);
    assert!(store.pending(T2, None, 10).unwrap().is_empty());
    assert_eq!(store.backlog(), before_backlog);
    let stats = store.stats();
    assert_eq!(
        (stats.bytes, stats.count),
        (before_stats.bytes, before_stats.count)
    );
    assert_eq!(stats.stored, 0, "counters count since open");
    // Creation times are persisted, so the age bound still applies after the restart.
    assert!(matches!(
        put(&store, T1, &data_key("c"), 1_011, b"1"),
        Err(HintError::Refused(HintRefused::TooOld {
            oldest_ms: 10,
            ..
        }))
    ));
}

#[test]
fn a_crash_loses_only_unsynced_hints_and_acknowledgements() {
    let (storage, store) = mem_store(HintLimits::default());
    let (a, b) = (data_key("a"), data_key("b"));
    put(&store, T1, &a, 1, b"ra").unwrap();
    storage.sync().unwrap();
    put(&store, T1, &b, 2, b"rb").unwrap();
    assert!(store.acknowledge(T1, &a, b"ra").unwrap());

    storage.crash();

    let store = HintStore::open(storage.clone(), HintLimits::default()).unwrap();
    assert_eq!(records(&store, T1), vec![(a.clone(), b"ra".to_vec())]);
    assert_eq!(store.stats().bytes, footprint(&a, b"ra"));
}

#[test]
fn bad_data_keys_are_refused_without_writing() {
    let (storage, store) = mem_store(HintLimits::default());
    assert!(matches!(
        put(&store, T1, b"short", 0, b"v"),
        Err(HintError::Storage(StorageError::KeyEncoding { .. }))
    ));
    let in_hint_namespace = encode_data_key(HINT_NAMESPACE, 0, b"k");
    assert_eq!(
        put(&store, T1, &in_hint_namespace, 0, b"v"),
        Err(HintError::Storage(StorageError::ReservedNamespace {
            ns: HINT_NAMESPACE
        }))
    );
    assert_eq!(storage.pending_writes(), 0);
    assert_eq!(store.stats(), HintStats::default());
}

#[test]
fn a_failing_merge_stores_nothing_and_is_not_a_refusal() {
    let (storage, store) = mem_store(HintLimits::default());
    let k = data_key("k");
    put(&store, T1, &k, 0, b"v").unwrap();
    let failure = StorageError::Rejected {
        reason: "incompatible states".into(),
    };
    let result = store.add(T1, &k, 1, &mut |_| Err(failure.clone()));
    assert_eq!(result, Err(HintError::Storage(failure)));
    assert_eq!(records(&store, T1), vec![(k.clone(), b"v".to_vec())]);
    let stats = store.stats();
    assert_eq!(
        (stats.merged, stats.refused_bytes, stats.refused_age),
        (0, 0, 0)
    );
    assert_matches_rescan(storage, &store);
}

#[test]
fn damaged_or_unknown_version_hints_are_errors_not_guesses() {
    for value in [
        vec![],
        vec![2, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![HINT_FORMAT_VERSION, 0, 0],
    ] {
        let storage = Arc::new(MemStorage::new());
        let key = crate::storage::keys::encode_hint_key(T1, &data_key("k"));
        storage
            .update(&key, &mut |_| Ok(Some(value.clone())))
            .unwrap();
        assert!(matches!(
            HintStore::open(storage.clone(), HintLimits::default()),
            Err(StorageError::Corrupt { .. })
        ));
    }
}

/// Several threads adding, merging and acknowledging hints over a few keys and targets, with a
/// byte bound tight enough to refuse some: afterwards the live accounting equals a rescan, the
/// bound was never exceeded, and every hint stored was either delivered or is still there.
fn concurrent_use_keeps_the_accounting_exact(storage: Arc<dyn Storage>) {
    const THREADS: u64 = 4;
    const OPS: u64 = 300;
    let max_bytes = 5 * footprint(&data_key("k0"), &[0; 6]);
    let store = Arc::new(
        HintStore::open(
            storage.clone(),
            HintLimits {
                max_bytes,
                max_age_ms: u64::MAX,
            },
        )
        .unwrap(),
    );
    let start = Arc::new(Barrier::new(usize::try_from(THREADS).unwrap()));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = Arc::clone(&store);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for op in 0..OPS {
                    let mix = op.wrapping_mul(7).wrapping_add(thread * 13);
                    let target = mix % 3;
                    let key = data_key(&format!("k{}", mix % 5));
                    if mix % 4 == 0 {
                        for hint in store.pending(target, None, 2).unwrap() {
                            store
                                .acknowledge(target, &hint.data_key, &hint.record)
                                .unwrap();
                        }
                    } else {
                        // A state that grows and shrinks, so merges both need and free bytes.
                        let result = store.add(target, &key, op, &mut |old| {
                            std::thread::yield_now();
                            let len = old.map_or(0, <[u8]>::len);
                            Ok(vec![u8::try_from(thread).unwrap(); (len + 1) % 7])
                        });
                        match result {
                            Ok(()) | Err(HintError::Refused(HintRefused::TooManyBytes { .. })) => {}
                            Err(other) => panic!("unexpected error: {other}"),
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let stats = store.stats();
    assert!(stats.bytes <= max_bytes);
    assert_eq!(stats.count, stats.stored - stats.delivered);
    assert!(
        stats.refused_bytes > 0,
        "the bound was tight enough to be reached"
    );
    assert_matches_rescan(storage, &store);
}

#[test]
fn concurrent_use_keeps_the_accounting_exact_in_memory() {
    concurrent_use_keeps_the_accounting_exact(Arc::new(MemStorage::new()));
}

#[test]
fn concurrent_use_keeps_the_accounting_exact_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_use_keeps_the_accounting_exact(Arc::new(SledStorage::open(dir.path()).unwrap()));
}
