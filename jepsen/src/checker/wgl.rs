//! The Wing–Gong–Lowe (WGL) linearizability search, generic over a sequential [`Model`].
//!
//! The history becomes one doubly linked list of call and return entries ordered by time (a call
//! before a return at the same instant, so touching operations count as concurrent). The search
//! walks the list: at a call it tries to linearize that operation now (the model must accept its
//! output in the current state); at a return it has met an operation that had to be linearized
//! already, so it backtracks. Linearized operations are *lifted* out of the list, so the walk
//! always restarts at the earliest pending entry.
//!
//! Three details make it usable on real histories:
//! - **Memoisation**: a (set of linearized operations, model state) pair seen before cannot lead
//!   anywhere new, so it is skipped. This is what keeps the search from exploding.
//! - **Indeterminate operations** (`:info`, `ret == None`): their return sits at the end of time,
//!   so they may be linearized anywhere after their call; and the search succeeds as soon as every
//!   *determinate* operation is linearized, so an indeterminate one may also never take effect.
//! - **A budget**: after `budget` steps the answer is [`Verdict::Unknown`] rather than a hang.
//!
//! On failure the [`Witness`] names the longest linearizable prefix found and the operation whose
//! return could not be reached with any placement: the place to start reading the history.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: what a single copy of the object would do.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug;
    type Output: Debug;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// Applies `input` in `state`; `None` if the observed `output` is impossible there.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;
}

/// One operation of a history, as the checker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The caller's name for the operation (reported back in a [`Witness`]).
    pub id: usize,
    pub process: u64,
    /// When it was invoked (any monotonic unit; a line number works).
    pub call: u64,
    /// When it completed; `None` for an indeterminate operation that may take effect at any time
    /// after `call`, or never.
    pub ret: Option<u64>,
    pub input: I,
    /// For an indeterminate operation, the model's "unknown" output.
    pub output: O,
}

/// Why a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The longest linearizable prefix the search found, as operation ids in linearization order.
    pub prefix: Vec<usize>,
    /// The operation that could not be placed after that prefix: it returned before any
    /// remaining choice could linearize it.
    pub blocked: usize,
}

/// The checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable(Witness),
    /// The search budget ran out first.
    Unknown {
        steps: u64,
    },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// How many search steps [`check`] takes before answering [`Verdict::Unknown`] by default.
pub const DEFAULT_BUDGET: u64 = 5_000_000;

const HEAD: usize = 0;
const NONE: usize = usize::MAX;

#[derive(Clone, Debug)]
struct Entry {
    /// Index into the operations slice.
    op: usize,
    is_call: bool,
    /// For a call: the index of its return entry.
    partner: usize,
    prev: usize,
    next: usize,
}

/// The entries as a doubly linked list with a sentinel head at index 0.
struct List {
    entries: Vec<Entry>,
}

impl List {
    fn build<I, O>(ops: &[Operation<I, O>]) -> List {
        // (time, returns after calls, op index, is_call)
        let mut events: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, 0, i, true));
            events.push((op.ret.unwrap_or(u64::MAX), 1, i, false));
        }
        events.sort_unstable();
        let mut entries = Vec::with_capacity(events.len() + 1);
        entries.push(Entry {
            op: NONE,
            is_call: false,
            partner: NONE,
            prev: NONE,
            next: NONE,
        });
        let mut return_of = vec![NONE; ops.len()];
        for (k, &(_, _, op, is_call)) in events.iter().enumerate() {
            let index = k + 1;
            if !is_call {
                if let Some(slot) = return_of.get_mut(op) {
                    *slot = index;
                }
            }
            entries.push(Entry {
                op,
                is_call,
                partner: NONE,
                prev: index - 1,
                next: if k + 1 < events.len() {
                    index + 1
                } else {
                    NONE
                },
            });
        }
        if entries.len() > 1 {
            entries[HEAD].next = 1;
        }
        for entry in entries.iter_mut().skip(1) {
            if entry.is_call {
                entry.partner = return_of.get(entry.op).copied().unwrap_or(NONE);
            }
        }
        List { entries }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.entries[i].prev, self.entries[i].next);
        self.entries[prev].next = next;
        if next != NONE {
            self.entries[next].prev = prev;
        }
    }

    fn relink(&mut self, i: usize) {
        let (prev, next) = (self.entries[i].prev, self.entries[i].next);
        self.entries[prev].next = i;
        if next != NONE {
            self.entries[next].prev = i;
        }
    }

    /// Removes a call and its return from the list.
    fn lift(&mut self, call: usize) {
        let ret = self.entries[call].partner;
        self.unlink(call);
        self.unlink(ret);
    }

    /// Undoes [`List::lift`] (in reverse order, so the links come back exactly).
    fn unlift(&mut self, call: usize) {
        let ret = self.entries[call].partner;
        self.relink(ret);
        self.relink(call);
    }
}

