//! The controller: watches GatewayRoutes and reconciles each as read -> desired (pure) -> App Mesh
//! -> status, with a finalizer for deletion, Events for what changed, and backoff by error kind.

mod cache;
mod deps;
mod desired;
mod drift;
mod execute;
mod pages;
mod plan;
mod status;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::Api;
use kube::api::PostParams;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{Predicate, WatchStreamExt, predicates, reflector, watcher};
use kube::{Resource, ResourceExt};

pub use desired::{
    ADOPT_ANNOTATION, ADOPT_FROM_CLUSTER_ANNOTATION, Desired, FINALIZER, Owner, Ownership,
};
pub use plan::{Change, Problem, Recorded, Removal, RemovalStep, Seen, Step, plan, plan_removal};
pub use status::{FIELD_MANAGER, READY, Reason};

use crate::Error;
use crate::api::GatewayRoute;
use crate::appmesh::AppMesh;
use crate::backoff::{self, Retry};
use crate::fair::{Class, Gate};
use crate::telemetry::Metrics;
use cache::{CachedRoute, Key};
use deps::{Dependencies, Wait};
use pages::Pages;

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
}

/// Normal or Warning, as Events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub client: kube::Client,
    pub appmesh: AppMesh,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    /// This replica's name in the Events it writes.
    instance: String,
    /// Consecutive failures per object uid, for backoff; cleared on success and when the
    /// object leaves the watch.
    failures: Mutex<HashMap<String, u32>>,
    /// Admits `concurrency` reconciles at a time, users' first (see `fair`).
    gate: Gate,
    /// Missing dependencies and the objects waiting for them.
    deps: Dependencies,
    /// The latest ListGatewayRoutes page of each gateway.
    pages: Pages,
    /// Objects (by uid) whose next reconcile must read App Mesh in full: the drift pass found
    /// their tags changed, which a page cannot show.
    full_checks: Mutex<HashSet<String>>,
    /// Objects to reconcile now (their dependency appeared); read by the controller.
    wake: futures::channel::mpsc::UnboundedSender<Key>,
    woken: Mutex<Option<futures::channel::mpsc::UnboundedReceiver<Key>>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        appmesh: AppMesh,
        metrics: Arc<Metrics>,
        config: Config,
        instance: String,
    ) -> Arc<Self> {
        let (wake, woken) = futures::channel::mpsc::unbounded();
        Arc::new(Context {
            instance,
            client,
            appmesh,
            metrics,
            gate: Gate::new(usize::from(config.concurrency)),
            deps: Dependencies::new(dependency_retry_max(&config)),
            pages: Pages::default(),
            full_checks: Mutex::default(),
            wake,
            woken: Mutex::new(Some(woken)),
            config,
            failures: Mutex::default(),
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

    /// Reconciles `route` now, reading App Mesh in full.
    fn check_in_full(&self, route: &GatewayRoute) {
        self.full_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(route.uid().unwrap_or_default());
        self.wake(cache::key(route));
    }

    /// Whether the drift pass asked for a full check of `route` (and forgets the request).
    fn take_full_check(&self, route: &GatewayRoute) -> bool {
        self.full_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&route.uid().unwrap_or_default())
    }

    /// How old a page may be to vouch for an in-sync object without any call of its own.
    fn page_max_age(&self) -> Duration {
        self.config.resync.unwrap_or(Duration::from_secs(60))
    }

    /// Reconciles `object` as soon as it may.
    fn wake(&self, object: Key) {
        let _ = self.wake.unbounded_send(object);
    }

    fn is_failing(&self, route: &GatewayRoute) -> bool {
        self.failures()
            .contains_key(&route.uid().unwrap_or_default())
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a success: forget failures; the drift pass, not a requeue, checks it from now on.
    fn synced(&self, route: &GatewayRoute) -> Action {
        self.failures().remove(&route.uid().unwrap_or_default());
        self.next(route, None)
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

    /// After a failure of `retry`'s kind: count it; how long to wait (`None`: until the
    /// object changes).
    fn failed(&self, route: &GatewayRoute, retry: Retry) -> Option<Duration> {
        let c = &self.config;
        let exponential = |max: Duration| {
            let attempt = self.count_failure(route);
            Some(backoff::exponential(c.retry_base, max, attempt))
        };
        match retry {
            // Not the object's failure: every object waits for the same probe.
            Retry::Paused => Some(backoff::jitter(crate::appmesh::PROBE_EVERY * 3)),
            Retry::AwaitChange => {
                self.count_failure(route);
                None
            }
            Retry::Slow => {
                self.count_failure(route);
                Some(backoff::jitter(c.retry_max))
            }
            Retry::Transient => exponential(c.retry_max),
            Retry::Dependency => exponential(dependency_retry_max(c)),
            Retry::Kubernetes => exponential(c.retry_max.min(backoff::KUBERNETES_RETRY_MAX)),
        }
    }

    /// Counts one more consecutive failure of the object; returns how many came before it.
    fn count_failure(&self, route: &GatewayRoute) -> u32 {
        let mut failures = self.failures();
        let n = failures.entry(route.uid().unwrap_or_default()).or_default();
        *n += 1;
        *n - 1
    }

    /// Drops everything kept about an object that left the watch (deleted, finalizer removed
    /// by hand, relabelled out of this shard).
    fn forget(&self, uid: &str) {
        self.failures().remove(uid);
        self.metrics.forget(uid);
    }

    /// Keeps per-object state only for `live` uids: after a re-list, objects deleted while the
    /// watch was down are gone without a delete event.
    fn forget_all_but(&self, live: &HashSet<String>) {
        self.failures().retain(|uid, _| live.contains(uid));
        self.metrics.forget_all_but(live);
    }

    /// Publishes an Event about `route`. Each is created as it happens: meshroute emits one only
    /// when something changed, so there is nothing to aggregate, and no cache to grow.
    async fn event(&self, route: &GatewayRoute, type_: EventType, reason: &str, note: String) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let namespace = route.namespace().unwrap_or_default();
        let mut note = note;
        if note.len() > 1000 {
            let cut = (0..=1000)
                .rev()
                .find(|i| note.is_char_boundary(*i))
                .unwrap_or(0);
            note.truncate(cut);
        }
        let event = Event {
            metadata: ObjectMeta {
                name: Some(event_name(&route.name_any(), now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            action: Some("Reconcile".into()),
            reason: Some(reason.into()),
            note: Some(note),
            type_: Some(type_.as_str().into()),
            event_time: Some(MicroTime(now)),
            regarding: Some(route.object_ref(&())),
            reporting_controller: Some("meshroute.io/meshroute".into()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(e) = events.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, "could not publish an Event");
        }
    }
}

/// The longest wait for a missing dependency, and how often one is probed for all its waiters.
fn dependency_retry_max(c: &Config) -> Duration {
    c.retry_max.min(Duration::from_secs(30))
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
    let objects = watcher(api.clone(), watch.clone())
        .backoff(backoff::WatchBackoff::default())
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(watcher::Event::Delete(route)) => {
                forgetting.forget(&route.uid().unwrap_or_default());
                forgetting.deps.forget(&Key::from_obj(route));
            }
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
                    listing_first && start_up_pass && in_sync(&cached.route())
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
        // Only what a user changes wakes a reconcile: the spec (generation, which deletion
        // also bumps) and annotations (adoption). Our own writes, the finalizer we add and the
        // status we write, do not; retries and drift checks come from the reconcile's requeue.
        .predicate_filter(
            predicates::generation.combine(CachedRoute::annotations_digest),
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
            ctx.clone(),
            reader.clone(),
            first_list.clone(),
            period,
        ))
    });
    let controller = Controller::for_stream(objects, reader)
        .reconcile_on(woken)
        // Unbounded: the scheduler would hold what it cannot start in a set and start an
        // arbitrary one next; the gate in `reconcile` orders them instead.
        .with_config(controller::Config::default().concurrency(0))
        .graceful_shutdown_on(stop);
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
        class_of(&route, ctx.is_failing(&route))
    };
    let _permit = ctx.gate.enter(class).await;
    class
        .scope(Box::pin(work(Arc::new(cached.route()), ctx.clone())))
        .await
}

/// Whether an object needs nothing but a drift check: not being deleted, with meshroute's
/// finalizer, Ready at its generation.
fn in_sync(route: &GatewayRoute) -> bool {
    route.meta().deletion_timestamp.is_none()
        && route.finalizers().iter().any(|f| f == FINALIZER)
        && status::ready_now(route)
}

/// Why an object is reconciled now, from what it shows: a deletion, or a generation its status
/// does not describe yet, is a user's doing; an object Ready at its generation with no failure
/// since is a drift check; anything else (a reported failure) is a retry.
fn class_of(route: &GatewayRoute, failing: bool) -> Class {
    if route.meta().deletion_timestamp.is_some() || !status::reported_now(route) {
        Class::User
    } else if status::ready_now(route) && !failing {
        Class::Drift
    } else {
        Class::Retry
    }
}

#[tracing::instrument(skip_all, fields(object = %format!("{}/{}", route.namespace().unwrap_or_default(), route.name_any())))]
async fn work(route: Arc<GatewayRoute>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx
        .metrics
        .reconcile_timer(&route.uid().unwrap_or_default());
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
    apply_step(&route, &ctx, &api).await
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
    ctx: &Context,
    api: &Api<GatewayRoute>,
) -> Result<Action, Error> {
    let uid = route.uid().unwrap_or_default();
    let desired = Desired::of(route, &ctx.config.cluster_id);
    let recorded = Recorded::of(route);
    // In sync at its generation, not failing: a drift pass woke it (or a start without one).
    // A recent page that lists its route unchanged proves it still in sync, with no call of
    // its own (unless the drift pass found its tags changed).
    if Class::current() == Class::Drift && !ctx.take_full_check(route) {
        let page = ctx
            .pages
            .get(
                &pages::Gateway::of(&desired.key),
                ctx.page_max_age(),
                &ctx.appmesh,
            )
            .await;
        if page.is_ok_and(|page| page.vouches_for(&desired, &recorded)) {
            ctx.metrics.reconciled(&uid, Reason::Synced.as_str());
            return Ok(ctx.synced(route));
        }
    }
    let env = ctx.env(route);
    let outcome = match ctx.deps.wait(&desired, &env.object, &ctx.appmesh).await {
        Ok(Wait::Missing(what)) => Err(execute::missing(&desired, &what)),
        Ok(Wait::Go(woken)) => {
            for object in woken {
                ctx.wake(object);
            }
            execute::apply(&desired, &recorded, &env).await
        }
        Err(e) => Err(e.into()),
    };

    let (observed, reason, message) = match &outcome {
        Ok((r, _)) => (
            Some(r),
            Reason::Synced,
            format!(
                "App Mesh gateway route {} is in sync (version {})",
                r.arn, r.version
            ),
        ),
        Err(p) => (None, p.reason, p.message.clone()),
    };
    // While App Mesh is paused as a whole, that is said once (log, gauge), not written into
    // every object; only an object with nothing to show for its generation yet gets a status.
    let paused = matches!(&outcome, Err(p) if p.retry == Retry::Paused);
    if !paused || !status::reported_now(route) {
        let synced = observed.map(|r| (r, &desired));
        report(ctx, api, route, synced, reason, &message).await?;
    }

    let action = match &outcome {
        Ok((r, change)) => {
            tracing::debug!(change = ?change, version = r.version, "in sync");
            if let Some((type_, name, note)) = describe_change(*change, r) {
                ctx.event(route, type_, name, note).await;
            }
            ctx.synced(route)
        }
        Err(p) if paused => {
            tracing::debug!("waiting for App Mesh: {}", p.message);
            ctx.next(route, ctx.failed(route, p.retry))
        }
        Err(p) => {
            tracing::warn!(reason = p.reason.as_str(), "not in sync: {}", p.message);
            ctx.next(route, ctx.failed(route, p.retry))
        }
    };
    ctx.metrics.reconciled(&uid, reason.as_str());
    Ok(action)
}

/// Writes the status a reconcile ended with (only if it changed) and, when it ended with a new
/// failure reason, a Warning Event saying so. `synced` is the route App Mesh now holds and what
/// the object wanted of it, when the reconcile got it in sync. A replica that lost the leader
/// Lease writes nothing: the new leader owns the status now.
async fn report(
    ctx: &Context,
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    synced: Option<(&crate::appmesh::ObservedRoute, &Desired)>,
    reason: Reason,
    message: &str,
) -> Result<(), Error> {
    if ctx.appmesh.fence().is_closed() {
        return Err(Error::NotLeader);
    }
    let new_failure =
        reason != Reason::Synced && status::current_reason(route) != Some(reason.as_str());
    let shard = &ctx.config.shard;
    if let Some(other) = route.status.as_ref().and_then(|s| s.shard.as_deref())
        && other != shard
    {
        ctx.metrics.shard_overlap();
        ctx.event(
            route,
            EventType::Warning,
            "ShardOverlap",
            format!(
                "meshroute shard {other} wrote this object's status before shard {shard}; if \
                 both still run, their --label-selector values overlap and both reconcile it"
            ),
        )
        .await;
    }
    let mut next = status::next_status(route, synced.map(|(r, _)| r), reason, message, now());
    next.shard = Some(shard.clone());
    if let Some((_, desired)) = synced {
        // In sync: App Mesh has the route with exactly these tags.
        next.tags_digest = Some(desired.tags_digest());
    }
    status::write(api, route, next).await?;
    if new_failure {
        ctx.event(
            route,
            EventType::Warning,
            reason.as_str(),
            message.to_string(),
        )
        .await;
    }
    Ok(())
}

fn describe_change(
    change: Change,
    r: &crate::appmesh::ObservedRoute,
) -> Option<(EventType, &'static str, String)> {
    let (type_, name, note) = match change {
        Change::None => return None,
        Change::Created => (
            EventType::Normal,
            "Created",
            format!("Created App Mesh gateway route {}", r.arn),
        ),
        Change::Recreated => (
            EventType::Warning,
            "Recreated",
            format!(
                "App Mesh gateway route {} was deleted outside meshroute; created it again",
                r.arn
            ),
        ),
        Change::Adopted => (
            EventType::Normal,
            "Adopted",
            format!("Adopted existing App Mesh gateway route {}", r.arn),
        ),
        Change::Updated => (
            EventType::Normal,
            "Updated",
            format!(
                "Updated App Mesh gateway route {} to version {}",
                r.arn, r.version
            ),
        ),
        Change::DriftCorrected => (
            EventType::Warning,
            "DriftCorrected",
            format!(
                "App Mesh gateway route {} was changed outside meshroute; restored the spec (version {})",
                r.arn, r.version
            ),
        ),
        Change::TagsUpdated => (
            EventType::Normal,
            "TagsUpdated",
            format!("Updated the tags of {}", r.arn),
        ),
    };
    Some((type_, name, note))
}

async fn cleanup_step(
    route: &GatewayRoute,
    ctx: &Context,
    api: &Api<GatewayRoute>,
) -> Result<Action, Error> {
    let desired = Desired::of(route, &ctx.config.cluster_id);
    match execute::remove(&desired, &Recorded::of(route), &ctx.env(route)).await {
        Ok(removal) => {
            let note = match removal {
                Removal::Deleted => Some(("Deleted", "Deleted the App Mesh gateway route")),
                Removal::Retained => Some((
                    "Retained",
                    "Kept the App Mesh gateway route (deletionPolicy: Retain)",
                )),
                Removal::NothingOurs => None,
            };
            if let Some((reason, note)) = note {
                ctx.event(route, EventType::Normal, reason, note.into())
                    .await;
            }
            ctx.metrics
                .reconciled(&route.uid().unwrap_or_default(), reason_of(removal));
            Ok(Action::await_change())
        }
        Err(p) => {
            let message = format!(
                "deleting the App Mesh route failed, the finalizer stays until it succeeds: {}",
                p.message
            );
            if p.retry != Retry::Paused {
                report(ctx, api, route, None, Reason::DeleteFailed, &message).await?;
            }
            ctx.metrics.reconciled(
                &route.uid().unwrap_or_default(),
                Reason::DeleteFailed.as_str(),
            );
            Err(Error::DeleteFailed {
                message,
                retry_in: ctx.failed(route, p.retry),
            })
        }
    }
}

/// The `result` of a finished cleanup, for the reconcile counter.
fn reason_of(removal: Removal) -> &'static str {
    match removal {
        Removal::Deleted => "Deleted",
        Removal::Retained => "Retained",
        Removal::NothingOurs => "Released",
    }
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
            ctx.next(&route, ctx.failed(&route, Retry::Kubernetes))
        }
    }
}

/// An Event's name: the object's name and a timestamp, within the 253 characters of a
/// Kubernetes name however long the object's name is, and still a valid name.
fn event_name(object: &str, nanos: i128) -> String {
    let suffix = format!(".{nanos:x}");
    let room = 253 - suffix.len();
    // Object names are ASCII (DNS subdomains), so any cut is on a character boundary.
    let prefix = object[..object.len().min(room)].trim_end_matches(['.', '-']);
    format!("{prefix}{suffix}")
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::{Class, class_of, event_name};
    use crate::api::GatewayRoute;

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

    #[test]
    fn event_names_are_valid_for_any_object_name() {
        let nanos = 1_764_000_000_123_456_789_i128;
        assert_eq!(event_name("web", nanos), format!("web.{nanos:x}"));
        // The longest object name, and one whose cut would end on a dot or a dash.
        for name in ["a".repeat(253), format!("{}.-b", "a".repeat(234))] {
            let event = event_name(&name, nanos);
            assert!(event.len() <= 253, "{} characters", event.len());
            assert!(event.ends_with(&format!(".{nanos:x}")));
            assert!(
                !event.contains(".-") && !event.contains("-.") && !event.contains(".."),
                "{event}"
            );
        }
    }
}
