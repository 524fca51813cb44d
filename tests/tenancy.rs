//! Who may put routes on which gateway, as the operator enforces it (no admission policy is
//! installed in this test binary's cluster: objects it would refuse get in, as they would where
//! the chart's admission policy is not installed or was added later). A route a
//! VirtualGatewayPolicy does not admit is NotPermitted (Stalled), with an Event, and costs no
//! App Mesh call; a policy edit or a namespace relabelled shows on the objects concerned.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use meshroute::api::GatewayRoute;
use serde_json::{Value, json};
use support::{Bed, Operator, reason, run};

const MESH: &str = meshroute_testbed::MESH;

fn spec(gateway: &str, prefix: &str) -> Value {
    json!({ "meshName": MESH, "virtualGatewayName": gateway,
            "httpRoute": { "match": { "prefix": prefix }, "action": { "target": { "virtualService": {
                "virtualServiceName": "myservicea.svc.cluster.local" } } } } })
}

/// Waits until `name` in `api`'s namespace has Ready's `reason` at its generation.
async fn wait_reason(
    api: &Api<GatewayRoute>,
    name: &str,
    want: &str,
    operator: &Operator,
) -> GatewayRoute {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let route = api.get_opt(name).await.unwrap();
        if let Some(r) = &route
            && reason(r) == Some(want)
            && support::is_current(r)
        {
            return route.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not become {want} within 60 s: {}\n{}",
            serde_json::to_string_pretty(&route).unwrap(),
            operator.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn condition<'a>(route: &'a GatewayRoute, kind: &str) -> Option<&'a str> {
    let c = route
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)?;
    Some(c.status.as_str())
}

fn message(route: &GatewayRoute) -> &str {
    let status = route.status.as_ref().unwrap();
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    ready.message.as_str()
}

