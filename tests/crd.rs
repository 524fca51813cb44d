//! The GatewayRoute CRD on a real kube-apiserver: examples are accepted, every rule of the App
//! Mesh model is enforced at admission with a message naming the field, and kubectl shows the
//! docs and columns.

use std::process::Command;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

fn gvk_api(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "meshroute.io",
        "v1alpha1",
        "GatewayRoute",
    ));
    Api::namespaced_with(client, ns, &ar)
}

async fn setup(prefix: &str) -> (kube::Client, String) {
    let client = meshroute_testbed::shared()
        .client()
        .await
        .expect("admin client");
    meshroute_testbed::install_crds(&client)
        .await
        .expect("install crds/");
    let ns = meshroute_testbed::namespace(&client, prefix).await.unwrap();
    (client, ns)
}

fn examples() -> Vec<(String, Value)> {
    let dir = meshroute_testbed::repo_root().join("examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let value: Value =
                serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn create(
    api: &Api<DynamicObject>,
    manifest: &Value,
    dry_run: bool,
) -> Result<DynamicObject, kube::Error> {
    let obj: DynamicObject = serde_json::from_value(manifest.clone()).unwrap();
    let pp = PostParams {
        dry_run,
        ..Default::default()
    };
    api.create(&pp, &obj).await
}

#[tokio::test]
async fn every_example_is_accepted() {
    let (client, ns) = setup("examples").await;
    let api = gvk_api(client, &ns);
    let all = examples();
    assert!(
        all.len() >= 4,
        "one example per route kind: {:?}",
        all.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    for (name, manifest) in all {
        create(&api, &manifest, false)
            .await
            .unwrap_or_else(|e| panic!("examples/{name} rejected: {e}"));
    }
}

/// Routes App Mesh holds although its documentation says otherwise are accepted as well: a
/// prefix without `/` (the official controller's integration tests create `testPrefix`) and a
/// match on the listener port alone, for every route kind (AWS's multiple-listeners walkthrough).
#[tokio::test]
async fn what_app_mesh_accepts_is_accepted() {
    let (client, ns) = setup("app-mesh-accepts").await;
    let api = gvk_api(client, &ns);
    let target = json!({ "virtualService": { "virtualServiceName": "svc" } });
    let cases = [
        ("slashless", "httpRoute", json!({ "prefix": "testPrefix" })),
        ("http-port", "httpRoute", json!({ "port": 8080 })),
        ("http2-port", "http2Route", json!({ "port": 8081 })),
        ("grpc-port", "grpcRoute", json!({ "port": 8082 })),
    ];
    for (name, kind, matcher) in cases {
        let manifest = json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name },
            "spec": { "meshName": "apps", "virtualGatewayName": "gw",
                kind: { "match": matcher, "action": { "target": target } } },
        });
        create(&api, &manifest, false)
            .await
            .unwrap_or_else(|e| panic!("{name} rejected: {e}"));
    }
}

/// A valid HTTP route that reaches every nested structure, for mutations to break.
fn http_base() -> Value {
    json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": "base" },
        "spec": {
            "meshName": "apps", "virtualGatewayName": "gw", "gatewayRouteName": "base",
            "meshOwner": "111122223333", "priority": 1,
            "httpRoute": {
                "match": {
                    "prefix": "/api/", "method": "GET", "port": 8080,
                    "hostname": { "exact": "api.example.com" },
                    "headers": [{ "name": "x-canary", "match": { "exact": "true" } }],
                    "queryParameters": [{ "name": "tenant", "match": { "exact": "gold" } }]
                },
                "action": {
                    "target": { "virtualService": { "virtualServiceName": "svc" }, "port": 8080 },
                    "rewrite": { "prefix": { "value": "/v2/" }, "hostname": { "defaultTargetHostname": "DISABLED" } }
                }
            },
            "tags": [{ "key": "team", "value": "edge" }],
            "deletionPolicy": "Delete"
        }
    })
}

