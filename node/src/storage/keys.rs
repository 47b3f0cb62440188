//! Encoding of data keys: `namespace (u32 BE) | partition (u32 BE) | user key`.
//!
//! Why this order: the engines keep keys sorted byte-wise, and big-endian integers sort like the
//! numbers they encode. Putting the namespace and then the partition first makes every partition
//! of every namespace one contiguous key range, so the background work that is per partition —
//! hinted handoff of a partition to its new owner, anti-entropy tree rebuilds and exchanges — is a
//! single `scan_prefix(partition_prefix(ns, p), ..)` instead of a walk over the whole store.
//! A namespace is likewise one range (`namespace_prefix`), which keeps dropping or listing a
//! namespace cheap.
//!
//! The user key follows verbatim (no length prefix): it runs to the end of the stored key, and
//! the fixed-width header means no user key can make one partition's range overlap another's.
//!
//! Hint keys: `HINT_NAMESPACE (u32 BE, = ff ff ff ff) | target node (u64 BE) | data key`.
//! Hints live in the same keyspace as data (the storage trait has one), under a namespace id
//! that real namespaces never use — [`check_namespace`] refuses it. Because the namespace comes
//! first, no data key of a real namespace can equal or fall inside the hint range, and the
//! target node next makes one target's hints one contiguous range ([`hint_target_prefix`]),
//! in data-key order. A scan of the whole keyspace (the empty prefix) does include hints; every
//! data-path scan is per namespace or per partition and so never sees them.

use super::error::StorageError;

/// Length of the `namespace | partition` header in front of every data key.
pub const DATA_KEY_HEADER_LEN: usize = 8;

/// The namespace id reserved for hints. Real namespaces are numbered from 0 and must never reach
/// it; [`check_namespace`] is the check the namespace catalog applies when it assigns an id.
pub const HINT_NAMESPACE: u32 = u32::MAX;

/// Length of the `HINT_NAMESPACE | target node` header in front of every hint key.
pub const HINT_KEY_HEADER_LEN: usize = 4 + 8;

/// Refuses namespace ids the storage layer keeps for itself ([`HINT_NAMESPACE`]) with
/// [`StorageError::ReservedNamespace`]: writing data there would mix it with hints.
pub fn check_namespace(ns: u32) -> Result<(), StorageError> {
    if ns == HINT_NAMESPACE {
        return Err(StorageError::ReservedNamespace { ns });
    }
    Ok(())
}

/// Encodes the storage key of `key` in `partition` of namespace `ns`.
///
/// `ns` must be a real namespace (see [`check_namespace`]); the catalog guarantees that, so the
/// hot path does not check it again.
pub fn encode_data_key(ns: u32, partition: u32, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_KEY_HEADER_LEN + key.len());
    out.extend_from_slice(&partition_prefix(ns, partition));
    out.extend_from_slice(key);
    out
}

/// Splits a storage key into `(namespace, partition, user key)`.
///
/// Fails with [`StorageError::KeyEncoding`] when the key is shorter than the header, which can
/// only mean the key was not written through [`encode_data_key`] (or the store is damaged).
pub fn decode_data_key(stored: &[u8]) -> Result<(u32, u32, &[u8]), StorageError> {
    let too_short = || StorageError::KeyEncoding {
        len: stored.len(),
        needed: DATA_KEY_HEADER_LEN,
    };
    let (ns, rest) = stored.split_first_chunk::<4>().ok_or_else(too_short)?;
    let (partition, key) = rest.split_first_chunk::<4>().ok_or_else(too_short)?;
    Ok((u32::from_be_bytes(*ns), u32::from_be_bytes(*partition), key))
}

/// The prefix shared by every key of one partition of one namespace.
pub fn partition_prefix(ns: u32, partition: u32) -> [u8; DATA_KEY_HEADER_LEN] {
    let mut out = [0u8; DATA_KEY_HEADER_LEN];
    let (ns_part, partition_part) = out.split_at_mut(4);
    ns_part.copy_from_slice(&ns.to_be_bytes());
    partition_part.copy_from_slice(&partition.to_be_bytes());
    out
}

/// The prefix shared by every key of one namespace.
pub fn namespace_prefix(ns: u32) -> [u8; 4] {
    ns.to_be_bytes()
}

/// The prefix shared by every hint (all targets).
pub fn hints_prefix() -> [u8; 4] {
    namespace_prefix(HINT_NAMESPACE)
}

/// The prefix shared by every hint for one target node.
pub fn hint_target_prefix(target: u64) -> [u8; HINT_KEY_HEADER_LEN] {
    let mut out = [0u8; HINT_KEY_HEADER_LEN];
    let (ns_part, target_part) = out.split_at_mut(4);
    ns_part.copy_from_slice(&hints_prefix());
    target_part.copy_from_slice(&target.to_be_bytes());
    out
}

