//! The Gateway API part of a reconcile, shaped like the App Mesh part: `plan` decides (pure),
//! this module writes, `judge` reads what the implementation says (pure). The route is the
//! GatewayRoute's HTTPRoute or GRPCRoute, written by server-side apply with meshroute's field
//! manager, owner-referenced and labelled, in the GatewayRoute's namespace and of its name; read
//! back with the implementation's status; deleted when the object goes or its gateway stops being
//! served by Gateway API. A route of that name meshroute did not write is never touched unless the
//! object asks to adopt it. `watch` wakes a GatewayRoute when its route changes.

pub mod judge;
mod plan;
mod watched;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::cache::Key;
use super::outcome::OnGatewayApi;
use super::packed::Packed;
use super::plan::Problem;
use super::serving::{Parent, Servings};
use super::wakes::Wakes;
use crate::Error;
use crate::api::ownership::{APPLIED_ANNOTATION, FIELD_MANAGER, MANAGED_BY, OWNER_KIND};
use crate::api::{GatewayApiRoute, GatewayRoute, Reason};
use crate::backoff::{self, Retry};
use crate::gatewayapi::objects::{RouteKind, RouteStatus};
use crate::gatewayapi::{self, Finding};
use crate::uid::Uid;
use plan::{Deleted, Found};
use watched::WatchedRoute;

fn api<
    K: Resource<DynamicType = kube::core::ApiResource, Scope = kube::core::DynamicResourceScope>,
>(
    client: &kube::Client,
    kind: &str,
    namespace: &str,
) -> Api<K> {
    Api::namespaced_with(client.clone(), namespace, &gatewayapi::api_resource(kind))
}

fn found(object: &WatchedRoute) -> Found<'_> {
    Found {
        labels: object.labels(),
        owners: object.owner_references(),
    }
}

/// The Gateway API side of a reconcile: what it wrote, what the implementation says of it, and
/// the findings of the mapping.
pub struct Served {
    pub on: OnGatewayApi,
    pub findings: Vec<Finding>,
}

impl Served {
    /// Nothing was written, for `problem`; the status goes on recording `route`.
    fn refused(route: Option<GatewayApiRoute>, problem: Problem) -> Served {
        Served {
            on: OnGatewayApi {
                route,
                result: Err(problem),
            },
            findings: Vec::new(),
        }
    }
}

