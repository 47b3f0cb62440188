//! The answers to recent writes, by request id: what makes resending a write safe.
//!
//! A client that sent a write and lost the connection before the reply came cannot know whether
//! it was applied. It resends the very same request (same [`RequestId`]) to the same node; this
//! table gives it the first attempt's answer instead of applying the write again, which for an
//! `Incr` would count twice. A resend that arrives while the first attempt still runs waits for
//! its answer.
//!
//! What is remembered, and for how long:
//! - only writes (reads are safe to run again);
//! - answers that say the write was, or may have been, applied: a success, a `Timeout`, an
//!   interrupted attempt (all [`Applied::Maybe`] or better). An answer with [`Applied::No`]
//!   (`Unavailable`, a refusal) is forgotten as soon as it is given, so a resend runs the write
//!   afresh: nothing was applied, and the cause may have gone away;
//! - for `window` after the first attempt began, and at most `capacity` answers: beyond that,
//!   the oldest is forgotten first, even within the window;
//! - per node, in memory: another node, or this one after a restart, does not know the id.
//!
//! An id seen again with a different request (namespace, key or operation) is refused: a client
//! that reuses ids would otherwise get another request's answer.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kvorum_wire::native::{Applied, ErrorKind, ErrorReply, Op, OpReply, OpRequest, RequestId};
use tokio::sync::watch;

/// The answer to one operation.
pub(super) type Answer = Result<OpReply, ErrorReply>;

/// The table; cheap to clone (all clones share it).
#[derive(Clone)]
pub(super) struct Dedup {
    inner: Arc<Inner>,
}

struct Inner {
    window: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<RequestId, Entry>,
    /// Entries in the order they began, `(began, id, seq)`; a record whose `seq` no longer
    /// matches its id's entry is stale (the entry was forgotten) and is skipped.
    order: VecDeque<(Instant, RequestId, u64)>,
    next_seq: u64,
}

struct Entry {
    seq: u64,
    fingerprint: u64,
    answer: watch::Receiver<Option<Answer>>,
}

/// What to do with a write.
pub(super) enum Begin {
    /// The first attempt: run it and hand its answer to [`Pending::finish`].
    First(Pending),
    /// A resend: this waits for, then gives, the first attempt's answer.
    Duplicate(Waiter),
    /// The id belongs to another request.
    Reused,
}

