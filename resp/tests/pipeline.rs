//! Pipelining: many commands or replies in one read, and any command split across reads at
//! any byte, decode exactly as if they had arrived whole. Split commands go through one
//! `CommandDecoder` for the connection, as a server reads them; whole ones through the
//! stateless `parse_command`, so each test also checks that the two agree.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::{encode_all, inline_command, reply, serve};
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

/// Feeds `input` in pieces cut at `cuts` (sorted offsets) to one decoder, draining after each
/// piece; every byte must be used.
fn commands_in_pieces(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let (commands, end) = serve(input, cuts, Limits::default());
    let left = end?;
    assert!(left.is_empty(), "left over: {left:?}");
    Ok(commands)
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

/// Everything a server sees of `input` arriving whole, decoded without memory between calls:
/// the commands, then either the error that ended the connection or the bytes still waiting.
fn stateless_outcome(input: &[u8]) -> (Vec<Vec<Bytes>>, Result<Vec<u8>, ProtocolError>) {
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    match drain_commands(&mut buf, &mut out) {
        Ok(()) => (out, Ok(buf.to_vec())),
        Err(error) => (out, Err(error)),
    }
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
fn any_input_split_at_every_byte_gives_the_same_outcome() {
    // Broken sessions too: the error, and the commands before it, do not depend on the reads.
    let inputs: [&[u8]; 4] = [
        b"PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\nfooz\r\n",
        b"*1\r\n$4\r\nPING\r\nset \"\"\"k\"\"\" v\r\nPING\r\n",
        b"*-10\r\n\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
        b"ECHO 'a b'\n*2\r\n$4\r\nECHO\r\n$2\r\nabc\r\n",
    ];
    for input in inputs {
        let whole = stateless_outcome(input);
        assert!(whole.1.is_err(), "{whole:?}");
        for cut in 0..=input.len() {
            assert_eq!(
                serve(input, &[cut], Limits::default()),
                whole,
                "cut at {cut}"
            );
        }
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(serve(input, &every, Limits::default()), whole);
    }
}

#[test]
fn thousands_of_mixed_commands_in_packet_sized_reads() {
    // Inline and array commands back to back, read 1400 bytes at a time like TCP segments, so
    // that commands straddle the reads everywhere.
    let mut input = BytesMut::new();
    let mut want = Vec::new();
    for i in 0..5_000 {
        let key = format!("key:{i}");
        let value = "v".repeat(i % 97);
        let args: [&[u8]; 3] = [b"SET", key.as_bytes(), value.as_bytes()];
        match i % 3 {
            0 => inline_command(&args, &mut input),
            1 => input.extend_from_slice(format!("SET {key} \"{value}\"\n").as_bytes()),
            _ => encode_command(&args, &mut input),
        }
        want.push(words(&["SET", &key, &value]));
    }
    let cuts: Vec<usize> = (1400..input.len()).step_by(1400).collect();
    assert_eq!(commands_in_pieces(&input, &cuts), Ok(want));
}

#[test]
fn a_command_with_tens_of_thousands_of_arguments() {
    // Redis's "test large number of args": MSET of 10001 pairs, here also trickled in small reads.
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for _ in 0..10_000 {
        args.push(b"k".to_vec());
        args.push(b"v".to_vec());
    }
    args.push(b"{k}2".to_vec());
    args.push(b"v2".to_vec());
    let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut input = BytesMut::new();
    encode_command(&slices, &mut input);
    let want: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
    let cuts: Vec<usize> = (16..input.len()).step_by(16).collect();
    assert_eq!(commands_in_pieces(&input, &cuts), Ok(vec![want.clone()]));
    assert_eq!(commands_in_pieces(&input, &[]), Ok(vec![want]));
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
    fn random_inline_and_array_commands_survive_random_splits(
        commands in vec((vec(vec(any::<u8>(), 0..12), 1..5), any::<bool>()), 1..8),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut input = BytesMut::new();
        for (args, inline) in &commands {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            if *inline {
                inline_command(&slices, &mut input);
            } else {
                encode_command(&slices, &mut input);
            }
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        let want: Vec<Vec<Bytes>> = commands
            .into_iter()
            .map(|(args, _)| args.into_iter().map(Bytes::from).collect())
            .collect();
        prop_assert_eq!(commands_in_pieces(&input, &cuts), Ok(want.clone()));
        prop_assert_eq!(stateless_outcome(&input), (want, Ok(Vec::new())));
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
        let whole = stateless_outcome(&input);
        prop_assert_eq!(&serve(&input, &[cut], Limits::default()), &whole);
        prop_assert_eq!(&serve(&input, &[], Limits::default()), &whole);
        let (split, split_end) = frame_outcome(&input, &[cut]);
        let (whole, whole_end) = frame_outcome(&input, &[]);
        prop_assert_eq!(split_end, whole_end);
        // Compare encodings: NaN payloads make `Frame`'s own equality unreliable.
        prop_assert_eq!(encode_all(&split, Protocol::Resp3), encode_all(&whole, Protocol::Resp3));
    }
}
