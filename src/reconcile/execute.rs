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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::testing::{Bed, CLUSTER, GATEWAY, MESH, SERVICE, object};

    /// The prefix App Mesh holds for the route `name`.
    fn prefix(bed: &Bed, name: &str) -> serde_json::Value {
        bed.route(name).unwrap()["spec"]["httpRoute"]["match"]["prefix"].clone()
    }

    #[tokio::test]
    async fn a_route_is_created_kept_updated_in_one_call_and_deleted() {
        let bed = Bed::new().await;
        let (route, change) = bed.sync(object("web", "/web", SERVICE)).await;
        assert_eq!(change, Change::Created);
        assert_eq!(bed.calls("CreateGatewayRoute"), 1);
        assert_eq!(prefix(&bed, "web_team"), json!("/web"));

        // Nothing changed: in sync, nothing written.
        let (mut route, change) = bed.sync(route).await;
        assert_eq!(change, Change::None);
        let writes = ["CreateGatewayRoute", "UpdateGatewayRoute", "TagResource"];
        assert_eq!(writes.map(|op| bed.calls(op)), [1, 0, 0]);

        // A spec change of a route in sync: one page read, one update, no Describe.
        route.spec.http_route.as_mut().unwrap().route_match.prefix = Some("/web2".into());
        route.metadata.generation = Some(2);
        bed.emulator.emulator.reset_counters();
        let (route, change) = bed.sync(route).await;
        assert_eq!(change, Change::Updated);
        assert_eq!(prefix(&bed, "web_team"), json!("/web2"));
        assert_eq!(
            [
                "ListGatewayRoutes",
                "UpdateGatewayRoute",
                "DescribeGatewayRoute"
            ]
            .map(|op| bed.calls(op)),
            [1, 1, 0]
        );

        let d = Desired::of(&route, CLUSTER);
        let removed = remove(&d, &Recorded::of(&route), &bed.env(&route)).await;
        assert_eq!(removed, Ok(Removal::Deleted));
        assert!(bed.route("web_team").is_none());
    }

    #[tokio::test]
    async fn drift_is_put_back_and_a_route_deleted_outside_is_recreated() {
        let bed = Bed::new().await;
        let (route, _) = bed.sync(object("api", "/api", SERVICE)).await;
        let spec = json!({ "httpRoute": { "match": { "prefix": "/elsewhere" },
            "action": { "target": { "virtualService": { "virtualServiceName": SERVICE } } } } });
        bed.out_of_band(
            "UpdateGatewayRoute",
            json!({ "meshName": MESH, "virtualGatewayName": GATEWAY,
                "gatewayRouteName": "api_team", "spec": spec }),
        );
        // The page cached by the create no longer tells the truth: a fresh reconcile reads.
        bed.pages.keep_only(&Default::default());
        let (route, change) = bed.sync(route).await;
        assert_eq!(change, Change::DriftCorrected);
        assert_eq!(prefix(&bed, "api_team"), json!("/api"));

        bed.out_of_band(
            "DeleteGatewayRoute",
            json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": "api_team" }),
        );
        bed.pages.keep_only(&Default::default());
        let (_, change) = bed.sync(route).await;
        assert_eq!(change, Change::Recreated);
        assert_eq!(prefix(&bed, "api_team"), json!("/api"));
    }

    #[tokio::test]
    async fn a_route_nobody_owns_is_left_alone_and_a_missing_target_is_recorded() {
        let bed = Bed::new().await;
        let spec = json!({ "httpRoute": { "match": { "prefix": "/theirs" },
            "action": { "target": { "virtualService": { "virtualServiceName": SERVICE } } } } });
        bed.out_of_band(
            "CreateGatewayRoute",
            json!({ "meshName": MESH, "virtualGatewayName": GATEWAY,
                "gatewayRouteName": "taken_team", "spec": spec }),
        );
        let route = object("taken", "/mine", SERVICE);
        let d = Desired::of(&route, CLUSTER);
        let refused = apply(&d, &Recorded::of(&route), &bed.env(&route)).await;
        assert_eq!(refused.unwrap_err().reason, Reason::NameInUse);
        assert_eq!(prefix(&bed, "taken_team"), json!("/theirs"), "untouched");

        let route = object("early", "/early", "late.apps.local");
        let d = Desired::of(&route, CLUSTER);
        let waiting = apply(&d, &Recorded::of(&route), &bed.env(&route)).await;
        let problem = waiting.unwrap_err();
        assert_eq!(problem.reason, Reason::DependencyNotFound);
        assert!(
            problem.message.contains("late.apps.local"),
            "{}",
            problem.message
        );
        // Recorded: another object that needs it waits without a call.
        let other = object("also-early", "/also", "late.apps.local");
        bed.emulator.emulator.reset_counters();
        let wait = bed
            .deps
            .wait(
                &Desired::of(&other, CLUSTER),
                &crate::reconcile::cache::key(&other),
                &bed.appmesh,
            )
            .await;
        assert_eq!(
            wait.unwrap(),
            super::super::deps::Wait::Missing(Missing::VirtualService("late.apps.local".into()))
        );
        assert_eq!(bed.all_calls(), 0);
    }
}
