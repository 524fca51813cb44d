//! `meshroute import -f` and `--from-cluster`: the routes of an [`Inventory`] (files in any
//! supported format, or the official controller's objects in a cluster) as reads, and what the
//! printed manifests record of where each came from and of the mesh around it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Entry, Read};
use crate::api::GatewayRouteSpec;
use crate::api::recorded;
use crate::appmesh::RouteSpec;
use crate::migrate::input::{Inventory, strict};

/// Annotation with where a printed GatewayRoute was read: `file:line`, or the object.
pub const SOURCE_ANNOTATION: &str = "meshroute.io/source";

/// A route read from a source, with where it came from.
pub struct Sourced {
    pub read: Read,
    pub source: String,
}

/// The inventory's routes as reads, each checked as strictly as the apiserver would read the
/// GatewayRoute (an unknown field is named); those that cannot be read become skipped entries.
pub fn reads(inventory: &Inventory) -> (Vec<Sourced>, Vec<Entry>) {
    let mut reads = Vec::new();
    let mut skipped = Vec::new();
    for found in &inventory.routes {
        let what = format!("{} ({})", found.what, found.source);
        let read = found
            .route
            .as_ref()
            .map_err(String::clone)
            .and_then(|route| {
                let mut body = serde_json::json!({
                    "meshName": route.key.mesh,
                    "virtualGatewayName": route.key.gateway,
                    "gatewayRouteName": route.key.name,
                });
                if let Some(owner) = &route.key.mesh_owner {
                    body["meshOwner"] = Value::String(owner.clone());
                }
                let Value::Object(spec) = &route.spec else {
                    return Err("its spec is not an object".to_string());
                };
                for (k, v) in spec {
                    if [
                        "meshName",
                        "virtualGatewayName",
                        "gatewayRouteName",
                        "meshOwner",
                        "tags",
                    ]
                    .contains(&k.as_str())
                    {
                        return Err(format!("unknown field `spec.{k}`"));
                    }
                    body[k] = v.clone();
                }
                let spec: GatewayRouteSpec =
                    strict(body).map_err(|e| format!("not a gateway route spec: {e}"))?;
                if spec.route_kind().is_none() {
                    return Err(
                        "its spec has not exactly one of httpRoute, http2Route, grpcRoute".into(),
                    );
                }
                Ok(Read {
                    key: route.key.clone(),
                    spec: RouteSpec::of(&spec),
                    tags: route.tags.clone(),
                })
            });
        match read {
            Ok(read) => reads.push(Sourced {
                read,
                source: found.source.clone(),
            }),
            Err(why) => skipped.push(Entry::Skipped { what, why }),
        }
    }
    (reads, skipped)
}

/// Records on each printed manifest where it was read, its target's provider and its virtual
/// gateway's listeners, from the inventory (`entries` are those of `reads`, in order).
pub fn record(inventory: &Inventory, reads: &[Sourced], entries: &mut [Entry]) {
    for (sourced, entry) in reads.iter().zip(entries) {
        let Entry::Adopt(route) = entry else { continue };
        let key = &sourced.read.key;
        let annotations: &mut BTreeMap<String, String> =
            route.metadata.annotations.get_or_insert_default();
        annotations.insert(SOURCE_ANNOTATION.into(), sourced.source.clone());
        let backend = inventory.backend(&key.mesh, sourced.read.spec.target());
        annotations.insert(
            recorded::BACKEND_ANNOTATION.into(),
            serde_json::to_string(&backend).unwrap_or_default(),
        );
        let listeners = inventory.listeners(&key.mesh, &key.gateway);
        if !listeners.is_empty() {
            annotations.insert(
                recorded::LISTENERS_ANNOTATION.into(),
                recorded::listeners_annotation(&listeners),
            );
        }
    }
}
