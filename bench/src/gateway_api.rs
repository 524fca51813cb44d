//! The Gateway API scenario: N GatewayRoutes served by Traefik through the routes meshroute
//! writes, against the floor of the same HTTPRoutes applied straight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use meshroute_testbed::ControlPlane;
use serde_json::{Value, json};

use crate::Args;
use crate::app_mesh::create_wave;
use crate::run::{
    apiserver_writes, kubectl_apply, round, start_operator, start_run, usage, virtual_gateway,
    wait_all, writes_between,
};

/// The name of the Gateway that serves virtual gateway `k` of `of`.
fn gateway_name(k: usize, of: usize) -> String {
    if of == 1 {
        "gw".to_string()
    } else {
        format!("gw{k}")
    }
}

/// The Gateway API CRDs, a GatewayClass served by Traefik and `gateways` Gateways that take
/// routes from every namespace, each on its own port; Traefik started on their listeners.
/// Returns Traefik, the Gateways' namespace and their ports.
pub async fn gateway_api_bed(
    plane: &ControlPlane,
    gateways: usize,
) -> (meshroute_testbed::Traefik, String, Vec<u16>) {
    meshroute_testbed::install_gateway_api(&plane.kubeconfig).unwrap_or_else(|e| panic!("{e}"));
    let client = plane.client().await.unwrap();
    let ns = meshroute_testbed::namespace(&client, "gateway")
        .await
        .unwrap();
    let free = meshroute_testbed::free_ports::<16>().unwrap();
    assert!(gateways <= free.len(), "at most {} gateways", free.len());
    let ports = &free[..gateways];
    let mut items = vec![json!(
        { "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
          "metadata": { "name": "meshroute-bench" },
          "spec": { "controllerName": meshroute_testbed::TRAEFIK_CONTROLLER } })];
    for (k, port) in ports.iter().enumerate() {
        items.push(json!(
            { "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
              "metadata": { "name": gateway_name(k, gateways), "namespace": ns },
              "spec": { "gatewayClassName": "meshroute-bench", "listeners": [{
                  "name": "http", "protocol": "HTTP", "port": port,
                  "allowedRoutes": { "namespaces": { "from": "All" } } }] } }));
    }
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": items });
    kubectl_apply(plane, list.to_string().as_bytes());
    let traefik = meshroute_testbed::Traefik::start(&plane.kubeconfig, ports, plane.dir())
        .unwrap_or_else(|e| panic!("start Traefik: {e}"));
    (traefik, ns, ports.to_vec())
}

/// The Service every benchmark route's backend names (`myservicea`, the route's namespace), and
/// its EndpointSlice (Traefik resolves a backend by its endpoints; nothing listens there).
pub fn backend_service(plane: &ControlPlane, ns: &str) {
    let host = meshroute_testbed::host_address().unwrap_or_else(|e| panic!("{e}"));
    let backend = json!({ "apiVersion": "v1", "kind": "List", "items": [
            { "apiVersion": "v1", "kind": "Service",
              "metadata": { "name": "myservicea", "namespace": ns },
              "spec": { "ports": [{ "name": "http", "port": 80 }] } },
            { "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": { "name": "myservicea", "namespace": ns,
                            "labels": { "kubernetes.io/service-name": "myservicea" } },
              "addressType": "IPv4",
              "endpoints": [{ "addresses": [host.to_string()], "conditions": { "ready": true } }],
              "ports": [{ "name": "http", "port": 80, "protocol": "TCP" }] },
        ] });
    kubectl_apply(plane, backend.to_string().as_bytes());
}

