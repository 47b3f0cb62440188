//! A minimal RESP client for `kvorum admin`: one TCP connection per node, one command at a
//! time, every step under a deadline (a paused node accepts connections but never answers).

use std::time::Duration;

use bytes::BytesMut;
use kvorum_resp::{encode_command, parse_frame, Frame, Limits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest reply accepted from a node: admin answers are small, this only bounds a
/// misbehaving peer.
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// Why a node's answer could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} did not answer within {ms} ms")]
    Timeout { addr: String, ms: u128 },
    #[error("talking to {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} closed the connection")]
    Closed { addr: String },
    #[error("{addr} sent a malformed reply: {message}")]
    Protocol { addr: String, message: String },
    #[error("{addr} answered: {message}")]
    Server { addr: String, message: String },
    #[error("{addr} answered something that is not an admin document: {message}")]
    Document { addr: String, message: String },
}

/// One connection to one node.
pub struct Client {
    addr: String,
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Client {
    /// Connects and, with a password, authenticates.
    pub async fn connect(
        addr: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Client, AdminError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| AdminError::Timeout {
                addr: addr.to_owned(),
                ms: timeout.as_millis(),
            })?
            .map_err(|source| AdminError::Connect {
                addr: addr.to_owned(),
                source,
            })?;
        let mut client = Client {
            addr: addr.to_owned(),
            stream,
            buf: BytesMut::with_capacity(4096),
            timeout,
        };
        if let Some(password) = password {
            client.call(&[b"AUTH", password.as_bytes()]).await?;
        }
        Ok(client)
    }

    /// Sends one command and waits for its reply; an error reply is an [`AdminError::Server`].
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Frame, AdminError> {
        let ms = self.timeout.as_millis();
        let addr = self.addr.clone();
        tokio::time::timeout(self.timeout, self.exchange(args))
            .await
            .map_err(|_| AdminError::Timeout { addr, ms })?
    }

    async fn exchange(&mut self, args: &[&[u8]]) -> Result<Frame, AdminError> {
        let io = |source| AdminError::Io {
            addr: self.addr.clone(),
            source,
        };
        let mut out = BytesMut::new();
        encode_command(args, &mut out);
        self.stream.write_all(&out).await.map_err(io)?;
        let limits = Limits {
            max_bulk_bytes: MAX_REPLY_BYTES,
            max_query_bytes: MAX_REPLY_BYTES,
            ..Limits::default()
        };
        loop {
            match parse_frame(&mut self.buf, &limits) {
                Ok(Some(Frame::Error(message))) => {
                    return Err(AdminError::Server {
                        addr: self.addr.clone(),
                        message: String::from_utf8_lossy(&message).into_owned(),
                    })
                }
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => {
                    return Err(AdminError::Protocol {
                        addr: self.addr.clone(),
                        message: e.to_string(),
                    })
                }
            }
            let read = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| AdminError::Io {
                    addr: self.addr.clone(),
                    source,
                })?;
            if read == 0 {
                return Err(AdminError::Closed {
                    addr: self.addr.clone(),
                });
            }
        }
    }

    /// Sends an `ADMIN ...` command and parses its JSON document, checking its format.
    pub async fn admin(&mut self, args: &[&[u8]]) -> Result<Value, AdminError> {
        let frame = self.call(args).await?;
        let document = |message: String| AdminError::Document {
            addr: self.addr.clone(),
            message,
        };
        let bytes = frame
            .as_bytes()
            .ok_or_else(|| document(format!("expected a bulk string, got {frame:?}")))?;
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| document(format!("invalid JSON: {e}")))?;
        match value.get("format").and_then(Value::as_u64) {
            Some(crate::commands::admin::FORMAT) => Ok(value),
            other => Err(document(format!(
                "format {other:?}, this kvorum reads format {}",
                crate::commands::admin::FORMAT
            ))),
        }
    }
}

/// Connects to `addr` and runs one `ADMIN` command.
pub async fn ask(
    addr: &str,
    password: Option<&str>,
    timeout: Duration,
    args: &[&[u8]],
) -> Result<Value, AdminError> {
    let mut client = Client::connect(addr, password, timeout).await?;
    client.admin(args).await
}