fn grpc_base() -> Value {
    let mut v = http_base();
    let spec = v["spec"].as_object_mut().unwrap();
    spec.remove("httpRoute");
    spec.insert(
        "grpcRoute".into(),
        json!({
            "match": { "serviceName": "echo.v1.Echo",
                       "metadata": [{ "name": "x-tenant", "match": { "prefix": "gold-" } }] },
            "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } }
        }),
    );
    v
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = v
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), new);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = new,
        _ => panic!("{pointer} is not in an object or array"),
    }
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
}

fn many(item: Value, n: usize) -> Value {
    Value::Array((0..n).map(|_| item.clone()).collect())
}

/// An edit that breaks one rule of a valid manifest.
type Edit = Box<dyn Fn(&mut Value)>;
type Case = (&'static str, &'static str, Box<dyn Fn() -> Value>);

fn invalid_manifests() -> Vec<Case> {
    let x = |n: usize| "x".repeat(n);
    let http = |f: Edit| -> Box<dyn Fn() -> Value> {
        Box::new(move || {
            let mut v = http_base();
            f(&mut v);
            v
        })
    };
    let grpc = |f: Edit| -> Box<dyn Fn() -> Value> {
        Box::new(move || {
            let mut v = grpc_base();
            f(&mut v);
            v
        })
    };
    let m = "/spec/httpRoute/match";
    let a = "/spec/httpRoute/action";
    vec![
        (
            "meshName empty",
            "spec.meshName",
            http(Box::new(|v| set(v, "/spec/meshName", json!("")))),
        ),
        (
            "meshName too long",
            "spec.meshName",
            http(Box::new(move |v| set(v, "/spec/meshName", json!(x(256))))),
        ),
        (
            "meshName missing",
            "spec.meshName",
            http(Box::new(|v| remove(v, "/spec/meshName"))),
        ),
        (
            "virtualGatewayName empty",
            "spec.virtualGatewayName",
            http(Box::new(|v| set(v, "/spec/virtualGatewayName", json!("")))),
        ),
        (
            "virtualGatewayName too long",
            "spec.virtualGatewayName",
            http(Box::new(move |v| {
                set(v, "/spec/virtualGatewayName", json!(x(256)))
            })),
        ),
        (
            "virtualGatewayName missing",
            "spec.virtualGatewayName",
            http(Box::new(|v| remove(v, "/spec/virtualGatewayName"))),
        ),
        (
            "gatewayRouteName empty",
            "spec.gatewayRouteName",
            http(Box::new(|v| set(v, "/spec/gatewayRouteName", json!("")))),
        ),
        (
            "gatewayRouteName with a slash (not addressable by ARN)",
            "spec.gatewayRouteName",
            http(Box::new(|v| set(v, "/spec/gatewayRouteName", json!("a/b")))),
        ),
        (
            "gatewayRouteName with a space",
            "spec.gatewayRouteName",
            http(Box::new(|v| set(v, "/spec/gatewayRouteName", json!("a b")))),
        ),
        (
            "gatewayRouteName ..",
            "spec.gatewayRouteName",
            http(Box::new(|v| set(v, "/spec/gatewayRouteName", json!("..")))),
        ),
        (
            "reserved prefix /aws-appmesh",
            "spec.httpRoute.match.prefix",
            http(Box::new(|v| {
                set(v, "/spec/httpRoute/match/prefix", json!("/aws-appmesh/x"))
            })),
        ),
        (
            "reserved prefix /aws-app-mesh",
            "spec.httpRoute.match.prefix",
            http(Box::new(|v| {
                set(v, "/spec/httpRoute/match/prefix", json!("/aws-app-mesh"))
            })),
        ),
        (
            "reserved gRPC service name",
            "spec.grpcRoute.match.serviceName",
            grpc(Box::new(|v| {
                set(
                    v,
                    "/spec/grpcRoute/match/serviceName",
                    json!("aws.appmesh.Envoy"),
                )
            })),
        ),
        (
            "gatewayRouteName too long",
            "spec.gatewayRouteName",
            http(Box::new(move |v| {
                set(v, "/spec/gatewayRouteName", json!(x(256)))
            })),
        ),
        (
            "meshOwner 11 digits",
            "spec.meshOwner",
            http(Box::new(|v| {
                set(v, "/spec/meshOwner", json!("11112222333"))
            })),
        ),
        (
            "meshOwner not digits",
            "spec.meshOwner",
            http(Box::new(|v| {
                set(v, "/spec/meshOwner", json!("account12345"))
            })),
        ),
        (
            "priority below 0",
            "spec.priority",
            http(Box::new(|v| set(v, "/spec/priority", json!(-1)))),
        ),
        (
            "priority above 1000",
            "spec.priority",
            http(Box::new(|v| set(v, "/spec/priority", json!(1001)))),
        ),
        (
            "no route kind",
            "spec",
            http(Box::new(|v| remove(v, "/spec/httpRoute"))),
        ),
        (
            "two route kinds",
            "spec",
            http(Box::new(|v| {
                let r = v["spec"]["httpRoute"].clone();
                set(v, "/spec/http2Route", r)
            })),
        ),
        (
            "deletionPolicy unknown",
            "spec.deletionPolicy",
            http(Box::new(|v| set(v, "/spec/deletionPolicy", json!("Keep")))),
        ),
        (
            "match prefix and path",
            "spec.httpRoute.match",
            http(Box::new(move |v| {
                set(v, &format!("{m}/path"), json!({ "exact": "/a" }))
            })),
        ),
        (
            "match empty",
            "spec.httpRoute.match",
            http(Box::new(move |v| set(v, m, json!({})))),
        ),
        (
            "match missing",
            "spec.httpRoute.match",
            http(Box::new(move |v| remove(v, m))),
        ),
        (
            "path exact and regex",
            "spec.httpRoute.match.path",
            http(Box::new(move |v| {
                remove(v, &format!("{m}/prefix"));
                set(
                    v,
                    &format!("{m}/path"),
                    json!({ "exact": "/a", "regex": "a.*" }),
                )
            })),
        ),
        (
            "path empty",
            "spec.httpRoute.match.path",
            http(Box::new(move |v| {
                remove(v, &format!("{m}/prefix"));
                set(v, &format!("{m}/path"), json!({}))
            })),
        ),
        (
            "path exact too long",
            "spec.httpRoute.match.path.exact",
            http(Box::new(move |v| {
                remove(v, &format!("{m}/prefix"));
                set(v, &format!("{m}/path"), json!({ "exact": x(256) }))
            })),
        ),
        (
            "path regex empty",
            "spec.httpRoute.match.path.regex",
            http(Box::new(move |v| {
                remove(v, &format!("{m}/prefix"));
                set(v, &format!("{m}/path"), json!({ "regex": "" }))
            })),
        ),
        (
            "hostname exact and suffix",
            "spec.httpRoute.match.hostname",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{m}/hostname"),
                    json!({ "exact": "a", "suffix": "b" }),
                )
            })),
        ),
        (
            "hostname exact too long",
            "spec.httpRoute.match.hostname.exact",
            http(Box::new(move |v| {
                set(v, &format!("{m}/hostname/exact"), json!(x(254)))
            })),
        ),
        (
            "hostname suffix empty",
            "spec.httpRoute.match.hostname.suffix",
            http(Box::new(move |v| {
                set(v, &format!("{m}/hostname"), json!({ "suffix": "" }))
            })),
        ),
        (
            "method unknown",
            "spec.httpRoute.match.method",
            http(Box::new(move |v| {
                set(v, &format!("{m}/method"), json!("FETCH"))
            })),
        ),
        (
            "match port 0",
            "spec.httpRoute.match.port",
            http(Box::new(move |v| set(v, &format!("{m}/port"), json!(0)))),
        ),
        (
            "match port 65536",
            "spec.httpRoute.match.port",
            http(Box::new(move |v| {
                set(v, &format!("{m}/port"), json!(65536))
            })),
        ),
        (
            "no headers",
            "spec.httpRoute.match.headers",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers"), json!([]))
            })),
        ),
        (
            "11 headers",
            "spec.httpRoute.match.headers",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers"), many(json!({ "name": "h" }), 11))
            })),
        ),
        (
            "header name too long",
            "spec.httpRoute.match.headers[0].name",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers/0/name"), json!(x(51)))
            })),
        ),
        (
            "header name empty",
            "spec.httpRoute.match.headers[0].name",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers/0/name"), json!(""))
            })),
        ),
        (
            "header match two members",
            "spec.httpRoute.match.headers[0].match",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{m}/headers/0/match"),
                    json!({ "exact": "a", "prefix": "b" }),
                )
            })),
        ),
        (
            "header match no member",
            "spec.httpRoute.match.headers[0].match",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers/0/match"), json!({}))
            })),
        ),
        (
            "header exact too long",
            "spec.httpRoute.match.headers[0].match.exact",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers/0/match/exact"), json!(x(256)))
            })),
        ),
        (
            "header regex empty",
            "spec.httpRoute.match.headers[0].match.regex",
            http(Box::new(move |v| {
                set(v, &format!("{m}/headers/0/match"), json!({ "regex": "" }))
            })),
        ),
        (
            "range start not below end",
            "spec.httpRoute.match.headers[0].match.range",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{m}/headers/0/match"),
                    json!({ "range": { "start": 5, "end": 5 } }),
                )
            })),
        ),
        (
            "range without end",
            "spec.httpRoute.match.headers[0].match.range.end",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{m}/headers/0/match"),
                    json!({ "range": { "start": 5 } }),
                )
            })),
        ),
        (
            "no query parameters",
            "spec.httpRoute.match.queryParameters",
            http(Box::new(move |v| {
                set(v, &format!("{m}/queryParameters"), json!([]))
            })),
        ),
        (
            "11 query parameters",
            "spec.httpRoute.match.queryParameters",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{m}/queryParameters"),
                    many(json!({ "name": "q" }), 11),
                )
            })),
        ),
        (
            "query parameter without name",
            "spec.httpRoute.match.queryParameters[0].name",
            http(Box::new(move |v| {
                remove(v, &format!("{m}/queryParameters/0/name"))
            })),
        ),
        (
            "target missing",
            "spec.httpRoute.action.target",
            http(Box::new(move |v| remove(v, &format!("{a}/target")))),
        ),
        (
            "target port 0",
            "spec.httpRoute.action.target.port",
            http(Box::new(move |v| {
                set(v, &format!("{a}/target/port"), json!(0))
            })),
        ),
        (
            "virtualServiceName empty",
            "spec.httpRoute.action.target.virtualService.virtualServiceName",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{a}/target/virtualService/virtualServiceName"),
                    json!(""),
                )
            })),
        ),
        (
            "virtualServiceName too long",
            "spec.httpRoute.action.target.virtualService.virtualServiceName",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{a}/target/virtualService/virtualServiceName"),
                    json!(x(256)),
                )
            })),
        ),
        (
            "prefix rewrite both",
            "spec.httpRoute.action.rewrite.prefix",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{a}/rewrite/prefix"),
                    json!({ "value": "/v2/", "defaultPrefix": "ENABLED" }),
                )
            })),
        ),
        (
            "prefix rewrite neither",
            "spec.httpRoute.action.rewrite.prefix",
            http(Box::new(move |v| {
                set(v, &format!("{a}/rewrite/prefix"), json!({}))
            })),
        ),
        (
            "defaultPrefix unknown",
            "spec.httpRoute.action.rewrite.prefix.defaultPrefix",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{a}/rewrite/prefix"),
                    json!({ "defaultPrefix": "MAYBE" }),
                )
            })),
        ),
        (
            "prefix rewrite value too long",
            "spec.httpRoute.action.rewrite.prefix.value",
            http(Box::new(move |v| {
                set(v, &format!("{a}/rewrite/prefix/value"), json!(x(256)))
            })),
        ),
        (
            "path rewrite empty",
            "spec.httpRoute.action.rewrite.path.exact",
            http(Box::new(move |v| {
                set(v, &format!("{a}/rewrite/path"), json!({ "exact": "" }))
            })),
        ),
        (
            "defaultTargetHostname unknown",
            "spec.httpRoute.action.rewrite.hostname.defaultTargetHostname",
            http(Box::new(move |v| {
                set(
                    v,
                    &format!("{a}/rewrite/hostname/defaultTargetHostname"),
                    json!("yes"),
                )
            })),
        ),
        (
            "grpc match empty",
            "spec.grpcRoute.match",
            grpc(Box::new(|v| set(v, "/spec/grpcRoute/match", json!({})))),
        ),
        (
            "grpc no metadata",
            "spec.grpcRoute.match.metadata",
            grpc(Box::new(|v| {
                set(v, "/spec/grpcRoute/match/metadata", json!([]))
            })),
        ),
        (
            "grpc 11 metadata",
            "spec.grpcRoute.match.metadata",
            grpc(Box::new(|v| {
                set(
                    v,
                    "/spec/grpcRoute/match/metadata",
                    many(json!({ "name": "m" }), 11),
                )
            })),
        ),
        (
            "grpc metadata name too long",
            "spec.grpcRoute.match.metadata[0].name",
            grpc(Box::new(move |v| {
                set(v, "/spec/grpcRoute/match/metadata/0/name", json!(x(51)))
            })),
        ),
        (
            "grpc metadata match two members",
            "spec.grpcRoute.match.metadata[0].match",
            grpc(Box::new(|v| {
                set(
                    v,
                    "/spec/grpcRoute/match/metadata/0/match",
                    json!({ "exact": "a", "suffix": "b" }),
                )
            })),
        ),
        (
            "grpc target missing",
            "spec.grpcRoute.action.target",
            grpc(Box::new(|v| remove(v, "/spec/grpcRoute/action/target"))),
        ),
        (
            "47 tags",
            "spec.tags",
            http(Box::new(|v| {
                set(
                    v,
                    "/spec/tags",
                    Value::Array(
                        (0..47)
                            .map(|i| json!({ "key": format!("k{i}"), "value": "" }))
                            .collect(),
                    ),
                )
            })),
        ),
        (
            "tag key empty",
            "spec.tags[0].key",
            http(Box::new(|v| set(v, "/spec/tags/0/key", json!("")))),
        ),
        (
            "tag key too long",
            "spec.tags[0].key",
            http(Box::new(move |v| set(v, "/spec/tags/0/key", json!(x(129))))),
        ),
        (
            "tag key reserved",
            "spec.tags[0].key",
            http(Box::new(|v| {
                set(v, "/spec/tags/0/key", json!("meshroute.io/owner"))
            })),
        ),
        (
            "tag value too long",
            "spec.tags[0].value",
            http(Box::new(move |v| {
                set(v, "/spec/tags/0/value", json!(x(257)))
            })),
        ),
        (
            "tag value missing",
            "spec.tags[0].value",
            http(Box::new(|v| remove(v, "/spec/tags/0/value"))),
        ),
        (
            "duplicate tag keys",
            "spec.tags[1]",
            http(Box::new(|v| {
                set(
                    v,
                    "/spec/tags",
                    json!([{ "key": "a", "value": "1" }, { "key": "a", "value": "2" }]),
                )
            })),
        ),
    ]
}

