//! Client configuration: [`ClientBuilder`], from seeds to a connected [`Client`].
//!
//! ```no_run
//! use std::time::Duration;
//! # async fn example() -> Result<(), kvorum_client::Error> {
//! let client = kvorum_client::Client::builder(["10.0.0.11:7379", "10.0.0.12:7379"])
//!     .ca_cert_pem("tls/ca.pem")
//!     .password("s3cret")
//!     .max_in_flight(512)
//!     .timeout(Duration::from_secs(2))
//!     .connect()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Every limit has a bound: requests in flight ([`ClientBuilder::max_in_flight`]), the size of a
//! frame, of a batch and of a scan page, the number of retries ([`RetryPolicy`]), and the time
//! of every request ([`ClientBuilder::timeout`]) and connection attempt.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kvorum_wire::native::DEFAULT_MAX_NATIVE_FRAME_BYTES;

use crate::client::Client;
use crate::error::Error;
use crate::retry::RetryPolicy;

/// Environment variable read for the CA certificate's path when none is configured.
pub const CA_CERT_ENV: &str = "KVORUM_CA_CERT";

/// The CA certificate of a `kvorum dev` cluster started in the current directory, used when no
/// CA is configured and [`CA_CERT_ENV`] is not set.
pub const DEV_CA_CERT: &str = "kvorum-data/tls/ca.pem";

/// PEM data, given inline or as a file to read at [`ClientBuilder::connect`].
///
/// Strings and paths name a file (`"tls/ca.pem"`); bytes are the PEM text itself
/// (`pem_text.as_bytes()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Pem {
    pub(crate) fn load(&self, what: &str) -> Result<Vec<u8>, Error> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|e| {
                Error::Config(format!("cannot read the {what} '{}': {e}", path.display()))
            }),
        }
    }
}

impl From<&str> for Pem {
    fn from(path: &str) -> Pem {
        Pem::File(path.into())
    }
}

impl From<String> for Pem {
    fn from(path: String) -> Pem {
        Pem::File(path.into())
    }
}

impl From<&Path> for Pem {
    fn from(path: &Path) -> Pem {
        Pem::File(path.to_owned())
    }
}

impl From<PathBuf> for Pem {
    fn from(path: PathBuf) -> Pem {
        Pem::File(path)
    }
}

impl From<&PathBuf> for Pem {
    fn from(path: &PathBuf) -> Pem {
        Pem::File(path.clone())
    }
}

impl From<Vec<u8>> for Pem {
    fn from(bytes: Vec<u8>) -> Pem {
        Pem::Bytes(bytes)
    }
}

