//! The status meshroute writes: the `Ready` condition and its reasons, the App Mesh facts, and a
//! writer that patches the status subresource only when something changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::ownership::FIELD_MANAGER;
use crate::api::ownership::FINALIZER;
use crate::api::{GatewayRoute, GatewayRouteStatus};
pub use crate::api::{READY, RECONCILING, Reason, STALLED};
use crate::appmesh::ObservedRoute;
use crate::fair::Class;
use crate::uid::Uid;

/// The status for `route` after a reconcile that saw `observed` (if anything) and ended with
/// `reason` and `message`. Pure: App Mesh facts not seen this time are kept from the last status.
pub fn next_status(
    route: &GatewayRoute,
    observed: Option<&ObservedRoute>,
    reason: Reason,
    message: &str,
    now: Time,
) -> GatewayRouteStatus {
    let old = route.status.clone().unwrap_or_default();
    let generation = route.meta().generation;
    let mut status = match observed {
        Some(o) => GatewayRouteStatus {
            arn: Some(o.arn.clone()),
            uid: Some(o.uid.clone()),
            version: Some(o.version),
            mesh_owner: Some(o.mesh_owner.clone()),
            resource_owner: Some(o.resource_owner.clone()),
            created_at: o.created_at.clone(),
            last_updated_at: o.last_updated_at.clone(),
            aws_status: Some(o.status.clone()),
            ..old.clone()
        },
        None => old.clone(),
    };
    status.route_kind = route.spec.route_kind().map(str::to_string);
    status.observed_generation = generation;
    let condition = |type_: &str, is: bool| Condition {
        type_: type_.into(),
        status: if is { "True" } else { "False" }.into(),
        reason: reason.as_str().into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    // Ready is the summary and comes first; Reconciling or Stalled say, as kstatus and Flux
    // read them, whether time or a person will fix a Ready=False.
    let mut conditions = vec![condition(READY, reason == Reason::Synced)];
    if reason != Reason::Synced {
        let kind = if reason.is_terminal() {
            STALLED
        } else {
            RECONCILING
        };
        conditions.push(condition(kind, true));
    }
    status.conditions = conditions
        .into_iter()
        .map(|c| keep_transition_time(&old.conditions, c))
        .collect();
    status
}

/// A condition keeps its `lastTransitionTime` while its status does not flip.
pub(super) fn keep_transition_time(old: &[Condition], mut new: Condition) -> Condition {
    if let Some(prev) = old.iter().find(|c| c.type_ == new.type_)
        && prev.status == new.status
    {
        new.last_transition_time = prev.last_transition_time.clone();
    }
    new
}

/// The Ready condition's reason in the object's current status.
pub fn current_reason(route: &GatewayRoute) -> Option<&str> {
    ready_condition(route).map(|c| c.reason.as_str())
}

fn ready_condition(route: &GatewayRoute) -> Option<&Condition> {
    route
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == READY)
}

/// Whether the status already speaks of the object's current generation (any reason).
pub fn reported_now(route: &GatewayRoute) -> bool {
    ready_condition(route).is_some()
        && route.status.as_ref().and_then(|s| s.observed_generation) == route.meta().generation
}

/// Whether the last status said Ready=True, at whatever generation.
pub fn was_ready(route: &GatewayRoute) -> bool {
    ready_condition(route).is_some_and(|c| c.status == "True")
}

/// Whether the object is Ready at its current generation.
pub fn ready_now(route: &GatewayRoute) -> bool {
    reported_now(route) && was_ready(route)
}

/// Whether an object needs nothing but a drift check: not being deleted, with meshroute's
/// finalizer, Ready at its generation.
pub fn in_sync(route: &GatewayRoute) -> bool {
    route.meta().deletion_timestamp.is_none()
        && route.finalizers().iter().any(|f| f == FINALIZER)
        && ready_now(route)
}

/// Why an object is reconciled now, from what it shows: a deletion, or a generation its status
/// does not describe yet, is a user's doing; an object Ready at its generation is a drift check
/// (unless it failed since: [`class_when`]); anything else (a reported failure) is a retry.
pub fn class_of(route: &GatewayRoute) -> Class {
    if route.meta().deletion_timestamp.is_some() || !reported_now(route) {
        Class::User
    } else if ready_now(route) {
        Class::Drift
    } else {
        Class::Retry
    }
}

