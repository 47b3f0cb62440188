//! `kvorum-bench repair-impact`: what an anti-entropy rebuild costs the foreground.
//!
//! Issue 8 asks that anti-entropy be "rate-limited so foreground latency stays within 10% of its
//! unloaded p99 while repair runs". This measures exactly that, on real `kvorum server`
//! processes: for each rate of `[antientropy] max_keys_per_sec` it starts a fresh 3-node cluster
//! (N = 3, each node on its own loopback address, configs from `kvorum cluster-config`, scheduled
//! rounds and hinted handoff off so nothing but the on-demand round repairs), loads the keys,
//! and measures the same closed-loop GET/SET load against node 1 in three windows:
//!
//! - **unloaded**: the cluster healthy and idle but for the load;
//! - **during**: node 3 has been SIGKILLed, its data dir deleted, and it has been restarted empty;
//!   `ADMIN REPAIR` on node 3 rebuilds it from the others while the load runs. The window ends
//!   after `--seconds` or when the repair answers, whichever comes first; it is *valid* only if
//!   the repair was still running at its end (otherwise its samples mix repair and no repair);
//! - **after**: the repair has finished.
//!
//! Only the ratio p99(during) / p99(unloaded) of one cluster counts: the machines these runs use
//! are shared, so absolute figures drift between runs. Every window also reports the CPU the
//! nodes used and the CPU the rest of the machine used, so a window disturbed by other work shows
//! it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use kvorum_jepsen::local::{ClusterSpec, LocalCluster};

/// Socket timeout of the load's connections: above the node's request timeout (2 s), so the
/// node's own `-TIMEOUT` arrives first.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// SETs per pipeline while loading.
const LOAD_BATCH: usize = 256;
/// Idle time before each window: lets the storage engine's background work after the load (or
/// the restart) settle, so the unloaded window is not disturbed by the load itself.
const SETTLE: Duration = Duration::from_secs(3);
/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on Linux).
const TICKS: u64 = 100;
/// The requirement of issue 8: p99 during repair at most 10% above the unloaded p99.
const MAX_RATIO: f64 = 1.10;
/// A window in which the rest of the machine used more than this share of one core (on
/// average) is marked disturbed: on a shared 2-core machine, someone else's compile moves the
/// p99 by more than the 10% under test.
const DISTURBED_SHARE: f64 = 0.10;

#[derive(clap::Args, Debug)]
pub struct RepairArgs {
    /// The `kvorum` binary; default: the one next to this binary, else target/release/kvorum.
    #[arg(long)]
    kvorum: Option<PathBuf>,
    /// Values of `[antientropy] max_keys_per_sec` to measure, one fresh cluster each, in this
    /// order (repeat a value to see the noise).
    #[arg(long, value_delimiter = ',', default_value = "500,2000,10000,1000000")]
    rates: Vec<u32>,
    /// Keys loaded (and rebuilt on node 3). The default makes a rebuild at the default rate
    /// (500/s) and at 2000/s last well over a 20 s window.
    #[arg(long, default_value_t = 60_000)]
    keys: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 512)]
    value_bytes: usize,
    /// Length of each measurement window.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of the same load, not measured, before the unloaded window.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Client connections to node 1, each sending one request at a time.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// 0: closed loop (each client sends its next request as soon as the answer is in, so the
    /// load takes whatever the machine has). Otherwise the clients together send this many
    /// requests per second, evenly spaced, whatever the latency (an open-loop load with
    /// headroom); latency then counts from when a request was due.
    #[arg(long, default_value_t = 0)]
    ops_per_sec: u64,
    /// The nodes' fsync setting (`kvorum cluster-config --fsync`).
    #[arg(long, default_value = "always")]
    fsync: String,
    /// Upper bound on a repair's duration; a longer one fails the run.
    #[arg(long, default_value_t = 900)]
    repair_timeout_secs: u64,
    /// Upper bound on requests per client and window.
    #[arg(long, default_value_t = 2_000_000)]
    max_ops: usize,
    /// Keep the clusters' folders (configs, data, node logs) and print where they are.
    #[arg(long)]
    keep: bool,
}

