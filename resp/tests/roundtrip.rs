//! Encoding then decoding gives back what was sent, in both protocols.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::{encode_all, expected, reply, same};
use kvorum_resp::{encode_command, parse_command, parse_frame, Frame, Limits, Protocol};
use proptest::collection::vec;
use proptest::prelude::*;

/// The generated frames nest up to this deep, and are decoded with exactly this limit.
const DEPTH: u32 = 6;

fn limits() -> Limits {
    Limits {
        max_nesting_depth: DEPTH as usize,
        ..Limits::default()
    }
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_frame_round_trips(frame in reply(DEPTH), proto in protocol()) {
        let mut buf = encode_all(std::slice::from_ref(&frame), proto);
        let got = parse_frame(&mut buf, &limits()).unwrap();
        match (expected(&frame, proto), got) {
            (Some(want), Some(got)) => prop_assert!(same(&want, &got), "want {want:?}\n got {got:?}"),
            (None, None) => {}
            (want, got) => prop_assert!(false, "want {want:?}\n got {got:?}"),
        }
        prop_assert!(buf.is_empty(), "left over: {buf:?}");
    }

    #[test]
    fn pipelined_frames_come_back_in_order(frames in vec(reply(3), 1..8), proto in protocol()) {
        let mut buf = encode_all(&frames, proto);
        let mut got = Vec::new();
        while let Some(frame) = parse_frame(&mut buf, &limits()).unwrap() {
            got.push(frame);
        }
        let want: Vec<Frame> = frames.iter().filter_map(|f| expected(f, proto)).collect();
        prop_assert_eq!(want.len(), got.len());
        for (want, got) in want.iter().zip(&got) {
            prop_assert!(same(want, got), "want {want:?}\n got {got:?}");
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn every_command_round_trips(args in vec(vec(any::<u8>(), 0..40), 1..10)) {
        let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut buf = BytesMut::new();
        encode_command(&slices, &mut buf);
        let got = parse_command(&mut buf, &Limits::default()).unwrap().unwrap();
        let want: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn a_command_is_the_array_frame_of_its_arguments(args in vec(vec(any::<u8>(), 0..16), 1..6)) {
        let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut buf = BytesMut::new();
        encode_command(&slices, &mut buf);
        let frame = parse_frame(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(frame, Frame::bulk_array(args));
    }

    #[test]
    fn plain_inline_words_round_trip(words in vec("[!#-&(-)+-~]{1,12}", 1..8), crlf in any::<bool>()) {
        // Printable ASCII without space, quotes and `*` (which would start an array instead).
        let mut line = words.join(" ");
        line.push_str(if crlf { "\r\n" } else { "\n" });
        let mut buf = BytesMut::from(line.as_bytes());
        let got = parse_command(&mut buf, &Limits::default()).unwrap().unwrap();
        let want: Vec<Bytes> = words.into_iter().map(Bytes::from).collect();
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
    }
}

#[test]
fn deepest_allowed_nesting_round_trips() {
    let limits = Limits::default();
    let mut frame = Frame::Integer(7);
    for level in 0..limits.max_nesting_depth {
        frame = match level % 4 {
            0 => Frame::Array(vec![frame]),
            1 => Frame::Map(vec![(Frame::ok(), frame)]),
            2 => Frame::Set(vec![frame]),
            _ => Frame::Push(vec![frame, Frame::Null]),
        };
    }
    let mut buf = encode_all(std::slice::from_ref(&frame), Protocol::Resp3);
    assert_eq!(parse_frame(&mut buf, &limits), Ok(Some(frame)));
}

#[test]
fn extreme_scalars_round_trip() {
    let frames = [
        Frame::Integer(i64::MIN),
        Frame::Integer(i64::MAX),
        Frame::Double(f64::MIN_POSITIVE),
        Frame::Double(f64::MAX),
        Frame::Double(-0.0),
        Frame::Double(5e-324),
        Frame::bulk(vec![0u8; 100_000]),
        Frame::bulk(&b"\r\n$3\r\n"[..]),
    ];
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        for frame in &frames {
            let mut buf = encode_all(std::slice::from_ref(frame), proto);
            let got = parse_frame(&mut buf, &Limits::default()).unwrap().unwrap();
            let want = expected(frame, proto).unwrap();
            assert!(same(&want, &got), "{proto:?}: want {want:?}, got {got:?}");
        }
    }
}
