//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HGETALL, HKEYS, HVALS, HLEN,
//! HEXISTS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN — and the cursor scans over one
//! key's entries that HSCAN and SSCAN share.
//!
//! A hash is an observed-remove map of registers: `HSET` through two nodes at once keeps both
//! versions of the field and every read takes the one with the highest hybrid-logical-clock
//! timestamp; `HDEL` removes the versions its coordinator had seen, so a concurrent `HSET` of the
//! same field survives it. Writes are typed ops applied on the coordinating replica (a hash write
//! on a string key is refused there with `WRONGTYPE`, nothing changed); reads fetch the merged
//! hash and answer from it at this node's clock.
//!
//! ## Cursor scans
//!
//! `HSCAN`/`SSCAN` visit entries in the order of a fixed 64-bit hash of their name
//! ([`scan_position`]); the cursor is the position to resume from. Positions do not depend on
//! what else the hash holds, so — as Redis promises — an entry present for the whole scan is
//! returned at least once even when others are added or removed between calls (the common "scan
//! and delete what matched" loop works), and the same cursor is understood by every node. An
//! entry may be returned twice only if its position collides with the page boundary's.

use bytes::Bytes;
use kvorum_consistency::crdt::counter::Float;
use kvorum_consistency::crdt::entries::{field_winner, HashEntries};
use kvorum_consistency::{Command, Op, Outcome as OpOutcome};
use kvorum_resp::{Frame, Protocol};

use super::pattern::glob_match;
use super::reply::Done;
use super::sets::{draw, parse_draw_count, Draw};
use super::strings::integer_outcome;
use super::view;
use super::{
    float_arg, int_arg, is, single, spec, syntax_error, wrong_arity, CommandSpec, Ctx, Outcome,
};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, &["write", "denyoom", "fast"], (1, 1, 1), hset),
    spec(
        "hsetnx",
        4,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        hsetnx,
    ),
    spec("hmset", -4, &["write", "denyoom", "fast"], (1, 1, 1), hmset),
    spec("hget", 3, &["readonly", "fast"], (1, 1, 1), hget),
    spec("hmget", -3, &["readonly", "fast"], (1, 1, 1), hmget),
    spec("hdel", -3, &["write", "fast"], (1, 1, 1), hdel),
    spec("hgetall", 2, &["readonly"], (1, 1, 1), hgetall),
    spec("hkeys", 2, &["readonly"], (1, 1, 1), hkeys),
    spec("hvals", 2, &["readonly"], (1, 1, 1), hvals),
    spec("hlen", 2, &["readonly", "fast"], (1, 1, 1), hlen),
    spec("hexists", 3, &["readonly", "fast"], (1, 1, 1), hexists),
    spec("hstrlen", 3, &["readonly", "fast"], (1, 1, 1), hstrlen),
    spec(
        "hincrby",
        4,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        hincrby,
    ),
    spec(
        "hincrbyfloat",
        4,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        hincrbyfloat,
    ),
    spec("hrandfield", -2, &["readonly"], (1, 1, 1), hrandfield),
    spec("hscan", -3, &["readonly"], (1, 1, 1), hscan),
];

/// `HSET key field value [field value ...]`: the number of fields added.
pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match field_pairs(args, "hset") {
        Ok(fields) => single(ctx, &args[1], write_fields(fields, false), integer_outcome),
        Err(e) => e.into(),
    }
}

/// `HMSET key field value [field value ...]`: `HSET` that answers OK.
pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match field_pairs(args, "hmset") {
        Ok(fields) => single(ctx, &args[1], write_fields(fields, false), |_| Frame::ok()),
        Err(e) => e.into(),
    }
}

/// `HSETNX key field value`: 1 if the field was set, 0 if it already existed.
pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let fields = vec![(args[2].clone(), args[3].clone())];
    single(ctx, &args[1], write_fields(fields, true), integer_outcome)
}

fn write_fields(fields: Vec<(Bytes, Bytes)>, if_absent: bool) -> Command {
    Command::Write(Op::HSet { fields, if_absent })
}

/// The `field value` pairs after the key; Redis's arity error when one is incomplete.
fn field_pairs(args: &[Bytes], name: &str) -> Result<Vec<(Bytes, Bytes)>, Frame> {
    let pairs = &args[2..];
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(wrong_arity(name));
    }
    Ok(pairs
        .chunks_exact(2)
        .map(|fv| (fv[0].clone(), fv[1].clone()))
        .collect())
}

