//! The JSON files: `results.json` holds the whole [`Report`] (every measured figure, the
//! per-second series and the CDF); `latest.json` only the [`Summary`] of each result, for
//! scripts and for comparing runs over time.

use super::{Report, Summary};
use crate::ycsb::RunResult;

/// `results.json`'s text.
pub fn results(report: &Report) -> std::io::Result<String> {
    serde_json::to_string_pretty(report).map_err(std::io::Error::other)
}

/// `latest.json`'s text: an array of [`Summary`] records, one per result, in order.
pub fn latest(results: &[RunResult]) -> std::io::Result<String> {
    let summaries: Vec<Summary> = results.iter().map(Summary::of).collect();
    serde_json::to_string_pretty(&summaries).map_err(std::io::Error::other)
}
