//! The RESP listener and the per-connection loop.
//!
//! Each accepted connection gets a task (owned by the listener; bounded by the
//! `max_connections` semaphore) that reads into a buffer, parses every complete command
//! (pipelining), dispatches them in order — data commands start at once and run concurrently —
//! then writes the replies in order and reads again. A protocol error answers `-ERR Protocol
//! error: ...` and closes only that connection; an oversized declared length is refused at its
//! header, before anything is allocated for it.
//!
//! Every command passes here on its way to [`dispatch`]: this is where a connection that has
//! not authenticated is refused ([`Session::auth_refusal`]), where the connection's state is
//! published for `CLIENT LIST` ([`Session::record`]), where `CLIENT REPLY OFF|SKIP` silences
//! replies, and where the `INFO` counters are kept. It is also where each command's latency is
//! measured for the metrics (`kvorum_request_duration_seconds`): from its dispatch until its
//! reply is ready to be written (replies of a pipeline are written in order, so a command
//! waiting behind a slower one counts that wait, as its client sees it), labelled with the
//! connection's namespace, the command's family, the consistency class it ran with and whether
//! it answered an error. A `CLIENT KILL` from another connection
//! wakes the task, which drops its unwritten replies and closes, as Redis does.
//!
//! Ordering: commands of one connection on the same key take effect in order (a command waits
//! for earlier pending commands that share a key with it); commands on different keys in one
//! pipeline run concurrently, so another client may see them applied in a different order.

