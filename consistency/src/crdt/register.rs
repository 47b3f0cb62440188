//! A multi-value register: the siblings of a Redis string key.
//!
//! Each sibling is one write that no other known write superseded, tagged with the [`Dot`] the
//! coordinating server minted and the HLC [`Timestamp`] it was minted at. Its value is `None` for
//! a delete (a tombstone). A single-value read takes the winner: highest `(timestamp, node,
//! counter)`, i.e. HLC last-writer-wins; the other siblings stay until a write that saw them.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::dotted::Dotted;
use crate::hlc::Timestamp;
use crate::version::Dot;

/// One surviving write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sibling {
    pub dot: Dot,
    pub ts: Timestamp,
    /// `None` is a tombstone: the write was a delete.
    pub value: Option<Bytes>,
}

impl Dotted for Sibling {
    fn dot(&self) -> Dot {
        self.dot
    }

    fn prefer(&self, other: &Self) -> bool {
        (self.ts, &self.value) >= (other.ts, &other.value)
    }
}

/// Last-writer-wins order: `(timestamp, node, counter)`.
pub fn rank(s: &Sibling) -> (Timestamp, Dot) {
    (s.ts, s.dot)
}

/// The sibling a single-value read returns: the highest [`rank`].
pub fn winner(siblings: &[Sibling]) -> Option<&Sibling> {
    siblings.iter().max_by_key(|s| rank(s))
}
