//! Hinted handoff: the background task that hands hints this node keeps to their targets.
//!
//! Every `hints.handoff_interval_ms`, for each target with a backlog that the failure detector
//! says is up, the task reads a batch of hints and sends each hint's state to the target through
//! the replication driver (`Work::Handoff`: a `Store` the target merges). A hint is deleted only
//! after the target acknowledged exactly the state that was sent (`HintStore::acknowledge`); a
//! hint that changed meanwhile, or was not acknowledged, stays for the next round.
//!
//! Owner: `server::run`. Bounded: one batch per target per round, `hints.handoff_batch` hints
//! in flight at most. Shutdown: the shutdown signal ends the loop between hints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kvorum_consistency::{record, Key, Message, Reply};
use kvorum_ring::{NamespaceId, NodeId};
use tokio::sync::watch;

use crate::driver::{DriverHandle, Work};
use crate::peer::Mesh;
use crate::storage::hints::{Hint, HintStore};
use crate::storage::keys;

/// Settings of the handoff task.
#[derive(Clone, Copy, Debug)]
pub struct HandoffSettings {
    pub interval: Duration,
    pub batch: usize,
    pub timeout_ms: u64,
}

/// What the task has done, for INFO and metrics (deliveries are counted by the hint store).
#[derive(Debug, Default)]
pub struct HandoffCounters {
    /// Hand-offs that were not acknowledged (the hint stays for the next round).
    pub failed: AtomicU64,
}

pub async fn run(
    hints: Arc<HintStore>,
    mesh: Mesh<Message>,
    driver: DriverHandle,
    settings: HandoffSettings,
    counters: Arc<HandoffCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        for backlog in hints.backlog() {
            if *shutdown.borrow() {
                return;
            }
            if !mesh.is_up(backlog.target) {
                continue;
            }
            let batch = match hints.pending(backlog.target, None, settings.batch) {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(target_node = backlog.target, error = %e, "cannot read hints");
                    continue;
                }
            };
            for hint in batch {
                let delivered = deliver(&hints, &driver, &hint, settings.timeout_ms).await;
                if !delivered {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    break; // the target is struggling: try again next round
                }
            }
        }
    }
}

/// Sends one hint; deletes it once the target acknowledged it. Returns whether it was delivered.
async fn deliver(hints: &HintStore, driver: &DriverHandle, hint: &Hint, timeout_ms: u64) -> bool {
    let (ns, _partition, key) = match keys::decode_data_key(&hint.data_key) {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(error = %e, "hint with a malformed key");
            return false;
        }
    };
    let object = match record::decode_object(&hint.record) {
        Ok(object) => object,
        Err(e) => {
            tracing::error!(error = %e, "hint with a corrupt record");
            return false;
        }
    };
    let work = Work::Handoff {
        target: NodeId(hint.target),
        key: Key {
            ns: NamespaceId(ns),
            key: key.to_vec(),
        },
        object,
        timeout_ms,
    };
    let reply = match driver.try_submit(work).await {
        Ok(rx) => rx.await.ok(),
        Err(_) => None,
    };
    if !matches!(reply, Some(Reply::Written { .. })) {
        return false;
    }
    match hints.acknowledge(hint.target, &hint.data_key, &hint.record) {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot delete a delivered hint");
            false
        }
    }
}
