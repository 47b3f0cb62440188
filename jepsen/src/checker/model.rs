//! Sequential specifications for the WGL search: a read/write/compare-and-set register and a
//! string key-value cell with append.

use std::fmt::Debug;
use std::hash::Hash;

use super::wgl::Model;

/// What a client asked a register to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput<V> {
    Read,
    Write(V),
    /// Compare-and-set: if the register holds `from`, set it to `to`.
    Cas {
        from: V,
        to: V,
    },
}

/// What the client observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput<V> {
    /// Indeterminate (`:info`): any result is possible.
    Unknown,
    /// A read's value (`None`: never written).
    Read(Option<V>),
    /// A write completed.
    Written,
    /// A compare-and-set completed: whether it matched (and so wrote).
    Cas(bool),
}

/// A single register of values `V` whose initial value is "never written" (`None`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Register<V>(std::marker::PhantomData<V>);

impl<V> Register<V> {
    pub fn new() -> Self {
        Register(std::marker::PhantomData)
    }
}

impl<V: Clone + Eq + Hash + Debug> Model for Register<V> {
    type State = Option<V>;
    type Input = RegisterInput<V>;
    type Output = RegisterOutput<V>;

    fn init(&self) -> Option<V> {
        None
    }

    fn step(
        &self,
        state: &Option<V>,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Option<V>> {
        match (input, output) {
            (RegisterInput::Read, RegisterOutput::Unknown) => Some(state.clone()),
            (RegisterInput::Read, RegisterOutput::Read(v)) => (v == state).then(|| state.clone()),
            (RegisterInput::Write(v), RegisterOutput::Written | RegisterOutput::Unknown) => {
                Some(Some(v.clone()))
            }
            (RegisterInput::Cas { from, to }, output) => {
                let matches = state.as_ref() == Some(from);
                let next = if matches {
                    Some(to.clone())
                } else {
                    state.clone()
                };
                match output {
                    RegisterOutput::Unknown => Some(next),
                    RegisterOutput::Cas(ok) if *ok == matches => Some(next),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// What a client asked a string cell to do (the porcupine key-value traces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvInput {
    Get,
    Put(String),
    Append(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    Unknown,
    /// A get's value (a missing key reads as the empty string).
    Value(String),
    Done,
}

/// One string cell, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = String;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> String {
        String::new()
    }

    fn step(&self, state: &String, input: &KvInput, output: &KvOutput) -> Option<String> {
        match (input, output) {
            (KvInput::Get, KvOutput::Unknown) => Some(state.clone()),
            (KvInput::Get, KvOutput::Value(v)) => (v == state).then(|| state.clone()),
            (KvInput::Put(v), KvOutput::Done | KvOutput::Unknown) => Some(v.clone()),
            (KvInput::Append(v), KvOutput::Done | KvOutput::Unknown) => Some(format!("{state}{v}")),
            _ => None,
        }
    }
}
