//! The workloads clients run against real nodes: what the next operation is, the RESP command
//! that carries it, and how its reply reads into the history.
//!
//! - `register`: `GET` / `SET` of unique values on independent keys, each key retired after
//!   [`REGISTER_OPS_PER_KEY`] operations so per-key linearizability checks stay small;
//! - `set`: `SADD` of unique members to a few keys, with a periodic `SMEMBERS`;
//! - `counter`: `INCRBY` with positive and negative deltas on a few keys;
//! - `siblings`: read-modify-write through `GETCTX` and `SETCTX` on a few contended keys.

use std::fmt;

use kvorum_resp::Frame;
use serde::Serialize;

use super::client::{text, Answer};
use crate::history::{OpKind, OpOutcome};
use crate::sim::rng::SimRng;

/// Operations on one register key before the generator moves on to a fresh key.
pub const REGISTER_OPS_PER_KEY: usize = 120;
/// Register keys in use at any one time.
const REGISTER_ACTIVE_KEYS: usize = 5;
/// Keys of the set, counter and siblings workloads.
const FEW_KEYS: u64 = 3;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Register,
    Set,
    Counter,
    Siblings,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Register,
        Workload::Set,
        Workload::Counter,
        Workload::Siblings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Set => "set",
            Workload::Counter => "counter",
            Workload::Siblings => "siblings",
        }
    }

    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The mode a workload runs in unless told otherwise: the register checks linearizability,
    /// the convergent types are meant for eventual mode.
    pub fn default_mode(self) -> Mode {
        match self {
            Workload::Register => Mode::Strong,
            _ => Mode::Eventual,
        }
    }
}

/// The consistency mode every client connection asks for (`CONSISTENCY …`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Strong,
    Quorum,
    Eventual,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Strong => "strong",
            Mode::Quorum => "quorum",
            Mode::Eventual => "eventual",
        }
    }

    pub fn parse(name: &str) -> Option<Mode> {
        [Mode::Strong, Mode::Quorum, Mode::Eventual]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// The preset name for `CONSISTENCY`.
    pub fn preset(self) -> &'static str {
        match self {
            Mode::Strong => "STRONG",
            Mode::Quorum => "QUORUM",
            Mode::Eventual => "EVENTUAL",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub key: String,
    pub kind: OpKind,
    /// The value written or added (`None` for reads and increments).
    pub value: Option<u64>,
    /// For a context write: the context token and the siblings it covered.
    pub context: Option<(String, Vec<u64>)>,
}

impl Planned {
    /// The command's words.
    pub fn command(&self) -> Vec<String> {
        let key = self.key.clone();
        let value = self.value.map(|v| v.to_string()).unwrap_or_default();
        let words: Vec<String> = match self.kind {
            OpKind::Read => vec!["GET".into(), key],
            OpKind::Write => vec!["SET".into(), key, value],
            OpKind::Incr(delta) => vec!["INCRBY".into(), key, delta.to_string()],
            OpKind::SAdd => vec!["SADD".into(), key, value],
            OpKind::SRem => vec!["SREM".into(), key, value],
            OpKind::ReadSet => vec!["SMEMBERS".into(), key],
            OpKind::ReadCtx => vec!["GETCTX".into(), key],
            OpKind::WriteCtx => {
                let token = self.context.as_ref().map(|(t, _)| t.clone());
                vec!["SETCTX".into(), key, token.unwrap_or_default(), value]
            }
        };
        words
    }
}

/// What a completed operation recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub outcome: OpOutcome,
    /// A register read's value (`None`: empty key).
    pub value: Option<u64>,
    pub siblings: usize,
    /// A set read's members or a context read's siblings.
    pub observed: Vec<u64>,
    /// For a context read: the token, for the client's next write.
    pub context: Option<String>,
    pub note: String,
}

