//! `kvorum-client` against a real 3-node cluster: every API family, routing with the nodes'
//! own layout, failover when a node is killed or stops answering, reconnecting after a
//! restart, credentials, and a retried `incr` that the node de-duplicates instead of counting
//! twice.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kvorum_client::{
    Bytes, Client, Consistency, Error, ErrorKind, Layout, Namespace, NamespaceId, NodeId,
};
use support::TestCluster;

/// A multi-threaded runtime: the cluster helpers block (starting, killing, restarting nodes),
/// and run under `block_in_place` while the client's connections keep being driven.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

/// Node `i`'s native (QUIC) address: its `peer_listen`.
fn native_addr(cluster: &TestCluster, i: usize) -> SocketAddr {
    let text = std::fs::read_to_string(&cluster.nodes[i].config_path).unwrap();
    let config: toml::Table = text.parse().unwrap();
    config["peer_listen"].as_str().unwrap().parse().unwrap()
}

fn tls_file(cluster: &TestCluster, path: &str) -> PathBuf {
    cluster.dir.path().join("tls").join(path)
}

fn seeds(cluster: &TestCluster) -> Vec<SocketAddr> {
    (0..cluster.nodes.len())
        .map(|i| native_addr(cluster, i))
        .collect()
}

async fn connect(cluster: &TestCluster) -> Client {
    Client::builder(seeds(cluster))
        .ca_cert_pem(tls_file(cluster, "ca.pem"))
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(10))
        .client_name("client_api test")
        .connect()
        .await
        .unwrap()
}

