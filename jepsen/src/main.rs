//! `kvorum-jepsen`: command-line entry to the simulator.
//!
//! `kvorum-jepsen sim --seeds 1000` sweeps seeds 0..1000 over every workload; `--seed S` replays
//! one seed (printing its history); `--workload`, `--nodes`, `--ops` narrow or resize the run.
//! The exit code is non-zero if any seed failed.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvorum_jepsen::suite::{run_seed, Criteria, SweepConfig, Tally, Workload};

#[derive(Parser)]
#[command(about = "Deterministic simulation and Jepsen-style checks for kvorum")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the deterministic simulator over many seeds (or replay one).
    Sim {
        /// How many seeds to run, starting at --first-seed.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Replay exactly this seed and print its history.
        #[arg(long)]
        seed: Option<u64>,
        /// register-quorum, register-all, register-strong, eventual, counter, set, or all.
        #[arg(long, default_value = "all")]
        workload: String,
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Client operations per seed.
        #[arg(long, default_value_t = 300)]
        ops: usize,
        /// Only measure convergence after the final heal instead of failing a seed on it.
        #[arg(long)]
        allow_divergence: bool,
        /// Fail a seed that is not linearizable even in modes that do not promise it.
        #[arg(long)]
        require_linearizability: bool,
        /// Only measure stale reads of QUORUM and ALL instead of failing a seed on them.
        #[arg(long)]
        allow_stale_reads: bool,
        /// With --seed: also print every simulated event.
        #[arg(long)]
        trace: bool,
        /// Probability that the network delivers a message twice.
        #[arg(long, default_value_t = 0.02)]
        duplicate: f64,
    },
}

fn main() -> ExitCode {
    let Command::Sim {
        seeds,
        first_seed,
        seed,
        workload,
        nodes,
        ops,
        allow_divergence,
        require_linearizability,
        allow_stale_reads,
        trace,
        duplicate,
    } = Cli::parse().command;
    let workloads: Vec<Workload> = if workload == "all" {
        Workload::ALL.to_vec()
    } else {
        match Workload::parse(&workload) {
            Some(w) => vec![w],
            None => {
                eprintln!("unknown workload {workload:?}");
                return ExitCode::from(2);
            }
        }
    };
    if !(1..=64).contains(&nodes) {
        eprintln!("--nodes must be between 1 and 64");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&duplicate) {
        eprintln!("--duplicate must be a probability between 0 and 1");
        return ExitCode::from(2);
    }
    let sweep = SweepConfig {
        nodes,
        criteria: Criteria {
            require_convergence: !allow_divergence,
            require_linearizability_everywhere: require_linearizability,
            require_regular: !allow_stale_reads,
        },
        trace: trace && seed.is_some(),
        duplicate,
        ..SweepConfig::new(ops)
    };
    let range: Vec<u64> = match seed {
        Some(s) => vec![s],
        None => (first_seed..first_seed.saturating_add(seeds)).collect(),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for &w in &workloads {
        let mut tally = Tally::default();
        for &s in &range {
            let result = run_seed(s, w, &sweep);
            tally.add(&result);
            if seed.is_some() {
                if let Some(report) = &result.report {
                    for line in &report.trace {
                        println!("trace {line}");
                    }
                    print!("{}", report.history.render());
                    for v in &report.linearizability.violations {
                        println!(
                            "non-linearizable key {}: op #{} {:?} blocked after prefix {:?}",
                            v.key,
                            v.blocked,
                            report.history.ops().get(v.blocked),
                            v.prefix
                        );
                    }
                    for s in &report.stale_reads {
                        println!(
                            "stale read #{}: returned the write #{:?}, superseded by #{:?}",
                            s.read, s.returned, s.superseded_by
                        );
                    }
                    for v in &report.counters {
                        println!("{v}");
                    }
                    for v in &report.sets {
                        println!("{v}");
                    }
                    println!("stats: {:?}", report.stats);
                }
            }
            if result.passed() {
                passed += 1;
            } else {
                failed += 1;
                for f in &result.failures {
                    println!("FAIL seed {s} {}: {f}", w.name());
                }
            }
        }
        println!(
            "{}: {} seeds, {} failed; {} ops ({} ok, {} fail, {} info), {} checked for linearizability: \
             {} non-linearizable keys in {} seeds, {} unknown; {} stale reads in {} seeds; converged {}/{} keys; \
             {} final views checked, {} rejected",
            w.name(),
            tally.seeds,
            tally.failed,
            tally.ops,
            tally.ok,
            tally.fail,
            tally.info,
            tally.ops_checked,
            tally.non_linearizable_keys,
            tally.non_linearizable_seeds,
            tally.unknown_keys,
            tally.stale_reads,
            tally.stale_read_seeds,
            tally.converged_keys,
            tally.keys,
            tally.final_views,
            tally.final_violations
        );
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
