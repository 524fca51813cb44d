//! App Mesh failing everything: meshroute backs off as a whole (one probe a second), says so
//! once, and every object converges within seconds of App Mesh's return, with nothing leaked.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Bed, http2_spec, reason};

const A: &str = "myservicea.svc.cluster.local";

#[tokio::test]
async fn an_app_mesh_outage_costs_a_few_probes_and_recovery_is_prompt() {
    let mut bed = Bed::new("outage").await;
    // meshroute's defaults for the App Mesh budget (10 calls/s, 3 tries a call), and a short
    // drift period so that in-sync routes want calls during the outage too.
    let op = bed.operator(&[
        "--appmesh-rps",
        "10",
        "--appmesh-burst",
        "20",
        "--resync-period",
        "3s",
    ]);
    for i in 0..20 {
        bed.create(&bed.route(&format!("before-{i}"), http2_spec(A, &format!("/b{i}"))))
            .await;
    }
    for i in 0..20 {
        bed.wait_ready(&format!("before-{i}"), &op).await;
    }

    bed.emulator
        .emulator
        .add_fault(serde_json::from_value(json!({ "status": 503 })).unwrap())
        .unwrap();
    let calls_before = bed.calls();
    // Work arrives during the outage: new objects and an edit.
    for i in 0..10 {
        bed.create(&bed.route(&format!("during-{i}"), http2_spec(A, &format!("/d{i}"))))
            .await;
    }
    bed.merge("before-0", json!({ "spec": { "priority": 4 } }))
        .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let calls = bed.calls() - calls_before;
    let (_, metrics) = op.get("/metrics").await;
    bed.emulator.emulator.clear_faults();
    let back = Instant::now();
    eprintln!("{calls} App Mesh calls during 30 s of 503s");
    assert!(calls <= 60, "{calls} calls during the outage");
    assert!(
        metrics.contains("meshroute_appmesh_paused 1"),
        "the pause is visible:\n{metrics}"
    );
    let paused_lines = op
        .log_tail()
        .lines()
        .filter(|l| l.contains("pausing every call"))
        .count();
    assert!(
        paused_lines <= 1,
        "said once, not per object:\n{}",
        op.log_tail()
    );

    let names: Vec<String> = (0..20)
        .map(|i| format!("before-{i}"))
        .chain((0..10).map(|i| format!("during-{i}")))
        .collect();
    for name in &names {
        bed.wait_ready(name, &op).await;
    }
    let took = back.elapsed();
    eprintln!(
        "every object Ready {:.1} s after App Mesh came back",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(20), "recovery took {took:?}");
    let before_0 = bed.api().get("before-0").await.unwrap();
    assert_eq!(reason(&before_0), Some("Synced"));
    assert_eq!(
        bed.app_mesh_route(&bed.mesh_name("before-0")).unwrap()["spec"]["priority"],
        4
    );
    let mut in_mesh = bed.app_mesh_route_names();
    in_mesh.sort();
    let mut expected: Vec<String> = names.iter().map(|n| bed.mesh_name(n)).collect();
    expected.sort();
    assert_eq!(in_mesh, expected, "one route per object, nothing leaked");
}
