//! Storage workers: a few dedicated threads that run the replication driver's storage
//! operations in batches. Every write runs here; most reads run on the driver itself, and come
//! here only when it falls behind or the disk is slow (see [`crate::inline_reads`]).
//!
//! **Why not the blocking pool.** Storage calls block (an engine read may wait for the disk, a
//! write for the engine's journal), so they must stay off the async runtime. Handing each one to
//! `tokio::task::spawn_blocking` costs a task spawn, a semaphore, a thread wake-up and a
//! completion channel per operation, and under load the pool grows to hundreds of threads that
//! fight over the engine's journal lock; a profile of a node serving `SET`s spent over half its
//! CPU time in the scheduler and on futexes. Here a fixed, small set of threads takes every
//! queued operation at once, runs them one after the other, and reports them back in one
//! message: the wake-ups are paid per batch, not per operation.
//!
//! **Durability.** A batch's writes are reported only after [`GroupCommit::durable_blocking`]
//! says they are durable (under `fsync = always`, after a sync that started once they were
//! written), so one sync covers a whole batch, and workers finishing at the same time share one.
//! Reads and refused writes are reported before that sync: they never wait for one. A worker
//! waits for its batch's sync itself; while it does, the other workers go on (there are two or
//! more unless `limits.max_storage_tasks` says 1). Handing the writes to a thread of their own
//! that syncs for everyone was tried and measured: the extra hand-off cost more than it saved
//! (see docs/BENCHMARKS.md).
//!
//! **Bounds.** The queue holds what the core asked for and has not been run yet; the core issues
//! storage operations only for requests it coordinates (at most `max_in_flight` of them) and for
//! peer messages (read from a bounded channel), so it is bounded by those. The driver hands over
//! everything a burst of its inputs produced in one call ([`StorageWorkers::submit`]).
//!
//! **Owner and stop.** The replication driver owns the workers. [`StorageWorkers::stop_and_join`]
//! lets each thread finish the batch it is running, drops what is still queued (those requests
//! are answered as failed by the driver's shutdown; nothing was acknowledged) and joins the
//! threads, so no thread touches the store after the driver has ended.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use kvorum_consistency::{Now, StorageOp, StorageRequest, StorageResult, StorageToken};
use tokio::sync::mpsc;

use crate::storage::GroupCommit;

/// The most operations one worker takes from the queue at once. Large enough that a burst of
/// pipelined writes shares one sync, small enough that reads queued behind a batch of writes are
/// not held for long.
pub const MAX_BATCH: usize = 256;

/// One storage operation to run, with the time the driver saw when it issued it.
pub struct Job {
    pub request: StorageRequest,
    pub now: Now,
}

/// A finished storage operation.
#[derive(Debug)]
pub struct Completion {
    pub token: StorageToken,
    pub result: StorageResult,
}

/// Runs one storage request; called on a worker thread.
pub type Execute = dyn Fn(&StorageRequest, Now) -> StorageResult + Send + Sync;

struct Queue {
    jobs: VecDeque<Job>,
    /// Workers waiting for jobs.
    idle: usize,
    stopped: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The driver's storage threads.
pub struct StorageWorkers {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl StorageWorkers {
    /// Starts `threads` workers (at least one). Each runs `execute` for its jobs, waits on
    /// `commit` for its batch's writes, and sends the completions of a batch on `done` (at most
    /// two messages: what needed no sync, then the writes).
    pub fn start(
        threads: usize,
        execute: Arc<Execute>,
        commit: GroupCommit,
        done: mpsc::Sender<Vec<Completion>>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                idle: 0,
                stopped: false,
            }),
            ready: Condvar::new(),
        });
        let mut workers = StorageWorkers {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        for i in 0..threads.max(1) {
            let (shared, execute, commit, done) = (
                shared.clone(),
                execute.clone(),
                commit.clone(),
                done.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("kvorum-storage-{i}"))
                .spawn(move || work(&shared, execute.as_ref(), &commit, &done));
            match thread {
                Ok(handle) => workers.threads.push(handle),
                Err(e) => {
                    workers.stop_and_join();
                    return Err(e);
                }
            }
        }
        Ok(workers)
    }

    /// Queues `jobs` and wakes as many idle workers as they need (one per [`MAX_BATCH`]).
    pub fn submit(&self, jobs: impl IntoIterator<Item = Job>) {
        let mut queue = self.shared.lock();
        let before = queue.jobs.len();
        queue.jobs.extend(jobs);
        let added = queue.jobs.len() - before;
        if added == 0 {
            return;
        }
        let wake = added.div_ceil(MAX_BATCH).min(queue.idle);
        drop(queue);
        for _ in 0..wake {
            self.shared.ready.notify_one();
        }
    }

    /// Stops the workers and waits for them (blocking: call it off the async runtime).
    pub fn stop_and_join(&mut self) {
        self.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Tells every thread to stop after what it runs now.
    fn stop(&self) {
        {
            let mut queue = self.shared.lock();
            queue.stopped = true;
            queue.jobs.clear();
        }
        self.shared.ready.notify_all();
    }
}

