//! A real kvorum cluster for integration tests: `kvorum server` child processes on loopback,
//! ephemeral ports, a fresh CA and data dirs in a temporary folder. Children are killed when the
//! cluster is dropped, by their pid only.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvorum_node::config::{NodeConfig, PeerEntry, TlsConfig};
use kvorum_node::peer::ClusterCa;

pub struct TestNode {
    pub id: u64,
    pub resp: SocketAddr,
    /// The QUIC endpoint (`peer_listen`): peers and native clients.
    pub quic: SocketAddr,
    /// The HTTP admin listener (`/metrics`, `/health`).
    pub admin: SocketAddr,
    pub config_path: PathBuf,
    pub child: Option<Child>,
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<TestNode>,
    /// `[auth] requirepass` from the extra TOML, if any: the helpers below `AUTH` with it.
    pub password: Option<String>,
    /// One cluster at a time per test binary: a dozen nodes fsyncing on two shared cores would
    /// turn timing into the thing under test.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `count` distinct free TCP ports and `count` distinct free UDP ports. Every socket stays
/// bound until all are chosen, so the OS cannot hand out one port twice (a port freed at once
/// may come back from the next bind).
fn free_ports(tcp: usize, udp: usize) -> (Vec<u16>, Vec<u16>) {
    let tcp: Vec<TcpListener> = (0..tcp)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let udp: Vec<UdpSocket> = (0..udp)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    (
        tcp.iter().map(|l| l.local_addr().unwrap().port()).collect(),
        udp.iter().map(|s| s.local_addr().unwrap().port()).collect(),
    )
}

impl TestCluster {
    /// Starts `count` nodes with replication factor `n` and waits until every node answers PING.
    pub fn start(count: u64, n: usize) -> TestCluster {
        Self::start_with(count, n, "")
    }

    /// Like [`TestCluster::start`], with extra TOML appended to every node's config.
    pub fn start_with(count: u64, n: usize, extra_toml: &str) -> TestCluster {
        let turn = ONE_CLUSTER_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let ca = ClusterCa::create(&tls).unwrap();
        let ids: Vec<u64> = (1..=count).collect();
        let (tcp, quic) = free_ports(2 * ids.len(), ids.len());
        let (resp, admin) = tcp.split_at(ids.len());
        let mut nodes = Vec::new();
        let mut password = None;
        for (i, &id) in ids.iter().enumerate() {
            let cert_dir = tls.join(format!("n{id}"));
            ca.issue_node(id, &cert_dir).unwrap();
            let node_dir = dir.path().join(format!("n{id}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            let config = NodeConfig {
                node_id: id,
                data_dir: node_dir.join("data"),
                resp_listen: ([127, 0, 0, 1], resp[i]).into(),
                peer_listen: ([127, 0, 0, 1], quic[i]).into(),
                peers: ids
                    .iter()
                    .enumerate()
                    .filter(|(_, &o)| o != id)
                    .map(|(j, &o)| PeerEntry {
                        id: o,
                        addr: ([127, 0, 0, 1], quic[j]).into(),
                        resp: Some(([127, 0, 0, 1], resp[j]).into()),
                    })
                    .collect(),
                replication_factor: n,
                partition_bits: 8,
                storage_engine: Default::default(),
                fsync: "always".into(),
                request_timeout_ms: 2_000,
                databases: 16,
                auth: Default::default(),
                default_namespace: Default::default(),
                tls: TlsConfig {
                    ca_cert: tls.join("ca.pem"),
                    node_dir: cert_dir,
                },
                limits: Default::default(),
                peer: kvorum_node::config::PeerTuning {
                    idle_timeout_ms: 1_500,
                    keep_alive_ms: 300,
                    // Test clusters share two cores with many other processes: tolerate
                    // scheduling pauses instead of flapping.
                    acceptable_pause_ms: 1_000,
                    ..Default::default()
                },
                expiry: Default::default(),
                namespaces: Default::default(),
                native: Default::default(),
                antientropy: Default::default(),
                runtime: Default::default(),
                hints: kvorum_node::config::HintsConfig {
                    handoff_interval_ms: 200,
                    ..Default::default()
                },
                admin: kvorum_node::config::AdminConfig {
                    listen: ([127, 0, 0, 1], admin[i]).into(),
                    ..Default::default()
                },
            };
            let config_path = node_dir.join("node.toml");
            let mut text = toml::to_string(&config).unwrap();
            if !extra_toml.is_empty() {
                // Tables must come after the top-level keys; re-parse to merge.
                let mut value: toml::Table = text.parse().unwrap();
                let extra: toml::Table = extra_toml.parse().unwrap();
                password = extra
                    .get("auth")
                    .and_then(|auth| auth.get("requirepass"))
                    .and_then(|p| p.as_str())
                    .map(str::to_owned);
                value.extend(extra);
                text = toml::to_string(&value).unwrap();
            }
            std::fs::write(&config_path, text).unwrap();
            nodes.push(TestNode {
                id,
                resp: config.resp_listen,
                quic: config.peer_listen,
                admin: config.admin.listen,
                config_path,
                child: None,
            });
        }
        let mut cluster = TestCluster {
            dir,
            nodes,
            password,
            _turn: turn,
        };
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i);
        }
        for i in 0..cluster.nodes.len() {
            cluster.wait_ready(i);
        }
        cluster.wait_connected();
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.config_path.with_file_name("node.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kvorum"))
            .arg("server")
            .arg("--config")
            .arg(&node.config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        node.child = Some(child);
    }

