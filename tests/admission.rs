//! The chart's ValidatingAdmissionPolicy refuses at `kubectl apply` what a VirtualGatewayPolicy
//! does not admit, with a message naming the policy and what it admits, and decides every case
//! exactly as the operator's own check (`api::policy::refusal`) does, with the same words.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use meshroute::api::GatewayRouteSpec;
use meshroute::api::policy::{VirtualGatewayPolicy, refusal};
use serde_json::{Value, json};
use support::run;

const MESH: &str = meshroute_testbed::MESH;

/// Installs the chart's admission policy as `helm template` renders it.
fn install_admission_policy() {
    let (ok, rendered, err) = run(
        "helm",
        &[
            "template",
            "admission",
            "charts/meshroute",
            "--show-only",
            "templates/accesspolicy.yaml",
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&rendered));
    assert!(ok, "{out}{err}");
}

fn route(ns: &str, name: &str, spec: &Value) -> Value {
    json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": ns }, "spec": spec })
}

/// What the apiserver answers to a server-side dry run of `object`: `None` if admitted, else
/// its message.
fn admission(object: &Value) -> Option<String> {
    let (ok, _, err) = run(
        "kubectl",
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&object.to_string()),
    );
    (!ok).then_some(err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_is_refused_exactly_where_the_operator_would_refuse() {
    let plane = meshroute_testbed::shared();
    let client = plane.client().await.unwrap();
    meshroute_testbed::install_crds(&client).await.unwrap();
    install_admission_policy();
    let team_a = meshroute_testbed::namespace(&client, "team-a")
        .await
        .unwrap();
    let team_b = meshroute_testbed::namespace(&client, "team-b")
        .await
        .unwrap();
    let web = BTreeMap::from([("tier".to_string(), "web".to_string())]);
    Api::<Namespace>::all(client.clone())
        .patch(
            &team_b,
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": web } })),
        )
        .await
        .unwrap();
    let gateway = format!("gw-{team_a}");
    let policy: VirtualGatewayPolicy = serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "VirtualGatewayPolicy",
        "metadata": { "name": format!("payments-{team_a}") },
        "spec": { "meshName": MESH, "virtualGatewayName": gateway, "grants": [
            { "namespaces": { "from": "Names", "names": [team_a] },
              "hostnames": ["pay.example.com", "*.pay.example.com"], "pathPrefixes": ["/payments"] },
            { "namespaces": { "from": "Selector", "selector": { "matchLabels": { "tier": "web" } } },
              "pathPrefixes": ["/web/", "/echo.v1."] } ] } }))
    .unwrap();
    let (ok, out, err) = run(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&serde_json::to_string(&policy).unwrap()),
    );
    assert!(ok, "{out}{err}");

    let target = json!({ "target": { "virtualService": { "virtualServiceName": "svc" } } });
    let http = |m: Value| {
        json!({ "meshName": MESH, "virtualGatewayName": gateway,
                "httpRoute": { "match": m, "action": target } })
    };
    let grpc = |m: Value| {
        json!({ "meshName": MESH, "virtualGatewayName": gateway,
                "grpcRoute": { "match": m, "action": target } })
    };
    let pay = json!({ "exact": "pay.example.com" });
    let cases = [
        (
            &team_a,
            http(json!({ "prefix": "/payments/v1", "hostname": pay })),
            true,
        ),
        (
            &team_a,
            http(json!({ "prefix": "/payments", "hostname": { "suffix": ".eu.pay.example.com" } })),
            true,
        ),
        (
            &team_a,
            http(
                json!({ "path": { "exact": "/payments" }, "hostname": { "exact": "x.pay.example.com" } }),
            ),
            true,
        ),
        (&team_a, http(json!({ "prefix": "/payments" })), false),
        (
            &team_a,
            http(json!({ "prefix": "/pay", "hostname": pay })),
            false,
        ),
        (
            &team_a,
            http(json!({ "prefix": "/payments", "hostname": { "suffix": "example.com" } })),
            false,
        ),
        (
            &team_a,
            http(json!({ "path": { "regex": "/payments/.*" }, "hostname": pay })),
            false,
        ),
        (&team_b, http(json!({ "prefix": "/web/shop" })), true),
        (&team_b, http(json!({ "prefix": "/" })), false),
        (
            &team_b,
            grpc(json!({ "serviceName": "echo.v1.Echo" })),
            true,
        ),
        (
            &team_b,
            grpc(json!({ "serviceName": "billing.v1.Pay" })),
            false,
        ),
        (&team_b, grpc(json!({ "port": 8080 })), false),
        // Another gateway: this policy does not govern it.
        (
            &team_b,
            {
                let mut s = http(json!({ "prefix": "/" }));
                s["virtualGatewayName"] = json!("elsewhere");
                s
            },
            true,
        ),
    ];
    // A new policy takes a moment to reach the admission plugin: wait until it refuses.
    let deadline = Instant::now() + Duration::from_secs(30);
    while admission(&route(&team_a, "probe", &cases[3].1)).is_none() {
        assert!(
            Instant::now() < deadline,
            "the admission policy never took effect"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (i, (ns, spec, admitted)) in cases.iter().enumerate() {
        let object = route(ns, &format!("case-{i}"), spec);
        let answer = admission(&object);
        let labels = if *ns == &team_b {
            web.clone()
        } else {
            BTreeMap::new()
        };
        let parsed: GatewayRouteSpec = serde_json::from_value(spec.clone()).unwrap();
        let operator = refusal([&policy], ns, &labels, &parsed, false);
        assert_eq!(
            answer.is_none(),
            *admitted,
            "admission, case {i} {spec}: {answer:?}"
        );
        assert_eq!(
            operator.is_none(),
            *admitted,
            "operator, case {i} {spec}: {operator:?}"
        );
        if let (Some(answer), Some(operator)) = (answer, operator) {
            assert!(
                answer.contains(&operator.message),
                "the same words, case {i}:\nkubectl: {answer}\noperator: {}",
                operator.message
            );
        }
    }
    let (_, _, refused) = run(
        "kubectl",
        &["apply", "-f", "-"],
        Some(&route(&team_b, "refused", &cases[8].1).to_string()),
    );
    assert!(
        refused.contains(&format!(
            "not permitted on {MESH}/{gateway} by VirtualGatewayPolicy payments-{team_a}, which \
             admits namespaces {team_a} for host names pay.example.com, *.pay.example.com under \
             /payments; namespaces matching its selector under /web/, /echo.v1."
        )),
        "{refused}"
    );
}