use std::collections::{HashSet, VecDeque};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kvorum_resp::{CommandDecoder, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::commands::{dispatch_spec, keys_of_spec, lookup, CommandSpec, Ctx, Outcome};
use crate::metrics::{self, Metrics, RequestLabels};
use crate::session::{Session, Shared, Stats};

pub struct ListenerLimits {
    pub resp: Limits,
    pub max_connections: usize,
    pub max_query_buffer_bytes: usize,
    pub max_pipeline: usize,
}

/// Accepts RESP connections until shutdown. Connection tasks end when their client leaves, is
/// killed (`CLIENT KILL`), or at shutdown.
pub async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut socket, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                shared.stats.connections_received.fetch_add(1, Ordering::Relaxed);
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "refusing connection: max_connections reached");
                    shared.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
                    let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let local = socket.local_addr().unwrap_or_else(|_| {
                    listener.local_addr().unwrap_or(peer)
                });
                // Registered here, so a client sees itself in CLIENT LIST from its first command.
                let session = shared.new_session(peer, local, i64::from(socket.as_raw_fd()));
                let (shared, limits, shutdown) = (shared.clone(), limits.clone(), shutdown.clone());
                connections.spawn(async move {
                    if let Err(e) = serve(socket, &shared, session, &limits, shutdown).await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.shutdown().await;
}

/// A reply to come, whether it is sent (`CLIENT REPLY OFF|SKIP` silence some), and the
/// command's metric labels and dispatch time.
type Pending = VecDeque<(Outcome, bool, RequestLabels, Instant)>;

/// The metric labels of a command about to run on this session: for `WITH ... -- command`,
/// the wrapped command's family and the `WITH` consistency over the connection's.
fn labels(
    shared: &Shared,
    session: &Session,
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> RequestLabels {
    let mut family = spec.map_or(metrics::OTHER_FAMILY, |s| metrics::family_of(s.name));
    let mut consistency = session.consistency.clone();
    if spec.is_some_and(|s| s.name == "with") {
        if let Some(split) = args.iter().position(|a| a.as_ref() == b"--") {
            let words: Option<Vec<&str>> = args
                .get(1..split)
                .unwrap_or_default()
                .iter()
                .map(|w| std::str::from_utf8(w).ok())
                .collect();
            if let Some(with) = words.and_then(|w| kvorum_consistency::Spec::parse(&w).ok()) {
                consistency = with.or(&consistency);
            }
            family = args
                .get(split + 1)
                .and_then(|name| lookup(name))
                .map_or(metrics::OTHER_FAMILY, |s| metrics::family_of(s.name));
        }
    }
    let consistency = if metrics::is_local_family(family) {
        metrics::NO_CONSISTENCY
    } else {
        // Labelled like the request runs: over its own namespace's default.
        let default = shared
            .catalog
            .policy_of(session.namespace)
            .map_or_else(|_| shared.policy.default.clone(), |p| p.default);
        metrics::consistency_class(&consistency.or(&default))
    };
    RequestLabels {
        ns: session.namespace.0,
        family,
        consistency,
    }
}

async fn serve(
    mut socket: TcpStream,
    shared: &Shared,
    mut session: Session,
    limits: &ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let client = session.client.clone();
    let stats = &shared.stats;
    let metrics = shared.driver.metrics().as_ref();
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut pending: Pending = VecDeque::new();
    let mut pending_keys: HashSet<Bytes> = HashSet::new();
    // One decoder per connection: a command arriving in pieces is not re-parsed from its start.
    let mut decoder = CommandDecoder::new(limits.resp);
    loop {
        // Parse and dispatch every complete command (up to the pipeline limit).
        let mut protocol_error = None;
        let mut more_buffered = false;
        while !session.closing && !client.is_killed() {
            if pending.len() >= limits.max_pipeline {
                more_buffered = true;
                break;
            }
            match decoder.decode(&mut input) {
                Ok(Some(args)) => {
                    // Looked up once here; every use below takes this entry.
                    let spec = args.first().and_then(|name| lookup(name));
                    if !pending_keys.is_empty()
                        && keys_of_spec(spec, &args).any(|k| pending_keys.contains(k))
                    {
                        settle(&mut pending, session.protocol, &mut output, stats, metrics).await;
                        pending_keys.clear();
                    }
                    let (request_labels, started) =
                        (labels(shared, &session, spec, &args), Instant::now());
                    let outcome = match session.auth_refusal(spec, args.len()) {
                        Some(refusal) => {
                            if let Some(spec) = spec {
                                stats.command(spec, true);
                            }
                            Outcome::Now(refusal)
                        }
                        None => {
                            if let Some(spec) = spec {
                                stats.command(spec, false);
                            }
                            // Only a later command of this read batch can wait for these
                            // keys, and there is none when nothing more is buffered.
                            if !input.is_empty() {
                                pending_keys.extend(keys_of_spec(spec, &args).cloned());
                            }
                            let mut ctx = Ctx::new(shared, &mut session);
                            dispatch_spec(&mut ctx, spec, &args)
                        }
                    };
                    let send = session.reply.finish();
                    pending.push_back((outcome, send, request_labels, started));
                    session.record(spec, &args, input.len(), input.capacity() - input.len());
                }
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        // Replies in order. The protocol of each reply is the session's after all dispatched
        // commands, which only differs from Redis when HELLO is pipelined behind other commands.
        settle(&mut pending, session.protocol, &mut output, stats, metrics).await;
        pending_keys.clear();
        if client.is_killed() {
            return Ok(());
        }
        if let Some(e) = &protocol_error {
            e.to_frame().encode(session.protocol, &mut output);
        }
        if !output.is_empty() {
            write(&mut socket, &output, stats).await?;
            output.clear();
        }
        if protocol_error.is_some() || session.closing {
            return Ok(());
        }
        if input.len() > limits.max_query_buffer_bytes {
            let e = Frame::error(
                "ERR Protocol error: query buffer limit exceeded, closing the connection",
            );
            e.encode(session.protocol, &mut output);
            write(&mut socket, &output, stats).await?;
            return Ok(());
        }
        if more_buffered {
            continue;
        }
        if input.capacity() - input.len() < 4096 {
            input.reserve(16 * 1024);
        }
        tokio::select! {
            read = socket.read_buf(&mut input) => {
                let read = read?;
                if read == 0 {
                    return Ok(());
                }
                stats.reads_processed.fetch_add(1, Ordering::Relaxed);
                stats.net_input_bytes.fetch_add(read as u64, Ordering::Relaxed);
            }
            _ = client.killed() => return Ok(()),
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

async fn write(socket: &mut TcpStream, output: &[u8], stats: &Stats) -> std::io::Result<()> {
    socket.write_all(output).await?;
    stats.writes_processed.fetch_add(1, Ordering::Relaxed);
    stats
        .net_output_bytes
        .fetch_add(output.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// Waits for every pending reply, in order, records its latency, and encodes those that are
/// sent.
async fn settle(
    pending: &mut Pending,
    protocol: kvorum_resp::Protocol,
    output: &mut BytesMut,
    stats: &Stats,
    metrics: &Metrics,
) {
    while let Some((outcome, send, labels, started)) = pending.pop_front() {
        let frame = match outcome {
            Outcome::Now(frame) => frame,
            Outcome::Later(future) => future.await,
        };
        let error = matches!(frame, Frame::Error(_));
        metrics.record_request(labels, error, started.elapsed());
        if let Frame::Error(message) = &frame {
            stats.error_reply(message);
        }
        if send {
            frame.encode(protocol, output);
        }
    }
}
