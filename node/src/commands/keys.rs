//! Key commands: DEL, EXISTS.
//!
//! `DEL` writes a tombstone for each key (a delete is a versioned write, so a replica that missed
//! it cannot bring the value back). Its count is the number of keys that held a value on the
//! coordinating replica just before the delete.

use bytes::Bytes;
use kvorum_consistency::{Command, Reply};
use kvorum_resp::Frame;

use super::reply::error_of;
use super::strings::combine_writes;
use super::{Ctx, Outcome};

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let keys = &args[1..];
    if let Some(e) = keys.iter().find_map(|k| ctx.shared.check_key(k).err()) {
        return e.into();
    }
    let replies: Vec<_> = keys
        .iter()
        .map(|k| ctx.shared.submit(ctx.session, k, Command::Delete))
        .collect();
    let timeout = ctx.shared.request_timeout_ms;
    Outcome::Later(Box::pin(async move {
        let mut outcomes = Vec::with_capacity(replies.len());
        for reply in replies {
            outcomes.push(reply.await);
        }
        if let Some(e) = combine_writes("DEL", &outcomes, timeout) {
            return e;
        }
        let removed = outcomes
            .iter()
            .filter(|r| matches!(r, Reply::Written { existed: true }))
            .count();
        Frame::integer(removed as i64)
    }))
}

pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
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
        let mut count = 0;
        for reply in replies {
            let reply = reply.await;
            if let Some(e) = error_of(&reply, timeout) {
                return e;
            }
            if matches!(&reply, Reply::Value(Some(o)) if o.value().is_some()) {
                count += 1;
            }
        }
        Frame::integer(count)
    }))
}
