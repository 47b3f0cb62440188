//! Typed write operations: what `SET`, `INCR`, `SADD`, `HSET`, `EXPIRE` and the rest do to a
//! key's [`Object`], and what they answer.
//!
//! An [`Op`] runs inside one storage transaction on the coordinating replica ([`apply`]): it
//! sees the replica's current state (merged with what a `quorum`/`strong` write learned first),
//! decides, and yields the new state plus an [`Outcome`] for the client. The new state then
//! replicates by merge like any other. Conditions (`NX`, `XX`, `GT`) and results (`INCR`'s new
//! value, `SADD`'s count) are therefore decided on that state: under `eventual` a condition may
//! be decided on a replica that has not yet seen a concurrent write (documented in REDIS.md).
//!
//! An op that cannot run (`INCR` on a set, on a non-number) is refused with an [`OpError`] and
//! changes nothing: that error is a definite "not applied".
//!
//! `now` for expiry decisions is the physical part of the write's HLC timestamp, so a replica
//! and the simulator decide exactly alike.

use bytes::{Bytes, BytesMut};
use kvorum_ring::NodeId;
use serde::{Deserialize, Serialize};

use crate::crdt::counter::{
    format_float, parse_float, parse_int, Counter, Float, IncrError, Number,
};
use crate::crdt::entries::FieldValue;
use crate::crdt::expiry::Expiry;
use crate::hlc::Timestamp;
use crate::object::{Data, Kind, Object, Value};
use crate::version::VersionVector;

/// The largest string value (Redis's `proto-max-bulk-len` default).
pub const MAX_STRING_BYTES: usize = 512 * 1024 * 1024;

/// `NX` / `XX` of `SET`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    #[default]
    Always,
    /// Only if the key does not exist.
    IfAbsent,
    /// Only if the key exists.
    IfPresent,
}

/// What a write does to the TTL.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ttl {
    /// `KEEPTTL`, and every command that is not about TTLs.
    #[default]
    Keep,
    /// A plain `SET`, and `PERSIST`.
    Clear,
    /// Expire at this wall-clock instant (ms since the Unix epoch).
    At(u64),
}

/// `NX XX GT LT` of `EXPIRE` and friends.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpireCondition {
    #[default]
    Always,
    /// Only if the key has no TTL.
    IfNone,
    /// Only if the key has a TTL.
    IfSome,
    /// Only if the new TTL is later than the current one (no TTL counts as infinite).
    IfLater,
    /// Only if the new TTL is earlier than the current one (no TTL counts as infinite).
    IfEarlier,
    /// `XX LT`: only if the key has a TTL and the new one is earlier. (`XX GT` is
    /// [`ExpireCondition::IfLater`]: no TTL never counts as earlier than a new one.)
    IfSomeAndEarlier,
}

