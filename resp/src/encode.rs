//! Encoding frames for RESP2 or RESP3, and commands for clients.
//!
//! The server builds one [`Frame`] per reply whatever the connection speaks; [`Frame::encode`]
//! picks the wire form, downgrading RESP3-only types for RESP2 connections exactly as Redis
//! does (see the table on [`Frame::encode`]). Numbers are formatted into a stack buffer, so
//! encoding allocates only when `out` has to grow.

use bytes::{BufMut, BytesMut};

use crate::double::DoubleText;
use crate::{Frame, Protocol};

impl Frame {
    /// Appends this frame to `out` in the wire form of `proto`.
    ///
    /// | frame        | RESP3            | RESP2                       |
    /// |--------------|------------------|-----------------------------|
    /// | `Null`       | `_`              | `$-1`                       |
    /// | `NullArray`  | `_`              | `*-1`                       |
    /// | `Map`        | `%n k v ...`     | `*2n k v ...` (flat array)  |
    /// | `Set`        | `~n ...`         | `*n ...`                    |
    /// | `Push`       | `>n ...`         | `*n ...`                    |
    /// | `Double`     | `,1.5`           | bulk string `1.5`           |
    /// | `Boolean`    | `#t` / `#f`      | `:1` / `:0`                 |
    /// | `BigNumber`  | `(123`           | bulk string `123`           |
    /// | `Verbatim`   | `=n fmt:text`    | bulk string of the text     |
    /// | `Attribute`  | `\|n k v ...`    | nothing                     |
    ///
    /// CR and LF inside `Simple`, `Error` and `BigNumber` text are written as spaces (as Redis
    /// does for errors), because those types end at the first CR and a stray one would
    /// desynchronise the client.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Frame::Simple(text) => put_line(out, b'+', text),
            Frame::Error(text) => put_line(out, b'-', text),
            Frame::Integer(n) => {
                out.put_u8(b':');
                put_int(out, *n);
                out.put_slice(b"\r\n");
            }
            Frame::Bulk(data) => put_bulk(out, data),
            Frame::Null if resp3 => out.put_slice(b"_\r\n"),
            Frame::Null => out.put_slice(b"$-1\r\n"),
            Frame::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Array(items) => put_sequence(out, b'*', items, proto),
            Frame::Set(items) => put_sequence(out, if resp3 { b'~' } else { b'*' }, items, proto),
            Frame::Push(items) => put_sequence(out, if resp3 { b'>' } else { b'*' }, items, proto),
            Frame::Map(pairs) => put_pairs(out, b'%', pairs, proto),
            Frame::Attribute(pairs) if resp3 => put_pairs(out, b'|', pairs, proto),
            Frame::Attribute(_) => {}
            Frame::Double(value) => put_double(out, *value, resp3),
            Frame::Boolean(value) if resp3 => {
                out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" })
            }
            Frame::Boolean(value) => out.put_slice(if *value { b":1\r\n" } else { b":0\r\n" }),
            Frame::BigNumber(digits) if resp3 => put_line(out, b'(', digits),
            Frame::BigNumber(digits) => put_bulk(out, digits),
            Frame::Verbatim { format, text } if resp3 => {
                put_header(out, b'=', text.len().saturating_add(4));
                out.put_slice(format);
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Frame::Verbatim { text, .. } => put_bulk(out, text),
        }
    }
}

/// Appends a command as clients send it: an array of bulk strings.
pub fn encode_command(args: &[&[u8]], out: &mut BytesMut) {
    // Reserve once: each argument costs at most `$` + 20 digits + 2 CRLFs besides its bytes.
    let payload = args.iter().fold(0usize, |total, a| {
        total.saturating_add(a.len()).saturating_add(25)
    });
    out.reserve(payload.saturating_add(25));
    put_header(out, b'*', args.len());
    for arg in args {
        put_bulk(out, arg);
    }
}

