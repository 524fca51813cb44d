//! The decision at the heart of a reconcile, as pure functions: from what the object wants
//! (`Desired`), what its status recorded (`Recorded`) and what this reconcile has seen of App Mesh
//! so far (`Seen`), the next step. The executor (`execute.rs`) carries a step out, records what it
//! saw, and asks again; it never decides. Ownership, adoption and refusal live here only.

use super::desired::{Desired, Ownership, TagChanges};
use crate::api::ownership::Owner;
use crate::api::{GatewayRoute, Reason, Tag};
use crate::appmesh::{AppMeshError, ObservedRoute};
use crate::backoff::Retry;

/// What an earlier reconcile wrote into the object's status, read once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// The App Mesh route this object created or adopted, if any.
    pub arn: Option<String>,
    /// Its App Mesh uid: which instance of a route of that name it was.
    pub uid: Option<String>,
    /// Ready=True at the object's current generation.
    pub ready: bool,
    /// The object's generation (for update tokens).
    pub generation: i64,
    /// The route's App Mesh version when last seen.
    pub version: Option<i64>,
    /// When App Mesh created that route, in whole seconds (with the ARN and the version, it
    /// tells the instance in a ListGatewayRoutes page).
    pub created_at: Option<i64>,
    /// Ready=True at an earlier generation: the route was in sync before this spec change.
    pub was_ready: bool,
    /// The digest of the tags last given to the route.
    pub tags_digest: Option<String>,
}

impl Recorded {
    /// Whether the status was written by this object, in this cluster, with the tags it wants
    /// now: only then may a ListGatewayRoutes page (which shows versions, not tags) vouch for
    /// the route.
    pub fn tagged_as(&self, d: &Desired) -> bool {
        self.tags_digest.as_deref() == Some(&d.tags_digest())
    }

    pub fn of(route: &GatewayRoute) -> Recorded {
        let status = route.status.as_ref();
        Recorded {
            arn: status.and_then(|s| s.arn.clone()),
            uid: status.and_then(|s| s.uid.clone()),
            ready: super::status::ready_now(route),
            generation: route.metadata.generation.unwrap_or_default(),
            version: status.and_then(|s| s.version),
            created_at: status
                .and_then(|s| s.created_at.as_ref())
                .map(|t| t.0.as_second()),
            was_ready: super::status::was_ready(route),
            tags_digest: status.and_then(|s| s.tags_digest.clone()),
        }
    }
}

/// What App Mesh holds under the route's name, as far as this reconcile has looked.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Observation {
    #[default]
    Unknown,
    Absent,
    /// The route, and its tags once they were read.
    Present(Box<ObservedRoute>, Option<Vec<Tag>>),
}

/// Everything a reconcile has learnt so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    pub route: Observation,
    /// CreateGatewayRoute answered 409: the name is taken.
    pub name_taken: bool,
    /// Whether the object recorded as the route's owner still exists (asked only when it
    /// matters: an adoption of a route owned by another object of this cluster).
    pub owner_alive: Option<bool>,
    /// On deletion: the tags of whatever route holds the recorded ARN (`Some(None)`: none).
    pub recorded_arn_tags: Option<Option<Vec<Tag>>>,
    /// Whether a recent ListGatewayRoutes page lists the recorded route instance at the
    /// recorded version (asked before a delete, and before a direct update).
    pub page_vouches: Option<bool>,
    /// A direct UpdateGatewayRoute was refused (404 or 409): look at the route instead.
    pub direct_update_failed: bool,
}

/// What changed in App Mesh, for the object's Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    /// The route was deleted outside meshroute and created again.
    Recreated,
    /// An existing route (this object's earlier instance's, unowned with the adopt annotation,
    /// or released by its owner) was taken over.
    Adopted,
    Updated,
    /// The route was changed outside meshroute and put back.
    DriftCorrected,
    TagsUpdated,
    None,
}

/// Why a reconcile did not get App Mesh in sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub reason: Reason,
    pub message: String,
    pub retry: Retry,
}

impl From<AppMeshError> for Problem {
    fn from(e: AppMeshError) -> Self {
        let meaning = e.kind.meaning();
        Problem {
            reason: meaning.reason,
            message: format!("{e}; {}", meaning.advice),
            retry: meaning.retry,
        }
    }
}

