//! The gateway data plane carries requests: curl sends HTTP/1.1, h2c and gRPC calls through a
//! served virtual gateway to the emulator's loopback echo backends, which report the virtual
//! service (or node), path, Host and protocol they saw; a virtual router behind a virtual service
//! matches again, splits by weight, times out and retries.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

const MESH: &str = "apps";
const GATEWAY: &str = "edge";

/// curl with `args`; returns (HTTP status, response headers and body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl is needed for this test ({e}); install it (make tools)"));
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn route(emulator: &appmesh_emulator::Emulator, name: &str, spec: Value) {
    emulator
        .invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": name,
                     "spec": spec }),
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

fn target(service: &str) -> Value {
    json!({ "target": { "virtualService": { "virtualServiceName": service } } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_the_backend_app_mesh_would_send_them_to() {
    let handle = appmesh_emulator::spawn(appmesh_emulator::Settings::default(), 0).unwrap();
    let e = &handle.emulator;
    e.invoke("CreateMesh", &json!({ "meshName": MESH }))
        .unwrap();
    e.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "spec": { "listeners": [
            { "portMapping": { "port": 8080, "protocol": "http" } },
            { "portMapping": { "port": 8081, "protocol": "http2" } },
            { "portMapping": { "port": 8082, "protocol": "grpc" } }] } }),
    )
    .unwrap();
    for service in [
        "web.apps.local",
        "api.apps.local",
        "echo.apps.local",
        "dark.apps.local",
    ] {
        e.invoke(
            "CreateVirtualService",
            &json!({ "meshName": MESH, "virtualServiceName": service, "spec": {} }),
        )
        .unwrap();
    }
    route(
        e,
        "api",
        json!({ "httpRoute": { "match": { "prefix": "/api/" },
        "action": target("api.apps.local") } }),
    );
    route(
        e,
        "health",
        json!({ "httpRoute": { "match": { "path": { "exact": "/health" } },
        "action": { "target": target("web.apps.local")["target"],
                    "rewrite": { "path": { "exact": "/ready" } } } } }),
    );
    route(
        e,
        "dark",
        json!({ "httpRoute": { "match": { "prefix": "/dark" },
        "action": target("dark.apps.local") } }),
    );
    route(
        e,
        "web2",
        json!({ "http2Route": { "match": { "prefix": "/" },
        "action": { "target": target("web.apps.local")["target"],
                    "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } } } }),
    );
    route(
        e,
        "echo",
        json!({ "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" },
        "action": target("echo.apps.local") } }),
    );
    for service in ["web.apps.local", "api.apps.local", "echo.apps.local"] {
        handle.serve_echo(MESH, service).await.unwrap();
    }
    let served = handle.serve_gateway(MESH, GATEWAY).await.unwrap();
    let at = |port: u16| {
        let listener = served.iter().find(|s| s.port == port).unwrap();
        format!("http://{}", listener.address)
    };

    // HTTP/1.1: the matched prefix becomes /, the Host the virtual service's name.
    let (status, r) = curl(&[&format!("{}/api/users?page=2", at(8080))]);
    assert_eq!(status, 200, "{r}");
    assert_eq!(header(&r, "x-echo-virtual-service"), Some("api.apps.local"));
    assert_eq!(header(&r, "x-echo-path"), Some("/users?page=2"));
    assert_eq!(header(&r, "x-echo-host"), Some("api.apps.local"));
    let (_, r) = curl(&[&format!("{}/health", at(8080))]);
    assert_eq!(header(&r, "x-echo-path"), Some("/ready"), "{r}");
    // Unmatched: 404, as Envoy answers; a virtual service with no backend: 503.
    assert_eq!(curl(&[&format!("{}/nothing", at(8080))]).0, 404);
    assert_eq!(curl(&[&format!("{}/dark/x", at(8080))]).0, 503);
    // An http listener serves httpRoutes only: the grpc service is not routed there.
    assert_eq!(curl(&[&format!("{}/echo.v1.Echo/Say", at(8080))]).0, 404);

    // h2c on the http2 listener, the Host rewrite disabled.
    let (status, r) = curl(&["--http2-prior-knowledge", &format!("{}/any/path", at(8081))]);
    assert_eq!(status, 200, "{r}");
    assert!(r.contains("\"protocol\":\"HTTP/2.0\""), "{r}");
    assert_eq!(header(&r, "x-echo-path"), Some("/any/path"));
    assert_eq!(
        header(&r, "x-echo-host"),
        Some(&at(8081)["http://".len()..])
    );

    // A gRPC call (an empty message: a 5-byte frame header) on the grpc listener.
    let frame = std::env::temp_dir().join(format!("grpc-frame-{}", std::process::id()));
    std::fs::write(&frame, [0u8; 5]).unwrap();
    let data = format!("@{}", frame.display());
    let (status, r) = curl(&[
        "--http2-prior-knowledge",
        "-X",
        "POST",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "--data-binary",
        &data,
        &format!("{}/echo.v1.Echo/Say", at(8082)),
    ]);
    std::fs::remove_file(&frame).unwrap();
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        header(&r, "x-echo-virtual-service"),
        Some("echo.apps.local")
    );
    assert_eq!(header(&r, "x-echo-host"), Some("echo.apps.local"));
    // A call no route takes: Envoy's gRPC answer, HTTP 200 with grpc-status 12 (UNIMPLEMENTED)
    // in the only HEADERS frame (trailers only), not a bare 404.
    let (status, r) = curl(&[
        "--http2-prior-knowledge",
        "-X",
        "POST",
        "-H",
        "content-type: application/grpc",
        &format!("{}/other.v1.Svc/Say", at(8082)),
    ]);
    assert_eq!(status, 200, "{r}");
    assert_eq!(header(&r, "grpc-status"), Some("12"), "{r}");
    assert_eq!(header(&r, "content-type"), Some("application/grpc"), "{r}");

    // Routes are read at each request: a new one serves at once, a deleted one no more.
    route(
        e,
        "late",
        json!({ "httpRoute": { "match": { "prefix": "/late" },
        "action": target("web.apps.local") } }),
    );
    assert_eq!(curl(&[&format!("{}/late", at(8080))]).0, 200);
    e.invoke(
        "DeleteGatewayRoute",
        &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": "late" }),
    )
    .unwrap();
    assert_eq!(curl(&[&format!("{}/late", at(8080))]).0, 404);
}

/// One request on `sender`'s connection: (status, the header `name`).
async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    path: &str,
    headers: &[(&str, &str)],
    name: &str,
) -> (u16, Option<String>) {
    let mut req = http::Request::get(path).header("host", "gateway.example.com");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    sender.ready().await.unwrap();
    let response = sender
        .send_request(req.body(http_body_util::Empty::new()).unwrap())
        .await
        .unwrap();
    let value = response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string());
    let status = response.status().as_u16();
    // The body is read whole: the connection takes no other request before.
    http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap();
    (status, value)
}

