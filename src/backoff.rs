//! Retry timing: exponential backoff with jitter, and how the watch reconnects.

use std::time::Duration;

/// When to try again after a reconcile that did not get App Mesh in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Only when the object changes: the same request would be refused again.
    AwaitChange,
    /// Exponential backoff: throttling, 5xx, no answer.
    Transient,
    /// Exponential backoff, capped low: a missing dependency may appear any moment.
    Dependency,
    /// The longest backoff: quotas, permissions, a name held by someone else.
    Slow,
    /// App Mesh is failing as a whole and calls are paused: try again around the next probe,
    /// without counting it against the object (its own backoff must not grow with an outage).
    Paused,
    /// The Kubernetes API failed: exponential, but capped low, so that work resumes within
    /// seconds of the apiserver's return however long it was away.
    Kubernetes,
    /// A Gateway API route was written and its implementation has not judged it yet: look
    /// again after this long, uncounted (its status wakes the object sooner; the look only
    /// decides whether to say it waits).
    Verdict(Duration),
}

/// How long a route just written may wait for its implementation's verdict before the
/// GatewayRoute's status says it waits (`GatewayPending`): one status write per create instead
/// of two where the implementation answers within it.
pub const VERDICT_GRACE: Duration = Duration::from_secs(5);

/// The longest a route waits for its verdict without saying so while its implementation is
/// at work (judging other routes of the same Gateway: a wave of thousands takes Traefik
/// minutes).
pub const VERDICT_PATIENCE: Duration = Duration::from_secs(600);

/// An implementation that judged a route of a Gateway this recently is at work on it.
pub const VERDICT_PROGRESS: Duration = Duration::from_secs(30);

/// The longest between two looks at a route waiting quietly for its verdict: an
/// implementation that stalls is said to be waited on within about this long.
pub const VERDICT_LOOK_MAX: Duration = Duration::from_secs(60);

/// The longest wait after a Kubernetes API failure.
pub const KUBERNETES_RETRY_MAX: Duration = Duration::from_secs(5);

/// The watch's reconnect delays: 0.5 s doubling to 5 s, so a returning apiserver is seen within
/// seconds (kube's default grows to 30 s).
#[derive(Debug, Default)]
pub struct WatchBackoff {
    attempt: u32,
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let d = exponential(
            Duration::from_millis(500),
            Duration::from_secs(5),
            self.attempt,
        );
        self.attempt = self.attempt.saturating_add(1);
        Some(d)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// `base * 2^attempt`, capped at `max`, then spread by ±20% so that objects failing together do
/// not retry together.
pub fn exponential(base: Duration, max: Duration, attempt: u32) -> Duration {
    let raw = base.saturating_mul(2u32.saturating_pow(attempt.min(20)));
    jitter(raw.min(max))
}

/// `d` spread uniformly over ±20%.
pub fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.8 + 0.4 * random_unit())
}

/// A duration drawn uniformly from [0, `max`).
pub fn uniform(max: Duration) -> Duration {
    max.mul_f64(random_unit())
}

/// A uniform number in [0, 1), from the standard library's per-process random hasher keys.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let n = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (n >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for (attempt, expected) in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 60.0), (40, 60.0)] {
            let d = exponential(base, max, attempt).as_secs_f64();
            assert!(
                d >= expected * 0.8 && d <= expected * 1.2,
                "attempt {attempt}: {d}"
            );
        }
    }
}
