//! kvorum through `kvorum dev`: N=3 on three nodes (QUORUM, ONE and STRONG connections to
//! the same cluster), or a single node with N=1. Both with `fsync = always`.
//!
//! The load connects to node 1's RESP port; with N equal to the node count every node holds
//! every key, so node 1 coordinates every request without forwarding it. The server's CPU is
//! the `kvorum dev` process and its descendants (the nodes).

use std::path::Path;
use std::process::Command;

use anyhow::bail;
use kvorum_bench::driver::resp::RespTarget;
use kvorum_bench::driver::Target;

use super::ports::Ports;
use super::process::{Server, Stop};
use super::{loopback, probe_connection, wait_until, Contender, Group};

/// Starts `kvorum dev --nodes <nodes> --replication <nodes> --fsync always` and waits until a
/// write at `ALL` succeeds through every node (so every peer link is up). `contenders`: each
/// contender's name and the `CONSISTENCY` its connections set.
pub async fn start(
    bin: &Path,
    dir: &Path,
    ports: &mut Ports,
    attempt: usize,
    nodes: u16,
    contenders: &[(&'static str, &'static str)],
) -> anyhow::Result<Group> {
    let base = ports.kvorum_base(nodes)?;
    let name = format!("kvorum-n{nodes}");
    let data = dir.join(format!("data-{attempt}"));
    let mut command = Command::new(bin);
    command
        .arg("dev")
        .args(["--nodes", &nodes.to_string()])
        .args(["--replication", &nodes.to_string()])
        .args(["--fsync", "always"])
        .args(["--base-port", &base.to_string()])
        .arg("--data-dir")
        .arg(&data);
    let log = dir.join(format!("kvorum-dev-{attempt}.log"));
    let mut servers = vec![Server::spawn(
        format!("kvorum dev ({name})"),
        command,
        &log,
        Stop::TermThenKillGroup,
    )?];
    for i in 0..nodes {
        let addr = loopback(base + i);
        wait_until(&mut servers, &format!("{name} node {} PING", i + 1), || {
            let pong: String = ::redis::cmd("PING").query(&mut probe_connection(addr)?)?;
            if pong != "PONG" {
                bail!("PING answered {pong:?}");
            }
            Ok(())
        })
        .await?;
    }
    for i in 0..nodes {
        let addr = loopback(base + i);
        wait_until(
            &mut servers,
            &format!("{name} node {} write at ALL", i + 1),
            || {
                let () = ::redis::cmd("WITH")
                    .arg("ALL")
                    .arg("--")
                    .arg("SET")
                    .arg("kvorum-bench:ready")
                    .arg("1")
                    .query(&mut probe_connection(addr)?)?;
                Ok(())
            },
        )
        .await?;
    }
    let addr = loopback(base);
    // Connections spread over every node, as a client of a cluster would: each node
    // coordinates the requests it receives.
    let spread: Vec<_> = (1..nodes).map(|i| loopback(base + i)).collect();
    let target = |consistency: &str| {
        Target::Resp(RespTarget {
            addr,
            spread: spread.clone(),
            consistency: Some(consistency.to_owned()),
            wait: None,
            password: None,
        })
    };
    Ok(Group {
        description: if nodes == 1 {
            format!("kvorum dev --nodes 1 --replication 1 --fsync always: RESP on 127.0.0.1:{base}")
        } else {
            format!(
                "kvorum dev --nodes {nodes} --replication {nodes} --fsync always: RESP on \
                 127.0.0.1:{base}..{}, connections spread over the nodes",
                base + nodes - 1
            )
        },
        servers,
        contenders: contenders
            .iter()
            .map(|&(name, consistency)| Contender {
                name,
                target: target(consistency),
            })
            .collect(),
        load_target: target(if nodes > 1 { "QUORUM" } else { "ONE" }),
    })
}
