//! The reconcile queue: which object is reconciled next, at most `slots` at a time, each object
//! by one reconcile at a time. It plays the part of client-go's workqueue (a set of due keys, a
//! set being processed, a key that comes due while processed is held until it is done) with
//! [`fair`](crate::fair)'s order: by [`Class`], oldest first within a class, drift checks in at
//! most half of the slots.
//!
//! kube-runtime's controller was the queue before. Run bounded, it keeps the messages it
//! cannot start in a set and starts an arbitrary one when a slot frees (some objects never got
//! one under load); run unbounded, every due object is a future it polls on each wake
//! (`controller/future_hash_map.rs` in kube-runtime 5.0.0 scans them all), so a create wave of
//! 10 000 objects cost quadratic time. Here a due object is a key in a queue, and only the
//! `slots` reconciles running are tasks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::pin::pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::fair::Class;

/// When an object is looked at again without a change: after a delay, or only on a change
/// (or a wake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requeue(Option<Duration>);

impl Requeue {
    /// Again after `wait`, or sooner if the object changes.
    pub const fn after(wait: Duration) -> Requeue {
        Requeue(Some(wait))
    }

    /// Only when the object changes or is woken.
    pub const fn on_change() -> Requeue {
        Requeue(None)
    }
}

/// A key's class, from what the cache holds of it; `None`: the object is gone.
type Classify<K> = Box<dyn Fn(&K) -> Option<Class> + Send>;

/// The queue itself, without I/O: what [`run`] drives, and what the tests drive by hand.
pub struct WorkQueue<K> {
    slots: usize,
    drift_slots: usize,
    /// Reconciles running, per class.
    busy: [usize; 3],
    /// Due, and not yet given a class: a key can come due before the cache holds its object.
    fresh: VecDeque<K>,
    /// Due, by class, oldest first. A key appears here at most once while it is in `queued`.
    ready: [VecDeque<K>; 3],
    /// The keys in `fresh` or `ready`.
    queued: HashSet<K>,
    /// Keys being reconciled, each with its class and whether it came due again meanwhile.
    running: HashMap<K, (Class, bool)>,
    /// The time each key with a timer is due (the earliest asked for).
    timers: HashMap<K, Instant>,
    /// Timers by time; an entry whose key's timer moved (or went) is skipped.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    by_seq: HashMap<u64, K>,
    seq: u64,
    classify: Classify<K>,
}

impl<K: Hash + Eq + Clone> WorkQueue<K> {
    /// `slots` reconciles at once (at least 1), drift checks at most half of them.
    pub fn new(slots: usize, classify: impl Fn(&K) -> Option<Class> + Send + 'static) -> Self {
        let slots = slots.max(1);
        WorkQueue {
            slots,
            drift_slots: (slots / 2).max(1),
            busy: [0; 3],
            fresh: VecDeque::new(),
            ready: Default::default(),
            queued: HashSet::new(),
            running: HashMap::new(),
            timers: HashMap::new(),
            heap: BinaryHeap::new(),
            by_seq: HashMap::new(),
            seq: 0,
            classify: Box::new(classify),
        }
    }

    /// `key` is due now: queued once however often it is asked for, held while it runs.
    pub fn add(&mut self, key: K) {
        self.timers.remove(&key);
        if let Some((_, again)) = self.running.get_mut(&key) {
            *again = true;
        } else if self.queued.insert(key.clone()) {
            self.fresh.push_back(key);
        }
    }

    /// `key` is due at `at`, unless it is due sooner already.
    pub fn add_at(&mut self, key: K, at: Instant, now: Instant) {
        if at <= now {
            return self.add(key);
        }
        if self.queued.contains(&key) || self.timers.get(&key).is_some_and(|t| *t <= at) {
            return;
        }
        self.seq += 1;
        self.timers.insert(key.clone(), at);
        self.by_seq.insert(self.seq, key);
        self.heap.push(Reverse((at, self.seq)));
    }

    /// Moves every key whose timer is due at `now` into the queue.
    pub fn expire(&mut self, now: Instant) {
        while let Some(Reverse((at, seq))) = self.heap.peek().copied() {
            if at > now {
                return;
            }
            self.heap.pop();
            let Some(key) = self.by_seq.remove(&seq) else {
                continue;
            };
            if self.timers.get(&key) == Some(&at) {
                self.add(key);
            }
        }
    }

