//! `kvorum server`: one node, from its config to a clean stop.
//!
//! Start-up opens storage, checks the node's identity and the cluster layout against what the
//! data dir recorded, starts group commit, the peer mesh, the replication driver, the RESP
//! listener, the native client protocol (on the peer endpoint) and the HTTP admin listener
//! (metrics, health). Every task is owned here and stops on the shutdown signal, in reverse order, ending
//! with a final fsync.

use std::sync::Arc;

use anyhow::{bail, Context};
use kvorum_consistency::{Core, CoreConfig};
use kvorum_ring::{Layout, NodeId};
use tokio::net::TcpListener;
use tokio::sync::watch;

use tracing::Instrument;

use crate::antientropy;
use crate::catalog::{self, CatalogSettings, NamespaceCatalog};
use crate::clock;
use crate::config::NodeConfig;
use crate::driver::{self, DriverParts};
use crate::expiry::{self, PurgeCounters, PurgeSettings};
use crate::handoff::{self, HandoffCounters, HandoffSettings};
use crate::http::{self, AdminLimits, AdminState};
use crate::listener::{self, ListenerLimits};
use crate::metrics::Metrics;
use crate::native::{self, Native, NativeLimits};
use crate::peer::{Mesh, NodeIdentity, PeerConfig, Service};
use crate::session::{NodeView, Shared};
use crate::storage::hints::{HintLimits, HintStore};
use crate::storage::sealed::SealedStorage;
use crate::storage::{Durability, GroupCommit, Storage};

/// Metadata records of the data dir.
/// Anti-entropy messages from peers waiting for the dispatcher.
const ANTIENTROPY_QUEUE: usize = 256;
const META_NODE_ID: &str = "node_id";
const META_LAYOUT: &str = "layout";
/// Version byte in front of every metadata record this module writes.
const META_VERSION: u8 = 1;

