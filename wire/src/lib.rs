//! `kvorum-wire`: the bytes kvorum's QUIC protocols put on the wire, shared by the node and the
//! native client so the two can never disagree about them.
//!
//! - [`frame`]: the frame codec (length prefix, envelope version byte, rmp-serde payload) used
//!   on every QUIC stream, by the peer protocol and the native client protocol alike.
//! - [`native`]: the native client protocol's messages (ALPN [`native::NATIVE_ALPN`]): the
//!   hello, requests, replies and errors a client and a node exchange.
//!
//! Pure apart from [`frame::read_frame`] and [`frame::write_frame`], which move one frame over
//! a quinn stream.

pub mod frame;
pub mod native;

pub use frame::FrameError;
