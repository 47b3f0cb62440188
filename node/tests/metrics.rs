//! The HTTP admin port of a running node: `/metrics` moves with the commands clients run,
//! `/health` answers, anything else is refused with the right status.
#![allow(clippy::unwrap_used)]

mod support;

use support::{encode, raw, TestCluster};

fn http(cluster: &TestCluster, request: &str) -> String {
    let reply = raw(cluster.nodes[0].admin, request.as_bytes()).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

fn get(cluster: &TestCluster, path: &str) -> String {
    http(
        cluster,
        &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"),
    )
}

/// The value of the sample whose line starts with `series` (name and labels), 0 if absent.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

const STRINGS_OK: &str = "{ns=\"0\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\"";

#[test]
fn metrics_move_with_requests_and_health_answers() {
    let cluster = TestCluster::start(1, 1);
    let before = get(&cluster, "/metrics");
    assert!(before.starts_with("HTTP/1.1 200 OK\r\n"), "{before}");
    assert!(before.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(before.contains("# TYPE kvorum_request_duration_seconds histogram"));

    let mut wire = Vec::new();
    for i in 0..5 {
        wire.extend(encode(&["SET", &format!("k{i}"), "v"]));
        wire.extend(encode(&["GET", &format!("k{i}")]));
    }
    wire.extend(encode(&["SELECT", "1"]));
    wire.extend(encode(&["SET", "other-db", "v"]));
    wire.extend(encode(&["WITH", "ONE", "--", "INCR", "n"]));
    wire.extend(encode(&["NAMESPACE", "LIST"]));
    let replies = String::from_utf8_lossy(&raw(cluster.nodes[0].resp, &wire).unwrap()).into_owned();
    assert_eq!(replies.matches("+OK").count(), 7, "{replies}");

    let after = get(&cluster, "/metrics");
    let count = |page: &str| {
        sample(
            page,
            &format!("kvorum_request_duration_seconds_count{STRINGS_OK}}}"),
        )
    };
    assert!(count(&after) >= count(&before) + 10.0, "{after}");
    assert_eq!(
        sample(&after, &format!("kvorum_requests_total{STRINGS_OK}}}")),
        count(&after)
    );
    // Every request lands in some bucket: +Inf counts them all.
    assert_eq!(
        sample(
            &after,
            &format!("kvorum_request_duration_seconds_bucket{STRINGS_OK},le=\"+Inf\"}}")
        ),
        count(&after)
    );
    assert!(
        sample(
            &after,
            &format!("kvorum_request_duration_seconds_bucket{STRINGS_OK},le=\"10\"}}")
        ) >= 10.0
    );
    // The SET after SELECT 1 counts in namespace 1; WITH counts as the wrapped command.
    assert!(after.contains(
        "kvorum_requests_total{ns=\"1\",family=\"strings\",consistency=\"quorum\",outcome=\"ok\"} 1\n"
    ));
    assert!(after.contains(
        "kvorum_requests_total{ns=\"1\",family=\"counters\",consistency=\"one\",outcome=\"ok\"} 1\n"
    ));
    // Every command has its table's family; the catalog's replicate nothing.
    assert!(after.contains(
        "kvorum_requests_total{ns=\"1\",family=\"namespace\",consistency=\"none\",outcome=\"ok\"} 1\n"
    ), "{after}");
    assert!(
        sample(
            &after,
            "kvorum_coordinator_replies_total{reply=\"written\"}"
        ) >= 6.0
    );
    assert!(sample(&after, "kvorum_fsync_duration_seconds_count") >= 1.0);
    assert!(sample(&after, "kvorum_storage_bytes") > 0.0);

    // The same figures over RESP.
    let info = cluster.command(0, &["INFO", "requests"], None);
    assert!(
        info.contains("request_ns0_strings_quorum_ok:calls="),
        "{info}"
    );

    let health = get(&cluster, "/health");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.contains("\"status\":\"ok\",\"node\":1,"), "{health}");
    assert!(health.contains("\"peers_down\":0"), "{health}");
}

#[test]
fn other_paths_methods_and_malformed_requests_are_refused() {
    let cluster = TestCluster::start(1, 1);
    assert!(get(&cluster, "/nope").starts_with("HTTP/1.1 404 "));
    let post = http(&cluster, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD"));
    assert!(http(&cluster, "garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert!(http(&cluster, &huge).starts_with("HTTP/1.1 431 "));
    // The node still serves after all that.
    assert!(get(&cluster, "/health").starts_with("HTTP/1.1 200 "));
}

/// GETs and a 3-node cluster's learning and replica reads run on the driver by default
/// (`kvorum_inline_reads_total` counts them) and, with `runtime.inline_reads = 0`, all on the
/// storage workers; the values read are the same either way.
#[test]
fn reads_run_on_the_driver_unless_turned_off() {
    for (extra, inline) in [("", true), ("[runtime]\ninline_reads = 0\n", false)] {
        let cluster = TestCluster::start_with(3, 3, extra);
        cluster.wait_connected();
        let mut wire = Vec::new();
        for i in 0..10 {
            wire.extend(encode(&["SET", &format!("k{i}"), &format!("v{i}")]));
            wire.extend(encode(&["GET", &format!("k{i}")]));
        }
        let replies =
            String::from_utf8_lossy(&raw(cluster.nodes[0].resp, &wire).unwrap()).into_owned();
        assert_eq!(replies.matches("+OK").count(), 10, "{replies}");
        for i in 0..10 {
            assert!(replies.contains(&format!("$2\r\nv{i}\r\n")), "{replies}");
        }
        let ran = sample(&get(&cluster, "/metrics"), "kvorum_inline_reads_total");
        if inline {
            // At least the coordinator's own read of each GET; its learning reads add more.
            assert!(ran >= 10.0, "{extra:?}: {ran}");
        } else {
            assert_eq!(ran, 0.0, "{extra:?}");
        }
        let info = cluster.command(0, &["INFO", "replication_stats"], None);
        assert!(info.contains("inline_reads:"), "{info}");
    }
}
