//! `kvorum-jepsen`: the deterministic simulator and the real-process partition harness.
//!
//! - `sim`: sweeps seeds over every simulated workload (`--seed S` replays one, printing its
//!   history); the exit code is non-zero if any seed failed.
//! - `run`: one real-process run (kvorum nodes in network namespaces, a nemesis, clients,
//!   checkers); artifacts in `runs/<scenario>/<timestamp>/`. Needs root.
//! - `check DIR`: judges a stored run again with the current checkers.
//! - `ci`: the short tier of named scenarios CI runs; prints `N passed, M failed`.
//! - `crash`: kill -9 crash tests of real nodes on loopback (no root), on the node's default
//!   storage engine or the one `--engine` names; prints one line per kill and
//!   `N passed, M failed`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvorum_jepsen::real::ci::{Scenario, SCENARIOS};
use kvorum_jepsen::real::nemesis::NemesisSpec;
use kvorum_jepsen::real::run::{run, RunConfig};
use kvorum_jepsen::real::verdict::Validity;
use kvorum_jepsen::real::workload::{Mode, Workload as RealWorkload};
use kvorum_jepsen::real::{net, process, recheck};
use kvorum_jepsen::suite::{run_seed, Criteria, SweepConfig, Tally, Workload};

#[derive(Parser)]
#[command(about = "Deterministic simulation and Jepsen-style partition tests for kvorum")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the deterministic simulator over many seeds (or replay one).
    Sim(SimArgs),
    /// Run real kvorum processes under a nemesis and check the history (needs root).
    Run(RunArgs),
    /// Judge a stored run directory again with the current checkers.
    Check {
        /// A run directory (`runs/<scenario>/<timestamp>`).
        dir: PathBuf,
    },
    /// The CI tier: every named scenario once; prints `N passed, M failed`.
    Ci(CiArgs),
    /// SIGKILL real nodes mid-write on loopback and check every acknowledged write survived.
    Crash(CrashArgs),
}

#[derive(clap::Args)]
struct CrashArgs {
    /// How many kills (one checked case each).
    #[arg(long, default_value_t = 5)]
    kills: usize,
    /// 1 node, or a 3-node cluster with N=3.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// The nodes' storage engine (default: the node's default engine).
    #[arg(long, value_enum)]
    engine: Option<kvorum_jepsen::crash::CrashEngine>,
    /// Seed of the kill delays, the victims and the workload (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The kvorum binary (default: `kvorum` next to this binary).
    #[arg(long)]
    kvorum: Option<PathBuf>,
    /// Keep configs, data and node logs here (default: a temporary folder, removed).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SimArgs {
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
}

/// Where the harness finds the node binary unless told: next to itself (`target/debug`).
fn default_kvorum() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("kvorum")))
        .unwrap_or_else(|| PathBuf::from("kvorum"))
}

#[derive(clap::Args)]
struct CommonArgs {
    /// The kvorum binary, built with `--features fault-injection`
    /// (default: `kvorum` next to this binary).
    #[arg(long)]
    kvorum: Option<PathBuf>,
    /// Where run directories are written.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
}

