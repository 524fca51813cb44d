//! The executor of one reconcile: the finalizer, then the work `decide` chose, carried out on
//! each backend in order, into what it did (`outcome::Did`); then what `outcome::conclude` says
//! follows, carried out (status, Events, counters, log line, next reconcile). It decides nothing.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::{Resource, ResourceExt};

use super::decide::{self, Left, Work};
use super::deps::Wait;
use super::desired::Desired;
use super::gateway_api;
use super::gateways::Verdict;
use super::outcome::{self, After, AppMeshPart, Counted, Did, Next, OnAppMesh};
use super::plan::{self, Begin, Recorded, Start};
use super::{Context, execute, status};
use crate::Error;
use crate::api::GatewayRoute;
use crate::api::ownership::FINALIZER;
use crate::backoff::Retry;
use crate::fair::Class;
use crate::workqueue::Requeue;

#[tracing::instrument(skip_all, fields(object = %format!("{}/{}", route.namespace().unwrap_or_default(), route.name_any())))]
/// `status_digest` is the digest of `route`'s status, as the cache made it.
pub async fn work(
    route: Arc<GatewayRoute>,
    status_digest: u64,
    ctx: Arc<Context>,
) -> Result<Requeue, Error> {
    let uid = route.uid().unwrap_or_default();
    let _timer = ctx.metrics.reconcile_timer(&uid);
    match reconcile(route.clone(), status_digest, &ctx).await {
        // Deleted while this reconcile ran (a wake for an object whose finalizer another
        // reconcile had just removed): nothing is left to do or to retry.
        Err(e) if e.is_gone(&route.name_any()) => {
            tracing::debug!("the object is gone");
            ctx.forget_uid(&uid);
            Ok(Requeue::on_change())
        }
        result => result,
    }
}

async fn reconcile(
    route: Arc<GatewayRoute>,
    status_digest: u64,
    ctx: &Context,
) -> Result<Requeue, Error> {
    // A replica that is not the leader any more (or whose lease ran out by its own clock)
    // writes nothing, not even a finalizer.
    if ctx.appmesh.fence().is_closed() {
        return Err(Error::NotLeader);
    }
    let api: Api<GatewayRoute> =
        Api::namespaced(ctx.client.clone(), &route.namespace().unwrap_or_default());
    let ours = |f: &String| f == FINALIZER;
    if route.meta().deletion_timestamp.is_some() {
        if !route.finalizers().iter().any(ours) {
            return Ok(Requeue::on_change());
        }
        let did = cleanup(&route, ctx).await?;
        let after = outcome::conclude(&route, &did, None, &ctx.config.shard, now());
        let action = finish(ctx, &api, &route, after).await?;
        let rest: Vec<String> = route
            .finalizers()
            .iter()
            .filter(|f| !ours(f))
            .cloned()
            .collect();
        set_finalizers(&api, &route, rest).await?;
        return Ok(action);
    }
    // The finalizer goes on before anything is created in App Mesh, and the reconcile goes on
    // at once: it does not wait for the watch to echo the change (after an apiserver restart
    // that echo can take half a minute).
    if !route.finalizers().iter().any(ours) {
        let mut all = route.finalizers().to_vec();
        all.push(FINALIZER.to_string());
        set_finalizers(&api, &route, all).await?;
    }
    let verdict = ctx.gateways.verdict(&route);
    let read = decide::Read {
        route: &route,
        not_permitted: ctx.permits.refusal(&route).map(|r| r.message),
        conflict: match &verdict {
            Verdict::Conflict(other) => Some(other.as_str()),
            _ => None,
        },
        serving: ctx.config.serving.of(&route),
        mapping: &ctx.config.gateway_api,
    };
    let did = carry_out(decide::decide(&read), &route, status_digest, ctx).await?;
    let shadowed_by = match &verdict {
        Verdict::Shadowed(other) => Some(other.as_str()),
        _ => None,
    };
    let after = outcome::conclude(&route, &did, shadowed_by, &ctx.config.shard, now());
    finish(ctx, &api, &route, after).await
}