    /// When the earliest timer is due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next key to reconcile, if a slot is free for it: the oldest of the highest class
    /// that may run. The key counts as running until [`WorkQueue::done`].
    pub fn start(&mut self) -> Option<(K, Class)> {
        while let Some(key) = self.fresh.pop_front() {
            match (self.classify)(&key) {
                Some(class) => self.ready[class as usize].push_back(key),
                // Gone before its turn: nothing to do.
                None => {
                    self.queued.remove(&key);
                }
            }
        }
        let total: usize = self.busy.iter().sum();
        if total >= self.slots {
            return None;
        }
        let class = Class::ALL.into_iter().find(|c| {
            !self.ready[*c as usize].is_empty()
                && (*c != Class::Drift || self.busy[*c as usize] < self.drift_slots)
        })?;
        let key = self.ready[class as usize].pop_front()?;
        self.queued.remove(&key);
        self.busy[class as usize] += 1;
        self.running.insert(key.clone(), (class, false));
        Some((key, class))
    }

    /// `key`'s reconcile is over: it runs again now if it came due meanwhile, else as
    /// `requeue` says.
    pub fn done(&mut self, key: K, requeue: Requeue, now: Instant) {
        let Some((class, again)) = self.running.remove(&key) else {
            return;
        };
        self.busy[class as usize] -= 1;
        if again {
            self.add(key);
        } else if let Requeue(Some(wait)) = requeue {
            self.add_at(key, now + wait, now);
        }
    }

    /// Whether nothing runs.
    #[cfg(test)]
    fn idle(&self) -> bool {
        self.running.is_empty()
    }
}

