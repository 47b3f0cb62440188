//! Hard limits on what the decoders accept.
//!
//! Every size the peer declares is checked against these limits at the header, before the
//! payload arrives and before anything is allocated for it, so a hostile or broken peer can
//! make us wait or drop the connection, but never make us reserve memory it has not sent.

/// Default for [`Limits::max_bulk_bytes`]: 512 MiB, like Redis's `proto-max-bulk-len`.
pub const DEFAULT_MAX_BULK_BYTES: usize = 512 * 1024 * 1024;
/// Default for [`Limits::max_array_len`]: 1 Mi elements, Redis's historical multibulk cap.
pub const DEFAULT_MAX_ARRAY_LEN: usize = 1024 * 1024;
/// Default for [`Limits::max_nesting_depth`].
pub const DEFAULT_MAX_NESTING_DEPTH: usize = 32;
/// Default for [`Limits::max_inline_bytes`]: 64 KiB, Redis's `PROTO_INLINE_MAX_SIZE`.
pub const DEFAULT_MAX_INLINE_BYTES: usize = 64 * 1024;
/// Default for [`Limits::max_query_bytes`]: 1 GiB, like Redis's `client-query-buffer-limit`.
pub const DEFAULT_MAX_QUERY_BYTES: usize = 1024 * 1024 * 1024;

/// Limits enforced by [`CommandDecoder`](crate::CommandDecoder),
/// [`parse_command`](crate::parse_command) and [`parse_frame`](crate::parse_frame).
///
/// The node takes these from its configuration; the defaults match what Redis accepts so that
/// well-behaved clients never notice them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of one bulk string (`$`), blob error (`!`) or verbatim string (`=`).
    pub max_bulk_bytes: usize,
    /// Largest element count of one array, set or push, and largest entry count of one map or
    /// attribute. Also caps the number of words in an inline command.
    pub max_array_len: usize,
    /// Deepest nesting of aggregates in a frame: a top-level array is depth 1, an array inside
    /// it depth 2. Commands are never nested, so only [`parse_frame`](crate::parse_frame) uses it.
    pub max_nesting_depth: usize,
    /// Longest line without its terminator: a whole inline command, or a RESP header or simple
    /// line (`*3`, `$5`, `+OK`, `:42`) including its type byte.
    pub max_inline_bytes: usize,
    /// Largest whole command on the wire, from its `*` to its last CRLF. The bulk and array
    /// limits bound each part; this bounds their product, which for the defaults would be far
    /// beyond any memory. It is checked at every bulk header (header, payload and CRLF must
    /// fit), so a command that cannot fit fails before the bytes that would overflow it are
    /// sent. Only [`parse_command`](crate::parse_command) and
    /// [`CommandDecoder`](crate::CommandDecoder) use it; inline commands are bounded by
    /// `max_inline_bytes` instead.
    pub max_query_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_bytes: DEFAULT_MAX_BULK_BYTES,
            max_array_len: DEFAULT_MAX_ARRAY_LEN,
            max_nesting_depth: DEFAULT_MAX_NESTING_DEPTH,
            max_inline_bytes: DEFAULT_MAX_INLINE_BYTES,
            max_query_bytes: DEFAULT_MAX_QUERY_BYTES,
        }
    }
}
