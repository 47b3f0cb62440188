//! Checkers: pure functions from a recorded history (and, where needed, the final stored state)
//! to a verdict. Nothing here knows about the simulator, so the real-process harness can reuse
//! every checker unchanged.
//!
//! - [`wgl`]: the generic WGL linearizability search with memoisation, a budget and a witness;
//!   [`model`]: the sequential specifications it checks against (register with CAS, string cell).
//! - [`linearizable`]: runs the search over a [`crate::history::History`], one key at a time
//!   (linearizability is compositional, so per-key checks are exact and far cheaper).
//! - [`lost_writes`]: every acknowledged write survives in the final merged state, as a sibling
//!   or superseded by a write that saw it.
//! - [`stale_reads`]: the real-time rules a regular register keeps (no read of a value
//!   superseded before the read began, no read of a value never written).
//! - [`convergence`]: after the final heal, every replica of a key holds the same object.
//! - [`counter`]: every final value of a counter is its acknowledged increments plus some of
//!   its indeterminate ones.
//! - [`set`]: no acknowledged add lost, no failed add present, no member nobody added.
//! - [`set_full`]: how long acknowledged set members stayed invisible to reads during a run.
//! - [`siblings`]: context read-modify-writes lose no acknowledged write and invent nothing.
//! - [`availability`]: the share of successful operations per node, per fault period.
//! - [`logs`]: panics in node logs.
//! - [`parse`]: readers for public histories with known verdicts (used to validate [`wgl`]).

pub mod availability;
pub mod convergence;
pub mod counter;
pub mod linearizable;
pub mod logs;
pub mod lost_writes;
pub mod model;
pub mod parse;
pub mod set;
pub mod set_full;
pub mod siblings;
pub mod stale_reads;
pub mod wgl;

use std::collections::BTreeSet;

/// What a key reads as at the end of a run, decoded for the [`counter`] and [`set`] checkers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FinalState {
    /// No such key (never written, or nothing live in it).
    Absent,
    Counter(i64),
    /// The members, as workload values.
    Set(BTreeSet<u64>),
    /// Anything else (a string, a hash, a float counter), described.
    Other(String),
}

/// One view of one key at the end of a run: a final read's answer or a replica's stored copy.
/// The checkers judge every view, so one stale replica or one wrong answer is enough to fail.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FinalView {
    pub key: String,
    /// Where the view comes from, for the witness (`read at ALL via n2`, `storage of n1`).
    pub source: String,
    pub state: FinalState,
}
