//! kvorum nodes on loopback as child processes of this one, without namespaces or root.
//!
//! Each node of a cluster gets its own loopback address (127.0.0.1, 127.0.0.2, …) so that
//! `kvorum cluster-config` can give every node the same ports. The crash tests
//! ([`crate::crash`]) and kvorum-bench's `repair-impact` both start, SIGKILL and restart nodes
//! through this module; the partition tier ([`crate::real`]) runs its nodes in network
//! namespaces instead and only shares [`set_config`].
//!
//! Every process is signalled by its pid only (through [`std::process::Child`]), and a
//! [`LocalCluster`] stops its nodes and removes its folder when dropped, also on an error or a
//! panic.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvorum_resp::Frame;

use crate::real::client::{Answer, Connection};

/// How long a node may take to answer PING after a (re)start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a (re)started cluster may take until an ALL write succeeds through every node
/// (peers reconnect with back-off).
pub const READY_TIMEOUT: Duration = Duration::from_secs(40);
/// Client socket timeout of the readiness check: above the node's default request timeout
/// (2 s), so a node's own `-TIMEOUT` arrives first.
const READY_CLIENT_TIMEOUT: Duration = Duration::from_secs(4);
/// The line written into a node's log before a restart, so its two lives can be told apart.
const RESTART_MARKER: &str = "--- restarted ---";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0}")]
    Setup(String),
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let context = context.into();
    move |source| LocalError::Io { context, source }
}

/// One node process: a child of this process.
pub struct LocalNode {
    /// 1-based, as in the cluster's configs.
    pub id: usize,
    pub resp: SocketAddr,
    pub config: PathBuf,
    /// The node's data folder (`data_dir`), apart from its config and log so it can be wiped.
    pub data: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl LocalNode {
    /// Starts `kvorum server` with the node's config; output appends to its log.
    pub fn start(&mut self, kvorum: &Path) -> Result<(), LocalError> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io_error(format!("opening {}", self.log.display())))?;
        if self.log.metadata().map(|m| m.len() > 0).unwrap_or(false) {
            writeln!(log, "{RESTART_MARKER}")
                .map_err(io_error(format!("writing {}", self.log.display())))?;
        }
        let stderr = log
            .try_clone()
            .map_err(io_error(format!("duplicating {}", self.log.display())))?;
        let child = Command::new(kvorum)
            .arg("server")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(io_error(format!("starting {}", kvorum.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL by pid (`Child::kill`), then reap, so the pid is never signalled again.
    pub fn kill(&mut self) -> Result<(), LocalError> {
        let Some(mut child) = self.child.take() else {
            return Err(LocalError::Setup(format!(
                "n{} is not running: cannot kill it",
                self.id
            )));
        };
        let pid = child.id();
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LocalError::Setup(format!(
                "n{} (pid {pid}) had exited on its own before the kill: {status}",
                self.id
            )));
        }
        child
            .kill()
            .map_err(io_error(format!("SIGKILL to pid {pid}")))?;
        child
            .wait()
            .map_err(io_error(format!("reaping pid {pid}")))?;
        Ok(())
    }

    /// The running process's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the node ended, if it ended on its own.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => {
                self.child = None;
                Some(status.to_string())
            }
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }

    /// Waits until the node answers PING; an error says why it never did.
    pub fn wait_ping(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "n{} exited while starting ({status}); log tail:\n{}",
                    self.id,
                    log_tail(&self.log)
                ));
            }
            let mut conn = Connection::new(self.resp, Duration::from_secs(1), Vec::new());
            if let Answer::Ok(Frame::Simple(s)) = conn.call(&["PING"]) {
                if s.as_ref() == b"PONG" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "n{} did not answer PING within {} s; log tail:\n{}",
                    self.id,
                    START_TIMEOUT.as_secs(),
                    log_tail(&self.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the node for good (SIGKILL: its data is no longer needed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a log, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A RESP port whose admin port (+3000) is also free, and a QUIC port, free on every host.
/// The probe sockets are closed before the nodes bind, so another process could take a port in
/// between; [`LocalCluster::start`] retries a start that fails.
pub fn pick_ports(hosts: &[Ipv4Addr]) -> Result<(u16, u16), LocalError> {
    for _ in 0..100 {
        let resp = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io_error("probing a free TCP port"))?
            .port();
        let peer = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(io_error("probing a free UDP port"))?
            .port();
        let Some(admin) = resp.checked_add(3000) else {
            continue;
        };
        let free = hosts.iter().all(|&h| {
            TcpListener::bind((h, resp)).is_ok()
                && TcpListener::bind((h, admin)).is_ok()
                && UdpSocket::bind((h, peer)).is_ok()
        });
        if free {
            return Ok((resp, peer));
        }
    }
    Err(LocalError::Setup(
        "found no free ports on the loopback addresses".to_owned(),
    ))
}

/// Sets `key = value` in `[table]` of a node config (an empty `table`: the top level), adding
/// the table if it is missing.
pub fn set_config(
    config: &Path,
    table: &str,
    key: &str,
    value: toml::Value,
) -> Result<(), LocalError> {
    let text = std::fs::read_to_string(config)
        .map_err(io_error(format!("reading {}", config.display())))?;
    let mut root: toml::Table = text
        .parse()
        .map_err(|e| LocalError::Setup(format!("{} is not TOML: {e}", config.display())))?;
    let section = if table.is_empty() {
        &mut root
    } else {
        let entry = root
            .entry(table)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(section) => section,
            _ => {
                return Err(LocalError::Setup(format!(
                    "{}: `{table}` is not a table",
                    config.display()
                )))
            }
        }
    };
    section.insert(key.to_owned(), value);
    let text = toml::to_string(&root)
        .map_err(|e| LocalError::Setup(format!("writing {}: {e}", config.display())))?;
    std::fs::write(config, text).map_err(io_error(format!("writing {}", config.display())))
}

/// What cluster to start.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// The `kvorum` binary.
    pub kvorum: PathBuf,
    /// The cluster's folder (created; removed on drop unless `keep`).
    pub dir: PathBuf,
    pub keep: bool,
    /// 1 to 254 nodes; N = the number of nodes (every key on every node).
    pub nodes: usize,
    /// `kvorum cluster-config --fsync`.
    pub fsync: String,
    /// `kvorum cluster-config --engine`; `None`: the node's default engine.
    pub engine: Option<String>,
    /// Config settings written into every node's config after `cluster-config`:
    /// (table, key, value), an empty table meaning the top level.
    pub settings: Vec<(String, String, toml::Value)>,
    /// The key the readiness check writes at ALL.
    pub ready_key: String,
}

