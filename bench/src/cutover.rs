//! The cut-over of a whole virtual gateway at N routes: served by App Mesh (the emulator's
//! gateway, meshroute at `--appmesh-rps 10`), then by both, by Gateway API alone (Traefik),
//! by both again and by App Mesh again, the same GatewayRoutes throughout. Each step is the
//! operator restarted with the gateway's new `--serve`, timed until every route is Ready as
//! served by the new backends, against its floor: the Gateway API writes alone (the same
//! HTTPRoutes applied or deleted straight) or App Mesh's calls at the rate limit. A sampling
//! load goes through the gateways that serve at both ends of each step, and none of its
//! requests may fail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use meshroute::api::GatewayRoute;
use meshroute_testbed::gateway_api::Mode;
use meshroute_testbed::traffic::{Outcome, Proto, get, send};
use meshroute_testbed::{ControlPlane, GATEWAY, MESH, SERVICES};
use serde_json::{Value, json};

use crate::Args;
use crate::gateway_api::{floor, gateway_api_bed};
use crate::run::{
    Run, Served, calls_per_object, counters, kubectl_apply, round, start_operator, start_run,
    usage, wait_all,
};

/// App Mesh's limit on meshroute's calls in this scenario (its default burst, 20).
const APP_MESH_RPS: f64 = 10.0;
const APP_MESH_BURST: f64 = 20.0;
/// Requests per second through each gateway sampled.
const SAMPLE_RPS: f64 = 20.0;

/// What a route's status says when `mode` serves it, in sync.
fn served(mode: Mode) -> Served {
    Served {
        ready: true,
        app_mesh: mode.app_mesh(),
        gateway_api: mode.gateway_api(),
    }
}

/// Route `r<i>` of the scenario: `/r<i>/` on the gateway's HTTP listener, to the bench's first
/// service (App Mesh's default rewrites: the prefix becomes `/`, the Host the service's name).
fn route(run: &Run, i: usize) -> GatewayRoute {
    let (key, value) = run.label.split_once('=').unwrap();
    serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": format!("r{i}"), "namespace": run.ns, "labels": { key: value } },
        "spec": { "meshName": MESH, "virtualGatewayName": GATEWAY,
            "httpRoute": { "match": { "prefix": format!("/r{i}/") },
                "action": { "target": { "virtualService": { "virtualServiceName": SERVICES[0] } } } } }
    }))
    .unwrap()
}

/// What a request for route `r<i>` reaches through either gateway.
fn reached() -> Outcome {
    Outcome::Reached {
        service: SERVICES[0].to_string(),
        path: "/x".into(),
        host: SERVICES[0].to_string(),
    }
}

/// Requests for the N routes in turn through one gateway, `SAMPLE_RPS` a second, until stopped.
struct Sampler {
    gateway: &'static str,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, Vec<String>)>,
}

impl Sampler {
    fn start(gateway: &'static str, to: SocketAddr, n: usize) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let (start, mut sent, mut failed) = (Instant::now(), 0u64, Vec::new());
            while !stopping.load(Ordering::Relaxed) {
                // A stride prime to N visits every route before repeating one.
                let i = (sent as usize).wrapping_mul(7919) % n;
                let got = send(to, Proto::Http, &get(&format!("/r{i}/x")));
                if got != reached() {
                    failed.push(format!("{gateway} /r{i}/x: {got}"));
                }
                sent += 1;
                let next = start + Duration::from_secs_f64(sent as f64 / SAMPLE_RPS);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (sent, failed)
        });
        Sampler {
            gateway,
            stop,
            thread,
        }
    }

    fn finish(self) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        let (sent, failed) = self.thread.join().unwrap();
        json!({ "gateway": self.gateway, "sent": sent, "failed": failed.len(),
                "first_failures": failed.iter().take(5).collect::<Vec<_>>() })
    }
}

