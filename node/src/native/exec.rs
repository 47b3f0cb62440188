//! Operations, batches and scans: from native requests to the replication driver and back.
//!
//! An operation runs exactly as the RESP command it corresponds to: its consistency is resolved
//! against its namespace's policy with [`Shared::resolve`] (the namespace's default fills what
//! the request leaves open, its floors refuse what is too weak, its `N` and TTL travel with the
//! request), and it is submitted to the driver as a [`kvorum_consistency::Request`], which
//! forwards it to a primary of the key when this node is not one.
//!
//! | native op | replication command | like RESP |
//! |---|---|---|
//! | `Get` | `Get` | `GETCTX` (a counter reads as its text) |
//! | `Set` without context | `Op::Set` (TTL cleared, or `ttl_ms` from now) | `SET [PX]` |
//! | `Set` with context | `Op::SetSeen` | `SETCTX` |
//! | `Delete` | `Op::Delete` | `DEL` |
//! | `Incr` | `Op::IncrBy` | `INCRBY` |
//! | `SAdd`, `SRem` | `Op::SAdd`, `Op::SRem` | `SADD`, `SREM` |
//! | `SMembers` | `Get` | `SMEMBERS` |
//! | `HSet`, `HDel` | `Op::HSet`, `Op::HDel` | `HSET`, `HDEL` |
//! | `HGet`, `HGetAll` | `Get` | `HGET`, `HGETALL` |
//!
//! Every failure says whether the request was applied ([`Applied`]): only a write can have been,
//! and only when its outcome is unknown (a `Timeout`, a reply lost while the node shut down).
//! Writes go through the de-duplication table (`dedup`) first.
//!
//! Each op, batch item and scan is counted in the node's request metrics under the family of
//! its RESP counterpart (the table above; `Scan` under `keyspace`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvorum_consistency::crdt::entries::field_winner;
use kvorum_consistency::{
    Command, Conflict, Consistency, Data, Key, Object, OpError, Outcome, Reply, Request, Spec, Ttl,
    VersionVector,
};
use kvorum_ring::NamespaceId;
use kvorum_wire::native::{
    Applied, ErrorKind, ErrorReply, Op, OpReply, OpRequest, Request as NativeRequest, ScanPage,
    ScanRequest,
};

use super::dedup::{Answer, Begin};
use super::Native;
use crate::catalog::LookupError;
use crate::clock;
use crate::commands::reply::error_text;
use crate::driver::Work;
use crate::metrics::{self, RequestLabels};
use crate::session::{ResolveError, Resolved, Shared};

/// Pages of the keyspace one `Scan` visits at most, so a scan of a sparse keyspace stays short
/// (as RESP's `SCAN`).
const SCAN_MAX_PAGES: usize = 64;

/// Whether a request writes (so a lost answer leaves it possibly applied).
pub(super) fn writes(request: &NativeRequest) -> bool {
    match request {
        NativeRequest::Op(op) => op.op.is_write(),
        NativeRequest::Batch(ops) => ops.iter().any(|o| o.op.is_write()),
        _ => false,
    }
}

/// Runs one operation (a write through the de-duplication table) and counts it.
pub(super) async fn op(native: Arc<Native>, request: OpRequest) -> Answer {
    let started = Instant::now();
    let answer = if request.op.is_write() {
        match native.dedup.begin(&request) {
            Begin::First(pending) => {
                let answer = execute(&native.shared, &request).await;
                pending.finish(&answer);
                answer
            }
            Begin::Duplicate(waiter) => waiter.answer().await,
            Begin::Reused => Err(invalid(
                "the request id was already used for a different request".into(),
            )),
        }
    } else {
        execute(&native.shared, &request).await
    };
    record(
        &native.shared,
        request.ns,
        family_of_op(&request.op),
        &request.consistency,
        answer.is_err(),
        started.elapsed(),
    );
    answer
}

