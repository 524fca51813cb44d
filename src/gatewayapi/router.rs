//! A gateway route whose target virtual service a virtual router provides, as `import`
//! recorded the router: one HTTPRoute rule per router route that can take the gateway route's
//! requests, in App Mesh's order, each the gateway route's match composed with the router
//! route's (the router matched the path the gateway's rewrite produced, translated back to the
//! client's path), its weighted targets as weighted backendRefs and its per-request timeout as
//! `timeouts.request`. What cannot be said exactly is a finding, never a silent change.

use std::cmp::Reverse;

use serde_json::Value;

use super::backend::node;
use super::http::query_params;
use super::matches::{header_match, unique_names};
use super::objects::{
    BackendRef, Filter, GrpcMethod, MatchType, MethodMatch, PathMatch, PathRewrite, PathType,
    Retry, RouteMatch, Rule, Timeouts, UrlRewrite,
};
use super::{Code, Findings, Options, Precedence, Requests};
use crate::api::recorded::{Backend, RouterRoute};
use crate::api::{HttpGatewayRouteHeader, HttpGatewayRouteMatch};

/// The router a recorded provider names, if it is one: its name.
pub(super) fn router_name(recorded: Option<&Backend>) -> Option<&str> {
    recorded?
        .provider
        .as_deref()?
        .strip_prefix("virtualRouter/")
}

/// The virtual router behind a target whose routes `import` recorded, with its name. A router
/// whose routes the input lacks is none, and noted: the target's Service then takes every
/// request (`what`: "request" or "call"), not as the router split them.
pub(super) fn recorded_router<'a>(
    recorded: Option<&'a Backend>,
    field: &str,
    what: &str,
    f: &mut Findings,
) -> Option<(&'a str, &'a Backend)> {
    let name = router_name(recorded)?;
    let router = recorded.filter(|r| !r.routes.is_empty());
    if router.is_none() {
        f.note(
            Code::RouterUncomposed,
            field,
            format!(
                "virtual router {name}'s routes are not in the input: every {what} goes to the \
                 target's Service as a whole, not as the router split them"
            ),
            "import the router's routes too (describe-route, AWS::AppMesh::Route, \
             aws_appmesh_route, or the VirtualRouter)",
        );
    }
    Some(name).zip(router)
}

/// `rules` as composed for router `name`, noted when there are none: App Mesh answered the
/// route's requests or calls (`what`) with its no-route `answer`, or the findings before say
/// why.
fn some_said(
    rules: Vec<Rule>,
    (name, what, answer): (&str, &str, &str),
    field: &str,
    f: &mut Findings,
) -> Vec<Rule> {
    if rules.is_empty() {
        f.note(
            Code::BackendUnresolved,
            field,
            format!(
                "virtual router {name} sends none of this route's {what} anywhere Gateway API \
                 can say (App Mesh answered them {answer}, or the findings above say why)"
            ),
            "route them with a gateway route of their own",
        );
    }
    rules
}

/// How a field of router `name`'s route `route` is named in findings.
fn field_of<'a>(target: &'a str, name: &'a str, route: &'a str) -> impl Fn(&str) -> String + 'a {
    move |field| format!("{target} (virtual router {name}, route {route}).{field}")
}

/// Whether a router route's match `m` can take a request at all: a port match must be the
/// router's listener port (App Mesh's router never took another from its gateway).
fn on_router_port(router: &Backend, m: &Value) -> bool {
    m["port"]
        .as_i64()
        .is_none_or(|port| router.port.is_none_or(|p| i64::from(p) == port))
}

/// Notes a rule App Mesh's router tried after an earlier one that Gateway API ranks lower where
/// both match: Gateway API gives the shared requests to the later one.
fn order_finding(
    earlier: &[(Rule, Precedence)],
    rule: &Rule,
    rank: Precedence,
    field: &str,
    f: &mut Findings,
) {
    let later = rule.matches.first().cloned().unwrap_or_default();
    let overtaken = earlier.iter().find(|(r, ranked)| {
        *ranked < rank && overlaps(r.matches.first().unwrap_or(&RouteMatch::default()), &later)
    });
    if let Some((earlier, _)) = overtaken {
        let path = earlier
            .matches
            .first()
            .and_then(|m| m.path.as_ref())
            .map_or("/", |p| &p.value);
        f.note_about(
            Code::RouterUncomposed,
            field,
            format!(
                "App Mesh's router tried the rule for {path} first, and gave it the requests \
                 both match; Gateway API ranks this route's match higher and gives them here"
            ),
            "set the router routes' priorities in the order Gateway API ranks them, or make \
             their matches disjoint",
            Requests::All,
        );
    }
}

