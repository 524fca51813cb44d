//! The official App Mesh controller's objects (`appmesh.k8s.aws/v1beta2`), resolved as that
//! controller resolved them (aws/aws-app-mesh-controller-for-k8s; docs/migration.md cites the
//! files):
//! - a route's App Mesh name is `spec.awsName`, else `<name>_<namespace>`
//!   (`webhooks/appmesh/gatewayroute_mutator.go`, `defaultingAWSName`); a VirtualGateway's,
//!   VirtualNode's and VirtualRouter's likewise, a VirtualService's `<name>.<namespace>`, a
//!   Mesh's its name (their mutators);
//! - its mesh is `spec.meshRef`, else the one Mesh whose `namespaceSelector` selects the route's
//!   Namespace (`pkg/mesh/membership_designator.go`); a missing selector selects nothing
//!   (`metav1.LabelSelectorAsSelector(nil)`), an empty one everything;
//! - its virtual gateway is `spec.virtualGatewayRef`, else the one VirtualGateway whose
//!   `namespaceSelector` selects the route's Namespace and whose `gatewayRouteSelector` (none:
//!   every route) selects the route's labels (`pkg/virtualgateway/membership_designator.go`);
//! - a target's `virtualServiceRef` is that VirtualService's App Mesh name (namespace defaults
//!   to the route's), a `virtualServiceARN` the name it ends with
//!   (`pkg/conversions/gatewayroute_types_conversion.go`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::node::Node;
use super::{Found, Inventory, Kind, Route};
use crate::appmesh::RouteKey;

/// One object of the official controller's kinds (or a Namespace), as read.
#[derive(Debug, Clone)]
struct Object {
    source: String,
    kind: String,
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    spec: Value,
}

/// The objects read so far; resolved together once everything is read, since a selector may
/// pick an object from another file.
#[derive(Debug, Default)]
pub struct Objects {
    objects: Vec<Object>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Namespace of objects that name none (`-n`, else `default`, as kubectl applies them).
    default_namespace: String,
}

pub const KINDS: &[&str] = &[
    "Mesh",
    "VirtualGateway",
    "GatewayRoute",
    "VirtualService",
    "VirtualNode",
    "VirtualRouter",
];

impl Objects {
    pub fn new(default_namespace: String) -> Objects {
        Objects {
            default_namespace,
            ..Default::default()
        }
    }

    /// Keeps `document` if it is one of the controller's kinds or a Namespace; other objects
    /// (Secrets, Deployments) are ignored, never printed.
    pub fn add(&mut self, path: &str, document: &Node, inventory: &mut Inventory) {
        self.add_value(
            format!("{path}:{}", document.line),
            document.to_json(),
            inventory,
        );
    }