/// Runs a batch: every operation at once, each answered as if sent alone, in order.
pub(super) async fn batch(
    native: &Arc<Native>,
    ops: Vec<OpRequest>,
) -> Result<Vec<Answer>, ErrorReply> {
    let max = native.limits.max_batch;
    if ops.len() > max {
        return Err(invalid(format!(
            "ERR a batch holds at most {max} operations ([native] max_batch), this one {}",
            ops.len()
        )));
    }
    let running: Vec<(bool, _)> = ops
        .into_iter()
        .map(|o| (o.op.is_write(), tokio::spawn(op(native.clone(), o))))
        .collect();
    let mut answers = Vec::with_capacity(running.len());
    for (write, task) in running {
        answers.push(task.await.unwrap_or_else(|_| {
            Err(internal(
                "ERR the operation's task failed".into(),
                applied_if(write),
            ))
        }));
    }
    Ok(answers)
}

/// One page of a namespace's keys in key-hash order, from `from_hash`.
pub(super) async fn scan(
    native: &Arc<Native>,
    request: ScanRequest,
) -> Result<ScanPage, ErrorReply> {
    let started = Instant::now();
    let page = scan_page(native, &request).await;
    record(
        &native.shared,
        request.ns,
        metrics::family_of("scan"),
        &request.consistency,
        page.is_err(),
        started.elapsed(),
    );
    page
}

async fn scan_page(native: &Native, request: &ScanRequest) -> Result<ScanPage, ErrorReply> {
    if request.count == 0 {
        return Err(invalid("ERR a scan's count must be at least 1".into()));
    }
    let count = request.count.min(native.limits.max_scan_count);
    let resolved = resolve(&native.shared, request.ns, &request.consistency)?;
    let timeout = Duration::from_millis(resolved.timeout_ms);
    let mut keys = Vec::new();
    let mut next = Some(request.from_hash);
    for _ in 0..SCAN_MAX_PAGES {
        let Some(from) = next else { break };
        let listed =
            tokio::time::timeout(timeout, native.shared.driver.list(request.ns, from, count)).await;
        let page = match listed {
            Ok(Ok(page)) => page,
            Ok(Err(reason)) => return Err(list_error(reason)),
            Err(_) => {
                return Err(ErrorReply {
                    kind: ErrorKind::Timeout,
                    applied: Applied::No,
                    message: format!(
                        "TIMEOUT the replicas did not list their keys within {} ms",
                        resolved.timeout_ms
                    ),
                })
            }
        };
        next = page.next;
        keys.extend(page.keys.into_iter().map(|k| Bytes::from(k.key)));
        if keys.len() >= count as usize {
            break;
        }
    }
    Ok(ScanPage { keys, next })
}

/// A listing's failure, by the prefix the driver gives it.
fn list_error(reason: String) -> ErrorReply {
    let kind = if reason.starts_with("UNAVAILABLE") {
        ErrorKind::Unavailable
    } else if reason.starts_with("TIMEOUT") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Internal
    };
    ErrorReply {
        kind,
        applied: Applied::No,
        message: match kind {
            ErrorKind::Internal => format!("ERR listing keys failed: {reason}"),
            _ => reason,
        },
    }
}

/// Runs one operation: resolve, check, submit, interpret.
async fn execute(shared: &Shared, request: &OpRequest) -> Answer {
    let write = request.op.is_write();
    let resolved = resolve(shared, request.ns, &request.consistency)?;
    if request.key.len() > shared.max_key_bytes {
        return Err(invalid(format!(
            "ERR key is too large ({} bytes, the limit is {} bytes)",
            request.key.len(),
            shared.max_key_bytes
        )));
    }
    let command = command_of(&request.op, clock::wall_ms())?;
    let lww = shared
        .catalog
        .policy_of(request.ns)
        .is_ok_and(|p| p.conflict == Conflict::Lww);
    let submitted = submit(shared, request.ns, &request.key, command, &resolved).await;
    let reply = match submitted {
        Submitted::Reply(reply) => reply,
        Submitted::NotQueued(reply) => return Err(reply),
        Submitted::Lost => {
            return Err(internal(
                "ERR the node is shutting down".into(),
                applied_if(write),
            ))
        }
    };
    answer_of(
        &request.op,
        reply,
        lww,
        resolved.timeout_ms,
        clock::wall_ms(),
    )
}

