//! What a client routes with: the cluster's layout parameters and members ([`Topology`]), and a
//! namespace's id and replication factor ([`NamespaceInfo`]).
//!
//! The layout is a pure function of the configured membership, partition bits and width
//! ([`crate::server::cluster_layout`]), so a client given the same inputs computes the very
//! table every node uses with [`kvorum_ring::Layout::initial`] and sends each key straight to
//! one of its primaries. Membership is fixed at start-up, so the topology is computed once.

use std::net::SocketAddr;

use kvorum_consistency::Conflict;
use kvorum_wire::native::{Applied, ErrorKind, ErrorReply, NamespaceInfo, Topology, TopologyNode};

use crate::config::NodeConfig;
use crate::session::Shared;

/// The topology this node answers: every node with the address its native protocol listens on
/// (this node's `peer_listen`, the others' `peers[].addr`). `bound` is the address the endpoint
/// actually bound, used for this node when `peer_listen` asks for port 0.
pub fn topology_of(config: &NodeConfig, bound: SocketAddr) -> anyhow::Result<Topology> {
    let layout = crate::server::cluster_layout(config)?;
    let own = match config.peer_listen.port() {
        0 => SocketAddr::new(config.peer_listen.ip(), bound.port()),
        _ => config.peer_listen,
    };
    let mut nodes: Vec<TopologyNode> = config
        .peers
        .iter()
        .map(|p| TopologyNode {
            id: p.id,
            addr: p.addr,
        })
        .collect();
    nodes.push(TopologyNode {
        id: config.node_id,
        addr: own,
    });
    nodes.sort_by_key(|n| n.id);
    Ok(Topology {
        epoch: layout.epoch(),
        partition_bits: layout.partition_bits(),
        width: layout.configured_width(),
        replication: config.replication_factor,
        nodes,
    })
}

/// A live namespace by name, as requests see it (the catalog's conflict rules applied).
pub(super) fn namespace(shared: &Shared, name: &str) -> Result<NamespaceInfo, ErrorReply> {
    let missing = |why: &str| ErrorReply {
        kind: ErrorKind::NoSuchNamespace,
        applied: Applied::No,
        message: format!("ERR no such namespace '{}'{why}", printable(name)),
    };
    let view = shared
        .catalog
        .views()
        .into_iter()
        .find(|v| v.name == name)
        .ok_or_else(|| missing(""))?;
    if !view.usable {
        // An earlier namespace holds its id: requests to it are refused (NAMESPACES.md).
        return Err(missing(" (its id is held by an earlier namespace)"));
    }
    let policy = &view.def.policy;
    Ok(NamespaceInfo {
        name: view.name,
        id: view.def.id,
        n: policy.n,
        default: policy.default.clone(),
        lww: policy.conflict == Conflict::Lww,
    })
}

/// A client-given name, safe to put in a one-line error: at most 128 characters, no control
/// characters.
fn printable(name: &str) -> String {
    name.chars()
        .take(128)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kvorum_ring::{Layout, NodeId};

    #[test]
    fn a_client_computes_the_nodes_layout_from_the_topology() {
        let text = r#"
node_id = 2
peer_listen = "127.0.0.1:0"
replication_factor = 2
partition_bits = 6
[tls]
ca_cert = "ca.pem"
node_dir = "n2"
[[peers]]
id = 3
addr = "127.0.0.1:7381"
[[peers]]
id = 1
addr = "127.0.0.1:7379"
"#;
        let config: NodeConfig = toml::from_str(text).unwrap();
        let topology = topology_of(&config, "127.0.0.1:7380".parse().unwrap()).unwrap();
        assert_eq!(
            topology
                .nodes
                .iter()
                .map(|n| (n.id, n.addr.to_string()))
                .collect::<Vec<_>>(),
            vec![
                (1, "127.0.0.1:7379".to_owned()),
                (2, "127.0.0.1:7380".to_owned()),
                (3, "127.0.0.1:7381".to_owned()),
            ]
        );
        assert_eq!(topology.replication, 2);
        let ids: Vec<NodeId> = topology.nodes.iter().map(|n| NodeId(n.id)).collect();
        let theirs = Layout::initial(&ids, topology.partition_bits, topology.width).unwrap();
        assert!(theirs == crate::server::cluster_layout(&config).unwrap());
        assert_eq!(topology.epoch, theirs.epoch());
    }
}
