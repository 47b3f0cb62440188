//! The replicated state of one key: an [`Object`].
//!
//! An object holds:
//! - a causal **context** (a [`VersionVector`]) shared by every dotted part of the key: a dot it
//!   covers but the object no longer holds was seen and superseded;
//! - an **incarnation**: the key's type ([`Kind`]) and the HLC timestamp at which it took that
//!   type. Objects of the same incarnation merge their data type by type; objects of different
//!   incarnations resolve to the later one (a key that was a counter and then `SET` to a string
//!   is a string everywhere);
//! - the type's **data** ([`Data`]): register siblings (strings), a PN-counter, an
//!   observed-remove set or map (see [`crate::crdt`]);
//! - an **expiry** (TTL), a last-writer-wins register.
//!
//! Every part merges as a CRDT, so the whole object does: merge is commutative, associative and
//! idempotent, and replicas may exchange states in any order, any number of times.
//!
//! A key nobody wrote is the *pristine* object. A first write of a type on a pristine key keeps
//! the zero incarnation timestamp, so first writes of one type on both sides of a partition
//! (`SADD` on a new key here and there) merge instead of one replacing the other. A write that
//! changes an existing key's type takes the incarnation timestamp just after the latest one the
//! key holds, derived from the state alone: two replicas converting the same state (`INCR` on
//! the string "10" on both sides) reach the same incarnation and merge.
//!
//! Invariants (checked by [`Object::validate`] on everything decoded from the network or disk):
//! the data is of the incarnation's kind, dotted versions are sorted, unique and inside the
//! context, and the sibling and entry counts are within bounds.

use bytes::Bytes;
use kvorum_ring::NodeId;
use serde::{Deserialize, Serialize};

use crate::crdt::counter::{Counter, Number};
use crate::crdt::dotted;
use crate::crdt::entries::{HashEntries, SetEntries};
use crate::crdt::expiry::Expiry;
use crate::crdt::register;
pub use crate::crdt::register::Sibling;
use crate::error::DecodeError;
use crate::hlc::Timestamp;
use crate::version::{Dot, VersionVector};

/// The most siblings (or versions of one set member or hash field) one object may hold. Dots
/// are minted by servers, so versions only pile up from concurrent writes through different
/// coordinators; the bound keeps a pathological key from growing without limit (an object over
/// it is refused on decode).
pub const MAX_SIBLINGS: usize = 1024;

/// The most members of a set or fields of a hash one object may hold.
pub const MAX_ENTRIES: usize = 4 * 1024 * 1024;

/// The type a key holds. The order breaks ties between incarnations of equal timestamp.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Register,
    Counter,
    Set,
    Hash,
}

impl Kind {
    /// The name Redis's `TYPE` answers: counters are strings to Redis.
    pub fn redis_type(self) -> &'static str {
        match self {
            Kind::Register | Kind::Counter => "string",
            Kind::Set => "set",
            Kind::Hash => "hash",
        }
    }
}

/// Since when a key holds its type; ordered by timestamp, then kind.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Incarnation {
    pub ts: Timestamp,
    pub kind: Kind,
}

/// The data of one incarnation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Data {
    Register(Vec<Sibling>),
    Counter(Counter),
    Set(SetEntries),
    Hash(HashEntries),
}

impl Data {
    pub fn kind(&self) -> Kind {
        match self {
            Data::Register(_) => Kind::Register,
            Data::Counter(_) => Kind::Counter,
            Data::Set(_) => Kind::Set,
            Data::Hash(_) => Kind::Hash,
        }
    }

    /// Empty data of a kind.
    pub fn empty(kind: Kind) -> Data {
        match kind {
            Kind::Register => Data::Register(Vec::new()),
            Kind::Counter => Data::Counter(Counter::empty()),
            Kind::Set => Data::Set(SetEntries::default()),
            Kind::Hash => Data::Hash(HashEntries::default()),
        }
    }
}

