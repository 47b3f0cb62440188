//! The RESP listener and the per-connection loop.
//!
//! Each accepted connection gets a task (owned by the listener; bounded by the
//! `max_connections` semaphore) that reads into a buffer, parses every complete command
//! (pipelining), dispatches them in order — data commands start at once and run concurrently —
//! then writes the replies in order and reads again. A protocol error answers `-ERR Protocol
//! error: ...` and closes only that connection; an oversized declared length is refused at its
//! header, before anything is allocated for it.
//!
//! Ordering: commands of one connection on the same key take effect in order (a command waits
//! for earlier pending commands that share a key with it); commands on different keys in one
//! pipeline run concurrently, so another client may see them applied in a different order.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kvorum_resp::{parse_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::commands::{dispatch, keys_of, Ctx, Outcome};
use crate::session::Shared;

pub struct ListenerLimits {
    pub resp: Limits,
    pub max_connections: usize,
    pub max_query_buffer_bytes: usize,
    pub max_pipeline: usize,
}

/// Accepts RESP connections until shutdown. Connection tasks end when their client leaves or at
/// shutdown.
pub async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("task", name = "resp-listener");
    let _enter = span.enter();
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
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "refusing connection: max_connections reached");
                    let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let (shared, limits, shutdown) = (shared.clone(), limits.clone(), shutdown.clone());
                connections.spawn(async move {
                    shared.connected_clients.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = serve(socket, &shared, &limits, shutdown).await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    shared.connected_clients.fetch_sub(1, Ordering::Relaxed);
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.shutdown().await;
}

async fn serve(
    mut socket: TcpStream,
    shared: &Shared,
    limits: &ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut session = shared.new_session();
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut pending: VecDeque<Outcome> = VecDeque::new();
    let mut pending_keys: HashSet<Bytes> = HashSet::new();
    loop {
        // Parse and dispatch every complete command (up to the pipeline limit).
        let mut protocol_error = None;
        let mut more_buffered = false;
        while !session.closing {
            if pending.len() >= limits.max_pipeline {
                more_buffered = true;
                break;
            }
            match parse_command(&mut input, &limits.resp) {
                Ok(Some(args)) => {
                    if keys_of(&args).any(|k| pending_keys.contains(k)) {
                        settle(&mut pending, session.protocol, &mut output).await;
                        pending_keys.clear();
                    }
                    pending_keys.extend(keys_of(&args).cloned());
                    let mut ctx = Ctx::new(shared, &mut session);
                    pending.push_back(dispatch(&mut ctx, &args));
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
        settle(&mut pending, session.protocol, &mut output).await;
        pending_keys.clear();
        if let Some(e) = &protocol_error {
            e.to_frame().encode(session.protocol, &mut output);
        }
        if !output.is_empty() {
            socket.write_all(&output).await?;
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
            socket.write_all(&output).await?;
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
                if read? == 0 {
                    return Ok(());
                }
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Waits for every pending reply, in order, and encodes them.
async fn settle(
    pending: &mut VecDeque<Outcome>,
    protocol: kvorum_resp::Protocol,
    output: &mut BytesMut,
) {
    while let Some(outcome) = pending.pop_front() {
        let frame = match outcome {
            Outcome::Now(frame) => frame,
            Outcome::Later(future) => future.await,
        };
        frame.encode(protocol, output);
    }
}
