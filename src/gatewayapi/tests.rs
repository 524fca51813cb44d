//! Every row of docs/migration.md's mapping table, as a GatewayRoute and the object it becomes.

use serde_json::{Value, json};

use super::*;

const VS: &str = "web.shop.svc.cluster.local";

/// What `export` made, its objects as the JSON it prints.
struct Exported {
    objects: Vec<Value>,
    findings: Vec<Finding>,
    losses: usize,
}

fn exported(routes: &[GatewayRoute], opts: &Options) -> Exported {
    let out = export(routes, opts);
    Exported {
        objects: out
            .objects
            .iter()
            .map(|o| serde_json::to_value(o).unwrap())
            .collect(),
        losses: out.losses(),
        findings: out.findings,
    }
}

fn route(name: &str, spec: Value) -> GatewayRoute {
    let mut spec = spec;
    spec["meshName"] = json!("m");
    spec["virtualGatewayName"] = json!("Edge_GW");
    serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": name, "namespace": "shop" },
        "spec": spec,
    }))
    .unwrap()
}

fn http(m: Value, action: Value) -> Value {
    let mut action = action;
    action["target"] = json!({ "virtualService": { "virtualServiceName": VS } });
    json!({ "httpRoute": { "match": m, "action": action } })
}

/// The one exported object (or `Value::Null`) and the findings of one GatewayRoute.
fn one(spec: Value) -> (Value, Vec<Finding>) {
    let out = exported(&[route("r", spec)], &options());
    (
        out.objects.first().cloned().unwrap_or(Value::Null),
        out.findings,
    )
}

fn options() -> Options {
    Options {
        gateway_port: 80,
        backend_port: 80,
        ..Default::default()
    }
}

fn impacts(findings: &[Finding]) -> Vec<(String, Impact)> {
    findings
        .iter()
        .map(|f| (f.field.clone(), f.impact))
        .collect()
}

fn rule(object: &Value) -> &Value {
    &object["spec"]["rules"][0]
}

#[test]
fn the_root_prefix_keeps_the_host_rewrite_only() {
    let (o, findings) = one(http(json!({ "prefix": "/" }), json!({})));
    assert_eq!(o["kind"], "HTTPRoute");
    assert_eq!(o["metadata"]["namespace"], "shop");
    assert_eq!(
        o["spec"]["parentRefs"],
        json!([{ "name": object_name("Edge_GW") }])
    );
    assert_eq!(
        rule(&o)["matches"],
        json!([{ "path": { "type": "PathPrefix", "value": "/" } }])
    );
    assert_eq!(
        rule(&o)["filters"],
        json!([{ "type": "URLRewrite", "urlRewrite": { "hostname": VS } }])
    );
    assert_eq!(
        rule(&o)["backendRefs"],
        json!([{ "name": "web", "port": 80 }])
    );
    // The port was assumed: a finding to check, nothing lost.
    assert_eq!(
        impacts(&findings),
        [("spec.httpRoute.action.target".into(), Impact::Check)]
    );
}

#[test]
fn a_prefix_is_rewritten_to_slash_by_default_and_its_segment_semantics_reported() {
    let (o, findings) = one(http(json!({ "prefix": "/api" }), json!({})));
    assert_eq!(
        rule(&o)["filters"][0]["urlRewrite"],
        json!({ "hostname": VS, "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": "/" } })
    );
    assert!(impacts(&findings).contains(&("spec.httpRoute.match.prefix".into(), Impact::Changed)));
    let (_, findings) = one(http(json!({ "prefix": "/api/" }), json!({})));
    assert!(
        findings
            .iter()
            .any(|f| f.problem.contains("also matches /api itself"))
    );
}

#[test]
fn prefix_rewrites_follow_the_route() {
    let (o, _) = one(http(
        json!({ "prefix": "/api/" }),
        json!({ "rewrite": { "prefix": { "value": "/v2/" } } }),
    ));
    assert_eq!(
        rule(&o)["filters"][0]["urlRewrite"]["path"],
        json!({ "type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2/" })
    );
    let (o, _) = one(http(
        json!({ "prefix": "/api/" }),
        json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" },
                             "hostname": { "defaultTargetHostname": "DISABLED" } } }),
    ));
    assert!(rule(&o).get("filters").is_none(), "{o}");
}

