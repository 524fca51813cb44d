//! Meshes, virtual gateways, virtual services and their providers (virtual nodes and routers):
//! create, describe, delete and list, with App Mesh's existence and emptiness rules.

use super::*;

impl Store {
    // --- meshes -------------------------------------------------------------------------

    fn mesh_data(name: &str, m: &Resource, status: &str) -> Value {
        json!({ "meshName": name, "metadata": m.metadata(), "spec": m.spec, "status": { "status": status } })
    }

    pub fn create_mesh(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        self.idempotent("CreateMesh", input, |st| {
            let name = text(input, "meshName");
            if st.meshes.contains_key(name) {
                return Err(ApiError::conflict(format!("Mesh '{name}' already exists.")));
            }
            if st.meshes.len() >= s.max_meshes {
                return Err(ApiError::limit_exceeded(format!(
                    "You have reached the limit of {} meshes per account.",
                    s.max_meshes
                )));
            }
            let arn = format!("arn:aws:appmesh:{}:{}:mesh/{name}", s.region, s.account_id);
            let mut resource = st.new_resource(s, arn, &s.account_id, input);
            if resource.spec.get("egressFilter").is_none() {
                // The service fills in the default egress filter.
                resource.spec["egressFilter"] = json!({ "type": "DROP_ALL" });
            }
            let data = Self::mesh_data(name, &resource, "ACTIVE");
            st.meshes.insert(
                name.to_string(),
                Mesh {
                    resource,
                    gateways: BTreeMap::new(),
                    services: BTreeMap::new(),
                    nodes: BTreeMap::new(),
                    routers: BTreeMap::new(),
                    routes: BTreeMap::new(),
                },
            );
            Ok(data)
        })
    }

    pub fn describe_mesh(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let m = self.mesh(s, input)?;
        Ok(Self::mesh_data(
            text(input, "meshName"),
            &m.resource,
            "ACTIVE",
        ))
    }

    pub fn delete_mesh(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let name = text(input, "meshName");
        let m = self.mesh(s, input)?;
        if !m.gateways.is_empty() || !m.services.is_empty() {
            return Err(ApiError::in_use(format!(
                "Mesh '{name}' still has virtual gateways or virtual services; delete them first."
            )));
        }
        let m = self
            .meshes
            .remove(name)
            .ok_or_else(|| Self::no_mesh(name, Self::mesh_of(s, input).1))?;
        Ok(Self::mesh_data(name, &m.resource, "DELETED"))
    }

    pub fn list_meshes(&self, _s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let items = self.meshes.iter().map(|(name, m)| {
            let mut r = m.resource.reference();
            r.insert("meshName".into(), json!(name));
            (name.clone(), Value::Object(r))
        });
        let (meshes, next) = page(items, input)?;
        Ok(json!({ "meshes": meshes, "nextToken": next }))
    }

    // --- virtual gateways ---------------------------------------------------------------

    fn gateway_data(mesh: &str, name: &str, r: &Resource, status: &str) -> Value {
        json!({ "meshName": mesh, "virtualGatewayName": name, "metadata": r.metadata(),
                "spec": r.spec, "status": { "status": status } })
    }

    pub fn create_virtual_gateway(
        &mut self,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        self.idempotent("CreateVirtualGateway", input, |st| {
            let (mesh_name, name) = (text(input, "meshName"), text(input, "virtualGatewayName"));
            let owner = st.mesh(s, input)?.resource.mesh_owner.clone();
            let arn = format!(
                "arn:aws:appmesh:{}:{owner}:mesh/{mesh_name}/virtualGateway/{name}",
                s.region
            );
            let resource = st.new_resource(s, arn, &owner, input);
            let mesh = st.mesh_mut(s, input)?;
            if mesh.gateways.contains_key(name) {
                return Err(ApiError::conflict(format!(
                    "VirtualGateway '{name}' already exists in mesh '{mesh_name}'."
                )));
            }
            let data = Self::gateway_data(mesh_name, name, &resource, "ACTIVE");
            let gateway = Gateway {
                resource,
                routes: BTreeMap::new(),
            };
            mesh.gateways.insert(name.to_string(), gateway);
            Ok(data)
        })
    }

    pub fn describe_virtual_gateway(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let g = Self::gateway(self.mesh(s, input)?, input)?;
        Ok(Self::gateway_data(
            text(input, "meshName"),
            text(input, "virtualGatewayName"),
            &g.resource,
            "ACTIVE",
        ))
    }

