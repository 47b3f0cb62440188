//! Keyspace commands: SCAN, KEYS, DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL.
//!
//! They walk the keyspace page by page in key-hash order (see [`crate::keyspace`]): a `SCAN`
//! cursor is the hash to resume at, so it works through any node and stays valid across calls
//! and layout-independent. Every key that exists for the whole iteration is returned at least
//! once; keys created or deleted meanwhile may or may not be. `KEYS`, `DBSIZE` and `RANDOMKEY`
//! are full or partial walks, so they cost a round trip per run of partitions that share their
//! primaries (Redis keeps a counter;
//! a replicated store would have to agree on one).
//!
//! `FLUSHDB` deletes every key it lists, one versioned delete each, with the connection's
//! consistency: it is not atomic, and a key written concurrently may survive it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use bytes::Bytes;
use kvorum_consistency::catalog::DEFAULT_NAME;
use kvorum_consistency::{Command, KeyPage, Op, Reply};
use kvorum_resp::Frame;
use kvorum_ring::NamespaceId;

use super::pattern::glob_match;
use super::reply::combine_writes;
use super::{int_arg, is, spec, steps, syntax_error, CommandSpec, Ctx, Outcome, Submitter};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("scan", -2, &["readonly"], (0, 0, 0), scan),
    spec("keys", 2, &["readonly"], (0, 0, 0), keys),
    spec("dbsize", 1, &["readonly", "fast"], (0, 0, 0), dbsize),
    spec("randomkey", 1, &["readonly"], (0, 0, 0), randomkey),
    spec("flushdb", -1, &["write"], (0, 0, 0), flushdb),
    spec("flushall", -1, &["write"], (0, 0, 0), flushall),
];

/// Keys per page when a command walks the whole keyspace.
const WALK_PAGE: u32 = 5_000;

/// Partitions one `SCAN` call visits at most, so a call on a sparse keyspace stays short.
const SCAN_MAX_PAGES: usize = 64;

/// Deletes `FLUSHDB` keeps in flight.
const FLUSH_BATCH: usize = 256;

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let Some(cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
    else {
        return Frame::error("ERR invalid cursor").into();
    };
    let mut pattern: Option<Bytes> = None;
    let mut count = 10u32;
    let mut kind: Option<Bytes> = None;
    let mut rest = args[2..].iter();
    while let Some(option) = rest.next() {
        let Some(value) = rest.next() else {
            return syntax_error().into();
        };
        if is(option, "MATCH") {
            pattern = Some(value.clone());
        } else if is(option, "COUNT") {
            match int_arg(value) {
                Ok(c) if c >= 1 => count = c.min(i64::from(WALK_PAGE)) as u32,
                Ok(_) => return syntax_error().into(),
                Err(e) => return e.into(),
            }
        } else if is(option, "TYPE") {
            kind = Some(value.clone());
        } else {
            return syntax_error().into();
        }
    }
    steps(ctx, move |s| async move {
        let mut found = Vec::new();
        let mut next = Some(cursor);
        for _ in 0..SCAN_MAX_PAGES {
            let Some(from) = next else { break };
            let page = match s.list(from, count).await {
                Ok(page) => page,
                Err(e) => return list_error(e),
            };
            next = page.next;
            found.extend(page.keys.into_iter().filter(|k| {
                pattern.as_ref().is_none_or(|p| glob_match(p, &k.key))
                    && kind.as_ref().is_none_or(|t| is(t, k.kind.redis_type()))
            }));
            if found.len() >= count as usize {
                break;
            }
        }
        let cursor = next.unwrap_or(0).to_string();
        let keys = found.into_iter().map(|k| Frame::bulk(k.key)).collect();
        Frame::array(vec![Frame::bulk(cursor), Frame::array(keys)])
    })
}

/// `KEYS pattern`: every matching key (a whole walk; prefer `SCAN`).
pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let pattern = args[1].clone();
    steps(ctx, move |s| async move {
        let mut keys = Vec::new();
        let walked = walk(&s, |page| {
            keys.extend(
                page.keys
                    .into_iter()
                    .filter(|k| glob_match(&pattern, &k.key))
                    .map(|k| Frame::bulk(k.key)),
            );
        })
        .await;
        match walked {
            Ok(()) => Frame::array(keys),
            Err(e) => e,
        }
    })
}

pub fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    steps(ctx, move |s| async move {
        let mut count = 0i64;
        match walk(&s, |page| count += page.keys.len() as i64).await {
            Ok(()) => Frame::integer(count),
            Err(e) => e,
        }
    })
}

