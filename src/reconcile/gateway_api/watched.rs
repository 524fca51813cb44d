//! What meshroute reads of a Gateway API route (from the route watch, a read, or the answer to
//! its apply): its identity, labels, owner and `APPLIED_ANNOTATION`, which field managers hold
//! part of it (not what they hold), and its status. Not the spec, and not the managed fields'
//! field sets: a route's event is mostly those, and read as a `DynamicObject` each became a tree
//! of JSON values, three events or more per route (meshroute's apply, the implementation's
//! status, each edit).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::core::{ApiResource, DynamicResourceScope};
use serde::{Deserialize, Deserializer};

use super::plan;
use crate::api::ownership::APPLIED_ANNOTATION;
use crate::gatewayapi::objects::RouteStatus;

/// A route as meshroute reads it.
#[derive(Debug, Clone)]
pub struct WatchedRoute {
    /// Name, namespace, uid, resourceVersion, generation, labels, owner references and the
    /// `APPLIED_ANNOTATION` only.
    pub metadata: ObjectMeta,
    /// Another field manager than meshroute holds part of it (`plan::edited`: a hand edit).
    pub edited: bool,
    /// Its status as its implementations wrote it; one that does not read as a route's is
    /// empty (the route waits for one).
    pub status: RouteStatus,
}

impl<'de> Deserialize<'de> for WatchedRoute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Meta {
            name: Option<String>,
            namespace: Option<String>,
            uid: Option<String>,
            resource_version: Option<String>,
            generation: Option<i64>,
            labels: Option<BTreeMap<String, String>>,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
            owner_references: Option<Vec<OwnerReference>>,
            #[serde(default)]
            managed_fields: Vec<Manager>,
        }
        /// A managed fields entry, without its field set.
        #[derive(Deserialize)]
        struct Manager {
            manager: Option<String>,
            subresource: Option<String>,
        }
        #[derive(Deserialize)]
        struct Head {
            metadata: Meta,
            #[serde(default)]
            status: Option<serde_json::Value>,
        }
        let Head {
            metadata: m,
            status,
        } = Head::deserialize(deserializer)?;
        let applied: BTreeMap<String, String> = m
            .annotations
            .into_iter()
            .filter(|(k, _)| k == APPLIED_ANNOTATION)
            .collect();
        Ok(WatchedRoute {
            edited: m
                .managed_fields
                .iter()
                .any(|e| plan::edited(e.manager.as_deref(), e.subresource.as_deref())),
            metadata: ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                uid: m.uid,
                resource_version: m.resource_version,
                generation: m.generation,
                labels: m.labels,
                annotations: (!applied.is_empty()).then_some(applied),
                owner_references: m.owner_references,
                ..ObjectMeta::default()
            },
            status: status
                .and_then(|s| RouteStatus::deserialize(s).ok())
                .unwrap_or_default(),
        })
    }
}

impl WatchedRoute {
    /// The Gateways (namespace, name) whose implementation has judged this route at its
    /// generation.
    pub fn judged_by(&self) -> Vec<(String, String)> {
        let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
        self.status
            .parents
            .iter()
            .filter(|p| {
                p.conditions
                    .iter()
                    .any(|c| c.observed_generation == self.metadata.generation)
            })
            .map(|p| {
                let r = &p.parent_ref;
                let ns = r.namespace.as_deref().unwrap_or(namespace);
                (ns.to_string(), r.name.clone())
            })
            .collect()
    }
}

/// The same API resource as the route's kind (HTTPRoute or GRPCRoute), as a `DynamicObject`.
impl Resource for WatchedRoute {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ownership::FIELD_MANAGER;
    use serde_json::json;

    #[test]
    fn the_watch_reads_identity_owner_digest_editors_and_status_and_nothing_else() {
        let route = |managers: serde_json::Value, status: serde_json::Value| {
            serde_json::from_value::<WatchedRoute>(json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": { "name": "web", "namespace": "team", "uid": "u1",
                    "resourceVersion": "7", "generation": 2,
                    "labels": { "app.kubernetes.io/managed-by": "meshroute" },
                    "annotations": { (APPLIED_ANNOTATION): "00ff", "note": "kept out" },
                    "ownerReferences": [{ "apiVersion": "meshroute.io/v1alpha1",
                        "kind": "GatewayRoute", "name": "web", "uid": "g1" }],
                    "managedFields": managers },
                "spec": { "rules": [{ "matches": [{ "path": { "value": "/web" } }] }] },
                "status": status,
            }))
            .expect("a route reads")
        };
        let ours = json!([{ "manager": FIELD_MANAGER, "operation": "Apply",
            "fieldsV1": { "f:spec": { "f:rules": {} } } }]);
        let accepted = json!({ "parents": [{ "parentRef": { "name": "gw" },
            "conditions": [{ "type": "Accepted", "status": "True", "observedGeneration": 2 }] }] });
        let read = route(ours.clone(), accepted);
        let m = &read.metadata;
        assert_eq!(
            (m.name.as_deref(), m.namespace.as_deref(), m.uid.as_deref()),
            (Some("web"), Some("team"), Some("u1"))
        );
        assert_eq!(
            (m.resource_version.as_deref(), m.generation),
            (Some("7"), Some(2))
        );
        assert_eq!(
            m.annotations,
            Some([(APPLIED_ANNOTATION.to_string(), "00ff".to_string())].into())
        );
        assert_eq!(
            m.owner_references.as_ref().map(|o| o[0].name.as_str()),
            Some("web")
        );
        assert_eq!(
            m.labels,
            Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "meshroute".to_string()
                )]
                .into()
            )
        );
        assert!(m.managed_fields.is_none() && m.finalizers.is_none());
        assert!(!read.edited);
        assert_eq!(read.status.parents[0].conditions[0].type_, "Accepted");
        // The implementation's status subresource is not an edit; `kubectl edit` is.
        let mut status_writer = ours.as_array().unwrap().clone();
        status_writer.push(json!({ "manager": "traefik", "subresource": "status" }));
        assert!(!route(json!(status_writer), json!({})).edited);
        let mut hand = ours.as_array().unwrap().clone();
        hand.push(json!({ "manager": "kubectl-edit", "operation": "Update" }));
        assert!(route(json!(hand), json!(null)).edited);
        // A status that does not read as a route's says nothing yet.
        let odd = route(ours, json!({ "parents": "not a list" }));
        assert!(odd.status.parents.is_empty());
    }
}
