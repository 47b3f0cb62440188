//! Consistency levels and quorum arithmetic.
//!
//! A request says how many replicas must answer a read (`R`), acknowledge a write (`W`) and have
//! made it durable (`DW`), whether only the `N` primaries of its key count (*strict*) or
//! fallback nodes may stand in for unreachable primaries and keep hints (*sloppy*), and which
//! [`Mode`] its guarantees follow. Presets name the usual choices and are resolved against `N`
//! when the request is made, so the same preset works for namespaces with different `N`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::LevelError;

/// The usual consistency choices.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// R = W = 1, strict: fastest, tolerates N−1 failures, may read stale data.
    One,
    /// R = W = 2, strict.
    Two,
    /// R = W = ⌊N/2⌋+1, strict: R + W > N, so a read overlaps every acknowledged write.
    Quorum,
    /// R = W = N: every primary must answer.
    All,
    /// R = W = 1, sloppy: writes succeed while any node is reachable (AP).
    Eventual,
    /// Majority quorums with version learning and read write-back: linearizable (CP).
    Strong,
}

impl Preset {
    pub const ALL_PRESETS: [Preset; 6] = [
        Preset::One,
        Preset::Two,
        Preset::Quorum,
        Preset::All,
        Preset::Eventual,
        Preset::Strong,
    ];

    /// What this preset means for `n` replicas.
    pub fn resolve(self, n: usize) -> Level {
        let (k, sloppy) = match self {
            Preset::One => (1, false),
            Preset::Two => (2, false),
            Preset::Quorum | Preset::Strong => (majority(n), false),
            Preset::All => (n, false),
            Preset::Eventual => (1, true),
        };
        let mode = match self {
            Preset::Strong => Mode::Strong,
            _ => Mode::derive(k, k, sloppy, n),
        };
        Level {
            r: k,
            w: k,
            dw: 0,
            sloppy,
            mode,
        }
    }
}

impl FromStr for Preset {
    type Err = LevelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL_PRESETS
            .into_iter()
            .find(|p| p.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| LevelError::UnknownPreset { name: s.to_owned() })
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::One => "ONE",
            Preset::Two => "TWO",
            Preset::Quorum => "QUORUM",
            Preset::All => "ALL",
            Preset::Eventual => "EVENTUAL",
            Preset::Strong => "STRONG",
        })
    }
}

/// Which guarantees a request follows (design §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// No overlap promised (R + W ≤ N, or sloppy): every acknowledged write survives and
    /// replicas converge, but a read may miss recent writes.
    Eventual,
    /// Strict, R + W > N: a read overlaps every acknowledged write.
    Quorum,
    /// Strict majorities, writes learn the newest version first, reads write back: linearizable.
    Strong,
}

impl Mode {
    /// The mode R/W/sloppiness give, short of `Strong` (which only the preset selects).
    pub fn derive(r: usize, w: usize, sloppy: bool, n: usize) -> Mode {
        if !sloppy && r + w > n {
            Mode::Quorum
        } else {
            Mode::Eventual
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Eventual => "eventual",
            Mode::Quorum => "quorum",
            Mode::Strong => "strong",
        })
    }
}

/// Resolved replica counts and rules of one request.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// Replicas that must answer a read.
    pub r: usize,
    /// Replicas that must acknowledge a write.
    pub w: usize,
    /// Of the W acknowledgements, how many must be durable (fsynced).
    pub dw: usize,
    /// Whether fallback nodes may stand in for unreachable primaries.
    pub sloppy: bool,
    pub mode: Mode,
}

impl Level {
    /// Checks the level against the replication factor `n`.
    pub fn validate(self, n: usize) -> Result<Level, LevelError> {
        for (what, value) in [("R", self.r), ("W", self.w)] {
            if value == 0 || value > n {
                return Err(LevelError::OutOfRange { what, value, n });
            }
        }
        if self.dw > self.w {
            return Err(LevelError::DurableAboveWrite {
                dw: self.dw,
                w: self.w,
            });
        }
        if self.mode == Mode::Strong
            && (self.sloppy || self.r < majority(n) || self.w < majority(n))
        {
            return Err(LevelError::StrongNeedsMajorities {
                n,
                majority: majority(n),
            });
        }
        Ok(self)
    }

    /// Whether every read overlaps every acknowledged write (`R + W > N`).
    pub fn overlapping(self, n: usize) -> bool {
        self.r + self.w > n
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R={} W={}", self.r, self.w)?;
        if self.dw > 0 {
            write!(f, " DW={}", self.dw)?;
        }
        let quorum = if self.sloppy { "SLOPPY" } else { "STRICT" };
        write!(f, " {quorum} (mode {})", self.mode)
    }
}

/// The smallest majority of `n` replicas.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(level: Level) -> (usize, usize) {
        (level.r, level.w)
    }

    #[test]
    fn presets_resolve_against_n() {
        assert_eq!(rw(Preset::One.resolve(3)), (1, 1));
        assert_eq!(rw(Preset::Two.resolve(3)), (2, 2));
        assert_eq!(rw(Preset::Quorum.resolve(3)), (2, 2));
        assert_eq!(rw(Preset::Quorum.resolve(4)), (3, 3));
        assert_eq!(rw(Preset::Quorum.resolve(5)), (3, 3));
        assert_eq!(rw(Preset::All.resolve(3)), (3, 3));
        assert_eq!(rw(Preset::Quorum.resolve(1)), (1, 1));
        assert!(Preset::Eventual.resolve(3).sloppy);
        assert_eq!(Preset::Strong.resolve(5).mode, Mode::Strong);
        assert_eq!(rw(Preset::Strong.resolve(5)), (3, 3));
    }

    #[test]
    fn modes_follow_overlap_and_sloppiness() {
        for n in 1..=9 {
            assert_eq!(Preset::Quorum.resolve(n).mode, Mode::Quorum, "n={n}");
            assert_eq!(Preset::All.resolve(n).mode, Mode::Quorum, "n={n}");
            assert_eq!(Preset::Eventual.resolve(n).mode, Mode::Eventual, "n={n}");
            let one = Preset::One.resolve(n).mode;
            assert_eq!(one == Mode::Quorum, n == 1, "n={n}");
        }
    }

    #[test]
    fn validation_names_the_bad_bound() {
        let level = |r, w, dw, sloppy, mode| Level {
            r,
            w,
            dw,
            sloppy,
            mode,
        };
        assert_eq!(
            level(4, 1, 0, false, Mode::Eventual).validate(3),
            Err(LevelError::OutOfRange {
                what: "R",
                value: 4,
                n: 3
            })
        );
        assert!(level(1, 0, 0, false, Mode::Eventual).validate(3).is_err());
        assert_eq!(
            level(2, 2, 3, false, Mode::Quorum).validate(3),
            Err(LevelError::DurableAboveWrite { dw: 3, w: 2 })
        );
        assert!(level(1, 3, 0, false, Mode::Strong).validate(3).is_err());
        assert!(level(2, 2, 0, true, Mode::Strong).validate(3).is_err());
        assert!(Preset::Strong.resolve(3).validate(3).is_ok());
        assert!(Preset::Two.resolve(1).validate(1).is_err());
    }

    #[test]
    fn presets_parse_case_insensitively() {
        assert_eq!("quorum".parse::<Preset>(), Ok(Preset::Quorum));
        assert_eq!("Strong".parse::<Preset>(), Ok(Preset::Strong));
        assert!("most".parse::<Preset>().is_err());
    }
}
