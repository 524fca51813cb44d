//! The App Mesh side of a reconcile: create, adopt, update, re-tag and delete one gateway route,
//! and what each App Mesh error means for the object. No Kubernetes writes happen here.

use crate::api::{DeletionPolicy, GatewayRoute};
use crate::appmesh::{AppMesh, AppMeshError, ErrorKind, Missing, ObservedRoute};

use super::desired::{Desired, Ownership};
use super::status::Reason;

/// What changed in App Mesh, for the object's Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    /// The route was deleted outside meshroute and created again.
    Recreated,
    /// An existing route (ours from before a crash, or unowned with the adopt annotation) was
    /// taken over.
    Adopted,
    Updated,
    /// The route was changed outside meshroute and put back.
    DriftCorrected,
    TagsUpdated,
    None,
}

/// When to try again after a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Only when the object changes: App Mesh will refuse the same request again.
    AwaitChange,
    /// Exponential backoff: throttling, 5xx, no answer.
    Transient,
    /// Exponential backoff, capped low: a missing dependency may appear any moment.
    Dependency,
    /// The longest backoff: quotas, permissions, a name held by someone else.
    Slow,
}

/// Why a reconcile did not get App Mesh in sync.
#[derive(Debug, Clone)]
pub struct Problem {
    pub reason: Reason,
    pub message: String,
    pub retry: Retry,
}

impl From<AppMeshError> for Problem {
    fn from(e: AppMeshError) -> Self {
        let (reason, retry, advice) = match e.kind {
            ErrorKind::BadRequest => (Reason::InvalidSpec, Retry::AwaitChange, "fix the spec"),
            ErrorKind::LimitExceeded | ErrorKind::TooManyTags => (
                Reason::LimitExceeded,
                Retry::Slow,
                "raise the App Mesh quota or remove routes or tags",
            ),
            ErrorKind::Forbidden => (
                Reason::AccessDenied,
                Retry::Slow,
                "grant meshroute's IAM role the App Mesh permissions in the README",
            ),
            _ => (
                Reason::AppMeshUnavailable,
                Retry::Transient,
                "meshroute retries with backoff",
            ),
        };
        Problem {
            reason,
            message: format!("{e}; {advice}"),
            retry,
        }
    }
}

/// A reconcile's result in App Mesh.
pub type Outcome = Result<(ObservedRoute, Change), Problem>;

/// Brings App Mesh in line with `route`: creates, adopts, updates and re-tags as needed.
pub async fn apply(
    route: &GatewayRoute,
    d: &Desired,
    mesh: &AppMesh,
    adopt_unowned: bool,
) -> Outcome {
    let known = route.status.as_ref().filter(|s| s.arn.is_some());
    let Some(known) = known else {
        return create(route, d, mesh, None, adopt_unowned).await;
    };
    match mesh.describe_route(&d.key).await? {
        // Deleted outside meshroute, or its mesh or gateway went away.
        None => {
            create(
                route,
                d,
                mesh,
                Some(known.uid.as_deref().unwrap_or("unknown")),
                adopt_unowned,
            )
            .await
        }
        Some(observed) => {
            let tags = mesh.list_tags(&observed.arn).await?;
            let recorded = known.uid.as_deref() == Some(observed.uid.as_str());
            match d.ownership(&tags) {
                // Ours by its tags, or the very route we recorded (whose tags someone removed).
                Ownership::Ours => converge(route, d, mesh, observed, &tags, Change::None).await,
                _ if recorded => converge(route, d, mesh, observed, &tags, Change::None).await,
                other => Err(name_in_use(d, other)),
            }
        }
    }
}

async fn create(
    route: &GatewayRoute,
    d: &Desired,
    mesh: &AppMesh,
    lost_route_uid: Option<&str>,
    adopt_unowned: bool,
) -> Outcome {
    let token = d.create_token(lost_route_uid);
    match mesh
        .create_route(&d.key, &d.spec, &d.all_tags(), &token)
        .await
    {
        Ok(created) => Ok((
            created,
            if lost_route_uid.is_some() {
                Change::Recreated
            } else {
                Change::Created
            },
        )),
        Err(e) if e.kind == ErrorKind::Conflict => take_over(route, d, mesh, adopt_unowned).await,
        Err(e) if e.kind == ErrorKind::NotFound => Err(dependency(d, mesh, e).await),
        Err(e) => Err(e.into()),
    }
}

