//! YCSB-style load: workloads A–F plus write-only and read-only mixes, key choice (uniform,
//! zipfian, latest), closed-loop (N clients) and open-loop (target rate, latency counted from
//! when each request was due, so coordinated omission does not hide it) runs, HDR histograms,
//! per-second throughput and latency, and the server processes' CPU per operation.
//!
//! The types here are what `compare`, `run` and the report rely on. The parts:
//! - `keys.rs`: key choice (uniform, YCSB's scrambled zipfian, latest) and the random numbers;
//! - `mix.rs`: the operation mix of each workload and the generator of operations;
//! - `runner.rs`: the load phase and the measured run (closed and open loop, warm-up, bounds,
//!   errors and reconnection);
//! - `stats.rs`: HDR histograms per operation kind and per second, the CDF;
//! - `cpu.rs`: CPU seconds of the server processes and their descendants, from /proc;
//! - `progress.rs`: the progress bar on stderr.

use std::time::Duration;

use crate::driver::DriverError;

pub mod cpu;
pub mod keys;
pub mod mix;
pub mod progress;
pub mod runner;
pub mod stats;

use crate::driver::Target;

/// The operation mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Workload {
    /// 50% read, 50% update (update heavy).
    A,
    /// 95% read, 5% update (read mostly).
    B,
    /// 100% read.
    C,
    /// 95% read, 5% insert; reads favour the latest inserts.
    D,
    /// 95% scan (up to `max_scan` keys), 5% insert.
    E,
    /// 50% read, 50% read-modify-write.
    F,
    /// 100% update (SET throughput).
    Writes,
    /// 100% read (GET throughput).
    Reads,
}

/// How keys are chosen among the loaded records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Distribution {
    Uniform,
    Zipfian,
    Latest,
}

/// The data a workload runs over.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub workload: Workload,
    /// Records loaded before the run (keys `user<N>` as in YCSB).
    pub record_count: u64,
    pub value_bytes: usize,
    /// Key choice; `None`: the workload's YCSB default (zipfian; latest for D).
    pub distribution: Option<Distribution>,
    /// Longest scan of workload E.
    pub max_scan: usize,
}

/// How hard and how long to push.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadMode {
    /// Each client sends its next batch as soon as the previous one is answered.
    Closed,
    /// The clients together send this many requests per second, on schedule.
    Open { ops_per_sec: u64 },
}

#[derive(Clone, Debug)]
pub struct RunSpec {
    pub data: WorkloadSpec,
    pub clients: usize,
    /// Requests per batch (1: no pipelining).
    pub pipeline: usize,
    pub mode: LoadMode,
    /// Load run before measuring (not recorded).
    pub warmup: Duration,
    pub duration: Duration,
    /// Stop after this many operations, even before `duration` (bounds every run).
    pub max_ops: Option<u64>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Latency summary in milliseconds.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// One second of a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SecondSample {
    /// Seconds since the measured part began.
    pub t: u64,
    pub ops: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What one run measured.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunResult {
    /// Set by the caller (`kvorum-n3-quorum`, `redis-aof-always`, ...).
    pub contender: String,
    /// `a`..`f`, `writes`, `reads`.
    pub workload: String,
    pub clients: usize,
    pub pipeline: usize,
    /// `closed` or `open:<rate>`.
    pub mode: String,
    pub seconds: f64,
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub latency: Latency,
    /// Per operation kind (`read`, `update`, ...).
    pub per_op: std::collections::BTreeMap<String, Latency>,
    pub per_op_count: std::collections::BTreeMap<String, u64>,
    pub series: Vec<SecondSample>,
    /// Latency CDF: (fraction of requests, milliseconds), increasing, for the report's plot.
    pub cdf: Vec<(f64, f64)>,
    /// CPU seconds (user + system) of the server processes and their descendants during the
    /// measured part.
    pub server_cpu_s: f64,
    pub server_cpu_us_per_op: f64,
    /// The first few distinct error messages, for the report.
    pub error_samples: Vec<String>,
    /// The driver's description of the target (`resp 127.0.0.1:6379 QUORUM`).
    pub target: String,
    /// Failed operations per kind (`connect`: failed reconnection attempts).
    pub errors_per_op: std::collections::BTreeMap<String, u64>,
    /// CPU seconds the load generator itself used during the measured part: if it nears one
    /// core per runtime thread, the generator, not the server, may be the bottleneck.
    pub client_cpu_s: f64,
    /// Wall-clock seconds over which the CPU figures were taken.
    pub cpu_window_s: f64,
}

/// Inserts `record_count` records through `clients` connections (YCSB's load phase).
pub async fn load(
    target: &Target,
    data: &WorkloadSpec,
    clients: usize,
) -> Result<(), crate::driver::DriverError> {
    runner::load(target, data, clients).await
}

/// Runs the workload and measures it. `server_pids`: the contender's server processes (their
/// descendants are counted too) for CPU per operation.
pub async fn run(
    target: &Target,
    spec: &RunSpec,
    server_pids: &[u32],
) -> Result<RunResult, DriverError> {
    runner::run(target, spec, server_pids).await
}
