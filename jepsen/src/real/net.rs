//! The hosts of a real-process run and the network faults applied between them.
//!
//! Every host is a network namespace of this machine, so every node can listen on the same ports
//! and a firewall rule in one node's namespace affects that node only:
//!
//! ```text
//!                 jx-sw (bridge jxbr0)
//!        v-ctl  /   v-n1 |  v-n2 |  …  \  v-nK
//!   jx-ctl 198.18.0.2   jx-n1 .11   jx-n2 .12 … jx-nK .(10+K)      (eth0 in each, /24)
//! ```
//!
//! The bridge lives inside the switch namespace, so the machine's own namespace is never touched:
//! no interface, route or rule is added there. Addresses come from the benchmarking range
//! 198.18.0.0/24; there is no default route and no NAT, so test traffic cannot leave the
//! namespaces a run made. Each node namespace holds the nft table of [`super::nft`]; faults
//! ([`NetFaults`]) are applied as one `nft -f` batch per node and read back before they count.
//!
//! Namespaces are found again by name: every run starts by deleting every `jx-*` namespace (the
//! leftovers of a run that crashed) and deletes its own at the end.
//!
//! Shell tools (`ip` from iproute2, `nft` from nftables) do the configuration; a thread joins a
//! namespace with `setns(2)` on the file `ip netns` keeps for it ([`enter_namespace`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use serde::Serialize;

use super::grudge::Grudge;
use super::nft;

/// The switch namespace: holds the bridge every host is plugged into.
pub const SWITCH_NS: &str = "jx-sw";
/// The clients' namespace: the harness' clients connect from here.
pub const CTL_NS: &str = "jx-ctl";
/// Every namespace of a run starts with this; leftovers are found by it.
pub const NS_PREFIX: &str = "jx-";
/// The bridge inside [`SWITCH_NS`].
pub const BRIDGE: &str = "jxbr0";
/// The interface every host namespace sees.
const HOST_IF: &str = "eth0";
/// Where `ip netns` keeps a file per named namespace (iproute2's convention).
const NETNS_DIR: &str = "/var/run/netns";
const PREFIX_LEN: u8 = 24;
const CTL_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// Node `i` has address 198.18.0.(11 + i).
const FIRST_NODE_HOST: u8 = 11;
/// Nodes fit in the /24 from `.11` to `.254`.
pub const MAX_NODES: usize = 244;

/// Why the network of a run could not be built, changed or checked.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "the real-process harness needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network \
         namespaces; run it as root, or use the simulator"
    )]
    NotRoot,
    #[error("`{tool}` is not installed: {install_hint}")]
    MissingTool {
        tool: &'static str,
        install_hint: &'static str,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("network check failed: {what}")]
    Verify { what: String },
    #[error("{0}")]
    Faults(#[from] nft::FaultsError),
    #[error("a topology has 1..={MAX_NODES} nodes, not {0}")]
    NodeCount(usize),
    #[error("`{0}` is not a namespace name this harness uses")]
    BadNamespace(String),
    #[error("cannot enter network namespace {ns}: {source}")]
    Enter {
        ns: String,
        source: nix::errno::Errno,
    },
    #[error("I/O error while {context}: {source}")]
    Io { context: String, source: io::Error },
}

/// The network fault state of a run; [`Topology::apply`] replaces the previous one with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetFaults {
    /// Inbound drops: node -> nodes whose packets it drops (all protocols; the ctl host is never
    /// dropped, clients always reach every node, as in Jepsen).
    pub grudge: Grudge,
    /// Per node: percentage (1..=100) of packets from OTHER NODES dropped at random on input
    /// (`numgen random mod 100 < P drop`). 0 means no loss.
    pub loss_percent: BTreeMap<usize, u8>,
}

/// The namespaces of one run. Dropping it deletes them.
#[derive(Debug)]
pub struct Topology {
    nodes: usize,
    /// Every namespace this topology created, in creation order.
    created: Vec<String>,
    torn_down: AtomicBool,
}