#[derive(clap::Args)]
struct RunArgs {
    /// register, set, counter or siblings.
    #[arg(long)]
    workload: String,
    /// strong, quorum or eventual (default: strong for register, eventual otherwise).
    #[arg(long)]
    mode: Option<String>,
    /// none, or faults joined by '+' (partition, partition-halves, partition-one,
    /// partition-minority-third, partition-majorities-ring, partition-bridge,
    /// partition-asymmetric, loss, kill, pause, clock).
    #[arg(long, default_value = "partition")]
    nemesis: String,
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    #[arg(long, default_value_t = 3)]
    replication: usize,
    /// Seconds of client work.
    #[arg(long, default_value_t = 60)]
    time_limit: u64,
    /// Seed of the schedule and the operations (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Pause between one client's operations, ms.
    #[arg(long, default_value_t = 50)]
    think_ms: u64,
    /// Switch a node fault on for the whole run (`drop-hints`, `strong-skip-writeback`):
    /// a deliberately broken cluster.
    #[arg(long = "node-fault")]
    node_faults: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
struct CiArgs {
    /// Seed of every scenario (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Run only these scenarios (by name).
    #[arg(long = "only")]
    only: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Sim(args) => sim(args),
        Command::Run(args) => run_one(args),
        Command::Check { dir } => check(&dir),
        Command::Ci(args) => ci(args),
        Command::Crash(args) => crash(args),
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn print_outcome(valid: Validity, summary: &[String], dir: &std::path::Path) {
    for line in summary {
        println!("  {line}");
    }
    println!("  artifacts: {}", dir.display());
    println!("  verdict: {valid:?}");
}

fn run_one(args: RunArgs) -> ExitCode {
    let Some(workload) = RealWorkload::parse(&args.workload) else {
        eprintln!(
            "unknown workload {:?}: register, set, counter or siblings",
            args.workload
        );
        return ExitCode::from(2);
    };
    let mode = match args.mode.as_deref().map(Mode::parse) {
        None => workload.default_mode(),
        Some(Some(m)) => m,
        Some(None) => {
            eprintln!("unknown mode: strong, quorum or eventual");
            return ExitCode::from(2);
        }
    };
    let nemesis = match NemesisSpec::parse(&args.nemesis) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if !(1..=20).contains(&args.nodes) || !(1..=args.nodes).contains(&args.replication) {
        eprintln!("--nodes must be 1..=20 and --replication 1..=nodes");
        return ExitCode::from(2);
    }
    if args.clients == 0 || args.time_limit == 0 {
        eprintln!("--clients and --time-limit must be at least 1");
        return ExitCode::from(2);
    }
    let config = RunConfig {
        workload,
        mode,
        nemesis,
        nodes: args.nodes,
        replication: args.replication,
        time_limit_s: args.time_limit,
        seed: args.seed.unwrap_or_else(clock_seed),
        clients: args.clients,
        think_ms: args.think_ms,
        client_timeout_ms: 5_000,
        kvorum: args.common.kvorum.unwrap_or_else(default_kvorum),
        out: args.common.out,
        node_faults: args.node_faults,
    };
    println!("{}: seed {}", config.scenario(), config.seed);
    match run(&config) {
        Ok(outcome) => {
            print_outcome(outcome.valid, &outcome.summary, &outcome.dir);
            println!("  repro: {}", config.repro());
            if outcome.valid == Validity::True {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("run failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(dir: &std::path::Path) -> ExitCode {
    match recheck::recheck(dir) {
        Ok(verdict) => {
            print_outcome(verdict.valid, &verdict.summary, dir);
            if verdict.valid == Validity::True {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cannot check {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

fn ci(args: CiArgs) -> ExitCode {
    let seed = args.seed.unwrap_or_else(clock_seed);
    let kvorum = args.common.kvorum.unwrap_or_else(default_kvorum);
    for name in &args.only {
        if Scenario::find(name).is_none() {
            eprintln!("unknown scenario {name:?}");
            return ExitCode::from(2);
        }
    }
    println!("kvorum-jepsen ci: seed {seed}, kvorum {}", kvorum.display());
    let (mut passed, mut failed) = (0usize, 0usize);
    // The plumbing first: a partition that does not partition, or a kill that does not kill,
    // would make every pass a lie.
    let plumbing = net::Topology::create(3).and_then(|t| {
        let mut lines = net::self_test(&t)?;
        let log = args.common.out.join("process-self-test.log");
        let _ = std::fs::create_dir_all(&args.common.out);
        lines.extend(process::self_test(&t.node_ns(0), &log).map_err(|e| {
            net::NetError::Verify {
                what: format!("process self-test: {e}"),
            }
        })?);
        t.teardown()?;
        Ok(lines)
    });
    match plumbing {
        Ok(lines) => {
            passed += 1;
            println!("PASS network self-test");
            for line in lines {
                println!("  {line}");
            }
        }
        Err(e) => {
            println!("FAIL network self-test: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    }
    for scenario in SCENARIOS
        .iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s.name))
    {
        let config = match scenario.config(&kvorum, &args.common.out, seed) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {}: {e}", scenario.name);
                failed += 1;
                continue;
            }
        };
        println!(
            "{} ({} s of workload)",
            scenario.name, scenario.time_limit_s
        );
        let ok = match run(&config) {
            Ok(outcome) => {
                print_outcome(outcome.valid, &outcome.summary, &outcome.dir);
                if scenario.must_fail {
                    outcome.valid == Validity::False
                } else {
                    outcome.valid == Validity::True
                }
            }
            Err(e) => {
                println!("  run failed: {e}");
                false
            }
        };
        let expectation = if scenario.must_fail {
            " (a broken build: the checkers must reject it)"
        } else {
            ""
        };
        if ok {
            passed += 1;
            println!("PASS {}{expectation}", scenario.name);
        } else {
            failed += 1;
            println!(
                "FAIL {}{expectation}; repro: {}",
                scenario.name,
                config.repro()
            );
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn crash(args: CrashArgs) -> ExitCode {
    if args.kills == 0 || !matches!(args.nodes, 1 | 3) {
        eprintln!("--kills must be at least 1 and --nodes 1 or 3");
        return ExitCode::from(2);
    }
    let config = kvorum_jepsen::crash::CrashConfig {
        kvorum: args.kvorum.unwrap_or_else(default_kvorum),
        nodes: args.nodes,
        kills: args.kills,
        engine: args.engine,
        seed: args.seed.unwrap_or_else(clock_seed),
        out: args.out,
    };
    let engine = config.engine.map_or(
        "the node's default",
        kvorum_jepsen::crash::CrashEngine::name,
    );
    println!(
        "kvorum-jepsen crash: {} node(s), {} kills, engine {engine}, seed {}, kvorum {}",
        config.nodes,
        config.kills,
        config.seed,
        config.kvorum.display()
    );
    let results = kvorum_jepsen::crash::run(&config, |case| {
        println!("{}", case.line(config.kills));
        let killed: Vec<String> = case.killed.iter().map(|id| format!("n{id}")).collect();
        println!(
            "  killed {}; {} writes in flight at the kill (outcome unknown, not checked)",
            killed.join(" "),
            case.in_doubt
        );
        for problem in &case.problems {
            println!("  {problem}");
        }
    });
    match results {
        Ok(cases) => {
            let passed = cases.iter().filter(|c| c.passed()).count();
            // Cases that never ran (the run stopped after a node could not come back) fail.
            let failed = config.kills - passed;
            println!("{passed} passed, {failed} failed");
            if failed > 0 {
                let engine_flag = config
                    .engine
                    .map(|e| format!(" --engine {}", e.name()))
                    .unwrap_or_default();
                println!(
                    "  repro: kvorum-jepsen crash --kills {} --nodes {}{engine_flag} --seed {}",
                    config.kills, config.nodes, config.seed
                );
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("crash test could not run: {e}");
            println!("0 passed, {} failed", config.kills);
            ExitCode::FAILURE
        }
    }
}

fn sim(args: SimArgs) -> ExitCode {
    let SimArgs {
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
    } = args;
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