/// A random key: the first key at or after a random point of the hash ring.
pub fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    steps(ctx, move |s| async move {
        let start = RandomState::new().hash_one(std::time::Instant::now());
        for from in [start, 0] {
            let mut next = Some(from);
            while let Some(at) = next {
                let page = match s.list(at, 1).await {
                    Ok(page) => page,
                    Err(e) => return list_error(e),
                };
                if let Some(key) = page.keys.into_iter().next() {
                    return Frame::bulk(key.key);
                }
                next = page.next;
            }
        }
        Frame::null()
    })
}

/// `FLUSHDB [ASYNC | SYNC]`: both wait for the deletes.
pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if let Err(e) = flush_mode(args) {
        return e.into();
    }
    steps(ctx, move |s| async move {
        flush(&s).await.unwrap_or_else(|e| e)
    })
}

/// `FLUSHALL [ASYNC | SYNC]`: `FLUSHDB` of every keyspace: `default`, the bare databases, then
/// the created namespaces by name, each at the connection's consistency resolved against that namespace's policy (a
/// namespace whose floors refuse it refuses the whole command before anything is deleted).
pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if let Err(e) = flush_mode(args) {
        return e.into();
    }
    let catalog = ctx.shared.catalog.snapshot();
    // `default`, every bare database (its keys stay even while a namespace is mapped to its
    // index), then the created namespaces.
    let mut targets = vec![(DEFAULT_NAME.to_owned(), NamespaceId::DEFAULT)];
    targets.extend((1..ctx.shared.view.databases).map(|db| (format!("db{db}"), NamespaceId(db))));
    targets.extend(
        catalog
            .resolved()
            .iter()
            .filter(|r| r.usable && r.name != DEFAULT_NAME)
            .map(|r| (r.name.to_owned(), r.def.id)),
    );
    let spec = ctx.request_spec();
    let mut submitters = Vec::with_capacity(targets.len());
    for (name, ns) in targets {
        match ctx.submitter_in(ns, &spec) {
            Ok(s) => submitters.push((name, s)),
            Err(e) => {
                return Frame::error(format!(
                    "ERR FLUSHALL refused in namespace '{name}', nothing was deleted: {}",
                    frame_text(&e).trim_start_matches("ERR ")
                ))
                .into()
            }
        }
    }
    Outcome::Later(Box::pin(async move {
        let mut flushed: Vec<String> = Vec::new();
        for (name, s) in submitters {
            if let Err(e) = flush(&s).await {
                return if flushed.is_empty() {
                    e
                } else {
                    let done = format!("namespaces {} were flushed", flushed.join(", "));
                    partial("FLUSHALL", &done, &e)
                };
            }
            flushed.push(name);
        }
        Frame::ok()
    }))
}

fn flush_mode(args: &[Bytes]) -> Result<(), Frame> {
    match &args[1..] {
        [] => Ok(()),
        [mode] if is(mode, "ASYNC") || is(mode, "SYNC") => Ok(()),
        _ => Err(syntax_error()),
    }
}

async fn flush(s: &Submitter) -> Result<Frame, Frame> {
    let mut keys = Vec::new();
    walk(s, |page| {
        keys.extend(page.keys.into_iter().map(|k| Bytes::from(k.key)))
    })
    .await?;
    for (i, batch) in keys.chunks(FLUSH_BATCH).enumerate() {
        let deletes: Vec<_> = batch
            .iter()
            .map(|k| s.submit(k, Command::Write(Op::delete())))
            .collect();
        let mut replies: Vec<Reply> = Vec::with_capacity(deletes.len());
        for delete in deletes {
            replies.push(delete.await);
        }
        if let Some(e) = combine_writes("FLUSHDB", &replies, s.timeout_ms()) {
            // Earlier batches are deleted: say so rather than pass on "not applied".
            let done = format!("{} of {} keys were deleted", i * FLUSH_BATCH, keys.len());
            return Err(if i == 0 {
                e
            } else {
                partial("FLUSHDB", &done, &e)
            });
        }
    }
    Ok(Frame::ok())
}

/// The error of a walk that failed after some of its work was done.
fn partial(command: &str, done: &str, error: &Frame) -> Frame {
    let reason = frame_text(error);
    Frame::error(format!(
        "ERR {command} partially applied: {done}; then: {reason}"
    ))
}

/// An error frame's text.
fn frame_text(error: &Frame) -> String {
    error
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Every page of the namespace, in order.
async fn walk(s: &Submitter, mut visit: impl FnMut(KeyPage)) -> Result<(), Frame> {
    let mut next = Some(0);
    while let Some(from) = next {
        let page = s.list(from, WALK_PAGE).await.map_err(list_error)?;
        next = page.next;
        visit(page);
    }
    Ok(())
}

fn list_error(reason: String) -> Frame {
    if reason.starts_with("UNAVAILABLE") || reason.starts_with("TIMEOUT") {
        Frame::error(reason)
    } else {
        Frame::error(format!("ERR listing keys failed: {reason}"))
    }
}
