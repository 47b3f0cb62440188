//! Heartbeats and the failure detector: a silent peer is marked down long before QUIC gives up
//! on its connection, comes back up when it speaks again, and a peer that is merely waiting for
//! us stays up.
//!
//! These tests use the default heartbeat and detector settings (a silent peer is down after
//! roughly 0.8 s) and an idle timeout of 10 s, so "down by phi, still connected" is a wide window
//! that a slow machine cannot close by accident.

use std::time::Duration;

use super::relay::Relay;
use super::{connect_all, fast_config, msg, recv, wait_until, Msg, Node, Pki};
use crate::peer::{PeerConfig, SendError};

const WAIT: Duration = Duration::from_secs(10);

/// Well above the detector's horizon with default settings, well below the idle timeout.
const DETECT_WITHIN: Duration = Duration::from_secs(6);

fn long_idle_config(id: u64) -> PeerConfig {
    PeerConfig {
        idle_timeout_ms: 10_000,
        ..fast_config(id)
    }
}

#[tokio::test]
async fn connected_peers_are_up_and_heartbeats_never_reach_the_receiver() {
    let pki = Pki::new();
    let mut a = Node::start(fast_config(1), pki.identity(1)).await;
    let b = Node::start(fast_config(2), pki.identity(2)).await;
    assert!(!a.mesh.is_up(2), "not up before any connection");
    connect_all(&[&a, &b]);
    wait_until("A and B up", WAIT, || a.mesh.is_up(2) && b.mesh.is_up(1)).await;
    assert_eq!(a.mesh.up_peers(), vec![2]);
    assert!(!a.mesh.is_up(3), "unknown peers are never up");

    let liveness = a.mesh.liveness();
    assert_eq!(liveness.len(), 1);
    let (id, state) = liveness[0];
    assert_eq!(id, 2);
    assert!(state.connected && state.up, "{state:?}");
    assert!(state.phi.is_finite() && state.phi < 8.0, "{state:?}");

    // Let several heartbeats pass; only the messages sent arrive.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    b.mesh.send(1, &msg(1)).unwrap();
    assert_eq!(recv(&mut a.rx, WAIT).await, (2, msg(1)));
    assert!(a.rx.try_recv().is_err(), "only messages are delivered");
    assert!(a.mesh.is_up(2));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}

#[tokio::test]
async fn a_peer_whose_heartbeats_stop_is_down_while_its_connection_stays_open() {
    let pki = Pki::new();
    let a = Node::start(long_idle_config(1), pki.identity(1)).await;
    let b = Node::start(long_idle_config(2), pki.identity(2)).await;
    // B reaches A only through the relay; A reaches B directly.
    let relay = Relay::start(a.addr()).await;
    a.mesh.add_peer(2, b.addr()).unwrap();
    b.mesh.add_peer(1, relay.addr).unwrap();
    wait_until("A sees B up", WAIT, || a.mesh.is_up(2)).await;

    // Nothing from B reaches A any more, while A's own connection to B is healthy.
    relay.set_cut(true);
    wait_until("A marks B down", DETECT_WITHIN, || !a.mesh.is_up(2)).await;
    assert!(a.mesh.is_connected(2), "A's connection to B is still open");
    let (_, state) = a.mesh.liveness()[0];
    assert!(
        state.connected && !state.up && state.phi >= 8.0,
        "{state:?}"
    );
    // Down is advisory: sending still works while the connection does.
    a.mesh.send(2, &msg(0)).unwrap();

    // B's heartbeats get through again, on the same connection.
    relay.set_cut(false);
    wait_until("A sees B up again", WAIT, || a.mesh.is_up(2)).await;
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}

#[tokio::test]
async fn a_paused_peer_is_marked_down_before_the_idle_timeout() {
    let pki = Pki::new();
    let mut a = Node::start(long_idle_config(1), pki.identity(1)).await;
    let mut b = Node::start(long_idle_config(2), pki.identity(2)).await;
    // Every packet between A and B passes a relay, so cutting both silences B entirely, as
    // SIGSTOP or a dead host would.
    let to_b = Relay::start(b.addr()).await;
    let to_a = Relay::start(a.addr()).await;
    a.mesh.add_peer(2, to_b.addr).unwrap();
    b.mesh.add_peer(1, to_a.addr).unwrap();
    wait_until("A and B up", WAIT, || a.mesh.is_up(2) && b.mesh.is_up(1)).await;

    to_b.set_cut(true);
    to_a.set_cut(true);
    wait_until("A marks B down", DETECT_WITHIN, || !a.mesh.is_up(2)).await;
    // QUIC has not given up yet: without the detector, B would still count as reachable.
    assert!(a.mesh.is_connected(2), "the idle timeout has not fired yet");
    wait_until("B marks A down", DETECT_WITHIN, || !b.mesh.is_up(1)).await;

    to_b.set_cut(false);
    to_a.set_cut(false);
    wait_until("A and B up again", WAIT, || {
        a.mesh.is_up(2) && b.mesh.is_up(1)
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
async fn a_peer_stays_up_while_this_node_is_slow_to_take_its_messages() {
    let pki = Pki::new();
    let a_cfg = PeerConfig {
        recv_queue_len: 1,
        ..long_idle_config(1)
    };
    let b_cfg = PeerConfig {
        send_queue_len: 8,
        ..long_idle_config(2)
    };
    let mut a = Node::start(a_cfg, pki.identity(1)).await;
    let b = Node::start(b_cfg, pki.identity(2)).await;
    connect_all(&[&a, &b]);
    // B sends on its own connection to A, which may come up after A has heard from B.
    wait_until("A sees B up and B is connected to A", WAIT, || {
        a.mesh.is_up(2) && b.mesh.is_connected(1)
    })
    .await;

    // A takes nothing off its receiver: its reader stops, QUIC flow control stalls B's stream,
    // and B's queue fills up.
    let big = Msg {
        seq: 0,
        text: "x".repeat(64 * 1024),
    };
    let mut sent: u64 = 0;
    let mut full = false;
    for _ in 0..100_000 {
        match b.mesh.send(
            1,
            &Msg {
                seq: sent,
                ..big.clone()
            },
        ) {
            Ok(()) => sent += 1,
            Err(SendError::QueueFull { .. }) => {
                full = true;
                break;
            }
            Err(other) => panic!("unexpected send error: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(full, "B's queue never filled after {sent} messages");

    // Several detector horizons later the stream is still stalled, yet B is up: its heartbeats
    // do not wait behind the stream.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(matches!(
        b.mesh.send(1, &msg(u64::MAX)),
        Err(SendError::QueueFull { .. })
    ));
    wait_until("A still sees B up", WAIT, || a.mesh.is_up(2)).await;

    // Nothing was lost meanwhile.
    for seq in 0..sent {
        let (from, m) = recv(&mut a.rx, WAIT).await;
        assert_eq!((from, m.seq), (2, seq));
    }
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}
