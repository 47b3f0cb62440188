//! One run: start the cluster, let clients work while the nemesis follows its schedule, heal,
//! check, and leave the artifacts in `runs/<workload>-<mode>-<nemesis>/<timestamp>/`.
//!
//! Threads: one per client and one for the nemesis, all scoped to the run and stopped by one
//! flag; each enters the clients' network namespace before opening a socket. One history
//! behind a mutex records invocations just before they are sent and completions the moment
//! they arrive, in one order for all threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::json;

use super::client::Connection;
use super::cluster::{ActionLog, Cluster, ClusterError};
use super::final_state::{self, Convergence};
use super::nemesis::{schedule, Family, Fault, NemesisSpec, Step};
use super::net::{self, CTL_NS};
use super::verdict::{judge, Evidence, Validity};
use super::workload::{complete, Generator, Mode, Workload};
use crate::checker::logs;
use crate::history::{History, NemesisPeriod, OpKind};
use crate::report;

/// Everything that defines a run; recorded in `run.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    pub workload: Workload,
    pub mode: Mode,
    pub nemesis: NemesisSpec,
    pub nodes: usize,
    pub replication: usize,
    /// Seconds of client work (the heal, convergence and final reads come after).
    pub time_limit_s: u64,
    pub seed: u64,
    pub clients: usize,
    /// Pause between one client's operations, ms (bounds the request rate).
    pub think_ms: u64,
    /// How long a client waits for a reply before recording `info`.
    pub client_timeout_ms: u64,
    /// The `kvorum` binary, built with `--features fault-injection`.
    pub kvorum: PathBuf,
    /// Where run directories go (`runs`).
    pub out: PathBuf,
    /// Node faults switched on for the whole run (`DEBUG FAULT <name> ON`): a deliberately
    /// broken cluster, to show the checkers catch it.
    pub node_faults: Vec<String>,
}

impl RunConfig {
    /// The scenario's directory name.
    pub fn scenario(&self) -> String {
        let mut name = format!("{}-{}-{}", self.workload.name(), self.mode, self.nemesis);
        for fault in &self.node_faults {
            name.push_str("-broken-");
            name.push_str(fault);
        }
        name
    }

    /// The command that runs this scenario again with the same seed and schedule.
    pub fn repro(&self) -> String {
        let mut line = format!(
            "kvorum-jepsen run --workload {} --mode {} --nemesis {} --nodes {} --replication {} \
             --time-limit {} --seed {} --clients {} --kvorum {}",
            self.workload.name(),
            self.mode,
            self.nemesis,
            self.nodes,
            self.replication,
            self.time_limit_s,
            self.seed,
            self.clients,
            self.kvorum.display()
        );
        for fault in &self.node_faults {
            line.push_str(&format!(" --node-fault {fault}"));
        }
        line
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a finished run found.
pub struct RunOutcome {
    pub dir: PathBuf,
    pub valid: Validity,
    pub summary: Vec<String>,
}

/// Runs one scenario end to end. The hosts are removed and the nodes stopped whatever happens.
pub fn run(config: &RunConfig) -> Result<RunOutcome, RunError> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let dir = config.out.join(config.scenario()).join(format!(
        "{}-seed{}",
        timestamp(stamp),
        config.seed
    ));
    std::fs::create_dir_all(&dir).map_err(io(dir.display().to_string()))?;
    let start = Instant::now();
    let log = ActionLog::create(&dir.join("nemesis.log"), start).map_err(io("nemesis.log"))?;
    let steps = schedule(
        &config.nemesis,
        config.nodes,
        config.time_limit_s * 1000,
        config.seed,
    );
    log.line(&format!("run {} seed {}", config.scenario(), config.seed));

    let mut cluster = Cluster::start(&config.kvorum, config.nodes, config.replication, &dir, &log)?;
    let result = in_ctl(|| drive(config, &mut cluster, &steps, &log, start));
    cluster.shutdown(&log);
    let Driven {
        history,
        periods,
        handoff,
        convergence,
        finals,
        aborted,
    } = result?;

    let logs: Vec<_> = (0..config.nodes)
        .map(|i| {
            let text = std::fs::read_to_string(Cluster::log_path(&dir, i)).unwrap_or_default();
            logs::scan(&format!("n{}", i + 1), &text)
        })
        .collect();
    let verdict = judge(&Evidence {
        workload: config.workload,
        mode: config.mode,
        history: &history,
        nemesis: &periods,
        crashes: config.nemesis.families.contains(&Family::Kill),
        handoff: &handoff,
        convergence: &convergence,
        finals: &finals,
        logs: &logs,
        aborted: aborted.clone(),
    });
    let aborted_copy = aborted;
    write_artifacts(config, &dir, &history, &periods, &steps, &verdict.results)?;
    let after = json!({
        "format": 1,
        "handoff": handoff,
        "convergence": convergence,
        "finals": finals,
        "aborted": aborted_copy,
    });
    std::fs::write(
        dir.join("final.json"),
        serde_json::to_string_pretty(&after).unwrap_or_default(),
    )
    .map_err(io("final.json"))?;
    Ok(RunOutcome {
        dir,
        valid: verdict.valid,
        summary: verdict.summary,
    })
}

/// What the driving phase found, for the checkers.
struct Driven {
    history: History,
    periods: Vec<NemesisPeriod>,
    /// Replicas compared after the heal, before any read could repair them.
    handoff: Convergence,
    /// Replicas compared after the final reads at `ALL`.
    convergence: Convergence,
    finals: Vec<crate::checker::FinalView>,
    aborted: Option<String>,
}

/// Runs `f` on a thread inside the clients' namespace.
fn in_ctl<T: Send>(f: impl FnOnce() -> Result<T, RunError> + Send) -> Result<T, RunError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            net::enter_namespace(CTL_NS).map_err(ClusterError::from)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(RunError::Cluster(ClusterError::Setup(
                "the control thread panicked".into(),
            )))
        })
    })
}

