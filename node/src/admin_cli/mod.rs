//! `kvorum admin`: asks running nodes about the cluster over their RESP port (the `ADMIN`
//! command family, see `commands/admin.rs`) and prints tables, or the JSON with `--json`.
//!
//! - `client.rs`: a minimal RESP client with a deadline on every step;
//! - `merge.rs`: several nodes' answers merged into one document, and the human tables;
//! - `table.rs`: column alignment.
//!
//! `status` and `namespaces` ask the given node, then every peer it lists with a RESP address
//! (`[[peers]] resp` in the config), all at once: liveness is shown as each node sees the
//! others, catalogs are compared with the given node's, and a node that does not answer is
//! shown as unreachable rather than failing the command. `key` asks the key's replicas.

mod client;
mod merge;
mod table;

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tokio::task::JoinSet;

pub use client::{ask, AdminError, Client};
pub use merge::{merge_key, merge_namespaces, merge_status, NodeAnswer};

/// `kvorum admin ...`.
#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
    /// A node's RESP address (host:port).
    #[arg(long, global = true, default_value = "127.0.0.1:6379")]
    node: String,
    /// The nodes' password (`requirepass`), if they have one.
    #[arg(long, global = true)]
    password: Option<String>,
    /// Print the JSON document instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for each node's answer.
    #[arg(long, global = true, default_value_t = 2_000)]
    timeout_ms: u64,
}

#[derive(clap::Subcommand, Debug)]
enum AdminCommand {
    /// Every node: address, version, uptime, layout, and liveness as each node sees the others.
    Status,
    /// Partitions owned per node (as primary and as any replica) and the imbalance.
    Ring,
    /// Hinted-handoff backlog per target node, as the given node holds it.
    Hints,
    /// Where a key lives: partition, preference list, and each replica's copy.
    Key {
        /// The database index, as `SELECT` takes (`namespaces` shows which namespace each
        /// index maps to).
        ns: String,
        key: String,
    },
    /// Every namespace and its settings, and whether all nodes hold the same catalog.
    Namespaces,
    /// Runs an anti-entropy round now on the given node, with every other replica, and prints
    /// what it did. Waits for the round (rate-limited like scheduled rounds) up to an hour, or
    /// `--timeout-ms` if that is longer.
    Repair {
        /// The namespace (its name, or a db index); every namespace if omitted.
        ns: Option<String>,
        /// One partition of it; every partition this node replicates if omitted.
        partition: Option<u32>,
    },
    /// Anti-entropy counters and the node's digest of each namespace.
    Antientropy,
}

/// The longest `kvorum admin repair` waits for its round.
const REPAIR_WAIT: Duration = Duration::from_secs(3600);

/// Runs one `kvorum admin` command, printing to stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let password = args.password.as_deref();
    let (document, text) = match &args.command {
        AdminCommand::Status => {
            let merged = status(&args.node, password, timeout).await?;
            let text = merge::status_table(&merged);
            (merged, text)
        }
        AdminCommand::Ring => {
            let ring = ask(&args.node, password, timeout, &[b"ADMIN", b"RING"]).await?;
            let text = merge::ring_table(&ring);
            (ring, text)
        }
        AdminCommand::Hints => {
            let hints = ask(&args.node, password, timeout, &[b"ADMIN", b"HINTS"]).await?;
            let text = merge::hints_table(&hints);
            (hints, text)
        }
        AdminCommand::Namespaces => {
            let merged = namespaces(&args.node, password, timeout).await?;
            let text = merge::namespaces_table(&merged);
            (merged, text)
        }
        AdminCommand::Repair { ns, partition } => {
            let partition = partition.map(|p| p.to_string());
            let mut command: Vec<&[u8]> = vec![b"ADMIN", b"REPAIR"];
            if let Some(ns) = ns {
                command.push(ns.as_bytes());
            } else if partition.is_some() {
                anyhow::bail!(
                    "a partition needs its namespace: kvorum admin repair <ns> <partition>"
                );
            }
            if let Some(p) = &partition {
                command.push(p.as_bytes());
            }
            let wait = timeout.max(REPAIR_WAIT);
            let report = ask(&args.node, password, wait, &command).await?;
            let text = merge::repair_table(&report);
            (report, text)
        }
        AdminCommand::Antientropy => {
            let view = ask(&args.node, password, timeout, &[b"ADMIN", b"ANTIENTROPY"]).await?;
            let text = merge::antientropy_table(&view);
            (view, text)
        }
        AdminCommand::Key { ns, key } => {
            let merged = key_report(&args.node, password, timeout, ns, key).await?;
            let text = merge::key_table(&merged);
            (merged, text)
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&document).context("encoding JSON")?
        );
    } else {
        print!("{text}");
    }
    Ok(())
}

