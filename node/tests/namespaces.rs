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
    // N other than the cluster's replication factor is refused with the reason.
    let refused = cluster.command(0, &["NAMESPACE", "CREATE", "small", "N", "2"], None);
    assert!(refused.contains("N=2 is not supported yet"), "{refused}");

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
