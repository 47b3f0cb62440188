//! Set reads during a run (Jepsen's set-full, in measuring form): for every acknowledged add,
//! how the reads that began after it completed saw it. A read that misses such a member is
//! *stale*: allowed in `eventual` mode (a replica that has not heard of the add yet), a finding
//! in the modes that promise read-your-writes. Lost members are judged on the final views by
//! [`super::set`]; this module says how long members stayed invisible and which were never
//! read during the run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{History, OpKind, OpOutcome};

/// What the reads of a run saw of the acknowledged adds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SetReads {
    /// Acknowledged adds.
    pub acknowledged: usize,
    /// `ok` set reads.
    pub reads: usize,
    /// (read, member) pairs where the read began after the add was acknowledged and missed it.
    pub stale: usize,
    /// The longest time (ms) from an add's acknowledgement to the start of a read that still
    /// missed it.
    pub worst_staleness_ms: u64,
    /// Acknowledged members no read of the run ever returned (the final reads may still).
    pub never_read: usize,
}

pub fn check(history: &History) -> SetReads {
    let ops = history.ops();
    let mut out = SetReads::default();
    // key -> (member, acknowledged at ms)
    let mut acked: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for op in ops {
        if let (OpKind::SAdd, OpOutcome::Ok, Some(member), Some(at)) =
            (op.kind, op.outcome(), op.value, op.complete_ms)
        {
            acked.entry(&op.key).or_default().push((member, at));
            out.acknowledged += 1;
        }
    }
    let mut seen: BTreeMap<(&str, u64), bool> = BTreeMap::new();
    for op in ops {
        if op.kind != OpKind::ReadSet || op.outcome() != OpOutcome::Ok {
            continue;
        }
        out.reads += 1;
        for &member in &op.observed {
            seen.insert((&op.key, member), true);
        }
        for &(member, at) in acked.get(op.key.as_str()).map_or(&[][..], |v| v) {
            if at < op.invoke_ms && op.observed.binary_search(&member).is_err() {
                out.stale += 1;
                out.worst_staleness_ms = out.worst_staleness_ms.max(op.invoke_ms - at);
            }
        }
    }
    out.never_read = acked
        .iter()
        .flat_map(|(key, members)| members.iter().map(move |(m, _)| (*key, *m)))
        .filter(|k| !seen.contains_key(k))
        .count();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_misses_an_acknowledged_add_is_stale() {
        let mut h = History::new();
        let add = h.invoke(1, 1, "s", OpKind::SAdd, Some(7), 0);
        h.complete(add, OpOutcome::Ok, None, "ok".into(), 10);
        let stale = h.invoke(2, 2, "s", OpKind::ReadSet, None, 50);
        h.complete(stale, OpOutcome::Ok, None, "ok".into(), 60);
        h.observe(stale, vec![]);
        let fresh = h.invoke(2, 2, "s", OpKind::ReadSet, None, 70);
        h.complete(fresh, OpOutcome::Ok, None, "ok".into(), 80);
        h.observe(fresh, vec![7]);
        let r = check(&h);
        assert_eq!(
            (
                r.acknowledged,
                r.reads,
                r.stale,
                r.worst_staleness_ms,
                r.never_read
            ),
            (1, 2, 1, 40, 0)
        );
    }
}
