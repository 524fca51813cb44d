//! The `GatewayRoute` custom resource (`meshroute.io/v1alpha1`): what users write, what
//! `kubectl explain` shows, and every rule App Mesh would enforce, checked at admission.

mod condition;
mod events;
pub mod matching;
mod names;
pub mod ownership;
pub mod policy;
pub mod recorded;
mod route;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use condition::{GATEWAY_API_FINDINGS, READY, RECONCILING, Reason, SHADOWED, STALLED};
pub use events::EventReason;
pub use names::{default_app_mesh_name, object_name, short_hash};
pub use route::*;

/// An AWS App Mesh gateway route, kept in sync by meshroute.
///
/// The spec mirrors App Mesh's CreateGatewayRoute request: the mesh and virtual gateway it
/// belongs to, a priority, exactly one of `grpcRoute`, `httpRoute` or `http2Route`, and tags.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "meshroute.io",
    version = "v1alpha1",
    kind = "GatewayRoute",
    namespaced,
    status = "GatewayRouteStatus",
    shortname = "gwr",
    category = "meshroute",
    category = "appmesh",
    derive = "PartialEq",
    doc = "A GatewayRoute makes meshroute keep one AWS App Mesh gateway route equal to its spec, and reports the route's ARN, version and readiness in its status.",
    printcolumn = r#"{"name":"Mesh","type":"string","jsonPath":".spec.meshName"}"#,
    printcolumn = r#"{"name":"Gateway","type":"string","jsonPath":".spec.virtualGatewayName"}"#,
    printcolumn = r#"{"name":"Route","type":"string","jsonPath":".status.routeKind"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Served By","type":"string","jsonPath":".status.servedBy","priority":1}"#,
    printcolumn = r#"{"name":"ARN","type":"string","jsonPath":".status.arn","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.grpcRoute), has(self.httpRoute), has(self.http2Route)].filter(x, x).size() == 1").message("set exactly one of spec.grpcRoute, spec.httpRoute or spec.http2Route"),
    validation = Rule::new("has(self.meshOwner) == has(oldSelf.meshOwner)").message("meshOwner cannot be added or removed after creation; delete and re-create the GatewayRoute to move it"),
    validation = Rule::new("has(self.gatewayRouteName) == has(oldSelf.gatewayRouteName)").message("gatewayRouteName cannot be added or removed after creation; delete and re-create the GatewayRoute to rename it")
)]
pub struct GatewayRouteSpec {
    /// The App Mesh service mesh the route belongs to (1 to 255 characters). Immutable.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("meshName is immutable; delete and re-create the GatewayRoute to move it"))]
    pub mesh_name: String,

    /// The 12-digit AWS account id that owns the mesh, when it is shared with this account by
    /// another one. Omit for a mesh of your own. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 12, max = 12), regex(pattern = r"^[0-9]{12}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("meshOwner is immutable; delete and re-create the GatewayRoute to move it"))]
    pub mesh_owner: Option<String>,

    /// The virtual gateway the route is attached to (1 to 255 characters). Immutable.
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("virtualGatewayName is immutable; delete and re-create the GatewayRoute to move it"))]
    pub virtual_gateway_name: String,

    /// The route's name in App Mesh (1 to 255 characters, none of `/ ? # %` or white space,
    /// which do not survive an ARN or a URL path); defaults to `<metadata.name>_<namespace>`.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    #[x_kube(
        validation = Rule::new("self == oldSelf").message("gatewayRouteName is immutable; delete and re-create the GatewayRoute to rename it"),
        validation = Rule::new(r"!self.matches('[/?#%\\s]') && self != '.' && self != '..'").message("gatewayRouteName must not contain / ? # % or white space, nor be . or ..: App Mesh could not address the route by its ARN")
    )]
    pub gateway_route_name: Option<String>,

    /// Order among the gateway's routes, 0 (first) to 1000 (last). Without a priority, App Mesh
    /// orders routes by how specific their match is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub priority: Option<i32>,

    /// A gRPC route. Set exactly one of grpcRoute, httpRoute or http2Route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_route: Option<GrpcGatewayRoute>,

    /// An HTTP/1.1 route. Set exactly one of grpcRoute, httpRoute or http2Route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<HttpGatewayRoute>,

    /// An HTTP/2 route. Set exactly one of grpcRoute, httpRoute or http2Route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_route: Option<HttpGatewayRoute>,

    /// Tags for the App Mesh route (at most 46: App Mesh allows 50 per resource and meshroute
    /// keeps 4 for its ownership tags, whose keys start with `meshroute.io/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = ownership::MAX_USER_TAGS), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["key"]))]
    pub tags: Option<Vec<Tag>>,

    /// What happens in App Mesh when this object is deleted: `Delete` (the default) deletes the
    /// App Mesh route; `Retain` leaves it in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// A tag on the App Mesh route.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// The tag key (1 to 128 characters); keys starting with `meshroute.io/` are reserved.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new(ownership::reserved_key_rule()).message("tag keys starting with meshroute.io/ are reserved for meshroute's ownership tags"))]
    pub key: String,
    /// The tag value (0 to 256 characters).
    #[schemars(length(max = 256))]
    pub value: String,
}

impl Tag {
    /// Whether this is one of meshroute's ownership tags (not the user's).
    pub fn is_ownership(&self) -> bool {
        ownership::is_reserved(&self.key)
    }
}