impl From<&[u8]> for Pem {
    fn from(bytes: &[u8]) -> Pem {
        Pem::Bytes(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Pem {
    fn from(bytes: &[u8; N]) -> Pem {
        Pem::Bytes(bytes.to_vec())
    }
}

/// Everything a connected client was built with.
#[derive(Clone)]
pub(crate) struct Config {
    pub seeds: Vec<String>,
    pub ca: Option<Pem>,
    pub password: Option<String>,
    pub identity: Option<(Pem, Pem)>,
    pub client_name: Option<String>,
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub reply_grace: Duration,
    pub connect_timeout: Duration,
    pub keep_alive: Duration,
    pub idle_timeout: Duration,
    pub max_frame_bytes: usize,
    pub max_batch: usize,
    pub scan_page: u32,
    pub retry: RetryPolicy,
}

/// Never prints the password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("seeds", &self.seeds)
            .field("ca", &self.ca)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("identity", &self.identity.as_ref().map(|(c, _)| c))
            .field("client_name", &self.client_name)
            .field("max_in_flight", &self.max_in_flight)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]: `Client::builder(seeds)`, options, then [`ClientBuilder::connect`].
#[derive(Debug)]
#[must_use = "a builder does nothing until .connect().await"]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    pub(crate) fn new<I, S>(seeds: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        ClientBuilder {
            config: Config {
                seeds: seeds.into_iter().map(|s| s.to_string()).collect(),
                ca: None,
                password: None,
                identity: None,
                client_name: None,
                max_in_flight: 1024,
                timeout: Duration::from_secs(10),
                reply_grace: Duration::from_millis(500),
                connect_timeout: Duration::from_secs(2),
                keep_alive: Duration::from_millis(500),
                idle_timeout: Duration::from_secs(3),
                max_frame_bytes: DEFAULT_MAX_NATIVE_FRAME_BYTES,
                max_batch: 128,
                scan_page: 256,
                retry: RetryPolicy::default(),
            },
        }
    }

    /// The cluster CA's certificate (PEM): a file path, or the PEM bytes. Nodes are trusted
    /// only if their certificate is signed by it and names the node dialled
    /// (`n{id}.kvorum.internal`). Without it, the path in [`CA_CERT_ENV`] is used, else
    /// [`DEV_CA_CERT`] if that file exists.
    pub fn ca_cert_pem(mut self, pem: impl Into<Pem>) -> Self {
        self.config.ca = Some(pem.into());
        self
    }

    /// The cluster's password (`[auth] requirepass`), sent in every connection's hello.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.config.password = Some(password.into());
        self
    }

    /// A client certificate and its private key (PEM), signed by the cluster CA: it
    /// authenticates the client as a password would.
    pub fn client_identity(mut self, cert: impl Into<Pem>, key: impl Into<Pem>) -> Self {
        self.config.identity = Some((cert.into(), key.into()));
        self
    }

    /// A name shown in the nodes' logs.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.client_name = Some(name.into());
        self
    }

    /// At most this many requests at once (default 1024); further calls wait for a slot
    /// (back-pressure). A batch or a scan page counts as one request.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n;
        self
    }

    /// The longest a call may take, retries included, when it sets no timeout of its own
    /// (default 10 s). Waiting for an in-flight slot counts too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Extra time the client waits beyond a request's own `.timeout(d)` (which the node honours)
    /// for the node's answer to arrive (default 500 ms).
    pub fn reply_grace(mut self, grace: Duration) -> Self {
        self.config.reply_grace = grace;
        self
    }

    /// The longest one connection attempt (QUIC and TLS handshake, hello) may take
    /// (default 2 s). A node that does not answer in time is skipped for this request, and
    /// later ones try it last until a background dial reaches it again.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How often an idle connection sends a keep-alive (default 500 ms) and after how long
    /// without any packet it is considered dead (default 3 s, as between nodes). The idle
    /// timeout bounds how long requests keep going to a node that died without closing its
    /// connections: a read sent there moves to another node when it expires; a write sent
    /// there is reported as indeterminate.
    pub fn keep_alive(mut self, interval: Duration, idle_timeout: Duration) -> Self {
        self.config.keep_alive = interval;
        self.config.idle_timeout = idle_timeout;
        self
    }

    /// The largest frame (request or reply) sent or accepted (default 16 MiB, the nodes'
    /// default).
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.config.max_frame_bytes = bytes;
        self
    }

    /// At most this many operations per batch request (default 128); larger `get_many` or
    /// `set_many` calls are split. Keep it at or below the nodes' `[native] max_batch`.
    pub fn max_batch(mut self, n: usize) -> Self {
        self.config.max_batch = n;
        self
    }

    /// Keys asked for per scan page (default 256; the node may cap it).
    pub fn scan_page(mut self, n: u32) -> Self {
        self.config.scan_page = n;
        self
    }

    /// Bounds of the automatic retries ([`RetryPolicy`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Checks the configuration, learns the topology from the first seed that answers and
    /// returns the connected client.
    pub async fn connect(self) -> Result<Client, Error> {
        let config = self.validated()?;
        Client::start(config).await
    }

    /// The configuration with its defaults filled in, or what is wrong with it.
    pub(crate) fn validated(mut self) -> Result<Config, Error> {
        let c = &mut self.config;
        if c.seeds.is_empty() {
            return Err(Error::Config("no seed address given".into()));
        }
        let checks = [
            (c.max_in_flight == 0, "max_in_flight must be at least 1"),
            (c.timeout.is_zero(), "timeout must be above zero"),
            (
                c.connect_timeout.is_zero(),
                "connect_timeout must be above zero",
            ),
            (c.max_batch == 0, "max_batch must be at least 1"),
            (c.scan_page == 0, "scan_page must be at least 1"),
            (
                c.max_frame_bytes < 1024,
                "max_frame_bytes must be at least 1024",
            ),
            (
                c.keep_alive.is_zero() || c.keep_alive >= c.idle_timeout,
                "keep_alive must be above zero and below the idle timeout",
            ),
        ];
        if let Some((_, reason)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::Config((*reason).into()));
        }
        // tokio's semaphore holds at most this many permits.
        c.max_in_flight = c.max_in_flight.min(tokio::sync::Semaphore::MAX_PERMITS);
        if c.ca.is_none() {
            c.ca = default_ca(std::env::var_os(CA_CERT_ENV).map(PathBuf::from));
        }
        if c.ca.is_none() {
            return Err(Error::Config(format!(
                "no CA certificate: call .ca_cert_pem(..) or set {CA_CERT_ENV} (a `kvorum dev` \
                 cluster's is {DEV_CA_CERT})"
            )));
        }
        Ok(self.config)
    }
}

/// The CA used when none is configured: the environment's, else the dev cluster's if present.
fn default_ca(from_env: Option<PathBuf>) -> Option<Pem> {
    from_env.map(Pem::File).or_else(|| {
        let dev = Path::new(DEV_CA_CERT);
        dev.exists().then(|| Pem::File(dev.to_owned()))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_paths_name_files_and_bytes_are_pem() {
        assert_eq!(Pem::from("a/ca.pem"), Pem::File("a/ca.pem".into()));
        assert_eq!(
            Pem::from(Path::new("b.pem")),
            Pem::File(PathBuf::from("b.pem"))
        );
        assert_eq!(Pem::from(b"-----BEGIN"), Pem::Bytes(b"-----BEGIN".to_vec()));
        let err = Pem::File("/nonexistent/ca.pem".into())
            .load("CA certificate")
            .unwrap_err();
        assert!(err.to_string().contains("nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let refuse = |b: ClientBuilder, what: &str| {
            let e = b.ca_cert_pem(b"pem").validated().unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        };
        refuse(ClientBuilder::new(Vec::<String>::new()), "no seed address");
        refuse(
            ClientBuilder::new(["h:1"]).max_in_flight(0),
            "max_in_flight",
        );
        refuse(ClientBuilder::new(["h:1"]).max_batch(0), "max_batch");
        refuse(
            ClientBuilder::new(["h:1"]).timeout(Duration::ZERO),
            "timeout",
        );
        refuse(
            ClientBuilder::new(["h:1"]).keep_alive(Duration::from_secs(5), Duration::from_secs(5)),
            "keep_alive",
        );
        let ok = ClientBuilder::new(["h:1"])
            .ca_cert_pem(b"pem")
            .max_in_flight(usize::MAX)
            .validated()
            .unwrap();
        assert_eq!(ok.max_in_flight, tokio::sync::Semaphore::MAX_PERMITS);
    }

    #[test]
    fn the_environment_names_the_ca_when_none_is_configured() {
        assert_eq!(
            default_ca(Some("env/ca.pem".into())),
            Some(Pem::File("env/ca.pem".into()))
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let b = ClientBuilder::new(["h:1"]).password("hunter2");
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