    pub fn add_value(&mut self, source: String, object: Value, inventory: &mut Inventory) {
        let kind = object["kind"].as_str().unwrap_or_default();
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let labels: BTreeMap<String, String> =
            serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default();
        if api_version == "v1" && kind == "Namespace" {
            self.namespaces.insert(name.to_string(), labels);
            return;
        }
        if !api_version.starts_with("appmesh.k8s.aws/") || !KINDS.contains(&kind) {
            return;
        }
        if api_version != "appmesh.k8s.aws/v1beta2" {
            inventory.errors.push(format!(
                "{source}: {api_version} {kind} {name}: only appmesh.k8s.aws/v1beta2 is read \
                 (the version the controller stores since v1.0)"
            ));
            return;
        }
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| self.default_namespace.clone());
        self.objects.push(Object {
            source,
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
            labels,
            spec: object["spec"].clone(),
        });
    }

    /// Resolves every route and records the gateways' listeners and the services' providers.
    pub fn resolve(&self, inventory: &mut Inventory) {
        for object in &self.objects {
            // The mesh's other resources, by kind: what routes need of them, under the App
            // Mesh name the controller gave them.
            let (kind, spec, name) = match object.kind.as_str() {
                "GatewayRoute" => {
                    inventory.routes.push(Found {
                        source: object.source.clone(),
                        what: format!(
                            "appmesh.k8s.aws GatewayRoute {}/{}",
                            object.namespace, object.name
                        ),
                        route: self.route(object),
                    });
                    continue;
                }
                "VirtualGateway" => (
                    Kind::VirtualGateway,
                    object.spec.clone(),
                    aws_name(object, '_'),
                ),
                "VirtualNode" => (
                    Kind::VirtualNode,
                    object.spec.clone(),
                    aws_name(object, '_'),
                ),
                "VirtualRouter" => {
                    if let Ok(mesh) = self.mesh_of(object) {
                        for body in self.router_routes(object, &mesh) {
                            inventory.router_route(&body);
                        }
                    }
                    (
                        Kind::VirtualRouter,
                        object.spec.clone(),
                        aws_name(object, '_'),
                    )
                }
                "VirtualService" => (
                    Kind::VirtualService,
                    self.service_spec(object),
                    aws_name(object, '.'),
                ),
                _ => continue,
            };
            if let Ok(mesh) = self.mesh_of(object) {
                inventory.resource(kind, &mesh, &name, spec);
            }
        }
    }

    fn find(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&Object> {
        self.objects.iter().find(|o| {
            o.kind == kind && o.name == name && namespace.is_none_or(|ns| o.namespace == ns)
        })
    }

    /// The labels of `namespace`'s Namespace object, with the `kubernetes.io/metadata.name`
    /// label the apiserver sets on every namespace; whether the input had the object.
    fn namespace_labels(&self, namespace: &str) -> (BTreeMap<String, String>, bool) {
        let known = self.namespaces.get(namespace);
        let mut labels = known.cloned().unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".into(), namespace.into());
        (labels, known.is_some())
    }

    /// The App Mesh name of the mesh `object` belongs to.
    fn mesh_of(&self, object: &Object) -> Result<String, String> {
        if let Some(name) = object.spec["meshRef"]["name"].as_str() {
            return Ok(self
                .find("Mesh", None, name)
                .map(|m| aws_name_or(m, name.to_string()))
                .unwrap_or_else(|| name.to_string()));
        }
        let (labels, known) = self.namespace_labels(&object.namespace);
        let meshes: Vec<&Object> = self
            .objects
            .iter()
            .filter(|o| o.kind == "Mesh" && selects(&o.spec["namespaceSelector"], &labels, false))
            .collect();
        match meshes.as_slice() {
            [mesh] => Ok(aws_name_or(mesh, mesh.name.clone())),
            [] => Err(format!(
                "no Mesh's namespaceSelector selects namespace {}{}",
                object.namespace,
                missing_namespace(known)
            )),
            many => Err(format!(
                "several Meshes select namespace {}: {}",
                object.namespace,
                names(many)
            )),
        }
    }

    fn route(&self, route: &Object) -> Result<Route, String> {
        let mesh = self.mesh_of(route)?;
        let gateway = match route.spec["virtualGatewayRef"].as_object() {
            Some(reference) => {
                let name = reference["name"].as_str().unwrap_or_default();
                let namespace = reference
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(&route.namespace);
                self.find("VirtualGateway", Some(namespace), name)
                    .ok_or_else(|| {
                        format!("its virtualGatewayRef {namespace}/{name} is not in the input")
                    })?
            }
            None => self.gateway_of(route)?,
        };
        let mut spec = route.spec.clone();
        let fields = spec.as_object_mut().ok_or("it has no spec")?;
        for field in ["awsName", "meshRef", "virtualGatewayRef"] {
            fields.remove(field);
        }
        for kind in ["httpRoute", "http2Route", "grpcRoute"] {
            if let Some(target) = fields
                .get_mut(kind)
                .and_then(|r| r["action"]["target"].get_mut("virtualService"))
            {
                let name = self.service_name(route, target)?;
                *target = Value::Object(Map::from_iter([(
                    "virtualServiceName".to_string(),
                    Value::String(name),
                )]));
            }
        }
        Ok(Route {
            key: RouteKey {
                mesh,
                mesh_owner: None,
                gateway: aws_name(gateway, '_'),
                name: aws_name(route, '_'),
            },
            spec,
            tags: Vec::new(),
        })
    }

    /// The one VirtualGateway whose selectors take `route`.
    fn gateway_of(&self, route: &Object) -> Result<&Object, String> {
        let (labels, known) = self.namespace_labels(&route.namespace);
        let gateways: Vec<&Object> = self
            .objects
            .iter()
            .filter(|o| {
                o.kind == "VirtualGateway"
                    && selects(&o.spec["namespaceSelector"], &labels, false)
                    && selects(&o.spec["gatewayRouteSelector"], &route.labels, true)
            })
            .collect();
        match gateways.as_slice() {
            [gateway] => Ok(gateway),
            [] => Err(format!(
                "no VirtualGateway's namespaceSelector and gatewayRouteSelector select it{}",
                missing_namespace(known)
            )),
            many => Err(format!(
                "several VirtualGateways select it: {}; set spec.virtualGatewayRef",
                names(many)
            )),
        }
    }

    /// A target's App Mesh virtual service name.
    fn service_name(&self, route: &Object, target: &Value) -> Result<String, String> {
        if let Some(arn) = target["virtualServiceARN"].as_str() {
            return arn
                .rsplit_once("virtualService/")
                .map(|(_, name)| name.to_string())
                .ok_or_else(|| format!("virtualServiceARN {arn} names no virtual service"));
        }
        let reference = &target["virtualServiceRef"];
        let name = reference["name"]
            .as_str()
            .ok_or("its target has neither virtualServiceRef nor virtualServiceARN")?;
        let namespace = reference["namespace"].as_str().unwrap_or(&route.namespace);
        self.find("VirtualService", Some(namespace), name)
            .map(|s| aws_name(s, '.'))
            .ok_or_else(|| format!("its virtualServiceRef {namespace}/{name} is not in the input"))
    }

    /// The App Mesh name of the `kind` object an ARN or a `*Ref` (`name`, and `namespace`
    /// defaulting to `from`'s) names; a reference to an object the input lacks, none.
    fn referenced(
        &self,
        from: &Object,
        kind: &str,
        reference: &Value,
        arn: &Value,
    ) -> Option<String> {
        if let Some(arn) = arn.as_str() {
            return arn.rsplit('/').next().map(String::from);
        }
        let name = reference["name"].as_str()?;
        let namespace = reference["namespace"].as_str().unwrap_or(&from.namespace);
        self.find(kind, Some(namespace), name)
            .map(|o| aws_name(o, '_'))
    }

    /// A VirtualRouter's routes (`spec.routes`) as App Mesh's CreateRoute bodies, as the
    /// controller makes them (`pkg/virtualrouter/routes_manager.go`: the route's App Mesh name
    /// is its `name`; each target's `virtualNodeRef` or `virtualNodeARN` the node's App Mesh
    /// name). A target node the input lacks keeps the name the controller would give it,
    /// `<name>_<namespace>`.
    fn router_routes(&self, router: &Object, mesh: &str) -> Vec<Value> {
        let mut bodies = Vec::new();
        for route in router.spec["routes"].as_array().into_iter().flatten() {
            let mut spec = route.clone();
            let Some(fields) = spec.as_object_mut() else {
                continue;
            };
            let name = fields.remove("name");
            for kind in ["httpRoute", "http2Route", "grpcRoute", "tcpRoute"] {
                let targets = fields
                    .get_mut(kind)
                    .and_then(|r| r["action"].get_mut("weightedTargets"))
                    .and_then(Value::as_array_mut);
                for target in targets.into_iter().flatten() {
                    let reference = &target["virtualNodeRef"];
                    let node = self
                        .referenced(router, "VirtualNode", reference, &target["virtualNodeARN"])
                        .or_else(|| {
                            let name = reference["name"].as_str()?;
                            let namespace =
                                reference["namespace"].as_str().unwrap_or(&router.namespace);
                            Some(format!("{name}_{namespace}"))
                        });
                    if let Some(fields) = target.as_object_mut() {
                        fields.remove("virtualNodeRef");
                        fields.remove("virtualNodeARN");
                        fields.insert("virtualNode".into(), node.into());
                    }
                }
            }
            bodies.push(serde_json::json!({
                "meshName": mesh, "virtualRouterName": aws_name(router, '_'),
                "routeName": name, "spec": spec,
            }));
        }
        bodies
    }

    /// A VirtualService's spec with its provider's reference turned into an App Mesh name.
    fn service_spec(&self, service: &Object) -> Value {
        let mut spec = service.spec.clone();
        for (kind, field, reference, arn) in [
            (
                "VirtualNode",
                "virtualNode",
                "virtualNodeRef",
                "virtualNodeARN",
            ),
            (
                "VirtualRouter",
                "virtualRouter",
                "virtualRouterRef",
                "virtualRouterARN",
            ),
        ] {
            let provider = &spec["provider"][field];
            let name = self.referenced(service, kind, &provider[reference], &provider[arn]);
            if let Some(name) = name {
                spec["provider"][field] = serde_json::json!({ format!("{field}Name"): name });
            }
        }
        spec
    }
}

