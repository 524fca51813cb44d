//! The requests `verify` sends: from each route's match, those the route must take and those at
//! its boundaries (the prefix itself, `prefix/`, `prefix` and one character, a case change, the
//! host name's suffix boundaries, each header and query parameter match satisfied and just
//! missed, each listener port, another method). Every request goes to every route of its
//! gateway, so the requests made from one route are also the ones meant for its neighbours.
//! Pure.

use appmesh_routing::gateway::Protocol;
use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Serialize;
use serde_json::Value;

/// One request, as a client sends it to a gateway's listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `namespace/name` of the GatewayRoute it was made from.
    pub from: String,
    /// What of the route's match it tests.
    pub why: String,
    #[serde(serialize_with = "protocol_name")]
    pub protocol: Protocol,
    /// The listener's port.
    pub port: u16,
    pub method: String,
    /// The path with its query string.
    pub path: String,
    pub host: String,
    /// Names lower case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

fn protocol_name<S: serde::Serializer>(p: &Protocol, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} :{}{} Host {}",
            self.method, self.port, self.path, self.host
        )?;
        for (name, value) in &self.headers {
            write!(f, " {name}: {value:?}")?;
        }
        Ok(())
    }
}

/// The host a request carries when its route matches no host name.
pub const ANY_HOST: &str = "www.example.com";

