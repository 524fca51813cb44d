//! Rules App Mesh enforces beyond its published model: the API reference states some (client
//! token form); the rest are our reading of how the service behaves, each listed in
//! docs/testing.md as a guess. Where the service accepts what its documentation forbids (a match
//! prefix without a leading `/`), the emulator accepts it too.

use serde_json::Value;

/// Violations of the service-side rules in a request whose shape already passed the model.
pub fn check(input: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(token) = input.get("clientToken").and_then(Value::as_str) {
        client_token(token, &mut out);
    }
    if let Some(tags) = input.get("tags").and_then(Value::as_array) {
        unique_tag_keys(tags, &mut out);
    }
    if let Some(spec) = input
        .get("spec")
        .filter(|_| input.get("gatewayRouteName").is_some())
    {
        if let Some(name) = input["gatewayRouteName"].as_str() {
            addressable_name("gatewayRouteName", name, &mut out);
        }
        gateway_route_spec(spec, &mut out);
    }
    if let Some(spec) = input
        .get("spec")
        .filter(|_| input.get("routeName").is_some())
    {
        if let Some(name) = input["routeName"].as_str() {
            addressable_name("routeName", name, &mut out);
        }
        route_spec(spec, &mut out);
    }
    out
}

/// A name becomes the last segment of the route's ARN and of its URL path; one that cannot
/// come back from either would leave a route nobody can tag, describe or delete by ARN.
fn addressable_name(field: &str, name: &str, out: &mut Vec<String>) {
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace())
    {
        out.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: must not contain / ? # % or white space, nor be . or .."
        ));
    }
}

/// App Mesh keeps these for itself (user guide, gateway routes).
const RESERVED_PREFIXES: [&str; 2] = ["/aws-appmesh", "/aws-app-mesh"];
const RESERVED_GRPC_SERVICE: &str = "aws.appmesh";

/// API reference: "Up to 36 letters, numbers, hyphens, and underscores are allowed."
fn client_token(token: &str, out: &mut Vec<String>) {
    if token.len() > 36
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        out.push(format!(
            "Value '{token}' at 'clientToken' failed to satisfy constraint: up to 36 letters, numbers, hyphens and underscores"
        ));
    }
}

fn unique_tag_keys(tags: &[Value], out: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, tag) in tags.iter().enumerate() {
        if let Some(key) = tag.get("key").and_then(Value::as_str)
            && !seen.insert(key)
        {
            out.push(format!("Duplicate tag key '{key}' at 'tags[{i}].key'"));
        }
    }
}

