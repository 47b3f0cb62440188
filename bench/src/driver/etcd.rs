//! etcd v3 through its JSON gRPC gateway (`POST /v3/kv/put`, `POST /v3/kv/range`), over
//! HTTP/1.1 keep-alive connections.
//!
//! Why the gateway and not gRPC: it needs no protobuf toolchain, and it is the same server path
//! (the gateway is an in-process gRPC client of the etcd server it runs in) at the cost of JSON
//! and base64 on both sides, which the report states. etcd 3.4 serves the gateway under both
//! `/v3beta/` and `/v3/`; `/v3/` is the path 3.4 and later keep.
//!
//! Requests: a read is `range {"key"}`, linearizable unless the target asks for serializable
//! reads; an update or insert is `put {"key","value"}`; a scan is `range` from its start key to
//! the end of the keyspace (`range_end` = `\0`) with `limit`; a read-modify-write is a range then
//! a put (two round trips). Keys and values travel as base64 ([`base64`]).
//!
//! Batches: a batch of several operations (`--pipeline P`) is sent one request after another on
//! the same connection, each answered before the next is written. HTTP/1.1 pipelining is not
//! used: servers and proxies may serialise, reorder-protect or drop it (Go's `net/http` reads
//! the next request only after answering the current one), so it would measure the HTTP stack,
//! not etcd. A pipelined etcd run therefore measures sequential requests per connection; the
//! report's figures for etcd use pipeline 1.

mod base64;
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DriverError, Op};

/// Longest wait for a connection or for one request's answer. Above etcd's own request timeout
/// (5 s plus election time in 3.4), so etcd's error answer arrives first when it has one.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `range_end` for "every key from `key` on" (a single zero byte, in base64).
const TO_THE_END: &str = "AA==";

/// Connections are spread over the endpoints in turn, across every target in the process.
static NEXT_ENDPOINT: AtomicUsize = AtomicUsize::new(0);

/// An etcd cluster's client URLs; every connection talks to one endpoint (round-robin by
/// connection), as etcd's own benchmark tool does.
#[derive(Clone, Debug)]
pub struct EtcdTarget {
    pub endpoints: Vec<SocketAddr>,
    /// `true`: linearizable reads (etcd's default); `false`: serializable reads.
    pub linearizable: bool,
}

/// One keep-alive connection to one endpoint. A connection the server closes (or that fails)
/// is opened again at the next request.
#[derive(Debug)]
pub struct EtcdConn {
    endpoint: SocketAddr,
    /// The `Host` header.
    host: String,
    linearizable: bool,
    stream: Option<TcpStream>,
    /// Scratch buffers, reused for every request.
    body: String,
    request: Vec<u8>,
    received: Vec<u8>,
}

impl EtcdTarget {
    pub async fn connect(&self) -> Result<EtcdConn, DriverError> {
        if self.endpoints.is_empty() {
            return Err(DriverError::Connect {
                target: self.describe(),
                message: "no endpoints".into(),
            });
        }
        let turn = NEXT_ENDPOINT.fetch_add(1, Ordering::Relaxed);
        let endpoint = self.endpoints[turn % self.endpoints.len()];
        let mut conn = EtcdConn {
            endpoint,
            host: endpoint.to_string(),
            linearizable: self.linearizable,
            stream: None,
            body: String::with_capacity(512),
            request: Vec::with_capacity(1024),
            received: Vec::with_capacity(4096),
        };
        conn.stream = Some(open(endpoint).await?);
        Ok(conn)
    }

    pub fn describe(&self) -> String {
        let endpoints: Vec<String> = self.endpoints.iter().map(|e| e.to_string()).collect();
        format!(
            "etcd {} ({} reads)",
            endpoints.join(","),
            if self.linearizable {
                "linearizable"
            } else {
                "serializable"
            }
        )
    }
}

async fn open(endpoint: SocketAddr) -> Result<TcpStream, DriverError> {
    let failed = |message: String| DriverError::Connect {
        target: format!("etcd {endpoint}"),
        message,
    };
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(endpoint))
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(|e| failed(e.to_string()))?;
    // Small requests, each waited for: Nagle's algorithm would only add delay.
    stream
        .set_nodelay(true)
        .map_err(|e| failed(e.to_string()))?;
    Ok(stream)
}

impl EtcdConn {
    /// Runs `ops` one after another (see the module docs on batches); stops at the first
    /// failure.
    pub async fn execute(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        for op in ops {
            match op {
                Op::Read { key } => self.range(key, None).await?,
                Op::Update { key, value } | Op::Insert { key, value } => {
                    self.put(key, value).await?
                }
                Op::Scan { start, count } => self.range(start, Some(*count)).await?,
                Op::ReadModifyWrite { key, value } => {
                    self.range(key, None).await?;
                    self.put(key, value).await?;
                }
            }
        }
        Ok(())
    }

