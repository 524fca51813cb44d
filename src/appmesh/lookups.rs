//! What a gateway route depends on in App Mesh, read for the reconciler and `import`: whether
//! its mesh, virtual gateway and target virtual service exist (after a 404, which App Mesh's
//! message does not name reliably), a virtual gateway's listeners, and what a virtual service
//! stands for (its provider, service discovery and port).

use aws_sdk_appmesh::types as sdk;

use super::client::{AppMesh, RouteKey};
use super::error::{AppMeshError, ErrorKind};
use super::route_spec::route_spec_from_sdk;
use crate::api::recorded;

/// Which dependency of a route is missing, found by describing each in turn.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Missing {
    Mesh(String),
    VirtualGateway(String),
    VirtualService(String),
    /// Everything the route needs exists; App Mesh's 404 named something else.
    Unknown,
}

impl Missing {
    /// What a route needs in App Mesh, in the order it needs them: its mesh, the virtual
    /// gateway in that mesh, then its target virtual service.
    pub fn needed_by(key: &RouteKey, target: &str) -> [Missing; 3] {
        [
            Missing::Mesh(key.mesh.clone()),
            Missing::VirtualGateway(key.gateway.clone()),
            Missing::VirtualService(target.to_string()),
        ]
    }
}

impl AppMesh {
    /// What the virtual service `service` stands for (for `import`): its provider, and that
    /// provider's service discovery and listener port; for a virtual router, its routes and
    /// what each virtual node they target stands for. One Describe of the service and one of
    /// its provider, and for a router a ListRoutes, a DescribeRoute per route and a Describe
    /// per target node; a service or provider App Mesh does not have is an empty record.
    pub async fn backend_of(
        &self,
        mesh: &str,
        owner: Option<&str>,
        service: &str,
    ) -> Result<recorded::Backend, AppMeshError> {
        let owner = owner.map(String::from);
        let provider = match self.describe_service(mesh, &owner, service).await {
            Ok(out) => out
                .virtual_service
                .and_then(|s| s.spec)
                .and_then(|s| s.provider),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match provider {
            Some(sdk::VirtualServiceProvider::VirtualNode(node)) => {
                self.node_of(mesh, &owner, &node.virtual_node_name).await
            }
            Some(sdk::VirtualServiceProvider::VirtualRouter(router)) => {
                self.router_of(mesh, &owner, &router.virtual_router_name)
                    .await
            }
            _ => Ok(recorded::Backend::default()),
        }
    }

    /// What the virtual node `name` stands for: its service discovery and listener port.
    async fn node_of(
        &self,
        mesh: &str,
        owner: &Option<String>,
        name: &str,
    ) -> Result<recorded::Backend, AppMeshError> {
        let mut backend = recorded::Backend {
            provider: Some(format!("virtualNode/{name}")),
            ..Default::default()
        };
        let spec = match send!(self, "DescribeVirtualNode", |c| c
            .describe_virtual_node()
            .mesh_name(mesh)
            .set_mesh_owner(owner.clone())
            .virtual_node_name(name))
        .await
        {
            Ok(out) => out.virtual_node.and_then(|n| n.spec),
            // A route may target a node deleted since: it stands for nothing.
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(spec) = spec {
            match spec.service_discovery {
                Some(sdk::ServiceDiscovery::Dns(dns)) => {
                    backend.dns_hostname = Some(dns.hostname);
                }
                Some(sdk::ServiceDiscovery::AwsCloudMap(map)) => {
                    backend.cloud_map = Some(recorded::CloudMap {
                        namespace_name: map.namespace_name,
                        service_name: map.service_name,
                    });
                }
                _ => {}
            }
            let listeners = spec.listeners.unwrap_or_default();
            backend.port = listeners
                .iter()
                .find_map(|l| l.port_mapping.as_ref().map(|p| p.port));
            let set = [
                listeners.iter().any(|l| l.tls.is_some()),
                listeners.iter().any(|l| l.connection_pool.is_some()),
                listeners.iter().any(|l| l.outlier_detection.is_some()),
                listeners.iter().any(|l| l.timeout.is_some()),
            ];
            backend.settings = recorded::NODE_SETTINGS
                .into_iter()
                .zip(set)
                .filter(|(_, set)| *set)
                .map(|(name, _)| name.to_string())
                .collect();
        }
        Ok(backend)
    }

    /// What the virtual router `name` does: its listener port, its routes (every page) and
    /// what each node they target stands for.
    async fn router_of(
        &self,
        mesh: &str,
        owner: &Option<String>,
        name: &str,
    ) -> Result<recorded::Backend, AppMeshError> {
        let mapping = send!(self, "DescribeVirtualRouter", |c| c
            .describe_virtual_router()
            .mesh_name(mesh)
            .set_mesh_owner(owner.clone())
            .virtual_router_name(name))
        .await?
        .virtual_router
        .and_then(|r| r.spec)
        .and_then(|s| s.listeners)
        .into_iter()
        .flatten()
        .find_map(|l| l.port_mapping);
        let port = mapping.as_ref().map(|p| p.port);
        let protocol = mapping.map(|p| p.protocol.as_str().to_string());
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = send!(self, "ListRoutes", |c| c
                .list_routes()
                .mesh_name(mesh)
                .set_mesh_owner(owner.clone())
                .virtual_router_name(name)
                .limit(super::client::PAGE)
                .set_next_token(token.clone()))
            .await?;
            names.extend(page.routes.into_iter().map(|r| r.route_name));
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        let mut routes = Vec::new();
        for route in names {
            let spec = send!(self, "DescribeRoute", |c| c
                .describe_route()
                .mesh_name(mesh)
                .set_mesh_owner(owner.clone())
                .virtual_router_name(name)
                .route_name(&route))
            .await?
            .route
            .and_then(|r| r.spec);
            let Some(spec) = spec else { continue };
            let spec = route_spec_from_sdk(&spec).map_err(super::client::unreadable)?;
            routes.push(recorded::RouterRoute { name: route, spec });
        }
        let mut nodes = std::collections::BTreeMap::new();
        for node in routes.iter().flat_map(recorded::RouterRoute::targets) {
            if !nodes.contains_key(node) {
                nodes.insert(node.to_string(), self.node_of(mesh, owner, node).await?);
            }
        }
        Ok(recorded::Backend {
            provider: Some(format!("virtualRouter/{name}")),
            port,
            protocol,
            routes,
            nodes,
            ..Default::default()
        })
    }

    async fn describe_gateway(
        &self,
        mesh: &str,
        owner: &Option<String>,
        gateway: &str,
    ) -> Result<
        aws_sdk_appmesh::operation::describe_virtual_gateway::DescribeVirtualGatewayOutput,
        AppMeshError,
    > {
        send!(self, "DescribeVirtualGateway", |c| c
            .describe_virtual_gateway()
            .mesh_name(mesh)
            .set_mesh_owner(owner.clone())
            .virtual_gateway_name(gateway))
        .await
    }

    async fn describe_service(
        &self,
        mesh: &str,
        owner: &Option<String>,
        service: &str,
    ) -> Result<
        aws_sdk_appmesh::operation::describe_virtual_service::DescribeVirtualServiceOutput,
        AppMeshError,
    > {
        send!(self, "DescribeVirtualService", |c| c
            .describe_virtual_service()
            .mesh_name(mesh)
            .set_mesh_owner(owner.clone())
            .virtual_service_name(service))
        .await
    }

    /// A virtual gateway's listeners, `(protocol, port)` each (for `import`).
    pub async fn gateway_listeners(
        &self,
        mesh: &str,
        owner: Option<&str>,
        gateway: &str,
    ) -> Result<Vec<(String, i32)>, AppMeshError> {
        let owner = owner.map(String::from);
        let out = self.describe_gateway(mesh, &owner, gateway).await?;
        Ok(out
            .virtual_gateway
            .and_then(|g| g.spec)
            .map(|s| s.listeners)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| l.port_mapping)
            .map(|p| (p.protocol.as_str().to_string(), p.port))
            .collect())
    }

    /// After a 404 on create or update: which of the mesh, the virtual gateway and the target
    /// virtual service is missing. Asked of App Mesh rather than read from its message, whose
    /// wording is not part of the API.
    pub async fn find_missing(
        &self,
        key: &RouteKey,
        target: &str,
    ) -> Result<Missing, AppMeshError> {
        for what in Missing::needed_by(key, target) {
            if !self
                .exists(&key.mesh, key.mesh_owner.as_deref(), &what)
                .await?
            {
                return Ok(what);
            }
        }
        Ok(Missing::Unknown)
    }

    /// Whether the mesh, virtual gateway or virtual service `what` (in `mesh`) exists: one
    /// Describe call.
    pub async fn exists(
        &self,
        mesh: &str,
        owner: Option<&str>,
        what: &Missing,
    ) -> Result<bool, AppMeshError> {
        let owner = owner.map(String::from);
        let absent = match what {
            Missing::Mesh(_) => is_not_found(
                &send!(self, "DescribeMesh", |c| c
                    .describe_mesh()
                    .mesh_name(mesh)
                    .set_mesh_owner(owner.clone()))
                .await,
            )?,
            Missing::VirtualGateway(gateway) => {
                is_not_found(&self.describe_gateway(mesh, &owner, gateway).await)?
            }
            Missing::VirtualService(service) => {
                is_not_found(&self.describe_service(mesh, &owner, service).await)?
            }
            Missing::Unknown => false,
        };
        Ok(!absent)
    }
}

fn is_not_found<T>(result: &Result<T, AppMeshError>) -> Result<bool, AppMeshError> {
    match result {
        Ok(_) => Ok(false),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e.clone()),
    }
}
