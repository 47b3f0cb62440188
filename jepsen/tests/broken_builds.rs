//! The checkers catch a deliberately broken core: with strong reads that skip their write-back
//! (and read repair), the simulator's `register-strong` workload finds non-linearizable
//! histories. Runs with `cargo test -p kvorum-jepsen --features fault-injection --test
//! broken_builds` (CI does); without the feature there is nothing to switch on.
#![cfg(feature = "fault-injection")]

use kvorum_consistency::CoreFaults;
use kvorum_jepsen::suite::{run_seed, SweepConfig, Workload};

/// Seeds tried; the broken build must fail some of them.
const SEEDS: u64 = 200;

#[test]
fn strong_reads_without_write_back_are_caught_by_the_linearizability_checker() {
    let mut sweep = SweepConfig::new(300);
    sweep.core_faults = CoreFaults {
        skip_strong_write_back: true,
    };
    let caught: Vec<u64> = (0..SEEDS)
        .filter(|&seed| {
            let result = run_seed(seed, Workload::RegisterStrong, &sweep);
            result
                .failures
                .iter()
                .any(|f| f.starts_with("not linearizable"))
        })
        .collect();
    assert!(
        !caught.is_empty(),
        "no seed of {SEEDS} caught strong reads that skip their write-back"
    );
    println!("caught in {} of {SEEDS} seeds: {caught:?}", caught.len());

    // The same seeds with the core intact pass.
    let intact = SweepConfig::new(300);
    for &seed in caught.iter().take(5) {
        let result = run_seed(seed, Workload::RegisterStrong, &intact);
        assert!(result.passed(), "seed {seed}: {:?}", result.failures);
    }
}
