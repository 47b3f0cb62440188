//! Running one request across the nodes of its preference list, with the retries of
//! [`crate::retry`], by a deadline.
//!
//! [`run`] sends a single request ([`Request::Op`], [`Request::Scan`], …); [`run_batch`] sends
//! many operations grouped into one [`Request::Batch`] per node and retries each operation by
//! the same rules. Both are generic over [`Transport`] so the rules are tested against a
//! scripted transport, without a cluster.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use kvorum_ring::NodeId;
use kvorum_wire::native::{Applied, Body, ErrorReply, OpReply, OpRequest, Request, Response};

use crate::connection::{body_name, Delivery, Failure};
use crate::error::Error;
use crate::retry::{decide, Attempt, Decision, Outcome, RetryPolicy};

/// Sends one request to one node and reads its reply.
pub(crate) trait Transport: Sync {
    fn exchange<'a>(
        &'a self,
        node: NodeId,
        request: &'a Request,
        deadline: Instant,
    ) -> impl Future<Output = Result<Response, Failure>> + Send + 'a;
}

/// What one request is run with.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Limits {
    pub deadline: Instant,
    /// When the call started, for the timeout error's message.
    pub started: Instant,
    pub policy: RetryPolicy,
}

impl Limits {
    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// How long one try may wait for its reply. A read that has another node to go to waits
    /// at most half the remaining time, so a node that stopped answering without closing its
    /// connection (paused, overloaded, partitioned) leaves time to ask another replica; a
    /// write, or a read's last chance, waits until the deadline.
    fn attempt_deadline(&self, write: bool, more_nodes: bool) -> Instant {
        if write || !more_nodes {
            return self.deadline;
        }
        let now = Instant::now();
        now + self.deadline.saturating_duration_since(now) / 2
    }

    fn timeout(&self, attempt: &Attempt, last: Option<Delivery>) -> Error {
        let maybe = attempt.write && (attempt.pinned || last == Some(Delivery::Unknown));
        Error::Timeout {
            after: self.started.elapsed(),
            applied: if maybe { Applied::Maybe } else { Applied::No },
        }
    }

    /// A short pause before re-sending to the same node, doubling per resend (20 ms, 40 ms, …,
    /// at most 320 ms), cut short by the deadline.
    async fn backoff(&self, resends: u32) {
        let pause =
            Duration::from_millis(20) * 2u32.saturating_pow(resends.saturating_sub(1).min(4));
        let until = (Instant::now() + pause).min(self.deadline);
        tokio::time::sleep_until(until.into()).await;
    }
}

/// The error a node's refusal becomes.
pub(crate) fn server_error(node: NodeId, e: &ErrorReply) -> Error {
    Error::Server {
        node: Some(node),
        kind: e.kind,
        applied: e.applied,
        message: e.message.clone(),
    }
}

/// The final error of a request: a write pinned to a node whose reply never came is
/// indeterminate whatever the last try's error says; a read never is.
fn settle(error: Error, attempt: &Attempt, node: NodeId) -> Error {
    if !attempt.write {
        return error.for_read();
    }
    if attempt.pinned && !error.is_indeterminate() && !matches!(error, Error::Server { .. }) {
        return Error::ConnectionLost {
            node,
            reason: format!("the reply was lost and could not be recovered: {error}"),
            applied: Applied::Maybe,
        };
    }
    error
}

/// The error a reply carries instead of an answer, if any.
fn refusal(body: &Body) -> Option<&ErrorReply> {
    match body {
        Body::Error(e) | Body::Op(Err(e)) => Some(e),
        _ => None,
    }
}

