//! How a virtual router routes a request its virtual service received from a gateway, as pure
//! functions: which of its routes takes it (in the order gateway routes are tried: `routing`),
//! the weighted pick of a target virtual node, and the route's per-request timeout and retry
//! policy. docs/testing.md ("Virtual routers") cites what each rests on and says what is ours.

use std::time::Duration;

use serde_json::Value;

use crate::gateway::{self as routing, Incoming, StoredRoute};

/// App Mesh's per-request timeout when a route sets none: "The default value is 15 seconds"
/// (API reference, HttpTimeout and GrpcTimeout).
pub const DEFAULT_PER_REQUEST: Duration = Duration::from_secs(15);

/// Envoy's retry back-off: a 25 ms base interval, doubled each retry up to ten times the base
/// (Envoy's router filter, `x-envoy-retry-on`; App Mesh sets no back-off of its own).
const RETRY_BASE: Duration = Duration::from_millis(25);

/// The route of a virtual router that takes a request, and what it says to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    pub route: String,
    /// Each target virtual node with its weight, as the route lists them.
    pub targets: Vec<(String, u64)>,
    /// The whole request's time limit, retries included.
    pub per_request: Duration,
    pub retry: Option<RetryPolicy>,
}

/// A route's retry policy as Envoy applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub per_try: Duration,
    pub on: Vec<RetryOn>,
}

/// What makes an attempt worth another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// `server-error`: any 5xx answer, and a reset (no answer).
    ServerError,
    /// `gateway-error`: 502, 503 or 504, and a reset.
    GatewayError,
    /// `client-error`: 409 (Envoy's `retriable-4xx`).
    ClientError,
    /// `stream-error`: the upstream refused the stream (Envoy's `refused-stream`); a reset here.
    StreamError,
    /// `connection-error` (tcpRetryEvents): the connection to the node failed.
    ConnectionError,
    /// A gRPC status in the answer (grpcRetryEvents): cancelled 1, deadline-exceeded 4,
    /// resource-exhausted 8, internal 13, unavailable 14.
    GrpcStatus(u8),
}

/// How one attempt ended, for the retry policy to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// An answer, with its HTTP status and gRPC status if it carried one.
    Answered { status: u16, grpc: Option<u8> },
    /// No connection to the node.
    ConnectFailed,
    /// The connection broke or the attempt ran past its time before an answer.
    Reset,
}

impl RetryPolicy {
    /// The policy of a route spec's `retryPolicy`, if it has one.
    fn of(policy: &Value) -> Option<RetryPolicy> {
        if !policy.is_object() {
            return None;
        }
        let events = |key: &str| -> Vec<String> {
            policy[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        };
        let mut on = Vec::new();
        for event in events("httpRetryEvents") {
            on.extend(match event.as_str() {
                "server-error" => Some(RetryOn::ServerError),
                "gateway-error" => Some(RetryOn::GatewayError),
                "client-error" => Some(RetryOn::ClientError),
                "stream-error" => Some(RetryOn::StreamError),
                _ => None,
            });
        }
        if !events("tcpRetryEvents").is_empty() {
            on.push(RetryOn::ConnectionError);
        }
        for event in events("grpcRetryEvents") {
            on.extend(match event.as_str() {
                "cancelled" => Some(RetryOn::GrpcStatus(1)),
                "deadline-exceeded" => Some(RetryOn::GrpcStatus(4)),
                "resource-exhausted" => Some(RetryOn::GrpcStatus(8)),
                "internal" => Some(RetryOn::GrpcStatus(13)),
                "unavailable" => Some(RetryOn::GrpcStatus(14)),
                _ => None,
            });
        }
        Some(RetryPolicy {
            max_retries: u32::try_from(policy["maxRetries"].as_u64()?).unwrap_or(u32::MAX),
            per_try: duration(&policy["perRetryTimeout"])?,
            on,
        })
    }

    /// Whether an attempt that ended so is tried again (retries left permitting).
    pub fn retries(&self, attempt: Attempt) -> bool {
        self.on.iter().any(|on| match (on, attempt) {
            (
                RetryOn::ServerError | RetryOn::GatewayError | RetryOn::StreamError,
                Attempt::Reset,
            ) => true,
            (RetryOn::ConnectionError, Attempt::ConnectFailed) => true,
            (RetryOn::ServerError, Attempt::Answered { status, .. }) => status >= 500,
            (RetryOn::GatewayError, Attempt::Answered { status, .. }) => {
                matches!(status, 502..=504)
            }
            (RetryOn::ClientError, Attempt::Answered { status, .. }) => status == 409,
            (RetryOn::GrpcStatus(code), Attempt::Answered { grpc, .. }) => grpc == Some(*code),
            _ => false,
        })
    }

    /// The wait before retry `n` (1 for the first).
    pub fn backoff(n: u32) -> Duration {
        RETRY_BASE
            .saturating_mul(1 << n.saturating_sub(1).min(8))
            .min(RETRY_BASE * 10)
    }
}

/// A `Duration` of the model (`{"unit": "ms"|"s", "value": n}`).
fn duration(d: &Value) -> Option<Duration> {
    let value = d["value"].as_u64()?;
    match d["unit"].as_str() {
        Some("ms") => Some(Duration::from_millis(value)),
        Some("s") => Some(Duration::from_secs(value)),
        _ => None,
    }
}

/// The spec field of the routes a router listener of `protocol` serves.
fn route_kind(protocol: &str) -> Option<&'static str> {
    match protocol {
        "http" => Some("httpRoute"),
        "http2" => Some("http2Route"),
        "grpc" => Some("grpcRoute"),
        "tcp" => Some("tcpRoute"),
        _ => None,
    }
}