/// Writes `route`'s Gateway API route attached to `parent`, `mapped` as `export gateway-api`
/// maps it (`gatewayapi::route_object`), and reads what its implementation says of it. An `Err`
/// is a Kubernetes failure to retry; everything the user must fix is in `Served::on`.
pub async fn serve(
    client: &kube::Client,
    state: &State,
    route: &GatewayRoute,
    parent: &Parent,
    (object, findings): gatewayapi::Mapped,
) -> Result<Served, Error> {
    let recorded = route
        .status
        .as_ref()
        .and_then(|s| s.gateway_api_route.clone());
    let Some(mut object) = object else {
        // A spec Gateway API cannot say any more: the route written for the last one goes.
        delete_all(client, route).await?;
        return Ok(Served::refused(None, plan::not_exported(&findings)));
    };
    let kind = object.kind;
    let namespace = route.namespace().unwrap_or_default();
    let name = route.name_any();
    let api = api::<WatchedRoute>(client, kind.as_str(), &namespace);
    let shown = format!("{} {namespace}/{name}", kind.as_str());
    // What the watch keeps of the route meshroute wrote for this object; read from the
    // apiserver when the watch has not seen one (a new object, or a name someone else holds).
    let record = match state.seen.record(kind, &namespace, &name) {
        Some(record) if !plan::must_read(Some(&record.owner), route) => Some(record),
        _ => {
            let existing = api.get_opt(&name).await?;
            if let Err(problem) = plan::may_write(existing.as_ref().map(found), route, &shown) {
                return Ok(Served::refused(recorded, problem));
            }
            existing
                .filter(|e| plan::written_for(found(e), route))
                .and_then(|e| Record::of(&e))
        }
    };
    object.metadata.labels = Some([(MANAGED_BY.0.into(), MANAGED_BY.1.into())].into());
    object.metadata.owner_references = Some(vec![OwnerReference {
        api_version: GatewayRoute::api_version(&()).into(),
        kind: OWNER_KIND.into(),
        name: name.clone(),
        uid: route.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    let digest = applied_digest(&object);
    object
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(APPLIED_ANNOTATION.into(), digest.clone());
    // A route still as meshroute applied it is not written again: its status is judged as the
    // watch last saw it.
    let (generation, status) =
        match record.filter(|r| plan::as_applied(&r.applied, r.edited, &digest)) {
            Some(record) => (record.generation, record.status()),
            None => {
                let params = PatchParams::apply(FIELD_MANAGER).force();
                let written = match api.patch(&name, &params, &Patch::Apply(&object)).await {
                    Ok(written) => written,
                    Err(kube::Error::Api(e))
                        if let Some(problem) = plan::refused(e.code, &e.message, &shown) =>
                    {
                        return Ok(Served::refused(recorded, problem));
                    }
                    Err(e) => return Err(e.into()),
                };
                (written.metadata.generation, written.status)
            }
        };
    let recorded_kind = recorded.as_ref().map(|r| r.kind.as_str());
    let seen = state.seen.kinds(&namespace, &name, route);
    for other in plan::left_behind(kind, recorded_kind, &seen) {
        delete(client, route, other).await?;
    }
    let mut result = judge::judge(&status, generation, &shown, parent, &namespace);
    let uid = route.uid().unwrap_or_default();
    match &mut result {
        Err(problem) if problem.reason == Reason::GatewayPending => {
            if state.parents.missing(client, parent).await {
                // Waiting on a Gateway that does not exist waits for ever: say so.
                *problem = judge::no_parent(parent, &shown);
            } else if let Some(look) = plan::awaiting_verdict(
                state.pending_for(&uid, generation),
                state.seen.since_progress(parent),
            ) {
                problem.retry = Retry::Verdict(look);
            }
        }
        _ => state.forget(&uid),
    }
    let on = OnGatewayApi {
        route: Some(GatewayApiRoute {
            kind: kind.as_str().into(),
            parent: parent.recorded(),
        }),
        result,
    };
    Ok(Served { on, findings })
}

/// The digest `APPLIED_ANNOTATION` records of `object` as meshroute applies it (without the
/// annotation). Stable from one run of meshroute to the next; a release that changes the hash
/// or the object's serialisation writes each route once more.
fn applied_digest(object: &gatewayapi::objects::Route) -> String {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(&serde_json::to_vec(object).unwrap_or_default());
    format!("{:016x}", hasher.finish())
}

/// Deletes `route`'s Gateway API route of `kind` if meshroute wrote it; whether one was there.
pub async fn delete(
    client: &kube::Client,
    route: &GatewayRoute,
    kind: RouteKind,
) -> Result<bool, Error> {
    let api = api::<WatchedRoute>(
        client,
        kind.as_str(),
        &route.namespace().unwrap_or_default(),
    );
    let existing = match api.get_opt(&route.name_any()).await {
        Ok(Some(existing)) if plan::written_for(found(&existing), route) => existing,
        Ok(_) => return Ok(false),
        Err(kube::Error::Api(e)) if plan::absent(e.code).is_some() => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    let deleted = match api.delete(&route.name_any(), &params).await {
        Ok(answer) if answer.is_right() => Deleted::Gone,
        Ok(_) => Deleted::Held,
        Err(kube::Error::Api(e)) if let Some(deleted) = plan::absent(e.code) => deleted,
        Err(e) => return Err(e.into()),
    };
    match deleted {
        Deleted::Gone => Ok(true),
        Deleted::Held => Err(Error::DeleteFailed {
            message: format!(
                "{} {}/{} is being deleted and waits for its finalizers",
                kind.as_str(),
                route.namespace().unwrap_or_default(),
                route.name_any()
            ),
            retry_in: Some(std::time::Duration::from_secs(2)),
        }),
    }
}

/// Deletes every Gateway API route meshroute wrote for `route`; whether any was there.
pub async fn delete_all(client: &kube::Client, route: &GatewayRoute) -> Result<bool, Error> {
    let mut any = false;
    for kind in RouteKind::ALL {
        any |= delete(client, route, kind).await?;
    }
    Ok(any)
}

/// What the Gateway API part keeps between reconciles: which Gateways exist, and the routes
/// the watch has seen meshroute write.
#[derive(Debug, Default)]
pub struct State {
    pub parents: Parents,
    seen: Seen,
    /// Since when each object (uid) has waited for its implementation's verdict, at which
    /// generation of its route.
    pending: std::sync::Mutex<HashMap<Uid, (Option<i64>, std::time::Instant)>>,
}

impl State {
    /// How long `uid`'s route at `generation` has waited for a verdict (from now, the first
    /// time it is asked).
    fn pending_for(&self, uid: &str, generation: Option<i64>) -> std::time::Duration {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let since = pending.entry(Uid::of(uid)).or_insert((generation, now));
        if since.0 != generation {
            *since = (generation, now);
        }
        now - since.1
    }

    /// Forgets what is kept about an object (judged, or gone).
    pub fn forget(&self, uid: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Uid::of(uid));
    }

    /// Waits until the watch has listed every kind once, so that a reconcile after a restart
    /// judges its route as listed instead of reading it; at most `LIST_WAIT` after the watch
    /// started (a watch that cannot list, for want of RBAC, holds no one up for long). No wait
    /// where no watch runs (no gateway is served by Gateway API).
    pub async fn listed(&self) {
        let mut listed = self.seen.listed.subscribe();
        let all = |n: &usize| *n >= RouteKind::ALL.len();
        let done = all(&listed.borrow());
        if let Some(started) = self.seen.started.get()
            && !done
        {
            let deadline = *started + LIST_WAIT;
            let _ = tokio::time::timeout_at(deadline.into(), listed.wait_for(all)).await;
        }
    }
}

/// The longest a reconcile waits for the route watch's first list (`State::listed`).
const LIST_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the watch keeps of a route meshroute wrote: whose it is, whether it is still as
/// meshroute applied it, and what its implementation says of it. A few hundred bytes a route.
#[derive(Debug, Clone)]
struct Record {
    /// The GatewayRoute that owns it.
    owner: String,
    /// Its `APPLIED_ANNOTATION`.
    applied: Option<String>,
    /// Another field manager holds some of it (a hand edit).
    edited: bool,
    generation: Option<i64>,
    /// Its status, packed (`packed`): read once a reconcile, and a tenth of the size of the
    /// parsed status's strings and vectors.
    status: Packed,
}

/// A route's status as implementations write it: what a record's status is packed against.
static STATUS_DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let condition = |type_: &str| {
        serde_json::json!({ "type": type_, "status": "True", "reason": type_,
            "message": "", "observedGeneration": 1 })
    };
    let status: RouteStatus = serde_json::from_value(serde_json::json!({ "parents": [{
        "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway",
            "namespace": "gateways", "name": "gw", "sectionName": "http" },
        "controllerName": "traefik.io/gateway-controller",
        "conditions": [condition("Accepted"), condition("ResolvedRefs")] }] }))
    .expect("a sample route status reads");
    serde_json::to_vec(&status).expect("a route status serialises")
});

