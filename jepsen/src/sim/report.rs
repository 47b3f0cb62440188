//! What a run reports, and how the final state is gathered from every node for the checkers.

use std::collections::BTreeMap;

use kvorum_consistency::Object;

use super::client::{self, Level};
use super::config::Mix;
use super::run::{key_name, Sim, Waiter};
use crate::checker::counter::{self, CounterViolation};
use crate::checker::set::{self, SetViolation};
use crate::checker::{convergence, linearizable, lost_writes, stale_reads, wgl, FinalView};
use crate::history::{History, OpOutcome};

/// Everything a run found.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    pub level: Level,
    pub history: History,
    pub linearizability: linearizable::Report,
    pub lost_writes: Vec<lost_writes::LostWrite>,
    pub stale_reads: Vec<stale_reads::StaleRead>,
    pub convergence: convergence::Report,
    /// Counter workload: views of a key outside what its increments allow.
    pub counters: Vec<CounterViolation>,
    /// Set workload: lost acknowledged adds, failed adds present, members nobody added.
    pub sets: Vec<SetViolation>,
    /// How many final views (final reads and replicas' stored copies) the counter or set checker
    /// judged.
    pub final_views: usize,
    /// Broken driver contracts: a reply for an unknown request, a second reply, no reply.
    pub problems: Vec<String>,
    pub stats: Stats,
    /// Every simulated event in order, if the configuration asked for a trace.
    pub trace: Vec<String>,
}

/// Counters of what the world did to the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub send_failed: u64,
    pub partitions: u64,
    pub crashes: u64,
    pub clock_steps: u64,
    pub gray_windows: u64,
    pub handoffs: u64,
    /// Answers (`Fetched`, `Stored`, `Forwarded`) delivered to a node that restarted after it
    /// asked: the restarted core's operation ids start over, so such an answer can be taken for
    /// one of its new operations.
    pub cross_incarnation_answers: u64,
    pub end_ms: u64,
}

impl RunReport {
    /// Counts of `ok`, `fail` and `info` operations.
    pub fn outcomes(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for op in self.history.ops() {
            match op.outcome() {
                OpOutcome::Ok => c.0 += 1,
                OpOutcome::Fail => c.1 += 1,
                OpOutcome::Info => c.2 += 1,
            }
        }
        c
    }
}

impl Sim {
    pub(super) fn finish(mut self, seed: u64) -> RunReport {
        self.stats.end_ms = self.now;
        for node in &self.nodes {
            for (id, (waiter, since)) in &node.waiting {
                // A request submitted just before the end may still be legitimately running;
                // one older than twice its timeout was never answered.
                if self.now.saturating_sub(*since) <= 2 * self.cfg.request_timeout_ms {
                    continue;
                }
                let what = match waiter {
                    Waiter::Client { .. } => "client request",
                    Waiter::Handoff { .. } => "handoff",
                    Waiter::FinalRead { .. } => "final read",
                };
                self.problems
                    .push(format!("{what} {id} on node {} got no reply", node.id));
            }
        }
        let copies = self.replica_copies();
        let finals = self.merged_state();
        let lost = lost_writes::check(&self.history, &self.minted, &finals, client::decode_value);
        let mut views = std::mem::take(&mut self.final_views);
        if self.cfg.mix != Mix::Register {
            views.extend(self.stored_views());
        }
        let (counters, sets) = match self.cfg.mix {
            Mix::Register => (Vec::new(), Vec::new()),
            Mix::Counter => (counter::check(&self.history, &views), Vec::new()),
            Mix::Set => (Vec::new(), set::check(&self.history, &views)),
        };
        RunReport {
            seed,
            level: self.cfg.level,
            linearizability: linearizable::check_history(&self.history, wgl::DEFAULT_BUDGET),
            lost_writes: lost,
            stale_reads: stale_reads::check(&self.history),
            convergence: convergence::check(&copies),
            counters,
            sets,
            final_views: views.len(),
            problems: self.problems,
            stats: self.stats,
            trace: self.trace.unwrap_or_default(),
            history: self.history,
        }
    }

    /// What each key reads as in each of its primaries' storage.
    fn stored_views(&self) -> Vec<FinalView> {
        let mut views = Vec::new();
        for k in 0..self.cfg.keys {
            let name = key_name(k);
            for (id, object) in self.primaries_of(&name) {
                let wall = self.now_of(id).wall_ms;
                views.push(FinalView {
                    key: name.clone(),
                    source: format!("storage of n{}", id + 1),
                    state: client::final_state(object, wall),
                });
            }
        }
        views
    }

    /// A key's primaries (node indexes) and each one's stored copy.
    fn primaries_of(&self, name: &str) -> Vec<(usize, Option<&Object>)> {
        let key = client::key(name);
        let partition = self.layout.partition_for_key(key.ns, &key.key);
        self.layout
            .preference_list(partition, self.cfg.replication)
            .map(|l| l.primaries.to_vec())
            .unwrap_or_default()
            .iter()
            .map(|p| (p.0 as usize).wrapping_sub(1))
            .filter_map(|i| self.nodes.get(i).map(|n| (i, n.storage.get(&key.key))))
            .collect()
    }

    /// Each key's copy on each of its primaries.
    pub(super) fn replica_copies(&self) -> BTreeMap<String, Vec<Option<Object>>> {
        let mut copies = BTreeMap::new();
        for k in 0..self.cfg.keys {
            let name = key_name(k);
            let objects = self
                .primaries_of(&name)
                .into_iter()
                .map(|(_, object)| object.cloned())
                .collect();
            copies.insert(name, objects);
        }
        copies
    }

    /// Each key's merge over every node's storage and every hint.
    pub(super) fn merged_state(&self) -> BTreeMap<String, Object> {
        let mut finals: BTreeMap<String, Object> = BTreeMap::new();
        for node in &self.nodes {
            let mut objects: Vec<(Vec<u8>, Object)> = node.storage.objects().into_iter().collect();
            objects.extend(node.storage.hints().into_iter().map(|(_, k, o)| (k.key, o)));
            for (key, object) in objects {
                let name = String::from_utf8_lossy(&key).into_owned();
                let merged = match finals.get(&name) {
                    Some(existing) => existing.merge(&object),
                    None => object,
                };
                finals.insert(name, merged);
            }
        }
        finals
    }
}
