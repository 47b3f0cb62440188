//! [`parse_frame`]: decoding any RESP2/RESP3 reply, for clients (harness, bench, tests).
//!
//! # Two passes over one grammar
//!
//! A frame's payloads must become [`Bytes`] that share the read buffer, and such a `Bytes` can
//! only be cut from the buffer once we know the whole frame is there. So [`walk`] runs twice
//! over the same bytes: first with a sink that ignores everything, to learn whether the frame
//! is complete, valid and within the limits (allocating nothing but a stack of open aggregates,
//! at most `max_nesting_depth` deep); then, after the frame's bytes are split off and frozen,
//! with a [`Builder`] that turns the same events into a [`Frame`]. The grammar lives in one
//! place, and the walk is a loop over an explicit stack, so hostile nesting cannot overflow the
//! call stack.

use bytes::{Bytes, BytesMut};

use crate::parse::{bulk_payload, line, parse_int, parse_len, within, Step, Stop};
use crate::{Frame, Limits, ProtocolError};

/// Decodes one frame from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only the beginning of a frame; nothing is consumed and
/// the caller should read more and call again. Returns `Ok(Some(frame))` after consuming
/// exactly the frame's bytes, so pipelined replies come out one per call. Any error means the
/// stream is broken and the connection should be dropped; sizes over `limits` fail as soon as
/// their header arrives.
///
/// Like [`parse_command`](crate::parse_command) it keeps no state between calls: a reply that
/// arrives over many reads is checked again from its start each time. Payloads are skipped by
/// length, so this only matters for replies with very many elements; read in large chunks when
/// expecting those.
///
/// Streamed RESP3 aggregates (`$?`, `*?`) are not supported and fail as invalid lengths.
/// Attributes are handled as described on [`Frame`].
pub fn parse_frame(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    let len = match walk(buf, limits, &mut ()) {
        Ok(len) => len,
        Err(Stop::Incomplete) => return Ok(None),
        Err(Stop::Invalid(error)) => return Err(error),
    };
    if len > buf.len() {
        return Err(ProtocolError::Internal {
            detail: "frame longer than the buffer",
        });
    }
    let data = buf.split_to(len).freeze();
    let mut builder = Builder {
        data: &data,
        open: Vec::new(),
        done: None,
    };
    match walk(&data, limits, &mut builder) {
        Ok(_) => builder.done.ok_or(ProtocolError::Internal {
            detail: "frame produced no value",
        }),
        Err(Stop::Invalid(error)) => Err(error),
        Err(Stop::Incomplete) => Err(ProtocolError::Internal {
            detail: "complete frame read as incomplete",
        }),
    }
    .map(Some)
}

/// The aggregate kinds, which all share the same header and differ in member count and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Array,
    Set,
    Push,
    Map,
    Attribute,
}

impl Aggregate {
    /// Members per declared entry: maps and attributes declare pairs.
    fn arity(self) -> usize {
        match self {
            Aggregate::Map | Aggregate::Attribute => 2,
            Aggregate::Array | Aggregate::Set | Aggregate::Push => 1,
        }
    }
}

/// What [`walk`] reports, in input order; payloads borrow from the walked input.
#[derive(Debug)]
enum Event<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    Bulk(&'a [u8]),
    Null,
    NullArray,
    Double(f64),
    Boolean(bool),
    BigNumber(&'a [u8]),
    Verbatim {
        format: [u8; 3],
        text: &'a [u8],
    },
    /// An aggregate with `len` entries starts; its members follow, then `Close`.
    Open {
        kind: Aggregate,
        len: usize,
    },
    Close,
}

/// Receives the events of one walk.
trait Sink<'a> {
    fn event(&mut self, event: Event<'a>);
}

/// The checking pass: only completeness, validity and limits matter.
impl Sink<'_> for () {
    fn event(&mut self, _: Event<'_>) {}
}

/// An aggregate whose members are still arriving.
struct Open {
    /// Members still expected (entries × arity).
    remaining: usize,
    /// Attributes annotate the next member instead of being one.
    attribute: bool,
}

/// Walks one frame from the start of `input`, reporting it to `sink`; returns its length.
fn walk<'a>(input: &'a [u8], limits: &Limits, sink: &mut impl Sink<'a>) -> Step<usize> {
    let mut open: Vec<Open> = Vec::new();
    let mut pos = 0;
    loop {
        let (event, next) = element(input, pos, limits)?;
        pos = next;
        // Whether the element that just ended is an attribute (which does not count as a member).
        let mut attribute = false;
        match event {
            Event::Open { kind, len } => {
                if open.len() >= limits.max_nesting_depth {
                    return Err(ProtocolError::TooDeep {
                        limit: limits.max_nesting_depth,
                    }
                    .into());
                }
                sink.event(Event::Open { kind, len });
                let members = len.saturating_mul(kind.arity());
                if members > 0 {
                    open.push(Open {
                        remaining: members,
                        attribute: kind == Aggregate::Attribute,
                    });
                    continue;
                }
                sink.event(Event::Close);
                attribute = kind == Aggregate::Attribute;
            }
            scalar => sink.event(scalar),
        }
        // An element ended at `pos`: count it, closing every aggregate it completes.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(pos);
            };
            if attribute {
                break;
            }
            top.remaining = top.remaining.saturating_sub(1);
            if top.remaining > 0 {
                break;
            }
            attribute = top.attribute;
            open.pop();
            sink.event(Event::Close);
        }
    }
}

