//! The controller's wiring: watches GatewayRoutes and reconciles each as read -> desired (pure)
//! -> plan and execute against the backends that serve its virtual gateway (`serving`): App Mesh,
//! a Gateway API implementation through the HTTPRoute or GRPCRoute meshroute writes (`routes`),
//! or both -> what follows (pure, `outcome`, `served`) -> status and Events, with a finalizer for
//! deletion. Every choice is made in a pure module; this one carries them out in order.

mod cache;
mod decide;
mod deps;
mod desired;
mod drift;
mod events;
mod execute;
mod failures;
mod gateways;
mod outcome;
mod pages;
mod plan;
mod routes;
mod served;
pub mod serving;
mod status;
mod tenancy;
#[cfg(test)]
mod testing;
mod wakes;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{Predicate, WatchStreamExt, predicates, reflector, watcher};
use kube::{Resource, ResourceExt};

pub use desired::{Desired, Ownership};
pub use plan::{
    Begin, Change, Problem, Recorded, Removal, RemovalStep, Seen, Start, Step, plan, plan_removal,
};
pub use status::{FIELD_MANAGER, READY, Reason};

use crate::Error;
use crate::api::GatewayRoute;
use crate::api::ownership::FINALIZER;
use crate::appmesh::AppMesh;
use crate::backoff::{self, Retry};
use crate::fair::{Class, Gate};
use crate::gatewayapi;
use crate::telemetry::Metrics;
use cache::{CachedRoute, Key};
use decide::Work;
use deps::{Dependencies, Wait};
use events::Recorder;
use failures::Failures;
use gateways::Verdict;
use outcome::{After, Counted, Ended, Next};
use pages::Pages;
use status::Written;
use wakes::Wakes;

/// What the controller watches and how it retries.
#[derive(Debug, Clone)]
pub struct Config {
    /// Written into every route's ownership tags; unique per cluster sharing an AWS account.
    pub cluster_id: String,
    /// Watch one namespace only; `None` watches all.
    pub namespace: Option<String>,
    /// Watch only objects with these labels (`key=value,...`), to run shards side by side.
    pub label_selector: Option<String>,
    /// This shard's name in status (`<lease namespace>/<lease name>`): shards must not overlap.
    pub shard: String,
    /// Objects reconciled at once.
    pub concurrency: u16,
    /// How often in-sync routes are checked for drift (a ListGatewayRoutes pass); `None` never.
    pub resync: Option<Duration>,
    /// How often each in-sync route's tags are checked (tags do not change its version);
    /// `None` never.
    pub tag_check: Option<Duration>,
    /// First delay after a failure, doubling up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A virtual gateway no VirtualGatewayPolicy governs takes no routes.
    pub require_policy: bool,
    /// Which backend serves each virtual gateway's routes.
    pub serving: serving::Servings,
    /// How routes are mapped where Gateway API serves them.
    pub gateway_api: crate::gatewayapi::Options,
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub client: kube::Client,
    pub appmesh: Arc<AppMesh>,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    /// Each object's consecutive failures, for its backoff.
    failures: Failures,
    /// Admits `concurrency` reconciles at a time, users' first (see `fair`).
    gate: Gate,
    /// Missing dependencies and the objects waiting for them.
    deps: Dependencies,
    /// The latest ListGatewayRoutes page of each gateway.
    pages: Arc<Pages>,
    /// Objects to reconcile now, from outside the watch.
    wakes: Wakes,
    /// Their stream, taken by the controller when it starts.
    woken: Mutex<Option<UnboundedReceiver<Key>>>,
    events: Recorder,
    /// What this replica last wrote into each status.
    written: Arc<Written>,
    /// The VirtualGatewayPolicies and namespace labels routes are checked against.
    permits: tenancy::Permits,
    /// Every watched route's match, by gateway, for collisions.
    gateways: gateways::Gateways,
    /// Whether the Gateways routes wait on exist.
    parents: routes::Parents,
    /// Whether the skipped `both` step has been warned about (once per process).
    warned_skipped_both: std::sync::atomic::AtomicBool,
}

