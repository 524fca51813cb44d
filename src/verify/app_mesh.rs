//! App Mesh's answer to a request: the emulator's routing model (`appmesh_routing`, the one the
//! emulator serves with) over the GatewayRoutes of each virtual gateway, then the virtual
//! router behind the target virtual service where `import` recorded its routes. Backends are
//! named by the Service the export sends the same virtual service or node to, so that they
//! compare with Gateway API's backendRefs.

use std::collections::HashMap;

use appmesh_routing::gateway::{Incoming, Protocol, StoredRoute, Table};
use appmesh_routing::router;

use super::answer::{Answer, Taken};
use super::request::Request;
use crate::api::GatewayRoute;
use crate::api::recorded::Backend;
use crate::gatewayapi::{self, Options};

/// A virtual gateway: (mesh owner, mesh, virtual gateway).
type Key = (Option<String>, String, String);

/// What App Mesh knows of a route besides its spec.
struct Known {
    key: Key,
    namespace: String,
    /// The virtual router behind the route's virtual service, as `import` recorded it, and
    /// its routes as the router model takes them.
    router: Option<(Backend, Vec<StoredRoute>)>,
    /// The Service the route's target stands for.
    service: Option<String>,
    target: String,
}

/// Every virtual gateway's routes as App Mesh stored them.
pub struct AppMesh {
    gateways: HashMap<Key, Vec<StoredRoute>>,
    known: HashMap<String, Known>,
    opts: Options,
}

impl AppMesh {
    pub fn new(routes: &[GatewayRoute], opts: &Options) -> AppMesh {
        let mut gateways: HashMap<Key, Vec<StoredRoute>> = HashMap::new();
        let mut known = HashMap::new();
        for route in routes {
            let namespace = route.metadata.namespace.clone().unwrap_or_default();
            let name = format!(
                "{namespace}/{}",
                route.metadata.name.as_deref().unwrap_or_default()
            );
            let key = (
                route.spec.mesh_owner.clone(),
                route.spec.mesh_name.clone(),
                route.spec.virtual_gateway_name.clone(),
            );
            let spec = serde_json::to_value(&route.spec).unwrap_or_default();
            let target = ["httpRoute", "http2Route", "grpcRoute"]
                .iter()
                .find_map(|k| {
                    spec[k]["action"]["target"]["virtualService"]["virtualServiceName"].as_str()
                })
                .unwrap_or_default()
                .to_string();
            let created_at = route
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(0.0, |t| t.0.as_second() as f64);
            gateways.entry(key.clone()).or_default().push(StoredRoute {
                name: name.clone(),
                spec,
                created_at,
            });
            known.insert(
                name,
                Known {
                    key,
                    namespace,
                    router: router_of(route),
                    service: gatewayapi::target_service(route, opts),
                    target,
                },
            );
        }
        AppMesh {
            gateways,
            known,
            opts: opts.clone(),
        }
    }

    /// App Mesh's answer to each request, sent to the virtual gateway of the route it was made
    /// from.
    pub fn answers(&self, requests: &[Request]) -> Vec<Taken> {
        let mut tables: HashMap<(&Key, Protocol), Table> = HashMap::new();
        requests
            .iter()
            .map(|req| {
                let Some(known) = self.known.get(&req.from) else {
                    return Taken::status(404);
                };
                let table = tables.entry((&known.key, req.protocol)).or_insert_with(|| {
                    Table::new(&self.gateways[&known.key], req.protocol.route_kind())
                });
                self.answer(table, req)
            })
            .collect()
    }

    fn answer(&self, table: &Table, req: &Request) -> Taken {
        let incoming = Incoming {
            method: &req.method,
            path_and_query: &req.path,
            authority: Some(&req.host),
            headers: &req.headers,
            listener_port: req.port,
            protocol: req.protocol,
        };
        let Some(routed) = table.route(&incoming) else {
            return Taken::status(404);
        };
        let known = &self.known[&routed.route];
        let host = routed.host.clone().unwrap_or_default();
        let sent = |backends: Vec<(String, u64)>, path: &str, host: &str| Taken {
            answer: Answer::Sent {
                backends,
                path: path.to_string(),
                host: host.to_string(),
            },
            by: Some(routed.route.clone()),
        };
        let Some((router, stored)) = &known.router else {
            let service = known
                .service
                .clone()
                .unwrap_or_else(|| format!("virtual service {} (no Service)", known.target));
            return sent(vec![(service, 1)], &routed.path_and_query, &host);
        };
        // The router sees what the gateway forwards, on its own listener's port.
        let through = Incoming {
            path_and_query: &routed.path_and_query,
            authority: routed.host.as_deref(),
            listener_port: router
                .port
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(req.port),
            ..incoming
        };
        let protocol = router.protocol.as_deref().unwrap_or(req.protocol.name());
        let Some(taken) = router::take(stored, protocol, &through) else {
            return Taken {
                by: Some(routed.route.clone()),
                ..Taken::status(404)
            };
        };
        // Each weighted target's port, in the order `take` lists the targets.
        let ports: Vec<Option<i32>> = stored
            .iter()
            .find(|r| r.name == taken.route)
            .and_then(|r| {
                ["httpRoute", "http2Route", "grpcRoute", "tcpRoute"]
                    .iter()
                    .find_map(|k| r.spec[k]["action"]["weightedTargets"].as_array())
            })
            .into_iter()
            .flatten()
            .map(|t| t["port"].as_i64().and_then(|p| i32::try_from(p).ok()))
            .collect();
        let backends = taken
            .targets
            .iter()
            .enumerate()
            .map(|(i, (node, weight))| {
                let port = ports.get(i).copied().flatten();
                let service =
                    gatewayapi::node_service(node, port, router, &known.namespace, &self.opts)
                        .unwrap_or_else(|| format!("virtual node {node} (no Service)"));
                (service, *weight)
            })
            .collect();
        sent(backends, &routed.path_and_query, &host)
    }
}

/// The recorded virtual router behind `route`'s virtual service, with its routes, once per
/// route rather than per request; none when the service has no router or no route recorded.
fn router_of(route: &GatewayRoute) -> Option<(Backend, Vec<StoredRoute>)> {
    let backend = Backend::of(route).filter(|r| {
        r.provider
            .as_deref()
            .is_some_and(|p| p.starts_with("virtualRouter/"))
            && !r.routes.is_empty()
    })?;
    let routes = backend
        .routes
        .iter()
        .map(|r| StoredRoute {
            name: r.name.clone(),
            spec: r.spec.clone(),
            created_at: 0.0,
        })
        .collect();
    Some((backend, routes))
}
