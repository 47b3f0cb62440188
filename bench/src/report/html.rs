//! The report as one self-contained HTML page: what was run and where, a table per result
//! (throughput, latency percentiles, errors, CPU per operation), per-operation latencies, the
//! caller's own tables, error samples, and the three plots as inline SVG. No script, no style
//! sheet or font to fetch: it opens the same from a CI artifact as from a local disk.

use std::fmt::Write;

use super::{plots, svg, Report, Table};
use crate::ycsb::RunResult;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}\
.swatch{display:inline-block;width:0.9em;height:0.9em;margin-right:0.4em;vertical-align:middle}\
.note{color:#555}figure{margin:1em 0}";

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            // Cells may carry a colour swatch, built here: the text itself is escaped.
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn caller_table(out: &mut String, t: &Table) {
    let _ = write!(out, "<h2>{}</h2>", escape(&t.title));
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c)).collect())
        .collect();
    table(out, &t.header, &rows);
    if !t.note.is_empty() {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(&t.note));
    }
}

fn number(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "–".into()
    }
}

/// A palette index per result: one per contender, in order of first appearance.
fn contender_colors(results: &[RunResult]) -> Vec<usize> {
    let mut names: Vec<&str> = Vec::new();
    results
        .iter()
        .map(|r| {
            names
                .iter()
                .position(|n| *n == r.contender)
                .unwrap_or_else(|| {
                    names.push(&r.contender);
                    names.len() - 1
                })
        })
        .collect()
}

/// The results grouped by case (workload, pipeline, clients, mode), in order of first
/// appearance, each with a title.
fn cases(results: &[RunResult]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let title = format!(
            "{} · pipeline {} · {} clients · {}",
            r.workload, r.pipeline, r.clients, r.mode
        );
        match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, members)) => members.push(i),
            None => groups.push((title, vec![i])),
        }
    }
    groups
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&report.title),
        escape(&report.title)
    );
    if !report.command.is_empty() {
        let _ = write!(out, "<pre>{}</pre>", escape(&report.command));
    }
    if !report.machine.is_empty() {
        out.push_str("<h2>Machine and run</h2>");
        let rows: Vec<Vec<String>> = report
            .machine
            .iter()
            .map(|(k, v)| vec![escape(k), escape(v)])
            .collect();
        table(&mut out, &["".into(), "value".into()], &rows);
    }
    for t in &report.tables {
        caller_table(&mut out, t);
    }

    let results = &report.results;
    let colors = contender_colors(results);
    out.push_str("<h2>Results</h2>");
    let header: Vec<String> = [
        "contender",
        "workload",
        "clients",
        "pipeline",
        "mode",
        "seconds",
        "ops/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "server CPU s",
        "server CPU µs/op",
        "bench CPU s",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                format!(
                    "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                    svg::color(colors[i]),
                    escape(&plots::label(results, i))
                ),
                escape(&r.workload),
                r.clients.to_string(),
                r.pipeline.to_string(),
                escape(&r.mode),
                number(r.seconds, 1),
                number(r.ops_per_sec, 0),
                number(r.latency.p50_ms, 3),
                number(r.latency.p90_ms, 3),
                number(r.latency.p99_ms, 3),
                number(r.latency.p999_ms, 3),
                number(r.latency.max_ms, 3),
                r.errors.to_string(),
                number(r.server_cpu_s, 2),
                number(r.server_cpu_us_per_op, 1),
                number(r.client_cpu_s, 2),
            ]
        })
        .collect();
    table(&mut out, &header, &rows);
    out.push_str(
        "<p class=\"note\">Latency is per operation, from when it was sent (closed loop) or due \
         (open loop) to its reply; a pipelined batch gives each of its operations the batch's \
         latency. Server CPU is user + system time of the server processes and their \
         descendants during the measured part; bench CPU is the load generator's own.</p>",
    );

    // One set of charts per case (workload, pipeline, clients, mode): a chart holds only runs
    // that are comparable, a handful of lines a person can tell apart.
    let groups = cases(results);
    for (title, members) in &groups {
        if groups.len() > 1 {
            let _ = write!(out, "<h3>{}</h3>", escape(title));
        }
        let group: Vec<RunResult> = members.iter().map(|&i| results[i].clone()).collect();
        let group_colors: Vec<usize> = members.iter().map(|&i| colors[i]).collect();
        for chart in [
            plots::latency_over_time(&group, &group_colors),
            plots::latency_cdf(&group, &group_colors),
            plots::throughput_over_time(&group, &group_colors),
        ] {
            let _ = write!(out, "<figure>{}</figure>", svg::render(&chart));
        }
    }

    out.push_str("<h2>Per operation</h2>");
    let header: Vec<String> = [
        "contender",
        "operation",
        "ops",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "mean ms",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let mut kinds: Vec<&String> = r.per_op_count.keys().collect();
        for k in r.errors_per_op.keys() {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        for kind in kinds {
            let l = r.per_op.get(kind).cloned().unwrap_or_default();
            rows.push(vec![
                escape(&plots::label(results, i)),
                escape(kind),
                r.per_op_count.get(kind).copied().unwrap_or(0).to_string(),
                r.errors_per_op.get(kind).copied().unwrap_or(0).to_string(),
                number(l.p50_ms, 3),
                number(l.p90_ms, 3),
                number(l.p99_ms, 3),
                number(l.p999_ms, 3),
                number(l.max_ms, 3),
                number(l.mean_ms, 3),
            ]);
        }
    }
    table(&mut out, &header, &rows);

    let with_errors: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.error_samples.is_empty())
        .collect();
    if !with_errors.is_empty() {
        out.push_str("<h2>Error samples</h2>");
        for (i, r) in with_errors {
            let _ = write!(
                out,
                "<h3>{}</h3><pre>{}</pre>",
                escape(&plots::label(results, i)),
                escape(&r.error_samples.join("\n"))
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_result;

    #[test]
    fn charts_come_per_case_and_a_contender_keeps_its_colour() {
        let mut results = Vec::new();
        for workload in ["writes", "reads"] {
            for name in ["kvorum", "redis", "etcd"] {
                let mut r = sample_result(name, 1000.0);
                r.workload = workload.into();
                results.push(r);
            }
        }
        // The same contenders in another order in a third case: colours follow the names.
        for name in ["etcd", "kvorum"] {
            let mut r = sample_result(name, 1000.0);
            r.workload = "c".into();
            results.push(r);
        }
        let report = Report {
            title: "t".into(),
            results,
            ..Report::default()
        };
        let page = render(&report);
        assert_eq!(page.matches("<h3>").count(), 3, "one heading per case");
        assert_eq!(page.matches("<svg").count(), 9, "three charts per case");
        assert!(page.contains("<h3>writes · pipeline 1 · 50 clients · closed</h3>"));
        let colors = contender_colors(&report.results);
        assert_eq!(colors, vec![0, 1, 2, 0, 1, 2, 2, 0]);
    }
}
