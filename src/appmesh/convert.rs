//! GatewayRoute spec <-> `aws_sdk_appmesh` types, both ways, and the normalised form that tells
//! real drift from what App Mesh fills in by itself.

use aws_sdk_appmesh::types as sdk;

use crate::api;

/// Why an App Mesh value could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// App Mesh answered with something newer than this meshroute knows (a new enum value or
    /// union member); upgrading meshroute is the fix.
    #[error("App Mesh returned {0}, which this meshroute version does not know; upgrade meshroute")]
    Unknown(String),
    /// The SDK refused to build a request value (a required field was missing).
    #[error("cannot build the App Mesh request: {0}")]
    Build(#[from] aws_sdk_appmesh::error::BuildError),
}

/// The part of a GatewayRoute spec that App Mesh stores as the route's own spec.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteSpec {
    pub priority: Option<i32>,
    pub grpc_route: Option<api::GrpcGatewayRoute>,
    pub http_route: Option<api::HttpGatewayRoute>,
    pub http2_route: Option<api::HttpGatewayRoute>,
}

impl RouteSpec {
    /// The App Mesh part of a GatewayRoute's spec.
    pub fn of(spec: &api::GatewayRouteSpec) -> Self {
        RouteSpec {
            priority: spec.priority,
            grpc_route: spec.grpc_route.clone(),
            http_route: spec.http_route.clone(),
            http2_route: spec.http2_route.clone(),
        }
    }

    /// The route's target virtual service.
    pub fn target(&self) -> &str {
        self.grpc_route
            .as_ref()
            .map(|r| &r.action.target)
            .or(self.http_route.as_ref().map(|r| &r.action.target))
            .or(self.http2_route.as_ref().map(|r| &r.action.target))
            .map(|t| t.virtual_service.virtual_service_name.as_str())
            .unwrap_or_default()
    }

    /// The same route with App Mesh's implicit defaults made explicit-absent, so two specs that
    /// App Mesh treats alike compare equal: `invert: false` is no invert, a host name rewrite
    /// of `ENABLED` is App Mesh's default, and empty rewrite or match objects are absent.
    pub fn normalized(mut self) -> Self {
        for http in [&mut self.http_route, &mut self.http2_route]
            .into_iter()
            .flatten()
        {
            let m = &mut http.route_match;
            for h in m.headers.iter_mut().flatten() {
                normalize_invert(&mut h.invert);
            }
            for q in m.query_parameters.iter_mut().flatten() {
                if q.value_match.as_ref().is_some_and(|v| v.exact.is_none()) {
                    q.value_match = None;
                }
            }
            if let Some(rw) = &mut http.action.rewrite {
                normalize_hostname_rewrite(&mut rw.hostname);
                if rw.path.as_ref().is_some_and(|p| p.exact.is_none()) {
                    rw.path = None;
                }
                if rw.hostname.is_none() && rw.path.is_none() && rw.prefix.is_none() {
                    http.action.rewrite = None;
                }
            }
        }
        if let Some(grpc) = &mut self.grpc_route {
            for md in grpc.route_match.metadata.iter_mut().flatten() {
                normalize_invert(&mut md.invert);
            }
            if let Some(rw) = &mut grpc.action.rewrite {
                normalize_hostname_rewrite(&mut rw.hostname);
                if rw.hostname.is_none() {
                    grpc.action.rewrite = None;
                }
            }
        }
        self
    }

    /// Whether App Mesh's `observed` spec already is this one, ignoring what App Mesh fills in.
    pub fn matches(&self, observed: &RouteSpec) -> bool {
        self.clone().normalized() == observed.clone().normalized()
    }
}

fn normalize_invert(invert: &mut Option<bool>) {
    if *invert == Some(false) {
        *invert = None;
    }
}

fn normalize_hostname_rewrite(hostname: &mut Option<api::GatewayRouteHostnameRewrite>) {
    if hostname.as_ref().is_some_and(|h| {
        h.default_target_hostname.is_none()
            || h.default_target_hostname == Some(api::EnabledDisabled::Enabled)
    }) {
        *hostname = None;
    }
}