impl Topology {
    /// Checks root and the tools (`ip`, `nft`), removes leftovers of an earlier run (every `jx-*`
    /// namespace), then creates the switch with its bridge, the ctl host, one host per node, a
    /// veth pair from each host into the switch, `lo` up everywhere, and the empty nft table in
    /// each node namespace; then checks addresses, bridge ports and tables are there.
    pub fn create(nodes: usize) -> Result<Topology, NetError> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(NetError::NodeCount(nodes));
        }
        check_root()?;
        check_tools()?;
        cleanup_leftovers()?;
        let mut topology = Topology {
            nodes,
            created: Vec::new(),
            torn_down: AtomicBool::new(false),
        };
        // From here on, an error drops `topology`, which deletes what was made so far.
        topology.add_namespace(SWITCH_NS)?;
        ip(&["-n", SWITCH_NS, "link", "set", "lo", "up"])?;
        ip(&["-n", SWITCH_NS, "link", "add", BRIDGE, "type", "bridge"])?;
        ip(&["-n", SWITCH_NS, "link", "set", BRIDGE, "up"])?;
        topology.add_host(CTL_NS, CTL_ADDR)?;
        for i in 0..nodes {
            topology.add_host(&topology.node_ns(i), topology.node_addr(i))?;
        }
        for i in 0..nodes {
            let ns = topology.node_ns(i);
            nft_in(&ns, &nft::batch(&ns, &[]))?;
        }
        topology.verify_hosts()?;
        topology.verify_tables(&NetFaults::default())?;
        Ok(topology)
    }

    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// `"jx-n1"` for node 0.
    pub fn node_ns(&self, i: usize) -> String {
        format!("{NS_PREFIX}n{}", i + 1)
    }

    /// 198.18.0.11 for node 0.
    pub fn node_addr(&self, i: usize) -> Ipv4Addr {
        let host = u8::try_from(i)
            .ok()
            .and_then(|i| FIRST_NODE_HOST.checked_add(i))
            .unwrap_or(u8::MAX);
        Ipv4Addr::new(198, 18, 0, host)
    }

    /// The clients' address, 198.18.0.2.
    pub fn ctl_addr(&self) -> Ipv4Addr {
        CTL_ADDR
    }

    /// Applies the whole fault state, replacing the previous one: each node namespace gets one
    /// `nft -f -` batch (atomic within that namespace) that flushes its table and adds the drop
    /// rules for `faults`. Then reads every table back and checks it holds exactly those rules.
    /// Returns the batches executed, one per node in node order, for the run's log.
    pub fn apply(&self, faults: &NetFaults) -> Result<Vec<String>, NetError> {
        nft::validate(faults, self.nodes)?;
        let addrs = self.node_addrs();
        let mut batches = Vec::with_capacity(self.nodes);
        for i in 0..self.nodes {
            let ns = self.node_ns(i);
            let text = nft::batch(&ns, &nft::node_rules(faults, i, &addrs)?);
            nft_in(&ns, &text)?;
            batches.push(text);
        }
        self.verify_tables(faults)?;
        Ok(batches)
    }

    /// `apply(&NetFaults::default())`: no drops anywhere, verified.
    pub fn heal(&self) -> Result<Vec<String>, NetError> {
        self.apply(&NetFaults::default())
    }

    /// Deletes every namespace this topology created (idempotent). Processes still running in a
    /// node namespace keep it alive, unnamed, until they exit; the switch goes, so they are cut
    /// off from everyone.
    pub fn teardown(&self) -> Result<(), NetError> {
        let existing = list_namespaces()?;
        for ns in self.created.iter().rev() {
            if existing.contains(ns) {
                ip(&["netns", "del", ns])?;
            }
        }
        self.torn_down.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn node_addrs(&self) -> Vec<Ipv4Addr> {
        (0..self.nodes).map(|i| self.node_addr(i)).collect()
    }

    fn add_namespace(&mut self, ns: &str) -> Result<(), NetError> {
        ip(&["netns", "add", ns])?;
        self.created.push(ns.to_string());
        Ok(())
    }

    /// A host namespace with `lo` up and `eth0` (the far end of a veth whose near end is a bridge
    /// port in the switch) holding `addr`.
    fn add_host(&mut self, ns: &str, addr: Ipv4Addr) -> Result<(), NetError> {
        self.add_namespace(ns)?;
        let port = switch_port(ns);
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&[
            "-n", SWITCH_NS, "link", "add", &port, "type", "veth", "peer", "name", HOST_IF,
            "netns", ns,
        ])?;
        ip(&["-n", SWITCH_NS, "link", "set", &port, "master", BRIDGE])?;
        ip(&["-n", SWITCH_NS, "link", "set", &port, "up"])?;
        let cidr = format!("{addr}/{PREFIX_LEN}");
        ip(&["-n", ns, "addr", "add", &cidr, "dev", HOST_IF])?;
        ip(&["-n", ns, "link", "set", HOST_IF, "up"])?;
        Ok(())
    }

    /// Every host shows its address, and every host's port is on the bridge.
    fn verify_hosts(&self) -> Result<(), NetError> {
        let ports = ip(&["-n", SWITCH_NS, "-o", "link", "show", "master", BRIDGE])?;
        let mut hosts = vec![(CTL_NS.to_string(), CTL_ADDR)];
        hosts.extend((0..self.nodes).map(|i| (self.node_ns(i), self.node_addr(i))));
        for (ns, addr) in hosts {
            let shown = ip(&["-n", &ns, "-4", "-o", "addr", "show", "dev", HOST_IF])?;
            let wanted = format!("inet {addr}/{PREFIX_LEN} ");
            if !shown.contains(&wanted) {
                return Err(NetError::Verify {
                    what: format!("{ns} should have {addr}/{PREFIX_LEN} on {HOST_IF}: {shown}"),
                });
            }
            let port = format!(" {}@", switch_port(&ns));
            if !ports.contains(&port) {
                return Err(NetError::Verify {
                    what: format!("{} is not a port of {BRIDGE}: {ports}", switch_port(&ns)),
                });
            }
        }
        Ok(())
    }

    /// Reads back every node's table and compares it with what `faults` asks for.
    fn verify_tables(&self, faults: &NetFaults) -> Result<(), NetError> {
        let addrs = self.node_addrs();
        for i in 0..self.nodes {
            let ns = self.node_ns(i);
            let json = run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "nft",
                    "-j",
                    "list",
                    "table",
                    nft::FAMILY,
                    nft::TABLE,
                ],
                None,
            )?;
            let listing = nft::parse_listing(&json).map_err(|err| NetError::Verify {
                what: format!("{ns}: {err}"),
            })?;
            let expected = nft::node_rules(faults, i, &addrs)?;
            nft::verify(&listing, &expected).map_err(|what| NetError::Verify {
                what: format!("{ns}: {what}"),
            })?;
        }
        Ok(())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.torn_down.load(Ordering::SeqCst) {
            if let Err(err) = self.teardown() {
                eprintln!("could not delete the run's network namespaces: {err}");
            }
        }
    }
}

