//! Versioned byte encodings of what this crate defines: stored object records.
//!
//! Every record starts with a format version byte, then the MessagePack (rmp-serde, compact
//! array form) encoding of the versioned type. A reader that meets a version it does not know
//! refuses the record with a typed error rather than guessing.
//!
//! - Version 2 (written now): a typed [`Object`] (incarnation, data of any type, TTL).
//! - Version 1 (still read): a string register's context and siblings, from before keys had
//!   types; it reads as a string key with no TTL.

use serde::Deserialize;

use crate::crdt::expiry::Expiry;
use crate::error::DecodeError;
use crate::hlc::Timestamp;
use crate::object::{Data, Incarnation, Kind, Object, Sibling};
use crate::version::VersionVector;

/// Version of the object record format written by this build.
pub const OBJECT_RECORD_VERSION: u8 = 2;

/// The object of record version 1: a string register.
#[derive(Deserialize)]
struct ObjectV1 {
    context: VersionVector,
    siblings: Vec<Sibling>,
}

/// Encodes an object as a storage record (also the form peers exchange inside messages).
pub fn encode_object(object: &Object) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(64);
    out.push(OBJECT_RECORD_VERSION);
    rmp_serde::encode::write(&mut out, object).map_err(|e| DecodeError::Malformed {
        message: e.to_string(),
    })?;
    Ok(out)
}

/// Decodes and validates a stored object record.
pub fn decode_object(bytes: &[u8]) -> Result<Object, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    let malformed = |e: rmp_serde::decode::Error| DecodeError::Malformed {
        message: e.to_string(),
    };
    let object = match version {
        OBJECT_RECORD_VERSION => rmp_serde::from_slice(body).map_err(malformed)?,
        1 => {
            let v1: ObjectV1 = rmp_serde::from_slice(body).map_err(malformed)?;
            let incarnation = Incarnation {
                ts: Timestamp::ZERO,
                kind: Kind::Register,
            };
            Object::from_parts(
                v1.context,
                incarnation,
                Data::Register(v1.siblings),
                Expiry::default(),
            )
        }
        found => {
            return Err(DecodeError::UnknownVersion {
                found,
                supported: OBJECT_RECORD_VERSION,
            })
        }
    };
    object.validate()?;
    Ok(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hlc::Timestamp;
    use bytes::Bytes;
    use kvorum_ring::NodeId;

    #[test]
    fn round_trips_and_starts_with_the_version() {
        let o = Object::new();
        let (o, _) = o.write(
            NodeId(3),
            o.context(),
            Some(Bytes::from_static(b"v")),
            Timestamp::ZERO,
        );
        let bytes = encode_object(&o).unwrap();
        assert_eq!(bytes[0], OBJECT_RECORD_VERSION);
        assert_eq!(decode_object(&bytes).unwrap(), o);
    }

    #[test]
    fn refuses_unknown_versions_garbage_and_truncation() {
        assert_eq!(decode_object(&[]), Err(DecodeError::Empty));
        assert!(matches!(
            decode_object(&[9, 0x90]),
            Err(DecodeError::UnknownVersion { found: 9, .. })
        ));
        assert!(matches!(
            decode_object(&[OBJECT_RECORD_VERSION, 0xc1]),
            Err(DecodeError::Malformed { .. })
        ));
        let o = Object::new();
        let (o, _) = o.write(
            NodeId(1),
            o.context(),
            Some(Bytes::from_static(b"value")),
            Timestamp::ZERO,
        );
        let bytes = encode_object(&o).unwrap();
        for cut in 1..bytes.len() {
            assert!(decode_object(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn version_1_registers_still_read_as_strings() {
        #[derive(serde::Serialize)]
        struct V1<'a> {
            context: &'a VersionVector,
            siblings: &'a [Sibling],
        }
        let o = Object::new();
        let (o, _) = o.write(
            NodeId(2),
            o.context(),
            Some(Bytes::from_static(b"old")),
            Timestamp::ZERO,
        );
        let mut bytes = vec![1];
        rmp_serde::encode::write(
            &mut bytes,
            &V1 {
                context: o.context(),
                siblings: o.siblings(),
            },
        )
        .unwrap();
        let decoded = decode_object(&bytes).unwrap();
        assert_eq!(decoded, o);
        assert_eq!(decoded.value().unwrap(), "old");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..200))| {
            let _ = decode_object(&bytes);
        });
    }
}