/// Runs one request: tries the nodes of `candidates` in order, retrying by the rules of
/// [`crate::retry`], until a node answers or the deadline passes. Returns the answering node and
/// its reply (never an error reply).
pub(crate) async fn run<T: Transport>(
    transport: &T,
    request: &Request,
    write: bool,
    candidates: &[NodeId],
    limits: &Limits,
) -> Result<(NodeId, Response), Error> {
    let mut attempt = Attempt {
        write,
        ..Attempt::default()
    };
    let mut index = 0;
    let mut last: Option<(NodeId, Error, Option<Delivery>)> = None;
    loop {
        let Some(&node) = candidates.get(index) else {
            return Err(match last {
                Some((node, error, _)) => settle(error, &attempt, node),
                None => Error::NoNodes,
            });
        };
        if limits.expired() {
            return Err(limits.timeout(&attempt, last.and_then(|(_, _, d)| d)));
        }
        let more_nodes = index + 1 < candidates.len();
        let attempt_deadline = limits.attempt_deadline(write, more_nodes);
        let (decision, error, delivery) =
            match transport.exchange(node, request, attempt_deadline).await {
                Ok(reply) => match refusal(&reply.body) {
                    None => return Ok((node, reply)),
                    Some(e) => (
                        decide(&mut attempt, Outcome::Refused(e), &limits.policy),
                        server_error(node, e),
                        None,
                    ),
                },
                Err(Failure { delivery, error }) => {
                    let outcome = match delivery {
                        Delivery::NotSent => Outcome::NotSent,
                        Delivery::Unknown => Outcome::ReplyLost,
                    };
                    (
                        decide(&mut attempt, outcome, &limits.policy),
                        error,
                        Some(delivery),
                    )
                }
            };
        match decision {
            Decision::Fail => return Err(settle(error, &attempt, node)),
            Decision::NextNode => index += 1,
            Decision::SameNode => limits.backoff(attempt.resends).await,
        }
        last = Some((node, error, delivery));
    }
}

/// One operation of a batch, on its way.
struct Item {
    request: OpRequest,
    candidates: Vec<NodeId>,
    index: usize,
    attempt: Attempt,
    /// The batch this write was in when its reply was lost: the writes of that batch are
    /// re-sent together to the same node, each with its own unchanged id.
    lost_in: Option<usize>,
    last_error: Option<(NodeId, Error)>,
    last_delivery: Option<Delivery>,
    result: Option<Result<(NodeId, OpReply), Error>>,
}

impl Item {
    fn node(&self) -> Option<NodeId> {
        self.candidates.get(self.index).copied()
    }

    fn apply(&mut self, decision: Decision, node: NodeId, error: Error) {
        match decision {
            Decision::Fail => {
                self.result = Some(Err(settle(error, &self.attempt, node)));
                return;
            }
            Decision::NextNode => {
                self.index += 1;
                self.lost_in = None;
            }
            Decision::SameNode => {}
        }
        self.last_error = Some((node, error));
    }
}

/// One batch request of a round.
struct Group {
    node: NodeId,
    /// Its id, so the writes of a batch whose reply was lost can be sent back together.
    batch: usize,
    /// Indexes of its operations in the call's list.
    members: Vec<usize>,
    request: Request,
    deadline: Instant,
}

