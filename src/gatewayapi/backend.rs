//! The Service a route's target virtual service stands for.

use super::objects::BackendRef;

use super::valid::is_label;
use super::{Code, Findings, Options, Service};
use crate::api::GatewayRouteTarget;
use crate::api::recorded::Backend;

/// The Service a cluster DNS name stands for: `<service>.<namespace>`, optionally followed by
/// `.svc` and `.svc.cluster.local`.
fn cluster_service(host: &str) -> Option<Service> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let short = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(&host);
    match short.split('.').collect::<Vec<_>>()[..] {
        [name, ns] if is_label(name) && is_label(ns) => Some(Service {
            name: name.into(),
            namespace: Some(ns.into()),
            port: None,
        }),
        _ => None,
    }
}

/// The Service behind a target virtual service, or `None` with a finding. In order: the
/// `--service-map` entry; the DNS host name of the service's virtual node, as `import`
/// recorded it (`<service>.<namespace>[.svc[.cluster.local]]`); the virtual service's own name.
pub(super) fn backend(
    target: &GatewayRouteTarget,
    namespace: &str,
    recorded: Option<&Backend>,
    opts: &Options,
    field: &str,
    f: &mut Findings,
) -> Option<BackendRef> {
    let vs = &target.virtual_service.virtual_service_name;
    let discovered = recorded
        .and_then(|r| r.dns_hostname.as_deref())
        .and_then(cluster_service);
    let service = match (opts.services.get(vs), discovered) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s,
        (None, None) => {
            if let Some(map) = recorded.and_then(|r| r.cloud_map.as_ref()) {
                f.note(
                    Code::BackendUnresolved,
                    field,
                    format!(
                        "virtual service {vs} is Cloud Map service {} in namespace {}, which names \
                         no Kubernetes Service",
                        map.service_name, map.namespace_name
                    ),
                    "map it to the Service that serves it with --service-map",
                );
                return None;
            }
            // DNS names are case-insensitive (RFC 4343) and Kubernetes names lower case:
            // `serviceA.shop` is Service `servicea` in `shop`.
            let lower = vs.to_ascii_lowercase();
            let short = lower.strip_suffix(".svc.cluster.local").unwrap_or(&lower);
            let parts: Vec<&str> = short.split('.').collect();
            match parts[..] {
                [name, ns] => Service {
                    name: name.into(),
                    namespace: Some(ns.into()),
                    port: None,
                },
                [name] => {
                    f.note(
                        Code::BackendNamespaceAssumed,
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
                    let dns = match recorded {
                        Some(Backend {
                            dns_hostname: Some(h),
                            ..
                        }) => format!(" (its virtual node's DNS name is {h})"),
                        Some(Backend {
                            provider: Some(p), ..
                        }) => format!(" (its provider is {p})"),
                        _ => String::new(),
                    };
                    f.note(
                        Code::BackendUnresolved,
                        field,
                        format!("virtual service {vs} is not a <service>.<namespace>.svc.cluster.local name{dns}"),
                        "map it to its Service with --service-map",
                    );
                    return None;
                }
            }
        }
    };
    if let Some(node) = recorded
        .and_then(|r| r.provider.as_deref())
        .and_then(|p| p.strip_prefix("virtualNode/"))
    {
        node_settings(node, recorded, field, f);
    }
    reference(
        &service,
        vs,
        (target.port, recorded.and_then(|r| r.port)),
        namespace,
        opts,
        field,
        f,
    )
}

/// The Service behind a virtual node a virtual router's route targets, or `None` with a
/// finding: the `--service-map` entry of the node's name, else the node's DNS host name as
/// `import` recorded it. A node's name is no DNS name, so nothing is taken from it.
pub(super) fn node(
    node: &str,
    port: Option<i32>,
    recorded: Option<&Backend>,
    namespace: &str,
    opts: &Options,
    field: &str,
    f: &mut Findings,
) -> Option<BackendRef> {
    let discovered = recorded
        .and_then(|r| r.dns_hostname.as_deref())
        .and_then(cluster_service);
    let Some(service) = opts.services.get(node).cloned().or(discovered) else {
        let known = match recorded {
            Some(Backend {
                cloud_map: Some(map),
                ..
            }) => format!(
                "is Cloud Map service {} in namespace {}",
                map.service_name, map.namespace_name
            ),
            Some(Backend {
                dns_hostname: Some(h),
                ..
            }) => format!("has the DNS name {h}"),
            _ => "is not described by the input".to_string(),
        };
        f.note(
            Code::BackendUnresolved,
            field,
            format!("virtual node {node} {known}, which names no Kubernetes Service"),
            "map the node to the Service that serves it with --service-map NODE=NAMESPACE/SERVICE",
        );
        return None;
    };
    node_settings(node, recorded, field, f);
    reference(
        &service,
        node,
        (port, recorded.and_then(|r| r.port)),
        namespace,
        opts,
        field,
        f,
    )
}

