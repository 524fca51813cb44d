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

use serde_json::Value;

use super::{Code, Findings};

/// The controller's most header matches per rule.
const MAX_HEADER_MATCHES: usize = 5;

/// Adapts one exported route (`HTTPRoute` or `GRPCRoute`) to what the controller supports.
pub(super) fn adapt(route: &mut Value, field: &str, f: &mut Findings) {
    let kind = route["kind"].as_str().unwrap_or_default().to_string();
    let rule = &mut route["spec"]["rules"][0];
    let matched = &rule["matches"][0];
    let path_type = matched["path"]["type"].as_str().unwrap_or("PathPrefix");
    if path_type != "PathPrefix" && path_type != "Exact" {
        f.note(
            Code::LatticeRegexPath,
            &format!("{field}.match.path"),
            format!(
                "the Lattice controller refuses a {path_type} path match, and with it the route"
            ),
            "match an exact path or a prefix in the GatewayRoute first",
        );
    }
    if matched.get("queryParams").is_some() {
        f.note(
            Code::LatticeQueryMatch,
            &format!("{field}.match.queryParameters"),
            "the Lattice controller refuses query parameter matches, and with them the route"
                .into(),
            "route on a path or a header instead",
        );
    }
    let headers = matched["headers"].as_array().cloned().unwrap_or_default();
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
    if let Some(h) = headers.iter().find(|h| h["type"] != "Exact") {
        f.note(
            Code::LatticeHeaderMatch,
            &format!("{field}.match"),
            format!(
                "the Lattice controller matches headers exactly only; {} is matched by {}",
                h["name"].as_str().unwrap_or_default(),
                h["type"].as_str().unwrap_or_default()
            ),
            "match an exact header value in the GatewayRoute first",
        );
    }
    if let Some(filters) = rule.as_object_mut().and_then(|r| r.remove("filters")) {
        let what: Vec<String> = filters
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|filter| {
                let rewrite = &filter["urlRewrite"];
                let mut parts = Vec::new();
                if rewrite.get("path").is_some() {
                    parts.push("the path".to_string());
                }
                if let Some(host) = rewrite["hostname"].as_str() {
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
            "the {kind} becomes a VPC Lattice service of its own, reached at its own domain name; \
             clients no longer reach it through the virtual gateway's address, and App Mesh's \
             priorities between routes have no equivalent"
        ),
        "point clients at the service's domain name (the route's \
         application-networking.k8s.aws/lattice-assigned-domain-name annotation, or its hostnames)",
    );
    if kind == "GRPCRoute" {
        f.note(
            Code::LatticeGrpcHttps,
            "spec.grpcRoute",
            "the Lattice controller serves a GRPCRoute on an HTTPS listener only".into(),
            "give the Gateway an HTTPS listener and name it in the route's parentRef sectionName",
        );
    }
}
