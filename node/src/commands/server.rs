//! Server commands: COMMAND, CONFIG, INFO, TIME — what clients and tools call to learn about
//! the node.
//!
//! - `COMMAND [COUNT | INFO name... | DOCS name... | LIST [FILTERBY ...] | GETKEYS cmd...]`
//!   describes the command table in Redis 7's shapes (documentation comes from [`DOCS`], kept
//!   here by command name; every command has an entry, and kvorum's own commands also list
//!   their arguments and subcommands, which `redis-cli` turns into its hints and `HELP`).
//! - `CONFIG GET pattern...` shows the Redis parameters that clients read on connect, with the
//!   values the node's TOML file set; `CONFIG SET` is refused (the file is the configuration),
//!   `CONFIG RESETSTAT` zeroes the `INFO` counters.
//! - `INFO [section...]` has Redis's sections plus kvorum's: the cluster view in
//!   `replication`, hinted handoff in `hints`, and the figures of the admin port's `/metrics`:
//!   request counts and latencies per namespace × family × consistency × outcome in
//!   `requests`, replication outcomes in `replication_stats`, storage and fsync in `storage`
//!   (docs/OPERATIONS.md lists them). `keyspace` has one line per namespace that holds keys on
//!   this node: `dbN:` for a namespace `SELECT N` reaches, `ns_<name>:` for one without a db
//!   index.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use kvorum_resp::Frame;
use kvorum_ring::NamespaceId;

use super::connection::{Namespaces, REDIS_VERSION};
use super::pattern::glob_match;
use super::{all, printable, spec, wrong_arity, CommandSpec, Ctx, Outcome, NO_KEYS};
use crate::session::Shared;

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("command", -1, &["loading", "stale"], NO_KEYS, command),
    spec(
        "config",
        -2,
        &["admin", "noscript", "loading", "stale"],
        NO_KEYS,
        config,
    ),
    spec("info", -1, &["loading", "stale"], NO_KEYS, info),
    spec("time", 1, &["loading", "stale", "fast"], NO_KEYS, time),
];

/// Checks a subcommand against its table; the error Redis gives when it is unknown or has the
/// wrong number of arguments.
fn subcommand(
    command: &str,
    table: &[(&'static str, i64)],
    args: &[Bytes],
) -> Result<&'static str, Frame> {
    let Some(sub) = args.get(1) else {
        return Err(wrong_arity(command));
    };
    let lower = sub.to_ascii_lowercase();
    let Some(&(name, arity)) = table.iter().find(|(n, _)| n.as_bytes() == lower.as_slice()) else {
        return Err(Frame::error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            printable(sub),
            command.to_ascii_uppercase()
        )));
    };
    let n = args.len() as i64;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return Err(wrong_arity(&format!("{command}|{name}")));
    }
    Ok(name)
}

