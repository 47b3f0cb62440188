//! `CONSISTENCY [ONE|QUORUM|ALL]`: the consistency of this connection's later requests.
//!
//! Without an argument it shows the current setting. The level is resolved against the
//! namespace's replication factor `N` for each request: `ONE` = 1, `QUORUM` = ⌊N/2⌋+1, `ALL` = N
//! replicas must answer a read or acknowledge a write.

use bytes::Bytes;
use kvorum_consistency::Preset;
use kvorum_resp::Frame;

use super::{syntax_error, Ctx, Outcome};

pub fn consistency(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match args {
        [_] => Frame::bulk(ctx.session.consistency.to_string()).into(),
        [_, level] => match std::str::from_utf8(level).ok().map(str::parse::<Preset>) {
            Some(Ok(preset)) => {
                ctx.session.consistency = preset;
                Frame::ok().into()
            }
            _ => Frame::error(format!(
                "ERR unknown consistency level '{}' (expected ONE, QUORUM or ALL)",
                super::printable(level)
            ))
            .into(),
        },
        _ => syntax_error().into(),
    }
}
