//! examples/http2-sample.yaml becomes exactly the App Mesh API reference's sample
//! CreateGatewayRoute request, as it leaves meshroute's App Mesh client on the wire.

use std::sync::Arc;
use std::time::Duration;

use meshroute::api::GatewayRoute;
use meshroute::appmesh::{AppMesh, Settings};
use meshroute::reconcile::Desired;
use meshroute::telemetry::Metrics;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The API reference's sample request body (its clientToken is the object's uid here).
const SAMPLE_BODY: &str = r#"{ "gatewayRouteName": "myGatewayRoute", "spec": { "http2Route": { "action": { "target": { "virtualService": { "virtualServiceName": "myservicea.svc.cluster.local" } } }, "match": { "prefix": "/" } } }, "clientToken": "1aa1111a-1111-1111-111a-a1a1a1aa111a" }"#;

/// Accepts one request, answers with a minimal App Mesh reply, and returns the request head and body.
async fn capture_one(listener: TcpListener) -> (String, Value) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let (head, body) = loop {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break (
                    text[..end].to_string(),
                    text[end + 4..end + 4 + length].to_string(),
                );
            }
        }
    };
    let reply = json!({
        "gatewayRouteName": "myGatewayRoute", "meshName": "apps", "virtualGatewayName": "myVirtualGateway",
        "metadata": { "arn": "arn:aws:appmesh:us-west-2:111122223333:mesh/apps/virtualGateway/myVirtualGateway/gatewayRoute/myGatewayRoute",
            "createdAt": 1.591642091122E9, "lastUpdatedAt": 1.591642091122E9, "meshOwner": "111122223333",
            "resourceOwner": "111122223333", "uid": "ff111ff2-33ff-4ff4-ffff-111f111f111f", "version": 1 },
        "spec": serde_json::from_str::<Value>(SAMPLE_BODY).unwrap()["spec"],
        "status": { "status": "ACTIVE" }
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-amzn-requestid: 696b569b-3593-446d-832c-0a38ce1c53ac\r\n\r\n{reply}",
        reply.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    (head, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn the_sample_manifest_is_the_sample_request() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/http2-sample.yaml");
    let mut route: GatewayRoute =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    route.metadata.namespace = Some("default".into());
    route.metadata.uid = Some("1aa1111a-1111-1111-111a-a1a1a1aa111a".into());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let captured = tokio::spawn(capture_one(listener));
    // SAFETY: set before any other thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    }
    let mesh = AppMesh::new(
        &Settings {
            region: Some("us-west-2".into()),
            endpoint: Some(endpoint),
            rate: 10.0,
            burst: 10,
            attempts: 1,
            attempt_timeout: Duration::from_secs(5),
        },
        Arc::new(Metrics::default()),
    );
    let desired = Desired::of(&route, "test-cluster");
    let created = mesh
        .create_route(
            &desired.key,
            &desired.spec,
            &desired.all_tags(),
            &desired.create_token(None),
        )
        .await
        .expect("create against the capturing server");
    match created {
        meshroute::appmesh::CreateOutcome::Created(route) => assert_eq!(route.version, 1),
        other => panic!("expected a created route, got {other:?}"),
    }

    let (head, mut body) = captured.await.unwrap();
    assert!(
        head.starts_with(
            "PUT /v20190125/meshes/apps/virtualGateway/myVirtualGateway/gatewayRoutes HTTP/1.1"
        ),
        "{head}"
    );
    // meshroute adds its four ownership tags to every create; everything else is the sample.
    let tags = body
        .as_object_mut()
        .unwrap()
        .remove("tags")
        .expect("ownership tags");
    let keys: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "meshroute.io/cluster",
            "meshroute.io/namespace",
            "meshroute.io/name",
            "meshroute.io/uid"
        ]
    );
    assert_eq!(body, serde_json::from_str::<Value>(SAMPLE_BODY).unwrap());
}
