//! A `grpcRoute` as a GRPCRoute's spec: service and metadata matches, and the backend. A
//! service name GRPCRoute refuses, but that can stand in a path, becomes an HTTPRoute on
//! `POST /<service>/` instead: exact for gRPC, whose calls are `/<service>/<method>`.

use super::objects::{
    Filter, GrpcMethod, MatchType, MethodMatch, PathMatch, PathType, RouteKind, RouteMatch,
    RouteSpec, Rule, UrlRewrite, ValueMatch,
};

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
) -> (RouteKind, RouteSpec, Precedence, Option<i32>) {
    let m = &grpc.route_match;
    let mut matched = RouteMatch::default();
    let mut precedence = Precedence::default();
    let mut kind = RouteKind::Grpc;
    if let Some(service) = &m.service_name {
        if is_grpc_service(service) {
            matched.method = Some(MethodMatch::Grpc(GrpcMethod {
                type_: MatchType::Exact,
                service: Some(service.clone()),
                method: None,
            }));
            precedence.prefix = service.len();
        } else if is_path_segment(service) {
            kind = RouteKind::Http;
            let prefix = format!("/{service}/");
            precedence.prefix = prefix.len();
            precedence.method = true;
            matched.path = Some(PathMatch {
                type_: PathType::PathPrefix,
                value: prefix.clone(),
            });
            matched.method = Some(MethodMatch::Http("POST".into()));
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
    let headers: Vec<ValueMatch> = m
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
    matched.headers = headers;
    let hostnames = hostnames(m.hostname.as_ref(), "spec.grpcRoute.match.hostname", f);
    precedence.hostname = hostnames.first().map_or(0, String::len);
    let target = &grpc.action.target;
    let rewrite = grpc
        .action
        .rewrite
        .as_ref()
        .and_then(|r| r.hostname.as_ref());
    let mut rule = Rule::default();
    let host = target
        .virtual_service
        .virtual_service_name
        .to_ascii_lowercase();
    if kind == RouteKind::Http && !disabled(rewrite) && is_hostname(&host, false) {
        // An HTTPRoute can make App Mesh's :authority rewrite, which a GRPCRoute cannot.
        rule.filters = vec![Filter::url_rewrite(UrlRewrite {
            hostname: Some(host),
            path: None,
        })];
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
        rule.matches = vec![matched];
    }
    let field = "spec.grpcRoute.action.target";
    let rules = match super::router::recorded_router(recorded, field, "call", f) {
        // A virtual router behind the target: where it sent each call, rule by rule.
        Some((name, router)) => {
            let matched = rule.matches.first().cloned().unwrap_or_default();
            super::router::grpc_rules(&matched, &rule.filters, name, router, namespace, opts, f)
        }
        None => {
            rule.backend_refs = backend(target, namespace, recorded, opts, field, f)
                .into_iter()
                .collect();
            vec![rule]
        }
    };
    let port = listener_port(m.port, "spec.grpcRoute.match.port", f);
    let spec = RouteSpec {
        parent_refs: Vec::new(),
        hostnames,
        rules,
    };
    (kind, spec, precedence, port)
}
