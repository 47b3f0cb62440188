//! One step of the assignment: pick one node per partition for a single position.
//!
//! The problem solved here is a minimum-cost *b-matching*: every partition takes exactly one
//! node that it does not already hold, node `i` is taken exactly `quota[i]` times, and taking a
//! node costs 0 when it is a *candidate* for that partition (it was in the previous layout's
//! prefix of the same length) and 1 otherwise. Cost is therefore "replica slots that move".
//!
//! How it is solved, and why each stage exists:
//!
//! 1. **Greedy candidates.** Each partition takes a candidate that still has quota, most
//!    constrained partitions first (see [`Step::greedy`]). In a steady cluster this alone is
//!    the answer; after a join or leave it is usually already optimal.
//! 2. **Greedy fill.** A partition left empty takes the node with the most quota left that it
//!    may hold (cost 1).
//! 3. **Augmenting paths.** If no such node exists, a breadth-first search over nodes finds a
//!    chain of reassignments (`p` takes `a`, one of `a`'s partitions takes `b`, ...) ending at a
//!    node with quota left. This makes the matching perfect whenever one exists.
//! 4. **Negative-cycle cancelling.** The matching is optimal exactly when no cycle of
//!    reassignments lowers the cost. Because every partition is assigned to one node, such
//!    cycles can be searched on a graph of only the `K` nodes (edge `x → y`: the cheapest
//!    partition of `x` that could move to `y`), with Bellman-Ford. Each cancelled cycle lowers
//!    the cost by at least one, so the loop ends. Stages 1 and 2 leave little for it to do,
//!    which is what keeps a rebalance of the largest table well under a second.
//!
//! Everything iterates in index order, so the result is a pure function of the inputs.

/// Marker for "no node chosen yet".
const UNASSIGNED: u32 = u32::MAX;

/// Inputs of one step. Partition `p`, node `i` is entry `p * k + i` of the flat arrays.
pub(crate) struct Step<'a> {
    /// Partition count.
    pub q: usize,
    /// Node count.
    pub k: usize,
    /// `true` where the partition already holds the node at an earlier position.
    pub member: &'a [bool],
    /// Preference rank of the node for the partition (lower is better); a rank below
    /// `candidate_below` makes the node a zero-cost candidate.
    pub rank: &'a [u32],
    /// See `rank`.
    pub candidate_below: u32,
    /// How many partitions each node must take at this position.
    pub quota: &'a [u32],
}