/// A typed write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `SET` and its relatives (`SETNX`, `SETEX`, `GETSET`, `MSET`...). With `get`, the outcome
    /// carries the old string value (and a set or hash refuses with WRONGTYPE).
    Set {
        value: Bytes,
        condition: Condition,
        ttl: Ttl,
        get: bool,
    },
    /// `SETCTX`: a string write that supersedes exactly what `seen` covers.
    SetSeen { value: Bytes, seen: VersionVector },
    /// `DEL`/`UNLINK` (outcome: 1 if the key existed), `GETDEL` with `get` (outcome: the old
    /// string; WRONGTYPE on sets and hashes).
    Delete { get: bool },
    /// `APPEND`: outcome is the new length.
    Append { value: Bytes },
    /// `SETRANGE`: outcome is the new length.
    SetRange { offset: u64, value: Bytes },
    /// `INCRBY` (and `INCR`, `DECR`, `DECRBY`): outcome is the new value.
    IncrBy { delta: i64 },
    /// `INCRBYFLOAT`: outcome is the new value's text.
    IncrByFloat { delta: Float },
    /// `EXPIRE` family (`at_ms: None` with [`ExpireCondition::Always`] is `PERSIST`): outcome is
    /// 1 if the TTL changed.
    Expire {
        at_ms: Option<u64>,
        condition: ExpireCondition,
    },
    /// `GETEX` with an option: outcome is the string value; the TTL changes if the key exists.
    GetEx { ttl: Ttl },
    /// `HSET`/`HMSET` (outcome: fields added), `HSETNX` with `if_absent` (outcome: 1 if set).
    HSet {
        fields: Vec<(Bytes, Bytes)>,
        if_absent: bool,
    },
    /// `HDEL`: outcome is the number of fields removed.
    HDel { fields: Vec<Bytes> },
    /// `HINCRBY`: outcome is the field's new value.
    HIncrBy { field: Bytes, delta: i64 },
    /// `HINCRBYFLOAT`: outcome is the field's new value's text.
    HIncrByFloat { field: Bytes, delta: Float },
    /// `SADD`: outcome is the number of members added.
    SAdd { members: Vec<Bytes> },
    /// `SREM`: outcome is the number of members removed.
    SRem { members: Vec<Bytes> },
    /// `SPOP`: removes up to `count` members chosen with `seed`; outcome is the members.
    SPop { count: u64, seed: u64 },
    /// Writes a whole value, replacing whatever the key held (`RENAME`'s destination):
    /// outcome is 1, or 0 if `if_absent` and the key exists.
    Replace {
        value: Plain,
        expires_at_ms: Option<u64>,
        if_absent: bool,
    },
}

impl Op {
    /// A plain `SET key value`: unconditional, clears the TTL.
    pub fn set(value: impl Into<Bytes>) -> Op {
        Op::Set {
            value: value.into(),
            condition: Condition::Always,
            ttl: Ttl::Clear,
            get: false,
        }
    }

    /// A plain `DEL key`.
    pub fn delete() -> Op {
        Op::Delete { get: false }
    }
}

/// A type's value without replication metadata, as `RENAME` moves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Plain {
    Str(Bytes),
    Set(Vec<Bytes>),
    Hash(Vec<(Bytes, Bytes)>),
}

impl Plain {
    /// What a read at `now_ms` of `object` sees, as a plain value.
    pub fn of(object: &Object, now_ms: u64) -> Option<Plain> {
        Some(match object.read(now_ms)? {
            Value::Str(s) => Plain::Str(s.clone()),
            Value::Counter(n) => Plain::Str(Bytes::from(n.to_text())),
            Value::Set(s) => Plain::Set(s.iter().map(|e| e.key.clone()).collect()),
            Value::Hash(h) => Plain::Hash(
                h.iter()
                    .filter_map(|e| {
                        crate::crdt::entries::field_winner(e).map(|v| (e.key.clone(), v.clone()))
                    })
                    .collect(),
            ),
        })
    }
}

/// What a write answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Done; nothing to report (`SET`, `MSET`).
    Done,
    /// A condition was false: nothing changed (`SET NX` on an existing key answers nil).
    /// `old` is the string value for `SET ... GET`.
    Skipped {
        old: Option<Bytes>,
    },
    /// `SET ... GET`, `GETSET`, `GETDEL`, `GETEX`: the string value before (or, for `GETEX`,
    /// of) the key.
    Old(Option<Bytes>),
    Int(i64),
    /// A float result's text (`INCRBYFLOAT`, `HINCRBYFLOAT`).
    Text(Bytes),
    Members(Vec<Bytes>),
}

/// Why an op was refused; nothing changed. The texts are Redis's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OpError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NotFinite,
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooLarge,
    #[error("ERR {0}")]
    Limit(String),
}

/// The result of applying an op to a key's current state.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The new state; equal to the current one when nothing changed.
    pub object: Object,
    pub changed: bool,
    pub outcome: Outcome,
}

