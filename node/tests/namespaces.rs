//! Namespaces as cluster metadata: created on one node, seen on every node, kept across
//! restarts of every node, and enforcing their policy (defaults, floors, availability under a
//! partition).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{encode, raw, TestCluster};

/// Runs several commands on one connection to node `i` and returns every reply, as text.
fn session(cluster: &TestCluster, i: usize, commands: &[&[&str]]) -> String {
    let mut wire = Vec::new();
    for command in commands {
        wire.extend(encode(command));
    }
    String::from_utf8_lossy(&raw(cluster.nodes[i].resp, &wire).unwrap_or_default()).into_owned()
}

/// Retries `commands` on node `i` until the last reply line block contains `expect`.
fn eventually_session(
    cluster: &TestCluster,
    i: usize,
    commands: &[&[&str]],
    expect: &str,
) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reply = session(cluster, i, commands);
        if reply.contains(expect) {
            return reply;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node {}: {commands:?} kept answering {reply:?}",
            cluster.nodes[i].id
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn namespaces_spread_survive_restarts_and_enforce_their_policy() {
    let mut cluster = TestCluster::start(3, 3);
    let create = session(
        &cluster,
        0,
        &[
            &[
                "NAMESPACE",
                "CREATE",
                "sessions",
                "N",
                "3",
                "MODE",
                "eventual",
                "W",
                "1",
                "DB",
                "1",
            ],
            &[
                "NAMESPACE",
                "CREATE",
                "accounts",
                "N",
                "3",
                "MODE",
                "strong",
                "MIN_W",
                "2",
                "DB",
                "2",
            ],
        ],
    );
    assert_eq!(create, "+OK\r\n+OK\r\n");
    // N above what the layout places is refused with the reason.
    let refused = cluster.command(0, &["NAMESPACE", "CREATE", "wide", "N", "4"], None);
    assert!(refused.contains("N=4 is above 3"), "{refused}");

    // Every node learns both.
    for i in 0..3 {
        eventually_session(&cluster, i, &[&["NAMESPACE", "INFO", "accounts"]], "strong");
        eventually_session(
            &cluster,
            i,
            &[&["NAMESPACE", "INFO", "sessions"]],
            "eventual",
        );
        let list = cluster.command(i, &["NAMESPACE", "LIST"], None);
        assert!(
            list.contains("accounts") && list.contains("sessions") && list.contains("default"),
            "{list}"
        );
    }

    // The floor refuses a weaker per-command setting, naming it.
    let floor = session(
        &cluster,
        1,
        &[
            &["NAMESPACE", "USE", "accounts"],
            &["WITH", "W=1", "--", "SET", "k", "v"],
        ],
    );
    assert!(floor.contains("min_w=2"), "{floor}");
    // SELECT maps db 2 to accounts: the same floor applies there.
    let floor = session(
        &cluster,
        1,
        &[&["SELECT", "2"], &["WITH", "W=1", "--", "SET", "k", "v"]],
    );
    assert!(floor.contains("min_w=2"), "{floor}");
    let ok = session(
        &cluster,
        1,
        &[&["NAMESPACE", "USE", "accounts"], &["SET", "balance", "10"]],
    );
    assert_eq!(ok, "+OK\r\n+OK\r\n");
    // Keys are per namespace: db 1 is sessions, and accounts' key is not there.
    let read = session(
        &cluster,
        2,
        &[
            &["SELECT", "1"],
            &["SET", "token", "t1"],
            &["GET", "balance"],
            &["NAMESPACE", "USE", "sessions"],
            &["GET", "token"],
        ],
    );
    assert_eq!(read, "+OK\r\n+OK\r\n$-1\r\n+OK\r\n$2\r\nt1\r\n");

    // Restart every node: the catalog (and the data) are still there.
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.restart(i);
    }
    cluster.wait_connected();
    for i in 0..3 {
        let info = cluster.command(i, &["NAMESPACE", "INFO", "accounts"], None);
        assert!(info.contains("strong"), "node {i}: {info}");
        eventually_session(
            &cluster,
            i,
            &[&["NAMESPACE", "USE", "accounts"], &["GET", "balance"]],
            "$2\r\n10\r\n",
        );
    }

    // Node 3 alone (nodes 1 and 2 paused): sessions (eventual, W=1) keeps writing, accounts
    // (strong) is unavailable there.
    cluster.pause(0, true);
    cluster.pause(1, true);
    eventually_session(
        &cluster,
        2,
        &[&["NAMESPACE", "USE", "accounts"], &["SET", "balance", "20"]],
        "-UNAVAILABLE",
    );
    let sessions = session(
        &cluster,
        2,
        &[&["NAMESPACE", "USE", "sessions"], &["SET", "token", "t2"]],
    );
    assert_eq!(sessions, "+OK\r\n+OK\r\n");
    let accounts = session(
        &cluster,
        2,
        &[&["NAMESPACE", "USE", "accounts"], &["SET", "balance", "30"]],
    );
    assert!(accounts.starts_with("+OK\r\n-UNAVAILABLE"), "{accounts}");
    cluster.pause(0, false);
    cluster.pause(1, false);
}

