//! `meshroute import -f` end to end, a format at a time: the fixture imported, the output
//! applied to the test bed and every route made Ready by the operator against the emulator.
//! App Mesh holds none of these routes now, so the emulator starts with only the mesh around
//! them (gateways, services, nodes, routers), created from what the same input says, and the
//! operator creates each route with exactly the spec `import` printed.

mod support;

use std::path::PathBuf;

use meshroute::api::GatewayRoute;
use meshroute::migrate::input::{self, Inventory, Kind};
use meshroute_testbed::traffic::{Outcome, Probe, Proto, get, send};
use serde_json::{Value, json};
use support::traffic::{Backend, apply_backends};
use support::{Bed, install_gateway_api, run, run_program};

const CLASS: &str = "meshroute-import";

fn fixture(format: &str, case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/import/{format}/{case}/input"))
}

/// `meshroute import -f` of a fixture into the bed's namespace, as a user runs it (the
/// cluster is there: names are checked against it and the manifests dry-run), each labelled
/// for the bed's operator.
fn imported(bed: &Bed, format: &str, case: &str, set: &[&str]) -> Vec<GatewayRoute> {
    let dir = fixture(format, case).display().to_string();
    let mut args = vec!["import", "-f", &dir, "-n", &bed.ns];
    for s in set {
        args.extend(["--set", s]);
    }
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_meshroute"));
    let (ok, out, err) = run_program(binary, &args, &[], None);
    assert!(ok, "{format}: import failed: {err}");
    let routes: Vec<GatewayRoute> = serde_saphyr::from_multiple::<Value>(&out)
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|mut v| {
            v["metadata"]["labels"] = json!({ "meshroute-test": bed.ns });
            serde_json::from_value(v).unwrap()
        })
        .collect();
    assert!(!routes.is_empty(), "{format}: nothing imported: {err}");
    routes
}

