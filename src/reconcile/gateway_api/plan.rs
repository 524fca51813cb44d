//! What the Gateway API part of a reconcile may write, decided before and after each call: whether
//! a route of the object's name may be taken (meshroute's own, or adopted on request, or someone
//! else's: `NameInUse`), which kinds a kind change leaves behind, what a route nothing can be
//! written for says, and what the apiserver's answer to a write or a delete means. Pure; the
//! executor (`super`) calls it between its calls and decides nothing itself.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;

use crate::api::ownership::{FIELD_MANAGER, MANAGED_BY, wants_adoption};
use crate::api::{GatewayRoute, Reason};
use crate::backoff::Retry;
use crate::gatewayapi::objects::RouteKind;
use crate::gatewayapi::{self, Finding};
use crate::reconcile::plan::Problem;

/// What the apiserver holds under the object's name, as far as taking it is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub owners: &'a [OwnerReference],
}

/// Whether `found` is the route meshroute wrote for a GatewayRoute of `route`'s name (this
/// object, or an earlier one of its name that GitOps re-created).
pub fn written_for(found: Found, route: &GatewayRoute) -> bool {
    found.labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
        && found
            .owners
            .iter()
            .any(|o| o.kind == "GatewayRoute" && Some(&o.name) == route.metadata.name.as_ref())
}

/// Whether meshroute may write `shown` (the route's kind, namespace and name) over what the
/// apiserver holds under its name: nothing, its own route, or one the object asks to adopt.
pub fn may_write(found: Option<Found>, route: &GatewayRoute, shown: &str) -> Result<(), Problem> {
    match found {
        Some(found) if !written_for(found, route) && !wants_adoption(route.annotations()) => {
            Err(Problem {
                reason: Reason::NameInUse,
                message: format!(
                    "{shown} exists and meshroute did not write it: meshroute leaves it alone; \
                     delete or rename it, or annotate this GatewayRoute meshroute.io/adopt=true \
                     to take it over"
                ),
                retry: Retry::Slow,
            })
        }
        _ => Ok(()),
    }
}

/// Whether the route of the object's name must be read before it is written: unless the watch
/// has seen meshroute write it for a GatewayRoute of this name (`seen_owner`), it may be
/// someone else's.
pub fn must_read(seen_owner: Option<&str>, route: &GatewayRoute) -> bool {
    seen_owner.is_none() || seen_owner != route.metadata.name.as_deref()
}

/// Whether a route of the object's name is still as meshroute applied it: it carries the digest
/// of what meshroute would apply now (`applied`, its annotation, against `digest`) and no other
/// field manager has edited it since. Otherwise it is applied again.
pub fn as_applied(applied: &Option<String>, edited: bool, digest: &str) -> bool {
    applied.as_deref() == Some(digest) && !edited
}

/// Whether a route's field manager `manager` (writing `subresource`) is someone else's edit:
/// anything but meshroute's apply and an implementation's status.
pub fn edited(manager: Option<&str>, subresource: Option<&str>) -> bool {
    manager != Some(FIELD_MANAGER) && subresource != Some("status")
}

/// The kinds whose route of the object's name goes once a route of `kind` is written: a route
/// whose kind changed (an httpRoute made a grpcRoute) leaves the other kind behind. Not asked
/// when the status records a route of `kind` (`recorded`: the other kind went before that was
/// recorded) unless the watch has seen meshroute's route of the other kind (`seen`: a reconcile
/// that wrote it ended before its status).
pub fn left_behind(kind: RouteKind, recorded: Option<&str>, seen: &[RouteKind]) -> Vec<RouteKind> {
    let changed = recorded != Some(kind.as_str());
    RouteKind::ALL
        .into_iter()
        .filter(|k| *k != kind && (changed || seen.contains(k)))
        .collect()
}

/// The problem of a route a `notExported` finding drops.
pub fn not_exported(findings: &[Finding]) -> Problem {
    let dropped: Vec<String> = findings
        .iter()
        .filter(|f| f.impact == gatewayapi::Impact::NotExported)
        .map(|f| {
            format!(
                "{} ({}): {}; {}",
                f.field,
                f.code.as_str(),
                f.problem,
                f.advice
            )
        })
        .collect();
    Problem {
        reason: Reason::NotExported,
        message: format!(
            "Gateway API cannot route this as App Mesh does, so no Gateway API route was \
             written: {}",
            dropped.join("; ")
        ),
        retry: Retry::AwaitChange,
    }
}