/// Runs a node until `shutdown` turns true.
pub async fn run(config: NodeConfig, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let node = NodeId(config.node_id);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let raw = crate::storage::engine::open(config.storage_engine, &config.data_dir)
        .with_context(|| format!("opening storage in {}", config.data_dir.display()))?;
    // Every record is sealed with a checksum, and every change reaches the anti-entropy trees;
    // the trees are built from the store before anything can write.
    let (corrupt_tx, corrupt_rx) = tokio::sync::mpsc::channel(antientropy::trees::CORRUPT_QUEUE);
    let trees = Arc::new(antientropy::Trees::new(corrupt_tx));
    let sealed = Arc::new(
        SealedStorage::new(raw.clone(), trees.clone()).context("checking stored records")?,
    );
    let counted = trees
        .build(raw.as_ref())
        .context("building the anti-entropy trees")?;
    tracing::debug!(records = counted, "anti-entropy trees built");
    let storage: Arc<dyn Storage> = sealed.clone();
    check_identity(storage.as_ref(), node)?;
    let layout = cluster_layout(&config)?;
    check_layout(storage.as_ref(), &layout)?;

    let hints = Arc::new(
        HintStore::open(
            storage.clone(),
            HintLimits {
                // Disabled: every hint is refused (and counted), so no sloppy write counts one.
                max_bytes: match config.hints.enabled {
                    true => config.hints.max_bytes,
                    false => 0,
                },
                max_age_ms: config.hints.max_age_ms,
            },
        )
        .context("reading the hints kept for other nodes")?,
    );

    let durability = config.durability().map_err(anyhow::Error::msg)?;
    let (commit, commit_task) = GroupCommit::start(storage.clone(), durability);
    let metrics = Arc::new(Metrics::new());
    metrics.attach(commit.clone(), storage.clone());

    let identity = NodeIdentity::load(config.node_id, &config.tls.node_dir, &config.tls.ca_cert)
        .context("loading the node certificate")?;
    let mut peer_config = PeerConfig::new(config.node_id, config.peer_listen);
    peer_config.peers = config.peers.iter().map(|p| (p.id, p.addr)).collect();
    peer_config.keep_alive_ms = config.peer.keep_alive_ms;
    peer_config.idle_timeout_ms = config.peer.idle_timeout_ms;
    peer_config.max_frame_bytes = config.peer.max_frame_bytes;
    peer_config.send_queue_len = config.peer.send_queue_len;
    peer_config.heartbeat_interval_ms = config.peer.heartbeat_interval_ms;
    peer_config.phi_threshold = config.peer.phi_threshold;
    peer_config.min_std_dev_ms = config.peer.min_std_dev_ms;
    peer_config.acceptable_pause_ms = config.peer.acceptable_pause_ms;
    peer_config.first_heartbeat_estimate_ms = config.peer.first_heartbeat_estimate_ms;
    peer_config.phi_window_len = config.peer.phi_window_len;
    // Native clients connect to the peer endpoint with their own ALPN; the mesh hands their
    // connections over, and the native server (started once the node can answer) takes them.
    let (native_tx, native_rx) = tokio::sync::mpsc::channel(native::CONNECTION_QUEUE);
    let services = match config.native.enabled {
        true => vec![Service {
            alpn: native::NATIVE_ALPN.to_vec(),
            // Native clients authenticate with the password (or a certificate, if they have one).
            anonymous: true,
            connections: native_tx,
        }],
        false => Vec::new(),
    };
    let (mesh, incoming) = Mesh::start_serving(peer_config, identity, shutdown.clone(), services)
        .await
        .context("starting the peer transport")?;
    let topology = native::topology_of(&config, mesh.local_addr())?;

    // Operation ids of this incarnation start at its start time in nanoseconds, so they never
    // repeat across restarts (peers may still hold answers meant for an earlier incarnation).
    let first_op_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let core = Core::new(
        CoreConfig {
            node,
            replication: config.replication_factor,
            first_op_id,
            // The driver reports an apply only after group commit's fsync when `fsync = always`.
            durable_writes: durability == Durability::Always,
        },
        layout,
    );
    // The namespace catalog, as this node last persisted it; peers' copies are merged in by the
    // sync task below.
    let catalog = Arc::new(
        NamespaceCatalog::load(
            storage.clone(),
            CatalogSettings {
                node,
                replication: config.replication_factor,
                max_replication: usize::from(core.layout().width()),
                databases: config.databases,
                max_namespaces: config.namespaces.max_namespaces,
                default_policy: config.policy().map_err(anyhow::Error::msg)?,
            },
        )
        .context("loading the namespace catalog")?,
    );
    let (catalogs_tx, catalogs_rx) = tokio::sync::mpsc::channel(catalog::sync::INCOMING_QUEUE);
    let (antientropy_tx, antientropy_rx) = tokio::sync::mpsc::channel(ANTIENTROPY_QUEUE);
    // Room for the message envelope around the object in a peer frame.
    let max_object_bytes = config.peer.max_frame_bytes.saturating_sub(64 * 1024);
    let (antientropy, antientropy_tasks) = antientropy::start(antientropy::Parts {
        node,
        layout: core.layout().clone(),
        catalog: catalog.clone(),
        sealed,
        trees,
        corrupt: corrupt_rx,
        commit: commit.clone(),
        metrics: metrics.clone(),
        max_object_bytes,
        databases: config.databases,
        settings: config.antientropy.settings(),
        mesh: mesh.clone(),
        incoming: antientropy_rx,
        shutdown: shutdown.clone(),
    });
    let (driver, driver_task) = driver::spawn(DriverParts {
        core,
        mesh: mesh.clone(),
        incoming,
        storage: storage.clone(),
        hints: hints.clone(),
        commit: commit.clone(),
        queue_len: config.limits.max_queued_requests,
        max_in_flight: config.limits.max_in_flight_requests,
        max_storage_tasks: config.limits.max_storage_tasks,
        inline_reads: config.runtime.inline_reads,
        max_object_bytes,
        metrics: metrics.clone(),
        catalogs: catalogs_tx,
        antientropy: antientropy_tx,
        shutdown: shutdown.clone(),
    })
    .context("starting the storage threads")?;

    let listener = TcpListener::bind(config.resp_listen)
        .await
        .with_context(|| format!("binding the RESP listener on {}", config.resp_listen))?;
    let admin_listener = match config.admin.enabled {
        true => Some(
            TcpListener::bind(config.admin.listen)
                .await
                .with_context(|| {
                    format!("binding the HTTP admin listener on {}", config.admin.listen)
                })?,
        ),
        false => None,
    };
    let handoff_driver = driver.clone();
    let handoff_counters = Arc::new(HandoffCounters::default());
    let purge_counters = Arc::new(PurgeCounters::default());
    let shared = Arc::new(Shared::new(
        node,
        driver,
        hints.clone(),
        handoff_counters.clone(),
        config.request_timeout_ms,
        config.policy().map_err(anyhow::Error::msg)?,
        catalog.clone(),
        config.limits.max_key_bytes,
        config.fsync.clone(),
        NodeView::from_config(
            &config,
            {
                let mesh = mesh.clone();
                Box::new(move || mesh.liveness())
            },
            {
                let storage = storage.clone();
                Arc::new(move |namespaces: &[kvorum_ring::NamespaceId]| {
                    crate::keyspace::count_local(storage.as_ref(), namespaces, clock::wall_ms())
                })
            },
            purge_counters.clone(),
            antientropy,
        ),
    ));
    let limits = ListenerLimits {
        resp: kvorum_resp::Limits {
            max_bulk_bytes: config.limits.max_bulk_bytes,
            max_array_len: config.limits.max_array_len,
            // One command may not be larger than the connection's whole buffer.
            max_query_bytes: config.limits.max_query_buffer_bytes,
            ..kvorum_resp::Limits::default()
        },
        max_connections: config.limits.max_connections,
        max_query_buffer_bytes: config.limits.max_query_buffer_bytes,
        max_pipeline: config.limits.max_pipeline,
    };
    let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    let admin_task = admin_listener.map(|admin_listener| {
        let state = Arc::new(AdminState {
            metrics: metrics.clone(),
            shared: shared.clone(),
        });
        let limits = AdminLimits {
            max_connections: config.admin.max_connections,
            max_request_bytes: config.admin.max_request_bytes,
            max_headers: config.admin.max_headers,
            request_timeout_ms: config.admin.request_timeout_ms,
        };
        tokio::spawn(
            http::run(admin_listener, state, limits, shutdown.clone())
                .instrument(tracing::info_span!("task", name = "admin-http")),
        )
    });
    let native_task = config.native.enabled.then(|| {
        let native = Arc::new(Native::new(
            shared.clone(),
            NativeLimits::from(&config.native),
            topology,
        ));
        tokio::spawn(
            native::run(native, native_rx, shutdown.clone())
                .instrument(tracing::info_span!("task", name = "native")),
        )
    });
    let listener_task = tokio::spawn(
        listener::run(listener, shared, limits, shutdown.clone())
            .instrument(tracing::info_span!("task", name = "resp-listener")),
    );
    let handoff_settings = HandoffSettings {
        interval: std::time::Duration::from_millis(config.hints.handoff_interval_ms),
        batch: config.hints.handoff_batch,
        timeout_ms: config.request_timeout_ms,
    };
    // Disabled hints are neither kept nor handed off: missed writes wait for anti-entropy.
    let handoff_task = config.hints.enabled.then(|| {
        tokio::spawn(
            handoff::run(
                hints.clone(),
                mesh.clone(),
                handoff_driver,
                handoff_settings,
                handoff_counters,
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("task", name = "hinted-handoff")),
        )
    });
    let purge_task = tokio::spawn(
        expiry::run(
            storage.clone(),
            PurgeSettings {
                interval: std::time::Duration::from_millis(config.expiry.purge_interval_ms),
                batch: config.expiry.purge_batch,
            },
            purge_counters,
            shutdown.clone(),
        )
        .instrument(tracing::info_span!("task", name = "expiry-purger")),
    );
    let catalog_task = tokio::spawn(
        catalog::run_sync(
            catalog.clone(),
            mesh.clone(),
            catalogs_rx,
            catalog::SyncSettings {
                interval: std::time::Duration::from_millis(config.namespaces.sync_interval_ms),
                peers: config.peers.iter().map(|p| p.id).collect(),
            },
            shutdown.clone(),
        )
        .instrument(tracing::info_span!("task", name = "namespace-catalog")),
    );
    let namespace_purge_task = tokio::spawn(
        catalog::run_purger(
            catalog,
            storage.clone(),
            catalog::PurgeSettings {
                interval: std::time::Duration::from_millis(config.expiry.purge_interval_ms),
                batch: config.expiry.purge_batch,
            },
            shutdown.clone(),
        )
        .instrument(tracing::info_span!("task", name = "namespace-purger")),
    );
    tracing::info!(
        node = %node,
        resp = %config.resp_listen,
        peer = %mesh.local_addr(),
        native = config.native.enabled,
        admin = %admin_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        fsync = %durability,
        "kvorum node ready"
    );

    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    tracing::info!(node = %node, "shutting down");
    let _ = listener_task.await;
    if let Some(task) = native_task {
        let _ = task.await;
    }
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    if let Some(task) = handoff_task {
        let _ = task.await;
    }
    for task in antientropy_tasks {
        let _ = task.await;
    }
    let _ = purge_task.await;
    let _ = catalog_task.await;
    let _ = namespace_purge_task.await;
    let _ = driver_task.await;
    mesh.shutdown().await;
    commit.shutdown().await.context("final fsync")?;
    let _ = commit_task.await;
    storage.sync().context("final sync")?;
    tracing::info!(node = %node, "stopped");
    Ok(())
}

