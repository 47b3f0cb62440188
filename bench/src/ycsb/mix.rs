//! The operation mixes of YCSB's core workloads A–F, plus write-only and read-only, and the
//! generator that turns a mix, a key chooser and a value size into [`Op`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::keys::{key, KeyChooser, Rng};
use super::{Distribution, Workload, WorkloadSpec};
use crate::driver::Op;

/// The kinds of operation, in the order of [`Mix::weights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Update,
    Insert,
    Scan,
    ReadModifyWrite,
}

/// Proportions of each operation kind (they sum to 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    pub read: f64,
    pub update: f64,
    pub insert: f64,
    pub scan: f64,
    pub rmw: f64,
}

impl Workload {
    /// The name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::A => "a",
            Workload::B => "b",
            Workload::C => "c",
            Workload::D => "d",
            Workload::E => "e",
            Workload::F => "f",
            Workload::Writes => "writes",
            Workload::Reads => "reads",
        }
    }

    /// YCSB's core workload proportions.
    pub fn mix(self) -> Mix {
        let m = |read, update, insert, scan, rmw| Mix {
            read,
            update,
            insert,
            scan,
            rmw,
        };
        match self {
            Workload::A => m(0.5, 0.5, 0.0, 0.0, 0.0),
            Workload::B => m(0.95, 0.05, 0.0, 0.0, 0.0),
            Workload::C | Workload::Reads => m(1.0, 0.0, 0.0, 0.0, 0.0),
            Workload::D => m(0.95, 0.0, 0.05, 0.0, 0.0),
            Workload::E => m(0.0, 0.0, 0.05, 0.95, 0.0),
            Workload::F => m(0.5, 0.0, 0.0, 0.0, 0.5),
            Workload::Writes => m(0.0, 1.0, 0.0, 0.0, 0.0),
        }
    }

    /// YCSB's request distribution for the workload: latest for D, zipfian otherwise.
    pub fn default_distribution(self) -> Distribution {
        match self {
            Workload::D => Distribution::Latest,
            _ => Distribution::Zipfian,
        }
    }
}

impl Mix {
    /// The kind for a uniform draw `u` in [0, 1).
    pub fn pick(&self, u: f64) -> Kind {
        let mut edge = self.read;
        if u < edge {
            return Kind::Read;
        }
        edge += self.update;
        if u < edge {
            return Kind::Update;
        }
        edge += self.insert;
        if u < edge {
            return Kind::Insert;
        }
        edge += self.scan;
        if u < edge {
            return Kind::Scan;
        }
        if self.rmw > 0.0 {
            return Kind::ReadModifyWrite;
        }
        // Rounding at the top end: fall back to the last kind with a share.
        [
            (self.scan, Kind::Scan),
            (self.insert, Kind::Insert),
            (self.update, Kind::Update),
        ]
        .into_iter()
        .find(|(share, _)| *share > 0.0)
        .map_or(Kind::Read, |(_, kind)| kind)
    }
}

/// Draws a client's operations. One per client task; they share only the insert counter.
#[derive(Clone, Debug)]
pub struct OpGenerator {
    mix: Mix,
    chooser: KeyChooser,
    rng: Rng,
    value_bytes: usize,
    max_scan: usize,
    /// Records that exist (loaded plus inserted during the run): inserts take the next number.
    records: Arc<AtomicU64>,
}

impl OpGenerator {
    /// `chooser` is built once per run and cloned here (building a latest chooser sums ζ over
    /// every record).
    pub fn new(
        spec: &WorkloadSpec,
        chooser: KeyChooser,
        records: Arc<AtomicU64>,
        rng: Rng,
    ) -> OpGenerator {
        OpGenerator {
            mix: spec.workload.mix(),
            chooser,
            rng,
            value_bytes: spec.value_bytes,
            max_scan: spec.max_scan.max(1),
            records,
        }
    }

