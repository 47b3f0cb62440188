//! [`CommandDecoder`] and [`parse_command`]: reading client requests on the server.
//!
//! Clients send either a RESP array of bulk strings (every client library) or an inline
//! command, a plain line of words (`redis-cli` in some modes, telnet, health checks). Like
//! Redis, the first byte decides: `*` starts an array, anything else a line. Inline words are
//! split by [`crate::inline`].
//!
//! # Following Redis
//!
//! The grammar and the errors are those of Redis's `processMultibulkBuffer` and
//! `processInlineBuffer`: counts and lengths in their one canonical spelling (no `+`, no
//! leading zero); `*0` and negative counts are empty commands, skipped like blank lines; `$-1`
//! and other negative lengths are invalid in a request; a header line or inline request that
//! grows past `max_inline_bytes` without its terminator fails as "too big". Where Redis is
//! laxer we fail instead of guessing: a bulk payload must be followed by CRLF (Redis skips two
//! bytes unseen), and a header's CR must be followed by LF.
//!
//! # Progress between reads
//!
//! A command may arrive over many reads. Scanning it again from its start after each read would
//! cost time quadratic in its size: a client trickling a million one-byte arguments could keep
//! a core busy for hours. So [`CommandDecoder`] remembers how far it has checked the pending
//! command (the arguments complete so far, or how much of an inline line holds no newline) and
//! resumes there. [`parse_command`] is the same decoder without memory, for callers that decode
//! whole buffers.
//!
//! # Two passes, still linear
//!
//! The arguments must be `Bytes` that share the read buffer, and those can only be cut once the
//! whole command is there and frozen. So the check pass only advances the progress, allocating
//! nothing in proportion to declared sizes; once the command is complete its bytes are split
//! off, and a second pass over them, with the same scanner, cuts out the arguments. Each byte
//! is thus checked about twice, however the command was split.

use bytes::{Buf, Bytes, BytesMut};

use crate::inline::split_args;
use crate::parse::{bulk_payload, line, parse_canonical_int, within, Step, Stop};
use crate::{Limits, ProtocolError};

/// Decodes one client command from the front of `buf`, keeping no state between calls.
///
/// The same as a new [`CommandDecoder`]'s [`decode`](CommandDecoder::decode); see there for
/// what it returns. Without memory, a command that arrives over many reads is checked again from
/// its start on every call, so a server should keep one `CommandDecoder` per connection instead.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    CommandDecoder::new(*limits).decode(buf)
}

/// Decodes the commands of one client connection, resuming where the previous call stopped.
///
/// Keep one per connection, next to its read buffer, and call [`decode`](Self::decode) after
/// every read until it returns `Ok(None)`. The decoder remembers how much of the command at the
/// front of the buffer it has already checked, so the caller must only append to the buffer
/// between calls (as `read_buf` does) and never drop or change bytes it has not been given back
/// as a command. A caller that breaks this gets errors, never a panic or a wrong command: the
/// final pass over each command checks it whole.
#[derive(Debug, Clone)]
pub struct CommandDecoder {
    limits: Limits,
    pending: Pending,
}

/// What is known about the incomplete command at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Pending {
    /// Nothing: start from its first byte.
    #[default]
    Nothing,
    /// An array command whose header was valid.
    Array(Progress),
    /// An inline command whose first `searched` bytes hold no newline.
    Inline { searched: usize },
}

/// How far the check of an array command has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// Arguments the header declared.
    count: usize,
    /// Arguments found complete so far.
    done: usize,
    /// Offset just past the last complete argument, or past the header.
    pos: usize,
}

/// The `*<count>` line of an array command.
enum Header {
    /// `*0` or a negative count: an empty command this many bytes long.
    Empty(usize),
    /// A command with arguments; the progress stands just past the header.
    Args(Progress),
}

impl CommandDecoder {
    /// A decoder enforcing `limits`, for a new connection.
    pub fn new(limits: Limits) -> CommandDecoder {
        CommandDecoder {
            limits,
            pending: Pending::Nothing,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes one command from the front of `buf`.
    ///
    /// - `Ok(Some(args))`: the command's bytes were consumed; `args` is never empty.
    /// - `Ok(None)`: no complete command yet; read more and call again. The buffer is left as
    ///   it was, except that empty commands in front of the incomplete one are dropped.
    /// - `Err(e)`: the stream is broken. Send `e.to_frame()` and close the connection.
    ///
    /// Empty commands (`*0`, a blank line) are skipped, as are arrays with a negative count,
    /// which Redis also ignores. Every declared size is checked against the limits when its
    /// header arrives.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let decoded = self.next_command(buf);
        if decoded.is_err() {
            // The connection is over; leave nothing behind should the caller try again.
            self.pending = Pending::Nothing;
        }
        decoded
    }

    fn next_command(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let Some(&first) = buf.first() else {
                self.pending = Pending::Nothing;
                return Ok(None);
            };
            let parsed = if first == b'*' {
                self.array(buf)?
            } else {
                self.inline(buf)?
            };
            match parsed {
                None => return Ok(None),
                // Empty: already consumed, look at what follows.
                Some(args) if args.is_empty() => continue,
                Some(args) => return Ok(Some(args)),
            }
        }
    }