/// The class of an object that shows `shown` ([`class_of`]): a drift check of an object whose
/// last reconcile failed (not written into its status yet, or not at all while App Mesh is
/// paused) is a retry.
pub fn class_when(shown: Class, failing: bool) -> Class {
    if failing && shown == Class::Drift {
        Class::Retry
    } else {
        shown
    }
}

/// A digest of a status, as the apiserver holds it.
pub fn digest(status: Option<&GatewayRouteStatus>) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(&status)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// What this replica wrote to each object's status (by uid). The in-sync status it last wrote
/// tells a status someone else wrote over it (a hand edit, another install) from its own. A
/// failure status is not kept for that: its own retries write it again, and two writers of
/// failures must not wake each other.
#[derive(Debug, Default)]
pub struct Written(Mutex<HashMap<Uid, Entry>>);

/// What this replica wrote to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// A digest of the last status it wrote, of any kind, as the watch shows it. A reconcile
    /// reads the object as the cache held it when the reconcile started, which can be older
    /// than this write: a status equal to the cached one is still written when it is not this.
    last: u64,
    /// The last in-sync status it wrote, unless a status that is not in sync followed it.
    in_sync: Option<Wrote>,
}

/// What was written: a digest of the whole status, and of the route it recorded; whether the
/// watch has shown it yet; and how many statuses written by someone else have been seen over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wrote {
    status: u64,
    route: u64,
    /// The watch delivered this write. A watch delivers an object's changes in order, so a
    /// different status seen before it is an older one (the object as it was before the write),
    /// and one seen after it was written by someone else.
    seen: bool,
    foreign_seen: u64,
    /// A digest of the status but for its conditions' transition times.
    timeless: u64,
}

/// A digest of `status` as stored, but for its conditions' transition times.
fn timeless_digest(status: &GatewayRouteStatus) -> u64 {
    let mut status = status.clone();
    for c in &mut status.conditions {
        c.last_transition_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    }
    digest(as_stored(&status).as_ref())
}

/// A digest of the App Mesh route a status records: which instance, at which version, tagged
/// how.
fn route_digest(status: Option<&GatewayRouteStatus>) -> u64 {
    let mut hasher = DefaultHasher::new();
    if let Some(s) = status {
        (&s.arn, &s.uid, s.version, &s.tags_digest).hash(&mut hasher);
    }
    hasher.finish()
}

