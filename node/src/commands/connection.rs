//! Connection commands: PING, ECHO, AUTH, HELLO, QUIT, RESET, SELECT, CLIENT.
//!
//! They change or show the state of one connection ([`crate::session::Session`]); `CLIENT
//! LIST` and `CLIENT KILL` reach other connections through the node's client registry. Replies
//! and error texts are Redis 7's, so client libraries that match on them keep working.
//!
//! - `AUTH [username] password` and `HELLO ... AUTH username password` check the `default`
//!   user's password (`[auth] requirepass`); the listener refuses other commands until then.
//! - `SELECT n` picks database `n` (0 to `databases - 1`): the namespace mapped to it, else the
//!   bare namespace `n`.
//! - `RESET` returns the connection to a new connection's state.
//! - `CLIENT`: ID, GETNAME, SETNAME, SETINFO, INFO, LIST, KILL, REPLY, NO-EVICT, NO-TOUCH, HELP.
//!   `CLIENT LIST` and `CLIENT INFO` show a connection's namespace as Redis's `db=` (the db index
//!   `SELECT` takes to it, `-1` for a namespace without one) and kvorum's `ns=` (its name); see
//!   [`Namespaces`], which `INFO keyspace` shares.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use kvorum_consistency::catalog::{Catalog, DEFAULT_NAME, FIRST_CREATED_ID};
use kvorum_consistency::crdt::counter::parse_int;
use kvorum_resp::{Frame, Protocol};
use kvorum_ring::NamespaceId;

use super::{printable, spec, syntax_error, wrong_arity, CommandSpec, Ctx, Outcome, NO_KEYS};
use crate::session::{ClientEntry, ClientView};

/// The commands of this family.
pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, &["fast", "stale"], NO_KEYS, ping),
    spec("echo", 2, &["fast", "stale"], NO_KEYS, echo),
    spec(
        "auth",
        -2,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        NO_KEYS,
        auth,
    ),
    spec(
        "hello",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        NO_KEYS,
        hello,
    ),
    spec(
        "quit",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        NO_KEYS,
        quit,
    ),
    spec(
        "reset",
        1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        NO_KEYS,
        reset,
    ),
    spec("select", 2, &["loading", "stale", "fast"], NO_KEYS, select),
    spec(
        "client",
        -2,
        &["noscript", "loading", "stale"],
        NO_KEYS,
        client,
    ),
];

/// The Redis version kvorum answers like (`HELLO`, `INFO server`): clients pick features by it.
pub const REDIS_VERSION: &str = "7.2.0";

pub fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    match args {
        [_] => Frame::simple("PONG").into(),
        [_, message] => Frame::bulk(message.clone()).into(),
        _ => wrong_arity("ping").into(),
    }
}

pub fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    Frame::bulk(args[1].clone()).into()
}

pub fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    ctx.session.closing = true;
    Frame::ok().into()
}

/// `AUTH password` or `AUTH username password`. A failed attempt leaves the connection as it
/// was (an authenticated connection stays authenticated).
pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let (username, password) = match args {
        [_, password] => (None, password),
        [_, username, password] => (Some(username.as_ref()), password),
        _ => return syntax_error().into(),
    };
    match ctx.shared.authenticate(username, password) {
        Ok(()) => {
            ctx.session.authenticated = true;
            Frame::ok().into()
        }
        Err(e) => e.into(),
    }
}

/// `RESET`: see [`crate::session::Session::reset`].
pub fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Outcome {
    ctx.session.reset(ctx.shared);
    Frame::simple("RESET").into()
}

