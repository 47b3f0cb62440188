//! Dots and version vectors: the causal bookkeeping of a stored object.
//!
//! A **dot** `(node, counter)` names one write: the `counter`-th write to this key coordinated by
//! `node`. Dots are minted by servers only (never clients), so a version vector has at most one
//! entry per node of the cluster and stays bounded.
//!
//! A **version vector** maps each node to the highest counter seen from it. Because a node mints
//! its dots for a key in order and always stores its own write before shipping it, "counter ≤ n"
//! for a node means "every write of that node up to n was seen": the vector is a compact causal
//! context.

use std::collections::BTreeMap;

use kvorum_ring::NodeId;
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// One write, named by the node that coordinated it and that node's per-key counter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    pub node: NodeId,
    pub counter: u64,
}

/// The dot no write has: counters start at 1.
impl Default for Dot {
    fn default() -> Self {
        Dot {
            node: NodeId(0),
            counter: 0,
        }
    }
}

/// Highest counter seen per node. Entries with counter 0 are never stored, so two vectors that
/// describe the same knowledge are equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionVector(BTreeMap<NodeId, u64>);

impl VersionVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest counter seen from `node` (0 if none).
    pub fn get(&self, node: NodeId) -> u64 {
        self.0.get(&node).copied().unwrap_or(0)
    }

    /// Whether the write named by `dot` is part of this causal context.
    pub fn covers(&self, dot: Dot) -> bool {
        self.get(dot.node) >= dot.counter
    }

    /// Records that `dot` was seen.
    pub fn add(&mut self, dot: Dot) {
        if dot.counter == 0 {
            return;
        }
        let entry = self.0.entry(dot.node).or_insert(0);
        *entry = (*entry).max(dot.counter);
    }

    /// Pointwise maximum: the knowledge of both.
    pub fn merge(&mut self, other: &VersionVector) {
        for (&node, &counter) in &other.0 {
            self.add(Dot { node, counter });
        }
    }

    /// Whether this vector has seen everything `other` has.
    pub fn descends(&self, other: &VersionVector) -> bool {
        other
            .0
            .iter()
            .all(|(&node, &counter)| self.get(node) >= counter)
    }

    /// The next dot `node` mints after everything in this vector.
    pub fn next_dot(&self, node: NodeId) -> Dot {
        Dot {
            node,
            counter: self.get(node).saturating_add(1),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Dot> + '_ {
        self.0.iter().map(|(&node, &counter)| Dot { node, counter })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the representation is canonical (no zero entries), as the constructors keep it.
    pub(crate) fn is_canonical(&self) -> bool {
        self.0.values().all(|&c| c > 0)
    }
}

/// Version of the causal-context token format (`GETCTX` / `SETCTX`).
pub const CONTEXT_TOKEN_VERSION: u8 = 1;

impl VersionVector {
    /// The opaque token clients get from `GETCTX` and hand back to `SETCTX`: hex of a version
    /// byte followed by the MessagePack encoding of the vector.
    pub fn to_token(&self) -> String {
        let mut bytes = vec![CONTEXT_TOKEN_VERSION];
        // Encoding a map of integers into a Vec cannot fail; an empty token is refused on decode.
        if rmp_serde::encode::write(&mut bytes, self).is_err() {
            return String::new();
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decodes a token from [`VersionVector::to_token`].
    pub fn from_token(token: &str) -> Result<VersionVector, DecodeError> {
        let malformed = |message: &str| DecodeError::Malformed {
            message: message.to_owned(),
        };
        if token.len() % 2 != 0 || token.len() > 64 * 1024 {
            return Err(malformed("context token has a bad length"));
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| {
                token
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| malformed("context token is not hex"))?;
        let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != CONTEXT_TOKEN_VERSION {
            return Err(DecodeError::UnknownVersion {
                found: version,
                supported: CONTEXT_TOKEN_VERSION,
            });
        }
        let vv: VersionVector =
            rmp_serde::from_slice(body).map_err(|e| malformed(&e.to_string()))?;
        if !vv.is_canonical() {
            return Err(malformed("context token holds a zero counter"));
        }
        Ok(vv)
    }
}

impl FromIterator<Dot> for VersionVector {
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut vv = VersionVector::new();
        for dot in iter {
            vv.add(dot);
        }
        vv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(node: u64, counter: u64) -> Dot {
        Dot {
            node: NodeId(node),
            counter,
        }
    }

    #[test]
    fn covers_every_counter_up_to_the_highest_seen() {
        let vv: VersionVector = [dot(1, 3), dot(2, 1)].into_iter().collect();
        assert!(vv.covers(dot(1, 1)) && vv.covers(dot(1, 3)));
        assert!(!vv.covers(dot(1, 4)) && !vv.covers(dot(3, 1)));
        assert_eq!(vv.next_dot(NodeId(1)), dot(1, 4));
        assert_eq!(vv.next_dot(NodeId(9)), dot(9, 1));
    }

    #[test]
    fn merge_is_pointwise_max_and_descends_follows() {
        let mut a: VersionVector = [dot(1, 3), dot(2, 1)].into_iter().collect();
        let b: VersionVector = [dot(1, 2), dot(3, 5)].into_iter().collect();
        assert!(!a.descends(&b) && !b.descends(&a));
        a.merge(&b);
        assert!(a.descends(&b));
        assert_eq!(a.get(NodeId(1)), 3);
        assert_eq!(a.get(NodeId(3)), 5);
    }

    #[test]
    fn context_tokens_round_trip_and_refuse_garbage() {
        let vv: VersionVector = [dot(1, 3), dot(7, 1)].into_iter().collect();
        assert_eq!(VersionVector::from_token(&vv.to_token()), Ok(vv));
        for bad in ["", "0", "zz", "02", "01c1", "ff90"] {
            assert!(VersionVector::from_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_counters_are_not_stored() {
        let mut vv = VersionVector::new();
        vv.add(dot(1, 0));
        assert_eq!(vv, VersionVector::new());
        assert!(vv.is_canonical());
    }
}
