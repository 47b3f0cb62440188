//! The recorded history of a run: every client operation with its invocation, completion and
//! outcome, in Jepsen's `ok` / `fail` / `info` vocabulary.
//!
//! The text form ([`History::render`]) lists events in the order they happened and is what the
//! determinism test compares byte for byte.

use std::fmt::Write as _;

/// What a client operation is known to have done, in Jepsen's terms.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpOutcome {
    /// Completed: it took effect.
    Ok,
    /// Definitely did not take effect.
    Fail,
    /// May or may not have taken effect.
    Info,
}

impl OpOutcome {
    fn name(self) -> &'static str {
        match self {
            OpOutcome::Ok => "ok",
            OpOutcome::Fail => "fail",
            OpOutcome::Info => "info",
        }
    }
}

/// What an operation did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A register read (`GET`).
    Read,
    /// A register write of the op's unique value (`SET`).
    Write,
    /// A counter increment by this delta (`INCRBY`, negative for `DECRBY`).
    Incr(i64),
    /// A set add of the op's unique value as the one member (`SADD`).
    SAdd,
    /// A set remove of the op's value (`SREM`).
    SRem,
    /// A read of a whole set (`SMEMBERS`): the members are in [`Op::observed`].
    ReadSet,
    /// A read of every sibling with the causal context (`GETCTX`): the siblings are in
    /// [`Op::observed`].
    ReadCtx,
    /// A write of the op's unique value under the context of an earlier `ReadCtx` (`SETCTX`):
    /// the siblings that context covered are in [`Op::observed`].
    WriteCtx,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Incr(_) => "incr",
            OpKind::SAdd => "sadd",
            OpKind::SRem => "srem",
            OpKind::ReadSet => "read-set",
            OpKind::ReadCtx => "read-ctx",
            OpKind::WriteCtx => "write-ctx",
        }
    }
}

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The logical client; a client whose operation ended `info` continues as a new process,
    /// as in Jepsen, so one process never has two operations in flight.
    pub process: u64,
    /// The node the client sent it to.
    pub node: u64,
    pub key: String,
    pub kind: OpKind,
    /// A write's value, a set op's member, or an `ok` read's value (`None`: the key was empty;
    /// always `None` for an increment, whose delta is in its [`OpKind::Incr`]).
    pub value: Option<u64>,
    /// For an `ok` read: the number of siblings the reply carried.
    pub siblings: usize,
    /// Every value an operation saw: a set read's members, the siblings of a context read, or
    /// for a context write the siblings its context covered (what it supersedes). Empty for
    /// the plain register and counter operations.
    pub observed: Vec<u64>,
    pub invoke_ms: u64,
    /// When the outcome became known; `None` while pending.
    pub complete_ms: Option<u64>,
    /// `None` while pending; an operation still pending at the end counts as `info`.
    pub outcome: Option<OpOutcome>,
    /// The reply in short (`written`, `timeout(acks=1,needed=2)`, `crashed`, …).
    pub note: String,
    invoke_seq: u64,
    complete_seq: u64,
}

impl Op {
    /// The position of the invocation in the order of all events.
    pub fn invoke_seq(&self) -> u64 {
        self.invoke_seq
    }

    /// The position of the completion in the order of all events, if it completed.
    pub fn complete_seq(&self) -> Option<u64> {
        self.outcome.map(|_| self.complete_seq)
    }

    /// The outcome, counting a never-completed operation as indeterminate.
    pub fn outcome(&self) -> OpOutcome {
        self.outcome.unwrap_or(OpOutcome::Info)
    }
}

/// A run's operations, in invocation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Op>,
    seq: u64,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Records an invocation; returns its index for [`History::complete`].
    pub fn invoke(
        &mut self,
        process: u64,
        node: u64,
        key: &str,
        kind: OpKind,
        value: Option<u64>,
        at_ms: u64,
    ) -> usize {
        self.seq += 1;
        self.ops.push(Op {
            process,
            node,
            key: key.to_owned(),
            kind,
            value,
            siblings: 0,
            observed: Vec::new(),
            invoke_ms: at_ms,
            complete_ms: None,
            outcome: None,
            note: String::new(),
            invoke_seq: self.seq,
            complete_seq: u64::MAX,
        });
        self.ops.len() - 1
    }

    /// Records a completion. A read's `value` replaces the (empty) invoked one. Returns false if
    /// the operation was unknown or already complete.
    pub fn complete(
        &mut self,
        index: usize,
        outcome: OpOutcome,
        read: Option<(Option<u64>, usize)>,
        note: String,
        at_ms: u64,
    ) -> bool {
        self.seq += 1;
        let seq = self.seq;
        let Some(op) = self.ops.get_mut(index) else {
            return false;
        };
        if op.outcome.is_some() {
            return false;
        }
        op.outcome = Some(outcome);
        op.complete_ms = Some(at_ms);
        op.complete_seq = seq;
        op.note = note;
        if let (OpKind::Read, Some((value, siblings))) = (op.kind, read) {
            op.value = value;
            op.siblings = siblings;
        }
        true
    }

    /// Records what operation `index` saw (see [`Op::observed`]); a context write records its
    /// context's siblings at invocation, a read its answer at completion.
    pub fn observe(&mut self, index: usize, values: Vec<u64>) {
        if let Some(op) = self.ops.get_mut(index) {
            op.observed = values;
        }
    }

    /// One line per event, in the order events happened: time, `#operation index`, process, node,
    /// type, function, key, value, and for a completion `; what the reply said`.
    pub fn render(&self) -> String {
        let mut events: Vec<(u64, String)> = Vec::with_capacity(self.ops.len() * 2);
        for (index, op) in self.ops.iter().enumerate() {
            let f = op.kind.name();
            let invoked = match op.kind {
                OpKind::Read | OpKind::ReadSet | OpKind::ReadCtx => "nil".to_owned(),
                OpKind::Incr(delta) => delta.to_string(),
                OpKind::Write | OpKind::SAdd | OpKind::SRem | OpKind::WriteCtx => show(op.value),
            };
            events.push((
                op.invoke_seq,
                format!(
                    "{} #{index} p{} n{} :invoke :{f} {} {invoked}",
                    op.invoke_ms, op.process, op.node, op.key
                ),
            ));
            if let (Some(outcome), Some(at)) = (op.outcome, op.complete_ms) {
                let shown = match op.kind {
                    OpKind::Incr(_) => invoked.clone(),
                    OpKind::ReadSet | OpKind::ReadCtx => format!("{:?}", op.observed),
                    _ => show(op.value),
                };
                let mut line = format!(
                    "{at} #{index} p{} n{} :{} :{f} {} {shown}",
                    op.process,
                    op.node,
                    outcome.name(),
                    op.key,
                );
                if op.siblings > 1 {
                    let _ = write!(line, " siblings={}", op.siblings);
                }
                let _ = write!(line, " ; {}", op.note);
                events.push((op.complete_seq, line));
            }
        }
        events.sort_by_key(|(seq, _)| *seq);
        let mut out = String::new();
        for (_, line) in events {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "nil".to_owned(), |v| v.to_string())
}

/// One fault the nemesis applied, as executed: what, to whom, and when (ms since the run
/// began). Reports shade these periods; `end_ms` is when the fault was healed (the run's end
/// if it never was before the final heal).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NemesisPeriod {
    /// The fault's family: `partition`, `loss`, `kill`, `pause`, `clock`.
    pub name: String,
    /// What exactly was done, as logged (`n1 n2 | n3 n4 n5`, `SIGKILL n3`, `n2 +5000 ms`).
    pub detail: String,
    pub start_ms: u64,
    pub end_ms: u64,
}