/// Removes every `jx-*` namespace (leftovers of a crashed run). Idempotent. A leftover that still
/// has processes in it is deleted all the same (it lives on unnamed until they exit) and the
/// processes are named on stderr: they belong to an earlier run, not to this one, so they are not
/// signalled here.
pub fn cleanup_leftovers() -> Result<(), NetError> {
    for ns in list_namespaces()? {
        if !ns.starts_with(NS_PREFIX) {
            continue;
        }
        let pids = ip(&["netns", "pids", &ns]).unwrap_or_default();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if !pids.is_empty() {
            eprintln!(
                "leftover namespace {ns} still holds processes {}; deleting its name anyway",
                pids.join(" ")
            );
        }
        ip(&["netns", "del", &ns])?;
    }
    Ok(())
}

/// Moves the calling thread into network namespace `ns`: sockets it creates afterwards live
/// there (and stay there whichever thread uses them later). Client threads enter [`CTL_NS`].
pub fn enter_namespace(ns: &str) -> Result<(), NetError> {
    if ns.is_empty() || ns.contains('/') || ns == "." || ns == ".." {
        return Err(NetError::BadNamespace(ns.to_string()));
    }
    let path: PathBuf = [NETNS_DIR, ns].iter().collect();
    let file = File::open(&path).map_err(|source| NetError::Io {
        context: format!("opening {}", path.display()),
        source,
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| NetError::Enter {
        ns: ns.to_string(),
        source,
    })
}

/// Runs `f` on a fresh thread inside namespace `ns` and returns what it returns. The caller's
/// own thread stays where it is.
pub fn in_namespace<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T, NetError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| enter_namespace(ns).map(|()| f()))
            .join()
            .unwrap_or_else(|_| {
                Err(NetError::Verify {
                    what: format!("a thread working inside {ns} panicked"),
                })
            })
    })
}

