//! Stale reads: the real-time guarantees a *regular* register keeps even where it is not
//! linearizable (design §3: `quorum` promises read-your-writes and monotonic reads for
//! completed writes).
//!
//! For each `ok` read of a key, with the write `w` whose value it returned:
//! - **stale**: some `ok` write `w2` began after `w` completed and completed before the read
//!   began, so `w` was superseded for good before the read started (for a read of the empty
//!   key, any `ok` write completed before the read began supersedes the empty state);
//! - **phantom**: no write of that value exists, or it was invoked after the read completed.
//!
//! Indeterminate writes never supersede anything (they may not have happened), and a read may
//! return an indeterminate write. The check is quadratic per key and needs no search.

use std::collections::BTreeMap;

use crate::history::{History, Op, OpKind, OpOutcome};

/// One read that broke the rules, by index into [`History::ops`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleRead {
    pub read: usize,
    /// The write whose value it returned (`None` for the empty key or a phantom).
    pub returned: Option<usize>,
    /// The completed write that had superseded it before the read began (`None`: phantom).
    pub superseded_by: Option<usize>,
}

/// Every stale or phantom read of `history`.
pub fn check(history: &History) -> Vec<StaleRead> {
    let ops = history.ops();
    let mut writes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_value: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let (OpKind::Write, Some(v), OpOutcome::Ok | OpOutcome::Info) =
            (op.kind, op.value, op.outcome())
        {
            writes.entry(&op.key).or_default().push(i);
            by_value.insert((&op.key, v), i);
        }
    }
    let done = |op: &Op| -> Option<u64> {
        (op.outcome() == OpOutcome::Ok)
            .then(|| op.complete_seq())
            .flatten()
    };
    let mut found = Vec::new();
    for (r, read) in ops.iter().enumerate() {
        if read.kind != OpKind::Read || read.outcome() != OpOutcome::Ok {
            continue;
        }
        let Some(read_done) = read.complete_seq() else {
            continue;
        };
        let candidates = writes.get(read.key.as_str()).map_or(&[][..], Vec::as_slice);
        let returned = match read.value {
            None => None,
            Some(v) => match by_value.get(&(read.key.as_str(), v)) {
                Some(&w) if ops[w].invoke_seq() < read_done => Some(w),
                _ => {
                    found.push(StaleRead {
                        read: r,
                        returned: None,
                        superseded_by: None,
                    });
                    continue;
                }
            },
        };
        // When what the read returned was certainly in place (the empty key: from the start).
        let returned_done = match returned {
            None => Some(0),
            Some(w) => done(&ops[w]),
        };
        let Some(returned_done) = returned_done else {
            continue; // an indeterminate write is never superseded for sure
        };
        let superseded_by = candidates.iter().copied().find(|&w2| {
            Some(w2) != returned
                && ops[w2].invoke_seq() > returned_done
                && done(&ops[w2]).is_some_and(|d| d < read.invoke_seq())
        });
        if superseded_by.is_some() {
            found.push(StaleRead {
                read: r,
                returned,
                superseded_by,
            });
        }
    }
    found
}
