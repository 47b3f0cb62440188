//! Opening the configured storage engine: the one place that maps the `storage_engine` setting
//! to an implementation of [`Storage`].

use std::path::Path;
use std::sync::Arc;

use super::{MemStorage, SledStorage, Storage, StorageError};
use crate::config::StorageEngine;

/// Opens (creating if needed) the engine's store under the node's `data_dir`.
pub fn open(engine: StorageEngine, data_dir: &Path) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match engine {
        StorageEngine::Sled => Arc::new(SledStorage::open(&data_dir.join("db"))?),
        StorageEngine::Memory => Arc::new(MemStorage::new()),
    })
}
