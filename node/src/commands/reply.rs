//! From replication outcomes to RESP replies.
//!
//! Error prefixes are stable and say what is known about a write:
//! - `-UNAVAILABLE`: too few replicas were reachable to try; **definitely not applied**.
//! - `-TIMEOUT`: replicas did not all answer in time; the write **may have been applied**.
//! - `-ERR`: refused before anything was applied (bad request, local storage failure).
//! - `-WRONGTYPE` and the `-ERR` texts of Redis (`value is not an integer`...): the command was
//!   refused before anything changed.

use kvorum_consistency::{Object, Outcome, Reply};
use kvorum_resp::Frame;

/// A request that succeeded.
pub enum Done {
    /// A read's merged state (`None`: no replica holds the key).
    Value(Option<Object>),
    /// A write's answer.
    Written(Outcome),
}

/// The success of a reply, or its error frame.
pub fn done(reply: Reply, timeout_ms: u64) -> Result<Done, Frame> {
    match reply {
        Reply::Value(object) => Ok(Done::Value(object)),
        Reply::Written { outcome, .. } => Ok(Done::Written(outcome)),
        other => Err(error_of(&other, timeout_ms).unwrap_or_else(Frame::null)),
    }
}

/// The error frame for a reply that is not a success, `None` for a success.
pub fn error_of(reply: &Reply, timeout_ms: u64) -> Option<Frame> {
    error_text(reply, timeout_ms).map(Frame::error)
}

/// The text of a failed reply's error, as RESP sends it (and the native protocol's `message`).
pub fn error_text(reply: &Reply, timeout_ms: u64) -> Option<String> {
    match reply {
        Reply::Value(_) | Reply::Written { .. } => None,
        Reply::Unavailable { needed, reachable } => Some(format!(
            "UNAVAILABLE not enough replicas reachable: needed {needed}, reachable {reachable}; \
             the request was not applied"
        )),
        Reply::Timeout { acks, needed } => Some(format!(
            "TIMEOUT {acks} of {needed} required replicas answered within {timeout_ms} ms; \
             a write may have been applied"
        )),
        Reply::Failed { reason } => Some(format!("ERR {reason}")),
        Reply::Refused(error) => Some(error.to_string()),
    }
}

/// The error of a (multi-key) write, `None` if every key was written. When some keys were (or
/// may have been) written and others not, the error says so rather than pretending nothing
/// happened. A single write's error is returned as it is.
pub fn combine_writes(command: &str, outcomes: &[Reply], timeout_ms: u64) -> Option<Frame> {
    let first_error = outcomes.iter().find_map(|r| error_of(r, timeout_ms))?;
    let written = outcomes
        .iter()
        .filter(|r| matches!(r, Reply::Written { .. }))
        .count();
    if written == 0 {
        // Nothing is known to be written: the most telling error is an indeterminate one, if any
        // (some keys may have been written), else the first definite failure.
        let indeterminate = outcomes.iter().find(|r| matches!(r, Reply::Timeout { .. }));
        return indeterminate
            .and_then(|r| error_of(r, timeout_ms))
            .or(Some(first_error));
    }
    let applied = outcomes.iter().filter(|r| may_have_applied(r)).count();
    let reason = first_error
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    Some(Frame::error(format!(
        "ERR {command} partially applied: {applied} of {} keys written or possibly written; \
         first failure: {reason}",
        outcomes.len()
    )))
}

/// Whether a reply leaves its write applied or possibly applied.
fn may_have_applied(reply: &Reply) -> bool {
    matches!(reply, Reply::Timeout { .. } | Reply::Written { .. })
}
