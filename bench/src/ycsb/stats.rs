//! What a client measured: an HDR histogram of latencies per operation kind, errors per kind
//! with a few sample messages, and one small histogram per second of the run. Every client
//! task keeps its own (no shared lock on the hot path); they are merged at the end.
//!
//! Latencies are recorded in microseconds with three significant digits, so p50 of a 80 µs
//! loopback request and p99.9 of a 2 s stall are both exact to 0.1%.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{Latency, SecondSample};

/// Distinct error messages kept per run, for the report.
const MAX_ERROR_SAMPLES: usize = 10;

/// A histogram that grows as needed (auto-resize), so no latency is ever out of range.
pub fn histogram() -> Histogram<u64> {
    // Three significant digits is always a valid precision: the constructor cannot fail.
    match Histogram::new(3) {
        Ok(h) => h,
        Err(_) => unreachable!("3 significant digits is within hdrhistogram's 0..=5"),
    }
}

/// Records a value. `record` grows an auto-resizing histogram to fit (`saturating_record`
/// would clamp to its current top instead); it cannot fail then, but if it ever did the value
/// is clamped rather than lost.
fn put(h: &mut Histogram<u64>, micros: u64) {
    if h.record(micros).is_err() {
        h.saturating_record(micros);
    }
}

/// One second of a run, while it is being recorded.
#[derive(Clone, Debug)]
struct Second {
    ops: u64,
    errors: u64,
    latency: Histogram<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    per_kind: BTreeMap<&'static str, Histogram<u64>>,
    errors: BTreeMap<&'static str, u64>,
    error_samples: Vec<String>,
    seconds: Vec<Option<Second>>,
}

impl Stats {
    /// A successful operation of `kind`, `micros` long, that ended in second `second` of the
    /// measured part.
    pub fn record(&mut self, kind: &'static str, micros: u64, second: u64) {
        let micros = micros.max(1);
        put(self.per_kind.entry(kind).or_insert_with(histogram), micros);
        let s = self.second(second);
        s.ops += 1;
        put(&mut s.latency, micros);
    }

    /// A failed operation of `kind`; `message` is kept if it is a new one and there is room.
    pub fn error(&mut self, kind: &'static str, message: &str, second: u64) {
        *self.errors.entry(kind).or_default() += 1;
        self.second(second).errors += 1;
        if self.error_samples.len() < MAX_ERROR_SAMPLES
            && !self.error_samples.iter().any(|m| m == message)
        {
            self.error_samples.push(message.to_owned());
        }
    }

    fn second(&mut self, second: u64) -> &mut Second {
        let i = usize::try_from(second).unwrap_or(usize::MAX).min(1 << 20);
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, None);
        }
        self.seconds[i].get_or_insert_with(|| Second {
            ops: 0,
            errors: 0,
            latency: histogram(),
        })
    }

    /// Adds another client's figures to these.
    pub fn merge(&mut self, other: Stats) {
        for (kind, h) in other.per_kind {
            let mine = self.per_kind.entry(kind).or_insert_with(histogram);
            // Both auto-resize, so adding cannot run out of range.
            let _ = mine.add(&h);
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        for message in other.error_samples {
            if self.error_samples.len() < MAX_ERROR_SAMPLES
                && !self.error_samples.contains(&message)
            {
                self.error_samples.push(message);
            }
        }
        for (i, second) in other.seconds.into_iter().enumerate() {
            let Some(second) = second else { continue };
            let mine = self.second(i as u64);
            mine.ops += second.ops;
            mine.errors += second.errors;
            let _ = mine.latency.add(&second.latency);
        }
    }

    /// Every operation kind together.
    pub fn overall(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in self.per_kind.values() {
            let _ = all.add(h);
        }
        all
    }

    pub fn ops(&self) -> u64 {
        self.per_kind.values().map(|h| h.len()).sum()
    }

    pub fn errors(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn per_kind(&self) -> &BTreeMap<&'static str, Histogram<u64>> {
        &self.per_kind
    }

    pub fn errors_per_kind(&self) -> &BTreeMap<&'static str, u64> {
        &self.errors
    }

    pub fn error_samples(&self) -> &[String] {
        &self.error_samples
    }

    /// Ops, errors, p50 and p99 of each second, the first `seconds` seconds (an operation that
    /// ended just after the end is counted in the last second).
    pub fn series(&self, seconds: u64) -> Vec<SecondSample> {
        let len = (seconds.max(1) as usize).min(self.seconds.len().max(1));
        let mut out: Vec<SecondSample> = (0..len)
            .map(|t| SecondSample {
                t: t as u64,
                ..Default::default()
            })
            .collect();
        let mut last_latency: Option<Histogram<u64>> = None;
        for (i, second) in self.seconds.iter().enumerate() {
            let Some(second) = second else { continue };
            let slot = i.min(len - 1);
            out[slot].ops += second.ops;
            out[slot].errors += second.errors;
            if i < len - 1 {
                out[slot].p50_ms = ms(second.latency.value_at_quantile(0.5));
                out[slot].p99_ms = ms(second.latency.value_at_quantile(0.99));
            } else {
                let h = last_latency.get_or_insert_with(histogram);
                let _ = h.add(&second.latency);
            }
        }
        if let Some(h) = last_latency {
            if !h.is_empty() {
                out[len - 1].p50_ms = ms(h.value_at_quantile(0.5));
                out[len - 1].p99_ms = ms(h.value_at_quantile(0.99));
            }
        }
        out
    }
}

