//! Plain-text tables: left-aligned columns, two spaces apart, no trailing spaces, so the output
//! reads well in a terminal and diffs cleanly in a log.

/// Renders `header` and `rows` as aligned columns, one line each, ending in a newline. A row
/// shorter than the header leaves its last cells empty.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Seconds as `3d4h`, `2h5m`, `4m10s` or `42s`: the two largest units.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn columns_line_up_under_their_header() {
        let text = render(
            &["NODE", "STATE"],
            &[row(&["n1", "up"]), row(&["n10", "unreachable"])],
        );
        assert_eq!(text, "NODE  STATE\nn1    up\nn10   unreachable\n");
    }

    #[test]
    fn short_rows_and_wide_cells_are_handled() {
        let text = render(&["A", "B", "C"], &[row(&["x"]), row(&["yyyy", "z", "w"])]);
        assert_eq!(text, "A     B  C\nx\nyyyy  z  w\n");
        let wide = render(&["A"], &[row(&["one", "extra"])]);
        assert_eq!(wide, "A\none  extra\n");
    }

    #[test]
    fn durations_show_two_units() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(250), "4m10s");
        assert_eq!(duration(7500), "2h5m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59), "3d4h");
    }
}
