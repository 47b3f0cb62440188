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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use kvorum_consistency::{op, Object, Op, Timestamp, Ttl};
    use kvorum_ring::NodeId;

    use super::*;
    use crate::storage::MemStorage;

    fn ts(ms: u64) -> Timestamp {
        Timestamp {
            physical_ms: ms,
            logical: 0,
        }
    }

    fn store(storage: &MemStorage, key: &[u8], object: &Object) {
        let stored = keys::encode_data_key(0, 0, key);
        let bytes = record::encode_object(object).unwrap();
        storage
            .update(&stored, &mut |_| Ok(Some(bytes.clone())))
            .unwrap();
    }

    fn load(storage: &MemStorage, key: &[u8]) -> Object {
        let stored = keys::encode_data_key(0, 0, key);
        record::decode_object(&storage.get(&stored).unwrap().unwrap()).unwrap()
    }

    fn set(value: &str, ttl: Ttl) -> Object {
        let op = Op::Set {
            value: Bytes::from(value.to_owned()),
            condition: Default::default(),
            ttl,
            get: false,
        };
        op::apply(&op, &Object::new(), NodeId(1), ts(1_000))
            .unwrap()
            .object
    }

    #[test]
    fn expired_values_are_dropped_and_live_ones_kept() {
        let storage = MemStorage::new();
        store(&storage, b"gone", &set("old", Ttl::At(2_000)));
        store(&storage, b"later", &set("new", Ttl::At(9_000)));
        store(&storage, b"forever", &set("v", Ttl::Clear));
        let counters = PurgeCounters::default();

        let resume = purge_batch(&storage, None, 100, 5_000, &counters).unwrap();
        assert_eq!(resume, None, "the walk reached the end");
        assert_eq!(counters.purged.load(Ordering::Relaxed), 1);
        let gone = load(&storage, b"gone");
        assert!(gone.siblings().is_empty(), "the value is gone");
        assert!(!gone.exists(5_000));
        // The causal context stays, so a replica still holding the value drops it on merge.
        assert!(gone
            .merge(&set("old", Ttl::At(2_000)))
            .siblings()
            .is_empty());
        assert_eq!(load(&storage, b"later").value().unwrap(), "new");
        assert_eq!(load(&storage, b"forever").value().unwrap(), "v");

        // A second pass finds nothing more to do.
        purge_batch(&storage, None, 100, 5_000, &counters).unwrap();
        assert_eq!(counters.purged.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_walk_resumes_where_its_batch_ended() {
        let storage = MemStorage::new();
        for i in 0..5 {
            store(
                &storage,
                format!("k{i}").as_bytes(),
                &set("v", Ttl::At(2_000)),
            );
        }
        let counters = PurgeCounters::default();
        let mut resume = None;
        let mut passes = 0;
        loop {
            resume = purge_batch(&storage, resume, 2, 5_000, &counters).unwrap();
            passes += 1;
            if resume.is_none() {
                break;
            }
        }
        assert_eq!(passes, 3);
        assert_eq!(counters.purged.load(Ordering::Relaxed), 5);
    }
}
