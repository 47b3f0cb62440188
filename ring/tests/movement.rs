//! Movement when a node joins or leaves: at most 1.3× the unavoidable minimum, and balanced
//! afterwards.
//!
//! `cargo test -p kvorum-ring --test movement -- --nocapture` prints the measured table that
//! docs/PLACEMENT.md reproduces.

mod common;

use common::{assert_balanced, assert_rows_valid, nodes, BITS, WIDTH};
use kvorum_ring::{Layout, NodeId};

/// Allowed movement relative to the minimum.
const MAX_RATIO: f64 = 1.3;

/// One measured change: `(moved at n = 1, 2, 3, ratio to ideal at n = width)`.
fn measure(before: &Layout, after: &Layout, ideal_per_position: f64) -> (Vec<usize>, f64) {
    let moved: Vec<usize> = (1..=usize::from(WIDTH))
        .map(|n| before.moved_replicas(after, n))
        .collect();
    let ideal = ideal_per_position * f64::from(WIDTH);
    let ratio = moved[moved.len() - 1] as f64 / ideal;
    (moved, ratio)
}

#[test]
fn adding_one_node_moves_about_its_fair_share() {
    let q = f64::from(1u32 << BITS);
    println!("join: K -> K+1 | moved n=1 n=2 n=3 | ideal n=3 | ratio | balance dev % after");
    for k in 3..=15usize {
        let all = nodes(k + 1);
        let before = Layout::initial(&all[..k], BITS, WIDTH).expect("initial");
        let after = before.rebalanced(&all).expect("rebalanced");
        assert_rows_valid(&after);
        let dev = assert_balanced(&after);
        let (moved, ratio) = measure(&before, &after, q / (k as f64 + 1.0));
        println!(
            "join {k:>2} -> {:>2} | {:>4} {:>4} {:>4} | {:>7.1} | {ratio:.3} | {dev:.2}",
            k + 1,
            moved[0],
            moved[1],
            moved[2],
            q * f64::from(WIDTH) / (k as f64 + 1.0)
        );
        assert!(
            ratio <= MAX_RATIO,
            "join {k} -> {}: ratio {ratio:.3}",
            k + 1
        );
    }
}

#[test]
fn removing_one_node_moves_about_its_share() {
    let q = f64::from(1u32 << BITS);
    println!("leave: K -> K-1 | moved n=1 n=2 n=3 | ideal n=3 | ratio | balance dev % after");
    for k in 4..=16usize {
        let all = nodes(k);
        let before = Layout::initial(&all, BITS, WIDTH).expect("initial");
        // Remove a node from the middle of the id range.
        let mut rest = all.clone();
        rest.remove(k / 2);
        let after = before.rebalanced(&rest).expect("rebalanced");
        assert_rows_valid(&after);
        let dev = assert_balanced(&after);
        let (moved, ratio) = measure(&before, &after, q / k as f64);
        println!(
            "leave {k:>2} -> {:>2} | {:>4} {:>4} {:>4} | {:>7.1} | {ratio:.3} | {dev:.2}",
            k - 1,
            moved[0],
            moved[1],
            moved[2],
            q * f64::from(WIDTH) / k as f64
        );
        assert!(
            ratio <= MAX_RATIO,
            "leave {k} -> {}: ratio {ratio:.3}",
            k - 1
        );
    }
}

#[test]
fn the_departing_node_can_be_any_member() {
    let q = f64::from(1u32 << BITS);
    let all = nodes(7);
    let before = Layout::initial(&all, BITS, WIDTH).expect("initial");
    for gone in &all {
        let rest: Vec<NodeId> = all.iter().copied().filter(|n| n != gone).collect();
        let after = before.rebalanced(&rest).expect("rebalanced");
        assert_rows_valid(&after);
        assert_balanced(&after);
        let (_, ratio) = measure(&before, &after, q / 7.0);
        assert!(ratio <= MAX_RATIO, "removing {gone}: ratio {ratio:.3}");
    }
}