/// Runs a read of the hash at `key` and answers from its view (`None`: no such key); a key of
/// another type answers WRONGTYPE.
fn read_hash(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    answer: impl FnOnce(Option<&HashEntries>) -> Frame + Send + 'static,
) -> Outcome {
    single(ctx, key, Command::Get, move |d| {
        let object = view::object(d);
        match view::hash(&object) {
            Ok(hash) => answer(hash),
            Err(e) => e,
        }
    })
}

pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let field = args[2].clone();
    read_hash(ctx, &args[1], move |hash| {
        bulk_or_null(hash.and_then(|h| h.value(&field)))
    })
}

pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let fields = args[2..].to_vec();
    read_hash(ctx, &args[1], move |hash| {
        let values = fields
            .iter()
            .map(|f| bulk_or_null(hash.and_then(|h| h.value(f))));
        Frame::array(values.collect())
    })
}

pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let op = Op::HDel {
        fields: args[2..].to_vec(),
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

/// `HGETALL`: a map in RESP3, a flat `field value ...` array in RESP2.
pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_hash(ctx, &args[1], |hash| {
        let pairs = fields_of(hash).map(|(f, v)| (Frame::bulk(f.clone()), Frame::bulk(v.clone())));
        Frame::map(pairs.collect())
    })
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_hash(ctx, &args[1], |hash| {
        Frame::array(
            fields_of(hash)
                .map(|(f, _)| Frame::bulk(f.clone()))
                .collect(),
        )
    })
}

pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_hash(ctx, &args[1], |hash| {
        Frame::array(
            fields_of(hash)
                .map(|(_, v)| Frame::bulk(v.clone()))
                .collect(),
        )
    })
}

pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    read_hash(ctx, &args[1], |hash| {
        Frame::integer(hash.map_or(0, |h| h.len() as i64))
    })
}

pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let field = args[2].clone();
    read_hash(ctx, &args[1], move |hash| {
        Frame::integer(i64::from(hash.is_some_and(|h| h.contains(&field))))
    })
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let field = args[2].clone();
    read_hash(ctx, &args[1], move |hash| {
        let len = hash.and_then(|h| h.value(&field)).map_or(0, |v| v.len());
        Frame::integer(len as i64)
    })
}

pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let delta = match int_arg(&args[3]) {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    let op = Op::HIncrBy {
        field: args[2].clone(),
        delta,
    };
    single(ctx, &args[1], Command::Write(op), integer_outcome)
}

/// `HINCRBYFLOAT`: answers the new value as a bulk string (as Redis does, also in RESP3).
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    // Unlike INCRBYFLOAT, Redis refuses an infinite increment itself here.
    let delta = match float_arg(&args[3]) {
        Ok(d) if d.is_finite() => Float(d),
        Ok(_) => return Frame::error("ERR value is NaN or Infinity").into(),
        Err(e) => return e.into(),
    };
    let op = Op::HIncrByFloat {
        field: args[2].clone(),
        delta,
    };
    single(ctx, &args[1], Command::Write(op), |d| match d {
        Done::Written(OpOutcome::Text(text)) => Frame::bulk(text),
        _ => Frame::null(),
    })
}

