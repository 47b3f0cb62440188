//! Hand-written histories: the checkers accept the good ones and catch the bad ones.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use bytes::Bytes;
use kvorum_consistency::{Dot, Object, Timestamp, VersionVector};
use kvorum_jepsen::checker::{linearizable, lost_writes};
use kvorum_jepsen::history::{History, OpKind, OpOutcome};
use kvorum_jepsen::sim::client::decode_value;
use kvorum_ring::NodeId;

/// `(process, kind, value)` invoked, then completed with `outcome` (and read `value`).
struct H(History);

impl H {
    fn new() -> Self {
        H(History::new())
    }
    fn invoke(&mut self, p: u64, kind: OpKind, value: Option<u64>) -> usize {
        self.0.invoke(p, 1, "k", kind, value, 0)
    }
    fn ok(&mut self, op: usize, read: Option<u64>) {
        self.0
            .complete(op, OpOutcome::Ok, Some((read, 1)), String::new(), 0);
    }
    fn info(&mut self, op: usize) {
        self.0.complete(op, OpOutcome::Info, None, String::new(), 0);
    }
    fn linearizable(&self) -> bool {
        linearizable::check_history(&self.0, 1_000_000).is_linearizable()
    }
}

#[test]
fn sequential_reads_and_writes_are_linearizable() {
    let mut h = H::new();
    let w = h.invoke(0, OpKind::Write, Some(1));
    h.ok(w, None);
    let r = h.invoke(1, OpKind::Read, None);
    h.ok(r, Some(1));
    assert!(h.linearizable());
}

#[test]
fn a_stale_read_is_caught() {
    let mut h = H::new();
    let w1 = h.invoke(0, OpKind::Write, Some(1));
    h.ok(w1, None);
    let w2 = h.invoke(0, OpKind::Write, Some(2));
    h.ok(w2, None);
    let r = h.invoke(1, OpKind::Read, None);
    h.ok(r, Some(1));
    assert!(!h.linearizable());
}

#[test]
fn a_lost_write_is_caught() {
    let mut h = H::new();
    let w = h.invoke(0, OpKind::Write, Some(1));
    h.ok(w, None);
    let r = h.invoke(1, OpKind::Read, None);
    h.ok(r, None);
    assert!(!h.linearizable());
}

#[test]
fn an_indeterminate_write_may_appear_later_or_never() {
    let mut h = H::new();
    let w = h.invoke(0, OpKind::Write, Some(1));
    h.info(w);
    let r1 = h.invoke(1, OpKind::Read, None);
    h.ok(r1, None);
    let r2 = h.invoke(1, OpKind::Read, None);
    h.ok(r2, Some(1));
    assert!(h.linearizable());
    // ...but once seen, it cannot vanish again.
    let r3 = h.invoke(1, OpKind::Read, None);
    h.ok(r3, None);
    assert!(!h.linearizable());
}

#[test]
fn a_read_of_an_in_flight_write_then_an_older_value_is_caught() {
    // The anomaly QUORUM mode shows in the simulator: a read sees a write still in flight, a
    // later read (which began after the first ended) sees the value before it.
    let mut h = H::new();
    let w0 = h.invoke(0, OpKind::Write, Some(41));
    h.ok(w0, None);
    let w = h.invoke(1, OpKind::Write, Some(49));
    let r1 = h.invoke(2, OpKind::Read, None);
    h.ok(r1, Some(49));
    let r2 = h.invoke(3, OpKind::Read, None);
    h.ok(r2, Some(41));
    h.ok(w, None);
    assert!(!h.linearizable());
}

fn ts(ms: u64) -> Timestamp {
    Timestamp {
        physical_ms: ms,
        logical: 0,
    }
}

fn write(o: &Object, node: u64, v: u64, ms: u64) -> (Object, Dot) {
    o.write(
        NodeId(node),
        o.context(),
        Some(Bytes::from(v.to_string())),
        ts(ms),
    )
}

