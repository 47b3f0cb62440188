//! The `namespace-catalog` task: spreads this node's catalog and merges the peers'.
//!
//! It sends the whole catalog (small: at most [`kvorum_consistency::catalog::MAX_ENTRIES`]
//! entries) to every peer on each local or merged change and every sync interval
//! (`[namespaces] sync_interval_ms`, 2 s by default), so a
//! node that was down, paused or cut off catches up within one interval of being reachable
//! again. Catalogs from peers arrive from the replication driver on a bounded queue; when the
//! merged catalog still differs from the one received, the sender is missing something and gets
//! ours back at once. A send that fails (peer not connected, queue full) is simply retried at
//! the next interval.
//!
//! Owner: `crate::server::run`. Shutdown: the node's shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use kvorum_consistency::{Catalog, Message};
use tokio::sync::{mpsc, watch};

use super::NamespaceCatalog;
use crate::peer::Mesh;

/// Catalogs received from peers waiting to be merged; when full, the driver drops new ones
/// (the sender sends again within its sync interval).
pub const INCOMING_QUEUE: usize = 64;

pub struct SyncSettings {
    /// How often the catalog is sent to every peer even when nothing changed.
    pub interval: Duration,
    /// Every other node of the cluster.
    pub peers: Vec<u64>,
}

/// Runs until `shutdown` turns true.
pub async fn run_sync(
    catalog: Arc<NamespaceCatalog>,
    mesh: Mesh<Message>,
    mut incoming: mpsc::Receiver<(u64, Catalog)>,
    settings: SyncSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let send = |to: u64, snapshot: &Catalog| {
        let message = Message::Catalog {
            catalog: snapshot.clone(),
        };
        if let Err(e) = mesh.send(to, &message) {
            tracing::debug!(to, error = %e, "namespace catalog not sent");
        }
    };
    loop {
        tokio::select! {
            _ = catalog.changed.notified() => {
                let snapshot = catalog.snapshot();
                settings.peers.iter().for_each(|&p| send(p, &snapshot));
            }
            _ = tick.tick() => {
                let snapshot = catalog.snapshot();
                settings.peers.iter().for_each(|&p| send(p, &snapshot));
            }
            Some((from, theirs)) = incoming.recv() => {
                let merging = catalog.clone();
                let merged = tokio::task::spawn_blocking(move || {
                    merging.merge(&theirs).map(|_| {
                        let ours = merging.snapshot();
                        (ours.digest() != theirs.digest()).then_some(ours)
                    })
                })
                .await;
                match merged {
                    Ok(Ok(Some(ours))) => send(from, &ours),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::warn!(from, error = %e, "namespace catalog from a peer not merged"),
                    Err(e) => tracing::warn!(error = %e, "namespace catalog merge task failed"),
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    tracing::debug!("namespace catalog task stopped");
}