/// The next thing to do for a GatewayRoute that exists.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// DescribeGatewayRoute.
    Describe,
    /// ListTagsForResource on the described route.
    ListTags,
    /// Ask the cluster whether this owner object still exists.
    CheckOwner(Owner),
    /// Look the recorded route up in a recent ListGatewayRoutes page.
    ReadPage,
    /// UpdateGatewayRoute straight away, the route being the recorded instance at the recorded
    /// version, with the recorded tags: one call for a spec change.
    Update {
        token: String,
    },
    /// CreateGatewayRoute with the user's and the ownership tags.
    Create {
        token: String,
        change: Change,
    },
    /// The route is ours (or becomes ours): update the spec if `update_token` is set, then
    /// fix the tags. With nothing to do, `route` is in sync as it is.
    Converge {
        route: Box<ObservedRoute>,
        change: Change,
        update_token: Option<String>,
        tags: TagChanges,
    },
    Refuse(Problem),
}

/// What is known before a reconcile of an object that is not being deleted begins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Start {
    /// The object is in sync at its generation and nothing failed since (a drift check).
    pub drift_check: bool,
    /// The drift pass found the route's tags changed, which a page cannot show.
    pub full_check: bool,
    /// Someone else wrote over the in-sync status this replica wrote.
    pub foreign_status: bool,
    /// That status still records the route this replica wrote in sync.
    pub records_what_it_wrote: bool,
}

/// How a reconcile begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// In sync, as far as this replica knows: no call (the drift pass finds changes in App Mesh).
    InSync,
    /// In sync if a recent ListGatewayRoutes page lists the recorded route unchanged.
    AskPage,
    /// Plan from the start.
    Plan,
}

/// How the reconcile of an object begins: with no App Mesh call of its own when it can tell the
/// route is in sync.
pub fn start(s: &Start) -> Begin {
    if s.foreign_status && s.records_what_it_wrote {
        Begin::InSync
    } else if (s.drift_check || s.foreign_status) && !s.full_check {
        Begin::AskPage
    } else {
        Begin::Plan
    }
}

/// The next step for an object that is not being deleted.
pub fn plan(d: &Desired, rec: &Recorded, seen: &Seen) -> Step {
    if !d.invalid.is_empty() {
        return Step::Refuse(Problem {
            reason: Reason::InvalidSpec,
            message: format!(
                "{}; App Mesh's Envoy would not load this route, so nothing was sent; fix the spec",
                d.invalid.join("; ")
            ),
            retry: Retry::AwaitChange,
        });
    }
    match &seen.route {
        // Nothing recorded: try to create first. A create costs one call and is idempotent
        // (client token = uid), so a route this object made before a crash comes back as is.
        // A route meshroute deleted when Gateway API alone served its gateway left its App Mesh
        // uid: the new one is made under a token of its own, as a vanished route's is.
        // An object that asks to adopt expects the route to exist: it looks first, so an
        // import adopts with no CreateGatewayRoute call at all.
        Observation::Unknown
            if rec.arn.is_none()
                && !seen.name_taken
                && !d.adopt
                && d.adopt_from_cluster.is_none() =>
        {
            Step::Create {
                token: d.create_token(rec.uid.as_deref()),
                change: Change::Created,
            }
        }
        // A spec change of a route in sync until now, tags unchanged: if a page still lists
        // the recorded instance at the recorded version, update it directly.
        Observation::Unknown if direct_update(d, rec, seen) => match seen.page_vouches {
            None => Step::ReadPage,
            Some(true) => Step::Update {
                token: d.update_token(rec.generation, rec.version.unwrap_or_default()),
            },
            Some(false) => Step::Describe,
        },
        Observation::Unknown => Step::Describe,
        Observation::Absent if seen.name_taken => Step::Refuse(Problem {
            reason: Reason::AppMeshUnavailable,
            message: format!(
                "App Mesh reported gateway route {} as taken, then as missing; retrying",
                d.key.name
            ),
            retry: Retry::Transient,
        }),
        // Recorded, now gone: deleted outside meshroute (or its mesh or gateway went away).
        // The lost route's App Mesh uid makes a fresh token: App Mesh would answer the first
        // token with the first, deleted, route.
        Observation::Absent if rec.arn.is_some() => Step::Create {
            token: d.create_token(Some(rec.uid.as_deref().unwrap_or("unknown"))),
            change: Change::Recreated,
        },
        Observation::Absent => Step::Create {
            token: d.create_token(None),
            change: Change::Created,
        },
        Observation::Present(_, None) => Step::ListTags,
        Observation::Present(route, Some(tags)) => match claim(d, rec, route, tags, seen) {
            Ok(change) => converge(d, rec, route, tags, change),
            Err(step) => step,
        },
    }
}

