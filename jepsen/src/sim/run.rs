//! The state of one simulated run and its event loop.
//!
//! Phases: the workload runs with the nemesis injecting faults; once every operation has been
//! invoked and answered, everything heals and crashed nodes restart; after a quiet period every
//! key is read at `ALL` from every node (which read-repairs); after another quiet period the
//! final state is collected and checked.

use std::collections::{BTreeMap, BTreeSet};

use kvorum_consistency::{
    Core, CoreConfig, Dot, Message, Now, Object, StorageResult, StorageToken,
};
use kvorum_ring::{Layout, NodeId};

use super::client::{self, ClientCommand, Level};
use super::clock::Clock;
use super::config::{Mix, SimConfig};
use super::network::Links;
use super::report::{RunReport, Stats};
use super::rng::SimRng;
use super::storage::Storage;
use super::trace;
use crate::checker::FinalView;
use crate::history::{History, OpKind, OpOutcome};

#[derive(Clone, Debug)]
pub(super) enum Event {
    Deliver {
        from: usize,
        /// The sender's incarnation when it sent the message.
        asker_incarnation: u64,
        to: usize,
        to_incarnation: u64,
        message: Box<Message>,
    },
    StorageDone {
        node: usize,
        incarnation: u64,
        token: u64,
    },
    Fsync {
        node: usize,
        incarnation: u64,
    },
    Timer {
        node: usize,
        incarnation: u64,
    },
    ClientTick {
        client: usize,
    },
    Nemesis,
    Detect {
        observer: usize,
        peer: usize,
    },
    Restart {
        node: usize,
    },
    HandoffTick,
    FinalHeal,
    FinalReads,
    Stop,
}

/// Who waits for a request's reply.
#[derive(Clone, Debug)]
pub(super) enum Waiter {
    Client {
        client: usize,
        op: usize,
    },
    Handoff {
        target: NodeId,
        key: Vec<u8>,
        object: Object,
    },
    FinalRead {
        key: String,
    },
}

pub(super) struct Node {
    pub(super) id: NodeId,
    pub(super) core: Option<Core>,
    pub(super) incarnation: u64,
    pub(super) storage: Storage,
    pub(super) clock: Clock,
    pub(super) armed: Option<u64>,
    pub(super) fsync_scheduled: bool,
    /// Results waiting for the next fsync (token, result).
    pub(super) unsynced: Vec<(StorageToken, StorageResult)>,
    /// Reads waiting for their simulated latency.
    pub(super) reads: BTreeMap<u64, (StorageToken, StorageResult)>,
    pub(super) next_read: u64,
    /// Requests handed to the core and not yet answered: id → (who waits, when submitted).
    pub(super) waiting: BTreeMap<u64, (Waiter, u64)>,
    pub(super) next_request: u64,
    /// Hints with a handoff in flight: (target, key).
    pub(super) handing_off: BTreeSet<(NodeId, Vec<u8>)>,
}

pub(super) struct Client {
    pub(super) node: usize,
    pub(super) process: u64,
    pub(super) busy: bool,
    /// Set members this client added with an `ok` reply and has not tried to remove.
    pub(super) added: Vec<u64>,
}

pub(super) struct Sim {
    pub(super) cfg: SimConfig,
    pub(super) rng: SimRng,
    pub(super) now: u64,
    pub(super) seq: u64,
    pub(super) queue: BTreeMap<(u64, u64), Event>,
    pub(super) nodes: Vec<Node>,
    pub(super) layout: Layout,
    pub(super) links: Links,
    /// (observer, peer) → whether the observer believes the peer is up.
    pub(super) belief: BTreeMap<(usize, usize), bool>,
    pub(super) clients: Vec<Client>,
    pub(super) next_process: u64,
    pub(super) history: History,
    pub(super) invoked: usize,
    pub(super) next_value: u64,
    pub(super) minted: BTreeMap<u64, Dot>,
    /// What the final reads answered (counter and set workloads).
    pub(super) final_views: Vec<FinalView>,
    pub(super) problems: Vec<String>,
    pub(super) stats: Stats,
    pub(super) workload_done: bool,
    pub(super) stopped: bool,
    pub(super) trace: Option<Vec<String>>,
    /// (asker, its operation id) → the asker's incarnation when the question was delivered.
    pub(super) asked: BTreeMap<(usize, u64), u64>,
}

/// A configuration the simulator cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no layout for {nodes} nodes with replication {replication}: {reason}")]
    Layout {
        nodes: usize,
        replication: usize,
        reason: String,
    },
}

