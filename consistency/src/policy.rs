//! Namespace consistency policy: the defaults and floors a namespace imposes on requests.
//!
//! A request may move freely above the floors; below one it is refused with an error naming
//! the floor — never silently upgraded or downgraded.

use serde::{Deserialize, Serialize};

use crate::error::LevelError;
use crate::level::Level;
use crate::spec::Spec;

/// How a namespace resolves concurrent writes to one key.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conflict {
    /// Keep every concurrent write as a sibling until a write that saw them replaces them.
    #[default]
    Siblings,
    /// Last writer wins: reads, `GETCTX` included, show only the sibling with the highest
    /// (HLC timestamp, node id) — never raw wall-clock time. Replicas still *store* the
    /// concurrent siblings until a write that saw them replaces them: discarding losers while
    /// merging does not converge (a discarded loser must win again once its winner is
    /// superseded by a write that never saw the loser; property tests found such histories).
    Lww,
}

/// One namespace's replication factor, default consistency and floors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespacePolicy {
    /// Replicas per key.
    pub n: usize,
    /// What a request that says nothing gets.
    pub default: Spec,
    /// The smallest R a request may use.
    pub min_r: usize,
    /// The smallest W a request may use.
    pub min_w: usize,
    /// Whether requests may use SLOPPY quorums.
    pub allow_sloppy: bool,
    pub conflict: Conflict,
}

impl NamespacePolicy {
    /// A permissive policy: default QUORUM, floors 1, sloppy allowed.
    pub fn new(n: usize) -> NamespacePolicy {
        NamespacePolicy {
            n,
            default: Spec::preset(crate::level::Preset::Quorum),
            min_r: 1,
            min_w: 1,
            allow_sloppy: true,
            conflict: Conflict::Siblings,
        }
    }

    /// Checks the policy itself: its floors fit `n` and its default passes them.
    pub fn validate(&self) -> Result<(), LevelError> {
        for (what, value) in [("min_r", self.min_r), ("min_w", self.min_w)] {
            if value == 0 || value > self.n {
                return Err(LevelError::OutOfRange {
                    what,
                    value,
                    n: self.n,
                });
            }
        }
        self.resolve(&Spec::default()).map(|_| ())
    }

    /// The level a request runs with: its spec (falling back to the namespace default for what
    /// it leaves open) resolved against `n` and checked against the floors.
    pub fn resolve(&self, spec: &Spec) -> Result<Level, LevelError> {
        let level = spec.or(&self.default).level(self.n)?;
        if level.r < self.min_r {
            return Err(LevelError::BelowFloor {
                what: "R",
                value: level.r,
                floor: "min_r",
                min: self.min_r,
            });
        }
        if level.w < self.min_w {
            return Err(LevelError::BelowFloor {
                what: "W",
                value: level.w,
                floor: "min_w",
                min: self.min_w,
            });
        }
        if level.sloppy && !self.allow_sloppy {
            return Err(LevelError::SloppyNotAllowed);
        }
        Ok(level)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::level::{Mode, Preset};

    #[test]
    fn floors_refuse_requests_below_them_by_name() {
        let policy = NamespacePolicy {
            min_r: 2,
            min_w: 2,
            allow_sloppy: false,
            ..NamespacePolicy::new(3)
        };
        policy.validate().unwrap();
        let err = policy.resolve(&Spec::preset(Preset::One)).unwrap_err();
        assert_eq!(
            err,
            LevelError::BelowFloor {
                what: "R",
                value: 1,
                floor: "min_r",
                min: 2
            }
        );
        assert!(err.to_string().contains("min_r=2"));
        let w1 = Spec {
            r: Some(3),
            w: Some(1),
            ..Spec::default()
        };
        assert!(matches!(
            policy.resolve(&w1),
            Err(LevelError::BelowFloor { floor: "min_w", .. })
        ));
        let sloppy = Spec {
            sloppy: Some(true),
            ..Spec::default()
        };
        assert_eq!(policy.resolve(&sloppy), Err(LevelError::SloppyNotAllowed));
        assert_eq!(
            policy.resolve(&Spec::preset(Preset::All)).unwrap().mode,
            Mode::Quorum
        );
    }

    #[test]
    fn an_empty_spec_gets_the_namespace_default() {
        let policy = NamespacePolicy {
            default: Spec::preset(Preset::Strong),
            ..NamespacePolicy::new(5)
        };
        let level = policy.resolve(&Spec::default()).unwrap();
        assert_eq!((level.r, level.w, level.mode), (3, 3, Mode::Strong));
    }

    #[test]
    fn a_policy_whose_default_breaks_its_floors_is_invalid() {
        let policy = NamespacePolicy {
            min_w: 3,
            ..NamespacePolicy::new(3)
        };
        assert!(policy.validate().is_err());
        assert!(NamespacePolicy {
            min_r: 4,
            ..NamespacePolicy::new(3)
        }
        .validate()
        .is_err());
    }
}
