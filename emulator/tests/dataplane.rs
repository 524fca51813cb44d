//! The gateway data plane carries requests: curl sends HTTP/1.1, h2c and gRPC calls through a
//! served virtual gateway to the emulator's loopback echo backends, which report the virtual
//! service, path, Host and protocol they saw.

use std::process::Command;

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
