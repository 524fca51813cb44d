//! Logs and metrics: the tracing subscriber, and the Prometheus registry with everything meshroute
//! counts (reconciles, their duration, App Mesh calls, objects by Ready reason).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::api::Reason;
use crate::uid::Uid;

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
struct ErrorLabel {
    error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

fn call_latency() -> Histogram {
    Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

/// Everything meshroute counts, registered for `/metrics`.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    reconcile_errors: Family<ErrorLabel, Counter>,
    reconcile_duration: Histogram,
    appmesh_calls: Family<CallLabels, Counter>,
    objects: Family<ReasonLabel, Gauge>,
    appmesh_paused: Gauge,
    shard_overlaps: Counter,
    drift_checked: Counter,
    drift_found: Counter,
    appmesh_latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    leader: Gauge,
    /// When each object's next reconcile is due (by uid), behind the queue gauges.
    due: Arc<Mutex<HashMap<Uid, Instant>>>,
    /// The Ready reason of each object (by uid), behind the `objects` gauge.
    reasons: Mutex<HashMap<Uid, &'static str>>,
}

impl Default for Metrics {
    fn default() -> Self {
        // The standard process_* metrics sit at the root; everything of meshroute's own is
        // prefixed meshroute_.
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessCollector));
        let registry = root.sub_registry_with_prefix("meshroute");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register(
            "reconciles",
            "Finished reconciles by result: Synced or the Ready=False reason; for deleted objects \
             Deleted, Retained, Released (nothing of theirs to delete) or DeleteFailed",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ErrorLabel, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconciles that ended in an error, by what failed: kube (a Kubernetes read or write), \
             delete (an App Mesh delete; the finalizer stays), not_leader",
            reconcile_errors.clone(),
        );
        let reconcile_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile, whatever its result",
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
        let appmesh_paused = Gauge::default();
        registry.register(
            "appmesh_paused",
            "1 while App Mesh fails every call and meshroute has paused all calls but one probe a second",
            appmesh_paused.clone(),
        );
        let shard_overlaps = Counter::default();
        registry.register(
            "shard_overlaps",
            "Status writes that replaced another shard's (another --lease-name), and statuses \
             left alone because another install reports the object Ready: once for an object \
             moved between shards; a steady rise means two installs watch the same objects",
            shard_overlaps.clone(),
        );
        let drift_checked = Counter::default();
        registry.register(
            "drift_checked_routes",
            "Routes compared with a ListGatewayRoutes page by the drift pass",
            drift_checked.clone(),
        );
        let drift_found = Counter::default();
        registry.register(
            "drift_found_routes",
            "Routes the drift pass found changed or gone outside meshroute (then reconciled)",
            drift_found.clone(),
        );
        let appmesh_latency =
            Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                call_latency,
            );
        registry.register(
            "appmesh_call_duration_seconds",
            "Time of one App Mesh call attempt, by operation",
            appmesh_latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now (at most --concurrency; more wait at the gate)",
            in_flight.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica leads (or runs without leader election), 0 on standby",
            leader.clone(),
        );
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register("build_info", "meshroute's version, always 1", build_info);
        let due = Arc::new(Mutex::new(HashMap::new()));
        registry.register_collector(Box::new(QueueCollector { due: due.clone() }));
        Metrics {
            shard_overlaps,
            drift_checked,
            drift_found,
            appmesh_paused,
            appmesh_latency,
            in_flight,
            leader,
            due,
            registry: root,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            appmesh_calls,
            objects,
            reasons: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Series that exist at 0 from the start, so that a query or an alert over them reads 0,
    /// not nothing, until the first one moves (Prometheus' instrumentation practice: avoid
    /// missing metrics): every reconcile result and error, and every object reason. Creating
    /// a series is all that is needed (the guards `get_or_create` returns are dropped).
    pub fn start_reconciles_at_zero(&self, results: &[&str], errors: &[&str], reasons: &[&str]) {
        for result in results {
            let _ = self.reconciles.get_or_create(&ResultLabel {
                result: result.to_string(),
            });
        }
        for error in errors {
            let _ = self.reconcile_errors.get_or_create(&ErrorLabel {
                error: error.to_string(),
            });
        }
        for reason in reasons {
            let _ = self.objects.get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            });
        }
    }

    /// Every App Mesh call series (`operations` by `outcomes`) and latency histogram at 0.
    pub fn start_calls_at_zero(&self, operations: &[&str], outcomes: &[&str]) {
        for operation in operations {
            for outcome in outcomes {
                let _ = self.appmesh_calls.get_or_create(&CallLabels {
                    operation: operation.to_string(),
                    outcome: outcome.to_string(),
                });
            }
            let _ = self.appmesh_latency.get_or_create(&OperationLabel {
                operation: operation.to_string(),
            });
        }
    }

    /// Counts one App Mesh call.
    pub fn appmesh_call(&self, operation: &str, outcome: &str) {
        self.appmesh_calls
            .get_or_create(&CallLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Times one App Mesh call attempt of `operation`.
    pub fn appmesh_latency(&self, operation: &str, seconds: f64) {
        self.appmesh_latency
            .get_or_create(&OperationLabel {
                operation: operation.into(),
            })
            .observe(seconds);
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Records when the object `uid` is next due (`None`: only when it changes).
    pub fn schedule(&self, uid: &str, due: Option<Instant>) {
        let mut map = self.due.lock().unwrap_or_else(|e| e.into_inner());
        match due {
            Some(at) => map.insert(Uid::of(uid), at),
            None => map.remove(&Uid::of(uid)),
        };
    }

    /// Counts one gateway's routes compared by the drift pass, and those found changed.
    pub fn drift_checked(&self, routes: usize, changed: usize) {
        self.drift_checked.inc_by(routes as u64);
        self.drift_found.inc_by(changed as u64);
    }

    /// Counts a status write over another shard's.
    pub fn shard_overlap(&self) {
        self.shard_overlaps.inc();
    }

    /// Whether App Mesh calls are paused (the breaker).
    pub fn set_appmesh_paused(&self, paused: bool) {
        self.appmesh_paused.set(i64::from(paused));
    }

    /// Counts one finished reconcile of the object `uid` that left it with Ready `reason`.
    pub fn reconciled(&self, uid: &str, reason: Reason) {
        self.count_result(reason.as_str());
        self.set_reason(uid, Some(reason.as_str()));
    }

    /// Counts one finished cleanup of a deleted object by its `result` (which, the object being
    /// gone, is not kept per object).
    pub fn removed(&self, result: &'static str) {
        self.count_result(result);
    }

    fn count_result(&self, result: &'static str) {
        self.reconciles
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// Counts one reconcile that ended in an error of `kind` (`Error::metric_label`).
    pub fn reconcile_error(&self, kind: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabel { error: kind.into() })
            .inc();
    }

    /// Times one reconcile: the duration is recorded when the returned guard is dropped, on
    /// every way out of the reconcile.
    pub fn reconcile_timer(&self, uid: &str) -> ReconcileTimer<'_> {
        self.schedule(uid, None);
        self.in_flight.inc();
        ReconcileTimer {
            histogram: &self.reconcile_duration,
            in_flight: &self.in_flight,
            started: std::time::Instant::now(),
        }
    }

    /// Forgets an object that is gone.
    pub fn forget(&self, uid: &str) {
        self.set_reason(uid, None);
        self.schedule(uid, None);
    }

    /// Forgets every object but `live`.
    pub fn forget_all_but(&self, live: &std::collections::HashSet<Uid>) {
        let gone: Vec<Uid> = {
            let reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
            reasons
                .keys()
                .filter(|uid| !live.contains(*uid))
                .copied()
                .collect()
        };
        for uid in gone {
            self.set_reason_of(uid, None);
        }
        self.due
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|uid, _| live.contains(uid));
    }

    fn set_reason(&self, uid: &str, reason: Option<&'static str>) {
        self.set_reason_of(Uid::of(uid), reason);
    }

    fn set_reason_of(&self, uid: Uid, reason: Option<&'static str>) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        let old = match reason {
            Some(r) => reasons.insert(uid, r),
            None => reasons.remove(&uid),
        };
        if old == reason {
            return;
        }
        if let Some(old) = old {
            self.objects
                .get_or_create(&ReasonLabel { reason: old.into() })
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

/// Records a reconcile's duration, and that it no longer runs, when dropped.
pub struct ReconcileTimer<'a> {
    histogram: &'a Histogram,
    in_flight: &'a Gauge,
    started: std::time::Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.in_flight.dec();
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

/// `meshroute_queue_depth` (objects whose reconcile is due and waiting for a slot) and
/// `meshroute_queue_scheduled` (objects with a retry or drift check scheduled), at scrape time.
#[derive(Debug)]
struct QueueCollector {
    due: Arc<Mutex<HashMap<Uid, Instant>>>,
}

impl prometheus_client::collector::Collector for QueueCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::gauge::ConstGauge;
        let (waiting, scheduled) = {
            let due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            (due.values().filter(|at| **at <= now).count(), due.len())
        };
        for (name, help, value) in [
            (
                "queue_depth",
                "Objects whose reconcile is due and waits for a free slot",
                waiting,
            ),
            (
                "queue_scheduled",
                "Objects with a retry or drift check scheduled",
                scheduled,
            ),
        ] {
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// `process_*` metrics read from /proc/self at scrape time: CPU seconds, resident memory,
/// threads, open file descriptors and start time.
#[derive(Debug)]
struct ProcessCollector;

impl ProcessCollector {
    /// (cpu seconds, resident bytes, threads, start time in epoch seconds) from /proc/self/stat.
    fn read() -> Option<(f64, f64, f64, f64)> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which may hold spaces, start at field 3 (state).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK) as f64,
                libc::sysconf(libc::_SC_PAGESIZE) as f64,
            )
        };
        let cpu = (field(14)? + field(15)?) / ticks;
        let rss = field(24)? * page;
        let threads = field(20)?;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
        Some((cpu, rss, threads, boot + field(22)? / ticks))
    }
}

