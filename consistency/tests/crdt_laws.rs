//! Property tests of the replicated data types over realistic states: every state comes from a
//! random history of three replicas (nodes 1 to 3) running Redis writes through
//! [`kvorum_consistency::op::apply`] at their own hybrid-logical-clock times, interleaved with
//! random state exchanges (`a.merge(&b)`).
//!
//! Two kinds of property:
//! - **laws**: merge is a join (commutative, associative, idempotent) on every state a history
//!   reaches, every such state is valid, and replicas that exchange everything converge to one
//!   object, whatever ops ran (type changes, TTLs, conversions included);
//! - **no acknowledged update lost**: per type, a model that tracks which replica had seen which
//!   write (independently of the crate's version vectors) predicts the converged value: counters
//!   sum every increment no delete saw, a set keeps a member some add of which no remove saw
//!   (add wins), a hash field and a string keep exactly the writes nothing later saw, and a read
//!   returns the HLC-latest of those.
//!
//! The tests at the end pin down, with minimal histories, the cases where the crate departs from
//! those properties.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kvorum_consistency::crdt::counter::{Float, Number};
use kvorum_consistency::op::{apply, Applied};
use kvorum_consistency::{
    Condition, Data, Dot, ExpireCondition, Hlc, Object, Op, OpError, Outcome, Plain, Timestamp,
    Ttl, Value, VersionVector,
};
use kvorum_ring::NodeId;
use proptest::prelude::*;

const NODES: usize = 3;

/// The shared wall clock's start (ms since the Unix epoch); nodes read it with a skew.
const START_MS: u64 = 1_700_000_000_000;

/// Most steps of one history.
const MAX_STEPS: usize = 30;

const CASES: u32 = 256;

// ---- Histories ---------------------------------------------------------------------------

/// A write as the history generates it; instants are relative to the coordinator's clock.
#[derive(Clone, Debug)]
enum Act {
    Op(Op),
    /// `EXPIRE` to `in_ms` from the coordinator's now (negative: in the past, a delete).
    ExpireIn {
        in_ms: i64,
        condition: ExpireCondition,
    },
    /// `SET value PX in_ms`.
    SetEx {
        value: Bytes,
        in_ms: u64,
    },
    /// `GETEX PX in_ms` (negative: a delete).
    GetExIn {
        in_ms: i64,
    },
    /// `RENAME` of a value onto this key, with an optional TTL `in_ms` from now.
    Replace {
        value: Plain,
        in_ms: Option<u64>,
        if_absent: bool,
    },
}

impl Act {
    fn op(&self, now_ms: u64) -> Op {
        let at = |in_ms: i64| now_ms.saturating_add_signed(in_ms);
        match self {
            Act::Op(op) => op.clone(),
            Act::ExpireIn { in_ms, condition } => Op::Expire {
                at_ms: Some(at(*in_ms)),
                condition: *condition,
            },
            Act::SetEx { value, in_ms } => Op::Set {
                value: value.clone(),
                condition: Condition::Always,
                ttl: Ttl::At(now_ms + in_ms),
                get: false,
            },
            Act::GetExIn { in_ms } => Op::GetEx {
                ttl: Ttl::At(at(*in_ms)),
            },
            Act::Replace {
                value,
                in_ms,
                if_absent,
            } => Op::Replace {
                value: value.clone(),
                expires_at_ms: in_ms.map(|ms| now_ms + ms),
                if_absent: *if_absent,
            },
        }
    }
}

/// One step of a history.
#[derive(Clone, Debug)]
enum Step {
    /// Node `node` (index 0..NODES, `NodeId(node + 1)`) coordinates a write, `tick` ms after the
    /// previous step on the shared wall clock.
    Run { node: usize, act: Act, tick: u64 },
    /// Replica `to` merges replica `from`'s state.
    Sync { from: usize, to: usize },
}

fn history(act: impl Strategy<Value = Act>) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..NODES, act, 0..3u64).prop_map(|(node, act, tick)| Step::Run { node, act, tick }),
        1 => (0..NODES, 0..NODES).prop_map(|(from, to)| Step::Sync { from, to }),
    ];
    prop::collection::vec(step, 0..=MAX_STEPS)
}

/// How far each node's wall clock runs ahead of the shared one.
fn skews() -> impl Strategy<Value = [u64; NODES]> {
    prop::array::uniform3(0..4u64)
}

/// One op as a node ran it.
struct Ran {
    ts: Timestamp,
    before: Object,
    result: Result<Applied, OpError>,
}

impl Ran {
    fn after(&self) -> Option<&Object> {
        self.result.as_ref().ok().map(|a| &a.object)
    }

