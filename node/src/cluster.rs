//! A whole cluster's configuration, written into one folder: the cluster PKI and every node's
//! `node.toml`. `kvorum dev` writes one for a loopback cluster it then runs; `kvorum
//! cluster-config` writes one for nodes on other hosts (a test harness's network namespaces, or
//! real machines) and runs nothing. Both go through [`ClusterPlan`] and [`write()`], so the two
//! cannot drift apart.
//!
//! The folder:
//! - `tls/ca.pem`, `tls/ca-key.pem`: the cluster CA, created once and then reused;
//! - `tls/n<id>/node.pem`, `tls/n<id>/node-key.pem`: node `id`'s certificate (it names the node
//!   id, not an address, so moving a node to another host keeps it valid), issued once;
//! - `n<id>/node.toml`: node `id`'s configuration, with `data_dir = "."` (the node's data lives
//!   next to its config) and the TLS paths relative (`../tls/...`), so the folder works wherever
//!   it is mounted or copied. A host needs `tls/ca.pem`, its own `tls/n<id>/` and `n<id>/`; the
//!   CA key (`tls/ca-key.pem`) is only needed to issue certificates and may stay behind.
//!
//! Node ids are 1, 2, … in the order the nodes are given; every node lists all the others as
//! peers.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::{AuthConfig, ConfigError, NodeConfig, PeerEntry, StorageEngine, TlsConfig};
use crate::peer::{ClusterCa, PeerError};

/// One node of a plan: its id and the addresses it listens on (peers dial `peer_listen`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlan {
    pub id: u64,
    pub resp_listen: SocketAddr,
    pub peer_listen: SocketAddr,
}

/// Everything that differs between the nodes' configs of one cluster, or is chosen for all of
/// them; every other setting keeps its default (docs/CONFIG.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterPlan {
    pub nodes: Vec<NodePlan>,
    /// Replicas per key (`N`), at most the number of nodes.
    pub replication: usize,
    /// `always`, `periodic:<ms>` or `never`.
    pub fsync: String,
    /// Every node's storage engine.
    pub storage_engine: StorageEngine,
    pub request_timeout_ms: u64,
    /// The password every RESP connection must give, if any.
    pub requirepass: Option<String>,
    /// Every node's `runtime.worker_threads` (0: the node picks from its cores).
    pub runtime_threads: usize,
}

