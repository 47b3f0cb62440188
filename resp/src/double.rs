//! The text of a double reply, written as Redis 7.2 and later write it.
//!
//! Clients and tools compare this text (a RESP2 `ZSCORE` is a bulk string, and `redis-cli`
//! prints it as is), so `3` must not come out as `3.0`. Redis's rules (`d2string`):
//!
//! - `nan`, `inf`, `-inf`, and `0` or `-0` for the zeros;
//! - a whole number of magnitude up to `i64::MAX / 2` as a plain integer: `3`, `-1000000`;
//! - anything else as the shortest digits that read back as the same double, laid out like
//!   Redis's `fpconv_dtoa`: fixed notation while the decimal exponent is moderate (`0.1`,
//!   `123456.789`, `0.000001`), else one digit, a point, the rest and a signed exponent
//!   (`1.5e-7`, `1e+300`, `1.2345678901234567e+4`).
//!
//! Redis finds the digits with Grisu2, which in rare cases gives one digit more than the
//! shortest; Rust's formatter always gives the shortest. Both read back as the same double.
//!
//! Everything is written into a fixed stack buffer: encoding a reply allocates only for its
//! output.

use std::fmt::Write as _;

/// A formatted double, at most 26 bytes (`-0.000000` and 17 digits).
pub(crate) struct DoubleText {
    buf: [u8; 32],
    len: usize,
}

impl DoubleText {
    /// Formats `value` as Redis does.
    pub(crate) fn new(value: f64) -> DoubleText {
        let mut text = DoubleText {
            buf: [0; 32],
            len: 0,
        };
        text.format(value);
        text
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, bytes: &[u8]) {
        // The layouts below never exceed the buffer (see the size on the type); were one to,
        // the text would be cut short rather than the encoder panic.
        let end = self.len.saturating_add(bytes.len()).min(self.buf.len());
        if let Some(dest) = self.buf.get_mut(self.len..end) {
            dest.copy_from_slice(bytes.get(..dest.len()).unwrap_or_default());
            self.len = end;
        }
    }

    fn push_zeros(&mut self, count: usize) {
        for _ in 0..count {
            self.push(b"0");
        }
    }

    fn format(&mut self, value: f64) {
        if value.is_nan() {
            return self.push(b"nan");
        }
        if value.is_infinite() {
            return self.push(if value < 0.0 { b"-inf" } else { b"inf" });
        }
        if value == 0.0 {
            return self.push(if value.is_sign_negative() {
                b"-0"
            } else {
                b"0"
            });
        }
        // Whole numbers in this range convert to i64 exactly (the bound itself rounds to 2^62).
        let whole = (i64::MAX / 2) as f64;
        if (-whole..=whole).contains(&value) && value.fract() == 0.0 {
            let mut digits = Digits::default();
            // `value` is whole and within i64, so the conversion is exact.
            if write!(digits, "{}", value as i64).is_ok() {
                return self.push(digits.as_bytes());
            }
        }
        if value < 0.0 {
            self.push(b"-");
        }
        // The shortest round-trip digits, as `d.ddde<exp>`.
        let mut scientific = Digits::default();
        if write!(scientific, "{:e}", value.abs()).is_err() {
            return self.push(b"nan");
        }
        let written = scientific.as_bytes();
        let (mantissa, exponent) = match written.iter().position(|&b| b == b'e') {
            Some(e) => (
                written.get(..e).unwrap_or_default(),
                written.get(e + 1..).unwrap_or_default(),
            ),
            None => (written, &b"0"[..]),
        };
        let mut digits = Digits::default();
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            digits.push(b);
        }
        let exponent: i32 = std::str::from_utf8(exponent)
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        self.layout(digits.as_bytes(), exponent);
    }

    /// Lays out `digits` (`d1 d2 ... dn`, meaning `d1.d2...dn × 10^exponent`) as `fpconv_dtoa`.
    fn layout(&mut self, digits: &[u8], exponent: i32) {
        let count = i32::try_from(digits.len()).unwrap_or(i32::MAX);
        // The value is `digits × 10^shift`.
        let shift = exponent - (count - 1);
        let magnitude = exponent.unsigned_abs();
        if shift >= 0 && exponent < count + 7 {
            // A whole number too large for the integer path: digits and trailing zeros.
            self.push(digits);
            self.push_zeros(usize::try_from(shift).unwrap_or(0));
        } else if shift < 0 && (shift > -7 || magnitude < 4) {
            // Fixed notation: the point falls `count + shift` digits in.
            let point = count + shift;
            if point <= 0 {
                self.push(b"0.");
                self.push_zeros(usize::try_from(-point).unwrap_or(0));
                self.push(digits);
            } else {
                let (whole, fraction) = digits
                    .split_at_checked(usize::try_from(point).unwrap_or(0))
                    .unwrap_or((digits, &[]));
                self.push(whole);
                self.push(b".");
                self.push(fraction);
            }
        } else {
            let (first, rest) = digits.split_at_checked(1).unwrap_or((digits, &[]));
            self.push(first);
            if !rest.is_empty() {
                self.push(b".");
                self.push(rest);
            }
            self.push(if exponent < 0 { b"e-" } else { b"e+" });
            let mut text = Digits::default();
            if write!(text, "{magnitude}").is_ok() {
                self.push(text.as_bytes());
            }
        }
    }
}