    fn outcome(&self) -> Option<&Outcome> {
        self.result.as_ref().ok().map(|a| &a.outcome)
    }

    /// The dots this op minted that are still in its result: `(entry key, dot)`, with an empty
    /// key for string siblings.
    fn minted(&self) -> Vec<(Bytes, Dot)> {
        let Some(after) = self.after() else {
            return Vec::new();
        };
        let old = self.before.context();
        dots(after)
            .into_iter()
            .filter(|(_, dot)| !old.covers(*dot))
            .collect()
    }
}

/// Every dot an object holds, with the entry it belongs to (empty for string siblings).
fn dots(object: &Object) -> Vec<(Bytes, Dot)> {
    match object.data() {
        Data::Register(s) => s.iter().map(|s| (Bytes::new(), s.dot)).collect(),
        Data::Set(e) => e
            .iter()
            .flat_map(|e| e.versions.iter().map(|v| (e.key.clone(), v.dot)))
            .collect(),
        Data::Hash(e) => e
            .iter()
            .flat_map(|e| e.versions.iter().map(|v| (e.key.clone(), v.dot)))
            .collect(),
        Data::Counter(_) => Vec::new(),
    }
}

/// Three replicas of one key, their clocks, and what each has seen of the model's events.
struct Cluster {
    replicas: Vec<Object>,
    clocks: Vec<Hlc>,
    skew: [u64; NODES],
    wall: u64,
    /// Per replica, the model events (numbered by the test) whose effect it holds.
    seen: Vec<BTreeSet<usize>>,
    /// Every state any replica went through, the pristine one first.
    states: Vec<Object>,
}

impl Cluster {
    fn new(skew: [u64; NODES]) -> Cluster {
        Cluster {
            replicas: vec![Object::new(); NODES],
            clocks: vec![Hlc::new(); NODES],
            skew,
            wall: START_MS,
            seen: vec![BTreeSet::new(); NODES],
            states: vec![Object::new()],
        }
    }

    /// Node `node` runs `act` at its next clock reading; an accepted op replaces its state.
    fn run(&mut self, node: usize, act: &Act, tick: u64) -> Ran {
        self.wall += tick;
        let ts = self.clocks[node].now(self.wall + self.skew[node]);
        let op = act.op(ts.physical_ms);
        let before = self.replicas[node].clone();
        let result = apply(&op, &before, NodeId(node as u64 + 1), ts);
        if let Ok(applied) = &result {
            self.replicas[node] = applied.object.clone();
            self.states.push(applied.object.clone());
        }
        Ran { ts, before, result }
    }

    /// Replica `to` merges `from`'s state (and its clock observes the timestamps it receives).
    fn sync(&mut self, from: usize, to: usize) {
        let incoming = self.replicas[from].clone();
        if let Some(ts) = incoming.max_timestamp() {
            self.clocks[to].observe(ts);
        }
        self.replicas[to] = self.replicas[to].merge(&incoming);
        self.states.push(self.replicas[to].clone());
        let known = self.seen[from].clone();
        self.seen[to].extend(known);
    }

    /// Records that `node` now holds the effect of model event `event`.
    fn note(&mut self, node: usize, event: usize) {
        self.seen[node].insert(event);
    }

    /// Whether `node` holds the effect of model event `event`.
    fn knows(&self, node: usize, event: usize) -> bool {
        self.seen[node].contains(&event)
    }

    /// Full anti-entropy: every replica merges every other, twice round.
    fn exchange_all(&mut self) {
        for _ in 0..2 {
            for to in 0..NODES {
                for from in 0..NODES {
                    if from != to {
                        self.sync(from, to);
                    }
                }
            }
        }
    }

    /// A wall-clock instant after every op of the history.
    fn later(&self) -> u64 {
        self.wall + 10
    }
}

/// Runs a history with no model attached.
fn play(steps: &[Step], skew: [u64; NODES]) -> Cluster {
    let mut cluster = Cluster::new(skew);
    for step in steps {
        match step {
            Step::Run { node, act, tick } => {
                cluster.run(*node, act, *tick);
            }
            Step::Sync { from, to } => cluster.sync(*from, *to),
        }
    }
    cluster
}

fn merge_all<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Object {
    objects
        .into_iter()
        .fold(Object::new(), |acc, o| acc.merge(o))
}

// ---- Generators --------------------------------------------------------------------------

fn word() -> impl Strategy<Value = Bytes> {
    prop::sample::select(vec!["a", "b", "c", "d"])
        .prop_map(|s: &str| Bytes::from_static(s.as_bytes()))
}

/// String values, half of them numbers so `INCR` converts them.
fn text() -> impl Strategy<Value = Bytes> {
    prop::sample::select(vec!["0", "1", "7", "10", "-3", "2.5", "x", "hello", ""])
        .prop_map(|s: &str| Bytes::from_static(s.as_bytes()))
}

