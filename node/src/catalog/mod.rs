//! This node's copy of the namespace catalog: loaded from storage at start, changed by the
//! `NAMESPACE` commands, merged with the copies peers send, persisted before any change is
//! acknowledged, and consulted by every request for its namespace's policy.
//!
//! The rules (merge, conflicts, ids) live in the pure [`kvorum_consistency::catalog`]; this
//! module adds the I/O around them.
//!
//! # Layout
//! - this file: [`NamespaceCatalog`], the shared handle (state, clock, persistence, lookups).
//! - `sync`: the `namespace-catalog` task, which sends the catalog to every peer on each change
//!   and every sync interval (`[namespaces] sync_interval_ms`), and merges what peers send (routed to it by the driver).
//! - `purge`: the `namespace-purger` task, which deletes the data of dropped namespaces in
//!   bounded batches.
//!
//! # Persistence
//! The catalog is the storage metadata record [`META_CATALOG`]: the catalog's own encoding,
//! which starts with its format version byte. A change (local or merged) is written and synced
//! before it is acknowledged or used, and changes are written one at a time in the order they
//! were made, so a later write always holds every earlier change.

mod purge;
pub mod sync;

use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kvorum_consistency::catalog::{
    Catalog, CatalogError, NamespaceDef, Stamp, DEFAULT_NAME, MAX_ENTRIES,
};
use kvorum_consistency::{Hlc, NamespacePolicy};
use kvorum_ring::{NamespaceId, NodeId};
use tokio::sync::Notify;

use crate::storage::{Storage, StorageError};

pub use purge::{run_purger, PurgeSettings};
pub use sync::{run_sync, SyncSettings};

/// The storage metadata record holding the catalog.
pub const META_CATALOG: &str = "namespace_catalog";

/// Why the catalog could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogStoreError {
    #[error("reading or writing the namespace catalog: {0}")]
    Storage(#[from] StorageError),
    #[error("the stored namespace catalog is unreadable: {0}")]
    Decode(#[from] kvorum_consistency::DecodeError),
    #[error("{0}")]
    Refused(#[from] CatalogError),
}

/// The namespace a request runs in could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("this connection's namespace no longer exists (it was dropped); use NAMESPACE USE or SELECT")]
    Gone,
}

/// What a node's catalog is set up with, from its configuration and layout.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    pub node: NodeId,
    pub replication: usize,
    pub max_replication: usize,
    pub databases: u32,
    pub max_namespaces: usize,
    /// `default`'s policy from the config.
    pub default_policy: NamespacePolicy,
}

/// This node's catalog, shared by the RESP connections, the driver and the catalog tasks.
pub struct NamespaceCatalog {
    node: NodeId,
    /// The cluster's replication factor: the `N` of `default` and of a namespace created
    /// without one.
    pub replication: usize,
    /// The largest `N` a namespace may have: the layout's balanced width (every node at most).
    pub max_replication: usize,
    /// `SELECT` accepts 0 to `databases - 1`; created namespaces may map to those.
    pub databases: u32,
    /// `NAMESPACE CREATE` is refused once the catalog holds this many entries (dropped ones
    /// included until purged); at most [`kvorum_consistency::catalog::MAX_ENTRIES`].
    pub max_namespaces: usize,
    /// `default`'s definition from the config, until the catalog holds an altered one.
    default_def: NamespaceDef,
    state: RwLock<Catalog>,
    hlc: Mutex<Hlc>,
    /// Held while a change is applied and written, so writes reach storage in change order.
    writing: Mutex<()>,
    storage: Arc<dyn Storage>,
    /// Raised on every change, for the sync task.
    pub(crate) changed: Notify,
}