/// Drives `queue`: `triggers` make keys due now, `work` reconciles one key and says when to
/// look again. Nothing starts before `ready` completes (the cache's first list). When `stop`
/// completes, nothing more starts; the reconciles running are finished, then it returns.
pub async fn run<K, F>(
    mut queue: WorkQueue<K>,
    triggers: impl Stream<Item = K>,
    ready: impl Future<Output = ()>,
    stop: impl Future<Output = ()>,
    work: impl Fn(K, Class) -> F,
) where
    K: Hash + Eq + Clone + Send + 'static,
    F: Future<Output = Requeue> + Send + 'static,
{
    let mut triggers = pin!(triggers.fuse());
    let (mut ready, mut stop) = (pin!(ready), pin!(stop));
    let (mut started, mut stopping) = (false, false);
    let mut running: JoinSet<Requeue> = JoinSet::new();
    let mut keys: HashMap<tokio::task::Id, K> = HashMap::new();
    let mut timer = pin!(tokio::time::sleep_until(Instant::now()));
    loop {
        if started && !stopping {
            while let Some((key, class)) = queue.start() {
                let id = running.spawn(work(key.clone(), class)).id();
                keys.insert(id, key);
            }
        }
        if stopping && running.is_empty() {
            return;
        }
        let next_timer = queue.next_timer();
        if let Some(at) = next_timer
            && timer.deadline() != at
        {
            timer.as_mut().reset(at);
        }
        tokio::select! {
            biased;
            Some(finished) = running.join_next_with_id() => {
                let (id, requeue) = match finished {
                    Ok((id, requeue)) => (id, requeue),
                    // A reconcile that panicked is tried again later, as after a failure.
                    Err(e) => {
                        tracing::error!(error = %e, "a reconcile panicked");
                        (e.id(), Requeue::after(Duration::from_secs(60)))
                    }
                };
                if let Some(key) = keys.remove(&id) {
                    queue.done(key, requeue, Instant::now());
                }
            }
            () = &mut stop, if !stopping => stopping = true,
            () = &mut ready, if !started => started = true,
            Some(key) = triggers.next(), if !stopping => queue.add(key),
            () = &mut timer, if next_timer.is_some() => queue.expire(Instant::now()),
            else => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn queue(slots: usize, classes: &[(u32, Class)]) -> WorkQueue<u32> {
        let classes: HashMap<u32, Class> = classes.iter().copied().collect();
        WorkQueue::new(slots, move |k| classes.get(k).copied())
    }

    fn start_all(q: &mut WorkQueue<u32>) -> Vec<u32> {
        std::iter::from_fn(|| q.start().map(|(k, _)| k)).collect()
    }

    #[test]
    fn keys_start_by_class_then_age_and_drift_keeps_to_half_the_slots() {
        use Class::*;
        let classes = [
            (0, Drift),
            (1, Drift),
            (2, Drift),
            (3, Retry),
            (4, User),
            (5, User),
        ];
        let mut q = queue(2, &classes);
        let now = Instant::now();
        q.add(0);
        assert_eq!(start_all(&mut q), [0]);
        for k in 1..6 {
            q.add(k);
        }
        // One slot left: the oldest user first.
        assert_eq!(start_all(&mut q), [4]);
        q.done(0, Requeue::on_change(), now);
        assert_eq!(start_all(&mut q), [5]);
        q.done(4, Requeue::on_change(), now);
        q.done(5, Requeue::on_change(), now);
        // The retry, then one drift check: drift may hold only one of the two slots.
        assert_eq!(start_all(&mut q), [3, 1]);
        q.done(3, Requeue::on_change(), now);
        assert_eq!(start_all(&mut q), Vec::<u32>::new());
        q.done(1, Requeue::on_change(), now);
        assert_eq!(start_all(&mut q), [2]);
    }

    #[test]
    fn a_key_is_queued_once_and_held_while_it_runs() {
        let mut q = queue(4, &[(1, Class::User), (2, Class::User)]);
        let now = Instant::now();
        q.add(1);
        q.add(1);
        q.add(2);
        assert_eq!(start_all(&mut q), [1, 2]);
        // Due again while it runs: not started twice at once, but again when it is done.
        q.add(1);
        assert_eq!(start_all(&mut q), Vec::<u32>::new());
        q.done(1, Requeue::after(Duration::from_secs(60)), now);
        assert_eq!(start_all(&mut q), [1]);
        // The requeue it asked for gave way to the change that came meanwhile.
        assert_eq!(q.next_timer(), None);
        q.done(1, Requeue::on_change(), now);
        q.done(2, Requeue::on_change(), now);
        assert!(q.idle());
    }

    #[test]
    fn a_timer_runs_at_the_earliest_time_asked_for_and_a_change_runs_at_once() {
        let mut q = queue(4, &[(1, Class::Drift), (2, Class::Retry)]);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        q.add_at(1, t0 + s(30), t0);
        q.add_at(1, t0 + s(10), t0);
        q.add_at(1, t0 + s(20), t0);
        q.add_at(2, t0 + s(15), t0);
        assert_eq!(q.next_timer(), Some(t0 + s(10)));
        q.expire(t0 + s(9));
        assert_eq!(start_all(&mut q), Vec::<u32>::new());
        q.expire(t0 + s(10));
        assert_eq!(start_all(&mut q), [1]);
        // The 20 s and 30 s entries are spent with the 10 s one.
        q.done(1, Requeue::on_change(), t0 + s(10));
        q.expire(t0 + s(40));
        assert_eq!(start_all(&mut q), [2]);
        // A change before the timer: at once, and the timer is dropped.
        q.add_at(1, t0 + s(100), t0 + s(40));
        q.add(1);
        assert_eq!(start_all(&mut q), [1]);
        q.done(1, Requeue::on_change(), t0 + s(40));
        q.expire(t0 + s(200));
        assert_eq!(start_all(&mut q), Vec::<u32>::new());
    }

    #[test]
    fn a_key_gone_before_its_turn_is_dropped() {
        // Key 9 has no class: its object is not in the cache.
        let mut q = queue(1, &[(1, Class::User)]);
        q.add(9);
        q.add(1);
        assert_eq!(start_all(&mut q), [1]);
        q.done(1, Requeue::on_change(), Instant::now());
        q.add(9);
        assert_eq!(start_all(&mut q), Vec::<u32>::new());
        assert!(q.idle());
    }

    #[tokio::test(start_paused = true)]
    async fn run_reconciles_what_comes_due_holds_it_until_ready_and_drains_on_stop() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let seen: Arc<Mutex<Vec<(u32, Duration)>>> = Arc::default();
        let t0 = Instant::now();
        let q = queue(2, &[(1, Class::User), (2, Class::Drift), (3, Class::User)]);
        let log = seen.clone();
        let driver = tokio::spawn(run(
            q,
            rx,
            async move {
                let _ = ready_rx.await;
            },
            async move {
                let _ = stop_rx.await;
            },
            move |key, _class| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push((key, t0.elapsed()));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    // Key 2 asks to be looked at again after 5 s, once.
                    let again =
                        key == 2 && log.lock().unwrap().iter().filter(|e| e.0 == 2).count() == 1;
                    if again {
                        Requeue::after(Duration::from_secs(5))
                    } else {
                        Requeue::on_change()
                    }
                }
            },
        ));
        tx.unbounded_send(1).unwrap();
        tx.unbounded_send(2).unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            seen.lock().unwrap().is_empty(),
            "nothing before the cache is ready"
        );
        ready_tx.send(()).unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        tx.unbounded_send(3).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(()).unwrap();
        // A key due after the stop is not started; the one running is finished.
        tx.unbounded_send(1).unwrap();
        driver.await.unwrap();
        let seen = seen.lock().unwrap().clone();
        let s = Duration::from_secs;
        assert_eq!(seen, [(1, s(3)), (2, s(3)), (2, s(9)), (3, s(13))]);
    }
}
