//! Connection and server commands against real nodes, as Redis clients see them: AUTH (with and
//! without a configured password), HELLO, SELECT, RESET, CLIENT (including KILL), COMMAND,
//! CONFIG, INFO, TIME, PING, ECHO and QUIT, over RESP2 and RESP3; and how CLIENT and INFO
//! keyspace show namespaces.
//!
//! Exact error texts are checked on the wire (raw sockets); structured replies through the
//! `redis` crate, which also shows that a real client connects with a password and RESP3.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;
use support::{encode, raw, TestCluster};

/// Sends commands as one pipeline on a fresh connection; returns everything answered.
fn send(addr: SocketAddr, commands: &[&[&str]]) -> String {
    let wire: Vec<u8> = commands.iter().flat_map(|c| encode(c)).collect();
    String::from_utf8_lossy(&raw(addr, &wire).unwrap()).into_owned()
}

fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn resp3_url(addr: SocketAddr) -> String {
    format!("redis://{addr}/?protocol=resp3")
}

fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap()
}

fn query_err(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let err = cmd.query::<Value>(con).unwrap_err();
    format!(
        "{} {}",
        err.code().unwrap_or("?"),
        err.detail().unwrap_or("")
    )
}

/// `field:value` lines of an INFO reply.
fn info_fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `key=value` pairs of one CLIENT LIST line.
fn client_fields(line: &str) -> HashMap<String, String> {
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn client_list(con: &mut redis::Connection) -> Vec<HashMap<String, String>> {
    let text: String = query(con, &["CLIENT", "LIST"]);
    text.lines().map(client_fields).collect()
}

/// A single node started with `[auth] requirepass`: the test cluster's node, stopped and
/// started again by this test with the password added to its config file.
struct PasswordNode {
    child: Child,
    addr: SocketAddr,
    _cluster: TestCluster,
}

impl PasswordNode {
    fn start(password: &str) -> PasswordNode {
        let mut cluster = TestCluster::start(1, 1);
        cluster.kill(0);
        let path = cluster.nodes[0].config_path.clone();
        let mut config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let mut auth = toml::Table::new();
        auth.insert("requirepass".into(), password.into());
        config.insert("auth".into(), auth.into());
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let log = std::fs::File::create(path.with_file_name("password-node.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kvorum"))
            .arg("server")
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let node = PasswordNode {
            child,
            addr: cluster.nodes[0].resp,
            _cluster: cluster,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = [encode(&["AUTH", password]), encode(&["PING"])].concat();
        while !raw(node.addr, &probe).is_ok_and(|reply| reply.ends_with(b"+PONG\r\n")) {
            assert!(Instant::now() < deadline, "the node did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }
}

impl Drop for PasswordNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_configured_password_must_be_given_before_anything_else() {
    let node = PasswordNode::start("s3cret");
    let addr = node.addr;

    // Refused until AUTH; unknown commands and wrong argument counts are reported as such.
    assert_eq!(
        send(addr, &[&["PING"], &["GET", "k"], &["CLIENT", "ID"]]),
        "-NOAUTH Authentication required.\r\n".repeat(3)
    );
    assert!(send(addr, &[&["NOSUCH"]]).starts_with("-ERR unknown command 'NOSUCH'"));
    assert_eq!(
        send(addr, &[&["GET"]]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    // Wrong passwords and unknown users.
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(send(addr, &[&["AUTH", "nope"]]), wrongpass);
    assert_eq!(send(addr, &[&["AUTH", "s3cret!"]]), wrongpass);
    assert_eq!(send(addr, &[&["AUTH", "alice", "s3cret"]]), wrongpass);
    assert_eq!(
        send(addr, &[&["AUTH", "a", "b", "c"]]),
        "-ERR syntax error\r\n"
    );
    // Both forms of AUTH work, and a later wrong attempt does not log the connection out.
    assert_eq!(
        send(addr, &[&["AUTH", "s3cret"], &["ECHO", "in"]]),
        "+OK\r\n$2\r\nin\r\n"
    );
    assert_eq!(
        send(
            addr,
            &[&["AUTH", "default", "s3cret"], &["AUTH", "x"], &["PING"]]
        ),
        format!("+OK\r\n{wrongpass}+PONG\r\n")
    );
    // HELLO needs AUTH inside it, and then switches protocol in the same step.
    let text = send(addr, &[&["HELLO", "3"]]);
    assert!(
        text.starts_with("-NOAUTH HELLO must be called with the client already authenticated"),
        "{text}"
    );
    assert_eq!(
        send(
            addr,
            &[&["HELLO", "3", "AUTH", "default", "bad"], &["PING"]]
        ),
        format!("{wrongpass}-NOAUTH Authentication required.\r\n")
    );
    let text = send(
        addr,
        &[&["HELLO", "3", "AUTH", "default", "s3cret"], &["GET", "k"]],
    );
    assert!(text.starts_with("%7\r\n"), "{text}");
    assert!(text.ends_with("_\r\n"), "{text}");
    // QUIT is allowed; RESET logs the connection out again.
    assert_eq!(send(addr, &[&["QUIT"], &["PING"]]), "+OK\r\n");
    assert_eq!(
        send(addr, &[&["AUTH", "s3cret"], &["RESET"], &["PING"]]),
        "+OK\r\n+RESET\r\n-NOAUTH Authentication required.\r\n"
    );

    // A real client with the password in its URL, over RESP2 and RESP3.
    for url in [
        format!("redis://:s3cret@{addr}/"),
        format!("redis://default:s3cret@{addr}/?protocol=resp3"),
    ] {
        let mut con = connect(&url);
        assert_eq!(query::<String>(&mut con, &["PING"]), "PONG");
        let config: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "requirepass"]);
        assert_eq!(config["requirepass"], "s3cret");
    }
    assert!(redis::Client::open(format!("redis://:wrong@{addr}/"))
        .unwrap()
        .get_connection()
        .is_err());

    // Refused commands are counted, per command and per error code.
    let mut con = connect(&format!("redis://:s3cret@{addr}/"));
    let info: String = query(&mut con, &["INFO", "commandstats", "errorstats"]);
    let fields = info_fields(&info);
    assert!(fields["cmdstat_get"].contains("rejected_calls=1"), "{info}");
    assert!(fields.contains_key("errorstat_NOAUTH"), "{info}");
    assert!(fields.contains_key("errorstat_WRONGPASS"), "{info}");
}

#[test]
fn without_a_password_auth_behaves_like_the_default_nopass_user() {
    let c = TestCluster::start(1, 1);
    let addr = c.nodes[0].resp;
    assert_eq!(
        send(addr, &[&["AUTH", "anything"]]),
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(send(addr, &[&["AUTH", "default", "anything"]]), "+OK\r\n");
    assert_eq!(
        send(addr, &[&["AUTH", "bob", "anything"]]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let text = send(addr, &[&["HELLO", "3", "AUTH", "default", "x"]]);
    assert!(text.starts_with("%7\r\n"), "{text}");
    let mut con = connect(&c.url(0));
    let config: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "requirepass"]);
    assert_eq!(config["requirepass"], "");
}

#[test]
fn hello_select_reset_ping_echo_time_and_quit() {
    let c = TestCluster::start(1, 1);
    let addr = c.nodes[0].resp;

    // HELLO: a flat array in RESP2, a map in RESP3, with Redis's fields.
    let mut con = connect(&c.url(0));
    let id: i64 = query(&mut con, &["CLIENT", "ID"]);
    let hello: Vec<Value> = query(&mut con, &["HELLO"]);
    assert_eq!(hello.len(), 14);
    let hello: HashMap<String, Value> = query(&mut con, &["HELLO", "2"]);
    let text = |v: &Value| redis::from_redis_value::<String>(v).unwrap();
    assert_eq!(text(&hello["server"]), "kvorum");
    assert_eq!(text(&hello["version"]), "7.2.0");
    assert_eq!(hello["proto"], Value::Int(2));
    assert_eq!(hello["id"], Value::Int(id));
    assert_eq!(text(&hello["mode"]), "standalone");
    assert_eq!(text(&hello["role"]), "master");
    assert_eq!(hello["modules"], Value::Array(vec![]));
    let mut con3 = connect(&resp3_url(addr));
    match query::<Value>(&mut con3, &["HELLO", "3", "SETNAME", "three"]) {
        Value::Map(pairs) => {
            assert_eq!(pairs.len(), 7);
            assert!(pairs.contains(&(Value::BulkString(b"proto".to_vec()), Value::Int(3))));
        }
        other => panic!("HELLO 3 answered {other:?}"),
    }
    assert_eq!(query::<String>(&mut con3, &["CLIENT", "GETNAME"]), "three");
    // PING answers +PONG in RESP3 too.
    assert_eq!(
        query::<Value>(&mut con3, &["PING"]),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(
        send(addr, &[&["HELLO", "4"], &["HELLO", "1"]]),
        "-NOPROTO unsupported protocol version\r\n".repeat(2)
    );
    assert_eq!(
        send(addr, &[&["HELLO", "three"]]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        send(addr, &[&["HELLO", "3", "SETNAME"]]),
        "-ERR Syntax error in HELLO option 'SETNAME'\r\n"
    );

    // SELECT: databases 0 to 15 by default, each its own namespace.
    assert_eq!(
        send(
            addr,
            &[
                &["SELECT", "15"],
                &["SELECT", "16"],
                &["SELECT", "-1"],
                &["SELECT", "x"],
                &["SELECT", "01"]
            ]
        ),
        "+OK\r\n-ERR DB index is out of range\r\n-ERR DB index is out of range\r\n\
         -ERR value is not an integer or out of range\r\n\
         -ERR value is not an integer or out of range\r\n"
    );
    let mut db0 = connect(&c.url(0));
    let mut db1 = connect(&format!("redis://{addr}/1"));
    let _: () = query(&mut db1, &["SET", "shared-name", "in-db1"]);
    assert_eq!(
        query::<Option<String>>(&mut db0, &["GET", "shared-name"]),
        None
    );
    assert_eq!(query::<String>(&mut db1, &["GET", "shared-name"]), "in-db1");
    let info: String = query(&mut db1, &["CLIENT", "INFO"]);
    assert_eq!(client_fields(info.trim_end())["db"], "1");

    // RESET: RESP2, db 0, no name, default consistency, replies on.
    let text = send(
        addr,
        &[
            &["HELLO", "3", "SETNAME", "before"],
            &["SELECT", "3"],
            &["CONSISTENCY", "ONE"],
            &["CLIENT", "SETINFO", "LIB-NAME", "lib"],
            &["RESET"],
            &["CLIENT", "INFO"],
        ],
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("id="))
        .unwrap_or_else(|| panic!("{text}"));
    let fields = client_fields(line);
    assert!(text.contains("+RESET\r\n"), "{text}");
    assert_eq!(fields["resp"], "2");
    assert_eq!(fields["db"], "0");
    assert_eq!(fields["name"], "");
    assert_eq!(fields["consistency"], "default");
    assert_eq!(fields["lib-name"], "lib", "RESET keeps the library name");

    // ECHO, PING with a message, TIME, QUIT.
    assert_eq!(send(addr, &[&["ECHO", "hi"]]), "$2\r\nhi\r\n");
    assert_eq!(send(addr, &[&["PING", "x"]]), "$1\r\nx\r\n");
    assert_eq!(
        send(addr, &[&["PING", "x", "y"]]),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    let (secs, micros): (String, String) = query(&mut con, &["TIME"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.parse::<u64>().unwrap().abs_diff(now) <= 5);
    assert!(micros.parse::<u32>().unwrap() < 1_000_000);
    assert_eq!(send(addr, &[&["QUIT"], &["PING"]]), "+OK\r\n");
}

#[test]
fn client_names_info_list_and_reply_modes() {
    let c = TestCluster::start(1, 1);
    let addr = c.nodes[0].resp;
    let mut a = connect(&c.url(0));
    let mut b = connect(&resp3_url(addr));
    let a_id: i64 = query(&mut a, &["CLIENT", "ID"]);
    let b_id: i64 = query(&mut b, &["CLIENT", "ID"]);
    assert_ne!(a_id, b_id);

    assert_eq!(
        query::<Option<String>>(&mut a, &["CLIENT", "GETNAME"]),
        None
    );
    let _: () = query(&mut a, &["CLIENT", "SETNAME", "worker-a"]);
    assert_eq!(query::<String>(&mut a, &["CLIENT", "GETNAME"]), "worker-a");
    assert_eq!(
        query_err(&mut a, &["CLIENT", "SETNAME", "has space"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let _: () = query(&mut a, &["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]);
    assert_eq!(
        query_err(&mut a, &["CLIENT", "SETINFO", "LIB-COLOR", "red"]),
        "ERR Unrecognized option 'LIB-COLOR'"
    );
    assert_eq!(
        query_err(&mut a, &["CLIENT", "SETINFO", "lib-name", "a b"]),
        "ERR lib-name cannot contain spaces, newlines or special characters."
    );
    let _: () = query(&mut b, &["SELECT", "2"]);
    let _: () = query(&mut b, &["CLIENT", "NO-EVICT", "on"]);

    // CLIENT INFO: this connection, in Redis's field order.
    let info: String = query(&mut a, &["CLIENT", "INFO"]);
    assert!(info.starts_with(&format!("id={a_id} addr=")), "{info}");
    assert!(info.ends_with('\n'));
    let fields = client_fields(info.trim_end());
    assert_eq!(fields["name"], "worker-a");
    assert_eq!(fields["lib-ver"], "1.2.3");
    assert_eq!(fields["lib-name"], "redis-rs");
    assert_eq!(fields["cmd"], "client|info");
    assert_eq!(fields["user"], "default");
    assert_eq!(fields["flags"], "N");
    assert_eq!(fields["resp"], "2");
    let order: Vec<&str> = info
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        &order[..12],
        [
            "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
            "ssub"
        ]
    );

    // CLIENT LIST: every connection, with what the others last did.
    let list = client_list(&mut a);
    let me = list.iter().find(|f| f["id"] == a_id.to_string()).unwrap();
    let other = list.iter().find(|f| f["id"] == b_id.to_string()).unwrap();
    assert_eq!(me["cmd"], "client|list");
    assert_eq!(other["db"], "2");
    assert_eq!(other["resp"], "3");
    assert_eq!(other["flags"], "e");
    assert_eq!(other["cmd"], "client|no-evict");
    assert_eq!(other["laddr"], addr.to_string());
    // The other connection's name shows as soon as it is set.
    let _: () = query(&mut b, &["CLIENT", "SETNAME", "worker-b"]);
    let list = client_list(&mut a);
    assert!(list.iter().any(|f| f["name"] == "worker-b"), "{list:?}");
    // Filters.
    let only_b: String = query(
        &mut a,
        &["CLIENT", "LIST", "ID", &b_id.to_string(), "99999"],
    );
    assert_eq!(only_b.lines().count(), 1);
    assert!(only_b.starts_with(&format!("id={b_id} ")));
    let normal: String = query(&mut a, &["CLIENT", "LIST", "TYPE", "normal"]);
    assert!(normal.lines().count() >= 2);
    let pubsub: String = query(&mut a, &["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub, "");
    assert_eq!(
        query_err(&mut a, &["CLIENT", "LIST", "TYPE", "odd"]),
        "ERR Unknown client type 'odd'"
    );
    assert_eq!(
        query_err(&mut a, &["CLIENT", "LIST", "ID", "x"]),
        "ERR Invalid client ID"
    );
    // RESP3: CLIENT INFO is verbatim text.
    match query::<Value>(&mut b, &["CLIENT", "INFO"]) {
        Value::VerbatimString { text, .. } => assert!(text.contains("name=worker-b")),
        other => panic!("CLIENT INFO answered {other:?}"),
    }

    // Unknown subcommands and wrong arity, with Redis's texts.
    assert_eq!(
        send(
            addr,
            &[
                &["CLIENT", "PAUSE", "10"],
                &["CLIENT", "ID", "x"],
                &["CLIENT"]
            ]
        ),
        "-ERR unknown subcommand 'PAUSE'. Try CLIENT HELP.\r\n\
         -ERR wrong number of arguments for 'client|id' command\r\n\
         -ERR wrong number of arguments for 'client' command\r\n"
    );
    let help: Vec<String> = query(&mut a, &["CLIENT", "HELP"]);
    assert!(help.iter().any(|l| l.starts_with("KILL")));

    // CLIENT REPLY: OFF silences until ON; SKIP silences itself and the next command.
    assert_eq!(
        send(
            addr,
            &[
                &["CLIENT", "REPLY", "OFF"],
                &["ECHO", "a"],
                &["CLIENT", "REPLY", "ON"],
                &["ECHO", "b"],
                &["CLIENT", "REPLY", "SKIP"],
                &["ECHO", "c"],
                &["ECHO", "d"],
                &["CLIENT", "REPLY", "MAYBE"],
            ]
        ),
        "+OK\r\n$1\r\nb\r\n$1\r\nd\r\n-ERR syntax error\r\n"
    );
}

#[test]
fn client_kill_closes_the_chosen_connections() {
    let c = TestCluster::start(1, 1);
    let addr = c.nodes[0].resp;
    let mut killer = connect(&c.url(0));
    let kill = |con: &mut redis::Connection, args: &[&str]| -> i64 {
        let mut full = vec!["CLIENT", "KILL"];
        full.extend(args);
        query(con, &full)
    };
    let id_of = |con: &mut redis::Connection| -> i64 { query(con, &["CLIENT", "ID"]) };
    let addr_of = |con: &mut redis::Connection| -> String {
        let info: String = query(con, &["CLIENT", "INFO"]);
        client_fields(info.trim_end())["addr"].clone()
    };
    let assert_closed = |con: &mut redis::Connection| {
        assert!(
            redis::cmd("PING").query::<String>(con).is_err(),
            "the connection should be closed"
        );
    };

    // By id.
    let mut victim = connect(&c.url(0));
    let victim_id = id_of(&mut victim);
    assert_eq!(kill(&mut killer, &["ID", &victim_id.to_string()]), 1);
    assert_closed(&mut victim);
    let list = client_list(&mut killer);
    assert!(list.iter().all(|f| f["id"] != victim_id.to_string()));
    // Killing it again finds nothing.
    assert_eq!(kill(&mut killer, &["ID", &victim_id.to_string()]), 0);

    // By address, new and old form.
    let mut victim = connect(&c.url(0));
    let victim_addr = addr_of(&mut victim);
    assert_eq!(
        kill(&mut killer, &["ADDR", &victim_addr, "SKIPME", "yes"]),
        1
    );
    assert_closed(&mut victim);
    let mut victim = connect(&c.url(0));
    let victim_addr = addr_of(&mut victim);
    let _: () = query(&mut killer, &["CLIENT", "KILL", &victim_addr]);
    assert_closed(&mut victim);
    assert_eq!(
        query_err(&mut killer, &["CLIENT", "KILL", &victim_addr]),
        "ERR No such client"
    );

    // Filters are combined; this connection is skipped unless SKIPME no.
    let mut victim = connect(&c.url(0));
    let own_id = id_of(&mut killer).to_string();
    let laddr = addr.to_string();
    assert_eq!(kill(&mut killer, &["ID", &own_id, "LADDR", &laddr]), 0);
    assert_eq!(kill(&mut killer, &["TYPE", "pubsub"]), 0);
    assert!(kill(&mut killer, &["LADDR", &laddr, "USER", "default"]) >= 1);
    assert_closed(&mut victim);
    assert_eq!(query::<String>(&mut killer, &["PING"]), "PONG");

    // Errors.
    for (args, error) in [
        (vec!["ID", "0"], "ERR client-id should be greater than 0"),
        (vec!["ID", "x"], "ERR client-id should be greater than 0"),
        (vec!["USER", "alice"], "ERR No such user 'alice'"),
        (vec!["TYPE", "odd"], "ERR Unknown client type 'odd'"),
        (vec!["SKIPME", "maybe"], "ERR syntax error"),
        (vec!["COLOR", "red"], "ERR syntax error"),
        (vec!["ID", "1", "ADDR"], "ERR syntax error"),
    ] {
        let mut full = vec!["CLIENT", "KILL"];
        full.extend(args);
        assert_eq!(query_err(&mut killer, &full), error);
    }

    // A connection may kill itself: it gets its answer, then is closed.
    assert_eq!(
        send(
            addr,
            &[
                &["CLIENT", "KILL", "SKIPME", "no", "ID", "1000000"],
                &["PING"]
            ]
        ),
        ":0\r\n+PONG\r\n"
    );
    let text = send(
        addr,
        &[
            &["CLIENT", "KILL", "LADDR", &laddr, "SKIPME", "no"],
            &["PING"],
        ],
    );
    assert!(text.starts_with(':') && !text.contains("PONG"), "{text}");
}

#[test]
fn command_describes_the_command_table() {
    let c = TestCluster::start(1, 1);
    let mut con = connect(&c.url(0));
    let count: i64 = query(&mut con, &["COMMAND", "COUNT"]);
    let all: Vec<Value> = query(&mut con, &["COMMAND"]);
    assert_eq!(all.len() as i64, count);
    let names: Vec<String> = query(&mut con, &["COMMAND", "LIST"]);
    assert_eq!(names.len() as i64, count);
    for name in [
        "get", "auth", "hello", "reset", "client", "config", "info", "time",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }

    // COMMAND INFO: Redis 7's ten fields; nil for an unknown command.
    let info: Vec<Value> = query(&mut con, &["COMMAND", "INFO", "get", "nosuch", "MSET"]);
    let Value::Array(get) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(get[3..6], [Value::Int(1), Value::Int(1), Value::Int(1)]);
    let categories: Vec<String> = redis::from_redis_value(&get[6]).unwrap();
    assert!(categories.contains(&"@string".to_owned()), "{categories:?}");
    assert_eq!(info[1], Value::Nil);
    assert!(matches!(&info[2], Value::Array(a) if a[1] == Value::Int(-3)));

    // COMMAND DOCS: a map of maps, in RESP2 as in RESP3.
    let docs: HashMap<String, HashMap<String, String>> =
        query(&mut con, &["COMMAND", "DOCS", "get", "client", "nosuch"]);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs["get"]["group"], "string");
    assert_eq!(docs["get"]["since"], "1.0.0");
    assert!(!docs["get"]["summary"].is_empty());
    assert!(docs["client"].contains_key("complexity"));
    let mut con3 = connect(&resp3_url(c.nodes[0].resp));
    let every: HashMap<String, HashMap<String, Value>> = query(&mut con3, &["COMMAND", "DOCS"]);
    assert_eq!(every.len() as i64, count);
    // Every command, kvorum's own included, has a summary.
    for (name, doc) in &every {
        let summary: String = redis::from_redis_value(&doc["summary"]).unwrap();
        assert!(!summary.is_empty(), "{name}");
    }
    // kvorum's own commands list their subcommands and arguments, as Redis's shapes.
    let subs: HashMap<String, HashMap<String, Value>> =
        redis::from_redis_value(&every["namespace"]["subcommands"]).unwrap();
    assert!(subs.contains_key("namespace|create"), "{subs:?}");
    assert!(subs["namespace|use"].contains_key("arguments"));
    let args: Vec<HashMap<String, Value>> =
        redis::from_redis_value(&every["setctx"]["arguments"]).unwrap();
    let names: Vec<String> = args
        .iter()
        .map(|a| redis::from_redis_value(&a["name"]).unwrap())
        .collect();
    assert_eq!(names, ["key", "context", "value"]);
    let admin: HashMap<String, Value> = query(&mut con, &["COMMAND", "DOCS", "admin"]);
    assert!(admin.contains_key("admin"));

    // Filters and key extraction.
    let client_like: Vec<String> =
        query(&mut con, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "c*"]);
    assert!(client_like.contains(&"client".to_owned()));
    assert!(client_like.iter().all(|n| n.starts_with('c')));
    let connection: Vec<String> = query(
        &mut con,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"],
    );
    assert!(connection.contains(&"hello".to_owned()));
    assert!(!connection.contains(&"get".to_owned()));
    let keys: Vec<String> = query(
        &mut con,
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
    );
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(
        query_err(&mut con, &["COMMAND", "GETKEYS", "PING"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        query_err(&mut con, &["COMMAND", "GETKEYS", "NOSUCH", "a"]),
        "ERR Invalid command specified"
    );
    assert_eq!(
        query_err(&mut con, &["COMMAND", "GETKEYS", "GET", "a", "b"]),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        query_err(&mut con, &["COMMAND", "FROB"]),
        "ERR unknown subcommand 'FROB'. Try COMMAND HELP."
    );
}

#[test]
fn config_get_set_and_resetstat() {
    let c = TestCluster::start(1, 1);
    let port = c.nodes[0].resp.port().to_string();
    let mut con = connect(&c.url(0));
    let one: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(one, HashMap::from([("maxmemory".into(), "0".into())]));
    let several: HashMap<String, String> = query(
        &mut con,
        &["CONFIG", "GET", "PORT", "databases", "save", "appendonly"],
    );
    assert_eq!(several["port"], port);
    assert_eq!(several["databases"], "16");
    assert_eq!(several["save"], "");
    assert_eq!(several["appendonly"], "yes");
    let globbed: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "max*"]);
    assert_eq!(globbed["maxclients"], "10000");
    assert_eq!(globbed["maxmemory-policy"], "noeviction");
    assert!(globbed.keys().all(|k| k.starts_with("max")));
    let everything: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "*"]);
    for name in [
        "bind",
        "timeout",
        "proto-max-bulk-len",
        "client-query-buffer-limit",
        "cluster-enabled",
    ] {
        assert!(everything.contains_key(name), "{name}");
    }
    let none: HashMap<String, String> = query(&mut con, &["CONFIG", "GET", "nosuch"]);
    assert!(none.is_empty());
    // RESP3: a map.
    let mut con3 = connect(&resp3_url(c.nodes[0].resp));
    assert!(matches!(
        query::<Value>(&mut con3, &["CONFIG", "GET", "port"]),
        Value::Map(pairs) if pairs.len() == 1
    ));

    assert_eq!(
        query_err(&mut con, &["CONFIG", "SET", "maxmemory", "1gb"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - can't set immutable config"
    );
    assert_eq!(
        query_err(&mut con, &["CONFIG", "SET", "frobs", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'frobs'"
    );
    assert_eq!(
        query_err(&mut con, &["CONFIG", "SET", "maxmemory", "1", "save"]),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        query_err(&mut con, &["CONFIG", "GET"]),
        "ERR wrong number of arguments for 'config|get' command"
    );

    // RESETSTAT zeroes the counters INFO shows.
    for _ in 0..5 {
        let _: String = query(&mut con, &["PING"]);
    }
    let before = info_fields(&query::<String>(&mut con, &["INFO", "stats"]));
    assert!(before["total_commands_processed"].parse::<u64>().unwrap() >= 5);
    let _: () = query(&mut con, &["CONFIG", "RESETSTAT"]);
    let after = info_fields(&query::<String>(&mut con, &["INFO", "stats"]));
    // Only the INFO call itself since the reset.
    assert_eq!(after["total_commands_processed"], "1");
    assert_eq!(after["total_error_replies"], "0");
}

#[test]
fn info_reports_the_node_its_clients_and_the_cluster() {
    let c = TestCluster::start(3, 3);
    let mut con = connect(&c.url(0));
    let mut other = connect(&c.url(0));
    let _: () = query(&mut other, &["CLIENT", "SETNAME", "other"]);

    let default: String = query(&mut con, &["INFO"]);
    for header in [
        "# Server\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Persistence\r\n",
        "# Stats\r\n",
        "# Replication\r\n",
        "# CPU\r\n",
        "# Errorstats\r\n",
        "# Cluster\r\n",
        "# Keyspace\r\n",
        "# Hints\r\n",
    ] {
        assert!(default.contains(header), "{header} missing:\n{default}");
    }
    assert!(!default.contains("# Commandstats"));
    let f = info_fields(&default);
    assert_eq!(f["redis_version"], "7.2.0");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["tcp_port"], c.nodes[0].resp.port().to_string());
    assert_eq!(f["node_id"], "1");
    assert!(f["connected_clients"].parse::<u64>().unwrap() >= 2);
    assert!(f["used_memory"].parse::<u64>().unwrap() > 0);
    assert!(
        f["used_memory_human"].ends_with('M'),
        "{}",
        f["used_memory_human"]
    );
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert_eq!(f["loading"], "0");
    assert_eq!(f["cluster_enabled"], "0");
    assert!(f["total_connections_received"].parse::<u64>().unwrap() >= 2);
    assert_eq!(f["run_id"].len(), 40);
    assert!(f.contains_key("hints_count"));
    // The cluster view: every peer is up.
    assert_eq!(f["role"], "master");
    assert_eq!(f["replication_factor"], "3");
    assert_eq!(f["cluster_nodes"], "3");
    assert_eq!(f["cluster_peers_up"], "2");
    assert!(
        f["peer_n2"].starts_with("state=up,connected=1"),
        "{}",
        f["peer_n2"]
    );
    assert!(f["peer_n3"].starts_with("state=up"), "{}", f["peer_n3"]);

    // Sections by name, in any case and combination; unknown ones add nothing.
    let two: String = query(&mut con, &["INFO", "CLIENTS", "server"]);
    assert!(
        two.starts_with("# Server\r\n"),
        "sections come in Redis's order"
    );
    assert!(two.contains("\r\n\r\n# Clients\r\n"));
    assert!(!two.contains("# Memory"));
    let nothing: String = query(&mut con, &["INFO", "nosuch"]);
    assert_eq!(nothing, "");
    let all: String = query(&mut con, &["INFO", "all"]);
    assert!(all.contains("# Commandstats\r\ncmdstat_"), "{all}");
    assert!(info_fields(&all)["cmdstat_info"].starts_with("calls="));
    let everything: String = query(&mut con, &["INFO", "everything"]);
    assert!(everything.contains("# Commandstats"));

    // Errors are counted by code.
    let _ = query_err(&mut con, &["SELECT", "99"]);
    let errors = info_fields(&query::<String>(&mut con, &["INFO", "errorstats"]));
    assert!(errors["errorstat_ERR"].starts_with("count="));

    // RESP3: verbatim text.
    let mut con3 = connect(&resp3_url(c.nodes[0].resp));
    match query::<Value>(&mut con3, &["INFO", "server"]) {
        Value::VerbatimString { text, .. } => assert!(text.contains("redis_version:")),
        other => panic!("INFO answered {other:?}"),
    }
}

/// The fields of this connection's `CLIENT INFO`.
fn client_info(con: &mut redis::Connection) -> HashMap<String, String> {
    let text: String = query(con, &["CLIENT", "INFO"]);
    client_fields(text.trim_end())
}

#[test]
fn client_info_and_list_show_the_namespace_by_db_and_name() {
    let c = TestCluster::start(1, 1);
    let mut con = connect(&c.url(0));
    let mut watcher = connect(&c.url(0));
    let id: i64 = query(&mut con, &["CLIENT", "ID"]);
    let _: () = query(&mut con, &["NAMESPACE", "CREATE", "sessions", "DB", "3"]);
    let _: () = query(&mut con, &["NAMESPACE", "CREATE", "scratch"]);

    let text: String = query(&mut con, &["CLIENT", "INFO"]);
    assert!(
        text.trim_end().ends_with(" ns=default"),
        "ns= is the last field: {text}"
    );
    assert_eq!(client_info(&mut con)["db"], "0");

    // SELECT reaches the namespace mapped to the db.
    let _: () = query(&mut con, &["SELECT", "3"]);
    let f = client_info(&mut con);
    assert_eq!((f["db"].as_str(), f["ns"].as_str()), ("3", "sessions"));

    // A namespace without a db index: no SELECT reaches it, so db=-1.
    let _: () = query(&mut con, &["NAMESPACE", "USE", "scratch"]);
    let f = client_info(&mut con);
    assert_eq!((f["db"].as_str(), f["ns"].as_str()), ("-1", "scratch"));
    // Other connections see the same in CLIENT LIST.
    let list = client_list(&mut watcher);
    let seen = list.iter().find(|f| f["id"] == id.to_string()).unwrap();
    assert_eq!(
        (seen["db"].as_str(), seen["ns"].as_str()),
        ("-1", "scratch")
    );
    let me = list.iter().find(|f| f["id"] != id.to_string()).unwrap();
    assert_eq!((me["db"].as_str(), me["ns"].as_str()), ("0", "default"));

    // A db with no namespace mapped is its bare namespace.
    let _: () = query(&mut con, &["SELECT", "5"]);
    let f = client_info(&mut con);
    assert_eq!((f["db"].as_str(), f["ns"].as_str()), ("5", "db5"));
    let _: () = query(&mut con, &["NAMESPACE", "USE", "default"]);
    let f = client_info(&mut con);
    assert_eq!((f["db"].as_str(), f["ns"].as_str()), ("0", "default"));
}

#[test]
fn info_keyspace_lists_every_namespace_that_holds_keys() {
    let c = TestCluster::start(1, 1);
    let mut con = connect(&c.url(0));
    let _: () = query(&mut con, &["NAMESPACE", "CREATE", "sessions", "DB", "3"]);
    let _: () = query(&mut con, &["NAMESPACE", "CREATE", "scratch"]);
    let _: () = query(&mut con, &["NAMESPACE", "CREATE", "empty"]);
    let _: () = query(&mut con, &["SET", "a", "1"]);
    let _: () = query(&mut con, &["SELECT", "3"]);
    let _: () = query(&mut con, &["SET", "b", "1"]);
    let _: () = query(&mut con, &["SET", "c", "1", "EX", "100"]);
    let _: () = query(&mut con, &["NAMESPACE", "USE", "scratch"]);
    for key in ["d", "e", "f"] {
        let _: () = query(&mut con, &["SET", key, "1"]);
    }
    // A db with no namespace mapped: its bare namespace.
    let _: () = query(&mut con, &["SELECT", "5"]);
    let _: () = query(&mut con, &["SET", "g", "1"]);

    let text: String = query(&mut con, &["INFO", "keyspace"]);
    let lines: Vec<&str> = text.lines().collect();
    // By db index, then the namespaces without one by name; empty ones are not listed. (Db 0
    // also holds the test harness's readiness key.)
    assert_eq!(lines.first(), Some(&"# Keyspace"), "{text}");
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("db0:keys=")),
        "{text}"
    );
    assert_eq!(
        lines.get(2..).unwrap_or_default(),
        [
            "db3:keys=2,expires=1,avg_ttl=0",
            "db5:keys=1,expires=0,avg_ttl=0",
            "ns_scratch:keys=3,expires=0,avg_ttl=0",
        ],
        "{text}"
    );
    // Clients that read INFO as `key:value` lines see each namespace.
    let f = info_fields(&text);
    assert_eq!(f["ns_scratch"], "keys=3,expires=0,avg_ttl=0");
}
