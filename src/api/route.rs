//! The route kinds of a GatewayRoute: what a request must match and where it goes. Field names
//! and bounds follow App Mesh's `GatewayRouteSpec` (API version 2019-01-25).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An HTTP or HTTP/2 gateway route: requests that match `match` go to `action.target`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGatewayRoute {
    /// What a request must look like to take this route: set `prefix` or `path` (not both),
    /// or at least a `hostname` or `port`; every criterion that is set must match.
    #[serde(rename = "match")]
    pub route_match: HttpGatewayRouteMatch,
    /// Where matching requests go, and how they are rewritten on the way.
    pub action: HttpGatewayRouteAction,
}

/// Criteria for an HTTP or HTTP/2 request. Set `prefix` or `path` (not both), or at least a
/// `hostname` or `port`; every criterion that is set must match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.prefix) && has(self.path))").message("set either prefix or path, not both"),
    validation = Rule::new("has(self.prefix) || has(self.path) || has(self.hostname) || has(self.port)").message("set one of prefix, path, hostname or port")
)]
pub struct HttpGatewayRouteMatch {
    /// Path prefix to match; `/` alone matches every request. App Mesh documents that it
    /// starts with `/`, but holds prefixes without one too, so meshroute accepts what App Mesh
    /// accepts. Prefixes starting with `/aws-appmesh` or `/aws-app-mesh` are reserved by App Mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("!self.startsWith('/aws-appmesh') && !self.startsWith('/aws-app-mesh')").message("prefixes starting with /aws-appmesh or /aws-app-mesh are reserved by App Mesh")
    )]
    pub prefix: Option<String>,
    /// The whole path to match, exactly or by regular expression (instead of `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathMatch>,
    /// The host name to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<GatewayRouteHostnameMatch>,
    /// The HTTP method to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Headers to match (1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10))]
    pub headers: Option<Vec<HttpGatewayRouteHeader>>,
    /// Query parameters to match (1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10))]
    pub query_parameters: Option<Vec<HttpQueryParameter>>,
    /// The listener port to match, for a virtual gateway with several listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A path to match: set exactly one of `exact` or `regex`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.exact) != has(self.regex)").message("set exactly one of exact or regex"))]
pub struct HttpPathMatch {
    /// The exact path (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub exact: Option<String>,
    /// A regular expression the path must match (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub regex: Option<String>,
}

/// A host name to match: set exactly one of `exact` or `suffix`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.exact) != has(self.suffix)").message("set exactly one of exact or suffix"))]
pub struct GatewayRouteHostnameMatch {
    /// The exact host name (1 to 253 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub exact: Option<String>,
    /// A host name suffix, such as `.example.com` (1 to 253 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub suffix: Option<String>,
}

/// HTTP methods a route can match.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    HEAD,
    POST,
    PUT,
    DELETE,
    CONNECT,
    OPTIONS,
    TRACE,
    PATCH,
}

/// A request header to match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGatewayRouteHeader {
    /// The header name (1 to 50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub name: String,
    /// Match when the header does NOT match `match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invert: Option<bool>,
    /// How the header value must match; without it, the header only has to be present.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "match")]
    pub value_match: Option<HeaderMatchMethod>,
}

/// How a header or gRPC metadata value must match: set exactly one of `exact`, `prefix`,
/// `suffix`, `regex` or `range`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.exact), has(self.prefix), has(self.suffix), has(self.regex), has(self.range)].filter(x, x).size() == 1").message("set exactly one of exact, prefix, suffix, regex or range"))]
pub struct HeaderMatchMethod {
    /// The value must equal this (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub exact: Option<String>,
    /// The value must start with this (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub prefix: Option<String>,
    /// The value must end with this (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub suffix: Option<String>,
    /// The value must match this regular expression (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub regex: Option<String>,
    /// The value, as a number, must lie in this range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<MatchRange>,
}

/// A numeric range: `start` inclusive, `end` exclusive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.start < self.end").message("start must be less than end"))]
pub struct MatchRange {
    /// First value in the range.
    pub start: i64,
    /// First value past the range.
    pub end: i64,
}

/// A query parameter to match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpQueryParameter {
    /// The query parameter name.
    pub name: String,
    /// How its value must match; without it, the parameter only has to be present.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "match")]
    pub value_match: Option<QueryParameterMatch>,
}

