//! End-to-end: a real 3-node cluster of `kvorum server` processes on loopback.
#![allow(clippy::unwrap_used)]

mod support;

use support::TestCluster;

#[test]
fn a_write_through_one_node_is_read_through_the_others() {
    let c = TestCluster::start(3, 3);
    assert_eq!(c.command(0, &["SET", "greeting", "hello"], None), "+OK\r\n");
    assert_eq!(c.command(1, &["GET", "greeting"], None), "$5\r\nhello\r\n");
    // ALL proves every one of the 3 replicas holds it.
    assert_eq!(
        c.command(2, &["GET", "greeting"], Some("ALL")),
        "$5\r\nhello\r\n"
    );
    assert_eq!(c.command(2, &["GET", "missing"], None), "$-1\r\n");
}

#[test]
fn one_node_down_quorum_still_works_all_is_unavailable_and_the_node_comes_back_with_its_data() {
    let mut c = TestCluster::start(3, 3);
    assert_eq!(
        c.command(0, &["SET", "before", "1"], Some("ALL")),
        "+OK\r\n"
    );

    c.kill(2);
    // QUORUM (2 of 3) keeps working through both surviving nodes.
    assert_eq!(
        c.command(0, &["SET", "during", "2"], Some("QUORUM")),
        "+OK\r\n"
    );
    assert_eq!(
        c.command(1, &["GET", "during"], Some("QUORUM")),
        "$1\r\n2\r\n"
    );
    assert_eq!(
        c.command(1, &["GET", "before"], Some("QUORUM")),
        "$1\r\n1\r\n"
    );
    // Until the failure is noticed an ALL write times out (it may have applied on the two live
    // nodes); once it is noticed, ALL is refused up front: definitely not applied.
    c.eventually(0, &["SET", "probe", "x"], "-UNAVAILABLE", Some("ALL"));
    let reply = c.command(0, &["SET", "refused", "x"], Some("ALL"));
    assert!(
        reply.starts_with("-UNAVAILABLE") && reply.contains("needed 3, reachable 2"),
        "{reply}"
    );
    c.eventually(1, &["GET", "before"], "-UNAVAILABLE", Some("ALL"));
    // The refused write was applied nowhere.
    assert_eq!(c.command(1, &["GET", "refused"], Some("QUORUM")), "$-1\r\n");

    c.restart(2);
    c.eventually(2, &["SET", "after", "3"], "+OK", Some("ALL"));
    // It missed "during" while it was down: the hint the others kept brings it.
    c.eventually(2, &["REPLICA", "GET", "during"], "$1\r\n2\r\n", None);
    // The restarted node serves what it stored before the kill: with the other two stopped,
    // a ONE read at node 3 can only be answered by node 3's own storage.
    c.kill(0);
    c.kill(1);
    c.eventually(2, &["GET", "before"], "$1\r\n1\r\n", Some("ONE"));
    assert_eq!(c.command(2, &["GET", "after"], Some("ONE")), "$1\r\n3\r\n");
    assert_eq!(c.command(2, &["GET", "during"], Some("ONE")), "$1\r\n2\r\n");
}

#[test]
fn a_real_redis_client_works_including_pipelining() {
    let c = TestCluster::start(3, 3);
    let client = redis::Client::open(c.url(0)).unwrap();
    let mut con = client.get_connection().unwrap();

    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET")
            .arg(format!("key:{i}"))
            .arg(format!("value:{i}"))
            .ignore();
    }
    for i in 0..200 {
        pipe.cmd("GET").arg(format!("key:{i}"));
    }
    let values: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(values.len(), 200);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(v, &format!("value:{i}"));
    }

    let other = redis::Client::open(c.url(2)).unwrap();
    let mut con2 = other.get_connection().unwrap();
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut con2)
        .unwrap();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec![Some("1".into()), Some("2".into()), None]);
    let n: i64 = redis::cmd("EXISTS")
        .arg("a")
        .arg("b")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2);
    let n: i64 = redis::cmd("DEL")
        .arg("a")
        .arg("nope")
        .query(&mut con2)
        .unwrap();
    assert_eq!(n, 1);
    let gone: Option<String> = redis::cmd("GET").arg("a").query(&mut con).unwrap();
    assert_eq!(gone, None);

    // Per-connection consistency.
    let level: String = redis::cmd("CONSISTENCY").query(&mut con).unwrap();
    assert!(
        level.starts_with("QUORUM: R=2 W=2 STRICT (mode quorum)"),
        "{level}"
    );
    let _: () = redis::cmd("CONSISTENCY")
        .arg("one")
        .query(&mut con)
        .unwrap();
    let level: String = redis::cmd("CONSISTENCY").query(&mut con).unwrap();
    assert!(
        level.starts_with("ONE: R=1 W=1 STRICT (mode eventual)"),
        "{level}"
    );
    let err = redis::cmd("CONSISTENCY")
        .arg("most")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown consistency level"),
        "{err}"
    );
}