fn help(lines: &[&'static str]) -> Outcome {
    Frame::array(lines.iter().map(|l| Frame::simple(*l)).collect()).into()
}

// ---------------------------------------------------------------------------------------------
// COMMAND

const COMMAND_SUBCOMMANDS: &[(&str, i64)] = &[
    ("count", 2),
    ("info", -2),
    ("docs", -2),
    ("list", -2),
    ("getkeys", -3),
    ("help", 2),
];

/// `COMMAND` and its subcommands.
pub fn command(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    if args.len() == 1 {
        return Frame::array(all().map(command_info).collect()).into();
    }
    let sub = match subcommand("command", COMMAND_SUBCOMMANDS, args) {
        Ok(sub) => sub,
        Err(e) => return e.into(),
    };
    let names = &args[2..];
    match sub {
        "count" => Frame::integer(all().count() as i64).into(),
        "info" if names.is_empty() => Frame::array(all().map(command_info).collect()).into(),
        "info" => Frame::array(
            names
                .iter()
                .map(|name| {
                    super::lookup(name)
                        .map(command_info)
                        .unwrap_or_else(Frame::null)
                })
                .collect(),
        )
        .into(),
        "docs" => {
            let specs: Vec<&CommandSpec> = if names.is_empty() {
                all().collect()
            } else {
                names.iter().filter_map(|n| super::lookup(n)).collect()
            };
            Frame::map(
                specs
                    .into_iter()
                    .map(|s| (Frame::bulk(s.name), command_docs(s)))
                    .collect(),
            )
            .into()
        }
        "list" => command_list(names),
        "getkeys" => command_getkeys(names),
        _ => help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands.",
            "INFO [<command-name> ...]",
            "    Return details about the named commands (all if none is named).",
            "DOCS [<command-name> ...]",
            "    Return documentation of the named commands (all if none is named).",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return the names of the commands, optionally filtered.",
            "GETKEYS <full-command>",
            "    Return the keys of a full command.",
            "HELP",
            "    Print this help.",
        ]),
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`.
fn command_list(filter: &[Bytes]) -> Outcome {
    let keep: Box<dyn Fn(&CommandSpec) -> bool> = match filter {
        [] => Box::new(|_| true),
        [by, kind, value] if by.eq_ignore_ascii_case(b"FILTERBY") => {
            match kind.to_ascii_lowercase().as_slice() {
                // No modules are loaded.
                b"module" => Box::new(|_| false),
                b"aclcat" => {
                    let category = value.to_ascii_lowercase();
                    Box::new(move |s| {
                        acl_categories(s)
                            .iter()
                            .any(|c| c.as_bytes().get(1..) == Some(category.as_slice()))
                    })
                }
                b"pattern" => {
                    // Command names are lower case; the pattern matches them in any case.
                    let pattern = value.to_ascii_lowercase();
                    Box::new(move |s| glob_match(&pattern, s.name.as_bytes()))
                }
                _ => return super::syntax_error().into(),
            }
        }
        _ => return super::syntax_error().into(),
    };
    Frame::array(
        all()
            .filter(|s| keep(s))
            .map(|s| Frame::bulk(s.name))
            .collect(),
    )
    .into()
}

/// `COMMAND GETKEYS command arg...`.
fn command_getkeys(full: &[Bytes]) -> Outcome {
    let Some(spec) = full.first().and_then(|name| super::lookup(name)) else {
        return Frame::error("ERR Invalid command specified").into();
    };
    let n = full.len() as i64;
    if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
        return Frame::error("ERR Invalid number of arguments specified for command").into();
    }
    let keys: Vec<Frame> = super::keys_of(full).cloned().map(Frame::bulk).collect();
    if keys.is_empty() {
        return Frame::error("ERR The command has no key arguments").into();
    }
    Frame::array(keys).into()
}

/// One command as `COMMAND INFO` shows it in Redis 7: name, arity, flags, first key, last key,
/// key step, ACL categories, tips, key specifications, subcommands.
fn command_info(spec: &CommandSpec) -> Frame {
    Frame::array(vec![
        Frame::bulk(spec.name),
        Frame::integer(spec.arity),
        Frame::set(spec.flags.iter().map(|f| Frame::simple(*f)).collect()),
        Frame::integer(spec.keys.0),
        Frame::integer(spec.keys.1),
        Frame::integer(spec.keys.2),
        Frame::set(
            acl_categories(spec)
                .into_iter()
                .map(Frame::simple)
                .collect(),
        ),
        Frame::set(vec![]),
        Frame::array(vec![]),
        Frame::array(vec![]),
    ])
}

/// Redis ACL categories (`@read`, `@string`, ...) from a command's flags and group.
fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let has = |flag: &str| spec.flags.contains(&flag);
    let mut categories = Vec::new();
    if has("write") {
        categories.push("@write");
    }
    if has("readonly") {
        categories.push("@read");
    }
    if has("admin") {
        categories.extend(["@admin", "@dangerous"]);
    }
    categories.push(if has("fast") { "@fast" } else { "@slow" });
    match doc(spec.name).map(|d| d.group) {
        Some("string") => categories.push("@string"),
        Some("generic") => categories.push("@keyspace"),
        Some("hash") => categories.push("@hash"),
        Some("set") => categories.push("@set"),
        Some("connection") => categories.push("@connection"),
        _ => {}
    }
    categories
}

/// One command's `COMMAND DOCS` entry: summary, since, group, complexity, and for commands
/// documented with them, `arguments` and `subcommands` (keyed `command|sub`), in Redis 7's
/// shapes.
fn command_docs(spec: &CommandSpec) -> Frame {
    const UNDOCUMENTED: Doc = d("", "generic", KVORUM, "", "");
    doc_frame(doc(spec.name).unwrap_or(&UNDOCUMENTED))
}

fn doc_frame(d: &Doc) -> Frame {
    let mut fields = vec![
        (Frame::bulk("summary"), Frame::bulk(d.summary)),
        (Frame::bulk("since"), Frame::bulk(d.since)),
        (Frame::bulk("group"), Frame::bulk(d.group)),
        (Frame::bulk("complexity"), Frame::bulk(d.complexity)),
    ];
    if !d.arguments.is_empty() {
        fields.push((Frame::bulk("arguments"), args_frame(d.arguments)));
    }
    if !d.subcommands.is_empty() {
        let subs = d
            .subcommands
            .iter()
            .map(|sub| (Frame::bulk(sub.name), doc_frame(sub)))
            .collect();
        fields.push((Frame::bulk("subcommands"), Frame::map(subs)));
    }
    Frame::map(fields)
}

/// Arguments as Redis 7 lists them: an array of maps with `name`, `type`, and where they
/// apply `display_text`, `token`, `flags` (a set of `optional`/`multiple`) and nested
/// `arguments`. `redis-cli` asserts on these shapes, so nothing else goes here.
fn args_frame(args: &[Arg]) -> Frame {
    Frame::array(
        args.iter()
            .map(|a| {
                let mut fields = vec![
                    (Frame::bulk("name"), Frame::bulk(a.name)),
                    (Frame::bulk("type"), Frame::bulk(a.kind)),
                ];
                if let Some(text) = a.display {
                    fields.push((Frame::bulk("display_text"), Frame::bulk(text)));
                }
                if let Some(token) = a.token {
                    fields.push((Frame::bulk("token"), Frame::bulk(token)));
                }
                let flags: Vec<Frame> = [("optional", a.optional), ("multiple", a.multiple)]
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(flag, _)| Frame::simple(flag))
                    .collect();
                if !flags.is_empty() {
                    fields.push((Frame::bulk("flags"), Frame::set(flags)));
                }
                if !a.args.is_empty() {
                    fields.push((Frame::bulk("arguments"), args_frame(a.args)));
                }
                Frame::map(fields)
            })
            .collect(),
    )
}

/// What `COMMAND DOCS` says about a command (or, in [`Doc::subcommands`], a subcommand).
pub struct Doc {
    /// The command's name, or `command|sub` for a subcommand.
    pub name: &'static str,
    /// Redis's command group (`string`, `generic`, `hash`, `set`, `connection`, `server`).
    pub group: &'static str,
    /// The Redis version that introduced the command; kvorum's own commands give kvorum's.
    pub since: &'static str,
    pub complexity: &'static str,
    pub summary: &'static str,
    /// Its arguments, listed for kvorum's own commands (whose syntax no Redis client knows).
    pub arguments: &'static [Arg],
    pub subcommands: &'static [Doc],
}

impl Doc {
    const fn args(self, arguments: &'static [Arg]) -> Doc {
        Doc { arguments, ..self }
    }

    const fn subs(self, subcommands: &'static [Doc]) -> Doc {
        Doc {
            subcommands,
            ..self
        }
    }
}

/// One argument of a command, as `COMMAND DOCS` describes it.
pub struct Arg {
    pub name: &'static str,
    /// Redis's argument type: `string`, `integer`, `key`, `pure-token` (a word alone),
    /// `oneof` (one of [`Arg::args`]) or `block` (all of them, in order).
    pub kind: &'static str,
    /// How `redis-cli` shows it, when the name alone would mislead (`R=n`).
    pub display: Option<&'static str>,
    /// The word that introduces it (`N` in `N 3`), or that it is (a `pure-token`).
    pub token: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub args: &'static [Arg],
}

const fn arg(name: &'static str, kind: &'static str) -> Arg {
    Arg {
        name,
        kind,
        display: None,
        token: None,
        optional: false,
        multiple: false,
        args: &[],
    }
}

/// A word given as is (`FORCE`).
const fn word(name: &'static str, token: &'static str) -> Arg {
    arg(name, "pure-token").token(token)
}

/// One of `args`.
const fn oneof(name: &'static str, args: &'static [Arg]) -> Arg {
    Arg {
        args,
        ..arg(name, "oneof")
    }
}

impl Arg {
    const fn token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    const fn shown(self, text: &'static str) -> Arg {
        Arg {
            display: Some(text),
            ..self
        }
    }

    const fn optional(self) -> Arg {
        Arg {
            optional: true,
            ..self
        }
    }

    const fn multiple(self) -> Arg {
        Arg {
            multiple: true,
            ..self
        }
    }
}

const KVORUM: &str = env!("CARGO_PKG_VERSION");

const fn d(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
) -> Doc {
    Doc {
        name,
        group,
        since,
        complexity,
        summary,
        arguments: &[],
        subcommands: &[],
    }
}

// The arguments and subcommands of kvorum's own commands (docs/REDIS.md, docs/NAMESPACES.md).

/// `R=n`, `W=n`, `DW=n`, `STRICT`, `SLOPPY`, a preset, `TIMEOUT=ms`: the words of a consistency
/// setting, one argument each.
const SETTING: Arg = arg("setting", "string")
    .shown("ONE|TWO|QUORUM|ALL|EVENTUAL|STRONG|R=n|W=n|DW=n|STRICT|SLOPPY|TIMEOUT=ms")
    .multiple();

static CONSISTENCY_ARGS: &[Arg] =
    &[oneof("setting", &[word("default", "DEFAULT"), SETTING]).optional()];

static WITH_ARGS: &[Arg] = &[
    SETTING,
    word("separator", "--"),
    arg("command", "string"),
    arg("arg", "string").optional().multiple(),
];

static KEY: &[Arg] = &[arg("key", "key")];

static SETCTX_ARGS: &[Arg] = &[
    arg("key", "key"),
    arg("context", "string"),
    arg("value", "string"),
];

static REPLICA_SUBS: &[Doc] = &[
    d(
        "replica|get",
        "server",
        KVORUM,
        "O(1)",
        "Returns this node's own copy of a key, without asking other replicas (no quorum, no repair).",
    )
    .args(KEY),
    d(
        "replica|record",
        "server",
        KVORUM,
        "O(1)",
        "Says what this node stores for a key: none, tombstone (deleted or expired, not yet purged) or live.",
    )
    .args(KEY),
];

static NAME: &[Arg] = &[arg("name", "string")];

/// `NAMESPACE CREATE` and `ALTER`: the name, then any of the options.
static NAMESPACE_OPTIONS: &[Arg] = &[
    arg("name", "string"),
    arg("n", "integer").token("N").optional(),
    arg("r", "integer").token("R").optional(),
    arg("w", "integer").token("W").optional(),
    oneof(
        "mode",
        &[
            word("eventual", "EVENTUAL"),
            word("quorum", "QUORUM"),
            word("strong", "STRONG"),
        ],
    )
    .token("MODE")
    .optional(),
    oneof(
        "conflict",
        &[word("lww", "LWW"), word("siblings", "SIBLINGS")],
    )
    .token("CONFLICT")
    .optional(),
    arg("min_r", "integer").token("MIN_R").optional(),
    arg("min_w", "integer").token("MIN_W").optional(),
    oneof("allow_sloppy", &[word("yes", "YES"), word("no", "NO")])
        .token("ALLOW_SLOPPY")
        .optional(),
    arg("db", "integer").token("DB").optional(),
    arg("ttl", "integer").token("TTL").optional(),
];

#[rustfmt::skip]
static NAMESPACE_SUBS: &[Doc] = &[
    d("namespace|create", "server", KVORUM, "O(1)", "Creates a namespace with its own replication factor, default consistency, floors, conflict policy, db index and TTL.").args(NAMESPACE_OPTIONS),
    d("namespace|alter", "server", KVORUM, "O(1), or O(N) where N is the number of keys of the namespace when N changes (it must hold none)", "Changes the options it names of a namespace.").args(NAMESPACE_OPTIONS),
    d("namespace|drop", "server", KVORUM, "O(N) where N is the number of keys of the namespace (it must hold none unless FORCE)", "Drops a namespace; FORCE also when it holds keys, which every node then deletes in the background.")
        .args(&[arg("name", "string"), word("force", "FORCE").optional()]),
    d("namespace|list", "server", KVORUM, "O(N) where N is the number of namespaces", "Returns the names of every namespace."),
    d("namespace|info", "server", KVORUM, "O(1)", "Returns a namespace's id, db index, policy, TTL and conflicts.").args(NAME),
    d("namespace|use", "server", KVORUM, "O(1)", "Switches the connection to a namespace.").args(NAME),
];

#[rustfmt::skip]
static ADMIN_SUBS: &[Doc] = &[
    d("admin|status", "server", KVORUM, "O(N) where N is the number of nodes", "This node and its view of every peer, as JSON."),
    d("admin|ring", "server", KVORUM, "O(P) where P is the number of partitions", "Partitions per node, as primary and as any replica, and the imbalance, as JSON."),
    d("admin|hints", "server", KVORUM, "O(N) where N is the number of nodes", "The hinted-handoff backlog per target node, as JSON."),
    d("admin|key", "server", KVORUM, "O(1)", "A key's partition, preference list and this node's copy of it, as JSON.")
        .args(&[arg("db", "integer"), arg("key", "string"), word("local", "LOCAL").optional()]),
    d("admin|namespaces", "server", KVORUM, "O(N) where N is the number of namespaces", "Every namespace in this node's catalog with its settings, the conflicts and the catalog's digest, as JSON."),
    d("admin|antientropy", "server", KVORUM, "O(N) where N is the number of partitions held", "Anti-entropy counters and this node's digest of each namespace, as JSON."),
    d("admin|repair", "server", KVORUM, "O(K) where K is the number of keys that differ", "Compares and repairs now, with every other replica, the namespace and partition given (all if none), and answers what the round did, as JSON.")
        .args(&[arg("namespace", "string").optional(), arg("partition", "integer").optional()]),
    d("admin|help", "server", KVORUM, "O(1)", "Lists the ADMIN subcommands."),
];

#[rustfmt::skip]
static DEBUG_SUBS: &[Doc] = &[
    d("debug|clock-offset", "server", KVORUM, "O(1)", "Returns, or sets, the offset in milliseconds of this node's clock (HLC timestamps and TTLs).")
        .args(&[arg("ms", "integer").optional()]),
    d("debug|fault", "server", KVORUM, "O(1)", "Switches a fault on or off.")
        .args(&[arg("name", "string"), oneof("state", &[word("on", "ON"), word("off", "OFF")])]),
    d("debug|faults", "server", KVORUM, "O(N) where N is the number of faults", "Lists every fault and whether it is on."),
    d("debug|damage-record", "server", KVORUM, "O(1)", "Flips a byte of this node's stored record of a key, as a failing disk would (corruption tests).")
        .args(KEY),
    d("debug|help", "server", KVORUM, "O(1)", "Lists the DEBUG subcommands."),
];

/// The documentation of a command, by its (lower-case) name.
pub fn doc(name: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|d| d.name == name)
}

/// Documentation of the commands kvorum serves or may serve, by name; every command of the
/// table has its entry (a test checks). One line per command, as a table.
#[rustfmt::skip]
pub static DOCS: &[Doc] = &[
    // connection
    d("ping", "connection", "1.0.0", "O(1)", "Answers PONG, or echoes its argument."),
    d("echo", "connection", "1.0.0", "O(1)", "Returns its argument."),
    d("auth", "connection", "1.0.0", "O(1)", "Authenticates the connection."),
    d("hello", "connection", "6.0.0", "O(1)", "Picks the protocol version, optionally authenticates and names the connection, and describes the server."),
    d("quit", "connection", "1.0.0", "O(1)", "Closes the connection."),
    d("reset", "connection", "6.2.0", "O(1)", "Returns the connection to its initial state."),
    d("select", "connection", "1.0.0", "O(1)", "Picks the database (namespace) of the connection's keys."),
    d("client", "connection", "2.4.0", "Depends on subcommand.", "Shows and changes connections: ID, GETNAME, SETNAME, SETINFO, INFO, LIST, KILL, REPLY."),
    d("consistency", "connection", KVORUM, "O(1)", "Shows or sets the connection's consistency (R, W, DW, sloppy or strict quorums, timeout).").args(CONSISTENCY_ARGS),
    // server
    d("command", "server", "2.8.13", "O(N) where N is the number of commands", "Describes the commands the node serves."),
    d("config", "server", "2.0.0", "Depends on subcommand.", "Shows configuration parameters (GET) and resets statistics (RESETSTAT)."),
    d("info", "server", "1.0.0", "O(1)", "Returns information and statistics about the node and the cluster."),
    d("time", "server", "2.6.0", "O(1)", "Returns the node's clock as seconds and microseconds."),
    d("dbsize", "server", "1.0.0", "O(1)", "Returns the number of keys in the database."),
    d("flushdb", "server", "1.0.0", "O(N) where N is the number of keys", "Deletes every key of the database."),
    d("flushall", "server", "1.0.0", "O(N) where N is the number of keys", "Deletes every key of every database."),
    d("replica", "server", KVORUM, "O(1)", "Debugging: this node's own copy of a key, without coordination.").subs(REPLICA_SUBS),
    d("namespace", "server", KVORUM, "Depends on subcommand.", "Creates, changes, drops, lists and switches to namespaces (each with its own replication factor and consistency policy).").subs(NAMESPACE_SUBS),
    d("admin", "server", KVORUM, "Depends on subcommand.", "Reports this node and the cluster to operators, as JSON: status, ring, hints, a key's replicas, namespaces, anti-entropy; runs a repair.").subs(ADMIN_SUBS),
    d("debug", "server", KVORUM, "Depends on subcommand.", "kvorum's test hooks (clock offset, fault switches); only in builds with the fault-injection feature.").subs(DEBUG_SUBS),
    // string
    d("get", "string", "1.0.0", "O(1)", "Returns the value of a key."),
    d("set", "string", "1.0.0", "O(1)", "Sets the value of a key, optionally with an expiry and conditions."),
    d("getset", "string", "1.0.0", "O(1)", "Sets a key's value and returns the previous one."),
    d("getdel", "string", "6.2.0", "O(1)", "Returns a key's value and deletes the key."),
    d("getex", "string", "6.2.0", "O(1)", "Returns a key's value and changes its expiry."),
    d("setnx", "string", "1.0.0", "O(1)", "Sets a key's value only if the key does not exist."),
    d("setex", "string", "2.0.0", "O(1)", "Sets a key's value and expiry in seconds."),
    d("psetex", "string", "2.6.0", "O(1)", "Sets a key's value and expiry in milliseconds."),
    d("append", "string", "2.0.0", "O(1)", "Appends to a key's value."),
    d("strlen", "string", "2.2.0", "O(1)", "Returns the length of a key's value."),
    d("getrange", "string", "2.4.0", "O(N) where N is the length of the returned string", "Returns part of a key's value."),
    d("substr", "string", "1.0.0", "O(N) where N is the length of the returned string", "Returns part of a key's value (old name of GETRANGE)."),
    d("setrange", "string", "2.2.0", "O(1)", "Overwrites part of a key's value."),
    d("mget", "string", "1.0.0", "O(N) where N is the number of keys", "Returns the values of several keys."),
    d("mset", "string", "1.0.1", "O(N) where N is the number of keys", "Sets several keys."),
    d("msetnx", "string", "1.0.1", "O(N) where N is the number of keys", "Sets several keys only if none of them exists."),
    d("incr", "string", "1.0.0", "O(1)", "Adds one to a counter."),
    d("decr", "string", "1.0.0", "O(1)", "Subtracts one from a counter."),
    d("incrby", "string", "1.0.0", "O(1)", "Adds an integer to a counter."),
    d("decrby", "string", "1.0.0", "O(1)", "Subtracts an integer from a counter."),
    d("incrbyfloat", "string", "2.6.0", "O(1)", "Adds a floating point number to a counter."),
    d("getctx", "string", KVORUM, "O(N) where N is the number of siblings", "Returns a key's causal context and every concurrent value (sibling).").args(KEY),
    d("setctx", "string", KVORUM, "O(1)", "Sets a key's value, replacing exactly the siblings a causal context saw.").args(SETCTX_ARGS),
    // generic (keyspace)
    d("del", "generic", "1.0.0", "O(N) where N is the number of keys", "Deletes keys."),
    d("unlink", "generic", "4.0.0", "O(N) where N is the number of keys", "Deletes keys."),
    d("exists", "generic", "1.0.0", "O(N) where N is the number of keys", "Counts the given keys that exist."),
    d("touch", "generic", "3.2.1", "O(N) where N is the number of keys", "Counts the given keys that exist."),
    d("type", "generic", "1.0.0", "O(1)", "Returns the type of a key's value."),
    d("expire", "generic", "1.0.0", "O(1)", "Sets a key's expiry in seconds."),
    d("pexpire", "generic", "2.6.0", "O(1)", "Sets a key's expiry in milliseconds."),
    d("expireat", "generic", "1.2.0", "O(1)", "Sets a key's expiry as a Unix time in seconds."),
    d("pexpireat", "generic", "2.6.0", "O(1)", "Sets a key's expiry as a Unix time in milliseconds."),
    d("persist", "generic", "2.2.0", "O(1)", "Removes a key's expiry."),
    d("ttl", "generic", "1.0.0", "O(1)", "Returns a key's remaining time to live in seconds."),
    d("pttl", "generic", "2.6.0", "O(1)", "Returns a key's remaining time to live in milliseconds."),
    d("expiretime", "generic", "7.0.0", "O(1)", "Returns a key's expiry as a Unix time in seconds."),
    d("pexpiretime", "generic", "7.0.0", "O(1)", "Returns a key's expiry as a Unix time in milliseconds."),
    d("rename", "generic", "1.0.0", "O(1)", "Renames a key."),
    d("renamenx", "generic", "1.0.0", "O(1)", "Renames a key only if the new name does not exist."),
    d("copy", "generic", "6.2.0", "O(N) where N is the size of the value", "Copies a key's value to another key."),
    d("keys", "generic", "1.0.0", "O(N) where N is the number of keys", "Returns the keys that match a pattern."),
    d("scan", "generic", "2.8.0", "O(1) per call, O(N) for a full iteration", "Iterates over the keys."),
    d("randomkey", "generic", "1.0.0", "O(1)", "Returns a random key."),
    d("with", "generic", KVORUM, "That of the command it runs", "Runs one command with its own consistency.").args(WITH_ARGS),
    d("wait", "generic", "3.0.0", "O(1)", "Returns how many replicas besides the coordinator held the connection's last write when it was acknowledged (writes wait for their W replicas already)."),
    // hash
    d("hset", "hash", "2.0.0", "O(N) where N is the number of fields set", "Sets fields of a hash."),
    d("hsetnx", "hash", "2.0.0", "O(1)", "Sets a hash field only if it does not exist."),
    d("hmset", "hash", "2.0.0", "O(N) where N is the number of fields set", "Sets fields of a hash (old form of HSET)."),
    d("hget", "hash", "2.0.0", "O(1)", "Returns the value of a hash field."),
    d("hmget", "hash", "2.0.0", "O(N) where N is the number of fields", "Returns the values of hash fields."),
    d("hgetall", "hash", "2.0.0", "O(N) where N is the size of the hash", "Returns every field and value of a hash."),
    d("hdel", "hash", "2.0.0", "O(N) where N is the number of fields", "Deletes hash fields."),
    d("hexists", "hash", "2.0.0", "O(1)", "Whether a hash field exists."),
    d("hlen", "hash", "2.0.0", "O(1)", "Returns the number of fields of a hash."),
    d("hkeys", "hash", "2.0.0", "O(N) where N is the size of the hash", "Returns the fields of a hash."),
    d("hvals", "hash", "2.0.0", "O(N) where N is the size of the hash", "Returns the values of a hash."),
    d("hstrlen", "hash", "3.2.0", "O(1)", "Returns the length of a hash field's value."),
    d("hincrby", "hash", "2.0.0", "O(1)", "Adds an integer to a hash field."),
    d("hincrbyfloat", "hash", "2.6.0", "O(1)", "Adds a floating point number to a hash field."),
    d("hrandfield", "hash", "6.2.0", "O(N) where N is the number of fields returned", "Returns random fields of a hash."),
    d("hscan", "hash", "2.8.0", "O(1) per call, O(N) for a full iteration", "Iterates over the fields of a hash."),
    // set
    d("sadd", "set", "1.0.0", "O(N) where N is the number of members added", "Adds members to a set."),
    d("srem", "set", "1.0.0", "O(N) where N is the number of members removed", "Removes members from a set."),
    d("smembers", "set", "1.0.0", "O(N) where N is the size of the set", "Returns every member of a set."),
    d("sismember", "set", "1.0.0", "O(1)", "Whether a value is a member of a set."),
    d("smismember", "set", "6.2.0", "O(N) where N is the number of values", "Whether each value is a member of a set."),
    d("scard", "set", "1.0.0", "O(1)", "Returns the number of members of a set."),
    d("spop", "set", "1.0.0", "O(N) where N is the number of members removed", "Removes and returns random members of a set."),
    d("srandmember", "set", "1.0.0", "O(N) where N is the number of members returned", "Returns random members of a set."),
    d("smove", "set", "1.0.0", "O(1)", "Moves a member from one set to another."),
    d("sinter", "set", "1.0.0", "O(N*M) worst case, N the smallest set, M the number of sets", "Returns the intersection of sets."),
    d("sintercard", "set", "7.0.0", "O(N*M) worst case, N the smallest set, M the number of sets", "Returns the size of the intersection of sets."),
    d("sinterstore", "set", "1.0.0", "O(N*M) worst case, N the smallest set, M the number of sets", "Stores the intersection of sets in a key."),
    d("sunion", "set", "1.0.0", "O(N) where N is the total number of members", "Returns the union of sets."),
    d("sunionstore", "set", "1.0.0", "O(N) where N is the total number of members", "Stores the union of sets in a key."),
    d("sdiff", "set", "1.0.0", "O(N) where N is the total number of members", "Returns the difference of sets."),
    d("sdiffstore", "set", "1.0.0", "O(N) where N is the total number of members", "Stores the difference of sets in a key."),
    d("sscan", "set", "2.8.0", "O(1) per call, O(N) for a full iteration", "Iterates over the members of a set."),
];

// ---------------------------------------------------------------------------------------------
// CONFIG

const CONFIG_SUBCOMMANDS: &[(&str, i64)] = &[
    ("get", -3),
    ("set", -4),
    ("resetstat", 2),
    ("rewrite", 2),
    ("help", 2),
];

/// `CONFIG GET pattern... | SET ... | RESETSTAT | REWRITE | HELP`.
pub fn config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = match subcommand("config", CONFIG_SUBCOMMANDS, args) {
        Ok(sub) => sub,
        Err(e) => return e.into(),
    };
    match sub {
        "get" => {
            // Parameter names are lower case; patterns match them in any case, as in Redis.
            let patterns: Vec<Vec<u8>> = args[2..].iter().map(|p| p.to_ascii_lowercase()).collect();
            let params = config_params(ctx.shared, ctx.session.authenticated);
            let pairs = params
                .into_iter()
                .filter(|(name, _)| patterns.iter().any(|p| glob_match(p, name.as_bytes())))
                .map(|(name, value)| (Frame::bulk(name), Frame::bulk(value)))
                .collect();
            Frame::map(pairs).into()
        }
        "set" => {
            if args.len() % 2 != 0 {
                return wrong_arity("config|set").into();
            }
            let params = config_params(ctx.shared, true);
            let name = &args[2];
            if params
                .iter()
                .any(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
            {
                Frame::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - can't set \
                     immutable config",
                    printable(name).to_ascii_lowercase()
                ))
                .into()
            } else {
                Frame::error(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    printable(name)
                ))
                .into()
            }
        }
        "resetstat" => {
            ctx.shared.stats.reset();
            Frame::ok().into()
        }
        "rewrite" => Frame::error(
            "ERR CONFIG REWRITE is not supported: the node's configuration is its TOML file",
        )
        .into(),
        _ => help(&[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern> [<pattern> ...]",
            "    Return the parameters matching the glob-like <pattern>s and their values.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Refused: parameters come from the node's TOML file at start-up.",
            "RESETSTAT",
            "    Reset the statistics reported by INFO.",
            "HELP",
            "    Print this help.",
        ]),
    }
}

/// The Redis parameters `CONFIG GET` answers, with the values the node runs with. The password
/// is shown only to an authenticated connection (as the `default` user sees it in Redis).
fn config_params(shared: &Shared, authenticated: bool) -> Vec<(&'static str, String)> {
    let view = &shared.view;
    let (appendonly, appendfsync) = match shared.fsync.as_str() {
        "never" => ("no", "no"),
        "always" => ("yes", "always"),
        _ => ("yes", "everysec"),
    };
    let requirepass = match &view.requirepass {
        Some(p) if authenticated => String::from_utf8_lossy(p).into_owned(),
        _ => String::new(),
    };
    vec![
        ("bind", view.resp_listen.ip().to_string()),
        ("port", view.resp_listen.port().to_string()),
        ("databases", view.databases.to_string()),
        ("maxclients", view.max_connections.to_string()),
        ("timeout", "0".to_owned()),
        ("tcp-keepalive", "0".to_owned()),
        ("requirepass", requirepass),
        ("proto-max-bulk-len", view.max_bulk_bytes.to_string()),
        (
            "client-query-buffer-limit",
            view.max_query_buffer_bytes.to_string(),
        ),
        ("maxmemory", "0".to_owned()),
        ("maxmemory-policy", "noeviction".to_owned()),
        ("save", String::new()),
        ("appendonly", appendonly.to_owned()),
        ("appendfsync", appendfsync.to_owned()),
        ("dir", view.data_dir.display().to_string()),
        ("cluster-enabled", "no".to_owned()),
        ("notify-keyspace-events", String::new()),
        ("io-threads", "1".to_owned()),
        ("replica-read-only", "yes".to_owned()),
    ]
}

// ---------------------------------------------------------------------------------------------
// TIME

/// `TIME`: the node's clock as `[seconds, microseconds]`, both bulk strings.
pub fn time(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Frame::array(vec![
        Frame::bulk(now.as_secs().to_string()),
        Frame::bulk(now.subsec_micros().to_string()),
    ])
    .into()
}

// ---------------------------------------------------------------------------------------------
// INFO

/// Every section in output order; `true` for those of `INFO` without arguments (`default`).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
    ("hints", true),
    ("requests", false),
    ("replication_stats", true),
    ("storage", true),
];

/// Serialises `INFO keyspace` counts, which read storage.
static KEYSPACE_COUNT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// `INFO [section ...]`: `default` (also with no argument), `all`, `everything`, or section
/// names in any case. An unknown section adds nothing. A verbatim string in RESP3, as Redis.
pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut wanted = vec![false; SECTIONS.len()];
    if args.len() == 1 {
        for (want, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
            *want = *default;
        }
    }
    for arg in &args[1..] {
        let arg = arg.to_ascii_lowercase();
        for (want, (name, default)) in wanted.iter_mut().zip(SECTIONS) {
            *want |= match arg.as_slice() {
                b"all" | b"everything" => true,
                b"default" => *default,
                other => other == name.as_bytes(),
            };
        }
    }
    let mut text = String::new();
    let mut keyspace = false;
    for ((name, _), _) in SECTIONS.iter().zip(&wanted).filter(|(_, want)| **want) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        section(&mut text, name, ctx.shared);
        keyspace |= *name == "keyspace";
    }
    if !keyspace {
        return Frame::verbatim_text(text).into();
    }
    // Counting reads storage: it runs on the blocking pool, then fills the Keyspace section.
    // It counts the namespaces a line can name, against one snapshot of the catalog.
    let count = ctx.shared.view.keyspace.clone();
    let names = Namespaces::of(ctx.shared);
    Outcome::Later(Box::pin(async move {
        // One count at a time: many clients polling INFO share the wait, not the disk.
        let Ok(_turn) = KEYSPACE_COUNT.acquire().await else {
            return Frame::verbatim_text(text);
        };
        let ids = names.listed();
        let counts = tokio::task::spawn_blocking(move || count(&ids))
            .await
            .unwrap_or_default();
        let keyspace = keyspace_lines(&names, counts);
        let text = text.replacen("# Keyspace\r\n", &format!("# Keyspace\r\n{keyspace}"), 1);
        Frame::verbatim_text(text)
    }))
}

/// The lines of `INFO keyspace` from `(namespace, keys, expires)` counts: `dbN:keys=…,
/// expires=…,avg_ttl=0` for a namespace that db `N` reaches (`SELECT N`), by db index, then
/// `ns_<name>:…` for a created namespace without a db index, by name. Names are letters,
/// digits, `_` and `-`, so every line still parses as Redis's `key:value` with `,`-separated
/// `field=value`s, and clients that only look for `db` lines skip the others. Not listed: the
/// keys of a bare db hidden behind a namespace mapped to its index (no command reaches them
/// until the mapping is dropped) and of dropped namespaces (being purged).
fn keyspace_lines(
    names: &Namespaces,
    counts: impl IntoIterator<Item = (NamespaceId, u64, u64)>,
) -> String {
    let mut dbs = Vec::new();
    let mut named = Vec::new();
    for (ns, keys, expires) in counts {
        let Some(place) = names.get(ns) else {
            continue;
        };
        match place.db {
            Some(db) => dbs.push((db, keys, expires)),
            None if !place.bare => named.push((place.name, keys, expires)),
            None => {}
        }
    }
    dbs.sort_unstable();
    named.sort_unstable();
    let mut out = String::new();
    for (db, keys, expires) in dbs {
        let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
    for (name, keys, expires) in named {
        let _ = write!(out, "ns_{name}:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
    out
}

/// Appends one section, `# Title` then `field:value` lines, each ending in CRLF.
fn section(out: &mut String, name: &str, shared: &Shared) {
    let mut title: Vec<char> = name.chars().collect();
    if let Some(first) = title.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    let title: String = title.into_iter().collect();
    let _ = write!(out, "# {}\r\n", if name == "cpu" { "CPU" } else { &title });
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = write!(out, "{key}:{value}\r\n");
    };
    let stats = &shared.stats;
    let view = &shared.view;
    match name {
        "server" => {
            let uptime = shared.started.elapsed().as_secs();
            line("redis_version", &REDIS_VERSION);
            line("redis_git_sha1", &"00000000");
            line("redis_git_dirty", &0);
            line("redis_mode", &"standalone");
            line("kvorum_version", &env!("CARGO_PKG_VERSION"));
            line("node_id", &shared.node.0);
            line("os", &os_name());
            line("arch_bits", &usize::BITS);
            line("process_id", &std::process::id());
            line("process_supervised", &"no");
            line("run_id", &shared.run_id);
            line("tcp_port", &view.resp_listen.port());
            line("server_time_usec", &unix_micros());
            line("uptime_in_seconds", &uptime);
            line("uptime_in_days", &(uptime / 86_400));
            if let Ok(exe) = std::env::current_exe() {
                line("executable", &exe.display());
            }
            line("io_threads_active", &0);
            line(
                "listener0",
                &format!(
                    "name=tcp,bind={},port={}",
                    view.resp_listen.ip(),
                    view.resp_listen.port()
                ),
            );
        }
        "clients" => {
            line("connected_clients", &shared.clients.len());
            line("cluster_connections", &0);
            line("maxclients", &view.max_connections);
            line("client_recent_max_input_buffer", &0);
            line("client_recent_max_output_buffer", &0);
            line("blocked_clients", &0);
            line("tracking_clients", &0);
            line("pubsub_clients", &0);
            line("watching_clients", &0);
            line("clients_in_timeout_table", &0);
            line("total_watched_keys", &0);
            line("total_blocking_keys", &0);
        }
        "memory" => {
            // The process's resident memory: kvorum has no allocator accounting of its own.
            let rss = proc_kb("/proc/self/status", "VmRSS:").unwrap_or(0) * 1024;
            let peak = proc_kb("/proc/self/status", "VmHWM:").unwrap_or(0) * 1024;
            let total = proc_kb("/proc/meminfo", "MemTotal:").unwrap_or(0) * 1024;
            line("used_memory", &rss);
            line("used_memory_human", &human_bytes(rss));
            line("used_memory_rss", &rss);
            line("used_memory_rss_human", &human_bytes(rss));
            line("used_memory_peak", &peak);
            line("used_memory_peak_human", &human_bytes(peak));
            line("total_system_memory", &total);
            line("total_system_memory_human", &human_bytes(total));
            line("maxmemory", &0);
            line("maxmemory_human", &"0B");
            line("maxmemory_policy", &"noeviction");
            line("mem_allocator", &"libc");
        }
        "persistence" => {
            let now = u64::try_from(unix_micros() / 1_000_000).unwrap_or(u64::MAX);
            let started = now.saturating_sub(shared.started.elapsed().as_secs());
            line("loading", &0);
            line("async_loading", &0);
            line("rdb_changes_since_last_save", &0);
            line("rdb_bgsave_in_progress", &0);
            line("rdb_last_save_time", &started);
            line("rdb_last_bgsave_status", &"ok");
            line("aof_enabled", &u8::from(shared.fsync != "never"));
            line("aof_rewrite_in_progress", &0);
            line("aof_rewrite_scheduled", &0);
            line("aof_last_write_status", &"ok");
            line("fsync", &shared.fsync);
        }
        "stats" => {
            let load = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
            line(
                "total_connections_received",
                &load(&stats.connections_received),
            );
            line("total_commands_processed", &load(&stats.commands_processed));
            line("instantaneous_ops_per_sec", &0);
            line("total_net_input_bytes", &load(&stats.net_input_bytes));
            line("total_net_output_bytes", &load(&stats.net_output_bytes));
            line("instantaneous_input_kbps", &"0.00");
            line("instantaneous_output_kbps", &"0.00");
            line("rejected_connections", &load(&stats.rejected_connections));
            // Expired keys whose data this node's purger dropped (they read as absent earlier).
            line("expired_keys", &view.purge.purged.load(Relaxed));
            line("evicted_keys", &0);
            line("keyspace_hits", &0);
            line("keyspace_misses", &0);
            line("pubsub_channels", &0);
            line("pubsub_patterns", &0);
            line("total_error_replies", &load(&stats.error_replies));
            line("total_reads_processed", &load(&stats.reads_processed));
            line("total_writes_processed", &load(&stats.writes_processed));
        }
        "replication" => {
            // Every kvorum node coordinates writes; replicas are the cluster's, listed below.
            line("role", &"master");
            line("connected_slaves", &0);
            line("master_failover_state", &"no-failover");
            line("master_replid", &shared.run_id);
            line("master_replid2", &"0".repeat(40));
            line("master_repl_offset", &0);
            line("second_repl_offset", &-1);
            line("repl_backlog_active", &0);
            line("repl_backlog_size", &0);
            line("repl_backlog_first_byte_offset", &0);
            line("repl_backlog_histlen", &0);
            let peers = (view.peers)();
            line("replication_factor", &shared.policy.n);
            line("cluster_nodes", &view.cluster_nodes);
            line(
                "cluster_peers_up",
                &peers.iter().filter(|(_, p)| p.up).count(),
            );
            for (id, p) in peers {
                line(
                    &format!("peer_n{id}"),
                    &format!(
                        "state={},connected={},phi={:.2}",
                        if p.up { "up" } else { "down" },
                        u8::from(p.connected),
                        p.phi
                    ),
                );
            }
        }
        "cpu" => {
            let (user, system) = cpu_seconds().unwrap_or((0.0, 0.0));
            line("used_cpu_sys", &format!("{system:.6}"));
            line("used_cpu_user", &format!("{user:.6}"));
            line("used_cpu_sys_children", &"0.000000");
            line("used_cpu_user_children", &"0.000000");
        }
        "commandstats" => {
            for s in stats.command_stats() {
                line(
                    &format!("cmdstat_{}", s.name),
                    &format!("calls={},rejected_calls={}", s.calls, s.rejected_calls),
                );
            }
        }
        "errorstats" => {
            for (code, count) in stats.error_codes() {
                line(&format!("errorstat_{code}"), &format!("count={count}"));
            }
        }
        "cluster" => line("cluster_enabled", &0),
        "hints" => {
            let h = shared.hints.stats();
            line("hints_count", &h.count);
            line("hints_bytes", &h.bytes);
            line("hints_stored", &h.stored);
            line("hints_merged", &h.merged);
            line("hints_delivered", &h.delivered);
            line("hints_refused_bytes", &h.refused_bytes);
            line("hints_refused_age", &h.refused_age);
            line(
                "handoff_attempts_failed",
                &shared.handoff.failed.load(Relaxed),
            );
            for b in shared.hints.backlog() {
                line(
                    &format!("hints_backlog_n{}", b.target),
                    &format!("hints={},bytes={}", b.hints, b.bytes),
                );
            }
        }
        "requests" => {
            // One line per label set that counted something, as in `/metrics`.
            for (ns, family, consistency, outcome, s) in shared.driver.metrics().request_series() {
                let mut le = String::new();
                let mut cumulative = 0;
                for (bound, count) in crate::metrics::LATENCY_BUCKETS_US.iter().zip(&s.buckets) {
                    cumulative += count;
                    let _ = write!(le, ",le_{bound}us={cumulative}");
                }
                line(
                    &format!("request_ns{ns}_{family}_{consistency}_{outcome}"),
                    &format!("calls={},usec={}{le}", s.count, s.sum_us),
                );
            }
        }
        "replication_stats" => {
            let m = shared.driver.metrics();
            for (kind, count) in crate::metrics::REPLIES.iter().zip(m.replies()) {
                line(&format!("coordinator_replies_{kind}"), &count);
            }
            line("write_acks", &m.write_acks.load(Relaxed));
            line("replica_fetched_ok", &m.replica_fetched_ok.load(Relaxed));
            line(
                "replica_fetched_error",
                &m.replica_fetched_error.load(Relaxed),
            );
            line("replica_stored_ok", &m.replica_stored_ok.load(Relaxed));
            line(
                "replica_stored_error",
                &m.replica_stored_error.load(Relaxed),
            );
            line("read_repairs", &m.read_repairs.load(Relaxed));
            line("strong_write_backs", &m.write_backs.load(Relaxed));
            line("inline_reads", &m.inline_reads.load(Relaxed));
            line("inline_read_pauses", &m.inline_read_pauses.load(Relaxed));
            line("siblings_created", &m.siblings_created.load(Relaxed));
            line("siblings_resolved", &m.siblings_resolved.load(Relaxed));
        }
        "storage" => {
            let m = shared.driver.metrics();
            let f = crate::metrics::gather(shared, m);
            // One stat of the engine's files: cheap enough to do inline.
            line("storage_bytes", &m.storage_bytes().unwrap_or(0));
            line("fsyncs", &f.fsyncs);
            line("fsyncs_failed", &f.fsyncs_failed);
            line("fsync_usec", &f.fsync_latency.sum_us);
            line(
                "fsync_usec_per_call",
                &format!(
                    "{:.2}",
                    f.fsync_latency.sum_us as f64 / f.fsync_latency.count.max(1) as f64
                ),
            );
            line("corrupt_records", &f.corrupt_records);
            line("antientropy_keys_pulled", &f.antientropy.keys_pulled);
            line("antientropy_keys_pushed", &f.antientropy.keys_pushed);
            line(
                "antientropy_tombstones_purged",
                &f.antientropy.tombstones_purged,
            );
        }
        // "modules": none are loaded. "keyspace": filled in by `info` (it reads storage).
        _ => {}
    }
}

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// `Linux 6.1.0 x86_64`, as Redis's `uname` line.
fn os_name() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
    };
    let kernel = read("/proc/sys/kernel/ostype").unwrap_or_else(|| std::env::consts::OS.into());
    match read("/proc/sys/kernel/osrelease") {
        Some(release) => format!("{kernel} {release} {}", std::env::consts::ARCH),
        None => format!("{kernel} {}", std::env::consts::ARCH),
    }
}

/// A `Field:   123 kB` value of a /proc file, in kB.
fn proc_kb(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix(field))?;
    value.split_whitespace().next()?.parse().ok()
}

