//! Key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX.
//!
//! `DEL` is a versioned write like any other (a delete of exactly what the coordinating replica
//! had seen), so a replica that missed it cannot bring the value back, and a write concurrent
//! with it survives. Its count is the number of keys that existed on that replica just before.
//! `UNLINK` is `DEL` (deletion never blocks a node's loop here).
//!
//! `RENAME src dst` reads `src`, writes its value (and TTL) to `dst`, then deletes `src`: three
//! requests, **not atomic** — the keys usually live on different replicas. A failure part-way
//! is reported with what was done (see docs/REDIS.md).

use bytes::Bytes;
use kvorum_consistency::{Command, Op, Outcome as OpOutcome, Plain, Reply};
use kvorum_resp::Frame;

use super::reply::{combine_writes, done, error_of, Done};
use super::view;
use super::{requests, single, spec, steps, CommandSpec, Ctx, Outcome};
use crate::clock;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, &["write"], (1, -1, 1), del),
    spec("unlink", -2, &["write", "fast"], (1, -1, 1), del),
    spec("exists", -2, &["readonly", "fast"], (1, -1, 1), exists),
    spec("touch", -2, &["readonly", "fast"], (1, -1, 1), exists),
    spec("type", 2, &["readonly", "fast"], (1, 1, 1), key_type),
    spec("rename", 3, &["write"], (1, 2, 1), rename),
    spec("renamenx", 3, &["write", "fast"], (1, 2, 1), renamenx),
];

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let deletes = args[1..].iter().map(|k| (k, Command::Write(Op::delete())));
    requests(ctx, deletes, |replies, timeout_ms| {
        if let Some(e) = combine_writes("DEL", &replies, timeout_ms) {
            return e;
        }
        let removed = replies.iter().filter(|r| {
            matches!(
                r,
                Reply::Written {
                    outcome: OpOutcome::Int(1),
                    ..
                }
            )
        });
        Frame::integer(removed.count() as i64)
    })
}

/// `EXISTS` and `TOUCH`: how many of the keys exist (a key named twice counts twice). Nothing
/// tracks access times here, so `TOUCH` only counts.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let reads = args[1..].iter().map(|k| (k, Command::Get));
    requests(ctx, reads, |replies, timeout_ms| {
        if let Some(e) = replies.iter().find_map(|r| error_of(r, timeout_ms)) {
            return e;
        }
        let present = replies.into_iter().filter(|r| match r {
            Reply::Value(object) => view::live(object).is_some(),
            _ => false,
        });
        Frame::integer(present.count() as i64)
    })
}

pub fn key_type(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    single(ctx, &args[1], Command::Get, |d| {
        let object = view::object(d);
        let name = view::live(&object).map_or("none", |v| v.kind().redis_type());
        Frame::simple(name)
    })
}

pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    move_key(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    move_key(ctx, args, true)
}

fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes], if_absent: bool) -> Outcome {
    let (src, dst) = (args[1].clone(), args[2].clone());
    steps(ctx, move |s| async move {
        if let Some(e) = [&src, &dst].iter().find_map(|k| s.check_key(k).err()) {
            return e;
        }
        let timeout_ms = s.timeout_ms();
        let object = match done(s.submit(&src, Command::Get).await, timeout_ms) {
            Ok(d) => view::object(d),
            Err(e) => return e,
        };
        let now = clock::wall_ms();
        let Some(value) = object.as_ref().and_then(|o| Plain::of(o, now)) else {
            return Frame::error("ERR no such key");
        };
        if src == dst {
            return if if_absent {
                Frame::integer(0)
            } else {
                Frame::ok()
            };
        }
        let expires_at_ms = object.as_ref().and_then(|o| o.expires_at(now));
        let write = Op::Replace {
            value,
            expires_at_ms,
            if_absent,
        };
        match done(s.submit(&dst, Command::Write(write)).await, timeout_ms) {
            Ok(Done::Written(OpOutcome::Int(0))) => return Frame::integer(0),
            Ok(_) => {}
            Err(e) => return e,
        }
        let deleted = s.submit(&src, Command::Write(Op::delete())).await;
        if let Some(e) = error_of(&deleted, timeout_ms) {
            let reason = e
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return Frame::error(format!(
                "ERR RENAME partially applied: the destination was written but the source was \
                 not deleted: {reason}"
            ));
        }
        if if_absent {
            Frame::integer(1)
        } else {
            Frame::ok()
        }
    })
}
