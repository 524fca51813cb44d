//! Each object's consecutive failures, and how long it waits after one: the object's own backoff.
//! Cleared on success and when the object leaves the watch.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::backoff::{self, Retry};
use crate::uid::Uid;

/// The longest wait for a missing dependency: one may appear any moment.
const DEPENDENCY_RETRY_MAX: Duration = Duration::from_secs(30);

/// Consecutive failures per object uid, and the backoff they set.
#[derive(Debug)]
pub struct Failures {
    /// First delay after a failure, doubling up to `retry_max`.
    retry_base: Duration,
    retry_max: Duration,
    counts: Mutex<HashMap<Uid, u32>>,
}

impl Failures {
    pub fn new(retry_base: Duration, retry_max: Duration) -> Failures {
        Failures {
            retry_base,
            retry_max,
            counts: Mutex::default(),
        }
    }

    /// The longest wait for a missing dependency, and how often one is probed for all its
    /// waiters.
    pub fn dependency_retry_max(&self) -> Duration {
        self.retry_max.min(DEPENDENCY_RETRY_MAX)
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<Uid, u32>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the object's last reconcile failed (and was counted).
    pub fn is_failing(&self, uid: &str) -> bool {
        self.counts().contains_key(&Uid::of(uid))
    }

    /// The object got in sync: its backoff starts over.
    pub fn succeeded(&self, uid: &str) {
        self.counts().remove(&Uid::of(uid));
    }

    /// Counts a failure of `retry`'s kind; returns how long to wait (`None`: until the object
    /// changes).
    pub fn failed(&self, uid: &str, retry: Retry) -> Option<Duration> {
        let exponential = |max: Duration| {
            let attempt = self.count(uid);
            Some(backoff::exponential(self.retry_base, max, attempt))
        };
        match retry {
            // Not the object's failure: every object waits for the same probe.
            Retry::Paused => Some(backoff::jitter(crate::appmesh::PROBE_EVERY * 3)),
            Retry::Verdict(look) => Some(look),
            Retry::AwaitChange => {
                self.count(uid);
                None
            }
            Retry::Slow => {
                self.count(uid);
                Some(backoff::jitter(self.retry_max))
            }
            Retry::Transient => exponential(self.retry_max),
            Retry::Dependency => exponential(self.dependency_retry_max()),
            Retry::Kubernetes => exponential(self.retry_max.min(backoff::KUBERNETES_RETRY_MAX)),
        }
    }

    /// Counts one more consecutive failure; returns how many came before it.
    fn count(&self, uid: &str) -> u32 {
        let mut counts = self.counts();
        let n = counts.entry(Uid::of(uid)).or_default();
        *n += 1;
        *n - 1
    }

    /// Forgets an object that left the watch.
    pub fn forget(&self, uid: &str) {
        self.counts().remove(&Uid::of(uid));
    }

    /// Keeps only the `live` objects: after a re-list, those deleted while the watch was down
    /// are gone without a delete event.
    pub fn retain(&self, live: &HashSet<Uid>) {
        self.counts().retain(|uid, _| live.contains(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within the jitter `backoff::jitter` adds (up to a fifth either way).
    fn about(wait: Option<Duration>, want: Duration) -> bool {
        wait.is_some_and(|w| w >= want.mul_f64(0.79) && w <= want.mul_f64(1.21))
    }

    #[test]
    fn each_kind_of_failure_waits_its_own_way() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(300);
        // (retry, failures before, counts, expected wait; None: until the object changes)
        let rows: [(Retry, u32, bool, Option<Duration>); 9] = [
            (Retry::AwaitChange, 0, true, None),
            (Retry::Transient, 0, true, Some(base)),
            (Retry::Transient, 3, true, Some(base * 8)),
            (Retry::Transient, 20, true, Some(max)),
            (Retry::Dependency, 20, true, Some(DEPENDENCY_RETRY_MAX)),
            (
                Retry::Kubernetes,
                20,
                true,
                Some(backoff::KUBERNETES_RETRY_MAX),
            ),
            (Retry::Slow, 0, true, Some(max)),
            (
                Retry::Verdict(backoff::VERDICT_GRACE),
                3,
                false,
                Some(backoff::VERDICT_GRACE),
            ),
            (
                Retry::Paused,
                5,
                false,
                Some(crate::appmesh::PROBE_EVERY * 3),
            ),
        ];
        for (retry, before, counts, want) in rows {
            let f = Failures::new(base, max);
            for _ in 0..before {
                f.count("u");
            }
            let wait = f.failed("u", retry);
            match want {
                None => assert_eq!(wait, None, "{retry:?}"),
                Some(want) => assert!(about(wait, want), "{retry:?} after {before}: {wait:?}"),
            }
            let after = f.counts().get(&Uid::of("u")).copied().unwrap_or_default();
            assert_eq!(after, before + u32::from(counts), "{retry:?} counted");
        }
    }

    #[test]
    fn success_and_forgetting_start_over() {
        let f = Failures::new(Duration::from_secs(1), Duration::from_secs(60));
        f.failed("a", Retry::Transient);
        f.failed("b", Retry::Transient);
        f.failed("c", Retry::Transient);
        assert!(f.is_failing("a"));
        f.succeeded("a");
        assert!(!f.is_failing("a"));
        f.forget("b");
        f.retain(&[Uid::of("a")].into());
        assert!(!f.is_failing("b") && !f.is_failing("c"));
        assert_eq!(
            f.dependency_retry_max(),
            Duration::from_secs(30),
            "capped for dependencies"
        );
    }
}
