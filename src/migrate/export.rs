//! `meshroute export gateway-api`: Gateway API `HTTPRoute`s (http, http2) and `GRPCRoute`s
//! (grpc) that keep what an App Mesh gateway does with a request, not just its fields, and a
//! finding for everything Gateway API cannot say.
//!
//! App Mesh behaviour kept on purpose: a gateway rewrites the matched prefix to `/` and the Host
//! header to the target virtual service's name unless the route turns that off; both become an
//! explicit `URLRewrite` filter. The table in docs/migration.md lists every mapping row; each
//! row has a test below.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Error, object_name};
use crate::api::{
    EnabledDisabled, GatewayRoute, GatewayRouteHostnameMatch, GatewayRouteTarget, GrpcGatewayRoute,
    HeaderMatchMethod, HttpGatewayRoute,
};

/// `meshroute export gateway-api`: every flag.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Read the GatewayRoutes of this namespace (default: the kubeconfig context's).
    #[arg(long, short = 'n', conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Read the GatewayRoutes of every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Read GatewayRoutes from these files (YAML or JSON, several documents or a List; `-` is
    /// stdin) instead of the cluster. Objects without a namespace take -n's, or `default`.
    #[arg(long = "filename", short = 'f')]
    pub files: Vec<PathBuf>,
    /// Also print a Gateway of this GatewayClass for every virtual gateway the routes use.
    #[arg(long)]
    pub gateway_class: Option<String>,
    /// Port of each printed Gateway's HTTP listener.
    #[arg(long, default_value_t = 80)]
    pub gateway_port: i32,
    /// YAML or JSON file mapping virtual service names to Services:
    /// `my-vs.example: {name: web, namespace: shop, port: 8080}`. Without an entry, a name
    /// `<service>.<namespace>.svc.cluster.local` is taken as that Service.
    #[arg(long)]
    pub service_map: Option<PathBuf>,
    /// Service port of a backend when neither the route's target nor --service-map gives one.
    #[arg(long, default_value_t = 80)]
    pub backend_port: i32,
    /// Format of the findings report on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    /// Print nothing and fail when any finding drops a route or changes its behaviour.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// The Service a virtual service name stands for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Service {
    pub name: String,
    /// Default: the route's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
}

/// How to export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub gateway_class: Option<String>,
    pub gateway_port: i32,
    pub services: BTreeMap<String, Service>,
    pub backend_port: i32,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Impact {
    /// The route was not exported: emitting it would route traffic App Mesh does not.
    NotExported,
    /// The route was exported, and behaves differently in a way the finding names.
    Changed,
    /// The route was exported as App Mesh behaves, on an assumption or an optional
    /// Gateway API feature the implementation must support: check it.
    Check,
}

/// Something of one GatewayRoute that Gateway API does not say the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `namespace/name` of the GatewayRoute.
    pub object: String,
    /// The GatewayRoute field concerned.
    pub field: String,
    pub impact: Impact,
    pub problem: String,
    pub advice: String,
}

/// The objects to print and the findings to report.
#[derive(Debug, Default)]
pub struct Export {
    pub objects: Vec<Value>,
    pub findings: Vec<Finding>,
}

impl Export {
    /// Findings that drop a route or change its behaviour (what `--strict` refuses).
    pub fn losses(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.impact != Impact::Check)
            .count()
    }
}

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
/// Annotation on every exported object naming the GatewayRoute and App Mesh route it came from.
pub const SOURCE_ANNOTATION: &str = "meshroute.io/exported-from";

/// One GatewayRoute's findings as they are made.
struct Findings<'a> {
    object: String,
    found: &'a mut Vec<Finding>,
    dropped: bool,
}

impl Findings<'_> {
    fn note(&mut self, impact: Impact, field: &str, problem: String, advice: &str) {
        self.dropped |= impact == Impact::NotExported;
        self.found.push(Finding {
            object: self.object.clone(),
            field: field.to_string(),
            impact,
            problem,
            advice: advice.to_string(),
        });
    }
}

/// Gateway API's order of a route among others on the same gateway (higher first), used to
/// find App Mesh priorities that order routes differently.
type Precedence = (usize, bool, usize, bool, usize, usize);

struct Exported {
    gateway: (String, String),
    kind: &'static str,
    priority: Option<i32>,
    precedence: Precedence,
    port: Option<i32>,
}

/// Every GatewayRoute's Gateway API objects (routes first, then Gateways) and findings.
pub fn export(routes: &[GatewayRoute], opts: &Options) -> Export {
    let mut out = Export::default();
    let mut exported: Vec<(String, Exported)> = Vec::new();
    for route in routes {
        let object = format!(
            "{}/{}",
            route.metadata.namespace.as_deref().unwrap_or_default(),
            route.metadata.name.as_deref().unwrap_or_default()
        );
        let mut findings = Findings {
            object: object.clone(),
            found: &mut out.findings,
            dropped: false,
        };
        if let Some((object_json, info)) = convert(route, opts, &mut findings)
            && !findings.dropped
        {
            out.objects.push(object_json);
            exported.push((object, info));
        }
    }
    order_findings(&exported, &mut out.findings);
    if let Some(class) = &opts.gateway_class {
        let mut gateways: BTreeMap<(String, String), BTreeSet<i32>> = BTreeMap::new();
        for (_, e) in &exported {
            gateways
                .entry(e.gateway.clone())
                .or_default()
                .extend(e.port.filter(|p| *p != opts.gateway_port));
        }
        for ((namespace, name), ports) in gateways {
            let mut listeners =
                vec![json!({ "name": "http", "protocol": "HTTP", "port": opts.gateway_port })];
            listeners.extend(
                ports
                    .into_iter()
                    .map(|p| json!({ "name": format!("port-{p}"), "protocol": "HTTP", "port": p })),
            );
            out.objects.push(json!({
                "apiVersion": GATEWAY_API, "kind": "Gateway",
                "metadata": { "name": name, "namespace": namespace },
                "spec": { "gatewayClassName": class, "listeners": listeners },
            }));
        }
    }
    out
}

