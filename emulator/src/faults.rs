//! Failure on demand and accounting: injected faults (errors, latency, dropped connections), a
//! service-side request rate limit, and call counters by operation and outcome.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A fault to inject, as posted to `POST /_emulator/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// The operation it applies to (`CreateGatewayRoute`); absent means every operation.
    pub operation: Option<String>,
    /// Answer with this HTTP status (429, 500, 503, ...).
    pub status: Option<u16>,
    /// The exception name to send; defaults to App Mesh's for `status`.
    pub error_type: Option<String>,
    pub message: Option<String>,
    /// Wait this long before answering (or before failing).
    #[serde(default)]
    pub latency_ms: u64,
    /// Close the connection without an answer.
    #[serde(default)]
    pub drop_connection: bool,
    /// Handle the call, then wait this long before answering: the change is made, but the
    /// caller hears of it late (or, if it dies meanwhile, never).
    #[serde(default)]
    pub respond_after_ms: u64,
    /// Fire on this fraction of matching calls (0.0 - 1.0) ...
    pub probability: Option<f64>,
    /// ... or on the next `count` matching calls, then retire. Neither: every matching call.
    pub count: Option<u64>,
}

/// What a call should do, decided before the service handles it.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Handle the call, then wait this long before answering.
    Proceed(Duration),
    Fail(ApiError),
    Drop,
}

/// The token bucket behind the service-side rate limit.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

/// A rate limit as set with `PUT /_emulator/rate-limit`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub requests_per_second: f64,
    /// Calls allowed at once after a quiet spell; defaults to one second's worth.
    pub burst: Option<f64>,
}

/// All injected behaviour and the counters.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<Fault>,
    bucket: Option<Bucket>,
    counters: BTreeMap<String, BTreeMap<String, u64>>,
    rng: u64,
}

impl Default for Faults {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Faults {
            rules: Vec::new(),
            bucket: None,
            counters: BTreeMap::new(),
            rng: seed | 1,
        }
    }
}

impl Faults {
    pub fn add(&mut self, fault: Fault) -> Result<(), String> {
        if let Some(p) = fault.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability must be within 0.0 and 1.0, got {p}"));
        }
        if fault.status.is_none()
            && !fault.drop_connection
            && fault.latency_ms == 0
            && fault.respond_after_ms == 0
        {
            return Err("a fault needs status, dropConnection, latencyMs or respondAfterMs".into());
        }
        self.rules.push(fault);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[Fault] {
        &self.rules
    }

