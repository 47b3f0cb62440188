//! `kvorum-jepsen`: proving kvorum's guarantees under faults.
//!
//! Layout:
//! - [`history`]: the operation history every harness records (`ok` / `fail` / `info`).
//! - [`checker`]: pure checkers over histories and final states: WGL linearizability per key
//!   (validated on public corpora), stale reads, no acknowledged write lost, convergence,
//!   counters and sets that lose and invent nothing.
//! - [`sim`]: a deterministic discrete-event simulator that drives the real sans-IO core
//!   (`kvorum_consistency::Core`) with a seeded network (delay, loss, duplication, reordering,
//!   partitions), failure detection, seeded clocks and in-memory storage whose crash loses
//!   unsynced writes, so every failure replays from its seed. [`sim::client`] is the one module
//!   that speaks the core's request/reply types.
//! - [`suite`]: workloads, pass/fail criteria and the seed sweep the CLI and the tests share.
//! - [`real`]: the real-process harness: kvorum servers in network namespaces, nft partitions
//!   and packet loss, kills, pauses and clock offsets, RESP clients, feeding the same
//!   [`history`] and [`checker`]s (docs/JEPSEN.md).
//! - [`crash`]: kill -9 crash tests of real nodes on loopback: every acknowledged write must
//!   survive SIGKILL and restart (`kvorum-jepsen crash`, docs/JEPSEN.md).
//! - [`local`]: kvorum nodes on loopback as child processes (start, SIGKILL, restart, readiness),
//!   shared by [`crash`] and kvorum-bench's `repair-impact`.
//! - [`report`]: a run's artifacts for people and tools: the history as JSON lines, latency
//!   and rate plots with the faults shaded, a timeline page.

pub mod checker;
pub mod crash;
pub mod history;
pub mod local;
pub mod real;
pub mod report;
pub mod sim;
pub mod suite;

pub use history::OpOutcome;
pub use sim::client::classify;