impl Context {
    pub fn new(
        client: kube::Client,
        appmesh: AppMesh,
        metrics: Arc<Metrics>,
        config: Config,
        instance: String,
    ) -> Arc<Self> {
        let (wakes, woken) = Wakes::new();
        let failures = Failures::new(config.retry_base, config.retry_max);
        let reasons = Reason::ALL.map(Reason::as_str);
        let results: Vec<&str> = reasons
            .iter()
            .copied()
            .chain(Removal::ALL.map(Removal::as_str))
            .collect();
        metrics.start_reconciles_at_zero(&results, &Error::METRIC_LABELS, &reasons);
        Arc::new(Context {
            events: Recorder::new(client.clone(), instance),
            client,
            appmesh: Arc::new(appmesh),
            metrics,
            gate: Gate::new(usize::from(config.concurrency)),
            deps: Dependencies::new(failures.dependency_retry_max()),
            failures,
            pages: Arc::default(),
            wakes,
            woken: Mutex::new(Some(woken)),
            written: Arc::default(),
            permits: tenancy::Permits::new(config.require_policy),
            gateways: gateways::Gateways::default(),
            parents: routes::Parents::default(),
            warned_skipped_both: std::sync::atomic::AtomicBool::new(false),
            config,
        })
    }

    /// What the executor needs to work on `route`.
    fn env(&self, route: &GatewayRoute) -> execute::Env<'_> {
        execute::Env {
            mesh: &self.appmesh,
            client: &self.client,
            deps: &self.deps,
            pages: &self.pages,
            page_max_age: self.page_max_age(),
            object: cache::key(route),
        }
    }

    /// What the drift pass needs of the controller.
    fn drift(&self) -> drift::Drift {
        drift::Drift {
            appmesh: self.appmesh.clone(),
            pages: self.pages.clone(),
            metrics: self.metrics.clone(),
            wakes: self.wakes.clone(),
            cluster_id: self.config.cluster_id.clone(),
            tag_check: self.config.tag_check,
        }
    }

    /// How old a page may be to vouch for an in-sync object without any call of its own.
    fn page_max_age(&self) -> Duration {
        self.config.resync.unwrap_or(Duration::from_secs(60))
    }

    /// The object's next reconcile: after `wait`, or (`None`) only when it changes. Recorded
    /// for the queue metrics.
    fn next(&self, route: &GatewayRoute, wait: Option<Duration>) -> Action {
        self.metrics.schedule(
            &route.uid().unwrap_or_default(),
            wait.map(|w| std::time::Instant::now() + w),
        );
        wait.map_or_else(Action::await_change, Action::requeue)
    }

    /// Drops everything kept about an object that left the watch (deleted, finalizer removed
    /// by hand, relabelled out of this shard).
    fn forget(&self, route: &CachedRoute) {
        let uid = route.uid().unwrap_or_default();
        self.failures.forget(&uid);
        self.written.forget(&uid);
        self.metrics.forget(&uid);
        self.deps.forget(&Key::from_obj(route));
    }

    /// Keeps the collision index up to date with `route` and wakes the routes on its gateway
    /// whose verdict it may change.
    fn index(&self, route: &CachedRoute, deleted: bool, listing: bool) {
        for other in self
            .gateways
            .record(&route.without_status(), deleted, listing)
        {
            self.wakes.wake(other);
        }
    }

    /// Keeps per-object state only for `live` uids: after a re-list, objects deleted while the
    /// watch was down are gone without a delete event.
    fn forget_all_but(&self, live: &HashSet<String>) {
        self.failures.retain(live);
        self.written.retain(live);
        self.metrics.forget_all_but(live);
    }
}

