//! How App Mesh's gateway picks among the routes of one virtual gateway, as far as routes can be
//! compared without a request: which of two it tries first, whether two take the same requests,
//! and whether one takes every request another does. The operator's collision checks
//! (`RouteConflict`, `Shadowed`) and `export gateway-api`'s priority findings both read it here.
//!
//! Sources: the API reference's `priority` (0 to 1000, 0 first); the user guide's "Gateway
//! routes" (a request is matched against routes in priority order); routes without a priority
//! come after every route with one, the emulator's documented choice where App Mesh is silent
//! (docs/testing.md, "data plane"). Prefixes are string prefixes, as Envoy's `prefix` match.

use std::hash::{DefaultHasher, Hash, Hasher};

use super::{GatewayRouteHostnameMatch, GatewayRouteSpec, HeaderMatchMethod};

/// A route's place in App Mesh's order on its gateway by its `priority` alone: the lower priority
/// first (0 first: the API reference's `priority`), and a route without a priority after every
/// route that has one. Two routes of equal rank are not ordered by anything this says: between
/// two routes without a priority App Mesh orders by its own longest-match rule
/// (`Matcher::app_mesh_first`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PriorityRank {
    /// No priority: after every route that has one.
    unprioritised: bool,
    priority: i32,
}

impl PriorityRank {
    pub fn of(priority: Option<i32>) -> PriorityRank {
        PriorityRank {
            unprioritised: priority.is_none(),
            priority: priority.unwrap_or_default(),
        }
    }
}

/// Whether App Mesh tries a route of priority `a` before one of priority `b` on the same
/// gateway (`PriorityRank`); between two routes without a priority it does not decide (`None`).
pub fn tries_first(a: Option<i32>, b: Option<i32>) -> Option<bool> {
    (a.is_some() || b.is_some()).then(|| PriorityRank::of(a) < PriorityRank::of(b))
}

/// A route's match, compact (the operator keeps one per route of a gateway).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matcher {
    kind: u8,
    pub priority: Option<i32>,
    host: Option<Host>,
    path: Path,
    /// `method` of an HTTP route.
    method: Option<Box<str>>,
    /// Each header, query parameter or metadata condition as a digest; sorted.
    conditions: Box<[u64]>,
    port: Option<i32>,
}

