//! The export proven by traffic. For every example and a corpus that covers each row of
//! docs/migration.md's mapping table and its boundary cases, the same requests go through the
//! emulator's App Mesh gateway (the routes as App Mesh holds them) and through Traefik, a real
//! Gateway API implementation on the test bed, serving what `meshroute export gateway-api`
//! printed for the same GatewayRoutes. Both reach the same echo backends, which report the
//! virtual service, path and Host they saw. Every difference must be one the export's report
//! announces for an object involved (`changed` or `notExported`); the totals are written to
//! docs/migration.md, and this test fails while they differ from what it measured.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use appmesh_routing::gateway::Protocol;
use meshroute::gatewayapi;
use meshroute::verify::{self, Answer, Judge, Request, Verdict};
use meshroute_testbed::traffic::{Outcome, Probe, Proto, get, send, unreserved_decoded};
use serde_json::{Value, json};
use support::traffic::{Backend, apply_backends, wait_accepted};
use support::{install_gateway_api, run, run_program};

/// The GatewayClass the exported Gateways name, served by the bed's Traefik.
const CLASS: &str = "meshroute-traffic";
/// The virtual gateway of every case (each case has a mesh of its own).
const GATEWAY: &str = "gw";
const DOCS_BEGIN: &str = "<!-- traffic-totals:begin (written by tests/traffic.rs) -->";
const DOCS_END: &str = "<!-- traffic-totals:end -->";
const ROUTERS_BEGIN: &str = "<!-- router-traffic:begin (written by tests/traffic.rs) -->";
const ROUTERS_END: &str = "<!-- router-traffic:end -->";

/// One Traefik at a time in this binary: two would both judge every Gateway of the class (one
/// controller name), each refusing the other's ports.
static ONE_TRAEFIK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What both traffic tests start from: their turn with Traefik, the shared bed and its client
/// (the Gateway API CRDs and this binary's GatewayClass applied), and the non-loopback address
/// echo backends listen on (EndpointSlices refuse loopback addresses).
async fn traffic_bed() -> (
    tokio::sync::MutexGuard<'static, ()>,
    &'static meshroute_testbed::ControlPlane,
    kube::Client,
    IpAddr,
) {
    let turn = ONE_TRAEFIK.lock().await;
    let plane = meshroute_testbed::shared();
    let client = plane.client().await.unwrap();
    install_gateway_api();
    let class = meshroute_testbed::gateway_api::gateway_class(CLASS);
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&class.to_string()));
    assert!(ok, "{out}{err}");
    let host = meshroute_testbed::host_address().unwrap_or_else(|e| panic!("{e}"));
    (turn, plane, client, host)
}

/// GatewayRoutes on one virtual gateway of a mesh of their own, and the requests to send.
struct Case {
    name: String,
    listeners: Vec<Proto>,
    /// (name, spec without meshName and virtualGatewayName).
    routes: Vec<(String, Value)>,
    probes: Vec<Probe>,
    /// Extra `export gateway-api` flags.
    flags: Vec<&'static str>,
}

fn case(name: &str, listeners: &[Proto], routes: Vec<(String, Value)>, probes: Vec<Probe>) -> Case {
    Case {
        name: name.into(),
        listeners: listeners.to_vec(),
        routes,
        probes,
        flags: vec![],
    }
}

/// The virtual service of route `route` in case `case`: one per route, so the backend a
/// request reaches names the route that took it.
fn service_of(case: &str, route: &str) -> String {
    format!("{route}.{case}.local")
}

/// An httpRoute to `route`'s own virtual service, with extra action fields.
fn http(
    case: &str,
    route: &str,
    priority: Option<i32>,
    m: Value,
    action: Value,
) -> (String, Value) {
    typed("httpRoute", case, route, priority, m, action)
}

fn typed(
    field: &str,
    case: &str,
    route: &str,
    priority: Option<i32>,
    m: Value,
    action: Value,
) -> (String, Value) {
    let mut action = action;
    action["target"]["virtualService"]["virtualServiceName"] = json!(service_of(case, route));
    let mut spec = json!({ field: { "match": m, "action": action } });
    if let Some(p) = priority {
        spec["priority"] = json!(p);
    }
    (route.to_string(), spec)
}

/// The catch-all every case with narrower routes has, last by priority, so a request a
/// narrower route no longer takes shows where it went instead.
fn rest(case: &str) -> (String, Value) {
    http(
        case,
        "rest",
        Some(1000),
        json!({ "prefix": "/" }),
        json!({}),
    )
}