/// What a read of a live key sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Str(&'a Bytes),
    Counter(Number),
    Set(&'a SetEntries),
    Hash(&'a HashEntries),
}

impl Value<'_> {
    /// The string a string command sees (a counter's decimal text), or `None` for sets and
    /// hashes (a `WRONGTYPE` for the caller).
    pub fn as_string(&self) -> Option<Bytes> {
        match self {
            Value::Str(b) => Some((*b).clone()),
            Value::Counter(n) => Some(Bytes::from(n.to_text())),
            Value::Set(_) | Value::Hash(_) => None,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::Register,
            Value::Counter(_) => Kind::Counter,
            Value::Set(_) => Kind::Set,
            Value::Hash(_) => Kind::Hash,
        }
    }
}

/// A key's replicated state. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    context: VersionVector,
    incarnation: Incarnation,
    data: Data,
    expiry: Expiry,
}

impl Default for Object {
    fn default() -> Self {
        Object {
            context: VersionVector::new(),
            incarnation: Incarnation {
                ts: Timestamp::ZERO,
                kind: Kind::Register,
            },
            data: Data::Register(Vec::new()),
            expiry: Expiry::default(),
        }
    }
}

impl Object {
    /// The state of a key nobody wrote.
    pub fn new() -> Self {
        Self::default()
    }

    /// An object from its parts (for decoders and tests); check it with [`Object::validate`].
    pub fn from_parts(
        context: VersionVector,
        incarnation: Incarnation,
        data: Data,
        expiry: Expiry,
    ) -> Self {
        Object {
            context,
            incarnation,
            data,
            expiry,
        }
    }

    pub fn context(&self) -> &VersionVector {
        &self.context
    }

    pub fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    pub fn kind(&self) -> Kind {
        self.incarnation.kind
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// Whether this is the state of a key nobody wrote.
    pub fn is_pristine(&self) -> bool {
        *self == Object::default()
    }

    /// A register's siblings (none for other kinds).
    pub fn siblings(&self) -> &[Sibling] {
        match &self.data {
            Data::Register(s) => s,
            _ => &[],
        }
    }

    /// The register sibling a single-value read returns: highest `(timestamp, node, counter)`.
    pub fn winner(&self) -> Option<&Sibling> {
        register::winner(self.siblings())
    }

    /// The register value a single-value read returns, ignoring expiry: the winner's, unless
    /// the winner is a delete. `None` for other kinds.
    pub fn value(&self) -> Option<&Bytes> {
        self.winner().and_then(|s| s.value.as_ref())
    }

    /// What a read at wall-clock `now_ms` sees: `None` if the key is absent, deleted or expired.
    pub fn read(&self, now_ms: u64) -> Option<Value<'_>> {
        if self.expiry.is_expired(now_ms) {
            return None;
        }
        match &self.data {
            Data::Register(_) => self.value().map(Value::Str),
            Data::Counter(c) => c.is_live().then(|| Value::Counter(c.value())),
            Data::Set(s) => (!s.is_empty()).then_some(Value::Set(s)),
            Data::Hash(h) => (!h.is_empty()).then_some(Value::Hash(h)),
        }
    }

    /// Whether a read at `now_ms` sees the key.
    pub fn exists(&self, now_ms: u64) -> bool {
        self.read(now_ms).is_some()
    }

    /// The TTL instant a read at `now_ms` sees (`None`: no TTL, or the key is absent).
    pub fn expires_at(&self, now_ms: u64) -> Option<u64> {
        self.exists(now_ms).then_some(self.expiry.at_ms).flatten()
    }

    /// This state with an expired key's data dropped, or `None` if it is not expired or holds
    /// nothing to drop. The context, incarnation and expiry stay: every dropped version stays
    /// covered by the context, so merging a replica that still holds it drops it there too,
    /// and the key keeps reading as absent. (Purging the last trace of a key is tombstone
    /// collection, which needs every replica to agree first.)
    pub fn purged(&self, now_ms: u64) -> Option<Object> {
        if !self.expiry.is_expired(now_ms) {
            return None;
        }
        let data = match &self.data {
            Data::Register(s) if !s.is_empty() => Data::Register(Vec::new()),
            Data::Set(s) if !s.is_empty() => Data::Set(SetEntries::default()),
            Data::Hash(h) if !h.is_empty() => Data::Hash(HashEntries::default()),
            Data::Counter(c) => {
                let mut cleared = c.clone();
                cleared.clear();
                if cleared == *c {
                    return None;
                }
                Data::Counter(cleared)
            }
            _ => return None,
        };
        Some(Object {
            data,
            ..self.clone()
        })
    }