    pub fn set_rate_limit(&mut self, limit: Option<RateLimit>) -> Result<(), String> {
        self.bucket = match limit {
            None => None,
            Some(l) if l.requests_per_second <= 0.0 => {
                return Err("requestsPerSecond must be positive".into());
            }
            Some(l) => {
                let burst = l.burst.unwrap_or(l.requests_per_second).max(1.0);
                Some(Bucket {
                    rate: l.requests_per_second,
                    burst,
                    tokens: burst,
                    last: Instant::now(),
                })
            }
        };
        Ok(())
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: plenty for fault probabilities, and no dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides what a call to `operation` does: the rate limit first, then the first fault
    /// that fires. Returns the delay to apply before the outcome.
    pub fn decide(&mut self, operation: &str) -> (Duration, Outcome) {
        if let Some(bucket) = &mut self.bucket {
            let now = Instant::now();
            let earned = now.duration_since(bucket.last).as_secs_f64() * bucket.rate;
            bucket.tokens = (bucket.tokens + earned).min(bucket.burst);
            bucket.last = now;
            if bucket.tokens < 1.0 {
                return (Duration::ZERO, Outcome::Fail(ApiError::throttled()));
            }
            bucket.tokens -= 1.0;
        }
        let mut delay = Duration::ZERO;
        let mut respond_after = Duration::ZERO;
        // Rules are walked by index because a counted rule that fires for the last time is
        // removed on the spot: the index then stays where it is, pointing at the next rule.
        let mut i = 0;
        while i < self.rules.len() {
            let applies = self.rules[i]
                .operation
                .as_deref()
                .is_none_or(|op| op == operation);
            let fires = applies
                && match self.rules[i].probability {
                    Some(p) => self.random() < p,
                    None => true,
                };
            if !fires {
                i += 1;
                continue;
            }
            let rule = self.rules[i].clone();
            match &mut self.rules[i].count {
                Some(left) if *left <= 1 => {
                    self.rules.remove(i);
                }
                Some(left) => {
                    *left -= 1;
                    i += 1;
                }
                None => i += 1,
            }
            delay += Duration::from_millis(rule.latency_ms);
            respond_after += Duration::from_millis(rule.respond_after_ms);
            if rule.drop_connection {
                return (delay, Outcome::Drop);
            }
            if let Some(status) = rule.status {
                let mut error = ApiError::for_status(status);
                if let Some(kind) = rule.error_type {
                    error.kind = kind;
                }
                if let Some(message) = rule.message {
                    error.message = message;
                }
                return (delay, Outcome::Fail(error));
            }
            // A delay-only fault: keep looking for one that also fails the call.
        }
        (delay, Outcome::Proceed(respond_after))
    }

    /// Counts one finished call: `ok`, an exception name, or `connectionDropped`.
    pub fn count(&mut self, operation: &str, outcome: &str) {
        *self
            .counters
            .entry(operation.to_string())
            .or_default()
            .entry(outcome.to_string())
            .or_default() += 1;
    }

    pub fn counters(&self) -> &BTreeMap<String, BTreeMap<String, u64>> {
        &self.counters
    }

    pub fn reset_counters(&mut self) {
        self.counters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_limited_faults_fire_then_retire() {
        let mut f = Faults::default();
        f.add(Fault {
            operation: Some("CreateGatewayRoute".into()),
            status: Some(429),
            count: Some(2),
            ..Fault::default()
        })
        .unwrap();
        assert_eq!(
            f.decide("DescribeGatewayRoute").1,
            Outcome::Proceed(Duration::ZERO)
        );
        for _ in 0..2 {
            match f.decide("CreateGatewayRoute").1 {
                Outcome::Fail(e) => assert_eq!(e.kind, "TooManyRequestsException"),
                other => panic!("expected a 429, got {other:?}"),
            }
        }
        assert_eq!(
            f.decide("CreateGatewayRoute").1,
            Outcome::Proceed(Duration::ZERO)
        );
    }

    #[test]
    fn a_retiring_delay_rule_does_not_hide_the_rule_after_it() {
        let mut f = Faults::default();
        f.add(Fault {
            latency_ms: 5,
            count: Some(1),
            ..Fault::default()
        })
        .unwrap();
        f.add(Fault {
            status: Some(503),
            count: Some(2),
            ..Fault::default()
        })
        .unwrap();
        // The delay rule retires on this call; the 503 behind it must still fire, twice.
        let (delay, outcome) = f.decide("DescribeGatewayRoute");
        assert_eq!(delay, Duration::from_millis(5));
        assert!(
            matches!(outcome, Outcome::Fail(ref e) if e.kind == "ServiceUnavailableException"),
            "{outcome:?}"
        );
        assert!(matches!(f.decide("X").1, Outcome::Fail(_)));
        assert_eq!(
            f.decide("X"),
            (Duration::ZERO, Outcome::Proceed(Duration::ZERO))
        );
        assert!(f.rules().is_empty());
    }

    #[test]
    fn probability_is_roughly_kept() {
        let mut f = Faults::default();
        f.add(Fault {
            status: Some(503),
            probability: Some(0.3),
            ..Fault::default()
        })
        .unwrap();
        let failed = (0..10_000)
            .filter(|_| matches!(f.decide("X").1, Outcome::Fail(_)))
            .count();
        assert!((2_500..3_500).contains(&failed), "{failed} of 10000");
    }

    #[test]
    fn the_rate_limit_refuses_above_its_burst() {
        let mut f = Faults::default();
        f.set_rate_limit(Some(RateLimit {
            requests_per_second: 5.0,
            burst: None,
        }))
        .unwrap();
        let refused = (0..20)
            .filter(|_| matches!(f.decide("X").1, Outcome::Fail(_)))
            .count();
        assert_eq!(refused, 15, "a burst of 5 passes, the rest is throttled");
    }
}
