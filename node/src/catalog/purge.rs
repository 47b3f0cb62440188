//! The `namespace-purger` task: deletes the data of namespaces that no longer exist.
//!
//! Every interval it asks the catalog for retired ids (dropped namespaces, and definitions that
//! lost to a concurrent `CREATE` of the same name) and deletes up to `batch` of their stored
//! keys, one namespace range after the other. Each node purges its own copy and sends nothing.
//! Because it keeps looking at every retired id, a write that reaches a dropped namespace late
//! (from a node that had not heard of the drop yet, or by handoff) is deleted again on a later
//! round. Deletions become durable with the node's next sync.
//!
//! Owner: `crate::server::run`. Shutdown: the node's shutdown signal (a batch in progress
//! finishes first).

use std::sync::Arc;
use std::time::Duration;

use kvorum_ring::NamespaceId;
use tokio::sync::watch;

use super::NamespaceCatalog;
use crate::storage::{namespace_prefix, Storage, StorageError};

pub struct PurgeSettings {
    pub interval: Duration,
    /// Keys deleted per round, at most.
    pub batch: usize,
}

/// Runs until `shutdown` turns true.
pub async fn run_purger(
    catalog: Arc<NamespaceCatalog>,
    storage: Arc<dyn Storage>,
    settings: PurgeSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let ids = catalog.retired_ids();
                if ids.is_empty() {
                    continue;
                }
                let storage = storage.clone();
                let batch = settings.batch;
                match tokio::task::spawn_blocking(move || purge_round(storage.as_ref(), &ids, batch)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(deleted)) => tracing::debug!(deleted, "purged keys of dropped namespaces"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "purging dropped namespaces failed"),
                    Err(e) => tracing::warn!(error = %e, "namespace purge task failed"),
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    tracing::debug!("namespace purger stopped");
}

/// Deletes up to `batch` stored keys of the namespaces `ids`; returns how many it deleted.
pub fn purge_round(
    storage: &dyn Storage,
    ids: &[NamespaceId],
    batch: usize,
) -> Result<usize, StorageError> {
    let mut deleted = 0;
    for id in ids {
        if deleted >= batch {
            break;
        }
        let rows = storage.scan_prefix(&namespace_prefix(id.0), None, batch - deleted)?;
        for (key, record) in rows {
            if storage.remove_if(&key, &record)? {
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::{encode_data_key, MemStorage};

    #[test]
    fn a_round_deletes_only_retired_namespaces_and_at_most_a_batch() {
        let storage = MemStorage::new();
        for i in 0..5u8 {
            for ns in [7u32, 8] {
                let key = encode_data_key(ns, 0, &[i]);
                storage.update(&key, &mut |_| Ok(Some(vec![1]))).unwrap();
            }
        }
        assert_eq!(purge_round(&storage, &[NamespaceId(7)], 3).unwrap(), 3);
        assert_eq!(purge_round(&storage, &[NamespaceId(7)], 3).unwrap(), 2);
        assert_eq!(purge_round(&storage, &[NamespaceId(7)], 3).unwrap(), 0);
        let left = storage
            .scan_prefix(&namespace_prefix(8), None, 100)
            .unwrap();
        assert_eq!(left.len(), 5, "other namespaces keep their data");
    }
}
