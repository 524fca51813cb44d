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
    let counted = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("meshroute_shard_overlaps_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
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
