//! Readers for public histories with known verdicts, used to validate the checker:
//! Jepsen text logs of an etcd compare-and-set register, Jepsen EDN histories (knossos), and
//! porcupine's key-value traces.
//!
//! Each reader turns a history into [`Operation`]s for the WGL search, using the line (or map)
//! number as time. The two register formats differ on purpose in what `:fail` means:
//! - in the etcd logs (as porcupine reads them) a failed `cas` *happened*: it observed a value
//!   other than the expected one; a `:fail :read :timed-out` is an indeterminate read; `:info`
//!   lines are ignored, so the operation stays pending forever (indeterminate);
//! - in knossos EDN, `:fail` means the operation did not happen and is dropped; `:info` and a
//!   missing completion are indeterminate.

use std::collections::BTreeMap;

use thiserror::Error;

use super::model::{KvInput, KvOutput, RegisterInput, RegisterOutput};
use super::wgl::Operation;

/// A history file could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("EDN: {reason} at byte {at}")]
    Edn { at: usize, reason: String },
    #[error("map {index}: {reason}")]
    Entry { index: usize, reason: String },
}

/// A register operation with integer values.
pub type RegisterOp = Operation<RegisterInput<i64>, RegisterOutput<i64>>;
/// A string-cell operation.
pub type KvOp = Operation<KvInput, KvOutput>;

struct Pending<I> {
    id: usize,
    call: u64,
    input: I,
}

/// Reads a Jepsen text log of an etcd register (`INFO jepsen.util - 3 :invoke :cas [1 4]`).
pub fn jepsen_log(text: &str) -> Result<Vec<RegisterOp>, ParseError> {
    let mut ops = Vec::new();
    let mut pending: BTreeMap<u64, Pending<RegisterInput<i64>>> = BTreeMap::new();
    let mut next_id = 0;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let bad = |reason: &str| ParseError::Line {
            line: line_no,
            reason: reason.to_owned(),
        };
        let Some((_, rest)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let [process, kind, f, value @ ..] = fields.as_slice() else {
            continue;
        };
        let process: u64 = process
            .parse()
            .map_err(|_| bad("process is not a number"))?;
        let value = value.join(" ");
        let time = line_no as u64;
        match *kind {
            ":invoke" => {
                let input = match *f {
                    ":read" => RegisterInput::Read,
                    ":write" => RegisterInput::Write(int(&value).ok_or_else(|| bad("bad value"))?),
                    ":cas" => {
                        let (from, to) = pair(&value).ok_or_else(|| bad("bad cas value"))?;
                        RegisterInput::Cas { from, to }
                    }
                    _ => return Err(bad("unknown operation")),
                };
                // An operation left pending by the same process stays indeterminate.
                if let Some(p) = pending.insert(
                    process,
                    Pending {
                        id: next_id,
                        call: time,
                        input,
                    },
                ) {
                    ops.push(indeterminate(p, process));
                }
                next_id += 1;
            }
            ":ok" | ":fail" => {
                let Some(p) = pending.remove(&process) else {
                    return Err(bad("completion without invocation"));
                };
                let output = match (&p.input, *kind) {
                    (RegisterInput::Read, ":ok") => RegisterOutput::Read(nil_or_int(&value)),
                    (RegisterInput::Read, _) => RegisterOutput::Unknown,
                    (RegisterInput::Write(_), ":ok") => RegisterOutput::Written,
                    (RegisterInput::Write(_), _) => continue, // did not happen
                    (RegisterInput::Cas { .. }, kind) => RegisterOutput::Cas(kind == ":ok"),
                };
                ops.push(Operation {
                    id: p.id,
                    process,
                    call: p.call,
                    ret: Some(time),
                    input: p.input,
                    output,
                });
            }
            _ => {} // `:info`: the operation stays pending, indeterminate.
        }
    }
    ops.extend(
        pending
            .into_iter()
            .map(|(process, p)| indeterminate(p, process)),
    );
    Ok(ops)
}

fn indeterminate(p: Pending<RegisterInput<i64>>, process: u64) -> RegisterOp {
    Operation {
        id: p.id,
        process,
        call: p.call,
        ret: None,
        input: p.input,
        output: RegisterOutput::Unknown,
    }
}

fn int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn nil_or_int(s: &str) -> Option<i64> {
    if s.trim() == "nil" {
        None
    } else {
        int(s)
    }
}

fn pair(s: &str) -> Option<(i64, i64)> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut it = inner.split_whitespace();
    let (a, b) = (int(it.next()?)?, int(it.next()?)?);
    Some((a, b))
}