/// A connection with timeouts on connect, read and write: a node that hangs fails the run
/// instead of hanging it.
fn connect(addr: SocketAddr, timeout: Duration) -> anyhow::Result<redis::Connection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let conn = client.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

/// A fresh 3-node cluster (every key on every node, so node 3 holds, and must rebuild, all)
/// in a folder of its own, with the repair rate under test.
fn start_cluster(
    args: &RepairArgs,
    kvorum: &Path,
    rate: u32,
    run: usize,
) -> anyhow::Result<LocalCluster> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "kvorum-repair-impact-{}-{stamp}-{run}-r{rate}",
        std::process::id()
    ));
    let setting =
        |table: &str, key: &str, value: toml::Value| (table.to_owned(), key.to_owned(), value);
    let spec = ClusterSpec {
        kvorum: kvorum.to_owned(),
        dir,
        keep: args.keep,
        nodes: 3,
        fsync: args.fsync.clone(),
        engine: None,
        // Only the on-demand round repairs (a scheduled one would race it), and no hints:
        // node 3 is rebuilt by anti-entropy alone, at the rate under test.
        settings: vec![
            setting("antientropy", "enabled", toml::Value::Boolean(false)),
            setting(
                "antientropy",
                "max_keys_per_sec",
                toml::Value::Integer(i64::from(rate)),
            ),
            setting("hints", "enabled", toml::Value::Boolean(false)),
        ],
        ready_key: "repair-impact:ready".to_owned(),
    };
    let cluster = LocalCluster::start(&spec)?;
    if args.keep {
        eprintln!("keeping {}", cluster.dir.display());
    }
    Ok(cluster)
}

/// A small deterministic generator (xorshift64*): keys and values need no cryptographic
/// randomness, and the bench keeps its dependencies few.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Random bytes, so no layer can shrink the values by compressing them.
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}

fn key(i: usize) -> String {
    format!("ri:{i:08}")
}

/// Loads `keys` keys at QUORUM through node 1, pipelined.
fn load(addr: SocketAddr, keys: usize, value_bytes: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut conn = connect(addr, Duration::from_secs(30))?;
    redis::cmd("CONSISTENCY")
        .arg("QUORUM")
        .query::<()>(&mut conn)?;
    let mut rng = Rng::new(0x5eed);
    let mut i = 0;
    while i < keys {
        let mut pipe = redis::pipe();
        for k in i..(i + LOAD_BATCH).min(keys) {
            pipe.cmd("SET")
                .arg(key(k))
                .arg(rng.bytes(value_bytes))
                .ignore();
        }
        pipe.query::<()>(&mut conn)
            .with_context(|| format!("loading keys {i}.."))?;
        i += LOAD_BATCH;
    }
    Ok(started.elapsed())
}

/// What one client saw in one window: each request's latency in microseconds.
#[derive(Default)]
struct ClientLog {
    micros: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
}

/// What every client of a window does.
#[derive(Clone, Copy)]
struct Load {
    addr: SocketAddr,
    keys: usize,
    value_bytes: usize,
    deadline: Instant,
    max_ops: usize,
    /// `None`: closed loop (next request as soon as the answer is in). `Some(i)`: paced, one
    /// request every `i`, its latency counted from when it was due, so a stall counts against
    /// every request it delayed (no coordinated omission).
    interval: Option<Duration>,
}

