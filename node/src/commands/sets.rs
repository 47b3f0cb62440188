//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SRANDMEMBER, SPOP, SMOVE,
//! SINTER, SUNION, SDIFF, SINTERCARD, SSCAN — and the random draws that SRANDMEMBER and
//! HRANDFIELD share.
//!
//! A set is an add-wins observed-remove set: `SREM` removes the additions its coordinator had
//! seen, so an `SADD` of the same member made concurrently elsewhere survives it. Writes are
//! typed ops applied on the coordinating replica (`WRONGTYPE` there for a key of another type,
//! nothing changed); reads fetch the merged set and answer from it at this node's clock.
//!
//! Commands over several keys (`SINTER`, `SUNION`, `SDIFF`, `SINTERCARD`) read every key
//! concurrently and combine what they saw: each key is read at the connection's consistency,
//! but not at one instant across keys. `SMOVE` is two writes on two keys, **not atomic**:
//! `SREM` from the source and, only if that removed the member, `SADD` to the destination; a
//! failure in between is reported as such (see docs/REDIS.md). `SPOP` draws its members on
//! the coordinating replica from a seed chosen here at random.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use kvorum_consistency::crdt::entries::SetEntries;
use kvorum_consistency::object::MAX_ENTRIES;
use kvorum_consistency::{Command, Op, Outcome as OpOutcome};
use kvorum_resp::Frame;

use super::hashes::{parse_cursor, scan_page, scan_reply, ScanOptions};
use super::reply::{done, error_of, Done};
use super::strings::integer_outcome;
use super::view;
use super::{
    int_arg, is, requests, single, spec, steps, syntax_error, CommandSpec, Ctx, Keys, Outcome,
};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), sadd),
    spec("srem", -3, &["write", "fast"], (1, 1, 1), srem),
    spec("smembers", 2, &["readonly"], (1, 1, 1), smembers),
    spec("sismember", 3, &["readonly", "fast"], (1, 1, 1), sismember),
    spec(
        "smismember",
        -3,
        &["readonly", "fast"],
        (1, 1, 1),
        smismember,
    ),
    spec("scard", 2, &["readonly", "fast"], (1, 1, 1), scard),
    spec("srandmember", -2, &["readonly"], (1, 1, 1), srandmember),
    spec("spop", -2, &["write", "fast"], (1, 1, 1), spop),
    spec("smove", 4, &["write", "fast"], (1, 2, 1), smove),
    spec("sinter", -2, &["readonly"], (1, -1, 1), sinter),
    spec("sunion", -2, &["readonly"], (1, -1, 1), sunion),
    spec("sdiff", -2, &["readonly"], (1, -1, 1), sdiff),
    // The keys follow `numkeys` (movable, as Redis reports it); `keys_of` finds them.
    spec(
        "sintercard",
        -3,
        &["readonly", "movablekeys"],
        (0, 0, 0),
        sintercard,
    )
    .movable(sintercard_keys),
    spec("sscan", -3, &["readonly"], (1, 1, 1), sscan),
];

