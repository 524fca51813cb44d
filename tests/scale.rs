//! Many routes on a small App Mesh budget: drift checks cost pages, not routes, and never hold
//! up a user's new route; objects waiting for a missing dependency share one probe and do not
//! hold up anyone else's; a restart and a mass delete are proven by pages too.

mod support;

use std::time::{Duration, Instant};

use kube::api::{DeleteParams, ListParams};
use meshroute::api::GatewayRoute;
use serde_json::json;
use support::{Bed, http2_spec, is_current, reason};

const A: &str = "myservicea.svc.cluster.local";

/// Creates `n` routes `<prefix>-<i>` targeting `target`.
async fn create_many(bed: &Bed, prefix: &str, n: usize, target: &str) {
    for i in 0..n {
        bed.create(&bed.route(
            &format!("{prefix}-{i}"),
            http2_spec(target, &format!("/{prefix}/{i}")),
        ))
        .await;
    }
}

/// Waits (up to `limit`) until `n` objects named `<prefix>-*` have the Ready reason `wanted`.
async fn wait_all(bed: &Bed, prefix: &str, n: usize, wanted: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let list = bed.api().list(&ListParams::default()).await.unwrap();
        let done = list
            .items
            .iter()
            .filter(|r| {
                r.metadata
                    .name
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with(&format!("{prefix}-"))
                    && is_current(r)
                    && reason(r) == Some(wanted)
            })
            .count();
        if done >= n {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{done}/{n} {prefix} objects {wanted} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Time from create to Ready of one new route.
async fn apply_to_ready(bed: &Bed, name: &str, op: &support::Operator) -> Duration {
    let start = Instant::now();
    bed.create(&bed.route(name, http2_spec(A, &format!("/{name}"))))
        .await;
    bed.wait_ready(name, op).await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_passes_cost_pages_and_never_hold_up_new_routes() {
    let mut bed = Bed::new("pages").await;
    // 300 routes checked every 3 s: describing each (2 calls a route) would need 200 calls/s;
    // the budget is 20.
    let op = bed.operator(&[
        "--resync-period",
        "3s",
        "--tag-check-period",
        "20s",
        "--appmesh-rps",
        "20",
        "--appmesh-burst",
        "20",
    ]);
    create_many(&bed, "r", 300, A).await;
    wait_all(&bed, "r", 300, "Synced", Duration::from_secs(120)).await;

    // Steady passes: one ListGatewayRoutes call per 100 routes (one gateway), no Describe.
    bed.emulator.emulator.reset_counters();
    let window = Instant::now();
    let during = apply_to_ready(&bed, "new-during-passes", &op).await;
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(window.elapsed())).await;
    let lists = bed.calls_of("ListGatewayRoutes");
    let passes = 9 / 3;
    assert!(
        (3..=(passes + 1) * 4).contains(&lists),
        "{lists} ListGatewayRoutes calls in {passes} passes over 300 routes\n{}",
        op.log()
            .lines()
            .filter(|l| l.contains("drift"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        bed.calls_of("DescribeGatewayRoute"),
        0,
        "nothing changed, nothing described"
    );
    assert!(
        during < Duration::from_secs(3),
        "a new route took {during:?} to become Ready during drift passes"
    );

    // Out of band: an update, a delete and a tag change are all found and put back.
    let name = |i: usize| bed.mesh_name(&format!("r-{i}"));
    let mut edited = bed.app_mesh_route(&name(1)).unwrap();
    edited["spec"]["http2Route"]["match"]["prefix"] = json!("/edited");
    let am = &bed.emulator.emulator;
    am.invoke(
        "UpdateGatewayRoute",
        &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY,
                 "gatewayRouteName": name(1), "spec": { "http2Route": edited["spec"]["http2Route"] } }),
    )
    .unwrap();
    am.invoke(
        "DeleteGatewayRoute",
        &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY,
                 "gatewayRouteName": name(2) }),
    )
    .unwrap();
    let tagged = bed.app_mesh_route(&name(3)).unwrap();
    am.invoke(
        "UntagResource",
        &json!({ "resourceArn": tagged["metadata"]["arn"], "tagKeys": ["meshroute.io/uid"] }),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let prefix =
            bed.app_mesh_route(&name(1)).unwrap()["spec"]["http2Route"]["match"]["prefix"].clone();
        let back = bed.app_mesh_route(&name(2)).is_some();
        let tags = bed.tags_of(&bed.app_mesh_route(&name(3)).unwrap());
        if prefix == json!("/r/1") && back && tags.contains_key("meshroute.io/uid") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "drift not put back: prefix {prefix}, re-created {back}, tags {tags:?}\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Only the changed routes were described.
    assert!(
        bed.calls_of("DescribeGatewayRoute") <= 4,
        "{} Describe calls for 2 changed routes",
        bed.calls_of("DescribeGatewayRoute")
    );

    // A mass delete is proven by pages: one DeleteGatewayRoute per route, no tag reads.
    bed.emulator.emulator.reset_counters();
    bed.api()
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !bed
        .api()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "objects not deleted:\n{}",
            op.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(bed.ok_calls_of("DeleteGatewayRoute"), 301);
    let tag_reads = bed.calls_of("ListTagsForResource");
    assert!(tag_reads <= 15, "{tag_reads} tag reads for 301 deletes");
    assert!(bed.app_mesh_route_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_waiting_for_a_missing_service_share_one_probe_and_hold_up_nobody() {
    let mut bed = Bed::new("waiting").await;
    let op = bed.operator(&["--appmesh-rps", "10", "--appmesh-burst", "10"]);
    let missing = "coming-soon.svc.cluster.local";
    create_many(&bed, "w", 100, missing).await;
    wait_all(
        &bed,
        "w",
        100,
        "DependencyNotFound",
        Duration::from_secs(60),
    )
    .await;

    // While they wait (their retries are due every few seconds), the App Mesh budget is free:
    // one shared probe per retry period (--retry-max 5s in tests), no creates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    bed.emulator.emulator.reset_counters();
    let mut latencies = Vec::new();
    for i in 0..20 {
        latencies.push(apply_to_ready(&bed, &format!("valid-{i}"), &op).await);
    }
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(latencies.iter().sum())).await;
    latencies.sort();
    assert!(
        latencies[19] < Duration::from_secs(3),
        "new routes waited behind failing ones: {latencies:?}"
    );
    let probes = bed.calls_of("DescribeVirtualService");
    assert!(
        probes <= 4,
        "{probes} probes in 10 s for one missing service"
    );
    assert_eq!(
        bed.calls_of("CreateGatewayRoute"),
        20,
        "only the valid routes tried to create"
    );

    // It appears: every waiter proceeds at once, without waiting out its own backoff.
    bed.emulator
        .emulator
        .invoke(
            "CreateVirtualService",
            &json!({ "meshName": meshroute_testbed::MESH, "virtualServiceName": missing, "spec": {} }),
        )
        .unwrap();
    let took = wait_all(&bed, "w", 100, "Synced", Duration::from_secs(60)).await;
    assert!(
        took < Duration::from_secs(25),
        "waiters took {took:?} after the service appeared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_verifies_in_sync_routes_by_page() {
    let mut bed = Bed::new("restart").await;
    let mut op = bed.operator(&["--tag-check-period", "0"]);
    create_many(&bed, "s", 150, A).await;
    wait_all(&bed, "s", 150, "Synced", Duration::from_secs(90)).await;
    op.kill();
    // While it is down, one route is changed and another deleted out of band.
    let (name_3, name_5) = (bed.mesh_name("s-3"), bed.mesh_name("s-5"));
    let am = &bed.emulator.emulator;
    let mut edited = bed.app_mesh_route(&name_3).unwrap();
    edited["spec"]["http2Route"]["match"]["prefix"] = json!("/edited");
    am.invoke(
        "UpdateGatewayRoute",
        &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY,
                 "gatewayRouteName": name_3, "spec": { "http2Route": edited["spec"]["http2Route"] } }),
    )
    .unwrap();
    am.invoke(
        "DeleteGatewayRoute",
        &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY,
                 "gatewayRouteName": name_5 }),
    )
    .unwrap();
    let deleted_uid = bed.api().get("s-5").await.unwrap().status.unwrap().uid;
    bed.emulator.emulator.reset_counters();
    // The default drift period (10 minutes): only the start-up pass can find those two.
    let op = bed.operator(&["--tag-check-period", "0"]);
    // A change made to an object while it was down is reconciled as usual.
    bed.merge(
        "s-7",
        json!({ "spec": { "http2Route": { "match": { "prefix": "/moved" } } } }),
    )
    .await;
    let changed = bed
        .wait("s-7", "updated", &op, |r| {
            r.is_some_and(|r| is_current(r) && reason(r) == Some("Synced"))
        })
        .await
        .unwrap();
    assert_eq!(changed.status.unwrap().version, Some(2));
    let version = |r: &GatewayRoute| r.status.as_ref().and_then(|s| s.version);
    bed.wait("s-3", "put back", &op, |r| {
        r.is_some_and(|r| version(r) == Some(3))
    })
    .await;
    bed.wait("s-5", "made again", &op, |r| {
        r.is_some_and(|r| r.status.as_ref().unwrap().uid != deleted_uid && is_current(r))
    })
    .await;
    assert_eq!(
        bed.app_mesh_route(&name_3).unwrap()["spec"]["http2Route"]["match"]["prefix"],
        json!("/s/3")
    );
    // The other 147 cost no call of their own: a page per 100 routes, no reconcile each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let describes = bed.calls_of("DescribeGatewayRoute");
    let lists = bed.calls_of("ListGatewayRoutes");
    assert!(
        describes <= 4,
        "{describes} Describe calls after a restart of 150 routes, 2 changed out of band"
    );
    assert!((2..=8).contains(&lists), "{lists} ListGatewayRoutes calls");
    let (_, metrics) = op.get("/metrics").await;
    let value = |series: &str| -> f64 {
        support::series_value(&metrics, series)
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    assert!(
        value("meshroute_reconcile_duration_seconds_count") <= 6.0,
        "only the changed objects are reconciled after a restart:\n{metrics}"
    );
    assert_eq!(
        value("meshroute_gatewayroutes{reason=\"Synced\"}"),
        150.0,
        "the start-up pass counts every object it checked"
    );
    drop(op);
}
