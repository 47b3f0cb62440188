//! `kvorum-bench`: reproducible performance figures for kvorum (see docs/BENCHMARKS.md).
//!
//! Subcommands, one module each:
//! - `run` (`run.rs`): one YCSB-style workload against one server (RESP, native or etcd).
//! - `compare` (`compare/`): starts kvorum, redis-server and etcd on loopback and runs the same
//!   workloads against each, alternating, and reports same-run ratios against the targets.
//! - `space` (`space.rs`): a storage engine's disk and memory use as data is loaded,
//!   overwritten and deleted, through the node's own `Storage` trait.
//! - `repair-impact` (`repair.rs`): foreground p99 while anti-entropy rebuilds a wiped node.
//! - `hops` (here): the latency of the same GET/SET workload through the native client (sent
//!   straight to a primary of each key) and through RESP to a node that is *not* a primary of
//!   the keys, which must forward every request: one network hop more. Both run in the same
//!   process, against the same cluster, in alternating rounds, so that only same-run ratios are
//!   reported (machines here are shared and noisy).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use kvorum_client::{Client, Consistency, NodeId};
use redis::AsyncCommands;

mod compare;
mod repair;
mod run;
mod space;

#[derive(Parser, Debug)]
#[command(name = "kvorum-bench", about = "Performance measurements for kvorum")]
enum Cli {
    /// Native client (direct to a primary) vs RESP through a proxying node: same keys, same
    /// cluster, alternating rounds of sequential SET then GET.
    Hops(HopsArgs),
    /// Disk bytes, live bytes and RSS of a storage engine driven through the node's `Storage`
    /// trait: load, overwrite twice, delete half, idle, reopen (docs/BENCHMARKS.md).
    Space(space::SpaceArgs),
    /// Foreground p99 while anti-entropy rebuilds a wiped node, per `max_keys_per_sec`, against
    /// the same load unloaded (docs/BENCHMARKS.md).
    RepairImpact(repair::RepairArgs),
    /// One YCSB-style workload against one server (RESP, native or etcd): HDR latencies,
    /// throughput over time, server CPU per operation; JSON and an HTML report.
    Run(run::RunArgs),
    /// Starts kvorum, redis-server and etcd on loopback and runs the same workloads against
    /// each, alternating; prints same-run ratios against the targets and writes the report.
    Compare(compare::CompareArgs),
}

#[derive(clap::Args, Debug)]
struct HopsArgs {
    /// A node's QUIC address (the native client's seed).
    #[arg(long, default_value = "127.0.0.1:7379")]
    seed: String,
    /// The cluster CA certificate.
    #[arg(long, default_value = kvorum_client::DEV_CA_CERT)]
    ca: String,
    /// The RESP address of the node RESP requests go to.
    #[arg(long, default_value = "127.0.0.1:6379")]
    resp: String,
    /// That node's id: only keys it is not a primary of are used, so it forwards each one.
    #[arg(long, default_value_t = 1)]
    resp_node: u64,
    /// Operations (SETs, then as many GETs) per round and client.
    #[arg(long, default_value_t = 1_000)]
    ops: usize,
    /// Rounds; each runs the native client, then RESP.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// The consistency of every request: `quorum` or `one`.
    #[arg(long, default_value = "quorum")]
    consistency: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    match Cli::parse() {
        Cli::Hops(args) => hops(args).await,
        // Blocking storage calls, one thread: no runtime work to share it with.
        Cli::Space(args) => space::space(args),
        // Blocking: its own threads drive the load and the nodes are child processes.
        Cli::RepairImpact(args) => repair::repair_impact(args),
        Cli::Run(args) => run::run(args).await,
        Cli::Compare(args) => compare::compare(args).await,
    }
}

/// Latencies of one kind of operation on one path, in microseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn record(&mut self, since: Instant) {
        self.0.push(since.elapsed().as_micros() as u64);
    }

    /// The `q` quantile (nearest rank), in milliseconds.
    fn quantile_ms(&mut self, q: f64) -> f64 {
        self.0.sort_unstable();
        let Some(last) = self.0.len().checked_sub(1) else {
            return f64::NAN;
        };
        let rank = ((last as f64) * q).round() as usize;
        self.0[rank.min(last)] as f64 / 1_000.0
    }
}

async fn hops(args: HopsArgs) -> anyhow::Result<()> {
    let client = Client::builder([args.seed.as_str()])
        .ca_cert_pem(args.ca.as_str())
        .connect()
        .await
        .context("connecting the native client")?;
    let ns = client.namespace("default").await?;
    let proxy = NodeId(args.resp_node);
    // Keys the RESP node does not hold: it forwards every request for them.
    let mut keys = Vec::with_capacity(args.ops);
    for i in 0.. {
        if keys.len() == args.ops {
            break;
        }
        if i > args.ops * 1_000 {
            bail!(
                "node {} is a primary of every key: use a cluster with more nodes than N \
                 (e.g. `kvorum dev --nodes 4 --replication 3`)",
                args.resp_node
            );
        }
        let key = format!("hops:{i}");
        if !ns.route(&key)?.primaries.contains(&proxy) {
            keys.push(key);
        }
    }
    let consistency = match args.consistency.as_str() {
        "quorum" => Consistency::Quorum,
        "one" => Consistency::One,
        other => bail!("--consistency {other}: expected quorum or one"),
    };
    let redis = redis::Client::open(format!("redis://{}/", args.resp))?;
    let mut resp = redis.get_multiplexed_async_connection().await?;
    let () = redis::cmd("CONSISTENCY")
        .arg(args.consistency.to_uppercase())
        .query_async(&mut resp)
        .await?;
    let value = vec![b'x'; args.value_bytes];
    let (mut native_set, mut native_get) = (Samples::default(), Samples::default());
    let (mut resp_set, mut resp_get) = (Samples::default(), Samples::default());
    for _ in 0..args.rounds {
        for key in &keys {
            let t = Instant::now();
            ns.set(key, &value).consistency(consistency).await?;
            native_set.record(t);
        }
        for key in &keys {
            let t = Instant::now();
            ns.get(key).consistency(consistency).await?;
            native_get.record(t);
        }
        for key in &keys {
            let t = Instant::now();
            let () = resp.set(key, &value).await?;
            resp_set.record(t);
        }
        for key in &keys {
            let t = Instant::now();
            let _: Option<Vec<u8>> = resp.get(key).await?;
            resp_get.record(t);
        }
    }
    println!(
        "{} keys whose primaries exclude n{}, {} rounds, {}-byte values, {}, 1 client",
        keys.len(),
        args.resp_node,
        args.rounds,
        args.value_bytes,
        args.consistency.to_uppercase()
    );
    println!("op   path                 p50_ms  p99_ms");
    for (op, native, proxied) in [
        ("SET", &mut native_set, &mut resp_set),
        ("GET", &mut native_get, &mut resp_get),
    ] {
        let (n50, n99) = (native.quantile_ms(0.5), native.quantile_ms(0.99));
        let (r50, r99) = (proxied.quantile_ms(0.5), proxied.quantile_ms(0.99));
        println!("{op}  native (direct)      {n50:>6.3}  {n99:>6.3}");
        println!(
            "{op}  RESP (via n{})        {r50:>6.3}  {r99:>6.3}",
            args.resp_node
        );
        println!("{op}  native p50 / RESP p50 = {:.2}", n50 / r50);
    }
    client.close().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
