//! The emulated service's state and semantics: meshes, virtual gateways, virtual services and
//! gateway routes; ARNs, uids, versions and timestamps; client-token idempotency; tags; paging.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;

mod resources;
mod router_routes;
mod routes;

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
    /// Routes allowed per virtual router before LimitExceededException.
    pub max_routes_per_router: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: "us-west-2".into(),
            account_id: "111122223333".into(),
            max_gateway_routes_per_gateway: 50,
            max_meshes: 15,
            max_routes_per_router: 50,
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
        Value::Object(self.reference_with_uid())
    }

    /// The `*Ref` entry of a List answer, before the kind's own name fields are added.
    fn reference(&self) -> serde_json::Map<String, Value> {
        let mut map = self.reference_with_uid();
        map.remove("uid");
        map
    }

    fn reference_with_uid(&self) -> serde_json::Map<String, Value> {
        let fields = [
            ("arn", json!(self.arn)),
            ("uid", json!(self.uid)),
            ("version", json!(self.version)),
            ("createdAt", json!(self.created_at)),
            ("lastUpdatedAt", json!(self.last_updated_at)),
            ("meshOwner", json!(self.mesh_owner)),
            ("resourceOwner", json!(self.resource_owner)),
        ];
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Gateway {
    resource: Resource,
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
    /// Each virtual router's routes, by router name, then route name.
    #[serde(default)]
    routes: BTreeMap<String, BTreeMap<String, Resource>>,
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

pub use router_routes::ProviderView;

/// A virtual gateway as its data plane sees it.
pub struct GatewayView {
    /// Each listener's port and protocol.
    pub listeners: Vec<(u16, String)>,
    pub routes: Vec<appmesh_routing::gateway::StoredRoute>,
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

/// The spec as App Mesh echoes it: unset route kinds (`kinds`) appear as explicit nulls.
fn spec_with_kinds(spec: &Value, kinds: &[&str]) -> Value {
    let mut spec = spec.clone();
    if let Some(map) = spec.as_object_mut() {
        for kind in kinds {
            map.entry(*kind).or_insert(Value::Null);
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
        let (name, owner) = Self::mesh_of(s, input);
        match self.meshes.get(name) {
            Some(m) if m.resource.mesh_owner == owner => Ok(m),
            _ => Err(Self::no_mesh(name, owner)),
        }
    }

    fn mesh_mut(&mut self, s: &Settings, input: &Value) -> Result<&mut Mesh, ApiError> {
        let (name, owner) = Self::mesh_of(s, input);
        match self.meshes.get_mut(name) {
            Some(m) if m.resource.mesh_owner == owner => Ok(m),
            _ => Err(Self::no_mesh(name, owner)),
        }
    }

    /// The mesh's name and owner an input names (the owner defaults to the caller's account).
    fn mesh_of<'a>(s: &'a Settings, input: &'a Value) -> (&'a str, &'a str) {
        let owner = input
            .get("meshOwner")
            .and_then(Value::as_str)
            .unwrap_or(&s.account_id);
        (text(input, "meshName"), owner)
    }

    fn no_mesh(name: &str, owner: &str) -> ApiError {
        ApiError::not_found(format!("Mesh '{name}' (owner {owner}) does not exist."))
    }

    fn gateway<'a>(mesh: &'a Mesh, input: &Value) -> Result<&'a Gateway, ApiError> {
        mesh.gateways
            .get(text(input, "virtualGatewayName"))
            .ok_or_else(|| Self::no_gateway(input))
    }

    fn gateway_mut<'a>(mesh: &'a mut Mesh, input: &Value) -> Result<&'a mut Gateway, ApiError> {
        mesh.gateways
            .get_mut(text(input, "virtualGatewayName"))
            .ok_or_else(|| Self::no_gateway(input))
    }

    fn no_gateway(input: &Value) -> ApiError {
        ApiError::not_found(format!(
            "VirtualGateway '{}' does not exist in mesh '{}'.",
            text(input, "virtualGatewayName"),
            text(input, "meshName")
        ))
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
