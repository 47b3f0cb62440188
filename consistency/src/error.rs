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

/// A consistency setting that cannot be honoured, or that a namespace does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("{what}={value} is out of range: it must be between 1 and N={n}")]
    OutOfRange {
        what: &'static str,
        value: usize,
        n: usize,
    },
    #[error(
        "DW={dw} is above W={w}: durable acknowledgements are a subset of all acknowledgements"
    )]
    DurableAboveWrite { dw: usize, w: usize },
    #[error(
        "STRONG needs strict majorities: R and W of at least {majority} of N={n}, and no SLOPPY"
    )]
    StrongNeedsMajorities { n: usize, majority: usize },
    #[error("unknown consistency level '{name}' (expected ONE, TWO, QUORUM, ALL, EVENTUAL, STRONG, or R=n W=n [DW=n] [STRICT|SLOPPY] [TIMEOUT=ms])")]
    UnknownPreset { name: String },
    #[error("invalid consistency argument '{arg}': {reason}")]
    BadArgument { arg: String, reason: &'static str },
    #[error("{what}={value} is below this namespace's floor {floor}={min}")]
    BelowFloor {
        what: &'static str,
        value: usize,
        floor: &'static str,
        min: usize,
    },
    #[error("SLOPPY quorums are not allowed in this namespace (allow_sloppy = no)")]
    SloppyNotAllowed,
}