#[test]
fn a_newcomer_with_the_lowest_id_also_takes_only_its_share() {
    let q = f64::from(1u32 << BITS);
    let before = Layout::initial(&nodes(5), BITS, WIDTH).expect("initial");
    let mut grown = nodes(5);
    grown.push(NodeId(0));
    let after = before.rebalanced(&grown).expect("rebalanced");
    assert_rows_valid(&after);
    assert_balanced(&after);
    let (_, ratio) = measure(&before, &after, q / 6.0);
    assert!(ratio <= MAX_RATIO, "ratio {ratio:.3}");
}

#[test]
fn a_sequence_of_joins_and_leaves_stays_balanced_and_moves_little() {
    let q = f64::from(1u32 << BITS);
    let mut members = nodes(5);
    let mut layout = Layout::initial(&members, BITS, WIDTH).expect("initial");
    // Joins of fresh ids, leaves of original and of newly joined nodes, interleaved.
    let ops: [(bool, u64); 10] = [
        (true, 100),
        (true, 101),
        (false, 1),
        (true, 102),
        (false, 15),
        (false, 100),
        (true, 103),
        (true, 104),
        (false, 101),
        (false, 8),
    ];
    println!("sequence: step | K | moved n=3 | ideal | ratio");
    for (step, (join, id)) in ops.into_iter().enumerate() {
        let k_before = members.len() as f64;
        let ideal_per_position = if join {
            members.push(NodeId(id));
            q / (k_before + 1.0)
        } else {
            members.retain(|n| *n != NodeId(id));
            q / k_before
        };
        let next = layout.rebalanced(&members).expect("rebalanced");
        assert_eq!(next.epoch(), layout.epoch() + 1);
        assert_rows_valid(&next);
        assert_balanced(&next);
        let (moved, ratio) = measure(&layout, &next, ideal_per_position);
        println!(
            "{step:>2} {} n{id:<3} | {:>2} | {:>4} | {:>6.1} | {ratio:.3}",
            if join { "+" } else { "-" },
            members.len(),
            moved[moved.len() - 1],
            ideal_per_position * f64::from(WIDTH)
        );
        assert!(ratio <= MAX_RATIO, "step {step}: ratio {ratio:.3}");
        layout = next;
    }
}

#[test]
fn rebalancing_to_the_same_nodes_moves_nothing() {
    for k in [1, 2, 3, 7, 12] {
        let layout = Layout::initial(&nodes(k), BITS, WIDTH).expect("initial");
        let again = layout.rebalanced(&nodes(k)).expect("rebalanced");
        assert_eq!(again.epoch(), 2);
        assert_eq!(layout.moved_replicas(&again, usize::from(WIDTH)), 0);
        assert!(layout.changes(&again, usize::from(WIDTH)).is_empty());
        for p in 0..layout.partition_count() {
            let p = kvorum_ring::PartitionId(p);
            assert_eq!(layout.row(p), again.row(p), "k {k}");
        }
    }
}

#[test]
fn width_shrinks_with_the_cluster_and_comes_back_when_it_grows() {
    let three = Layout::initial(&nodes(3), BITS, WIDTH).expect("initial");
    let two = three.rebalanced(&nodes(2)).expect("shrink");
    assert_eq!(two.width(), 2);
    assert_eq!(two.configured_width(), WIDTH);
    assert!(two.preference_list(kvorum_ring::PartitionId(0), 3).is_err());
    let four = two.rebalanced(&nodes(4)).expect("grow");
    assert_eq!(four.width(), WIDTH);
    assert_rows_valid(&four);
    assert_balanced(&four);
}

#[test]
fn changes_list_what_handoff_must_copy() {
    let before = Layout::initial(&nodes(4), BITS, WIDTH).expect("initial");
    let after = before.rebalanced(&nodes(5)).expect("rebalanced");
    let newcomer = nodes(5)[4];
    let changes = before.changes(&after, usize::from(WIDTH));
    let added: usize = changes.iter().map(|c| c.added.len()).sum();
    assert_eq!(added, before.moved_replicas(&after, usize::from(WIDTH)));
    for change in &changes {
        assert_eq!(change.added.len(), change.removed.len());
        // On a pure join, only the newcomer gains replicas.
        assert_eq!(
            change.added,
            vec![newcomer],
            "partition {}",
            change.partition
        );
    }
}
