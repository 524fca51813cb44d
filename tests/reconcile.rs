//! The operator end to end: the meshroute binary against the real apiserver and the App Mesh
//! emulator, through create, update, delete, drift, crashes, conflicts, missing dependencies and
//! injected App Mesh failures.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Bed, http2_spec, reason};

const A: &str = "myservicea.svc.cluster.local";
const B: &str = "myserviceb.svc.cluster.local";

fn target_of(route: &serde_json::Value) -> String {
    let spec = &route["spec"];
    ["grpcRoute", "httpRoute", "http2Route"]
        .iter()
        .find_map(|k| spec[k]["action"]["target"]["virtualService"]["virtualServiceName"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn each_route_kind_is_created_updated_and_deleted() {
    let mut bed = Bed::new("lifecycle").await;
    let op = bed.operator(&["--resync-period", "0"]);
    let m = meshroute_testbed::MESH;
    let g = meshroute_testbed::GATEWAY;
    let specs = [
        (
            "grpc",
            json!({ "meshName": m, "virtualGatewayName": g,
            "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" },
                "action": { "target": { "virtualService": { "virtualServiceName": "grpc-echo.svc.cluster.local" } } } } }),
        ),
        (
            "http",
            json!({ "meshName": m, "virtualGatewayName": g,
            "httpRoute": { "match": { "prefix": "/api/", "method": "GET" },
                "action": { "target": { "virtualService": { "virtualServiceName": A } } } } }),
        ),
        ("http2", http2_spec(A, "/")),
    ];
    for (name, spec) in &specs {
        bed.create(&bed.route(name, spec.clone())).await;
    }
    for (name, _) in &specs {
        let ready = bed.wait_ready(name, &op).await;
        let status = ready.status.as_ref().unwrap();
        let in_mesh = bed
            .app_mesh_route(&bed.mesh_name(name))
            .expect("the route exists in App Mesh");
        assert_eq!(status.arn.as_deref(), in_mesh["metadata"]["arn"].as_str());
        assert_eq!(status.version, Some(1));
        assert_eq!(status.aws_status.as_deref(), Some("ACTIVE"));
        assert_eq!(status.route_kind.as_deref(), Some(*name));
        assert!(
            ready
                .metadata
                .finalizers
                .as_ref()
                .unwrap()
                .contains(&"meshroute.io/finalizer".into())
        );

        bed.merge(name, json!({ "spec": { "priority": 7 } })).await;
        let updated = bed
            .wait(name, "version 2", &op, |r| {
                r.is_some_and(|r| {
                    support::is_current(r) && r.status.as_ref().unwrap().version == Some(2)
                })
            })
            .await
            .unwrap();
        assert_eq!(reason(&updated), Some("Synced"));
        assert_eq!(
            bed.app_mesh_route(&bed.mesh_name(name)).unwrap()["spec"]["priority"],
            7
        );
        let events = bed.event_reasons(name).await;
        assert!(
            events.contains(&"Created".into()) && events.contains(&"Updated".into()),
            "{events:?}"
        );

        bed.delete(name).await;
        bed.wait(name, "deleted", &op, |r| r.is_none()).await;
        assert!(
            bed.app_mesh_route(&bed.mesh_name(name)).is_none(),
            "{name} is gone from App Mesh too"
        );
    }
    assert!(bed.app_mesh_route_names().is_empty());
    // Each change to App Mesh is logged once at info, naming the object, the route and version.
    let changes: Vec<(String, String, Value)> = support::info_lines(&op.log())
        .into_iter()
        .filter(|l| l.get("change").is_some())
        .map(|l| {
            let object = l["span"]["object"].as_str().unwrap_or_default();
            let name = object.rsplit('/').next().unwrap_or_default().to_string();
            assert_eq!(l["app_mesh_route"], bed.mesh_name(&name), "{l}");
            (
                name,
                l["change"].as_str().unwrap().to_string(),
                l["version"].clone(),
            )
        })
        .collect();
    for (name, _) in &specs {
        let of: Vec<(&str, &Value)> = changes
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, change, version)| (change.as_str(), version))
            .collect();
        assert_eq!(
            of,
            [
                ("Created", &json!(1)),
                ("Updated", &json!(2)),
                ("Deleted", &Value::Null)
            ],
            "{name}: {changes:?}"
        );
    }
}

