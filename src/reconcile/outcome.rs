//! What follows a reconcile, as one pure function (`conclude`): from what the work did on each
//! backend (`Did`) and what the object's status shows, the status to write, the Events to
//! publish, the result to count, the retry and the line to log. The executor (`steps`) carries it
//! out and decides nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::desired::Desired;
use super::events::Note;
use super::gateway_api::judge::findings_condition;
use super::plan::{Change, Problem, Removal};
use super::status;
use super::tenancy;
use crate::api::{
    EventReason, GATEWAY_API_FINDINGS, GatewayApiRoute, GatewayRoute, GatewayRouteStatus, Reason,
    SHADOWED,
};
use crate::appmesh::ObservedRoute;
use crate::backoff::Retry;
use crate::gatewayapi::Finding;

/// What a reconcile did, backend by backend: everything `conclude` needs.
#[derive(Debug, Clone)]
pub enum Did {
    /// Neither backend was touched: tenancy or a conflict refuses the route (`reason`), `why`.
    Refused { reason: Reason, why: String },
    /// App Mesh alone serves its gateway; `left_gateway_api`: the Gateway API route the status
    /// recorded was deleted (the gateway went back to App Mesh).
    AppMesh {
        app_mesh: OnAppMesh,
        left_gateway_api: bool,
    },
    /// Gateway API serves its gateway: `app_mesh` is what its App Mesh part did, if it had one,
    /// and `serves_app_mesh` whether App Mesh serves the route too.
    GatewayApi {
        app_mesh: Option<AppMeshPart>,
        serves_app_mesh: bool,
        gateway_api: OnGatewayApi,
        findings: Vec<Finding>,
    },
    /// The object is being deleted: what became of its App Mesh route (its Gateway API route
    /// is gone already).
    Removed(Result<Removal, Problem>),
}

/// How the App Mesh part of a reconcile ended, where App Mesh serves the route.
#[derive(Debug, Clone)]
pub enum OnAppMesh {
    /// See `Ended::Vouched`.
    Vouched {
        arn: String,
        version: i64,
    },
    /// See `Ended::Synced`.
    Synced {
        route: Box<ObservedRoute>,
        change: Change,
        desired: Box<Desired>,
    },
    Failed(Problem),
}

impl OnAppMesh {
    fn ended(&self) -> Ended<'_> {
        match self {
            OnAppMesh::Vouched { arn, version } => Ended::Vouched {
                arn,
                version: *version,
            },
            OnAppMesh::Synced {
                route,
                change,
                desired,
            } => Ended::Synced {
                route,
                change: *change,
                desired,
            },
            OnAppMesh::Failed(problem) => Ended::Failed(problem),
        }
    }
}

/// What the App Mesh part did where Gateway API serves the gateway.
#[derive(Debug, Clone)]
pub enum AppMeshPart {
    /// Served the route as well (`both`, or a route Gateway API cannot say).
    Applied(OnAppMesh),
    /// Deleted the route App Mesh held: Gateway API alone serves its gateway now.
    Retired(Result<Removal, Problem>),
}

/// What follows `did` for `route` (as read at the start of the reconcile), written by `shard` at
/// `now`; `shadowed_by` is the route App Mesh tries first that takes every request this one
/// matches, if any.
pub fn conclude(
    route: &GatewayRoute,
    did: &Did,
    shadowed_by: Option<&str>,
    shard: &str,
    now: Time,
) -> After {
    let after = match did {
        Did::Refused { reason, why } => {
            // The refusal says it all: no findings or shadowing are worth saying beside it.
            let problem = Problem {
                reason: *reason,
                message: tenancy::left_alone_message(route, why),
                retry: Retry::AwaitChange,
            };
            return after(route, Ended::Failed(&problem), shard, now);
        }
        Did::Removed(removed) => {
            let ended = match removed {
                Ok(removal) => Ended::Removed(*removal),
                Err(problem) => Ended::RemoveFailed(problem),
            };
            return after(route, ended, shard, now);
        }
        Did::AppMesh {
            app_mesh,
            left_gateway_api,
        } => {
            let mut after = after(route, app_mesh.ended(), shard, now.clone());
            if *left_gateway_api {
                after = self::left_gateway_api(after, route, now.clone());
            }
            warning(after, route, GATEWAY_API_FINDINGS, None, now.clone())
        }
        // A Gateway API route just written, and nothing else new (Gateway API alone, or an App
        // Mesh route a page vouched for unchanged, as in a cut-over to `both`): nothing is said
        // (no status, no Event) until the implementation judges it or the grace runs out. One
        // status write per create or cut-over, and the status keeps saying the App Mesh route is
        // Ready meanwhile, so the next reconcile still lets a page vouch for it.
        Did::GatewayApi {
            app_mesh: None | Some(AppMeshPart::Applied(OnAppMesh::Vouched { .. })),
            gateway_api: OnGatewayApi { result: Err(p), .. },
            ..
        } if let Retry::Verdict(look) = p.retry => {
            return After {
                status: None,
                shard_overlap: false,
                notes: Vec::new(),
                counted: Counted::Ready(p.reason),
                message: p.message.clone(),
                next: Next::Retry(Retry::Verdict(look)),
                changed: None,
            };
        }
        Did::GatewayApi {
            app_mesh,
            serves_app_mesh,
            gateway_api,
            findings,
        } => {
            let on_app_mesh = app_mesh.as_ref().map(|part| match part {
                AppMeshPart::Applied(on) => after(route, on.ended(), shard, now.clone()),
                AppMeshPart::Retired(removed) => {
                    retired(route, removed.as_ref().map(|r| *r), shard, now.clone())
                }
            });
            let after = self::gateway_api(
                route,
                on_app_mesh,
                *serves_app_mesh,
                gateway_api.clone(),
                shard,
                now.clone(),
            );
            warning(
                after,
                route,
                GATEWAY_API_FINDINGS,
                findings_condition(findings),
                now.clone(),
            )
        }
    };
    shadowed(after, route, shadowed_by, now)
}