fn gateway_route_spec(spec: &Value, out: &mut Vec<String>) {
    let kinds: Vec<&str> = ["grpcRoute", "httpRoute", "http2Route"]
        .into_iter()
        .filter(|k| is_set(spec, k))
        .collect();
    if kinds.len() != 1 {
        out.push(format!(
            "Value at 'spec' failed to satisfy constraint: exactly one of [grpcRoute, httpRoute, http2Route] must be set, found {}",
            kinds.len()
        ));
        return;
    }
    let kind = kinds[0];
    let route = &spec[kind];
    let at = format!("spec.{kind}");
    let matcher = &route["match"];
    exclusive(
        &matcher["hostname"],
        &["exact", "suffix"],
        &format!("{at}.match.hostname"),
        out,
    );
    if kind == "grpcRoute" {
        if !["serviceName", "hostname", "metadata", "port"]
            .iter()
            .any(|k| is_set(matcher, k))
        {
            out.push(format!(
                "Value at '{at}.match' failed to satisfy constraint: set at least one of serviceName, hostname, metadata or port"
            ));
        }
        ranges(&matcher["metadata"], &format!("{at}.match.metadata"), out);
        regexes(&matcher["metadata"], &format!("{at}.match.metadata"), out);
        if let Some(service) = matcher["serviceName"].as_str()
            && service.starts_with(RESERVED_GRPC_SERVICE)
        {
            out.push(format!(
                "Value '{service}' at '{at}.match.serviceName' failed to satisfy constraint: service names starting with {RESERVED_GRPC_SERVICE} are reserved"
            ));
        }
        return;
    }

    let has_prefix = is_set(matcher, "prefix");
    let has_path = is_set(matcher, "path");
    if has_prefix && has_path {
        out.push(format!(
            "Value at '{at}.match' failed to satisfy constraint: prefix and path are mutually exclusive"
        ));
    }
    if !has_prefix && !has_path && !is_set(matcher, "hostname") && !is_set(matcher, "port") {
        out.push(format!(
            "Value at '{at}.match' failed to satisfy constraint: set one of prefix, path, hostname or port"
        ));
    }
    if let Some(prefix) = matcher["prefix"].as_str()
        && RESERVED_PREFIXES.iter().any(|r| prefix.starts_with(r))
    {
        out.push(format!(
            "Value '{prefix}' at '{at}.match.prefix' failed to satisfy constraint: prefixes starting with /aws-appmesh or /aws-app-mesh are reserved"
        ));
    }
    exclusive(
        &matcher["path"],
        &["exact", "regex"],
        &format!("{at}.match.path"),
        out,
    );
    if let Some(exact) = matcher["path"]["exact"].as_str()
        && !exact.starts_with('/')
    {
        out.push(format!(
            "Value '{exact}' at '{at}.match.path.exact' failed to satisfy constraint: must start with '/'"
        ));
    }
    ranges(&matcher["headers"], &format!("{at}.match.headers"), out);
    regexes(&matcher["headers"], &format!("{at}.match.headers"), out);
    if let Some(regex) = matcher["path"]["regex"].as_str() {
        regex_loads(regex, &format!("{at}.match.path.regex"), out);
    }

    let rewrite = &route["action"]["rewrite"];
    if is_set(rewrite, "prefix") {
        let prefix = &rewrite["prefix"];
        exclusive(
            prefix,
            &["defaultPrefix", "value"],
            &format!("{at}.action.rewrite.prefix"),
            out,
        );
        if let Some(value) = prefix["value"].as_str()
            && !(value.starts_with('/') && value.ends_with('/'))
        {
            out.push(format!(
                "Value '{value}' at '{at}.action.rewrite.prefix.value' failed to satisfy constraint: must start and end with '/'"
            ));
        }
        if !has_prefix {
            out.push(format!(
                "Value at '{at}.action.rewrite.prefix' failed to satisfy constraint: a prefix rewrite needs a prefix match"
            ));
        }
    }
    if is_set(rewrite, "path") {
        if let Some(exact) = rewrite["path"]["exact"].as_str()
            && !exact.starts_with('/')
        {
            out.push(format!(
                "Value '{exact}' at '{at}.action.rewrite.path.exact' failed to satisfy constraint: must start with '/'"
            ));
        }
        if !has_path {
            out.push(format!(
                "Value at '{at}.action.rewrite.path' failed to satisfy constraint: a path rewrite needs a path match"
            ));
        }
    }
}

