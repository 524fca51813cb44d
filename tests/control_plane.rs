//! Proof that the test bed is a real Kubernetes control plane: schema validation on CRDs, RBAC,
//! and watches over the status subresource behave as on any cluster.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, conditions, wait::await_condition, watcher};
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A throw-away kind for these tests only, so they prove the bed and nothing about meshroute.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "testbed.meshroute.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    #[schemars(range(min = 1, max = 5))]
    replicas: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
struct WidgetStatus {
    phase: String,
}

async fn widgets(ns: &str) -> (kube::Client, Api<Widget>) {
    let client = meshroute_testbed::shared()
        .client()
        .await
        .expect("admin client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = Widget::crd();
    let name = crd.metadata.name.clone().expect("crd name");
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {} // another test of this binary made it
        Err(e) => panic!("create CRD: {e}"),
    }
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD established within 30 s")
    .expect("watch CRD");
    (client.clone(), Api::namespaced(client, ns))
}

#[tokio::test]
async fn crd_schema_rejects_an_object_and_names_the_field() {
    let client = meshroute_testbed::shared().client().await.unwrap();
    let ns = meshroute_testbed::namespace(&client, "schema")
        .await
        .unwrap();
    let (_, api) = widgets(&ns).await;

    let bad = Widget::new("too-many", WidgetSpec { replicas: 9 });
    let err = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("replicas 9 breaks maximum 5");
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}");
    };
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.contains("spec.replicas"),
        "message names the field: {}",
        status.message
    );

    let good = Widget::new("fine", WidgetSpec { replicas: 3 });
    api.create(&PostParams::default(), &good)
        .await
        .expect("a valid object is accepted");
}

#[tokio::test]
async fn rbac_denies_a_service_account_what_its_role_lacks() {
    let plane = meshroute_testbed::shared();
    let admin = plane.client().await.unwrap();
    let ns = meshroute_testbed::namespace(&admin, "rbac").await.unwrap();
    let pp = PostParams::default();

    let sa: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": "reader" } })).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create(&pp, &sa)
        .await
        .unwrap();
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "configmap-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] }]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&pp, &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "reader" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader" },
        "subjects": [{ "kind": "ServiceAccount", "name": "reader", "namespace": ns }]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&pp, &binding)
        .await
        .unwrap();

    // A real token, signed by the apiserver's service-account key.
    let request: TokenRequest =
        serde_json::from_value(json!({ "spec": { "audiences": [], "expirationSeconds": 600 } }))
            .unwrap();
    let issued: TokenRequest = Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .create_subresource("token", "reader", &pp, &request)
        .await
        .expect("TokenRequest");
    let token = issued.status.and_then(|s| s.token).expect("a token");
    let reader = plane.client_as(token).await.unwrap();

    Api::<ConfigMap>::namespaced(reader.clone(), &ns)
        .list(&Default::default())
        .await
        .expect("the role allows listing configmaps");
    let err = Api::<Secret>::namespaced(reader, &ns)
        .list(&Default::default())
        .await
        .expect_err("the role does not allow secrets");
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}");
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status
            .message
            .contains(&format!("system:serviceaccount:{ns}:reader")),
        "the denial names the service account: {}",
        status.message
    );
}

#[tokio::test]
async fn a_watch_sees_a_status_subresource_update() {
    let client = meshroute_testbed::shared().client().await.unwrap();
    let ns = meshroute_testbed::namespace(&client, "watch")
        .await
        .unwrap();
    let (_, api) = widgets(&ns).await;
    api.create(
        &PostParams::default(),
        &Widget::new("watched", WidgetSpec { replicas: 1 }),
    )
    .await
    .unwrap();

    // Status sent to the main endpoint is dropped: the subresource is really separate.
    let mut with_status = api.get("watched").await.unwrap();
    with_status.status = Some(WidgetStatus {
        phase: "Ignored".into(),
    });
    let replaced = api
        .replace("watched", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert!(replaced.status.is_none(), "main endpoint wrote status");

    let seen = tokio::spawn({
        let api = api.clone();
        async move {
            watcher(
                api,
                watcher::Config::default().fields("metadata.name=watched"),
            )
            .applied_objects()
            .try_filter(|w| {
                futures::future::ready(w.status.as_ref().is_some_and(|s| s.phase == "Synced"))
            })
            .boxed()
            .try_next()
            .await
        }
    });
    // Give the watch time to list before the update, so it must arrive as a watch event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.patch_status(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Synced" } })),
    )
    .await
    .expect("status subresource patch");

    let widget = tokio::time::timeout(Duration::from_secs(20), seen)
        .await
        .expect("the watch saw the status update within 20 s")
        .unwrap()
        .expect("watch stream")
        .expect("an object");
    assert_eq!(widget.status.unwrap().phase, "Synced");
    assert_eq!(
        widget.metadata.generation,
        Some(1),
        "a status write does not move generation"
    );
}

#[test]
fn the_shared_emulator_is_seeded_like_testbed_up() {
    let emulator = meshroute_testbed::shared_emulator();
    assert!(
        std::ptr::eq(emulator, meshroute_testbed::shared_emulator()),
        "one per test binary"
    );
    assert_eq!(emulator.addr.ip().to_string(), "127.0.0.1");
    let em = &emulator.emulator;
    em.invoke(
        "DescribeMesh",
        &json!({ "meshName": meshroute_testbed::MESH }),
    )
    .expect("the mesh");
    let gateway = em
        .invoke(
            "DescribeVirtualGateway",
            &json!({ "meshName": meshroute_testbed::MESH, "virtualGatewayName": meshroute_testbed::GATEWAY }),
        )
        .expect("the gateway");
    let protocols: Vec<&str> = gateway["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["portMapping"]["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["http", "http2", "grpc"]);
    for service in meshroute_testbed::SERVICES {
        em.invoke(
            "DescribeVirtualService",
            &json!({ "meshName": meshroute_testbed::MESH, "virtualServiceName": service }),
        )
        .unwrap_or_else(|e| panic!("{service}: {e}"));
    }
}
