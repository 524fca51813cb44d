//! How a virtual gateway routes a request, as a pure function: which gateway route takes it,
//! and the path, Host and virtual service it leaves with. The rules and what each rests on are
//! in docs/testing.md ("The gateway data plane"); where App Mesh is silent, the choice made
//! here is said there too.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

/// A virtual gateway listener's protocol, which decides the route kind it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
}

impl Protocol {
    pub fn of(listener: &str) -> Option<Protocol> {
        match listener {
            "http" => Some(Protocol::Http),
            "http2" => Some(Protocol::Http2),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    /// The listener protocol's name, as `of` reads it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
        }
    }

    /// The spec field of the routes a listener of this protocol serves.
    pub fn route_kind(self) -> &'static str {
        match self {
            Protocol::Http => "httpRoute",
            Protocol::Http2 => "http2Route",
            Protocol::Grpc => "grpcRoute",
        }
    }
}

/// A gateway route as stored: its name, spec and when it was created.
#[derive(Debug, Clone)]
pub struct StoredRoute {
    pub name: String,
    pub spec: Value,
    pub created_at: f64,
}

/// What the data plane needs of a request.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path with its query string, as sent.
    pub path_and_query: &'a str,
    /// The Host header (HTTP/1.1) or `:authority` (HTTP/2), port included if sent.
    pub authority: Option<&'a str>,
    /// Header names lower case, in the order sent.
    pub headers: &'a [(String, String)],
    /// The listener's port in the virtual gateway's spec.
    pub listener_port: u16,
    pub protocol: Protocol,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub route: String,
    pub virtual_service: String,
    /// The path and query the backend sees.
    pub path_and_query: String,
    /// The Host (or `:authority`) the backend sees.
    pub host: Option<String>,
}

/// The route that takes `req` among a virtual gateway's `routes`, and what it does to it;
/// `None` when none matches (the gateway answers 404, as Envoy does). For many requests over the
/// same routes, build a [`Table`] once.
pub fn route(routes: &[StoredRoute], req: &Incoming) -> Option<Routed> {
    Table::new(routes, req.protocol.route_kind()).route(req)
}

/// The routes of one kind (their spec's field: `httpRoute`, `grpcRoute`, ...) in the order they
/// are tried (`Order`), indexed by what their path or service match needs: finding the route of
/// a request costs its path's length and the routes that can take it, not every route (10 000
/// routes on one gateway are routed as fast as 10).
pub struct Table<'a> {
    kind: &'a str,
    tried: Vec<(&'a StoredRoute, &'a Value)>,
    /// Positions in `tried` of the routes with this path prefix (HTTP) or this service (gRPC).
    by_prefix: HashMap<&'a str, Vec<usize>>,
    /// Positions of the routes with this exact path.
    by_exact: HashMap<&'a str, Vec<usize>>,
    /// Positions of the routes any path can reach: a regular expression, or no path match.
    others: Vec<usize>,
}

