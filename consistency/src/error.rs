//! Errors of the consistency crate.

/// A record or message that cannot be decoded, or decodes to a state that breaks an invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("unknown format version {found} (this build reads version {supported})")]
    UnknownVersion { found: u8, supported: u8 },
    #[error("malformed payload: {message}")]
    Malformed { message: String },
    #[error("invalid object: {reason}")]
    Invalid { reason: &'static str },
    #[error("object has {count} siblings, more than the limit of {max}")]
    TooManySiblings { count: usize, max: usize },
}

/// A consistency setting that cannot be honoured for a replication factor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("{what}={value} is out of range: it must be between 1 and N={n}")]
    OutOfRange {
        what: &'static str,
        value: usize,
        n: usize,
    },
    #[error("unknown consistency level '{name}' (expected ONE, QUORUM or ALL)")]
    UnknownPreset { name: String },
}