/// The generated corpus: each row of docs/migration.md's mapping table and its boundaries.
fn corpus() -> Vec<Case> {
    use Proto::*;
    let mut cases = Vec::new();
    let mut add =
        |name: &str, listeners: &[Proto], routes: Vec<(String, Value)>, probes: Vec<Probe>| {
            cases.push(case(name, listeners, routes, probes))
        };
    let paths = |ps: &[&str]| ps.iter().map(|p| get(p)).collect::<Vec<_>>();
    add(
        "prefix-root",
        &[Http],
        vec![http(
            "prefix-root",
            "root",
            None,
            json!({ "prefix": "/" }),
            json!({}),
        )],
        paths(&["/", "/a", "/a/b/", "/a?x=1", "/%7Euser"]),
    );
    add(
        "prefix",
        &[Http],
        vec![
            http(
                "prefix",
                "api",
                Some(0),
                json!({ "prefix": "/api" }),
                json!({}),
            ),
            rest("prefix"),
        ],
        paths(&[
            "/api",
            "/api/",
            "/api/v1",
            "/api/v1?q=1",
            "/apix",
            "/ap",
            "/API",
        ]),
    );
    add(
        "prefix-slash",
        &[Http],
        vec![
            http(
                "prefix-slash",
                "api",
                Some(0),
                json!({ "prefix": "/api/" }),
                json!({}),
            ),
            rest("prefix-slash"),
        ],
        paths(&["/api", "/api/", "/api/v1", "/apix", "/api//x"]),
    );
    add(
        "prefix-rewrite",
        &[Http],
        vec![
            http(
                "prefix-rewrite",
                "value",
                Some(0),
                json!({ "prefix": "/old/" }),
                json!({ "rewrite": { "prefix": { "value": "/new/" } } }),
            ),
            http(
                "prefix-rewrite",
                "kept",
                Some(1),
                json!({ "prefix": "/keep/" }),
                json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } }),
            ),
            http(
                "prefix-rewrite",
                "enabled",
                Some(2),
                json!({ "prefix": "/on/" }),
                json!({ "rewrite": { "prefix": { "defaultPrefix": "ENABLED" } } }),
            ),
            rest("prefix-rewrite"),
        ],
        paths(&[
            "/old/x",
            "/old/a/b?q=1",
            "/keep/x",
            "/keep/",
            "/on/x/y",
            "/on/",
        ]),
    );
    add(
        "exact-path",
        &[Http],
        vec![
            http(
                "exact-path",
                "exact",
                Some(0),
                json!({ "path": { "exact": "/exact" } }),
                json!({ "rewrite": { "path": { "exact": "/rewritten" } } }),
            ),
            rest("exact-path"),
        ],
        paths(&["/exact", "/exact/", "/exact?x=1", "/exactly", "/EXACT"]),
    );
    add(
        "regex-path",
        &[Http],
        vec![
            http(
                "regex-path",
                "re",
                Some(0),
                json!({ "path": { "regex": "/re/[0-9]+" } }),
                json!({}),
            ),
            http(
                "regex-path",
                "alt",
                Some(1),
                json!({ "path": { "regex": "/a|/b" } }),
                json!({}),
            ),
            rest("regex-path"),
        ],
        paths(&[
            "/re/1", "/re/123", "/re/x", "/x/re/1", "/re/1/x", "/a", "/b", "/ab", "/xa",
        ]),
    );
    let hosts = |ps: &[&str]| ps.iter().map(|h| get("/").host(h)).collect::<Vec<_>>();
    add(
        "hostname",
        &[Http],
        vec![
            http(
                "hostname",
                "exact",
                Some(0),
                json!({ "prefix": "/", "hostname": { "exact": "shop.example.com" } }),
                json!({}),
            ),
            http(
                "hostname",
                "dot",
                Some(1),
                json!({ "prefix": "/", "hostname": { "suffix": ".example.org" } }),
                json!({}),
            ),
            http(
                "hostname",
                "nodot",
                Some(2),
                json!({ "prefix": "/", "hostname": { "suffix": "example.net" } }),
                json!({}),
            ),
            rest("hostname"),
        ],
        hosts(&[
            "shop.example.com",
            "SHOP.example.com",
            "shop.example.com:8080",
            "other.example.com",
            "a.example.org",
            "a.b.example.org",
            "example.org",
            "xexample.org",
            "a.example.net",
            "example.net",
            "xexample.net",
        ]),
    );
    add(
        "host-rewrite",
        &[Http],
        vec![
            http(
                "host-rewrite",
                "default",
                Some(0),
                json!({ "prefix": "/d/" }),
                json!({}),
            ),
            http(
                "host-rewrite",
                "off",
                Some(1),
                json!({ "prefix": "/off/" }),
                json!({ "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } }),
            ),
            http(
                "host-rewrite",
                "on",
                Some(2),
                json!({ "prefix": "/on/" }),
                json!({ "rewrite": { "hostname": { "defaultTargetHostname": "ENABLED" } } }),
            ),
        ],
        vec![
            get("/d/x").host("a.example.com"),
            get("/off/x").host("a.example.com"),
            get("/on/x").host("b.example.com"),
        ],
    );
    add(
        "method",
        &[Http],
        vec![
            http(
                "method",
                "post",
                Some(0),
                json!({ "prefix": "/", "method": "POST" }),
                json!({}),
            ),
            rest("method"),
        ],
        vec![
            get("/m"),
            get("/m").method("POST"),
            get("/m").method("PUT"),
            get("/m").method("DELETE"),
        ],
    );
    let header_cases: [(&str, Value); 5] = [
        ("exact", json!({ "exact": "gold" })),
        ("regex", json!({ "regex": "v[0-9]+" })),
        ("prefix", json!({ "prefix": "pre" })),
        ("suffix", json!({ "suffix": "suf" })),
        ("present", Value::Null),
    ];
    let mut header_routes: Vec<(String, Value)> = header_cases
        .iter()
        .enumerate()
        .map(|(i, (kind, m))| {
            let mut h = json!({ "name": format!("x-{kind}") });
            if !m.is_null() {
                h["match"] = m.clone();
            }
            http(
                "headers",
                kind,
                Some(i as i32),
                json!({ "prefix": "/", "headers": [h] }),
                json!({}),
            )
        })
        .collect();
    header_routes.push(rest("headers"));
    let h = |name: &str, value: &str| get("/h").header(name, value);
    add(
        "headers",
        &[Http],
        header_routes,
        vec![
            h("x-exact", "gold"),
            h("x-exact", "golden"),
            h("X-Exact", "gold"),
            h("x-exact", "Gold"),
            h("x-regex", "v12"),
            h("x-regex", "v12x"),
            h("x-regex", "av1"),
            h("x-prefix", "prefix"),
            h("x-prefix", "apre"),
            h("x-suffix", "asuf"),
            h("x-suffix", "sufa"),
            h("x-present", "anything"),
            h("x-present", ""),
            get("/h"),
        ],
    );
    add(
        "headers-lost",
        &[Http],
        vec![
            http(
                "headers-lost",
                "range",
                Some(0),
                json!({ "prefix": "/", "headers": [{ "name": "x-n", "match": { "range": { "start": 1, "end": 5 } } }] }),
                json!({}),
            ),
            http(
                "headers-lost",
                "invert",
                Some(1),
                json!({ "prefix": "/", "headers": [{ "name": "x-env", "invert": true, "match": { "exact": "prod" } }] }),
                json!({}),
            ),
            http(
                "headers-lost",
                "twice",
                Some(2),
                json!({ "prefix": "/t", "headers": [{ "name": "x-a", "match": { "prefix": "a" } }, { "name": "x-a", "match": { "suffix": "z" } }] }),
                json!({}),
            ),
            rest("headers-lost"),
        ],
        vec![
            get("/r").header("x-n", "3").header("x-env", "prod"),
            get("/r").header("x-n", "7").header("x-env", "prod"),
            get("/r").header("x-env", "dev"),
            get("/r").header("x-env", "prod"),
            get("/t").header("x-a", "abz").header("x-env", "prod"),
            get("/t").header("x-a", "ab").header("x-env", "prod"),
        ],
    );
    add(
        "query",
        &[Http],
        vec![
            http(
                "query",
                "exact",
                Some(0),
                json!({ "prefix": "/", "queryParameters": [{ "name": "tier", "match": { "exact": "gold" } }] }),
                json!({}),
            ),
            http(
                "query",
                "present",
                Some(1),
                json!({ "prefix": "/", "queryParameters": [{ "name": "debug" }] }),
                json!({}),
            ),
            rest("query"),
        ],
        paths(&[
            "/q?tier=gold",
            "/q?tier=silver",
            "/q?tier=gold&x=1",
            "/q?debug",
            "/q?debug=1",
            "/q?Tier=gold",
            "/q",
        ]),
    );
    add(
        "priority",
        &[Http],
        vec![
            http(
                "priority",
                "short",
                Some(0),
                json!({ "prefix": "/api/" }),
                json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } }),
            ),
            http(
                "priority",
                "long",
                Some(1),
                json!({ "prefix": "/api/v1/" }),
                json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } }),
            ),
            http(
                "priority",
                "exact",
                Some(2),
                json!({ "path": { "exact": "/api/v1/health" } }),
                json!({}),
            ),
            rest("priority"),
        ],
        paths(&["/api/x", "/api/v1/x", "/api/v1/health", "/other"]),
    );
    // Routes without a priority: App Mesh tries the longer path first (Gateway API a host name
    // first); between equally long paths AWS did not say (the emulator: the older first).
    add(
        "unprioritised",
        &[Http],
        vec![
            http(
                "unprioritised",
                "versioned",
                None,
                json!({ "prefix": "/api/v1" }),
                json!({}),
            ),
            http(
                "unprioritised",
                "tenant",
                None,
                json!({ "prefix": "/", "hostname": { "exact": "a.example.com" } }),
                json!({}),
            ),
            http(
                "unprioritised",
                "any-shop",
                None,
                json!({ "prefix": "/shop" }),
                json!({}),
            ),
            http(
                "unprioritised",
                "beta-shop",
                None,
                json!({ "prefix": "/shop", "headers": [{ "name": "x-beta", "match": { "exact": "1" } }] }),
                json!({}),
            ),
        ],
        vec![
            get("/api/v1/x").host("a.example.com"),
            get("/api/v1/x"),
            get("/other").host("a.example.com"),
            get("/shop/x").header("x-beta", "1"),
            get("/shop/x"),
        ],
    );
    add(
        "port",
        &[Http, Http],
        vec![
            http(
                "port",
                "second",
                Some(0),
                json!({ "port": "{port1}" }),
                json!({}),
            ),
            http(
                "port",
                "other",
                Some(1),
                json!({ "prefix": "/other/" }),
                json!({}),
            ),
        ],
        vec![
            get("/p"),
            get("/p").on(1),
            get("/other/x"),
            get("/other/x").on(1),
        ],
    );
    add(
        "target-port",
        &[Http],
        vec![{
            let (name, mut spec) = http(
                "target-port",
                "port",
                None,
                json!({ "prefix": "/" }),
                json!({}),
            );
            spec["httpRoute"]["action"]["target"]["port"] = json!(8080);
            (name, spec)
        }],
        paths(&["/t"]),
    );
    add(
        "http2",
        &[Http2],
        vec![
            typed(
                "http2Route",
                "http2",
                "api",
                Some(0),
                json!({ "prefix": "/api/" }),
                json!({}),
            ),
            typed(
                "http2Route",
                "http2",
                "all",
                Some(1),
                json!({ "prefix": "/" }),
                json!({ "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } }),
            ),
        ],
        paths(&["/api/x", "/api", "/b"]),
    );
    add(
        "grpc",
        &[Grpc],
        vec![
            typed(
                "grpcRoute",
                "grpc",
                "gold",
                Some(0),
                json!({ "serviceName": "echo.v1.Echo", "metadata": [{ "name": "tenant", "match": { "exact": "gold" } }] }),
                json!({}),
            ),
            typed(
                "grpcRoute",
                "grpc",
                "echo",
                Some(1),
                json!({ "serviceName": "echo.v1.Echo" }),
                json!({ "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } }),
            ),
            typed(
                "grpcRoute",
                "grpc",
                "any",
                Some(2),
                json!({ "hostname": { "suffix": ".example.com" } }),
                json!({ "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } }),
            ),
        ],
        vec![
            Probe::grpc("echo.v1.Echo").header("tenant", "gold"),
            Probe::grpc("echo.v1.Echo").header("tenant", "silver"),
            Probe::grpc("echo.v1.Echo"),
            Probe::grpc("other.v1.Other"),
        ],
    );
    // A backend in another namespace, named as a cluster DNS name: the export resolves it and
    // prints the ReferenceGrant that lets the route refer there.
    add(
        "other-namespace",
        &[Http],
        vec![{
            let (name, mut spec) = http(
                "other-namespace",
                "web",
                None,
                json!({ "prefix": "/" }),
                json!({}),
            );
            spec["httpRoute"]["action"]["target"]["virtualService"]["virtualServiceName"] =
                json!("web.{other-ns}.svc.cluster.local");
            (name, spec)
        }],
        paths(&["/", "/a/b"]),
    );
    // A gRPC service name GRPCRoute refuses, exported as an HTTPRoute on POST /<service>/.
    add(
        "grpc-as-http",
        &[Grpc],
        vec![typed(
            "grpcRoute",
            "grpc-as-http",
            "legacy",
            None,
            json!({ "serviceName": "legacy-echo.Echo" }),
            json!({}),
        )],
        vec![
            Probe::grpc("legacy-echo.Echo"),
            Probe::grpc("legacy-echo.Other"),
            Probe::grpc("echo.v1.Echo"),
        ],
    );
    let mut prefixes = case(
        "string-prefixes",
        &[Http],
        vec![
            http(
                "string-prefixes",
                "api",
                Some(0),
                json!({ "prefix": "/api" }),
                json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } }),
            ),
            rest("string-prefixes"),
        ],
        vec![get("/api"), get("/apix"), get("/api/v1"), get("/x")],
    );
    prefixes.flags = vec!["--string-prefixes"];
    cases.push(prefixes);
    cases
}

/// The examples in examples/, each a case of its own, with requests for what each one says.
fn examples() -> Vec<Case> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(meshroute_testbed::repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let object: Value = serde_saphyr::from_str(&text).unwrap();
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let case_name = format!("example-{name}");
        let mut spec = object["spec"].clone();
        let field = ["httpRoute", "http2Route", "grpcRoute"]
            .into_iter()
            .find(|f| spec.get(f).is_some())
            .unwrap();
        spec[field]["action"]["target"]["virtualService"]["virtualServiceName"] =
            json!(service_of(&case_name, &name));
        let proto = match field {
            "httpRoute" => Proto::Http,
            "http2Route" => Proto::Http2,
            _ => Proto::Grpc,
        };
        let probes = match name.as_str() {
            "echo-gold" => vec![
                Probe::grpc("echo.v1.Echo")
                    .header("x-tenant", "gold-1")
                    .header("x-shard", "3"),
                Probe::grpc("echo.v1.Echo")
                    .header("x-tenant", "gold-1")
                    .header("x-shard", "16"),
                Probe::grpc("echo.v1.Echo")
                    .header("x-tenant", "silver")
                    .header("x-shard", "3"),
            ],
            "health-check" => vec![
                get("/healthz").host("a.example.com"),
                get("/healthz").host("example.com"),
                get("/healthz/").host("a.example.com"),
            ],
            "payments-api-canary" => vec![
                get("/v1/pay?tenant=gold")
                    .host("api.example.com")
                    .header("x-canary", "true"),
                get("/v1/pay?tenant=gold")
                    .host("api.example.com")
                    .header("x-canary", "true")
                    .header("x-debug", "on"),
                get("/v1/pay?tenant=gold")
                    .host("api.example.com")
                    .header("x-canary", "true")
                    .header("x-debug", "off"),
                get("/v1/pay?tenant=gold").host("api.example.com"),
                get("/v1?tenant=gold")
                    .host("api.example.com")
                    .header("x-canary", "true"),
            ],
            "my-gateway-route" => vec![get("/"), get("/any/path?x=1")],
            "chapters" => vec![
                get("/chapter/1"),
                get("/chapter1"),
                get("/chapter"),
                get("/chapter//1?page=2"),
            ],
            other => panic!("examples/{other}: add the requests that show what it routes"),
        };
        let unprioritised = spec.get("priority").is_none();
        let mut routes = vec![(name.clone(), spec)];
        // The catch-all, so a request the example no longer takes shows where it went; without
        // a priority when the example has none (how App Mesh interleaves routes with and
        // without one is undocumented; between two without one the longer path goes first).
        if proto == Proto::Http {
            let (name, mut catch_all) = rest(&case_name);
            if unprioritised {
                catch_all.as_object_mut().unwrap().remove("priority");
            }
            routes.push((name, catch_all));
        }
        cases.push(case(&case_name, &[proto], routes, probes));
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// One case as set up on both sides.
struct Served {
    case: Case,
    ns: String,
    /// Listener port in App Mesh's spec (what Traefik serves too) -> the emulator's address.
    ports: Vec<u16>,
    emulator: BTreeMap<u16, SocketAddr>,
    /// namespace/name -> its virtual service.
    services: BTreeMap<String, String>,
    /// The GatewayRoutes, the export's options and the export, as `verify` reads them.
    routes: Vec<meshroute::api::GatewayRoute>,
    opts: gatewayapi::Options,
    export: gatewayapi::Export,
    /// `namespace/name` of each Service -> the virtual service its echo backend stands for.
    echo_of: BTreeMap<String, String>,
}

/// The case's routes in the emulator, its echo backends, the export applied for Traefik.
async fn serve(
    case: Case,
    ports: Vec<u16>,
    handle: &appmesh_emulator::Handle,
    host: IpAddr,
    client: &kube::Client,
) -> Served {
    let e = &handle.emulator;
    let mesh = format!("m-{}", case.name);
    e.invoke("CreateMesh", &json!({ "meshName": mesh }))
        .unwrap();
    let listeners: Vec<Value> = case
        .listeners
        .iter()
        .zip(&ports)
        .map(|(p, port)| json!({ "portMapping": { "port": port, "protocol": p.listener() } }))
        .collect();
    e.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "spec": { "listeners": listeners } }),
    )
    .unwrap();
    let ns = meshroute_testbed::namespace(client, &format!("traffic-{}", case.name))
        .await
        .unwrap();
    let mut services = BTreeMap::new();
    let mut objects = Vec::new();
    let mut service_map = serde_json::Map::new();
    let mut backends = Vec::new();
    // `{other-ns}` stands for a second namespace of the case, for backends the routes reach
    // across namespaces.
    let mut other_ns = None;
    if case
        .routes
        .iter()
        .any(|(_, s)| s.to_string().contains("{other-ns}"))
    {
        let other = format!("traffic-{}-backends", case.name);
        other_ns = Some(meshroute_testbed::namespace(client, &other).await.unwrap());
    }
    for (name, spec) in &case.routes {
        // `{port1}` stands for the second listener's port, known only now.
        let spec: Value = serde_json::from_str(
            &spec
                .to_string()
                .replace(
                    "\"{port1}\"",
                    &ports.get(1).copied().unwrap_or(0).to_string(),
                )
                .replace("{other-ns}", other_ns.as_deref().unwrap_or_default()),
        )
        .unwrap();
        let kind = ["httpRoute", "http2Route", "grpcRoute"]
            .into_iter()
            .find(|f| spec.get(f).is_some())
            .unwrap();
        let target = &spec[kind]["action"]["target"];
        let service = target["virtualService"]["virtualServiceName"]
            .as_str()
            .unwrap()
            .to_string();
        let target_port = target["port"].as_i64();
        e.invoke(
            "CreateVirtualService",
            &json!({ "meshName": mesh, "virtualServiceName": service, "spec": {} }),
        )
        .unwrap();
        let mut app_mesh = serde_json::Map::new();
        for field in ["priority", "httpRoute", "http2Route", "grpcRoute"] {
            if let Some(v) = spec.get(field) {
                app_mesh.insert(field.into(), v.clone());
            }
        }
        e.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "gatewayRouteName": name,
                     "spec": app_mesh }),
        )
        .unwrap_or_else(|err| panic!("{}/{name}: App Mesh refused it: {err:?}", case.name));
        let echo = handle.serve_echo_on(&mesh, &service, host).await.unwrap();
        // A `<service>.<namespace>.svc.cluster.local` name is resolved by the export itself;
        // any other goes through the service map.
        let (svc, svc_ns) = match service.strip_suffix(".svc.cluster.local") {
            Some(short) => {
                let (svc, svc_ns) = short.split_once('.').unwrap();
                (svc.to_string(), svc_ns.to_string())
            }
            None => {
                let svc = format!("svc-{name}");
                service_map.insert(
                    service.clone(),
                    json!({ "name": svc, "namespace": ns, "port": 80 }),
                );
                (svc, ns.clone())
            }
        };
        backends.push(Backend {
            namespace: svc_ns,
            name: svc,
            address: echo,
            target_port,
            h2c: case.listeners[0] != Proto::Http,
        });
        services.insert(format!("{ns}/{name}"), service);
        let mut object_spec = spec.clone();
        object_spec["meshName"] = json!(mesh);
        object_spec["virtualGatewayName"] = json!(GATEWAY);
        objects.push(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": ns }, "spec": object_spec,
        }));
    }
    let served = handle.serve_gateway(&mesh, GATEWAY).await.unwrap();
    let emulator = served.iter().map(|s| (s.port, s.address)).collect();

    let dir = meshroute_testbed::shared().dir().join("traffic");
    std::fs::create_dir_all(&dir).unwrap();
    let routes_file = dir.join(format!("{}.json", case.name));
    let map_file = dir.join(format!("{}-services.json", case.name));
    std::fs::write(
        &routes_file,
        json!({ "apiVersion": "v1", "kind": "List", "items": objects }).to_string(),
    )
    .unwrap();
    std::fs::write(&map_file, Value::Object(service_map.clone()).to_string()).unwrap();
    let gateway_port = ports[0].to_string();
    let mut args = vec![
        "export",
        "gateway-api",
        "-n",
        &ns,
        "-f",
        routes_file.to_str().unwrap(),
        "--service-map",
        map_file.to_str().unwrap(),
        "--gateway-class",
        CLASS,
        "--gateway-port",
        &gateway_port,
        "--report",
        "json",
    ];
    args.extend(case.flags.iter().copied());
    let (ok, exported, report) =
        run_program(Path::new(env!("CARGO_BIN_EXE_meshroute")), &args, &[], None);
    assert!(ok, "{}: export failed: {report}", case.name);
    let report: Value = serde_json::from_str(report.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: report is not JSON ({e}): {report}", case.name));
    // The same export in this process, for verify's models and judge; the binary's report
    // must hold the same findings.
    // In the binary's order: by namespace and name.
    let mut routes = objects
        .iter()
        .map(|o| serde_json::from_value(o.clone()).unwrap())
        .collect::<Vec<meshroute::api::GatewayRoute>>();
    routes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let opts = gatewayapi::Options {
        gateway_class: Some(CLASS.into()),
        gateway_port: i32::from(ports[0]),
        string_prefixes: case.flags.contains(&"--string-prefixes"),
        services: serde_json::from_value(Value::Object(service_map.clone())).unwrap(),
        backend_port: 80,
        ..Default::default()
    };
    let export = gatewayapi::export(&routes, &opts);
    assert_eq!(
        report["findings"],
        serde_json::to_value(&export.findings).unwrap(),
        "{}: the binary's export and the library's differ",
        case.name
    );
    // A case whose every route is dropped prints nothing.
    if !exported.trim().is_empty() {
        let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&exported));
        assert!(
            ok,
            "{}: apply the export: {out}{err}\n{exported}",
            case.name
        );
    }
    let echo_of = backends
        .iter()
        .zip(&case.routes)
        .map(|(b, (name, _))| {
            (
                format!("{}/{}", b.namespace, b.name),
                services[&format!("{ns}/{name}")].clone(),
            )
        })
        .collect();
    apply_backends(&backends);
    Served {
        case,
        ns,
        ports,
        emulator,
        services,
        routes,
        opts,
        export,
        echo_of,
    }
}

