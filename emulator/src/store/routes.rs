//! Gateway routes (create, describe, update, delete, list), the tags of any resource, and the
//! view of a virtual gateway its data plane routes by.

use super::*;

impl Store {
    // --- gateway routes -----------------------------------------------------------------

    fn route_data(input: &Value, r: &Resource, status: &str) -> Value {
        json!({
            "meshName": text(input, "meshName"),
            "virtualGatewayName": text(input, "virtualGatewayName"),
            "gatewayRouteName": text(input, "gatewayRouteName"),
            "metadata": r.metadata(),
            "spec": spec_with_kinds(&r.spec, &["grpcRoute", "http2Route", "httpRoute"]),
            "status": { "status": status },
        })
    }

    /// The virtual service a gateway route spec targets must exist in the mesh.
    fn check_target(mesh: &Mesh, input: &Value) -> Result<(), ApiError> {
        let spec = &input["spec"];
        for kind in ["grpcRoute", "httpRoute", "http2Route"] {
            if let Some(target) =
                spec[kind]["action"]["target"]["virtualService"]["virtualServiceName"].as_str()
                && !mesh.services.contains_key(target)
            {
                return Err(ApiError::not_found(format!(
                    "VirtualService '{target}' (the target of spec.{kind}) does not exist in mesh '{}'.",
                    text(input, "meshName")
                )));
            }
        }
        Ok(())
    }

