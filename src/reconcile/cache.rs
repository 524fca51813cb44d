//! What the controller keeps of each GatewayRoute between reconciles. It holds every watched
//! object for as long as it runs, so the size of one cached object is the operator's memory per
//! route. Deserialised, an object with a typical status is about 3 KB: mostly fixed-size
//! structs, and a B-tree node of half a kilobyte for one label. Kept as the compact JSON the
//! apiserver sent, it is about a third of that. So the cache holds each object as JSON, next to
//! the few metadata fields the watch, the queue and its predicates read; a reconcile, or the
//! drift pass, decodes the one object it works on.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use serde::{Deserialize, Deserializer};

use crate::api::GatewayRoute;
use crate::fair::Class;

/// A cached GatewayRoute.
#[derive(Clone, Debug)]
pub struct CachedRoute {
    /// Name, namespace, uid, resourceVersion and generation only.
    metadata: ObjectMeta,
    /// A digest of the annotations, for the predicate that wakes a reconcile when they change.
    annotations: u64,
    /// A digest of the status, to tell a status someone else wrote from this replica's own.
    status: u64,
    /// Why it would be reconciled, from what it shows (`status::class_of`): the queue orders
    /// due objects by it without decoding them.
    class: Class,
    /// The whole object as compact JSON, less what meshroute never reads: managed fields and
    /// kubectl's last-applied annotation (a second copy of the spec).
    object: Box<str>,
}

/// The reference the controller's queue and the dependency waiters hold.
pub type Key = ObjectRef<CachedRoute>;

impl CachedRoute {
    /// The object, whole again.
    pub fn route(&self) -> GatewayRoute {
        serde_json::from_str(&self.object)
            .expect("the cache holds only JSON it made from a GatewayRoute")
    }

    /// The object's metadata and spec only (what the collision index reads): no status, so a
    /// smaller allocation than [`CachedRoute::route`] for each watch event.
    pub fn without_status(&self) -> GatewayRoute {
        #[derive(serde::Deserialize)]
        struct Head {
            metadata: ObjectMeta,
            spec: crate::api::GatewayRouteSpec,
        }
        let head: Head = serde_json::from_str(&self.object)
            .expect("the cache holds only JSON it made from a GatewayRoute");
        GatewayRoute {
            metadata: head.metadata,
            spec: head.spec,
            status: None,
        }
    }

    /// The predicate on annotations (which kube-runtime's own would read from the metadata).
    pub fn annotations_digest(&self) -> Option<u64> {
        Some(self.annotations)
    }

    /// A digest of the status (`status::digest`).
    pub fn status_digest(&self) -> u64 {
        self.status
    }

    /// Why it would be reconciled now, from what it shows (`status::class_of`).
    pub fn class(&self) -> Class {
        self.class
    }
}

impl From<GatewayRoute> for CachedRoute {
    fn from(mut route: GatewayRoute) -> Self {
        let meta = &mut route.metadata;
        meta.managed_fields = None;
        if let Some(annotations) = &mut meta.annotations {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        let mut digest = DefaultHasher::new();
        meta.annotations.hash(&mut digest);
        let metadata = ObjectMeta {
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            generation: meta.generation,
            ..ObjectMeta::default()
        };
        let object = serde_json::to_string(&route).expect("a GatewayRoute serialises to JSON");
        CachedRoute {
            metadata,
            annotations: digest.finish(),
            status: super::status::digest(route.status.as_ref()),
            class: super::status::class_of(&route),
            object: object.into_boxed_str(),
        }
    }
}

/// Read as a GatewayRoute (so the watch refuses exactly what it would refuse of one), then
/// kept compact.
impl<'de> Deserialize<'de> for CachedRoute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        GatewayRoute::deserialize(deserializer).map(CachedRoute::from)
    }
}

/// The same API resource as [`GatewayRoute`].
impl Resource for CachedRoute {
    type DynamicType = ();
    type Scope = <GatewayRoute as Resource>::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        GatewayRoute::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        GatewayRoute::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        GatewayRoute::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        GatewayRoute::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The queue's reference to `route`.
pub fn key(route: &GatewayRoute) -> Key {
    let mut key = Key::new(route.metadata.name.as_deref().unwrap_or_default());
    key.namespace = route.metadata.namespace.clone();
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every field of an object, spec and status, comes back from the cache as it went in;
    /// only managed fields and the last-applied annotation are gone.
    #[test]
    fn an_object_comes_back_whole() {
        let object = json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "r", "namespace": "team", "uid": "u-1", "resourceVersion": "7",
                "generation": 2, "finalizers": ["meshroute.io/finalizer"],
                "labels": { "shard": "a" },
                "annotations": { "meshroute.io/adopt": "true",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"big\":true}" },
                "managedFields": [{ "manager": "kubectl", "operation": "Apply" }] },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "priority": 3,
                "tags": [{ "key": "team", "value": "a" }],
                "httpRoute": { "match": { "prefix": "/a", "headers": [{ "name": "x",
                    "match": { "range": { "start": 1, "end": 9 } } }] },
                    "action": { "target": { "virtualService": { "virtualServiceName": "s" } },
                        "rewrite": { "prefix": { "defaultPrefix": "DISABLED" } } } } },
            "status": { "arn": "arn:aws:appmesh:us-west-2:1:mesh/m/virtualGateway/g/gatewayRoute/r",
                "version": 4, "createdAt": "2026-12-02T20:00:01Z", "observedGeneration": 2,
                "tagsDigest": "abc",
                "conditions": [{ "type": "Ready", "status": "True", "reason": "Synced",
                    "message": "in sync", "observedGeneration": 2,
                    "lastTransitionTime": "2026-12-02T20:00:01Z" }] }
        });
        let mut expected: GatewayRoute = serde_json::from_value(object.clone()).unwrap();
        expected.metadata.managed_fields = None;
        expected
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .remove("kubectl.kubernetes.io/last-applied-configuration");

        let cached: CachedRoute = serde_json::from_value(object).unwrap();
        assert_eq!(cached.route(), expected);
        assert!(!cached.object.contains("last-applied"));
        assert_eq!(key(&expected), Key::from_obj(&cached));
    }

    /// The annotations digest changes with the annotations, and only with them.
    #[test]
    fn the_annotations_digest_follows_the_annotations() {
        let with = |annotations: serde_json::Value, generation: i64| -> CachedRoute {
            serde_json::from_value(json!({
                "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
                "metadata": { "name": "r", "namespace": "team", "generation": generation,
                    "annotations": annotations },
                "spec": { "meshName": "m", "virtualGatewayName": "g",
                    "http2Route": { "match": { "prefix": "/" },
                        "action": { "target": { "virtualService": { "virtualServiceName": "s" } } } } }
            }))
            .unwrap()
        };
        let base = with(json!({ "meshroute.io/adopt": "true" }), 1);
        assert_eq!(
            base.annotations_digest(),
            with(json!({ "meshroute.io/adopt": "true" }), 2).annotations_digest()
        );
        assert_ne!(
            base.annotations_digest(),
            with(json!({ "meshroute.io/adopt": "false" }), 1).annotations_digest()
        );
        assert_ne!(
            base.annotations_digest(),
            with(json!({}), 1).annotations_digest()
        );
        assert_eq!(base.meta().generation, Some(1));
        assert_eq!(base.meta().annotations, None);
    }

    #[test]
    fn what_a_gateway_route_refuses_the_cache_refuses() {
        let bad = json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "r" }, "spec": { "meshName": 1 } });
        assert!(serde_json::from_value::<CachedRoute>(bad).is_err());
    }
}