/// Creates in the emulator what the input says of the mesh around its routes, and a plain
/// virtual service or gateway for any the routes name that the input does not describe.
fn seed(bed: &Bed, inventory: &Inventory) {
    let am = &bed.emulator.emulator;
    let create = |operation: &str, body: Value| {
        if let Err(e) = am.invoke(operation, &body)
            && !format!("{e:?}").contains("Conflict")
        {
            panic!("{operation} {body}: {e:?}");
        }
    };
    let keep = |spec: &Value, fields: &[&str]| {
        let mut out = json!({});
        for field in fields {
            if !spec[field].is_null() {
                out[field] = spec[field].clone();
            }
        }
        out
    };
    let mut meshes: Vec<&str> = inventory
        .resources
        .keys()
        .map(|(_, m, _)| m.as_str())
        .collect();
    meshes.extend(
        inventory
            .routes
            .iter()
            .filter_map(|f| f.route.as_ref().ok())
            .map(|r| r.key.mesh.as_str()),
    );
    for mesh in meshes {
        create("CreateMesh", json!({ "meshName": mesh }));
    }
    // Providers before the services that name them.
    for wanted in [
        Kind::VirtualNode,
        Kind::VirtualRouter,
        Kind::VirtualService,
        Kind::VirtualGateway,
    ] {
        for ((kind, mesh, name), spec) in &inventory.resources {
            if *kind != wanted {
                continue;
            }
            let (operation, field, spec) = match kind {
                Kind::VirtualNode => (
                    "CreateVirtualNode",
                    "virtualNodeName",
                    keep(spec, &["listeners", "serviceDiscovery"]),
                ),
                Kind::VirtualRouter => (
                    "CreateVirtualRouter",
                    "virtualRouterName",
                    keep(spec, &["listeners"]),
                ),
                Kind::VirtualService => (
                    "CreateVirtualService",
                    "virtualServiceName",
                    keep(spec, &["provider"]),
                ),
                Kind::VirtualGateway => (
                    "CreateVirtualGateway",
                    "virtualGatewayName",
                    keep(spec, &["listeners"]),
                ),
            };
            create(
                operation,
                json!({ "meshName": mesh, field: name, "spec": spec }),
            );
        }
    }
    for route in inventory
        .routes
        .iter()
        .filter_map(|f| f.route.as_ref().ok())
    {
        let mesh = &route.key.mesh;
        create(
            "CreateVirtualGateway",
            json!({ "meshName": mesh, "virtualGatewayName": route.key.gateway, "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        );
        for kind in ["httpRoute", "http2Route", "grpcRoute"] {
            if let Some(service) =
                route.spec[kind]["action"]["target"]["virtualService"]["virtualServiceName"]
                    .as_str()
            {
                create(
                    "CreateVirtualService",
                    json!({ "meshName": mesh, "virtualServiceName": service, "spec": {} }),
                );
            }
        }
    }
}

/// Imports `format`'s fixture into this test's namespace, applies it, and checks every route
/// Ready with App Mesh (the emulator) holding the printed spec. Returns the count.
async fn import_and_apply(format: &str, case: &str, set: &[&str]) -> usize {
    let mut bed = Bed::new(&format!("import-{format}")).await;
    let dir = fixture(format, case);
    let opts = input::Options {
        format: None,
        set: set
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        namespace: Some(bed.ns.clone()),
    };
    seed(&bed, &input::read(std::slice::from_ref(&dir), &opts));
    let routes = imported(&bed, format, case, set);
    for route in &routes {
        bed.create(route).await;
    }
    let operator = bed.operator(&[]);
    for route in &routes {
        let name = route.metadata.name.as_deref().unwrap();
        let ready = bed.wait_ready(name, &operator).await;
        let key = &route.spec;
        let held = bed
            .emulator
            .emulator
            .invoke(
                "DescribeGatewayRoute",
                &json!({ "meshName": key.mesh_name, "virtualGatewayName": key.virtual_gateway_name,
                         "gatewayRouteName": key.gateway_route_name }),
            )
            .unwrap_or_else(|e| panic!("{format}: {name} is not in App Mesh: {e:?}"));
        let printed = serde_json::to_value(&route.spec).unwrap();
        for field in ["priority", "httpRoute", "http2Route", "grpcRoute"] {
            assert_eq!(
                held["spec"][field], printed[field],
                "{format}: {name}'s {field} as App Mesh holds it"
            );
        }
        assert!(
            ready.status.unwrap().arn.is_some(),
            "{format}: {name} has an ARN"
        );
    }
    routes.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_imports_applies_and_is_ready() {
    let mut counts = Vec::new();
    for (format, case, set) in [
        ("appmesh-k8s", "basic", vec![]),
        ("cloudformation", "basic", vec!["AWS::Region=eu-west-1"]),
        ("terraform", "basic", vec![]),
        ("terraform-json", "state", vec![]),
        ("cli-json", "basic", vec![]),
    ] {
        counts.push((format, import_and_apply(format, case, &set).await));
    }
    // `-o json` lists what it skipped beside the items, and kubectl applies the List as it is.
    let dir = fixture("cli-json", "basic").display().to_string();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_meshroute"));
    let (ok, out, err) = run_program(binary, &["import", "-f", &dir, "-o", "json"], &[], None);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{out}");
    let skipped = &list["notPrinted"][0];
    assert!(
        skipped["route"]
            .as_str()
            .unwrap()
            .contains("list-gateway-routes.json:3")
            && skipped["skipped"]
                .as_str()
                .unwrap()
                .contains("holds no spec"),
        "{out}"
    );
    let (ok, applied, err) = run(
        "kubectl",
        &["apply", "--dry-run=server", "-n", "default", "-f", "-"],
        Some(&out),
    );
    assert!(
        ok && applied.matches("created (server dry run)").count() == 2,
        "{applied}{err}"
    );
    eprintln!("Ready after import: {counts:?}");
    assert_eq!(
        counts,
        [
            ("appmesh-k8s", 2),
            ("cloudformation", 2),
            ("terraform", 4),
            ("terraform-json", 1),
            ("cli-json", 2)
        ]
    );
}

/// One format's case on the Gateway API backend: which fixture, the Services its routes'
/// virtual services stand for (namespace, "" for the routes' own; name; h2c), the request sent
/// through Traefik, and the path it must reach the first Service with.
struct Served {
    format: &'static str,
    case: &'static str,
    set: &'static [&'static str],
    services: &'static [(&'static str, &'static str, bool)],
    proto: Proto,
    probe: Probe,
    path: &'static str,
}

/// The same imports served by Traefik: each format's output applied with every virtual gateway
/// of mesh `apps` on Gateway API (`--serve apps/*=gateway-api:NS/gw`), and a request through
/// Traefik reaches the Service the route's virtual service stands for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_per_format_is_served_by_gateway_api_through_traefik() {
    install_gateway_api();
    let host = meshroute_testbed::host_address().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        Served {
            format: "appmesh-k8s",
            case: "basic",
            set: &[],
            services: &[("shop", "web-v1", false), ("shop", "api", true)],
            proto: Proto::Http,
            probe: get("/web/cart"),
            path: "/cart",
        },
        Served {
            format: "cloudformation",
            case: "basic",
            set: &["AWS::Region=eu-west-1"],
            services: &[("prod", "web", false), ("prod", "orders", true)],
            proto: Proto::Http,
            probe: get("/web/cart").host("www.example.com"),
            path: "/cart",
        },
        Served {
            format: "terraform",
            case: "services",
            set: &[],
            services: &[("shop", "web-v1", false)],
            proto: Proto::Http,
            probe: get("/web/cart"),
            path: "/cart",
        },
        Served {
            format: "terraform-json",
            case: "state",
            set: &[],
            services: &[("shop", "cart", false)],
            proto: Proto::Http,
            probe: get("/cart/x").header("x-tier", "gold"),
            path: "/x",
        },
        Served {
            format: "cli-json",
            case: "basic",
            set: &[],
            services: &[("", "myservicea", false), ("", "orders", true)],
            proto: Proto::Http2,
            probe: get("/any/path"),
            path: "/any/path",
        },
    ];
    let ports = meshroute_testbed::free_ports::<5>().unwrap();
    let (ok, out, err) = run(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&meshroute_testbed::gateway_api::gateway_class(CLASS).to_string()),
    );
    assert!(ok, "{out}{err}");
    let plane = meshroute_testbed::shared();
    let _traefik = meshroute_testbed::Traefik::start(&plane.kubeconfig, &ports, plane.dir())
        .unwrap_or_else(|e| panic!("start Traefik: {e}"));
    for (case, port) in cases.iter().zip(ports) {
        let mut bed = Bed::new(&format!("served-{}", case.format)).await;
        let ns = bed.ns.clone();
        let in_ns = |service_ns: &'static str| {
            if service_ns.is_empty() {
                ns.clone()
            } else {
                service_ns.to_string()
            }
        };
        let service_ns = in_ns(case.services[0].0);
        let mut objects = vec![
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": service_ns } }),
            json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": { "name": "gw", "namespace": ns },
                    "spec": { "gatewayClassName": CLASS, "listeners": [
                        { "name": "http", "protocol": "HTTP", "port": port }] } }),
        ];
        if service_ns != ns {
            // The routes refer to a Service in another namespace: that namespace's owner allows
            // it, as Gateway API asks (the backend does not write ReferenceGrants).
            objects.push(json!({
                "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": { "name": format!("from-{ns}"), "namespace": service_ns },
                "spec": { "from": [
                    { "group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": ns },
                    { "group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "namespace": ns }],
                          "to": [{ "group": "", "kind": "Service" }] } }));
        }
        let list = json!({ "apiVersion": "v1", "kind": "List", "items": objects });
        let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&list.to_string()));
        assert!(ok, "{out}{err}");
        let mut backends = Vec::new();
        for (service_ns, name, h2c) in case.services {
            let service_ns = in_ns(service_ns);
            let identity = format!("{service_ns}/{name}");
            let echo = bed
                .emulator
                .serve_echo_on("apps", &identity, host)
                .await
                .unwrap();
            backends.push(Backend {
                namespace: service_ns,
                name: name.to_string(),
                address: echo,
                target_port: Some(8080),
                h2c: *h2c,
            });
        }
        apply_backends(&backends);
        let identity = format!("{service_ns}/{}", case.services[0].1);
        let routes = imported(&bed, case.format, case.case, case.set);
        for route in &routes {
            bed.create(route).await;
        }
        // `run` maps as `export` does, with the same flags: the CLI JSON case's virtual
        // service names no port, and the service map gives it (it would be 80 otherwise).
        let map = plane.dir().join(format!("service-map-{ns}.yaml"));
        std::fs::write(
            &map,
            format!(
                "myservicea.svc.cluster.local: {{name: myservicea, namespace: {ns}, port: 8080}}\n"
            ),
        )
        .unwrap();
        let serve = format!("apps/*=gateway-api:{ns}/gw");
        let map = map.display().to_string();
        let operator = bed.operator(&["--serve", &serve, "--service-map", &map]);
        for route in &routes {
            bed.wait_ready(route.metadata.name.as_deref().unwrap(), &operator)
                .await;
        }
        // `kubectl get gwr -o wide` says which backend serves each route.
        let (ok, wide, err) = run("kubectl", &["get", "gwr", "-n", &ns, "-o", "wide"], None);
        assert!(ok, "{err}");
        assert!(wide.contains("SERVED BY"), "{wide}");
        assert_eq!(
            wide.lines()
                .skip(1)
                .filter(|l| l.contains("Gateway API"))
                .count(),
            routes.len(),
            "{wide}"
        );
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let got = send(to, case.proto, &case.probe);
            match &got {
                Outcome::Reached { service, path, .. }
                    if *service == identity && path == case.path =>
                {
                    break;
                }
                _ if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await
                }
                other => panic!(
                    "{}: {} through Traefik reached {other}, not {identity} {}\n{}",
                    case.format,
                    case.probe.path,
                    case.path,
                    operator.log_tail()
                ),
            }
        }
        if case.format == "cli-json" {
            let (ok, out, err) = run(
                "kubectl",
                &[
                    "get",
                    "httproute",
                    "mygatewayroute-c16f2601",
                    "-n",
                    &ns,
                    "-o",
                    "jsonpath={.spec.rules[0].backendRefs[0].port}",
                ],
                None,
            );
            assert!(ok && out == "8080", "the service map's port: {out}{err}");
        }
        eprintln!(
            "{}: {} through Traefik reached {identity}",
            case.format, case.probe.path
        );
    }
}

