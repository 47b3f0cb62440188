//! The load itself: YCSB's load phase, then the measured run in closed or open loop.
//!
//! Each client task owns one connection and its own statistics; nothing is shared on the hot
//! path except two relaxed counters for the progress bar and, with `max_ops`, the operation
//! budget.
//!
//! - **Closed loop**: a client sends its next batch as soon as the last one is answered; the
//!   latency of a batch is from its send to its last reply, and every operation in it gets
//!   that latency (as `redis-benchmark` counts pipelined requests).
//! - **Open loop**: requests are due on a fixed schedule (the clients together make `rate`
//!   operations per second, each client's batches evenly spaced and the clients staggered).
//!   Latency counts from when a batch was *due*, not when it was sent: if the server stalls,
//!   the requests that should have gone out meanwhile count the stall too, so coordinated
//!   omission does not hide it. A client that falls behind sends at once until it catches up.
//!   Timers have about a millisecond of granularity: a client that was idle until its batch
//!   was due counts from when its timer fired, so the timer's own lateness is not charged to
//!   the server; a client that is behind counts from the due time.
//! - **Warm-up**: operations due (open loop) or sent (closed loop) before the warm-up ends are
//!   not recorded; the budget of `max_ops` counts measured operations only.
//! - **Errors**: a failed batch counts an error for each of its operations, by kind. An error
//!   that leaves the connection in doubt (I/O, timeout) drops it; the client waits a short,
//!   growing back-off and connects again, and each failed attempt counts one `connect` error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cpu;
use super::keys::{key, KeyChooser, Rng};
use super::mix::{value_bytes, OpGenerator};
use super::progress::{self, Counters};
use super::stats::{self, Stats};
use super::{LoadMode, RunResult, RunSpec, WorkloadSpec};
use crate::driver::{Conn, DriverError, Op, Target};

