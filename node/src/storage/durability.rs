//! When writes reach stable storage: the durability setting and group commit.
//!
//! An fsync costs milliseconds, so one per write would cap a node at a few hundred writes per
//! second. [`GroupCommit`] shares fsyncs instead: a single flusher task runs `Storage::sync`,
//! and one sync acknowledges every writer that asked while the previous sync was running.
//! Correctness rests on one rule: a call to [`GroupCommit::durable`] resolves only after a sync
//! that *started after the call* has finished, so whatever the caller wrote before calling is
//! covered.
//!
//! The flusher task (named [`FLUSHER_TASK`] in traces) is owned by whoever called
//! [`GroupCommit::start`] and holds the returned `JoinHandle`. Its queue of waiters is bounded:
//! a waiter first takes one of `max_waiters` semaphore permits, so when the queue is full new
//! callers wait for a permit instead of growing memory. It stops on [`GroupCommit::shutdown`]
//! (or when every handle is dropped), syncing one last time either way.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{Storage, StorageError};

/// Name of the flusher task, as it appears in traces and errors.
pub const FLUSHER_TASK: &str = "storage.group_commit";

/// Default bound on writers waiting for one sync.
pub const DEFAULT_MAX_WAITERS: NonZeroUsize = match NonZeroUsize::new(8192) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// When a write counts as durable (the `fsync` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Durability {
    /// `always`: a write is acknowledged only after an fsync that covers it (group commit).
    #[default]
    Always,
    /// `periodic:<ms>`: writes are acknowledged at once and fsynced every `interval_ms`; a crash
    /// loses at most about one interval of acknowledged writes.
    Periodic {
        /// Milliseconds between syncs; at least 1.
        interval_ms: u64,
    },
    /// `never`: no fsync except at shutdown; a crash may lose any acknowledged write.
    Never,
}

/// A durability setting that is not `always`, `never` or `periodic:<ms>` with `ms` ≥ 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid durability {input:?}: {reason} (expected \"always\", \"never\" or \"periodic:<ms>\" with ms >= 1)")]
pub struct ParseDurabilityError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for Durability {
    type Err = ParseDurabilityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| ParseDurabilityError {
            input: input.to_owned(),
            reason,
        };
        match input {
            "always" => Ok(Durability::Always),
            "never" => Ok(Durability::Never),
            _ => {
                let ms = input
                    .strip_prefix("periodic:")
                    .ok_or_else(|| fail("unknown setting"))?;
                let interval_ms: u64 = ms
                    .parse()
                    .map_err(|_| fail("interval is not a whole number of milliseconds"))?;
                if interval_ms == 0 {
                    return Err(fail("interval must be at least 1 ms"));
                }
                Ok(Durability::Periodic { interval_ms })
            }
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durability::Always => f.write_str("always"),
            Durability::Periodic { interval_ms } => write!(f, "periodic:{interval_ms}"),
            Durability::Never => f.write_str("never"),
        }
    }
}

impl TryFrom<String> for Durability {
    type Error = ParseDurabilityError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Durability> for String {
    fn from(value: Durability) -> Self {
        value.to_string()
    }
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCommitStats {
    /// Syncs run by the flusher (including the final one).
    pub syncs: u64,
    /// Syncs that failed.
    pub failed_syncs: u64,
    /// Callers currently waiting in `durable()` or `durable_blocking()` (always 0 unless the
    /// mode is `always`).
    pub waiting: usize,
}

/// A request to the flusher.
enum Request {
    /// Resolve once a sync that starts after this request was queued has finished.
    Durable(oneshot::Sender<Result<(), StorageError>>),
    /// Sync once more, answer everyone, stop.
    Shutdown(oneshot::Sender<Result<(), StorageError>>),
}

#[derive(Debug, Default)]
struct Counters {
    syncs: AtomicU64,
    failed_syncs: AtomicU64,
    /// How long each sync took (`kvorum_fsync_duration_seconds`).
    sync_latency: crate::metrics::Histogram,
}

impl Counters {
    /// Runs one sync of `storage` on this thread, timed and counted (and a failure logged): the
    /// one way both the flusher task and [`GroupCommit::durable_blocking`] sync.
    fn sync(&self, storage: &dyn Storage) -> Result<(), StorageError> {
        let started = std::time::Instant::now();
        let result = storage.sync();
        self.count(started.elapsed(), &result);
        result
    }

    fn count(&self, took: Duration, result: &Result<(), StorageError>) {
        self.sync_latency.record(took);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = result {
            self.failed_syncs.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "storage sync failed");
        }
    }
}

struct Shared {
    mode: Durability,
    /// The store [`GroupCommit::durable_blocking`] syncs from its caller's thread.
    storage: Arc<dyn Storage>,
    /// Shares the syncs of [`GroupCommit::durable_blocking`] callers between threads.
    gate: std::sync::Mutex<Gate>,
    gate_done: std::sync::Condvar,
    requests: mpsc::Sender<Request>,
    /// One permit per waiter allowed in the queue; closed when the flusher stops.
    slots: Semaphore,
    max_waiters: usize,
    counters: Arc<Counters>,
}

/// Handle to the group-commit flusher; cheap to clone, one per writer if convenient.
#[derive(Clone)]
pub struct GroupCommit {
    shared: Arc<Shared>,
}

impl fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommit")
            .field("mode", &self.shared.mode)
            .field("stats", &self.stats())
            .finish()
    }
}

