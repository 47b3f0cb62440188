//! The expiry purger: drops the data of expired keys from this node's storage.
//!
//! An expired key already reads as absent everywhere (reads check the TTL); purging reclaims
//! its space. The task walks this node's data keys in storage order, a bounded batch per tick,
//! resuming where it stopped, and replaces each expired object by [`Object::purged`]: the
//! values go, the causal context stays, so a replica that still holds the values drops them on
//! merge rather than bringing them back. Each replica purges its own copy; nothing is sent.
//!
//! Owner: [`crate::server`]. Shutdown: the shutdown signal ends the loop between batches.
//!
//! [`Object::purged`]: kvorum_consistency::Object::purged

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kvorum_consistency::record;
use tokio::sync::watch;

use crate::clock;
use crate::storage::{keys, Storage, StorageError};

/// How the purger paces itself.
#[derive(Clone, Copy, Debug)]
pub struct PurgeSettings {
    pub interval: Duration,
    /// Records examined per tick.
    pub batch: usize,
}

impl Default for PurgeSettings {
    fn default() -> Self {
        PurgeSettings {
            interval: Duration::from_millis(1_000),
            batch: 1_000,
        }
    }
}

/// What the purger has done, for `INFO`.
#[derive(Debug, Default)]
pub struct PurgeCounters {
    /// Expired objects whose data was dropped.
    pub purged: AtomicU64,
}

pub async fn run(
    storage: Arc<dyn Storage>,
    settings: PurgeSettings,
    counters: Arc<PurgeCounters>,
    mut shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("task", name = "expiry-purger");
    let _enter = span.enter();
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut resume: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (store, after) = (storage.clone(), resume.take());
        let counters = counters.clone();
        let batch = settings.batch;
        let pass = tokio::task::spawn_blocking(move || {
            purge_batch(store.as_ref(), after, batch, clock::wall_ms(), &counters)
        })
        .await;
        match pass {
            Ok(Ok(next)) => resume = next,
            Ok(Err(e)) => tracing::warn!(error = %e, "expiry purge pass failed"),
            Err(e) => tracing::warn!(error = %e, "expiry purge task failed"),
        }
    }
}

/// Examines up to `batch` data records after `after`; returns where to resume (`None`: the
/// walk reached the end and starts over).
pub fn purge_batch(
    storage: &dyn Storage,
    after: Option<Vec<u8>>,
    batch: usize,
    now_ms: u64,
    counters: &PurgeCounters,
) -> Result<Option<Vec<u8>>, StorageError> {
    let records = storage.scan_prefix(&[], after.as_deref(), batch)?;
    let Some((last, _)) = records.last() else {
        return Ok(None);
    };
    let resume = (records.len() == batch).then(|| last.clone());
    for (key, stored) in &records {
        if key.starts_with(&keys::HINT_NAMESPACE.to_be_bytes()) {
            continue; // hints are the handoff's
        }
        let Ok(object) = record::decode_object(stored) else {
            continue; // corruption is anti-entropy's to repair, not ours to touch
        };
        if object.purged(now_ms).is_none() {
            continue;
        }
        // Re-read inside the transaction: a write may have revived the key meanwhile.
        let mut purged = false;
        storage.update(key, &mut |current| {
            let Some(bytes) = current else {
                return Ok(None);
            };
            let Ok(object) = record::decode_object(bytes) else {
                return Ok(None);
            };
            purged = false;
            match object.purged(now_ms) {
                Some(next) => {
                    let encoded =
                        record::encode_object(&next).map_err(|e| StorageError::Corrupt {
                            what: format!("encoding a purged object: {e}"),
                        })?;
                    purged = true;
                    Ok(Some(encoded))
                }
                None => Ok(None),
            }
        })?;
        if purged {
            counters.purged.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(resume)
}