#[test]
fn per_command_consistency_and_its_bounds() {
    let mut c = TestCluster::start(3, 3);
    // Explicit settings, per connection and per command.
    assert_eq!(c.command(0, &["SET", "k", "v"], Some("R=1 W=3")), "+OK\r\n");
    assert_eq!(
        c.command(1, &["WITH", "R=3", "--", "GET", "k"], None),
        "$1\r\nv\r\n"
    );
    assert_eq!(
        c.command(
            1,
            &["WITH", "ALL", "TIMEOUT=500", "--", "MGET", "k", "nope"],
            None
        ),
        "*2\r\n$1\r\nv\r\n$-1\r\n"
    );
    // Bounds are checked when given, with the reason.
    let reply = c.command(0, &["CONSISTENCY", "R=4"], None);
    assert!(reply.starts_with("-ERR R=4 is out of range"), "{reply}");
    let reply = c.command(0, &["WITH", "W=2", "DW=3", "--", "SET", "k", "v"], None);
    assert!(reply.starts_with("-ERR DW=3 is above W=2"), "{reply}");
    let reply = c.command(0, &["WITH", "STRONG", "SLOPPY", "--", "GET", "k"], None);
    assert!(
        reply.starts_with("-ERR invalid consistency argument"),
        "{reply}"
    );
    let reply = c.command(0, &["WITH", "R=1", "--", "PING"], None);
    assert!(
        reply.starts_with("-ERR WITH applies to commands on keys"),
        "{reply}"
    );
    let reply = c.command(0, &["WITH", "R=1", "GET", "k"], None);
    assert!(reply.starts_with("-ERR syntax: WITH"), "{reply}");
    // A per-command setting applies to that command only.
    let text = c.command(0, &["WITH", "ONE", "--", "GET", "k"], Some("ALL"));
    assert_eq!(text, "$1\r\nv\r\n");
    // With one node down, W=3 is refused up front and W=2 works, per command.
    c.kill(2);
    c.eventually(
        0,
        &["WITH", "W=3", "--", "SET", "k", "x"],
        "-UNAVAILABLE",
        None,
    );
    assert_eq!(
        c.command(0, &["WITH", "W=2", "--", "SET", "k", "y"], None),
        "+OK\r\n"
    );
}

#[test]
fn namespace_floors_refuse_weaker_requests_by_name() {
    let c = TestCluster::start_with(3, 3, "[default_namespace]\nconsistency = \"QUORUM\"\nmin_r = 2\nmin_w = 2\nallow_sloppy = false\n");
    let reply = c.command(0, &["CONSISTENCY", "ONE"], None);
    assert!(
        reply.starts_with("-ERR R=1 is below this namespace's floor min_r=2"),
        "{reply}"
    );
    let reply = c.command(0, &["WITH", "R=3", "W=1", "--", "SET", "k", "v"], None);
    assert!(reply.contains("min_w=2"), "{reply}");
    let reply = c.command(0, &["WITH", "SLOPPY", "--", "SET", "k", "v"], None);
    assert!(reply.contains("allow_sloppy"), "{reply}");
    assert_eq!(
        c.command(0, &["WITH", "ALL", "--", "SET", "k", "v"], None),
        "+OK\r\n"
    );
}

#[test]
fn strong_reads_and_writes_work_through_any_node_and_survive_a_paused_node() {
    let c = TestCluster::start(3, 3);
    assert_eq!(
        c.command(0, &["WITH", "STRONG", "--", "SET", "s", "1"], None),
        "+OK\r\n"
    );
    assert_eq!(
        c.command(2, &["WITH", "STRONG", "--", "GET", "s"], None),
        "$1\r\n1\r\n"
    );
    // A paused (SIGSTOP) node keeps its connections open; the failure detector marks it down,
    // after which a majority keeps serving STRONG and ALL is refused up front.
    c.pause(1, true);
    c.eventually(
        0,
        &["WITH", "ALL", "--", "SET", "probe", "x"],
        "-UNAVAILABLE",
        None,
    );
    assert_eq!(
        c.command(0, &["WITH", "STRONG", "--", "SET", "s", "2"], None),
        "+OK\r\n"
    );
    assert_eq!(
        c.command(2, &["WITH", "STRONG", "--", "GET", "s"], None),
        "$1\r\n2\r\n"
    );
    c.pause(1, false);
    c.eventually(0, &["WITH", "ALL", "--", "GET", "s"], "$1\r\n2\r\n", None);
}