impl<'a> Table<'a> {
    pub fn new(routes: &'a [StoredRoute], kind: &'a str) -> Table<'a> {
        let mut tried: Vec<(&StoredRoute, &Value)> = routes
            .iter()
            .filter_map(|r| Some((r, r.spec.get(kind).filter(|v| !v.is_null())?)))
            .collect();
        tried.sort_by_cached_key(|(route, r)| Order::of(route, r));
        let mut table = Table {
            kind,
            tried: Vec::new(),
            by_prefix: HashMap::new(),
            by_exact: HashMap::new(),
            others: Vec::new(),
        };
        for (at, (_, r)) in tried.iter().enumerate() {
            let m = &r["match"];
            let key = if kind == "grpcRoute" {
                m["serviceName"].as_str().map(|s| (&mut table.by_prefix, s))
            } else if let Some(prefix) = m["prefix"].as_str() {
                Some((&mut table.by_prefix, prefix))
            } else {
                m["path"]["exact"]
                    .as_str()
                    .map(|e| (&mut table.by_exact, e))
            };
            match key {
                Some((index, key)) => index.entry(key).or_default().push(at),
                None => table.others.push(at),
            }
        }
        table.tried = tried;
        table
    }

    /// The route that takes `req` and what it does to it; `None` when none matches.
    pub fn route(&self, req: &Incoming) -> Option<Routed> {
        let (normalized, query) = path_and_query(req);
        let path = normalized.as_str();
        self.first(req, path, query)
            .map(|(stored, r)| rewrite(stored, r, path, query, req))
    }

    /// The first route in order that matches `req` (its path normalised), with its part of the
    /// table's kind.
    pub(crate) fn first(
        &self,
        req: &Incoming,
        path: &str,
        query: &str,
    ) -> Option<(&'a StoredRoute, &'a Value)> {
        let mut candidates: Vec<usize> = self.others.clone();
        let mut add = |index: &HashMap<&str, Vec<usize>>, key: &str| {
            candidates.extend(index.get(key).into_iter().flatten());
        };
        if self.kind == "grpcRoute" {
            let service = path.strip_prefix('/').and_then(|p| p.split_once('/'));
            if let Some((service, _)) = service {
                add(&self.by_prefix, service);
            }
        } else if self.kind != "tcpRoute" {
            add(&self.by_exact, path);
            for (at, _) in path.char_indices().skip(1) {
                add(&self.by_prefix, &path[..at]);
            }
            add(&self.by_prefix, path);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|at| self.tried[at])
            .find(|(_, r)| {
                let m = &r["match"];
                match self.kind {
                    "tcpRoute" => port_matches(m, req),
                    "grpcRoute" => grpc_matches(m, path, req),
                    _ => http_matches(m, path, query, req),
                }
            })
    }
}

/// The request's path as matched (normalised) and its query.
pub(crate) fn path_and_query<'a>(req: &Incoming<'a>) -> (String, &'a str) {
    let (raw_path, query) = req
        .path_and_query
        .split_once('?')
        .unwrap_or((req.path_and_query, ""));
    (normalize(raw_path), query)
}

/// A route's place in the order routes are tried in; the lesser first: by `priority` (0 first);
/// routes without one after every route with one (our choice), most specific first: exact
/// paths, then regular expressions over the whole path (our choice), then prefixes, the longest
/// first (AWS: App Mesh "does sort the routes according to length" when it builds Envoy's route
/// table, aws/aws-app-mesh-roadmap#77), then matches on no path; then by creation time and name
/// (our choice). docs/testing.md cites each.
#[derive(Debug, Clone)]
struct Order<'a> {
    priority: Option<i64>,
    /// How specific its path match is, the greater the more: (kind, prefix length).
    specificity: (u8, usize),
    created_at: f64,
    name: &'a str,
}

impl<'a> Order<'a> {
    /// `route`'s place, `r` being its match of the request's kind.
    fn of(route: &'a StoredRoute, r: &Value) -> Order<'a> {
        Order {
            priority: route.spec["priority"].as_i64(),
            specificity: specificity(&r["match"]),
            created_at: route.created_at,
            name: &route.name,
        }
    }
}

/// How specific a route's path match `m` is, the greater the more: (kind, prefix length). An
/// exact path, then a regular expression, then a prefix by its length, then no path: the order
/// among routes without a priority (`Order`), a virtual router's routes' too.
pub fn specificity(m: &Value) -> (u8, usize) {
    if m["path"]["exact"].is_string() {
        (3, 0)
    } else if m["path"]["regex"].is_string() {
        (2, 0)
    } else if let Some(prefix) = m["prefix"].as_str() {
        (1, prefix.len())
    } else {
        (0, 0)
    }
}

impl PartialEq for Order<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Order<'_> {}

impl Ord for Order<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.priority, other.priority) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => other.specificity.cmp(&self.specificity),
        }
        .then(self.created_at.total_cmp(&other.created_at))
        .then(self.name.cmp(other.name))
    }
}