fn small_int() -> impl Strategy<Value = Bytes> {
    (0..10u8).prop_map(|n| Bytes::from(n.to_string()))
}

fn words(max: usize) -> impl Strategy<Value = Vec<Bytes>> {
    prop::collection::vec(word(), 1..=max)
}

/// Distinct fields with integer values.
fn fields() -> impl Strategy<Value = Vec<(Bytes, Bytes)>> {
    prop::collection::btree_map(word(), small_int(), 1..=3).prop_map(|m| m.into_iter().collect())
}

fn quarter() -> impl Strategy<Value = Float> {
    (-8..=8i32).prop_map(|k| Float(f64::from(k) * 0.25))
}

fn expire_condition() -> impl Strategy<Value = ExpireCondition> {
    prop::sample::select(vec![
        ExpireCondition::Always,
        ExpireCondition::IfNone,
        ExpireCondition::IfSome,
        ExpireCondition::IfLater,
        ExpireCondition::IfEarlier,
    ])
}

fn plain() -> impl Strategy<Value = Plain> {
    prop_oneof![
        text().prop_map(Plain::Str),
        prop::collection::btree_set(word(), 0..3).prop_map(|m| Plain::Set(m.into_iter().collect())),
        fields().prop_map(Plain::Hash),
    ]
}

fn string_act() -> BoxedStrategy<Act> {
    let condition = prop::sample::select(vec![
        Condition::Always,
        Condition::IfAbsent,
        Condition::IfPresent,
    ]);
    let ttl = prop::sample::select(vec![Ttl::Keep, Ttl::Clear]);
    prop_oneof![
        (text(), condition, ttl, any::<bool>()).prop_map(|(value, condition, ttl, get)| {
            Act::Op(Op::Set {
                value,
                condition,
                ttl,
                get,
            })
        }),
        text().prop_map(|value| Act::Op(Op::SetSeen {
            value,
            seen: VersionVector::new()
        })),
        (text(), 1..40u64).prop_map(|(value, in_ms)| Act::SetEx { value, in_ms }),
        any::<bool>().prop_map(|get| Act::Op(Op::Delete { get })),
        text().prop_map(|value| Act::Op(Op::Append { value })),
        (0..4u64, text()).prop_map(|(offset, value)| Act::Op(Op::SetRange { offset, value })),
        (-3..=3i64).prop_map(|delta| Act::Op(Op::IncrBy { delta })),
        quarter().prop_map(|delta| Act::Op(Op::IncrByFloat { delta })),
    ]
    .boxed()
}

fn ttl_act() -> BoxedStrategy<Act> {
    prop_oneof![
        (-5..40i64, expire_condition())
            .prop_map(|(in_ms, condition)| Act::ExpireIn { in_ms, condition }),
        Just(Act::Op(Op::Expire {
            at_ms: None,
            condition: ExpireCondition::Always
        })),
        (-5..40i64).prop_map(|in_ms| Act::GetExIn { in_ms }),
        Just(Act::Op(Op::GetEx { ttl: Ttl::Clear })),
    ]
    .boxed()
}

fn collection_act() -> BoxedStrategy<Act> {
    prop_oneof![
        (fields(), any::<bool>())
            .prop_map(|(fields, if_absent)| Act::Op(Op::HSet { fields, if_absent })),
        words(2).prop_map(|fields| Act::Op(Op::HDel { fields })),
        (word(), -3..=3i64).prop_map(|(field, delta)| Act::Op(Op::HIncrBy { field, delta })),
        words(3).prop_map(|members| Act::Op(Op::SAdd { members })),
        words(2).prop_map(|members| Act::Op(Op::SRem { members })),
        (0..3u64, any::<u64>()).prop_map(|(count, seed)| Act::Op(Op::SPop { count, seed })),
        (plain(), prop::option::of(1..40u64), any::<bool>()).prop_map(
            |(value, in_ms, if_absent)| Act::Replace {
                value,
                in_ms,
                if_absent
            }
        ),
    ]
    .boxed()
}

/// Any write of any type.
fn any_act() -> impl Strategy<Value = Act> {
    prop_oneof![3 => string_act(), 1 => ttl_act(), 3 => collection_act()]
}

