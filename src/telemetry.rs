//! Logs and metrics: the tracing subscriber, and the Prometheus registry with everything meshroute
//! counts (reconciles, their duration, App Mesh calls, objects by Ready reason).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON lines when stderr is not a terminal (in a pod), pretty text on a terminal.
    Auto,
    Json,
    Pretty,
}

/// Installs the global tracing subscriber; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube_runtime=warn,aws_config=warn".into());
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

/// Everything meshroute counts, registered for `/metrics`.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    reconcile_duration: Histogram,
    appmesh_calls: Family<CallLabels, Counter>,
    objects: Family<ReasonLabel, Gauge>,
    /// The Ready reason of each object (by uid), behind the `objects` gauge.
    reasons: Mutex<HashMap<String, String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("meshroute");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by result (Ready, or the Ready=False reason)",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            reconcile_duration.clone(),
        );
        let appmesh_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "appmesh_calls",
            "App Mesh API calls by operation and outcome (ok or the error kind)",
            appmesh_calls.clone(),
        );
        let objects = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "gatewayroutes",
            "GatewayRoute objects by Ready reason",
            objects.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            appmesh_calls,
            objects,
            reasons: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts one App Mesh call.
    pub fn appmesh_call(&self, operation: &str, outcome: &str) {
        self.appmesh_calls
            .get_or_create(&CallLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Counts one finished reconcile of the object `uid` that left it with Ready `reason`.
    pub fn reconciled(&self, uid: &str, reason: &str, seconds: f64) {
        self.reconciles
            .get_or_create(&ResultLabel {
                result: reason.into(),
            })
            .inc();
        self.reconcile_duration.observe(seconds);
        self.set_reason(uid, Some(reason));
    }

    /// Forgets an object that is gone.
    pub fn forget(&self, uid: &str) {
        self.set_reason(uid, None);
    }

    fn set_reason(&self, uid: &str, reason: Option<&str>) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        let old = match reason {
            Some(r) => reasons.insert(uid.to_string(), r.to_string()),
            None => reasons.remove(uid),
        };
        if old.as_deref() == reason {
            return;
        }
        if let Some(old) = old {
            self.objects
                .get_or_create(&ReasonLabel { reason: old })
                .dec();
        }
        if let Some(new) = reason {
            self.objects
                .get_or_create(&ReasonLabel { reason: new.into() })
                .inc();
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_counted_once_by_their_latest_reason() {
        let m = Metrics::default();
        m.reconciled("a", "DependencyNotFound", 0.1);
        m.reconciled("a", "Ready", 0.1);
        m.reconciled("b", "Ready", 0.1);
        m.forget("b");
        let text = m.encode();
        assert!(
            text.contains("meshroute_gatewayroutes{reason=\"Ready\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_gatewayroutes{reason=\"DependencyNotFound\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_reconciles_total{result=\"Ready\"} 2"),
            "{text}"
        );
    }
}
