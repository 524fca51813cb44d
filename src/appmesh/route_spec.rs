//! What App Mesh reports as a virtual router's route, in the API's JSON terms (`RouteSpec`):
//! what `import` records of a router-backed virtual service, read by `export` as it reads the
//! same record from files. Matches share the gateway routes' conversions (`convert`).

use aws_sdk_appmesh::types as sdk;
use serde_json::{Map, Value, json};

use super::convert::{self, ConversionError};
use crate::api;

/// A virtual router's route spec as JSON, absent fields left out.
pub fn route_spec_from_sdk(spec: &sdk::RouteSpec) -> Result<Value, ConversionError> {
    let http = |r: &Option<sdk::HttpRoute>| r.as_ref().map(http_route).transpose();
    Ok(compact(json!({
        "priority": spec.priority,
        "httpRoute": http(&spec.http_route)?,
        "http2Route": http(&spec.http2_route)?,
        "grpcRoute": spec.grpc_route.as_ref().map(grpc_route).transpose()?,
        "tcpRoute": spec.tcp_route.as_ref().map(|r| json!({
            "match": r.r#match.as_ref().map(|m| json!({ "port": m.port })),
            "action": r.action.as_ref().map(|a| targets(&a.weighted_targets)),
            "timeout": r.timeout.as_ref().map(|t| json!({ "idle": t.idle.as_ref().map(duration) })),
        })),
    })))
}

fn http_route(r: &sdk::HttpRoute) -> Result<Value, ConversionError> {
    let m = r.r#match.as_ref();
    let headers = m
        .and_then(|m| m.headers.as_ref())
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    let matched = h
                        .r#match
                        .as_ref()
                        .map(convert::header_match_from_sdk)
                        .transpose()?;
                    Ok(json!({ "name": h.name, "invert": h.invert, "match": to_json(&matched) }))
                })
                .collect::<Result<Vec<_>, ConversionError>>()
        })
        .transpose()?;
    let method = m
        .and_then(|m| m.method.as_ref())
        .map(convert::method_from_sdk)
        .transpose()?;
    Ok(json!({
        "match": m.map(|m| json!({
            "prefix": m.prefix,
            "path": m.path.as_ref().map(|p| json!({ "exact": p.exact, "regex": p.regex })),
            "headers": headers,
            "method": to_json(&method),
            "scheme": m.scheme.as_ref().map(|s| s.as_str()),
            "queryParameters": m.query_parameters.as_ref().map(|qs| qs.iter().map(|q| json!({
                "name": q.name,
                "match": q.r#match.as_ref().map(|v| json!({ "exact": v.exact })),
            })).collect::<Vec<_>>()),
            "port": m.port,
        })),
        "action": r.action.as_ref().map(|a| targets(&a.weighted_targets)),
        "retryPolicy": r.retry_policy.as_ref().map(|p| retry(
            p.max_retries,
            p.per_retry_timeout.as_ref(),
            p.http_retry_events.as_ref(),
            p.tcp_retry_events.as_deref(),
        )),
        "timeout": r.timeout.as_ref().map(|t| timeout(t.per_request.as_ref(), t.idle.as_ref())),
    }))
}

fn grpc_route(r: &sdk::GrpcRoute) -> Result<Value, ConversionError> {
    let m = r.r#match.as_ref();
    let metadata = m
        .and_then(|m| m.metadata.as_ref())
        .map(|ms| {
            ms.iter()
                .map(|md| {
                    let matched = md.r#match.as_ref().map(metadata_match).transpose()?;
                    Ok(json!({ "name": md.name, "invert": md.invert, "match": to_json(&matched) }))
                })
                .collect::<Result<Vec<_>, ConversionError>>()
        })
        .transpose()?;
    Ok(json!({
        "match": m.map(|m| json!({
            "serviceName": m.service_name,
            "methodName": m.method_name,
            "metadata": metadata,
            "port": m.port,
        })),
        "action": r.action.as_ref().map(|a| targets(&a.weighted_targets)),
        "retryPolicy": r.retry_policy.as_ref().map(|p| {
            let mut policy = retry(
                p.max_retries,
                p.per_retry_timeout.as_ref(),
                p.http_retry_events.as_ref(),
                p.tcp_retry_events.as_deref(),
            );
            policy["grpcRetryEvents"] = json!(p.grpc_retry_events.as_ref()
                .map(|e| e.iter().map(|e| e.as_str()).collect::<Vec<_>>()));
            policy
        }),
        "timeout": r.timeout.as_ref().map(|t| timeout(t.per_request.as_ref(), t.idle.as_ref())),
    }))
}

