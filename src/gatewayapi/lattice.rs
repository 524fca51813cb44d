//! The `lattice` target: what the AWS Gateway API Controller for VPC Lattice does with the
//! generic mapping's routes, from its rule builder (aws/aws-application-networking-k8s,
//! `pkg/gateway/model_build_rule.go`) and its API docs (`docs/api-types/http-route.md`,
//! `grpc-route.md`, `docs/guides/advanced-configurations.md`):
//!
//! - a path match is `Exact` or `PathPrefix`; any other type fails the whole route;
//! - query parameter matches fail the whole route;
//! - at most 5 header matches per rule, each `Exact`; anything else fails the whole route;
//! - filters are never read: a `URLRewrite` is not applied;
//! - every HTTPRoute or GRPCRoute becomes a VPC Lattice service of its own, reached at its own
//!   domain name; rules are ordered within one route only (`rule-{index}-priority`);
//! - a GRPCRoute's parentRef must name an HTTPS listener.
//!
//! A route the controller would refuse is not exported; what it would ignore is left out and
//! reported.

use super::objects::{MatchType, PathType, Route, RouteKind};

use super::{Code, Findings};

/// The controller's most header matches per rule.
const MAX_HEADER_MATCHES: usize = 5;

/// Adapts one exported route (`HTTPRoute` or `GRPCRoute`) to what the controller supports.
pub(super) fn adapt(route: &mut Route, field: &str, f: &mut Findings) {
    let kind = route.kind;
    let Some(rule) = route.spec.rules.first_mut() else {
        return;
    };
    let matched = rule.matches.first().cloned().unwrap_or_default();
    let path_type = matched
        .path
        .as_ref()
        .map_or(PathType::PathPrefix, |p| p.type_);
    if !matches!(path_type, PathType::PathPrefix | PathType::Exact) {
        let path_type = path_type.as_str();
        f.note(
            Code::LatticeRegexPath,
            &format!("{field}.match.path"),
            format!(
                "the Lattice controller refuses a {path_type} path match, and with it the route"
            ),
            "match an exact path or a prefix in the GatewayRoute first",
        );
    }
    if !matched.query_params.is_empty() {
        f.note(
            Code::LatticeQueryMatch,
            &format!("{field}.match.queryParameters"),
            "the Lattice controller refuses query parameter matches, and with them the route"
                .into(),
            "route on a path or a header instead",
        );
    }
    let headers = &matched.headers;
    if headers.len() > MAX_HEADER_MATCHES {
        f.note(
            Code::LatticeHeaderCount,
            &format!("{field}.match"),
            format!(
                "{} header matches; the Lattice controller takes at most {MAX_HEADER_MATCHES} per rule",
                headers.len()
            ),
            "split the route, or match fewer headers",
        );
    }
    if let Some(h) = headers.iter().find(|h| h.type_ != MatchType::Exact) {
        f.note(
            Code::LatticeHeaderMatch,
            &format!("{field}.match"),
            format!(
                "the Lattice controller matches headers exactly only; {} is matched by {}",
                h.name,
                h.type_.as_str()
            ),
            "match an exact header value in the GatewayRoute first",
        );
    }
    if !rule.filters.is_empty() {
        let what: Vec<String> = std::mem::take(&mut rule.filters)
            .into_iter()
            .filter_map(|filter| filter.url_rewrite)
            .flat_map(|rewrite| {
                let mut parts = Vec::new();
                if rewrite.path.is_some() {
                    parts.push("the path".to_string());
                }
                if let Some(host) = rewrite.hostname {
                    parts.push(format!("the Host to {host}"));
                }
                parts
            })
            .collect();
        f.note(
            Code::LatticeNoRewrite,
            &format!("{field}.action.rewrite"),
            format!(
                "App Mesh rewrote {}; the Lattice controller applies no URLRewrite, so backends \
                 see the request as the client sent it",
                what.join(" and ")
            ),
            "make the backend serve the client's path and Host",
        );
    }
    f.note(
        Code::LatticeServicePerRoute,
        "spec",
        format!(
            "the {} becomes a VPC Lattice service of its own, reached at its own domain name; \
             clients no longer reach it through the virtual gateway's address, and App Mesh's \
             priorities between routes have no equivalent",
            kind.as_str()
        ),
        "point clients at the service's domain name (the route's \
         application-networking.k8s.aws/lattice-assigned-domain-name annotation, or its hostnames)",
    );
    if kind == RouteKind::Grpc {
        f.note(
            Code::LatticeGrpcHttps,
            "spec.grpcRoute",
            "the Lattice controller serves a GRPCRoute on an HTTPS listener only".into(),
            "give the Gateway an HTTPS listener and name it in the route's parentRef sectionName",
        );
    }
}