/// How the work on App Mesh ended.
#[derive(Debug, Clone, Copy)]
pub enum Ended<'a> {
    /// The route the status recorded (`arn` at `version`) is known unchanged, by a recent
    /// ListGatewayRoutes page or by what this replica wrote itself (`plan::start`): in sync,
    /// and nothing was called.
    Vouched { arn: &'a str, version: i64 },
    /// App Mesh holds what `desired` asks, as `route`, after `change`.
    Synced {
        route: &'a ObservedRoute,
        change: Change,
        desired: &'a Desired,
    },
    /// App Mesh does not hold the spec, for this reason.
    Failed(&'a Problem),
    /// The object is being deleted and its App Mesh route is dealt with.
    Removed(Removal),
    /// The object is being deleted and its route could not be deleted.
    RemoveFailed(&'a Problem),
}

/// What the reconcile's result counts as in `meshroute_reconciles_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The Ready reason it left the object with (kept per object for the objects gauge).
    Ready(Reason),
    /// The cleanup of a deleted object.
    Removal(Removal),
}

/// When the object is reconciled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// In sync: its failures are forgotten and the drift pass checks it from now on.
    Synced,
    /// Deleted: nothing more to do.
    Removed,
    /// It failed; `Retry` says how it waits.
    Retry(Retry),
    /// Its route could not be deleted: the reconcile ends in an error, the finalizer stays, and
    /// `Retry` says how it waits.
    DeleteFailed(Retry),
}

/// A change meshroute made to App Mesh (or, for Retain, chose not to make), logged once at info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// What happened: the Event's reason (Created, Updated, Deleted, ...).
    pub what: &'static str,
    /// The route's name in App Mesh.
    pub name: String,
    pub arn: String,
    /// Its App Mesh version after the change; none for a deleted or retained route.
    pub version: Option<i64>,
}

/// Everything that follows a reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    /// The status to write (the writer skips one equal to the object's).
    pub status: Option<GatewayRouteStatus>,
    /// Another shard wrote the status this one replaces.
    pub shard_overlap: bool,
    /// Events, in order.
    pub notes: Vec<Note>,
    pub counted: Counted,
    /// What the Ready condition says (or would), for logs and the delete error.
    pub message: String,
    pub next: Next,
    /// The change to App Mesh, if there was one (no-ops log nothing at info).
    pub changed: Option<Changed>,
}

/// What follows `ended` for `route` (as read at the start of the reconcile), written by `shard`
/// at `now`.
fn after(route: &GatewayRoute, ended: Ended, shard: &str, now: Time) -> After {
    match ended {
        // A status that says Ready at this generation already says it (whoever wrote it).
        Ended::Vouched { .. } if status::ready_now(route) => After {
            status: None,
            shard_overlap: false,
            notes: Vec::new(),
            counted: Counted::Ready(Reason::Synced),
            message: "the route the status records is unchanged".into(),
            next: Next::Synced,
            changed: None,
        },
        // Someone else wrote a status that is not Ready over an in-sync route: put back.
        Ended::Vouched { arn, version } => {
            let message = synced_message(arn, version);
            let next = status::next_status(route, None, Reason::Synced, &message, now);
            report(route, next, Reason::Synced, &message, shard)
        }
        Ended::Synced {
            route: observed,
            change,
            desired,
        } => {
            let message = synced_message(&observed.arn, observed.version);
            let mut next =
                status::next_status(route, Some(observed), Reason::Synced, &message, now);
            // In sync: App Mesh has the route with exactly these tags.
            next.tags_digest = Some(desired.tags_digest());
            let mut after = report(route, next, Reason::Synced, &message, shard);
            if let Some(note) = describe_change(change, observed) {
                after.changed = Some(Changed {
                    what: note.reason,
                    name: desired.key.name.clone(),
                    arn: observed.arn.clone(),
                    version: Some(observed.version),
                });
                after.notes.push(note);
            }
            after
        }
        Ended::Failed(problem) if other_install(route, problem, shard) => {
            let other = route.status.as_ref().and_then(|s| s.shard.as_deref());
            let message = format!(
                "{}; the status says the route is in sync for meshroute shard {}, another \
                 install in this cluster with another --cluster-id: this install leaves that \
                 status alone; run one install per cluster id, or give them disjoint \
                 --label-selector values",
                problem.message,
                other.unwrap_or_default()
            );
            After {
                status: None,
                shard_overlap: true,
                notes: vec![Note::warning(
                    EventReason::OtherInstall.as_str(),
                    message.clone(),
                )],
                counted: Counted::Ready(problem.reason),
                message,
                next: Next::Retry(problem.retry),
                changed: None,
            }
        }
        Ended::Failed(problem) => failure(route, problem, problem.reason, shard, now),
        Ended::RemoveFailed(problem) => {
            let message = format!(
                "deleting the App Mesh route failed, the finalizer stays until it succeeds: {}",
                problem.message
            );
            let problem = Problem {
                reason: Reason::DeleteFailed,
                message,
                retry: problem.retry,
            };
            failure(route, &problem, Reason::DeleteFailed, shard, now)
        }
        Ended::Removed(removal) => After {
            status: None,
            shard_overlap: false,
            changed: match removal {
                Removal::NothingOurs => None,
                Removal::Deleted | Removal::Retained => Some(Changed {
                    what: removal.as_str(),
                    name: route.app_mesh_name(),
                    arn: route
                        .status
                        .as_ref()
                        .and_then(|s| s.arn.clone())
                        .unwrap_or_default(),
                    version: None,
                }),
            },
            notes: match removal {
                Removal::Deleted => vec![Note::normal(
                    EventReason::Deleted.as_str(),
                    "Deleted the App Mesh gateway route",
                )],
                Removal::Retained => vec![Note::normal(
                    EventReason::Retained.as_str(),
                    "Kept the App Mesh gateway route (deletionPolicy: Retain)",
                )],
                Removal::NothingOurs => Vec::new(),
            },
            counted: Counted::Removal(removal),
            message: String::new(),
            next: Next::Removed,
        },
    }
}

