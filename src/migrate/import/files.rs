//! `meshroute import -f` and `--from-cluster`: the routes of an [`Inventory`] (files in any
//! supported format, or the official controller's objects in a cluster) as reads, and what the
//! printed manifests record of where each came from and of the mesh around it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Entry, Read, Taken};
use crate::api::GatewayRouteSpec;
use crate::api::recorded;
use crate::appmesh::RouteSpec;
use crate::migrate::input::{Inventory, Route, strict};

/// Annotation with where a printed GatewayRoute was read: `file:line`, or the object.
pub const SOURCE_ANNOTATION: &str = "meshroute.io/source";

/// What `import` prints for the inventory's routes, in order: a manifest per route (named as
/// `super::entries` names them, recording where it was read and the mesh around it), then each
/// route that cannot be read as a skipped entry.
pub fn entries(inventory: &Inventory, namespace: Option<&str>, taken: &Taken) -> Vec<Entry> {
    let mut reads = Vec::new();
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for found in &inventory.routes {
        match found
            .route
            .as_ref()
            .map_err(String::clone)
            .and_then(read_of)
        {
            Ok(read) => {
                reads.push(read);
                sources.push(found.source.as_str());
            }
            Err(why) => skipped.push(Entry::Skipped {
                what: format!("{} ({})", found.what, found.source),
                why,
            }),
        }
    }
    let mut entries = super::entries(&reads, namespace, taken);
    record(inventory, &reads, &sources, &mut entries);
    entries.extend(skipped);
    entries
}

/// A route as the apiserver would read its GatewayRoute: an unknown field is named.
fn read_of(route: &Route) -> Result<Read, String> {
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
        return Err("its spec has not exactly one of httpRoute, http2Route, grpcRoute".into());
    }
    Ok(Read {
        key: route.key.clone(),
        spec: RouteSpec::of(&spec),
        tags: route.tags.clone(),
    })
}

/// Records on each printed manifest where it was read, its target's provider and its virtual
/// gateway's listeners, from the inventory (`entries` and `sources` are those of `reads`, in
/// order).
fn record(inventory: &Inventory, reads: &[Read], sources: &[&str], entries: &mut [Entry]) {
    for ((read, source), entry) in reads.iter().zip(sources).zip(entries) {
        let Entry::Adopt(route) = entry else { continue };
        let key = &read.key;
        let annotations: &mut BTreeMap<String, String> =
            route.metadata.annotations.get_or_insert_default();
        annotations.insert(SOURCE_ANNOTATION.into(), source.to_string());
        let backend = inventory.backend(&key.mesh, read.spec.target());
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
