//! Routes from where they are written now that App Mesh's API is gone: the official App Mesh
//! controller's objects (`appmesh.k8s.aws`), CloudFormation and CDK templates, Terraform
//! (`.tf` and `terraform show -json`), AWS CLI JSON, and meshroute's own GatewayRoutes. Every
//! reader gives the same thing, an [`Inventory`] in App Mesh API terms; nothing is dropped
//! silently: each gateway route found is a [`Found`], resolved or with the reason it is not.

mod appmesh_k8s;
mod cli_json;
mod cloudformation;
pub mod node;
mod terraform;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::recorded::{self, Backend, CloudMap, RouterRoute};
use crate::api::{GatewayRoute, Tag};
use crate::appmesh::RouteKey;
use node::Node;

/// The format of an input file (`--format`); detected per file when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The official App Mesh controller's objects (`appmesh.k8s.aws/v1beta2`), YAML or JSON.
    AppmeshK8s,
    /// CloudFormation templates, JSON or YAML (CDK synth output, Copilot addons).
    Cloudformation,
    /// Terraform configuration (`.tf`, with `.tfvars`).
    Terraform,
    /// `terraform show -json` output, of a state or a plan.
    TerraformJson,
    /// AWS CLI JSON: `describe-*` outputs and `--cli-input-json` bodies.
    CliJson,
}

/// How the files are read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub format: Option<Format>,
    /// Parameter and variable values (`--set NAME=VALUE`), for CloudFormation and Terraform.
    pub set: BTreeMap<String, String>,
    /// Namespace of Kubernetes objects that name none (`-n`; else `default`).
    pub namespace: Option<String>,
}

/// The App Mesh resources other than routes that a route's output needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    VirtualGateway,
    VirtualService,
    VirtualNode,
    VirtualRouter,
}

/// A gateway route as its source states it, in App Mesh API terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub key: RouteKey,
    /// The route's spec as CreateGatewayRoute takes it (`priority`, one of `httpRoute`,
    /// `http2Route`, `grpcRoute`).
    pub spec: Value,
    pub tags: Vec<Tag>,
}

/// One gateway route found in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Where it is written: `file:line`, or `namespace/name` for a cluster object.
    pub source: String,
    /// What the source calls it (`AWS::AppMesh::GatewayRoute WebRoute`).
    pub what: String,
    /// The route, or why it cannot be read (an unresolved parameter by name, a selector that
    /// matches no virtual gateway, an unsupported construct).
    pub route: Result<Route, String>,
}

/// Everything read: routes, the mesh resources they refer to, meshroute's own GatewayRoutes,
/// and the files that could not be read.
#[derive(Debug, Default)]
pub struct Inventory {
    pub routes: Vec<Found>,
    /// meshroute.io GatewayRoutes, as written.
    pub gateway_routes: Vec<GatewayRoute>,
    /// Specs in App Mesh API terms, by kind, mesh and name.
    pub resources: BTreeMap<(Kind, String, String), Value>,
    /// The routes of virtual routers (specs in App Mesh API terms), by mesh and router, then
    /// route name.
    pub router_routes: BTreeMap<(String, String), BTreeMap<String, Value>>,
    /// Routes of virtual routers an input lists without their spec (`list-routes`): where,
    /// mesh, router and route; each must be described in some input too.
    listed_routes: Vec<(String, String, String, String)>,
    /// `path:line: why` for each file or object that could not be read.
    pub errors: Vec<String>,
}

impl Inventory {
    fn resource(&mut self, kind: Kind, mesh: &str, name: &str, spec: Value) {
        self.resources
            .insert((kind, mesh.to_string(), name.to_string()), spec);
    }

    /// Records a virtual router's route from its request body in App Mesh API terms
    /// (`meshName`, `virtualRouterName`, `routeName`, `spec`); a body without them adds
    /// nothing.
    fn router_route(&mut self, body: &Value) {
        if let (Some(mesh), Some(router), Some(name)) = (
            body["meshName"].as_str(),
            body["virtualRouterName"].as_str(),
            body["routeName"].as_str(),
        ) {
            self.router_routes
                .entry((mesh.to_string(), router.to_string()))
                .or_default()
                .insert(name.to_string(), body["spec"].clone());
        }
    }