/// Runs one simulation. Deterministic: the same seed and configuration give the same report.
pub fn run(seed: u64, cfg: &SimConfig) -> Result<RunReport, SimError> {
    let mut sim = Sim::new(seed, cfg.clone())?;
    sim.start();
    while let Some(((at, _), event)) = sim.queue.pop_first() {
        if sim.stopped {
            break;
        }
        if at > sim.cfg.max_sim_ms {
            sim.problems.push(format!(
                "run did not finish within {} ms",
                sim.cfg.max_sim_ms
            ));
            break;
        }
        sim.now = at;
        sim.handle(event);
    }
    Ok(sim.finish(seed))
}

impl Sim {
    fn new(seed: u64, cfg: SimConfig) -> Result<Sim, SimError> {
        let mut rng = SimRng::new(seed);
        let ids: Vec<NodeId> = (1..=cfg.nodes as u64).map(NodeId).collect();
        let width = u8::try_from(cfg.replication).unwrap_or(u8::MAX);
        let layout = Layout::initial(&ids, 4, width).map_err(|e| SimError::Layout {
            nodes: cfg.nodes,
            replication: cfg.replication,
            reason: e.to_string(),
        })?;
        let mut nodes = Vec::new();
        for &id in &ids {
            let offset =
                rng.range(0, 2 * cfg.max_clock_offset_ms) as i64 - cfg.max_clock_offset_ms as i64;
            let drift = rng.range(0, 2 * cfg.max_drift_ppm) as i64 - cfg.max_drift_ppm as i64;
            nodes.push(Node {
                id,
                core: None,
                incarnation: 0,
                storage: Storage::default(),
                clock: Clock {
                    offset_ms: offset,
                    drift_ppm: drift,
                },
                armed: None,
                fsync_scheduled: false,
                unsynced: Vec::new(),
                reads: BTreeMap::new(),
                next_read: 0,
                waiting: BTreeMap::new(),
                next_request: 0,
                handing_off: BTreeSet::new(),
            });
        }
        let mut sim = Sim {
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            layout,
            links: Links::default(),
            belief: BTreeMap::new(),
            clients: Vec::new(),
            next_process: 0,
            history: History::new(),
            invoked: 0,
            next_value: 1,
            minted: BTreeMap::new(),
            final_views: Vec::new(),
            problems: Vec::new(),
            stats: Stats::default(),
            workload_done: false,
            stopped: false,
            trace: cfg.trace.then(Vec::new),
            asked: BTreeMap::new(),
            cfg,
        };
        for i in 0..sim.nodes.len() {
            sim.boot(i, true);
        }
        for node in 0..sim.nodes.len() {
            for _ in 0..sim.cfg.clients_per_node {
                let process = sim.next_process;
                sim.next_process += 1;
                sim.clients.push(Client {
                    node,
                    process,
                    busy: false,
                    added: Vec::new(),
                });
            }
        }
        Ok(sim)
    }

    fn start(&mut self) {
        for c in 0..self.clients.len() {
            let at = self.rng.range(0, self.cfg.think_ms);
            self.schedule(at, Event::ClientTick { client: c });
        }
        let at = self
            .rng
            .range(self.cfg.faults.interval_ms.0, self.cfg.faults.interval_ms.1);
        self.schedule(at, Event::Nemesis);
        self.schedule(self.cfg.handoff_interval_ms, Event::HandoffTick);
    }