/// One client: GET or SET (50/50) of a random loaded key at QUORUM, one at a time, until
/// `stop`, the deadline or `max_ops`.
fn client(load: Load, seed: u64, stop: &AtomicBool) -> anyhow::Result<ClientLog> {
    let mut conn = connect(load.addr, CLIENT_TIMEOUT)?;
    redis::cmd("CONSISTENCY")
        .arg("QUORUM")
        .query::<()>(&mut conn)?;
    let mut rng = Rng::new(seed);
    let value = rng.bytes(load.value_bytes);
    let mut log = ClientLog::default();
    // Paced clients start spread over one interval, not all at once.
    let mut due = Instant::now()
        + load
            .interval
            .map_or(Duration::ZERO, |i| i.mul_f64(rng.unit()));
    while log.micros.len() < load.max_ops && !stop.load(Ordering::Relaxed) {
        let k = key(rng.below(load.keys));
        let get = rng.next_u64() & 1 == 0;
        let t = match load.interval {
            None => Instant::now(),
            Some(interval) => {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let t = due;
                due += interval;
                t
            }
        };
        if t >= load.deadline {
            break;
        }
        let answer = if get {
            redis::cmd("GET")
                .arg(&k)
                .query::<Option<Vec<u8>>>(&mut conn)
                .map(drop)
        } else {
            redis::cmd("SET").arg(&k).arg(&value).query::<()>(&mut conn)
        };
        log.micros.push(t.elapsed().as_micros() as u64);
        if let Err(e) = answer {
            log.errors += 1;
            if log.first_error.is_none() {
                log.first_error = Some(e.to_string());
            }
            if e.is_io_error() {
                // A broken connection: open a new one rather than fail every later request.
                conn = connect(load.addr, CLIENT_TIMEOUT)?;
                redis::cmd("CONSISTENCY")
                    .arg("QUORUM")
                    .query::<()>(&mut conn)?;
            }
        }
    }
    Ok(log)
}

fn process_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&pid| kvorum_bench::cpu_seconds(Path::new("/proc"), pid, TICKS))
        .sum()
}

/// The figures of one window.
struct Window {
    /// When the last client stopped.
    ended: Instant,
    ops: usize,
    seconds: f64,
    errors: usize,
    first_error: Option<String>,
    p50: f64,
    p99: f64,
    p999: f64,
    /// CPU seconds of the three nodes over the window.
    nodes_cpu: f64,
    /// CPU seconds of everything else on the machine (not the nodes, not this process): other
    /// people's work disturbing the figures.
    others_cpu: f64,
}

impl Window {
    fn throughput(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    fn disturbed(&self) -> bool {
        self.others_cpu > DISTURBED_SHARE * self.seconds
    }

    fn row(&self, rate: u32, name: &str) -> String {
        format!(
            "{rate:>8} {name:<9} {:>7} {:>8.0} {:>7.3} {:>7.3} {:>8.3} {:>6} {:>11.1} {:>12.1}{}",
            self.ops,
            self.throughput(),
            self.p50,
            self.p99,
            self.p999,
            self.errors,
            self.nodes_cpu,
            self.others_cpu,
            if self.disturbed() { " disturbed" } else { "" }
        )
    }
}

const HEADER: &str =
    "  rate/s window        ops    ops/s  p50_ms  p99_ms p99.9_ms errors nodes_cpu_s others_cpu_s";

/// The `q` quantile (nearest rank) of sorted microseconds, in milliseconds.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let rank = ((last as f64) * q).round() as usize;
    sorted[rank.min(last)] as f64 / 1_000.0
}

