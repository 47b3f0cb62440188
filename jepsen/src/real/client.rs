//! A blocking RESP connection to one node, and the `ok` / `fail` / `info` discipline.
//!
//! A reply is `fail` only when it proves the command was not applied: `-UNAVAILABLE` (too few
//! replicas reachable to try), a Redis refusal (`-ERR`, `-WRONGTYPE`: refused before anything
//! changed), or a connection that could not be opened or written before anything was sent.
//! Everything else that is not a success is `info`: `-TIMEOUT`, a connection lost after the
//! command went out, a reply that did not arrive in time, an error text we do not know.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use kvorum_resp::{encode_command, parse_frame, Frame, Limits};

use crate::history::OpOutcome;

/// How a command ended, in history terms.
#[derive(Clone, Debug)]
pub enum Answer {
    /// The node answered without an error.
    Ok(Frame),
    /// The command was definitely not applied; the text says why.
    Fail(String),
    /// The command may or may not have been applied.
    Info(String),
}

impl Answer {
    pub fn outcome(&self) -> OpOutcome {
        match self {
            Answer::Ok(_) => OpOutcome::Ok,
            Answer::Fail(_) => OpOutcome::Fail,
            Answer::Info(_) => OpOutcome::Info,
        }
    }

    /// The note the history keeps: the error text, or `ok`.
    pub fn note(&self) -> String {
        match self {
            Answer::Ok(_) => "ok".to_owned(),
            Answer::Fail(text) | Answer::Info(text) => text.clone(),
        }
    }
}

/// Classifies an error reply by its code (the first word).
pub fn classify_error(text: &str) -> Answer {
    let code = text.split_whitespace().next().unwrap_or("");
    match code {
        "UNAVAILABLE" | "WRONGTYPE" | "NOAUTH" | "WRONGPASS" => Answer::Fail(text.to_owned()),
        // `-ERR` is a refusal before anything was applied, except a multi-key write that says
        // part of it was.
        "ERR" if !text.contains("partially applied") => Answer::Fail(text.to_owned()),
        _ => Answer::Info(text.to_owned()),
    }
}

/// One connection; reconnects lazily after an error.
pub struct Connection {
    addr: SocketAddr,
    timeout: Duration,
    /// Commands sent first on every new connection (`CONSISTENCY STRONG`).
    setup: Vec<Vec<String>>,
    stream: Option<TcpStream>,
    buf: BytesMut,
}

/// Replies larger than this are a protocol error here (the workloads' are small).
const REPLY_LIMITS: Limits = Limits {
    max_bulk_bytes: 16 << 20,
    max_array_len: 1 << 20,
    max_nesting_depth: 8,
    max_inline_bytes: 64 << 10,
    max_query_bytes: 64 << 20,
};

impl Connection {
    pub fn new(addr: SocketAddr, timeout: Duration, setup: Vec<Vec<String>>) -> Self {
        Connection {
            addr,
            timeout,
            setup,
            stream: None,
            buf: BytesMut::new(),
        }
    }

    /// Sends one command and waits for its reply.
    pub fn call(&mut self, args: &[&str]) -> Answer {
        if self.stream.is_none() {
            if let Err(e) = self.open() {
                // Nothing of this command was sent.
                return Answer::Fail(format!("connect: {e}"));
            }
        }
        match self.exchange(args) {
            Ok(Frame::Error(text)) => classify_error(&String::from_utf8_lossy(&text)),
            Ok(frame) => Answer::Ok(frame),
            Err(Exchange::NotSent(e)) => {
                self.stream = None;
                Answer::Fail(format!("send: {e}"))
            }
            Err(Exchange::Lost(e)) => {
                self.stream = None;
                Answer::Info(e)
            }
        }
    }

    /// Drops the connection (the next call opens a new one).
    pub fn reset(&mut self) {
        self.stream = None;
    }

    fn open(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect_timeout(&self.addr, self.timeout)
            .map_err(|e| format!("{} ({e})", self.addr))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.timeout)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| e.to_string())?;
        self.stream = Some(stream);
        self.buf.clear();
        for command in self.setup.clone() {
            let words: Vec<&str> = command.iter().map(String::as_str).collect();
            match self.exchange(&words) {
                Ok(Frame::Error(text)) => {
                    self.stream = None;
                    return Err(format!(
                        "{words:?} refused: {}",
                        String::from_utf8_lossy(&text)
                    ));
                }
                Ok(_) => {}
                Err(Exchange::NotSent(e) | Exchange::Lost(e)) => {
                    self.stream = None;
                    return Err(format!("{words:?}: {e}"));
                }
            }
        }
        Ok(())
    }

    fn exchange(&mut self, args: &[&str]) -> Result<Frame, Exchange> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Exchange::NotSent("not connected".to_owned()));
        };
        let mut out = BytesMut::new();
        let words: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        encode_command(&words, &mut out);
        // A write error may still have put part of the command on the wire; only a write
        // that sent nothing at all is "not sent".
        let mut sent = 0;
        while sent < out.len() {
            match stream.write(&out[sent..]) {
                Ok(0) => return Err(lost_or_not(sent, "connection closed".to_owned())),
                Ok(n) => sent += n,
                Err(e) => return Err(lost_or_not(sent, e.to_string())),
            }
        }
        let mut chunk = [0u8; 16 << 10];
        loop {
            match parse_frame(&mut self.buf, &REPLY_LIMITS) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(Exchange::Lost(format!("bad reply: {e}"))),
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Err(Exchange::Lost("connection closed".to_owned())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Exchange::Lost(format!(
                        "no reply within {} ms",
                        self.timeout.as_millis()
                    )))
                }
                Err(e) => return Err(Exchange::Lost(e.to_string())),
            }
        }
    }
}

enum Exchange {
    NotSent(String),
    Lost(String),
}

fn lost_or_not(sent: usize, e: String) -> Exchange {
    if sent == 0 {
        Exchange::NotSent(e)
    } else {
        Exchange::Lost(e)
    }
}

/// The text of a bulk or simple reply.
pub fn text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_prove_nothing_was_applied_are_failures() {
        let fail = |t: &str| matches!(classify_error(t), Answer::Fail(_));
        assert!(fail(
            "UNAVAILABLE not enough replicas reachable: needed 2, reachable 1"
        ));
        assert!(fail("ERR value is not an integer or out of range"));
        assert!(fail(
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        ));
        assert!(!fail(
            "TIMEOUT 1 of 2 required replicas answered within 2000 ms; a write may have been applied"
        ));
        assert!(!fail("ERR MSET partially applied: 1 of 2 keys written"));
        assert!(!fail("SOMETHINGNEW we have never seen"));
    }
}
