//! What every example shares: its command line and the connection it makes.
//!
//! `[HOST:PORT] [--ca PATH] [--password P]`: a node's native (QUIC) address, by default the
//! first node of `kvorum dev` (127.0.0.1:7379), and the cluster CA, by default the one
//! `kvorum dev` writes (kvorum-data/tls/ca.pem).

use std::process::ExitCode;

use kvorum_client::Client;

/// The first node of `kvorum dev` (QUIC = its RESP port 6379 + 1000).
pub const DEFAULT_SEED: &str = "127.0.0.1:7379";

/// The command line of an example.
pub struct Args {
    pub seed: String,
    pub ca: String,
    pub password: Option<String>,
}

impl Args {
    /// Parses `std::env::args`; `Err` is the message to show.
    pub fn parse() -> Result<Args, String> {
        let mut args = Args {
            seed: DEFAULT_SEED.to_owned(),
            ca: kvorum_client::DEV_CA_CERT.to_owned(),
            password: None,
        };
        let mut words = std::env::args().skip(1);
        let mut seed_given = false;
        while let Some(word) = words.next() {
            match word.as_str() {
                "--ca" => args.ca = words.next().ok_or("--ca needs a path")?,
                "--password" => {
                    args.password = Some(words.next().ok_or("--password needs a value")?)
                }
                "-h" | "--help" => return Err(usage()),
                other if other.starts_with('-') => {
                    return Err(format!("unknown option {other}\n{}", usage()))
                }
                other if !seed_given => {
                    args.seed = other.to_owned();
                    seed_given = true;
                }
                other => return Err(format!("unexpected argument {other}\n{}", usage())),
            }
        }
        Ok(args)
    }

    /// Connects to the cluster these arguments name.
    pub async fn connect(&self) -> Result<Client, kvorum_client::Error> {
        let mut builder = Client::builder([self.seed.as_str()])
            .ca_cert_pem(self.ca.as_str())
            .client_name("kvorum-client example");
        if let Some(password) = &self.password {
            builder = builder.password(password.as_str());
        }
        builder.connect().await
    }
}

fn usage() -> String {
    format!(
        "usage: [HOST:PORT] [--ca PATH] [--password P]\n  HOST:PORT  a node's native (QUIC) \
         address (default {DEFAULT_SEED}, the first node of `kvorum dev`)\n  --ca PATH  the \
         cluster CA (default {})\n  --password P  the cluster's password, if it has one",
        kvorum_client::DEV_CA_CERT
    )
}

/// Runs an example's body and turns its outcome into the exit code, printing any error.
pub async fn main_with<F, Fut>(body: F) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), kvorum_client::Error>>,
{
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let client = match args.connect().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: cannot connect to {}: {e}", args.seed);
            eprintln!(
                "(is `kvorum dev` running? Pass a node's QUIC address and --ca if it is elsewhere.)"
            );
            return ExitCode::FAILURE;
        }
    };
    let outcome = body(client.clone()).await;
    client.close().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_indeterminate() {
                eprintln!("(the write may or may not have been applied)");
            }
            ExitCode::FAILURE
        }
    }
}