/// Runs the load for up to `length` (less if `stop` is set from outside) and measures it.
fn measure(
    args: &RepairArgs,
    cluster: &LocalCluster,
    length: Duration,
    stop: &Arc<AtomicBool>,
    salt: u64,
) -> anyhow::Result<Window> {
    let addr = cluster.nodes[0].resp;
    let pids = cluster.pids();
    let me = [std::process::id()];
    let (machine0, nodes0, me0) = (
        kvorum_bench::machine::busy_seconds(),
        process_seconds(&pids),
        process_seconds(&me),
    );
    let started = Instant::now();
    let deadline = started + length;
    let load = Load {
        addr,
        keys: args.keys,
        value_bytes: args.value_bytes,
        deadline,
        max_ops: args.max_ops,
        interval: (args.ops_per_sec > 0)
            .then(|| Duration::from_secs_f64(args.clients as f64 / args.ops_per_sec as f64)),
    };
    let threads: Vec<_> = (0..args.clients)
        .map(|c| {
            let stop = Arc::clone(stop);
            let seed = salt.wrapping_mul(1_000_003) ^ (c as u64 + 1);
            std::thread::spawn(move || client(load, seed, &stop))
        })
        .collect();
    let mut micros = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for thread in threads {
        let log = thread
            .join()
            .map_err(|_| anyhow!("a client thread panicked"))??;
        micros.extend(log.micros);
        errors += log.errors;
        first_error = first_error.or(log.first_error);
    }
    let seconds = started.elapsed().as_secs_f64();
    let nodes_cpu = process_seconds(&pids) - nodes0;
    let me_cpu = process_seconds(&me) - me0;
    let others_cpu = match (machine0, kvorum_bench::machine::busy_seconds()) {
        (Some(a), Some(b)) => (b - a - nodes_cpu - me_cpu).max(0.0),
        _ => f64::NAN,
    };
    micros.sort_unstable();
    Ok(Window {
        ended: Instant::now(),
        ops: micros.len(),
        seconds,
        errors,
        first_error,
        p50: quantile_ms(&micros, 0.50),
        p99: quantile_ms(&micros, 0.99),
        p999: quantile_ms(&micros, 0.999),
        nodes_cpu,
        others_cpu,
    })
}

