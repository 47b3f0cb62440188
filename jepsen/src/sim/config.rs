//! What a simulated run looks like: cluster size, workload, and how hostile the world is.

use super::client::Level;

/// Everything one run depends on besides its seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Nodes in the cluster (3–5 is the interesting range).
    pub nodes: usize,
    /// Replication factor `N`.
    pub replication: usize,
    pub level: Level,
    /// What the clients do.
    pub mix: Mix,
    /// Concurrent clients per node.
    pub clients_per_node: usize,
    /// Keys the workload spreads over.
    pub keys: usize,
    /// Client operations to invoke in total.
    pub ops: usize,
    /// Per-request timeout the clients ask for.
    pub request_timeout_ms: u64,
    /// A client waits up to this long between operations.
    pub think_ms: u64,
    pub net: NetConfig,
    pub faults: FaultConfig,
    /// Simulated fsync latency range.
    pub fsync_ms: (u64, u64),
    /// Simulated read latency range.
    pub read_ms: (u64, u64),
    /// Largest initial wall-clock offset, either way.
    pub max_clock_offset_ms: u64,
    /// Largest clock drift, either way, in parts per million.
    pub max_drift_ppm: u64,
    /// How often a node tries to hand its hints over.
    pub handoff_interval_ms: u64,
    /// Quiet time after the final heal, before the final reads and again before the final checks.
    pub quiet_ms: u64,
    /// A run that has not finished by this simulated time is reported as stuck.
    pub max_sim_ms: u64,
    /// Keep a line per simulated event in the report (for replaying one seed).
    pub trace: bool,
    /// Deliberately broken core behaviour every node runs with (test builds only).
    #[cfg(feature = "fault-injection")]
    pub core_faults: kvorum_consistency::CoreFaults,
}

/// What the clients do to the keys.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Half `GET`, half `SET` of unique values.
    Register,
    /// `INCRBY` of small positive and negative deltas.
    Counter,
    /// `SADD` of unique members, sometimes `SREM` of a member the same client added.
    Set,
}

/// Per-message network behaviour.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub delay_ms: (u64, u64),
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back much longer (reordering it past later ones).
    pub slow: f64,
    pub slow_delay_ms: (u64, u64),
}

/// The nemesis: which faults happen and how often.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// Mean time between fault events during the workload.
    pub interval_ms: (u64, u64),
    pub partitions: bool,
    pub crashes: bool,
    pub clock_steps: bool,
    /// Links that drop data while heartbeats pass (the node is believed up, yet silent).
    pub gray_links: bool,
    /// How long failure detection takes, after a peer becomes (un)reachable.
    pub detect_ms: (u64, u64),
    /// How long a crashed node stays down, at most.
    pub downtime_ms: (u64, u64),
}

impl SimConfig {
    /// A small, hostile default: every fault kind on, sized for a few hundred operations.
    pub fn new(level: Level) -> Self {
        SimConfig {
            nodes: 3,
            replication: 3,
            level,
            mix: Mix::Register,
            clients_per_node: 2,
            keys: 3,
            ops: 150,
            request_timeout_ms: 300,
            think_ms: 30,
            net: NetConfig {
                delay_ms: (1, 15),
                loss: 0.02,
                duplicate: 0.02,
                slow: 0.03,
                slow_delay_ms: (50, 400),
            },
            faults: FaultConfig {
                interval_ms: (100, 600),
                partitions: true,
                crashes: true,
                clock_steps: true,
                gray_links: true,
                detect_ms: (30, 300),
                downtime_ms: (100, 1_500),
            },
            fsync_ms: (1, 10),
            read_ms: (0, 2),
            max_clock_offset_ms: 500,
            max_drift_ppm: 2_000,
            handoff_interval_ms: 200,
            quiet_ms: 2_000,
            max_sim_ms: 600_000,
            trace: false,
            #[cfg(feature = "fault-injection")]
            core_faults: Default::default(),
        }
    }
}