// ---- Laws --------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn merge_is_commutative(
        steps in history(any_act()),
        skew in skews(),
        (i, j) in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let c = play(&steps, skew);
        let (a, b) = (i.get(&c.states), j.get(&c.states));
        prop_assert_eq!(a.merge(b), b.merge(a));
        for x in &c.replicas {
            for y in &c.replicas {
                prop_assert_eq!(x.merge(y), y.merge(x));
            }
        }
    }

    #[test]
    fn merge_is_associative(
        steps in history(any_act()),
        skew in skews(),
        (i, j, k) in (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
        ),
    ) {
        let c = play(&steps, skew);
        let (a, b, d) = (i.get(&c.states), j.get(&c.states), k.get(&c.states));
        prop_assert_eq!(a.merge(b).merge(d), a.merge(&b.merge(d)));
        let [x, y, z] = [&c.replicas[0], &c.replicas[1], &c.replicas[2]];
        prop_assert_eq!(x.merge(y).merge(z), x.merge(&y.merge(z)));
    }

    #[test]
    fn merge_is_idempotent(
        steps in history(any_act()),
        skew in skews(),
        (i, j) in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let c = play(&steps, skew);
        let (a, b) = (i.get(&c.states), j.get(&c.states));
        prop_assert_eq!(&a.merge(a), a);
        let ab = a.merge(b);
        prop_assert_eq!(ab.merge(b), ab.clone());
        prop_assert_eq!(ab.merge(a), ab);
    }

    /// What merges also causally follows: a merge keeps everything either side had seen.
    #[test]
    fn merge_keeps_both_sides_knowledge(
        steps in history(any_act()),
        skew in skews(),
        (i, j) in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let c = play(&steps, skew);
        let (a, b) = (i.get(&c.states), j.get(&c.states));
        let ab = a.merge(b);
        prop_assert!(ab.context().descends(a.context()));
        prop_assert!(ab.context().descends(b.context()));
        prop_assert!(ab.incarnation() >= a.incarnation().max(b.incarnation()));
        prop_assert!(ab.expiry() >= a.expiry().max(b.expiry()));
    }

    #[test]
    fn every_reachable_state_is_valid(steps in history(any_act()), skew in skews()) {
        let c = play(&steps, skew);
        for state in &c.states {
            prop_assert!(state.validate().is_ok(), "{:?}: {:?}", state.validate(), state);
        }
    }

    /// After every replica merged every other, they hold one object (the merge of all of them,
    /// in any order), and a read anywhere sees the same thing.
    #[test]
    fn replicas_converge(steps in history(any_act()), skew in skews()) {
        let mut c = play(&steps, skew);
        let forward = merge_all(&c.replicas);
        let backward = merge_all(c.replicas.iter().rev());
        prop_assert_eq!(&forward, &backward);
        c.exchange_all();
        for replica in &c.replicas {
            prop_assert_eq!(replica, &forward);
            prop_assert!(replica.validate().is_ok());
        }
        let now = c.later();
        let read = c.replicas[0].read(now);
        for replica in &c.replicas {
            prop_assert_eq!(replica.read(now), read);
        }
    }

    /// A refused op reports that nothing changed, and an accepted one that the state moved only
    /// forward: it keeps everything it had seen.
    #[test]
    fn ops_only_move_a_state_forward(steps in history(any_act()), skew in skews()) {
        let mut c = Cluster::new(skew);
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    if let Ok(applied) = &ran.result {
                        prop_assert_eq!(applied.changed, applied.object != ran.before);
                        prop_assert!(applied.object.context().descends(ran.before.context()));
                        prop_assert!(applied.object.incarnation() >= ran.before.incarnation());
                        // Merging the state it started from changes nothing: the op superseded it.
                        prop_assert_eq!(&applied.object.merge(&ran.before), &applied.object);
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
    }
}

// ---- Counters ----------------------------------------------------------------------------

fn incr_act() -> impl Strategy<Value = Act> {
    (-5..=5i64).prop_map(|delta| Act::Op(Op::IncrBy { delta }))
}