#[test]
fn drop_is_refused_while_non_empty_and_force_removes_the_namespace_everywhere() {
    let cluster = TestCluster::start(3, 3);
    assert_eq!(
        session(
            &cluster,
            0,
            &[
                &["NAMESPACE", "CREATE", "carts", "DB", "3"],
                &["NAMESPACE", "USE", "carts"],
                &["SET", "c1", "x"],
            ],
        ),
        "+OK\r\n+OK\r\n+OK\r\n"
    );
    let refused = cluster.command(0, &["NAMESPACE", "DROP", "carts"], None);
    assert!(refused.contains("not empty"), "{refused}");
    let refused = cluster.command(0, &["NAMESPACE", "DROP", "default"], None);
    assert!(refused.starts_with("-ERR"), "{refused}");
    // ALTER changes the policy everywhere; a floor above the default is refused.
    assert_eq!(
        cluster.command(1, &["NAMESPACE", "ALTER", "carts", "MIN_R", "2"], None),
        "+OK\r\n"
    );
    let refused = cluster.command(1, &["NAMESPACE", "ALTER", "carts", "MIN_W", "3"], None);
    assert!(refused.contains("min_w=3"), "{refused}");
    eventually_session(
        &cluster,
        2,
        &[&["SELECT", "3"], &["WITH", "R=1", "--", "GET", "c1"]],
        "min_r=2",
    );

    assert_eq!(
        cluster.command(1, &["NAMESPACE", "DROP", "carts", "FORCE"], None),
        "+OK\r\n"
    );
    for i in 0..3 {
        eventually_session(
            &cluster,
            i,
            &[&["NAMESPACE", "INFO", "carts"]],
            "no such namespace",
        );
    }
    // Db 3 is a bare database again, and a new `carts` starts empty.
    assert_eq!(
        session(
            &cluster,
            2,
            &[
                &["NAMESPACE", "CREATE", "carts"],
                &["NAMESPACE", "USE", "carts"],
                &["GET", "c1"],
            ],
        ),
        "+OK\r\n+OK\r\n$-1\r\n"
    );
}

/// How many nodes hold their own copy of `key` in namespace `ns`.
fn copies(cluster: &TestCluster, ns: &str, key: &str) -> usize {
    (0..cluster.nodes.len())
        .filter(|&i| {
            let reply = session(
                cluster,
                i,
                &[&["NAMESPACE", "USE", ns], &["REPLICA", "GET", key]],
            );
            assert!(reply.starts_with("+OK\r\n"), "{reply}");
            reply != "+OK\r\n$-1\r\n"
        })
        .count()
}

#[test]
fn each_namespace_keeps_its_own_n_and_n_changes_only_while_empty() {
    let cluster = TestCluster::start(3, 3);
    assert_eq!(
        session(
            &cluster,
            0,
            &[
                &["NAMESPACE", "CREATE", "single", "N", "1"],
                &["NAMESPACE", "CREATE", "pair", "N", "2", "MODE", "quorum"],
                &["NAMESPACE", "CREATE", "spare", "N", "1"],
            ],
        ),
        "+OK\r\n+OK\r\n+OK\r\n"
    );
    for i in 0..3 {
        for ns in ["single", "pair", "spare"] {
            eventually_session(&cluster, i, &[&["NAMESPACE", "INFO", ns]], ns);
        }
    }
    let info = cluster.command(1, &["NAMESPACE", "INFO", "pair"], None);
    assert!(info.contains("\r\nn\r\n:2\r\n"), "{info}");
    // Written through one node, read through another; each key is stored on exactly N nodes
    // (the writes of both namespaces wait for all their N replicas).
    for (ns, n) in [("single", 1), ("pair", 2)] {
        for k in 0..12 {
            let key = format!("k{k}");
            assert_eq!(
                session(
                    &cluster,
                    0,
                    &[
                        &["NAMESPACE", "USE", ns],
                        &["WITH", "ALL", "--", "SET", &key, ns]
                    ],
                ),
                "+OK\r\n+OK\r\n",
                "{ns} {key}"
            );
            let read = session(&cluster, 2, &[&["NAMESPACE", "USE", ns], &["GET", &key]]);
            assert_eq!(read, format!("+OK\r\n${}\r\n{ns}\r\n", ns.len()));
            assert_eq!(copies(&cluster, ns, &key), n, "{ns} {key}");
        }
    }
    // N may not change under keys: they would be left on the wrong number of replicas.
    let refused = cluster.command(1, &["NAMESPACE", "ALTER", "single", "N", "3"], None);
    assert!(
        refused.contains("cannot change while it holds keys"),
        "{refused}"
    );
    let info = cluster.command(1, &["NAMESPACE", "INFO", "single"], None);
    assert!(info.contains("\r\nn\r\n:1\r\n"), "{info}");
    let refused = cluster.command(1, &["NAMESPACE", "ALTER", "default", "N", "2"], None);
    assert!(refused.contains("replication_factor"), "{refused}");
    // An empty namespace may change N, and its next keys take the new N.
    assert_eq!(
        cluster.command(1, &["NAMESPACE", "ALTER", "spare", "N", "3"], None),
        "+OK\r\n"
    );
    for i in 0..3 {
        eventually_session(
            &cluster,
            i,
            &[&["NAMESPACE", "INFO", "spare"]],
            "\r\nn\r\n:3\r\n",
        );
    }
    assert_eq!(
        session(
            &cluster,
            2,
            &[
                &["NAMESPACE", "USE", "spare"],
                &["WITH", "ALL", "--", "SET", "s", "v"]
            ],
        ),
        "+OK\r\n+OK\r\n"
    );
    assert_eq!(copies(&cluster, "spare", "s"), 3);
    // FLUSHALL empties every keyspace: bare databases and namespaces with or without a db.
    assert_eq!(
        session(&cluster, 0, &[&["SELECT", "9"], &["SET", "bare", "v"]]),
        "+OK\r\n+OK\r\n"
    );
    assert_eq!(cluster.command(0, &["FLUSHALL"], None), "+OK\r\n");
    assert_eq!(
        session(&cluster, 2, &[&["SELECT", "9"], &["DBSIZE"]]),
        "+OK\r\n:0\r\n"
    );
    for ns in ["single", "pair", "spare"] {
        assert_eq!(
            session(&cluster, 1, &[&["NAMESPACE", "USE", ns], &["DBSIZE"]]),
            "+OK\r\n:0\r\n",
            "{ns}"
        );
    }
}