/// `SINTERCARD numkeys key... [LIMIT n]`: the `numkeys` arguments after the count.
fn sintercard_keys(args: &[Bytes]) -> Keys<'_> {
    let count = args
        .get(1)
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    Box::new(args.iter().skip(2).take(count))
}

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::SAdd {
        members: args[2..].to_vec(),
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::SRem {
        members: args[2..].to_vec(),
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

/// Runs a read of the set at `key` and answers from its view (`None`: no such key); a key of
/// another type answers WRONGTYPE.
fn read_set(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    answer: impl FnOnce(Option<&SetEntries>) -> Frame + Send + 'static,
) -> Outcome {
    single(ctx, key, Command::Get, move |d| {
        let object = view::object(d);
        match view::set(&object) {
            Ok(set) => answer(set),
            Err(e) => e,
        }
    })
}

/// `SMEMBERS`: a set in RESP3, an array in RESP2.
pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_set(ctx, &args[1], |set| {
        Frame::set(members_of(set).map(|m| Frame::bulk(m.clone())).collect())
    })
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let member = args[2].clone();
    read_set(ctx, &args[1], move |set| {
        Frame::integer(i64::from(set.is_some_and(|s| s.contains(&member))))
    })
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let members = args[2..].to_vec();
    read_set(ctx, &args[1], move |set| {
        let answers = members
            .iter()
            .map(|m| Frame::integer(i64::from(set.is_some_and(|s| s.contains(m)))));
        Frame::array(answers.collect())
    })
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_set(ctx, &args[1], |set| {
        Frame::integer(set.map_or(0, |s| s.len() as i64))
    })
}

/// `SRANDMEMBER key [count]`: without a count one member (nil for no key); with a positive
/// count up to that many distinct members, with a negative one exactly that many, repeats
/// allowed.
pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let count = match args {
        [_, _] => None,
        [_, _, count] => match parse_draw_count(count).and_then(Draw::of_count) {
            Ok(draw) => Some(draw),
            Err(e) => return e.into(),
        },
        _ => return syntax_error().into(),
    };
    read_set(ctx, &args[1], move |set| {
        let members: Vec<&Bytes> = members_of(set).collect();
        let picked = draw(members.len(), count.unwrap_or(Draw::One));
        let mut picked = picked.into_iter().filter_map(|i| members.get(i).copied());
        match count {
            None => picked
                .next()
                .cloned()
                .map(Frame::bulk)
                .unwrap_or_else(Frame::null),
            Some(_) => Frame::array(picked.map(|m| Frame::bulk(m.clone())).collect()),
        }
    })
}

/// `SPOP key [count]`: removes and returns random members — one (nil for no key), or up to
/// `count` as a set.
pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let count = match args {
        [_, _] => None,
        [_, _, count] => match int_arg(count) {
            Ok(n) if n >= 0 => Some(n as u64),
            Ok(_) => {
                return Frame::error("ERR value is out of range, must be positive").into();
            }
            Err(e) => return e.into(),
        },
        _ => return syntax_error().into(),
    };
    let op = Op::SPop {
        count: count.unwrap_or(1),
        seed: random_seed(),
    };
    single(ctx, &args[1], Command::Write(op), move |d| {
        let popped = match d {
            Done::Written(OpOutcome::Members(members)) => members,
            _ => Vec::new(),
        };
        match count {
            None => popped
                .into_iter()
                .next()
                .map(Frame::bulk)
                .unwrap_or_else(Frame::null),
            Some(_) => Frame::set(popped.into_iter().map(Frame::bulk).collect()),
        }
    })
}

/// `SMOVE source destination member`: 1 if the member was moved, 0 if the source did not
/// hold it. Reads both keys first (for Redis's answers: 0 for no source, WRONGTYPE for a
/// source or a destination that is not a set), then removes from the source and adds to the
/// destination.
pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (src, dst, member) = (args[1].clone(), args[2].clone(), args[3].clone());
    steps(ctx, move |s| async move {
        if let Some(e) = [&src, &dst].iter().find_map(|k| s.check_key(k).err()) {
            return e;
        }
        let timeout_ms = s.timeout_ms();
        let (src_read, dst_read) = (s.submit(&src, Command::Get), s.submit(&dst, Command::Get));
        let src_object = match done(src_read.await, timeout_ms) {
            Ok(d) => view::object(d),
            Err(e) => return e,
        };
        let dst_object = match done(dst_read.await, timeout_ms) {
            Ok(d) => view::object(d),
            Err(e) => return e,
        };
        let holds_member = match view::set(&src_object) {
            Ok(Some(set)) => set.contains(&member),
            Ok(None) => return Frame::integer(0),
            Err(e) => return e,
        };
        if let Err(e) = view::set(&dst_object) {
            return e;
        }
        if src == dst {
            return Frame::integer(i64::from(holds_member));
        }
        let removal = Op::SRem {
            members: vec![member.clone()],
        };
        match done(s.submit(&src, Command::Write(removal)).await, timeout_ms) {
            Ok(Done::Written(OpOutcome::Int(1))) => {}
            Ok(_) => return Frame::integer(0),
            Err(e) => return e,
        }
        let addition = Op::SAdd {
            members: vec![member],
        };
        let added = s.submit(&dst, Command::Write(addition)).await;
        if let Some(e) = error_of(&added, timeout_ms) {
            let reason = e
                .as_bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            return Frame::error(format!(
                "ERR SMOVE partially applied: the member was removed from the source but not \
                 added to the destination: {reason}"
            ));
        }
        Frame::integer(1)
    })
}

pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_sets(ctx, &args[1..], |sets| {
        members_frame(intersection(&sets, usize::MAX))
    })
}

pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_sets(ctx, &args[1..], |sets| {
        let union: BTreeSet<&Bytes> = sets.iter().flat_map(|s| members_of(*s)).collect();
        members_frame(union.into_iter())
    })
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_sets(ctx, &args[1..], |sets| {
        let (first, others) = match sets.split_first() {
            Some((first, others)) => (*first, others),
            None => (None, &[][..]),
        };
        let rest: Vec<&SetEntries> = others.iter().flatten().copied().collect();
        let diff = members_of(first).filter(|m| !rest.iter().any(|s| s.contains(m)));
        members_frame(diff)
    })
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting
/// stops at `limit` (0: no limit).
pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let numkeys = match int_arg(&args[1]) {
        Ok(n) if n >= 1 => n,
        _ => return Frame::error("ERR numkeys should be greater than 0").into(),
    };
    let available = args.len() - 2;
    let numkeys = match usize::try_from(numkeys) {
        Ok(n) if n <= available => n,
        _ => return Frame::error("ERR Number of keys can't be greater than number of args").into(),
    };
    let mut limit = 0;
    let mut options = args[2 + numkeys..].iter();
    while let Some(option) = options.next() {
        match options.next() {
            Some(value) if is(option, "LIMIT") => match int_arg(value) {
                Ok(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Frame::error("ERR LIMIT can't be negative").into(),
            },
            _ => return syntax_error().into(),
        }
    }
    let limit = if limit == 0 { usize::MAX } else { limit };
    read_sets(ctx, &args[2..2 + numkeys], move |sets| {
        Frame::integer(intersection(&sets, limit).count() as i64)
    })
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`.
pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (cursor, options) = match parse_cursor(&args[2])
        .and_then(|c| Ok((c, ScanOptions::parse(&args[3..], false)?)))
    {
        Ok(parsed) => parsed,
        Err(e) => return e.into(),
    };
    read_set(ctx, &args[1], move |set| {
        let (next, page) = scan_page(members_of(set), |m| m, cursor, options.count);
        let items = page
            .into_iter()
            .filter(|m| options.matches(m))
            .map(|m| Frame::bulk(m.clone()));
        scan_reply(next, items.collect())
    })
}

/// Reads every key concurrently and answers from their views (`None`: no such key); the first
/// failed read answers its error, a key of another type WRONGTYPE.
fn read_sets(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    answer: impl FnOnce(Vec<Option<&SetEntries>>) -> Frame + Send + 'static,
) -> Outcome {
    requests(
        ctx,
        keys.iter().map(|k| (k, Command::Get)),
        move |replies, timeout_ms| {
            let mut objects = Vec::with_capacity(replies.len());
            for reply in replies {
                match done(reply, timeout_ms) {
                    Ok(d) => objects.push(view::object(d)),
                    Err(e) => return e,
                }
            }
            match objects.iter().map(view::set).collect() {
                Ok(sets) => answer(sets),
                Err(e) => e,
            }
        },
    )
}

/// The members in every set (none if a key is missing), in member order, at most `limit`.
fn intersection<'a>(
    sets: &[Option<&'a SetEntries>],
    limit: usize,
) -> impl Iterator<Item = &'a Bytes> {
    let all: Option<Vec<&SetEntries>> = sets.iter().copied().collect();
    let all = all.unwrap_or_default();
    let smallest = all.iter().copied().min_by_key(|s| s.len());
    members_of(smallest)
        .filter(move |m| all.iter().all(|s| s.contains(m)))
        .take(limit)
}

/// A set's members in member order (none for no set).
fn members_of(set: Option<&SetEntries>) -> impl Iterator<Item = &Bytes> {
    set.into_iter().flat_map(|s| s.iter()).map(|e| &e.key)
}

fn members_frame<'a>(members: impl Iterator<Item = &'a Bytes>) -> Frame {
    Frame::set(members.map(|m| Frame::bulk(m.clone())).collect())
}

// ---------------------------------------------------------------------------------------------
// Random draws, shared by SRANDMEMBER and HRANDFIELD; SPOP's seed.

/// What to draw from a set's members or a hash's fields.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Draw {
    /// One, at random (no count given).
    One,
    /// Up to this many distinct ones (a positive count).
    Distinct(usize),
    /// Exactly this many, each drawn independently so repeats happen (a negative count).
    Repeated(usize),
}

impl Draw {
    /// The draw a count argument asks for. A negative count makes a reply of exactly that
    /// many elements whatever the key holds, so it is bounded by the most elements a set or
    /// hash may hold.
    pub(crate) fn of_count(count: i64) -> Result<Draw, Frame> {
        if count >= 0 {
            return Ok(Draw::Distinct(usize::try_from(count).unwrap_or(usize::MAX)));
        }
        match usize::try_from(count.unsigned_abs()) {
            Ok(n) if n <= MAX_ENTRIES => Ok(Draw::Repeated(n)),
            _ => Err(Frame::error(format!(
                "ERR count is out of range: a reply holds at most {MAX_ENTRIES} elements"
            ))),
        }
    }
}

/// A count argument of SRANDMEMBER or HRANDFIELD: any integer but the one whose negation
/// does not fit (Redis's range and error).
pub(crate) fn parse_draw_count(arg: &[u8]) -> Result<i64, Frame> {
    match int_arg(arg)? {
        i64::MIN => Err(Frame::error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        ))),
        n => Ok(n),
    }
}

/// Indexes into `len` elements, drawn as asked: distinct ones in random order (all of them,
/// in order, when asked for at least as many as there are), or independent draws.
pub(crate) fn draw(len: usize, what: Draw) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new();
    match what {
        Draw::One => vec![rng.below(len)],
        Draw::Repeated(n) => (0..n).map(|_| rng.below(len)).collect(),
        Draw::Distinct(n) if n >= len => (0..len).collect(),
        Draw::Distinct(n) => {
            // A partial Fisher-Yates shuffle: the first n places end up a uniform sample.
            let mut pool: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let j = i + rng.below(len - i);
                pool.swap(i, j);
            }
            pool.truncate(n);
            pool
        }
    }
}

/// A seed that differs from call to call and from node to node: the process's random hasher
/// keys over a counter and the time.
pub(crate) fn random_seed() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::hash::RandomState::new().hash_one((call, nanos))
}

/// xorshift64*: small and fast; picking reply elements needs no more.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        Rng(random_seed() | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_draws_have_no_repeats_and_stay_in_range() {
        for (len, n) in [(10, 3), (10, 10), (10, 20), (1, 1), (5, 0)] {
            let picked = draw(len, Draw::Distinct(n));
            assert_eq!(picked.len(), n.min(len));
            let unique: BTreeSet<usize> = picked.iter().copied().collect();
            assert_eq!(unique.len(), picked.len());
            assert!(picked.iter().all(|&i| i < len));
        }
        assert!(draw(0, Draw::Distinct(3)).is_empty());
    }

    #[test]
    fn repeated_draws_have_exactly_the_count_asked() {
        let picked = draw(2, Draw::Repeated(50));
        assert_eq!(picked.len(), 50);
        assert!(picked.iter().all(|&i| i < 2));
        // 50 draws out of 2: both show up (the chance they do not is 2^-49).
        assert!(picked.contains(&0) && picked.contains(&1));
        assert!(draw(0, Draw::Repeated(5)).is_empty());
        assert_eq!(draw(3, Draw::One).len(), 1);
    }

    #[test]
    fn counts_map_to_draws_within_limits() {
        assert_eq!(Draw::of_count(3), Ok(Draw::Distinct(3)));
        assert_eq!(Draw::of_count(-3), Ok(Draw::Repeated(3)));
        assert!(Draw::of_count(-(MAX_ENTRIES as i64) - 1).is_err());
        assert!(parse_draw_count(b"-9223372036854775808").is_err());
        assert_eq!(parse_draw_count(b"-9223372036854775807"), Ok(-i64::MAX));
    }

    #[test]
    fn seeds_differ_between_calls() {
        assert_ne!(random_seed(), random_seed());
    }
}
