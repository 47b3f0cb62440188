//! `kvorum dev`: a local cluster on loopback, one child process per node.
//!
//! The data folder holds everything: the cluster CA and node certificates (`tls/`), and one
//! folder per node with its generated `node.toml`, its storage and its log. Running `kvorum dev`
//! again on the same folder brings the same cluster back. Nodes are never restarted behind the
//! user's back: a node that exits is reported and stays down. Ctrl-C or SIGTERM stops every
//! node cleanly (SIGTERM, then SIGKILL after a grace period).
//!
//! Ports, from the base port `p`: node `i` (from 0) serves RESP on `p+i`, QUIC on `p+1000+i`
//! (the HTTP admin port `p+3000+i` is reserved).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::config::{NodeConfig, PeerEntry, TlsConfig};
use crate::peer::ClusterCa;

#[derive(clap::Args)]
pub struct DevArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// RESP port of the first node; the others follow.
    #[arg(long, default_value_t = 6379)]
    base_port: u16,
    /// Where the cluster keeps its data.
    #[arg(long, default_value = "kvorum-data")]
    data_dir: PathBuf,
    /// Replicas per key (at most the number of nodes).
    #[arg(long, default_value_t = 3)]
    replication: usize,
    /// fsync setting of every node: always, `periodic:<ms>` or never.
    #[arg(long, default_value = "always")]
    fsync: String,
    /// Password every RESP connection must give (`AUTH`), as Redis's `requirepass`.
    #[arg(long)]
    requirepass: Option<String>,
}

/// What a dev data folder was created with; a later run must match it.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
struct DevCluster {
    format: u8,
    nodes: u16,
    base_port: u16,
    replication: usize,
}

const GRACE: Duration = Duration::from_secs(10);

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    if args.replication == 0 || args.replication > args.nodes as usize {
        bail!(
            "--replication must be between 1 and --nodes ({})",
            args.nodes
        );
    }
    let last_port = u32::from(args.base_port) + 3000 + u32::from(args.nodes);
    if last_port > u32::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {} nodes (ports up to base+3000+nodes)",
            args.base_port,
            args.nodes
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let configs = prepare(&data_dir, &args)?;

    let exe = std::env::current_exe().context("locating the kvorum binary")?;
    let mut children = Vec::new();
    for (id, path) in &configs {
        let log_path = path.with_file_name("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let child = Command::new(&exe)
            .arg("server")
            .arg("--config")
            .arg(path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting node {id}"))?;
        children.push(DevNode {
            id: *id,
            child: Some(child),
            log: log_path,
        });
    }
    print_banner(&data_dir, &args, &children);
    supervise(children).await
}

struct DevNode {
    id: u64,
    child: Option<Child>,
    log: PathBuf,
}

/// Creates (or checks) the cluster folder and returns each node's config path.
fn prepare(dir: &Path, args: &DevArgs) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let wanted = DevCluster {
        format: 1,
        nodes: args.nodes,
        base_port: args.base_port,
        replication: args.replication,
    };
    let marker = dir.join("cluster.toml");
    if marker.exists() {
        let found: DevCluster = toml::from_str(&std::fs::read_to_string(&marker)?)
            .with_context(|| format!("reading {}", marker.display()))?;
        if found != wanted {
            bail!(
                "{} holds a cluster of {} nodes (base port {}, replication {}); run with those \
                 settings or use another --data-dir",
                dir.display(),
                found.nodes,
                found.base_port,
                found.replication
            );
        }
    }
    let tls = dir.join("tls");
    let ca = if tls.join("ca.pem").exists() {
        ClusterCa::load(&tls)?
    } else {
        ClusterCa::create(&tls)?
    };
    let ids: Vec<u64> = (1..=u64::from(args.nodes)).collect();
    let mut configs = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let node_dir = dir.join(format!("n{id}"));
        let cert_dir = tls.join(format!("n{id}"));
        if !cert_dir.join("node.pem").exists() {
            ca.issue_node(id, &cert_dir)?;
        }
        std::fs::create_dir_all(&node_dir)?;
        let port = |offset: u16| args.base_port + offset + i as u16;
        let config = NodeConfig {
            node_id: id,
            data_dir: PathBuf::from("."),
            resp_listen: ([127, 0, 0, 1], port(0)).into(),
            peer_listen: ([127, 0, 0, 1], port(1000)).into(),
            peers: ids
                .iter()
                .enumerate()
                .filter(|(_, &other)| other != id)
                .map(|(j, &other)| PeerEntry {
                    id: other,
                    addr: ([127, 0, 0, 1], args.base_port + 1000 + j as u16).into(),
                })
                .collect(),
            replication_factor: args.replication,
            partition_bits: kvorum_ring::DEFAULT_PARTITION_BITS,
            storage_engine: Default::default(),
            fsync: args.fsync.clone(),
            request_timeout_ms: 2_000,
            databases: 16,
            auth: crate::config::AuthConfig {
                requirepass: args.requirepass.clone(),
            },
            default_namespace: Default::default(),
            tls: TlsConfig {
                ca_cert: PathBuf::from("../tls/ca.pem"),
                node_dir: PathBuf::from(format!("../tls/n{id}")),
            },
            limits: Default::default(),
            peer: Default::default(),
            hints: Default::default(),
            expiry: Default::default(),
        };
        config.validate()?;
        let path = node_dir.join("node.toml");
        let text = format!(
            "# Generated by `kvorum dev` at every start (edits are lost); for a config of your own, \
                 copy it and run `kvorum server --config` (docs/CONFIG.md lists every field).\n{}",
            toml::to_string(&config)?
        );
        std::fs::write(&path, text)?;
        configs.push((id, path));
    }
    std::fs::write(&marker, toml::to_string(&wanted)?)?;
    Ok(configs)
}

