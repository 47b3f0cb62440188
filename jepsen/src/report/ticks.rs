//! Axis arithmetic shared by the plots and the timeline: "nice" tick steps (1, 2 or 5 times a
//! power of ten, as people count), linear and decade-logarithmic scales from data to pixels,
//! and the time extent of a run.

use crate::history::{History, NemesisPeriod};

/// The step among 1, 2, 5 × 10^k closest above `span / target`, so about `target` ticks cover
/// `span`. Never zero or negative.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span.abs() / target.max(1) as f64;
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let mantissa = raw / power;
    let nice = if mantissa <= 1.0 {
        1.0
    } else if mantissa <= 2.0 {
        2.0
    } else if mantissa <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Multiples of `step` from `lo` to `hi` inclusive (with a little slack for rounding).
pub(crate) fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if step <= 0.0 || !step.is_finite() || hi < lo {
        return out;
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // At most a few hundred ticks whatever the caller asked, so a bad step cannot blow up.
    for i in first..=last.min(first + 500) {
        out.push(i as f64 * step);
    }
    out
}

/// Fraction digits a label needs to tell ticks `step` apart (`0.25` → 2, `5` → 0).
pub(crate) fn decimals(step: f64) -> usize {
    let mut decimals = 0;
    let mut scaled = step;
    while decimals < 6 && (scaled - scaled.round()).abs() > 1e-9 * scaled.abs().max(1.0) {
        scaled *= 10.0;
        decimals += 1;
    }
    decimals
}

/// A linear map from a data interval onto a pixel interval.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Linear {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) from: f64,
    pub(crate) to: f64,
}

impl Linear {
    pub(crate) fn map(&self, value: f64) -> f64 {
        let span = self.hi - self.lo;
        if span <= 0.0 {
            return self.from;
        }
        self.from + (value - self.lo) / span * (self.to - self.from)
    }
}

/// A base-10 logarithmic map from a positive data interval onto a pixel interval; values at or
/// below `lo` land on `from`.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Log10 {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) from: f64,
    pub(crate) to: f64,
}

impl Log10 {
    pub(crate) fn map(&self, value: f64) -> f64 {
        let (lo, hi) = (self.lo.log10(), self.hi.log10());
        if hi <= lo {
            return self.from;
        }
        let v = value.max(self.lo).log10();
        self.from + (v - lo) / (hi - lo) * (self.to - self.from)
    }
}

/// The decades `10^a ..= 10^b` enclosing `[min, max]` (both at least 1), with at least one
/// decade between them.
pub(crate) fn decades(min: f64, max: f64) -> (f64, f64) {
    let lo = 10f64.powf(min.max(1.0).log10().floor());
    let mut hi = 10f64.powf(max.max(1.0).log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// The last moment anything happened in the run, in ms since it began: an invocation, a
/// completion or the end of a fault. At least 1 so a scale over it is never empty, and a
/// second for a run where nothing happened, so its empty plot has ordinary ticks.
pub(crate) fn run_end_ms(history: &History, nemesis: &[NemesisPeriod]) -> u64 {
    let ops = history
        .ops()
        .iter()
        .map(|op| op.complete_ms.unwrap_or(op.invoke_ms).max(op.invoke_ms));
    let faults = nemesis.iter().map(|p| p.end_ms.max(p.start_ms));
    ops.chain(faults).max().map_or(1_000, |end| end.max(1))
}

/// A duration in ms for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub(crate) fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", super::escape::num(ms as f64 / 1_000.0, 1))
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(60.0, 10), 10.0);
        assert_eq!(nice_step(12.0, 10), 2.0);
        assert_eq!(nice_step(0.4, 10), 0.05);
        assert_eq!(nice_step(0.0, 10), 1.0);
    }

    #[test]
    fn ticks_cover_the_interval() {
        assert_eq!(
            ticks(0.0, 60.0, 10.0),
            vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
        assert_eq!(decimals(0.05), 2);
        assert_eq!(decimals(10.0), 0);
    }

    #[test]
    fn log_scale_spans_whole_decades() {
        assert_eq!(decades(3.0, 450.0), (1.0, 1000.0));
        assert_eq!(decades(0.0, 0.0), (1.0, 10.0));
        let scale = Log10 {
            lo: 1.0,
            hi: 100.0,
            from: 100.0,
            to: 0.0,
        };
        assert_eq!(scale.map(10.0), 50.0);
        assert_eq!(scale.map(0.0), 100.0);
    }
}
