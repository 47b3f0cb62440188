//! The serde form of a [`Layout`]: versioned, and validated when decoded.
//!
//! A layout is persisted and gossiped, so its encoding carries a format version first: it is an
//! enum whose variant (`V1`) names the format. A node that meets a format it does not know
//! fails to decode it with an "unknown variant" error instead of misreading it; a later format
//! adds a `V2` variant and keeps decoding `V1`. Decoding runs [`Layout::validate`], so a
//! `Layout` value, however obtained, always has well-formed rows.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::NodeId;
use crate::layout::Layout;

/// Encoding side: borrows the layout, so serializing copies nothing.
#[derive(Serialize)]
#[serde(rename = "Layout")]
enum WireRef<'a> {
    V1(V1Ref<'a>),
}

#[derive(Serialize)]
struct V1Ref<'a> {
    epoch: u64,
    partition_bits: u8,
    width: u8,
    nodes: &'a [NodeId],
    table: &'a [NodeId],
}

/// Decoding side; must mirror [`WireRef`] variant for variant and field for field.
#[derive(Deserialize)]
#[serde(rename = "Layout")]
enum Wire {
    V1(V1),
}

#[derive(Deserialize)]
struct V1 {
    epoch: u64,
    partition_bits: u8,
    width: u8,
    nodes: Vec<NodeId>,
    table: Vec<NodeId>,
}

impl Serialize for Layout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef::V1(V1Ref {
            epoch: self.epoch,
            partition_bits: self.partition_bits,
            width: self.width,
            nodes: &self.nodes,
            table: &self.table,
        })
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Layout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire::V1(v1) = Wire::deserialize(deserializer)?;
        let layout = Layout {
            epoch: v1.epoch,
            partition_bits: v1.partition_bits,
            width: v1.width,
            nodes: v1.nodes,
            table: v1.table,
        };
        layout.validate().map_err(D::Error::custom)?;
        Ok(layout)
    }
}
