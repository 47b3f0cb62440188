//! Redis semantics of the typed write ops, one replica at a time: what each command answers and
//! what a read sees afterwards, as a Redis user would check them (`SET NX`, `INCR` on a
//! non-number, `EXPIRE GT` on a key without TTL, `SPOP` counts...). The last tests merge two
//! replicas that converted the same string into a counter concurrently.

use bytes::Bytes;
use kvorum_consistency::crdt::counter::{Float, Number};
use kvorum_consistency::op::{apply, default_ttl, MAX_STRING_BYTES};
use kvorum_consistency::{
    Condition, ExpireCondition, Kind, Object, Op, OpError, Outcome, Plain, Timestamp, Ttl, Value,
    VersionVector,
};
use kvorum_ring::NodeId;

/// The wall-clock instant the tests start at (ms since the Unix epoch).
const START_MS: u64 = 1_700_000_000_000;

/// One key on one replica, written through `apply` with a clock that moves 1 ms per op.
struct Key {
    object: Object,
    node: NodeId,
    now: u64,
    /// The namespace's TTL in ms, if it has one.
    namespace_ttl: Option<u64>,
}

impl Key {
    fn new() -> Key {
        Key::on(NodeId(1))
    }

    fn on(node: NodeId) -> Key {
        Key {
            object: Object::new(),
            node,
            now: START_MS,
            namespace_ttl: None,
        }
    }

    /// Runs `op` one millisecond later; a refused op leaves the key as it was.
    fn run(&mut self, op: Op) -> Result<Outcome, OpError> {
        self.now += 1;
        let ts = Timestamp {
            physical_ms: self.now,
            logical: 0,
        };
        let mut applied = apply(&op, &self.object, self.node, ts)?;
        default_ttl(&mut applied, ts, self.namespace_ttl);
        self.object = applied.object;
        Ok(applied.outcome)
    }

