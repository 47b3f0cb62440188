//! No acknowledged write lost: every `ok` write is, in the final merged state of its key, either
//! still a sibling or causally superseded — its dot covered by the object's causal context, so
//! some later write saw it and replaced it.
//!
//! The final state is the merge of every copy the cluster holds (each replica's storage and
//! every hint), so the check does not depend on replicas having converged. The caller supplies
//! which dot each value was written under (the simulator records it when the coordinator's
//! storage mints it; a real harness can read it back through a sibling-revealing read).

use std::collections::BTreeMap;

use kvorum_consistency::{Dot, Object};

use crate::history::{History, OpKind, OpOutcome};

/// Why one acknowledged write counts as lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostWrite {
    pub key: String,
    pub value: u64,
    pub reason: String,
}

/// Checks every `ok` write of `history` against the final merged objects (by key name).
/// `value_of` decodes a sibling's stored bytes to a workload value.
pub fn check(
    history: &History,
    minted: &BTreeMap<u64, Dot>,
    finals: &BTreeMap<String, Object>,
    value_of: impl Fn(&[u8]) -> Option<u64>,
) -> Vec<LostWrite> {
    let mut lost = Vec::new();
    for op in history.ops() {
        let (OpKind::Write, OpOutcome::Ok, Some(value)) = (op.kind, op.outcome(), op.value) else {
            continue;
        };
        let lose = |reason: String| LostWrite {
            key: op.key.clone(),
            value,
            reason,
        };
        let Some(dot) = minted.get(&value) else {
            lost.push(lose(
                "acknowledged but no replica ever stored it".to_owned(),
            ));
            continue;
        };
        let Some(object) = finals.get(&op.key) else {
            lost.push(lose("the key is absent from every replica".to_owned()));
            continue;
        };
        match object.siblings().iter().find(|s| s.dot == *dot) {
            Some(s) if s.value.as_deref().and_then(&value_of) == Some(value) => {}
            Some(s) => lost.push(lose(format!(
                "its dot {dot:?} now names another write ({:?}): a dot was minted twice",
                s.value.as_deref().and_then(&value_of)
            ))),
            None if object.context().covers(*dot) => {} // superseded by a write that saw it
            None => lost.push(lose(format!(
                "dot {dot:?} is neither a sibling nor covered by the final context"
            ))),
        }
    }
    lost
}
