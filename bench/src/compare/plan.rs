//! What runs against whom, for how long, and in what order.
//!
//! The cases:
//! - `writes` and `reads` (100% SET / 100% GET) at pipeline 1 against every contender: they
//!   carry the targets for N=1 vs redis-aof-always, N=3 QUORUM vs the replicated Redis, and N=3
//!   STRONG vs etcd, and give the plain SET/GET picture of the rest;
//! - `writes` and `reads` at pipeline 16 against kvorum-n1 and redis-aof-always (the "with
//!   pipelining" half of the single-node target);
//! - YCSB workloads (default A, B, C, D, F with their default key choice) against
//!   kvorum-n3-quorum, kvorum-n3-one, redis and etcd, for the general picture.
//!
//! Alternation: every contender is started once at the beginning and stays up; for repetition
//! `r`, for each case, each of its contenders runs once, the contenders' order rotated by `r`
//! so none always follows the same neighbour. Keeping everything up costs memory (a few
//! hundred MB) and some idle CPU (etcd's heartbeats, kvorum's background rounds); the results
//! table shows the CPU the idle contenders used during each run, so a disturbed run is
//! visible. Starting contenders in turn would instead reload the keyspace and rewarm caches
//! before every run, and the alternation would become a sequence of cold starts.

use std::time::Duration;

use kvorum_bench::ycsb::Workload;

use super::contenders::{
    ALL, ETCD, KVORUM_N1, KVORUM_N3_ONE, KVORUM_N3_QUORUM, REDIS, REDIS_AOF_ALWAYS,
};

/// How long and how big.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub clients: usize,
    pub value_bytes: usize,
    pub records: u64,
    pub warmup: Duration,
    pub duration: Duration,
    pub repetitions: usize,
    /// Pause between runs, so one contender's leftover background work (fsyncs, compaction)
    /// is not billed to the next.
    pub settle: Duration,
    /// Upper bound on the operations of one run (a run also ends after `duration`).
    pub max_ops: u64,
}

impl Settings {
    /// `--quick`: every case once, short windows, a small keyspace (the whole run stays well
    /// under 10 minutes on a 2-core machine). Otherwise: longer windows, 3 repetitions.
    pub fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                clients: 50,
                value_bytes: 100,
                records: 10_000,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(4),
                repetitions: 1,
                settle: Duration::from_millis(500),
                max_ops: 2_000_000,
            }
        } else {
            Settings {
                clients: 50,
                value_bytes: 100,
                records: 100_000,
                warmup: Duration::from_secs(5),
                duration: Duration::from_secs(20),
                repetitions: 3,
                settle: Duration::from_secs(2),
                max_ops: 10_000_000,
            }
        }
    }
}

/// One workload at one pipeline depth, and who runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub workload: Workload,
    pub pipeline: usize,
    pub contenders: Vec<&'static str>,
}

impl Case {
    /// `writes p1`, `a p1`, ...
    pub fn label(&self) -> String {
        format!("{} p{}", workload_name(self.workload), self.pipeline)
    }
}

/// The name `RunResult::workload` uses (`a`..`f`, `writes`, `reads`).
pub fn workload_name(workload: Workload) -> String {
    clap::ValueEnum::to_possible_value(&workload)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_else(|| format!("{workload:?}").to_lowercase())
}

/// The YCSB workloads run by default. E (scans) is left out: Redis and kvorum have no ordered
/// range scan over RESP, so its figures would not compare like with like (`--ycsb a,e` asks
/// for it anyway).
pub const DEFAULT_YCSB: [Workload; 5] = [
    Workload::A,
    Workload::B,
    Workload::C,
    Workload::D,
    Workload::F,
];

/// Every case, keeping only the contenders in `wanted`; cases left with none are dropped.
pub fn cases(ycsb: &[Workload], wanted: &[&'static str]) -> Vec<Case> {
    let pair = vec![KVORUM_N1, REDIS_AOF_ALWAYS];
    let picture = vec![KVORUM_N3_QUORUM, KVORUM_N3_ONE, REDIS, ETCD];
    let mut cases = vec![
        Case {
            workload: Workload::Writes,
            pipeline: 1,
            contenders: ALL.to_vec(),
        },
        Case {
            workload: Workload::Reads,
            pipeline: 1,
            contenders: ALL.to_vec(),
        },
        Case {
            workload: Workload::Writes,
            pipeline: 16,
            contenders: pair.clone(),
        },
        Case {
            workload: Workload::Reads,
            pipeline: 16,
            contenders: pair,
        },
    ];
    for &workload in ycsb {
        if matches!(workload, Workload::Writes | Workload::Reads) {
            continue;
        }
        cases.push(Case {
            workload,
            pipeline: 1,
            contenders: picture.clone(),
        });
    }
    for case in &mut cases {
        case.contenders.retain(|c| wanted.contains(c));
    }
    cases.retain(|case| !case.contenders.is_empty());
    cases
}

/// One run of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// From 0.
    pub repetition: usize,
    /// Index into the cases.
    pub case: usize,
    pub contender: &'static str,
}

/// The order of the runs: repetition by repetition, case by case, the contenders of a case
/// rotated by the repetition's number.
pub fn schedule(cases: &[Case], repetitions: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for repetition in 0..repetitions {
        for (index, case) in cases.iter().enumerate() {
            let n = case.contenders.len();
            for i in 0..n {
                steps.push(Step {
                    repetition,
                    case: index,
                    contender: case.contenders[(i + repetition) % n],
                });
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::contenders::{KVORUM_N3_STRONG, REDIS_REPLICATED_WAIT1};

    #[test]
    fn every_target_pair_shares_a_case() {
        let cases = cases(&DEFAULT_YCSB, &ALL);
        let has = |workload, pipeline, a: &str, b: &str| {
            cases.iter().any(|c| {
                c.workload == workload
                    && c.pipeline == pipeline
                    && c.contenders.contains(&a)
                    && c.contenders.contains(&b)
            })
        };
        for pipeline in [1, 16] {
            assert!(has(Workload::Writes, pipeline, KVORUM_N1, REDIS_AOF_ALWAYS));
            assert!(has(Workload::Reads, pipeline, KVORUM_N1, REDIS_AOF_ALWAYS));
        }
        assert!(has(
            Workload::Writes,
            1,
            KVORUM_N3_QUORUM,
            REDIS_REPLICATED_WAIT1
        ));
        assert!(has(Workload::Writes, 1, KVORUM_N3_STRONG, ETCD));
        assert!(has(Workload::Reads, 1, KVORUM_N3_STRONG, ETCD));
        for w in [Workload::A, Workload::B, Workload::C] {
            assert!(has(w, 1, KVORUM_N3_QUORUM, ETCD));
            assert!(has(w, 1, KVORUM_N3_ONE, REDIS));
        }
    }

    #[test]
    fn only_the_wanted_contenders_run() {
        let cases = cases(&[Workload::A], &[REDIS]);
        assert!(cases.iter().all(|c| c.contenders == vec![REDIS]));
        assert_eq!(cases.len(), 3, "writes p1, reads p1, a p1: {cases:?}");
    }

    #[test]
    fn repetitions_alternate_and_rotate_the_order() {
        let cases = vec![Case {
            workload: Workload::Writes,
            pipeline: 1,
            contenders: vec![KVORUM_N1, REDIS, ETCD],
        }];
        let order: Vec<&str> = schedule(&cases, 2).iter().map(|s| s.contender).collect();
        assert_eq!(order, [KVORUM_N1, REDIS, ETCD, REDIS, ETCD, KVORUM_N1]);
    }
}