impl Record {
    /// The record of a route that names its owning GatewayRoute.
    fn of(route: &WatchedRoute) -> Option<Record> {
        Some(Record {
            owner: owner_of(route.owner_references())?.to_string(),
            applied: route.annotations().get(APPLIED_ANNOTATION).cloned(),
            edited: route.edited,
            generation: route.meta().generation,
            status: Packed::new(&route.status, &STATUS_DICTIONARY),
        })
    }

    /// Its status, as its implementations wrote it.
    fn status(&self) -> RouteStatus {
        self.status.unpack(&STATUS_DICTIONARY)
    }
}

type RouteKey = (RouteKind, String, String);

/// The Gateway API routes meshroute wrote, as the watch last listed and followed them.
#[derive(Debug, Default)]
struct Seen {
    records: std::sync::Mutex<SeenState>,
    /// How many kinds the watch has listed once.
    listed: tokio::sync::watch::Sender<usize>,
    /// When the watch started.
    started: std::sync::OnceLock<Instant>,
}

#[derive(Debug, Default)]
struct SeenState {
    records: HashMap<RouteKey, Record>,
    /// While the watch lists again (after a restart or a gap): what it has listed so far, to
    /// replace `records` when the list is done, so that a route deleted in the gap is forgotten.
    listing: Option<HashMap<RouteKey, Record>>,
    listed: std::collections::HashSet<RouteKind>,
    /// When the implementation of each Gateway (namespace, name) last judged a route of it, at
    /// the route's generation.
    progress: HashMap<(String, String), Instant>,
}

