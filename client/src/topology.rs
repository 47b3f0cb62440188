//! The cluster as the client routes it: membership, addresses and the layout.
//!
//! A node answers [`kvorum_wire::native::Request::Topology`] with the membership and the layout
//! parameters; [`Topology::from_wire`] computes the layout from them with
//! [`kvorum_ring::Layout::initial`], the very function the nodes run on the same inputs, so the
//! client's preference list for a key is the nodes' own. Keys are hashed by `kvorum-ring` too
//! ([`kvorum_ring::key_hash`], specified in docs/PLACEMENT.md).
//!
//! Every response carries the epoch of the layout its node uses. When one is newer than the
//! client's, the client fetches the topology again (from that node first) and swaps it in;
//! requests already routed keep going to the nodes they picked, and the node coordinates them
//! whatever the layout, so a stale route costs a hop, never a wrong answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use kvorum_ring::{Layout, NamespaceId, NodeId};
use kvorum_wire::native;

use crate::error::Error;
use crate::Route;

/// One version of the cluster's topology, as a node described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    epoch: u64,
    replication: usize,
    layout: Layout,
    addrs: BTreeMap<NodeId, SocketAddr>,
}

impl Topology {
    /// Computes the layout the nodes use from a node's description of the cluster.
    pub fn from_wire(t: &native::Topology) -> Result<Topology, Error> {
        let mut addrs = BTreeMap::new();
        for node in &t.nodes {
            if addrs.insert(NodeId(node.id), node.addr).is_some() {
                return Err(bad_topology(format!("node n{} is listed twice", node.id)));
            }
        }
        let ids: Vec<NodeId> = addrs.keys().copied().collect();
        if ids.is_empty() {
            return Err(Error::NoNodes);
        }
        let layout = Layout::initial(&ids, t.partition_bits, t.width)
            .map_err(|e| bad_topology(format!("cannot compute its layout: {e}")))?;
        Ok(Topology {
            epoch: t.epoch,
            replication: t.replication,
            layout,
            addrs,
        })
    }

    /// The epoch of the layout, as the node reported it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The cluster's replication factor (`N` of the `default` namespace).
    pub fn replication(&self) -> usize {
        self.replication
    }

    /// The layout keys are placed with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Every node and the address its native protocol listens on, by id.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, SocketAddr)> + '_ {
        self.addrs.iter().map(|(&id, &addr)| (id, addr))
    }

    /// The native address of a node.
    pub fn addr(&self, node: NodeId) -> Option<SocketAddr> {
        self.addrs.get(&node).copied()
    }

    /// Where a key of namespace `ns` (replication factor `n`) lives.
    pub fn route(&self, ns: NamespaceId, key: &[u8], n: usize) -> Result<Route, Error> {
        crate::route(&self.layout, ns, key, n).map_err(|e| {
            Error::InvalidRequest(format!(
                "replication factor {n} does not fit the cluster's layout: {e}"
            ))
        })
    }

    /// The nodes to send a request for a key to, in order: its primaries in preference order,
    /// then the fallbacks (which coordinate as well as a primary, one hop further from the data).
    pub(crate) fn preference(
        &self,
        ns: NamespaceId,
        key: &[u8],
        n: usize,
    ) -> Result<Vec<NodeId>, Error> {
        let route = self.route(ns, key, n)?;
        Ok(route.primaries.into_iter().chain(route.fallbacks).collect())
    }

    /// Every node, for requests that concern no single key (scans, namespace lookups).
    pub(crate) fn all_nodes(&self) -> Vec<NodeId> {
        self.addrs.keys().copied().collect()
    }
}

fn bad_topology(reason: String) -> Error {
    Error::Config(format!("the cluster's topology is unusable: {reason}"))
}

/// The client's current topology, swapped whole when a newer one arrives.
#[derive(Debug)]
pub(crate) struct TopologyCell {
    current: RwLock<Arc<Topology>>,
    /// A refresh is under way: a burst of responses with a newer epoch starts only one.
    refreshing: AtomicBool,
}

impl TopologyCell {
    pub fn new(topology: Topology) -> TopologyCell {
        TopologyCell {
            current: RwLock::new(Arc::new(topology)),
            refreshing: AtomicBool::new(false),
        }
    }

    pub fn get(&self) -> Arc<Topology> {
        match self.current.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether a response's epoch says the client's topology is out of date.
    pub fn is_stale(&self, epoch: u64) -> bool {
        epoch > self.get().epoch
    }

    /// Installs `topology` if it is newer than the current one; returns whether it did.
    pub fn install(&self, topology: Topology) -> bool {
        let mut current = match self.current.write() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if topology.epoch > current.epoch {
            *current = Arc::new(topology);
            true
        } else {
            false
        }
    }

    /// Claims the right to refresh; `false` if a refresh is already running.
    pub fn begin_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }

    pub fn end_refresh(&self) {
        self.refreshing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kvorum_ring::{key_hash, partition_of, PartitionId};

    fn wire(epoch: u64, ids: &[u64], partition_bits: u8) -> native::Topology {
        native::Topology {
            epoch,
            partition_bits,
            width: 3,
            replication: 3,
            nodes: ids
                .iter()
                .map(|&id| native::TopologyNode {
                    id,
                    addr: ([127, 0, 0, 1], 7378 + id as u16).into(),
                })
                .collect(),
        }
    }

    /// The vectors of docs/PLACEMENT.md §1–2 (partition for Q = 1024).
    #[test]
    fn the_client_places_keys_like_the_documented_vectors() {
        let bytes_ff = vec![0xffu8; 64];
        let mod251: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let vectors: [(u32, &[u8], u64, u32); 7] = [
            (0, b"", 0x48b2c92616fc193d, 290),
            (0, b"k", 0x8212209777731055, 520),
            (0, b"hello", 0xad8abeed4e335ea2, 694),
            (7, b"user:42", 0xcea28a02d94bda6c, 826),
            (0, &bytes_ff, 0x050db79c0e24d490, 20),
            (0x0102_0304, b"k", 0xab40b86755640cdd, 685),
            (3, &mod251, 0x2cfa0124e9289244, 179),
        ];
        let topology = Topology::from_wire(&wire(1, &[1, 2, 3, 4, 5], 10)).unwrap();
        for (ns, key, hash, partition) in vectors {
            let ns = NamespaceId(ns);
            assert_eq!(key_hash(ns, key), hash, "hash of {ns}/{key:?}");
            let route = topology.route(ns, key, 3).unwrap();
            assert_eq!(route.partition, PartitionId(partition), "{ns}/{key:?}");
            assert_eq!(
                route.partition,
                topology.layout().partition_for_key(ns, key)
            );
        }
    }

    #[test]
    fn the_client_computes_the_nodes_own_layout_and_preference_lists() {
        let t = wire(4, &[3, 1, 2, 5, 4], 8);
        let topology = Topology::from_wire(&t).unwrap();
        let ids: Vec<NodeId> = (1..=5).map(NodeId).collect();
        let nodes_layout = Layout::initial(&ids, 8, 3).unwrap();
        assert_eq!(topology.layout(), &nodes_layout);
        assert_eq!(topology.epoch(), 4);
        for key in [&b"a"[..], b"user:1", b"session:xyz", b""] {
            let ns = NamespaceId(0x8000_0001);
            let p = partition_of(key_hash(ns, key), 8);
            for n in 1..=3 {
                let list = nodes_layout.preference_list(p, n).unwrap();
                let expected: Vec<NodeId> = list.iter().collect();
                let got = topology.preference(ns, key, n).unwrap();
                assert_eq!(got, expected, "{key:?} n={n}");
                assert_eq!(&got[..n], list.primaries);
            }
        }
        assert_eq!(
            topology.addr(NodeId(2)),
            Some(([127, 0, 0, 1], 7380).into())
        );
        assert!(topology.route(NamespaceId(0), b"k", 4).is_err());
    }

    #[test]
    fn broken_topologies_are_refused() {
        assert!(matches!(
            Topology::from_wire(&wire(1, &[], 8)),
            Err(Error::NoNodes)
        ));
        assert!(Topology::from_wire(&wire(1, &[1, 1, 2], 8)).is_err());
        assert!(Topology::from_wire(&wire(1, &[1, 2], 17)).is_err());
    }

    #[test]
    fn only_a_newer_epoch_replaces_the_topology() {
        let cell = TopologyCell::new(Topology::from_wire(&wire(2, &[1, 2, 3], 8)).unwrap());
        assert!(!cell.is_stale(2));
        assert!(!cell.is_stale(1));
        assert!(cell.is_stale(3));
        assert!(!cell.install(Topology::from_wire(&wire(1, &[1, 2], 8)).unwrap()));
        assert_eq!(cell.get().nodes().count(), 3);
        assert!(cell.install(Topology::from_wire(&wire(3, &[1, 2, 3, 4], 8)).unwrap()));
        assert_eq!(cell.get().epoch(), 3);
        assert_eq!(cell.get().nodes().count(), 4);
        assert!(cell.begin_refresh());
        assert!(!cell.begin_refresh());
        cell.end_refresh();
        assert!(cell.begin_refresh());
    }
}
