//! The frame codec: how one message travels on a QUIC stream.
//!
//! ```text
//! +----------------------+-----------------+-------------------------------+
//! | length: u32, BE      | version: u8 = 1 | rmp-serde payload             |
//! +----------------------+-----------------+-------------------------------+
//!                        |<------------- body: `length` bytes ------------>|
//! ```
//!
//! The length counts the body (version byte included) and is checked against the configured
//! maximum *before* anything is allocated, so a hostile or broken peer cannot make us reserve
//! memory it never sends. The version byte lets a later build change the envelope while still
//! recognising (and refusing with a clear error) frames from an older or newer one. A payload is
//! written one of two ways ([`Payload`]): *named* (structs as maps of field names), so that a
//! field added with `#[serde(default)]` stays readable by an older reader — the native client
//! protocol's choice — or *compact* (structs as arrays), fewer bytes and less than half the
//! decoding work (docs/BENCHMARKS.md, "Third round") — the peer protocol's choice, since peers
//! of different schema versions refuse each other at the handshake and field names would buy
//! nothing there. [`decode_frame_body`] reads both.
//!
//! The pure functions ([`encode_frame`], [`decode_frame_body`], [`check_frame_len`]) hold all the
//! rules and are tested without sockets; [`write_frame`] and [`read_frame`] only move bytes.

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The envelope format this build writes and the only one it reads.
pub const FRAME_VERSION: u8 = 1;

/// Size of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Default upper bound for one frame body: large enough for a big value plus its causal context,
/// small enough that one frame cannot exhaust a node's memory.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// Checks a body length announced by a length prefix (or produced by the encoder) against `max`.
pub fn check_frame_len(len: u64, max: usize) -> Result<usize, FrameError> {
    // The prefix is a u32, so a body above u32::MAX cannot be framed whatever `max` says.
    let fits_prefix = len <= u64::from(u32::MAX);
    match usize::try_from(len) {
        Ok(n) if fits_prefix && n <= max => Ok(n),
        _ => Err(FrameError::TooLarge { len, max }),
    }
}

/// How a frame's payload is written (see the module header). Both are read by
/// [`decode_frame_body`]: serde's derived types accept a struct as a map or as an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Structs as maps of field names (the native client protocol).
    Named,
    /// Structs as arrays of their fields, in declaration order (the peer protocol).
    Compact,
}

/// Encodes `msg` as one complete frame (length prefix, version byte, named payload).
pub fn encode_frame<M: Serialize>(msg: &M, max: usize) -> Result<Bytes, FrameError> {
    encode_frame_as(msg, max, Payload::Named)
}

/// Encodes `msg` as one complete frame with its payload written as `encoding` says.
pub fn encode_frame_as<M: Serialize>(
    msg: &M,
    max: usize,
    encoding: Payload,
) -> Result<Bytes, FrameError> {
    let payload = match encoding {
        Payload::Named => rmp_serde::to_vec_named(msg),
        Payload::Compact => rmp_serde::to_vec(msg),
    }
    .map_err(|source| FrameError::Encode { source })?;
    let body_len = payload.len() as u64 + 1;
    check_frame_len(body_len, max)?;
    let prefix =
        u32::try_from(body_len).map_err(|_| FrameError::TooLarge { len: body_len, max })?;
    let mut out = BytesMut::with_capacity(LENGTH_PREFIX_BYTES + 1 + payload.len());
    out.put_u32(prefix);
    out.put_u8(FRAME_VERSION);
    out.put_slice(&payload);
    Ok(out.freeze())
}

/// Decodes a frame body (everything after the length prefix).
pub fn decode_frame_body<M: DeserializeOwned>(body: &[u8]) -> Result<M, FrameError> {
    let (&version, payload) = body.split_first().ok_or(FrameError::Empty)?;
    if version != FRAME_VERSION {
        return Err(FrameError::UnsupportedVersion {
            version,
            supported: FRAME_VERSION,
        });
    }
    let mut rest = payload;
    let msg = rmp_serde::from_read(&mut rest).map_err(|source| FrameError::Decode { source })?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes {
            trailing: rest.len(),
        });
    }
    Ok(msg)
}

/// Writes one message as a frame.
pub async fn write_frame<M: Serialize>(
    send: &mut quinn::SendStream,
    msg: &M,
    max: usize,
) -> Result<(), FrameError> {
    let frame = encode_frame(msg, max)?;
    write_encoded(send, &frame).await
}

/// Writes a frame produced by [`encode_frame`].
pub async fn write_encoded(send: &mut quinn::SendStream, frame: &[u8]) -> Result<(), FrameError> {
    send.write_all(frame)
        .await
        .map_err(|source| FrameError::Write { source })
}

/// Writes frames produced by [`encode_frame`], in order, handing them all to the stream at
/// once (without copying them); empties `frames`' buffers.
pub async fn write_encoded_chunks(
    send: &mut quinn::SendStream,
    frames: &mut [Bytes],
) -> Result<(), FrameError> {
    send.write_all_chunks(frames)
        .await
        .map_err(|source| FrameError::Write { source })
}

