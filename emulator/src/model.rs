//! The App Mesh input shapes the emulator serves, with every bound of the service model
//! (botocore `appmesh/2019-01-25/service-2.json`), and the generic validator that enforces them.
//!
//! The table is written by hand from the model; `tests/python/test_model_rules.py` derives one
//! violating request per model rule from botocore and checks that each is refused, so a bound
//! missing here fails the suite. Rules the service enforces beyond the model live in `rules.rs`.

use serde_json::Value;

/// One input shape of the model.
pub enum Shape {
    String {
        min: usize,
        max: usize,
        one_of: &'static [&'static str],
    },
    /// `integer` and `long` alike: JSON numbers without a fraction.
    Integer {
        min: i64,
        max: i64,
    },
    Boolean,
    List {
        member: &'static Shape,
        min: usize,
        max: usize,
    },
    Structure {
        members: &'static [Member],
        union: bool,
    },
}

/// A member of a structure.
pub struct Member {
    pub name: &'static str,
    pub shape: &'static Shape,
    pub required: bool,
}

const fn req(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: true,
    }
}
const fn opt(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: false,
    }
}
const fn string(min: usize, max: usize) -> Shape {
    Shape::String {
        min,
        max,
        one_of: &[],
    }
}
const fn one_of(values: &'static [&'static str]) -> Shape {
    Shape::String {
        min: 0,
        max: usize::MAX,
        one_of: values,
    }
}
const fn integer(min: i64, max: i64) -> Shape {
    Shape::Integer { min, max }
}
const fn list(member: &'static Shape, min: usize, max: usize) -> Shape {
    Shape::List { member, min, max }
}
const fn structure(members: &'static [Member]) -> Shape {
    Shape::Structure {
        members,
        union: false,
    }
}
const fn union(members: &'static [Member]) -> Shape {
    Shape::Structure {
        members,
        union: true,
    }
}

const ANY: usize = usize::MAX;

// Scalars.
static STRING: Shape = string(0, ANY);
static RESOURCE_NAME: Shape = string(1, 255);
static ACCOUNT_ID: Shape = string(12, 12);
static BOOLEAN: Shape = Shape::Boolean;
static LONG: Shape = integer(i64::MIN, i64::MAX);
static PORT: Shape = integer(1, 65535);
static HEADER_NAME: Shape = string(1, 50);
static HEADER_MATCH: Shape = string(1, 255);
static HOSTNAME: Shape = string(1, 253);
static HTTP_PATH: Shape = string(1, 255);
static FILE_PATH: Shape = string(1, 255);
static ENABLED_DISABLED: Shape = one_of(&["ENABLED", "DISABLED"]);
static HTTP_METHOD: Shape = one_of(&[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
]);
static PORT_PROTOCOL: Shape = one_of(&["http", "http2", "grpc"]);

// Tags.
static TAG_KEY: Shape = string(1, 128);
static TAG_REF: Shape = structure(&[req("key", &TAG_KEY), req("value", &TAG_VALUE)]);
static TAG_VALUE: Shape = string(0, 256);
static TAG_LIST: Shape = list(&TAG_REF, 0, 50);
static TAG_KEY_LIST: Shape = list(&TAG_KEY, 0, 50);