/// The merged status of the node at `addr` and of every peer it knows a RESP address of. Fails
/// only if `addr` itself does not answer.
pub async fn status(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<Value, AdminError> {
    const STATUS: &[&[u8]] = &[b"ADMIN", b"STATUS"];
    let first = ask(addr, password, timeout, STATUS).await?;
    let mut answers = ask_peers(&first, password, timeout, STATUS).await;
    answers.insert(
        0,
        NodeAnswer {
            id: None,
            resp: addr.to_owned(),
            result: Ok(first),
        },
    );
    Ok(merge_status(addr, answers))
}

/// The catalogs of the node at `addr` and of every peer it knows a RESP address of, merged and
/// compared with the one of `addr`. The peers come from `addr`'s `ADMIN STATUS`, asked on the
/// same connection. Fails only if `addr` itself does not answer.
pub async fn namespaces(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
) -> Result<Value, AdminError> {
    const NAMESPACES: &[&[u8]] = &[b"ADMIN", b"NAMESPACES"];
    let mut client = Client::connect(addr, password, timeout).await?;
    let first = client.admin(NAMESPACES).await?;
    let status = client.admin(&[b"ADMIN", b"STATUS"]).await?;
    drop(client);
    let mut answers = ask_peers(&status, password, timeout, NAMESPACES).await;
    answers.insert(
        0,
        NodeAnswer {
            id: first["node"].as_u64(),
            resp: addr.to_owned(),
            result: Ok(first),
        },
    );
    Ok(merge_namespaces(addr, answers))
}

/// Asks every peer that `status` (an `ADMIN STATUS` document) lists with a RESP address, all at
/// once; each answer is the document or why there was none.
async fn ask_peers(
    status: &Value,
    password: Option<&str>,
    timeout: Duration,
    args: &'static [&'static [u8]],
) -> Vec<NodeAnswer> {
    let mut asking = JoinSet::new();
    for peer in status["peers"].as_array().into_iter().flatten() {
        let (Some(id), Some(resp)) = (peer["id"].as_u64(), peer["resp"].as_str()) else {
            continue;
        };
        let (resp, password) = (resp.to_owned(), password.map(str::to_owned));
        asking.spawn(async move {
            let result = ask(&resp, password.as_deref(), timeout, args)
                .await
                .map_err(|e| e.to_string());
            NodeAnswer {
                id: Some(id),
                resp,
                result,
            }
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = asking.join_next().await {
        if let Ok(answer) = answer {
            answers.push(answer);
        }
    }
    answers
}

/// `ADMIN KEY` of the node at `addr`, with every other replica's own copy asked directly.
pub async fn key_report(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
    db: &str,
    key: &str,
) -> Result<Value, AdminError> {
    let head = ask(
        addr,
        password,
        timeout,
        &[b"ADMIN", b"KEY", db.as_bytes(), key.as_bytes()],
    )
    .await?;
    let mut asking = JoinSet::new();
    for replica in head["replicas"].as_array().into_iter().flatten() {
        if replica["self"].as_bool() == Some(true) {
            continue;
        }
        let (Some(id), Some(resp)) = (replica["id"].as_u64(), replica["resp"].as_str()) else {
            continue;
        };
        let (resp, password) = (resp.to_owned(), password.map(str::to_owned));
        let (db, key) = (db.to_owned(), key.to_owned());
        asking.spawn(async move {
            let args: [&[u8]; 5] = [b"ADMIN", b"KEY", db.as_bytes(), key.as_bytes(), b"LOCAL"];
            let result = ask(&resp, password.as_deref(), timeout, &args)
                .await
                .map_err(|e| e.to_string());
            (id, result)
        });
    }
    let mut copies = Vec::new();
    while let Some(copy) = asking.join_next().await {
        if let Ok(copy) = copy {
            copies.push(copy);
        }
    }
    Ok(merge_key(head, copies))
}
