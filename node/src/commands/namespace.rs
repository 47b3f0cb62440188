//! `NAMESPACE`: kvorum's namespace catalog over RESP (docs/NAMESPACES.md).
//!
//! - `NAMESPACE CREATE name [N n] [R r] [W w] [MODE eventual|quorum|strong]
//!   [CONFLICT lww|siblings] [MIN_R r] [MIN_W w] [ALLOW_SLOPPY yes|no] [DB index] [TTL seconds]`
//! - `NAMESPACE ALTER name <the same options>`: changes only what it names (`TTL 0` clears the
//!   TTL); `MODE`, `R` and `W` together make the default consistency, so giving any of them
//!   recomputes it (a missing `MODE` keeps the current one, a missing `R`/`W` takes the mode's
//!   default).
//!   Changing `N` is refused while the namespace holds keys (nothing moves keys yet), and for
//!   `default`, whose `N` the bare databases share.
//! - `NAMESPACE DROP name [FORCE]`: refused while the namespace holds live keys, unless `FORCE`;
//!   the data is then deleted in the background on every node.
//! - `NAMESPACE LIST`, `NAMESPACE INFO name`, `NAMESPACE USE name` (this connection only).
//!
//! Changes are written durably to this node's catalog before `+OK`, then sent to every peer
//! (`crate::catalog`). Like every command they need an authenticated connection when
//! `requirepass` is set; there are no finer rights yet.

use std::sync::Arc;

use bytes::Bytes;
use kvorum_consistency::catalog::{CatalogError, NamespaceDef, DEFAULT_NAME};
use kvorum_consistency::{majority, Conflict, Mode, Preset, Spec};
use kvorum_resp::Frame;
use kvorum_ring::NamespaceId;

use super::{is, printable, spec, syntax_error, CommandSpec, Ctx, Outcome, Submitter, NO_KEYS};
use crate::catalog::NamespaceCatalog;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[spec(
    "namespace",
    -2,
    &["admin", "stale"],
    NO_KEYS,
    namespace,
)];

pub fn namespace(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = args[1].to_ascii_lowercase();
    let rest = &args[2..];
    let name = rest
        .first()
        .map(|n| String::from_utf8_lossy(n).into_owned());
    match (sub.as_slice(), name) {
        (b"list", None) => list(ctx),
        (b"info", Some(name)) if rest.len() == 1 => info(ctx, &name),
        (b"use", Some(name)) if rest.len() == 1 => use_namespace(ctx, &name),
        (b"create", Some(name)) => match Options::parse(&rest[1..]) {
            Ok(options) => create(ctx, name, options),
            Err(e) => e.into(),
        },
        (b"alter", Some(name)) => match Options::parse(&rest[1..]) {
            Ok(options) => alter(ctx, name, options),
            Err(e) => e.into(),
        },
        (b"drop", Some(name)) => match &rest[1..] {
            [] => drop_namespace(ctx, name, false),
            [force] if is(force, "FORCE") => drop_namespace(ctx, name, true),
            _ => syntax_error().into(),
        },
        (b"create" | b"alter" | b"drop" | b"info" | b"use" | b"list", _) => Frame::error(format!(
            "ERR wrong number of arguments for 'namespace|{}' command",
            printable(&sub)
        ))
        .into(),
        _ => Frame::error(format!(
            "ERR unknown subcommand '{}'. Try NAMESPACE CREATE|ALTER|DROP|LIST|INFO|USE.",
            printable(&args[1])
        ))
        .into(),
    }
}

fn list(ctx: &mut Ctx<'_>) -> Outcome {
    let names: Vec<String> = ctx
        .shared
        .catalog
        .views()
        .into_iter()
        .map(|v| v.name)
        .collect();
    Frame::bulk_array(names).into()
}