    /// An array command; consumes it when complete.
    fn array(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let limits = &self.limits;
        let mut progress = match self.pending {
            Pending::Array(progress) => progress,
            Pending::Nothing | Pending::Inline { .. } => match header(buf, limits) {
                Ok(Header::Args(progress)) => progress,
                Ok(Header::Empty(len)) => {
                    self.pending = Pending::Nothing;
                    buf.advance(len);
                    return Ok(Some(Vec::new()));
                }
                Err(Stop::Incomplete) => return Ok(None),
                Err(Stop::Invalid(error)) => return Err(error),
            },
        };
        match arguments(buf, limits, &mut progress, &mut |_| {}) {
            Ok(()) => {}
            Err(Stop::Incomplete) => {
                self.pending = Pending::Array(progress);
                return Ok(None);
            }
            Err(Stop::Invalid(error)) => return Err(error),
        }
        self.pending = Pending::Nothing;
        if progress.pos > buf.len() {
            return Err(ProtocolError::Internal {
                detail: "command longer than the buffer",
            });
        }
        let data = buf.split_to(progress.pos).freeze();
        // Every one of the `count` arguments is present, so this allocation is backed by bytes
        // the client actually sent.
        let mut args = Vec::with_capacity(progress.count);
        // The scan runs over `data` itself, so each argument lies within it and `slice_ref`
        // cannot fail.
        match scan(&data, limits, &mut |arg| args.push(data.slice_ref(arg))) {
            Ok(len) if len == data.len() => Ok(Some(args)),
            Ok(_) | Err(Stop::Incomplete) => Err(ProtocolError::Internal {
                detail: "complete command read with another length",
            }),
            Err(Stop::Invalid(error)) => Err(error),
        }
    }

    /// An inline command: one line ending in LF (a CR before it is dropped); consumes it when
    /// complete. The line without its LF may be at most `max_inline_bytes` long.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let limit = self.limits.max_inline_bytes;
        let searched = match self.pending {
            Pending::Inline { searched } => searched,
            Pending::Nothing | Pending::Array(_) => 0,
        };
        let window = buf.get(..limit.saturating_add(1)).unwrap_or(buf);
        let unsearched = window.get(searched..).unwrap_or_default();
        let Some(newline) = unsearched.iter().position(|&b| b == b'\n') else {
            if buf.len() > limit {
                return Err(ProtocolError::InlineTooLong { limit });
            }
            self.pending = Pending::Inline {
                searched: window.len(),
            };
            return Ok(None);
        };
        self.pending = Pending::Nothing;
        let newline = searched.saturating_add(newline);
        let data = buf.split_to(newline.saturating_add(1)).freeze();
        let text = data.get(..newline).unwrap_or_default();
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        split_args(&data, text, self.limits.max_array_len).map(Some)
    }
}

/// Scans one whole array command from the start of `input`, reporting each argument to
/// `on_arg`; returns the command's length.
fn scan<'a>(input: &'a [u8], limits: &Limits, on_arg: &mut impl FnMut(&'a [u8])) -> Step<usize> {
    match header(input, limits)? {
        Header::Empty(len) => Ok(len),
        Header::Args(mut progress) => {
            arguments(input, limits, &mut progress, on_arg)?;
            Ok(progress.pos)
        }
    }
}

/// Reads the `*<count>` line at the start of `input`.
fn header(input: &[u8], limits: &Limits) -> Step<Header> {
    let limit = limits.max_inline_bytes;
    let header = line(
        input,
        0,
        limit,
        ProtocolError::MultibulkHeaderTooLong { limit },
    )?;
    let count = parse_canonical_int(header.text).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count <= 0 {
        return Ok(Header::Empty(header.next));
    }
    let declared = count.unsigned_abs();
    let too_long = ProtocolError::AggregateTooLong {
        declared,
        limit: limits.max_array_len,
    };
    let count = within(declared, limits.max_array_len, too_long)?;
    Ok(Header::Args(Progress {
        count,
        done: 0,
        pos: header.next,
    }))
}

