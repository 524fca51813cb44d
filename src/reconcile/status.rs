//! The status meshroute writes: the `Ready` condition and its reasons, the App Mesh facts, and a
//! writer that patches the status subresource only when something changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::ownership::FINALIZER;
use crate::api::{GatewayRoute, GatewayRouteStatus};
pub use crate::api::{READY, RECONCILING, Reason, STALLED};
use crate::appmesh::ObservedRoute;
use crate::fair::Class;

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "meshroute";

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
fn keep_transition_time(old: &[Condition], mut new: Condition) -> Condition {
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
/// does not describe yet, is a user's doing; an object Ready at its generation with no failure
/// since is a drift check; anything else (a reported failure) is a retry.
pub fn class_of(route: &GatewayRoute, failing: bool) -> Class {
    if route.meta().deletion_timestamp.is_some() || !reported_now(route) {
        Class::User
    } else if ready_now(route) && !failing {
        Class::Drift
    } else {
        Class::Retry
    }
}

/// Writes `status` with server-side apply, unless the object already has exactly it. Returns
/// whether it wrote.
pub async fn write(
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    status: GatewayRouteStatus,
) -> Result<bool, kube::Error> {
    if route.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": "meshroute.io/v1alpha1",
        "kind": "GatewayRoute",
        "status": status,
    });
    api.patch_status(
        &route.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
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
            assert_eq!(class_of(&route, failing), class, "{case}");
        }
    }
}
