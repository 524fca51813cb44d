//! On and off App Mesh, as a user runs it: `meshroute import | kubectl apply -f -` adopts routes
//! made out of band without changing them, and `meshroute export gateway-api` output is
//! accepted by the real Gateway API CRDs (schemas and CEL) on the test apiserver.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Bed, install_gateway_api, reason, run, run_program};

const MESH: &str = meshroute_testbed::MESH;
const GATEWAY: &str = meshroute_testbed::GATEWAY;
const SERVICE: &str = "myservicea.svc.cluster.local";

fn meshroute() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_meshroute"))
}

/// `meshroute <args>` against this test's emulator; (success, stdout, stderr).
fn meshroute_cli(bed: &Bed, args: &[&str]) -> (bool, String, String) {
    let endpoint = bed.emulator.endpoint();
    let mut env = vec![("MESHROUTE_APPMESH_ENDPOINT", endpoint.as_str())];
    env.extend(meshroute_testbed::AWS_TEST_ENV);
    run_program(&meshroute(), args, &env, None)
}

fn target() -> Value {
    json!({ "virtualService": { "virtualServiceName": SERVICE } })
}

/// Routes of every kind, made out of band as a boto3 user would (same request shapes), with
/// names Kubernetes cannot use as they are.
fn out_of_band_routes() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            GATEWAY,
            "Web.Route_1",
            json!({ "priority": 5, "httpRoute": {
            "match": { "prefix": "/web", "method": "GET",
                "headers": [
                    { "name": "x-exact", "match": { "exact": "a" } },
                    { "name": "x-regex", "match": { "regex": "v[0-9]+" } },
                    { "name": "x-prefix", "match": { "prefix": "pre" } },
                    { "name": "x-suffix", "match": { "suffix": "suf" } },
                    { "name": "x-range", "match": { "range": { "start": 1, "end": 9 } } },
                    { "name": "x-not", "invert": true, "match": { "exact": "no" } } ],
                "queryParameters": [ { "name": "q", "match": { "exact": "1" } } ],
                "hostname": { "exact": "shop.example.com" } },
            "action": { "target": target(),
                "rewrite": { "prefix": { "value": "/v2/" }, "hostname": { "defaultTargetHostname": "DISABLED" } } } } }),
        ),
        (
            GATEWAY,
            "UPPER",
            json!({ "http2Route": {
            "match": { "path": { "exact": "/exact" } },
            "action": { "target": { "virtualService": { "virtualServiceName": SERVICE }, "port": 8080 },
                "rewrite": { "path": { "exact": "/new" } } } } }),
        ),
        (
            GATEWAY,
            "dots.and_underscores",
            json!({ "httpRoute": {
            "match": { "path": { "regex": "/r/[a-z]+" }, "hostname": { "suffix": ".example.com" } },
            "action": { "target": target() } } }),
        ),
        (
            GATEWAY,
            "grpc",
            json!({ "priority": 0, "grpcRoute": {
            "match": { "serviceName": "echo.v1.Echo",
                "metadata": [ { "name": "tenant", "match": { "exact": "a" } },
                              { "name": "zone", "invert": false, "match": { "prefix": "eu-" } } ] },
            "action": { "target": { "virtualService": { "virtualServiceName": "grpc-echo.svc.cluster.local" } },
                "rewrite": { "hostname": { "defaultTargetHostname": "ENABLED" } } } } }),
        ),
        (
            "edge.gw",
            "web",
            json!({ "httpRoute": {
            "match": { "prefix": "/" }, "action": { "target": target() } } }),
        ),
        (
            GATEWAY,
            "web",
            json!({ "httpRoute": {
            "match": { "prefix": "/w/" }, "action": { "target": target() } } }),
        ),
    ]
}

fn versions(bed: &Bed) -> BTreeMap<String, i64> {
    let mut all = BTreeMap::new();
    for gateway in [GATEWAY, "edge.gw"] {
        let out = bed
            .emulator
            .emulator
            .invoke(
                "ListGatewayRoutes",
                &json!({ "meshName": MESH, "virtualGatewayName": gateway, "limit": 100 }),
            )
            .unwrap();
        for r in out["gatewayRoutes"].as_array().unwrap() {
            all.insert(
                format!("{gateway}/{}", r["gatewayRouteName"].as_str().unwrap()),
                r["version"].as_i64().unwrap(),
            );
        }
    }
    all
}

