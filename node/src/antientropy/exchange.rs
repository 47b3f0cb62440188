//! One exchange: this node and one peer bring the partitions of one namespace that they both
//! replicate to the same state (see [`kvorum_consistency::antientropy`] for the steps).
//!
//! The initiator does all the deciding: it compares roots, then segments, then the keys of the
//! differing segments, pulls the peer's state of every key that differs, merges it into its
//! own, and pushes the merged state back. Both replicas then hold the join of their states
//! (objects merge as CRDTs, so the order of the two merges does not matter, and a key written
//! meanwhile simply differs again next round).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kvorum_consistency::antientropy::{differing_segments, AeAnswer, AeRequest, KeyHash};
use kvorum_ring::{NamespaceId, NodeId, PartitionId};

use super::pace::Pacer;
use super::rpc::AeError;
use super::serve::{blocking, durable};
use super::{local, Context, RoundReport};

/// Exchanges `partitions` of `ns` with `peer`. Returns the partitions found (or left) in sync:
/// equal roots at the end of their exchange. A peer that stops answering ends the exchange
/// with an error; a failure confined to one partition is reported and the next one goes on.
pub async fn with_peer(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    peer: NodeId,
    ns: NamespaceId,
    partitions: &[PartitionId],
    report: &mut RoundReport,
) -> Result<Vec<PartitionId>, AeError> {
    let theirs = roots(ctx, peer, ns, partitions).await?;
    let mut in_sync = Vec::new();
    for (&partition, their_root) in partitions.iter().zip(theirs) {
        report.partitions_compared += 1;
        if ctx.trees.root(ns, partition) == their_root {
            in_sync.push(partition);
            continue;
        }
        report.partitions_differing += 1;
        match sync_partition(ctx, pacer, peer, ns, partition, report).await {
            Ok(()) => {}
            Err(e @ (AeError::Send { .. } | AeError::Timeout { .. } | AeError::Stopped)) => {
                return Err(e)
            }
            Err(e) => {
                report.error(format!("{ns:?} partition {}: {e}", partition.0));
                continue;
            }
        }
        let after = roots(ctx, peer, ns, &[partition]).await?;
        if after.first() == Some(&ctx.trees.root(ns, partition)) {
            in_sync.push(partition);
        }
    }
    Ok(in_sync)
}

/// The peer's roots of `partitions`, one per partition.
async fn roots(
    ctx: &Context,
    peer: NodeId,
    ns: NamespaceId,
    partitions: &[PartitionId],
) -> Result<Vec<u64>, AeError> {
    let request = AeRequest::Roots {
        ns,
        partitions: partitions.to_vec(),
    };
    match ctx.rpc.call(peer, request, ctx.settings.timeout).await? {
        AeAnswer::Roots(r) if r.len() == partitions.len() => Ok(r),
        other => Err(unexpected(peer, "Roots", &other)),
    }
}

fn unexpected(peer: NodeId, asked: &'static str, answer: &AeAnswer) -> AeError {
    let answer = format!("{answer:?}");
    AeError::Unexpected {
        peer: peer.0,
        asked,
        answer: answer.chars().take(80).collect(),
    }
}