/// `SELECT index`: the namespace mapped to db `index` (`NAMESPACE CREATE ... DB index`), or,
/// if none is, the bare namespace `index` with the `default` namespace's policy.
pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let Some(index) = parse_int(&args[1]) else {
        return Frame::error("ERR value is not an integer or out of range").into();
    };
    match u32::try_from(index)
        .ok()
        .and_then(|db| ctx.shared.catalog.select(db))
    {
        Some(ns) => {
            ctx.session.namespace = ns;
            Frame::ok().into()
        }
        None => Frame::error("ERR DB index is out of range").into(),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut protocol = ctx.session.protocol;
    if let Some(version) = args.get(1) {
        protocol = match parse_int(version) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Frame::error("NOPROTO unsupported protocol version").into(),
            None => {
                return Frame::error("ERR Protocol version is not an integer or out of range")
                    .into()
            }
        };
    }
    let mut credentials = None;
    let mut name = None;
    let mut rest = args.get(2..).unwrap_or_default();
    while let Some(option) = rest.first() {
        match rest {
            [option, username, password, ..] if option.eq_ignore_ascii_case(b"AUTH") => {
                credentials = Some((username, password));
                rest = &rest[3..];
            }
            [option, client_name, ..] if option.eq_ignore_ascii_case(b"SETNAME") => {
                if let Err(e) = check_client_name(client_name) {
                    return e.into();
                }
                name = Some(client_name.clone());
                rest = &rest[2..];
            }
            _ => {
                return Frame::error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    printable(option)
                ))
                .into()
            }
        }
    }
    if let Some((username, password)) = credentials {
        if let Err(e) = ctx.shared.authenticate(Some(username), password) {
            return e.into();
        }
        ctx.session.authenticated = true;
    }
    if !ctx.session.authenticated {
        return Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        )
        .into();
    }
    if let Some(name) = name {
        ctx.session.name = (!name.is_empty()).then_some(name);
    }
    ctx.session.protocol = protocol;
    Frame::map(vec![
        (Frame::bulk("server"), Frame::bulk("kvorum")),
        (Frame::bulk("version"), Frame::bulk(REDIS_VERSION)),
        (Frame::bulk("proto"), Frame::integer(resp_number(protocol))),
        (Frame::bulk("id"), Frame::integer(ctx.session.id as i64)),
        (Frame::bulk("mode"), Frame::bulk("standalone")),
        (Frame::bulk("role"), Frame::bulk("master")),
        (Frame::bulk("modules"), Frame::array(vec![])),
    ])
    .into()
}

fn resp_number(protocol: Protocol) -> i64 {
    match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    }
}

/// `CLIENT subcommand ...`.
pub fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let sub = args[1].to_ascii_lowercase();
    let Some(&(name, arity)) = CLIENT_SUBCOMMANDS
        .iter()
        .find(|(name, _)| name.as_bytes() == sub.as_slice())
    else {
        return Frame::error(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            printable(&args[1])
        ))
        .into();
    };
    let n = args.len() as i64;
    if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
        return wrong_arity(&format!("client|{name}")).into();
    }
    let session = &mut *ctx.session;
    match name {
        "id" => Frame::integer(session.id as i64).into(),
        "getname" => session
            .name
            .clone()
            .map(Frame::bulk)
            .unwrap_or_else(Frame::null)
            .into(),
        "setname" => match check_client_name(&args[2]) {
            Ok(()) => {
                session.name = (!args[2].is_empty()).then(|| args[2].clone());
                Frame::ok().into()
            }
            Err(e) => e.into(),
        },
        "setinfo" => client_setinfo(ctx, &args[2], &args[3]),
        "info" => {
            let view = session.live_view(super::lookup(b"client"), args, 0, 0);
            let names = Namespaces::of(ctx.shared);
            let mut text = String::new();
            client_line(&mut text, &session.client, &view, &names, Instant::now());
            Frame::verbatim_text(text).into()
        }
        "list" => client_list(ctx, args),
        "kill" => client_kill(ctx, args),
        "reply" => match args[2].to_ascii_lowercase().as_slice() {
            b"on" => {
                session.reply.on();
                Frame::ok().into()
            }
            b"off" => {
                session.reply.off();
                Frame::ok().into()
            }
            b"skip" => {
                session.reply.skip();
                Frame::ok().into()
            }
            _ => syntax_error().into(),
        },
        "no-evict" | "no-touch" => {
            let on = match args[2].to_ascii_lowercase().as_slice() {
                b"on" => true,
                b"off" => false,
                _ => return syntax_error().into(),
            };
            if name == "no-evict" {
                session.no_evict = on;
            } else {
                session.no_touch = on;
            }
            Frame::ok().into()
        }
        _ => Frame::array(
            CLIENT_HELP
                .iter()
                .map(|line| Frame::simple(*line))
                .collect(),
        )
        .into(),
    }
}

