//! From replication outcomes to RESP replies.
//!
//! Error prefixes are stable and say what is known about a write:
//! - `-UNAVAILABLE`: too few replicas were reachable to try; **definitely not applied**.
//! - `-TIMEOUT`: replicas did not all answer in time; the write **may have been applied**.
//! - `-ERR`: refused before anything was applied (bad request, local storage failure).

use kvorum_consistency::Reply;
use kvorum_resp::Frame;

/// The error frame for a reply that is not a success, `None` for a success.
pub fn error_of(reply: &Reply, timeout_ms: u64) -> Option<Frame> {
    match reply {
        Reply::Value(_) | Reply::Written { .. } => None,
        Reply::Unavailable { needed, reachable } => Some(Frame::error(format!(
            "UNAVAILABLE not enough replicas reachable: needed {needed}, reachable {reachable}; \
             the request was not applied"
        ))),
        Reply::Timeout { acks, needed } => Some(Frame::error(format!(
            "TIMEOUT {acks} of {needed} required replicas answered within {timeout_ms} ms; \
             a write may have been applied"
        ))),
        Reply::Failed { reason } => Some(Frame::error(format!("ERR {reason}"))),
    }
}

/// Whether a reply leaves its write applied or possibly applied.
pub fn may_have_applied(reply: &Reply) -> bool {
    matches!(reply, Reply::Timeout { .. } | Reply::Written { .. })
}
