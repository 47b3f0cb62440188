//! A running cluster under test: the hosts, the node processes, and the nemesis's hands on
//! them. Every fault is applied, read back where the system allows it, and logged as executed;
//! a fault that cannot be applied stops the run (a pass under a fault that never happened
//! would be a lie).

use std::fs::File;
use std::io::Write as _;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kvorum_resp::Frame;

use super::client::{Answer, Connection};
use super::grudge::Grudge;
use super::nemesis::Fault;
use super::net::{self, NetFaults, Topology};
use super::process::NodeProcess;

/// The RESP port every node listens on inside its namespace.
pub const RESP_PORT: u16 = 6379;
/// The QUIC port every node listens on inside its namespace.
pub const PEER_PORT: u16 = 7379;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] net::NetError),
    #[error(transparent)]
    Process(#[from] super::process::ProcessError),
    #[error("{0}")]
    Setup(String),
    #[error("nemesis: {0}")]
    Nemesis(String),
}

/// The run's log of what was done to the cluster, one timestamped line per action.
pub struct ActionLog {
    start: Instant,
    file: Mutex<File>,
}

impl ActionLog {
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Self> {
        Ok(ActionLog {
            start,
            file: Mutex::new(File::create(path)?),
        })
    }

    pub fn line(&self, text: &str) {
        let at = self.start.elapsed().as_millis();
        if let Ok(mut f) = self.file.lock() {
            // The log is best effort: a full disk must not stop the run half-way through a fault.
            let _ = writeln!(f, "{at:>8} ms  {text}");
        }
    }
}

pub struct Cluster {
    pub topology: Topology,
    pub nodes: Vec<NodeProcess>,
    pub addrs: Vec<SocketAddr>,
    pub replication: usize,
}

