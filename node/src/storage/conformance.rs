//! The behaviour every [`Storage`] engine must share, written once and run against each engine.
//!
//! An engine's test module defines `fn fixture() -> Fixture` and invokes
//! `conformance_tests!(fixture)`, which expands to one `#[test]` per case below, so a failure
//! names both the engine (by module path) and the broken behaviour.

#![allow(clippy::unwrap_used)]

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{Storage, StorageError, STORAGE_FORMAT_META};

/// A store under test plus whatever must outlive it (e.g. its temporary directory).
pub(crate) struct Fixture {
    storage: Arc<dyn Storage>,
    _keep_alive: Box<dyn Any>,
}

impl Fixture {
    pub(crate) fn new(storage: Arc<dyn Storage>, keep_alive: impl Any) -> Self {
        Self {
            storage,
            _keep_alive: Box::new(keep_alive),
        }
    }

    fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }
}

/// Expands to one `#[test]` per conformance case, each building its store with `$fixture()`.
macro_rules! conformance_tests {
    ($fixture:ident) => {
        $crate::storage::conformance::conformance_tests!(@cases $fixture;
            get_of_missing_key_is_none,
            update_inserts_and_returns_the_new_record,
            update_sees_the_current_record,
            update_returning_none_leaves_the_key_unchanged,
            update_error_propagates_and_leaves_the_key_unchanged,
            remove_if_deletes_only_the_expected_record,
            removed_keys_vanish_from_scans_and_can_be_written_again,
            concurrent_remove_if_deletes_exactly_once,
            scan_returns_only_the_prefix_in_key_order,
            scan_after_is_exclusive_and_pages_through,
            scan_after_outside_the_prefix,
            scan_honours_the_limit,
            meta_is_kept_apart_from_data,
            reserved_meta_names_are_refused,
            sync_succeeds_and_keeps_data_readable,
            concurrent_updates_never_lose_an_increment,
            scan_matches_a_sorted_model,
        );
    };
    (@cases $fixture:ident; $($case:ident),* $(,)?) => {
        mod conformance_suite {
            $(
                #[test]
                fn $case() {
                    $crate::storage::conformance::$case(super::$fixture);
                }
            )*
        }
    };
}
pub(crate) use conformance_tests;

type MakeFixture = fn() -> Fixture;

fn put(s: &dyn Storage, key: &[u8], record: &[u8]) {
    let stored = s.update(key, &mut |_| Ok(Some(record.to_vec()))).unwrap();
    assert_eq!(stored.as_deref(), Some(record));
}

