//! What a read returns: every sibling of a key and the causal context they form.
//!
//! kvorum never silently drops one of two concurrent writes (unless the namespace is
//! `CONFLICT lww`): a read returns all of them as *siblings*, together with an opaque
//! [`Context`] that names exactly the versions the read saw. Writing with that context
//! ([`crate::request::Call::context`]) replaces exactly those siblings, so a resolved value
//! supersedes the conflict without discarding a write that happened after the read.

use std::fmt;

use bytes::Bytes;

use crate::error::Error;

/// The causal context of a read: opaque, to be handed back with a write that resolves what the
/// read saw. Its text form (`as_str`, `From<String>`) may be stored and used later.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Context(String);

impl Context {
    /// The context as the node encoded it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Context {
    fn from(text: String) -> Context {
        Context(text)
    }
}

impl From<&Context> for Context {
    fn from(c: &Context) -> Context {
        c.clone()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Context({})", self.0)
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The answer to [`crate::Namespace::get`]: every concurrent value of a key and their context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Siblings {
    context: Context,
    values: Vec<Option<Bytes>>,
}

impl Siblings {
    pub(crate) fn new(context: String, values: Vec<Option<Bytes>>) -> Siblings {
        Siblings {
            context: Context(context),
            values,
        }
    }

    /// The causal context, for a write that resolves these siblings.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Every sibling, in the node's order: `None` for a sibling that is a delete concurrent with
    /// the other writes. Empty if the key does not exist.
    pub fn values(&self) -> &[Option<Bytes>] {
        &self.values
    }

    /// The live values (deletes left out).
    pub fn live(&self) -> impl Iterator<Item = &Bytes> {
        self.values.iter().flatten()
    }

    /// Whether the key holds more than one concurrent version.
    pub fn is_conflict(&self) -> bool {
        self.values.len() > 1
    }

    /// Whether the key has a value (at least one live sibling).
    pub fn exists(&self) -> bool {
        self.live().next().is_some()
    }

    /// The key's value when there is no conflict: `Ok(None)` if it does not exist (or its one
    /// version is a delete), [`Error::Siblings`] if it holds several versions, so a conflict is
    /// never resolved by accident.
    pub fn value(&self) -> Result<Option<&Bytes>, Error> {
        match self.values.as_slice() {
            [] => Ok(None),
            [one] => Ok(one.as_ref()),
            many => Err(Error::Siblings { count: many.len() }),
        }
    }

    /// Consumes the answer: its context and values.
    pub fn into_parts(self) -> (Context, Vec<Option<Bytes>>) {
        (self.context, self.values)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn value_refuses_to_pick_between_siblings() {
        let absent = Siblings::new(String::new(), vec![]);
        assert_eq!(absent.value().unwrap(), None);
        assert!(!absent.exists());
        let one = Siblings::new("c".into(), vec![Some(Bytes::from_static(b"v"))]);
        assert_eq!(one.value().unwrap(), Some(&Bytes::from_static(b"v")));
        let deleted = Siblings::new("c".into(), vec![None]);
        assert_eq!(deleted.value().unwrap(), None);
        let two = Siblings::new(
            "c".into(),
            vec![
                Some(Bytes::from_static(b"a")),
                None,
                Some(Bytes::from_static(b"b")),
            ],
        );
        assert!(two.is_conflict());
        assert!(matches!(two.value(), Err(Error::Siblings { count: 3 })));
        assert_eq!(two.live().count(), 2);
        assert_eq!(two.context().as_str(), "c");
    }
}