/// `HRANDFIELD key [count [WITHVALUES]]`: without a count one field (nil for no key); with a
/// positive count up to that many distinct fields, with a negative one exactly that many,
/// repeats allowed. `WITHVALUES` pairs each field with its value: `[field, value]` arrays in
/// RESP3, a flat array in RESP2.
pub fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let count = match args.get(2).map(|arg| parse_draw_count(arg)).transpose() {
        Ok(count) => count,
        Err(e) => return e.into(),
    };
    let with_values = match &args[2.min(args.len())..] {
        [] | [_] => false,
        [_, option] if is(option, "WITHVALUES") => true,
        _ => return syntax_error().into(),
    };
    if with_values && count.is_some_and(|n| n.unsigned_abs() > (i64::MAX / 2) as u64) {
        return Frame::error("ERR value is out of range").into();
    }
    let count = match count.map(Draw::of_count).transpose() {
        Ok(count) => count,
        Err(e) => return e.into(),
    };
    let pairs = ctx.session.protocol == Protocol::Resp3;
    read_hash(ctx, &args[1], move |hash| {
        let fields: Vec<(&Bytes, &Bytes)> = fields_of(hash).collect();
        let picked = draw(fields.len(), count.unwrap_or(Draw::One));
        let mut picked = picked.into_iter().filter_map(|i| fields.get(i));
        if count.is_none() {
            return bulk_or_null(picked.next().map(|(field, _)| *field));
        }
        let mut items = Vec::new();
        for (field, value) in picked {
            let (field, value) = (Frame::bulk((*field).clone()), Frame::bulk((*value).clone()));
            match (with_values, pairs) {
                (false, _) => items.push(field),
                (true, true) => items.push(Frame::array(vec![field, value])),
                (true, false) => items.extend([field, value]),
            }
        }
        Frame::array(items)
    })
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]`.
pub fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (cursor, options) =
        match parse_cursor(&args[2]).and_then(|c| Ok((c, ScanOptions::parse(&args[3..], true)?))) {
            Ok(parsed) => parsed,
            Err(e) => return e.into(),
        };
    read_hash(ctx, &args[1], move |hash| {
        let (next, page) = scan_page(fields_of(hash), |(f, _)| f, cursor, options.count);
        let mut items = Vec::new();
        for (field, value) in page.into_iter().filter(|(f, _)| options.matches(f)) {
            items.push(Frame::bulk(field.clone()));
            if !options.novalues {
                items.push(Frame::bulk(value.clone()));
            }
        }
        scan_reply(next, items)
    })
}

/// A hash's fields with the value a read sees, in field order (none for no hash).
fn fields_of(hash: Option<&HashEntries>) -> impl Iterator<Item = (&Bytes, &Bytes)> {
    hash.into_iter()
        .flat_map(|h| h.iter())
        .filter_map(|e| field_winner(e).map(|v| (&e.key, v)))
}

fn bulk_or_null(value: Option<&Bytes>) -> Frame {
    value.cloned().map(Frame::bulk).unwrap_or_else(Frame::null)
}

// ---------------------------------------------------------------------------------------------
// Cursor scans over one key's entries, shared by HSCAN and SSCAN.

/// How many entries a scan page examines when the client gives no `COUNT` (Redis's default).
pub(crate) const DEFAULT_SCAN_COUNT: usize = 10;

/// The options of a cursor scan: `[MATCH pattern] [COUNT count] [NOVALUES]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScanOptions {
    /// Only entries whose name matches this glob pattern are returned (`None`: all).
    pub pattern: Option<Bytes>,
    /// How many entries one page examines (before `MATCH` filters them).
    pub count: usize,
    /// `HSCAN ... NOVALUES`: fields only.
    pub novalues: bool,
}

impl ScanOptions {
    /// Parses the options after the cursor, with Redis's errors; `NOVALUES` only where allowed
    /// (`HSCAN`).
    pub(crate) fn parse(options: &[Bytes], novalues_allowed: bool) -> Result<Self, Frame> {
        let mut parsed = ScanOptions {
            pattern: None,
            count: DEFAULT_SCAN_COUNT,
            novalues: false,
        };
        let mut rest = options.iter();
        while let Some(option) = rest.next() {
            if is(option, "COUNT") {
                let count = int_arg(rest.next().ok_or_else(syntax_error)?)?;
                if count < 1 {
                    return Err(syntax_error());
                }
                parsed.count = usize::try_from(count).unwrap_or(usize::MAX);
            } else if is(option, "MATCH") {
                let pattern = rest.next().ok_or_else(syntax_error)?;
                // `*` alone matches everything: skip the matching altogether.
                parsed.pattern = (pattern.as_ref() != b"*").then(|| pattern.clone());
            } else if is(option, "NOVALUES") {
                if !novalues_allowed {
                    return Err(Frame::error(
                        "ERR NOVALUES option can only be used in HSCAN",
                    ));
                }
                parsed.novalues = true;
            } else {
                return Err(syntax_error());
            }
        }
        Ok(parsed)
    }

    /// Whether an entry's name passes `MATCH`.
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|pattern| glob_match(pattern, name))
    }
}

/// A scan cursor argument: an unsigned decimal number.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Frame> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Frame::error("ERR invalid cursor"))
}

/// The reply of a scan page: `[next cursor, [items...]]` (cursor "0": the scan is complete).
pub(crate) fn scan_reply(next: u64, items: Vec<Frame>) -> Frame {
    Frame::array(vec![
        Frame::bulk(Bytes::from(next.to_string())),
        Frame::array(items),
    ])
}

/// Where an entry named `name` sits in every scan: a fixed hash of the name (FNV-1a, then a
/// 64-bit finalizer to spread similar names), never 0 so that cursor 0 means "from the start".
/// It must not change between releases: cursors outlive the node that issued them.
pub(crate) fn scan_position(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h.max(1)
}

