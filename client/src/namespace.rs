//! [`Namespace`]: a handle on one namespace, from which every data request is made.
//!
//! A namespace has its own id (which goes into the key hash, so it decides placement), its own
//! replication factor `N` (a key's primaries are the first `N` nodes of its preference list)
//! and its own default consistency. [`crate::Client::namespace`] asks the cluster for them
//! once; the handle is cheap to clone and keeps them.
//!
//! ```no_run
//! # async fn example(client: kvorum_client::Client) -> Result<(), kvorum_client::Error> {
//! let carts = client.namespace("carts").await?;
//! carts.add("cart:7", ["apple", "pear"]).await?;
//! carts.hset("user:7", [("name", "Ada"), ("lang", "en")]).await?;
//! let name = carts.hget("user:7", "name").await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use bytes::Bytes;
use kvorum_consistency::Spec;
use kvorum_ring::NamespaceId;
use kvorum_wire::native::NamespaceInfo;

use crate::batch::{GetMany, SetMany};
use crate::client::Inner;
use crate::connection::bytes;
use crate::error::Error;
use crate::request::{
    Add, Call, Delete, Get, HDel, HGet, HGetAll, HSet, Incr, Members, Remove, Set,
};
use crate::scan::Scan;
use crate::Route;

/// A namespace of the cluster; every data request starts here.
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Inner>,
    info: Arc<NamespaceInfo>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.info.name)
            .field("id", &self.info.id)
            .field("n", &self.info.n)
            .finish_non_exhaustive()
    }
}

impl Namespace {
    pub(crate) fn new(inner: Arc<Inner>, info: NamespaceInfo) -> Namespace {
        Namespace {
            inner,
            info: Arc::new(info),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub(crate) fn info(&self) -> &NamespaceInfo {
        &self.info
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Its id (part of every key's hash).
    pub fn id(&self) -> NamespaceId {
        self.info.id
    }

    /// Its replication factor `N`.
    pub fn replication(&self) -> usize {
        self.info.n
    }

    /// The consistency its requests use when they ask for none.
    pub fn default_consistency(&self) -> &Spec {
        &self.info.default
    }

    /// `true` for a `CONFLICT lww` namespace: reads show only the winning sibling.
    pub fn is_lww(&self) -> bool {
        self.info.lww
    }

    /// Where `key` lives in the client's current topology: its partition, primaries and
    /// fallbacks, exactly as the nodes place it.
    pub fn route(&self, key: impl AsRef<[u8]>) -> Result<Route, Error> {
        self.inner
            .topology
            .get()
            .route(self.info.id, key.as_ref(), self.info.n)
    }

    /// Reads a string key: every sibling and their causal context ([`crate::Siblings`]).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Call<Get> {
        Call::new(self.clone(), bytes(key), Get)
    }

    /// Writes a string key (`.context(..)` to resolve siblings, `.ttl(..)` to expire it).
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Call<Set> {
        Call::new(self.clone(), bytes(key), Set::new(bytes(value)))
    }

    /// Deletes a key, whatever its type: whether it existed.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Call<Delete> {
        Call::new(self.clone(), bytes(key), Delete)
    }

    /// Adds `delta` to a counter (created at 0): its new value. Safe to have retried: a
    /// resend after a lost reply is not counted twice.
    pub fn incr(&self, key: impl AsRef<[u8]>, delta: i64) -> Call<Incr> {
        Call::new(self.clone(), bytes(key), Incr { delta })
    }

    /// Adds members to a set: how many were new.
    pub fn add<I>(&self, key: impl AsRef<[u8]>, members: I) -> Call<Add>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let members = members.into_iter().map(bytes).collect();
        Call::new(self.clone(), bytes(key), Add { members })
    }

    /// Removes members from a set: how many were there.
    pub fn remove<I>(&self, key: impl AsRef<[u8]>, members: I) -> Call<Remove>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let members = members.into_iter().map(bytes).collect();
        Call::new(self.clone(), bytes(key), Remove { members })
    }

    /// A set's members.
    pub fn members(&self, key: impl AsRef<[u8]>) -> Call<Members> {
        Call::new(self.clone(), bytes(key), Members)
    }

    /// Sets hash fields: how many were new.
    pub fn hset<I, F, V>(&self, key: impl AsRef<[u8]>, fields: I) -> Call<HSet>
    where
        I: IntoIterator<Item = (F, V)>,
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let fields = fields
            .into_iter()
            .map(|(f, v)| (bytes(f), bytes(v)))
            .collect();
        Call::new(self.clone(), bytes(key), HSet { fields })
    }

    /// One hash field's value.
    pub fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Call<HGet> {
        Call::new(
            self.clone(),
            bytes(key),
            HGet {
                field: bytes(field),
            },
        )
    }

    /// Every field of a hash with its value.
    pub fn hgetall(&self, key: impl AsRef<[u8]>) -> Call<HGetAll> {
        Call::new(self.clone(), bytes(key), HGetAll)
    }

    /// Removes hash fields: how many were there.
    pub fn hdel<I>(&self, key: impl AsRef<[u8]>, fields: I) -> Call<HDel>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let fields = fields.into_iter().map(bytes).collect();
        Call::new(self.clone(), bytes(key), HDel { fields })
    }

    /// Reads many string keys, one batch request per node: each key's siblings, in order.
    pub fn get_many<I>(&self, keys: I) -> GetMany
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        GetMany::new(self.clone(), keys.into_iter().map(bytes).collect())
    }

    /// Writes many string keys, one batch request per node: each write's outcome, in order.
    pub fn set_many<I, K, V>(&self, pairs: I) -> SetMany
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let pairs: Vec<(Bytes, Bytes)> = pairs
            .into_iter()
            .map(|(k, v)| (bytes(k), bytes(v)))
            .collect();
        SetMany::new(self.clone(), pairs)
    }

    /// Every key of the namespace, as a stream, in key-hash order, one page at a time.
    pub fn scan(&self) -> Scan {
        Scan::new(self.clone())
    }
}
