//! Strategies and comparisons shared by the integration tests.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kvorum_resp::{encode_command, CommandDecoder, Frame, Limits, Protocol, ProtocolError};
use proptest::collection::vec;
use proptest::prelude::*;

/// Arbitrary binary payloads.
pub fn payload() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Text for one-line types: anything but CR and LF, which the encoder would replace.
pub fn line_text() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(|mut text| {
        for b in &mut text {
            if *b == b'\r' || *b == b'\n' {
                *b = b'x';
            }
        }
        Bytes::from(text)
    })
}

/// Every non-aggregate frame.
pub fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        payload().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        proptest::num::f64::ANY.prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "[-+]?[0-9]{1,40}".prop_map(|n| Frame::BigNumber(Bytes::from(n))),
        (any::<[u8; 3]>(), payload()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

/// Frames with aggregates nested at most `depth` deep (attributes excluded).
pub fn frame(depth: u32) -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Frame::Array),
            vec(inner.clone(), 0..6).prop_map(Frame::Set),
            vec(inner.clone(), 0..6).prop_map(Frame::Push),
            vec((inner.clone(), inner), 0..4).prop_map(Frame::Map),
        ]
    })
}

/// A reply as a server may send it: a frame, or an attribute (its entries one level shallower).
pub fn reply(depth: u32) -> impl Strategy<Value = Frame> {
    prop_oneof![
        4 => frame(depth),
        1 => vec((frame(depth - 1), frame(depth - 1)), 0..3).prop_map(Frame::Attribute),
    ]
}

/// What decoding `original` encoded in `proto` should give: the same frame in RESP3 (but a null
/// array reads back as a null), and the downgraded types in RESP2. `None` when nothing is
/// written (a top-level attribute in RESP2).
pub fn expected(original: &Frame, proto: Protocol) -> Option<Frame> {
    let resp2 = proto == Protocol::Resp2;
    let all = |items: &[Frame]| items.iter().filter_map(|f| expected(f, proto)).collect();
    Some(match original {
        Frame::NullArray if !resp2 => Frame::Null,
        Frame::Array(items) => Frame::Array(all(items)),
        Frame::Set(items) if resp2 => Frame::Array(all(items)),
        Frame::Set(items) => Frame::Set(all(items)),
        Frame::Push(items) if resp2 => Frame::Array(all(items)),
        Frame::Push(items) => Frame::Push(all(items)),
        Frame::Map(pairs) if resp2 => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [expected(k, proto), expected(v, proto)])
                .flatten()
                .collect(),
        ),
        Frame::Map(pairs) => Frame::Map(pairs_of(pairs, proto)),
        Frame::Attribute(_) if resp2 => return None,
        Frame::Attribute(pairs) => Frame::Attribute(pairs_of(pairs, proto)),
        // Compared by value in `same`, since the text is the encoder's choice.
        Frame::Double(d) => Frame::Double(*d),
        Frame::Boolean(b) if resp2 => Frame::Integer(i64::from(*b)),
        Frame::BigNumber(n) if resp2 => Frame::Bulk(n.clone()),
        Frame::Verbatim { text, .. } if resp2 => Frame::Bulk(text.clone()),
        other => other.clone(),
    })
}

fn pairs_of(pairs: &[(Frame, Frame)], proto: Protocol) -> Vec<(Frame, Frame)> {
    pairs
        .iter()
        .filter_map(|(k, v)| Some((expected(k, proto)?, expected(v, proto)?)))
        .collect()
}

/// Frame equality where doubles compare by value (NaN equals NaN), and a RESP2 double may have
/// arrived as the bulk string of its text.
pub fn same(expected: &Frame, got: &Frame) -> bool {
    let all =
        |a: &[Frame], b: &[Frame]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y));
    let pairs = |a: &[(Frame, Frame)], b: &[(Frame, Frame)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
    };
    match (expected, got) {
        (Frame::Double(a), Frame::Double(b)) => same_double(*a, *b),
        (Frame::Double(a), Frame::Bulk(text)) => std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(|b| same_double(*a, b)),
        (Frame::Array(a), Frame::Array(b))
        | (Frame::Set(a), Frame::Set(b))
        | (Frame::Push(a), Frame::Push(b)) => all(a, b),
        (Frame::Map(a), Frame::Map(b)) | (Frame::Attribute(a), Frame::Attribute(b)) => pairs(a, b),
        (a, b) => a == b,
    }
}

fn same_double(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Encodes frames back to back.
pub fn encode_all(frames: &[Frame], proto: Protocol) -> BytesMut {
    let mut out = BytesMut::new();
    for frame in frames {
        frame.encode(proto, &mut out);
    }
    out
}

/// Input shaped like RESP, so that fuzzing reaches deep into the decoders rather than failing
/// at the first byte.
pub fn resp_soup() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"$",
        b"%",
        b"~",
        b">",
        b"|",
        b"+",
        b"-",
        b":",
        b",",
        b"#",
        b"(",
        b"_",
        b"!",
        b"=",
        b"\r\n",
        b"\r",
        b"\n",
        b"0",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"99999999999999999999",
        b"abc",
        b" ",
        b"\"",
        b"'",
        b"\\",
        b"\\x4",
        b"t",
        b"txt:",
        b"inf",
        b"\0",
    ];
    let token = proptest::sample::select(TOKENS);
    vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// Valid commands and replies with a few bytes overwritten, inserted or removed: almost right,
/// which is where decoders tend to go wrong.
pub fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        vec(vec(any::<u8>(), 0..12), 1..5).prop_map(|args| {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let mut out = BytesMut::new();
            encode_command(&slices, &mut out);
            out.to_vec()
        }),
        (reply(3), any::<bool>()).prop_map(|(frame, resp3)| {
            let proto = if resp3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            encode_all(&[frame], proto).to_vec()
        }),
    ];
    let edit = (any::<prop::sample::Index>(), any::<u8>(), 0u8..3);
    (valid, vec(edit, 1..4)).prop_map(|(mut bytes, edits)| {
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, byte),
            }
        }
        bytes
    })
}

pub fn hostile_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..128), resp_soup(), mutated()]
}

/// Writes a command inline, as `redis-cli` or a person at a terminal would: each argument in
/// double quotes, with `\\`, `\"` and `\xHH` escapes for everything that is not printable.
pub fn inline_command(args: &[&[u8]], out: &mut BytesMut) {
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b" ");
        }
        out.extend_from_slice(b"\"");
        for &b in *arg {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b' '..=b'~' => out.extend_from_slice(&[b]),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b"\r\n");
}

/// Everything a server sees of `input` arriving in pieces cut at `cuts` (sorted offsets), read
/// as the node reads: one decoder for the connection, drained after every piece. Returns the
/// commands decoded, then the error that ended the connection or the bytes still waiting.
pub fn serve(
    input: &[u8],
    cuts: &[usize],
    limits: Limits,
) -> (Vec<Vec<Bytes>>, Result<Vec<u8>, ProtocolError>) {
    let mut decoder = CommandDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(from, input.len());
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(args)) => commands.push(args),
                Ok(None) => break,
                Err(error) => return (commands, Err(error)),
            }
        }
    }
    (commands, Ok(buf.to_vec()))
}
