//! The etcd driver against a real etcd (an ignored test: it needs Debian's etcd-server):
//! puts land, linearizable and serializable reads answer, and a scan whose answer is too big
//! for one buffer (etcd then sends it chunked) succeeds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kvorum_bench::driver::etcd::EtcdTarget;
use kvorum_bench::driver::{Op, Target};

/// The etcd process, killed by pid when the test ends, however it ends.
struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// How many keys etcd holds, asked over a plain HTTP/1.0 request (independent of the driver).
fn count_keys(addr: SocketAddr) -> String {
    let body = r#"{"key":"AA==","range_end":"AA==","count_only":true}"#;
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "POST /v3/kv/range HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

/// Ignored by `cargo test --workspace` (a fresh machine has no etcd; the test is listed as
/// ignored, not passed); `.ci/run` installs etcd-server and runs the ignored tests.
#[tokio::test]
#[ignore = "needs etcd (Debian package etcd-server): cargo test -p kvorum-bench -- --ignored"]
async fn puts_reads_and_big_scans_work_against_a_real_etcd() {
    let Some(etcd) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("etcd"))
            .find(|p| p.is_file())
    }) else {
        panic!("etcd is not installed: apt-get install etcd-server");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (client, peer) = (free_port(), free_port());
    let _etcd = Etcd(
        Command::new(etcd)
            .args(["--name", "e1", "--data-dir"])
            .arg(dir.path().join("e1"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ])
            .args(["--initial-cluster", &format!("e1=http://127.0.0.1:{peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], client));
    let target = Target::Etcd(EtcdTarget {
        endpoints: vec![addr],
        linearizable: true,
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        match target.connect().await {
            Ok(conn) => break conn,
            Err(e) if Instant::now() > deadline => panic!("etcd never accepted: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let puts: Vec<Op> = (0..120)
        .map(|i| Op::Insert {
            key: format!("user{i:04}").into_bytes(),
            value: vec![b'v'; 1_000],
        })
        .collect();
    loop {
        match conn.execute(&puts[..1]).await {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => panic!("no put succeeded: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    conn.execute(&puts).await.expect("120 puts, one batch");
    assert!(
        count_keys(addr).contains(r#""count":"120""#),
        "{}",
        count_keys(addr)
    );
    conn.execute(&[
        Op::Read {
            key: b"user0007".to_vec(),
        },
        Op::ReadModifyWrite {
            key: b"user0008".to_vec(),
            value: b"new".to_vec(),
        },
        // About 160 KB of base64 in one answer: etcd sends it chunked.
        Op::Scan {
            start: b"user".to_vec(),
            count: 100,
        },
    ])
    .await
    .expect("read, read-modify-write and scan");
    let serializable = Target::Etcd(EtcdTarget {
        endpoints: vec![addr],
        linearizable: false,
    });
    let mut conn = serializable.connect().await.expect("connect");
    conn.execute(&[Op::Read {
        key: b"user0001".to_vec(),
    }])
    .await
    .expect("serializable read");
}
