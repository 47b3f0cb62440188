//! Request builders for single-key operations: [`Call`], one per operation kind.
//!
//! A builder is made by a [`crate::Namespace`] method, takes per-request options (consistency
//! and timeout, [`crate::options`]; a context and a TTL for [`Namespace::set`]) and runs when
//! awaited (it implements [`IntoFuture`]):
//!
//! ```no_run
//! use std::time::Duration;
//! use kvorum_client::Consistency;
//! # async fn example(ns: kvorum_client::Namespace) -> Result<(), kvorum_client::Error> {
//! ns.set("session:1", "token").ttl(Duration::from_secs(3600)).await?;
//! let read = ns.get("session:1").consistency(Consistency::Quorum).await?;
//! let hits = ns.incr("hits", 1).w(1).timeout(Duration::from_millis(200)).await?;
//! # Ok(()) }
//! ```
//!
//! Dropping a builder sends nothing; dropping the future of one that is running abandons it
//! (a write may or may not have been applied then).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use kvorum_ring::NodeId;
use kvorum_wire::native::{Op, OpReply, OpRequest};

use crate::client::request_id;
use crate::error::{Applied, Error};
use crate::namespace::Namespace;
use crate::options::{option_methods, Options};
use crate::value::{Context, Siblings};

/// A boxed future, as every builder's [`IntoFuture`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

mod sealed {
    pub trait Sealed {}
}

/// An operation kind: what [`Call`] sends and what its answer becomes. Implemented by the
/// types in this module only.
pub trait Operation: sealed::Sealed + Send + 'static {
    /// What the call returns.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn into_op(self) -> Result<Op, Error>;
    #[doc(hidden)]
    fn decode(reply: OpReply) -> Result<Self::Output, String>;
}

/// One operation on one key, with its options. Await it to run it.
#[must_use = "a request does nothing until awaited"]
pub struct Call<K> {
    ns: Namespace,
    key: Bytes,
    kind: K,
    opts: Options,
}

impl<K: Operation> Call<K> {
    pub(crate) fn new(ns: Namespace, key: Bytes, kind: K) -> Call<K> {
        Call {
            ns,
            key,
            kind,
            opts: Options::default(),
        }
    }

    option_methods!();

    async fn run(self) -> Result<K::Output, Error> {
        let write;
        let request = {
            let op = self.kind.into_op()?;
            write = op.is_write();
            OpRequest {
                id: request_id()?,
                ns: self.ns.id(),
                key: self.key,
                consistency: self.opts.spec()?,
                op,
            }
        };
        let (node, reply) = self
            .ns
            .inner()
            .op(self.ns.info(), request, &self.opts)
            .await?;
        K::decode(reply).map_err(|reason| unexpected(node, reason, write))
    }
}

impl<K: Operation> IntoFuture for Call<K> {
    type Output = Result<K::Output, Error>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A reply that does not fit the request.
pub(crate) fn unexpected(node: NodeId, reason: String, write: bool) -> Error {
    Error::Protocol {
        node,
        reason,
        applied: if write { Applied::Maybe } else { Applied::No },
    }
}

fn mismatch(expected: &str, got: &OpReply) -> String {
    let got = match got {
        OpReply::Siblings { .. } => "siblings",
        OpReply::Done => "done",
        OpReply::Int(_) => "an integer",
        OpReply::Members(_) => "members",
        OpReply::Field(_) => "a field",
        OpReply::Fields(_) => "fields",
    };
    format!("expected {expected}, got {got}")
}

/// A count, which a node never sends negative.
fn count(reply: OpReply) -> Result<u64, String> {
    match reply {
        OpReply::Int(n) => u64::try_from(n).map_err(|_| format!("negative count {n}")),
        other => Err(mismatch("a count", &other)),
    }
}

fn non_empty<T>(items: Vec<T>, what: &str) -> Result<Vec<T>, Error> {
    if items.is_empty() {
        Err(Error::InvalidRequest(format!(
            "at least one {what} is needed"
        )))
    } else {
        Ok(items)
    }
}

macro_rules! sealed {
    ($($t:ident),*) => { $(impl sealed::Sealed for $t {})* };
}
sealed!(Get, Set, Delete, Incr, Add, Remove, Members, HSet, HGet, HGetAll, HDel);

/// [`Namespace::get`]: every sibling with their causal context.
pub struct Get;

impl Operation for Get {
    type Output = Siblings;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::Get)
    }
    fn decode(reply: OpReply) -> Result<Siblings, String> {
        match reply {
            OpReply::Siblings { context, values } => Ok(Siblings::new(context, values)),
            other => Err(mismatch("siblings", &other)),
        }
    }
}