fn drive(
    config: &RunConfig,
    cluster: &mut Cluster,
    steps: &[Step],
    log: &ActionLog,
    start: Instant,
) -> Result<Driven, RunError> {
    cluster.wait_healthy(Duration::from_secs(60))?;
    cluster.check_test_build()?;
    for fault in &config.node_faults {
        cluster.set_node_fault(fault, true)?;
        log.line(&format!("node fault {fault} ON on every node"));
    }
    log.line("cluster healthy; clients start");
    let history = Mutex::new(History::new());
    let generator = Mutex::new(Generator::new(config.workload, config.seed));
    let stop = AtomicBool::new(false);
    let periods = Mutex::new(Vec::new());
    let clients_start = Instant::now();
    let deadline = clients_start + Duration::from_secs(config.time_limit_s);
    let at_ms = || start.elapsed().as_millis() as u64;
    let addrs = cluster.addrs.clone();

    let nemesis_result = std::thread::scope(|s| {
        for c in 0..config.clients {
            let (history, generator, stop, addrs) = (&history, &generator, &stop, &addrs);
            std::thread::Builder::new()
                .name(format!("client-{c}"))
                .spawn_scoped(s, move || {
                    let node = c % addrs.len();
                    client(
                        config,
                        (node, addrs[node]),
                        c,
                        history,
                        generator,
                        stop,
                        deadline,
                        at_ms,
                    )
                })
                .map_err(|e| ClusterError::Setup(format!("spawning a client: {e}")))?;
        }
        // The nemesis runs on this thread; clients stop at the deadline on their own, or
        // early when the nemesis fails.
        let result = nemesis(cluster, steps, &periods, log, start, clients_start, &stop);
        if result.is_err() {
            stop.store(true, Ordering::SeqCst);
        }
        result
    });
    let aborted = nemesis_result.err().map(|e| e.to_string());
    log.line("clients stopped; final heal");
    cluster.heal_everything(log)?;
    cluster.wait_healthy(Duration::from_secs(60))?;
    let history = history.into_inner().unwrap_or_else(|p| p.into_inner());
    let keys = generator
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .keys();
    let compare = |when: &str, within: Duration| {
        let found = final_state::converge(&cluster.addrs, &keys, cluster.replication, within);
        log.line(&format!(
            "{when}: {}/{} keys agree on every replica after {} ms",
            found.converged, found.keys, found.wait_ms
        ));
        found
    };
    // First by hinted handoff alone (before any read could repair), then after the final reads.
    let handoff = compare("after the heal", Duration::from_secs(60));
    let finals = final_state::read_all(&cluster.addrs, &keys, config.workload);
    log.line("final reads at ALL done");
    let convergence = compare("after the final reads", Duration::from_secs(30));
    let periods = periods.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(Driven {
        history,
        periods,
        handoff,
        convergence,
        finals,
        aborted,
    })
}

/// Follows the schedule until its end. Times are relative to the clients' start.
fn nemesis(
    cluster: &mut Cluster,
    steps: &[Step],
    periods: &Mutex<Vec<NemesisPeriod>>,
    log: &ActionLog,
    run_start: Instant,
    clients_start: Instant,
    stop: &AtomicBool,
) -> Result<(), ClusterError> {
    let at_ms = || run_start.elapsed().as_millis() as u64;
    for step in steps {
        let begin = clients_start + Duration::from_millis(step.at_ms);
        sleep_until(begin, stop);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        log.line(&format!(
            "start {}: {}",
            step.fault.name(),
            step.fault.describe()
        ));
        let start_ms = at_ms();
        cluster.begin(&step.fault, log)?;
        let end = Instant::now() + Duration::from_millis(step.hold_ms);
        if let Fault::ClockStrobe {
            node,
            offset_ms,
            period_ms,
        } = step.fault
        {
            let mut high = true;
            while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(period_ms));
                high = !high;
                cluster.set_clock(node, if high { offset_ms } else { 0 }, log)?;
            }
        } else {
            sleep_until(end, stop);
        }
        cluster.end(&step.fault, log)?;
        log.line(&format!("end {}", step.fault.name()));
        if let Ok(mut p) = periods.lock() {
            p.push(NemesisPeriod {
                name: step.fault.name().to_owned(),
                detail: step.fault.describe(),
                start_ms,
                end_ms: at_ms(),
            });
        }
    }
    Ok(())
}

