//! The real-process harness: kvorum node processes on their own network hosts, faults applied
//! to the network and the processes while clients work, and the same checkers as the simulator.
//!
//! - [`net`]: the hosts (one network namespace per node, a switch namespace with a bridge, the
//!   clients' namespace) and the firewall faults applied inside them;
//! - [`grudge`]: which node drops whose packets, for each partition shape (pure, seeded);
//! - [`nft`]: the nft rule batches that carry out a grudge or packet loss;
//! - [`process`]: node processes started as children and signalled by pid only;
//! - [`cluster`]: a running cluster under test and the nemesis's hands on it;
//! - [`nemesis`]: fault families and the seeded schedule of faults;
//! - [`client`]: a blocking RESP connection and the `ok` / `fail` / `info` discipline;
//! - [`workload`]: what clients do and how replies read into the history;
//! - [`final_state`]: convergence and the final reads after the heal;
//! - [`verdict`]: the checkers applied to a run, and `results.json`;
//! - [`run`]: one run end to end, with its artifacts;
//! - [`ci`]: the named scenarios of the CI tier;
//! - [`recheck`]: a stored run judged again by the current checkers.

pub mod ci;
pub mod client;
pub mod cluster;
pub mod final_state;
pub mod grudge;
pub mod nemesis;
pub mod net;
pub mod nft;
pub mod process;
pub mod recheck;
pub mod run;
pub mod verdict;
pub mod workload;
