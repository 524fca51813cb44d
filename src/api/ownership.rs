//! Ownership, as users and other tools see it: the `meshroute.io/` keys meshroute reserves (the
//! finalizer, the adoption annotations, the tags that record which object owns an App Mesh
//! route) and the limits they imply. The controller, `import`, `export` and the CRD's schema all
//! read them from here.

use std::collections::BTreeMap;

use super::Tag;

/// The prefix of every key meshroute reserves, on objects and on App Mesh routes.
pub const PREFIX: &str = "meshroute.io/";

/// The finalizer that keeps an object until its App Mesh route is deleted (or retained).
pub const FINALIZER: &str = "meshroute.io/finalizer";
/// Annotation (`"true"`) that lets a GatewayRoute take over an App Mesh route that no meshroute
/// object owns, or whose recorded owner no longer exists in this cluster.
pub const ADOPT_ANNOTATION: &str = "meshroute.io/adopt";
/// Annotation naming another cluster id whose route this GatewayRoute may take over: the
/// explicit opt-in for moving routes between clusters (`deletionPolicy: Retain`, then apply
/// in the new cluster). Without it a route tagged with another cluster id is never touched.
pub const ADOPT_FROM_CLUSTER_ANNOTATION: &str = "meshroute.io/adopt-from-cluster";
/// Annotation on every object `export gateway-api` makes, naming the GatewayRoute and App Mesh
/// route it came from.
pub const EXPORTED_FROM_ANNOTATION: &str = "meshroute.io/exported-from";

/// The field manager of everything meshroute writes: each GatewayRoute's status and the Gateway
/// API routes it serves them with.
pub const FIELD_MANAGER: &str = "meshroute";
/// The label on every Gateway API route meshroute writes: what its watch selects.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "meshroute");
/// Annotation on every Gateway API route meshroute writes: a digest of the route as meshroute
/// applied it. A route that still carries the digest of what meshroute would write now, and that
/// no other field manager has edited, is not written again (nor after a restart).
pub const APPLIED_ANNOTATION: &str = "meshroute.io/applied";
/// The kind of the object that owns (`ownerReferences`) each Gateway API route meshroute writes.
pub const OWNER_KIND: &str = "GatewayRoute";

const TAG_CLUSTER: &str = "meshroute.io/cluster";
const TAG_NAMESPACE: &str = "meshroute.io/namespace";
const TAG_NAME: &str = "meshroute.io/name";
const TAG_UID: &str = "meshroute.io/uid";
/// The ownership tags every route meshroute creates or adopts carries.
pub const TAG_KEYS: [&str; 4] = [TAG_CLUSTER, TAG_NAMESPACE, TAG_NAME, TAG_UID];

/// App Mesh's limit on tags per resource.
pub const APP_MESH_MAX_TAGS: usize = 50;
/// How many tags a GatewayRoute may set itself: App Mesh's limit less the ownership tags.
pub const MAX_USER_TAGS: usize = APP_MESH_MAX_TAGS - TAG_KEYS.len();

/// The CEL rule on `spec.tags[].key` that keeps users out of the reserved keys.
pub fn reserved_key_rule() -> String {
    format!("!self.startsWith('{PREFIX}')")
}

/// Whether a tag key is one of meshroute's (not the user's).
pub fn is_reserved(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// Whether the annotations ask to take over an App Mesh route nobody owns.
pub fn wants_adoption(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(ADOPT_ANNOTATION)
        .is_some_and(|v| v == "true")
}

/// The Kubernetes object that owns an App Mesh route, as recorded in the route's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    /// The ownership tags that record this owner on a route.
    pub fn tags(&self) -> Vec<Tag> {
        [&self.cluster, &self.namespace, &self.name, &self.uid]
            .into_iter()
            .zip(TAG_KEYS)
            .map(|(value, key)| Tag {
                key: key.into(),
                value: value.clone(),
            })
            .collect()
    }

    /// The owner recorded in a route's tags, if a meshroute object owns it (the uid tag is what
    /// makes an owner; the others may be missing on a route tagged by hand).
    pub fn from_tags(tags: &[Tag]) -> Option<Owner> {
        let get = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
        Some(Owner {
            uid: get(TAG_UID)?,
            cluster: get(TAG_CLUSTER).unwrap_or_default(),
            namespace: get(TAG_NAMESPACE).unwrap_or_default(),
            name: get(TAG_NAME).unwrap_or_default(),
        })
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GatewayRoute {}/{} (uid {}) in cluster {}",
            self.namespace, self.name, self.uid, self.cluster
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn every_reserved_key_has_the_prefix() {
        let keys = TAG_KEYS.iter().chain(&[
            FINALIZER,
            ADOPT_ANNOTATION,
            ADOPT_FROM_CLUSTER_ANNOTATION,
            EXPORTED_FROM_ANNOTATION,
        ]);
        for key in keys {
            assert!(is_reserved(key), "{key}");
        }
    }

    #[test]
    fn owners_survive_their_tags() {
        let owner = Owner {
            cluster: "c".into(),
            namespace: "n".into(),
            name: "x".into(),
            uid: "u".into(),
        };
        assert_eq!(owner.tags().len(), TAG_KEYS.len());
        assert_eq!(Owner::from_tags(&owner.tags()), Some(owner));
        let no_uid: Vec<Tag> = Vec::new();
        assert_eq!(Owner::from_tags(&no_uid), None);
    }

    /// The schema users are checked against says what these constants say.
    #[test]
    fn the_crd_schema_follows_the_constants() {
        let crd = serde_json::to_value(crate::api::GatewayRoute::crd()).unwrap();
        let tags = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["tags"];
        assert_eq!(tags["maxItems"], MAX_USER_TAGS, "{tags}");
        let rules = &tags["items"]["properties"]["key"]["x-kubernetes-validations"];
        assert_eq!(rules[0]["rule"], reserved_key_rule(), "{rules}");
        assert!(reserved_key_rule().contains("'meshroute.io/'"));
    }
}
