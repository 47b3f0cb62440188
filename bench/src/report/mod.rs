//! Results as files: `<dir>/results.json` (everything measured), `<dir>/report.html` (tables and
//! SVG plots: latency over time, latency CDF, throughput over time), and the summary every run
//! also writes to `bench-results/latest.json`.
//!
//! - `json.rs`: the two JSON files;
//! - `plots.rs`: the three charts of a report, built from the results;
//! - `svg.rs`: the line-chart renderer (inline SVG, no dependency);
//! - `html.rs`: the self-contained HTML page.

use std::path::{Path, PathBuf};

use crate::ycsb::RunResult;

pub mod html;
pub mod json;
pub mod plots;
pub mod svg;

/// A table the caller wants in the report (e.g. `compare`'s ratios and targets).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Text under the table.
    pub note: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub title: String,
    /// The command line that produced it.
    pub command: String,
    /// Machine and run facts: date, commit, CPUs, kernel, server versions, ...
    pub machine: Vec<(String, String)>,
    pub results: Vec<RunResult>,
    pub tables: Vec<Table>,
}

/// One record of `bench-results/latest.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub contender: String,
    pub workload: String,
    pub clients: usize,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub server_cpu_us_per_op: f64,
}

impl Summary {
    /// The summary of one run.
    pub fn of(result: &RunResult) -> Summary {
        Summary {
            contender: result.contender.clone(),
            // The record has no pipeline field: a pipelined run's workload says its depth, so
            // the records of one contender and workload stay apart (`writes-p16`).
            workload: if result.pipeline > 1 {
                format!("{}-p{}", result.workload, result.pipeline)
            } else {
                result.workload.clone()
            },
            clients: result.clients,
            ops_per_sec: result.ops_per_sec,
            p50_ms: result.latency.p50_ms,
            p99_ms: result.latency.p99_ms,
            p999_ms: result.latency.p999_ms,
            server_cpu_us_per_op: result.server_cpu_us_per_op,
        }
    }
}

/// Writes `dir/results.json`, `dir/report.html` and `latest` (normally
/// `bench-results/latest.json`); returns the report's path.
pub fn write(dir: &Path, latest: &Path, report: &Report) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("results.json"), json::results(report)?)?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, html::render(report))?;
    if let Some(parent) = latest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(latest, json::latest(&report.results)?)?;
    Ok(html_path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ycsb::{Latency, SecondSample};

    pub(crate) fn sample_result(name: &str, ops_per_sec: f64) -> RunResult {
        RunResult {
            contender: name.into(),
            workload: "a".into(),
            clients: 50,
            pipeline: 1,
            mode: "closed".into(),
            seconds: 3.0,
            ops: (ops_per_sec * 3.0) as u64,
            ops_per_sec,
            latency: Latency {
                p50_ms: 0.5,
                p90_ms: 0.9,
                p99_ms: 1.5,
                p999_ms: 4.0,
                max_ms: 9.0,
                mean_ms: 0.6,
            },
            series: (0..3)
                .map(|t| SecondSample {
                    t,
                    ops: ops_per_sec as u64,
                    errors: 0,
                    p50_ms: 0.5,
                    p99_ms: 1.5 + t as f64,
                })
                .collect(),
            cdf: vec![(0.0, 0.1), (0.5, 0.5), (0.9, 0.9), (0.99, 1.5), (1.0, 9.0)],
            server_cpu_s: 1.0,
            server_cpu_us_per_op: 12.5,
            ..Default::default()
        }
    }

    #[test]
    fn writes_results_report_and_latest_with_exactly_the_summary_fields() {
        let dir = tempfile::tempdir().unwrap();
        let report = Report {
            title: "test run".into(),
            command: "kvorum-bench run --workload a".into(),
            machine: vec![("CPUs".into(), "2".into())],
            results: vec![
                sample_result("kvorum", 1000.0),
                sample_result("redis <x>", 2000.0),
            ],
            tables: vec![Table {
                title: "ratios".into(),
                header: vec!["a".into(), "b".into()],
                rows: vec![vec!["1".into(), "2".into()]],
                note: "a note".into(),
            }],
        };
        let latest = dir.path().join("bench-results").join("latest.json");
        let html = write(&dir.path().join("run-1"), &latest, &report).unwrap();
        assert_eq!(html, dir.path().join("run-1").join("report.html"));

        let latest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&latest).unwrap()).unwrap();
        let records = latest.as_array().unwrap();
        assert_eq!(records.len(), 2);
        let mut fields: Vec<&str> = records[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "clients",
                "contender",
                "ops_per_sec",
                "p50_ms",
                "p999_ms",
                "p99_ms",
                "server_cpu_us_per_op",
                "workload"
            ]
        );
        assert_eq!(records[1]["contender"], "redis <x>");
        assert_eq!(records[1]["ops_per_sec"], 2000.0);
        assert_eq!(records[0]["p999_ms"], 4.0);

        let results: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("run-1/results.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(results["results"][0]["series"].as_array().unwrap().len(), 3);
        assert_eq!(results["tables"][0]["title"], "ratios");

        let page = std::fs::read_to_string(&html).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(page.matches("<svg").count(), 3, "three plots");
        assert!(page.contains("redis &lt;x&gt;") && !page.contains("redis <x>"));
        assert!(page.contains("ratios") && page.contains("a note"));
    }
}
