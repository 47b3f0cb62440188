//! The convergent data types a key can hold, as parts of an [`crate::Object`].
//!
//! Every type here is a state-based CRDT: replicas exchange whole states and merge them, and the
//! merge is commutative, associative and idempotent, so delivery order and repetition never
//! matter. The dotted types share one causal context (the object's [`VersionVector`]): a dot the
//! context covers but a state no longer holds was *seen and removed*, which is what lets a remove
//! win over the writes it observed and lose to the ones it did not (add-wins).
//!
//! - [`dotted`]: the merge of two dot-tagged version lists, shared by every dotted type.
//! - [`register`]: a multi-value register's siblings (Redis strings).
//! - [`entries`]: a map from byte keys to dotted versions: the observed-remove set (members with
//!   no value) and the observed-remove map of registers (hash fields with values).
//! - [`counter`]: a resettable PN-counter (INCR and friends), one contribution per node.
//! - [`expiry`]: a key's TTL, a last-writer-wins register on HLC timestamps.
//!
//! [`VersionVector`]: crate::VersionVector

pub mod counter;
pub mod dotted;
pub mod entries;
pub mod expiry;
pub mod register;