/// Gives every GatewayRoute of the test's namespace its label, so its operator sees them.
fn label_all(bed: &Bed) {
    let label = bed.label();
    let args = [
        "label",
        "gatewayroutes",
        "--all",
        "-n",
        &bed.ns,
        &label,
        "--overwrite",
    ];
    let (ok, out, err) = run("kubectl", &args, None);
    assert!(ok, "kubectl label: {out}{err}");
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_adopts_existing_routes_in_place_and_a_second_import_finds_nothing() {
    let mut bed = Bed::new("import").await;
    let am = &bed.emulator.emulator;
    am.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": MESH, "virtualGatewayName": "edge.gw",
                 "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
    )
    .unwrap();
    for (gateway, name, spec) in out_of_band_routes() {
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": MESH, "virtualGatewayName": gateway, "gatewayRouteName": name,
                     "spec": spec, "tags": [{ "key": "team", "value": "shop" }] }),
        )
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    }
    // A route a meshroute object already owns: listed, never emitted.
    let operator = bed.operator(&[]);
    bed.create(&bed.route(
        "managed",
        json!({ "meshName": MESH, "virtualGatewayName": GATEWAY,
                "httpRoute": { "match": { "prefix": "/managed" }, "action": { "target": target() } } }),
    ))
    .await;
    bed.wait_ready("managed", &operator).await;
    let before = versions(&bed);
    let creates = bed.calls_of("CreateGatewayRoute");

    let (ok, manifests, progress) =
        meshroute_cli(&bed, &["import", "--mesh", MESH, "--namespace", &bed.ns]);
    assert!(ok, "import failed: {progress}");
    assert!(
        progress.contains("7 gateway routes on 2 virtual gateways"),
        "{progress}"
    );
    let docs = documents(&manifests);
    assert_eq!(docs.len(), 6, "{manifests}");
    assert!(
        manifests.contains(&format!(
            "# {MESH}/{GATEWAY}/{}: owned by GatewayRoute {}/managed",
            bed.mesh_name("managed"),
            bed.ns
        )),
        "{manifests}"
    );
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    // Valid names kept; others mapped with a hash; one name on two gateways told apart.
    assert!(
        names.contains(&"grpc") && names.contains(&"edge.gw-web"),
        "{names:?}"
    );
    for prefix in [
        "web.route-1-",
        "upper-",
        "dots.and-underscores-",
        "myvirtualgateway-web-",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "{prefix}: {names:?}"
        );
    }
    for doc in &docs {
        assert_eq!(
            doc["metadata"]["annotations"]["meshroute.io/adopt"], "true",
            "{doc}"
        );
        assert_eq!(
            doc["spec"]["tags"],
            json!([{ "key": "team", "value": "shop" }]),
            "{doc}"
        );
    }

    // Apply as a user would, then give the objects this test's label so its operator sees them.
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&manifests));
    assert!(ok, "kubectl apply: {out}{err}");
    label_all(&bed);
    for name in &names {
        let route = bed.wait_ready(name, &operator).await;
        assert!(
            matches!(reason(&route), Some("Adopted" | "Synced")),
            "{name}: {:?}",
            route.status
        );
    }
    assert_eq!(versions(&bed), before, "adoption changed an App Mesh route");
    assert_eq!(
        bed.calls_of("CreateGatewayRoute"),
        creates,
        "adoption created a route"
    );
    assert_eq!(
        bed.calls_of("UpdateGatewayRoute"),
        0,
        "adoption updated a route"
    );
    let (_, _, web) = out_of_band_routes().remove(0);
    let adopted = bed.emulator.emulator.invoke(
        "DescribeGatewayRoute",
        &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": "Web.Route_1" }),
    ).unwrap();
    let tags = bed.tags_of(&adopted);
    assert_eq!(tags.get("team").map(String::as_str), Some("shop"));
    assert_eq!(tags.get("meshroute.io/namespace"), Some(&bed.ns));
    assert_eq!(adopted["spec"]["priority"], web["priority"]);

    // Everything is owned now: nothing adoptable, in either output format.
    let (ok, again, _) = meshroute_cli(&bed, &["import", "--mesh", MESH]);
    assert!(ok);
    assert!(documents(&again).is_empty(), "{again}");
    assert_eq!(
        again
            .lines()
            .filter(|l| l.contains(": owned by GatewayRoute"))
            .count(),
        7,
        "{again}"
    );
    let (ok, json_out, notes) = meshroute_cli(
        &bed,
        &[
            "import",
            "--mesh",
            MESH,
            "--virtual-gateway",
            "edge.gw",
            "-o",
            "json",
        ],
    );
    assert!(ok);
    let list: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"], json!([]));
    assert!(notes.contains("edge.gw/web: owned by"), "{notes}");
}

