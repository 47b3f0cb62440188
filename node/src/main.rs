//! `kvorum`: the kvorum server binary (`kvorum server`, `kvorum dev`, `kvorum cluster-config`,
//! `kvorum admin`).
//! The code lives in the `kvorum_node` library; see its crate docs for the layout.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kvorum_node::{admin_cli, cluster, config, dev, server};
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "kvorum",
    version,
    about = "A replicated key-value store that speaks the Redis protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node.
    Server {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a local cluster on loopback, one child process per node.
    Dev(dev::DevArgs),
    /// Write the configs and certificates of a cluster on other hosts, without starting it.
    ClusterConfig(cluster::ClusterConfigArgs),
    /// Ask running nodes about the cluster: status, ring, hints, key.
    Admin(admin_cli::AdminArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        // Writes files and exits: no runtime needed.
        Cmd::ClusterConfig(args) => cluster::run(args),
        // The config says how many runtime threads to start, so it is read first.
        Cmd::Server { config } => config::NodeConfig::load(&config)
            .map_err(anyhow::Error::from)
            .and_then(|config| runtime(config.runtime.threads())?.block_on(run_server(config))),
        // The supervisor of `kvorum dev` and the admin client do little work of their own.
        Cmd::Dev(args) => runtime(1).and_then(|rt| rt.block_on(dev::run(args))),
        Cmd::Admin(args) => runtime(1).and_then(|rt| rt.block_on(admin_cli::run(args))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvorum: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the runtime")
}

async fn run_server(config: config::NodeConfig) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if let Err(e) = kvorum_node::stop_signal().await {
            tracing::error!(error = %e, "cannot listen for signals");
        }
        stop_tx.send_replace(true);
    });
    server::run(config, stop_rx).await
}
