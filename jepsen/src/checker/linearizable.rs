//! Per-key linearizability of a register [`History`].
//!
//! Each key is an independent register, and linearizability is compositional, so each key's
//! operations are checked on their own. Mapping from the history: an `ok` read observed its value;
//! an `ok` write completed; an `info` (or never completed) write may take effect any time after
//! its invocation, or never; `fail` operations and non-`ok` reads are left out (they did nothing
//! anyone can observe).

use std::collections::BTreeMap;

use super::model::{Register, RegisterInput, RegisterOutput};
use super::wgl::{check, Operation, Verdict};
use crate::history::{History, OpKind, OpOutcome};

/// One register operation of a key.
type RegisterOp = Operation<RegisterInput<u64>, RegisterOutput<u64>>;

/// A key whose history is not linearizable, with the witness in the history's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    /// Indices (into [`History::ops`]) of the longest linearizable prefix found.
    pub prefix: Vec<usize>,
    /// Index of the operation that could not be placed after it.
    pub blocked: usize,
}

/// The result over all keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub keys: usize,
    /// Operations given to the search.
    pub ops_checked: usize,
    pub violations: Vec<Violation>,
    /// Keys whose search ran out of budget.
    pub unknown: Vec<String>,
}

impl Report {
    pub fn is_linearizable(&self) -> bool {
        self.violations.is_empty() && self.unknown.is_empty()
    }
}

/// Checks every key of `history`, taking at most `budget` search steps per key.
pub fn check_history(history: &History, budget: u64) -> Report {
    let mut by_key: BTreeMap<&str, Vec<RegisterOp>> = BTreeMap::new();
    for (index, op) in history.ops().iter().enumerate() {
        let ret = op.complete_seq();
        let (input, output, ret) = match (op.kind, op.outcome()) {
            (OpKind::Read, OpOutcome::Ok) => {
                (RegisterInput::Read, RegisterOutput::Read(op.value), ret)
            }
            (OpKind::Write, OpOutcome::Ok) => match op.value {
                Some(v) => (RegisterInput::Write(v), RegisterOutput::Written, ret),
                None => continue,
            },
            (OpKind::Write, OpOutcome::Info) => match op.value {
                Some(v) => (RegisterInput::Write(v), RegisterOutput::Unknown, None),
                None => continue,
            },
            _ => continue,
        };
        by_key.entry(&op.key).or_default().push(Operation {
            id: index,
            process: op.process,
            // Event order, not milliseconds: two events in one millisecond keep their order.
            call: op.invoke_seq(),
            ret,
            input,
            output,
        });
    }
    let mut report = Report {
        keys: by_key.len(),
        ..Report::default()
    };
    for (key, ops) in by_key {
        report.ops_checked += ops.len();
        match check(&Register::new(), &ops, budget) {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable(w) => report.violations.push(Violation {
                key: key.to_owned(),
                prefix: w.prefix,
                blocked: w.blocked,
            }),
            Verdict::Unknown { .. } => report.unknown.push(key.to_owned()),
        }
    }
    report
}