/// The CLIENT subcommands served and their arity (with `CLIENT` and the subcommand counted).
const CLIENT_SUBCOMMANDS: &[(&str, i64)] = &[
    ("id", 2),
    ("getname", 2),
    ("setname", 3),
    ("setinfo", 4),
    ("info", 2),
    ("list", -2),
    ("kill", -3),
    ("reply", 3),
    ("no-evict", 3),
    ("no-touch", 3),
    ("help", 2),
];

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ID",
    "    Return the ID of the current connection.",
    "GETNAME",
    "    Return the name of the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Record the client library's name or version for CLIENT LIST and CLIENT INFO.",
    "INFO",
    "    Return information about the current connection.",
    "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
    "    Return information about open connections.",
    "KILL <ip:port>",
    "    Close the connection from <ip:port>.",
    "KILL <option> <value> [<option> <value> ...]",
    "    Close the connections that match every filter: ID <id>, ADDR <ip:port>,",
    "    LADDR <ip:port>, TYPE <normal|master|replica|pubsub>, USER <username>,",
    "    SKIPME <yes|no> (default yes).",
    "REPLY <ON|OFF|SKIP>",
    "    Turn replies on, off, or skip the reply of the next command.",
    "NO-EVICT <ON|OFF>",
    "    Accepted for compatibility: kvorum does not evict.",
    "NO-TOUCH <ON|OFF>",
    "    Accepted for compatibility.",
    "HELP",
    "    Print this help.",
];

fn client_setinfo(ctx: &mut Ctx<'_>, attr: &Bytes, value: &Bytes) -> Outcome {
    let session = &mut *ctx.session;
    let slot = match attr.to_ascii_lowercase().as_slice() {
        b"lib-name" => &mut session.lib_name,
        b"lib-ver" => &mut session.lib_ver,
        _ => return Frame::error(format!("ERR Unrecognized option '{}'", printable(attr))).into(),
    };
    if value.iter().any(|b| !(b'!'..=b'~').contains(b)) {
        return Frame::error(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            printable(attr)
        ))
        .into();
    }
    *slot = (!value.is_empty()).then(|| value.clone());
    Frame::ok().into()
}

/// `CLIENT LIST [TYPE type] [ID id ...]`.
fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let mut entries = match &args[2..] {
        [] => ctx.shared.clients.all(),
        [option, kind] if option.eq_ignore_ascii_case(b"TYPE") => match client_type(kind) {
            Ok(true) => ctx.shared.clients.all(),
            Ok(false) => Vec::new(),
            Err(e) => return e.into(),
        },
        [option, ids @ ..] if option.eq_ignore_ascii_case(b"ID") && !ids.is_empty() => {
            let mut entries = Vec::new();
            for id in ids {
                let Some(id) = parse_int(id) else {
                    return Frame::error("ERR Invalid client ID").into();
                };
                if let Some(entry) = u64::try_from(id)
                    .ok()
                    .and_then(|id| ctx.shared.clients.get(id))
                {
                    entries.push(entry);
                }
            }
            entries
        }
        _ => return syntax_error().into(),
    };
    entries.dedup_by_key(|e| e.id);
    let now = Instant::now();
    let own = ctx.session.live_view(super::lookup(b"client"), args, 0, 0);
    let names = Namespaces::of(ctx.shared);
    let mut text = String::new();
    for entry in &entries {
        if entry.id == ctx.session.id {
            client_line(&mut text, entry, &own, &names, now);
        } else {
            client_line(&mut text, entry, &entry.view(), &names, now);
        }
    }
    Frame::verbatim_text(text).into()
}