/// `spec.awsName`, else `<name><sep><namespace>` (the controller's mutators).
fn aws_name(object: &Object, separator: char) -> String {
    aws_name_or(
        object,
        format!("{}{separator}{}", object.name, object.namespace),
    )
}

fn aws_name_or(object: &Object, default: String) -> String {
    object.spec["awsName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .unwrap_or(default)
}

fn names(objects: &[&Object]) -> String {
    objects
        .iter()
        .map(|o| o.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing_namespace(known: bool) -> &'static str {
    if known {
        ""
    } else {
        " (its Namespace object is not in the input, so only its kubernetes.io/metadata.name \
         label is known: add the Namespace manifest or read from the cluster)"
    }
}

/// Whether a `metav1.LabelSelector` selects `labels`; a missing one selects everything when
/// `missing_selects_all` (gatewayRouteSelector), nothing otherwise (namespaceSelector).
fn selects(selector: &Value, labels: &BTreeMap<String, String>, missing_selects_all: bool) -> bool {
    if selector.is_null() {
        return missing_selects_all;
    }
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let labels_match = match_labels
        .into_iter()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten();
    labels_match
        && expressions.into_iter().all(|e| {
            let value = labels.get(e["key"].as_str().unwrap_or_default());
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("In") => value.is_some_and(|v| values.contains(&v.as_str())),
                Some("NotIn") => value.is_none_or(|v| !values.contains(&v.as_str())),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_follow_metav1() {
        let labels = BTreeMap::from([("team".to_string(), "a".to_string())]);
        assert!(!selects(&Value::Null, &labels, false));
        assert!(selects(&Value::Null, &labels, true));
        assert!(selects(&json!({}), &labels, false));
        assert!(selects(
            &json!({ "matchLabels": { "team": "a" } }),
            &labels,
            false
        ));
        assert!(!selects(
            &json!({ "matchLabels": { "team": "b" } }),
            &labels,
            false
        ));
        let expression = |op: &str, values: &[&str]| json!({ "matchExpressions": [{ "key": "team", "operator": op, "values": values }] });
        assert!(selects(&expression("In", &["a", "b"]), &labels, false));
        assert!(!selects(&expression("NotIn", &["a"]), &labels, false));
        assert!(selects(&expression("Exists", &[]), &labels, false));
        assert!(!selects(&expression("DoesNotExist", &[]), &labels, false));
    }
}