fn info(ctx: &mut Ctx<'_>, name: &str) -> Outcome {
    let Some(view) = ctx
        .shared
        .catalog
        .views()
        .into_iter()
        .find(|v| v.name == name)
    else {
        return Frame::error(format!(
            "ERR no such namespace '{}'",
            printable(name.as_bytes())
        ))
        .into();
    };
    let (def, db, usable) = (&view.def, view.db, view.usable);
    let snapshot = ctx.shared.catalog.snapshot();
    let policy = &def.policy;
    let (r, w, mode) = match policy.default.level(policy.n) {
        Ok(level) => (level.r, level.w, level.mode.to_string()),
        Err(_) => (0, 0, "invalid".to_owned()),
    };
    let conflicts: Vec<String> = snapshot
        .conflicts()
        .iter()
        .filter(|c| match c {
            kvorum_consistency::catalog::Conflict::Db { owner, loser, .. }
            | kvorum_consistency::catalog::Conflict::Id { owner, loser, .. } => {
                owner == name || loser == name
            }
        })
        .map(|c| c.to_string())
        .collect();
    let text = |s: String| Frame::bulk(s);
    let pairs = vec![
        ("name", text(name.to_owned())),
        ("id", Frame::integer(i64::from(def.id.0))),
        (
            "db",
            db.map_or_else(Frame::null, |d| Frame::integer(i64::from(d))),
        ),
        ("n", Frame::integer(policy.n as i64)),
        ("r", Frame::integer(r as i64)),
        ("w", Frame::integer(w as i64)),
        ("mode", text(mode)),
        ("consistency", text(policy.default.to_string())),
        (
            "conflict",
            text(match policy.conflict {
                Conflict::Lww => "lww".into(),
                Conflict::Siblings => "siblings".into(),
            }),
        ),
        ("min_r", Frame::integer(policy.min_r as i64)),
        ("min_w", Frame::integer(policy.min_w as i64)),
        (
            "allow_sloppy",
            text(if policy.allow_sloppy { "yes" } else { "no" }.into()),
        ),
        (
            "ttl",
            def.ttl_s.map_or_else(Frame::null, |t| {
                Frame::integer(t.min(i64::MAX as u64) as i64)
            }),
        ),
        ("usable", text(if usable { "yes" } else { "no" }.into())),
        ("conflicts", Frame::bulk_array(conflicts)),
    ];
    Frame::map(
        pairs
            .into_iter()
            .map(|(k, v)| (Frame::bulk(k), v))
            .collect(),
    )
    .into()
}

fn use_namespace(ctx: &mut Ctx<'_>, name: &str) -> Outcome {
    let Some(def) = ctx.shared.catalog.lookup(name) else {
        return Frame::error(format!(
            "ERR no such namespace '{}'",
            printable(name.as_bytes())
        ))
        .into();
    };
    if ctx.shared.catalog.by_id(def.id).is_err() {
        return Frame::error(format!(
            "ERR namespace '{name}' is unusable: an earlier namespace holds its id (see NAMESPACE INFO)"
        ))
        .into();
    }
    ctx.session.namespace = def.id;
    Frame::ok().into()
}

fn create(ctx: &mut Ctx<'_>, name: String, options: Options) -> Outcome {
    let catalog = ctx.shared.catalog.clone();
    change(catalog, move |catalog, c, stamp, _| {
        let base = NamespaceDef {
            id: NamespaceId::DEFAULT,
            db: None,
            policy: kvorum_consistency::NamespacePolicy::new(catalog.replication),
            ttl_s: None,
            created: stamp,
        };
        let def = options.apply(catalog, base, true)?;
        if c.entries().len() >= catalog.max_namespaces && !c.entries().contains_key(&name) {
            return Err(format!(
                "the catalog holds {} namespaces (dropped ones count until purged), the limit \
                 set by [namespaces] max_namespaces",
                c.entries().len()
            ));
        }
        c.create(&name, def, stamp).map_err(|e| e.to_string())?;
        Ok(())
    })
    .into()
}

fn alter(ctx: &mut Ctx<'_>, name: String, options: Options) -> Outcome {
    let catalog = ctx.shared.catalog.clone();
    if name == DEFAULT_NAME && options.n.is_some_and(|n| n != catalog.replication) {
        // Bare databases share `default`'s definition: their keys would move too.
        return Frame::error(format!(
            "ERR N of 'default' is the cluster's replication_factor ({}), which the bare \
             databases share; create a namespace with its own N instead",
            catalog.replication
        ))
        .into();
    }
    // Changing N moves every key's replica set, and nothing moves keys yet: N may change only
    // while the namespace holds none, so no key is ever left on fewer replicas than its N.
    let moving = ctx
        .shared
        .catalog
        .lookup(&name)
        .filter(|d| options.n.is_some_and(|n| n != d.policy.n));
    let shown = name.clone();
    let checked = moving.clone();
    let alter_it = move |catalog: Arc<NamespaceCatalog>| {
        change(catalog, move |catalog, c, stamp, default_def| {
            let current = if name == DEFAULT_NAME {
                default_def.clone()
            } else {
                c.get(&name)
                    .cloned()
                    .ok_or_else(|| format!("no such namespace '{name}'"))?
            };
            // The emptiness check was made for this very namespace and N.
            if let Some(checked) = &checked {
                if current.id != checked.id || current.policy.n != checked.policy.n {
                    return Err(format!(
                        "namespace '{name}' changed during the ALTER; nothing was changed"
                    ));
                }
            }
            let def = options.apply(catalog, current, false)?;
            c.alter(&name, Some(default_def), stamp, |d| *d = def)
                .map_err(|e| e.to_string())
        })
    };
    let Some(def) = moving else {
        return alter_it(catalog).into();
    };
    let refusal = format!(
        "ERR N of namespace '{shown}' cannot change while it holds keys: they would have to \
         move to their new replicas, which kvorum does not do yet (create a namespace with the \
         new N and copy the keys, or empty this one first)"
    );
    if_empty(
        ctx,
        def.id,
        &shown,
        refusal,
        "N was not changed",
        move || alter_it(catalog),
    )
}

