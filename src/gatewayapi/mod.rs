//! The mapping from GatewayRoutes to Gateway API objects: `HTTPRoute`s (http, http2) and
//! `GRPCRoute`s (grpc) that keep what an App Mesh gateway does with a request, not just its
//! fields, and a finding for everything Gateway API cannot say. Pure: reading GatewayRoutes and
//! printing or applying the objects belong to its users (`meshroute export gateway-api`).
//!
//! App Mesh behaviour kept on purpose: a gateway rewrites the matched prefix to `/` and the Host
//! header to the target virtual service's name unless the route turns that off; both become an
//! explicit `URLRewrite` filter. The table in docs/migration.md lists every mapping row; each
//! row has a golden case in tests/fixtures/export (`tests/export_cases.rs`).

pub mod args;
mod backend;
mod grpc;
mod http;
mod lattice;
mod matches;
pub mod objects;
mod precedence;
#[cfg(test)]
mod tests;
mod valid;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::api::matching;
use crate::api::ownership::EXPORTED_FROM_ANNOTATION;
use crate::api::recorded::{self, Backend};
use crate::api::{GatewayRoute, object_name};
pub use objects::{GATEWAY_API, GROUP};
use objects::{
    GrantFrom, GrantTo, Listener, Object, ParentRef, ReferenceGrant, ReferenceGrantSpec, Route,
    RouteKind, RouteMatch,
};
pub use precedence::Precedence;

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

/// The Gateway API implementation the objects are for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Target {
    /// Any conformant implementation: the Standard channel, and Extended features reported.
    #[default]
    Generic,
    /// The AWS Gateway API Controller for VPC Lattice (see `lattice`).
    Lattice,
}

/// How to export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub target: Target,
    /// Keep App Mesh's string-prefix meaning (`/api` also takes `/apix`) with an anchored
    /// RegularExpression match, where the route needs no prefix rewrite.
    pub string_prefixes: bool,
    pub gateway_class: Option<String>,
    pub gateway_port: i32,
    pub services: BTreeMap<String, Service>,
    pub backend_port: i32,
    /// Finding codes a team has reviewed and accepts.
    pub accept: Vec<Code>,
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

/// What a finding is about: a stable code a team can accept once it has reviewed that kind of
/// finding (`export gateway-api --accept CODE`), and the impact every finding of it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Gateway API's PathPrefix matches whole path segments: `/api` no longer takes `/apix`.
    PrefixSegments,
    /// a prefix ending in `/` also takes the bare path (`/api/` takes `/api`).
    PrefixBarePath,
    /// a path or rewrite Gateway API refuses (no leading `/`, `//`, `/./`, `%2F`, ...).
    PathRefused,
    /// a RegularExpression match, whose support and dialect are the implementation's.
    RegexDialect,
    /// a header or metadata name Gateway API refuses.
    HeaderName,
    /// an inverted header match, which Gateway API cannot say.
    HeaderInverted,
    /// a numeric range header match, which Gateway API cannot say.
    HeaderRange,
    /// two matches on one header or query parameter name.
    MatchedTwice,
    /// a query parameter name Gateway API refuses.
    QueryName,
    /// a host name suffix without a leading `.`, which Gateway API matches as a domain.
    HostnameSuffix,
    /// a host name Gateway API refuses (an IP address, a port, `_`).
    HostnameRefused,
    /// App Mesh's Host rewrite to a virtual service name Gateway API cannot rewrite to.
    HostRewrite,
    /// App Mesh's `:authority` rewrite, which GRPCRoute cannot make.
    GrpcHostRewrite,
    /// a gRPC service name GRPCRoute refuses and no path can carry.
    GrpcServiceName,
    /// a gRPC service name GRPCRoute refuses, exported as an HTTPRoute on `POST /<service>/`.
    GrpcAsHttp,
    /// a virtual service name without a namespace: the route's own was taken.
    BackendNamespaceAssumed,
    /// a virtual service name that names no Service (and no `--service-map` entry).
    BackendUnresolved,
    /// a Service reference Kubernetes would refuse.
    BackendInvalid,
    /// no port known for the backend: `--backend-port` was taken.
    BackendPortAssumed,
    /// a listener port match, exported as a parentRef port (an Extended feature).
    ListenerPort,
    /// HTTP/2 to the backend, which Gateway API takes from the Service port's appProtocol.
    Http2AppProtocol,
    /// two routes that App Mesh's priorities and Gateway API's precedence order differently.
    PriorityOrder,
    /// two routes that can take the same request, whose order in App Mesh AWS did not document.
    OrderUndocumented,
    /// two routes on one Gateway that take exactly the same requests.
    SameRequests,
    /// a path match type the Lattice controller refuses (a regular expression).
    LatticeRegexPath,
    /// a query parameter match, which the Lattice controller refuses.
    LatticeQueryMatch,
    /// more than 5 header matches, which the Lattice controller refuses.
    LatticeHeaderCount,
    /// a header match other than Exact, which the Lattice controller refuses.
    LatticeHeaderMatch,
    /// a path or Host rewrite, which the Lattice controller does not apply.
    LatticeNoRewrite,
    /// the route becomes a VPC Lattice service reached at its own domain name.
    LatticeServicePerRoute,
    /// a GRPCRoute, which the Lattice controller serves on an HTTPS listener only.
    LatticeGrpcHttps,
}