/// Whether a Gateway API route's implementation accepted it, backends resolved, at its
/// generation.
pub fn accepted(route: &kube::api::DynamicObject) -> bool {
    let generation = route.metadata.generation;
    let conditions: Vec<&Value> = route.data["status"]["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["conditions"].as_array().into_iter().flatten())
        .collect();
    ["Accepted", "ResolvedRefs"].iter().all(|t| {
        conditions.iter().any(|c| {
            c["type"] == *t
                && c["status"] == "True"
                && c["observedGeneration"].as_i64() == generation
        })
    })
}

/// The Gateway API backend at `n` GatewayRoutes spread over `gateways` virtual gateways, each
/// served by its own Gateway: the operator's create wave (time to all Ready, which needs
/// Traefik's status on every route), its writes, the routes at rest (a hand edit and a hand
/// deletion of an HTTPRoute put back), a restart, and the floor: the same N HTTPRoutes applied
/// straight (server-side apply, the operator's concurrency) and accepted by Traefik.
pub async fn gateway_api_scenario(
    plane: &ControlPlane,
    args: &Args,
    n: usize,
    gateways: usize,
) -> Value {
    let (traefik, gateway_ns, _) = gateway_api_bed(plane, gateways).await;
    let serves: Vec<String> = (0..gateways)
        .map(|k| {
            format!(
                "{}/{}=gateway-api:{gateway_ns}/{}",
                meshroute_testbed::MESH,
                virtual_gateway(k, gateways),
                gateway_name(k, gateways)
            )
        })
        .collect();
    let extra: Vec<&str> = serves
        .iter()
        .flat_map(|s| ["--serve", s.as_str()])
        .collect();
    let mut run = start_run(plane, args, &extra, 0).await;
    run.gateways = gateways;
    backend_service(plane, &run.ns);
    let resource = meshroute::gatewayapi::api_resource("HTTPRoute");
    let client = plane.client().await.unwrap();
    let routes: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), &run.ns, &resource);
    let route_events = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = route_events.clone();
    let watch = tokio::spawn(
        watcher(routes.clone(), watcher::Config::default()).for_each(move |e| {
            if matches!(e, Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))) {
                counting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            std::future::ready(())
        }),
    );
    let before = apiserver_writes(plane).await;
    let create = create_wave(&run, n).await;
    watch.abort();
    let created = apiserver_writes(plane).await;
    let writes = writes_between(&before, &created, n);
    let route_writes = route_events.load(std::sync::atomic::Ordering::Relaxed) as f64 / n as f64;
    let operator = usage(run.operator.pid());
    eprintln!(
        "  gateway api create: {create}; HTTPRoute changes per object {route_writes:.2}; \
         apiserver writes per object {writes}; {operator}"
    );

    // At rest: every route in sync, nothing changed.
    let cpu = |run: &crate::run::Run| usage(run.operator.pid())["cpu_seconds"].as_f64().unwrap();
    let cpu_before = cpu(&run);
    tokio::time::sleep(Duration::from_secs(args.steady_seconds)).await;
    let at_rest_writes = apiserver_writes(plane).await;
    let at_rest = json!({ "seconds": args.steady_seconds, "writes": writes_between(&created, &at_rest_writes, 0),
        "cpu_percent_of_a_core": round((cpu(&run) - cpu_before) * 100.0 / args.steady_seconds as f64) });
    eprintln!("  at rest: {at_rest}");

    // By hand, among the N at rest: an edit of one HTTPRoute (as `kubectl edit` makes it, another
    // field manager) and the deletion of another, each timed until meshroute has put it back.
    let edit = json!({ "spec": { "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": "/by-hand" } }],
        "backendRefs": [{ "name": "myservicea", "port": 80 }] }] } });
    let path = |r: &kube::api::DynamicObject| {
        r.data["spec"]["rules"][0]["matches"][0]["path"]["value"].clone()
    };
    let applied = path(&routes.get("r1").await.expect("HTTPRoute r1"));
    let started = Instant::now();
    routes
        .patch(
            "r1",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &Patch::Merge(&edit),
        )
        .await
        .expect("edit HTTPRoute r1 by hand");
    until(
        Duration::from_secs(60),
        "the hand edit put back",
        || async { routes.get("r1").await.is_ok_and(|r| path(&r) == applied) },
    )
    .await;
    let edit_back = started.elapsed().as_secs_f64();
    let uid = routes.get("r2").await.expect("HTTPRoute r2").metadata.uid;
    let started = Instant::now();
    routes
        .delete("r2", &Default::default())
        .await
        .expect("delete HTTPRoute r2 by hand");
    until(
        Duration::from_secs(60),
        "the hand deletion undone",
        || async {
            routes
                .get_opt("r2")
                .await
                .ok()
                .flatten()
                .is_some_and(|r| r.metadata.uid != uid)
        },
    )
    .await;
    let by_hand = json!({ "edit_put_back_seconds": round(edit_back),
        "deletion_undone_seconds": round(started.elapsed().as_secs_f64()) });
    eprintln!("  by hand: {by_hand}");
    let rested = apiserver_writes(plane).await;

    // A restart (kill -9) with every route in sync, and one route edited at once: the new
    // operator's writes in its first 15 s (the edit's own writes among them) and how soon the
    // edit is served.
    run.operator.kill();
    run.operator = start_operator(
        plane,
        args,
        &run.emulator.endpoint(),
        &run.label,
        &extra,
        &format!("operator-{}-restart.log", run.ns),
    );
    let restarted = Instant::now();
    let edit = json!({ "spec": { "http2Route": { "match": { "prefix": "/r0-moved" } } } });
    run.api
        .patch("r0", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .expect("edit r0");
    wait_all(
        &run,
        "the edit after the restart",
        Duration::from_secs(120),
        |s| s.ready.contains_key(&("r0".into(), 2)),
    )
    .await;
    let edit_ready = restarted.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(restarted.elapsed())).await;
    let restart = json!({ "edit_ready_seconds": round(edit_ready),
        "writes_in_15_s": writes_between(&rested, &apiserver_writes(plane).await, 0),
        "operator": usage(run.operator.pid()) });
    eprintln!("  restart: {restart}");
    drop(run);

    let (floor_s, _, floor_routes) = floor(plane, args, n, gateways, &gateway_ns, false).await;
    drop(traefik);
    // The next scenario runs on the same apiserver with a Traefik of its own, which would
    // otherwise judge these routes and serve these Gateways too (there is no namespace
    // controller to empty the namespaces).
    let everything = (&Default::default(), &Default::default());
    for api in [&routes, &floor_routes] {
        api.delete_collection(everything.0, everything.1)
            .await
            .expect("delete the scenario's HTTPRoutes");
    }
    let gateway_kind = meshroute::gatewayapi::api_resource("Gateway");
    Api::<kube::api::DynamicObject>::namespaced_with(
        plane.client().await.unwrap(),
        &gateway_ns,
        &gateway_kind,
    )
    .delete_collection(everything.0, everything.1)
    .await
    .expect("delete the scenario's Gateways");
    let ratio = create["seconds_to_all_ready"].as_f64().unwrap() / floor_s;
    eprintln!("  floor: {floor_s:.1} s; ratio {ratio:.2}");
    json!({ "n": n, "gateways": gateways, "create": create, "by_hand": by_hand, "httproute_changes_per_object": round(route_writes),
            "apiserver_writes_per_object": writes, "at_rest": at_rest, "restart": restart,
            "operator": operator, "floor_seconds": round(floor_s), "ratio_to_floor": round(ratio) })
}

