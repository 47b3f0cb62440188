//! Losing a peer is noticed within the idle timeout, `send` then fails fast, and the connection
//! comes back on its own.

use std::time::Duration;

use super::relay::Relay;
use super::{connect_all, fast_config, msg, recv, wait_until, Node, Pki};
use crate::peer::{NodeIdentity, PeerConfig, PeerError, SendError};

const WAIT: Duration = Duration::from_secs(5);

/// Idle timeout of `fast_config` plus slack for scheduling.
const NOTICE_WITHIN: Duration = Duration::from_millis(1_000 + 1_500);

/// Starts a node on a fixed address, retrying briefly while the previous owner's socket closes.
async fn start_on(cfg: PeerConfig, identity: NodeIdentity) -> Node {
    for _ in 0..100 {
        let (tx, signal) = tokio::sync::watch::channel(false);
        match crate::peer::Mesh::start(cfg.clone(), identity.clone(), signal).await {
            Ok((mesh, rx)) => {
                return Node {
                    mesh,
                    rx,
                    shutdown: tx,
                }
            }
            Err(PeerError::Bind { .. }) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("address {} never became free", cfg.listen);
}

#[tokio::test]
async fn a_restarted_peer_is_noticed_and_reconnected() {
    let pki = Pki::new();
    let mut a = Node::start(fast_config(1), pki.identity(1)).await;
    let b_identity = pki.identity(2);
    let b = Node::start(fast_config(2), b_identity.clone()).await;
    connect_all(&[&a, &b]);
    wait_until("A and B connected", WAIT, || {
        a.mesh.is_connected(2) && b.mesh.is_connected(1)
    })
    .await;

    let b_addr = b.addr();
    b.mesh.shutdown().await;
    drop(b);
    wait_until("A notices B is gone", NOTICE_WITHIN, || {
        !a.mesh.is_connected(2)
    })
    .await;
    assert!(matches!(
        a.mesh.send(2, &msg(0)),
        Err(SendError::NotConnected { peer: 2 })
    ));

    let cfg = PeerConfig {
        listen: b_addr,
        peers: vec![(1, a.addr())],
        ..fast_config(2)
    };
    let mut b = start_on(cfg, b_identity).await;
    wait_until("A and B reconnected", WAIT, || {
        a.mesh.is_connected(2) && b.mesh.is_connected(1)
    })
    .await;
    a.mesh.send(2, &msg(1)).unwrap();
    b.mesh.send(1, &msg(2)).unwrap();
    assert_eq!(recv(&mut b.rx, WAIT).await, (1, msg(1)));
    assert_eq!(recv(&mut a.rx, WAIT).await, (2, msg(2)));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}

#[tokio::test]
async fn the_owner_signal_stops_the_mesh() {
    let pki = Pki::new();
    let a = Node::start(fast_config(1), pki.identity(1)).await;
    let b = Node::start(fast_config(2), pki.identity(2)).await;
    connect_all(&[&a, &b]);
    wait_until("A connected to B", WAIT, || a.mesh.is_connected(2)).await;
    b.shutdown.send_replace(true);
    wait_until("A notices B stopped", NOTICE_WITHIN, || {
        !a.mesh.is_connected(2)
    })
    .await;
    assert!(b.mesh.connected_peers().is_empty());
    assert!(matches!(
        b.mesh.add_peer(3, a.addr()),
        Err(PeerError::Stopped)
    ));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}

#[tokio::test]
async fn a_silent_peer_is_noticed_within_the_idle_timeout() {
    let pki = Pki::new();
    let a = Node::start(fast_config(1), pki.identity(1)).await;
    let mut b = Node::start(fast_config(2), pki.identity(2)).await;
    let relay = Relay::start(b.addr()).await;
    // A reaches B only through the relay.
    a.mesh.add_peer(2, relay.addr).unwrap();
    b.mesh.add_peer(1, a.addr()).unwrap();
    wait_until("A connected to B", WAIT, || a.mesh.is_connected(2)).await;

    relay.set_cut(true);
    wait_until("A notices the silence", NOTICE_WITHIN, || {
        !a.mesh.is_connected(2)
    })
    .await;
    assert!(matches!(
        a.mesh.send(2, &msg(0)),
        Err(SendError::NotConnected { peer: 2 })
    ));

    relay.set_cut(false);
    wait_until("A reconnects", WAIT, || a.mesh.is_connected(2)).await;
    a.mesh.send(2, &msg(1)).unwrap();
    assert_eq!(recv(&mut b.rx, WAIT).await, (1, msg(1)));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}