impl Step<'_> {
    fn allowed(&self, p: usize, i: usize) -> bool {
        !self.member[p * self.k + i]
    }

    fn cost(&self, p: usize, i: usize) -> i32 {
        i32::from(self.rank[p * self.k + i] >= self.candidate_below)
    }

    fn rank_of(&self, p: usize, i: usize) -> u32 {
        self.rank[p * self.k + i]
    }

    /// The chosen node index for every partition.
    ///
    /// Every partition gets one: the caller fills fewer than `k` positions, so each partition
    /// always has a node it does not hold yet.
    pub(crate) fn solve(&self) -> Vec<usize> {
        let mut state = State {
            choice: vec![UNASSIGNED; self.q],
            left: self.quota.to_vec(),
        };
        self.greedy(&mut state, true);
        self.greedy(&mut state, false);
        for p in 0..self.q {
            if state.choice[p] == UNASSIGNED && !self.augment(&mut state, p) {
                self.force(&mut state, p);
            }
        }
        self.cancel_negative_cycles(&mut state);
        state.choice.iter().map(|&c| c as usize).collect()
    }

    /// Stages 1 and 2: every empty partition takes an allowed node with quota, restricted to
    /// candidates when `candidates_only`.
    ///
    /// Order matters for how close the greedy result is to optimal. A node's *slack* is its
    /// quota minus the number of partitions where it is a candidate: positive for a node that
    /// must take partitions it was not in before (a newcomer), negative for one that cannot keep
    /// all it had. Partitions where no slack node may go are served first, and among candidates
    /// the one with the most slack is taken, so over-demanded nodes are left to the partitions
    /// that have no alternative. The fill stage takes the node with the most quota left.
    fn greedy(&self, state: &mut State, candidates_only: bool) {
        let slack = self.slack(state);
        let has_slack_alternative = |p: usize| {
            (0..self.k).any(|i| self.allowed(p, i) && self.cost(p, i) == 1 && slack[i] > 0)
        };
        let (first, second): (Vec<usize>, Vec<usize>) = (0..self.q)
            .filter(|&p| state.choice[p] == UNASSIGNED)
            .partition(|&p| !candidates_only || !has_slack_alternative(p));
        for p in first.into_iter().chain(second) {
            let best = (0..self.k)
                .filter(|&i| self.allowed(p, i) && state.left[i] > 0)
                .filter(|&i| !candidates_only || self.cost(p, i) == 0)
                .min_by_key(|&i| {
                    let preference = if candidates_only {
                        -slack[i]
                    } else {
                        -i64::from(state.left[i])
                    };
                    (preference, self.rank_of(p, i), i)
                });
            if let Some(i) = best {
                state.choice[p] = i as u32;
                state.left[i] -= 1;
            }
        }
    }

    /// Quota left minus the number of still-empty partitions where the node is a candidate.
    fn slack(&self, state: &State) -> Vec<i64> {
        let mut slack: Vec<i64> = state.left.iter().map(|&l| i64::from(l)).collect();
        for p in (0..self.q).filter(|&p| state.choice[p] == UNASSIGNED) {
            for (i, s) in slack.iter_mut().enumerate() {
                if self.allowed(p, i) && self.cost(p, i) == 0 {
                    *s -= 1;
                }
            }
        }
        slack
    }

    /// Stage 3: breadth-first search for a chain of reassignments that frees a slot for `p`.
    fn augment(&self, state: &mut State, p: usize) -> bool {
        let by_node = state.partitions_by_node(self.k);
        // parent[y] = (x, partition that moves from x to y); x == UNASSIGNED marks the start.
        let mut parent: Vec<Option<(u32, usize)>> = vec![None; self.k];
        let mut queue = std::collections::VecDeque::new();
        for i in (0..self.k).filter(|&i| self.allowed(p, i)) {
            parent[i] = Some((UNASSIGNED, p));
            if state.left[i] > 0 {
                state.apply_path(&parent, i);
                return true;
            }
            queue.push_back(i);
        }
        while let Some(x) = queue.pop_front() {
            for &moved in &by_node[x] {
                for y in 0..self.k {
                    if y == x || parent[y].is_some() || !self.allowed(moved, y) {
                        continue;
                    }
                    parent[y] = Some((x as u32, moved));
                    if state.left[y] > 0 {
                        state.apply_path(&parent, y);
                        return true;
                    }
                    queue.push_back(y);
                }
            }
        }
        false
    }

    /// Last resort when no assignment meets every quota (seen only with fewer partitions than
    /// nodes): take the allowed node with the most quota left, so the row stays valid and only
    /// the balance suffers.
    fn force(&self, state: &mut State, p: usize) {
        let pick = (0..self.k)
            .filter(|&i| self.allowed(p, i))
            .max_by_key(|&i| (state.left[i], std::cmp::Reverse(i)));
        if let Some(i) = pick {
            state.choice[p] = i as u32;
            state.left[i] = state.left[i].saturating_sub(1);
        }
    }

    /// Stage 4: cancel cost-lowering cycles of reassignments until none is left.
    ///
    /// `best[x * k + y]` holds the cheapest move of one of `x`'s partitions to `y` as
    /// `(cost change, partition)`. A cancelled cycle only changes the partitions of the nodes on
    /// it, so only their rows are recomputed before looking for the next cycle.
    fn cancel_negative_cycles(&self, state: &mut State) {
        let k = self.k;
        let mut best: Vec<Option<(i32, usize)>> = vec![None; k * k];
        let mut dirty = vec![true; k];
        loop {
            for row in (0..k).filter(|&x| dirty[x]) {
                best[row * k..(row + 1) * k].fill(None);
            }
            for p in 0..self.q {
                let x = state.choice[p] as usize;
                if x >= k || !dirty[x] {
                    continue;
                }
                let base = self.cost(p, x);
                for y in (0..k).filter(|&y| y != x && self.allowed(p, y)) {
                    let delta = self.cost(p, y) - base;
                    let slot = &mut best[x * k + y];
                    if slot.is_none_or(|(d, _)| delta < d) {
                        *slot = Some((delta, p));
                    }
                }
            }
            dirty.fill(false);
            let Some(cycle) = negative_cycle(k, &best) else {
                return;
            };
            for (x, y) in cycle {
                if let Some((_, p)) = best[x * k + y] {
                    state.choice[p] = y as u32;
                }
                dirty[x] = true;
                dirty[y] = true;
            }
        }
    }
}

