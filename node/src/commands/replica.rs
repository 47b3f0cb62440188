//! `REPLICA GET key`: a debug command that returns **this node's own copy** of a key, without
//! asking any other replica (no quorum, no repair). It shows what one replica holds, e.g. that
//! a node that was down received the writes it missed through hinted handoff or read repair.
//! The value shown is what a read of that copy alone sees: a string's winning sibling (or a
//! counter's value), a set's members, a hash's fields and values; nil if absent or expired.
//!
//! `REPLICA RECORD key` tells what this node stores for the key: `none` (no record at all),
//! `tombstone` (a record that reads as absent: deleted or expired, kept until anti-entropy
//! purges it) or `live`.

use bytes::Bytes;
use kvorum_consistency::{Key, Reply};
use kvorum_resp::Frame;

use super::view;
use super::{check_key, printable, spec, CommandSpec, Ctx, Outcome};
use crate::driver::Work;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[spec(
    "replica",
    -2,
    &["readonly", "fast"],
    (2, 2, 1),
    replica,
)];

pub fn replica(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let record = args[1].eq_ignore_ascii_case(b"RECORD");
    if !(args[1].eq_ignore_ascii_case(b"GET") || record) || args.len() != 3 {
        return Frame::error(format!(
            "ERR unknown subcommand or wrong arguments for 'REPLICA {}'; expected REPLICA GET key \
             or REPLICA RECORD key",
            printable(&args[1])
        ))
        .into();
    }
    if let Err(e) = check_key(&args[2], ctx.shared.max_key_bytes) {
        return e.into();
    }
    let key = Key {
        ns: ctx.session.namespace,
        key: args[2].to_vec(),
    };
    let queued = ctx.shared.driver.try_submit(Work::LocalRead(key));
    Outcome::Later(Box::pin(async move {
        let reply = match queued.await {
            Ok(rx) => rx.await.ok(),
            Err(_) => None,
        };
        match reply {
            Some(Reply::Value(object)) if record => Frame::simple(match object {
                None => "none",
                Some(o) if o.exists(crate::clock::wall_ms()) => "live",
                Some(_) => "tombstone",
            }),
            Some(Reply::Value(object)) => view::frame(&object),
            Some(Reply::Failed { reason }) => Frame::error(format!("ERR {reason}")),
            _ => Frame::error("ERR the node is shutting down"),
        }
    }))
}