/// A virtual gateway of the test's own (policies are cluster-wide: each test governs its own).
fn own_gateway(bed: &Bed) -> String {
    let gateway = format!("gw-{}", bed.ns);
    bed.emulator
        .emulator
        .invoke(
            "CreateVirtualGateway",
            &json!({ "meshName": MESH, "virtualGatewayName": gateway, "spec": { "listeners": [
                { "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        )
        .unwrap();
    gateway
}

/// Applies (or with `None` deletes) the cluster-scoped policy `name`.
fn policy(name: &str, spec: Option<Value>) {
    let (ok, out, err) = match spec {
        Some(spec) => {
            let object = json!({ "apiVersion": "meshroute.io/v1alpha1",
                "kind": "VirtualGatewayPolicy", "metadata": { "name": name }, "spec": spec });
            run("kubectl", &["apply", "-f", "-"], Some(&object.to_string()))
        }
        None => run(
            "kubectl",
            &["delete", "virtualgatewaypolicy", name, "--wait=true"],
            None,
        ),
    };
    assert!(ok, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_decide_who_routes_on_a_gateway_and_every_change_shows() {
    let mut bed = Bed::new("tenancy").await;
    let gateway = own_gateway(&bed);
    // team-a: another namespace, with the test's label on its objects so the operator sees them.
    let team_a = meshroute_testbed::namespace(&bed.client, "tenancy-a")
        .await
        .unwrap();
    let a: Api<GatewayRoute> = Api::namespaced(bed.client.clone(), &team_a);
    let b = bed.api();
    let operator = bed.operator(&[]);
    let test_label = bed.ns.clone();
    let labelled = |ns: &str, name: &str, spec: Value| -> GatewayRoute {
        serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": ns, "labels": { "meshroute-test": test_label } },
            "spec": spec }))
        .unwrap()
    };
    let pp = PostParams::default();

    // Before any policy: anyone may.
    b.create(
        &pp,
        &labelled(&bed.ns, "early", spec(&gateway, "/web/early")),
    )
    .await
    .unwrap();
    let early = wait_reason(&b, "early", "Synced", &operator).await;
    let arn = early.status.as_ref().unwrap().arn.clone().unwrap();

    // Only team-a, under /a/.
    let name = format!("payments-{}", bed.ns);
    policy(
        &name,
        Some(
            json!({ "meshName": MESH, "virtualGatewayName": gateway, "grants": [
            { "namespaces": { "from": "Names", "names": [team_a] }, "pathPrefixes": ["/a/"] } ] }),
        ),
    );
    let (creates, updates, deletes) = (
        bed.calls_of("CreateGatewayRoute"),
        bed.calls_of("UpdateGatewayRoute"),
        bed.calls_of("DeleteGatewayRoute"),
    );
    let early = wait_reason(&b, "early", "NotPermitted", &operator).await;
    assert_eq!(condition(&early, "Stalled"), Some("True"));
    let said = message(&early);
    assert!(
        said.contains(&format!(
            "not permitted on {MESH}/{gateway} by VirtualGatewayPolicy {name}, which admits namespaces {team_a} under /a/"
        )) && said.contains(&format!("its App Mesh route {arn} stays as it is")),
        "{said}"
    );
    bed.wait_event("early", "NotPermitted").await;
    // Its App Mesh route is left alone: it still serves, and nothing was deleted.
    assert!(bed.emulator.emulator.invoke("DescribeGatewayRoute", &json!({
        "meshName": MESH, "virtualGatewayName": gateway, "gatewayRouteName": bed.mesh_name("early") })).is_ok());

    // A new route of team-b: refused with no App Mesh call; team-a's inside and outside /a/.
    b.create(&pp, &labelled(&bed.ns, "late", spec(&gateway, "/a/late")))
        .await
        .unwrap();
    a.create(&pp, &labelled(&team_a, "inside", spec(&gateway, "/a/pay")))
        .await
        .unwrap();
    a.create(&pp, &labelled(&team_a, "outside", spec(&gateway, "/b/pay")))
        .await
        .unwrap();
    let late = wait_reason(&b, "late", "NotPermitted", &operator).await;
    assert!(
        message(&late).ends_with("no App Mesh route was created"),
        "{}",
        message(&late)
    );
    wait_reason(&a, "inside", "Synced", &operator).await;
    wait_reason(&a, "outside", "NotPermitted", &operator).await;
    assert_eq!(
        bed.calls_of("CreateGatewayRoute"),
        creates + 1,
        "only `inside` was created"
    );
    assert_eq!(bed.calls_of("UpdateGatewayRoute"), updates);
    assert_eq!(bed.calls_of("DeleteGatewayRoute"), deletes);

    // The policy also admits namespaces labelled tier=web: label team-b, and its routes go in.
    policy(
        &name,
        Some(
            json!({ "meshName": MESH, "virtualGatewayName": gateway, "grants": [
            { "namespaces": { "from": "Names", "names": [team_a] }, "pathPrefixes": ["/a/"] },
            { "namespaces": { "from": "Selector", "selector": { "matchLabels": { "tier": "web" } } } } ] }),
        ),
    );
    let namespaces: Api<Namespace> = Api::all(bed.client.clone());
    let relabel = |value: Value| {
        let namespaces = namespaces.clone();
        let ns = bed.ns.clone();
        async move {
            namespaces
                .patch(
                    &ns,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "metadata": { "labels": { "tier": value } } })),
                )
                .await
                .unwrap();
        }
    };
    relabel(json!("web")).await;
    wait_reason(&b, "early", "Synced", &operator).await;
    wait_reason(&b, "late", "Synced", &operator).await;
    // Relabelled out again: NotPermitted again.
    relabel(Value::Null).await;
    wait_reason(&b, "late", "NotPermitted", &operator).await;
    // No policy at all: everyone may again.
    policy(&name, None);
    wait_reason(&b, "late", "Synced", &operator).await;
    wait_reason(&a, "outside", "Synced", &operator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_that_collide_on_a_gateway_are_refused_or_reported() {
    let mut bed = Bed::new("collide").await;
    let gateway = own_gateway(&bed);
    let operator = bed.operator(&[]);
    let with_priority = |prefix: &str, priority: i32| {
        let mut s = spec(&gateway, prefix);
        s["priority"] = json!(priority);
        s
    };
    let b = bed.api();
    bed.create(&bed.route("first", with_priority("/c/", 5)))
        .await;
    wait_reason(&b, "first", "Synced", &operator).await;
    let creates = bed.calls_of("CreateGatewayRoute");
    bed.create(&bed.route("second", with_priority("/c/", 5)))
        .await;
    let second = wait_reason(&b, "second", "RouteConflict", &operator).await;
    assert_eq!(condition(&second, "Stalled"), Some("True"));
    assert!(
        message(&second).starts_with(&format!(
            "{}/first is older and has the same match and priority on {MESH}/{gateway}",
            bed.ns
        )),
        "{}",
        message(&second)
    );
    assert_eq!(
        bed.calls_of("CreateGatewayRoute"),
        creates,
        "no App Mesh call for it"
    );

    // A narrower route App Mesh tries later: served never, reported, still Ready.
    bed.create(&bed.route("narrow", with_priority("/c/x", 9)))
        .await;
    let narrow = wait_reason(&b, "narrow", "Synced", &operator).await;
    assert_eq!(
        condition(&narrow, "Shadowed"),
        Some("True"),
        "{:?}",
        narrow.status
    );
    bed.wait_event("narrow", "Shadowed").await;

    // The older one goes: the younger gets its route, and now shadows the narrow one.
    bed.delete("first").await;
    wait_reason(&b, "second", "Synced", &operator).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let narrow = b.get("narrow").await.unwrap();
        let by = narrow
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Shadowed"))
            .map(|c| c.message.clone())
            .unwrap_or_default();
        if by.starts_with(&format!("{}/second is tried before", bed.ns)) {
            break;
        }
        assert!(Instant::now() < deadline, "narrow: {by}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Made disjoint: the warning goes.
    b.patch(
        "narrow",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "httpRoute": { "match": { "prefix": "/d/" } } } })),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while condition(&b.get("narrow").await.unwrap(), "Shadowed").is_some() {
        assert!(Instant::now() < deadline, "the Shadowed condition stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