    /// The largest timestamp among the data's versions (registers and hash fields carry one).
    fn data_max_timestamp(&self) -> Option<Timestamp> {
        match &self.data {
            Data::Register(s) => s.iter().map(|s| s.ts).max(),
            Data::Hash(h) => h
                .iter()
                .flat_map(|e| e.versions.iter().map(|v| v.value.ts))
                .max(),
            Data::Counter(_) | Data::Set(_) => None,
        }
    }

    /// The largest timestamp in the object, for clocks to observe and for deriving the
    /// incarnation a type change takes.
    pub fn max_timestamp(&self) -> Option<Timestamp> {
        let data_max = self.data_max_timestamp();
        [data_max, Some(self.incarnation.ts), Some(self.expiry.ts)]
            .into_iter()
            .flatten()
            .max()
            .filter(|ts| *ts > Timestamp::ZERO)
    }

    /// The causal merge of two replicas' states.
    pub fn merge(&self, other: &Object) -> Object {
        let mut context = self.context.clone();
        context.merge(&other.context);
        let (incarnation, data) = match self.incarnation.cmp(&other.incarnation) {
            std::cmp::Ordering::Greater => (self.incarnation, self.data.clone()),
            std::cmp::Ordering::Less => (other.incarnation, other.data.clone()),
            std::cmp::Ordering::Equal => (
                self.incarnation,
                merge_data(&self.data, &self.context, &other.data, &other.context),
            ),
        };
        Object {
            context,
            incarnation,
            data,
            expiry: self.expiry.merge(other.expiry),
        }
    }

    /// A register write coordinated by `node` (`SET`, `SETCTX`, and deletes with `None`).
    ///
    /// `seen` is the causal context the writer acts on: the siblings it covers are replaced, the
    /// others are kept as concurrent. (A plain `SET` passes the coordinator's own context, so it
    /// replaces everything the coordinator knows.) A key of another type becomes a string. The
    /// TTL is left as it is. Returns the new state and the minted dot.
    pub fn write(
        &self,
        node: NodeId,
        seen: &VersionVector,
        value: Option<Bytes>,
        ts: Timestamp,
    ) -> (Object, Dot) {
        let mut next = self.clone();
        next.context.merge(seen);
        let dot = next.mint(node);
        let mut siblings = match &next.data {
            Data::Register(s) if next.incarnation.kind == Kind::Register => {
                s.iter().filter(|s| !seen.covers(s.dot)).cloned().collect()
            }
            _ => {
                next.incarnation = next.incarnation_for(Kind::Register);
                Vec::new()
            }
        };
        siblings.push(Sibling { dot, ts, value });
        siblings.sort_by_key(|s| s.dot);
        dotted::keep_highest(&mut siblings, MAX_SIBLINGS, register::rank);
        next.data = Data::Register(siblings);
        (next, dot)
    }

    /// Mints the next dot of `node` for this key and records it in the context.
    pub(crate) fn mint(&mut self, node: NodeId) -> Dot {
        let dot = self.context.next_dot(node);
        self.context.add(dot);
        dot
    }

    /// The incarnation a write of `kind` gives this key (see the module docs).
    pub(crate) fn incarnation_for(&self, kind: Kind) -> Incarnation {
        if self.incarnation.kind == kind {
            return self.incarnation;
        }
        let ts = if self.is_pristine() {
            Timestamp::ZERO
        } else {
            self.successor_ts(None)
        };
        Incarnation { ts, kind }
    }

    /// A timestamp after this incarnation and every version in its data (and after `also`),
    /// derived from the state alone so replicas holding the same state derive the same one.
    /// The TTL's own change time is left out: a concurrent `EXPIRE` must not make two
    /// conversions of the same string differ.
    fn successor_ts(&self, also: Option<Timestamp>) -> Timestamp {
        let data_max = self.data_max_timestamp();
        let latest = [data_max, Some(self.incarnation.ts), also]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(Timestamp::ZERO);
        Timestamp {
            physical_ms: latest.physical_ms,
            logical: latest.logical.saturating_add(1),
        }
    }