/// A finding for every pair of routes on one gateway that App Mesh's priorities order one way
/// and Gateway API's precedence the other.
fn order_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (a_name, a) in exported {
        for (b_name, b) in exported {
            let (Some(pa), Some(pb)) = (a.priority, b.priority) else {
                continue;
            };
            if a.gateway == b.gateway && a.kind == b.kind && pa < pb && b.precedence > a.precedence
            {
                found.push(Finding {
                    object: a_name.clone(),
                    field: "spec.priority".into(),
                    impact: Impact::Changed,
                    problem: format!(
                        "App Mesh tries this route before {b_name} (priority {pa} < {pb}); \
                         Gateway API tries {b_name} first where both match, because its match \
                         is more specific"
                    ),
                    advice: "make the matches of the two routes disjoint, or merge them into \
                             one route whose rules Gateway API orders as intended"
                        .into(),
                });
            }
        }
    }
}

fn convert(route: &GatewayRoute, opts: &Options, f: &mut Findings) -> Option<(Value, Exported)> {
    let namespace = route.metadata.namespace.clone().unwrap_or_default();
    let spec = &route.spec;
    let gateway = object_name(&spec.virtual_gateway_name);
    let source = format!(
        "GatewayRoute {}; App Mesh route {}/{}/{}",
        f.object,
        spec.mesh_name,
        spec.virtual_gateway_name,
        route.app_mesh_name()
    );
    let (kind, body, precedence, port) = if let Some(http) = &spec.http_route {
        let (body, precedence, port) = http_route("httpRoute", http, &namespace, opts, f);
        ("HTTPRoute", body, precedence, port)
    } else if let Some(http) = &spec.http2_route {
        let (body, precedence, port) = http_route("http2Route", http, &namespace, opts, f);
        f.note(
            Impact::Check,
            "spec.http2Route",
            "App Mesh spoke HTTP/2 to the target; Gateway API takes the backend's protocol \
             from its Service port"
                .into(),
            "set `appProtocol: kubernetes.io/h2c` on the Service port",
        );
        ("HTTPRoute", body, precedence, port)
    } else if let Some(grpc) = &spec.grpc_route {
        let (body, precedence, port) = grpc_route(grpc, &namespace, opts, f);
        ("GRPCRoute", body, precedence, port)
    } else {
        return None;
    };
    let mut parent = json!({ "name": gateway });
    if let Some(port) = port {
        parent["port"] = json!(port);
    }
    let mut body = body;
    body.insert("parentRefs".into(), json!([parent]));
    let object = json!({
        "apiVersion": GATEWAY_API, "kind": kind,
        "metadata": {
            "name": route.metadata.name, "namespace": namespace,
            "annotations": { SOURCE_ANNOTATION: source },
        },
        "spec": body,
    });
    Some((
        object,
        Exported {
            gateway: (namespace, gateway),
            kind,
            priority: spec.priority,
            precedence,
            port,
        },
    ))
}