/// Replaces the object's finalizers, guarded by its resourceVersion: if anyone changed the
/// object since it was read, the apiserver refuses (409) and the reconcile is retried on the
/// fresh object, so no one else's finalizer is ever lost.
async fn set_finalizers(
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let patch = serde_json::json!({ "metadata": {
        "resourceVersion": route.resource_version(),
        "finalizers": finalizers,
    }});
    api.patch(
        &route.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Does `work` on each backend, in order: App Mesh first, then Gateway API.
async fn carry_out(
    work: Work<'_>,
    route: &GatewayRoute,
    status_digest: u64,
    ctx: &Context,
) -> Result<Did, Error> {
    Ok(match work {
        Work::Refuse { reason, why } => Did::Refused { reason, why },
        Work::AppMesh { left_gateway_api } => {
            let app_mesh = app_mesh(route, status_digest, ctx).await;
            // Gateway API served it before (a cut-over taken back): its route goes.
            if let Some(left) = left_gateway_api {
                leave_gateway_api(route, left, ctx).await?;
            }
            Did::AppMesh {
                app_mesh,
                left_gateway_api: left_gateway_api.is_some(),
            }
        }
        Work::GatewayApi {
            parent,
            mapped,
            app_mesh: on_app_mesh,
            kept_on_app_mesh,
        } => {
            let app_mesh_part = match on_app_mesh {
                decide::AppMesh::Apply => Some(AppMeshPart::Applied(
                    app_mesh(route, status_digest, ctx).await,
                )),
                // Its gateway is served by Gateway API only now: the App Mesh route goes.
                decide::AppMesh::Retire => Some(AppMeshPart::Retired(remove(route, ctx).await)),
                decide::AppMesh::Leave => None,
            };
            let served =
                gateway_api::serve(&ctx.client, &ctx.gateway_api, route, parent, mapped).await?;
            let mut on = served.on;
            if kept_on_app_mesh && let Err(problem) = &mut on.result {
                problem.message = format!(
                    "App Mesh still serves it: its virtual gateway is served by Gateway API \
                     alone, but {}",
                    problem.message
                );
            }
            Did::GatewayApi {
                app_mesh: app_mesh_part,
                serves_app_mesh: on_app_mesh == decide::AppMesh::Apply,
                gateway_api: on,
                findings: served.findings,
            }
        }
    })
}

/// The finalizer's work: the Gateway API route first (the finalizer waits for that), then the
/// App Mesh route, as `decide::cleanup` says.
async fn cleanup(route: &GatewayRoute, ctx: &Context) -> Result<Did, Error> {
    let cleanup = decide::cleanup(ctx.config.serving.of(route), route);
    if cleanup.gateway_api {
        gateway_api::delete_all(&ctx.client, route).await?;
    }
    Ok(Did::Removed(if cleanup.app_mesh {
        remove(route, ctx).await
    } else {
        Ok(plan::Removal::NothingOurs)
    }))
}

/// Deletes (or, for Retain, keeps) the App Mesh route the object's status records.
async fn remove(route: &GatewayRoute, ctx: &Context) -> Result<plan::Removal, plan::Problem> {
    let desired = Desired::of(route, &ctx.config.cluster_id);
    execute::remove(&desired, &Recorded::of(route), &ctx.env(route)).await
}

/// Deletes the Gateway API route of a route whose gateway went back to App Mesh alone, and
/// says so in the log.
async fn leave_gateway_api(route: &GatewayRoute, left: Left, ctx: &Context) -> Result<(), Error> {
    gateway_api::delete_all(&ctx.client, route).await?;
    // Straight from Gateway API alone to App Mesh alone: its requests had no App Mesh route
    // until this one, a gap `both` avoids.
    if left == Left::Straight
        && !ctx
            .warned_skipped_both
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            gateway = format!(
                "{}/{}",
                route.spec.mesh_name, route.spec.virtual_gateway_name
            ),
            "a virtual gateway went from gateway-api straight to app-mesh: its routes were \
             served by neither until App Mesh created them; step through \
             both:NAMESPACE/GATEWAY next time (logged once)"
        );
    }
    tracing::info!(
        object = format!(
            "{}/{}",
            route.namespace().unwrap_or_default(),
            route.name_any()
        ),
        "deleted its Gateway API route: its virtual gateway is served by App Mesh only"
    );
    Ok(())
}

