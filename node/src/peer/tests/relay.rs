//! A UDP relay for tests that need a path between two nodes to fail silently.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::UdpSocket;

/// A UDP forwarder between one client and `target` that can silently drop everything, as a
/// crashed host or a partition would.
pub(in crate::peer::tests) struct Relay {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let cut = cut.clone();
            async move {
                let mut buf = vec![0u8; 65_536];
                let mut client = None;
                while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                    if cut.load(Ordering::Relaxed) {
                        continue;
                    }
                    let to = if from == target {
                        match client {
                            Some(client) => client,
                            None => continue,
                        }
                    } else {
                        client = Some(from);
                        target
                    };
                    let _ = socket.send_to(&buf[..len], to).await;
                }
            }
        });
        Self { addr, cut, task }
    }

    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::Relaxed);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