/// Every key in the store, in order (via an unbounded scan of the empty prefix).
pub(crate) fn all_keys(s: &dyn Storage) -> Vec<Vec<u8>> {
    s.scan_prefix(b"", None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn keys_of(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<Vec<u8>> {
    entries.into_iter().map(|(k, _)| k).collect()
}

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

pub(crate) fn get_of_missing_key_is_none(make: MakeFixture) {
    let f = make();
    assert_eq!(f.storage().get(b"nope").unwrap(), None);
}

pub(crate) fn update_inserts_and_returns_the_new_record(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    put(s, b"k", b"v1");
    assert_eq!(s.get(b"k").unwrap(), Some(b"v1".to_vec()));
    put(s, b"k", b"v2");
    assert_eq!(s.get(b"k").unwrap(), Some(b"v2".to_vec()));
}

pub(crate) fn update_sees_the_current_record(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    let mut seen = Vec::new();
    s.update(b"k", &mut |cur| {
        seen.push(cur.map(<[u8]>::to_vec));
        Ok(Some(b"a".to_vec()))
    })
    .unwrap();
    let stored = s
        .update(b"k", &mut |cur| {
            let mut next = cur.unwrap_or_default().to_vec();
            next.push(b'b');
            Ok(Some(next))
        })
        .unwrap();
    assert_eq!(seen.first(), Some(&None));
    assert_eq!(stored, Some(b"ab".to_vec()));
}

pub(crate) fn update_returning_none_leaves_the_key_unchanged(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    assert_eq!(s.update(b"absent", &mut |_| Ok(None)).unwrap(), None);
    assert_eq!(s.get(b"absent").unwrap(), None);

    put(s, b"k", b"v");
    assert_eq!(
        s.update(b"k", &mut |_| Ok(None)).unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(all_keys(s), owned(&[b"k"]));
}

pub(crate) fn update_error_propagates_and_leaves_the_key_unchanged(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    let refuse = || StorageError::Rejected {
        reason: "wrong type".into(),
    };
    put(s, b"k", b"v");
    assert_eq!(s.update(b"k", &mut |_| Err(refuse())), Err(refuse()));
    assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(s.update(b"absent", &mut |_| Err(refuse())), Err(refuse()));
    assert_eq!(s.get(b"absent").unwrap(), None);
}

pub(crate) fn remove_if_deletes_only_the_expected_record(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    assert!(!s.remove_if(b"absent", b"v").unwrap());
    assert_eq!(s.get(b"absent").unwrap(), None);

    put(s, b"k", b"v2");
    // A different record (older, a prefix, empty) is not removed.
    for other in [&b"v1"[..], b"v", b"", b"v22"] {
        assert!(!s.remove_if(b"k", other).unwrap());
        assert_eq!(s.get(b"k").unwrap(), Some(b"v2".to_vec()));
    }
    assert!(s.remove_if(b"k", b"v2").unwrap());
    assert_eq!(s.get(b"k").unwrap(), None);
    // Removing twice is a no-op the second time.
    assert!(!s.remove_if(b"k", b"v2").unwrap());

    // An empty record is a record like any other.
    put(s, b"e", b"");
    assert!(s.remove_if(b"e", b"").unwrap());
    assert_eq!(s.get(b"e").unwrap(), None);
}

pub(crate) fn removed_keys_vanish_from_scans_and_can_be_written_again(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    for key in [&b"p1"[..], b"p2", b"p3"] {
        put(s, key, b"v");
    }
    assert!(s.remove_if(b"p2", b"v").unwrap());
    assert_eq!(
        keys_of(s.scan_prefix(b"p", None, 10).unwrap()),
        owned(&[b"p1", b"p3"])
    );
    let mut seen = Vec::new();
    s.update(b"p2", &mut |cur| {
        seen.push(cur.map(<[u8]>::to_vec));
        Ok(Some(b"again".to_vec()))
    })
    .unwrap();
    assert_eq!(seen, vec![None]);
    assert_eq!(s.get(b"p2").unwrap(), Some(b"again".to_vec()));
    s.sync().unwrap();
    assert_eq!(all_keys(s), owned(&[b"p1", b"p2", b"p3"]));
}

pub(crate) fn concurrent_remove_if_deletes_exactly_once(make: MakeFixture) {
    const THREADS: usize = 4;
    const ROUNDS: usize = 100;
    let f = make();
    let start = Arc::new(std::sync::Barrier::new(THREADS));
    let mut wins = vec![0usize; ROUNDS];
    for (round, won) in wins.iter_mut().enumerate() {
        let key = format!("k{round}").into_bytes();
        put(f.storage(), &key, b"v");
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let s = Arc::clone(&f.storage);
                let start = Arc::clone(&start);
                let key = key.clone();
                std::thread::spawn(move || {
                    start.wait();
                    s.remove_if(&key, b"v").unwrap()
                })
            })
            .collect();
        for handle in handles {
            if handle.join().unwrap() {
                *won += 1;
            }
        }
    }
    assert!(wins.iter().all(|&w| w == 1), "wins per round: {wins:?}");
    assert!(all_keys(f.storage()).is_empty());
}

pub(crate) fn scan_returns_only_the_prefix_in_key_order(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    for key in [&b"b2"[..], b"a", b"b", b"b10", b"b1", b"c", b"b\xff"] {
        put(s, key, key);
    }
    let entries = s.scan_prefix(b"b", None, 100).unwrap();
    for (key, record) in &entries {
        assert_eq!(key, record);
    }
    assert_eq!(
        keys_of(entries),
        owned(&[b"b", b"b1", b"b10", b"b2", b"b\xff"])
    );
    assert_eq!(
        keys_of(s.scan_prefix(b"", None, 100).unwrap()),
        owned(&[b"a", b"b", b"b1", b"b10", b"b2", b"b\xff", b"c"])
    );
    assert!(s.scan_prefix(b"z", None, 100).unwrap().is_empty());
}

pub(crate) fn scan_after_is_exclusive_and_pages_through(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    for key in [&b"p1"[..], b"p2", b"p3", b"p4", b"p5", b"q"] {
        put(s, key, b"v");
    }
    let mut pages = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = keys_of(s.scan_prefix(b"p", after.as_deref(), 2).unwrap());
        let Some(last) = page.last().cloned() else {
            break;
        };
        pages.push(page);
        after = Some(last);
    }
    assert_eq!(
        pages,
        vec![
            owned(&[b"p1", b"p2"]),
            owned(&[b"p3", b"p4"]),
            owned(&[b"p5"])
        ]
    );
    // `after` need not be a stored key.
    assert_eq!(
        keys_of(s.scan_prefix(b"p", Some(b"p25"), 10).unwrap()),
        owned(&[b"p3", b"p4", b"p5"])
    );
}

pub(crate) fn scan_after_outside_the_prefix(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    for key in [&b"a"[..], b"p", b"p1", b"q"] {
        put(s, key, b"v");
    }
    // Before the prefix (including a proper prefix of it): scan from the start of the prefix.
    assert_eq!(
        keys_of(s.scan_prefix(b"p", Some(b"a"), 10).unwrap()),
        owned(&[b"p", b"p1"])
    );
    assert_eq!(
        keys_of(s.scan_prefix(b"p1", Some(b"p"), 10).unwrap()),
        owned(&[b"p1"])
    );
    // After the prefix: nothing.
    assert!(s.scan_prefix(b"p", Some(b"q"), 10).unwrap().is_empty());
}

pub(crate) fn scan_honours_the_limit(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    for key in [&b"k1"[..], b"k2", b"k3"] {
        put(s, key, b"v");
    }
    assert!(s.scan_prefix(b"k", None, 0).unwrap().is_empty());
    assert_eq!(
        keys_of(s.scan_prefix(b"k", None, 1).unwrap()),
        owned(&[b"k1"])
    );
    assert_eq!(s.scan_prefix(b"k", None, usize::MAX).unwrap().len(), 3);
}

pub(crate) fn meta_is_kept_apart_from_data(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    assert_eq!(s.get_meta("layout").unwrap(), None);
    s.put_meta("layout", b"epoch 1").unwrap();
    s.put_meta("layout", b"epoch 2").unwrap();
    assert_eq!(s.get_meta("layout").unwrap(), Some(b"epoch 2".to_vec()));
    assert_eq!(s.get(b"layout").unwrap(), None);
    assert!(all_keys(s).is_empty());

    put(s, b"layout", b"data");
    assert_eq!(s.get_meta("layout").unwrap(), Some(b"epoch 2".to_vec()));
}

pub(crate) fn reserved_meta_names_are_refused(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    let before = s.get_meta(STORAGE_FORMAT_META).unwrap();
    assert_eq!(
        s.put_meta(STORAGE_FORMAT_META, &[99]),
        Err(StorageError::ReservedMeta {
            name: STORAGE_FORMAT_META.to_owned()
        })
    );
    assert_eq!(s.get_meta(STORAGE_FORMAT_META).unwrap(), before);
}

pub(crate) fn sync_succeeds_and_keeps_data_readable(make: MakeFixture) {
    let f = make();
    let s = f.storage();
    put(s, b"k", b"v");
    s.put_meta("m", b"x").unwrap();
    s.sync().unwrap();
    s.sync().unwrap();
    assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(s.get_meta("m").unwrap(), Some(b"x".to_vec()));
    s.size_on_disk().unwrap();
}

pub(crate) fn concurrent_updates_never_lose_an_increment(make: MakeFixture) {
    const THREADS: u64 = 4;
    const INCREMENTS: u64 = 200;
    let f = make();
    let increment = |cur: Option<&[u8]>| -> Result<Option<Vec<u8>>, StorageError> {
        let n = match cur {
            None => 0,
            Some(bytes) => {
                u64::from_be_bytes(bytes.try_into().map_err(|_| StorageError::Corrupt {
                    what: "counter is not 8 bytes".into(),
                })?)
            }
        };
        Ok(Some((n + 1).to_be_bytes().to_vec()))
    };
    let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let s = Arc::clone(&f.storage);
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..INCREMENTS {
                    s.update(b"counter", &mut |cur| {
                        // Widen the read-to-write window so racing writers really overlap.
                        std::thread::yield_now();
                        increment(cur)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(
        f.storage().get(b"counter").unwrap(),
        Some((THREADS * INCREMENTS).to_be_bytes().to_vec())
    );
}

/// Random keys over a tiny alphabet (so prefixes and `after` bounds collide often), checked
/// against a filter over a sorted map.
pub(crate) fn scan_matches_a_sorted_model(make: MakeFixture) {
    let short_key = || proptest::collection::vec(0u8..3, 0..4);
    let strategy = (
        proptest::collection::vec(short_key(), 0..16),
        proptest::collection::vec(0u8..3, 0..3),
        proptest::option::of(short_key()),
        0usize..8,
    );
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(keys, prefix, after, limit)| {
            let f = make();
            let s = f.storage();
            let mut model = BTreeMap::new();
            for (i, key) in keys.iter().enumerate() {
                let record = vec![u8::try_from(i).unwrap_or(u8::MAX)];
                s.update(key, &mut |_| Ok(Some(record.clone()))).unwrap();
                model.insert(key.clone(), record);
            }
            let expected: Vec<(Vec<u8>, Vec<u8>)> = model
                .into_iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
                .take(limit)
                .collect();
            let got = s.scan_prefix(&prefix, after.as_deref(), limit).unwrap();
            prop_assert_eq!(got, expected);
            Ok(())
        })
        .unwrap();
}