impl Seen {
    /// What `read` makes of the record of route `kind` `namespace/name`, if there is one.
    fn read<T>(
        &self,
        kind: RouteKind,
        namespace: &str,
        name: &str,
        read: impl FnOnce(&Record) -> T,
    ) -> Option<T> {
        let state = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, namespace.to_string(), name.to_string());
        state.records.get(&key).map(read)
    }

    fn record(&self, kind: RouteKind, namespace: &str, name: &str) -> Option<Record> {
        self.read(kind, namespace, name, Record::clone)
    }

    /// How long ago the implementation of `parent` last judged one of its routes, if the watch
    /// saw it do so.
    fn since_progress(&self, parent: &Parent) -> Option<std::time::Duration> {
        let state = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let key = (parent.namespace.clone(), parent.name.clone());
        state.progress.get(&key).map(Instant::elapsed)
    }

    fn owner(&self, kind: RouteKind, namespace: &str, name: &str) -> Option<String> {
        self.read(kind, namespace, name, |r| r.owner.clone())
    }

    /// The kinds of the routes of this name the watch has seen meshroute write for `route`.
    fn kinds(&self, namespace: &str, name: &str, route: &GatewayRoute) -> Vec<RouteKind> {
        RouteKind::ALL
            .into_iter()
            .filter(|kind| !plan::must_read(self.owner(*kind, namespace, name).as_deref(), route))
            .collect()
    }

    /// Follows one watch event of the routes of `kind`.
    fn follow(&self, kind: RouteKind, event: &watcher::Event<WatchedRoute>) {
        let key = |route: &WatchedRoute| {
            Some((
                kind,
                route.metadata.namespace.clone()?,
                route.metadata.name.clone()?,
            ))
        };
        let keyed = |route: &WatchedRoute| Some((key(route)?, Record::of(route)?));
        let mut state = self.records.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            watcher::Event::Init => state.listing = Some(HashMap::new()),
            watcher::Event::InitApply(route) => {
                if let (Some(listing), Some((key, record))) = (&mut state.listing, keyed(route)) {
                    listing.insert(key, record);
                }
            }
            watcher::Event::InitDone => {
                let listed = state.listing.take().unwrap_or_default();
                state.records.retain(|(k, _, _), _| *k != kind);
                state.records.extend(listed);
                state.listed.insert(kind);
                self.listed.send_replace(state.listed.len());
            }
            watcher::Event::Apply(route) => {
                if let Some((key, record)) = keyed(route) {
                    for gateway in route.judged_by() {
                        state.progress.insert(gateway, Instant::now());
                    }
                    state.records.insert(key, record);
                }
            }
            watcher::Event::Delete(route) => {
                if let Some(key) = key(route) {
                    state.records.remove(&key);
                }
            }
        }
    }
}

/// Whether the Gateways that routes wait on exist, asked of the apiserver at most every ten
/// seconds per Gateway (thousands of routes may wait on one at once).
#[derive(Debug, Default)]
pub struct Parents {
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), (bool, std::time::Instant)>>,
}

impl Parents {
    /// Whether `parent` is known not to exist. A Gateway that cannot be read (no RBAC to get
    /// Gateways, an apiserver error) is not called missing.
    pub async fn missing(&self, client: &kube::Client, parent: &Parent) -> bool {
        let key = (parent.namespace.clone(), parent.name.clone());
        let fresh = std::time::Duration::from_secs(10);
        if let Some((exists, at)) = self.seen.lock().ok().and_then(|s| s.get(&key).copied())
            && at.elapsed() < fresh
        {
            return !exists;
        }
        let api = api::<DynamicObject>(client, "Gateway", &parent.namespace);
        let exists = !matches!(api.get_opt(&parent.name).await, Ok(None));
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key, (exists, std::time::Instant::now()));
        }
        !exists
    }
}

/// Starts a `watch` of each kind meshroute writes, where some virtual gateway is served by
/// Gateway API.
pub fn watch_all(
    client: &kube::Client,
    namespace: &Option<String>,
    servings: &Servings,
    wakes: &Wakes,
    state: &Arc<State>,
) {
    if servings.any_gateway_api() {
        for kind in RouteKind::ALL {
            let api: Api<WatchedRoute> = match namespace {
                Some(ns) => Api::namespaced_with(
                    client.clone(),
                    ns,
                    &gatewayapi::api_resource(kind.as_str()),
                ),
                None => Api::all_with(client.clone(), &gatewayapi::api_resource(kind.as_str())),
            };
            tokio::spawn(watch(api, kind, wakes.clone(), state.clone()));
        }
        let _ = state.seen.started.set(Instant::now());
    }
}

/// The name of the GatewayRoute that owns a route, if one does.
fn owner_of(owners: &[OwnerReference]) -> Option<&str> {
    owners
        .iter()
        .find(|o| o.kind == OWNER_KIND)
        .map(|o| o.name.as_str())
}

