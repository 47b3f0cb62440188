//! [`Client`]: the handle applications keep, cheap to clone and share between tasks.
//!
//! It owns the QUIC endpoint, one connection per node ([`crate::connection`]), the topology
//! ([`crate::topology`]) and the in-flight limit. Requests are made through
//! [`crate::Namespace`] handles.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvorum_ring::NodeId;
use kvorum_wire::native::{
    Body, Hello, NamespaceInfo, OpReply, OpRequest, Request, RequestId, Response,
    NATIVE_PROTOCOL_VERSION,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{ClientBuilder, Config};
use crate::connection::{body_name, Dialer, Failure, Links};
use crate::error::{Applied, Error};
use crate::execute::{self, Limits, Transport};
use crate::namespace::Namespace;
use crate::options::Options;
use crate::topology::{Topology, TopologyCell};

/// Fewest time between two topology refreshes triggered by replies, so a node that keeps
/// announcing an epoch it cannot serve does not make every reply cost a refresh.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// A connection to a kvorum cluster. Clones share everything (connections, topology, limits).
///
/// ```no_run
/// # async fn example() -> Result<(), kvorum_client::Error> {
/// let client = kvorum_client::Client::builder(["127.0.0.1:7379"])
///     .ca_cert_pem("kvorum-data/tls/ca.pem")
///     .connect()
///     .await?;
/// let sessions = client.namespace("default").await?;
/// sessions.set("user:42", "alice").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("epoch", &self.inner.topology.get().epoch())
            .field("nodes", &self.inner.topology.get().nodes().count())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client that will learn the cluster from `seeds` (`host:port` of any
    /// nodes' native (QUIC) addresses; one that answers is enough).
    pub fn builder<I, S>(seeds: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        ClientBuilder::new(seeds)
    }

    /// Connects with the defaults: the CA from `KVORUM_CA_CERT`, else a `kvorum dev` cluster's
    /// (`kvorum-data/tls/ca.pem`), no password.
    pub async fn connect<I, S>(seeds: I) -> Result<Client, Error>
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        ClientBuilder::new(seeds).connect().await
    }

    /// A handle on the namespace `name` (`"default"` always exists), with its id and
    /// replication factor, asked from the cluster.
    pub async fn namespace(&self, name: &str) -> Result<Namespace, Error> {
        let opts = Options::default();
        let request = Request::Namespace {
            name: name.to_owned(),
        };
        let (node, reply) = self.inner.call(&request, false, None, &opts).await?;
        match reply.body {
            Body::Namespace(info) => Ok(Namespace::new(self.inner.clone(), info)),
            other => Err(Error::Protocol {
                node,
                reason: format!("a {} reply to a namespace lookup", body_name(&other)),
                applied: Applied::No,
            }),
        }
    }

    /// The topology the client routes with now.
    pub fn topology(&self) -> Arc<Topology> {
        self.inner.topology.get()
    }

    /// Asks the cluster for its topology now and installs it if it is newer.
    pub async fn refresh_topology(&self) -> Result<Arc<Topology>, Error> {
        self.inner.refresh(None).await?;
        Ok(self.inner.topology.get())
    }

    /// Closes every connection; calls made afterwards fail with [`Error::Closed`]. Waits
    /// (briefly) for the nodes to acknowledge the close.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.permits.close();
        self.inner.links.close_all();
        let endpoint = self.inner.links.dialer().endpoint();
        endpoint.close(0u32.into(), b"client closed");
        let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    }

    /// Test hook: the replies of the next `n` operation or batch requests are dropped as if
    /// the connection had lost them, after the node answered.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn drop_next_replies(&self, n: u32) {
        self.inner.links.drop_next_replies(n);
    }

    pub(crate) async fn start(config: Config) -> Result<Client, Error> {
        let tls = crate::tls::client_config(&config)?;
        let deadline = Instant::now() + config.timeout;
        let mut attempts = Vec::new();
        let mut seeds = Vec::new();
        for seed in &config.seeds {
            match tokio::time::timeout_at(deadline.into(), tokio::net::lookup_host(seed.as_str()))
                .await
            {
                Ok(Ok(addrs)) => seeds.extend(addrs),
                Ok(Err(e)) => attempts.push(format!("{seed}: {e}")),
                Err(_) => attempts.push(format!("{seed}: name lookup timed out")),
            }
        }
        // One socket serves every node; its family is the seeds' (IPv4 unless all are IPv6).
        let bind: SocketAddr = if seeds.iter().any(SocketAddr::is_ipv4) || seeds.is_empty() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let mut endpoint = quinn::Endpoint::client(bind)
            .map_err(|e| Error::Config(format!("cannot open a UDP socket on {bind}: {e}")))?;
        endpoint.set_default_client_config(tls);
        let hello = Hello {
            protocol: NATIVE_PROTOCOL_VERSION,
            password: config.password.clone(),
            client_name: config.client_name.clone(),
        };
        let dialer = Dialer::new(
            endpoint,
            hello,
            config.connect_timeout,
            config.max_frame_bytes,
        );
        for addr in seeds {
            match learn_topology(&dialer, addr, deadline).await {
                Ok((node, conn, topology)) => {
                    let inner = Inner::new(config, Links::new(dialer), topology);
                    inner.links.adopt(node, addr, conn);
                    return Ok(Client { inner });
                }
                // Wrong credentials are the same everywhere: say so instead of "no seed".
                Err(e) if e.kind() == Some(kvorum_wire::native::ErrorKind::Auth) => {
                    dialer
                        .endpoint()
                        .close(0u32.into(), b"authentication failed");
                    return Err(e);
                }
                Err(e) => attempts.push(format!("{addr}: {e}")),
            }
        }
        dialer.endpoint().close(0u32.into(), b"no seed");
        Err(Error::NoSeed { attempts })
    }
}