/// Runs many operations, grouped into at most `max_batch` per [`Request::Batch`], one group
/// per node, the groups concurrently. Each operation is retried by the rules of
/// [`crate::retry`] on its own; answers (with the node that gave them) come back in the order
/// of `requests`.
pub(crate) async fn run_batch<T: Transport>(
    transport: &T,
    requests: Vec<(OpRequest, Vec<NodeId>)>,
    max_batch: usize,
    limits: &Limits,
) -> Vec<Result<(NodeId, OpReply), Error>> {
    let mut items: Vec<Item> = requests
        .into_iter()
        .map(|(request, candidates)| Item {
            attempt: Attempt {
                write: request.op.is_write(),
                ..Attempt::default()
            },
            request,
            candidates,
            index: 0,
            lost_in: None,
            last_error: None,
            last_delivery: None,
            result: None,
        })
        .collect();
    let mut next_batch_id = 0usize;
    loop {
        // Operations that ran out of nodes end with their last error.
        for item in items.iter_mut().filter(|i| i.result.is_none()) {
            if item.node().is_none() {
                item.result = Some(Err(match item.last_error.take() {
                    Some((node, e)) => settle(e, &item.attempt, node),
                    None => Error::NoNodes,
                }));
            }
        }
        if items.iter().all(|i| i.result.is_some()) {
            break;
        }
        if limits.expired() {
            for item in items.iter_mut().filter(|i| i.result.is_none()) {
                item.result = Some(Err(limits.timeout(&item.attempt, item.last_delivery)));
            }
            break;
        }
        // Group pending operations: the writes of a batch whose reply was lost go back together
        // to its node; the others are grouped by node, at most `max_batch` per request.
        let mut groups: BTreeMap<(NodeId, usize), Vec<usize>> = BTreeMap::new();
        let mut fresh: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if item.result.is_some() {
                continue;
            }
            let Some(node) = item.node() else { continue };
            match item.lost_in {
                Some(batch) => groups.entry((node, batch)).or_default().push(i),
                None => fresh.entry(node).or_default().push(i),
            }
        }
        for (node, members) in fresh {
            for chunk in members.chunks(max_batch.max(1)) {
                groups.insert((node, next_batch_id), chunk.to_vec());
                next_batch_id += 1;
            }
        }
        let groups: Vec<Group> = groups
            .into_iter()
            .map(|((node, batch), members)| {
                let ops = members.iter().map(|&i| items[i].request.clone()).collect();
                // A group of reads that all have another node to go to waits like such a read.
                let write = members.iter().any(|&i| items[i].attempt.write);
                let more = members
                    .iter()
                    .all(|&i| items[i].index + 1 < items[i].candidates.len());
                Group {
                    node,
                    batch,
                    deadline: limits.attempt_deadline(write, more),
                    request: Request::Batch(ops),
                    members,
                }
            })
            .collect();
        let replies = join_all(
            groups
                .iter()
                .map(|g| transport.exchange(g.node, &g.request, g.deadline))
                .collect(),
        )
        .await;
        let mut resend = 0;
        for (group, reply) in groups.into_iter().zip(replies) {
            let Group {
                node,
                batch,
                members,
                ..
            } = group;
            for &i in &members {
                items[i].last_delivery = None;
            }
            match reply {
                Ok(Response {
                    body: Body::Batch(answers),
                    ..
                }) if answers.len() == members.len() => {
                    for (&i, answer) in members.iter().zip(answers) {
                        let item = &mut items[i];
                        match answer {
                            Ok(reply) => item.result = Some(Ok((node, reply))),
                            Err(e) => {
                                let d =
                                    decide(&mut item.attempt, Outcome::Refused(&e), &limits.policy);
                                item.apply(d, node, server_error(node, &e));
                            }
                        }
                    }
                }
                Ok(Response {
                    body: Body::Error(e),
                    ..
                }) => {
                    for &i in &members {
                        let item = &mut items[i];
                        let d = decide(&mut item.attempt, Outcome::Refused(&e), &limits.policy);
                        item.apply(d, node, server_error(node, &e));
                    }
                }
                Ok(other) => {
                    let reason = match &other.body {
                        Body::Batch(answers) => {
                            format!("{} answers to a batch of {}", answers.len(), members.len())
                        }
                        body => format!("a {} reply to a batch", body_name(body)),
                    };
                    for &i in &members {
                        let item = &mut items[i];
                        let applied = if item.attempt.write {
                            Applied::Maybe
                        } else {
                            Applied::No
                        };
                        item.result = Some(Err(Error::Protocol {
                            node,
                            reason: reason.clone(),
                            applied,
                        }));
                    }
                }
                Err(Failure { delivery, error }) => {
                    let outcome = match delivery {
                        Delivery::NotSent => Outcome::NotSent,
                        Delivery::Unknown => Outcome::ReplyLost,
                    };
                    for &i in &members {
                        let item = &mut items[i];
                        let d = decide(&mut item.attempt, outcome, &limits.policy);
                        if d == Decision::SameNode {
                            item.lost_in = Some(batch);
                            resend = resend.max(item.attempt.resends);
                        }
                        item.last_delivery = Some(delivery);
                        item.apply(d, node, clone_error(&error));
                    }
                }
            }
        }
        if resend > 0 {
            limits.backoff(resend).await;
        }
    }
    items
        .into_iter()
        .map(|i| i.result.unwrap_or(Err(Error::NoNodes)))
        .collect()
}