/// The requests for one route (`from`, its spec as App Mesh's JSON) on a gateway whose
/// listeners are `listeners` (protocol, port), as `import` recorded them: on those of the
/// route's protocol (or on `fallback` where there is none), and on those of the others.
pub fn requests(
    from: &str,
    spec: &Value,
    listeners: &[(&str, u16)],
    fallback: u16,
) -> Vec<Request> {
    let (kind, protocol) = match () {
        _ if spec["httpRoute"].is_object() => ("httpRoute", Protocol::Http),
        _ if spec["http2Route"].is_object() => ("http2Route", Protocol::Http2),
        _ if spec["grpcRoute"].is_object() => ("grpcRoute", Protocol::Grpc),
        _ => return Vec::new(),
    };
    let ports_of = |own: bool| -> Vec<u16> {
        (listeners.iter())
            .filter(|(p, _)| (*p == protocol.name()) == own)
            .map(|(_, port)| *port)
            .collect()
    };
    let (mut ports, others) = (ports_of(true), ports_of(false));
    if ports.is_empty() {
        ports.push(fallback);
    }
    let m = &spec[kind]["match"];
    let grpc = protocol == Protocol::Grpc;
    let port = m["port"].as_u64().and_then(|p| u16::try_from(p).ok());
    let base = Request {
        from: from.to_string(),
        why: "its match".into(),
        protocol,
        port: port.or(ports.first().copied()).unwrap_or(80),
        method: if grpc { "POST" } else { "GET" }.into(),
        path: String::new(),
        host: host_of(&m["hostname"]).unwrap_or_else(|| ANY_HOST.into()),
        headers: Vec::new(),
    };
    let mut base = base;
    if let Some(method) = m["method"].as_str() {
        base.method = method.to_string();
    }
    let conditions = if grpc { &m["metadata"] } else { &m["headers"] };
    for h in conditions.as_array().into_iter().flatten() {
        if let Some(value) = header_value(h, true) {
            base.headers.push((lower(&h["name"]), value));
        }
    }
    if grpc {
        base.headers
            .push(("content-type".into(), "application/grpc".into()));
    }
    let query: Vec<(String, String)> = m["queryParameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            let name = q["name"].as_str().unwrap_or_default().to_string();
            (
                name,
                q["match"]["exact"].as_str().unwrap_or("1").to_string(),
            )
        })
        .collect();
    let with_query = |path: String, query: &[(String, String)]| {
        if query.is_empty() {
            path
        } else {
            let pairs: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
            format!("{path}?{}", pairs.join("&"))
        }
    };
    let mut out = Vec::new();
    let mut add = |why: String, edit: &dyn Fn(&mut Request)| {
        let mut r = base.clone();
        r.why = why;
        edit(&mut r);
        // The same request twice tests one thing: the first reason stays.
        let same = |o: &Request| {
            Request {
                why: r.why.clone(),
                ..o.clone()
            } == r
        };
        if !out.iter().any(same) {
            out.push(r);
        }
    };
    // The paths: what the route takes and its boundaries.
    let paths: Vec<(String, String)> = if grpc {
        let service = m["serviceName"].as_str().unwrap_or("verify.Service");
        let mut paths = vec![
            ("its service".into(), format!("/{service}/Call")),
            (
                "its service and one character".into(),
                format!("/{service}x/Call"),
            ),
        ];
        if let Some((_, last)) = service.rsplit_once('.') {
            let short = &service[..service.len() - last.len()];
            paths.push((
                "its service's package only".into(),
                format!("/{short}/Call"),
            ));
        }
        let upper = service.to_ascii_uppercase();
        if upper != service {
            paths.push(("its service in upper case".into(), format!("/{upper}/Call")));
        }
        paths
    } else if let Some(prefix) = m["prefix"].as_str() {
        prefix_paths(prefix)
    } else if let Some(exact) = m["path"]["exact"].as_str() {
        let mut paths = vec![
            ("its exact path".into(), exact.to_string()),
            (
                "its exact path and one character".into(),
                format!("{exact}x"),
            ),
        ];
        match exact.strip_suffix('/') {
            Some(bare) if !bare.is_empty() => {
                paths.push(("its exact path without the `/`".into(), bare.into()))
            }
            _ => paths.push(("its exact path and `/`".into(), format!("{exact}/"))),
        }
        let upper = exact.to_ascii_uppercase();
        if upper != exact {
            paths.push(("its exact path in upper case".into(), upper));
        }
        paths
    } else if let Some(regex) = m["path"]["regex"].as_str() {
        let mut paths = Vec::new();
        if let Some(sample) = sample(regex) {
            paths.push((
                "a path its regular expression matches".into(),
                sample.clone(),
            ));
            paths.push(("that path and one character".into(), format!("{sample}x")));
        }
        paths.push(("the root".into(), "/".into()));
        paths
    } else {
        vec![
            ("the root".into(), "/".into()),
            ("a path".into(), "/x/y".into()),
        ]
    };
    for (why, path) in &paths {
        add(why.clone(), &|r| r.path = with_query(path.clone(), &query));
    }
    let path = with_query(paths[0].1.clone(), &query);
    let first = |r: &mut Request| r.path = path.clone();
    // The host name's boundaries.
    if let Some(exact) = m["hostname"]["exact"].as_str() {
        let upper = exact.to_ascii_uppercase();
        let cases = [
            ("its host in upper case", upper),
            ("its host with a port", format!("{exact}:{}", base.port)),
            ("its host behind one more label", format!("x.{exact}")),
        ];
        for (why, host) in cases {
            add(why.into(), &|r| {
                first(r);
                r.host = host.clone();
            });
        }
    } else if let Some(suffix) = m["hostname"]["suffix"].as_str() {
        let bare = suffix.trim_start_matches('.');
        let cases = [
            ("its host suffix's domain itself", bare.to_string()),
            ("its host suffix after a character", format!("x{suffix}")),
            ("its host suffix two labels down", format!("a.b.{bare}")),
            ("another domain", "www.example.net".to_string()),
        ];
        for (why, host) in cases {
            add(why.into(), &|r| {
                first(r);
                r.host = host.clone();
            });
        }
    }
    // The method.
    let other = if base.method == "GET" { "POST" } else { "GET" };
    if m["method"].is_string() || grpc {
        add(format!("method {other}"), &|r| {
            first(r);
            r.method = other.into();
        });
    }
    // Each header (or metadata) match missed.
    for h in conditions.as_array().into_iter().flatten() {
        let name = lower(&h["name"]);
        let missed = header_value(h, false);
        add(format!("header {name} missing"), &|r| {
            first(r);
            r.headers.retain(|(n, _)| *n != name);
        });
        if let Some(value) = &missed {
            add(format!("header {name} just missed"), &|r| {
                first(r);
                r.headers.retain(|(n, _)| *n != name);
                r.headers.push((name.clone(), value.clone()));
            });
        }
    }
    // Each query parameter missing or with another value.
    for (i, (name, value)) in query.iter().enumerate() {
        let without: Vec<(String, String)> = query
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, q)| q.clone())
            .collect();
        let path = with_query(paths[0].1.clone(), &without);
        add(format!("query {name} missing"), &|r| r.path = path.clone());
        let mut other = query.clone();
        other[i].1 = format!("{value}x");
        let path = with_query(paths[0].1.clone(), &other);
        add(format!("query {name} with another value"), &|r| {
            r.path = path.clone()
        });
    }
    // Each listener port, and one of another protocol (which its gateway keeps for other routes).
    for p in ports.iter().chain(&others).copied() {
        add(format!("listener port {p}"), &|r| {
            first(r);
            r.port = p;
        });
    }
    out
}