/// A number field of the `ADMIN REPAIR` JSON answer (flat, so a search for the field name is
/// enough and the bench needs no JSON dependency).
fn json_u64(json: &str, field: &str) -> Option<u64> {
    let at = json.find(&format!("\"{field}\""))? + field.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The outcome of one rate.
struct RateResult {
    rate: u32,
    unloaded: Window,
    during: Window,
    after: Window,
    /// Whether the repair was still running when the during window ended.
    valid: bool,
    repair_seconds: f64,
    keys_pulled: Option<u64>,
    repair_errors: Option<u64>,
}

impl RateResult {
    fn ratio(&self) -> f64 {
        self.during.p99 / self.unloaded.p99
    }

    /// Neither window of the ratio disturbed by the rest of the machine.
    fn quiet(&self) -> bool {
        !self.unloaded.disturbed() && !self.during.disturbed()
    }
}

fn one_rate(args: &RepairArgs, kvorum: &Path, rate: u32, run: usize) -> anyhow::Result<RateResult> {
    let mut cluster = start_cluster(args, kvorum, rate, run)?;
    let loaded = load(cluster.nodes[0].resp, args.keys, args.value_bytes)?;
    println!(
        "rate {rate}/s: cluster up, {} keys × {} B loaded at QUORUM in {:.1} s",
        args.keys,
        args.value_bytes,
        loaded.as_secs_f64()
    );
    let length = Duration::from_secs(args.seconds);
    let never = Arc::new(AtomicBool::new(false));

    std::thread::sleep(SETTLE);
    // The same load, not counted: the unloaded window then starts from the steady state the
    // after window starts from (caches warm, the store's flushes under way), not from the bulk
    // load.
    measure(
        args,
        &cluster,
        Duration::from_secs(args.warmup),
        &never,
        u64::MAX - run as u64,
    )?;
    let unloaded = measure(args, &cluster, length, &never, run as u64 * 3)?;
    println!("{}", unloaded.row(rate, "unloaded"));
    cluster.check_alive().map_err(anyhow::Error::msg)?;

    // Node 3 loses its whole data dir and comes back empty.
    cluster.nodes[2].kill()?;
    let data = cluster.nodes[2].data.clone();
    std::fs::remove_dir_all(&data).with_context(|| format!("deleting {}", data.display()))?;
    cluster.nodes[2].start(kvorum)?;
    cluster.nodes[2].wait_ping().map_err(anyhow::Error::msg)?;
    cluster.wait_ready().map_err(anyhow::Error::msg)?;
    std::thread::sleep(SETTLE);

    let n3 = cluster.nodes[2].resp;
    let repair_timeout = Duration::from_secs(args.repair_timeout_secs);
    let (done_tx, done_rx) = mpsc::channel();
    // Set when the repair answers: the during window ends then if it has not already.
    let stop = Arc::new(AtomicBool::new(false));
    let repair_started = Instant::now();
    {
        // On its own connection and thread: the answer comes when the round is done.
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let answer = connect(n3, CLIENT_TIMEOUT).and_then(|mut c| {
                c.set_read_timeout(Some(repair_timeout))?;
                Ok(redis::cmd("ADMIN").arg("REPAIR").query::<String>(&mut c)?)
            });
            let finished = Instant::now();
            stop.store(true, Ordering::Relaxed);
            let _ = done_tx.send((finished, answer));
        });
    }
    let during = measure(args, &cluster, length, &stop, run as u64 * 3 + 1)?;
    // Valid only if the repair had not answered by the window's end.
    let early = match done_rx.try_recv() {
        Ok(done) => Some(done),
        Err(mpsc::TryRecvError::Empty) => None,
        Err(mpsc::TryRecvError::Disconnected) => bail!("the repair thread ended without an answer"),
    };
    let valid = early
        .as_ref()
        .is_none_or(|(finished, _)| *finished >= during.ended);
    println!(
        "{}  repair {}",
        during.row(rate, "during"),
        if valid {
            "still running at the window's end"
        } else {
            "FINISHED BEFORE the window's end: window cut short, INVALID"
        }
    );
    let (finished, answer) = match early {
        Some(done) => done,
        None => done_rx
            .recv_timeout(repair_timeout.saturating_sub(repair_started.elapsed()))
            .map_err(|e| {
                anyhow!(
                    "ADMIN REPAIR on n3 did not answer within {} s: {e}",
                    args.repair_timeout_secs
                )
            })?,
    };
    let json = answer.context("ADMIN REPAIR on n3")?;
    let repair_seconds = finished.duration_since(repair_started).as_secs_f64();
    let keys_pulled = json_u64(&json, "keys_pulled");
    let repair_errors = json_u64(&json, "errors_total");
    println!(
        "rate {rate}/s: repair took {repair_seconds:.1} s, keys pulled {}, errors {}",
        keys_pulled.map_or("?".to_owned(), |k| k.to_string()),
        repair_errors.map_or("?".to_owned(), |k| k.to_string())
    );
    if repair_errors.unwrap_or(0) > 0 || !json.contains("\"peers_down\":[]") {
        println!("rate {rate}/s: repair answer: {json}");
    }
    cluster.check_alive().map_err(anyhow::Error::msg)?;

    std::thread::sleep(SETTLE);
    let after = measure(args, &cluster, length, &never, run as u64 * 3 + 2)?;
    println!("{}", after.row(rate, "after"));
    cluster.check_alive().map_err(anyhow::Error::msg)?;
    for (name, w) in [
        ("unloaded", &unloaded),
        ("during", &during),
        ("after", &after),
    ] {
        if let Some(e) = &w.first_error {
            println!(
                "rate {rate}/s: {} errors in the {name} window, first: {e}",
                w.errors
            );
        }
    }
    Ok(RateResult {
        rate,
        unloaded,
        during,
        after,
        valid,
        repair_seconds,
        keys_pulled,
        repair_errors,
    })
}

/// The `kvorum` binary: as given, else next to this binary, else target/release/kvorum.
fn find_kvorum(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match given {
        Some(path) => vec![path.to_owned()],
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("kvorum")))
            .into_iter()
            .chain([PathBuf::from("target/release/kvorum")])
            .collect(),
    };
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "no kvorum binary at {} (build it with `cargo build --release -p kvorum-node`, \
                 or pass --kvorum)",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
}