    pub fn create_gateway_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        self.idempotent("CreateGatewayRoute", input, |st| {
            let (mesh_name, gw_name, name) = (
                text(input, "meshName"),
                text(input, "virtualGatewayName"),
                text(input, "gatewayRouteName"),
            );
            let mesh = st.mesh(s, input)?;
            let gateway = Self::gateway(mesh, input)?;
            Self::check_target(mesh, input)?;
            if gateway.routes.contains_key(name) {
                return Err(ApiError::conflict(format!(
                    "GatewayRoute '{name}' already exists on virtual gateway '{gw_name}' in mesh '{mesh_name}'."
                )));
            }
            if gateway.routes.len() >= s.max_gateway_routes_per_gateway {
                return Err(ApiError::limit_exceeded(format!(
                    "Virtual gateway '{gw_name}' already has the maximum of {} gateway routes.",
                    s.max_gateway_routes_per_gateway
                )));
            }
            let owner = mesh.resource.mesh_owner.clone();
            let arn = format!(
                "arn:aws:appmesh:{}:{owner}:mesh/{mesh_name}/virtualGateway/{gw_name}/gatewayRoute/{name}",
                s.region
            );
            let resource = st.new_resource(s, arn, &owner, input);
            let data = Self::route_data(input, &resource, "ACTIVE");
            Self::gateway_mut(st.mesh_mut(s, input)?, input)?
                .routes
                .insert(name.to_string(), resource);
            Ok(data)
        })
    }

    fn route<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Resource, ApiError> {
        let name = text(input, "gatewayRouteName");
        let gateway = Self::gateway(mesh, input)?;
        gateway
            .routes
            .get(name)
            .ok_or_else(|| Self::no_route(input))
    }

    fn no_route(input: &Value) -> ApiError {
        ApiError::not_found(format!(
            "GatewayRoute '{}' does not exist on virtual gateway '{}' in mesh '{}'.",
            text(input, "gatewayRouteName"),
            text(input, "virtualGatewayName"),
            text(input, "meshName")
        ))
    }

    pub fn describe_gateway_route(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let r = Self::route(self.mesh(s, input)?, input)?;
        Ok(Self::route_data(input, r, "ACTIVE"))
    }

    pub fn update_gateway_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        self.idempotent("UpdateGatewayRoute", input, |st| {
            let mesh = st.mesh(s, input)?;
            Self::route(mesh, input)?;
            Self::check_target(mesh, input)?;
            let route = Self::gateway_mut(st.mesh_mut(s, input)?, input)?
                .routes
                .get_mut(text(input, "gatewayRouteName"))
                .ok_or_else(|| Self::no_route(input))?;
            route.spec = input["spec"].clone();
            route.version += 1;
            route.last_updated_at = now();
            Ok(Self::route_data(input, route, "ACTIVE"))
        })
    }

    pub fn delete_gateway_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        Self::route(self.mesh(s, input)?, input)?;
        let r = Self::gateway_mut(self.mesh_mut(s, input)?, input)?
            .routes
            .remove(text(input, "gatewayRouteName"))
            .ok_or_else(|| Self::no_route(input))?;
        Ok(Self::route_data(input, &r, "DELETED"))
    }

    pub fn list_gateway_routes(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let gateway = Self::gateway(self.mesh(s, input)?, input)?;
        let items = gateway.routes.iter().map(|(name, r)| {
            let mut reference = r.reference();
            reference.insert("meshName".into(), json!(text(input, "meshName")));
            reference.insert(
                "virtualGatewayName".into(),
                json!(text(input, "virtualGatewayName")),
            );
            reference.insert("gatewayRouteName".into(), json!(name));
            (name.clone(), Value::Object(reference))
        });
        let (routes, next) = page(items, input)?;
        Ok(json!({ "gatewayRoutes": routes, "nextToken": next }))
    }

    // --- tags ---------------------------------------------------------------------------

    /// Finds a resource by ARN: `mesh/M`, `mesh/M/virtualGateway/G`, `mesh/M/virtualService/S`,
    /// `mesh/M/virtualNode/N`, `mesh/M/virtualRouter/V`, `mesh/M/virtualRouter/V/route/R` or
    /// `mesh/M/virtualGateway/G/gatewayRoute/R`.
    fn by_arn(&mut self, s: &Settings, arn: &str) -> Result<&mut Resource, ApiError> {
        let missing = || ApiError::not_found(format!("No resource with ARN '{arn}' exists."));
        let prefix = format!("arn:aws:appmesh:{}:", s.region);
        let rest = arn.strip_prefix(&prefix).ok_or_else(missing)?;
        let (_owner, path) = rest.split_once(':').ok_or_else(missing)?;
        let parts: Vec<&str> = path.split('/').collect();
        let found = match parts.as_slice() {
            ["mesh", m] => self.meshes.get_mut(*m).map(|m| &mut m.resource),
            ["mesh", m, "virtualGateway", g] => self
                .meshes
                .get_mut(*m)
                .and_then(|m| m.gateways.get_mut(*g))
                .map(|g| &mut g.resource),
            ["mesh", m, "virtualService", v] => {
                self.meshes.get_mut(*m).and_then(|m| m.services.get_mut(*v))
            }
            ["mesh", m, "virtualNode", n] => {
                self.meshes.get_mut(*m).and_then(|m| m.nodes.get_mut(*n))
            }
            ["mesh", m, "virtualRouter", r] => {
                self.meshes.get_mut(*m).and_then(|m| m.routers.get_mut(*r))
            }
            ["mesh", m, "virtualRouter", v, "route", r] => self
                .meshes
                .get_mut(*m)
                .and_then(|m| m.routes.get_mut(*v))
                .and_then(|routes| routes.get_mut(*r)),
            ["mesh", m, "virtualGateway", g, "gatewayRoute", r] => self
                .meshes
                .get_mut(*m)
                .and_then(|m| m.gateways.get_mut(*g))
                .and_then(|g| g.routes.get_mut(*r)),
            _ => None,
        };
        found.filter(|r| r.arn == arn).ok_or_else(missing)
    }

    pub fn tag_resource(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let resource = self.by_arn(s, text(input, "resourceArn"))?;
        let mut tags = resource.tags.clone();
        for tag in tags_of(input) {
            match tags.iter_mut().find(|t| t.key == tag.key) {
                Some(t) => t.value = tag.value,
                None => tags.push(tag),
            }
        }
        if tags.len() > 50 {
            return Err(ApiError::too_many_tags(format!(
                "The request exceeds the maximum allowed number of tags allowed per resource. The current limit is 50; the resource would have {}.",
                tags.len()
            )));
        }
        resource.tags = tags;
        Ok(json!({}))
    }

    pub fn untag_resource(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let resource = self.by_arn(s, text(input, "resourceArn"))?;
        let keys: Vec<&str> = input["tagKeys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        resource.tags.retain(|t| !keys.contains(&t.key.as_str()));
        Ok(json!({}))
    }

    pub fn list_tags_for_resource(
        &mut self,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let resource = self.by_arn(s, text(input, "resourceArn"))?;
        let items = resource
            .tags
            .iter()
            .map(|t| (t.key.clone(), json!({ "key": t.key, "value": t.value })));
        let (tags, next) = page(items.collect::<BTreeMap<_, _>>().into_iter(), input)?;
        Ok(json!({ "tags": tags, "nextToken": next }))
    }

    /// What a virtual gateway's data plane needs: its listeners (port, protocol) and routes.
    pub fn gateway_view(&self, mesh: &str, gateway: &str) -> Option<GatewayView> {
        let g = self.meshes.get(mesh)?.gateways.get(gateway)?;
        let spec = &g.resource.spec;
        let listeners = spec["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let port = u16::try_from(l["portMapping"]["port"].as_u64()?).ok()?;
                Some((port, l["portMapping"]["protocol"].as_str()?.to_string()))
            })
            .collect();
        let routes = g
            .routes
            .iter()
            .map(|(name, r)| appmesh_routing::gateway::StoredRoute {
                name: name.clone(),
                spec: r.spec.clone(),
                created_at: r.created_at,
            })
            .collect();
        Some(GatewayView { listeners, routes })
    }

    /// Routes in the store, for the admin API's summary.
    pub fn gateway_route_count(&self) -> usize {
        self.meshes
            .values()
            .flat_map(|m| m.gateways.values())
            .map(|g| g.routes.len())
            .sum()
    }
}
