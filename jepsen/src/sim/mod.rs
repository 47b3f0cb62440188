//! A deterministic discrete-event simulator that drives real [`Core`]s.
//!
//! One seeded [`SimRng`] makes every choice; events sit in a queue ordered by (time, sequence);
//! every collection whose order could influence a decision is a `BTreeMap`/`BTreeSet`; there is
//! no wall clock and no thread. So a seed replays the same run, byte for byte.
//!
//! What is simulated (see `docs/SIMULATION.md`):
//! - the network ([`network`]): per-message delay, loss, duplication and reordering; partitions
//!   of every shape, one-way cuts and gray links; heals;
//! - failure detection: each node's belief about each peer follows reality after a random delay
//!   and is handed to [`Core::set_reachable`]; sends to a peer the sender believes down are
//!   handed back with [`Core::handle_send_failed`], as are some sends to a crashed peer;
//! - storage ([`storage`]): writes visible at once, reported durable after a simulated group
//!   fsync; a crash loses what was not synced and every in-flight operation, and the restarted
//!   node is a new [`Core`] over what survived; hints and hinted handoff;
//! - clocks ([`clock`]): per-node offset and drift, stepped by the nemesis;
//! - clients: a few per node, each with one operation at a time, recorded in a [`History`]:
//!   register reads and writes, counter increments or set adds and removes ([`Mix`]).
//!
//! Layout: [`config`] (what a run looks like), [`client`] (the adapter to the core's request and
//! reply types), [`run`] (the state and the event loop), `driver` (draining a core: network,
//! storage, replies, handoff), `nemesis` (fault injection), [`report`] (what a run found),
//! [`network`], [`storage`], [`clock`], [`rng`] and [`trace`] (the optional event trace).

pub mod client;
pub mod clock;
pub mod config;
mod driver;
mod nemesis;
pub mod network;
pub mod report;
pub mod rng;
pub mod run;
pub mod storage;
pub mod trace;

pub use config::{FaultConfig, Mix, NetConfig, SimConfig};
pub use report::{RunReport, Stats};
pub use rng::SimRng;
pub use run::{run, SimError};

#[cfg(doc)]
use crate::history::History;
#[cfg(doc)]
use kvorum_consistency::Core;
