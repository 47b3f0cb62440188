//! `kvorum-bench run`: one YCSB-style workload against one server that is already running.
//!
//! Loads the records (unless `--no-load`), runs the workload, prints a short table, and writes
//! `<out>/results.json`, `<out>/report.html` and `bench-results/latest.json`.
//!
//! The load generator runs on its own tokio runtime with `--threads` worker threads (default
//! 1): on a small machine shared with the server, one thread is the cheapest way to drive it
//! (no cross-thread wake-ups); the printed bench CPU shows when one thread is not enough.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use kvorum_bench::driver::native::NativeTarget;
use kvorum_bench::driver::resp::RespTarget;
use kvorum_bench::driver::Target;
use kvorum_bench::report::{self, Report};
use kvorum_bench::ycsb::{
    self, Distribution, LoadMode, RunResult, RunSpec, Workload, WorkloadSpec,
};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// `resp://HOST:PORT` (any Redis-protocol server) or `native://HOST:PORT[,HOST:PORT...]`
    /// (kvorum's QUIC address; see `--ca`).
    #[arg(long)]
    pub target: String,
    /// The cluster CA certificate, for `native://`.
    #[arg(long, default_value = kvorum_client::DEV_CA_CERT)]
    pub ca: String,
    /// Consistency of every request: sent once per connection as `CONSISTENCY <level>` over
    /// RESP (kvorum only; leave out for Redis), or carried by each request over native
    /// (default there: quorum).
    #[arg(long)]
    pub consistency: Option<String>,
    /// RESP: send `WAIT <n> <wait-timeout-ms>` after every write (a Redis primary with
    /// replicas); fewer acknowledgements than `n` count as an error.
    #[arg(long)]
    pub wait: Option<u32>,
    #[arg(long, default_value_t = 1_000)]
    pub wait_timeout_ms: u64,
    /// Password (`AUTH` over RESP, the hello over native).
    #[arg(long)]
    pub password: Option<String>,
    /// The contender's name in the report and latest.json (default: from the target).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_enum, default_value = "a")]
    pub workload: Workload,
    /// Key choice (default: the workload's YCSB default: latest for d, zipfian otherwise).
    #[arg(long, value_enum)]
    pub distribution: Option<Distribution>,
    /// Records loaded before the run (`user0` ...).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Longest scan of workload e.
    #[arg(long, default_value_t = 100)]
    pub max_scan: usize,
    /// Concurrent connections, each with one batch in flight.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Requests per batch (1: no pipelining).
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Open loop: this many operations per second in total, on schedule; latency counts from
    /// when each request was due. Without it: closed loop.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Seconds of load before measuring (not recorded).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Stop after this many measured operations, even before `--seconds`.
    #[arg(long)]
    pub max_ops: Option<u64>,
    /// A server process whose CPU time (with all its descendants') is measured; repeatable.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Skip the load phase (the records are already there).
    #[arg(long)]
    pub no_load: bool,
    /// Output directory (default `bench-results/run-<unix time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the summary goes.
    #[arg(long, default_value = "bench-results/latest.json")]
    pub latest: PathBuf,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

fn resolve(text: &str) -> anyhow::Result<SocketAddr> {
    text.to_socket_addrs()
        .with_context(|| format!("resolving {text}"))?
        .next()
        .with_context(|| format!("{text} resolves to no address"))
}

/// The driver target a `--target` URL and the options name.
pub fn target(args: &RunArgs) -> anyhow::Result<Target> {
    if let Some(rest) = args.target.strip_prefix("resp://") {
        return Ok(Target::Resp(RespTarget {
            addr: resolve(rest.trim_end_matches('/'))?,
            spread: Vec::new(),
            consistency: args.consistency.as_ref().map(|c| c.to_uppercase()),
            wait: args.wait.map(|n| (n, args.wait_timeout_ms)),
            password: args.password.clone(),
        }));
    }
    if let Some(rest) = args.target.strip_prefix("native://") {
        if args.wait.is_some() {
            bail!("--wait is for RESP targets (a Redis primary with replicas)");
        }
        let seeds: Vec<String> = rest
            .trim_end_matches('/')
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if seeds.is_empty() {
            bail!("native:// needs at least one HOST:PORT");
        }
        return Ok(Target::Native(NativeTarget {
            seeds,
            ca: args.ca.clone(),
            consistency: args
                .consistency
                .clone()
                .unwrap_or_else(|| "quorum".into())
                .to_lowercase(),
            password: args.password.clone(),
        }));
    }
    bail!(
        "--target {}: expected resp://HOST:PORT or native://HOST:PORT",
        args.target
    )
}

fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("--{what} {value}"))
}

/// The spec of the run the options describe.
pub fn spec(args: &RunArgs) -> anyhow::Result<RunSpec> {
    if args.clients == 0 || args.pipeline == 0 {
        bail!("--clients and --pipeline must be at least 1");
    }
    if args.rate == Some(0) {
        bail!("--rate must be above 0");
    }
    Ok(RunSpec {
        data: WorkloadSpec {
            workload: args.workload,
            record_count: args.records.max(1),
            value_bytes: args.value_bytes,
            distribution: args.distribution,
            max_scan: args.max_scan.max(1),
        },
        clients: args.clients,
        pipeline: args.pipeline,
        mode: match args.rate {
            Some(ops_per_sec) => LoadMode::Open { ops_per_sec },
            None => LoadMode::Closed,
        },
        warmup: seconds(args.warmup, "warmup")?,
        duration: seconds(args.seconds, "seconds")?,
        max_ops: args.max_ops,
        progress: !args.no_progress,
    })
}

/// The short table printed after runs.
pub fn print_table(results: &[RunResult]) {
    println!(
        "{:<28} {:>8} {:>7} {:>10} {:>8} {:>8} {:>9} {:>8} {:>7} {:>11} {:>9}",
        "contender",
        "workload",
        "clients",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "srv µs/op",
        "bench CPU"
    );
    for r in results {
        let bench_cpu = if r.cpu_window_s > 0.0 {
            format!("{:.0}%", 100.0 * r.client_cpu_s / r.cpu_window_s)
        } else {
            "-".into()
        };
        println!(
            "{:<28} {:>8} {:>7} {:>10.0} {:>8.3} {:>8.3} {:>9.3} {:>8.3} {:>7} {:>11.1} {:>9}",
            r.contender,
            r.workload,
            r.clients,
            r.ops_per_sec,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.p999_ms,
            r.latency.max_ms,
            r.errors,
            r.server_cpu_us_per_op,
            bench_cpu
        );
    }
}

async fn load_and_run(
    args: &RunArgs,
    target: &Target,
    spec: &RunSpec,
) -> anyhow::Result<RunResult> {
    if !args.no_load {
        let started = std::time::Instant::now();
        eprintln!(
            "loading {} records of {} bytes through {} connections...",
            spec.data.record_count, spec.data.value_bytes, args.clients
        );
        ycsb::load(target, &spec.data, args.clients)
            .await
            .context("loading the records")?;
        eprintln!("loaded in {:.1}s", started.elapsed().as_secs_f64());
    }
    let mut result = ycsb::run(target, spec, &args.server_pids)
        .await
        .context("running the workload")?;
    if let Some(name) = &args.name {
        result.contender.clone_from(name);
    }
    Ok(result)
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let target = target(&args)?;
    let spec = spec(&args)?;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("bench-results/run-{unix}")));
    let threads = args.threads.max(1);
    let result = {
        let (args, target, spec) = (args.clone(), target.clone(), spec.clone());
        // The load runs on a runtime of its own, sized by --threads, whatever runtime called.
        tokio::task::spawn_blocking(move || -> anyhow::Result<RunResult> {
            let runtime = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()?
            };
            runtime.block_on(load_and_run(&args, &target, &spec))
        })
        .await
        .context("the load generator's thread")??
    };
    let results = vec![result];
    print_table(&results);
    // The program by its name, not by where this machine keeps it.
    let command: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, arg)| match i {
            0 => std::path::Path::new(&arg)
                .file_name()
                .map_or(arg.clone(), |n| n.to_string_lossy().into_owned()),
            _ => arg,
        })
        .collect();
    let report = Report {
        title: format!(
            "kvorum-bench run: workload {} against {}",
            args.workload.name(),
            results[0].contender
        ),
        command: command.join(" "),
        machine: kvorum_bench::machine::facts(unix, &[]),
        results,
        tables: Vec::new(),
    };
    let html = report::write(&out, &args.latest, &report)
        .with_context(|| format!("writing the report to {}", out.display()))?;
    println!(
        "report: {}  results: {}  summary: {}",
        html.display(),
        out.join("results.json").display(),
        args.latest.display()
    );
    Ok(())
}
