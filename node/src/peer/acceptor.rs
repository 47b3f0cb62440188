//! The incoming half of the mesh: the accept loop and one reader task per incoming connection.
//!
//! The accept loop only hands each incoming connection to its own task, so a slow or hostile
//! handshake never holds up the others; at most `max_incoming` such tasks exist, further
//! connections are refused. Each task completes the QUIC/TLS handshake, dispatches on the
//! negotiated ALPN (only the peer protocol today; the native client protocol will get its own
//! arm), runs the hello exchange and then delivers the peer's messages, in order, to the mesh's
//! bounded receiver. A full receiver makes the reader wait, and QUIC flow control passes the wait
//! on to the sender.
//!
//! A peer has at most one incoming connection: a newer one (for example after the peer
//! restarted) replaces and closes the older.
//!
//! Any frame error closes the connection with a protocol error; the peer's connector will dial
//! again, and nothing in this process fails.
//!
//! **Liveness.** The reader also feeds the peer's failure detector: the hello and every message
//! count as signs of life, and a second loop reads the peer's heartbeat datagrams (see
//! `heartbeat`), which keep arriving even while the message reader waits for the node.

use std::sync::Arc;
use std::time::Instant;

use quinn::{Connection, Incoming};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tracing::{debug, field, info, info_span, warn, Instrument, Span};

use super::close::CloseReason;
use super::connector::PeerSlot;
use super::error::FrameError;
use super::frame::read_frame;
use super::handshake;
use super::heartbeat::receive_heartbeats;
use super::mesh::Shared;
use super::stop::Stop;
use super::tls::PEER_ALPN;

/// The accept loop. Runs until `stop` fires or the endpoint closes, then closes the endpoint and
/// waits for its connection tasks.
pub(super) async fn run_accept_loop<M>(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared<M>>,
    mut stop: Stop,
) where
    M: DeserializeOwned + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        while let Some(done) = connections.try_join_next() {
            if let Err(e) = done {
                warn!(error = %e, "incoming connection task failed");
            }
        }
        let incoming = tokio::select! {
            () = stop.wait() => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        if connections.len() >= shared.max_incoming {
            warn!(
                remote = %incoming.remote_address(),
                limit = shared.max_incoming,
                "too many incoming connections; refusing"
            );
            incoming.refuse();
            continue;
        }
        let span = info_span!(
            "peer-incoming",
            node = shared.self_id,
            remote = %incoming.remote_address(),
            peer = field::Empty,
        );
        connections.spawn(serve_incoming(incoming, shared.clone(), stop.clone()).instrument(span));
    }
    // New connections are refused from here on; live ones are closed by their tasks.
    endpoint.set_server_config(None);
    while let Some(done) = connections.join_next().await {
        if let Err(e) = done {
            warn!(error = %e, "incoming connection task failed");
        }
    }
    debug!("accept loop stopped");
}

async fn serve_incoming<M>(incoming: Incoming, shared: Arc<Shared<M>>, mut stop: Stop)
where
    M: DeserializeOwned + Send + 'static,
{
    let accepted = tokio::select! {
        () = stop.wait() => return,
        accepted = tokio::time::timeout(shared.handshake_timeout, incoming) => accepted,
    };
    let conn = match accepted {
        Ok(Ok(conn)) => conn,
        // Clients without a cluster certificate end here; they never reach our code.
        Ok(Err(error)) => {
            info!(%error, "TLS handshake failed");
            return;
        }
        Err(_elapsed) => {
            info!("TLS handshake timed out");
            return;
        }
    };
    match negotiated_alpn(&conn).as_deref() {
        Some(PEER_ALPN) => serve_peer(conn, shared, stop).await,
        other => {
            // Unreachable while the server only offers PEER_ALPN, kept so that adding a
            // protocol to the server config without a handler fails closed.
            warn!(alpn = ?other.map(String::from_utf8_lossy), "no handler for protocol");
            CloseReason::UnsupportedAlpn.close(&conn);
        }
    }
}

fn negotiated_alpn(conn: &Connection) -> Option<Vec<u8>> {
    let data = conn.handshake_data()?;
    let data = data
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?;
    data.protocol
}

/// Serves one connection speaking the peer protocol.
async fn serve_peer<M>(conn: Connection, shared: Arc<Shared<M>>, mut stop: Stop)
where
    M: DeserializeOwned + Send + 'static,
{
    let handshake = tokio::select! {
        () = stop.wait() => {
            CloseReason::Shutdown.close(&conn);
            return;
        }
        result = tokio::time::timeout(
            shared.handshake_timeout,
            handshake::accept(&conn, shared.self_id, |id| shared.is_peer(id)),
        ) => result,
    };
    let (peer, mut recv) = match handshake {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(error)) => {
            warn!(%error, "rejecting incoming connection");
            error.close_reason().close(&conn);
            return;
        }
        Err(_elapsed) => {
            warn!("hello not received in time; closing");
            CloseReason::Protocol.close(&conn);
            return;
        }
    };
    Span::current().record("peer", peer);
    let Some(slot) = shared.slot(peer) else {
        // `accept` just checked that the peer is configured, and peers are never removed.
        warn!("peer vanished during the hello; closing");
        CloseReason::NotAPeer.close(&conn);
        return;
    };
    slot.record_heard(Instant::now());
    if let Some(older) = shared.register_incoming(peer, &conn) {
        CloseReason::Replaced.close(&older);
    }
    info!("peer connected (incoming)");

    let ended = tokio::select! {
        () = stop.wait() => Ended::Shutdown,
        ended = deliver(peer, &mut recv, &shared, &slot) => ended,
        // Never completes; it only runs alongside the message reader.
        () = receive_heartbeats(&conn, &slot) => Ended::Finished,
    };
    match &ended {
        Ended::Shutdown => CloseReason::Shutdown.close(&conn),
        Ended::Finished => info!("peer finished its stream"),
        Ended::ReceiverGone => {
            info!("nobody receives peer messages any more; closing");
            CloseReason::Shutdown.close(&conn);
        }
        Ended::Frame(FrameError::Read { source }) => match conn.close_reason() {
            Some(reason) => info!(%reason, "connection closed"),
            None => info!(error = %source, "stream lost"),
        },
        Ended::Frame(error) => {
            warn!(%error, "peer sent a bad frame; closing the connection");
            CloseReason::Protocol.close(&conn);
        }
    }
    shared.deregister_incoming(peer, &conn);
}

/// How reading a peer's stream ended.
enum Ended {
    Shutdown,
    Finished,
    ReceiverGone,
    Frame(FrameError),
}

async fn deliver<M>(
    peer: u64,
    recv: &mut quinn::RecvStream,
    shared: &Shared<M>,
    slot: &PeerSlot,
) -> Ended
where
    M: DeserializeOwned,
{
    loop {
        match read_frame::<M>(recv, shared.max_frame_bytes).await {
            Ok(Some(msg)) => {
                slot.record_heard(Instant::now());
                if shared.inbound.send((peer, msg)).await.is_err() {
                    return Ended::ReceiverGone;
                }
            }
            Ok(None) => return Ended::Finished,
            Err(error) => return Ended::Frame(error),
        }
    }
}