#[test]
fn exact_and_regex_paths() {
    let (o, _) = one(http(
        json!({ "path": { "exact": "/old" } }),
        json!({ "rewrite": { "path": { "exact": "/new" } } }),
    ));
    assert_eq!(
        rule(&o)["matches"][0]["path"],
        json!({ "type": "Exact", "value": "/old" })
    );
    assert_eq!(
        rule(&o)["filters"][0]["urlRewrite"]["path"],
        json!({ "type": "ReplaceFullPath", "replaceFullPath": "/new" })
    );
    let (o, findings) = one(http(
        json!({ "path": { "regex": "/v[0-9]+/.*" } }),
        json!({}),
    ));
    assert_eq!(
        rule(&o)["matches"][0]["path"],
        json!({ "type": "RegularExpression", "value": "^(?:/v[0-9]+/.*)$" })
    );
    assert!(
        impacts(&findings).contains(&("spec.httpRoute.match.path.regex".into(), Impact::Check))
    );
    assert!(rule(&o)["filters"][0]["urlRewrite"].get("path").is_none());
}

#[test]
fn paths_gateway_api_refuses_are_not_exported() {
    for path in ["/a//b", "/a/../b", "/a%2Fb", "/a#b", "/a/.", "/a b", "/%zz"] {
        let (o, findings) = one(http(json!({ "path": { "exact": path } }), json!({})));
        assert!(o.is_null(), "{path}: {o}");
        assert!(
            impacts(&findings).contains(&(
                "spec.httpRoute.match.path.exact".into(),
                Impact::NotExported
            )),
            "{path}: {findings:?}"
        );
    }
    let (o, _) = one(http(json!({ "path": { "exact": "/a%20b/~x" } }), json!({})));
    assert!(!o.is_null());
}

#[test]
fn header_matches_map_to_exact_or_anchored_regex() {
    let (o, _) = one(http(
        json!({ "prefix": "/", "headers": [
            { "name": "x-exact", "match": { "exact": "a" } },
            { "name": "x-regex", "match": { "regex": "a|b" } },
            { "name": "x-prefix", "match": { "prefix": "v1." } },
            { "name": "x-suffix", "match": { "suffix": "+beta" } },
            { "name": "x-present" },
            { "name": "x-not-inverted", "invert": false, "match": { "exact": "b" } },
        ] }),
        json!({}),
    ));
    assert_eq!(
        rule(&o)["matches"][0]["headers"],
        json!([
            { "name": "x-exact", "type": "Exact", "value": "a" },
            { "name": "x-regex", "type": "RegularExpression", "value": "^(?:a|b)$" },
            { "name": "x-prefix", "type": "RegularExpression", "value": "^v1\\..*" },
            { "name": "x-suffix", "type": "RegularExpression", "value": ".*\\+beta$" },
            { "name": "x-present", "type": "RegularExpression", "value": ".*" },
            { "name": "x-not-inverted", "type": "Exact", "value": "b" },
        ])
    );
}

#[test]
fn ranges_inverted_and_repeated_headers_are_not_exported() {
    for headers in [
        json!([{ "name": "x-n", "match": { "range": { "start": 1, "end": 5 } } }]),
        json!([{ "name": "x-n", "invert": true, "match": { "exact": "a" } }]),
        json!([{ "name": "x-n", "match": { "exact": "a" } }, { "name": "X-N", "match": { "exact": "b" } }]),
    ] {
        let (o, findings) = one(http(
            json!({ "prefix": "/", "headers": headers }),
            json!({}),
        ));
        assert!(o.is_null(), "{headers}: {o}");
        assert!(
            findings.iter().any(|f| f.impact == Impact::NotExported),
            "{findings:?}"
        );
    }
}

#[test]
fn query_parameters_and_method() {
    let (o, _) = one(http(
        json!({ "prefix": "/", "method": "POST", "queryParameters": [
            { "name": "v", "match": { "exact": "2" } }, { "name": "debug" } ] }),
        json!({}),
    ));
    let m = &rule(&o)["matches"][0];
    assert_eq!(m["method"], "POST");
    assert_eq!(
        m["queryParams"],
        json!([{ "name": "v", "type": "Exact", "value": "2" },
               { "name": "debug", "type": "RegularExpression", "value": ".*" }])
    );
}

