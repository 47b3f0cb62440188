//! Drives several [`Core`]s through a tiny in-process network and in-memory storage, to test the
//! request paths end to end without I/O: quorum reads and writes, `UNAVAILABLE` before anything
//! is applied, `TIMEOUT` when replicas stay silent, and forwarding from a non-primary.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use kvorum_consistency::{
    Command, Condition, Consistency, Core, CoreConfig, Key, Level, Message, Mode, Now, Object, Op,
    Outcome, Preset, Reply, Request, StorageOp, StorageResult, Ttl,
};
use kvorum_ring::{Layout, NamespaceId, NodeId};

struct Cluster {
    cores: BTreeMap<NodeId, Core>,
    stores: BTreeMap<NodeId, BTreeMap<Vec<u8>, Object>>,
    /// Hints each node keeps: (target, key) -> state.
    hints: BTreeMap<NodeId, BTreeMap<(NodeId, Vec<u8>), Object>>,
    /// Nodes whose incoming messages are silently lost (crashed but not yet noticed).
    silent: BTreeSet<NodeId>,
    /// Nodes others know to be down: sends to them fail.
    down: BTreeSet<NodeId>,
    inbox: VecDeque<(NodeId, NodeId, Message)>,
    replies: BTreeMap<(NodeId, u64), Reply>,
    writes_applied: usize,
    /// Storage reads run, on every node.
    storage_reads: usize,
    now: Now,
}

impl Cluster {
    fn new(nodes: u64, n: usize) -> Self {
        Self::with_durability(nodes, n, true)
    }

    /// `durable`: whether the nodes' storage applies are durable (fsync = always).
    fn with_durability(nodes: u64, n: usize, durable: bool) -> Self {
        let ids: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
        let layout = Layout::initial(&ids, 6, 3).unwrap();
        let mut cores = BTreeMap::new();
        for &id in &ids {
            let mut core = Core::new(
                CoreConfig {
                    node: id,
                    replication: n,
                    first_op_id: 0,
                    durable_writes: durable,
                },
                layout.clone(),
            );
            for &peer in &ids {
                if peer != id {
                    core.set_reachable(peer, true);
                }
            }
            cores.insert(id, core);
        }
        let stores = ids.iter().map(|&id| (id, BTreeMap::new())).collect();
        let hints = ids.iter().map(|&id| (id, BTreeMap::new())).collect();
        Cluster {
            cores,
            stores,
            hints,
            silent: BTreeSet::new(),
            down: BTreeSet::new(),
            inbox: VecDeque::new(),
            replies: BTreeMap::new(),
            writes_applied: 0,
            storage_reads: 0,
            now: Now {
                mono_ms: 0,
                wall_ms: 1_000,
            },
        }
    }

    /// Marks a node as down: every other node learns it is unreachable.
    fn kill(&mut self, node: NodeId) {
        self.down.insert(node);
        for core in self.cores.values_mut() {
            core.set_reachable(node, false);
        }
    }

    /// Brings a node marked down back (its storage kept).
    fn revive(&mut self, node: NodeId) {
        self.down.remove(&node);
        for core in self.cores.values_mut() {
            core.set_reachable(node, true);
        }
    }

    /// Replaces a node's core with a fresh one, as a restart does (its clock starts over; its
    /// storage is kept).
    fn restart(&mut self, node: NodeId, n: usize) {
        let ids: Vec<NodeId> = self.cores.keys().copied().collect();
        let layout = Layout::initial(&ids, 6, 3).unwrap();
        let config = CoreConfig {
            node,
            replication: n,
            first_op_id: 1_000,
            durable_writes: true,
        };
        let mut core = Core::new(config, layout);
        for &peer in ids
            .iter()
            .filter(|&&p| p != node && !self.down.contains(&p))
        {
            core.set_reachable(peer, true);
        }
        self.cores.insert(node, core);
    }

    fn stored(&self, node: u64, key: &str) -> Option<Object> {
        self.stores[&NodeId(node)].get(key.as_bytes()).cloned()
    }

    fn request(
        &mut self,
        at: NodeId,
        id: u64,
        key: &str,
        command: Command,
        preset: Preset,
    ) -> Reply {
        self.request_in(at, id, key, command, preset, None)
    }