// Gateway route spec.
static MATCH_RANGE: Shape = structure(&[req("end", &LONG), req("start", &LONG)]);
static HEADER_MATCH_METHOD: Shape = union(&[
    opt("exact", &HEADER_MATCH),
    opt("prefix", &HEADER_MATCH),
    opt("range", &MATCH_RANGE),
    opt("regex", &HEADER_MATCH),
    opt("suffix", &HEADER_MATCH),
]);
static HOSTNAME_MATCH: Shape = structure(&[opt("exact", &HOSTNAME), opt("suffix", &HOSTNAME)]);
static HOSTNAME_REWRITE: Shape = structure(&[opt("defaultTargetHostname", &ENABLED_DISABLED)]);
static TARGET: Shape = structure(&[
    opt("port", &PORT),
    req(
        "virtualService",
        &structure(&[req("virtualServiceName", &RESOURCE_NAME)]),
    ),
]);
static GRPC_METADATA: Shape = structure(&[
    opt("invert", &BOOLEAN),
    opt("match", &HEADER_MATCH_METHOD),
    req("name", &HEADER_NAME),
]);
static GRPC_MATCH: Shape = structure(&[
    opt("hostname", &HOSTNAME_MATCH),
    opt("metadata", &list(&GRPC_METADATA, 1, 10)),
    opt("port", &PORT),
    opt("serviceName", &STRING),
]);
static GRPC_ROUTE: Shape = structure(&[
    req(
        "action",
        &structure(&[
            opt("rewrite", &structure(&[opt("hostname", &HOSTNAME_REWRITE)])),
            req("target", &TARGET),
        ]),
    ),
    req("match", &GRPC_MATCH),
]);
static HTTP_HEADER: Shape = structure(&[
    opt("invert", &BOOLEAN),
    opt("match", &HEADER_MATCH_METHOD),
    req("name", &HEADER_NAME),
]);
static HTTP_QUERY_PARAMETER: Shape = structure(&[
    opt("match", &structure(&[opt("exact", &STRING)])),
    req("name", &STRING),
]);
static HTTP_MATCH: Shape = structure(&[
    opt("headers", &list(&HTTP_HEADER, 1, 10)),
    opt("hostname", &HOSTNAME_MATCH),
    opt("method", &HTTP_METHOD),
    opt(
        "path",
        &structure(&[opt("exact", &HTTP_PATH), opt("regex", &HTTP_PATH)]),
    ),
    opt("port", &PORT),
    opt("prefix", &STRING),
    opt("queryParameters", &list(&HTTP_QUERY_PARAMETER, 1, 10)),
]);
static HTTP_REWRITE: Shape = structure(&[
    opt("hostname", &HOSTNAME_REWRITE),
    opt("path", &structure(&[opt("exact", &HTTP_PATH)])),
    opt(
        "prefix",
        &structure(&[
            opt("defaultPrefix", &ENABLED_DISABLED),
            opt("value", &HTTP_PATH),
        ]),
    ),
]);
static HTTP_ROUTE: Shape = structure(&[
    req(
        "action",
        &structure(&[opt("rewrite", &HTTP_REWRITE), req("target", &TARGET)]),
    ),
    req("match", &HTTP_MATCH),
]);
static GATEWAY_ROUTE_SPEC: Shape = structure(&[
    opt("grpcRoute", &GRPC_ROUTE),
    opt("http2Route", &HTTP_ROUTE),
    opt("httpRoute", &HTTP_ROUTE),
    opt("priority", &integer(0, 1000)),
]);

// Mesh spec.
static MESH_SPEC: Shape = structure(&[
    opt(
        "egressFilter",
        &structure(&[req("type", &one_of(&["ALLOW_ALL", "DROP_ALL"]))]),
    ),
    opt(
        "serviceDiscovery",
        &structure(&[opt(
            "ipPreference",
            &one_of(&["IPv6_PREFERRED", "IPv4_PREFERRED", "IPv4_ONLY", "IPv6_ONLY"]),
        )]),
    ),
]);

