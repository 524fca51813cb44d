//! The pure middle of a reconcile: what App Mesh should hold for a GatewayRoute, who owns an App
//! Mesh route, which client tokens make each call idempotent, and which tags must change.

use kube::ResourceExt;
use uuid::Uuid;

use crate::api::ownership::{self, ADOPT_FROM_CLUSTER_ANNOTATION, Owner};
use crate::api::{GatewayRoute, Tag};
use crate::appmesh::{RouteKey, RouteSpec};

/// A digest of a set of tags (in any order).
fn tags_digest(tags: &[Tag]) -> String {
    let mut pairs: Vec<(&str, &str)> = tags.iter().map(|t| (&*t.key, &*t.value)).collect();
    pairs.sort_unstable();
    let text = serde_json::to_string(&pairs).unwrap_or_default();
    crate::api::short_hash(&text)
}

/// Namespace of the UUIDv5 client tokens (a fixed random UUID: tokens only need to be stable).
const TOKEN_NAMESPACE: Uuid = Uuid::from_u128(0x6d65_7368_726f_7574_65a1_b2c3_d4e5_f607);

/// Who an existing App Mesh route belongs to, by its ownership tags: the tags are the contract.
/// An owner is a stable identity (cluster id, namespace, name); the uid tells object instances
/// of that identity apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// This very object.
    Ours,
    /// The same cluster, namespace and name, another uid: this object's earlier instance
    /// (deleted with Retain or with its finalizer removed, or a cluster rebuilt from Git).
    SameIdentity,
    /// Another object of this cluster.
    OtherObject(Owner),
    /// meshroute in another cluster.
    OtherCluster(Owner),
    /// No meshroute object.
    Nobody,
}

/// Tag calls that bring a route's tags to the desired ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagChanges {
    /// Tags to add or overwrite (TagResource).
    pub set: Vec<Tag>,
    /// Keys to remove (UntagResource).
    pub remove: Vec<String>,
}

impl TagChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// What App Mesh should hold for one GatewayRoute.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub key: RouteKey,
    pub spec: RouteSpec,
    pub user_tags: Vec<Tag>,
    pub owner: Owner,
    /// `meshroute.io/adopt: "true"`.
    pub adopt: bool,
    /// `meshroute.io/adopt-from-cluster`.
    pub adopt_from_cluster: Option<String>,
    /// `deletionPolicy: Retain`.
    pub retain: bool,
    /// What in the spec App Mesh's Envoy would refuse (invalid regular expressions).
    pub invalid: Vec<String>,
}

impl Desired {
    pub fn of(route: &GatewayRoute, cluster: &str) -> Desired {
        Desired {
            key: RouteKey::of(route),
            spec: RouteSpec::of(&route.spec),
            user_tags: route.spec.tags.clone().unwrap_or_default(),
            owner: Owner {
                cluster: cluster.to_string(),
                namespace: route.namespace().unwrap_or_default(),
                name: route.name_any(),
                uid: route.uid().unwrap_or_default(),
            },
            adopt: ownership::wants_adoption(route.annotations()),
            adopt_from_cluster: route
                .annotations()
                .get(ADOPT_FROM_CLUSTER_ANNOTATION)
                .cloned(),
            retain: route.deletion_policy() == crate::api::DeletionPolicy::Retain,
            invalid: route.spec.invalid_regexes(),
        }
    }

    /// The user's tags plus the ownership tags: what CreateGatewayRoute sends.
    pub fn all_tags(&self) -> Vec<Tag> {
        let mut tags = self.user_tags.clone();
        tags.extend(self.owner.tags());
        tags
    }

    /// A digest of every tag the route should carry, the ownership tags (cluster id, object
    /// uid) included: recorded in status once they are on the route, it tells that the route
    /// was made or last checked by this object in this cluster with these tags.
    pub fn tags_digest(&self) -> String {
        tags_digest(&self.all_tags())
    }

    /// The target virtual service of the route's spec.
    pub fn target(&self) -> &str {
        self.spec.target()
    }

    /// Whose route an App Mesh route with these tags is.
    pub fn ownership(&self, tags: &[Tag]) -> Ownership {
        let me = &self.owner;
        match Owner::from_tags(tags) {
            None => Ownership::Nobody,
            Some(o) if o.cluster != me.cluster => Ownership::OtherCluster(o),
            Some(o) if o.namespace != me.namespace || o.name != me.name => {
                Ownership::OtherObject(o)
            }
            Some(o) if o.uid == me.uid => Ownership::Ours,
            Some(_) => Ownership::SameIdentity,
        }
    }

    /// The client token of CreateGatewayRoute: the object's uid for the first create, so a
    /// create retried after a crash is the same request. A route lost after that (deleted
    /// outside meshroute) is re-created under a token derived from the lost route's App Mesh
    /// uid: App Mesh would answer the first token with the first, deleted, route.
    pub fn create_token(&self, lost_route_uid: Option<&str>) -> String {
        match lost_route_uid {
            None => self.owner.uid.clone(),
            Some(lost) => token(&format!("{}/recreate/{lost}", self.owner.uid)),
        }
    }