    /// Appends a line to the trace, if one is kept (the text is only built then).
    pub(super) fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = self.trace.as_mut() {
            trace.push(format!("{} {}", self.now, line()));
        }
    }

    pub(super) fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.queue
            .insert((self.now.saturating_add(delay), self.seq), event);
    }

    pub(super) fn now_of(&self, node: usize) -> Now {
        Now {
            mono_ms: self.now,
            wall_ms: self.nodes[node].clock.wall_ms(self.now),
        }
    }

    /// Starts (or restarts) a node over its surviving storage. `trusting`: believe every peer is
    /// up from the start (the initial boot) rather than waiting for detection.
    pub(super) fn boot(&mut self, i: usize, trusting: bool) {
        #[allow(unused_mut)]
        let mut core = Core::new(
            CoreConfig {
                node: self.nodes[i].id,
                replication: self.cfg.replication,
                // Unique per incarnation: fewer than 2^20 operations per simulated ms.
                first_op_id: (self.now + 1) << 20,
                // Applies complete only after the simulated fsync.
                durable_writes: true,
            },
            self.layout.clone(),
        );
        #[cfg(feature = "fault-injection")]
        core.set_faults(self.cfg.core_faults);
        self.nodes[i].core = Some(core);
        self.nodes[i].armed = None;
        for p in 0..self.nodes.len() {
            if p == i {
                continue;
            }
            self.belief.insert((i, p), trusting);
            if trusting {
                let peer = self.nodes[p].id;
                if let Some(core) = self.nodes[i].core.as_mut() {
                    core.set_reachable(peer, true);
                }
            }
        }
        self.reconsider_detection();
    }

    pub(super) fn alive(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.core.is_some())
    }

    /// Whether `observer` would hear heartbeats from `peer` right now.
    fn truly_up(&self, observer: usize, peer: usize) -> bool {
        self.alive(observer) && self.alive(peer) && !self.links.is_cut(peer, observer)
    }

    /// Schedules detection for every belief that no longer matches reality.
    pub(super) fn reconsider_detection(&mut self) {
        let n = self.nodes.len();
        for o in 0..n {
            for p in 0..n {
                if o == p || !self.alive(o) {
                    continue;
                }
                if self.belief.get(&(o, p)).copied() != Some(self.truly_up(o, p)) {
                    let (lo, hi) = self.cfg.faults.detect_ms;
                    let delay = self.rng.range(lo, hi);
                    self.schedule(
                        delay,
                        Event::Detect {
                            observer: o,
                            peer: p,
                        },
                    );
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver {
                from,
                asker_incarnation,
                to,
                to_incarnation,
                message,
            } => {
                if self.nodes[to].incarnation != to_incarnation
                    || !self.alive(to)
                    || self.links.drops_data(from, to)
                {
                    self.stats.dropped += 1;
                    self.note(|| {
                        format!(
                            "lost n{}->n{} {}",
                            from + 1,
                            to + 1,
                            trace::message(&message)
                        )
                    });
                    return;
                }
                self.note(|| {
                    format!(
                        "deliver n{}->n{} {}",
                        from + 1,
                        to + 1,
                        trace::message(&message)
                    )
                });
                self.track_answers(from, asker_incarnation, to, &message);
                let now = self.now_of(to);
                let peer = self.nodes[from].id;
                if let Some(core) = self.nodes[to].core.as_mut() {
                    core.handle_message(now, peer, *message);
                }
                self.drain(to);
            }
            Event::StorageDone {
                node,
                incarnation,
                token,
            } => {
                if self.nodes[node].incarnation != incarnation {
                    return;
                }
                if let Some((token, result)) = self.nodes[node].reads.remove(&token) {
                    let now = self.now_of(node);
                    if let Some(core) = self.nodes[node].core.as_mut() {
                        core.handle_storage(now, token, result);
                    }
                    self.drain(node);
                }
            }
            Event::Fsync { node, incarnation } => {
                if self.nodes[node].incarnation != incarnation {
                    return;
                }
                self.nodes[node].fsync_scheduled = false;
                self.nodes[node].storage.sync();
                let done = std::mem::take(&mut self.nodes[node].unsynced);
                let now = self.now_of(node);
                for (token, result) in done {
                    if let Some(core) = self.nodes[node].core.as_mut() {
                        core.handle_storage(now, token, result);
                    }
                    self.drain(node);
                }
            }
            Event::Timer { node, incarnation } => {
                if self.nodes[node].incarnation != incarnation {
                    return;
                }
                self.nodes[node].armed = None;
                let now = self.now_of(node);
                if let Some(core) = self.nodes[node].core.as_mut() {
                    core.handle_timeout(now);
                }
                self.drain(node);
            }
            Event::ClientTick { client } => self.client_tick(client),
            Event::Nemesis => self.nemesis(),
            Event::Detect { observer, peer } => {
                if !self.alive(observer) {
                    return;
                }
                let up = self.truly_up(observer, peer);
                if self.belief.insert((observer, peer), up) != Some(up) {
                    self.note(|| {
                        format!(
                            "detect n{} believes n{} {}",
                            observer + 1,
                            peer + 1,
                            if up { "up" } else { "down" }
                        )
                    });
                    let id = self.nodes[peer].id;
                    if let Some(core) = self.nodes[observer].core.as_mut() {
                        core.set_reachable(id, up);
                    }
                }
            }
            Event::Restart { node } => {
                if !self.alive(node) {
                    self.note(|| format!("restart n{}", node + 1));
                    self.boot(node, false);
                }
            }
            Event::HandoffTick => {
                self.handoffs();
                if !self.stopped {
                    self.schedule(self.cfg.handoff_interval_ms, Event::HandoffTick);
                }
            }
            Event::FinalHeal => {
                self.note(|| "final heal".to_owned());
                self.links.heal();
                for i in 0..self.nodes.len() {
                    if !self.alive(i) {
                        self.boot(i, false);
                    }
                }
                self.reconsider_detection();
                self.schedule(self.cfg.quiet_ms, Event::FinalReads);
            }
            Event::FinalReads => {
                for i in 0..self.nodes.len() {
                    for k in 0..self.cfg.keys {
                        let key = key_name(k);
                        let request = client::request(
                            &key,
                            ClientCommand::Read,
                            Level::All,
                            self.cfg.request_timeout_ms,
                        );
                        self.submit(i, Waiter::FinalRead { key }, request);
                    }
                }
                self.schedule(self.cfg.quiet_ms, Event::Stop);
            }
            Event::Stop => self.stopped = true,
        }
    }

    fn client_tick(&mut self, c: usize) {
        if self.clients[c].busy || self.workload_done {
            return;
        }
        if self.invoked >= self.cfg.ops {
            self.maybe_end_workload();
            return;
        }
        let node = self.clients[c].node;
        if !self.alive(node) {
            // The client's node is down: try again later.
            let think = self.cfg.think_ms.max(1) * 5;
            self.schedule(think, Event::ClientTick { client: c });
            return;
        }
        let key = key_name(self.rng.index(self.cfg.keys.max(1)));
        let command = self.next_command(c);
        let (kind, value) = match command {
            ClientCommand::Read => (OpKind::Read, None),
            ClientCommand::Write(v) => (OpKind::Write, Some(v)),
            ClientCommand::Incr(delta) => (OpKind::Incr(delta), None),
            ClientCommand::SAdd(v) => (OpKind::SAdd, Some(v)),
            ClientCommand::SRem(v) => (OpKind::SRem, Some(v)),
        };
        let process = self.clients[c].process;
        let op = self
            .history
            .invoke(process, self.nodes[node].id.0, &key, kind, value, self.now);
        self.invoked += 1;
        self.clients[c].busy = true;
        let request = client::request(&key, command, self.cfg.level, self.cfg.request_timeout_ms);
        self.submit(node, Waiter::Client { client: c, op }, request);
    }

    /// What client `c` does next, by the workload's [`Mix`].
    fn next_command(&mut self, c: usize) -> ClientCommand {
        match self.cfg.mix {
            Mix::Register if self.rng.chance(0.5) => ClientCommand::Write(self.fresh_value()),
            Mix::Register => ClientCommand::Read,
            Mix::Counter => {
                let magnitude = self.rng.range(1, 5) as i64;
                ClientCommand::Incr(if self.rng.chance(0.5) {
                    magnitude
                } else {
                    -magnitude
                })
            }
            Mix::Set => {
                let added = self.clients[c].added.len();
                if added > 0 && self.rng.chance(0.2) {
                    let member = self.clients[c].added.swap_remove(self.rng.index(added));
                    ClientCommand::SRem(member)
                } else {
                    ClientCommand::SAdd(self.fresh_value())
                }
            }
        }
    }

    /// A value no operation has used yet.
    fn fresh_value(&mut self) -> u64 {
        let v = self.next_value;
        self.next_value += 1;
        v
    }

    /// A client's operation ended; it thinks, then goes on.
    pub(super) fn client_done(&mut self, c: usize, outcome: OpOutcome) {
        self.clients[c].busy = false;
        if outcome == OpOutcome::Info {
            // As in Jepsen: a process with an indeterminate operation never issues another.
            self.clients[c].process = self.next_process;
            self.next_process += 1;
        }
        let think = self.rng.range(0, self.cfg.think_ms);
        self.schedule(think, Event::ClientTick { client: c });
        self.maybe_end_workload();
    }

    pub(super) fn maybe_end_workload(&mut self) {
        if !self.workload_done
            && self.invoked >= self.cfg.ops
            && self.clients.iter().all(|c| !c.busy)
        {
            self.workload_done = true;
            self.schedule(0, Event::FinalHeal);
        }
    }
}

/// The workload's name for key number `k`.
pub fn key_name(k: usize) -> String {
    format!("k{k}")
}