impl prometheus_client::collector::Collector for ProcessCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        let Some((cpu, rss, threads, start)) = Self::read() else {
            return Ok(());
        };
        let fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as f64)
            .unwrap_or(0.0);
        let cpu = ConstCounter::new(cpu);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "CPU time used, user and system",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            ("process_resident_memory_bytes", "Resident memory", rss),
            ("process_threads", "OS threads", threads),
            ("process_open_fds", "Open file descriptors", fds),
            (
                "process_start_time_seconds",
                "Start time since the Unix epoch",
                start,
            ),
        ] {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_counted_once_by_their_latest_reason() {
        let m = Metrics::default();
        m.reconciled("a", Reason::DependencyNotFound);
        m.reconciled("a", Reason::Synced);
        m.reconciled("b", Reason::Synced);
        m.reconciled("c", Reason::Synced);
        m.forget("b");
        m.forget_all_but(&[Uid::of("a")].into());
        m.removed("Deleted");
        m.reconcile_error("delete");
        m.schedule("a", Some(Instant::now()));
        m.schedule(
            "c",
            Some(Instant::now() + std::time::Duration::from_secs(60)),
        );
        let timer = m.reconcile_timer("x");
        assert!(m.encode().contains("meshroute_reconciles_in_flight 1"));
        drop(timer);
        let text = m.encode();
        assert!(
            text.contains("meshroute_gatewayroutes{reason=\"Synced\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_reconcile_errors_total{error=\"delete\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_gatewayroutes{reason=\"DependencyNotFound\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("meshroute_reconciles_total{result=\"Synced\"} 3"),
            "{text}"
        );
    }
}
