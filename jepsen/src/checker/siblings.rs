//! Read-modify-write through causal contexts (`GETCTX` then `SETCTX`): no acknowledged write
//! lost, nothing invented.
//!
//! Every context write carries a unique value and records the siblings its context covered
//! ([`crate::history::Op::observed`]). In every final view of a key, an acknowledged write's
//! value is still a sibling, or some context write (acknowledged or indeterminate) covered it:
//! it was superseded by a client that saw it. Every sibling present was written by a context
//! write of that key that did not fail.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{FinalState, FinalView};
use crate::history::{History, OpKind, OpOutcome};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub acknowledged: usize,
    /// Acknowledged writes missing from a final view without a write that saw them.
    pub lost: Vec<String>,
    /// Siblings in a final view that no context write of the key could have written.
    pub invented: Vec<String>,
    /// The most siblings one read returned during the run.
    pub max_siblings: usize,
}

impl Report {
    pub fn valid(&self) -> bool {
        self.lost.is_empty() && self.invented.is_empty()
    }
}

/// `views`: each key's final siblings as [`FinalState::Set`] (or [`FinalState::Absent`]).
pub fn check(history: &History, views: &[FinalView]) -> Report {
    let mut report = Report::default();
    let mut covered: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut written: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut acked: Vec<(&str, u64, usize)> = Vec::new();
    for (index, op) in history.ops().iter().enumerate() {
        match (op.kind, op.outcome()) {
            (OpKind::ReadCtx, OpOutcome::Ok) => {
                report.max_siblings = report.max_siblings.max(op.observed.len());
            }
            (OpKind::WriteCtx, outcome) if outcome != OpOutcome::Fail => {
                covered.entry(&op.key).or_default().extend(&op.observed);
                if let Some(v) = op.value {
                    written.entry(&op.key).or_default().insert(v);
                    if outcome == OpOutcome::Ok {
                        acked.push((&op.key, v, index));
                    }
                }
            }
            _ => {}
        }
    }
    report.acknowledged = acked.len();
    let empty = BTreeSet::new();
    for view in views {
        let present = match &view.state {
            FinalState::Set(members) => members,
            FinalState::Absent => &empty,
            other => {
                report.invented.push(format!(
                    "{} in {}: not a sibling list: {other:?}",
                    view.key, view.source
                ));
                continue;
            }
        };
        let key = view.key.as_str();
        for &(_, v, index) in acked.iter().filter(|(k, _, _)| *k == key) {
            let superseded = covered.get(key).is_some_and(|c| c.contains(&v));
            if !present.contains(&v) && !superseded {
                report.lost.push(format!(
                    "{key}: value {v} (write #{index}, acknowledged) missing in {} and no write covered it",
                    view.source
                ));
            }
        }
        for v in present {
            if !written.get(key).is_some_and(|w| w.contains(v)) {
                report.invented.push(format!(
                    "{key}: sibling {v} in {} was never written",
                    view.source
                ));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(members: &[u64]) -> FinalView {
        FinalView {
            key: "x".into(),
            source: "read at ALL via n1".into(),
            state: FinalState::Set(members.iter().copied().collect()),
        }
    }

    fn write(h: &mut History, value: u64, covers: Vec<u64>, outcome: OpOutcome) {
        let i = h.invoke(1, 1, "x", OpKind::WriteCtx, Some(value), 0);
        h.observe(i, covers);
        h.complete(i, outcome, None, String::new(), 1);
    }

    #[test]
    fn a_write_is_kept_as_a_sibling_or_superseded_by_one_that_saw_it() {
        let mut h = History::new();
        write(&mut h, 1, vec![], OpOutcome::Ok);
        write(&mut h, 2, vec![], OpOutcome::Ok);
        write(&mut h, 3, vec![1], OpOutcome::Info);
        assert!(check(&h, &[view(&[2, 3])]).valid());
        let lost = check(&h, &[view(&[3])]);
        assert_eq!(lost.lost.len(), 1, "{lost:?}");
        let invented = check(&h, &[view(&[2, 9])]);
        assert_eq!(invented.invented.len(), 1);
    }

    #[test]
    fn a_failed_write_neither_counts_nor_covers() {
        let mut h = History::new();
        write(&mut h, 1, vec![], OpOutcome::Ok);
        write(&mut h, 2, vec![1], OpOutcome::Fail);
        assert_eq!(check(&h, &[view(&[])]).lost.len(), 1);
        assert_eq!(check(&h, &[view(&[1, 2])]).invented.len(), 1);
    }
}