/// [`Namespace::set`]: writes a string value.
pub struct Set {
    value: Bytes,
    context: Option<Context>,
    ttl: Option<Duration>,
}

impl Set {
    pub(crate) fn new(value: Bytes) -> Set {
        Set {
            value,
            context: None,
            ttl: None,
        }
    }

    pub(crate) fn with_ttl(mut self, ttl: Duration) -> Set {
        self.ttl = Some(ttl);
        self
    }
}

impl Operation for Set {
    type Output = ();
    fn into_op(self) -> Result<Op, Error> {
        let ttl_ms = match self.ttl {
            None => None,
            Some(ttl) if ttl.is_zero() => {
                return Err(Error::InvalidRequest("a TTL must be above zero".into()))
            }
            // Whole milliseconds, at least one: a TTL never expires a key early.
            Some(ttl) => Some(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)),
        };
        Ok(Op::Set {
            value: self.value,
            context: self.context.map(|c| c.as_str().to_owned()),
            ttl_ms,
        })
    }
    fn decode(reply: OpReply) -> Result<(), String> {
        match reply {
            OpReply::Done => Ok(()),
            other => Err(mismatch("done", &other)),
        }
    }
}

impl Call<Set> {
    /// Replaces exactly the siblings a read saw (the context of its [`Siblings`]): the way to
    /// resolve a conflict without discarding a write made after the read.
    pub fn context(mut self, context: impl Into<Context>) -> Self {
        self.kind.context = Some(context.into());
        self
    }

    /// Expires the key this long after the write (whole milliseconds, rounded up).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.kind.ttl = Some(ttl);
        self
    }
}

/// [`Namespace::delete`]: whether the key existed.
pub struct Delete;

impl Operation for Delete {
    type Output = bool;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::Delete)
    }
    fn decode(reply: OpReply) -> Result<bool, String> {
        count(reply).map(|n| n > 0)
    }
}

/// [`Namespace::incr`]: the counter's new value.
pub struct Incr {
    pub(crate) delta: i64,
}

impl Operation for Incr {
    type Output = i64;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::Incr { delta: self.delta })
    }
    fn decode(reply: OpReply) -> Result<i64, String> {
        match reply {
            OpReply::Int(n) => Ok(n),
            other => Err(mismatch("the counter's value", &other)),
        }
    }
}

/// [`Namespace::add`]: how many members were new.
pub struct Add {
    pub(crate) members: Vec<Bytes>,
}

impl Operation for Add {
    type Output = u64;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::SAdd {
            members: non_empty(self.members, "member")?,
        })
    }
    fn decode(reply: OpReply) -> Result<u64, String> {
        count(reply)
    }
}

/// [`Namespace::remove`]: how many members were there.
pub struct Remove {
    pub(crate) members: Vec<Bytes>,
}

impl Operation for Remove {
    type Output = u64;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::SRem {
            members: non_empty(self.members, "member")?,
        })
    }
    fn decode(reply: OpReply) -> Result<u64, String> {
        count(reply)
    }
}

/// [`Namespace::members`]: a set's members.
pub struct Members;

impl Operation for Members {
    type Output = Vec<Bytes>;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::SMembers)
    }
    fn decode(reply: OpReply) -> Result<Vec<Bytes>, String> {
        match reply {
            OpReply::Members(m) => Ok(m),
            other => Err(mismatch("members", &other)),
        }
    }
}