/// Reads the element header at `pos` and, for scalars, the whole element.
fn element<'a>(input: &'a [u8], pos: usize, limits: &Limits) -> Step<(Event<'a>, usize)> {
    let Some(&kind) = input.get(pos) else {
        return Err(Stop::Incomplete);
    };
    let aggregate = match kind {
        b'*' => Some(Aggregate::Array),
        b'~' => Some(Aggregate::Set),
        b'>' => Some(Aggregate::Push),
        b'%' => Some(Aggregate::Map),
        b'|' => Some(Aggregate::Attribute),
        b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' | b'$' | b'!' | b'=' => None,
        got => return Err(ProtocolError::UnknownType { got }.into()),
    };
    let limit = limits.max_inline_bytes;
    let header = line(input, pos, limit, ProtocolError::LineTooLong { limit })?;
    let text = header.text;
    let next = header.next;
    if let Some(aggregate) = aggregate {
        return match parse_len(text, ProtocolError::InvalidMultibulkLength)? {
            None if aggregate == Aggregate::Array => Ok((Event::NullArray, next)),
            None => Err(ProtocolError::InvalidMultibulkLength.into()),
            Some(declared) => {
                let too_big = ProtocolError::AggregateTooLong {
                    declared,
                    limit: limits.max_array_len,
                };
                let len = within(declared, limits.max_array_len, too_big)?;
                Ok((
                    Event::Open {
                        kind: aggregate,
                        len,
                    },
                    next,
                ))
            }
        };
    }
    let event = match kind {
        b'+' => Event::Simple(text),
        b'-' => Event::Error(text),
        b':' => Event::Integer(parse_int(text).ok_or(invalid("integer"))?),
        b',' => Event::Double(parse_double(text).ok_or(invalid("double"))?),
        b'#' => match text {
            b"t" => Event::Boolean(true),
            b"f" => Event::Boolean(false),
            _ => return Err(invalid("boolean").into()),
        },
        b'(' if is_big_number(text) => Event::BigNumber(text),
        b'(' => return Err(invalid("big number").into()),
        b'_' if text.is_empty() => Event::Null,
        b'_' => return Err(invalid("null").into()),
        // `$`, `!`, `=`: a length line, then the payload.
        _ => return blob(kind, input, text, next, limits),
    };
    Ok((event, next))
}

/// Reads the payload of a `$`, `!` or `=` element whose length line is `text`.
fn blob<'a>(
    kind: u8,
    input: &'a [u8],
    text: &[u8],
    start: usize,
    limits: &Limits,
) -> Step<(Event<'a>, usize)> {
    let Some(declared) = parse_len(text, ProtocolError::InvalidBulkLength)? else {
        return if kind == b'$' {
            Ok((Event::Null, start))
        } else {
            Err(ProtocolError::InvalidBulkLength.into())
        };
    };
    let too_big = ProtocolError::BulkTooLong {
        declared,
        limit: limits.max_bulk_bytes,
    };
    let len = within(declared, limits.max_bulk_bytes, too_big)?;
    let (payload, next) = bulk_payload(input, start, len)?;
    let event = match kind {
        b'!' => Event::Error(payload),
        b'=' => {
            let (format, text) = split_verbatim(payload).ok_or(invalid("verbatim string"))?;
            Event::Verbatim { format, text }
        }
        _ => Event::Bulk(payload),
    };
    Ok((event, next))
}