/// Runs the controller until `stop` completes; reconciles in flight are finished first.
pub async fn run(
    ctx: Arc<Context>,
    health: Arc<crate::http::Health>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<CachedRoute> = match &ctx.config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let mut watch = watcher::Config::default();
    if let Some(selector) = &ctx.config.label_selector {
        watch = watch.labels(selector);
    }
    // The controller caches every object, compactly (see `cache`).
    let (reader, writer) = reflector::store();
    let (forgetting, store) = (ctx.clone(), reader.clone());
    // Set at the end of the first complete list: the operator is ready, and the drift pass
    // makes its start-up pass.
    let (listed, first_list) = tokio::sync::watch::channel(false);
    let start_up_pass = ctx.config.resync.is_some();
    let mut listing_first = true;
    let servings = ctx.config.serving.clone();
    let objects = watcher(api.clone(), watch.clone())
        .backoff(backoff::WatchBackoff::default())
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(route)) => {
                forgetting.forget(route);
                forgetting.index(route, true, false);
            }
            Ok(watcher::Event::Apply(route)) => forgetting.index(route, false, false),
            Ok(watcher::Event::InitApply(route)) => forgetting.index(route, false, true),
            Ok(watcher::Event::InitDone) => {
                forgetting.forget_all_but(&store.state().iter().filter_map(|r| r.uid()).collect());
                listed.send_replace(true);
            }
            _ => {}
        })
        // At the start (a restart, a failover) an object in sync at its generation needs no
        // reconcile of its own: the drift pass's start-up pass checks all of them, one page per
        // 100 routes, and wakes those whose route changed.
        .filter(move |event| {
            let skip = match event {
                Ok(watcher::Event::InitApply(cached)) => {
                    let route = cached.route();
                    listing_first
                        && start_up_pass
                        && status::in_sync(&route)
                        && servings.of(&route).gateway_api().is_none()
                        && route
                            .status
                            .as_ref()
                            .is_some_and(|s| s.gateway_api_route.is_none())
                }
                Ok(watcher::Event::InitDone) => {
                    listing_first = false;
                    false
                }
                _ => false,
            };
            std::future::ready(!skip)
        })
        .applied_objects()
        // Only what someone else changes wakes a reconcile: the spec (generation, which
        // deletion also bumps), annotations (adoption), and a status this replica did not write
        // (a hand edit, another install or shard). Our own writes, the finalizer we add and the
        // status we write, do not; retries and drift checks come from the reconcile's requeue.
        .predicate_filter(
            predicates::generation
                .combine(CachedRoute::annotations_digest)
                .combine(foreign_status(ctx.written.clone())),
            Default::default(),
        )
        .inspect({
            let metrics = ctx.metrics.clone();
            move |route| {
                if let Ok(route) = route {
                    let uid = route.uid().unwrap_or_default();
                    metrics.schedule(&uid, Some(std::time::Instant::now()));
                }
            }
        });
    let woken = ctx
        .woken
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("the controller runs once per Context");
    let drift = ctx.config.resync.map(|period| {
        tokio::spawn(drift::run(
            ctx.drift(),
            reader.clone(),
            first_list.clone(),
            period,
        ))
    });
    let controller = Controller::for_stream(objects, reader.clone())
        .reconcile_on(woken)
        // Unbounded: the scheduler would hold what it cannot start in a set and start an
        // arbitrary one next; the gate in `reconcile` orders them instead.
        .with_config(controller::Config::default().concurrency(0))
        .graceful_shutdown_on(stop);
    // The Gateway API routes meshroute wrote: a change or deletion by anyone else, or the
    // implementation's status, wakes their GatewayRoute.
    if ctx.config.serving.any_gateway_api() {
        for kind in routes::KINDS {
            tokio::spawn(watch_routes(ctx.clone(), kind));
        }
    }
    // Policies and namespace labels are read before the first route is reconciled.
    ctx.permits
        .watch(ctx.client.clone(), reader.clone(), ctx.wakes.clone())
        .await;
    let mut ready = first_list;
    tokio::spawn(async move {
        if ready.wait_for(|listed| *listed).await.is_ok() {
            health.set_synced();
            tracing::info!("watch synced; reconciling");
        }
    });
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile did not finish");
            }
        })
        .await;
    if let Some(drift) = drift {
        drift.abort();
    }
}

/// Waits at the gate in the object's class, then reconciles it as that class. The work itself
/// is boxed, and the object decoded from the cache only once through the gate, so the thousands
/// of reconciles that may wait here each hold only a small future.
async fn reconcile(cached: Arc<CachedRoute>, ctx: Arc<Context>) -> Result<Action, Error> {
    let class = {
        let route = cached.route();
        status::class_of(
            &route,
            ctx.failures.is_failing(&route.uid().unwrap_or_default()),
        )
    };
    let _permit = ctx.gate.enter(class).await;
    class
        .scope(Box::pin(work(
            Arc::new(cached.route()),
            cached.status_digest(),
            ctx.clone(),
        )))
        .await
}