/// The request's consistency resolved against its namespace's policy.
fn resolve(shared: &Shared, ns: NamespaceId, spec: &Spec) -> Result<Resolved, ErrorReply> {
    let explicit =
        spec.r.is_some() || spec.w.is_some() || spec.dw.is_some() || spec.sloppy.is_some();
    if spec.preset.is_some() && explicit {
        return Err(invalid(
            "ERR give a consistency preset or R/W/DW/SLOPPY settings, not both".into(),
        ));
    }
    if spec.timeout_ms == Some(0) {
        return Err(invalid("ERR the timeout must be at least 1 ms".into()));
    }
    shared.resolve(ns, spec).map_err(|e| match e {
        ResolveError::Level(e) => ErrorReply {
            kind: ErrorKind::Refused,
            applied: Applied::No,
            message: format!("ERR {e}"),
        },
        ResolveError::Namespace(LookupError::Gone) => ErrorReply {
            kind: ErrorKind::NoSuchNamespace,
            applied: Applied::No,
            message: format!("ERR no namespace has id {}", ns.0),
        },
    })
}

/// The replication command of an op. `now_ms` turns a relative TTL into an instant.
fn command_of(op: &Op, now_ms: u64) -> Result<Command, ErrorReply> {
    use kvorum_consistency::Op as Write;
    let nonempty = |len: usize, what: &str| match len {
        0 => Err(invalid(format!("ERR {what} must not be empty"))),
        _ => Ok(()),
    };
    Ok(match op {
        Op::Get | Op::SMembers | Op::HGet { .. } | Op::HGetAll => Command::Get,
        Op::Set {
            value,
            context: None,
            ttl_ms,
        } => {
            let ttl = match ttl_ms {
                None => Ttl::Clear,
                Some(0) => return Err(invalid("ERR ttl_ms must be at least 1".into())),
                Some(ms) => Ttl::At(now_ms.saturating_add(*ms)),
            };
            Command::Write(Write::Set {
                value: value.clone(),
                condition: Default::default(),
                ttl,
                get: false,
            })
        }
        Op::Set {
            value,
            context: Some(token),
            ttl_ms,
        } => {
            // A write that supersedes what a context saw keeps the key's TTL (as SETCTX); it
            // cannot also set one in the same step.
            if ttl_ms.is_some() {
                return Err(invalid(
                    "ERR a Set with a causal context cannot also set ttl_ms".into(),
                ));
            }
            let seen = VersionVector::from_token(token)
                .map_err(|e| invalid(format!("ERR invalid causal context: {e}")))?;
            Command::Write(Write::SetSeen {
                value: value.clone(),
                seen,
            })
        }
        Op::Delete => Command::Write(Write::delete()),
        Op::Incr { delta } => Command::Write(Write::IncrBy { delta: *delta }),
        Op::SAdd { members } => {
            nonempty(members.len(), "members")?;
            Command::Write(Write::SAdd {
                members: members.clone(),
            })
        }
        Op::SRem { members } => {
            nonempty(members.len(), "members")?;
            Command::Write(Write::SRem {
                members: members.clone(),
            })
        }
        Op::HSet { fields } => {
            nonempty(fields.len(), "fields")?;
            Command::Write(Write::HSet {
                fields: fields.clone(),
                if_absent: false,
            })
        }
        Op::HDel { fields } => {
            nonempty(fields.len(), "fields")?;
            Command::Write(Write::HDel {
                fields: fields.clone(),
            })
        }
    })
}

/// How a submission ended.
enum Submitted {
    /// The driver's reply.
    Reply(Reply),
    /// Not queued (the driver is gone, or its queue stayed full for the whole timeout):
    /// nothing was sent.
    NotQueued(ErrorReply),
    /// Queued, then the driver went away without replying: a write may have been applied.
    Lost,
}