/// Spec of an HTTPRoute (no parentRefs), its precedence and listener port.
fn http_route(
    kind: &str,
    http: &HttpGatewayRoute,
    namespace: &str,
    opts: &Options,
    f: &mut Findings,
) -> (Map<String, Value>, Precedence, Option<i32>) {
    let at = |field: &str| format!("spec.{kind}.{field}");
    let m = &http.route_match;
    let rewrite = http.action.rewrite.clone().unwrap_or_default();
    let mut matched = Map::new();
    let mut url_rewrite = Map::new();
    let mut precedence: Precedence = (0, false, 0, m.method.is_some(), 0, 0);
    if let Some(prefix) = &m.prefix {
        check_path(prefix, &at("match.prefix"), f);
        matched.insert(
            "path".into(),
            json!({ "type": "PathPrefix", "value": prefix }),
        );
        precedence.2 = prefix.len();
        if prefix != "/" {
            let (problem, advice) = if let Some(bare) = prefix.strip_suffix('/') {
                (
                    format!(
                        "Gateway API's PathPrefix {prefix} also matches {bare} itself, which App Mesh did not"
                    ),
                    "serve or reject the bare path in the backend",
                )
            } else {
                (
                    format!(
                        "Gateway API matches whole path segments: {prefix} still matches {prefix}/x, but no longer {prefix}x as App Mesh did"
                    ),
                    "if clients send such paths, add a route for them",
                )
            };
            f.note(Impact::Changed, &at("match.prefix"), problem, advice);
        }
        let replacement = match &rewrite.prefix {
            None => Some("/"),
            Some(p) => match (&p.value, p.default_prefix) {
                (Some(value), _) => Some(value.as_str()),
                (None, Some(EnabledDisabled::Disabled)) => None,
                (None, _) => Some("/"),
            },
        };
        if let Some(to) = replacement.filter(|to| !(prefix == "/" && *to == "/")) {
            check_path(to, &at("action.rewrite.prefix"), f);
            url_rewrite.insert(
                "path".into(),
                json!({ "type": "ReplacePrefixMatch", "replacePrefixMatch": to }),
            );
        }
    } else if let Some(path) = &m.path {
        if let Some(exact) = &path.exact {
            check_path(exact, &at("match.path.exact"), f);
            matched.insert("path".into(), json!({ "type": "Exact", "value": exact }));
            precedence.1 = true;
        } else if let Some(regex) = &path.regex {
            matched.insert(
                "path".into(),
                json!({ "type": "RegularExpression", "value": regex }),
            );
            regex_check(&at("match.path.regex"), f);
        }
        if let Some(full) = rewrite.path.as_ref().and_then(|p| p.exact.as_ref()) {
            check_path(full, &at("action.rewrite.path.exact"), f);
            url_rewrite.insert(
                "path".into(),
                json!({ "type": "ReplaceFullPath", "replaceFullPath": full }),
            );
        }
    } else {
        matched.insert("path".into(), json!({ "type": "PathPrefix", "value": "/" }));
    }
    if let Some(method) = m.method {
        matched.insert("method".into(), json!(method));
    }
    let headers: Vec<Value> = m
        .headers
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, h)| {
            header_match(
                &h.name,
                h.invert,
                h.value_match.as_ref(),
                &at(&format!("match.headers[{i}]")),
                f,
            )
        })
        .collect();
    unique_names(&headers, &at("match.headers"), f);
    precedence.4 = headers.len();
    if !headers.is_empty() {
        matched.insert("headers".into(), json!(headers));
    }
    let params: Vec<Value> = m
        .query_parameters
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, q)| {
            let field = at(&format!("match.queryParameters[{i}]"));
            if !is_token(&q.name) {
                f.note(
                    Impact::NotExported,
                    &field,
                    format!(
                        "{:?} is not a query parameter name Gateway API accepts",
                        q.name
                    ),
                    "rename the parameter",
                );
                return None;
            }
            Some(
                match q.value_match.as_ref().and_then(|v| v.exact.as_ref()) {
                    Some(exact) => json!({ "name": q.name, "type": "Exact", "value": exact }),
                    None => {
                        regex_check(&field, f);
                        json!({ "name": q.name, "type": "RegularExpression", "value": ".*" })
                    }
                },
            )
        })
        .collect();
    unique_names(&params, &at("match.queryParameters"), f);
    precedence.5 = params.len();
    if !params.is_empty() {
        matched.insert("queryParams".into(), json!(params));
    }
    let hostnames = hostnames(m.hostname.as_ref(), &at("match.hostname"), f);
    precedence.0 = hostnames.first().map_or(0, String::len);
    let target = &http.action.target;
    if !disabled(rewrite.hostname.as_ref()) {
        let host = target
            .virtual_service
            .virtual_service_name
            .to_ascii_lowercase();
        if is_hostname(&host, false) {
            url_rewrite.insert("hostname".into(), json!(host));
        } else {
            f.note(
                Impact::Changed,
                &at("action.rewrite.hostname"),
                format!("App Mesh set the Host header to {host:?}, which is not a host name Gateway API can rewrite to"),
                "make the backend accept the client's Host header",
            );
        }
    }
    let mut rule = Map::new();
    rule.insert("matches".into(), json!([matched]));
    if !url_rewrite.is_empty() {
        rule.insert(
            "filters".into(),
            json!([{ "type": "URLRewrite", "urlRewrite": url_rewrite }]),
        );
    }
    if let Some(backend) = backend(target, namespace, opts, &at("action.target"), f) {
        rule.insert("backendRefs".into(), json!([backend]));
    }
    let port = listener_port(m.port, &at("match.port"), f);
    let mut body = Map::new();
    if !hostnames.is_empty() {
        body.insert("hostnames".into(), json!(hostnames));
    }
    body.insert("rules".into(), json!([rule]));
    (body, precedence, port)
}

/// Spec of a GRPCRoute (no parentRefs), its precedence and listener port.
fn grpc_route(
    grpc: &GrpcGatewayRoute,
    namespace: &str,
    opts: &Options,
    f: &mut Findings,
) -> (Map<String, Value>, Precedence, Option<i32>) {
    let m = &grpc.route_match;
    let mut matched = Map::new();
    let mut precedence: Precedence = (0, false, 0, false, 0, 0);
    if let Some(service) = &m.service_name {
        if is_grpc_service(service) {
            matched.insert(
                "method".into(),
                json!({ "type": "Exact", "service": service }),
            );
            precedence.2 = service.len();
        } else {
            f.note(
                Impact::NotExported,
                "spec.grpcRoute.match.serviceName",
                format!("{service:?} is not a gRPC service name Gateway API accepts"),
                "use a fully qualified name such as pkg.v1.Service",
            );
        }
    }
    let headers: Vec<Value> = m
        .metadata
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, md)| {
            header_match(
                &md.name,
                md.invert,
                md.value_match.as_ref(),
                &format!("spec.grpcRoute.match.metadata[{i}]"),
                f,
            )
        })
        .collect();
    unique_names(&headers, "spec.grpcRoute.match.metadata", f);
    precedence.4 = headers.len();
    if !headers.is_empty() {
        matched.insert("headers".into(), json!(headers));
    }
    let hostnames = hostnames(m.hostname.as_ref(), "spec.grpcRoute.match.hostname", f);
    precedence.0 = hostnames.first().map_or(0, String::len);
    let target = &grpc.action.target;
    let rewrite = grpc
        .action
        .rewrite
        .as_ref()
        .and_then(|r| r.hostname.as_ref());
    if !disabled(rewrite) {
        f.note(
            Impact::Changed,
            "spec.grpcRoute.action.rewrite.hostname",
            format!(
                "App Mesh set :authority to {}; GRPCRoute has no host rewrite, so backends see \
                 the client's",
                target.virtual_service.virtual_service_name
            ),
            "make the backend accept the client's :authority, or use the implementation's own \
             host rewrite",
        );
    }
    let mut rule = Map::new();
    if !matched.is_empty() {
        rule.insert("matches".into(), json!([matched]));
    }
    if let Some(backend) = backend(target, namespace, opts, "spec.grpcRoute.action.target", f) {
        rule.insert("backendRefs".into(), json!([backend]));
    }
    let port = listener_port(m.port, "spec.grpcRoute.match.port", f);
    let mut body = Map::new();
    if !hostnames.is_empty() {
        body.insert("hostnames".into(), json!(hostnames));
    }
    body.insert("rules".into(), json!([rule]));
    (body, precedence, port)
}

