//! Messages flow between authenticated peers, in order, and `send` reports what it cannot do.

use std::collections::HashMap;
use std::time::Duration;

use super::{connect_all, fast_config, msg, recv, wait_until, Msg, Node, Pki};
use crate::peer::{PeerConfig, SendError};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn three_nodes_exchange_messages_in_order_both_ways() {
    let pki = Pki::new();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(Node::start(fast_config(id), pki.identity(id)).await);
    }
    connect_all(&nodes.iter().collect::<Vec<_>>());
    wait_until("a full mesh", WAIT, || {
        nodes
            .iter()
            .all(|n| n.mesh.connected_peers().len() == nodes.len() - 1)
    })
    .await;

    const COUNT: u64 = 200;
    for seq in 0..COUNT {
        for from in &nodes {
            for to in &nodes {
                if from.id() != to.id() {
                    from.mesh.send(to.id(), &msg(seq)).unwrap();
                }
            }
        }
    }
    for node in &mut nodes {
        let mut next: HashMap<u64, u64> = HashMap::new();
        for _ in 0..2 * COUNT {
            let (from, m) = recv(&mut node.rx, WAIT).await;
            let expected = next.entry(from).or_insert(0);
            assert_eq!(
                m,
                msg(*expected),
                "node {} from {from}",
                node.mesh.self_id()
            );
            *expected += 1;
        }
        assert!(next.values().all(|n| *n == COUNT));
        assert!(node.rx.try_recv().is_err(), "no duplicates");
    }
    for node in &nodes {
        node.mesh.shutdown().await;
    }
}

#[tokio::test]
async fn send_fails_fast_when_it_cannot_send() {
    let pki = Pki::new();
    let cfg = PeerConfig {
        max_frame_bytes: 1024,
        ..fast_config(1)
    };
    let a = Node::start(cfg, pki.identity(1)).await;
    let b = Node::start(fast_config(2), pki.identity(2)).await;

    assert!(matches!(
        a.mesh.send(1, &msg(0)),
        Err(SendError::UnknownPeer { peer: 1 })
    ));
    assert!(matches!(
        a.mesh.send(9, &msg(0)),
        Err(SendError::UnknownPeer { peer: 9 })
    ));
    // Configured, but B does not know A yet, so B refuses A's connection.
    a.mesh.add_peer(2, b.addr()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!a.mesh.is_connected(2));
    assert!(matches!(
        a.mesh.send(2, &msg(0)),
        Err(SendError::NotConnected { peer: 2 })
    ));

    b.mesh.add_peer(1, a.addr()).unwrap();
    wait_until("A connected to B", WAIT, || a.mesh.is_connected(2)).await;
    let too_big = Msg {
        seq: 1,
        text: "x".repeat(2048),
    };
    assert!(matches!(
        a.mesh.send(2, &too_big),
        Err(SendError::Frame { peer: 2, .. })
    ));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}

#[tokio::test]
async fn a_slow_receiver_fills_the_queue_without_blocking_the_sender() {
    let pki = Pki::new();
    let a = Node::start(
        PeerConfig {
            send_queue_len: 8,
            ..fast_config(1)
        },
        pki.identity(1),
    )
    .await;
    let mut b = Node::start(
        PeerConfig {
            recv_queue_len: 1,
            ..fast_config(2)
        },
        pki.identity(2),
    )
    .await;
    connect_all(&[&a, &b]);
    wait_until("A connected to B", WAIT, || a.mesh.is_connected(2)).await;

    // B does not read. Flow control stalls A's stream, then A's queue fills.
    let text = "x".repeat(64 * 1024);
    let mut accepted = 0;
    let mut full = false;
    for seq in 0..2_000 {
        match a.mesh.send(
            2,
            &Msg {
                seq,
                text: text.clone(),
            },
        ) {
            Ok(()) => accepted += 1,
            Err(SendError::QueueFull { peer: 2 }) => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
        tokio::task::yield_now().await;
    }
    assert!(full, "queue never filled after {accepted} messages");
    assert!(a.mesh.is_connected(2), "a full queue is not a lost peer");

    // Everything accepted arrives, in order, once B reads.
    for seq in 0..accepted {
        let (from, m) = recv(&mut b.rx, WAIT).await;
        assert_eq!((from, m.seq), (1, seq));
    }
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}