impl Drop for StorageWorkers {
    /// Without [`StorageWorkers::stop_and_join`], the threads still stop after their current
    /// batch; they are not waited for.
    fn drop(&mut self) {
        self.stop();
    }
}

/// One worker's loop: take a batch, run it, report it.
fn work(
    shared: &Shared,
    execute: &Execute,
    commit: &GroupCommit,
    done: &mpsc::Sender<Vec<Completion>>,
) {
    loop {
        let batch: Vec<Job> = {
            let mut queue = shared.lock();
            loop {
                if queue.stopped {
                    return;
                }
                if !queue.jobs.is_empty() {
                    break;
                }
                queue.idle += 1;
                queue = shared
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.idle -= 1;
            }
            let take = queue.jobs.len().min(MAX_BATCH);
            let batch = queue.jobs.drain(..take).collect();
            // More left: another idle worker may start on it now.
            if !queue.jobs.is_empty() && queue.idle > 0 {
                shared.ready.notify_one();
            }
            batch
        };
        let mut answered = Vec::with_capacity(batch.len());
        let mut written = Vec::new();
        for job in batch {
            let is_write = matches!(job.request.op, StorageOp::Apply(_) | StorageOp::Hint { .. });
            let result =
                std::panic::catch_unwind(AssertUnwindSafe(|| execute(&job.request, job.now)))
                    .unwrap_or_else(|_| StorageResult::Failed {
                        reason: "storage task failed: it panicked".into(),
                        may_have_applied: true,
                    });
            let completion = Completion {
                token: job.request.token,
                result,
            };
            match completion.result {
                StorageResult::Applied { .. } if is_write => written.push(completion),
                _ => answered.push(completion),
            }
        }
        if !answered.is_empty() && done.blocking_send(answered).is_err() {
            return; // the driver has stopped
        }
        if written.is_empty() {
            continue;
        }
        if let Err(e) = commit.durable_blocking() {
            let reason = format!("fsync failed: {e}");
            for completion in &mut written {
                completion.result = StorageResult::Failed {
                    reason: reason.clone(),
                    may_have_applied: true,
                };
            }
        }
        if done.blocking_send(written).is_err() {
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::{Durability, MemStorage, Storage};
    use kvorum_consistency::{Key, Mutation};
    use kvorum_ring::{NamespaceId, PartitionId};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn job(token: u64, op: StorageOp) -> Job {
        Job {
            request: StorageRequest {
                token: StorageToken(token),
                key: Key {
                    ns: NamespaceId::DEFAULT,
                    key: b"k".to_vec(),
                },
                partition: PartitionId(0),
                op,
            },
            now: Now {
                mono_ms: 0,
                wall_ms: 0,
            },
        }
    }

    /// What the tests' storage answers: nothing stored for a read, a change for anything else.
    fn answer(request: &StorageRequest) -> StorageResult {
        match request.op {
            StorageOp::Read => StorageResult::Read(None),
            _ => StorageResult::Applied {
                current: kvorum_consistency::Object::default(),
                changed: true,
                outcome: kvorum_consistency::Outcome::Done,
            },
        }
    }

    /// A write (a merge of an empty object).
    fn write() -> StorageOp {
        StorageOp::Apply(Mutation::Merge(kvorum_consistency::Object::default()))
    }

    /// Every job is answered exactly once, writes only after a sync, and many writes share
    /// few syncs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_is_answered_once_and_writes_after_a_sync() {
        const JOBS: u64 = 2_000;
        let storage = Arc::new(MemStorage::new());
        let (commit, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let runs = Arc::new(AtomicUsize::new(0));
        let execute: Arc<Execute> = {
            let runs = runs.clone();
            Arc::new(move |request: &StorageRequest, _now| {
                runs.fetch_add(1, Ordering::SeqCst);
                answer(request)
            })
        };
        let (tx, mut rx) = mpsc::channel(4);
        let mut workers = StorageWorkers::start(3, execute, commit.clone(), tx).unwrap();
        for chunk in (0..JOBS).collect::<Vec<_>>().chunks(100) {
            workers.submit(
                chunk
                    .iter()
                    .map(|&t| job(t, if t % 2 == 0 { StorageOp::Read } else { write() })),
            );
        }
        let mut seen = std::collections::HashSet::new();
        while seen.len() < JOBS as usize {
            for completion in rx.recv().await.unwrap() {
                assert!(seen.insert(completion.token.0), "answered twice");
                let is_read = completion.token.0 % 2 == 0;
                assert_eq!(matches!(completion.result, StorageResult::Read(_)), is_read);
            }
        }
        assert_eq!(runs.load(Ordering::SeqCst), JOBS as usize);
        let syncs = commit.stats().syncs;
        assert!(syncs >= 1, "writes were answered without a sync");
        assert!(syncs < JOBS / 2, "{syncs} syncs for {} writes", JOBS / 2);
        tokio::task::spawn_blocking(move || workers.stop_and_join())
            .await
            .unwrap();
        commit.shutdown().await.unwrap();
        task.await.unwrap();
        let _ = storage.sync();
    }

    /// A failed sync fails the batch's writes (they may have been applied) and not its reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sync_fails_the_writes_of_its_batch() {
        let storage = Arc::new(MemStorage::new());
        let (commit, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let execute: Arc<Execute> = Arc::new(|request: &StorageRequest, _now| answer(request));
        let (tx, mut rx) = mpsc::channel(4);
        // Shut the committer down first: every sync request then fails with `Closed`.
        commit.clone().shutdown().await.unwrap();
        task.await.unwrap();
        let mut workers = StorageWorkers::start(1, execute, commit, tx).unwrap();
        workers.submit([job(1, StorageOp::Read), job(2, write())]);
        let mut results = Vec::new();
        while results.len() < 2 {
            results.extend(rx.recv().await.unwrap());
        }
        results.sort_by_key(|c| c.token.0);
        assert!(matches!(results[0].result, StorageResult::Read(None)));
        assert!(matches!(
            results[1].result,
            StorageResult::Failed {
                may_have_applied: true,
                ..
            }
        ));
        tokio::task::spawn_blocking(move || workers.stop_and_join())
            .await
            .unwrap();
    }

    /// A store whose syncs wait until the test opens them.
    #[derive(Default)]
    struct HeldSyncs {
        inner: MemStorage,
        open: Mutex<bool>,
        opened: Condvar,
        entered: AtomicUsize,
    }

    impl HeldSyncs {
        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    impl Storage for HeldSyncs {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, crate::storage::StorageError> {
            self.inner.get(key)
        }
        fn update(
            &self,
            key: &[u8],
            f: &mut crate::storage::UpdateFn<'_>,
        ) -> Result<Option<Vec<u8>>, crate::storage::StorageError> {
            self.inner.update(key, f)
        }
        fn remove_if(
            &self,
            key: &[u8],
            expected: &[u8],
        ) -> Result<bool, crate::storage::StorageError> {
            self.inner.remove_if(key, expected)
        }
        fn scan_prefix(
            &self,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<crate::storage::KeyRecord>, crate::storage::StorageError> {
            self.inner.scan_prefix(prefix, after, limit)
        }
        fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, crate::storage::StorageError> {
            self.inner.get_meta(name)
        }
        fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), crate::storage::StorageError> {
            self.inner.put_meta(name, value)
        }
        fn sync(&self) -> Result<(), crate::storage::StorageError> {
            self.entered.fetch_add(1, Ordering::SeqCst);
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            drop(open);
            self.inner.sync()
        }
        fn size_on_disk(&self) -> Result<u64, crate::storage::StorageError> {
            self.inner.size_on_disk()
        }
    }

    /// A write waiting for its fsync holds up only the worker running that sync, not the reads
    /// behind it, and is answered only once the sync is through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_are_answered_while_a_write_waits_for_its_sync() {
        let storage = Arc::new(HeldSyncs::default());
        let (commit, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let execute: Arc<Execute> = Arc::new(|request: &StorageRequest, _now| answer(request));
        let (tx, mut rx) = mpsc::channel(4);
        // Two workers: one runs the held sync, the other must still serve the read.
        let mut workers = StorageWorkers::start(2, execute, commit.clone(), tx).unwrap();
        workers.submit([job(1, write())]);
        while storage.entered.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        workers.submit([job(2, StorageOp::Read)]);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].token.0, 2, "the read came after the held write");
        assert!(matches!(first[0].result, StorageResult::Read(None)));

        storage.open();
        let second = rx.recv().await.unwrap();
        assert_eq!(second[0].token.0, 1);
        assert!(matches!(second[0].result, StorageResult::Applied { .. }));
        tokio::task::spawn_blocking(move || workers.stop_and_join())
            .await
            .unwrap();
        commit.shutdown().await.unwrap();
        task.await.unwrap();
    }
}