/// The rules of a virtual router's route beyond the model.
fn route_spec(spec: &Value, out: &mut Vec<String>) {
    let kinds: Vec<&str> = ["grpcRoute", "httpRoute", "http2Route", "tcpRoute"]
        .into_iter()
        .filter(|k| is_set(spec, k))
        .collect();
    if kinds.len() != 1 {
        out.push(format!(
            "Value at 'spec' failed to satisfy constraint: exactly one of [grpcRoute, httpRoute, http2Route, tcpRoute] must be set, found {}",
            kinds.len()
        ));
        return;
    }
    let kind = kinds[0];
    let route = &spec[kind];
    let at = format!("spec.{kind}");
    weights(&route["action"]["weightedTargets"], &at, out);
    if let Some(policy) = route.get("retryPolicy").filter(|p| !p.is_null())
        && !["httpRetryEvents", "tcpRetryEvents", "grpcRetryEvents"]
            .iter()
            .any(|events| is_set(policy, events))
    {
        // API reference, HttpRetryPolicy: "Specify at least one value for at least one of the
        // types of RetryEvents".
        out.push(format!(
            "Value at '{at}.retryPolicy' failed to satisfy constraint: set at least one of httpRetryEvents, tcpRetryEvents or grpcRetryEvents"
        ));
    }
    let matcher = &route["match"];
    match kind {
        "tcpRoute" => {}
        "grpcRoute" => {
            // User guide, routes: "If you specify a method name, you must specify a service
            // name."
            if is_set(matcher, "methodName") && !is_set(matcher, "serviceName") {
                out.push(format!(
                    "Value at '{at}.match.methodName' failed to satisfy constraint: a method name needs a service name"
                ));
            }
            ranges(&matcher["metadata"], &format!("{at}.match.metadata"), out);
            regexes(&matcher["metadata"], &format!("{at}.match.metadata"), out);
        }
        _ => {
            if is_set(matcher, "prefix") && is_set(matcher, "path") {
                out.push(format!(
                    "Value at '{at}.match' failed to satisfy constraint: prefix and path are mutually exclusive"
                ));
            }
            exclusive(
                &matcher["path"],
                &["exact", "regex"],
                &format!("{at}.match.path"),
                out,
            );
            if let Some(regex) = matcher["path"]["regex"].as_str() {
                regex_loads(regex, &format!("{at}.match.path.regex"), out);
            }
            ranges(&matcher["headers"], &format!("{at}.match.headers"), out);
            regexes(&matcher["headers"], &format!("{at}.match.headers"), out);
        }
    }
}

/// A route's weighted targets: "The total weight for all targets combined must be less than or
/// equal to 100" (CloudFormation, AWS::AppMesh::Route WeightedTarget), and more than 0, since
/// Envoy loads no weighted clusters whose weights sum to 0 (our reading).
fn weights(targets: &Value, at: &str, out: &mut Vec<String>) {
    let total: i64 = targets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["weight"].as_i64())
        .sum();
    if !(1..=100).contains(&total) {
        out.push(format!(
            "Value at '{at}.action.weightedTargets' failed to satisfy constraint: the weights must sum to between 1 and 100, found {total}"
        ));
    }
}

/// Envoy (RE2) refuses to load a route with a regular expression it cannot parse, so App Mesh
/// cannot accept one either.
fn regex_loads(regex: &str, at: &str, out: &mut Vec<String>) {
    if regex_syntax::Parser::new().parse(regex).is_err() {
        out.push(format!(
            "Value '{regex}' at '{at}' failed to satisfy constraint: not a valid regular expression"
        ));
    }
}

fn regexes(list: &Value, at: &str, out: &mut Vec<String>) {
    for (i, item) in list.as_array().into_iter().flatten().enumerate() {
        if let Some(regex) = item["match"]["regex"].as_str() {
            regex_loads(regex, &format!("{at}[{i}].match.regex"), out);
        }
    }
}

fn is_set(v: &Value, key: &str) -> bool {
    !v.get(key).unwrap_or(&Value::Null).is_null()
}

/// Exactly one of `keys` when the object is present.
fn exclusive(v: &Value, keys: &[&str], at: &str, out: &mut Vec<String>) {
    if v.is_null() {
        return;
    }
    let n = keys.iter().filter(|k| is_set(v, k)).count();
    if n != 1 {
        out.push(format!(
            "Value at '{at}' failed to satisfy constraint: exactly one of [{}] must be set, found {n}",
            keys.join(", ")
        ));
    }
}