impl Dedup {
    pub(super) fn new(window: Duration, capacity: usize) -> Dedup {
        Dedup {
            inner: Arc::new(Inner {
                window,
                capacity: capacity.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Looks `request` up by its id: the first attempt, a resend, or a reused id.
    pub(super) fn begin(&self, request: &OpRequest) -> Begin {
        self.begin_at(request.id, fingerprint(request), Instant::now())
    }

    fn begin_at(&self, id: RequestId, fingerprint: u64, now: Instant) -> Begin {
        let mut state = self.inner.lock();
        state.forget_older_than(now, self.inner.window);
        if let Some(entry) = state.entries.get(&id) {
            if entry.fingerprint != fingerprint {
                return Begin::Reused;
            }
            return Begin::Duplicate(Waiter {
                answer: entry.answer.clone(),
            });
        }
        while state.entries.len() >= self.inner.capacity {
            if !state.forget_oldest() {
                break;
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let (tx, rx) = watch::channel(None);
        state.entries.insert(
            id,
            Entry {
                seq,
                fingerprint,
                answer: rx,
            },
        );
        state.order.push_back((now, id, seq));
        state.compact(self.inner.capacity);
        Begin::First(Pending {
            dedup: self.clone(),
            id,
            seq,
            tx,
            finished: false,
        })
    }

    /// Answers currently remembered (or being computed).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change leaves the state consistent before anything can panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Forgets entry `id` if it is still the one numbered `seq`.
    fn forget(&mut self, id: RequestId, seq: u64) {
        if self.entries.get(&id).is_some_and(|e| e.seq == seq) {
            self.entries.remove(&id);
        }
    }

    fn forget_older_than(&mut self, now: Instant, window: Duration) {
        while let Some(&(began, id, seq)) = self.order.front() {
            if now.saturating_duration_since(began) < window {
                break;
            }
            self.order.pop_front();
            self.forget(id, seq);
        }
    }

    /// Forgets the oldest live entry; false if there is none.
    fn forget_oldest(&mut self) -> bool {
        while let Some((_, id, seq)) = self.order.pop_front() {
            if self.entries.get(&id).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&id);
                return true;
            }
        }
        false
    }

    /// Drops stale order records once they outnumber the live entries a lot (answers forgotten
    /// early, with [`Applied::No`], leave theirs behind), so the queue stays bounded too.
    fn compact(&mut self, capacity: usize) {
        if self.order.len() > 2 * capacity {
            let entries = &self.entries;
            self.order
                .retain(|(_, id, seq)| entries.get(id).is_some_and(|e| e.seq == *seq));
        }
    }
}

/// A first attempt in progress. Dropped without [`Pending::finish`] (the task was cancelled),
/// it records that the write may have been applied, so a resend does not run it again.
pub(super) struct Pending {
    dedup: Dedup,
    id: RequestId,
    seq: u64,
    tx: watch::Sender<Option<Answer>>,
    finished: bool,
}

impl Pending {
    /// Records the answer and hands it to every waiting resend. An answer that says nothing was
    /// applied is forgotten at once.
    pub(super) fn finish(mut self, answer: &Answer) {
        self.finished = true;
        self.tx.send_replace(Some(answer.clone()));
        if matches!(answer, Err(e) if e.applied == Applied::No) {
            self.dedup.inner.lock().forget(self.id, self.seq);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.finished {
            self.tx.send_replace(Some(Err(interrupted())));
        }
    }
}

fn interrupted() -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::Internal,
        applied: Applied::Maybe,
        message: "ERR the first attempt of this request was interrupted; it may have been applied"
            .into(),
    }
}

/// Waits for a first attempt's answer.
pub(super) struct Waiter {
    answer: watch::Receiver<Option<Answer>>,
}

impl Waiter {
    pub(super) async fn answer(mut self) -> Answer {
        match self.answer.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone().unwrap_or_else(|| Err(interrupted())),
            // The first attempt's `Pending` always answers before it goes; kept for safety.
            Err(_) => Err(interrupted()),
        }
    }
}

/// What identifies a request besides its id: its namespace, key and operation (not its
/// consistency, which a resend may loosen or tighten). A 64-bit hash: two different requests
/// carrying the same random 128-bit id *and* colliding here are not a practical concern.
pub(super) fn fingerprint(request: &OpRequest) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    request.ns.0.hash(&mut h);
    request.key.hash(&mut h);
    match &request.op {
        Op::Get => 0u8.hash(&mut h),
        Op::Set {
            value,
            context,
            ttl_ms,
        } => {
            1u8.hash(&mut h);
            value.hash(&mut h);
            context.hash(&mut h);
            ttl_ms.hash(&mut h);
        }
        Op::Delete => 2u8.hash(&mut h),
        Op::Incr { delta } => {
            3u8.hash(&mut h);
            delta.hash(&mut h);
        }
        Op::SAdd { members } => {
            4u8.hash(&mut h);
            members.hash(&mut h);
        }
        Op::SRem { members } => {
            5u8.hash(&mut h);
            members.hash(&mut h);
        }
        Op::SMembers => 6u8.hash(&mut h),
        Op::HSet { fields } => {
            7u8.hash(&mut h);
            fields.hash(&mut h);
        }
        Op::HGet { field } => {
            8u8.hash(&mut h);
            field.hash(&mut h);
        }
        Op::HGetAll => 9u8.hash(&mut h),
        Op::HDel { fields } => {
            10u8.hash(&mut h);
            fields.hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kvorum_consistency::Spec;
    use kvorum_ring::NamespaceId;

    fn incr(id: u128, delta: i64) -> OpRequest {
        OpRequest {
            id: RequestId(id),
            ns: NamespaceId(0),
            key: Bytes::from_static(b"k"),
            consistency: Spec::default(),
            op: Op::Incr { delta },
        }
    }

    fn first(begin: Begin) -> Pending {
        match begin {
            Begin::First(p) => p,
            _ => panic!("expected a first attempt"),
        }
    }

    fn waiter(begin: Begin) -> Waiter {
        match begin {
            Begin::Duplicate(w) => w,
            _ => panic!("expected a duplicate"),
        }
    }

    fn unavailable() -> Answer {
        Err(ErrorReply {
            kind: ErrorKind::Unavailable,
            applied: Applied::No,
            message: "UNAVAILABLE".into(),
        })
    }

    #[tokio::test]
    async fn a_resend_gets_the_first_answer_even_while_it_runs() {
        let dedup = Dedup::new(Duration::from_secs(60), 100);
        let pending = first(dedup.begin(&incr(1, 1)));
        let early = waiter(dedup.begin(&incr(1, 1)));
        let waiting = tokio::spawn(early.answer());
        pending.finish(&Ok(OpReply::Int(1)));
        assert_eq!(waiting.await.unwrap(), Ok(OpReply::Int(1)));
        let late = waiter(dedup.begin(&incr(1, 1)));
        assert_eq!(late.answer().await, Ok(OpReply::Int(1)));
        // Another id is another request.
        first(dedup.begin(&incr(2, 1))).finish(&Ok(OpReply::Int(2)));
    }

    #[tokio::test]
    async fn answers_that_applied_nothing_are_not_remembered() {
        let dedup = Dedup::new(Duration::from_secs(60), 100);
        let pending = first(dedup.begin(&incr(1, 1)));
        let early = waiter(dedup.begin(&incr(1, 1)));
        pending.finish(&unavailable());
        assert_eq!(early.answer().await, unavailable());
        // The resend runs afresh.
        first(dedup.begin(&incr(1, 1))).finish(&Ok(OpReply::Int(1)));
        assert_eq!(dedup.len(), 1);
    }

    #[tokio::test]
    async fn an_interrupted_attempt_may_have_applied() {
        let dedup = Dedup::new(Duration::from_secs(60), 100);
        drop(first(dedup.begin(&incr(1, 1))));
        let answer = waiter(dedup.begin(&incr(1, 1))).answer().await;
        assert!(matches!(answer, Err(e) if e.applied == Applied::Maybe));
    }

    #[test]
    fn a_reused_id_is_refused() {
        let dedup = Dedup::new(Duration::from_secs(60), 100);
        let _pending = first(dedup.begin(&incr(1, 1)));
        assert!(matches!(dedup.begin(&incr(1, 2)), Begin::Reused));
    }

    #[test]
    fn answers_are_forgotten_after_the_window_or_beyond_capacity() {
        let window = Duration::from_millis(100);
        let dedup = Dedup::new(window, 3);
        let t0 = Instant::now();
        let fp = fingerprint(&incr(0, 1));
        for id in 0..3 {
            first(dedup.begin_at(RequestId(id), fp, t0)).finish(&Ok(OpReply::Done));
        }
        assert!(matches!(
            dedup.begin_at(RequestId(0), fp, t0),
            Begin::Duplicate(_)
        ));
        // A fourth answer pushes out the oldest.
        first(dedup.begin_at(RequestId(3), fp, t0)).finish(&Ok(OpReply::Done));
        assert_eq!(dedup.len(), 3);
        assert!(matches!(
            dedup.begin_at(RequestId(0), fp, t0),
            Begin::First(_)
        ));
        // After the window, all are forgotten.
        let later = t0 + window;
        assert!(matches!(
            dedup.begin_at(RequestId(3), fp, later),
            Begin::First(_)
        ));
        assert_eq!(dedup.len(), 1);
    }

    #[test]
    fn forgotten_answers_do_not_grow_the_queue() {
        let dedup = Dedup::new(Duration::from_secs(60), 10);
        for id in 0..1_000 {
            first(dedup.begin(&incr(id, 1))).finish(&unavailable());
        }
        assert_eq!(dedup.len(), 0);
        assert!(dedup.inner.lock().order.len() <= 21);
    }
}