/// The name is taken (or our create token was used with another spec): read the route's tags
/// and adopt it only if it is ours, or unowned and the user asked for adoption.
async fn take_over(
    route: &GatewayRoute,
    d: &Desired,
    mesh: &AppMesh,
    adopt_unowned: bool,
) -> Outcome {
    let Some(observed) = mesh.describe_route(&d.key).await? else {
        return Err(Problem {
            reason: Reason::AppMeshUnavailable,
            message: format!(
                "App Mesh reported gateway route {} as taken, then as missing; retrying",
                d.key.name
            ),
            retry: Retry::Transient,
        });
    };
    let tags = mesh.list_tags(&observed.arn).await?;
    match d.ownership(&tags) {
        Ownership::Ours => converge(route, d, mesh, observed, &tags, Change::Adopted).await,
        Ownership::Nobody if adopt_unowned => {
            converge(route, d, mesh, observed, &tags, Change::Adopted).await
        }
        other => Err(name_in_use(d, other)),
    }
}

fn name_in_use(d: &Desired, ownership: Ownership) -> Problem {
    let k = &d.key;
    let whose = match ownership {
        Ownership::Other(owner) => format!("it belongs to {owner}; give this GatewayRoute another gatewayRouteName"),
        _ => "no meshroute object owns it; to take it over, annotate this GatewayRoute with meshroute.io/adopt=true, or give it another gatewayRouteName".into(),
    };
    Problem {
        reason: Reason::NameInUse,
        message: format!(
            "App Mesh already has a gateway route named {} on virtual gateway {} in mesh {}: {whose}",
            k.name, k.gateway, k.mesh
        ),
        retry: Retry::Slow,
    }
}

/// Updates the spec if it drifted and fixes the tags.
async fn converge(
    route: &GatewayRoute,
    d: &Desired,
    mesh: &AppMesh,
    observed: ObservedRoute,
    tags: &[crate::api::Tag],
    mut change: Change,
) -> Outcome {
    let mut current = observed;
    if !d.spec.matches(&current.spec) {
        let generation = route.metadata.generation.unwrap_or_default();
        let token = d.update_token(generation, current.version);
        current = match mesh.update_route(&d.key, &d.spec, &token).await {
            Ok(updated) => updated,
            Err(e) if e.kind == ErrorKind::NotFound => return Err(dependency(d, mesh, e).await),
            Err(e) => return Err(e.into()),
        };
        if change == Change::None {
            change = if super::status::ready_now(route) {
                Change::DriftCorrected
            } else {
                Change::Updated
            };
        }
    }
    let tag_changes = d.tag_changes(tags);
    if !tag_changes.set.is_empty() {
        mesh.tag(&current.arn, &tag_changes.set).await?;
    }
    if !tag_changes.remove.is_empty() {
        mesh.untag(&current.arn, &tag_changes.remove).await?;
    }
    if change == Change::None && !tag_changes.is_empty() {
        change = Change::TagsUpdated;
    }
    Ok((current, change))
}

/// A 404 on create or update: say which dependency is missing.
async fn dependency(d: &Desired, mesh: &AppMesh, e: AppMeshError) -> Problem {
    let k = &d.key;
    let what = match mesh.find_missing(k, d.target()).await {
        Ok(Missing::Mesh(m)) => format!("mesh {m} does not exist"),
        Ok(Missing::VirtualGateway(g)) => {
            format!("virtual gateway {g} does not exist in mesh {}", k.mesh)
        }
        Ok(Missing::VirtualService(s)) => {
            format!(
                "virtual service {s} (the route's target) does not exist in mesh {}",
                k.mesh
            )
        }
        Ok(Missing::Unknown) => format!("App Mesh said: {e}"),
        Err(other) => return other.into(),
    };
    Problem {
        reason: Reason::DependencyNotFound,
        message: format!(
            "{what}; the route is created as soon as it exists{}",
            e.request_id
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default()
        ),
        retry: Retry::Dependency,
    }
}

/// What deleting the object did in App Mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    Retained,
    /// There was no route of ours to delete.
    NothingOurs,
}

/// Deletes the App Mesh route if the policy says so and the route is ours; a route that is
/// already gone (or whose mesh or gateway is) counts as deleted.
pub async fn remove(route: &GatewayRoute, d: &Desired, mesh: &AppMesh) -> Result<Removal, Problem> {
    if route.deletion_policy() == DeletionPolicy::Retain {
        return Ok(Removal::Retained);
    }
    let Some(observed) = mesh.describe_route(&d.key).await? else {
        return Ok(Removal::NothingOurs);
    };
    let recorded =
        route.status.as_ref().and_then(|s| s.uid.as_deref()) == Some(observed.uid.as_str());
    if !recorded && d.ownership(&mesh.list_tags(&observed.arn).await?) != Ownership::Ours {
        return Ok(Removal::NothingOurs);
    }
    mesh.delete_route(&d.key).await?;
    Ok(Removal::Deleted)
}
