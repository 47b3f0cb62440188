//! When the client tries a request again, and where: the rules, and the pure function that
//! applies them (`decide`, tested below without a cluster).
//!
//! The rules, in the order they matter:
//!
//! 1. **A read is retried on any failure that may go away, at the next node** of the key's
//!    preference list: a read changes nothing, so sending it anywhere again is always safe.
//! 2. **A write that was not sent anywhere moves on to the next node**: when connecting,
//!    the TLS handshake, the hello or opening a stream failed, no byte of the request left the
//!    client. So does a write the node *answered* with [`Applied::No`] for a reason that may go
//!    away (`UNAVAILABLE`, `OVERLOADED`): the node promises it changed nothing.
//! 3. **A write that may have been sent stays with that node.** If the connection was lost
//!    before the reply came, the client sends *the very same request* (same
//!    [`kvorum_wire::native::RequestId`]) to *the same node* again, at most
//!    [`RetryPolicy::max_resends`] times; that node remembers the answer of each request id for
//!    a window, so a write it already applied is answered again, not applied twice. The write
//!    is never sent to a different node after it may have been sent: the other node does not
//!    know the id, and an `INCR` would count twice.
//! 4. **Everything else fails at once**: an error the request itself causes (`WRONGTYPE`, a
//!    refused value, a consistency below the namespace's floor, bad credentials), and a write
//!    the node answered with [`Applied::Maybe`] (its replicas did not acknowledge in time;
//!    asking again would only return the same remembered answer).
//!
//! All retries also stop at the request's deadline and when the preference list is exhausted,
//! so a request is bounded in time and in the number of messages it sends.

use kvorum_wire::native::{Applied, ErrorKind, ErrorReply};

/// How a try of a request ended, as far as retrying is concerned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome<'a> {
    /// Nothing was sent: connecting, the handshake, the hello or opening a stream failed.
    NotSent,
    /// The request was (or may have been) sent, and no reply came: the connection or stream
    /// failed, or the reply was unreadable.
    ReplyLost,
    /// The node answered with an error.
    Refused(&'a ErrorReply),
}

/// What to do after a failed try.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Try the next node of the preference list.
    NextNode,
    /// Send the very same request (same id) to the same node again.
    SameNode,
    /// Give up: report this try's error.
    Fail,
}

/// What the client knows about one request so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The request writes.
    pub write: bool,
    /// A write that may have reached the node it is pinned to (a reply was lost): it may not
    /// move to another node any more.
    pub pinned: bool,
    /// How many times it was re-sent to its pinned node so far.
    pub resends: u32,
}

/// Bounds of the automatic retries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a write whose reply was lost is re-sent (same id, same node) before the
    /// client reports it as indeterminate.
    pub max_resends: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_resends: 2 }
    }
}

/// Whether a node's error kind may go away if the request is tried again (elsewhere or later).
pub(crate) fn is_transient(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Unavailable
        | ErrorKind::Timeout
        | ErrorKind::Overloaded
        | ErrorKind::Internal => true,
        ErrorKind::WrongType
        | ErrorKind::Refused
        | ErrorKind::NoSuchNamespace
        | ErrorKind::Auth
        | ErrorKind::Invalid => false,
    }
}

