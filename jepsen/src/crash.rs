//! `kvorum-jepsen crash`: kill -9 crash tests of real kvorum nodes.
//!
//! A node (or a 3-node cluster, N=3) runs on loopback as children of this process, each cluster
//! node on its own loopback address (127.0.0.1, 127.0.0.2, …) so `kvorum cluster-config` can give
//! them the same ports, with no network namespaces and no root. Clients write unique keys and
//! increment a few counters at `WITH W=<n> DW=<n>` (every replica must have fsynced before `+OK`),
//! recording what was acknowledged. After a seeded delay one node (sometimes every node) gets
//! SIGKILL by pid mid-write, is restarted on the same data dir, and the harness checks what a
//! user relies on after a crash: every acknowledged write readable with its value, counters
//! between the acknowledged and the attempted increments, and a clean restart.
//!
//! `--engine sled|fjall` picks the nodes' storage engine (`kvorum cluster-config --engine`);
//! without it the nodes run the engine that is their default, so the same command tests whatever
//! a user gets out of the box.
//!
//! Why kill -9 and not a clean stop: a clean stop flushes and closes the store, so it proves
//! nothing about `fsync = always`; SIGKILL loses exactly what was not made durable, which an
//! acknowledged write must never be.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kvorum_resp::Frame;

use crate::local::{ClusterSpec, LocalCluster, LocalError};
use crate::real::client::{Answer, Connection};
use crate::sim::rng::SimRng;

/// Client threads writing during each case.
const CLIENTS: usize = 3;
/// Counters incremented by the clients (the same keys over the whole run).
const COUNTERS: usize = 4;
/// Upper bound on one client's operations in one case: keeps a run bounded in requests.
const MAX_OPS_PER_CLIENT: usize = 5_000;
/// Client socket timeout: above the node's default request timeout (2 s), so a node's own
/// `-TIMEOUT` arrives before the client gives up.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(4);
/// Keys per `MGET` of the final reads.
const READ_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum CrashError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Local(#[from] LocalError),
}

/// A storage engine the crash test can run the nodes on (the on-disk ones).
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CrashEngine {
    Sled,
    Fjall,
}

impl CrashEngine {
    /// The name `kvorum cluster-config --engine` and `storage_engine` use.
    pub fn name(self) -> &'static str {
        match self {
            CrashEngine::Sled => "sled",
            CrashEngine::Fjall => "fjall",
        }
    }
}

/// What one `crash` run does.
#[derive(Clone, Debug)]
pub struct CrashConfig {
    /// The `kvorum` binary (any build; the crash test needs no test hooks).
    pub kvorum: PathBuf,
    /// 1, or 3 (a cluster with N=3).
    pub nodes: usize,
    /// Cases: one kill (and restart and check) each.
    pub kills: usize,
    /// The nodes' storage engine; `None`: the node's default.
    pub engine: Option<CrashEngine>,
    pub seed: u64,
    /// Where to keep the configs, data and node logs; `None`: a temporary folder removed at the
    /// end.
    pub out: Option<PathBuf>,
}

