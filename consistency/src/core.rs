//! [`Core`]: one node's sans-IO state machine, coordinator and replica together.

use std::collections::BTreeSet;

use kvorum_ring::{Layout, NodeId};

use crate::object::Object;

#[cfg(feature = "fault-injection")]
use crate::coordinator::CoreFaults;
use crate::coordinator::{Coordinator, CoordinatorStats, Origin, View};
use crate::io::{
    Mutation, Now, Outputs, StorageOp, StorageRequest, StorageResult, StorageToken, Transmit,
};
use crate::message::{Key, Message, OpId, Reply, Request, RequestId};
use crate::replica::Replica;

/// Static settings of a node's core.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// This node.
    pub node: NodeId,
    /// Replication factor `N` of the (single, for now) namespace.
    pub replication: usize,
    /// The first operation id of this incarnation. Ids must never repeat across restarts of
    /// the node: peers may still send answers or duplicates meant for an earlier incarnation.
    /// The node uses its start time in nanoseconds.
    pub first_op_id: OpId,
    /// Whether a completed storage apply is on stable storage (the driver waits for an fsync
    /// before reporting it: `fsync = always`). Acknowledgements say so, and count toward DW.
    pub durable_writes: bool,
}

/// One node's replication logic, without I/O.
///
/// # Call order
/// The driver feeds events in with the `handle_*` methods, always passing its current clock
/// readings, and after **every** call drains the outputs, in this order, until each returns `None`:
/// 1. [`Core::poll_transmit`]: send each message to its peer; if it cannot be sent because the
///    peer is not connected, hand it back with [`Core::handle_send_failed`] (then poll again).
/// 2. [`Core::poll_storage`]: perform each storage request (an `Apply` atomically, reporting
///    completion only when durable), then report it with [`Core::handle_storage`].
/// 3. [`Core::poll_reply`]: answer the client request with that id.
/// 4. [`Core::poll_timeout`]: arm a timer for that monotonic instant; when it fires, call
///    [`Core::handle_timeout`].
///
/// Reachability ([`Core::set_reachable`]) is the driver's current belief about which peers are
/// connected; the core uses it to refuse requests it cannot serve *before* sending anything.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    layout: Layout,
    reachable: BTreeSet<NodeId>,
    coordinator: Coordinator,
    replica: Replica,
    out: Outputs,
}

impl Core {
    pub fn new(config: CoreConfig, layout: Layout) -> Self {
        Core {
            coordinator: Coordinator::new(config.node, config.first_op_id, config.durable_writes),
            config,
            layout,
            reachable: BTreeSet::new(),
            replica: Replica::default(),
            out: Outputs::default(),
        }
    }

    pub fn node(&self) -> NodeId {
        self.config.node
    }

