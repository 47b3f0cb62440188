//! A 3-member etcd cluster (static bootstrap with `--initial-cluster`), each member with its own
//! data folder and client and peer URLs on loopback. Everything else is etcd's default (its
//! write-ahead log is fsynced on every commit, as kvorum's `fsync = always`).
//!
//! The load spreads its connections over the three members' client URLs; reads are
//! linearizable (etcd's default).

use std::path::Path;
use std::process::Command;

use kvorum_bench::driver::etcd::EtcdTarget;
use kvorum_bench::driver::{Op, Target};

use super::ports::Ports;
use super::process::{Server, Stop};
use super::{loopback, Contender, Group, ETCD, READY_TIMEOUT};

const MEMBERS: usize = 3;

pub async fn start(
    bin: &Path,
    dir: &Path,
    ports: &mut Ports,
    attempt: usize,
) -> anyhow::Result<Group> {
    let picked = ports.tcp(2 * MEMBERS)?;
    let (client, peer) = picked.split_at(MEMBERS);
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let cluster: Vec<String> = (0..MEMBERS)
        .map(|i| format!("e{}={}", i + 1, url(peer[i])))
        .collect();
    let token = format!("kvorum-bench-{}-{attempt}", std::process::id());
    let mut servers = Vec::new();
    for i in 0..MEMBERS {
        let member = format!("e{}", i + 1);
        let mut command = Command::new(bin);
        command
            .args(["--name", &member])
            .arg("--data-dir")
            .arg(dir.join(format!("{member}-{attempt}")))
            .args(["--listen-client-urls", &url(client[i])])
            .args(["--advertise-client-urls", &url(client[i])])
            .args(["--listen-peer-urls", &url(peer[i])])
            .args(["--initial-advertise-peer-urls", &url(peer[i])])
            .args(["--initial-cluster", &cluster.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &token])
            .args(["--logger", "zap", "--log-outputs", "stderr"]);
        let log = dir.join(format!("{member}-{attempt}.log"));
        servers.push(Server::spawn(
            format!("etcd {member}"),
            command,
            &log,
            Stop::Kill,
        )?);
    }
    // Ready once a put through every member succeeds: a leader is elected and every member
    // reaches it.
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    let ready = Op::Insert {
        key: b"kvorum-bench:ready".to_vec(),
        value: b"1".to_vec(),
    };
    for &port in client {
        let member = Target::Etcd(EtcdTarget {
            endpoints: vec![loopback(port)],
            linearizable: true,
        });
        loop {
            super::check_alive(&mut servers)?;
            let result = match member.connect().await {
                Ok(mut conn) => conn.execute(std::slice::from_ref(&ready)).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() > deadline => anyhow::bail!(
                    "etcd on {port}: no put within {} s: {e}",
                    READY_TIMEOUT.as_secs()
                ),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
    let target = Target::Etcd(EtcdTarget {
        endpoints: client.iter().map(|&p| loopback(p)).collect(),
        linearizable: true,
    });
    Ok(Group {
        description: format!(
            "etcd, 3 members, client URLs 127.0.0.1:{},{},{}; JSON gateway /v3/kv, \
             linearizable reads",
            client[0], client[1], client[2]
        ),
        servers,
        contenders: vec![Contender {
            name: ETCD,
            target: target.clone(),
        }],
        load_target: target,
    })
}