/// The outcome of one kill.
#[derive(Clone, Debug, Default)]
pub struct CaseResult {
    /// 1-based.
    pub index: usize,
    /// Which nodes were killed (1-based ids).
    pub killed: Vec<usize>,
    /// Acknowledged SETs read back (every one acknowledged so far in the run).
    pub checked: usize,
    /// Writes of this case whose outcome the clients could not know (in flight at the kill):
    /// evidence the kill landed mid-write. They are not checked.
    pub in_doubt: usize,
    /// Acknowledged writes not found, counters below their acknowledged increments.
    pub lost: usize,
    /// Values that differ from what was written, counters above every attempted increment,
    /// keys that could not be read.
    pub corrupt: usize,
    /// Anything else that makes the case fail (a node that did not restart cleanly, a panic in
    /// a log), and the first few lost or corrupt keys.
    pub problems: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.corrupt == 0 && self.problems.is_empty()
    }

    /// `kill i/K: N acknowledged writes checked, L lost, C corrupt — PASS|FAIL`.
    pub fn line(&self, kills: usize) -> String {
        format!(
            "kill {}/{kills}: {} acknowledged writes checked, {} lost, {} corrupt — {}",
            self.index,
            self.checked,
            self.lost,
            self.corrupt,
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// What the clients of one case saw.
#[derive(Default)]
struct ClientLog {
    /// Acknowledged SETs: key → value.
    acked: Vec<(String, String)>,
    /// Writes that may or may not have been applied.
    in_doubt: usize,
    /// Per counter: acknowledged increments, and every increment sent.
    counter_acked: [i64; COUNTERS],
    counter_attempted: [i64; COUNTERS],
}

fn counter_key(c: usize) -> String {
    format!("crash:counter:{c}")
}

/// One client thread: unique SETs and some INCRBYs at `WITH ALL DW=<n>` until `stop`.
fn client(
    addr: SocketAddr,
    nodes: usize,
    case: usize,
    thread: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> ClientLog {
    let mut rng = SimRng::new(seed ^ ((case as u64) << 32) ^ (thread as u64 + 1));
    let mut conn = Connection::new(addr, CLIENT_TIMEOUT, Vec::new());
    let mut log = ClientLog::default();
    // `ALL` cannot be combined with DW, so spell it out: W = DW = N.
    let w = format!("W={nodes}");
    let dw = format!("DW={nodes}");
    let mut ops = 0;
    while !stop.load(Ordering::Relaxed) && ops < MAX_OPS_PER_CLIENT {
        ops += 1;
        let answer = if rng.chance(0.25) {
            let c = rng.index(COUNTERS);
            let delta = rng.range(1, 5) as i64;
            let key = counter_key(c);
            let delta_text = delta.to_string();
            let answer = conn.call(&["WITH", &w, &dw, "--", "INCRBY", &key, &delta_text]);
            log.counter_attempted[c] += delta;
            if let Answer::Ok(Frame::Integer(_)) = answer {
                log.counter_acked[c] += delta;
            }
            answer
        } else {
            let key = format!("crash:{seed}:{case}:{thread}:{ops}");
            // A value long enough to span more than one small write, and unique to the key.
            let value = format!("{key}:{:016x}:{}", rng.next_u64(), "v".repeat(48));
            let answer = conn.call(&["WITH", &w, &dw, "--", "SET", &key, &value]);
            if matches!(&answer, Answer::Ok(Frame::Simple(s)) if s.as_ref() == b"OK") {
                log.acked.push((key, value));
            }
            answer
        };
        if matches!(answer, Answer::Info(_)) {
            log.in_doubt += 1;
        }
        if !matches!(answer, Answer::Ok(_)) {
            // The node is down or a replica is: do not spin.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    log
}

/// A running node or cluster with its folder.
type Harness = LocalCluster;

fn start_harness(config: &CrashConfig) -> Result<Harness, CrashError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let engine = config.engine.map_or("default", CrashEngine::name);
    let name = format!(
        "crash-n{}-{engine}-seed{}-{stamp}",
        config.nodes, config.seed
    );
    let (dir, keep) = match &config.out {
        Some(out) => (out.join(name), true),
        None => (
            std::env::temp_dir().join(format!("kvorum-{name}-{}", std::process::id())),
            false,
        ),
    };
    let spec = ClusterSpec {
        kvorum: config.kvorum.clone(),
        dir,
        keep,
        nodes: config.nodes,
        fsync: "always".to_owned(),
        engine: config.engine.map(|e| e.name().to_owned()),
        // No scheduled anti-entropy: a killed node's own copy must hold every acknowledged
        // write by itself, not because a repair round refilled it before the check.
        settings: vec![antientropy_off()],
        ready_key: "crash:ready".to_owned(),
    };
    Ok(LocalCluster::start(&spec)?)
}

/// Runs `config.kills` cases, calling `report` after each. Stops early (with the failed case
/// reported) if a node cannot be brought back: later cases would test nothing.
pub fn run(
    config: &CrashConfig,
    mut report: impl FnMut(&CaseResult),
) -> Result<Vec<CaseResult>, CrashError> {
    if config.nodes != 1 && config.nodes != 3 {
        return Err(CrashError::Setup(format!(
            "--nodes must be 1 or 3, got {}",
            config.nodes
        )));
    }
    if !config.kvorum.is_file() {
        return Err(CrashError::Setup(format!(
            "no kvorum binary at {} (build it with `cargo build -p kvorum-node`, or pass --kvorum)",
            config.kvorum.display()
        )));
    }
    let mut harness = start_harness(config)?;
    let mut rng = SimRng::new(config.seed);
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let mut counter_acked = [0i64; COUNTERS];
    let mut counter_attempted = [0i64; COUNTERS];
    let mut results = Vec::new();
    for case in 1..=config.kills {
        let mut result = CaseResult {
            index: case,
            ..CaseResult::default()
        };
        let n = harness.nodes.len();
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let addr = harness.nodes[t % n].resp;
                let stop = Arc::clone(&stop);
                let seed = config.seed;
                std::thread::spawn(move || client(addr, n, case, t, seed, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(200, 1_500)));
        let victims: Vec<usize> = if n == 1 || rng.chance(0.3) {
            (0..n).collect()
        } else {
            vec![rng.index(n)]
        };
        result.killed = victims.iter().map(|&i| i + 1).collect();
        let mut killed = Ok(());
        for &i in &victims {
            killed = killed.and_then(|()| harness.nodes[i].kill());
        }
        // Let the clients see the crash (their in-flight writes end unacknowledged), then stop.
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let mut case_acked = 0;
        for thread in threads {
            match thread.join() {
                Ok(log) => {
                    case_acked += log.acked.len();
                    result.in_doubt += log.in_doubt;
                    acked.extend(log.acked);
                    for c in 0..COUNTERS {
                        counter_acked[c] += log.counter_acked[c];
                        counter_attempted[c] += log.counter_attempted[c];
                    }
                }
                Err(_) => result.problems.push("a client thread panicked".to_owned()),
            }
        }
        if case_acked == 0 {
            // A case in which nothing was acknowledged tested nothing: it must not pass.
            result.problems.push(
                "no write was acknowledged before the kill: the case tested nothing".to_owned(),
            );
        }
        if let Err(e) = killed {
            result.problems.push(e.to_string());
        }
        let restarted = restart(&mut harness, &victims);
        match restarted {
            Ok(()) => {
                check(
                    &mut harness,
                    &victims,
                    case,
                    &acked,
                    &counter_acked,
                    &counter_attempted,
                    &mut result,
                );
            }
            Err(e) => {
                result.checked = 0;
                result.problems.push(e);
            }
        }
        for node in &harness.nodes {
            if let Some(panic) = panic_in_log(&node.log) {
                result
                    .problems
                    .push(format!("n{} logged a panic: {panic}", node.id));
            }
        }
        report(&result);
        let give_up = restarted_failed(&result);
        results.push(result);
        if give_up {
            break;
        }
    }
    Ok(results)
}

/// Whether a case failed because a node could not be brought back (later cases cannot run).
fn restarted_failed(result: &CaseResult) -> bool {
    result
        .problems
        .iter()
        .any(|p| p.contains("did not answer PING") || p.contains("exited while starting"))
}

fn restart(harness: &mut Harness, victims: &[usize]) -> Result<(), String> {
    let kvorum = harness.kvorum.clone();
    for &i in victims {
        harness.nodes[i].start(&kvorum).map_err(|e| e.to_string())?;
    }
    for &i in victims {
        harness.nodes[i].wait_ping()?;
    }
    harness.wait_ready()
}

/// The first line of a log that reports a panic, if any.
fn panic_in_log(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|line| line.contains("panicked at") || line.contains("RUST_BACKTRACE"))
        .map(str::to_owned)
}

/// Reads back every acknowledged write and every counter, at ALL through one node, and (with
/// several nodes) each killed node's own copy of every acknowledged write.
fn check(
    harness: &mut Harness,
    victims: &[usize],
    case: usize,
    acked: &BTreeMap<String, String>,
    counter_acked: &[i64; COUNTERS],
    counter_attempted: &[i64; COUNTERS],
    result: &mut CaseResult,
) {
    let n = harness.nodes.len();
    let reader = harness.nodes[case % n].resp;
    let mut conn = Connection::new(reader, CLIENT_TIMEOUT, Vec::new());
    let keys: Vec<(&String, &String)> = acked.iter().collect();
    for batch in keys.chunks(READ_BATCH) {
        let mut args: Vec<&str> = vec!["WITH", "ALL", "--", "MGET"];
        args.extend(batch.iter().map(|(k, _)| k.as_str()));
        let answer = call_retrying(&mut conn, &args);
        match answer {
            Answer::Ok(Frame::Array(values)) if values.len() == batch.len() => {
                for ((key, expected), got) in batch.iter().zip(values) {
                    result.checked += 1;
                    judge(key, expected, &got, "ALL read", result);
                }
            }
            other => {
                result.checked += batch.len();
                result.corrupt += batch.len();
                problem(
                    result,
                    format!(
                        "{} keys unreadable at ALL through {reader}: {}",
                        batch.len(),
                        describe(&other)
                    ),
                );
            }
        }
    }
    if n > 1 {
        // DW=n: every acknowledged write was fsynced on every replica, so a killed node must
        // have it in its own store, before any read repair or handoff could have refilled it.
        for &i in victims {
            let node = &harness.nodes[i];
            let mut own = Connection::new(node.resp, CLIENT_TIMEOUT, Vec::new());
            for (key, expected) in acked {
                let answer = call_retrying(&mut own, &["REPLICA", "GET", key]);
                match answer {
                    Answer::Ok(frame) => judge(
                        key,
                        expected,
                        &frame,
                        &format!("n{} own copy", node.id),
                        result,
                    ),
                    other => {
                        result.corrupt += 1;
                        problem(
                            result,
                            format!(
                                "{key}: n{}'s own copy unreadable: {}",
                                node.id,
                                describe(&other)
                            ),
                        );
                    }
                }
            }
        }
    }
    for c in 0..COUNTERS {
        let key = counter_key(c);
        let answer = call_retrying(&mut conn, &["WITH", "ALL", "--", "GET", &key]);
        let value = match &answer {
            Answer::Ok(Frame::Null) => Some(0),
            Answer::Ok(frame) => crate::real::client::text(frame).and_then(|t| t.parse().ok()),
            _ => None,
        };
        match value {
            Some(v) if v < counter_acked[c] => {
                result.lost += 1;
                problem(
                    result,
                    format!(
                        "{key} = {v}, below its {} acknowledged increments",
                        counter_acked[c]
                    ),
                );
            }
            Some(v) if v > counter_attempted[c] => {
                result.corrupt += 1;
                problem(
                    result,
                    format!(
                        "{key} = {v}, above every increment sent ({})",
                        counter_attempted[c]
                    ),
                );
            }
            Some(_) => {}
            None => {
                result.corrupt += 1;
                problem(
                    result,
                    format!("{key} unreadable at ALL: {}", describe(&answer)),
                );
            }
        }
    }
    // A restarted node verified every stored record's checksum while building its
    // anti-entropy trees; reads since then verified theirs. None may have failed.
    for node in &harness.nodes {
        let mut conn = Connection::new(node.resp, CLIENT_TIMEOUT, Vec::new());
        let answer = call_retrying(&mut conn, &["INFO", "storage"]);
        let info = match &answer {
            Answer::Ok(frame) => crate::real::client::text(frame).unwrap_or_default(),
            _ => String::new(),
        };
        match info_field(&info, "corrupt_records") {
            Some(0) => {}
            Some(n) => {
                result.corrupt += n as usize;
                problem(
                    result,
                    format!("n{}: {n} records failed their checksum", node.id),
                );
            }
            None => problem(
                result,
                format!(
                    "n{}: INFO storage has no corrupt_records: {}",
                    node.id,
                    describe(&answer)
                ),
            ),
        }
    }
    for node in &mut harness.nodes {
        if let Some(status) = node.exited() {
            result
                .problems
                .push(format!("n{} exited during the checks: {status}", node.id));
        }
    }
}

/// The config setting that turns scheduled anti-entropy off (for [`ClusterSpec::settings`] and
/// [`set_config`]): harnesses whose checks must see what replication alone did use it.
pub(crate) fn antientropy_off() -> (String, String, toml::Value) {
    (
        "antientropy".to_owned(),
        "enabled".to_owned(),
        toml::Value::Boolean(false),
    )
}

/// A numeric `field:value` line of an `INFO` answer.
fn info_field(info: &str, field: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

/// Compares one read value with the acknowledged one.
fn judge(key: &str, expected: &str, got: &Frame, how: &str, result: &mut CaseResult) {
    match got {
        Frame::Bulk(v) if v.as_ref() == expected.as_bytes() => {}
        Frame::Null => {
            result.lost += 1;
            problem(result, format!("{key}: acknowledged, missing ({how})"));
        }
        other => {
            result.corrupt += 1;
            problem(
                result,
                format!("{key}: acknowledged {expected:?}, read {other:?} ({how})"),
            );
        }
    }
}

/// Keeps the first few problems: a case that lost everything should not print every key.
fn problem(result: &mut CaseResult, text: String) {
    if result.problems.len() < 10 {
        result.problems.push(text);
    }
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Ok(frame) => format!("unexpected reply {frame:?}"),
        other => other.note(),
    }
}

/// A read right after a restart may meet a peer link not yet re-established: retry a few times
/// before calling a key unreadable.
fn call_retrying(conn: &mut Connection, args: &[&str]) -> Answer {
    let mut answer = conn.call(args);
    for _ in 0..10 {
        if matches!(answer, Answer::Ok(_)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        answer = conn.call(args);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_missing_write_is_lost_and_a_different_value_is_corrupt() {
        let mut result = CaseResult::default();
        judge(
            "k",
            "v",
            &Frame::Bulk(Bytes::from_static(b"v")),
            "read",
            &mut result,
        );
        assert!(result.passed());
        judge("k", "v", &Frame::Null, "read", &mut result);
        judge(
            "k",
            "v",
            &Frame::Bulk(Bytes::from_static(b"w")),
            "read",
            &mut result,
        );
        judge("k", "v", &Frame::Integer(1), "read", &mut result);
        assert_eq!((result.lost, result.corrupt), (1, 2));
        assert!(!result.passed());
        assert!(result.line(3).ends_with("1 lost, 2 corrupt — FAIL"));
    }

    #[test]
    fn a_panic_in_a_node_log_is_found() {
        let dir = std::env::temp_dir().join(format!("kvorum-crash-unit-{}", std::process::id()));
        assert!(std::fs::create_dir_all(&dir).is_ok());
        let log = dir.join("node.log");
        assert!(std::fs::write(&log, "started\n").is_ok());
        assert_eq!(panic_in_log(&log), None);
        assert!(std::fs::write(&log, "thread 'main' panicked at src/x.rs:1:1:\n").is_ok());
        assert!(panic_in_log(&log).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