/// Waits until every route's status says `mode` serves it; the seconds since `start`.
async fn until_served(run: &Run, n: usize, mode: Mode, start: Instant) -> f64 {
    let want = served(mode);
    wait_all(
        run,
        &format!("the cut-over to {}", mode.name()),
        Duration::from_secs(600 + 2 * n as u64 / APP_MESH_RPS as u64),
        |s| (0..n).all(|i| s.served.get(&format!("r{i}")) == Some(&want)),
    )
    .await;
    start.elapsed().as_secs_f64()
}

/// Waits until a request for each of a few routes reaches its backend through `to` (Traefik
/// serves a configuration a moment after it writes the routes' status).
fn until_serving(gateway: &str, to: SocketAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in [0, n / 2, n - 1] {
        loop {
            let got = send(to, Proto::Http, &get(&format!("/r{i}/x")));
            if got == reached() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{gateway} does not serve /r{i}/x 60 s after Ready: {got}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The cut-over scenario at `n` routes.
pub async fn cutover_scenario(plane: &ControlPlane, args: &Args, n: usize) -> Value {
    let (traefik, gateway_ns, ports) = gateway_api_bed(plane, 1).await;
    let traefik_at = SocketAddr::from(([127, 0, 0, 1], ports[0]));
    let rps = APP_MESH_RPS.to_string();
    let flags = |mode: Mode| -> Vec<String> {
        vec![
            "--appmesh-rps".into(),
            rps.clone(),
            "--serve".into(),
            mode.serve(&gateway_ns),
        ]
    };
    let first = flags(Mode::AppMesh);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let mut run = start_run(plane, args, &first, 0).await;

    // App Mesh's side: the service's echo backend and the gateway's listeners. Gateway API's:
    // a Service and EndpointSlice for the same echo backend.
    let host = meshroute_testbed::host_address().unwrap_or_else(|e| panic!("{e}"));
    let echo = run
        .emulator
        .serve_echo_on(MESH, SERVICES[0], host)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let backend = meshroute_testbed::gateway_api::Backend {
        namespace: run.ns.clone(),
        name: SERVICES[0].split('.').next().unwrap().to_string(),
        address: echo,
        target_port: None,
        h2c: false,
    };
    let objects = meshroute_testbed::gateway_api::backend_objects(&[backend]);
    kubectl_apply(
        plane,
        meshroute_testbed::gateway_api::list(objects).as_bytes(),
    );
    let app_mesh_at = run
        .emulator
        .serve_gateway(MESH, GATEWAY)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|l| l.protocol == "http")
        .expect("the bench's gateway has an HTTP listener")
        .address;
    let at = |gateway: &str| match gateway {
        "App Mesh" => app_mesh_at,
        _ => traefik_at,
    };

    // N routes served by App Mesh.
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let run = &run;
            async move {
                run.api
                    .create(&PostParams::default(), &route(run, i))
                    .await
                    .expect("create");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let created = until_served(&run, n, Mode::AppMesh, start).await;
    until_serving("App Mesh", app_mesh_at, n);
    eprintln!("  {n} routes served by App Mesh in {created:.1} s");

    let steps = [
        (Mode::AppMesh, Mode::Both),
        (Mode::Both, Mode::GatewayApi),
        (Mode::GatewayApi, Mode::Both),
        (Mode::Both, Mode::AppMesh),
    ];
    let mut results = Vec::new();
    let mut at_rest = Value::Null;
    for (from, to) in steps {
        let mut throughout = Vec::new();
        if from.app_mesh() && to.app_mesh() {
            throughout.push("App Mesh");
        }
        if from.gateway_api() && to.gateway_api() {
            throughout.push("Traefik");
        }
        let samplers: Vec<Sampler> = throughout
            .iter()
            .map(|g| Sampler::start(g, at(g), n))
            .collect();
        let before = counters(&run);
        run.operator.terminate(Duration::from_secs(10)).await;
        let step = flags(to);
        let step: Vec<&str> = step.iter().map(String::as_str).collect();
        run.operator = start_operator(
            plane,
            args,
            &run.emulator.endpoint(),
            &run.label,
            &step,
            &format!("operator-{}-{}-to-{}.log", run.ns, from.name(), to.name()),
        );
        let start = Instant::now();
        let seconds = until_served(&run, n, to, start).await;
        for gateway in ["App Mesh", "Traefik"] {
            if (gateway == "App Mesh" && to.app_mesh())
                || (gateway == "Traefik" && to.gateway_api())
            {
                until_serving(gateway, at(gateway), n);
            }
        }
        let requests: Vec<Value> = samplers.into_iter().map(Sampler::finish).collect();
        let calls = calls_per_object(&before, &counters(&run), n);
        let operator = usage(run.operator.pid());
        eprintln!(
            "  {} -> {}: {seconds:.1} s; App Mesh calls per route {calls}; requests {}; {operator}",
            from.name(),
            to.name(),
            json!(requests)
        );
        results.push(
            json!({ "from": from.name(), "to": to.name(), "seconds_to_all_ready": round(seconds),
            "appmesh_calls_per_object": calls, "requests": requests, "operator": operator }),
        );
        if to == Mode::GatewayApi {
            // Gateway API alone serves: App Mesh hears nothing.
            let before = counters(&run)["total"].as_u64().unwrap();
            tokio::time::sleep(Duration::from_secs(args.steady_seconds)).await;
            let calls = counters(&run)["total"].as_u64().unwrap() - before;
            at_rest = json!({ "seconds": args.steady_seconds, "appmesh_calls": calls });
            eprintln!("  gateway-api alone at rest: {at_rest}");
        }
    }
    let operator = usage(run.operator.pid());
    run.operator.terminate(Duration::from_secs(10)).await;

    // The floors: the Gateway API writes alone, and App Mesh's calls at the rate limit.
    let (apply_floor, delete_floor, floor_routes) =
        floor(plane, args, n, 1, &gateway_ns, true).await;
    let app_mesh_floor = (n as f64 - APP_MESH_BURST).max(0.0) / APP_MESH_RPS;
    for step in &mut results {
        let floor_s = match (step["from"].as_str(), step["to"].as_str()) {
            (Some("app-mesh"), _) => apply_floor,
            (_, Some("app-mesh")) => delete_floor.unwrap(),
            _ => app_mesh_floor,
        };
        step["floor_seconds"] = json!(round(floor_s));
        step["ratio_to_floor"] = json!(round(
            step["seconds_to_all_ready"].as_f64().unwrap() / floor_s
        ));
    }
    drop(traefik);
    drop(floor_routes);
    let everything = (&Default::default(), &Default::default());
    let gateways: Api<DynamicObject> = Api::namespaced_with(
        plane.client().await.unwrap(),
        &gateway_ns,
        &meshroute::gatewayapi::api_resource("Gateway"),
    );
    gateways
        .delete_collection(everything.0, everything.1)
        .await
        .expect("delete the scenario's Gateway");
    let total_sent: u64 = results
        .iter()
        .flat_map(|s| s["requests"].as_array().unwrap().iter())
        .map(|r| r["sent"].as_u64().unwrap())
        .sum();
    let total_failed: u64 = results
        .iter()
        .flat_map(|s| s["requests"].as_array().unwrap().iter())
        .map(|r| r["failed"].as_u64().unwrap())
        .sum();
    eprintln!(
        "  cut-over: {total_sent} requests sampled, {total_failed} failed; floors: apply {apply_floor:.1} s, delete {:.1} s, App Mesh {app_mesh_floor:.1} s",
        delete_floor.unwrap()
    );
    drop(run);
    json!({ "n": n, "appmesh_rps": APP_MESH_RPS as u64, "sample_rps_per_gateway": SAMPLE_RPS,
            "seconds_to_serve_by_app_mesh": round(created), "steps": results,
            "gateway_api_alone_at_rest": at_rest, "requests_sampled": total_sent,
            "requests_failed": total_failed, "operator": operator })
}
