//! Runs the schedule against the running contenders and keeps what each run measured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kvorum_bench::ycsb::cpu::{own_cpu_seconds, tree_cpu_seconds};
use kvorum_bench::ycsb::{self, LoadMode, RunResult, RunSpec, WorkloadSpec};

use super::contenders::{group_of, Group};
use super::plan::{self, Case, Settings};

/// Longest scan of workload E.
const MAX_SCAN: usize = 100;
/// Slack on top of warm-up and measured window before a run is abandoned as hung.
const RUN_SLACK: Duration = Duration::from_secs(60);

/// A group by name: running, or why it is not.
pub type Groups = Vec<(&'static str, Result<Group, String>)>;

/// One run that completed.
#[derive(Debug)]
pub struct Run {
    pub repetition: usize,
    pub result: RunResult,
    /// CPU the other (idle) contenders used during the run, in cores.
    pub idle_others_share: f64,
    /// CPU the rest of the machine (neither a contender nor this load generator) used during
    /// the run, in cores: other people's work on a shared machine.
    pub rest_share: Option<f64>,
}

/// Everything measured, by case and contender, and what failed.
#[derive(Debug, Default)]
pub struct Outcomes {
    runs: BTreeMap<(usize, &'static str), Vec<Run>>,
    /// (what, why): failed runs and contenders that never ran.
    pub failures: Vec<(String, String)>,
}

impl Outcomes {
    pub fn runs(&self, case: usize, contender: &'static str) -> &[Run] {
        self.runs.get(&(case, contender)).map_or(&[], Vec::as_slice)
    }

    /// The run with the median throughput (the lower of the two middle ones for an even
    /// count): a real run, so its latencies, CPU and plots belong together.
    pub fn representative(&self, case: usize, contender: &'static str) -> Option<&Run> {
        let mut runs: Vec<&Run> = self.runs(case, contender).iter().collect();
        runs.sort_by(|a, b| a.result.ops_per_sec.total_cmp(&b.result.ops_per_sec));
        let middle = runs.len().checked_sub(1)? / 2;
        runs.get(middle).copied()
    }

    /// The representative run of every case and contender, in case order.
    pub fn representatives(&self, cases: &[Case]) -> Vec<RunResult> {
        let mut out = Vec::new();
        for (index, case) in cases.iter().enumerate() {
            for &contender in &case.contenders {
                if let Some(run) = self.representative(index, contender) {
                    out.push(run.result.clone());
                }
            }
        }
        out
    }
}

/// The data every workload runs over.
pub fn data(settings: &Settings, workload: ycsb::Workload) -> WorkloadSpec {
    WorkloadSpec {
        workload,
        record_count: settings.records,
        value_bytes: settings.value_bytes,
        distribution: None,
        max_scan: MAX_SCAN,
    }
}

/// CPU counters read around a run.
struct Usage {
    /// The idle contenders' processes.
    others: f64,
    /// Every contender's processes and this process.
    ours: f64,
    /// The whole machine.
    machine: Option<f64>,
}

impl Usage {
    fn now(others: &[u32], everyone: &[u32]) -> Usage {
        Usage {
            others: tree_cpu_seconds(others),
            ours: tree_cpu_seconds(everyone) + own_cpu_seconds(),
            machine: kvorum_bench::machine::busy_seconds(),
        }
    }

    /// (idle contenders, rest of the machine) in cores since `before`.
    fn shares_since(&self, before: &Usage, elapsed: Duration) -> (f64, Option<f64>) {
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let others = (self.others - before.others).max(0.0) / seconds;
        let rest = match (self.machine, before.machine) {
            (Some(now), Some(then)) => {
                Some(((now - then) - (self.ours - before.ours)).max(0.0) / seconds)
            }
            _ => None,
        };
        (others, rest)
    }
}

/// Runs every step of the schedule, printing one line per run.
pub async fn run_all(
    groups: &mut Groups,
    cases: &[Case],
    settings: &Settings,
    progress: bool,
    outcomes: &mut Outcomes,
) {
    let steps = plan::schedule(cases, settings.repetitions);
    let limit = settings.warmup + settings.duration + RUN_SLACK;
    for (i, step) in steps.iter().enumerate() {
        let case = &cases[step.case];
        let what = format!(
            "run {}/{} (repetition {}): {} on {}",
            i + 1,
            steps.len(),
            step.repetition + 1,
            case.label(),
            step.contender
        );
        let group_name = group_of(step.contender);
        let everyone: Vec<u32> = groups
            .iter()
            .filter_map(|(_, g)| g.as_ref().ok())
            .flat_map(Group::pids)
            .collect();
        let others: Vec<u32> = groups
            .iter()
            .filter(|(name, _)| *name != group_name)
            .filter_map(|(_, g)| g.as_ref().ok())
            .flat_map(Group::pids)
            .collect();
        let Some((_, slot)) = groups.iter_mut().find(|(name, _)| *name == group_name) else {
            outcomes
                .failures
                .push((what, format!("{group_name} was not started")));
            continue;
        };
        if let Ok(group) = slot {
            if let Err(e) = group.check_alive() {
                *slot = Err(format!("{e:#}"));
            }
        }
        let group = match slot {
            Ok(group) => group,
            Err(e) => {
                outcomes
                    .failures
                    .push((what, format!("{group_name} is not running: {e}")));
                continue;
            }
        };
        let Some(contender) = group.contenders.iter().find(|c| c.name == step.contender) else {
            outcomes
                .failures
                .push((what, format!("{} is not set up", step.contender)));
            continue;
        };
        let spec = RunSpec {
            data: data(settings, case.workload),
            clients: settings.clients,
            pipeline: case.pipeline,
            mode: LoadMode::Closed,
            warmup: settings.warmup,
            duration: settings.duration,
            max_ops: Some(settings.max_ops),
            progress,
        };
        tokio::time::sleep(settings.settle).await;
        let before = Usage::now(&others, &everyone);
        let started = Instant::now();
        let result =
            tokio::time::timeout(limit, ycsb::run(&contender.target, &spec, &group.pids())).await;
        let (idle_others_share, rest_share) =
            Usage::now(&others, &everyone).shares_since(&before, started.elapsed());
        match result {
            Ok(Ok(mut result)) => {
                result.contender = step.contender.to_owned();
                println!(
                    "{what:<62} {:>9.0} ops/s  p99 {:>8.3} ms  {:>7.1} CPU-µs/op  {} errors",
                    result.ops_per_sec,
                    result.latency.p99_ms,
                    result.server_cpu_us_per_op,
                    result.errors
                );
                outcomes
                    .runs
                    .entry((step.case, step.contender))
                    .or_default()
                    .push(Run {
                        repetition: step.repetition,
                        result,
                        idle_others_share,
                        rest_share,
                    });
            }
            Ok(Err(e)) => {
                println!("{what}: failed: {e}");
                outcomes.failures.push((what, e.to_string()));
            }
            Err(_) => {
                println!("{what}: gave no result within {} s", limit.as_secs());
                outcomes
                    .failures
                    .push((what, format!("no result within {} s", limit.as_secs())));
            }
        }
    }
}
