//! The emulated service's state and semantics: meshes, virtual gateways, virtual services and
//! gateway routes; ARNs, uids, versions and timestamps; client-token idempotency; tags; paging.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;

/// Account-level settings of the emulated service.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    /// The caller's 12-digit account id: owner of everything it creates.
    pub account_id: String,
    /// Gateway routes allowed per virtual gateway before LimitExceededException.
    pub max_gateway_routes_per_gateway: usize,
    /// Meshes allowed per account.
    pub max_meshes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: "us-west-2".into(),
            account_id: "111122223333".into(),
            max_gateway_routes_per_gateway: 50,
            max_meshes: 15,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tag {
    key: String,
    value: String,
}

/// What every resource carries: its metadata, spec and tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Resource {
    arn: String,
    uid: String,
    version: i64,
    created_at: f64,
    last_updated_at: f64,
    mesh_owner: String,
    resource_owner: String,
    spec: Value,
    tags: Vec<Tag>,
}

impl Resource {
    fn metadata(&self) -> Value {
        json!({
            "arn": self.arn, "uid": self.uid, "version": self.version,
            "createdAt": self.created_at, "lastUpdatedAt": self.last_updated_at,
            "meshOwner": self.mesh_owner, "resourceOwner": self.resource_owner,
        })
    }
    /// The `*Ref` entry of a List answer, before the kind's own name fields are added.
    fn reference(&self) -> serde_json::Map<String, Value> {
        let Value::Object(mut map) = self.metadata() else {
            unreachable!("metadata() builds an object")
        };
        map.remove("uid");
        map
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Gateway {
    resource: Option<Resource>,
    routes: BTreeMap<String, Resource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mesh {
    resource: Resource,
    gateways: BTreeMap<String, Gateway>,
    services: BTreeMap<String, Resource>,
    /// Virtual nodes and virtual routers: what a virtual service's provider names (held for
    /// what they say, the service discovery and listener ports; they route nothing here).
    #[serde(default)]
    nodes: BTreeMap<String, Resource>,
    #[serde(default)]
    routers: BTreeMap<String, Resource>,
}

/// A virtual service's provider: a virtual node or a virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Node,
    Router,
}

impl Provider {
    /// The input and output member that names one.
    pub fn name_field(self) -> &'static str {
        match self {
            Provider::Node => "virtualNodeName",
            Provider::Router => "virtualRouterName",
        }
    }
    fn arn_part(self) -> &'static str {
        match self {
            Provider::Node => "virtualNode",
            Provider::Router => "virtualRouter",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Provider::Node => "VirtualNode",
            Provider::Router => "VirtualRouter",
        }
    }
    fn list_field(self) -> &'static str {
        match self {
            Provider::Node => "virtualNodes",
            Provider::Router => "virtualRouters",
        }
    }
    fn of(self, mesh: &Mesh) -> &BTreeMap<String, Resource> {
        match self {
            Provider::Node => &mesh.nodes,
            Provider::Router => &mesh.routers,
        }
    }
    fn of_mut(self, mesh: &mut Mesh) -> &mut BTreeMap<String, Resource> {
        match self {
            Provider::Node => &mut mesh.nodes,
            Provider::Router => &mut mesh.routers,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenUse {
    request: Value,
    response: Value,
}

/// A virtual gateway as its data plane sees it.
pub struct GatewayView {
    /// Each listener's port and protocol.
    pub listeners: Vec<(u16, String)>,
    pub routes: Vec<crate::routing::StoredRoute>,
}

/// The whole state; serialisable so it can be snapshotted to a file and restored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Store {
    meshes: BTreeMap<String, Mesh>,
    /// `Operation/clientToken` -> the request it came with and the answer it got.
    tokens: HashMap<String, TokenUse>,
}

fn now() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Millisecond precision, as App Mesh reports it.
    (d.as_millis() as f64) / 1000.0
}

