//! Free loopback ports for the contenders.
//!
//! Ports are probed (bound and released) below the kernel's ephemeral range, so the load
//! generator's own outgoing connections cannot take them, and every port handed out is
//! remembered so two contenders never get the same one, even one a server reserves without
//! binding it yet. Another process could still take a probed port before the server binds it:
//! the contenders retry a start that fails.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use anyhow::bail;

/// Probed ports lie in `LOW..HIGH` (Linux's ephemeral range starts at 32768).
const LOW: u16 = 20_000;
const HIGH: u16 = 29_000;
/// Candidates tried before giving up.
const ATTEMPTS: usize = 2_000;

#[derive(Debug)]
pub struct Ports {
    taken: HashSet<u16>,
    /// xorshift state: a different start each run, so two runs at once rarely collide.
    state: u64,
}

impl Ports {
    pub fn new() -> Ports {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ports {
            taken: HashSet::new(),
            state: (nanos ^ u64::from(std::process::id()) << 32) | 1,
        }
    }

    fn candidate(&mut self) -> u16 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        LOW + (self.state % u64::from(HIGH - LOW)) as u16
    }

    /// `count` free TCP ports.
    pub fn tcp(&mut self, count: usize) -> anyhow::Result<Vec<u16>> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..ATTEMPTS {
            if out.len() == count {
                break;
            }
            let port = self.candidate();
            if self.free_tcp(port) {
                self.taken.insert(port);
                out.push(port);
            }
        }
        if out.len() < count {
            bail!("found no {count} free TCP ports on 127.0.0.1 in {LOW}..{HIGH}");
        }
        Ok(out)
    }

    /// A base port `p` for `kvorum dev --nodes n --base-port p`: node `i` serves RESP on
    /// TCP `p+i`, QUIC on UDP `p+1000+i`, and has TCP `p+3000+i` reserved for its admin port.
    pub fn kvorum_base(&mut self, nodes: u16) -> anyhow::Result<u16> {
        for _ in 0..ATTEMPTS {
            let base = self.candidate();
            let wanted: Vec<(u16, bool)> = (0..nodes)
                .flat_map(|i| {
                    [
                        (base + i, true),
                        (base + 1000 + i, false),
                        (base + 3000 + i, true),
                    ]
                })
                .collect();
            let free = wanted.iter().all(|&(port, tcp)| {
                if tcp {
                    self.free_tcp(port)
                } else {
                    self.free_udp(port)
                }
            });
            if free {
                self.taken.extend(wanted.iter().map(|&(port, _)| port));
                return Ok(base);
            }
        }
        bail!("found no free ports for {nodes} kvorum nodes on 127.0.0.1")
    }

    fn free_tcp(&self, port: u16) -> bool {
        !self.taken.contains(&port) && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
    }

    fn free_udp(&self, port: u16) -> bool {
        !self.taken.contains(&port) && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_distinct_bindable_ports() {
        let mut ports = Ports::new();
        let tcp = ports.tcp(6).expect("six ports");
        let base = ports.kvorum_base(3).expect("a base");
        let mut all: Vec<u16> = tcp.clone();
        all.extend([base, base + 1, base + 2, base + 1000, base + 3000]);
        let distinct: HashSet<u16> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");
        assert!(tcp.iter().all(|&p| (LOW..HIGH).contains(&p)));
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, tcp[0])).is_ok());
    }
}