impl PartialOrd for Order<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) fn http_matches(m: &Value, path: &str, query: &str, req: &Incoming) -> bool {
    let path_ok = match (&m["prefix"], &m["path"]) {
        (Value::String(prefix), _) => path.starts_with(prefix.as_str()),
        (_, p) if p.is_object() => match (&p["exact"], &p["regex"]) {
            (Value::String(exact), _) => path == exact,
            (_, Value::String(regex)) => full_match(regex, path),
            _ => true,
        },
        _ => true,
    };
    path_ok
        && hostname_matches(&m["hostname"], req.authority)
        && m["method"]
            .as_str()
            .is_none_or(|method| method == req.method)
        && port_matches(m, req)
        && headers_match(&m["headers"], req.headers)
        && query_matches(&m["queryParameters"], query)
        // A virtual router's route: what reaches a router from its gateway is plain HTTP (our
        // reading: TLS between Envoys is below the request), so `https` takes nothing.
        && m["scheme"].as_str().is_none_or(|scheme| scheme == "http")
}

/// A gRPC call's path is `/<package.Service>/<Method>`.
pub(crate) fn grpc_matches(m: &Value, path: &str, req: &Incoming) -> bool {
    let service_ok = m["serviceName"].as_str().is_none_or(|service| {
        let method = path
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(service))
            .and_then(|rest| rest.strip_prefix('/'));
        // A virtual router's route may name the method too (a gateway route cannot).
        method.is_some_and(|method| m["methodName"].as_str().is_none_or(|name| method == name))
    });
    service_ok
        && hostname_matches(&m["hostname"], req.authority)
        && port_matches(m, req)
        && headers_match(&m["metadata"], req.headers)
}

pub(crate) fn port_matches(m: &Value, req: &Incoming) -> bool {
    m["port"]
        .as_u64()
        .is_none_or(|port| port == u64::from(req.listener_port))
}

/// Host names compare without their port and case (DNS names are case-insensitive).
fn hostname_matches(m: &Value, authority: Option<&str>) -> bool {
    if !m.is_object() {
        return true;
    }
    let Some(authority) = authority else {
        return false;
    };
    let host = strip_port(authority).to_ascii_lowercase();
    match (&m["exact"], &m["suffix"]) {
        (Value::String(exact), _) => host == exact.to_ascii_lowercase(),
        (_, Value::String(suffix)) => host.ends_with(&suffix.to_ascii_lowercase()),
        _ => true,
    }
}

/// `host:port` or `[v6]:port` without the port; anything else as it is.
pub fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (host.ends_with(']') || !host.contains(':')) =>
        {
            host
        }
        _ => authority,
    }
}