/// Traefik applies a configuration a moment after it writes the routes' status. Every object
/// was applied before it started, so its first configuration holds them all: once the catch-all
/// of `prefix-root` answers, every route does.
fn wait_serving(all: &[Served]) {
    let root = all
        .iter()
        .find(|s| s.case.name == "prefix-root")
        .expect("the prefix-root case");
    let to = SocketAddr::from(([127, 0, 0, 1], root.ports[0]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outcome = send(to, Proto::Http, &get("/"));
        if matches!(outcome, Outcome::Reached { .. }) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Traefik does not serve its routes 30 s after accepting them (last: {outcome})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What a request sent through a gateway got, as `verify` states answers: an echo backend's
/// virtual service as the Service it stands for (without its port: reaching the echo proves
/// the port), a gRPC call no route takes (UNIMPLEMENTED) as the 404 Envoy and Gateway API send.
fn answer_of(outcome: &Outcome, served: &Served) -> Answer {
    match outcome {
        Outcome::Reached {
            service,
            path,
            host,
        } => Answer::Sent {
            backends: vec![(
                served
                    .echo_of
                    .iter()
                    .find(|(_, vs)| *vs == service)
                    .map_or_else(|| format!("echo {service}"), |(svc, _)| svc.clone()),
                1,
            )],
            path: path.clone(),
            host: host.clone(),
        },
        Outcome::Status(status) => Answer::Status(*status),
        Outcome::GrpcStatus(12) => Answer::Status(404),
        Outcome::GrpcStatus(code) => Answer::Status(1000 + code),
        Outcome::Failed(_) => Answer::Status(0),
    }
}

/// A model's answer as `answer_of` states what came back: without its backends' ports, the path
/// with unreserved characters decoded (`send` decodes them: the same resource either way).
fn portless(answer: &Answer) -> Answer {
    match answer {
        Answer::Sent {
            backends,
            path,
            host,
        } => Answer::Sent {
            backends: backends
                .iter()
                .map(|(b, w)| {
                    (
                        b.rsplit_once(':')
                            .map_or(b.as_str(), |(b, _)| b)
                            .to_string(),
                        *w,
                    )
                })
                .collect(),
            path: unreserved_decoded(path),
            host: host.clone(),
        },
        status => status.clone(),
    }
}

/// A probe as `verify` states a request, sent to the case's gateway.
fn request_of(probe: &Probe, served: &Served) -> Request {
    let proto = served.case.listeners[probe.listener];
    Request {
        from: format!("{}/{}", served.ns, served.case.routes[0].0),
        why: "the traffic test's probe".into(),
        protocol: match proto {
            Proto::Http => Protocol::Http,
            Proto::Http2 => Protocol::Http2,
            Proto::Grpc => Protocol::Grpc,
        },
        port: served.ports[probe.listener],
        method: probe.method.into(),
        path: probe.path.clone(),
        host: probe.host.clone(),
        headers: probe
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .chain(
                (proto == Proto::Grpc).then(|| ("content-type".into(), "application/grpc".into())),
            )
            .collect(),
    }
}

/// A request `verify` made, as a probe of the case (`None` on a port the case does not serve).
fn probe_of(request: &Request, served: &Served) -> Option<Probe> {
    let listener = served.ports.iter().position(|p| *p == request.port)?;
    const METHODS: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    Some(Probe {
        listener,
        method: METHODS.into_iter().find(|m| *m == request.method)?,
        path: request.path.clone(),
        host: request.host.clone(),
        headers: request
            .headers
            .iter()
            .filter(|(n, _)| n != "content-type")
            .cloned()
            .collect(),
    })
}

/// A verdict as the totals and lines show it.
fn shown(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Announced { codes, .. } => codes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Verdict::Unannounced(aspects) => format!("unannounced {aspects:?}"),
    }
}

#[derive(Default)]
struct Totals {
    requests: usize,
    agree: usize,
    announced: usize,
    codes: BTreeSet<String>,
    unannounced: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_mesh_and_gateway_api_route_every_request_alike_or_the_export_says_why() {
    let (_one, plane, client, host) = traffic_bed().await;
    // A mesh per case: more than App Mesh's default quota of 15.
    let settings = appmesh_emulator::Settings {
        max_meshes: 100,
        ..Default::default()
    };
    let handle = appmesh_emulator::spawn(settings, 0).unwrap();
    let mut cases = examples();
    cases.extend(corpus());
    // Traefik's entry point ports, held until Traefik starts so that the echo backends and
    // gateway listeners bound meanwhile (on port 0) cannot be given one of them.
    let held: Vec<std::net::TcpListener> = (0..64)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut next = held.iter().map(|l| l.local_addr().unwrap().port());
    let mut all = Vec::new();
    for case in cases {
        let ports: Vec<u16> = case
            .listeners
            .iter()
            .map(|_| next.next().unwrap())
            .collect();
        all.push(serve(case, ports, &handle, host, &client).await);
    }
    let entry_points: Vec<u16> = all.iter().flat_map(|s| s.ports.clone()).collect();
    drop(held);
    let traefik = meshroute_testbed::Traefik::start(&plane.kubeconfig, &entry_points, plane.dir())
        .unwrap_or_else(|e| panic!("start Traefik: {e}"));
    wait_accepted(&all.iter().map(|s| s.ns.clone()).collect::<Vec<_>>());
    wait_serving(&all);

    // verify offline over the whole corpus, for the record (speed goals live in `make bench`).
    let started = std::time::Instant::now();
    let corpus: usize = all
        .iter()
        .map(|s| verify::check(&s.routes, &s.opts, &s.export).len())
        .sum();
    eprintln!(
        "verify offline over the corpus ({} cases): {corpus} requests in {} ms",
        all.len(),
        started.elapsed().as_millis()
    );
    let mut per_case = Vec::new();
    let mut sum = Totals::default();
    // Where verify's models or its judge said otherwise than the gateways did.
    let mut gaps = Vec::new();
    let mut verified = 0;
    let mut deviations = 0;
    for served in &all {
        let mut t = Totals::default();
        let judge = Judge::new(&served.export.findings);
        let requests = served
            .case
            .probes
            .iter()
            .map(|p| request_of(p, served))
            .collect();
        let predicted = verify::checked(&served.routes, &served.opts, &served.export, requests);
        for (probe, model) in served.case.probes.iter().zip(&predicted) {
            let port = served.ports[probe.listener];
            let proto = served.case.listeners[probe.listener];
            let app_mesh = send(served.emulator[&port], proto, probe);
            let gateway_api = send(SocketAddr::from(([127, 0, 0, 1], port)), proto, probe);
            let line = format!(
                "{} {} {}{} Host {} {:?}: App Mesh {app_mesh}, Gateway API {gateway_api}",
                served.case.name,
                probe.method,
                port_note(probe),
                probe.path,
                probe.host,
                probe.headers
            );
            t.requests += 1;
            let (am, ga) = (
                answer_of(&app_mesh, served),
                answer_of(&gateway_api, served),
            );
            let deviation = match model_gaps(model, &am, &ga, served, &line) {
                Ok(found) => {
                    gaps.extend(found);
                    false
                }
                Err(_) => {
                    deviations += 1;
                    true
                }
            };
            let differs = verify::answer::differences(&am, &ga);
            let involved: Vec<&str> = [&app_mesh, &gateway_api]
                .into_iter()
                .filter_map(|o| match o {
                    Outcome::Reached { service, .. } => Some(service),
                    _ => None,
                })
                .flat_map(|s| {
                    served
                        .services
                        .iter()
                        .filter(move |(_, v)| *v == s)
                        .map(|(k, _)| k.as_str())
                })
                .collect();
            // Every kind of difference needs a finding of a route involved that predicts it
            // for this request (verify::judge).
            let verdict = (!differs.is_empty())
                .then(|| judge.verdict(&differs, &probe.path, &probe.host, &involved));
            if !deviation && verdict != model.verdict {
                gaps.push(format!(
                    "{line}: verify's verdict {:?}, the gateways' {:?}",
                    model.verdict.as_ref().map(shown),
                    verdict.as_ref().map(shown)
                ));
            }
            match verdict {
                None => t.agree += 1,
                Some(Verdict::Unannounced(_)) => t.unannounced.push(line),
                Some(Verdict::Announced { codes, .. }) => {
                    eprintln!(
                        "announced ({}): {line}",
                        shown(&Verdict::Announced {
                            codes: codes.clone(),
                            accepted: false
                        })
                    );
                    t.announced += 1;
                    t.codes.extend(codes.iter().map(|c| c.as_str().to_string()));
                }
            }
        }
        // The requests verify itself makes for the case's routes, through both gateways: its
        // models must have predicted each answer.
        for c in verify::check(&served.routes, &served.opts, &served.export) {
            let Some(probe) = probe_of(&c.request, served) else {
                continue;
            };
            let proto = served.case.listeners[probe.listener];
            let port = served.ports[probe.listener];
            let app_mesh = send(served.emulator[&port], proto, &probe);
            let gateway_api = send(SocketAddr::from(([127, 0, 0, 1], port)), proto, &probe);
            let line = format!(
                "{} verify's {} ({}): App Mesh {app_mesh}, Gateway API {gateway_api}",
                served.case.name, c.request, c.request.why
            );
            let (am, ga) = (
                answer_of(&app_mesh, served),
                answer_of(&gateway_api, served),
            );
            match model_gaps(&c, &am, &ga, served, &line) {
                Ok(found) => gaps.extend(found),
                Err(_) => deviations += 1,
            }
            verified += 1;
        }
        sum.requests += t.requests;
        sum.agree += t.agree;
        sum.announced += t.announced;
        sum.codes.extend(t.codes.iter().cloned());
        sum.unannounced.extend(t.unannounced.iter().cloned());
        per_case.push((served.case.name.clone(), served.case.routes.len(), t));
    }
    // Live: verify sends its requests for a case's routes to Traefik, with the emulator's
    // gateway (App Mesh's answers) as the reference; what differs live is what differs offline.
    let chapters = all
        .iter()
        .find(|s| s.case.name == "example-chapters")
        .expect("the example-chapters case");
    let dir = meshroute_testbed::shared().dir().join("traffic");
    let port = chapters.ports[0].to_string();
    let gateway = format!("http://127.0.0.1:{port}");
    let reference = format!("http://{}", chapters.emulator[&chapters.ports[0]]);
    let files = [
        dir.join("example-chapters.json"),
        dir.join("example-chapters-services.json"),
    ];
    let args = [
        "verify",
        "-n",
        &chapters.ns,
        "-f",
        files[0].to_str().unwrap(),
        "--service-map",
        files[1].to_str().unwrap(),
        "--gateway-port",
        &port,
        "--gateway",
        &gateway,
        "--reference",
        &reference,
        "--rps",
        "100",
        "--report",
        "json",
        // The echo backends answer with the request's headers, which Traefik adds to.
        "--no-body",
    ];
    let (ok, out, err) = run_program(Path::new(env!("CARGO_BIN_EXE_meshroute")), &args, &[], None);
    assert!(ok, "verify --gateway failed: {out}{err}");
    let live: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let offline = verify::check(&chapters.routes, &chapters.opts, &chapters.export);
    let offline_different = offline.iter().filter(|c| c.verdict.is_some()).count();
    let summary = &live["summary"];
    eprintln!(
        "verify --gateway on example-chapters: {summary}; offline: {} requests, {offline_different} different",
        offline.len()
    );
    assert_eq!(summary["failed"], 0, "{live}");
    assert_eq!(summary["varying"], 0, "{live}");
    assert_eq!(summary["sent"], summary["requests"], "{live}");
    assert_eq!(
        summary["different"], offline_different,
        "live and offline differ: {live}"
    );
    // Each live difference carries the offline verdict on its request.
    assert_eq!(summary["differentAsPredicted"], offline_different, "{live}");
    assert_eq!(summary["differentUnpredicted"], 0, "{live}");
    drop(traefik);
    eprintln!(
        "verify's models checked on {} probes and {verified} requests verify made: {} gaps, \
         {deviations} answers of Traefik's documented deviation",
        sum.requests,
        gaps.len()
    );
    assert!(
        gaps.is_empty(),
        "verify's models or judge disagree with the gateways on {} request(s):\n{}",
        gaps.len(),
        gaps.join("\n")
    );
    assert!(
        sum.unannounced.is_empty(),
        "{} of {} requests went differently through Gateway API with no finding that says so:\n{}",
        sum.unannounced.len(),
        sum.requests,
        sum.unannounced.join("\n")
    );
    check_docs(&per_case, &sum);
}

/// Where Traefik departs from the Gateway API specification verify's model follows: Traefik
/// ranks the path (or gRPC service) and the rest of a match above its host name, where the
/// specification gives precedence to "the HTTPRoute with the largest number of: Characters in a
/// matching non-wildcard hostname. Characters in a matching hostname" before any path
/// (HTTPRouteSpec.hostnames; GRPCRoute's rules likewise). A request shows it when the model
/// ranked that way (`Ranking::HostLast`) gives Traefik's answer and the specification's does
/// not.
const TRAEFIK_HOST_LAST: &str = "Traefik ranks the host name after the rest of the match";

/// Where verify's models said otherwise than the emulator (App Mesh's) or Traefik (Gateway
/// API's) did for one request; `Err` for Traefik's documented deviation.
fn model_gaps(
    model: &verify::Checked,
    app_mesh: &Answer,
    gateway_api: &Answer,
    served: &Served,
    line: &str,
) -> Result<Vec<String>, &'static str> {
    let mut gaps = Vec::new();
    if portless(&model.app_mesh.answer) != *app_mesh {
        gaps.push(format!(
            "{line}: App Mesh's model says {}",
            model.app_mesh.answer
        ));
    }
    if portless(&model.gateway_api.answer) != *gateway_api {
        let host_last = verify::gateway_api::GatewayApi::new(
            &served.export.objects,
            gatewayapi::gateways(&served.routes),
        )
        .ranking(verify::gateway_api::Ranking::HostLast)
        .answers(std::slice::from_ref(&model.request));
        if portless(&host_last[0].answer) == *gateway_api && gaps.is_empty() {
            eprintln!("Traefik's deviation ({TRAEFIK_HOST_LAST}): {line}");
            return Err(TRAEFIK_HOST_LAST);
        }
        gaps.push(format!(
            "{line}: Gateway API's model says {}",
            model.gateway_api.answer
        ));
    }
    Ok(gaps)
}

fn port_note(probe: &Probe) -> String {
    if probe.listener == 0 {
        String::new()
    } else {
        format!("(listener {}) ", probe.listener)
    }
}

/// The totals table in docs/migration.md must be what this run measured;
/// `MESHROUTE_UPDATE_DOCS=1` writes it.
fn check_docs(per_case: &[(String, usize, Totals)], sum: &Totals) {
    let mut table = String::from(
        "| case | routes | requests | same backend, path and Host | different, announced (codes) | different, unannounced |\n|---|---|---|---|---|---|\n",
    );
    let codes = |t: &Totals| {
        if t.codes.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                t.codes
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let mut routes = 0;
    for (name, n, t) in per_case {
        routes += n;
        table.push_str(&format!(
            "| {name} | {n} | {} | {} | {}{} | {} |\n",
            t.requests,
            t.agree,
            t.announced,
            codes(t),
            t.unannounced.len()
        ));
    }
    table.push_str(&format!(
        "| **all {} cases** | {routes} | **{}** | **{}** | **{}** | **{}** |\n",
        per_case.len(),
        sum.requests,
        sum.agree,
        sum.announced,
        sum.unannounced.len()
    ));
    check_block(DOCS_BEGIN, DOCS_END, &table);
}

/// docs/migration.md's block between `open` and `close` is `table`, or is written with it
/// under `MESHROUTE_UPDATE_DOCS`; otherwise the test fails showing what it measured.
fn check_block(open: &str, close: &str, table: &str) {
    let path = meshroute_testbed::repo_root().join("docs/migration.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    let (Some(begin), Some(end)) = (docs.find(open), docs.find(close)) else {
        panic!("docs/migration.md has no {open} ... {close} block");
    };
    let inside = begin + open.len();
    let wanted = format!("\n{table}");
    if docs[inside..end] == wanted {
        return;
    }
    if std::env::var_os("MESHROUTE_UPDATE_DOCS").is_some() {
        let updated = format!("{}{wanted}{}", &docs[..inside], &docs[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "docs/migration.md's traffic totals differ from this run; write them with \
         `MESHROUTE_UPDATE_DOCS=1 cargo test --test traffic`:\n{table}"
    );
}

/// Requests that go through a virtual router, through both gateways: the emulator's (App Mesh's
/// data plane, following the router) and Traefik serving what `import` recorded of the mesh
/// and `export gateway-api` made of it. Weighted splits keep their shares; a header route, a
/// path below the gateway route's prefix and a catch-all reach the same nodes with the same
/// path and Host, or the export announces the difference; a per-request timeout is App Mesh's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_routers_split_and_matches_reach_the_same_nodes_through_both_gateways() {
    let (_one, plane, client, host) = traffic_bed().await;
    let handle = appmesh_emulator::spawn(appmesh_emulator::Settings::default(), 0).unwrap();
    let e = &handle.emulator;
    let ok = |op: &str, input: Value| {
        e.invoke(op, &input)
            .unwrap_or_else(|err| panic!("{op} {input}: {err:?}"));
    };
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let held_grpc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let grpc_port = held_grpc.local_addr().unwrap().port();
    let ns = meshroute_testbed::namespace(&client, "traffic-routers")
        .await
        .unwrap();
    let mesh = "routers";
    ok("CreateMesh", json!({ "meshName": mesh }));
    ok(
        "CreateVirtualGateway",
        json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "spec": { "listeners": [
            { "portMapping": { "port": port, "protocol": "http" } },
            { "portMapping": { "port": grpc_port, "protocol": "grpc" } }] } }),
    );
    // Each virtual node an echo backend, and the Service its DNS name names.
    let mut backends = Vec::new();
    // The flaky node's listener limits its connections, as App Mesh's Envoy did for requests
    // to it: nothing a Service says (`node-settings-dropped`).
    let listener = |node: &str| {
        let mut l = json!({ "portMapping": { "port": 8080, "protocol": "http" } });
        if node == "flaky" {
            l["connectionPool"] = json!({ "http": { "maxConnections": 10 } });
        }
        l
    };
    for node in ["blue", "green", "api", "flaky", "cart"] {
        ok(
            "CreateVirtualNode",
            json!({ "meshName": mesh, "virtualNodeName": node, "spec": {
                "listeners": [listener(node)],
                "serviceDiscovery": { "dns": { "hostname": format!("{node}.{ns}.svc.cluster.local") } } } }),
        );
        let address = handle.serve_node_echo_on(mesh, node, host).await.unwrap();
        backends.push(Backend {
            namespace: ns.clone(),
            name: node.into(),
            address,
            target_port: Some(8080),
            // The gRPC node speaks h2c, as App Mesh spoke HTTP/2 to it.
            h2c: node == "cart",
        });
    }
    let to = |targets: &[(&str, i64)]| {
        json!({ "weightedTargets": targets.iter()
            .map(|(node, weight)| json!({ "virtualNode": node, "weight": weight }))
            .collect::<Vec<_>>() })
    };
    // (router, its routes, the gateway route's prefix)
    let routers = [
        (
            "split-90-10",
            vec![(
                "split",
                json!({ "httpRoute": { "match": { "prefix": "/" },
                    "action": to(&[("blue", 90), ("green", 10)]) } }),
            )],
            "/a/",
        ),
        (
            "split-50-50",
            vec![(
                "split",
                json!({ "httpRoute": { "match": { "prefix": "/" },
                    "action": to(&[("blue", 50), ("green", 50)]) } }),
            )],
            "/b/",
        ),
        (
            "matched",
            vec![
                (
                    "canary",
                    json!({ "priority": 0, "httpRoute": { "match": { "prefix": "/",
                        "headers": [{ "name": "x-canary", "match": { "exact": "yes" } }] },
                        "action": to(&[("green", 1)]) } }),
                ),
                (
                    "api",
                    json!({ "httpRoute": { "match": { "prefix": "/v1/" },
                        "action": to(&[("api", 1)]) } }),
                ),
                (
                    "rest",
                    json!({ "httpRoute": { "match": { "prefix": "/" },
                        "action": to(&[("blue", 1)]) } }),
                ),
            ],
            "/c/",
        ),
        (
            "slow",
            vec![(
                "bounded",
                json!({ "httpRoute": { "match": { "prefix": "/" },
                    "action": to(&[("api", 1)]),
                    "timeout": { "perRequest": { "unit": "ms", "value": 300 },
                        "idle": { "unit": "s", "value": 30 } } } }),
            )],
            "/d/",
        ),
        (
            "retried",
            vec![(
                "once-more",
                json!({ "httpRoute": { "match": { "prefix": "/" },
                    "action": to(&[("flaky", 1)]),
                    "retryPolicy": { "maxRetries": 1,
                        "perRetryTimeout": { "unit": "s", "value": 2 },
                        "httpRetryEvents": ["gateway-error"] } } }),
            )],
            "/e/",
        ),
    ];
    for (router, routes, prefix) in &routers {
        ok(
            "CreateVirtualRouter",
            json!({ "meshName": mesh, "virtualRouterName": router, "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        );
        for (name, spec) in routes {
            ok(
                "CreateRoute",
                json!({ "meshName": mesh, "virtualRouterName": router, "routeName": name,
                        "spec": spec }),
            );
        }
        let service = format!("{router}.{mesh}.local");
        ok(
            "CreateVirtualService",
            json!({ "meshName": mesh, "virtualServiceName": service,
                    "spec": { "provider": { "virtualRouter": { "virtualRouterName": router } } } }),
        );
        ok(
            "CreateGatewayRoute",
            json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "gatewayRouteName": router,
                    "spec": { "httpRoute": { "match": { "prefix": prefix },
                        "action": { "target": { "virtualService": {
                            "virtualServiceName": service } } } } } }),
        );
    }
    // A gRPC router whose route bounds each call to 300 ms, behind a grpc gateway route (its
    // :authority rewrite off, which a GRPCRoute could not make).
    ok(
        "CreateVirtualRouter",
        json!({ "meshName": mesh, "virtualRouterName": "grpc-slow", "spec": {
            "listeners": [{ "portMapping": { "port": 8080, "protocol": "grpc" } }] } }),
    );
    ok(
        "CreateRoute",
        json!({ "meshName": mesh, "virtualRouterName": "grpc-slow", "routeName": "bounded",
                "spec": { "grpcRoute": { "match": { "serviceName": "shop.Cart" },
                    "action": to(&[("cart", 1)]),
                    "timeout": { "perRequest": { "unit": "ms", "value": 300 } } } } }),
    );
    ok(
        "CreateVirtualService",
        json!({ "meshName": mesh, "virtualServiceName": "grpc-slow.routers.local",
                "spec": { "provider": { "virtualRouter": { "virtualRouterName": "grpc-slow" } } } }),
    );
    ok(
        "CreateGatewayRoute",
        json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "gatewayRouteName": "grpc-slow",
                "spec": { "grpcRoute": { "match": { "serviceName": "shop.Cart" },
                    "action": { "target": { "virtualService": {
                        "virtualServiceName": "grpc-slow.routers.local" } },
                        "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } } } } }),
    );
    let served = handle.serve_gateway(mesh, GATEWAY).await.unwrap();
    let listener_at = |p: u16| served.iter().find(|s| s.port == p).unwrap().address;
    let app_mesh = listener_at(port);
    let app_mesh_grpc = listener_at(grpc_port);

    // What the mesh holds, as a user moves it: import from App Mesh's API, then export.
    let meshroute = Path::new(env!("CARGO_BIN_EXE_meshroute"));
    let endpoint = handle.endpoint();
    let mut env = vec![("MESHROUTE_APPMESH_ENDPOINT", endpoint.as_str())];
    env.extend(meshroute_testbed::AWS_TEST_ENV);
    let (ok_import, imported, progress) = run_program(
        meshroute,
        &["import", "--mesh", mesh, "--namespace", &ns],
        &env,
        None,
    );
    assert!(ok_import, "import: {progress}");
    let dir = plane.dir().join("traffic");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("routers.yaml");
    std::fs::write(&file, &imported).unwrap();
    let port_text = port.to_string();
    let (ok_export, exported, report) = run_program(
        meshroute,
        &[
            "export",
            "gateway-api",
            "-f",
            file.to_str().unwrap(),
            "-n",
            &ns,
            "--gateway-class",
            CLASS,
            "--gateway-port",
            &port_text,
            "--report",
            "json",
        ],
        &[],
        None,
    );
    assert!(ok_export, "export: {report}");
    let report: Value = serde_json::from_str(report.lines().last().unwrap()).unwrap();
    let codes: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["object"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (ok_apply, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&exported));
    assert!(ok_apply, "{out}{err}\n{exported}");
    apply_backends(&backends);
    drop((held, held_grpc));
    let traefik =
        meshroute_testbed::Traefik::start(&plane.kubeconfig, &[port, grpc_port], plane.dir())
            .unwrap_or_else(|e| panic!("start Traefik: {e}"));
    wait_accepted(std::slice::from_ref(&ns));
    let gateway_api = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    let probe = |path: &str, headers: &[(&str, &str)]| Probe {
        method: "GET",
        path: path.to_string(),
        host: "www.example.com".into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        listener: 0,
    };
    while !matches!(
        send(gateway_api, Proto::Http, &probe("/c/x", &[])),
        Outcome::Reached { .. }
    ) {
        assert!(Instant::now() < deadline, "Traefik never served the routes");
        std::thread::sleep(Duration::from_millis(200));
    }

    // What docs/migration.md counts: a row per router.
    let mut table = String::from(
        "| router | requests through each gateway | same node, path and Host | different, announced (codes) | different, the implementation's gap | different, unannounced |\n|---|---|---|---|---|---|\n",
    );
    // The shares of each split over 2000 requests, through each gateway: within 3 points of
    // the weights, and of each other.
    const N: usize = 2000;
    for (path, green) in [("/a/x", 10.0), ("/b/x", 50.0)] {
        let mut measured = Vec::new();
        for (side, at) in [("App Mesh", app_mesh), ("Gateway API", gateway_api)] {
            let counts =
                meshroute_testbed::traffic::shares(at, path, &[], "x-echo-virtual-node", N);
            assert_eq!(
                counts.values().sum::<usize>(),
                N,
                "{side} {path}: {counts:?}"
            );
            let share = 100.0 * counts.get("green").copied().unwrap_or(0) as f64 / N as f64;
            eprintln!("{side} {path}: {counts:?} (green {share:.1}%)");
            assert!(
                (share - green).abs() <= 3.0,
                "{side} {path}: green took {share:.1}%, weight {green}%"
            );
            measured.push(share);
        }
        assert!(
            (measured[0] - measured[1]).abs() <= 3.0,
            "{path}: {measured:?}"
        );
        let router = if green == 10.0 {
            "split-90-10"
        } else {
            "split-50-50"
        };
        table.push_str(&format!(
            "| {router} | {N} | each node's share within 3 points of its weight, and of the other gateway's | 0 | 0 | 0 |\n"
        ));
    }

    // Matches behind the gateway route: the same node, path and Host through both, or a
    // difference a finding of the route announces.
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let rows: [(&str, Headers, Option<&str>); 4] = [
        ("/c/x", &[], None),
        ("/c/v1/x", &[], None),
        ("/c/x", &[("x-canary", "yes")], None),
        // The canary route comes first in App Mesh (priority 0); Gateway API ranks the longer
        // prefix of the api route higher.
        ("/c/v1/x", &[("x-canary", "yes")], Some("router-uncomposed")),
    ];
    let (mut same, mut announced_n) = (0, 0);
    for (path, headers, announced) in rows {
        same += usize::from(announced.is_none());
        announced_n += usize::from(announced.is_some());
        let p = probe(path, headers);
        let (a, g) = (
            send(app_mesh, Proto::Http, &p),
            send(gateway_api, Proto::Http, &p),
        );
        assert!(matches!(a, Outcome::Reached { .. }), "{path}: App Mesh {a}");
        match announced {
            None => assert_eq!(a, g, "{path} {headers:?}"),
            Some(code) => {
                assert_ne!(a, g, "{path} {headers:?}: expected to differ");
                assert!(
                    codes.contains(&("matched".to_string(), code.to_string())),
                    "{path}: {code} not reported: {codes:?}"
                );
            }
        }
    }
    let (a, g) = (
        send(app_mesh, Proto::Http, &probe("/c/v1/x", &[])),
        send(gateway_api, Proto::Http, &probe("/c/v1/x", &[])),
    );
    assert_eq!(
        a,
        Outcome::Reached {
            service: "virtualNode/api".into(),
            path: "/v1/x".into(),
            host: format!("matched.{mesh}.local"),
        }
    );
    assert_eq!(a, g);
    same += 1;

    // The per-request timeout: App Mesh answers 504 when the node is slower than 300 ms. The
    // export writes it as `timeouts.request: 300ms`; Traefik v3.7 does not implement
    // HTTPRouteRule.timeouts (an Extended feature: nothing in its Gateway API provider reads
    // the field), so it waits for the node: Traefik's gap, not the export's.
    let slow = probe("/d/x", &[(appmesh_emulator::ECHO_DELAY_HEADER, "1000")]);
    assert_eq!(send(app_mesh, Proto::Http, &slow), Outcome::Status(504));
    assert!(exported.contains("request: \"300ms\""), "{exported}");
    assert!(matches!(
        send(gateway_api, Proto::Http, &slow),
        Outcome::Reached { .. }
    ));
    // A retry policy: the node fails every second request. Through Traefik first, then App
    // Mesh: the first pair both succeed (App Mesh's try fails and its retry succeeds); in the
    // second, Traefik's request is the one that fails and App Mesh's succeeds, as `retry-dropped`
    // announces.
    let flaky = probe("/e/x", &[(appmesh_emulator::ECHO_FAIL_EVERY_HEADER, "2")]);
    let mut retried = (0, 0);
    for _ in 0..2 {
        let g = send(gateway_api, Proto::Http, &flaky);
        let a = send(app_mesh, Proto::Http, &flaky);
        assert!(
            matches!(a, Outcome::Reached { .. }),
            "App Mesh retried: {a}"
        );
        if a == g {
            retried.0 += 1;
        } else {
            assert_eq!(g, Outcome::Status(503));
            assert!(codes.contains(&("retried".to_string(), "retry-dropped".to_string())));
            retried.1 += 1;
        }
    }
    assert_eq!(retried, (1, 1));
    // The gRPC router: a quick call alike through both; a slow one App Mesh ends after 300 ms
    // (504, which a gRPC client reads as UNAVAILABLE), which the GRPCRoute cannot say, as
    // `timeout-dropped` announces.
    let gateway_api_grpc = SocketAddr::from(([127, 0, 0, 1], grpc_port));
    let call = probe("/shop.Cart/Add", &[]);
    let (a, g) = (
        send(app_mesh_grpc, Proto::Grpc, &call),
        send(gateway_api_grpc, Proto::Grpc, &call),
    );
    assert!(
        matches!(a, Outcome::Reached { .. }),
        "gRPC through App Mesh: {a}"
    );
    assert_eq!(a, g, "a quick gRPC call");
    let slow_call = probe(
        "/shop.Cart/Add",
        &[(appmesh_emulator::ECHO_DELAY_HEADER, "1000")],
    );
    let (a, g) = (
        send(app_mesh_grpc, Proto::Grpc, &slow_call),
        send(gateway_api_grpc, Proto::Grpc, &slow_call),
    );
    assert_eq!(a, Outcome::GrpcStatus(14), "App Mesh's timeout");
    assert!(matches!(g, Outcome::Reached { .. }), "Traefik: {g}");
    assert!(
        codes.contains(&("grpc-slow".to_string(), "timeout-dropped".to_string())),
        "timeout-dropped not reported: {codes:?}"
    );
    // What no request here shows, reported all the same.
    for (route, code) in [
        ("slow", "idle-timeout-dropped"),
        ("retried", "node-settings-dropped"),
    ] {
        assert!(
            codes.contains(&(route.to_string(), code.to_string())),
            "{route}: {code} not reported: {codes:?}"
        );
    }
    // verify, live, on the routes as imported, listener by listener, App Mesh's gateway as the
    // reference: every difference it finds is one its offline run predicted (a split's nodes
    // answer with the same path and Host, so a split is alike).
    for (protocol, at, reference) in [
        ("http", gateway_api, app_mesh),
        ("grpc", gateway_api_grpc, app_mesh_grpc),
    ] {
        let (at, reference) = (format!("http://{at}"), format!("http://{reference}"));
        let args = [
            "verify",
            "-f",
            file.to_str().unwrap(),
            "-n",
            &ns,
            "--gateway-port",
            &port_text,
            "--protocol",
            protocol,
            "--gateway",
            &at,
            "--reference",
            &reference,
            "--no-body",
            "--rps",
            "100",
            "--report",
            "json",
        ];
        let (ok, out, err) = run_program(meshroute, &args, &[], None);
        assert!(ok, "verify --gateway ({protocol}): {out}{err}");
        let live: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        let summary = &live["summary"];
        eprintln!("verify --gateway on the routers ({protocol}): {summary}");
        assert!(summary["requests"].as_u64().unwrap() > 0, "{live}");
        assert_eq!(summary["sent"], summary["requests"], "{live}");
        assert_eq!(summary["failed"], 0, "{live}");
        assert_eq!(summary["differentUnpredicted"], 0, "{live}");
    }
    drop(traefik);
    table.push_str(&format!(
        "| retried | 2 | {} | {} (`retry-dropped`) | 0 | 0 |\n",
        retried.0, retried.1
    ));
    table.push_str(&format!(
        "| matched | {} | {same} | {announced_n} (`router-uncomposed`) | 0 | 0 |\n",
        rows.len() + 1
    ));
    table.push_str(
        "| slow | 1 | 0 | 0 | 1 (Traefik v3.7 has no HTTPRouteRule.timeouts: 504 through App Mesh, the slow node's answer through Traefik) | 0 |\n",
    );
    table.push_str("| grpc-slow | 2 | 1 | 1 (`timeout-dropped`) | 0 | 0 |\n");
    check_block(ROUTERS_BEGIN, ROUTERS_END, &table);
}