impl Cluster {
    /// Creates the hosts, writes the cluster's configuration with `kvorum cluster-config` and
    /// starts every node. `dir` receives `cluster/` (configs, certificates, data) and
    /// `nodes/n<i>/node.log`.
    pub fn start(
        kvorum: &Path,
        nodes: usize,
        replication: usize,
        dir: &Path,
        log: &ActionLog,
    ) -> Result<Cluster, ClusterError> {
        let topology = Topology::create(nodes)?;
        log.line(&format!("created {nodes} hosts in network namespaces"));
        let hosts: Vec<String> = (0..nodes)
            .map(|i| topology.node_addr(i).to_string())
            .collect();
        let config_dir = dir.join("cluster");
        let output = std::process::Command::new(kvorum)
            .arg("cluster-config")
            .arg("--dir")
            .arg(&config_dir)
            .arg("--hosts")
            .arg(hosts.join(","))
            .args(["--resp-port", &RESP_PORT.to_string()])
            .args(["--peer-port", &PEER_PORT.to_string()])
            .args(["--replication", &replication.to_string()])
            .output()
            .map_err(|e| ClusterError::Setup(format!("running {}: {e}", kvorum.display())))?;
        if !output.status.success() {
            return Err(ClusterError::Setup(format!(
                "kvorum cluster-config failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let mut processes = Vec::new();
        for i in 0..nodes {
            let log_dir = dir.join("nodes").join(format!("n{}", i + 1));
            std::fs::create_dir_all(&log_dir)
                .map_err(|e| ClusterError::Setup(format!("{}: {e}", log_dir.display())))?;
            let config = config_dir.join(format!("n{}", i + 1)).join("node.toml");
            // No scheduled anti-entropy: the runs end with a handoff-only convergence check, and
            // the broken builds (dropped hints) must stay detectable; a repair round would heal
            // what they break.
            let (table, key, value) = crate::crash::antientropy_off();
            crate::local::set_config(&config, &table, &key, value)
                .map_err(|e| ClusterError::Setup(e.to_string()))?;
            let process = NodeProcess::start(
                kvorum,
                &topology.node_ns(i),
                &config,
                &log_dir.join("node.log"),
            )?;
            log.line(&format!(
                "started n{} (pid {})",
                i + 1,
                process.pid().unwrap_or(0)
            ));
            processes.push(process);
        }
        let addrs = (0..nodes)
            .map(|i| SocketAddr::V4(SocketAddrV4::new(topology.node_addr(i), RESP_PORT)))
            .collect();
        Ok(Cluster {
            topology,
            nodes: processes,
            addrs,
            replication,
        })
    }

    /// The log file of node `i`.
    pub fn log_path(dir: &Path, i: usize) -> PathBuf {
        dir.join("nodes")
            .join(format!("n{}", i + 1))
            .join("node.log")
    }

    /// Waits until every node answers and sees every other node up. Call from the clients'
    /// namespace.
    pub fn wait_healthy(&mut self, within: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + within;
        let n = self.addrs.len();
        for i in 0..n {
            loop {
                if let Some(exit) = self.nodes[i].unexpected_exit() {
                    return Err(ClusterError::Setup(format!("n{} exited: {exit}", i + 1)));
                }
                let info = command(self.addrs[i], &["INFO", "replication"]);
                let all_up = match &info {
                    Answer::Ok(frame) => {
                        let text = super::client::text(frame).unwrap_or_default();
                        (0..n)
                            .filter(|&j| j != i)
                            .all(|j| text.contains(&format!("peer_n{}:state=up", j + 1)))
                    }
                    _ => false,
                };
                if all_up {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(ClusterError::Setup(format!(
                        "n{} does not see every peer up within {} s: {info:?}",
                        i + 1,
                        within.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// Checks that the nodes are a test build: the nemesis needs their clock offset and fault
    /// switches (`DEBUG`), which only `--features fault-injection` builds have.
    pub fn check_test_build(&self) -> Result<(), ClusterError> {
        match command(self.addrs[0], &["DEBUG", "CLOCK-OFFSET"]) {
            Answer::Ok(Frame::Integer(_)) => Ok(()),
            other => Err(ClusterError::Setup(format!(
                "the nodes are not a test build ({}): build them with `cargo build -p \
                 kvorum-node --features fault-injection` and pass that binary with --kvorum",
                other.note()
            ))),
        }
    }

    /// Switches a node fault on everywhere (`DEBUG FAULT name ON`), checking it took.
    pub fn set_node_fault(&self, name: &str, on: bool) -> Result<(), ClusterError> {
        let state = if on { "ON" } else { "OFF" };
        for (i, &addr) in self.addrs.iter().enumerate() {
            match command(addr, &["DEBUG", "FAULT", name, state]) {
                Answer::Ok(_) => {}
                other => {
                    return Err(ClusterError::Setup(format!(
                        "n{}: DEBUG FAULT {name} {state}: {} (is the binary built with \
                         --features fault-injection?)",
                        i + 1,
                        other.note()
                    )))
                }
            }
        }
        Ok(())
    }

    /// Starts a fault. Returns what was executed, for the log. A strobe is started by the
    /// caller (it runs for the whole hold), so here it only sets the first offset.
    pub fn begin(&mut self, fault: &Fault, log: &ActionLog) -> Result<(), ClusterError> {
        match fault {
            Fault::Partition { grudge, .. } => {
                let grudge: Grudge = grudge
                    .iter()
                    .map(|(n, from)| (*n, from.iter().copied().collect()))
                    .collect();
                self.apply_net(
                    &NetFaults {
                        grudge,
                        ..NetFaults::default()
                    },
                    log,
                )
            }
            Fault::Loss { nodes } => self.apply_net(
                &NetFaults {
                    loss_percent: nodes.iter().copied().collect(),
                    ..NetFaults::default()
                },
                log,
            ),
            Fault::Kill { nodes } => {
                for &i in nodes {
                    self.nodes[i].kill()?;
                    log.line(&format!("SIGKILL n{} (reaped)", i + 1));
                }
                Ok(())
            }
            Fault::Pause { nodes } => {
                for &i in nodes {
                    self.nodes[i].pause()?;
                    log.line(&format!("SIGSTOP n{} (seen stopped)", i + 1));
                }
                Ok(())
            }
            Fault::ClockSkew { offsets } => {
                for &(i, ms) in offsets {
                    self.set_clock(i, ms, log)?;
                }
                Ok(())
            }
            Fault::ClockStrobe {
                node, offset_ms, ..
            } => self.set_clock(*node, *offset_ms, log),
        }
    }

    /// Ends a fault.
    pub fn end(&mut self, fault: &Fault, log: &ActionLog) -> Result<(), ClusterError> {
        match fault {
            Fault::Partition { .. } | Fault::Loss { .. } => {
                let batches = self.topology.heal()?;
                log.line(&format!(
                    "healed the network ({} tables flushed)",
                    batches.len()
                ));
                Ok(())
            }
            Fault::Kill { nodes } => {
                for &i in nodes {
                    self.nodes[i].restart()?;
                    log.line(&format!(
                        "restarted n{} (pid {})",
                        i + 1,
                        self.nodes[i].pid().unwrap_or(0)
                    ));
                }
                Ok(())
            }
            Fault::Pause { nodes } => {
                for &i in nodes {
                    self.nodes[i].resume()?;
                    log.line(&format!("SIGCONT n{} (seen running)", i + 1));
                }
                Ok(())
            }
            Fault::ClockSkew { offsets } => {
                for &(i, _) in offsets {
                    self.set_clock(i, 0, log)?;
                }
                Ok(())
            }
            Fault::ClockStrobe { node, .. } => self.set_clock(*node, 0, log),
        }
    }

    /// Undoes every fault, whatever the schedule left: heals the network, resumes and
    /// restarts nodes, resets clocks. Call from the clients' namespace.
    pub fn heal_everything(&mut self, log: &ActionLog) -> Result<(), ClusterError> {
        self.topology.heal()?;
        log.line("final heal: network healed");
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_running() {
                self.nodes[i].resume()?;
            } else {
                self.nodes[i].restart()?;
                log.line(&format!("final heal: restarted n{}", i + 1));
            }
        }
        for i in 0..self.nodes.len() {
            self.set_clock_when_up(i, log)?;
        }
        log.line("final heal: every node running, clocks reset");
        Ok(())
    }

    /// Sets a node's clock offset after a restart or resume (it may take a moment to listen).
    fn set_clock_when_up(&self, i: usize, log: &ActionLog) -> Result<(), ClusterError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.set_clock(i, 0, log) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Sets and reads back node `i`'s test clock offset.
    pub fn set_clock(&self, i: usize, ms: i64, log: &ActionLog) -> Result<(), ClusterError> {
        let addr = self.addrs[i];
        let ms_text = ms.to_string();
        if let other @ (Answer::Fail(_) | Answer::Info(_)) =
            command(addr, &["DEBUG", "CLOCK-OFFSET", &ms_text])
        {
            return Err(ClusterError::Nemesis(format!(
                "n{}: DEBUG CLOCK-OFFSET {ms}: {}",
                i + 1,
                other.note()
            )));
        }
        match command(addr, &["DEBUG", "CLOCK-OFFSET"]) {
            Answer::Ok(Frame::Integer(read)) if read == ms => {
                log.line(&format!("n{} clock offset {ms:+} ms (read back)", i + 1));
                Ok(())
            }
            other => Err(ClusterError::Nemesis(format!(
                "n{}: clock offset {ms} set, but reads back {other:?}",
                i + 1
            ))),
        }
    }

    fn apply_net(&self, faults: &NetFaults, log: &ActionLog) -> Result<(), ClusterError> {
        let batches = self.topology.apply(faults)?;
        for (i, batch) in batches.iter().enumerate() {
            log.line(&format!(
                "nft batch in {} (verified):\n{}",
                self.topology.node_ns(i),
                batch.trim_end()
            ));
        }
        Ok(())
    }

    /// Stops every node and removes the hosts.
    pub fn shutdown(mut self, log: &ActionLog) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if let Err(e) = node.terminate(Duration::from_secs(5)) {
                log.line(&format!("stopping n{}: {e}", i + 1));
            }
        }
        if let Err(e) = self.topology.teardown() {
            log.line(&format!("teardown: {e}"));
        }
    }
}

/// One command over a fresh connection (control traffic, not part of the history).
pub fn command(addr: SocketAddr, args: &[&str]) -> Answer {
    Connection::new(addr, Duration::from_secs(5), Vec::new()).call(args)
}