/// A corpus of valid GatewayRoutes over every mapping row, some Gateway API cannot express.
fn corpus(ns: &str) -> Vec<Value> {
    let header_kinds = [
        json!({ "exact": "a" }),
        json!({ "regex": "^[a-z]+$" }),
        json!({ "prefix": "p.*+" }),
        json!({ "suffix": "$s" }),
        Value::Null,
        json!({ "range": { "start": 0, "end": 10 } }),
    ];
    let mut routes = Vec::new();
    for i in 0..48usize {
        let kind = ["httpRoute", "http2Route", "grpcRoute"][i % 3];
        let mut m = serde_json::Map::new();
        let header = |n: usize| {
            let mut h = json!({ "name": format!("x-h{n}") });
            // A range (which Gateway API cannot say) on every third use of that kind only.
            let kind = if n % 6 == 5 && n % 18 != 5 { 0 } else { n % 6 };
            if !header_kinds[kind].is_null() {
                h["match"] = header_kinds[kind].clone();
            }
            if n % 17 == 7 {
                h["invert"] = json!(true);
            }
            h
        };
        let headers: Vec<Value> = (0..(i % 4)).map(|k| header(i + k)).collect();
        if kind == "grpcRoute" {
            if i % 2 == 0 {
                m.insert("serviceName".into(), json!(format!("pkg.v{i}.Service_{i}")));
            }
            if !headers.is_empty() {
                m.insert("metadata".into(), json!(headers));
            }
        } else {
            match i % 4 {
                0 => m.insert("prefix".into(), json!(format!("/p{i}"))),
                1 => m.insert("prefix".into(), json!("/")),
                2 => m.insert("path".into(), json!({ "exact": format!("/e/{i}") })),
                _ => m.insert("path".into(), json!({ "regex": format!("/r{i}/.*") })),
            };
            if !headers.is_empty() {
                m.insert("headers".into(), json!(headers));
            }
            if i % 5 == 0 {
                m.insert("method".into(), json!("PUT"));
                m.insert(
                    "queryParameters".into(),
                    json!([{ "name": "a" }, { "name": "b", "match": { "exact": "1" } }]),
                );
            }
        }
        match i % 6 {
            1 => m.insert(
                "hostname".into(),
                json!({ "exact": format!("h{i}.example.com") }),
            ),
            2 => m.insert("hostname".into(), json!({ "suffix": ".example.org" })),
            3 => m.insert("hostname".into(), json!({ "suffix": "example.net" })),
            _ => None,
        };
        if kind == "grpcRoute" && m.is_empty() {
            m.insert("hostname".into(), json!({ "exact": "grpc.example.com" }));
        }
        if i % 7 == 3 {
            m.insert("port".into(), json!(8081));
        }
        let service = [
            "myservicea.svc.cluster.local",
            "api.billing.svc.cluster.local",
            "web",
        ][i % 3];
        let mut action =
            json!({ "target": { "virtualService": { "virtualServiceName": service } } });
        if i % 4 == 1 {
            action["target"]["port"] = json!(8080 + i);
        }
        if kind != "grpcRoute" {
            match i % 8 {
                0 => action["rewrite"] = json!({ "prefix": { "value": "/v2/" } }),
                4 => {
                    action["rewrite"] = json!({ "prefix": { "defaultPrefix": "DISABLED" }, "hostname": { "defaultTargetHostname": "DISABLED" } })
                }
                2 => action["rewrite"] = json!({ "path": { "exact": "/rewritten" } }),
                _ => {}
            }
        } else if i % 2 == 1 {
            action["rewrite"] = json!({ "hostname": { "defaultTargetHostname": "DISABLED" } });
        }
        let gateway = ["gw-a", "Gw_B"][i % 2];
        let mut spec = json!({ "meshName": MESH, "virtualGatewayName": gateway });
        spec[kind] = json!({ "match": m, "action": action });
        if i % 3 == 0 {
            spec["priority"] = json!(1000 - i);
        }
        let mut route = json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": format!("corpus-{i}"), "namespace": ns },
            "spec": spec,
        });
        if kind == "httpRoute" && i % 8 == 3 {
            // A virtual router behind the target, as import records it: weights, a timeout,
            // a header canary (weighted backendRefs and timeouts.request for the CRDs to judge).
            let node = |name: &str| {
                json!({ "provider": format!("virtualNode/{name}"),
                        "dnsHostname": format!("{name}.{ns}.svc.cluster.local"), "port": 8080 })
            };
            let record = json!({ "provider": "virtualRouter/web", "port": 8080,
                "routes": [
                    { "name": "canary", "spec": { "priority": 0, "httpRoute": {
                        "match": { "prefix": "/", "headers": [
                            { "name": "x-canary", "match": { "exact": "yes" } }] },
                        "action": { "weightedTargets": [{ "virtualNode": "green", "weight": 1 }] } } } },
                    { "name": "split", "spec": { "httpRoute": { "match": { "prefix": "/" },
                        "action": { "weightedTargets": [
                            { "virtualNode": "blue", "weight": 90 },
                            { "virtualNode": "green", "weight": 10 }] },
                        "timeout": { "perRequest": { "unit": "ms", "value": 1500 } } } } }],
                "nodes": { "blue": node("blue"), "green": node("green") } });
            route["metadata"]["annotations"] =
                json!({ "meshroute.io/app-mesh-backend": record.to_string() });
        }
        routes.push(route);
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_routes_are_accepted_by_the_gateway_api_crds() {
    install_gateway_api();
    let bed = Bed::new("export").await;
    // The corpus goes through the GatewayRoute CRD first, so only valid GatewayRoutes are
    // exported; export then reads them from the cluster, as a user runs it.
    let corpus = corpus(&bed.ns);
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": corpus });
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&list.to_string()));
    assert!(ok, "the corpus is not valid GatewayRoutes: {out}{err}");
    let (ok, exported, report) = meshroute_cli(
        &bed,
        &[
            "export",
            "gateway-api",
            "-n",
            &bed.ns,
            "--gateway-class",
            "test",
            "--report",
            "json",
        ],
    );
    assert!(ok, "export failed: {report}");
    let report: Value =
        serde_json::from_str(report.trim()).unwrap_or_else(|e| panic!("{e}: {report}"));
    let docs = documents(&exported);
    let routes: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "HTTPRoute" || d["kind"] == "GRPCRoute")
        .collect();
    let dropped = report["summary"]["notExported"].as_u64().unwrap() as usize;
    assert_eq!(
        routes.len() + dropped,
        corpus.len(),
        "every route is exported or reported"
    );
    assert!(
        dropped > 0 && routes.len() >= 36,
        "{dropped} dropped of {}: {report}",
        corpus.len()
    );
    for finding in report["findings"].as_array().unwrap() {
        if finding["impact"] == "notExported" {
            let name = finding["object"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            assert!(
                routes.iter().all(|r| r["metadata"]["name"] != name),
                "{name} was reported as not exported but printed"
            );
        }
    }
    // The router-backed routes: weighted backendRefs and a request timeout the CRDs took.
    let routed: Vec<&&Value> = routes
        .iter()
        .filter(|r| ["corpus-3", "corpus-27"].contains(&r["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert!(!routed.is_empty(), "no router-backed route was exported");
    for route in routed {
        let rules = route["spec"]["rules"].as_array().unwrap();
        let split = rules.last().unwrap();
        let weights: Vec<&Value> = split["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| &b["weight"])
            .collect();
        assert_eq!(weights, [&json!(90), &json!(10)], "{route}");
        assert_eq!(split["timeouts"]["request"], "1s500ms", "{route}");
        assert_eq!(rules.len(), 2, "the canary's rule and the split's: {route}");
    }
    assert_eq!(docs.iter().filter(|d| d["kind"] == "Gateway").count(), 2);
    // Backends in other namespaces come with the ReferenceGrants they need, in those namespaces
    // (created here, as the Services' namespaces would exist).
    let grants: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ReferenceGrant")
        .collect();
    let crossing = routes
        .iter()
        .flat_map(|r| {
            r["spec"]["rules"][0]["backendRefs"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|b| b["namespace"].as_str())
        .collect::<std::collections::BTreeSet<_>>();
    let granted: std::collections::BTreeSet<&str> = grants
        .iter()
        .map(|g| g["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        granted, crossing,
        "a ReferenceGrant in each namespace routes send to"
    );
    for ns in &granted {
        let _ = run("kubectl", &["create", "namespace", ns], None);
    }
    // Applied for real: every object passes the Gateway API schemas and CEL rules.
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&exported));
    assert!(
        ok,
        "Gateway API refused the export: {err}\n{out}\n{exported}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(" created")).count(),
        docs.len(),
        "{out}"
    );

    // For the VPC Lattice controller: only what it takes is printed (no URLRewrite, no regex
    // paths, query or non-exact header matches), and it still passes the Gateway API CRDs.
    let (ok, lattice, report) = meshroute_cli(
        &bed,
        &[
            "export",
            "gateway-api",
            "-n",
            &bed.ns,
            "--target",
            "lattice",
            "--report",
            "json",
        ],
    );
    assert!(ok, "export --target lattice: {report}");
    let lattice_docs = documents(&lattice);
    for doc in lattice_docs.iter().filter(|d| d["kind"] == "HTTPRoute") {
        let rule = &doc["spec"]["rules"][0];
        assert!(rule.get("filters").is_none(), "{doc}");
        let path = rule["matches"][0]["path"]["type"]
            .as_str()
            .unwrap_or("PathPrefix");
        assert!(path == "PathPrefix" || path == "Exact", "{doc}");
        assert!(rule["matches"][0].get("queryParams").is_none(), "{doc}");
    }
    assert!(report.contains("lattice-service-per-route"), "{report}");
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&lattice));
    assert!(ok, "Gateway API refused the Lattice export: {err}\n{out}");

    // Every example, from the directory as kubectl apply -f reads it; strict refuses what
    // changes behaviour and prints nothing.
    let dir = meshroute_testbed::repo_root().join("examples");
    let dir = dir.to_string_lossy().to_string();
    let mut args = vec![
        "export",
        "gateway-api",
        "-n",
        &bed.ns,
        "--report",
        "json",
        "-f",
        &dir,
    ];
    let example_routes: usize = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            documents(&std::fs::read_to_string(e.unwrap().path()).unwrap())
                .iter()
                .filter(|d| d["kind"] == "GatewayRoute")
                .count()
        })
        .sum();
    let (ok, exported, report) = meshroute_cli(&bed, &args);
    assert!(ok, "{report}");
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    let docs = documents(&exported);
    let dropped = report["summary"]["notExported"].as_u64().unwrap() as usize;
    assert_eq!(docs.len() + dropped, example_routes, "{report}");
    assert!(!docs.is_empty());
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&exported));
    assert!(ok, "Gateway API refused the examples: {err}\n{out}");
    args.push("--strict");
    let (ok, strict_out, strict_err) = meshroute_cli(&bed, &args);
    assert!(!ok && strict_out.is_empty(), "{strict_out}");
    assert!(strict_err.contains("--strict"), "{strict_err}");

    // Once a team has reviewed the kinds of finding that change behaviour and accepts them,
    // --strict passes and prints the objects; the report still lists them, as accepted.
    let losses: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["impact"] != "check")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(!losses.is_empty(), "{report}");
    let accepted = losses.into_iter().collect::<Vec<_>>().join(",");
    let mut accepting = args.clone();
    accepting.extend(["--accept", &accepted]);
    let (ok, out, err) = meshroute_cli(&bed, &accepting);
    assert!(ok, "--strict with --accept {accepted}: {err}");
    assert_eq!(documents(&out).len(), docs.len());
    let report: Value = serde_json::from_str(err.trim()).unwrap();
    assert!(
        report["summary"]["accepted"].as_u64().unwrap() > 0,
        "{report}"
    );
    let mut unknown = args.clone();
    unknown.extend(["--accept", "no-such-code"]);
    let (ok, _, err) = meshroute_cli(&bed, &unknown);
    assert!(!ok && err.contains("prefix-segments"), "{err}");
}

