//! Peer messages are written compactly (structs as arrays, `Payload::Compact`), so a field is
//! found by its position alone. A serde attribute that leaves a field out of some encodings
//! (`skip_serializing_if`, `flatten`, `untagged`) would shift every field after it and make the
//! receiver misread or refuse the message. Every variant of [`Message`], with its optional
//! parts filled in and left empty, must come back equal through a compact frame.

use bytes::Bytes;
use kvorum_consistency::message::{Command, Consistency, Key, KeyPage, ListedKey, Request};
use kvorum_consistency::{
    antientropy::{AeAnswer, AeRequest, KeyHash, KeyObject},
    op, Catalog, Condition, Kind, Message, NamespaceDef, Object, Op, Outcome, Preset, Reply, Stamp,
    Timestamp, Ttl,
};
use kvorum_ring::{NamespaceId, NodeId, PartitionId};

use super::frame::{decode_frame_body, encode_frame_as, Payload, LENGTH_PREFIX_BYTES};

fn ts(ms: u64) -> Timestamp {
    Timestamp {
        physical_ms: ms,
        logical: 3,
    }
}

fn key() -> Key {
    Key {
        ns: NamespaceId(7),
        key: b"user:1".to_vec(),
    }
}

/// An object with a value, a version and a TTL.
fn object() -> Object {
    let set = Op::Set {
        value: Bytes::from_static(b"value"),
        condition: Condition::Always,
        ttl: Ttl::Clear,
        get: false,
    };
    op::apply(&set, &Object::new(), NodeId(2), ts(1_000))
        .unwrap()
        .object
}

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    let stamp = Stamp {
        at: ts(5),
        node: NodeId(1),
    };
    let def = NamespaceDef {
        id: NamespaceId(9),
        db: Some(3),
        policy: kvorum_consistency::NamespacePolicy::new(3),
        ttl_s: Some(60),
        created: stamp,
    };
    catalog.create("sessions", def, stamp).unwrap();
    catalog
}

fn every_message() -> Vec<Message> {
    let request = Request {
        key: key(),
        command: Command::Write(Op::Set {
            value: Bytes::from_static(b"v"),
            condition: Condition::IfAbsent,
            ttl: Ttl::Keep,
            get: true,
        }),
        consistency: Consistency::Preset(Preset::Quorum),
        timeout_ms: 2_000,
        n: Some(3),
        default_ttl_ms: Some(60_000),
    };
    vec![
        Message::Fetch { op: 1, key: key() },
        Message::Fetched {
            op: 2,
            result: Ok(Some(object())),
        },
        Message::Fetched {
            op: 2,
            result: Ok(None),
        },
        Message::Fetched {
            op: 3,
            result: Err("disk".into()),
        },
        Message::Store {
            op: 4,
            key: key(),
            object: object(),
        },
        Message::StoreHint {
            op: 5,
            key: key(),
            object: object(),
            target: NodeId(3),
        },
        Message::Stored {
            op: 6,
            result: Ok(()),
            durable: true,
        },
        Message::Forward {
            op: 7,
            request: request.clone(),
        },
        Message::Forward {
            op: 7,
            request: Request {
                command: Command::Get,
                n: None,
                default_ttl_ms: None,
                ..request
            },
        },
        Message::Forwarded {
            op: 8,
            reply: Reply::Written {
                outcome: Outcome::Done,
                acks: 2,
            },
        },
        Message::Forwarded {
            op: 9,
            reply: Reply::Value(Some(object())),
        },
        Message::List {
            op: 10,
            ns: NamespaceId(7),
            partition: PartitionId(4),
            end: PartitionId(8),
            from_hash: 99,
            limit: 100,
        },
        Message::Listed {
            op: 11,
            result: Ok(KeyPage {
                keys: vec![ListedKey {
                    hash: 5,
                    key: b"a".to_vec(),
                    kind: Kind::Register,
                }],
                next: Some(6),
            }),
        },
        Message::Listed {
            op: 11,
            result: Ok(KeyPage::default()),
        },
        Message::Catalog { catalog: catalog() },
        Message::Ae {
            op: 12,
            request: AeRequest::Keys {
                ns: NamespaceId(7),
                partition: PartitionId(4),
                segments: vec![1, 2],
                after: Some(b"k".to_vec()),
                limit: 10,
            },
        },
        Message::AeAnswered {
            op: 13,
            result: Ok(AeAnswer::Keys {
                keys: vec![KeyHash {
                    key: b"k".to_vec(),
                    hash: 8,
                }],
                next: None,
            }),
        },
        Message::AeAnswered {
            op: 14,
            result: Ok(AeAnswer::Objects(vec![KeyObject {
                key: b"k".to_vec(),
                object: Some(object()),
            }])),
        },
        Message::AeAnswered {
            op: 14,
            result: Ok(AeAnswer::Objects(vec![KeyObject {
                key: b"gone".to_vec(),
                object: None,
            }])),
        },
    ]
}

#[test]
fn every_peer_message_comes_back_equal_through_a_compact_frame() {
    for message in every_message() {
        let frame = encode_frame_as(&message, 1 << 20, Payload::Compact).unwrap();
        let back: Message = decode_frame_body(&frame[LENGTH_PREFIX_BYTES..])
            .unwrap_or_else(|e| panic!("{message:?}: {e}"));
        assert_eq!(back, message);
    }
}