/// Reads an answer into a completion for `planned`. A successful reply this workload cannot
/// read (a value that is not one of ours) is recorded as `info` with the reason, and the
/// checkers see it as an unknown outcome rather than a made-up value.
pub fn complete(planned: &Planned, answer: &Answer) -> Completion {
    let mut done = Completion {
        outcome: answer.outcome(),
        value: None,
        siblings: 0,
        observed: Vec::new(),
        context: None,
        note: answer.note(),
    };
    let Answer::Ok(frame) = answer else {
        return done;
    };
    let parsed: Result<(), String> = match planned.kind {
        OpKind::Read => match frame {
            Frame::Null => Ok(()),
            other => number(other).map(|v| {
                done.value = Some(v);
                done.siblings = 1;
            }),
        },
        OpKind::Incr(_) => match frame {
            Frame::Integer(n) => {
                done.note = format!("ok {n}");
                Ok(())
            }
            other => Err(format!("INCRBY answered {other:?}")),
        },
        OpKind::ReadSet => members(frame).map(|m| done.observed = m),
        OpKind::ReadCtx => match frame.as_items() {
            Some([token, siblings]) => match (text(token), siblings.as_items()) {
                (Some(token), Some(items)) => {
                    let values: Result<Vec<u64>, String> =
                        items.iter().filter(|f| !f.is_null()).map(number).collect();
                    values.map(|v| {
                        done.siblings = v.len();
                        done.observed = v;
                        done.context = Some(token);
                    })
                }
                _ => Err(format!("GETCTX answered {frame:?}")),
            },
            _ => Err(format!("GETCTX answered {frame:?}")),
        },
        OpKind::Write | OpKind::SAdd | OpKind::SRem | OpKind::WriteCtx => Ok(()),
    };
    if let Err(reason) = parsed {
        done.outcome = OpOutcome::Info;
        done.note = format!("unreadable reply: {reason}");
    }
    done
}

fn number(frame: &Frame) -> Result<u64, String> {
    text(frame)
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("not a workload value: {frame:?}"))
}

fn members(frame: &Frame) -> Result<Vec<u64>, String> {
    let items = match frame {
        Frame::Array(items) | Frame::Set(items) => items,
        other => return Err(format!("SMEMBERS answered {other:?}")),
    };
    let mut values: Vec<u64> = items.iter().map(number).collect::<Result<_, _>>()?;
    values.sort_unstable();
    Ok(values)
}

/// Chooses operations for every client of a run, from one seed.
pub struct Generator {
    workload: Workload,
    rng: SimRng,
    next_value: u64,
    /// Register keys in use and how many operations each has had.
    active: Vec<(u64, usize)>,
    next_key: u64,
}

impl Generator {
    pub fn new(workload: Workload, seed: u64) -> Self {
        Generator {
            workload,
            rng: SimRng::new(seed),
            next_value: 1,
            active: (0..REGISTER_ACTIVE_KEYS as u64).map(|k| (k, 0)).collect(),
            next_key: REGISTER_ACTIVE_KEYS as u64,
        }
    }

    fn unique(&mut self) -> u64 {
        let v = self.next_value;
        self.next_value += 1;
        v
    }