/// The integer of a `:n` reply.
fn int(reply: &str) -> i64 {
    reply
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or_else(|_| panic!("not an integer reply: {reply:?}"))
}

#[test]
fn a_namespace_ttl_expires_its_keys_and_its_conflict_policy_shapes_getctx() {
    let cluster = TestCluster::start(3, 3);
    assert_eq!(
        session(
            &cluster,
            0,
            &[
                &["NAMESPACE", "CREATE", "cache", "TTL", "2", "DB", "4"],
                &["NAMESPACE", "CREATE", "plain", "CONFLICT", "lww", "DB", "5"],
                &[
                    "NAMESPACE",
                    "CREATE",
                    "multi",
                    "CONFLICT",
                    "siblings",
                    "DB",
                    "6"
                ],
            ],
        ),
        "+OK\r\n+OK\r\n+OK\r\n"
    );
    for i in 0..3 {
        for ns in ["cache", "plain", "multi"] {
            eventually_session(&cluster, i, &[&["NAMESPACE", "INFO", ns]], ns);
        }
    }
    // Every kind of key written in `cache` gets its TTL; an explicit one wins.
    let reply = session(
        &cluster,
        1,
        &[
            &["SELECT", "4"],
            &["SET", "s", "v"],
            &["SADD", "set", "m"],
            &["INCR", "n"],
            &["SET", "long", "v", "EX", "100"],
            &["TTL", "s"],
            &["TTL", "set"],
            &["TTL", "n"],
            &["TTL", "long"],
        ],
    );
    let lines: Vec<&str> = reply.split("\r\n").collect();
    assert_eq!(&lines[..5], ["+OK", "+OK", ":1", ":1", "+OK"], "{reply}");
    for ttl in &lines[5..8] {
        let ttl = int(ttl);
        assert!((1..=2).contains(&ttl), "{reply}");
    }
    assert!(int(lines[8]) > 90, "{reply}");
    // Through another node, after the TTL: gone.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        session(
            &cluster,
            2,
            &[&["SELECT", "4"], &["EXISTS", "s", "set", "n", "long"]]
        ),
        "+OK\r\n:1\r\n"
    );
    // Clearing the TTL applies to the next writes.
    assert_eq!(
        cluster.command(0, &["NAMESPACE", "ALTER", "cache", "TTL", "0"], None),
        "+OK\r\n"
    );
    eventually_session(
        &cluster,
        2,
        &[&["SELECT", "4"], &["SET", "k", "v"], &["TTL", "k"]],
        "+OK\r\n+OK\r\n:-1\r\n",
    );

    // Two writes with the same (empty) context are concurrent: both are kept as siblings.
    for (db, shown) in [("5", 1), ("6", 2)] {
        let empty = session(&cluster, 0, &[&["SELECT", db], &["GETCTX", "k"]]);
        let token = empty
            .split("\r\n")
            .nth(3)
            .unwrap_or_else(|| panic!("{empty}"))
            .to_owned();
        assert_eq!(
            session(
                &cluster,
                0,
                &[
                    &["SELECT", db],
                    &["SETCTX", "k", &token, "a"],
                    &["SETCTX", "k", &token, "b"],
                ]
            ),
            "+OK\r\n+OK\r\n+OK\r\n"
        );
        // [context, [value, ...]]: the inner array follows the context token.
        let read = session(&cluster, 1, &[&["SELECT", db], &["GETCTX", "k"]]);
        assert_eq!(
            read.split("\r\n").nth(4),
            Some(format!("*{shown}").as_str()),
            "db {db} should show {shown} value(s): {read}"
        );
    }
}