/// Scratch space for Rust's own formatting of a number (at most 24 bytes for an `f64`).
#[derive(Default)]
struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for Digits {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        let dest = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: f64) -> String {
        String::from_utf8_lossy(DoubleText::new(value).as_bytes()).into_owned()
    }

    #[test]
    fn special_values() {
        assert_eq!(text(f64::NAN), "nan");
        assert_eq!(text(-f64::NAN), "nan");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(0.0), "0");
        assert_eq!(text(-0.0), "-0");
    }

    #[test]
    fn whole_numbers_have_no_point() {
        assert_eq!(text(3.0), "3");
        assert_eq!(text(-1_000_000.0), "-1000000");
        assert_eq!(text(1e15), "1000000000000000");
        assert_eq!(text(4_611_686_018_427_387_904.0), "4611686018427387904");
        // Beyond i64::MAX / 2: Redis's plain layout while the exponent is small, then scientific.
        assert_eq!(text(4.700_000_000_001e18), "4700000000001000000");
        assert_eq!(text(5e18), "5e+18");
        assert_eq!(text(1e19), "1e+19");
        assert_eq!(text(-1e21), "-1e+21");
    }

    #[test]
    fn fractions_in_fixed_notation() {
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(-2.5), "-2.5");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(text(123_456.789), "123456.789");
        assert_eq!(text(0.000_001), "0.000001");
        assert_eq!(text(1.234_567_890_123_456_7_f64), "1.2345678901234567");
        assert_eq!(text(1_234.567_890_123_456_7), "1234.5678901234567");
    }

    #[test]
    fn scientific_notation_past_the_fixed_range() {
        assert_eq!(text(1.5e-7), "1.5e-7");
        assert_eq!(text(1e-7), "1e-7");
        assert_eq!(text(1e300), "1e+300");
        assert_eq!(text(-1.5e-300), "-1.5e-300");
        assert_eq!(text(5e-324), "5e-324");
        assert_eq!(text(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(text(12_345.678_901_234_567), "1.2345678901234567e+4");
        assert_eq!(text(1.5e100), "1.5e+100");
    }

    #[test]
    fn every_text_reads_back_as_the_same_double() {
        let samples = [
            1.0 / 3.0,
            -2.0 / 3.0,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            1e22,
            1.1e-6,
            9.999_999_999_999_998e-7,
            123e18,
            f64::MIN,
        ];
        for value in samples {
            let written = text(value);
            assert_eq!(written.parse::<f64>().ok(), Some(value), "{written}");
        }
    }
}
