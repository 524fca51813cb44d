//! The Gateway API backend with real traffic: the same GatewayRoutes served by App Mesh (the
//! emulator's gateway), by Traefik (a real Gateway API implementation on the bed) through the
//! HTTPRoutes and GRPCRoutes meshroute writes, or both. One virtual gateway is cut over from App
//! Mesh to Gateway API and back with the same manifests (App Mesh only -> both -> Gateway API
//! only -> both -> App Mesh only) while requests go to the gateways that serve throughout each
//! step, and none may fail. Then the lifecycle on the Gateway API side: edits in place, hand
//! edits and deletions undone, a route meshroute did not write left alone, status and GitOps
//! health from the implementation's own conditions.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use meshroute_testbed::gateway_api::Mode;
use meshroute_testbed::traffic::{Outcome, Probe, Proto, get, send};
use meshroute_testbed::{GATEWAY, MESH};
use serde_json::{Value, json};
use support::traffic::{Backend, apply_backends};
use support::{Bed, Operator, install_gateway_api, reason, run};

const CLASS: &str = "meshroute-backend";

/// The test's gateways: App Mesh's listeners (by protocol) and Traefik's entry points.
struct Gateways {
    app_mesh: BTreeMap<&'static str, SocketAddr>,
    traefik_http: SocketAddr,
    traefik_grpc: SocketAddr,
}

impl Gateways {
    /// Where `probe` of `proto` goes on each gateway `mode` serves.
    fn targets(&self, mode: Mode, proto: Proto) -> Vec<(&'static str, SocketAddr)> {
        let mut to = Vec::new();
        if mode.app_mesh() {
            to.push(("App Mesh", self.app_mesh[proto.listener()]));
        }
        if mode.gateway_api() {
            let traefik = match proto {
                Proto::Grpc => self.traefik_grpc,
                _ => self.traefik_http,
            };
            to.push(("Traefik", traefik));
        }
        to
    }
}

/// The requests of the cut-over, each with the backend, path and Host App Mesh gives it.
fn probes(ns: &str) -> Vec<(Proto, Probe, Outcome)> {
    let reached = |service: &str, path: &str, host: &str| Outcome::Reached {
        service: format!("{service}.{ns}.svc.cluster.local"),
        path: path.into(),
        host: host.into(),
    };
    let web = format!("web.{ns}.svc.cluster.local");
    vec![
        // The matched prefix becomes `/`, the Host the virtual service's name (App Mesh's
        // default rewrites).
        (
            Proto::Http,
            get("/web/cart?x=1"),
            reached("web", "/cart?x=1", &web),
        ),
        // An exact path on one host, rewritten to another path, the client's Host kept.
        (
            Proto::Http,
            get("/api/v1/health").host("api.example.com"),
            reached("api", "/status", "api.example.com"),
        ),
        (
            Proto::Grpc,
            Probe::grpc("echo.v1.Echo"),
            reached("grpc", "/echo.v1.Echo/Call", "www.example.com"),
        ),
    ]
}

fn specs(ns: &str) -> Vec<(&'static str, Value)> {
    let target = |svc: &str| json!({ "virtualService": { "virtualServiceName": format!("{svc}.{ns}.svc.cluster.local") } });
    vec![
        (
            "web",
            json!({ "httpRoute": { "match": { "prefix": "/web/" },
                    "action": { "target": target("web") } } }),
        ),
        (
            "api",
            json!({ "priority": 1, "httpRoute": {
                "match": { "path": { "exact": "/api/v1/health" },
                           "hostname": { "exact": "api.example.com" } },
                "action": { "target": target("api"), "rewrite": {
                    "path": { "exact": "/status" },
                    "hostname": { "defaultTargetHostname": "DISABLED" } } } } }),
        ),
        (
            "echo",
            // GRPCRoute cannot rewrite `:authority` (the export's grpc-host-rewrite finding):
            // this route keeps the client's, as App Mesh does when told to.
            json!({ "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" },
                    "action": { "target": target("grpc"), "rewrite": {
                        "hostname": { "defaultTargetHostname": "DISABLED" } } } } }),
        ),
    ]
}