fn print_banner(dir: &Path, args: &DevArgs, nodes: &[DevNode]) {
    println!(
        "kvorum dev cluster: {} nodes, N={} replicas per key, data in {}",
        args.nodes,
        args.replication,
        dir.display()
    );
    for (i, node) in nodes.iter().enumerate() {
        let i = i as u16;
        println!(
            "  n{}  pid {:>7}  RESP 127.0.0.1:{}  QUIC 127.0.0.1:{}  log {}",
            node.id,
            node.child.as_ref().and_then(Child::id).unwrap_or(0),
            args.base_port + i,
            args.base_port + 1000 + i,
            node.log.display()
        );
    }
    println!("Connect with:  redis-cli -p {}", args.base_port);
    println!("Press Ctrl-C to stop every node.");
}

/// Waits for Ctrl-C/SIGTERM or for every node to exit; reports nodes that exit on their own.
async fn supervise(mut nodes: Vec<DevNode>) -> anyhow::Result<()> {
    let stop = crate::stop_signal();
    tokio::pin!(stop);
    loop {
        if nodes.iter().all(|n| n.child.is_none()) {
            println!("every node has exited");
            return Ok(());
        }
        tokio::select! {
            result = &mut stop => {
                result?;
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                for node in nodes.iter_mut() {
                    if let Some(child) = node.child.as_mut() {
                        if let Ok(Some(status)) = child.try_wait() {
                            println!("node n{} exited ({status}); it is not restarted — see {}", node.id, node.log.display());
                            node.child = None;
                        }
                    }
                }
            }
        }
    }
    println!("stopping every node ...");
    for node in nodes.iter() {
        if let Some(pid) = node.child.as_ref().and_then(Child::id) {
            signal(pid, Signal::SIGTERM);
        }
    }
    for node in nodes.iter_mut() {
        let Some(child) = node.child.as_mut() else {
            continue;
        };
        match tokio::time::timeout(GRACE, child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                println!(
                    "node n{} did not stop within {GRACE:?}; killing it",
                    node.id
                );
                let _ = child.kill().await;
            }
        }
    }
    println!("stopped");
    Ok(())
}

/// Sends a signal to one child we started, by its pid.
fn signal(pid: u32, sig: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        if let Err(e) = nix::sys::signal::kill(Pid::from_raw(pid), sig) {
            tracing::warn!(pid, error = %e, "cannot signal node");
        }
    }
}
