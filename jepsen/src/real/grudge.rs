//! Partition shapes as grudges: for each node, the nodes whose packets it drops.
//!
//! A grudge speaks of *inbound* drops only, as Jepsen's does: node `a` dropping `b` stops what `b`
//! sends to `a` and nothing else. That is what makes one-way (asymmetric) partitions expressible;
//! a symmetric cut is simply a grudge on both sides. [`super::nft`] turns a grudge into firewall
//! rules; this module is pure (no I/O) and draws every random choice from one [`SimRng`], so a
//! seed names a partition for good.
//!
//! Nodes are indices `0..nodes`; descriptions number them from 1 (`n1`, `n2`, …) like the
//! namespaces and the node ids of a run.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::sim::rng::SimRng;

/// For each node index, the node indices whose packets it drops (inbound). Nodes absent = drop
/// nothing.
pub type Grudge = BTreeMap<usize, BTreeSet<usize>>;

/// The partition shapes of Jepsen's partition nemeses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// A random shuffle split into ⌊n/2⌋ nodes and the rest (`partition-random-halves`).
    Halves,
    /// One random node isolated from all others (`partition-random-node`, `:one`).
    One,
    /// ⌊n/3⌋ random nodes (at least one) cut off together from the rest (`:minority-third`).
    MinorityThird,
    /// Every node sees a majority, no two nodes see the same one (`partition-majorities-ring`).
    MajoritiesRing,
    /// Two halves, plus one node both halves still talk to (`bridge`).
    Bridge,
    /// A random half drops what the other half sends, but not the other way round.
    Asymmetric,
}

impl Shape {
    pub const ALL: [Shape; 6] = [
        Shape::Halves,
        Shape::One,
        Shape::MinorityThird,
        Shape::MajoritiesRing,
        Shape::Bridge,
        Shape::Asymmetric,
    ];

    /// The shape's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Halves => "halves",
            Shape::One => "one",
            Shape::MinorityThird => "minority-third",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
            Shape::Asymmetric => "asymmetric",
        }
    }

    /// The inverse of [`Shape::name`].
    pub fn parse(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|shape| shape.name() == name)
    }
}

/// One drawn partition: the grudge to apply and what it means for a person reading the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Partition {
    pub grudge: Grudge,
    /// Human form, nodes numbered from 1: `"n1 n2 | n3 n4 n5"`; ring, bridge and asymmetric
    /// partitions say what is special about them.
    pub description: String,
}

/// The complete grudge of `components`: every node drops everything from the nodes outside its
/// own component. Nodes that drop nothing are left out, so "no partition" is the empty grudge.
pub fn complete(components: &[Vec<usize>]) -> Grudge {
    let mut grudge = Grudge::new();
    for (i, component) in components.iter().enumerate() {
        let outside: BTreeSet<usize> = components
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .flat_map(|(_, other)| other.iter().copied())
            .collect();
        if outside.is_empty() {
            continue;
        }
        for &node in component {
            grudge
                .entry(node)
                .or_default()
                .extend(outside.iter().copied());
        }
    }
    grudge
}

/// Draws a partition of `shape` over `nodes` nodes. Shapes that need more nodes than there are
/// (a ring of two) yield the empty grudge and say so.
pub fn partition(shape: Shape, nodes: usize, rng: &mut SimRng) -> Partition {
    let order = shuffled(nodes, rng);
    match shape {
        Shape::Halves => {
            let (small, large) = order.split_at(nodes / 2);
            let components = [small.to_vec(), large.to_vec()];
            Partition {
                grudge: complete(&components),
                description: components_text(&components),
            }
        }
        Shape::One => isolate(&order, 1.min(nodes)),
        Shape::MinorityThird => isolate(&order, (nodes / 3).max(1).min(nodes)),
        Shape::MajoritiesRing => majorities_ring(&order),
        Shape::Bridge => bridge(&order),
        Shape::Asymmetric => asymmetric(&order, rng),
    }
}

/// The first `count` nodes of `order`, cut off together from the rest.
fn isolate(order: &[usize], count: usize) -> Partition {
    let (cut, rest) = order.split_at(count);
    let components = [cut.to_vec(), rest.to_vec()];
    Partition {
        grudge: complete(&components),
        description: components_text(&components),
    }
}

