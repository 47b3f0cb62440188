//! The HTTP admin listener (`[admin] listen`, loopback by default): `GET /metrics` (Prometheus
//! text, [`crate::metrics`]), `GET /health` (a small JSON document) and `GET /admin/<view>`, the
//! JSON documents of `ADMIN STATUS|RING|HINTS|NAMESPACES` ([`admin::VIEWS`]); an unknown
//! path's 404 lists them.
//!
//! A deliberately small HTTP/1.1 server on tokio rather than hyper: a few read-only pages, one
//! request per connection (`Connection: close`), no bodies. Every limit is bounded and
//! configurable: connections at once (`max_connections`; more are answered 503 and closed), the
//! request head's bytes (`max_request_bytes`, 431 beyond), its header lines (`max_headers`, 431)
//! and the time to send it (`request_timeout_ms`, 408). A malformed request line answers 400, an
//! unknown path 404, another method than GET or HEAD 405. Nothing a client
//! sends can panic the parser; the tests below feed it garbage.
//!
//! Owner: `crate::server::run`, which starts [`run`] as the task `admin-http` and stops it
//! with the node's shutdown signal.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::commands::admin;
use crate::metrics::{self, Metrics};
use crate::session::Shared;

/// Limits of the admin listener (`[admin]` in the config).
#[derive(Clone, Copy, Debug)]
pub struct AdminLimits {
    pub max_connections: usize,
    pub max_request_bytes: usize,
    pub max_headers: usize,
    pub request_timeout_ms: u64,
}

/// A request head this server understands.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The path, without its query string.
    pub path: String,
}

/// Why a request is refused before routing, with the status it answers.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("request header fields too large")]
    TooLarge,
}

impl HeadError {
    fn status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
        }
    }
}

/// Parses a request head from what has been read so far: `Ok(None)` while it is incomplete
/// (and still within the limits).
pub fn parse_head(buf: &[u8], limits: &AdminLimits) -> Result<Option<Head>, HeadError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= limits.max_request_bytes {
            return Err(HeadError::TooLarge);
        }
        // Header lines so far: refuse early rather than at the byte limit.
        if buf.split(|&b| b == b'\n').count() > limits.max_headers + 1 {
            return Err(HeadError::TooLarge);
        }
        return Ok(None);
    };
    if end + 4 > limits.max_request_bytes {
        return Err(HeadError::TooLarge);
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HeadError::Malformed("bad method"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Malformed("bad request target"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HeadError::Malformed("unsupported HTTP version"));
    }
    let mut headers = 0;
    for line in lines {
        headers += 1;
        if headers > limits.max_headers {
            return Err(HeadError::TooLarge);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HeadError::Malformed("bad header line"));
        };
        if name.is_empty() || name.contains(' ') {
            return Err(HeadError::Malformed("bad header name"));
        }
        // No bodies: a request announcing one is refused rather than half-read.
        let name = name.to_ascii_lowercase();
        let value = value.trim();
        if (name == "content-length" && value != "0") || name == "transfer-encoding" {
            return Err(HeadError::Malformed("request bodies are not accepted"));
        }
    }
    let path = target.split('?').next().unwrap_or(target).to_owned();
    Ok(Some(Head {
        method: method.to_owned(),
        path,
    }))
}

/// What the admin pages read.
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    pub shared: Arc<Shared>,
}

/// Accepts admin connections until shutdown.
pub async fn run(
    listener: TcpListener,
    state: Arc<AdminState>,
    limits: AdminLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut socket, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "admin accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    state.metrics.admin_bad_requests.fetch_add(1, Relaxed);
                    let _ = socket.write_all(&response(503, "text/plain", b"too many connections\n", false)).await;
                    continue;
                };
                let state = state.clone();
                connections.spawn(async move {
                    if let Err(e) = serve(socket, &state, &limits).await {
                        tracing::debug!(%peer, error = %e, "admin connection ended");
                    }
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.shutdown().await;
}

/// One request, one response, close.
async fn serve(
    mut socket: TcpStream,
    state: &AdminState,
    limits: &AdminLimits,
) -> std::io::Result<()> {
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    let head = match tokio::time::timeout(timeout, read_head(&mut socket, limits)).await {
        Ok(read) => match read? {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()), // the client left
            Err(e) => {
                state.metrics.admin_bad_requests.fetch_add(1, Relaxed);
                let body = format!("{e}\n");
                return send(
                    &mut socket,
                    response(e.status(), "text/plain", body.as_bytes(), false),
                )
                .await;
            }
        },
        Err(_) => {
            state.metrics.admin_bad_requests.fetch_add(1, Relaxed);
            return send(
                &mut socket,
                response(408, "text/plain", b"request timeout\n", false),
            )
            .await;
        }
    };
    state.metrics.admin_requests.fetch_add(1, Relaxed);
    let head_only = head.method == "HEAD";
    let reply = match head.path.as_str() {
        _ if head.method != "GET" && !head_only => {
            response(405, "text/plain", b"method not allowed\n", false)
        }
        "/metrics" => {
            let page = metrics_page(state).await;
            response(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                page.as_bytes(),
                head_only,
            )
        }
        "/health" => response(
            200,
            "application/json",
            health(&state.shared).as_bytes(),
            head_only,
        ),
        path => match path
            .strip_prefix("/admin/")
            .map(|v| admin::view(&state.shared, v))
        {
            Some(Some(view)) => {
                let mut body = serde_json::to_string_pretty(&view).unwrap_or_default();
                body.push('\n');
                response(200, "application/json", body.as_bytes(), head_only)
            }
            _ => response(404, "text/plain", not_found().as_bytes(), head_only),
        },
    };
    send(&mut socket, reply).await
}

