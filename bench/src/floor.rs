//! The floors each figure is compared with: the same work sent straight to the emulator by the
//! SDK, and the same objects written straight to the apiserver.

use std::time::Instant;

use aws_sdk_appmesh::config::{BehaviorVersion, Credentials, Region};
use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use meshroute::api::GatewayRoute;
use meshroute_testbed::ControlPlane;
use serde_json::{Value, json};

use crate::run::{Run, round, route_in, seeded_emulator};

/// The floor: N creates straight to a fresh emulator with the SDK, `concurrency` in flight.
pub async fn app_mesh_floor(n: usize, concurrency: usize, latency_ms: u64) -> f64 {
    let emulator = seeded_emulator(latency_ms);
    let client = sdk_client(&emulator.endpoint());
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| sdk_create(&client, i))
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    start.elapsed().as_secs_f64()
}

pub fn sdk_client(endpoint: &str) -> aws_sdk_appmesh::Client {
    let config = aws_sdk_appmesh::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_appmesh::Client::from_conf(config)
}

/// CreateGatewayRoute of route `r<i>`, as the operator would send it.
pub async fn sdk_create(client: &aws_sdk_appmesh::Client, i: usize) {
    use aws_sdk_appmesh::types::*;
    let target = GatewayRouteTarget::builder()
        .virtual_service(
            GatewayRouteVirtualService::builder()
                .virtual_service_name(meshroute_testbed::SERVICES[0])
                .build()
                .unwrap(),
        )
        .build();
    let spec = GatewayRouteSpec::builder()
        .http2_route(
            HttpGatewayRoute::builder()
                .r#match(
                    HttpGatewayRouteMatch::builder()
                        .prefix(format!("/r{i}"))
                        .build(),
                )
                .action(HttpGatewayRouteAction::builder().target(target).build())
                .build(),
        )
        .build();
    client
        .create_gateway_route()
        .mesh_name(meshroute_testbed::MESH)
        .virtual_gateway_name(meshroute_testbed::GATEWAY)
        .gateway_route_name(format!("r{i}"))
        .spec(spec)
        .send()
        .await
        .expect("SDK create");
}

/// Kubernetes writes per object the operator made while `before..after` (watch events beyond
/// the N creates) plus the Events it published in the namespace.
pub async fn kubernetes_writes(run: &Run, changes: u64, n: usize) -> Value {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(run.api.clone().into_client(), &run.ns);
    let published = events.list(&Default::default()).await.unwrap().items.len();
    let object_writes = changes.saturating_sub(n as u64) as f64 / n as f64;
    let event_writes = published as f64 / n as f64;
    json!({ "object_writes": round(object_writes), "events": round(event_writes),
            "total": round(object_writes + event_writes) })
}

/// The honest floor: what any operator must do per object, and nothing else, on the same bed:
/// the object is created (as in the create wave, 32 at a time), then a bare program (kube client
/// and SDK, no controller, no cache) patches the finalizer on, calls CreateGatewayRoute and
/// writes the status, `concurrency` objects at a time.
pub async fn kubernetes_floor(plane: &ControlPlane, n: usize, concurrency: usize) -> f64 {
    let client = plane.client().await.unwrap();
    let ns = meshroute_testbed::namespace(&client, "floor")
        .await
        .unwrap();
    let api: Api<GatewayRoute> = Api::namespaced(client, &ns);
    let emulator = seeded_emulator(0);
    let sdk = sdk_client(&emulator.endpoint());
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let r = route_in(&ns, i);
            async move {
                let r = api.create(&PostParams::default(), &r).await.expect("create");
                (api, r, i)
            }
        })
        .buffer_unordered(32)
        .map(|(api, r, i)| {
            let sdk = sdk.clone();
            async move {
                let name = format!("r{i}");
                api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": {
                    "resourceVersion": r.metadata.resource_version, "finalizers": ["meshroute.io/finalizer"] } })))
                    .await
                    .expect("finalizer");
                sdk_create(&sdk, i).await;
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": {
                    "observedGeneration": 1, "arn": name, "conditions": [{ "type": "Ready", "status": "True",
                    "reason": "Synced", "message": "", "observedGeneration": 1,
                    "lastTransitionTime": "2026-01-01T00:00:00Z" }] } })))
                    .await
                    .expect("status");
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    start.elapsed().as_secs_f64()
}
