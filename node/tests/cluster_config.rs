//! `kvorum cluster-config`: the configs it writes start a working cluster, and it refuses to
//! overwrite a folder that already holds one. The "hosts" are loopback addresses 127.0.0.1-3
//! (Linux routes all of 127.0.0.0/8 to the loopback interface), all with the same two ports,
//! as on the separate hosts the command is meant for.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{encode, raw};

const HOSTS: [[u8; 4]; 3] = [[127, 0, 0, 1], [127, 0, 0, 2], [127, 0, 0, 3]];

/// A RESP (TCP) and a QUIC (UDP) port free on every host right now, and the HTTP admin port
/// the generated configs derive from the RESP port (RESP + 3000).
fn free_ports() -> (u16, u16) {
    for resp in (31_000..39_000).step_by(53) {
        let peer = resp + 1;
        let admin = resp + 3_000;
        let free = HOSTS.iter().all(|&host| {
            let host = std::net::Ipv4Addr::from(host);
            TcpListener::bind((host, resp)).is_ok()
                && TcpListener::bind((host, admin)).is_ok()
                && UdpSocket::bind((host, peer)).is_ok()
        });
        if free {
            return (resp, peer);
        }
    }
    panic!("no free ports");
}

/// Node processes, killed by pid when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cluster_config(dir: &std::path::Path, resp: u16, peer: u16) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kvorum"))
        .args(["cluster-config", "--dir"])
        .arg(dir)
        .args([
            "--hosts",
            "127.0.0.1,127.0.0.2,127.0.0.3",
            "--resp-port",
            &resp.to_string(),
            "--peer-port",
            &peer.to_string(),
            "--replication",
            "3",
        ])
        .output()
        .unwrap()
}

#[test]
fn a_generated_cluster_config_starts_a_cluster_that_replicates() {
    let dir = tempfile::tempdir().unwrap();
    let (resp, peer) = free_ports();
    let out = cluster_config(dir.path(), resp, peer);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!("n2  RESP 127.0.0.2:{resp}  QUIC 127.0.0.2:{peer}")),
        "{printed}"
    );

    let mut nodes = Nodes(Vec::new());
    for id in 1..=3 {
        let node_dir = dir.path().join(format!("n{id}"));
        let log = std::fs::File::create(node_dir.join("node.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kvorum"))
            .arg("server")
            .arg("--config")
            .arg(node_dir.join("node.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        nodes.0.push(child);
    }
    // A write every replica acknowledges, then a read of it through another node.
    let first: SocketAddr = (HOSTS[0], resp).into();
    let third: SocketAddr = (HOSTS[2], resp).into();
    let wire = [
        encode(&["CONSISTENCY", "ALL"]),
        encode(&["SET", "greeting", "hello"]),
    ]
    .concat();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = raw(first, &wire).unwrap_or_default();
        if reply == b"+OK\r\n+OK\r\n" {
            break;
        }
        let logs: Vec<String> = (1..=3)
            .map(|id| {
                std::fs::read_to_string(dir.path().join(format!("n{id}")).join("node.log"))
                    .unwrap_or_default()
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "the cluster never took an ALL write ({:?}); logs:\n{}",
            String::from_utf8_lossy(&reply),
            logs.join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let reply = raw(third, &encode(&["GET", "greeting"])).unwrap();
    assert_eq!(String::from_utf8_lossy(&reply), "$5\r\nhello\r\n");
    drop(nodes);

    // The folder holds a cluster now: writing it again needs --force.
    let again = cluster_config(dir.path(), resp, peer);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already holds a cluster config") && stderr.contains("--force"),
        "{stderr}"
    );
}