fn disabled(rewrite: Option<&crate::api::GatewayRouteHostnameRewrite>) -> bool {
    rewrite.and_then(|h| h.default_target_hostname) == Some(EnabledDisabled::Disabled)
}

/// A header (or gRPC metadata) match, or `None` (with a finding) when Gateway API has none.
fn header_match(
    name: &str,
    invert: Option<bool>,
    how: Option<&HeaderMatchMethod>,
    field: &str,
    f: &mut Findings,
) -> Option<Value> {
    if !is_token(name) {
        f.note(
            Impact::NotExported,
            field,
            format!("{name:?} is not a header name Gateway API accepts"),
            "rename the header",
        );
        return None;
    }
    if invert == Some(true) {
        f.note(
            Impact::NotExported,
            field,
            format!("Gateway API cannot match requests whose {name} does NOT match; without that condition the route would take requests App Mesh sent elsewhere"),
            "express the complement as positive matches (one route per value), then export again",
        );
        return None;
    }
    let escape = regex_syntax::escape;
    let (kind, value) = match how {
        None => ("RegularExpression", ".*".to_string()),
        Some(HeaderMatchMethod {
            exact: Some(exact), ..
        }) => ("Exact", exact.clone()),
        Some(HeaderMatchMethod {
            regex: Some(regex), ..
        }) => ("RegularExpression", regex.clone()),
        Some(HeaderMatchMethod {
            prefix: Some(prefix),
            ..
        }) => ("RegularExpression", format!("^{}.*", escape(prefix))),
        Some(HeaderMatchMethod {
            suffix: Some(suffix),
            ..
        }) => ("RegularExpression", format!(".*{}$", escape(suffix))),
        Some(HeaderMatchMethod {
            range: Some(range), ..
        }) => {
            f.note(
                Impact::NotExported,
                field,
                format!(
                    "Gateway API has no numeric range match ({name} in [{}, {}))",
                    range.start, range.end
                ),
                "match the values with a RegularExpression in the GatewayRoute first, then export again",
            );
            return None;
        }
        Some(_) => ("RegularExpression", ".*".to_string()),
    };
    if kind == "RegularExpression" {
        regex_check(field, f);
    }
    Some(json!({ "name": name, "type": kind, "value": value }))
}

fn regex_check(field: &str, f: &mut Findings) {
    f.note(
        Impact::Check,
        field,
        "exported as a RegularExpression match, whose support and dialect Gateway API leaves to \
         the implementation (App Mesh's Envoy used RE2)"
            .into(),
        "check that your implementation supports RegularExpression matches with RE2 syntax",
    );
}

/// Gateway API keeps one match per header or query parameter name.
fn unique_names(matches: &[Value], field: &str, f: &mut Findings) {
    let mut seen = BTreeSet::new();
    for m in matches {
        let name = m["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        if !seen.insert(name.clone()) {
            f.note(
                Impact::NotExported,
                field,
                format!("{name} is matched twice; Gateway API allows one match per name"),
                "combine the two conditions into one regular expression",
            );
        }
    }
}

fn hostnames(
    host: Option<&GatewayRouteHostnameMatch>,
    field: &str,
    f: &mut Findings,
) -> Vec<String> {
    let Some(host) = host else {
        return Vec::new();
    };
    let names = match (&host.exact, &host.suffix) {
        (Some(exact), _) => vec![exact.to_ascii_lowercase()],
        (None, Some(suffix)) => {
            let suffix = suffix.to_ascii_lowercase();
            match suffix.strip_prefix('.') {
                Some(domain) => vec![format!("*.{domain}")],
                None => {
                    f.note(
                        Impact::Changed,
                        field,
                        format!("App Mesh's suffix {suffix} also matched hosts like x{suffix}; Gateway API matches {suffix} and its subdomains only"),
                        "list the other hosts explicitly if clients use them",
                    );
                    vec![suffix.clone(), format!("*.{suffix}")]
                }
            }
        }
        (None, None) => return Vec::new(),
    };
    if let Some(bad) = names.iter().find(|n| !is_hostname(n, true)) {
        f.note(
            Impact::NotExported,
            field,
            format!("{bad:?} is not a host name Gateway API accepts (no IP addresses, ports or underscores)"),
            "match a DNS name instead",
        );
        return Vec::new();
    }
    names
}

/// The Service behind a target virtual service, or `None` with a finding.
fn backend(
    target: &GatewayRouteTarget,
    namespace: &str,
    opts: &Options,
    field: &str,
    f: &mut Findings,
) -> Option<Value> {
    let vs = &target.virtual_service.virtual_service_name;
    let service = match opts.services.get(vs) {
        Some(s) => s.clone(),
        None => {
            let short = vs.strip_suffix(".svc.cluster.local").unwrap_or(vs);
            let parts: Vec<&str> = short.split('.').collect();
            match parts[..] {
                [name, ns] => Service {
                    name: name.into(),
                    namespace: Some(ns.into()),
                    port: None,
                },
                [name] => {
                    f.note(
                        Impact::Check,
                        field,
                        format!("{vs} names no namespace; took Service {name} in {namespace}, the route's own"),
                        "add the virtual service to --service-map if the Service lives elsewhere",
                    );
                    Service {
                        name: name.into(),
                        namespace: None,
                        port: None,
                    }
                }
                _ => {
                    f.note(
                        Impact::NotExported,
                        field,
                        format!("virtual service {vs} is not a <service>.<namespace>.svc.cluster.local name"),
                        "map it to its Service with --service-map",
                    );
                    return None;
                }
            }
        }
    };
    let ns = service.namespace.as_deref().unwrap_or(namespace);
    if !is_label(ns) || service.name.is_empty() || service.name.len() > 253 {
        f.note(
            Impact::NotExported,
            field,
            format!("{}/{} is not a valid Service reference", ns, service.name),
            "map the virtual service to its Service with --service-map",
        );
        return None;
    }
    let port = match target.port.or(service.port) {
        Some(port) => port,
        None => {
            f.note(
                Impact::Check,
                field,
                format!("no port is known for {vs}; took {}", opts.backend_port),
                "give the port in --service-map, or set --backend-port",
            );
            opts.backend_port
        }
    };
    let mut backend = json!({ "name": service.name, "port": port });
    if ns != namespace {
        backend["namespace"] = json!(ns);
        f.note(
            Impact::Check,
            field,
            format!("the backend is in namespace {ns}, not the route's"),
            "create a ReferenceGrant in that namespace that lets the route refer to the Service",
        );
    }
    Some(backend)
}