    pub fn delete_virtual_gateway(
        &mut self,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let (mesh_name, name) = (text(input, "meshName"), text(input, "virtualGatewayName"));
        let g = Self::gateway(self.mesh(s, input)?, input)?;
        if !g.routes.is_empty() {
            return Err(ApiError::in_use(format!(
                "VirtualGateway '{name}' still has {} gateway routes; delete them first.",
                g.routes.len()
            )));
        }
        let mesh = self.mesh_mut(s, input)?;
        let g = mesh
            .gateways
            .remove(name)
            .ok_or_else(|| Self::no_gateway(input))?;
        Ok(Self::gateway_data(mesh_name, name, &g.resource, "DELETED"))
    }

    pub fn list_virtual_gateways(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let mesh_name = text(input, "meshName");
        let mesh = self.mesh(s, input)?;
        let items = mesh.gateways.iter().map(|(name, g)| {
            let mut r = g.resource.reference();
            r.insert("meshName".into(), json!(mesh_name));
            r.insert("virtualGatewayName".into(), json!(name));
            (name.clone(), Value::Object(r))
        });
        let (gateways, next) = page(items, input)?;
        Ok(json!({ "virtualGateways": gateways, "nextToken": next }))
    }

    // --- virtual nodes and virtual routers -----------------------------------------------

    fn provider_data(kind: Provider, mesh: &str, name: &str, r: &Resource, status: &str) -> Value {
        json!({ "meshName": mesh, kind.name_field(): name, "metadata": r.metadata(),
                "spec": r.spec, "status": { "status": status } })
    }

    pub fn create_provider(
        &mut self,
        kind: Provider,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let operation = format!("Create{}", kind.label());
        self.idempotent(&operation, input, |st| {
            let (mesh_name, name) = (text(input, "meshName"), text(input, kind.name_field()));
            let owner = st.mesh(s, input)?.resource.mesh_owner.clone();
            let arn = format!(
                "arn:aws:appmesh:{}:{owner}:mesh/{mesh_name}/{}/{name}",
                s.region,
                kind.arn_part()
            );
            let resource = st.new_resource(s, arn, &owner, input);
            let all = kind.of_mut(st.mesh_mut(s, input)?);
            if all.contains_key(name) {
                return Err(ApiError::conflict(format!(
                    "{} '{name}' already exists in mesh '{mesh_name}'.",
                    kind.label()
                )));
            }
            let data = Self::provider_data(kind, mesh_name, name, &resource, "ACTIVE");
            all.insert(name.to_string(), resource);
            Ok(data)
        })
    }

