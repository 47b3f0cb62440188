//! Fault switches: deliberately broken behaviour that a test harness turns on while a node runs
//! (`DEBUG FAULT <name> ON|OFF`), to prove that its checkers catch the bugs they exist for. A
//! checker that passes a build with a fault switched on proves nothing.
//!
//! Only in builds with the `fault-injection` feature; a production build has neither this
//! module nor the checks that read it. Every switch is off at start-up and process-wide (one
//! node per process). Adding a fault: one line in the `faults!` invocation below, and a check
//! of the switch where the behaviour lives.
//!
//! Faults of the sans-IO core (`kvorum-consistency`) are plain flags in its state
//! ([`kvorum_consistency::CoreFaults`]); the replication driver copies them in with
//! [`Faults::core`] before it handles each event.

use std::sync::atomic::{AtomicBool, Ordering};

/// One fault: its name (as `DEBUG FAULT` spells it), what it breaks, and whether it is on.
#[derive(Debug)]
pub struct Switch {
    name: &'static str,
    effect: &'static str,
    on: AtomicBool,
}

impl Switch {
    const fn new(name: &'static str, effect: &'static str) -> Self {
        Switch {
            name,
            effect,
            on: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What the fault breaks, in one sentence.
    pub fn effect(&self) -> &'static str {
        self.effect
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

/// Declares [`Faults`] with one field per fault, the process's [`FAULTS`], and
/// [`Faults::all`] in declaration order.
macro_rules! faults {
    ($($field:ident: $name:literal => $effect:literal,)*) => {
        /// Every fault switch of the node.
        #[derive(Debug)]
        pub struct Faults {
            $(#[doc = $effect] pub $field: Switch,)*
        }

        /// This process's fault switches.
        pub static FAULTS: Faults = Faults {
            $($field: Switch::new($name, $effect),)*
        };

        impl Faults {
            /// Every switch, in a stable order (the order `DEBUG FAULTS` lists them).
            pub fn all(&self) -> impl Iterator<Item = &Switch> {
                [$(&self.$field),*].into_iter()
            }
        }
    };
}

faults! {
    strong_skip_writeback: "strong-skip-writeback" =>
        "STRONG reads answer without writing the merge back to a majority (not linearizable).",
    drop_hints: "drop-hints" =>
        "Hints are discarded instead of stored: writes a replica missed never reach it by handoff.",
}

impl Faults {
    /// The switch named `name`, in any letter case.
    pub fn find(&self, name: &[u8]) -> Option<&Switch> {
        self.all()
            .find(|switch| name.eq_ignore_ascii_case(switch.name.as_bytes()))
    }

    /// The faults of the sans-IO core, as its plain flags.
    pub fn core(&self) -> kvorum_consistency::CoreFaults {
        kvorum_consistency::CoreFaults {
            skip_strong_write_back: self.strong_skip_writeback.is_on(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_a_distinct_lower_case_name_and_is_found_in_any_case() {
        let names: Vec<&str> = FAULTS.all().map(Switch::name).collect();
        assert_eq!(names, ["strong-skip-writeback", "drop-hints"]);
        for switch in FAULTS.all() {
            assert_eq!(switch.name(), switch.name().to_ascii_lowercase());
            let found = FAULTS.find(switch.name().to_ascii_uppercase().as_bytes());
            assert!(found.is_some_and(|found| std::ptr::eq(found, switch)));
            assert!(!switch.effect().is_empty());
        }
        assert!(FAULTS.find(b"no-such-fault").is_none());
    }
}
