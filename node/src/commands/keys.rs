//! Key commands: DEL, EXISTS.
//!
//! `DEL` writes a tombstone for each key (a delete is a versioned write, so a replica that missed
//! it cannot bring the value back). Its count is the number of keys that held a value on the
//! coordinating replica just before the delete.

use bytes::Bytes;
use kvorum_consistency::{Command, Reply};
use kvorum_resp::Frame;

use super::reply::{combine_writes, error_of};
use super::{requests, spec, CommandSpec, Ctx, Outcome};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, &["write"], (1, -1, 1), del),
    spec("exists", -2, &["readonly", "fast"], (1, -1, 1), exists),
];

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let deletes = args[1..].iter().map(|k| (k, Command::Delete));
    requests(ctx, deletes, |replies, timeout_ms| {
        if let Some(e) = combine_writes("DEL", &replies, timeout_ms) {
            return e;
        }
        let removed = replies
            .iter()
            .filter(|r| matches!(r, Reply::Written { existed: true }));
        Frame::integer(removed.count() as i64)
    })
}

pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let reads = args[1..].iter().map(|k| (k, Command::Get));
    requests(ctx, reads, |replies, timeout_ms| {
        if let Some(e) = replies.iter().find_map(|r| error_of(r, timeout_ms)) {
            return e;
        }
        let present = replies
            .iter()
            .filter(|r| matches!(r, Reply::Value(Some(o)) if o.value().is_some()));
        Frame::integer(present.count() as i64)
    })
}
