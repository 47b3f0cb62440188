//! The test harness's hooks on a real cluster (builds with the `fault-injection` feature; the
//! test binary's `kvorum` is built with the same features): `DEBUG CLOCK-OFFSET` shifts one
//! node's clock (TTLs follow it, the HLC stays monotonic), and `DEBUG FAULT` switches
//! deliberately broken behaviour that the harness's checkers must catch.
//!
//! Run with `cargo test -p kvorum-node --features fault-injection --test fault_injection`.
#![cfg(feature = "fault-injection")]
#![allow(clippy::unwrap_used)]

mod support;

use support::TestCluster;

const NIL: &str = "$-1\r\n";

/// Waits until node `i` (an index) counts some other node as down: a write that needs every
/// primary is refused at once.
fn wait_down(c: &TestCluster, i: usize, probe: &str) {
    c.eventually(
        i,
        &["WITH", "W=3", "STRICT", "--", "SET", probe, "x"],
        "-UNAVAILABLE",
        None,
    );
}

/// Waits until a write from node `i` reaches every replica again.
fn wait_up(c: &TestCluster, i: usize, probe: &str) {
    c.eventually(
        i,
        &["WITH", "W=3", "STRICT", "--", "SET", probe, "y"],
        "+OK",
        None,
    );
}

#[test]
fn debug_subcommands_answer_and_fault_switches_round_trip() {
    let c = TestCluster::start(1, 1);
    let debug = |args: &[&str]| {
        let mut words = vec!["DEBUG"];
        words.extend(args);
        c.command(0, &words, None)
    };
    assert_eq!(debug(&["CLOCK-OFFSET"]), ":0\r\n");
    assert_eq!(debug(&["CLOCK-OFFSET", "-1500"]), "+OK\r\n");
    assert_eq!(debug(&["clock-offset"]), ":-1500\r\n");
    assert_eq!(debug(&["CLOCK-OFFSET", "86400000"]), "+OK\r\n");
    let refused = debug(&["CLOCK-OFFSET", "86400001"]);
    assert!(
        refused.starts_with("-ERR clock offset 86400001 ms is out of range"),
        "{refused}"
    );
    assert!(debug(&["CLOCK-OFFSET", "soon"]).starts_with("-ERR value is not an integer"));
    assert!(debug(&["CLOCK-OFFSET", "1", "2"]).starts_with("-ERR wrong number of arguments"));
    assert_eq!(debug(&["CLOCK-OFFSET"]), ":86400000\r\n");
    assert_eq!(debug(&["CLOCK-OFFSET", "0"]), "+OK\r\n");

    let listing = |skip: &str, drop: &str| {
        format!(
            "*2\r\n*2\r\n$21\r\nstrong-skip-writeback\r\n${}\r\n{skip}\r\n\
             *2\r\n$10\r\ndrop-hints\r\n${}\r\n{drop}\r\n",
            skip.len(),
            drop.len()
        )
    };
    assert_eq!(debug(&["FAULTS"]), listing("off", "off"));
    assert_eq!(debug(&["FAULT", "drop-hints", "ON"]), "+OK\r\n");
    assert_eq!(debug(&["faults"]), listing("off", "on"));
    assert_eq!(debug(&["FAULT", "STRONG-SKIP-WRITEBACK", "on"]), "+OK\r\n");
    assert_eq!(debug(&["FAULT", "drop-hints", "off"]), "+OK\r\n");
    assert_eq!(debug(&["FAULTS"]), listing("on", "off"));
    assert_eq!(debug(&["FAULT", "strong-skip-writeback", "OFF"]), "+OK\r\n");
    assert_eq!(debug(&["FAULTS"]), listing("off", "off"));

    assert_eq!(
        debug(&["FAULT", "lose-everything", "ON"]),
        "-ERR unknown fault 'lose-everything'; the faults are: strong-skip-writeback, \
         drop-hints\r\n"
    );
    assert_eq!(
        debug(&["FAULT", "drop-hints", "maybe"]),
        "-ERR a fault is switched ON or OFF, not 'maybe'\r\n"
    );
    assert!(debug(&["FAULT", "drop-hints"]).starts_with("-ERR wrong number of arguments"));
    assert_eq!(
        debug(&["SLEEP", "1"]),
        "-ERR unknown subcommand 'SLEEP'. Try DEBUG HELP.\r\n"
    );
    assert!(debug(&["HELP"]).contains("CLOCK-OFFSET"));
    assert!(c
        .command(0, &["DEBUG"], None)
        .starts_with("-ERR wrong number of arguments"));
}