/// Two meshes whose virtual gateways and routes share names (as AWS's color examples do):
/// imported into one namespace, every route keeps an object of its own; exported, each mesh's
/// routes attach to that mesh's own Gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meshes_that_share_names_stay_apart_through_import_and_export() {
    let mut bed = Bed::new("two-meshes").await;
    let am = &bed.emulator.emulator;
    let meshes = ["color-east", "color-west"];
    for mesh in meshes {
        am.invoke("CreateMesh", &json!({ "meshName": mesh }))
            .unwrap();
        am.invoke(
            "CreateVirtualGateway",
            &json!({ "meshName": mesh, "virtualGatewayName": "colorgateway-vg",
                     "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        )
        .unwrap();
        am.invoke(
            "CreateVirtualService",
            &json!({ "meshName": mesh, "virtualServiceName": "colorteller.color.svc.cluster.local",
                     "spec": {} }),
        )
        .unwrap();
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": mesh, "virtualGatewayName": "colorgateway-vg",
                     "gatewayRouteName": "color",
                     "spec": { "httpRoute": { "match": { "prefix": "/color" }, "action": {
                        "target": { "virtualService": {
                            "virtualServiceName": "colorteller.color.svc.cluster.local" } } } } } }),
        )
        .unwrap();
    }
    let operator = bed.operator(&[]);
    let mut names = Vec::new();
    for mesh in meshes {
        let (ok, manifests, progress) =
            meshroute_cli(&bed, &["import", "--mesh", mesh, "--namespace", &bed.ns]);
        assert!(ok, "import {mesh}: {progress}");
        let docs = documents(&manifests);
        assert_eq!(docs.len(), 1, "{manifests}");
        names.push(docs[0]["metadata"]["name"].as_str().unwrap().to_string());
        let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&manifests));
        assert!(ok, "kubectl apply ({mesh}): {out}{err}");
    }
    assert_eq!(
        names,
        ["color", "color-west-color"],
        "the second mesh's name"
    );
    label_all(&bed);
    for name in &names {
        bed.wait_ready(name, &operator).await;
    }
    let api = bed.api();
    for (name, mesh) in names.iter().zip(meshes) {
        assert_eq!(api.get(name).await.unwrap().spec.mesh_name, mesh);
    }

    install_gateway_api();
    let (ok, exported, report) = meshroute_cli(
        &bed,
        &[
            "export",
            "gateway-api",
            "-n",
            &bed.ns,
            "--gateway-class",
            "example",
        ],
    );
    assert!(ok, "export: {report}");
    let docs = documents(&exported);
    let gateways: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Gateway")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        gateways,
        ["color-east-colorgateway-vg", "color-west-colorgateway-vg"]
    );
    let parents: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "HTTPRoute")
        .map(|d| d["spec"]["parentRefs"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parents,
        ["color-east-colorgateway-vg", "color-west-colorgateway-vg"]
    );
    assert!(!report.contains("same requests"), "{report}");
    // The virtual services name Services in namespace color: one grant lets both routes in.
    let grants: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ReferenceGrant")
        .collect();
    assert_eq!(grants.len(), 1, "{exported}");
    assert_eq!(grants[0]["metadata"]["namespace"], "color");
    let _ = run("kubectl", &["create", "namespace", "color"], None);
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&exported));
    assert!(
        ok,
        "Gateway API refused the export: {err}\n{out}\n{exported}"
    );
}