/// Whether connections of this `TYPE` filter are ours (all are `normal`); an error for a type
/// Redis does not know.
fn client_type(kind: &[u8]) -> Result<bool, Frame> {
    match kind.to_ascii_lowercase().as_slice() {
        b"normal" => Ok(true),
        b"master" | b"replica" | b"slave" | b"pubsub" => Ok(false),
        _ => Err(Frame::error(format!(
            "ERR Unknown client type '{}'",
            printable(kind)
        ))),
    }
}

/// `CLIENT KILL addr:port` (closes that connection, even this one; `+OK` or `No such client`)
/// or `CLIENT KILL <filter> <value> ...` (closes every match except this connection unless
/// `SKIPME no`; replies how many).
fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Outcome {
    let old_form = args.len() == 3;
    let mut filter = KillFilter {
        skip_me: !old_form,
        ..KillFilter::default()
    };
    if old_form {
        filter.addr = Some(args[2].clone());
    } else {
        let mut rest = &args[2..];
        while let [option, value, tail @ ..] = rest {
            match option.to_ascii_lowercase().as_slice() {
                b"id" => match parse_int(value).filter(|&id| id > 0) {
                    Some(id) => filter.id = Some(id as u64),
                    None => return Frame::error("ERR client-id should be greater than 0").into(),
                },
                b"type" => match client_type(value) {
                    Ok(normal) => filter.no_type_match |= !normal,
                    Err(e) => return e.into(),
                },
                b"addr" => filter.addr = Some(value.clone()),
                b"laddr" => filter.laddr = Some(value.clone()),
                b"user" if value.as_ref() == b"default" => {}
                b"user" => {
                    return Frame::error(format!("ERR No such user '{}'", printable(value))).into()
                }
                b"skipme" => match value.to_ascii_lowercase().as_slice() {
                    b"yes" => filter.skip_me = true,
                    b"no" => filter.skip_me = false,
                    _ => return syntax_error().into(),
                },
                _ => return syntax_error().into(),
            }
            rest = tail;
        }
        if !rest.is_empty() {
            return syntax_error().into();
        }
    }
    let own_id = ctx.session.id;
    let mut killed = 0;
    for entry in ctx.shared.clients.all() {
        if !filter.matches(&entry) || (filter.skip_me && entry.id == own_id) {
            continue;
        }
        if entry.id == own_id {
            // Closes after this reply, like QUIT.
            ctx.session.closing = true;
        } else {
            entry.kill();
        }
        killed += 1;
    }
    if !old_form {
        return Frame::integer(killed).into();
    }
    if killed == 0 {
        Frame::error("ERR No such client").into()
    } else {
        Frame::ok().into()
    }
}

/// The filters of `CLIENT KILL`; a connection must match all that are given.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    /// A `TYPE` that no connection of ours has (master, replica, pubsub).
    no_type_match: bool,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, entry: &ClientEntry) -> bool {
        !self.no_type_match
            && self.id.is_none_or(|id| id == entry.id)
            && self
                .addr
                .as_ref()
                .is_none_or(|a| a.as_ref() == entry.addr.to_string().as_bytes())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| a.as_ref() == entry.laddr.to_string().as_bytes())
    }
}

