//! A map from byte keys to dotted versions: the observed-remove set and map.
//!
//! - A **set** member ([`SetEntries`]) holds only dots: adding a member replaces the dots this
//!   replica holds for it with one new dot; removing it drops the dots it holds. A concurrent add
//!   (a dot the remover never saw) survives the merge: add wins.
//! - A **hash** field ([`HashEntries`]) holds versions with a value each: `HSET` replaces the
//!   versions it saw; concurrent `HSET`s of one field both stay (like register siblings) and a
//!   read takes the highest `(timestamp, node, counter)`; `HDEL` removes what it saw.
//!
//! Entries are sorted by key; an entry with no version is not kept.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::dotted::{self, Dotted};
use crate::hlc::Timestamp;
use crate::version::{Dot, VersionVector};

/// One dotted version of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version<V> {
    pub dot: Dot,
    pub value: V,
}

/// A hash field's value as one write left it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldValue {
    pub ts: Timestamp,
    pub value: Bytes,
}

/// A value kept per version: nothing for set members, the field value for hashes.
pub trait EntryValue: Clone + Eq + std::fmt::Debug {
    fn prefer(&self, other: &Self) -> bool;

    /// Which concurrent versions of one entry to keep when there are too many (see
    /// [`dotted::keep_highest`]).
    fn rank(version: &Version<Self>) -> (Timestamp, Dot);
}

impl EntryValue for () {
    fn prefer(&self, _: &Self) -> bool {
        true
    }

    fn rank(version: &Version<Self>) -> (Timestamp, Dot) {
        (Timestamp::ZERO, version.dot)
    }
}

impl EntryValue for FieldValue {
    fn prefer(&self, other: &Self) -> bool {
        self >= other
    }

    fn rank(version: &Version<Self>) -> (Timestamp, Dot) {
        (version.value.ts, version.dot)
    }
}

impl<V: EntryValue> Dotted for Version<V> {
    fn dot(&self) -> Dot {
        self.dot
    }

    fn prefer(&self, other: &Self) -> bool {
        self.value.prefer(&other.value)
    }
}

/// One key of the map with its surviving versions (never empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<V> {
    pub key: Bytes,
    pub versions: Vec<Version<V>>,
}

/// The entries of a set or a hash, sorted by key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Entries<V>(pub Vec<Entry<V>>);

pub type SetEntries = Entries<()>;
pub type HashEntries = Entries<FieldValue>;

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<V: EntryValue> Entries<V> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry<V>> {
        self.0.iter()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry<V>> {
        self.position(key).ok().map(|i| &self.0[i])
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_ok()
    }

    fn position(&self, key: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|e| e.key.as_ref().cmp(key))
    }

    /// Replaces every version of `key` this replica holds with one new version.
    /// Returns whether the key was present before.
    pub fn put(&mut self, key: Bytes, dot: Dot, value: V) -> bool {
        let version = Version { dot, value };
        match self.position(&key) {
            Ok(i) => {
                self.0[i].versions = vec![version];
                true
            }
            Err(i) => {
                self.0.insert(
                    i,
                    Entry {
                        key,
                        versions: vec![version],
                    },
                );
                false
            }
        }
    }

    /// Removes every version of `key` this replica holds (their dots stay in the context, so the
    /// removal wins over them everywhere). Returns whether the key was present.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.position(key) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes every entry this replica holds.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The causal merge of two replicas' entries under their contexts.
    pub fn merge(
        &self,
        ctx: &VersionVector,
        other: &Entries<V>,
        other_ctx: &VersionVector,
    ) -> Self {
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len().max(b.len()));
        let (mut i, mut j) = (0, 0);
        loop {
            let (mut versions, key) = match (a.get(i), b.get(j)) {
                (None, None) => break,
                (Some(x), Some(y)) if x.key == y.key => {
                    i += 1;
                    j += 1;
                    (
                        dotted::merge(&x.versions, ctx, &y.versions, other_ctx),
                        &x.key,
                    )
                }
                (Some(x), y) if y.is_none_or(|y| x.key < y.key) => {
                    i += 1;
                    (dotted::merge(&x.versions, ctx, &[], other_ctx), &x.key)
                }
                (_, Some(y)) => {
                    j += 1;
                    (dotted::merge(&[], ctx, &y.versions, other_ctx), &y.key)
                }
                // Unreachable: the guards above cover (Some, None) and every (_, Some).
                (Some(_), None) => break,
            };
            dotted::keep_highest(&mut versions, crate::object::MAX_SIBLINGS, V::rank);
            if !versions.is_empty() {
                out.push(Entry {
                    key: key.clone(),
                    versions,
                });
            }
        }
        Entries(out)
    }

    /// Sorted unique keys, non-empty well-formed version lists inside `context`.
    pub fn well_formed(&self, context: &VersionVector) -> bool {
        self.0.windows(2).all(|w| w[0].key < w[1].key)
            && self
                .0
                .iter()
                .all(|e| !e.versions.is_empty() && dotted::well_formed(&e.versions, context))
    }

    /// The number of versions held, over all entries.
    pub fn version_count(&self) -> usize {
        self.0.iter().map(|e| e.versions.len()).sum()
    }
}

impl HashEntries {
    /// A field's value as a read sees it: the version with the highest `(ts, node, counter)`.
    pub fn value(&self, field: &[u8]) -> Option<&Bytes> {
        self.get(field).and_then(field_winner)
    }
}

/// The winning value of a hash entry.
pub fn field_winner(entry: &Entry<FieldValue>) -> Option<&Bytes> {
    entry
        .versions
        .iter()
        .max_by_key(|v| (v.value.ts, v.dot.node, v.dot.counter))
        .map(|v| &v.value.value)
}