/// The floor of N routes' Gateway API side: the HTTPRoutes meshroute writes (over `gateways`
/// Gateways in `gateway_ns`) applied straight, server-side, at the operator's concurrency, until
/// Traefik has accepted every one. Seconds; then, if `delete`, the seconds to delete them all
/// the same way; and the floor's routes (for the caller to clean up).
pub async fn floor(
    plane: &ControlPlane,
    args: &Args,
    n: usize,
    gateways: usize,
    gateway_ns: &str,
    delete: bool,
) -> (f64, Option<f64>, Api<kube::api::DynamicObject>) {
    let client = plane.client().await.unwrap();
    let resource = meshroute::gatewayapi::api_resource("HTTPRoute");
    let floor_ns = meshroute_testbed::namespace(&client, "gwfloor")
        .await
        .unwrap();
    backend_service(plane, &floor_ns);
    let floor_routes: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client, &floor_ns, &resource);
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = floor_routes.clone();
            let gateway = gateway_name(i % gateways, gateways);
            async move {
                let route = json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": { "name": format!("r{i}") },
                    "spec": { "parentRefs": [{ "name": gateway, "namespace": gateway_ns }],
                        "rules": [{ "matches": [{ "path": { "type": "PathPrefix", "value": format!("/r{i}") } }],
                            "backendRefs": [{ "name": "myservicea", "port": 80 }] }] } });
                api.patch(&format!("r{i}"), &PatchParams::apply("bench").force(), &Patch::Apply(&route))
                    .await
                    .expect("apply an HTTPRoute");
            }
        })
        .buffer_unordered(args.concurrency)
        .collect::<Vec<_>>()
        .await;
    let deadline = Instant::now() + Duration::from_secs(120 + n as u64 / 10);
    loop {
        let listed = floor_routes.list(&Default::default()).await.unwrap();
        if listed.items.iter().filter(|r| accepted(r)).count() == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Traefik did not accept {n} HTTPRoutes in time"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let applied = start.elapsed().as_secs_f64();
    let deleted = if delete {
        let start = Instant::now();
        futures::stream::iter(0..n)
            .map(|i| {
                let api = floor_routes.clone();
                async move {
                    api.delete(&format!("r{i}"), &Default::default())
                        .await
                        .expect("delete an HTTPRoute");
                }
            })
            .buffer_unordered(args.concurrency)
            .collect::<Vec<_>>()
            .await;
        Some(start.elapsed().as_secs_f64())
    } else {
        None
    };
    (applied, deleted, floor_routes)
}

/// The Gateway API backend scenario at every --gateway-api-n, over each --gateway-api-gateways.
pub async fn gateway_api_sizes(plane: &ControlPlane, args: &Args) -> Value {
    let mut sizes = Vec::new();
    for &n in &args.gateway_api_n {
        for &gateways in &args.gateway_api_gateways {
            eprintln!(
                "bench: the Gateway API backend at N = {n} over {gateways} gateway(s) (Traefik)"
            );
            sizes.push(gateway_api_scenario(plane, args, n, gateways).await);
        }
    }
    Value::Array(sizes)
}

/// Waits until `done` answers true, or panics after `limit`.
async fn until<F: Future<Output = bool>>(limit: Duration, what: &str, done: impl Fn() -> F) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