/// Why a cluster's configuration was not written. Wrapped errors are the `source`, not part of
/// the message (print with `{:#}` through anyhow, as `main` does, for the whole chain).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("--hosts must name at least one host")]
    NoHosts,
    #[error(
        "--replication must be between 1 and the number of nodes ({nodes}), got {replication}"
    )]
    Replication { replication: usize, nodes: usize },
    #[error(
        "host {0} is listed twice: every node needs its own address, as all of them use the \
         same ports"
    )]
    DuplicateHost(IpAddr),
    #[error("{flag} must not be 0: peers and clients dial a fixed port")]
    ZeroPort { flag: &'static str },
    #[error(
        "{} already holds a cluster config ({}); pass --force to rewrite the node configs \
         (the CA and the node certificates are kept)",
        dir.display(),
        found.display()
    )]
    Exists { dir: PathBuf, found: PathBuf },
    #[error("node n{id}")]
    Config {
        id: u64,
        #[source]
        source: ConfigError,
    },
    #[error("cluster certificates")]
    Pki(#[from] PeerError),
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding a node config")]
    Encode(#[from] toml::ser::Error),
}

impl ClusterPlan {
    /// Nodes `1..=hosts.len()` on the given hosts, each listening on the same two ports.
    pub fn on_hosts(
        hosts: &[IpAddr],
        resp_port: u16,
        peer_port: u16,
        replication: usize,
    ) -> Result<ClusterPlan, ClusterError> {
        if hosts.is_empty() {
            return Err(ClusterError::NoHosts);
        }
        for (flag, port) in [("--resp-port", resp_port), ("--peer-port", peer_port)] {
            if port == 0 {
                return Err(ClusterError::ZeroPort { flag });
            }
        }
        let mut seen = BTreeSet::new();
        if let Some(&twice) = hosts.iter().find(|&&host| !seen.insert(host)) {
            return Err(ClusterError::DuplicateHost(twice));
        }
        let nodes = (1u64..)
            .zip(hosts)
            .map(|(id, &host)| NodePlan {
                id,
                resp_listen: SocketAddr::new(host, resp_port),
                peer_listen: SocketAddr::new(host, peer_port),
            })
            .collect();
        ClusterPlan::new(nodes, replication)
    }

    /// `count` nodes on 127.0.0.1: node `i` (from 0) serves RESP on `base_port + i` and QUIC on
    /// `base_port + 1000 + i` (the ports of `kvorum dev`). The caller checks the ports fit.
    pub fn on_loopback(
        count: u16,
        base_port: u16,
        replication: usize,
    ) -> Result<ClusterPlan, ClusterError> {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let port = |offset: u16, i: u16| base_port.wrapping_add(offset).wrapping_add(i);
        let nodes = (0..count)
            .map(|i| NodePlan {
                id: u64::from(i) + 1,
                resp_listen: SocketAddr::new(loopback, port(0, i)),
                peer_listen: SocketAddr::new(loopback, port(1000, i)),
            })
            .collect();
        ClusterPlan::new(nodes, replication)
    }

    /// A plan with the defaults of `kvorum dev`: `fsync = "always"`, the default storage engine,
    /// a 2 s request timeout, no password.
    fn new(nodes: Vec<NodePlan>, replication: usize) -> Result<ClusterPlan, ClusterError> {
        if nodes.is_empty() {
            return Err(ClusterError::NoHosts);
        }
        if replication == 0 || replication > nodes.len() {
            return Err(ClusterError::Replication {
                replication,
                nodes: nodes.len(),
            });
        }
        Ok(ClusterPlan {
            nodes,
            replication,
            fsync: "always".to_owned(),
            storage_engine: StorageEngine::default(),
            request_timeout_ms: 2_000,
            requirepass: None,
            runtime_threads: 0,
        })
    }

    /// The configuration of one node of the plan, as written to `n<id>/node.toml`.
    pub fn node_config(&self, node: &NodePlan) -> NodeConfig {
        let id = node.id;
        NodeConfig {
            node_id: id,
            data_dir: PathBuf::from("."),
            resp_listen: node.resp_listen,
            peer_listen: node.peer_listen,
            peers: self
                .nodes
                .iter()
                .filter(|other| other.id != id)
                .map(|other| PeerEntry {
                    id: other.id,
                    addr: other.peer_listen,
                    // So `kvorum admin` can ask every node, starting from any one.
                    resp: Some(other.resp_listen),
                })
                .collect(),
            replication_factor: self.replication,
            partition_bits: kvorum_ring::DEFAULT_PARTITION_BITS,
            storage_engine: self.storage_engine,
            fsync: self.fsync.clone(),
            request_timeout_ms: self.request_timeout_ms,
            databases: 16,
            auth: AuthConfig {
                requirepass: self.requirepass.clone(),
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
            namespaces: Default::default(),
            native: Default::default(),
            antientropy: Default::default(),
            runtime: crate::config::RuntimeConfig {
                worker_threads: self.runtime_threads,
                ..Default::default()
            },
            // HTTP admin on the node's host at the RESP port + 3000 (DESIGN.md §8): `kvorum dev`
            // node i gets 127.0.0.1:base+3000+i, `cluster-config` <host>:9379 by default.
            admin: crate::config::AdminConfig {
                listen: SocketAddr::new(
                    node.resp_listen.ip(),
                    node.resp_listen.port().checked_add(3000).unwrap_or(0),
                ),
                ..Default::default()
            },
        }
    }

    /// Every node's configuration, checked as `kvorum server` would check it.
    pub fn node_configs(&self) -> Result<Vec<NodeConfig>, ClusterError> {
        self.nodes
            .iter()
            .map(|node| {
                let config = self.node_config(node);
                config.validate().map_err(|source| ClusterError::Config {
                    id: node.id,
                    source,
                })?;
                Ok(config)
            })
            .collect()
    }
}

/// The first file of a cluster config found in `dir`, if any: the CA certificate or a node's
/// config for one of the plan's ids.
pub fn existing_config(dir: &Path, plan: &ClusterPlan) -> Option<PathBuf> {
    std::iter::once(dir.join("tls").join("ca.pem"))
        .chain(
            plan.nodes
                .iter()
                .map(|node| dir.join(format!("n{}", node.id)).join("node.toml")),
        )
        .find(|path| path.exists())
}

/// Writes the plan into `dir` (see the module docs) and returns each node's config path, in
/// id order. Every config is checked before anything is written. An existing CA and existing
/// node certificates are reused; node configs are rewritten, each starting with `header` (a
/// TOML comment).
pub fn write(
    dir: &Path,
    plan: &ClusterPlan,
    header: &str,
) -> Result<Vec<(u64, PathBuf)>, ClusterError> {
    let configs = plan.node_configs()?;
    let tls = dir.join("tls");
    let ca = if tls.join("ca.pem").exists() {
        ClusterCa::load(&tls)?
    } else {
        ClusterCa::create(&tls)?
    };
    let mut paths = Vec::with_capacity(configs.len());
    for config in &configs {
        let id = config.node_id;
        let cert_dir = tls.join(format!("n{id}"));
        if !cert_dir.join("node.pem").exists() {
            ca.issue_node(id, &cert_dir)?;
        }
        let node_dir = dir.join(format!("n{id}"));
        std::fs::create_dir_all(&node_dir).map_err(|source| ClusterError::Io {
            action: "creating",
            path: node_dir.clone(),
            source,
        })?;
        let path = node_dir.join("node.toml");
        let text = format!("{header}{}", toml::to_string(config)?);
        std::fs::write(&path, text).map_err(|source| ClusterError::Io {
            action: "writing",
            path: path.clone(),
            source,
        })?;
        paths.push((id, path));
    }
    Ok(paths)
}

/// `kvorum cluster-config`: the configuration of a cluster on other hosts, written and not run.
#[derive(clap::Args, Debug)]
pub struct ClusterConfigArgs {
    /// Folder to write into (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// The nodes' IP addresses, comma-separated: node 1 first.
    #[arg(long, value_delimiter = ',', required = true)]
    hosts: Vec<IpAddr>,
    /// RESP port of every node.
    #[arg(long, default_value_t = 6379)]
    resp_port: u16,
    /// QUIC (peer) port of every node.
    #[arg(long, default_value_t = 7379)]
    peer_port: u16,
    /// Replicas per key (at most the number of hosts).
    #[arg(long, default_value_t = 3)]
    replication: usize,
    /// fsync setting of every node: always, `periodic:<ms>` or never.
    #[arg(long, default_value = "always")]
    fsync: String,
    /// Storage engine of every node (`storage_engine` in node.toml); the node's default when
    /// not given (docs/CONFIG.md).
    #[arg(long, value_enum)]
    engine: Option<StorageEngine>,
    /// How long a request waits for replicas before answering -TIMEOUT.
    #[arg(long, default_value_t = 2_000)]
    request_timeout_ms: u64,
    /// Password every RESP connection must give (`AUTH`), as Redis's `requirepass`.
    #[arg(long)]
    requirepass: Option<String>,
    /// Rewrite the node configs of a folder that already holds a cluster config (the CA and
    /// node certificates are kept).
    #[arg(long)]
    force: bool,
}

const HEADER: &str = "# Generated by `kvorum cluster-config`; docs/CONFIG.md lists every field. \
                      Run it with `kvorum server --config node.toml`.\n";

/// Writes the cluster config described by `args` and returns each node's config path.
pub fn cluster_config(args: &ClusterConfigArgs) -> Result<Vec<(u64, PathBuf)>, ClusterError> {
    let mut plan = ClusterPlan::on_hosts(
        &args.hosts,
        args.resp_port,
        args.peer_port,
        args.replication,
    )?;
    plan.fsync = args.fsync.clone();
    plan.storage_engine = args.engine.unwrap_or_default();
    plan.request_timeout_ms = args.request_timeout_ms;
    plan.requirepass = args.requirepass.clone();
    plan.node_configs()?;
    if !args.force {
        if let Some(found) = existing_config(&args.dir, &plan) {
            return Err(ClusterError::Exists {
                dir: args.dir.clone(),
                found,
            });
        }
    }
    std::fs::create_dir_all(&args.dir).map_err(|source| ClusterError::Io {
        action: "creating",
        path: args.dir.clone(),
        source,
    })?;
    write(&args.dir, &plan, HEADER)
}

/// `kvorum cluster-config`: writes, then says what was written and how to run it.
pub fn run(args: ClusterConfigArgs) -> anyhow::Result<()> {
    let paths = cluster_config(&args)?;
    println!(
        "kvorum cluster config: {} nodes, N={} replicas per key, in {}",
        paths.len(),
        args.replication,
        args.dir.display()
    );
    for ((id, path), host) in paths.iter().zip(&args.hosts) {
        println!(
            "  n{id}  RESP {}  QUIC {}  config {}",
            SocketAddr::new(*host, args.resp_port),
            SocketAddr::new(*host, args.peer_port),
            path.display()
        );
    }
    println!(
        "On each host run `kvorum server --config n<id>/node.toml` with tls/ca.pem, tls/n<id>/ \
         and n<id>/ of this folder in place (the node keeps its data in n<id>/)."
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn hosts() -> Vec<IpAddr> {
        ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
            .iter()
            .map(|h| ip(h))
            .collect()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn hosts_become_nodes_one_to_n_that_peer_with_every_other() {
        let plan = ClusterPlan::on_hosts(&hosts(), 6379, 7379, 3).unwrap();
        let configs = plan.node_configs().unwrap();
        let ids: Vec<u64> = configs.iter().map(|c| c.node_id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let second = &configs[1];
        assert_eq!(second.resp_listen, addr("198.18.0.12:6379"));
        assert_eq!(second.peer_listen, addr("198.18.0.12:7379"));
        let peers: Vec<(u64, SocketAddr)> = second.peers.iter().map(|p| (p.id, p.addr)).collect();
        assert_eq!(
            peers,
            [(1, addr("198.18.0.11:7379")), (3, addr("198.18.0.13:7379"))]
        );
        let resp: Vec<Option<SocketAddr>> = second.peers.iter().map(|p| p.resp).collect();
        assert_eq!(
            resp,
            [
                Some(addr("198.18.0.11:6379")),
                Some(addr("198.18.0.13:6379"))
            ]
        );
        assert_eq!(second.data_dir, PathBuf::from("."));
        assert_eq!(second.tls.ca_cert, PathBuf::from("../tls/ca.pem"));
        assert_eq!(second.tls.node_dir, PathBuf::from("../tls/n2"));
        assert_eq!(second.replication_factor, 3);
    }

    #[test]
    fn the_chosen_settings_reach_every_node() {
        let mut plan = ClusterPlan::on_hosts(&hosts(), 6400, 7400, 2).unwrap();
        plan.fsync = "periodic:50".into();
        plan.storage_engine = StorageEngine::Memory;
        plan.request_timeout_ms = 750;
        plan.requirepass = Some("secret".into());
        for config in plan.node_configs().unwrap() {
            assert_eq!(config.fsync, "periodic:50");
            assert_eq!(config.storage_engine, StorageEngine::Memory);
            assert_eq!(config.request_timeout_ms, 750);
            assert_eq!(config.auth.requirepass.as_deref(), Some("secret"));
            assert_eq!(config.replication_factor, 2);
            assert_eq!(config.resp_listen.port(), 6400);
            assert!(config.peers.iter().all(|p| p.addr.port() == 7400));
        }
    }

    #[test]
    fn bad_inputs_are_refused_with_what_is_wrong() {
        let err = |result: Result<ClusterPlan, ClusterError>| result.unwrap_err().to_string();
        assert_eq!(
            err(ClusterPlan::on_hosts(&[], 6379, 7379, 1)),
            "--hosts must name at least one host"
        );
        assert!(err(ClusterPlan::on_hosts(&hosts(), 6379, 7379, 4))
            .contains("between 1 and the number of nodes (3), got 4"));
        assert!(err(ClusterPlan::on_hosts(&hosts(), 6379, 7379, 0)).contains("got 0"));
        let twice = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.1")];
        assert!(err(ClusterPlan::on_hosts(&twice, 6379, 7379, 1))
            .contains("host 10.0.0.1 is listed twice"));
        assert!(err(ClusterPlan::on_hosts(&hosts(), 0, 7379, 1)).contains("--resp-port"));
        assert!(err(ClusterPlan::on_hosts(&hosts(), 6379, 0, 1)).contains("--peer-port"));
        let mut plan = ClusterPlan::on_hosts(&hosts(), 6379, 7379, 3).unwrap();
        plan.fsync = "sometimes".into();
        let e = format!(
            "{:#}",
            anyhow::Error::from(plan.node_configs().unwrap_err())
        );
        assert!(e.starts_with("node n1: invalid `fsync`"), "{e}");
    }

    #[test]
    fn the_loopback_plan_has_the_ports_of_kvorum_dev() {
        let plan = ClusterPlan::on_loopback(3, 6379, 3).unwrap();
        let listen: Vec<(u64, SocketAddr, SocketAddr)> = plan
            .nodes
            .iter()
            .map(|n| (n.id, n.resp_listen, n.peer_listen))
            .collect();
        assert_eq!(
            listen,
            [
                (1, addr("127.0.0.1:6379"), addr("127.0.0.1:7379")),
                (2, addr("127.0.0.1:6380"), addr("127.0.0.1:7380")),
                (3, addr("127.0.0.1:6381"), addr("127.0.0.1:7381")),
            ]
        );
        let third = plan.node_config(&plan.nodes[2]);
        let peers: Vec<SocketAddr> = third.peers.iter().map(|p| p.addr).collect();
        assert_eq!(peers, [addr("127.0.0.1:7379"), addr("127.0.0.1:7380")]);
    }

    fn args(dir: &Path, force: bool) -> ClusterConfigArgs {
        ClusterConfigArgs {
            dir: dir.to_owned(),
            hosts: hosts(),
            resp_port: 6379,
            peer_port: 7379,
            replication: 3,
            fsync: "always".into(),
            engine: None,
            request_timeout_ms: 2_000,
            requirepass: None,
            force,
        }
    }

    #[test]
    fn written_configs_load_as_a_node_would_load_them() {
        let dir = tempfile::tempdir().unwrap();
        let paths = cluster_config(&args(dir.path(), false)).unwrap();
        assert_eq!(paths.len(), 3);
        for (id, path) in &paths {
            assert_eq!(path, &dir.path().join(format!("n{id}")).join("node.toml"));
            let config = NodeConfig::load(path).unwrap();
            assert_eq!(config.node_id, *id);
            assert_eq!(config.data_dir, dir.path().join(format!("n{id}")).join("."));
            let cert_dir = dir.path().join("tls").join(format!("n{id}"));
            assert!(cert_dir.join("node.pem").exists());
            crate::peer::NodeIdentity::load(*id, &config.tls.node_dir, &config.tls.ca_cert)
                .unwrap();
        }
    }

    #[test]
    fn the_engine_flag_reaches_the_written_configs() {
        for (engine, expected) in [
            (None, StorageEngine::default()),
            (Some(StorageEngine::Sled), StorageEngine::Sled),
            (Some(StorageEngine::Fjall), StorageEngine::Fjall),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut with_engine = args(dir.path(), false);
            with_engine.engine = engine;
            for (_, path) in cluster_config(&with_engine).unwrap() {
                assert_eq!(NodeConfig::load(&path).unwrap().storage_engine, expected);
            }
        }
    }

    #[test]
    fn an_existing_cluster_config_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        cluster_config(&args(dir.path(), false)).unwrap();
        let ca = std::fs::read(dir.path().join("tls").join("ca.pem")).unwrap();
        let e = cluster_config(&args(dir.path(), false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already holds a cluster config"), "{e}");
        assert!(e.contains("--force"), "{e}");

        let mut forced = args(dir.path(), true);
        forced.resp_port = 6500;
        cluster_config(&forced).unwrap();
        let config = NodeConfig::load(&dir.path().join("n1").join("node.toml")).unwrap();
        assert_eq!(config.resp_listen, addr("198.18.0.11:6500"));
        // Same CA: certificates issued before stay valid.
        assert_eq!(
            std::fs::read(dir.path().join("tls").join("ca.pem")).unwrap(),
            ca
        );
    }
}
