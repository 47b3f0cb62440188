//! Only holders of a certificate from the cluster CA that names a configured peer get through.

use std::time::Duration;

use quinn::ConnectionError;

use super::{connect_all, fast_config, msg, raw_client, raw_hello, wait_until, Msg, Node, Pki};
use crate::peer::close::CloseReason;
use crate::peer::{Mesh, PeerError, SendError};

const WAIT: Duration = Duration::from_secs(5);

/// A connection the TLS layer refused ends with a transport-level close, not one of our
/// application close codes.
fn is_tls_rejection(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::ConnectionClosed(_) | ConnectionError::TransportError(_)
    )
}

fn is_closed_with(e: &ConnectionError, reason: CloseReason) -> bool {
    matches!(e, ConnectionError::ApplicationClosed(close) if close.error_code == reason.code())
}

#[tokio::test]
async fn a_node_of_another_cluster_never_connects() {
    let pki = Pki::new();
    let other = Pki::new();
    let a = Node::start(fast_config(1), pki.identity(1)).await;
    let b = Node::start(fast_config(2), pki.identity(2)).await;
    // Node 3 is configured everywhere, but its certificate comes from another CA.
    let rogue = Node::start(fast_config(3), other.identity(3)).await;
    connect_all(&[&a, &b, &rogue]);

    wait_until("A and B connected", WAIT, || {
        a.mesh.is_connected(2) && b.mesh.is_connected(1)
    })
    .await;
    // Give the rogue several reconnect rounds.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rogue.mesh.connected_peers().is_empty());
        assert!(!a.mesh.is_connected(3) && !b.mesh.is_connected(3));
        assert!(matches!(
            rogue.mesh.send(1, &msg(0)),
            Err(SendError::NotConnected { peer: 1 })
        ));
    }
    let mut a = a;
    let mut b = b;
    assert!(a.rx.try_recv().is_err(), "A received nothing");
    assert!(b.rx.try_recv().is_err(), "B received nothing");
    for node in [&a, &b, &rogue] {
        node.mesh.shutdown().await;
    }
}

#[tokio::test]
async fn clients_without_a_cluster_certificate_fail_the_tls_handshake() {
    let pki = Pki::new();
    let other = Pki::new();
    let mut cfg = fast_config(1);
    cfg.peers = vec![(2, "127.0.0.1:9".parse().unwrap())];
    let mut a = Node::start(cfg, pki.identity(1)).await;

    // Trusts our CA, presents no certificate.
    let (endpoint, config) = raw_client(pki.ca_cert(), None);
    let err = raw_hello(&endpoint, &config, a.addr(), 1, 2)
        .await
        .err()
        .expect("a client without a certificate must be refused");
    assert!(is_tls_rejection(&err), "{err}");

    // Trusts our CA, presents a certificate for node 2 issued by another CA.
    let (endpoint, config) = raw_client(pki.ca_cert(), Some(&other.identity(2)));
    let err = raw_hello(&endpoint, &config, a.addr(), 1, 2)
        .await
        .err()
        .expect("a foreign certificate must be refused");
    assert!(is_tls_rejection(&err), "{err}");

    assert!(a.rx.try_recv().is_err());
    a.mesh.shutdown().await;
}

#[tokio::test]
async fn the_certificate_must_name_the_configured_peer_the_hello_claims() {
    let pki = Pki::new();
    let mut cfg = fast_config(1);
    cfg.peers = vec![(2, "127.0.0.1:9".parse().unwrap())];
    let a = Node::start(cfg, pki.identity(1)).await;

    // Valid cluster certificate, but node 5 is not a peer of A.
    let (endpoint, config) = raw_client(pki.ca_cert(), Some(&pki.identity(5)));
    let err = raw_hello(&endpoint, &config, a.addr(), 1, 5)
        .await
        .err()
        .unwrap();
    assert!(is_closed_with(&err, CloseReason::NotAPeer), "{err}");
    // Node 5 claiming to be node 2.
    let err = raw_hello(&endpoint, &config, a.addr(), 1, 2)
        .await
        .err()
        .unwrap();
    assert!(is_closed_with(&err, CloseReason::NotAPeer), "{err}");

    // Node 2's own certificate is accepted, and A answers as node 1.
    let (endpoint, config) = raw_client(pki.ca_cert(), Some(&pki.identity(2)));
    let session = raw_hello(&endpoint, &config, a.addr(), 1, 2).await.unwrap();
    assert_eq!(session.answer.node_id, 1);

    // The dialer checks the server name: node 2's address serving node 1's certificate.
    let err = raw_hello(&endpoint, &config, a.addr(), 2, 2)
        .await
        .err()
        .unwrap();
    assert!(is_tls_rejection(&err), "{err}");
    a.mesh.shutdown().await;
}

#[tokio::test]
async fn a_mesh_refuses_to_start_with_another_nodes_certificate() {
    let pki = Pki::new();
    let (_tx, signal) = tokio::sync::watch::channel(false);
    let started = Mesh::<Msg>::start(fast_config(1), pki.identity(2), signal).await;
    assert!(matches!(
        started,
        Err(PeerError::Config {
            field: "self_id",
            ..
        })
    ));
}
