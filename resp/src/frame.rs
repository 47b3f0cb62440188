//! [`Frame`], one RESP2 or RESP3 value, and [`Protocol`], the dialect a connection speaks.
//!
//! A frame holds its payloads as [`Bytes`] that share the connection's read buffer, so decoding
//! a 100 MB bulk string allocates nothing for its contents.

use bytes::Bytes;

/// The RESP dialect of one connection.
///
/// Every connection starts in RESP2; `HELLO 3` switches it to RESP3. The server keeps one
/// [`Frame`] per reply and picks the wire form when encoding, see [`Frame::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// RESP2: what every Redis client speaks by default.
    #[default]
    Resp2,
    /// RESP3: adds nulls, maps, sets, doubles, booleans, big numbers, verbatim strings, pushes
    /// and attributes.
    Resp3,
}

/// One RESP value, as sent by a server (or, for commands, an array of bulk strings).
///
/// # Attributes
///
/// RESP3 lets a server prefix any reply with out-of-band metadata (`|`). kvorum never sends
/// any; for clients that meet one, [`parse_frame`](crate::parse_frame) returns a top-level
/// attribute as its own [`Frame::Attribute`], and the reply it describes is the *next* frame.
/// An attribute nested inside an aggregate is checked against the limits and then dropped,
/// since an aggregate's element count leaves no room for it. When encoding, an `Attribute`
/// inside an array, set or push is written before the next element without being counted
/// (RESP3) or left out (RESP2); as a map key or value it is written as a map, so the pair
/// stays whole; and a top-level one is left out in RESP2.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a short status line without CR or LF.
    Simple(Bytes),
    /// `-ERR message` (or RESP3 blob error `!`): the text starts with the error code.
    Error(Bytes),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`: binary-safe string.
    Bulk(Bytes),
    /// The absent value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// `*2\r\n...`: an ordered list of frames.
    Array(Vec<Frame>),
    /// An absent array: `*-1` in RESP2, `_` in RESP3 (so it decodes back as [`Frame::Null`]).
    NullArray,
    /// RESP3 `%`: key/value pairs in order. RESP2: a flat array `k1 v1 k2 v2 ...`.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~`. RESP2: an array.
    Set(Vec<Frame>),
    /// RESP3 `,`. RESP2: a bulk string with the same text.
    Double(f64),
    /// RESP3 `#t` / `#f`. RESP2: the integer 1 or 0.
    Boolean(bool),
    /// RESP3 `(`: an integer of any size, as decimal text. RESP2: a bulk string.
    BigNumber(Bytes),
    /// RESP3 `=`: text with a three-byte format such as `txt` or `mkd`. RESP2: a bulk string
    /// of the text alone.
    Verbatim {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text without the `fmt:` prefix.
        text: Bytes,
    },
    /// RESP3 `>`: out-of-band data such as pub/sub messages. RESP2: an array.
    Push(Vec<Frame>),
    /// RESP3 `|`: metadata about the next frame; see "Attributes" above.
    Attribute(Vec<(Frame, Frame)>),
}

impl Frame {
    /// `+OK`.
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// A status reply such as `PONG`. CR and LF are replaced by spaces when encoded.
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::Simple(text.into())
    }

    /// An error reply. `message` starts with the error code, as clients expect:
    /// `Frame::error("ERR unknown command")`, `Frame::error("WRONGTYPE ...")`.
    /// CR and LF are replaced by spaces when encoded.
    pub fn error(message: impl Into<Bytes>) -> Frame {
        Frame::Error(message.into())
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// An integer reply.
    pub fn integer(value: i64) -> Frame {
        Frame::Integer(value)
    }

    /// The absent value (`$-1` / `_`).
    pub fn null() -> Frame {
        Frame::Null
    }

    /// An array.
    pub fn array(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    /// An array of bulk strings, e.g. a command or a list of keys.
    pub fn bulk_array<I, B>(items: I) -> Frame
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Frame::Array(items.into_iter().map(|b| Frame::Bulk(b.into())).collect())
    }

    /// A map (a flat array in RESP2).
    pub fn map(pairs: Vec<(Frame, Frame)>) -> Frame {
        Frame::Map(pairs)
    }

    /// A set (an array in RESP2).
    pub fn set(items: Vec<Frame>) -> Frame {
        Frame::Set(items)
    }

    /// A double (a bulk string in RESP2).
    pub fn double(value: f64) -> Frame {
        Frame::Double(value)
    }

    /// A boolean (the integer 1 or 0 in RESP2).
    pub fn boolean(value: bool) -> Frame {
        Frame::Boolean(value)
    }

    /// Verbatim text in format `txt` (a bulk string in RESP2).
    pub fn verbatim_text(text: impl Into<Bytes>) -> Frame {
        Frame::Verbatim {
            format: *b"txt",
            text: text.into(),
        }
    }

    /// The payload of a string-like frame: simple, error, bulk, big number or verbatim text.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b)
            | Frame::Error(b)
            | Frame::Bulk(b)
            | Frame::BigNumber(b)
            | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// The value of an integer frame (booleans count as 1 and 0, as in RESP2).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(n) => Some(*n),
            Frame::Boolean(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_items(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Whether this is an absent value (`Null` or `NullArray`).
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullArray)
    }
}
