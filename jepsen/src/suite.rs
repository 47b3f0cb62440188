//! Workloads, pass/fail criteria and the seed sweep that the CLI and the tests share.
//!
//! A workload is the register workload (independent keys, reads and unique-valued writes) at one
//! consistency level, or the `counter` (`INCRBY`) or `set` (`SADD`/`SREM`) workload at
//! `eventual`. What fails a seed, for every workload: a panic, a broken reply contract
//! (a request answered twice, never, or unasked), or an acknowledged write missing from the
//! merged final state; for `counter` and `set`, any final view (read at `ALL` or replica's
//! stored copy) their checker rejects. Linearizability is required only where the mode promises it (`strong`);
//! elsewhere its violations are counted and reported. Stale reads (the regular-register rules)
//! fail `strong` and are measured for `quorum`/`all` unless [`Criteria::require_regular`].
//! Convergence is measured and becomes a criterion with [`Criteria::require_convergence`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::sim::client::Level;
use crate::sim::{run, Mix, RunReport, SimConfig};

/// A named workload.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    RegisterQuorum,
    RegisterAll,
    RegisterStrong,
    /// Sloppy `EVENTUAL` reads and writes: only durability and convergence are promised.
    Eventual,
    /// `EVENTUAL` `INCRBY`s: each counter ends at its acknowledged increments plus some of its
    /// indeterminate ones.
    Counter,
    /// `EVENTUAL` `SADD`s and `SREM`s: no acknowledged add lost, no failed add present.
    Set,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::RegisterQuorum,
        Workload::RegisterAll,
        Workload::RegisterStrong,
        Workload::Eventual,
        Workload::Counter,
        Workload::Set,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::RegisterQuorum => "register-quorum",
            Workload::RegisterAll => "register-all",
            Workload::RegisterStrong => "register-strong",
            Workload::Eventual => "eventual",
            Workload::Counter => "counter",
            Workload::Set => "set",
        }
    }

    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    pub fn level(self) -> Level {
        match self {
            Workload::RegisterQuorum => Level::Quorum,
            Workload::RegisterAll => Level::All,
            Workload::RegisterStrong => Level::Strong,
            Workload::Eventual | Workload::Counter | Workload::Set => Level::Eventual,
        }
    }

    /// What the clients do.
    pub fn mix(self) -> Mix {
        match self {
            Workload::Counter => Mix::Counter,
            Workload::Set => Mix::Set,
            _ => Mix::Register,
        }
    }

    /// Whether the mode promises a regular register (no read of a value superseded before the
    /// read began).
    pub fn promises_regular(self) -> bool {
        self.mix() == Mix::Register && self != Workload::Eventual
    }

    /// Whether the mode promises linearizable single-key reads and writes.
    pub fn promises_linearizability(self) -> bool {
        self == Workload::RegisterStrong
    }
}

/// What fails a seed beyond the always-on criteria.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Criteria {
    /// Replicas must hold identical objects after the final heal and quiet period.
    pub require_convergence: bool,
    /// Linearizability is required of every workload, not only of those that promise it.
    pub require_linearizability_everywhere: bool,
    /// `quorum` and `all` must keep a regular register's real-time rules (no stale reads), as
    /// the design promises.
    pub require_regular: bool,
}

impl Criteria {
    /// What the design promises: convergence everywhere, regular registers for `quorum`/`all`,
    /// linearizability for `strong`.
    pub fn promised() -> Self {
        Criteria {
            require_convergence: true,
            require_linearizability_everywhere: false,
            require_regular: true,
        }
    }
}

/// How a sweep is sized.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub nodes: usize,
    pub ops: usize,
    pub criteria: Criteria,
    /// Keep an event trace in each report (for replaying one seed).
    pub trace: bool,
    /// Probability that the network delivers a message twice.
    pub duplicate: f64,
    /// Deliberately broken core behaviour, to show the checkers catch it.
    #[cfg(feature = "fault-injection")]
    pub core_faults: kvorum_consistency::CoreFaults,
}

impl SweepConfig {
    /// The defaults the CLI and the tests start from: 3 nodes, `ops` operations per seed.
    pub fn new(ops: usize) -> Self {
        SweepConfig {
            nodes: 3,
            ops,
            criteria: Criteria::promised(),
            trace: false,
            duplicate: SimConfig::new(Level::Quorum).net.duplicate,
            #[cfg(feature = "fault-injection")]
            core_faults: Default::default(),
        }
    }
}

/// One seed of one workload.
#[derive(Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub workload: Workload,
    /// Why the seed failed; empty if it passed.
    pub failures: Vec<String>,
    /// `None` if the run panicked.
    pub report: Option<RunReport>,
}