#[test]
fn a_clock_offset_moves_ttls_and_the_hlc_never_goes_back() {
    let c = TestCluster::start(3, 3);
    // A key with 5 s to live is alive on a node with the true time and expired on a node
    // whose clock is 10 s ahead.
    assert_eq!(
        c.command(0, &["SET", "t", "v", "PX", "5000"], None),
        "+OK\r\n"
    );
    assert_eq!(c.command(0, &["GET", "t"], None), "$1\r\nv\r\n");
    assert_eq!(
        c.command(1, &["DEBUG", "CLOCK-OFFSET", "10000"], None),
        "+OK\r\n"
    );
    assert_eq!(c.command(1, &["GET", "t"], None), NIL);
    assert_eq!(c.command(1, &["PTTL", "t"], None), ":-2\r\n");
    assert_eq!(
        c.command(1, &["DEBUG", "CLOCK-OFFSET", "0"], None),
        "+OK\r\n"
    );

    // The TTL of a key is a last-writer-wins register ordered by HLC timestamps. Node 1's clock
    // goes back an hour after it set a TTL: clearing the TTL from node 1 must still win on
    // every replica, so its timestamp must be above the one node 1 issued before.
    assert_eq!(
        c.command(0, &["SET", "h", "old", "PX", "600000"], None),
        "+OK\r\n"
    );
    assert_eq!(
        c.command(0, &["SET", "p", "v", "PX", "600000"], None),
        "+OK\r\n"
    );
    assert_eq!(
        c.command(0, &["DEBUG", "CLOCK-OFFSET", "-3600000"], None),
        "+OK\r\n"
    );
    assert_eq!(c.command(0, &["SET", "h", "new"], None), "+OK\r\n");
    assert_eq!(c.command(0, &["PERSIST", "p"], None), ":1\r\n");
    for i in [1, 2] {
        assert_eq!(
            c.command(i, &["GET", "h"], Some("ALL")),
            "$3\r\nnew\r\n",
            "node {}",
            i + 1
        );
        assert_eq!(c.command(i, &["PTTL", "h"], Some("ALL")), ":-1\r\n");
        assert_eq!(c.command(i, &["PTTL", "p"], Some("ALL")), ":-1\r\n");
    }
    assert_eq!(
        c.command(0, &["DEBUG", "CLOCK-OFFSET"], None),
        ":-3600000\r\n"
    );
}

