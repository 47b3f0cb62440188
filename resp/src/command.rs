//! [`parse_command`]: reading client requests on the server.
//!
//! Clients send either a RESP array of bulk strings (every client library) or an inline
//! command, a plain line of words (`redis-cli` in some modes, telnet, health checks). Like
//! Redis, the first byte decides: `*` starts an array, anything else a line. Inline words are
//! split by [`crate::inline`].
//!
//! Arrays are read in two passes over one scanner, as frames are (see `decode`): a first pass
//! checks that the whole command is present and within the limits without allocating, then the
//! command's bytes are split off the buffer and the arguments are cut from them as `Bytes` that
//! share the buffer, so large values are never copied.
//!
//! The parser keeps no state between calls: a command that arrives in many reads is scanned
//! again from its start on each call. That costs one pass over the header lines per read
//! (payloads are skipped by length), which is cheap next to the read itself.

use bytes::{Bytes, BytesMut};

use crate::inline::split_args;
use crate::parse::{bulk_payload, line, parse_int, within, Step, Stop};
use crate::{Limits, ProtocolError};

/// Decodes one client command from the front of `buf`.
///
/// - `Ok(Some(args))`: the command's bytes were consumed; `args` is never empty.
/// - `Ok(None)`: no complete command yet; read more and call again. The buffer is left as it
///   was, except that empty commands in front of the incomplete one are dropped.
/// - `Err(e)`: the stream is broken. Send `e.to_frame()` and close the connection.
///
/// Empty commands (`*0`, a blank line) are skipped, as are arrays with a negative count, which
/// Redis also ignores. Every declared size is checked against `limits` when its header arrives.
pub fn parse_command(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    loop {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let parsed = if first == b'*' {
            multibulk(buf, limits)?
        } else {
            inline(buf, limits)?
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
fn multibulk(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let mut count = 0usize;
    let len = match scan(buf, limits, &mut |_| count += 1) {
        Ok(len) => len,
        Err(Stop::Incomplete) => return Ok(None),
        Err(Stop::Invalid(error)) => return Err(error),
    };
    if len > buf.len() {
        return Err(ProtocolError::Internal {
            detail: "command longer than the buffer",
        });
    }
    let data = buf.split_to(len).freeze();
    // Every one of the `count` arguments is present, so this allocation is backed by bytes
    // the client actually sent.
    let mut args = Vec::with_capacity(count);
    // `scan` runs over `data` itself, so each argument lies within it and `slice_ref` cannot fail.
    match scan(&data, limits, &mut |arg| args.push(data.slice_ref(arg))) {
        Ok(_) => Ok(Some(args)),
        Err(Stop::Invalid(error)) => Err(error),
        Err(Stop::Incomplete) => Err(ProtocolError::Internal {
            detail: "complete command read as incomplete",
        }),
    }
}

/// Scans one `*<n>\r\n` followed by `n` bulk strings, reporting each payload to `on_arg`;
/// returns the command's length.
fn scan<'a>(input: &'a [u8], limits: &Limits, on_arg: &mut impl FnMut(&'a [u8])) -> Step<usize> {
    let limit = limits.max_inline_bytes;
    let header = line(
        input,
        0,
        limit,
        ProtocolError::MultibulkHeaderTooLong { limit },
    )?;
    let count = parse_int(header.text).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count <= 0 {
        return Ok(header.next);
    }
    let declared = count.unsigned_abs();
    let too_long = ProtocolError::AggregateTooLong {
        declared,
        limit: limits.max_array_len,
    };
    let count = within(declared, limits.max_array_len, too_long)?;
    let mut pos = header.next;
    // Each round needs bytes that are present, so a huge `count` costs nothing until they arrive.
    for _ in 0..count {
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
        let declared = match parse_int(header.text) {
            Some(n) if n >= 0 => n.unsigned_abs(),
            _ => return Err(ProtocolError::InvalidBulkLength.into()),
        };
        let too_long = ProtocolError::BulkTooLong {
            declared,
            limit: limits.max_bulk_bytes,
        };
        let len = within(declared, limits.max_bulk_bytes, too_long)?;
        let (arg, next) = bulk_payload(input, header.next, len)?;
        on_arg(arg);
        pos = next;
    }
    Ok(pos)
}

/// An inline command: one line ending in LF (a CR before it is dropped); consumes it when
/// complete. The line without its LF may be at most `max_inline_bytes` long.
fn inline(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let limit = limits.max_inline_bytes;
    let window = buf.get(..limit.saturating_add(1)).unwrap_or(buf);
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() > limit {
            Err(ProtocolError::InlineTooLong { limit })
        } else {
            Ok(None)
        };
    };
    let data = buf.split_to(newline + 1).freeze();
    let text = data.get(..newline).unwrap_or_default();
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    split_args(&data, text, limits.max_array_len).map(Some)
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