/// Sends every probe to every gateway `mode` serves and checks what each reached.
fn check_requests(gateways: &Gateways, mode: Mode, probes: &[(Proto, Probe, Outcome)]) {
    for (proto, probe, want) in probes {
        for (name, to) in gateways.targets(mode, *proto) {
            let got = send(to, *proto, probe);
            assert_eq!(
                &got, want,
                "{mode:?}: {} {} through {name}",
                probe.method, probe.path
            );
        }
    }
}

/// Sends the probes over and over to the gateways both `from` and `to` serve, until stopped;
/// returns every request that did not reach what App Mesh would have.
struct Steady {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Steady {
    fn start(
        gateways: &Gateways,
        from: Mode,
        to: Mode,
        probes: &[(Proto, Probe, Outcome)],
    ) -> Steady {
        let mut targets = Vec::new();
        for (proto, probe, want) in probes {
            let next = gateways.targets(to, *proto);
            for (name, addr) in gateways.targets(from, *proto) {
                if next.contains(&(name, addr)) {
                    targets.push((name, addr, *proto, probe.clone(), want.clone()));
                }
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut sent, mut failed) = (0, Vec::new());
            while !stopping.load(Ordering::Relaxed) {
                for (name, addr, proto, probe, want) in &targets {
                    let got = send(*addr, *proto, probe);
                    sent += 1;
                    if &got != want {
                        failed.push(format!("{name} {}: {got}", probe.path));
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (sent, failed)
        });
        Steady { stop, thread }
    }

    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn gateway_api_routes(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let resource = meshroute::gatewayapi::api_resource(kind);
    Api::namespaced_with(client.clone(), ns, &resource)
}

/// Waits until `check` holds for every GatewayRoute of `names`.
async fn wait_all(
    bed: &Bed,
    names: &[&str],
    op: &Operator,
    what: &str,
    check: impl Fn(&meshroute::api::GatewayRoute) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut pending = Vec::new();
        for name in names {
            let route = bed.api().get(name).await.unwrap();
            if !check(&route) {
                pending.push(format!("{name}: {:?}", route.status));
            }
        }
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not reached in 60 s:\n{}\n{}",
            pending.join("\n"),
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ready_message(route: &meshroute::api::GatewayRoute) -> Option<(String, String)> {
    let status = route.status.as_ref()?;
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    (status.observed_generation == route.metadata.generation)
        .then(|| (ready.status.clone(), ready.message.clone()))
}

/// Ready at its generation, served by exactly the backends of `mode`.
fn served_as(route: &meshroute::api::GatewayRoute, mode: Mode) -> bool {
    let Some((ready, message)) = ready_message(route) else {
        return false;
    };
    let status = route.status.as_ref().unwrap();
    ready == "True"
        && status.arn.is_some() == mode.app_mesh()
        && status.gateway_api_route.is_some() == mode.gateway_api()
        && message.contains("App Mesh gateway route") == mode.app_mesh()
        && message.contains("is accepted by Gateway") == mode.gateway_api()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_cut_over_to_gateway_api_and_back_without_a_failed_request() {
    let mut bed = Bed::new("gwapi").await;
    let ns = bed.ns.clone();
    install_gateway_api();
    let host = meshroute_testbed::host_address().unwrap_or_else(|e| panic!("{e}"));

    // App Mesh's side: the virtual services, their echo backends, the gateway's listeners.
    let e = &bed.emulator;
    let mut backends = Vec::new();
    for (svc, h2c) in [
        ("web", false),
        ("api", false),
        ("grpc", true),
        ("missing", false),
    ] {
        let vs = format!("{svc}.{ns}.svc.cluster.local");
        e.emulator
            .invoke(
                "CreateVirtualService",
                &json!({ "meshName": MESH, "virtualServiceName": vs, "spec": {} }),
            )
            .unwrap();
        let echo = e.serve_echo_on(MESH, &vs, host).await.unwrap();
        // `missing` has a virtual service but no Kubernetes Service.
        if svc != "missing" {
            backends.push(Backend {
                namespace: ns.clone(),
                name: svc.to_string(),
                address: echo,
                target_port: None,
                h2c,
            });
        }
    }
    apply_backends(&backends);
    let app_mesh: BTreeMap<&'static str, SocketAddr> = e
        .serve_gateway(MESH, GATEWAY)
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let proto = match s.protocol.as_str() {
                "http" => "http",
                "http2" => "http2",
                _ => "grpc",
            };
            (proto, s.address)
        })
        .collect();

    // Gateway API's side: a Gateway of Traefik's class with an HTTP listener for each protocol.
    let [http_port, grpc_port] = meshroute_testbed::free_ports::<2>().unwrap();
    let gateway = json!({
        "apiVersion": "v1", "kind": "List", "items": [
            meshroute_testbed::gateway_api::gateway_class(CLASS),
            { "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
              "metadata": { "name": "gw", "namespace": ns },
              "spec": { "gatewayClassName": CLASS, "listeners": [
                  { "name": "http", "protocol": "HTTP", "port": http_port },
                  { "name": "grpc", "protocol": "HTTP", "port": grpc_port } ] } },
        ] });
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&gateway.to_string()));
    assert!(ok, "{out}{err}");
    let plane = meshroute_testbed::shared();
    let _traefik =
        meshroute_testbed::Traefik::start(&plane.kubeconfig, &[http_port, grpc_port], plane.dir())
            .unwrap_or_else(|e| panic!("start Traefik: {e}"));
    let gateways = Gateways {
        app_mesh,
        traefik_http: SocketAddr::from(([127, 0, 0, 1], http_port)),
        traefik_grpc: SocketAddr::from(([127, 0, 0, 1], grpc_port)),
    };

    // The same manifests throughout.
    let names: Vec<&str> = specs(&ns).iter().map(|(n, _)| *n).collect();
    for (name, spec) in specs(&ns) {
        let mut spec = spec;
        spec["meshName"] = json!(MESH);
        spec["virtualGatewayName"] = json!(GATEWAY);
        bed.create(&bed.route(name, spec)).await;
    }
    let probes = probes(&ns);
    let steps = [
        Mode::AppMesh,
        Mode::Both,
        Mode::GatewayApi,
        Mode::Both,
        Mode::AppMesh,
    ];
    let mut previous: Option<(Mode, Operator)> = None;
    let mut total = 0;
    for mode in steps {
        let steady = previous
            .as_ref()
            .map(|(from, _)| Steady::start(&gateways, *from, mode, &probes));
        if let Some((_, mut op)) = previous.take() {
            op.terminate(Duration::from_secs(10)).await;
        }
        let serve = mode.serve(&ns);
        let op = bed.operator(&["--serve", &serve]);
        wait_all(&bed, &names, &op, &format!("{mode:?}"), |r| {
            served_as(r, mode)
        })
        .await;
        // Each step's own backends, and nothing left of the other's.
        for kind in ["HTTPRoute", "GRPCRoute"] {
            let listed = gateway_api_routes(&bed.client, &ns, kind)
                .list(&Default::default())
                .await
                .unwrap();
            let want = match (mode.gateway_api(), kind) {
                (false, _) => 0,
                (true, "HTTPRoute") => 2,
                (true, _) => 1,
            };
            assert_eq!(listed.items.len(), want, "{mode:?}: {kind}s");
        }
        let app_mesh_routes = bed.app_mesh_route_names().len();
        assert_eq!(
            app_mesh_routes,
            if mode.app_mesh() { names.len() } else { 0 },
            "{mode:?}"
        );
        wait_serving(&gateways, mode, &probes);
        check_requests(&gateways, mode, &probes);
        // What docs/migration.md shows of a real run.
        let web = bed.api().get("web").await.unwrap();
        eprintln!("{mode:?}: web's status: {}", json!(web.status));
        if let Some(steady) = steady {
            let (sent, failed) = steady.finish();
            assert!(
                failed.is_empty(),
                "{mode:?}: {} of {sent} failed:\n{}",
                failed.len(),
                failed.join("\n")
            );
            total += sent;
        }
        previous = Some((mode, op));
    }
    assert!(total > 0, "requests were sent during the cut-over");
    eprintln!("cut-over: {total} requests during the 4 transitions, none failed");
    if let Some((_, mut op)) = previous.take() {
        op.terminate(Duration::from_secs(10)).await;
    }
    examples(&mut bed, &gateways, host).await;
    lifecycle(&mut bed, &gateways, &names).await;
}

/// The examples in examples/, applied as they are with both backends serving their gateway:
/// what Gateway API can say is served by both alike; what it cannot (`notExported`) is not
/// Ready, names the finding, and App Mesh still serves it.
async fn examples(bed: &mut Bed, gateways: &Gateways, host: std::net::IpAddr) {
    let ns = bed.ns.clone();
    let mut backends = Vec::new();
    for vs in meshroute_testbed::SERVICES {
        let echo = bed.emulator.serve_echo_on(MESH, vs, host).await.unwrap();
        // `myservicea.svc.cluster.local` names no namespace: the route's own is taken.
        let svc = vs.trim_end_matches(".svc.cluster.local").to_string();
        backends.push(Backend {
            namespace: ns.clone(),
            name: svc,
            address: echo,
            target_port: None,
            h2c: *vs == "grpc-echo.svc.cluster.local",
        });
    }
    apply_backends(&backends);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(meshroute_testbed::repo_root().join("examples")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut object: Value = serde_saphyr::from_str(&text).unwrap();
        object["metadata"]["namespace"] = json!(ns);
        object["metadata"]["labels"] = json!({ "meshroute-test": ns });
        names.push(object["metadata"]["name"].as_str().unwrap().to_string());
        let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&object.to_string()));
        assert!(ok, "{out}{err}");
    }
    names.sort();
    let op = bed.operator(&["--serve", &Mode::Both.serve(&ns)]);
    let reached = |vs: &str, path: &str, host: &str| Outcome::Reached {
        service: vs.into(),
        path: path.into(),
        host: host.into(),
    };
    let a = "myservicea.svc.cluster.local";
    let exported = [
        (
            "health-check",
            Proto::Http,
            get("/healthz").host("a.example.com"),
            reached(a, "/status", a),
        ),
        // The default prefix rewrite, as App Mesh made it and ReplacePrefixMatch `/` does.
        (
            "chapters",
            Proto::Http,
            get("/chapter/1"),
            reached(a, "/1", a),
        ),
        (
            "my-gateway-route",
            Proto::Http2,
            get("/any/path?x=1"),
            reached(a, "/any/path?x=1", a),
        ),
    ];
    for (name, proto, probe, want) in &exported {
        wait_all(bed, &[name], &op, name, |r| served_as(r, Mode::Both)).await;
        wait_serving(
            gateways,
            Mode::Both,
            &[(*proto, probe.clone(), want.clone())],
        );
    }
    // What Gateway API cannot say: an inverted header match, a metadata range.
    let b = "myserviceb.svc.cluster.local";
    let not_exported = [
        (
            "payments-api-canary",
            "header-inverted",
            get("/v1/pay?tenant=gold")
                .host("api.example.com")
                .header("x-canary", "true"),
            reached(b, "/v2/pay?tenant=gold", "api.example.com"),
        ),
        (
            "echo-gold",
            "header-range",
            Probe::grpc("echo.v1.Echo")
                .header("x-tenant", "gold-1")
                .header("x-shard", "3"),
            reached(
                "grpc-echo.svc.cluster.local",
                "/echo.v1.Echo/Call",
                "grpc-echo.svc.cluster.local",
            ),
        ),
    ];
    for (name, code, probe, want) in &not_exported {
        let route = bed.wait_reason(name, "NotExported", &op).await;
        let said = ready_message(&route).unwrap().1;
        assert!(said.contains(code), "{name}: {said}");
        assert!(
            route.status.as_ref().unwrap().arn.is_some(),
            "{name}: in App Mesh"
        );
        let proto = if *name == "echo-gold" {
            Proto::Grpc
        } else {
            Proto::Http
        };
        let to = gateways.targets(Mode::AppMesh, proto)[0].1;
        assert_eq!(
            &send(to, proto, probe),
            want,
            "{name}: App Mesh still serves it"
        );
    }
    // Gateway API alone on the gateway: what it cannot say keeps its App Mesh route and is
    // still served (the switch used to delete it, leaving it served by nothing), Stalled with
    // a message that says so; what it can say leaves App Mesh.
    let mut op = op;
    op.terminate(Duration::from_secs(10)).await;
    let op = bed.operator(&["--serve", &Mode::GatewayApi.serve(&ns)]);
    for (name, code, probe, want) in &not_exported {
        let route = bed
            .wait(name, "kept on App Mesh", &op, |r| {
                r.and_then(ready_message)
                    .is_some_and(|(_, m)| m.starts_with("App Mesh still serves it"))
            })
            .await
            .unwrap();
        let said = ready_message(&route).unwrap().1;
        assert!(said.contains(code), "{name}: {said}");
        assert_eq!(reason(&route), Some("NotExported"), "{name}");
        let proto = if *name == "echo-gold" {
            Proto::Grpc
        } else {
            Proto::Http
        };
        let to = gateways.targets(Mode::AppMesh, proto)[0].1;
        for _ in 0..20 {
            assert_eq!(
                &send(to, proto, probe),
                want,
                "{name}: App Mesh still serves it with Gateway API alone on its gateway"
            );
        }
    }
    for (name, _, _, _) in &exported {
        wait_all(bed, &[name], &op, name, |r| served_as(r, Mode::GatewayApi)).await;
    }
    for name in &names {
        bed.delete(name).await;
    }
    for name in &names {
        bed.wait(name, "deleted", &op, |r| r.is_none()).await;
    }
    drop(op);
    eprintln!(
        "examples: {} served by both alike, 2 not exported and served by App Mesh",
        exported.len()
    );
}