    pub(super) fn provider<'a>(
        kind: Provider,
        mesh: &'a Mesh,
        input: &Value,
    ) -> Result<&'a Resource, ApiError> {
        let name = text(input, kind.name_field());
        kind.of(mesh)
            .get(name)
            .ok_or_else(|| Self::no_provider(kind, input))
    }

    fn no_provider(kind: Provider, input: &Value) -> ApiError {
        ApiError::not_found(format!(
            "{} '{}' does not exist in mesh '{}'.",
            kind.label(),
            text(input, kind.name_field()),
            text(input, "meshName")
        ))
    }

    pub fn describe_provider(
        &self,
        kind: Provider,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let r = Self::provider(kind, self.mesh(s, input)?, input)?;
        Ok(Self::provider_data(
            kind,
            text(input, "meshName"),
            text(input, kind.name_field()),
            r,
            "ACTIVE",
        ))
    }

    pub fn delete_provider(
        &mut self,
        kind: Provider,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let (mesh_name, name) = (text(input, "meshName"), text(input, kind.name_field()));
        let mesh = self.mesh(s, input)?;
        Self::provider(kind, mesh, input)?;
        let provides = mesh
            .services
            .iter()
            .find(|(_, r)| r.spec["provider"][kind.arn_part()][kind.name_field()] == name);
        if let Some((service, _)) = provides {
            return Err(ApiError::in_use(format!(
                "{} '{name}' is the provider of VirtualService '{service}'; delete or change it first.",
                kind.label()
            )));
        }
        // API reference, DeleteVirtualRouter: "You must delete any routes associated with the
        // virtual router before you can delete the router itself."
        let routes = Self::route_count(mesh, name);
        if kind == Provider::Router && routes > 0 {
            return Err(ApiError::in_use(format!(
                "VirtualRouter '{name}' still has {routes} routes; delete them first."
            )));
        }
        let r = kind
            .of_mut(self.mesh_mut(s, input)?)
            .remove(name)
            .ok_or_else(|| Self::no_provider(kind, input))?;
        Ok(Self::provider_data(kind, mesh_name, name, &r, "DELETED"))
    }

    pub fn list_providers(
        &self,
        kind: Provider,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mesh_name = text(input, "meshName");
        let mesh = self.mesh(s, input)?;
        let items = kind.of(mesh).iter().map(|(name, r)| {
            let mut reference = r.reference();
            reference.insert("meshName".into(), json!(mesh_name));
            reference.insert(kind.name_field().into(), json!(name));
            (name.clone(), Value::Object(reference))
        });
        let (all, next) = page(items, input)?;
        Ok(json!({ kind.list_field(): all, "nextToken": next }))
    }

    // --- virtual services ---------------------------------------------------------------

    fn service_data(mesh: &str, name: &str, r: &Resource, status: &str) -> Value {
        json!({ "meshName": mesh, "virtualServiceName": name, "metadata": r.metadata(),
                "spec": r.spec, "status": { "status": status } })
    }

    pub fn create_virtual_service(
        &mut self,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        self.idempotent("CreateVirtualService", input, |st| {
            let (mesh_name, name) = (text(input, "meshName"), text(input, "virtualServiceName"));
            let owner = st.mesh(s, input)?.resource.mesh_owner.clone();
            let arn = format!(
                "arn:aws:appmesh:{}:{owner}:mesh/{mesh_name}/virtualService/{name}",
                s.region
            );
            let resource = st.new_resource(s, arn, &owner, input);
            for kind in [Provider::Node, Provider::Router] {
                let provider = &input["spec"]["provider"][kind.arn_part()];
                if !provider.is_null() {
                    Self::provider(kind, st.mesh(s, input)?, &{
                        let mut named = provider.clone();
                        named["meshName"] = json!(mesh_name);
                        named
                    })?;
                }
            }
            let mesh = st.mesh_mut(s, input)?;
            if mesh.services.contains_key(name) {
                return Err(ApiError::conflict(format!(
                    "VirtualService '{name}' already exists in mesh '{mesh_name}'."
                )));
            }
            let data = Self::service_data(mesh_name, name, &resource, "ACTIVE");
            mesh.services.insert(name.to_string(), resource);
            Ok(data)
        })
    }

    fn service<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Resource, ApiError> {
        let name = text(input, "virtualServiceName");
        mesh.services
            .get(name)
            .ok_or_else(|| Self::no_service(input))
    }

    fn no_service(input: &Value) -> ApiError {
        ApiError::not_found(format!(
            "VirtualService '{}' does not exist in mesh '{}'.",
            text(input, "virtualServiceName"),
            text(input, "meshName")
        ))
    }

    pub fn describe_virtual_service(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let r = Self::service(self.mesh(s, input)?, input)?;
        Ok(Self::service_data(
            text(input, "meshName"),
            text(input, "virtualServiceName"),
            r,
            "ACTIVE",
        ))
    }

    pub fn delete_virtual_service(
        &mut self,
        s: &Settings,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let (mesh_name, name) = (text(input, "meshName"), text(input, "virtualServiceName"));
        let mesh = self.mesh(s, input)?;
        Self::service(mesh, input)?;
        let targeted_by = mesh
            .gateways
            .values()
            .flat_map(|g| g.routes.values())
            .find(|r| {
                ["grpcRoute", "httpRoute", "http2Route"].iter().any(|k| {
                    r.spec[k]["action"]["target"]["virtualService"]["virtualServiceName"] == name
                })
            });
        if let Some(route) = targeted_by {
            return Err(ApiError::in_use(format!(
                "VirtualService '{name}' is the target of gateway route {}; delete or retarget it first.",
                route.arn
            )));
        }
        let r = self
            .mesh_mut(s, input)?
            .services
            .remove(name)
            .ok_or_else(|| Self::no_service(input))?;
        Ok(Self::service_data(mesh_name, name, &r, "DELETED"))
    }

    pub fn list_virtual_services(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let mesh_name = text(input, "meshName");
        let mesh = self.mesh(s, input)?;
        let items = mesh.services.iter().map(|(name, r)| {
            let mut reference = r.reference();
            reference.insert("meshName".into(), json!(mesh_name));
            reference.insert("virtualServiceName".into(), json!(name));
            (name.clone(), Value::Object(reference))
        });
        let (services, next) = page(items, input)?;
        Ok(json!({ "virtualServices": services, "nextToken": next }))
    }
}