/// Applies `op`, coordinated by `node` at HLC time `ts`, to `current`.
pub fn apply(op: &Op, current: &Object, node: NodeId, ts: Timestamp) -> Result<Applied, OpError> {
    let now = ts.physical_ms;
    let mut next = current.clone();
    let outcome = run(op, &mut next, node, ts, now)?;
    let changed = next != *current;
    Ok(Applied {
        object: next,
        changed,
        outcome,
    })
}

/// A namespace's TTL: when `applied` changed the key and left it live without an expiry, it
/// expires `ttl_ms` after `ts`. So every key of a namespace with a TTL expires that long after
/// the last write that left it without one: a plain `SET` (which clears a TTL) renews it, a
/// write that keeps a TTL (`SADD`, `SET … KEEPTTL`) keeps it, and an explicit `EXPIRE` or
/// `SET … EX` wins. `PERSIST` cannot make such a key permanent: the default applies again.
pub fn default_ttl(applied: &mut Applied, ts: Timestamp, ttl_ms: Option<u64>) {
    let Some(ttl_ms) = ttl_ms else { return };
    let now = ts.physical_ms;
    let o = &mut applied.object;
    if applied.changed && o.exists(now) && o.expiry().at_ms.is_none() {
        set_ttl(o, ts, Ttl::At(now.saturating_add(ttl_ms)));
    }
}