// Virtual gateway spec.
static SDS_SECRET: Shape = structure(&[req("secretName", &STRING)]);
static FILE_CERTIFICATE: Shape = structure(&[
    req("certificateChain", &FILE_PATH),
    req("privateKey", &FILE_PATH),
]);
static FILE_TRUST: Shape = structure(&[req("certificateChain", &FILE_PATH)]);
static SUBJECT_ALTERNATIVE_NAMES: Shape = structure(&[req(
    "match",
    &structure(&[req("exact", &list(&string(1, 254), 0, ANY))]),
)]);
static CLIENT_TLS: Shape = structure(&[
    opt(
        "certificate",
        &union(&[opt("file", &FILE_CERTIFICATE), opt("sds", &SDS_SECRET)]),
    ),
    opt("enforce", &BOOLEAN),
    opt("ports", &list(&PORT, 0, ANY)),
    req(
        "validation",
        &structure(&[
            opt("subjectAlternativeNames", &SUBJECT_ALTERNATIVE_NAMES),
            req(
                "trust",
                &union(&[
                    opt(
                        "acm",
                        &structure(&[req("certificateAuthorityArns", &list(&STRING, 1, 3))]),
                    ),
                    opt("file", &FILE_TRUST),
                    opt("sds", &SDS_SECRET),
                ]),
            ),
        ]),
    ),
]);
static HEALTH_THRESHOLD: Shape = integer(2, 10);
static HEALTH_CHECK: Shape = structure(&[
    req("healthyThreshold", &HEALTH_THRESHOLD),
    req("intervalMillis", &integer(5000, 300_000)),
    opt("path", &STRING),
    opt("port", &PORT),
    req("protocol", &PORT_PROTOCOL),
    req("timeoutMillis", &integer(2000, 60_000)),
    req("unhealthyThreshold", &HEALTH_THRESHOLD),
]);
static MAX_REQUESTS: Shape = structure(&[req("maxRequests", &integer(1, i64::MAX))]);
static LISTENER: Shape = structure(&[
    opt(
        "connectionPool",
        &union(&[
            opt("grpc", &MAX_REQUESTS),
            opt(
                "http",
                &structure(&[
                    req("maxConnections", &integer(1, i64::MAX)),
                    opt("maxPendingRequests", &integer(1, i64::MAX)),
                ]),
            ),
            opt("http2", &MAX_REQUESTS),
        ]),
    ),
    opt("healthCheck", &HEALTH_CHECK),
    req(
        "portMapping",
        &structure(&[req("port", &PORT), req("protocol", &PORT_PROTOCOL)]),
    ),
    opt(
        "tls",
        &structure(&[
            req(
                "certificate",
                &union(&[
                    opt("acm", &structure(&[req("certificateArn", &STRING)])),
                    opt("file", &FILE_CERTIFICATE),
                    opt("sds", &SDS_SECRET),
                ]),
            ),
            req("mode", &one_of(&["STRICT", "PERMISSIVE", "DISABLED"])),
            opt(
                "validation",
                &structure(&[
                    opt("subjectAlternativeNames", &SUBJECT_ALTERNATIVE_NAMES),
                    req(
                        "trust",
                        &union(&[opt("file", &FILE_TRUST), opt("sds", &SDS_SECRET)]),
                    ),
                ]),
            ),
        ]),
    ),
]);
static VIRTUAL_GATEWAY_SPEC: Shape = structure(&[
    opt(
        "backendDefaults",
        &structure(&[opt("clientPolicy", &structure(&[opt("tls", &CLIENT_TLS)]))]),
    ),
    req("listeners", &list(&LISTENER, 0, ANY)),
    opt(
        "logging",
        &structure(&[opt(
            "accessLog",
            &union(&[opt(
                "file",
                &structure(&[
                    opt(
                        "format",
                        &union(&[
                            opt(
                                "json",
                                &list(
                                    &structure(&[
                                        req("key", &string(1, 100)),
                                        req("value", &string(1, 100)),
                                    ]),
                                    0,
                                    ANY,
                                ),
                            ),
                            opt("text", &string(1, 1000)),
                        ]),
                    ),
                    req("path", &FILE_PATH),
                ]),
            )]),
        )]),
    ),
]);

// Virtual service spec.
static VIRTUAL_SERVICE_SPEC: Shape = structure(&[opt(
    "provider",
    &union(&[
        opt(
            "virtualNode",
            &structure(&[req("virtualNodeName", &RESOURCE_NAME)]),
        ),
        opt(
            "virtualRouter",
            &structure(&[req("virtualRouterName", &RESOURCE_NAME)]),
        ),
    ]),
)]);

// Virtual node and virtual router specs: the members meshroute reads (service discovery and
// listener ports), checked against botocore's bounds; the rest is held as given.
static NODE_PORT_PROTOCOL: Shape = one_of(&["http", "tcp", "http2", "grpc"]);
static PORT_MAPPING: Shape = structure(&[req("port", &PORT), req("protocol", &NODE_PORT_PROTOCOL)]);
static PROVIDER_LISTENER: Shape = structure(&[req("portMapping", &PORT_MAPPING)]);
static IP_PREFERENCE: Shape =
    one_of(&["IPv6_PREFERRED", "IPv4_PREFERRED", "IPv4_ONLY", "IPv6_ONLY"]);