    /// Runs an op that must be accepted.
    fn ok(&mut self, op: Op) -> Outcome {
        match self.run(op.clone()) {
            Ok(outcome) => outcome,
            Err(e) => panic!("{op:?} refused: {e}"),
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// What `GET` answers now (a set or hash reads as `None` here; see `kind`).
    fn get(&self) -> Option<Bytes> {
        self.object.read(self.now).and_then(|v| v.as_string())
    }

    /// The type `TYPE` would report now, `None` if the key is absent.
    fn kind(&self) -> Option<Kind> {
        self.object.read(self.now).map(|v| v.kind())
    }

    fn members(&self) -> Vec<Bytes> {
        match self.object.read(self.now) {
            Some(Value::Set(s)) => s.iter().map(|e| e.key.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn field(&self, field: &str) -> Option<Bytes> {
        match self.object.read(self.now) {
            Some(Value::Hash(h)) => h.value(field.as_bytes()).cloned(),
            _ => None,
        }
    }

    fn ttl(&self) -> Option<u64> {
        self.object.expires_at(self.now)
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn some(s: &str) -> Option<Bytes> {
    Some(b(s))
}

fn set_with(value: &str, condition: Condition, ttl: Ttl, get: bool) -> Op {
    Op::Set {
        value: b(value),
        condition,
        ttl,
        get,
    }
}

fn incr(delta: i64) -> Op {
    Op::IncrBy { delta }
}

fn incr_float(delta: f64) -> Op {
    Op::IncrByFloat {
        delta: Float(delta),
    }
}

fn expire(at_ms: u64, condition: ExpireCondition) -> Op {
    Op::Expire {
        at_ms: Some(at_ms),
        condition,
    }
}

fn persist() -> Op {
    Op::Expire {
        at_ms: None,
        condition: ExpireCondition::Always,
    }
}

fn sadd(members: &[&str]) -> Op {
    Op::SAdd {
        members: members.iter().map(|m| b(m)).collect(),
    }
}

fn srem(members: &[&str]) -> Op {
    Op::SRem {
        members: members.iter().map(|m| b(m)).collect(),
    }
}

fn hset(fields: &[(&str, &str)]) -> Op {
    Op::HSet {
        fields: fields.iter().map(|(f, v)| (b(f), b(v))).collect(),
        if_absent: false,
    }
}

fn sorted(mut members: Vec<Bytes>) -> Vec<Bytes> {
    members.sort();
    members
}

fn key_with(value: &str) -> Key {
    let mut key = Key::new();
    key.ok(Op::set(b(value)));
    key
}

fn set_key(members: &[&str]) -> Key {
    let mut key = Key::new();
    key.ok(sadd(members));
    key
}

// ---- SET ----------------------------------------------------------------------------------

#[test]
fn set_nx_writes_only_an_absent_key() {
    let mut key = Key::new();
    let nx = |v| set_with(v, Condition::IfAbsent, Ttl::Clear, false);
    assert_eq!(key.ok(nx("a")), Outcome::Done);
    assert_eq!(key.get(), some("a"));
    assert!(matches!(key.ok(nx("b")), Outcome::Skipped { .. }));
    assert_eq!(key.get(), some("a"));
}

#[test]
fn set_xx_writes_only_an_existing_key() {
    let mut key = Key::new();
    let xx = |v| set_with(v, Condition::IfPresent, Ttl::Clear, false);
    assert_eq!(key.ok(xx("a")), Outcome::Skipped { old: None });
    assert_eq!(key.get(), None);
    key.ok(Op::set(b("a")));
    assert_eq!(key.ok(xx("b")), Outcome::Done);
    assert_eq!(key.get(), some("b"));
}

#[test]
fn set_get_returns_the_old_value() {
    let mut key = Key::new();
    let get = |v| set_with(v, Condition::Always, Ttl::Clear, true);
    assert_eq!(key.ok(get("a")), Outcome::Old(None));
    assert_eq!(key.ok(get("b")), Outcome::Old(some("a")));
    assert_eq!(key.get(), some("b"));
    // NX GET on an existing key: not written, and the old value still comes back.
    let nx_get = set_with("c", Condition::IfAbsent, Ttl::Clear, true);
    assert_eq!(key.ok(nx_get), Outcome::Skipped { old: some("b") });
    assert_eq!(key.get(), some("b"));
}

#[test]
fn set_get_on_a_set_is_wrongtype_and_changes_nothing() {
    let mut key = set_key(&["m"]);
    let get = set_with("x", Condition::Always, Ttl::Clear, true);
    assert_eq!(key.run(get), Err(OpError::WrongType));
    assert_eq!(key.kind(), Some(Kind::Set));
    assert_eq!(key.members(), vec![b("m")]);
}

#[test]
fn set_with_ex_sets_a_ttl_and_a_plain_set_clears_it() {
    let mut key = Key::new();
    let at = START_MS + 10_000;
    key.ok(set_with("a", Condition::Always, Ttl::At(at), false));
    assert_eq!(key.ttl(), Some(at));
    key.ok(Op::set(b("b")));
    assert_eq!(key.ttl(), None);
    assert_eq!(key.get(), some("b"));
}

#[test]
fn a_namespace_ttl_applies_to_every_write_that_leaves_a_key_without_one() {
    let mut key = Key::new();
    key.namespace_ttl = Some(60_000);
    // A plain SET (which clears a TTL) gets the namespace's, from its own time.
    key.ok(Op::set(b("a")));
    assert_eq!(key.ttl(), Some(key.now + 60_000));
    let first = key.ttl();
    // A write that keeps the TTL keeps it; a plain SET renews it.
    key.ok(set_with("b", Condition::Always, Ttl::Keep, false));
    assert_eq!(key.ttl(), first);
    key.advance(1_000);
    key.ok(Op::set(b("c")));
    assert_eq!(key.ttl(), Some(key.now + 60_000));
    // An explicit TTL wins, shorter or longer.
    let at = key.now + 5_000;
    key.ok(set_with("d", Condition::Always, Ttl::At(at), false));
    assert_eq!(key.ttl(), Some(at));
    // PERSIST cannot make the key permanent: the namespace's TTL applies again.
    key.ok(persist());
    assert_eq!(key.ttl(), Some(key.now + 60_000));
    // Sets, hashes and counters created in the namespace get it too; later adds keep it.
    let mut set = Key::new();
    set.namespace_ttl = Some(1_000);
    set.ok(sadd(&["x"]));
    let created = set.ttl();
    assert_eq!(created, Some(set.now + 1_000));
    set.ok(sadd(&["y"]));
    assert_eq!(set.ttl(), created);
    set.advance(1_000);
    assert!(
        set.members().is_empty(),
        "the set expired with its namespace TTL"
    );
    let mut counter = Key::new();
    counter.namespace_ttl = Some(1_000);
    counter.ok(incr(1));
    assert_eq!(counter.ttl(), Some(counter.now + 1_000));
    let mut hash = Key::new();
    hash.namespace_ttl = Some(1_000);
    hash.ok(hset(&[("f", "v")]));
    assert_eq!(hash.ttl(), Some(hash.now + 1_000));
    // A write that changes nothing, and a delete, set no TTL.
    let mut absent = Key::new();
    absent.namespace_ttl = Some(1_000);
    absent.ok(Op::delete());
    assert_eq!(absent.ttl(), None);
    assert_eq!(absent.get(), None);
}

#[test]
fn set_keepttl_keeps_a_live_keys_ttl() {
    let mut key = Key::new();
    let at = START_MS + 10_000;
    key.ok(set_with("a", Condition::Always, Ttl::At(at), false));
    key.ok(set_with("b", Condition::Always, Ttl::Keep, false));
    assert_eq!(key.ttl(), Some(at));
    assert_eq!(key.get(), some("b"));
}

#[test]
fn set_keepttl_on_an_expired_key_makes_a_key_without_ttl() {
    let mut key = Key::new();
    key.ok(set_with(
        "a",
        Condition::Always,
        Ttl::At(START_MS + 5),
        false,
    ));
    key.advance(100);
    key.ok(set_with("b", Condition::Always, Ttl::Keep, false));
    assert_eq!(key.get(), some("b"));
    assert_eq!(key.ttl(), None);
}

#[test]
fn set_exat_in_the_past_leaves_the_key_absent() {
    let mut key = key_with("old");
    key.ok(set_with(
        "a",
        Condition::Always,
        Ttl::At(START_MS - 1),
        false,
    ));
    assert_eq!(key.get(), None);
    assert_eq!(key.kind(), None);
}

#[test]
fn set_on_a_set_key_makes_it_a_string() {
    let mut key = set_key(&["m", "n"]);
    assert_eq!(key.ok(Op::set(b("s"))), Outcome::Done);
    assert_eq!(key.kind(), Some(Kind::Register));
    assert_eq!(key.get(), some("s"));
    assert_eq!(key.object.kind(), Kind::Register);
    assert!(key.object.validate().is_ok());
}

// ---- GETDEL / GETEX / DEL ----------------------------------------------------------------

#[test]
fn getdel_returns_the_value_and_deletes() {
    let mut key = key_with("a");
    assert_eq!(key.ok(Op::Delete { get: true }), Outcome::Old(some("a")));
    assert_eq!(key.get(), None);
    assert_eq!(key.ok(Op::Delete { get: true }), Outcome::Old(None));
}

#[test]
fn getdel_on_a_set_is_wrongtype_and_keeps_it() {
    let mut key = set_key(&["m"]);
    assert_eq!(key.run(Op::Delete { get: true }), Err(OpError::WrongType));
    assert_eq!(key.members(), vec![b("m")]);
}

#[test]
fn getex_sets_or_clears_the_ttl_of_an_existing_key() {
    let mut key = key_with("a");
    let at = START_MS + 10_000;
    assert_eq!(
        key.ok(Op::GetEx { ttl: Ttl::At(at) }),
        Outcome::Old(some("a"))
    );
    assert_eq!(key.ttl(), Some(at));
    assert_eq!(
        key.ok(Op::GetEx { ttl: Ttl::Keep }),
        Outcome::Old(some("a"))
    );
    assert_eq!(key.ttl(), Some(at));
    assert_eq!(
        key.ok(Op::GetEx { ttl: Ttl::Clear }),
        Outcome::Old(some("a"))
    );
    assert_eq!(key.ttl(), None);
    assert_eq!(key.get(), some("a"));
}

#[test]
fn getex_on_an_absent_key_answers_nil_and_creates_nothing() {
    let mut key = Key::new();
    let outcome = key.ok(Op::GetEx {
        ttl: Ttl::At(START_MS + 10_000),
    });
    assert_eq!(outcome, Outcome::Old(None));
    assert!(key.object.is_pristine());
}

#[test]
fn getex_with_a_past_instant_returns_the_value_and_deletes() {
    let mut key = key_with("a");
    let outcome = key.ok(Op::GetEx {
        ttl: Ttl::At(START_MS),
    });
    assert_eq!(outcome, Outcome::Old(some("a")));
    assert_eq!(key.get(), None);
}

#[test]
fn getex_on_a_hash_is_wrongtype() {
    let mut key = Key::new();
    key.ok(hset(&[("f", "v")]));
    assert_eq!(
        key.run(Op::GetEx { ttl: Ttl::Keep }),
        Err(OpError::WrongType)
    );
}

#[test]
fn del_answers_whether_the_key_existed() {
    let mut key = key_with("a");
    assert_eq!(key.ok(Op::delete()), Outcome::Int(1));
    assert_eq!(key.get(), None);
    assert_eq!(key.ok(Op::delete()), Outcome::Int(0));
    let mut never = Key::new();
    assert_eq!(never.ok(Op::delete()), Outcome::Int(0));
}

#[test]
fn del_removes_every_type() {
    let mut set = set_key(&["m"]);
    let mut hash = Key::new();
    hash.ok(hset(&[("f", "v")]));
    let mut counter = Key::new();
    counter.ok(incr(3));
    for key in [&mut set, &mut hash, &mut counter] {
        assert_eq!(key.ok(Op::delete()), Outcome::Int(1));
        assert_eq!(key.kind(), None);
        assert!(key.object.validate().is_ok());
    }
}

#[test]
fn del_on_an_expired_key_answers_zero() {
    let mut key = Key::new();
    key.ok(set_with(
        "a",
        Condition::Always,
        Ttl::At(START_MS + 5),
        false,
    ));
    key.advance(10);
    assert_eq!(key.ok(Op::delete()), Outcome::Int(0));
    assert_eq!(key.get(), None);
}

// ---- APPEND / SETRANGE -------------------------------------------------------------------

#[test]
fn append_creates_and_extends_answering_the_length() {
    let mut key = Key::new();
    assert_eq!(key.ok(Op::Append { value: b("Hello") }), Outcome::Int(5));
    assert_eq!(key.ok(Op::Append { value: b(" World") }), Outcome::Int(11));
    assert_eq!(key.get(), some("Hello World"));
}

#[test]
fn append_to_a_counter_appends_to_its_text() {
    let mut key = Key::new();
    key.ok(incr(15));
    assert_eq!(key.ok(Op::Append { value: b("x") }), Outcome::Int(3));
    assert_eq!(key.get(), some("15x"));
    assert_eq!(key.object.kind(), Kind::Register);
}

#[test]
fn append_keeps_the_ttl() {
    let mut key = Key::new();
    let at = START_MS + 10_000;
    key.ok(set_with("a", Condition::Always, Ttl::At(at), false));
    key.ok(Op::Append { value: b("b") });
    assert_eq!(key.ttl(), Some(at));
}

#[test]
fn setrange_pads_with_zero_bytes() {
    let mut key = Key::new();
    let op = Op::SetRange {
        offset: 3,
        value: b("ab"),
    };
    assert_eq!(key.ok(op), Outcome::Int(5));
    assert_eq!(key.get(), Some(Bytes::from_static(b"\0\0\0ab")));
}

#[test]
fn setrange_overwrites_inside_the_string() {
    let mut key = key_with("Hello World");
    let op = Op::SetRange {
        offset: 6,
        value: b("Redis"),
    };
    assert_eq!(key.ok(op), Outcome::Int(11));
    assert_eq!(key.get(), some("Hello Redis"));
    let longer = Op::SetRange {
        offset: 9,
        value: b("ssssss"),
    };
    assert_eq!(key.ok(longer), Outcome::Int(15));
    assert_eq!(key.get(), some("Hello Redssssss"));
}

#[test]
fn setrange_with_an_empty_value_only_answers_the_length() {
    let mut absent = Key::new();
    let empty = Op::SetRange {
        offset: 10,
        value: Bytes::new(),
    };
    assert_eq!(absent.ok(empty.clone()), Outcome::Int(0));
    assert!(absent.object.is_pristine());
    let mut key = key_with("abc");
    assert_eq!(key.ok(empty), Outcome::Int(3));
    assert_eq!(key.get(), some("abc"));
}

#[test]
fn setrange_past_the_size_limit_is_refused() {
    let mut key = key_with("abc");
    let op = Op::SetRange {
        offset: MAX_STRING_BYTES as u64,
        value: b("x"),
    };
    assert_eq!(key.run(op), Err(OpError::TooLarge));
    assert_eq!(key.get(), some("abc"));
}

#[test]
fn append_and_setrange_on_a_set_are_wrongtype() {
    let mut key = set_key(&["m"]);
    assert_eq!(
        key.run(Op::Append { value: b("x") }),
        Err(OpError::WrongType)
    );
    let op = Op::SetRange {
        offset: 0,
        value: b("x"),
    };
    assert_eq!(key.run(op), Err(OpError::WrongType));
    let empty = Op::SetRange {
        offset: 0,
        value: Bytes::new(),
    };
    assert_eq!(key.run(empty), Err(OpError::WrongType));
    assert_eq!(key.members(), vec![b("m")]);
}

// ---- INCR family -------------------------------------------------------------------------

#[test]
fn incr_on_an_absent_key_starts_from_zero() {
    let mut key = Key::new();
    assert_eq!(key.ok(incr(1)), Outcome::Int(1));
    assert_eq!(
        key.object.read(key.now),
        Some(Value::Counter(Number::Int(1)))
    );
    assert_eq!(key.get(), some("1"));
    assert_eq!(key.ok(incr(-3)), Outcome::Int(-2));
    assert_eq!(key.get(), some("-2"));
}

#[test]
fn incrby_on_a_numeric_string_continues_from_it() {
    let mut key = key_with("10");
    assert_eq!(key.ok(incr(5)), Outcome::Int(15));
    let read = key.object.read(key.now);
    assert_eq!(read, Some(Value::Counter(Number::Int(15))));
    assert_eq!(read.and_then(|v| v.as_string()), some("15"));
    assert_eq!(key.kind().map(Kind::redis_type), Some("string"));
}

#[test]
fn incr_on_a_non_number_is_refused_and_changes_nothing() {
    let mut key = key_with("abc");
    let before = key.object.clone();
    assert_eq!(key.run(incr(1)), Err(OpError::NotInteger));
    assert_eq!(key.object, before);
    assert_eq!(key.get(), some("abc"));
    assert_eq!(key.run(incr_float(1.0)), Err(OpError::NotFloat));
    assert_eq!(key.object, before);
}

#[test]
fn incr_on_a_float_string_is_not_an_integer() {
    let mut key = key_with("1.5");
    assert_eq!(key.run(incr(1)), Err(OpError::NotInteger));
    assert_eq!(key.get(), some("1.5"));
}

/// Redis's INCR parses the string strictly as a 64-bit integer (`string2ll`): "10.0", "1e3",
/// "007", "+5" and "5." are all "not an integer", even though they name integral numbers.
#[test]
fn incr_refuses_strings_redis_does_not_read_as_integers() {
    let accepted: Vec<(&str, Result<Outcome, OpError>)> =
        ["10.0", "1e3", "007", "+5", "5.", "-0", " 5", "5 ", "0x10"]
            .into_iter()
            .map(|text| (text, key_with(text).run(incr(1))))
            .filter(|(_, result)| *result != Err(OpError::NotInteger))
            .collect();
    assert_eq!(accepted, Vec::new(), "INCR should refuse these strings");
}

#[test]
fn incr_overflow_is_refused_and_changes_nothing() {
    let mut key = key_with(&i64::MAX.to_string());
    assert_eq!(key.run(incr(1)), Err(OpError::Overflow));
    assert_eq!(key.get(), Some(Bytes::from(i64::MAX.to_string())));
    let mut low = key_with(&i64::MIN.to_string());
    assert_eq!(low.run(incr(-1)), Err(OpError::Overflow));
    assert_eq!(low.get(), Some(Bytes::from(i64::MIN.to_string())));
    // Reaching the limit exactly is fine.
    let mut near = key_with(&(i64::MAX - 1).to_string());
    assert_eq!(near.ok(incr(1)), Outcome::Int(i64::MAX));
}

/// A counter's value stays within `i64`, but each node's running total of increments does not
/// restart when the key is deleted or its value comes back down.
#[test]
fn incr_after_a_large_counter_was_deleted_starts_from_zero() {
    let mut deleted = Key::new();
    assert_eq!(deleted.ok(incr(i64::MAX)), Outcome::Int(i64::MAX));
    assert_eq!(deleted.ok(Op::delete()), Outcome::Int(1));

    let mut down = key_with(&i64::MIN.to_string());
    assert_eq!(down.ok(incr(i64::MAX)), Outcome::Int(-1));

    assert_eq!(
        (deleted.run(incr(1)), down.run(incr(1))),
        (Ok(Outcome::Int(1)), Ok(Outcome::Int(0)))
    );
}

#[test]
fn incrbyfloat_adds_and_prints_like_redis() {
    let mut key = key_with("10.5");
    assert_eq!(key.ok(incr_float(0.1)), Outcome::Text(b("10.6")));
    assert_eq!(key.get(), some("10.6"));
    assert_eq!(key.ok(incr_float(-5.6)), Outcome::Text(b("5")));
    assert_eq!(key.get(), some("5"));
    // An integral result is an integer again.
    assert_eq!(key.ok(incr(1)), Outcome::Int(6));
}

#[test]
fn incrbyfloat_to_infinity_is_refused() {
    let mut key = key_with("1.7e308");
    assert_eq!(key.run(incr_float(1.7e308)), Err(OpError::NotFinite));
    assert_eq!(key.get(), some("1.7e308"));
}

#[test]
fn incr_on_a_set_or_hash_is_wrongtype() {
    let mut set = set_key(&["m"]);
    assert_eq!(set.run(incr(1)), Err(OpError::WrongType));
    assert_eq!(set.run(incr_float(1.0)), Err(OpError::WrongType));
    assert_eq!(set.members(), vec![b("m")]);
    let mut hash = Key::new();
    hash.ok(hset(&[("f", "1")]));
    assert_eq!(hash.run(incr(1)), Err(OpError::WrongType));
}

#[test]
fn set_on_a_counter_replaces_it() {
    let mut key = Key::new();
    key.ok(incr(7));
    key.ok(Op::set(b("x")));
    assert_eq!(key.get(), some("x"));
    assert_eq!(key.object.kind(), Kind::Register);
    assert_eq!(key.run(incr(1)), Err(OpError::NotInteger));
}

// ---- EXPIRE / PERSIST --------------------------------------------------------------------

/// `EXPIRE key t [NX|XX|GT|LT]` on a key with no TTL, a TTL later than `t`, one earlier than
/// `t`, and one equal to `t`: the answers and resulting TTLs of Redis's documentation (no TTL
/// counts as an infinite one for GT and LT).
#[test]
fn expire_conditions_follow_redis() {
    use ExpireCondition::*;
    let current = START_MS + 10_000;
    let later = current + 5_000;
    let earlier = current - 5_000;
    // (condition, existing TTL, new instant, answer)
    let table = [
        (Always, None, later, 1),
        (IfNone, None, later, 1),
        (IfSome, None, later, 0),
        (IfLater, None, later, 0),
        (IfEarlier, None, later, 1),
        (Always, Some(current), later, 1),
        (IfNone, Some(current), later, 0),
        (IfSome, Some(current), later, 1),
        (IfLater, Some(current), later, 1),
        (IfEarlier, Some(current), later, 0),
        (Always, Some(current), earlier, 1),
        (IfNone, Some(current), earlier, 0),
        (IfSome, Some(current), earlier, 1),
        (IfLater, Some(current), earlier, 0),
        (IfEarlier, Some(current), earlier, 1),
        (IfLater, Some(current), current, 0),
        (IfEarlier, Some(current), current, 0),
    ];
    for (condition, existing, at, answer) in table {
        let mut key = Key::new();
        let ttl = existing.map_or(Ttl::Clear, Ttl::At);
        key.ok(set_with("v", Condition::Always, ttl, false));
        let outcome = key.ok(expire(at, condition));
        let case = format!("{condition:?} on TTL {existing:?} to {at}");
        assert_eq!(outcome, Outcome::Int(answer), "{case}");
        let expected = if answer == 1 { Some(at) } else { existing };
        assert_eq!(key.ttl(), expected, "{case}");
        assert_eq!(key.get(), some("v"), "{case}");
    }
}

#[test]
fn expire_on_an_absent_key_answers_zero() {
    let mut key = Key::new();
    assert_eq!(
        key.ok(expire(START_MS + 10_000, ExpireCondition::Always)),
        Outcome::Int(0)
    );
    assert!(key.object.is_pristine());
}

#[test]
fn persist_removes_a_ttl_and_answers_whether_there_was_one() {
    let mut key = Key::new();
    key.ok(set_with(
        "v",
        Condition::Always,
        Ttl::At(START_MS + 10_000),
        false,
    ));
    assert_eq!(key.ok(persist()), Outcome::Int(1));
    assert_eq!(key.ttl(), None);
    assert_eq!(key.ok(persist()), Outcome::Int(0));
    assert_eq!(Key::new().ok(persist()), Outcome::Int(0));
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    let mut key = key_with("v");
    assert_eq!(
        key.ok(expire(START_MS - 1_000, ExpireCondition::Always)),
        Outcome::Int(1)
    );
    assert_eq!(key.get(), None);
    let mut set = set_key(&["a", "b"]);
    assert_eq!(
        set.ok(expire(START_MS, ExpireCondition::Always)),
        Outcome::Int(1)
    );
    assert_eq!(set.kind(), None);
    assert!(set.object.validate().is_ok());
}

#[test]
fn an_expired_key_reads_absent_from_its_instant_on() {
    let mut key = Key::new();
    let at = START_MS + 100;
    key.ok(set_with("v", Condition::Always, Ttl::At(at), false));
    assert_eq!(
        key.object.read(at - 1).and_then(|v| v.as_string()),
        some("v")
    );
    assert_eq!(key.object.read(at), None);
    assert_eq!(key.object.read(at + 1), None);
    assert!(!key.object.exists(at));
    assert_eq!(key.object.expires_at(at), None);
}

#[test]
fn incr_on_an_expired_key_starts_fresh_without_ttl() {
    let mut key = Key::new();
    key.ok(incr(41));
    key.ok(expire(START_MS + 10, ExpireCondition::Always));
    key.advance(20);
    assert_eq!(key.get(), None);
    assert_eq!(key.ok(incr(1)), Outcome::Int(1));
    assert_eq!(key.ttl(), None);
    assert_eq!(key.get(), some("1"));

    let mut string = Key::new();
    string.ok(set_with(
        "10",
        Condition::Always,
        Ttl::At(START_MS + 5),
        false,
    ));
    string.advance(10);
    assert_eq!(string.ok(incr(1)), Outcome::Int(1));
    assert_eq!(string.ttl(), None);
}

#[test]
fn sadd_on_an_expired_key_starts_fresh_without_ttl() {
    let mut key = set_key(&["old"]);
    key.ok(expire(START_MS + 10, ExpireCondition::Always));
    key.advance(20);
    assert_eq!(key.ok(sadd(&["new"])), Outcome::Int(1));
    assert_eq!(key.members(), vec![b("new")]);
    assert_eq!(key.ttl(), None);

    let mut string = Key::new();
    string.ok(set_with(
        "s",
        Condition::Always,
        Ttl::At(START_MS + 5),
        false,
    ));
    string.advance(10);
    assert_eq!(string.ok(sadd(&["m"])), Outcome::Int(1));
    assert_eq!(string.kind(), Some(Kind::Set));
    assert_eq!(string.ttl(), None);
}

#[test]
fn hset_on_an_expired_hash_starts_fresh() {
    let mut key = Key::new();
    key.ok(hset(&[("old", "1")]));
    key.ok(expire(START_MS + 10, ExpireCondition::Always));
    key.advance(20);
    assert_eq!(key.ok(hset(&[("new", "2")])), Outcome::Int(1));
    assert_eq!(key.field("old"), None);
    assert_eq!(key.field("new"), some("2"));
    assert_eq!(key.ttl(), None);
}

// ---- Hashes ------------------------------------------------------------------------------

#[test]
fn hset_answers_the_number_of_new_fields() {
    let mut key = Key::new();
    assert_eq!(key.ok(hset(&[("a", "1"), ("b", "2")])), Outcome::Int(2));
    assert_eq!(key.ok(hset(&[("a", "9"), ("c", "3")])), Outcome::Int(1));
    assert_eq!(key.ok(hset(&[("d", "1"), ("d", "2")])), Outcome::Int(1));
    assert_eq!(key.field("a"), some("9"));
    assert_eq!(key.field("b"), some("2"));
    assert_eq!(key.field("c"), some("3"));
    assert_eq!(key.field("d"), some("2"));
    assert_eq!(key.kind(), Some(Kind::Hash));
}

#[test]
fn hsetnx_sets_only_an_absent_field() {
    let mut key = Key::new();
    let nx = |f: &str, v: &str| Op::HSet {
        fields: vec![(b(f), b(v))],
        if_absent: true,
    };
    assert_eq!(key.ok(nx("f", "1")), Outcome::Int(1));
    assert_eq!(key.ok(nx("f", "2")), Outcome::Int(0));
    assert_eq!(key.field("f"), some("1"));
}

#[test]
fn hdel_answers_the_number_removed_and_the_last_field_removes_the_key() {
    let mut key = Key::new();
    key.ok(hset(&[("a", "1"), ("b", "2"), ("c", "3")]));
    let hdel = |fields: &[&str]| Op::HDel {
        fields: fields.iter().map(|f| b(f)).collect(),
    };
    assert_eq!(key.ok(hdel(&["a", "b", "x"])), Outcome::Int(2));
    assert_eq!(key.field("a"), None);
    assert_eq!(key.field("c"), some("3"));
    assert_eq!(key.ok(hdel(&["c"])), Outcome::Int(1));
    assert_eq!(key.kind(), None);
    assert_eq!(Key::new().ok(hdel(&["c"])), Outcome::Int(0));
    assert_eq!(key_with("s").run(hdel(&["c"])), Err(OpError::WrongType));
}

#[test]
fn hincrby_adds_to_an_integer_field() {
    let mut key = Key::new();
    let hincr = |delta| Op::HIncrBy {
        field: b("f"),
        delta,
    };
    assert_eq!(key.ok(hincr(5)), Outcome::Int(5));
    assert_eq!(key.ok(hincr(-7)), Outcome::Int(-2));
    assert_eq!(key.field("f"), some("-2"));
}

#[test]
fn hincrby_on_a_non_integer_field_is_refused() {
    let mut key = Key::new();
    key.ok(hset(&[("f", "abc"), ("g", "1.5")]));
    let before = key.object.clone();
    for field in ["f", "g"] {
        let op = Op::HIncrBy {
            field: b(field),
            delta: 1,
        };
        assert_eq!(key.run(op), Err(OpError::HashNotInteger), "{field}");
    }
    assert_eq!(key.object, before);
}

#[test]
fn hincrby_overflow_is_refused() {
    let mut key = Key::new();
    key.ok(hset(&[("f", &i64::MAX.to_string())]));
    let op = Op::HIncrBy {
        field: b("f"),
        delta: 1,
    };
    assert_eq!(key.run(op), Err(OpError::Overflow));
    assert_eq!(key.field("f"), Some(Bytes::from(i64::MAX.to_string())));
}

#[test]
fn hincrbyfloat_adds_and_prints_like_redis() {
    let mut key = Key::new();
    key.ok(hset(&[("f", "10.5"), ("g", "abc")]));
    let op = |field: &str, delta| Op::HIncrByFloat {
        field: b(field),
        delta: Float(delta),
    };
    assert_eq!(key.ok(op("f", 0.1)), Outcome::Text(b("10.6")));
    assert_eq!(key.field("f"), some("10.6"));
    assert_eq!(key.run(op("g", 1.0)), Err(OpError::HashNotFloat));
}

#[test]
fn hash_ops_on_a_string_are_wrongtype() {
    let mut key = key_with("s");
    assert_eq!(key.run(hset(&[("f", "v")])), Err(OpError::WrongType));
    let op = Op::HIncrBy {
        field: b("f"),
        delta: 1,
    };
    assert_eq!(key.run(op), Err(OpError::WrongType));
    assert_eq!(key.get(), some("s"));
}

// ---- Sets --------------------------------------------------------------------------------

#[test]
fn sadd_and_srem_answer_how_many_changed() {
    let mut key = Key::new();
    assert_eq!(key.ok(sadd(&["a", "b", "c"])), Outcome::Int(3));
    assert_eq!(key.ok(sadd(&["a", "d", "d"])), Outcome::Int(1));
    assert_eq!(sorted(key.members()), vec![b("a"), b("b"), b("c"), b("d")]);
    assert_eq!(key.ok(srem(&["a", "x", "a"])), Outcome::Int(1));
    assert_eq!(key.ok(srem(&["x"])), Outcome::Int(0));
    assert_eq!(key.ok(srem(&["b", "c", "d"])), Outcome::Int(3));
    assert_eq!(key.kind(), None);
    assert_eq!(Key::new().ok(srem(&["a"])), Outcome::Int(0));
}

#[test]
fn set_ops_on_a_string_are_wrongtype() {
    let mut key = key_with("s");
    assert_eq!(key.run(sadd(&["a"])), Err(OpError::WrongType));
    assert_eq!(key.run(srem(&["a"])), Err(OpError::WrongType));
    let spop = Op::SPop { count: 1, seed: 7 };
    assert_eq!(key.run(spop), Err(OpError::WrongType));
    assert_eq!(key.get(), some("s"));
}

#[test]
fn spop_removes_exactly_the_members_it_returns() {
    let names: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut key = set_key(&all);
    let popped = match key.ok(Op::SPop { count: 3, seed: 42 }) {
        Outcome::Members(m) => m,
        other => panic!("SPOP answered {other:?}"),
    };
    assert_eq!(popped.len(), 3);
    let mut unique = popped.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "SPOP returned a member twice: {popped:?}");
    let left = key.members();
    assert_eq!(left.len(), 7);
    for member in &popped {
        assert!(!left.contains(member), "{member:?} popped but still there");
    }
    let mut union = left;
    union.extend(popped);
    assert_eq!(sorted(union), sorted(all.iter().map(|m| b(m)).collect()));
}

#[test]
fn spop_is_deterministic_for_a_seed() {
    let run = |seed| {
        let mut key = set_key(&["a", "b", "c", "d", "e", "f"]);
        let outcome = key.ok(Op::SPop { count: 2, seed });
        (outcome, key.object)
    };
    assert_eq!(run(5), run(5));
    let different = (0..20).any(|seed| run(seed).0 != run(5).0);
    assert!(different, "the seed never changed the choice");
}

#[test]
fn spop_of_more_than_the_set_empties_it() {
    let mut key = set_key(&["a", "b"]);
    match key.ok(Op::SPop { count: 5, seed: 1 }) {
        Outcome::Members(m) => assert_eq!(sorted(m), vec![b("a"), b("b")]),
        other => panic!("SPOP answered {other:?}"),
    }
    assert_eq!(key.kind(), None);
    assert_eq!(
        key.ok(Op::SPop { count: 1, seed: 1 }),
        Outcome::Members(Vec::new())
    );
    assert_eq!(
        key.ok(Op::SPop { count: 0, seed: 1 }),
        Outcome::Members(Vec::new())
    );
}

// ---- Replace (RENAME's destination) ------------------------------------------------------

fn replace(value: Plain, expires_at_ms: Option<u64>, if_absent: bool) -> Op {
    Op::Replace {
        value,
        expires_at_ms,
        if_absent,
    }
}

#[test]
fn replace_writes_each_plain_type_over_any_other() {
    let at = START_MS + 10_000;
    let mut key = set_key(&["old"]);
    let s = Plain::Str(b("s"));
    assert_eq!(key.ok(replace(s, None, false)), Outcome::Int(1));
    assert_eq!(key.get(), some("s"));

    let members = Plain::Set(vec![b("x"), b("y")]);
    assert_eq!(key.ok(replace(members, Some(at), false)), Outcome::Int(1));
    assert_eq!(sorted(key.members()), vec![b("x"), b("y")]);
    assert_eq!(key.ttl(), Some(at));

    let fields = Plain::Hash(vec![(b("f"), b("1")), (b("g"), b("2"))]);
    assert_eq!(key.ok(replace(fields, None, false)), Outcome::Int(1));
    assert_eq!(key.kind(), Some(Kind::Hash));
    assert_eq!(key.field("f"), some("1"));
    assert_eq!(key.field("g"), some("2"));
    assert_eq!(key.ttl(), None);

    let mut counter = Key::new();
    counter.ok(incr(5));
    let s = Plain::Str(b("t"));
    assert_eq!(counter.ok(replace(s, None, false)), Outcome::Int(1));
    assert_eq!(counter.get(), some("t"));
    assert!(counter.object.validate().is_ok());
}

#[test]
fn replace_drops_what_the_same_type_held() {
    let mut set = set_key(&["old"]);
    let members = Plain::Set(vec![b("new")]);
    set.ok(replace(members, None, false));
    assert_eq!(set.members(), vec![b("new")]);

    let mut hash = Key::new();
    hash.ok(hset(&[("old", "1")]));
    hash.ok(replace(Plain::Hash(vec![(b("new"), b("2"))]), None, false));
    assert_eq!(hash.field("old"), None);
    assert_eq!(hash.field("new"), some("2"));
}

#[test]
fn replace_if_absent_leaves_an_existing_key() {
    let mut key = key_with("keep");
    let s = Plain::Str(b("new"));
    assert_eq!(key.ok(replace(s.clone(), None, true)), Outcome::Int(0));
    assert_eq!(key.get(), some("keep"));
    let mut absent = Key::new();
    assert_eq!(absent.ok(replace(s, None, true)), Outcome::Int(1));
    assert_eq!(absent.get(), some("new"));
}

#[test]
fn plain_of_reads_back_what_replace_wrote() {
    let mut key = Key::new();
    let fields = Plain::Hash(vec![(b("f"), b("1")), (b("g"), b("2"))]);
    key.ok(replace(fields.clone(), None, false));
    assert_eq!(Plain::of(&key.object, key.now), Some(fields));
    let mut counter = Key::new();
    counter.ok(incr(12));
    assert_eq!(
        Plain::of(&counter.object, counter.now),
        Some(Plain::Str(b("12")))
    );
}

// ---- Concurrent type conversion ----------------------------------------------------------

#[test]
fn concurrent_conversions_of_one_string_sum_both_increments() {
    let mut one = Key::on(NodeId(1));
    one.ok(Op::set(b("10")));
    let mut two = Key::on(NodeId(2));
    two.object = one.object.clone();
    two.now = one.now;

    assert_eq!(one.ok(incr(1)), Outcome::Int(11));
    assert_eq!(two.ok(incr(1)), Outcome::Int(11));

    let merged = one.object.merge(&two.object);
    assert_eq!(merged, two.object.merge(&one.object));
    assert!(merged.validate().is_ok());
    let read = merged.read(one.now);
    assert_eq!(read, Some(Value::Counter(Number::Int(12))));
    assert_eq!(read.and_then(|v| v.as_string()), some("12"));
}

#[test]
fn concurrent_float_conversions_of_one_string_sum_both_increments() {
    let mut one = Key::on(NodeId(1));
    one.ok(Op::set(b("10.5")));
    let mut two = Key::on(NodeId(2));
    two.object = one.object.clone();
    two.now = one.now;
    one.ok(incr_float(0.25));
    two.ok(incr_float(0.25));
    let merged = one.object.merge(&two.object);
    assert_eq!(merged.read(one.now).and_then(|v| v.as_string()), some("11"));
}

#[test]
fn siblings_beyond_the_bound_drop_the_oldest_and_the_key_stays_usable() {
    let mut object = Object::new();
    let total = kvorum_consistency::object::MAX_SIBLINGS + 100;
    for i in 0..total {
        // SETCTX with an empty context: every write is concurrent with all the others.
        let op = Op::SetSeen {
            value: Bytes::from(format!("v{i}")),
            seen: VersionVector::new(),
        };
        let ts = Timestamp {
            physical_ms: 1_000 + i as u64,
            logical: 0,
        };
        let Ok(applied) = apply(&op, &object, NodeId(1 + (i % 3) as u64), ts) else {
            panic!("write {i} refused");
        };
        object = applied.object;
    }
    assert_eq!(
        object.siblings().len(),
        kvorum_consistency::object::MAX_SIBLINGS
    );
    assert_eq!(object.validate(), Ok(()));
    assert_eq!(
        object.value(),
        Some(&Bytes::from(format!("v{}", total - 1)))
    );
    // A replica still holding a dropped sibling does not bring it back.
    let merged = object.merge(&object.clone());
    assert_eq!(merged.validate(), Ok(()));
    assert!(merged.siblings().iter().all(|s| s.value != some("v0")));
}

#[test]
fn expire_xx_lt_needs_a_ttl_and_an_earlier_instant() {
    let condition = ExpireCondition::IfSomeAndEarlier;
    let mut key = key_with("v");
    assert_eq!(key.ok(expire(START_MS + 5_000, condition)), Outcome::Int(0));
    key.ok(expire(START_MS + 9_000, ExpireCondition::Always));
    assert_eq!(key.ok(expire(START_MS + 9_500, condition)), Outcome::Int(0));
    assert_eq!(key.ok(expire(START_MS + 5_000, condition)), Outcome::Int(1));
}