/// Reads `$<len>\r\n<payload>\r\n` arguments from `progress` on until all declared are there,
/// reporting each payload to `on_arg` and advancing `progress` past it. When the input runs out,
/// `progress` is left after the last complete argument, ready to resume.
fn arguments<'a>(
    input: &'a [u8],
    limits: &Limits,
    progress: &mut Progress,
    on_arg: &mut impl FnMut(&'a [u8]),
) -> Step<()> {
    let limit = limits.max_inline_bytes;
    // Each round needs bytes that are present, so a huge `count` costs nothing until they arrive.
    while progress.done < progress.count {
        let pos = progress.pos;
        match input.get(pos) {
            None => return Err(Stop::Incomplete),
            Some(b'$') => {}
            Some(&got) => return Err(ProtocolError::ExpectedBulk { got }.into()),
        }
        let header = line(
            input,
            pos,
            limit,
            ProtocolError::BulkHeaderTooLong { limit },
        )?;
        let declared = match parse_canonical_int(header.text) {
            Some(n) if n >= 0 => n.unsigned_abs(),
            _ => return Err(ProtocolError::InvalidBulkLength.into()),
        };
        let too_long = ProtocolError::BulkTooLong {
            declared,
            limit: limits.max_bulk_bytes,
        };
        let len = within(declared, limits.max_bulk_bytes, too_long)?;
        // The command's end is known as soon as this length is: check it before the payload.
        let end = header.next.checked_add(len).and_then(|n| n.checked_add(2));
        if end.is_none_or(|end| end > limits.max_query_bytes) {
            return Err(ProtocolError::QueryTooLong {
                limit: limits.max_query_bytes,
            }
            .into());
        }
        let (arg, next) = bulk_payload(input, header.next, len)?;
        on_arg(arg);
        progress.pos = next;
        progress.done += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&'static str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect()
    }

    fn parse(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        parse_command(&mut BytesMut::from(input), &Limits::default())
    }

    #[test]
    fn arrays_and_inline_lines() {
        assert_eq!(
            parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
            Ok(Some(args(&["GET", "k"])))
        );
        assert_eq!(parse(b"PING\r\n"), Ok(Some(args(&["PING"]))));
        assert_eq!(parse(b" SET  k\tv \n"), Ok(Some(args(&["SET", "k", "v"]))));
    }

    #[test]
    fn empty_commands_are_skipped_and_consumed() {
        let mut buf = BytesMut::from(&b"*0\r\n\r\n  \n*-1\r\nPING\r\n*1\r\n"[..]);
        let limits = Limits::default();
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(args(&["PING"]))));
        assert_eq!(parse_command(&mut buf, &limits), Ok(None));
        assert_eq!(&buf[..], b"*1\r\n");
        let mut buf = BytesMut::from(&b"*0\r\n\r\n"[..]);
        assert_eq!(parse_command(&mut buf, &limits), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn arguments_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
        let start = buf.as_ptr() as usize;
        let parsed = parse_command(&mut buf, &Limits::default());
        let Ok(Some(parsed)) = parsed else {
            panic!("not parsed: {parsed:?}")
        };
        assert_eq!(parsed[0].as_ptr() as usize, start + 8);
    }

    #[test]
    fn the_decoder_resumes_after_the_last_complete_argument() {
        let mut decoder = CommandDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(
            decoder.pending,
            Pending::Array(Progress {
                count: 3,
                done: 1,
                pos: 13
            })
        );
        buf.extend_from_slice(b"\r\n$1\r\nv\r\n");
        assert_eq!(decoder.decode(&mut buf), Ok(Some(args(&["SET", "k", "v"]))));
        assert_eq!(decoder.pending, Pending::Nothing);
        assert!(buf.is_empty());
    }

    #[test]
    fn the_decoder_resumes_an_inline_search() {
        let mut decoder = CommandDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&b"GET ke"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(decoder.pending, Pending::Inline { searched: 6 });
        buf.extend_from_slice(b"y\r\n");
        assert_eq!(decoder.decode(&mut buf), Ok(Some(args(&["GET", "key"]))));
        assert_eq!(decoder.pending, Pending::Nothing);
    }

    #[test]
    fn a_buffer_changed_behind_the_decoder_s_back_is_an_error_not_a_wrong_command() {
        let mut decoder = CommandDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        // Against the contract, the checked part is replaced: from where the decoder resumes
        // the bytes complete a two-argument command, but they start a three-argument one.
        let mut other = BytesMut::from(&b"*3\r\n$3\r\nabc\r\n$1\r\nz\r\n"[..]);
        assert!(matches!(
            decoder.decode(&mut other),
            Err(ProtocolError::Internal { .. })
        ));
        // The decoder starts afresh afterwards.
        let mut buf = BytesMut::from(&b"PING\r\n"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(Some(args(&["PING"]))));
    }

    #[test]
    fn redis_error_messages() {
        let cases: [(&[u8], &str); 6] = [
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"),
            (b"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
            (b"GET \"k\n", "Protocol error: unbalanced quotes in request"),
        ];
        for (input, message) in cases {
            match parse(input) {
                Err(e) => assert_eq!(e.to_string(), message),
                other => panic!("{input:?} gave {other:?}"),
            }
        }
    }
}
