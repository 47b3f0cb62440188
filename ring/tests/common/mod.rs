//! Helpers shared by the integration tests: node sets and the checks every layout must pass.
#![allow(dead_code)]

use kvorum_ring::{Layout, NodeId, PartitionId};

/// Partition bits used by the acceptance tests: Q = 1024.
pub const BITS: u8 = 10;
/// Balanced width used by the acceptance tests.
pub const WIDTH: u8 = 3;

/// `k` nodes with spread-out, non-contiguous ids (1, 8, 15, ...), so nothing depends on ids
/// being `0..k`.
pub fn nodes(k: usize) -> Vec<NodeId> {
    (0..k as u64).map(|i| NodeId(1 + 7 * i)).collect()
}

/// Every row holds every member exactly once (so every preference list is distinct), for every
/// replication factor the layout allows.
pub fn assert_rows_valid(layout: &Layout) {
    layout.validate().expect("layout validates");
    for p in 0..layout.partition_count() {
        for n in 1..=usize::from(layout.width()) {
            let list = layout
                .preference_list(PartitionId(p), n)
                .expect("preference list");
            let mut all: Vec<NodeId> = list.iter().collect();
            assert_eq!(list.primaries.len(), n);
            assert_eq!(all.len(), layout.nodes().len());
            all.sort();
            assert_eq!(all, layout.nodes(), "partition {p} n {n}");
        }
    }
}

/// Largest deviation (in percent of even) of any node's count among the first `n` positions,
/// after checking that every count is `⌊Q·n/K⌋` or `⌈Q·n/K⌉`.
pub fn assert_balanced(layout: &Layout) -> f64 {
    let q = layout.partition_count() as usize;
    let k = layout.nodes().len();
    let mut worst: f64 = 0.0;
    for n in 1..=usize::from(layout.width()) {
        let even = (q * n) as f64 / k as f64;
        let (floor, ceil) = ((q * n) / k, (q * n).div_ceil(k));
        let tolerance = (even * 0.02).max(1.0);
        for (node, count) in layout.ownership(n) {
            assert!(
                (count as f64 - even).abs() <= tolerance,
                "{node} holds {count} of the first {n} positions; even is {even:.2} (K={k})"
            );
            assert!(
                count == floor || count == ceil,
                "{node} holds {count} of the first {n} positions, not {floor} or {ceil} (K={k})"
            );
            worst = worst.max((count as f64 - even).abs() / even * 100.0);
        }
    }
    worst
}
