//! The real-process harness: kvorum node processes on their own network hosts, faults applied
//! to the network and the processes while clients work, and the same checkers as the simulator.
//!
//! - [`net`]: the hosts (one network namespace per node, a switch namespace with a bridge, the
//!   clients' namespace) and the firewall faults applied inside them;
//! - [`grudge`]: which node drops whose packets, for each partition shape (pure, seeded);
//! - [`nft`]: the nft rule batches that carry out a grudge or packet loss;
//! - [`process`]: node processes started as children and signalled by pid only.

pub mod grudge;
pub mod net;
pub mod nft;
pub mod process;