#[tokio::test]
async fn retain_keeps_the_route_and_out_of_band_changes_are_undone() {
    let mut bed = Bed::new("drift").await;
    let op = bed.operator(&["--resync-period", "2s"]);
    let mut keep = http2_spec(A, "/keep");
    keep["deletionPolicy"] = json!("Retain");
    bed.create(&bed.route("keep", keep)).await;
    bed.create(&bed.route("drift", http2_spec(A, "/drift")))
        .await;
    bed.wait_ready("keep", &op).await;
    let first = bed.wait_ready("drift", &op).await;
    let first_uid = first.status.unwrap().uid.unwrap();

    // Deleted in App Mesh behind meshroute's back: created again at the next drift check.
    bed.emulator
        .emulator
        .invoke(
            "DeleteGatewayRoute",
            &json!({ "meshName": meshroute_testbed::MESH,
            "virtualGatewayName": meshroute_testbed::GATEWAY, "gatewayRouteName": bed.mesh_name("drift") }),
        )
        .unwrap();
    let recreated = bed
        .wait("drift", "re-created", &op, |r| {
            r.and_then(|r| r.status.as_ref()?.uid.clone())
                .is_some_and(|uid| uid != first_uid)
        })
        .await
        .unwrap();
    assert_eq!(
        recreated.status.as_ref().unwrap().uid.as_deref(),
        bed.app_mesh_route(&bed.mesh_name("drift")).unwrap()["metadata"]["uid"].as_str()
    );

    // Edited in App Mesh behind meshroute's back: put back at the next drift check.
    let mut edited = bed.app_mesh_route(&bed.mesh_name("drift")).unwrap();
    edited["spec"]["http2Route"]["action"]["target"]["virtualService"]["virtualServiceName"] =
        json!(B);
    bed.emulator
        .emulator
        .invoke(
            "UpdateGatewayRoute",
            &json!({ "meshName": meshroute_testbed::MESH,
            "virtualGatewayName": meshroute_testbed::GATEWAY, "gatewayRouteName": bed.mesh_name("drift"),
            "spec": { "http2Route": edited["spec"]["http2Route"] } }),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while target_of(&bed.app_mesh_route(&bed.mesh_name("drift")).unwrap()) != A {
        assert!(
            std::time::Instant::now() < deadline,
            "drift not reverted:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = bed.event_reasons("drift").await;
    assert!(
        events.contains(&"Recreated".into()) && events.contains(&"DriftCorrected".into()),
        "{events:?}"
    );

    // Retain: the object goes, the App Mesh route stays.
    bed.delete("keep").await;
    bed.wait("keep", "deleted", &op, |r| r.is_none()).await;
    assert!(
        bed.app_mesh_route(&bed.mesh_name("keep")).is_some(),
        "Retain left the route in App Mesh"
    );
}

#[tokio::test]
async fn a_crash_between_create_and_status_write_leaves_exactly_one_route() {
    let mut bed = Bed::new("crash").await;
    let mut op = bed.operator(&["--resync-period", "0"]);
    // App Mesh makes the route at once but answers 20 s later; the operator dies meanwhile.
    bed.emulator
        .emulator
        .add_fault(
            serde_json::from_value(
                json!({ "operation": "CreateGatewayRoute", "respondAfterMs": 20000 }),
            )
            .unwrap(),
        )
        .unwrap();
    bed.create(&bed.route("same", http2_spec(A, "/same"))).await;
    bed.create(&bed.route("changed", http2_spec(A, "/changed")))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while bed.app_mesh_route_names().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "creates never reached App Mesh:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    op.kill();
    bed.emulator.emulator.clear_faults();
    for name in ["same", "changed"] {
        let r = bed.api().get(name).await.unwrap();
        assert!(
            r.status.as_ref().and_then(|s| s.arn.as_ref()).is_none(),
            "no status was written before the crash"
        );
    }
    // One object is edited while the operator is down: its create is no longer the same request.
    bed.merge("changed", json!({ "spec": { "priority": 3 } }))
        .await;

    let op = bed.operator(&["--resync-period", "0"]);
    for name in ["same", "changed"] {
        let ready = bed.wait_ready(name, &op).await;
        let in_mesh = bed.app_mesh_route(&bed.mesh_name(name)).unwrap();
        assert_eq!(
            ready.status.as_ref().unwrap().uid.as_deref(),
            in_mesh["metadata"]["uid"].as_str()
        );
    }
    let mut names = bed.app_mesh_route_names();
    names.sort();
    assert_eq!(
        names,
        [bed.mesh_name("changed"), bed.mesh_name("same")],
        "exactly one App Mesh route per object"
    );
    assert_eq!(
        bed.app_mesh_route(&bed.mesh_name("changed")).unwrap()["spec"]["priority"],
        3
    );
    bed.wait_event("changed", "Adopted").await;
}

#[tokio::test]
async fn a_taken_name_is_not_stolen() {
    let mut bed = Bed::new("names").await;
    let op = bed.operator(&["--resync-period", "0"]);
    let mut spec = http2_spec(A, "/shared");
    spec["gatewayRouteName"] = json!("shared");
    bed.create(&bed.route("first", spec.clone())).await;
    let first = bed.wait_ready("first", &op).await;

    // The same App Mesh name from another namespace, same operator.
    let other_ns = meshroute_testbed::namespace(&bed.client, "names-other")
        .await
        .unwrap();
    let mut second = bed.route("second", {
        let mut s = spec.clone();
        s["http2Route"]["action"]["target"]["virtualService"]["virtualServiceName"] = json!(B);
        s
    });
    second.metadata.namespace = Some(other_ns.clone());
    let other: kube::Api<meshroute::api::GatewayRoute> =
        kube::Api::namespaced(bed.client.clone(), &other_ns);
    other.create(&Default::default(), &second).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let r = other.get("second").await.unwrap();
        if reason(&r) == Some("NameInUse") {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "second never refused:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = &refused.status.as_ref().unwrap().conditions[0].message;
    assert!(
        message.contains(&format!("GatewayRoute {}/first", bed.ns)),
        "{message}"
    );
    let in_mesh = bed.app_mesh_route("shared").unwrap();
    assert_eq!(
        in_mesh["metadata"]["version"], 1,
        "the first object's route was not touched"
    );
    assert_eq!(target_of(&in_mesh), A);
    assert_eq!(
        first.status.unwrap().uid.as_deref(),
        in_mesh["metadata"]["uid"].as_str()
    );

    // A route nobody owns is taken only on request.
    bed.emulator
        .emulator
        .invoke(
            "CreateGatewayRoute",
            &json!({ "meshName": meshroute_testbed::MESH,
            "virtualGatewayName": meshroute_testbed::GATEWAY, "gatewayRouteName": "orphan",
            "spec": { "httpRoute": { "match": { "prefix": "/o" },
                "action": { "target": { "virtualService": { "virtualServiceName": B } } } } } }),
        )
        .unwrap();
    let mut orphan = http2_spec(A, "/orphan");
    orphan["gatewayRouteName"] = json!("orphan");
    bed.create(&bed.route("orphan", orphan)).await;
    let unowned = bed.wait_reason("orphan", "NameInUse", &op).await;
    assert!(
        unowned.status.unwrap().conditions[0]
            .message
            .contains("meshroute.io/adopt=true")
    );
    bed.merge(
        "orphan",
        json!({ "metadata": { "annotations": { "meshroute.io/adopt": "true" } } }),
    )
    .await;
    // An annotation does not move the generation; wait for the reason itself.
    bed.wait_reason("orphan", "Synced", &op).await;
    let adopted = bed.app_mesh_route("orphan").unwrap();
    assert_eq!(target_of(&adopted), A, "adopted and brought to the spec");
    let tags = bed.tags_of(&adopted);
    assert!(tags.contains_key("meshroute.io/uid"), "{tags:?}");
}

#[tokio::test]
async fn a_missing_mesh_is_reported_and_the_route_appears_once_it_exists() {
    let mut bed = Bed::new("dependency").await;
    let op = bed.operator(&["--resync-period", "0"]);
    let spec = json!({ "meshName": "later", "virtualGatewayName": "gw-later",
        "httpRoute": { "match": { "prefix": "/" },
            "action": { "target": { "virtualService": { "virtualServiceName": "svc-later" } } } } });
    bed.create(&bed.route("waiting", spec)).await;
    let waiting = bed.wait_reason("waiting", "DependencyNotFound", &op).await;
    let message = &waiting.status.as_ref().unwrap().conditions[0].message;
    assert!(message.contains("mesh later does not exist"), "{message}");
    assert!(message.contains("set meshOwner"), "{message}");
    // The failure is logged at WARN (just after the status is written), once per key: a strict
    // JSON parser reads every line.
    let warned = |log: &str| {
        log.lines()
            .any(|l| l.contains("\"level\":\"WARN\"") && l.contains("not in sync"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !warned(&op.log()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = op.log();
    assert!(warned(&log), "{log}");
    for line in log.lines() {
        let dupes = support::duplicate_keys(line);
        assert!(dupes.is_empty(), "keys {dupes:?} twice in: {line}");
    }

    // A wrong meshOwner is named, with what a shared mesh needs.
    let mut shared = http2_spec(A, "/shared-mesh");
    shared["meshOwner"] = json!("999999999999");
    bed.create(&bed.route("wrong-owner", shared)).await;
    let refused = bed
        .wait_reason("wrong-owner", "DependencyNotFound", &op)
        .await;
    let message = &refused.status.as_ref().unwrap().conditions[0].message;
    assert!(
        message.contains("account 999999999999") && message.contains("RAM resource share"),
        "{message}"
    );

    let em = &bed.emulator.emulator;
    em.invoke("CreateMesh", &json!({ "meshName": "later" }))
        .unwrap();
    bed.wait("waiting", "waiting for the gateway", &op, |r| {
        r.is_some_and(|r| {
            r.status.as_ref().unwrap().conditions[0]
                .message
                .contains("virtual gateway gw-later")
        })
    })
    .await;
    em.invoke(
        "CreateVirtualGateway",
        &json!({ "meshName": "later", "virtualGatewayName": "gw-later",
        "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
    )
    .unwrap();
    em.invoke(
        "CreateVirtualService",
        &json!({ "meshName": "later", "virtualServiceName": "svc-later", "spec": {} }),
    )
    .unwrap();
    let ready = bed.wait_ready("waiting", &op).await;
    assert!(
        ready
            .status
            .unwrap()
            .arn
            .unwrap()
            .contains("mesh/later/virtualGateway/gw-later")
    );
}

#[tokio::test]
async fn fifty_routes_converge_through_thirty_percent_failures() {
    let mut bed = Bed::new("faults").await;
    let op = bed.operator(&["--resync-period", "0", "--concurrency", "8"]);
    let em = &bed.emulator.emulator;
    // 10% each of 429, 500 and 503, on every operation: 30% of calls fail.
    for (status, p) in [(429, 0.1), (500, 0.1 / 0.9), (503, 0.1 / 0.8)] {
        em.add_fault(
            serde_json::from_value(json!({ "status": status, "probability": p })).unwrap(),
        )
        .unwrap();
    }
    em.reset_counters();
    for i in 0..50 {
        bed.create(&bed.route(&format!("r{i}"), http2_spec(A, &format!("/r{i}"))))
            .await;
    }
    for i in 0..50 {
        bed.wait_ready(&format!("r{i}"), &op).await;
    }
    let calls = bed.calls();
    eprintln!("50 creates through 30% injected failures: {calls} App Mesh calls");
    // One create per object when nothing fails; with 30% failing, about 1.4. The bound leaves
    // room for unlucky streaks but fails if anything loops or describes needlessly.
    assert!(calls <= 50 * 3, "{calls} App Mesh calls for 50 creates");
    assert_eq!(bed.app_mesh_route_names().len(), 50);

    // App Mesh refusing a spec stops the calls until the spec changes.
    em.clear_faults();
    let mut bad = http2_spec(A, "/bad");
    bad["http2Route"]["action"]["rewrite"] = json!({ "path": { "exact": "/elsewhere" } });
    bed.create(&bed.route("bad", bad)).await;
    let refused = bed.wait_reason("bad", "InvalidSpec", &op).await;
    assert!(
        refused.status.unwrap().conditions[0]
            .message
            .contains("BadRequestException")
    );
    let before = bed.calls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(bed.calls(), before, "no calls while the spec stays wrong");
    bed.merge(
        "bad",
        json!({ "spec": { "http2Route": { "action": { "rewrite": null } } } }),
    )
    .await;
    bed.wait_ready("bad", &op).await;

    // A regular expression Envoy could not load is refused before any App Mesh call.
    let calls = bed.calls();
    let mut regex = http2_spec(A, "/");
    regex["http2Route"]["match"] = json!({ "path": { "regex": "([" } });
    bed.create(&bed.route("bad-regex", regex)).await;
    let refused = bed.wait_reason("bad-regex", "InvalidSpec", &op).await;
    let message = &refused.status.as_ref().unwrap().conditions[0].message;
    assert!(
        message.contains("spec.http2Route.match.path.regex"),
        "{message}"
    );
    assert_eq!(bed.calls(), calls, "nothing reached App Mesh");
}

#[tokio::test]
async fn an_iam_denial_reads_as_access_denied() {
    let mut bed = Bed::new("iam").await;
    let op = bed.operator(&["--resync-period", "0"]);
    // What IAM answers for a missing permission: 403 AccessDeniedException.
    bed.emulator
        .emulator
        .add_fault(
            serde_json::from_value(json!({ "operation": "CreateGatewayRoute", "status": 403,
                "errorType": "AccessDeniedException",
                "message": "User is not authorized to perform: appmesh:CreateGatewayRoute" }))
            .unwrap(),
        )
        .unwrap();
    bed.create(&bed.route("denied", http2_spec(A, "/denied")))
        .await;
    let denied = bed.wait_reason("denied", "AccessDenied", &op).await;
    let message = &denied.status.as_ref().unwrap().conditions[0].message;
    assert!(
        message.contains("AccessDeniedException") && message.contains("IAM"),
        "{message}"
    );
    // Terminal until a slow retry: no hammering (the test's --retry-max is 5 s).
    let calls = bed.calls_of("CreateGatewayRoute");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(bed.calls_of("CreateGatewayRoute") <= calls + 1);
}

#[tokio::test]
async fn steady_state_costs_no_calls_and_no_writes() {
    let mut bed = Bed::new("steady").await;
    let op = bed.operator(&["--resync-period", "0"]);
    for i in 0..5 {
        bed.create(&bed.route(&format!("s{i}"), http2_spec(A, &format!("/s{i}"))))
            .await;
    }
    for i in 0..5 {
        bed.wait_ready(&format!("s{i}"), &op).await;
    }
    // Let the last status writes' own watch events come and go.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let versions = |list: Vec<meshroute::api::GatewayRoute>| {
        list.into_iter()
            .map(|r| r.metadata.resource_version.unwrap())
            .collect::<Vec<_>>()
    };
    let calls = bed.calls();
    let before = versions(bed.api().list(&Default::default()).await.unwrap().items);
    let info_before = support::info_lines(&op.log()).len();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let quiet = support::info_lines(&op.log());
    assert_eq!(
        quiet.len(),
        info_before,
        "lines at info in a minute of steady state: {:?}",
        &quiet[info_before..]
    );
    assert_eq!(
        bed.calls(),
        calls,
        "App Mesh calls in a minute of steady state"
    );
    let after = versions(bed.api().list(&Default::default()).await.unwrap().items);
    assert_eq!(before, after, "status writes in a minute of steady state");
}

#[tokio::test]
async fn an_unreachable_app_mesh_keeps_the_finalizer_until_the_delete_succeeds() {
    let mut bed = Bed::new("delete-fails").await;
    let op = bed.operator(&["--resync-period", "0"]);
    bed.create(&bed.route("kept", http2_spec(A, "/kept"))).await;
    bed.wait_ready("kept", &op).await;

    // App Mesh answers nothing but 503 while the object is deleted.
    bed.emulator
        .emulator
        .add_fault(serde_json::from_value(json!({ "status": 503 })).unwrap())
        .unwrap();
    bed.delete("kept").await;
    let failing = bed
        .wait("kept", "DeleteFailed", &op, |r| {
            r.is_some_and(|r| reason(r) == Some("DeleteFailed"))
        })
        .await
        .unwrap();
    let message = &failing.status.as_ref().unwrap().conditions[0].message;
    assert!(
        message.contains("ServiceUnavailableException"),
        "the condition says why: {message}"
    );
    assert!(failing.metadata.deletion_timestamp.is_some());
    assert!(
        failing
            .metadata
            .finalizers
            .as_ref()
            .unwrap()
            .contains(&"meshroute.io/finalizer".into())
    );
    assert!(
        bed.app_mesh_route(&bed.mesh_name("kept")).is_some(),
        "the route is still there, and still tracked"
    );
    bed.wait_event("kept", "DeleteFailed").await;

    bed.emulator.emulator.clear_faults();
    bed.wait("kept", "deleted", &op, |r| r.is_none()).await;
    assert!(
        bed.app_mesh_route(&bed.mesh_name("kept")).is_none(),
        "nothing leaked"
    );
}

#[tokio::test]
async fn a_finalizer_removed_by_hand_leaves_no_state_behind() {
    let mut bed = Bed::new("by-hand").await;
    let op = bed.operator(&["--resync-period", "0"]);
    bed.create(&bed.route("stuck", http2_spec(A, "/stuck")))
        .await;
    bed.wait_ready("stuck", &op).await;
    // Deleting fails for good, so the user removes the finalizer by hand (the README's way out).
    bed.emulator
        .emulator
        .add_fault(serde_json::from_value(json!({ "status": 503 })).unwrap())
        .unwrap();
    bed.delete("stuck").await;
    bed.wait("stuck", "DeleteFailed", &op, |r| {
        r.is_some_and(|r| reason(r) == Some("DeleteFailed"))
    })
    .await;
    let gauge = |metrics: &str, reason: &str| {
        support::series_value(
            metrics,
            &format!("meshroute_gatewayroutes{{reason=\"{reason}\"}}"),
        )
    };
    // The gauge follows the status write; under load it may lag it by a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (_, metrics) = op.get("/metrics").await;
        if gauge(&metrics, "DeleteFailed") == Some(1.0) || std::time::Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(gauge(&metrics, "DeleteFailed"), Some(1.0), "{metrics}");
    let delete_errors = support::series_value(
        &metrics,
        "meshroute_reconcile_errors_total{error=\"delete\"}",
    );
    assert!(delete_errors >= Some(1.0), "{metrics}");
    bed.merge("stuck", json!({ "metadata": { "finalizers": null } }))
        .await;
    bed.wait("stuck", "gone", &op, |r| r.is_none()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = op.get("/metrics").await;
        if gauge(&metrics, "DeleteFailed") == Some(0.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gone object is still counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every metric in the README's table is on a fresh operator's /metrics, and each documented
/// fixed label value is there at 0, so `increase(...[1h])` reads 0 rather than nothing.
#[tokio::test]
async fn documented_metrics_exist_at_zero_on_a_fresh_operator() {
    let mut bed = Bed::new("fresh-metrics").await;
    let op = bed.operator(&[]);
    let readme = std::fs::read_to_string(meshroute_testbed::repo_root().join("README.md")).unwrap();
    let documented: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `meshroute_"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(
        documented.len() >= 13,
        "the README's metrics table: {documented:?}"
    );
    let (_, metrics) = op.get("/metrics").await;
    for name in &documented {
        let name = format!("meshroute_{name}");
        assert!(
            metrics.lines().any(|l| l.starts_with(&name)),
            "{name} is missing from a fresh /metrics:\n{metrics}"
        );
    }
    let zero = |series: &str| {
        assert!(
            metrics.lines().any(|l| l == format!("{series} 0")),
            "{series} is not 0 on a fresh /metrics:\n{metrics}"
        )
    };
    for error in ["kube", "delete", "not_leader"] {
        zero(&format!(
            "meshroute_reconcile_errors_total{{error=\"{error}\"}}"
        ));
    }
    for result in [
        "Synced",
        "DependencyNotFound",
        "Deleted",
        "Retained",
        "Released",
        "DeleteFailed",
    ] {
        zero(&format!(
            "meshroute_reconciles_total{{result=\"{result}\"}}"
        ));
    }
    for reason in ["Synced", "AppMeshUnavailable", "NameInUse"] {
        zero(&format!("meshroute_gatewayroutes{{reason=\"{reason}\"}}"));
    }
    for (operation, outcome) in [
        ("CreateGatewayRoute", "ok"),
        ("CreateGatewayRoute", "throttled"),
        ("ListGatewayRoutes", "server_error"),
        ("DeleteGatewayRoute", "transport"),
    ] {
        zero(&format!(
            "meshroute_appmesh_calls_total{{operation=\"{operation}\",outcome=\"{outcome}\"}}"
        ));
    }
}