/// Nodes in a random ring; each sees itself and its `k` nearest neighbours on either side, with
/// `k` the smallest number that makes that a majority.
///
/// Jepsen takes, for each node, the window of a majority's size around it: the same as this for
/// four and five nodes. For other sizes that window is lopsided (one node keeps a peer that drops
/// it), and because inbound drops cut a TCP connection both ways, a lopsided view is not a view
/// a node can use. A symmetric window keeps the grudge symmetric for every size: windows of fewer
/// than `n` consecutive ring nodes are all different, so no two nodes see the same majority.
/// Three nodes cannot have a symmetric ring short of everyone seeing everyone, so there the ring
/// loses one link and becomes a path: both ends see the middle node, the middle sees all.
fn majorities_ring(order: &[usize]) -> Partition {
    let n = order.len();
    if n < 3 {
        return Partition {
            grudge: Grudge::new(),
            description: format!("no majorities ring with {n} node(s): nothing dropped"),
        };
    }
    if n == 3 {
        let (a, middle, b) = (order[0], order[1], order[2]);
        let grudge = Grudge::from([(a, BTreeSet::from([b])), (b, BTreeSet::from([a]))]);
        return Partition {
            grudge,
            description: format!(
                "path {} - {} - {}: the ends cannot reach each other, {} reaches both",
                node_name(a),
                node_name(middle),
                node_name(b),
                node_name(middle)
            ),
        };
    }
    let k = (n / 2).div_ceil(2);
    let mut grudge = Grudge::new();
    for (position, &node) in order.iter().enumerate() {
        let sees: BTreeSet<usize> = (0..=2 * k)
            .map(|offset| order[(position + n + offset - k) % n])
            .collect();
        let drops: BTreeSet<usize> = order
            .iter()
            .copied()
            .filter(|other| !sees.contains(other))
            .collect();
        if !drops.is_empty() {
            grudge.insert(node, drops);
        }
    }
    Partition {
        grudge,
        description: format!(
            "ring {}: each node sees itself and {k} neighbour(s) on either side",
            names(order)
        ),
    }
}

/// Jepsen's `bridge`: the halves of `order` cut from each other, except the first node of the
/// second half, which drops nothing and which nobody drops.
fn bridge(order: &[usize]) -> Partition {
    let (first, second) = order.split_at(order.len() / 2);
    let Some((&bridge_node, rest)) = second.split_first() else {
        return Partition {
            grudge: Grudge::new(),
            description: "no nodes: nothing dropped".to_string(),
        };
    };
    let mut grudge = complete(&[first.to_vec(), second.to_vec()]);
    grudge.remove(&bridge_node);
    for drops in grudge.values_mut() {
        drops.remove(&bridge_node);
    }
    grudge.retain(|_, drops| !drops.is_empty());
    Partition {
        grudge,
        description: format!(
            "{} | {}, bridge {} reaches both sides",
            names_sorted(first),
            names_sorted(rest),
            node_name(bridge_node)
        ),
    }
}

/// A random half of `order` drops everything from the other half, which still receives from it.
fn asymmetric(order: &[usize], rng: &mut SimRng) -> Partition {
    let (small, large) = order.split_at(order.len() / 2);
    let (deaf, heard) = if rng.chance(0.5) {
        (small, large)
    } else {
        (large, small)
    };
    let grudge = if heard.is_empty() {
        Grudge::new()
    } else {
        let from: BTreeSet<usize> = heard.iter().copied().collect();
        deaf.iter().map(|&node| (node, from.clone())).collect()
    };
    Partition {
        grudge,
        description: format!(
            "{} drop packets from {}; {} still receive from {} (one way)",
            names_sorted(deaf),
            names_sorted(heard),
            names_sorted(heard),
            names_sorted(deaf)
        ),
    }
}

/// `0..nodes` in a random order (Fisher–Yates).
fn shuffled(nodes: usize, rng: &mut SimRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nodes).collect();
    for i in (1..nodes).rev() {
        order.swap(i, rng.index(i + 1));
    }
    order
}

fn node_name(node: usize) -> String {
    format!("n{}", node + 1)
}

fn names(nodes: &[usize]) -> String {
    nodes
        .iter()
        .map(|&node| node_name(node))
        .collect::<Vec<_>>()
        .join(" ")
}