/// The Gateway API side's lifecycle, with Gateway API alone serving the gateway.
async fn lifecycle(bed: &mut Bed, gateways: &Gateways, names: &[&str]) {
    let ns = bed.ns.clone();
    let op = bed.operator(&["--serve", &Mode::GatewayApi.serve(&ns)]);
    wait_all(bed, names, &op, "Gateway API only", |r| {
        served_as(r, Mode::GatewayApi)
    })
    .await;
    let calls = bed.calls();
    let creates = bed.calls_of("CreateGatewayRoute");
    let http_routes = gateway_api_routes(&bed.client, &ns, "HTTPRoute");
    let path_of = |route: &DynamicObject| {
        route.data["spec"]["rules"][0]["matches"][0]["path"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let web = |prefix: &str| {
        let want = Outcome::Reached {
            service: format!("web.{ns}.svc.cluster.local"),
            path: "/cart".into(),
            host: format!("web.{ns}.svc.cluster.local"),
        };
        (Proto::Http, get(&format!("{prefix}cart")), want)
    };

    // An edit updates the route in place: same object, next generation, new path served.
    let before = http_routes.get("web").await.unwrap();
    bed.merge(
        "web",
        json!({ "spec": { "httpRoute": { "match": { "prefix": "/site/" } } } }),
    )
    .await;
    wait_all(bed, &["web"], &op, "the edit", |r| {
        served_as(r, Mode::GatewayApi)
    })
    .await;
    let after = http_routes.get("web").await.unwrap();
    assert_eq!(after.metadata.uid, before.metadata.uid, "updated in place");
    assert_eq!(path_of(&after), "/site/");
    wait_serving(gateways, Mode::GatewayApi, &[web("/site/")]);

    // A hand edit is put back; a hand deletion undone.
    let patch =
        r#"[{"op":"replace","path":"/spec/rules/0/matches/0/path/value","value":"/hand/"}]"#;
    let (ok, out, err) = run(
        "kubectl",
        &[
            "patch",
            "httproute",
            "web",
            "-n",
            &ns,
            "--type=json",
            "-p",
            patch,
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    wait_object(&http_routes, "web", "the hand edit put back", |r| {
        r.is_some_and(|r| path_of(r) == "/site/")
    })
    .await;
    let (ok, out, err) = run("kubectl", &["delete", "httproute", "web", "-n", &ns], None);
    assert!(ok, "{out}{err}");
    wait_object(&http_routes, "web", "the deleted route re-created", |r| {
        r.is_some_and(|r| r.metadata.uid != after.metadata.uid && path_of(r) == "/site/")
    })
    .await;
    wait_serving(gateways, Mode::GatewayApi, &[web("/site/")]);
    // Ready again once the implementation has accepted the new route.
    wait_all(bed, &["web"], &op, "the re-created route", |r| {
        served_as(r, Mode::GatewayApi)
    })
    .await;

    // A route meshroute did not write is left alone until the object asks to adopt it.
    let spec = |prefix: &str, svc: &str| {
        json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "httpRoute": {
            "match": { "prefix": prefix }, "action": { "target": { "virtualService": {
                "virtualServiceName": format!("{svc}.{ns}.svc.cluster.local") } } } } })
    };
    let foreign = json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": { "name": "taken", "namespace": ns },
        "spec": { "parentRefs": [{ "name": "gw" }], "rules": [{
            "matches": [{ "path": { "type": "PathPrefix", "value": "/theirs" } }],
            "backendRefs": [{ "name": "web", "port": 80 }] }] } });
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&foreign.to_string()));
    assert!(ok, "{out}{err}");
    bed.create(&bed.route("taken", spec("/ours/", "web"))).await;
    let refused = bed.wait_reason("taken", "NameInUse", &op).await;
    let said = ready_message(&refused).unwrap().1;
    assert!(said.contains("meshroute did not write it"), "{said}");
    let theirs = http_routes.get("taken").await.unwrap();
    assert_eq!(path_of(&theirs), "/theirs", "left alone");
    bed.merge(
        "taken",
        json!({ "metadata": { "annotations": { "meshroute.io/adopt": "true" } } }),
    )
    .await;
    wait_all(bed, &["taken"], &op, "adoption", |r| {
        served_as(r, Mode::GatewayApi)
    })
    .await;
    let adopted = http_routes.get("taken").await.unwrap();
    assert_eq!(path_of(&adopted), "/ours/");
    assert_eq!(
        adopted.metadata.uid, theirs.metadata.uid,
        "adopted, not replaced"
    );

    // What Gateway API cannot say, and a backend the implementation cannot resolve.
    let mut inverted = spec("/inverted/", "web");
    inverted["httpRoute"]["match"]["headers"] =
        json!([{ "name": "x-debug", "invert": true, "match": { "exact": "on" } }]);
    bed.create(&bed.route("inverted", inverted)).await;
    bed.create(&bed.route("nosvc", spec("/nosvc/", "missing")))
        .await;
    let dropped = bed.wait_reason("inverted", "NotExported", &op).await;
    let said = ready_message(&dropped).unwrap().1;
    assert!(said.contains("header-inverted"), "{said}");
    assert!(said.starts_with("App Mesh still serves it"), "{said}");
    assert!(http_routes.get_opt("inverted").await.unwrap().is_none());
    let unresolved = bed.wait_reason("nosvc", "BackendRefsUnresolved", &op).await;
    let said = ready_message(&unresolved).unwrap().1;
    assert!(
        said.contains("BackendNotFound"),
        "the implementation's reason: {said}"
    );

    // A route that behaves differently is Ready, with the findings as a warning condition.
    let web_now = bed.api().get("web").await.unwrap();
    let findings = web_now
        .status
        .as_ref()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "GatewayAPIFindings")
        })
        .unwrap_or_else(|| panic!("no findings condition: {:?}", web_now.status));
    assert!(
        findings.message.contains("prefix-bare-path"),
        "{}",
        findings.message
    );
    bed.wait_event("web", "GatewayAPIFindings").await;

    // GitOps tools read it as they read App Mesh's (web's findings, an Event above, leave it
    // Ready).
    wait_all(bed, &["web"], &op, "web Ready", |r| {
        served_as(r, Mode::GatewayApi)
    })
    .await;
    let seen = support::gitops_judged(bed).await;
    for (name, kstatus, argocd) in [
        ("web", "Current", "Healthy"),
        ("inverted", "Failed", "Degraded"),
        ("nosvc", "InProgress", "Progressing"),
    ] {
        assert_eq!(
            seen.get(name).map(|(k, a)| (k.as_str(), a.as_str())),
            Some((kstatus, argocd)),
            "{name}: {seen:?}"
        );
    }

    // A deleted GatewayRoute takes its route with it (no garbage collector on the bed).
    bed.delete("web").await;
    wait_object(&http_routes, "web", "the route deleted", |r| r.is_none()).await;
    // Gateway API alone: App Mesh is asked for nothing but the one route Gateway API cannot
    // say, which it keeps serving (created once).
    assert_eq!(
        (
            bed.calls() - calls,
            bed.calls_of("CreateGatewayRoute") - creates
        ),
        (1, 1),
        "Gateway API alone: one App Mesh call, the create of the route Gateway API cannot say"
    );
    assert!(
        bed.app_mesh_route_names()
            .contains(&bed.mesh_name("inverted")),
        "App Mesh serves the route Gateway API cannot say"
    );

    // Straight back to App Mesh alone, skipping both: served again, and warned about once.
    let mut op = op;
    op.terminate(Duration::from_secs(10)).await;
    let op = bed.operator(&[]);
    let left: Vec<&str> = names.iter().copied().filter(|n| *n != "web").collect();
    wait_all(bed, &left, &op, "App Mesh only again", |r| {
        served_as(r, Mode::AppMesh)
    })
    .await;
    let log = op.log();
    assert_eq!(
        log.matches("went from gateway-api straight to app-mesh")
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.matches("deleted its Gateway API route").count() >= left.len(),
        "an info line per deleted route: {log}"
    );
    for name in &left {
        bed.wait_event(name, "GatewayAPIRouteDeleted").await;
    }
}

