//! The native client protocol against real nodes: a raw QUIC client built from `kvorum_wire`
//! (no client library), speaking to `kvorum server` processes.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvorum_consistency::{Preset, Spec};
use kvorum_node::peer::ClusterCa;
use kvorum_ring::{Layout, NamespaceId, NodeId};
use kvorum_wire::frame::{read_frame, write_frame};
use kvorum_wire::native::{
    node_server_name, Applied, Body, ErrorKind, ErrorReply, Hello, NamespaceInfo, Op, OpReply,
    OpRequest, Request, RequestId, Response, ScanRequest, Topology, NATIVE_ALPN,
    NATIVE_PROTOCOL_VERSION,
};
use quinn::crypto::rustls::QuicClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::TestCluster;

const MAX_FRAME: usize = kvorum_wire::native::DEFAULT_MAX_NATIVE_FRAME_BYTES;

/// A client certificate and its key.
type Cert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// One native connection to one node.
struct Native {
    _endpoint: quinn::Endpoint,
    conn: quinn::Connection,
}

fn client_config(ca: &Path, cert: Option<Cert>) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
    let mut tls = match cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![NATIVE_ALPN.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    // The test nodes close connections idle for 1.5 s.
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(300)));
    config.transport_config(Arc::new(transport));
    config
}

impl Native {
    async fn connect(
        cluster: &TestCluster,
        i: usize,
        ca: &Path,
        cert: Option<Cert>,
    ) -> Result<Native, quinn::ConnectionError> {
        let endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let node = &cluster.nodes[i];
        let conn = endpoint
            .connect_with(
                client_config(ca, cert),
                node.quic,
                &node_server_name(node.id),
            )
            .unwrap()
            .await?;
        Ok(Native {
            _endpoint: endpoint,
            conn,
        })
    }

    /// Connects and says hello without a password.
    async fn open(cluster: &TestCluster, i: usize) -> Native {
        let native = Native::connect(cluster, i, &cluster.ca_cert_path(), None)
            .await
            .unwrap();
        let welcome = native.hello(None).await;
        assert!(matches!(welcome, Body::Welcome(_)), "{welcome:?}");
        native
    }

    /// One exchange on a new stream.
    async fn call(&self, request: &Request) -> Response {
        let (mut send, mut recv) = self.conn.open_bi().await.unwrap();
        write_frame(&mut send, request, MAX_FRAME).await.unwrap();
        send.finish().unwrap();
        tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, MAX_FRAME))
            .await
            .expect("no answer within 10 s")
            .unwrap()
            .expect("the stream ended without an answer")
    }

    /// Raw bytes on a new stream; the answer, if the node sent one.
    async fn raw(&self, bytes: &[u8]) -> Option<Response> {
        let (mut send, mut recv) = self.conn.open_bi().await.unwrap();
        // The node may stop reading before everything is written.
        let _ = send.write_all(bytes).await;
        let _ = send.finish();
        tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, MAX_FRAME))
            .await
            .expect("no answer within 10 s")
            .ok()
            .flatten()
    }

    async fn hello(&self, password: Option<&str>) -> Body {
        self.hello_as(NATIVE_PROTOCOL_VERSION, password).await
    }

    async fn hello_as(&self, protocol: u8, password: Option<&str>) -> Body {
        let hello = Hello {
            protocol,
            password: password.map(str::to_owned),
            client_name: Some("native-test".into()),
        };
        self.call(&Request::Hello(hello)).await.body
    }

    async fn topology(&self) -> Topology {
        match self.call(&Request::Topology).await.body {
            Body::Topology(t) => t,
            other => panic!("expected the topology, got {other:?}"),
        }
    }

    async fn namespace(&self, name: &str) -> Result<NamespaceInfo, ErrorReply> {
        let request = Request::Namespace { name: name.into() };
        match self.call(&request).await.body {
            Body::Namespace(info) => Ok(info),
            Body::Error(e) => Err(e),
            other => panic!("expected a namespace, got {other:?}"),
        }
    }

    async fn send(&self, request: OpRequest) -> Result<OpReply, ErrorReply> {
        match self.call(&Request::Op(request)).await.body {
            Body::Op(answer) => answer,
            Body::Error(e) => Err(e),
            other => panic!("expected an op's answer, got {other:?}"),
        }
    }

    /// `op` on `key` of the default namespace with its default consistency.
    async fn op(&self, key: &str, op: Op) -> Result<OpReply, ErrorReply> {
        self.send(request(NamespaceId::DEFAULT, key, op, Spec::default()))
            .await
    }
}

