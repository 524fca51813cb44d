//! Backing off as a whole when App Mesh fails everything: after a run of failed calls (5xx,
//! throttling, no answer) and no success, calls stop leaving the process; one probe call is let
//! through per probe interval, and the first answer that is not such a failure opens the way
//! again for everyone. It is said once, by a log line and a gauge, not once per object.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether a call may leave now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// App Mesh is failing everything: the next probe is due in this long.
    Paused(Duration),
}

#[derive(Debug)]
struct State {
    /// Failed calls since the last success.
    failures: u32,
    /// While paused: when the next probe may go.
    paused_until: Option<Instant>,
}

/// The switch between "call App Mesh" and "probe once per interval".
#[derive(Debug)]
pub struct Breaker {
    /// Consecutive failed calls that pause everything.
    threshold: u32,
    probe_every: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(threshold: u32, probe_every: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            probe_every,
            state: Mutex::new(State {
                failures: 0,
                paused_until: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks to make a call at `now`. While paused, the first caller after the probe time is the
    /// probe; everyone else is told how long until the next one.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut state = self.state();
        match state.paused_until {
            None => Admission::Go,
            Some(until) if now >= until => {
                state.paused_until = Some(now + self.probe_every);
                Admission::Go
            }
            Some(until) => Admission::Paused(until - now),
        }
    }

    /// Records a call's end: `failed` for 5xx, throttling or no answer. Returns the change of
    /// state, if any: `Some(true)` paused now, `Some(false)` resumed now.
    pub fn record(&self, failed: bool, now: Instant) -> Option<bool> {
        let mut state = self.state();
        if !failed {
            state.failures = 0;
            return state.paused_until.take().map(|_| false);
        }
        state.failures = state.failures.saturating_add(1);
        if state.paused_until.is_none() && state.failures >= self.threshold {
            state.paused_until = Some(now + self.probe_every);
            return Some(true);
        }
        if state.paused_until.is_some() {
            // A failed probe: the next one waits a full interval from now.
            state.paused_until = Some(now + self.probe_every);
        }
        None
    }

    pub fn probe_every(&self) -> Duration {
        self.probe_every
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_pauses_and_one_answer_resumes() {
        let b = Breaker::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(b.record(true, t0), None);
        assert_eq!(b.record(false, t0), None, "a success resets the run");
        assert_eq!(b.record(true, t0), None);
        assert_eq!(b.record(true, t0), None);
        assert_eq!(b.record(true, t0), Some(true), "third failure in a row");
        assert_eq!(
            b.admit(t0 + Duration::from_millis(300)),
            Admission::Paused(Duration::from_millis(700))
        );
        // One probe per interval, whoever asks first.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.admit(t1), Admission::Go);
        assert!(matches!(b.admit(t1), Admission::Paused(_)));
        assert_eq!(b.record(true, t1), None, "the probe failed");
        assert!(matches!(
            b.admit(t1 + Duration::from_millis(999)),
            Admission::Paused(_)
        ));
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(b.admit(t2), Admission::Go);
        assert_eq!(b.record(false, t2), Some(false), "the probe got an answer");
        assert_eq!(b.admit(t2), Admission::Go);
        assert_eq!(b.admit(t2), Admission::Go, "not paused any more");
    }

    #[test]
    fn probes_are_bounded_by_the_interval() {
        let b = Breaker::new(1, Duration::from_secs(1));
        let t0 = Instant::now();
        b.record(true, t0);
        // 30 s of callers asking every 10 ms: at most one probe a second goes out.
        let mut sent = 0;
        for i in 0..3000 {
            let now = t0 + Duration::from_millis(10 * i);
            if b.admit(now) == Admission::Go {
                sent += 1;
                b.record(true, now);
            }
        }
        assert!(sent <= 30, "{sent} probes in 30 s");
    }
}