    /// Notes a virtual router's route an input lists without its spec (`source` says where).
    fn listed_route(&mut self, source: String, listed: &Value) {
        if let (Some(mesh), Some(router), Some(name)) = (
            listed["meshName"].as_str(),
            listed["virtualRouterName"].as_str(),
            listed["routeName"].as_str(),
        ) {
            self.listed_routes
                .push((source, mesh.into(), router.into(), name.into()));
        }
    }

    fn spec(&self, kind: Kind, mesh: &str, name: &str) -> Option<&Value> {
        self.resources
            .get(&(kind, mesh.to_string(), name.to_string()))
    }

    /// The target virtual service's provider, as `import` records it from App Mesh
    /// (`AppMesh::backend_of`): the virtual node's service discovery and first listener port,
    /// or the virtual router's first listener port, its routes and what each node they target
    /// stands for. Empty when the input has no such service.
    pub fn backend(&self, mesh: &str, service: &str) -> Backend {
        let Some(provider) = self
            .spec(Kind::VirtualService, mesh, service)
            .map(|s| &s["provider"])
        else {
            return Backend::default();
        };
        if let Some(node) = provider["virtualNode"]["virtualNodeName"].as_str() {
            return self.node(mesh, node);
        }
        let Some(router) = provider["virtualRouter"]["virtualRouterName"].as_str() else {
            return Backend::default();
        };
        let routes: Vec<RouterRoute> = self
            .router_routes
            .get(&(mesh.to_string(), router.to_string()))
            .into_iter()
            .flatten()
            .map(|(name, spec)| RouterRoute {
                name: name.clone(),
                spec: spec.clone(),
            })
            .collect();
        let nodes = routes
            .iter()
            .flat_map(RouterRoute::targets)
            .map(|node| (node.to_string(), self.node(mesh, node)))
            .collect();
        Backend {
            provider: Some(format!("virtualRouter/{router}")),
            port: first_port(self.spec(Kind::VirtualRouter, mesh, router)),
            protocol: self.spec(Kind::VirtualRouter, mesh, router).and_then(|s| {
                s["listeners"][0]["portMapping"]["protocol"]
                    .as_str()
                    .map(String::from)
            }),
            routes,
            nodes,
            ..Backend::default()
        }
    }

    /// What the virtual node `node` stands for: its service discovery and first listener port.
    fn node(&self, mesh: &str, node: &str) -> Backend {
        let spec = self.spec(Kind::VirtualNode, mesh, node);
        let discovery = spec.map(|s| &s["serviceDiscovery"]);
        let map = discovery.map(|d| &d["awsCloudMap"]);
        Backend {
            provider: Some(format!("virtualNode/{node}")),
            dns_hostname: discovery.and_then(|d| d["dns"]["hostname"].as_str().map(String::from)),
            cloud_map: map.and_then(|m| {
                Some(CloudMap {
                    namespace_name: m["namespaceName"].as_str()?.into(),
                    service_name: m["serviceName"].as_str()?.into(),
                })
            }),
            port: first_port(spec),
            settings: recorded::NODE_SETTINGS
                .into_iter()
                .filter(|setting| {
                    spec.and_then(|s| s["listeners"].as_array())
                        .into_iter()
                        .flatten()
                        .any(|l| !l[*setting].is_null())
                })
                .map(String::from)
                .collect(),
            ..Backend::default()
        }
    }

    /// The virtual gateway's listeners (`protocol`, `port`), if the input has the gateway.
    pub fn listeners(&self, mesh: &str, gateway: &str) -> Vec<(String, i32)> {
        let Some(listeners) = self
            .spec(Kind::VirtualGateway, mesh, gateway)
            .and_then(|s| s["listeners"].as_array())
        else {
            return Vec::new();
        };
        listeners
            .iter()
            .filter_map(|l| {
                let mapping = &l["portMapping"];
                Some((
                    mapping["protocol"].as_str()?.to_string(),
                    i32::try_from(mapping["port"].as_i64()?).ok()?,
                ))
            })
            .collect()
    }
}

