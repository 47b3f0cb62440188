//! kvorum's consistency commands.
//!
//! - `CONSISTENCY` shows this connection's setting and what it resolves to.
//! - `CONSISTENCY <preset | R=n W=n [DW=n] [STRICT|SLOPPY]> [TIMEOUT=ms]` sets it for the
//!   connection's later requests. Presets: `ONE`, `TWO`, `QUORUM`, `ALL`, `EVENTUAL`, `STRONG`.
//! - `CONSISTENCY DEFAULT` goes back to the namespace default.
//! - `WITH <same settings> -- <command ...>` runs one command with a setting over the
//!   connection's (e.g. `WITH R=1 W=3 -- SET k v`).
//!
//! Settings are checked when given: bounds against `N` (R, W, DW ≤ N; DW ≤ W; STRONG needs
//! majorities) and the floors of the connection's namespace (`min_r`, `min_w`, `allow_sloppy`,
//! from the namespace catalog), with an error that names what was violated. Every request is
//! checked again against the namespace's policy as it is then, so a floor raised by
//! `NAMESPACE ALTER` applies to connections that set their consistency before.

use bytes::Bytes;
use kvorum_consistency::Spec;
use kvorum_resp::Frame;

use super::{dispatch, keys_of, printable, spec, CommandSpec, Ctx, Keys, Outcome, NO_KEYS};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("with", -3, &["fast", "movablekeys"], NO_KEYS, with).movable(with_keys),
    spec("consistency", -1, &["fast", "stale"], NO_KEYS, consistency),
];

pub fn consistency(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let settings = &args[1..];
    if settings.is_empty() {
        let ns = ctx.session.namespace;
        let default = match ctx.shared.catalog.policy_of(ns) {
            Ok(policy) => policy.default,
            Err(e) => return Frame::error(format!("ERR {e}")).into(),
        };
        let spec = ctx.session.consistency.or(&default);
        let shown = match ctx.shared.resolve(ns, &ctx.session.consistency) {
            Ok(r) => format!("{spec}: {}, TIMEOUT={}", r.level, r.timeout_ms),
            Err(e) => format!("{spec}: {e}"),
        };
        return Frame::bulk(shown).into();
    }
    if let [word] = settings {
        if word.eq_ignore_ascii_case(b"DEFAULT") {
            ctx.session.consistency = Spec::default();
            return Frame::ok().into();
        }
    }
    match parse_checked(ctx, settings) {
        Ok(spec) => {
            ctx.session.consistency = spec;
            Frame::ok().into()
        }
        Err(e) => e.into(),
    }
}

/// `WITH <settings> -- <command ...>`.
pub fn with(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let Some((settings, inner)) = split_with(args) else {
        return Frame::error("ERR syntax: WITH <consistency settings> -- <command ...>").into();
    };
    let Some(name) = inner.first() else {
        return Frame::error("ERR WITH needs a command after '--'").into();
    };
    if super::keys_of(inner).next().is_none() {
        return Frame::error(format!(
            "ERR WITH applies to commands on keys, not to '{}'",
            printable(name)
        ))
        .into();
    }
    let spec = match parse_checked(ctx, settings) {
        Ok(spec) => spec,
        Err(e) => return e.into(),
    };
    let mut inner_ctx = Ctx {
        shared: ctx.shared,
        session: &mut *ctx.session,
        command_spec: Some(spec),
    };
    dispatch(&mut inner_ctx, inner)
}

/// Splits `WITH settings... -- command...` at the first `--`.
/// The keys of `WITH ... -- command`: the wrapped command's.
fn with_keys(args: &[Bytes]) -> Keys<'_> {
    match split_with(args) {
        Some((_, inner)) => keys_of(inner),
        None => Box::new(std::iter::empty()),
    }
}

pub fn split_with(args: &[Bytes]) -> Option<(&[Bytes], &[Bytes])> {
    let dashes = args.iter().position(|a| a.as_ref() == b"--")?;
    Some((&args[1..dashes], &args[dashes + 1..]))
}

/// Parses settings and checks them against the namespace now, so a bad setting is reported
/// when it is given rather than on every later request.
fn parse_checked(ctx: &Ctx<'_>, settings: &[Bytes]) -> Result<Spec, Frame> {
    let words: Vec<String> = settings
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let spec = Spec::parse(&words).map_err(|e| Frame::error(format!("ERR {e}")))?;
    let over = spec.or(&ctx.session.consistency);
    ctx.shared
        .resolve(ctx.session.namespace, &over)
        .map_err(|e| Frame::error(format!("ERR {e}")))?;
    Ok(spec)
}