/// The rules of an HTTPRoute for a gateway route of `kind` (`httpRoute`, `http2Route`) whose
/// match is `matched` and whose rewrites are `rewrite`, to the virtual router `router`.
#[allow(clippy::too_many_arguments)]
pub(super) fn http_rules(
    kind: &str,
    matched: &RouteMatch,
    rewrite: &UrlRewrite,
    name: &str,
    router: &Backend,
    namespace: &str,
    opts: &Options,
    f: &mut Findings,
) -> Vec<Rule> {
    let target = format!("spec.{kind}.action.target");
    let routes = ordered(&router.routes, route_kind(router, kind));
    // The path the router matched is the one the gateway's rewrite produced: composable when
    // the gateway route's prefix became `/` (the default rewrite).
    let prefix = match (&matched.path, &rewrite.path) {
        (
            Some(PathMatch {
                type_: PathType::PathPrefix,
                value,
            }),
            Some(PathRewrite::ReplacePrefixMatch {
                replace_prefix_match,
            }),
        ) if replace_prefix_match == "/" => Some(value.as_str()),
        (
            Some(PathMatch {
                type_: PathType::PathPrefix,
                value,
            }),
            None,
        ) if value == "/" => Some("/"),
        _ => None,
    };
    let mut rules: Vec<(Rule, Precedence)> = Vec::new();
    for (route, spec) in routes {
        let at = field_of(&target, name, &route.name);
        let m = &spec["match"];
        // What reaches a router from its gateway is plain HTTP: `https` never takes it.
        if m["scheme"].as_str() == Some("https") || !on_router_port(router, m) {
            continue;
        }
        let Ok(rm) = serde_json::from_value::<HttpGatewayRouteMatch>(m.clone()) else {
            f.note(
                Code::RouterUncomposed,
                &at("match"),
                "the router route's match cannot be read".into(),
                "check the imported record",
            );
            continue;
        };
        let mut composed = matched.clone();
        let mut path_rewrite = rewrite.path.clone();
        let router_path = (rm.prefix.as_deref(), rm.path.as_ref());
        let catch_all = matches!(router_path, (Some("/") | None, None))
            && rm.method.is_none()
            && rm.headers.is_none()
            && rm.query_parameters.is_none();
        match (router_path, prefix) {
            ((Some("/") | None, None), _) => {}
            ((Some(q), None), Some(p)) if q.starts_with('/') => {
                let value = format!("{}{q}", p.trim_end_matches('/'));
                segment_findings(&value, q, &at("match.prefix"), f);
                composed.path = Some(PathMatch {
                    type_: PathType::PathPrefix,
                    value,
                });
                path_rewrite = Some(PathRewrite::ReplacePrefixMatch {
                    replace_prefix_match: q.to_string(),
                });
            }
            ((None, Some(path)), Some(p))
                if path.exact.as_deref().is_some_and(|e| e.starts_with('/')) =>
            {
                let exact = path.exact.clone().unwrap_or_default();
                composed.path = Some(PathMatch {
                    type_: PathType::Exact,
                    value: format!("{}{exact}", p.trim_end_matches('/')),
                });
                path_rewrite = Some(PathRewrite::ReplaceFullPath {
                    replace_full_path: exact,
                });
            }
            _ => {
                f.note_about(
                    Code::RouterUncomposed,
                    &at("match"),
                    "the router route matches a path that cannot be said on the client's side \
                     of the gateway route's rewrite; its requests go where the router's other \
                     routes send them"
                        .into(),
                    "give the gateway route a prefix ending in / with the default rewrite, or \
                     route these requests with a gateway route of their own",
                    Requests::All,
                );
                continue;
            }
        }
        if let Some(method) = rm.method {
            let method = MethodMatch::Http(format!("{method:?}"));
            match &composed.method {
                Some(base) if *base != method => continue, // no request has both methods
                _ => composed.method = Some(method),
            }
        }
        for (i, h) in rm.headers.iter().flatten().enumerate() {
            let field = at(&format!("match.headers[{i}]"));
            if let Some(h) = header_match(&h.name, h.invert, h.value_match.as_ref(), &field, f) {
                composed.headers.push(h);
            }
        }
        unique_names(&composed.headers, &at("match.headers"), f);
        composed
            .query_params
            .extend(query_params(rm.query_parameters.iter().flatten(), &at, f));
        unique_names(&composed.query_params, &at("match.queryParameters"), f);
        let backend_refs = weighted(spec, router, namespace, opts, &at, f);
        let (timeouts, retry) = timeouts(spec, opts, &at, f);
        let filter = UrlRewrite {
            hostname: rewrite.hostname.clone(),
            path: path_rewrite,
        };
        let rank = rank(&composed);
        let rule = Rule {
            matches: vec![composed],
            filters: (filter != UrlRewrite::default())
                .then(|| Filter::url_rewrite(filter))
                .into_iter()
                .collect(),
            backend_refs,
            timeouts,
            retry,
        };
        order_finding(&rules, &rule, rank, &at("match"), f);
        rules.push((rule, rank));
        if catch_all {
            break; // App Mesh never tried the routes after one that takes everything
        }
    }
    let rules = rules.into_iter().map(|(rule, _)| rule).collect();
    some_said(rules, (name, "requests", "404"), &target, f)
}