impl Code {
    pub const ALL: [Code; 31] = [
        Code::PrefixSegments,
        Code::PrefixBarePath,
        Code::PathRefused,
        Code::RegexDialect,
        Code::HeaderName,
        Code::HeaderInverted,
        Code::HeaderRange,
        Code::MatchedTwice,
        Code::QueryName,
        Code::HostnameSuffix,
        Code::HostnameRefused,
        Code::HostRewrite,
        Code::GrpcHostRewrite,
        Code::GrpcServiceName,
        Code::GrpcAsHttp,
        Code::BackendNamespaceAssumed,
        Code::BackendUnresolved,
        Code::BackendInvalid,
        Code::BackendPortAssumed,
        Code::ListenerPort,
        Code::Http2AppProtocol,
        Code::PriorityOrder,
        Code::OrderUndocumented,
        Code::SameRequests,
        Code::LatticeRegexPath,
        Code::LatticeQueryMatch,
        Code::LatticeHeaderCount,
        Code::LatticeHeaderMatch,
        Code::LatticeNoRewrite,
        Code::LatticeServicePerRoute,
        Code::LatticeGrpcHttps,
    ];

    pub fn impact(self) -> Impact {
        match self {
            Code::PrefixSegments => Impact::Changed,
            Code::PrefixBarePath => Impact::Changed,
            Code::PathRefused => Impact::NotExported,
            Code::RegexDialect => Impact::Check,
            Code::HeaderName => Impact::NotExported,
            Code::HeaderInverted => Impact::NotExported,
            Code::HeaderRange => Impact::NotExported,
            Code::MatchedTwice => Impact::NotExported,
            Code::QueryName => Impact::NotExported,
            Code::HostnameSuffix => Impact::Changed,
            Code::HostnameRefused => Impact::NotExported,
            Code::HostRewrite => Impact::Changed,
            Code::GrpcHostRewrite => Impact::Changed,
            Code::GrpcServiceName => Impact::NotExported,
            Code::GrpcAsHttp => Impact::Check,
            Code::BackendNamespaceAssumed => Impact::Check,
            Code::BackendUnresolved => Impact::NotExported,
            Code::BackendInvalid => Impact::NotExported,
            Code::BackendPortAssumed => Impact::Check,
            Code::ListenerPort => Impact::Check,
            Code::Http2AppProtocol => Impact::Check,
            Code::PriorityOrder => Impact::Changed,
            Code::OrderUndocumented => Impact::Changed,
            Code::SameRequests => Impact::Changed,
            Code::LatticeRegexPath => Impact::NotExported,
            Code::LatticeQueryMatch => Impact::NotExported,
            Code::LatticeHeaderCount => Impact::NotExported,
            Code::LatticeHeaderMatch => Impact::NotExported,
            Code::LatticeNoRewrite => Impact::Changed,
            Code::LatticeServicePerRoute => Impact::Changed,
            Code::LatticeGrpcHttps => Impact::Check,
        }
    }

