//! What GitOps tools read from meshroute's status, checked with their own code on real objects
//! in every state: Flux's kstatus (cli-utils `status.Compute`) and Argo CD's health script run by
//! gopher-lua as Argo CD runs it (Lua 5.1). Both come from `gitops-check`, built from the Go
//! module proxy by hack/testbin.sh.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{Bed, http2_spec, reason};

const A: &str = "myservicea.svc.cluster.local";

fn expect(seen: &BTreeMap<String, (String, String)>, name: &str, kstatus: &str, argocd: &str) {
    assert_eq!(
        seen.get(name).map(|(k, a)| (k.as_str(), a.as_str())),
        Some((kstatus, argocd)),
        "{name}: {seen:?}"
    );
}

#[tokio::test]
async fn kstatus_and_argo_cd_read_every_state_right() {
    let mut bed = Bed::new("gitops").await;
    // Applied while no meshroute runs: not Current, whatever the tools assume of a bare object.
    bed.create(&bed.route("synced", http2_spec(A, "/synced")))
        .await;
    let fresh = bed.api().get("synced").await.unwrap();
    assert_eq!(
        fresh.status.and_then(|s| s.observed_generation),
        Some(-1),
        "the CRD defaults observedGeneration"
    );
    expect(
        &support::gitops_judged(&bed).await,
        "synced",
        "InProgress",
        "Progressing",
    );

    let mut op = bed.operator(&["--resync-period", "0"]);
    bed.create(&bed.route(
        "waiting",
        http2_spec("missing.svc.cluster.local", "/waiting"),
    ))
    .await;
    let mut invalid = http2_spec(A, "/");
    invalid["http2Route"]["match"] = json!({ "path": { "regex": "([" } });
    bed.create(&bed.route("invalid", invalid)).await;
    bed.wait_ready("synced", &op).await;
    let mut taken = http2_spec(A, "/taken");
    taken["gatewayRouteName"] = json!(bed.mesh_name("synced"));
    bed.create(&bed.route("taken", taken)).await;
    bed.wait_reason("waiting", "DependencyNotFound", &op).await;
    bed.wait_reason("invalid", "InvalidSpec", &op).await;
    bed.wait_reason("taken", "NameInUse", &op).await;
    let seen = support::gitops_judged(&bed).await;
    expect(&seen, "synced", "Current", "Healthy");
    expect(&seen, "waiting", "InProgress", "Progressing");
    expect(&seen, "invalid", "Failed", "Degraded");
    expect(&seen, "taken", "Failed", "Degraded");

    // A new spec that meshroute has not seen (it is down) is not Current either.
    op.kill();
    bed.merge("synced", json!({ "spec": { "priority": 3 } }))
        .await;
    let edited = bed.api().get("synced").await.unwrap();
    assert_eq!(reason(&edited), Some("Synced"), "still the old status");
    expect(
        &support::gitops_judged(&bed).await,
        "synced",
        "InProgress",
        "Progressing",
    );
}
