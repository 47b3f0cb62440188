//! Consistency levels and quorum arithmetic.
//!
//! A request says how many replicas must answer a read (`R`) and acknowledge a write (`W`) out of
//! the `N` primaries of its key. The presets name the usual choices and are resolved against `N`
//! when the request is made, so the same preset works for namespaces with different `N`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::LevelError;

/// The usual consistency choices.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// R = W = 1: fastest, tolerates N−1 failures, may read stale data.
    One,
    /// R = W = ⌊N/2⌋+1: R + W > N, so a read overlaps every acknowledged write.
    Quorum,
    /// R = W = N: every primary must answer.
    All,
}

impl Preset {
    /// The R and W this preset means for `n` replicas.
    pub fn resolve(self, n: usize) -> Level {
        let k = match self {
            Preset::One => 1,
            Preset::Quorum => majority(n),
            Preset::All => n,
        };
        Level { r: k, w: k }
    }
}

impl FromStr for Preset {
    type Err = LevelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ONE" => Ok(Preset::One),
            "QUORUM" => Ok(Preset::Quorum),
            "ALL" => Ok(Preset::All),
            _ => Err(LevelError::UnknownPreset { name: s.to_owned() }),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::One => "ONE",
            Preset::Quorum => "QUORUM",
            Preset::All => "ALL",
        })
    }
}

/// Resolved replica counts of one request.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// Replicas that must answer a read.
    pub r: usize,
    /// Replicas that must acknowledge a write.
    pub w: usize,
}

impl Level {
    /// Checks the level against the replication factor.
    pub fn validate(self, n: usize) -> Result<Level, LevelError> {
        for (what, value) in [("R", self.r), ("W", self.w)] {
            if value == 0 || value > n {
                return Err(LevelError::OutOfRange { what, value, n });
            }
        }
        Ok(self)
    }

    /// Whether every read overlaps every acknowledged write (`R + W > N`).
    pub fn overlapping(self, n: usize) -> bool {
        self.r + self.w > n
    }
}

/// The smallest majority of `n` replicas.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_resolve_against_n() {
        assert_eq!(Preset::One.resolve(3), Level { r: 1, w: 1 });
        assert_eq!(Preset::Quorum.resolve(3), Level { r: 2, w: 2 });
        assert_eq!(Preset::Quorum.resolve(4), Level { r: 3, w: 3 });
        assert_eq!(Preset::Quorum.resolve(5), Level { r: 3, w: 3 });
        assert_eq!(Preset::All.resolve(3), Level { r: 3, w: 3 });
        assert_eq!(Preset::Quorum.resolve(1), Level { r: 1, w: 1 });
    }

    #[test]
    fn quorum_always_overlaps_and_one_does_not() {
        for n in 1..=9 {
            assert!(Preset::Quorum.resolve(n).overlapping(n), "n={n}");
            assert!(Preset::All.resolve(n).overlapping(n), "n={n}");
            assert_eq!(Preset::One.resolve(n).overlapping(n), n == 1, "n={n}");
        }
    }

    #[test]
    fn validation_names_the_bad_bound() {
        assert_eq!(
            Level { r: 4, w: 1 }.validate(3),
            Err(LevelError::OutOfRange {
                what: "R",
                value: 4,
                n: 3
            })
        );
        assert!(Level { r: 1, w: 0 }.validate(3).is_err());
        assert!(Level { r: 3, w: 3 }.validate(3).is_ok());
    }

    #[test]
    fn presets_parse_case_insensitively() {
        assert_eq!("quorum".parse::<Preset>(), Ok(Preset::Quorum));
        assert!("most".parse::<Preset>().is_err());
    }
}
