//! `kvorum-jepsen`: proving kvorum's guarantees under faults.
//!
//! Planned layout (see `../docs/ARCHITECTURE.md` and the design's testing table):
//! - a **deterministic simulator** that drives the real sans-IO core
//!   (`kvorum_consistency::Core`) with a seeded network (loss, delay, reordering, partitions),
//!   seeded clocks and in-memory storage whose crash loses unsynced writes, so every failure
//!   replays from its seed;
//! - a **real-process harness** that runs `kvorum server` processes in network namespaces on a
//!   private bridge, injects partitions (nft), kills, pauses and clock skew, and records every
//!   client operation as `ok` / `fail` / `info`;
//! - **checkers** shared by both: WGL linearizability per key, set, counter, convergence.
//!
//! Today the crate holds the operation outcome vocabulary both will share, and how a kvorum
//! reply maps onto it — the rule that an indeterminate write is never reported as failed.

use kvorum_consistency::Reply;

/// What a client operation is known to have done, in Jepsen's terms.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// Completed: it took effect.
    Ok,
    /// Definitely did not take effect.
    Fail,
    /// May or may not have taken effect.
    Info,
}

/// Classifies a kvorum reply. `UNAVAILABLE` and refusals are `Fail` (nothing was applied);
/// `TIMEOUT` is `Info` (a write may have been applied).
pub fn classify(reply: &Reply) -> OpOutcome {
    match reply {
        Reply::Value(_) | Reply::Written { .. } => OpOutcome::Ok,
        Reply::Unavailable { .. } | Reply::Failed { .. } => OpOutcome::Fail,
        Reply::Timeout { .. } => OpOutcome::Info,
    }
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
        assert_eq!(classify(&Reply::Written { existed: false }), OpOutcome::Ok);
    }
}