/// What a refused write (`code`, the apiserver's `said`) means for the user; `None` for a
/// failure to retry as any Kubernetes error.
pub fn refused(code: u16, said: &str, shown: &str) -> Option<Problem> {
    let (reason, retry, what) = match code {
        404 => (
            Reason::DependencyNotFound,
            Retry::Dependency,
            "the cluster does not serve Gateway API routes: install the Gateway API CRDs \
             (standard channel)",
        ),
        403 => (
            Reason::AccessDenied,
            Retry::Slow,
            "meshroute's RBAC does not let it write Gateway API routes: install the chart with \
             gatewayAPI.serve set (it adds them)",
        ),
        400 | 422 => (
            Reason::InvalidSpec,
            Retry::AwaitChange,
            "the apiserver refused it; fix the field it names",
        ),
        _ => return None,
    };
    Some(Problem {
        reason,
        message: format!("{shown}: {what}: {said}"),
        retry,
    })
}

/// Whether a route whose implementation has not judged it, pending for `pending_for` since it
/// was written at this generation, still waits for that verdict without saying so rather than
/// writing `GatewayPending` into the status, and if so when to look again: for `VERDICT_GRACE`,
/// and longer (up to `VERDICT_PATIENCE`) while the implementation is at work, having judged a
/// route of the same Gateway `since_progress` ago (within `VERDICT_PROGRESS`). The looks grow
/// apart as the wait does (the verdict itself wakes the route): a wave of 10 000 routes that
/// Traefik takes minutes to judge costs a handful of looks per route, not one every 5 s.
pub fn awaiting_verdict(
    pending_for: std::time::Duration,
    since_progress: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    use crate::backoff::{VERDICT_GRACE, VERDICT_LOOK_MAX, VERDICT_PATIENCE, VERDICT_PROGRESS};
    if pending_for < VERDICT_GRACE {
        return Some(VERDICT_GRACE - pending_for);
    }
    let at_work = since_progress.is_some_and(|d| d < VERDICT_PROGRESS);
    (pending_for < VERDICT_PATIENCE && at_work).then(|| pending_for.min(VERDICT_LOOK_MAX))
}

/// What a delete's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// It is gone (or was never there, or Gateway API is not installed).
    Gone,
    /// Finalizers of its own hold it: the GatewayRoute waits until it is gone.
    Held,
}