fn sleep_until(when: Instant, stop: &AtomicBool) {
    while Instant::now() < when && !stop.load(Ordering::SeqCst) {
        std::thread::sleep((when - Instant::now()).min(Duration::from_millis(100)));
    }
}

/// One client: a connection to one node, operations one at a time. After an `info` the
/// client continues as a new process (Jepsen's rule: a process never has two operations in
/// flight, and the indeterminate one may still take effect).
#[allow(clippy::too_many_arguments)]
fn client(
    config: &RunConfig,
    (node, addr): (usize, std::net::SocketAddr),
    c: usize,
    history: &Mutex<History>,
    generator: &Mutex<Generator>,
    stop: &AtomicBool,
    deadline: Instant,
    at_ms: impl Fn() -> u64,
) -> Result<(), RunError> {
    net::enter_namespace(CTL_NS).map_err(ClusterError::from)?;
    let mut conn = Connection::new(
        addr,
        Duration::from_millis(config.client_timeout_ms),
        vec![vec!["CONSISTENCY".into(), config.mode.preset().into()]],
    );
    let mut process = c as u64;
    let mut pending = None;
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        let planned = match generator.lock() {
            Ok(mut g) => g.next(pending.take()),
            Err(_) => break,
        };
        let index = {
            let Ok(mut h) = history.lock() else { break };
            let i = h.invoke(
                process,
                node as u64 + 1,
                &planned.key,
                planned.kind,
                planned.value,
                at_ms(),
            );
            if let Some((_, covered)) = &planned.context {
                h.observe(i, covered.clone());
            }
            i
        };
        let words = planned.command();
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let answer = conn.call(&args);
        let done = complete(&planned, &answer);
        {
            let Ok(mut h) = history.lock() else { break };
            let read = matches!(planned.kind, OpKind::Read).then_some((done.value, done.siblings));
            h.complete(index, done.outcome, read, done.note.clone(), at_ms());
            if matches!(planned.kind, OpKind::ReadSet | OpKind::ReadCtx) {
                h.observe(index, done.observed.clone());
            }
        }
        match done.outcome {
            crate::history::OpOutcome::Info => {
                process += config.clients as u64;
                conn.reset();
            }
            crate::history::OpOutcome::Ok => {
                if let Some(token) = done.context {
                    pending = Some((planned.key.clone(), token, done.observed));
                }
            }
            crate::history::OpOutcome::Fail => {}
        }
        std::thread::sleep(Duration::from_millis(config.think_ms));
    }
    Ok(())
}

fn write_artifacts(
    config: &RunConfig,
    dir: &Path,
    history: &History,
    periods: &[NemesisPeriod],
    steps: &[Step],
    results: &serde_json::Value,
) -> Result<(), RunError> {
    let title = config.scenario();
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(dir.join("history.jsonl")).map_err(io("history.jsonl"))?,
    );
    report::jsonl::write(history, periods, &mut file).map_err(io("history.jsonl"))?;
    drop(file);
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(io(name.to_owned()))
    };
    write(
        "run.json",
        serde_json::to_string_pretty(&json!({
            "format": 1,
            "config": config,
            "commit": commit(),
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "schedule_planned": steps,
            "schedule_executed": periods,
            "repro": config.repro(),
        }))
        .unwrap_or_default(),
    )?;
    write(
        "results.json",
        serde_json::to_string_pretty(results).unwrap_or_default(),
    )?;
    write(
        "latency.svg",
        report::plot::latency_svg(history, periods, &title),
    )?;
    write("rate.svg", report::plot::rate_svg(history, periods, &title))?;
    write(
        "timeline.html",
        report::timeline::timeline_html(history, periods, &title),
    )?;
    write("history.txt", history.render())?;
    write("repro.sh", format!("#!/bin/sh\n{}\n", config.repro()))?;
    Ok(())
}

/// The commit of the working tree the harness runs from, if git can tell.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// `YYYYMMDDTHHMMSS` (UTC) for a time in ms since the epoch.
fn timestamp(ms: u128) -> String {
    let (year, month, day, hour, minute, second) =
        crate::report::civil::utc_parts((ms / 1000) as i64);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp(0), "19700101T000000");
        // 2026-11-28 09:49:28 UTC
        assert_eq!(timestamp(1_795_859_368_000), "20261128T094928");
    }
}
