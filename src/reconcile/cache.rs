//! What the controller keeps of each GatewayRoute between reconciles. It holds every watched
//! object for as long as it runs, so the size of one cached object is the operator's memory per
//! route. Deserialised, an object with a typical status is about 3 KB: mostly fixed-size
//! structs, and a B-tree node of half a kilobyte for one label. As compact JSON it is 1.7 KB
//! (a Gateway API route with four findings), two thirds of it the status meshroute wrote: the
//! same keys, reasons and finding texts in every object. Packed against a dictionary of sample
//! objects (`packed`) it is about 350 bytes. So the cache holds each object that way, next to
//! the few metadata fields the watch, the queue and its predicates read; a reconcile, or the
//! drift pass, decodes the one object it works on.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::packed::Packed;
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
    /// How many statuses someone else wrote over this replica's in-sync one the watch has
    /// shown (`Written::wake_value`), as of this version.
    foreign: u64,
    /// This version wakes a reconcile (`CachedRoute::compare`).
    wakes: bool,
    /// The whole object, less what meshroute never reads (managed fields and kubectl's
    /// last-applied annotation, a second copy of the spec), packed against [`DICTIONARY`].
    object: Packed,
}

/// The reference the controller's queue and the dependency waiters hold.
pub type Key = ObjectRef<CachedRoute>;

impl CachedRoute {
    /// The object, whole again.
    pub fn route(&self) -> GatewayRoute {
        self.object.unpack(&DICTIONARY)
    }

    /// The object's metadata and spec only (what the collision index reads): no status, so a
    /// smaller allocation than [`CachedRoute::route`] for each watch event.
    pub fn without_status(&self) -> GatewayRoute {
        #[derive(serde::Deserialize)]
        struct Head {
            metadata: ObjectMeta,
            spec: crate::api::GatewayRouteSpec,
        }
        let head: Head = self.object.unpack(&DICTIONARY);
        GatewayRoute {
            metadata: head.metadata,
            spec: head.spec,
            status: None,
        }
    }

    /// Decides whether this version of the object, about to replace `before` in the cache,
    /// wakes a reconcile: only what someone else changed does (`foreign`: see
    /// `Written::wake_value`). The previous version is the cache's own, so the decision costs
    /// no memory of its own (kube-runtime's `predicate_filter` keeps a second map of every
    /// object for it).
    pub fn compare(&mut self, before: Option<&CachedRoute>, foreign: u64) {
        self.foreign = foreign;
        self.wakes = before.is_none_or(|b| {
            let m = (
                &b.metadata.uid,
                b.metadata.generation,
                b.annotations,
                b.foreign,
            );
            m != (
                &self.metadata.uid,
                self.metadata.generation,
                self.annotations,
                foreign,
            )
        });
    }

    /// Whether this version wakes a reconcile, as `compare` decided.
    pub fn wakes(&self) -> bool {
        self.wakes
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
        CachedRoute {
            metadata,
            annotations: digest.finish(),
            status: super::status::digest(route.status.as_ref()),
            class: super::status::class_of(&route),
            foreign: 0,
            wakes: true,
            object: Packed::new(&route, &DICTIONARY),
        }
    }
}

