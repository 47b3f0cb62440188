//! The nemesis: the faults injected while the workload runs — partitions of every shape, heals,
//! crashes with restarts, clock steps and gray links — chosen by the run's seeded generator.

use super::network::Partition;
use super::run::{Event, Sim, Waiter};
use crate::history::OpOutcome;

impl Sim {
    pub(super) fn nemesis(&mut self) {
        if self.workload_done {
            return;
        }
        let f = self.cfg.faults.clone();
        let n = self.nodes.len();
        match self.rng.below(6) {
            0 | 1 if f.partitions => {
                self.stats.partitions += 1;
                self.links.heal();
                let shape = Partition::random(&mut self.rng, n);
                self.note(|| format!("partition {shape:?} (node indices)"));
                shape.apply(&mut self.links, n);
                self.reconsider_detection();
            }
            2 => {
                self.note(|| "heal".to_owned());
                self.links.heal();
                self.reconsider_detection();
            }
            3 if f.crashes => {
                let victim = self.rng.index(n);
                if self.alive(victim) {
                    self.crash(victim);
                    let down = self.rng.range(f.downtime_ms.0, f.downtime_ms.1);
                    self.schedule(down, Event::Restart { node: victim });
                }
            }
            4 if f.clock_steps => {
                self.stats.clock_steps += 1;
                let victim = self.rng.index(n);
                let delta = self.rng.range(0, 4_000) as i64 - 2_000;
                self.nodes[victim].clock.step(delta);
                self.note(|| format!("clock n{} stepped {delta} ms", victim + 1));
            }
            5 if f.gray_links => {
                self.stats.gray_windows += 1;
                let a = self.rng.index(n);
                let b = (a + 1 + self.rng.index(n - 1)) % n;
                self.links.gray(a, b);
                self.note(|| format!("gray link n{}->n{}", a + 1, b + 1));
            }
            _ => {}
        }
        let (lo, hi) = f.interval_ms;
        let next = self.rng.range(lo, hi);
        self.schedule(next, Event::Nemesis);
    }

    pub(super) fn crash(&mut self, i: usize) {
        self.stats.crashes += 1;
        self.note(|| format!("crash n{}", i + 1));
        let n = &mut self.nodes[i];
        n.core = None;
        n.incarnation += 1;
        n.storage.crash();
        n.unsynced.clear();
        n.reads.clear();
        n.fsync_scheduled = false;
        n.armed = None;
        n.handing_off.clear();
        let waiting = std::mem::take(&mut n.waiting);
        for (_, (waiter, _)) in waiting {
            if let Waiter::Client { client: c, op } = waiter {
                self.history
                    .complete(op, OpOutcome::Info, None, "crashed".to_owned(), self.now);
                self.client_done(c, OpOutcome::Info);
            }
        }
        self.reconsider_detection();
    }
}
