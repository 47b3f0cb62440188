//! The causal merge of two lists of dot-tagged versions.
//!
//! A version survives a merge unless the other side's context covers its dot without holding
//! it: the other side saw that write and replaced or removed it. Both lists are sorted by dot
//! with no duplicate, and so is the result.

use crate::version::{Dot, VersionVector};

/// A version named by the dot of the write that made it.
pub trait Dotted: Clone {
    fn dot(&self) -> Dot;

    /// Two replicas disagreeing about one dot's content can only follow a node losing unsynced
    /// data and minting the same dot again; keeping the larger keeps merge commutative.
    fn prefer(&self, other: &Self) -> bool;
}

/// Merges `a` (under context `a_ctx`) with `b` (under `b_ctx`).
pub fn merge<T: Dotted>(a: &[T], a_ctx: &VersionVector, b: &[T], b_ctx: &VersionVector) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.dot() == y.dot() => {
                out.push(if x.prefer(y) { x.clone() } else { y.clone() });
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.dot() < y.dot() => {
                if !b_ctx.covers(x.dot()) {
                    out.push(x.clone());
                }
                i += 1;
            }
            (Some(x), None) => {
                if !b_ctx.covers(x.dot()) {
                    out.push(x.clone());
                }
                i += 1;
            }
            (_, Some(y)) => {
                if !a_ctx.covers(y.dot()) {
                    out.push(y.clone());
                }
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// Keeps at most `max` versions: those ranking highest by `rank`, in dot order. The dropped
/// ones stay covered by the context, so they read as superseded everywhere this state merges
/// and the bound holds on every replica (the choice depends only on the versions, so replicas
/// agree on it). For registers the rank is last-writer-wins order: only writes a plain read
/// would never return are dropped.
pub fn keep_highest<T: Dotted, K: Ord>(versions: &mut Vec<T>, max: usize, rank: impl Fn(&T) -> K) {
    if versions.len() <= max {
        return;
    }
    versions.sort_by_key(|v| std::cmp::Reverse(rank(v)));
    versions.truncate(max);
    versions.sort_by_key(|v| v.dot());
}

/// Whether `versions` is sorted by dot with no duplicate and every dot is in `context`.
pub fn well_formed<T: Dotted>(versions: &[T], context: &VersionVector) -> bool {
    versions.windows(2).all(|w| w[0].dot() < w[1].dot())
        && versions.iter().all(|v| context.covers(v.dot()))
}