/// What a read or a delete answered `code` means: `None` for a failure to retry.
pub fn absent(code: u16) -> Option<Deleted> {
    // 404: no such route, or no such kind (Gateway API is not installed).
    (code == 404).then_some(Deleted::Gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::testing::object;

    fn owner(kind: &str, name: &str) -> OwnerReference {
        OwnerReference {
            kind: kind.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_route_is_written_again_unless_it_is_as_meshroute_applied_it() {
        let now = "00000000000000aa";
        // (its annotation, edited by another manager, still as applied)
        let rows = [
            (Some(now), false, true),
            // Written for an earlier spec, flags or owner uid, or by a release before digests.
            (Some("00000000000000bb"), false, false),
            (None, false, false),
            // `kubectl edit`, `kubectl label`: put back.
            (Some(now), true, false),
        ];
        for (applied, edited, expected) in rows {
            let applied = applied.map(String::from);
            assert_eq!(
                as_applied(&applied, edited, now),
                expected,
                "{applied:?} {edited}"
            );
        }
        // (manager, subresource, someone else's edit)
        let managers = [
            (Some(FIELD_MANAGER), None, false),
            (Some("traefik"), Some("status"), false),
            (Some("kubectl-edit"), None, true),
            (Some("kubectl-client-side-apply"), None, true),
            (None, None, true),
        ];
        for (manager, subresource, expected) in managers {
            assert_eq!(edited(manager, subresource), expected, "{manager:?}");
        }
    }

    #[test]
    fn a_name_is_taken_only_when_meshroute_wrote_it_or_the_object_adopts_it() {
        let ours = BTreeMap::from([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())]);
        let none = BTreeMap::new();
        let route = object("web", "/", "svc");
        let mut adopting = object("web", "/", "svc");
        adopting
            .metadata
            .annotations
            .get_or_insert_default()
            .insert("meshroute.io/adopt".into(), "true".into());
        let owned = [owner("GatewayRoute", "web")];
        let other_owner = [owner("GatewayRoute", "api")];
        let other_kind = [owner("Deployment", "web")];
        // (labels, owners, adopting, may write)
        type Held<'a> = Option<(&'a BTreeMap<String, String>, &'a [OwnerReference])>;
        let rows: [(Held, bool, bool); 7] = [
            (None, false, true),
            (Some((&ours, &owned)), false, true),
            // Labelled but owned by another GatewayRoute, or by something else.
            (Some((&ours, &other_owner)), false, false),
            (Some((&ours, &other_kind)), false, false),
            // Owned but not labelled: someone copied the owner reference.
            (Some((&none, &owned)), false, false),
            (Some((&none, &[])), false, false),
            (Some((&none, &[])), true, true),
        ];
        for (i, (found, adopt, want)) in rows.into_iter().enumerate() {
            let found = found.map(|(labels, owners)| Found { labels, owners });
            let route = if adopt { &adopting } else { &route };
            let got = may_write(found, route, "HTTPRoute team/web");
            assert_eq!(got.is_ok(), want, "row {i}");
            if let Err(problem) = got {
                assert_eq!(problem.reason, Reason::NameInUse, "row {i}");
                assert_eq!(problem.retry, Retry::Slow, "row {i}");
                assert!(
                    problem.message.contains("meshroute.io/adopt=true"),
                    "row {i}"
                );
            }
        }
    }

    #[test]
    fn a_kind_change_leaves_the_other_kind_behind() {
        use RouteKind::{Grpc, Http};
        // (kind written, kind the status records, meshroute's routes the watch saw, to delete)
        type Row<'a> = (RouteKind, Option<&'a str>, &'a [RouteKind], &'a [RouteKind]);
        let rows: [Row; 7] = [
            (Http, None, &[], &[Grpc]),
            (Grpc, None, &[], &[Http]),
            (Http, Some("GRPCRoute"), &[Grpc], &[Grpc]),
            (Http, Some("GRPCRoute"), &[], &[Grpc]),
            (Http, Some("HTTPRoute"), &[Http], &[]),
            (Grpc, Some("GRPCRoute"), &[], &[]),
            // Written by a reconcile that ended before its status: it goes.
            (Http, Some("HTTPRoute"), &[Http, Grpc], &[Grpc]),
        ];
        for (kind, recorded, seen, want) in rows {
            let got = left_behind(kind, recorded, seen);
            assert_eq!(got, want, "{kind:?} over {recorded:?}, seen {seen:?}");
        }
    }

    #[test]
    fn a_pending_route_is_said_pending_only_after_the_grace_or_once_its_implementation_stalls() {
        use crate::backoff::{VERDICT_GRACE, VERDICT_LOOK_MAX, VERDICT_PATIENCE, VERDICT_PROGRESS};
        use std::time::Duration;
        let (grace, s) = (VERDICT_GRACE, Duration::from_secs);
        // (waited, the Gateway's last verdict on any route that long ago, look again after)
        let rows = [
            (Duration::ZERO, None, Some(grace)),
            (s(2), None, Some(grace - s(2))),
            (grace, None, None),
            (grace * 10, None, None),
            // The implementation works through a wave: judged a neighbour a second ago. The
            // looks grow apart, up to a minute.
            (grace, Some(s(1)), Some(grace)),
            (s(20), Some(s(1)), Some(s(20))),
            (s(300), Some(s(1)), Some(VERDICT_LOOK_MAX)),
            (
                VERDICT_PATIENCE - s(1),
                Some(Duration::ZERO),
                Some(VERDICT_LOOK_MAX),
            ),
            // ... but not for ever, and not once it stalls.
            (VERDICT_PATIENCE, Some(Duration::ZERO), None),
            (grace * 10, Some(VERDICT_PROGRESS), None),
        ];
        for (waited, progress, expected) in rows {
            assert_eq!(
                awaiting_verdict(waited, progress),
                expected,
                "{waited:?} {progress:?}"
            );
        }
    }

    #[test]
    fn only_a_route_the_watch_saw_written_for_this_object_is_written_unread() {
        let route = object("web", "/", "svc");
        assert!(must_read(None, &route));
        assert!(must_read(Some("api"), &route));
        assert!(!must_read(Some("web"), &route));
    }

    #[test]
    fn the_apiservers_answers_mean_what_the_user_must_do() {
        let rows = [
            (
                404,
                Some((Reason::DependencyNotFound, Retry::Dependency, "CRDs")),
            ),
            (
                403,
                Some((Reason::AccessDenied, Retry::Slow, "gatewayAPI.serve")),
            ),
            (
                422,
                Some((Reason::InvalidSpec, Retry::AwaitChange, "field")),
            ),
            (
                400,
                Some((Reason::InvalidSpec, Retry::AwaitChange, "field")),
            ),
            (409, None),
            (500, None),
            (503, None),
        ];
        for (code, want) in rows {
            let got = refused(code, "said", "HTTPRoute team/web");
            assert_eq!(
                got.as_ref().map(|p| (p.reason, p.retry)),
                want.map(|(r, t, _)| (r, t)),
                "{code}"
            );
            if let (Some(p), Some((_, _, hint))) = (got, want) {
                assert!(p.message.starts_with("HTTPRoute team/web: "), "{code}");
                assert!(
                    p.message.contains(hint) && p.message.ends_with(": said"),
                    "{code}"
                );
            }
        }
        assert_eq!(absent(404), Some(Deleted::Gone));
        assert_eq!(absent(409), None);
        assert_eq!(absent(500), None);
    }
}