/// The path boundaries of a prefix match.
fn prefix_paths(prefix: &str) -> Vec<(String, String)> {
    let mut paths = vec![("its prefix".to_string(), prefix.to_string())];
    if prefix.ends_with('/') {
        paths.push(("its prefix and a segment".into(), format!("{prefix}x")));
        if prefix.len() > 1 {
            let bare = prefix.trim_end_matches('/');
            paths.push(("its prefix without the `/`".into(), bare.to_string()));
            paths.push((
                "its prefix without the `/`, and one character".into(),
                format!("{bare}x"),
            ));
        }
    } else {
        paths.push(("its prefix and `/`".into(), format!("{prefix}/")));
        paths.push(("its prefix and a segment".into(), format!("{prefix}/x")));
        paths.push(("its prefix and one character".into(), format!("{prefix}x")));
    }
    if prefix.len() > 1 {
        let shorter = &prefix[..prefix.len() - prefix.chars().last().map_or(0, char::len_utf8)];
        paths.push(("its prefix less one character".into(), shorter.to_string()));
    }
    let upper = prefix.to_ascii_uppercase();
    if upper != prefix {
        paths.push(("its prefix in upper case".into(), upper));
    }
    paths
}

/// A host its host name match takes.
fn host_of(m: &Value) -> Option<String> {
    if let Some(exact) = m["exact"].as_str() {
        return Some(exact.to_string());
    }
    let suffix = m["suffix"].as_str()?;
    Some(if suffix.starts_with('.') {
        format!("www{suffix}")
    } else {
        format!("www.{suffix}")
    })
}

fn lower(name: &Value) -> String {
    name.as_str().unwrap_or_default().to_ascii_lowercase()
}

/// A value of header match `h` that satisfies it (`satisfy`), or that just misses it; `None` for
/// none to send (an inverted match is satisfied by leaving the header out).
fn header_value(h: &Value, satisfy: bool) -> Option<String> {
    let inverted = h["invert"].as_bool().unwrap_or(false);
    let m = &h["match"];
    // What matches and what misses the match as written; inverted, the two swap.
    let (hit, miss) = if let Some(v) = m["exact"].as_str() {
        (v.to_string(), format!("{v}x"))
    } else if let Some(v) = m["prefix"].as_str() {
        (format!("{v}x"), format!("x{v}"))
    } else if let Some(v) = m["suffix"].as_str() {
        (format!("x{v}"), format!("{v}x"))
    } else if let Some(v) = m["regex"].as_str() {
        (sample(v)?, "verify-miss".into())
    } else if m["range"].is_object() {
        let start = m["range"]["start"].as_i64()?;
        let end = m["range"]["end"].as_i64()?;
        (start.to_string(), end.to_string())
    } else {
        ("1".into(), String::new())
    };
    match (satisfy, inverted) {
        (true, false) => Some(hit),
        (true, true) => None,
        (false, false) => (!miss.is_empty()).then_some(miss),
        (false, true) => Some(hit),
    }
}

