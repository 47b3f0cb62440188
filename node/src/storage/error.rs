//! The one error type of the storage layer.
//!
//! `StorageError` is `Clone` because group commit hands the outcome of one fsync to every writer
//! that waited on it; for that reason engine and I/O errors are kept as messages rather than as
//! their (non-clonable) source values. Every variant has named fields so a log line says what
//! failed without the reader having to know the variant's position.

/// Everything that can go wrong below the storage trait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The operating system refused a read, write or fsync.
    #[error("storage I/O error during {op}: {message}")]
    Io {
        /// What the layer was doing (e.g. "open", "sync").
        op: &'static str,
        /// The operating system's description of the failure.
        message: String,
    },

    /// The storage engine failed for a reason that is not plain I/O.
    #[error("storage engine error during {op}: {message}")]
    Engine {
        /// What the layer was doing.
        op: &'static str,
        /// The engine's description of the failure.
        message: String,
    },

    /// Stored bytes do not have the shape they must have.
    #[error("corrupt storage: {what}")]
    Corrupt {
        /// Which record or structure is damaged, and how.
        what: String,
    },

    /// One stored record failed its checksum (or its envelope is malformed): it is never
    /// served, and anti-entropy repairs it from the other replicas.
    #[error("corrupt record ({} key bytes): {reason}", key.len())]
    CorruptRecord {
        /// The stored key of the record.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: String,
    },

    /// The store was written by a format version this build does not understand.
    #[error("unknown storage format version {found} (this build supports {supported})")]
    UnknownFormat {
        /// The version recorded in the store.
        found: u8,
        /// The version this build reads and writes.
        supported: u8,
    },

    /// A data key is too short to hold the `namespace | partition` header.
    #[error(
        "data key of {len} bytes is shorter than the {needed}-byte namespace/partition header"
    )]
    KeyEncoding {
        /// Length of the key that failed to decode.
        len: usize,
        /// Minimum length of a data key.
        needed: usize,
    },

    /// A namespace id that the storage layer keeps for itself (see `keys::HINT_NAMESPACE`) was
    /// used for data.
    #[error("namespace id {ns} is reserved by the storage layer")]
    ReservedNamespace {
        /// The reserved id.
        ns: u32,
    },

    /// A metadata name that the storage layer keeps for itself was written by a caller.
    #[error("metadata name {name:?} is reserved by the storage layer")]
    ReservedMeta {
        /// The reserved name.
        name: String,
    },

    /// A read-modify-write lost its compare-and-swap race more times than allowed.
    #[error(
        "update gave up after {attempts} compare-and-swap attempts lost to concurrent writers"
    )]
    Contention {
        /// How many attempts were made (the configured limit).
        attempts: u32,
    },

    /// A background task of the storage layer failed (panicked or was cancelled).
    #[error("storage background task {task} failed: {message}")]
    Background {
        /// Name of the task.
        task: &'static str,
        /// What went wrong.
        message: String,
    },

    /// The storage layer (or the component asked) has been shut down.
    #[error("storage is shut down")]
    Closed,

    /// A caller-supplied update closure rejected the current record.
    ///
    /// The storage layer never produces this itself; it exists so the layer above can fail an
    /// update with its own reason without inventing a storage failure.
    #[error("update rejected: {reason}")]
    Rejected {
        /// Why the closure refused to produce a new record.
        reason: String,
    },
}

impl StorageError {
    /// Wraps an `std::io::Error` met while doing `op`.
    pub fn io(op: &'static str, err: &std::io::Error) -> Self {
        StorageError::Io {
            op,
            message: err.to_string(),
        }
    }
}