/// A finding when the virtual node `recorded` stands for had listener settings that acted on
/// the requests sent to it.
pub(super) fn node_settings(node: &str, recorded: Option<&Backend>, field: &str, f: &mut Findings) {
    let Some(settings) = recorded.map(|r| &r.settings).filter(|s| !s.is_empty()) else {
        return;
    };
    f.note(
        Code::NodeSettingsDropped,
        field,
        format!(
            "virtual node {node}'s listener has {}: App Mesh applied them to the requests sent to \
             it; a Service and a route say none of them",
            settings.join(", ")
        ),
        "set what still matters in the implementation's policies or the backend itself",
    );
}

/// The reference to `service` for `what` (a virtual service or node), on the first port known:
/// the target's, the `--service-map` entry's, then its provider's (`(target, provider)`), with
/// a ReferenceGrant noted when it lives in another namespace.
fn reference(
    service: &Service,
    what: &str,
    (target_port, provider_port): (Option<i32>, Option<i32>),
    namespace: &str,
    opts: &Options,
    field: &str,
    f: &mut Findings,
) -> Option<BackendRef> {
    let ns = service.namespace.as_deref().unwrap_or(namespace);
    if !is_label(ns) || service.name.is_empty() || service.name.len() > 253 {
        f.note(
            Code::BackendInvalid,
            field,
            format!("{}/{} is not a valid Service reference", ns, service.name),
            "map the virtual service to its Service with --service-map",
        );
        return None;
    }
    let port = match target_port.or(service.port).or(provider_port) {
        Some(port) => port,
        None => {
            f.note(
                Code::BackendPortAssumed,
                field,
                format!("no port is known for {what}; took {}", opts.backend_port),
                "give the port in --service-map, or set --backend-port",
            );
            opts.backend_port
        }
    };
    let mut backend = BackendRef {
        name: service.name.clone(),
        namespace: None,
        port: Some(port),
        weight: None,
    };
    if ns != namespace {
        backend.namespace = Some(ns.to_string());
        // Printed with the routes: the ReferenceGrant that lets the route refer there.
        f.grants.insert(ns.to_string());
    }
    Some(backend)
}

/// The Service (`namespace/name:port`) the export sends what reaches a route's target virtual
/// service to, or `None` where it names none (a finding says why): how `verify` names App
/// Mesh's answers so that they compare with the backendRefs Gateway API sends to.
pub fn target_service(route: &crate::api::GatewayRoute, opts: &Options) -> Option<String> {
    let spec = &route.spec;
    let target = match (&spec.http_route, &spec.http2_route, &spec.grpc_route) {
        (Some(r), _, _) | (None, Some(r), _) => &r.action.target,
        (None, None, Some(r)) => &r.action.target,
        (None, None, None) => return None,
    };
    let namespace = route.metadata.namespace.as_deref().unwrap_or_default();
    let recorded = Backend::of(route);
    let mut scratch = Vec::new();
    let reference = backend(
        target,
        namespace,
        recorded.as_ref(),
        opts,
        "",
        &mut Findings::scratch(&mut scratch),
    )?;
    Some(shown(&reference, namespace))
}

/// The Service (`namespace/name:port`) the export sends a virtual router's requests for its
/// virtual node `node` to (`port` the weighted target's), or `None`.
pub fn node_service(
    node_name: &str,
    port: Option<i32>,
    router: &Backend,
    namespace: &str,
    opts: &Options,
) -> Option<String> {
    let mut scratch = Vec::new();
    let reference = node(
        node_name,
        port,
        router.nodes.get(node_name),
        namespace,
        opts,
        "",
        &mut Findings::scratch(&mut scratch),
    )?;
    Some(shown(&reference, namespace))
}

/// A backendRef of a route in `namespace` as `namespace/name:port`.
pub fn shown(reference: &BackendRef, namespace: &str) -> String {
    format!(
        "{}/{}:{}",
        reference.namespace.as_deref().unwrap_or(namespace),
        reference.name,
        reference
            .port
            .map_or_else(|| "-".to_string(), |p| p.to_string())
    )
}
