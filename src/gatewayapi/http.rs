//! An `httpRoute` or `http2Route` as an HTTPRoute's spec: its match, the rewrites App Mesh's
//! gateway made by default or was told to make, and the backend.

use super::objects::{
    Filter, MatchType, MethodMatch, PathMatch, PathRewrite, PathType, RouteMatch, RouteSpec, Rule,
    UrlRewrite, ValueMatch,
};

use super::backend::backend;
use super::matches::{
    disabled, full_match, header_match, hostnames, listener_port, regex_check, unique_names,
};
use super::router;
use super::valid::{check_path, is_hostname, is_token};
use super::{Code, Findings, Options, Precedence, Requests};
use crate::api::recorded::Backend;
use crate::api::{
    EnabledDisabled, GatewayRouteTarget, HttpGatewayRoute, HttpGatewayRouteMatch,
    HttpGatewayRouteRewrite, HttpQueryParameter,
};

/// Spec of an HTTPRoute (no parentRefs), its precedence and listener port. `kind` is the
/// GatewayRoute field the route is in (`httpRoute` or `http2Route`).
pub(super) fn route(
    kind: &str,
    http: &HttpGatewayRoute,
    namespace: &str,
    recorded: Option<&Backend>,
    opts: &Options,
    f: &mut Findings,
) -> (RouteSpec, Precedence, Option<i32>) {
    let at = |field: &str| format!("spec.{kind}.{field}");
    let m = &http.route_match;
    let rewrite = http.action.rewrite.clone().unwrap_or_default();
    let mut precedence = Precedence {
        method: m.method.is_some(),
        ..Precedence::default()
    };
    let (path, path_rewrite) = path(m, &rewrite, &at, &mut precedence, opts, f);
    let mut matched = RouteMatch {
        path,
        method: m
            .method
            .map(|method| MethodMatch::Http(format!("{method:?}"))),
        ..RouteMatch::default()
    };
    let mut url_rewrite = UrlRewrite {
        path: path_rewrite,
        ..UrlRewrite::default()
    };
    let headers: Vec<ValueMatch> = m
        .headers
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, h)| {
            let field = at(&format!("match.headers[{i}]"));
            header_match(&h.name, h.invert, h.value_match.as_ref(), &field, f)
        })
        .collect();
    unique_names(&headers, &at("match.headers"), f);
    precedence.headers = headers.len();
    matched.headers = headers;
    let params = query_params(m.query_parameters.iter().flatten(), &at, f);
    precedence.query_params = params.len();
    matched.query_params = params;
    let hostnames = hostnames(m.hostname.as_ref(), &at("match.hostname"), f);
    precedence.hostname = hostnames.first().map_or(0, String::len);
    let target = &http.action.target;
    url_rewrite.hostname = host_rewrite(target, &rewrite, &at, f);
    let rules = match router::recorded_router(recorded, &at("action.target"), "request", f) {
        // A virtual router behind the target: where it sent each request, rule by rule.
        Some((name, router)) => router::http_rules(
            kind,
            &matched,
            &url_rewrite,
            name,
            router,
            namespace,
            opts,
            f,
        ),
        None => vec![Rule {
            matches: vec![matched],
            filters: (url_rewrite != UrlRewrite::default())
                .then(|| Filter::url_rewrite(url_rewrite))
                .into_iter()
                .collect(),
            backend_refs: backend(target, namespace, recorded, opts, &at("action.target"), f)
                .into_iter()
                .collect(),
            timeouts: None,
            retry: None,
        }],
    };
    let port = listener_port(m.port, &at("match.port"), f);
    let spec = RouteSpec {
        parent_refs: Vec::new(),
        hostnames,
        rules,
    };
    (spec, precedence, port)
}

/// The path match and its URLRewrite path, if any.
fn path(
    m: &HttpGatewayRouteMatch,
    rewrite: &HttpGatewayRouteRewrite,
    at: &dyn Fn(&str) -> String,
    precedence: &mut Precedence,
    opts: &Options,
    f: &mut Findings,
) -> (Option<PathMatch>, Option<PathRewrite>) {
    if let Some(prefix) = &m.prefix {
        precedence.prefix = prefix.len();
        let (matched, replaced) = prefix_match(prefix, rewrite, at, opts.string_prefixes, f);
        return (Some(matched), replaced);
    }
    let Some(path) = &m.path else {
        precedence.prefix = 1;
        return (Some(path_match(PathType::PathPrefix, "/")), None);
    };
    let matched = if let Some(exact) = &path.exact {
        check_path(exact, &at("match.path.exact"), f);
        precedence.exact_path = true;
        Some(path_match(PathType::Exact, exact))
    } else if let Some(regex) = &path.regex {
        regex_check(&at("match.path.regex"), f);
        Some(path_match(PathType::RegularExpression, &full_match(regex)))
    } else {
        None
    };
    let full = rewrite.path.as_ref().and_then(|p| p.exact.as_ref());
    let replaced = full.map(|full| {
        check_path(full, &at("action.rewrite.path.exact"), f);
        PathRewrite::ReplaceFullPath {
            replace_full_path: full.clone(),
        }
    });
    (matched, replaced)
}