#[test]
fn host_names_exact_and_suffix() {
    let host = |h: Value| one(http(json!({ "hostname": h }), json!({})));
    let (o, f) = host(json!({ "exact": "Shop.Example.com" }));
    assert_eq!(o["spec"]["hostnames"], json!(["shop.example.com"]));
    assert!(f.iter().all(|f| f.impact == Impact::Check));
    let (o, f) = host(json!({ "suffix": ".example.com" }));
    assert_eq!(o["spec"]["hostnames"], json!(["*.example.com"]));
    assert!(f.iter().all(|f| f.impact == Impact::Check));
    let (o, f) = host(json!({ "suffix": "example.com" }));
    assert_eq!(
        o["spec"]["hostnames"],
        json!(["example.com", "*.example.com"])
    );
    assert!(impacts(&f).contains(&("spec.httpRoute.match.hostname".into(), Impact::Changed)));
    // Without a path match the route takes every path, as in App Mesh.
    assert_eq!(
        rule(&o)["matches"][0]["path"],
        json!({ "type": "PathPrefix", "value": "/" })
    );
    let (o, f) = host(json!({ "exact": "10.0.0.1:80" }));
    assert!(o.is_null());
    assert!(impacts(&f).contains(&("spec.httpRoute.match.hostname".into(), Impact::NotExported)));
}