/// Splits a GETCTX reply `*2 $ctx *n values...` into the token and the values.
fn parse_getctx(reply: &str) -> (String, Vec<String>) {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    assert_eq!(lines[0], "*2", "{reply}");
    let token = lines[2].to_owned();
    let count: usize = lines[3].trim_start_matches('*').parse().unwrap();
    let values = (0..count).map(|i| lines[5 + 2 * i].to_owned()).collect();
    (token, values)
}

/// Writes "left" through node 1 while it is cut off, and "right" through node 2 while node 1
/// is, then heals: two concurrent writes of `k`.
fn write_on_both_sides(c: &TestCluster) {
    // Node 1 alone: once it sees *both* others down (a W=2 write refused up front: with R=1 it
    // reads nothing first, so a peer still believed up would give -TIMEOUT instead), it writes
    // "left" with W=1 and sends it nowhere (it keeps hints instead).
    c.pause(1, true);
    c.pause(2, true);
    c.eventually(
        0,
        &["WITH", "R=1", "W=2", "--", "SET", "probe", "1"],
        "-UNAVAILABLE",
        None,
    );
    assert_eq!(
        c.command(0, &["WITH", "ONE", "--", "SET", "k", "left"], None),
        "+OK\r\n"
    );
    // Nodes 2 and 3 without node 1: once node 2 sees node 1 down, it writes "right", not having
    // seen "left".
    c.pause(0, true);
    c.pause(1, false);
    c.pause(2, false);
    c.eventually(
        1,
        &["WITH", "ALL", "--", "GET", "probe"],
        "-UNAVAILABLE",
        None,
    );
    c.eventually(1, &["WITH", "W=2", "--", "SET", "k", "right"], "+OK", None);
    c.pause(0, false);
    // Healed once every node sees every other one up.
    c.wait_connected();
}

#[test]
fn writes_on_both_sides_of_a_partition_become_siblings_and_setctx_resolves_them() {
    let c = TestCluster::start(3, 3);
    write_on_both_sides(&c);
    // Both writes survive as siblings; GET picks one deterministically.
    let reply = c.command(2, &["WITH", "ALL", "--", "GETCTX", "k"], None);
    let (token, mut values) = parse_getctx(&reply);
    values.sort();
    assert_eq!(values, vec!["left", "right"], "{reply}");
    let first = c.command(0, &["WITH", "ALL", "--", "GET", "k"], None);
    assert_eq!(
        c.command(1, &["WITH", "ALL", "--", "GET", "k"], None),
        first
    );
    // A write with the context collapses them on every replica.
    assert_eq!(
        c.command(
            2,
            &["WITH", "ALL", "--", "SETCTX", "k", &token, "merged"],
            None
        ),
        "+OK\r\n"
    );
    let (_, values) = parse_getctx(&c.command(0, &["WITH", "ALL", "--", "GETCTX", "k"], None));
    assert_eq!(values, vec!["merged"]);
    for i in 0..3 {
        assert_eq!(
            c.command(i, &["REPLICA", "GET", "k"], None),
            "$6\r\nmerged\r\n"
        );
    }
    // A stale context replaces only what it saw: a concurrent sibling stays.
    let newer = c.command(0, &["SET", "k", "newer"], None);
    assert_eq!(newer, "+OK\r\n", "{}", c.log(0));
    assert_eq!(
        c.command(
            1,
            &["WITH", "ALL", "--", "SETCTX", "k", &token, "stale"],
            None
        ),
        "+OK\r\n"
    );
    let (_, mut values) = parse_getctx(&c.command(2, &["WITH", "ALL", "--", "GETCTX", "k"], None));
    values.sort();
    assert_eq!(values, vec!["newer", "stale"]);
    let bad = c.command(0, &["SETCTX", "k", "zz", "v"], None);
    assert!(bad.starts_with("-ERR invalid causal context"), "{bad}");
}

#[test]
fn with_the_lww_policy_reads_show_only_the_winner() {
    let c = TestCluster::start_with(3, 3, "[default_namespace]\nconflict = \"lww\"\n");
    write_on_both_sides(&c);
    let winner = c.command(0, &["WITH", "ALL", "--", "GET", "k"], None);
    let (_, values) = parse_getctx(&c.command(1, &["WITH", "ALL", "--", "GETCTX", "k"], None));
    assert_eq!(values.len(), 1);
    assert_eq!(winner, format!("${}\r\n{}\r\n", values[0].len(), values[0]));
}
