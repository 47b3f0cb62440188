//! `kvorum dev`: a local cluster of child processes that stops cleanly and comes back with its data.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{encode, raw};

/// A base port whose RESP, QUIC and admin ranges are free right now.
fn free_base_port() -> u16 {
    for base in (21_000..28_000).step_by(37) {
        let free = (0..3).all(|i| {
            std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && std::net::UdpSocket::bind(("127.0.0.1", base + 1000 + i)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

struct Dev {
    child: Child,
    node_pids: Vec<i32>,
}

fn start(dir: &std::path::Path, base: u16) -> Dev {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvorum"))
        .args(["dev", "--base-port", &base.to_string(), "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut node_pids = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while node_pids.len() < 3 {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.trim_start().strip_prefix('n') {
            let pid = rest.split_whitespace().nth(2).unwrap().parse().unwrap();
            node_pids.push(pid);
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Dev { child, node_pids }
}

fn wait_for(addr: SocketAddr, command: &[&str], expect: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = raw(
            addr,
            &[encode(&["CONSISTENCY", "ALL"]), encode(command)].concat(),
        )
        .unwrap_or_default();
        if String::from_utf8_lossy(&reply) == format!("+OK\r\n{expect}") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{command:?} kept answering {:?}",
            String::from_utf8_lossy(&reply)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

#[test]
fn dev_cluster_stops_every_node_on_sigterm_and_comes_back_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port();
    let first: SocketAddr = ([127, 0, 0, 1], base).into();
    let third: SocketAddr = ([127, 0, 0, 1], base + 2).into();

    let mut dev = start(dir.path(), base);
    wait_for(first, &["SET", "kept", "yes"], "+OK\r\n");

    kill(Pid::from_raw(dev.child.id() as i32), Signal::SIGTERM).unwrap();
    let status = dev.child.wait().unwrap();
    assert!(status.success(), "kvorum dev exited with {status}");
    for pid in &dev.node_pids {
        assert!(!alive(*pid), "node process {pid} survived the stop");
    }

    // Same data dir, same cluster: the value written at ALL is back on every node.
    let mut dev = start(dir.path(), base);
    wait_for(third, &["GET", "kept"], "$3\r\nyes\r\n");
    // A different shape on the same data dir is refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_kvorum"))
        .args([
            "dev",
            "--nodes",
            "4",
            "--base-port",
            &(base + 100).to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds a cluster of 3 nodes"));

    kill(Pid::from_raw(dev.child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(dev.child.wait().unwrap().success());
    for pid in &dev.node_pids {
        assert!(!alive(*pid));
    }
}