#[test]
fn listener_ports_become_parent_ref_ports_and_gateway_listeners() {
    let spec = http(json!({ "prefix": "/", "port": 8443 }), json!({}));
    let out = exported(
        &[route("r", spec)],
        &Options {
            gateway_class: Some("envoy".into()),
            ..options()
        },
    );
    assert_eq!(out.objects[0]["spec"]["parentRefs"][0]["port"], 8443);
    let gateway = &out.objects[1];
    assert_eq!(gateway["kind"], "Gateway");
    assert_eq!(
        gateway["metadata"]["name"],
        out.objects[0]["spec"]["parentRefs"][0]["name"]
    );
    assert_eq!(gateway["spec"]["gatewayClassName"], "envoy");
    let ports: Vec<&Value> = gateway["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["port"])
        .collect();
    assert_eq!(ports, [&json!(80), &json!(8443)]);
    assert!(impacts(&out.findings).contains(&("spec.httpRoute.match.port".into(), Impact::Check)));
}

#[test]
fn backends_from_service_names_the_service_map_and_target_ports() {
    let with_target = |vs: &str, port: Option<i32>, opts: &Options| {
        let mut target = json!({ "virtualService": { "virtualServiceName": vs } });
        if let Some(p) = port {
            target["port"] = json!(p);
        }
        let spec =
            json!({ "httpRoute": { "match": { "prefix": "/" }, "action": { "target": target } } });
        exported(&[route("r", spec)], opts)
    };
    let out = with_target("api.billing.svc.cluster.local", Some(8080), &options());
    assert_eq!(
        rule(&out.objects[0])["backendRefs"],
        json!([{ "name": "api", "namespace": "billing", "port": 8080 }])
    );
    let grant = out
        .objects
        .iter()
        .find(|o| o["kind"] == "ReferenceGrant")
        .expect("a ReferenceGrant for the backend in billing");
    assert_eq!(grant["metadata"]["namespace"], "billing");
    assert_eq!(
        grant["spec"]["from"],
        json!([{ "group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop" }])
    );
    assert_eq!(
        grant["spec"]["to"],
        json!([{ "group": "", "kind": "Service" }])
    );
    let out = with_target("web.svc.cluster.local", None, &options());
    assert_eq!(
        rule(&out.objects[0])["backendRefs"],
        json!([{ "name": "web", "port": 80 }])
    );
    let out = with_target("legacy.internal.example", None, &options());
    assert!(out.objects.is_empty());
    assert!(
        out.findings
            .iter()
            .any(|f| f.impact == Impact::NotExported && f.advice.contains("--service-map"))
    );
    let mapped = Options {
        services: BTreeMap::from([(
            "legacy.internal.example".to_string(),
            Service {
                name: "legacy".into(),
                namespace: None,
                port: Some(9000),
            },
        )]),
        ..options()
    };
    let out = with_target("legacy.internal.example", None, &mapped);
    assert_eq!(
        rule(&out.objects[0])["backendRefs"],
        json!([{ "name": "legacy", "port": 9000 }])
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[test]
fn grpc_routes() {
    let spec = json!({ "grpcRoute": {
        "match": { "serviceName": "echo.v1.Echo", "metadata": [
            { "name": "tenant", "match": { "exact": "a" } } ] },
        "action": { "target": { "virtualService": { "virtualServiceName": VS }, "port": 50051 } } } });
    let (o, findings) = one(spec);
    assert_eq!(o["kind"], "GRPCRoute");
    assert_eq!(
        rule(&o)["matches"],
        json!([{ "method": { "type": "Exact", "service": "echo.v1.Echo" },
                 "headers": [{ "name": "tenant", "type": "Exact", "value": "a" }] }])
    );
    assert_eq!(
        rule(&o)["backendRefs"],
        json!([{ "name": "web", "port": 50051 }])
    );
    assert_eq!(
        impacts(&findings),
        [(
            "spec.grpcRoute.action.rewrite.hostname".into(),
            Impact::Changed
        )]
    );
    let spec = json!({ "grpcRoute": {
        "match": { "hostname": { "exact": "grpc.example.com" } },
        "action": { "target": { "virtualService": { "virtualServiceName": VS }, "port": 50051 },
                    "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } } } });
    let (o, findings) = one(spec);
    assert!(rule(&o).get("matches").is_none());
    assert_eq!(o["spec"]["hostnames"], json!(["grpc.example.com"]));
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn http2_asks_for_the_services_app_protocol() {
    let mut spec = http(json!({ "prefix": "/" }), json!({}));
    spec["http2Route"] = spec["httpRoute"].take();
    spec.as_object_mut().unwrap().remove("httpRoute");
    let (o, findings) = one(spec);
    assert_eq!(o["kind"], "HTTPRoute");
    assert!(
        findings
            .iter()
            .any(|f| f.advice.contains("kubernetes.io/h2c"))
    );
}

#[test]
fn priorities_that_gateway_api_would_order_otherwise_are_reported() {
    let with = |name: &str, priority: i32, prefix: &str| {
        let mut spec = http(json!({ "prefix": prefix }), json!({}));
        spec["priority"] = json!(priority);
        route(name, spec)
    };
    // App Mesh: /a first (priority 1); Gateway API: /a/b first (longer prefix).
    let out = exported(
        &[with("short", 1, "/a"), with("long", 2, "/a/b")],
        &options(),
    );
    let order: Vec<&Finding> = out
        .findings
        .iter()
        .filter(|f| f.field == "spec.priority")
        .collect();
    assert_eq!(order.len(), 1, "{order:?}");
    assert_eq!(order[0].object, "shop/short");
    assert_eq!(
        out.losses,
        out.findings
            .iter()
            .filter(|f| f.impact != Impact::Check)
            .count()
    );
    // The same order in both: nothing to report.
    let out = exported(
        &[with("long", 1, "/a/b"), with("short", 2, "/a")],
        &options(),
    );
    assert!(out.findings.iter().all(|f| f.field != "spec.priority"));
}

#[test]
fn what_import_recorded_resolves_backends_ports_and_listeners() {
    use crate::api::recorded::{BACKEND_ANNOTATION, LISTENERS_ANNOTATION};
    let recorded = |backend: Value| {
        let mut spec = http(json!({ "prefix": "/" }), json!({}));
        spec["httpRoute"]["action"]["target"]["virtualService"]["virtualServiceName"] =
            json!("web.apps.local");
        let mut r = route("r", spec);
        r.metadata.annotations = Some(
            [
                (BACKEND_ANNOTATION.to_string(), backend.to_string()),
                (
                    LISTENERS_ANNOTATION.to_string(),
                    "http:8080,http2:8081".to_string(),
                ),
            ]
            .into(),
        );
        r
    };
    let opts = Options {
        gateway_class: Some("c".into()),
        ..options()
    };
    // The virtual node's DNS name and listener port name the Service and its port.
    let out = exported(
        &[recorded(json!({ "provider": "virtualNode/web",
            "dnsHostname": "web.backends.svc.cluster.local", "port": 8080 }))],
        &opts,
    );
    assert_eq!(
        rule(&out.objects[0])["backendRefs"],
        json!([{ "name": "web", "namespace": "backends", "port": 8080 }])
    );
    let codes: Vec<Code> = out.findings.iter().map(|f| f.code).collect();
    assert!(
        !codes.contains(&Code::BackendUnresolved) && !codes.contains(&Code::BackendPortAssumed),
        "{codes:?}"
    );
    let gateway = out.objects.iter().find(|o| o["kind"] == "Gateway").unwrap();
    let ports: Vec<&Value> = gateway["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["port"])
        .collect();
    assert_eq!(ports, [&json!(8080), &json!(8081)], "{gateway}");
    // A Cloud Map service names no Service: not exported, and the finding says which.
    let out = exported(
        &[recorded(json!({ "provider": "virtualNode/web",
            "cloudMap": { "namespaceName": "apps.local", "serviceName": "web" }, "port": 8080 }))],
        &opts,
    );
    let unresolved = out
        .findings
        .iter()
        .find(|f| f.code == Code::BackendUnresolved)
        .expect("a Cloud Map backend is unresolved");
    assert!(
        unresolved
            .problem
            .contains("Cloud Map service web in namespace apps.local")
    );
}

#[test]
fn orders_app_mesh_and_gateway_api_disagree_on_or_aws_left_open_are_reported() {
    let with = |m: Value, priority: Option<i32>| {
        let mut spec = http(m, json!({}));
        if let Some(p) = priority {
            spec["priority"] = json!(p);
        }
        spec
    };
    let host = |m: Value, h: &str| {
        let mut m = m;
        m["hostname"] = json!({ "exact": h });
        m
    };
    // (first route, second route, the order findings: (code, object, the other route)).
    type Row = (Value, Value, Vec<(Code, &'static str, &'static str)>);
    let rows: Vec<Row> = vec![
        // App Mesh: the longer path first (AWS: sorted "according to length"); Gateway API: a
        // host name before any path.
        (
            with(json!({ "prefix": "/api/v1" }), None),
            with(host(json!({ "prefix": "/" }), "a.example.com"), None),
            vec![(Code::PriorityOrder, "shop/a", "shop/b")],
        ),
        // Both order the longer prefix first.
        (
            with(json!({ "prefix": "/api/v1" }), None),
            with(json!({ "prefix": "/api" }), None),
            vec![],
        ),
        // Equally long, no priority: AWS did not say which App Mesh tried first.
        (
            with(json!({ "prefix": "/api" }), None),
            with(
                json!({ "prefix": "/api", "headers": [{ "name": "x", "match": { "exact": "1" } }] }),
                None,
            ),
            vec![(Code::OrderUndocumented, "shop/a", "shop/b")],
        ),
        // A regular expression has no length App Mesh is known to sort by.
        (
            with(json!({ "path": { "regex": "/api/.*" } }), None),
            with(json!({ "prefix": "/api" }), None),
            vec![(Code::OrderUndocumented, "shop/a", "shop/b")],
        ),
        // A catch-all with a priority and an exact path without one: how App Mesh interleaves
        // the two is not documented.
        (
            with(json!({ "prefix": "/" }), Some(1000)),
            with(json!({ "path": { "exact": "/healthz" } }), None),
            vec![(Code::OrderUndocumented, "shop/a", "shop/b")],
        ),
        // Priorities against Gateway API's precedence.
        (
            with(json!({ "prefix": "/" }), Some(0)),
            with(json!({ "prefix": "/api" }), Some(1)),
            vec![(Code::PriorityOrder, "shop/a", "shop/b")],
        ),
        // The same match, one route on port 8081 only, the other on every port: on 8081
        // Gateway API orders them by age and name, App Mesh by priority.
        (
            with(json!({ "port": 8081 }), Some(0)),
            with(json!({ "prefix": "/" }), Some(1)),
            vec![(Code::PriorityOrder, "shop/a", "shop/b")],
        ),
        // No request takes both.
        (
            with(json!({ "prefix": "/orders" }), None),
            with(json!({ "prefix": "/users" }), None),
            vec![],
        ),
    ];
    for (i, (a, b, want)) in rows.into_iter().enumerate() {
        let out = exported(&[route("a", a), route("b", b)], &options());
        let got: Vec<(Code, String, Requests)> = out
            .findings
            .into_iter()
            .filter(|f| matches!(f.code, Code::PriorityOrder | Code::OrderUndocumented))
            .map(|f| (f.code, f.object, f.predicts.requests))
            .collect();
        let want: Vec<(Code, String, Requests)> = want
            .into_iter()
            .map(|(c, o, other)| (c, o.to_string(), Requests::SharedWith(other.into())))
            .collect();
        assert_eq!(got, want, "row {i}");
    }
}

#[test]
fn virtual_gateways_of_different_meshes_never_share_a_gateway() {
    let in_mesh = |name: &str, mesh: &str| {
        let mut r = route(name, http(json!({ "prefix": "/color" }), json!({})));
        r.spec.mesh_name = mesh.into();
        r
    };
    let mut lone = route("lone", http(json!({ "prefix": "/" }), json!({})));
    lone.spec.virtual_gateway_name = "lone-gw".into();
    let routes = [in_mesh("a", "mesh-a"), in_mesh("b", "mesh-b"), lone];
    let out = exported(
        &routes,
        &Options {
            gateway_class: Some("example".into()),
            ..options()
        },
    );
    let parent = |i: usize| out.objects[i]["spec"]["parentRefs"][0]["name"].clone();
    assert_eq!(parent(0), json!(object_name("mesh-a-Edge_GW")));
    assert_eq!(parent(1), json!(object_name("mesh-b-Edge_GW")));
    assert_eq!(
        parent(2),
        json!("lone-gw"),
        "a name used by one mesh stays plain"
    );
    let gateways: Vec<&Value> = out
        .objects
        .iter()
        .filter(|o| o["kind"] == "Gateway")
        .map(|g| &g["metadata"]["name"])
        .collect();
    assert_eq!(gateways.len(), 3, "{gateways:?}");
    assert!(
        !out.findings
            .iter()
            .any(|f| f.problem.contains("same requests")),
        "routes on different Gateways do not compete: {:?}",
        out.findings
    );
}

#[test]
fn routes_that_take_the_same_requests_on_one_gateway_are_reported() {
    let same = |name: &str| route(name, http(json!({ "prefix": "/color" }), json!({})));
    let other = route("other", http(json!({ "prefix": "/other" }), json!({})));
    let out = exported(&[same("first"), same("second"), other], &options());
    let overlaps: Vec<(&str, Impact)> = out
        .findings
        .iter()
        .filter(|f| f.problem.contains("same requests"))
        .map(|f| (f.object.as_str(), f.impact))
        .collect();
    assert_eq!(overlaps, [("shop/second", Impact::Changed)]);
    assert!(
        out.findings
            .iter()
            .any(|f| f.problem.starts_with("shop/first takes"))
    );
}

#[test]
fn every_code_is_stable_text_and_accepting_a_kind_clears_it_for_strict() {
    for code in Code::ALL {
        assert_eq!(Code::parse(code.as_str()), Some(code));
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            json!(code.as_str()),
            "the JSON report writes what --accept takes"
        );
    }
    assert_eq!(Code::PrefixSegments.as_str(), "prefix-segments");
    assert_eq!(Code::Http2AppProtocol.as_str(), "http2-app-protocol");
    let mut out = export(
        &[route("r", http(json!({ "prefix": "/api" }), json!({})))],
        &options(),
    );
    let codes: Vec<Code> = out.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::PrefixSegments), "{codes:?}");
    assert_eq!(out.losses(), 1);
    out.accept(&[Code::PrefixSegments]);
    assert_eq!(out.losses(), 0);
    assert!(out.findings.iter().any(|f| f.accepted));
}

/// docs/migration.md lists every code with its impact, as a team reads them before `--accept`.
#[test]
fn the_migration_guide_lists_every_code() {
    let guide = include_str!("../../docs/migration.md");
    for code in Code::ALL {
        let impact = serde_json::to_value(code.impact()).unwrap();
        let row = format!("| `{}` | {} |", code.as_str(), impact.as_str().unwrap());
        assert!(guide.contains(&row), "docs/migration.md lacks {row}");
    }
}

#[test]
fn the_lattice_target_refuses_strips_and_reports_what_its_controller_cannot_do() {
    let lattice = Options {
        target: Target::Lattice,
        ..options()
    };
    let one_lattice = |spec: Value| {
        let out = exported(&[route("r", spec)], &lattice);
        let codes: Vec<Code> = out.findings.iter().map(|f| f.code).collect();
        (out.objects.first().cloned(), codes)
    };
    // (GatewayRoute match, what the Lattice profile says, whether the route is still printed)
    let rows = [
        (
            json!({ "path": { "regex": "/re/[0-9]+" } }),
            Code::LatticeRegexPath,
            false,
        ),
        (
            json!({ "prefix": "/", "queryParameters": [{ "name": "t", "match": { "exact": "g" } }] }),
            Code::LatticeQueryMatch,
            false,
        ),
        (
            json!({ "prefix": "/", "headers": [{ "name": "x", "match": { "prefix": "a" } }] }),
            Code::LatticeHeaderMatch,
            false,
        ),
        (
            json!({ "prefix": "/", "headers": (0..6)
                .map(|i| json!({ "name": format!("x{i}"), "match": { "exact": "a" } }))
                .collect::<Vec<_>>() }),
            Code::LatticeHeaderCount,
            false,
        ),
        (json!({ "prefix": "/api" }), Code::LatticeNoRewrite, true),
        (
            json!({ "path": { "exact": "/a" } }),
            Code::LatticeServicePerRoute,
            true,
        ),
    ];
    for (m, code, printed) in rows {
        let (object, codes) = one_lattice(http(m.clone(), json!({})));
        assert!(codes.contains(&code), "{m}: {codes:?}");
        assert_eq!(object.is_some(), printed, "{m}: {object:?}");
        if let Some(object) = object {
            assert!(
                object["spec"]["rules"][0].get("filters").is_none(),
                "no URLRewrite is printed for Lattice: {object}"
            );
        }
    }
    // The generic target keeps the rewrite and reports nothing of Lattice's.
    let out = exported(
        &[route("r", http(json!({ "prefix": "/api" }), json!({})))],
        &options(),
    );
    assert!(rule(&out.objects[0]).get("filters").is_some());
    assert!(
        !out.findings
            .iter()
            .any(|f| f.code.as_str().starts_with("lattice-"))
    );
    let grpc = json!({ "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" },
        "action": { "target": { "virtualService": { "virtualServiceName": VS } } } } });
    let (_, codes) = one_lattice(grpc);
    assert!(codes.contains(&Code::LatticeGrpcHttps), "{codes:?}");
}

#[test]
fn a_grpc_service_name_grpcroute_refuses_becomes_an_http_route_on_its_path() {
    let grpc = |service: &str| {
        json!({ "grpcRoute": { "match": { "serviceName": service },
            "action": { "target": { "virtualService": { "virtualServiceName": VS }, "port": 50051 } } } })
    };
    let (o, findings) = one(grpc("my-svc.v1.Echo"));
    assert_eq!(o["kind"], "HTTPRoute");
    assert_eq!(
        rule(&o)["matches"],
        json!([{ "path": { "type": "PathPrefix", "value": "/my-svc.v1.Echo/" }, "method": "POST" }])
    );
    // App Mesh's :authority rewrite survives: an HTTPRoute can make it.
    assert_eq!(
        rule(&o)["filters"],
        json!([{ "type": "URLRewrite", "urlRewrite": { "hostname": VS } }])
    );
    let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::GrpcAsHttp], "{findings:?}");
    // A name no path segment can carry is not exported.
    let (o, findings) = one(grpc("svc/with/slashes"));
    assert_eq!(o, Value::Null);
    assert!(findings.iter().any(|f| f.code == Code::GrpcServiceName));
}

#[test]
fn string_prefixes_keep_app_meshs_meaning_where_no_prefix_rewrite_is_needed() {
    let opts = Options {
        string_prefixes: true,
        ..options()
    };
    let keep_path = json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } });
    let out = exported(
        &[route("r", http(json!({ "prefix": "/api" }), keep_path))],
        &opts,
    );
    assert_eq!(
        rule(&out.objects[0])["matches"][0]["path"],
        json!({ "type": "RegularExpression", "value": "^/api.*" })
    );
    let codes: Vec<Code> = out.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::RegexDialect), "{codes:?}");
    assert!(!codes.contains(&Code::PrefixSegments), "{codes:?}");
    // A route App Mesh rewrote keeps PathPrefix, the only match a prefix rewrite works with.
    let out = exported(
        &[route("r", http(json!({ "prefix": "/api" }), json!({})))],
        &opts,
    );
    assert_eq!(
        rule(&out.objects[0])["matches"][0]["path"]["type"],
        "PathPrefix"
    );
    assert!(out.findings.iter().any(|f| f.code == Code::PrefixSegments));
}