    /// The code as written in reports and `--accept`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::PrefixSegments => "prefix-segments",
            Code::PrefixBarePath => "prefix-bare-path",
            Code::PathRefused => "path-refused",
            Code::RegexDialect => "regex-dialect",
            Code::HeaderName => "header-name",
            Code::HeaderInverted => "header-inverted",
            Code::HeaderRange => "header-range",
            Code::MatchedTwice => "matched-twice",
            Code::QueryName => "query-name",
            Code::HostnameSuffix => "hostname-suffix",
            Code::HostnameRefused => "hostname-refused",
            Code::HostRewrite => "host-rewrite",
            Code::GrpcHostRewrite => "grpc-host-rewrite",
            Code::GrpcServiceName => "grpc-service-name",
            Code::GrpcAsHttp => "grpc-as-http",
            Code::BackendNamespaceAssumed => "backend-namespace-assumed",
            Code::BackendUnresolved => "backend-unresolved",
            Code::BackendInvalid => "backend-invalid",
            Code::BackendPortAssumed => "backend-port-assumed",
            Code::ListenerPort => "listener-port",
            Code::Http2AppProtocol => "http2-app-protocol",
            Code::PriorityOrder => "priority-order",
            Code::OrderUndocumented => "order-undocumented",
            Code::SameRequests => "same-requests",
            Code::LatticeRegexPath => "lattice-regex-path",
            Code::LatticeQueryMatch => "lattice-query-match",
            Code::LatticeHeaderCount => "lattice-header-count",
            Code::LatticeHeaderMatch => "lattice-header-match",
            Code::LatticeNoRewrite => "lattice-no-rewrite",
            Code::LatticeServicePerRoute => "lattice-service-per-route",
            Code::LatticeGrpcHttps => "lattice-grpc-https",
        }
    }

    /// What of a request a finding of this code says Gateway API does differently; nothing
    /// for a finding to check, which says the export keeps App Mesh's behaviour.
    pub fn differs(self) -> &'static [Aspect] {
        match self.impact() {
            Impact::Check => &[],
            _ => match self {
                Code::HostRewrite | Code::GrpcHostRewrite => &[Aspect::Host],
                Code::LatticeNoRewrite => &[Aspect::Path, Aspect::Host],
                _ => &[Aspect::Backend],
            },
        }
    }

    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// The JSON report writes a code as `as_str` does: one name for each, in one place.
impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What of a request can differ between App Mesh and Gateway API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Aspect {
    /// Which backend answers, or whether one does (the status when none does).
    Backend,
    /// The path the backend is sent.
    Path,
    /// The Host the backend is sent.
    Host,
}

/// The requests a finding is about, among those App Mesh or Gateway API sends by its route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Requests {
    /// Every one.
    All,
    /// Those whose path (without the query) this regular expression matches whole.
    Path(String),
    /// Those whose Host (lower case, without a port) this regular expression matches whole.
    Host(String),
    /// Those the other route (`namespace/name`) also matches: one side sends them by this
    /// route, the other may by that one.
    SharedWith(String),
}

/// The difference a finding predicts: what differs, for which requests. A test or `verify`
/// counts a difference as announced only when a finding of a route involved predicts both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicts {
    pub differs: &'static [Aspect],
    pub requests: Requests,
}

/// Something of one GatewayRoute that Gateway API does not say the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `namespace/name` of the GatewayRoute.
    pub object: String,
    /// The GatewayRoute field concerned.
    pub field: String,
    pub code: Code,
    pub impact: Impact,
    pub problem: String,
    pub advice: String,
    /// The difference it predicts.
    pub predicts: Predicts,
    /// The team accepted this kind of finding (`--accept`): it does not count for `--strict`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
}

/// The objects to print and the findings to report.
#[derive(Debug, Default)]
pub struct Export {
    pub objects: Vec<Object>,
    pub findings: Vec<Finding>,
}

impl Export {
    /// Findings that drop a route or change its behaviour and were not accepted (what
    /// `--strict` refuses).
    pub fn losses(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.impact != Impact::Check && !f.accepted)
            .count()
    }

    /// Marks the findings of these codes accepted.
    pub fn accept(&mut self, codes: &[Code]) {
        for f in &mut self.findings {
            f.accepted |= codes.contains(&f.code);
        }
    }
}

/// The API resource of a Gateway API `kind` (HTTPRoute, GRPCRoute, ...) at [`GATEWAY_API`].
pub fn api_resource(kind: &str) -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: GROUP.into(),
        version: "v1".into(),
        api_version: GATEWAY_API.into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    }
}

