//! Causal contexts: `GETCTX key` and `SETCTX key ctx value`.
//!
//! Concurrent writes to one key (through different nodes, or on both sides of a partition)
//! are all kept, as *siblings*. Plain `GET` returns one of them, deterministically: the one with
//! the highest (hybrid-logical-clock timestamp, node id). `GETCTX` shows them all with the
//! causal context they form; `SETCTX` with that context replaces exactly the siblings it saw —
//! on every replica, as the write replicates — while a sibling written concurrently, which the
//! context does not cover, survives next to the new value.
//!
//! `GETCTX` replies `[context, [value, ...]]`; a sibling that is a delete shows as nil. The
//! context is an opaque token; hand it back unchanged. In a namespace with the `lww` conflict
//! policy it shows only the winning sibling.

use bytes::Bytes;
use kvorum_consistency::{Command, Conflict, Op, Reply, VersionVector};
use kvorum_resp::Frame;

use super::reply::{combine_writes, error_of};
use super::{requests, spec, CommandSpec, Ctx, Outcome};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("getctx", 2, &["readonly", "fast"], (1, 1, 1), getctx),
    spec("setctx", 4, &["write", "denyoom"], (1, 1, 1), setctx),
];

pub fn getctx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    // The connection's namespace decides; a namespace that is gone fails the request below.
    let lww = ctx
        .shared
        .catalog
        .policy_of(ctx.session.namespace)
        .is_ok_and(|p| p.conflict == Conflict::Lww);
    requests(
        ctx,
        [(&args[1], Command::Get)],
        move |replies, timeout_ms| {
            let Some(reply) = replies.first() else {
                return Frame::null();
            };
            if let Some(e) = error_of(reply, timeout_ms) {
                return e;
            }
            let (context, siblings) = match reply {
                Reply::Value(Some(object)) => {
                    let siblings = match object.winner() {
                        Some(winner) if lww => vec![winner.clone()],
                        _ => object.siblings().to_vec(),
                    };
                    (object.context().to_token(), siblings)
                }
                _ => (VersionVector::new().to_token(), Vec::new()),
            };
            let values = siblings
                .into_iter()
                .map(|s| s.value.map(Frame::bulk).unwrap_or_else(Frame::null))
                .collect();
            Frame::array(vec![Frame::bulk(context), Frame::array(values)])
        },
    )
}

pub fn setctx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let seen = match std::str::from_utf8(&args[2])
        .ok()
        .map(VersionVector::from_token)
    {
        Some(Ok(seen)) => seen,
        Some(Err(e)) => return Frame::error(format!("ERR invalid causal context: {e}")).into(),
        None => return Frame::error("ERR invalid causal context: not text").into(),
    };
    let write = Command::Write(Op::SetSeen {
        value: args[3].clone(),
        seen,
    });
    requests(ctx, [(&args[1], write)], |replies, timeout_ms| {
        combine_writes("SETCTX", &replies, timeout_ms).unwrap_or_else(Frame::ok)
    })
}
