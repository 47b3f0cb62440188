//! The namespace catalog: which namespaces exist, their ids, RESP db indexes and policies.
//!
//! The catalog is cluster metadata. Every node keeps a full copy, changes it locally
//! (`NAMESPACE CREATE | ALTER | DROP`) and sends it whole to its peers, which merge it into
//! theirs. This module is the pure part: the state, the local changes, the merge and the rules
//! that turn the merged state into answers ("which namespace is db 3?"). It does no I/O.
//!
//! # The merge rule
//!
//! The catalog is a map `name → entry`. Every local change of a name writes a new entry for it
//! stamped with a [`Stamp`] `(HLC timestamp, node id)`, which is unique (one node never mints a
//! timestamp twice, and node ids are unique) and larger than every stamp the changing node had
//! seen. Merging two catalogs keeps, per name, the entry with the larger stamp (last writer wins;
//! equal stamps with different contents, which only a bug could produce, are ordered by their
//! encoding so that the result is still the same everywhere). Dropped names stay as tombstones,
//! so a drop is never undone by an older copy that still holds the namespace.
//!
//! Each entry also carries the set of namespace ids that name *used to* have (`retired`): the id
//! of a dropped namespace, and the id of a definition that lost to a concurrent `CREATE` of the
//! same name on another node. The merge unites these sets (minus the winner's own id). Data under
//! a retired id belongs to no namespace any more; every node deletes it in the background.
//!
//! Per name the merge is a last-writer-wins register plus a grow-only set, so it is commutative,
//! associative and idempotent (property-tested in `tests/catalog_laws.rs`): nodes that have
//! received the same changes, in any order and any grouping, hold identical catalogs.
//!
//! # Conflicts between names
//!
//! Two nodes may concurrently create different names that claim the same db index (or, with
//! negligible probability, draw the same id). Such conflicts are not resolved by changing the
//! state, but by a rule every reader applies to the merged state, so every node answers alike:
//! the namespace created first — smallest creation [`Stamp`], then smallest name — keeps the db
//! index (or the id); the other keeps no db index (it stays reachable with `NAMESPACE USE`), and
//! one that lost its id is unusable until dropped. [`Catalog::conflicts`] reports them. Db index 0
//! always belongs to `default`.
//!
//! # Ids
//!
//! `default` is [`NamespaceId::DEFAULT`] (0). Db `n` without a namespace mapped to it is the bare
//! namespace `NamespaceId(n)` with the default policy, as before namespaces could be created.
//! Created namespaces get ids in `2^31 .. 2^32 - 1`, drawn from a hash of the name and its
//! creation stamp, so a name created again after a drop never shares an id (and so never sees
//! data) with its previous life.

use std::collections::{BTreeMap, BTreeSet};

use kvorum_ring::{NamespaceId, NodeId};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::hlc::Timestamp;
use crate::policy::NamespacePolicy;

/// The version byte in front of every encoded catalog (on disk and on the wire).
pub const CATALOG_FORMAT_VERSION: u8 = 1;

/// The name of the namespace that always exists (id 0, db 0).
pub const DEFAULT_NAME: &str = "default";

/// The most entries (live or dropped) a catalog holds; `CREATE` of a new name beyond it is
/// refused. It keeps the catalog small enough to send whole in one peer message.
pub const MAX_ENTRIES: usize = 1024;

/// The longest namespace name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The first id of created namespaces; bare db indexes stay below it.
pub const FIRST_CREATED_ID: u32 = 1 << 31;

/// Names one change of the catalog: when (HLC) and where it was made. Totally ordered by time,
/// then node id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub at: Timestamp,
    pub node: NodeId,
}

/// One live namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceDef {
    /// Where its keys live (storage and placement); fixed for the life of the namespace.
    pub id: NamespaceId,
    /// The RESP db index that `SELECT` maps to it, if any.
    pub db: Option<u32>,
    pub policy: NamespacePolicy,
    /// Default time to live of keys written without one, in seconds.
    pub ttl_s: Option<u64>,
    /// When it was created; decides db index and id conflicts (the earlier keeps them).
    pub created: Stamp,
}

/// One name's state: its last change wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The change that wrote this entry.
    pub changed: Stamp,
    /// `None`: dropped (a tombstone).
    pub def: Option<NamespaceDef>,
    /// Ids this name had before (dropped, or lost to a concurrent create): their data is
    /// deleted in the background.
    pub retired: BTreeSet<NamespaceId>,
}