/// Whether a spec change may go straight to UpdateGatewayRoute.
fn direct_update(d: &Desired, rec: &Recorded, seen: &Seen) -> bool {
    rec.was_ready
        && !rec.ready
        && rec.arn.is_some()
        && rec.version.is_some()
        && rec.created_at.is_some()
        && rec.tagged_as(d)
        && !seen.name_taken
        && !seen.direct_update_failed
}

/// Whether this object may manage `route`, and if so what taking it is (`None`: it is ours
/// already; `Adopted`: it becomes ours now). The tags are the contract; the status only vouches
/// for a route whose ownership tags someone removed.
fn claim(
    d: &Desired,
    rec: &Recorded,
    route: &ObservedRoute,
    tags: &[Tag],
    seen: &Seen,
) -> Result<Change, Step> {
    let recorded = rec.uid.as_deref() == Some(route.uid.as_str());
    match d.ownership(tags) {
        Ownership::Ours if recorded => Ok(Change::None),
        // Made by this object, never recorded: a crash between create and status write.
        Ownership::Ours => Ok(Change::Adopted),
        Ownership::SameIdentity => Ok(Change::Adopted),
        Ownership::Nobody if recorded => Ok(Change::None),
        Ownership::Nobody if d.adopt => Ok(Change::Adopted),
        Ownership::Nobody => Err(Step::Refuse(name_in_use(
            d,
            "no meshroute object owns it; to take it over, annotate this GatewayRoute with \
             meshroute.io/adopt=true, or give it another gatewayRouteName",
        ))),
        Ownership::OtherCluster(o) if d.adopt_from_cluster.as_deref() == Some(&o.cluster) => {
            Ok(Change::Adopted)
        }
        Ownership::OtherCluster(o) => Err(Step::Refuse(other_cluster(d, &o))),
        Ownership::OtherObject(o) if d.adopt => match seen.owner_alive {
            None => Err(Step::CheckOwner(o)),
            Some(false) => Ok(Change::Adopted),
            Some(true) => Err(Step::Refuse(name_in_use(
                d,
                &format!(
                    "it belongs to {o}, which still exists; meshroute.io/adopt only takes over \
                     routes whose owner is gone; give this GatewayRoute another gatewayRouteName"
                ),
            ))),
        },
        Ownership::OtherObject(o) => Err(Step::Refuse(name_in_use(
            d,
            &format!(
                "it belongs to {o}; give this GatewayRoute another gatewayRouteName, or, if that \
                 object no longer exists, annotate this one with meshroute.io/adopt=true"
            ),
        ))),
    }
}

fn converge(
    d: &Desired,
    rec: &Recorded,
    route: &ObservedRoute,
    tags: &[Tag],
    mut change: Change,
) -> Step {
    let update_token =
        (!d.spec.matches(&route.spec)).then(|| d.update_token(rec.generation, route.version));
    if update_token.is_some() && change == Change::None {
        change = if rec.ready {
            Change::DriftCorrected
        } else {
            Change::Updated
        };
    }
    let tags = d.tag_changes(tags);
    if change == Change::None && !tags.is_empty() {
        change = Change::TagsUpdated;
    }
    Step::Converge {
        route: Box::new(route.clone()),
        change,
        update_token,
        tags,
    }
}

fn name_in_use(d: &Desired, whose: &str) -> Problem {
    let k = &d.key;
    Problem {
        reason: Reason::NameInUse,
        message: format!(
            "App Mesh already has a gateway route named {} on virtual gateway {} in mesh {}: {whose}",
            k.name, k.gateway, k.mesh
        ),
        retry: Retry::Slow,
    }
}

fn other_cluster(d: &Desired, owner: &Owner) -> Problem {
    let k = &d.key;
    Problem {
        reason: Reason::OwnedByOtherCluster,
        message: format!(
            "App Mesh gateway route {} on virtual gateway {} in mesh {} belongs to meshroute in \
             cluster '{}' ({owner}), and this meshroute runs with --cluster-id '{}'; it never \
             changes or deletes another cluster's routes. If that cluster is gone and this object \
             should take the route over, annotate it with meshroute.io/adopt-from-cluster={}",
            k.name, k.gateway, k.mesh, owner.cluster, d.owner.cluster, owner.cluster
        ),
        retry: Retry::Slow,
    }
}