/// Routes App Mesh holds although its documentation says otherwise (a match on the listener
/// port alone, a prefix without `/`) are imported as manifests the CRD accepts, and adopted
/// with no App Mesh write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_app_mesh_accepts_are_imported_and_adopted() {
    let mut bed = Bed::new("accepts").await;
    let am = &bed.emulator.emulator;
    am.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": MESH, "virtualGatewayName": "listeners",
                 "spec": { "listeners": [
                    { "portMapping": { "port": 8080, "protocol": "http" } },
                    { "portMapping": { "port": 8081, "protocol": "http2" } },
                    { "portMapping": { "port": 8082, "protocol": "grpc" } }] } }),
    )
    .unwrap();
    let action = json!({ "target": target() });
    for (name, spec) in [
        (
            "by-port-http",
            json!({ "httpRoute": { "match": { "port": 8080 }, "action": action } }),
        ),
        (
            "by-port-http2",
            json!({ "http2Route": { "match": { "port": 8081 }, "action": action } }),
        ),
        (
            "by-port-grpc",
            json!({ "grpcRoute": { "match": { "port": 8082 }, "action": action } }),
        ),
        (
            "slashless",
            json!({ "httpRoute": { "match": { "prefix": "testPrefix" }, "action": action } }),
        ),
    ] {
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": MESH, "virtualGatewayName": "listeners",
                     "gatewayRouteName": name, "spec": spec }),
        )
        .unwrap_or_else(|e| panic!("App Mesh refused {name}: {e:?}"));
    }
    let operator = bed.operator(&[]);
    let creates = bed.calls_of("CreateGatewayRoute");
    let (ok, manifests, progress) = meshroute_cli(
        &bed,
        &[
            "import",
            "--mesh",
            MESH,
            "--virtual-gateway",
            "listeners",
            "--namespace",
            &bed.ns,
        ],
    );
    assert!(ok, "import: {progress}");
    let docs = documents(&manifests);
    assert_eq!(docs.len(), 4, "{manifests}");
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&manifests));
    assert!(ok, "the CRD refused what import printed: {out}{err}");
    label_all(&bed);
    for doc in &docs {
        bed.wait_ready(doc["metadata"]["name"].as_str().unwrap(), &operator)
            .await;
    }
    let counters = bed.emulator.emulator.counters();
    assert_eq!(bed.calls_of("CreateGatewayRoute"), creates, "{counters}");
    assert_eq!(
        bed.calls_of("UpdateGatewayRoute"),
        0,
        "adoption changed a route: {counters}"
    );
}

