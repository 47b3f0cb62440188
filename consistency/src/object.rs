//! The stored object of a register key: a dotted-version-vector sibling set.
//!
//! An [`Object`] holds a causal context (a [`VersionVector`]) and the *siblings*: the writes that
//! no other known write has superseded. Each sibling carries the [`Dot`] that names its write, the
//! HLC [`Timestamp`] it was minted at, and its value (or `None` for a delete, a tombstone).
//!
//! - **Writing** ([`Object::write`]) is done by a server, which mints the dot from its own counter:
//!   the new sibling replaces exactly the siblings the writer's context had seen; concurrent ones
//!   stay. A client can never forge or reuse a dot.
//! - **Merging** ([`Object::merge`]) combines two replicas' states: a sibling survives unless the
//!   other side's context covers its dot without holding it (the other side saw it and replaced it).
//!   Merge is commutative, associative and idempotent, so replicas may exchange state in any order,
//!   any number of times, and converge.
//! - **Reading** through RESP sees one value: the sibling with the highest `(timestamp, node)`
//!   ([`Object::winner`]), i.e. HLC last-writer-wins; the full sibling set stays stored so a
//!   causal-context API can show every concurrent write.
//!
//! Invariants (checked by [`Object::validate`] on everything decoded from the network or disk):
//! siblings are sorted by dot with no duplicate, and every sibling's dot is covered by the context.

use bytes::Bytes;
use kvorum_ring::NodeId;
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::hlc::Timestamp;
use crate::version::{Dot, VersionVector};

/// The most siblings one object may hold. Dots are minted by servers, so siblings only pile up
/// from concurrent writes through different coordinators; the bound keeps a pathological key from
/// growing without limit (an object over it is refused on decode).
pub const MAX_SIBLINGS: usize = 1024;

/// One surviving write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sibling {
    pub dot: Dot,
    pub ts: Timestamp,
    /// `None` is a tombstone: the write was a delete.
    pub value: Option<Bytes>,
}

/// A register's replicated state. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    context: VersionVector,
    siblings: Vec<Sibling>,
}