/// What deleting the object does, or needs to know first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalStep {
    /// Look the recorded route up in a recent ListGatewayRoutes page (shared by every delete
    /// on that gateway): the route instance this object recorded, unchanged since, is its own.
    ReadPage,
    /// ListTagsForResource on the ARN recorded in status: one call that tells both whether a
    /// route of that name exists and whose it is.
    ReadRecordedTags,
    /// Nothing recorded: DescribeGatewayRoute, then ListTags.
    Describe,
    ListTags,
    Delete,
    Done(Removal),
}

/// What deleting the object did in App Mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    Retained,
    /// There was no route of this object's to delete.
    NothingOurs,
}

impl Removal {
    pub const ALL: [Removal; 3] = [Removal::Deleted, Removal::Retained, Removal::NothingOurs];

    /// The `result` label of `meshroute_reconciles_total` for a finished cleanup.
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Deleted => "Deleted",
            Removal::Retained => "Retained",
            Removal::NothingOurs => "Released",
        }
    }
}

/// The next step for an object being deleted. A route is deleted only when its tags name this
/// object's identity (this object, or an earlier instance of it): never on the status' word
/// alone, since another install or cluster may hold the route now. A route already gone (or
/// whose mesh or gateway is) counts as deleted.
pub fn plan_removal(d: &Desired, rec: &Recorded, seen: &Seen) -> RemovalStep {
    if d.retain {
        return RemovalStep::Done(Removal::Retained);
    }
    let instance_recorded =
        rec.arn.is_some() && rec.version.is_some() && rec.created_at.is_some() && rec.tagged_as(d);
    match seen.page_vouches {
        None if instance_recorded => return RemovalStep::ReadPage,
        Some(true) => return RemovalStep::Delete,
        _ => {}
    }
    let tags = match (&seen.recorded_arn_tags, &seen.route) {
        (Some(None), _) => return RemovalStep::Done(Removal::NothingOurs),
        (Some(Some(tags)), _) => tags,
        (None, Observation::Unknown) if rec.arn.is_some() => return RemovalStep::ReadRecordedTags,
        (None, Observation::Unknown) => return RemovalStep::Describe,
        (None, Observation::Absent) => return RemovalStep::Done(Removal::NothingOurs),
        (None, Observation::Present(_, None)) => return RemovalStep::ListTags,
        (None, Observation::Present(_, Some(tags))) => tags,
    };
    match d.ownership(tags) {
        Ownership::Ours | Ownership::SameIdentity => RemovalStep::Delete,
        _ => RemovalStep::Done(Removal::NothingOurs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GatewayRouteSpec;
    use crate::appmesh::RouteSpec;

    const UID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn object(annotations: &[(&str, &str)], retain: bool) -> GatewayRoute {
        let spec: GatewayRouteSpec = serde_json::from_value(serde_json::json!({
            "meshName": "apps", "virtualGatewayName": "gw",
            "http2Route": { "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } } },
            "deletionPolicy": if retain { "Retain" } else { "Delete" },
        }))
        .unwrap();
        let mut r = GatewayRoute::new("web", spec);
        r.metadata.namespace = Some("shop".into());
        r.metadata.uid = Some(UID.into());
        r.metadata.generation = Some(2);
        r.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        r
    }

    fn desired(annotations: &[(&str, &str)]) -> Desired {
        Desired::of(&object(annotations, false), "prod")
    }

    /// The App Mesh route as `d` wants it, at `version`, with App Mesh uid `am_uid`.
    fn observed(d: &Desired, am_uid: &str, version: i64) -> ObservedRoute {
        ObservedRoute {
            arn: format!(
                "arn:aws:appmesh:us-west-2:1:mesh/apps/virtualGateway/gw/gatewayRoute/{}",
                d.key.name
            ),
            uid: am_uid.into(),
            version,
            mesh_owner: "1".into(),
            resource_owner: "1".into(),
            created_at: None,
            last_updated_at: None,
            status: "ACTIVE".into(),
            spec: d.spec.clone(),
        }
    }

    /// Tags of a route owned by (cluster, namespace, name, uid).
    fn owned_by(cluster: &str, namespace: &str, name: &str, uid: &str) -> Vec<Tag> {
        let mut r = object(&[], false);
        r.metadata.namespace = Some(namespace.into());
        r.metadata.name = Some(name.into());
        r.metadata.uid = Some(uid.into());
        Desired::of(&r, cluster).all_tags()
    }

    fn present(route: ObservedRoute, tags: Vec<Tag>) -> Seen {
        Seen {
            route: Observation::Present(Box::new(route), Some(tags)),
            ..Seen::default()
        }
    }

    fn recorded(am_uid: &str, ready: bool) -> Recorded {
        Recorded {
            arn: Some("arn".into()),
            uid: Some(am_uid.into()),
            ready,
            generation: 2,
            ..Recorded::default()
        }
    }

    /// Recorded with the instance a page can vouch for (version, creation time, and the tags
    /// this object wants).
    fn recorded_instance() -> Recorded {
        Recorded {
            version: Some(3),
            created_at: Some(1_700_000_000),
            tags_digest: Some(desired(&[]).tags_digest()),
            ..recorded("am-1", true)
        }
    }

    fn reason(step: &Step) -> Option<Reason> {
        match step {
            Step::Refuse(p) => Some(p.reason),
            _ => None,
        }
    }

    fn change(step: &Step) -> Option<Change> {
        match step {
            Step::Converge { change, .. } | Step::Create { change, .. } => Some(*change),
            _ => None,
        }
    }

    #[test]
    fn what_to_read_and_when_to_create() {
        let d = desired(&[]);
        let none = Recorded::default();
        // Nothing recorded: create first, with the uid as token.
        assert_eq!(
            plan(&d, &none, &Seen::default()),
            Step::Create {
                token: UID.into(),
                change: Change::Created
            }
        );
        // Its last route deleted by meshroute (Gateway API alone served it): a token of its own.
        let retired = Recorded {
            uid: Some("am-0".into()),
            ..Recorded::default()
        };
        assert_eq!(
            plan(&d, &retired, &Seen::default()),
            Step::Create {
                token: d.create_token(Some("am-0")),
                change: Change::Created
            }
        );
        // Recorded: look before acting.
        assert_eq!(
            plan(&d, &recorded("am-1", true), &Seen::default()),
            Step::Describe
        );
        // Asked to adopt (from nobody or from another cluster): look before creating.
        for annotation in [
            ("meshroute.io/adopt", "true"),
            ("meshroute.io/adopt-from-cluster", "staging"),
        ] {
            assert_eq!(
                plan(&desired(&[annotation]), &none, &Seen::default()),
                Step::Describe
            );
        }
        // The name was taken: look at who has it.
        let taken = Seen {
            name_taken: true,
            ..Seen::default()
        };
        assert_eq!(plan(&d, &none, &taken), Step::Describe);
        // Described: read its tags before deciding.
        let untagged = Seen {
            route: Observation::Present(Box::new(observed(&d, "am-1", 1)), None),
            ..Seen::default()
        };
        assert_eq!(plan(&d, &none, &untagged), Step::ListTags);
        // Taken, then gone: a race; retry soon.
        let vanished = Seen {
            route: Observation::Absent,
            name_taken: true,
            ..Seen::default()
        };
        assert_eq!(
            reason(&plan(&d, &none, &vanished)),
            Some(Reason::AppMeshUnavailable)
        );
    }

    #[test]
    fn a_spec_change_of_an_in_sync_route_is_one_update() {
        let d = desired(&[]);
        let before = Recorded {
            ready: false,
            was_ready: true,
            tags_digest: Some(d.tags_digest()),
            ..recorded_instance()
        };
        let vouched = |v: bool| Seen {
            page_vouches: Some(v),
            ..Seen::default()
        };
        assert_eq!(plan(&d, &before, &Seen::default()), Step::ReadPage);
        assert_eq!(
            plan(&d, &before, &vouched(true)),
            Step::Update {
                token: d.update_token(2, 3)
            }
        );
        // Changed or gone since, refused (404, 409), new tags, or not in sync before: look.
        assert_eq!(plan(&d, &before, &vouched(false)), Step::Describe);
        let refused = Seen {
            direct_update_failed: true,
            ..vouched(true)
        };
        assert_eq!(plan(&d, &before, &refused), Step::Describe);
        let retagged = Recorded {
            tags_digest: Some("other".into()),
            ..before.clone()
        };
        assert_eq!(plan(&d, &retagged, &Seen::default()), Step::Describe);
        let failing = Recorded {
            was_ready: false,
            ..before.clone()
        };
        assert_eq!(plan(&d, &failing, &Seen::default()), Step::Describe);
    }

    #[test]
    fn an_invalid_regex_is_refused_before_any_call() {
        let mut r = object(&[], false);
        r.spec.http2_route.as_mut().unwrap().route_match.prefix = None;
        r.spec.http2_route.as_mut().unwrap().route_match.path = Some(crate::api::HttpPathMatch {
            exact: None,
            regex: Some("([".into()),
        });
        let d = Desired::of(&r, "prod");
        match plan(&d, &Recorded::default(), &Seen::default()) {
            Step::Refuse(p) => {
                assert_eq!(
                    (p.reason, p.retry),
                    (Reason::InvalidSpec, Retry::AwaitChange)
                );
                assert!(
                    p.message.contains("spec.http2Route.match.path.regex"),
                    "{}",
                    p.message
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_vanished_route_is_recreated_under_a_new_token() {
        let d = desired(&[]);
        let gone = Seen {
            route: Observation::Absent,
            ..Seen::default()
        };
        match plan(&d, &recorded("am-1", true), &gone) {
            Step::Create {
                token,
                change: Change::Recreated,
            } => {
                assert_eq!(token, d.create_token(Some("am-1")));
                assert_ne!(token, UID);
            }
            other => panic!("{other:?}"),
        }
    }

    /// The ownership table: (case, annotations, tags on the route, recorded App Mesh uid,
    /// owner alive, expected change or refusal).
    #[test]
    fn who_may_take_a_route() {
        type Row<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            Vec<Tag>,
            Option<&'a str>,
            Option<bool>,
            Result<Change, Reason>,
        );
        let adopt = vec![("meshroute.io/adopt", "true")];
        let from_staging = vec![("meshroute.io/adopt-from-cluster", "staging")];
        let rows: Vec<Row> = vec![
            (
                "ours",
                vec![],
                owned_by("prod", "shop", "web", UID),
                Some("am-1"),
                None,
                Ok(Change::None),
            ),
            (
                "ours, never recorded (a crash before the status write)",
                vec![],
                owned_by("prod", "shop", "web", UID),
                None,
                None,
                Ok(Change::Adopted),
            ),
            (
                "recorded, tags removed by hand",
                vec![],
                vec![],
                Some("am-1"),
                None,
                Ok(Change::TagsUpdated),
            ),
            (
                "recorded but another cluster's tags",
                vec![],
                owned_by("staging", "shop", "web", UID),
                Some("am-1"),
                None,
                Err(Reason::OwnedByOtherCluster),
            ),
            (
                "another cluster, opted in",
                from_staging.clone(),
                owned_by("staging", "shop", "web", "x"),
                None,
                None,
                Ok(Change::Adopted),
            ),
            (
                "another cluster, opted in for a third",
                vec![("meshroute.io/adopt-from-cluster", "dev")],
                owned_by("staging", "shop", "web", "x"),
                None,
                None,
                Err(Reason::OwnedByOtherCluster),
            ),
            (
                "another cluster, adopt is not enough",
                adopt.clone(),
                owned_by("staging", "shop", "web", "x"),
                None,
                None,
                Err(Reason::OwnedByOtherCluster),
            ),
            (
                "same identity, new uid (re-created, retained, rebuilt)",
                vec![],
                owned_by("prod", "shop", "web", "old-uid"),
                None,
                None,
                Ok(Change::Adopted),
            ),
            (
                "unowned",
                vec![],
                vec![],
                None,
                None,
                Err(Reason::NameInUse),
            ),
            (
                "unowned, adopt",
                adopt.clone(),
                vec![],
                None,
                None,
                Ok(Change::Adopted),
            ),
            (
                "other live object",
                vec![],
                owned_by("prod", "shop", "api", "u2"),
                None,
                None,
                Err(Reason::NameInUse),
            ),
            (
                "other object, adopt, alive",
                adopt.clone(),
                owned_by("prod", "shop", "api", "u2"),
                None,
                Some(true),
                Err(Reason::NameInUse),
            ),
            (
                "other object, adopt, gone",
                adopt.clone(),
                owned_by("prod", "shop", "api", "u2"),
                None,
                Some(false),
                Ok(Change::Adopted),
            ),
            (
                "other object, recorded does not vouch",
                vec![],
                owned_by("prod", "shop", "api", "u2"),
                Some("am-1"),
                None,
                Err(Reason::NameInUse),
            ),
        ];
        for (case, annotations, tags, rec_uid, alive, expected) in rows {
            let d = desired(&annotations);
            let rec = rec_uid.map_or_else(Recorded::default, |u| recorded(u, true));
            let mut seen = present(observed(&d, "am-1", 1), tags);
            seen.owner_alive = alive;
            let step = plan(&d, &rec, &seen);
            let got = match (change(&step), reason(&step)) {
                (Some(c), None) => Ok(c),
                (None, Some(r)) => Err(r),
                _ => panic!("{case}: {step:?}"),
            };
            assert_eq!(got, expected, "{case}: {step:?}");
        }
    }

    #[test]
    fn the_owner_is_asked_about_only_when_adopting_from_another_object() {
        let d = desired(&[("meshroute.io/adopt", "true")]);
        let seen = present(
            observed(&d, "am-1", 1),
            owned_by("prod", "shop", "api", "u2"),
        );
        match plan(&d, &Recorded::default(), &seen) {
            Step::CheckOwner(o) => assert_eq!(
                (o.namespace.as_str(), o.name.as_str(), o.uid.as_str()),
                ("shop", "api", "u2")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spec_and_tag_differences_become_updates() {
        let d = desired(&[]);
        let tags = owned_by("prod", "shop", "web", UID);
        let mut drifted = observed(&d, "am-1", 3);
        drifted.spec = RouteSpec {
            priority: Some(7),
            ..d.spec.clone()
        };
        // Version moved and the spec differs on a Ready object: drift, put back with a token
        // of (generation, observed version).
        let step = plan(
            &d,
            &recorded("am-1", true),
            &present(drifted.clone(), tags.clone()),
        );
        assert_eq!(
            step,
            Step::Converge {
                route: Box::new(drifted.clone()),
                change: Change::DriftCorrected,
                update_token: Some(d.update_token(2, 3)),
                tags: TagChanges::default(),
            }
        );
        // Not Ready at this generation: the user's own update.
        let step = plan(
            &d,
            &recorded("am-1", false),
            &present(drifted, tags.clone()),
        );
        assert_eq!(change(&step), Some(Change::Updated));
        // In sync: nothing to do.
        let step = plan(
            &d,
            &recorded("am-1", true),
            &present(observed(&d, "am-1", 3), tags.clone()),
        );
        assert_eq!(
            step,
            Step::Converge {
                route: Box::new(observed(&d, "am-1", 3)),
                change: Change::None,
                update_token: None,
                tags: TagChanges::default()
            }
        );
        // An adopted route keeps its version when it already matches: tags only.
        let mut again = object(&[], false);
        again.metadata.uid = Some("new".into());
        let d2 = Desired::of(&again, "prod");
        match plan(
            &d2,
            &Recorded::default(),
            &present(observed(&d2, "am-1", 5), tags),
        ) {
            Step::Converge {
                change: Change::Adopted,
                update_token: None,
                tags,
                ..
            } => {
                assert!(tags.set.iter().any(|t| t.value == "new"), "{tags:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn removal_table() {
        let d = desired(&[]);
        let untagged = |uid: &str| Seen {
            route: Observation::Present(Box::new(observed(&d, uid, 1)), None),
            ..Seen::default()
        };
        let at_recorded_arn = |tags: Option<Vec<Tag>>| Seen {
            recorded_arn_tags: Some(tags),
            ..Seen::default()
        };
        let rows: Vec<(&str, bool, Seen, Recorded, RemovalStep)> = vec![
            (
                "retained",
                true,
                Seen::default(),
                recorded("am-1", true),
                RemovalStep::Done(Removal::Retained),
            ),
            (
                "recorded: one call reads the tags at the ARN",
                false,
                Seen::default(),
                recorded("am-1", true),
                RemovalStep::ReadRecordedTags,
            ),
            (
                "the instance recorded: look it up in a page first",
                false,
                Seen::default(),
                recorded_instance(),
                RemovalStep::ReadPage,
            ),
            (
                "the page lists it unchanged: it is ours, one call deletes it",
                false,
                Seen {
                    page_vouches: Some(true),
                    ..Seen::default()
                },
                recorded_instance(),
                RemovalStep::Delete,
            ),
            (
                "the page does not vouch: read the tags at the ARN",
                false,
                Seen {
                    page_vouches: Some(false),
                    ..Seen::default()
                },
                recorded_instance(),
                RemovalStep::ReadRecordedTags,
            ),
            (
                "the instance recorded by another cluster or with other tags: read the tags",
                false,
                Seen::default(),
                Recorded {
                    tags_digest: Some("other".into()),
                    ..recorded_instance()
                },
                RemovalStep::ReadRecordedTags,
            ),
            (
                "the instance recorded, retained: no call",
                true,
                Seen::default(),
                recorded_instance(),
                RemovalStep::Done(Removal::Retained),
            ),
            (
                "nothing recorded: look first",
                false,
                Seen::default(),
                Recorded::default(),
                RemovalStep::Describe,
            ),
            (
                "nothing at the recorded ARN",
                false,
                at_recorded_arn(None),
                recorded("am-1", true),
                RemovalStep::Done(Removal::NothingOurs),
            ),
            (
                "tagged ours at the recorded ARN",
                false,
                at_recorded_arn(Some(owned_by("prod", "shop", "web", UID))),
                recorded("am-1", true),
                RemovalStep::Delete,
            ),
            (
                "recorded, but another cluster's tags now",
                false,
                at_recorded_arn(Some(owned_by("staging", "shop", "web", UID))),
                recorded("am-1", true),
                RemovalStep::Done(Removal::NothingOurs),
            ),
            (
                "recorded, but untagged",
                false,
                at_recorded_arn(Some(vec![])),
                recorded("am-1", true),
                RemovalStep::Done(Removal::NothingOurs),
            ),
            (
                "described: read its tags",
                false,
                untagged("am-2"),
                Recorded::default(),
                RemovalStep::ListTags,
            ),
            (
                "already gone",
                false,
                Seen {
                    route: Observation::Absent,
                    ..Seen::default()
                },
                Recorded::default(),
                RemovalStep::Done(Removal::NothingOurs),
            ),
            (
                "tagged ours",
                false,
                present(
                    observed(&d, "am-2", 1),
                    owned_by("prod", "shop", "web", UID),
                ),
                Recorded::default(),
                RemovalStep::Delete,
            ),
            (
                "tagged by this identity's earlier instance",
                false,
                present(
                    observed(&d, "am-2", 1),
                    owned_by("prod", "shop", "web", "old"),
                ),
                Recorded::default(),
                RemovalStep::Delete,
            ),
            (
                "someone else's",
                false,
                present(
                    observed(&d, "am-2", 1),
                    owned_by("prod", "shop", "api", "u2"),
                ),
                Recorded::default(),
                RemovalStep::Done(Removal::NothingOurs),
            ),
            (
                "unowned",
                false,
                present(observed(&d, "am-2", 1), vec![]),
                Recorded::default(),
                RemovalStep::Done(Removal::NothingOurs),
            ),
        ];
        for (case, retain, seen, rec, expected) in rows {
            let d = Desired::of(&object(&[], retain), "prod");
            assert_eq!(plan_removal(&d, &rec, &seen), expected, "{case}");
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let d = desired(&[]);
        let seen = present(
            observed(&d, "am-1", 1),
            owned_by("staging", "shop", "web", UID),
        );
        match plan(&d, &Recorded::default(), &seen) {
            Step::Refuse(p) => {
                assert_eq!(p.retry, Retry::Slow);
                assert!(p.message.contains("cluster 'staging'"), "{}", p.message);
                assert!(
                    p.message
                        .contains("meshroute.io/adopt-from-cluster=staging"),
                    "{}",
                    p.message
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn how_a_reconcile_begins() {
        let s = Start::default;
        let rows = [
            ("a user's change", s(), Begin::Plan),
            (
                "a drift check",
                Start {
                    drift_check: true,
                    ..s()
                },
                Begin::AskPage,
            ),
            (
                "a drift check after changed tags",
                Start {
                    drift_check: true,
                    full_check: true,
                    ..s()
                },
                Begin::Plan,
            ),
            (
                "a status someone else wrote, the route still recorded",
                Start {
                    foreign_status: true,
                    records_what_it_wrote: true,
                    ..s()
                },
                Begin::InSync,
            ),
            (
                "a status someone else wrote, the route changed in it",
                Start {
                    foreign_status: true,
                    ..s()
                },
                Begin::AskPage,
            ),
            (
                "the route changed in a foreign status, its tags too",
                Start {
                    foreign_status: true,
                    full_check: true,
                    ..s()
                },
                Begin::Plan,
            ),
        ];
        for (case, given, want) in rows {
            assert_eq!(start(&given), want, "{case}");
        }
    }
}
