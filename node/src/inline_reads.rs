//! When the replication driver runs a storage read itself instead of handing it to a storage
//! worker.
//!
//! **Why.** A read handed to a worker costs two thread hand-offs (driver → worker → driver), and
//! on a small machine those wake-ups cost more than the read: a read of a key in fjall's
//! memtable, its block cache or the kernel's page cache takes a few microseconds. Run on the
//! driver, a GET goes connection → driver → connection, and a replica answers a peer's read in
//! the turn it received it (docs/BENCHMARKS.md, "Fourth round").
//!
//! **Why not always.** The driver is one task: while it reads, nothing else is coordinated.
//! Two rules bound that:
//! - while the driver falls behind (its last turn, one burst of inputs handled together, ended
//!   with inputs still waiting: deep pipelines, many clients), it runs at most
//!   `runtime.inline_reads` reads per turn and hands the rest to the workers, which read in
//!   parallel with it; while it keeps up, it runs every read itself;
//! - a turn whose reads made the thread read from the disk (the kernel's count of block reads
//!   and major page faults of the driver's thread went up: the data was in no cache) sends
//!   every read of the next [`PAUSE`] to the workers, so a working set larger than memory never
//!   queues disk reads behind each other on the driver. Wall-clock time would not do: on a
//!   busy machine a thread is often preempted in the middle of a read that never touched the
//!   disk.
//!
//! Pure: the caller passes in the time and the thread's disk-read count
//! ([`thread_disk_reads`]), so the policy is tested without a clock or a disk.

use std::time::{Duration, Instant};

/// How long reads go to the workers after a turn whose reads touched the disk.
pub const PAUSE: Duration = Duration::from_secs(1);

/// The driver's budget of reads it runs itself.
#[derive(Debug)]
pub struct InlineReads {
    per_turn: usize,
    left: usize,
    paused_until: Option<Instant>,
    /// The thread's disk-read count before the first read of this turn.
    disk_reads_before: Option<u64>,
    /// Reads run inline since the start (reported as a metric).
    pub ran: u64,
    /// Turns whose reads touched the disk (each sent reads to the workers for [`PAUSE`]).
    pub pauses: u64,
}

impl InlineReads {
    /// At most `per_turn` reads per driver turn while the driver falls behind; 0 runs every
    /// read on the workers.
    pub fn new(per_turn: usize) -> Self {
        InlineReads {
            per_turn,
            left: per_turn,
            paused_until: None,
            disk_reads_before: None,
            ran: 0,
            pauses: 0,
        }
    }

    /// Whether the driver should run the next read itself, at `now`. The first read admitted
    /// in a turn takes the thread's disk-read count (`disk_reads`) to compare at its end.
    pub fn admit(&mut self, now: Instant, disk_reads: impl FnOnce() -> u64) -> bool {
        if self.left == 0 {
            return false;
        }
        if let Some(until) = self.paused_until {
            if now < until {
                return false;
            }
            self.paused_until = None;
        }
        if self.disk_reads_before.is_none() {
            self.disk_reads_before = Some(disk_reads());
        }
        self.left -= 1;
        self.ran += 1;
        true
    }

    /// The driver's turn ends at `now` (before it waits for its next input; the thread is the
    /// one the turn's reads ran on), having handled every input that was waiting (`kept_up`)
    /// or not. If its reads went to the disk, reads pause.
    pub fn end_turn(&mut self, now: Instant, kept_up: bool, disk_reads: impl FnOnce() -> u64) {
        self.left = match self.per_turn {
            0 => 0,
            _ if kept_up => usize::MAX,
            n => n,
        };
        if let Some(before) = self.disk_reads_before.take() {
            if disk_reads() > before {
                self.paused_until = Some(now + PAUSE);
                self.pauses += 1;
            }
        }
    }
}

/// Block reads and major page faults of the calling thread so far: what went to the disk
/// rather than to a cache. 0 where the kernel cannot say (inline reads then never pause).
pub fn thread_disk_reads() -> u64 {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_THREAD) {
        Ok(usage) => (usage.block_reads().max(0) + usage.major_page_faults().max(0)) as u64,
        Err(_) => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_budget_per_turn_while_behind() {
        let mut reads = InlineReads::new(2);
        let t = Instant::now();
        assert!(reads.admit(t, || 0));
        assert!(reads.admit(t, || 0));
        let third = reads.admit(t, || 0);
        assert!(!third, "the third read of a turn goes to the workers");
        reads.end_turn(t, false, || 0);
        assert!(reads.admit(t, || 0), "a new turn has its budget back");
        assert_eq!((reads.ran, reads.pauses), (3, 0));
    }

    #[test]
    fn no_budget_while_the_driver_keeps_up() {
        let mut reads = InlineReads::new(2);
        let t = Instant::now();
        reads.end_turn(t, true, || 0);
        for _ in 0..1000 {
            assert!(reads.admit(t, || 0));
        }
        reads.end_turn(t, false, || 0);
        assert!(reads.admit(t, || 0) && reads.admit(t, || 0));
        assert!(!reads.admit(t, || 0), "behind again: the budget holds");
    }

    #[test]
    fn zero_sends_every_read_to_the_workers() {
        let mut reads = InlineReads::new(0);
        let t = Instant::now();
        assert!(!reads.admit(t, || 0));
        reads.end_turn(t, true, || 0);
        assert!(!reads.admit(t, || 0), "not even while the driver keeps up");
    }

    #[test]
    fn a_turn_that_read_from_the_disk_pauses_inline_reads_for_a_while() {
        let mut reads = InlineReads::new(8);
        let t = Instant::now();
        assert!(reads.admit(t, || 10));
        assert!(reads.admit(t, || panic!("counted once per turn")));
        reads.end_turn(t, true, || 10);
        assert!(
            reads.admit(t, || 10),
            "reads served from caches change nothing"
        );
        reads.end_turn(t, true, || 11);
        assert_eq!(reads.pauses, 1);
        assert!(
            !reads.admit(t, || 11),
            "paused after a turn that read from the disk"
        );
        assert!(!reads.admit(t + PAUSE / 2, || 11));
        assert!(
            reads.admit(t + PAUSE, || 11),
            "inline again once the pause is over"
        );
        assert_eq!(reads.ran, 4);
    }

    #[test]
    fn a_turn_without_inline_reads_does_not_look_at_the_disk_count() {
        let mut reads = InlineReads::new(8);
        let t = Instant::now();
        reads.end_turn(t, true, || panic!("no read ran this turn"));
        assert!(reads.admit(t, || 0));
    }

    #[test]
    fn a_read_that_misses_the_page_cache_counts_and_a_cached_one_does_not() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        // In the crate's own folder: on a disk, where the temporary folder may be memory.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("data");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        file.sync_all().unwrap();
        let mut buf = Vec::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_end(&mut buf)
            .unwrap();
        let before = thread_disk_reads();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_end(&mut buf)
            .unwrap();
        assert_eq!(thread_disk_reads(), before, "a read from the page cache");
        let file = std::fs::File::open(&path).unwrap();
        nix::fcntl::posix_fadvise(
            file.as_fd(),
            0,
            0,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        )
        .unwrap();
        (&file).read_to_end(&mut buf).unwrap();
        assert!(
            thread_disk_reads() > before,
            "a read the page cache did not hold"
        );
    }
}
