//! The text form of a consistency request, as clients and config write it:
//! a preset (`ONE`, `TWO`, `QUORUM`, `ALL`, `EVENTUAL`, `STRONG`) or explicit settings
//! `R=n W=n [DW=n] [STRICT|SLOPPY]`, either optionally followed by `TIMEOUT=ms`.
//!
//! A [`Spec`] is what was asked for; [`crate::NamespacePolicy::resolve`] turns it into the
//! [`Level`] a request runs with, against the namespace's `N` and floors.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LevelError;
use crate::level::{majority, Level, Mode, Preset};

/// A consistency request before it is resolved against a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub preset: Option<Preset>,
    pub r: Option<usize>,
    pub w: Option<usize>,
    pub dw: Option<usize>,
    /// `Some(true)` for SLOPPY, `Some(false)` for STRICT, `None`: the preset's choice (strict
    /// for explicit settings).
    pub sloppy: Option<bool>,
    pub timeout_ms: Option<u64>,
}

impl Spec {
    pub fn preset(preset: Preset) -> Spec {
        Spec {
            preset: Some(preset),
            ..Spec::default()
        }
    }

    /// Parses the words of a consistency setting (case-insensitive).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Spec, LevelError> {
        let mut spec = Spec::default();
        if words.is_empty() {
            return Err(LevelError::BadArgument {
                arg: String::new(),
                reason: "no setting given",
            });
        }
        for word in words {
            let word = word.as_ref();
            let upper = word.to_ascii_uppercase();
            let bad = |reason| LevelError::BadArgument {
                arg: word.to_owned(),
                reason,
            };
            match upper.split_once('=') {
                Some((name, value)) => {
                    let number: u64 = value
                        .parse()
                        .map_err(|_| bad("expected a number after '='"))?;
                    let slot = match name {
                        "R" | "W" | "DW" => {
                            let count =
                                usize::try_from(number).map_err(|_| bad("number too large"))?;
                            let slot = match name {
                                "R" => &mut spec.r,
                                "W" => &mut spec.w,
                                _ => &mut spec.dw,
                            };
                            slot.replace(count).is_some()
                        }
                        "TIMEOUT" => {
                            if number == 0 {
                                return Err(bad("TIMEOUT must be at least 1 ms"));
                            }
                            spec.timeout_ms.replace(number).is_some()
                        }
                        _ => return Err(bad("unknown setting (expected R=, W=, DW= or TIMEOUT=)")),
                    };
                    if slot {
                        return Err(bad("given twice"));
                    }
                }
                None if upper == "STRICT" || upper == "SLOPPY" => {
                    if spec.sloppy.replace(upper == "SLOPPY").is_some() {
                        return Err(bad("STRICT or SLOPPY given twice"));
                    }
                }
                None => {
                    let preset: Preset = word.parse()?;
                    if spec.preset.replace(preset).is_some() {
                        return Err(bad("only one preset may be given"));
                    }
                }
            }
        }
        if spec.preset.is_some()
            && (spec.r.is_some() || spec.w.is_some() || spec.dw.is_some() || spec.sloppy.is_some())
        {
            return Err(LevelError::BadArgument {
                arg: words
                    .iter()
                    .map(AsRef::as_ref)
                    .collect::<Vec<_>>()
                    .join(" "),
                reason: "give a preset or R=/W=/DW=/STRICT/SLOPPY settings, not both",
            });
        }
        Ok(spec)
    }

    /// Fills what this spec leaves open from `base` (a connection's setting under a per-command
    /// one, or the namespace default under a connection's).
    pub fn or(&self, base: &Spec) -> Spec {
        let explicit = self.preset.is_some()
            || self.r.is_some()
            || self.w.is_some()
            || self.dw.is_some()
            || self.sloppy.is_some();
        let mut merged = if explicit {
            self.clone()
        } else {
            Spec {
                timeout_ms: self.timeout_ms,
                ..base.clone()
            }
        };
        merged.timeout_ms = self.timeout_ms.or(base.timeout_ms);
        merged
    }

    /// The level this spec means for `n` replicas, before namespace floors. Explicit settings
    /// default to a majority for whichever of R and W is not given, and to STRICT.
    pub fn level(&self, n: usize) -> Result<Level, LevelError> {
        let level = match self.preset {
            Some(preset) => preset.resolve(n),
            None => {
                let r = self.r.unwrap_or(majority(n));
                let w = self.w.unwrap_or(majority(n));
                let sloppy = self.sloppy.unwrap_or(false);
                Level {
                    r,
                    w,
                    dw: self.dw.unwrap_or(0),
                    sloppy,
                    mode: Mode::derive(r, w, sloppy, n),
                }
            }
        };
        level.validate(n)
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        if let Some(p) = self.preset {
            words.push(p.to_string());
        }
        for (name, value) in [("R", self.r), ("W", self.w), ("DW", self.dw)] {
            if let Some(v) = value {
                words.push(format!("{name}={v}"));
            }
        }
        match self.sloppy {
            Some(true) => words.push("SLOPPY".into()),
            Some(false) => words.push("STRICT".into()),
            None => {}
        }
        if let Some(t) = self.timeout_ms {
            words.push(format!("TIMEOUT={t}"));
        }
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, LevelError> {
        Spec::parse(&text.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn parses_presets_and_explicit_settings() {
        assert_eq!(parse("quorum").unwrap(), Spec::preset(Preset::Quorum));
        let s = parse("R=1 W=3 DW=1 sloppy TIMEOUT=250").unwrap();
        assert_eq!(
            (s.r, s.w, s.dw, s.sloppy, s.timeout_ms),
            (Some(1), Some(3), Some(1), Some(true), Some(250))
        );
        assert_eq!(s.to_string(), "R=1 W=3 DW=1 SLOPPY TIMEOUT=250");
        assert_eq!(parse("STRONG TIMEOUT=10").unwrap().timeout_ms, Some(10));
    }

    #[test]
    fn refuses_malformed_settings_with_the_culprit() {
        for bad in [
            "R=x",
            "R=1 R=2",
            "Q=1",
            "STRICT SLOPPY",
            "ONE ALL",
            "ONE R=1",
            "TIMEOUT=0",
            "MOST",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("R=1 X=2").unwrap_err().to_string();
        assert!(e.contains("X=2"), "{e}");
    }

    #[test]
    fn resolves_to_levels_with_bounds_checked() {
        let l = parse("R=1 W=3").unwrap().level(3).unwrap();
        assert_eq!((l.r, l.w, l.sloppy, l.mode), (1, 3, false, Mode::Quorum));
        let l = parse("W=1").unwrap().level(3).unwrap();
        assert_eq!((l.r, l.w, l.mode), (2, 1, Mode::Eventual));
        assert!(parse("SLOPPY W=3").unwrap().level(3).unwrap().sloppy);
        assert_eq!(
            parse("R=4").unwrap().level(3),
            Err(LevelError::OutOfRange {
                what: "R",
                value: 4,
                n: 3
            })
        );
        assert!(parse("W=1 DW=2").unwrap().level(3).is_err());
    }

    #[test]
    fn per_command_settings_fall_back_to_the_connection() {
        let conn = parse("ALL TIMEOUT=500").unwrap();
        assert_eq!(
            parse("TIMEOUT=5").unwrap().or(&conn),
            parse("ALL TIMEOUT=5").unwrap()
        );
        assert_eq!(
            parse("W=1").unwrap().or(&conn),
            parse("W=1 TIMEOUT=500").unwrap()
        );
        assert_eq!(Spec::default().or(&conn), conn);
    }
}