impl GroupCommit {
    /// Starts the flusher for `storage` with the default waiter bound.
    ///
    /// Must be called from within a Tokio runtime. The caller owns the returned task handle.
    pub fn start(storage: Arc<dyn Storage>, mode: Durability) -> (GroupCommit, JoinHandle<()>) {
        Self::start_with(storage, mode, DEFAULT_MAX_WAITERS)
    }

    /// Starts the flusher, allowing at most `max_waiters` callers to wait in `durable()` at once
    /// (further callers wait for room).
    pub fn start_with(
        storage: Arc<dyn Storage>,
        mode: Durability,
        max_waiters: NonZeroUsize,
    ) -> (GroupCommit, JoinHandle<()>) {
        // Leave room for the shutdown slot below within Tokio's permit limit.
        let max_waiters = max_waiters.get().min(Semaphore::MAX_PERMITS - 1);
        // One extra slot so a shutdown request never waits behind a full queue of waiters.
        let (requests, receiver) = mpsc::channel(max_waiters.saturating_add(1));
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            mode,
            storage: Arc::clone(&storage),
            gate: std::sync::Mutex::new(Gate::default()),
            gate_done: std::sync::Condvar::new(),
            requests,
            slots: Semaphore::new(max_waiters),
            max_waiters,
            counters: Arc::clone(&counters),
        });
        let flusher = Flusher {
            storage,
            requests: receiver,
            shared: Arc::downgrade(&shared),
            counters,
        };
        let span = tracing::info_span!("task", name = FLUSHER_TASK, mode = %mode);
        let handle = tokio::spawn(flusher.run(mode).instrument(span));
        (GroupCommit { shared }, handle)
    }

    /// The durability mode this committer runs.
    pub fn mode(&self) -> Durability {
        self.shared.mode
    }

    /// Waits until everything this caller wrote before the call is durable, as far as the mode
    /// promises: under `always`, until a sync that started after this call has completed (its
    /// error, if any, is returned); under `periodic` and `never`, immediately.
    ///
    /// Fails with [`StorageError::Closed`] once the committer has shut down.
    pub async fn durable(&self) -> Result<(), StorageError> {
        if self.shared.slots.is_closed() {
            return Err(StorageError::Closed);
        }
        if self.shared.mode != Durability::Always {
            return Ok(());
        }
        let _slot = self
            .shared
            .slots
            .acquire()
            .await
            .map_err(|_| StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        self.shared
            .requests
            .send(Request::Durable(reply))
            .await
            .map_err(|_| StorageError::Closed)?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// [`GroupCommit::durable`] for a thread that may block (the storage workers): the same
    /// promise — under `always`, it returns once a sync that *started after the call* has
    /// finished — without a trip through the flusher task and the blocking pool, which cost
    /// more than the write itself. Threads calling at once share syncs: a caller arriving while
    /// a sync runs waits for it to end, and then one of the callers that arrived meanwhile runs
    /// the next sync for all of them.
    ///
    /// Fails with [`StorageError::Closed`] once the committer has shut down. Never call it on
    /// an async runtime thread.
    pub fn durable_blocking(&self) -> Result<(), StorageError> {
        let shared = &self.shared;
        if shared.slots.is_closed() {
            return Err(StorageError::Closed);
        }
        if shared.mode != Durability::Always {
            return Ok(());
        }
        let lock = || {
            shared
                .gate
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut gate = lock();
        // A sync running now may have started before this caller's writes: only a later one
        // counts.
        let needed = gate.started + 1;
        gate.waiting += 1;
        loop {
            if gate.finished >= needed {
                gate.waiting -= 1;
                return gate.last.clone();
            }
            if !gate.running {
                gate.running = true;
                gate.started += 1;
                let number = gate.started;
                drop(gate);
                let result = shared.counters.sync(shared.storage.as_ref());
                let mut gate = lock();
                gate.waiting -= 1;
                gate.running = false;
                gate.finished = number;
                gate.last = result.clone();
                drop(gate);
                shared.gate_done.notify_all();
                return result;
            }
            gate = shared
                .gate_done
                .wait(gate)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Current counters.
    pub fn stats(&self) -> GroupCommitStats {
        let free = self.shared.slots.available_permits();
        let blocking = self
            .shared
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .waiting;
        GroupCommitStats {
            syncs: self.shared.counters.syncs.load(Ordering::Relaxed),
            failed_syncs: self.shared.counters.failed_syncs.load(Ordering::Relaxed),
            waiting: blocking
                + if self.shared.slots.is_closed() {
                    0
                } else {
                    self.shared.max_waiters.saturating_sub(free)
                },
        }
    }

    /// How long the syncs took so far.
    pub fn sync_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.shared.counters.sync_latency.snapshot()
    }

    /// Stops the flusher after a final sync that covers every write made before the call, and
    /// answers every caller still waiting. Returns the final sync's result, or
    /// [`StorageError::Closed`] if the committer had already shut down. Other clones of this
    /// handle get `Closed` from `durable()` afterwards.
    pub async fn shutdown(self) -> Result<(), StorageError> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .requests
            .send(Request::Shutdown(reply))
            .await
            .map_err(|_| StorageError::Closed)?;
        answer.await.map_err(|_| StorageError::Closed)?
    }
}

/// The syncs of [`GroupCommit::durable_blocking`]: numbered in the order they start.
#[derive(Debug)]
struct Gate {
    /// Syncs started so far.
    started: u64,
    /// The number of the last sync that finished (they run one at a time, so in order).
    finished: u64,
    /// Whether a sync runs now (its number is `started`).
    running: bool,
    /// The result of sync number `finished`.
    last: Result<(), StorageError>,
    /// Callers in `durable_blocking` now.
    waiting: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            started: 0,
            finished: 0,
            running: false,
            last: Ok(()),
            waiting: 0,
        }
    }
}