#[tracing::instrument(skip_all, fields(object = %format!("{}/{}", route.namespace().unwrap_or_default(), route.name_any())))]
/// `status_digest` is the digest of `route`'s status, as the cache made it.
async fn work(
    route: Arc<GatewayRoute>,
    status_digest: u64,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let _timer = ctx
        .metrics
        .reconcile_timer(&route.uid().unwrap_or_default());
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
            return Ok(Action::await_change());
        }
        let action = cleanup_step(&route, &ctx, &api).await?;
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
    apply_step(&route, status_digest, &ctx, &api).await
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

async fn apply_step(
    route: &GatewayRoute,
    status_digest: u64,
    ctx: &Context,
    api: &Api<GatewayRoute>,
) -> Result<Action, Error> {
    let verdict = ctx.gateways.verdict(route);
    let read = decide::Read {
        route,
        not_permitted: ctx.permits.refusal(route).map(|r| r.message),
        conflict: match &verdict {
            Verdict::Conflict(other) => Some(other.as_str()),
            _ => None,
        },
        serving: ctx.config.serving.of(route),
        mapping: &ctx.config.gateway_api,
    };
    let shard = &ctx.config.shard;
    let after = match decide::decide(&read) {
        // Not permitted on its gateway, or an older route has the same match and priority: no
        // call to either backend, and the status and an Event say why.
        Work::Refuse { reason, why } => {
            let problem = Problem {
                reason,
                message: tenancy::left_alone_message(route, &why),
                retry: Retry::AwaitChange,
            };
            let after = outcome::after(route, Ended::Failed(&problem), shard, now());
            return finish(ctx, api, route, after).await;
        }
        Work::AppMesh { left_gateway_api } => {
            let mut after = app_mesh_step(route, status_digest, ctx).await;
            // Gateway API served it before (a cut-over taken back): its route goes.
            if let Some(left) = left_gateway_api {
                delete_gateway_api_route(route, left, ctx).await?;
                after = outcome::left_gateway_api(after, route, now());
            }
            outcome::warning(after, route, served::FINDINGS, None, now())
        }
        Work::GatewayApi {
            parent,
            mapped,
            app_mesh,
            kept_on_app_mesh,
        } => {
            let on_app_mesh = match app_mesh {
                decide::AppMesh::Apply => Some(app_mesh_step(route, status_digest, ctx).await),
                // Its gateway is served by Gateway API only now: the App Mesh route goes.
                decide::AppMesh::Retire => {
                    let desired = Desired::of(route, &ctx.config.cluster_id);
                    let removed =
                        execute::remove(&desired, &Recorded::of(route), &ctx.env(route)).await;
                    Some(outcome::retired(
                        route,
                        removed.as_ref().map(|r| *r),
                        shard,
                        now(),
                    ))
                }
                decide::AppMesh::Leave => None,
            };
            let (mut gw, findings) = gateway_api_step(route, parent, mapped, ctx).await?;
            if kept_on_app_mesh && let Err(problem) = &mut gw.result {
                problem.message = format!(
                    "App Mesh still serves it: its virtual gateway is served by Gateway API \
                     alone, but {}",
                    problem.message
                );
            }
            let serves = app_mesh == decide::AppMesh::Apply;
            let after = outcome::gateway_api(route, on_app_mesh, serves, gw, shard, now());
            let said = served::findings_condition(&findings);
            outcome::warning(after, route, served::FINDINGS, said, now())
        }
    };
    let shadowed_by = match &verdict {
        Verdict::Shadowed(other) => Some(other.as_str()),
        _ => None,
    };
    let after = outcome::shadowed(after, route, shadowed_by, now());
    finish(ctx, api, route, after).await
}

