//! The controller: watches GatewayRoutes and reconciles each as read -> desired (pure) -> App Mesh
//! -> status, with a finalizer for deletion, Events for what changed, and backoff by error kind.

mod apply;
mod desired;
mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::Api;
use kube::api::PostParams;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};

pub use apply::{Change, Problem, Removal, Retry};
pub use desired::{ADOPT_ANNOTATION, Desired, FINALIZER, Ownership};
pub use status::{FIELD_MANAGER, READY, Reason};

use crate::Error;
use crate::api::GatewayRoute;
use crate::appmesh::AppMesh;
use crate::backoff;
use crate::telemetry::Metrics;

/// What the controller watches and how it retries.
#[derive(Debug, Clone)]
pub struct Config {
    /// Written into every route's ownership tags; unique per cluster sharing an AWS account.
    pub cluster_id: String,
    /// Watch one namespace only; `None` watches all.
    pub namespace: Option<String>,
    /// Watch only objects with these labels (`key=value,...`), to run shards side by side.
    pub label_selector: Option<String>,
    /// Objects reconciled at once.
    pub concurrency: u16,
    /// How often an in-sync route is checked for drift; `None` never.
    pub resync: Option<Duration>,
    /// First delay after a failure, doubling up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// What a reconcile judged: a later reconcile of the same object in the same state waits for
/// the time that judgement set, whatever woke it (our own status writes wake the controller too).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    generation: Option<i64>,
    adopt: bool,
    deleting: bool,
}

impl Fingerprint {
    fn of(route: &GatewayRoute) -> Self {
        Fingerprint {
            generation: route.meta().generation,
            adopt: desired::wants_adoption(route),
            deleting: route.meta().deletion_timestamp.is_some(),
        }
    }
}