/// Adds or clears the `Shadowed` warning on what follows a reconcile: a route App Mesh tries
/// first, `by`, takes every request this one matches.
fn shadowed(after: After, route: &GatewayRoute, by: Option<&str>, now: Time) -> After {
    let message = by.map(|other| {
        format!(
            "{other} is tried before this route (App Mesh's priority order) and takes every \
             request this route matches: App Mesh never sends it one; change the priorities or \
             the matches"
        )
    });
    warning(
        after,
        route,
        SHADOWED,
        message.map(|m| (SHADOWED.to_string(), m)),
        now,
    )
}

/// Adds or clears a warning condition of type `kind` (one that leaves Ready alone) on what
/// follows a reconcile, with an Event when it appears. `said` is its
/// reason and message, `None` to clear it. A status that says it already is not written again.
fn warning(
    mut after: After,
    route: &GatewayRoute,
    kind: &'static str,
    said: Option<(String, String)>,
    now: Time,
) -> After {
    let old = route
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == kind));
    let had = old.is_some_and(|c| c.status == "True");
    let message = said.as_ref().map(|(_, m)| m);
    // Written when it appears, goes, or says something else.
    let stale = had != said.is_some() || (had && old.map(|c| &c.message) != message);
    let base = after
        .status
        .take()
        .or_else(|| stale.then(|| route.status.clone().unwrap_or_default()));
    if let Some(mut status) = base {
        status.conditions.retain(|c| c.type_ != kind);
        if let Some((reason, message)) = &said {
            let condition = Condition {
                type_: kind.into(),
                status: "True".into(),
                reason: reason.clone(),
                message: message.clone(),
                observed_generation: route.metadata.generation,
                last_transition_time: now,
            };
            let before = route.status.as_ref().map_or(&[][..], |s| &s.conditions);
            status
                .conditions
                .push(status::keep_transition_time(before, condition));
        }
        after.status = Some(status);
    }
    if let (Some((_, message)), false) = (said, had) {
        after.notes.push(Note::warning(kind, message));
    }
    after
}

/// How the Gateway API side of a reconcile ended.
#[derive(Debug, Clone, PartialEq)]
pub struct OnGatewayApi {
    /// The route meshroute wrote, if there is one now.
    pub route: Option<GatewayApiRoute>,
    /// Ready's message, or why it is not Ready.
    pub result: Result<String, Problem>,
}

/// What follows a reconcile of an object whose virtual gateway Gateway API serves:
/// `app_mesh` is what followed its App Mesh part (serving the route as well, or deleting the
/// route App Mesh held), if it had one, and `serves_app_mesh` whether App Mesh still serves
/// it. Ready needs every backend that serves it in sync; a failing App Mesh part speaks first.
fn gateway_api(
    route: &GatewayRoute,
    app_mesh: Option<After>,
    serves_app_mesh: bool,
    gw: OnGatewayApi,
    shard: &str,
    now: Time,
) -> After {
    if let Some(mut a) = app_mesh
        .clone()
        .filter(|a| a.counted != Counted::Ready(Reason::Synced))
    {
        // The App Mesh part speaks, but the status still records the Gateway API route, so
        // that it is deleted if the gateway goes back to App Mesh alone.
        let recorded = route
            .status
            .as_ref()
            .and_then(|s| s.gateway_api_route.as_ref());
        if recorded != gw.route.as_ref() || a.status.is_some() {
            a.status
                .get_or_insert_with(|| route.status.clone().unwrap_or_default())
                .gateway_api_route = gw.route;
        }
        return a;
    }
    let (notes, changed) = app_mesh
        .as_ref()
        .map_or((Vec::new(), None), |a| (a.notes.clone(), a.changed.clone()));
    let mut base = route.clone();
    let mut status = app_mesh
        .and_then(|a| a.status)
        .or_else(|| route.status.clone())
        .unwrap_or_default();
    if !serves_app_mesh {
        // App Mesh holds nothing for it any more; the uid of the route it held stays, so that a
        // route made again later is a new instance (`plan`).
        status = GatewayRouteStatus {
            uid: status.uid,
            route_kind: status.route_kind,
            shard: status.shard,
            gateway_api_route: status.gateway_api_route,
            observed_generation: status.observed_generation,
            conditions: status.conditions,
            ..Default::default()
        };
    }
    status.gateway_api_route = gw.route;
    let in_app_mesh = status
        .arn
        .as_deref()
        .filter(|_| serves_app_mesh)
        .map(|arn| synced_message(arn, status.version.unwrap_or_default()));
    base.status = Some(status);
    let (reason, message, retry) = match gw.result {
        Ok(served) => (
            Reason::Synced,
            in_app_mesh.map_or(served.clone(), |m| format!("{m}; {served}")),
            None,
        ),
        Err(p) => (p.reason, p.message, Some(p.retry)),
    };
    let next = status::next_status(&base, None, reason, &message, now);
    let mut after = report(route, next, reason, &message, shard);
    after.notes.splice(0..0, notes);
    after.changed = changed;
    if let Some(retry) = retry {
        after.next = Next::Retry(retry);
    }
    after
}

