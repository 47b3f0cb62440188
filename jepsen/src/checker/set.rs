//! Sets: no acknowledged add lost, no failed add present, no member that nobody added.
//!
//! Every `SADD` adds one unique member. On every view of a key (each final read and each
//! replica's stored copy):
//! - a member whose `SADD` was `ok` is present, unless an `SREM` that may have taken effect
//!   (`ok` or `info`) targeted it — a lost acknowledged add otherwise;
//! - a member whose `SADD` failed is absent: a failure means it was never applied;
//! - every member present was the subject of an `SADD` of that key.
//!
//! Members whose `SADD` was `info` may or may not be present. Nothing is required of removed
//! members: under sloppy quorums an `SREM` coordinated by a replica that has not yet seen the add
//! observes nothing to remove (observed-remove semantics), so the member may stay.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{FinalState, FinalView};
use crate::history::{History, OpKind, OpOutcome};

/// What is wrong with one view of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetViolation {
    /// An acknowledged add that no remove targeted is missing.
    LostAdd {
        key: String,
        source: String,
        member: u64,
        /// The index of the `SADD` operation.
        add: usize,
    },
    /// A member whose add failed is present.
    FailedAddPresent {
        key: String,
        source: String,
        member: u64,
        add: usize,
    },
    /// A member no `SADD` of this key added is present.
    NeverAdded {
        key: String,
        source: String,
        member: u64,
    },
    /// The key holds something other than a set.
    NotASet {
        key: String,
        source: String,
        state: FinalState,
    },
}

impl fmt::Display for SetViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetViolation::LostAdd {
                key,
                source,
                member,
                add,
            } => write!(
                f,
                "set key {key}: member {member} missing in {source}, but its add #{add} was \
                 acknowledged and no remove targeted it"
            ),
            SetViolation::FailedAddPresent {
                key,
                source,
                member,
                add,
            } => write!(
                f,
                "set key {key}: member {member} present in {source}, but its add #{add} failed"
            ),
            SetViolation::NeverAdded {
                key,
                source,
                member,
            } => write!(
                f,
                "set key {key}: member {member} present in {source}, but no add of this key \
                 wrote it"
            ),
            SetViolation::NotASet { key, source, state } => {
                write!(f, "set key {key} holds {state:?} in {source}, not a set")
            }
        }
    }
}

/// The adds and removes of one key.
#[derive(Default)]
struct Members {
    /// Member → (index of its add, outcome of its add).
    added: BTreeMap<u64, (usize, OpOutcome)>,
    /// Members a remove that may have taken effect targeted.
    maybe_removed: BTreeSet<u64>,
}