fn rejection(result: Result<DynamicObject, kube::Error>) -> Result<String, String> {
    match result {
        Ok(_) => Err("accepted".into()),
        Err(kube::Error::Api(s)) if s.code == 422 => Ok(s.message),
        Err(e) => Err(format!("unexpected error {e}")),
    }
}

#[tokio::test]
async fn invalid_manifests_are_rejected_naming_the_field() {
    let (client, ns) = setup("invalid").await;
    let api = gvk_api(client, &ns);
    for base in [http_base(), grpc_base()] {
        create(&api, &base, true)
            .await
            .expect("the bases are valid");
    }
    let cases = invalid_manifests();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (name, field, manifest) in &cases {
        match rejection(create(&api, &manifest(), true).await) {
            Ok(message) if message.contains(field) => {}
            Ok(message) => {
                failures.push(format!("{name}: message does not name {field}: {message}"))
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn identity_fields_are_immutable() {
    let (client, ns) = setup("immutable").await;
    let api = gvk_api(client, &ns);
    let mut base = http_base();
    set(&mut base, "/metadata/name", json!("immutable"));
    let created = create(&api, &base, false).await.unwrap();
    let updates: [(&str, &str, Edit); 6] = [
        (
            "meshName",
            "spec.meshName",
            Box::new(|v| set(v, "/spec/meshName", json!("other"))),
        ),
        (
            "virtualGatewayName",
            "spec.virtualGatewayName",
            Box::new(|v| set(v, "/spec/virtualGatewayName", json!("other"))),
        ),
        (
            "gatewayRouteName",
            "spec.gatewayRouteName",
            Box::new(|v| set(v, "/spec/gatewayRouteName", json!("other"))),
        ),
        (
            "meshOwner",
            "spec.meshOwner",
            Box::new(|v| set(v, "/spec/meshOwner", json!("999988887777"))),
        ),
        (
            "meshOwner removed",
            "meshOwner cannot be added or removed",
            Box::new(|v| remove(v, "/spec/meshOwner")),
        ),
        (
            "gatewayRouteName removed",
            "gatewayRouteName cannot be added or removed",
            Box::new(|v| remove(v, "/spec/gatewayRouteName")),
        ),
    ];
    let mut failures = Vec::new();
    for (name, expected, change) in &updates {
        let mut v = serde_json::to_value(&created).unwrap();
        change(&mut v);
        let obj: DynamicObject = serde_json::from_value(v).unwrap();
        let pp = PostParams {
            dry_run: true,
            ..Default::default()
        };
        match rejection(api.replace("immutable", &pp, &obj).await) {
            Ok(message) if message.contains(expected) => {}
            Ok(message) => failures.push(format!("{name}: {message}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    // Mutable fields still change.
    let mut v = serde_json::to_value(&created).unwrap();
    set(&mut v, "/spec/priority", json!(7));
    api.replace(
        "immutable",
        &PostParams::default(),
        &serde_json::from_value(v).unwrap(),
    )
    .await
    .expect("priority is mutable");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn kubectl(args: &[&str]) -> Result<String, String> {
    let plane = meshroute_testbed::shared();
    let bin = meshroute_testbed::testbin_tool("kubectl").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(bin)
        .arg("--kubeconfig")
        .arg(&plane.kubeconfig)
        .arg("--cache-dir")
        .arg(plane.dir().join("kubectl-cache"))
        .args(args)
        .output()
        .expect("run kubectl");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(format!(
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test]
async fn kubectl_explains_fields_and_shows_columns() {
    let (client, ns) = setup("kubectl").await;
    // explain reads the published OpenAPI, which lags CRD creation by a moment.
    let mut explained = Err(String::new());
    for _ in 0..100 {
        explained = kubectl(&["explain", "gwr.spec.http2Route.match"]);
        if explained.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // kubectl wraps descriptions; compare with whitespace folded.
    let fold = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let explained = fold(explained.unwrap());
    for expected in [
        "set `prefix` or `path` (not both)",
        "Path prefix to match; `/` alone matches every request",
        "queryParameters",
        "<[]Object>",
    ] {
        assert!(
            explained.contains(expected),
            "explain lacks {expected:?}:\n{explained}"
        );
    }
    let spec = fold(kubectl(&["explain", "gatewayroutes.spec"]).unwrap());
    assert!(
        spec.contains("deletionPolicy") && spec.contains("`Retain` leaves it in place"),
        "{spec}"
    );

    let api = gvk_api(client, &ns);
    let (_, sample) = examples()
        .into_iter()
        .find(|(n, _)| n == "http2-sample.yaml")
        .unwrap();
    create(&api, &sample, false).await.unwrap();
    let table = kubectl(&["get", "gwr", "-n", &ns]).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "MESH", "GATEWAY", "ROUTE", "READY", "REASON", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("my-gateway-route") && table.contains("myVirtualGateway"),
        "{table}"
    );
    let wide = kubectl(&["get", "gatewayroute", "-n", &ns, "-o", "wide"]).unwrap();
    assert!(wide.lines().next().unwrap().ends_with("ARN"), "{wide}");
    let by_category = kubectl(&["get", "appmesh", "-n", &ns]).unwrap();
    assert!(by_category.contains("my-gateway-route"), "{by_category}");
}