/// A namespace as readers see it after conflicts are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    pub name: &'a str,
    pub def: &'a NamespaceDef,
    /// The db index it owns (`None` if it asked for none, or lost its index to an earlier
    /// namespace).
    pub db: Option<u32>,
    /// False if an earlier namespace holds its id: requests to it are refused.
    pub usable: bool,
}

/// A conflict between concurrently created names, as [`Catalog::conflicts`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// `loser` asked for db `db`, which `owner` keeps.
    Db {
        db: u32,
        owner: String,
        loser: String,
    },
    /// `loser` drew the id `owner` already has.
    Id {
        id: NamespaceId,
        owner: String,
        loser: String,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::Db { db, owner, loser } => write!(
                f,
                "'{loser}' asked for db {db}, which '{owner}' (created earlier) keeps"
            ),
            Conflict::Id { id, owner, loser } => write!(
                f,
                "'{loser}' drew id {}, which '{owner}' (created earlier) keeps",
                id.0
            ),
        }
    }
}

/// A local change the catalog refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("namespace '{0}' already exists")]
    Exists(String),
    #[error("no such namespace '{0}'")]
    NotFound(String),
    #[error("invalid namespace name '{0}': use 1 to {MAX_NAME_LEN} letters, digits, '_' or '-'")]
    BadName(String),
    #[error("the 'default' namespace cannot be {0}")]
    Default(&'static str),
    #[error("db {db} is already mapped to namespace '{owner}'")]
    DbTaken { db: u32, owner: String },
    #[error("the catalog holds {MAX_ENTRIES} namespaces (dropped ones included), its limit")]
    Full,
    /// A definition that breaks a rule the caller checks (policy bounds, db range, N).
    #[error("{0}")]
    Invalid(String),
}

