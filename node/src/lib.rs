//! The kvorum server: the library behind the `kvorum` binary (`main.rs`).
//!
//! # Layout
//! - `main.rs` (the binary): command line (`server`, `dev`, `cluster-config`), logging, exit
//!   codes.
//! - `config.rs`: the node's TOML configuration and its validation.
//! - `admin_cli/`: `kvorum admin`, a client of the `ADMIN` command family (`commands/admin.rs`)
//!   that asks the nodes about the cluster and prints tables or JSON.
//! - `server.rs`: one node's start-up, task ownership and shutdown.
//! - `cluster.rs`: a whole cluster's configs and certificates, shared by `kvorum dev` and
//!   `kvorum cluster-config`; `dev.rs`: `kvorum dev`, a local cluster of child processes on
//!   loopback.
//! - `catalog/`: this node's copy of the namespace catalog (cluster metadata): persistence,
//!   propagation to peers, and the purge of dropped namespaces' data.
//! - `driver.rs`: the task that drives the sans-IO replication core (`kvorum-consistency`) with
//!   the peer mesh and storage.
//! - `handoff.rs`: the hinted-handoff task (hints kept for unreachable replicas, delivered when
//!   they are back).
//! - `listener.rs`: RESP connections, pipelining, limits; `session.rs`: per-connection and
//!   per-node state; `commands/`: one file per RESP command family.
//! - `metrics/`: the metrics registry (request latency histograms, replication, hints, storage)
//!   and its Prometheus rendering; `http.rs`: the HTTP admin listener serving it (`/metrics`,
//!   `/health`).
//! - `peer/`: QUIC + mutual TLS transport between nodes, cluster certificates, framing.
//! - `native/`: the native client protocol (docs/NATIVE.md), served on the peer endpoint by
//!   its own ALPN.
//! - `storage/`: the `Storage` trait, engines (sled, memory) and group commit.
//! - `faults.rs` (feature `fault-injection` only): deliberately broken behaviour for the test
//!   harness, switched by `DEBUG FAULT`; `clock.rs`: every wall-clock read, shifted by
//!   `DEBUG CLOCK-OFFSET` in such builds.
//!
//! docs/ARCHITECTURE.md draws the data flow of GET and SET through these pieces.

pub mod admin_cli;
pub mod antientropy;
pub mod catalog;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dev;
pub mod driver;
pub mod expiry;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod handoff;
pub mod http;
pub mod inline_reads;
pub mod keyspace;
pub mod listener;
pub mod metrics;
pub mod native;
pub mod peer;
pub mod server;
pub mod session;
pub mod storage;
pub mod storage_workers;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