/// Waits until `check` holds for the Gateway API route `name`.
async fn wait_object(
    api: &Api<DynamicObject>,
    name: &str,
    what: &str,
    check: impl Fn(Option<&DynamicObject>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let object = api.get_opt(name).await.unwrap();
        if check(object.as_ref()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 30 s: {object:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Traefik applies a configuration a moment after it writes the routes' status.
fn wait_serving(gateways: &Gateways, mode: Mode, probes: &[(Proto, Probe, Outcome)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for (proto, probe, want) in probes {
        for (name, to) in gateways.targets(mode, *proto) {
            loop {
                let got = send(to, *proto, probe);
                if &got == want {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{mode:?}: {name} does not serve {} 30 s after Ready: {got}",
                    probe.path
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// Issue 30's defect: deleting routes whose gateway Gateway API alone serves. Deleting each
/// HTTPRoute wakes its GatewayRoute, which is gone (or going) by then: that wake is not a
/// failed reconcile, and the queue gauges count only objects that exist.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_routes_served_by_gateway_api_alone_leaves_no_failed_reconcile() {
    let mut bed = Bed::new("gwdel").await;
    let ns = bed.ns.clone();
    install_gateway_api();
    // No Gateway is needed: the routes are written and wait for it (GatewayPending).
    let op = bed.operator(&["--serve", &Mode::GatewayApi.serve(&ns)]);
    let names: Vec<String> = (0..40).map(|i| format!("r{i:03}")).collect();
    for name in &names {
        let spec = json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "httpRoute": {
            "match": { "prefix": format!("/{name}/") },
            "action": { "target": { "virtualService": {
                "virtualServiceName": format!("web.{ns}.svc.cluster.local") } } } } });
        bed.create(&bed.route(name, spec)).await;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    wait_all(&bed, &refs, &op, "every HTTPRoute written", |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.gateway_api_route.is_some())
    })
    .await;
    let http_routes = gateway_api_routes(&bed.client, &ns, "HTTPRoute");
    assert_eq!(
        http_routes
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        names.len()
    );
    for name in &names {
        bed.delete(name).await;
    }
    for name in &names {
        bed.wait(name, "deleted", &op, |r| r.is_none()).await;
    }
    assert!(
        http_routes
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "every HTTPRoute deleted with its GatewayRoute"
    );
    // The wakes from the HTTPRoutes' deletions arrive within a watch event's time; the gauges
    // are read until they settle (a scheduled retry would keep them up for seconds).
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, metrics) = op.get("/metrics").await;
        let gauge = |name: &str| support::series_value(&metrics, name).unwrap_or(-1.0);
        let settled =
            gauge("meshroute_queue_scheduled") == 0.0 && gauge("meshroute_queue_depth") == 0.0;
        if settled || Instant::now() > deadline {
            break metrics;
        }
    };
    for series in [
        "meshroute_queue_scheduled",
        "meshroute_queue_depth",
        "meshroute_reconcile_errors_total{error=\"kube\"}",
    ] {
        assert_eq!(
            support::series_value(&metrics, series),
            Some(0.0),
            "{series}:\n{metrics}\n{}",
            op.log_tail()
        );
    }
    let log = op.log();
    assert_eq!(
        log.matches("reconcile failed").count(),
        0,
        "no failed reconcile:\n{log}"
    );
}
