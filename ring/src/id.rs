//! Identities that placement talks about: nodes, namespaces and partitions.
//!
//! They are newtypes rather than bare integers so a node id can never be passed where a
//! partition is expected. All three serialize as their bare number (`serde(transparent)`), so
//! the wire and config formats stay plain.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identity of a node in the cluster, taken from the node's configuration.
///
/// Displayed as `n{id}` (for example `n3`) in logs and admin output.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u64);

/// Identity of a namespace (a keyspace with its own policy). The `default` namespace is
/// [`NamespaceId::DEFAULT`].
///
/// The id, not the name, goes into the key hash, so renaming a namespace never moves its keys.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NamespaceId(pub u32);

impl NamespaceId {
    /// The `default` namespace (RESP db 0), which always exists.
    pub const DEFAULT: NamespaceId = NamespaceId(0);
}

/// One of the `Q = 2^partition_bits` fixed partitions of the key space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartitionId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for NamespaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_as_operators_read_them() {
        assert_eq!(NodeId(7).to_string(), "n7");
        assert_eq!(NamespaceId(3).to_string(), "3");
        assert_eq!(PartitionId(1023).to_string(), "1023");
        assert_eq!(NamespaceId::DEFAULT, NamespaceId(0));
    }
}
