//! Opening the configured storage engine: the one place that maps the `storage_engine` setting
//! to an implementation of [`Storage`] and to its directory under the node's `data_dir`.
//!
//! Each on-disk engine keeps its files in its own directory ([`SLED_DIR`], [`FJALL_DIR`]), so
//! changing the setting never makes one engine read the other's files. It does not move the data
//! either, which is why a node refuses to start when the *other* engine's store is present: the
//! alternative — silently opening an empty store and serving a replica that has lost every key —
//! is the worst outcome of an edited config or a changed default. The operator decides: set the
//! engine back, or move the old directory away (the replica is then refilled by the cluster).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FjallStorage, MemStorage, SledStorage, Storage, StorageError};
use crate::config::StorageEngine;

/// The sled engine's directory under `data_dir`.
pub const SLED_DIR: &str = "db";
/// The fjall engine's directory under `data_dir`.
pub const FJALL_DIR: &str = "fjall";

/// Where `engine` keeps its files under `data_dir` (None for the memory engine).
pub fn store_dir(engine: StorageEngine, data_dir: &Path) -> Option<PathBuf> {
    match engine {
        StorageEngine::Sled => Some(data_dir.join(SLED_DIR)),
        StorageEngine::Fjall => Some(data_dir.join(FJALL_DIR)),
        StorageEngine::Memory => None,
    }
}

/// The longest user key `engine` can store: its own key limit less kvorum's headers (a hint
/// key is the longest: hint header, then the data key header, then the user key).
pub fn max_user_key_bytes(engine: StorageEngine) -> usize {
    let headers = super::keys::HINT_KEY_HEADER_LEN + super::keys::DATA_KEY_HEADER_LEN;
    match engine {
        StorageEngine::Fjall => super::fjall::MAX_KEY_BYTES - headers,
        // sled and memory take any length the process can hold.
        StorageEngine::Sled | StorageEngine::Memory => usize::MAX - headers,
    }
}

/// Opens (creating if needed) the engine's store under the node's `data_dir`.
///
/// Fails without touching anything if another on-disk engine's store is in `data_dir` and this
/// engine's is not (see the module docs).
pub fn open(engine: StorageEngine, data_dir: &Path) -> Result<Arc<dyn Storage>, StorageError> {
    let Some(dir) = store_dir(engine, data_dir) else {
        return Ok(Arc::new(MemStorage::new()));
    };
    refuse_a_foreign_store(engine, &dir, data_dir)?;
    Ok(match engine {
        StorageEngine::Sled => Arc::new(SledStorage::open(&dir)?),
        StorageEngine::Fjall => Arc::new(FjallStorage::open(&dir)?),
        StorageEngine::Memory => Arc::new(MemStorage::new()),
    })
}

fn refuse_a_foreign_store(
    engine: StorageEngine,
    dir: &Path,
    data_dir: &Path,
) -> Result<(), StorageError> {
    if exists(dir)? {
        return Ok(());
    }
    for other in [StorageEngine::Sled, StorageEngine::Fjall] {
        let Some(other_dir) = store_dir(other, data_dir).filter(|_| other != engine) else {
            continue;
        };
        if exists(&other_dir)? {
            return Err(StorageError::Engine {
                op: "open",
                message: format!(
                    "storage_engine is {engine} but {data} holds a {other} store and {dir} does \
                     not exist: the data does not move between engines. Set storage_engine = \
                     \"{other}\" to keep using it (`--engine {other}` for `kvorum dev` and \
                     `kvorum cluster-config`), or move {other_dir} away to start this node \
                     empty and let the other replicas refill it (docs/CONFIG.md)",
                    engine = name(engine),
                    data = data_dir.display(),
                    other = name(other),
                    dir = dir.display(),
                    other_dir = other_dir.display(),
                ),
            });
        }
    }
    Ok(())
}

fn exists(path: &Path) -> Result<bool, StorageError> {
    path.try_exists()
        .map_err(|e| StorageError::io("look for the store", &e))
}

fn name(engine: StorageEngine) -> &'static str {
    match engine {
        StorageEngine::Sled => "sled",
        StorageEngine::Fjall => "fjall",
        StorageEngine::Memory => "memory",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_keeps_what_was_synced_in_its_own_directory() {
        for (engine, sub) in [
            (StorageEngine::Sled, SLED_DIR),
            (StorageEngine::Fjall, FJALL_DIR),
        ] {
            let dir = tempfile::tempdir().unwrap();
            {
                let s = open(engine, dir.path()).unwrap();
                s.update(b"k", &mut |_| Ok(Some(b"v".to_vec()))).unwrap();
                s.sync().unwrap();
            }
            assert!(dir.path().join(sub).is_dir(), "{engine:?}");
            let s = open(engine, dir.path()).unwrap();
            assert_eq!(s.get(b"k").unwrap(), Some(b"v".to_vec()), "{engine:?}");
        }
    }

    #[test]
    fn switching_engines_on_a_data_dir_with_a_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(StorageEngine::Sled, dir.path()).unwrap());
        let err = open(StorageEngine::Fjall, dir.path()).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("holds a sled store"), "{text}");
        assert!(text.contains("storage_engine = \"sled\""), "{text}");
        assert!(!dir.path().join(FJALL_DIR).exists());
        // Moving the old store away is the way to start the other engine empty.
        std::fs::rename(dir.path().join(SLED_DIR), dir.path().join("db.old")).unwrap();
        let s = open(StorageEngine::Fjall, dir.path()).unwrap();
        assert_eq!(s.get(b"k").unwrap(), None);
        drop(s);
        assert!(open(StorageEngine::Sled, dir.path())
            .err()
            .unwrap()
            .to_string()
            .contains("holds a fjall store"));
        // The memory engine ignores the directory.
        open(StorageEngine::Memory, dir.path()).unwrap();
    }
}