    /// A request in a namespace of replication factor `n` (`None`: the cluster's).
    fn request_in(
        &mut self,
        at: NodeId,
        id: u64,
        key: &str,
        command: Command,
        preset: Preset,
        n: Option<usize>,
    ) -> Reply {
        let request = Request {
            key: Key {
                ns: NamespaceId(0),
                key: key.as_bytes().to_vec(),
            },
            command,
            consistency: Consistency::Preset(preset),
            timeout_ms: 100,
            n,
            default_ttl_ms: None,
        };
        self.cores
            .get_mut(&at)
            .unwrap()
            .handle_request(self.now, id, request);
        self.run();
        if !self.replies.contains_key(&(at, id)) {
            // Let time pass so the request can time out.
            self.now.mono_ms += 1_000;
            self.cores.get_mut(&at).unwrap().handle_timeout(self.now);
            self.run();
        }
        without_acks(
            self.replies
                .remove(&(at, id))
                .expect("every request is answered"),
        )
    }

    fn run(&mut self) {
        loop {
            let mut progressed = false;
            let ids: Vec<NodeId> = self.cores.keys().copied().collect();
            for id in ids {
                progressed |= self.drain(id);
            }
            while let Some((from, to, message)) = self.inbox.pop_front() {
                progressed = true;
                if !self.silent.contains(&to) {
                    self.cores
                        .get_mut(&to)
                        .unwrap()
                        .handle_message(self.now, from, message);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn drain(&mut self, id: NodeId) -> bool {
        let mut progressed = false;
        loop {
            let core = self.cores.get_mut(&id).unwrap();
            if let Some(t) = core.poll_transmit() {
                progressed = true;
                if self.down.contains(&t.to) {
                    core.handle_send_failed(self.now, t);
                } else {
                    self.inbox.push_back((id, t.to, t.message));
                }
                continue;
            }
            if let Some(req) = core.poll_storage() {
                progressed = true;
                let store = self.stores.get_mut(&id).unwrap();
                let result = match req.op {
                    StorageOp::Read => {
                        self.storage_reads += 1;
                        StorageResult::Read(store.get(&req.key.key).cloned())
                    }
                    StorageOp::Apply(m) => match m.apply(store.get(&req.key.key)) {
                        Ok(applied) => {
                            if applied.changed {
                                store.insert(req.key.key.clone(), applied.object.clone());
                                self.writes_applied += 1;
                            }
                            StorageResult::Applied {
                                current: applied.object,
                                changed: applied.changed,
                                outcome: applied.outcome,
                            }
                        }
                        Err(refused) => StorageResult::Refused(refused),
                    },
                    StorageOp::Hint { target, object } => {
                        let hints = self.hints.get_mut(&id).unwrap();
                        let slot = hints.entry((target, req.key.key.clone())).or_default();
                        *slot = slot.merge(&object);
                        StorageResult::Applied {
                            current: object,
                            changed: true,
                            outcome: Outcome::Done,
                        }
                    }
                };
                core.handle_storage(self.now, req.token, result);
                continue;
            }
            if let Some((rid, reply)) = core.poll_reply() {
                progressed = true;
                self.replies.insert((id, rid), reply);
                continue;
            }
            return progressed;
        }
    }
}

fn put(v: &str) -> Command {
    Command::Write(Op::set(v.to_owned()))
}

/// `SET k v GET`: answers the value the write replaced.
fn put_get(v: &str) -> Command {
    Command::Write(Op::Set {
        value: Bytes::from(v.to_owned()),
        condition: Condition::Always,
        ttl: Ttl::Clear,
        get: true,
    })
}

fn replaced(old: &str) -> Reply {
    Reply::Written {
        outcome: Outcome::Old(Some(Bytes::from(old.to_owned()))),
        acks: 0,
    }
}

fn done() -> Reply {
    Reply::Written {
        outcome: Outcome::Done,
        acks: 0,
    }
}

/// Replies with the acknowledgement count left out, for comparing outcomes (the counts are
/// checked by `a_written_reply_counts_the_replicas_that_hold_it`).
fn without_acks(reply: Reply) -> Reply {
    match reply {
        Reply::Written { outcome, .. } => Reply::Written { outcome, acks: 0 },
        other => other,
    }
}

fn value(reply: &Reply) -> Option<Bytes> {
    match reply {
        Reply::Value(o) => o.as_ref().and_then(|o| o.value().cloned()),
        other => panic!("expected a value, got {other:?}"),
    }
}

#[test]
fn a_quorum_write_through_one_node_is_read_through_another() {
    let mut c = Cluster::new(3, 3);
    assert_eq!(
        c.request(NodeId(1), 1, "k", put("v"), Preset::Quorum),
        done()
    );
    let got = c.request(NodeId(2), 2, "k", Command::Get, Preset::Quorum);
    assert_eq!(value(&got).unwrap(), "v");
    // Every primary holds it: N = 3 of 3 nodes.
    for store in c.stores.values() {
        assert_eq!(
            store
                .get(b"k".as_slice())
                .and_then(|o| o.value().cloned())
                .unwrap(),
            "v"
        );
    }
}

#[test]
fn overwrite_and_delete_report_what_existed() {
    let mut c = Cluster::new(3, 3);
    c.request(NodeId(1), 1, "k", put("a"), Preset::All);
    assert_eq!(
        c.request(NodeId(2), 2, "k", put_get("b"), Preset::All),
        replaced("a")
    );
    assert_eq!(
        value(&c.request(NodeId(3), 3, "k", Command::Get, Preset::One)).unwrap(),
        "b"
    );
    assert_eq!(
        c.request(NodeId(3), 4, "k", Command::Write(Op::delete()), Preset::All),
        Reply::Written {
            outcome: Outcome::Int(1),
            acks: 0
        }
    );
    assert_eq!(
        value(&c.request(NodeId(1), 5, "k", Command::Get, Preset::All)),
        None
    );
    assert_eq!(
        c.request(NodeId(1), 6, "k", Command::Write(Op::delete()), Preset::All),
        Reply::Written {
            outcome: Outcome::Int(0),
            acks: 0
        }
    );
}

#[test]
fn with_one_node_down_quorum_works_and_all_is_unavailable_without_applying() {
    let mut c = Cluster::new(3, 3);
    c.request(NodeId(1), 1, "k", put("before"), Preset::All);
    c.kill(NodeId(3));
    assert_eq!(
        c.request(NodeId(1), 2, "k", put_get("after"), Preset::Quorum),
        replaced("before")
    );
    assert_eq!(
        value(&c.request(NodeId(2), 3, "k", Command::Get, Preset::Quorum)).unwrap(),
        "after"
    );

    let applied = c.writes_applied;
    let reply = c.request(NodeId(1), 4, "k", put("never"), Preset::All);
    assert_eq!(
        reply,
        Reply::Unavailable {
            needed: 3,
            reachable: 2
        }
    );
    assert_eq!(
        c.writes_applied, applied,
        "an UNAVAILABLE write must not touch any replica"
    );
    assert_eq!(
        c.request(NodeId(2), 5, "k", Command::Get, Preset::All),
        Reply::Unavailable {
            needed: 3,
            reachable: 2
        }
    );
}

#[test]
fn silent_replicas_make_a_write_time_out_as_indeterminate() {
    let mut c = Cluster::new(3, 3);
    // Node 3 stopped answering but nobody noticed yet: the write (R=1 to learn, W=3) is sent,
    // then times out.
    c.silent.insert(NodeId(3));
    let level = Level {
        r: 1,
        w: 3,
        dw: 0,
        sloppy: false,
        mode: Mode::Quorum,
    };
    let reply = put_with(&mut c, NodeId(1), 1, "k", "v", level);
    assert_eq!(reply, Reply::Timeout { acks: 2, needed: 3 });
    // It was applied on the replicas that answered: TIMEOUT means "may have applied".
    assert_eq!(
        value(&c.request(NodeId(2), 2, "k", Command::Get, Preset::One)).unwrap(),
        "v"
    );
}

#[test]
fn a_quorum_write_that_cannot_learn_in_time_applies_nothing() {
    let mut c = Cluster::new(3, 3);
    // ALL must first read all three replicas; node 3 is silent, so nothing is written.
    c.silent.insert(NodeId(3));
    let reply = c.request(NodeId(1), 1, "k", put("v"), Preset::All);
    assert!(matches!(reply, Reply::Unavailable { .. }), "{reply:?}");
    assert_eq!(c.writes_applied, 0);
}

#[test]
fn a_write_at_a_non_primary_is_forwarded_and_skips_a_dead_primary() {
    let mut c = Cluster::new(5, 3);
    let layout = c.cores[&NodeId(1)].layout().clone();
    let partition = layout.partition_for_key(NamespaceId(0), b"k");
    let list = layout.preference_list(partition, 3).unwrap();
    let outsider = *list.fallbacks.first().unwrap();
    let first = list.primaries[0];
    // The outsider still believes the first primary is reachable, but sending to it fails.
    c.down.insert(first);
    let reply = c.request(outsider, 1, "k", put("v"), Preset::Quorum);
    assert_eq!(reply, done());
    assert!(
        c.stores[&outsider].is_empty(),
        "a non-primary stores nothing"
    );
    assert!(c.stores[&first].is_empty(), "the dead primary got nothing");
    c.down.clear();
    let reader = list.primaries[1];
    assert_eq!(
        value(&c.request(reader, 2, "k", Command::Get, Preset::Quorum)).unwrap(),
        "v"
    );
}

#[test]
fn a_forward_with_no_primary_reachable_is_unavailable() {
    let mut c = Cluster::new(5, 3);
    let layout = c.cores[&NodeId(1)].layout().clone();
    let list = layout
        .preference_list(layout.partition_for_key(NamespaceId(0), b"k"), 3)
        .unwrap();
    let outsider = *list.fallbacks.first().unwrap();
    for &p in list.primaries {
        c.down.insert(p);
    }
    let reply = c.request(outsider, 1, "k", put("v"), Preset::One);
    assert!(matches!(reply, Reply::Unavailable { .. }), "{reply:?}");
    assert_eq!(c.writes_applied, 0);
}

#[test]
fn a_read_repairs_the_stale_replicas_it_saw() {
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    c.request(NodeId(1), 1, "k", put("new"), Preset::Quorum);
    assert!(c.stored(3, "k").is_none());
    c.revive(NodeId(3));
    // A QUORUM read answers after 2 replies, then repairs node 3 in the background.
    assert_eq!(
        value(&c.request(NodeId(2), 2, "k", Command::Get, Preset::Quorum)).unwrap(),
        "new"
    );
    assert_eq!(
        c.stored(3, "k").and_then(|o| o.value().cloned()).unwrap(),
        "new"
    );
    assert_eq!(c.cores[&NodeId(2)].stats().read_repairs, 1);
    // Nothing left in flight once the repair went out.
    assert_eq!(c.cores[&NodeId(2)].in_flight(), 0);
}

#[test]
fn a_strong_read_writes_back_to_a_majority_before_answering() {
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    c.request(NodeId(1), 1, "k", put("v1"), Preset::Quorum);
    // Node 1 holds v1; node 2 goes away before node 3 comes back: a majority read now sees
    // {1: v1, 3: nothing} and must not answer before v1 is on a majority.
    c.kill(NodeId(2));
    c.revive(NodeId(3));
    let got = c.request(NodeId(3), 2, "k", Command::Get, Preset::Strong);
    assert_eq!(value(&got).unwrap(), "v1");
    assert_eq!(
        c.stored(3, "k").and_then(|o| o.value().cloned()).unwrap(),
        "v1"
    );
    assert_eq!(c.cores[&NodeId(3)].stats().write_backs, 1);
}

#[test]
fn a_strong_read_that_cannot_write_back_times_out_rather_than_answering() {
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    c.request(NodeId(1), 1, "k", put("v1"), Preset::Quorum);
    c.revive(NodeId(3));
    c.kill(NodeId(2));
    // Node 3 looks reachable but drops everything: the read gets {1: v1} only.
    c.silent.insert(NodeId(3));
    let got = c.request(NodeId(1), 2, "k", Command::Get, Preset::Strong);
    assert!(matches!(got, Reply::Timeout { .. }), "{got:?}");
}

#[test]
fn a_strong_write_supersedes_what_a_majority_knew() {
    let mut c = Cluster::new(3, 3);
    // "a" reaches nodes 1 and 2 only.
    c.kill(NodeId(3));
    c.request(NodeId(1), 1, "k", put("a"), Preset::Quorum);
    c.revive(NodeId(3));
    // A strong write coordinated by node 3 (which never saw "a"), with node 1 away: it learns
    // "a" from node 2 and writes over it instead of beside it.
    c.kill(NodeId(1));
    let written = c.request(NodeId(3), 2, "k", put_get("b"), Preset::Strong);
    assert_eq!(written, replaced("a"));
    c.revive(NodeId(1));
    let all = c.request(NodeId(1), 3, "k", Command::Get, Preset::All);
    let Reply::Value(Some(object)) = all else {
        panic!("{all:?}")
    };
    assert_eq!(object.value().unwrap(), "b");
    assert_eq!(
        object.siblings().len(),
        1,
        "no sibling left for the superseded write"
    );
}

#[test]
fn an_eventual_write_beside_an_unseen_one_leaves_siblings() {
    // The contrast with the learning writes (quorum, strong): a ONE write does not learn first,
    // so it is concurrent with "a" and both survive as siblings.
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    c.request(NodeId(1), 1, "k", put("a"), Preset::Quorum);
    c.revive(NodeId(3));
    c.kill(NodeId(1));
    c.request(NodeId(3), 2, "k", put("b"), Preset::One);
    c.revive(NodeId(1));
    let Reply::Value(Some(object)) = c.request(NodeId(1), 3, "k", Command::Get, Preset::All) else {
        panic!()
    };
    assert_eq!(object.siblings().len(), 2);
}

#[test]
fn a_strong_write_that_cannot_learn_from_a_majority_applies_nothing() {
    let mut c = Cluster::new(3, 3);
    c.silent.insert(NodeId(2));
    c.silent.insert(NodeId(3));
    let reply = c.request(NodeId(1), 1, "k", put("x"), Preset::Strong);
    assert!(matches!(reply, Reply::Unavailable { .. }), "{reply:?}");
    assert_eq!(c.writes_applied, 0);
}

fn put_with(c: &mut Cluster, at: NodeId, id: u64, key: &str, v: &str, level: Level) -> Reply {
    let request = Request {
        key: Key {
            ns: NamespaceId(0),
            key: key.as_bytes().to_vec(),
        },
        command: put(v),
        consistency: Consistency::Explicit(level),
        timeout_ms: 100,
        n: None,
        default_ttl_ms: None,
    };
    c.cores
        .get_mut(&at)
        .unwrap()
        .handle_request(c.now, id, request);
    c.run();
    if !c.replies.contains_key(&(at, id)) {
        c.now.mono_ms += 1_000;
        c.cores.get_mut(&at).unwrap().handle_timeout(c.now);
        c.run();
    }
    c.replies.remove(&(at, id)).unwrap()
}

fn w3(sloppy: bool) -> Level {
    Level {
        r: 2,
        w: 3,
        dw: 0,
        sloppy,
        mode: Mode::derive(2, 3, sloppy, 3),
    }
}

#[test]
fn sloppy_writes_let_a_fallback_stand_in_and_hand_the_write_over_later() {
    let mut c = Cluster::new(4, 3);
    let layout = c.cores[&NodeId(1)].layout().clone();
    let list = layout
        .preference_list(layout.partition_for_key(NamespaceId(0), b"k"), 3)
        .unwrap();
    let (down, coordinator, fallback) = (list.primaries[2], list.primaries[0], list.fallbacks[0]);
    c.kill(down);
    // W=3 STRICT cannot be met: refused before anything is applied.
    assert_eq!(
        put_with(&mut c, coordinator, 1, "k", "v", w3(false)),
        Reply::Unavailable {
            needed: 3,
            reachable: 2
        }
    );
    assert_eq!(c.writes_applied, 0);
    // W=3 SLOPPY: the fallback stands in and keeps a hint for the dead primary.
    assert_eq!(
        put_with(&mut c, coordinator, 2, "k", "v", w3(true)),
        Reply::Written {
            outcome: Outcome::Done,
            acks: 3
        }
    );
    let hint = c.hints[&fallback][&(down, b"k".to_vec())].clone();
    assert_eq!(hint.value().unwrap(), "v");
    assert!(
        c.stores[&fallback].is_empty(),
        "a stand-in keeps a hint, not data"
    );
    // The primary comes back: handing the hint over gives it the write it missed.
    c.revive(down);
    let key = Key {
        ns: NamespaceId(0),
        key: b"k".to_vec(),
    };
    c.cores
        .get_mut(&fallback)
        .unwrap()
        .handle_handoff(c.now, 99, down, key, hint, 100);
    c.run();
    let handed = c.replies.remove(&(fallback, 99)).map(without_acks);
    assert_eq!(handed, Some(done()));
    assert_eq!(
        c.stored(down.0, "k")
            .and_then(|o| o.value().cloned())
            .unwrap(),
        "v"
    );
}

#[test]
fn a_strict_write_that_misses_a_primary_leaves_a_hint_that_does_not_count() {
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    assert_eq!(
        c.request(NodeId(1), 1, "k", put("v"), Preset::Quorum),
        done()
    );
    // The coordinator keeps the hint for node 3 itself.
    assert!(c.hints[&NodeId(1)].contains_key(&(NodeId(3), b"k".to_vec())));
}

#[test]
fn a_handoff_to_an_unreachable_target_is_not_acknowledged() {
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    let key = Key {
        ns: NamespaceId(0),
        key: b"k".to_vec(),
    };
    let object = Object::new()
        .write(
            NodeId(1),
            &Default::default(),
            Some("v".into()),
            Default::default(),
        )
        .0;
    c.cores
        .get_mut(&NodeId(1))
        .unwrap()
        .handle_handoff(c.now, 7, NodeId(3), key, object, 100);
    c.run();
    let reply = c.replies.remove(&(NodeId(1), 7)).unwrap();
    assert!(!matches!(reply, Reply::Written { .. }), "{reply:?}");
}

#[test]
fn a_quorum_write_supersedes_an_earlier_write_it_never_held_even_with_a_slower_clock() {
    // The regular-register promise: "a" is acknowledged by nodes 1 and 2; a later QUORUM write
    // through node 3, whose clock is far behind and which never held "a", must still win.
    let mut c = Cluster::new(3, 3);
    c.kill(NodeId(3));
    c.now.wall_ms = 1_000_000;
    c.request(NodeId(1), 1, "k", put("a"), Preset::Quorum);
    c.revive(NodeId(3));
    c.kill(NodeId(1));
    c.now.wall_ms = 1_000; // node 3's writes get far older timestamps
    assert_eq!(
        c.request(NodeId(3), 2, "k", put_get("b"), Preset::Quorum),
        replaced("a")
    );
    c.revive(NodeId(1));
    assert_eq!(
        value(&c.request(NodeId(1), 3, "k", Command::Get, Preset::All)).unwrap(),
        "b"
    );
}

#[test]
fn a_quorum_write_on_a_single_replica_learns_in_its_own_storage_step() {
    // N = 1: the only copy to learn from is the coordinator's, so the write is applied over it
    // in one storage step (no separate read) and still supersedes what was there.
    let mut c = Cluster::new(1, 1);
    for preset in [Preset::Quorum, Preset::Strong] {
        c.request(NodeId(1), 1, "k", put("a"), preset);
        assert_eq!(
            c.request(NodeId(1), 2, "k", put_get("b"), preset),
            replaced("a")
        );
    }
    assert_eq!(c.storage_reads, 0, "no learning read");
    assert_eq!(
        value(&c.request(NodeId(1), 3, "k", Command::Get, Preset::Quorum)).unwrap(),
        "b"
    );
    assert_eq!(
        c.stored(1, "k").unwrap().siblings().len(),
        1,
        "no siblings left"
    );
}

#[test]
fn a_write_without_a_learning_read_still_orders_after_the_stored_versions() {
    // A version written under a clock far ahead; then the node restarts with its clock far
    // behind. Its next write (which learns in the storage step, N = 1) must get a later
    // timestamp than the stored version, and the clock must observe it.
    let mut c = Cluster::new(1, 1);
    c.now.wall_ms = 1_000_000;
    c.request(NodeId(1), 1, "k", put("a"), Preset::Quorum);
    let before = c.stored(1, "k").unwrap().max_timestamp().unwrap();
    c.restart(NodeId(1), 1);
    c.now.wall_ms = 1_000;
    for (id, preset) in [(2, Preset::Quorum), (3, Preset::One)] {
        c.request(NodeId(1), id, "k", put("b"), preset);
        let after = c.stored(1, "k").unwrap().max_timestamp().unwrap();
        assert!(
            after > before,
            "{preset:?}: {after:?} must order after {before:?}"
        );
    }
    assert_eq!(
        value(&c.request(NodeId(1), 4, "k", Command::Get, Preset::Quorum)).unwrap(),
        "b"
    );
}

#[test]
fn a_late_local_read_from_the_learning_phase_does_not_end_the_write() {
    // Remote answers complete the learning phase before the local read does; the local read's
    // completion must then be ignored, not mistaken for the write's.
    let ids: Vec<NodeId> = (1..=3).map(NodeId).collect();
    let layout = Layout::initial(&ids, 6, 3).unwrap();
    let config = CoreConfig {
        node: NodeId(1),
        replication: 3,
        first_op_id: 0,
        durable_writes: true,
    };
    let mut core = Core::new(config, layout);
    core.set_reachable(NodeId(2), true);
    core.set_reachable(NodeId(3), true);
    let now = Now {
        mono_ms: 0,
        wall_ms: 1,
    };
    let key = Key {
        ns: NamespaceId(0),
        key: b"k".to_vec(),
    };
    let request = Request {
        key,
        command: put("v"),
        consistency: Consistency::Preset(Preset::Quorum),
        timeout_ms: 100,
        n: None,
        default_ttl_ms: None,
    };
    core.handle_request(now, 1, request);
    let read = core.poll_storage().unwrap();
    let mut fetches = Vec::new();
    while let Some(t) = core.poll_transmit() {
        fetches.push(t);
    }
    for t in fetches {
        let Message::Fetch { op, .. } = t.message else {
            panic!("{t:?}")
        };
        core.handle_message(
            now,
            t.to,
            Message::Fetched {
                op,
                result: Ok(None),
            },
        );
    }
    // The write's own local apply is queued now; the learning read completes late.
    let apply = core.poll_storage().unwrap();
    core.handle_storage(now, read.token, StorageResult::Read(None));
    assert_eq!(
        core.poll_reply(),
        None,
        "the late read must not answer the write"
    );
    let StorageOp::Apply(mutation) = apply.op else {
        panic!()
    };
    let applied = mutation.apply(None).unwrap();
    core.handle_storage(
        now,
        apply.token,
        StorageResult::Applied {
            current: applied.object,
            changed: applied.changed,
            outcome: applied.outcome,
        },
    );
    let mut stores = Vec::new();
    while let Some(t) = core.poll_transmit() {
        stores.push(t);
    }
    for t in stores {
        let Message::Store { op, .. } = t.message else {
            continue;
        };
        core.handle_message(
            now,
            t.to,
            Message::Stored {
                op,
                result: Ok(()),
                durable: true,
            },
        );
    }
    let reply = core.poll_reply().map(|(id, r)| (id, without_acks(r)));
    assert_eq!(reply, Some((1, done())));
}

#[test]
fn dw_counts_only_durable_acknowledgements() {
    let level = |dw| Level {
        r: 2,
        w: 2,
        dw,
        sloppy: false,
        mode: Mode::Quorum,
    };
    // Nodes that acknowledge before fsync (fsync = periodic / never): a DW=1 write reaches W
    // replicas but no durable one, so it cannot claim durability.
    let mut c = Cluster::with_durability(3, 3, false);
    assert_eq!(
        without_acks(put_with(&mut c, NodeId(1), 1, "k", "v", level(0))),
        done()
    );
    let reply = put_with(&mut c, NodeId(1), 2, "k", "w", level(1));
    assert!(matches!(reply, Reply::Timeout { .. }), "{reply:?}");
    // With fsync = always every acknowledgement is durable.
    let mut c = Cluster::new(3, 3);
    assert_eq!(
        without_acks(put_with(&mut c, NodeId(1), 1, "k", "v", level(2))),
        done()
    );
}

#[test]
fn a_replica_that_fails_after_the_client_was_answered_still_gets_a_hint() {
    let mut c = Cluster::new(3, 3);
    // Node 3 is gone but nobody noticed yet: node 1 still sends to it, and the send fails
    // after W=1 was already met by node 1's own write.
    c.down.insert(NodeId(3));
    let level = Preset::One;
    assert_eq!(c.request(NodeId(1), 1, "k", put("v"), level), done());
    let hint = c.hints[&NodeId(1)].get(&(NodeId(3), b"k".to_vec()));
    assert_eq!(hint.and_then(|o| o.value().cloned()).unwrap(), "v");
    assert!(!c.hints[&NodeId(1)].contains_key(&(NodeId(2), b"k".to_vec())));
}

#[test]
fn a_replica_that_never_answers_gets_a_hint_when_the_write_times_out() {
    let mut c = Cluster::new(3, 3);
    c.silent.insert(NodeId(2));
    assert_eq!(c.request(NodeId(1), 1, "k", put("v"), Preset::One), done());
    assert!(c.hints[&NodeId(1)].is_empty(), "node 2 may still answer");
    c.now.mono_ms += 1_000;
    c.cores.get_mut(&NodeId(1)).unwrap().handle_timeout(c.now);
    c.run();
    let hint = c.hints[&NodeId(1)].get(&(NodeId(2), b"k".to_vec()));
    assert_eq!(hint.and_then(|o| o.value().cloned()).unwrap(), "v");
    assert_eq!(c.cores[&NodeId(1)].in_flight(), 0);
}

#[test]
fn a_written_reply_counts_the_replicas_that_hold_it() {
    let mut c = Cluster::new(3, 3);
    let at = NodeId(1);
    let core = c.cores.get_mut(&at).unwrap();
    let request = Request {
        key: Key {
            ns: NamespaceId(0),
            key: b"k".to_vec(),
        },
        command: put("v"),
        consistency: Consistency::Preset(Preset::All),
        timeout_ms: 100,
        n: None,
        default_ttl_ms: None,
    };
    core.handle_request(c.now, 9, request);
    c.run();
    assert!(matches!(
        c.replies.remove(&(at, 9)),
        Some(Reply::Written { acks: 3, .. })
    ));
}

#[test]
fn a_fallback_that_fails_its_stand_in_leaves_the_hint_with_the_coordinator() {
    let mut c = Cluster::new(4, 3);
    let layout = c.cores[&NodeId(1)].layout().clone();
    let list = layout
        .preference_list(layout.partition_for_key(NamespaceId(0), b"k"), 3)
        .unwrap();
    let (down, coordinator, fallback) = (list.primaries[2], list.primaries[0], list.fallbacks[0]);
    c.kill(down);
    // The fallback is believed reachable, but the stand-in message cannot reach it.
    c.down.insert(fallback);
    let sloppy_w2 = Level {
        r: 1,
        w: 2,
        dw: 0,
        sloppy: true,
        mode: Mode::derive(1, 2, true, 3),
    };
    let reply = without_acks(put_with(&mut c, coordinator, 1, "k", "v", sloppy_w2));
    assert_eq!(reply, done());
    // Nobody holds the write for the dead primary but the coordinator's own hint.
    let hint = c.hints[&coordinator].get(&(down, b"k".to_vec()));
    assert_eq!(hint.and_then(|o| o.value().cloned()).unwrap(), "v");
    assert!(c.hints[&fallback].is_empty());
}

#[test]
fn a_namespace_with_fewer_replicas_keeps_each_key_on_its_first_n_primaries_only() {
    let mut c = Cluster::new(3, 3);
    let layout = c.cores[&NodeId(1)].layout().clone();
    let partition = layout.partition_for_key(NamespaceId(0), b"k");
    let row = layout
        .preference_list(partition, 3)
        .unwrap()
        .primaries
        .to_vec();
    // Through the node that is last in the key's preference list, so the write is forwarded.
    let reply = c.request_in(row[2], 1, "k", put("v"), Preset::Quorum, Some(1));
    assert_eq!(reply, done());
    let holders: Vec<NodeId> = row
        .iter()
        .copied()
        .filter(|node| c.stored(node.0, "k").is_some())
        .collect();
    assert_eq!(
        holders,
        vec![row[0]],
        "N=1 keeps the key on its first primary only"
    );
    let read = c.request_in(row[1], 2, "k", Command::Get, Preset::All, Some(1));
    assert_eq!(value(&read).as_deref(), Some(&b"v"[..]));
    // With that one primary down, an N=1 key is unavailable: no other node may answer for it.
    c.kill(row[0]);
    let read = c.request_in(row[1], 3, "k", Command::Get, Preset::One, Some(1));
    assert!(matches!(read, Reply::Unavailable { .. }), "{read:?}");
    c.revive(row[0]);
    let reply = c.request_in(row[1], 4, "k2", put("v"), Preset::Quorum, Some(2));
    assert_eq!(reply, done());
    let partition = layout.partition_for_key(NamespaceId(0), b"k2");
    let row = layout
        .preference_list(partition, 3)
        .unwrap()
        .primaries
        .to_vec();
    let holders = row.iter().filter(|n| c.stored(n.0, "k2").is_some()).count();
    assert_eq!(holders, 2, "N=2 keeps the key on two nodes");
    assert!(c.stored(row[2].0, "k2").is_none());
    // An N above the layout's width is refused before anything is written.
    let applied = c.writes_applied;
    let reply = c.request_in(row[0], 5, "k3", put("v"), Preset::One, Some(4));
    assert!(matches!(reply, Reply::Failed { .. }), "{reply:?}");
    assert_eq!(c.writes_applied, applied);
}