fn run(op: &Op, o: &mut Object, node: NodeId, ts: Timestamp, now: u64) -> Result<Outcome, OpError> {
    if o.expiry().is_expired(now) {
        o.renew_expired(ts);
    }
    match op {
        Op::Set {
            value,
            condition,
            ttl,
            get,
        } => {
            let old = string_of(o, now, *get)?;
            let exists = o.exists(now);
            let go = match condition {
                Condition::Always => true,
                Condition::IfAbsent => !exists,
                Condition::IfPresent => exists,
            };
            if !go {
                return Ok(Outcome::Skipped { old });
            }
            let ttl = match ttl {
                // A TTL kept from an expired key is not kept: the key is new.
                Ttl::Keep if !exists => Ttl::Clear,
                other => *other,
            };
            write_string(o, node, ts, value.clone());
            set_ttl(o, ts, ttl);
            Ok(if *get {
                Outcome::Old(old)
            } else {
                Outcome::Done
            })
        }
        Op::SetSeen { value, seen } => {
            let (next, _) = o.write(node, seen, Some(value.clone()), ts);
            *o = next;
            Ok(Outcome::Done)
        }
        Op::Delete { get } => {
            let old = string_of(o, now, *get)?;
            let existed = o.exists(now);
            if existed {
                clear(o, node, ts);
            }
            Ok(if *get {
                Outcome::Old(old)
            } else {
                Outcome::Int(i64::from(existed))
            })
        }
        Op::Append { value } => {
            let mut text = BytesMut::from(string_of(o, now, true)?.unwrap_or_default().as_ref());
            check_size(text.len() as u64 + value.len() as u64)?;
            text.extend_from_slice(value);
            let len = text.len() as i64;
            write_string(o, node, ts, text.freeze());
            Ok(Outcome::Int(len))
        }
        Op::SetRange { offset, value } => {
            let old = string_of(o, now, true)?.unwrap_or_default();
            if value.is_empty() {
                return Ok(Outcome::Int(old.len() as i64));
            }
            let end = offset.saturating_add(value.len() as u64);
            check_size(end)?;
            let (offset, end) = (*offset as usize, end as usize);
            let mut text = BytesMut::from(old.as_ref());
            if text.len() < end {
                text.resize(end, 0);
            }
            text[offset..end].copy_from_slice(value);
            let len = text.len() as i64;
            write_string(o, node, ts, text.freeze());
            Ok(Outcome::Int(len))
        }
        Op::IncrBy { delta } => {
            let counter = counter_of(o, now, OpError::NotInteger)?;
            let next = counter.incr(node, *delta).map_err(incr_error)?;
            Ok(Outcome::Int(next))
        }
        Op::IncrByFloat { delta } => {
            let counter = counter_of(o, now, OpError::NotFloat)?;
            let next = counter.incr_float(node, delta.0).map_err(incr_error)?;
            Ok(Outcome::Text(Bytes::from(format_float(next))))
        }
        Op::Expire { at_ms, condition } => {
            if !o.exists(now) {
                return Ok(Outcome::Int(0));
            }
            let current = o.expiry().at_ms;
            let go = match (condition, at_ms) {
                (ExpireCondition::Always, None) => current.is_some(),
                (ExpireCondition::Always, Some(_)) => true,
                (ExpireCondition::IfNone, _) => current.is_none(),
                (ExpireCondition::IfSome, _) => current.is_some(),
                (ExpireCondition::IfLater, Some(at)) => current.is_some_and(|c| *at > c),
                (ExpireCondition::IfEarlier, Some(at)) => current.is_none_or(|c| *at < c),
                (ExpireCondition::IfSomeAndEarlier, Some(at)) => current.is_some_and(|c| *at < c),
                (_, None) => false,
            };
            if !go {
                return Ok(Outcome::Int(0));
            }
            match at_ms {
                // A TTL in the past deletes the key, as in Redis.
                Some(at) if *at <= now => clear(o, node, ts),
                Some(at) => set_ttl(o, ts, Ttl::At(*at)),
                None => set_ttl(o, ts, Ttl::Clear),
            }
            Ok(Outcome::Int(1))
        }
        Op::GetEx { ttl } => {
            let value = string_of(o, now, true)?;
            if value.is_some() {
                match ttl {
                    Ttl::At(at) if *at <= now => clear(o, node, ts),
                    Ttl::Keep => {}
                    Ttl::Clear if o.expiry().at_ms.is_none() => {}
                    other => set_ttl(o, ts, *other),
                }
            }
            Ok(Outcome::Old(value))
        }
        Op::HSet { fields, if_absent } => {
            entries_of(o, now, Kind::Hash)?;
            let mut added = 0;
            for (field, value) in fields {
                if *if_absent && hash_field(o, field).is_some() {
                    continue;
                }
                if !put_field(o, node, ts, field, value.clone()) {
                    added += 1;
                }
            }
            check_entries(o)?;
            Ok(Outcome::Int(added))
        }
        Op::HDel { fields } => {
            if !live_kind(o, now, Kind::Hash)? {
                return Ok(Outcome::Int(0));
            }
            let Data::Hash(h) = o.data_mut() else {
                return Ok(Outcome::Int(0));
            };
            let removed = fields.iter().filter(|f| h.remove(f)).count();
            Ok(Outcome::Int(removed as i64))
        }
        Op::HIncrBy { field, delta } => {
            entries_of(o, now, Kind::Hash)?;
            let current = match hash_field(o, field) {
                Some(v) => parse_int(&v).ok_or(OpError::HashNotInteger)?,
                None => 0,
            };
            let next = current.checked_add(*delta).ok_or(OpError::Overflow)?;
            put_field(o, node, ts, field, Bytes::from(next.to_string()));
            Ok(Outcome::Int(next))
        }
        Op::HIncrByFloat { field, delta } => {
            entries_of(o, now, Kind::Hash)?;
            let current = match hash_field(o, field) {
                Some(v) => parse_float(&v).ok_or(OpError::HashNotFloat)?,
                None => 0.0,
            };
            let next = current + delta.0;
            if !next.is_finite() {
                return Err(OpError::NotFinite);
            }
            let text = Bytes::from(format_float(next));
            put_field(o, node, ts, field, text.clone());
            Ok(Outcome::Text(text))
        }
        Op::SAdd { members } => {
            entries_of(o, now, Kind::Set)?;
            let mut added = 0;
            for member in members {
                let present = matches!(o.data(), Data::Set(s) if s.contains(member));
                if present {
                    continue;
                }
                let dot = o.mint(node);
                if let Data::Set(s) = o.data_mut() {
                    s.put(member.clone(), dot, ());
                    added += 1;
                }
            }
            check_entries(o)?;
            Ok(Outcome::Int(added))
        }
        Op::SRem { members } => {
            if !live_kind(o, now, Kind::Set)? {
                return Ok(Outcome::Int(0));
            }
            let Data::Set(s) = o.data_mut() else {
                return Ok(Outcome::Int(0));
            };
            let removed = members.iter().filter(|m| s.remove(m)).count();
            Ok(Outcome::Int(removed as i64))
        }
        Op::SPop { count, seed } => {
            if !live_kind(o, now, Kind::Set)? {
                return Ok(Outcome::Members(Vec::new()));
            }
            let Data::Set(s) = o.data_mut() else {
                return Ok(Outcome::Members(Vec::new()));
            };
            let keys: Vec<Bytes> = s.iter().map(|e| e.key.clone()).collect();
            let chosen = sample(&keys, *count, *seed);
            for member in &chosen {
                s.remove(member);
            }
            Ok(Outcome::Members(chosen))
        }
        Op::Replace {
            value,
            expires_at_ms,
            if_absent,
        } => {
            if *if_absent && o.exists(now) {
                return Ok(Outcome::Int(0));
            }
            clear(o, node, ts);
            match value {
                Plain::Str(s) => write_string(o, node, ts, s.clone()),
                Plain::Set(members) => {
                    entries_of(o, now, Kind::Set)?;
                    for m in members {
                        let dot = o.mint(node);
                        if let Data::Set(s) = o.data_mut() {
                            s.put(m.clone(), dot, ());
                        }
                    }
                }
                Plain::Hash(fields) => {
                    entries_of(o, now, Kind::Hash)?;
                    for (f, v) in fields {
                        put_field(o, node, ts, f, v.clone());
                    }
                }
            }
            set_ttl(
                o,
                ts,
                match expires_at_ms {
                    Some(at) => Ttl::At(*at),
                    None => Ttl::Clear,
                },
            );
            Ok(Outcome::Int(1))
        }
    }
}

