//! Any Redis-protocol server (kvorum, redis-server): a minimal RESP2 client of our own over a
//! tokio `TcpStream`.
//!
//! Why not the `redis` crate: a load generator on the same two cores as the server must spend as
//! little CPU per request as it can, and must measure exactly what it sends. Here a batch of
//! requests is encoded into one buffer, written with one `write_all`, and the replies are parsed
//! in place from one read buffer without building values: only what the benchmark needs is
//! looked at (an error's text, an integer, `SCAN`'s cursor). No multiplexing layer, no channel
//! between a caller and a connection task.
//!
//! Operations map to commands as follows:
//! - read → `GET`; update and insert → `SET`; read-modify-write → `GET`, then `SET` once the
//!   `GET`'s reply is in (two round trips).
//! - scan → `SCAN <cursor> MATCH user* COUNT <n>`, continuing the connection's own cursor (from 0
//!   again once it comes back to 0). This is an approximation: neither kvorum nor Redis keeps
//!   keys in order, so "the `n` keys from `start` on" does not exist; the start key is ignored.
//! - With `wait`, every write is followed by `WAIT <replicas> <timeout_ms>` in the same pipeline;
//!   a reply with fewer replicas than asked makes the operation fail.
//!
//! Parsing never panics: garbage, a length out of bounds or nesting too deep is a
//! [`ReplyError::Protocol`]; a half-received reply is "need more bytes".

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DriverError, Op};

/// No reply within this long fails the batch (and the connection is replaced).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on what a reply may claim, so garbage cannot make us allocate or recurse without end.
const MAX_BULK: i64 = 512 * 1024 * 1024;
const MAX_ITEMS: i64 = 16 * 1024 * 1024;
const MAX_DEPTH: usize = 16;

/// The next server a new connection of a spread target goes to (process-wide: one run at a time).
static NEXT_SERVER: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Debug)]
pub struct RespTarget {
    pub addr: SocketAddr,
    /// More servers of the same store (the other nodes of a kvorum cluster): connections are
    /// spread over `addr` and these, round-robin, as etcd's connections are over its members.
    pub spread: Vec<SocketAddr>,
    /// Sent once per connection as `CONSISTENCY <value>` (kvorum only), e.g. `QUORUM`.
    pub consistency: Option<String>,
    /// `WAIT <replicas> <timeout_ms>` after every write (a Redis primary with replicas); a
    /// reply with fewer replicas than asked is an error.
    pub wait: Option<(u32, u64)>,
    /// `AUTH` password, if the server wants one.
    pub password: Option<String>,
}

/// One TCP connection with its buffers (reused for every batch: no allocation per request once
/// they have grown to the batch's size).
pub struct RespConn {
    stream: TcpStream,
    wait: Option<(u32, u64)>,
    out: Vec<u8>,
    input: Vec<u8>,
    /// Replies expected for the batch being run, in order.
    expect: Vec<Expect>,
    /// `SCAN`'s cursor on this connection.
    cursor: Vec<u8>,
}

/// What a reply must look like to count as a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Anything but an error (`GET`, `SET`).
    NotError,
    /// `WAIT`: an integer of at least this many replicas.
    Replicas(u32),
    /// `SCAN`: `[cursor, [keys...]]`; the cursor is kept for the next scan.
    Scan,
}

