//! What a run leaves behind for people and tools: the history as versioned JSON lines that
//! replay into the same [`History`](crate::history::History), latency and rate plots (SVG) with
//! the nemesis periods shaded, and a self-contained timeline page (HTML).
//!
//! Layout:
//! - [`jsonl`]: `history.jsonl`, written and read back, so checkers can be rerun on a past run.
//! - [`plot`]: `latency.svg` and `rate.svg`, built on the shared frame in `chart`.
//! - [`timeline`]: `timeline.html`, one lane per client, the faults on a track above.
//! - private helpers: `escape` (all run text goes through it before entering markup), `ticks`
//!   (nice axis steps and scales), `palette` (Jepsen's outcome colours, fault colours, marker
//!   shapes), `packing` (first-fit rows for fault labels and timeline lanes); in tests,
//!   `testing` (a synthetic run and a well-formedness check for the markup).
//!
//! Everything is written by hand without plotting or templating crates: the output is plain
//! text that needs no fonts beyond the viewer's `sans-serif` and no network to display.

mod chart;
pub mod civil;
mod escape;
pub mod jsonl;
mod packing;
mod palette;
pub mod plot;
#[cfg(test)]
mod testing;
mod ticks;
pub mod timeline;

use crate::history::OpOutcome;

/// Jepsen's name for an outcome, as the history file and every label spell it.
fn outcome_name(outcome: OpOutcome) -> &'static str {
    match outcome {
        OpOutcome::Ok => "ok",
        OpOutcome::Fail => "fail",
        OpOutcome::Info => "info",
    }
}
