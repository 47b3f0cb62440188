//! The one error type of the crate.
//!
//! Every variant means "this connection is speaking broken RESP": the server answers with
//! [`ProtocolError::to_frame`] (`-ERR <Display>`) and closes the connection, a client drops it.
//! Where Redis has a message for the same fault, `Display` is Redis's exact text so that client
//! libraries and operators recognise it; several variants therefore share a message and differ
//! only in the detail they carry for logs and tests.

use std::fmt;

use bytes::Bytes;

use crate::Frame;

/// A violation of the RESP grammar or of a configured [`Limits`](crate::Limits) value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An aggregate header (`*`, `%`, `~`, `>`, `|`) whose count is not an integer, or is
    /// negative where that has no meaning.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// An aggregate (or an inline command) with more elements than
    /// [`Limits::max_array_len`](crate::Limits::max_array_len).
    #[error("Protocol error: invalid multibulk length")]
    AggregateTooLong {
        /// The count the peer declared (for inline commands: the first count over the limit).
        declared: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A bulk header (`$`, `!`, `=`) whose length is not an integer, or is negative where that
    /// has no meaning (everywhere but the RESP2 null bulk `$-1`).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// A bulk payload longer than [`Limits::max_bulk_bytes`](crate::Limits::max_bulk_bytes).
    #[error("Protocol error: invalid bulk length")]
    BulkTooLong {
        /// The length the peer declared.
        declared: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A command array whose element is not a bulk string.
    #[error("Protocol error: expected '$', got '{}'", ByteChar(*.got))]
    ExpectedBulk {
        /// The type byte found instead of `$`.
        got: u8,
    },
    /// An inline command line longer than
    /// [`Limits::max_inline_bytes`](crate::Limits::max_inline_bytes).
    #[error("Protocol error: too big inline request")]
    InlineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A command's `*<count>` line longer than the line limit.
    #[error("Protocol error: too big mbulk count string")]
    MultibulkHeaderTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A command's `$<length>` line longer than the line limit.
    #[error("Protocol error: too big bulk count string")]
    BulkHeaderTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A command longer on the wire than
    /// [`Limits::max_query_bytes`](crate::Limits::max_query_bytes). Redis closes such a client
    /// without a reply; we say why first.
    #[error("Protocol error: query buffer limit exceeded")]
    QueryTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// An inline command with an unterminated quote, or a closing quote followed by something
    /// other than a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Bulk payload not followed by CRLF: the declared length does not match the data.
    #[error("Protocol error: bulk data not followed by CRLF")]
    MissingBulkTerminator,
    /// A line whose CR is not followed by LF.
    #[error("Protocol error: CR not followed by LF")]
    MissingLineFeed,
    /// A frame starting with a byte that is not a RESP2 or RESP3 type.
    #[error("Protocol error: unknown type byte '{}'", ByteChar(*.got))]
    UnknownType {
        /// The offending byte.
        got: u8,
    },
    /// A scalar whose text does not parse as its type (e.g. `:12a`, `#x`, `,one`).
    #[error("Protocol error: invalid {kind}")]
    InvalidValue {
        /// Which kind of value: "integer", "double", "boolean", "big number", "null",
        /// "verbatim string".
        kind: &'static str,
    },
    /// A reply line longer than [`Limits::max_inline_bytes`](crate::Limits::max_inline_bytes).
    #[error("Protocol error: line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// Aggregates nested deeper than
    /// [`Limits::max_nesting_depth`](crate::Limits::max_nesting_depth).
    #[error("Protocol error: aggregates nested deeper than {limit} levels")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// The decoder contradicted itself (a bug in this crate). Reported instead of panicking,
    /// because the input that triggers it came from the network.
    #[error("Protocol error: internal decoder error ({detail})")]
    Internal {
        /// What went wrong.
        detail: &'static str,
    },
}

impl ProtocolError {
    /// The reply a server sends before closing the connection: `-ERR <message>`.
    pub fn to_frame(&self) -> Frame {
        Frame::Error(Bytes::from(format!("ERR {self}")))
    }
}

/// Shows a byte as Redis does (`%c`) when it is printable ASCII, else as `\xNN`, so that a
/// control byte can never break the one-line error reply it is quoted in.
struct ByteChar(u8);

impl fmt::Display for ByteChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() || self.0 == b' ' {
            write!(f, "{}", char::from(self.0))
        } else {
            write!(f, "\\x{:02x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_redis() {
        assert_eq!(
            ProtocolError::ExpectedBulk { got: b'x' }.to_string(),
            "Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            ProtocolError::BulkTooLong {
                declared: 1,
                limit: 0
            }
            .to_string(),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            ProtocolError::UnbalancedQuotes.to_frame(),
            Frame::Error(Bytes::from_static(
                b"ERR Protocol error: unbalanced quotes in request"
            ))
        );
    }

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(
            ProtocolError::ExpectedBulk { got: b'\r' }.to_string(),
            "Protocol error: expected '$', got '\\x0d'"
        );
    }
}