/// Brings one partition to the join of both replicas' states.
async fn sync_partition(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    peer: NodeId,
    ns: NamespaceId,
    partition: PartitionId,
    report: &mut RoundReport,
) -> Result<(), AeError> {
    let request = AeRequest::Segments { ns, partition };
    let their_segments = match ctx.rpc.call(peer, request, ctx.settings.timeout).await? {
        AeAnswer::Segments(s) => s,
        other => return Err(unexpected(peer, "Segments", &other)),
    };
    let segments = differing_segments(&ctx.trees.segments(ns, partition), &their_segments);
    if segments.is_empty() {
        return Ok(()); // equal by now: a write landed on both meanwhile
    }
    let theirs = their_keys(ctx, pacer, peer, ns, partition, &segments).await?;
    let ours = our_keys(ctx, pacer, ns, partition, segments).await?;
    let differing: Vec<Vec<u8>> = theirs
        .keys()
        .chain(ours.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| theirs.get(*k) != ours.get(*k))
        .cloned()
        .collect();
    for chunk in differing.chunks(ctx.settings.batch_keys.max(1)) {
        pacer.take(2 * chunk.len() as u64).await;
        let pull: Vec<Vec<u8>> = chunk
            .iter()
            .filter(|k| theirs.contains_key(*k))
            .cloned()
            .collect();
        if !pull.is_empty() {
            let fetched = match ctx
                .rpc
                .call(
                    peer,
                    AeRequest::Fetch {
                        ns,
                        partition,
                        keys: pull,
                    },
                    ctx.settings.timeout,
                )
                .await?
            {
                AeAnswer::Objects(objects) => objects,
                other => return Err(unexpected(peer, "Fetch", &other)),
            };
            let objects: Vec<_> = fetched
                .into_iter()
                .filter_map(|o| Some((o.key, o.object?)))
                .collect();
            let changed = blocking(ctx, move |ctx| local::merge(ctx, ns, partition, objects))
                .await
                .map_err(AeError::Local)?;
            report.keys_pulled += u64::from(changed);
            ctx.stats.keys_pulled(u64::from(changed));
        }
        let keys = chunk.to_vec();
        let mine = blocking(ctx, move |ctx| Ok(local::fetch(ctx, ns, partition, keys)))
            .await
            .map_err(AeError::Local)?;
        let objects: Vec<_> = mine.into_iter().filter(|o| o.object.is_some()).collect();
        if objects.is_empty() {
            continue;
        }
        let request = AeRequest::Merge {
            ns,
            partition,
            objects,
        };
        match ctx.rpc.call(peer, request, ctx.settings.timeout).await? {
            AeAnswer::Merged { changed } => {
                report.keys_pushed += u64::from(changed);
                ctx.stats.keys_pushed(u64::from(changed));
            }
            other => return Err(unexpected(peer, "Merge", &other)),
        }
    }
    durable(ctx).await.map_err(AeError::Local)
}

type KeyHashes = BTreeMap<Vec<u8>, u64>;

/// The peer's `(key, record hash)` of the keys in `segments`, page by page.
async fn their_keys(
    ctx: &Context,
    pacer: &mut Pacer,
    peer: NodeId,
    ns: NamespaceId,
    partition: PartitionId,
    segments: &[u16],
) -> Result<KeyHashes, AeError> {
    let mut keys = KeyHashes::new();
    let mut after = None;
    loop {
        let request = AeRequest::Keys {
            ns,
            partition,
            segments: segments.to_vec(),
            after: after.clone(),
            limit: ctx.settings.scan_page,
        };
        match ctx.rpc.call(peer, request, ctx.settings.timeout).await? {
            AeAnswer::Keys { keys: page, next } => {
                pacer.take(1 + Pacer::records(page.len() as u64)).await;
                keys.extend(page.into_iter().map(|KeyHash { key, hash }| (key, hash)));
                match next {
                    // Pages must move forward, or a confused peer would keep us here forever.
                    Some(next) if after.as_ref().is_some_and(|a| next <= *a) => {
                        return Err(AeError::Peer {
                            peer: peer.0,
                            reason: "a key listing that does not move forward".into(),
                        })
                    }
                    Some(next) => after = Some(next),
                    None => return Ok(keys),
                }
            }
            other => return Err(unexpected(peer, "Keys", &other)),
        }
    }
}

/// This node's `(key, record hash)` of the keys in `segments`.
async fn our_keys(
    ctx: &Arc<Context>,
    pacer: &mut Pacer,
    ns: NamespaceId,
    partition: PartitionId,
    segments: Vec<u16>,
) -> Result<KeyHashes, AeError> {
    let segments: BTreeSet<u16> = segments.into_iter().collect();
    let mut keys = KeyHashes::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (segs, from, limit) = (
            segments.clone(),
            after.take(),
            ctx.settings.scan_page as usize,
        );
        let local::KeysPage {
            keys: page,
            next,
            read,
        } = blocking(ctx, move |ctx| {
            local::keys(ctx, ns, partition, &segs, from.as_deref(), limit)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(AeError::Local)?;
        pacer.take(1 + Pacer::records(read)).await;
        keys.extend(page.into_iter().map(|KeyHash { key, hash }| (key, hash)));
        match next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}
