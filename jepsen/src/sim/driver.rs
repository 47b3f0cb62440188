//! How the simulator drives one node's core: draining its outputs in the documented order,
//! carrying its messages over the simulated network, performing its storage work, matching its
//! replies to whoever waits, and running hinted handoff.

use kvorum_consistency::{
    Core, Message, Mutation, Op, Outcome, Reply, StorageOp, StorageRequest, StorageResult, Transmit,
};

use super::client;
use super::config::Mix;
use super::run::{Event, Sim, Waiter};
use super::trace;
use crate::checker::FinalView;
use crate::history::{Op as HistoryOp, OpKind, OpOutcome};

impl Sim {
    /// Remembers which incarnation asked each question, and counts answers that reach a later
    /// incarnation of the asker (see [`Stats::cross_incarnation_answers`]).
    pub(super) fn track_answers(
        &mut self,
        from: usize,
        from_incarnation: u64,
        to: usize,
        message: &Message,
    ) {
        match message {
            Message::Fetch { op, .. }
            | Message::Store { op, .. }
            | Message::StoreHint { op, .. }
            | Message::Forward { op, .. }
            | Message::List { op, .. } => {
                self.asked.insert((from, *op), from_incarnation);
            }
            Message::Fetched { op, .. }
            | Message::Stored { op, .. }
            | Message::Forwarded { op, .. }
            | Message::Listed { op, .. } => {
                let asked_by = self.asked.get(&(to, *op)).copied();
                if asked_by.is_some_and(|i| i != self.nodes[to].incarnation) {
                    self.stats.cross_incarnation_answers += 1;
                    let op = *op;
                    self.note(|| format!("cross-incarnation answer to n{} op={op}", to + 1));
                }
            }
            // The namespace catalog is node metadata, and anti-entropy runs in the node; the
            // simulator never sends either.
            Message::Catalog { .. } | Message::Ae { .. } | Message::AeAnswered { .. } => {}
        }
    }

    /// Hands a request to a node's core and records who waits for it.
    pub(super) fn submit(
        &mut self,
        node: usize,
        waiter: Waiter,
        request: kvorum_consistency::Request,
    ) {
        let now = self.now_of(node);
        let n = &mut self.nodes[node];
        n.next_request += 1;
        let id = n.next_request;
        self.note(|| format!("request n{} #{id} {waiter:?} {request:?}", node + 1));
        let n = &mut self.nodes[node];
        n.waiting.insert(id, (waiter, now.mono_ms));
        if let Some(core) = n.core.as_mut() {
            core.handle_request(now, id, request);
        }
        self.drain(node);
    }

    pub(super) fn on_reply(&mut self, node: usize, id: u64, reply: Reply) {
        self.note(|| {
            format!(
                "reply n{} #{id} {}",
                node + 1,
                client::describe_reply(&reply)
            )
        });
        let Some((waiter, _)) = self.nodes[node].waiting.remove(&id) else {
            self.problems.push(format!(
                "node {} replied to request {id}, which it was not waiting on (or twice): {reply:?}",
                self.nodes[node].id
            ));
            return;
        };
        match waiter {
            Waiter::Client { client: c, op } => {
                let done = client::complete(&reply);
                let read = Some((done.value, done.siblings));
                self.history
                    .complete(op, done.outcome, read, done.note, self.now);
                if let (
                    OpOutcome::Ok,
                    Some(HistoryOp {
                        kind: OpKind::SAdd,
                        value: Some(member),
                        ..
                    }),
                ) = (done.outcome, self.history.ops().get(op))
                {
                    // Only a member whose add was acknowledged may be removed later.
                    let member = *member;
                    self.clients[c].added.push(member);
                }
                self.client_done(c, done.outcome);
            }
            Waiter::Handoff {
                target,
                key,
                object,
            } => {
                self.nodes[node].handing_off.remove(&(target, key.clone()));
                if client::handoff_delivered(&reply) {
                    self.stats.handoffs += 1;
                    self.nodes[node]
                        .storage
                        .remove_hint_if(target, &key, &object);
                }
            }
            Waiter::FinalRead { key } => {
                if self.cfg.mix != Mix::Register {
                    let wall = self.now_of(node).wall_ms;
                    if let Some(state) = client::final_read(&reply, wall) {
                        self.final_views.push(FinalView {
                            key,
                            source: format!("read at ALL via n{}", node + 1),
                            state,
                        });
                    }
                }
            }
        }
    }

