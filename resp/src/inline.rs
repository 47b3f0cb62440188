//! Splitting an inline command into words, following Redis's `sdssplitargs`.
//!
//! Words are separated by whitespace. A word may contain double-quoted parts, with the escapes
//! `\n \r \t \b \a \xHH` and `\<any>` for the byte itself, and single-quoted parts, where only
//! `\'` is special. A closing quote must be followed by whitespace or the end of the line.
//! Unlike Redis, which stops at a NUL byte because it works on C strings, we treat NUL as
//! whitespace: the line's remaining words are kept rather than silently dropped.
//!
//! Plain words are slices of the line; only words with quotes are copied, since unescaping
//! changes their bytes.

use bytes::Bytes;

use crate::ProtocolError;

/// Splits `text`, a sub-slice of `data`, into words, failing when there are more than
/// `max_args` of them.
pub(crate) fn split_args(
    data: &Bytes,
    text: &[u8],
    max_args: usize,
) -> Result<Vec<Bytes>, ProtocolError> {
    let mut args = Vec::new();
    let mut rest = text;
    loop {
        rest = skip_space(rest);
        if rest.is_empty() {
            return Ok(args);
        }
        if args.len() >= max_args {
            return Err(ProtocolError::AggregateTooLong {
                declared: u64::try_from(args.len())
                    .unwrap_or(u64::MAX)
                    .saturating_add(1),
                limit: max_args,
            });
        }
        let (word, after) = word(rest)?;
        args.push(match word {
            // `word` returns sub-slices of `rest`, which lies within `data`.
            Word::Plain(plain) => data.slice_ref(plain),
            Word::Unquoted(bytes) => Bytes::from(bytes),
        });
        rest = after;
    }
}

/// One word, as found in the line or rebuilt from its quoted parts.
enum Word<'a> {
    Plain(&'a [u8]),
    Unquoted(Vec<u8>),
}

/// C's `isspace`, plus NUL (see the module docs).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b'\0')
}

/// The bytes that end an unquoted word (`sdssplitargs` does not end words at `\v` or `\f`).
fn ends_word(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\0')
}

fn skip_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    text.get(start..).unwrap_or_default()
}

/// Reads the word at the start of `text` (which is not whitespace); returns it and the rest.
fn word(text: &[u8]) -> Result<(Word<'_>, &[u8]), ProtocolError> {
    let end = text
        .iter()
        .position(|&b| ends_word(b) || b == b'"' || b == b'\'')
        .unwrap_or(text.len());
    match text.get(end) {
        Some(b'"' | b'\'') => quoted_word(text),
        _ => {
            let (plain, rest) = text.split_at_checked(end).unwrap_or((text, &[]));
            Ok((Word::Plain(plain), rest))
        }
    }
}

/// The slow path for a word with quotes in it, from the word's first byte.
fn quoted_word(text: &[u8]) -> Result<(Word<'_>, &[u8]), ProtocolError> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let end = match text.get(i) {
            None => i,
            Some(&b) if ends_word(b) => i,
            Some(b'"') => double_quoted(text, i + 1, &mut out)?,
            Some(b'\'') => single_quoted(text, i + 1, &mut out)?,
            Some(&b) => {
                out.push(b);
                i += 1;
                continue;
            }
        };
        return Ok((Word::Unquoted(out), text.get(end..).unwrap_or_default()));
    }
}

/// Copies a double-quoted part starting after its opening quote; returns the index after the
/// closing quote.
fn double_quoted(text: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match text.get(i) {
            None => return Err(ProtocolError::UnbalancedQuotes),
            Some(b'"') => return closing_quote(text, i),
            Some(b'\\') => {
                if let Some(byte) = hex_escape(text.get(i + 1..i + 4)) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
                match text.get(i + 1) {
                    Some(&escaped) => {
                        out.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => b'\x08',
                            b'a' => b'\x07',
                            other => other,
                        });
                        i += 2;
                    }
                    // A backslash at the very end: the quote is unterminated anyway.
                    None => return Err(ProtocolError::UnbalancedQuotes),
                }
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Copies a single-quoted part starting after its opening quote; returns the index after the
/// closing quote.
fn single_quoted(text: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    loop {
        match (text.get(i), text.get(i + 1)) {
            (None, _) => return Err(ProtocolError::UnbalancedQuotes),
            (Some(b'\\'), Some(b'\'')) => {
                out.push(b'\'');
                i += 2;
            }
            (Some(b'\''), _) => return closing_quote(text, i),
            (Some(&b), _) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Checks that the closing quote at `i` ends the word; returns the index after it.
fn closing_quote(text: &[u8], i: usize) -> Result<usize, ProtocolError> {
    match text.get(i + 1) {
        None => Ok(i + 1),
        Some(&b) if is_space(b) => Ok(i + 1),
        Some(_) => Err(ProtocolError::UnbalancedQuotes),
    }
}

/// `xHH` after a backslash.
fn hex_escape(escape: Option<&[u8]>) -> Option<u8> {
    match escape? {
        [b'x', high, low] => Some(hex_digit(*high)? << 4 | hex_digit(*low)?),
        _ => None,
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &'static str) -> Result<Vec<String>, ProtocolError> {
        let data = Bytes::from_static(line.as_bytes());
        let words = split_args(&data, &data, 100)?;
        Ok(words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect())
    }

    #[test]
    fn plain_words() {
        assert_eq!(
            split("  SET key  value "),
            Ok(vec!["SET".into(), "key".into(), "value".into()])
        );
        assert_eq!(split(" \t "), Ok(vec![]));
        assert_eq!(split("a\0b"), Ok(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split(r#"SET "hello world" 'it\'s' "\x41\n\\" a"b c""#),
            Ok(vec![
                "SET".into(),
                "hello world".into(),
                "it's".into(),
                "A\n\\".into(),
                "ab c".into(),
            ])
        );
        assert_eq!(split(r#""" ''"#), Ok(vec![String::new(), String::new()]));
        assert_eq!(split(r#"'a\b'"#), Ok(vec![r"a\b".into()]));
        assert_eq!(split(r#""\xZZ""#), Ok(vec!["xZZ".into()]));
    }

    #[test]
    fn unbalanced_quotes() {
        for line in [
            r#"GET "k"#,
            "GET 'k",
            r#"GET "k"x"#,
            "GET 'k'x",
            r#""a\"#,
            r#"'a\'"#,
        ] {
            assert_eq!(split(line), Err(ProtocolError::UnbalancedQuotes), "{line}");
        }
    }

    #[test]
    fn word_count_is_limited() {
        let data = Bytes::from_static(b"a b c");
        assert_eq!(
            split_args(&data, &data, 2),
            Err(ProtocolError::AggregateTooLong {
                declared: 3,
                limit: 2
            })
        );
    }
}