/// Checks every view against the adds and removes `history` records for its key. The caller
/// supplies at least one view of every key the workload used.
pub fn check(history: &History, views: &[FinalView]) -> Vec<SetViolation> {
    let mut by_key: BTreeMap<&str, Members> = BTreeMap::new();
    for (index, op) in history.ops().iter().enumerate() {
        let Some(member) = op.value else {
            continue;
        };
        match op.kind {
            OpKind::SAdd => {
                by_key
                    .entry(&op.key)
                    .or_default()
                    .added
                    .insert(member, (index, op.outcome()));
            }
            OpKind::SRem if op.outcome() != OpOutcome::Fail => {
                by_key
                    .entry(&op.key)
                    .or_default()
                    .maybe_removed
                    .insert(member);
            }
            _ => {}
        }
    }
    let none = Members::default();
    let empty = BTreeSet::new();
    let mut violations = Vec::new();
    for view in views {
        let members = by_key.get(view.key.as_str()).unwrap_or(&none);
        let present = match &view.state {
            FinalState::Absent => &empty,
            FinalState::Set(present) => present,
            state @ (FinalState::Counter(_) | FinalState::Other(_)) => {
                violations.push(SetViolation::NotASet {
                    key: view.key.clone(),
                    source: view.source.clone(),
                    state: state.clone(),
                });
                continue;
            }
        };
        for (&member, &(add, outcome)) in &members.added {
            if outcome == OpOutcome::Ok
                && !members.maybe_removed.contains(&member)
                && !present.contains(&member)
            {
                violations.push(SetViolation::LostAdd {
                    key: view.key.clone(),
                    source: view.source.clone(),
                    member,
                    add,
                });
            }
        }
        for &member in present {
            match members.added.get(&member) {
                Some(&(add, OpOutcome::Fail)) => {
                    violations.push(SetViolation::FailedAddPresent {
                        key: view.key.clone(),
                        source: view.source.clone(),
                        member,
                        add,
                    });
                }
                Some(_) => {}
                None => violations.push(SetViolation::NeverAdded {
                    key: view.key.clone(),
                    source: view.source.clone(),
                    member,
                }),
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history on key `k`: (kind, member, outcome).
    fn history(ops: &[(OpKind, u64, OpOutcome)]) -> History {
        let mut h = History::new();
        for (i, (kind, member, outcome)) in ops.iter().enumerate() {
            let at = i as u64 * 10;
            let op = h.invoke(0, 1, "k", *kind, Some(*member), at);
            h.complete(op, *outcome, None, String::new(), at + 5);
        }
        h
    }

    fn view(members: &[u64]) -> FinalView {
        FinalView {
            key: "k".to_owned(),
            source: "read at ALL via n2".to_owned(),
            state: FinalState::Set(members.iter().copied().collect()),
        }
    }

    fn sample() -> History {
        history(&[
            (OpKind::SAdd, 1, OpOutcome::Ok),
            (OpKind::SAdd, 2, OpOutcome::Info),
            (OpKind::SAdd, 3, OpOutcome::Fail),
            (OpKind::SAdd, 4, OpOutcome::Ok),
            (OpKind::SRem, 4, OpOutcome::Info),
            (OpKind::SAdd, 5, OpOutcome::Ok),
            (OpKind::SRem, 5, OpOutcome::Ok),
        ])
    }

    #[test]
    fn acknowledged_adds_present_and_indeterminate_ones_either_way_pass() {
        let h = sample();
        for members in [&[1][..], &[1, 2], &[1, 2, 4, 5], &[1, 5]] {
            assert!(check(&h, &[view(members)]).is_empty(), "{members:?}");
        }
    }

    #[test]
    fn a_lost_acknowledged_add_names_the_member_and_its_add() {
        let violations = check(&sample(), &[view(&[2, 4])]);
        assert_eq!(
            violations,
            vec![SetViolation::LostAdd {
                key: "k".to_owned(),
                source: "read at ALL via n2".to_owned(),
                member: 1,
                add: 0,
            }]
        );
        let text = violations
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            text.contains("member 1 missing in read at ALL via n2"),
            "{text}"
        );
        assert!(text.contains("add #0 was acknowledged"), "{text}");
    }

    #[test]
    fn a_failed_add_that_is_present_and_a_member_nobody_added_fail() {
        let violations = check(&sample(), &[view(&[1, 3, 9])]);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(matches!(
            violations.first(),
            Some(SetViolation::FailedAddPresent {
                member: 3,
                add: 2,
                ..
            })
        ));
        assert!(matches!(
            violations.get(1),
            Some(SetViolation::NeverAdded { member: 9, .. })
        ));
    }

    #[test]
    fn an_absent_key_loses_every_acknowledged_add_and_a_counter_is_not_a_set() {
        let h = sample();
        let absent = FinalView {
            state: FinalState::Absent,
            ..view(&[])
        };
        assert_eq!(check(&h, &[absent]).len(), 1);
        let counter = FinalView {
            state: FinalState::Counter(1),
            ..view(&[])
        };
        assert!(matches!(
            check(&h, &[counter]).first(),
            Some(SetViolation::NotASet { .. })
        ));
    }
}
