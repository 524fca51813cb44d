//! Gateway API's answer to a request over the objects `export gateway-api` prints: a model of
//! HTTPRoute and GRPCRoute matching written from the specification (gateway-api
//! `apis/v1/httproute_types.go` and `grpcroute_types.go`, v1.x), each rule where it is applied.
//! tests/traffic.rs checks it against Traefik on every request it sends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use appmesh_routing::gateway::{Protocol, normalize, strip_port};

use super::answer::{Answer, Taken};
use super::request::Request;
use crate::api::ownership::EXPORTED_FROM_ANNOTATION;
use crate::gatewayapi::objects::{
    MatchType, MethodMatch, Object, PathRewrite, PathType, Route, RouteKind, RouteMatch, Rule,
    ValueMatch,
};
use crate::gatewayapi::shown;

/// One match of one rule of one route, on one Gateway.
struct Entry<'a> {
    route: &'a Route,
    /// `namespace/name` of the route, for the alphabetical tie-break.
    name: String,
    /// The GatewayRoute it was exported from.
    source: Option<String>,
    rule: usize,
    /// `None` for a rule without matches: HTTPRoute's default, "a prefix path match on `/`",
    /// and GRPCRoute's, which "MUST match every gRPC request".
    m: Option<&'a RouteMatch>,
    /// The listener port its parentRef names (`sectionName: port-<p>` or `port`), if any.
    port: Option<u16>,
}

/// The entries of one Gateway and of one kind, indexed by path (HTTPRoute) or service
/// (GRPCRoute) the way `appmesh_routing::gateway::Table` indexes App Mesh's.
#[derive(Default)]
struct Index {
    exact: HashMap<String, Vec<usize>>,
    /// PathPrefix values without their trailing `/` (`/` is the empty string).
    prefix: HashMap<String, Vec<usize>>,
    others: Vec<usize>,
}

/// How matches on different host names are ranked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ranking {
    /// The specification's: the host name first, then the rest of the match.
    #[default]
    Specification,
    /// The rest of the match first, the host name last: what Traefik does (tests/traffic.rs
    /// documents it as Traefik's deviation).
    HostLast,
}

/// Every Gateway's routes, as the export printed them.
pub struct GatewayApi<'a> {
    ranking: Ranking,
    entries: Vec<Entry<'a>>,
    index: HashMap<(String, String, RouteKind), Index>,
    /// The Gateway (namespace, name) of each GatewayRoute (`namespace/name`).
    gateways: BTreeMap<String, (String, String)>,
}

