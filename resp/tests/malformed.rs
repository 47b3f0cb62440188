//! Broken input is an error, never a panic, and waiting never eats bytes.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::{Bytes, BytesMut};
use kvorum_resp::{parse_command, parse_frame, CommandDecoder, Frame, Limits, ProtocolError};
use proptest::prelude::*;

fn command(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    parse_command(&mut BytesMut::from(input), &Limits::default())
}

fn frame(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
    parse_frame(&mut BytesMut::from(input), &Limits::default())
}

#[test]
fn malformed_commands() {
    use ProtocolError::*;
    let cases: &[(&[u8], ProtocolError)] = &[
        // Bad type byte where a bulk string belongs.
        (b"*1\r\n+OK\r\n", ExpectedBulk { got: b'+' }),
        (b"*2\r\n$1\r\na\r\n*1\r\n", ExpectedBulk { got: b'*' }),
        // Garbage and negative lengths.
        (b"*abc\r\n", InvalidMultibulkLength),
        (b"*\r\n", InvalidMultibulkLength),
        (b"*1x\r\n", InvalidMultibulkLength),
        (b"* 1\r\n", InvalidMultibulkLength),
        (b"*1\r\n$abc\r\n", InvalidBulkLength),
        (b"*1\r\n$-1\r\n", InvalidBulkLength),
        (b"*1\r\n$-5\r\n", InvalidBulkLength),
        // Redis's `string2ll`: one spelling per number.
        (b"*+1\r\n", InvalidMultibulkLength),
        (b"*01\r\n", InvalidMultibulkLength),
        (b"*-0\r\n", InvalidMultibulkLength),
        (b"*1\r\n$+1\r\n", InvalidBulkLength),
        (b"*1\r\n$01\r\n", InvalidBulkLength),
        (b"*1\r\n$-0\r\n", InvalidBulkLength),
        (b"*1\r\n$\r\n", InvalidBulkLength),
        (b"*1\r\n$3.0\r\n", InvalidBulkLength),
        // Integer overflow in a length.
        (b"*99999999999999999999\r\n", InvalidMultibulkLength),
        (b"*1\r\n$99999999999999999999\r\n", InvalidBulkLength),
        // Payload longer than declared: no CRLF where it should be.
        (b"*1\r\n$3\r\nabcd\r\n", MissingBulkTerminator),
        (b"*1\r\n$3\r\nabc\n\r", MissingBulkTerminator),
        // CR without LF in a header.
        (b"*1\rx", MissingLineFeed),
        (b"*1\r\n$3\r+abc", MissingLineFeed),
        // Quotes.
        (b"SET k \"v\n", UnbalancedQuotes),
        (b"SET k 'v'x\r\n", UnbalancedQuotes),
    ];
    for (input, error) in cases {
        assert_eq!(
            command(input).as_ref(),
            Err(error),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn negative_array_counts_are_ignored_like_redis() {
    // Redis's "Negative multibulk length" test: the connection goes on.
    let mut buf = BytesMut::from(&b"*-10\r\nPING\r\n"[..]);
    let got = parse_command(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![Bytes::from_static(b"PING")]);
}

#[test]
fn malformed_frames() {
    use ProtocolError::*;
    let cases: &[(&[u8], ProtocolError)] = &[
        (b"x\r\n", UnknownType { got: b'x' }),
        (b"\0", UnknownType { got: 0 }),
        (b"*1\r\n@\r\n", UnknownType { got: b'@' }),
        (b"$-2\r\n", InvalidBulkLength),
        (b"$abc\r\n", InvalidBulkLength),
        (b"$99999999999999999999\r\n", InvalidBulkLength),
        (b"*-2\r\n", InvalidMultibulkLength),
        (b"~-1\r\n", InvalidMultibulkLength),
        (b"*1a\r\n", InvalidMultibulkLength),
        (b"$3\r\nabcd\r\n", MissingBulkTerminator),
        (b":12x\r\n", InvalidValue { kind: "integer" }),
        (
            b":99999999999999999999\r\n",
            InvalidValue { kind: "integer" },
        ),
        (b",1.2.3\r\n", InvalidValue { kind: "double" }),
        (b"#yes\r\n", InvalidValue { kind: "boolean" }),
        (b"(\r\n", InvalidValue { kind: "big number" }),
        (
            b"=2\r\nab\r\n",
            InvalidValue {
                kind: "verbatim string",
            },
        ),
        (
            b"=5\r\ntxt-a\r\n",
            InvalidValue {
                kind: "verbatim string",
            },
        ),
        (b"+OK\rX", MissingLineFeed),
    ];
    for (input, error) in cases {
        assert_eq!(
            frame(input).as_ref(),
            Err(error),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn errors_come_before_the_rest_of_the_frame() {
    // A bad element inside a huge declared array fails without waiting for the others.
    assert_eq!(
        frame(b"*1000\r\n:1\r\n?"),
        Err(ProtocolError::UnknownType { got: b'?' })
    );
    assert_eq!(
        command(b"*1000\r\n$1\r\na\r\n:"),
        Err(ProtocolError::ExpectedBulk { got: b':' })
    );
}

fn some_limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0usize..8, 0usize..4, 0usize..4, 0usize..24, 0usize..64).prop_map(
            |(bulk, array, depth, line, query)| Limits {
                max_bulk_bytes: bulk,
                max_array_len: array,
                max_nesting_depth: depth,
                max_inline_bytes: line,
                max_query_bytes: query,
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parse_command_never_panics_and_waiting_keeps_the_command(
        input in common::hostile_input(),
        limits in some_limits(),
    ) {
        let mut buf = BytesMut::from(&input[..]);
        // Drain like a server would, until it must wait or fail.
        loop {
            let before = buf.clone();
            match parse_command(&mut buf, &limits) {
                Ok(Some(args)) => {
                    prop_assert!(!args.is_empty());
                    prop_assert!(buf.len() < before.len());
                }
                Ok(None) => {
                    // Only empty commands may have been dropped from the front.
                    prop_assert!(before.ends_with(&buf));
                    let mut dropped = BytesMut::from(&before[..before.len() - buf.len()]);
                    prop_assert_eq!(parse_command(&mut dropped, &limits), Ok(None));
                    prop_assert!(dropped.is_empty());
                    break;
                }
                Err(_) => break,
            }
        }
    }

    #[test]
    fn a_connection_s_decoder_agrees_with_parse_command_under_any_limits(
        input in common::hostile_input(),
        limits in some_limits(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut whole = BytesMut::from(&input[..]);
        let mut stateless = Vec::new();
        let stateless_end = loop {
            match parse_command(&mut whole, &limits) {
                Ok(Some(args)) => stateless.push(args),
                Ok(None) => break Ok(whole.to_vec()),
                Err(error) => break Err(error),
            }
        };
        let (decoded, end) = common::serve(&input, &cuts, limits);
        prop_assert_eq!(decoded, stateless);
        prop_assert_eq!(end, stateless_end);
    }

    #[test]
    fn a_decoder_never_panics_when_its_buffer_is_swapped(
        first in common::hostile_input(),
        second in common::hostile_input(),
        limits in some_limits(),
    ) {
        // Against the contract, but it must still end in a command or an error, not a panic.
        let mut decoder = CommandDecoder::new(limits);
        let mut buf = BytesMut::from(&first[..]);
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
        let mut buf = BytesMut::from(&second[..]);
        while let Ok(Some(args)) = decoder.decode(&mut buf) {
            prop_assert!(!args.is_empty());
        }
    }

    #[test]
    fn parse_frame_never_panics_and_waiting_consumes_nothing(
        input in common::hostile_input(),
        limits in some_limits(),
    ) {
        let mut buf = BytesMut::from(&input[..]);
        loop {
            let before = buf.clone();
            match parse_frame(&mut buf, &limits) {
                Ok(Some(_)) => prop_assert!(buf.len() < before.len()),
                Ok(None) => {
                    prop_assert_eq!(&buf, &before);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    #[test]
    fn errors_fit_on_one_reply_line(input in common::hostile_input()) {
        let errors = [command(&input).err(), frame(&input).err()];
        for error in errors.into_iter().flatten() {
            let line = error.to_string();
            prop_assert!(line.starts_with("Protocol error: "));
            prop_assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
        }
    }
}
