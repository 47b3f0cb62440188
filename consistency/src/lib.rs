//! The sans-IO core of kvorum: versions, stored objects, merge, consistency levels and the
//! coordinator / replica state machines.
//!
//! Nothing in this crate reads a clock, draws OS randomness, spawns a task, or touches a socket
//! or a disk. The node drives [`Core`] with tokio, quinn and its storage engine; the simulator
//! drives the very same code with a seeded network, seeded clocks and in-memory storage.
//!
//! # Layout
//! - [`hlc`]: hybrid logical clock ([`Timestamp`], [`Hlc`]).
//! - [`version`]: [`Dot`]s and [`VersionVector`]s.
//! - [`crdt`]: the convergent data types (register, PN-counter, observed-remove set and map,
//!   TTL); [`object`]: a key's replicated state ([`Object`]) built from them, with its merge.
//! - [`op`]: typed writes ([`Op`]: SET, INCR, SADD, HSET, EXPIRE, ...), applied to an object
//!   inside the coordinator's storage transaction, with their answers ([`Outcome`]).
//! - [`record`]: versioned byte encoding of stored objects.
//! - [`level`]: consistency presets, modes and quorum arithmetic; [`spec`]: their text form
//!   (`R=2 W=3 SLOPPY TIMEOUT=500`); [`policy`]: a namespace's defaults and floors.
//! - [`antientropy`]: the per-partition hash trees replicas compare, and the messages of an
//!   exchange.
//! - [`catalog`]: the namespace catalog (cluster metadata) and its merge rule.
//! - [`message`]: client requests and replies, and the peer messages (protocol version 6).
//! - [`io`]: what the state machines ask the driver to do, and what the driver reports back.
//! - [`Core`] (`core.rs`): one node's state machine, built from the coordinator
//!   (`coordinator/`: runs a client request across replicas) and the replica (`replica.rs`:
//!   serves peers' reads and stores). Its docs give the call order.

mod coordinator;
pub use coordinator::CoordinatorStats;
#[cfg(feature = "fault-injection")]
pub use coordinator::CoreFaults;
pub mod antientropy;
pub mod catalog;
mod core;
pub mod crdt;
pub mod error;
pub mod hlc;
pub mod io;
pub mod level;
pub mod message;
pub mod object;
pub mod op;
pub mod policy;
pub mod record;
mod replica;
pub mod spec;
pub mod version;

pub use crate::core::{Core, CoreConfig};
pub use catalog::{Catalog, NamespaceDef, Stamp};
pub use error::{DecodeError, LevelError};
pub use hlc::{Hlc, Timestamp};
pub use io::{Mutation, Now, StorageOp, StorageRequest, StorageResult, StorageToken, Transmit};
pub use level::{majority, Level, Mode, Preset};
pub use message::{
    Command, Consistency, Key, KeyPage, ListedKey, Message, OpId, Reply, Request, RequestId,
};
pub use object::{Data, Incarnation, Kind, Object, Sibling, Value};
pub use op::{Applied, Condition, ExpireCondition, Op, OpError, Outcome, Plain, Ttl};
pub use policy::{Conflict, NamespacePolicy};
pub use spec::Spec;
pub use version::{Dot, VersionVector};
