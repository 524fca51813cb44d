//! Who goes next when work waits. Every reconcile and every App Mesh call belongs to a
//! [`Class`]: work a user caused first, then retries of failures, then drift checks. Two
//! queues order them, both by class and, within a class, oldest first:
//!
//! - the reconcile queue ([`crate::workqueue`]) starts `--concurrency` reconciles at a time
//!   (drift checks in at most half of them), so a new object never waits behind a backlog of
//!   checks;
//! - the [`Limiter`] hands out App Mesh's call budget (a token bucket) in the same order, so
//!   drift checks use only what budget is left.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// Why work is done, in the order it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A user caused it: a new object, a spec or annotation change, a deletion.
    User,
    /// A retry after a failure.
    Retry,
    /// A periodic check that App Mesh still holds what it should.
    Drift,
}

tokio::task_local! {
    static CLASS: Class;
}

impl Class {
    pub const ALL: [Class; 3] = [Class::User, Class::Retry, Class::Drift];

    fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Class::User => "user",
            Class::Retry => "retry",
            Class::Drift => "drift",
        }
    }

    /// The class of the work running on this task (`User` outside any [`Class::scope`]).
    pub fn current() -> Class {
        CLASS.try_with(|c| *c).unwrap_or(Class::User)
    }

    /// Runs `work` as this class: its App Mesh calls wait in this class's queue.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CLASS.scope(self, work).await
    }
}

/// Waiters per class, oldest first; a waiter is woken by a message on its channel.
#[derive(Default)]
struct Queues {
    waiting: [VecDeque<oneshot::Sender<()>>; 3],
}

impl Queues {
    fn push(&mut self, class: Class, tx: oneshot::Sender<()>) {
        self.waiting[class.index()].push_back(tx);
    }

    fn is_empty(&self) -> bool {
        self.waiting.iter().all(VecDeque::is_empty)
    }

    /// Wakes the first waiter of the highest class `allowed` whose caller still waits;
    /// returns that class (`None`: nobody to serve).
    fn serve(&mut self, allowed: impl Fn(Class) -> bool) -> Option<Class> {
        for class in Class::ALL {
            if !allowed(class) {
                continue;
            }
            while let Some(tx) = self.waiting[class.index()].pop_front() {
                if tx.send(()).is_ok() {
                    return Some(class);
                }
            }
        }
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// App Mesh's call budget: a token bucket of `rate` calls per second and `burst` at once,
/// handed out by class and age.
#[derive(Clone)]
pub struct Limiter(Arc<LimiterInner>);

struct LimiterInner {
    rate: f64,
    burst: f64,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    tokens: f64,
    last: Instant,
    queues: Queues,
    /// A task hands out tokens while anyone waits.
    dispatching: bool,
}

impl LimiterState {
    fn refill(&mut self, rate: f64, burst: f64) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
    }
}

impl Limiter {
    pub fn new(rate: f64, burst: u32) -> Limiter {
        let burst = f64::from(burst.max(1));
        Limiter(Arc::new(LimiterInner {
            rate: rate.max(0.001),
            burst,
            state: Mutex::new(LimiterState {
                tokens: burst,
                last: Instant::now(),
                queues: Queues::default(),
                dispatching: false,
            }),
        }))
    }

    /// Waits until a call of the current task's class may be made, then takes its token.
    pub async fn acquire(&self) {
        let class = Class::current();
        let rx = {
            let mut s = lock(&self.0.state);
            s.refill(self.0.rate, self.0.burst);
            if s.queues.is_empty() && s.tokens >= 1.0 {
                s.tokens -= 1.0;
                return;
            }
            let (tx, rx) = oneshot::channel();
            s.queues.push(class, tx);
            if !s.dispatching {
                s.dispatching = true;
                tokio::spawn(dispatch(self.0.clone()));
            }
            rx
        };
        let _ = rx.await;
    }
}

/// Hands out tokens as they come, highest class first, until nobody waits.
async fn dispatch(inner: Arc<LimiterInner>) {
    loop {
        let wait = {
            let mut s = lock(&inner.state);
            s.refill(inner.rate, inner.burst);
            while s.tokens >= 1.0 {
                if s.queues.serve(|_| true).is_none() {
                    break;
                }
                s.tokens -= 1.0;
            }
            if s.queues.is_empty() {
                s.dispatching = false;
                return;
            }
            Duration::from_secs_f64((1.0 - s.tokens) / inner.rate)
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limiter_holds_its_rate() {
        let limiter = Limiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..25 {
            limiter.acquire().await;
        }
        // 5 at once, then 20 more at 10 per second.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.95..2.1).contains(&elapsed), "{elapsed}");
    }

    /// Order in which queued callers of each class got their turn.
    async fn order_of(
        arrivals: &[(Class, usize)],
        turn: impl Fn(Class) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Vec<(Class, usize)> {
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for &(class, n) in arrivals {
            let served = served.clone();
            let fut = turn(class);
            tasks.push(tokio::spawn(async move {
                fut.await;
                lock(&served).push((class, n));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
            // Arrive in this order.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        lock(&served).clone()
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_serves_users_then_retries_then_drift_oldest_first() {
        let limiter = Limiter::new(10.0, 1);
        let arrivals = [
            (Class::Drift, 0),
            (Class::Drift, 1),
            (Class::Retry, 2),
            (Class::Drift, 3),
            (Class::User, 4),
            (Class::Retry, 5),
            (Class::User, 6),
        ];
        let order = order_of(&arrivals, |class| {
            let limiter = limiter.clone();
            Box::pin(async move {
                class.scope(limiter.acquire()).await;
            })
        })
        .await;
        // The first drift check takes the one token there is; the rest wait and are served
        // by class, oldest first.
        let ids: Vec<usize> = order.iter().map(|(_, n)| *n).collect();
        assert_eq!(ids, [0, 4, 6, 2, 5, 1, 3]);
    }
}