/// A random v4-style UUID, for resource uids and request ids.
pub fn uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        let n = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        chunk.copy_from_slice(&n.to_le_bytes()[..chunk.len()]);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn text<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn tags_of(input: &Value) -> Vec<Tag> {
    serde_json::from_value(input.get("tags").cloned().unwrap_or(json!([]))).unwrap_or_default()
}

/// The spec as App Mesh echoes it: unset route kinds appear as explicit nulls.
fn gateway_route_spec(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(map) = spec.as_object_mut() {
        for kind in ["grpcRoute", "http2Route", "httpRoute"] {
            map.entry(kind).or_insert(Value::Null);
        }
    }
    spec
}

fn page<T>(
    items: impl Iterator<Item = (String, T)>,
    input: &Value,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    let start = match input.get("nextToken").and_then(Value::as_str) {
        None => None,
        Some(token) => Some(decode_token(token).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Value '{token}' at 'nextToken' is not a valid token"
            ))
        })?),
    };
    let mut out = Vec::new();
    let mut next = None;
    for (name, item) in items {
        if start.as_ref().is_some_and(|s| &name < s) {
            continue;
        }
        if out.len() == limit {
            next = Some(encode_token(&name));
            break;
        }
        out.push(item);
    }
    Ok((out, next))
}