/// A short string the regular expression matches whole, where one is easy to build: each
/// literal as written, a class's first character, a repetition its least times (once at least
/// when it may be empty and follows nothing), an alternation's first branch.
pub fn sample(regex: &str) -> Option<String> {
    fn walk(hir: &Hir, out: &mut String) -> Option<()> {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(std::str::from_utf8(&l.0).ok()?),
            HirKind::Class(Class::Unicode(c)) => out.push(c.ranges().first()?.start()),
            HirKind::Class(Class::Bytes(c)) => out.push(char::from(c.ranges().first()?.start())),
            HirKind::Repetition(r) => {
                for _ in 0..r.min {
                    walk(&r.sub, out)?;
                }
            }
            HirKind::Capture(c) => walk(&c.sub, out)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    walk(part, out)?;
                }
            }
            HirKind::Alternation(branches) => walk(branches.first()?, out)?,
        }
        Some(())
    }
    let hir = regex_syntax::parse(regex).ok()?;
    let mut out = String::new();
    walk(&hir, &mut out)?;
    let whole = regex::Regex::new(&format!("^(?:{regex})$")).ok()?;
    whole.is_match(&out).then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(spec: Value) -> Vec<(String, String)> {
        requests("ns/r", &spec, &[("http", 8080)], 80)
            .into_iter()
            .map(|r| (r.why, r.path))
            .collect()
    }

    #[test]
    fn a_prefix_gives_its_boundaries() {
        let got = paths(json!({ "httpRoute": { "match": { "prefix": "/api" } } }));
        let want = [
            ("its prefix", "/api"),
            ("its prefix and `/`", "/api/"),
            ("its prefix and a segment", "/api/x"),
            ("its prefix and one character", "/apix"),
            ("its prefix less one character", "/ap"),
            ("its prefix in upper case", "/API"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(w, p)| (w.to_string(), p.to_string()))
            .collect();
        assert_eq!(got, want);
        let slash = paths(json!({ "httpRoute": { "match": { "prefix": "/api/" } } }));
        assert!(slash.contains(&("its prefix without the `/`".into(), "/api".into())));
    }

    #[test]
    fn headers_queries_hosts_and_ports_are_satisfied_then_missed() {
        let spec = json!({ "httpRoute": { "match": {
            "prefix": "/",
            "hostname": { "suffix": ".example.com" },
            "method": "PUT",
            "headers": [
                { "name": "X-Env", "match": { "exact": "prod" } },
                { "name": "x-debug", "invert": true, "match": { "prefix": "1" } },
            ],
            "queryParameters": [{ "name": "v", "match": { "exact": "2" } }],
        } } });
        let got = requests("ns/r", &spec, &[("http", 8080), ("grpc", 9090)], 80);
        let base = &got[0];
        assert_eq!(base.method, "PUT");
        assert_eq!(base.host, "www.example.com");
        assert_eq!(base.path, "/?v=2");
        assert_eq!(base.headers, [("x-env".to_string(), "prod".to_string())]);
        let find = |why: &str| {
            got.iter()
                .find(|r| r.why == why)
                .unwrap_or_else(|| panic!("{why}"))
        };
        assert_eq!(find("header x-env just missed").headers[0].1, "prodx");
        assert!(find("header x-env missing").headers.is_empty());
        assert!(
            find("header x-debug just missed")
                .headers
                .contains(&("x-debug".into(), "1x".into()))
        );
        assert_eq!(find("query v missing").path, "/");
        assert_eq!(find("query v with another value").path, "/?v=2x");
        assert_eq!(find("its host suffix's domain itself").host, "example.com");
        assert_eq!(find("method GET").method, "GET");
        assert_eq!(find("listener port 9090").port, 9090);
    }

    #[test]
    fn a_regular_expression_gives_a_sample_it_matches() {
        assert_eq!(sample("/api/v[0-9]+/.*").as_deref(), Some("/api/v0/"));
        assert_eq!(sample("/(a|b)c?").as_deref(), Some("/a"));
        assert_eq!(sample("(").as_deref(), None);
    }
}