/// An EDN value, as far as Jepsen histories need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    Keyword(String),
    Symbol(String),
    List(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value under keyword `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Reads every top-level EDN form of `text` (a history is one vector or list of maps, or one map
/// per line).
pub fn edn(text: &str) -> Result<Vec<Edn>, ParseError> {
    let mut reader = EdnReader {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut forms = Vec::new();
    while let Some(form) = reader.form()? {
        forms.push(form);
    }
    Ok(forms)
}

/// The maps of a history, whether written as one collection or one map per line.
fn history_maps(text: &str) -> Result<Vec<Edn>, ParseError> {
    let mut maps = Vec::new();
    for form in edn(text)? {
        match form {
            Edn::List(items) => maps.extend(items),
            other => maps.push(other),
        }
    }
    Ok(maps)
}

struct EdnReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl EdnReader<'_> {
    fn error(&self, reason: &str) -> ParseError {
        ParseError::Edn {
            at: self.at,
            reason: reason.to_owned(),
        }
    }

    fn skip_blank(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            if b == b';' {
                while self.bytes.get(self.at).is_some_and(|&c| c != b'\n') {
                    self.at += 1;
                }
            } else if b.is_ascii_whitespace() || b == b',' {
                self.at += 1;
            } else {
                break;
            }
        }
    }

    /// The next form, `None` at the end of input.
    fn form(&mut self) -> Result<Option<Edn>, ParseError> {
        self.skip_blank();
        let Some(&b) = self.bytes.get(self.at) else {
            return Ok(None);
        };
        let form = match b {
            b'[' | b'(' => {
                let close = if b == b'[' { b']' } else { b')' };
                self.at += 1;
                Edn::List(self.items(close)?)
            }
            b'{' => {
                self.at += 1;
                let items = self.items(b'}')?;
                if items.len() % 2 != 0 {
                    return Err(self.error("map with an odd number of forms"));
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Edn::Map(entries)
            }
            b'"' => {
                self.at += 1;
                let mut s = Vec::new();
                loop {
                    match self.bytes.get(self.at) {
                        None => return Err(self.error("unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            self.at += 1;
                            let escaped = self
                                .bytes
                                .get(self.at)
                                .ok_or_else(|| self.error("unterminated escape"))?;
                            s.push(match escaped {
                                b'n' => b'\n',
                                b't' => b'\t',
                                other => *other,
                            });
                        }
                        Some(&c) => s.push(c),
                    }
                    self.at += 1;
                }
                self.at += 1;
                Edn::Str(String::from_utf8(s).map_err(|_| self.error("string is not UTF-8"))?)
            }
            b']' | b')' | b'}' => return Err(self.error("unbalanced closing bracket")),
            _ => {
                let start = self.at;
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|&c| !(c.is_ascii_whitespace() || b",[](){}\";".contains(&c)))
                {
                    self.at += 1;
                }
                let token = std::str::from_utf8(&self.bytes[start..self.at])
                    .map_err(|_| self.error("token is not UTF-8"))?;
                atom(token)
            }
        };
        Ok(Some(form))
    }

    fn items(&mut self, close: u8) -> Result<Vec<Edn>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.bytes.get(self.at) {
                None => return Err(self.error("unterminated collection")),
                Some(&c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                Some(_) => match self.form()? {
                    Some(form) => items.push(form),
                    None => return Err(self.error("unterminated collection")),
                },
            }
        }
    }
}

fn atom(token: &str) -> Edn {
    match token {
        "nil" => Edn::Nil,
        "true" => Edn::Bool(true),
        "false" => Edn::Bool(false),
        _ => {
            if let Some(name) = token.strip_prefix(':') {
                Edn::Keyword(name.to_owned())
            } else if let Ok(n) = token.parse() {
                Edn::Int(n)
            } else {
                Edn::Symbol(token.to_owned())
            }
        }
    }
}

/// One client event of an EDN history.
struct EdnEvent<'a> {
    process: u64,
    kind: &'a str,
    f: &'a str,
    map: &'a Edn,
}

fn edn_events(maps: &[Edn]) -> Result<Vec<EdnEvent<'_>>, ParseError> {
    let mut events = Vec::new();
    for (index, map) in maps.iter().enumerate() {
        let bad = |reason: &str| ParseError::Entry {
            index,
            reason: reason.to_owned(),
        };
        // The nemesis and other non-client processes are not part of the object's history.
        let Some(Edn::Int(process)) = map.get("process") else {
            continue;
        };
        let Some(Edn::Keyword(kind)) = map.get("type") else {
            return Err(bad("missing :type"));
        };
        let Some(Edn::Keyword(f)) = map.get("f") else {
            return Err(bad("missing :f"));
        };
        let process = u64::try_from(*process).map_err(|_| bad("negative process"))?;
        events.push(EdnEvent {
            process,
            kind,
            f,
            map,
        });
    }
    Ok(events)
}

/// An operation with the key it names, if any.
type Keyed<I, O> = (Option<String>, Operation<I, O>);

/// Pairs invocations with completions (knossos rules: `:fail` did not happen, `:info` and a
/// missing completion are indeterminate), building inputs and outputs with the given functions.
fn pair_events<I, O>(
    events: &[EdnEvent<'_>],
    input: impl Fn(&EdnEvent<'_>) -> Option<I>,
    output: impl Fn(&I, &EdnEvent<'_>) -> Option<O>,
    unknown: impl Fn() -> O,
) -> Result<Vec<Keyed<I, O>>, ParseError> {
    let mut ops = Vec::new();
    let mut pending: BTreeMap<u64, (Pending<I>, Option<String>)> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        let time = index as u64;
        let bad = |reason: &str| ParseError::Entry {
            index,
            reason: reason.to_owned(),
        };
        let key = match event.map.get("key") {
            Some(Edn::Str(k)) => Some(k.clone()),
            Some(Edn::Int(k)) => Some(k.to_string()),
            _ => None,
        };
        match event.kind {
            "invoke" => {
                let i = input(event).ok_or_else(|| bad("unreadable invocation"))?;
                let p = Pending {
                    id: index,
                    call: time,
                    input: i,
                };
                if let Some((old, old_key)) = pending.insert(event.process, (p, key)) {
                    ops.push((old_key, open(old, event.process, unknown())));
                }
            }
            "ok" => {
                let (p, key) = pending
                    .remove(&event.process)
                    .ok_or_else(|| bad("completion without invocation"))?;
                let o = output(&p.input, event).ok_or_else(|| bad("unreadable completion"))?;
                ops.push((
                    key,
                    Operation {
                        id: p.id,
                        process: event.process,
                        call: p.call,
                        ret: Some(time),
                        input: p.input,
                        output: o,
                    },
                ));
            }
            "fail" => {
                pending.remove(&event.process);
            }
            _ => {
                if let Some((p, key)) = pending.remove(&event.process) {
                    ops.push((key, open(p, event.process, unknown())));
                }
            }
        }
    }
    for (process, (p, key)) in pending {
        ops.push((key, open(p, process, unknown())));
    }
    Ok(ops)
}

fn open<I, O>(p: Pending<I>, process: u64, output: O) -> Operation<I, O> {
    Operation {
        id: p.id,
        process,
        call: p.call,
        ret: None,
        input: p.input,
        output,
    }
}

/// Reads a knossos EDN history of a compare-and-set register.
pub fn knossos_register(text: &str) -> Result<Vec<RegisterOp>, ParseError> {
    let maps = history_maps(text)?;
    let events = edn_events(&maps)?;
    let value_int = |e: &EdnEvent<'_>| match e.map.get("value") {
        Some(Edn::Int(v)) => Some(Some(*v)),
        Some(Edn::Nil) => Some(None),
        _ => None,
    };
    let ops = pair_events(
        &events,
        |e| match e.f {
            "read" => Some(RegisterInput::Read),
            "write" => value_int(e).flatten().map(RegisterInput::Write),
            "cas" => match e.map.get("value") {
                Some(Edn::List(items)) => match items.as_slice() {
                    [Edn::Int(from), Edn::Int(to)] => Some(RegisterInput::Cas {
                        from: *from,
                        to: *to,
                    }),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        },
        |input, e| match input {
            RegisterInput::Read => value_int(e).map(RegisterOutput::Read),
            RegisterInput::Write(_) => Some(RegisterOutput::Written),
            RegisterInput::Cas { .. } => Some(RegisterOutput::Cas(true)),
        },
        || RegisterOutput::Unknown,
    )?;
    Ok(ops.into_iter().map(|(_, op)| op).collect())
}

/// Reads a porcupine key-value trace (one EDN map per line, with `:key`), split by key.
pub fn porcupine_kv(text: &str) -> Result<BTreeMap<String, Vec<KvOp>>, ParseError> {
    let maps = history_maps(text)?;
    let events = edn_events(&maps)?;
    let value_str = |e: &EdnEvent<'_>| match e.map.get("value") {
        Some(Edn::Str(v)) => Some(v.clone()),
        Some(Edn::Nil) => Some(String::new()),
        _ => None,
    };
    let ops = pair_events(
        &events,
        |e| match e.f {
            "get" => Some(KvInput::Get),
            "put" => value_str(e).map(KvInput::Put),
            "append" => value_str(e).map(KvInput::Append),
            _ => None,
        },
        |input, e| match input {
            KvInput::Get => value_str(e).map(KvOutput::Value),
            _ => Some(KvOutput::Done),
        },
        || KvOutput::Unknown,
    )?;
    let mut by_key: BTreeMap<String, Vec<KvOp>> = BTreeMap::new();
    for (key, op) in ops {
        by_key.entry(key.unwrap_or_default()).or_default().push(op);
    }
    Ok(by_key)
}
