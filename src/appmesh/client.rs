//! The App Mesh client: SDK set-up (region, endpoint override, default credential chain), the
//! rate limiter and short retries every call goes through, and the gateway-route operations the
//! reconciler uses, in the CRD's terms.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_appmesh::config::retry::RetryConfig;
use aws_sdk_appmesh::config::timeout::TimeoutConfig;
use aws_sdk_appmesh::config::{BehaviorVersion, Region};
use aws_sdk_appmesh::types as sdk;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::breaker::{Admission, Breaker};
use super::convert::{self, RouteSpec};
use super::error::{AppMeshError, ErrorKind};
use crate::api::{Tag, recorded};
use crate::backoff;
use crate::fair::Limiter;
use crate::telemetry::Metrics;

/// Sets the four fields that locate a gateway route (mesh, owner, gateway, name) on any of the
/// SDK's gateway-route request builders, which share no trait.
macro_rules! locate {
    ($builder:expr, $key:expr) => {
        $builder
            .mesh_name(&$key.mesh)
            .set_mesh_owner($key.mesh_owner.clone())
            .virtual_gateway_name(&$key.gateway)
            .gateway_route_name(&$key.name)
    };
}

/// How to reach App Mesh.
#[derive(Debug, Clone)]
pub struct Settings {
    /// AWS region; `None` takes it from the SDK's default chain (AWS_REGION, profile, IMDS).
    pub region: Option<String>,
    /// Endpoint override: the emulator, or a VPC endpoint.
    pub endpoint: Option<String>,
    /// Calls per second meshroute allows itself, and the burst above that.
    pub rate: f64,
    pub burst: u32,
    /// Attempts per call for throttling, 5xx and transport failures.
    pub attempts: u32,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
}

/// Where a gateway route lives, and its name in App Mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey {
    pub mesh: String,
    pub mesh_owner: Option<String>,
    pub gateway: String,
    pub name: String,
}

impl RouteKey {
    /// The App Mesh route `route` stands for.
    pub fn of(route: &crate::api::GatewayRoute) -> RouteKey {
        RouteKey {
            mesh: route.spec.mesh_name.clone(),
            mesh_owner: route.spec.mesh_owner.clone(),
            gateway: route.spec.virtual_gateway_name.clone(),
            name: route.app_mesh_name(),
        }
    }
}

/// A gateway route as App Mesh reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRoute {
    pub arn: String,
    pub uid: String,
    pub version: i64,
    pub mesh_owner: String,
    pub resource_owner: String,
    pub created_at: Option<Time>,
    pub last_updated_at: Option<Time>,
    pub status: String,
    pub spec: RouteSpec,
}

/// A gateway route as ListGatewayRoutes reports it: where it is and which instance and version
/// it is, without its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRoute {
    pub key: RouteKey,
    pub arn: String,
    pub version: i64,
    pub created_at: Option<Time>,
    pub last_updated_at: Option<Time>,
}

/// Which dependency of a route is missing, found by describing each in turn.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Missing {
    Mesh(String),
    VirtualGateway(String),
    VirtualService(String),
    /// Everything the route needs exists; App Mesh's 404 named something else.
    Unknown,
}

impl Missing {
    /// What a route needs in App Mesh, in the order it needs them: its mesh, the virtual
    /// gateway in that mesh, then its target virtual service.
    pub fn needed_by(key: &RouteKey, target: &str) -> [Missing; 3] {
        [
            Missing::Mesh(key.mesh.clone()),
            Missing::VirtualGateway(key.gateway.clone()),
            Missing::VirtualService(target.to_string()),
        ]
    }
}

/// What CreateGatewayRoute did.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    Created(Box<ObservedRoute>),
    /// 409: a route of that name exists (or the client token was used for another request).
    NameTaken,
    /// 404: the mesh, the virtual gateway or the target virtual service does not exist.
    Missing(AppMeshError),
}

/// What UpdateGatewayRoute did.
#[derive(Debug, Clone)]
pub enum UpdateOutcome {
    Updated(Box<ObservedRoute>),
    /// 404: the route, or something it needs, is gone.
    Missing(AppMeshError),
}

/// Whether this replica may still write (App Mesh calls, status): closed for good when it learns
/// it no longer holds the leader Lease, or when its own clock passes the deadline its last
/// renewal set, so that reconciles still in flight cannot write behind the new leader's back,
/// even after a pause. Without leader election it has no deadline. Clones share the switch.
#[derive(Debug, Clone, Default)]
pub struct Fence(Arc<FenceState>);

