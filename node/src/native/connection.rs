//! One native connection: the hello deadline, then one task per bidirectional stream.
//!
//! Each stream carries exchanges one after another: the client's [`Request`] frame, then the
//! node's [`Response`] frame, then the next request, until the client finishes its side (the
//! node then finishes its own). Streams are independent, so a
//! slow request never holds up another; QUIC's stream limit bounds how many run at once. It is
//! one until the connection has said a successful hello, then `max_streams_per_connection`: a
//! client that has not authenticated cannot make the node hold more than one of its requests.
//!
//! A stream whose frame cannot be read (too large, not a request, cut short) is answered with
//! an `Invalid` error and ends; a stream the client resets is dropped. Neither affects the
//! connection's other streams.
//!
//! When the client goes away, the connection's running requests are still waited for (each is
//! bounded by its timeout): a write that was submitted finishes and its answer reaches the
//! de-duplication table, where a resend of it on a new connection finds it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kvorum_wire::frame::{encode_frame, read_frame, write_encoded};
use kvorum_wire::native::{Applied, Body, ErrorKind, ErrorReply, Request, Response};
use kvorum_wire::FrameError;
use quinn::{Connection, RecvStream, SendStream, VarInt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::{close, close_with, exec, hello, topology, Native};

/// What the stream tasks of one connection share.
pub(super) struct ConnState {
    conn: Connection,
    /// Set by the first successful hello; never cleared.
    welcomed: AtomicBool,
    /// The client presented a certificate of the cluster CA (verified by the TLS handshake).
    certified: bool,
}

/// Serves one connection until it closes or the node shuts down.
pub(super) async fn serve(
    native: Arc<Native>,
    conn: Connection,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState {
        certified: conn.peer_identity().is_some(),
        conn: conn.clone(),
        welcomed: AtomicBool::new(false),
    });
    debug!(certified = state.certified, "native connection accepted");
    let hello_deadline = tokio::time::sleep(native.limits.hello_timeout);
    tokio::pin!(hello_deadline);
    let mut streams = JoinSet::new();
    let mut stopping = false;
    loop {
        let welcomed = state.welcomed.load(Ordering::Acquire);
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => {
                close_with(&conn, close::SHUTTING_DOWN, "shutting down");
                stopping = true;
                break;
            }
            () = &mut hello_deadline, if !welcomed => {
                info!("no hello in time; closing");
                close_with(&conn, close::HELLO_TIMEOUT, "no hello in time");
                break;
            }
            accepted = conn.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(native.clone(), state.clone(), send, recv));
                }
                Err(reason) => {
                    debug!(%reason, "native connection ended");
                    break;
                }
            },
            Some(done) = streams.join_next(), if !streams.is_empty() => {
                if let Err(error) = done {
                    warn!(%error, "native stream task failed");
                }
            }
        }
    }
    if stopping {
        streams.abort_all();
    }
    while let Some(done) = streams.join_next().await {
        if let Err(error) = done {
            if !error.is_cancelled() {
                warn!(%error, "native stream task failed");
            }
        }
    }
}

/// Serves one stream: reads a request, answers it, and so on until the client finishes the
/// stream (a client may send one request and finish, or keep the stream for request after
/// request, one at a time). A frame that cannot be read is answered, then the stream ends: its
/// framing is lost.
async fn serve_stream(
    native: Arc<Native>,
    state: Arc<ConnState>,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let max = native.limits.max_frame_bytes;
    loop {
        let (out, writes, last) = match read_frame::<Request>(&mut recv, max).await {
            Ok(Some(request)) => {
                let writes = exec::writes(&request);
                (answer(&native, &state, request).await, writes, false)
            }
            // The client finished the stream between two requests.
            Ok(None) => {
                let _ = send.finish();
                return;
            }
            // The client reset the stream or the connection is gone: nobody to answer.
            Err(FrameError::Read { source }) => {
                debug!(error = %source, "native stream lost");
                return;
            }
            Err(error) => {
                debug!(%error, "bad native request frame");
                let reply = ErrorReply {
                    kind: ErrorKind::Invalid,
                    applied: Applied::No,
                    message: format!("ERR bad request frame: {error}"),
                };
                (response(&native, Body::Error(reply)), false, true)
            }
        };
        let frame = match encode_frame(&out, max) {
            Ok(frame) => frame,
            Err(error) => {
                // Only a read's (or a batch's) answer can outgrow the limit; what it wrote stays.
                let reply = ErrorReply {
                    kind: ErrorKind::Internal,
                    applied: if writes { Applied::Maybe } else { Applied::No },
                    message: format!(
                        "ERR the answer does not fit in one frame ([native] max_frame_bytes): \
                         {error}"
                    ),
                };
                match encode_frame(&response(&native, Body::Error(reply)), max) {
                    Ok(frame) => frame,
                    Err(error) => {
                        warn!(%error, "cannot encode an error answer");
                        let _ = send.reset(VarInt::from_u32(0));
                        return;
                    }
                }
            }
        };
        if let Err(error) = write_encoded(&mut send, &frame).await {
            debug!(%error, "native answer not delivered");
            return;
        }
        if last {
            // Tell the client to stop sending (a request over the limit is not read to its end).
            let _ = recv.stop(VarInt::from_u32(0));
            let _ = send.finish();
            return;
        }
    }
}

fn response(native: &Native, body: Body) -> Response {
    Response {
        epoch: native.epoch(),
        body,
    }
}

/// The answer to one request on this connection.
async fn answer(native: &Arc<Native>, state: &ConnState, request: Request) -> Response {
    let body = match request {
        Request::Hello(h) => {
            let checked = hello::check(
                &h,
                native.shared.view.requirepass.as_deref(),
                state.certified,
            );
            match checked {
                Ok(()) => {
                    if !state.welcomed.swap(true, Ordering::AcqRel) {
                        // Now the client may run requests side by side.
                        state.conn.set_max_concurrent_bi_streams(VarInt::from_u32(
                            native.limits.max_streams_per_connection,
                        ));
                        info!(client = ?h.client_name, "native client said hello");
                    }
                    Body::Welcome(hello::welcome(native.shared.node.0))
                }
                Err(reply) => {
                    info!(client = ?h.client_name, message = %reply.message, "native hello refused");
                    Body::Error(reply)
                }
            }
        }
        _ if !state.welcomed.load(Ordering::Acquire) => Body::Error(ErrorReply {
            kind: ErrorKind::Auth,
            applied: Applied::No,
            message: "NOAUTH say hello first".into(),
        }),
        Request::Topology => Body::Topology(native.topology.clone()),
        Request::Namespace { name } => match topology::namespace(&native.shared, &name) {
            Ok(info) => Body::Namespace(info),
            Err(reply) => Body::Error(reply),
        },
        Request::Op(op) => Body::Op(exec::op(native.clone(), op).await),
        Request::Batch(ops) => match exec::batch(native, ops).await {
            Ok(answers) => Body::Batch(answers),
            Err(reply) => Body::Error(reply),
        },
        Request::Scan(scan) => match exec::scan(native, scan).await {
            Ok(page) => Body::Scan(page),
            Err(reply) => Body::Error(reply),
        },
    };
    response(native, body)
}