/// A running cluster of [`LocalNode`]s in its own folder.
pub struct LocalCluster {
    pub kvorum: PathBuf,
    pub nodes: Vec<LocalNode>,
    pub dir: PathBuf,
    keep: bool,
    ready_key: String,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        if self.keep {
            return;
        }
        // A retry covers a file still being closed as the last node goes; a folder left behind
        // is said, not silently kept.
        let mut removed = std::fs::remove_dir_all(&self.dir);
        if removed.is_err() {
            std::thread::sleep(Duration::from_millis(500));
            removed = std::fs::remove_dir_all(&self.dir);
        }
        if let Err(e) = removed {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

impl LocalCluster {
    /// Writes the configs, starts every node, and waits until an ALL write succeeds through
    /// each. A start that fails (a probed port taken meanwhile) is retried on new ports.
    pub fn start(spec: &ClusterSpec) -> Result<LocalCluster, LocalError> {
        if !(1..=254).contains(&spec.nodes) {
            return Err(LocalError::Setup(format!(
                "{} nodes: expected 1 to 254",
                spec.nodes
            )));
        }
        std::fs::create_dir_all(&spec.dir)
            .map_err(io_error(format!("creating {}", spec.dir.display())))?;
        let mut cluster = LocalCluster {
            kvorum: spec.kvorum.clone(),
            nodes: Vec::new(),
            dir: spec.dir.clone(),
            keep: spec.keep,
            ready_key: spec.ready_key.clone(),
        };
        let mut last = String::new();
        for attempt in 0..3 {
            match cluster.start_all(spec, attempt) {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    for node in &mut cluster.nodes {
                        node.stop();
                    }
                    cluster.nodes.clear();
                    last = e.to_string();
                }
            }
        }
        Err(LocalError::Setup(format!("cannot start the nodes: {last}")))
    }

    fn start_all(&mut self, spec: &ClusterSpec, attempt: usize) -> Result<(), LocalError> {
        let hosts: Vec<Ipv4Addr> = (1..=spec.nodes)
            .map(|i| Ipv4Addr::new(127, 0, 0, i as u8))
            .collect();
        let (resp, peer) = pick_ports(&hosts)?;
        let config_dir = self.dir.join(format!("cluster{attempt}"));
        let host_list: Vec<String> = hosts.iter().map(Ipv4Addr::to_string).collect();
        let mut command = Command::new(&self.kvorum);
        command
            .arg("cluster-config")
            .arg("--dir")
            .arg(&config_dir)
            .arg("--hosts")
            .arg(host_list.join(","))
            .args(["--resp-port", &resp.to_string()])
            .args(["--peer-port", &peer.to_string()])
            .args(["--replication", &hosts.len().to_string()])
            .args(["--fsync", &spec.fsync]);
        if let Some(engine) = &spec.engine {
            command.args(["--engine", engine]);
        }
        let output = command
            .output()
            .map_err(io_error(format!("running {}", self.kvorum.display())))?;
        if !output.status.success() {
            return Err(LocalError::Setup(format!(
                "kvorum cluster-config failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        for (i, &host) in hosts.iter().enumerate() {
            let node_dir = config_dir.join(format!("n{}", i + 1));
            let config = node_dir.join("node.toml");
            // The data in a folder of its own, so that wiping it leaves the config and the log.
            set_config(&config, "", "data_dir", toml::Value::String("data".into()))?;
            for (table, key, value) in &spec.settings {
                set_config(&config, table, key, value.clone())?;
            }
            self.nodes.push(LocalNode {
                id: i + 1,
                resp: SocketAddr::new(IpAddr::V4(host), resp),
                config,
                data: node_dir.join("data"),
                log: node_dir.join("node.log"),
                child: None,
            });
        }
        for node in &mut self.nodes {
            node.start(&self.kvorum)?;
        }
        for node in &mut self.nodes {
            node.wait_ping().map_err(LocalError::Setup)?;
        }
        self.wait_ready().map_err(LocalError::Setup)
    }

    /// Waits until an ALL write succeeds through every node: every peer link is up (a request
    /// or a repair started before would count a peer as down).
    pub fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for node in &self.nodes {
            let mut conn = Connection::new(node.resp, READY_CLIENT_TIMEOUT, Vec::new());
            loop {
                let answer = conn.call(&["WITH", "ALL", "--", "SET", &self.ready_key, "1"]);
                if matches!(answer, Answer::Ok(_)) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "n{} could not write at ALL within {} s after the start: {}",
                        node.id,
                        READY_TIMEOUT.as_secs(),
                        answer.note()
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// Fails if a node has exited on its own.
    pub fn check_alive(&mut self) -> Result<(), String> {
        for node in &mut self.nodes {
            if let Some(status) = node.exited() {
                return Err(format!(
                    "n{} exited: {status}; log tail:\n{}",
                    node.id,
                    log_tail(&node.log)
                ));
            }
        }
        Ok(())
    }

    /// The running nodes' pids.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(LocalNode::pid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_config_replaces_adds_and_creates_tables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "node_id = 1\ndata_dir = \".\"\n\n[antientropy]\nenabled = true\n",
        )
        .expect("write");
        set_config(&path, "", "data_dir", toml::Value::String("data".into())).expect("top");
        set_config(&path, "antientropy", "enabled", toml::Value::Boolean(false)).expect("set");
        set_config(&path, "hints", "enabled", toml::Value::Boolean(false)).expect("new");
        let table: toml::Table = std::fs::read_to_string(&path)
            .expect("read")
            .parse()
            .expect("still TOML");
        assert_eq!(table["node_id"].as_integer(), Some(1));
        assert_eq!(table["data_dir"].as_str(), Some("data"));
        assert_eq!(table["antientropy"]["enabled"].as_bool(), Some(false));
        assert_eq!(table["hints"]["enabled"].as_bool(), Some(false));
        // A key that is not a table cannot take a setting: an error, not a panic.
        assert!(set_config(&path, "node_id", "x", toml::Value::Integer(1)).is_err());
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let text: String = (0..40).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let tail = log_tail(&path);
        assert!(tail.starts_with("line 25"));
        assert!(tail.ends_with("line 39"));
        assert_eq!(log_tail(&dir.path().join("missing")), "");
    }
}