/// The rules of a GRPCRoute for a gateway route whose match is `matched` (a GRPCRoute's:
/// service and metadata) to the virtual router `router`: per router route, the service and
/// method it names and its metadata added, weighted backendRefs. GRPCRoute has no timeouts and
/// no retries: findings.
pub(super) fn grpc_rules(
    matched: &RouteMatch,
    filters: &[Filter],
    name: &str,
    router: &Backend,
    namespace: &str,
    opts: &Options,
    f: &mut Findings,
) -> Vec<Rule> {
    let target = "spec.grpcRoute.action.target";
    let base = match &matched.method {
        None => None,
        Some(MethodMatch::Grpc(method)) => method.service.clone(),
        // Carried on an HTTPRoute (grpc-as-http): the router's matches are not composed.
        Some(MethodMatch::Http(_)) => {
            f.note(
                Code::RouterUncomposed,
                target,
                format!(
                    "virtual router {name}'s gRPC routes are not composed with a route on a path"
                ),
                "give the route a service name GRPCRoute accepts",
            );
            return some_said(Vec::new(), (name, "calls", "UNIMPLEMENTED"), target, f);
        }
    };
    let mut rules: Vec<(Rule, Precedence)> = Vec::new();
    for (route, spec) in ordered(&router.routes, route_kind(router, "grpcRoute")) {
        let at = field_of(target, name, &route.name);
        let m = &spec["match"];
        if !on_router_port(router, m) {
            continue;
        }
        let service = m["serviceName"].as_str().map(String::from);
        let method = m["methodName"].as_str().map(String::from);
        if let (Some(base), Some(service)) = (&base, &service)
            && base != service
        {
            continue; // no call names both services
        }
        let mut composed = matched.clone();
        if service.is_some() || method.is_some() {
            composed.method = Some(MethodMatch::Grpc(GrpcMethod {
                type_: MatchType::Exact,
                service: service.clone().or_else(|| base.clone()),
                method: method.clone(),
            }));
        }
        let metadata: Vec<HttpGatewayRouteHeader> =
            serde_json::from_value(m["metadata"].clone()).unwrap_or_default();
        for (i, md) in metadata.iter().enumerate() {
            let field = at(&format!("match.metadata[{i}]"));
            if let Some(h) = header_match(&md.name, md.invert, md.value_match.as_ref(), &field, f) {
                composed.headers.push(h);
            }
        }
        unique_names(&composed.headers, &at("match.metadata"), f);
        let catch_all = service.is_none() && method.is_none() && metadata.is_empty();
        if spec["timeout"].is_object() {
            f.note(
                Code::TimeoutDropped,
                &at("timeout"),
                "the router route's timeouts: a GRPCRoute cannot say them".into(),
                "set them in the implementation, or keep the route on App Mesh",
            );
        }
        if spec["retryPolicy"].is_object() {
            f.note(
                Code::RetryDropped,
                &at("retryPolicy"),
                "the router route's retry policy: a GRPCRoute cannot say it".into(),
                "retry in the client, or set the implementation's retries",
            );
        }
        let rank = rank(&composed);
        let rule = Rule {
            matches: (!composed.is_empty())
                .then_some(composed)
                .into_iter()
                .collect(),
            filters: filters.to_vec(),
            backend_refs: weighted(spec, router, namespace, opts, &at, f),
            timeouts: None,
            retry: None,
        };
        order_finding(&rules, &rule, rank, &at("match"), f);
        rules.push((rule, rank));
        if catch_all {
            break;
        }
    }
    let rules = rules.into_iter().map(|(rule, _)| rule).collect();
    some_said(rules, (name, "calls", "UNIMPLEMENTED"), target, f)
}

