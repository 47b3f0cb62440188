//! `DEBUG`: test hooks for the Jepsen-style harness, only in builds with the `fault-injection`
//! feature. A production build keeps the command in its table (so `COMMAND` describes the same
//! commands in every build) and answers
//! `-ERR DEBUG is only available in builds with the fault-injection feature`.
//!
//! - `DEBUG CLOCK-OFFSET <ms>`: shifts this node's clock (HLC timestamps, TTLs) by a signed
//!   number of milliseconds, at most one day either way; `+OK`. It replaces the previous offset.
//!   The machine's clock is untouched (see `crate::clock`).
//! - `DEBUG CLOCK-OFFSET`: the current offset, an integer.
//! - `DEBUG FAULT <name> ON|OFF`: switches a fault (`crate::faults`); `+OK`.
//! - `DEBUG FAULTS`: every fault and its state, `[[name, "on"|"off"], ...]`.
//! - `DEBUG DAMAGE-RECORD <key>`: flips a byte of this node's stored record of the key, as a
//!   failing disk would (the corruption tests); `:1`, or `:0` if there was no record.
//! - `DEBUG HELP`.
//!
//! Redis's own `DEBUG` subcommands (`SLEEP`, `OBJECT`, ...) are not served.

use bytes::Bytes;

use super::{spec, CommandSpec, Ctx, Outcome, NO_KEYS};

/// The commands of this family. Redis's arity and flags for `DEBUG`.
pub(super) static COMMANDS: &[CommandSpec] = &[spec(
    "debug",
    -2,
    &["admin", "noscript", "loading", "stale"],
    NO_KEYS,
    debug,
)];

/// A build without the hooks.
#[cfg(not(feature = "fault-injection"))]
pub fn debug(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    kvorum_resp::Frame::error(
        "ERR DEBUG is only available in builds with the fault-injection feature",
    )
    .into()
}

#[cfg(feature = "fault-injection")]
pub fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match args {
        [_, sub, key] if super::is(sub, "DAMAGE-RECORD") => hooks::damage_record(ctx, key).into(),
        _ => hooks::run(args).into(),
    }
}

#[cfg(feature = "fault-injection")]
mod hooks {
    use bytes::Bytes;
    use kvorum_resp::Frame;

    use super::super::{int_arg, is, printable};
    use crate::clock;
    use crate::faults::FAULTS;

    const HELP: &[&str] = &[
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CLOCK-OFFSET [<ms>]",
        "    Without an argument, return this node's clock offset in milliseconds. With one,",
        "    set it (signed, at most 86400000 either way): HLC timestamps and TTLs follow.",
        "FAULT <name> ON|OFF",
        "    Switch a deliberately broken behaviour on or off (see DEBUG FAULTS).",
        "FAULTS",
        "    List every fault and whether it is on.",
        "DAMAGE-RECORD <key>",
        "    Flip a byte of this node's stored record of the key (in the connection's namespace),",
        "    as a failing disk would: 1 if there was a record, 0 if none.",
        "HELP",
        "    Print this help.",
    ];

    /// `args[0]` is `DEBUG`; the table guarantees a subcommand.
    pub(super) fn run(args: &[Bytes]) -> Frame {
        let (sub, rest) = match args.get(1..) {
            Some([sub, rest @ ..]) => (sub, rest),
            _ => return super::super::wrong_arity("debug"),
        };
        if is(sub, "CLOCK-OFFSET") {
            clock_offset(rest)
        } else if is(sub, "FAULT") {
            fault(rest)
        } else if is(sub, "FAULTS") && rest.is_empty() {
            faults()
        } else if is(sub, "HELP") && rest.is_empty() {
            Frame::array(HELP.iter().map(|l| Frame::simple(*l)).collect())
        } else if is(sub, "FAULTS") || is(sub, "HELP") {
            wrong_arity(sub)
        } else {
            Frame::error(format!(
                "ERR unknown subcommand '{}'. Try DEBUG HELP.",
                printable(sub)
            ))
        }
    }

    /// `DEBUG DAMAGE-RECORD key`: corrupts this node's stored record of the key.
    pub(super) fn damage_record(ctx: &super::Ctx<'_>, key: &Bytes) -> Frame {
        let Some(layout) = ctx.shared.view.admin.layout.as_ref() else {
            return Frame::error("ERR no layout");
        };
        let ns = ctx.session.namespace;
        let partition = layout.partition_for_key(ns, key);
        let stored = crate::storage::keys::encode_data_key(ns.0, partition.0, key);
        match ctx.shared.view.antientropy.damage_record(&stored) {
            Ok(damaged) => {
                tracing::warn!("DEBUG DAMAGE-RECORD: a stored record was corrupted on purpose");
                Frame::integer(i64::from(damaged))
            }
            Err(e) => Frame::error(format!("ERR {e}")),
        }
    }

    fn wrong_arity(sub: &[u8]) -> Frame {
        Frame::error(format!(
            "ERR wrong number of arguments for 'debug|{}' command",
            printable(sub).to_ascii_lowercase()
        ))
    }

    fn clock_offset(rest: &[Bytes]) -> Frame {
        match rest {
            [] => Frame::integer(clock::offset_ms()),
            [ms] => {
                let ms = match int_arg(ms) {
                    Ok(ms) => ms,
                    Err(e) => return e,
                };
                match clock::set_offset_ms(ms) {
                    Ok(()) => {
                        tracing::warn!(
                            offset_ms = ms,
                            "DEBUG CLOCK-OFFSET: this node's clock is shifted"
                        );
                        Frame::ok()
                    }
                    Err(e) => Frame::error(format!("ERR {e}")),
                }
            }
            _ => wrong_arity(b"clock-offset"),
        }
    }

    fn fault(rest: &[Bytes]) -> Frame {
        let [name, state] = rest else {
            return wrong_arity(b"fault");
        };
        let Some(switch) = FAULTS.find(name) else {
            let known: Vec<&str> = FAULTS.all().map(|s| s.name()).collect();
            return Frame::error(format!(
                "ERR unknown fault '{}'; the faults are: {}",
                printable(name),
                known.join(", ")
            ));
        };
        let on = if is(state, "ON") {
            true
        } else if is(state, "OFF") {
            false
        } else {
            return Frame::error(format!(
                "ERR a fault is switched ON or OFF, not '{}'",
                printable(state)
            ));
        };
        switch.set(on);
        tracing::warn!(
            fault = switch.name(),
            on,
            "DEBUG FAULT: {}",
            switch.effect()
        );
        Frame::ok()
    }

    fn faults() -> Frame {
        Frame::array(
            FAULTS
                .all()
                .map(|switch| {
                    let state = if switch.is_on() { "on" } else { "off" };
                    Frame::array(vec![Frame::bulk(switch.name()), Frame::bulk(state)])
                })
                .collect(),
        )
    }
}
