//! String commands: GET, SET, MGET, MSET.
//!
//! `SET` here is the plain form (`SET key value`); the options (EX, NX, GET, ...) come with the
//! full strings family. `MGET`/`MSET` run one request per key, concurrently; `MSET` is not atomic
//! across keys: keys written before a failure stay written, and the error says so.

use bytes::Bytes;
use kvorum_consistency::{Command, Reply};
use kvorum_resp::Frame;

use super::reply::{combine_writes, error_of};
use super::{requests, spec, syntax_error, wrong_arity, CommandSpec, Ctx, Outcome};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("get", 2, &["readonly", "fast"], (1, 1, 1), get),
    spec("set", 3, &["write", "denyoom"], (1, 1, 1), set),
    spec("mget", -2, &["readonly", "fast"], (1, -1, 1), mget),
    spec("mset", -3, &["write", "denyoom"], (1, -1, 2), mset),
];

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    requests(
        ctx,
        [(&args[1], Command::Get)],
        |replies, timeout_ms| match replies.first() {
            Some(reply) => value_frame(reply, timeout_ms),
            None => Frame::null(),
        },
    )
}

pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() != 3 {
        return syntax_error().into();
    }
    let write = (
        &args[1],
        Command::Put {
            value: args[2].clone(),
        },
    );
    requests(ctx, [write], |replies, timeout_ms| {
        combine_writes("SET", &replies, timeout_ms).unwrap_or_else(Frame::ok)
    })
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let reads = args[1..].iter().map(|k| (k, Command::Get));
    requests(ctx, reads, |replies, timeout_ms| {
        if let Some(e) = replies.iter().find_map(|r| error_of(r, timeout_ms)) {
            return e;
        }
        Frame::array(replies.iter().map(|r| value_frame(r, timeout_ms)).collect())
    })
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let pairs = &args[1..];
    if pairs.len() % 2 != 0 {
        return wrong_arity("mset").into();
    }
    let writes = pairs.chunks_exact(2).map(|kv| {
        (
            &kv[0],
            Command::Put {
                value: kv[1].clone(),
            },
        )
    });
    requests(ctx, writes, |replies, timeout_ms| {
        combine_writes("MSET", &replies, timeout_ms).unwrap_or_else(Frame::ok)
    })
}

/// The reply of a read: the winning value, or nil.
fn value_frame(reply: &Reply, timeout_ms: u64) -> Frame {
    match reply {
        Reply::Value(Some(object)) => match object.value() {
            Some(value) => Frame::bulk(value.clone()),
            None => Frame::null(),
        },
        Reply::Value(None) => Frame::null(),
        other => error_of(other, timeout_ms).unwrap_or_else(Frame::null),
    }
}
