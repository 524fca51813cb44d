//! The Service a route's target virtual service stands for.

use serde_json::{Value, json};

use super::valid::is_label;
use super::{Code, Findings, Options, Service};
use crate::api::GatewayRouteTarget;

/// The Service behind a target virtual service, or `None` with a finding.
pub(super) fn backend(
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
                    f.note(
                        Code::BackendUnresolved,
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
            Code::BackendInvalid,
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
                Code::BackendPortAssumed,
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
        // Printed with the routes: the ReferenceGrant that lets the route refer there.
        f.grants.insert(ns.to_string());
    }
    Some(backend)
}
