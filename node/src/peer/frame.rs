//! The frame codec, shared with the native client protocol: see [`kvorum_wire::frame`].

pub use kvorum_wire::frame::*;
