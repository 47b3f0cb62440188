//! The short tier CI runs (`kvorum-jepsen ci`): named scenarios, each a whole run, and the
//! deliberately broken builds the same checkers must catch.

use std::path::Path;

use super::nemesis::NemesisSpec;
use super::run::RunConfig;
use super::workload::{Mode, Workload};

/// A named scenario of the tier.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub workload: Workload,
    pub mode: Mode,
    pub nemesis: &'static str,
    pub time_limit_s: u64,
    /// Node faults switched on: a broken cluster.
    pub node_faults: &'static [&'static str],
    /// Whether the checkers must reject the run (a broken cluster that passes means the
    /// checkers cannot see the bug it plants).
    pub must_fail: bool,
}

/// The tier, in the order it runs.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "register-strong-partition",
        workload: Workload::Register,
        mode: Mode::Strong,
        nemesis: "partition",
        time_limit_s: 60,
        node_faults: &[],
        must_fail: false,
    },
    Scenario {
        name: "set-eventual-partition+kill",
        workload: Workload::Set,
        mode: Mode::Eventual,
        nemesis: "partition+kill",
        time_limit_s: 60,
        node_faults: &[],
        must_fail: false,
    },
    Scenario {
        name: "counter-eventual-pause",
        workload: Workload::Counter,
        mode: Mode::Eventual,
        nemesis: "pause",
        time_limit_s: 60,
        node_faults: &[],
        must_fail: false,
    },
    Scenario {
        name: "register-eventual-partition",
        workload: Workload::Register,
        mode: Mode::Eventual,
        nemesis: "partition",
        time_limit_s: 30,
        node_faults: &[],
        must_fail: false,
    },
    Scenario {
        name: "siblings-eventual-partition+clock",
        workload: Workload::Siblings,
        mode: Mode::Eventual,
        nemesis: "partition+clock",
        time_limit_s: 40,
        node_faults: &[],
        must_fail: false,
    },
    Scenario {
        name: "register-eventual-partition-halves-broken-drop-hints",
        workload: Workload::Register,
        mode: Mode::Eventual,
        nemesis: "partition-halves",
        time_limit_s: 30,
        node_faults: &["drop-hints"],
        must_fail: true,
    },
];

impl Scenario {
    pub fn config(&self, kvorum: &Path, out: &Path, seed: u64) -> Result<RunConfig, String> {
        Ok(RunConfig {
            workload: self.workload,
            mode: self.mode,
            nemesis: NemesisSpec::parse(self.nemesis)?,
            nodes: 5,
            replication: 3,
            time_limit_s: self.time_limit_s,
            seed,
            clients: 10,
            think_ms: 50,
            client_timeout_ms: 5_000,
            kvorum: kvorum.to_path_buf(),
            out: out.to_path_buf(),
            node_faults: self.node_faults.iter().map(|f| f.to_string()).collect(),
        })
    }

    pub fn find(name: &str) -> Option<&'static Scenario> {
        SCENARIOS.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_parses_and_the_tier_fits_its_budget() {
        for s in SCENARIOS {
            let config = s.config(Path::new("kvorum"), Path::new("runs"), 1);
            // The name is the run directory's, so a CI line leads straight to its artifacts.
            assert_eq!(config.map(|c| c.scenario()).as_deref(), Ok(s.name));
        }
        // Workload time only; each run adds about half a minute of set-up, heal and checks.
        let total: u64 = SCENARIOS.iter().map(|s| s.time_limit_s + 40).sum();
        assert!(total < 15 * 60, "{total} s");
        assert!(SCENARIOS.iter().any(|s| s.must_fail));
    }
}