/// The string a read sees, for ops that return or extend it; WRONGTYPE for sets and hashes
/// (only when `check` — a plain `SET` overwrites any type).
fn string_of(o: &Object, now: u64, check: bool) -> Result<Option<Bytes>, OpError> {
    match o.read(now) {
        None => Ok(None),
        Some(v) => match v.as_string() {
            Some(s) => Ok(Some(s)),
            None if check => Err(OpError::WrongType),
            None => Ok(None),
        },
    }
}

fn check_size(len: u64) -> Result<(), OpError> {
    if len > MAX_STRING_BYTES as u64 {
        return Err(OpError::TooLarge);
    }
    Ok(())
}

fn check_entries(o: &Object) -> Result<(), OpError> {
    let len = match o.data() {
        Data::Set(s) => s.len(),
        Data::Hash(h) => h.len(),
        _ => 0,
    };
    if len > crate::object::MAX_ENTRIES {
        return Err(OpError::Limit(format!(
            "too many members or fields: the limit is {}",
            crate::object::MAX_ENTRIES
        )));
    }
    Ok(())
}

/// A string write that supersedes every version this replica holds.
fn write_string(o: &mut Object, node: NodeId, ts: Timestamp, value: Bytes) {
    let seen = o.context().clone();
    let (next, _) = o.write(node, &seen, Some(value), ts);
    *o = next;
}

fn set_ttl(o: &mut Object, ts: Timestamp, ttl: Ttl) {
    let at_ms = match ttl {
        Ttl::Keep => return,
        Ttl::Clear => None,
        Ttl::At(at) => Some(at),
    };
    o.set_expiry(Expiry { ts, at_ms });
}

