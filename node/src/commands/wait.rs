//! `WAIT numreplicas timeout`: how many replicas besides the coordinating one held this
//! connection's last write when it was acknowledged.
//!
//! In Redis, `WAIT` blocks until asynchronous replicas catch up. Here a write is acknowledged
//! only once its W replicas hold it, so there is nothing to wait for: `WAIT` answers at once
//! with the count (0 before any write; a write that changed nothing counts no other replica).
//! To require more replicas, ask for them up front: `WITH W=3 -- SET k v`.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use kvorum_resp::Frame;

use super::{int_arg, spec, CommandSpec, Ctx, Outcome};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[spec("wait", 3, &["noscript"], (0, 0, 0), wait)];

pub fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    for arg in &args[1..] {
        match int_arg(arg) {
            Ok(n) if n >= 0 => {}
            Ok(_) => return Frame::error("ERR timeout is negative").into(),
            Err(e) => return e.into(),
        }
    }
    let acks = ctx.session.client.last_write_acks.load(Ordering::Relaxed);
    Frame::integer(acks.saturating_sub(1) as i64).into()
}