fn invalid(kind: &'static str) -> ProtocolError {
    ProtocolError::InvalidValue { kind }
}

/// RESP3 doubles: decimal or exponent notation, `inf`, `-inf`, `nan`.
fn parse_double(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// RESP3 big numbers: an optional sign and one or more digits.
fn is_big_number(text: &[u8]) -> bool {
    let digits = match text.split_first() {
        Some((b'-' | b'+', rest)) => rest,
        _ => text,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Splits a verbatim payload `fmt:text` into its format and text.
fn split_verbatim(payload: &[u8]) -> Option<([u8; 3], &[u8])> {
    let (format, rest) = payload.split_first_chunk::<3>()?;
    let (&colon, text) = rest.split_first()?;
    (colon == b':').then_some((*format, text))
}

/// The building pass: turns events into frames whose payloads share `data`.
struct Builder<'d> {
    /// The frame's bytes; every payload in the events is a sub-slice of them.
    data: &'d Bytes,
    /// Aggregates being filled, innermost last.
    open: Vec<(Aggregate, Vec<Frame>)>,
    /// The finished top-level frame.
    done: Option<Frame>,
}

impl Builder<'_> {
    fn bytes(&self, payload: &[u8]) -> Bytes {
        // `walk` ran over `self.data` itself, so `payload` lies within it and `slice_ref`
        // cannot fail.
        self.data.slice_ref(payload)
    }
}

impl<'a> Sink<'a> for Builder<'_> {
    fn event(&mut self, event: Event<'a>) {
        let frame = match event {
            Event::Simple(s) => Frame::Simple(self.bytes(s)),
            Event::Error(s) => Frame::Error(self.bytes(s)),
            Event::Integer(n) => Frame::Integer(n),
            Event::Bulk(s) => Frame::Bulk(self.bytes(s)),
            Event::Null => Frame::Null,
            Event::NullArray => Frame::NullArray,
            Event::Double(d) => Frame::Double(d),
            Event::Boolean(b) => Frame::Boolean(b),
            Event::BigNumber(s) => Frame::BigNumber(self.bytes(s)),
            Event::Verbatim { format, text } => Frame::Verbatim {
                format,
                text: self.bytes(text),
            },
            Event::Open { kind, len } => {
                // `len` was checked against the limit and every member is known to be present.
                let items = Vec::with_capacity(len.saturating_mul(kind.arity()));
                self.open.push((kind, items));
                return;
            }
            Event::Close => {
                let Some((kind, items)) = self.open.pop() else {
                    return;
                };
                if kind == Aggregate::Attribute && !self.open.is_empty() {
                    // Nested attributes are dropped; see the docs on `Frame`.
                    return;
                }
                finish(kind, items)
            }
        };
        match self.open.last_mut() {
            Some((_, items)) => items.push(frame),
            None => self.done = Some(frame),
        }
    }
}

/// Builds an aggregate frame from its members in order.
fn finish(kind: Aggregate, items: Vec<Frame>) -> Frame {
    match kind {
        Aggregate::Array => Frame::Array(items),
        Aggregate::Set => Frame::Set(items),
        Aggregate::Push => Frame::Push(items),
        Aggregate::Map => Frame::Map(pairs(items)),
        Aggregate::Attribute => Frame::Attribute(pairs(items)),
    }
}

