//! What the nemesis does and when: fault families, the seeded schedule of fault packages, and
//! the faults themselves in concrete terms (which nodes, which grudge, which offset).
//!
//! A schedule alternates quiet and faulty periods, Jepsen's flip-flop: after a quiet start, a
//! fault drawn from the chosen families starts, holds for a few seconds and is healed, then the
//! cluster is left alone for a few seconds. Everything random comes from the run's seed, so
//! `--seed` replays the same schedule (the timing of real processes still varies).

use std::fmt;

use serde::Serialize;

use super::grudge::{self, Partition, Shape};
use crate::sim::rng::SimRng;

/// A family of faults, as named on the command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Family {
    /// A network partition of the given shape, or of a random shape each time.
    Partition(Option<Shape>),
    /// Random loss of packets between nodes.
    Loss,
    /// `SIGKILL` and restart on the same data dir.
    Kill,
    /// `SIGSTOP` and `SIGCONT`.
    Pause,
    /// Clock skew and strobe through the node's test clock offset.
    Clock,
}

impl Family {
    pub fn parse(name: &str) -> Option<Family> {
        Some(match name {
            "partition" => Family::Partition(None),
            "loss" => Family::Loss,
            "kill" => Family::Kill,
            "pause" => Family::Pause,
            "clock" => Family::Clock,
            other => Family::Partition(Some(Shape::parse(other.strip_prefix("partition-")?)?)),
        })
    }

    pub fn name(self) -> String {
        match self {
            Family::Partition(None) => "partition".into(),
            Family::Partition(Some(shape)) => format!("partition-{}", shape.name()),
            Family::Loss => "loss".into(),
            Family::Kill => "kill".into(),
            Family::Pause => "pause".into(),
            Family::Clock => "clock".into(),
        }
    }
}

/// The `--nemesis` argument: `none`, or families joined by `+` (`partition+kill`). Each fault
/// of the schedule is drawn from one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NemesisSpec {
    pub families: Vec<Family>,
}

impl NemesisSpec {
    pub const HELP: &'static str = "none, or faults joined by '+': partition (random shape), \
        partition-halves, partition-one, partition-minority-third, partition-majorities-ring, \
        partition-bridge, partition-asymmetric, loss, kill, pause, clock";

    pub fn parse(text: &str) -> Result<NemesisSpec, String> {
        if text == "none" {
            return Ok(NemesisSpec {
                families: Vec::new(),
            });
        }
        let families: Result<Vec<Family>, String> = text
            .split('+')
            .map(|name| {
                Family::parse(name)
                    .ok_or_else(|| format!("unknown nemesis {name:?}; {}", Self::HELP))
            })
            .collect();
        families.map(|families| NemesisSpec { families })
    }
}

impl fmt::Display for NemesisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.families.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<String> = self.families.iter().map(|fam| fam.name()).collect();
        f.write_str(&names.join("+"))
    }
}

/// One concrete fault, nodes numbered from 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Fault {
    Partition {
        shape: Shape,
        /// Node index → indices whose packets it drops.
        grudge: Vec<(usize, Vec<usize>)>,
        description: String,
    },
    /// Percentage of packets from other nodes each listed node drops.
    Loss {
        nodes: Vec<(usize, u8)>,
    },
    Kill {
        nodes: Vec<usize>,
    },
    Pause {
        nodes: Vec<usize>,
    },
    /// Fixed offsets (ms) added to listed nodes' clocks.
    ClockSkew {
        offsets: Vec<(usize, i64)>,
    },
    /// One node's clock jumps between 0 and `offset_ms` every `period_ms`.
    ClockStrobe {
        node: usize,
        offset_ms: i64,
        period_ms: u64,
    },
}

impl Fault {
    /// The family name used for shading and tables.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Loss { .. } => "loss",
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::ClockSkew { .. } | Fault::ClockStrobe { .. } => "clock",
        }
    }

    /// What it does, nodes numbered from 1 as everywhere in reports.
    pub fn describe(&self) -> String {
        let list = |nodes: &[usize]| {
            nodes
                .iter()
                .map(|n| format!("n{}", n + 1))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Fault::Partition {
                shape, description, ..
            } => format!("{}: {description}", shape.name()),
            Fault::Loss { nodes } => nodes
                .iter()
                .map(|(n, p)| format!("n{} drops {p}%", n + 1))
                .collect::<Vec<_>>()
                .join(", "),
            Fault::Kill { nodes } => format!("SIGKILL {}", list(nodes)),
            Fault::Pause { nodes } => format!("SIGSTOP {}", list(nodes)),
            Fault::ClockSkew { offsets } => offsets
                .iter()
                .map(|(n, ms)| format!("n{} {ms:+} ms", n + 1))
                .collect::<Vec<_>>()
                .join(", "),
            Fault::ClockStrobe {
                node,
                offset_ms,
                period_ms,
            } => format!(
                "n{} strobes 0/{offset_ms:+} ms every {period_ms} ms",
                node + 1
            ),
        }
    }
}

/// One planned fault: when it starts and how long it holds (ms since the run began).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub at_ms: u64,
    pub hold_ms: u64,
    pub fault: Fault,
}

/// Quiet time at the start, so the history has a fault-free baseline.
const QUIET_START_MS: u64 = 5_000;

