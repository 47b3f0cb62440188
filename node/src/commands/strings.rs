//! String commands: GET, SET (with EX PX EXAT PXAT NX XX KEEPTTL GET), GETSET, GETDEL, GETEX,
//! SETNX, SETEX, PSETEX, APPEND, STRLEN, GETRANGE, SETRANGE, MGET, MSET, MSETNX.
//!
//! A string key is a multi-value register: concurrent writes are kept as siblings and a read
//! returns the HLC-latest (`GETCTX` shows them all). A counter key (after `INCR`) is a string to
//! every command here: `GET` returns its decimal text, `SET` and `APPEND` turn it back into a
//! plain string.
//!
//! Relative TTLs (`EX`, `PX`, `SETEX`) become absolute instants on the node that receives the
//! command. `MGET`, `MSET` and `MSETNX` run one request per key, concurrently, and are not atomic
//! across keys (see docs/REDIS.md): a failure part-way is reported as such.

use bytes::Bytes;
use kvorum_consistency::{Command, Condition, Op, Outcome as OpOutcome, Ttl};
use kvorum_resp::Frame;

use super::reply::{combine_writes, done, error_of, Done};
use super::view::{self, string};
use super::{
    int_arg, is, requests, single, spec, steps, syntax_error, wrong_arity, CommandSpec, Ctx,
    Outcome,
};
use crate::clock;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("get", 2, &["readonly", "fast"], (1, 1, 1), get),
    spec("set", -3, &["write", "denyoom"], (1, 1, 1), set),
    spec(
        "getset",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        getset,
    ),
    spec("getdel", 2, &["write", "fast"], (1, 1, 1), getdel),
    spec("getex", -2, &["write", "fast"], (1, 1, 1), getex),
    spec("setnx", 3, &["write", "denyoom", "fast"], (1, 1, 1), setnx),
    spec("setex", 4, &["write", "denyoom"], (1, 1, 1), setex),
    spec("psetex", 4, &["write", "denyoom"], (1, 1, 1), psetex),
    spec(
        "append",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        append,
    ),
    spec("strlen", 2, &["readonly", "fast"], (1, 1, 1), strlen),
    spec("getrange", 4, &["readonly"], (1, 1, 1), getrange),
    spec("substr", 4, &["readonly"], (1, 1, 1), getrange),
    spec("setrange", 4, &["write", "denyoom"], (1, 1, 1), setrange),
    spec("mget", -2, &["readonly", "fast"], (1, -1, 1), mget),
    spec("mset", -3, &["write", "denyoom"], (1, -1, 2), mset),
    spec("msetnx", -3, &["write", "denyoom"], (1, -1, 2), msetnx),
];