static VIRTUAL_NODE_SPEC: Shape = structure(&[
    opt("listeners", &list(&PROVIDER_LISTENER, 0, 1)),
    opt(
        "serviceDiscovery",
        &union(&[
            opt(
                "awsCloudMap",
                &structure(&[
                    opt("ipPreference", &IP_PREFERENCE),
                    req("namespaceName", &string(1, 1024)),
                    req("serviceName", &string(1, 1024)),
                ]),
            ),
            opt(
                "dns",
                &structure(&[
                    req("hostname", &STRING),
                    opt("ipPreference", &IP_PREFERENCE),
                    opt("responseType", &one_of(&["LOADBALANCER", "ENDPOINTS"])),
                ]),
            ),
        ]),
    ),
]);
static VIRTUAL_ROUTER_SPEC: Shape = structure(&[opt("listeners", &list(&PROVIDER_LISTENER, 1, 1))]);

// Route spec: the routes of a virtual router.
static DURATION: Shape = structure(&[
    opt("unit", &one_of(&["s", "ms"])),
    opt("value", &integer(0, i64::MAX)),
]);
static WEIGHTED_TARGETS: Shape = list(
    &structure(&[
        opt("port", &PORT),
        req("virtualNode", &RESOURCE_NAME),
        req("weight", &integer(0, 100)),
    ]),
    1,
    10,
);
static ROUTE_ACTION: Shape = structure(&[req("weightedTargets", &WEIGHTED_TARGETS)]);
static MAX_RETRIES: Shape = integer(0, i64::MAX);
static HTTP_RETRY_EVENTS: Shape = list(&string(1, 25), 1, 25);
static TCP_RETRY_EVENTS: Shape = list(&one_of(&["connection-error"]), 1, 1);
static HTTP_RETRY_POLICY: Shape = structure(&[
    opt("httpRetryEvents", &HTTP_RETRY_EVENTS),
    req("maxRetries", &MAX_RETRIES),
    req("perRetryTimeout", &DURATION),
    opt("tcpRetryEvents", &TCP_RETRY_EVENTS),
]);
static GRPC_RETRY_POLICY: Shape = structure(&[
    opt(
        "grpcRetryEvents",
        &list(
            &one_of(&[
                "cancelled",
                "deadline-exceeded",
                "internal",
                "resource-exhausted",
                "unavailable",
            ]),
            1,
            5,
        ),
    ),
    opt("httpRetryEvents", &HTTP_RETRY_EVENTS),
    req("maxRetries", &MAX_RETRIES),
    req("perRetryTimeout", &DURATION),
    opt("tcpRetryEvents", &TCP_RETRY_EVENTS),
]);
static REQUEST_TIMEOUT: Shape = structure(&[opt("idle", &DURATION), opt("perRequest", &DURATION)]);
static ROUTER_HTTP_ROUTE: Shape = structure(&[
    req("action", &ROUTE_ACTION),
    req(
        "match",
        &structure(&[
            opt("headers", &list(&HTTP_HEADER, 1, 10)),
            opt("method", &HTTP_METHOD),
            opt(
                "path",
                &structure(&[opt("exact", &HTTP_PATH), opt("regex", &HTTP_PATH)]),
            ),
            opt("port", &PORT),
            opt("prefix", &STRING),
            opt("queryParameters", &list(&HTTP_QUERY_PARAMETER, 1, 10)),
            opt("scheme", &one_of(&["http", "https"])),
        ]),
    ),
    opt("retryPolicy", &HTTP_RETRY_POLICY),
    opt("timeout", &REQUEST_TIMEOUT),
]);
static ROUTE_SPEC: Shape = structure(&[
    opt(
        "grpcRoute",
        &structure(&[
            req("action", &ROUTE_ACTION),
            req(
                "match",
                &structure(&[
                    opt("metadata", &list(&GRPC_METADATA, 1, 10)),
                    opt("methodName", &string(1, 50)),
                    opt("port", &PORT),
                    opt("serviceName", &STRING),
                ]),
            ),
            opt("retryPolicy", &GRPC_RETRY_POLICY),
            opt("timeout", &REQUEST_TIMEOUT),
        ]),
    ),
    opt("http2Route", &ROUTER_HTTP_ROUTE),
    opt("httpRoute", &ROUTER_HTTP_ROUTE),
    opt("priority", &integer(0, 1000)),
    opt(
        "tcpRoute",
        &structure(&[
            req("action", &ROUTE_ACTION),
            opt("match", &structure(&[opt("port", &PORT)])),
            opt("timeout", &structure(&[opt("idle", &DURATION)])),
        ]),
    ),
]);