fn listener_port(port: Option<i32>, field: &str, f: &mut Findings) -> Option<i32> {
    let port = port?;
    f.note(
        Impact::Check,
        field,
        format!("the listener port match became parentRefs[].port {port}, an Extended Gateway API feature; the Gateway needs a listener on {port}"),
        "check that your implementation supports parentRef ports, and give the Gateway that listener",
    );
    Some(port)
}

/// Gateway API refuses these in Exact and PathPrefix paths (and rewrites); App Mesh did not.
fn check_path(path: &str, field: &str, f: &mut Findings) {
    let bytes = path.as_bytes();
    let mut i = 0;
    let mut bad_char = !path.starts_with('/');
    while i < bytes.len() && !bad_char {
        let c = bytes[i];
        if c == b'%' {
            bad_char = !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
            i += 3;
            continue;
        }
        bad_char = !(c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c));
        i += 1;
    }
    let lower = path.to_ascii_lowercase();
    let bad_part = ["//", "/./", "/../", "%2f", "#"]
        .into_iter()
        .find(|p| lower.contains(p))
        .or(["/.", "/.."].into_iter().find(|p| path.ends_with(p)));
    if bad_char || bad_part.is_some() {
        f.note(
            Impact::NotExported,
            field,
            format!("Gateway API refuses the path {path:?} (it allows an absolute path of URL characters without //, /./, /../, %2F or #)"),
            "change the path in the GatewayRoute first",
        );
    }
}

/// An HTTP token (header and query parameter names).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A DNS-1123 label (namespace names).
fn is_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A Gateway API host name: lower-case DNS labels, with a leading `*.` where `wildcard`.
fn is_hostname(host: &str, wildcard: bool) -> bool {
    let name = match host.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        _ => host,
    };
    host.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What GRPCRoute accepts as an exact service name.
fn is_grpc_service(name: &str) -> bool {
    let name = name.strip_prefix('.').unwrap_or(name);
    name.len() <= 1024
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// GatewayRoutes from files: YAML streams or JSON, single objects or Lists.
pub fn read_files(files: &[PathBuf], namespace: &str) -> Result<Vec<GatewayRoute>, Error> {
    let mut routes = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let input = |message: String| Error::Input {
            path: shown.clone(),
            message,
        };
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| input(e.to_string()))?;
            text
        } else {
            std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?
        };
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).map_err(|e| input(e.to_string()))?;
            let items = match value.get("kind").and_then(Value::as_str) {
                Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![value],
            };
            for item in items {
                let is_route = item["kind"] == "GatewayRoute"
                    && item["apiVersion"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("meshroute.io/"));
                if !is_route {
                    continue;
                }
                let mut route: GatewayRoute = serde_json::from_value(item)
                    .map_err(|e| input(format!("not a valid GatewayRoute: {e}")))?;
                if route.metadata.namespace.is_none() {
                    route.metadata.namespace = Some(namespace.to_string());
                }
                routes.push(route);
            }
        }
    }
    Ok(routes)
}

/// Every GatewayRoute of a namespace (or of all), a page at a time.
async fn read_cluster(args: &ExportArgs) -> Result<Vec<GatewayRoute>, Error> {
    let client = kube::Client::try_default().await?;
    let api: Api<GatewayRoute> = match (&args.namespace, args.all_namespaces) {
        (_, true) => Api::all(client),
        (Some(ns), false) => Api::namespaced(client, ns),
        (None, false) => Api::default_namespaced(client),
    };
    let mut routes = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        routes.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(routes),
        }
    }
}