fn drop_namespace(ctx: &mut Ctx<'_>, name: String, force: bool) -> Outcome {
    if name == DEFAULT_NAME {
        return Frame::error("ERR the 'default' namespace cannot be dropped").into();
    }
    let Some(def) = ctx.shared.catalog.lookup(&name) else {
        return Frame::error(format!(
            "ERR no such namespace '{}'",
            printable(name.as_bytes())
        ))
        .into();
    };
    let catalog = ctx.shared.catalog.clone();
    let shown = name.clone();
    let drop_it = move |catalog: &NamespaceCatalog| match catalog.change(|c, stamp, _| {
        // Dropped only if it is still the namespace that was checked.
        if c.get(&name).map(|d| d.id) != Some(def.id) {
            return Err(CatalogError::NotFound(name.clone()));
        }
        c.drop_namespace(&name, stamp)
    }) {
        Ok(_) => Frame::ok(),
        Err(e) => Frame::error(format!("ERR {e}")),
    };
    if force {
        // Now, like CREATE and ALTER, so that the pipeline after it sees the drop.
        return drop_it(&catalog).into();
    }
    let refusal = format!(
        "ERR namespace '{shown}' is not empty; NAMESPACE DROP {shown} FORCE drops it and \
         deletes its keys in the background"
    );
    if_empty(
        ctx,
        def.id,
        &shown,
        refusal,
        "it was not dropped",
        move || drop_it(&catalog),
    )
}

/// Runs `change` (a catalog change, on the blocking pool) once namespace `ns` (`name`) is found
/// to hold no key; answers `refusal` if it holds one. `not_done` says what did not happen when
/// the check itself fails.
fn if_empty(
    ctx: &Ctx<'_>,
    ns: NamespaceId,
    name: &str,
    refusal: String,
    not_done: &'static str,
    change: impl FnOnce() -> Frame + Send + 'static,
) -> Outcome {
    let submitter = match ctx.submitter_in(ns, &Spec::default()) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    let name = name.to_owned();
    Outcome::Later(Box::pin(async move {
        match holds_keys(&submitter).await {
            Ok(false) => {}
            Ok(true) => return Frame::error(refusal),
            Err(e) => {
                return Frame::error(format!(
                    "ERR cannot tell whether namespace '{name}' is empty, so {not_done}: {e}"
                ))
            }
        }
        match tokio::task::spawn_blocking(change).await {
            Ok(frame) => frame,
            Err(e) => Frame::error(format!("ERR the catalog change failed: {e}")),
        }
    }))
}

/// Whether the namespace holds a live key: a walk like `DBSIZE`'s that stops at the first one.
/// It runs under the namespace's own default consistency, not the connection's, so that a
/// connection whose namespace is gone (or whose settings the floors refuse) can still check.
async fn holds_keys(submitter: &Submitter) -> Result<bool, String> {
    let mut next = Some(0);
    while let Some(at) = next {
        let page = submitter.list(at, 1).await?;
        if !page.keys.is_empty() {
            return Ok(true);
        }
        next = page.next;
    }
    Ok(false)
}

