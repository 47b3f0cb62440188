//! Balance and shape of layouts: every preference list is distinct, every node's share of each
//! prefix is even to within one slot, and the assignment is deterministic.
//!
//! `cargo test -p kvorum-ring --test balance -- --nocapture` prints the measured deviation.

mod common;

use common::{assert_balanced, assert_rows_valid, nodes, BITS, WIDTH};
use kvorum_ring::{Layout, NodeId, PartitionId};

#[test]
fn first_layouts_for_3_to_16_nodes_are_balanced_at_every_prefix() {
    println!("initial layout, Q=1024, width 3: K | primaries per node (min..max) | worst dev %");
    for k in 3..=16 {
        let layout = Layout::initial(&nodes(k), BITS, WIDTH).expect("initial");
        assert_eq!(layout.epoch(), 1);
        assert_eq!(layout.partition_count(), 1024);
        assert_rows_valid(&layout);
        let dev = assert_balanced(&layout);
        let primaries: Vec<usize> = layout.ownership(1).into_iter().map(|(_, c)| c).collect();
        println!(
            "K={k:>2} | {}..{} | {dev:.2}",
            primaries.iter().min().unwrap_or(&0),
            primaries.iter().max().unwrap_or(&0)
        );
    }
}

#[test]
fn balance_holds_for_other_sizes_and_widths() {
    // Small and odd shapes, including width = node count. Exact balance is promised while there
    // are at least as many partitions as nodes; below that, rows must still be valid.
    for bits in [0u8, 1, 2, 3, 5, 8] {
        for k in 1..=12 {
            for width in [1u8, 2, 3, 5, 12] {
                let layout = Layout::initial(&nodes(k), bits, width).expect("initial");
                assert_eq!(usize::from(layout.width()), usize::from(width).min(k));
                assert_rows_valid(&layout);
                if layout.partition_count() as usize >= k {
                    assert_balanced(&layout);
                }
            }
        }
    }
}

#[test]
fn same_inputs_give_the_same_layout_whatever_the_input_order() {
    let mut shuffled = nodes(9);
    shuffled.reverse();
    shuffled.swap(2, 6);
    let a = Layout::initial(&nodes(9), BITS, WIDTH).expect("initial");
    let b = Layout::initial(&shuffled, BITS, WIDTH).expect("initial");
    assert_eq!(a, b);
    let grown: Vec<NodeId> = nodes(10);
    assert_eq!(
        a.rebalanced(&grown).expect("rebalanced"),
        b.rebalanced(&grown).expect("rebalanced")
    );
}

#[test]
fn fallbacks_follow_rendezvous_order() {
    let layout = Layout::initial(&nodes(8), BITS, WIDTH).expect("initial");
    for p in (0..layout.partition_count()).map(PartitionId) {
        let list = layout.preference_list(p, usize::from(WIDTH)).expect("list");
        let scores: Vec<u64> = list
            .fallbacks
            .iter()
            .map(|&node| kvorum_ring::rendezvous_score(p, node))
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "partition {p}: fallbacks not in descending rendezvous score"
        );
    }
}

#[test]
fn fallbacks_come_after_every_balanced_position() {
    // For n < width, the fallbacks start with the remaining balanced positions, so a sloppy
    // stand-in is first taken from the nodes that own the partition at a larger n.
    let layout = Layout::initial(&nodes(6), BITS, WIDTH).expect("initial");
    let p = PartitionId(17);
    let full = layout.preference_list(p, 3).expect("n=3");
    let one = layout.preference_list(p, 1).expect("n=1");
    assert_eq!(one.primaries, &full.primaries[..1]);
    assert_eq!(&one.fallbacks[..2], &full.primaries[1..]);
    assert_eq!(&one.fallbacks[2..], full.fallbacks);
}
