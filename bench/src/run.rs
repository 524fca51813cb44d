//! What every scenario shares: a run (a fresh namespace, emulator and operator process), its
//! objects, waiting for them, and the figures (calls, writes, usage, percentiles).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use kube::api::Api;
use kube::runtime::watcher;
use meshroute::api::GatewayRoute;
use meshroute_testbed::{ControlPlane, Operator};
use serde_json::{Value, json};

use crate::Args;

/// When each object (by name) was applied, first seen Ready per generation, and seen deleted;
/// which backends its latest status says serve it.
#[derive(Default)]
pub struct Seen {
    pub applied: HashMap<String, Instant>,
    pub ready: HashMap<(String, i64), Instant>,
    pub gone: HashMap<String, Instant>,
    pub served: HashMap<String, Served>,
    pub events: u64,
}

/// What an object's latest status says: Ready at its generation, and which backends hold a
/// route for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub ready: bool,
    pub app_mesh: bool,
    pub gateway_api: bool,
}

pub struct Run {
    pub ns: String,
    pub label: String,
    pub api: Api<GatewayRoute>,
    pub emulator: appmesh_emulator::Handle,
    pub operator: Operator,
    pub seen: Arc<Mutex<Seen>>,
    /// How many virtual gateways the run's routes are spread over (`virtual_gateway`).
    pub gateways: usize,
}

pub fn seen(run: &Run) -> std::sync::MutexGuard<'_, Seen> {
    run.seen.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn ready(r: &GatewayRoute) -> bool {
    let Some(status) = &r.status else {
        return false;
    };
    status.observed_generation == r.metadata.generation
        && status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// A fresh emulator seeded with the bench's mesh, gateway and services, answering every call
/// `latency_ms` late.
pub fn seeded_emulator(latency_ms: u64) -> appmesh_emulator::Handle {
    let emulator = appmesh_emulator::spawn(meshroute_testbed::emulator_settings(), 0).unwrap();
    meshroute_testbed::seed(&emulator.emulator).unwrap();
    if latency_ms > 0 {
        emulator
            .emulator
            .add_fault(serde_json::from_value(json!({ "latencyMs": latency_ms })).unwrap())
            .unwrap();
    }
    emulator
}

pub async fn start_run(plane: &ControlPlane, args: &Args, extra: &[&str], latency_ms: u64) -> Run {
    let client = plane.client().await.unwrap();
    let ns = meshroute_testbed::namespace(&client, "bench")
        .await
        .unwrap();
    let label = format!("meshroute-bench={ns}");
    let emulator = seeded_emulator(latency_ms);
    install_finalizer_policy(plane, &label);
    let operator = start_operator(
        plane,
        args,
        &emulator.endpoint(),
        &label,
        extra,
        &format!("operator-{ns}.log"),
    );
    let api: Api<GatewayRoute> = Api::namespaced(client, &ns);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stream = watcher(api.clone(), watcher::Config::default().labels(&label));
    let record = seen.clone();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Ok(Some(event)) = stream.try_next().await {
            let now = Instant::now();
            let mut s = record.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                watcher::Event::Apply(r) | watcher::Event::InitApply(r) => {
                    s.events += 1;
                    let status = r.status.as_ref();
                    s.served.insert(
                        r.metadata.name.clone().unwrap_or_default(),
                        Served {
                            ready: ready(&r),
                            app_mesh: status.is_some_and(|s| s.arn.is_some()),
                            gateway_api: status.is_some_and(|s| s.gateway_api_route.is_some()),
                        },
                    );
                    if ready(&r) {
                        let key = (
                            r.metadata.name.clone().unwrap_or_default(),
                            r.metadata.generation.unwrap_or(0),
                        );
                        s.ready.entry(key).or_insert(now);
                    }
                }
                watcher::Event::Delete(r) => {
                    s.events += 1;
                    s.gone
                        .entry(r.metadata.name.clone().unwrap_or_default())
                        .or_insert(now);
                }
                _ => {}
            }
        }
    });
    Run {
        ns,
        label,
        api,
        emulator,
        operator,
        seen,
        gateways: 1,
    }
}

