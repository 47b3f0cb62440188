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
//! - [`parse`]: readers for public histories with known verdicts (used to validate [`wgl`]).

pub mod convergence;
pub mod linearizable;
pub mod lost_writes;
pub mod model;
pub mod parse;
pub mod stale_reads;
pub mod wgl;