    pub fn next_kind(&mut self) -> Kind {
        self.mix.pick(self.rng.next_f64())
    }

    pub fn next_op(&mut self) -> Op {
        let kind = self.next_kind();
        let existing = self.records.load(Ordering::Relaxed);
        match kind {
            Kind::Read => Op::Read {
                key: key(self.chooser.next(&mut self.rng, existing)),
            },
            Kind::Update => Op::Update {
                key: key(self.chooser.next(&mut self.rng, existing)),
                value: self.value(),
            },
            Kind::Insert => Op::Insert {
                key: key(self.records.fetch_add(1, Ordering::Relaxed)),
                value: self.value(),
            },
            Kind::Scan => Op::Scan {
                start: key(self.chooser.next(&mut self.rng, existing)),
                count: 1 + self.rng.below(self.max_scan as u64) as usize,
            },
            Kind::ReadModifyWrite => Op::ReadModifyWrite {
                key: key(self.chooser.next(&mut self.rng, existing)),
                value: self.value(),
            },
        }
    }

    /// A value of `value_bytes` printable bytes, different on every write (so a store cannot
    /// shortcut identical overwrites), cheap to make.
    pub fn value(&mut self) -> Vec<u8> {
        value_bytes(&mut self.rng, self.value_bytes)
    }
}

/// `len` printable bytes from `rng`, eight per random number.
pub fn value_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let word = rng.next_u64().to_le_bytes();
        for b in word {
            if out.len() == len {
                break;
            }
            out.push(b'a' + b % 26);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(workload: Workload, draws: usize) -> [f64; 5] {
        let spec = WorkloadSpec {
            workload,
            record_count: 1_000,
            value_bytes: 10,
            distribution: None,
            max_scan: 100,
        };
        let mut generator = OpGenerator::new(
            &spec,
            KeyChooser::new(workload.default_distribution(), 1_000),
            Arc::new(AtomicU64::new(1_000)),
            Rng::new(11),
        );
        let mut counts = [0usize; 5];
        for _ in 0..draws {
            let i = match generator.next_op() {
                Op::Read { .. } => 0,
                Op::Update { value, .. } => {
                    assert_eq!(value.len(), 10);
                    1
                }
                Op::Insert { .. } => 2,
                Op::Scan { count, .. } => {
                    assert!((1..=100).contains(&count));
                    3
                }
                Op::ReadModifyWrite { .. } => 4,
            };
            counts[i] += 1;
        }
        counts.map(|c| c as f64 / draws as f64)
    }

    #[test]
    fn every_workload_draws_its_ycsb_proportions() {
        let draws = 100_000;
        for workload in [
            Workload::A,
            Workload::B,
            Workload::C,
            Workload::D,
            Workload::E,
            Workload::F,
            Workload::Writes,
            Workload::Reads,
        ] {
            let m = workload.mix();
            let want = [m.read, m.update, m.insert, m.scan, m.rmw];
            assert!((want.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let got = shares(workload, draws);
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() < 0.01,
                    "{workload:?}: got {got:?}, want {want:?}"
                );
            }
        }
    }

    #[test]
    fn inserts_take_new_record_numbers_in_order() {
        let spec = WorkloadSpec {
            workload: Workload::D,
            record_count: 10,
            value_bytes: 4,
            distribution: None,
            max_scan: 1,
        };
        let records = Arc::new(AtomicU64::new(10));
        let mut generator = OpGenerator::new(
            &spec,
            KeyChooser::new(Distribution::Latest, 10),
            records.clone(),
            Rng::new(5),
        );
        let inserted: Vec<Vec<u8>> = (0..2_000)
            .filter_map(|_| match generator.next_op() {
                Op::Insert { key, .. } => Some(key),
                _ => None,
            })
            .collect();
        assert!(!inserted.is_empty());
        assert_eq!(inserted[0], b"user10".to_vec());
        assert_eq!(records.load(Ordering::Relaxed), 10 + inserted.len() as u64);
    }
}