/// Deletes cluster-scoped objects of a test when dropped, even when the test fails.
struct ClusterScoped(Vec<String>);

impl Drop for ClusterScoped {
    fn drop(&mut self) {
        let mut args = vec!["delete", "--ignore-not-found", "--wait=false"];
        args.extend(self.0.iter().map(String::as_str));
        let _ = run("kubectl", &args, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_skips_with_the_reason_what_the_cluster_would_refuse() {
    let bed = Bed::new("refused").await;
    let am = &bed.emulator.emulator;
    for (name, prefix) in [("kept", "/kept/"), ("legacy", "/legacy/")] {
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": name,
                     "spec": { "httpRoute": { "match": { "prefix": prefix },
                               "action": { "target": target() } } } }),
        )
        .unwrap();
    }
    // An admission policy of the cluster's refuses one of them, as a platform team's might.
    let policy = format!("no-legacy-{}", bed.ns);
    let _cleanup = ClusterScoped(vec![
        format!("validatingadmissionpolicy/{policy}"),
        format!("validatingadmissionpolicybinding/{policy}"),
    ]);
    let manifests = json!({ "apiVersion": "v1", "kind": "List", "items": [
        { "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
          "metadata": { "name": policy },
          "spec": { "failurePolicy": "Fail",
            "matchConstraints": { "resourceRules": [{ "apiGroups": ["meshroute.io"],
              "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": ["gatewayroutes"] }] },
            "validations": [{ "message": "routes under /legacy/ are retired",
              "expression": "!has(object.spec.httpRoute) || !has(object.spec.httpRoute.match.prefix) || !object.spec.httpRoute.match.prefix.startsWith('/legacy')" }] } },
        { "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
          "metadata": { "name": policy },
          "spec": { "policyName": policy, "validationActions": ["Deny"],
            "matchResources": { "namespaceSelector": { "matchLabels": {
              "kubernetes.io/metadata.name": bed.ns } } } } }
    ] });
    let (ok, out, err) = run(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&manifests.to_string()),
    );
    assert!(ok, "{out}{err}");
    // The apiserver compiles a new policy within a moment: wait until it refuses.
    let probe = json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": "probe", "namespace": bed.ns },
        "spec": { "meshName": MESH, "virtualGatewayName": GATEWAY, "httpRoute": {
            "match": { "prefix": "/legacy/" }, "action": { "target": target() } } } })
    .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while run(
        "kubectl",
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&probe),
    )
    .0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the admission policy never took effect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let (printed, progress) = imported(&bed, MESH, Some(GATEWAY));
    let docs = documents(&printed);
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept"], "{printed}");
    assert!(
        printed.contains(
            "legacy: skipped: the GatewayRoute CRD or the cluster's admission refuses it"
        ) && printed.contains("routes under /legacy/ are retired"),
        "the skipped route and the cluster's reason are listed:\n{printed}"
    );
    assert!(
        progress.contains("1 to adopt") && progress.contains("1 skipped"),
        "{progress}"
    );
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&printed));
    assert!(ok, "what import printed must apply: {out}{err}");
}