fn names_sorted(nodes: &[usize]) -> String {
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable();
    names(&sorted)
}

fn components_text(components: &[Vec<usize>]) -> String {
    components
        .iter()
        .map(|component| names_sorted(component))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 4] = [3, 4, 5, 7];
    const SEEDS: u64 = 40;

    fn drops(grudge: &Grudge, a: usize, b: usize) -> bool {
        grudge.get(&a).is_some_and(|set| set.contains(&b))
    }

    /// The nodes `a` hears from, itself included.
    fn view(grudge: &Grudge, a: usize, n: usize) -> BTreeSet<usize> {
        (0..n).filter(|&b| !drops(grudge, a, b)).collect()
    }

    /// Nodes that can hold a conversation with `a` (neither side drops the other).
    fn two_way(grudge: &Grudge, a: usize, n: usize) -> BTreeSet<usize> {
        (0..n)
            .filter(|&b| !drops(grudge, a, b) && !drops(grudge, b, a))
            .collect()
    }

    fn every_partition(shape: Shape, check: impl Fn(usize, &Partition)) {
        for n in SIZES {
            for seed in 0..SEEDS {
                let p = partition(shape, n, &mut SimRng::new(seed));
                for (&node, set) in &p.grudge {
                    assert!(node < n, "{shape:?} n={n}: node {node} out of range");
                    assert!(!set.is_empty(), "{shape:?}: empty entries are left out");
                    assert!(!set.contains(&node), "{shape:?}: {node} drops itself");
                    assert!(set.iter().all(|&other| other < n));
                }
                check(n, &p);
            }
        }
    }

    /// Splits the nodes into groups that talk both ways; asserts the relation is a clean cut.
    fn clean_components(grudge: &Grudge, n: usize) -> Vec<BTreeSet<usize>> {
        let mut components: Vec<BTreeSet<usize>> = Vec::new();
        for a in 0..n {
            let with = two_way(grudge, a, n);
            assert_eq!(with, view(grudge, a, n), "a complete grudge is symmetric");
            if !components.contains(&with) {
                assert!(components.iter().all(|c| c.is_disjoint(&with)));
                components.push(with);
            }
        }
        components
    }

    #[test]
    fn names_round_trip() {
        for shape in Shape::ALL {
            assert_eq!(Shape::parse(shape.name()), Some(shape));
        }
        assert_eq!(Shape::parse("majority"), None);
    }

    #[test]
    fn complete_cuts_every_component_from_the_others() {
        let grudge = complete(&[vec![0, 2], vec![1], vec![3, 4]]);
        assert_eq!(grudge[&0], BTreeSet::from([1, 3, 4]));
        assert_eq!(grudge[&1], BTreeSet::from([0, 2, 3, 4]));
        assert_eq!(grudge[&4], BTreeSet::from([0, 1, 2]));
        assert!(complete(&[vec![0, 1, 2]]).is_empty());
    }

    #[test]
    fn halves_are_two_disjoint_components_covering_all_nodes() {
        every_partition(Shape::Halves, |n, p| {
            let mut sizes: Vec<usize> = clean_components(&p.grudge, n)
                .iter()
                .map(BTreeSet::len)
                .collect();
            sizes.sort_unstable();
            assert_eq!(sizes, vec![n / 2, n - n / 2]);
            let halves: Vec<&str> = p.description.split(" | ").collect();
            assert_eq!(halves.len(), 2);
            assert_eq!(halves[0].split(' ').count(), n / 2, "smaller half first");
        });
    }

    #[test]
    fn one_isolates_exactly_one_node() {
        every_partition(Shape::One, |n, p| {
            let mut sizes: Vec<usize> = clean_components(&p.grudge, n)
                .iter()
                .map(BTreeSet::len)
                .collect();
            sizes.sort_unstable();
            assert_eq!(sizes, vec![1, n - 1]);
        });
    }

    #[test]
    fn minority_third_cuts_off_a_third_together() {
        every_partition(Shape::MinorityThird, |n, p| {
            let mut sizes: Vec<usize> = clean_components(&p.grudge, n)
                .iter()
                .map(BTreeSet::len)
                .collect();
            sizes.sort_unstable();
            let cut = (n / 3).max(1);
            assert_eq!(sizes, vec![cut, n - cut]);
        });
    }

    #[test]
    fn ring_gives_every_node_its_own_majority() {
        every_partition(Shape::MajoritiesRing, |n, p| {
            let majority = n / 2 + 1;
            let views: Vec<BTreeSet<usize>> = (0..n).map(|a| two_way(&p.grudge, a, n)).collect();
            for (a, seen) in views.iter().enumerate() {
                assert!(seen.len() >= majority, "n{} sees {seen:?} of {n}", a + 1);
                assert_eq!(*seen, view(&p.grudge, a, n), "the ring is symmetric");
            }
            let distinct: BTreeSet<&BTreeSet<usize>> = views.iter().collect();
            assert_eq!(distinct.len(), n, "no two nodes see the same majority");
            assert!(views.iter().any(|seen| seen.len() < n), "some link is cut");
        });
    }

    #[test]
    fn bridge_node_reaches_both_halves_which_do_not_reach_each_other() {
        every_partition(Shape::Bridge, |n, p| {
            let bridges: Vec<usize> = (0..n)
                .filter(|&a| two_way(&p.grudge, a, n).len() == n)
                .collect();
            assert_eq!(bridges.len(), 1, "{p:?}");
            let bridge = bridges[0];
            assert!(p.description.contains(&format!("bridge n{}", bridge + 1)));
            let others: Vec<usize> = (0..n).filter(|&a| a != bridge).collect();
            let mut sides: Vec<BTreeSet<usize>> = Vec::new();
            for &a in &others {
                let mut side = two_way(&p.grudge, a, n);
                side.remove(&bridge);
                if !sides.contains(&side) {
                    sides.push(side);
                }
            }
            assert_eq!(sides.len(), 2, "two halves: {p:?}");
            assert!(sides[0].is_disjoint(&sides[1]));
        });
    }

    #[test]
    fn asymmetric_drops_in_one_direction_only() {
        every_partition(Shape::Asymmetric, |n, p| {
            let deaf: BTreeSet<usize> = p.grudge.keys().copied().collect();
            let heard: BTreeSet<usize> = (0..n).filter(|a| !deaf.contains(a)).collect();
            let mut sizes = [deaf.len(), heard.len()];
            sizes.sort_unstable();
            assert_eq!(sizes, [n / 2, n - n / 2]);
            for &a in &deaf {
                assert_eq!(
                    p.grudge[&a], heard,
                    "a deaf node drops the whole other side"
                );
            }
            for &b in &heard {
                assert!(deaf.iter().all(|&a| !drops(&p.grudge, b, a)));
            }
        });
        let deaf_sides: BTreeSet<usize> = (0..SEEDS)
            .map(|seed| {
                partition(Shape::Asymmetric, 5, &mut SimRng::new(seed))
                    .grudge
                    .len()
            })
            .collect();
        assert_eq!(
            deaf_sides,
            BTreeSet::from([2, 3]),
            "either half may be deaf"
        );
    }

    #[test]
    fn a_seed_always_draws_the_same_partition() {
        for shape in Shape::ALL {
            for n in SIZES {
                let draws: BTreeSet<Grudge> = (0..SEEDS)
                    .map(|seed| {
                        let a = partition(shape, n, &mut SimRng::new(seed));
                        assert_eq!(a, partition(shape, n, &mut SimRng::new(seed)));
                        a.grudge
                    })
                    .collect();
                assert!(
                    draws.len() > 1,
                    "{shape:?} n={n}: seeds should vary the draw"
                );
            }
        }
    }

    #[test]
    fn tiny_clusters_get_no_ring_and_no_crash() {
        for shape in Shape::ALL {
            for n in 0..3 {
                let p = partition(shape, n, &mut SimRng::new(1));
                assert!(p.grudge.keys().all(|&a| a < n.max(1)));
            }
        }
        assert!(partition(Shape::MajoritiesRing, 2, &mut SimRng::new(1))
            .grudge
            .is_empty());
    }

    #[test]
    fn descriptions_number_nodes_from_one() {
        let p = partition(Shape::Halves, 5, &mut SimRng::new(3));
        let mut named: Vec<&str> = p
            .description
            .split(' ')
            .filter(|word| *word != "|")
            .collect();
        named.sort_unstable();
        assert_eq!(named, vec!["n1", "n2", "n3", "n4", "n5"]);
    }
}