/// The schedule for a run of `time_limit_ms` over `nodes` nodes.
pub fn schedule(spec: &NemesisSpec, nodes: usize, time_limit_ms: u64, seed: u64) -> Vec<Step> {
    let mut rng = SimRng::new(seed ^ 0x6e65_6d65_7369_7321);
    let mut steps = Vec::new();
    if spec.families.is_empty() || nodes == 0 {
        return steps;
    }
    let mut at = QUIET_START_MS;
    let mut round: Vec<Family> = Vec::new();
    loop {
        let hold = rng.range(5_000, 10_000);
        // Leave time to heal before the run ends.
        if at + hold + 2_000 > time_limit_ms {
            break;
        }
        // Families take turns in a seeded order, so a run long enough for as many faults as
        // it has families sees every one of them.
        if round.is_empty() {
            round = spec.families.clone();
            for i in (1..round.len()).rev() {
                round.swap(i, rng.index(i + 1));
            }
        }
        let family = round.remove(0);
        steps.push(Step {
            at_ms: at,
            hold_ms: hold,
            fault: draw(family, nodes, &mut rng),
        });
        at += hold + rng.range(3_000, 6_000);
    }
    steps
}

/// How many nodes a kill or pause takes: one, a minority, or all of them.
fn victims(nodes: usize, rng: &mut SimRng) -> Vec<usize> {
    let count = match rng.below(4) {
        0 | 1 => 1,
        2 => (nodes - 1) / 2,
        _ => nodes,
    }
    .max(1);
    pick(nodes, count, rng)
}

/// `count` distinct random node indices, sorted.
fn pick(nodes: usize, count: usize, rng: &mut SimRng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..nodes).collect();
    for i in (1..all.len()).rev() {
        all.swap(i, rng.index(i + 1));
    }
    all.truncate(count.min(nodes));
    all.sort_unstable();
    all
}

fn draw(family: Family, nodes: usize, rng: &mut SimRng) -> Fault {
    match family {
        Family::Partition(shape) => {
            let shape = shape.unwrap_or_else(|| Shape::ALL[rng.index(Shape::ALL.len())]);
            let Partition {
                grudge,
                description,
            } = grudge::partition(shape, nodes, rng);
            Fault::Partition {
                shape,
                grudge: grudge
                    .into_iter()
                    .map(|(n, from)| (n, from.into_iter().collect()))
                    .collect(),
                description,
            }
        }
        Family::Loss => {
            let count = rng.range(1, nodes as u64) as usize;
            Fault::Loss {
                nodes: pick(nodes, count, rng)
                    .into_iter()
                    .map(|n| (n, rng.range(20, 60) as u8))
                    .collect(),
            }
        }
        Family::Kill => Fault::Kill {
            nodes: victims(nodes, rng),
        },
        Family::Pause => Fault::Pause {
            nodes: victims(nodes, rng),
        },
        Family::Clock => {
            if rng.chance(0.5) {
                let count = rng.range(1, nodes as u64 + 1) as usize;
                let chosen = pick(nodes, count, rng);
                Fault::ClockSkew {
                    offsets: chosen.into_iter().map(|n| (n, clock_offset(rng))).collect(),
                }
            } else {
                let offset_ms = clock_offset(rng);
                Fault::ClockStrobe {
                    node: rng.index(nodes),
                    offset_ms,
                    period_ms: rng.range(10, 200),
                }
            }
        }
    }
}

/// A clock offset spread over orders of magnitude, as Jepsen's bumps: ±10 ms to ±~2.7 min.
fn clock_offset(rng: &mut SimRng) -> i64 {
    let magnitude = 10i64 << rng.below(15);
    if rng.chance(0.5) {
        magnitude
    } else {
        -magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        let spec = NemesisSpec::parse("partition+kill").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.families, vec![Family::Partition(None), Family::Kill]);
        assert_eq!(spec.to_string(), "partition+kill");
        let ring =
            NemesisSpec::parse("partition-majorities-ring").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.to_string(), "partition-majorities-ring");
        assert!(NemesisSpec::parse("flood").is_err());
        assert!(NemesisSpec::parse("none").is_ok_and(|s| s.families.is_empty()));
    }

    #[test]
    fn a_schedule_is_seeded_spaced_and_ends_before_the_time_limit() {
        let spec =
            NemesisSpec::parse("partition+kill+pause+clock+loss").unwrap_or_else(|e| panic!("{e}"));
        let steps = schedule(&spec, 5, 60_000, 42);
        assert_eq!(steps, schedule(&spec, 5, 60_000, 42));
        assert_ne!(steps, schedule(&spec, 5, 60_000, 43));
        assert!(steps.len() >= 3, "{steps:?}");
        assert!(steps[0].at_ms >= QUIET_START_MS);
        for pair in steps.windows(2) {
            assert!(pair[0].at_ms + pair[0].hold_ms < pair[1].at_ms);
        }
        assert!(steps.iter().all(|s| s.at_ms + s.hold_ms < 60_000));
        assert!(schedule(&NemesisSpec { families: vec![] }, 5, 60_000, 1).is_empty());
        // Every family takes its turn.
        let short = NemesisSpec::parse("partition+clock").unwrap_or_else(|e| panic!("{e}"));
        for seed in 0..20 {
            let names: std::collections::BTreeSet<&str> = schedule(&short, 5, 40_000, seed)
                .iter()
                .map(|s| s.fault.name())
                .collect();
            assert_eq!(names.len(), 2, "seed {seed}: {names:?}");
        }
    }

    #[test]
    fn kills_and_pauses_take_one_a_minority_or_all() {
        let mut rng = SimRng::new(5);
        let mut sizes = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let v = victims(5, &mut rng);
            assert!(v.windows(2).all(|w| w[0] < w[1]) && v.iter().all(|&n| n < 5));
            sizes.insert(v.len());
        }
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![1, 2, 5]);
    }
}