/// One GatewayRoute's findings as they are made, and what else its objects need.
struct Findings<'a> {
    object: String,
    found: &'a mut Vec<Finding>,
    dropped: bool,
    /// Namespaces its backends are in, other than its own: each needs a ReferenceGrant.
    grants: BTreeSet<String>,
}

impl Finding {
    /// A finding of `code`, which predicts that difference for `requests`.
    pub fn about(
        object: String,
        field: &str,
        code: Code,
        problem: String,
        advice: &str,
        requests: Requests,
    ) -> Self {
        Finding {
            object,
            field: field.to_string(),
            code,
            impact: code.impact(),
            problem,
            advice: advice.to_string(),
            predicts: Predicts {
                differs: code.differs(),
                requests,
            },
            accepted: false,
        }
    }
}

impl Findings<'_> {
    fn note(&mut self, code: Code, field: &str, problem: String, advice: &str) {
        self.note_about(code, field, problem, advice, Requests::All);
    }

    fn note_about(
        &mut self,
        code: Code,
        field: &str,
        problem: String,
        advice: &str,
        requests: Requests,
    ) {
        self.dropped |= code.impact() == Impact::NotExported;
        let object = self.object.clone();
        self.found.push(Finding::about(
            object, field, code, problem, advice, requests,
        ));
    }
}

/// The App Mesh virtual gateway a route belongs to, as the namespace its objects go to sees it:
/// one Gateway each.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GatewayKey {
    namespace: String,
    mesh: String,
    mesh_owner: Option<String>,
    gateway: String,
}

impl GatewayKey {
    fn of(route: &GatewayRoute) -> GatewayKey {
        GatewayKey {
            namespace: route.metadata.namespace.clone().unwrap_or_default(),
            mesh: route.spec.mesh_name.clone(),
            mesh_owner: route.spec.mesh_owner.clone(),
            gateway: route.spec.virtual_gateway_name.clone(),
        }
    }
}

/// Each Gateway's name: the virtual gateway's, or, where virtual gateways of several meshes
/// share that name in one namespace, `<mesh>-<virtual gateway>` (with the owner account in
/// front for shared meshes), so that no two meshes' routes meet on one Gateway.
fn gateway_names(routes: &[GatewayRoute]) -> BTreeMap<GatewayKey, String> {
    let keys: BTreeSet<GatewayKey> = routes.iter().map(GatewayKey::of).collect();
    let mut by_name: BTreeMap<(String, String), Vec<&GatewayKey>> = BTreeMap::new();
    for key in &keys {
        by_name
            .entry((key.namespace.clone(), object_name(&key.gateway)))
            .or_default()
            .push(key);
    }
    let mut names = BTreeMap::new();
    for ((_, plain), keys) in by_name {
        for key in &keys {
            let name = if keys.len() == 1 {
                plain.clone()
            } else {
                let owner = key.mesh_owner.as_deref().map(|o| format!("{o}-"));
                object_name(&format!(
                    "{}{}-{}",
                    owner.unwrap_or_default(),
                    key.mesh,
                    key.gateway
                ))
            };
            names.insert((*key).clone(), name);
        }
    }
    names
}

/// What the checks across routes need to know of an exported route.
struct Exported {
    gateway: GatewayKey,
    /// The Gateway's name.
    parent: String,
    kind: RouteKind,
    precedence: Precedence,
    port: Option<i32>,
    /// The host names and matches it takes requests by.
    matches: (Vec<String>, Vec<RouteMatch>),
    /// The virtual gateway's listeners (protocol, port), as `import` recorded them.
    listeners: Vec<(String, i32)>,
    /// The listener protocol App Mesh served the route on (`http`, `http2`, `grpc`).
    protocol: &'static str,
    /// What it matches, to tell routes no request can take both of.
    matcher: Option<matching::Matcher>,
}