/// The flusher task's state.
struct Flusher {
    storage: Arc<dyn Storage>,
    requests: mpsc::Receiver<Request>,
    /// Weak, so that dropping every handle closes the request channel and ends the task.
    shared: std::sync::Weak<Shared>,
    counters: Arc<Counters>,
}

/// Callers to answer with the result of one sync.
#[derive(Default)]
struct Round {
    waiters: Vec<oneshot::Sender<Result<(), StorageError>>>,
    shutdowns: Vec<oneshot::Sender<Result<(), StorageError>>>,
}

impl Round {
    fn add(&mut self, request: Request) {
        match request {
            Request::Durable(reply) => self.waiters.push(reply),
            Request::Shutdown(reply) => self.shutdowns.push(reply),
        }
    }

    fn answer(self, result: &Result<(), StorageError>) {
        // A caller that stopped waiting (dropped its future) is not an error.
        for reply in self.waiters.into_iter().chain(self.shutdowns) {
            let _ = reply.send(result.clone());
        }
    }
}

impl Flusher {
    async fn run(mut self, mode: Durability) {
        match mode {
            Durability::Always => self.run_always().await,
            Durability::Periodic { interval_ms } => {
                // `Durability::from_str` refuses 0; a hand-built 0 is taken as the smallest
                // interval rather than a timer that never waits.
                self.run_periodic(Duration::from_millis(interval_ms.max(1)))
                    .await;
            }
            Durability::Never => self.run_never().await,
        }
        tracing::debug!("flusher stopped");
    }

    /// Group commit: take every waiter queued so far, sync once, answer them all, repeat.
    /// Waiters that arrive while a sync runs stay queued for the next round, whose sync starts
    /// after they arrived.
    async fn run_always(&mut self) {
        loop {
            let mut round = Round::default();
            match self.requests.recv().await {
                Some(request) => round.add(request),
                None => return self.finish(round).await,
            }
            while let Ok(request) = self.requests.try_recv() {
                round.add(request);
            }
            if !round.shutdowns.is_empty() {
                return self.finish(round).await;
            }
            let result = self.sync_once().await;
            round.answer(&result);
        }
    }