/// Records per load request batch (pipelined), per client.
const LOAD_BATCH: u64 = 32;
/// Attempts at one load batch before the load fails.
const LOAD_ATTEMPTS: usize = 5;
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Connects, trying a few times with back-off (a server just started may not listen yet).
async fn connect(target: &Target, attempts: usize) -> Result<Conn, DriverError> {
    let mut backoff = BACKOFF_MIN;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match target.connect().await {
            Ok(conn) => return Ok(conn),
            Err(e) if attempt >= attempts => return Err(e),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// First error of a set of tasks, or a description of a task that panicked.
fn join_error(e: tokio::task::JoinError) -> DriverError {
    DriverError::Io(format!("a client task failed: {e}"))
}

/// YCSB's load phase: records `user0` … `user<record_count - 1>`, in batches of
/// [`LOAD_BATCH`] pipelined inserts, through `clients` connections.
pub async fn load(target: &Target, data: &WorkloadSpec, clients: usize) -> Result<(), DriverError> {
    let next = Arc::new(AtomicU64::new(0));
    let records = data.record_count;
    let mut tasks = AbortOnDrop(Vec::new());
    for i in 0..clients.max(1) {
        let target = target.clone();
        let next = next.clone();
        let value_len = data.value_bytes;
        tasks.0.push(tokio::spawn(async move {
            let mut rng = Rng::seeded(i as u64);
            let mut conn = Some(connect(&target, LOAD_ATTEMPTS).await?);
            loop {
                let first = next.fetch_add(LOAD_BATCH, Ordering::Relaxed);
                if first >= records {
                    return Ok::<(), DriverError>(());
                }
                let ops: Vec<Op> = (first..(first + LOAD_BATCH).min(records))
                    .map(|n| Op::Insert {
                        key: key(n),
                        value: value_bytes(&mut rng, value_len),
                    })
                    .collect();
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let result = match conn.as_mut() {
                        Some(c) => c.execute(&ops).await,
                        None => match connect(&target, 1).await {
                            Ok(c) => conn.insert(c).execute(&ops).await,
                            Err(e) => Err(e),
                        },
                    };
                    match result {
                        Ok(()) => break,
                        Err(e) if attempt >= LOAD_ATTEMPTS => return Err(e),
                        Err(e) => {
                            if e.breaks_connection() {
                                conn = None;
                            }
                            tokio::time::sleep(BACKOFF_MIN * attempt as u32).await;
                        }
                    }
                }
            }
        }));
    }
    let mut first_error = None;
    for task in tasks.0.iter_mut() {
        let outcome = task.await.map_err(join_error).and_then(|r| r);
        if let Err(e) = outcome {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Tasks aborted when this is dropped (finished ones are unaffected).
struct AbortOnDrop<T>(Vec<tokio::task::JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// When the run's phases begin and end, shared by every client.
#[derive(Clone, Copy, Debug)]
struct Clock {
    measure_from: Instant,
    end: Instant,
}

impl Clock {
    /// The second of the measured part an instant falls in.
    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.measure_from).as_secs()
    }
}

/// What one client hands back.
struct ClientOutcome {
    stats: Stats,
    /// When its last recorded batch ended.
    last: Option<Instant>,
}

struct Client {
    target: Target,
    conn: Option<Conn>,
    generator: OpGenerator,
    pipeline: usize,
    clock: Clock,
    /// Open loop: this client's first due time and the spacing of its batches.
    schedule: Option<(Instant, Duration)>,
    budget: Option<Arc<AtomicU64>>,
    counters: Arc<Counters>,
    stats: Stats,
    last: Option<Instant>,
    backoff: Duration,
}

impl Client {
    async fn run(mut self) -> ClientOutcome {
        let mut ops: Vec<Op> = Vec::with_capacity(self.pipeline);
        let mut batch_no: u32 = 0;
        loop {
            // When this batch is due: now (closed loop) or on the schedule (open loop).
            let due = match self.schedule {
                None => Instant::now(),
                Some((first, every)) => first + every * batch_no,
            };
            batch_no = batch_no.saturating_add(1);
            if due >= self.clock.end {
                break;
            }
            // Latency counts from when the batch was due; but if the client was idle, waiting
            // for that moment, it counts from when the timer actually woke it: the timer's
            // lateness (up to a millisecond or so) is the generator's, not the server's.
            let due = if due > Instant::now() {
                tokio::time::sleep_until(due).await;
                Instant::now()
            } else {
                due
            };
            let measured = due >= self.clock.measure_from;
            let mut size = self.pipeline;
            if measured {
                if let Some(budget) = &self.budget {
                    match budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                        left.checked_sub(1)
                            .map(|_| left.saturating_sub(size as u64))
                    }) {
                        Ok(left) => size = size.min(left as usize),
                        Err(_) => break,
                    }
                }
            }
            ops.clear();
            ops.extend((0..size).map(|_| self.generator.next_op()));
            let Some(conn) = self.conn.as_mut() else {
                self.reconnect(measured).await;
                continue;
            };
            let result = conn.execute(&ops).await;
            let done = Instant::now();
            match result {
                Ok(()) => {
                    self.counters
                        .ops
                        .fetch_add(ops.len() as u64, Ordering::Relaxed);
                    self.backoff = BACKOFF_MIN;
                    if measured {
                        let micros = (done - due).as_micros() as u64;
                        let second = self.clock.second(done);
                        for op in &ops {
                            self.stats.record(op.kind(), micros, second);
                        }
                        self.last = Some(done);
                    }
                }
                Err(e) => {
                    self.counters
                        .errors
                        .fetch_add(ops.len() as u64, Ordering::Relaxed);
                    if measured {
                        let message = e.to_string();
                        let second = self.clock.second(done);
                        for op in &ops {
                            self.stats.error(op.kind(), &message, second);
                        }
                        self.last = Some(done);
                    }
                    if e.breaks_connection() {
                        self.conn = None;
                        self.reconnect(measured).await;
                    }
                }
            }
        }
        ClientOutcome {
            stats: self.stats,
            last: self.last,
        }
    }

    /// Waits the back-off, then tries once to connect; a failure counts a `connect` error and
    /// grows the back-off.
    async fn reconnect(&mut self, measured: bool) {
        let wake = (Instant::now() + self.backoff).min(self.clock.end);
        tokio::time::sleep_until(wake).await;
        if Instant::now() >= self.clock.end {
            return;
        }
        match self.target.connect().await {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                if measured {
                    let second = self.clock.second(Instant::now());
                    self.stats.error("connect", &e.to_string(), second);
                }
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Runs the workload and measures it (see the module docs).
pub async fn run(
    target: &Target,
    spec: &RunSpec,
    server_pids: &[u32],
) -> Result<RunResult, DriverError> {
    let clients = spec.clients.max(1);
    let pipeline = spec.pipeline.max(1);
    let data = &spec.data;
    let distribution = data
        .distribution
        .unwrap_or_else(|| data.workload.default_distribution());
    let chooser = KeyChooser::new(distribution, data.record_count);
    let records = Arc::new(AtomicU64::new(data.record_count.max(1)));

    // Connections are set up before the clock starts: connecting is not what is measured.
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(connect(target, 3).await?);
    }

    let start = Instant::now() + Duration::from_millis(10);
    let clock = Clock {
        measure_from: start + spec.warmup,
        end: start + spec.warmup + spec.duration,
    };
    let counters = Arc::new(Counters::default());
    let budget = spec.max_ops.map(|n| Arc::new(AtomicU64::new(n)));
    let every = match spec.mode {
        LoadMode::Closed => None,
        LoadMode::Open { ops_per_sec } => Some(Duration::from_secs_f64(
            (pipeline * clients) as f64 / ops_per_sec.max(1) as f64,
        )),
    };
    // If the caller gives up on this run (drops its future, e.g. on a timeout), the clients and
    // the progress bar stop with it.
    let mut tasks = AbortOnDrop(Vec::with_capacity(clients));
    for (i, conn) in conns.into_iter().enumerate() {
        let client = Client {
            target: target.clone(),
            conn: Some(conn),
            generator: OpGenerator::new(
                data,
                chooser.clone(),
                records.clone(),
                Rng::seeded(i as u64 + 1),
            ),
            pipeline,
            clock,
            schedule: every.map(|every| (start + every.mul_f64(i as f64 / clients as f64), every)),
            budget: budget.clone(),
            counters: counters.clone(),
            stats: Stats::default(),
            last: None,
            backoff: BACKOFF_MIN,
        };
        tasks.0.push(tokio::spawn(client.run()));
    }
    let mut bar = AbortOnDrop(Vec::new());
    if spec.progress {
        bar.0.push(tokio::spawn(progress::show(
            counters.clone(),
            start,
            clock.measure_from,
            clock.end,
            spec.max_ops,
        )));
    }

    tokio::time::sleep_until(clock.measure_from).await;
    let cpu_from = Instant::now();
    let server_cpu_0 = cpu::tree_cpu_seconds(server_pids);
    let client_cpu_0 = cpu::own_cpu_seconds();
    let mut stats = Stats::default();
    let mut last: Option<Instant> = None;
    let mut failure = None;
    for task in tasks.0.iter_mut() {
        match task.await {
            Ok(outcome) => {
                stats.merge(outcome.stats);
                last = last.max(outcome.last);
            }
            Err(e) => {
                failure.get_or_insert(join_error(e));
            }
        }
    }
    let server_cpu_s = (cpu::tree_cpu_seconds(server_pids) - server_cpu_0).max(0.0);
    let client_cpu_s = (cpu::own_cpu_seconds() - client_cpu_0).max(0.0);
    let cpu_window = cpu_from.elapsed().as_secs_f64();
    counters.done.store(true, Ordering::Relaxed);
    for task in bar.0.iter_mut() {
        let _ = task.await;
    }
    if let Some(e) = failure {
        return Err(e);
    }

    // The measured part lasted until the last recorded batch ended (with max_ops, possibly
    // well before the planned end).
    let seconds = last
        .map(|l| (l - clock.measure_from).as_secs_f64())
        .unwrap_or(spec.duration.as_secs_f64())
        .max(1e-3);
    let ops = stats.ops();
    let overall = stats.overall();
    let per_op = stats
        .per_kind()
        .iter()
        .map(|(kind, h)| (kind.to_string(), stats::latency(h)))
        .collect();
    let mut per_op_count: std::collections::BTreeMap<String, u64> = stats
        .per_kind()
        .iter()
        .map(|(kind, h)| (kind.to_string(), h.len()))
        .collect();
    for kind in stats.errors_per_kind().keys() {
        per_op_count.entry(kind.to_string()).or_insert(0);
    }
    Ok(RunResult {
        contender: target.describe(),
        workload: data.workload.name().to_owned(),
        clients,
        pipeline,
        mode: match spec.mode {
            LoadMode::Closed => "closed".to_owned(),
            LoadMode::Open { ops_per_sec } => format!("open:{ops_per_sec}"),
        },
        seconds,
        ops,
        errors: stats.errors(),
        ops_per_sec: ops as f64 / seconds,
        latency: stats::latency(&overall),
        per_op,
        per_op_count,
        series: stats.series(seconds.round() as u64),
        cdf: stats::cdf(&overall),
        server_cpu_s,
        server_cpu_us_per_op: if ops > 0 {
            server_cpu_s * 1e6 / ops as f64
        } else {
            0.0
        },
        error_samples: stats.error_samples().to_vec(),
        target: target.describe(),
        errors_per_op: stats
            .errors_per_kind()
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
        client_cpu_s,
        cpu_window_s: cpu_window,
    })
}