/// User and system CPU seconds of this process, from /proc/self/stat (in clock ticks of
/// `USER_HZ`, which Linux fixes at 100 on every architecture it exposes to user space).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name in parentheses may hold spaces: fields are counted after its `)`.
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user / 100.0, system / 100.0))
}

/// Bytes as Redis prints them: `512B`, `1.50K`, `3.20M`, `1.00G`, ...
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    for unit in UNITS {
        if value < 1024.0 || unit == "P" {
            return format!("{value:.2}{unit}");
        }
        value /= 1024.0;
    }
    format!("{n}B")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_as_redis_prints_them() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(3 << 20), "3.00M");
        assert_eq!(human_bytes(5 << 30), "5.00G");
    }

    #[test]
    fn docs_name_each_command_once_in_a_redis_group() {
        for (i, doc) in DOCS.iter().enumerate() {
            assert!(
                DOCS[..i].iter().all(|other| other.name != doc.name),
                "{}",
                doc.name
            );
            assert!(
                ["connection", "server", "string", "generic", "hash", "set"].contains(&doc.group),
                "{}",
                doc.name
            );
            assert_eq!(doc.name, doc.name.to_ascii_lowercase());
        }
    }

    /// Every command answers `COMMAND DOCS` with real texts, and its subcommands too.
    #[test]
    fn every_command_has_a_summary() {
        fn check(doc: &Doc) {
            assert!(!doc.summary.is_empty(), "{} has no summary", doc.name);
            assert!(!doc.complexity.is_empty(), "{} has no complexity", doc.name);
            assert!(!doc.since.is_empty(), "{}", doc.name);
            for sub in doc.subcommands {
                let parent = sub.name.split('|').next();
                assert_eq!(parent, Some(doc.name), "{} under {}", sub.name, doc.name);
                assert_eq!(sub.group, doc.group, "{}", sub.name);
                check(sub);
            }
        }
        for spec in all() {
            let Some(doc) = doc(spec.name) else {
                panic!("{} is not in DOCS", spec.name);
            };
            check(doc);
        }
    }

    /// Argument types are Redis's (clients such as `redis-cli` reject others), and only
    /// `oneof` and `block` have nested arguments.
    #[test]
    fn arguments_use_redis_types() {
        fn check(args: &[Arg]) {
            for a in args {
                assert!(
                    ["string", "integer", "key", "pure-token", "oneof", "block"].contains(&a.kind),
                    "{}: {}",
                    a.name,
                    a.kind
                );
                assert_eq!(
                    !a.args.is_empty(),
                    ["oneof", "block"].contains(&a.kind),
                    "{}",
                    a.name
                );
                assert!(a.kind != "pure-token" || a.token.is_some(), "{}", a.name);
                check(a.args);
            }
        }
        for doc in DOCS {
            check(doc.arguments);
            for sub in doc.subcommands {
                check(sub.arguments);
            }
        }
    }

    #[test]
    fn kvorum_commands_document_their_subcommands_and_arguments() {
        let docs = |name: &str| command_docs(super::super::lookup(name.as_bytes()).unwrap());
        let field = |frame: &Frame, key: &str| -> Option<Frame> {
            let Frame::Map(pairs) = frame else {
                return None;
            };
            pairs
                .iter()
                .find(|(k, _)| k.as_bytes().map(|b| b.as_ref()) == Some(key.as_bytes()))
                .map(|(_, v)| v.clone())
        };
        let namespace = docs("namespace");
        let subs = field(&namespace, "subcommands").unwrap();
        let create = field(&subs, "namespace|create").unwrap();
        assert!(field(&create, "summary").is_some());
        let Some(Frame::Array(args)) = field(&create, "arguments") else {
            panic!("namespace|create has no arguments");
        };
        assert_eq!(args.len(), NAMESPACE_OPTIONS.len());
        let db = &args[9];
        assert_eq!(field(db, "token"), Some(Frame::bulk("DB")));
        assert_eq!(
            field(db, "flags"),
            Some(Frame::set(vec![Frame::simple("optional")]))
        );
        assert!(field(&docs("getctx"), "arguments").is_some());
        assert!(field(&docs("get"), "arguments").is_none());
    }

    fn catalog_with_namespaces() -> (Namespaces, NamespaceId, NamespaceId) {
        use kvorum_consistency::catalog::{Catalog, NamespaceDef, Stamp};
        use kvorum_consistency::{NamespacePolicy, Timestamp};
        let stamp = |ms| Stamp {
            at: Timestamp {
                physical_ms: ms,
                logical: 0,
            },
            node: kvorum_ring::NodeId(1),
        };
        let def = |db| NamespaceDef {
            id: NamespaceId(0),
            db,
            policy: NamespacePolicy::new(3),
            ttl_s: None,
            created: stamp(0),
        };
        let mut catalog = Catalog::new();
        let sessions = catalog.create("sessions", def(Some(3)), stamp(1)).unwrap();
        let scratch = catalog.create("scratch", def(None), stamp(2)).unwrap();
        (Namespaces::new(&catalog, 16), sessions, scratch)
    }

    #[test]
    fn info_keyspace_names_each_namespace_as_select_reaches_it() {
        let (names, sessions, scratch) = catalog_with_namespaces();
        let lines = keyspace_lines(
            &names,
            [
                (scratch, 4, 0),
                (NamespaceId(5), 2, 2),
                (sessions, 7, 1),
                (NamespaceId(0), 1, 0),
                // The bare db 3, hidden behind `sessions`, and an id no namespace has.
                (NamespaceId(3), 9, 0),
                (NamespaceId(u32::MAX - 1), 9, 0),
            ],
        );
        assert_eq!(
            lines,
            "db0:keys=1,expires=0,avg_ttl=0\r\n\
             db3:keys=7,expires=1,avg_ttl=0\r\n\
             db5:keys=2,expires=2,avg_ttl=0\r\n\
             ns_scratch:keys=4,expires=0,avg_ttl=0\r\n"
        );
        assert_eq!(keyspace_lines(&names, []), "");
    }
}