fn read_service_map(path: &PathBuf) -> Result<BTreeMap<String, Service>, Error> {
    let input = |message: String| Error::Input {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
    serde_yaml::from_str(&text).map_err(|e| {
        input(format!(
            "{e}; expected `<virtual service name>: {{name: <service>, namespace: <ns>, port: <port>}}` entries"
        ))
    })
}

/// Runs `meshroute export gateway-api`: objects on stdout, the findings report on stderr.
pub async fn run(args: ExportArgs) -> Result<(), Error> {
    let mut routes = if args.files.is_empty() {
        read_cluster(&args).await?
    } else {
        read_files(&args.files, args.namespace.as_deref().unwrap_or("default"))?
    };
    routes.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let opts = Options {
        gateway_class: args.gateway_class.clone(),
        gateway_port: args.gateway_port,
        services: match &args.service_map {
            Some(path) => read_service_map(path)?,
            None => BTreeMap::new(),
        },
        backend_port: args.backend_port,
    };
    let export = export(&routes, &opts);
    report(&export, routes.len(), args.report);
    if args.strict && export.losses() > 0 {
        return Err(Error::Strict(export.losses()));
    }
    let io = |e: std::io::Error| Error::Input {
        path: "stdout".into(),
        message: e.to_string(),
    };
    let mut out = std::io::stdout().lock();
    for object in &export.objects {
        write!(out, "---\n{}", super::yaml::document(object)).map_err(io)?;
    }
    out.flush().map_err(io)
}

fn report(export: &Export, read: usize, format: ReportFormat) {
    let count = |kind: &str| export.objects.iter().filter(|o| o["kind"] == kind).count();
    let impact = |i: Impact| export.findings.iter().filter(|f| f.impact == i).count();
    let dropped: BTreeSet<&str> = export
        .findings
        .iter()
        .filter(|f| f.impact == Impact::NotExported)
        .map(|f| f.object.as_str())
        .collect();
    let summary = json!({
        "gatewayRoutes": read,
        "httpRoutes": count("HTTPRoute"),
        "grpcRoutes": count("GRPCRoute"),
        "gateways": count("Gateway"),
        "notExported": dropped.len(),
        "changed": impact(Impact::Changed),
        "check": impact(Impact::Check),
    });
    match format {
        ReportFormat::Json => eprintln!(
            "{}",
            json!({ "summary": summary, "findings": export.findings })
        ),
        ReportFormat::Text => {
            eprintln!(
                "meshroute export: {read} GatewayRoutes -> {} HTTPRoutes, {} GRPCRoutes, {} \
                 Gateways; {} not exported, {} behaviour changes, {} to check",
                summary["httpRoutes"],
                summary["grpcRoutes"],
                summary["gateways"],
                dropped.len(),
                summary["changed"],
                summary["check"]
            );
            for f in &export.findings {
                let impact = match f.impact {
                    Impact::NotExported => "NOT EXPORTED",
                    Impact::Changed => "changed",
                    Impact::Check => "check",
                };
                eprintln!(
                    "{} [{impact}] {}: {}; {}",
                    f.object, f.field, f.problem, f.advice
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VS: &str = "web.shop.svc.cluster.local";

    fn route(name: &str, spec: Value) -> GatewayRoute {
        let mut spec = spec;
        spec["meshName"] = json!("m");
        spec["virtualGatewayName"] = json!("Edge_GW");
        serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": "shop" },
            "spec": spec,
        }))
        .unwrap()
    }

    fn http(m: Value, action: Value) -> Value {
        let mut action = action;
        action["target"] = json!({ "virtualService": { "virtualServiceName": VS } });
        json!({ "httpRoute": { "match": m, "action": action } })
    }

    /// The one exported object (or `Value::Null`) and the findings of one GatewayRoute.
    fn one(spec: Value) -> (Value, Vec<Finding>) {
        let out = export(&[route("r", spec)], &options());
        (
            out.objects.first().cloned().unwrap_or(Value::Null),
            out.findings,
        )
    }

    fn options() -> Options {
        Options {
            gateway_port: 80,
            backend_port: 80,
            ..Default::default()
        }
    }

    fn impacts(findings: &[Finding]) -> Vec<(String, Impact)> {
        findings
            .iter()
            .map(|f| (f.field.clone(), f.impact))
            .collect()
    }

    fn rule(object: &Value) -> &Value {
        &object["spec"]["rules"][0]
    }

    #[test]
    fn the_root_prefix_keeps_the_host_rewrite_only() {
        let (o, findings) = one(http(json!({ "prefix": "/" }), json!({})));
        assert_eq!(o["kind"], "HTTPRoute");
        assert_eq!(o["metadata"]["namespace"], "shop");
        assert_eq!(
            o["spec"]["parentRefs"],
            json!([{ "name": object_name("Edge_GW") }])
        );
        assert_eq!(
            rule(&o)["matches"],
            json!([{ "path": { "type": "PathPrefix", "value": "/" } }])
        );
        assert_eq!(
            rule(&o)["filters"],
            json!([{ "type": "URLRewrite", "urlRewrite": { "hostname": VS } }])
        );
        assert_eq!(
            rule(&o)["backendRefs"],
            json!([{ "name": "web", "port": 80 }])
        );
        // The port was assumed: a finding to check, nothing lost.
        assert_eq!(
            impacts(&findings),
            [("spec.httpRoute.action.target".into(), Impact::Check)]
        );
    }

    #[test]
    fn a_prefix_is_rewritten_to_slash_by_default_and_its_segment_semantics_reported() {
        let (o, findings) = one(http(json!({ "prefix": "/api" }), json!({})));
        assert_eq!(
            rule(&o)["filters"][0]["urlRewrite"],
            json!({ "hostname": VS, "path": { "type": "ReplacePrefixMatch", "replacePrefixMatch": "/" } })
        );
        assert!(
            impacts(&findings).contains(&("spec.httpRoute.match.prefix".into(), Impact::Changed))
        );
        let (_, findings) = one(http(json!({ "prefix": "/api/" }), json!({})));
        assert!(
            findings
                .iter()
                .any(|f| f.problem.contains("also matches /api itself"))
        );
    }

    #[test]
    fn prefix_rewrites_follow_the_route() {
        let (o, _) = one(http(
            json!({ "prefix": "/api/" }),
            json!({ "rewrite": { "prefix": { "value": "/v2/" } } }),
        ));
        assert_eq!(
            rule(&o)["filters"][0]["urlRewrite"]["path"],
            json!({ "type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2/" })
        );
        let (o, _) = one(http(
            json!({ "prefix": "/api/" }),
            json!({ "rewrite": { "prefix": { "defaultPrefix": "DISABLED" },
                                 "hostname": { "defaultTargetHostname": "DISABLED" } } }),
        ));
        assert!(rule(&o).get("filters").is_none(), "{o}");
    }

    #[test]
    fn exact_and_regex_paths() {
        let (o, _) = one(http(
            json!({ "path": { "exact": "/old" } }),
            json!({ "rewrite": { "path": { "exact": "/new" } } }),
        ));
        assert_eq!(
            rule(&o)["matches"][0]["path"],
            json!({ "type": "Exact", "value": "/old" })
        );
        assert_eq!(
            rule(&o)["filters"][0]["urlRewrite"]["path"],
            json!({ "type": "ReplaceFullPath", "replaceFullPath": "/new" })
        );
        let (o, findings) = one(http(
            json!({ "path": { "regex": "/v[0-9]+/.*" } }),
            json!({}),
        ));
        assert_eq!(
            rule(&o)["matches"][0]["path"],
            json!({ "type": "RegularExpression", "value": "/v[0-9]+/.*" })
        );
        assert!(
            impacts(&findings).contains(&("spec.httpRoute.match.path.regex".into(), Impact::Check))
        );
        assert!(rule(&o)["filters"][0]["urlRewrite"].get("path").is_none());
    }

    #[test]
    fn paths_gateway_api_refuses_are_not_exported() {
        for path in ["/a//b", "/a/../b", "/a%2Fb", "/a#b", "/a/.", "/a b", "/%zz"] {
            let (o, findings) = one(http(json!({ "path": { "exact": path } }), json!({})));
            assert!(o.is_null(), "{path}: {o}");
            assert!(
                impacts(&findings).contains(&(
                    "spec.httpRoute.match.path.exact".into(),
                    Impact::NotExported
                )),
                "{path}: {findings:?}"
            );
        }
        let (o, _) = one(http(json!({ "path": { "exact": "/a%20b/~x" } }), json!({})));
        assert!(!o.is_null());
    }

    #[test]
    fn header_matches_map_to_exact_or_anchored_regex() {
        let (o, _) = one(http(
            json!({ "prefix": "/", "headers": [
                { "name": "x-exact", "match": { "exact": "a" } },
                { "name": "x-regex", "match": { "regex": "a|b" } },
                { "name": "x-prefix", "match": { "prefix": "v1." } },
                { "name": "x-suffix", "match": { "suffix": "+beta" } },
                { "name": "x-present" },
                { "name": "x-not-inverted", "invert": false, "match": { "exact": "b" } },
            ] }),
            json!({}),
        ));
        assert_eq!(
            rule(&o)["matches"][0]["headers"],
            json!([
                { "name": "x-exact", "type": "Exact", "value": "a" },
                { "name": "x-regex", "type": "RegularExpression", "value": "a|b" },
                { "name": "x-prefix", "type": "RegularExpression", "value": "^v1\\..*" },
                { "name": "x-suffix", "type": "RegularExpression", "value": ".*\\+beta$" },
                { "name": "x-present", "type": "RegularExpression", "value": ".*" },
                { "name": "x-not-inverted", "type": "Exact", "value": "b" },
            ])
        );
    }

    #[test]
    fn ranges_inverted_and_repeated_headers_are_not_exported() {
        for headers in [
            json!([{ "name": "x-n", "match": { "range": { "start": 1, "end": 5 } } }]),
            json!([{ "name": "x-n", "invert": true, "match": { "exact": "a" } }]),
            json!([{ "name": "x-n", "match": { "exact": "a" } }, { "name": "X-N", "match": { "exact": "b" } }]),
        ] {
            let (o, findings) = one(http(
                json!({ "prefix": "/", "headers": headers }),
                json!({}),
            ));
            assert!(o.is_null(), "{headers}: {o}");
            assert!(
                findings.iter().any(|f| f.impact == Impact::NotExported),
                "{findings:?}"
            );
        }
    }

    #[test]
    fn query_parameters_and_method() {
        let (o, _) = one(http(
            json!({ "prefix": "/", "method": "POST", "queryParameters": [
                { "name": "v", "match": { "exact": "2" } }, { "name": "debug" } ] }),
            json!({}),
        ));
        let m = &rule(&o)["matches"][0];
        assert_eq!(m["method"], "POST");
        assert_eq!(
            m["queryParams"],
            json!([{ "name": "v", "type": "Exact", "value": "2" },
                   { "name": "debug", "type": "RegularExpression", "value": ".*" }])
        );
    }

    #[test]
    fn host_names_exact_and_suffix() {
        let host = |h: Value| one(http(json!({ "hostname": h }), json!({})));
        let (o, f) = host(json!({ "exact": "Shop.Example.com" }));
        assert_eq!(o["spec"]["hostnames"], json!(["shop.example.com"]));
        assert!(f.iter().all(|f| f.impact == Impact::Check));
        let (o, f) = host(json!({ "suffix": ".example.com" }));
        assert_eq!(o["spec"]["hostnames"], json!(["*.example.com"]));
        assert!(f.iter().all(|f| f.impact == Impact::Check));
        let (o, f) = host(json!({ "suffix": "example.com" }));
        assert_eq!(
            o["spec"]["hostnames"],
            json!(["example.com", "*.example.com"])
        );
        assert!(impacts(&f).contains(&("spec.httpRoute.match.hostname".into(), Impact::Changed)));
        // Without a path match the route takes every path, as in App Mesh.
        assert_eq!(
            rule(&o)["matches"][0]["path"],
            json!({ "type": "PathPrefix", "value": "/" })
        );
        let (o, f) = host(json!({ "exact": "10.0.0.1:80" }));
        assert!(o.is_null());
        assert!(
            impacts(&f).contains(&("spec.httpRoute.match.hostname".into(), Impact::NotExported))
        );
    }

    #[test]
    fn listener_ports_become_parent_ref_ports_and_gateway_listeners() {
        let spec = http(json!({ "prefix": "/", "port": 8443 }), json!({}));
        let out = export(
            &[route("r", spec)],
            &Options {
                gateway_class: Some("envoy".into()),
                ..options()
            },
        );
        assert_eq!(out.objects[0]["spec"]["parentRefs"][0]["port"], 8443);
        let gateway = &out.objects[1];
        assert_eq!(gateway["kind"], "Gateway");
        assert_eq!(
            gateway["metadata"]["name"],
            out.objects[0]["spec"]["parentRefs"][0]["name"]
        );
        assert_eq!(gateway["spec"]["gatewayClassName"], "envoy");
        let ports: Vec<&Value> = gateway["spec"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["port"])
            .collect();
        assert_eq!(ports, [&json!(80), &json!(8443)]);
        assert!(
            impacts(&out.findings).contains(&("spec.httpRoute.match.port".into(), Impact::Check))
        );
    }

    #[test]
    fn backends_from_service_names_the_service_map_and_target_ports() {
        let with_target = |vs: &str, port: Option<i32>, opts: &Options| {
            let mut target = json!({ "virtualService": { "virtualServiceName": vs } });
            if let Some(p) = port {
                target["port"] = json!(p);
            }
            let spec = json!({ "httpRoute": { "match": { "prefix": "/" }, "action": { "target": target } } });
            export(&[route("r", spec)], opts)
        };
        let out = with_target("api.billing.svc.cluster.local", Some(8080), &options());
        assert_eq!(
            rule(&out.objects[0])["backendRefs"],
            json!([{ "name": "api", "namespace": "billing", "port": 8080 }])
        );
        assert!(
            out.findings
                .iter()
                .any(|f| f.advice.contains("ReferenceGrant"))
        );
        let out = with_target("web.svc.cluster.local", None, &options());
        assert_eq!(
            rule(&out.objects[0])["backendRefs"],
            json!([{ "name": "web", "port": 80 }])
        );
        let out = with_target("legacy.internal.example", None, &options());
        assert!(out.objects.is_empty());
        assert!(
            out.findings
                .iter()
                .any(|f| f.impact == Impact::NotExported && f.advice.contains("--service-map"))
        );
        let mapped = Options {
            services: BTreeMap::from([(
                "legacy.internal.example".to_string(),
                Service {
                    name: "legacy".into(),
                    namespace: None,
                    port: Some(9000),
                },
            )]),
            ..options()
        };
        let out = with_target("legacy.internal.example", None, &mapped);
        assert_eq!(
            rule(&out.objects[0])["backendRefs"],
            json!([{ "name": "legacy", "port": 9000 }])
        );
        assert!(out.findings.is_empty(), "{:?}", out.findings);
    }

    #[test]
    fn grpc_routes() {
        let spec = json!({ "grpcRoute": {
            "match": { "serviceName": "echo.v1.Echo", "metadata": [
                { "name": "tenant", "match": { "exact": "a" } } ] },
            "action": { "target": { "virtualService": { "virtualServiceName": VS }, "port": 50051 } } } });
        let (o, findings) = one(spec);
        assert_eq!(o["kind"], "GRPCRoute");
        assert_eq!(
            rule(&o)["matches"],
            json!([{ "method": { "type": "Exact", "service": "echo.v1.Echo" },
                     "headers": [{ "name": "tenant", "type": "Exact", "value": "a" }] }])
        );
        assert_eq!(
            rule(&o)["backendRefs"],
            json!([{ "name": "web", "port": 50051 }])
        );
        assert_eq!(
            impacts(&findings),
            [(
                "spec.grpcRoute.action.rewrite.hostname".into(),
                Impact::Changed
            )]
        );
        let spec = json!({ "grpcRoute": {
            "match": { "hostname": { "exact": "grpc.example.com" } },
            "action": { "target": { "virtualService": { "virtualServiceName": VS }, "port": 50051 },
                        "rewrite": { "hostname": { "defaultTargetHostname": "DISABLED" } } } } });
        let (o, findings) = one(spec);
        assert!(rule(&o).get("matches").is_none());
        assert_eq!(o["spec"]["hostnames"], json!(["grpc.example.com"]));
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn http2_asks_for_the_services_app_protocol() {
        let mut spec = http(json!({ "prefix": "/" }), json!({}));
        spec["http2Route"] = spec["httpRoute"].take();
        spec.as_object_mut().unwrap().remove("httpRoute");
        let (o, findings) = one(spec);
        assert_eq!(o["kind"], "HTTPRoute");
        assert!(
            findings
                .iter()
                .any(|f| f.advice.contains("kubernetes.io/h2c"))
        );
    }

    #[test]
    fn priorities_that_gateway_api_would_order_otherwise_are_reported() {
        let with = |name: &str, priority: i32, prefix: &str| {
            let mut spec = http(json!({ "prefix": prefix }), json!({}));
            spec["priority"] = json!(priority);
            route(name, spec)
        };
        // App Mesh: /a first (priority 1); Gateway API: /a/b first (longer prefix).
        let out = export(
            &[with("short", 1, "/a"), with("long", 2, "/a/b")],
            &options(),
        );
        let order: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.field == "spec.priority")
            .collect();
        assert_eq!(order.len(), 1, "{order:?}");
        assert_eq!(order[0].object, "shop/short");
        assert_eq!(
            out.losses(),
            out.findings
                .iter()
                .filter(|f| f.impact != Impact::Check)
                .count()
        );
        // The same order in both: nothing to report.
        let out = export(
            &[with("long", 1, "/a/b"), with("short", 2, "/a")],
            &options(),
        );
        assert!(out.findings.iter().all(|f| f.field != "spec.priority"));
    }

    #[test]
    fn files_hold_streams_lists_and_other_kinds() {
        let dir = std::env::temp_dir().join(format!("meshroute-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.yaml");
        let r = |name: &str| {
            serde_json::to_string(&route(name, http(json!({ "prefix": "/" }), json!({})))).unwrap()
        };
        std::fs::write(
            &path,
            format!(
                "{}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{}]}}\n",
                r("a"),
                r("b")
            ),
        )
        .unwrap();
        let routes = read_files(&[path], "default").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = routes
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