/// The namespace catalog. See the module docs for the merge rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    entries: BTreeMap<String, Entry>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Every entry, dropped ones included, by name.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// The live definition of a name (`default` only once it was altered).
    pub fn get(&self, name: &str) -> Option<&NamespaceDef> {
        self.entries.get(name).and_then(|e| e.def.as_ref())
    }

    /// The largest stamp in the catalog: a node's clock observes it so that its next change is
    /// later than every change it has seen.
    pub fn latest(&self) -> Option<Stamp> {
        self.entries.values().map(|e| e.changed).max()
    }

    /// A summary that two catalogs share exactly when they are equal (up to hash collisions):
    /// peers compare it to see whether they need to exchange catalogs.
    pub fn digest(&self) -> u64 {
        kvorum_ring::key_hash(NamespaceId::DEFAULT, &self.encode())
    }

    /// Merges another catalog into this one; returns whether this one changed.
    pub fn merge(&mut self, other: &Catalog) -> bool {
        let mut changed = false;
        for (name, theirs) in &other.entries {
            match self.entries.get_mut(name) {
                None => {
                    self.entries.insert(name.clone(), theirs.clone());
                    changed = true;
                }
                Some(ours) => {
                    let merged = merge_entry(ours, theirs);
                    if merged != *ours {
                        *ours = merged;
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Creates `name` with `def` (whose `id` and `created` are filled in here) at `stamp`.
    /// `stamp` must be later than every stamp this catalog holds.
    pub fn create(
        &mut self,
        name: &str,
        mut def: NamespaceDef,
        stamp: Stamp,
    ) -> Result<NamespaceId, CatalogError> {
        check_name(name)?;
        if name == DEFAULT_NAME {
            return Err(CatalogError::Exists(name.to_owned()));
        }
        let previous = self.entries.get(name);
        if previous.is_some_and(|e| e.def.is_some()) {
            return Err(CatalogError::Exists(name.to_owned()));
        }
        if previous.is_none() && self.entries.len() >= MAX_ENTRIES {
            return Err(CatalogError::Full);
        }
        if let Some(db) = def.db {
            self.check_db_free(db, name)?;
        }
        def.id = self.fresh_id(name, stamp);
        def.created = stamp;
        let id = def.id;
        let retired = previous.map(|e| e.retired.clone()).unwrap_or_default();
        self.put_live(name, stamp, def, retired);
        Ok(id)
    }

    /// Records `def` as the live definition of `name`, changed at `stamp`.
    fn put_live(
        &mut self,
        name: &str,
        stamp: Stamp,
        def: NamespaceDef,
        retired: BTreeSet<NamespaceId>,
    ) {
        self.entries.insert(
            name.to_owned(),
            Entry {
                changed: stamp,
                def: Some(def),
                retired,
            },
        );
    }

    /// Changes a live namespace: `change` edits a copy of its definition (its id and creation
    /// stamp are kept whatever `change` does). For `default`, which has no entry until it is
    /// first altered, `base` is its current definition.
    pub fn alter(
        &mut self,
        name: &str,
        base: Option<&NamespaceDef>,
        stamp: Stamp,
        change: impl FnOnce(&mut NamespaceDef),
    ) -> Result<(), CatalogError> {
        let entry = self.entries.get(name);
        let current = match (entry.and_then(|e| e.def.as_ref()), base) {
            (Some(def), _) => def,
            (None, Some(base)) if name == DEFAULT_NAME => base,
            _ => return Err(CatalogError::NotFound(name.to_owned())),
        };
        let mut def = current.clone();
        change(&mut def);
        def.id = current.id;
        def.created = current.created;
        if name == DEFAULT_NAME && def.db != Some(0) {
            return Err(CatalogError::Default("moved off db 0"));
        }
        if let Some(db) = def.db.filter(|&db| current.db != Some(db)) {
            self.check_db_free(db, name)?;
        }
        let retired = entry.map(|e| e.retired.clone()).unwrap_or_default();
        self.put_live(name, stamp, def, retired);
        Ok(())
    }

    /// Drops a live namespace; its id is retired (its data deleted in the background).
    pub fn drop_namespace(
        &mut self,
        name: &str,
        stamp: Stamp,
    ) -> Result<NamespaceId, CatalogError> {
        if name == DEFAULT_NAME {
            return Err(CatalogError::Default("dropped"));
        }
        let entry = self
            .entries
            .get_mut(name)
            .filter(|e| e.def.is_some())
            .ok_or_else(|| CatalogError::NotFound(name.to_owned()))?;
        let id = entry
            .def
            .take()
            .map(|d| d.id)
            .unwrap_or(NamespaceId::DEFAULT);
        entry.retired.insert(id);
        entry.changed = stamp;
        Ok(id)
    }

    /// Live namespaces with the conflict rule applied, by name.
    pub fn resolved(&self) -> Vec<Resolved<'_>> {
        let live: Vec<(&str, &NamespaceDef)> = self.live().collect();
        live.iter()
            .map(|&(name, def)| Resolved {
                name,
                def,
                db: def
                    .db
                    .filter(|&db| owner_of(&live, |d| d.db == Some(db)) == Some(name)),
                usable: owner_of(&live, |d| d.id == def.id) == Some(name),
            })
            .collect()
    }

    /// The usable namespace that owns db `db` (never `default`'s db 0).
    pub fn db_owner(&self, db: u32) -> Option<(&str, &NamespaceDef)> {
        if db == 0 {
            return None;
        }
        let live: Vec<(&str, &NamespaceDef)> = self.live().collect();
        let name = owner_of(&live, |d| d.db == Some(db))?;
        live.into_iter().find(|&(n, _)| n == name)
    }

    /// The usable live namespace with id `id`.
    pub fn by_id(&self, id: NamespaceId) -> Option<(&str, &NamespaceDef)> {
        let live: Vec<(&str, &NamespaceDef)> = self.live().collect();
        let name = owner_of(&live, |d| d.id == id)?;
        live.into_iter().find(|&(n, _)| n == name)
    }

    /// Every conflict between live names, for operators (`NAMESPACE LIST`, `NAMESPACE INFO`).
    pub fn conflicts(&self) -> Vec<Conflict> {
        let live: Vec<(&str, &NamespaceDef)> = self.live().collect();
        let mut out = Vec::new();
        for &(name, def) in &live {
            if let Some(db) = def.db {
                let owner = if db == 0 && name != DEFAULT_NAME {
                    Some(DEFAULT_NAME)
                } else {
                    owner_of(&live, |d| d.db == Some(db))
                };
                if let Some(owner) = owner.filter(|&o| o != name) {
                    out.push(Conflict::Db {
                        db,
                        owner: owner.to_owned(),
                        loser: name.to_owned(),
                    });
                }
            }
            if let Some(owner) = owner_of(&live, |d| d.id == def.id).filter(|&o| o != name) {
                out.push(Conflict::Id {
                    id: def.id,
                    owner: owner.to_owned(),
                    loser: name.to_owned(),
                });
            }
        }
        out
    }

    /// Ids whose data belongs to no namespace any more (dropped, or lost to a concurrent
    /// create), never the id of a live namespace.
    pub fn retired_ids(&self) -> BTreeSet<NamespaceId> {
        let live: BTreeSet<NamespaceId> = self.live().map(|(_, d)| d.id).collect();
        self.entries
            .values()
            .flat_map(|e| e.retired.iter().copied())
            .filter(|id| !live.contains(id) && *id != NamespaceId::DEFAULT)
            .collect()
    }

    /// The catalog's bytes: the version byte, then its rmp-serde encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![CATALOG_FORMAT_VERSION];
        // Encoding plain structs and maps into a Vec cannot fail; should it ever, the version
        // byte alone decodes to an error rather than to a wrong catalog.
        let _ = rmp_serde::encode::write_named(&mut out, self);
        out
    }

    /// Decodes [`Catalog::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Catalog, DecodeError> {
        let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != CATALOG_FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion {
                found: version,
                supported: CATALOG_FORMAT_VERSION,
            });
        }
        let catalog: Catalog = rmp_serde::from_slice(body).map_err(|e| DecodeError::Malformed {
            message: e.to_string(),
        })?;
        if catalog.entries.len() > MAX_ENTRIES {
            return Err(DecodeError::Invalid {
                reason: "the catalog holds more entries than the limit",
            });
        }
        Ok(catalog)
    }

    /// Live definitions, by name.
    fn live(&self) -> impl Iterator<Item = (&str, &NamespaceDef)> {
        self.entries
            .iter()
            .filter_map(|(name, e)| e.def.as_ref().map(|d| (name.as_str(), d)))
    }

    fn check_db_free(&self, db: u32, name: &str) -> Result<(), CatalogError> {
        if db == 0 {
            return Err(CatalogError::DbTaken {
                db,
                owner: DEFAULT_NAME.to_owned(),
            });
        }
        match self.live().find(|&(n, d)| d.db == Some(db) && n != name) {
            Some((owner, _)) => Err(CatalogError::DbTaken {
                db,
                owner: owner.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// An id in the created range drawn from the name and stamp, avoiding every id this
    /// catalog knows (live or retired).
    fn fresh_id(&self, name: &str, stamp: Stamp) -> NamespaceId {
        let known: BTreeSet<NamespaceId> = self
            .entries
            .values()
            .flat_map(|e| {
                e.retired
                    .iter()
                    .copied()
                    .chain(e.def.as_ref().map(|d| d.id))
            })
            .collect();
        let mut seed = Vec::with_capacity(name.len() + 24);
        seed.extend_from_slice(name.as_bytes());
        seed.extend_from_slice(&stamp.at.physical_ms.to_be_bytes());
        seed.extend_from_slice(&stamp.at.logical.to_be_bytes());
        seed.extend_from_slice(&stamp.node.0.to_be_bytes());
        let mut round = 0u32;
        loop {
            let mut input = seed.clone();
            input.extend_from_slice(&round.to_be_bytes());
            let hash = kvorum_ring::key_hash(NamespaceId::DEFAULT, &input);
            // 2^31 .. 2^32 - 2: u32::MAX is reserved for hints.
            let id = FIRST_CREATED_ID + (hash % u64::from(u32::MAX - FIRST_CREATED_ID)) as u32;
            if !known.contains(&NamespaceId(id)) {
                return NamespaceId(id);
            }
            round += 1;
        }
    }
}

/// The owner among live names matching `claims`: smallest creation stamp, then name.
fn owner_of<'a>(
    live: &[(&'a str, &NamespaceDef)],
    claims: impl Fn(&NamespaceDef) -> bool,
) -> Option<&'a str> {
    live.iter()
        .filter(|(_, d)| claims(d))
        .min_by_key(|(name, d)| (d.created, *name))
        .map(|(name, _)| *name)
}

/// The merge of one name's two entries: the later change wins, retired ids are united.
fn merge_entry(a: &Entry, b: &Entry) -> Entry {
    let winner = match a.changed.cmp(&b.changed) {
        std::cmp::Ordering::Less => b,
        std::cmp::Ordering::Greater => a,
        // Only a bug mints one stamp twice; order by encoding so every node still agrees.
        std::cmp::Ordering::Equal => {
            let encode = |e: &Entry| rmp_serde::to_vec_named(e).unwrap_or_default();
            if encode(a) >= encode(b) {
                a
            } else {
                b
            }
        }
    };
    let winner_id = winner.def.as_ref().map(|d| d.id);
    let retired = a
        .retired
        .iter()
        .chain(&b.retired)
        .copied()
        .chain(a.def.as_ref().map(|d| d.id))
        .chain(b.def.as_ref().map(|d| d.id))
        .filter(|&id| Some(id) != winner_id)
        .collect();
    Entry {
        changed: winner.changed,
        def: winner.def.clone(),
        retired,
    }
}

/// Checks a namespace name: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `_` or `-`.
pub fn check_name(name: &str) -> Result<(), CatalogError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CatalogError::BadName(
            name.chars().take(MAX_NAME_LEN).collect(),
        ))
    }
}