/// Runs a create or alter now, on the connection's task: it writes and syncs the catalog, a
/// short stall that keeps pipelines in order (a `NAMESPACE USE` right after a `CREATE` in the
/// same pipeline finds the namespace). Catalog changes are rare operator actions.
fn change(
    catalog: Arc<NamespaceCatalog>,
    build: impl FnOnce(
        &NamespaceCatalog,
        &mut kvorum_consistency::Catalog,
        kvorum_consistency::Stamp,
        &NamespaceDef,
    ) -> Result<(), String>,
) -> Frame {
    let result = catalog.change(|c, stamp, default_def| {
        build(&catalog, c, stamp, default_def).map_err(CatalogError::Invalid)
    });
    match result {
        Ok(()) => Frame::ok(),
        Err(e) => Frame::error(format!("ERR {e}")),
    }
}

/// The options of `CREATE` and `ALTER`, as given.
#[derive(Default)]
struct Options {
    n: Option<usize>,
    r: Option<usize>,
    w: Option<usize>,
    mode: Option<Mode>,
    conflict: Option<Conflict>,
    min_r: Option<usize>,
    min_w: Option<usize>,
    allow_sloppy: Option<bool>,
    db: Option<u32>,
    ttl_s: Option<u64>,
}

impl Options {
    fn parse(args: &[Bytes]) -> Result<Options, Frame> {
        let mut o = Options::default();
        let mut rest = args;
        while let [option, value, tail @ ..] = rest {
            rest = tail;
            let option = String::from_utf8_lossy(option).to_ascii_uppercase();
            let text = String::from_utf8_lossy(value).to_ascii_lowercase();
            let bad = |what: &str| {
                Frame::error(format!(
                    "ERR invalid value '{}' for {option}: {what}",
                    printable(value)
                ))
            };
            let count = || {
                text.parse::<usize>()
                    .ok()
                    .filter(|&v| v > 0)
                    .ok_or_else(|| bad("expected a positive integer"))
            };
            let given = match option.as_str() {
                "N" => o.n.replace(count()?).is_some(),
                "R" => o.r.replace(count()?).is_some(),
                "W" => o.w.replace(count()?).is_some(),
                "MIN_R" => o.min_r.replace(count()?).is_some(),
                "MIN_W" => o.min_w.replace(count()?).is_some(),
                "MODE" => {
                    let mode = match text.as_str() {
                        "eventual" => Mode::Eventual,
                        "quorum" => Mode::Quorum,
                        "strong" => Mode::Strong,
                        _ => return Err(bad("expected eventual, quorum or strong")),
                    };
                    o.mode.replace(mode).is_some()
                }
                "CONFLICT" => {
                    let conflict = match text.as_str() {
                        "lww" => Conflict::Lww,
                        "siblings" => Conflict::Siblings,
                        _ => return Err(bad("expected lww or siblings")),
                    };
                    o.conflict.replace(conflict).is_some()
                }
                "ALLOW_SLOPPY" => {
                    let allow = match text.as_str() {
                        "yes" => true,
                        "no" => false,
                        _ => return Err(bad("expected yes or no")),
                    };
                    o.allow_sloppy.replace(allow).is_some()
                }
                "DB" => {
                    let db = text
                        .parse::<u32>()
                        .map_err(|_| bad("expected a db index"))?;
                    o.db.replace(db).is_some()
                }
                "TTL" => {
                    let ttl = text
                        .parse::<u64>()
                        .map_err(|_| bad("expected seconds (0: none)"))?;
                    o.ttl_s.replace(ttl).is_some()
                }
                _ => {
                    return Err(Frame::error(format!(
                        "ERR unknown namespace option '{}' (expected N, R, W, MODE, CONFLICT, \
                         MIN_R, MIN_W, ALLOW_SLOPPY, DB or TTL)",
                        printable(option.as_bytes())
                    )))
                }
            };
            if given {
                return Err(Frame::error(format!("ERR {option} given twice")));
            }
        }
        if let [dangling] = rest {
            return Err(Frame::error(format!(
                "ERR namespace option '{}' needs a value",
                printable(dangling)
            )));
        }
        Ok(o)
    }

