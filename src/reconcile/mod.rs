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
mod gateway_api;
mod gateways;
mod outcome;
mod packed;
mod pages;
mod plan;
pub mod serving;
mod status;
mod steps;
mod tenancy;
#[cfg(test)]
mod testing;
mod wakes;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};

pub use desired::{Desired, Ownership};
pub use plan::{
    Begin, Change, Problem, Recorded, Removal, RemovalStep, Seen, Start, Step, plan, plan_removal,
};
pub use status::{READY, Reason};

use crate::Error;
use crate::api::GatewayRoute;
use crate::appmesh::AppMesh;
use crate::backoff::{self, Retry};
use crate::fair::Class;
use crate::telemetry::Metrics;
use crate::uid::Uid;
use crate::workqueue::{self, Requeue, WorkQueue};
use cache::{CachedRoute, Key};
use deps::Dependencies;
use events::Recorder;
use failures::Failures;
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
    /// What the Gateway API part keeps: whether Gateways exist, the routes meshroute wrote.
    gateway_api: Arc<gateway_api::State>,
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
            deps: Dependencies::new(failures.dependency_retry_max()),
            failures,
            pages: Arc::default(),
            wakes,
            woken: Mutex::new(Some(woken)),
            written: Arc::default(),
            permits: tenancy::Permits::new(config.require_policy),
            gateways: gateways::Gateways::default(),
            gateway_api: Arc::default(),
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
    fn next(&self, route: &GatewayRoute, wait: Option<Duration>) -> Requeue {
        self.metrics.schedule(
            &route.uid().unwrap_or_default(),
            wait.map(|w| std::time::Instant::now() + w),
        );
        wait.map_or_else(Requeue::on_change, Requeue::after)
    }

    /// Drops everything kept about an object that left the watch (deleted, finalizer removed
    /// by hand, relabelled out of this shard).
    fn forget(&self, route: &CachedRoute) {
        self.forget_uid(&route.uid().unwrap_or_default());
        self.deps.forget(&Key::from_obj(route));
    }

    /// Drops what is kept by uid about an object that is gone.
    fn forget_uid(&self, uid: &str) {
        self.failures.forget(uid);
        self.written.forget(uid);
        self.metrics.forget(uid);
        self.gateway_api.forget(uid);
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
    fn forget_all_but(&self, live: &HashSet<Uid>) {
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
    let (previous, written) = (reader.clone(), ctx.written.clone());
    let objects = watcher(api.clone(), watch.clone())
        .backoff(backoff::WatchBackoff::default())
        // Only what someone else changes wakes a reconcile: the spec (generation, which
        // deletion also bumps), annotations (adoption), a status this replica did not write (a
        // hand edit, another install or shard), or an object new to the cache. Our own writes,
        // the finalizer we add and the status we write, do not; retries and drift checks come
        // from the reconcile's requeue. Decided against the version the cache holds, before it
        // is replaced.
        .map(move |mut event| {
            if let Ok(watcher::Event::Apply(route) | watcher::Event::InitApply(route)) = &mut event
            {
                let foreign = written.wake_value(
                    route.uid().as_deref().unwrap_or_default(),
                    route.status_digest(),
                );
                route.compare(previous.get(&Key::from_obj(route)).as_deref(), foreign);
            }
            event
        })
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(route)) => {
                forgetting.forget(route);
                forgetting.index(route, true, false);
            }
            Ok(watcher::Event::Apply(route)) => forgetting.index(route, false, false),
            Ok(watcher::Event::InitApply(route)) => forgetting.index(route, false, true),
            Ok(watcher::Event::InitDone) => {
                forgetting.forget_all_but(
                    &store
                        .state()
                        .iter()
                        .filter_map(|r| r.uid())
                        .map(|u| Uid::of(&u))
                        .collect(),
                );
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
                    listing_first && start_up_pass && decide::vouched_by_drift(&route, &servings)
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
        .try_filter(|route| std::future::ready(route.wakes()))
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
    // The Gateway API routes meshroute wrote: a change or deletion by anyone else, or the
    // implementation's status, wakes their GatewayRoute.
    gateway_api::watch_all(
        &ctx.client,
        &ctx.config.namespace,
        &ctx.config.serving,
        &ctx.wakes,
        &ctx.gateway_api,
    );
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
    // What comes due: the watch's changes and the wakes from outside it.
    let changed = objects.filter_map(|route| {
        std::future::ready(match route {
            Ok(route) => Some(queued(Key::from_obj(&route))),
            Err(e) => {
                tracing::debug!(error = %e, "watch error; the watcher retries");
                None
            }
        })
    });
    let classes = (reader.clone(), ctx.clone());
    let queue = WorkQueue::new(
        usize::from(ctx.config.concurrency),
        move |key: &Arc<Key>| {
            let (store, ctx) = &classes;
            let cached = store.get(key)?;
            let failing = ctx.failures.is_failing(&cached.uid().unwrap_or_default());
            Some(status::class_when(cached.class(), failing))
        },
    );
    let cache_ready = reader.clone();
    let cache = reader.clone();
    workqueue::run(
        queue,
        futures::stream::select(changed, woken.map(queued)),
        async move {
            let _ = cache_ready.wait_until_ready().await;
        },
        stop,
        move |key, class| reconcile(key, class, cache.clone(), ctx.clone()),
    )
    .await;
    if let Some(drift) = drift {
        drift.abort();
    }
}

/// How the reconcile queue holds an object's key: shared by its places in the queue (due, running,
/// timers), and without the resource version and uid (which the key's equality ignores).
fn queued(key: Key) -> Arc<Key> {
    let mut slim = Key::new(&key.name);
    slim.namespace = key.namespace;
    Arc::new(slim)
}

/// Reconciles the object `key` as `class`, taking it from the cache as it is now; says when to
/// look at it again.
async fn reconcile(
    key: Arc<Key>,
    class: Class,
    cache: reflector::Store<CachedRoute>,
    ctx: Arc<Context>,
) -> Requeue {
    // Deleted before its turn: nothing to do.
    let Some(mut object) = cache.get(&key) else {
        return Requeue::on_change();
    };
    let mut route = object.route();
    // A route Gateway API serves that is in sync is judged from the route watch: after a
    // restart it waits for that watch's first list. Drift checks hold at most half the slots,
    // so a change (read and written at once) never waits behind them.
    if class == Class::Drift && ctx.config.serving.of(&route).gateway_api().is_some() {
        ctx.gateway_api.listed().await;
        match cache.get(&key) {
            Some(now) if Arc::ptr_eq(&now, &object) => {}
            Some(now) => {
                route = now.route();
                object = now;
            }
            None => return Requeue::on_change(),
        }
    }
    let route = Arc::new(route);
    let result = class
        .scope(steps::work(
            route.clone(),
            object.status_digest(),
            ctx.clone(),
        ))
        .await;
    result.unwrap_or_else(|error| error_policy(&route, &error, &ctx))
}

fn error_policy(route: &GatewayRoute, error: &Error, ctx: &Context) -> Requeue {
    ctx.metrics.reconcile_error(error.metric_label());
    match error {
        // Nothing more to do here: the new leader reconciles this object.
        Error::NotLeader => Requeue::on_change(),
        // The failed delete has set its status and its backoff already.
        Error::DeleteFailed { retry_in, .. } => ctx.next(route, *retry_in),
        _ => {
            tracing::warn!(error = %error, object = %route.name_any(), "reconcile failed");
            let wait = ctx
                .failures
                .failed(&route.uid().unwrap_or_default(), Retry::Kubernetes);
            ctx.next(route, wait)
        }
    }
}
