//! Versioned byte encodings of what this crate defines: stored object records.
//!
//! Every record starts with a format version byte, then the MessagePack (rmp-serde, compact
//! array form) encoding of the versioned type. A reader that meets a version it does not know
//! refuses the record with a typed error rather than guessing.

use crate::error::DecodeError;
use crate::object::Object;

/// Version of the object record format written by this build.
pub const OBJECT_RECORD_VERSION: u8 = 1;

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
    if version != OBJECT_RECORD_VERSION {
        return Err(DecodeError::UnknownVersion {
            found: version,
            supported: OBJECT_RECORD_VERSION,
        });
    }
    let object: Object = rmp_serde::from_slice(body).map_err(|e| DecodeError::Malformed {
        message: e.to_string(),
    })?;
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
            decode_object(&[1, 0xc1]),
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
    fn never_panics_on_arbitrary_bytes() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..200))| {
            let _ = decode_object(&bytes);
        });
    }
}
