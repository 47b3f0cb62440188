//! Property tests over random node-id sets, partition counts and widths: preference lists are
//! always distinct, layouts are deterministic, rebalancing keeps both, and the serde form
//! round-trips.

mod common;

use common::{assert_balanced, assert_rows_valid};
use kvorum_ring::{Layout, NodeId};
use proptest::prelude::*;

fn node_set(max: usize) -> impl Strategy<Value = Vec<NodeId>> {
    prop::collection::btree_set(any::<u64>(), 1..=max)
        .prop_map(|ids| ids.into_iter().map(NodeId).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_preference_list_is_distinct(nodes in node_set(10), bits in 0u8..=7, width in 1u8..=4) {
        let layout = Layout::initial(&nodes, bits, width).expect("initial");
        assert_rows_valid(&layout);
        if layout.partition_count() as usize >= nodes.len() {
            assert_balanced(&layout);
        }
    }

    #[test]
    fn layouts_are_deterministic(nodes in node_set(10), bits in 0u8..=7, width in 1u8..=4) {
        let a = Layout::initial(&nodes, bits, width).expect("initial");
        let mut reversed = nodes.clone();
        reversed.reverse();
        let b = Layout::initial(&reversed, bits, width).expect("initial");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn rebalancing_keeps_lists_distinct_and_is_deterministic(
        before in node_set(10),
        joined in node_set(4),
        leave_mask in any::<u16>(),
        bits in 0u8..=7,
        width in 1u8..=4,
    ) {
        let layout = Layout::initial(&before, bits, width).expect("initial");
        let mut after: Vec<NodeId> = before
            .iter()
            .enumerate()
            .filter(|(i, _)| leave_mask & (1 << i) == 0)
            .map(|(_, n)| *n)
            .collect();
        after.extend(joined.into_iter().filter(|n| !before.contains(n)));
        prop_assume!(!after.is_empty());
        let next = layout.rebalanced(&after).expect("rebalanced");
        assert_rows_valid(&next);
        if next.partition_count() as usize >= after.len() {
            assert_balanced(&next);
        }
        prop_assert_eq!(&next, &layout.rebalanced(&after).expect("rebalanced again"));
    }

    #[test]
    fn serde_round_trips(nodes in node_set(8), bits in 0u8..=6, width in 1u8..=4) {
        let layout = Layout::initial(&nodes, bits, width).expect("initial");
        let bytes = rmp_serde::to_vec(&layout).expect("encode");
        let back: Layout = rmp_serde::from_slice(&bytes).expect("decode");
        prop_assert_eq!(back, layout);
    }
}