/// A router route's gRPC metadata match (its own SDK type; the same members as a header's).
fn metadata_match(
    m: &sdk::GrpcRouteMetadataMatchMethod,
) -> Result<api::HeaderMatchMethod, ConversionError> {
    let mut out = api::HeaderMatchMethod::default();
    match m {
        sdk::GrpcRouteMetadataMatchMethod::Exact(s) => out.exact = Some(s.clone()),
        sdk::GrpcRouteMetadataMatchMethod::Prefix(s) => out.prefix = Some(s.clone()),
        sdk::GrpcRouteMetadataMatchMethod::Suffix(s) => out.suffix = Some(s.clone()),
        sdk::GrpcRouteMetadataMatchMethod::Regex(s) => out.regex = Some(s.clone()),
        sdk::GrpcRouteMetadataMatchMethod::Range(r) => out.range = Some(convert::range_from_sdk(r)),
        other => {
            return Err(ConversionError::Unknown(format!(
                "metadata match {other:?}"
            )));
        }
    }
    Ok(out)
}

fn targets(targets: &[sdk::WeightedTarget]) -> Value {
    json!({ "weightedTargets": targets.iter().map(|t| json!({
        "virtualNode": t.virtual_node, "weight": t.weight, "port": t.port,
    })).collect::<Vec<_>>() })
}

/// A retry policy's members common to HTTP and gRPC routes.
fn retry(
    max_retries: i64,
    per_retry: Option<&sdk::Duration>,
    http_events: Option<&Vec<String>>,
    tcp_events: Option<&[sdk::TcpRetryPolicyEvent]>,
) -> Value {
    json!({
        "maxRetries": max_retries,
        "perRetryTimeout": per_retry.map(duration),
        "httpRetryEvents": http_events,
        "tcpRetryEvents": tcp_events.map(|e| e.iter().map(|e| e.as_str()).collect::<Vec<_>>()),
    })
}

fn timeout(per_request: Option<&sdk::Duration>, idle: Option<&sdk::Duration>) -> Value {
    json!({ "perRequest": per_request.map(duration), "idle": idle.map(duration) })
}

fn duration(d: &sdk::Duration) -> Value {
    json!({ "unit": d.unit.as_ref().map(|u| u.as_str()), "value": d.value })
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `value` without its null members, at every depth.
fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_route_reads_back_as_the_api_wrote_it() {
        let duration = |value, unit: &str| {
            sdk::Duration::builder()
                .value(value)
                .unit(sdk::DurationUnit::from(unit))
                .build()
        };
        let target = |node: &str, weight| {
            sdk::WeightedTarget::builder()
                .virtual_node(node)
                .weight(weight)
                .build()
                .unwrap()
        };
        let spec = sdk::RouteSpec::builder()
            .priority(5)
            .http_route(
                sdk::HttpRoute::builder()
                    .r#match(
                        sdk::HttpRouteMatch::builder()
                            .prefix("/")
                            .headers(
                                sdk::HttpRouteHeader::builder()
                                    .name("x-canary")
                                    .r#match(sdk::HeaderMatchMethod::Exact("yes".into()))
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .action(
                        sdk::HttpRouteAction::builder()
                            .weighted_targets(target("blue", 90))
                            .weighted_targets(target("green", 10))
                            .build()
                            .unwrap(),
                    )
                    .retry_policy(
                        sdk::HttpRetryPolicy::builder()
                            .max_retries(2)
                            .per_retry_timeout(duration(250, "ms"))
                            .http_retry_events("gateway-error")
                            .build()
                            .unwrap(),
                    )
                    .timeout(
                        sdk::HttpTimeout::builder()
                            .per_request(duration(5, "s"))
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            route_spec_from_sdk(&spec).unwrap(),
            json!({ "priority": 5, "httpRoute": {
                "match": { "prefix": "/", "headers": [
                    { "name": "x-canary", "match": { "exact": "yes" } }] },
                "action": { "weightedTargets": [
                    { "virtualNode": "blue", "weight": 90 },
                    { "virtualNode": "green", "weight": 10 }] },
                "retryPolicy": { "maxRetries": 2,
                    "perRetryTimeout": { "unit": "ms", "value": 250 },
                    "httpRetryEvents": ["gateway-error"] },
                "timeout": { "perRequest": { "unit": "s", "value": 5 } } } })
        );
    }
}