/// How a query parameter value must match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterMatch {
    /// The value must equal this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
}

/// Where an HTTP or HTTP/2 route sends requests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGatewayRouteAction {
    /// The virtual service that receives matching requests.
    pub target: GatewayRouteTarget,
    /// How the request is rewritten before it is sent on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<HttpGatewayRouteRewrite>,
}

/// The virtual service a route sends requests to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteTarget {
    /// The target virtual service; it must exist in the same mesh.
    pub virtual_service: GatewayRouteVirtualService,
    /// The target's listener port, for a virtual service with several listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A virtual service, by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteVirtualService {
    /// The virtual service's name in App Mesh (1 to 255 characters), such as
    /// `myservice.apps.svc.cluster.local`.
    #[schemars(length(min = 1, max = 255))]
    pub virtual_service_name: String,
}

/// Rewrites of an HTTP or HTTP/2 request.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGatewayRouteRewrite {
    /// Rewrite of the Host header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<GatewayRouteHostnameRewrite>,
    /// Replace the whole path (needs a `path` match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpGatewayRoutePathRewrite>,
    /// Replace the matched prefix (needs a `prefix` match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<HttpGatewayRoutePrefixRewrite>,
}

/// Rewrite of the Host header.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteHostnameRewrite {
    /// `ENABLED` (App Mesh's default) sets the Host header to the target virtual service's
    /// name; `DISABLED` keeps the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_target_hostname: Option<EnabledDisabled>,
}

/// `ENABLED` or `DISABLED`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum EnabledDisabled {
    Enabled,
    Disabled,
}

/// Replacement of the whole path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGatewayRoutePathRewrite {
    /// The new path (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub exact: Option<String>,
}

/// Replacement of the matched prefix: set exactly one of `defaultPrefix` or `value`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.defaultPrefix) != has(self.value)").message("set exactly one of defaultPrefix or value"))]
pub struct HttpGatewayRoutePrefixRewrite {
    /// `ENABLED` replaces the matched prefix with `/`; `DISABLED` keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_prefix: Option<EnabledDisabled>,
    /// The prefix that replaces the matched one (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub value: Option<String>,
}

/// A gRPC gateway route: calls that match `match` go to `action.target`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrpcGatewayRoute {
    /// What a call must look like to take this route: set at least one of `serviceName`,
    /// `hostname` or `metadata`; every criterion that is set must match.
    #[serde(rename = "match")]
    pub route_match: GrpcGatewayRouteMatch,
    /// Where matching calls go.
    pub action: GrpcGatewayRouteAction,
}

/// Criteria for a gRPC call: set at least one of `serviceName`, `hostname`, `metadata` or
/// `port`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.serviceName) || has(self.hostname) || has(self.metadata) || has(self.port)").message("set at least one of serviceName, hostname, metadata or port"))]
pub struct GrpcGatewayRouteMatch {
    /// The fully qualified gRPC service name to match, such as `echo.v1.Echo`. Names starting
    /// with `aws.appmesh` are reserved by App Mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('aws.appmesh')").message("gRPC service names starting with aws.appmesh are reserved by App Mesh"))]
    pub service_name: Option<String>,
    /// The host name to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<GatewayRouteHostnameMatch>,
    /// Call metadata to match (1 to 10 entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10))]
    pub metadata: Option<Vec<GrpcGatewayRouteMetadata>>,
    /// The listener port to match, for a virtual gateway with several listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A gRPC metadata entry to match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrpcGatewayRouteMetadata {
    /// The metadata key (1 to 50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub name: String,
    /// Match when the metadata does NOT match `match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invert: Option<bool>,
    /// How the metadata value must match; without it, the key only has to be present.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "match")]
    pub value_match: Option<HeaderMatchMethod>,
}

/// Where a gRPC route sends calls.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrpcGatewayRouteAction {
    /// The virtual service that receives matching calls.
    pub target: GatewayRouteTarget,
    /// How the call is rewritten before it is sent on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<GrpcGatewayRouteRewrite>,
}

/// Rewrites of a gRPC call.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrpcGatewayRouteRewrite {
    /// Rewrite of the Host header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<GatewayRouteHostnameRewrite>,
}