/// A copy of an exchange's error for each operation of its batch (errors hold no handles, but
/// some variants' sources are not `Clone`, so they are rebuilt from their text).
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Connect { node, addr, reason } => Error::Connect {
            node: *node,
            addr: *addr,
            reason: reason.clone(),
        },
        Error::ConnectionLost {
            node,
            reason,
            applied,
        } => Error::ConnectionLost {
            node: *node,
            reason: reason.clone(),
            applied: *applied,
        },
        Error::Server {
            node,
            kind,
            applied,
            message,
        } => Error::Server {
            node: *node,
            kind: *kind,
            applied: *applied,
            message: message.clone(),
        },
        Error::Protocol {
            node,
            reason,
            applied,
        } => Error::Protocol {
            node: *node,
            reason: reason.clone(),
            applied: *applied,
        },
        Error::Timeout { after, applied } => Error::Timeout {
            after: *after,
            applied: *applied,
        },
        other => Error::InvalidRequest(other.to_string()),
    }
}

/// Polls every future to completion, concurrently on the current task; outputs in order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use bytes::Bytes;
    use kvorum_consistency::Spec;
    use kvorum_ring::NamespaceId;
    use kvorum_wire::native::{ErrorKind, Op, RequestId};

    /// What the scripted node does with one exchange.
    enum Act {
        Reply(Body),
        NotSent,
        Lost,
    }

    /// A transport that plays a script and records every request it was given.
    struct Script {
        acts: Mutex<VecDeque<(NodeId, Act)>>,
        sent: Mutex<Vec<(NodeId, Request)>>,
    }

    impl Script {
        fn new(acts: Vec<(u64, Act)>) -> Script {
            Script {
                acts: Mutex::new(acts.into_iter().map(|(n, a)| (NodeId(n), a)).collect()),
                sent: Mutex::new(Vec::new()),
            }
        }

        fn sent(&self) -> Vec<(NodeId, Request)> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl Transport for Script {
        fn exchange<'a>(
            &'a self,
            node: NodeId,
            request: &'a Request,
            _deadline: Instant,
        ) -> impl Future<Output = Result<Response, Failure>> + Send + 'a {
            let (expected, act) = self
                .acts
                .lock()
                .unwrap()
                .pop_front()
                .expect("a request beyond the script");
            assert_eq!(node, expected, "request sent to the wrong node");
            self.sent.lock().unwrap().push((node, request.clone()));
            let result = match act {
                Act::Reply(body) => Ok(Response { epoch: 1, body }),
                Act::NotSent => Err(Failure {
                    delivery: Delivery::NotSent,
                    error: Error::Connect {
                        node: Some(node),
                        addr: ([127, 0, 0, 1], 1).into(),
                        reason: "refused".into(),
                    },
                }),
                Act::Lost => Err(Failure {
                    delivery: Delivery::Unknown,
                    error: Error::ConnectionLost {
                        node,
                        reason: "reset".into(),
                        applied: Applied::Maybe,
                    },
                }),
            };
            std::future::ready(result)
        }
    }

    fn op(id: u128, key: &str, op: Op) -> OpRequest {
        OpRequest {
            id: RequestId(id),
            ns: NamespaceId(0),
            key: Bytes::copy_from_slice(key.as_bytes()),
            consistency: Spec::default(),
            op,
        }
    }

    fn limits() -> Limits {
        Limits {
            deadline: Instant::now() + Duration::from_secs(5),
            started: Instant::now(),
            policy: RetryPolicy::default(),
        }
    }

    fn nodes(ids: &[u64]) -> Vec<NodeId> {
        ids.iter().copied().map(NodeId).collect()
    }

    fn refused(kind: ErrorKind, applied: Applied) -> Body {
        Body::Op(Err(ErrorReply {
            kind,
            applied,
            message: kind_text(kind),
        }))
    }

    fn kind_text(kind: ErrorKind) -> String {
        format!("{kind:?}").to_uppercase()
    }

    #[tokio::test]
    async fn a_lost_incr_reply_is_resent_with_the_same_id_to_the_same_node() {
        let script = Script::new(vec![
            (2, Act::Lost),
            (2, Act::Reply(Body::Op(Ok(OpReply::Int(1))))),
        ]);
        let request = Request::Op(op(77, "counter", Op::Incr { delta: 1 }));
        let (node, reply) = run(&script, &request, true, &nodes(&[2, 1, 3]), &limits())
            .await
            .unwrap();
        assert_eq!(node, NodeId(2));
        assert_eq!(reply.body, Body::Op(Ok(OpReply::Int(1))));
        let sent = script.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[0], sent[1],
            "the resend is the very same request, same id"
        );
        assert_eq!(sent[1].0, NodeId(2));
    }

    #[tokio::test]
    async fn a_write_that_was_never_sent_fails_over_to_the_next_primary() {
        let script = Script::new(vec![
            (1, Act::NotSent),
            (3, Act::Reply(Body::Op(Ok(OpReply::Done)))),
        ]);
        let request = Request::Op(op(
            5,
            "k",
            Op::Set {
                value: Bytes::from_static(b"v"),
                context: None,
                ttl_ms: None,
            },
        ));
        let (node, _) = run(&script, &request, true, &nodes(&[1, 3, 2]), &limits())
            .await
            .unwrap();
        assert_eq!(node, NodeId(3));
    }

    #[tokio::test]
    async fn a_write_whose_node_vanished_after_sending_never_moves_and_is_indeterminate() {
        // Lost on node 1, then node 1 cannot be reached for both resends: the write is
        // reported as maybe applied, and nodes 2 and 3 never see it.
        let script = Script::new(vec![(1, Act::Lost), (1, Act::NotSent), (1, Act::NotSent)]);
        let request = Request::Op(op(9, "c", Op::Incr { delta: 5 }));
        let err = run(&script, &request, true, &nodes(&[1, 2, 3]), &limits())
            .await
            .unwrap_err();
        assert!(err.is_indeterminate(), "{err}");
        assert!(script.sent().iter().all(|(n, _)| *n == NodeId(1)));
    }

    #[tokio::test]
    async fn a_read_moves_on_after_a_lost_reply_and_is_never_indeterminate() {
        let script = Script::new(vec![
            (1, Act::Lost),
            (2, Act::Reply(refused(ErrorKind::Unavailable, Applied::No))),
            (
                3,
                Act::Reply(Body::Op(Ok(OpReply::Siblings {
                    context: "c".into(),
                    values: vec![],
                }))),
            ),
        ]);
        let request = Request::Op(op(1, "k", Op::Get));
        let (node, _) = run(&script, &request, false, &nodes(&[1, 2, 3]), &limits())
            .await
            .unwrap();
        assert_eq!(node, NodeId(3));

        let script = Script::new(vec![(1, Act::Lost), (2, Act::Lost)]);
        let err = run(&script, &request, false, &nodes(&[1, 2]), &limits())
            .await
            .unwrap_err();
        assert!(!err.is_indeterminate(), "{err}");
    }

    #[tokio::test]
    async fn errors_the_request_causes_are_reported_at_once() {
        let script = Script::new(vec![(
            1,
            Act::Reply(refused(ErrorKind::WrongType, Applied::No)),
        )]);
        let request = Request::Op(op(1, "k", Op::Incr { delta: 1 }));
        let err = run(&script, &request, true, &nodes(&[1, 2]), &limits())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::WrongType));
        assert!(!err.is_indeterminate());
        let script = Script::new(vec![(
            1,
            Act::Reply(refused(ErrorKind::Timeout, Applied::Maybe)),
        )]);
        let err = run(&script, &request, true, &nodes(&[1, 2]), &limits())
            .await
            .unwrap_err();
        assert!(err.is_indeterminate());
    }

    #[tokio::test]
    async fn a_passed_deadline_is_a_timeout_that_says_what_may_have_happened() {
        let past = Limits {
            deadline: Instant::now(),
            ..limits()
        };
        let script = Script::new(vec![]);
        let request = Request::Op(op(1, "k", Op::Incr { delta: 1 }));
        let err = run(&script, &request, true, &nodes(&[1]), &past)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Timeout {
                applied: Applied::No,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_batch_whose_reply_was_lost_is_resent_whole_to_the_same_node() {
        let a = op(1, "a", Op::Incr { delta: 1 });
        let b = op(2, "b", Op::Incr { delta: 1 });
        let c = op(3, "c", Op::Get);
        let script = Script::new(vec![
            // Node 1 gets a and c, node 2 gets b (groups go out in node order).
            (1, Act::Lost),
            (2, Act::Reply(Body::Batch(vec![Ok(OpReply::Int(1))]))),
            // The write a is pinned to node 1; the read c moves on to node 2.
            (1, Act::Reply(Body::Batch(vec![Ok(OpReply::Int(1))]))),
            (
                2,
                Act::Reply(Body::Batch(vec![Ok(OpReply::Siblings {
                    context: String::new(),
                    values: vec![],
                })])),
            ),
        ]);
        let results = run_batch(
            &script,
            vec![
                (a.clone(), nodes(&[1, 2])),
                (b.clone(), nodes(&[2, 1])),
                (c.clone(), nodes(&[1, 2])),
            ],
            16,
            &limits(),
        )
        .await;
        assert!(matches!(results[0], Ok((NodeId(1), OpReply::Int(1)))));
        assert!(matches!(results[1], Ok((NodeId(2), OpReply::Int(1)))));
        assert!(matches!(
            results[2],
            Ok((NodeId(2), OpReply::Siblings { .. }))
        ));
        let sent = script.sent();
        assert_eq!(
            sent[0],
            (NodeId(1), Request::Batch(vec![a.clone(), c.clone()]))
        );
        // The write is re-sent to node 1 with its id unchanged.
        assert_eq!(sent[2], (NodeId(1), Request::Batch(vec![a])));
        assert_eq!(sent[3], (NodeId(2), Request::Batch(vec![c])));
    }

    #[tokio::test]
    async fn batches_are_split_at_the_limit_and_refusals_are_per_operation() {
        let ops: Vec<OpRequest> = (0..3u128)
            .map(|i| op(i, &format!("k{i}"), Op::Incr { delta: 1 }))
            .collect();
        let script = Script::new(vec![
            (
                1,
                Act::Reply(Body::Batch(vec![
                    Ok(OpReply::Int(1)),
                    Err(ErrorReply {
                        kind: ErrorKind::WrongType,
                        applied: Applied::No,
                        message: "WRONGTYPE".into(),
                    }),
                ])),
            ),
            (1, Act::Reply(Body::Batch(vec![Ok(OpReply::Int(3))]))),
        ]);
        let results = run_batch(
            &script,
            ops.iter().map(|o| (o.clone(), nodes(&[1]))).collect(),
            2,
            &limits(),
        )
        .await;
        assert!(matches!(results[0], Ok((_, OpReply::Int(1)))));
        assert_eq!(
            results[1].as_ref().unwrap_err().kind(),
            Some(ErrorKind::WrongType)
        );
        assert!(matches!(results[2], Ok((_, OpReply::Int(3)))));
        assert_eq!(script.sent().len(), 2);
    }

    #[test]
    fn a_read_with_somewhere_else_to_go_waits_half_the_remaining_time() {
        let l = Limits {
            deadline: Instant::now() + Duration::from_secs(10),
            ..limits()
        };
        let half = l.attempt_deadline(false, true);
        let left = half.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(5) && left > Duration::from_secs(4),
            "{left:?}"
        );
        assert_eq!(l.attempt_deadline(false, false), l.deadline);
        assert_eq!(l.attempt_deadline(true, true), l.deadline);
    }

    #[tokio::test]
    async fn join_all_keeps_the_order() {
        let out = join_all(vec![
            Box::pin(async { 1 }) as Pin<Box<dyn Future<Output = i32> + Send>>,
            Box::pin(async {
                tokio::task::yield_now().await;
                2
            }),
        ])
        .await;
        assert_eq!(out, [1, 2]);
    }
}
