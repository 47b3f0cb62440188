//! The balanced, minimal-movement assignment of nodes to the leading positions of every
//! partition's row.
//!
//! # Method
//!
//! Positions are filled one at a time, `0` to `width - 1`. Before filling position `n - 1` the
//! target for every node is fixed: its count among the first `n` positions of all partitions
//! must be `⌊Q·n/K⌋` or `⌈Q·n/K⌉` (the `⌈⌉` slots go to the nodes that held the most of this
//! prefix in the previous layout, so a steady node keeps its share). The difference between
//! target and the count so far is the node's quota for this position, and
//! [`crate::matching::Step`] picks, per partition, a node it does not hold yet so that every
//! quota is met exactly and as few partitions as possible take a node that was not already in
//! their previous prefix of the same length. That cost is exactly how much the prefix of length
//! `n` moves, so every prefix is balanced *and* each one moves as little as the one before it
//! allows.
//!
//! The remaining positions (`width..K`) are fallbacks in rendezvous order (see
//! [`crate::hash::rendezvous_score`]): deterministic, independent of the rest of the cluster,
//! and not balanced.
//!
//! A first layout has no previous one; it starts from the rendezvous order of every partition
//! as if that were the previous layout, so its rows stay close to plain rendezvous hashing.
//!
//! # Why the balance holds
//!
//! Each prefix target is within one of `Q·n/K`, and every single quota can be met: a node is
//! never asked to appear in more partitions than it is absent from, and since the previous
//! prefix met its own targets, the nodes already above `⌊Q·n/K⌋` never outnumber the `⌈⌉`
//! slots. The matching is perfect whenever one exists. That one exists for all quotas at once
//! is not proven; the tests check it for every shape with at least as many partitions as nodes
//! that they build (up to 2^8 partitions, 12 nodes, width 12, and random node sets), and a
//! wider one-off sweep (2^11 partitions, 40 nodes, width 8) found no exception. With fewer
//! partitions than nodes it can fail (for example 4 partitions, 6 nodes, width 5): the rows
//! still hold distinct nodes and one node ends a slot further from even.

use crate::hash::{rendezvous_order, rendezvous_score};
use crate::id::{NodeId, PartitionId};
use crate::matching::Step;

/// Rank given to nodes that were not in the previous layout: after every previous member.
const NEWCOMER_RANK: u32 = 1 << 31;

/// The layout an assignment starts from.
pub(crate) struct Previous<'a> {
    /// Sorted node list of the previous layout.
    pub nodes: &'a [NodeId],
    /// Its flat table: `nodes.len()` entries per partition.
    pub table: &'a [NodeId],
}

/// Builds the flat table (`q` rows of `nodes.len()` entries) for `nodes`, which must be sorted
/// and distinct, balancing the first `width` positions (`1 <= width <= nodes.len()`).
pub(crate) fn assign(
    q: usize,
    nodes: &[NodeId],
    width: usize,
    previous: Option<Previous<'_>>,
) -> Vec<NodeId> {
    let k = nodes.len();
    let rank = match previous {
        Some(prev) => ranks_from_previous(q, nodes, &prev),
        None => ranks_from_rendezvous(q, nodes),
    };
    let mut table = vec![NodeId(0); q * k];
    let mut member = vec![false; q * k];
    let mut count = vec![0u64; k];
    for n in 1..=width {
        let quota = quotas(q, k, n, &count, &rank);
        let step = Step {
            q,
            k,
            member: &member,
            rank: &rank,
            candidate_below: n as u32,
            quota: &quota,
        };
        for (p, i) in step.solve().into_iter().enumerate() {
            table[p * k + n - 1] = nodes[i];
            member[p * k + i] = true;
            count[i] += 1;
        }
    }
    for p in 0..q {
        let mut rest: Vec<NodeId> = (0..k)
            .filter(|&i| !member[p * k + i])
            .map(|i| nodes[i])
            .collect();
        rendezvous_order(PartitionId(p as u32), &mut rest);
        table[p * k + width..(p + 1) * k].copy_from_slice(&rest);
    }
    table
}

/// Per-position quotas for prefix length `n`, given each node's count in the first `n - 1`.
fn quotas(q: usize, k: usize, n: usize, count: &[u64], rank: &[u32]) -> Vec<u32> {
    let total = (q * n) as u64;
    let base = total / k as u64;
    let extra = total % k as u64;
    let mut target: Vec<u64> = count.iter().map(|&c| c.max(base)).collect();
    let lifted = target.iter().filter(|&&t| t > base).count() as u64;
    // How much of this prefix each node held before: the `⌈⌉` slots go to the largest holders.
    let mut held = vec![0u64; k];
    for row in rank.chunks_exact(k) {
        for (i, &r) in row.iter().enumerate() {
            if (r as usize) < n {
                held[i] += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..k).filter(|&i| target[i] == base).collect();
    order.sort_by(|&a, &b| held[b].cmp(&held[a]).then(a.cmp(&b)));
    for &i in order.iter().take(extra.saturating_sub(lifted) as usize) {
        target[i] += 1;
    }
    target
        .iter()
        .zip(count)
        .map(|(&t, &c)| (t - c) as u32)
        .collect()
}

/// Ranks for a first layout: each partition's rendezvous order.
fn ranks_from_rendezvous(q: usize, nodes: &[NodeId]) -> Vec<u32> {
    let k = nodes.len();
    let mut rank = vec![0u32; q * k];
    let mut scored: Vec<(u64, usize)> = Vec::with_capacity(k);
    for p in 0..q {
        scored.clear();
        scored.extend(
            nodes
                .iter()
                .enumerate()
                .map(|(i, &n)| (rendezvous_score(PartitionId(p as u32), n), i)),
        );
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (pos, &(_, i)) in scored.iter().enumerate() {
            rank[p * k + i] = pos as u32;
        }
    }
    rank
}

/// Ranks relative to a previous layout: a surviving node ranks by its previous position (so a
/// rank below `n` means "was in the previous prefix of length `n`"); newcomers rank after all of
/// them, among themselves in rendezvous order.
fn ranks_from_previous(q: usize, nodes: &[NodeId], prev: &Previous<'_>) -> Vec<u32> {
    let k = nodes.len();
    let old_k = prev.nodes.len();
    let newcomers: Vec<usize> = (0..k)
        .filter(|&i| prev.nodes.binary_search(&nodes[i]).is_err())
        .collect();
    let mut rank = vec![NEWCOMER_RANK; q * k];
    let mut fresh: Vec<(u64, usize)> = Vec::with_capacity(newcomers.len());
    for p in 0..q {
        let row = prev.table.get(p * old_k..(p + 1) * old_k).unwrap_or(&[]);
        for (pos, node) in row.iter().enumerate() {
            if let Ok(i) = nodes.binary_search(node) {
                rank[p * k + i] = pos as u32;
            }
        }
        fresh.clear();
        fresh.extend(
            newcomers
                .iter()
                .map(|&i| (rendezvous_score(PartitionId(p as u32), nodes[i]), i)),
        );
        fresh.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (j, &(_, i)) in fresh.iter().enumerate() {
            rank[p * k + i] = NEWCOMER_RANK + j as u32;
        }
    }
    rank
}
