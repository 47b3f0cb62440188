//! The contenders: which servers `compare` starts, how, and the connection each contender's
//! runs use.
//!
//! A *group* is one deployment (processes started together, data in one folder); a
//! *contender* is a group plus how the load talks to it. The three `kvorum-n3-*` contenders
//! share one `kvorum dev` cluster and differ only in the `CONSISTENCY` of their connections.
//!
//! Every group is started once, on loopback ports nobody else uses, and checked ready before
//! anything is measured; its processes are stopped when the group is dropped (see
//! [`process`]). A start that fails (a probed port taken meanwhile, a slow election) is tried
//! again on new ports, at most [`ATTEMPTS`] times.

mod etcd;
mod kvorum;
pub mod ports;
pub mod process;
mod redis;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kvorum_bench::driver::Target;

use self::ports::Ports;
use self::process::Server;

pub const KVORUM_N3_QUORUM: &str = "kvorum-n3-quorum";
pub const KVORUM_N3_ONE: &str = "kvorum-n3-one";
pub const KVORUM_N3_STRONG: &str = "kvorum-n3-strong";
pub const KVORUM_N1: &str = "kvorum-n1";
pub const REDIS: &str = "redis";
pub const REDIS_AOF_ALWAYS: &str = "redis-aof-always";
pub const REDIS_REPLICATED_WAIT1: &str = "redis-replicated-wait1";
pub const ETCD: &str = "etcd";

/// Every contender, in the order runs go through them (before rotation).
pub const ALL: [&str; 8] = [
    KVORUM_N3_QUORUM,
    KVORUM_N3_ONE,
    KVORUM_N3_STRONG,
    KVORUM_N1,
    REDIS,
    REDIS_AOF_ALWAYS,
    REDIS_REPLICATED_WAIT1,
    ETCD,
];

/// Starts attempted per group.
const ATTEMPTS: usize = 3;
/// How long a group may take from start to ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Connect, read and write timeout of the readiness probes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The server binaries (only those of the groups asked for need exist).
#[derive(Clone, Debug, Default)]
pub struct Binaries {
    pub kvorum: Option<PathBuf>,
    pub redis_server: Option<PathBuf>,
    pub etcd: Option<PathBuf>,
}

/// One running deployment.
#[derive(Debug)]
pub struct Group {
    /// What was started and how to reach it, for the report.
    pub description: String,
    pub servers: Vec<Server>,
    pub contenders: Vec<Contender>,
    /// The connection the keyspace is loaded through (one load per group).
    pub load_target: Target,
}

#[derive(Clone, Debug)]
pub struct Contender {
    pub name: &'static str,
    pub target: Target,
}

impl Group {
    /// The pids whose CPU (with their descendants') counts as the server's.
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Server::pid).collect()
    }

    /// Fails if a server process has exited: its contenders cannot be measured any more.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        check_alive(&mut self.servers)
    }
}

fn check_alive(servers: &mut [Server]) -> anyhow::Result<()> {
    for server in servers {
        if let Some(status) = server.exited() {
            bail!(
                "{} (pid {}) exited: {status}; log {} ends with:\n{}",
                server.name,
                server.pid(),
                server.log.display(),
                server.log_tail()
            );
        }
    }
    Ok(())
}

/// The groups needed for `wanted` contenders, in start order.
pub fn groups_for(wanted: &[&'static str]) -> Vec<&'static str> {
    let mut groups = Vec::new();
    for name in wanted {
        let group = group_of(name);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

/// The group a contender belongs to.
pub fn group_of(contender: &str) -> &'static str {
    match contender {
        KVORUM_N3_QUORUM | KVORUM_N3_ONE | KVORUM_N3_STRONG => "kvorum-n3",
        KVORUM_N1 => KVORUM_N1,
        REDIS => REDIS,
        REDIS_AOF_ALWAYS => REDIS_AOF_ALWAYS,
        REDIS_REPLICATED_WAIT1 => REDIS_REPLICATED_WAIT1,
        _ => ETCD,
    }
}

/// Which binary a group needs: (`Binaries` field, Debian package).
pub fn binary_of(group: &str) -> (&'static str, &'static str) {
    match group {
        "kvorum-n3" | KVORUM_N1 => (
            "kvorum",
            "kvorum (build it: cargo build --release -p kvorum-node)",
        ),
        ETCD => ("etcd", "etcd-server"),
        _ => ("redis-server", "redis-server"),
    }
}

/// Starts `group` (one of [`groups_for`]'s names) in a folder of its own under `dir`; only
/// the contenders in `wanted` are attached to it.
pub async fn start(
    group: &str,
    wanted: &[&'static str],
    bins: &Binaries,
    dir: &Path,
    ports: &mut Ports,
) -> anyhow::Result<Group> {
    let need = |bin: &Option<PathBuf>, what: &str| {
        bin.clone()
            .with_context(|| format!("no {what} binary for {group}"))
    };
    let dir = dir.join(group);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let started = match group {
            "kvorum-n3" => {
                let consistencies: Vec<(&'static str, &'static str)> = [
                    (KVORUM_N3_QUORUM, "QUORUM"),
                    (KVORUM_N3_ONE, "ONE"),
                    (KVORUM_N3_STRONG, "STRONG"),
                ]
                .into_iter()
                .filter(|(name, _)| wanted.contains(name))
                .collect();
                let bin = need(&bins.kvorum, "kvorum")?;
                kvorum::start(&bin, &dir, ports, attempt, 3, &consistencies).await
            }
            KVORUM_N1 => {
                let bin = need(&bins.kvorum, "kvorum")?;
                kvorum::start(&bin, &dir, ports, attempt, 1, &[(KVORUM_N1, "QUORUM")]).await
            }
            REDIS | REDIS_AOF_ALWAYS => {
                let bin = need(&bins.redis_server, "redis-server")?;
                let always = group == REDIS_AOF_ALWAYS;
                redis::start_single(&bin, &dir, ports, attempt, always).await
            }
            REDIS_REPLICATED_WAIT1 => {
                let bin = need(&bins.redis_server, "redis-server")?;
                redis::start_replicated(&bin, &dir, ports, attempt).await
            }
            _ => {
                let bin = need(&bins.etcd, "etcd")?;
                etcd::start(&bin, &dir, ports, attempt).await
            }
        };
        match started {
            Ok(group) => return Ok(group),
            Err(e) => {
                eprintln!(
                    "  {group}: start {} of {ATTEMPTS} failed: {e:#}",
                    attempt + 1
                );
                last = Some(e);
            }
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow::anyhow!("not started"))
        .context(format!("starting {group}")))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A synchronous RESP connection for readiness probes, with timeouts everywhere.
fn probe_connection(addr: SocketAddr) -> anyhow::Result<::redis::Connection> {
    let client = ::redis::Client::open(format!("redis://{addr}/"))?;
    let conn = client.get_connection_with_timeout(PROBE_TIMEOUT)?;
    conn.set_read_timeout(Some(PROBE_TIMEOUT))?;
    conn.set_write_timeout(Some(PROBE_TIMEOUT))?;
    Ok(conn)
}

/// Calls `probe` until it succeeds, failing if a server exits or `READY_TIMEOUT` passes.
async fn wait_until(
    servers: &mut [Server],
    what: &str,
    mut probe: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        check_alive(servers)?;
        let error = match probe() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(error.context(format!(
                "{what}: not ready within {} s",
                READY_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