/// Reads frames from one stream through a buffer: one read takes every byte that has arrived,
/// often many frames, where [`read_frame`] reads each frame's prefix and body separately (two
/// reads, each locking the connection, per frame). Length rules are the same: a body's length
/// is checked against the maximum before room is made for it.
#[derive(Debug)]
pub struct FrameReader {
    buf: BytesMut,
    max: usize,
}

impl FrameReader {
    /// A reader that refuses bodies over `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameReader {
            buf: BytesMut::new(),
            max,
        }
    }

    /// The next frame, decoded. Returns `Ok(None)` when the stream ends cleanly between two
    /// frames; a stream that ends inside a frame is an error.
    pub async fn read<M: DeserializeOwned>(
        &mut self,
        recv: &mut quinn::RecvStream,
    ) -> Result<Option<M>, FrameError> {
        loop {
            if let Some(body) = self.next_body()? {
                return decode_frame_body(&body).map(Some);
            }
            match recv.read_chunk(usize::MAX, true).await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk.bytes),
                Ok(None) if self.buf.is_empty() => return Ok(None),
                Ok(None) => {
                    let expected = self.expected().unwrap_or(LENGTH_PREFIX_BYTES);
                    return Err(FrameError::Truncated {
                        read: self.buf.len(),
                        expected,
                    });
                }
                Err(source) => return Err(FrameError::Read { source }),
            }
        }
    }

    /// The body length the buffered frame's prefix announces, once the prefix is in.
    fn announced(&self) -> Option<u32> {
        let prefix: [u8; LENGTH_PREFIX_BYTES] =
            self.buf.get(..LENGTH_PREFIX_BYTES)?.try_into().ok()?;
        Some(u32::from_be_bytes(prefix))
    }

    /// The bytes the buffered frame needs in all (prefix included), once its prefix is in.
    fn expected(&self) -> Option<usize> {
        Some(LENGTH_PREFIX_BYTES + self.announced()? as usize)
    }

    /// Takes the body of the first buffered frame if it is complete; makes room for it if not.
    fn next_body(&mut self) -> Result<Option<BytesMut>, FrameError> {
        let Some(announced) = self.announced() else {
            return Ok(None);
        };
        let len = check_frame_len(u64::from(announced), self.max)?;
        let total = LENGTH_PREFIX_BYTES + len;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let mut frame = self.buf.split_to(total);
        Ok(Some(frame.split_off(LENGTH_PREFIX_BYTES)))
    }
}

/// Reads one frame and decodes it. Returns `Ok(None)` when the stream ends cleanly between two
/// frames; a stream that ends inside a frame is an error.
pub async fn read_frame<M: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
    max: usize,
) -> Result<Option<M>, FrameError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(read_error(e, LENGTH_PREFIX_BYTES)),
    }
    let len = check_frame_len(u64::from(u32::from_be_bytes(prefix)), max)?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| read_error(e, len))?;
    decode_frame_body(&body).map(Some)
}

fn read_error(e: quinn::ReadExactError, expected: usize) -> FrameError {
    match e {
        quinn::ReadExactError::FinishedEarly(read) => FrameError::Truncated { read, expected },
        quinn::ReadExactError::ReadError(source) => FrameError::Read { source },
    }
}

