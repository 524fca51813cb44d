//! Ownership follows an object's identity, not its uid: the meshroute binary against the real
//! apiserver and the emulator, through the lives users give their objects (re-applied after a
//! delete with Retain, rebuilt with finalizers stripped, handed over with the adopt annotation)
//! and through the mistakes they make (a second install with another cluster id).

mod support;

use serde_json::json;
use support::{Bed, http2_spec};

const A: &str = "myservicea.svc.cluster.local";

fn retained(prefix: &str) -> serde_json::Value {
    let mut spec = http2_spec(A, prefix);
    spec["deletionPolicy"] = json!("Retain");
    spec
}

/// The App Mesh uid and version of a route.
fn instance(route: &serde_json::Value) -> (String, i64) {
    (
        route["metadata"]["uid"].as_str().unwrap().to_string(),
        route["metadata"]["version"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_recreated_object_takes_back_its_own_route() {
    let mut bed = Bed::new("recreate").await;
    let op = bed.operator(&["--resync-period", "0"]);
    bed.create(&bed.route("health-check", retained("/health")))
        .await;
    let first = bed.wait_ready("health-check", &op).await;
    let name = bed.mesh_name("health-check");
    let before = instance(&bed.app_mesh_route(&name).unwrap());

    // kubectl delete, then the same kubectl apply: a new object (new uid), the same identity.
    bed.delete("health-check").await;
    bed.wait("health-check", "deleted", &op, |r| r.is_none())
        .await;
    assert!(bed.app_mesh_route(&name).is_some(), "Retain kept the route");
    bed.create(&bed.route("health-check", retained("/health")))
        .await;
    let again = bed.wait_ready("health-check", &op).await;

    assert_ne!(again.metadata.uid, first.metadata.uid);
    let route = bed.app_mesh_route(&name).unwrap();
    assert_eq!(
        instance(&route),
        before,
        "the same App Mesh route, not updated"
    );
    assert_eq!(
        bed.tags_of(&route)["meshroute.io/uid"],
        again.metadata.uid.clone().unwrap(),
        "the ownership tag records the new object"
    );
    assert_eq!(bed.ok_calls_of("CreateGatewayRoute"), 1);
    assert_eq!(bed.ok_calls_of("UpdateGatewayRoute"), 0);
    bed.wait_event("health-check", "Adopted").await;
}

#[tokio::test]
async fn objects_rebuilt_with_finalizers_stripped_keep_their_routes() {
    let mut bed = Bed::new("rebuild").await;
    let names: Vec<String> = (0..5).map(|i| format!("route-{i}")).collect();
    let mut op = bed.operator(&["--resync-period", "0"]);
    for (i, name) in names.iter().enumerate() {
        bed.create(&bed.route(name, http2_spec(A, &format!("/r{i}"))))
            .await;
    }
    let mut before = Vec::new();
    for name in &names {
        bed.wait_ready(name, &op).await;
        before.push(instance(&bed.app_mesh_route(&bed.mesh_name(name)).unwrap()));
    }

    // The cluster is rebuilt from Git: meshroute is gone, the objects are deleted with their
    // finalizers stripped (as when a namespace is force-deleted), then applied again.
    op.kill();
    for name in &names {
        bed.merge(name, json!({ "metadata": { "finalizers": null } }))
            .await;
        bed.delete(name).await;
    }
    for name in &names {
        bed.wait(name, "deleted", &op, |r| r.is_none()).await;
    }
    assert_eq!(bed.app_mesh_route_names().len(), 5, "the routes stayed");
    bed.emulator.emulator.reset_counters();
    for (i, name) in names.iter().enumerate() {
        bed.create(&bed.route(name, http2_spec(A, &format!("/r{i}"))))
            .await;
    }
    let op = bed.operator(&["--resync-period", "0"]);
    for (name, before) in names.iter().zip(&before) {
        bed.wait_ready(name, &op).await;
        let route = bed.app_mesh_route(&bed.mesh_name(name)).unwrap();
        assert_eq!(
            &instance(&route),
            before,
            "{name}: the same route, version unchanged"
        );
        bed.wait_event(name, "Adopted").await;
    }
    assert_eq!(bed.app_mesh_route_names().len(), 5, "no duplicates");
    assert_eq!(bed.ok_calls_of("CreateGatewayRoute"), 0);
    assert_eq!(bed.ok_calls_of("UpdateGatewayRoute"), 0);
    // A create that found the name taken, then describe, tags and one re-tag each.
    assert_eq!(bed.ok_calls_of("TagResource"), 5);
}

#[tokio::test]
async fn adopt_takes_a_route_only_once_its_owner_is_gone() {
    let mut bed = Bed::new("handover").await;
    let op = bed.operator(&["--resync-period", "0"]);
    let mut old = retained("/old");
    old["gatewayRouteName"] = json!("shared");
    bed.create(&bed.route("old", old)).await;
    bed.wait_ready("old", &op).await;

    let mut new = bed.route("new", {
        let mut s = http2_spec(A, "/new");
        s["gatewayRouteName"] = json!("shared");
        s
    });
    new.metadata.annotations =
        Some([("meshroute.io/adopt".to_string(), "true".to_string())].into());
    bed.create(&new).await;
    let refused = bed.wait_reason("new", "NameInUse", &op).await;
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(message.contains("still exists"), "{message}");
    assert_eq!(
        bed.tags_of(&bed.app_mesh_route("shared").unwrap())["meshroute.io/name"],
        "old",
        "a live owner's route is not taken"
    );

    // The owner goes (Retain keeps its route): the adopt annotation now takes the route over.
    bed.delete("old").await;
    bed.wait("old", "deleted", &op, |r| r.is_none()).await;
    bed.wait_ready("new", &op).await;
    let route = bed.app_mesh_route("shared").unwrap();
    assert_eq!(bed.tags_of(&route)["meshroute.io/name"], "new");
    assert_eq!(
        route["spec"]["http2Route"]["match"]["prefix"], "/new",
        "brought to the adopter's spec"
    );
    bed.wait_event("new", "Adopted").await;
}

#[tokio::test]
async fn another_clusters_routes_are_never_touched() {
    let mut bed = Bed::new("clusters").await;
    let mut east = bed.operator(&["--cluster-id", "east", "--resync-period", "0"]);
    let names = ["one", "two", "three"];
    for name in names {
        bed.create(&bed.route(name, http2_spec(A, &format!("/{name}"))))
            .await;
    }
    for name in names {
        bed.wait_ready(name, &east).await;
    }
    east.kill();

    // A second install with another cluster id watches the same objects.
    bed.emulator.emulator.reset_counters();
    let west = bed.operator(&["--cluster-id", "west", "--resync-period", "0"]);
    for name in names {
        let refused = bed.wait_reason(name, "OwnedByOtherCluster", &west).await;
        let message = &refused.status.unwrap().conditions[0].message;
        assert!(
            message.contains("cluster 'east'") && message.contains("adopt-from-cluster=east"),
            "{message}"
        );
    }
    // An edit and a delete change nothing in App Mesh either.
    bed.merge("one", json!({ "spec": { "priority": 5 } })).await;
    bed.wait_reason("one", "OwnedByOtherCluster", &west).await;
    bed.delete("two").await;
    bed.wait("two", "deleted", &west, |r| r.is_none()).await;
    assert!(
        bed.app_mesh_route(&bed.mesh_name("two")).is_some(),
        "the other cluster's route is not deleted"
    );
    assert_eq!(bed.writes(), 0, "{}", bed.emulator.emulator.counters());
    bed.wait_event("three", "OwnedByOtherCluster").await;

    // The explicit opt-in moves a route to this cluster.
    bed.merge(
        "three",
        json!({ "metadata": { "annotations": { "meshroute.io/adopt-from-cluster": "east" } } }),
    )
    .await;
    bed.wait_reason("three", "Synced", &west).await;
    let route = bed.app_mesh_route(&bed.mesh_name("three")).unwrap();
    assert_eq!(bed.tags_of(&route)["meshroute.io/cluster"], "west");
}

#[tokio::test]
async fn shards_that_overlap_are_visible() {
    let mut bed = Bed::new("shards").await;
    // Two installs with the same cluster id whose selectors both match the same objects.
    let a = bed.operator(&["--lease-name", "shard-a", "--resync-period", "0"]);
    let b = bed.operator(&["--lease-name", "shard-b", "--resync-period", "0"]);
    bed.create(&bed.route("both", http2_spec(A, "/both"))).await;
    bed.wait_ready("both", &a).await;
    // Both reconciled the create at once; a later change shows one the other's mark (a few
    // tries, in case a shard's cache has not seen the other's status write yet).
    for priority in 2..=4 {
        bed.merge("both", json!({ "spec": { "priority": priority } }))
            .await;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if bed
            .event_reasons("both")
            .await
            .iter()
            .any(|r| r == "ShardOverlap")
        {
            break;
        }
    }
    bed.wait_event("both", "ShardOverlap").await;
    let (_, metrics_a) = a.get("/metrics").await;
    let (_, metrics_b) = b.get("/metrics").await;
    let counted =
        |m: &str| support::series_value(m, "meshroute_shard_overlaps_total").unwrap_or(0.0);
    assert!(
        counted(&metrics_a) + counted(&metrics_b) >= 1.0,
        "{metrics_a}\n{metrics_b}"
    );
    let shard = bed.api().get("both").await.unwrap().status.unwrap().shard;
    assert!(
        matches!(
            shard.as_deref(),
            Some("default/shard-a" | "default/shard-b")
        ),
        "{shard:?}"
    );
    assert_eq!(bed.app_mesh_route_names().len(), 1, "still one route");
}

/// Waits until `name` is Ready again; returns how long that took.
async fn ready_again(bed: &Bed, name: &str, op: &support::Operator) -> std::time::Duration {
    let started = std::time::Instant::now();
    bed.wait(name, "Ready again", op, |r| {
        r.is_some_and(|r| support::reason(r) == Some("Synced") && support::is_current(r))
    })
    .await;
    started.elapsed()
}

/// The Ready condition's status and reason of `name` now.
async fn ready(bed: &Bed, name: &str) -> (String, String) {
    let route = bed.api().get(name).await.unwrap();
    let ready = route
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready");
    ready.map(|c| (c.status, c.reason)).unwrap_or_default()
}

#[tokio::test]
async fn a_status_edited_by_hand_is_put_back_without_app_mesh_calls() {
    let mut bed = Bed::new("hand-status").await;
    let op = bed.operator(&[]);
    bed.create(&bed.route("edited", http2_spec(A, "/edited")))
        .await;
    bed.wait_ready("edited", &op).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let calls = bed.calls();
    let condition = json!({ "status": { "conditions": [{
        "type": "Ready", "status": "False", "reason": "Broken", "message": "edited by hand",
        "lastTransitionTime": "2026-12-01T00:00:00Z", "observedGeneration": 1 }] } });
    let (ok, out, err) = support::run(
        "kubectl",
        &[
            "patch",
            "gatewayroute",
            "edited",
            "-n",
            &bed.ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            &condition.to_string(),
        ],
        None,
    );
    assert!(ok, "kubectl patch: {out}{err}");
    let took = ready_again(&bed, "edited", &op).await;
    eprintln!(
        "a hand-edited status was put back in {:.1} s",
        took.as_secs_f64()
    );
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(
        bed.calls(),
        calls,
        "App Mesh calls to put back an in-sync status: {}",
        bed.emulator.emulator.counters()
    );
}

#[tokio::test]
async fn a_second_install_leaves_the_status_of_an_object_it_does_not_own_alone() {
    let mut bed = Bed::new("two-installs").await;
    let mine = bed.operator(&["--cluster-id", "east", "--lease-name", "east"]);
    bed.create(&bed.route("shared", http2_spec(A, "/shared")))
        .await;
    bed.wait_ready("shared", &mine).await;

    // By mistake, a second install with another cluster id watches the same objects.
    let mut other = bed.operator(&["--cluster-id", "west", "--lease-name", "west"]);
    bed.wait_event("shared", "OtherInstall").await;
    for _ in 0..20 {
        assert_eq!(
            ready(&bed, "shared").await,
            ("True".into(), "Synced".into()),
            "the second install replaced the status:\n{}",
            other.log_tail()
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (_, metrics) = other.get("/metrics").await;
    assert!(
        support::series_value(&metrics, "meshroute_shard_overlaps_total") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        other
            .log()
            .contains("this install leaves that status alone")
    );
    other.terminate(std::time::Duration::from_secs(20)).await;

    // What an install without this rule wrote (another field manager, another shard, not
    // Ready) is put back by the install that owns the route, with no App Mesh call.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let calls = bed.calls();
    let api = bed.api();
    let mut status = api.get("shared").await.unwrap().status.unwrap();
    status.shard = Some("default/west".into());
    status.conditions[0].status = "False".into();
    status.conditions[0].reason = "OwnedByOtherCluster".into();
    api.patch_status(
        "shared",
        &kube::api::PatchParams::apply("meshroute-west").force(),
        &kube::api::Patch::Apply(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute", "status": status })),
    )
    .await
    .unwrap();
    let took = ready_again(&bed, "shared", &mine).await;
    eprintln!(
        "another install's status was put back in {:.1} s",
        took.as_secs_f64()
    );
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(
        bed.calls(),
        calls,
        "App Mesh calls to put the status back: {}",
        bed.emulator.emulator.counters()
    );
    let shard = api.get("shared").await.unwrap().status.unwrap().shard;
    assert_eq!(shard.as_deref(), Some("default/east"));
}