/// Deletes the Gateway API route of a route whose gateway went back to App Mesh alone, and
/// says so in the log.
async fn delete_gateway_api_route(
    route: &GatewayRoute,
    left: decide::Left,
    ctx: &Context,
) -> Result<(), Error> {
    routes::delete_all(&ctx.client, route).await?;
    // Straight from Gateway API alone to App Mesh alone: its requests had no App Mesh route
    // until this one, a gap `both` avoids.
    if left == decide::Left::Straight
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

/// The App Mesh part of a reconcile: plan, execute, and what follows.
async fn app_mesh_step(route: &GatewayRoute, status_digest: u64, ctx: &Context) -> After {
    let uid = route.uid().unwrap_or_default();
    let desired = Desired::of(route, &ctx.config.cluster_id);
    let recorded = Recorded::of(route);
    let env = ctx.env(route);
    let foreign = ctx.written.is_foreign(&uid, status_digest);
    let start = plan::start(&Start {
        drift_check: Class::current() == Class::Drift,
        full_check: ctx.wakes.take_full_check(&uid),
        foreign_status: foreign,
        records_what_it_wrote: ctx
            .written
            .records_what_it_wrote(&uid, route.status.as_ref()),
    });
    let in_sync = match start {
        Begin::InSync => true,
        Begin::AskPage => execute::vouched(&desired, &recorded, &env).await,
        Begin::Plan => false,
    };
    let shard = &ctx.config.shard;
    if in_sync {
        let vouched = Ended::Vouched {
            arn: recorded.arn.as_deref().unwrap_or_default(),
            version: recorded.version.unwrap_or_default(),
        };
        return outcome::after(route, vouched, shard, now());
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
    let ended = match &executed {
        Ok((observed, change)) => Ended::Synced {
            route: observed,
            change: *change,
            desired: &desired,
        },
        Err(problem) => Ended::Failed(problem),
    };
    outcome::after(route, ended, shard, now())
}

/// The Gateway API part of a reconcile: the route written, and what its implementation says.
async fn gateway_api_step(
    route: &GatewayRoute,
    parent: &serving::Parent,
    mapped: gatewayapi::Mapped,
    ctx: &Context,
) -> Result<(outcome::OnGatewayApi, Vec<crate::gatewayapi::Finding>), Error> {
    let namespace = route.namespace().unwrap_or_default();
    match routes::apply(&ctx.client, route, parent, mapped).await {
        Ok((applied, findings)) => {
            let shown = format!("{} {namespace}/{}", applied.record.kind, route.name_any());
            let mut result = served::judge(
                routes::status_of(&applied.object),
                routes::generation_of(&applied.object),
                &shown,
                parent,
                &namespace,
            );
            // Waiting on a Gateway that does not exist waits for ever: say so.
            if let Err(problem) = &mut result
                && problem.reason == Reason::GatewayPending
                && ctx.parents.missing(&ctx.client, parent).await
            {
                problem.message = format!(
                    "{parent} does not exist: create it, or point --serve at one that does; \
                     {shown} is written and waits for it"
                );
            }
            let gw = outcome::OnGatewayApi {
                route: Some(applied.record),
                result,
            };
            Ok((gw, findings))
        }
        Err(Ok(problem)) => {
            // A spec Gateway API cannot say any more: the route written for the last one goes.
            let mut kept = route
                .status
                .as_ref()
                .and_then(|s| s.gateway_api_route.clone());
            if problem.reason == Reason::NotExported {
                routes::delete_all(&ctx.client, route).await?;
                kept = None;
            }
            let gw = outcome::OnGatewayApi {
                route: kept,
                result: Err(problem),
            };
            Ok((gw, Vec::new()))
        }
        Err(Err(e)) => Err(e),
    }
}

async fn cleanup_step(
    route: &GatewayRoute,
    ctx: &Context,
    api: &Api<GatewayRoute>,
) -> Result<Action, Error> {
    let cleanup = decide::cleanup(ctx.config.serving.of(route), route);
    // Its Gateway API route goes first, and the finalizer waits for that.
    if cleanup.gateway_api {
        routes::delete_all(&ctx.client, route).await?;
    }
    let recorded = Recorded::of(route);
    let removed = if cleanup.app_mesh {
        let desired = Desired::of(route, &ctx.config.cluster_id);
        execute::remove(&desired, &recorded, &ctx.env(route)).await
    } else {
        Ok(Removal::NothingOurs)
    };
    let ended = match &removed {
        Ok(removal) => Ended::Removed(*removal),
        Err(problem) => Ended::RemoveFailed(problem),
    };
    let after = outcome::after(route, ended, &ctx.config.shard, now());
    finish(ctx, api, route, after).await
}

/// Carries out what follows a reconcile: the status, the Events, the counters and the backoff.
/// A replica that lost the leader Lease writes nothing: the new leader owns the status now.
async fn finish(
    ctx: &Context,
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    after: After,
) -> Result<Action, Error> {
    let uid = route.uid().unwrap_or_default();
    if after.shard_overlap {
        ctx.metrics.shard_overlap();
    }
    if let Some(next) = after.status {
        if ctx.appmesh.fence().is_closed() {
            return Err(Error::NotLeader);
        }
        status::write(api, route, next, &ctx.written).await?;
    }
    for note in &after.notes {
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
        Next::Removed => Action::await_change(),
        // The wait goes to `error_policy` with the error.
        Next::DeleteFailed(retry) => {
            return Err(Error::DeleteFailed {
                retry_in: ctx.failures.failed(&uid, retry),
                message: after.message,
            });
        }
        Next::Retry(retry) => {
            if retry == Retry::Paused {
                tracing::debug!("waiting for App Mesh: {}", after.message);
            } else {
                tracing::warn!("not in sync: {}", after.message);
            }
            ctx.next(route, ctx.failures.failed(&uid, retry))
        }
    })
}

fn error_policy(cached: Arc<CachedRoute>, error: &Error, ctx: Arc<Context>) -> Action {
    let route = cached.route();
    ctx.metrics.reconcile_error(error.metric_label());
    match error {
        // Nothing more to do here: the new leader reconciles this object.
        Error::NotLeader => Action::await_change(),
        // The failed delete has set its status and its backoff already.
        Error::DeleteFailed { retry_in, .. } => ctx.next(&route, *retry_in),
        _ => {
            tracing::warn!(error = %error, object = %route.name_any(), "reconcile failed");
            let wait = ctx
                .failures
                .failed(&route.uid().unwrap_or_default(), Retry::Kubernetes);
            ctx.next(&route, wait)
        }
    }
}

/// Watches the Gateway API routes of `kind` meshroute wrote (by their label) and wakes the
/// GatewayRoute that owns one whenever it changes or goes: its implementation's status, a hand
/// edit to put back, a deletion to undo. Their metadata is all it keeps.
async fn watch_routes(ctx: Arc<Context>, kind: &'static str) {
    let resource = crate::gatewayapi::api_resource(kind);
    type Meta = kube::api::PartialObjectMeta<kube::api::DynamicObject>;
    let api: Api<Meta> = match &ctx.config.namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &resource),
        None => Api::all_with(ctx.client.clone(), &resource),
    };
    let selector = format!("{}={}", routes::MANAGED_BY.0, routes::MANAGED_BY.1);
    watcher(api, watcher::Config::default().labels(&selector))
        .backoff(backoff::WatchBackoff::default())
        .for_each(|event| {
            let owned = match event {
                Ok(watcher::Event::Apply(route) | watcher::Event::Delete(route)) => Some(route),
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(error = %e, kind, "watching Gateway API routes");
                    None
                }
            };
            if let Some(route) = owned {
                let owner = route
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.kind == "GatewayRoute");
                if let (Some(owner), Some(ns)) = (owner, &route.metadata.namespace) {
                    ctx.wakes.wake(Key::new(&owner.name).within(ns));
                }
            }
            std::future::ready(())
        })
        .await;
}

/// The predicate that wakes a reconcile when someone else wrote over an in-sync status this
/// replica wrote; its own writes leave the value unchanged.
fn foreign_status(written: Arc<Written>) -> impl Fn(&CachedRoute) -> Option<u64> {
    move |route| {
        let uid = route.uid().unwrap_or_default();
        Some(written.wake_value(&uid, route.status_digest()))
    }
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
