//! `history.jsonl`: the history of a run as JSON lines, one line per event in the order the
//! events happened, so a reader can replay the run and a checker can be rerun on it later.
//!
//! ```text
//! {"format":"kvorum-history","version":1}
//! {"index":0,"type":"invoke","time_ms":3,"process":0,"node":1,"f":"write","key":"k1","value":7}
//! {"process":"nemesis","type":"start","period":0,"time_ms":5,"name":"partition","detail":"n1 | n2 n3"}
//! {"index":0,"type":"ok","time_ms":9,"process":0,"node":1,"f":"write","key":"k1","value":7,"latency_ms":6,"note":"written"}
//! ```
//!
//! - The first line names the format and its version; a reader refuses versions it does not
//!   know rather than guess.
//! - A client line is an invocation (`"type":"invoke"`) or a completion (`ok`, `fail`, `info`)
//!   of the operation at `index` in [`History::ops`]. `value` is a write's value, a set
//!   operation's member or an `ok` read's result; an increment's delta is in `delta`. A read
//!   completion carries `siblings`, a set or context read's members (or the siblings a context
//!   write superseded) are in `observed`. Completions carry the reply in `note` and, for people
//!   and other tools, `latency_ms`.
//! - A nemesis line (`"process":"nemesis"`) starts or stops fault period number `period`.
//!   Faults are placed among the client events by time.
//!
//! [`read`] replays the client lines through [`History::invoke`] and [`History::complete`], so
//! the rebuilt history renders exactly as the one written. Fields it does not know are ignored,
//! so later writers may add some without a new version; every malformed line is an error that
//! names its line number.

use std::io::{BufRead, Read as _, Write};

use serde::{Deserialize, Serialize};

use super::outcome_name;
use crate::history::{History, NemesisPeriod, Op, OpKind, OpOutcome};

/// The `format` of the first line.
pub const FORMAT: &str = "kvorum-history";
/// The version [`write`] produces and the only one [`read`] accepts.
pub const VERSION: u64 = 1;

/// What [`read`] accepts, so a corrupt or hostile file cannot exhaust memory.
#[derive(Clone, Debug)]
pub struct ReadLimits {
    /// The longest line, in bytes (a set read of many members makes long lines).
    pub max_line_bytes: usize,
    /// The most lines in a file.
    pub max_lines: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: 8 << 20,
            max_lines: 50_000_000,
        }
    }
}

/// Why a history file could not be read; every case but a failed read names the line.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading line {line}: {source}")]
    Io {
        line: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} is not UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line} is longer than the limit of {limit} bytes")]
    LineTooLong { line: usize, limit: usize },
    #[error("the history has more than the limit of {limit} lines")]
    TooManyLines { limit: usize },
    #[error("line {line} is not JSON: {source}")]
    Json {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line}: history format version {found} is not supported (this reader knows version {VERSION})")]
    UnknownVersion { line: usize, found: u64 },
    #[error("line {line}: {what}")]
    Invalid { line: usize, what: String },
    #[error("fault period {period} never starts (periods are numbered from 0 without gaps)")]
    MissingPeriod { period: usize },
    #[error("the history is empty: no header line")]
    Empty,
}

impl ReadError {
    /// The 1-based line the error is about, if it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReadError::Io { line, .. }
            | ReadError::NotUtf8 { line }
            | ReadError::LineTooLong { line, .. }
            | ReadError::Json { line, .. }
            | ReadError::UnknownVersion { line, .. }
            | ReadError::Invalid { line, .. } => Some(*line),
            ReadError::TooManyLines { .. } | ReadError::MissingPeriod { .. } | ReadError::Empty => {
                None
            }
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    format: &'a str,
    version: u64,
}

#[derive(Serialize)]
struct ClientLine<'a> {
    index: usize,
    #[serde(rename = "type")]
    event: &'static str,
    time_ms: u64,
    process: u64,
    node: u64,
    f: &'static str,
    key: &'a str,
    value: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    siblings: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observed: Option<&'a [u64]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct NemesisLine<'a> {
    process: &'static str,
    #[serde(rename = "type")]
    event: &'static str,
    period: usize,
    time_ms: u64,
    name: &'a str,
    detail: &'a str,
}

