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

use super::error::StorageError;

/// Length of the `namespace | partition` header in front of every data key.
pub const DATA_KEY_HEADER_LEN: usize = 8;

/// Encodes the storage key of `key` in `partition` of namespace `ns`.
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

    proptest! {
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