/// Every header (or metadata) match must hold. A header sent several times is matched on its
/// values joined by `,`. A missing header matches nothing, so an inverted match takes it.
fn headers_match(matches: &Value, headers: &[(String, String)]) -> bool {
    let Some(matches) = matches.as_array() else {
        return true;
    };
    matches.iter().all(|h| {
        let name = h["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        let matched = !values.is_empty() && value_matches(&h["match"], &values.join(","));
        matched != h["invert"].as_bool().unwrap_or(false)
    })
}

fn value_matches(m: &Value, value: &str) -> bool {
    if !m.is_object() {
        return true;
    }
    if let Some(exact) = m["exact"].as_str() {
        return value == exact;
    }
    if let Some(prefix) = m["prefix"].as_str() {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = m["suffix"].as_str() {
        return value.ends_with(suffix);
    }
    if let Some(regex) = m["regex"].as_str() {
        return full_match(regex, value);
    }
    if m["range"].is_object() {
        let (start, end) = (m["range"]["start"].as_i64(), m["range"]["end"].as_i64());
        return match (value.trim().parse::<i64>(), start, end) {
            (Ok(v), Some(start), Some(end)) => start <= v && v < end,
            _ => false,
        };
    }
    true
}

/// Query parameters match by exact value, or by being present.
fn query_matches(matches: &Value, query: &str) -> bool {
    let Some(matches) = matches.as_array() else {
        return true;
    };
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    matches.iter().all(|q| {
        let name = q["name"].as_str().unwrap_or_default();
        let exact = q["match"]["exact"].as_str();
        params
            .iter()
            .any(|(n, v)| *n == name && exact.is_none_or(|e| e == *v))
    })
}

/// RE2 and Envoy match a route's regular expression against the whole value.
fn full_match(regex: &str, value: &str) -> bool {
    crate::pattern::is_match(&format!("^(?:{regex})$"), value)
}

/// The path App Mesh's gateway matches and forwards: dot segments removed (RFC 3986, 5.2.4) and
/// adjacent slashes merged, as the Envoy options App Mesh turned on (`normalize_path`,
/// `merge_slashes`) do; docs/testing.md cites the user guide.
pub fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The rewrites App Mesh's gateway makes: by default the matched prefix becomes `/` and the
/// Host the target virtual service's name (the App Mesh user guide, "Gateway routes"); an
/// explicit prefix or path rewrite replaces the default, and either default can be disabled.
fn rewrite(stored: &StoredRoute, r: &Value, path: &str, query: &str, req: &Incoming) -> Routed {
    let target = r["action"]["target"]["virtualService"]["virtualServiceName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rw = &r["action"]["rewrite"];
    let m = &r["match"];
    let mut new_path = path.to_string();
    if req.protocol != Protocol::Grpc {
        if let Some(prefix) = m["prefix"].as_str() {
            let rest = &path[prefix.len()..];
            match (
                &rw["prefix"]["value"],
                rw["prefix"]["defaultPrefix"].as_str(),
            ) {
                // A value given: Envoy's prefix_rewrite, the matched prefix swapped for it.
                (Value::String(value), _) => new_path = format!("{value}{rest}"),
                (_, Some("DISABLED")) => {}
                // The default: the matched prefix goes with one `/` after it, and the rest is
                // put under `/` (the user guide's "Virtual gateways": prefix `/chapter`,
                // `/chapter/1` is "rewritten to `/1`").
                _ => new_path = format!("/{}", rest.strip_prefix('/').unwrap_or(rest)),
            }
        } else if let Some(exact) = rw["path"]["exact"].as_str() {
            new_path = exact.to_string();
        }
    }
    let host = if rw["hostname"]["defaultTargetHostname"].as_str() == Some("DISABLED") {
        req.authority.map(str::to_string)
    } else {
        Some(target.clone())
    };
    let path_and_query = if query.is_empty() && !req.path_and_query.contains('?') {
        new_path
    } else {
        format!("{new_path}?{query}")
    };
    Routed {
        route: stored.name.clone(),
        virtual_service: target,
        path_and_query,
        host,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(name: &str, spec: Value, created_at: f64) -> StoredRoute {
        StoredRoute {
            name: name.into(),
            spec,
            created_at,
        }
    }

    fn http(m: Value, rewrite: Value, target: &str) -> Value {
        json!({ "httpRoute": { "match": m, "action": {
            "target": { "virtualService": { "virtualServiceName": target } },
            "rewrite": rewrite } } })
    }

    fn with_priority(mut spec: Value, p: i64) -> Value {
        spec["priority"] = json!(p);
        spec
    }

    fn get<'a>(path: &'a str, host: &'a str, headers: &'a [(String, String)]) -> Incoming<'a> {
        Incoming {
            method: "GET",
            path_and_query: path,
            authority: Some(host),
            headers,
            listener_port: 8080,
            protocol: Protocol::Http,
        }
    }

    #[test]
    fn routes_are_tried_by_priority_then_specificity_then_age_and_name() {
        let m = |m: Value| http(m, json!({}), "svc");
        // In the order they must be tried, each with the rule that puts it before the next.
        let routes = [
            stored("p0", with_priority(m(json!({ "prefix": "/" })), 0), 9.0),
            // The lower priority first, whatever the match.
            stored(
                "p5",
                with_priority(m(json!({ "path": { "exact": "/x" } })), 5),
                1.0,
            ),
            // A priority before none.
            stored("exact", m(json!({ "path": { "exact": "/a" } })), 9.0),
            // Without priorities: exact, then regex, then the longer prefix, then no path.
            stored("regex", m(json!({ "path": { "regex": "/.*" } })), 9.0),
            stored("long", m(json!({ "prefix": "/longer/" })), 9.0),
            stored("older", m(json!({ "prefix": "/a/" })), 1.0),
            // Same specificity: the older first, then by name.
            stored("a-newer", m(json!({ "prefix": "/b/" })), 2.0),
            stored("b-newer", m(json!({ "prefix": "/c/" })), 2.0),
            stored("none", m(json!({})), 0.0),
        ];
        let mut shuffled: Vec<&StoredRoute> = routes.iter().rev().collect();
        shuffled.sort_by_cached_key(|r| Order::of(r, &r.spec["httpRoute"]));
        let names: Vec<&str> = shuffled.iter().map(|r| r.name.as_str()).collect();
        let want: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, want);
    }

    /// The index finds the route a scan of every route in order finds, on routes and paths
    /// that share prefixes, exact paths and regular expressions with one another.
    #[test]
    fn the_table_takes_the_route_a_scan_in_order_takes() {
        let segments = ["", "a", "ab", "a/b", "b", "a/", "ab/c"];
        let mut routes = Vec::new();
        for (i, s) in segments.iter().enumerate() {
            let target = format!("s{i}");
            let m = |name: &str, m: Value, p: Option<i64>| {
                let spec = http(m, Value::Null, &target);
                let spec = p.map_or(spec.clone(), |p| with_priority(spec, p));
                stored(&format!("{name}{i}"), spec, i as f64)
            };
            routes.push(m("prefix", json!({ "prefix": format!("/{s}") }), None));
            routes.push(m(
                "exact",
                json!({ "path": { "exact": format!("/{s}") } }),
                None,
            ));
            let prioritised = json!({ "prefix": format!("/{s}"), "method": "POST" });
            routes.push(m("post", prioritised, Some(i as i64 % 3)));
        }
        routes.push(stored(
            "regex",
            http(json!({ "path": { "regex": "/a.*/c" } }), Value::Null, "re"),
            0.5,
        ));
        let table = Table::new(&routes, "httpRoute");
        let mut order: Vec<&StoredRoute> = routes.iter().collect();
        order.sort_by_cached_key(|r| Order::of(r, &r.spec["httpRoute"]));
        for s in segments.iter().chain(&["a/bc", "ab/c/d", "abc", "zz"]) {
            for method in ["GET", "POST"] {
                let path = format!("/{s}");
                let req = Incoming {
                    method,
                    ..get(&path, "h", &[])
                };
                let scanned = order
                    .iter()
                    .find(|r| http_matches(&r.spec["httpRoute"]["match"], &path, "", &req))
                    .map(|r| r.name.clone());
                let indexed = table.route(&req).map(|r| r.route);
                assert_eq!(indexed, scanned, "{method} {path}");
            }
        }
    }

    /// (request path, host, headers) -> (route, path seen, host seen), or None for a 404.
    #[test]
    fn requests_take_the_route_app_mesh_would_give_them() {
        let routes = [
            stored(
                "root",
                http(json!({ "prefix": "/" }), Value::Null, "web.local"),
                1.0,
            ),
            stored(
                "api",
                http(json!({ "prefix": "/api" }), Value::Null, "api.local"),
                2.0,
            ),
            stored(
                "api-kept",
                http(
                    json!({ "prefix": "/keep/" }),
                    json!({ "prefix": { "defaultPrefix": "DISABLED" },
                            "hostname": { "defaultTargetHostname": "DISABLED" } }),
                    "kept.local",
                ),
                3.0,
            ),
            stored(
                "v2",
                http(
                    json!({ "prefix": "/v1/" }),
                    json!({ "prefix": { "value": "/v2/" } }),
                    "v2.local",
                ),
                4.0,
            ),
            stored(
                "exact",
                http(
                    json!({ "path": { "exact": "/health" } }),
                    json!({ "path": { "exact": "/ready" } }),
                    "health.local",
                ),
                5.0,
            ),
            stored(
                "regex",
                http(
                    json!({ "path": { "regex": "/re/[0-9]+" } }),
                    Value::Null,
                    "re.local",
                ),
                6.0,
            ),
            stored(
                "canary",
                with_priority(
                    http(
                        json!({ "prefix": "/api", "headers": [
                            { "name": "x-canary", "match": { "exact": "true" } }] }),
                        Value::Null,
                        "canary.local",
                    ),
                    0,
                ),
                7.0,
            ),
            stored(
                "host",
                with_priority(
                    http(
                        json!({ "prefix": "/", "hostname": { "suffix": ".shop.example" } }),
                        Value::Null,
                        "shop.local",
                    ),
                    5,
                ),
                8.0,
            ),
        ];
        let canary = [("x-canary".to_string(), "true".to_string())];
        let none: [(String, String); 0] = [];
        /// (path, host, headers, (route, path seen, host seen) or None for a 404)
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a [(String, String)],
            Option<(&'a str, &'a str, &'a str)>,
        );
        let rows: [Row; 11] = [
            ("/", "gw", &none, Some(("root", "/", "web.local"))),
            // The longest prefix wins among routes without a priority; the matched prefix and
            // one `/` after it go, the rest is put under `/` (AWS's default rewrite).
            (
                "/api/users?x=1",
                "gw",
                &none,
                Some(("api", "/users?x=1", "api.local")),
            ),
            ("/apix", "gw", &none, Some(("api", "/x", "api.local"))),
            (
                "/keep/a",
                "gw:8080",
                &none,
                Some(("api-kept", "/keep/a", "gw:8080")),
            ),
            (
                "/v1/items",
                "gw",
                &none,
                Some(("v2", "/v2/items", "v2.local")),
            ),
            (
                "/health",
                "gw",
                &none,
                Some(("exact", "/ready", "health.local")),
            ),
            (
                "/health/x",
                "gw",
                &none,
                Some(("root", "/health/x", "web.local")),
            ),
            // A regular expression matches the whole path.
            ("/re/42", "gw", &none, Some(("regex", "/re/42", "re.local"))),
            (
                "/x/re/42",
                "gw",
                &none,
                Some(("root", "/x/re/42", "web.local")),
            ),
            // Priority first: 0 before 5 before routes without one.
            (
                "/api/a",
                "gw",
                &canary,
                Some(("canary", "/a", "canary.local")),
            ),
            (
                "/api",
                "a.SHOP.example:80",
                &none,
                Some(("host", "/api", "shop.local")),
            ),
        ];
        for (path, host, headers, want) in rows {
            let got = route(&routes, &get(path, host, headers));
            let got = got.as_ref().map(|r| {
                (
                    r.route.as_str(),
                    r.path_and_query.as_str(),
                    r.host.as_deref().unwrap_or_default(),
                )
            });
            assert_eq!(got, want, "{path} on {host}");
        }
        assert_eq!(
            route(&routes[1..2], &get("/other", "gw", &none)),
            None,
            "404"
        );
    }

    #[test]
    fn header_query_method_and_port_matches() {
        let header = |m: Value, invert: bool| {
            http(
                json!({ "prefix": "/", "headers": [{ "name": "X-V", "match": m, "invert": invert }] }),
                Value::Null,
                "t",
            )
        };
        /// (route spec, request headers, whether it matches)
        type Row<'a> = (Value, &'a [(&'a str, &'a str)], bool);
        let rows: [Row; 10] = [
            (
                header(json!({ "prefix": "ab" }), false),
                &[("x-v", "abc")],
                true,
            ),
            (
                header(json!({ "suffix": "bc" }), false),
                &[("x-v", "abc")],
                true,
            ),
            (
                header(json!({ "regex": "a.c" }), false),
                &[("x-v", "abcd")],
                false,
            ),
            (
                header(json!({ "range": { "start": 1, "end": 10 } }), false),
                &[("x-v", "9")],
                true,
            ),
            (
                header(json!({ "range": { "start": 1, "end": 10 } }), false),
                &[("x-v", "10")],
                false,
            ),
            (header(Value::Null, false), &[("x-v", "")], true),
            (header(Value::Null, false), &[], false),
            (header(json!({ "exact": "a" }), true), &[], true),
            (
                header(json!({ "exact": "a" }), true),
                &[("x-v", "a")],
                false,
            ),
            (
                header(json!({ "exact": "a,b" }), false),
                &[("x-v", "a"), ("x-v", "b")],
                true,
            ),
        ];
        for (spec, headers, want) in rows {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            let routes = [stored("r", spec.clone(), 1.0)];
            let got = route(&routes, &get("/", "gw", &headers)).is_some();
            assert_eq!(got, want, "{spec} {headers:?}");
        }
        let routes = [stored(
            "q",
            http(
                json!({ "prefix": "/", "method": "POST", "port": 8080,
                        "queryParameters": [{ "name": "tier", "match": { "exact": "gold" } },
                                            { "name": "debug" }] }),
                Value::Null,
                "t",
            ),
            1.0,
        )];
        let mut req = get("/?tier=gold&debug", "gw", &[]);
        assert!(route(&routes, &req).is_none(), "GET is not POST");
        req.method = "POST";
        assert!(route(&routes, &req).is_some());
        req.path_and_query = "/?tier=silver&debug";
        assert!(route(&routes, &req).is_none());
        req.path_and_query = "/?tier=gold&debug";
        req.listener_port = 9090;
        assert!(route(&routes, &req).is_none(), "another listener");
    }

    #[test]
    fn the_port_is_stripped_from_an_authority_only() {
        let rows = [
            ("gw", "gw"),
            ("gw:8080", "gw"),
            ("[::1]:8080", "[::1]"),
            ("[::1]", "[::1]"),
            ("::1", "::1"),
            ("gw:http", "gw:http"),
        ];
        for (authority, host) in rows {
            assert_eq!(strip_port(authority), host, "{authority}");
        }
    }

    #[test]
    fn grpc_calls_match_their_service_and_listeners_their_kind() {
        let routes = [
            stored(
                "echo",
                json!({ "grpcRoute": { "match": { "serviceName": "echo.v1.Echo" }, "action": {
                    "target": { "virtualService": { "virtualServiceName": "echo.local" } } } } }),
                1.0,
            ),
            stored(
                "web",
                http(json!({ "prefix": "/" }), Value::Null, "web.local"),
                2.0,
            ),
        ];
        let mut call = Incoming {
            method: "POST",
            path_and_query: "/echo.v1.Echo/Say",
            authority: Some("gw:8082"),
            headers: &[],
            listener_port: 8082,
            protocol: Protocol::Grpc,
        };
        let routed = route(&routes, &call).unwrap();
        assert_eq!(
            (
                routed.route.as_str(),
                routed.path_and_query.as_str(),
                routed.host.as_deref()
            ),
            ("echo", "/echo.v1.Echo/Say", Some("echo.local"))
        );
        call.path_and_query = "/echo.v1.EchoX/Say";
        assert!(route(&routes, &call).is_none(), "another service");
        // An HTTP/2 listener serves http2Routes only.
        call.protocol = Protocol::Http2;
        assert!(route(&routes, &call).is_none());
    }

    /// What AWS wrote down, request by request: the user guide's "Virtual gateways" and "Gateway
    /// routes" pages (prefix `/chapter`) and the howto-match-and-rewrite-at-ingress walkthrough
    /// (prefix `/red`); paths normalised before matching (`normalize_path`, `merge_slashes`).
    #[test]
    fn the_default_prefix_rewrite_and_normalisation_as_aws_states_them() {
        let routes = vec![
            stored(
                "chapter",
                http(json!({ "prefix": "/chapter" }), Value::Null, "book.local"),
                1.0,
            ),
            stored(
                "red",
                http(json!({ "prefix": "/red" }), Value::Null, "color.local"),
                2.0,
            ),
        ];
        for (sent, want) in [
            ("/chapter/1", "/1"),
            ("/chapter/page", "/page"),
            ("/chapter1", "/1"),
            ("/chapter", "/"),
            ("/red/tell", "/tell"),
            ("//chapter/1", "/1"),
            ("/chapter//1", "/1"),
            ("/x/../chapter/1", "/1"),
            ("/chapter/./a/b/../c", "/a/c"),
        ] {
            let req = Incoming {
                method: "GET",
                path_and_query: sent,
                authority: Some("gw"),
                headers: &[],
                listener_port: 8080,
                protocol: Protocol::Http,
            };
            let routed = route(&routes, &req).unwrap_or_else(|| panic!("{sent}: no route"));
            assert_eq!(routed.path_and_query, want, "{sent}");
        }
    }
}