/// [`Namespace::hset`]: how many fields were new.
pub struct HSet {
    pub(crate) fields: Vec<(Bytes, Bytes)>,
}

impl Operation for HSet {
    type Output = u64;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::HSet {
            fields: non_empty(self.fields, "field")?,
        })
    }
    fn decode(reply: OpReply) -> Result<u64, String> {
        count(reply)
    }
}

/// [`Namespace::hget`]: one field's value.
pub struct HGet {
    pub(crate) field: Bytes,
}

impl Operation for HGet {
    type Output = Option<Bytes>;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::HGet { field: self.field })
    }
    fn decode(reply: OpReply) -> Result<Option<Bytes>, String> {
        match reply {
            OpReply::Field(v) => Ok(v),
            other => Err(mismatch("a field", &other)),
        }
    }
}

/// [`Namespace::hgetall`]: every field with its value.
pub struct HGetAll;

impl Operation for HGetAll {
    type Output = Vec<(Bytes, Bytes)>;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::HGetAll)
    }
    fn decode(reply: OpReply) -> Result<Vec<(Bytes, Bytes)>, String> {
        match reply {
            OpReply::Fields(f) => Ok(f),
            other => Err(mismatch("fields", &other)),
        }
    }
}

/// [`Namespace::hdel`]: how many fields were there.
pub struct HDel {
    pub(crate) fields: Vec<Bytes>,
}

impl Operation for HDel {
    type Output = u64;
    fn into_op(self) -> Result<Op, Error> {
        Ok(Op::HDel {
            fields: non_empty(self.fields, "field")?,
        })
    }
    fn decode(reply: OpReply) -> Result<u64, String> {
        count(reply)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn set_carries_its_context_and_rounds_its_ttl_up() {
        let mut set = Set::new(Bytes::from_static(b"v"));
        set.context = Some(Context::from("ctx".to_owned()));
        set.ttl = Some(Duration::from_micros(1500));
        assert_eq!(
            set.into_op().unwrap(),
            Op::Set {
                value: Bytes::from_static(b"v"),
                context: Some("ctx".into()),
                ttl_ms: Some(1),
            }
        );
        let mut zero = Set::new(Bytes::new());
        zero.ttl = Some(Duration::ZERO);
        assert!(matches!(zero.into_op(), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn replies_are_decoded_into_the_callers_types() {
        assert!(Delete::decode(OpReply::Int(1)).unwrap());
        assert!(!Delete::decode(OpReply::Int(0)).unwrap());
        assert_eq!(Incr::decode(OpReply::Int(-4)).unwrap(), -4);
        assert_eq!(Add::decode(OpReply::Int(2)).unwrap(), 2);
        assert!(Add::decode(OpReply::Int(-1))
            .unwrap_err()
            .contains("negative"));
        assert!(Get::decode(OpReply::Done)
            .unwrap_err()
            .contains("expected siblings"));
        let read = Get::decode(OpReply::Siblings {
            context: "c".into(),
            values: vec![Some(Bytes::from_static(b"x"))],
        })
        .unwrap();
        assert_eq!(read.value().unwrap(), Some(&Bytes::from_static(b"x")));
        assert_eq!(HGet::decode(OpReply::Field(None)).unwrap(), None);
    }

    #[test]
    fn empty_member_and_field_lists_are_refused_before_sending() {
        assert!(Add { members: vec![] }.into_op().is_err());
        assert!(HSet { fields: vec![] }.into_op().is_err());
        assert!(HDel { fields: vec![] }.into_op().is_err());
        assert!(Remove { members: vec![] }.into_op().is_err());
    }

    #[test]
    fn only_writes_are_writes() {
        assert!(!Get.into_op().unwrap().is_write());
        assert!(Incr { delta: 1 }.into_op().unwrap().is_write());
        assert!(!HGetAll.into_op().unwrap().is_write());
    }
}