/// The retry rule (module docs). Also updates `attempt` (a lost write becomes pinned, a resend
/// is counted).
pub(crate) fn decide(
    attempt: &mut Attempt,
    outcome: Outcome<'_>,
    policy: &RetryPolicy,
) -> Decision {
    if !attempt.write {
        return match outcome {
            Outcome::NotSent | Outcome::ReplyLost => Decision::NextNode,
            Outcome::Refused(e) if is_transient(e.kind) => Decision::NextNode,
            Outcome::Refused(_) => Decision::Fail,
        };
    }
    let resend = |attempt: &mut Attempt| {
        if attempt.resends < policy.max_resends {
            attempt.resends += 1;
            Decision::SameNode
        } else {
            Decision::Fail
        }
    };
    match outcome {
        // The pinned node could not be reached again: keep trying it, never another one.
        Outcome::NotSent if attempt.pinned => resend(attempt),
        Outcome::NotSent => Decision::NextNode,
        Outcome::ReplyLost => {
            attempt.pinned = true;
            resend(attempt)
        }
        Outcome::Refused(e) => {
            if e.applied == Applied::No && is_transient(e.kind) && !attempt.pinned {
                Decision::NextNode
            } else {
                Decision::Fail
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(kind: ErrorKind, applied: Applied) -> ErrorReply {
        ErrorReply {
            kind,
            applied,
            message: String::new(),
        }
    }

    fn run(write: bool, outcomes: &[Outcome<'_>]) -> Vec<Decision> {
        let mut attempt = Attempt {
            write,
            ..Attempt::default()
        };
        outcomes
            .iter()
            .map(|&o| decide(&mut attempt, o, &RetryPolicy::default()))
            .collect()
    }

    #[test]
    fn reads_move_on_after_any_failure_that_may_go_away() {
        let unavailable = refused(ErrorKind::Unavailable, Applied::No);
        let timeout = refused(ErrorKind::Timeout, Applied::No);
        assert_eq!(
            run(
                false,
                &[
                    Outcome::NotSent,
                    Outcome::ReplyLost,
                    Outcome::Refused(&unavailable),
                    Outcome::Refused(&timeout),
                    Outcome::ReplyLost,
                ]
            ),
            [Decision::NextNode; 5]
        );
        let wrong = refused(ErrorKind::WrongType, Applied::No);
        assert_eq!(run(false, &[Outcome::Refused(&wrong)]), [Decision::Fail]);
    }

    #[test]
    fn an_unsent_write_moves_to_the_next_node() {
        assert_eq!(
            run(true, &[Outcome::NotSent, Outcome::NotSent]),
            [Decision::NextNode, Decision::NextNode]
        );
        let overloaded = refused(ErrorKind::Overloaded, Applied::No);
        assert_eq!(
            run(true, &[Outcome::Refused(&overloaded)]),
            [Decision::NextNode]
        );
    }

    #[test]
    fn a_write_whose_reply_was_lost_is_resent_to_the_same_node_only() {
        // Lost, then the node cannot even be reached again: it stays pinned, and gives up
        // once the resends are used up instead of trying another node.
        assert_eq!(
            run(
                true,
                &[Outcome::ReplyLost, Outcome::NotSent, Outcome::NotSent]
            ),
            [Decision::SameNode, Decision::SameNode, Decision::Fail]
        );
        // A pinned write that the node then answers "not applied, unavailable" still does not
        // move: the first copy may still be in flight towards it.
        let unavailable = refused(ErrorKind::Unavailable, Applied::No);
        assert_eq!(
            run(true, &[Outcome::ReplyLost, Outcome::Refused(&unavailable)]),
            [Decision::SameNode, Decision::Fail]
        );
    }

    #[test]
    fn a_write_that_may_have_been_applied_or_is_wrong_is_not_retried() {
        for e in [
            refused(ErrorKind::Timeout, Applied::Maybe),
            refused(ErrorKind::Internal, Applied::Maybe),
            refused(ErrorKind::WrongType, Applied::No),
            refused(ErrorKind::Refused, Applied::No),
            refused(ErrorKind::Auth, Applied::No),
            refused(ErrorKind::NoSuchNamespace, Applied::No),
        ] {
            assert_eq!(
                run(true, &[Outcome::Refused(&e)]),
                [Decision::Fail],
                "{e:?}"
            );
        }
    }

    #[test]
    fn resends_are_bounded_by_the_policy() {
        let mut attempt = Attempt {
            write: true,
            ..Attempt::default()
        };
        let policy = RetryPolicy { max_resends: 3 };
        let decisions: Vec<Decision> = (0..5)
            .map(|_| decide(&mut attempt, Outcome::ReplyLost, &policy))
            .collect();
        assert_eq!(
            decisions,
            [
                Decision::SameNode,
                Decision::SameNode,
                Decision::SameNode,
                Decision::Fail,
                Decision::Fail
            ]
        );
        assert_eq!(attempt.resends, 3);
        assert!(attempt.pinned);
    }
}
