//! Cursor helpers shared by the command and frame decoders.
//!
//! The decoders work on a plain `&[u8]` view of the read buffer and an index into it; every
//! access goes through `get`, so no input can make them index out of bounds. Each helper
//! answers with a [`Step`]: the value and the index just past it, [`Stop::Incomplete`] when the
//! input ends first (the caller waits for more bytes), or [`Stop::Invalid`] when no further
//! bytes could make the input valid.

use crate::ProtocolError;

/// Why a decoder stopped before reaching the end of a command or frame.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The input ends before the value does; the bytes so far are a valid prefix.
    Incomplete,
    /// The input can never become valid.
    Invalid(ProtocolError),
}

impl From<ProtocolError> for Stop {
    fn from(error: ProtocolError) -> Self {
        Stop::Invalid(error)
    }
}

/// The outcome of one decoding step.
pub(crate) type Step<T> = Result<T, Stop>;

/// A CRLF-terminated RESP line.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    /// The text between the type byte and the CRLF.
    pub text: &'a [u8],
    /// Index of the byte after the LF.
    pub next: usize,
}

/// Reads the RESP line whose type byte is at `start`.
///
/// `max_len` bounds the line with its type byte but without its CRLF; a longer line fails
/// with `too_long` as soon as `max_len + 1` bytes have arrived without a CR, so a peer cannot
/// make us buffer an endless header. The result does not depend on how the input was split
/// into reads: a complete line that is too long fails the same way.
pub(crate) fn line(
    input: &[u8],
    start: usize,
    max_len: usize,
    too_long: ProtocolError,
) -> Step<Line<'_>> {
    let rest = input.get(start..).unwrap_or_default();
    let window = rest.get(..max_len.saturating_add(1)).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\r') {
        Some(cr) => match rest.get(cr + 1) {
            None => Err(Stop::Incomplete),
            Some(b'\n') => Ok(Line {
                text: rest.get(1..cr).unwrap_or_default(),
                next: start + cr + 2,
            }),
            Some(_) => Err(ProtocolError::MissingLineFeed.into()),
        },
        None if rest.len() > max_len => Err(too_long.into()),
        None => Err(Stop::Incomplete),
    }
}

/// Reads a bulk payload of `len` bytes starting at `start` and its CRLF terminator.
///
/// Returns the payload and the index after the terminator. Nothing is allocated: the caller
/// has already checked `len` against its limit, and waits (`Incomplete`) until it all arrived.
pub(crate) fn bulk_payload(input: &[u8], start: usize, len: usize) -> Step<(&[u8], usize)> {
    // An end beyond `usize` can never arrive, but the limit check normally catches that first.
    let end = start
        .checked_add(len)
        .ok_or(ProtocolError::InvalidBulkLength)?;
    let payload = input.get(start..end).ok_or(Stop::Incomplete)?;
    match (input.get(end), input.get(end + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok((payload, end + 2)),
        (None, _) | (Some(b'\r'), None) => Err(Stop::Incomplete),
        _ => Err(ProtocolError::MissingBulkTerminator.into()),
    }
}

/// Parses a decimal `i64`: an optional sign, then one or more ASCII digits, nothing else.
///
/// Overflow is a parse failure rather than a wrap, so `$99999999999999999999` is rejected
/// instead of becoming a small length.
pub(crate) fn parse_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        Some((b'+', digits)) => (false, digits),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        // Accumulate towards the sign so that i64::MIN parses too.
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// Parses a decimal `i64` in its one canonical spelling, as Redis's request parser does: an
/// optional `-`, then `0` alone or digits without a leading zero. So `+1`, `01` and `-0` are
/// refused, as Redis refuses them in `*` and `$` headers of commands.
///
/// Replies are read with the more lenient [`parse_int`]: a client should accept what any
/// server writes, a server need accept only what clients write.
pub(crate) fn parse_canonical_int(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    match digits {
        [b'0'] if digits.len() == text.len() => Some(0),
        [b'1'..=b'9', ..] => parse_int(text),
        _ => None,
    }
}

/// Parses a declared length: `Ok(None)` for `-1` (a RESP2 null), the length otherwise.
///
/// Any other negative number, garbage, or overflow is `invalid`.
pub(crate) fn parse_len(text: &[u8], invalid: ProtocolError) -> Result<Option<u64>, ProtocolError> {
    match parse_int(text) {
        Some(-1) => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n.unsigned_abs())),
        _ => Err(invalid),
    }
}