/// The official controller's objects read from the cluster: its kinds stored under a stand-in
/// CRD of ours (schemaless; the controller's own CRDs are not needed to hold them), the fixture
/// applied with kubectl, and `import --from-cluster -n shop` prints what `import -f` prints of
/// the same objects, each marked as read from the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_cluster_reads_the_official_controllers_objects() {
    let _bed = Bed::new("from-cluster").await;
    let kinds = [
        ("Mesh", "meshes", "Cluster"),
        ("VirtualGateway", "virtualgateways", "Namespaced"),
        ("GatewayRoute", "gatewayroutes", "Namespaced"),
        ("VirtualService", "virtualservices", "Namespaced"),
        ("VirtualNode", "virtualnodes", "Namespaced"),
        ("VirtualRouter", "virtualrouters", "Namespaced"),
    ];
    let crds: Vec<Value> = kinds
        .iter()
        .map(|(kind, plural, scope)| {
            json!({ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": { "name": format!("{plural}.appmesh.k8s.aws") },
                "spec": { "group": "appmesh.k8s.aws", "scope": scope,
                    "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                               "listKind": format!("{kind}List") },
                    "versions": [{ "name": "v1beta2", "served": true, "storage": true,
                        "schema": { "openAPIV3Schema": { "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true } } }] } })
        })
        .collect();
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": crds }).to_string();
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&list));
    assert!(ok, "{out}{err}");
    let mut wait = vec![
        "wait".to_string(),
        "--for=condition=Established".into(),
        "--timeout=60s".into(),
    ];
    wait.extend(
        kinds
            .iter()
            .map(|(_, plural, _)| format!("crd/{plural}.appmesh.k8s.aws")),
    );
    let wait: Vec<&str> = wait.iter().map(String::as_str).collect();
    let (ok, out, err) = run("kubectl", &wait, None);
    assert!(ok, "{out}{err}");
    let input = fixture("appmesh-k8s", "basic").join("input.yaml");
    let (ok, out, err) = run(
        "kubectl",
        &["apply", "-f", &input.display().to_string()],
        None,
    );
    assert!(ok, "{out}{err}");

    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_meshroute"));
    let (ok, from_cluster, err) = run_program(
        binary,
        &["import", "--from-cluster", "-n", "shop"],
        &[],
        None,
    );
    assert!(ok, "{err}");
    let (ok, from_files, err) = run_program(
        binary,
        &["import", "-f", &input.display().to_string(), "-n", "shop"],
        &[],
        None,
    );
    assert!(ok, "{err}");
    // The same manifests and the same skipped route, in the cluster's order (by name); only
    // where each was read differs.
    let without_sources = |text: &str| -> Vec<String> {
        let mut documents: Vec<String> = text
            .split("---\n")
            .map(|d| {
                d.lines()
                    .filter(|l| !l.contains("meshroute.io/source") && !l.starts_with('#'))
                    .map(|l| format!("{l}\n"))
                    .collect()
            })
            .collect();
        // What is skipped, by route (the comment names where it was read after the route).
        documents.extend(
            text.lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| l.split(" (").next().unwrap_or(l).to_string()),
        );
        documents.sort();
        documents
    };
    assert_eq!(
        without_sources(&from_cluster),
        without_sources(&from_files),
        "{from_cluster}"
    );
    assert!(
        from_cluster.contains("meshroute.io/source: \"cluster: GatewayRoute shop/web\""),
        "{from_cluster}"
    );
    assert!(from_cluster.contains("# appmesh.k8s.aws GatewayRoute shop/internal (cluster: GatewayRoute shop/internal): skipped"), "{from_cluster}");
    assert!(
        !from_cluster.contains("hunter2"),
        "a Secret's data is never printed"
    );
}