/// Watches the Gateway API routes of `kind` meshroute wrote (by their label) and wakes the
/// GatewayRoute that owns one whenever it changes or goes: its implementation's status, a hand
/// edit to put back, a deletion to undo; and keeps `State`'s record of them.
async fn watch(api: Api<WatchedRoute>, kind: RouteKind, wakes: Wakes, state: Arc<State>) {
    let selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    watcher(api, watcher::Config::default().labels(&selector))
        .backoff(backoff::WatchBackoff::default())
        .for_each(|event| {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    tracing::debug!(error = %e, kind = kind.as_str(), "watching Gateway API routes");
                    return std::future::ready(());
                }
            };
            state.seen.follow(kind, &event);
            if let watcher::Event::Apply(route) | watcher::Event::Delete(route) = &event
                && let (Some(owner), Some(ns)) =
                    (owner_of(route.owner_references()), &route.metadata.namespace)
            {
                wakes.wake(Key::new(owner).within(ns));
            }
            std::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, owner: Option<&str>) -> WatchedRoute {
        let metadata = kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("team".into()),
            owner_references: owner.map(|o| {
                vec![OwnerReference {
                    kind: OWNER_KIND.into(),
                    name: o.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        };
        WatchedRoute {
            metadata,
            edited: false,
            status: RouteStatus::default(),
        }
    }

    #[test]
    fn the_watch_record_follows_writes_deletions_and_forgets_what_a_relist_lacks() {
        use watcher::Event::*;
        let seen = Seen::default();
        let http = RouteKind::Http;
        let owner = |name: &str| seen.owner(http, "team", name);
        seen.follow(http, &Apply(meta("web", Some("web"))));
        seen.follow(http, &Apply(meta("api", Some("api"))));
        // Labelled by someone else without an owner: not meshroute's.
        seen.follow(http, &Apply(meta("copy", None)));
        assert_eq!((owner("web"), owner("copy")), (Some("web".into()), None));
        assert_eq!(seen.owner(RouteKind::Grpc, "team", "web"), None);
        seen.follow(http, &Delete(meta("web", Some("web"))));
        assert_eq!(owner("web"), None);
        // A relist after a gap: what it no longer lists (api) is forgotten when it is done.
        seen.follow(http, &Init);
        seen.follow(http, &InitApply(meta("new", Some("new"))));
        assert_eq!(
            owner("api"),
            Some("api".into()),
            "kept until the list is done"
        );
        seen.follow(http, &InitDone);
        assert_eq!((owner("api"), owner("new")), (None, Some("new".into())));
    }

    /// A record keeps its route's status whole, packed into a few dozen bytes.
    #[test]
    fn a_record_keeps_the_status_whole_and_small() {
        let mut route = meta("web", Some("web"));
        route.status = serde_json::from_value(serde_json::json!({ "parents": [{
            "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway",
                "namespace": "gateway-jd2ms", "name": "gw" },
            "controllerName": "traefik.io/gateway-controller",
            "conditions": [
                { "type": "Accepted", "status": "True", "reason": "Accepted",
                  "observedGeneration": 3 },
                { "type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs",
                  "observedGeneration": 3 }] }] }))
        .unwrap();
        let record = Record::of(&route).expect("owned");
        assert_eq!(record.status(), route.status);
        assert!(record.status.size() < 80, "{} bytes", record.status.size());
    }

    #[test]
    fn a_verdict_at_the_routes_generation_is_progress_of_its_gateway() {
        let seen = Seen::default();
        let parent = Parent {
            namespace: "edge".into(),
            name: "gw".into(),
            section: None,
        };
        let judged = |generation: i64, observed: i64| {
            let mut route = meta("web", Some("web"));
            route.metadata.generation = Some(generation);
            route.status = serde_json::from_value(serde_json::json!({ "parents": [{
                "parentRef": { "name": "gw", "namespace": "edge" },
                "conditions": [{ "type": "Accepted", "status": "True",
                                 "observedGeneration": observed }] }] }))
            .unwrap();
            route
        };
        // A status about an earlier generation (an edit not judged yet) is no progress.
        seen.follow(RouteKind::Http, &watcher::Event::Apply(judged(2, 1)));
        assert_eq!(seen.since_progress(&parent), None);
        seen.follow(RouteKind::Http, &watcher::Event::Apply(judged(2, 2)));
        assert!(seen.since_progress(&parent).unwrap() < std::time::Duration::from_secs(1));
    }
}