/// Dials a seed and asks it for the topology.
async fn learn_topology(
    dialer: &Dialer,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<(NodeId, quinn::Connection, Topology), Error> {
    let (node, conn) = dialer.dial_seed(addr, deadline).await?;
    let reply = dialer
        .exchange_on(&conn, node, &Request::Topology, deadline)
        .await
        .map_err(|f| f.error)?;
    match reply.body {
        Body::Topology(t) => Ok((node, conn, Topology::from_wire(&t)?)),
        Body::Error(e) => Err(execute::server_error(node, &e)),
        other => Err(Error::Protocol {
            node,
            reason: format!("a {} reply to a topology request", body_name(&other)),
            applied: Applied::No,
        }),
    }
}

/// Everything a client's clones share.
pub(crate) struct Inner {
    me: Weak<Inner>,
    pub config: Config,
    pub links: Links,
    pub topology: TopologyCell,
    permits: Arc<Semaphore>,
    closed: AtomicBool,
    last_refresh: std::sync::Mutex<Option<Instant>>,
}

impl Inner {
    fn new(config: Config, links: Links, topology: Topology) -> Arc<Inner> {
        links.sync(&topology);
        Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            permits: Arc::new(Semaphore::new(config.max_in_flight)),
            config,
            links,
            topology: TopologyCell::new(topology),
            closed: AtomicBool::new(false),
            last_refresh: std::sync::Mutex::new(None),
        })
    }

    /// The limits of a call with `opts`: its own timeout plus the reply grace, else the
    /// client's timeout.
    pub fn limits(&self, opts: &Options) -> Limits {
        let started = Instant::now();
        let budget = opts
            .timeout
            .map(|t| t + self.config.reply_grace)
            .unwrap_or(self.config.timeout);
        Limits {
            deadline: started + budget,
            started,
            policy: self.config.retry,
        }
    }

    /// Waits for an in-flight slot (bounded by the deadline).
    async fn permit(&self, limits: &Limits) -> Result<OwnedSemaphorePermit, Error> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        match tokio::time::timeout_at(limits.deadline.into(), self.permits.clone().acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout {
                after: limits.started.elapsed(),
                applied: Applied::No,
            }),
        }
    }

    /// Sends a request concerning no single key (or, with `candidates`, to those nodes) and
    /// returns the reply.
    pub async fn call(
        &self,
        request: &Request,
        write: bool,
        candidates: Option<Vec<NodeId>>,
        opts: &Options,
    ) -> Result<(NodeId, Response), Error> {
        let limits = self.limits(opts);
        let _permit = self.permit(&limits).await?;
        let mut nodes = candidates.unwrap_or_else(|| self.topology.get().all_nodes());
        self.order(&mut nodes);
        execute::run(self, request, write, &nodes, &limits).await
    }

    /// Runs one operation on a key, routed to the key's first reachable primary.
    pub async fn op(
        &self,
        ns: &NamespaceInfo,
        request: OpRequest,
        opts: &Options,
    ) -> Result<(NodeId, OpReply), Error> {
        let nodes = self.preference(ns, &request.key)?;
        let write = request.op.is_write();
        let (node, reply) = self
            .call(&Request::Op(request), write, Some(nodes), opts)
            .await?;
        match reply.body {
            Body::Op(Ok(answer)) => Ok((node, answer)),
            other => Err(Error::Protocol {
                node,
                reason: format!("a {} reply to an operation", body_name(&other)),
                applied: if write { Applied::Maybe } else { Applied::No },
            }),
        }
    }

    /// Runs many operations, one batch per node (module [`crate::execute`]).
    pub async fn batch(
        &self,
        ns: &NamespaceInfo,
        requests: Vec<OpRequest>,
        opts: &Options,
    ) -> Result<Vec<Result<(NodeId, OpReply), Error>>, Error> {
        let limits = self.limits(opts);
        let _permit = self.permit(&limits).await?;
        let mut routed = Vec::with_capacity(requests.len());
        for request in requests {
            let nodes = self.preference(ns, &request.key)?;
            routed.push((request, nodes));
        }
        Ok(execute::run_batch(self, routed, self.config.max_batch, &limits).await)
    }

    /// The nodes of a key's preference list, reachable ones first.
    fn preference(&self, ns: &NamespaceInfo, key: &Bytes) -> Result<Vec<NodeId>, Error> {
        let mut nodes = self.topology.get().preference(ns.id, key, ns.n)?;
        self.order(&mut nodes);
        Ok(nodes)
    }

    /// Orders candidate nodes reachable ones first, and dials suspect ones in the background
    /// so they are used again soon after they come back.
    fn order(&self, nodes: &mut [NodeId]) {
        let probes = self.links.order(nodes);
        if probes.is_empty() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let dialer = me.links.dialer();
            execute::join_all(probes.iter().map(|link| link.probe(dialer)).collect()).await;
        });
    }

    /// Fetches the topology (from `hint` first, then every other node) and installs it if it
    /// is newer.
    async fn refresh(&self, hint: Option<NodeId>) -> Result<(), Error> {
        let mut nodes = self.topology.get().all_nodes();
        self.order(&mut nodes);
        if let Some(hint) = hint {
            nodes.retain(|&n| n != hint);
            nodes.insert(0, hint);
        }
        let limits = self.limits(&Options::default());
        let (node, reply) = execute::run(self, &Request::Topology, false, &nodes, &limits).await?;
        match reply.body {
            Body::Topology(t) => {
                let topology = Topology::from_wire(&t)?;
                if self.topology.install(topology.clone()) {
                    self.links.sync(&topology);
                }
                Ok(())
            }
            other => Err(Error::Protocol {
                node,
                reason: format!("a {} reply to a topology request", body_name(&other)),
                applied: Applied::No,
            }),
        }
    }

    /// Starts a background refresh after `node` answered with a newer epoch (at most one at a
    /// time, at most one per [`REFRESH_INTERVAL`]).
    fn newer_epoch_seen(&self, node: NodeId) {
        {
            let mut last = self
                .last_refresh
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
                return;
            }
            if !self.topology.begin_refresh() {
                return;
            }
            *last = Some(Instant::now());
        }
        let Some(me) = self.me.upgrade() else {
            self.topology.end_refresh();
            return;
        };
        tokio::spawn(async move {
            // A failed refresh is retried by the next reply that shows the newer epoch.
            let _ = me.refresh(Some(node)).await;
            me.topology.end_refresh();
        });
    }
}

impl Transport for Inner {
    async fn exchange(
        &self,
        node: NodeId,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response, Failure> {
        let reply = self.links.exchange(node, request, deadline).await?;
        if self.topology.is_stale(reply.epoch) {
            self.newer_epoch_seen(node);
        }
        Ok(reply)
    }
}

/// A fresh random request id: 128 bits, so two clients never pick the same one.
pub(crate) fn request_id() -> Result<RequestId, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Config(format!("no randomness for a request id: {e}")))?;
    Ok(RequestId(u128::from_le_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_differ() {
        let ids: std::collections::BTreeSet<RequestId> =
            (0..1000).filter_map(|_| request_id().ok()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
