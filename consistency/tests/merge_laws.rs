//! Property tests of the register object's merge: it must be a join (commutative, associative,
//! idempotent), and merging every replica's state must keep exactly the writes that no other
//! write superseded — no acknowledged write disappears, no superseded write comes back.

use std::collections::BTreeSet;

use bytes::Bytes;
use kvorum_consistency::{Dot, Object, Timestamp, VersionVector};
use kvorum_ring::NodeId;
use proptest::prelude::*;

const NODES: usize = 3;

/// One step of a random replication history.
#[derive(Clone, Debug)]
enum Step {
    /// A write coordinated by `node`; `ctx` chooses the causal context the writer acts on.
    Write {
        node: usize,
        ctx: CtxChoice,
        ms: u64,
    },
    /// Replica `to` merges replica `from`'s state.
    Sync { from: usize, to: usize },
}

#[derive(Clone, Debug)]
enum CtxChoice {
    /// The coordinator's own state (a plain RESP SET).
    Local,
    /// The context of an earlier state of any replica (a client writing after a stale read).
    Earlier(usize),
    /// No context at all (a blind write).
    Empty,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..NODES,
            prop_oneof![
                Just(CtxChoice::Local),
                any::<usize>().prop_map(CtxChoice::Earlier),
                Just(CtxChoice::Empty)
            ],
            0..50u64
        )
            .prop_map(|(node, ctx, ms)| Step::Write { node, ctx, ms }),
        (0..NODES, 0..NODES).prop_map(|(from, to)| Step::Sync { from, to }),
    ]
}

/// What a history produced: every intermediate state, and every write with the context it saw.
struct Run {
    replicas: Vec<Object>,
    states: Vec<Object>,
    writes: Vec<(Dot, VersionVector)>,
}

fn run(steps: &[Step]) -> Run {
    let mut replicas = vec![Object::new(); NODES];
    let mut states = vec![Object::new()];
    let mut writes = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Write { node, ctx, ms } => {
                let local = &replicas[*node];
                let seen = match ctx {
                    CtxChoice::Local => local.context().clone(),
                    CtxChoice::Earlier(k) => states[k % states.len()].context().clone(),
                    CtxChoice::Empty => VersionVector::new(),
                };
                let ts = Timestamp {
                    physical_ms: *ms,
                    logical: i as u32,
                };
                let value = Bytes::from(format!("w{i}"));
                let (next, dot) = local.write(NodeId(*node as u64), &seen, Some(value), ts);
                writes.push((dot, seen));
                replicas[*node] = next;
                states.push(replicas[*node].clone());
            }
            Step::Sync { from, to } => {
                replicas[*to] = replicas[*to].merge(&replicas[*from]);
                states.push(replicas[*to].clone());
            }
        }
    }
    Run {
        replicas,
        states,
        writes,
    }
}

fn merge_all<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Object {
    objects
        .into_iter()
        .fold(Object::new(), |acc, o| acc.merge(o))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merge_is_commutative(steps in prop::collection::vec(step(), 0..40), i in any::<usize>(), j in any::<usize>()) {
        let r = run(&steps);
        let (a, b) = (&r.states[i % r.states.len()], &r.states[j % r.states.len()]);
        prop_assert_eq!(a.merge(b), b.merge(a));
    }

    #[test]
    fn merge_is_associative(steps in prop::collection::vec(step(), 0..40), i in any::<usize>(), j in any::<usize>(), k in any::<usize>()) {
        let r = run(&steps);
        let n = r.states.len();
        let (a, b, c) = (&r.states[i % n], &r.states[j % n], &r.states[k % n]);
        prop_assert_eq!(a.merge(b).merge(c), a.merge(&b.merge(c)));
    }

    #[test]
    fn merge_is_idempotent(steps in prop::collection::vec(step(), 0..40), i in any::<usize>(), j in any::<usize>()) {
        let r = run(&steps);
        let (a, b) = (&r.states[i % r.states.len()], &r.states[j % r.states.len()]);
        prop_assert_eq!(a.merge(a), a.clone());
        let ab = a.merge(b);
        prop_assert_eq!(ab.merge(b), ab.clone());
    }

    #[test]
    fn every_state_stays_valid(steps in prop::collection::vec(step(), 0..40)) {
        for state in run(&steps).states {
            prop_assert!(state.validate().is_ok());
        }
    }

    /// After full anti-entropy, the siblings are exactly the writes no other write's context
    /// covered: nothing acknowledged is lost, nothing superseded is resurrected.
    #[test]
    fn no_acknowledged_write_disappears(steps in prop::collection::vec(step(), 0..60)) {
        let r = run(&steps);
        let converged = merge_all(&r.replicas);
        let expected: BTreeSet<Dot> = r.writes.iter()
            .filter(|(dot, _)| !r.writes.iter().any(|(_, seen)| seen.covers(*dot)))
            .map(|(dot, _)| *dot)
            .collect();
        let got: BTreeSet<Dot> = converged.siblings().iter().map(|s| s.dot).collect();
        prop_assert_eq!(got, expected);
        // Every write is at least causally accounted for.
        for (dot, _) in &r.writes {
            prop_assert!(converged.context().covers(*dot));
        }
    }

    /// Replicas converge whatever order they merge in.
    #[test]
    fn merge_order_does_not_matter(steps in prop::collection::vec(step(), 0..40)) {
        let r = run(&steps);
        let forward = merge_all(&r.replicas);
        let backward = merge_all(r.replicas.iter().rev());
        prop_assert_eq!(forward, backward);
    }
}