#[derive(Debug, Default)]
struct FenceState {
    closed: AtomicBool,
    /// Writes may leave until this instant only (`None`: no deadline).
    until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Fence {
    pub fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
    }

    /// Lets writes through until `until` (and no longer, unless moved again before then).
    pub fn hold_until(&self, until: std::time::Instant) {
        *self.0.until.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
    }

    /// Whether nothing may be written any more. Asked right before each write; a deadline found
    /// passed closes the fence for good.
    pub fn is_closed(&self) -> bool {
        if self.0.closed.load(Ordering::SeqCst) {
            return true;
        }
        let until = *self.0.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_some_and(|until| std::time::Instant::now() >= until) {
            self.close();
            return true;
        }
        false
    }
}

/// The App Mesh client meshroute uses: one per process.
pub struct AppMesh {
    /// Built at the first call: where Gateway API alone serves every gateway, App Mesh's
    /// configuration (region, credentials, the instance metadata service) is never looked up.
    client: tokio::sync::OnceCell<aws_sdk_appmesh::Client>,
    settings: Settings,
    limiter: Limiter,
    attempts: u32,
    metrics: Arc<Metrics>,
    fence: Fence,
    breaker: Breaker,
}

/// Every App Mesh operation meshroute calls (the `operation` values of its call metrics).
pub const OPERATIONS: [&str; 14] = [
    "CreateGatewayRoute",
    "DeleteGatewayRoute",
    "DescribeGatewayRoute",
    "DescribeMesh",
    "DescribeVirtualGateway",
    "DescribeVirtualNode",
    "DescribeVirtualRouter",
    "DescribeVirtualService",
    "ListGatewayRoutes",
    "ListTagsForResource",
    "ListVirtualGateways",
    "TagResource",
    "UntagResource",
    "UpdateGatewayRoute",
];

/// The most items App Mesh returns in one page of a List call.
const PAGE: i32 = 100;

/// Failed calls in a row (5xx, throttling, no answer) that pause every call.
const PAUSE_AFTER_FAILURES: u32 = 5;
/// While paused, one probe call per this interval.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

impl AppMesh {
    /// The client for `settings`; the SDK's is built from its default configuration chain (so
    /// IRSA and EKS Pod Identity work unchanged) at the first call.
    pub fn new(settings: &Settings, metrics: Arc<Metrics>) -> Self {
        let outcomes: Vec<&str> = std::iter::once("ok")
            .chain(ErrorKind::ANSWERED.map(ErrorKind::label))
            .collect();
        metrics.start_calls_at_zero(&OPERATIONS, &outcomes);
        AppMesh {
            client: tokio::sync::OnceCell::new(),
            settings: settings.clone(),
            limiter: Limiter::new(settings.rate, settings.burst),
            attempts: settings.attempts.max(1),
            metrics,
            fence: Fence::default(),
            breaker: Breaker::new(PAUSE_AFTER_FAILURES, PROBE_EVERY),
        }
    }

