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

/// One write, named by the node that coordinated it and that node's per-key counter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    pub node: NodeId,
    pub counter: u64,
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
    fn zero_counters_are_not_stored() {
        let mut vv = VersionVector::new();
        vv.add(dot(1, 0));
        assert_eq!(vv, VersionVector::new());
        assert!(vv.is_canonical());
    }
}