/// A prefix match: Gateway API's PathPrefix matches whole segments, which App Mesh's string
/// prefix did not; App Mesh's gateway rewrote the matched prefix to `/` unless told otherwise.
/// With `string_prefixes`, a prefix whose route needs no prefix rewrite is an anchored regular
/// expression instead, which keeps App Mesh's meaning exactly (Gateway API allows a prefix
/// rewrite only on a PathPrefix match).
fn prefix_match(
    prefix: &str,
    rewrite: &HttpGatewayRouteRewrite,
    at: &dyn Fn(&str) -> String,
    string_prefixes: bool,
    f: &mut Findings,
) -> (PathMatch, Option<PathRewrite>) {
    let replacement = match &rewrite.prefix {
        None => Some("/"),
        Some(p) => match (&p.value, p.default_prefix) {
            (Some(value), _) => Some(value.as_str()),
            (None, Some(EnabledDisabled::Disabled)) => None,
            (None, _) => Some("/"),
        },
    };
    if string_prefixes && prefix != "/" && replacement.is_none() {
        regex_check(&at("match.prefix"), f);
        let regex = format!("^{}.*", regex_syntax::escape(prefix));
        return (path_match(PathType::RegularExpression, &regex), None);
    }
    check_path(prefix, &at("match.prefix"), f);
    if prefix != "/" {
        let (code, problem, advice, paths) = if let Some(bare) = prefix.strip_suffix('/') {
            (
                Code::PrefixBarePath,
                format!(
                    "Gateway API's PathPrefix {prefix} also matches {bare} itself, which App Mesh did not"
                ),
                "serve or reject the bare path in the backend",
                regex_syntax::escape(bare),
            )
        } else {
            (
                Code::PrefixSegments,
                format!(
                    "Gateway API matches whole path segments: {prefix} still matches {prefix}/x, but no longer {prefix}x as App Mesh did"
                ),
                "if clients send such paths, add a route for them",
                format!("{}[^/].*", regex_syntax::escape(prefix)),
            )
        };
        f.note_about(
            code,
            &at("match.prefix"),
            problem,
            advice,
            Requests::Path(paths),
        );
    }
    let replaced = replacement
        .filter(|to| !(prefix == "/" && *to == "/"))
        .map(|to| {
            check_path(to, &at("action.rewrite.prefix"), f);
            PathRewrite::ReplacePrefixMatch {
                replace_prefix_match: to.to_string(),
            }
        });
    (path_match(PathType::PathPrefix, prefix), replaced)
}

fn path_match(type_: PathType, value: &str) -> PathMatch {
    PathMatch {
        type_,
        value: value.to_string(),
    }
}

/// Query parameter matches: an exact value, or any value (App Mesh's match on presence).
pub(super) fn query_params<'a>(
    params: impl Iterator<Item = &'a HttpQueryParameter>,
    at: &dyn Fn(&str) -> String,
    f: &mut Findings,
) -> Vec<ValueMatch> {
    let matches: Vec<ValueMatch> = params
        .enumerate()
        .filter_map(|(i, q)| {
            let field = at(&format!("match.queryParameters[{i}]"));
            if !is_token(&q.name) {
                f.note(
                    Code::QueryName,
                    &field,
                    format!(
                        "{:?} is not a query parameter name Gateway API accepts",
                        q.name
                    ),
                    "rename the parameter",
                );
                return None;
            }
            let (type_, value) = match q.value_match.as_ref().and_then(|v| v.exact.as_ref()) {
                Some(exact) => (MatchType::Exact, exact.clone()),
                None => {
                    regex_check(&field, f);
                    (MatchType::RegularExpression, ".*".to_string())
                }
            };
            Some(ValueMatch {
                name: q.name.clone(),
                type_,
                value,
            })
        })
        .collect();
    unique_names(&matches, &at("match.queryParameters"), f);
    matches
}

/// The Host App Mesh's gateway set (the target virtual service's name), unless the route
/// turned that off or Gateway API cannot rewrite to it.
fn host_rewrite(
    target: &GatewayRouteTarget,
    rewrite: &HttpGatewayRouteRewrite,
    at: &dyn Fn(&str) -> String,
    f: &mut Findings,
) -> Option<String> {
    if disabled(rewrite.hostname.as_ref()) {
        return None;
    }
    let host = target
        .virtual_service
        .virtual_service_name
        .to_ascii_lowercase();
    if is_hostname(&host, false) {
        return Some(host);
    }
    f.note(
        Code::HostRewrite,
        &at("action.rewrite.hostname"),
        format!("App Mesh set the Host header to {host:?}, which is not a host name Gateway API can rewrite to"),
        "make the backend accept the client's Host header",
    );
    None
}