/// `status` as the watch will show it (times in whole seconds).
fn as_stored(status: &GatewayRouteStatus) -> Option<GatewayRouteStatus> {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

impl Written {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uid, Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last status this replica wrote to `uid` is another than the one of `digest`.
    pub fn last_was_other(&self, uid: &str, digest: u64) -> bool {
        self.map()
            .get(&Uid::of(uid))
            .is_some_and(|e| e.last != digest)
    }

    /// Whether the object `uid`, whose status has `digest`, holds a status this replica did not
    /// write over the in-sync status it did. `false` for an object it wrote no in-sync status to
    /// since it started: the start-up checks every object that is not in sync anyway.
    pub fn is_foreign(&self, uid: &str, digest: u64) -> bool {
        self.map()
            .get(&Uid::of(uid))
            .and_then(|e| e.in_sync)
            .is_some_and(|ours| ours.seen && ours.status != digest)
    }

    /// The value of the watch predicate that wakes a reconcile for a status someone else wrote:
    /// it moves on each such status seen, and never on this replica's own writes (nor on the
    /// one that puts an in-sync status back), nor on the older events the watch delivers before
    /// it shows this replica's write.
    pub fn wake_value(&self, uid: &str, digest: u64) -> u64 {
        let mut map = self.map();
        let Some(ours) = map.get_mut(&Uid::of(uid)).and_then(|e| e.in_sync.as_mut()) else {
            return 0;
        };
        if ours.status == digest {
            ours.seen = true;
        } else if ours.seen {
            ours.foreign_seen += 1;
        }
        ours.foreign_seen
    }

    /// Whether `status` still records the very route this replica last wrote in sync for `uid`:
    /// then, as far as it knows (the drift pass finds changes made in App Mesh), the route is
    /// in sync, whatever else someone wrote into the status.
    pub fn records_what_it_wrote(&self, uid: &str, status: Option<&GatewayRouteStatus>) -> bool {
        self.map()
            .get(&Uid::of(uid))
            .and_then(|e| e.in_sync)
            .is_some_and(|ours| ours.route == route_digest(status))
    }

    /// Whether `status` repeats, but for transition times, the in-sync status this replica last
    /// wrote to `uid`, and the watch has not shown that write yet: the reconcile read the object
    /// before it (a retry due before the write). The apiserver holds it already, or something
    /// written after it that the watch will show.
    fn repeats_unseen(&self, uid: &str, status: &GatewayRouteStatus) -> bool {
        self.map()
            .get(&Uid::of(uid))
            .and_then(|e| e.in_sync)
            .is_some_and(|ours| !ours.seen && ours.timeless == timeless_digest(status))
    }

    /// Remembers that `status` is being written to `uid`; returns what was remembered before,
    /// to put back if the write fails.
    fn wrote(&self, uid: &str, status: &GatewayRouteStatus) -> Option<Entry> {
        let stored = as_stored(status);
        let in_sync = status
            .conditions
            .iter()
            .any(|c| c.type_ == READY && c.status == "True");
        let mut map = self.map();
        let before = map.get(&Uid::of(uid)).copied();
        let in_sync = in_sync.then(|| Wrote {
            status: digest(stored.as_ref()),
            route: route_digest(stored.as_ref()),
            seen: false,
            foreign_seen: before.and_then(|e| e.in_sync).map_or(0, |w| w.foreign_seen),
            timeless: timeless_digest(status),
        });
        let entry = Entry {
            last: digest(stored.as_ref()),
            in_sync,
        };
        map.insert(Uid::of(uid), entry);
        before
    }

    fn restore(&self, uid: &str, before: Option<Entry>) {
        match before {
            Some(entry) => self.map().insert(Uid::of(uid), entry),
            None => self.map().remove(&Uid::of(uid)),
        };
    }

    pub fn forget(&self, uid: &str) {
        self.map().remove(&Uid::of(uid));
    }

    /// Keeps only the `live` objects.
    pub fn retain(&self, live: &std::collections::HashSet<Uid>) {
        self.map().retain(|uid, _| live.contains(uid));
    }
}

/// Which backends hold a route for the object, from what its status records: an App Mesh
/// ARN, a Gateway API route.
pub fn served_by(status: &GatewayRouteStatus) -> Option<String> {
    match (status.arn.is_some(), status.gateway_api_route.is_some()) {
        (true, true) => Some("App Mesh, Gateway API".into()),
        (true, false) => Some("App Mesh".into()),
        (false, true) => Some("Gateway API".into()),
        (false, false) => None,
    }
}

/// Writes `status` with server-side apply, unless the object already has exactly it and it is
/// the last status this replica wrote, or it repeats this replica's last write that the watch
/// has not shown yet (`Written::repeats_unseen`); remembers it in `written`. Returns whether
/// it wrote.
pub async fn write(
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    mut status: GatewayRouteStatus,
    written: &Written,
) -> Result<bool, kube::Error> {
    status.served_by = served_by(&status);
    let uid = route.uid().unwrap_or_default();
    // Equal to the cached status, which is as the watch showed it: the same digest.
    if route.status.as_ref() == Some(&status)
        && !written.last_was_other(&uid, digest(route.status.as_ref()))
    {
        return Ok(false);
    }
    if written.repeats_unseen(&uid, &status) {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": "meshroute.io/v1alpha1",
        "kind": "GatewayRoute",
        "status": status,
    });
    // Remembered before it is sent, so the watch event of this very write is never taken for
    // someone else's.
    let before = written.wrote(&uid, &status);
    let sent = api
        .patch_status(
            &route.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await;
    if let Err(e) = sent {
        written.restore(&uid, before);
        return Err(e);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GatewayRouteSpec;

    fn route() -> GatewayRoute {
        let spec: GatewayRouteSpec = serde_json::from_value(json!({
            "meshName": "apps", "virtualGatewayName": "gw",
            "grpcRoute": { "match": { "serviceName": "s" },
                "action": { "target": { "virtualService": { "virtualServiceName": "svc" } } } }
        }))
        .unwrap();
        let mut r = GatewayRoute::new("web", spec);
        r.metadata.generation = Some(3);
        r
    }

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_ready_flips() {
        let mut r = route();
        let first = next_status(
            &r,
            None,
            Reason::DependencyNotFound,
            "mesh apps missing",
            at(100),
        );
        assert_eq!(first.conditions[0].status, "False");
        assert_eq!(
            (
                first.conditions[1].type_.as_str(),
                first.conditions[1].status.as_str()
            ),
            (RECONCILING, "True"),
            "a missing dependency fixes itself"
        );
        let stalled = next_status(&r, None, Reason::InvalidSpec, "bad", at(100));
        assert_eq!(stalled.conditions[1].type_, STALLED, "a bad spec does not");
        assert_eq!(first.route_kind.as_deref(), Some("grpc"));
        assert_eq!(first.observed_generation, Some(3));
        r.status = Some(first);
        let again = next_status(&r, None, Reason::AppMeshUnavailable, "throttled", at(200));
        assert_eq!(
            again.conditions[0].last_transition_time,
            at(100),
            "still False"
        );
        r.status = Some(again);
        let ready = next_status(&r, None, Reason::Synced, "in sync", at(300));
        assert_eq!(
            ready.conditions[0].last_transition_time,
            at(300),
            "flipped to True"
        );
        assert_eq!(
            ready.conditions.len(),
            1,
            "nothing in progress, nothing stalled"
        );
        r.status = Some(ready.clone());
        assert!(ready_now(&r));
        assert_eq!(
            next_status(&r, None, Reason::Synced, "in sync", at(400)),
            ready,
            "nothing to write"
        );
        r.metadata.generation = Some(4);
        assert!(!ready_now(&r), "a new generation is not Ready yet");
    }

    #[test]
    fn a_cache_older_than_the_last_write_is_not_taken_for_the_object() {
        let written = Written::default();
        let r = route();
        let seen = |s: &GatewayRouteStatus| digest(as_stored(s).as_ref());
        let ready = next_status(&r, None, Reason::Synced, "in sync", at(100));
        let pending = next_status(&r, None, Reason::GatewayPending, "waiting", at(200));
        assert!(
            !written.last_was_other("u", seen(&ready)),
            "nothing written"
        );
        written.wrote("u", &ready);
        assert!(!written.last_was_other("u", seen(&ready)));
        // Ready, then a wait: a reconcile that read the object from the cache before the wait
        // reached it sees Ready, and must write Ready again, even once the watch has shown the
        // wait (it may show it while that reconcile runs).
        written.wrote("u", &pending);
        written.wake_value("u", seen(&pending));
        assert!(written.last_was_other("u", seen(&ready)));
        assert!(!written.last_was_other("u", seen(&pending)));
        // A failed write leaves what was remembered before.
        let before = written.wrote("u", &ready);
        written.restore("u", before);
        assert!(!written.last_was_other("u", seen(&pending)));
        written.forget("u");
        assert!(!written.last_was_other("u", seen(&ready)), "forgotten");
    }

    #[test]
    fn an_in_sync_status_the_watch_has_not_shown_is_not_written_again() {
        let written = Written::default();
        let r = route();
        let ready = next_status(&r, None, Reason::Synced, "in sync", at(100));
        // A reconcile that read the object before the write makes the same status, stamped later.
        let again = next_status(&r, None, Reason::Synced, "in sync", at(105));
        assert!(!written.repeats_unseen("u", &again), "nothing written");
        written.wrote("u", &ready);
        assert!(written.repeats_unseen("u", &again));
        let other = next_status(&r, None, Reason::Synced, "in sync, said otherwise", at(105));
        assert!(!written.repeats_unseen("u", &other), "another status");
        // Once the watch has shown the write, the cache is not older than it: written again
        // only if someone wrote over it (a foreign status), as before.
        written.wake_value("u", digest(as_stored(&ready).as_ref()));
        assert!(!written.repeats_unseen("u", &again));
        // Not kept for a status that is not in sync: its own retries write it again.
        let pending = next_status(&r, None, Reason::GatewayPending, "waiting", at(200));
        written.wrote("u", &pending);
        assert!(!written.repeats_unseen("u", &pending));
    }

    #[test]
    fn a_status_written_over_an_in_sync_one_is_foreign() {
        let written = Written::default();
        let r = route();
        let synced = next_status(&r, None, Reason::Synced, "in sync", at(100));
        // The watch shows the status as JSON read back.
        let seen = |s: &GatewayRouteStatus| {
            let back: GatewayRouteStatus =
                serde_json::from_value(serde_json::to_value(s).unwrap()).unwrap();
            digest(Some(&back))
        };
        assert!(
            !written.is_foreign("u", seen(&synced)),
            "nothing written yet"
        );
        written.wrote("u", &synced);
        let by_hand = next_status(&r, None, Reason::NameInUse, "edited", at(200));
        // Before the watch shows the write, what it delivers is older (the object before the
        // write, with no status, or another one): not someone else's, and no wake.
        for older in [digest(None), seen(&by_hand)] {
            assert!(!written.is_foreign("u", older));
            assert_eq!(written.wake_value("u", older), 0);
        }
        assert_eq!(
            written.wake_value("u", seen(&synced)),
            0,
            "the watch shows the write"
        );
        assert!(!written.is_foreign("u", seen(&synced)), "its own write");
        assert!(written.is_foreign("u", seen(&by_hand)));
        assert!(
            written.records_what_it_wrote("u", Some(&by_hand)),
            "the hand edit kept the route's facts"
        );
        let mut moved = by_hand.clone();
        moved.version = Some(9);
        assert!(!written.records_what_it_wrote("u", Some(&moved)));
        assert!(!written.is_foreign("other", seen(&by_hand)));
        // A failure it writes itself is not watched for: its retries write it again.
        let before = written.wrote("u", &by_hand);
        assert!(!written.is_foreign("u", seen(&synced)));
        written.restore("u", before);
        assert!(
            written.is_foreign("u", seen(&by_hand)),
            "a failed write restores"
        );
        written.forget("u");
        assert!(!written.is_foreign("u", seen(&by_hand)));
        // The predicate moves on each foreign status, not on its own writes.
        let values: Vec<u64> = [&synced, &synced, &by_hand, &synced, &by_hand]
            .iter()
            .map(|s| {
                if s.conditions[0].status == "True" {
                    written.wrote("w", s);
                }
                written.wake_value("w", seen(s))
            })
            .collect();
        assert_eq!(values, [0, 0, 1, 1, 2]);
    }

    /// An object at generation 2 whose status reports `ready` with `reason` at `observed`.
    fn object(observed: Option<i64>, ready: &str, reason: &str, deleting: bool) -> GatewayRoute {
        let mut status = serde_json::json!({});
        if let Some(g) = observed {
            status = serde_json::json!({ "observedGeneration": g, "conditions": [{
                "type": "Ready", "status": ready, "reason": reason, "message": "",
                "lastTransitionTime": "2026-12-02T00:00:00Z", "observedGeneration": g }] });
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "r", "namespace": "n", "generation": 2,
                "deletionTimestamp": if deleting { Some("2026-12-02T00:00:00Z") } else { None } },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
                "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": "s" } } } } },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn work_is_classed_by_what_the_object_shows() {
        let rows = [
            ("new", object(None, "", "", false), false, Class::User),
            (
                "spec changed",
                object(Some(1), "True", "Synced", false),
                false,
                Class::User,
            ),
            (
                "deleting",
                object(Some(2), "True", "Synced", true),
                false,
                Class::User,
            ),
            (
                "in sync",
                object(Some(2), "True", "Synced", false),
                false,
                Class::Drift,
            ),
            (
                "in sync, failed since",
                object(Some(2), "True", "Synced", false),
                true,
                Class::Retry,
            ),
            (
                "failure reported",
                object(Some(2), "False", "NameInUse", false),
                true,
                Class::Retry,
            ),
            // After a restart (no failures counted yet), or paused (not counted): still a retry,
            // never a drift check that a page could wave through.
            (
                "failure reported, none counted",
                object(Some(2), "False", "AppMeshUnavailable", false),
                false,
                Class::Retry,
            ),
        ];
        for (case, route, failing, class) in rows {
            assert_eq!(class_when(class_of(&route), failing), class, "{case}");
        }
    }

    #[test]
    fn served_by_follows_what_the_status_records() {
        let mut status = GatewayRouteStatus::default();
        assert_eq!(served_by(&status), None);
        status.arn =
            Some("arn:aws:appmesh:us-west-2:1:mesh/m/virtualGateway/g/gatewayRoute/r".into());
        assert_eq!(served_by(&status).as_deref(), Some("App Mesh"));
        status.gateway_api_route = Some(crate::api::GatewayApiRoute {
            kind: "HTTPRoute".into(),
            parent: "infra/gw".into(),
        });
        assert_eq!(served_by(&status).as_deref(), Some("App Mesh, Gateway API"));
        status.arn = None;
        assert_eq!(served_by(&status).as_deref(), Some("Gateway API"));
    }
}
