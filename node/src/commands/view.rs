//! What a read sees: a key's live value at this node's "now", typed for the command family
//! that asked.

use bytes::Bytes;
use kvorum_consistency::crdt::entries::{field_winner, HashEntries, SetEntries};
use kvorum_consistency::{Object, OpError, Value};
use kvorum_resp::Frame;

use crate::clock;

use super::reply::Done;

/// The `WRONGTYPE` error frame.
pub fn wrong_type() -> Frame {
    Frame::error(OpError::WrongType.to_string())
}

/// The state a read returned (a write's answer never reaches a read's finish).
pub fn object(done: Done) -> Option<Object> {
    match done {
        Done::Value(object) => object,
        Done::Written(_) => None,
    }
}

/// The live value of a read key, at this node's wall clock.
pub fn live(object: &Option<Object>) -> Option<Value<'_>> {
    object.as_ref().and_then(|o| o.read(clock::wall_ms()))
}

/// A string command's view: the string (a counter's text), `None` if absent, WRONGTYPE for
/// sets and hashes.
pub fn string(object: &Option<Object>) -> Result<Option<Bytes>, Frame> {
    match live(object) {
        None => Ok(None),
        Some(v) => v.as_string().map(Some).ok_or_else(wrong_type),
    }
}

/// A set command's view: `None` if absent, WRONGTYPE for other types.
pub fn set(object: &Option<Object>) -> Result<Option<&SetEntries>, Frame> {
    match live(object) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type()),
    }
}

/// A hash command's view: `None` if absent, WRONGTYPE for other types.
pub fn hash(object: &Option<Object>) -> Result<Option<&HashEntries>, Frame> {
    match live(object) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrong_type()),
    }
}

/// The whole live value as one frame: a bulk string, a set of members, a map of fields.
pub fn frame(object: &Option<Object>) -> Frame {
    match live(object) {
        None => Frame::null(),
        Some(Value::Set(s)) => Frame::set(s.iter().map(|e| Frame::bulk(e.key.clone())).collect()),
        Some(Value::Hash(h)) => Frame::map(
            h.iter()
                .filter_map(|e| {
                    field_winner(e).map(|v| (Frame::bulk(e.key.clone()), Frame::bulk(v.clone())))
                })
                .collect(),
        ),
        Some(v) => v.as_string().map(Frame::bulk).unwrap_or_else(Frame::null),
    }
}