    /// The definition `def` becomes under these options, checked.
    fn apply(
        self,
        catalog: &NamespaceCatalog,
        mut def: NamespaceDef,
        creating: bool,
    ) -> Result<NamespaceDef, String> {
        let max = catalog.max_replication;
        let n = match self.n {
            Some(asked) if asked > max => {
                return Err(format!(
                    "N={asked} is above {max}, the most replicas this cluster's layout places \
                     (its balanced width: the node count, at most the layout's configured width)"
                ))
            }
            Some(asked) => asked,
            None => def.policy.n,
        };
        let policy = &mut def.policy;
        policy.n = n;
        if let Some(c) = self.conflict {
            policy.conflict = c;
        }
        if let Some(v) = self.min_r {
            policy.min_r = v;
        }
        if let Some(v) = self.min_w {
            policy.min_w = v;
        }
        if let Some(v) = self.allow_sloppy {
            policy.allow_sloppy = v;
        }
        if creating || self.mode.is_some() || self.r.is_some() || self.w.is_some() {
            let mode = self.mode.unwrap_or_else(|| {
                if creating {
                    Mode::Quorum
                } else {
                    policy.default.level(n).map_or(Mode::Quorum, |l| l.mode)
                }
            });
            let timeout_ms = policy.default.timeout_ms;
            policy.default = default_spec(mode, self.r, self.w, n, policy.allow_sloppy)?;
            policy.default.timeout_ms = timeout_ms;
        }
        policy
            .validate()
            .map_err(|e| format!("the namespace's default consistency breaks a rule: {e}"))?;
        if let Some(db) = self.db {
            if db == 0 || db >= catalog.databases {
                return Err(format!(
                    "DB {db} is out of range: a namespace may map to db 1 to {} (db 0 is \
                     'default'; the node's `databases` setting bounds it)",
                    catalog.databases.saturating_sub(1)
                ));
            }
            def.db = Some(db);
        }
        match self.ttl_s {
            Some(0) => def.ttl_s = None,
            Some(t) => def.ttl_s = Some(t),
            None => {}
        }
        Ok(def)
    }
}

/// The default consistency a mode with optional R and W gives.
fn default_spec(
    mode: Mode,
    r: Option<usize>,
    w: Option<usize>,
    n: usize,
    allow_sloppy: bool,
) -> Result<Spec, String> {
    Ok(match mode {
        Mode::Strong if r.is_some() || w.is_some() => {
            return Err("MODE strong uses majority R and W; R and W cannot be given with it".into())
        }
        Mode::Strong => Spec::preset(Preset::Strong),
        Mode::Eventual if r.is_none() && w.is_none() && allow_sloppy => {
            Spec::preset(Preset::Eventual)
        }
        Mode::Eventual => Spec {
            r: Some(r.unwrap_or(1)),
            w: Some(w.unwrap_or(1)),
            sloppy: Some(allow_sloppy),
            ..Spec::default()
        },
        Mode::Quorum if r.is_none() && w.is_none() => Spec::preset(Preset::Quorum),
        Mode::Quorum => {
            let (r, w) = (r.unwrap_or(majority(n)), w.unwrap_or(majority(n)));
            if r + w <= n {
                return Err(format!(
                    "MODE quorum needs R + W > N, but R={r} W={w} with N={n}"
                ));
            }
            Spec {
                r: Some(r),
                w: Some(w),
                ..Spec::default()
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Bytes> {
        text.split_whitespace()
            .map(|w| Bytes::from(w.to_owned()))
            .collect()
    }

    #[test]
    fn options_parse_and_refuse_by_name() {
        let o = Options::parse(&words("MODE eventual W 1 db 3 ttl 60 allow_sloppy no")).unwrap();
        assert_eq!(
            (o.mode, o.w, o.db, o.ttl_s),
            (Some(Mode::Eventual), Some(1), Some(3), Some(60))
        );
        assert_eq!(o.allow_sloppy, Some(false));
        for (bad, says) in [
            ("MODE fast", "MODE"),
            ("W 0", "W"),
            ("W 1 W 2", "given twice"),
            ("COLOR red", "unknown namespace option"),
            ("TTL", "needs a value"),
        ] {
            let Err(Frame::Error(e)) = Options::parse(&words(bad)) else {
                panic!("{bad} parsed");
            };
            assert!(String::from_utf8_lossy(&e).contains(says), "{bad}: {e:?}");
        }
    }

    #[test]
    fn modes_give_their_default_consistency() {
        let eventual = default_spec(Mode::Eventual, None, Some(1), 3, true).unwrap();
        let level = eventual.level(3).unwrap();
        assert_eq!(
            (level.r, level.w, level.sloppy, level.mode),
            (1, 1, true, Mode::Eventual)
        );
        let strong = default_spec(Mode::Strong, None, None, 3, true).unwrap();
        assert_eq!(strong.level(3).unwrap().mode, Mode::Strong);
        assert!(default_spec(Mode::Strong, None, Some(1), 3, true).is_err());
        assert!(default_spec(Mode::Quorum, Some(1), Some(1), 3, true).is_err());
    }
}