/// `range.start < range.end` in each header or metadata match.
fn ranges(list: &Value, at: &str, out: &mut Vec<String>) {
    for (i, item) in list.as_array().into_iter().flatten().enumerate() {
        let range = &item["match"]["range"];
        if let (Some(start), Some(end)) = (range["start"].as_i64(), range["end"].as_i64())
            && start >= end
        {
            out.push(format!(
                "Value at '{at}[{i}].match.range' failed to satisfy constraint: start ({start}) must be less than end ({end})"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(kind: &str, matcher: Value, rewrite: Value) -> Value {
        json!({ "gatewayRouteName": "r", "spec": { kind: {
            "action": { "target": { "virtualService": { "virtualServiceName": "s" } }, "rewrite": rewrite },
            "match": matcher } } })
    }

    #[test]
    fn a_sample_route_passes() {
        assert!(check(&route("http2Route", json!({ "prefix": "/" }), Value::Null)).is_empty());
    }

    /// What App Mesh holds though its documentation says otherwise: a prefix without `/` (the
    /// official controller's integration tests create `testPrefix`), and a match on the
    /// listener port alone (AWS's multiple-listeners walkthrough).
    #[test]
    fn what_app_mesh_accepts_passes() {
        for (kind, matcher) in [
            ("httpRoute", json!({ "prefix": "testPrefix" })),
            ("http2Route", json!({ "port": 8081 })),
            ("grpcRoute", json!({ "port": 8082 })),
        ] {
            let violations = check(&route(kind, matcher.clone(), Value::Null));
            assert!(violations.is_empty(), "{kind} {matcher}: {violations:?}");
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/aws-appmesh/x" }),
                    Value::Null,
                ),
                "match.prefix",
            ),
            (
                route("httpRoute", json!({}), Value::Null),
                "spec.httpRoute.match'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/", "path": { "exact": "/a" } }),
                    Value::Null,
                ),
                "spec.httpRoute.match'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "path": { "exact": "/a", "regex": "a" } }),
                    Value::Null,
                ),
                "match.path'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/", "hostname": { "exact": "a", "suffix": "b" } }),
                    Value::Null,
                ),
                "match.hostname'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/" }),
                    json!({ "prefix": { "value": "v" } }),
                ),
                "rewrite.prefix.value",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/" }),
                    json!({ "path": { "exact": "/x" } }),
                ),
                "rewrite.path'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/", "headers": [{ "name": "h", "match": { "range": { "start": 5, "end": 5 } } }] }),
                    Value::Null,
                ),
                "headers[0].match.range",
            ),
            (
                route("grpcRoute", json!({}), Value::Null),
                "spec.grpcRoute.match'",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "prefix": "/aws-appmesh/x" }),
                    Value::Null,
                ),
                "match.prefix",
            ),
            (
                route(
                    "http2Route",
                    json!({ "prefix": "/aws-app-mesh" }),
                    Value::Null,
                ),
                "match.prefix",
            ),
            (
                route(
                    "grpcRoute",
                    json!({ "serviceName": "aws.appmesh.Envoy" }),
                    Value::Null,
                ),
                "match.serviceName",
            ),
            (
                {
                    let mut r = route("httpRoute", json!({ "prefix": "/" }), Value::Null);
                    r["gatewayRouteName"] = json!("a/b");
                    r
                },
                "gatewayRouteName",
            ),
            (
                route(
                    "httpRoute",
                    json!({ "path": { "regex": "([" } }),
                    Value::Null,
                ),
                "match.path.regex",
            ),
            (
                route(
                    "http2Route",
                    json!({ "prefix": "/", "headers": [{ "name": "h", "match": { "regex": "a{2,1}" } }] }),
                    Value::Null,
                ),
                "headers[0].match.regex",
            ),
            (
                route(
                    "grpcRoute",
                    json!({ "serviceName": "s", "metadata": [{ "name": "m", "match": { "regex": "*" } }] }),
                    Value::Null,
                ),
                "metadata[0].match.regex",
            ),
            (json!({ "clientToken": "has space" }), "clientToken"),
            (
                json!({ "tags": [{ "key": "a" }, { "key": "a" }] }),
                "tags[1].key",
            ),
        ];
        for (input, field) in cases {
            let errors = check(&input);
            assert_eq!(errors.len(), 1, "{input}: {errors:?}");
            assert!(errors[0].contains(field), "{field} not in {}", errors[0]);
        }
    }
}
