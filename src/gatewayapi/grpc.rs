//! A `grpcRoute` as a GRPCRoute's spec: service and metadata matches, and the backend. A
//! service name GRPCRoute refuses, but that can stand in a path, becomes an HTTPRoute on
//! `POST /<service>/` instead: exact for gRPC, whose calls are `/<service>/<method>`.

use serde_json::{Map, Value, json};

use super::backend::backend;
use super::matches::{disabled, header_match, hostnames, listener_port, unique_names};
use super::valid::{is_grpc_service, is_hostname, is_path_segment};
use super::{Code, Findings, Options, Precedence};
use crate::api::GrpcGatewayRoute;
use crate::api::recorded::Backend;

/// The kind (GRPCRoute, or HTTPRoute for a service name only a path can carry), its spec (no
/// parentRefs), its precedence and listener port.
pub(super) fn route(
    grpc: &GrpcGatewayRoute,
    namespace: &str,
    recorded: Option<&Backend>,
    opts: &Options,
    f: &mut Findings,
) -> (&'static str, Map<String, Value>, Precedence, Option<i32>) {
    let m = &grpc.route_match;
    let mut matched = Map::new();
    let mut precedence = Precedence::default();
    let mut kind = "GRPCRoute";
    if let Some(service) = &m.service_name {
        if is_grpc_service(service) {
            matched.insert(
                "method".into(),
                json!({ "type": "Exact", "service": service }),
            );
            precedence.prefix = service.len();
        } else if is_path_segment(service) {
            kind = "HTTPRoute";
            let prefix = format!("/{service}/");
            precedence.prefix = prefix.len();
            precedence.method = true;
            matched.insert(
                "path".into(),
                json!({ "type": "PathPrefix", "value": prefix }),
            );
            matched.insert("method".into(), json!("POST"));
            f.note(
                Code::GrpcAsHttp,
                "spec.grpcRoute.match.serviceName",
                format!(
                    "{service:?} is not a gRPC service name GRPCRoute accepts; exported as an \
                     HTTPRoute on POST {prefix}, which takes exactly the same calls"
                ),
                "serve HTTP/2 to the backend: set `appProtocol: kubernetes.io/h2c` on the \
                 Service port, and give the Gateway a listener that accepts h2c",
            );
        } else {
            f.note(
                Code::GrpcServiceName,
                "spec.grpcRoute.match.serviceName",
                format!("{service:?} is not a gRPC service name Gateway API accepts"),
                "use a fully qualified name such as pkg.v1.Service",
            );
        }
    }
    let headers: Vec<Value> = m
        .metadata
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, md)| {
            header_match(
                &md.name,
                md.invert,
                md.value_match.as_ref(),
                &format!("spec.grpcRoute.match.metadata[{i}]"),
                f,
            )
        })
        .collect();
    unique_names(&headers, "spec.grpcRoute.match.metadata", f);
    precedence.headers = headers.len();
    if !headers.is_empty() {
        matched.insert("headers".into(), json!(headers));
    }
    let hostnames = hostnames(m.hostname.as_ref(), "spec.grpcRoute.match.hostname", f);
    precedence.hostname = hostnames.first().map_or(0, String::len);
    let target = &grpc.action.target;
    let rewrite = grpc
        .action
        .rewrite
        .as_ref()
        .and_then(|r| r.hostname.as_ref());
    let mut rule = Map::new();
    let host = target
        .virtual_service
        .virtual_service_name
        .to_ascii_lowercase();
    if kind == "HTTPRoute" && !disabled(rewrite) && is_hostname(&host, false) {
        // An HTTPRoute can make App Mesh's :authority rewrite, which a GRPCRoute cannot.
        rule.insert(
            "filters".into(),
            json!([{ "type": "URLRewrite", "urlRewrite": { "hostname": host } }]),
        );
    } else if !disabled(rewrite) {
        f.note(
            Code::GrpcHostRewrite,
            "spec.grpcRoute.action.rewrite.hostname",
            format!(
                "App Mesh set :authority to {}; GRPCRoute has no host rewrite, so backends see \
                 the client's",
                target.virtual_service.virtual_service_name
            ),
            "make the backend accept the client's :authority, or use the implementation's own \
             host rewrite",
        );
    }
    if !matched.is_empty() {
        rule.insert("matches".into(), json!([matched]));
    }
    if let Some(backend) = backend(
        target,
        namespace,
        recorded,
        opts,
        "spec.grpcRoute.action.target",
        f,
    ) {
        rule.insert("backendRefs".into(), json!([backend]));
    }
    let port = listener_port(m.port, "spec.grpcRoute.match.port", f);
    let mut body = Map::new();
    if !hostnames.is_empty() {
        body.insert("hostnames".into(), json!(hostnames));
    }
    body.insert("rules".into(), json!([rule]));
    (kind, body, precedence, port)
}