/// Proves the plumbing works before a run relies on it, with the faults of `topology` healed at
/// the end. Returns one line per thing checked:
/// - a TCP listener of node 2 is reachable from node 1 and from the ctl host;
/// - with node 2 dropping node 1, node 1's connect times out while the ctl host still connects;
/// - the drop is one way (UDP from node 2 still reaches node 1, node 1's does not reach node 2);
/// - 100% loss on node 2 stops node 1's packets but not the ctl host's;
/// - after heal, node 1 reaches node 2 again, both ways.
pub fn self_test(topology: &Topology) -> Result<Vec<String>, NetError> {
    if topology.nodes() < 2 {
        return Err(NetError::Verify {
            what: "the self-test needs at least two nodes".to_string(),
        });
    }
    let (n1, n2) = (topology.node_ns(0), topology.node_ns(1));
    let (a1, a2) = (topology.node_addr(0), topology.node_addr(1));
    let mut lines = Vec::new();
    let mut check = |what: String, ok: bool| -> Result<(), NetError> {
        if ok {
            lines.push(format!("ok: {what}"));
            Ok(())
        } else {
            Err(NetError::Verify { what })
        }
    };

    // Sockets belong to the namespace they were created in, whichever thread uses them later;
    // the kernel completes TCP handshakes on a listener's backlog without `accept`.
    let listener = in_namespace(&n2, || TcpListener::bind(SocketAddrV4::new(a2, 0)))?
        .map_err(|source| io_error("binding a TCP listener in n2", source))?;
    let tcp_port = listener
        .local_addr()
        .map_err(|source| io_error("reading the listener's port", source))?
        .port();
    let udp1 = bind_udp(&n1, a1)?;
    let udp2 = bind_udp(&n2, a2)?;
    let target = SocketAddr::V4(SocketAddrV4::new(a2, tcp_port));

    topology.heal()?;
    check(
        format!("n1 connects to n2 ({target}) with no faults"),
        connects(&n1, target)?,
    )?;
    check(
        format!("{CTL_NS} connects to n2 with no faults"),
        connects(CTL_NS, target)?,
    )?;

    let one_way = NetFaults {
        grudge: Grudge::from([(1, [0].into())]),
        ..NetFaults::default()
    };
    topology.apply(&one_way)?;
    check(
        "with n2 dropping n1, n1's connect to n2 times out".to_string(),
        !connects(&n1, target)?,
    )?;
    check(
        format!("with n2 dropping n1, {CTL_NS} still connects to n2"),
        connects(CTL_NS, target)?,
    )?;
    check(
        "with n2 dropping n1, n1's datagrams do not reach n2".to_string(),
        !datagram_arrives(&udp1, &udp2)?,
    )?;
    check(
        "with n2 dropping n1, n2's datagrams still reach n1 (one way)".to_string(),
        datagram_arrives(&udp2, &udp1)?,
    )?;

    let lossy = NetFaults {
        loss_percent: BTreeMap::from([(1, 100)]),
        ..NetFaults::default()
    };
    topology.apply(&lossy)?;
    check(
        "with 100% loss on n2, n1's connect to n2 times out".to_string(),
        !connects(&n1, target)?,
    )?;
    check(
        format!("with 100% loss on n2, {CTL_NS} still connects to n2"),
        connects(CTL_NS, target)?,
    )?;

    topology.heal()?;
    check(
        "after heal, n1 connects to n2 again".to_string(),
        connects(&n1, target)?,
    )?;
    check(
        "after heal, datagrams flow both ways between n1 and n2".to_string(),
        datagram_arrives(&udp1, &udp2)? && datagram_arrives(&udp2, &udp1)?,
    )?;
    Ok(lines)
}

/// How long the self-test waits for a connect or a datagram that a fault should stop.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Whether a TCP connect from namespace `ns` to `target` succeeds within [`PROBE_TIMEOUT`].
/// Refused connections are errors, not "false": they mean the test itself is broken.
fn connects(ns: &str, target: SocketAddr) -> Result<bool, NetError> {
    match in_namespace(ns, || TcpStream::connect_timeout(&target, PROBE_TIMEOUT))? {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::TimedOut => Ok(false),
        Err(source) => Err(io_error(
            &format!("connecting from {ns} to {target}"),
            source,
        )),
    }
}

fn bind_udp(ns: &str, addr: Ipv4Addr) -> Result<UdpSocket, NetError> {
    let socket = in_namespace(ns, || UdpSocket::bind(SocketAddrV4::new(addr, 0)))?
        .map_err(|source| io_error(&format!("binding a UDP socket in {ns}"), source))?;
    socket
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(|source| io_error("setting a UDP read timeout", source))?;
    Ok(socket)
}

/// Sends a few datagrams from `from` to `to`; true if one arrives within [`PROBE_TIMEOUT`].
fn datagram_arrives(from: &UdpSocket, to: &UdpSocket) -> Result<bool, NetError> {
    let target = to
        .local_addr()
        .map_err(|source| io_error("reading a UDP socket's address", source))?;
    for _ in 0..3 {
        from.send_to(b"kvorum-self-test", target)
            .map_err(|source| io_error("sending a datagram", source))?;
    }
    let mut buf = [0u8; 64];
    let arrived = match to.recv_from(&mut buf) {
        Ok(_) => true,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(source) => return Err(io_error("receiving a datagram", source)),
    };
    // Drain what else arrived so the next probe starts clean.
    to.set_nonblocking(true)
        .map_err(|source| io_error("draining a UDP socket", source))?;
    while to.recv_from(&mut buf).is_ok() {}
    to.set_nonblocking(false)
        .map_err(|source| io_error("draining a UDP socket", source))?;
    Ok(arrived)
}