/// Queues the request with the driver, waiting at most the request's timeout for room, and
/// waits for its reply (which the driver gives within the timeout).
async fn submit(
    shared: &Shared,
    ns: NamespaceId,
    key: &Bytes,
    command: Command,
    resolved: &Resolved,
) -> Submitted {
    let request = Request {
        key: Key {
            ns,
            key: key.to_vec(),
        },
        command,
        consistency: Consistency::Explicit(resolved.level),
        timeout_ms: resolved.timeout_ms,
        n: Some(resolved.n),
        default_ttl_ms: resolved.default_ttl_ms,
    };
    let queued = shared.driver.try_submit(Work::Request(request));
    let timeout = Duration::from_millis(resolved.timeout_ms);
    let rx = match tokio::time::timeout(timeout, queued).await {
        Ok(Ok(rx)) => rx,
        Ok(Err(_gone)) => {
            return Submitted::NotQueued(internal(
                "ERR the node is shutting down".into(),
                Applied::No,
            ))
        }
        // Dropping the queued future before it sent leaves nothing queued.
        Err(_elapsed) => {
            return Submitted::NotQueued(ErrorReply {
                kind: ErrorKind::Overloaded,
                applied: Applied::No,
                message: format!(
                    "OVERLOADED the node's request queue stayed full for {} ms; the request \
                     was not applied",
                    resolved.timeout_ms
                ),
            })
        }
    };
    match rx.await {
        Ok(reply) => Submitted::Reply(reply),
        Err(_) => Submitted::Lost,
    }
}

/// The answer to an op from the driver's reply; `now_ms` decides expiry for reads.
fn answer_of(op: &Op, reply: Reply, lww: bool, timeout_ms: u64, now_ms: u64) -> Answer {
    let write = op.is_write();
    let failed = |kind, applied| ErrorReply {
        kind,
        applied,
        message: error_text(&reply, timeout_ms).unwrap_or_default(),
    };
    match reply {
        Reply::Value(object) => read_answer(op, object, lww, now_ms),
        Reply::Written { outcome, .. } => Ok(match outcome {
            Outcome::Done | Outcome::Skipped { .. } => OpReply::Done,
            Outcome::Int(n) => OpReply::Int(n),
            Outcome::Old(value) => OpReply::Field(value),
            Outcome::Text(text) => OpReply::Field(Some(text)),
            Outcome::Members(members) => OpReply::Members(members),
        }),
        Reply::Refused(OpError::WrongType) => Err(failed(ErrorKind::WrongType, Applied::No)),
        Reply::Refused(_) => Err(failed(ErrorKind::Refused, Applied::No)),
        Reply::Unavailable { .. } => Err(failed(ErrorKind::Unavailable, Applied::No)),
        Reply::Timeout { .. } => Err(failed(ErrorKind::Timeout, applied_if(write))),
        Reply::Failed { .. } => Err(failed(ErrorKind::Internal, Applied::No)),
    }
}

/// What a read op sees of the merged state.
fn read_answer(op: &Op, object: Option<Object>, lww: bool, now_ms: u64) -> Answer {
    let live = object.as_ref().and_then(|o| o.read(now_ms));
    match op {
        Op::Get => Ok(siblings(object.as_ref(), lww, now_ms)?),
        Op::SMembers => match live {
            None => Ok(OpReply::Members(Vec::new())),
            Some(kvorum_consistency::Value::Set(s)) => {
                Ok(OpReply::Members(s.iter().map(|e| e.key.clone()).collect()))
            }
            Some(_) => Err(wrong_type()),
        },
        Op::HGet { field } => match live {
            None => Ok(OpReply::Field(None)),
            Some(kvorum_consistency::Value::Hash(h)) => Ok(OpReply::Field(h.value(field).cloned())),
            Some(_) => Err(wrong_type()),
        },
        Op::HGetAll => match live {
            None => Ok(OpReply::Fields(Vec::new())),
            Some(kvorum_consistency::Value::Hash(h)) => Ok(OpReply::Fields(
                h.iter()
                    .filter_map(|e| field_winner(e).map(|v| (e.key.clone(), v.clone())))
                    .collect(),
            )),
            Some(_) => Err(wrong_type()),
        },
        // A write's reply is never a value.
        _ => Err(internal(
            "ERR the replicas answered a write with a value".into(),
            Applied::Maybe,
        )),
    }
}

