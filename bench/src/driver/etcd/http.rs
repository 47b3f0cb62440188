//! The client side of HTTP/1.1, as much as the etcd gateway needs: `POST` requests with a
//! `Content-Length` body, and responses delimited by `Content-Length` or by chunked transfer
//! encoding (etcd's gateway, a Go `net/http` server, switches to chunked once a response no
//! longer fits its write buffer, e.g. a scan of many values).
//!
//! The parser is incremental and never panics: [`parse_response`] looks at the bytes read so far
//! and answers "need more", one complete response (and how many bytes it took), or an error for
//! input that is not HTTP. A response whose length is only known when the server closes the
//! connection is refused: etcd never sends one, and waiting for a close would hang a keep-alive
//! client.

/// The longest status line plus headers accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted (a scan of many large values stays far below).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4 * 1024;

/// One parsed response.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server will close the connection after this response (`Connection: close`, or
    /// HTTP/1.0 without keep-alive): the next request needs a new connection.
    pub close: bool,
}

/// Why the bytes received are not an acceptable HTTP/1.1 response.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("malformed status line {0:?}")]
    StatusLine(String),
    #[error("malformed header line {0:?}")]
    Header(String),
    #[error("status line and headers longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    #[error("body longer than {MAX_BODY} bytes")]
    BodyTooLong,
    #[error("malformed Content-Length {0:?}")]
    ContentLength(String),
    #[error("unsupported Transfer-Encoding {0:?}")]
    TransferEncoding(String),
    #[error("malformed chunked body: {0}")]
    Chunk(&'static str),
    #[error("response has neither Content-Length nor chunked encoding")]
    NoLength,
}

/// Appends a `POST` request with a JSON body to `out`.
pub fn write_post(out: &mut Vec<u8>, host: &str, path: &str, body: &[u8]) {
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Parses the response at the start of `buf`: `Ok(None)` if more bytes are needed,
/// `Ok(Some((response, consumed)))` once it is complete. Informational (1xx) responses before
/// it are skipped (and counted in `consumed`).
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HttpError> {
    let mut start = 0;
    loop {
        let Some((head, head_len)) = parse_head(&buf[start..])? else {
            return Ok(None);
        };
        let body_start = start + head_len;
        if (100..200).contains(&head.status) {
            start = body_start;
            continue;
        }
        let rest = &buf[body_start..];
        let (body, body_len) = if head.status == 204 || head.status == 304 {
            (Vec::new(), 0)
        } else if head.chunked {
            match parse_chunked(rest)? {
                Some(done) => done,
                None => return Ok(None),
            }
        } else if let Some(length) = head.content_length {
            if length > MAX_BODY {
                return Err(HttpError::BodyTooLong);
            }
            if rest.len() < length {
                return Ok(None);
            }
            (rest[..length].to_vec(), length)
        } else {
            return Err(HttpError::NoLength);
        };
        let response = Response {
            status: head.status,
            body,
            close: head.close,
        };
        return Ok(Some((response, body_start + body_len)));
    }
}

/// What the status line and headers say.
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

/// Parses the status line and headers; `Ok(None)` until the empty line that ends them.
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD + 4)];
    let Some(end) = find(window, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        // Not HTTP at all: say so now instead of waiting for a blank line that never comes.
        let prefix = &buf[..buf.len().min(7)];
        if !b"HTTP/1.".starts_with(prefix) {
            return Err(HttpError::StatusLine(lossy(&buf[..buf.len().min(80)])));
        }
        return Ok(None);
    };
    let text = &buf[..end];
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let (status, http10) = parse_status_line(status_line)?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        close: http10,
    };
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(HttpError::Header(lossy(line)));
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(HttpError::Header(lossy(line)));
        }
        let value = std::str::from_utf8(&line[colon + 1..])
            .map_err(|_| HttpError::Header(lossy(line)))?
            .trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            let length: usize = value
                .parse()
                .map_err(|_| HttpError::ContentLength(value.to_owned()))?;
            if head.content_length.is_some_and(|l| l != length) {
                return Err(HttpError::ContentLength(value.to_owned()));
            }
            head.content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::TransferEncoding(value.to_owned()));
            }
            head.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                    head.close = false;
                }
            }
        }
    }
    Ok(Some((head, end + 4)))
}

/// `HTTP/1.x SSS reason` → (status, whether it is HTTP/1.0).
fn parse_status_line(line: &[u8]) -> Result<(u16, bool), HttpError> {
    let bad = || HttpError::StatusLine(lossy(line));
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad()),
    };
    let code = parts.next().unwrap_or_default();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..600).contains(&status) {
        return Err(bad());
    }
    Ok((status, http10))
}