impl<'a> GatewayApi<'a> {
    pub fn new(objects: &'a [Object], gateways: BTreeMap<String, (String, String)>) -> Self {
        let mut model = GatewayApi {
            ranking: Ranking::Specification,
            entries: Vec::new(),
            index: HashMap::new(),
            gateways,
        };
        for object in objects {
            let Object::Route(route) = object else {
                continue;
            };
            let namespace = route.metadata.namespace.clone().unwrap_or_default();
            let name = format!(
                "{namespace}/{}",
                route.metadata.name.as_deref().unwrap_or_default()
            );
            let source = route
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(EXPORTED_FROM_ANNOTATION))
                .and_then(|a| a.strip_prefix("GatewayRoute "))
                .and_then(|a| a.split(';').next())
                .map(str::to_string);
            for parent in &route.spec.parent_refs {
                let gateway = (
                    parent
                        .namespace
                        .clone()
                        .unwrap_or_else(|| namespace.clone()),
                    parent.name.clone(),
                    route.kind,
                );
                let port = parent
                    .section_name
                    .as_deref()
                    .and_then(|s| s.strip_prefix("port-"))
                    .and_then(|p| p.parse().ok())
                    .or_else(|| parent.port.and_then(|p| u16::try_from(p).ok()));
                for (rule_at, rule) in route.spec.rules.iter().enumerate() {
                    let matches: Vec<Option<&RouteMatch>> = if rule.matches.is_empty() {
                        vec![None]
                    } else {
                        rule.matches.iter().map(Some).collect()
                    };
                    for m in matches {
                        let at = model.entries.len();
                        model.entries.push(Entry {
                            route,
                            name: name.clone(),
                            source: source.clone(),
                            rule: rule_at,
                            m,
                            port,
                        });
                        let index = model.index.entry(gateway.clone()).or_default();
                        let (path, method) =
                            m.map_or((None, None), |m| (m.path.as_ref(), m.method.as_ref()));
                        match (path, method) {
                            (None, None) if route.kind == RouteKind::Http => {
                                index.prefix.entry(String::new()).or_default().push(at)
                            }
                            (Some(p), _) if p.type_ == PathType::Exact => {
                                index.exact.entry(p.value.clone()).or_default().push(at)
                            }
                            (Some(p), _) if p.type_ == PathType::PathPrefix => index
                                .prefix
                                .entry(p.value.trim_end_matches('/').to_string())
                                .or_default()
                                .push(at),
                            (None, Some(MethodMatch::Grpc(g)))
                                if g.type_ == MatchType::Exact && g.service.is_some() =>
                            {
                                let service = g.service.clone().unwrap_or_default();
                                index.exact.entry(service).or_default().push(at)
                            }
                            _ => index.others.push(at),
                        }
                    }
                }
            }
        }
        model
    }

    /// The model with `ranking`.
    pub fn ranking(self, ranking: Ranking) -> Self {
        GatewayApi { ranking, ..self }
    }

    /// Gateway API's answer to each request, sent to the Gateway of the route it was made from.
    pub fn answers(&self, requests: &[Request]) -> Vec<Taken> {
        requests.iter().map(|r| self.answer(r)).collect()
    }

    fn answer(&self, req: &Request) -> Taken {
        let Some((namespace, gateway)) = self.gateways.get(&req.from) else {
            return Taken::status(404);
        };
        // A gRPC call is matched by GRPCRoutes, then by HTTPRoutes (a call is an HTTP/2 POST):
        // "Merging MUST not be done between GRPCRoutes and HTTPRoutes" (GRPCRoute, rules).
        let kinds: &[RouteKind] = if req.protocol == Protocol::Grpc {
            &[RouteKind::Grpc, RouteKind::Http]
        } else {
            &[RouteKind::Http]
        };
        let (raw, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        // Gateway API leaves path normalisation to the implementation. Traefik's entry points
        // sanitise the path before matching (`sanitizePath`, on by default: dot segments
        // removed, `//` merged), as App Mesh's Envoy does (`normalize_path`, `merge_slashes`):
        // the model normalises as both do.
        let path = normalize(raw);
        // "Implementations MUST ignore any port value specified in the HTTP Host header while
        // performing a match" (HTTPRouteSpec.hostnames).
        let host = strip_port(&req.host).to_ascii_lowercase();
        for kind in kinds {
            let key = (namespace.clone(), gateway.clone(), *kind);
            let Some(index) = self.index.get(&key) else {
                continue;
            };
            let best = candidates(index, &path, *kind)
                .filter_map(|at| {
                    let e = &self.entries[at];
                    let hostname = self.hostname(e, &host)?;
                    let ranked = e.port.is_none_or(|p| p == req.port)
                        && e.m.is_none_or(|m| matches(m, *kind, &path, query, req));
                    ranked.then(|| (rank(e, *kind, &hostname, self.ranking), at))
                })
                .max_by(|(a, _), (b, _)| a.cmp(b));
            if let Some((_, at)) = best {
                let e = &self.entries[at];
                return Taken {
                    answer: forwarded(e, &path, query, req),
                    by: e.source.clone(),
                };
            }
        }
        // "When no rules matching a request have been successfully attached to the parent a
        // request is coming from, a HTTP 404 status code MUST be returned" (HTTPRouteRule).
        Taken::status(404)
    }

    /// The route hostname that takes `host`: the empty string for a route without hostnames
    /// (it takes every host), `None` for none. "Hostnames that are prefixed with a wildcard
    /// label (`*.`) are interpreted as a suffix match. That means that a match for
    /// `*.example.com` would match both `test.example.com`, and `foo.test.example.com`, but not
    /// `example.com`" (HTTPRouteSpec.hostnames).
    fn hostname(&self, e: &Entry, host: &str) -> Option<String> {
        let names = &e.route.spec.hostnames;
        if names.is_empty() {
            return Some(String::new());
        }
        names
            .iter()
            .filter(|n| match n.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(&domain.to_ascii_lowercase())
                    .is_some_and(|label| label.len() > 1 && label.ends_with('.')),
                None => n.eq_ignore_ascii_case(host),
            })
            .max_by_key(|n| host_rank(n))
            .cloned()
    }
}

/// The entries whose path (or gRPC service) can take `path`.
fn candidates<'i>(
    index: &'i Index,
    path: &str,
    kind: RouteKind,
) -> impl Iterator<Item = usize> + 'i {
    let mut keys: Vec<String> = Vec::new();
    let mut exact: Vec<String> = Vec::new();
    if kind == RouteKind::Grpc {
        if let Some((service, _)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) {
            exact.push(service.to_string());
        }
    } else {
        exact.push(path.to_string());
        // "Matches based on a URL path prefix split by `/`. Matching is case-sensitive and done
        // on a path element by element basis ... the paths `/abc`, `/abc/`, and `/abc/def`
        // would all match the prefix `/abc`, but the path `/abcd` would not"
        // (PathMatchPathPrefix).
        keys.push(String::new());
        for (at, _) in path.match_indices('/').skip(1) {
            keys.push(path[..at].to_string());
        }
        keys.push(path.trim_end_matches('/').to_string());
    }
    let mut found: Vec<usize> = index.others.clone();
    for k in &keys {
        found.extend(index.prefix.get(k).into_iter().flatten());
    }
    for k in &exact {
        found.extend(index.exact.get(k).into_iter().flatten());
    }
    found.sort_unstable();
    found.dedup();
    found.into_iter()
}

