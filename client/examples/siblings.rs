//! Concurrent writes become siblings; a write with the read's context resolves them.
//!
//! ```text
//! cargo run -p kvorum-client --example siblings -- [HOST:PORT] [--ca PATH] [--password P]
//! ```
//!
//! Two writers both start from the same read (the same causal context) and write without seeing
//! each other, as two application servers racing would. kvorum keeps both values. The next read
//! shows both, with a context that covers both; the application merges them (here: the union
//! of two shopping carts) and writes the merge back *with that context*, which replaces exactly
//! the two siblings.

mod common;

use std::collections::BTreeSet;
use std::process::ExitCode;

use kvorum_client::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    common::main_with(run).await
}

async fn run(client: Client) -> Result<(), Error> {
    let ns = client.namespace("default").await?;
    let key = "example:cart";
    ns.delete(key).await?;

    // Both writers read the cart first: the same (empty) context.
    let start = ns.get(key).await?;
    let context = start.context().clone();
    ns.set(key, "apple,bread").context(&context).await?;
    ns.set(key, "apple,milk").context(&context).await?;
    println!("two writers each wrote their cart from the same read");

    let read = ns.get(key).await?;
    let carts: Vec<String> = read
        .live()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    println!("read: {} sibling(s): {carts:?}", read.values().len());
    match read.value() {
        Ok(_) => println!("(a CONFLICT lww namespace shows only the winner)"),
        Err(e) => println!("read.value() refuses to pick one: {e}"),
    }

    // Resolve: the union of every sibling, written with the context that covers them all.
    let merged: BTreeSet<&str> = carts.iter().flat_map(|c| c.split(',')).collect();
    let merged = merged.into_iter().collect::<Vec<_>>().join(",");
    ns.set(key, &merged).context(read.context()).await?;
    println!("wrote the merge {merged:?} with the read's context");

    let after = ns.get(key).await?;
    let value = after
        .value()?
        .map(|v| String::from_utf8_lossy(v).into_owned());
    println!("read after resolving: {value:?}");
    Ok(())
}