    /// The client token of UpdateGatewayRoute: one per object, generation and App Mesh version,
    /// so a retried update is idempotent while a later drift repair at the same generation is a
    /// new request.
    pub fn update_token(&self, generation: i64, observed_version: i64) -> String {
        token(&format!(
            "{}/update/{generation}/{observed_version}",
            self.owner.uid
        ))
    }

    /// The tag calls that make `observed` (all tags on the route) equal to the desired tags.
    /// Ownership tags are only ever set, never removed.
    pub fn tag_changes(&self, observed: &[Tag]) -> TagChanges {
        let desired = self.all_tags();
        let set = desired
            .iter()
            .filter(|d| !observed.contains(d))
            .cloned()
            .collect();
        let remove = observed
            .iter()
            .filter(|o| !o.is_ownership())
            .filter(|o| !desired.iter().any(|d| d.key == o.key))
            .map(|o| o.key.clone())
            .collect();
        TagChanges { set, remove }
    }
}

fn token(name: &str) -> String {
    Uuid::new_v5(&TOKEN_NAMESPACE, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GatewayRouteSpec;

    fn route() -> GatewayRoute {
        let spec: GatewayRouteSpec = serde_json::from_value(serde_json::json!({
            "meshName": "apps", "virtualGatewayName": "gw",
            "http2Route": { "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } } },
            "tags": [{ "key": "team", "value": "edge" }]
        }))
        .unwrap();
        let mut r = GatewayRoute::new("web", spec);
        r.metadata.namespace = Some("shop".into());
        r.metadata.uid = Some("0f8fad5b-d9cb-469f-a165-70867728950e".into());
        r
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn the_name_defaults_to_name_and_namespace_and_the_target_is_found() {
        let d = Desired::of(&route(), "prod");
        assert_eq!(d.key.name, "web_shop");
        assert_eq!(d.target(), "svc");
        assert_eq!(d.all_tags().len(), 1 + 4);
    }

    #[test]
    fn tokens_are_stable_distinct_and_within_app_mesh_limits() {
        let d = Desired::of(&route(), "prod");
        assert_eq!(d.create_token(None), "0f8fad5b-d9cb-469f-a165-70867728950e");
        let tokens = [
            d.create_token(None),
            d.create_token(Some("lost-1")),
            d.update_token(2, 1),
            d.update_token(2, 2),
            d.update_token(3, 1),
        ];
        for t in &tokens {
            assert!(
                t.len() <= 36 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{t}"
            );
        }
        let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
        assert_eq!(
            d.update_token(2, 1),
            Desired::of(&route(), "prod").update_token(2, 1)
        );
    }

    #[test]
    fn names_stay_stable_and_fit_app_mesh() {
        let mut r = route();
        r.status = Some(crate::api::GatewayRouteStatus {
            arn: Some(
                "arn:aws:appmesh:us-west-2:1:mesh/apps/virtualGateway/gw/gatewayRoute/web".into(),
            ),
            ..Default::default()
        });
        assert_eq!(
            Desired::of(&r, "prod").key.name,
            "web",
            "a recorded name is kept"
        );
        r.spec.gateway_route_name = Some("Explicit.Name".into());
        assert_eq!(Desired::of(&r, "prod").key.name, "Explicit.Name");
        let long = "a".repeat(253);
        let (x, y) = (
            crate::api::default_app_mesh_name(&long, "ns-one"),
            crate::api::default_app_mesh_name(&long, "ns-two"),
        );
        assert!(x.len() == 255 && y.len() == 255 && x != y, "{x} {y}");
    }

    #[test]
    fn ownership_follows_the_objects_identity() {
        let d = Desired::of(&route(), "prod");
        assert_eq!(d.ownership(&d.all_tags()), Ownership::Ours);
        assert_eq!(d.ownership(&[tag("team", "x")]), Ownership::Nobody);
        let mut again = route();
        again.metadata.uid = Some("new-uid".into());
        assert_eq!(
            Desired::of(&again, "prod").ownership(&d.all_tags()),
            Ownership::SameIdentity
        );
        let mut other = route();
        other.metadata.name = Some("api".into());
        match d.ownership(&Desired::of(&other, "prod").all_tags()) {
            Ownership::OtherObject(o) => assert_eq!(o.name, "api"),
            x => panic!("{x:?}"),
        }
        match d.ownership(&Desired::of(&route(), "staging").all_tags()) {
            Ownership::OtherCluster(o) => assert!(o.to_string().contains("cluster staging"), "{o}"),
            x => panic!("{x:?}"),
        }
    }

    #[test]
    fn tag_changes_keep_ownership_tags_and_drop_stray_user_tags() {
        let d = Desired::of(&route(), "prod");
        let mut observed = d.all_tags();
        assert!(d.tag_changes(&observed).is_empty());
        observed.retain(|t| t.key != "team");
        observed.push(tag("stray", "1"));
        observed.push(tag("meshroute.io/extra", "kept"));
        let changes = d.tag_changes(&observed);
        assert_eq!(changes.set, vec![tag("team", "edge")]);
        assert_eq!(changes.remove, vec!["stray".to_string()]);
    }
}