impl RespTarget {
    pub async fn connect(&self) -> Result<RespConn, DriverError> {
        let addr = match self.spread.len() {
            0 => self.addr,
            n => {
                let i = NEXT_SERVER.fetch_add(1, Ordering::Relaxed) % (n + 1);
                if i == 0 {
                    self.addr
                } else {
                    self.spread[i - 1]
                }
            }
        };
        let fail = |message: String| DriverError::Connect {
            target: addr.to_string(),
            message,
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| fail("connect timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
        // Requests are small and latency is what is measured: never wait to coalesce them.
        stream.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
        let mut conn = RespConn {
            stream,
            wait: self.wait,
            out: Vec::with_capacity(4096),
            input: Vec::with_capacity(16 * 1024),
            expect: Vec::new(),
            cursor: b"0".to_vec(),
        };
        let mut setup: Vec<Vec<&[u8]>> = Vec::new();
        if let Some(password) = &self.password {
            setup.push(vec![b"AUTH", password.as_bytes()]);
        }
        if let Some(level) = &self.consistency {
            setup.push(vec![b"CONSISTENCY", level.as_bytes()]);
        }
        for command in setup {
            conn.out.clear();
            conn.expect.clear();
            encode(&mut conn.out, &command);
            conn.expect.push(Expect::NotError);
            conn.round_trip()
                .await
                .map_err(|e| fail(format!("{}: {e}", String::from_utf8_lossy(command[0]))))?;
        }
        Ok(conn)
    }

    pub fn describe(&self) -> String {
        let mut text = format!("resp {}", self.addr);
        if let Some(level) = &self.consistency {
            text.push_str(&format!(" {level}"));
        }
        if let Some((replicas, ms)) = self.wait {
            text.push_str(&format!(" WAIT {replicas} {ms}"));
        }
        text
    }
}

impl RespConn {
    pub async fn execute(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        // First round: every op's first command. Reads and writes go in one pipeline.
        self.out.clear();
        self.expect.clear();
        for op in ops {
            match op {
                Op::Read { key } | Op::ReadModifyWrite { key, .. } => {
                    encode(&mut self.out, &[b"GET", key]);
                    self.expect.push(Expect::NotError);
                }
                Op::Update { key, value } | Op::Insert { key, value } => self.push_set(key, value),
                Op::Scan { count, .. } => {
                    let count = count.to_string();
                    let cursor = std::mem::take(&mut self.cursor);
                    encode(
                        &mut self.out,
                        &[
                            b"SCAN",
                            &cursor,
                            b"MATCH",
                            b"user*",
                            b"COUNT",
                            count.as_bytes(),
                        ],
                    );
                    self.cursor = cursor;
                    self.expect.push(Expect::Scan);
                }
            }
        }
        let first = self.round_trip().await;
        // Second round: the writes of read-modify-writes, once their reads are answered.
        if matches!(first, Err(DriverError::Io(_) | DriverError::Timeout)) {
            return first;
        }
        if ops
            .iter()
            .any(|op| matches!(op, Op::ReadModifyWrite { .. }))
        {
            self.out.clear();
            self.expect.clear();
            for op in ops {
                if let Op::ReadModifyWrite { key, value } = op {
                    self.push_set(key, value);
                }
            }
            let second = self.round_trip().await;
            first?;
            return second;
        }
        first
    }

    fn push_set(&mut self, key: &[u8], value: &[u8]) {
        encode(&mut self.out, &[b"SET", key, value]);
        self.expect.push(Expect::NotError);
        if let Some((replicas, ms)) = self.wait {
            let (replicas_text, ms_text) = (replicas.to_string(), ms.to_string());
            encode(
                &mut self.out,
                &[b"WAIT", replicas_text.as_bytes(), ms_text.as_bytes()],
            );
            self.expect.push(Expect::Replicas(replicas));
        }
    }

    /// Writes `self.out` in one write and reads one reply per `self.expect`. Every reply is
    /// read even after an error reply, so the connection stays in step; the first failure is
    /// returned.
    async fn round_trip(&mut self) -> Result<(), DriverError> {
        match tokio::time::timeout(REPLY_TIMEOUT, self.round_trip_inner()).await {
            Ok(result) => result,
            Err(_) => Err(DriverError::Timeout),
        }
    }

    async fn round_trip_inner(&mut self) -> Result<(), DriverError> {
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| DriverError::Io(e.to_string()))?;
        self.input.clear();
        let mut parsed = 0;
        let mut next = 0;
        let mut failure = None;
        while next < self.expect.len() {
            match parse_reply(&self.input[parsed..]) {
                Ok(Some((reply, used))) => {
                    let at = parsed;
                    parsed += used;
                    let outcome = check(self.expect[next], &reply, &self.input[at..parsed]);
                    match outcome {
                        Ok(Some(cursor)) => self.cursor = cursor,
                        Ok(None) => {}
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                    next += 1;
                }
                Ok(None) => {
                    // Keep the unparsed tail only; read more after it.
                    if parsed > 0 {
                        self.input.drain(..parsed);
                        parsed = 0;
                    }
                    let read = self
                        .stream
                        .read_buf(&mut self.input)
                        .await
                        .map_err(|e| DriverError::Io(e.to_string()))?;
                    if read == 0 {
                        return Err(DriverError::Io("the server closed the connection".into()));
                    }
                }
                Err(e) => return Err(DriverError::Io(e.to_string())),
            }
        }
        if parsed < self.input.len() {
            return Err(DriverError::Io(format!(
                "{} bytes nobody asked for after the replies",
                self.input.len() - parsed
            )));
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Checks one reply against what its command expects; a `SCAN` reply gives the next cursor.
/// `raw` is the reply's bytes (the ranges in `reply` index into it).
fn check(expect: Expect, reply: &Reply, raw: &[u8]) -> Result<Option<Vec<u8>>, DriverError> {
    if let Reply::Error(range) = reply {
        return Err(DriverError::Server(
            String::from_utf8_lossy(&raw[range.clone()]).into_owned(),
        ));
    }
    match expect {
        Expect::NotError => Ok(None),
        Expect::Replicas(wanted) => match reply {
            Reply::Integer(got) if *got >= i64::from(wanted) => Ok(None),
            Reply::Integer(got) => Err(DriverError::Server(format!(
                "WAIT: {got} of {wanted} replicas acknowledged in time"
            ))),
            other => Err(DriverError::Io(format!("WAIT answered {other:?}"))),
        },
        Expect::Scan => match reply {
            Reply::Array(Some(items)) if items.len() == 2 => match &items[0] {
                Reply::Bulk(Some(cursor)) => Ok(Some(raw[cursor.clone()].to_vec())),
                other => Err(DriverError::Io(format!("SCAN cursor {other:?}"))),
            },
            other => Err(DriverError::Io(format!("SCAN answered {other:?}"))),
        },
    }
}

/// Appends one command as a RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_number(out, args.len());
    for arg in args {
        out.push(b'$');
        push_number(out, arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// `n` in decimal and CRLF, without a formatting machinery allocation.
fn push_number(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// One parsed reply. Strings are byte ranges into the buffer that was parsed (nothing copied);
/// only arrays allocate, and only `SCAN` answers one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+...`, and RESP3's simple types (`#`, `,`, `(`), whose text nobody here reads.
    Simple(Range<usize>),
    /// `-...`: the error's text.
    Error(Range<usize>),
    Integer(i64),
    /// `$n`: `None` is the null bulk string (`$-1`, or RESP3's `_`).
    Bulk(Option<Range<usize>>),
    /// `*n`: `None` is the null array (`*-1`).
    Array(Option<Vec<Reply>>),
}

/// Why bytes are not a reply.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Parses one reply from the start of `buf`: `Ok(None)` if it is not complete yet, else the
/// reply and how many bytes it took.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(reply) => Ok(Some((reply, pos))),
        None => Ok(None),
    }
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Reply>, ReplyError> {
    if depth > MAX_DEPTH {
        return Err(ReplyError::Protocol("replies nested too deep".into()));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let Some(line) = line_at(buf, *pos + 1) else {
        return Ok(None);
    };
    let after_line = line.end + 2;
    let reply = match kind {
        b'+' | b'#' | b',' | b'(' => Reply::Simple(line),
        b'-' => Reply::Error(line),
        b':' => Reply::Integer(number(&buf[line])?),
        b'_' => Reply::Bulk(None),
        b'$' | b'=' => {
            let len = number(&buf[line])?;
            if len == -1 {
                *pos = after_line;
                return Ok(Some(Reply::Bulk(None)));
            }
            if !(0..=MAX_BULK).contains(&len) {
                return Err(ReplyError::Protocol(format!("bulk length {len}")));
            }
            let len = len as usize;
            let end = after_line + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ReplyError::Protocol("bulk string not ended by CRLF".into()));
            }
            *pos = end + 2;
            return Ok(Some(Reply::Bulk(Some(after_line..end))));
        }
        b'*' | b'~' | b'>' | b'%' => {
            let count = number(&buf[line])?;
            if count == -1 {
                *pos = after_line;
                return Ok(Some(Reply::Array(None)));
            }
            if !(0..=MAX_ITEMS).contains(&count) {
                return Err(ReplyError::Protocol(format!("aggregate length {count}")));
            }
            // A map holds key and value for each of its `count` entries.
            let count = count as usize * if kind == b'%' { 2 } else { 1 };
            let mut at = after_line;
            // Capacity bounded by what the buffer could hold, not by what the header claims.
            let mut items = Vec::with_capacity(count.min(buf.len() / 3 + 1));
            for _ in 0..count {
                match parse_at(buf, &mut at, depth + 1)? {
                    Some(item) => items.push(item),
                    None => return Ok(None),
                }
            }
            *pos = at;
            return Ok(Some(Reply::Array(Some(items))));
        }
        other => {
            return Err(ReplyError::Protocol(format!(
                "unknown reply type byte {:?}",
                char::from(other)
            )))
        }
    };
    *pos = after_line;
    Ok(Some(reply))
}

/// The range of the line starting at `from`, up to (excluding) its CRLF, if it is complete.
fn line_at(buf: &[u8], from: usize) -> Option<Range<usize>> {
    let rest = buf.get(from..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some(from..from + cr)
}

fn number(text: &[u8]) -> Result<i64, ReplyError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ReplyError::Protocol(format!("not a number: {:?}", String::from_utf8_lossy(text)))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn whole(buf: &[u8]) -> Reply {
        let (reply, used) = parse_reply(buf).unwrap().unwrap();
        assert_eq!(used, buf.len(), "consumed all of {buf:?}");
        reply
    }

    #[test]
    fn parses_the_replies_a_benchmark_sees() {
        assert_eq!(whole(b"+OK\r\n"), Reply::Simple(1..3));
        assert_eq!(whole(b":42\r\n"), Reply::Integer(42));
        assert_eq!(whole(b"$-1\r\n"), Reply::Bulk(None));
        assert_eq!(whole(b"$5\r\nhello\r\n"), Reply::Bulk(Some(4..9)));
        assert_eq!(whole(b"$0\r\n\r\n"), Reply::Bulk(Some(4..4)));
        assert_eq!(whole(b"*-1\r\n"), Reply::Array(None));
        let scan = b"*2\r\n$2\r\n17\r\n*2\r\n$5\r\nuser1\r\n$5\r\nuser2\r\n";
        let Reply::Array(Some(items)) = whole(scan) else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            check(Expect::Scan, &Reply::Array(Some(items)), scan).unwrap(),
            Some(b"17".to_vec())
        );
        // Values may hold CRLF: the length decides, not the line.
        assert_eq!(whole(b"$4\r\na\r\nb\r\n"), Reply::Bulk(Some(4..8)));
    }

    #[test]
    fn a_reply_cut_anywhere_asks_for_more_bytes() {
        let full = b"*2\r\n$2\r\n17\r\n*2\r\n$5\r\nuser1\r\n$5\r\nuser2\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]), Ok(None), "cut at {cut}");
        }
        // Two replies back to back: the first is taken alone.
        let (reply, used) = parse_reply(b":1\r\n:2\r\n").unwrap().unwrap();
        assert_eq!((reply, used), (Reply::Integer(1), 4));
    }

    #[test]
    fn garbage_is_a_protocol_error_never_a_panic() {
        for bad in [
            &b"hello\r\n"[..],
            b":12x\r\n",
            b"$-2\r\n",
            b"$99999999999999999999\r\n",
            b"*-5\r\n",
            b"$3\r\nabcXY",
            b"*99999999999\r\n",
        ] {
            assert!(
                matches!(parse_reply(bad), Err(ReplyError::Protocol(_))),
                "{bad:?}"
            );
        }
        let deep = "*1\r\n".repeat(100);
        assert!(parse_reply(deep.as_bytes()).is_err());
        // Arbitrary bytes: any outcome but a panic.
        let alphabet = b"*$:+-\r\n0123456789-_%~";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2_000 {
            let bytes: Vec<u8> = (0..len % 64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse_reply(&bytes);
        }
    }

    #[test]
    fn error_replies_and_short_waits_are_driver_errors() {
        let raw = b"-ERR wrong number of arguments\r\n";
        let reply = whole(raw);
        match check(Expect::NotError, &reply, raw) {
            Err(DriverError::Server(text)) => assert_eq!(text, "ERR wrong number of arguments"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(Expect::Replicas(2), &Reply::Integer(1), b""),
            Err(DriverError::Server(_))
        ));
        assert!(check(Expect::Replicas(2), &Reply::Integer(2), b"").is_ok());
        assert!(check(Expect::Scan, &Reply::Integer(2), b"").is_err());
    }

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"SET", b"user1", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$5\r\nuser1\r\n$0\r\n\r\n");
    }
}