/// The largest offset `SETRANGE` accepts (Redis's 512 MB string limit).
const MAX_OFFSET: i64 = kvorum_consistency::op::MAX_STRING_BYTES as i64;

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    single(ctx, &args[1], Command::Get, |d| {
        match string(&view::object(d)) {
            Ok(value) => bulk_or_null(value),
            Err(e) => e,
        }
    })
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`.
pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut condition = Condition::Always;
    let mut ttl = None;
    let mut get = false;
    let mut rest = args[3..].iter();
    while let Some(option) = rest.next() {
        if is(option, "NX") && condition == Condition::Always {
            condition = Condition::IfAbsent;
        } else if is(option, "XX") && condition == Condition::Always {
            condition = Condition::IfPresent;
        } else if is(option, "GET") {
            get = true;
        } else if is(option, "KEEPTTL") && ttl.is_none() {
            ttl = Some(Ttl::Keep);
        } else if let Some(unit) = ttl_unit(option).filter(|_| ttl.is_none()) {
            let Some(amount) = rest.next() else {
                return syntax_error().into();
            };
            match expiry_at(amount, unit, "set") {
                Ok(at) => ttl = Some(Ttl::At(at)),
                Err(e) => return e.into(),
            }
        } else {
            return syntax_error().into();
        }
    }
    let op = Op::Set {
        value: args[2].clone(),
        condition,
        ttl: ttl.unwrap_or(Ttl::Clear),
        get,
    };
    single(ctx, &args[1], Command::Write(op), move |d| match d {
        Done::Written(OpOutcome::Old(old)) => bulk_or_null(old),
        Done::Written(OpOutcome::Skipped { old }) if get => bulk_or_null(old),
        Done::Written(OpOutcome::Skipped { .. }) => Frame::null(),
        _ => Frame::ok(),
    })
}

pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::Set {
        value: args[2].clone(),
        condition: Condition::Always,
        ttl: Ttl::Clear,
        get: true,
    };
    single(ctx, &args[1], Command::Write(op), old_value)
}

pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    single(
        ctx,
        &args[1],
        Command::Write(Op::Delete { get: true }),
        old_value,
    )
}

/// `GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]`: without an option, a plain read.
pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let ttl = match &args[2..] {
        [] => return get(ctx, &args[..2]),
        [option] if is(option, "PERSIST") => Ttl::Clear,
        [option, amount] => match ttl_unit(option) {
            Some(unit) => match expiry_at(amount, unit, "getex") {
                Ok(at) => Ttl::At(at),
                Err(e) => return e.into(),
            },
            None => return syntax_error().into(),
        },
        _ => return syntax_error().into(),
    };
    single(ctx, &args[1], Command::Write(Op::GetEx { ttl }), old_value)
}

pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::Set {
        value: args[2].clone(),
        condition: Condition::IfAbsent,
        ttl: Ttl::Clear,
        get: false,
    };
    single(ctx, &args[1], Command::Write(op), |d| {
        Frame::integer(i64::from(!matches!(
            d,
            Done::Written(OpOutcome::Skipped { .. })
        )))
    })
}

pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_with_ttl(ctx, args, TtlUnit::Seconds, "setex")
}

pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    set_with_ttl(ctx, args, TtlUnit::Millis, "psetex")
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], unit: TtlUnit, name: &str) -> Outcome {
    let at = match expiry_at(&args[2], unit, name) {
        Ok(at) => at,
        Err(e) => return e.into(),
    };
    let op = Op::Set {
        value: args[3].clone(),
        condition: Condition::Always,
        ttl: Ttl::At(at),
        get: false,
    };
    single(ctx, &args[1], Command::Write(op), |_| Frame::ok())
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::Append {
        value: args[2].clone(),
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    single(ctx, &args[1], Command::Get, |d| {
        match string(&view::object(d)) {
            Ok(value) => Frame::integer(value.map_or(0, |v| v.len() as i64)),
            Err(e) => e,
        }
    })
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (start, end) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    single(ctx, &args[1], Command::Get, move |d| {
        match string(&view::object(d)) {
            Ok(value) => {
                let value = value.unwrap_or_default();
                Frame::bulk(substring(&value, start, end))
            }
            Err(e) => e,
        }
    })
}

/// Redis's `GETRANGE` index rules: negative indexes count from the end, both ends inclusive,
/// clamped to the string.
fn substring(value: &Bytes, start: i64, end: i64) -> Bytes {
    let len = value.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Bytes::new();
    }
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (norm(start), norm(end).min(len - 1));
    if start > end || start >= len {
        return Bytes::new();
    }
    value.slice(start as usize..=end as usize)
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let offset = match int_arg(&args[2]) {
        Ok(o) if (0..MAX_OFFSET).contains(&o) => o as u64,
        Ok(_) => return Frame::error("ERR offset is out of range").into(),
        Err(e) => return e.into(),
    };
    // The string must stay within the node's bulk limit (`proto-max-bulk-len`), as in Redis.
    if offset.saturating_add(args[3].len() as u64) > ctx.shared.view.max_bulk_bytes as u64 {
        return Frame::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)").into();
    }
    let op = Op::SetRange {
        offset,
        value: args[3].clone(),
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let reads = args[1..].iter().map(|k| (k, Command::Get));
    requests(ctx, reads, |replies, timeout_ms| {
        if let Some(e) = replies.iter().find_map(|r| error_of(r, timeout_ms)) {
            return e;
        }
        let values = replies.into_iter().map(|r| match done(r, timeout_ms) {
            // A key of another type reads as nil in MGET, as in Redis.
            Ok(d) => bulk_or_null(string(&view::object(d)).ok().flatten()),
            Err(e) => e,
        });
        Frame::array(values.collect())
    })
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let pairs = &args[1..];
    if pairs.len() % 2 != 0 {
        return wrong_arity("mset").into();
    }
    let writes = pairs
        .chunks_exact(2)
        .map(|kv| (&kv[0], Command::Write(Op::set(kv[1].clone()))));
    requests(ctx, writes, |replies, timeout_ms| {
        combine_writes("MSET", &replies, timeout_ms).unwrap_or_else(Frame::ok)
    })
}

/// `MSETNX`: reads every key first and writes (each with `NX`) only if none exists. Not atomic
/// across keys: a key created between the check and the write keeps its value, and the reply
/// is then 0 with the other keys written — the error says so.
pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let pairs: Vec<(Bytes, Bytes)> = args[1..]
        .chunks_exact(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    if (args.len() - 1) % 2 != 0 {
        return wrong_arity("msetnx").into();
    }
    steps(ctx, move |s| async move {
        if let Some(e) = pairs.iter().find_map(|(k, _)| s.check_key(k).err()) {
            return e;
        }
        let reads: Vec<_> = pairs
            .iter()
            .map(|(k, _)| s.submit(k, Command::Get))
            .collect();
        for read in reads {
            match done(read.await, s.timeout_ms()) {
                Ok(d) => {
                    if view::live(&view::object(d)).is_some() {
                        return Frame::integer(0);
                    }
                }
                Err(e) => return e,
            }
        }
        let writes: Vec<_> = pairs
            .iter()
            .map(|(k, v)| {
                let op = Op::Set {
                    value: v.clone(),
                    condition: Condition::IfAbsent,
                    ttl: Ttl::Clear,
                    get: false,
                };
                s.submit(k, Command::Write(op))
            })
            .collect();
        let mut replies = Vec::with_capacity(writes.len());
        for write in writes {
            replies.push(write.await);
        }
        if let Some(e) = combine_writes("MSETNX", &replies, s.timeout_ms()) {
            return e;
        }
        let skipped = replies.iter().any(|r| {
            matches!(
                r,
                kvorum_consistency::Reply::Written {
                    outcome: OpOutcome::Skipped { .. },
                    ..
                }
            )
        });
        if skipped {
            return Frame::error(
                "ERR MSETNX partially applied: a key was created concurrently; the other keys \
                 were written",
            );
        }
        Frame::integer(1)
    })
}

/// The unit of a relative or absolute TTL option.
#[derive(Copy, Clone)]
pub enum TtlUnit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

/// `EX PX EXAT PXAT` in any letter case.
pub fn ttl_unit(option: &[u8]) -> Option<TtlUnit> {
    if is(option, "EX") {
        Some(TtlUnit::Seconds)
    } else if is(option, "PX") {
        Some(TtlUnit::Millis)
    } else if is(option, "EXAT") {
        Some(TtlUnit::UnixSeconds)
    } else if is(option, "PXAT") {
        Some(TtlUnit::UnixMillis)
    } else {
        None
    }
}

/// The absolute expiry instant (ms since the Unix epoch) of a TTL argument; Redis's errors for
/// non-integers, non-positive values and overflow.
pub fn expiry_at(amount: &[u8], unit: TtlUnit, command: &str) -> Result<u64, Frame> {
    let amount = int_arg(amount)?;
    let invalid = || Frame::error(format!("ERR invalid expire time in '{command}' command"));
    if amount <= 0 {
        return Err(invalid());
    }
    let now = clock::wall_ms() as i64;
    let at = match unit {
        TtlUnit::Seconds => amount.checked_mul(1000).and_then(|ms| ms.checked_add(now)),
        TtlUnit::Millis => amount.checked_add(now),
        TtlUnit::UnixSeconds => amount.checked_mul(1000),
        TtlUnit::UnixMillis => Some(amount),
    };
    at.map(|at| at as u64).ok_or_else(invalid)
}

fn bulk_or_null(value: Option<Bytes>) -> Frame {
    value.map(Frame::bulk).unwrap_or_else(Frame::null)
}

/// The reply of ops that answer the string value (`GETSET`, `GETDEL`, `GETEX`).
fn old_value(d: Done) -> Frame {
    match d {
        Done::Written(OpOutcome::Old(old)) => bulk_or_null(old),
        _ => Frame::null(),
    }
}

/// The reply of ops that answer a number (`APPEND`, `INCR`, `SADD`, ...).
pub fn integer_outcome(d: Done) -> Frame {
    match d {
        Done::Written(OpOutcome::Int(n)) => Frame::integer(n),
        _ => Frame::integer(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_follows_redis_index_rules() {
        let v = Bytes::from_static(b"This is a string");
        assert_eq!(substring(&v, 0, 3), "This");
        assert_eq!(substring(&v, -3, -1), "ing");
        assert_eq!(substring(&v, 0, -1), v);
        assert_eq!(substring(&v, 10, 100), "string");
        assert_eq!(substring(&v, 5, 3), "");
        assert_eq!(substring(&v, -1, -5), "");
        assert_eq!(substring(&Bytes::new(), 0, -1), "");
        assert_eq!(substring(&v, -100, 2), "Thi");
    }
}
