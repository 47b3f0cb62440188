//! The targets as same-run ratios: kvorum's figure over the other contender's, from
//! runs of the same case in the same `compare` run.

use kvorum_bench::report::Table;
use kvorum_bench::ycsb::{RunResult, Workload};

use super::contenders::{
    ETCD, KVORUM_N1, KVORUM_N3_QUORUM, KVORUM_N3_STRONG, REDIS_AOF_ALWAYS, REDIS_REPLICATED_WAIT1,
};
use super::plan::workload_name;

/// What is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    OpsPerSec,
    P99,
    CpuPerOp,
}

impl Metric {
    fn of(self, run: &RunResult) -> Option<f64> {
        let value = match self {
            Metric::OpsPerSec => run.ops_per_sec,
            Metric::P99 => run.latency.p99_ms,
            Metric::CpuPerOp => run.server_cpu_us_per_op,
        };
        (value.is_finite() && value > 0.0).then_some(value)
    }

    fn show(self, value: f64) -> String {
        match self {
            Metric::OpsPerSec => format!("{value:.0} ops/s"),
            Metric::P99 => format!("p99 {value:.2} ms"),
            Metric::CpuPerOp => format!("{value:.1} CPU-µs/op"),
        }
    }
}

/// The bound on kvorum's figure divided by the other's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    fn met(self, ratio: f64) -> bool {
        match self {
            Bound::AtLeast(r) => ratio >= r,
            Bound::AtMost(r) => ratio <= r,
        }
    }

    fn show(self) -> String {
        match self {
            Bound::AtLeast(r) => format!("≥ {r:.2}×"),
            Bound::AtMost(r) => format!("≤ {r:.2}×"),
        }
    }

    /// How far the ratio is from the bound, in percent of the bound, said the way round that
    /// reads naturally ("above by", "short by", ...).
    fn margin(self, ratio: f64) -> String {
        match self {
            Bound::AtLeast(r) if ratio >= r => {
                format!("above by {:.0}%", (ratio / r - 1.0) * 100.0)
            }
            Bound::AtLeast(r) => format!("short by {:.0}%", (1.0 - ratio / r) * 100.0),
            Bound::AtMost(r) if ratio <= r => format!("under by {:.0}%", (1.0 - ratio / r) * 100.0),
            Bound::AtMost(r) => format!("over by {:.0}%", (ratio / r - 1.0) * 100.0),
        }
    }
}

/// One target of the issue.
#[derive(Clone, Debug)]
pub struct Goal {
    pub label: &'static str,
    pub kvorum: &'static str,
    pub other: &'static str,
    pub workload: Workload,
    pub pipeline: usize,
    pub metric: Metric,
    pub bound: Bound,
}

/// The targets, grouped as the issue states them: (title, note, goals).
pub fn goals() -> Vec<(&'static str, &'static str, Vec<Goal>)> {
    let goal = |label, kvorum, other, workload, pipeline, metric, bound| Goal {
        label,
        kvorum,
        other,
        workload,
        pipeline,
        metric,
        bound,
    };
    use Bound::{AtLeast, AtMost};
    use Metric::{CpuPerOp, OpsPerSec, P99};
    use Workload::{Reads, Writes};
    vec![
        (
            "Single node (N=1, fsync always) vs redis-server appendfsync always",
            "kvorum-n1: kvorum dev --nodes 1 --replication 1 --fsync always; redis-aof-always: \
             redis-server --save '' --appendonly yes --appendfsync always.",
            vec![
                goal(
                    "SET throughput",
                    KVORUM_N1,
                    REDIS_AOF_ALWAYS,
                    Writes,
                    1,
                    OpsPerSec,
                    AtLeast(1.0),
                ),
                goal(
                    "GET throughput",
                    KVORUM_N1,
                    REDIS_AOF_ALWAYS,
                    Reads,
                    1,
                    OpsPerSec,
                    AtLeast(1.0),
                ),
                goal(
                    "SET throughput, pipeline 16",
                    KVORUM_N1,
                    REDIS_AOF_ALWAYS,
                    Writes,
                    16,
                    OpsPerSec,
                    AtLeast(1.0),
                ),
                goal(
                    "GET throughput, pipeline 16",
                    KVORUM_N1,
                    REDIS_AOF_ALWAYS,
                    Reads,
                    16,
                    OpsPerSec,
                    AtLeast(1.0),
                ),
            ],
        ),
        (
            "3 nodes, N=3, QUORUM vs Redis primary + 2 replicas (WAIT 1)",
            "kvorum-n3-quorum: kvorum dev --nodes 3, CONSISTENCY QUORUM, fsync always; \
             redis-replicated-wait1: a primary and two --replicaof replicas, all appendfsync \
             always, WAIT 1 after every write. Server CPU counts every process of each side.",
            vec![
                goal(
                    "write throughput",
                    KVORUM_N3_QUORUM,
                    REDIS_REPLICATED_WAIT1,
                    Writes,
                    1,
                    OpsPerSec,
                    AtLeast(1.0),
                ),
                goal(
                    "server CPU per write",
                    KVORUM_N3_QUORUM,
                    REDIS_REPLICATED_WAIT1,
                    Writes,
                    1,
                    CpuPerOp,
                    AtMost(1.0),
                ),
            ],
        ),
        (
            "3 nodes, N=3, STRONG vs etcd 3 members",
            "kvorum-n3-strong: kvorum dev --nodes 3, CONSISTENCY STRONG; etcd: 3 members, puts \
             and linearizable ranges through the JSON gateway, connections spread over the \
             members. Same client count on both sides.",
            vec![
                goal(
                    "put throughput",
                    KVORUM_N3_STRONG,
                    ETCD,
                    Writes,
                    1,
                    OpsPerSec,
                    AtLeast(3.0),
                ),
                goal(
                    "linearizable get throughput",
                    KVORUM_N3_STRONG,
                    ETCD,
                    Reads,
                    1,
                    OpsPerSec,
                    AtLeast(3.0),
                ),
                goal(
                    "put p99",
                    KVORUM_N3_STRONG,
                    ETCD,
                    Writes,
                    1,
                    P99,
                    AtMost(1.0),
                ),
                goal(
                    "linearizable get p99",
                    KVORUM_N3_STRONG,
                    ETCD,
                    Reads,
                    1,
                    P99,
                    AtMost(1.0),
                ),
            ],
        ),
    ]
}