/// Mutable state of one step.
struct State {
    choice: Vec<u32>,
    left: Vec<u32>,
}

impl State {
    fn partitions_by_node(&self, k: usize) -> Vec<Vec<usize>> {
        let mut by_node = vec![Vec::new(); k];
        for (p, &c) in self.choice.iter().enumerate() {
            if let Some(list) = by_node.get_mut(c as usize) {
                list.push(p);
            }
        }
        by_node
    }

    /// Applies the chain recorded in `parent` that ends at `end`, a node with quota left.
    fn apply_path(&mut self, parent: &[Option<(u32, usize)>], end: usize) {
        self.left[end] -= 1;
        let mut y = end;
        while let Some((x, p)) = parent[y] {
            self.choice[p] = y as u32;
            if x == UNASSIGNED {
                break;
            }
            y = x as usize;
        }
    }
}

/// A negative-weight simple cycle in the dense node graph `edges` (`edges[x * k + y]`), as its
/// list of edges, found with Bellman-Ford from a virtual source joined to every node.
fn negative_cycle(k: usize, edges: &[Option<(i32, usize)>]) -> Option<Vec<(usize, usize)>> {
    let mut dist = vec![0i64; k];
    let mut pred: Vec<Option<usize>> = vec![None; k];
    let mut last_relaxed = None;
    for _ in 0..k {
        last_relaxed = None;
        for x in 0..k {
            for y in 0..k {
                if let Some((w, _)) = edges[x * k + y] {
                    let through = dist[x] + i64::from(w);
                    if through < dist[y] {
                        dist[y] = through;
                        pred[y] = Some(x);
                        last_relaxed = Some(y);
                    }
                }
            }
        }
        last_relaxed?;
    }
    // Still relaxing after k rounds: walking back k steps lands on the cycle.
    let mut v = last_relaxed?;
    for _ in 0..k {
        v = pred[v]?;
    }
    let start = v;
    let mut cycle = Vec::new();
    loop {
        let u = pred[v]?;
        cycle.push((u, v));
        v = u;
        if v == start {
            break;
        }
    }
    Some(cycle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn total_cost(step: &Step<'_>, choice: &[usize]) -> i32 {
        choice
            .iter()
            .enumerate()
            .map(|(p, &i)| step.cost(p, i))
            .sum()
    }

    #[test]
    fn greedy_misstep_is_repaired_by_cycle_cancelling() {
        // Two partitions, two nodes, one slot each. Partition 0 ranks node 0 first but node 1 is
        // also a candidate; partition 1 only has node 0 as a candidate. Greedy gives partition 0
        // node 0 and leaves partition 1 with a non-candidate; the optimum costs 0.
        let member = vec![false; 4];
        let rank = vec![0, 1, 0, 5];
        let quota = vec![1, 1];
        let step = Step {
            q: 2,
            k: 2,
            member: &member,
            rank: &rank,
            candidate_below: 2,
            quota: &quota,
        };
        let choice = step.solve();
        assert_eq!(choice, vec![1, 0]);
        assert_eq!(total_cost(&step, &choice), 0);
    }

    #[test]
    fn augmenting_path_makes_matching_perfect() {
        // Partition 1 may only take node 0, which greedy already gave to partition 0.
        let member = vec![false, false, false, true];
        let rank = vec![0, 1, 0, 1];
        let quota = vec![1, 1];
        let step = Step {
            q: 2,
            k: 2,
            member: &member,
            rank: &rank,
            candidate_below: 1,
            quota: &quota,
        };
        assert_eq!(step.solve(), vec![1, 0]);
    }
}