/// Checks that `ops` (one object's history) is linearizable with respect to `model`, taking at
/// most `budget` search steps.
pub fn check<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>], budget: u64) -> Verdict {
    let mut list = List::build(ops);
    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut remaining = ops.iter().filter(|o| o.ret.is_some()).count();
    let mut cache: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    // (call entry, state before it)
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut entry = list.entries[HEAD].next;
    let mut best: Option<Witness> = None;
    let mut steps: u64 = 0;

    while remaining > 0 {
        steps += 1;
        if steps > budget {
            return Verdict::Unknown { steps };
        }
        if entry == NONE {
            // Only indeterminate returns can be at the end; unreachable while determinate
            // operations remain, but backtrack rather than trust that.
            match backtrack(&mut list, &mut stack, &mut linearized, ops, &mut remaining) {
                Some((next, previous)) => {
                    entry = next;
                    state = previous;
                    continue;
                }
                None => break,
            }
        }
        let current = list.entries[entry].clone();
        let Some(op) = ops.get(current.op) else {
            break;
        };
        if current.is_call {
            if let Some(next_state) = model.step(&state, &op.input, &op.output) {
                let mut with = linearized.clone();
                with[current.op / 64] |= 1 << (current.op % 64);
                if cache.insert((with.clone(), next_state.clone())) {
                    stack.push((entry, state));
                    state = next_state;
                    linearized = with;
                    if op.ret.is_some() {
                        remaining -= 1;
                    }
                    list.lift(entry);
                    entry = list.entries[HEAD].next;
                    continue;
                }
            }
            entry = current.next;
        } else {
            // A return: its operation had to be linearized before this point.
            if best.as_ref().is_none_or(|w| stack.len() > w.prefix.len()) {
                best = Some(Witness {
                    prefix: stack
                        .iter()
                        .filter_map(|(e, _)| ops.get(list.entries[*e].op).map(|o| o.id))
                        .collect(),
                    blocked: op.id,
                });
            }
            match backtrack(&mut list, &mut stack, &mut linearized, ops, &mut remaining) {
                Some((next, previous)) => {
                    entry = next;
                    state = previous;
                }
                None => {
                    return Verdict::NotLinearizable(best.unwrap_or(Witness {
                        prefix: Vec::new(),
                        blocked: op.id,
                    }))
                }
            }
        }
    }
    if remaining == 0 {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable(best.unwrap_or(Witness {
            prefix: Vec::new(),
            blocked: ops.first().map(|o| o.id).unwrap_or(0),
        }))
    }
}

/// Pops the last linearized operation; returns the entry after it and the state before it.
fn backtrack<I, O, S>(
    list: &mut List,
    stack: &mut Vec<(usize, S)>,
    linearized: &mut [u64],
    ops: &[Operation<I, O>],
    remaining: &mut usize,
) -> Option<(usize, S)> {
    let (call, previous) = stack.pop()?;
    let op = list.entries[call].op;
    list.unlift(call);
    if let Some(word) = linearized.get_mut(op / 64) {
        *word &= !(1 << (op % 64));
    }
    if ops.get(op).is_some_and(|o| o.ret.is_some()) {
        *remaining += 1;
    }
    Some((list.entries[call].next, previous))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::model::{Register, RegisterInput, RegisterOutput};

    fn op(
        id: usize,
        call: u64,
        ret: Option<u64>,
        input: RegisterInput<u64>,
        output: RegisterOutput<u64>,
    ) -> Operation<RegisterInput<u64>, RegisterOutput<u64>> {
        Operation {
            id,
            process: id as u64,
            call,
            ret,
            input,
            output,
        }
    }

    #[test]
    fn an_exhausted_budget_answers_unknown() {
        // Many concurrent writes and a read that matches none: the search must try them all.
        let mut ops: Vec<_> = (0..12)
            .map(|i| {
                op(
                    i,
                    0,
                    Some(100),
                    RegisterInput::Write(i as u64),
                    RegisterOutput::Written,
                )
            })
            .collect();
        ops.push(op(
            12,
            0,
            Some(100),
            RegisterInput::Read,
            RegisterOutput::Read(Some(99)),
        ));
        assert!(matches!(
            check(&Register::new(), &ops, 10),
            Verdict::Unknown { .. }
        ));
        assert!(matches!(
            check(&Register::new(), &ops, DEFAULT_BUDGET),
            Verdict::NotLinearizable(_)
        ));
    }

    #[test]
    fn an_empty_history_is_linearizable() {
        let ops: Vec<Operation<RegisterInput<u64>, RegisterOutput<u64>>> = Vec::new();
        assert!(check(&Register::new(), &ops, 1).is_linearizable());
    }
}
