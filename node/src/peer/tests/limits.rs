//! Frames over the limit or with garbage bodies end only the offending connection.

use std::time::Duration;

use quinn::ConnectionError;

use super::{fast_config, msg, raw_client, raw_hello, recv, wait_until, Node, Pki};
use crate::peer::close::CloseReason;
use crate::peer::frame::FRAME_VERSION;
use crate::peer::PeerConfig;

const WAIT: Duration = Duration::from_secs(5);

fn closed_for_protocol(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::ApplicationClosed(close)
        if close.error_code == CloseReason::Protocol.code())
}

#[tokio::test]
async fn bad_frames_close_the_connection_and_the_node_carries_on() {
    let pki = Pki::new();
    let cfg = PeerConfig {
        max_frame_bytes: 1024,
        ..fast_config(1)
    };
    let mut a = Node::start(cfg, pki.identity(1)).await;
    let b = Node::start(fast_config(2), pki.identity(2)).await;
    // Only A knows B for now, so the raw clients below can speak as node 2.
    a.mesh.add_peer(2, b.addr()).unwrap();
    let (endpoint, config) = raw_client(pki.ca_cert(), Some(&pki.identity(2)));

    // A length prefix above the limit: refused before the body is read.
    let mut session = raw_hello(&endpoint, &config, a.addr(), 1, 2).await.unwrap();
    let mut oversized = (1024u32 * 1024).to_be_bytes().to_vec();
    oversized.extend_from_slice(&[FRAME_VERSION, 0, 0, 0]);
    session.send.write_all(&oversized).await.unwrap();
    let err = tokio::time::timeout(WAIT, session.conn.closed())
        .await
        .unwrap();
    assert!(closed_for_protocol(&err), "{err}");

    // A body within the limit that is not a message.
    let mut session = raw_hello(&endpoint, &config, a.addr(), 1, 2).await.unwrap();
    let garbage = [0, 0, 0, 5, FRAME_VERSION, 0xc1, 0xc1, 0xc1, 0xc1];
    session.send.write_all(&garbage).await.unwrap();
    let err = tokio::time::timeout(WAIT, session.conn.closed())
        .await
        .unwrap();
    assert!(closed_for_protocol(&err), "{err}");

    // An unknown format version.
    let mut session = raw_hello(&endpoint, &config, a.addr(), 1, 2).await.unwrap();
    session
        .send
        .write_all(&[0, 0, 0, 2, 9, 0x90])
        .await
        .unwrap();
    let err = tokio::time::timeout(WAIT, session.conn.closed())
        .await
        .unwrap();
    assert!(closed_for_protocol(&err), "{err}");

    assert!(a.rx.try_recv().is_err(), "nothing was delivered");

    // The real node 2 still gets through, both ways.
    b.mesh.add_peer(1, a.addr()).unwrap();
    wait_until("A and B connected", WAIT, || {
        a.mesh.is_connected(2) && b.mesh.is_connected(1)
    })
    .await;
    b.mesh.send(1, &msg(7)).unwrap();
    assert_eq!(recv(&mut a.rx, WAIT).await, (2, msg(7)));
    a.mesh.shutdown().await;
    b.mesh.shutdown().await;
}