/// A frame could not be encoded, read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame body is longer than the configured maximum (checked before any allocation).
    #[error("frame body of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
    /// The body starts with a format version this build does not speak.
    #[error("unsupported frame version {version} (this build speaks {supported})")]
    UnsupportedVersion { version: u8, supported: u8 },
    /// The body is empty, so it has no version byte.
    #[error("empty frame body")]
    Empty,
    /// The payload is not a valid encoding of the expected message.
    #[error("cannot decode message: {source}")]
    Decode {
        #[source]
        source: rmp_serde::decode::Error,
    },
    /// The payload decoded but left bytes over, so sender and receiver disagree on the format.
    #[error("{trailing} unexpected bytes after the message")]
    TrailingBytes { trailing: usize },
    /// The message could not be serialized.
    #[error("cannot encode message: {source}")]
    Encode {
        #[source]
        source: rmp_serde::encode::Error,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({read} of {expected} bytes)")]
    Truncated { read: usize, expected: usize },
    /// Reading from the QUIC stream failed (connection lost, stream reset).
    #[error("stream read failed: {source}")]
    Read {
        #[source]
        source: quinn::ReadError,
    },
    /// Writing to the QUIC stream failed (connection lost, stream stopped).
    #[error("stream write failed: {source}")]
    Write {
        #[source]
        source: quinn::WriteError,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Msg {
        id: u64,
        key: String,
        value: Vec<u8>,
    }

    fn sample() -> Msg {
        Msg {
            id: 7,
            key: "k".into(),
            value: vec![1, 2, 3],
        }
    }

    fn body_of(frame: &[u8]) -> &[u8] {
        frame.get(LENGTH_PREFIX_BYTES..).unwrap()
    }

    #[test]
    fn a_compact_payload_is_smaller_and_reads_back_like_a_named_one() {
        let named = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let compact =
            encode_frame_as(&sample(), DEFAULT_MAX_FRAME_BYTES, Payload::Compact).unwrap();
        assert!(
            compact.len() < named.len(),
            "{} vs {}",
            compact.len(),
            named.len()
        );
        assert_eq!(compact[4], FRAME_VERSION);
        for frame in [&named, &compact] {
            let back: Msg = decode_frame_body(body_of(frame)).unwrap();
            assert_eq!(back, sample());
        }
        // A compact payload with a field missing is refused, not misread.
        let short =
            encode_frame_as(&(7u64, "k"), DEFAULT_MAX_FRAME_BYTES, Payload::Compact).unwrap();
        assert!(decode_frame_body::<Msg>(body_of(&short)).is_err());
    }

    #[test]
    fn round_trip_with_prefix_and_version() {
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let prefix = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(prefix, frame.len() - LENGTH_PREFIX_BYTES);
        assert_eq!(frame[4], FRAME_VERSION);
        let back: Msg = decode_frame_body(body_of(&frame)).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn payload_uses_field_names() {
        // Named encoding keeps messages readable across versions that add fields.
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let needle = b"value";
        assert!(frame.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn encoder_refuses_oversized_message() {
        let msg = Msg {
            value: vec![0; 100],
            ..sample()
        };
        let err = encode_frame(&msg, 50).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: 50, .. }), "{err}");
    }

    #[test]
    fn length_limit_is_inclusive_and_bounded_by_prefix() {
        assert_eq!(check_frame_len(10, 10).unwrap(), 10);
        assert!(matches!(
            check_frame_len(11, 10),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        ));
        let over_prefix = u64::from(u32::MAX) + 1;
        assert!(check_frame_len(over_prefix, usize::MAX).is_err());
    }

    #[test]
    fn unknown_version_is_refused() {
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let mut body = body_of(&frame).to_vec();
        body[0] = 2;
        let err = decode_frame_body::<Msg>(&body).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::UnsupportedVersion {
                    version: 2,
                    supported: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn empty_and_garbage_bodies_are_errors() {
        assert!(matches!(
            decode_frame_body::<Msg>(&[]),
            Err(FrameError::Empty)
        ));
        let garbage = [FRAME_VERSION, 0xc1, 0xff, 0x00, 0x13];
        assert!(matches!(
            decode_frame_body::<Msg>(&garbage),
            Err(FrameError::Decode { .. })
        ));
        // A valid encoding of a different shape is also an error, not a default value.
        let other = rmp_serde::to_vec_named(&("not", "a", "msg")).unwrap();
        let mut body = vec![FRAME_VERSION];
        body.extend_from_slice(&other);
        assert!(decode_frame_body::<Msg>(&body).is_err());
    }

    #[test]
    fn truncated_payload_is_an_error() {
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let body = body_of(&frame);
        for cut in 1..body.len() {
            assert!(
                decode_frame_body::<Msg>(&body[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn hostile_lengths_inside_the_payload_do_not_allocate() {
        // A 6-byte body claiming a string, a byte array and an array of about 4 GiB each.
        for claim in [0xdb, 0xc6, 0xdd] {
            let body = [FRAME_VERSION, claim, 0xff, 0xff, 0xff, 0xff];
            assert!(decode_frame_body::<Msg>(&body).is_err());
            assert!(decode_frame_body::<String>(&body).is_err());
            assert!(decode_frame_body::<Vec<u64>>(&body).is_err());
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME_BYTES).unwrap();
        let mut body = body_of(&frame).to_vec();
        body.extend_from_slice(&[0, 0]);
        assert!(matches!(
            decode_frame_body::<Msg>(&body),
            Err(FrameError::TrailingBytes { trailing: 2 })
        ));
    }

    /// Frames split anywhere across reads, or many in one read, come out whole and in order;
    /// an oversized length is refused before room is made for it.
    #[test]
    fn the_buffered_reader_finds_frames_across_and_within_reads() {
        let msgs: Vec<Msg> = (0..5)
            .map(|id| Msg {
                id,
                key: format!("key{id}"),
                value: vec![id as u8; id as usize * 100],
            })
            .collect();
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(&encode_frame(m, 1 << 20).unwrap());
        }
        for piece in [1, 3, 7, 64, stream.len()] {
            let mut reader = FrameReader::new(1 << 20);
            let mut got = Vec::new();
            for bytes in stream.chunks(piece) {
                reader.buf.extend_from_slice(bytes);
                while let Some(body) = reader.next_body().unwrap() {
                    got.push(decode_frame_body::<Msg>(&body).unwrap());
                }
            }
            assert_eq!(got, msgs, "pieces of {piece} bytes");
            assert!(reader.buf.is_empty());
        }

        let mut reader = FrameReader::new(100);
        reader.buf.extend_from_slice(&1_000_000u32.to_be_bytes());
        assert!(matches!(
            reader.next_body(),
            Err(FrameError::TooLarge {
                len: 1_000_000,
                max: 100
            })
        ));
        assert!(
            reader.buf.capacity() < 1_000,
            "room was made for a refused frame"
        );
    }
}