/// Creates a namespace over RESP and waits until every node knows it.
fn create_namespace(cluster: &TestCluster, args: &[&str]) {
    let mut command = vec!["NAMESPACE", "CREATE"];
    command.extend_from_slice(args);
    assert_eq!(cluster.command(0, &command, None), "+OK\r\n");
    for i in 0..cluster.nodes.len() {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = cluster.command(i, &["NAMESPACE", "INFO", args[0]], None);
            if !info.starts_with('-') && !info.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "node {i} never learnt {args:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A key of `ns` whose first primary is `node`.
fn key_led_by(ns: &Namespace, node: u64, prefix: &str) -> String {
    (0..10_000)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| ns.route(k).unwrap().primaries[0] == NodeId(node))
        .unwrap()
}

fn text(value: Option<&Bytes>) -> Option<String> {
    value.map(|v| String::from_utf8_lossy(v).into_owned())
}

#[test]
fn every_api_family_against_a_real_cluster() {
    let cluster = TestCluster::start(3, 3);
    create_namespace(&cluster, &["scanned", "N", "2"]);
    runtime().block_on(async {
        let client = connect(&cluster).await;

        // The topology is the cluster's, and the client routes with the nodes' own layout.
        let topology = client.topology();
        let members: Vec<(NodeId, SocketAddr)> = topology.nodes().collect();
        let expected: Vec<(NodeId, SocketAddr)> = (0..3)
            .map(|i| (NodeId(cluster.nodes[i].id), native_addr(&cluster, i)))
            .collect();
        assert_eq!(members, expected);
        let ids: Vec<NodeId> = (1..=3).map(NodeId).collect();
        assert_eq!(topology.layout(), &Layout::initial(&ids, 8, 3).unwrap());

        let ns = client.namespace("default").await.unwrap();
        assert_eq!((ns.id(), ns.replication()), (NamespaceId::DEFAULT, 3));

        // Strings.
        ns.set("greeting", "hello").await.unwrap();
        let read = ns.get("greeting").await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("hello"));
        let missing = ns.get("never-written").await.unwrap();
        assert_eq!(missing.value().unwrap(), None);
        assert!(!missing.exists());
        assert!(ns.delete("greeting").await.unwrap());
        assert!(!ns.delete("greeting").await.unwrap());
        assert_eq!(ns.get("greeting").await.unwrap().value().unwrap(), None);

        // A TTL expires the key.
        ns.set("short-lived", "x")
            .ttl(Duration::from_millis(300))
            .await
            .unwrap();
        assert!(ns.get("short-lived").await.unwrap().exists());
        let deadline = Instant::now() + Duration::from_secs(10);
        while ns.get("short-lived").await.unwrap().exists() {
            assert!(Instant::now() < deadline, "the key never expired");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // Concurrent writes from one context become siblings; the read's context resolves them.
        let start = ns.get("cart").await.unwrap();
        ns.set("cart", "apple")
            .context(start.context())
            .await
            .unwrap();
        ns.set("cart", "bread")
            .context(start.context())
            .await
            .unwrap();
        let conflict = ns.get("cart").await.unwrap();
        let values: BTreeSet<String> = conflict
            .live()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(values, BTreeSet::from(["apple".into(), "bread".into()]));
        assert!(matches!(
            conflict.value(),
            Err(Error::Siblings { count: 2 })
        ));
        ns.set("cart", "apple,bread")
            .context(conflict.context())
            .await
            .unwrap();
        let resolved = ns.get("cart").await.unwrap();
        assert_eq!(
            text(resolved.value().unwrap()).as_deref(),
            Some("apple,bread")
        );

        // Counters, and a type error that is definitely not applied.
        assert_eq!(ns.incr("visits", 5).await.unwrap(), 5);
        assert_eq!(ns.incr("visits", -2).await.unwrap(), 3);
        let as_text = ns.get("visits").await.unwrap();
        assert_eq!(text(as_text.value().unwrap()).as_deref(), Some("3"));
        ns.set("not-a-counter", "abc").await.unwrap();
        let wrong = ns.incr("not-a-counter", 1).await.unwrap_err();
        assert!(!wrong.is_indeterminate(), "{wrong}");
        assert!(
            matches!(
                wrong.kind(),
                Some(ErrorKind::WrongType | ErrorKind::Refused)
            ),
            "{wrong}"
        );

        // Sets.
        assert_eq!(ns.add("tags", ["a", "b"]).await.unwrap(), 2);
        assert_eq!(ns.add("tags", ["b", "c"]).await.unwrap(), 1);
        assert_eq!(ns.remove("tags", ["a", "z"]).await.unwrap(), 1);
        let members: BTreeSet<Bytes> = ns.members("tags").await.unwrap().into_iter().collect();
        assert_eq!(
            members,
            BTreeSet::from([Bytes::from("b"), Bytes::from("c")])
        );
        let wrong = ns.members("visits").await.unwrap_err();
        assert_eq!(wrong.kind(), Some(ErrorKind::WrongType), "{wrong}");

        // Hashes.
        assert_eq!(
            ns.hset("user:1", [("name", "Ada"), ("lang", "en")])
                .await
                .unwrap(),
            2
        );
        assert_eq!(ns.hset("user:1", [("lang", "fr")]).await.unwrap(), 0);
        assert_eq!(
            text(ns.hget("user:1", "lang").await.unwrap().as_ref()).as_deref(),
            Some("fr")
        );
        assert_eq!(ns.hget("user:1", "age").await.unwrap(), None);
        let mut all = ns.hgetall("user:1").await.unwrap();
        all.sort();
        assert_eq!(
            all,
            [
                (Bytes::from("lang"), Bytes::from("fr")),
                (Bytes::from("name"), Bytes::from("Ada"))
            ]
        );
        assert_eq!(ns.hdel("user:1", ["name", "nope"]).await.unwrap(), 1);
        assert_eq!(ns.hgetall("user:1").await.unwrap().len(), 1);

        // Batches: one request per node, each key its own outcome, in order.
        let pairs: Vec<(String, String)> = (0..60)
            .map(|i| (format!("batch:{i}"), format!("v{i}")))
            .collect();
        let written = ns.set_many(pairs.clone()).await.unwrap();
        assert_eq!(written.len(), 60);
        assert!(written.iter().all(Result::is_ok), "{written:?}");
        let mut keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        keys.push("batch:missing".into());
        let read = ns
            .get_many(&keys)
            .consistency(Consistency::All)
            .await
            .unwrap();
        assert_eq!(read.len(), 61);
        for ((_, value), got) in pairs.iter().zip(&read) {
            let got = got.as_ref().unwrap();
            assert_eq!(text(got.value().unwrap()).as_deref(), Some(value.as_str()));
        }
        assert!(!read[60].as_ref().unwrap().exists());

        // A namespace of its own (N = 2) and a scan over it, in pages.
        let scanned = client.namespace("scanned").await.unwrap();
        assert_eq!(scanned.replication(), 2);
        assert_ne!(scanned.id(), NamespaceId::DEFAULT);
        assert_eq!(scanned.route("k").unwrap().primaries.len(), 2);
        let keys: BTreeSet<Bytes> = (0..120).map(|i| Bytes::from(format!("s{i}"))).collect();
        let outcomes = scanned
            .set_many(keys.iter().map(|k| (k.clone(), "1")))
            .await
            .unwrap();
        assert!(outcomes.iter().all(Result::is_ok));
        let listed: Vec<Bytes> = scanned.scan().page_size(7).collect_keys().await.unwrap();
        assert_eq!(listed.len(), 120, "each key once");
        assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), keys);
        // Same key names in another namespace are other keys.
        assert!(!scanned.get("greeting").await.unwrap().exists());

        // Per-request consistency.
        ns.set("c", "1")
            .consistency(Consistency::All)
            .await
            .unwrap();
        ns.set("c", "2").w(3).dw(1).await.unwrap();
        let all = ns.get("c").r(3).strict().await.unwrap();
        assert_eq!(text(all.value().unwrap()).as_deref(), Some("2"));
        ns.set("c", "3")
            .consistency(Consistency::Strong)
            .await
            .unwrap();
        let strong = ns.get("c").consistency(Consistency::Strong).await.unwrap();
        assert_eq!(text(strong.value().unwrap()).as_deref(), Some("3"));
        ns.set("c", "4")
            .consistency(Consistency::Eventual)
            .await
            .unwrap();
        let contradicting = ns.get("c").consistency(Consistency::One).r(2).await;
        assert!(matches!(contradicting, Err(Error::InvalidRequest(_))));
        let too_many = ns.get("c").r(4).await.unwrap_err();
        assert!(!too_many.is_indeterminate());
        assert!(matches!(too_many, Error::Server { .. }), "{too_many}");

        // Unknown namespaces are named as such.
        let err = client.namespace("no-such-ns").await.unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::NoSuchNamespace), "{err}");

        // Back-pressure: a client with 2 slots runs 40 concurrent increments, all counted.
        let narrow = Client::builder(seeds(&cluster))
            .ca_cert_pem(tls_file(&cluster, "ca.pem"))
            .max_in_flight(2)
            .connect()
            .await
            .unwrap();
        let narrow_ns = narrow.namespace("default").await.unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let ns = narrow_ns.clone();
                tokio::spawn(async move { ns.incr("narrow", 1).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(ns.incr("narrow", 0).await.unwrap(), 40);
        narrow.close().await;
        assert!(matches!(narrow_ns.get("narrow").await, Err(Error::Closed)));
        client.close().await;
    });
}