/// The first listener port of a virtual node's or router's spec.
fn first_port(spec: Option<&Value>) -> Option<i32> {
    spec?["listeners"].as_array()?.iter().find_map(|l| {
        l["portMapping"]["port"]
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
    })
}

/// Reads every file `paths` names (a directory recursively, `-` for stdin). A file that cannot
/// be read is an error in the inventory; the other files are still read.
pub fn read(paths: &[PathBuf], opts: &Options) -> Inventory {
    let mut inventory = Inventory::default();
    let mut k8s =
        appmesh_k8s::Objects::new(opts.namespace.clone().unwrap_or_else(|| "default".into()));
    let mut templates = cloudformation::Templates::default();
    let mut files = Vec::new();
    for path in paths {
        if let Err(e) = expand(path, &mut files) {
            inventory.errors.push(format!("{}: {e}", path.display()));
        }
    }
    let (terraform, others): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|p| {
        opts.format == Some(Format::Terraform)
            || p.extension().is_some_and(|e| e == "tf" || e == "tfvars")
    });
    terraform::read(&terraform, opts, &mut inventory);
    for path in others {
        let shown = path.display().to_string();
        let text = match text_of(&path) {
            Ok(text) => text,
            Err(e) => {
                inventory.errors.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let documents = match node::documents(&text) {
            Ok(documents) => documents,
            Err(e) => {
                inventory
                    .errors
                    .push(format!("{shown}: not YAML or JSON: {e}"));
                continue;
            }
        };
        for document in documents {
            let mut readers = Readers {
                inventory: &mut inventory,
                k8s: &mut k8s,
                templates: &mut templates,
            };
            read_document(&shown, document, opts, &mut readers);
        }
    }
    templates.resolve(&opts.set, &mut inventory);
    k8s.resolve(&mut inventory);
    for (source, mesh, router, name) in std::mem::take(&mut inventory.listed_routes) {
        let described = inventory
            .router_routes
            .get(&(mesh, router.clone()))
            .is_some_and(|routes| routes.contains_key(&name));
        if !described {
            inventory.errors.push(format!(
                "{source}: route {name} of virtual router {router} is listed but no input \
                 describes it; save `aws appmesh describe-route` for it"
            ));
        }
    }
    inventory
}

/// The readers that resolve once every file is read, and the inventory.
struct Readers<'a> {
    inventory: &'a mut Inventory,
    k8s: &'a mut appmesh_k8s::Objects,
    templates: &'a mut cloudformation::Templates,
}

/// The official App Mesh controller's objects in the kubeconfig's cluster: the GatewayRoutes of
/// `namespace` (the context's without one; every namespace's with `all`), resolved against
/// every Mesh, VirtualGateway, VirtualService, VirtualNode, VirtualRouter and Namespace, as the
/// controller resolved them.
pub async fn cluster(namespace: Option<&str>, all: bool) -> Result<Inventory, kube::Error> {
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
    let client = kube::Client::try_default().await?;
    let namespace = match (all, namespace) {
        (true, _) => None,
        (false, Some(ns)) => Some(ns.to_string()),
        (false, None) => Some(client.default_namespace().to_string()),
    };
    let mut inventory = Inventory::default();
    let mut k8s = appmesh_k8s::Objects::new(namespace.clone().unwrap_or_default());
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for ns in namespaces.list(&ListParams::default()).await?.items {
        let value = serde_json::to_value(&ns).unwrap_or_default();
        k8s.add_value(
            String::new(),
            with_kind(value, "v1", "Namespace"),
            &mut inventory,
        );
    }
    for kind in appmesh_k8s::KINDS {
        let gvk = GroupVersionKind::gvk("appmesh.k8s.aws", "v1beta2", kind);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk));
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            // The controller's CRDs are not installed: nothing of this kind.
            Err(kube::Error::Api(s)) if s.code == 404 => continue,
            Err(e) => return Err(e),
        };
        for object in list.items {
            let object_ns = object.metadata.namespace.clone().unwrap_or_default();
            if *kind == "GatewayRoute" && namespace.as_ref().is_some_and(|ns| *ns != object_ns) {
                continue;
            }
            let source = format!(
                "cluster: {kind} {object_ns}/{}",
                object.metadata.name.as_deref().unwrap_or_default()
            );
            let value = serde_json::to_value(&object).unwrap_or_default();
            k8s.add_value(
                source,
                with_kind(value, "appmesh.k8s.aws/v1beta2", kind),
                &mut inventory,
            );
        }
    }
    k8s.resolve(&mut inventory);
    Ok(inventory)
}

