//! String commands: GET, SET, MGET, MSET.
//!
//! `SET` here is the plain form (`SET key value`); the options (EX, NX, GET, ...) come with the
//! full strings family. `MGET`/`MSET` run one request per key, concurrently; `MSET` is not atomic
//! across keys: keys written before a failure stay written, and the error says so.

use bytes::Bytes;
use kvorum_consistency::{Command, Reply};
use kvorum_resp::Frame;

use super::reply::{error_of, may_have_applied};
use super::{syntax_error, Ctx, Outcome};

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let key = &args[1];
    if let Err(e) = ctx.shared.check_key(key) {
        return e.into();
    }
    let reply = ctx.shared.submit(ctx.session, key, Command::Get);
    let timeout = ctx.shared.request_timeout_ms;
    Outcome::Later(Box::pin(async move { value_frame(&reply.await, timeout) }))
}

pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() != 3 {
        return syntax_error().into();
    }
    let key = &args[1];
    if let Err(e) = ctx.shared.check_key(key) {
        return e.into();
    }
    let reply = ctx.shared.submit(
        ctx.session,
        key,
        Command::Put {
            value: args[2].clone(),
        },
    );
    let timeout = ctx.shared.request_timeout_ms;
    Outcome::Later(Box::pin(async move {
        let reply = reply.await;
        error_of(&reply, timeout).unwrap_or_else(Frame::ok)
    }))
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let keys = &args[1..];
    if let Some(e) = keys.iter().find_map(|k| ctx.shared.check_key(k).err()) {
        return e.into();
    }
    let replies: Vec<_> = keys
        .iter()
        .map(|k| ctx.shared.submit(ctx.session, k, Command::Get))
        .collect();
    let timeout = ctx.shared.request_timeout_ms;
    Outcome::Later(Box::pin(async move {
        let mut values = Vec::with_capacity(replies.len());
        for reply in replies {
            let reply = reply.await;
            if let Some(e) = error_of(&reply, timeout) {
                return e;
            }
            values.push(value_frame(&reply, timeout));
        }
        Frame::array(values)
    }))
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let pairs = &args[1..];
    if pairs.len() % 2 != 0 {
        return super::wrong_arity("mset").into();
    }
    if let Some(e) = pairs
        .chunks(2)
        .find_map(|kv| ctx.shared.check_key(&kv[0]).err())
    {
        return e.into();
    }
    let replies: Vec<_> = pairs
        .chunks(2)
        .map(|kv| {
            ctx.shared.submit(
                ctx.session,
                &kv[0],
                Command::Put {
                    value: kv[1].clone(),
                },
            )
        })
        .collect();
    let timeout = ctx.shared.request_timeout_ms;
    Outcome::Later(Box::pin(async move {
        let total = replies.len();
        let mut outcomes = Vec::with_capacity(total);
        for reply in replies {
            outcomes.push(reply.await);
        }
        combine_writes("MSET", &outcomes, timeout).unwrap_or_else(Frame::ok)
    }))
}

/// The reply of a read: the winning value, or nil.
pub fn value_frame(reply: &Reply, timeout_ms: u64) -> Frame {
    match reply {
        Reply::Value(Some(object)) => match object.value() {
            Some(value) => Frame::bulk(value.clone()),
            None => Frame::null(),
        },
        Reply::Value(None) => Frame::null(),
        other => error_of(other, timeout_ms).unwrap_or_else(Frame::null),
    }
}

/// The error of a multi-key write, `None` if every key was written. When some keys were (or may
/// have been) written and others not, the error says so rather than pretending nothing happened.
pub fn combine_writes(command: &str, outcomes: &[Reply], timeout_ms: u64) -> Option<Frame> {
    let first_error = outcomes.iter().find_map(|r| error_of(r, timeout_ms))?;
    let applied = outcomes.iter().filter(|r| may_have_applied(r)).count();
    if applied == 0 {
        return Some(first_error);
    }
    let reason = first_error
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    Some(Frame::error(format!(
        "ERR {command} partially applied: {applied} of {} keys written or possibly written; first failure: {reason}",
        outcomes.len()
    )))
}
