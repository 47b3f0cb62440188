//! Escaping of text placed in SVG and HTML: keys, notes, fault details and titles come from the
//! run and may hold any character, so every one of them goes through [`text`] before it is
//! written into markup (element content or a double-quoted attribute).

use std::fmt::Write as _;

/// `s` with the five markup-significant characters replaced by entities, and control
/// characters (other than tab and newline) replaced by U+FFFD so the result is well-formed XML.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push(&mut out, s);
    out
}

/// Appends `s` escaped as by [`text`].
pub(crate) fn push(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A newline inside an attribute would be normalised to a space by the parser; the
            // entity keeps it, which is what multi-line hover titles want.
            '\n' => out.push_str("&#10;"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// A number with at most `decimals` fraction digits and no trailing zeros (`12.5`, `3`), short
/// enough for coordinates and tick labels.
pub(crate) fn num(value: f64, decimals: usize) -> String {
    let mut s = String::new();
    let _ = write!(s, "{value:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(text(r#"<k&"'>"#), "&lt;k&amp;&quot;&#39;&gt;");
        assert_eq!(text("a\nb\u{1}"), "a&#10;b\u{FFFD}");
    }

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(num(12.5, 2), "12.5");
        assert_eq!(num(3.0, 2), "3");
        assert_eq!(num(-0.0001, 2), "0");
        assert_eq!(num(1.26, 1), "1.3");
    }
}
