//! The two SVG plots of a run, drawn for a person to look at (Jepsen's `latency-raw` and
//! `rate`): every operation's latency against when it was invoked, and completions per second
//! over time, both with the nemesis periods shaded so cause and effect line up. The shared frame
//! (title, fault strip, axes, legend) is in [`super::chart`].

use std::fmt::Write as _;

use super::chart::Chart;
use super::escape::num;
use super::outcome_name;
use super::palette::{self, KINDS, OUTCOMES};
use super::ticks;
use crate::history::{History, NemesisPeriod, Op, OpOutcome};

const LATENCY_PLOT_HEIGHT: f64 = 380.0;
const RATE_PLOT_HEIGHT: f64 = 300.0;
/// Colour of the operation shapes in the legend, which stand for every outcome at once.
const NEUTRAL: &str = "#666";
/// Rate buckets, in ms, from which the smallest giving at most [`MAX_BUCKETS`] is chosen.
const BUCKETS_MS: [u64; 12] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000,
    3_600_000,
];
const MAX_BUCKETS: u64 = 300;

/// Latency (ms, log scale) of every completed operation against its invocation time: one point
/// per operation, coloured by outcome (`ok` blue, `info` orange, `fail` pink, as Jepsen's) and
/// shaped by function (the legend says which). Operations still pending at the end have no
/// latency and are only counted in the subtitle.
pub fn latency_svg(history: &History, nemesis: &[NemesisPeriod], title: &str) -> String {
    let completed: Vec<(&Op, u64)> = history
        .ops()
        .iter()
        .filter_map(|op| {
            let done = op.complete_ms?;
            op.outcome?;
            Some((op, done.saturating_sub(op.invoke_ms)))
        })
        .collect();
    let pending = history.ops().len() - completed.len();
    let counts = outcome_counts(completed.iter().map(|(op, _)| op.outcome()));
    let mut subtitle = format!(
        "{} completed operations ({})",
        completed.len(),
        counts_text(&counts)
    );
    if pending > 0 {
        let _ = write!(subtitle, "; {pending} still pending at the end, not shown");
    }
    if completed.iter().any(|(_, latency)| *latency == 0) {
        subtitle.push_str("; under 1 ms drawn at 1 ms");
    }

    let end = ticks::run_end_ms(history, nemesis);
    let mut chart = Chart::new(title, &subtitle, end, nemesis, LATENCY_PLOT_HEIGHT);
    let min = completed.iter().map(|(_, l)| *l).min().unwrap_or(1) as f64;
    let max = completed.iter().map(|(_, l)| *l).max().unwrap_or(10) as f64;
    let y = chart.y_log(min, max, "latency", latency_label);
    if completed.is_empty() {
        chart.note(&empty_note(pending));
    }

    // One group per (outcome, function) so each point is a bare path; rarer outcomes last, on top.
    let mut groups = vec![String::new(); OUTCOMES.len() * KINDS.len()];
    for (op, latency) in &completed {
        let outcome = OUTCOMES
            .iter()
            .position(|o| *o == op.outcome())
            .unwrap_or(0);
        if let Some(points) = groups.get_mut(outcome * KINDS.len() + palette::kind_slot(op.kind)) {
            let px = chart.x.map(op.invoke_ms as f64 / 1_000.0);
            let py = y.map(*latency as f64);
            points.push_str(&palette::marker(op.kind).path(px, py, 3.0));
        }
    }
    let pairs = OUTCOMES
        .iter()
        .flat_map(|outcome| KINDS.iter().map(move |kind| (*outcome, *kind)));
    for ((outcome, kind), points) in pairs.zip(&groups) {
        if points.is_empty() {
            continue;
        }
        let colour = palette::plot_outcome(outcome);
        let paint = if palette::marker(kind).hollow() {
            format!(r#"fill="none" stroke="{colour}" stroke-width="1.2""#)
        } else {
            format!(r#"fill="{colour}" fill-opacity="0.85""#)
        };
        let _ = writeln!(
            chart.data(),
            r#"<g class="{} {}" {paint}>{points}</g>"#,
            outcome_name(outcome),
            kind.name()
        );
    }

    chart.legend_heading("outcome");
    for (outcome, count) in OUTCOMES.iter().zip(counts) {
        chart.legend_marker(
            palette::Marker::Circle,
            palette::plot_outcome(*outcome),
            &format!("{} ({count})", outcome_name(*outcome)),
        );
    }
    let used: Vec<_> = KINDS
        .iter()
        .filter(|kind| {
            completed
                .iter()
                .any(|(op, _)| palette::kind_slot(op.kind) == palette::kind_slot(**kind))
        })
        .collect();
    if !used.is_empty() {
        chart.legend_heading("operation");
        for kind in used {
            chart.legend_marker(palette::marker(*kind), NEUTRAL, kind.name());
        }
    }
    chart.legend_faults(nemesis);
    chart.finish()
}

/// Completions per second over time, one line per outcome, counted in 1 s buckets (wider ones
/// for long runs, so a line has at most a few hundred points).
pub fn rate_svg(history: &History, nemesis: &[NemesisPeriod], title: &str) -> String {
    let end = ticks::run_end_ms(history, nemesis);
    let bucket_ms = BUCKETS_MS
        .iter()
        .copied()
        .find(|b| end / b < MAX_BUCKETS)
        .unwrap_or(BUCKETS_MS[BUCKETS_MS.len() - 1]);
    let buckets = (end / bucket_ms + 1) as usize;
    let mut per_outcome = [
        vec![0u64; buckets],
        vec![0u64; buckets],
        vec![0u64; buckets],
    ];
    let mut pending = 0;
    for op in history.ops() {
        let (Some(outcome), Some(done)) = (op.outcome, op.complete_ms) else {
            pending += 1;
            continue;
        };
        let slot = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(0);
        let bucket = (done / bucket_ms) as usize;
        if let Some(count) = per_outcome.get_mut(slot).and_then(|c| c.get_mut(bucket)) {
            *count += 1;
        }
    }
    let totals: Vec<u64> = per_outcome.iter().map(|c| c.iter().sum()).collect();
    let completed: u64 = totals.iter().sum();
    let mut subtitle = format!(
        "completions per second in {} buckets; {completed} completed",
        ticks::duration(bucket_ms)
    );
    if pending > 0 {
        let _ = write!(subtitle, ", {pending} still pending at the end");
    }

    let mut chart = Chart::new(title, &subtitle, end, nemesis, RATE_PLOT_HEIGHT);
    let peak = per_outcome
        .iter()
        .flat_map(|counts| counts.iter().enumerate())
        .filter_map(|(bucket, count)| bucket_point(bucket, *count, bucket_ms, end))
        .map(|(_, rate)| rate)
        .fold(0.0, f64::max);
    let y = chart.y_linear(0.0, peak.max(1.0), "completions per second");
    if completed == 0 {
        chart.note(&empty_note(pending));
    }
    for (outcome, counts) in OUTCOMES.iter().zip(&per_outcome) {
        if counts.iter().all(|c| *c == 0) {
            continue;
        }
        let mut points = String::new();
        for (bucket, count) in counts.iter().enumerate() {
            let Some((t, rate)) = bucket_point(bucket, *count, bucket_ms, end) else {
                continue;
            };
            let _ = write!(
                points,
                "{},{} ",
                num(chart.x.map(t), 1),
                num(y.map(rate), 1)
            );
        }
        let _ = writeln!(
            chart.data(),
            r#"<polyline class="{}" points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
            outcome_name(*outcome),
            points.trim_end(),
            palette::line_outcome(*outcome)
        );
    }
    chart.legend_heading("outcome");
    for (outcome, total) in OUTCOMES.iter().zip(&totals) {
        chart.legend_line(
            palette::line_outcome(*outcome),
            &format!("{} ({total})", outcome_name(*outcome)),
        );
    }
    chart.legend_faults(nemesis);
    chart.finish()
}

/// Where bucket `bucket` of a line is drawn: at its middle (seconds), at `count` over its
/// length per second. The last bucket, cut short by the end of the run, counts over the part
/// the run covered, and is left out if that is under half a bucket (unless it is the only one):
/// a few operations in a sliver of time would otherwise draw a spike or a plunge that did not
/// happen.
fn bucket_point(bucket: usize, count: u64, bucket_ms: u64, end_ms: u64) -> Option<(f64, f64)> {
    let start = bucket as u64 * bucket_ms;
    let covered = (end_ms.saturating_sub(start)).min(bucket_ms);
    if bucket > 0 && covered * 2 < bucket_ms {
        return None;
    }
    let covered = covered.max(1);
    let middle = (start as f64 + covered as f64 / 2.0) / 1_000.0;
    Some((middle, count as f64 * 1_000.0 / covered as f64))
}

/// How many completed operations ended each way, in [`OUTCOMES`] order.
fn outcome_counts(outcomes: impl Iterator<Item = OpOutcome>) -> [usize; 3] {
    let mut counts = [0; 3];
    for outcome in outcomes {
        if let Some(slot) = OUTCOMES.iter().position(|o| *o == outcome) {
            if let Some(count) = counts.get_mut(slot) {
                *count += 1;
            }
        }
    }
    counts
}

fn counts_text(counts: &[usize; 3]) -> String {
    OUTCOMES
        .iter()
        .zip(counts)
        .map(|(o, n)| format!("{n} {}", outcome_name(*o)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn empty_note(pending: usize) -> String {
    if pending == 0 {
        "no operations were recorded".to_owned()
    } else {
        format!("no operation completed ({pending} still pending)")
    }
}

/// `1 ms`, `100 ms`, `1 s`, `10 s` for the decade ticks of the latency axis.
fn latency_label(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{} ms", num(ms, 0))
    } else {
        format!("{} s", num(ms / 1_000.0, 0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::history::OpKind;
    use crate::report::testing;

    fn fault_bands(svg: &str) -> usize {
        svg.matches("<g class=\"fault\">").count()
    }

    #[test]
    fn latency_plot_has_a_point_per_completed_op_bands_and_legend() {
        let (h, nemesis) = testing::run(3_000, 60);
        let svg = latency_svg(&h, &nemesis, "latency");
        testing::well_formed(&svg).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        let completed = h.ops().iter().filter(|op| op.outcome.is_some()).count();
        // Points are the paths inside the data groups; legend swatches sit in their own groups.
        let points: usize = svg
            .lines()
            .filter(|l| l.starts_with("<g class=\"") && !l.starts_with("<g class=\"fault"))
            .map(|l| l.matches("<path").count())
            .sum();
        assert_eq!(points, completed);
        assert_eq!(fault_bands(&svg), nemesis.len());
        assert_eq!(
            svg.matches("font-weight=\"bold\">partition</text>").count(),
            2
        );
        assert_eq!(svg.matches("font-weight=\"bold\">kill</text>").count(), 1);
        for entry in [
            "ok (", "info (", "fail (", ">read<", ">write<", ">incr<", ">sadd<",
        ] {
            assert!(svg.contains(entry), "legend lacks {entry}");
        }
        assert!(svg.contains(">faults</text>"));
        assert!(svg.contains("1 still pending at the end, not shown"));
        assert!(svg.contains(">latency</text>"));
        assert!(svg.contains(">1 s</text>"), "a decade tick at 1 s");
    }

    #[test]
    fn rate_plot_has_a_line_per_outcome_bands_and_legend() {
        let (h, nemesis) = testing::run(3_000, 60);
        let svg = rate_svg(&h, &nemesis, "rate");
        testing::well_formed(&svg).unwrap();
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(fault_bands(&svg), nemesis.len());
        for entry in ["ok (", "info (", "fail (", ">partition<", ">kill<"] {
            assert!(svg.contains(entry), "legend lacks {entry}");
        }
        assert!(svg.contains("in 1 s buckets"));
        // One point per one-second bucket.
        let ok_line = svg
            .lines()
            .find(|l| l.starts_with("<polyline class=\"ok\""))
            .unwrap();
        let end = ticks::run_end_ms(&h, &nemesis);
        let buckets = end / 1_000 + u64::from(end % 1_000 >= 500);
        assert_eq!(ok_line.matches(',').count() as u64, buckets);
    }

    #[test]
    fn long_runs_get_wider_buckets() {
        let mut h = History::new();
        let op = h.invoke(0, 1, "k", OpKind::Write, Some(1), 0);
        h.complete(op, OpOutcome::Ok, None, String::new(), 3_600_000);
        let svg = rate_svg(&h, &[], "an hour");
        assert!(svg.contains("in 15 s buckets"), "{svg}");
    }

    #[test]
    fn empty_and_pending_only_histories_render_a_note() {
        for svg in [
            latency_svg(&History::new(), &[], "empty"),
            rate_svg(&History::new(), &[], "empty"),
        ] {
            testing::well_formed(&svg).unwrap();
            assert!(svg.contains("no operations were recorded"));
        }
        let mut h = History::new();
        h.invoke(0, 1, "k", OpKind::Read, None, 5);
        h.invoke(1, 1, "k", OpKind::Read, None, 6);
        for svg in [
            latency_svg(&h, &[], "pending"),
            rate_svg(&h, &[], "pending"),
        ] {
            testing::well_formed(&svg).unwrap();
            assert!(svg.contains("no operation completed (2 still pending)"));
        }
    }

    #[test]
    fn run_text_is_escaped() {
        let mut h = History::new();
        let op = h.invoke(0, 1, "<&\">", OpKind::Write, Some(1), 0);
        h.complete(op, OpOutcome::Ok, None, "<ok>".into(), 5);
        let nemesis = [NemesisPeriod {
            name: "<&\">".into(),
            detail: "n1 <-> n2 & \"n3\"".into(),
            start_ms: 1,
            end_ms: 3,
        }];
        for svg in [
            latency_svg(&h, &nemesis, "t <&\">"),
            rate_svg(&h, &nemesis, "t <&\">"),
        ] {
            testing::well_formed(&svg).unwrap();
            assert!(svg.contains("<title>t &lt;&amp;&quot;&gt;</title>"));
            assert!(svg.contains(">&lt;&amp;&quot;&gt;</text>"));
            assert!(svg.contains("n1 &lt;-&gt; n2 &amp; &quot;n3&quot;"));
            assert!(!svg.contains("<&\">"));
        }
    }
}
