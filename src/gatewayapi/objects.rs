//! The Gateway API objects meshroute writes and reads, as its own serde types: the subset of
//! HTTPRoute, GRPCRoute, Gateway and ReferenceGrant (and a route's status) that the mapping makes
//! and the backend judges. Field names and meanings are Gateway API's v1 (ReferenceGrant v1beta1)
//! API reference; fields meshroute never sets are left out, and unknown fields are ignored when
//! read. (The `gateway-api` crate, 0.22, still targets kube 4 and k8s-openapi 0.28.)

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The API version of the routes and Gateways.
pub const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
/// Their API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// An HTTPRoute or a GRPCRoute, ordered as their names are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RouteKind {
    #[serde(rename = "GRPCRoute")]
    Grpc,
    #[serde(rename = "HTTPRoute")]
    Http,
}

impl RouteKind {
    pub const ALL: [RouteKind; 2] = [RouteKind::Http, RouteKind::Grpc];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        }
    }
}

/// An HTTPRoute or GRPCRoute: one rule, as a GatewayRoute maps to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub api_version: String,
    pub kind: RouteKind,
    pub metadata: ObjectMeta,
    pub spec: RouteSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RouteStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A Gateway (or one listener of it, `section_name`, or one port) a route attaches to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
    /// An HTTPRoute rule's timeouts (Standard channel, Extended support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// An HTTPRoute rule's retries (experimental channel, GEP-1731).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// `HTTPRouteRule.retry` (experimental): retry a request whose backend answered one of `codes`,
/// at most `attempts` times, waiting `backoff` between tries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
}

/// `HTTPRouteRule.timeouts`: `request` bounds the whole request, retries included; a Gateway
/// API Duration (GEP-2257: up to four `<1-5 digits><h|m|s|ms>` parts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// One try's time limit (each retry's), at most `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request: Option<String>,
}

/// One match of a rule: an HTTPRoute's (path, method name, headers, query parameters) or a
/// GRPCRoute's (method as service and method, headers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<MethodMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<ValueMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<ValueMatch>,
}

impl RouteMatch {
    pub fn is_empty(&self) -> bool {
        self == &RouteMatch::default()
    }
}

/// How a path is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathType {
    PathPrefix,
    Exact,
    RegularExpression,
}

impl PathType {
    pub fn as_str(self) -> &'static str {
        match self {
            PathType::PathPrefix => "PathPrefix",
            PathType::Exact => "Exact",
            PathType::RegularExpression => "RegularExpression",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMatch {
    #[serde(rename = "type")]
    pub type_: PathType,
    pub value: String,
}

/// An HTTPRoute's method (`GET`), or a GRPCRoute's (service, and method within it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MethodMatch {
    Http(String),
    Grpc(GrpcMethod),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcMethod {
    #[serde(rename = "type")]
    pub type_: MatchType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// How a header, query parameter or gRPC method is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchType {
    Exact,
    RegularExpression,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Exact => "Exact",
            MatchType::RegularExpression => "RegularExpression",
        }
    }
}

/// A header or query parameter match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMatch {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: MatchType,
    pub value: String,
}

/// A rule's filter; meshroute writes `URLRewrite` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<UrlRewrite>,
}

impl Filter {
    pub fn url_rewrite(rewrite: UrlRewrite) -> Filter {
        Filter {
            type_: "URLRewrite".into(),
            url_rewrite: Some(rewrite),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
}

/// A path rewrite: the matched prefix replaced, or the whole path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PathRewrite {
    #[serde(rename_all = "camelCase")]
    ReplacePrefixMatch { replace_prefix_match: String },
    #[serde(rename_all = "camelCase")]
    ReplaceFullPath { replace_full_path: String },
}

/// A Service a rule sends to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Its share of the rule's requests, relative to the other backends' (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// A route's status, as its implementations write it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteStatus {
    #[serde(default)]
    pub parents: Vec<RouteParentStatus>,
}

/// What the implementation of one parent says of the route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    #[serde(default)]
    pub parent_ref: ParentRef,
    #[serde(default)]
    pub controller_name: Option<String>,
    #[serde(default)]
    pub conditions: Vec<RouteCondition>,
}

/// A condition as read: fields an implementation leaves out read as empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteCondition {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub observed_generation: Option<i64>,
}

/// A Gateway `export gateway-api` prints for a virtual gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: GatewaySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: String,
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub name: String,
    pub protocol: String,
    pub port: i32,
}

/// The ReferenceGrant that lets routes in one namespace send to Services in another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrant {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ReferenceGrantSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceGrantSpec {
    pub from: Vec<GrantFrom>,
    pub to: Vec<GrantTo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantFrom {
    pub group: String,
    pub kind: String,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTo {
    pub group: String,
    pub kind: String,
}

/// Any object the export prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    Route(Box<Route>),
    Gateway(Gateway),
    ReferenceGrant(ReferenceGrant),
}

impl Object {
    pub fn kind(&self) -> &str {
        match self {
            Object::Route(r) => r.kind.as_str(),
            Object::Gateway(g) => &g.kind,
            Object::ReferenceGrant(g) => &g.kind,
        }
    }
}

/// Metadata of `name` in `namespace`.
pub fn metadata(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        ..Default::default()
    }
}

/// Metadata with annotations.
pub fn annotated(name: &str, namespace: &str, annotations: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        annotations: Some(annotations),
        ..metadata(name, namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_reads_back_as_written_and_an_implementations_status_reads_leniently() {
        let json = serde_json::json!({
            "apiVersion": GATEWAY_API, "kind": "GRPCRoute",
            "metadata": { "name": "echo", "namespace": "team" },
            "spec": { "parentRefs": [{ "name": "gw", "namespace": "infra", "port": 8081 }],
                "rules": [{
                    "matches": [{ "method": { "type": "Exact", "service": "echo.v1.Echo" },
                                  "headers": [{ "name": "x-a", "type": "Exact", "value": "1" }] }],
                    "filters": [{ "type": "URLRewrite", "urlRewrite": { "hostname": "h",
                        "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": "/" } } }],
                    "backendRefs": [{ "name": "echo", "port": 50051 }] }] },
            "status": { "parents": [{ "parentRef": { "name": "gw" },
                "conditions": [{ "type": "Accepted", "status": "True", "unknown": 1 }] }] },
        });
        let route: Route = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(route.kind, RouteKind::Grpc);
        let status = route.status.as_ref().unwrap();
        assert_eq!(status.parents[0].conditions[0].reason, "");
        let mut written = serde_json::to_value(&route).unwrap();
        written["status"]["parents"][0]["conditions"][0]
            .as_object_mut()
            .unwrap()
            .insert("unknown".into(), 1.into());
        for (k, v) in [("reason", ""), ("message", "")] {
            assert_eq!(written["status"]["parents"][0]["conditions"][0][k], v);
        }
        assert_eq!(written["spec"], json["spec"]);
        let http: MethodMatch = serde_json::from_value(serde_json::json!("POST")).unwrap();
        assert_eq!(http, MethodMatch::Http("POST".into()));
    }
}
