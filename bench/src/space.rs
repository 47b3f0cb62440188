//! `kvorum-bench space`: how much disk and memory a storage engine needs for a given amount of
//! live data, and how that changes as the data is overwritten and deleted.
//!
//! The engine is driven through the node's own `Storage` trait, opened by the node's own
//! `storage::engine::open`, exactly as a node does: data keys from
//! `storage::encode_data_key` spread over partitions, ~1 KiB records written with `update`
//! (the node's only write), a `sync` after every batch (what group commit does with
//! `fsync = always`: one fsync per group of writes), and deletes with `remove_if`. Records are
//! pseudo-random bytes, so compression cannot flatter an engine (the node's records are
//! MessagePack of user values, often incompressible).
//!
//! Phases: `load` (write the live data once), `overwrite-1`, `overwrite-2` (every record again,
//! new contents), `delete-half` (every second key), `idle` (wait while background work such as
//! compaction runs), `reopen` (close and open the store again, as after a restart). After each
//! phase: bytes on disk (a walk of the directory, allocated blocks, and the engine's own
//! estimate), live bytes (keys + records still present), their ratio, the process's RSS and
//! peak RSS, the phase's throughput, the CPU time the process used in the phase (the engine's
//! background threads included) and the bytes it caused to be written to the disk
//! (`write_bytes` of /proc/self/io: journals, flushes, compactions; divided by the bytes of the
//! records written, it is the engine's write amplification).
//!
//! Every record's contents are a function of (key, pass), so the run checks the data as it goes:
//! each delete must find the record the last overwrite wrote, and after the reopen a sample of
//! keys must read back exactly (deleted ones absent). The run stops with an error at its time
//! limit and always removes its directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kvorum_node::config::StorageEngine;
use kvorum_node::storage::{self, Storage};

/// Namespace of the generated keys (the default namespace).
const NAMESPACE: u32 = 0;
/// Partitions the keys are spread over (the node's default is 2^10 = 1024).
const PARTITIONS: u32 = 1024;
/// Keys read back after the reopen.
const SAMPLE: u64 = 2_000;

#[derive(clap::Args, Debug)]
pub struct SpaceArgs {
    /// The engine to measure.
    #[arg(long, value_enum)]
    engine: StorageEngine,
    /// Parent folder of the run's store (a fresh subfolder is created and removed).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Live data to load, in GiB (keys + records).
    #[arg(long, default_value_t = 1.0)]
    gb: f64,
    /// Bytes per record.
    #[arg(long, default_value_t = 1_000)]
    record_bytes: usize,
    /// Writes per `sync`.
    #[arg(long, default_value_t = 256)]
    batch: u64,
    /// Seconds of the idle phase.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// The whole run fails (and cleans up) past this many seconds.
    #[arg(long, default_value_t = 1_200)]
    time_limit_secs: u64,
}

/// The phases, in the order they run.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Load,
    Overwrite1,
    Overwrite2,
    DeleteHalf,
    Idle,
    Reopen,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Load,
        Phase::Overwrite1,
        Phase::Overwrite2,
        Phase::DeleteHalf,
        Phase::Idle,
        Phase::Reopen,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Overwrite1 => "overwrite-1",
            Phase::Overwrite2 => "overwrite-2",
            Phase::DeleteHalf => "delete-half",
            Phase::Idle => "idle",
            Phase::Reopen => "reopen",
        }
    }
}

/// Measurements taken at the end of one phase.
struct PhaseReport {
    phase: &'static str,
    ops: u64,
    secs: f64,
    cpu_secs: f64,
    written_bytes: u64,
    disk_bytes: u64,
    engine_bytes: u64,
    live_bytes: u64,
    rss_bytes: u64,
    peak_rss_bytes: u64,
}

impl PhaseReport {
    fn row(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let rate = if self.ops == 0 {
            "–".to_owned()
        } else {
            format!("{:.0}", self.ops as f64 / self.secs.max(1e-9))
        };
        let ratio = if self.live_bytes == 0 {
            "–".to_owned()
        } else {
            format!("{:.2}", self.disk_bytes as f64 / self.live_bytes as f64)
        };
        format!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} | {ratio} | {:.0} | {:.0} |",
            self.phase,
            rate,
            self.secs,
            self.cpu_secs,
            mib(self.written_bytes),
            mib(self.live_bytes),
            mib(self.disk_bytes),
            mib(self.engine_bytes),
            mib(self.rss_bytes),
            mib(self.peak_rss_bytes),
        )
    }
}

/// The run's store, removed when dropped (also on errors and at the time limit).
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything a phase needs.
struct Run {
    storage: Option<Arc<dyn Storage>>,
    engine: StorageEngine,
    dir: PathBuf,
    records: u64,
    record_bytes: usize,
    batch: u64,
    deadline: Instant,
    /// Which keys are present (false once deleted).
    present: Vec<bool>,
}