/// One line of `CLIENT LIST` / `CLIENT INFO`, in Redis 7.2's field order, then kvorum's
/// `consistency=` (the connection's setting, `default` when it follows the namespace) and
/// `ns=` (its namespace's name, empty if the namespace was dropped). `db=` is the db index
/// `SELECT` takes to the connection's namespace, `-1` if none does: a client that reconnects to
/// `db=` lands in the same namespace, and one that parses it as an integer still can.
fn client_line(
    out: &mut String,
    entry: &ClientEntry,
    view: &ClientView,
    names: &Namespaces,
    now: Instant,
) {
    let text = |b: &Option<Bytes>| b.as_deref().map(printable).unwrap_or_default();
    let mut flags = String::new();
    if view.no_evict {
        flags.push('e');
    }
    if view.no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let command = match (view.command, &view.subcommand) {
        (Some(name), Some(sub)) => format!("{name}|{}", printable(sub).to_ascii_lowercase()),
        (Some(name), None) => name.to_owned(),
        (None, _) => "NULL".to_owned(),
    };
    let consistency = match view.consistency.to_string() {
        s if s.is_empty() => "default".to_owned(),
        s => s.replace(' ', ","),
    };
    let place = names.get(NamespaceId(view.db));
    let db = place.as_ref().and_then(|p| p.db).map_or(-1, i64::from);
    let ns = place.map(|p| p.name).unwrap_or_default();
    let _ = writeln!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db={} sub=0 psub=0 \
         ssub=0 multi=-1 qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp=0 obl=0 oll=0 \
         omem=0 tot-mem={} events=r cmd={command} user=default redir=-1 resp={} lib-name={} \
         lib-ver={} consistency={consistency} ns={ns}",
        entry.id,
        entry.addr,
        entry.laddr,
        entry.fd,
        text(&view.name),
        now.saturating_duration_since(entry.created).as_secs(),
        now.saturating_duration_since(view.last_active).as_secs(),
        db,
        view.qbuf,
        view.qbuf_free,
        view.argv_mem,
        view.qbuf + view.qbuf_free,
        view.qbuf + view.qbuf_free + view.argv_mem,
        view.resp,
        text(&view.lib_name),
        text(&view.lib_ver),
    );
}

/// Where namespaces sit, from one snapshot of the catalog: each namespace's name and the db
/// index `SELECT` takes to it, as [`crate::catalog::NamespaceCatalog::select`] resolves it
/// (the db's usable owner, else the bare namespace of that number). Built once per `CLIENT
/// LIST` or `INFO keyspace`, so a reply lists every line against the same catalog.
pub(super) struct Namespaces {
    /// Live, usable created namespaces (and `default` once altered): name and db index.
    created: HashMap<NamespaceId, (String, Option<u32>)>,
    /// Db indexes a created namespace owns: the bare namespace of that number is hidden.
    owned_dbs: HashSet<u32>,
    databases: u32,
}

/// One namespace as [`Namespaces::get`] describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Place {
    /// Its catalog name; `db<n>` for the bare namespace of db `n`.
    pub name: String,
    /// The db index `SELECT` takes to it, if any.
    pub db: Option<u32>,
    /// A bare db's namespace (no catalog entry, `default`'s policy).
    pub bare: bool,
}

impl Namespaces {
    pub fn of(shared: &crate::session::Shared) -> Namespaces {
        Namespaces::new(&shared.catalog.snapshot(), shared.catalog.databases)
    }

    pub fn new(catalog: &Catalog, databases: u32) -> Namespaces {
        let mut created = HashMap::new();
        let mut owned_dbs = HashSet::new();
        for r in catalog.resolved() {
            // `SELECT` follows a db's owner whether or not it is usable (as `db_owner` does).
            if let Some(db) = r.db {
                owned_dbs.insert(db);
            }
            if r.usable {
                created.insert(r.def.id, (r.name.to_owned(), r.db));
            }
        }
        Namespaces {
            created,
            owned_dbs,
            databases,
        }
    }

