//! redis-server: alone without persistence, alone with `appendfsync always`, and a primary
//! with two replicas (every one `appendfsync always`) whose writes are each followed by
//! `WAIT 1`, so a write is acknowledged once a replica has it, as a kvorum QUORUM write is.
//!
//! Replicas start with `repl-diskless-sync-delay 0`: the initial sync then begins at once
//! instead of after Redis's default 5 s; it changes nothing once replication runs.

use std::path::Path;
use std::process::Command;

use anyhow::bail;
use kvorum_bench::driver::resp::RespTarget;
use kvorum_bench::driver::Target;

use super::ports::Ports;
use super::process::{Server, Stop};
use super::{
    loopback, probe_connection, wait_until, Contender, Group, REDIS, REDIS_AOF_ALWAYS,
    REDIS_REPLICATED_WAIT1,
};

/// `WAIT 1 <ms>` after every write of `redis-replicated-wait1`: a reply of 0 replicas after
/// this long is counted as an error by the driver.
pub const WAIT_TIMEOUT_MS: u64 = 1_000;

/// A redis-server on `port`, data in `dir`, log to stdout (the server's log file).
fn command(bin: &Path, dir: &Path, port: u16, aof_always: bool) -> Command {
    let mut command = Command::new(bin);
    command
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--daemonize", "no"])
        .args(["--save", ""])
        .args(["--logfile", ""])
        .arg("--dir")
        .arg(dir);
    if aof_always {
        command.args(["--appendonly", "yes", "--appendfsync", "always"]);
    } else {
        command.args(["--appendonly", "no"]);
    }
    command
}

fn ping(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let pong: String = ::redis::cmd("PING").query(&mut probe_connection(addr)?)?;
    if pong != "PONG" {
        bail!("PING answered {pong:?}");
    }
    Ok(())
}

fn plain_target(port: u16, wait: Option<(u32, u64)>) -> Target {
    Target::Resp(RespTarget {
        addr: loopback(port),
        spread: Vec::new(),
        consistency: None,
        wait,
        password: None,
    })
}

/// `redis-server --save '' --appendonly no`, or with `--appendonly yes --appendfsync always`.
pub async fn start_single(
    bin: &Path,
    dir: &Path,
    ports: &mut Ports,
    attempt: usize,
    aof_always: bool,
) -> anyhow::Result<Group> {
    let name = if aof_always { REDIS_AOF_ALWAYS } else { REDIS };
    let port = ports.tcp(1)?[0];
    let data = dir.join(format!("data-{attempt}"));
    std::fs::create_dir_all(&data)?;
    let log = dir.join(format!("redis-{attempt}.log"));
    let mut servers = vec![Server::spawn(
        name,
        command(bin, &data, port, aof_always),
        &log,
        Stop::Kill,
    )?];
    wait_until(&mut servers, &format!("{name} PING"), || {
        ping(loopback(port))
    })
    .await?;
    let target = plain_target(port, None);
    Ok(Group {
        description: format!(
            "redis-server --save '' {} on 127.0.0.1:{port}",
            if aof_always {
                "--appendonly yes --appendfsync always"
            } else {
                "--appendonly no"
            }
        ),
        servers,
        contenders: vec![Contender {
            name,
            target: target.clone(),
        }],
        load_target: target,
    })
}

/// A primary and two replicas (`--replicaof`), all `appendfsync always`; ready once a write
/// on the primary reaches both replicas (`WAIT 2`).
pub async fn start_replicated(
    bin: &Path,
    dir: &Path,
    ports: &mut Ports,
    attempt: usize,
) -> anyhow::Result<Group> {
    let ports = ports.tcp(3)?;
    let primary = ports[0];
    let mut servers = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let role = if i == 0 {
            "primary".to_owned()
        } else {
            format!("replica{i}")
        };
        let data = dir.join(format!("{role}-{attempt}"));
        std::fs::create_dir_all(&data)?;
        let mut command = command(bin, &data, port, true);
        command.args(["--repl-diskless-sync-delay", "0"]);
        if i > 0 {
            command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
        let log = dir.join(format!("{role}-{attempt}.log"));
        servers.push(Server::spawn(
            format!("{REDIS_REPLICATED_WAIT1} {role}"),
            command,
            &log,
            Stop::Kill,
        )?);
    }
    for &port in &ports {
        wait_until(&mut servers, &format!("redis on {port} PING"), || {
            ping(loopback(port))
        })
        .await?;
    }
    wait_until(&mut servers, "redis replicas in sync (WAIT 2)", || {
        let mut conn = probe_connection(loopback(primary))?;
        let () = ::redis::cmd("SET")
            .arg("kvorum-bench:ready")
            .arg("1")
            .query(&mut conn)?;
        let acked: i64 = ::redis::cmd("WAIT").arg(2).arg(1_000).query(&mut conn)?;
        if acked < 2 {
            bail!("{acked} of 2 replicas acknowledged");
        }
        Ok(())
    })
    .await?;
    let target = plain_target(primary, Some((1, WAIT_TIMEOUT_MS)));
    Ok(Group {
        description: format!(
            "redis-server primary on 127.0.0.1:{primary}, replicas on {} and {} \
             (--replicaof), all --appendonly yes --appendfsync always; WAIT 1 {WAIT_TIMEOUT_MS} \
             after every write",
            ports[1], ports[2]
        ),
        servers,
        contenders: vec![Contender {
            name: REDIS_REPLICATED_WAIT1,
            target: target.clone(),
        }],
        load_target: target,
    })
}