/// The layout every node computes from the same configured membership.
pub(crate) fn cluster_layout(config: &NodeConfig) -> anyhow::Result<Layout> {
    let mut nodes: Vec<NodeId> = config.peers.iter().map(|p| NodeId(p.id)).collect();
    nodes.push(NodeId(config.node_id));
    nodes.sort();
    let width = u8::try_from(
        config
            .replication_factor
            .max(kvorum_ring::DEFAULT_WIDTH as usize),
    )
    .context("replication_factor is too large")?;
    Ok(Layout::initial(&nodes, config.partition_bits, width)?)
}

/// A data dir belongs to one node forever.
fn check_identity(storage: &dyn Storage, node: NodeId) -> anyhow::Result<()> {
    match storage.get_meta(META_NODE_ID)? {
        None => {
            let mut record = vec![META_VERSION];
            record.extend_from_slice(&node.0.to_be_bytes());
            storage.put_meta(META_NODE_ID, &record)?;
            storage.sync()?;
            Ok(())
        }
        Some(record) => {
            let stored = match record.as_slice() {
                [META_VERSION, rest @ ..] => rest.try_into().ok().map(u64::from_be_bytes),
                _ => None,
            };
            match stored {
                Some(id) if id == node.0 => Ok(()),
                Some(id) => bail!("this data dir belongs to node {id}, not to node {}", node.0),
                None => bail!("the node identity record of this data dir is corrupt"),
            }
        }
    }
}

/// Placement must not change under existing data until rebalancing exists: a node started with
/// another membership than its data was written under refuses to start.
fn check_layout(storage: &dyn Storage, layout: &Layout) -> anyhow::Result<()> {
    let mut encoded = vec![META_VERSION];
    encoded.extend(rmp_serde::to_vec(layout).context("encoding the layout")?);
    match storage.get_meta(META_LAYOUT)? {
        None => {
            storage.put_meta(META_LAYOUT, &encoded)?;
            storage.sync()?;
            Ok(())
        }
        Some(stored) if stored == encoded => Ok(()),
        Some(_) => bail!(
            "the cluster membership or partition count differs from the one this data dir was \
             written under; changing membership is not supported yet"
        ),
    }
}