/// `meshroute import --mesh MESH [--virtual-gateway G] --namespace <the test's>`, which must
/// succeed; (printed manifests, progress).
fn imported(bed: &Bed, mesh: &str, gateway: Option<&str>) -> (String, String) {
    let mut args = vec!["import", "--mesh", mesh, "--namespace", &bed.ns];
    if let Some(g) = gateway {
        args.extend(["--virtual-gateway", g]);
    }
    let (ok, printed, progress) = meshroute_cli(bed, &args);
    assert!(ok, "import: {progress}");
    (printed, progress)
}

/// The export findings of `printed` without, then with, what import recorded from the mesh.
fn without_and_with_records(
    bed: &Bed,
    printed: &str,
    tag: &str,
) -> ((usize, usize, usize), (usize, usize, usize)) {
    let stripped: String = printed
        .lines()
        .filter(|l| !l.contains("meshroute.io/app-mesh-"))
        .map(|l| format!("{l}\n"))
        .collect();
    (
        export_findings(bed, &stripped, &format!("{tag}-before")),
        export_findings(bed, printed, &format!("{tag}-after")),
    )
}

/// (routes read, routes with no finding at all, routes with no backend or port finding) of an
/// export of `manifests` (a YAML stream from import).
fn export_findings(bed: &Bed, manifests: &str, tag: &str) -> (usize, usize, usize) {
    let path = meshroute_testbed::shared()
        .dir()
        .join(format!("{}-{tag}.yaml", bed.ns));
    std::fs::write(&path, manifests).unwrap();
    let (ok, _, report) = meshroute_cli(
        bed,
        &[
            "export",
            "gateway-api",
            "-n",
            &bed.ns,
            "-f",
            path.to_str().unwrap(),
            "--report",
            "json",
        ],
    );
    assert!(ok, "{report}");
    let report: Value = serde_json::from_str(report.lines().last().unwrap()).unwrap();
    let read = report["summary"]["gatewayRoutes"].as_u64().unwrap() as usize;
    let mut any = std::collections::BTreeSet::new();
    let mut backend = std::collections::BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        let object = f["object"].as_str().unwrap().to_string();
        if f["code"].as_str().unwrap().starts_with("backend-") {
            backend.insert(object.clone());
        }
        any.insert(object);
    }
    (read, read - any.len(), read - backend.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_records_what_the_mesh_knows_so_export_assumes_less() {
    let bed = Bed::new("recorded").await;
    let am = &bed.emulator.emulator;
    let node = |name: &str, discovery: Value, port: i64| {
        am.invoke(
            "CreateVirtualNode",
            &json!({ "meshName": MESH, "virtualNodeName": name, "spec": {
                "listeners": [{ "portMapping": { "port": port, "protocol": "http" } }],
                "serviceDiscovery": discovery } }),
        )
        .unwrap();
    };
    let service = |name: &str, provider: Value| {
        am.invoke(
            "CreateVirtualService",
            &json!({ "meshName": MESH, "virtualServiceName": name, "spec": { "provider": provider } }),
        )
        .unwrap();
    };
    // The names public App Mesh examples use: a cluster DNS name without a namespace, names in a
    // private domain, a Cloud Map service, and a virtual router in front of nodes.
    let styles: [(&str, Value, i64); 4] = [
        (
            "colorteller",
            json!({ "dns": { "hostname": "colorteller.color.svc.cluster.local" } }),
            9080,
        ),
        (
            "catalog",
            json!({ "dns": { "hostname": "catalog.shop.svc" } }),
            8080,
        ),
        (
            "orders",
            json!({ "awsCloudMap": { "namespaceName": "shop.local", "serviceName": "orders" } }),
            8080,
        ),
        (
            "backend",
            json!({ "dns": { "hostname": "backend.apps.svc.cluster.local" } }),
            3000,
        ),
    ];
    for (name, discovery, port) in &styles {
        node(name, discovery.clone(), *port);
    }
    am.invoke(
        "CreateVirtualRouter",
        &json!({ "meshName": MESH, "virtualRouterName": "backend-router", "spec": {
            "listeners": [{ "portMapping": { "port": 3000, "protocol": "http" } }] } }),
    )
    .unwrap();
    service(
        "colorteller.svc.cluster.local",
        json!({ "virtualNode": { "virtualNodeName": "colorteller" } }),
    );
    service(
        "catalog.shop.local",
        json!({ "virtualNode": { "virtualNodeName": "catalog" } }),
    );
    service(
        "orders.shop.local",
        json!({ "virtualNode": { "virtualNodeName": "orders" } }),
    );
    service(
        "backend.apps.local",
        json!({ "virtualRouter": { "virtualRouterName": "backend-router" } }),
    );
    // The router's route, as App Mesh holds it: weights, a timeout, a retry policy.
    let router_route = json!({ "priority": 3, "httpRoute": { "match": { "prefix": "/" },
        "action": { "weightedTargets": [
            { "virtualNode": "backend", "weight": 80 },
            { "virtualNode": "catalog", "weight": 20, "port": 8080 }] },
        "timeout": { "perRequest": { "unit": "ms", "value": 800 } },
        "retryPolicy": { "maxRetries": 1, "perRetryTimeout": { "unit": "ms", "value": 300 },
                         "httpRetryEvents": ["gateway-error"] } } });
    am.invoke(
        "CreateRoute",
        &json!({ "meshName": MESH, "virtualRouterName": "backend-router",
                 "routeName": "split", "spec": router_route }),
    )
    .unwrap();
    let targets = [
        "colorteller.svc.cluster.local",
        "catalog.shop.local",
        "orders.shop.local",
        "backend.apps.local",
    ];
    let mut created = 0;
    for i in 0..40 {
        let target = targets[i % targets.len()];
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY,
                     "gatewayRouteName": format!("generated-{i}"),
                     "spec": { "httpRoute": { "match": { "path": { "exact": format!("/r/{i}") } },
                               "action": { "target": { "virtualService": { "virtualServiceName": target } } } } } }),
        )
        .unwrap();
        created += 1;
    }
    let (printed, _) = imported(&bed, MESH, Some(GATEWAY));
    let docs = documents(&printed);
    assert_eq!(docs.len(), created, "{printed}");
    let first = &docs[0]["metadata"]["annotations"];
    assert_eq!(
        first["meshroute.io/app-mesh-listeners"], "http:8080,http2:8081,grpc:8082",
        "{first}"
    );
    // A route to the router-backed service records the router's route as App Mesh gave it,
    // and what each node it targets stands for.
    let routed = docs
        .iter()
        .find(|d| {
            d["spec"]["httpRoute"]["action"]["target"]["virtualService"]["virtualServiceName"]
                == "backend.apps.local"
        })
        .expect("a route to backend.apps.local");
    let recorded: Value = serde_json::from_str(
        routed["metadata"]["annotations"]["meshroute.io/app-mesh-backend"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["provider"], "virtualRouter/backend-router");
    assert_eq!(
        recorded["routes"],
        json!([{ "name": "split", "spec": router_route }])
    );
    assert_eq!(
        recorded["nodes"]["catalog"]["dnsHostname"], "catalog.shop.svc",
        "{recorded}"
    );
    assert_eq!(recorded["nodes"]["backend"]["port"], 3000, "{recorded}");
    let (before, after) = without_and_with_records(&bed, &printed, "generated");
    eprintln!(
        "generated corpus, {} routes: no finding {} -> {}; no backend finding {} -> {}",
        before.0, before.1, after.1, before.2, after.2
    );
    // The Cloud Map service (a quarter of the routes) stays unknown: it names no Service, and
    // the report says what it is. The router's route splits between two nodes whose DNS
    // names name Services: weighted backendRefs.
    assert_eq!(after.2, created * 3 / 4, "{after:?}");
    assert_eq!(before.2, 0, "{before:?}");
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&printed));
    assert!(ok, "{out}{err}");

    // The examples, in a mesh of their own whose virtual services virtual nodes with cluster
    // DNS names provide.
    let mesh = "examples";
    am.invoke("CreateMesh", &json!({ "meshName": mesh }))
        .unwrap();
    am.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": mesh, "virtualGatewayName": GATEWAY, "spec": { "listeners": [
            { "portMapping": { "port": 8080, "protocol": "http" } },
            { "portMapping": { "port": 8081, "protocol": "http2" } },
            { "portMapping": { "port": 8082, "protocol": "grpc" } }] } }),
    )
    .unwrap();
    for vs in meshroute_testbed::SERVICES {
        let short = vs.split('.').next().unwrap();
        am.invoke(
            "CreateVirtualNode",
            &json!({ "meshName": mesh, "virtualNodeName": short, "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }],
                "serviceDiscovery": { "dns": { "hostname": format!("{short}.apps.svc.cluster.local") } } } }),
        )
        .unwrap();
        am.invoke(
            "CreateVirtualService",
            &json!({ "meshName": mesh, "virtualServiceName": vs,
                     "spec": { "provider": { "virtualNode": { "virtualNodeName": short } } } }),
        )
        .unwrap();
    }
    let mut examples = 0;
    for entry in std::fs::read_dir(meshroute_testbed::repo_root().join("examples")).unwrap() {
        let object: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                .unwrap();
        let spec = &object["spec"];
        let mut app_mesh = serde_json::Map::new();
        for field in ["priority", "httpRoute", "http2Route", "grpcRoute"] {
            if !spec[field].is_null() {
                app_mesh.insert(field.into(), spec[field].clone());
            }
        }
        am.invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": mesh, "virtualGatewayName": GATEWAY,
                     "gatewayRouteName": object["metadata"]["name"], "spec": app_mesh }),
        )
        .unwrap();
        examples += 1;
    }
    let (printed, _) = imported(&bed, mesh, None);
    let (before, after) = without_and_with_records(&bed, &printed, "examples");
    eprintln!(
        "examples, {} routes: no finding {} -> {}; no backend finding {} -> {}",
        before.0, before.1, after.1, before.2, after.2
    );
    assert_eq!(after.0, examples);
    assert_eq!(
        after.2, examples,
        "every example's backend resolves: {after:?}"
    );
    assert!(before.2 < examples, "{before:?}");
}
