//! Counter commands: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.
//!
//! A counter is a PN-counter CRDT: every node that coordinates increments keeps its own running
//! total, and replicas merge them, so increments made on both sides of a partition all count
//! after it heals. How counters and strings meet (as in Redis, a counter is a string to every
//! string command):
//! - `SET k 10` then `INCR k` → 11: the string becomes a counter starting at 10;
//! - `INCR k` then `GET k` → "1"; `APPEND`/`SET` on a counter make it a plain string again;
//! - `INCR` on a string that is not an integer → `-ERR value is not an integer or out of range`,
//!   nothing changes; `INCRBYFLOAT` makes the counter a float one, after which `INCR` refuses
//!   unless the value is integral again.

use bytes::Bytes;
use kvorum_consistency::crdt::counter::Float;
use kvorum_consistency::{Command, Op, Outcome as OpOutcome};
use kvorum_resp::Frame;

use super::reply::Done;
use super::strings::integer_outcome;
use super::{float_arg, int_arg, single, spec, CommandSpec, Ctx, Outcome};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("incr", 2, &["write", "denyoom", "fast"], (1, 1, 1), incr),
    spec("decr", 2, &["write", "denyoom", "fast"], (1, 1, 1), decr),
    spec(
        "incrby",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        incrby,
    ),
    spec(
        "decrby",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        decrby,
    ),
    spec(
        "incrbyfloat",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        incrbyfloat,
    ),
];

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    incr_by(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    incr_by(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match int_arg(&args[2]) {
        Ok(delta) => incr_by(ctx, &args[1], delta),
        Err(e) => e.into(),
    }
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match int_arg(&args[2]).map(i64::checked_neg) {
        Ok(Some(delta)) => incr_by(ctx, &args[1], delta),
        Ok(None) => Frame::error("ERR decrement would overflow").into(),
        Err(e) => e.into(),
    }
}

fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> Outcome {
    single(
        ctx,
        key,
        Command::Write(Op::IncrBy { delta }),
        integer_outcome,
    )
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let delta = match float_arg(&args[2]) {
        Ok(d) => Float(d),
        Err(e) => return e.into(),
    };
    single(
        ctx,
        &args[1],
        Command::Write(Op::IncrByFloat { delta }),
        |d| match d {
            Done::Written(OpOutcome::Text(text)) => Frame::bulk(text),
            _ => Frame::null(),
        },
    )
}
