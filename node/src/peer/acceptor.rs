//! The incoming half of the mesh: the accept loop and one reader task per incoming connection.
//!
//! The accept loop only hands each incoming connection to its own task, so a slow or hostile
//! handshake never holds up the others; at most `max_incoming` such tasks exist, further
//! connections are refused. Each task completes the QUIC/TLS handshake and dispatches on the
//! negotiated ALPN. A peer-protocol connection runs the hello exchange and then delivers the
//! peer's messages, in order, to the mesh's bounded receiver. A full receiver makes the reader
//! wait, and QUIC flow control passes the wait on to the sender. A connection of another served
//! protocol (a [`super::Service`], such as the native client protocol) is handed to that
//! service's channel as it is, after a check that it presented a client certificate if the
//! service demands one.
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
use super::frame::FrameReader;
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
    let alpn = negotiated_alpn(&conn);
    if alpn.as_deref() == Some(PEER_ALPN) {
        return serve_peer(conn, shared, stop).await;
    }
    let service = alpn
        .as_deref()
        .and_then(|alpn| shared.services.iter().find(|s| s.alpn == alpn));
    let Some(service) = service else {
        // Unreachable while the server offers only the ALPNs it has handlers for; kept so that
        // a protocol offered without a handler fails closed.
        warn!(alpn = ?alpn.as_deref().map(String::from_utf8_lossy), "no handler for protocol");
        CloseReason::UnsupportedAlpn.close(&conn);
        return;
    };
    if !service.anonymous && !has_client_certificate(&conn) {
        info!("no client certificate; refusing");
        CloseReason::NotAPeer.close(&conn);
        return;
    }
    // The service bounds its own connections; a full channel makes this task wait, which
    // `max_incoming` bounds in turn.
    tokio::select! {
        () = stop.wait() => CloseReason::Shutdown.close(&conn),
        // quinn connections are handles; the clone is the one handed over.
        handed = service.connections.send(conn.clone()) => {
            if let Err(returned) = handed {
                debug!("service no longer accepts connections; closing");
                CloseReason::Shutdown.close(&returned.0);
            }
        }
    }
}

/// Whether the client presented a certificate (which the TLS handshake verified against the
/// cluster CA).
fn has_client_certificate(conn: &Connection) -> bool {
    conn.peer_identity().is_some()
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
    let mut reader = FrameReader::new(shared.max_frame_bytes);
    loop {
        match reader.read::<M>(recv).await {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use quinn::crypto::rustls::QuicClientConfig;
    use quinn::ConnectionError;
    use tokio::sync::{mpsc, watch};

    use super::CloseReason;
    use crate::peer::tests::{fast_config, init_tracing, msg, raw_client, raw_hello, Msg, Pki};
    use crate::peer::tls::crypto_provider;
    use crate::peer::{node_dns_name, Mesh, Service};

    const SERVICE_ALPN: &[u8] = b"test-service/1";

    /// A client of `SERVICE_ALPN` that trusts `ca` and presents no certificate.
    fn anonymous_service_client(
        ca: &rustls::pki_types::CertificateDer<'static>,
    ) -> (quinn::Endpoint, quinn::ClientConfig) {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let mut tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![SERVICE_ALPN.to_vec()];
        let config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
        let endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        (endpoint, config)
    }

    /// With a service open to clients without a certificate, TLS lets such clients through,
    /// but the peer protocol still refuses them before reading anything, while the service gets
    /// its connections and peers with certificates still connect and exchange messages.
    #[tokio::test]
    async fn an_anonymous_service_does_not_open_the_peer_protocol_to_anonymous_clients() {
        init_tracing();
        let pki = Pki::new();
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (service_tx, mut service_rx) = mpsc::channel(4);
        let service = Service {
            alpn: SERVICE_ALPN.to_vec(),
            anonymous: true,
            connections: service_tx,
        };
        let (a, mut a_rx) = Mesh::<Msg>::start_serving(
            fast_config(1),
            pki.identity(1),
            shutdown.clone(),
            vec![service],
        )
        .await
        .unwrap();
        let (b, _b_rx) = Mesh::<Msg>::start(fast_config(2), pki.identity(2), shutdown)
            .await
            .unwrap();
        a.add_peer(2, b.local_addr()).unwrap();
        b.add_peer(1, a.local_addr()).unwrap();

        // A peer-protocol client without a certificate, claiming to be the configured peer 2.
        let (endpoint, config) = raw_client(pki.ca_cert(), None);
        let err = raw_hello(&endpoint, &config, a.local_addr(), 1, 2)
            .await
            .err()
            .expect("a peer connection without a certificate must be refused");
        assert!(
            matches!(&err, ConnectionError::ApplicationClosed(close)
                if close.error_code == CloseReason::NotAPeer.code()),
            "{err}"
        );

        // The service's client without a certificate is handed over.
        let (endpoint, config) = anonymous_service_client(pki.ca_cert());
        let client = endpoint
            .connect_with(config, a.local_addr(), &node_dns_name(1))
            .unwrap()
            .await
            .unwrap();
        let served = tokio::time::timeout(Duration::from_secs(5), service_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(served.peer_identity().is_none());
        assert_eq!(
            served.remote_address().port(),
            endpoint.local_addr().unwrap().port()
        );
        drop(client);

        // The real peer still gets through.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if b.send(1, &msg(7)).is_ok() {
                if let Ok(Some((from, got))) =
                    tokio::time::timeout(Duration::from_millis(200), a_rx.recv()).await
                {
                    assert_eq!((from, got), (2, msg(7)));
                    break;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "peer 2 never got through"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown_tx.send_replace(true);
        a.shutdown().await;
        b.shutdown().await;
    }

    #[tokio::test]
    async fn services_must_have_their_own_alpn() {
        let pki = Pki::new();
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let (tx, _rx) = mpsc::channel(1);
        for alpn in [crate::peer::PEER_ALPN.to_vec(), Vec::new()] {
            let service = Service {
                alpn,
                anonymous: false,
                connections: tx.clone(),
            };
            let started = Mesh::<Msg>::start_serving(
                fast_config(1),
                pki.identity(1),
                shutdown.clone(),
                vec![service],
            )
            .await;
            assert!(
                matches!(
                    started,
                    Err(crate::peer::PeerError::Config {
                        field: "services",
                        ..
                    })
                ),
                "{started:?}"
            );
        }
    }
}
