//! Counters: every final value of a key is its acknowledged increments plus some subset of its
//! indeterminate ones.
//!
//! An `ok` increment took effect, a `fail` one definitely did not, an `info` one may have. So a
//! counter that loses nothing and invents nothing ends at `sum(ok) + sum(S)` for some subset `S`
//! of the `info` deltas, which lies between `sum(ok) + sum(negative info)` and
//! `sum(ok) + sum(positive info)`. The check is that bound, on every view of the key (each final
//! read and each replica's stored copy). A lost acknowledged increment, an increment applied
//! twice (a duplicated message replayed) or a failed one that was applied all move the value out
//! of the bound unless `info` deltas happen to cover it; small deltas keep that window narrow.
//!
//! An absent key reads as 0, as `GET` of a never-incremented counter does in Redis.

use std::collections::BTreeMap;
use std::fmt;

use super::{FinalState, FinalView};
use crate::history::{History, OpKind, OpOutcome};

/// One view of a key whose value is outside what the history allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterViolation {
    pub key: String,
    /// Where the value was seen.
    pub source: String,
    pub observed: FinalState,
    /// The allowed range, inclusive.
    pub low: i64,
    pub high: i64,
    /// The acknowledged increments: their sum and how many there were.
    pub ok_sum: i64,
    pub ok_count: usize,
    /// The indeterminate increments: (operation index, delta).
    pub info: Vec<(usize, i64)>,
}

impl fmt::Display for CounterViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let observed = match &self.observed {
            FinalState::Counter(n) => n.to_string(),
            FinalState::Absent => "absent (0)".to_owned(),
            other => format!("{other:?}, not a counter"),
        };
        let info: Vec<String> = self
            .info
            .iter()
            .map(|(op, delta)| format!("#{op}:{delta:+}"))
            .collect();
        write!(
            f,
            "counter key {} reads {observed} in {}, expected {}..={} \
             ({} ok increments summing to {}; info increments [{}])",
            self.key,
            self.source,
            self.low,
            self.high,
            self.ok_count,
            self.ok_sum,
            info.join(" ")
        )
    }
}

/// The increments of one key.
#[derive(Default)]
struct Bounds {
    ok_sum: i64,
    ok_count: usize,
    info: Vec<(usize, i64)>,
}

impl Bounds {
    fn low(&self) -> i64 {
        self.info
            .iter()
            .filter(|(_, d)| *d < 0)
            .fold(self.ok_sum, |sum, (_, d)| sum.saturating_add(*d))
    }

    fn high(&self) -> i64 {
        self.info
            .iter()
            .filter(|(_, d)| *d > 0)
            .fold(self.ok_sum, |sum, (_, d)| sum.saturating_add(*d))
    }
}

/// Checks every view against the increments `history` records for its key. The caller supplies
/// at least one view of every key the workload used.
pub fn check(history: &History, views: &[FinalView]) -> Vec<CounterViolation> {
    let mut by_key: BTreeMap<&str, Bounds> = BTreeMap::new();
    for (index, op) in history.ops().iter().enumerate() {
        let OpKind::Incr(delta) = op.kind else {
            continue;
        };
        let bounds = by_key.entry(&op.key).or_default();
        match op.outcome() {
            OpOutcome::Ok => {
                bounds.ok_sum = bounds.ok_sum.saturating_add(delta);
                bounds.ok_count += 1;
            }
            OpOutcome::Info => bounds.info.push((index, delta)),
            OpOutcome::Fail => {}
        }
    }
    let none = Bounds::default();
    let mut violations = Vec::new();
    for view in views {
        let bounds = by_key.get(view.key.as_str()).unwrap_or(&none);
        let (low, high) = (bounds.low(), bounds.high());
        let value = match view.state {
            FinalState::Absent => Some(0),
            FinalState::Counter(n) => Some(n),
            FinalState::Set(_) | FinalState::Other(_) => None,
        };
        if value.is_some_and(|v| (low..=high).contains(&v)) {
            continue;
        }
        violations.push(CounterViolation {
            key: view.key.clone(),
            source: view.source.clone(),
            observed: view.state.clone(),
            low,
            high,
            ok_sum: bounds.ok_sum,
            ok_count: bounds.ok_count,
            info: bounds.info.clone(),
        });
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history of increments on key `k`: (delta, outcome).
    fn history(incrs: &[(i64, OpOutcome)]) -> History {
        let mut h = History::new();
        for (i, (delta, outcome)) in incrs.iter().enumerate() {
            let at = i as u64 * 10;
            let op = h.invoke(i as u64, 1, "k", OpKind::Incr(*delta), None, at);
            h.complete(op, *outcome, None, String::new(), at + 5);
        }
        h
    }

    fn view(state: FinalState) -> FinalView {
        FinalView {
            key: "k".to_owned(),
            source: "storage of n1".to_owned(),
            state,
        }
    }

    #[test]
    fn acknowledged_increments_plus_some_indeterminate_ones_pass() {
        let h = history(&[
            (3, OpOutcome::Ok),
            (-1, OpOutcome::Ok),
            (5, OpOutcome::Info),
            (-2, OpOutcome::Info),
            (100, OpOutcome::Fail),
        ]);
        // ok sum 2; info may add anything from -2 to +5.
        for value in [0, 2, 5, 7] {
            assert!(
                check(&h, &[view(FinalState::Counter(value))]).is_empty(),
                "{value}"
            );
        }
    }

    #[test]
    fn a_lost_acknowledged_increment_is_reported_with_its_bounds() {
        let h = history(&[
            (3, OpOutcome::Ok),
            (4, OpOutcome::Ok),
            (-2, OpOutcome::Info),
        ]);
        let violations = check(&h, &[view(FinalState::Counter(3))]);
        assert_eq!(violations.len(), 1, "{violations:?}");
        let v = &violations[0];
        assert_eq!((v.low, v.high, v.ok_sum, v.ok_count), (5, 7, 7, 2));
        assert_eq!(v.info, vec![(2, -2)]);
        let text = v.to_string();
        assert!(
            text.contains("key k reads 3 in storage of n1, expected 5..=7"),
            "{text}"
        );
        assert!(text.contains("#2:-2"), "{text}");
    }

    #[test]
    fn a_failed_increment_that_was_applied_is_reported() {
        let h = history(&[(2, OpOutcome::Ok), (1, OpOutcome::Fail)]);
        assert_eq!(check(&h, &[view(FinalState::Counter(3))]).len(), 1);
    }

    #[test]
    fn an_absent_key_counts_as_zero_and_another_type_fails() {
        let h = history(&[(2, OpOutcome::Info)]);
        assert!(check(&h, &[view(FinalState::Absent)]).is_empty());
        let wrong = check(&h, &[view(FinalState::Other("Str(\"2\")".to_owned()))]);
        assert_eq!(wrong.len(), 1);
        assert!(wrong[0].to_string().contains("not a counter"));
    }
}
