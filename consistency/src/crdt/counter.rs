//! A resettable PN-counter: what `INCR`, `INCRBY`, `DECRBY` and `INCRBYFLOAT` change.
//!
//! Each node that coordinates increments owns one [`Contribution`]: its running totals and a
//! sequence number that grows with every change it makes. Only that node ever changes its
//! contribution (inside its storage transaction), so merging takes, per node, the contribution
//! with the highest sequence number: increments made on both sides of a partition all count.
//!
//! A delete cannot subtract what it did not see. It records *floors*: a snapshot of every
//! contribution it observed (merged the same way). The value is the sum of each contribution
//! minus its floor, so increments concurrent with a delete survive it, and those it saw do not.
//!
//! A counter made from a string holding a number (`SET k 10` then `INCR k`) starts from that
//! number, its *base*, which a delete removes too.

use serde::{Deserialize, Serialize};

use kvorum_ring::NodeId;

use crate::hlc::Timestamp;
use crate::version::Dot;

/// An `f64` compared and hashed by its bits, so states stay `Eq`.
#[derive(Copy, Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Float(pub f64);

impl PartialEq for Float {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Float {}

impl PartialOrd for Float {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Float {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One node's running totals.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Contribution {
    pub node: NodeId,
    /// Grows by one with every change this node makes; the merge keeps the highest.
    pub seq: u64,
    /// Sum of the integer increments (`INCRBY`).
    pub int: i64,
    /// Sum of the float increments (`INCRBYFLOAT`).
    pub float: Float,
    /// Number of increments: a counter exists once it was incremented, even by zero.
    pub ops: u64,
}

/// A counter's value.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// The value as an integer, if it is one (an integral float within `f64`'s exact range
    /// counts, as Redis would parse its printed form).
    pub fn as_int(self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Some(f as i64)
            }
            Number::Float(_) => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    /// The decimal text a `GET` returns.
    pub fn to_text(self) -> String {
        match self.as_int() {
            Some(i) => i.to_string(),
            None => format_float(self.as_f64()),
        }
    }
}

/// Formats a float the way Redis prints `INCRBYFLOAT` results: fixed notation, no exponent,
/// trailing zeros removed, about 17 significant digits of which we keep 15 so `f64` rounding
/// noise (0.1 + 0.2) prints as Redis's long-double arithmetic would ("0.3").
pub fn format_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let magnitude = f.abs().log10().floor() as i64 + 1;
    let decimals = (15 - magnitude).clamp(0, 17) as usize;
    let mut text = format!("{f:.decimals$}");
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if text == "-0" {
        text = "0".into();
    }
    text
}

