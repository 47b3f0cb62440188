//! Every limit fails as soon as the offending header arrives, with the error a client expects.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use kvorum_resp::{parse_command, parse_frame, Frame, Limits, ProtocolError};

fn small() -> Limits {
    Limits {
        max_bulk_bytes: 1024,
        max_array_len: 8,
        max_nesting_depth: 4,
        max_inline_bytes: 64,
        max_query_bytes: 4096,
    }
}

fn command(input: &[u8], limits: &Limits) -> Result<Option<Vec<bytes::Bytes>>, ProtocolError> {
    parse_command(&mut BytesMut::from(input), limits)
}

fn frame(input: &[u8], limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    parse_frame(&mut BytesMut::from(input), limits)
}

#[test]
fn defaults_match_redis() {
    let limits = Limits::default();
    assert_eq!(limits.max_bulk_bytes, 512 * 1024 * 1024);
    assert_eq!(limits.max_array_len, 1_048_576);
    assert_eq!(limits.max_nesting_depth, 32);
    assert_eq!(limits.max_inline_bytes, 64 * 1024);
    assert_eq!(limits.max_query_bytes, 1024 * 1024 * 1024);
}

#[test]
fn a_command_over_the_query_limit_fails_at_the_header_that_shows_it() {
    let limits = small();
    // Four arguments of 1000 bytes: 4 + 4 × (7 + 1000 + 2) = 4040 bytes, within 4096.
    let mut input = b"*5\r\n".to_vec();
    for _ in 0..4 {
        input.extend_from_slice(b"$1000\r\n");
        input.extend(vec![b'v'; 1000]);
        input.extend_from_slice(b"\r\n");
    }
    assert_eq!(command(&input, &limits), Ok(None));
    // The fifth would end at 4040 + 7 + 1000 + 2 > 4096: refused before its payload is sent.
    input.extend_from_slice(b"$1000\r\n");
    let error = ProtocolError::QueryTooLong { limit: 4096 };
    assert_eq!(command(&input, &limits), Err(error.clone()));
    assert_eq!(
        error.to_string(),
        "Protocol error: query buffer limit exceeded"
    );
    // A short fifth argument fits.
    input.truncate(input.len() - 7);
    input.extend_from_slice(b"$49\r\n");
    input.extend(vec![b'v'; 49]);
    input.extend_from_slice(b"\r\n");
    assert_eq!(input.len(), 4096);
    assert!(matches!(command(&input, &limits), Ok(Some(args)) if args.len() == 5));
}

#[test]
fn the_query_limit_counts_headers_and_terminators_too() {
    // A lone bulk within the bulk limit still fails when the command around it cannot fit:
    // `*1\r\n$1000\r\n` + 1000 + `\r\n` is 1013 bytes.
    let limits = Limits {
        max_query_bytes: 1012,
        ..Limits::default()
    };
    assert_eq!(
        command(b"*1\r\n$1000\r\n", &limits),
        Err(ProtocolError::QueryTooLong { limit: 1012 })
    );
    let limits = Limits {
        max_query_bytes: 1013,
        ..limits
    };
    assert_eq!(command(b"*1\r\n$1000\r\n", &limits), Ok(None));
    // Empty commands and inline lines are bounded by other limits.
    assert_eq!(
        command(
            b"*0\r\n",
            &Limits {
                max_query_bytes: 0,
                ..limits
            }
        ),
        Ok(None)
    );
    assert!(matches!(
        command(
            b"PING\r\n",
            &Limits {
                max_query_bytes: 0,
                ..limits
            }
        ),
        Ok(Some(_))
    ));
}

#[test]
fn bulk_over_the_limit_fails_at_its_header() {
    let limits = small();
    // At the limit: wait for the payload.
    assert_eq!(command(b"*1\r\n$1024\r\n", &limits), Ok(None));
    assert_eq!(frame(b"$1024\r\n", &limits), Ok(None));
    // One over: fail now, with no payload sent.
    let error = ProtocolError::BulkTooLong {
        declared: 1025,
        limit: 1024,
    };
    assert_eq!(command(b"*1\r\n$1025\r\n", &limits), Err(error.clone()));
    assert_eq!(frame(b"$1025\r\n", &limits), Err(error.clone()));
    assert_eq!(frame(b"!1025\r\n", &limits), Err(error.clone()));
    assert_eq!(frame(b"=1025\r\n", &limits), Err(error.clone()));
    assert_eq!(error.to_string(), "Protocol error: invalid bulk length");
}

#[test]
fn default_bulk_limit_is_checked_before_anything_is_buffered() {
    let limits = Limits::default();
    assert_eq!(command(b"*1\r\n$536870912\r\n", &limits), Ok(None));
    assert!(matches!(
        command(b"*1\r\n$536870913\r\n", &limits),
        Err(ProtocolError::BulkTooLong { .. })
    ));
    assert!(matches!(
        frame(b"$9223372036854775807\r\n", &limits),
        Err(ProtocolError::BulkTooLong { .. })
    ));
}