fn encode_token(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Store {
    /// Runs `op` unless the same client token was used before: the same request then gets the
    /// first answer again, a different request with that token a ConflictException.
    fn idempotent(
        &mut self,
        operation: &str,
        input: &Value,
        op: impl FnOnce(&mut Self) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let Some(token) = input.get("clientToken").and_then(Value::as_str) else {
            return op(self);
        };
        let key = format!("{operation}/{token}");
        let mut request = input.clone();
        if let Some(map) = request.as_object_mut() {
            map.remove("clientToken");
        }
        if let Some(used) = self.tokens.get(&key) {
            return if used.request == request {
                Ok(used.response.clone())
            } else {
                Err(ApiError::conflict(format!(
                    "The request contains a client token '{token}' that was used for a previous {operation} call with different specifications. Try the request again with a new client token."
                )))
            };
        }
        let response = op(self)?;
        self.tokens.insert(
            key,
            TokenUse {
                request,
                response: response.clone(),
            },
        );
        Ok(response)
    }

    fn new_resource(&self, s: &Settings, arn: String, mesh_owner: &str, input: &Value) -> Resource {
        let t = now();
        Resource {
            arn,
            uid: uuid(),
            version: 1,
            created_at: t,
            last_updated_at: t,
            mesh_owner: mesh_owner.to_string(),
            resource_owner: s.account_id.clone(),
            spec: input.get("spec").cloned().unwrap_or(json!({})),
            tags: tags_of(input),
        }
    }

    fn mesh(&self, s: &Settings, input: &Value) -> Result<&Mesh, ApiError> {
        let name = text(input, "meshName");
        let owner = input
            .get("meshOwner")
            .and_then(Value::as_str)
            .unwrap_or(&s.account_id);
        match self.meshes.get(name) {
            Some(m) if m.resource.mesh_owner == owner => Ok(m),
            _ => Err(ApiError::not_found(format!(
                "Mesh '{name}' (owner {owner}) does not exist."
            ))),
        }
    }

    fn mesh_mut(&mut self, s: &Settings, input: &Value) -> Result<&mut Mesh, ApiError> {
        self.mesh(s, input)?;
        Ok(self
            .meshes
            .get_mut(text(input, "meshName"))
            .expect("checked just above"))
    }

    fn gateway<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Gateway, ApiError> {
        let name = text(input, "virtualGatewayName");
        mesh.gateways
            .get(name)
            .filter(|g| g.resource.is_some())
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "VirtualGateway '{name}' does not exist in mesh '{}'.",
                    text(input, "meshName")
                ))
            })
    }

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
        let m = self.meshes.remove(name).expect("checked above");
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
            let gateway = mesh.gateways.entry(name.to_string()).or_default();
            if gateway.resource.is_some() {
                return Err(ApiError::conflict(format!(
                    "VirtualGateway '{name}' already exists in mesh '{mesh_name}'."
                )));
            }
            let data = Self::gateway_data(mesh_name, name, &resource, "ACTIVE");
            gateway.resource = Some(resource);
            Ok(data)
        })
    }

    pub fn describe_virtual_gateway(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let g = Self::gateway(self.mesh(s, input)?, input)?;
        let r = g.resource.as_ref().expect("gateway() checks");
        Ok(Self::gateway_data(
            text(input, "meshName"),
            text(input, "virtualGatewayName"),
            r,
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
        let g = mesh.gateways.remove(name).expect("checked above");
        let r = g.resource.expect("gateway() checks");
        Ok(Self::gateway_data(mesh_name, name, &r, "DELETED"))
    }

    pub fn list_virtual_gateways(&self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        let mesh_name = text(input, "meshName");
        let mesh = self.mesh(s, input)?;
        let items = mesh.gateways.iter().filter_map(|(name, g)| {
            let mut r = g.resource.as_ref()?.reference();
            r.insert("meshName".into(), json!(mesh_name));
            r.insert("virtualGatewayName".into(), json!(name));
            Some((name.clone(), Value::Object(r)))
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

    fn provider<'a>(
        kind: Provider,
        mesh: &'a Mesh,
        input: &Value,
    ) -> Result<&'a Resource, ApiError> {
        let name = text(input, kind.name_field());
        kind.of(mesh).get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "{} '{name}' does not exist in mesh '{}'.",
                kind.label(),
                text(input, "meshName")
            ))
        })
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
        let r = kind
            .of_mut(self.mesh_mut(s, input)?)
            .remove(name)
            .expect("checked above");
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
        mesh.services.get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "VirtualService '{name}' does not exist in mesh '{}'.",
                text(input, "meshName")
            ))
        })
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
            .expect("checked above");
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

    // --- gateway routes -----------------------------------------------------------------

    fn route_data(input: &Value, r: &Resource, status: &str) -> Value {
        json!({
            "meshName": text(input, "meshName"),
            "virtualGatewayName": text(input, "virtualGatewayName"),
            "gatewayRouteName": text(input, "gatewayRouteName"),
            "metadata": r.metadata(), "spec": gateway_route_spec(&r.spec),
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
            st.mesh_mut(s, input)?
                .gateways
                .get_mut(gw_name)
                .expect("gateway() checks")
                .routes
                .insert(name.to_string(), resource);
            Ok(data)
        })
    }

    fn route<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Resource, ApiError> {
        let name = text(input, "gatewayRouteName");
        Self::gateway(mesh, input)?.routes.get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "GatewayRoute '{name}' does not exist on virtual gateway '{}' in mesh '{}'.",
                text(input, "virtualGatewayName"),
                text(input, "meshName")
            ))
        })
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
            let route = st
                .mesh_mut(s, input)?
                .gateways
                .get_mut(text(input, "virtualGatewayName"))
                .and_then(|g| g.routes.get_mut(text(input, "gatewayRouteName")))
                .expect("route() checks");
            route.spec = input["spec"].clone();
            route.version += 1;
            route.last_updated_at = now();
            Ok(Self::route_data(input, route, "ACTIVE"))
        })
    }

    pub fn delete_gateway_route(&mut self, s: &Settings, input: &Value) -> Result<Value, ApiError> {
        Self::route(self.mesh(s, input)?, input)?;
        let r = self
            .mesh_mut(s, input)?
            .gateways
            .get_mut(text(input, "virtualGatewayName"))
            .and_then(|g| g.routes.remove(text(input, "gatewayRouteName")))
            .expect("route() checks");
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

    /// Finds a resource by ARN: `mesh/M`, `mesh/M/virtualGateway/G`,
    /// `mesh/M/virtualService/S` or `mesh/M/virtualGateway/G/gatewayRoute/R`.
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
                .and_then(|g| g.resource.as_mut()),
            ["mesh", m, "virtualService", v] => {
                self.meshes.get_mut(*m).and_then(|m| m.services.get_mut(*v))
            }
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

    /// Routes in the store, for the admin API's summary.
    /// What a virtual gateway's data plane needs: its listeners (port, protocol) and routes.
    pub fn gateway_view(&self, mesh: &str, gateway: &str) -> Option<GatewayView> {
        let g = self.meshes.get(mesh)?.gateways.get(gateway)?;
        let spec = &g.resource.as_ref()?.spec;
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
            .map(|(name, r)| crate::routing::StoredRoute {
                name: name.clone(),
                spec: r.spec.clone(),
                created_at: r.created_at,
            })
            .collect();
        Some(GatewayView { listeners, routes })
    }

    pub fn gateway_route_count(&self) -> usize {
        self.meshes
            .values()
            .flat_map(|m| m.gateways.values())
            .map(|g| g.routes.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> (Store, Settings) {
        let s = Settings::default();
        let mut st = Store::default();
        st.create_mesh(&s, &json!({ "meshName": "apps" })).unwrap();
        st.create_virtual_gateway(
            &s,
            &json!({ "meshName": "apps", "virtualGatewayName": "gw",
            "spec": { "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        )
        .unwrap();
        st.create_virtual_service(
            &s,
            &json!({ "meshName": "apps", "virtualServiceName": "svc", "spec": {} }),
        )
        .unwrap();
        (st, s)
    }

    fn create(name: &str, token: &str, target: &str) -> Value {
        json!({ "meshName": "apps", "virtualGatewayName": "gw", "gatewayRouteName": name,
            "clientToken": token,
            "spec": { "httpRoute": { "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": target } } } } } })
    }

    #[test]
    fn client_tokens_make_creates_idempotent() {
        let (mut st, s) = seeded();
        let first = st
            .create_gateway_route(&s, &create("r", "t1", "svc"))
            .unwrap();
        let again = st
            .create_gateway_route(&s, &create("r", "t1", "svc"))
            .unwrap();
        assert_eq!(first, again, "same token, same request: same answer");
        let other = st
            .create_gateway_route(&s, &create("r2", "t1", "svc"))
            .unwrap_err();
        assert_eq!(other.kind, "ConflictException");
        let taken = st
            .create_gateway_route(&s, &create("r", "t2", "svc"))
            .unwrap_err();
        assert_eq!(
            (taken.status, taken.kind.as_str()),
            (409, "ConflictException")
        );
    }

    #[test]
    fn versions_move_on_update_and_missing_things_are_named() {
        let (mut st, s) = seeded();
        st.create_gateway_route(&s, &create("r", "t1", "svc"))
            .unwrap();
        let updated = st
            .update_gateway_route(&s, &create("r", "u1", "svc"))
            .unwrap();
        assert_eq!(updated["metadata"]["version"], 2);
        let missing = st
            .create_gateway_route(&s, &create("x", "t3", "nope"))
            .unwrap_err();
        assert!(
            missing.message.contains("VirtualService 'nope'"),
            "{missing}"
        );
        let mut no_mesh = create("x", "t4", "svc");
        no_mesh["meshName"] = json!("other");
        let e = st.create_gateway_route(&s, &no_mesh).unwrap_err();
        assert_eq!(e.status, 404);
        assert!(e.message.contains("Mesh 'other'"), "{e}");
    }

    #[test]
    fn pages_cover_every_item_once() {
        let (mut st, s) = seeded();
        for i in 0..7 {
            st.create_gateway_route(&s, &create(&format!("r{i}"), &format!("t{i}"), "svc"))
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut input = json!({ "meshName": "apps", "virtualGatewayName": "gw", "limit": 3 });
        loop {
            let out = st.list_gateway_routes(&s, &input).unwrap();
            for r in out["gatewayRoutes"].as_array().unwrap() {
                seen.push(r["gatewayRouteName"].as_str().unwrap().to_string());
            }
            match out["nextToken"].as_str() {
                Some(t) => input["nextToken"] = json!(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).map(|i| format!("r{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn mesh_owner_must_be_the_meshes_owner() {
        let (mut st, s) = seeded();
        let mut own = create("r", "t", "svc");
        own["meshOwner"] = json!(s.account_id);
        let made = st
            .create_gateway_route(&s, &own)
            .expect("our own account id is our mesh");
        assert_eq!(made["metadata"]["meshOwner"], json!(s.account_id));
        assert_eq!(made["metadata"]["resourceOwner"], json!(s.account_id));
        let mut other = create("r2", "t2", "svc");
        other["meshOwner"] = json!("999988887777");
        let e = st.create_gateway_route(&s, &other).unwrap_err();
        assert_eq!(
            e.status, 404,
            "no mesh apps owned by another account is shared with us"
        );
        assert!(e.message.contains("owner 999988887777"), "{e}");
    }

    #[test]
    fn a_virtual_service_names_a_provider_that_exists_and_keeps_it_in_use() {
        let (mut st, s) = seeded();
        let service = |provider: Value| {
            json!({ "meshName": "apps", "virtualServiceName": "web.apps.local",
                    "spec": { "provider": provider } })
        };
        let missing = st
            .create_virtual_service(
                &s,
                &service(json!({ "virtualNode": { "virtualNodeName": "web" } })),
            )
            .unwrap_err();
        assert_eq!(missing.status, 404, "{missing:?}");
        assert!(missing.message.contains("VirtualNode 'web'"), "{missing:?}");
        st.create_provider(
            Provider::Node,
            &s,
            &json!({ "meshName": "apps", "virtualNodeName": "web", "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }],
                "serviceDiscovery": { "dns": { "hostname": "web.shop.svc.cluster.local" } } } }),
        )
        .unwrap();
        st.create_virtual_service(
            &s,
            &service(json!({ "virtualNode": { "virtualNodeName": "web" } })),
        )
        .unwrap();
        let node = st
            .describe_provider(
                Provider::Node,
                &s,
                &json!({ "meshName": "apps", "virtualNodeName": "web" }),
            )
            .unwrap();
        assert_eq!(
            node["spec"]["serviceDiscovery"]["dns"]["hostname"],
            "web.shop.svc.cluster.local"
        );
        let in_use = st
            .delete_provider(
                Provider::Node,
                &s,
                &json!({ "meshName": "apps", "virtualNodeName": "web" }),
            )
            .unwrap_err();
        assert!(
            in_use
                .message
                .contains("provider of VirtualService 'web.apps.local'"),
            "{in_use:?}"
        );
        let listed = st
            .list_providers(Provider::Node, &s, &json!({ "meshName": "apps" }))
            .unwrap();
        assert_eq!(listed["virtualNodes"][0]["virtualNodeName"], "web");
    }

    #[test]
    fn tags_are_capped_at_fifty() {
        let (mut st, s) = seeded();
        let arn = st
            .create_gateway_route(&s, &create("r", "t", "svc"))
            .unwrap()["metadata"]["arn"]
            .as_str()
            .unwrap()
            .to_string();
        let tags: Vec<Value> = (0..50)
            .map(|i| json!({ "key": format!("k{i}"), "value": "v" }))
            .collect();
        st.tag_resource(&s, &json!({ "resourceArn": arn, "tags": tags }))
            .unwrap();
        let e = st
            .tag_resource(
                &s,
                &json!({ "resourceArn": arn, "tags": [{ "key": "one-more", "value": "" }] }),
            )
            .unwrap_err();
        assert_eq!(e.kind, "TooManyTagsException");
        st.tag_resource(
            &s,
            &json!({ "resourceArn": arn, "tags": [{ "key": "k0", "value": "new" }] }),
        )
        .expect("overwriting a key does not add one");
    }
}
