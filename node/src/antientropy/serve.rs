//! Answering peers' anti-entropy requests.
//!
//! Each request runs as its own task, at most `max_serving` at once (a request that finds no
//! free slot is answered "busy" at once, and its exchange tries again next round). Answers that
//! report or change state wait for this node's durability barrier first: a root a peer compares
//! against, or a merge it counts on, must survive this node crashing right after answering —
//! the tombstone purge relies on it.

use std::collections::BTreeSet;
use std::sync::Arc;

use kvorum_consistency::antientropy::{AeAnswer, AeRequest};
use kvorum_consistency::OpId;

use super::{local, Context};

/// The most keys one `Fetch`, `Merge` or `Purge` may carry, and the most records one `Keys`
/// page may read: a request over it is refused, not truncated.
pub const MAX_KEYS_PER_REQUEST: usize = 4096;

/// Answers one request from `from` (spawned by the dispatcher).
pub async fn serve(ctx: Arc<Context>, from: u64, op: OpId, request: AeRequest) {
    let Ok(_slot) = ctx.serving.clone().try_acquire_owned() else {
        ctx.rpc
            .answer(from, op, Err("busy: too many anti-entropy requests".into()));
        return;
    };
    let result = answer(&ctx, request).await;
    ctx.rpc.answer(from, op, result);
}

async fn answer(ctx: &Arc<Context>, request: AeRequest) -> Result<AeAnswer, String> {
    let too_many = |n: usize| {
        (n > MAX_KEYS_PER_REQUEST).then(|| {
            format!(
                "{n} keys in one anti-entropy request, over the limit of {MAX_KEYS_PER_REQUEST}"
            )
        })
    };
    match request {
        AeRequest::Roots { ns, partitions } => {
            if partitions.len() > ctx.layout.partition_count() as usize {
                return Err("more partitions than the layout has".into());
            }
            durable(ctx).await?;
            Ok(AeAnswer::Roots(
                partitions.iter().map(|&p| ctx.trees.root(ns, p)).collect(),
            ))
        }
        AeRequest::Segments { ns, partition } => {
            durable(ctx).await?;
            Ok(AeAnswer::Segments(ctx.trees.segments(ns, partition)))
        }
        AeRequest::Keys {
            ns,
            partition,
            segments,
            after,
            limit,
        } => {
            let limit = (limit as usize).min(MAX_KEYS_PER_REQUEST);
            let segments: BTreeSet<u16> = segments.into_iter().collect();
            blocking(ctx, move |ctx| {
                local::keys(ctx, ns, partition, &segments, after.as_deref(), limit)
                    .map(|page| AeAnswer::Keys {
                        keys: page.keys,
                        next: page.next,
                    })
                    .map_err(|e| e.to_string())
            })
            .await
        }
        AeRequest::Fetch {
            ns,
            partition,
            keys,
        } => {
            if let Some(e) = too_many(keys.len()) {
                return Err(e);
            }
            blocking(ctx, move |ctx| {
                Ok(AeAnswer::Objects(local::fetch(ctx, ns, partition, keys)))
            })
            .await
        }
        AeRequest::Merge {
            ns,
            partition,
            objects,
        } => {
            if let Some(e) = too_many(objects.len()) {
                return Err(e);
            }
            let objects = objects
                .into_iter()
                .filter_map(|o| Some((o.key, o.object?)))
                .collect();
            let changed =
                blocking(ctx, move |ctx| local::merge(ctx, ns, partition, objects)).await?;
            durable(ctx).await?;
            Ok(AeAnswer::Merged { changed })
        }
        AeRequest::Hints { ns, partition } => {
            blocking(ctx, move |ctx| {
                local::holds_hints(ctx, ns, partition)
                    .map(|held| AeAnswer::Hints { held })
                    .map_err(|e| e.to_string())
            })
            .await
        }
        AeRequest::Purge {
            ns,
            partition,
            tombstones,
        } => {
            if let Some(e) = too_many(tombstones.len()) {
                return Err(e);
            }
            let removed = blocking(ctx, move |ctx| {
                local::purge(ctx, ns, partition, &tombstones).map_err(|e| e.to_string())
            })
            .await?;
            ctx.stats.tombstones_purged(u64::from(removed));
            Ok(AeAnswer::Purged { removed })
        }
    }
}

/// Waits until everything this node applied so far is on stable storage.
pub async fn durable(ctx: &Context) -> Result<(), String> {
    ctx.commit
        .durable()
        .await
        .map_err(|e| format!("fsync failed: {e}"))
}

/// Runs `f` on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    ctx: &Arc<Context>,
    f: impl FnOnce(&Context) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .unwrap_or_else(|e| Err(format!("anti-entropy task failed: {e}")))
}