#[test]
fn requests_fail_over_when_a_node_is_killed_or_stops_answering() {
    let mut cluster = TestCluster::start(3, 3);
    runtime().block_on(async {
        let client = connect(&cluster).await;
        let ns = client.namespace("default").await.unwrap();
        // Keys whose first primary is node 1 (index 0), which is killed below, and node 2
        // (index 1), which is paused.
        let led_by_1 = key_led_by(&ns, 1, "one");
        let counter = key_led_by(&ns, 1, "count");
        let led_by_2 = key_led_by(&ns, 2, "two");
        ns.set(&led_by_1, "before").await.unwrap();
        assert_eq!(ns.incr(&counter, 1).await.unwrap(), 1);
        ns.set(&led_by_2, "before").await.unwrap();

        // A node that stops answering (paused): a write sent to it gets no reply, so it is
        // reported as maybe applied, never re-sent elsewhere; a read moves on to a replica.
        cluster.pause(1, true);
        let err = ns
            .incr(&led_by_2, 1)
            .timeout(Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.is_indeterminate(), "{err}");
        let read = ns
            .get(&led_by_2)
            .consistency(Consistency::One)
            .await
            .unwrap();
        assert!(read.exists());
        cluster.pause(1, false);
        blocking(|| cluster.wait_connected());

        // Kill node 1: reads and writes of its keys go to the next primary.
        blocking(|| cluster.kill(0));
        let read = ns.get(&led_by_1).await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("before"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Until the client has seen the connection die, a write may still be sent to the
            // dead node and come back indeterminate; after that it fails over.
            match ns.set(&led_by_1, "after").await {
                Ok(()) => break,
                Err(e) if e.is_indeterminate() || e.is_transient() => {
                    assert!(Instant::now() < deadline, "writes never failed over: {e}");
                }
                Err(e) => panic!("a write after the kill failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let read = ns.get(&led_by_1).await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("after"));
        for _ in 0..5 {
            ns.incr(&counter, 1).await.unwrap();
        }
        assert_eq!(
            ns.incr(&counter, 0).await.unwrap(),
            6,
            "every increment counted once"
        );

        // A new client whose first seed is the dead node learns the cluster from another.
        let late = connect(&cluster).await;
        let late_ns = late.namespace("default").await.unwrap();
        let read = late_ns.get(&led_by_1).await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("after"));
        late.close().await;
        client.close().await;
    });
}

#[test]
fn the_client_reconnects_after_a_restart_and_refreshes_its_topology() {
    let mut cluster = TestCluster::start(3, 3);
    runtime().block_on(async {
        let client = connect(&cluster).await;
        let ns = client.namespace("default").await.unwrap();
        let key = key_led_by(&ns, 2, "restart");
        ns.set(&key, "v1").await.unwrap();
        let epoch = client.topology().epoch();

        blocking(|| {
            cluster.kill(1);
            cluster.restart(1);
            cluster.wait_connected();
        });
        // ALL needs the restarted node itself: the client's old connection to it is dead, so
        // this only succeeds once it has dialled the node again.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match ns.set(&key, "v2").consistency(Consistency::All).await {
                Ok(()) => break,
                Err(e) => assert!(Instant::now() < deadline, "never recovered: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let read = ns.get(&key).consistency(Consistency::All).await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("v2"));

        // The topology asked for again is the same cluster (membership is static), and routing
        // is unchanged.
        let refreshed = client.refresh_topology().await.unwrap();
        assert_eq!(refreshed.epoch(), epoch);
        assert_eq!(refreshed.nodes().count(), 3);
        assert_eq!(ns.route(&key).unwrap().primaries[0], NodeId(2));
        client.close().await;
    });
}

#[test]
fn a_resent_incr_whose_reply_was_lost_is_counted_once() {
    let cluster = TestCluster::start(3, 3);
    runtime().block_on(async {
        let client = connect(&cluster).await;
        let ns = client.namespace("default").await.unwrap();

        // The node applies the increment, its reply is dropped, the client re-sends the very
        // same request (same id, same node) and gets the first answer back.
        client.drop_next_replies(1);
        assert_eq!(ns.incr("once", 1).await.unwrap(), 1);
        assert_eq!(ns.incr("once", 0).await.unwrap(), 1, "counted once");

        // Two lost replies in a row: still one increment.
        client.drop_next_replies(2);
        assert_eq!(ns.incr("once", 10).await.unwrap(), 11);
        let read = ns.get("once").consistency(Consistency::All).await.unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("11"));

        // More lost replies than the client re-sends: it says it cannot tell, and the node
        // still counted it exactly once.
        client.drop_next_replies(10);
        let err = ns.incr("once", 100).await.unwrap_err();
        assert!(err.is_indeterminate(), "{err}");
        client.drop_next_replies(0);
        assert_eq!(ns.incr("once", 0).await.unwrap(), 111);

        // A batch whose reply was lost: each write re-sent with its own id.
        client.drop_next_replies(1);
        let outcomes = ns
            .set_many([("b1", "x"), ("b2", "y"), ("b3", "z")])
            .await
            .unwrap();
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        let read = ns.get_many(["b1", "b2", "b3"]).await.unwrap();
        assert!(read.iter().all(|r| r.as_ref().unwrap().exists()));
        client.close().await;
    });
}

#[test]
fn a_cluster_with_a_password_admits_the_password_or_a_ca_certificate() {
    let cluster = TestCluster::start_with(3, 3, "[auth]\nrequirepass = \"s3cret\"\n");
    runtime().block_on(async {
        let without = Client::builder(seeds(&cluster))
            .ca_cert_pem(tls_file(&cluster, "ca.pem"))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(without.kind(), Some(ErrorKind::Auth), "{without}");
        let wrong = Client::builder(seeds(&cluster))
            .ca_cert_pem(tls_file(&cluster, "ca.pem"))
            .password("nope")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(wrong.kind(), Some(ErrorKind::Auth), "{wrong}");

        let with = Client::builder(seeds(&cluster))
            .ca_cert_pem(tls_file(&cluster, "ca.pem"))
            .password("s3cret")
            .connect()
            .await
            .unwrap();
        let ns = with.namespace("default").await.unwrap();
        ns.set("k", "v").await.unwrap();

        // A certificate of the cluster CA authenticates without the password.
        let certified = Client::builder(seeds(&cluster))
            .ca_cert_pem(tls_file(&cluster, "ca.pem"))
            .client_identity(
                tls_file(&cluster, "n1/node.pem"),
                tls_file(&cluster, "n1/node-key.pem"),
            )
            .connect()
            .await
            .unwrap();
        let read = certified
            .namespace("default")
            .await
            .unwrap()
            .get("k")
            .await
            .unwrap();
        assert_eq!(text(read.value().unwrap()).as_deref(), Some("v"));

        // A client that trusts another CA refuses the nodes.
        let other = tempfile::tempdir().unwrap();
        kvorum_node::peer::ClusterCa::create(other.path()).unwrap();
        let refused = Client::builder(seeds(&cluster))
            .ca_cert_pem(other.path().join("ca.pem"))
            .password("s3cret")
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::NoSeed { .. }), "{refused}");
        with.close().await;
        certified.close().await;
    });
}