    /// The replication factor `N`.
    pub fn replication(&self) -> usize {
        self.config.replication
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Adopts a layout if it is newer than the current one. Returns whether it was adopted.
    pub fn set_layout(&mut self, layout: Layout) -> bool {
        if layout.epoch() > self.layout.epoch() {
            self.layout = layout;
            true
        } else {
            false
        }
    }

    /// Records whether a peer is currently reachable.
    pub fn set_reachable(&mut self, node: NodeId, reachable: bool) {
        if reachable {
            self.reachable.insert(node);
        } else {
            self.reachable.remove(&node);
        }
    }

    /// Operations this node coordinates that have not finished yet (reads still repairing
    /// after their reply included).
    pub fn in_flight(&self) -> usize {
        self.coordinator.in_flight()
    }

    /// Read-repair and write-back counters.
    pub fn stats(&self) -> CoordinatorStats {
        self.coordinator.stats()
    }

    /// Switches deliberately broken behaviour on or off (see [`CoreFaults`]); takes effect for
    /// the events handled after the call.
    #[cfg(feature = "fault-injection")]
    pub fn set_faults(&mut self, faults: CoreFaults) {
        self.coordinator.set_faults(faults);
    }

    /// The faults currently switched on.
    #[cfg(feature = "fault-injection")]
    pub fn faults(&self) -> CoreFaults {
        self.coordinator.faults()
    }

    /// A client request arrived at this node.
    pub fn handle_request(&mut self, now: Now, id: RequestId, request: Request) {
        self.coordinate(now, Origin::Local(id), request);
    }

    /// Runs a request through the coordinator, from a local client or forwarded by a peer.
    fn coordinate(&mut self, now: Now, origin: Origin, request: Request) {
        let view = View {
            node: self.config.node,
            n: self.config.replication,
            layout: &self.layout,
            reachable: &self.reachable,
        };
        self.coordinator
            .handle_request(&view, &mut self.out, now, origin, request);
    }

    /// A message arrived from a peer.
    pub fn handle_message(&mut self, now: Now, from: NodeId, message: Message) {
        // Objects from the network are checked before anything merges them, and their
        // timestamps advance our clock so later writes here order after them.
        if let Some(object) = carried_object(&message) {
            if let Err(e) = object.validate() {
                return self.reject(now, from, message, format!("invalid object: {e}"));
            }
            if let Some(ts) = object.max_timestamp() {
                self.coordinator.hlc_mut().observe(ts);
            }
        }
        let (op, key, work) = match message {
            Message::Fetch { op, key } => (op, key, StorageOp::Read),
            Message::Store { op, key, object } => {
                (op, key, StorageOp::Apply(Mutation::Merge(object)))
            }
            Message::StoreHint {
                op,
                key,
                object,
                target,
            } => (op, key, StorageOp::Hint { target, object }),
            Message::Forward { op, request } => {
                return self.coordinate(now, Origin::Remote { from, op }, request);
            }
            answer => {
                return self
                    .coordinator
                    .handle_message(&mut self.out, now, from, answer)
            }
        };
        self.replica
            .serve(&self.layout, &mut self.out, from, op, key, work);
    }

    /// Answers a message whose object failed validation as if its sender's request failed.
    fn reject(&mut self, now: Now, from: NodeId, message: Message, reason: String) {
        match message {
            Message::Store { op, .. } | Message::StoreHint { op, .. } => {
                let result = Err(reason);
                self.out.send(
                    from,
                    Message::Stored {
                        op,
                        result,
                        durable: false,
                    },
                );
            }
            Message::Fetched { op, .. } => {
                let failed = Message::Fetched {
                    op,
                    result: Err(reason),
                };
                self.coordinator
                    .handle_message(&mut self.out, now, from, failed);
            }
            _ => {}
        }
    }

    /// Hands a hint this node holds to its `target` (hinted handoff): sends the state and
    /// replies to `id` with `Written` once the target acknowledged it, `Unavailable` if it could
    /// not be sent, `Timeout` if no answer came within `timeout_ms`. The driver deletes the hint
    /// only after `Written`.
    pub fn handle_handoff(
        &mut self,
        now: Now,
        id: RequestId,
        target: NodeId,
        key: Key,
        object: Object,
        timeout_ms: u64,
    ) {
        let partition = self.layout.partition_for_key(key.ns, &key.key);
        self.coordinator.handle_handoff(
            &mut self.out,
            now,
            Origin::Local(id),
            target,
            key,
            partition,
            object,
            timeout_ms,
        );
    }

    /// A storage request finished.
    pub fn handle_storage(&mut self, now: Now, token: StorageToken, result: StorageResult) {
        if let StorageResult::Read(Some(object))
        | StorageResult::Applied {
            current: object, ..
        } = &result
        {
            if let Some(ts) = object.max_timestamp() {
                self.coordinator.hlc_mut().observe(ts);
            }
        }
        if let Some(result) = self
            .coordinator
            .handle_storage(&mut self.out, now, token, result)
        {
            let durable = self.config.durable_writes;
            self.replica
                .handle_storage(&mut self.out, token, result, durable);
        }
    }

    /// A transmit from [`Core::poll_transmit`] could not be sent (the peer is not connected).
    pub fn handle_send_failed(&mut self, now: Now, transmit: Transmit) {
        self.coordinator
            .handle_send_failed(&mut self.out, now, transmit.to, &transmit.message);
    }

    /// The timer from [`Core::poll_timeout`] fired.
    pub fn handle_timeout(&mut self, now: Now) {
        self.coordinator.handle_timeout(&mut self.out, now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_storage(&mut self) -> Option<StorageRequest> {
        self.out.storage.pop_front()
    }

    pub fn poll_reply(&mut self) -> Option<(RequestId, Reply)> {
        self.out.replies.pop_front()
    }

    /// The earliest monotonic instant at which [`Core::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.coordinator.poll_timeout()
    }
}

/// The object a peer message carries, if any.
fn carried_object(message: &Message) -> Option<&Object> {
    match message {
        Message::Store { object, .. } | Message::StoreHint { object, .. } => Some(object),
        Message::Fetched {
            result: Ok(Some(object)),
            ..
        } => Some(object),
        _ => None,
    }
}