impl Object {
    /// The state of a key nobody wrote.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn context(&self) -> &VersionVector {
        &self.context
    }

    pub fn siblings(&self) -> &[Sibling] {
        &self.siblings
    }

    /// A server-side write coordinated by `node`.
    ///
    /// `seen` is the causal context the writer acts on: the siblings it covers are replaced, the
    /// others are kept as concurrent. (A plain RESP `SET` passes the coordinator's own context, so
    /// it replaces everything the coordinator knows.) Returns the new state and the minted dot.
    pub fn write(
        &self,
        node: NodeId,
        seen: &VersionVector,
        value: Option<Bytes>,
        ts: Timestamp,
    ) -> (Object, Dot) {
        let mut context = self.context.clone();
        context.merge(seen);
        let dot = context.next_dot(node);
        context.add(dot);
        let mut siblings: Vec<Sibling> = self
            .siblings
            .iter()
            .filter(|s| !seen.covers(s.dot))
            .cloned()
            .collect();
        siblings.push(Sibling { dot, ts, value });
        siblings.sort_by_key(|s| s.dot);
        (Object { context, siblings }, dot)
    }

    /// The causal merge of two replicas' states.
    pub fn merge(&self, other: &Object) -> Object {
        let mut context = self.context.clone();
        context.merge(&other.context);
        let mut siblings = Vec::with_capacity(self.siblings.len() + other.siblings.len());
        let (mut a, mut b) = (
            self.siblings.iter().peekable(),
            other.siblings.iter().peekable(),
        );
        loop {
            let next = match (a.peek().copied(), b.peek().copied()) {
                (None, None) => break,
                (Some(x), Some(y)) if x.dot == y.dot => {
                    // The same dot names the same write; should two replicas ever disagree about
                    // it (a node that lost unsynced data and re-minted a counter), keep a
                    // deterministic choice so merge stays commutative.
                    a.next();
                    b.next();
                    Some(if (x.ts, &x.value) >= (y.ts, &y.value) {
                        x
                    } else {
                        y
                    })
                }
                (Some(x), Some(y)) if x.dot < y.dot => {
                    a.next().filter(|s| !other.context.covers(s.dot))
                }
                (Some(_), Some(_)) => b.next().filter(|s| !self.context.covers(s.dot)),
                (Some(_), None) => a.next().filter(|s| !other.context.covers(s.dot)),
                (None, Some(_)) => b.next().filter(|s| !self.context.covers(s.dot)),
            };
            if let Some(s) = next {
                siblings.push(s.clone());
            }
        }
        Object { context, siblings }
    }

    /// The sibling a single-value read returns: highest `(timestamp, node, counter)`.
    pub fn winner(&self) -> Option<&Sibling> {
        self.siblings
            .iter()
            .max_by_key(|s| (s.ts, s.dot.node, s.dot.counter))
    }

    /// The value a single-value read returns: the winner's, unless the winner is a delete.
    pub fn value(&self) -> Option<&Bytes> {
        self.winner().and_then(|s| s.value.as_ref())
    }

    /// The largest timestamp in the object, for clocks to observe.
    pub fn max_timestamp(&self) -> Option<Timestamp> {
        self.siblings.iter().map(|s| s.ts).max()
    }

    /// Checks the invariants listed in the module docs.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.siblings.len() > MAX_SIBLINGS {
            return Err(DecodeError::TooManySiblings {
                count: self.siblings.len(),
                max: MAX_SIBLINGS,
            });
        }
        if !self.context.is_canonical() {
            return Err(DecodeError::Invalid {
                reason: "version vector holds a zero counter",
            });
        }
        if self
            .siblings
            .windows(2)
            .any(|w| matches!(w, [x, y] if x.dot >= y.dot))
        {
            return Err(DecodeError::Invalid {
                reason: "siblings not sorted by dot or duplicated",
            });
        }
        if self.siblings.iter().any(|s| !self.context.covers(s.dot)) {
            return Err(DecodeError::Invalid {
                reason: "sibling dot outside the causal context",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> Timestamp {
        Timestamp {
            physical_ms: ms,
            logical: 0,
        }
    }

    fn put(o: &Object, node: u64, v: &str, ms: u64) -> Object {
        o.write(
            NodeId(node),
            o.context(),
            Some(Bytes::from(v.to_owned())),
            ts(ms),
        )
        .0
    }

    #[test]
    fn a_write_that_saw_the_current_value_replaces_it() {
        let a = put(&Object::new(), 1, "v1", 10);
        let b = put(&a, 1, "v2", 20);
        assert_eq!(b.siblings().len(), 1);
        assert_eq!(b.value().unwrap(), "v2");
    }

    #[test]
    fn concurrent_writes_on_two_nodes_become_siblings_and_lww_picks_the_later() {
        let base = put(&Object::new(), 1, "base", 10);
        let left = put(&base, 1, "left", 30);
        let right = put(&base, 2, "right", 20);
        let merged = left.merge(&right);
        assert_eq!(merged.siblings().len(), 2);
        assert_eq!(merged.value().unwrap(), "left");
        assert_eq!(merged, right.merge(&left));
        // A write that saw both resolves them.
        let resolved = put(&merged, 2, "both", 40);
        assert_eq!(resolved.siblings().len(), 1);
        assert_eq!(resolved.merge(&left).siblings().len(), 1);
    }

    #[test]
    fn a_stale_context_keeps_the_concurrent_sibling() {
        let a = put(&Object::new(), 1, "a", 10);
        // Written at node 1 with an empty context: it has not seen "a".
        let (b, _) = a.write(
            NodeId(1),
            &VersionVector::new(),
            Some(Bytes::from("b")),
            ts(5),
        );
        assert_eq!(b.siblings().len(), 2);
        // LWW by HLC: "a" has the later timestamp.
        assert_eq!(b.value().unwrap(), "a");
    }

    #[test]
    fn a_delete_is_a_tombstone_that_reads_as_absent() {
        let a = put(&Object::new(), 1, "a", 10);
        let (d, _) = a.write(NodeId(2), a.context(), None, ts(20));
        assert_eq!(d.value(), None);
        assert_eq!(d.siblings().len(), 1);
        // The delete wins over the old value at every replica that merges it.
        assert_eq!(a.merge(&d).value(), None);
    }

    #[test]
    fn validate_rejects_broken_invariants() {
        let mut o = put(&Object::new(), 1, "a", 10);
        assert!(o.validate().is_ok());
        o.context = VersionVector::new();
        assert!(o.validate().is_err());
    }
}