#[test]
fn with_drop_hints_a_write_a_replica_missed_never_reaches_it() {
    let c = TestCluster::start(3, 3);
    let write_w1 =
        |key: &str| c.command(0, &["WITH", "W=1", "STRICT", "--", "SET", key, "v"], None);
    // Fault on: node 1 coordinates a write while node 3 is paused; the hint for node 3 is
    // dropped (the write is still acknowledged: W=1).
    assert_eq!(
        c.command(0, &["DEBUG", "FAULT", "drop-hints", "ON"], None),
        "+OK\r\n"
    );
    c.pause(2, true);
    wait_down(&c, 0, "probe:1");
    assert_eq!(write_w1("lost"), "+OK\r\n");
    let info = c.command(0, &["INFO", "hints"], None);
    assert!(
        info.contains("hints_stored:0\r\n") && !info.contains("hints_backlog_n3"),
        "{info}"
    );
    c.pause(2, false);
    wait_up(&c, 0, "probe:1");

    // Fault off: the same kind of write is kept as a hint and handed to node 3 once it is back.
    assert_eq!(
        c.command(0, &["DEBUG", "FAULT", "drop-hints", "OFF"], None),
        "+OK\r\n"
    );
    c.pause(2, true);
    wait_down(&c, 0, "probe:2");
    assert_eq!(write_w1("kept"), "+OK\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !c
        .command(0, &["INFO", "hints"], None)
        .contains("hints_backlog_n3:")
    {
        assert!(std::time::Instant::now() < deadline, "no hint kept for n3");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    c.pause(2, false);
    c.eventually(2, &["REPLICA", "GET", "kept"], "$1\r\nv\r\n", None);
    // Node 1 has handed over everything it held for node 3; the dropped write was not in it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while c
        .command(0, &["INFO", "hints"], None)
        .contains("hints_backlog_n3:")
    {
        assert!(std::time::Instant::now() < deadline, "hints for n3 remain");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(c.command(2, &["REPLICA", "GET", "lost"], None), NIL);
    assert_eq!(
        c.command(1, &["REPLICA", "GET", "lost"], None),
        "$1\r\nv\r\n"
    );
}

#[test]
fn with_strong_skip_writeback_a_strong_read_leaves_the_stale_replica_stale() {
    let c = TestCluster::start(3, 3);
    // Node 3 misses `k` and never gets it by handoff (hints dropped on the coordinator).
    assert_eq!(
        c.command(0, &["DEBUG", "FAULT", "drop-hints", "ON"], None),
        "+OK\r\n"
    );
    c.pause(2, true);
    wait_down(&c, 0, "probe:1");
    assert_eq!(c.command(0, &["SET", "k", "v1"], None), "+OK\r\n");
    c.pause(2, false);
    wait_up(&c, 2, "probe:2");
    // Node 2 goes away: a STRONG read through node 3 sees {node 1: v1, node 3: nothing}.
    c.pause(1, true);
    wait_down(&c, 2, "probe:3");
    let strong_get = || c.command(2, &["WITH", "STRONG", "--", "GET", "k"], None);

    assert_eq!(
        c.command(2, &["DEBUG", "FAULT", "strong-skip-writeback", "ON"], None),
        "+OK\r\n"
    );
    assert_eq!(strong_get(), "$2\r\nv1\r\n");
    // Answered from a single holder: v1 is on one replica of three.
    assert_eq!(c.command(2, &["REPLICA", "GET", "k"], None), NIL);

    assert_eq!(
        c.command(2, &["DEBUG", "FAULT", "strong-skip-writeback", "OFF"], None),
        "+OK\r\n"
    );
    assert_eq!(strong_get(), "$2\r\nv1\r\n");
    // Written back to a majority before the answer: node 3 holds it now.
    assert_eq!(c.command(2, &["REPLICA", "GET", "k"], None), "$2\r\nv1\r\n");
}

/// A record corrupted on disk (as a failing disk would) is never served, is counted, and comes
/// back from the other replicas.
#[test]
fn a_corrupt_record_is_never_served_and_is_repaired_from_the_other_replicas() {
    let c = TestCluster::start(3, 3);
    c.eventually(0, &["SET", "precious", "v1"], "+OK", Some("ALL"));
    c.eventually(0, &["SADD", "members", "a", "b"], ":2", Some("ALL"));
    assert_eq!(
        c.command(2, &["DEBUG", "DAMAGE-RECORD", "precious"], None),
        ":1\r\n"
    );
    assert_eq!(
        c.command(2, &["DEBUG", "DAMAGE-RECORD", "members"], None),
        ":1\r\n"
    );
    assert_eq!(
        c.command(2, &["DEBUG", "DAMAGE-RECORD", "never-written"], None),
        ":0\r\n"
    );

    // Through the damaged node, at every consistency, the value is the real one or an error,
    // never the damaged bytes.
    for level in ["ONE", "QUORUM", "ALL"] {
        let reply = c.command(2, &["GET", "precious"], Some(level));
        assert!(
            reply == "$2\r\nv1\r\n" || reply.starts_with('-'),
            "GET at {level} through the damaged node answered {reply:?}"
        );
    }
    // The damaged copy itself is refused, not shown, until it is repaired; then it is back.
    let local = c.command(2, &["REPLICA", "GET", "precious"], None);
    assert!(
        local == "$2\r\nv1\r\n" || local.starts_with("-ERR"),
        "{local:?}"
    );
    c.eventually(2, &["REPLICA", "GET", "precious"], "$2\r\nv1\r\n", None);
    c.eventually(2, &["REPLICA", "GET", "members"], "*2\r\n", None);

    let page = http_get(c.nodes[2].admin, "/metrics");
    let corrupt: u64 = page
        .lines()
        .find_map(|l| l.strip_prefix("kvorum_storage_corrupt_records_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(corrupt >= 2, "corrupt records counted: {corrupt}\n{page}");
    assert!(
        c.log(2).contains("corrupt record"),
        "the log names the corruption"
    );
}

/// `GET path` on the HTTP admin listener; the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let reply = support::raw(addr, request.as_bytes()).unwrap();
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(text)
}