/// What follows deleting the App Mesh route of an object whose gateway Gateway API alone
/// serves now: on success its App Mesh part is done (the Gateway API part decides Ready).
fn retired(
    route: &GatewayRoute,
    removed: Result<Removal, &Problem>,
    shard: &str,
    now: Time,
) -> After {
    match removed {
        Ok(removal) => {
            let mut after = after(route, Ended::Removed(removal), shard, now);
            for note in &mut after.notes {
                note.note = format!(
                    "{}: its virtual gateway is served by Gateway API only",
                    note.note
                );
            }
            After {
                counted: Counted::Ready(Reason::Synced),
                next: Next::Synced,
                ..after
            }
        }
        Err(problem) => {
            let problem = Problem {
                message: format!(
                    "its virtual gateway is served by Gateway API only, but deleting its App \
                     Mesh route failed: {}",
                    problem.message
                ),
                ..problem.clone()
            };
            failure(route, &problem, problem.reason, shard, now)
        }
    }
}

/// What follows a reconcile of an object whose gateway App Mesh alone serves again: the status
/// forgets the Gateway API route (deleted), and Ready speaks of App Mesh only.
fn left_gateway_api(mut after: After, route: &GatewayRoute, now: Time) -> After {
    let mut status = after
        .status
        .take()
        .or_else(|| route.status.clone())
        .unwrap_or_default();
    if let Some(deleted) = status.gateway_api_route.take() {
        after.notes.push(Note::normal(
            EventReason::GatewayApiRouteDeleted.as_str(),
            format!(
                "Deleted the {} on Gateway {}: its virtual gateway is served by App Mesh only",
                deleted.kind, deleted.parent
            ),
        ));
    }
    if after.counted == Counted::Ready(Reason::Synced)
        && let Some(arn) = status.arn.clone()
    {
        let message = synced_message(&arn, status.version.unwrap_or_default());
        let mut base = route.clone();
        base.status = Some(status);
        status = status::next_status(&base, None, Reason::Synced, &message, now);
        after.message = message;
    }
    after.status = Some(status);
    after
}

/// What the Ready condition says of a route in sync.
fn synced_message(arn: &str, version: i64) -> String {
    format!("App Mesh gateway route {arn} is in sync (version {version})")
}

/// Whether `problem` is this install finding the route another cluster id's, on an object that
/// another shard (another install) reports Ready at its generation: that install reconciles it,
/// and its status stays.
fn other_install(route: &GatewayRoute, problem: &Problem, shard: &str) -> bool {
    let other_shard = route
        .status
        .as_ref()
        .and_then(|s| s.shard.as_deref())
        .is_some_and(|other| other != shard);
    problem.reason == Reason::OwnedByOtherCluster && other_shard && status::ready_now(route)
}

/// A failure: the status says why, unless App Mesh is paused as a whole, which is said once
/// (log, gauge), not written into every object. Only an object with nothing to show for its
/// generation yet gets a status then. A deleted object's failed cleanup writes its status
/// whenever App Mesh is not paused.
fn failure(
    route: &GatewayRoute,
    problem: &Problem,
    reason: Reason,
    shard: &str,
    now: Time,
) -> After {
    let paused = problem.retry == Retry::Paused;
    let deleting = reason == Reason::DeleteFailed;
    let write = !paused || (!deleting && !status::reported_now(route));
    let next = if deleting {
        Next::DeleteFailed(problem.retry)
    } else {
        Next::Retry(problem.retry)
    };
    if !write {
        return After {
            status: None,
            shard_overlap: false,
            notes: Vec::new(),
            counted: Counted::Ready(reason),
            message: problem.message.clone(),
            next,
            changed: None,
        };
    }
    let status = status::next_status(route, None, reason, &problem.message, now);
    After {
        next,
        ..report(route, status, reason, &problem.message, shard)
    }
}

/// Writing `next` as `shard`: says so when another shard wrote the status last, and publishes a
/// Warning when the object fails for a new reason.
fn report(
    route: &GatewayRoute,
    mut next: GatewayRouteStatus,
    reason: Reason,
    message: &str,
    shard: &str,
) -> After {
    let mut notes = Vec::new();
    let other = route.status.as_ref().and_then(|s| s.shard.as_deref());
    let shard_overlap = other.is_some_and(|other| other != shard);
    if let Some(other) = other.filter(|_| shard_overlap) {
        notes.push(Note::warning(
            EventReason::ShardOverlap.as_str(),
            format!(
                "meshroute shard {other} wrote this object's status before shard {shard}; if \
                 both still run, their --label-selector values overlap and both reconcile it"
            ),
        ));
    }
    // Waiting for a Gateway API implementation's status is the normal course after every
    // write, not worth a Warning; the status says it.
    let warn = !matches!(reason, Reason::Synced | Reason::GatewayPending);
    if warn && status::current_reason(route) != Some(reason.as_str()) {
        notes.push(Note::warning(reason.as_str(), message));
    }
    next.shard = Some(shard.to_string());
    After {
        status: Some(next),
        shard_overlap,
        notes,
        counted: Counted::Ready(reason),
        message: message.to_string(),
        next: Next::Synced,
        changed: None,
    }
}