/// Whether match `m` takes the request. "Each match is independent, i.e. this rule will be
/// matched if any one of the matches is satisfied"; within one match, every condition must
/// hold (HTTPRouteMatch: "multiple match conditions ... ANDed together").
fn matches(m: &RouteMatch, kind: RouteKind, path: &str, query: &str, req: &Request) -> bool {
    let path_ok = match (&m.path, kind) {
        (_, RouteKind::Grpc) => true,
        (None, _) => true,
        (Some(p), _) => match p.type_ {
            PathType::Exact => path == p.value,
            PathType::PathPrefix => {
                let prefix = p.value.trim_end_matches('/');
                path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty()
            }
            // "The precedence of RegularExpression path matches are implementation-specific":
            // RE2 syntax as Go's regexp (Traefik) matches, anywhere in the path.
            PathType::RegularExpression => found(&p.value, path),
        },
    };
    let method_ok = match &m.method {
        None => true,
        Some(MethodMatch::Http(method)) => req.method == *method,
        Some(MethodMatch::Grpc(g)) => {
            let (service, method) = path
                .strip_prefix('/')
                .and_then(|p| p.split_once('/'))
                .unwrap_or(("", ""));
            let one = |want: &Option<String>, got: &str| match (want, g.type_) {
                (None, _) => true,
                (Some(w), MatchType::Exact) => w == got,
                (Some(w), MatchType::RegularExpression) => found(&format!("^(?:{w})$"), got),
            };
            one(&g.service, service) && one(&g.method, method)
        }
    };
    path_ok
        && method_ok
        && m.headers.iter().all(|h| {
            // "Name matching MUST be case-insensitive" (HTTPHeaderName).
            let value = req
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&h.name))
                .map(|(_, v)| v.as_str());
            value.is_some_and(|v| value_matches(h, v))
        })
        && m.query_params.iter().all(|q| {
            // A parameter sent more than once: "implementations should match against the
            // first value of the param" (HTTPQueryParamMatch).
            let value = query
                .split('&')
                .filter_map(|p| {
                    Some(p.split_once('=').unwrap_or((p, ""))).filter(|(n, _)| *n == q.name)
                })
                .map(|(_, v)| v)
                .next();
            value.is_some_and(|v| value_matches(q, v))
        })
}

fn value_matches(m: &ValueMatch, value: &str) -> bool {
    match m.type_ {
        MatchType::Exact => value == m.value,
        MatchType::RegularExpression => found(&m.value, value),
    }
}

/// Go's `regexp.MatchString`: the expression anywhere in the value (the export anchors its own).
fn found(regex: &str, value: &str) -> bool {
    appmesh_routing::pattern::is_match(regex, value)
}

/// A host name's specificity: "precedence must be given to rules from the HTTPRoute with the
/// largest number of: Characters in a matching non-wildcard hostname. Characters in a matching
/// hostname" (HTTPRouteSpec.hostnames).
fn host_rank(name: &str) -> (usize, usize) {
    let wildcard = name.starts_with("*.");
    (if wildcard { 0 } else { name.len() }, name.len())
}

/// What orders the matches that take a request, the greatest first. HTTPRoute: "Across all
/// rules specified on applicable Routes, precedence must be given to the match having: "Exact"
/// path match. "Prefix" path match with largest number of characters. Method match. Largest
/// number of header matches. Largest number of query param matches" (HTTPRouteRule.matches),
/// after the host name. GRPCRoute: host name, then "Characters in a matching service.
/// Characters in a matching method. Header matches" (GRPCRouteRule). Then for both: "The
/// oldest Route based on creation timestamp. The Route appearing first in alphabetical order by
/// `{namespace}/{name}`", and within a route "the FIRST matching rule (in list order)".
type Rank<'e> = (
    [usize; 7],
    Reverse<Option<i64>>,
    Reverse<&'e str>,
    Reverse<usize>,
);