/// A host name match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Exact(Box<str>),
    Suffix(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Path {
    /// Every path (no path match; a gRPC route without a service name).
    Any,
    Prefix(Box<str>),
    Exact(Box<str>),
    Regex(Box<str>),
    /// A gRPC service name.
    Service(Box<str>),
}

/// [`Matcher::path_key`]'s kind of a match on every path.
pub const PATH_ANY: u8 = 0;
/// [`Matcher::path_key`]'s kind of a path prefix match.
pub const PATH_PREFIX: u8 = 1;
/// [`Matcher::path_key`]'s kind of an exact path match.
pub const PATH_EXACT: u8 = 2;
/// [`Matcher::path_key`]'s kind of a regular expression path match.
pub const PATH_REGEX: u8 = 3;

fn digest(value: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn method_key(m: &Option<HeaderMatchMethod>) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

impl Matcher {
    /// The match of `spec` (`None` for a spec without a route).
    pub fn of(spec: &GatewayRouteSpec) -> Option<Matcher> {
        let host = |h: &Option<GatewayRouteHostnameMatch>| {
            h.as_ref().and_then(|h| match (&h.exact, &h.suffix) {
                (Some(e), _) => Some(Host::Exact(e.as_str().into())),
                (None, Some(s)) => Some(Host::Suffix(s.as_str().into())),
                _ => None,
            })
        };
        let mut conditions: Vec<u64>;
        let matcher = if let Some(grpc) = &spec.grpc_route {
            let m = &grpc.route_match;
            conditions = m
                .metadata
                .iter()
                .flatten()
                .map(|c| {
                    digest(&(
                        "m",
                        &c.name,
                        c.invert == Some(true),
                        method_key(&c.value_match),
                    ))
                })
                .collect();
            Matcher {
                kind: 0,
                priority: spec.priority,
                host: host(&m.hostname),
                path: m
                    .service_name
                    .as_ref()
                    .map_or(Path::Any, |s| Path::Service(s.as_str().into())),
                method: None,
                conditions: Box::new([]),
                port: m.port,
            }
        } else {
            let (kind, http) = match (&spec.http_route, &spec.http2_route) {
                (Some(h), _) => (1, h),
                (None, Some(h)) => (2, h),
                _ => return None,
            };
            let m = &http.route_match;
            conditions = m
                .headers
                .iter()
                .flatten()
                .map(|c| {
                    digest(&(
                        "h",
                        c.name.to_ascii_lowercase(),
                        c.invert == Some(true),
                        method_key(&c.value_match),
                    ))
                })
                .chain(m.query_parameters.iter().flatten().map(|q| {
                    digest(&(
                        "q",
                        &q.name,
                        serde_json::to_string(&q.value_match).unwrap_or_default(),
                    ))
                }))
                .collect();
            let path = match (&m.prefix, &m.path) {
                (Some(p), _) => Path::Prefix(p.as_str().into()),
                (None, Some(p)) => match (&p.exact, &p.regex) {
                    (Some(e), _) => Path::Exact(e.as_str().into()),
                    (None, Some(r)) => Path::Regex(r.as_str().into()),
                    _ => Path::Any,
                },
                _ => Path::Any,
            };
            Matcher {
                kind,
                priority: spec.priority,
                host: host(&m.hostname),
                path,
                method: m
                    .method
                    .as_ref()
                    .map(|m| serde_json::to_string(m).unwrap_or_default().into()),
                conditions: Box::new([]),
                port: m.port,
            }
        };
        conditions.sort_unstable();
        conditions.dedup();
        Some(Matcher {
            conditions: conditions.into(),
            ..matcher
        })
    }

    /// Whether App Mesh's gateway tries this route before `other` where both match a request,
    /// as far as AWS wrote it down; `None` where nothing AWS wrote decides it. Two priorities
    /// decide (0 first: the API reference's `priority`). Between routes without one, AWS said
    /// App Mesh "does sort the routes according to length" when it builds Envoy's route
    /// configuration (aws/aws-app-mesh-roadmap#77, said of a virtual router's routes): the
    /// longer path match first. Undocumented: equal priorities, a route with a priority against
    /// one without, paths of equal length, a regular expression or no path match.
    pub fn app_mesh_first(&self, other: &Matcher) -> Option<bool> {
        let length = |m: &Matcher| match &m.path {
            Path::Prefix(p) | Path::Exact(p) => Some(p.len()),
            Path::Service(s) => Some(s.len() + 2),
            Path::Any | Path::Regex(_) => None,
        };
        match (self.priority, other.priority) {
            (Some(a), Some(b)) => (a != b).then_some(a < b),
            (None, None) => match (length(self), length(other)) {
                (Some(a), Some(b)) => (a != b).then_some(a > b),
                _ => None,
            },
            _ => None,
        }
    }

    /// The host name it matches; none: every host name.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }

    /// The prefix every path it matches starts with (a gRPC route's `/<service>/`); none when
    /// it matches every path, or by a regular expression.
    pub fn claimed_prefix(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.path {
            Path::Prefix(p) | Path::Exact(p) => Some(std::borrow::Cow::Borrowed(p)),
            Path::Service(s) => Some(format!("/{s}/").into()),
            Path::Any | Path::Regex(_) => None,
        }
    }

    /// The path part of the match as (kind, value), kind being [`PATH_ANY`], [`PATH_PREFIX`],
    /// [`PATH_EXACT`], [`PATH_REGEX`] or another for a gRPC service: what an index needs
    /// to find the matches that may cover this one, or that it may cover, without comparing
    /// every one (`covers` needs the other's path to be `Any`, a prefix of this one's, or equal).
    pub fn path_key(&self) -> (u8, &str) {
        match &self.path {
            Path::Any => (PATH_ANY, ""),
            Path::Prefix(p) => (PATH_PREFIX, p),
            Path::Exact(p) => (PATH_EXACT, p),
            Path::Regex(r) => (PATH_REGEX, r),
            Path::Service(s) => (4, s),
        }
    }

    /// Whether the two take exactly the same requests (priorities aside).
    pub fn same_requests(&self, other: &Matcher) -> bool {
        Matcher {
            priority: None,
            ..self.clone()
        } == Matcher {
            priority: None,
            ..other.clone()
        }
    }

    /// Whether no request can match both, by App Mesh's reading or Gateway API's (where a
    /// prefix ending in `/` also takes the bare path): different route kinds, listener ports,
    /// host names, paths or methods. Header and query conditions are not compared, so two
    /// routes told apart only by them are taken to overlap.
    pub fn disjoint(&self, other: &Matcher) -> bool {
        let ports = matches!((self.port, other.port), (Some(a), Some(b)) if a != b);
        let ends = |host: &str, suffix: &str| {
            host.to_ascii_lowercase()
                .ends_with(&suffix.to_ascii_lowercase())
        };
        let hosts = match (&self.host, &other.host) {
            (Some(Host::Exact(a)), Some(Host::Exact(b))) => !a.eq_ignore_ascii_case(b),
            (Some(Host::Exact(e)), Some(Host::Suffix(s)))
            | (Some(Host::Suffix(s)), Some(Host::Exact(e))) => !ends(e, s),
            (Some(Host::Suffix(a)), Some(Host::Suffix(b))) => !ends(a, b) && !ends(b, a),
            _ => false,
        };
        // A prefix takes the paths that start with it, and (Gateway API) `/x/` also takes `/x`.
        let takes = |prefix: &str, path: &str| {
            path.starts_with(prefix)
                || prefix
                    .strip_suffix('/')
                    .is_some_and(|bare| !bare.is_empty() && path == bare)
        };
        let paths = match (&self.path, &other.path) {
            (Path::Exact(a), Path::Exact(b)) => a != b,
            (Path::Prefix(p), Path::Exact(e)) | (Path::Exact(e), Path::Prefix(p)) => !takes(p, e),
            (Path::Prefix(a), Path::Prefix(b)) => !takes(a, b) && !takes(b, a),
            (Path::Service(a), Path::Service(b)) => a != b,
            _ => false,
        };
        let methods = matches!((&self.method, &other.method), (Some(a), Some(b)) if a != b);
        self.kind != other.kind || ports || hosts || paths || methods
    }

    /// Whether every request `other` matches, this matches too (a sufficient condition: a
    /// regular expression covers only the same expression).
    pub fn covers(&self, other: &Matcher) -> bool {
        let port = self.port.is_none() || self.port == other.port;
        let host = match (&self.host, &other.host) {
            (None, _) => true,
            (Some(Host::Exact(a)), Some(Host::Exact(b))) => a == b,
            (Some(Host::Suffix(a)), Some(Host::Exact(b) | Host::Suffix(b))) => b.ends_with(&**a),
            _ => false,
        };
        let path = match (&self.path, &other.path) {
            (Path::Any, _) => true,
            (Path::Prefix(a), Path::Prefix(b) | Path::Exact(b)) => b.starts_with(&**a),
            (a, b) => a == b,
        };
        let method = self.method.is_none() || self.method == other.method;
        let conditions = self
            .conditions
            .iter()
            .all(|c| other.conditions.binary_search(c).is_ok());
        self.kind == other.kind && port && host && path && method && conditions
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn http(priority: Option<i32>, m: Value) -> Matcher {
        let mut spec = json!({ "meshName": "m", "virtualGatewayName": "g",
            "httpRoute": { "match": m, "action": { "target": { "virtualService": {
                "virtualServiceName": "s" } } } } });
        if let Some(p) = priority {
            spec["priority"] = json!(p);
        }
        Matcher::of(&serde_json::from_value(spec).unwrap()).unwrap()
    }

    #[test]
    fn routes_without_a_priority_come_after_those_with_one() {
        for (a, b, first) in [
            (Some(0), Some(1), Some(true)),
            (Some(1), Some(0), Some(false)),
            (Some(3), Some(3), Some(false)),
            (Some(1000), None, Some(true)),
            (None, Some(1000), Some(false)),
            (None, None, None),
        ] {
            assert_eq!(tries_first(a, b), first, "{a:?} before {b:?}");
        }
    }

    #[test]
    fn same_requests_ignores_order_of_headers_and_priority() {
        let h = |a: &str, b: &str| {
            json!({ "prefix": "/a", "headers": [
                { "name": a, "match": { "exact": "1" } }, { "name": b, "match": { "exact": "2" } } ] })
        };
        assert!(!http(Some(1), h("x", "y")).same_requests(&http(Some(2), h("y", "x"))));
        let same = json!({ "prefix": "/a", "headers": [
            { "name": "y", "match": { "exact": "2" } }, { "name": "X", "match": { "exact": "1" } } ] });
        assert!(http(Some(1), h("x", "y")).same_requests(&http(Some(2), same)));
        assert!(
            !http(None, json!({ "prefix": "/a" }))
                .same_requests(&http(None, json!({ "prefix": "/a/" })))
        );
    }

    #[test]
    fn what_covers_what() {
        let cases = [
            (
                json!({ "prefix": "/" }),
                json!({ "prefix": "/x", "method": "GET" }),
                true,
            ),
            (
                json!({ "prefix": "/api" }),
                json!({ "prefix": "/apix" }),
                true,
            ),
            (
                json!({ "prefix": "/api/" }),
                json!({ "path": { "exact": "/api/v1" } }),
                true,
            ),
            (
                json!({ "prefix": "/api/" }),
                json!({ "prefix": "/api" }),
                false,
            ),
            (
                json!({ "path": { "regex": "/a.*" } }),
                json!({ "prefix": "/a" }),
                false,
            ),
            (
                json!({ "prefix": "/", "method": "GET" }),
                json!({ "prefix": "/x" }),
                false,
            ),
            (
                json!({ "prefix": "/", "hostname": { "suffix": ".example.com" } }),
                json!({ "prefix": "/", "hostname": { "exact": "a.example.com" } }),
                true,
            ),
            (
                json!({ "prefix": "/", "hostname": { "exact": "a.example.com" } }),
                json!({ "prefix": "/" }),
                false,
            ),
            (
                json!({ "prefix": "/", "headers": [{ "name": "x" }] }),
                json!({ "prefix": "/" }),
                false,
            ),
            (
                json!({ "prefix": "/" }),
                json!({ "prefix": "/", "headers": [{ "name": "x" }] }),
                true,
            ),
            (
                json!({ "port": 8080 }),
                json!({ "prefix": "/", "port": 8081 }),
                false,
            ),
            (
                json!({ "port": 8080 }),
                json!({ "prefix": "/", "port": 8080 }),
                true,
            ),
        ];
        for (a, b, covers) in cases {
            assert_eq!(
                http(None, a.clone()).covers(&http(None, b.clone())),
                covers,
                "{a} covers {b}"
            );
        }
    }

    #[test]
    fn disjoint_matches_are_those_no_request_can_take_both() {
        let m = |v: Value| http(None, v);
        for (a, b, disjoint) in [
            // The pair: no path both take.
            (
                json!({ "prefix": "/orders" }),
                json!({ "path": { "exact": "/api/v1/orders" }, "hostname": { "exact": "a.example.com" } }),
                true,
            ),
            (
                json!({ "prefix": "/api" }),
                json!({ "path": { "exact": "/api/v1/orders" } }),
                false,
            ),
            (
                json!({ "prefix": "/api/" }),
                json!({ "path": { "exact": "/api" } }),
                false,
            ),
            (json!({ "prefix": "/a" }), json!({ "prefix": "/b" }), true),
            (json!({ "prefix": "/a" }), json!({ "prefix": "/ab" }), false),
            (
                json!({ "path": { "exact": "/a" } }),
                json!({ "path": { "exact": "/b" } }),
                true,
            ),
            (
                json!({ "prefix": "/", "hostname": { "exact": "a.com" } }),
                json!({ "prefix": "/", "hostname": { "exact": "B.com" } }),
                true,
            ),
            (
                json!({ "prefix": "/", "hostname": { "suffix": ".a.com" } }),
                json!({ "prefix": "/", "hostname": { "exact": "x.A.com" } }),
                false,
            ),
            (
                json!({ "prefix": "/", "hostname": { "suffix": ".a.com" } }),
                json!({ "prefix": "/", "hostname": { "suffix": ".b.com" } }),
                true,
            ),
            (
                json!({ "prefix": "/", "port": 8080 }),
                json!({ "prefix": "/", "port": 8081 }),
                true,
            ),
            (
                json!({ "prefix": "/", "method": "GET" }),
                json!({ "prefix": "/", "method": "POST" }),
                true,
            ),
            (
                json!({ "path": { "regex": "/a.*" } }),
                json!({ "path": { "exact": "/b" } }),
                false,
            ),
            (
                json!({ "prefix": "/", "headers": [{ "name": "x", "match": { "exact": "1" } }] }),
                json!({ "prefix": "/", "headers": [{ "name": "x", "match": { "exact": "2" } }] }),
                false,
            ),
        ] {
            assert_eq!(m(a.clone()).disjoint(&m(b.clone())), disjoint, "{a} / {b}");
            assert_eq!(m(b.clone()).disjoint(&m(a.clone())), disjoint, "{b} / {a}");
        }
    }
}