/// Pairs up `k1 v1 k2 v2 ...`; the walk guarantees an even count.
fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        out.push((key, value));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        parse_frame(&mut BytesMut::from(input), &Limits::default())
    }

    fn bulk(s: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn scalars() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some(Frame::ok())));
        assert_eq!(parse(b"-ERR no\r\n"), Ok(Some(Frame::error("ERR no"))));
        assert_eq!(parse(b"!6\r\nERR no\r\n"), Ok(Some(Frame::error("ERR no"))));
        assert_eq!(parse(b":-12\r\n"), Ok(Some(Frame::Integer(-12))));
        assert_eq!(parse(b"$3\r\nfoo\r\n"), Ok(Some(bulk("foo"))));
        assert_eq!(parse(b"$0\r\n\r\n"), Ok(Some(bulk(""))));
        assert_eq!(parse(b"$-1\r\n"), Ok(Some(Frame::Null)));
        assert_eq!(parse(b"_\r\n"), Ok(Some(Frame::Null)));
        assert_eq!(parse(b"*-1\r\n"), Ok(Some(Frame::NullArray)));
        assert_eq!(parse(b",1.5\r\n"), Ok(Some(Frame::Double(1.5))));
        assert_eq!(
            parse(b",-inf\r\n"),
            Ok(Some(Frame::Double(f64::NEG_INFINITY)))
        );
        assert!(matches!(parse(b",nan\r\n"), Ok(Some(Frame::Double(d))) if d.is_nan()));
        assert_eq!(parse(b"#t\r\n"), Ok(Some(Frame::Boolean(true))));
        assert_eq!(
            parse(b"(-123456789012345678901234567890\r\n"),
            Ok(Some(Frame::BigNumber(Bytes::from_static(
                b"-123456789012345678901234567890"
            ))))
        );
        assert_eq!(
            parse(b"=9\r\ntxt:hello\r\n"),
            Ok(Some(Frame::verbatim_text("hello")))
        );
    }

    #[test]
    fn aggregates() {
        assert_eq!(
            parse(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
            Ok(Some(Frame::Array(vec![
                bulk("a"),
                Frame::Array(vec![Frame::Integer(1)])
            ])))
        );
        assert_eq!(parse(b"*0\r\n"), Ok(Some(Frame::Array(vec![]))));
        assert_eq!(
            parse(b"%1\r\n+k\r\n#f\r\n"),
            Ok(Some(Frame::Map(vec![(
                Frame::simple("k"),
                Frame::Boolean(false)
            )])))
        );
        assert_eq!(
            parse(b"~1\r\n_\r\n"),
            Ok(Some(Frame::Set(vec![Frame::Null])))
        );
        assert_eq!(
            parse(b">2\r\n+message\r\n+hi\r\n"),
            Ok(Some(Frame::Push(vec![
                Frame::simple("message"),
                Frame::simple("hi")
            ])))
        );
    }

    #[test]
    fn attributes() {
        let mut buf = BytesMut::from(&b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"[..]);
        let limits = Limits::default();
        assert_eq!(
            parse_frame(&mut buf, &limits),
            Ok(Some(Frame::Attribute(vec![(
                Frame::simple("ttl"),
                Frame::Integer(3)
            )])))
        );
        assert_eq!(parse_frame(&mut buf, &limits), Ok(Some(bulk("v"))));
        // Nested: dropped, and not counted as one of the array's two elements.
        assert_eq!(
            parse(b"*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n"),
            Ok(Some(Frame::Array(vec![
                Frame::Integer(1),
                Frame::Integer(2)
            ])))
        );
        assert_eq!(
            parse(b"*1\r\n|0\r\n:2\r\n"),
            Ok(Some(Frame::Array(vec![Frame::Integer(2)])))
        );
    }

    #[test]
    fn payloads_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhello\r\n"[..]);
        let start = buf.as_ptr() as usize;
        let frame = parse_frame(&mut buf, &Limits::default()).unwrap().unwrap();
        let Frame::Array(items) = frame else {
            panic!("not an array")
        };
        let Frame::Bulk(hello) = &items[0] else {
            panic!("not a bulk")
        };
        assert_eq!(hello.as_ptr() as usize, start + 8);
    }

    #[test]
    fn malformed_scalars() {
        let cases: [(&[u8], ProtocolError); 9] = [
            (b"?x\r\n", ProtocolError::UnknownType { got: b'?' }),
            (b":1x\r\n", invalid("integer")),
            (b":\r\n", invalid("integer")),
            (b",one\r\n", invalid("double")),
            (b"#x\r\n", invalid("boolean")),
            (b"(12a\r\n", invalid("big number")),
            (b"_x\r\n", invalid("null")),
            (b"=3\r\ntxt\r\n", invalid("verbatim string")),
            (b"!-1\r\n", ProtocolError::InvalidBulkLength),
        ];
        for (input, error) in cases {
            assert_eq!(
                parse(input),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            parse(b"%-1\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(parse(b"*?\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse(b"$?\r\n"), Err(ProtocolError::InvalidBulkLength));
    }
}