    /// A write to an expired key starts the key afresh: a new incarnation of the same kind,
    /// empty and without TTL, derived from the expired state (so replicas renewing the same
    /// state agree). Versions of the expired incarnation that this replica never saw lose to
    /// it on merge: they are as expired as the ones it held. `ts` is the write's time.
    pub(crate) fn renew_expired(&mut self, ts: Timestamp) {
        let Some(at_ms) = self.expiry.at_ms else {
            return;
        };
        let at = Timestamp {
            physical_ms: at_ms,
            logical: 0,
        };
        self.incarnation = Incarnation {
            ts: self.successor_ts(Some(at)),
            kind: self.incarnation.kind,
        };
        self.data = Data::empty(self.incarnation.kind);
        let cleared = self.expiry.ts.max(ts);
        self.expiry = Expiry {
            ts: Timestamp {
                physical_ms: cleared.physical_ms,
                logical: cleared.logical.saturating_add(1),
            },
            at_ms: None,
        };
    }

    /// Turns this object into a `kind` one (same incarnation if it already is), dropping the
    /// data of another type: every dot it held stays in the context, so the change supersedes
    /// exactly what this replica held.
    pub(crate) fn become_kind(&mut self, kind: Kind) {
        if self.incarnation.kind != kind || self.data.kind() != kind {
            self.incarnation = self.incarnation_for(kind);
            self.data = Data::empty(kind);
        }
    }

    pub(crate) fn data_mut(&mut self) -> &mut Data {
        &mut self.data
    }

    pub(crate) fn set_expiry(&mut self, expiry: Expiry) {
        self.expiry = expiry;
    }

    /// Checks the invariants listed in the module docs.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if !self.context.is_canonical() {
            return Err(DecodeError::Invalid {
                reason: "version vector holds a zero counter",
            });
        }
        if self.data.kind() != self.incarnation.kind {
            return Err(DecodeError::Invalid {
                reason: "data of another kind than the incarnation",
            });
        }
        let too_many = |count: usize, max: usize| {
            (count > max).then_some(DecodeError::TooManySiblings { count, max })
        };
        let (error, ok) = match &self.data {
            Data::Register(s) => (
                too_many(s.len(), MAX_SIBLINGS),
                dotted::well_formed(s, &self.context),
            ),
            Data::Set(e) => (
                too_many(e.len(), MAX_ENTRIES).or_else(|| {
                    e.iter()
                        .find_map(|e| too_many(e.versions.len(), MAX_SIBLINGS))
                }),
                e.well_formed(&self.context),
            ),
            Data::Hash(e) => (
                too_many(e.len(), MAX_ENTRIES).or_else(|| {
                    e.iter()
                        .find_map(|e| too_many(e.versions.len(), MAX_SIBLINGS))
                }),
                e.well_formed(&self.context),
            ),
            Data::Counter(c) => (too_many(c.len(), 2 * MAX_SIBLINGS), c.well_formed()),
        };
        if let Some(e) = error {
            return Err(e);
        }
        if !ok {
            return Err(DecodeError::Invalid {
                reason: "versions not sorted, duplicated or outside the causal context",
            });
        }
        Ok(())
    }
}

/// Merges two data of the same incarnation.
fn merge_data(a: &Data, a_ctx: &VersionVector, b: &Data, b_ctx: &VersionVector) -> Data {
    match (a, b) {
        (Data::Register(x), Data::Register(y)) => {
            let mut siblings = dotted::merge(x, a_ctx, y, b_ctx);
            dotted::keep_highest(&mut siblings, MAX_SIBLINGS, register::rank);
            Data::Register(siblings)
        }
        (Data::Counter(x), Data::Counter(y)) => Data::Counter(x.merge(y)),
        (Data::Set(x), Data::Set(y)) => Data::Set(x.merge(a_ctx, y, b_ctx)),
        (Data::Hash(x), Data::Hash(y)) => Data::Hash(x.merge(a_ctx, y, b_ctx)),
        // Validated objects hold data of their incarnation's kind, so equal incarnations hold
        // equal kinds; keep a deterministic answer all the same.
        (x, y) => {
            if x.kind() >= y.kind() {
                x.clone()
            } else {
                y.clone()
            }
        }
    }
}
