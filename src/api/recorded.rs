//! What `import` learned from App Mesh beyond the route itself, recorded on the GatewayRoutes
//! it prints as annotations, so `export gateway-api` resolves backends and listener ports from
//! the mesh instead of assuming them: the target virtual service's provider (a virtual node's
//! DNS or Cloud Map service discovery and listener port, or a virtual router's port, its routes
//! and the virtual nodes they target) and the virtual gateway's listeners.

use serde::{Deserialize, Serialize};

use super::GatewayRoute;

/// Annotation (JSON, [`Backend`]) with the target virtual service's provider.
pub const BACKEND_ANNOTATION: &str = "meshroute.io/app-mesh-backend";
/// Annotation with the virtual gateway's listeners, `protocol:port` separated by commas
/// (`http:8080,grpc:8082`).
pub const LISTENERS_ANNOTATION: &str = "meshroute.io/app-mesh-listeners";

/// The provider of a route's target virtual service, as App Mesh described it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    /// `virtualNode/<name>` or `virtualRouter/<name>`; none when the service has no provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The virtual node's DNS service discovery host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_hostname: Option<String>,
    /// The virtual node's Cloud Map service discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_map: Option<CloudMap>,
    /// The provider's listener port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// A virtual router's listener protocol (`http`, `http2`, `grpc`, `tcp`): which of its
    /// routes' kinds take the requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// A virtual node's listener settings that act on the requests sent to it, by name
    /// (`tls`, `connectionPool`, `outlierDetection`, `timeout`): what a Service does not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// A virtual router's routes (the router's name is in `provider`), as App Mesh holds them:
    /// what each matches, the virtual nodes it sends to with their weights, its timeouts and
    /// retry policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouterRoute>,
    /// What each virtual node a router's route targets stands for (its service discovery and
    /// port), by the node's name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub nodes: std::collections::BTreeMap<String, Backend>,
}

/// The listener settings `Backend::settings` names, as the API spells them.
pub const NODE_SETTINGS: [&str; 4] = ["tls", "connectionPool", "outlierDetection", "timeout"];

/// One route of a virtual router: its name and its spec in App Mesh API terms (`RouteSpec`:
/// `priority` and one of `httpRoute`, `http2Route`, `grpcRoute`, `tcpRoute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterRoute {
    pub name: String,
    pub spec: serde_json::Value,
}

impl RouterRoute {
    /// The virtual nodes the route sends requests to, as its spec names them.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        ["httpRoute", "http2Route", "grpcRoute", "tcpRoute"]
            .into_iter()
            .filter_map(|kind| self.spec[kind]["action"]["weightedTargets"].as_array())
            .flatten()
            .filter_map(|t| t["virtualNode"].as_str())
    }
}

/// A Cloud Map service: `serviceName` in the namespace `namespaceName`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudMap {
    pub namespace_name: String,
    pub service_name: String,
}

/// One listener of a virtual gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener<'a> {
    pub protocol: &'a str,
    pub port: i32,
}

impl Backend {
    /// The record on `route`, if import left one (and it parses).
    pub fn of(route: &GatewayRoute) -> Option<Backend> {
        let text = route
            .metadata
            .annotations
            .as_ref()?
            .get(BACKEND_ANNOTATION)?;
        serde_json::from_str(text).ok()
    }
}

/// The listeners recorded on `route` (none if import left no record).
pub fn listeners(route: &GatewayRoute) -> Vec<Listener<'_>> {
    let Some(text) = route
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LISTENERS_ANNOTATION))
    else {
        return Vec::new();
    };
    text.split(',')
        .filter_map(|l| {
            let (protocol, port) = l.trim().split_once(':')?;
            Some(Listener {
                protocol,
                port: port.parse().ok()?,
            })
        })
        .collect()
}

/// The annotation value for `listeners`.
pub fn listeners_annotation(listeners: &[(String, i32)]) -> String {
    listeners
        .iter()
        .map(|(protocol, port)| format!("{protocol}:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}