/// `Get`: every sibling with the causal context they form, as `GETCTX`. A sibling that is a
/// delete shows as `None`; a key that is absent, expired, or only deletes shows none (its
/// context still covers what was there, so a `Set` with it supersedes that). In a `lww`
/// namespace only the winning sibling shows.
fn siblings(object: Option<&Object>, lww: bool, now_ms: u64) -> Answer {
    let Some(object) = object else {
        return Ok(OpReply::Siblings {
            context: VersionVector::new().to_token(),
            values: Vec::new(),
        });
    };
    let context = object.context().to_token();
    let values = if object.expiry().is_expired(now_ms) {
        Vec::new()
    } else {
        match object.data() {
            Data::Register(all) => {
                let shown: Vec<Option<Bytes>> = match lww {
                    true => object
                        .winner()
                        .map(|s| s.value.clone())
                        .into_iter()
                        .collect(),
                    false => all.iter().map(|s| s.value.clone()).collect(),
                };
                match shown.iter().all(Option::is_none) {
                    true => Vec::new(),
                    false => shown,
                }
            }
            Data::Counter(c) if c.is_live() => vec![Some(Bytes::from(c.value().to_text()))],
            Data::Counter(_) => Vec::new(),
            Data::Set(_) | Data::Hash(_) => match object.read(now_ms) {
                None => Vec::new(),
                Some(_) => return Err(wrong_type()),
            },
        }
    };
    Ok(OpReply::Siblings { context, values })
}

fn wrong_type() -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::WrongType,
        applied: Applied::No,
        message: OpError::WrongType.to_string(),
    }
}

fn invalid(message: String) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::Invalid,
        applied: Applied::No,
        message,
    }
}

fn internal(message: String, applied: Applied) -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::Internal,
        applied,
        message,
    }
}

/// `Maybe` for a write whose outcome is unknown, `No` for a read.
fn applied_if(write: bool) -> Applied {
    match write {
        true => Applied::Maybe,
        false => Applied::No,
    }
}

/// The metrics family of an op: its RESP counterpart's.
fn family_of_op(op: &Op) -> usize {
    metrics::family_of(match op {
        Op::Get => "getctx",
        Op::Set {
            context: Some(_), ..
        } => "setctx",
        Op::Set { .. } => "set",
        Op::Delete => "del",
        Op::Incr { .. } => "incrby",
        Op::SAdd { .. } | Op::SRem { .. } | Op::SMembers => "sadd",
        Op::HSet { .. } | Op::HGet { .. } | Op::HGetAll | Op::HDel { .. } => "hset",
    })
}