fn io_error(context: &str, source: io::Error) -> NetError {
    NetError::Io {
        context: context.to_string(),
        source,
    }
}

/// The bridge port in the switch namespace that leads to host namespace `ns` (`v-n1`, `v-ctl`):
/// short enough for the 15-byte interface name limit.
fn switch_port(ns: &str) -> String {
    format!("v-{}", ns.strip_prefix(NS_PREFIX).unwrap_or(ns))
}

/// The effective user id from `/proc/self/status` (`Uid:` real, effective, saved, fs).
fn check_root() -> Result<(), NetError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|source| io_error("reading /proc/self/status", source))?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if effective == Some("0") {
        Ok(())
    } else {
        Err(NetError::NotRoot)
    }
}

fn check_tools() -> Result<(), NetError> {
    run("ip", &["-V"], None)?;
    run("nft", &["--version"], None)?;
    Ok(())
}

/// Named namespaces, as `ip netns list` shows them (`name` or `name (id: N)`).
fn list_namespaces() -> Result<Vec<String>, NetError> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

fn ip(args: &[&str]) -> Result<String, NetError> {
    run("ip", args, None)
}

/// Runs an nft batch inside namespace `ns`, in one transaction.
fn nft_in(ns: &str, batch: &str) -> Result<String, NetError> {
    run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(batch))
}

/// Runs `program args…`, feeding `stdin` if given; returns stdout, or the failure with stderr.
fn run(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<String, NetError> {
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| spawn_error(program, &command, source))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| io_error(&format!("writing the input of `{command}`"), source))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|source| io_error(&format!("waiting for `{command}`"), source))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    // `ip netns exec` reports a missing program on stderr with status 255.
    if !output.status.success() && stderr.contains("No such file or directory") {
        if let Some(tool) = args.iter().find_map(|arg| known_tool(arg)) {
            if stderr.contains(&format!("\"{}\"", tool.0)) {
                return Err(missing(tool));
            }
        }
    }
    if !output.status.success() {
        return Err(NetError::Command {
            command,
            status: output.status.to_string(),
            stderr,
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The tools the harness shells out to, with where to get them.
fn known_tool(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "ip" => Some(("ip", "install iproute2 (Debian: apt-get install iproute2)")),
        "nft" => Some(("nft", "install nftables (Debian: apt-get install nftables)")),
        _ => None,
    }
}

fn missing((tool, install_hint): (&'static str, &'static str)) -> NetError {
    NetError::MissingTool { tool, install_hint }
}

fn spawn_error(program: &'static str, command: &str, source: io::Error) -> NetError {
    match known_tool(program) {
        Some(tool) if source.kind() == io::ErrorKind::NotFound => missing(tool),
        _ => io_error(&format!("starting `{command}`"), source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_follow_the_plan() {
        let topology = Topology {
            nodes: 5,
            created: Vec::new(),
            torn_down: AtomicBool::new(true),
        };
        assert_eq!(topology.node_ns(0), "jx-n1");
        assert_eq!(topology.node_ns(4), "jx-n5");
        assert_eq!(topology.node_addr(0), Ipv4Addr::new(198, 18, 0, 11));
        assert_eq!(topology.node_addr(4), Ipv4Addr::new(198, 18, 0, 15));
        assert_eq!(
            topology.node_addr(MAX_NODES - 1),
            Ipv4Addr::new(198, 18, 0, 254)
        );
        assert_eq!(topology.ctl_addr(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(switch_port(CTL_NS), "v-ctl");
        assert!(switch_port("jx-n244").len() <= 15);
    }

    #[test]
    fn sizes_outside_the_address_plan_are_refused_before_anything_runs() {
        assert!(matches!(Topology::create(0), Err(NetError::NodeCount(0))));
        assert!(matches!(
            Topology::create(MAX_NODES + 1),
            Err(NetError::NodeCount(_))
        ));
    }

    #[test]
    fn namespace_names_cannot_escape_the_netns_directory() {
        for bad in ["", ".", "..", "../etc", "a/b"] {
            assert!(matches!(
                enter_namespace(bad),
                Err(NetError::BadNamespace(_))
            ));
        }
    }

    #[test]
    fn the_root_error_says_what_is_needed() {
        let text = NetError::NotRoot.to_string();
        assert!(text.contains("root") && text.contains("network namespaces"));
    }
}
