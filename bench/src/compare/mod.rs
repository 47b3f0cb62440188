//! `kvorum-bench compare`: starts every contender itself on loopback and runs the same
//! workloads against each in turn, alternating, then prints same-run ratios against the
//! issue's targets and writes the report.
//!
//! - [`contenders`]: starting, checking and stopping kvorum (`kvorum dev`), redis-server and
//!   etcd, each in a fresh folder on free ports;
//! - [`plan`]: which workloads run against whom, how long, and the alternation;
//! - [`runner`]: runs the schedule;
//! - [`ratios`]: the targets as ratios; [`tables`]: the other tables and their text form;
//! - [`machine`]: date, commit, machine and server versions for the report.
//!
//! Only same-run ratios mean anything: the machines these runs use are shared and noisy, and
//! absolute figures move by ±20% between runs.

mod contenders;
mod plan;
mod ratios;
mod runner;
mod tables;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use kvorum_bench::machine;
use kvorum_bench::report::{self, Report};
use kvorum_bench::ycsb::{self, Workload};

use self::contenders::{Binaries, ALL};
use self::plan::Settings;
use self::runner::{Groups, Outcomes};

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// A short run (every contender and case, once, short windows, a small keyspace) to check
    /// the setup; well under 10 minutes.
    #[arg(long)]
    pub quick: bool,
    /// The `kvorum` binary; default: the one next to this binary, else target/release/kvorum.
    #[arg(long)]
    pub kvorum: Option<PathBuf>,
    /// The `redis-server` binary; default: from PATH (Debian package redis-server).
    #[arg(long)]
    pub redis_server: Option<PathBuf>,
    /// The `etcd` binary; default: from PATH (Debian package etcd-server).
    #[arg(long)]
    pub etcd: Option<PathBuf>,
    /// Only these contenders (comma-separated); default: all of them.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(ALL))]
    pub only: Vec<String>,
    /// YCSB workloads for the general picture (comma-separated); default: a,b,c,d,f.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub ycsb: Vec<Workload>,
    /// Repetitions of the whole schedule; the tables show each case's median run (default:
    /// 3, 1 with --quick).
    #[arg(long)]
    pub repetitions: Option<usize>,
    /// Measured seconds per run (default: 20, 4 with --quick).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Warm-up seconds per run, not measured (default: 5, 2 with --quick).
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Records loaded into every contender (default: 100000, 10000 with --quick).
    #[arg(long)]
    pub records: Option<u64>,
    /// Client connections of every run (default: 50, as the targets are stated).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Where the report goes (default: bench-results/compare-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the contenders' folders (data and server logs) and print where they are.
    #[arg(long)]
    pub keep: bool,
}

pub async fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Interrupted, `measure` is dropped: every server it started is stopped on the way
    // (`contenders::process::Server`'s Drop), before this returns.
    tokio::select! {
        result = measure(args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted (Ctrl-C); the servers started were stopped"),
        _ = terminate.recv() => bail!("terminated (SIGTERM); the servers started were stopped"),
    }
}

/// The contenders' folder: removed at the end unless `--keep`. Dropped after the groups (see
/// [`Session`]), so no server still writes into it.
#[derive(Debug)]
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            println!(
                "kept the contenders' data and logs in {}",
                self.path.display()
            );
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("could not remove {}: {e}", self.path.display());
        }
    }
}

/// What must be cleaned up, in drop order: the servers first, then their folder.
#[derive(Debug)]
struct Session {
    groups: Groups,
    _dir: WorkDir,
}

