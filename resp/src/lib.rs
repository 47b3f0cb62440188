//! RESP2/RESP3 codec for kvorum, shared by the node's RESP server, the Jepsen harness and the
//! bench tool.
//!
//! # Layout
//!
//! - `lib.rs`: this overview and the public re-exports.
//! - `limits.rs`: [`Limits`], the hard caps every decoder enforces.
//! - `error.rs`: [`ProtocolError`], whose `Display` is the text the server sends as `-ERR`.
//! - `frame.rs`: [`Frame`], one RESP value, and [`Protocol`], the dialect of a connection.
//! - `parse.rs`: cursor helpers shared by both decoders (lines, bulk payloads, integers).
//! - `command.rs`: [`CommandDecoder`] and [`parse_command`], the server's request decoder
//!   (arrays and inline lines), following Redis's request parser and its error texts.
//! - `inline.rs`: splitting inline command lines into words, quotes included.
//! - `decode.rs`: [`parse_frame`], the client's decoder for any RESP2/RESP3 reply.
//! - `encode.rs`: [`Frame::encode`] for either protocol, and [`encode_command`].
//! - `double.rs`: the text of a double reply, as Redis writes it (`3`, `1.5`, `inf`).
//!
//! # Design
//!
//! **Sans-IO.** Decoders take the connection's `BytesMut` read buffer and either consume one
//! complete command or frame from its front, or return `Ok(None)` and leave it alone until more
//! bytes arrive. Pipelining is just calling again. Nothing here touches a socket. A server keeps
//! one [`CommandDecoder`] per connection, which remembers how much of a partly arrived command
//! it has already checked, so a command trickling in over many reads costs linear time.
//!
//! **Zero-copy.** Payloads are never copied: once a command or frame is known to be complete,
//! its bytes are split off the buffer and frozen (`BytesMut::split_to(..).freeze()`), and each
//! argument or bulk string is a `Bytes` cut from them (`Bytes::slice_ref`), sharing the
//! allocation the socket read into. Only inline words with quotes are copied, since unescaping
//! changes them.
//!
//! **Check, then build.** Each decoder walks its input twice with the same code: once to learn
//! whether it is complete, valid and within [`Limits`], allocating nothing in proportion to the
//! declared sizes; then over the frozen bytes to build the result (mini-redis's `check` and
//! `parse`, but sharing one grammar). Every declared length is checked against its limit when
//! its header arrives, so a peer cannot make us reserve memory it has not sent, and nested
//! frames are walked with an explicit stack bounded by the nesting limit.
//!
//! **Never panics on input.** All reads go through bounds-checked accessors and checked
//! arithmetic; any malformed input is a [`ProtocolError`]. Errors use Redis's wording where
//! Redis has one, so clients and operators recognise them.
//!
//! # Example
//!
//! A server turning pipelined requests into replies:
//!
//! ```
//! use bytes::BytesMut;
//! use kvorum_resp::{encode_command, CommandDecoder, Frame, Limits, Protocol};
//!
//! let mut decoder = CommandDecoder::new(Limits::default()); // one per connection
//! let mut read_buf = BytesMut::new();
//! encode_command(&[b"ECHO", b"hi"], &mut read_buf);
//! read_buf.extend_from_slice(b"PING\r\n*1\r\n$4\r\nPI"); // inline, then half a command
//!
//! let mut write_buf = BytesMut::new();
//! loop {
//!     match decoder.decode(&mut read_buf) {
//!         // `args` is never empty; the rest came from the network, so no indexing.
//!         Ok(Some(args)) => {
//!             let reply = match (args.first(), args.get(1)) {
//!                 (Some(name), _) if name.eq_ignore_ascii_case(b"PING") => Frame::simple("PONG"),
//!                 (_, Some(word)) => Frame::bulk(word.clone()),
//!                 _ => Frame::error("ERR wrong number of arguments"),
//!             };
//!             reply.encode(Protocol::Resp2, &mut write_buf);
//!         }
//!         Ok(None) => break, // read more from the socket, then call again
//!         Err(error) => {
//!             error.to_frame().encode(Protocol::Resp2, &mut write_buf);
//!             break; // then close the connection
//!         }
//!     }
//! }
//! assert_eq!(&write_buf[..], b"$2\r\nhi\r\n+PONG\r\n");
//! assert_eq!(&read_buf[..], b"*1\r\n$4\r\nPI");
//! ```
//!
//! RESP itself has no version byte: the dialect of a connection is chosen by `HELLO`, and is
//! carried here as [`Protocol`].

mod command;
mod decode;
mod double;
mod encode;
mod error;
mod frame;
mod inline;
mod limits;
mod parse;

pub use command::{parse_command, CommandDecoder};
pub use decode::parse_frame;
pub use encode::encode_command;
pub use error::ProtocolError;
pub use frame::{Frame, Protocol};
pub use limits::{
    Limits, DEFAULT_MAX_ARRAY_LEN, DEFAULT_MAX_BULK_BYTES, DEFAULT_MAX_INLINE_BYTES,
    DEFAULT_MAX_NESTING_DEPTH, DEFAULT_MAX_QUERY_BYTES,
};