// --- to the SDK ----------------------------------------------------------------------------

/// The App Mesh request spec for a route.
pub fn to_sdk(spec: &RouteSpec) -> Result<sdk::GatewayRouteSpec, ConversionError> {
    Ok(sdk::GatewayRouteSpec::builder()
        .set_priority(spec.priority)
        .set_grpc_route(spec.grpc_route.as_ref().map(grpc_to_sdk).transpose()?)
        .set_http_route(spec.http_route.as_ref().map(http_to_sdk).transpose()?)
        .set_http2_route(spec.http2_route.as_ref().map(http_to_sdk).transpose()?)
        .build())
}

/// The App Mesh tags for the user's tags (ownership tags are added by the reconciler).
pub fn tags_to_sdk(tags: &[api::Tag]) -> Result<Vec<sdk::TagRef>, ConversionError> {
    tags.iter()
        .map(|t| Ok(sdk::TagRef::builder().key(&t.key).value(&t.value).build()?))
        .collect()
}

fn http_to_sdk(r: &api::HttpGatewayRoute) -> Result<sdk::HttpGatewayRoute, ConversionError> {
    let m = &r.route_match;
    let route_match = sdk::HttpGatewayRouteMatch::builder()
        .set_prefix(m.prefix.clone())
        .set_path(m.path.as_ref().map(|p| {
            sdk::HttpPathMatch::builder()
                .set_exact(p.exact.clone())
                .set_regex(p.regex.clone())
                .build()
        }))
        .set_hostname(m.hostname.as_ref().map(hostname_match_to_sdk))
        .set_method(m.method.map(|v| sdk::HttpMethod::from(method_name(v))))
        .set_headers(
            m.headers
                .as_ref()
                .map(|hs| hs.iter().map(header_to_sdk).collect::<Result<Vec<_>, _>>())
                .transpose()?,
        )
        .set_query_parameters(
            m.query_parameters
                .as_ref()
                .map(|qs| {
                    qs.iter()
                        .map(|q| {
                            Ok::<_, ConversionError>(
                                sdk::HttpQueryParameter::builder()
                                    .name(&q.name)
                                    .set_match(q.value_match.as_ref().map(|v| {
                                        sdk::QueryParameterMatch::builder()
                                            .set_exact(v.exact.clone())
                                            .build()
                                    }))
                                    .build()?,
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
        )
        .set_port(m.port)
        .build();
    let rewrite = r.action.rewrite.as_ref().map(|rw| {
        sdk::HttpGatewayRouteRewrite::builder()
            .set_hostname(rw.hostname.as_ref().map(hostname_rewrite_to_sdk))
            .set_path(rw.path.as_ref().map(|p| {
                sdk::HttpGatewayRoutePathRewrite::builder()
                    .set_exact(p.exact.clone())
                    .build()
            }))
            .set_prefix(rw.prefix.as_ref().map(|p| {
                sdk::HttpGatewayRoutePrefixRewrite::builder()
                    .set_default_prefix(p.default_prefix.map(enabled_to_sdk))
                    .set_value(p.value.clone())
                    .build()
            }))
            .build()
    });
    Ok(sdk::HttpGatewayRoute::builder()
        .r#match(route_match)
        .action(
            sdk::HttpGatewayRouteAction::builder()
                .target(target_to_sdk(&r.action.target)?)
                .set_rewrite(rewrite)
                .build(),
        )
        .build())
}

fn grpc_to_sdk(r: &api::GrpcGatewayRoute) -> Result<sdk::GrpcGatewayRoute, ConversionError> {
    let m = &r.route_match;
    let metadata = m
        .metadata
        .as_ref()
        .map(|ms| {
            ms.iter()
                .map(|md| {
                    Ok::<_, ConversionError>(
                        sdk::GrpcGatewayRouteMetadata::builder()
                            .name(&md.name)
                            .set_invert(md.invert)
                            .set_match(
                                md.value_match
                                    .as_ref()
                                    .map(value_match_to_sdk)
                                    .transpose()?
                                    .map(|v| match v {
                                        ValueMatch::Exact(s) => {
                                            sdk::GrpcMetadataMatchMethod::Exact(s)
                                        }
                                        ValueMatch::Prefix(s) => {
                                            sdk::GrpcMetadataMatchMethod::Prefix(s)
                                        }
                                        ValueMatch::Suffix(s) => {
                                            sdk::GrpcMetadataMatchMethod::Suffix(s)
                                        }
                                        ValueMatch::Regex(s) => {
                                            sdk::GrpcMetadataMatchMethod::Regex(s)
                                        }
                                        ValueMatch::Range(r) => {
                                            sdk::GrpcMetadataMatchMethod::Range(r)
                                        }
                                    }),
                            )
                            .build()?,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(sdk::GrpcGatewayRoute::builder()
        .r#match(
            sdk::GrpcGatewayRouteMatch::builder()
                .set_service_name(m.service_name.clone())
                .set_hostname(m.hostname.as_ref().map(hostname_match_to_sdk))
                .set_metadata(metadata)
                .set_port(m.port)
                .build(),
        )
        .action(
            sdk::GrpcGatewayRouteAction::builder()
                .target(target_to_sdk(&r.action.target)?)
                .set_rewrite(r.action.rewrite.as_ref().map(|rw| {
                    sdk::GrpcGatewayRouteRewrite::builder()
                        .set_hostname(rw.hostname.as_ref().map(hostname_rewrite_to_sdk))
                        .build()
                }))
                .build(),
        )
        .build())
}

/// A header or metadata match, before it becomes the SDK's header or gRPC enum.
enum ValueMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Regex(String),
    Range(sdk::MatchRange),
}

fn value_match_to_sdk(m: &api::HeaderMatchMethod) -> Result<ValueMatch, ConversionError> {
    Ok(match m {
        api::HeaderMatchMethod { exact: Some(s), .. } => ValueMatch::Exact(s.clone()),
        api::HeaderMatchMethod {
            prefix: Some(s), ..
        } => ValueMatch::Prefix(s.clone()),
        api::HeaderMatchMethod {
            suffix: Some(s), ..
        } => ValueMatch::Suffix(s.clone()),
        api::HeaderMatchMethod { regex: Some(s), .. } => ValueMatch::Regex(s.clone()),
        api::HeaderMatchMethod { range: Some(r), .. } => ValueMatch::Range(
            sdk::MatchRange::builder()
                .start(r.start)
                .end(r.end)
                .build()?,
        ),
        // The CRD's CEL rule makes exactly one member set; an empty one can only come from a
        // client that skipped admission, and App Mesh would refuse it the same way.
        _ => {
            return Err(ConversionError::Unknown(
                "a header match with no member set".into(),
            ));
        }
    })
}

fn header_to_sdk(
    h: &api::HttpGatewayRouteHeader,
) -> Result<sdk::HttpGatewayRouteHeader, ConversionError> {
    let value = h.value_match.as_ref().map(value_match_to_sdk).transpose()?;
    Ok(sdk::HttpGatewayRouteHeader::builder()
        .name(&h.name)
        .set_invert(h.invert)
        .set_match(value.map(|v| match v {
            ValueMatch::Exact(s) => sdk::HeaderMatchMethod::Exact(s),
            ValueMatch::Prefix(s) => sdk::HeaderMatchMethod::Prefix(s),
            ValueMatch::Suffix(s) => sdk::HeaderMatchMethod::Suffix(s),
            ValueMatch::Regex(s) => sdk::HeaderMatchMethod::Regex(s),
            ValueMatch::Range(r) => sdk::HeaderMatchMethod::Range(r),
        }))
        .build()?)
}

fn hostname_match_to_sdk(h: &api::GatewayRouteHostnameMatch) -> sdk::GatewayRouteHostnameMatch {
    sdk::GatewayRouteHostnameMatch::builder()
        .set_exact(h.exact.clone())
        .set_suffix(h.suffix.clone())
        .build()
}

fn hostname_rewrite_to_sdk(
    h: &api::GatewayRouteHostnameRewrite,
) -> sdk::GatewayRouteHostnameRewrite {
    sdk::GatewayRouteHostnameRewrite::builder()
        .set_default_target_hostname(h.default_target_hostname.map(enabled_to_sdk))
        .build()
}

fn target_to_sdk(t: &api::GatewayRouteTarget) -> Result<sdk::GatewayRouteTarget, ConversionError> {
    Ok(sdk::GatewayRouteTarget::builder()
        .virtual_service(
            sdk::GatewayRouteVirtualService::builder()
                .virtual_service_name(&t.virtual_service.virtual_service_name)
                .build()?,
        )
        .set_port(t.port)
        .build())
}

fn enabled_to_sdk(v: api::EnabledDisabled) -> sdk::DefaultGatewayRouteRewrite {
    match v {
        api::EnabledDisabled::Enabled => sdk::DefaultGatewayRouteRewrite::Enabled,
        api::EnabledDisabled::Disabled => sdk::DefaultGatewayRouteRewrite::Disabled,
    }
}

fn method_name(m: api::HttpMethod) -> &'static str {
    use api::HttpMethod::*;
    match m {
        GET => "GET",
        HEAD => "HEAD",
        POST => "POST",
        PUT => "PUT",
        DELETE => "DELETE",
        CONNECT => "CONNECT",
        OPTIONS => "OPTIONS",
        TRACE => "TRACE",
        PATCH => "PATCH",
    }
}

// --- from the SDK --------------------------------------------------------------------------

/// What App Mesh reports as a route's spec, in the CRD's terms.
pub fn from_sdk(spec: &sdk::GatewayRouteSpec) -> Result<RouteSpec, ConversionError> {
    Ok(RouteSpec {
        priority: spec.priority,
        grpc_route: spec.grpc_route.as_ref().map(grpc_from_sdk).transpose()?,
        http_route: spec.http_route.as_ref().map(http_from_sdk).transpose()?,
        http2_route: spec.http2_route.as_ref().map(http_from_sdk).transpose()?,
    })
}

/// A route's tags as App Mesh lists them, ownership tags included.
pub fn tags_from_sdk(tags: Vec<sdk::TagRef>) -> Vec<api::Tag> {
    tags.into_iter()
        .map(|t| api::Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

fn missing(what: &str) -> ConversionError {
    ConversionError::Unknown(format!("a gateway route without {what}"))
}

fn http_from_sdk(r: &sdk::HttpGatewayRoute) -> Result<api::HttpGatewayRoute, ConversionError> {
    let m = r.r#match.as_ref().ok_or_else(|| missing("a match"))?;
    let action = r.action.as_ref().ok_or_else(|| missing("an action"))?;
    let headers = m
        .headers
        .as_ref()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    Ok(api::HttpGatewayRouteHeader {
                        name: h.name.clone(),
                        invert: h.invert,
                        value_match: h.r#match.as_ref().map(header_match_from_sdk).transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, ConversionError>>()
        })
        .transpose()?;
    Ok(api::HttpGatewayRoute {
        route_match: api::HttpGatewayRouteMatch {
            prefix: m.prefix.clone(),
            path: m.path.as_ref().map(|p| api::HttpPathMatch {
                exact: p.exact.clone(),
                regex: p.regex.clone(),
            }),
            hostname: m.hostname.as_ref().map(hostname_match_from_sdk),
            method: m.method.as_ref().map(method_from_sdk).transpose()?,
            headers,
            query_parameters: m.query_parameters.as_ref().map(|qs| {
                qs.iter()
                    .map(|q| api::HttpQueryParameter {
                        name: q.name.clone(),
                        value_match: q.r#match.as_ref().map(|v| api::QueryParameterMatch {
                            exact: v.exact.clone(),
                        }),
                    })
                    .collect()
            }),
            port: m.port,
        },
        action: api::HttpGatewayRouteAction {
            target: target_from_sdk(action.target.as_ref())?,
            rewrite: action
                .rewrite
                .as_ref()
                .map(|rw| {
                    Ok::<_, ConversionError>(api::HttpGatewayRouteRewrite {
                        hostname: rw
                            .hostname
                            .as_ref()
                            .map(hostname_rewrite_from_sdk)
                            .transpose()?,
                        path: rw.path.as_ref().map(|p| api::HttpGatewayRoutePathRewrite {
                            exact: p.exact.clone(),
                        }),
                        prefix: rw
                            .prefix
                            .as_ref()
                            .map(|p| {
                                Ok::<_, ConversionError>(api::HttpGatewayRoutePrefixRewrite {
                                    default_prefix: p
                                        .default_prefix
                                        .as_ref()
                                        .map(enabled_from_sdk)
                                        .transpose()?,
                                    value: p.value.clone(),
                                })
                            })
                            .transpose()?,
                    })
                })
                .transpose()?,
        },
    })
}

fn grpc_from_sdk(r: &sdk::GrpcGatewayRoute) -> Result<api::GrpcGatewayRoute, ConversionError> {
    let m = r.r#match.as_ref().ok_or_else(|| missing("a match"))?;
    let action = r.action.as_ref().ok_or_else(|| missing("an action"))?;
    let metadata = m
        .metadata
        .as_ref()
        .map(|ms| {
            ms.iter()
                .map(|md| {
                    Ok(api::GrpcGatewayRouteMetadata {
                        name: md.name.clone(),
                        invert: md.invert,
                        value_match: md
                            .r#match
                            .as_ref()
                            .map(metadata_match_from_sdk)
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, ConversionError>>()
        })
        .transpose()?;
    Ok(api::GrpcGatewayRoute {
        route_match: api::GrpcGatewayRouteMatch {
            service_name: m.service_name.clone(),
            hostname: m.hostname.as_ref().map(hostname_match_from_sdk),
            metadata,
            port: m.port,
        },
        action: api::GrpcGatewayRouteAction {
            target: target_from_sdk(action.target.as_ref())?,
            rewrite: action
                .rewrite
                .as_ref()
                .map(|rw| {
                    Ok::<_, ConversionError>(api::GrpcGatewayRouteRewrite {
                        hostname: rw
                            .hostname
                            .as_ref()
                            .map(hostname_rewrite_from_sdk)
                            .transpose()?,
                    })
                })
                .transpose()?,
        },
    })
}

pub(super) fn range_from_sdk(r: &sdk::MatchRange) -> api::MatchRange {
    api::MatchRange {
        start: r.start,
        end: r.end,
    }
}

pub(super) fn header_match_from_sdk(
    m: &sdk::HeaderMatchMethod,
) -> Result<api::HeaderMatchMethod, ConversionError> {
    let mut out = api::HeaderMatchMethod::default();
    match m {
        sdk::HeaderMatchMethod::Exact(s) => out.exact = Some(s.clone()),
        sdk::HeaderMatchMethod::Prefix(s) => out.prefix = Some(s.clone()),
        sdk::HeaderMatchMethod::Suffix(s) => out.suffix = Some(s.clone()),
        sdk::HeaderMatchMethod::Regex(s) => out.regex = Some(s.clone()),
        sdk::HeaderMatchMethod::Range(r) => out.range = Some(range_from_sdk(r)),
        other => return Err(ConversionError::Unknown(format!("header match {other:?}"))),
    }
    Ok(out)
}

fn metadata_match_from_sdk(
    m: &sdk::GrpcMetadataMatchMethod,
) -> Result<api::HeaderMatchMethod, ConversionError> {
    let mut out = api::HeaderMatchMethod::default();
    match m {
        sdk::GrpcMetadataMatchMethod::Exact(s) => out.exact = Some(s.clone()),
        sdk::GrpcMetadataMatchMethod::Prefix(s) => out.prefix = Some(s.clone()),
        sdk::GrpcMetadataMatchMethod::Suffix(s) => out.suffix = Some(s.clone()),
        sdk::GrpcMetadataMatchMethod::Regex(s) => out.regex = Some(s.clone()),
        sdk::GrpcMetadataMatchMethod::Range(r) => out.range = Some(range_from_sdk(r)),
        other => {
            return Err(ConversionError::Unknown(format!(
                "metadata match {other:?}"
            )));
        }
    }
    Ok(out)
}

fn hostname_match_from_sdk(h: &sdk::GatewayRouteHostnameMatch) -> api::GatewayRouteHostnameMatch {
    api::GatewayRouteHostnameMatch {
        exact: h.exact.clone(),
        suffix: h.suffix.clone(),
    }
}

fn hostname_rewrite_from_sdk(
    h: &sdk::GatewayRouteHostnameRewrite,
) -> Result<api::GatewayRouteHostnameRewrite, ConversionError> {
    Ok(api::GatewayRouteHostnameRewrite {
        default_target_hostname: h
            .default_target_hostname
            .as_ref()
            .map(enabled_from_sdk)
            .transpose()?,
    })
}

fn target_from_sdk(
    t: Option<&sdk::GatewayRouteTarget>,
) -> Result<api::GatewayRouteTarget, ConversionError> {
    let t = t.ok_or_else(|| missing("a target"))?;
    let vs = t
        .virtual_service
        .as_ref()
        .ok_or_else(|| missing("a target virtual service"))?;
    Ok(api::GatewayRouteTarget {
        virtual_service: api::GatewayRouteVirtualService {
            virtual_service_name: vs.virtual_service_name.clone(),
        },
        port: t.port,
    })
}

fn enabled_from_sdk(
    v: &sdk::DefaultGatewayRouteRewrite,
) -> Result<api::EnabledDisabled, ConversionError> {
    match v {
        sdk::DefaultGatewayRouteRewrite::Enabled => Ok(api::EnabledDisabled::Enabled),
        sdk::DefaultGatewayRouteRewrite::Disabled => Ok(api::EnabledDisabled::Disabled),
        other => Err(ConversionError::Unknown(format!(
            "rewrite setting {other:?}"
        ))),
    }
}

pub(super) fn method_from_sdk(m: &sdk::HttpMethod) -> Result<api::HttpMethod, ConversionError> {
    use api::HttpMethod::*;
    Ok(match m.as_str() {
        "GET" => GET,
        "HEAD" => HEAD,
        "POST" => POST,
        "PUT" => PUT,
        "DELETE" => DELETE,
        "CONNECT" => CONNECT,
        "OPTIONS" => OPTIONS,
        "TRACE" => TRACE,
        "PATCH" => PATCH,
        other => return Err(ConversionError::Unknown(format!("HTTP method {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::*;
    use proptest::collection::vec;
    use proptest::option::of;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9.-]{0,16}"
    }
    fn path() -> impl Strategy<Value = String> {
        "/[a-z0-9/]{0,16}"
    }
    fn port() -> impl Strategy<Value = i32> {
        1..=65535i32
    }
    fn enabled() -> impl Strategy<Value = EnabledDisabled> {
        prop_oneof![
            Just(EnabledDisabled::Enabled),
            Just(EnabledDisabled::Disabled)
        ]
    }
    fn method() -> impl Strategy<Value = HttpMethod> {
        use HttpMethod::*;
        prop::sample::select(vec![
            GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH,
        ])
    }
    fn value_match() -> impl Strategy<Value = HeaderMatchMethod> {
        let d = HeaderMatchMethod::default;
        prop_oneof![
            text().prop_map(move |s| HeaderMatchMethod {
                exact: Some(s),
                ..d()
            }),
            text().prop_map(move |s| HeaderMatchMethod {
                prefix: Some(s),
                ..d()
            }),
            text().prop_map(move |s| HeaderMatchMethod {
                suffix: Some(s),
                ..d()
            }),
            text().prop_map(move |s| HeaderMatchMethod {
                regex: Some(s),
                ..d()
            }),
            (any::<i32>(), 1..1_000i64).prop_map(move |(start, len)| HeaderMatchMethod {
                range: Some(MatchRange {
                    start: start.into(),
                    end: i64::from(start) + len
                }),
                ..d()
            }),
        ]
    }
    fn hostname_match() -> impl Strategy<Value = GatewayRouteHostnameMatch> {
        prop_oneof![
            text().prop_map(|s| GatewayRouteHostnameMatch {
                exact: Some(s),
                suffix: None
            }),
            text().prop_map(|s| GatewayRouteHostnameMatch {
                exact: None,
                suffix: Some(s)
            }),
        ]
    }
    fn hostname_rewrite() -> impl Strategy<Value = GatewayRouteHostnameRewrite> {
        of(enabled()).prop_map(|default_target_hostname| GatewayRouteHostnameRewrite {
            default_target_hostname,
        })
    }
    fn target() -> impl Strategy<Value = GatewayRouteTarget> {
        (text(), of(port())).prop_map(|(name, port)| GatewayRouteTarget {
            virtual_service: GatewayRouteVirtualService {
                virtual_service_name: name,
            },
            port,
        })
    }
    fn http_route() -> impl Strategy<Value = HttpGatewayRoute> {
        let header = (text(), of(any::<bool>()), of(value_match())).prop_map(
            |(name, invert, value_match)| HttpGatewayRouteHeader {
                name,
                invert,
                value_match,
            },
        );
        let query = (text(), of(of(text()))).prop_map(|(name, m)| HttpQueryParameter {
            name,
            value_match: m.map(|exact| QueryParameterMatch { exact }),
        });
        let by_path = prop_oneof![
            path().prop_map(|p| (Some(p), None)),
            prop_oneof![
                path().prop_map(|p| HttpPathMatch {
                    exact: Some(p),
                    regex: None
                }),
                text().prop_map(|r| HttpPathMatch {
                    exact: None,
                    regex: Some(r)
                }),
            ]
            .prop_map(|p| (None, Some(p))),
        ];
        let route_match = (
            by_path,
            of(hostname_match()),
            of(method()),
            of(vec(header, 1..4)),
            of(vec(query, 1..4)),
            of(port()),
        )
            .prop_map(
                |((prefix, path), hostname, method, headers, query_parameters, port)| {
                    HttpGatewayRouteMatch {
                        prefix,
                        path,
                        hostname,
                        method,
                        headers,
                        query_parameters,
                        port,
                    }
                },
            );
        let rewrite = (
            of(hostname_rewrite()),
            of(of(path()).prop_map(|exact| HttpGatewayRoutePathRewrite { exact })),
            of(prop_oneof![
                enabled().prop_map(|e| HttpGatewayRoutePrefixRewrite {
                    default_prefix: Some(e),
                    value: None
                }),
                path().prop_map(|v| HttpGatewayRoutePrefixRewrite {
                    default_prefix: None,
                    value: Some(v)
                }),
            ]),
        )
            .prop_map(|(hostname, path, prefix)| HttpGatewayRouteRewrite {
                hostname,
                path,
                prefix,
            });
        (route_match, target(), of(rewrite)).prop_map(|(route_match, target, rewrite)| {
            HttpGatewayRoute {
                route_match,
                action: HttpGatewayRouteAction { target, rewrite },
            }
        })
    }
    fn grpc_route() -> impl Strategy<Value = GrpcGatewayRoute> {
        let metadata = (text(), of(any::<bool>()), of(value_match())).prop_map(
            |(name, invert, value_match)| GrpcGatewayRouteMetadata {
                name,
                invert,
                value_match,
            },
        );
        let route_match = (
            of(text()),
            of(hostname_match()),
            of(vec(metadata, 1..4)),
            of(port()),
        )
            .prop_map(
                |(service_name, hostname, metadata, port)| GrpcGatewayRouteMatch {
                    service_name,
                    hostname,
                    metadata,
                    port,
                },
            );
        let rewrite =
            of(hostname_rewrite()).prop_map(|hostname| GrpcGatewayRouteRewrite { hostname });
        (route_match, target(), of(rewrite)).prop_map(|(route_match, target, rewrite)| {
            GrpcGatewayRoute {
                route_match,
                action: GrpcGatewayRouteAction { target, rewrite },
            }
        })
    }
    fn route_spec() -> impl Strategy<Value = RouteSpec> {
        let d = RouteSpec::default;
        (
            of(0..=1000i32),
            prop_oneof![
                grpc_route().prop_map(move |r| RouteSpec {
                    grpc_route: Some(r),
                    ..d()
                }),
                http_route().prop_map(move |r| RouteSpec {
                    http_route: Some(r),
                    ..d()
                }),
                http_route().prop_map(move |r| RouteSpec {
                    http2_route: Some(r),
                    ..d()
                }),
            ],
        )
            .prop_map(|(priority, spec)| RouteSpec { priority, ..spec })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn spec_to_sdk_and_back_is_lossless(spec in route_spec()) {
            let back = from_sdk(&to_sdk(&spec).unwrap()).unwrap();
            prop_assert_eq!(&back, &spec);
            prop_assert!(spec.matches(&back));
        }

        #[test]
        fn normalising_is_idempotent(spec in route_spec()) {
            let once = spec.clone().normalized();
            prop_assert_eq!(once.clone().normalized(), once);
        }

        #[test]
        fn a_new_target_is_drift(spec in route_spec()) {
            let mut other = spec.clone();
            for t in [
                other.grpc_route.as_mut().map(|r| &mut r.action.target),
                other.http_route.as_mut().map(|r| &mut r.action.target),
                other.http2_route.as_mut().map(|r| &mut r.action.target),
            ].into_iter().flatten() {
                t.virtual_service.virtual_service_name.push_str("-elsewhere");
            }
            prop_assert!(!spec.matches(&other));
        }

        #[test]
        fn tags_survive_the_trip(tags in vec((text(), "[ -~]{0,20}"), 0..10)) {
            let tags: Vec<Tag> = tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
            prop_assert_eq!(tags_from_sdk(tags_to_sdk(&tags).unwrap()), tags);
        }
    }

    #[test]
    fn what_app_mesh_fills_in_is_not_drift() {
        let mut desired = RouteSpec {
            http_route: Some(HttpGatewayRoute {
                route_match: HttpGatewayRouteMatch {
                    prefix: Some("/".into()),
                    headers: Some(vec![HttpGatewayRouteHeader {
                        name: "x-env".into(),
                        invert: None,
                        value_match: None,
                    }]),
                    ..Default::default()
                },
                action: HttpGatewayRouteAction {
                    target: GatewayRouteTarget {
                        virtual_service: GatewayRouteVirtualService {
                            virtual_service_name: "svc".into(),
                        },
                        port: None,
                    },
                    rewrite: None,
                },
            }),
            ..Default::default()
        };
        let mut observed = desired.clone();
        let route = observed.http_route.as_mut().unwrap();
        route.route_match.headers.as_mut().unwrap()[0].invert = Some(false);
        route.action.rewrite = Some(HttpGatewayRouteRewrite {
            hostname: Some(GatewayRouteHostnameRewrite {
                default_target_hostname: Some(EnabledDisabled::Enabled),
            }),
            ..Default::default()
        });
        assert!(
            desired.matches(&observed),
            "App Mesh defaults are not drift"
        );

        desired.http_route.as_mut().unwrap().action.rewrite = Some(HttpGatewayRouteRewrite {
            hostname: Some(GatewayRouteHostnameRewrite {
                default_target_hostname: Some(EnabledDisabled::Disabled),
            }),
            ..Default::default()
        });
        assert!(
            !desired.matches(&observed),
            "DISABLED differs from App Mesh's default"
        );
    }
}