/// The kind of the router's routes that take requests: its listener's protocol's (App Mesh
/// builds a router's routes per listener protocol), else the gateway route's own `kind`.
fn route_kind<'a>(router: &Backend, kind: &'a str) -> &'a str {
    match router.protocol.as_deref() {
        Some("http") => "httpRoute",
        Some("http2") => "http2Route",
        Some("grpc") => "grpcRoute",
        Some("tcp") => "tcpRoute",
        _ => kind,
    }
}

/// The router's routes of `kind` in the order App Mesh tried them: by `priority` (0 first,
/// routes without one after), then exact paths, regular expressions, the longer prefix, no
/// path (the emulator's order, docs/testing.md), then name.
fn ordered<'a>(routes: &'a [RouterRoute], kind: &str) -> Vec<(&'a RouterRoute, &'a Value)> {
    let mut of_kind: Vec<(&RouterRoute, &Value)> = routes
        .iter()
        .filter_map(|r| Some((r, r.spec.get(kind).filter(|v| !v.is_null())?)))
        .collect();
    let key = |(route, spec): &(&'a RouterRoute, &Value)| {
        let priority = route.spec["priority"].as_i64();
        (
            priority.is_none(),
            priority,
            Reverse(appmesh_routing::gateway::specificity(&spec["match"])),
            route.name.as_str(),
        )
    };
    of_kind.sort_by(|a, b| key(a).cmp(&key(b)));
    of_kind
}

/// Gateway API's precedence among one route's rules (they share its host names): for a
/// GRPCRoute's, the service name stands where a path's prefix does (`Precedence`).
fn rank(m: &RouteMatch) -> Precedence {
    let path = m.path.as_ref();
    let (prefix, method) = match (path, &m.method) {
        (None, Some(MethodMatch::Grpc(g))) => (
            g.service.as_ref().map_or(0, String::len),
            g.method.is_some(),
        ),
        _ => (path.map_or(0, |p| p.value.len()), m.method.is_some()),
    };
    Precedence {
        hostname: 0,
        exact_path: path.is_some_and(|p| p.type_ == PathType::Exact),
        prefix,
        method,
        headers: m.headers.len(),
        query_params: m.query_params.len(),
    }
}

/// Whether one request can match both: `later`'s path within `earlier`'s (prefix on prefix,
/// or an exact path under a prefix), and for gRPC `earlier`'s method none or `later`'s,
/// whatever their headers.
fn overlaps(earlier: &RouteMatch, later: &RouteMatch) -> bool {
    let paths = match (&earlier.path, &later.path) {
        (Some(e), Some(l)) if e.type_ == PathType::PathPrefix => {
            l.value.starts_with(e.value.trim_end_matches('/'))
        }
        (Some(e), Some(l)) => e == l,
        _ => true,
    };
    let methods = match (&earlier.method, &later.method) {
        (Some(MethodMatch::Grpc(e)), Some(MethodMatch::Grpc(l))) => {
            e.method.is_none() || e.method == l.method
        }
        _ => true,
    };
    paths && methods
}

