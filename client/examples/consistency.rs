//! Choosing consistency per request.
//!
//! ```text
//! cargo run -p kvorum-client --example consistency -- [HOST:PORT] [--ca PATH] [--password P]
//! ```
//!
//! Every request can name a preset (`Consistency::One`, `Quorum`, `All`, `Eventual`,
//! `Strong`, …) or explicit settings (`.r(n).w(n).dw(n)`, `.sloppy()` / `.strict()`), and a
//! `.timeout(d)` the coordinating node honours. A request that names nothing uses its
//! namespace's default. What each choice guarantees is in docs/CONSISTENCY.md.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use kvorum_client::{Bytes, Client, Consistency, Error, ErrorKind};

#[tokio::main]
async fn main() -> ExitCode {
    common::main_with(run).await
}

async fn run(client: Client) -> Result<(), Error> {
    let ns = client.namespace("default").await?;
    println!(
        "namespace {}: N = {}, default consistency {:?}",
        ns.name(),
        ns.replication(),
        ns.default_consistency().to_string()
    );
    let key = "example:profile";

    // Every primary must acknowledge the write.
    ns.set(key, "v1").consistency(Consistency::All).await?;
    println!("SET with ALL: every primary holds it");

    // A fast read that may be stale.
    let fast = ns.get(key).consistency(Consistency::One).await?;
    println!("GET with ONE: {:?}", text(fast.value()?));

    // Explicit settings: read from every primary, acknowledge on one, durable on one.
    ns.set(key, "v2").w(1).dw(1).await?;
    let full = ns.get(key).r(ns.replication()).await?;
    println!("SET W=1 DW=1, then GET R=N: {:?}", text(full.value()?));

    // Stay writable while primaries are down: fallbacks take the write and hand it back later.
    ns.set(key, "v3").consistency(Consistency::Eventual).await?;
    println!("SET with EVENTUAL (sloppy): accepted by any reachable node");

    // Linearizable read and write.
    ns.set(key, "v4").consistency(Consistency::Strong).await?;
    let strong = ns.get(key).consistency(Consistency::Strong).await?;
    println!("STRONG write then read: {:?}", text(strong.value()?));

    // A short timeout: the node gives up on slow replicas after 50 ms; what failed says
    // whether it may have been applied.
    match ns
        .incr("example:hits", 1)
        .consistency(Consistency::All)
        .timeout(Duration::from_millis(50))
        .await
    {
        Ok(n) => println!("INCR with ALL within 50 ms -> {n}"),
        Err(e) if e.kind() == Some(ErrorKind::Unavailable) => {
            println!("INCR refused, nothing applied: {e}")
        }
        Err(e) if e.is_indeterminate() => println!("INCR may or may not have counted: {e}"),
        Err(e) => return Err(e),
    }

    // Contradicting options are refused before anything is sent.
    let refused = ns.get(key).consistency(Consistency::One).r(2).await;
    println!("a preset plus R=2 is refused locally: {}", refused.is_err());
    Ok(())
}

fn text(value: Option<&Bytes>) -> Option<String> {
    value.map(|v| String::from_utf8_lossy(v).into_owned())
}
