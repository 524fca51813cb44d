//! AWS CLI JSON as teams saved it before the shutdown: `aws appmesh describe-*` (and
//! `create-*`/`update-*`) outputs, `list-gateway-routes` outputs, and `--cli-input-json` bodies
//! (of gateway routes and of virtual routers' routes).
//! Both are the API's own shapes (App Mesh API reference, `DescribeGatewayRoute` response and
//! `CreateGatewayRoute` request), so no renaming is needed.

use serde_json::Value;

use super::node::Node;
use super::{Found, Inventory, Kind, route_of_request};

/// The top-level keys that make a document CLI JSON.
pub const KEYS: &[&str] = &[
    "gatewayRoute",
    "gatewayRoutes",
    "virtualGateway",
    "virtualService",
    "virtualNode",
    "virtualRouter",
    "route",
    "routes",
    "gatewayRouteName",
    "virtualGatewayName",
    "routeName",
];

/// The request fields of `create-gateway-route --cli-input-json` (and the output's
/// `gatewayRoute`): anything else is an error naming it.
const ROUTE_FIELDS: &[&str] = &[
    "meshName",
    "meshOwner",
    "virtualGatewayName",
    "gatewayRouteName",
    "spec",
    "tags",
    "clientToken",
    "metadata",
    "status",
];

pub fn read(path: &str, document: &Node, inventory: &mut Inventory) {
    let at = |node: &Node| format!("{path}:{}", node.line);
    for (key, node) in document.entries() {
        let value = node.to_json();
        match key.as_str() {
            "gatewayRoute" => route(at(node), &value, inventory),
            "gatewayRoutes" => {
                for (item, listed) in node
                    .items()
                    .iter()
                    .zip(value.as_array().into_iter().flatten())
                {
                    inventory.routes.push(Found {
                        source: at(item),
                        what: format!(
                            "list-gateway-routes entry {}",
                            listed["gatewayRouteName"].as_str().unwrap_or("?")
                        ),
                        route: Err("a list-gateway-routes output holds no spec; save \
                                    `aws appmesh describe-gateway-route` for this route"
                            .into()),
                    });
                }
            }
            "virtualGateway" => resource(
                Kind::VirtualGateway,
                "virtualGatewayName",
                &value,
                inventory,
            ),
            "virtualService" => resource(
                Kind::VirtualService,
                "virtualServiceName",
                &value,
                inventory,
            ),
            "virtualNode" => resource(Kind::VirtualNode, "virtualNodeName", &value, inventory),
            "virtualRouter" => {
                resource(Kind::VirtualRouter, "virtualRouterName", &value, inventory)
            }
            // `describe-route`: a virtual router's route, what its virtual service's requests
            // do after the gateway route.
            "route" => inventory.router_route(&value),
            // `list-routes`: names only; each must be described too.
            "routes" => {
                for (item, listed) in node
                    .items()
                    .iter()
                    .zip(value.as_array().into_iter().flatten())
                {
                    inventory.listed_route(at(item), listed);
                }
            }
            _ => {}
        }
    }
    // A --cli-input-json body: the request itself.
    if document.get("gatewayRouteName").is_some() {
        route(at(document), &document.to_json(), inventory);
    } else if document.get("routeName").is_some() {
        inventory.router_route(&document.to_json());
    } else if document.get("virtualGatewayName").is_some() && document.get("spec").is_some() {
        resource(
            Kind::VirtualGateway,
            "virtualGatewayName",
            &document.to_json(),
            inventory,
        );
    }
}

fn route(source: String, body: &Value, inventory: &mut Inventory) {
    let unknown: Vec<&String> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| !ROUTE_FIELDS.contains(&k.as_str()))
        .collect();
    let route = match unknown.first() {
        Some(field) => Err(format!("unknown field `{field}`")),
        None => route_of_request(body),
    };
    inventory.routes.push(Found {
        source,
        what: format!(
            "gateway route {}",
            body["gatewayRouteName"].as_str().unwrap_or("?")
        ),
        route,
    });
}

fn resource(kind: Kind, name: &str, body: &Value, inventory: &mut Inventory) {
    if let (Some(mesh), Some(name)) = (body["meshName"].as_str(), body[name].as_str()) {
        inventory.resource(kind, mesh, name, body["spec"].clone());
    }
}