impl SeedResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The simulator configuration a sweep uses for `workload`.
pub fn config(workload: Workload, sweep: &SweepConfig) -> SimConfig {
    let mut cfg = SimConfig::new(workload.level());
    cfg.nodes = sweep.nodes.max(1);
    cfg.replication = cfg.nodes.min(3);
    cfg.mix = workload.mix();
    cfg.ops = sweep.ops;
    cfg.trace = sweep.trace;
    cfg.net.duplicate = sweep.duplicate;
    #[cfg(feature = "fault-injection")]
    {
        cfg.core_faults = sweep.core_faults;
    }
    cfg
}

/// Runs one seed of one workload and judges it.
pub fn run_seed(seed: u64, workload: Workload, sweep: &SweepConfig) -> SeedResult {
    let cfg = config(workload, sweep);
    let outcome = catch_unwind(AssertUnwindSafe(|| run(seed, &cfg)));
    let report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            return SeedResult {
                seed,
                workload,
                failures: vec![format!("cannot simulate: {e}")],
                report: None,
            }
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned());
            return SeedResult {
                seed,
                workload,
                failures: vec![format!("panic: {message}")],
                report: None,
            };
        }
    };
    let mut failures: Vec<String> = report.problems.clone();
    for lost in &report.lost_writes {
        failures.push(format!(
            "acknowledged write lost: key {} value {}: {}",
            lost.key, lost.value, lost.reason
        ));
    }
    failures.extend(report.counters.iter().map(ToString::to_string));
    failures.extend(report.sets.iter().map(ToString::to_string));
    let lin = &report.linearizability;
    if (workload.promises_linearizability() || sweep.criteria.require_linearizability_everywhere)
        && !lin.is_linearizable()
    {
        for v in &lin.violations {
            failures.push(format!(
                "not linearizable: key {}: operation #{} cannot follow a linearizable prefix of {} operations",
                v.key,
                v.blocked,
                v.prefix.len()
            ));
        }
        for key in &lin.unknown {
            failures.push(format!(
                "linearizability of key {key} unknown: search budget ran out"
            ));
        }
    }
    let regular_required = workload.promises_linearizability()
        || (workload.promises_regular() && sweep.criteria.require_regular);
    if regular_required {
        for stale in &report.stale_reads {
            failures.push(format!(
                "stale read: operation #{} returned write #{:?}, superseded by #{:?} before it began",
                stale.read, stale.returned, stale.superseded_by
            ));
        }
    }
    if sweep.criteria.require_convergence && !report.convergence.all_converged() {
        failures.push(format!(
            "replicas diverged after the final heal on keys {:?}",
            report.convergence.diverged
        ));
    }
    SeedResult {
        seed,
        workload,
        failures,
        report: Some(report),
    }
}

/// Totals of a sweep for one workload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub seeds: usize,
    pub failed: usize,
    pub ops: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    /// Operations given to the linearizability search.
    pub ops_checked: usize,
    /// Seeds with at least one non-linearizable key.
    pub non_linearizable_seeds: usize,
    pub non_linearizable_keys: usize,
    pub unknown_keys: usize,
    /// Reads of a value superseded before the read began, or never written.
    pub stale_reads: usize,
    pub stale_read_seeds: usize,
    pub keys: usize,
    pub converged_keys: usize,
    /// Final views (reads at `ALL`, replicas' stored copies) the counter or set checker judged.
    pub final_views: usize,
    /// Views the counter or set checker rejected.
    pub final_violations: usize,
}

impl Tally {
    pub fn add(&mut self, result: &SeedResult) {
        self.seeds += 1;
        self.failed += usize::from(!result.passed());
        let Some(r) = &result.report else {
            return;
        };
        let (ok, fail, info) = r.outcomes();
        self.ops += r.history.ops().len();
        self.ok += ok;
        self.fail += fail;
        self.info += info;
        self.ops_checked += r.linearizability.ops_checked;
        self.non_linearizable_seeds += usize::from(!r.linearizability.violations.is_empty());
        self.non_linearizable_keys += r.linearizability.violations.len();
        self.unknown_keys += r.linearizability.unknown.len();
        self.stale_reads += r.stale_reads.len();
        self.stale_read_seeds += usize::from(!r.stale_reads.is_empty());
        self.keys += r.convergence.keys;
        self.converged_keys += r.convergence.converged;
        self.final_views += r.final_views;
        self.final_violations += r.counters.len() + r.sets.len();
    }
}