    /// Waits until the node answers PING on its RESP port.
    pub fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut probe = self.auth();
        probe.extend(encode(&["PING"]));
        loop {
            if let Ok(reply) = raw(self.nodes[i].resp, &probe) {
                if reply.ends_with(b"+PONG\r\n") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not start; log:\n{}",
                self.nodes[i].id,
                self.log(i)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until an ALL write succeeds from every node (every peer link is up).
    pub fn wait_connected(&self) {
        for i in 0..self.nodes.len() {
            self.eventually(i, &["SET", "__ready", "1"], "+OK", Some("ALL"));
        }
    }

    /// Retries a command on node `i` (with a connection-level consistency) until its reply
    /// starts with `expect`, for up to 15 s; returns the reply.
    pub fn eventually(
        &self,
        i: usize,
        args: &[&str],
        expect: &str,
        consistency: Option<&str>,
    ) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let reply = self.command(i, args, consistency);
            if reply.starts_with(expect) {
                return reply;
            }
            assert!(
                Instant::now() < deadline,
                "node {}: {args:?} kept answering {reply:?}",
                self.nodes[i].id
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs one command on node `i` over a fresh connection and returns the raw reply text.
    pub fn command(&self, i: usize, args: &[&str], consistency: Option<&str>) -> String {
        let mut wire = self.auth();
        if let Some(level) = consistency {
            let mut words = vec!["CONSISTENCY"];
            words.extend(level.split_whitespace());
            wire.extend(encode(&words));
        }
        wire.extend(encode(args));
        let reply = raw(self.nodes[i].resp, &wire).unwrap_or_default();
        let mut text = String::from_utf8_lossy(&reply).into_owned();
        if self.password.is_some() {
            text = text.strip_prefix("+OK\r\n").unwrap_or(&text).to_owned();
        }
        match consistency {
            Some(_) => text.strip_prefix("+OK\r\n").unwrap_or(&text).to_owned(),
            None => text,
        }
    }

    /// `AUTH password` if the cluster has one, else nothing.
    fn auth(&self) -> Vec<u8> {
        match &self.password {
            Some(password) => encode(&["AUTH", password]),
            None => Vec::new(),
        }
    }

    /// The cluster's PKI directory: `ca.pem`, `ca-key.pem` and `n<id>/` per node.
    pub fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    /// The cluster CA certificate (PEM), which native clients trust.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }

    pub fn url(&self, i: usize) -> String {
        format!("redis://{}/", self.nodes[i].resp)
    }

    /// SIGKILL, by pid.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGSTOP (`pause = true`) or SIGCONT, by pid: the process stays, its sockets stay open,
    /// it just stops answering.
    pub fn pause(&self, i: usize, pause: bool) {
        let child = self.nodes[i].child.as_ref().expect("node is running");
        let signal = if pause {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    }

    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready(i);
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].config_path.with_file_name("node.log"))
            .unwrap_or_default()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                self.pause(i, false);
            }
            self.kill(i);
        }
    }
}

pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Sends bytes, half-closes, and reads everything the server answers until it closes or goes
/// quiet for a moment.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(bytes)?;
    // The server may already have answered and closed (a refusal): then there is nothing to
    // shut down, and what it sent is still there to read.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}