/// Counts one request in the node's request metrics, as the RESP listener does.
fn record(
    shared: &Shared,
    ns: NamespaceId,
    family: usize,
    spec: &Spec,
    error: bool,
    elapsed: Duration,
) {
    let default = shared
        .catalog
        .policy_of(ns)
        .map(|p| p.default)
        .unwrap_or_else(|_| shared.policy.default.clone());
    let labels = RequestLabels {
        ns: ns.0,
        family,
        consistency: metrics::consistency_class(&spec.or(&default)),
    };
    shared
        .driver
        .metrics()
        .record_request(labels, error, elapsed);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn get() -> Op {
        Op::Get
    }

    #[test]
    fn failures_say_whether_a_write_may_have_been_applied() {
        let incr = Op::Incr { delta: 1 };
        let timeout = Reply::Timeout { acks: 1, needed: 2 };
        let e = answer_of(&incr, timeout.clone(), false, 10, 0).unwrap_err();
        assert_eq!((e.kind, e.applied), (ErrorKind::Timeout, Applied::Maybe));
        let e = answer_of(&get(), timeout, false, 10, 0).unwrap_err();
        assert_eq!((e.kind, e.applied), (ErrorKind::Timeout, Applied::No));
        let unavailable = Reply::Unavailable {
            needed: 2,
            reachable: 1,
        };
        let e = answer_of(&incr, unavailable, false, 10, 0).unwrap_err();
        assert_eq!((e.kind, e.applied), (ErrorKind::Unavailable, Applied::No));
        assert!(e.message.starts_with("UNAVAILABLE"), "{}", e.message);
        let e = answer_of(&incr, Reply::Refused(OpError::WrongType), false, 10, 0).unwrap_err();
        assert_eq!((e.kind, e.applied), (ErrorKind::WrongType, Applied::No));
        let e = answer_of(&incr, Reply::Refused(OpError::Overflow), false, 10, 0).unwrap_err();
        assert_eq!((e.kind, e.applied), (ErrorKind::Refused, Applied::No));
        let written = Reply::Written {
            outcome: Outcome::Int(4),
            acks: 2,
        };
        assert_eq!(answer_of(&incr, written, false, 10, 0), Ok(OpReply::Int(4)));
    }

    #[test]
    fn an_absent_key_reads_as_empty() {
        for (op, expected) in [
            (
                Op::Get,
                OpReply::Siblings {
                    context: VersionVector::new().to_token(),
                    values: Vec::new(),
                },
            ),
            (Op::SMembers, OpReply::Members(Vec::new())),
            (
                Op::HGet {
                    field: Bytes::from_static(b"f"),
                },
                OpReply::Field(None),
            ),
            (Op::HGetAll, OpReply::Fields(Vec::new())),
        ] {
            assert_eq!(
                answer_of(&op, Reply::Value(None), false, 10, 0),
                Ok(expected)
            );
        }
    }

    #[test]
    fn ops_map_to_the_writes_resp_uses() {
        let now = 1_000;
        let set = |context: Option<&str>, ttl_ms| Op::Set {
            value: Bytes::from_static(b"v"),
            context: context.map(str::to_owned),
            ttl_ms,
        };
        match command_of(&set(None, Some(500)), now).unwrap() {
            Command::Write(kvorum_consistency::Op::Set { ttl, .. }) => {
                assert_eq!(ttl, Ttl::At(1_500))
            }
            other => panic!("{other:?}"),
        }
        match command_of(&set(None, None), now).unwrap() {
            Command::Write(kvorum_consistency::Op::Set { ttl, .. }) => assert_eq!(ttl, Ttl::Clear),
            other => panic!("{other:?}"),
        }
        let token = VersionVector::new().to_token();
        assert!(matches!(
            command_of(&set(Some(&token), None), now).unwrap(),
            Command::Write(kvorum_consistency::Op::SetSeen { .. })
        ));
        for bad in [
            set(Some("not a context"), None),
            set(Some(&token), Some(5)),
            set(None, Some(0)),
            Op::SAdd { members: vec![] },
            Op::HSet { fields: vec![] },
        ] {
            let e = command_of(&bad, now).unwrap_err();
            assert_eq!(
                (e.kind, e.applied),
                (ErrorKind::Invalid, Applied::No),
                "{bad:?}"
            );
        }
        assert_eq!(command_of(&Op::HGetAll, now).unwrap(), Command::Get);
    }

    #[test]
    fn every_op_is_counted_under_a_known_family() {
        for op in [
            Op::Get,
            Op::Delete,
            Op::Incr { delta: 1 },
            Op::SMembers,
            Op::HGetAll,
        ] {
            assert!(family_of_op(&op) < metrics::OTHER_FAMILY, "{op:?}");
        }
    }
}