fn acked_writes(values: &[u64]) -> History {
    let mut h = History::new();
    for &v in values {
        let op = h.invoke(0, 1, "k", OpKind::Write, Some(v), 0);
        h.complete(op, OpOutcome::Ok, None, String::new(), 0);
    }
    h
}

#[test]
fn superseded_and_sibling_writes_are_not_lost() {
    let (a, d1) = write(&Object::new(), 1, 1, 10);
    let (b, d2) = write(&a, 1, 2, 20); // saw 1: supersedes it
    let (c, d3) = write(&a, 2, 3, 15); // concurrent with 2: a sibling
    let merged = b.merge(&c);
    let minted = BTreeMap::from([(1, d1), (2, d2), (3, d3)]);
    let finals = BTreeMap::from([("k".to_owned(), merged)]);
    let lost = lost_writes::check(&acked_writes(&[1, 2, 3]), &minted, &finals, decode_value);
    assert!(lost.is_empty(), "{lost:?}");
}

#[test]
fn a_write_missing_from_the_final_state_is_lost() {
    let (a, d1) = write(&Object::new(), 1, 1, 10);
    let (_, d2) = write(&a, 2, 2, 20);
    let minted = BTreeMap::from([(1, d1), (2, d2)]);
    // The final state only ever saw write 1.
    let finals = BTreeMap::from([("k".to_owned(), a)]);
    let lost = lost_writes::check(&acked_writes(&[1, 2]), &minted, &finals, decode_value);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].value, 2);
}

#[test]
fn a_dot_minted_twice_is_reported() {
    // Node 1 forgot its counter: two different writes carry the same dot; the merge kept one.
    let (first, dot) = write(&Object::new(), 1, 1, 30);
    let (_, again) = Object::new().write(
        NodeId(1),
        &VersionVector::new(),
        Some(Bytes::from("2")),
        ts(10),
    );
    assert_eq!(dot, again);
    let minted = BTreeMap::from([(1, dot), (2, again)]);
    let finals = BTreeMap::from([("k".to_owned(), first)]);
    let lost = lost_writes::check(&acked_writes(&[1, 2]), &minted, &finals, decode_value);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(lost[0].reason.contains("minted twice"));
}

mod stale {
    use super::*;
    use kvorum_jepsen::checker::stale_reads;

    #[test]
    fn a_read_of_a_superseded_value_is_stale() {
        let mut h = H::new();
        let w1 = h.invoke(0, OpKind::Write, Some(1));
        h.ok(w1, None);
        let w2 = h.invoke(0, OpKind::Write, Some(2));
        h.ok(w2, None);
        let r = h.invoke(1, OpKind::Read, None);
        h.ok(r, Some(1));
        let found = stale_reads::check(&h.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].superseded_by, Some(w2));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_return_either_value() {
        let mut h = H::new();
        let w1 = h.invoke(0, OpKind::Write, Some(1));
        h.ok(w1, None);
        let w2 = h.invoke(0, OpKind::Write, Some(2));
        let r1 = h.invoke(1, OpKind::Read, None);
        h.ok(r1, Some(2));
        let r2 = h.invoke(2, OpKind::Read, None);
        h.ok(r2, Some(1)); // not linearizable, but regular
        h.ok(w2, None);
        assert!(stale_reads::check(&h.0).is_empty());
        assert!(!h.linearizable());
    }

    #[test]
    fn a_read_of_a_value_never_written_is_a_phantom() {
        let mut h = H::new();
        let r = h.invoke(1, OpKind::Read, None);
        h.ok(r, Some(7));
        let found = stale_reads::check(&h.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].returned, None);
    }

    #[test]
    fn reading_nothing_after_a_completed_write_is_stale() {
        let mut h = H::new();
        let w = h.invoke(0, OpKind::Write, Some(1));
        h.ok(w, None);
        let r = h.invoke(1, OpKind::Read, None);
        h.ok(r, None);
        assert_eq!(stale_reads::check(&h.0).len(), 1);
    }
}