/// `<kind><len>\r\n`.
fn put_header(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    put_uint(out, u64::try_from(len).unwrap_or(u64::MAX));
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_header(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// A one-line value, with CR and LF replaced so the line cannot end early.
fn put_line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.put_u8(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

/// An array, set or push. Attributes among the items annotate the next item and are not
/// counted (RESP2 leaves them out altogether, see [`Frame::encode`]).
fn put_sequence(out: &mut BytesMut, kind: u8, items: &[Frame], proto: Protocol) {
    let counted = items
        .iter()
        .filter(|item| !matches!(item, Frame::Attribute(_)))
        .count();
    put_header(out, kind, counted);
    for item in items {
        item.encode(proto, out);
    }
}

/// A map or attribute; in RESP2 (only maps get here) a flat array of twice the length.
fn put_pairs(out: &mut BytesMut, kind: u8, pairs: &[(Frame, Frame)], proto: Protocol) {
    match proto {
        Protocol::Resp3 => put_header(out, kind, pairs.len()),
        Protocol::Resp2 => put_header(out, b'*', pairs.len().saturating_mul(2)),
    }
    for (key, value) in pairs {
        put_member(out, key, proto);
        put_member(out, value, proto);
    }
}

/// One side of a pair. An attribute here would leave the pair one member short, so it is
/// written as the map it holds instead.
fn put_member(out: &mut BytesMut, member: &Frame, proto: Protocol) {
    match member {
        Frame::Attribute(pairs) => put_pairs(out, b'%', pairs, proto),
        other => other.encode(proto, out),
    }
}

/// `,<value>` in RESP3, a bulk string of the same text in RESP2, the text being Redis's
/// (see `double.rs`): `3`, `1.5`, `1e+300`, `inf`, `-inf`, `nan`.
fn put_double(out: &mut BytesMut, value: f64, resp3: bool) {
    let text = DoubleText::new(value);
    if resp3 {
        out.put_u8(b',');
        out.put_slice(text.as_bytes());
        out.put_slice(b"\r\n");
    } else {
        put_bulk(out, text.as_bytes());
    }
}

/// Writes a decimal integer without allocating.
fn put_int(out: &mut BytesMut, value: i64) {
    if value < 0 {
        out.put_u8(b'-');
    }
    put_uint(out, value.unsigned_abs());
}

fn put_uint(out: &mut BytesMut, mut value: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `value % 10` is below 10, so the cast cannot truncate.
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn wire(frame: &Frame, proto: Protocol) -> String {
        let mut out = BytesMut::new();
        frame.encode(proto, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn both(frame: Frame, resp2: &str, resp3: &str) {
        assert_eq!(wire(&frame, Protocol::Resp2), resp2, "RESP2 {frame:?}");
        assert_eq!(wire(&frame, Protocol::Resp3), resp3, "RESP3 {frame:?}");
    }

    #[test]
    fn scalars_in_both_protocols() {
        both(Frame::ok(), "+OK\r\n", "+OK\r\n");
        both(Frame::error("ERR x"), "-ERR x\r\n", "-ERR x\r\n");
        both(
            Frame::Integer(i64::MIN),
            ":-9223372036854775808\r\n",
            ":-9223372036854775808\r\n",
        );
        both(Frame::Integer(0), ":0\r\n", ":0\r\n");
        both(Frame::bulk("abc"), "$3\r\nabc\r\n", "$3\r\nabc\r\n");
        both(Frame::Null, "$-1\r\n", "_\r\n");
        both(Frame::NullArray, "*-1\r\n", "_\r\n");
        both(Frame::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
        both(Frame::Double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
        both(
            Frame::Double(f64::NEG_INFINITY),
            "$4\r\n-inf\r\n",
            ",-inf\r\n",
        );
        both(Frame::Double(f64::NAN), "$3\r\nnan\r\n", ",nan\r\n");
        // Redis's text: whole numbers without a point, signed zero, exponents with a sign.
        both(Frame::Double(3.0), "$1\r\n3\r\n", ",3\r\n");
        both(Frame::Double(-0.0), "$2\r\n-0\r\n", ",-0\r\n");
        both(Frame::Double(0.1), "$3\r\n0.1\r\n", ",0.1\r\n");
        both(Frame::Double(1e300), "$6\r\n1e+300\r\n", ",1e+300\r\n");
        both(Frame::Double(-1.5e-7), "$7\r\n-1.5e-7\r\n", ",-1.5e-7\r\n");
        both(Frame::Boolean(true), ":1\r\n", "#t\r\n");
        both(Frame::Boolean(false), ":0\r\n", "#f\r\n");
        both(
            Frame::BigNumber(Bytes::from_static(b"123")),
            "$3\r\n123\r\n",
            "(123\r\n",
        );
        both(
            Frame::verbatim_text("hi"),
            "$2\r\nhi\r\n",
            "=6\r\ntxt:hi\r\n",
        );
    }

    #[test]
    fn aggregates_in_both_protocols() {
        both(
            Frame::map(vec![(Frame::bulk("k"), Frame::Integer(1))]),
            "*2\r\n$1\r\nk\r\n:1\r\n",
            "%1\r\n$1\r\nk\r\n:1\r\n",
        );
        both(
            Frame::set(vec![Frame::Integer(1)]),
            "*1\r\n:1\r\n",
            "~1\r\n:1\r\n",
        );
        both(
            Frame::Push(vec![Frame::ok()]),
            "*1\r\n+OK\r\n",
            ">1\r\n+OK\r\n",
        );
        both(Frame::array(vec![]), "*0\r\n", "*0\r\n");
        both(Frame::map(vec![]), "*0\r\n", "%0\r\n");
        // Nulls inside aggregates, as in MGET or HGETALL of a missing key.
        both(
            Frame::array(vec![Frame::Null, Frame::NullArray, Frame::Double(2.0)]),
            "*3\r\n$-1\r\n*-1\r\n$1\r\n2\r\n",
            "*3\r\n_\r\n_\r\n,2\r\n",
        );
        both(
            Frame::map(vec![(
                Frame::bulk("m"),
                Frame::set(vec![Frame::Boolean(true), Frame::Double(0.5)]),
            )]),
            "*2\r\n$1\r\nm\r\n*2\r\n:1\r\n$3\r\n0.5\r\n",
            "%1\r\n$1\r\nm\r\n~2\r\n#t\r\n,0.5\r\n",
        );
        let attribute = Frame::Attribute(vec![(Frame::ok(), Frame::Null)]);
        both(attribute.clone(), "", "|1\r\n+OK\r\n_\r\n");
        both(
            Frame::array(vec![attribute, Frame::Integer(1)]),
            "*1\r\n:1\r\n",
            "*1\r\n|1\r\n+OK\r\n_\r\n:1\r\n",
        );
    }

    #[test]
    fn line_breaks_cannot_escape_a_line() {
        both(Frame::error("ERR a\r\nb"), "-ERR a  b\r\n", "-ERR a  b\r\n");
    }

    #[test]
    fn commands() {
        let mut out = BytesMut::new();
        encode_command(&[b"SET", b"k", b""], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