/// Every GatewayRoute's Gateway API objects (routes first, then Gateways) and findings.
pub fn export(routes: &[GatewayRoute], opts: &Options) -> Export {
    let mut out = Export::default();
    let mut exported: Vec<(String, Exported)> = Vec::new();
    let names = gateway_names(routes);
    // (namespace the Services are in, namespace of the routes) -> route kinds.
    let mut grants: BTreeMap<(String, String), BTreeSet<RouteKind>> = BTreeMap::new();
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
            grants: BTreeSet::new(),
        };
        let parent = &names[&GatewayKey::of(route)];
        let parent = ParentRef {
            name: parent.clone(),
            ..ParentRef::default()
        };
        let converted = mapped(route, parent, opts, &mut findings);
        if let Some((mut object_json, info)) = converted
            && !findings.dropped
        {
            if opts.gateway_class.is_some() {
                attach_to_listeners(&mut object_json, &info);
            }
            for to in std::mem::take(&mut findings.grants) {
                grants
                    .entry((to, info.gateway.namespace.clone()))
                    .or_default()
                    .insert(info.kind);
            }
            out.objects.push(Object::Route(Box::new(object_json)));
            exported.push((object, info));
        }
    }
    out.objects.extend(
        grants
            .into_iter()
            .map(|((to, from), kinds)| Object::ReferenceGrant(reference_grant(&to, &from, &kinds))),
    );
    order_findings(&exported, &mut out.findings);
    overlap_findings(&exported, &mut out.findings);
    if let Some(class) = &opts.gateway_class {
        // (recorded listener ports, ports routes match on) per Gateway.
        type Ports = (BTreeSet<i32>, BTreeSet<i32>);
        let mut gateways: BTreeMap<(String, String), Ports> = BTreeMap::new();
        for (_, e) in &exported {
            let (recorded, matched) = gateways
                .entry((e.gateway.namespace.clone(), e.parent.clone()))
                .or_default();
            recorded.extend(e.listeners.iter().map(|(_, port)| port));
            matched.extend(e.port);
        }
        for ((namespace, name), (recorded, matched)) in gateways {
            // The virtual gateway's own listeners where import recorded them, else one on
            // --gateway-port; then any other port a route matches on.
            let (mut listeners, served) = if recorded.is_empty() {
                let http = listener("http".into(), opts.gateway_port);
                (vec![http], BTreeSet::from([opts.gateway_port]))
            } else {
                (Vec::new(), BTreeSet::new())
            };
            let ports: BTreeSet<&i32> =
                recorded.iter().chain(matched.difference(&served)).collect();
            listeners.extend(ports.into_iter().map(|p| listener(format!("port-{p}"), *p)));
            out.objects.push(Object::Gateway(objects::Gateway {
                api_version: GATEWAY_API.into(),
                kind: "Gateway".into(),
                metadata: objects::metadata(&name, &namespace),
                spec: objects::GatewaySpec {
                    gateway_class_name: class.clone(),
                    listeners,
                },
            }));
        }
    }
    out.accept(&opts.accept);
    out
}

/// On a Gateway this export prints (its listeners named `port-<port>`), a route attaches to the
/// listeners App Mesh served it on: those of its protocol (an `httpRoute` on the virtual
/// gateway's `http` listeners, and so on), or the one its port match names. Attached to the
/// whole Gateway, an HTTPRoute would also take requests on the listeners App Mesh kept for
/// gRPC. Without recorded listeners, or with none of its protocol, it stays on the Gateway.
fn attach_to_listeners(object: &mut Route, info: &Exported) {
    let sections: Vec<i32> = match info.port {
        Some(port) => vec![port],
        None => info
            .listeners
            .iter()
            .filter(|(protocol, _)| protocol == info.protocol)
            .map(|(_, port)| *port)
            .collect(),
    };
    if info.listeners.is_empty() || sections.is_empty() {
        return;
    }
    let Some(parent) = object.spec.parent_refs.first().cloned() else {
        return;
    };
    object.spec.parent_refs = sections
        .into_iter()
        .map(|port| ParentRef {
            port: None,
            section_name: Some(format!("port-{port}")),
            ..parent.clone()
        })
        .collect();
}

/// One route mapped: its Gateway API object (`None` when a `notExported` finding drops it) and
/// the findings.
pub type Mapped = (Option<Box<Route>>, Vec<Finding>);

/// One GatewayRoute's HTTPRoute or GRPCRoute attached to `parent` (a Gateway API parentRef),
/// with its findings, as the operator's Gateway API backend serves it: the mapping `export`
/// makes, object by object. `None` when a `notExported` finding drops it. Checks across routes
/// (priority order, same requests) are `export`'s; the operator checks collisions itself
/// (`reconcile::gateways`).
pub fn route_object(route: &GatewayRoute, parent: ParentRef, opts: &Options) -> Mapped {
    let mut found = Vec::new();
    let mut findings = Findings {
        object: format!(
            "{}/{}",
            route.metadata.namespace.as_deref().unwrap_or_default(),
            route.metadata.name.as_deref().unwrap_or_default()
        ),
        found: &mut found,
        dropped: false,
        grants: BTreeSet::new(),
    };
    let object = mapped(route, parent, opts, &mut findings);
    let object = object
        .filter(|_| !findings.dropped)
        .map(|(object, _)| Box::new(object));
    for f in &mut found {
        f.accepted |= opts.accept.contains(&f.code);
    }
    (object, found)
}