/// Writes `history` and the `nemesis` periods as described in the [module docs](self). The
/// output is buffered here (JSON is written in many small pieces), so `out` may be a bare file.
pub fn write(
    history: &History,
    nemesis: &[NemesisPeriod],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    write_events(history, nemesis, &mut out)?;
    out.flush()
}

fn write_events(
    history: &History,
    nemesis: &[NemesisPeriod],
    out: &mut impl Write,
) -> std::io::Result<()> {
    line(
        out,
        &Header {
            format: FORMAT,
            version: VERSION,
        },
    )?;
    let ops = history.ops();
    // Client events in the order they happened: (seq, op index, is the completion).
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(ops.len() * 2);
    for (index, op) in ops.iter().enumerate() {
        events.push((op.invoke_seq(), index, false));
        if let Some(seq) = op.complete_seq() {
            events.push((seq, index, true));
        }
    }
    events.sort_unstable();
    // Fault events by time, each start before its stop even if the period was recorded with
    // its end before its start.
    let mut faults: Vec<(u64, bool, usize)> = Vec::with_capacity(nemesis.len() * 2);
    for (period, p) in nemesis.iter().enumerate() {
        faults.push((p.start_ms, false, period));
        faults.push((p.end_ms.max(p.start_ms), true, period));
    }
    faults.sort_unstable();
    let mut faults = faults.into_iter().peekable();

    for (_, index, completion) in events {
        let Some(op) = ops.get(index) else { continue };
        let time = if completion {
            op.complete_ms.unwrap_or(op.invoke_ms)
        } else {
            op.invoke_ms
        };
        while let Some(&(at, stop, period)) = faults.peek() {
            if at > time {
                break;
            }
            faults.next();
            fault_line(out, nemesis, period, stop)?;
        }
        line(out, &client_line(index, op, completion))?;
    }
    for (_, stop, period) in faults {
        fault_line(out, nemesis, period, stop)?;
    }
    Ok(())
}

fn client_line(index: usize, op: &Op, completion: bool) -> ClientLine<'_> {
    let delta = match op.kind {
        OpKind::Incr(delta) => Some(delta),
        _ => None,
    };
    let completed = op.outcome.is_some();
    // A register read's result replaces its invoked value, so the invocation shows none; every
    // other operation keeps the value it was invoked with.
    let invoked = if op.kind == OpKind::Read && completed {
        None
    } else {
        op.value
    };
    // What a context write superseded is known when it is invoked; what a read saw, when it
    // completes.
    let observed_on_invoke = op.kind == OpKind::WriteCtx || !completed;
    let observed = (!op.observed.is_empty() && observed_on_invoke != completion)
        .then_some(op.observed.as_slice());
    if !completion {
        return ClientLine {
            index,
            event: "invoke",
            time_ms: op.invoke_ms,
            process: op.process,
            node: op.node,
            f: op.kind.name(),
            key: &op.key,
            value: invoked,
            delta,
            siblings: None,
            observed,
            latency_ms: None,
            note: None,
        };
    }
    let done = op.complete_ms.unwrap_or(op.invoke_ms);
    ClientLine {
        index,
        event: outcome_name(op.outcome()),
        time_ms: done,
        process: op.process,
        node: op.node,
        f: op.kind.name(),
        key: &op.key,
        value: op.value,
        delta,
        siblings: (op.kind == OpKind::Read && op.siblings > 0).then_some(op.siblings),
        observed,
        latency_ms: Some(done.saturating_sub(op.invoke_ms)),
        note: Some(&op.note),
    }
}

fn fault_line(
    out: &mut impl Write,
    nemesis: &[NemesisPeriod],
    period: usize,
    stop: bool,
) -> std::io::Result<()> {
    let Some(p) = nemesis.get(period) else {
        return Ok(());
    };
    line(
        out,
        &NemesisLine {
            process: "nemesis",
            event: if stop { "stop" } else { "start" },
            period,
            time_ms: if stop { p.end_ms } else { p.start_ms },
            name: &p.name,
            detail: &p.detail,
        },
    )
}