/// The 404 body: every path this listener serves, the admin views from their one list.
fn not_found() -> String {
    let views: Vec<String> = admin::VIEWS.iter().map(|v| format!("/admin/{v}")).collect();
    format!("not found; try /metrics, /health, {}\n", views.join(", "))
}

async fn send(socket: &mut TcpStream, bytes: Vec<u8>) -> std::io::Result<()> {
    socket.write_all(&bytes).await?;
    socket.shutdown().await
}

/// Reads until a complete head, the client leaving (`None`) or a limit.
async fn read_head(
    socket: &mut TcpStream,
    limits: &AdminLimits,
) -> std::io::Result<Result<Option<Head>, HeadError>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match parse_head(&buf, limits) {
            Ok(None) => {}
            done => return Ok(done),
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Ok(None));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// The `/metrics` page: the registry plus the figures read now (storage size off the runtime).
async fn metrics_page(state: &AdminState) -> String {
    let mut figures = metrics::gather(&state.shared, &state.metrics);
    let registry = state.metrics.clone();
    figures.storage_bytes = tokio::task::spawn_blocking(move || registry.storage_bytes())
        .await
        .ok()
        .flatten();
    metrics::render(&state.metrics, &figures)
}

/// `/health`: `{"status":"ok","node":1,"uptime_seconds":5,"peers_up":2,"peers_down":0}`.
pub fn health(shared: &Shared) -> String {
    let peers = (shared.view.peers)();
    let up = peers.iter().filter(|(_, p)| p.up).count();
    format!(
        "{{\"status\":\"ok\",\"node\":{},\"uptime_seconds\":{},\"peers_up\":{},\"peers_down\":{}}}\n",
        shared.node.0,
        shared.started.elapsed().as_secs(),
        up,
        peers.len() - up
    )
}

fn response(status: u16, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_404_lists_every_path_served() {
        let body = not_found();
        for path in ["/metrics", "/health"] {
            assert!(body.contains(path), "{body}");
        }
        for view in admin::VIEWS {
            assert!(body.contains(&format!("/admin/{view}")), "{body}");
        }
    }

    const LIMITS: AdminLimits = AdminLimits {
        max_connections: 4,
        max_request_bytes: 256,
        max_headers: 4,
        request_timeout_ms: 1000,
    };

    fn parse(text: &str) -> Result<Option<Head>, HeadError> {
        parse_head(text.as_bytes(), &LIMITS)
    }

    #[test]
    fn a_get_parses_and_drops_its_query() {
        assert_eq!(
            parse("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(Some(Head {
                method: "GET".into(),
                path: "/metrics".into()
            }))
        );
        assert_eq!(parse("GET /health HTTP/1.1\r\nHost: a"), Ok(None));
    }

    #[test]
    fn bad_request_lines_are_malformed() {
        for bad in [
            "GET\r\n\r\n",
            "GET /metrics\r\n\r\n",
            "GET /metrics HTTP/1.1 extra\r\n\r\n",
            "get /metrics HTTP/1.1\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/2\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            "\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(HeadError::Malformed(_))),
                "{bad:?} -> {:?}",
                parse(bad)
            );
        }
        assert_eq!(HeadError::Malformed("x").status(), 400);
    }

    #[test]
    fn oversized_heads_are_too_large() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(300));
        assert_eq!(parse(&long), Err(HeadError::TooLarge));
        let incomplete = "a".repeat(256);
        assert_eq!(parse(&incomplete), Err(HeadError::TooLarge));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "H: v\r\n".repeat(5));
        assert_eq!(parse(&many), Err(HeadError::TooLarge));
        let many_incomplete = "GET / HTTP/1.1\r\nA: b\r\nA: b\r\nA: b\r\nA: b\r\nA: b\r\n";
        assert_eq!(parse(many_incomplete), Err(HeadError::TooLarge));
        assert_eq!(HeadError::TooLarge.status(), 431);
    }

    #[test]
    fn responses_carry_length_and_close() {
        let r = String::from_utf8(response(405, "text/plain", b"no\n", false)).unwrap_or_default();
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(r.contains("Allow: GET, HEAD\r\n"));
        assert!(r.contains("Content-Length: 3\r\n"));
        assert!(r.ends_with("\r\n\r\nno\n"));
        let head = response(200, "text/plain", b"body", true);
        assert!(!String::from_utf8_lossy(&head).contains("body"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_head(&bytes, &LIMITS);
        }
    }
}