/// Microseconds to milliseconds.
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1_000.0
}

/// p50/p90/p99/p99.9/max/mean of a histogram, in milliseconds (all zero if it is empty).
pub fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1_000.0,
    }
}

/// The latency CDF for the report: points at fractions 0, 0.5, 0.9, … spaced evenly on a
/// log scale of `1 / (1 - fraction)` (20 per decade), up to the last fraction the number of
/// samples can tell apart, then the maximum at fraction 1.
pub fn cdf(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let resolution = 1.0 - 1.0 / h.len() as f64;
    let mut points = Vec::new();
    for step in 0..=120 {
        let q = 1.0 - 10f64.powf(-(step as f64) / 20.0);
        if q > resolution || q > 0.999_999 {
            break;
        }
        points.push((q, ms(h.value_at_quantile(q))));
    }
    points.push((1.0, ms(h.max())));
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_data() {
        let mut stats = Stats::default();
        // 1..=1000 µs once each: p50 ≈ 500 µs, p99 ≈ 990 µs, max 1000 µs.
        for micros in 1..=1_000u64 {
            stats.record("read", micros, micros / 500);
        }
        stats.record("update", 10_000, 2);
        let read = latency(&stats.per_kind()["read"]);
        assert!((read.p50_ms - 0.5).abs() < 0.002, "{read:?}");
        assert!((read.p90_ms - 0.9).abs() < 0.002, "{read:?}");
        assert!((read.p99_ms - 0.99).abs() < 0.002, "{read:?}");
        assert!((read.max_ms - 1.0).abs() < 0.002, "{read:?}");
        assert!((read.mean_ms - 0.5005).abs() < 0.002, "{read:?}");
        let all = latency(&stats.overall());
        assert!((all.max_ms - 10.0).abs() < 0.01, "{all:?}");
        assert_eq!(stats.ops(), 1_001);
        let series = stats.series(3);
        assert_eq!(
            series.iter().map(|s| s.ops).collect::<Vec<_>>(),
            vec![499, 500, 2]
        );
        assert!(series[1].p50_ms > series[0].p50_ms);
        let cdf = cdf(&stats.overall());
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(cdf.last().map(|p| p.0), Some(1.0));
    }

    #[test]
    fn merging_clients_adds_ops_errors_and_seconds() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.record("read", 100, 0);
        b.record("read", 300, 1);
        b.error("update", "server error: ERR x", 1);
        b.error("update", "server error: ERR x", 1);
        a.merge(b);
        assert_eq!(a.ops(), 2);
        assert_eq!(a.errors(), 2);
        assert_eq!(a.errors_per_kind()["update"], 2);
        assert_eq!(a.error_samples(), ["server error: ERR x".to_string()]);
        let series = a.series(2);
        assert_eq!(series[1].errors, 2);
        assert!((series[1].p50_ms - 0.3).abs() < 0.001);
        // An operation that ended after the last whole second counts in the last second.
        a.record("read", 100, 5);
        assert_eq!(a.series(2)[1].ops, 2);
    }
}