    /// The SDK client, built (once) when App Mesh is first called.
    async fn sdk(&self) -> &aws_sdk_appmesh::Client {
        self.client
            .get_or_init(|| async {
                tracing::info!(
                    "building the App Mesh client: a route's gateway is served by App Mesh"
                );
                let settings = &self.settings;
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(region) = &settings.region {
                    loader = loader.region(Region::new(region.clone()));
                }
                if let Some(endpoint) = &settings.endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                let shared = loader.load().await;
                let config = aws_sdk_appmesh::config::Builder::from(&shared)
                    // Retries happen in `call`, so each attempt passes the rate limiter and is
                    // counted.
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(settings.attempt_timeout)
                            .connect_timeout(Duration::from_secs(5))
                            .build(),
                    )
                    .build();
                aws_sdk_appmesh::Client::from_conf(config)
            })
            .await
    }

    /// The switch that stops every further call of this client.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Runs one operation: waits for the rate limiter, counts the outcome, and tries again
    /// (briefly) on throttling, 5xx and transport failures.
    async fn call<T, F, Fut>(&self, operation: &'static str, mut send: F) -> Result<T, AppMeshError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AppMeshError>>,
    {
        let mut attempt = 0;
        loop {
            if let Admission::Paused(next) = self.breaker.admit(std::time::Instant::now()) {
                return Err(AppMeshError {
                    kind: ErrorKind::Paused,
                    operation,
                    code: "Paused".into(),
                    message: format!(
                        "App Mesh failed every recent call; meshroute paused all calls and \
                         probes once every {} s (next probe in {:.1} s)",
                        self.breaker.probe_every().as_secs_f64(),
                        next.as_secs_f64()
                    ),
                    request_id: None,
                });
            }
            self.limiter.acquire().await;
            // Checked after the limiter's wait, the last moment before the request leaves.
            if self.fence.is_closed() {
                return Err(AppMeshError {
                    kind: ErrorKind::NotLeader,
                    operation,
                    code: "NotLeader".into(),
                    message: "this replica no longer holds the leader Lease; nothing was sent"
                        .into(),
                    request_id: None,
                });
            }
            let started = std::time::Instant::now();
            let result = send().await;
            self.metrics
                .appmesh_latency(operation, started.elapsed().as_secs_f64());
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.kind.label(),
            };
            self.metrics.appmesh_call(operation, outcome);
            let failed = matches!(&result, Err(e) if e.kind.is_transient());
            match self.breaker.record(failed, std::time::Instant::now()) {
                Some(true) => {
                    tracing::warn!(
                        "App Mesh failed {PAUSE_AFTER_FAILURES} calls in a row; pausing every \
                         call, one probe every {} s",
                        PROBE_EVERY.as_secs_f64()
                    );
                    self.metrics.set_appmesh_paused(true);
                }
                Some(false) => {
                    tracing::info!("App Mesh answers again; calls resume");
                    self.metrics.set_appmesh_paused(false);
                }
                None => {}
            }
            match result {
                Err(e) if e.kind.is_transient() && attempt + 1 < self.attempts => {
                    tracing::debug!(error = %e, attempt, "retrying App Mesh call");
                    tokio::time::sleep(backoff::exponential(
                        Duration::from_millis(100),
                        Duration::from_secs(2),
                        attempt,
                    ))
                    .await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The route, or `None` when App Mesh has no such route (or no such mesh or gateway).
    pub async fn describe_route(
        &self,
        key: &RouteKey,
    ) -> Result<Option<ObservedRoute>, AppMeshError> {
        let out = self
            .call("DescribeGatewayRoute", || async {
                locate!(self.sdk().await.describe_gateway_route(), key)
                    .send()
                    .await
                    .map_err(|e| AppMeshError::from_sdk("DescribeGatewayRoute", e))
            })
            .await;
        match out {
            Ok(out) => observed(out.gateway_route).map(Some),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_route(
        &self,
        key: &RouteKey,
        spec: &RouteSpec,
        tags: &[Tag],
        client_token: &str,
    ) -> Result<CreateOutcome, AppMeshError> {
        let spec = to_sdk_spec(spec)?;
        let tags = convert::tags_to_sdk(tags).map_err(conversion)?;
        let out = self
            .call("CreateGatewayRoute", || async {
                locate!(self.sdk().await.create_gateway_route(), key)
                    .spec(spec.clone())
                    .set_tags(Some(tags.clone()))
                    .client_token(client_token)
                    .send()
                    .await
                    .map_err(|e| AppMeshError::from_sdk("CreateGatewayRoute", e))
            })
            .await;
        match out {
            Ok(out) => Ok(CreateOutcome::Created(Box::new(observed(
                out.gateway_route,
            )?))),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(CreateOutcome::NameTaken),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(CreateOutcome::Missing(e)),
            Err(e) => Err(e),
        }
    }

    pub async fn update_route(
        &self,
        key: &RouteKey,
        spec: &RouteSpec,
        client_token: &str,
    ) -> Result<UpdateOutcome, AppMeshError> {
        let spec = to_sdk_spec(spec)?;
        let out = self
            .call("UpdateGatewayRoute", || async {
                locate!(self.sdk().await.update_gateway_route(), key)
                    .spec(spec.clone())
                    .client_token(client_token)
                    .send()
                    .await
                    .map_err(|e| AppMeshError::from_sdk("UpdateGatewayRoute", e))
            })
            .await;
        match out {
            Ok(out) => Ok(UpdateOutcome::Updated(Box::new(observed(
                out.gateway_route,
            )?))),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(UpdateOutcome::Missing(e)),
            Err(e) => Err(e),
        }
    }

    /// Deletes the route; a route (or mesh, or gateway) that is already gone counts as deleted.
    pub async fn delete_route(&self, key: &RouteKey) -> Result<(), AppMeshError> {
        let out = self
            .call("DeleteGatewayRoute", || async {
                locate!(self.sdk().await.delete_gateway_route(), key)
                    .send()
                    .await
                    .map_err(|e| AppMeshError::from_sdk("DeleteGatewayRoute", e))
            })
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every tag on a resource, or `None` when there is no resource with that ARN.
    pub async fn tags_of(&self, arn: &str) -> Result<Option<Vec<Tag>>, AppMeshError> {
        match self.list_tags(arn).await {
            Ok(tags) => Ok(Some(tags)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every tag on a resource.
    pub async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, AppMeshError> {
        self.all_pages(|next| async move {
            let out = self
                .call("ListTagsForResource", || async {
                    self.sdk()
                        .await
                        .list_tags_for_resource()
                        .resource_arn(arn)
                        .set_next_token(next.clone())
                        .send()
                        .await
                        .map_err(|e| AppMeshError::from_sdk("ListTagsForResource", e))
                })
                .await?;
            Ok((convert::tags_from_sdk(out.tags), out.next_token))
        })
        .await
    }

    /// Every item of a List operation: `page(next_token)` fetches one page and says the next
    /// token, until there is none.
    async fn all_pages<T, F, Fut>(&self, mut page: F) -> Result<Vec<T>, AppMeshError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<(Vec<T>, Option<String>), AppMeshError>>,
    {
        let mut all = Vec::new();
        let mut next = None;
        loop {
            let (items, token) = page(next).await?;
            all.extend(items);
            match token {
                Some(token) => next = Some(token),
                None => return Ok(all),
            }
        }
    }

    pub async fn tag(&self, arn: &str, tags: &[Tag]) -> Result<(), AppMeshError> {
        let tags = convert::tags_to_sdk(tags).map_err(conversion)?;
        self.call("TagResource", || async {
            self.sdk()
                .await
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AppMeshError::from_sdk("TagResource", e))
        })
        .await
    }

    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AppMeshError> {
        self.call("UntagResource", || async {
            self.sdk()
                .await
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AppMeshError::from_sdk("UntagResource", e))
        })
        .await
    }

    /// The names of every virtual gateway in a mesh, a page (up to 100) per call.
    pub async fn list_gateways(
        &self,
        mesh: &str,
        mesh_owner: Option<&str>,
    ) -> Result<Vec<String>, AppMeshError> {
        self.all_pages(|next| async move {
            let out = self
                .call("ListVirtualGateways", || async {
                    self.sdk()
                        .await
                        .list_virtual_gateways()
                        .mesh_name(mesh)
                        .set_mesh_owner(mesh_owner.map(String::from))
                        .limit(PAGE)
                        .set_next_token(next.clone())
                        .send()
                        .await
                        .map_err(|e| AppMeshError::from_sdk("ListVirtualGateways", e))
                })
                .await?;
            let names = out
                .virtual_gateways
                .into_iter()
                .map(|g| g.virtual_gateway_name);
            Ok((names.collect(), out.next_token))
        })
        .await
    }

    /// Every gateway route of a virtual gateway, a page (up to 100) per call.
    pub async fn list_routes(
        &self,
        mesh: &str,
        mesh_owner: Option<&str>,
        gateway: &str,
    ) -> Result<Vec<ListedRoute>, AppMeshError> {
        self.all_pages(|next| async move {
            let out = self
                .call("ListGatewayRoutes", || async {
                    self.sdk()
                        .await
                        .list_gateway_routes()
                        .mesh_name(mesh)
                        .set_mesh_owner(mesh_owner.map(String::from))
                        .virtual_gateway_name(gateway)
                        .limit(PAGE)
                        .set_next_token(next.clone())
                        .send()
                        .await
                        .map_err(|e| AppMeshError::from_sdk("ListGatewayRoutes", e))
                })
                .await?;
            let routes = out.gateway_routes.into_iter().map(|r| ListedRoute {
                key: RouteKey {
                    mesh: r.mesh_name,
                    // The owner as asked for: App Mesh reports its own account id here even
                    // for a mesh of the caller's own, and a key must address the route as
                    // the caller does.
                    mesh_owner: mesh_owner.map(String::from),
                    gateway: r.virtual_gateway_name,
                    name: r.gateway_route_name,
                },
                arn: r.arn,
                version: r.version,
                created_at: time(&r.created_at),
                last_updated_at: time(&r.last_updated_at),
            });
            Ok((routes.collect(), out.next_token))
        })
        .await
    }

    /// What the virtual service `service` stands for (for `import`): its provider, and that
    /// provider's service discovery and listener port. One Describe of the service and one of
    /// its provider; a service or provider App Mesh does not have is an empty record.
    pub async fn backend_of(
        &self,
        mesh: &str,
        owner: Option<&str>,
        service: &str,
    ) -> Result<recorded::Backend, AppMeshError> {
        let owner = owner.map(String::from);
        let provider = match self.describe_service(mesh, &owner, service).await {
            Ok(out) => out
                .virtual_service
                .and_then(|s| s.spec)
                .and_then(|s| s.provider),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut backend = recorded::Backend::default();
        match provider {
            Some(sdk::VirtualServiceProvider::VirtualNode(node)) => {
                let name = node.virtual_node_name;
                backend.provider = Some(format!("virtualNode/{name}"));
                let spec = self
                    .call("DescribeVirtualNode", || async {
                        self.sdk()
                            .await
                            .describe_virtual_node()
                            .mesh_name(mesh)
                            .set_mesh_owner(owner.clone())
                            .virtual_node_name(&name)
                            .send()
                            .await
                            .map_err(|e| AppMeshError::from_sdk("DescribeVirtualNode", e))
                    })
                    .await?
                    .virtual_node
                    .and_then(|n| n.spec);
                if let Some(spec) = spec {
                    match spec.service_discovery {
                        Some(sdk::ServiceDiscovery::Dns(dns)) => {
                            backend.dns_hostname = Some(dns.hostname);
                        }
                        Some(sdk::ServiceDiscovery::AwsCloudMap(map)) => {
                            backend.cloud_map = Some(recorded::CloudMap {
                                namespace_name: map.namespace_name,
                                service_name: map.service_name,
                            });
                        }
                        _ => {}
                    }
                    backend.port = spec
                        .listeners
                        .into_iter()
                        .flatten()
                        .find_map(|l| l.port_mapping.map(|p| p.port));
                }
            }
            Some(sdk::VirtualServiceProvider::VirtualRouter(router)) => {
                let name = router.virtual_router_name;
                backend.provider = Some(format!("virtualRouter/{name}"));
                backend.port = self
                    .call("DescribeVirtualRouter", || async {
                        self.sdk()
                            .await
                            .describe_virtual_router()
                            .mesh_name(mesh)
                            .set_mesh_owner(owner.clone())
                            .virtual_router_name(&name)
                            .send()
                            .await
                            .map_err(|e| AppMeshError::from_sdk("DescribeVirtualRouter", e))
                    })
                    .await?
                    .virtual_router
                    .and_then(|r| r.spec)
                    .and_then(|s| s.listeners)
                    .into_iter()
                    .flatten()
                    .find_map(|l| l.port_mapping.map(|p| p.port));
            }
            _ => {}
        }
        Ok(backend)
    }

    async fn describe_gateway(
        &self,
        mesh: &str,
        owner: &Option<String>,
        gateway: &str,
    ) -> Result<
        aws_sdk_appmesh::operation::describe_virtual_gateway::DescribeVirtualGatewayOutput,
        AppMeshError,
    > {
        self.call("DescribeVirtualGateway", || async {
            self.sdk()
                .await
                .describe_virtual_gateway()
                .mesh_name(mesh)
                .set_mesh_owner(owner.clone())
                .virtual_gateway_name(gateway)
                .send()
                .await
                .map_err(|e| AppMeshError::from_sdk("DescribeVirtualGateway", e))
        })
        .await
    }

    async fn describe_service(
        &self,
        mesh: &str,
        owner: &Option<String>,
        service: &str,
    ) -> Result<
        aws_sdk_appmesh::operation::describe_virtual_service::DescribeVirtualServiceOutput,
        AppMeshError,
    > {
        self.call("DescribeVirtualService", || async {
            self.sdk()
                .await
                .describe_virtual_service()
                .mesh_name(mesh)
                .set_mesh_owner(owner.clone())
                .virtual_service_name(service)
                .send()
                .await
                .map_err(|e| AppMeshError::from_sdk("DescribeVirtualService", e))
        })
        .await
    }

    /// A virtual gateway's listeners, `(protocol, port)` each (for `import`).
    pub async fn gateway_listeners(
        &self,
        mesh: &str,
        owner: Option<&str>,
        gateway: &str,
    ) -> Result<Vec<(String, i32)>, AppMeshError> {
        let owner = owner.map(String::from);
        let out = self.describe_gateway(mesh, &owner, gateway).await?;
        Ok(out
            .virtual_gateway
            .and_then(|g| g.spec)
            .map(|s| s.listeners)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| l.port_mapping)
            .map(|p| (p.protocol.as_str().to_string(), p.port))
            .collect())
    }

    /// After a 404 on create or update: which of the mesh, the virtual gateway and the target
    /// virtual service is missing. Asked of App Mesh rather than read from its message, whose
    /// wording is not part of the API.
    pub async fn find_missing(
        &self,
        key: &RouteKey,
        target: &str,
    ) -> Result<Missing, AppMeshError> {
        for what in Missing::needed_by(key, target) {
            if !self
                .exists(&key.mesh, key.mesh_owner.as_deref(), &what)
                .await?
            {
                return Ok(what);
            }
        }
        Ok(Missing::Unknown)
    }

    /// Whether the mesh, virtual gateway or virtual service `what` (in `mesh`) exists: one
    /// Describe call.
    pub async fn exists(
        &self,
        mesh: &str,
        owner: Option<&str>,
        what: &Missing,
    ) -> Result<bool, AppMeshError> {
        let owner = owner.map(String::from);
        let absent = match what {
            Missing::Mesh(_) => is_not_found(
                &self
                    .call("DescribeMesh", || async {
                        self.sdk()
                            .await
                            .describe_mesh()
                            .mesh_name(mesh)
                            .set_mesh_owner(owner.clone())
                            .send()
                            .await
                            .map_err(|e| AppMeshError::from_sdk("DescribeMesh", e))
                    })
                    .await,
            )?,
            Missing::VirtualGateway(gateway) => {
                is_not_found(&self.describe_gateway(mesh, &owner, gateway).await)?
            }
            Missing::VirtualService(service) => {
                is_not_found(&self.describe_service(mesh, &owner, service).await)?
            }
            Missing::Unknown => false,
        };
        Ok(!absent)
    }
}

fn is_not_found<T>(result: &Result<T, AppMeshError>) -> Result<bool, AppMeshError> {
    match result {
        Ok(_) => Ok(false),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e.clone()),
    }
}

fn conversion(e: convert::ConversionError) -> AppMeshError {
    AppMeshError {
        kind: ErrorKind::Unconvertible,
        operation: "convert",
        code: "ConversionError".into(),
        message: e.to_string(),
        request_id: None,
    }
}

fn to_sdk_spec(spec: &RouteSpec) -> Result<sdk::GatewayRouteSpec, AppMeshError> {
    convert::to_sdk(spec).map_err(conversion)
}

fn time(t: &aws_sdk_appmesh::primitives::DateTime) -> Option<Time> {
    let ts = k8s_openapi::jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok()?;
    Some(Time(ts))
}

fn observed(route: Option<sdk::GatewayRouteData>) -> Result<ObservedRoute, AppMeshError> {
    let route = route.ok_or_else(|| AppMeshError {
        kind: ErrorKind::Other,
        operation: "read",
        code: "EmptyAnswer".into(),
        message: "App Mesh answered without a gateway route".into(),
        request_id: None,
    })?;
    let meta = route.metadata.as_ref();
    let spec = route
        .spec
        .as_ref()
        .map(convert::from_sdk)
        .transpose()
        .map_err(|e| AppMeshError {
            kind: ErrorKind::Unreadable,
            operation: "read",
            code: "UnreadableSpec".into(),
            message: e.to_string(),
            request_id: None,
        })?
        .unwrap_or_default();
    Ok(ObservedRoute {
        arn: meta.map(|m| m.arn.clone()).unwrap_or_default(),
        uid: meta.map(|m| m.uid.clone()).unwrap_or_default(),
        version: meta.map(|m| m.version).unwrap_or_default(),
        mesh_owner: meta.map(|m| m.mesh_owner.clone()).unwrap_or_default(),
        resource_owner: meta.map(|m| m.resource_owner.clone()).unwrap_or_default(),
        created_at: meta.and_then(|m| time(&m.created_at)),
        last_updated_at: meta.and_then(|m| time(&m.last_updated_at)),
        status: route
            .status
            .map(|s| s.status.as_str().to_string())
            .unwrap_or_default(),
        spec,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::OPERATIONS;

    /// The metrics start every operation's series at 0: the list must be every one called.
    #[test]
    fn every_operation_called_is_listed() {
        let source = include_str!("client.rs");
        let called: BTreeSet<&str> = source
            .split(".call(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(called, OPERATIONS.into_iter().collect());
    }
}
