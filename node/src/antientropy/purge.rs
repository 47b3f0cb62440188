//! Tombstone purge: deleting the last trace of deleted keys, only when no replica can bring
//! them back.
//!
//! A deleted key is a tombstone (its context covers every version it deleted). Removing it from
//! one replica is safe only if no other copy of the key's older state can ever reach that
//! replica again: no replica still holding a live version, no hint carrying one, no message in
//! flight. The partition's *coordinating replica* (the lowest node id among its primaries, which
//! exchanges with every other primary each round) purges when all of these hold:
//!
//! 1. **Every replica holds it.** In this round, every other primary ended its exchange with a
//!    root equal to ours, after its state was durable: it holds exactly our records, this
//!    tombstone included.
//! 2. **No hint can carry an older state.** Every other node of the layout (the fallbacks that
//!    may keep hints for the partition) answered that it holds no hint of the partition.
//! 3. **Nothing older is in flight.** The tombstone was already a candidate, with the same record
//!    hash, in an earlier scheduled round in which 1 and 2 held: a write older than the tombstone
//!    has had at least one anti-entropy interval (far above any request timeout) to land. Only
//!    scheduled rounds purge, so that interval is real.
//!
//! Then every replica deletes the tombstone, each only if its record is still exactly that
//! tombstone (a key written meanwhile keeps its new state). A replica that misses the purge keeps
//! its tombstone, and the next exchange copies it back to the others: purging can be repeated,
//! never undone into a resurrection. There is no `gc_grace` timer to get wrong: a replica that is
//! down blocks the purge of its partitions until it is back and in sync.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kvorum_consistency::antientropy::{AeAnswer, AeRequest, KeyHash};
use kvorum_ring::{NamespaceId, NodeId, PartitionId};

use super::pace::Pacer;
use super::serve::blocking;
use super::{local, Context, RoundReport};
use crate::clock;

/// The tombstones seen in the previous round of each partition, by key: the purge candidates.
pub type Candidates = HashMap<(NamespaceId, PartitionId), BTreeMap<Vec<u8>, u64>>;

/// Purges what may be purged in one partition this node coordinates, all of whose other
/// `primaries` are in sync with it this round (condition 1, checked by the caller).
pub async fn partition(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    ns: NamespaceId,
    partition: PartitionId,
    primaries: &[NodeId],
    candidates: &mut Candidates,
    report: &mut RoundReport,
) {
    let id = (ns, partition);
    if !no_hints_anywhere(ctx, ns, partition, primaries).await {
        // Condition 2 failed: the candidates wait for a round in which it holds.
        report.purges_deferred += 1;
        return;
    }
    let max = ctx.settings.max_purge_per_partition;
    let now = clock::wall_ms();
    let Ok((current, read)) = blocking(ctx, move |ctx| {
        local::tombstones(ctx, ns, partition, now, max).map_err(|e| e.to_string())
    })
    .await
    else {
        return;
    };
    pacer.take(Pacer::records(read)).await;
    let previous = candidates.remove(&id).unwrap_or_default();
    let (ready, waiting): (Vec<KeyHash>, Vec<KeyHash>) = current
        .into_iter()
        .partition(|t| previous.get(&t.key) == Some(&t.hash));
    if !waiting.is_empty() {
        candidates.insert(id, waiting.into_iter().map(|t| (t.key, t.hash)).collect());
    }
    for chunk in ready.chunks(ctx.settings.batch_keys.max(1)) {
        pacer.take(chunk.len() as u64).await;
        for &peer in primaries.iter().filter(|&&p| p != ctx.node) {
            let request = AeRequest::Purge {
                ns,
                partition,
                tombstones: chunk.to_vec(),
            };
            if let Err(e) = ctx.rpc.call(peer, request, ctx.settings.timeout).await {
                // It keeps its tombstones, and hands them back to us next round: safe.
                report.error(format!("purge on node {}: {e}", peer.0));
            }
        }
        let tombstones = chunk.to_vec();
        match blocking(ctx, move |ctx| {
            local::purge(ctx, ns, partition, &tombstones).map_err(|e| e.to_string())
        })
        .await
        {
            Ok(removed) => {
                report.tombstones_purged += u64::from(removed);
                ctx.stats.tombstones_purged(u64::from(removed));
            }
            Err(e) => report.error(format!("local purge: {e}")),
        }
    }
}

/// Condition 2: every node of the layout outside `primaries` answered that it keeps no hint of
/// the partition.
async fn no_hints_anywhere(
    ctx: &Context,
    ns: NamespaceId,
    partition: PartitionId,
    primaries: &[NodeId],
) -> bool {
    for &node in ctx.layout.nodes().iter().filter(|n| !primaries.contains(n)) {
        let request = AeRequest::Hints { ns, partition };
        match ctx.rpc.call(node, request, ctx.settings.timeout).await {
            Ok(AeAnswer::Hints { held: false }) => {}
            _ => return false,
        }
    }
    true
}
