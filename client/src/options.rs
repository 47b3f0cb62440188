//! Per-request options: consistency and timeout, and how they become the
//! [`kvorum_consistency::Spec`] a request carries.
//!
//! Every request builder has the same option methods:
//!
//! - [`.consistency(Consistency::Quorum)`](Consistency): one of the presets;
//! - `.r(n)`, `.w(n)`, `.dw(n)`, `.sloppy()`, `.strict()`: explicit settings, as
//!   `R=n W=n DW=n SLOPPY|STRICT` over RESP. A setting left out is filled in by the node: R and W
//!   default to a majority of the namespace's `N`, DW to 0, and explicit settings are strict.
//!   A preset and explicit settings cannot be combined (as over RESP); such a request fails
//!   with [`crate::Error::InvalidRequest`] before anything is sent;
//! - `.timeout(d)`: how long the coordinating node waits for replicas (`TIMEOUT=ms`). The client
//!   waits that long plus a grace for the answer to travel ([`crate::ClientBuilder::reply_grace`]);
//!   without it, the namespace's default applies on the node and the client's
//!   [`crate::ClientBuilder::timeout`] bounds the call.
//!
//! A request that sets nothing uses its namespace's default consistency.

use std::time::Duration;

use kvorum_consistency::Spec;

use crate::error::Error;

/// The consistency presets, exactly the nodes' own (`kvorum_consistency::Preset`): each is
/// resolved by the node against the namespace's replication factor `N`.
pub use kvorum_consistency::Preset as Consistency;

/// The options one request was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub preset: Option<Consistency>,
    pub r: Option<usize>,
    pub w: Option<usize>,
    pub dw: Option<usize>,
    pub sloppy: Option<bool>,
    pub timeout: Option<Duration>,
}

impl Options {
    /// The spec the request carries, or why the options contradict each other.
    pub fn spec(&self) -> Result<Spec, Error> {
        let explicit =
            self.r.is_some() || self.w.is_some() || self.dw.is_some() || self.sloppy.is_some();
        if self.preset.is_some() && explicit {
            return Err(Error::InvalidRequest(
                "give a consistency preset or r/w/dw/sloppy/strict settings, not both".into(),
            ));
        }
        for (name, value) in [("r", self.r), ("w", self.w)] {
            if value == Some(0) {
                return Err(Error::InvalidRequest(format!("{name} must be at least 1")));
            }
        }
        if let (Some(dw), Some(w)) = (self.dw, self.w) {
            if dw > w {
                return Err(Error::InvalidRequest(format!(
                    "dw ({dw}) cannot exceed w ({w})"
                )));
            }
        }
        let timeout_ms = match self.timeout {
            None => None,
            Some(d) if d.is_zero() => {
                return Err(Error::InvalidRequest("timeout must be above zero".into()))
            }
            // TIMEOUT counts whole milliseconds and must be at least 1.
            Some(d) => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
        };
        Ok(Spec {
            preset: self.preset,
            r: self.r,
            w: self.w,
            dw: self.dw,
            sloppy: self.sloppy,
            timeout_ms,
        })
    }
}

/// Implements the option methods (module docs) on a builder with an `opts: Options` field.
macro_rules! option_methods {
    () => {
        /// Asks for a consistency preset (replaces the namespace's default for this request).
        pub fn consistency(mut self, consistency: $crate::Consistency) -> Self {
            self.opts.preset = Some(consistency);
            self
        }

        /// Replicas that must answer a read (`R=n`).
        pub fn r(mut self, r: usize) -> Self {
            self.opts.r = Some(r);
            self
        }

        /// Replicas that must acknowledge a write (`W=n`).
        pub fn w(mut self, w: usize) -> Self {
            self.opts.w = Some(w);
            self
        }

        /// Of the `W` acknowledgements, how many must be durable (`DW=n`).
        pub fn dw(mut self, dw: usize) -> Self {
            self.opts.dw = Some(dw);
            self
        }

        /// Lets fallback nodes stand in for unreachable primaries (`SLOPPY`).
        pub fn sloppy(mut self) -> Self {
            self.opts.sloppy = Some(true);
            self
        }

        /// Counts only the key's primaries (`STRICT`, the default of explicit settings).
        pub fn strict(mut self) -> Self {
            self.opts.sloppy = Some(false);
            self
        }

        /// How long the coordinating node waits for replicas (`TIMEOUT=ms`); the client waits
        /// that long plus its reply grace.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.opts.timeout = Some(timeout);
            self
        }
    };
}
pub(crate) use option_methods;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Spec {
        Spec::parse(&text.split_whitespace().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn options_map_to_the_spec_resp_would_send() {
        let quorum = Options {
            preset: Some(Consistency::Quorum),
            timeout: Some(Duration::from_millis(250)),
            ..Options::default()
        };
        assert_eq!(quorum.spec().unwrap(), parse("QUORUM TIMEOUT=250"));
        let explicit = Options {
            r: Some(2),
            w: Some(3),
            dw: Some(1),
            sloppy: Some(true),
            ..Options::default()
        };
        assert_eq!(explicit.spec().unwrap(), parse("R=2 W=3 DW=1 SLOPPY"));
        let strict = Options {
            w: Some(1),
            sloppy: Some(false),
            ..Options::default()
        };
        assert_eq!(strict.spec().unwrap(), parse("W=1 STRICT"));
        // Nothing set: the namespace's default applies on the node.
        assert_eq!(Options::default().spec().unwrap(), Spec::default());
    }

    #[test]
    fn contradicting_options_are_refused_before_sending() {
        let both = Options {
            preset: Some(Consistency::One),
            sloppy: Some(true),
            ..Options::default()
        };
        assert!(matches!(both.spec(), Err(Error::InvalidRequest(_))));
        let zero = Options {
            r: Some(0),
            ..Options::default()
        };
        assert!(matches!(zero.spec(), Err(Error::InvalidRequest(_))));
        let dw = Options {
            w: Some(1),
            dw: Some(2),
            ..Options::default()
        };
        assert!(matches!(dw.spec(), Err(Error::InvalidRequest(_))));
        let no_time = Options {
            timeout: Some(Duration::ZERO),
            ..Options::default()
        };
        assert!(matches!(no_time.spec(), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn sub_millisecond_timeouts_round_up_to_one_millisecond() {
        let tiny = Options {
            timeout: Some(Duration::from_micros(10)),
            ..Options::default()
        };
        assert_eq!(tiny.spec().unwrap().timeout_ms, Some(1));
    }
}