/// What happens in App Mesh when the GatewayRoute is deleted: `Delete` or `Retain`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// What meshroute last saw of the App Mesh route, and whether it matches the spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteStatus {
    /// The App Mesh route's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// App Mesh's unique id of the route (not the Kubernetes uid). Kept when meshroute deletes
    /// the route because Gateway API alone serves its gateway: a route made again is a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// App Mesh's version of the route: 1 after create, one more after each update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The account that owns the mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_owner: Option<String>,
    /// The account that owns the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
    /// When App Mesh created the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// When App Mesh last changed the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_at: Option<Time>,
    /// App Mesh's status of the route: ACTIVE, INACTIVE or DELETED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_status: Option<String>,
    /// Which route kind the spec sets: grpc, http or http2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_kind: Option<String>,
    /// The meshroute shard (the namespace/name of its leader Lease) that last wrote this
    /// status. Two shards that keep replacing each other here watch overlapping objects: give
    /// them disjoint `--label-selector`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// A digest of the tags meshroute last gave the route, so that a spec change which leaves
    /// the tags alone updates the route in one call, without reading its tags back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_digest: Option<String>,
    /// The Gateway API route that serves this object where its virtual gateway is served by
    /// Gateway API (`meshroute run --serve`).
    #[serde(
        default,
        rename = "gatewayAPIRoute",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_api_route: Option<GatewayApiRoute>,
    /// Which backends hold a route for it, as recorded: `App Mesh`, `Gateway API`, or
    /// `App Mesh, Gateway API` during a cut-over (`kubectl get gwr -o wide`: SERVED BY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` is True when every backend serving the route (App Mesh, a Gateway API Gateway,
    /// or both) has exactly this spec; its reason says why not otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// An HTTPRoute or GRPCRoute meshroute wrote for a GatewayRoute, in the GatewayRoute's
/// namespace and of its name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApiRoute {
    /// HTTPRoute or GRPCRoute.
    pub kind: String,
    /// The Gateway it attaches to: `namespace/name`, or `namespace/name/listener`.
    pub parent: String,
}

/// The last line of a parser's message (the first lines repeat the pattern with a caret).
fn first_line(message: &str) -> &str {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
}

impl GatewayRouteSpec {
    /// Every regular expression in the spec that App Mesh's Envoy (RE2) would refuse to load,
    /// as `field: reason`. The CRD cannot check these, so meshroute does before any App Mesh
    /// call.
    pub fn invalid_regexes(&self) -> Vec<String> {
        fn value_matches<'a>(
            found: &mut Vec<(String, &'a str)>,
            at: &str,
            matches: Vec<Option<&'a HeaderMatchMethod>>,
        ) {
            for (i, m) in matches.into_iter().enumerate() {
                if let Some(regex) = m.and_then(|m| m.regex.as_deref()) {
                    found.push((format!("{at}[{i}].match.regex"), regex));
                }
            }
        }
        let mut found: Vec<(String, &str)> = Vec::new();
        for (kind, route) in [
            ("httpRoute", &self.http_route),
            ("http2Route", &self.http2_route),
        ] {
            let Some(route) = route else { continue };
            let m = &route.route_match;
            if let Some(r) = m.path.as_ref().and_then(|p| p.regex.as_deref()) {
                found.push((format!("spec.{kind}.match.path.regex"), r));
            }
            let headers = m.headers.iter().flatten();
            value_matches(
                &mut found,
                &format!("spec.{kind}.match.headers"),
                headers.map(|h| h.value_match.as_ref()).collect(),
            );
        }
        if let Some(route) = &self.grpc_route {
            let metadata = route.route_match.metadata.iter().flatten();
            value_matches(
                &mut found,
                "spec.grpcRoute.match.metadata",
                metadata.map(|h| h.value_match.as_ref()).collect(),
            );
        }
        found
            .into_iter()
            .filter_map(|(field, regex)| {
                regex_syntax::Parser::new().parse(regex).err().map(|e| {
                    format!(
                        "{field}: {regex:?} is not a valid regular expression ({})",
                        first_line(&e.to_string())
                    )
                })
            })
            .collect()
    }

    /// The route kind the spec sets (`grpc`, `http` or `http2`), as shown by `kubectl get`.
    pub fn route_kind(&self) -> Option<&'static str> {
        match (&self.grpc_route, &self.http_route, &self.http2_route) {
            (Some(_), None, None) => Some("grpc"),
            (None, Some(_), None) => Some("http"),
            (None, None, Some(_)) => Some("http2"),
            _ => None,
        }
    }
}

impl GatewayRoute {
    /// The route's name in App Mesh: `spec.gatewayRouteName` if set; else the name already
    /// recorded in `status.arn` (so routes created before the default changed keep theirs);
    /// else `<metadata.name>_<namespace>`, which cannot clash between namespaces.
    pub fn app_mesh_name(&self) -> String {
        if let Some(name) = &self.spec.gateway_route_name {
            return name.clone();
        }
        let recorded = self
            .status
            .as_ref()
            .and_then(|s| s.arn.as_deref())
            .and_then(|arn| arn.rsplit_once("/gatewayRoute/"))
            .map(|(_, name)| name);
        match recorded {
            Some(name) => name.to_string(),
            None => default_app_mesh_name(
                self.metadata.name.as_deref().unwrap_or_default(),
                self.metadata.namespace.as_deref().unwrap_or_default(),
            ),
        }
    }

    /// The deletion policy, `Delete` unless the spec says otherwise.
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or_default()
    }
}