    /// Every namespace `INFO keyspace` names when it holds keys, in id order: `default`, the
    /// bare namespace of each db no created namespace is mapped to, and every usable created
    /// namespace.
    pub fn listed(&self) -> Vec<NamespaceId> {
        let bare = (0..self.databases)
            .filter(|db| !self.owned_dbs.contains(db))
            .map(NamespaceId);
        let created = self.created.keys().copied();
        let mut ids: Vec<NamespaceId> = bare.chain(created).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The namespace with id `ns`; `None` if it no longer exists (dropped, or lost its id).
    pub fn get(&self, ns: NamespaceId) -> Option<Place> {
        if ns == NamespaceId::DEFAULT {
            return Some(Place {
                name: DEFAULT_NAME.to_owned(),
                db: Some(0),
                bare: false,
            });
        }
        if let Some((name, db)) = self.created.get(&ns) {
            return Some(Place {
                name: name.clone(),
                db: *db,
                bare: false,
            });
        }
        (ns.0 < self.databases && ns.0 < FIRST_CREATED_ID).then(|| Place {
            name: format!("db{}", ns.0),
            db: (!self.owned_dbs.contains(&ns.0)).then_some(ns.0),
            bare: true,
        })
    }
}

fn check_client_name(name: &[u8]) -> Result<(), Frame> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kvorum_consistency::catalog::{NamespaceDef, Stamp};
    use kvorum_consistency::{NamespacePolicy, Timestamp};
    use kvorum_ring::NodeId;

    fn stamp(ms: u64) -> Stamp {
        Stamp {
            at: Timestamp {
                physical_ms: ms,
                logical: 0,
            },
            node: NodeId(1),
        }
    }

    fn def(db: Option<u32>) -> NamespaceDef {
        NamespaceDef {
            id: NamespaceId(0),
            db,
            policy: NamespacePolicy::new(3),
            ttl_s: None,
            created: stamp(0),
        }
    }

    fn place(name: &str, db: Option<u32>, bare: bool) -> Option<Place> {
        Some(Place {
            name: name.to_owned(),
            db,
            bare,
        })
    }

    /// What `CLIENT LIST` shows as `ns=`/`db=` and `INFO keyspace` as a line's name: the db
    /// `SELECT` takes to each namespace.
    #[test]
    fn namespaces_show_the_db_select_takes_to_them() {
        let mut catalog = Catalog::new();
        let sessions = catalog.create("sessions", def(Some(3)), stamp(1)).unwrap();
        let scratch = catalog.create("scratch", def(None), stamp(2)).unwrap();
        let names = Namespaces::new(&catalog, 16);
        assert_eq!(
            names.get(NamespaceId::DEFAULT),
            place("default", Some(0), false)
        );
        assert_eq!(names.get(sessions), place("sessions", Some(3), false));
        assert_eq!(names.get(scratch), place("scratch", None, false));
        // Db 3's bare namespace is hidden behind `sessions`; db 5 has none mapped.
        assert_eq!(names.get(NamespaceId(3)), place("db3", None, true));
        assert_eq!(names.get(NamespaceId(5)), place("db5", Some(5), true));
        assert_eq!(names.get(NamespaceId(16)), None);
        // INFO keyspace counts `default`, every db's bare namespace but the hidden one, and
        // every created namespace.
        let listed = names.listed();
        assert_eq!(listed.len(), 16 - 1 + 2);
        assert!([NamespaceId::DEFAULT, NamespaceId(5), sessions, scratch]
            .iter()
            .all(|ns| listed.contains(ns)));
        assert!(!listed.contains(&NamespaceId(3)));

        catalog.drop_namespace("sessions", stamp(3)).unwrap();
        let names = Namespaces::new(&catalog, 16);
        assert_eq!(names.get(sessions), None);
        assert_eq!(names.get(NamespaceId(3)), place("db3", Some(3), true));
    }

    #[test]
    fn client_subcommand_help_names_every_subcommand() {
        for (name, _) in CLIENT_SUBCOMMANDS {
            let upper = name.to_ascii_uppercase();
            assert!(
                CLIENT_HELP.iter().any(|line| line.starts_with(&upper)),
                "{name}"
            );
        }
    }
}