/// Route `r<i>` of a run, labelled for its operator.
pub fn route(run: &Run, i: usize) -> GatewayRoute {
    let mut r = route_in(&run.ns, i);
    r.spec.virtual_gateway_name = virtual_gateway(i % run.gateways, run.gateways);
    let (key, value) = run.label.split_once('=').unwrap();
    r.metadata.labels = Some([(key.to_string(), value.to_string())].into());
    r
}

/// An operator for the objects labelled `label`, with the bench's flags and `extra`, logging
/// to `log` in the bed's directory.
pub fn start_operator(
    plane: &ControlPlane,
    args: &Args,
    endpoint: &str,
    label: &str,
    extra: &[&str],
    log: &str,
) -> Operator {
    let concurrency = args.concurrency.to_string();
    let mut flags = vec![
        "--leader-election",
        "false",
        "--resync-period",
        "0",
        "--concurrency",
        &concurrency,
        "--retry-base",
        "200ms",
        "--retry-max",
        "5s",
    ];
    if !extra.contains(&"--appmesh-rps") {
        // No client-side limit unless the wave is about the limit.
        flags.extend(["--appmesh-rps", "100000", "--appmesh-burst", "100000"]);
    }
    flags.extend(extra);
    Operator::start(
        &args.operator,
        &plane.kubeconfig,
        endpoint,
        label,
        &flags,
        plane.dir().join(log),
    )
    .expect("start the operator")
}

/// The apiserver's count of write requests so far (`apiserver_request_total`), by resource
/// (`resource` or `resource/subresource`) and verb (POST, PUT, PATCH, APPLY, DELETE), whoever
/// made them.
pub async fn apiserver_writes(plane: &ControlPlane) -> BTreeMap<String, u64> {
    let client = plane.client().await.unwrap();
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client
        .request_text(request)
        .await
        .expect("the apiserver's /metrics");
    let mut writes = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("")
        };
        let verb = label("verb");
        if !["POST", "PUT", "PATCH", "APPLY", "DELETE"].contains(&verb) {
            continue;
        }
        let resource = match label("subresource") {
            "" => label("resource").to_string(),
            sub => format!("{}/{sub}", label("resource")),
        };
        *writes.entry(format!("{resource} {verb}")).or_default() +=
            value.parse::<f64>().unwrap_or(0.0) as u64;
    }
    writes
}

/// The write requests made between `before` and `after` (`apiserver_writes`), per object
/// where `n` is not 0, leases left out (leader election and the apiserver's own).
pub fn writes_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    n: usize,
) -> Value {
    let mut out = serde_json::Map::new();
    for (key, count) in after {
        let made = count - before.get(key).copied().unwrap_or(0);
        if made > 0 && !key.starts_with("leases") {
            let value = if n == 0 {
                json!(made)
            } else {
                json!(round(made as f64 / n as f64))
            };
            out.insert(key.clone(), value);
        }
    }
    Value::Object(out)
}

/// Route `r<i>` in namespace `ns`, unlabelled.
pub fn route_in(ns: &str, i: usize) -> GatewayRoute {
    serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": format!("r{i}"), "namespace": ns },
        "spec": { "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY,
            "http2Route": { "match": { "prefix": format!("/r{i}") },
                "action": { "target": { "virtualService": { "virtualServiceName": meshroute_testbed::SERVICES[0] } } } } }
    }))
    .unwrap()
}

/// The name of virtual gateway `k` of `of`: the testbed's own when there is one.
pub fn virtual_gateway(k: usize, of: usize) -> String {
    if of == 1 {
        meshroute_testbed::GATEWAY.to_string()
    } else {
        format!("{}-{k}", meshroute_testbed::GATEWAY)
    }
}