fn counter_value(object: &Object, now: u64) -> Option<Number> {
    match object.read(now) {
        Some(Value::Counter(n)) => Some(n),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// With only increments, the converged counter is the sum of every acknowledged one.
    #[test]
    fn every_increment_counts(steps in history(incr_act()), skew in skews()) {
        let mut c = Cluster::new(skew);
        let (mut sum, mut count) = (0i64, 0);
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    if let Act::Op(Op::IncrBy { delta }) = act {
                        sum += delta;
                        count += 1;
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let expected = (count > 0).then_some(Number::Int(sum));
        for replica in &c.replicas {
            prop_assert_eq!(counter_value(replica, c.later()), expected);
        }
    }

    /// Integer and float increments mixed (floats in quarters, so sums are exact): every
    /// accepted increment counts. (`INCRBY` on a non-integral value is refused and does not.)
    #[test]
    fn every_float_increment_counts(
        steps in history(prop_oneof![
            incr_act(),
            quarter().prop_map(|delta| Act::Op(Op::IncrByFloat { delta })),
        ]),
        skew in skews(),
    ) {
        let mut c = Cluster::new(skew);
        let (mut sum, mut count) = (0.0f64, 0);
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    let delta = match act {
                        Act::Op(Op::IncrBy { delta }) => *delta as f64,
                        Act::Op(Op::IncrByFloat { delta }) => delta.0,
                        _ => 0.0,
                    };
                    match &ran.result {
                        Ok(_) => {
                            sum += delta;
                            count += 1;
                        }
                        Err(e) => prop_assert_eq!(e, &OpError::NotInteger),
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let got = counter_value(&c.replicas[0], c.later()).map(Number::as_f64);
        prop_assert_eq!(got, (count > 0).then_some(sum));
    }

    /// With deletes: an increment a delete saw (its replica had merged it) is gone, every other
    /// one counts, and the counter exists exactly when one such increment does. Each `INCR`
    /// answers the same sum over what its replica had seen.
    #[test]
    fn a_delete_removes_exactly_the_increments_it_saw(
        steps in history(prop_oneof![3 => incr_act(), 1 => Just(Act::Op(Op::delete()))]),
        skew in skews(),
    ) {
        let mut c = Cluster::new(skew);
        // Model events: increments (delta) and deletes (the increments they saw).
        let mut increments: Vec<Option<i64>> = Vec::new();
        let mut observed: BTreeSet<usize> = BTreeSet::new();
        // Per event: the increments a delete saw (empty for increments).
        let mut saw: Vec<BTreeSet<usize>> = Vec::new();
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    let event = increments.len();
                    match act {
                        Act::Op(Op::IncrBy { delta }) => {
                            // What this replica should answer: its increments no delete it
                            // knows of saw, plus this one.
                            let hidden: BTreeSet<usize> = c.seen[*node]
                                .iter()
                                .flat_map(|e| saw[*e].iter().copied())
                                .collect();
                            let local: i64 = c.seen[*node]
                                .iter()
                                .filter(|e| !hidden.contains(e))
                                .filter_map(|e| increments[*e])
                                .sum();
                            prop_assert_eq!(ran.outcome(), Some(&Outcome::Int(local + delta)));
                            increments.push(Some(*delta));
                            saw.push(BTreeSet::new());
                        }
                        _ => {
                            let seen: BTreeSet<usize> = c.seen[*node]
                                .iter()
                                .copied()
                                .filter(|e| increments[*e].is_some())
                                .collect();
                            observed.extend(seen.iter().copied());
                            increments.push(None);
                            saw.push(seen);
                        }
                    }
                    c.note(*node, event);
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let survivors: Vec<i64> = increments
            .iter()
            .enumerate()
            .filter(|(e, _)| !observed.contains(e))
            .filter_map(|(_, d)| *d)
            .collect();
        let expected = (!survivors.is_empty()).then(|| Number::Int(survivors.iter().sum()));
        for replica in &c.replicas {
            prop_assert_eq!(counter_value(replica, c.later()), expected);
        }
    }
}

// ---- Sets --------------------------------------------------------------------------------

fn set_act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => words(2).prop_map(|members| Act::Op(Op::SAdd { members })),
        2 => words(2).prop_map(|members| Act::Op(Op::SRem { members })),
        1 => (1..3u64, any::<u64>()).prop_map(|(count, seed)| Act::Op(Op::SPop { count, seed })),
        1 => Just(Act::Op(Op::delete())),
    ]
}

fn members(object: &Object, now: u64) -> BTreeSet<Bytes> {
    match object.read(now) {
        Some(Value::Set(s)) => s.iter().map(|e| e.key.clone()).collect(),
        _ => BTreeSet::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Add wins: after full exchange, a member is present exactly when one of its adds was seen
    /// by no remove of it (`SREM` naming it, `SPOP` returning it, `DEL`).
    #[test]
    fn a_set_keeps_exactly_the_adds_no_remove_saw(steps in history(set_act()), skew in skews()) {
        let mut c = Cluster::new(skew);
        // Model events: the adds, as (member, removed?).
        let mut adds: Vec<(Bytes, bool)> = Vec::new();
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    // Removes first: they act on the state before this op.
                    let removed: Option<Vec<Bytes>> = match (act, ran.outcome()) {
                        (Act::Op(Op::SRem { members }), _) => Some(members.clone()),
                        (_, Some(Outcome::Members(popped))) => Some(popped.clone()),
                        (Act::Op(Op::Delete { .. }), _) => None,
                        _ => Some(Vec::new()),
                    };
                    for (e, (member, gone)) in adds.iter_mut().enumerate() {
                        let covered = removed.as_ref().is_none_or(|r| r.contains(member));
                        if covered && c.knows(*node, e) {
                            *gone = true;
                        }
                    }
                    // An add is effective when it minted a dot: the member was absent.
                    let minted = ran.minted();
                    if let Act::Op(Op::SAdd { members: asked }) = act {
                        let held = members(&ran.before, ran.ts.physical_ms);
                        let fresh: BTreeSet<&Bytes> =
                            asked.iter().filter(|m| !held.contains(*m)).collect();
                        let got: BTreeSet<&Bytes> = minted.iter().map(|(m, _)| m).collect();
                        prop_assert_eq!(&got, &fresh);
                        prop_assert_eq!(
                            ran.outcome(),
                            Some(&Outcome::Int(fresh.len() as i64))
                        );
                    }
                    for (member, _) in minted {
                        let event = adds.len();
                        adds.push((member, false));
                        c.note(*node, event);
                    }
                    // The op's own effect is visible at once.
                    let visible = members(ran.after().unwrap_or(&ran.before), ran.ts.physical_ms);
                    if let Act::Op(Op::SAdd { members: asked }) = act {
                        prop_assert!(asked.iter().all(|m| visible.contains(m)));
                    }
                    match &removed {
                        Some(removed) => prop_assert!(removed.iter().all(|m| !visible.contains(m))),
                        None => prop_assert!(visible.is_empty()),
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let expected: BTreeSet<Bytes> =
            adds.iter().filter(|(_, gone)| !gone).map(|(m, _)| m.clone()).collect();
        for replica in &c.replicas {
            prop_assert_eq!(members(replica, c.later()), expected.clone());
        }
    }
}

// ---- Hashes ------------------------------------------------------------------------------

fn hash_act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (fields(), any::<bool>())
            .prop_map(|(fields, if_absent)| Act::Op(Op::HSet { fields, if_absent })),
        1 => (word(), -3..=3i64).prop_map(|(field, delta)| Act::Op(Op::HIncrBy { field, delta })),
        2 => words(2).prop_map(|fields| Act::Op(Op::HDel { fields })),
        1 => Just(Act::Op(Op::delete())),
    ]
}

/// One field write of the model.
struct FieldWrite {
    field: Bytes,
    dot: Dot,
    ts: Timestamp,
    value: Bytes,
    superseded: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// After full exchange, each field holds exactly the writes no later write, `HDEL` or `DEL`
    /// of it saw, and reads the one with the latest `(timestamp, node, counter)`.
    #[test]
    fn a_hash_field_keeps_the_writes_nothing_saw(steps in history(hash_act()), skew in skews()) {
        let mut c = Cluster::new(skew);
        let mut writes: Vec<FieldWrite> = Vec::new();
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    let minted = ran.minted();
                    let removed: Option<Vec<Bytes>> = match act {
                        Act::Op(Op::HDel { fields }) => Some(fields.clone()),
                        Act::Op(Op::Delete { .. }) => None,
                        _ => Some(minted.iter().map(|(f, _)| f.clone()).collect()),
                    };
                    for (e, w) in writes.iter_mut().enumerate() {
                        let covered = removed.as_ref().is_none_or(|r| r.contains(&w.field));
                        if covered && c.knows(*node, e) {
                            w.superseded = true;
                        }
                    }
                    let Some(after) = ran.after() else { continue };
                    for (field, dot) in minted {
                        let value = match after.data() {
                            Data::Hash(h) => h.value(&field).cloned(),
                            _ => None,
                        };
                        prop_assert!(value.is_some(), "minted {:?} but no value", field);
                        let event = writes.len();
                        writes.push(FieldWrite {
                            field,
                            dot,
                            ts: ran.ts,
                            value: value.unwrap_or_default(),
                            superseded: false,
                        });
                        c.note(*node, event);
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let mut expected: BTreeMap<Bytes, (BTreeSet<Dot>, Bytes)> = BTreeMap::new();
        let mut latest: BTreeMap<Bytes, (Timestamp, NodeId, u64)> = BTreeMap::new();
        for w in writes.iter().filter(|w| !w.superseded) {
            let rank = (w.ts, w.dot.node, w.dot.counter);
            let entry = expected.entry(w.field.clone()).or_default();
            entry.0.insert(w.dot);
            if latest.get(&w.field).is_none_or(|r| rank > *r) {
                latest.insert(w.field.clone(), rank);
                entry.1 = w.value.clone();
            }
        }
        for replica in &c.replicas {
            let got: BTreeMap<Bytes, (BTreeSet<Dot>, Bytes)> = match replica.read(c.later()) {
                Some(Value::Hash(h)) => h
                    .iter()
                    .map(|e| {
                        let dots = e.versions.iter().map(|v| v.dot).collect();
                        let value = h.value(&e.key).cloned().unwrap_or_default();
                        (e.key.clone(), (dots, value))
                    })
                    .collect(),
                _ => BTreeMap::new(),
            };
            prop_assert_eq!(&got, &expected);
        }
    }
}

// ---- Strings -----------------------------------------------------------------------------

fn register_act() -> impl Strategy<Value = Act> {
    let condition = prop::sample::select(vec![
        Condition::Always,
        Condition::IfAbsent,
        Condition::IfPresent,
    ]);
    prop_oneof![
        3 => (text(), condition).prop_map(|(value, condition)| Act::Op(Op::Set {
            value,
            condition,
            ttl: Ttl::Clear,
            get: false,
        })),
        1 => text().prop_map(|value| Act::Op(Op::Append { value })),
        1 => (0..4u64, text()).prop_map(|(offset, value)| Act::Op(Op::SetRange { offset, value })),
        1 => any::<bool>().prop_map(|get| Act::Op(Op::Delete { get })),
    ]
}

/// One string write (a delete is a write of `None`).
struct StringWrite {
    dot: Dot,
    ts: Timestamp,
    value: Option<Bytes>,
    superseded: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// After full exchange, the siblings are exactly the writes no later write saw, and a read
    /// returns the HLC-latest of them (nothing if that one is a delete).
    #[test]
    fn a_string_reads_the_latest_write_nothing_saw(
        steps in history(register_act()),
        skew in skews(),
    ) {
        let mut c = Cluster::new(skew);
        let mut writes: Vec<StringWrite> = Vec::new();
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    let minted = ran.minted();
                    prop_assert!(minted.len() <= 1);
                    let Some(after) = ran.after() else { continue };
                    for (_, dot) in minted {
                        // Every string write supersedes all its replica had seen.
                        for (e, w) in writes.iter_mut().enumerate() {
                            if c.knows(*node, e) {
                                w.superseded = true;
                            }
                        }
                        let value = after
                            .siblings()
                            .iter()
                            .find(|s| s.dot == dot)
                            .and_then(|s| s.value.clone());
                        let event = writes.len();
                        writes.push(StringWrite { dot, ts: ran.ts, value, superseded: false });
                        c.note(*node, event);
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let survivors: Vec<&StringWrite> = writes.iter().filter(|w| !w.superseded).collect();
        let expected_dots: BTreeSet<Dot> = survivors.iter().map(|w| w.dot).collect();
        let expected_read = survivors
            .iter()
            .max_by_key(|w| (w.ts, w.dot.node, w.dot.counter))
            .and_then(|w| w.value.clone());
        for replica in &c.replicas {
            let dots: BTreeSet<Dot> = replica.siblings().iter().map(|s| s.dot).collect();
            prop_assert_eq!(&dots, &expected_dots);
            let read = replica.read(c.later()).and_then(|v| v.as_string());
            prop_assert_eq!(&read, &expected_read);
        }
    }
}

// ---- Known departures ---------------------------------------------------------------------

/// A string "10" on every replica; each replica then runs its own acts. Returns the replicas.
fn from_shared_ten(acts: &[(usize, Op, u64)]) -> Vec<Object> {
    let ts = |ms: u64| Timestamp {
        physical_ms: START_MS + ms,
        logical: 0,
    };
    let shared = apply(&Op::set("10"), &Object::new(), NodeId(1), ts(1)).map(|a| a.object);
    let mut replicas = vec![shared.unwrap_or_default(); NODES];
    for (node, op, ms) in acts {
        if let Ok(a) = apply(op, &replicas[*node], NodeId(*node as u64 + 1), ts(*ms)) {
            replicas[*node] = a.object;
        }
    }
    replicas
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Replicas that all hold the string "10" convert it into a counter concurrently; TTL
    /// changes (far in the future, so nothing expires) interleave. No increment may be lost:
    /// the converged value is 10 plus every increment.
    #[test]
    fn conversions_with_ttl_changes_lose_no_increment(
        steps in history(prop_oneof![
            3 => incr_act(),
            1 => (10_000..20_000i64).prop_map(|in_ms| Act::ExpireIn {
                in_ms,
                condition: ExpireCondition::Always,
            }),
            1 => Just(Act::Op(Op::Expire { at_ms: None, condition: ExpireCondition::Always })),
        ]),
        skew in skews(),
    ) {
        let mut c = Cluster::new(skew);
        c.run(0, &Act::Op(Op::set("10")), 1);
        c.exchange_all();
        let mut sum = 10;
        for step in &steps {
            match step {
                Step::Run { node, act, tick } => {
                    let ran = c.run(*node, act, *tick);
                    prop_assert!(ran.result.is_ok(), "{:?}", ran.result);
                    if let Act::Op(Op::IncrBy { delta }) = act {
                        sum += delta;
                    }
                }
                Step::Sync { from, to } => c.sync(*from, *to),
            }
        }
        c.exchange_all();
        let got = c.replicas[0].read(c.later()).and_then(|v| v.as_string());
        prop_assert_eq!(got, Some(Bytes::from(sum.to_string())));
    }
}

/// Minimal form of the property above: both replicas hold "10"; replica 2 sets a TTL, then both
/// `INCR`. Sequentially, whatever the order, the value is 12. The TTL change raised replica 2's
/// state's latest timestamp, so its conversion takes a later incarnation than replica 1's and
/// the merge keeps only replica 2's counter: 11.
#[test]
fn a_ttl_change_loses_a_concurrent_increment() {
    let far = START_MS + 1_000_000;
    let replicas = from_shared_ten(&[
        (
            1,
            Op::Expire {
                at_ms: Some(far),
                condition: ExpireCondition::Always,
            },
            2,
        ),
        (0, Op::IncrBy { delta: 1 }, 3),
        (1, Op::IncrBy { delta: 1 }, 3),
    ]);
    let merged = replicas[0].merge(&replicas[1]);
    let read = merged.read(START_MS + 10).and_then(|v| v.as_string());
    assert_eq!(read, Some(Bytes::from_static(b"12")));
}

/// Two replicas hold different winners for "the same" string state: replica 1 holds only node
/// 1's "10", replica 2 also holds node 2's concurrent "2.5" written at the same HLC timestamp
/// (which wins the tie on node id). Both convert at the same incarnation, so their counters
/// merge, and the bases merge field by field: integer base 10 (max) plus float base 2.5 (max),
/// giving 12.5 + increments, a value no order of the writes produces (3.5 + 1 = 4.5 at most if
/// increments on the winning base merge; 11 or 3.5 if one conversion wins).
#[test]
fn conversions_of_different_strings_do_not_add_their_bases() {
    let ts = |ms: u64, logical: u32| Timestamp {
        physical_ms: START_MS + ms,
        logical,
    };
    let write = |op: &Op, o: &Object, node: u64, at: Timestamp| {
        apply(op, o, NodeId(node), at)
            .map(|a| a.object)
            .unwrap_or_default()
    };
    let one = write(&Op::set("10"), &Object::new(), 1, ts(5, 0));
    let two = write(&Op::set("2.5"), &Object::new(), 2, ts(5, 0)).merge(&one);
    assert_eq!(two.value(), Some(&Bytes::from_static(b"2.5")));
    let one = write(&Op::IncrBy { delta: 1 }, &one, 1, ts(6, 0));
    let incr_float = Op::IncrByFloat { delta: Float(1.0) };
    let two = write(&incr_float, &two, 2, ts(6, 0));
    assert_eq!(one.incarnation(), two.incarnation());
    let merged = one.merge(&two);
    let value = counter_value(&merged, START_MS + 10).map(Number::as_f64);
    assert!(
        matches!(value, Some(v) if v == 11.0 || v == 3.5 || v == 4.5),
        "merged counter reads {value:?}"
    );
}

/// A set with a TTL is on two replicas. Before the TTL, replica 2 adds "late"; replica 1 never
/// sees it. After the TTL, replica 1 adds "fresh" to the (expired, so new) key. Merged, "late"
/// must stay expired: it was added to a key that expired before "fresh" was. It comes back,
/// because the expired key's clear on replica 1 removed only what replica 1 held and cleared
/// the TTL for everything.
#[test]
fn an_expired_add_does_not_resurrect() {
    let ts = |ms: u64| Timestamp {
        physical_ms: START_MS + ms,
        logical: 0,
    };
    let add = |o: &Object, node: u64, m: &'static str, ms: u64| {
        let op = Op::SAdd {
            members: vec![Bytes::from_static(m.as_bytes())],
        };
        apply(&op, o, NodeId(node), ts(ms))
            .map(|a| a.object)
            .unwrap_or_default()
    };
    let base = add(&Object::new(), 1, "old", 1);
    let expire = Op::Expire {
        at_ms: Some(START_MS + 100),
        condition: ExpireCondition::Always,
    };
    let base = apply(&expire, &base, NodeId(1), ts(2))
        .map(|a| a.object)
        .unwrap_or_default();
    let two = add(&base, 2, "late", 50);
    let one = add(&base, 1, "fresh", 150);
    let merged = one.merge(&two);
    assert_eq!(
        members(&merged, START_MS + 200),
        BTreeSet::from([Bytes::from_static(b"fresh")])
    );
}