/// Sample objects as the cache keeps them, one per route kind and serving mode, with the
/// status meshroute writes for each: what a cached object is compressed against. An object's
/// own names, uid and times are what is left to store. Serialised from the types, so the keys
/// are in the order the cache writes them.
static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let in_sync = "App Mesh gateway route arn:aws:appmesh:us-west-2:111122223333:mesh/apps/\
        virtualGateway/gateway/gatewayRoute/name_team is in sync (version 1)";
    let accepted = "HTTPRoute team/name is accepted by Gateway gateways/gw \
        (traefik.io/gateway-controller)";
    let findings = "changed spec.http2Route.match.prefix (prefix-segments): Gateway API matches \
        whole path segments: /name still matches /name/x, but no longer /namex as App Mesh did; \
        check spec.http2Route.action.target (backend-namespace-assumed): \
        service.svc.cluster.local names no namespace; took Service service in team, the route's \
        own; check spec.http2Route.action.target (backend-port-assumed): no port is known for \
        service.svc.cluster.local; took 80; check spec.http2Route (http2-app-protocol): App \
        Mesh spoke HTTP/2 to the target; Gateway API takes the backend's protocol from its \
        Service port; changed spec.grpcRoute.match (prefix-bare-path): Gateway API's \
        PathPrefix also matches";
    let metadata = json!({ "creationTimestamp": "2026-01-01T00:00:00Z",
        "finalizers": ["meshroute.io/finalizer"], "generation": 1,
        "labels": { "app.kubernetes.io/name": "app" }, "name": "name", "namespace": "team",
        "resourceVersion": "1", "uid": "00000000-0000-0000-0000-000000000000" });
    let condition = |type_: &str, reason: &str, message: &str| {
        json!({ "type": type_, "status": "True", "reason": reason, "message": message,
            "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z" })
    };
    let target = json!({ "target": { "virtualService": {
        "virtualServiceName": "service.team.svc.cluster.local" } } });
    let app_mesh = json!({ "arn": "arn:aws:appmesh:us-west-2:111122223333:mesh/apps/\
            virtualGateway/gateway/gatewayRoute/name_team",
        "uid": "00000000-0000-0000-0000-000000000000", "version": 1,
        "meshOwner": "111122223333", "resourceOwner": "111122223333",
        "createdAt": "2026-01-01T00:00:00Z", "lastUpdatedAt": "2026-01-01T00:00:00Z",
        "awsStatus": "ACTIVE", "routeKind": "http", "shard": "meshroute/meshroute",
        "tagsDigest": "0000000000000000", "servedBy": "App Mesh", "observedGeneration": 1,
        "conditions": [condition("Ready", "Synced", in_sync)] });
    let gateway_api = json!({ "gatewayAPIRoute": { "kind": "HTTPRoute", "parent": "gateways/gw" },
        "servedBy": "Gateway API", "routeKind": "http2", "observedGeneration": 1,
        "conditions": [condition("Ready", "Synced", accepted),
            condition("GatewayAPIFindings", "PrefixSegments", findings)] });
    let samples = [
        json!({ "httpRoute": { "match": { "prefix": "/name/", "hostname": { "exact": "name" },
            "headers": [{ "name": "x-name", "match": { "exact": "value" } }] },
            "action": target } }),
        json!({ "http2Route": { "match": { "prefix": "/name" }, "action": target } }),
        json!({ "grpcRoute": { "match": { "serviceName": "name" }, "action": target } }),
    ];
    let mut dictionary = Vec::new();
    for (spec, status) in samples
        .into_iter()
        .zip([app_mesh, gateway_api.clone(), gateway_api])
    {
        let mut spec = spec;
        spec["meshName"] = json!("apps");
        spec["virtualGatewayName"] = json!("gateway");
        let sample: GatewayRoute = serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": metadata, "spec": spec, "status": status }))
        .expect("the cache's sample objects are GatewayRoutes");
        serde_json::to_writer(&mut dictionary, &sample).expect("a GatewayRoute serialises");
    }
    dictionary
});

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
        let json = cached.object.json(&DICTIONARY);
        assert!(!String::from_utf8(json).unwrap().contains("last-applied"));
        assert_eq!(key(&expected), Key::from_obj(&cached));
    }

    /// A version wakes a reconcile when it is new to the cache, or its uid, generation,
    /// annotations or count of foreign statuses changed; not for anything else (a status or a
    /// finalizer this replica wrote, a label).
    #[test]
    fn a_version_wakes_a_reconcile_only_for_what_someone_else_changed() {
        let with = |uid: &str, generation: i64, annotations: serde_json::Value, label: &str| {
            serde_json::from_value::<CachedRoute>(json!({
                "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
                "metadata": { "name": "r", "namespace": "team", "uid": uid,
                    "generation": generation, "annotations": annotations,
                    "labels": { "l": label } },
                "spec": { "meshName": "m", "virtualGatewayName": "g",
                    "http2Route": { "match": { "prefix": "/" },
                        "action": { "target": { "virtualService": { "virtualServiceName": "s" } } } } },
                "status": { "observedGeneration": generation }
            }))
            .unwrap()
        };
        let adopt = || json!({ "meshroute.io/adopt": "true" });
        let mut base = with("u1", 1, adopt(), "a");
        base.compare(None, 0);
        assert!(base.wakes(), "new to the cache");
        let wakes = |mut next: CachedRoute, foreign: u64| {
            next.compare(Some(&base), foreign);
            next.wakes()
        };
        assert!(!wakes(with("u1", 1, adopt(), "a"), 0), "the same");
        assert!(!wakes(with("u1", 1, adopt(), "b"), 0), "a label");
        assert!(wakes(with("u2", 1, adopt(), "a"), 0), "made again");
        assert!(wakes(with("u1", 2, adopt(), "a"), 0), "the spec");
        let other = json!({ "meshroute.io/adopt": "false" });
        assert!(wakes(with("u1", 1, other, "a"), 0), "an annotation");
        assert!(
            wakes(with("u1", 1, json!({}), "a"), 0),
            "an annotation gone"
        );
        assert!(wakes(with("u1", 1, adopt(), "a"), 1), "a foreign status");
        assert_eq!(base.meta().generation, Some(1));
        assert_eq!(base.meta().annotations, None);
    }

    /// A Gateway API route with four findings, as a run of the bench cached it (other names
    /// than the dictionary's): 1.6 KB of JSON, kept in under 400 bytes, and whole again.
    #[test]
    fn a_typical_object_is_kept_in_a_few_hundred_bytes() {
        let findings = "changed spec.http2Route.match.prefix (prefix-segments): Gateway API \
            matches whole path segments: /r5 still matches /r5/x, but no longer /r5x as App Mesh \
            did; check spec.http2Route.action.target (backend-namespace-assumed): \
            myservicea.svc.cluster.local names no namespace; took Service myservicea in \
            bench-vf86d, the route's own; check spec.http2Route.action.target \
            (backend-port-assumed): no port is known for myservicea.svc.cluster.local; took 80; \
            check spec.http2Route (http2-app-protocol): App Mesh spoke HTTP/2 to the target; \
            Gateway API takes the backend's protocol from its Service port";
        let object = json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "creationTimestamp": "2026-12-04T13:16:08Z",
                "finalizers": ["meshroute.io/finalizer"], "generation": 1,
                "labels": { "meshroute-bench": "bench-vf86d" }, "name": "r5",
                "namespace": "bench-vf86d", "resourceVersion": "2637",
                "uid": "834025bf-53d7-49a4-8c15-5759335498ea" },
            "spec": { "http2Route": { "action": { "target": { "virtualService": {
                    "virtualServiceName": "myservicea.svc.cluster.local" } } },
                    "match": { "prefix": "/r5" } },
                "meshName": "apps", "virtualGatewayName": "myVirtualGateway" },
            "status": { "conditions": [
                { "lastTransitionTime": "2026-12-04T13:16:15Z", "observedGeneration": 1,
                  "message": "HTTPRoute bench-vf86d/r5 is accepted by Gateway gateway-jd2ms/gw \
                      (traefik.io/gateway-controller)",
                  "reason": "Synced", "status": "True", "type": "Ready" },
                { "lastTransitionTime": "2026-12-04T13:16:15Z", "message": findings,
                  "observedGeneration": 1, "reason": "PrefixSegments", "status": "True",
                  "type": "GatewayAPIFindings" }],
                "gatewayAPIRoute": { "kind": "HTTPRoute", "parent": "gateway-jd2ms/gw" },
                "observedGeneration": 1, "routeKind": "http2", "servedBy": "Gateway API",
                "shard": "default/meshroute" } });
        let route: GatewayRoute = serde_json::from_value(object.clone()).unwrap();
        let cached: CachedRoute = serde_json::from_value(object).unwrap();
        let (json, kept) = (cached.object.json_length(), cached.object.size());
        assert!(json > 1600, "{json} bytes of JSON");
        assert!(kept < 400, "kept in {kept} bytes");
        assert_eq!(cached.route(), route);
    }

    #[test]
    fn what_a_gateway_route_refuses_the_cache_refuses() {
        let bad = json!({ "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "r" }, "spec": { "meshName": 1 } });
        assert!(serde_json::from_value::<CachedRoute>(bad).is_err());
    }
}