/// The run of `contender` for `workload` at `pipeline` among `results`.
pub fn find<'a>(
    results: &'a [RunResult],
    contender: &str,
    workload: Workload,
    pipeline: usize,
) -> Option<&'a RunResult> {
    let name = workload_name(workload);
    results
        .iter()
        .find(|r| r.contender == contender && r.workload == name && r.pipeline == pipeline)
}

/// Targets met, missed, and not measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub met: usize,
    pub missed: usize,
    pub unmeasured: usize,
}

/// The ratio tables (one per group of targets) for `results` (one run per contender and
/// case: the representative run of each).
pub fn tables(results: &[RunResult]) -> (Vec<Table>, Tally) {
    let mut tally = Tally::default();
    let mut tables = Vec::new();
    for (title, note, goals) in goals() {
        let mut rows = Vec::new();
        for goal in goals {
            let kvorum = find(results, goal.kvorum, goal.workload, goal.pipeline);
            let other = find(results, goal.other, goal.workload, goal.pipeline);
            let show =
                |run: Option<&RunResult>, name: &str| match run.and_then(|r| goal.metric.of(r)) {
                    Some(v) => {
                        let errors = run.map_or(0, |r| r.errors);
                        let errors = if errors > 0 {
                            format!(" ({errors} errors)")
                        } else {
                            String::new()
                        };
                        format!("{name}: {}{errors}", goal.metric.show(v))
                    }
                    None => format!("{name}: not measured"),
                };
            let values = (
                kvorum.and_then(|r| goal.metric.of(r)),
                other.and_then(|r| goal.metric.of(r)),
            );
            let (measured, met, margin) = match values {
                (Some(k), Some(o)) => {
                    let ratio = k / o;
                    let met = goal.bound.met(ratio);
                    if met {
                        tally.met += 1;
                    } else {
                        tally.missed += 1;
                    }
                    (
                        format!("{ratio:.2}×"),
                        if met { "yes" } else { "no" }.to_owned(),
                        goal.bound.margin(ratio),
                    )
                }
                _ => {
                    tally.unmeasured += 1;
                    ("n/a".to_owned(), "not measured".to_owned(), String::new())
                }
            };
            rows.push(vec![
                format!(
                    "{} ({} clients)",
                    goal.label,
                    kvorum.or(other).map_or(0, |r| r.clients)
                ),
                show(kvorum, goal.kvorum),
                show(other, goal.other),
                measured,
                goal.bound.show(),
                met,
                margin,
            ]);
        }
        tables.push(Table {
            title: title.to_owned(),
            header: [
                "target",
                "kvorum",
                "other",
                "measured",
                "required",
                "met",
                "by how much",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            note: format!(
                "Ratio = kvorum's figure / the other's, from runs of the same compare run. {note}"
            ),
        });
    }
    (tables, tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(contender: &str, workload: &str, ops: f64, p99: f64, cpu: f64) -> RunResult {
        let mut r = RunResult {
            contender: contender.into(),
            workload: workload.into(),
            clients: 50,
            pipeline: 1,
            ops_per_sec: ops,
            server_cpu_us_per_op: cpu,
            ..RunResult::default()
        };
        r.latency.p99_ms = p99;
        r
    }

    #[test]
    fn margins_read_the_natural_way_round() {
        assert_eq!(Bound::AtLeast(1.0).margin(1.25), "above by 25%");
        assert_eq!(Bound::AtLeast(3.0).margin(1.5), "short by 50%");
        assert_eq!(Bound::AtMost(1.0).margin(0.8), "under by 20%");
        assert_eq!(Bound::AtMost(1.0).margin(1.1), "over by 10%");
    }

    #[test]
    fn tables_say_met_missed_and_not_measured() {
        let results = vec![
            run(KVORUM_N3_QUORUM, "writes", 30_000.0, 5.0, 30.0),
            run(REDIS_REPLICATED_WAIT1, "writes", 20_000.0, 4.0, 40.0),
            run(KVORUM_N3_STRONG, "writes", 12_000.0, 20.0, 50.0),
            run(ETCD, "writes", 8_000.0, 10.0, 100.0),
        ];
        let (tables, tally) = tables(&results);
        assert_eq!(tables.len(), 3);
        let quorum = &tables[1].rows;
        assert_eq!(quorum[0][3], "1.50×");
        assert_eq!(quorum[0][5], "yes");
        assert_eq!(quorum[1][3], "0.75×");
        assert_eq!(quorum[1][5], "yes");
        let strong = &tables[2].rows;
        assert_eq!(
            (strong[0][3].as_str(), strong[0][5].as_str()),
            ("1.50×", "no")
        );
        assert_eq!(strong[0][6], "short by 50%");
        assert_eq!(
            (strong[2][3].as_str(), strong[2][5].as_str()),
            ("2.00×", "no")
        );
        assert_eq!(strong[1][5], "not measured");
        assert_eq!(tables[0].rows[0][5], "not measured");
        assert_eq!(
            tally,
            Tally {
                met: 2,
                missed: 2,
                unmeasured: 6
            }
        );
    }
}
