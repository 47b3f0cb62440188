//! Which directed links currently carry messages, and the partition shapes the nemesis cuts.
//!
//! A link `(from, to)` is *cut* when nothing from `from` reaches `to` (heartbeats included, so
//! failure detection notices) and *gray* when data messages are lost while heartbeats pass (so
//! the sender keeps believing the peer is up and its requests time out).

use std::collections::BTreeSet;

use super::rng::SimRng;

/// Directed link state between node indices.
#[derive(Clone, Debug, Default)]
pub struct Links {
    cut: BTreeSet<(usize, usize)>,
    gray: BTreeSet<(usize, usize)>,
}

impl Links {
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut.contains(&(from, to))
    }

    /// Whether a data message from `from` to `to` is lost on the wire.
    pub fn drops_data(&self, from: usize, to: usize) -> bool {
        self.is_cut(from, to) || self.gray.contains(&(from, to))
    }

    pub fn heal(&mut self) {
        self.cut.clear();
        self.gray.clear();
    }

    pub fn cut(&mut self, from: usize, to: usize) {
        if from != to {
            self.cut.insert((from, to));
        }
    }

    pub fn gray(&mut self, from: usize, to: usize) {
        if from != to {
            self.gray.insert((from, to));
        }
    }

    /// Cuts every link between the two groups, both ways.
    pub fn split(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut(x, y);
                self.cut(y, x);
            }
        }
    }
}

/// A partition the nemesis can apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partition {
    /// Two random halves.
    Halves(Vec<usize>, Vec<usize>),
    /// One node cut off from all others.
    Isolate(usize),
    /// A majority and a minority (the minority holds at most ⌊n/2⌋ nodes).
    MajorityMinority(Vec<usize>, Vec<usize>),
    /// Two groups that cannot talk, and one bridge node that talks to both.
    Bridge {
        bridge: usize,
        left: Vec<usize>,
        right: Vec<usize>,
    },
    /// Messages from `from` to `to` are lost; the other direction works.
    OneWay { from: usize, to: usize },
}

impl Partition {
    /// A random shape over `n` nodes.
    pub fn random(rng: &mut SimRng, n: usize) -> Partition {
        let mut nodes: Vec<usize> = (0..n).collect();
        // Fisher–Yates shuffle.
        for i in (1..nodes.len()).rev() {
            let j = rng.index(i + 1);
            nodes.swap(i, j);
        }
        match rng.below(5) {
            0 => {
                let cut = 1 + rng.index(n.saturating_sub(1).max(1));
                let (a, b) = nodes.split_at(cut.min(n));
                Partition::Halves(a.to_vec(), b.to_vec())
            }
            1 => Partition::Isolate(nodes[0]),
            2 => {
                let minority = 1 + rng.index((n / 2).max(1));
                let (a, b) = nodes.split_at(minority.min(n));
                Partition::MajorityMinority(b.to_vec(), a.to_vec())
            }
            3 if n >= 3 => {
                let bridge = nodes[0];
                let rest = &nodes[1..];
                let half = rest.len() / 2;
                Partition::Bridge {
                    bridge,
                    left: rest[..half.max(1)].to_vec(),
                    right: rest[half.max(1)..].to_vec(),
                }
            }
            _ => Partition::OneWay {
                from: nodes[0],
                to: nodes[1 % n],
            },
        }
    }

    pub fn apply(&self, links: &mut Links, n: usize) {
        match self {
            Partition::Halves(a, b) | Partition::MajorityMinority(a, b) => links.split(a, b),
            Partition::Isolate(x) => {
                let others: Vec<usize> = (0..n).filter(|y| y != x).collect();
                links.split(&[*x], &others);
            }
            Partition::Bridge { left, right, .. } => links.split(left, right),
            Partition::OneWay { from, to } => links.cut(*from, *to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_cut_what_they_say() {
        let mut links = Links::default();
        Partition::Isolate(0).apply(&mut links, 3);
        assert!(links.is_cut(0, 1) && links.is_cut(2, 0) && !links.is_cut(1, 2));
        links.heal();
        Partition::OneWay { from: 1, to: 2 }.apply(&mut links, 3);
        assert!(links.is_cut(1, 2) && !links.is_cut(2, 1));
        links.heal();
        Partition::Bridge {
            bridge: 0,
            left: vec![1],
            right: vec![2],
        }
        .apply(&mut links, 3);
        assert!(links.is_cut(1, 2) && !links.is_cut(0, 1) && !links.is_cut(2, 0));
        links.heal();
        links.gray(0, 1);
        assert!(links.drops_data(0, 1) && !links.is_cut(0, 1));
    }

    #[test]
    fn random_shapes_never_cut_a_node_from_itself() {
        let mut rng = SimRng::new(3);
        for _ in 0..200 {
            let mut links = Links::default();
            Partition::random(&mut rng, 5).apply(&mut links, 5);
            assert!((0..5).all(|i| !links.is_cut(i, i)));
        }
    }
}