/// Until when an object in a given state needs no App Mesh call.
struct Gate {
    fingerprint: Fingerprint,
    /// `None`: until the object changes.
    until: Option<Instant>,
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
    /// Consecutive failures per object uid, for backoff; cleared on success.
    failures: Mutex<HashMap<String, u32>>,
    gates: Mutex<HashMap<String, Gate>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        appmesh: AppMesh,
        metrics: Arc<Metrics>,
        config: Config,
    ) -> Arc<Self> {
        Arc::new(Context {
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| "meshroute".into()),
            client,
            appmesh,
            metrics,
            config,
            failures: Mutex::default(),
            gates: Mutex::default(),
        })
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gates(&self) -> std::sync::MutexGuard<'_, HashMap<String, Gate>> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wait still owed by an object whose state has not changed since it was last judged,
    /// or `None` when it is due.
    fn gated(&self, route: &GatewayRoute) -> Option<Action> {
        let gates = self.gates();
        let gate = gates.get(&route.uid()?)?;
        if gate.fingerprint != Fingerprint::of(route) {
            return None;
        }
        match gate.until {
            None => Some(Action::await_change()),
            Some(until) => until
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
                .map(Action::requeue),
        }
    }

    fn set_gate(&self, route: &GatewayRoute, wait: Option<Duration>) -> Action {
        let gate = Gate {
            fingerprint: Fingerprint::of(route),
            until: wait.map(|w| Instant::now() + w),
        };
        self.gates().insert(route.uid().unwrap_or_default(), gate);
        wait.map_or_else(Action::await_change, Action::requeue)
    }

    /// After a success: forget failures; come back for the drift check, if there is one.
    fn synced(&self, route: &GatewayRoute) -> Action {
        self.failures().remove(&route.uid().unwrap_or_default());
        self.set_gate(route, self.config.resync.map(backoff::jitter))
    }

    /// After a failure of `retry`'s kind: count it and wait accordingly.
    fn failed(&self, route: &GatewayRoute, retry: Retry) -> Action {
        let attempt = {
            let mut failures = self.failures();
            let n = failures.entry(route.uid().unwrap_or_default()).or_default();
            *n += 1;
            *n - 1
        };
        let c = &self.config;
        let wait = match retry {
            Retry::AwaitChange => None,
            Retry::Transient => Some(backoff::exponential(c.retry_base, c.retry_max, attempt)),
            Retry::Dependency => Some(backoff::exponential(
                c.retry_base,
                c.retry_max.min(Duration::from_secs(30)),
                attempt,
            )),
            Retry::Slow => Some(backoff::jitter(c.retry_max)),
        };
        self.set_gate(route, wait)
    }

    fn forget(&self, route: &GatewayRoute) {
        let uid = route.uid().unwrap_or_default();
        self.failures().remove(&uid);
        self.gates().remove(&uid);
        self.metrics.forget(&uid);
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
                name: Some(format!("{}.{:x}", route.name_any(), now.as_nanosecond())),
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

/// Runs the controller until `stop` completes; reconciles in flight are finished first.
pub async fn run(
    ctx: Arc<Context>,
    health: Arc<crate::http::Health>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<GatewayRoute> = match &ctx.config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let mut watch = watcher::Config::default();
    if let Some(selector) = &ctx.config.label_selector {
        watch = watch.labels(selector);
    }
    // The controller caches every object. Managed fields and kubectl's last-applied annotation
    // are most of an object's size and meshroute reads neither, so they are dropped first.
    let (reader, writer) = reflector::store();
    let objects = watcher(api.clone(), watch.clone())
        .default_backoff()
        .modify(|route: &mut GatewayRoute| {
            route.managed_fields_mut().clear();
            route
                .annotations_mut()
                .remove("kubectl.kubernetes.io/last-applied-configuration");
        })
        .reflect(writer)
        .applied_objects();
    let controller = Controller::for_stream(objects, reader)
        .with_config(controller::Config::default().concurrency(ctx.config.concurrency))
        .graceful_shutdown_on(stop);
    // Readiness: a watch of our own reports its first complete list. (Waiting on the
    // controller's store would race the controller for the store's single waker.)
    let synced = watcher(api.clone(), watch.clone()).default_backoff();
    tokio::spawn(async move {
        futures::pin_mut!(synced);
        while let Some(event) = synced.next().await {
            if let Ok(watcher::Event::InitDone) = event {
                health.set_synced();
                tracing::info!("watch synced; reconciling");
                break;
            }
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
}

#[tracing::instrument(skip_all, fields(object = %format!("{}/{}", route.namespace().unwrap_or_default(), route.name_any())))]
async fn reconcile(route: Arc<GatewayRoute>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<GatewayRoute> =
        Api::namespaced(ctx.client.clone(), &route.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, route, |event| async {
        match event {
            finalizer::Event::Apply(route) => apply_step(&route, &ctx, &api).await,
            finalizer::Event::Cleanup(route) => cleanup_step(&route, &ctx, &api).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn apply_step(
    route: &GatewayRoute,
    ctx: &Context,
    api: &Api<GatewayRoute>,
) -> Result<Action, Error> {
    if let Some(action) = ctx.gated(route) {
        return Ok(action);
    }
    let uid = route.uid().unwrap_or_default();
    let started = Instant::now();
    let desired = Desired::of(route, &ctx.config.cluster_id);
    let outcome = apply::apply(
        route,
        &desired,
        &ctx.appmesh,
        desired::wants_adoption(route),
    )
    .await;

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
    report(ctx, api, route, observed, reason, &message).await?;

    let action = match &outcome {
        Ok((r, change)) => {
            if let Some((type_, name, note)) = describe_change(*change, r) {
                ctx.event(route, type_, name, note).await;
            }
            ctx.synced(route)
        }
        Err(p) => {
            tracing::info!(reason = p.reason.as_str(), message = %p.message, "not in sync");
            ctx.failed(route, p.retry)
        }
    };
    ctx.metrics
        .reconciled(&uid, reason.as_str(), started.elapsed().as_secs_f64());
    Ok(action)
}

/// Writes the status a reconcile ended with (only if it changed) and, when it ended with a new
/// failure reason, a Warning Event saying so.
async fn report(
    ctx: &Context,
    api: &Api<GatewayRoute>,
    route: &GatewayRoute,
    observed: Option<&crate::appmesh::ObservedRoute>,
    reason: Reason,
    message: &str,
) -> Result<(), Error> {
    let new_failure =
        reason != Reason::Synced && status::current_reason(route) != Some(reason.as_str());
    status::write(
        api,
        route,
        status::next_status(route, observed, reason, message, now()),
    )
    .await?;
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
    if ctx.gated(route).is_some() {
        // Still backing off from the last failed delete; error_policy says how long.
        return Err(Error::DeletePending);
    }
    let desired = Desired::of(route, &ctx.config.cluster_id);
    match apply::remove(route, &desired, &ctx.appmesh).await {
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
            ctx.forget(route);
            Ok(Action::await_change())
        }
        Err(p) => {
            let message = format!(
                "deleting the App Mesh route failed, the finalizer stays until it succeeds: {}",
                p.message
            );
            report(ctx, api, route, None, Reason::DeleteFailed, &message).await?;
            ctx.failed(route, p.retry);
            Err(Error::DeleteFailed(message))
        }
    }
}

fn error_policy(route: Arc<GatewayRoute>, error: &Error, ctx: Arc<Context>) -> Action {
    // A failed delete has already set its backoff (and its status); keep to it.
    if let Some(action) = ctx.gated(&route) {
        return action;
    }
    tracing::warn!(error = %error, object = %route.name_any(), "reconcile failed");
    ctx.metrics
        .reconciled(&route.uid().unwrap_or_default(), error.metric_label(), 0.0);
    ctx.failed(&route, Retry::Transient)
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}