/// Parses an integer exactly as Redis does for `INCR`: optional `-`, digits, no leading zero,
/// no sign on zero, no spaces, within `i64`.
pub fn parse_int(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if digits.is_empty()
        || digits.len() > 19
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && (digits.len() > 1 || digits.len() < bytes.len()))
    {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Parses a float as Redis does for `INCRBYFLOAT`: no spaces, finite, not empty.
pub fn parse_float(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty() || text.trim() != text || text.len() > 5000 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") || lower.starts_with("0x") {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A number a string holds, for converting it into a counter.
pub fn parse_number(bytes: &[u8]) -> Option<Number> {
    parse_int(bytes)
        .map(Number::Int)
        .or_else(|| parse_float(bytes).map(Number::Float))
}

/// Why an increment was refused; nothing changed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IncrError {
    NotInteger,
    Overflow,
    NotFinite,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    base_int: i64,
    base_float: Float,
    /// Names the string write the base came from; two replicas that converted different
    /// strings keep the base of the later one, never a mix.
    base_source: (Timestamp, Dot),
    base_removed: bool,
    /// One per node, sorted by node.
    contributions: Vec<Contribution>,
    /// What deletes observed, one per node, sorted by node.
    floors: Vec<Contribution>,
}

impl Counter {
    /// A counter starting from the number a string held; `source` names the string's write.
    pub fn from_base(base: Number, source: (Timestamp, Dot)) -> Self {
        let (base_int, base_float) = match base {
            Number::Int(i) => (i, 0.0),
            Number::Float(f) => (0, f),
        };
        Counter {
            base_int,
            base_float: Float(base_float),
            base_source: source,
            ..Counter::default()
        }
    }

    /// A counter with no base: it exists once incremented.
    pub fn empty() -> Self {
        Counter {
            base_removed: true,
            ..Counter::default()
        }
    }

    fn floor(&self, node: NodeId) -> Option<&Contribution> {
        self.floors.iter().find(|f| f.node == node)
    }

    /// Per node: contribution minus floor (zero when a delete saw all of it).
    fn live_parts(&self) -> impl Iterator<Item = (i128, f64, u64)> + '_ {
        self.contributions.iter().map(|c| match self.floor(c.node) {
            Some(f) if f.seq >= c.seq => (0, 0.0, 0),
            // Totals wrap (see `incr`): the difference is exact while the true one fits.
            Some(f) => (
                i128::from(c.int.wrapping_sub(f.int)),
                c.float.0 - f.float.0,
                c.ops.saturating_sub(f.ops),
            ),
            None => (i128::from(c.int), c.float.0, c.ops),
        })
    }

    /// Whether the counter exists: it has a base no delete removed, or increments no delete saw.
    pub fn is_live(&self) -> bool {
        !self.base_removed || self.live_parts().any(|(_, _, ops)| ops > 0)
    }

    /// The current value.
    pub fn value(&self) -> Number {
        let (mut int, mut float) = (0i128, 0.0f64);
        if !self.base_removed {
            int += i128::from(self.base_int);
            float += self.base_float.0;
        }
        for (i, f, _) in self.live_parts() {
            int += i;
            float += f;
        }
        if float == 0.0 {
            match i64::try_from(int) {
                Ok(i) => Number::Int(i),
                Err(_) => Number::Float(int as f64),
            }
        } else {
            Number::Float(int as f64 + float)
        }
    }

    fn contribution_mut(&mut self, node: NodeId) -> &mut Contribution {
        let i = match self.contributions.binary_search_by_key(&node, |c| c.node) {
            Ok(i) => i,
            Err(i) => {
                let fresh = Contribution {
                    node,
                    seq: 0,
                    int: 0,
                    float: Float(0.0),
                    ops: 0,
                };
                self.contributions.insert(i, fresh);
                i
            }
        };
        &mut self.contributions[i]
    }

    /// `INCRBY`, coordinated by `node`. Returns the new value.
    pub fn incr(&mut self, node: NodeId, delta: i64) -> Result<i64, IncrError> {
        let current = self.value().as_int().ok_or(IncrError::NotInteger)?;
        let next = current.checked_add(delta).ok_or(IncrError::Overflow)?;
        // A node's running total may pass i64 over its life while the value never does (a
        // delete does not reset it): it wraps, and values are computed from differences.
        let own = self.contribution_mut(node);
        own.int = own.int.wrapping_add(delta);
        own.seq += 1;
        own.ops += 1;
        Ok(next)
    }

    /// `INCRBYFLOAT`, coordinated by `node`. Returns the new value.
    pub fn incr_float(&mut self, node: NodeId, delta: f64) -> Result<f64, IncrError> {
        let next = self.value().as_f64() + delta;
        if !next.is_finite() || !delta.is_finite() {
            return Err(IncrError::NotFinite);
        }
        let own = self.contribution_mut(node);
        own.float = Float(own.float.0 + delta);
        own.seq += 1;
        own.ops += 1;
        Ok(next)
    }

    /// A delete: everything observed so far stops counting.
    pub fn clear(&mut self) {
        self.floors = merge_by_seq(&self.floors, &self.contributions);
        self.base_removed = true;
    }

    pub fn merge(&self, other: &Counter) -> Counter {
        let base = if (self.base_source, self.base_int, self.base_float)
            >= (other.base_source, other.base_int, other.base_float)
        {
            self
        } else {
            other
        };
        Counter {
            base_int: base.base_int,
            base_float: base.base_float,
            base_source: base.base_source,
            base_removed: self.base_removed || other.base_removed,
            contributions: merge_by_seq(&self.contributions, &other.contributions),
            floors: merge_by_seq(&self.floors, &other.floors),
        }
    }

    pub fn well_formed(&self) -> bool {
        let sorted = |v: &[Contribution]| v.windows(2).all(|w| w[0].node < w[1].node);
        sorted(&self.contributions) && sorted(&self.floors)
    }

    /// How many per-node records the counter holds.
    pub fn len(&self) -> usize {
        self.contributions.len() + self.floors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per node, the record with the highest sequence number (ties: the larger record, so the
/// result does not depend on the argument order).
fn merge_by_seq(a: &[Contribution], b: &[Contribution]) -> Vec<Contribution> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.node == y.node => {
                out.push(*x.max(y));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.node < y.node => {
                out.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn increments_on_both_sides_of_a_partition_all_count() {
        let mut left = Counter::empty();
        let mut right = Counter::empty();
        left.incr(NodeId(1), 5).unwrap();
        right.incr(NodeId(2), 7).unwrap();
        right.incr(NodeId(2), -1).unwrap();
        let merged = left.merge(&right);
        assert_eq!(merged.value(), Number::Int(11));
        assert_eq!(merged, right.merge(&left));
        assert_eq!(merged.merge(&merged), merged);
    }

    #[test]
    fn a_delete_removes_what_it_saw_and_keeps_concurrent_increments() {
        let mut c = Counter::from_base(Number::Int(10), Default::default());
        c.incr(NodeId(1), 3).unwrap();
        let mut deleted = c.clone();
        deleted.clear();
        assert!(!deleted.is_live());
        // Concurrently, node 1 adds 2 more.
        c.incr(NodeId(1), 2).unwrap();
        let merged = deleted.merge(&c);
        assert_eq!(merged.value(), Number::Int(2));
        assert!(merged.is_live());
    }

    #[test]
    fn redis_integer_parsing_rules() {
        assert_eq!(parse_int(b"10"), Some(10));
        assert_eq!(parse_int(b"-10"), Some(-10));
        assert_eq!(parse_int(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn overflow_and_non_integers_are_refused_without_change() {
        let mut c = Counter::from_base(Number::Int(i64::MAX), Default::default());
        assert_eq!(c.incr(NodeId(1), 1), Err(IncrError::Overflow));
        assert_eq!(c.value(), Number::Int(i64::MAX));
        let mut f = Counter::from_base(Number::Float(1.5), Default::default());
        assert_eq!(f.incr(NodeId(1), 1), Err(IncrError::NotInteger));
        assert_eq!(
            f.incr_float(NodeId(1), f64::INFINITY),
            Err(IncrError::NotFinite)
        );
    }

    #[test]
    fn floats_print_like_redis() {
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(3.0), "3");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(5.0e3), "5000");
        assert_eq!(format_float(1e20), "100000000000000000000");
        let mut c = Counter::from_base(Number::Float(10.5), Default::default());
        assert_eq!(c.incr_float(NodeId(1), 0.1).unwrap(), 10.6);
        c.incr_float(NodeId(1), -0.6).unwrap();
        assert_eq!(c.value().to_text(), "10");
        assert_eq!(c.incr(NodeId(1), 1), Ok(11));
    }
}