/// App Mesh's router prefix `q` is a string prefix of the path; the composed PathPrefix
/// `value` matches whole segments.
fn segment_findings(value: &str, q: &str, field: &str, f: &mut Findings) {
    if q == "/" {
        return;
    }
    if let Some(bare) = value.strip_suffix('/') {
        f.note_about(
            Code::PrefixBarePath,
            field,
            format!(
                "Gateway API's PathPrefix {value} also matches {bare} itself, which the router's \
                 prefix {q} did not"
            ),
            "serve or reject the bare path in the backend",
            Requests::Path(regex_syntax::escape(bare)),
        );
    } else {
        f.note_about(
            Code::PrefixSegments,
            field,
            format!(
                "Gateway API matches whole path segments: {value} no longer takes {value}x as the \
                 router's prefix {q} did"
            ),
            "if clients send such paths, add a router route for them",
            Requests::Path(format!("{}[^/].*", regex_syntax::escape(value))),
        );
    }
}

/// The route's weighted targets as weighted backendRefs (App Mesh's weights kept as they are:
/// both split by weight over the weights' sum). A target that names no Service drops the
/// route (`backend-unresolved`), never a share.
fn weighted(
    spec: &Value,
    router: &Backend,
    namespace: &str,
    opts: &Options,
    at: &dyn Fn(&str) -> String,
    f: &mut Findings,
) -> Vec<BackendRef> {
    let targets = spec["action"]["weightedTargets"].as_array();
    // What App Mesh refuses (each weight 0 to 100, their sum 1 to 100) it never served: a
    // record that says otherwise was not App Mesh's.
    let weights: Vec<Option<i64>> = targets
        .into_iter()
        .flatten()
        .map(|t| t["weight"].as_i64())
        .collect();
    let total: i64 = weights.iter().flatten().sum();
    if weights.is_empty()
        || weights
            .iter()
            .any(|w| !w.is_some_and(|w| (0..=100).contains(&w)))
        || !(1..=100).contains(&total)
    {
        let shown: Vec<String> = weights
            .iter()
            .map(|w| w.map_or_else(|| "none".into(), |w| w.to_string()))
            .collect();
        f.note(
            Code::BackendInvalid,
            &at("action.weightedTargets"),
            format!(
                "weights [{}] are not a route App Mesh accepts (each 0 to 100, summing to 1 \
                 to 100)",
                shown.join(", ")
            ),
            "fix the router route in the input",
        );
        return Vec::new();
    }
    targets
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, t)| {
            let name = t["virtualNode"].as_str()?;
            let port = t["port"].as_i64().and_then(|p| i32::try_from(p).ok());
            let field = at(&format!("action.weightedTargets[{i}]"));
            let mut backend = node(
                name,
                port,
                router.nodes.get(name),
                namespace,
                opts,
                &field,
                f,
            )?;
            backend.weight = t["weight"].as_i64().and_then(|w| i32::try_from(w).ok());
            Some(backend)
        })
        .collect()
}

