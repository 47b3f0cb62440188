//! Batch builders: [`GetMany`] and [`SetMany`].
//!
//! The keys are routed one by one, then grouped into one [`kvorum_wire::native::Request::Batch`]
//! per node (at most [`crate::ClientBuilder::max_batch`] operations each), and the groups are
//! sent concurrently. Each operation keeps its own request id and is retried on its own by the
//! rules of [`crate::retry`]; the batch is not atomic, so each key gets its own outcome.
//!
//! The outer `Result` fails only if nothing could be attempted (contradicting options, a closed
//! client, no in-flight slot in time); the inner ones are per key, in the order given.
//!
//! ```no_run
//! # async fn example(ns: kvorum_client::Namespace) -> Result<(), kvorum_client::Error> {
//! for outcome in ns.set_many([("a", "1"), ("b", "2")]).await? {
//!     outcome?;
//! }
//! let reads = ns.get_many(["a", "b", "missing"]).await?;
//! # Ok(()) }
//! ```

use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use kvorum_ring::NodeId;
use kvorum_wire::native::{Op, OpReply, OpRequest};

use crate::client::request_id;
use crate::error::Error;
use crate::namespace::Namespace;
use crate::options::{option_methods, Options};
use crate::request::{unexpected, BoxFuture, Get, Operation, Set};
use crate::value::Siblings;

/// [`Namespace::get_many`]: reads many keys.
#[must_use = "a request does nothing until awaited"]
pub struct GetMany {
    ns: Namespace,
    keys: Vec<Bytes>,
    opts: Options,
}

impl GetMany {
    pub(crate) fn new(ns: Namespace, keys: Vec<Bytes>) -> GetMany {
        GetMany {
            ns,
            keys,
            opts: Options::default(),
        }
    }

    option_methods!();

    async fn run(self) -> Result<Vec<Result<Siblings, Error>>, Error> {
        let spec = self.opts.spec()?;
        let requests = self
            .keys
            .into_iter()
            .map(|key| {
                Ok(OpRequest {
                    id: request_id()?,
                    ns: self.ns.id(),
                    key,
                    consistency: spec.clone(),
                    op: Op::Get,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let answers = self
            .ns
            .inner()
            .batch(self.ns.info(), requests, &self.opts)
            .await?;
        Ok(answers
            .into_iter()
            .map(|answer| decode::<Get>(answer, false))
            .collect())
    }
}

impl IntoFuture for GetMany {
    type Output = Result<Vec<Result<Siblings, Error>>, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// [`Namespace::set_many`]: writes many keys.
#[must_use = "a request does nothing until awaited"]
pub struct SetMany {
    ns: Namespace,
    pairs: Vec<(Bytes, Bytes)>,
    ttl: Option<Duration>,
    opts: Options,
}

impl SetMany {
    pub(crate) fn new(ns: Namespace, pairs: Vec<(Bytes, Bytes)>) -> SetMany {
        SetMany {
            ns,
            pairs,
            ttl: None,
            opts: Options::default(),
        }
    }

    option_methods!();

    /// Expires every key written this long after its write.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    async fn run(self) -> Result<Vec<Result<(), Error>>, Error> {
        let spec = self.opts.spec()?;
        let mut requests = Vec::with_capacity(self.pairs.len());
        for (key, value) in self.pairs {
            let mut set = Set::new(value);
            if let Some(ttl) = self.ttl {
                set = set.with_ttl(ttl);
            }
            requests.push(OpRequest {
                id: request_id()?,
                ns: self.ns.id(),
                key,
                consistency: spec.clone(),
                op: set.into_op()?,
            });
        }
        let answers = self
            .ns
            .inner()
            .batch(self.ns.info(), requests, &self.opts)
            .await?;
        Ok(answers
            .into_iter()
            .map(|answer| decode::<Set>(answer, true))
            .collect())
    }
}

impl IntoFuture for SetMany {
    type Output = Result<Vec<Result<(), Error>>, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn decode<K: Operation>(
    answer: Result<(NodeId, OpReply), Error>,
    write: bool,
) -> Result<K::Output, Error> {
    let (node, reply) = answer?;
    K::decode(reply).map_err(|reason| unexpected(node, reason, write))
}
