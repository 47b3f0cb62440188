//! TTL commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX XX GT LT), TTL, PTTL, PERSIST,
//! EXPIRETIME, PEXPIRETIME.
//!
//! A TTL is an absolute instant replicated with the key (last change wins by HLC timestamp).
//! An expired key reads as absent on every node at once, whichever replica answers; its data is
//! purged in the background. Relative TTLs are turned into instants by the node that receives
//! the command, so clock differences between nodes shift when a key expires by that much.

use bytes::Bytes;
use kvorum_consistency::{Command, ExpireCondition, Op};
use kvorum_resp::Frame;

use super::strings::integer_outcome;
use super::view;
use super::{int_arg, is, single, spec, CommandSpec, Ctx, Outcome};
use crate::clock;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("expire", -3, &["write", "fast"], (1, 1, 1), expire),
    spec("pexpire", -3, &["write", "fast"], (1, 1, 1), pexpire),
    spec("expireat", -3, &["write", "fast"], (1, 1, 1), expireat),
    spec("pexpireat", -3, &["write", "fast"], (1, 1, 1), pexpireat),
    spec("persist", 2, &["write", "fast"], (1, 1, 1), persist),
    spec("ttl", 2, &["readonly", "fast"], (1, 1, 1), ttl),
    spec("pttl", 2, &["readonly", "fast"], (1, 1, 1), pttl),
    spec(
        "expiretime",
        2,
        &["readonly", "fast"],
        (1, 1, 1),
        expiretime,
    ),
    spec(
        "pexpiretime",
        2,
        &["readonly", "fast"],
        (1, 1, 1),
        pexpiretime,
    ),
];

#[derive(Copy, Clone)]
enum Unit {
    Seconds,
    Millis,
}

pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_expiry(ctx, args, Unit::Seconds, false, "expire")
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_expiry(ctx, args, Unit::Millis, false, "pexpire")
}

pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_expiry(ctx, args, Unit::Seconds, true, "expireat")
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_expiry(ctx, args, Unit::Millis, true, "pexpireat")
}

/// `EXPIRE key amount [NX | XX | GT | LT]` and its three relatives.
fn set_expiry(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit: Unit,
    absolute: bool,
    name: &str,
) -> Outcome {
    let amount = match int_arg(&args[2]) {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    let mut condition = ExpireCondition::Always;
    for option in &args[3..] {
        let next = if is(option, "NX") {
            ExpireCondition::IfNone
        } else if is(option, "XX") {
            ExpireCondition::IfSome
        } else if is(option, "GT") {
            ExpireCondition::IfLater
        } else if is(option, "LT") {
            ExpireCondition::IfEarlier
        } else {
            return Frame::error(format!(
                "ERR Unsupported option {}",
                super::printable(option)
            ))
            .into();
        };
        use ExpireCondition::{Always, IfEarlier, IfLater, IfNone, IfSome, IfSomeAndEarlier};
        condition = match (condition, next) {
            (Always, next) => next,
            (a, b) if a == b => a,
            (IfNone, _) | (_, IfNone) => {
                return Frame::error(
                    "ERR NX and XX, GT or LT options at the same time are not compatible",
                )
                .into()
            }
            (IfLater, IfEarlier | IfSomeAndEarlier) | (IfEarlier | IfSomeAndEarlier, IfLater) => {
                return Frame::error("ERR GT and LT options at the same time are not compatible")
                    .into()
            }
            // XX GT is GT (a key without a TTL is never "later"); XX LT needs a TTL.
            (IfSome, IfLater) | (IfLater, IfSome) => IfLater,
            (IfSome, IfEarlier) | (IfEarlier, IfSome) => IfSomeAndEarlier,
            (a, _) => a,
        };
    }
    let millis = match unit {
        Unit::Seconds => amount.checked_mul(1000),
        Unit::Millis => Some(amount),
    };
    let at = millis.and_then(|ms| {
        if absolute {
            Some(ms)
        } else {
            ms.checked_add(clock::wall_ms() as i64)
        }
    });
    let Some(at) = at else {
        return Frame::error(format!("ERR invalid expire time in '{name}' command")).into();
    };
    // An instant at or before the epoch is in the past: the key is deleted, as in Redis.
    let op = Op::Expire {
        at_ms: Some(at.max(0) as u64),
        condition,
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::Expire {
        at_ms: None,
        condition: ExpireCondition::Always,
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    remaining(ctx, args, |left_ms| (left_ms + 500) / 1000)
}

pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    remaining(ctx, args, |left_ms| left_ms)
}

/// Rounded to the nearest second, as Redis does.
pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    instant(ctx, args, |at_ms| (at_ms + 500) / 1000)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    instant(ctx, args, |at_ms| at_ms)
}

/// `-2`: no such key; `-1`: no TTL; else the time left, in the caller's unit.
fn remaining(ctx: &mut Ctx<'_>, args: &[Bytes], unit: fn(i64) -> i64) -> Outcome {
    instant(ctx, args, move |at_ms| {
        let left = at_ms - clock::wall_ms() as i64;
        unit(left.max(0))
    })
}

/// `-2`: no such key; `-1`: no TTL; else `f(expiry instant in ms)`.
fn instant(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    f: impl FnOnce(i64) -> i64 + Send + 'static,
) -> Outcome {
    single(ctx, &args[1], Command::Get, move |d| {
        let object = view::object(d);
        let now = clock::wall_ms();
        match object.as_ref() {
            Some(o) if o.exists(now) => match o.expires_at(now) {
                Some(at) => Frame::integer(f(at as i64)),
                None => Frame::integer(-1),
            },
            _ => Frame::integer(-2),
        }
    })
}