/// `timeouts.request` of the route's per-request timeout, and its retry policy as the
/// experimental `retry` where the implementation has it (`--experimental-retry`): attempts,
/// the status codes of its HTTP events and each try's `timeouts.backendRequest`. What Gateway
/// API cannot say (retries without the flag, on resets or connection errors, the idle timeout)
/// is a finding.
fn timeouts(
    spec: &Value,
    opts: &Options,
    at: &dyn Fn(&str) -> String,
    f: &mut Findings,
) -> (Option<Timeouts>, Option<Retry>) {
    let mut timeouts = Timeouts {
        request: duration_of(&spec["timeout"]["perRequest"]),
        backend_request: None,
    };
    let policy = &spec["retryPolicy"];
    let mut retry = None;
    if policy.is_object() && !opts.experimental_retry {
        f.note(
            Code::RetryDropped,
            &at("retryPolicy"),
            format!(
                "App Mesh retried failed requests up to {} times; the HTTPRoute does not retry",
                policy["maxRetries"]
            ),
            "retry in the client, or give the implementation's experimental HTTPRoute retry \
             with --experimental-retry",
        );
    } else if policy.is_object() {
        let events: Vec<&str> = policy["httpRetryEvents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // Envoy's meanings (x-envoy-retry-on): any 5xx (HTTP's are 500 to 511), 502 to 504,
        // and 409 (retriable-4xx).
        let mut codes: Vec<u16> = events
            .iter()
            .flat_map(|e| match *e {
                "server-error" => (500..=511).collect::<Vec<u16>>(),
                "gateway-error" => vec![502, 503, 504],
                "client-error" => vec![409],
                _ => Vec::new(),
            })
            .collect();
        codes.sort_unstable();
        codes.dedup();
        // AWS: "Both server-error and gateway-error under httpRetryEvents include the Envoy
        // reset policy"; GEP-1731 leaves retrying a reset or a failed connection to the
        // implementation.
        let unsaid = events
            .iter()
            .any(|e| matches!(*e, "server-error" | "gateway-error" | "stream-error"))
            || policy["tcpRetryEvents"].is_array()
            || policy["grpcRetryEvents"].is_array();
        if unsaid {
            f.note(
                Code::RetryDropped,
                &at("retryPolicy"),
                "App Mesh also retried requests whose connection failed or was reset; whether \
                 the HTTPRoute's retry does is the implementation's choice"
                    .into(),
                "check the implementation's retry on connection errors",
            );
        }
        timeouts.backend_request = duration_of(&policy["perRetryTimeout"]);
        retry = Some(Retry {
            codes,
            attempts: policy["maxRetries"].as_i64(),
            // Envoy's base back-off, which App Mesh does not change.
            backoff: Some("25ms".into()),
        });
    }
    if spec["timeout"]["idle"].is_object() {
        f.note(
            Code::IdleTimeoutDropped,
            &at("timeout.idle"),
            "App Mesh closed connections idle for the route's idle timeout; Gateway API has no \
             such timeout"
                .into(),
            "set the implementation's idle timeout if the backend relies on it",
        );
    }
    let timeouts = (timeouts != Timeouts::default()).then_some(timeouts);
    (timeouts, retry)
}

/// A model `Duration` (`{"unit": "ms"|"s", "value": n}`) as a Gateway API duration.
fn duration_of(d: &Value) -> Option<String> {
    let ms = match d["unit"].as_str()? {
        "ms" => d["value"].as_u64()?,
        "s" => d["value"].as_u64()?.saturating_mul(1000),
        _ => return None,
    };
    Some(duration(ms))
}

/// A Gateway API Duration (GEP-2257) of `ms` milliseconds: hours, minutes, seconds and
/// milliseconds, each part at most 5 digits, zero parts left out (`0s` for none).
fn duration(ms: u64) -> String {
    let parts = [
        (ms / 3_600_000, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1000 % 60, "s"),
        (ms % 1000, "ms"),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if text.is_empty() { "0s".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_gateway_api_durations() {
        let rows = [
            (0, "0s"),
            (250, "250ms"),
            (1500, "1s500ms"),
            (15_000, "15s"),
            (90_000, "1m30s"),
            (3_600_000, "1h"),
        ];
        for (ms, text) in rows {
            assert_eq!(duration(ms), text, "{ms}");
        }
    }

    #[test]
    fn router_routes_are_tried_in_app_meshs_order() {
        let route = |name: &str, spec: Value| RouterRoute {
            name: name.into(),
            spec,
        };
        let http = |m: Value| serde_json::json!({ "httpRoute": { "match": m } });
        let mut prioritised = http(serde_json::json!({ "prefix": "/" }));
        prioritised["priority"] = 5.into();
        let routes = [
            route("all", http(serde_json::json!({ "prefix": "/" }))),
            route("long", http(serde_json::json!({ "prefix": "/v1/" }))),
            route(
                "exact",
                http(serde_json::json!({ "path": { "exact": "/x" } })),
            ),
            route("first", prioritised),
            route("grpc", serde_json::json!({ "grpcRoute": {} })),
        ];
        let names: Vec<&str> = ordered(&routes, "httpRoute")
            .into_iter()
            .map(|(r, _)| r.name.as_str())
            .collect();
        assert_eq!(names, ["first", "exact", "long", "all"]);
    }
}
