//! The routes of virtual routers (create, describe, update, delete, list), and the view of a
//! virtual service's provider its gateways' data plane follows a request through.

use super::*;

/// The route kinds of a virtual router's route spec.
pub const ROUTE_KINDS: [&str; 4] = ["grpcRoute", "http2Route", "httpRoute", "tcpRoute"];

/// A virtual service's provider as the data plane follows it.
pub enum ProviderView {
    /// No provider: the service is served wherever it is served as a whole.
    None,
    Node(String),
    Router {
        /// The router's listener (its one port and protocol), if it has one.
        listener: Option<(u16, String)>,
        routes: Vec<appmesh_routing::gateway::StoredRoute>,
    },
}

impl Store {
    fn router_route_data(input: &Value, r: &Resource, status: &str) -> Value {
        json!({
            "meshName": text(input, "meshName"),
            "virtualRouterName": text(input, "virtualRouterName"),
            "routeName": text(input, "routeName"),
            "metadata": r.metadata(), "spec": spec_with_kinds(&r.spec, &ROUTE_KINDS),
            "status": { "status": status },
        })
    }

    /// The virtual nodes a route spec sends traffic to must exist in the mesh.
    fn check_targets(mesh: &Mesh, input: &Value) -> Result<(), ApiError> {
        let spec = &input["spec"];
        for kind in ROUTE_KINDS {
            for target in spec[kind]["action"]["weightedTargets"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let node = target["virtualNode"].as_str().unwrap_or_default();
                if !mesh.nodes.contains_key(node) {
                    return Err(ApiError::not_found(format!(
                        "VirtualNode '{node}' (a target of spec.{kind}) does not exist in mesh '{}'.",
                        text(input, "meshName")
                    )));
                }
            }
        }
        Ok(())
    }

    fn router_routes<'a>(
        mesh: &'a Mesh,
        input: &Value,
    ) -> Result<Option<&'a BTreeMap<String, Resource>>, ApiError> {
        Self::provider(Provider::Router, mesh, input)?;
        Ok(mesh.routes.get(text(input, "virtualRouterName")))
    }

    pub fn create_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        self.idempotent("CreateRoute", input, |st| {
            let (mesh_name, router, name) = (
                text(input, "meshName"),
                text(input, "virtualRouterName"),
                text(input, "routeName"),
            );
            let mesh = st.mesh(s, input)?;
            let routes = Self::router_routes(mesh, input)?;
            Self::check_targets(mesh, input)?;
            let count = routes.map_or(0, BTreeMap::len);
            if routes.is_some_and(|r| r.contains_key(name)) {
                return Err(ApiError::conflict(format!(
                    "Route '{name}' already exists on virtual router '{router}' in mesh '{mesh_name}'."
                )));
            }
            if count >= s.max_routes_per_router {
                return Err(ApiError::limit_exceeded(format!(
                    "Virtual router '{router}' already has the maximum of {} routes.",
                    s.max_routes_per_router
                )));
            }
            let owner = mesh.resource.mesh_owner.clone();
            let arn = format!(
                "arn:aws:appmesh:{}:{owner}:mesh/{mesh_name}/virtualRouter/{router}/route/{name}",
                s.region
            );
            let resource = st.new_resource(s, arn, &owner, input);
            let data = Self::router_route_data(input, &resource, "ACTIVE");
            st.mesh_mut(s, input)?
                .routes
                .entry(router.to_string())
                .or_default()
                .insert(name.to_string(), resource);
            Ok(data)
        })
    }

    fn router_route<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Resource, ApiError> {
        Self::router_routes(mesh, input)?
            .and_then(|routes| routes.get(text(input, "routeName")))
            .ok_or_else(|| Self::no_router_route(input))
    }

    fn no_router_route(input: &Value) -> ApiError {
        ApiError::not_found(format!(
            "Route '{}' does not exist on virtual router '{}' in mesh '{}'.",
            text(input, "routeName"),
            text(input, "virtualRouterName"),
            text(input, "meshName")
        ))
    }

    fn router_route_mut<'a>(
        mesh: &'a mut Mesh,
        input: &Value,
    ) -> Result<&'a mut Resource, ApiError> {
        mesh.routes
            .get_mut(text(input, "virtualRouterName"))
            .and_then(|routes| routes.get_mut(text(input, "routeName")))
            .ok_or_else(|| Self::no_router_route(input))
    }

    pub fn describe_route(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let r = Self::router_route(self.mesh(s, input)?, input)?;
        Ok(Self::router_route_data(input, r, "ACTIVE"))
    }

    pub fn update_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        self.idempotent("UpdateRoute", input, |st| {
            let mesh = st.mesh(s, input)?;
            Self::router_route(mesh, input)?;
            Self::check_targets(mesh, input)?;
            let route = Self::router_route_mut(st.mesh_mut(s, input)?, input)?;
            route.spec = input["spec"].clone();
            route.version += 1;
            route.last_updated_at = now();
            Ok(Self::router_route_data(input, route, "ACTIVE"))
        })
    }

    pub fn delete_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        Self::router_route(self.mesh(s, input)?, input)?;
        let mesh = self.mesh_mut(s, input)?;
        let router = text(input, "virtualRouterName");
        let routes = mesh
            .routes
            .get_mut(router)
            .ok_or_else(|| Self::no_router_route(input))?;
        let r = routes
            .remove(text(input, "routeName"))
            .ok_or_else(|| Self::no_router_route(input))?;
        if routes.is_empty() {
            mesh.routes.remove(router);
        }
        Ok(Self::router_route_data(input, &r, "DELETED"))
    }

    pub fn list_routes(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let routes = Self::router_routes(self.mesh(s, input)?, input)?;
        let items = routes.into_iter().flatten().map(|(name, r)| {
            let mut reference = r.reference();
            reference.insert("meshName".into(), json!(text(input, "meshName")));
            reference.insert(
                "virtualRouterName".into(),
                json!(text(input, "virtualRouterName")),
            );
            reference.insert("routeName".into(), json!(name));
            (name.clone(), Value::Object(reference))
        });
        let (routes, next) = page(items, input)?;
        Ok(json!({ "routes": routes, "nextToken": next }))
    }

    /// How many routes a virtual router has (none if it does not exist).
    pub(super) fn route_count(mesh: &Mesh, router: &str) -> usize {
        mesh.routes.get(router).map_or(0, BTreeMap::len)
    }

    /// The provider of virtual service `service` in `mesh`, as its data plane follows it;
    /// `None` when the service does not exist.
    pub fn provider_view(&self, mesh: &str, service: &str) -> Option<ProviderView> {
        let m = self.meshes.get(mesh)?;
        let provider = &m.services.get(service)?.spec["provider"];
        if let Some(node) = provider["virtualNode"]["virtualNodeName"].as_str() {
            return Some(ProviderView::Node(node.to_string()));
        }
        let Some(router) = provider["virtualRouter"]["virtualRouterName"].as_str() else {
            return Some(ProviderView::None);
        };
        let listener = m.routers.get(router).and_then(|r| {
            let mapping = &r.spec["listeners"][0]["portMapping"];
            let port = u16::try_from(mapping["port"].as_u64()?).ok()?;
            Some((port, mapping["protocol"].as_str()?.to_string()))
        });
        let routes = m
            .routes
            .get(router)
            .into_iter()
            .flatten()
            .map(|(name, r)| appmesh_routing::gateway::StoredRoute {
                name: name.clone(),
                spec: r.spec.clone(),
                created_at: r.created_at,
            })
            .collect();
        Some(ProviderView::Router { listener, routes })
    }
}