/// `kvorum-bench repair-impact`.
pub fn repair_impact(args: RepairArgs) -> anyhow::Result<()> {
    if args.rates.is_empty() || args.rates.contains(&0) {
        bail!("--rates: give one or more rates, each at least 1");
    }
    if args.keys == 0 || args.clients == 0 || args.seconds == 0 {
        bail!("--keys, --clients and --seconds must be at least 1");
    }
    let kvorum = find_kvorum(args.kvorum.as_deref())?;
    let mode = match args.ops_per_sec {
        0 => "closed-loop".to_owned(),
        n => format!("paced ({n} requests/s in all)"),
    };
    println!(
        "repair-impact: 3 nodes on loopback (N=3, fsync={}, scheduled anti-entropy and hints \
         off), {} keys × {} B; load: {} {mode} clients, 50/50 GET/SET of random keys at \
         QUORUM to n1; {} s warm-up, {} s windows; rates {:?}",
        args.fsync,
        args.keys,
        args.value_bytes,
        args.clients,
        args.warmup,
        args.seconds,
        args.rates
    );
    println!("{HEADER}");
    let mut results = Vec::new();
    for (run, &rate) in args.rates.iter().enumerate() {
        results.push(one_rate(&args, &kvorum, rate, run)?);
    }
    println!();
    println!(
        "  rate/s  repair_s  keys_pulled  p99_unloaded  p99_during  p99_after  \
         during/unloaded  during/after  ≤{MAX_RATIO:.2}  machine    window"
    );
    // Per rate: its valid, quiet runs, and whether each kept p99 within the bound. A rate
    // passes only if every such run did (repeats of one rate show the noise).
    let mut judged: BTreeMap<u32, Vec<bool>> = BTreeMap::new();
    for r in &results {
        let within = r.ratio() <= MAX_RATIO;
        if r.valid && r.quiet() {
            judged.entry(r.rate).or_default().push(within);
        }
        println!(
            "{:>8} {:>9.1} {:>12} {:>13.3} {:>11.3} {:>10.3} {:>16.2} {:>13.2} {:>6}  {:<9}  {}",
            r.rate,
            r.repair_seconds,
            r.keys_pulled.map_or("?".to_owned(), |k| k.to_string()),
            r.unloaded.p99,
            r.during.p99,
            r.after.p99,
            r.ratio(),
            r.during.p99 / r.after.p99,
            if within { "yes" } else { "no" },
            if r.quiet() { "quiet" } else { "disturbed" },
            if r.valid {
                "valid"
            } else {
                "INVALID (repair ended first)"
            }
        );
    }
    let flawed: Vec<u32> = results
        .iter()
        .filter(|r| !r.valid || r.repair_errors.unwrap_or(0) > 0)
        .map(|r| r.rate)
        .collect();
    if !flawed.is_empty() {
        println!(
            "note: rates {flawed:?} had a repair that ended before the window did or reported \
             errors; their during figures do not measure a whole window of repair (raise --keys)"
        );
    }
    let passing = judged
        .iter()
        .filter(|(_, runs)| runs.iter().all(|&ok| ok))
        .map(|(&rate, _)| rate)
        .next_back();
    match passing {
        Some(best) => println!(
            "highest measured rate whose every valid, quiet run kept p99 within {:.0}%: {best}/s",
            (MAX_RATIO - 1.0) * 100.0
        ),
        None => println!(
            "no measured rate kept p99 within {:.0}% over a valid, quiet run",
            (MAX_RATIO - 1.0) * 100.0
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repair_answer_fields_are_read() {
        let json = r#"{"format":1,"node":3,"report":{"keys_pulled": 59998,"errors_total":0}}"#;
        assert_eq!(json_u64(json, "keys_pulled"), Some(59_998));
        assert_eq!(json_u64(json, "errors_total"), Some(0));
        assert_eq!(json_u64(json, "missing"), None);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(quantile_ms(&v, 0.5), 501.0);
        assert_eq!(quantile_ms(&v, 0.99), 990.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
