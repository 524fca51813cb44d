//! The Rust `aws-sdk-appmesh` against appmesh-emulator: every response parses, errors arrive as
//! the SDK's typed App Mesh exceptions, and injected faults behave as App Mesh's would.

use aws_sdk_appmesh::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_appmesh::error::ProvideErrorMetadata;
use aws_sdk_appmesh::operation::create_gateway_route::CreateGatewayRouteError;
use aws_sdk_appmesh::types::*;
use aws_sdk_appmesh::{Client, config::retry::RetryConfig};
use serde_json::{Value, json};

struct Bed {
    emulator: appmesh_emulator::Handle,
}

impl Bed {
    fn new() -> Self {
        Bed {
            emulator: appmesh_emulator::spawn(appmesh_emulator::Settings::default(), 0)
                .expect("start the emulator"),
        }
    }

    fn client(&self, retry: RetryConfig) -> Client {
        let config = aws_sdk_appmesh::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .endpoint_url(self.emulator.endpoint())
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .retry_config(retry)
            .build();
        Client::from_conf(config)
    }

    fn fault(&self, fault: Value) {
        let fault = serde_json::from_value(fault).expect("a fault");
        self.emulator
            .emulator
            .add_fault(fault)
            .expect("fault accepted");
    }

    async fn seed(&self, c: &Client) {
        c.create_mesh().mesh_name("apps").send().await.unwrap();
        c.create_virtual_gateway()
            .mesh_name("apps")
            .virtual_gateway_name("gw")
            .spec(
                VirtualGatewaySpec::builder()
                    .listeners(
                        VirtualGatewayListener::builder()
                            .port_mapping(
                                VirtualGatewayPortMapping::builder()
                                    .port(8080)
                                    .protocol(VirtualGatewayPortProtocol::Http2)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        for svc in [
            "myservicea.svc.cluster.local",
            "myserviceb.svc.cluster.local",
        ] {
            c.create_virtual_service()
                .mesh_name("apps")
                .virtual_service_name(svc)
                .spec(VirtualServiceSpec::builder().build())
                .send()
                .await
                .unwrap();
        }
    }
}

fn http2_spec(target: &str, prefix: &str) -> GatewayRouteSpec {
    GatewayRouteSpec::builder()
        .http2_route(
            HttpGatewayRoute::builder()
                .r#match(HttpGatewayRouteMatch::builder().prefix(prefix).build())
                .action(
                    HttpGatewayRouteAction::builder()
                        .target(
                            GatewayRouteTarget::builder()
                                .virtual_service(
                                    GatewayRouteVirtualService::builder()
                                        .virtual_service_name(target)
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn gateway_route_lifecycle() {
    let bed = Bed::new();
    let c = bed.client(RetryConfig::disabled());
    bed.seed(&c).await;

    let created = c
        .create_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name("myGatewayRoute")
        .client_token("1aa1111a-1111-1111-111a-a1a1a1aa111a")
        .spec(http2_spec("myservicea.svc.cluster.local", "/"))
        .tags(TagRef::builder().key("team").value("edge").build().unwrap())
        .send()
        .await
        .expect("create")
        .gateway_route
        .unwrap();
    let meta = created.metadata.unwrap();
    assert_eq!(meta.version, 1);
    assert_eq!(
        meta.arn,
        "arn:aws:appmesh:us-west-2:111122223333:mesh/apps/virtualGateway/gw/gatewayRoute/myGatewayRoute"
    );
    assert_eq!(meta.uid.len(), 36);
    assert_eq!(meta.mesh_owner, "111122223333");
    assert!(meta.created_at.secs() > 1_700_000_000);
    assert_eq!(
        created.status.unwrap().status,
        GatewayRouteStatusCode::Active
    );

    let described = c
        .describe_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name("myGatewayRoute")
        .send()
        .await
        .unwrap()
        .gateway_route
        .unwrap();
    assert_eq!(
        described.spec,
        Some(http2_spec("myservicea.svc.cluster.local", "/"))
    );

    let updated = c
        .update_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name("myGatewayRoute")
        .spec(http2_spec("myserviceb.svc.cluster.local", "/b"))
        .send()
        .await
        .unwrap()
        .gateway_route
        .unwrap();
    let updated_meta = updated.metadata.unwrap();
    assert_eq!(updated_meta.version, 2);
    assert!(updated_meta.last_updated_at >= meta.created_at);

    // Tags: list, add, remove.
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&meta.arn)
        .send()
        .await
        .unwrap()
        .tags;
    assert_eq!(
        tags,
        vec![TagRef::builder().key("team").value("edge").build().unwrap()]
    );
    c.tag_resource()
        .resource_arn(&meta.arn)
        .tags(TagRef::builder().key("tier").value("1").build().unwrap())
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&meta.arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = c
        .list_tags_for_resource()
        .resource_arn(&meta.arn)
        .send()
        .await
        .unwrap()
        .tags
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["tier"]);

    // Listing pages through every route once.
    for i in 0..4 {
        c.create_gateway_route()
            .mesh_name("apps")
            .virtual_gateway_name("gw")
            .gateway_route_name(format!("extra-{i}"))
            .spec(http2_spec(
                "myservicea.svc.cluster.local",
                &format!("/x{i}"),
            ))
            .send()
            .await
            .unwrap();
    }
    let names: Vec<String> = c
        .list_gateway_routes()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.gateway_route_name)
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");

    let deleted = c
        .delete_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name("myGatewayRoute")
        .send()
        .await
        .unwrap()
        .gateway_route
        .unwrap();
    assert_eq!(
        deleted.status.unwrap().status,
        GatewayRouteStatusCode::Deleted
    );
    let gone = c
        .describe_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name("myGatewayRoute")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_not_found_exception(), "{gone:?}");
}

async fn create(
    c: &Client,
    name: &str,
    token: &str,
    spec: GatewayRouteSpec,
) -> Result<(), CreateGatewayRouteError> {
    c.create_gateway_route()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .gateway_route_name(name)
        .client_token(token)
        .spec(spec)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

#[tokio::test]
async fn errors_arrive_as_typed_app_mesh_exceptions() {
    let bed = Bed::new();
    let c = bed.client(RetryConfig::disabled());
    bed.seed(&c).await;
    let ok = http2_spec("myservicea.svc.cluster.local", "/");

    create(&c, "r", "t-1", ok.clone()).await.unwrap();
    create(&c, "r", "t-1", ok.clone())
        .await
        .expect("the same token and request is an idempotent retry");

    let e = create(&c, "other", "t-1", ok.clone()).await.unwrap_err();
    assert!(
        e.is_conflict_exception(),
        "token reused for another request: {e:?}"
    );
    let e = create(&c, "r", "t-2", ok.clone()).await.unwrap_err();
    assert!(e.is_conflict_exception(), "name taken: {e:?}");

    let mut bad = ok.clone();
    bad.priority = Some(1001);
    let e = create(&c, "bad", "t-3", bad).await.unwrap_err();
    assert!(e.is_bad_request_exception(), "{e:?}");
    assert!(
        e.message().unwrap().contains("spec.priority"),
        "{:?}",
        e.message()
    );

    let e = create(&c, "bad", "t-4", http2_spec("nope.svc", "/"))
        .await
        .unwrap_err();
    assert!(e.is_not_found_exception(), "{e:?}");
    assert!(e.message().unwrap().contains("VirtualService 'nope.svc'"));

    let e = c
        .create_gateway_route()
        .mesh_name("missing")
        .virtual_gateway_name("gw")
        .gateway_route_name("r")
        .spec(ok.clone())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception() && e.message().unwrap().contains("Mesh 'missing'"));

    let arn = "arn:aws:appmesh:us-west-2:111122223333:mesh/apps/virtualGateway/gw/gatewayRoute/r";
    let fifty: Vec<TagRef> = (0..50)
        .map(|i| {
            TagRef::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap()
        })
        .collect();
    c.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(fifty))
        .send()
        .await
        .unwrap();
    let e = c
        .tag_resource()
        .resource_arn(arn)
        .tags(TagRef::builder().key("k50").value("v").build().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_too_many_tags_exception(), "{e:?}");

    let e = c
        .delete_virtual_gateway()
        .mesh_name("apps")
        .virtual_gateway_name("gw")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_in_use_exception(), "{e:?}");

    // Request ids travel with every error.
    let raw = c
        .describe_mesh()
        .mesh_name("missing")
        .send()
        .await
        .unwrap_err();
    use aws_sdk_appmesh::operation::RequestId;
    assert_eq!(raw.request_id().map(str::len), Some(36));
}

#[tokio::test]
async fn injected_429_reaches_the_sdk_and_a_retry_succeeds() {
    let bed = Bed::new();
    let raw = bed.client(RetryConfig::disabled());
    bed.seed(&raw).await;
    bed.emulator.emulator.reset_counters();
    bed.fault(json!({ "operation": "CreateGatewayRoute", "status": 429, "count": 1 }));

    let e = create(
        &raw,
        "r",
        "t-1",
        http2_spec("myservicea.svc.cluster.local", "/"),
    )
    .await
    .unwrap_err();
    assert!(e.is_too_many_requests_exception(), "{e:?}");

    bed.fault(json!({ "operation": "CreateGatewayRoute", "status": 429, "count": 2 }));
    let retrying = bed.client(
        RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(std::time::Duration::from_millis(5)),
    );
    create(
        &retrying,
        "r",
        "t-1",
        http2_spec("myservicea.svc.cluster.local", "/"),
    )
    .await
    .expect("the SDK retries throttling until the faults run out");

    let counters = bed.emulator.emulator.counters();
    assert_eq!(
        counters["operations"]["CreateGatewayRoute"],
        json!({ "TooManyRequestsException": 3, "ok": 1 }),
        "one raw 429, two retried 429s, one success: {counters}"
    );
    assert_eq!(counters["total"], 4);
}

#[tokio::test]
async fn the_rate_limit_answers_429_above_its_rate() {
    let bed = Bed::new();
    let c = bed.client(RetryConfig::disabled());
    bed.seed(&c).await;
    bed.emulator
        .emulator
        .set_rate_limit(Some(appmesh_emulator::RateLimit {
            requests_per_second: 2.0,
            burst: Some(3.0),
        }))
        .unwrap();
    let started = std::time::Instant::now();
    let (mut passed, mut throttled) = (0u32, 0u32);
    for _ in 0..20 {
        match c.describe_mesh().mesh_name("apps").send().await {
            Ok(_) => passed += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_too_many_requests_exception()) =>
            {
                throttled += 1
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    // Whatever the machine's speed: no more calls pass than the burst plus the rate over the time taken.
    let allowed = 3.0 + 2.0 * started.elapsed().as_secs_f64();
    assert!(
        f64::from(passed) <= allowed.ceil(),
        "{passed} passed, at most {allowed:.1} allowed"
    );
    assert!(passed >= 3, "the burst passes: {passed}");
    assert_eq!(passed + throttled, 20);
    bed.emulator.emulator.set_rate_limit(None).unwrap();
    c.describe_mesh()
        .mesh_name("apps")
        .send()
        .await
        .expect("limit lifted");
}

#[tokio::test]
async fn a_dropped_connection_is_a_dispatch_failure_that_retries_survive() {
    let bed = Bed::new();
    let c = bed.client(RetryConfig::disabled());
    bed.seed(&c).await;
    bed.fault(json!({ "operation": "DescribeMesh", "dropConnection": true, "count": 1 }));
    let e = c
        .describe_mesh()
        .mesh_name("apps")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error().is_none(),
        "no answer, so no service error: {e:?}"
    );

    bed.fault(json!({ "operation": "DescribeMesh", "dropConnection": true, "count": 1 }));
    let retrying = bed.client(RetryConfig::standard().with_max_attempts(3));
    retrying
        .describe_mesh()
        .mesh_name("apps")
        .send()
        .await
        .expect("a retry after a dropped connection succeeds");
    let counters = bed.emulator.emulator.counters();
    assert_eq!(
        counters["operations"]["DescribeMesh"]["connectionDropped"],
        2
    );
}
