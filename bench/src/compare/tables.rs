//! The result tables (besides the target ratios) and how every table is printed.

use kvorum_bench::report::Table;
use kvorum_bench::ycsb::RunResult;

use super::contenders::ALL;
use super::plan::Case;
use super::runner::Outcomes;

/// One row per representative run: throughput, latency, server CPU, errors, and the CPU the
/// idle contenders used meanwhile.
pub fn results(cases: &[Case], outcomes: &Outcomes) -> Table {
    let mut rows = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        for &contender in &case.contenders {
            let Some(run) = outcomes.representative(index, contender) else {
                rows.push(vec![
                    case.label(),
                    contender.to_owned(),
                    "failed".to_owned(),
                ]);
                continue;
            };
            let r = &run.result;
            rows.push(vec![
                case.label(),
                contender.to_owned(),
                format!("{:.0}", r.ops_per_sec),
                format!("{:.3}", r.latency.p50_ms),
                format!("{:.3}", r.latency.p99_ms),
                format!("{:.3}", r.latency.p999_ms),
                format!("{:.1}", r.server_cpu_us_per_op),
                r.errors.to_string(),
                format!("{:.0}%", run.idle_others_share * 100.0),
                run.rest_share
                    .map_or_else(|| "?".to_owned(), |s| format!("{:.0}%", s * 100.0)),
            ]);
        }
    }
    Table {
        title: "Runs compared".to_owned(),
        header: [
            "case",
            "contender",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "server CPU-µs/op",
            "errors",
            "idle others' CPU",
            "rest of machine CPU",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
        note: "Case: workload and pipeline depth (requests per batch). Server CPU: user + system \
               CPU of the contender's processes and their descendants during the measured \
               window, per operation. Idle others' CPU: CPU the other contenders (started, \
               not under load) used during the run, in percent of one core. Rest of machine: \
               CPU used by neither the contenders nor the load generator (other work on a \
               shared machine), in percent of one core. A high figure in either marks a \
               disturbed run. With several repetitions each row is the run with the \
               median throughput."
            .to_owned(),
    }
}

/// The general picture: cases down, contenders across, `ops/s · p99`.
pub fn picture(cases: &[Case], outcomes: &Outcomes) -> Table {
    let columns: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|c| cases.iter().any(|case| case.contenders.contains(c)))
        .collect();
    let mut header = vec!["case".to_owned()];
    header.extend(columns.iter().map(|c| (*c).to_owned()));
    let rows = cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let mut row = vec![case.label()];
            for &contender in &columns {
                row.push(match outcomes.representative(index, contender) {
                    Some(run) => cell(&run.result),
                    None if case.contenders.contains(&contender) => "failed".to_owned(),
                    None => String::new(),
                });
            }
            row
        })
        .collect();
    Table {
        title: "Throughput and p99 per case".to_owned(),
        header,
        rows,
        note: "ops/s · p99 in ms. YCSB workloads use their default key choice (zipfian; \
               latest for D)."
            .to_owned(),
    }
}

fn cell(r: &RunResult) -> String {
    format!("{:.0} · {:.2}", r.ops_per_sec, r.latency.p99_ms)
}

/// Every repetition's throughput, to show the spread behind the medians.
pub fn repetitions(cases: &[Case], outcomes: &Outcomes, count: usize) -> Table {
    let mut header = vec!["case".to_owned(), "contender".to_owned()];
    header.extend((1..=count).map(|r| format!("ops/s run {r}")));
    header.push("spread".to_owned());
    let mut rows = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        for &contender in &case.contenders {
            let runs = outcomes.runs(index, contender);
            let mut row = vec![case.label(), contender.to_owned()];
            let mut figures = Vec::new();
            for repetition in 0..count {
                match runs.iter().find(|r| r.repetition == repetition) {
                    Some(run) => {
                        figures.push(run.result.ops_per_sec);
                        row.push(format!("{:.0}", run.result.ops_per_sec));
                    }
                    None => row.push("failed".to_owned()),
                }
            }
            let min = figures.iter().copied().fold(f64::INFINITY, f64::min);
            let max = figures.iter().copied().fold(0.0, f64::max);
            row.push(if figures.len() > 1 && min > 0.0 {
                format!("{:.0}%", (max / min - 1.0) * 100.0)
            } else {
                String::new()
            });
            rows.push(row);
        }
    }
    Table {
        title: "Throughput of every repetition".to_owned(),
        header,
        rows,
        note: "Spread: the highest over the lowest, minus one.".to_owned(),
    }
}

/// Runs (or contenders) that failed, and why.
pub fn failures(outcomes: &Outcomes) -> Option<Table> {
    if outcomes.failures.is_empty() {
        return None;
    }
    Some(Table {
        title: "Failures".to_owned(),
        header: ["what", "error"].map(str::to_owned).to_vec(),
        rows: outcomes
            .failures
            .iter()
            .map(|(what, error)| vec![what.clone(), error.clone()])
            .collect(),
        note: "A failed run is left out of the tables above; its targets say \"not measured\"."
            .to_owned(),
    })
}

/// A table as aligned text for the terminal.
pub fn render(table: &Table) -> String {
    let columns = table
        .rows
        .iter()
        .map(Vec::len)
        .chain([table.header.len()])
        .max()
        .unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in table.rows.iter().chain([&table.header]) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        cells.join("  ").trim_end().to_owned()
    };
    let mut out = format!("{}\n", table.title);
    out.push_str(&line(&table.header));
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1)));
    out.push('\n');
    for row in &table.rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    if !table.note.is_empty() {
        out.push_str(&table.note);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_columns() {
        let table = Table {
            title: "T".into(),
            header: vec!["a".into(), "bb".into()],
            rows: vec![
                vec!["long cell".into(), "x".into()],
                vec!["s".into(), "µs".into()],
            ],
            note: "n".into(),
        };
        let text = render(&table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "a          bb");
        assert_eq!(lines[3], "long cell  x");
        assert_eq!(lines[4], "s          µs");
        assert_eq!(lines[5], "n");
    }
}
