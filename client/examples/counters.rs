//! Counters: increments from many tasks at once, none lost, none counted twice.
//!
//! ```text
//! cargo run -p kvorum-client --example counters -- [HOST:PORT] [--ca PATH] [--password P]
//! ```
//!
//! Counters are CRDTs: concurrent increments on different nodes all count. Each `incr` carries a
//! request id; if its reply is lost, the client re-sends it to the same node with the same id,
//! and the node answers the first attempt's result instead of counting it again. An `incr` that
//! fails with an indeterminate error ([`kvorum_client::Error::is_indeterminate`]) may or may not
//! have counted; the client never guesses.

mod common;

use std::process::ExitCode;

use kvorum_client::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    common::main_with(run).await
}

async fn run(client: Client) -> Result<(), Error> {
    let ns = client.namespace("default").await?;
    let key = "example:page-views";
    ns.delete(key).await?;

    let first = ns.incr(key, 1).await?;
    println!("incr {key} by 1 -> {first}");

    // 8 tasks, 25 increments each, all at once.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let ns = ns.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    ns.incr(key, 1).await?;
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| Error::InvalidRequest(format!("task failed: {e}")))??;
    }
    let total = ns.incr(key, 0).await?;
    println!("after 8 tasks x 25 increments: {total} (expected 201)");

    let after = ns.incr(key, -50).await?;
    println!("incr by -50 -> {after}");

    // A counter reads like a string, as over RESP.
    let read = ns.get(key).await?;
    let text = read
        .value()?
        .map(|v| String::from_utf8_lossy(v).into_owned());
    println!("get {key} -> {text:?}");
    Ok(())
}