pub fn space(args: SpaceArgs) -> anyhow::Result<()> {
    if args.engine == StorageEngine::Memory {
        bail!("--engine memory keeps nothing on disk: measure sled or fjall");
    }
    if !(args.gb > 0.0 && args.gb <= 16.0) {
        bail!("--gb must be above 0 and at most 16, got {}", args.gb);
    }
    if args.record_bytes == 0 || args.batch == 0 {
        bail!("--record-bytes and --batch must be at least 1");
    }
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = parent.join(format!(
        "kvorum-space-{}-{}",
        engine_name(args.engine),
        std::process::id()
    ));
    if dir.exists() {
        bail!("{} exists already; remove it or use --dir", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _cleanup = RunDir(dir.clone());

    let entry_bytes = (key(0).len() + args.record_bytes) as u64;
    let records = ((args.gb * (1u64 << 30) as f64) / entry_bytes as f64).ceil() as u64;
    let started = Instant::now();
    let mut run = Run {
        storage: Some(storage::engine::open(args.engine, &dir).with_context(|| {
            format!("opening {} in {}", engine_name(args.engine), dir.display())
        })?),
        engine: args.engine,
        dir: dir.clone(),
        records,
        record_bytes: args.record_bytes,
        batch: args.batch,
        deadline: started + Duration::from_secs(args.time_limit_secs),
        present: vec![false; records as usize],
    };
    println!(
        "kvorum-bench space: engine {}, {records} records of {} B + {} B key ({:.2} GiB live), \
         a sync every {} writes, idle {} s, in {}",
        engine_name(args.engine),
        args.record_bytes,
        key(0).len(),
        (records * entry_bytes) as f64 / (1u64 << 30) as f64,
        args.batch,
        args.idle_secs,
        dir.display()
    );
    println!(
        "| phase | records/s | secs | CPU s | written MiB | live MiB | disk MiB (walk) | engine's estimate MiB | disk/live | RSS MiB | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

    for phase in Phase::ALL {
        let t = Instant::now();
        let before = Usage::now();
        let ops = match phase {
            Phase::Load => run.write_all(0),
            Phase::Overwrite1 => run.write_all(1),
            Phase::Overwrite2 => run.write_all(2),
            Phase::DeleteHalf => run.delete_half(2),
            Phase::Idle => run.idle(Duration::from_secs(args.idle_secs)).map(|()| 0),
            Phase::Reopen => run.reopen_and_check(2).map(|()| 0),
        }
        .with_context(|| format!("phase {}", phase.name()))?;
        let report = run.report(phase.name(), ops, t.elapsed(), before.since())?;
        println!("{}", report.row());
    }
    println!(
        "total {:.0} s; the store was removed",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

impl Run {
    fn storage(&self) -> anyhow::Result<&dyn Storage> {
        self.storage.as_deref().context("the store is not open")
    }

    fn check_deadline(&self) -> anyhow::Result<()> {
        if Instant::now() > self.deadline {
            bail!("the run passed --time-limit-secs; stopped (the store is removed)");
        }
        Ok(())
    }

    /// Writes every record with the contents of `pass`, a sync after each batch.
    fn write_all(&mut self, pass: u64) -> anyhow::Result<u64> {
        let storage = Arc::clone(self.storage.as_ref().context("the store is not open")?);
        let mut record = vec![0u8; self.record_bytes];
        for i in 0..self.records {
            fill(&mut record, i, pass);
            storage.update(&key(i), &mut |_| Ok(Some(record.clone())))?;
            self.present[i as usize] = true;
            if (i + 1) % self.batch == 0 {
                storage.sync()?;
                self.check_deadline()?;
            }
        }
        storage.sync()?;
        Ok(self.records)
    }

    /// Deletes every second key, each only if it holds what `pass` wrote.
    fn delete_half(&mut self, pass: u64) -> anyhow::Result<u64> {
        let storage = Arc::clone(self.storage.as_ref().context("the store is not open")?);
        let mut record = vec![0u8; self.record_bytes];
        let mut ops = 0;
        for i in (0..self.records).step_by(2) {
            fill(&mut record, i, pass);
            if !storage.remove_if(&key(i), &record)? {
                bail!("key {i} did not hold the record its last overwrite wrote");
            }
            self.present[i as usize] = false;
            ops += 1;
            if ops % self.batch == 0 {
                storage.sync()?;
                self.check_deadline()?;
            }
        }
        storage.sync()?;
        Ok(ops)
    }

    /// Waits, so background work (compaction, flushes) can run.
    fn idle(&self, how_long: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + how_long;
        while Instant::now() < end {
            self.check_deadline()?;
            std::thread::sleep(Duration::from_millis(500).min(end - Instant::now()));
        }
        Ok(())
    }

    /// Closes and opens the store again (its time is the phase's), then reads back a sample of
    /// keys.
    fn reopen_and_check(&mut self, pass: u64) -> anyhow::Result<()> {
        self.storage = None; // closes the store: the engine's files are released
        let storage = storage::engine::open(self.engine, &self.dir).context("reopening")?;
        let mut expected = vec![0u8; self.record_bytes];
        let step = (self.records / SAMPLE).max(1);
        for i in (0..self.records).step_by(step as usize) {
            let got = storage.get(&key(i))?;
            if self.present[i as usize] {
                fill(&mut expected, i, pass);
                if got.as_deref() != Some(expected.as_slice()) {
                    bail!("after the reopen key {i} does not hold its last record");
                }
            } else if got.is_some() {
                bail!("after the reopen deleted key {i} is back");
            }
        }
        self.storage = Some(storage);
        Ok(())
    }

    fn report(
        &self,
        phase: &'static str,
        ops: u64,
        took: Duration,
        used: Usage,
    ) -> anyhow::Result<PhaseReport> {
        let live_records = self.present.iter().filter(|&&p| p).count() as u64;
        let entry_bytes = (key(0).len() + self.record_bytes) as u64;
        let (rss_bytes, peak_rss_bytes) = rss().unwrap_or((0, 0));
        Ok(PhaseReport {
            phase,
            ops,
            secs: took.as_secs_f64(),
            cpu_secs: used.cpu_secs,
            written_bytes: used.written_bytes,
            disk_bytes: disk_usage(&self.dir)
                .with_context(|| format!("walking {}", self.dir.display()))?,
            engine_bytes: self.storage()?.size_on_disk()?,
            live_bytes: live_records * entry_bytes,
            rss_bytes,
            peak_rss_bytes,
        })
    }
}

fn engine_name(engine: StorageEngine) -> &'static str {
    match engine {
        StorageEngine::Sled => "sled",
        StorageEngine::Fjall => "fjall",
        StorageEngine::Memory => "memory",
    }
}

/// The data key of record `i`: spread over the partitions like hashed keys would be.
fn key(i: u64) -> Vec<u8> {
    let partition = (splitmix64(i) % u64::from(PARTITIONS)) as u32;
    storage::encode_data_key(NAMESPACE, partition, format!("space:{i:012}").as_bytes())
}

/// The contents record `i` has after `pass`: pseudo-random, so incompressible.
fn fill(record: &mut [u8], i: u64, pass: u64) {
    let mut state = splitmix64(i ^ (pass << 56) ^ 0x5eed);
    for chunk in record.chunks_mut(8) {
        state = splitmix64(state);
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bytes allocated on disk to every file under `dir` (blocks, not apparent length: a sparse or
/// preallocated file counts for what it really occupies).
fn disk_usage(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    Ok(total)
}

/// CPU time and disk writes of this process (all its threads), or what it used since an earlier
/// reading. Zero where /proc does not tell.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    cpu_secs: f64,
    written_bytes: u64,
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

impl Usage {
    fn now() -> Usage {
        let proc_root = Path::new("/proc");
        let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
        Usage {
            cpu_secs: kvorum_bench::cpu_seconds(proc_root, std::process::id(), TICKS_PER_SECOND)
                .unwrap_or(0.0),
            written_bytes: io_field(&io, "write_bytes:").unwrap_or(0),
        }
    }

    fn since(self) -> Usage {
        let now = Usage::now();
        Usage {
            cpu_secs: (now.cpu_secs - self.cpu_secs).max(0.0),
            written_bytes: now.written_bytes.saturating_sub(self.written_bytes),
        }
    }
}

/// The value of a `name: 123` line of /proc/<pid>/io.
fn io_field(io: &str, field: &str) -> Option<u64> {
    io.lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .parse()
        .ok()
}

/// (VmRSS, VmHWM) of this process in bytes, from /proc/self/status.
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some((
        status_kib(&status, "VmRSS:")? * 1024,
        status_kib(&status, "VmHWM:")? * 1024,
    ))
}

/// The value of a `Name:   123 kB` line of /proc/<pid>/status, in KiB.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_are_reproducible_and_differ_per_pass() {
        let (mut a, mut b, mut c) = (vec![0u8; 1000], vec![0u8; 1000], vec![0u8; 1000]);
        fill(&mut a, 7, 1);
        fill(&mut b, 7, 1);
        fill(&mut c, 7, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(key(1), key(2));
    }

    #[test]
    fn status_lines_are_read_in_kib() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        assert!(rss().is_some());
        let io = "rchar: 10\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n";
        assert_eq!(io_field(io, "write_bytes:"), Some(4096));
        assert_eq!(io_field(io, "read_bytes:"), None);
    }

    #[test]
    fn a_small_run_on_each_engine_checks_its_data_and_cleans_up() {
        for engine in [StorageEngine::Sled, StorageEngine::Fjall] {
            let parent = tempfile::tempdir().unwrap();
            let args = SpaceArgs {
                engine,
                dir: Some(parent.path().to_path_buf()),
                gb: 2.0 / 1024.0, // 2 MiB
                record_bytes: 1_000,
                batch: 64,
                idle_secs: 0,
                time_limit_secs: 120,
            };
            space(args).unwrap();
            let left = std::fs::read_dir(parent.path()).unwrap().count();
            assert_eq!(left, 0, "{engine:?} left its store behind");
        }
    }
}