/// A listed object with its `apiVersion` and `kind`, which list items may lack.
fn with_kind(mut value: Value, api_version: &str, kind: &str) -> Value {
    value["apiVersion"] = Value::String(api_version.into());
    value["kind"] = Value::String(kind.into());
    value
}

/// One document of a YAML or JSON file, by its format.
fn read_document(path: &str, document: Node, opts: &Options, readers: &mut Readers) {
    let Readers {
        inventory,
        k8s,
        templates,
    } = readers;
    let format = opts.format.or_else(|| detect(&document));
    match format {
        Some(Format::Cloudformation) => templates.add(path, &document),
        Some(Format::TerraformJson) => terraform::read_json(path, &document, inventory),
        Some(Format::CliJson) => cli_json::read(path, &document, inventory),
        Some(Format::AppmeshK8s) => k8s.add(path, &document, inventory),
        Some(Format::Terraform) => inventory.errors.push(format!(
            "{path}: --format terraform reads .tf and .tfvars files only"
        )),
        None => kubernetes(path, document, inventory, k8s),
    }
}

/// A Kubernetes object or List: meshroute's own GatewayRoutes are kept as written, the official
/// controller's objects and Namespaces go to its resolver, anything else is ignored.
fn kubernetes(
    path: &str,
    document: Node,
    inventory: &mut Inventory,
    k8s: &mut appmesh_k8s::Objects,
) {
    let api_version = document.get("apiVersion").and_then(Node::as_str);
    let kind = document.get("kind").and_then(Node::as_str);
    match (api_version, kind) {
        (Some("v1"), Some("List")) => {
            for item in document.get("items").map_or(&[][..], Node::items) {
                kubernetes(path, item.clone(), inventory, k8s);
            }
        }
        (Some(v), Some("GatewayRoute")) if v.starts_with("meshroute.io/") => {
            match strict::<GatewayRoute>(document.to_json()) {
                Ok(route) => inventory.gateway_routes.push(route),
                Err(e) => inventory.errors.push(format!(
                    "{path}:{}: not a valid GatewayRoute: {e}",
                    document.line
                )),
            }
        }
        _ => k8s.add(path, &document, inventory),
    }
}

/// The format a document is written in, when it says so by its shape.
fn detect(document: &Node) -> Option<Format> {
    let has = |key: &str| document.get(key).is_some();
    let api_version = document.get("apiVersion").and_then(Node::as_str);
    let parameters_file = matches!(&document.value, node::Tree::Seq(items)
        if !items.is_empty() && items.iter().all(|i| i.get("ParameterKey").is_some()));
    if parameters_file
        || has("AWSTemplateFormatVersion")
        || document.get("Resources").is_some_and(|r| {
            r.entries()
                .iter()
                .any(|(_, v)| v.get("Type").and_then(Node::as_str).is_some())
        })
    {
        Some(Format::Cloudformation)
    } else if has("format_version") && (has("values") || has("planned_values")) {
        Some(Format::TerraformJson)
    } else if api_version.is_some_and(|v| v.starts_with("appmesh.k8s.aws/")) {
        Some(Format::AppmeshK8s)
    } else if cli_json::KEYS.iter().any(|k| has(k)) {
        Some(Format::CliJson)
    } else {
        None
    }
}

/// `path`'s files, as `kubectl apply -f -R` finds them: the file itself, or a directory's
/// `.yaml`, `.yml`, `.json`, `.tf` and `.tfvars` files at any depth (hidden entries such as
/// `.terraform/` skipped), in name order.
fn expand(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let hidden = entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if entry.is_dir() {
            expand(&entry, files)?;
        } else if entry.extension().is_some_and(|e| {
            ["yaml", "yml", "json", "tf", "tfvars"].contains(&&*e.to_string_lossy())
        }) {
            files.push(entry);
        }
    }
    Ok(())
}