    async fn run_periodic(&mut self, interval: Duration) {
        let start = tokio::time::Instant::now() + interval;
        let mut ticker = tokio::time::interval_at(start, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    // Nobody waits on a periodic sync; the failure is logged and counted, and
                    // the next tick tries again.
                    let _ = self.sync_once().await;
                }
                request = self.requests.recv() => {
                    if self.handle_without_waiting(request).await {
                        return;
                    }
                }
            }
        }
    }

    async fn run_never(&mut self) {
        loop {
            let request = self.requests.recv().await;
            if self.handle_without_waiting(request).await {
                return;
            }
        }
    }

    /// Handles a request in a mode where writers do not wait; returns true once stopped.
    async fn handle_without_waiting(&mut self, request: Option<Request>) -> bool {
        match request {
            // `durable()` does not queue in these modes; answer anyway rather than hang.
            Some(Request::Durable(reply)) => {
                let _ = reply.send(Ok(()));
                false
            }
            Some(shutdown @ Request::Shutdown(_)) => {
                let mut round = Round::default();
                round.add(shutdown);
                self.finish(round).await;
                true
            }
            None => {
                self.finish(Round::default()).await;
                true
            }
        }
    }

    /// Refuses new callers, collects everyone already queued, syncs one last time and answers.
    async fn finish(&mut self, mut round: Round) {
        if let Some(shared) = self.shared.upgrade() {
            shared.slots.close();
        }
        self.requests.close();
        while let Some(request) = self.requests.recv().await {
            round.add(request);
        }
        let result = self.sync_once().await;
        round.answer(&result);
    }

    async fn sync_once(&self) -> Result<(), StorageError> {
        let (storage, counters) = (Arc::clone(&self.storage), Arc::clone(&self.counters));
        match tokio::task::spawn_blocking(move || counters.sync(storage.as_ref())).await {
            Ok(result) => result,
            Err(join_error) => {
                let error = StorageError::Background {
                    task: FLUSHER_TASK,
                    message: join_error.to_string(),
                };
                self.counters.count(Duration::ZERO, &Err(error.clone()));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::{KeyRecord, MemStorage, UpdateFn};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Condvar, Mutex};

    /// Wraps a `MemStorage`, counting syncs, optionally failing them, and holding each sync
    /// until the test lets it through — so tests control exactly which callers overlap a sync.
    #[derive(Default)]
    struct ControlledStorage {
        inner: MemStorage,
        syncs: AtomicU64,
        fail: AtomicBool,
        gate: Mutex<u64>,
        gate_changed: Condvar,
    }

    impl ControlledStorage {
        fn new(open_gate: u64) -> Arc<Self> {
            let s = Arc::new(Self::default());
            s.release(open_gate);
            s
        }

        /// Lets `n` more syncs complete.
        fn release(&self, n: u64) {
            *self.gate.lock().unwrap() += n;
            self.gate_changed.notify_all();
        }

        fn syncs(&self) -> u64 {
            self.syncs.load(Ordering::SeqCst)
        }
    }

    impl Storage for ControlledStorage {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.get(key)
        }
        fn update(
            &self,
            key: &[u8],
            f: &mut UpdateFn<'_>,
        ) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.update(key, f)
        }
        fn remove_if(&self, key: &[u8], expected: &[u8]) -> Result<bool, StorageError> {
            self.inner.remove_if(key, expected)
        }
        fn scan_prefix(
            &self,
            prefix: &[u8],
            after: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<KeyRecord>, StorageError> {
            self.inner.scan_prefix(prefix, after, limit)
        }
        fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.get_meta(name)
        }
        fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
            self.inner.put_meta(name, value)
        }
        fn sync(&self) -> Result<(), StorageError> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            let mut open = self.gate.lock().unwrap();
            while *open == 0 {
                open = self.gate_changed.wait(open).unwrap();
            }
            *open -= 1;
            drop(open);
            if self.fail.load(Ordering::SeqCst) {
                return Err(StorageError::Io {
                    op: "sync",
                    message: "disk on fire".into(),
                });
            }
            self.inner.sync()
        }
        fn size_on_disk(&self) -> Result<u64, StorageError> {
            self.inner.size_on_disk()
        }
    }

    /// Yields until `cond` holds. Bounded by the test harness, not by a wall-clock assertion.
    async fn until(mut cond: impl FnMut() -> bool) {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn put(s: &dyn Storage, key: &[u8], record: &[u8]) {
        s.update(key, &mut |_| Ok(Some(record.to_vec()))).unwrap();
    }

    #[test]
    fn parses_and_prints_every_setting() {
        for (text, mode) in [
            ("always", Durability::Always),
            ("never", Durability::Never),
            ("periodic:50", Durability::Periodic { interval_ms: 50 }),
        ] {
            assert_eq!(text.parse::<Durability>(), Ok(mode));
            assert_eq!(mode.to_string(), text);
        }
        assert_eq!(Durability::default(), Durability::Always);
    }

    #[test]
    fn rejects_bad_settings_with_a_reason() {
        for text in [
            "",
            "Always",
            "sometimes",
            "periodic",
            "periodic:",
            "periodic:0",
            "periodic:-5",
            "periodic:5ms",
        ] {
            let err = text.parse::<Durability>().unwrap_err();
            assert_eq!(err.input, text);
            assert!(err.to_string().contains("periodic:<ms>"));
        }
    }

    #[test]
    fn reads_from_config_files() {
        #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
        struct Config {
            fsync: Durability,
        }
        let config: Config = toml::from_str("fsync = \"periodic:250\"").unwrap();
        assert_eq!(config.fsync, Durability::Periodic { interval_ms: 250 });
        assert_eq!(
            toml::to_string(&config).unwrap().trim(),
            "fsync = \"periodic:250\""
        );
        assert!(toml::from_str::<Config>("fsync = \"periodic:0\"").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_sync_acknowledges_everyone_who_waited_during_the_previous_one() {
        const CALLERS: usize = 50;
        let storage = ControlledStorage::new(0);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);

        // The first caller starts sync 1, which the gate holds open.
        let first = tokio::spawn({
            let gc = gc.clone();
            async move { gc.durable().await }
        });
        until(|| storage.syncs() == 1).await;

        // Everyone else arrives while sync 1 runs.
        let rest: Vec<_> = (0..CALLERS)
            .map(|_| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.durable().await })
            })
            .collect();
        until(|| gc.stats().waiting == CALLERS + 1).await;

        storage.release(u64::MAX / 2);
        first.await.unwrap().unwrap();
        for caller in rest {
            caller.await.unwrap().unwrap();
        }
        // Sync 1 could not cover the later callers; one more sync covered all of them.
        assert_eq!(storage.syncs(), 2);
        assert_eq!(gc.stats().syncs, 2);
        assert_eq!(gc.stats().waiting, 0);

        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_is_not_acknowledged_by_a_sync_already_running() {
        let storage = ControlledStorage::new(0);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);

        let early = tokio::spawn({
            let gc = gc.clone();
            async move { gc.durable().await }
        });
        until(|| storage.syncs() == 1).await;
        let late = tokio::spawn({
            let gc = gc.clone();
            async move { gc.durable().await }
        });
        until(|| gc.stats().waiting == 2).await;

        storage.release(1);
        early.await.unwrap().unwrap();
        until(|| storage.syncs() == 2).await;
        assert!(
            !late.is_finished(),
            "acknowledged by a sync that began before it asked"
        );

        storage.release(u64::MAX / 2);
        late.await.unwrap().unwrap();
        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_caller_resolves_under_load() {
        const CALLERS: usize = 200;
        let storage = ControlledStorage::new(u64::MAX / 2);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.durable().await })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap().unwrap();
        }
        assert!(storage.syncs() >= 1);
        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_callers_wait_not_fail() {
        const CALLERS: usize = 10;
        let storage = ControlledStorage::new(0);
        let max_waiters = NonZeroUsize::new(4).unwrap();
        let (gc, task) = GroupCommit::start_with(storage.clone(), Durability::Always, max_waiters);
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.durable().await })
            })
            .collect();
        until(|| gc.stats().waiting == 4).await;
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gc.stats().waiting, 4);
        assert!(callers.iter().all(|c| !c.is_finished()));

        storage.release(u64::MAX / 2);
        for caller in callers {
            caller.await.unwrap().unwrap();
        }
        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sync_error_reaches_every_waiter_of_that_round() {
        const CALLERS: usize = 10;
        let storage = ControlledStorage::new(0);
        storage.fail.store(true, Ordering::SeqCst);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.durable().await })
            })
            .collect();
        until(|| gc.stats().waiting == CALLERS).await;
        storage.release(u64::MAX / 2);
        let expected = StorageError::Io {
            op: "sync",
            message: "disk on fire".into(),
        };
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Err(expected.clone()));
        }
        assert!(gc.stats().failed_syncs >= 1);

        // The disk recovers; later callers succeed.
        storage.fail.store(false, Ordering::SeqCst);
        gc.durable().await.unwrap();
        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn never_mode_syncs_only_at_shutdown() {
        let storage = ControlledStorage::new(u64::MAX / 2);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Never);
        put(storage.as_ref(), b"k", b"v");
        gc.durable().await.unwrap();
        assert_eq!(storage.syncs(), 0);

        let other_handle = gc.clone();
        gc.shutdown().await.unwrap();
        task.await.unwrap();
        assert_eq!(storage.syncs(), 1);

        // The final sync made the write survive a crash; the committer refuses new work.
        storage.inner.crash();
        assert_eq!(storage.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(other_handle.durable().await, Err(StorageError::Closed));
        assert_eq!(other_handle.shutdown().await, Err(StorageError::Closed));
    }

    #[tokio::test]
    async fn periodic_mode_answers_at_once_and_syncs_in_the_background() {
        let storage = ControlledStorage::new(u64::MAX / 2);
        let (gc, task) =
            GroupCommit::start(storage.clone(), Durability::Periodic { interval_ms: 5 });
        gc.durable().await.unwrap();
        put(storage.as_ref(), b"k", b"v");
        // Nobody asks for a sync; the timer makes the write durable on its own.
        until(|| storage.inner.pending_writes() == 0).await;
        gc.shutdown().await.unwrap();
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_answers_callers_still_waiting() {
        let storage = ControlledStorage::new(0);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.durable().await })
            })
            .collect();
        until(|| gc.stats().waiting == 3 && storage.syncs() == 1).await;
        let stopper = tokio::spawn(gc.clone().shutdown());
        storage.release(u64::MAX / 2);
        stopper.await.unwrap().unwrap();
        for caller in waiting {
            caller.await.unwrap().unwrap();
        }
        task.await.unwrap();
        assert_eq!(gc.durable().await, Err(StorageError::Closed));
    }

    #[tokio::test]
    async fn dropping_every_handle_syncs_and_stops_the_flusher() {
        let storage = ControlledStorage::new(u64::MAX / 2);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Never);
        put(storage.as_ref(), b"k", b"v");
        drop(gc);
        task.await.unwrap();
        assert_eq!(storage.syncs(), 1);
        assert_eq!(storage.inner.pending_writes(), 0);
    }

    #[tokio::test]
    async fn a_shutdown_sync_error_is_reported() {
        let storage = ControlledStorage::new(u64::MAX / 2);
        storage.fail.store(true, Ordering::SeqCst);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Never);
        assert!(matches!(
            gc.shutdown().await,
            Err(StorageError::Io { op: "sync", .. })
        ));
        task.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_callers_share_syncs_that_start_after_they_ask() {
        const CALLERS: usize = 20;
        let storage = ControlledStorage::new(0);
        let (gc, task) = GroupCommit::start(storage.clone(), Durability::Always);
        let call = |gc: &GroupCommit| {
            let gc = gc.clone();
            std::thread::spawn(move || gc.durable_blocking())
        };

        // The first caller starts sync 1, which the gate holds open.
        let first = call(&gc);
        until(|| storage.syncs() == 1).await;
        // Everyone else arrives while sync 1 runs: it must not acknowledge them.
        let rest: Vec<_> = (0..CALLERS).map(|_| call(&gc)).collect();
        until(|| gc.stats().waiting == CALLERS + 1).await;
        storage.release(1);
        until(|| first.is_finished()).await;
        first.join().unwrap().unwrap();
        until(|| storage.syncs() == 2).await;
        assert!(
            rest.iter().all(|t| !t.is_finished()),
            "acknowledged by a sync that began before it asked"
        );

        // One more sync covers all of them.
        storage.release(u64::MAX / 2);
        for caller in rest {
            caller.join().unwrap().unwrap();
        }
        assert_eq!(storage.syncs(), 2);
        assert_eq!(gc.stats().syncs, 2);
        assert_eq!(gc.stats().waiting, 0);

        // A failed sync is reported to its callers; the next one is tried afresh.
        storage.fail.store(true, Ordering::SeqCst);
        assert!(call(&gc).join().unwrap().is_err());
        storage.fail.store(false, Ordering::SeqCst);
        call(&gc).join().unwrap().unwrap();

        let after = gc.clone();
        gc.shutdown().await.unwrap();
        task.await.unwrap();
        assert!(matches!(
            after.durable_blocking(),
            Err(StorageError::Closed)
        ));
    }
}