// Operation inputs: path, query and body members merged into one object.
pub static CREATE_GATEWAY_ROUTE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("gatewayRouteName", &RESOURCE_NAME),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &GATEWAY_ROUTE_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
pub static UPDATE_GATEWAY_ROUTE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("gatewayRouteName", &RESOURCE_NAME),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &GATEWAY_ROUTE_SPEC),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
/// Describe and Delete of a gateway route.
pub static GATEWAY_ROUTE_REF: Shape = structure(&[
    req("gatewayRouteName", &RESOURCE_NAME),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
pub static LIST_GATEWAY_ROUTES: Shape = structure(&[
    opt("limit", &integer(1, 100)),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    opt("nextToken", &STRING),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
pub static CREATE_ROUTE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("routeName", &RESOURCE_NAME),
    req("spec", &ROUTE_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualRouterName", &RESOURCE_NAME),
]);
pub static UPDATE_ROUTE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("routeName", &RESOURCE_NAME),
    req("spec", &ROUTE_SPEC),
    req("virtualRouterName", &RESOURCE_NAME),
]);
/// Describe and Delete of a route.
pub static ROUTE_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("routeName", &RESOURCE_NAME),
    req("virtualRouterName", &RESOURCE_NAME),
]);
pub static LIST_ROUTES: Shape = structure(&[
    opt("limit", &integer(1, 100)),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    opt("nextToken", &STRING),
    req("virtualRouterName", &RESOURCE_NAME),
]);
pub static CREATE_MESH: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("spec", &MESH_SPEC),
    opt("tags", &TAG_LIST),
]);
/// Describe and Delete of a mesh.
pub static MESH_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
]);
pub static LIST_MESHES: Shape =
    structure(&[opt("limit", &integer(1, 100)), opt("nextToken", &STRING)]);
pub static CREATE_VIRTUAL_GATEWAY: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &VIRTUAL_GATEWAY_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
/// Describe and Delete of a virtual gateway.
pub static VIRTUAL_GATEWAY_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("virtualGatewayName", &RESOURCE_NAME),
]);
/// List of virtual gateways or virtual services in a mesh.
pub static LIST_IN_MESH: Shape = structure(&[
    opt("limit", &integer(1, 100)),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    opt("nextToken", &STRING),
]);
pub static CREATE_VIRTUAL_SERVICE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &VIRTUAL_SERVICE_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualServiceName", &STRING),
]);
pub static CREATE_VIRTUAL_NODE: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &VIRTUAL_NODE_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualNodeName", &RESOURCE_NAME),
]);
/// Describe and Delete of a virtual node.
pub static VIRTUAL_NODE_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("virtualNodeName", &RESOURCE_NAME),
]);
pub static CREATE_VIRTUAL_ROUTER: Shape = structure(&[
    opt("clientToken", &STRING),
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("spec", &VIRTUAL_ROUTER_SPEC),
    opt("tags", &TAG_LIST),
    req("virtualRouterName", &RESOURCE_NAME),
]);
/// Describe and Delete of a virtual router.
pub static VIRTUAL_ROUTER_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("virtualRouterName", &RESOURCE_NAME),
]);
/// Describe and Delete of a virtual service.
pub static VIRTUAL_SERVICE_REF: Shape = structure(&[
    req("meshName", &RESOURCE_NAME),
    opt("meshOwner", &ACCOUNT_ID),
    req("virtualServiceName", &STRING),
]);
pub static TAG_RESOURCE: Shape = structure(&[req("resourceArn", &STRING), req("tags", &TAG_LIST)]);
pub static UNTAG_RESOURCE: Shape =
    structure(&[req("resourceArn", &STRING), req("tagKeys", &TAG_KEY_LIST)]);
