//! Carries out the planner's steps against App Mesh (and, to check an owner, the cluster): each
//! step's answer is recorded in `Seen` and the planner is asked again. Nothing here decides who
//! owns a route or what to do next; no status is written here.

use kube::api::Api;

use super::cache::Key;
use super::deps::Dependencies;
use super::desired::Desired;
use super::pages::{Gateway, Pages};
use super::plan::{self, Change, Observation, Problem, Recorded, Removal, RemovalStep, Seen, Step};
use crate::api::ownership::Owner;
use crate::api::{GatewayRoute, Reason};
use crate::appmesh::{
    AppMesh, AppMeshError, CreateOutcome, ErrorKind, Missing, ObservedRoute, UpdateOutcome,
};
use crate::backoff::Retry;

/// A reconcile's result in App Mesh.
pub type Outcome = Result<(ObservedRoute, Change), Problem>;

/// What the executor works with besides the object.
pub struct Env<'a> {
    pub mesh: &'a AppMesh,
    pub client: &'a kube::Client,
    /// Where a missing dependency is recorded, so its waiters share one probe.
    pub deps: &'a Dependencies,
    /// The latest ListGatewayRoutes pages, and how old one may be to vouch for a route.
    pub pages: &'a Pages,
    pub page_max_age: std::time::Duration,
    pub object: Key,
}

/// Brings App Mesh in line with the object: creates, adopts, updates and re-tags as planned.
/// A route it changed is noted in the cached page of its gateway.
pub async fn apply(d: &Desired, rec: &Recorded, env: &Env<'_>) -> Outcome {
    let outcome = converge(d, rec, env).await;
    if let Ok((route, change)) = &outcome
        && *change != Change::None
    {
        env.pages.wrote(&d.key, route);
    }
    outcome
}

async fn converge(d: &Desired, rec: &Recorded, env: &Env<'_>) -> Outcome {
    let (mesh, client) = (env.mesh, env.client);
    let mut seen = Seen::default();
    loop {
        match plan::plan(d, rec, &seen) {
            Step::Describe => seen.route = describe(d, mesh).await?,
            Step::ListTags => read_tags(&mut seen, mesh).await?,
            Step::ReadPage => {
                seen.page_vouches = Some(page_vouches(d, rec, env, env.page_max_age).await?)
            }
            Step::Update { token } => match mesh.update_route(&d.key, &d.spec, &token).await {
                Ok(UpdateOutcome::Updated(route)) => return Ok((*route, Change::Updated)),
                Ok(UpdateOutcome::Missing(_)) => seen.direct_update_failed = true,
                Err(e) if e.kind == ErrorKind::Conflict => seen.direct_update_failed = true,
                Err(e) => return Err(e.into()),
            },
            Step::CheckOwner(owner) => seen.owner_alive = Some(owner_alive(client, &owner).await?),
            Step::Create { token, change } => {
                match mesh
                    .create_route(&d.key, &d.spec, &d.all_tags(), &token)
                    .await?
                {
                    CreateOutcome::Created(route) => return Ok((*route, change)),
                    CreateOutcome::NameTaken => {
                        seen.name_taken = true;
                        seen.route = Observation::Unknown;
                    }
                    CreateOutcome::Missing(e) => return Err(dependency(d, env, e).await),
                }
            }
            Step::Converge {
                route,
                change,
                update_token,
                tags,
            } => {
                let mut current = *route;
                if let Some(token) = update_token {
                    current = match mesh.update_route(&d.key, &d.spec, &token).await? {
                        UpdateOutcome::Updated(updated) => *updated,
                        UpdateOutcome::Missing(e) => return Err(dependency(d, env, e).await),
                    };
                }
                if !tags.set.is_empty() {
                    mesh.tag(&current.arn, &tags.set).await?;
                }
                if !tags.remove.is_empty() {
                    mesh.untag(&current.arn, &tags.remove).await?;
                }
                return Ok((current, change));
            }
            Step::Refuse(problem) => return Err(problem),
        }
    }
}

/// How old a page may be to prove a route is the object's own before a delete.
const PAGE_PROOF_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