/// The Event that tells what a reconcile changed in App Mesh.
fn describe_change(change: Change, r: &ObservedRoute) -> Option<Note> {
    Some(match change {
        Change::None => return None,
        Change::Created => Note::normal(
            EventReason::Created.as_str(),
            format!("Created App Mesh gateway route {}", r.arn),
        ),
        Change::Recreated => Note::warning(
            EventReason::Recreated.as_str(),
            format!(
                "App Mesh gateway route {} was deleted outside meshroute; created it again",
                r.arn
            ),
        ),
        Change::Adopted => Note::normal(
            EventReason::Adopted.as_str(),
            format!("Adopted existing App Mesh gateway route {}", r.arn),
        ),
        Change::Updated => Note::normal(
            EventReason::Updated.as_str(),
            format!(
                "Updated App Mesh gateway route {} to version {}",
                r.arn, r.version
            ),
        ),
        Change::DriftCorrected => Note::warning(
            EventReason::DriftCorrected.as_str(),
            format!(
                "App Mesh gateway route {} was changed outside meshroute; restored the spec (version {})",
                r.arn, r.version
            ),
        ),
        Change::TagsUpdated => Note::normal(
            EventReason::TagsUpdated.as_str(),
            format!("Updated the tags of {}", r.arn),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reason::*;
    use crate::backoff::VERDICT_GRACE;
    use crate::reconcile::events::EventType::{Normal, Warning};

    const SHARD: &str = "ops/meshroute";

    /// An object at generation 2 whose status (if `reason` is set) says Ready=`reason ==
    /// Synced` with `reason` at generation `observed`, written by `shard`.
    fn object(reason: Option<Reason>, observed: i64, shard: &str) -> GatewayRoute {
        let status = match reason {
            None => serde_json::json!({}),
            Some(r) => serde_json::json!({ "observedGeneration": observed, "shard": shard,
                "conditions": [{ "type": "Ready",
                    "status": if r == Synced { "True" } else { "False" },
                    "reason": r.as_str(), "message": "", "observedGeneration": observed,
                    "lastTransitionTime": "2026-12-02T00:00:00Z" }] }),
        };
        serde_json::from_value(serde_json::json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": "r", "namespace": "n", "uid": "u", "generation": 2 },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
                "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": "s" } } } } },
            "status": status,
        }))
        .unwrap()
    }

    /// Ready's (status, reason, message) in what follows.
    fn ready_of(after: &After) -> Option<(String, String, String)> {
        let c = after
            .status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == crate::api::READY)?;
        Some((c.status.clone(), c.reason.clone(), c.message.clone()))
    }

    #[test]
    fn ready_needs_every_backend_that_serves_the_route() {
        let http = Some(GatewayApiRoute {
            kind: "HTTPRoute".into(),
            parent: "infra/gw".into(),
        });
        let served = |result: Result<String, Problem>| OnGatewayApi {
            route: http.clone(),
            result,
        };
        let accepted = || Ok("HTTPRoute n/r is accepted by Gateway infra/gw".to_string());
        let fresh = object(None, 0, SHARD);
        let in_app_mesh = after(
            &fresh,
            Ended::Synced {
                route: &observed(),
                change: Change::Created,
                desired: &Desired::of(&fresh, "prod"),
            },
            SHARD,
            now(),
        );

        // Both, both in sync: Ready names both; App Mesh's Created Event is kept.
        let both = gateway_api(
            &fresh,
            Some(in_app_mesh.clone()),
            true,
            served(accepted()),
            SHARD,
            now(),
        );
        let (ready, reason, message) = ready_of(&both).unwrap();
        assert_eq!((ready.as_str(), reason.as_str()), ("True", "Synced"));
        assert!(
            message.starts_with("App Mesh gateway route arn:") && message.ends_with("infra/gw"),
            "{message}"
        );
        assert_eq!(both.status.as_ref().unwrap().gateway_api_route, http);
        assert!(both.notes.iter().any(|n| n.reason == "Created"));

        // Both, Gateway API not there yet: not Ready, and App Mesh's facts are kept.
        let pending = problem(GatewayPending, Retry::AwaitChange);
        let waiting = gateway_api(
            &fresh,
            Some(in_app_mesh.clone()),
            true,
            served(Err(pending)),
            SHARD,
            now(),
        );
        assert_eq!(ready_of(&waiting).unwrap().1, "GatewayPending");
        assert!(waiting.status.as_ref().unwrap().arn.is_some());
        assert_eq!(waiting.next, Next::Retry(Retry::AwaitChange));
        assert!(
            waiting.notes.iter().all(|n| n.reason != "GatewayPending"),
            "no Warning for waiting"
        );

        // Both, App Mesh failing: its problem speaks, and the route written is still recorded.
        let failing = after(
            &fresh,
            Ended::Failed(&problem(DependencyNotFound, Retry::Dependency)),
            SHARD,
            now(),
        );
        let failed = gateway_api(
            &fresh,
            Some(failing),
            true,
            served(accepted()),
            SHARD,
            now(),
        );
        assert_eq!(ready_of(&failed).unwrap().1, "DependencyNotFound");
        assert_eq!(failed.status.as_ref().unwrap().gateway_api_route, http);

        // Gateway API alone: App Mesh's facts go, its route's uid stays.
        let retired = gateway_api(
            &fresh,
            Some(in_app_mesh),
            false,
            served(accepted()),
            SHARD,
            now(),
        );
        let status = retired.status.as_ref().unwrap();
        assert_eq!(
            (status.arn.as_deref(), status.uid.as_deref()),
            (None, Some("am-1"))
        );
        assert_eq!(
            ready_of(&retired).unwrap().2,
            "HTTPRoute n/r is accepted by Gateway infra/gw"
        );

        // Back to App Mesh alone: the Gateway API route's record goes, with an Event saying so.
        let mut was_served = fresh.clone();
        was_served.status = both.status.clone();
        let back = left_gateway_api(both, &was_served, now());
        assert_eq!(back.status.as_ref().unwrap().gateway_api_route, None);
        let deleted = back
            .notes
            .iter()
            .find(|n| n.reason == "GatewayAPIRouteDeleted")
            .unwrap_or_else(|| panic!("{:?}", back.notes));
        assert_eq!(
            deleted.note,
            "Deleted the HTTPRoute on Gateway infra/gw: its virtual gateway is served by App Mesh only"
        );
    }

    fn observed() -> ObservedRoute {
        ObservedRoute {
            arn: "arn:aws:appmesh:us-west-2:1:mesh/m/virtualGateway/g/gatewayRoute/r_n".into(),
            uid: "am-1".into(),
            version: 3,
            mesh_owner: "1".into(),
            resource_owner: "1".into(),
            created_at: None,
            last_updated_at: None,
            status: "ACTIVE".into(),
            spec: Default::default(),
        }
    }

    fn problem(reason: Reason, retry: Retry) -> Problem {
        Problem {
            reason,
            message: format!("{} happened", reason.as_str()),
            retry,
        }
    }

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap())
    }

    /// The parts of `After` a row states: the Ready status written (None: no write), the
    /// Events as (type, reason), the count, and what comes next.
    type Row = (
        &'static str,
        GatewayRoute,
        Ended<'static>,
        Option<&'static str>,
        Vec<(crate::reconcile::events::EventType, &'static str)>,
        Counted,
        Next,
    );

    #[test]
    fn what_follows_each_ending() {
        let route: &'static ObservedRoute = Box::leak(Box::new(observed()));
        let desired: &'static Desired =
            Box::leak(Box::new(Desired::of(&object(None, 0, SHARD), "prod")));
        let synced = |change| Ended::Synced {
            route,
            change,
            desired,
        };
        let leak = |p: Problem| -> &'static Problem { Box::leak(Box::new(p)) };
        let throttled = leak(problem(AppMeshUnavailable, Retry::Transient));
        let paused = leak(problem(AppMeshUnavailable, Retry::Paused));
        let missing = leak(problem(DependencyNotFound, Retry::Dependency));
        let other_cluster = leak(problem(OwnedByOtherCluster, Retry::Slow));
        let rows: Vec<Row> = vec![
            (
                "a page vouched: in sync, nothing to write or say",
                object(Some(Synced), 2, SHARD),
                Ended::Vouched {
                    arn: "arn",
                    version: 3,
                },
                None,
                vec![],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "a page vouched, another shard's Ready status: left as it is",
                object(Some(Synced), 2, "other/meshroute"),
                Ended::Vouched {
                    arn: "arn",
                    version: 3,
                },
                None,
                vec![],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "a page vouched for a status someone set False: Ready again",
                object(Some(NameInUse), 2, SHARD),
                Ended::Vouched {
                    arn: "arn",
                    version: 3,
                },
                Some("True"),
                vec![],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "another install's Ready status is left alone, loudly",
                object(Some(Synced), 2, "other/meshroute"),
                Ended::Failed(other_cluster),
                None,
                vec![(Warning, "OtherInstall")],
                Counted::Ready(OwnedByOtherCluster),
                Next::Retry(Retry::Slow),
            ),
            (
                "a status not Ready is replaced by another cluster's refusal",
                object(Some(DependencyNotFound), 2, "other/meshroute"),
                Ended::Failed(other_cluster),
                Some("False"),
                vec![(Warning, "ShardOverlap"), (Warning, "OwnedByOtherCluster")],
                Counted::Ready(OwnedByOtherCluster),
                Next::Retry(Retry::Slow),
            ),
            (
                "created",
                object(None, 0, SHARD),
                synced(Change::Created),
                Some("True"),
                vec![(Normal, "Created")],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "in sync, nothing changed",
                object(Some(Synced), 2, SHARD),
                synced(Change::None),
                Some("True"),
                vec![],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "drift put back",
                object(Some(Synced), 2, SHARD),
                synced(Change::DriftCorrected),
                Some("True"),
                vec![(Warning, "DriftCorrected")],
                Counted::Ready(Synced),
                Next::Synced,
            ),
            (
                "a new failure is said once",
                object(Some(Synced), 2, SHARD),
                Ended::Failed(throttled),
                Some("False"),
                vec![(Warning, "AppMeshUnavailable")],
                Counted::Ready(AppMeshUnavailable),
                Next::Retry(Retry::Transient),
            ),
            (
                "the same failure again: no second Event",
                object(Some(AppMeshUnavailable), 2, SHARD),
                Ended::Failed(throttled),
                Some("False"),
                vec![],
                Counted::Ready(AppMeshUnavailable),
                Next::Retry(Retry::Transient),
            ),
            (
                "paused, status already speaks of this generation: nothing written",
                object(Some(Synced), 2, SHARD),
                Ended::Failed(paused),
                None,
                vec![],
                Counted::Ready(AppMeshUnavailable),
                Next::Retry(Retry::Paused),
            ),
            (
                "paused on a new generation: the object gets a status",
                object(Some(Synced), 1, SHARD),
                Ended::Failed(paused),
                Some("False"),
                vec![(Warning, "AppMeshUnavailable")],
                Counted::Ready(AppMeshUnavailable),
                Next::Retry(Retry::Paused),
            ),
            (
                "another shard wrote last",
                object(Some(DependencyNotFound), 2, "ops/other"),
                Ended::Failed(missing),
                Some("False"),
                vec![(Warning, "ShardOverlap")],
                Counted::Ready(DependencyNotFound),
                Next::Retry(Retry::Dependency),
            ),
            (
                "deleted",
                object(Some(Synced), 2, SHARD),
                Ended::Removed(Removal::Deleted),
                None,
                vec![(Normal, "Deleted")],
                Counted::Removal(Removal::Deleted),
                Next::Removed,
            ),
            (
                "retained",
                object(Some(Synced), 2, SHARD),
                Ended::Removed(Removal::Retained),
                None,
                vec![(Normal, "Retained")],
                Counted::Removal(Removal::Retained),
                Next::Removed,
            ),
            (
                "nothing of ours to delete",
                object(Some(Synced), 2, SHARD),
                Ended::Removed(Removal::NothingOurs),
                None,
                vec![],
                Counted::Removal(Removal::NothingOurs),
                Next::Removed,
            ),
            (
                "the delete failed",
                object(Some(Synced), 2, SHARD),
                Ended::RemoveFailed(throttled),
                Some("False"),
                vec![(Warning, "DeleteFailed")],
                Counted::Ready(DeleteFailed),
                Next::DeleteFailed(Retry::Transient),
            ),
            (
                "the delete waits for a paused App Mesh without a write",
                object(None, 0, SHARD),
                Ended::RemoveFailed(paused),
                None,
                vec![],
                Counted::Ready(DeleteFailed),
                Next::DeleteFailed(Retry::Paused),
            ),
        ];
        for (case, object, ended, ready, notes, counted, next) in rows {
            let after = after(&object, ended, SHARD, now());
            let written = after.status.as_ref().map(|s| {
                assert_eq!(s.shard.as_deref(), Some(SHARD), "{case}");
                assert_eq!(s.observed_generation, Some(2), "{case}");
                s.conditions[0].status.as_str()
            });
            assert_eq!(written, ready, "{case}: status");
            let said: Vec<_> = after.notes.iter().map(|n| (n.type_, n.reason)).collect();
            assert_eq!(said, notes, "{case}: events");
            assert_eq!(after.counted, counted, "{case}: counted");
            let changes = [
                "Created",
                "Recreated",
                "Adopted",
                "Updated",
                "DriftCorrected",
                "TagsUpdated",
                "Deleted",
                "Retained",
            ];
            let changed: Vec<_> = notes
                .iter()
                .filter(|(_, r)| changes.contains(r))
                .map(|(_, r)| *r)
                .collect();
            assert_eq!(
                after.changed.as_ref().map(|c| c.what),
                changed.first().copied(),
                "{case}: logged at info"
            );
            assert_eq!(after.next, next, "{case}: next");
            assert_eq!(
                after.shard_overlap,
                notes
                    .iter()
                    .any(|(_, r)| ["ShardOverlap", "OtherInstall"].contains(r)),
                "{case}: overlap"
            );
        }
    }

    #[test]
    fn a_synced_status_records_the_route_and_its_tags() {
        let object = object(None, 0, SHARD);
        let desired = Desired::of(&object, "prod");
        let route = observed();
        let after = after(
            &object,
            Ended::Synced {
                route: &route,
                change: Change::Created,
                desired: &desired,
            },
            SHARD,
            now(),
        );
        let status = after.status.unwrap();
        assert_eq!(status.arn.as_deref(), Some(route.arn.as_str()));
        assert_eq!(status.version, Some(3));
        assert_eq!(status.tags_digest, Some(desired.tags_digest()));
        assert!(after.notes[0].note.contains(&route.arn));
        let changed = after.changed.unwrap();
        assert_eq!(
            (changed.what, changed.name.as_str(), changed.version),
            ("Created", "r_n", Some(3))
        );
    }

    #[test]
    fn a_failed_delete_says_the_finalizer_stays() {
        let object = object(Some(Synced), 2, SHARD);
        let p = problem(AppMeshUnavailable, Retry::Transient);
        let after = after(&object, Ended::RemoveFailed(&p), SHARD, now());
        assert!(
            after
                .message
                .starts_with("deleting the App Mesh route failed, the finalizer stays"),
            "{}",
            after.message
        );
        assert!(after.message.ends_with(&p.message));
        let status = after.status.unwrap();
        assert_eq!(status.conditions[0].reason, "DeleteFailed");
    }

    #[test]
    fn the_shadowed_warning_is_written_when_it_appears_changes_or_goes() {
        let vouched = Ended::Vouched {
            arn: "arn",
            version: 1,
        };
        let count = |status: &Option<GatewayRouteStatus>| {
            status.as_ref().map(|s| {
                s.conditions
                    .iter()
                    .filter(|c| c.type_ == SHADOWED && c.status == "True")
                    .count()
            })
        };
        // In sync, nothing to write; shadowed by ns/a: the condition and a Warning.
        let plain = object(Some(Synced), 2, SHARD);
        let base = after(&plain, vouched, SHARD, now());
        assert_eq!(base.status, None);
        let first = shadowed(base.clone(), &plain, Some("ns/a"), now());
        assert_eq!(count(&first.status), Some(1));
        assert_eq!(first.notes.len(), 1);
        assert_eq!(first.notes[0].reason, SHADOWED);
        assert_eq!(first.notes[0].type_, Warning);
        // Already said: nothing written, no Event.
        let mut said = plain.clone();
        said.status = first.status.clone();
        let again = shadowed(
            after(&said, vouched, SHARD, now()),
            &said,
            Some("ns/a"),
            now(),
        );
        assert_eq!((again.status, again.notes.len()), (None, 0));
        // Another route shadows it now: the message is written again, no new Event.
        let other = shadowed(
            after(&said, vouched, SHARD, now()),
            &said,
            Some("ns/b"),
            now(),
        );
        assert_eq!(count(&other.status), Some(1));
        assert!(other.notes.is_empty());
        // No longer shadowed: the condition goes, Ready stays.
        let gone = shadowed(after(&said, vouched, SHARD, now()), &said, None, now());
        let status = gone.status.unwrap();
        assert!(status.conditions.iter().all(|c| c.type_ != SHADOWED));
        assert_eq!(status.conditions[0].status, "True");
    }

    /// `conclude` over each kind of `Did`: (what, the object, what was done, the route that
    /// shadows it, Ready's reason, the Events' reasons, the next step).
    #[test]
    fn one_conclusion_from_what_both_parts_did() {
        let http = GatewayApiRoute {
            kind: "HTTPRoute".into(),
            parent: "infra/gw".into(),
        };
        let with_gateway_api = {
            let mut o = object(Some(Synced), 2, SHARD);
            let status = o.status.as_mut().unwrap();
            status.arn = Some("arn".into());
            status.gateway_api_route = Some(http.clone());
            o
        };
        let accepted = OnGatewayApi {
            route: Some(http.clone()),
            result: Ok("HTTPRoute n/r is accepted by Gateway infra/gw".into()),
        };
        let vouched = || OnAppMesh::Vouched {
            arn: "arn".into(),
            version: 3,
        };
        type Row = (
            &'static str,
            GatewayRoute,
            Did,
            Option<&'static str>,
            Option<&'static str>,
            Vec<&'static str>,
            Next,
        );
        let rows: Vec<Row> = vec![
            (
                "refused: neither backend, no shadowing said beside it",
                object(None, 0, SHARD),
                Did::Refused {
                    reason: NotPermitted,
                    why: "not on this gateway".into(),
                },
                Some("other/route"),
                Some("NotPermitted"),
                vec!["NotPermitted"],
                Next::Retry(Retry::AwaitChange),
            ),
            (
                "App Mesh alone again: the Gateway API route the status recorded is forgotten",
                with_gateway_api.clone(),
                Did::AppMesh {
                    app_mesh: vouched(),
                    left_gateway_api: true,
                },
                None,
                Some("Synced"),
                vec!["GatewayAPIRouteDeleted"],
                Next::Synced,
            ),
            (
                "App Mesh alone, shadowed: Ready stays, the warning is said",
                object(Some(Synced), 2, SHARD),
                Did::AppMesh {
                    app_mesh: vouched(),
                    left_gateway_api: false,
                },
                Some("other/route"),
                Some("Synced"),
                vec![SHADOWED],
                Next::Synced,
            ),
            (
                "Gateway API alone: the App Mesh route retired, Ready from the implementation",
                with_gateway_api.clone(),
                Did::GatewayApi {
                    app_mesh: Some(AppMeshPart::Retired(Ok(Removal::Deleted))),
                    serves_app_mesh: false,
                    gateway_api: accepted.clone(),
                    findings: Vec::new(),
                },
                None,
                Some("Synced"),
                vec!["Deleted"],
                Next::Synced,
            ),
            (
                "both, App Mesh failing: App Mesh speaks first",
                object(None, 0, SHARD),
                Did::GatewayApi {
                    app_mesh: Some(AppMeshPart::Applied(OnAppMesh::Failed(problem(
                        DependencyNotFound,
                        Retry::Dependency,
                    )))),
                    serves_app_mesh: true,
                    gateway_api: accepted,
                    findings: Vec::new(),
                },
                None,
                Some("DependencyNotFound"),
                vec!["DependencyNotFound"],
                Next::Retry(Retry::Dependency),
            ),
            (
                "Gateway API alone, just written, no verdict yet: nothing said, asked again soon",
                object(None, 0, SHARD),
                Did::GatewayApi {
                    app_mesh: None,
                    serves_app_mesh: false,
                    gateway_api: OnGatewayApi {
                        route: Some(http.clone()),
                        result: Err(problem(GatewayPending, Retry::Verdict(VERDICT_GRACE))),
                    },
                    findings: Vec::new(),
                },
                Some("other/route"),
                None,
                vec![],
                Next::Retry(Retry::Verdict(VERDICT_GRACE)),
            ),
            (
                "both, App Mesh vouched for by a page, Gateway API just written: nothing said yet",
                object(None, 0, SHARD),
                Did::GatewayApi {
                    app_mesh: Some(AppMeshPart::Applied(OnAppMesh::Vouched {
                        arn: "arn".into(),
                        version: 1,
                    })),
                    serves_app_mesh: true,
                    gateway_api: OnGatewayApi {
                        route: Some(http.clone()),
                        result: Err(problem(GatewayPending, Retry::Verdict(VERDICT_GRACE))),
                    },
                    findings: Vec::new(),
                },
                Some("other/route"),
                None,
                vec![],
                Next::Retry(Retry::Verdict(VERDICT_GRACE)),
            ),
            (
                "Gateway API alone, the grace over: GatewayPending is written",
                object(None, 0, SHARD),
                Did::GatewayApi {
                    app_mesh: None,
                    serves_app_mesh: false,
                    gateway_api: OnGatewayApi {
                        route: Some(http.clone()),
                        result: Err(problem(GatewayPending, Retry::AwaitChange)),
                    },
                    findings: Vec::new(),
                },
                None,
                Some("GatewayPending"),
                vec![],
                Next::Retry(Retry::AwaitChange),
            ),
            (
                "deleted with Retain: nothing written, the route kept",
                with_gateway_api,
                Did::Removed(Ok(Removal::Retained)),
                None,
                None,
                vec!["Retained"],
                Next::Removed,
            ),
        ];
        for (what, route, did, shadowed_by, ready, notes, next) in rows {
            let after = conclude(&route, &did, shadowed_by, SHARD, now());
            assert_eq!(
                ready_of(&after).map(|(_, r, _)| r).as_deref(),
                ready,
                "{what}"
            );
            let said: Vec<&str> = after.notes.iter().map(|n| n.reason).collect();
            assert_eq!(said, notes, "{what}");
            assert_eq!(after.next, next, "{what}");
            let status = after.status.as_ref();
            if matches!(
                did,
                Did::AppMesh {
                    left_gateway_api: true,
                    ..
                }
            ) {
                assert_eq!(
                    status.and_then(|s| s.gateway_api_route.as_ref()),
                    None,
                    "{what}"
                );
            }
            let shadowed = status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == SHADOWED));
            assert_eq!(shadowed, what.contains("shadowed:"), "{what}");
        }
    }
}