#[test]
fn array_over_the_limit_fails_at_its_header() {
    let limits = small();
    assert_eq!(command(b"*8\r\n", &limits), Ok(None));
    let error = ProtocolError::AggregateTooLong {
        declared: 9,
        limit: 8,
    };
    assert_eq!(command(b"*9\r\n", &limits), Err(error.clone()));
    for header in [&b"*9\r\n"[..], b"~9\r\n", b">9\r\n", b"%9\r\n", b"|9\r\n"] {
        assert_eq!(frame(header, &limits), Err(error.clone()));
    }
    // Maps count entries, not keys plus values.
    assert_eq!(frame(b"%8\r\n", &limits), Ok(None));
    assert_eq!(
        error.to_string(),
        "Protocol error: invalid multibulk length"
    );
}

#[test]
fn default_array_limit() {
    let limits = Limits::default();
    // A client may announce a million arguments; nothing is reserved until they arrive.
    assert_eq!(command(b"*1048576\r\n", &limits), Ok(None));
    assert!(matches!(
        command(b"*1048577\r\n", &limits),
        Err(ProtocolError::AggregateTooLong {
            declared: 1_048_577,
            ..
        })
    ));
}

#[test]
fn nesting_over_the_limit_fails() {
    let limits = small();
    let nested = |depth: usize| {
        let mut input = b"*1\r\n".repeat(depth);
        input.extend_from_slice(b":1\r\n");
        input
    };
    assert!(matches!(frame(&nested(4), &limits), Ok(Some(_))));
    assert_eq!(
        frame(&nested(5), &limits),
        Err(ProtocolError::TooDeep { limit: 4 })
    );
    // The error comes at the fifth header, before the rest arrives.
    assert_eq!(
        frame(&b"*1\r\n".repeat(5), &limits),
        Err(ProtocolError::TooDeep { limit: 4 })
    );
    // Empty aggregates and maps count as levels too.
    assert_eq!(
        frame(b"*1\r\n*1\r\n%1\r\n+k\r\n*1\r\n*0\r\n", &limits),
        Err(ProtocolError::TooDeep { limit: 4 })
    );
    // The default limit.
    let limits = Limits::default();
    assert!(matches!(frame(&nested(32), &limits), Ok(Some(_))));
    assert_eq!(
        frame(&nested(33), &limits),
        Err(ProtocolError::TooDeep { limit: 32 })
    );
}

#[test]
fn hostile_nesting_cannot_overflow_the_stack() {
    let limits = Limits {
        max_nesting_depth: usize::MAX,
        ..Limits::default()
    };
    let mut input = b"*1\r\n".repeat(200_000);
    input.extend_from_slice(b":1\r\n");
    let parsed = frame(&input, &limits).unwrap().unwrap();
    // Dropping a deep frame recurses too; take it apart by hand.
    let mut next = Some(parsed);
    while let Some(Frame::Array(mut items)) = next {
        next = items.pop();
    }
}

#[test]
fn inline_over_the_limit_fails() {
    let limits = small();
    let line = |len: usize| vec![b'a'; len];
    // 64 bytes without a newline: may still end in time.
    assert_eq!(command(&line(64), &limits), Ok(None));
    // 65: it cannot.
    assert_eq!(
        command(&line(65), &limits),
        Err(ProtocolError::InlineTooLong { limit: 64 })
    );
    // The same whether or not the newline has arrived.
    let mut long = line(65);
    long.push(b'\n');
    assert_eq!(
        command(&long, &limits),
        Err(ProtocolError::InlineTooLong { limit: 64 })
    );
    let mut fits = line(64);
    fits.push(b'\n');
    assert!(matches!(command(&fits, &limits), Ok(Some(_))));
    assert_eq!(
        ProtocolError::InlineTooLong { limit: 64 }.to_string(),
        "Protocol error: too big inline request"
    );
}

#[test]
fn default_inline_limit_is_redis_s() {
    let limits = Limits::default();
    assert_eq!(command(&vec![b'a'; 64 * 1024], &limits), Ok(None));
    assert!(matches!(
        command(&vec![b'a'; 64 * 1024 + 1], &limits),
        Err(ProtocolError::InlineTooLong { .. })
    ));
}

#[test]
fn inline_word_count_is_limited() {
    let limits = small();
    assert!(matches!(
        command(b"a b c d e f g h\n", &limits),
        Ok(Some(_))
    ));
    assert_eq!(
        command(b"a b c d e f g h i\n", &limits),
        Err(ProtocolError::AggregateTooLong {
            declared: 9,
            limit: 8
        })
    );
}

#[test]
fn endless_header_lines_fail() {
    let limits = small();
    let mut mbulk = vec![b'*'];
    mbulk.extend(vec![b'1'; 64]);
    assert_eq!(
        command(&mbulk, &limits),
        Err(ProtocolError::MultibulkHeaderTooLong { limit: 64 })
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 64]);
    assert_eq!(
        command(&bulk, &limits),
        Err(ProtocolError::BulkHeaderTooLong { limit: 64 })
    );
    let mut simple = vec![b'+'];
    simple.extend(vec![b'x'; 64]);
    assert_eq!(
        frame(&simple, &limits),
        Err(ProtocolError::LineTooLong { limit: 64 })
    );
    assert_eq!(
        ProtocolError::MultibulkHeaderTooLong { limit: 64 }.to_string(),
        "Protocol error: too big mbulk count string"
    );
    assert_eq!(
        ProtocolError::BulkHeaderTooLong { limit: 64 }.to_string(),
        "Protocol error: too big bulk count string"
    );
}