fn line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Every field any line may have; which are required depends on the line's kind.
#[derive(Deserialize)]
struct RawLine {
    format: Option<String>,
    version: Option<u64>,
    index: Option<usize>,
    #[serde(rename = "type")]
    event: Option<String>,
    time_ms: Option<u64>,
    process: Option<serde_json::Value>,
    node: Option<u64>,
    f: Option<String>,
    key: Option<String>,
    value: Option<u64>,
    delta: Option<i64>,
    siblings: Option<usize>,
    observed: Option<Vec<u64>>,
    note: Option<String>,
    period: Option<usize>,
    name: Option<String>,
    detail: Option<String>,
}

/// A fault period being rebuilt: where its start was read, and its stop once read.
struct PartialPeriod {
    start_line: usize,
    period: NemesisPeriod,
    stopped: bool,
}

/// Reads a history written by [`write`], with the default [`ReadLimits`].
pub fn read(input: impl BufRead) -> Result<(History, Vec<NemesisPeriod>), ReadError> {
    read_with_limits(input, &ReadLimits::default())
}

/// Rebuilds the history by replaying its events in file order, and the fault periods. An
/// operation still pending at the end of the file stays pending.
pub fn read_with_limits(
    mut input: impl BufRead,
    limits: &ReadLimits,
) -> Result<(History, Vec<NemesisPeriod>), ReadError> {
    let mut history = History::new();
    let mut periods: Vec<Option<PartialPeriod>> = Vec::new();
    let mut header_seen = false;
    let mut buf = Vec::new();
    let mut number = 0;
    // One byte more than the longest line allowed, to tell a line at the limit from a longer one.
    let take = u64::try_from(limits.max_line_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    loop {
        buf.clear();
        let read = (&mut input)
            .take(take)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ReadError::Io {
                line: number + 1,
                source,
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        if number > limits.max_lines {
            return Err(ReadError::TooManyLines {
                limit: limits.max_lines,
            });
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > limits.max_line_bytes {
            return Err(ReadError::LineTooLong {
                line: number,
                limit: limits.max_line_bytes,
            });
        }
        let text = std::str::from_utf8(&buf).map_err(|_| ReadError::NotUtf8 { line: number })?;
        if text.trim().is_empty() {
            continue;
        }
        let raw: RawLine = serde_json::from_str(text).map_err(|source| ReadError::Json {
            line: number,
            source,
        })?;
        if !header_seen {
            header(&raw, number)?;
            header_seen = true;
            continue;
        }
        let nemesis = match &raw.process {
            Some(serde_json::Value::String(s)) if s == "nemesis" => true,
            Some(serde_json::Value::Number(_)) => false,
            Some(other) => {
                return Err(invalid(
                    number,
                    format!("process must be a number or \"nemesis\", not {other}"),
                ))
            }
            None => return Err(missing(number, "process")),
        };
        if nemesis {
            fault_event(raw, number, &mut periods)?;
        } else {
            client_event(raw, number, &mut history)?;
        }
    }
    if !header_seen {
        return Err(ReadError::Empty);
    }
    let mut out = Vec::with_capacity(periods.len());
    for (number, slot) in periods.into_iter().enumerate() {
        match slot {
            Some(p) if p.stopped => out.push(p.period),
            Some(p) => {
                return Err(invalid(
                    p.start_line,
                    format!("fault period {number} starts here but never stops"),
                ))
            }
            None => return Err(ReadError::MissingPeriod { period: number }),
        }
    }
    Ok((history, out))
}

fn header(raw: &RawLine, line: usize) -> Result<(), ReadError> {
    match (&raw.format, raw.version) {
        (Some(format), Some(version)) if format == FORMAT => {
            if version == VERSION {
                Ok(())
            } else {
                Err(ReadError::UnknownVersion {
                    line,
                    found: version,
                })
            }
        }
        (Some(format), _) if format != FORMAT => Err(invalid(
            line,
            format!("the format is {format:?}, not {FORMAT:?}"),
        )),
        (Some(_), None) => Err(missing(line, "version")),
        (None, _) => Err(invalid(
            line,
            format!("the first line must be the header {{\"format\":\"{FORMAT}\",\"version\":{VERSION}}}"),
        )),
        (Some(_), Some(_)) => Err(missing(line, "format")),
    }
}

fn client_event(raw: RawLine, line: usize, history: &mut History) -> Result<(), ReadError> {
    let event = raw.event.ok_or_else(|| missing(line, "type"))?;
    let index = raw.index.ok_or_else(|| missing(line, "index"))?;
    let time = raw.time_ms.ok_or_else(|| missing(line, "time_ms"))?;
    let f = raw.f.ok_or_else(|| missing(line, "f"))?;
    let outcome = match event.as_str() {
        "invoke" => None,
        "ok" => Some(OpOutcome::Ok),
        "fail" => Some(OpOutcome::Fail),
        "info" => Some(OpOutcome::Info),
        other => {
            return Err(invalid(
                line,
                format!("unknown type {other:?} for a client event (invoke, ok, fail or info)"),
            ))
        }
    };
    let Some(outcome) = outcome else {
        let kind = match f.as_str() {
            "read" => OpKind::Read,
            "write" => OpKind::Write,
            "incr" => OpKind::Incr(raw.delta.ok_or_else(|| missing(line, "delta"))?),
            "sadd" => OpKind::SAdd,
            "srem" => OpKind::SRem,
            "read-set" => OpKind::ReadSet,
            "read-ctx" => OpKind::ReadCtx,
            "write-ctx" => OpKind::WriteCtx,
            other => return Err(invalid(line, format!("unknown operation f {other:?}"))),
        };
        let process = match raw.process {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| invalid(line, "process must be a non-negative integer".to_owned()))?;
        let node = raw.node.ok_or_else(|| missing(line, "node"))?;
        let key = raw.key.ok_or_else(|| missing(line, "key"))?;
        let expected = history.ops().len();
        if index != expected {
            return Err(invalid(
                line,
                format!("invocation has index {index}, but operations are numbered densely and this one is {expected}"),
            ));
        }
        let index = history.invoke(process, node, &key, kind, raw.value, time);
        if let Some(observed) = raw.observed {
            history.observe(index, observed);
        }
        return Ok(());
    };
    let Some(op) = history.ops().get(index) else {
        return Err(invalid(
            line,
            format!("completion of operation {index}, which was never invoked"),
        ));
    };
    if op.outcome.is_some() {
        return Err(invalid(
            line,
            format!("operation {index} completes a second time"),
        ));
    }
    if op.kind.name() != f {
        return Err(invalid(
            line,
            format!(
                "completion of operation {index} says f {f:?}, but it was invoked as {:?}",
                op.kind.name()
            ),
        ));
    }
    let read = (op.kind == OpKind::Read).then_some((raw.value, raw.siblings.unwrap_or(0)));
    let note = raw.note.unwrap_or_default();
    if !history.complete(index, outcome, read, note, time) {
        return Err(invalid(
            line,
            format!("operation {index} could not be completed"),
        ));
    }
    if let Some(observed) = raw.observed {
        history.observe(index, observed);
    }
    Ok(())
}

fn fault_event(
    raw: RawLine,
    line: usize,
    periods: &mut Vec<Option<PartialPeriod>>,
) -> Result<(), ReadError> {
    let event = raw.event.ok_or_else(|| missing(line, "type"))?;
    let number = raw.period.ok_or_else(|| missing(line, "period"))?;
    let time = raw.time_ms.ok_or_else(|| missing(line, "time_ms"))?;
    let name = raw.name.ok_or_else(|| missing(line, "name"))?;
    let detail = raw.detail.ok_or_else(|| missing(line, "detail"))?;
    match event.as_str() {
        "start" => {
            // A period number far beyond those seen would make us allocate for nothing: periods
            // are numbered in the order they were recorded, which is close to start order.
            if number > periods.len() + 1_000_000 {
                return Err(invalid(
                    line,
                    format!("fault period number {number} is implausibly large"),
                ));
            }
            if periods.len() <= number {
                periods.resize_with(number + 1, || None);
            }
            let slot = periods
                .get_mut(number)
                .ok_or_else(|| invalid(line, format!("fault period {number} out of range")))?;
            if slot.is_some() {
                return Err(invalid(
                    line,
                    format!("fault period {number} starts a second time"),
                ));
            }
            *slot = Some(PartialPeriod {
                start_line: line,
                period: NemesisPeriod {
                    name,
                    detail,
                    start_ms: time,
                    end_ms: time,
                },
                stopped: false,
            });
            Ok(())
        }
        "stop" => {
            let Some(Some(partial)) = periods.get_mut(number) else {
                return Err(invalid(
                    line,
                    format!("fault period {number} stops without having started"),
                ));
            };
            if partial.stopped {
                return Err(invalid(
                    line,
                    format!("fault period {number} stops a second time"),
                ));
            }
            if partial.period.name != name || partial.period.detail != detail {
                return Err(invalid(
                    line,
                    format!(
                        "fault period {number} stops as {name:?} ({detail:?}) but started as {:?} ({:?})",
                        partial.period.name, partial.period.detail
                    ),
                ));
            }
            partial.period.end_ms = time;
            partial.stopped = true;
            Ok(())
        }
        other => Err(invalid(
            line,
            format!("unknown type {other:?} for a nemesis event (start or stop)"),
        )),
    }
}

fn invalid(line: usize, what: String) -> ReadError {
    ReadError::Invalid { line, what }
}

fn missing(line: usize, field: &str) -> ReadError {
    invalid(line, format!("missing field {field:?}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A history with every operation function and outcome, a read with siblings, set and
    /// context reads with what they saw, text that needs JSON escaping, and a pending operation.
    fn every_kind() -> (History, Vec<NemesisPeriod>) {
        let mut h = History::new();
        let w = h.invoke(0, 1, "k1", OpKind::Write, Some(7), 1);
        let r = h.invoke(1, 2, "k1", OpKind::Read, None, 2);
        h.complete(w, OpOutcome::Ok, None, "written".into(), 3);
        h.complete(r, OpOutcome::Ok, Some((Some(7), 2)), "read".into(), 4);
        let i = h.invoke(0, 1, "c", OpKind::Incr(-3), None, 5);
        h.complete(
            i,
            OpOutcome::Info,
            None,
            "timeout(acks=1,needed=2)".into(),
            6,
        );
        let a = h.invoke(1, 2, "s", OpKind::SAdd, Some(11), 6);
        h.complete(
            a,
            OpOutcome::Fail,
            None,
            "unavailable \"quoted\"\nline".into(),
            7,
        );
        let d = h.invoke(1, 2, "s", OpKind::SRem, Some(11), 8);
        h.complete(d, OpOutcome::Ok, None, String::new(), 9);
        let s = h.invoke(2, 3, "s", OpKind::ReadSet, None, 10);
        h.complete(s, OpOutcome::Ok, None, "read".into(), 12);
        h.observe(s, vec![3, 5, 8]);
        let c = h.invoke(2, 3, "k<&\">", OpKind::ReadCtx, None, 13);
        h.complete(c, OpOutcome::Ok, None, "read".into(), 14);
        h.observe(c, vec![7, 9]);
        let x = h.invoke(2, 3, "k<&\">", OpKind::WriteCtx, Some(12), 15);
        h.observe(x, vec![7, 9]);
        h.complete(x, OpOutcome::Ok, None, "written".into(), 16);
        let empty = h.invoke(1, 2, "k2", OpKind::Read, None, 17);
        h.complete(empty, OpOutcome::Ok, Some((None, 0)), "read".into(), 18);
        let failed_read = h.invoke(1, 2, "k2", OpKind::Read, None, 19);
        h.complete(failed_read, OpOutcome::Fail, None, "busy".into(), 20);
        h.invoke(3, 4, "k1", OpKind::Write, Some(13), 21);
        let nemesis = vec![
            NemesisPeriod {
                name: "partition".into(),
                detail: "n1 n2 | n3".into(),
                start_ms: 2,
                end_ms: 9,
            },
            NemesisPeriod {
                name: "kill".into(),
                detail: "SIGKILL n3".into(),
                start_ms: 5,
                end_ms: 5,
            },
            NemesisPeriod {
                name: "clock".into(),
                detail: "n2 +5000 ms".into(),
                start_ms: 19,
                end_ms: 5_000,
            },
        ];
        (h, nemesis)
    }

    fn written(h: &History, nemesis: &[NemesisPeriod]) -> String {
        let mut out = Vec::new();
        write(h, nemesis, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn read_str(text: &str) -> Result<(History, Vec<NemesisPeriod>), ReadError> {
        read(text.as_bytes())
    }

    #[test]
    fn round_trip_rebuilds_the_same_history() {
        let (h, nemesis) = every_kind();
        let text = written(&h, &nemesis);
        let (back, periods) = read_str(&text).unwrap();
        assert_eq!(back.render(), h.render());
        assert_eq!(back, h);
        assert_eq!(periods, nemesis);
        let pending = back.ops().last().unwrap();
        assert_eq!(pending.outcome, None);
        assert_eq!(pending.complete_ms, None);
    }

    #[test]
    fn synthetic_run_round_trips() {
        let (h, nemesis) = crate::report::testing::run(3_000, 60);
        let (back, periods) = read_str(&written(&h, &nemesis)).unwrap();
        assert_eq!(back.render(), h.render());
        assert_eq!(periods, nemesis);
    }

    #[test]
    fn file_is_versioned_and_in_event_order() {
        let (h, nemesis) = every_kind();
        let text = written(&h, &nemesis);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["format"], "kvorum-history");
        assert_eq!(lines[0]["version"], 1);
        // One line per event: header, 11 invocations, 10 completions, 3 × 2 fault events.
        assert_eq!(lines.len(), 1 + 11 + 10 + 6);
        let times: Vec<u64> = lines[1..]
            .iter()
            .map(|l| l["time_ms"].as_u64().unwrap())
            .collect();
        // The clock fault ends after every client event, so it is last.
        assert!(times.windows(2).take(times.len() - 2).all(|w| w[0] <= w[1]));
        let incr = lines
            .iter()
            .find(|l| l["f"] == "incr" && l["type"] == "invoke")
            .unwrap();
        assert_eq!(incr["delta"], -3);
        let nemesis_start = lines
            .iter()
            .find(|l| l["process"] == "nemesis" && l["name"] == "partition")
            .unwrap();
        assert_eq!(nemesis_start["type"], "start");
        let read = lines
            .iter()
            .find(|l| l["f"] == "read" && l["type"] == "ok")
            .unwrap();
        assert_eq!(read["value"], 7);
        assert_eq!(read["siblings"], 2);
    }

    #[test]
    fn empty_history_round_trips() {
        let (back, periods) = read_str(&written(&History::new(), &[])).unwrap();
        assert!(back.ops().is_empty());
        assert!(periods.is_empty());
    }

    const HEADER: &str = "{\"format\":\"kvorum-history\",\"version\":1}\n";
    const INVOKE: &str = "{\"index\":0,\"type\":\"invoke\",\"time_ms\":1,\"process\":0,\"node\":1,\"f\":\"write\",\"key\":\"k\",\"value\":3}\n";

    fn error_of(text: &str) -> ReadError {
        match read_str(text) {
            Ok(_) => panic!("accepted {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn bad_json_names_its_line() {
        let e = error_of(&format!("{HEADER}{INVOKE}{{\"index\": 1,\n"));
        assert!(matches!(e, ReadError::Json { line: 3, .. }), "{e}");
        assert!(e.to_string().starts_with("line 3 "), "{e}");
    }

    #[test]
    fn unknown_type_names_its_line() {
        let e = error_of(&format!(
            "{HEADER}{INVOKE}{}",
            INVOKE.replace("\"invoke\"", "\"done\"")
        ));
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().contains("unknown type \"done\""), "{e}");
        let e = error_of(&format!(
            "{HEADER}{{\"process\":\"nemesis\",\"type\":\"begin\",\"period\":0,\"time_ms\":1,\"name\":\"kill\",\"detail\":\"\"}}\n"
        ));
        assert_eq!(e.line(), Some(2), "{e}");
    }

    #[test]
    fn completion_of_unknown_operation_names_its_line() {
        let done = "{\"index\":5,\"type\":\"ok\",\"time_ms\":2,\"process\":0,\"node\":1,\"f\":\"write\",\"key\":\"k\",\"value\":3,\"note\":\"\"}\n";
        let e = error_of(&format!("{HEADER}{INVOKE}{done}"));
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().contains("never invoked"), "{e}");
        let twice = done.replace("\"index\":5", "\"index\":0");
        let e = error_of(&format!("{HEADER}{INVOKE}{twice}{twice}"));
        assert_eq!(e.line(), Some(4), "{e}");
        let wrong_f = twice.replace("\"write\"", "\"read\"");
        let e = error_of(&format!("{HEADER}{INVOKE}{wrong_f}"));
        assert_eq!(e.line(), Some(3), "{e}");
    }

    #[test]
    fn invocation_index_must_be_the_next_one() {
        let e = error_of(&format!(
            "{HEADER}{}",
            INVOKE.replace("\"index\":0", "\"index\":4")
        ));
        assert_eq!(e.line(), Some(2), "{e}");
    }

    #[test]
    fn wrong_version_or_missing_header_is_refused() {
        let e = error_of(&format!("{}{INVOKE}", HEADER.replace(":1}", ":2}")));
        assert!(
            matches!(e, ReadError::UnknownVersion { line: 1, found: 2 }),
            "{e}"
        );
        let e = error_of(INVOKE);
        assert_eq!(e.line(), Some(1), "{e}");
        let e = error_of(&HEADER.replace("kvorum-history", "other"));
        assert_eq!(e.line(), Some(1), "{e}");
        assert!(matches!(error_of(""), ReadError::Empty));
    }

    #[test]
    fn missing_fields_and_wrong_types_name_their_line() {
        let e = error_of(&format!("{HEADER}{}", INVOKE.replace(",\"key\":\"k\"", "")));
        assert_eq!(e.line(), Some(2), "{e}");
        assert!(e.to_string().contains("\"key\""), "{e}");
        let e = error_of(&format!(
            "{HEADER}{}",
            INVOKE.replace("\"value\":3", "\"value\":\"3\"")
        ));
        assert!(matches!(e, ReadError::Json { line: 2, .. }), "{e}");
        let e = error_of(&format!(
            "{HEADER}{}",
            INVOKE.replace("\"process\":0", "\"process\":-1")
        ));
        assert_eq!(e.line(), Some(2), "{e}");
        let e = error_of(&format!(
            "{HEADER}{}",
            INVOKE.replace("\"write\"", "\"cas\"")
        ));
        assert_eq!(e.line(), Some(2), "{e}");
        let incr = INVOKE.replace("\"write\"", "\"incr\"");
        let e = error_of(&format!("{HEADER}{incr}"));
        assert!(e.to_string().contains("\"delta\""), "{e}");
    }

    #[test]
    fn unmatched_fault_events_are_refused() {
        let start = "{\"process\":\"nemesis\",\"type\":\"start\",\"period\":0,\"time_ms\":1,\"name\":\"kill\",\"detail\":\"n3\"}\n";
        let e = error_of(&format!("{HEADER}{start}"));
        assert_eq!(e.line(), Some(2), "{e}");
        assert!(e.to_string().contains("never stops"), "{e}");
        let stop = start.replace("start", "stop");
        let e = error_of(&format!("{HEADER}{stop}"));
        assert_eq!(e.line(), Some(2), "{e}");
        let e = error_of(&format!("{HEADER}{}{stop}", start.replace(":0,", ":1,")));
        assert!(e.to_string().contains("without having started"), "{e}");
        let e = error_of(&format!(
            "{HEADER}{}{}",
            start.replace(":0,", ":1,"),
            stop.replace(":0,", ":1,")
        ));
        assert!(matches!(e, ReadError::MissingPeriod { period: 0 }), "{e}");
    }

    #[test]
    fn limits_are_enforced() {
        let limits = ReadLimits {
            max_line_bytes: 60,
            max_lines: 10,
        };
        let e = read_with_limits(format!("{HEADER}{INVOKE}").as_bytes(), &limits).unwrap_err();
        assert!(
            matches!(e, ReadError::LineTooLong { line: 2, limit: 60 }),
            "{e}"
        );
        let limits = ReadLimits {
            max_line_bytes: 1_000,
            max_lines: 1,
        };
        let e = read_with_limits(format!("{HEADER}{INVOKE}").as_bytes(), &limits).unwrap_err();
        assert!(matches!(e, ReadError::TooManyLines { limit: 1 }), "{e}");
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"{\"key\":\"\xff\"}\n");
        let e = read(bytes.as_slice()).unwrap_err();
        assert!(matches!(e, ReadError::NotUtf8 { line: 2 }), "{e}");
    }
}