impl NamespaceCatalog {
    /// Loads the catalog from storage (empty if the data dir has none yet).
    pub fn load(
        storage: Arc<dyn Storage>,
        settings: CatalogSettings,
    ) -> Result<NamespaceCatalog, CatalogStoreError> {
        let CatalogSettings {
            node,
            replication,
            max_replication,
            databases,
            max_namespaces,
            default_policy,
        } = settings;
        let catalog = match storage.get_meta(META_CATALOG)? {
            Some(bytes) => Catalog::decode(&bytes)?,
            None => Catalog::new(),
        };
        let mut hlc = Hlc::new();
        if let Some(latest) = catalog.latest() {
            hlc.observe(latest.at);
        }
        let zero = Stamp {
            at: kvorum_consistency::Timestamp::ZERO,
            node: NodeId(0),
        };
        Ok(NamespaceCatalog {
            node,
            replication,
            max_replication,
            databases,
            max_namespaces: max_namespaces.min(MAX_ENTRIES),
            default_def: NamespaceDef {
                id: NamespaceId::DEFAULT,
                db: Some(0),
                policy: default_policy,
                ttl_s: None,
                created: zero,
            },
            state: RwLock::new(catalog),
            hlc: Mutex::new(hlc),
            writing: Mutex::new(()),
            storage,
            changed: Notify::new(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Catalog> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_writing(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the whole catalog (to send, or to list).
    pub fn snapshot(&self) -> Catalog {
        self.read().clone()
    }

    /// `default`'s current definition (the config's, or the catalog's once altered).
    pub fn default_def(&self) -> NamespaceDef {
        self.read()
            .get(DEFAULT_NAME)
            .cloned()
            .unwrap_or_else(|| self.default_def.clone())
    }

    /// The definition of a live namespace by name (`default` included).
    pub fn lookup(&self, name: &str) -> Option<NamespaceDef> {
        if name == DEFAULT_NAME {
            return Some(self.default_def());
        }
        self.read().get(name).cloned()
    }

    /// The namespace `SELECT db` switches to: the usable namespace mapped to it, else the bare
    /// namespace `NamespaceId(db)`. `None` if `db` is out of range.
    pub fn select(&self, db: u32) -> Option<NamespaceId> {
        if db >= self.databases {
            return None;
        }
        Some(
            self.read()
                .db_owner(db)
                .map(|(_, def)| def.id)
                .unwrap_or(NamespaceId(db)),
        )
    }

    /// The name and definition of the namespace with id `ns` (a bare db gets `default`'s
    /// policy under the name `db<n>`).
    pub fn by_id(&self, ns: NamespaceId) -> Result<(String, NamespaceDef), LookupError> {
        self.with_def(ns, |name, def| (name.to_owned(), def.clone()))
    }

    /// `f` of the name and definition of namespace `ns` (as [`Self::by_id`]), without copying
    /// the name: requests look their namespace up on every command.
    fn with_def<T>(
        &self,
        ns: NamespaceId,
        f: impl FnOnce(&str, &NamespaceDef) -> T,
    ) -> Result<T, LookupError> {
        if ns == NamespaceId::DEFAULT {
            return Ok(f(DEFAULT_NAME, &self.default_def()));
        }
        if let Some((name, def)) = self.read().by_id(ns) {
            return Ok(f(name, def));
        }
        if ns.0 < self.databases && ns.0 < kvorum_consistency::catalog::FIRST_CREATED_ID {
            let def = NamespaceDef {
                id: ns,
                db: Some(ns.0),
                ..self.default_def()
            };
            return Ok(f(&format!("db{}", ns.0), &def));
        }
        Err(LookupError::Gone)
    }

    /// Every live namespace as requests see it ([`namespace_views`]), by name.
    pub fn views(&self) -> Vec<NamespaceView> {
        // `default_def` takes the read lock itself: never while this call holds it (a second
        // read lock behind a waiting writer would deadlock).
        let default_def = self.default_def();
        namespace_views(&self.read(), &default_def)
    }

    /// The policy requests in `ns` run under.
    pub fn policy_of(&self, ns: NamespaceId) -> Result<NamespacePolicy, LookupError> {
        self.def_of(ns).map(|def| def.policy)
    }

    /// The definition (policy, TTL, db) requests in `ns` run under.
    pub fn def_of(&self, ns: NamespaceId) -> Result<NamespaceDef, LookupError> {
        self.with_def(ns, |_, def| def.clone())
    }

    /// Ids whose data the purger deletes.
    pub fn retired_ids(&self) -> Vec<NamespaceId> {
        self.read().retired_ids().into_iter().collect()
    }

    /// Applies a local change at a fresh stamp and writes the result durably before returning.
    /// `change` gets the catalog, the stamp and `default`'s current definition; it runs under
    /// the catalog's write lock, so it must not call back into this handle. Blocks on storage
    /// (one write and sync).
    pub fn change<T>(
        &self,
        change: impl FnOnce(&mut Catalog, Stamp, &NamespaceDef) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogStoreError> {
        // Writers take turns on `writing`; readers (every request's policy lookup) are held
        // up only for the swap, never for the write and sync.
        let _writing = self.lock_writing();
        let default_def = self.default_def();
        let stamp = Stamp {
            at: self
                .hlc
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .now(crate::clock::wall_ms()),
            node: self.node,
        };
        let mut next = self.snapshot();
        let result = change(&mut next, stamp, &default_def)?;
        // Persist first: a change is used only once it would survive a crash.
        self.persist(&next.encode())?;
        *self.write() = next;
        self.changed.notify_one();
        Ok(result)
    }

    /// Merges a peer's catalog; returns whether ours changed. Blocks on storage.
    pub fn merge(&self, theirs: &Catalog) -> Result<bool, CatalogStoreError> {
        if let Some(latest) = theirs.latest() {
            self.hlc
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .observe(latest.at);
        }
        let _writing = self.lock_writing();
        let mut next = self.snapshot();
        if !next.merge(theirs) {
            return Ok(false);
        }
        self.persist(&next.encode())?;
        *self.write() = next;
        self.changed.notify_one();
        Ok(true)
    }

    fn persist(&self, encoded: &[u8]) -> Result<(), StorageError> {
        self.storage.put_meta(META_CATALOG, encoded)?;
        self.storage.sync()
    }
}

/// One namespace as operators see it: its definition with the catalog's conflict rule applied,
/// which is what requests get (a namespace that lost its db index to an earlier one is not
/// reached by `SELECT`, one that lost its id is refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceView {
    pub name: String,
    pub def: NamespaceDef,
    /// The db index `SELECT` maps to it: always 0 for `default`; `None` if it asked for none or
    /// lost its index to an earlier namespace.
    pub db: Option<u32>,
    /// False if an earlier namespace holds its id: requests to it are refused.
    pub usable: bool,
    /// The catalog change that wrote this definition; `None` for `default` while it has its
    /// configured definition (the catalog holds no entry for it until it is altered).
    pub changed: Option<Stamp>,
}

/// Every live namespace of `catalog`, by name, `default` included whether or not the catalog
/// holds an entry for it (`default_def`, the node's `[default_namespace]` config, is its
/// definition when it does not). `default` is always db 0 and usable, as `NAMESPACE INFO` says.
pub fn namespace_views(catalog: &Catalog, default_def: &NamespaceDef) -> Vec<NamespaceView> {
    let mut views: Vec<NamespaceView> = catalog
        .resolved()
        .into_iter()
        .map(|r| {
            let is_default = r.name == DEFAULT_NAME;
            NamespaceView {
                name: r.name.to_owned(),
                def: r.def.clone(),
                db: if is_default { Some(0) } else { r.db },
                usable: is_default || r.usable,
                changed: catalog.entries().get(r.name).map(|e| e.changed),
            }
        })
        .collect();
    if !views.iter().any(|v| v.name == DEFAULT_NAME) {
        views.push(NamespaceView {
            name: DEFAULT_NAME.to_owned(),
            def: default_def.clone(),
            db: Some(0),
            usable: true,
            changed: None,
        });
        views.sort_by(|a, b| a.name.cmp(&b.name));
    }
    views
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn settings() -> CatalogSettings {
        CatalogSettings {
            node: NodeId(1),
            replication: 3,
            max_replication: 3,
            databases: 16,
            max_namespaces: MAX_ENTRIES,
            default_policy: NamespacePolicy::new(3),
        }
    }

    fn catalog(storage: Arc<dyn Storage>) -> NamespaceCatalog {
        NamespaceCatalog::load(storage, settings()).unwrap()
    }

    #[test]
    fn changes_survive_a_reload_and_select_follows_the_mapping() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let cat = catalog(storage.clone());
        assert_eq!(cat.select(3), Some(NamespaceId(3)));
        assert_eq!(cat.select(16), None);
        let id = cat
            .change(|c, stamp, default_def| {
                // The closure runs under the catalog's lock: it gets `default` handed in.
                let def = NamespaceDef {
                    db: Some(3),
                    ..default_def.clone()
                };
                c.create("sessions", def, stamp)
            })
            .unwrap();
        assert_eq!(cat.select(3), Some(id));
        let reloaded = catalog(storage);
        assert_eq!(reloaded.select(3), Some(id));
        assert_eq!(reloaded.by_id(id).unwrap().0, "sessions");
        reloaded
            .change(|c, stamp, _| c.drop_namespace("sessions", stamp))
            .unwrap();
        assert_eq!(reloaded.by_id(id), Err(LookupError::Gone));
        assert_eq!(reloaded.retired_ids(), vec![id]);
        assert_eq!(reloaded.select(3), Some(NamespaceId(3)));
    }

    #[test]
    fn a_corrupt_record_refuses_to_load() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        storage.put_meta(META_CATALOG, &[7, 1, 2]).unwrap();
        assert!(NamespaceCatalog::load(storage, settings()).is_err());
    }
}
