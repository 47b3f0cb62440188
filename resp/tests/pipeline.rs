//! Pipelining: many commands or replies in one read, and any command split across reads at
//! any byte, decode exactly as if they had arrived whole.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::{encode_all, reply};
use kvorum_resp::{
    encode_command, parse_command, parse_frame, Frame, Limits, Protocol, ProtocolError,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Decodes every complete command in `buf`.
fn drain_commands(buf: &mut BytesMut, out: &mut Vec<Vec<Bytes>>) -> Result<(), ProtocolError> {
    while let Some(args) = parse_command(buf, &Limits::default())? {
        out.push(args);
    }
    Ok(())
}

/// Decodes every complete frame in `buf`.
fn drain_frames(buf: &mut BytesMut, out: &mut Vec<Frame>) -> Result<(), ProtocolError> {
    while let Some(frame) = parse_frame(buf, &Limits::default())? {
        out.push(frame);
    }
    Ok(())
}

/// Feeds `input` in pieces cut at `cuts` (sorted offsets), draining after each piece.
fn commands_in_pieces(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        drain_commands(&mut buf, &mut out)?;
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    Ok(out)
}

fn frames_in_pieces(input: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        drain_frames(&mut buf, &mut out)?;
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    Ok(out)
}

/// Everything a server would see from `input` arriving in pieces cut at `cuts`: the commands
/// decoded, then either the error that ended the connection or the bytes still waiting.
fn outcome(input: &[u8], cuts: &[usize]) -> (Vec<Vec<Bytes>>, Result<Vec<u8>, ProtocolError>) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        if let Err(error) = drain_commands(&mut buf, &mut out) {
            return (out, Err(error));
        }
    }
    (out, Ok(buf.to_vec()))
}

/// The same for a client reading replies.
fn frame_outcome(input: &[u8], cuts: &[usize]) -> (Vec<Frame>, Result<Vec<u8>, ProtocolError>) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        buf.extend_from_slice(&input[from..cut]);
        from = cut;
        if let Err(error) = drain_frames(&mut buf, &mut out) {
            return (out, Err(error));
        }
    }
    (out, Ok(buf.to_vec()))
}

fn words(list: &[&str]) -> Vec<Bytes> {
    list.iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

/// A session mixing every request form a server sees.
const SESSION: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\r\no\r\n\
PING\r\n\
*0\r\n\
\r\n\
GET \"a b\" 'c'\n\
*-1\r\n\
*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";

fn session_commands() -> Vec<Vec<Bytes>> {
    vec![
        words(&["SET", "k", "he\r\no"]),
        words(&["PING"]),
        words(&["GET", "a b", "c"]),
        words(&["ECHO", ""]),
    ]
}

#[test]
fn a_pipelined_session_decodes_in_order() {
    assert_eq!(commands_in_pieces(SESSION, &[]), Ok(session_commands()));
}

#[test]
fn splitting_at_every_byte_changes_nothing() {
    for cut in 0..=SESSION.len() {
        assert_eq!(
            commands_in_pieces(SESSION, &[cut]),
            Ok(session_commands()),
            "cut at {cut}"
        );
    }
}

#[test]
fn byte_by_byte_delivery_changes_nothing() {
    let cuts: Vec<usize> = (1..SESSION.len()).collect();
    assert_eq!(commands_in_pieces(SESSION, &cuts), Ok(session_commands()));
}

#[test]
fn incomplete_command_is_left_in_the_buffer() {
    let command = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    for cut in 1..command.len() {
        let mut buf = BytesMut::from(&command[..cut]);
        assert_eq!(parse_command(&mut buf, &Limits::default()), Ok(None));
        assert_eq!(&buf[..], &command[..cut], "cut at {cut}");
    }
}

#[test]
fn ten_thousand_pipelined_commands() {
    let mut buf = BytesMut::new();
    for i in 0..10_000 {
        let key = format!("key:{i}");
        encode_command(&[b"INCR", key.as_bytes()], &mut buf);
    }
    let mut out = Vec::new();
    drain_commands(&mut buf, &mut out).unwrap();
    assert_eq!(out.len(), 10_000);
    assert_eq!(out[9_999], words(&["INCR", "key:9999"]));
}

#[test]
fn a_reply_split_at_every_byte_decodes_the_same() {
    let replies = [
        Frame::Array(vec![
            Frame::bulk("value"),
            Frame::Map(vec![(Frame::simple("k"), Frame::Double(2.5))]),
            Frame::Null,
        ]),
        Frame::Attribute(vec![(Frame::bulk("ttl"), Frame::Integer(-1))]),
        Frame::verbatim_text("text"),
        Frame::Boolean(true),
        Frame::error("ERR oops"),
    ];
    let input = encode_all(&replies, Protocol::Resp3);
    let whole = frames_in_pieces(&input, &[]).unwrap();
    assert_eq!(whole, replies);
    for cut in 0..=input.len() {
        assert_eq!(
            frames_in_pieces(&input, &[cut]).unwrap(),
            whole,
            "cut at {cut}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_survive_random_splits(
        commands in vec(vec(vec(any::<u8>(), 0..20), 1..5), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut input = BytesMut::new();
        for args in &commands {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            encode_command(&slices, &mut input);
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        let want: Vec<Vec<Bytes>> = commands
            .into_iter()
            .map(|args| args.into_iter().map(Bytes::from).collect())
            .collect();
        prop_assert_eq!(commands_in_pieces(&input, &cuts), Ok(want));
    }

    #[test]
    fn random_replies_survive_random_splits(
        frames in vec(reply(4), 1..5),
        cuts in vec(any::<prop::sample::Index>(), 0..4),
        resp3 in any::<bool>(),
    ) {
        let proto = if resp3 { Protocol::Resp3 } else { Protocol::Resp2 };
        let input = encode_all(&frames, proto);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        // Compare encodings: NaN payloads make `Frame`'s own equality unreliable.
        let whole = encode_all(&frames_in_pieces(&input, &[]).unwrap(), proto);
        let pieces = encode_all(&frames_in_pieces(&input, &cuts).unwrap(), proto);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn any_input_gives_the_same_outcome_however_it_is_split(
        input in common::hostile_input(),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(input.len() + 1);
        prop_assert_eq!(outcome(&input, &[cut]), outcome(&input, &[]));
        let (split, split_end) = frame_outcome(&input, &[cut]);
        let (whole, whole_end) = frame_outcome(&input, &[]);
        prop_assert_eq!(split_end, whole_end);
        // Compare encodings: NaN payloads make `Frame`'s own equality unreliable.
        prop_assert_eq!(encode_all(&split, Protocol::Resp3), encode_all(&whole, Protocol::Resp3));
    }
}