    /// Drains every output of a node's core, in the documented order, until none is left.
    pub(super) fn drain(&mut self, node: usize) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.nodes[node].core.as_mut().and_then(Core::poll_transmit) {
                progressed = true;
                self.send(node, t);
            }
            while let Some(req) = self.nodes[node].core.as_mut().and_then(Core::poll_storage) {
                progressed = true;
                self.storage(node, req);
            }
            while let Some((id, reply)) = self.nodes[node].core.as_mut().and_then(Core::poll_reply)
            {
                progressed = true;
                self.on_reply(node, id, reply);
            }
            if !progressed {
                break;
            }
        }
        let next = self.nodes[node].core.as_ref().and_then(Core::poll_timeout);
        if let Some(at) = next {
            let armed = self.nodes[node].armed;
            if armed.is_none_or(|a| at < a) {
                self.nodes[node].armed = Some(at);
                let incarnation = self.nodes[node].incarnation;
                self.schedule(
                    at.saturating_sub(self.now),
                    Event::Timer { node, incarnation },
                );
            }
        }
    }

    pub(super) fn send(&mut self, from: usize, transmit: Transmit) {
        self.stats.messages += 1;
        let to = (transmit.to.0 as usize).wrapping_sub(1);
        let believed = self.belief.get(&(from, to)).copied().unwrap_or(false);
        let refused = to < self.nodes.len() && !self.alive(to) && self.rng.chance(0.5);
        if to >= self.nodes.len() || !believed || refused {
            // The transport has no connection to this peer: the message comes back.
            self.stats.send_failed += 1;
            self.note(|| {
                format!(
                    "send-failed n{}->n{} {}",
                    from + 1,
                    to + 1,
                    trace::message(&transmit.message)
                )
            });
            let now = self.now_of(from);
            if let Some(core) = self.nodes[from].core.as_mut() {
                core.handle_send_failed(now, transmit);
            }
            return;
        }
        if self.links.drops_data(from, to) || self.rng.chance(self.cfg.net.loss) {
            self.stats.dropped += 1;
            self.note(|| {
                format!(
                    "lost n{}->n{} {}",
                    from + 1,
                    to + 1,
                    trace::message(&transmit.message)
                )
            });
            return;
        }
        let copies = if self.rng.chance(self.cfg.net.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (lo, hi) = if self.rng.chance(self.cfg.net.slow) {
                self.cfg.net.slow_delay_ms
            } else {
                self.cfg.net.delay_ms
            };
            let delay = self.rng.range(lo, hi);
            let to_incarnation = self.nodes[to].incarnation;
            self.schedule(
                delay,
                Event::Deliver {
                    from,
                    asker_incarnation: self.nodes[from].incarnation,
                    to,
                    to_incarnation,
                    message: Box::new(transmit.message.clone()),
                },
            );
        }
    }

    pub(super) fn storage(&mut self, node: usize, req: StorageRequest) {
        let incarnation = self.nodes[node].incarnation;
        let key = req.key.key.clone();
        match req.op {
            StorageOp::Read => {
                let result = StorageResult::Read(self.nodes[node].storage.get(&key).cloned());
                let n = &mut self.nodes[node];
                n.next_read += 1;
                let slot = n.next_read;
                n.reads.insert(slot, (req.token, result));
                let delay = self.rng.range(self.cfg.read_ms.0, self.cfg.read_ms.1);
                self.schedule(
                    delay,
                    Event::StorageDone {
                        node,
                        incarnation,
                        token: slot,
                    },
                );
                return;
            }
            StorageOp::Apply(mutation) => {
                let applied = match mutation.apply(self.nodes[node].storage.get(&key)) {
                    Ok(applied) => applied,
                    Err(refused) => {
                        let result = StorageResult::Refused(refused);
                        self.nodes[node].unsynced.push((req.token, result));
                        return;
                    }
                };
                let current = applied.object;
                if applied.changed {
                    self.nodes[node].storage.put(&key, current.clone());
                }
                self.note(|| {
                    format!(
                        "apply n{} {} -> {}",
                        node + 1,
                        String::from_utf8_lossy(&key),
                        trace::object(&current)
                    )
                });
                if let Mutation::Apply {
                    op: Op::Set { value: v, .. },
                    ..
                }
                | Mutation::ApplyAfter {
                    op: Op::Set { value: v, .. },
                    ..
                } = &mutation
                {
                    if let (Some(value), Some(s)) = (
                        client::decode_value(v),
                        current
                            .siblings()
                            .iter()
                            .find(|s| s.value.as_ref() == Some(v)),
                    ) {
                        self.minted.entry(value).or_insert(s.dot);
                    }
                }
                let result = StorageResult::Applied {
                    current,
                    changed: applied.changed,
                    outcome: applied.outcome,
                };
                self.nodes[node].unsynced.push((req.token, result));
            }
            StorageOp::Hint { target, object } => {
                self.nodes[node]
                    .storage
                    .merge_hint(target, &req.key, &object);
                self.nodes[node].unsynced.push((
                    req.token,
                    StorageResult::Applied {
                        current: object,
                        changed: true,
                        outcome: Outcome::Done,
                    },
                ));
            }
        }
        if !self.nodes[node].fsync_scheduled {
            self.nodes[node].fsync_scheduled = true;
            let delay = self.rng.range(self.cfg.fsync_ms.0, self.cfg.fsync_ms.1);
            self.schedule(delay, Event::Fsync { node, incarnation });
        }
    }

    pub(super) fn handoffs(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.alive(i) {
                continue;
            }
            for (target, key, object) in self.nodes[i].storage.hints() {
                let t = (target.0 as usize).wrapping_sub(1);
                let slot = (target, key.key.clone());
                if !self.belief.get(&(i, t)).copied().unwrap_or(false)
                    || self.nodes[i].handing_off.contains(&slot)
                {
                    continue;
                }
                self.nodes[i].handing_off.insert(slot);
                let now = self.now_of(i);
                let n = &mut self.nodes[i];
                n.next_request += 1;
                let id = n.next_request;
                n.waiting.insert(
                    id,
                    (
                        Waiter::Handoff {
                            target,
                            key: key.key.clone(),
                            object: object.clone(),
                        },
                        self.now,
                    ),
                );
                if let Some(core) = n.core.as_mut() {
                    core.handle_handoff(now, id, target, key, object, self.cfg.request_timeout_ms);
                }
                self.drain(i);
            }
        }
    }
}
