//! `ycsb::load` then `ycsb::run` against a real single kvorum node (`kvorum dev --nodes 1
//! --replication 1`), through RESP and through the native client, then the report files.
//!
//! The node is the `kvorum` binary of the same build (`cargo build -p kvorum-node` first), or the
//! one `KVORUM_BIN` names. Without it the test fails and says how to build it; set
//! `KVORUM_BENCH_SKIP_NODE_TESTS=1` to skip it on purpose.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvorum_bench::driver::native::NativeTarget;
use kvorum_bench::driver::resp::RespTarget;
use kvorum_bench::driver::Target;
use kvorum_bench::report::{self, Report};
use kvorum_bench::ycsb::{self, LoadMode, RunSpec, Workload, WorkloadSpec};

/// The `kvorum` binary: `KVORUM_BIN`, else next to this test's build directory.
fn kvorum_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KVORUM_BIN") {
        return Some(PathBuf::from(path));
    }
    // target/<profile>/deps/<this test> → target/<profile>/kvorum
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.parent()?.join("kvorum");
    candidate.exists().then_some(candidate)
}

/// A base port whose RESP, QUIC and admin ports are free now (as node/tests/dev.rs picks them).
fn free_base_port() -> u16 {
    let start = 30_000 + (std::process::id() % 97) as u16 * 53;
    for base in (start..40_000).step_by(41) {
        let free = TcpListener::bind(("127.0.0.1", base)).is_ok()
            && UdpSocket::bind(("127.0.0.1", base + 1000)).is_ok()
            && TcpListener::bind(("127.0.0.1", base + 2000)).is_ok()
            && TcpListener::bind(("127.0.0.1", base + 3000)).is_ok();
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

/// `kvorum dev`, stopped (SIGTERM to it, which stops its node) when dropped, by pid only.
struct Dev {
    child: Child,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let pid = self.child.id();
        let nodes = ycsb::cpu::with_descendants(Path::new("/proc"), &[pid]);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for node in nodes.iter().filter(|&&p| p != pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &node.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

fn spec(workload: Workload, records: u64) -> RunSpec {
    RunSpec {
        data: WorkloadSpec {
            workload,
            record_count: records,
            value_bytes: 100,
            distribution: None,
            max_scan: 10,
        },
        clients: 8,
        pipeline: 1,
        mode: LoadMode::Closed,
        warmup: Duration::from_millis(500),
        duration: Duration::from_secs(2),
        max_ops: None,
        progress: false,
    }
}

#[test]
fn load_and_run_workload_a_against_a_single_kvorum_node() {
    if std::env::var_os("KVORUM_BENCH_SKIP_NODE_TESTS").is_some() {
        eprintln!("skipped: KVORUM_BENCH_SKIP_NODE_TESTS is set");
        return;
    }
    let Some(kvorum) = kvorum_binary() else {
        panic!(
            "this test needs the kvorum binary of the same build: run `cargo build -p \
             kvorum-node` (same profile and target dir) first, or set KVORUM_BIN=path/to/kvorum; \
             set KVORUM_BENCH_SKIP_NODE_TESTS=1 to skip it"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port();
    let child = Command::new(&kvorum)
        .args(["dev", "--nodes", "1", "--replication", "1", "--base-port"])
        .arg(base.to_string())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", kvorum.display()));
    let dev = Dev { child };
    let resp: SocketAddr = ([127, 0, 0, 1], base).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ping(resp) {
        assert!(Instant::now() < deadline, "the node never answered PING");
        std::thread::sleep(Duration::from_millis(100));
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = [dev.child.id()];
    let records = 2_000;
    let resp_target = Target::Resp(RespTarget {
        spread: Vec::new(),
        addr: resp,
        consistency: Some("QUORUM".into()),
        wait: None,
        password: None,
    });
    let native_target = Target::Native(NativeTarget {
        seeds: vec![format!("127.0.0.1:{}", base + 1000)],
        ca: dir.path().join("data/tls/ca.pem").display().to_string(),
        consistency: "quorum".into(),
        password: None,
    });
    let (by_resp, by_native) = runtime.block_on(async {
        let s = spec(Workload::A, records);
        ycsb::load(&resp_target, &s.data, 8).await.unwrap();
        let by_resp = ycsb::run(&resp_target, &s, &server).await.unwrap();
        let by_native = ycsb::run(&native_target, &s, &server).await.unwrap();
        (by_resp, by_native)
    });

    for r in [&by_resp, &by_native] {
        assert!(r.ops > 100, "{}: only {} ops", r.contender, r.ops);
        assert_eq!(r.errors, 0, "{}: {:?}", r.contender, r.error_samples);
        assert!(
            r.server_cpu_s > 0.0,
            "{}: no server CPU measured",
            r.contender
        );
        assert!(r.server_cpu_us_per_op > 0.0);
        assert!(
            (1.9..3.0).contains(&r.seconds),
            "{}: {} s",
            r.contender,
            r.seconds
        );
        assert!((r.ops_per_sec - r.ops as f64 / r.seconds).abs() < 1.0);
        // Workload A: half reads, half updates.
        let reads = r.per_op_count["read"] as f64;
        let updates = r.per_op_count["update"] as f64;
        assert!(
            (reads / (reads + updates) - 0.5).abs() < 0.1,
            "{:?}",
            r.per_op_count
        );
        assert!(r.latency.p50_ms > 0.0 && r.latency.p50_ms <= r.latency.p99_ms);
        assert_eq!(r.series.len(), 2);
        assert!(r.series.iter().all(|s| s.ops > 0));
        assert_eq!(r.series.iter().map(|s| s.ops).sum::<u64>(), r.ops);
    }

    let out = dir.path().join("report");
    let latest = dir.path().join("bench-results/latest.json");
    let html = report::write(
        &out,
        &latest,
        &Report {
            title: "single node".into(),
            results: vec![by_resp, by_native],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(html.exists() && out.join("results.json").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&latest).unwrap()).unwrap();
    assert_eq!(summary.as_array().map(Vec::len), Some(2));
    assert_eq!(summary[0]["workload"], "a");
    drop(dev);
}