/// Waits until `done` holds for every object, or panics after `limit`.
pub async fn wait_all(run: &Run, what: &str, limit: Duration, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(&seen(run)) {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {limit:?}:\n{}",
            run.operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn counters(run: &Run) -> Value {
    run.emulator.emulator.counters()
}

/// App Mesh calls per object by operation since `before`.
pub fn calls_per_object(before: &Value, after: &Value, n: usize) -> Value {
    let mut out = serde_json::Map::new();
    let mut total = 0u64;
    for (op, outcomes) in after["operations"].as_object().into_iter().flatten() {
        let sum = |v: &Value| {
            v.as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
                .unwrap_or(0)
        };
        let calls = sum(outcomes) - sum(&before["operations"][op]);
        if calls > 0 {
            out.insert(op.clone(), json!(round(calls as f64 / n as f64)));
            total += calls;
        }
    }
    out.insert("total".into(), json!(round(total as f64 / n as f64)));
    Value::Object(out)
}

pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    if xs.is_empty() {
        return 0.0;
    }
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

pub fn calls_of(run: &Run, operation: &str) -> u64 {
    counters(run)["operations"][operation]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

/// Peak RSS (MiB), the RSS now split into anonymous memory and mapped files (mostly the
/// binary's own code), and CPU seconds of a process, from /proc.
pub fn usage(pid: u32) -> Value {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    json!({ "peak_rss_mib": round(kib("VmHWM:") / 1024.0),
            "rss_anon_mib": round(kib("RssAnon:") / 1024.0), "rss_file_mib": round(kib("RssFile:") / 1024.0),
            "cpu_seconds": round((ticks(14) + ticks(15)) / 100.0) })
}

/// The chart's MutatingAdmissionPolicy for objects labelled `label` (as a release with that
/// `watch.labelSelector` installs it), once the apiserver enforces it: the finalizer is then
/// set at admission and the operator does not write it.
pub fn install_finalizer_policy(plane: &ControlPlane, label: &str) {
    use std::process::Command;
    let bin = meshroute_testbed::testbin_dir().unwrap_or_else(|e| panic!("{e}"));
    let release = label.replace(['=', '.'], "-");
    let rendered = Command::new(bin.join("helm"))
        .current_dir(meshroute_testbed::repo_root())
        .args([
            "template",
            &release,
            "charts/meshroute",
            "-s",
            "templates/finalizerpolicy.yaml",
        ])
        .args([
            "--api-versions",
            "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
        ])
        .args(["--set", &format!("watch.labelSelector={label}")])
        .output()
        .expect("helm template");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    kubectl_apply(plane, &rendered.stdout);
    // Enforced a moment after it is created: wait until a labelled object (a server-side dry
    // run, which runs admission and stores nothing) gets the finalizer.
    let (key, value) = label.split_once('=').unwrap();
    for i in 0..100 {
        let probe = format!(
            r#"{{"apiVersion":"meshroute.io/v1alpha1","kind":"GatewayRoute","metadata":{{"name":"policy-probe-{i}","namespace":"default","labels":{{"{key}":"{value}"}}}},"spec":{{"meshName":"m","virtualGatewayName":"g","httpRoute":{{"match":{{"prefix":"/"}},"action":{{"target":{{"virtualService":{{"virtualServiceName":"s"}}}}}}}}}}}}"#
        );
        // Until the CRD is served the dry run fails: expected, and retried.
        let out = meshroute_testbed::kubectl(
            &plane.kubeconfig,
            &[
                "create",
                "--dry-run=server",
                "-o",
                "jsonpath={.metadata.finalizers}",
                "-f",
                "-",
            ],
            Some(probe.as_bytes()),
        );
        if out.is_ok_and(|o| o.contains("meshroute.io/finalizer")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the finalizer policy for {label} was not enforced within 10 s");
}

/// Applies `objects` (YAML or JSON) with the bed's kubectl, server-side.
pub fn kubectl_apply(plane: &ControlPlane, objects: &[u8]) {
    meshroute_testbed::kubectl(
        &plane.kubeconfig,
        &["apply", "--server-side", "-f", "-"],
        Some(objects),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
