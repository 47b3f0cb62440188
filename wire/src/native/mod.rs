//! The native client protocol (DESIGN.md §7): what `kvorum-client` and a node say to each other.
//!
//! # Transport
//!
//! QUIC on the node's peer port (`peer_listen`, by convention the RESP port + 1000), told apart
//! from node-to-node traffic by ALPN [`NATIVE_ALPN`]. The client verifies the node's certificate
//! against the cluster CA under the name `n{id}.kvorum.internal`; it may present a certificate of
//! the cluster CA itself, which authenticates it like a password would.
//!
//! # Conversation
//!
//! An exchange is one [`Request`] frame from the client and one [`Response`] frame back on a
//! bidirectional QUIC stream (frames: [`crate::frame`]). A stream carries its exchanges one
//! after another: the client may finish the stream after one request, or keep it and send the
//! next request once the reply arrived (which spares opening and accepting a stream per
//! request). Concurrent requests use concurrent streams, multiplexed by QUIC, so a slow request
//! never holds up another. The first exchange on a connection must be [`Request::Hello`]; until it succeeds
//! every other request is answered with [`ErrorKind::Auth`]. A node answers
//! [`Request::Topology`] with the cluster's membership and layout parameters, from which a
//! client computes the same [`kvorum_ring::Layout`] every node uses, and so routes each key to
//! one of its primaries directly.
//!
//! # Versioning
//!
//! The ALPN names the protocol version ([`NATIVE_PROTOCOL_VERSION`]); a node refuses a client of
//! another version at the TLS handshake. Within a version, messages use rmp-serde's named
//! encoding, so a field added with `#[serde(default)]` stays readable by older peers.
//!
//! # Errors and retries
//!
//! Every error says whether the request was applied: [`Applied::No`] (safe to retry anywhere)
//! or [`Applied::Maybe`] (a write that may have been applied). A write carries a [`RequestId`];
//! the node that received it remembers the answer for a window (`[native] dedup_window_ms`), so
//! a client that lost the reply can send the very same request to the same node again and gets
//! the first answer back instead of applying it twice.

mod error;
mod request;
mod response;

pub use error::{Applied, ErrorKind, ErrorReply};
pub use request::{Hello, Op, OpRequest, Request, RequestId, ScanRequest};
pub use response::{
    Body, NamespaceInfo, OpReply, Response, ScanPage, Topology, TopologyNode, Welcome,
};

/// The native protocol version this build speaks.
pub const NATIVE_PROTOCOL_VERSION: u8 = 1;

/// ALPN of the native client protocol (numbered by [`NATIVE_PROTOCOL_VERSION`]).
pub const NATIVE_ALPN: &[u8] = b"kvorum-client/1";

/// Default upper bound of one native frame body (a request or a reply).
pub const DEFAULT_MAX_NATIVE_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The TLS server name of node `id`'s certificate.
pub fn node_server_name(id: u64) -> String {
    format!("n{id}.kvorum.internal")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::frame::{decode_frame_body, encode_frame, LENGTH_PREFIX_BYTES};
    use bytes::Bytes;
    use kvorum_consistency::{Preset, Spec};
    use kvorum_ring::NamespaceId;

    #[test]
    fn the_alpn_names_the_protocol_version() {
        assert_eq!(
            NATIVE_ALPN,
            format!("kvorum-client/{NATIVE_PROTOCOL_VERSION}").as_bytes()
        );
    }

    #[test]
    fn requests_and_responses_round_trip_through_frames() {
        let request = Request::Op(OpRequest {
            id: RequestId(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            ns: NamespaceId(7),
            key: Bytes::from_static(b"k"),
            consistency: Spec::preset(Preset::Quorum),
            op: Op::Incr { delta: -3 },
        });
        let frame = encode_frame(&request, DEFAULT_MAX_NATIVE_FRAME_BYTES).unwrap();
        let back: Request = decode_frame_body(&frame[LENGTH_PREFIX_BYTES..]).unwrap();
        assert_eq!(back, request);
        let response = Response {
            epoch: 3,
            body: Body::Op(Err(ErrorReply {
                kind: ErrorKind::Timeout,
                applied: Applied::Maybe,
                message: "TIMEOUT".into(),
            })),
        };
        let frame = encode_frame(&response, DEFAULT_MAX_NATIVE_FRAME_BYTES).unwrap();
        let back: Response = decode_frame_body(&frame[LENGTH_PREFIX_BYTES..]).unwrap();
        assert_eq!(back, response);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [&[][..], &[1u8][..], &[1, 0xc1, 0xff][..], &[9, 0x80][..]] {
            assert!(decode_frame_body::<Request>(body).is_err());
            assert!(decode_frame_body::<Response>(body).is_err());
        }
    }
}