/// Decodes a chunked body at the start of `buf`: `Ok(None)` until its last chunk and trailers
/// are in, then the body and the bytes it took.
fn parse_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(line) = next_line(&buf[pos..])? else {
            return Ok(None);
        };
        let size_text = &buf[pos..pos + line];
        pos += line + 2;
        // Chunk extensions (`;name=value`) carry nothing the client needs.
        let size_text = size_text
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        if size_text.is_empty() || size_text.len() > 15 {
            return Err(HttpError::Chunk("bad chunk size"));
        }
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(HttpError::Chunk("bad chunk size"))?;
        if size == 0 {
            // Trailer lines (ignored), then an empty line.
            loop {
                let Some(line) = next_line(&buf[pos..])? else {
                    return Ok(None);
                };
                pos += line + 2;
                if line == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(HttpError::BodyTooLong);
        }
        let Some(chunk) = buf.get(pos..pos + size + 2) else {
            return Ok(None);
        };
        if &chunk[size..] != b"\r\n" {
            return Err(HttpError::Chunk("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&chunk[..size]);
        pos += size + 2;
    }
}

/// The length of the line at the start of `buf` (without its CRLF), `None` if it is not all
/// in yet.
fn next_line(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    match find(&buf[..buf.len().min(MAX_LINE + 2)], b"\r\n") {
        Some(end) => Ok(Some(end)),
        None if buf.len() > MAX_LINE => Err(HttpError::Chunk("line too long")),
        None => Ok(None),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETCD_PUT: &[u8] = b"HTTP/1.1 200 OK\r\n\
        Access-Control-Allow-Origin: *\r\n\
        Content-Type: application/json\r\n\
        Grpc-Metadata-Content-Type: application/grpc\r\n\
        Date: Sun, 29 Nov 2026 10:35:59 GMT\r\n\
        Content-Length: 27\r\n\
        \r\n\
        {\"header\":{\"revision\":\"2\"}}";

    fn complete(buf: &[u8]) -> (Response, usize) {
        match parse_response(buf) {
            Ok(Some(done)) => done,
            other => panic!("expected a complete response, got {other:?}"),
        }
    }

    #[test]
    fn builds_a_post_with_its_length() {
        let mut out = Vec::new();
        write_post(&mut out, "127.0.0.1:2379", "/v3/kv/put", b"{}");
        assert_eq!(
            out,
            b"POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn parses_a_content_length_response_as_etcd_sends_it() {
        let (response, used) = complete(ETCD_PUT);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"{\"header\":{\"revision\":\"2\"}}");
        assert!(!response.close);
        assert_eq!(used, ETCD_PUT.len());
    }

    #[test]
    fn waits_for_every_byte_of_a_split_response() {
        for cut in 0..ETCD_PUT.len() {
            assert_eq!(parse_response(&ETCD_PUT[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn leaves_the_next_response_in_the_buffer() {
        let mut two = ETCD_PUT.to_vec();
        two.extend_from_slice(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let (first, used) = complete(&two);
        assert_eq!(first.status, 200);
        let (second, used2) = complete(&two[used..]);
        assert_eq!(second.status, 404);
        assert!(second.body.is_empty());
        assert_eq!(used + used2, two.len());
    }

    #[test]
    fn decodes_chunked_bodies_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\n";
        let (response, used) = complete(raw);
        assert_eq!(response.body, b"hello, world");
        assert_eq!(used, raw.len());
        for cut in 0..raw.len() {
            assert_eq!(parse_response(&raw[..cut]), Ok(None), "cut at {cut}");
        }
        let upper =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(complete(upper).0.body, b"0123456789");
    }

    #[test]
    fn reports_connection_close_and_http_1_0() {
        let raw =
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno";
        let (response, _) = complete(raw);
        assert_eq!((response.status, response.close), (503, true));
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(complete(old).0.close);
        let kept = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(!complete(kept).0.close);
    }

    #[test]
    fn skips_informational_responses_and_bodyless_statuses() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let (response, used) = complete(raw);
        assert_eq!(response.status, 204);
        assert_eq!(used, raw.len());
    }

    #[test]
    fn rejects_garbage_with_an_error() {
        let cases: [&[u8]; 11] = [
            b"hello world\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.2\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 999 What\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
        ];
        for raw in cases {
            assert!(
                parse_response(raw).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(raw)
            );
        }
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(HttpError::NoLength)
        );
    }

    #[test]
    fn refuses_endless_headers_and_huge_bodies() {
        let mut long = b"HTTP/1.1 200 OK\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(parse_response(&long), Err(HttpError::HeadTooLong));
        let huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(parse_response(huge.as_bytes()), Err(HttpError::BodyTooLong));
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n";
        assert!(parse_response(chunk).is_err());
    }

    #[test]
    fn never_panics_on_random_bytes() {
        // xorshift: deterministic noise, with a valid prefix now and then to reach deeper code.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"HTP/1. 0123456789:\r\nabcdefABCDEF;chunkedContent-Length";
        for round in 0..20_000 {
            let len = (next() % 120) as usize;
            let mut raw: Vec<u8> = if round % 2 == 0 {
                b"HTTP/1.1 200 OK\r\n".to_vec()
            } else {
                Vec::new()
            };
            for _ in 0..len {
                let r = next();
                raw.push(if r % 4 == 0 {
                    r as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                });
            }
            let _ = parse_response(&raw);
        }
    }
}
