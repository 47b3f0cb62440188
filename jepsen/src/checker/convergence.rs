//! Convergence: after the final heal and a quiet period, all replicas of a key hold the same
//! object. Pure: the caller collects each replica's copy.

use std::collections::BTreeMap;

use kvorum_consistency::Object;

/// Keys whose replicas agree, out of all keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub keys: usize,
    pub converged: usize,
    /// Keys whose replicas differ.
    pub diverged: Vec<String>,
}

impl Report {
    pub fn all_converged(&self) -> bool {
        self.diverged.is_empty()
    }
}

/// `copies`: for each key, every replica's copy (`None`: that replica has nothing).
pub fn check(copies: &BTreeMap<String, Vec<Option<Object>>>) -> Report {
    let mut report = Report {
        keys: copies.len(),
        ..Report::default()
    };
    for (key, replicas) in copies {
        if replicas.windows(2).all(|w| matches!(w, [a, b] if a == b)) {
            report.converged += 1;
        } else {
            report.diverged.push(key.clone());
        }
    }
    report
}