async fn measure(args: CompareArgs) -> anyhow::Result<()> {
    let started = machine::unix_now();
    let mut settings = Settings::new(args.quick);
    if let Some(r) = args.repetitions {
        settings.repetitions = r.max(1);
    }
    if let Some(s) = args.seconds {
        settings.duration = Duration::from_secs(s.max(1));
    }
    if let Some(s) = args.warmup {
        settings.warmup = Duration::from_secs(s);
    }
    if let Some(r) = args.records {
        settings.records = r.max(1);
    }
    if let Some(c) = args.clients {
        settings.clients = c.max(1);
    }
    let wanted: Vec<&'static str> = ALL
        .iter()
        .copied()
        .filter(|c| args.only.is_empty() || args.only.iter().any(|o| o == c))
        .collect();
    let ycsb_workloads = if args.ycsb.is_empty() {
        plan::DEFAULT_YCSB.to_vec()
    } else {
        args.ycsb.clone()
    };
    let cases = plan::cases(&ycsb_workloads, &wanted);
    let group_names = contenders::groups_for(&wanted);
    let bins = binaries(&args, &group_names)?;
    let machine = machine::facts(
        started,
        &[
            ("kvorum", bins.kvorum.as_deref()),
            ("redis-server", bins.redis_server.as_deref()),
            ("etcd", bins.etcd.as_deref()),
        ],
    );
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("bench-results/compare-{started}")));

    let dir = std::env::temp_dir().join(format!(
        "kvorum-bench-compare-{}-{started}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut session = Session {
        groups: Vec::new(),
        _dir: WorkDir {
            path: dir.clone(),
            keep: args.keep,
        },
    };
    let mut outcomes = Outcomes::default();
    let steps = plan::schedule(&cases, settings.repetitions).len();
    println!(
        "kvorum-bench compare: {} contenders, {} cases, {steps} runs of {} s (+{} s warm-up), \
         {} clients, {}-byte values, {} records, {} repetition(s)",
        wanted.len(),
        cases.len(),
        settings.duration.as_secs(),
        settings.warmup.as_secs(),
        settings.clients,
        settings.value_bytes,
        settings.records,
        settings.repetitions
    );

    let mut ports = contenders::ports::Ports::new();
    for &name in &group_names {
        println!("starting {name} ...");
        let group = contenders::start(name, &wanted, &bins, &dir, &mut ports).await;
        let group = match group {
            Ok(group) => {
                println!("  ready: {}", group.description);
                load(group, &settings).await
            }
            Err(e) => Err(format!("{e:#}")),
        };
        if let Err(e) = &group {
            println!("  {name} is left out: {e}");
            outcomes.failures.push((name.to_owned(), e.clone()));
        }
        session.groups.push((name, group));
    }
    let descriptions: Vec<(String, String)> = session
        .groups
        .iter()
        .filter_map(|(name, g)| {
            g.as_ref()
                .ok()
                .map(|g| (format!("contender {name}"), g.description.clone()))
        })
        .collect();

    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    runner::run_all(
        &mut session.groups,
        &cases,
        &settings,
        progress,
        &mut outcomes,
    )
    .await;
    println!("stopping the contenders ...");
    drop(session);

    let results = outcomes.representatives(&cases);
    let (mut report_tables, tally) = ratios::tables(&results);
    let results_table = tables::results(&cases, &outcomes);
    println!();
    println!("{}", tables::render(&results_table));
    for table in &report_tables {
        println!("{}", tables::render(table));
    }
    println!(
        "targets: {} met, {} missed, {} not measured",
        tally.met, tally.missed, tally.unmeasured
    );
    report_tables.push(results_table);
    report_tables.push(tables::picture(&cases, &outcomes));
    if settings.repetitions > 1 {
        report_tables.push(tables::repetitions(&cases, &outcomes, settings.repetitions));
    }
    if let Some(failures) = tables::failures(&outcomes) {
        println!("{}", tables::render(&failures));
        report_tables.push(failures);
    }

    let mut facts = machine;
    facts.extend([
        ("clients".to_owned(), settings.clients.to_string()),
        ("value bytes".to_owned(), settings.value_bytes.to_string()),
        ("records".to_owned(), settings.records.to_string()),
        (
            "warm-up / measured".to_owned(),
            format!(
                "{} s / {} s per run",
                settings.warmup.as_secs(),
                settings.duration.as_secs()
            ),
        ),
        ("repetitions".to_owned(), settings.repetitions.to_string()),
    ]);
    facts.extend(descriptions);
    let report = Report {
        title: "kvorum-bench compare".to_owned(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: facts,
        results,
        tables: report_tables,
    };
    let path = report::write(&out_dir, Path::new("bench-results/latest.json"), &report)
        .with_context(|| format!("writing the report to {}", out_dir.display()))?;
    println!("report: {}", path.display());
    if !outcomes.failures.is_empty() {
        bail!(
            "{} run(s) or contender(s) failed (see the Failures table)",
            outcomes.failures.len()
        );
    }
    Ok(())
}

/// Loads the keyspace into a freshly started group (once per group; the three kvorum-n3
/// contenders share theirs). A group that cannot be loaded is stopped and left out.
async fn load(group: contenders::Group, settings: &Settings) -> Result<contenders::Group, String> {
    let data = runner::data(settings, Workload::A);
    // At least 500 records per second, plus time to connect: a load slower than that is hung.
    let limit = Duration::from_secs(120 + settings.records / 500);
    let started = std::time::Instant::now();
    match tokio::time::timeout(
        limit,
        ycsb::load(&group.load_target, &data, settings.clients),
    )
    .await
    {
        Ok(Ok(())) => {
            println!(
                "  loaded {} records in {:.1} s",
                settings.records,
                started.elapsed().as_secs_f64()
            );
            Ok(group)
        }
        Ok(Err(e)) => Err(format!("loading {} records: {e}", settings.records)),
        Err(_) => Err(format!(
            "loading {} records took over {} s",
            settings.records,
            limit.as_secs()
        )),
    }
}

/// Finds the server binaries the groups need; if any is missing, fails saying which Debian
/// package (or build) provides it. Nothing is installed here.
fn binaries(args: &CompareArgs, groups: &[&str]) -> anyhow::Result<Binaries> {
    let mut bins = Binaries::default();
    let mut missing = Vec::new();
    let needs = |binary: &str| groups.iter().any(|g| contenders::binary_of(g).0 == binary);
    if needs("kvorum") {
        let candidates = match &args.kvorum {
            Some(path) => vec![path.clone()],
            None => {
                let mut c = Vec::new();
                if let Some(dir) = std::env::current_exe()
                    .ok()
                    .and_then(|e| e.parent().map(Path::to_path_buf))
                {
                    c.push(dir.join("kvorum"));
                }
                c.push(PathBuf::from("target/release/kvorum"));
                c
            }
        };
        match candidates.iter().find(|p| is_executable(p)) {
            Some(path) => bins.kvorum = Some(path.clone()),
            None => missing.push(format!(
                "kvorum: no executable at {}; build it with `cargo build --release -p \
                 kvorum-node` or pass --kvorum PATH",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        }
    }
    for (binary, package, given, slot) in [
        (
            "redis-server",
            "redis-server",
            &args.redis_server,
            &mut bins.redis_server,
        ),
        ("etcd", "etcd-server", &args.etcd, &mut bins.etcd),
    ] {
        if !needs(binary) {
            continue;
        }
        let found = match given {
            Some(path) => is_executable(path).then(|| path.clone()),
            None => on_path(binary),
        };
        match found {
            Some(path) => *slot = Some(path),
            None => missing.push(match given {
                Some(path) => format!("{binary}: {} is not an executable", path.display()),
                None => format!(
                    "{binary} is not on PATH: install Debian's {package} package \
                     (`sudo apt-get install {package}`) or pass --{binary} PATH"
                ),
            }),
        }
    }
    if !missing.is_empty() {
        bail!(
            "missing server binaries (compare installs nothing itself):\n  {}",
            missing.join("\n  ")
        );
    }
    Ok(bins)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}