/// The App Mesh part of a reconcile: plan and execute.
async fn app_mesh(route: &GatewayRoute, status_digest: u64, ctx: &Context) -> OnAppMesh {
    let uid = route.uid().unwrap_or_default();
    let desired = Desired::of(route, &ctx.config.cluster_id);
    let recorded = Recorded::of(route);
    let env = ctx.env(route);
    let start = plan::start(&Start {
        drift_check: Class::current() == Class::Drift,
        full_check: ctx.wakes.take_full_check(&uid),
        foreign_status: ctx.written.is_foreign(&uid, status_digest),
        records_what_it_wrote: ctx
            .written
            .records_what_it_wrote(&uid, route.status.as_ref()),
    });
    let in_sync = match start {
        Begin::InSync => true,
        Begin::AskPage => execute::vouched(&desired, &recorded, &env).await,
        Begin::Plan => false,
    };
    if in_sync {
        return OnAppMesh::Vouched {
            arn: recorded.arn.unwrap_or_default(),
            version: recorded.version.unwrap_or_default(),
        };
    }
    let executed = match ctx.deps.wait(&desired, &env.object, &ctx.appmesh).await {
        Ok(Wait::Missing(what)) => Err(execute::missing(&desired, &what)),
        Ok(Wait::Go(woken)) => {
            for object in woken {
                ctx.wakes.wake(object);
            }
            execute::apply(&desired, &recorded, &env).await
        }
        Err(e) => Err(e.into()),
    };
    match executed {
        Ok((route, change)) => OnAppMesh::Synced {
            route: Box::new(route),
            change,
            desired: Box::new(desired),
        },
        Err(problem) => OnAppMesh::Failed(problem),
    }
}

/// Carries out what follows a reconcile: the status, the Events, the counters and the backoff.
/// A replica that lost the leader Lease writes nothing: the new leader owns the status now.
async fn finish(
    ctx: &Context,
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    after: After,
) -> Result<Requeue, Error> {
    let uid = route.uid().unwrap_or_default();
    if after.shard_overlap {
        ctx.metrics.shard_overlap();
    }
    // An Event goes with the status change it tells of: none where the status is not written.
    let mut tell = true;
    if let Some(next) = after.status {
        if ctx.appmesh.fence().is_closed() {
            return Err(Error::NotLeader);
        }
        tell = status::write(api, route, next, &ctx.written).await?;
    }
    for note in after.notes.iter().filter(|_| tell) {
        ctx.events.publish(route, note).await;
    }
    if let Some(c) = &after.changed {
        tracing::info!(
            change = c.what,
            app_mesh_route = c.name,
            arn = c.arn,
            version = c.version,
            "App Mesh gateway route {}",
            c.what.to_lowercase()
        );
    }
    match after.counted {
        Counted::Ready(reason) => ctx.metrics.reconciled(&uid, reason),
        Counted::Removal(removal) => ctx.metrics.removed(removal.as_str()),
    }
    Ok(match after.next {
        Next::Synced => {
            tracing::debug!("in sync: {}", after.message);
            ctx.failures.succeeded(&uid);
            ctx.next(route, None)
        }
        Next::Removed => Requeue::on_change(),
        // The wait goes to `error_policy` with the error.
        Next::DeleteFailed(retry) => {
            return Err(Error::DeleteFailed {
                retry_in: ctx.failures.failed(&uid, retry),
                message: after.message,
            });
        }
        Next::Retry(retry) => {
            if matches!(retry, Retry::Paused | Retry::Verdict(_)) {
                tracing::debug!("waiting: {}", after.message);
            } else {
                tracing::warn!("not in sync: {}", after.message);
            }
            ctx.next(route, ctx.failures.failed(&uid, retry))
        }
    })
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