/// The route of a router (its listener's `protocol`, its `routes`) that takes `req`, as its
/// gateway forwards it (rewritten path and Host; `listener_port` the router's); `None` when
/// none matches (Envoy answers 404).
pub fn take(routes: &[StoredRoute], protocol: &str, req: &Incoming) -> Option<Taken> {
    let kind = route_kind(protocol)?;
    let (path, query) = routing::path_and_query(req);
    let (stored, r) = routing::Table::new(routes, kind).first(req, &path, query)?;
    let targets = r["action"]["weightedTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["virtualNode"].as_str()?.to_string(),
                t["weight"].as_u64()?,
            ))
        })
        .collect();
    Some(Taken {
        route: stored.name.clone(),
        targets,
        per_request: duration(&r["timeout"]["perRequest"]).unwrap_or(DEFAULT_PER_REQUEST),
        retry: RetryPolicy::of(&r["retryPolicy"]),
    })
}

/// The target a `roll` (uniform over `u64`) picks, each with a share of its weight over the
/// weights' sum, as Envoy's weighted clusters pick; `None` if every weight is 0.
pub fn pick(targets: &[(String, u64)], roll: u64) -> Option<&str> {
    let total: u64 = targets.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut at = roll % total;
    targets.iter().find_map(|(node, weight)| {
        if at < *weight {
            Some(node.as_str())
        } else {
            at -= weight;
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::Protocol;

    fn stored(name: &str, spec: Value) -> StoredRoute {
        StoredRoute {
            name: name.into(),
            spec,
            created_at: 1.0,
        }
    }

    fn http(m: Value, targets: Value) -> Value {
        json!({ "httpRoute": { "match": m, "action": { "weightedTargets": targets } } })
    }

    fn get<'a>(path: &'a str, headers: &'a [(String, String)]) -> Incoming<'a> {
        Incoming {
            method: "GET",
            path_and_query: path,
            authority: Some("web.apps.local"),
            headers,
            listener_port: 8080,
            protocol: Protocol::Http,
        }
    }

    fn one(node: &str) -> Value {
        json!([{ "virtualNode": node, "weight": 1 }])
    }

    #[test]
    fn a_router_takes_its_routes_in_the_gateways_order_on_the_rewritten_request() {
        let canary = [("x-canary".to_string(), "yes".to_string())];
        let routes = [
            stored("all", http(json!({ "prefix": "/" }), one("blue"))),
            stored("api", http(json!({ "prefix": "/api/" }), one("api"))),
            stored(
                "canary",
                http(
                    json!({ "prefix": "/", "headers": [{ "name": "x-canary",
                        "match": { "exact": "yes" } }] }),
                    one("green"),
                ),
            ),
            stored(
                "secure",
                http(json!({ "prefix": "/", "scheme": "https" }), one("tls")),
            ),
        ];
        let taken = |path: &str, headers: &[(String, String)]| {
            take(&routes, "http", &get(path, headers)).map(|t| t.targets[0].0.clone())
        };
        // The longer prefix first; equal prefixes by age, then name: "all" before "canary".
        assert_eq!(taken("/api/x", &[]).as_deref(), Some("api"));
        assert_eq!(taken("/x", &[]).as_deref(), Some("blue"));
        assert_eq!(taken("/x", &canary).as_deref(), Some("blue"));
        let prioritised = {
            let mut routes = routes.to_vec();
            routes[2].spec["priority"] = json!(0);
            routes
        };
        let first = take(&prioritised, "http", &get("/x", &canary)).unwrap();
        assert_eq!(first.route, "canary");
        // A router whose listener is http2 takes only its http2Routes.
        assert_eq!(take(&routes, "http2", &get("/x", &[])), None);
        // Nothing matches: none.
        assert_eq!(
            take(&routes[1..2], "http", &get("/other", &[])),
            None,
            "no route for /other"
        );
    }

    #[test]
    fn timeouts_default_to_fifteen_seconds_and_retry_policies_read_as_envoy_applies_them() {
        let mut spec = http(json!({ "prefix": "/" }), one("blue"));
        let plain = take(&[stored("r", spec.clone())], "http", &get("/", &[])).unwrap();
        assert_eq!(
            (plain.per_request, plain.retry),
            (DEFAULT_PER_REQUEST, None)
        );
        spec["httpRoute"]["timeout"] = json!({ "perRequest": { "unit": "ms", "value": 250 } });
        spec["httpRoute"]["retryPolicy"] = json!({ "maxRetries": 2,
            "perRetryTimeout": { "unit": "s", "value": 1 },
            "httpRetryEvents": ["gateway-error"], "tcpRetryEvents": ["connection-error"] });
        let taken = take(&[stored("r", spec)], "http", &get("/", &[])).unwrap();
        assert_eq!(taken.per_request, Duration::from_millis(250));
        let policy = taken.retry.unwrap();
        assert_eq!(
            (policy.max_retries, policy.per_try),
            (2, Duration::from_secs(1))
        );
        let answered = |status| Attempt::Answered { status, grpc: None };
        // (attempt, retried)
        let rows = [
            (answered(503), true),
            (answered(504), true),
            (answered(500), false),
            (answered(409), false),
            (answered(200), false),
            (Attempt::ConnectFailed, true),
            (Attempt::Reset, true),
        ];
        for (attempt, retried) in rows {
            assert_eq!(policy.retries(attempt), retried, "{attempt:?}");
        }
        let grpc = RetryPolicy::of(&json!({ "maxRetries": 1,
            "perRetryTimeout": { "unit": "ms", "value": 10 },
            "grpcRetryEvents": ["unavailable"] }))
        .unwrap();
        assert!(grpc.retries(Attempt::Answered {
            status: 200,
            grpc: Some(14)
        }));
        assert!(!grpc.retries(Attempt::Answered {
            status: 200,
            grpc: Some(13)
        }));
        assert_eq!(
            (1..=6).map(RetryPolicy::backoff).collect::<Vec<_>>(),
            [25, 50, 100, 200, 250, 250].map(Duration::from_millis)
        );
    }

    #[test]
    fn grpc_routes_may_name_the_method_and_tcp_routes_take_everything_on_their_port() {
        let grpc = json!({ "grpcRoute": { "match": { "serviceName": "shop.Cart",
            "methodName": "Add" }, "action": { "weightedTargets": one("cart") } } });
        let call = |path| Incoming {
            protocol: Protocol::Grpc,
            ..get(path, &[])
        };
        let routes = [stored("g", grpc)];
        assert!(take(&routes, "grpc", &call("/shop.Cart/Add")).is_some());
        assert!(take(&routes, "grpc", &call("/shop.Cart/Remove")).is_none());
        let tcp = json!({ "tcpRoute": { "match": { "port": 8080 },
            "action": { "weightedTargets": one("db") } } });
        let routes = [stored("t", tcp)];
        assert!(take(&routes, "tcp", &get("/anything", &[])).is_some());
        let elsewhere = Incoming {
            listener_port: 9090,
            ..get("/", &[])
        };
        assert!(take(&routes, "tcp", &elsewhere).is_none());
    }

    #[test]
    fn the_pick_gives_each_target_its_weights_share() {
        let targets = [("blue".to_string(), 90), ("green".to_string(), 10)];
        let mut green = 0;
        for roll in 0..10_000u64 {
            if pick(&targets, roll.wrapping_mul(0x9E37_79B9_7F4A_7C15)) == Some("green") {
                green += 1;
            }
        }
        assert!((900..=1100).contains(&green), "{green} of 10 000 to green");
        assert_eq!(pick(&targets, 89), Some("blue"));
        assert_eq!(pick(&targets, 90), Some("green"));
        let zero = [("blue".to_string(), 0)];
        assert_eq!(pick(&zero, 7), None);
        let with_zero = [("off".to_string(), 0), ("on".to_string(), 5)];
        assert_eq!(pick(&with_zero, 0), Some("on"));
    }
}
