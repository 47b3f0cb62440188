//! The RESP front end against a single-node cluster: protocol handling, limits and errors.
#![allow(clippy::unwrap_used)]

mod support;

use support::{raw, TestCluster};

#[test]
fn malformed_input_gets_a_protocol_error_and_closes_only_that_connection() {
    let c = TestCluster::start(1, 1);
    let addr = c.nodes[0].resp;
    let reply = raw(addr, b"*1\r\n$x\r\nPING\r\n").unwrap();
    assert!(
        String::from_utf8_lossy(&reply).starts_with("-ERR Protocol error"),
        "{reply:?}"
    );
    // Commands before the bad one are answered; nothing after it runs.
    let reply = raw(addr, b"PING\r\n*1\r\n$-7\r\n*1\r\n$4\r\nPING\r\n").unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("+PONG\r\n-ERR Protocol error"), "{text}");
    assert_eq!(text.matches("PONG").count(), 1, "{text}");
    // Other connections are unaffected.
    assert_eq!(c.command(0, &["PING"], None), "+PONG\r\n");
}

#[test]
fn an_oversized_bulk_string_is_refused_at_its_header() {
    let c = TestCluster::start(1, 1);
    // Declares 100 GB and sends none of it: refused at once, nothing allocated.
    let reply = raw(
        c.nodes[0].resp,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000000\r\n",
    )
    .unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("-ERR Protocol error: invalid bulk length"),
        "{text}"
    );
    let reply = raw(c.nodes[0].resp, b"*99999999999\r\n").unwrap();
    assert!(String::from_utf8_lossy(&reply)
        .starts_with("-ERR Protocol error: invalid multibulk length"));
    assert_eq!(c.command(0, &["PING"], None), "+PONG\r\n");
}

#[test]
fn errors_and_connection_commands_behave_like_redis() {
    let c = TestCluster::start(1, 1);
    let text = c.command(0, &["NOSUCH", "a"], None);
    assert!(
        text.starts_with("-ERR unknown command 'NOSUCH', with args beginning with: 'a'"),
        "{text}"
    );
    assert!(c
        .command(0, &["GET"], None)
        .starts_with("-ERR wrong number of arguments for 'get' command"));
    assert_eq!(c.command(0, &["ECHO", "hi"], None), "$2\r\nhi\r\n");
    assert_eq!(c.command(0, &["PING", "x"], None), "$1\r\nx\r\n");
    assert_eq!(c.command(0, &["SELECT", "0"], None), "+OK\r\n");
    assert_eq!(c.command(0, &["CLIENT", "SETNAME", "app"], None), "+OK\r\n");
    assert_eq!(
        c.command(0, &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"], None),
        "+OK\r\n"
    );
    // HELLO 3 switches to RESP3: the reply is a map, and nil becomes `_`.
    let text = String::from_utf8_lossy(
        &raw(
            c.nodes[0].resp,
            &[
                support::encode(&["HELLO", "3"]),
                support::encode(&["GET", "nope"]),
            ]
            .concat(),
        )
        .unwrap(),
    )
    .into_owned();
    assert!(text.starts_with('%'), "{text}");
    assert!(text.contains("kvorum") && text.ends_with("_\r\n"), "{text}");
    assert!(c.command(0, &["HELLO", "4"], None).starts_with("-NOPROTO"));
    // QUIT answers and closes even with more commands behind it.
    let text =
        String::from_utf8_lossy(&raw(c.nodes[0].resp, b"QUIT\r\nPING\r\n").unwrap()).into_owned();
    assert_eq!(text, "+OK\r\n");
    // COMMAND describes what is served; redis-cli calls COMMAND DOCS on start.
    assert!(c.command(0, &["COMMAND", "COUNT"], None).starts_with(':'));
    assert!(c.command(0, &["COMMAND", "DOCS"], None).starts_with('*'));
    // A key over the limit is refused before it reaches the replicas.
    let big = "k".repeat(70_000);
    assert!(c
        .command(0, &["SET", &big, "v"], None)
        .starts_with("-ERR key is too large"));
}