    /// The next operation; `pending` is the client's context read to follow up, if any (the
    /// siblings workload writes back under the context it read).
    pub fn next(&mut self, pending: Option<(String, String, Vec<u64>)>) -> Planned {
        let plain = |key: String, kind: OpKind, value: Option<u64>| Planned {
            key,
            kind,
            value,
            context: None,
        };
        match self.workload {
            Workload::Register => {
                let slot = self.rng.index(self.active.len());
                let Some(entry) = self.active.get_mut(slot) else {
                    return plain("r0".into(), OpKind::Read, None);
                };
                if entry.1 >= REGISTER_OPS_PER_KEY {
                    *entry = (self.next_key, 0);
                    self.next_key += 1;
                }
                entry.1 += 1;
                let key = format!("r{}", entry.0);
                if self.rng.chance(0.5) {
                    plain(key, OpKind::Read, None)
                } else {
                    let v = self.unique();
                    plain(key, OpKind::Write, Some(v))
                }
            }
            Workload::Set => {
                let key = format!("s{}", self.rng.below(FEW_KEYS));
                if self.rng.chance(0.1) {
                    plain(key, OpKind::ReadSet, None)
                } else {
                    let v = self.unique();
                    plain(key, OpKind::SAdd, Some(v))
                }
            }
            Workload::Counter => {
                let key = format!("c{}", self.rng.below(FEW_KEYS));
                let magnitude = self.rng.range(1, 10) as i64;
                let delta = if self.rng.chance(0.3) {
                    -magnitude
                } else {
                    magnitude
                };
                plain(key, OpKind::Incr(delta), None)
            }
            Workload::Siblings => match pending {
                Some((key, token, covered)) => {
                    let v = self.unique();
                    Planned {
                        key,
                        kind: OpKind::WriteCtx,
                        value: Some(v),
                        context: Some((token, covered)),
                    }
                }
                None => plain(
                    format!("x{}", self.rng.below(FEW_KEYS)),
                    OpKind::ReadCtx,
                    None,
                ),
            },
        }
    }

    /// Every key this generator has handed out (for final reads and convergence).
    pub fn keys(&self) -> Vec<String> {
        match self.workload {
            Workload::Register => (0..self.next_key).map(|k| format!("r{k}")).collect(),
            Workload::Set => (0..FEW_KEYS).map(|k| format!("s{k}")).collect(),
            Workload::Counter => (0..FEW_KEYS).map(|k| format!("c{k}")).collect(),
            Workload::Siblings => (0..FEW_KEYS).map(|k| format!("x{k}")).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_keys_retire_after_their_share_of_operations() {
        let mut g = Generator::new(Workload::Register, 7);
        let mut per_key = std::collections::BTreeMap::<String, usize>::new();
        for _ in 0..3000 {
            *per_key.entry(g.next(None).key).or_default() += 1;
        }
        assert!(per_key.len() > 3000 / REGISTER_OPS_PER_KEY);
        assert!(per_key.values().all(|&n| n <= REGISTER_OPS_PER_KEY));
        assert_eq!(g.keys().len(), per_key.len());
    }

    #[test]
    fn written_values_are_unique() {
        let mut g = Generator::new(Workload::Set, 1);
        let values: Vec<u64> = (0..500).filter_map(|_| g.next(None).value).collect();
        let distinct: std::collections::BTreeSet<_> = values.iter().collect();
        assert_eq!(values.len(), distinct.len());
    }

    #[test]
    fn a_context_read_is_followed_by_a_write_under_its_context() {
        let mut g = Generator::new(Workload::Siblings, 3);
        let read = g.next(None);
        assert_eq!(read.kind, OpKind::ReadCtx);
        let write = g.next(Some((read.key.clone(), "ab01".into(), vec![4, 5])));
        assert_eq!(write.kind, OpKind::WriteCtx);
        assert_eq!(write.command()[..3], ["SETCTX", read.key.as_str(), "ab01"]);
    }

    #[test]
    fn replies_read_into_completions() {
        let read = Planned {
            key: "x0".into(),
            kind: OpKind::ReadCtx,
            value: None,
            context: None,
        };
        let frame = Frame::Array(vec![
            Frame::bulk("0102"),
            Frame::Array(vec![Frame::bulk("7"), Frame::Null, Frame::bulk("9")]),
        ]);
        let done = complete(&read, &Answer::Ok(frame));
        assert_eq!(done.outcome, OpOutcome::Ok);
        assert_eq!(done.observed, vec![7, 9]);
        assert_eq!(done.context.as_deref(), Some("0102"));

        let get = Planned {
            kind: OpKind::Read,
            ..read
        };
        let garbled = complete(&get, &Answer::Ok(Frame::bulk("not ours")));
        assert_eq!(garbled.outcome, OpOutcome::Info);
    }
}
