//! The mapping from GatewayRoutes to Gateway API objects: `HTTPRoute`s (http, http2) and
//! `GRPCRoute`s (grpc) that keep what an App Mesh gateway does with a request, not just its
//! fields, and a finding for everything Gateway API cannot say. Pure: reading GatewayRoutes and
//! printing or applying the objects belong to its users (`meshroute export gateway-api`).
//!
//! App Mesh behaviour kept on purpose: a gateway rewrites the matched prefix to `/` and the Host
//! header to the target virtual service's name unless the route turns that off; both become an
//! explicit `URLRewrite` filter. The table in docs/migration.md lists every mapping row; each
//! row has a golden case in tests/fixtures/export (`tests/export_cases.rs`).

mod across;
pub mod args;
mod backend;
mod findings;
mod grpc;
mod http;
mod lattice;
mod matches;
pub mod objects;
mod precedence;
mod router;
#[cfg(test)]
mod tests;
mod valid;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::api::matching;
use crate::api::ownership::EXPORTED_FROM_ANNOTATION;
use crate::api::recorded::{self, Backend};
use crate::api::{GatewayRoute, object_name};
use across::{order_findings, overlap_findings, protocol_findings};
pub use backend::{node_service, shown, target_service};
use findings::Findings;
pub use findings::{Aspect, Code, Finding, Impact, Predicts, Requests};
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
    /// The implementation supports the experimental HTTPRoute `retry` (GEP-1731).
    pub experimental_retry: bool,
    pub gateway_class: Option<String>,
    pub gateway_port: i32,
    pub services: BTreeMap<String, Service>,
    pub backend_port: i32,
    /// Finding codes a team has reviewed and accepts.
    pub accept: Vec<Code>,
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

/// The Gateway (namespace, name) the objects of each route (`namespace/name`) attach to.
pub fn gateways(routes: &[GatewayRoute]) -> BTreeMap<String, (String, String)> {
    let names = gateway_names(routes);
    routes
        .iter()
        .map(|route| {
            let key = GatewayKey::of(route);
            let object = format!(
                "{}/{}",
                key.namespace,
                route.metadata.name.as_deref().unwrap_or_default()
            );
            let name = names[&key].clone();
            (object, (key.namespace, name))
        })
        .collect()
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
    /// Attached to the whole Gateway (no listener named, no port): it takes the requests of
    /// every listener.
    whole_gateway: bool,
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
            let mut info = info;
            info.whole_gateway = (object_json.spec.parent_refs.iter())
                .any(|p| p.section_name.is_none() && p.port.is_none());
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
    protocol_findings(&exported, &mut out.findings);
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
            whole_gateway: port.is_none(),
            protocol: match (&spec.http_route, &spec.http2_route) {
                (Some(_), _) => "http",
                (None, Some(_)) => "http2",
                (None, None) => "grpc",
            },
        },
    ))
}
