//! The stop signal every background task of the mesh listens to.
//!
//! Two sources can stop the mesh: the owner's shutdown signal (a `watch` channel handed to
//! `Mesh::start`) and the mesh itself (`Mesh::shutdown`, or the last `Mesh` handle being dropped).
//! Tasks see both through one cloneable [`Stop`], so each task has exactly one shutdown path.

use tokio::sync::watch;

/// Resolves once the mesh should stop.
#[derive(Clone, Debug)]
pub(super) struct Stop {
    /// Set by the mesh; its sender being dropped (the mesh is gone) also means stop.
    own: watch::Receiver<bool>,
    /// Set by the owner; its sender being dropped only means no signal will ever come.
    external: watch::Receiver<bool>,
}

impl Stop {
    pub(super) fn new(own: watch::Receiver<bool>, external: watch::Receiver<bool>) -> Self {
        Self { own, external }
    }

    /// Whether stopping has been requested.
    pub(super) fn is_set(&self) -> bool {
        *self.own.borrow() || *self.external.borrow() || self.own.has_changed().is_err()
    }

    /// Waits until stopping is requested. Cancel-safe, so it can sit in a `select!` loop.
    pub(super) async fn wait(&mut self) {
        let Self { own, external } = self;
        let own = async {
            // An error means the mesh dropped its sender: stop as well.
            let _ = own.wait_for(|stop| *stop).await;
        };
        let external = async {
            if external.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = own => {}
            () = external => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn stops_within(stop: &mut Stop, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), stop.wait())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn either_source_stops_but_a_dropped_external_sender_does_not() {
        let (own_tx, own_rx) = watch::channel(false);
        let (ext_tx, ext_rx) = watch::channel(false);
        let mut stop = Stop::new(own_rx.clone(), ext_rx);
        drop(ext_tx);
        assert!(!stop.is_set());
        assert!(!stops_within(&mut stop, 20).await);
        own_tx.send_replace(true);
        assert!(stop.is_set());
        assert!(stops_within(&mut stop, 1000).await);

        let (ext_tx, ext_rx) = watch::channel(false);
        let mut stop = Stop::new(watch::channel(false).1, ext_rx);
        // The own sender above is already dropped: that alone means stop.
        assert!(stop.is_set());
        assert!(stops_within(&mut stop, 1000).await);
        drop(ext_tx);

        let (_own_tx, own_rx) = watch::channel(false);
        let (ext_tx, ext_rx) = watch::channel(false);
        let mut stop = Stop::new(own_rx, ext_rx);
        ext_tx.send_replace(true);
        assert!(stop.is_set());
        assert!(stops_within(&mut stop, 1000).await);
    }
}