fn text_of(path: &Path) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

/// `value` as a `T`, as strictly as the apiserver reads a manifest: a field `T` does not have
/// is an error naming it (serde would drop it silently).
pub fn strict<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    let mut unknown = Vec::new();
    // serde_ignored writes an Option's inside as `?`: not part of the field's name.
    let out = serde_ignored::deserialize(value, |path| {
        unknown.push(path.to_string().replace(".?", ""))
    })
    .map_err(|e| e.to_string())?;
    // A Kubernetes object's `apiVersion` and `kind` are read by kube's own code, not as fields.
    unknown.retain(|path| path != "apiVersion" && path != "kind");
    match unknown.as_slice() {
        [] => Ok(out),
        [one] => Err(format!("unknown field `{one}`")),
        many => Err(format!("unknown fields `{}`", many.join("`, `"))),
    }
}

/// `PascalCase` to the API's `camelCase` (CloudFormation's property names), a leading acronym
/// lower case as a whole: `HttpRoute` -> `httpRoute`, `DNS` -> `dns`, `AWSCloudMap` ->
/// `awsCloudMap`, `HTTP2` -> `http2`.
fn camel_of_pascal(key: &str) -> String {
    let upper = key.chars().take_while(char::is_ascii_uppercase).count();
    let next_is_lower = key
        .chars()
        .nth(upper)
        .is_some_and(|c| c.is_ascii_lowercase());
    // In `AWSCloudMap` the last capital of the run starts the next word.
    let lowered = if upper > 1 && next_is_lower {
        upper - 1
    } else {
        upper.max(1)
    };
    key.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < lowered {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// `snake_case` to `camelCase` (Terraform's argument names).
fn camel_of_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A route read from an API-shaped request body (CreateGatewayRoute's, CloudFormation's
/// properties after renaming, Terraform's arguments after renaming): `meshName`, `meshOwner`,
/// `virtualGatewayName`, `gatewayRouteName`, `spec`, `tags`.
fn route_of_request(body: &Value) -> Result<Route, String> {
    let field = |name: &str| body[name].as_str().map(String::from);
    let need = |name: &str| field(name).ok_or_else(|| format!("it has no `{name}`"));
    let tags = match &body["tags"] {
        Value::Null => Vec::new(),
        tags => strict::<Vec<Tag>>(tags.clone()).map_err(|e| format!("tags: {e}"))?,
    };
    Ok(Route {
        key: RouteKey {
            mesh: need("meshName")?,
            mesh_owner: field("meshOwner"),
            gateway: need("virtualGatewayName")?,
            name: need("gatewayRouteName")?,
        },
        spec: body.get("spec").cloned().ok_or("it has no `spec`")?,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_the_apis() {
        assert_eq!(camel_of_pascal("VirtualServiceName"), "virtualServiceName");
        assert_eq!(camel_of_pascal("Http2Route"), "http2Route");
        // CloudFormation's acronyms: the API's names are lower case.
        for (pascal, camel) in [
            ("DNS", "dns"),
            ("AWSCloudMap", "awsCloudMap"),
            ("TLS", "tls"),
            ("ACM", "acm"),
            ("HTTP2", "http2"),
            ("SDS", "sds"),
        ] {
            assert_eq!(camel_of_pascal(pascal), camel, "{pascal}");
        }
        assert_eq!(camel_of_snake("virtual_service_name"), "virtualServiceName");
        assert_eq!(camel_of_snake("http2_route"), "http2Route");
    }

    #[test]
    fn strict_reading_names_the_unknown_field() {
        let route = serde_json::json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "a" },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
                "match": { "prefix": "/" },
                "action": { "target": { "virtualService": {
                    "virtualServiceName": "s", "port": 8080 } } } } },
        });
        let e = strict::<GatewayRoute>(route).unwrap_err();
        assert_eq!(
            e,
            "unknown field `spec.httpRoute.action.target.virtualService.port`"
        );
    }
}