/// `convert`, then the target's own limits.
fn mapped(
    route: &GatewayRoute,
    parent: ParentRef,
    opts: &Options,
    f: &mut Findings,
) -> Option<(Route, Exported)> {
    let mut converted = convert(route, parent, opts, f);
    if let Some((object_json, _)) = converted.as_mut()
        && opts.target == Target::Lattice
    {
        lattice::adapt(object_json, route_field(route), f);
    }
    converted
}

/// A finding for every pair of routes on one gateway that can take the same request and that
/// App Mesh orders one way and Gateway API's precedence the other (`priority-order`), or whose
/// order in App Mesh AWS did not document (`order-undocumented`, once per pair).
fn order_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (i, (a_name, a)) in exported.iter().enumerate() {
        for (j, (b_name, b)) in exported.iter().enumerate() {
            let (Some(x), Some(y)) = (&a.matcher, &b.matcher) else {
                continue;
            };
            // Exactly the same requests: `same-requests` says it.
            let same = a.matches == b.matches && a.port == b.port;
            if i == j || a.gateway != b.gateway || a.kind != b.kind || same || x.disjoint(y) {
                continue;
            }
            // Equal matches where one route listens on every port and the other on one: on
            // that port Gateway API orders the two by age and name, not by priority.
            let tie = b.precedence == a.precedence
                && a.matches == b.matches
                && (a.port.is_none() || b.port.is_none());
            let shown = |p: Option<i32>| p.map_or("none".to_string(), |p| p.to_string());
            let (pa, pb) = (shown(x.priority), shown(y.priority));
            let shared = || Requests::SharedWith(b_name.clone());
            match x.app_mesh_first(y) {
                Some(true) if b.precedence > a.precedence || tie => {
                    let why = if tie {
                        "Gateway API orders routes with the same match by age and name, not priority"
                    } else {
                        "its match is more specific"
                    };
                    found.push(Finding::about(
                        a_name.clone(),
                        "spec.priority",
                        Code::PriorityOrder,
                        format!(
                            "App Mesh tries this route before {b_name} (priority {pa}, then {pb}, \
                             the longer path first between routes without one); Gateway API may \
                             try {b_name} first where both match: {why}"
                        ),
                        "make the matches of the two routes disjoint, or merge them into one \
                         route whose rules Gateway API orders as intended",
                        shared(),
                    ));
                }
                None if i < j => {
                    let gateway_api = match a.precedence.cmp(&b.precedence) {
                        std::cmp::Ordering::Greater => "tries this route first".to_string(),
                        std::cmp::Ordering::Less => format!("tries {b_name} first"),
                        std::cmp::Ordering::Equal => "orders the two by age, then name".into(),
                    };
                    found.push(Finding::about(
                        a_name.clone(),
                        "spec.priority",
                        Code::OrderUndocumented,
                        format!(
                            "this route and {b_name} can take the same requests, and AWS did not \
                             document which of the two App Mesh tried first (priorities {pa} and \
                             {pb}; App Mesh is documented to order by priority, and routes \
                             without one by the length of their paths); Gateway API {gateway_api}"
                        ),
                        "give both routes a priority, in the order App Mesh served them",
                        shared(),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// The GatewayRoute field that holds the route.
fn route_field(route: &GatewayRoute) -> &'static str {
    match (&route.spec.http_route, &route.spec.http2_route) {
        (Some(_), _) => "spec.httpRoute",
        (None, Some(_)) => "spec.http2Route",
        (None, None) => "spec.grpcRoute",
    }
}

/// The ReferenceGrant in `to` that lets routes of `kinds` in `from` send to its Services.
fn reference_grant(to: &str, from: &str, kinds: &BTreeSet<RouteKind>) -> ReferenceGrant {
    let from_list = kinds
        .iter()
        .map(|kind| GrantFrom {
            group: GROUP.into(),
            kind: kind.as_str().into(),
            namespace: from.into(),
        })
        .collect();
    ReferenceGrant {
        api_version: format!("{GROUP}/v1beta1"),
        kind: "ReferenceGrant".into(),
        metadata: objects::metadata(&object_name(&format!("meshroute-from-{from}")), to),
        spec: ReferenceGrantSpec {
            from: from_list,
            to: vec![GrantTo {
                group: String::new(),
                kind: "Service".into(),
            }],
        },
    }
}

/// A Gateway listener of `export gateway-api`'s.
fn listener(name: String, port: i32) -> Listener {
    Listener {
        name,
        protocol: "HTTP".into(),
        port,
    }
}

/// A finding for every route that takes exactly the requests an earlier route on the same
/// Gateway (and listener) takes: Gateway API sends them to one of the two only.
fn overlap_findings(exported: &[(String, Exported)], found: &mut Vec<Finding>) {
    for (i, (b_name, b)) in exported.iter().enumerate() {
        let same = exported[..i].iter().find(|(_, a)| {
            a.gateway == b.gateway && a.kind == b.kind && a.port == b.port && a.matches == b.matches
        });
        if let Some((a_name, _)) = same {
            found.push(Finding::about(
                b_name.clone(),
                "spec",
                Code::SameRequests,
                format!(
                    "{a_name} takes exactly the same requests on the same Gateway {}; Gateway API \
                     sends them to only one of the two (the older route, then by name)",
                    b.parent
                ),
                "make the two routes' matches differ, or delete the one that should not serve",
                Requests::SharedWith(a_name.clone()),
            ));
        }
    }
}

/// One GatewayRoute's HTTPRoute or GRPCRoute attached to `parent` (a parentRef without its
/// port), unless it cannot be exported.
fn convert(
    route: &GatewayRoute,
    mut parent: ParentRef,
    opts: &Options,
    f: &mut Findings,
) -> Option<(Route, Exported)> {
    let namespace = route.metadata.namespace.clone().unwrap_or_default();
    let recorded = Backend::of(route);
    let spec = &route.spec;
    let source = format!(
        "GatewayRoute {}; App Mesh route {}/{}/{}",
        f.object,
        spec.mesh_name,
        spec.virtual_gateway_name,
        route.app_mesh_name()
    );
    let (kind, body, precedence, port) = if let Some(http) = &spec.http_route {
        let (body, precedence, port) =
            http::route("httpRoute", http, &namespace, recorded.as_ref(), opts, f);
        (RouteKind::Http, body, precedence, port)
    } else if let Some(http) = &spec.http2_route {
        let (body, precedence, port) =
            http::route("http2Route", http, &namespace, recorded.as_ref(), opts, f);
        f.note(
            Code::Http2AppProtocol,
            "spec.http2Route",
            "App Mesh spoke HTTP/2 to the target; Gateway API takes the backend's protocol \
             from its Service port"
                .into(),
            "set `appProtocol: kubernetes.io/h2c` on the Service port",
        );
        (RouteKind::Http, body, precedence, port)
    } else if let Some(grpc) = &spec.grpc_route {
        grpc::route(grpc, &namespace, recorded.as_ref(), opts, f)
    } else {
        return None;
    };
    let gateway = parent.name.clone();
    parent.port = port;
    let mut body = body;
    body.parent_refs = vec![parent];
    let matches = (
        body.hostnames.clone(),
        body.rules
            .first()
            .map(|r| r.matches.clone())
            .unwrap_or_default(),
    );
    let object = Route {
        api_version: GATEWAY_API.into(),
        kind,
        metadata: objects::annotated(
            route.metadata.name.as_deref().unwrap_or_default(),
            &namespace,
            BTreeMap::from([(EXPORTED_FROM_ANNOTATION.to_string(), source)]),
        ),
        spec: body,
        status: None,
    };
    Some((
        object,
        Exported {
            gateway: GatewayKey::of(route),
            parent: gateway,
            kind,
            precedence,
            port,
            matches,
            listeners: recorded::listeners(route)
                .iter()
                .map(|l| (l.protocol.to_string(), l.port))
                .collect(),
            matcher: matching::Matcher::of(spec),
            protocol: match (&spec.http_route, &spec.http2_route) {
                (Some(_), _) => "http",
                (None, Some(_)) => "http2",
                (None, None) => "grpc",
            },
        },
    ))
}
