//! The App Mesh client: SDK set-up (region, endpoint override, default credential chain), the
//! rate limiter and short retries every call goes through, and the gateway-route operations the
//! reconciler uses, in the CRD's terms.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_appmesh::config::retry::RetryConfig;
use aws_sdk_appmesh::config::timeout::TimeoutConfig;
use aws_sdk_appmesh::config::{BehaviorVersion, Region};
use aws_sdk_appmesh::types as sdk;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::breaker::{Admission, Breaker};
use super::convert::{self, RouteSpec};
use super::error::{AppMeshError, ErrorKind};
use crate::api::Tag;
use crate::backoff;
use crate::fair::Limiter;
use crate::leader::Fence;
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
pub const OPERATIONS: [&str; 16] = [
    "CreateGatewayRoute",
    "DeleteGatewayRoute",
    "DescribeGatewayRoute",
    "DescribeMesh",
    "DescribeRoute",
    "DescribeVirtualGateway",
    "DescribeVirtualNode",
    "DescribeVirtualRouter",
    "DescribeVirtualService",
    "ListGatewayRoutes",
    "ListRoutes",
    "ListTagsForResource",
    "ListVirtualGateways",
    "TagResource",
    "UntagResource",
    "UpdateGatewayRoute",
];

/// The most items App Mesh returns in one page of a List call.
pub(super) const PAGE: i32 = 100;

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
    pub(super) async fn sdk(&self) -> &aws_sdk_appmesh::Client {
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
    pub(super) async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        mut send: F,
    ) -> Result<T, AppMeshError>
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
        let out = send!(self, "DescribeGatewayRoute", |c| locate!(
            c.describe_gateway_route(),
            key
        ))
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
        let out = send!(self, "CreateGatewayRoute", |c| locate!(
            c.create_gateway_route(),
            key
        )
        .spec(spec.clone())
        .set_tags(Some(tags.clone()))
        .client_token(client_token))
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
        let out = send!(self, "UpdateGatewayRoute", |c| locate!(
            c.update_gateway_route(),
            key
        )
        .spec(spec.clone())
        .client_token(client_token))
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
        let out = send!(self, "DeleteGatewayRoute", |c| locate!(
            c.delete_gateway_route(),
            key
        ))
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
            let out = send!(self, "ListTagsForResource", |c| c
                .list_tags_for_resource()
                .resource_arn(arn)
                .set_next_token(next.clone()))
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
        send!(self, "TagResource", |c| c
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.clone())))
        .await
        .map(|_| ())
    }

    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AppMeshError> {
        send!(self, "UntagResource", |c| c
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec())))
        .await
        .map(|_| ())
    }

    /// The names of every virtual gateway in a mesh, a page (up to 100) per call.
    pub async fn list_gateways(
        &self,
        mesh: &str,
        mesh_owner: Option<&str>,
    ) -> Result<Vec<String>, AppMeshError> {
        self.all_pages(|next| async move {
            let out = send!(self, "ListVirtualGateways", |c| c
                .list_virtual_gateways()
                .mesh_name(mesh)
                .set_mesh_owner(mesh_owner.map(String::from))
                .limit(PAGE)
                .set_next_token(next.clone()))
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
            let out = send!(self, "ListGatewayRoutes", |c| c
                .list_gateway_routes()
                .mesh_name(mesh)
                .set_mesh_owner(mesh_owner.map(String::from))
                .virtual_gateway_name(gateway)
                .limit(PAGE)
                .set_next_token(next.clone()))
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

/// A spec App Mesh answered with that meshroute cannot read.
pub(super) fn unreadable(e: convert::ConversionError) -> AppMeshError {
    AppMeshError {
        kind: ErrorKind::Unreadable,
        operation: "read",
        code: "UnreadableSpec".into(),
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
        .map_err(unreadable)?
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
        let source = [include_str!("client.rs"), include_str!("lookups.rs")].concat();
        let called: BTreeSet<&str> = source
            .split("send!(self, \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(called, OPERATIONS.into_iter().collect());
    }
}