fn rank<'e>(e: &'e Entry, kind: RouteKind, hostname: &str, ranking: Ranking) -> Rank<'e> {
    let default = RouteMatch::default();
    let m = e.m.unwrap_or(&default);
    let specific = match kind {
        RouteKind::Http => (
            m.path.as_ref().is_some_and(|p| p.type_ == PathType::Exact),
            // "The precedence of RegularExpression path matches are implementation-specific":
            // the model ranks one as a prefix of its expression's length, as Traefik ranks
            // rules by their length. A rule without matches is the prefix `/`.
            m.path
                .as_ref()
                .filter(|p| p.type_ != PathType::Exact)
                .map_or(usize::from(e.m.is_none()), |p| p.value.len()),
            matches!(m.method, Some(MethodMatch::Http(_))),
            m.headers.len(),
            m.query_params.len(),
        ),
        RouteKind::Grpc => {
            let (service, method) = match &m.method {
                Some(MethodMatch::Grpc(g)) => (
                    g.service.as_deref().map_or(0, str::len),
                    g.method.as_deref().map_or(0, str::len),
                ),
                _ => (0, 0),
            };
            (false, service, method > 0, method, m.headers.len())
        }
    };
    let created = e
        .route
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second());
    let (non_wildcard, host) = host_rank(hostname);
    let (exact, prefix, method, headers, query) = specific;
    let (exact, method) = (usize::from(exact), usize::from(method));
    let order = match ranking {
        Ranking::Specification => [non_wildcard, host, exact, prefix, method, headers, query],
        Ranking::HostLast => [exact, prefix, method, headers, query, non_wildcard, host],
    };
    (
        order,
        Reverse(created),
        Reverse(e.name.as_str()),
        Reverse(e.rule),
    )
}

/// Where the rule sends the request and what its URLRewrite filter makes of it.
fn forwarded(e: &Entry, path: &str, query: &str, req: &Request) -> Answer {
    let rule: &Rule = &e.route.spec.rules[e.rule];
    let namespace = e.route.metadata.namespace.as_deref().unwrap_or_default();
    // "If *all* entries in BackendRefs are invalid, and there are also no filters specified in
    // this route rule, *all* traffic which matches this rule MUST receive a 500 status code."
    if rule.backend_refs.is_empty() {
        return Answer::Status(500);
    }
    let backends = rule
        .backend_refs
        .iter()
        .map(|b| {
            // "Weight ... If unspecified, weight defaults to 1" (BackendRef).
            let weight = b.weight.map_or(1, |w| u64::try_from(w).unwrap_or(0));
            (shown(b, namespace), weight)
        })
        .collect();
    let mut new_path = path.to_string();
    // "MUST forward this header unmodified to the backend" absent a modification.
    let mut host = req.host.clone();
    for rewrite in rule.filters.iter().filter_map(|f| f.url_rewrite.as_ref()) {
        if let Some(h) = &rewrite.hostname {
            host = h.clone();
        }
        match &rewrite.path {
            Some(PathRewrite::ReplaceFullPath { replace_full_path }) => {
                new_path = replace_full_path.clone()
            }
            Some(PathRewrite::ReplacePrefixMatch {
                replace_prefix_match,
            }) => {
                let prefix =
                    e.m.and_then(|m| m.path.as_ref())
                        .map_or("", |p| p.value.trim_end_matches('/'));
                new_path = replace_prefix(path, prefix, replace_prefix_match);
            }
            None => {}
        }
    }
    let path = if query.is_empty() && !req.path.contains('?') {
        new_path
    } else {
        format!("{new_path}?{query}")
    };
    Answer::Sent {
        backends,
        path,
        host,
    }
}

/// HTTPPathModifier's ReplacePrefixMatch, element by element, as its table gives it
/// (`/foo/bar` with prefix `/foo` and `/xyz` or `/xyz/` is `/xyz/bar`; `/foo` with `/xyz` is
/// `/xyz`; `/foo/` with `/xyz` is `/xyz/`; with an empty string or `/`, `/foo/bar` is `/bar`
/// and `/foo` is `/`). `prefix` is the match's value without its trailing `/`.
fn replace_prefix(path: &str, prefix: &str, replacement: &str) -> String {
    let rest = &path[prefix.len().min(path.len())..];
    let out = format!("{}{rest}", replacement.trim_end_matches('/'));
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::replace_prefix;

    /// HTTPPathModifier's table, row by row: (request path, prefix match, replacement, result).
    #[test]
    fn replace_prefix_match_follows_the_specifications_table() {
        let rows = [
            ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo", "/xyz", "/xyz/"),
            ("/foo/bar", "/foo", "", "/bar"),
            ("/foo/", "/foo", "", "/"),
            ("/foo", "/foo", "", "/"),
            ("/foo/", "/foo", "/", "/"),
            ("/foo", "/foo", "/", "/"),
        ];
        for (path, prefix, replacement, want) in rows {
            let got = replace_prefix(path, prefix.trim_end_matches('/'), replacement);
            assert_eq!(got, want, "{path} {prefix} {replacement}");
        }
    }
}