pub static LIST_TAGS_FOR_RESOURCE: Shape = structure(&[
    opt("limit", &integer(1, 50)),
    opt("nextToken", &STRING),
    req("resourceArn", &STRING),
]);

/// Checks `value` against `shape` and returns every violation, each naming its field path
/// (`spec.httpRoute.match.headers[0].name`) in the service's own message style.
pub fn validate(shape: &Shape, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(shape, value, "", &mut out);
    out
}

fn check(shape: &Shape, value: &Value, path: &str, out: &mut Vec<String>) {
    match (shape, value) {
        (_, Value::Null) => {} // absent; `required` is checked by the parent
        (Shape::String { min, max, one_of }, Value::String(s)) => {
            let len = s.chars().count();
            if len < *min {
                out.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
                    shorten(s)
                ));
            }
            if len > *max {
                out.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                    shorten(s)
                ));
            }
            if !one_of.is_empty() && !one_of.contains(&s.as_str()) {
                out.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    shorten(s),
                    one_of.join(", ")
                ));
            }
        }
        (Shape::Integer { min, max }, Value::Number(n)) => match n.as_i64() {
            Some(i) if i < *min => out.push(format!(
                "Value '{i}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            )),
            Some(i) if i > *max => out.push(format!(
                "Value '{i}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            )),
            Some(_) => {}
            None => out.push(format!("Value '{n}' at '{path}' must be a whole number")),
        },
        (Shape::Boolean, Value::Bool(_)) => {}
        (Shape::List { member, min, max }, Value::Array(items)) => {
            if items.len() < *min {
                out.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
                ));
            }
            if items.len() > *max {
                out.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                ));
            }
            for (i, item) in items.iter().enumerate() {
                check(member, item, &format!("{path}[{i}]"), out);
            }
        }
        (Shape::Structure { members, union }, Value::Object(fields)) => {
            let mut set = Vec::new();
            for m in *members {
                let child = if path.is_empty() {
                    m.name.to_string()
                } else {
                    format!("{path}.{}", m.name)
                };
                match fields.get(m.name) {
                    None | Some(Value::Null) if m.required => out.push(format!(
                        "Value null at '{child}' failed to satisfy constraint: Member must not be null"
                    )),
                    None | Some(Value::Null) => {}
                    Some(v) => {
                        set.push(m.name);
                        check(m.shape, v, &child, out);
                    }
                }
            }
            if *union && set.len() != 1 {
                let names: Vec<_> = members.iter().map(|m| m.name).collect();
                out.push(format!(
                    "Value at '{path}' failed to satisfy constraint: exactly one of [{}] must be set, found {}",
                    names.join(", "),
                    set.len()
                ));
            }
        }
        (shape, other) => out.push(format!(
            "Value '{}' at '{path}' must be {}",
            shorten(&other.to_string()),
            match shape {
                Shape::String { .. } => "a string",
                Shape::Integer { .. } => "a number",
                Shape::Boolean => "a boolean",
                Shape::List { .. } => "a list",
                Shape::Structure { .. } => "an object",
            }
        )),
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_create_passes() {
        let input = json!({
            "meshName": "apps", "virtualGatewayName": "gw", "gatewayRouteName": "r",
            "spec": { "http2Route": {
                "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } },
                "match": { "prefix": "/" } } },
            "tags": [{ "key": "team", "value": "" }]
        });
        assert_eq!(
            validate(&CREATE_GATEWAY_ROUTE, &input),
            Vec::<String>::new()
        );
    }

    #[test]
    fn violations_name_the_field_path() {
        let input = json!({
            "meshName": "", "virtualGatewayName": "gw", "gatewayRouteName": "r",
            "spec": { "httpRoute": {
                "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } },
                "match": { "headers": [{ "name": "x", "match": { "exact": "a", "prefix": "b" } }] } } }
        });
        let errors = validate(&CREATE_GATEWAY_ROUTE, &input);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("at 'meshName'"), "{}", errors[0]);
        assert!(
            errors[1].contains("at 'spec.httpRoute.match.headers[0].match'"),
            "{}",
            errors[1]
        );
    }
}
