//! The report's three charts, built from the results: latency over time (p99 solid, p50
//! dashed), the latency distribution by percentile, and throughput over time. `colors[i]` is
//! result `i`'s palette index, so that a contender keeps its colour throughout the page.

use super::svg::{Chart, Scale, Series};
use crate::ycsb::RunResult;

/// What the legend calls a result: its contender, plus whatever else tells results apart
/// (workload, clients, pipeline, mode) when the page holds several that differ in it.
pub fn label(results: &[RunResult], i: usize) -> String {
    let r = &results[i];
    let mut text = r.contender.clone();
    let differs = |f: &dyn Fn(&RunResult) -> String| results.iter().any(|o| f(o) != f(r));
    if differs(&|o| o.workload.clone()) {
        text.push_str(&format!(" · {}", r.workload));
    }
    if differs(&|o| o.clients.to_string()) {
        text.push_str(&format!(" · {} clients", r.clients));
    }
    if differs(&|o| o.pipeline.to_string()) {
        text.push_str(&format!(" · pipeline {}", r.pipeline));
    }
    if differs(&|o| o.mode.clone()) {
        text.push_str(&format!(" · {}", r.mode));
    }
    text
}

/// Log scale when values span more than this ratio (tails would flatten everything else).
const LOG_WHEN_RATIO: f64 = 20.0;

fn y_scale(values: impl Iterator<Item = f64>) -> Scale {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi > 0.0 && hi / lo > LOG_WHEN_RATIO {
        Scale::Log
    } else {
        Scale::Linear
    }
}

fn scale_note(scale: Scale) -> &'static str {
    match scale {
        Scale::Log => " (log scale)",
        Scale::Linear => "",
    }
}

pub fn latency_over_time(results: &[RunResult], colors: &[usize]) -> Chart {
    let mut series = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let name = label(results, i);
        for (dashed, pick) in [(false, 99), (true, 50)] {
            series.push(Series {
                label: name.clone(),
                color: colors.get(i).copied().unwrap_or(i),
                dashed,
                points: r
                    .series
                    .iter()
                    .filter(|s| s.ops > 0)
                    .map(|s| {
                        let v = if pick == 99 { s.p99_ms } else { s.p50_ms };
                        (s.t as f64 + 0.5, v)
                    })
                    .collect(),
            });
        }
    }
    let scale = y_scale(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    Chart {
        title: "Latency over time".into(),
        subtitle: "each second of the measured run: p99 solid, p50 dashed".into(),
        x_label: "time since the measured run began (s)".into(),
        y_label: format!("latency (ms){}", scale_note(scale)),
        y_scale: scale,
        x_ticks: None,
        y_from_zero: scale == Scale::Linear,
        x_from_zero: true,
        series,
    }
}

/// Percentile `q` (a fraction below 1) as its position on the CDF's x axis:
/// `log10(1 / (1 - q))`, so p90, p99 and p99.9 are evenly spaced.
pub fn cdf_x(q: f64) -> f64 {
    -(1.0 - q.min(1.0 - 1e-9)).log10()
}

/// One solid line per result, in its colour, through the points `points` picks from it.
fn solid_lines(
    results: &[RunResult],
    colors: &[usize],
    points: impl Fn(&RunResult) -> Vec<(f64, f64)>,
) -> Vec<Series> {
    results
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            label: label(results, i),
            color: colors.get(i).copied().unwrap_or(i),
            dashed: false,
            points: points(r),
        })
        .collect()
}

pub fn latency_cdf(results: &[RunResult], colors: &[usize]) -> Chart {
    let series = solid_lines(results, colors, |r| {
        // The maximum (fraction 1) has no place on this axis; the tables show it.
        r.cdf
            .iter()
            .filter(|(q, _)| *q < 1.0)
            .map(|(q, ms)| (cdf_x(*q), *ms))
            .collect()
    });
    let scale = y_scale(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let ticks = [
        (0.0, "p0"),
        (0.5, "p50"),
        (0.9, "p90"),
        (0.99, "p99"),
        (0.999, "p99.9"),
        (0.9999, "p99.99"),
        (0.99999, "p99.999"),
    ];
    Chart {
        title: "Latency by percentile".into(),
        subtitle: "the latency that this share of requests stayed within".into(),
        x_label: "percentile (log scale of 1 / (1 − fraction))".into(),
        y_label: format!("latency (ms){}", scale_note(scale)),
        y_scale: scale,
        x_ticks: Some(
            ticks
                .iter()
                .map(|(q, text)| (cdf_x(*q), text.to_string()))
                .collect(),
        ),
        y_from_zero: scale == Scale::Linear,
        x_from_zero: false,
        series,
    }
}

pub fn throughput_over_time(results: &[RunResult], colors: &[usize]) -> Chart {
    let series = solid_lines(results, colors, |r| {
        r.series
            .iter()
            .map(|s| (s.t as f64 + 0.5, s.ops as f64))
            .collect()
    });
    Chart {
        title: "Throughput over time".into(),
        subtitle: "successful operations completed in each second".into(),
        x_label: "time since the measured run began (s)".into(),
        y_label: "throughput (ops/s)".into(),
        y_scale: Scale::Linear,
        x_ticks: None,
        y_from_zero: true,
        x_from_zero: true,
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_axis_spaces_nines_evenly_and_labels_tell_results_apart() {
        assert!((cdf_x(0.9) - 1.0).abs() < 1e-9);
        assert!((cdf_x(0.99) - 2.0).abs() < 1e-9);
        assert!((cdf_x(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(cdf_x(0.0), 0.0);
        let mut a = RunResult {
            contender: "kvorum".into(),
            workload: "a".into(),
            clients: 50,
            ..Default::default()
        };
        let mut b = a.clone();
        b.workload = "writes".into();
        assert_eq!(label(&[a.clone(), b.clone()], 1), "kvorum · writes");
        a.workload = "writes".into();
        b.contender = "redis".into();
        assert_eq!(label(&[a, b], 1), "redis");
    }
}
