//! Connects to a cluster, writes a key and reads it back.
//!
//! ```text
//! kvorum dev                                    # in another terminal: a local 3-node cluster
//! cargo run -p kvorum-client --example quickstart -- [HOST:PORT] [--ca PATH] [--password P]
//! ```
//!
//! Defaults: `127.0.0.1:7379` (the first node of `kvorum dev`) and `kvorum-data/tls/ca.pem`.
//! Exits 0 when the value read back is the one written, non-zero with a message otherwise.

mod common;

use std::process::ExitCode;

use kvorum_client::{Client, Consistency, Error};

#[tokio::main]
async fn main() -> ExitCode {
    common::main_with(run).await
}

async fn run(client: Client) -> Result<(), Error> {
    let topology = client.topology();
    println!(
        "connected: {} nodes, layout epoch {}",
        topology.nodes().count(),
        topology.epoch()
    );
    let ns = client.namespace("default").await?;
    let key = "quickstart:greeting";
    let route = ns.route(key)?;
    let primaries: Vec<String> = route.primaries.iter().map(ToString::to_string).collect();
    println!(
        "{key} lives on partition {}, primaries {} (the client sends to the first reachable)",
        route.partition,
        primaries.join(", ")
    );

    ns.set(key, "hello from kvorum-client")
        .consistency(Consistency::Quorum)
        .await?;
    println!("SET {key} = \"hello from kvorum-client\" (QUORUM)");

    let read = ns.get(key).consistency(Consistency::Quorum).await?;
    let value = read.value()?.cloned();
    println!(
        "GET {key} = {:?}",
        value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    );
    if value.as_deref() != Some(&b"hello from kvorum-client"[..]) {
        return Err(Error::InvalidRequest(format!(
            "read back {value:?}, not the value written"
        )));
    }
    println!("ok");
    Ok(())
}
