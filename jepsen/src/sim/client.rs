//! The adapter between the harness and the core's client API: the only module that builds a
//! [`Request`], names a [`Consistency`] or reads a [`Reply`]. When the core's request or reply
//! types change, this file is the one to adapt.

use std::collections::BTreeSet;

use bytes::Bytes;
use kvorum_consistency::crdt::counter::Number;
use kvorum_consistency::{
    Command, Consistency, Key, Object, Op, Outcome, Preset, Reply, Request, Value,
};
use kvorum_ring::NamespaceId;

use crate::checker::FinalState;
use crate::history::OpOutcome;

/// The consistency a workload asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Strict majority quorums (`QUORUM`).
    Quorum,
    /// Every primary (`ALL`).
    All,
    /// Linearizable (`STRONG`).
    Strong,
    /// Sloppy R = W = 1 (`EVENTUAL`).
    Eventual,
}

impl Level {
    fn consistency(self) -> Consistency {
        Consistency::Preset(match self {
            Level::Quorum => Preset::Quorum,
            Level::All => Preset::All,
            Level::Strong => Preset::Strong,
            Level::Eventual => Preset::Eventual,
        })
    }
}

/// What a client does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    Read,
    Write(u64),
    /// `INCRBY key delta`.
    Incr(i64),
    /// `SADD key member`, the member being the workload value's decimal form.
    SAdd(u64),
    /// `SREM key member`.
    SRem(u64),
}

/// The key a workload's key name stands for.
pub fn key(name: &str) -> Key {
    Key {
        ns: NamespaceId(0),
        key: name.as_bytes().to_vec(),
    }
}

/// The request for one client operation.
pub fn request(key_name: &str, command: ClientCommand, level: Level, timeout_ms: u64) -> Request {
    Request {
        key: key(key_name),
        command: match command {
            ClientCommand::Read => Command::Get,
            ClientCommand::Write(v) => Command::Write(Op::set(encode_value(v))),
            ClientCommand::Incr(delta) => Command::Write(Op::IncrBy { delta }),
            ClientCommand::SAdd(v) => Command::Write(Op::SAdd {
                members: vec![encode_value(v)],
            }),
            ClientCommand::SRem(v) => Command::Write(Op::SRem {
                members: vec![encode_value(v)],
            }),
        },
        consistency: level.consistency(),
        timeout_ms,
        n: None,
        default_ttl_ms: None,
    }
}

/// The bytes a workload writes for value `v`: its decimal form, unique per write.
pub fn encode_value(v: u64) -> Bytes {
    Bytes::from(v.to_string())
}

/// The workload value stored bytes stand for; `None` for bytes no workload wrote.
pub fn decode_value(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A read value that no workload could have written (the checkers flag it).
pub const GARBLED: u64 = u64::MAX;

/// What a reply means for the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub outcome: OpOutcome,
    /// For an `ok` read: the single value a RESP `GET` would return.
    pub value: Option<u64>,
    /// For an `ok` read: how many siblings the merged object held.
    pub siblings: usize,
    /// The reply in short, for the history's text form.
    pub note: String,
}

/// Classifies a kvorum reply. `UNAVAILABLE` and refusals are `Fail` (nothing was applied);
/// `TIMEOUT` is `Info` (a write may have been applied).
pub fn classify(reply: &Reply) -> OpOutcome {
    match reply {
        Reply::Value(_) | Reply::Written { .. } => OpOutcome::Ok,
        Reply::Unavailable { .. } | Reply::Failed { .. } | Reply::Refused(_) => OpOutcome::Fail,
        Reply::Timeout { .. } => OpOutcome::Info,
    }
}

/// Reads a reply into a [`Completion`].
pub fn complete(reply: &Reply) -> Completion {
    let outcome = classify(reply);
    let (value, siblings) = match reply {
        Reply::Value(Some(object)) => (
            object.value().map(|b| decode_value(b).unwrap_or(GARBLED)),
            object.siblings().len(),
        ),
        _ => (None, 0),
    };
    let note = match reply {
        Reply::Value(_) => "value".to_owned(),
        Reply::Written {
            outcome: Outcome::Int(n),
            ..
        } => format!("written({n})"),
        Reply::Written { .. } => "written".to_owned(),
        Reply::Unavailable { needed, reachable } => {
            format!("unavailable(needed={needed},reachable={reachable})")
        }
        Reply::Timeout { acks, needed } => format!("timeout(acks={acks},needed={needed})"),
        Reply::Failed { reason } => format!("failed({reason})"),
        Reply::Refused(error) => format!("refused({error})"),
    };
    Completion {
        outcome,
        value,
        siblings,
        note,
    }
}

/// What a read of `object` at wall-clock `now_ms` shows, for the counter and set checkers.
/// Set members no workload could have written read as [`GARBLED`].
pub fn final_state(object: Option<&Object>, now_ms: u64) -> FinalState {
    match object.and_then(|o| o.read(now_ms)) {
        None => FinalState::Absent,
        Some(Value::Counter(Number::Int(n))) => FinalState::Counter(n),
        Some(Value::Set(entries)) => FinalState::Set(
            entries
                .iter()
                .map(|e| decode_value(&e.key).unwrap_or(GARBLED))
                .collect::<BTreeSet<u64>>(),
        ),
        Some(other) => FinalState::Other(format!("{other:?}")),
    }
}

/// The final state a read reply shows; `None` for a reply that is not a value.
pub fn final_read(reply: &Reply, now_ms: u64) -> Option<FinalState> {
    match reply {
        Reply::Value(object) => Some(final_state(object.as_ref(), now_ms)),
        _ => None,
    }
}

/// A reply in one line, for traces.
pub fn describe_reply(reply: &Reply) -> String {
    match reply {
        Reply::Value(Some(object)) => format!("value {}", super::trace::object(object)),
        other => complete(other).note,
    }
}

/// Whether a hinted-handoff reply means the target stored the hint (so it may be deleted).
pub fn handoff_delivered(reply: &Reply) -> bool {
    matches!(reply, Reply::Written { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_indeterminate_write_is_never_a_failure() {
        assert_eq!(
            classify(&Reply::Timeout { acks: 1, needed: 2 }),
            OpOutcome::Info
        );
        assert_eq!(
            classify(&Reply::Unavailable {
                needed: 2,
                reachable: 1
            }),
            OpOutcome::Fail
        );
        let written = Reply::Written {
            outcome: kvorum_consistency::Outcome::Done,
            acks: 1,
        };
        assert_eq!(classify(&written), OpOutcome::Ok);
    }
}