    async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), DriverError> {
        self.body.clear();
        self.body.push_str("{\"key\":\"");
        base64::encode_into(key, &mut self.body);
        self.body.push_str("\",\"value\":\"");
        base64::encode_into(value, &mut self.body);
        self.body.push_str("\"}");
        self.call("/v3/kv/put").await
    }

    /// One key, or with `limit` every key from `key` on, at most `limit` of them.
    async fn range(&mut self, key: &[u8], limit: Option<usize>) -> Result<(), DriverError> {
        self.body.clear();
        self.body.push_str("{\"key\":\"");
        base64::encode_into(key, &mut self.body);
        self.body.push('"');
        if let Some(limit) = limit {
            self.body.push_str(",\"range_end\":\"");
            self.body.push_str(TO_THE_END);
            self.body.push_str("\",\"limit\":");
            self.body.push_str(&limit.to_string());
        }
        if !self.linearizable {
            self.body.push_str(",\"serializable\":true");
        }
        self.body.push('}');
        self.call("/v3/kv/range").await
    }

    /// Sends the request in `self.body` to `path` and waits for its answer. A connection that
    /// failed, timed out or answered garbage is dropped: its state is unknown (a late answer
    /// would be taken for the next request's).
    async fn call(&mut self, path: &str) -> Result<(), DriverError> {
        let result = match tokio::time::timeout(TIMEOUT, self.round_trip(path)).await {
            Ok(result) => result,
            Err(_) => Err(DriverError::Timeout),
        };
        if matches!(&result, Err(e) if !matches!(e, DriverError::Server(_))) {
            self.stream = None;
        }
        result
    }

    /// One request and its answer. A server that announces it will close the connection gets
    /// a new one at the next request.
    async fn round_trip(&mut self, path: &str) -> Result<(), DriverError> {
        if self.stream.is_none() {
            self.stream = Some(open(self.endpoint).await?);
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| DriverError::Io("no connection".into()))?;
        self.request.clear();
        http::write_post(&mut self.request, &self.host, path, self.body.as_bytes());
        stream
            .write_all(&self.request)
            .await
            .map_err(|e| DriverError::Io(e.to_string()))?;
        self.received.clear();
        let (response, used) = loop {
            match http::parse_response(&self.received) {
                Ok(Some(done)) => break done,
                Ok(None) => {}
                Err(e) => return Err(DriverError::Io(format!("etcd answered: {e}"))),
            }
            let read = stream
                .read_buf(&mut self.received)
                .await
                .map_err(|e| DriverError::Io(e.to_string()))?;
            if read == 0 {
                return Err(DriverError::Io("etcd closed the connection".into()));
            }
        };
        if used != self.received.len() {
            // Nothing was asked for: bytes after the answer mean the stream is out of step.
            return Err(DriverError::Io(
                "etcd sent more than one answer to one request".into(),
            ));
        }
        if response.close {
            self.stream = None;
        }
        if response.status != 200 {
            return Err(DriverError::Server(format!(
                "HTTP {}: {}",
                response.status,
                error_message(&response.body)
            )));
        }
        Ok(())
    }
}

/// The gateway's error text (`{"error": ..., "message": ..., "code": ...}`), else the body.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")))
        .and_then(|m| m.as_str())
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn error_messages_come_from_the_gateway_json() {
        assert_eq!(
            error_message(br#"{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}"#),
            "etcdserver: request timed out"
        );
        assert_eq!(error_message(b"not json"), "not json");
    }

    /// A fake gateway: answers each request with the next canned response and records what
    /// it was sent.
    async fn fake(responses: Vec<&'static [u8]>) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut socket, _) = listener.accept().await.expect("accept");
            for response in responses {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.expect("read");
                seen.extend_from_slice(&buf[..n]);
                socket.write_all(response).await.expect("write");
            }
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn puts_and_reads_through_the_gateway_paths() {
        let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let chunked: &[u8] =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let (addr, server) = fake(vec![ok, chunked, ok]).await;
        let target = EtcdTarget {
            endpoints: vec![addr],
            linearizable: false,
        };
        let mut conn = target.connect().await.expect("connect");
        let ops = [
            Op::Insert {
                key: b"foo".to_vec(),
                value: b"bar".to_vec(),
            },
            Op::Read {
                key: b"foo".to_vec(),
            },
            Op::Scan {
                start: b"f".to_vec(),
                count: 10,
            },
        ];
        conn.execute(&ops).await.expect("three answers");
        let seen = String::from_utf8(server.await.expect("server")).expect("utf8");
        assert!(seen.contains("POST /v3/kv/put HTTP/1.1\r\n"));
        assert!(seen.contains(r#"{"key":"Zm9v","value":"YmFy"}"#));
        assert!(seen.contains(r#"{"key":"Zm9v","serializable":true}"#));
        assert!(
            seen.contains(r#"{"key":"Zg==","range_end":"AA==","limit":10,"serializable":true}"#)
        );
    }

    #[tokio::test]
    async fn an_error_status_is_a_server_error_and_keeps_the_connection() {
        let busy: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 44\r\n\r\n{\"message\":\"etcdserver: leader changed\"}    ";
        let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        let (addr, _server) = fake(vec![busy, ok]).await;
        let target = EtcdTarget {
            endpoints: vec![addr],
            linearizable: true,
        };
        let mut conn = target.connect().await.expect("connect");
        let read = [Op::Read { key: b"k".to_vec() }];
        match conn.execute(&read).await {
            Err(DriverError::Server(message)) => assert!(message.contains("leader changed")),
            other => panic!("expected a server error, got {other:?}"),
        }
        conn.execute(&read)
            .await
            .expect("same connection answers again");
    }

    #[tokio::test]
    async fn garbage_or_a_closed_connection_is_an_error_not_a_panic() {
        let (addr, _server) = fake(vec![b"SSH-2.0-OpenSSH\r\n"]).await;
        let target = EtcdTarget {
            endpoints: vec![addr],
            linearizable: true,
        };
        let mut conn = target.connect().await.expect("connect");
        let read = [Op::Read { key: b"k".to_vec() }];
        assert!(matches!(conn.execute(&read).await, Err(DriverError::Io(_))));
        // The fake has gone: reconnecting fails cleanly too.
        assert!(conn.execute(&read).await.is_err());
    }
}