/// A virtual service name in mixed case is the lower-case Service (DNS names are
/// case-insensitive): `serviceA` is not a name Kubernetes can hold, and Traefik answered 500.
#[test]
fn a_mixed_case_virtual_service_is_its_lower_case_service() {
    let mut spec = http(json!({ "prefix": "/" }), json!({}));
    spec["httpRoute"]["action"]["target"]["virtualService"]["virtualServiceName"] =
        json!("serviceA.Shop.svc.cluster.local");
    let out = exported(&[route("r", spec)], &options());
    assert_eq!(
        rule(&out.objects[0])["backendRefs"][0]["name"],
        json!("servicea"),
        "{:?}",
        out.objects
    );
    // `Shop` is the route's own namespace, `shop`: no namespace on the reference.
    assert!(
        rule(&out.objects[0])["backendRefs"][0]
            .get("namespace")
            .is_none()
    );
    assert!(
        out.findings.iter().all(|f| f.code != Code::BackendInvalid),
        "{:?}",
        out.findings
    );
}

/// On a virtual gateway with http, http2 and grpc listeners each route attaches to the
/// listeners of its own protocol, as App Mesh served it, not to every listener of the Gateway.
#[test]
fn routes_attach_to_the_listeners_of_their_protocol() {
    use crate::api::recorded::LISTENERS_ANNOTATION;
    let listeners = |mut r: GatewayRoute| {
        r.metadata.annotations = Some(
            [(
                LISTENERS_ANNOTATION.to_string(),
                "http:8080,http2:8081,grpc:8082,http:9080".to_string(),
            )]
            .into(),
        );
        r
    };
    let h1 = listeners(route("h1", http(json!({ "prefix": "/a" }), json!({}))));
    let mut h2_spec = http(json!({ "prefix": "/b" }), json!({}));
    h2_spec["http2Route"] = h2_spec["httpRoute"].take();
    h2_spec.as_object_mut().unwrap().remove("httpRoute");
    let h2 = listeners(route("h2", h2_spec));
    let grpc = listeners(route(
        "g",
        json!({ "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" },
            "action": { "target": { "virtualService": { "virtualServiceName": VS } } } } }),
    ));
    let on_port = listeners(route(
        "p",
        http(json!({ "prefix": "/c", "port": 9080 }), json!({})),
    ));
    let opts = Options {
        gateway_class: Some("c".into()),
        ..options()
    };
    let out = exported(&[h1, h2, grpc, on_port], &opts);
    let sections = |name: &str| -> Vec<String> {
        let object = out
            .objects
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {:?}", out.objects));
        object["spec"]["parentRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert!(p.get("port").is_none(), "{p}");
                p["sectionName"]
                    .as_str()
                    .unwrap_or("(whole Gateway)")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(sections("h1"), ["port-8080", "port-9080"]);
    assert_eq!(sections("h2"), ["port-8081"]);
    assert_eq!(sections("g"), ["port-8082"]);
    assert_eq!(sections("p"), ["port-9080"]);
    let gateway = out.objects.iter().find(|o| o["kind"] == "Gateway").unwrap();
    let names: Vec<&str> = gateway["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["port-8080", "port-8081", "port-8082", "port-9080"]);
}

/// Two routes no request can take both of are never reported as ordered differently: the
/// false positive that blocked `--strict` (a prefix `/orders` at priority 5, an exact
/// `/api/v1/orders` on one host at priority 10). Routes that do overlap still are.
#[test]
fn priority_order_only_for_routes_that_can_take_the_same_request() {
    let with_priority = |mut spec: Value, p: i32| {
        spec["priority"] = json!(p);
        spec
    };
    let orders = route(
        "orders",
        with_priority(http(json!({ "prefix": "/orders" }), json!({})), 5),
    );
    let exact = route(
        "exact",
        with_priority(
            http(
                json!({ "path": { "exact": "/api/v1/orders" }, "hostname": { "exact": "a.example.com" } }),
                json!({}),
            ),
            10,
        ),
    );
    let out = exported(&[orders, exact], &options());
    assert!(
        out.findings.iter().all(|f| f.code != Code::PriorityOrder),
        "{:?}",
        out.findings
    );
    let api = route(
        "api",
        with_priority(http(json!({ "prefix": "/api" }), json!({})), 5),
    );
    let exact = route(
        "exact",
        with_priority(
            http(json!({ "path": { "exact": "/api/v1/orders" } }), json!({})),
            10,
        ),
    );
    let out = exported(&[api, exact], &options());
    assert!(
        out.findings.iter().any(|f| f.code == Code::PriorityOrder),
        "{:?}",
        out.findings
    );
}