/// Encodes the storage key of the hint for `target` about the data key `data_key`.
pub fn encode_hint_key(target: u64, data_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HINT_KEY_HEADER_LEN + data_key.len());
    out.extend_from_slice(&hint_target_prefix(target));
    out.extend_from_slice(data_key);
    out
}

/// Splits a stored hint key into `(target node, data key)`.
///
/// Fails with [`StorageError::Corrupt`] when the key is not in the hint namespace or is shorter
/// than the hint header — a key not written through [`encode_hint_key`].
pub fn decode_hint_key(stored: &[u8]) -> Result<(u64, &[u8]), StorageError> {
    let not_a_hint = || StorageError::Corrupt {
        what: format!(
            "hint key of {} bytes does not start with the {HINT_KEY_HEADER_LEN}-byte hint header",
            stored.len()
        ),
    };
    let rest = stored
        .strip_prefix(&hints_prefix()[..])
        .ok_or_else(not_a_hint)?;
    let (target, data_key) = rest.split_first_chunk::<8>().ok_or_else(not_a_hint)?;
    Ok((u64::from_be_bytes(*target), data_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_namespace_then_partition_then_key() {
        assert_eq!(
            encode_data_key(1, 2, b"k"),
            vec![0, 0, 0, 1, 0, 0, 0, 2, b'k']
        );
        assert_eq!(partition_prefix(1, 2), [0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(namespace_prefix(0x0102_0304), [1, 2, 3, 4]);
    }

    #[test]
    fn empty_user_key_round_trips() {
        let stored = encode_data_key(7, 9, b"");
        assert_eq!(decode_data_key(&stored), Ok((7, 9, &b""[..])));
    }

    #[test]
    fn short_keys_are_rejected_not_panicked_on() {
        for len in 0..DATA_KEY_HEADER_LEN {
            let stored = vec![0u8; len];
            assert_eq!(
                decode_data_key(&stored),
                Err(StorageError::KeyEncoding {
                    len,
                    needed: DATA_KEY_HEADER_LEN
                })
            );
        }
    }

    #[test]
    fn hint_layout_is_reserved_namespace_then_target_then_data_key() {
        assert_eq!(
            encode_hint_key(0x0102, b"dk"),
            vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 2, b'd', b'k']
        );
        assert_eq!(
            check_namespace(HINT_NAMESPACE),
            Err(StorageError::ReservedNamespace { ns: HINT_NAMESPACE })
        );
        assert_eq!(check_namespace(0), Ok(()));
        assert_eq!(check_namespace(HINT_NAMESPACE - 1), Ok(()));
    }

    #[test]
    fn keys_outside_the_hint_namespace_are_not_hint_keys() {
        for stored in [
            encode_data_key(0, 0, b"key-long-enough"),
            vec![0xff; HINT_KEY_HEADER_LEN - 1],
            vec![],
        ] {
            assert!(matches!(
                decode_hint_key(&stored),
                Err(StorageError::Corrupt { .. })
            ));
        }
    }

    proptest! {
        #[test]
        fn hint_key_round_trip(target: u64, data_key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let stored = encode_hint_key(target, &data_key);
            prop_assert!(stored.starts_with(&hint_target_prefix(target)));
            prop_assert!(stored.starts_with(&hints_prefix()));
            prop_assert_eq!(decode_hint_key(&stored), Ok((target, &data_key[..])));
        }

        /// No data key of a real namespace is a hint key or lies in the hint range, whatever the
        /// partition, user key, target and hinted data key: hints and data never collide, and
        /// per-namespace / per-partition scans never see a hint.
        #[test]
        fn hint_keys_never_collide_with_data_keys(
            ns in 0..HINT_NAMESPACE,
            partition: u32,
            key in proptest::collection::vec(any::<u8>(), 0..32),
            target: u64,
            hinted in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            prop_assert!(check_namespace(ns).is_ok());
            let data = encode_data_key(ns, partition, &key);
            let hint = encode_hint_key(target, &hinted);
            prop_assert_ne!(&data, &hint);
            prop_assert!(!data.starts_with(&hints_prefix()));
            prop_assert!(!hint.starts_with(&namespace_prefix(ns)));
            prop_assert!(!hint.starts_with(&partition_prefix(ns, partition)));
            prop_assert!(data < hint, "hints sort after every real namespace");
        }

        #[test]
        fn round_trip(ns: u32, partition: u32, key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let stored = encode_data_key(ns, partition, &key);
            prop_assert!(stored.starts_with(&partition_prefix(ns, partition)));
            prop_assert!(stored.starts_with(&namespace_prefix(ns)));
            prop_assert_eq!(decode_data_key(&stored), Ok((ns, partition, &key[..])));
        }

        /// Byte order of encoded keys follows (namespace, partition, key) order, which is what
        /// makes a partition one contiguous range.
        #[test]
        fn byte_order_matches_tuple_order(
            a in (any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..8)),
            b in (any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..8)),
        ) {
            let ea = encode_data_key(a.0, a.1, &a.2);
            let eb = encode_data_key(b.0, b.1, &b.2);
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }
    }
}