/// A fresh request id.
fn next_id() -> RequestId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    RequestId((nanos << 32) ^ u128::from(NEXT.fetch_add(1, Ordering::Relaxed)))
}

fn request(ns: NamespaceId, key: &str, op: Op, consistency: Spec) -> OpRequest {
    OpRequest {
        id: next_id(),
        ns,
        key: Bytes::copy_from_slice(key.as_bytes()),
        consistency,
        op,
    }
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn set(value: &str) -> Op {
    Op::Set {
        value: b(value),
        context: None,
        ttl_ms: None,
    }
}

fn values(reply: OpReply) -> (String, Vec<Option<Bytes>>) {
    match reply {
        OpReply::Siblings { context, values } => (context, values),
        other => panic!("expected siblings, got {other:?}"),
    }
}

fn error_kind(answer: Result<OpReply, ErrorReply>) -> (ErrorKind, Applied) {
    let e = answer.expect_err("expected an error");
    (e.kind, e.applied)
}

/// A key (`prefix` + a number) of namespace `ns` that `node` does not hold as a primary.
fn key_not_on(layout: &Layout, ns: NamespaceId, n: usize, node: u64, prefix: &str) -> String {
    (0..10_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|key| {
            let p = layout.partition_for_key(ns, key.as_bytes());
            !layout
                .preference_list(p, n)
                .unwrap()
                .is_primary(NodeId(node))
        })
        .expect("some key lives elsewhere")
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_needs_the_password_or_a_cluster_certificate() {
    let cluster = blocking(|| {
        TestCluster::start_with(
            1,
            1,
            "[auth]\nrequirepass = \"hunter2\"\n[native]\nhello_timeout_ms = 3000\n",
        )
    });
    let ca = cluster.ca_cert_path();
    let native = Native::connect(&cluster, 0, &ca, None).await.unwrap();

    // Nothing but a hello before a successful hello.
    match native.call(&Request::Topology).await.body {
        Body::Error(e) => assert_eq!((e.kind, e.applied), (ErrorKind::Auth, Applied::No)),
        other => panic!("topology before hello: {other:?}"),
    }
    for password in [None, Some("hunter3")] {
        match native.hello(password).await {
            Body::Error(e) => assert_eq!(e.kind, ErrorKind::Auth, "{password:?}"),
            other => panic!("hello with {password:?}: {other:?}"),
        }
    }
    match native
        .hello_as(NATIVE_PROTOCOL_VERSION + 1, Some("hunter2"))
        .await
    {
        Body::Error(e) => assert_eq!(e.kind, ErrorKind::Invalid, "{}", e.message),
        other => panic!("hello of another version: {other:?}"),
    }
    match native.hello(Some("hunter2")).await {
        Body::Welcome(w) => {
            assert_eq!(w.node, 1);
            assert_eq!(w.version, env!("CARGO_PKG_VERSION"));
        }
        other => panic!("hello with the password: {other:?}"),
    }
    let topology = native.topology().await;
    assert_eq!(topology.nodes.len(), 1);
    assert_eq!(topology.nodes[0].addr, cluster.nodes[0].quic);

    // A certificate of the cluster CA stands for the password.
    let issued = tempfile::tempdir().unwrap();
    let identity = ClusterCa::load(&cluster.tls_dir())
        .unwrap()
        .issue_node(42, issued.path())
        .unwrap();
    let cert = (identity.cert_chain().to_vec(), identity.key().clone_key());
    let certified = Native::connect(&cluster, 0, &ca, Some(cert)).await.unwrap();
    assert!(matches!(certified.hello(None).await, Body::Welcome(_)));

    // One of another CA fails the TLS handshake.
    let foreign = tempfile::tempdir().unwrap();
    let other_ca = ClusterCa::create(&foreign.path().join("ca")).unwrap();
    let rogue = other_ca
        .issue_node(42, &foreign.path().join("n42"))
        .unwrap();
    let cert = (rogue.cert_chain().to_vec(), rogue.key().clone_key());
    let refused = match Native::connect(&cluster, 0, &ca, Some(cert)).await {
        // With TLS 1.3 the client may finish its handshake before the server judges its
        // certificate: then the server closes the connection right after.
        Ok(native) => tokio::time::timeout(Duration::from_secs(5), native.conn.closed())
            .await
            .is_ok(),
        Err(_) => true,
    };
    assert!(refused, "a certificate of another CA must be refused");

    // A connection that never says hello is closed with code 2.
    let silent = Native::connect(&cluster, 0, &ca, None).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.conn.closed())
        .await
        .expect("a silent connection must be closed");
    assert!(
        matches!(&closed, quinn::ConnectionError::ApplicationClosed(c)
            if c.error_code == quinn::VarInt::from_u32(2)),
        "{closed}"
    );
    // The hello'd connection is still served.
    assert_eq!(native.topology().await.nodes.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_op_runs_through_a_node_that_is_not_the_keys_primary() {
    let cluster = blocking(|| TestCluster::start_with(3, 2, "[native]\nmax_batch = 4\n"));
    let native = Native::open(&cluster, 0).await;

    // The topology lets a client compute the nodes' own layout.
    let topology = native.topology().await;
    assert_eq!(topology.replication, 2);
    let addrs: Vec<(u64, SocketAddr)> = topology.nodes.iter().map(|n| (n.id, n.addr)).collect();
    let expected: Vec<(u64, SocketAddr)> = cluster.nodes.iter().map(|n| (n.id, n.quic)).collect();
    assert_eq!(addrs, expected);
    let ids: Vec<NodeId> = topology.nodes.iter().map(|n| NodeId(n.id)).collect();
    let layout = Layout::initial(&ids, topology.partition_bits, topology.width).unwrap();
    assert_eq!(layout.epoch(), topology.epoch);
    let elsewhere = |prefix: &str| key_not_on(&layout, NamespaceId::DEFAULT, 2, 1, prefix);

    let default = native.namespace("default").await.unwrap();
    assert_eq!(
        (default.id, default.n, default.lww),
        (NamespaceId::DEFAULT, 2, false)
    );

    // A stream kept open carries request after request, each answered in turn; finishing it
    // ends the node's side too.
    let (mut send, mut recv) = native.conn.open_bi().await.unwrap();
    for key in ["kept-1", "kept-2", "kept-3"] {
        let incr = Request::Op(request(
            NamespaceId::DEFAULT,
            key,
            Op::Incr { delta: 5 },
            Spec::default(),
        ));
        write_frame(&mut send, &incr, MAX_FRAME).await.unwrap();
        let answer: Response = read_frame(&mut recv, MAX_FRAME).await.unwrap().unwrap();
        assert_eq!(answer.body, Body::Op(Ok(OpReply::Int(5))), "{key}");
    }
    send.finish().unwrap();
    assert!(read_frame::<Response>(&mut recv, MAX_FRAME)
        .await
        .unwrap()
        .is_none());
    let missing = native.namespace("nosuch").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NoSuchNamespace);

    // Strings: set, read with its context, supersede by context, TTL, delete.
    let k = elsewhere("str");
    assert_eq!(native.op(&k, set("v1")).await, Ok(OpReply::Done));
    let (context, seen) = values(native.op(&k, Op::Get).await.unwrap());
    assert_eq!(seen, vec![Some(b("v1"))]);
    let resolve = Op::Set {
        value: b("v2"),
        context: Some(context),
        ttl_ms: None,
    };
    assert_eq!(native.op(&k, resolve).await, Ok(OpReply::Done));
    assert_eq!(
        values(native.op(&k, Op::Get).await.unwrap()).1,
        vec![Some(b("v2"))]
    );
    let reply = blocking(|| cluster.command(1, &["GET", &k], Some("QUORUM")));
    assert_eq!(reply, "$2\r\nv2\r\n", "RESP sees the native write");
    let ttl = Op::Set {
        value: b("v3"),
        context: None,
        ttl_ms: Some(60_000),
    };
    assert_eq!(native.op(&k, ttl).await, Ok(OpReply::Done));
    let pttl = blocking(|| cluster.command(2, &["PTTL", &k], Some("QUORUM")));
    let pttl: i64 = pttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=60_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(native.op(&k, Op::Delete).await, Ok(OpReply::Int(1)));
    assert_eq!(native.op(&k, Op::Delete).await, Ok(OpReply::Int(0)));
    assert!(values(native.op(&k, Op::Get).await.unwrap()).1.is_empty());

    // Counters.
    let c = elsewhere("counter");
    assert_eq!(
        native.op(&c, Op::Incr { delta: 5 }).await,
        Ok(OpReply::Int(5))
    );
    assert_eq!(
        native.op(&c, Op::Incr { delta: -2 }).await,
        Ok(OpReply::Int(3))
    );
    assert_eq!(
        values(native.op(&c, Op::Get).await.unwrap()).1,
        vec![Some(b("3"))]
    );

    // Sets.
    let s = elsewhere("set");
    let members = vec![b("a"), b("b")];
    assert_eq!(
        native.op(&s, Op::SAdd { members }).await,
        Ok(OpReply::Int(2))
    );
    let gone = vec![b("a"), b("z")];
    assert_eq!(
        native.op(&s, Op::SRem { members: gone }).await,
        Ok(OpReply::Int(1))
    );
    assert_eq!(
        native.op(&s, Op::SMembers).await,
        Ok(OpReply::Members(vec![b("b")]))
    );
    assert_eq!(
        error_kind(native.op(&s, Op::Incr { delta: 1 }).await),
        (ErrorKind::WrongType, Applied::No)
    );
    assert_eq!(
        error_kind(native.op(&s, Op::Get).await),
        (ErrorKind::WrongType, Applied::No)
    );

    // Hashes.
    let h = elsewhere("hash");
    let fields = vec![(b("f1"), b("v1")), (b("f2"), b("v2"))];
    assert_eq!(
        native.op(&h, Op::HSet { fields }).await,
        Ok(OpReply::Int(2))
    );
    let f1 = Op::HGet { field: b("f1") };
    assert_eq!(native.op(&h, f1).await, Ok(OpReply::Field(Some(b("v1")))));
    let mut all = match native.op(&h, Op::HGetAll).await.unwrap() {
        OpReply::Fields(f) => f,
        other => panic!("{other:?}"),
    };
    all.sort();
    assert_eq!(all, vec![(b("f1"), b("v1")), (b("f2"), b("v2"))]);
    let del = Op::HDel {
        fields: vec![b("f1"), b("nope")],
    };
    assert_eq!(native.op(&h, del).await, Ok(OpReply::Int(1)));
    assert_eq!(
        native.op(&h, Op::HGetAll).await,
        Ok(OpReply::Fields(vec![(b("f2"), b("v2"))]))
    );

    // A batch answers each op in order; one over `max_batch` is refused whole.
    let ops = vec![
        request(
            NamespaceId::DEFAULT,
            &c,
            Op::Incr { delta: 1 },
            Spec::default(),
        ),
        request(NamespaceId::DEFAULT, &s, Op::SMembers, Spec::default()),
        request(
            NamespaceId::DEFAULT,
            &s,
            Op::Incr { delta: 1 },
            Spec::default(),
        ),
    ];
    match native.call(&Request::Batch(ops)).await.body {
        Body::Batch(answers) => {
            assert_eq!(answers.len(), 3);
            assert_eq!(answers[0], Ok(OpReply::Int(4)));
            assert_eq!(answers[1], Ok(OpReply::Members(vec![b("b")])));
            assert_eq!(
                error_kind(answers[2].clone()),
                (ErrorKind::WrongType, Applied::No)
            );
        }
        other => panic!("batch: {other:?}"),
    }
    let too_many = (0..5)
        .map(|_| {
            request(
                NamespaceId::DEFAULT,
                &c,
                Op::Incr { delta: 1 },
                Spec::default(),
            )
        })
        .collect();
    match native.call(&Request::Batch(too_many)).await.body {
        Body::Error(e) => assert_eq!((e.kind, e.applied), (ErrorKind::Invalid, Applied::No)),
        other => panic!("oversized batch: {other:?}"),
    }
    assert_eq!(
        values(native.op(&c, Op::Get).await.unwrap()).1,
        vec![Some(b("4"))]
    );

    // The same write sent twice (a resend after a lost reply) is applied once.
    let d = elsewhere("dedup");
    let once = request(
        NamespaceId::DEFAULT,
        &d,
        Op::Incr { delta: 10 },
        Spec::default(),
    );
    assert_eq!(native.send(once.clone()).await, Ok(OpReply::Int(10)));
    let other_conn = Native::open(&cluster, 0).await;
    assert_eq!(other_conn.send(once.clone()).await, Ok(OpReply::Int(10)));
    assert_eq!(
        values(native.op(&d, Op::Get).await.unwrap()).1,
        vec![Some(b("10"))]
    );
    // Its id cannot carry another request.
    let reused = OpRequest {
        op: Op::Incr { delta: 1 },
        ..once
    };
    assert_eq!(
        error_kind(native.send(reused).await),
        (ErrorKind::Invalid, Applied::No)
    );

    // A consistency below the namespace's floor is refused before anything is sent.
    let created = blocking(|| {
        cluster.command(
            0,
            &["NAMESPACE", "CREATE", "strict", "N", "2", "MIN_W", "2"],
            None,
        )
    });
    assert_eq!(created, "+OK\r\n");
    let strict = native.namespace("strict").await.unwrap();
    assert_eq!(strict.n, 2);
    let weak = Spec {
        w: Some(1),
        ..Spec::default()
    };
    let e = native
        .send(request(strict.id, "x", set("v"), weak))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.applied), (ErrorKind::Refused, Applied::No));
    assert!(e.message.contains("min_w"), "{}", e.message);
    let fine = request(strict.id, "x", set("v"), Spec::preset(Preset::All));
    assert_eq!(native.send(fine).await, Ok(OpReply::Done));

    // A scan walks the namespace's keys page by page.
    let mut keys = Vec::new();
    let mut from = 0;
    loop {
        let scan = ScanRequest {
            ns: strict.id,
            from_hash: from,
            count: 100,
            consistency: Spec::default(),
        };
        let page = match native.call(&Request::Scan(scan)).await.body {
            Body::Scan(page) => page,
            other => panic!("scan: {other:?}"),
        };
        keys.extend(page.keys);
        match page.next {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(keys, vec![b("x")]);

    // Native requests are counted in the node's metrics under their RESP family.
    let metrics = blocking(|| {
        support::raw(cluster.nodes[0].admin, b"GET /metrics HTTP/1.0\r\n\r\n").unwrap()
    });
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("kvorum_requests_total{ns=\"0\",family=\"counters\",consistency=\"quorum\",outcome=\"ok\"}"),
        "{metrics}"
    );

    // Garbage on a stream is answered with an error; the connection and the node carry on.
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\n\r\n",
        &[0, 0, 0, 6, 1, 0xc1, 0xff, 0x00, 0x13, 0x37],
        &[0, 0, 0, 100, 1, 2, 3],
    ];
    for bytes in garbage {
        match native.raw(bytes).await {
            Some(Response {
                body: Body::Error(e),
                ..
            }) => assert_eq!((e.kind, e.applied), (ErrorKind::Invalid, Applied::No)),
            other => panic!("garbage {bytes:?} answered with {other:?}"),
        }
    }
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(&[0xff; 1200], cluster.nodes[0].quic).unwrap();
    assert_eq!(native.topology().await, topology);
    assert_eq!(
        values(native.op(&c, Op::Get).await.unwrap()).1,
        vec![Some(b("4"))]
    );
    let pong = blocking(|| support::raw(cluster.nodes[0].resp, b"PING\r\n").unwrap());
    assert!(pong.starts_with(b"+PONG"));

    // With only one node left, a write needing two replicas is not even tried.
    let mut cluster = cluster;
    blocking(|| {
        cluster.kill(1);
        cluster.kill(2);
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = native.op(&d, Op::Incr { delta: 1 }).await;
        match answer {
            Err(e) if e.kind == ErrorKind::Unavailable => {
                assert_eq!(e.applied, Applied::No);
                assert!(e.message.starts_with("UNAVAILABLE"), "{}", e.message);
                break;
            }
            // Until the node notices its peers are gone, it may still try and time out.
            Err(e) if e.kind == ErrorKind::Timeout => assert_eq!(e.applied, Applied::Maybe),
            other => panic!("with a minority left: {other:?}"),
        }
        assert!(Instant::now() < deadline, "never UNAVAILABLE");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