/// A delete of everything this replica holds for the key, whatever its type.
fn clear(o: &mut Object, node: NodeId, ts: Timestamp) {
    match o.data_mut() {
        Data::Register(_) => {
            let seen = o.context().clone();
            let (next, _) = o.write(node, &seen, None, ts);
            *o = next;
        }
        Data::Counter(c) => c.clear(),
        Data::Set(s) => s.clear(),
        Data::Hash(h) => h.clear(),
    }
    if o.expiry().at_ms.is_some() {
        set_ttl(o, ts, Ttl::Clear);
    }
}

/// Whether the key is a live `kind`; absent keys are `false`, other types WRONGTYPE.
fn live_kind(o: &Object, now: u64, kind: Kind) -> Result<bool, OpError> {
    match o.read(now) {
        None => Ok(false),
        Some(v) if v.kind() == kind => Ok(true),
        Some(_) => Err(OpError::WrongType),
    }
}

/// Prepares the key for a set or hash write: WRONGTYPE if it holds another live type; a
/// deleted key of any type becomes an empty one of `kind`.
fn entries_of(o: &mut Object, now: u64, kind: Kind) -> Result<(), OpError> {
    if !live_kind(o, now, kind)? {
        o.become_kind(kind);
    }
    Ok(())
}

/// Prepares the key for a counter op and returns its counter: a live string holding a number
/// becomes a counter starting from it; `not_number` if it holds something else.
fn counter_of(o: &mut Object, now: u64, not_number: OpError) -> Result<&mut Counter, OpError> {
    match o.read(now) {
        Some(Value::Counter(_)) => {}
        Some(Value::Str(s)) => {
            // `INCR` reads only what Redis reads as an integer ("10", not "10.0" or "1e3").
            let base = match not_number {
                OpError::NotInteger => parse_int(s).map(Number::Int),
                _ => parse_float(s).map(Number::Float),
            }
            .ok_or(not_number)?;
            let source = o.winner().map(|w| (w.ts, w.dot)).unwrap_or_default();
            let incarnation = o.incarnation_for(Kind::Counter);
            let context = o.context().clone();
            let expiry = o.expiry();
            let counter = Counter::from_base(base, source);
            *o = Object::from_parts(context, incarnation, Data::Counter(counter), expiry);
        }
        Some(_) => return Err(OpError::WrongType),
        None => {
            if o.kind() != Kind::Counter {
                o.become_kind(Kind::Counter);
            }
        }
    }
    match o.data_mut() {
        Data::Counter(c) => Ok(c),
        _ => Err(OpError::WrongType),
    }
}

fn incr_error(e: IncrError) -> OpError {
    match e {
        IncrError::NotInteger => OpError::NotInteger,
        IncrError::Overflow => OpError::Overflow,
        IncrError::NotFinite => OpError::NotFinite,
    }
}

fn hash_field(o: &Object, field: &[u8]) -> Option<Bytes> {
    match o.data() {
        Data::Hash(h) => h.value(field).cloned(),
        _ => None,
    }
}

/// Writes a hash field (the key must already be a hash); returns whether the field existed.
fn put_field(o: &mut Object, node: NodeId, ts: Timestamp, field: &Bytes, value: Bytes) -> bool {
    let dot = o.mint(node);
    match o.data_mut() {
        Data::Hash(h) => h.put(field.clone(), dot, FieldValue { ts, value }),
        _ => false,
    }
}

/// Up to `count` distinct members, chosen by a seeded generator (the coordinator draws the
/// seed, so the choice is reproducible).
fn sample(keys: &[Bytes], count: u64, seed: u64) -> Vec<Bytes> {
    let mut pool: Vec<usize> = (0..keys.len()).collect();
    let mut state = seed | 1;
    let take = (count as usize).min(pool.len());
    let mut out = Vec::with_capacity(take);
    for i in 0..take {
        // xorshift64*: small, deterministic, good enough to pick members.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = i + (r % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
        out.push(keys[pool[i]].clone());
    }
    out
}
