//! First-fit packing of intervals into rows: fault labels that would overlap go on separate
//! rows of a plot's fault strip, and client processes that never overlap in time share a lane
//! of the timeline (as Jepsen's process `p + concurrency` takes over the thread of `p`).

/// The row of each `(start, end)` interval, in input order, and the number of rows used. An
/// interval goes in the first row whose last interval ended at or before its start; at most
/// `max_rows` rows are used, extra intervals share the last one.
pub(crate) fn first_fit(intervals: &[(f64, f64)], max_rows: usize) -> (Vec<usize>, usize) {
    let max_rows = max_rows.max(1);
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (intervals.get(a), intervals.get(b));
        x.map(|i| i.0)
            .partial_cmp(&y.map(|i| i.0))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut row_ends: Vec<f64> = Vec::new();
    let mut rows = vec![0; intervals.len()];
    for index in order {
        let Some(&(start, end)) = intervals.get(index) else {
            continue;
        };
        let row = match row_ends.iter().position(|&last| last <= start) {
            Some(row) => row,
            None if row_ends.len() < max_rows => {
                row_ends.push(f64::NEG_INFINITY);
                row_ends.len() - 1
            }
            None => max_rows - 1,
        };
        if let (Some(slot), Some(last)) = (rows.get_mut(index), row_ends.get_mut(row)) {
            *slot = row;
            *last = last.max(end);
        }
    }
    (rows, row_ends.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_intervals_get_separate_rows() {
        let (rows, used) = first_fit(&[(0.0, 10.0), (5.0, 15.0), (10.0, 20.0)], 4);
        assert_eq!(rows, vec![0, 1, 0]);
        assert_eq!(used, 2);
    }

    #[test]
    fn rows_are_capped() {
        let (rows, used) = first_fit(&[(0.0, 10.0), (1.0, 10.0), (2.0, 10.0)], 2);
        assert_eq!(rows, vec![0, 1, 1]);
        assert_eq!(used, 2);
    }
}