async fn connect(
    address: std::net::SocketAddr,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// A backend that answers 503 to its first `failures` requests and 200 after; counts them.
async fn flaky(failures: usize) -> (std::net::SocketAddr, std::sync::Arc<AtomicUsize>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = socket.accept().await.unwrap();
            let seen = counted.clone();
            tokio::spawn(async move {
                let answer = hyper::service::service_fn(move |_req| {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let status = if n < failures { 503 } else { 200 };
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .status(status)
                                .body(http_body_util::Empty::<bytes::Bytes>::new())
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), answer)
                    .await;
            });
        }
    });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_router_matches_again_splits_by_weight_times_out_and_retries() {
    let handle = appmesh_emulator::spawn(appmesh_emulator::Settings::default(), 0).unwrap();
    let e = &handle.emulator;
    let ok = |op: &str, input: Value| {
        e.invoke(op, &input)
            .unwrap_or_else(|err| panic!("{op} {input}: {err:?}"));
    };
    ok("CreateMesh", json!({ "meshName": MESH }));
    ok(
        "CreateVirtualGateway",
        json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "spec": { "listeners": [
            { "portMapping": { "port": 8080, "protocol": "http" } }] } }),
    );
    for node in ["blue", "green", "api", "flaky", "fragile"] {
        ok(
            "CreateVirtualNode",
            json!({ "meshName": MESH, "virtualNodeName": node, "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }],
                "serviceDiscovery": { "dns": { "hostname": format!("{node}.apps.svc") } } } }),
        );
    }
    ok(
        "CreateVirtualRouter",
        json!({ "meshName": MESH, "virtualRouterName": "web", "spec": {
            "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
    );
    let route = |name: &str, spec: Value| {
        ok(
            "CreateRoute",
            json!({ "meshName": MESH, "virtualRouterName": "web", "routeName": name,
                    "spec": spec }),
        );
    };
    let to = |targets: Value| json!({ "weightedTargets": targets });
    route(
        "split",
        json!({ "httpRoute": { "match": { "prefix": "/" }, "action": to(json!([
            { "virtualNode": "blue", "weight": 90 }, { "virtualNode": "green", "weight": 10 }])) } }),
    );
    // Below the gateway route's prefix: matched on the path the gateway's rewrite produced.
    route(
        "api",
        json!({ "httpRoute": { "match": { "prefix": "/v1/" },
            "action": to(json!([{ "virtualNode": "api", "weight": 1 }])),
            "timeout": { "perRequest": { "unit": "ms", "value": 300 } } } }),
    );
    route(
        "canary",
        json!({ "priority": 0, "httpRoute": { "match": { "prefix": "/",
            "headers": [{ "name": "x-canary", "match": { "exact": "yes" } }] },
            "action": to(json!([{ "virtualNode": "green", "weight": 1 }])) } }),
    );
    let retry = |retries: u64| {
        json!({ "maxRetries": retries, "perRetryTimeout": { "unit": "s", "value": 2 },
                "httpRetryEvents": ["gateway-error"] })
    };
    route(
        "flaky",
        json!({ "httpRoute": { "match": { "prefix": "/flaky" },
            "action": to(json!([{ "virtualNode": "flaky", "weight": 1 }])),
            "retryPolicy": retry(2) } }),
    );
    route(
        "fragile",
        json!({ "httpRoute": { "match": { "prefix": "/fragile" },
            "action": to(json!([{ "virtualNode": "fragile", "weight": 1 }])),
            "retryPolicy": retry(1) } }),
    );
    ok(
        "CreateVirtualService",
        json!({ "meshName": MESH, "virtualServiceName": "web.apps.local",
                "spec": { "provider": { "virtualRouter": { "virtualRouterName": "web" } } } }),
    );
    route_to_web(e);
    let host = handle.addr.ip();
    for node in ["blue", "green", "api"] {
        handle.serve_node_echo_on(MESH, node, host).await.unwrap();
    }
    let (flaky_at, flaky_seen) = flaky(2).await;
    e.set_node_backend(MESH, "flaky", flaky_at);
    let (fragile_at, fragile_seen) = flaky(2).await;
    e.set_node_backend(MESH, "fragile", fragile_at);
    let served = handle.serve_gateway(MESH, GATEWAY).await.unwrap();
    let mut sender = connect(served[0].address).await;

    // 10 000 requests on the 90/10 split: each node's share within 2 points of its weight.
    let mut green = 0;
    for _ in 0..10_000 {
        let (status, node) = send(&mut sender, "/web/x", &[], "x-echo-virtual-node").await;
        assert_eq!(status, 200);
        green += usize::from(node.as_deref() == Some("green"));
    }
    let share = green as f64 / 100.0;
    assert!(
        (8.0..=12.0).contains(&share),
        "green took {share}% of 10 000"
    );

    // The router matched on the rewritten path (/web/v1/x became /v1/x), and a header route of
    // priority 0 before every other.
    let (_, node) = send(&mut sender, "/web/v1/x", &[], "x-echo-virtual-node").await;
    assert_eq!(node.as_deref(), Some("api"));
    let (_, path) = send(&mut sender, "/web/v1/x", &[], "x-echo-path").await;
    assert_eq!(path.as_deref(), Some("/v1/x"));
    let canary = [("x-canary", "yes")];
    let (_, node) = send(&mut sender, "/web/v1/x", &canary, "x-echo-virtual-node").await;
    assert_eq!(node.as_deref(), Some("green"));

    // The api route's 300 ms per-request timeout: a backend 2 s slow is answered 504 in time.
    let started = std::time::Instant::now();
    let slow = [(appmesh_emulator::ECHO_DELAY_HEADER, "2000")];
    let (status, _) = send(&mut sender, "/web/v1/x", &slow, "x-echo-virtual-node").await;
    assert_eq!(status, 504);
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));

    // Retries on gateway errors: two 503s then a 200 within two retries; one retry is not
    // enough for the same backend, whose second 503 is the answer.
    let (status, _) = send(&mut sender, "/web/flaky", &[], "x").await;
    assert_eq!((status, flaky_seen.load(Ordering::SeqCst)), (200, 3));
    let (status, _) = send(&mut sender, "/web/fragile", &[], "x").await;
    assert_eq!((status, fragile_seen.load(Ordering::SeqCst)), (503, 2));
}

/// The gateway route in front of the router: prefix /web/, App Mesh's default rewrites.
fn route_to_web(e: &appmesh_emulator::Emulator) {
    route(
        e,
        "web",
        json!({ "httpRoute": { "match": { "prefix": "/web/" },
        "action": target("web.apps.local") } }),
    );
}