/// Deletes the App Mesh route if the plan says it is this object's to delete.
pub async fn remove(d: &Desired, rec: &Recorded, env: &Env<'_>) -> Result<Removal, Problem> {
    let mesh = env.mesh;
    let mut seen = Seen::default();
    loop {
        match plan::plan_removal(d, rec, &seen) {
            RemovalStep::ReadPage => {
                seen.page_vouches = Some(page_vouches(d, rec, env, PAGE_PROOF_MAX_AGE).await?)
            }
            RemovalStep::ReadRecordedTags => {
                let arn = rec.arn.as_deref().unwrap_or_default();
                seen.recorded_arn_tags = Some(mesh.tags_of(arn).await?);
            }
            RemovalStep::Describe => seen.route = describe(d, mesh).await?,
            RemovalStep::ListTags => read_tags(&mut seen, mesh).await?,
            RemovalStep::Delete => {
                mesh.delete_route(&d.key).await?;
                env.pages.deleted(&d.key);
                return Ok(Removal::Deleted);
            }
            RemovalStep::Done(removal) => return Ok(removal),
        }
    }
}

/// Whether a recent page of `d`'s gateway lists the recorded route unchanged: then a drift check
/// needs no call of its own. A page that cannot be read vouches for nothing.
pub async fn vouched(d: &Desired, rec: &Recorded, env: &Env<'_>) -> bool {
    page_vouches(d, rec, env, env.page_max_age)
        .await
        .unwrap_or(false)
}

/// Whether a page of `d`'s gateway listed at most `max_age` ago vouches for the recorded route.
async fn page_vouches(
    d: &Desired,
    rec: &Recorded,
    env: &Env<'_>,
    max_age: std::time::Duration,
) -> Result<bool, AppMeshError> {
    let page = env
        .pages
        .get(&Gateway::of(&d.key), max_age, env.mesh)
        .await?;
    Ok(page.vouches_for(d, rec))
}

async fn describe(d: &Desired, mesh: &AppMesh) -> Result<Observation, AppMeshError> {
    Ok(match mesh.describe_route(&d.key).await? {
        None => Observation::Absent,
        Some(route) => Observation::Present(Box::new(route), None),
    })
}

async fn read_tags(seen: &mut Seen, mesh: &AppMesh) -> Result<(), AppMeshError> {
    if let Observation::Present(route, tags) = &mut seen.route {
        *tags = Some(mesh.list_tags(&route.arn).await?);
    }
    Ok(())
}

/// Whether the object recorded as a route's owner still exists: same namespace, name and uid.
async fn owner_alive(client: &kube::Client, owner: &Owner) -> Result<bool, Problem> {
    let api: Api<GatewayRoute> = Api::namespaced(client.clone(), &owner.namespace);
    match api.get_opt(&owner.name).await {
        Ok(found) => Ok(found.is_some_and(|o| o.metadata.uid.as_deref() == Some(&owner.uid))),
        Err(e) => Err(Problem {
            reason: Reason::NameInUse,
            message: format!(
                "could not check whether the route's owner {owner} still exists: {e}; retrying"
            ),
            retry: Retry::Transient,
        }),
    }
}

/// A 404 on create or update: find which dependency is missing, and record it for the
/// objects that will wait for it too.
async fn dependency(d: &Desired, env: &Env<'_>, e: AppMeshError) -> Problem {
    match env.mesh.find_missing(&d.key, d.target()).await {
        Ok(Missing::Unknown) => Problem {
            reason: Reason::DependencyNotFound,
            message: format!("App Mesh said: {e}; retrying"),
            retry: Retry::Dependency,
        },
        Ok(what) => {
            env.deps.record(d, &what, env.object.clone());
            missing(d, &what)
        }
        Err(other) => other.into(),
    }
}

/// The object waits for `what`, which App Mesh does not have.
pub fn missing(d: &Desired, what: &Missing) -> Problem {
    let k = &d.key;
    let what = match what {
        Missing::Mesh(m) => match &k.mesh_owner {
            Some(owner) => format!(
                "mesh {m} owned by account {owner} (meshOwner) does not exist or is not shared \
                 with this account: a shared mesh needs a RAM resource share from account {owner}, \
                 accepted in this account, and meshOwner must be the sharing account's id"
            ),
            None => format!(
                "mesh {m} does not exist in this account; if another account shares it with \
                 this one, set meshOwner to that account's id"
            ),
        },
        Missing::VirtualGateway(g) => {
            format!("virtual gateway {g} does not exist in mesh {}", k.mesh)
        }
        Missing::VirtualService(s) => {
            format!(
                "virtual service {s} (the route's target) does not exist in mesh {}",
                k.mesh
            )
        }
        Missing::Unknown => "something the route needs does not exist".into(),
    };
    Problem {
        reason: Reason::DependencyNotFound,
        message: format!("{what}; the route is created as soon as it exists"),
        retry: Retry::Dependency,
    }
}