/// One page of a cursor scan: the entries at positions from `cursor` on, at most `count` of
/// them (more only if positions collide at the page's end), in position order, and the cursor
/// of the next page (0: none).
pub(crate) fn scan_page<T>(
    items: impl IntoIterator<Item = T>,
    name: impl Fn(&T) -> &[u8],
    cursor: u64,
    count: usize,
) -> (u64, Vec<T>) {
    let count = count.max(1);
    let mut ahead: Vec<(u64, T)> = items
        .into_iter()
        .map(|item| (scan_position(name(&item)), item))
        .filter(|(position, _)| *position >= cursor)
        .collect();
    if ahead.len() <= count {
        ahead.sort_unstable_by_key(|(position, _)| *position);
        return (0, ahead.into_iter().map(|(_, item)| item).collect());
    }
    // The first position not on this page: everything before it is.
    ahead.select_nth_unstable_by_key(count, |(position, _)| *position);
    let boundary = ahead[count].0;
    let mut page: Vec<(u64, T)> = ahead.into_iter().filter(|(p, _)| *p <= boundary).collect();
    page.sort_unstable_by_key(|(position, _)| *position);
    let before = page.iter().filter(|(p, _)| *p < boundary).count();
    let next = if before > 0 {
        page.truncate(before);
        boundary
    } else {
        // More entries share one position than a page holds: take them all and go past it.
        boundary.checked_add(1).unwrap_or(0)
    };
    (next, page.into_iter().map(|(_, item)| item).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("field:{i}")).collect()
    }

    fn full_scan(items: &[String], count: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (next, page) = scan_page(items.iter(), |s| s.as_bytes(), cursor, count);
            assert!(page.len() <= count);
            seen.extend(page.into_iter().cloned());
            if next == 0 {
                return seen;
            }
            assert!(next > cursor, "a scan always advances");
            cursor = next;
        }
    }

    #[test]
    fn a_full_scan_returns_every_entry_exactly_once() {
        for (n, count) in [(0, 10), (1, 10), (10, 10), (11, 10), (1000, 7), (100, 1)] {
            let items = names(n);
            let mut seen = full_scan(&items, count);
            seen.sort();
            let mut expected = items.clone();
            expected.sort();
            assert_eq!(seen, expected, "n={n} count={count}");
        }
    }

    #[test]
    fn entries_present_throughout_are_found_while_others_are_removed_and_added() {
        let mut items = names(500);
        let stable: BTreeSet<String> = items.iter().step_by(2).cloned().collect();
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let (next, page) = scan_page(items.iter(), |s| s.as_bytes(), cursor, 10);
            seen.extend(page.into_iter().cloned());
            // Between pages: delete some unstable entries and add new ones.
            items.retain(|s| stable.contains(s) || !s.ends_with(&format!("{}", round % 10)));
            items.push(format!("new:{round}"));
            round += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(stable.is_subset(&seen));
    }

    #[test]
    fn colliding_positions_still_advance() {
        // A page smaller than a group of equal names (same position): the group is returned
        // whole and the scan moves past it.
        let items = vec!["same".to_string(); 5];
        let (next, page) = scan_page(items.iter(), |s| s.as_bytes(), 0, 2);
        assert_eq!(page.len(), 5);
        assert_eq!(next, scan_position(b"same") + 1);
        let (next, page) = scan_page(items.iter(), |s| s.as_bytes(), next, 2);
        assert!(page.is_empty() && next == 0);
    }

    #[test]
    fn scan_options_parse_like_redis() {
        let args = |words: &[&'static str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::from_static(w.as_bytes()))
                .collect()
        };
        let o = ScanOptions::parse(&args(&["match", "a*", "COUNT", "3", "NOVALUES"]), true);
        assert_eq!(
            o,
            Ok(ScanOptions {
                pattern: Some(Bytes::from_static(b"a*")),
                count: 3,
                novalues: true
            })
        );
        assert_eq!(
            ScanOptions::parse(&args(&["MATCH", "*"]), true).map(|o| o.pattern),
            Ok(None)
        );
        assert_eq!(
            ScanOptions::parse(&args(&["COUNT", "0"]), true),
            Err(syntax_error())
        );
        assert_eq!(
            ScanOptions::parse(&args(&["COUNT"]), true),
            Err(syntax_error())
        );
        assert!(ScanOptions::parse(&args(&["NOVALUES"]), false).is_err());
        assert!(ScanOptions::parse(&args(&["COUNT", "x"]), true).is_err());
        assert_eq!(parse_cursor(b"42"), Ok(42));
        assert!(parse_cursor(b"-1").is_err() && parse_cursor(b"x").is_err());
    }
}