/// Converts a declared length that passed `parse_len` to `usize`, failing with `too_big` when
/// it exceeds `limit` (or the address space).
pub(crate) fn within(
    declared: u64,
    limit: usize,
    too_big: ProtocolError,
) -> Result<usize, ProtocolError> {
    match usize::try_from(declared) {
        Ok(n) if n <= limit => Ok(n),
        _ => Err(too_big),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_long() -> ProtocolError {
        ProtocolError::LineTooLong { limit: 4 }
    }

    #[test]
    fn integers_are_strict_and_checked() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-42"), Some(-42));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1 ",
            b" 1",
            b"1a",
            b"0x10",
            b"--1",
            b"1.5",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn canonical_integers_have_one_spelling() {
        assert_eq!(parse_canonical_int(b"0"), Some(0));
        assert_eq!(parse_canonical_int(b"7"), Some(7));
        assert_eq!(parse_canonical_int(b"-10"), Some(-10));
        assert_eq!(parse_canonical_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"00",
            b"-0",
            b"-01",
            b"1 ",
            b"1a",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_canonical_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lines_wait_for_crlf_and_respect_the_limit() {
        assert!(matches!(
            line(b"+OK", 0, 4, too_long()),
            Err(Stop::Incomplete)
        ));
        assert!(matches!(
            line(b"+OK\r", 0, 4, too_long()),
            Err(Stop::Incomplete)
        ));
        let found = line(b"x+OK\r\nrest", 1, 4, too_long());
        assert!(matches!(
            found,
            Ok(Line {
                text: b"OK",
                next: 6
            })
        ));
        // Exactly at the limit (type byte included) is fine, one more is not.
        assert!(line(b"+abc\r\n", 0, 4, too_long()).is_ok());
        assert!(matches!(
            line(b"+abcd\r\n", 0, 4, too_long()),
            Err(Stop::Invalid(ProtocolError::LineTooLong { .. }))
        ));
        assert!(matches!(
            line(b"+abcd", 0, 4, too_long()),
            Err(Stop::Invalid(ProtocolError::LineTooLong { .. }))
        ));
        assert!(matches!(
            line(b"+a\rb\r\n", 0, 4, too_long()),
            Err(Stop::Invalid(ProtocolError::MissingLineFeed))
        ));
    }

    #[test]
    fn bulk_payload_checks_its_terminator() {
        assert!(matches!(bulk_payload(b"abc\r\n", 0, 3), Ok((b"abc", 5))));
        assert!(matches!(bulk_payload(b"ab", 0, 3), Err(Stop::Incomplete)));
        assert!(matches!(
            bulk_payload(b"abc\r", 0, 3),
            Err(Stop::Incomplete)
        ));
        // A wrong byte where the CR belongs fails at once, without waiting for a second byte.
        assert!(matches!(
            bulk_payload(b"abcX", 0, 3),
            Err(Stop::Invalid(ProtocolError::MissingBulkTerminator))
        ));
        assert!(matches!(
            bulk_payload(b"abcd\r\n", 0, 3),
            Err(Stop::Invalid(ProtocolError::MissingBulkTerminator))
        ));
        assert!(matches!(
            bulk_payload(b"abc\rx", 0, 3),
            Err(Stop::Invalid(ProtocolError::MissingBulkTerminator))
        ));
    }
}
