//! The drift pass, outside the controller's queue: once per period, for each virtual gateway its
//! in-sync objects use, one ListGatewayRoutes page per 100 routes, compared with the versions
//! their statuses recorded. Only objects whose route changed or vanished are reconciled (and
//! described); a pass over N routes on G gateways costs at most ceil(N/100) + G calls plus the
//! changed routes. Gateways are spread evenly over the period, and every call waits in the
//! drift class, behind users' work and retries.
//!
//! The first pass comes at the start, right after the watch listed every object: it checks the
//! objects that were in sync when the operator stopped (or lost the lease), in place of a
//! reconcile each.
//!
//! Tags do not bump a route's version, so they are checked on their own, slower cadence
//! (`--tag-check-period`): each object once per cadence, spread evenly, one ListTags call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::runtime::reflector::Store;

use super::cache::{CachedRoute, Key};
use super::desired::{Desired, Ownership};
use super::pages::{Gateway, Pages};
use super::plan::Recorded;
use super::status;
use super::wakes::Wakes;
use crate::api::Reason;
use crate::appmesh::AppMesh;
use crate::fair::Class;
use crate::telemetry::Metrics;

/// What the drift pass works with: App Mesh, the pages it shares with reconciles, the metrics,
/// and a way to wake the objects whose route changed.
pub struct Drift {
    pub appmesh: Arc<AppMesh>,
    pub pages: Arc<Pages>,
    pub metrics: Arc<Metrics>,
    pub wakes: Wakes,
    /// The cluster id of the ownership tags.
    pub cluster_id: String,
    /// How often each in-sync route's tags are checked; `None` never.
    pub tag_check: Option<Duration>,
}

/// Runs drift passes every `period` until the task is dropped. The first, the start-up pass,
/// comes as soon as the watch has `listed` every object, and without spreading gateways over
/// the period: objects in sync at the start get no reconcile of their own (see `run`), and this
/// pass stands in for it.
pub async fn run(
    ctx: Drift,
    store: Store<CachedRoute>,
    mut listed: tokio::sync::watch::Receiver<bool>,
    period: Duration,
) {
    if listed.wait_for(|listed| *listed).await.is_err() {
        return;
    }
    let mut tags_checked: HashMap<String, Instant> = HashMap::new();
    let mut start_up = true;
    loop {
        let pass = Instant::now();
        let gateways = in_sync_by_gateway(&store);
        tracing::debug!(
            gateways = gateways.len(),
            routes = gateways.values().map(Vec::len).sum::<usize>(),
            start_up,
            "drift pass"
        );
        ctx.pages.keep_only(&gateways.keys().cloned().collect());
        let slot = if start_up {
            Duration::ZERO
        } else {
            period / u32::try_from(gateways.len().max(1)).unwrap_or(u32::MAX)
        };
        let mut live = HashSet::new();
        for (gateway, objects) in gateways {
            let started = Instant::now();
            compare_page(&ctx, &gateway, &objects, start_up).await;
            if let Some(cadence) = ctx.tag_check {
                check_tags(&ctx, &store, &objects, cadence, slot, &mut tags_checked).await;
            }
            live.extend(objects.iter().map(|o| o.uid().unwrap_or_default()));
            tokio::time::sleep_until((started + slot).into()).await;
        }
        tags_checked.retain(|uid, _| live.contains(uid));
        start_up = false;
        tokio::time::sleep_until((pass + period).into()).await;
    }
}

/// Objects that are in sync at their generation, by gateway. Each is decoded again when its
/// gateway's turn comes: a pass holds no decoded object longer than it compares it.
fn in_sync_by_gateway(store: &Store<CachedRoute>) -> BTreeMap<Gateway, Vec<Arc<CachedRoute>>> {
    let mut by_gateway: BTreeMap<Gateway, Vec<_>> = BTreeMap::new();
    for cached in store.state() {
        let route = cached.route();
        // Routes App Mesh holds nothing for (Gateway API alone serves their gateway) are not
        // App Mesh's to check.
        let in_app_mesh = route.status.as_ref().is_some_and(|s| s.arn.is_some());
        if route.metadata.deletion_timestamp.is_some() || !status::ready_now(&route) || !in_app_mesh
        {
            continue;
        }
        by_gateway
            .entry(Gateway::of_spec(&route.spec))
            .or_default()
            .push(cached);
    }
    by_gateway
}

/// Lists the gateway's routes afresh and reconciles each object whose route is no longer the
/// instance and version it recorded. At `start_up` an object the page vouches for counts as
/// reconciled (Synced), and if the gateway cannot be listed, every object is reconciled.
async fn compare_page(
    ctx: &Drift,
    gateway: &Gateway,
    objects: &[Arc<CachedRoute>],
    start_up: bool,
) {
    let page = Class::Drift
        .scope(ctx.pages.get(gateway, Duration::ZERO, &ctx.appmesh))
        .await;
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, gateway = %gateway.name, "drift pass: cannot list the gateway's routes");
            if start_up {
                for cached in objects {
                    ctx.wakes.wake(Key::from_obj(cached));
                }
            }
            return;
        }
    };
    let mut changed = 0;
    for cached in objects {
        let route = cached.route();
        let desired = Desired::of(&route, &ctx.cluster_id);
        if !page.vouches_for(&desired, &Recorded::of(&route)) {
            changed += 1;
            ctx.wakes.wake(Key::from_obj(cached));
        } else if start_up {
            ctx.metrics
                .reconciled(&route.uid().unwrap_or_default(), Reason::Synced);
        }
    }
    tracing::debug!(gateway = %gateway.name, routes = objects.len(), changed, "drift pass: gateway compared");
    ctx.metrics.drift_checked(objects.len(), changed);
}

/// Reads the tags of the objects whose tag check is due, spread over `slot`; an object whose
/// tags differ from what it wants is reconciled in full.
async fn check_tags(
    ctx: &Drift,
    store: &Store<CachedRoute>,
    objects: &[Arc<CachedRoute>],
    cadence: Duration,
    slot: Duration,
    checked: &mut HashMap<String, Instant>,
) {
    let now = Instant::now();
    let due: Vec<&Arc<CachedRoute>> = objects
        .iter()
        .filter(|route| {
            // First seen: as if checked at a random moment of the last cadence, so the checks
            // of objects applied together spread over the cadence.
            let last = *checked
                .entry(route.uid().unwrap_or_default())
                .or_insert_with(|| {
                    now.checked_sub(crate::backoff::uniform(cadence))
                        .unwrap_or(now)
                });
            now.duration_since(last) >= cadence
        })
        .collect();
    let gap = slot / u32::try_from(due.len() + 1).unwrap_or(u32::MAX);
    for cached in due {
        tokio::time::sleep(gap).await;
        // Deleted or being deleted since the pass began: its delete proves the route by a
        // page, and a tag read of a route just deleted would only wake it again.
        let key = Key::from_obj(cached.as_ref());
        if store
            .get(&key)
            .is_none_or(|now| now.route().metadata.deletion_timestamp.is_some())
        {
            continue;
        }
        let route = cached.route();
        let Some(arn) = route.status.as_ref().and_then(|s| s.arn.clone()) else {
            continue;
        };
        let desired = Desired::of(&route, &ctx.cluster_id);
        let tags = Class::Drift.scope(ctx.appmesh.tags_of(&arn)).await;
        let drifted = match &tags {
            Ok(Some(tags)) => {
                desired.ownership(tags) != Ownership::Ours || !desired.tag_changes(tags).is_empty()
            }
            Ok(None) => true,
            Err(e) => {
                tracing::debug!(error = %e, "drift pass: cannot read tags");
                continue;
            }
        };
        checked.insert(route.uid().unwrap_or_default(), Instant::now());
        if drifted {
            ctx.wakes
                .check_in_full(key, &route.uid().unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;
    use crate::reconcile::testing::{Bed, CLUSTER, GATEWAY, MESH, SERVICE, object};

    /// Three routes in sync (`kept`, `changed`, `gone`) and one never synced (`new`), in a
    /// store as the controller caches them, and the drift pass's view of the bed.
    async fn in_sync_routes(bed: &Bed) -> (Store<CachedRoute>, Drift, UnboundedKeys) {
        let (store, mut writer) = reflector::store::<CachedRoute>();
        for name in ["kept", "changed", "gone"] {
            let (route, _) = bed.sync(object(name, &format!("/{name}"), SERVICE)).await;
            writer.apply_watcher_event(&watcher::Event::Apply(route.into()));
        }
        writer.apply_watcher_event(&watcher::Event::Apply(
            object("new", "/new", SERVICE).into(),
        ));
        let (wakes, woken) = Wakes::new();
        let drift = Drift {
            appmesh: bed.appmesh.clone(),
            pages: Arc::default(),
            metrics: Arc::default(),
            wakes,
            cluster_id: CLUSTER.into(),
            tag_check: Some(Duration::from_secs(3600)),
        };
        (store, drift, woken)
    }

    type UnboundedKeys = futures::channel::mpsc::UnboundedReceiver<Key>;

    /// The names of the objects woken so far.
    fn woken(keys: &mut UnboundedKeys) -> Vec<String> {
        let mut names = Vec::new();
        while let Ok(key) = keys.try_recv() {
            names.push(key.name);
        }
        names.sort();
        names
    }

    #[tokio::test]
    async fn one_page_finds_what_changed_outside_meshroute() {
        let bed = Bed::new().await;
        let (store, drift, mut keys) = in_sync_routes(&bed).await;
        let gateways = in_sync_by_gateway(&store);
        let objects = &gateways[&Gateway {
            mesh: MESH.into(),
            mesh_owner: None,
            name: GATEWAY.into(),
        }];
        assert_eq!(gateways.len(), 1);
        assert_eq!(objects.len(), 3, "the object never synced is not checked");

        let spec = json!({ "httpRoute": { "match": { "prefix": "/moved" },
            "action": { "target": { "virtualService": { "virtualServiceName": SERVICE } } } } });
        let at = |name: &str| json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": name });
        let mut update = at("changed_team");
        update["spec"] = spec;
        bed.out_of_band("UpdateGatewayRoute", update);
        bed.out_of_band("DeleteGatewayRoute", at("gone_team"));
        bed.emulator.emulator.reset_counters();

        let gateway = gateways.keys().next().unwrap();
        compare_page(&drift, gateway, objects, false).await;
        assert_eq!(woken(&mut keys), ["changed", "gone"]);
        assert_eq!(bed.calls("ListGatewayRoutes"), 1);
        assert_eq!(bed.all_calls(), 1, "one page, nothing described");
        let metrics = drift.metrics.encode();
        assert!(
            metrics.contains("meshroute_drift_found_routes_total 2"),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn changed_tags_ask_for_a_full_check() {
        let bed = Bed::new().await;
        let (store, drift, mut keys) = in_sync_routes(&bed).await;
        let objects: Vec<_> = in_sync_by_gateway(&store).into_values().flatten().collect();
        let arn = bed.route("kept_team").unwrap()["metadata"]["arn"].clone();
        bed.out_of_band(
            "TagResource",
            json!({ "resourceArn": arn, "tags": [{ "key": "added", "value": "by hand" }] }),
        );
        // Every object was last checked longer ago than the cadence.
        let cadence = Duration::from_secs(3600);
        let long_ago = Instant::now() - cadence * 2;
        let all_long_ago = || -> HashMap<String, Instant> {
            objects
                .iter()
                .map(|o| (o.uid().unwrap(), long_ago))
                .collect()
        };
        let mut checked = all_long_ago();
        bed.emulator.emulator.reset_counters();
        check_tags(
            &drift,
            &store,
            &objects,
            cadence,
            Duration::ZERO,
            &mut checked,
        )
        .await;
        assert_eq!(bed.calls("ListTagsForResource"), 3);
        assert_eq!(woken(&mut keys), ["kept"]);
        assert!(drift.wakes.take_full_check("uid-kept"));
        assert!(!drift.wakes.take_full_check("uid-changed"));
        assert!(checked.values().all(|at| *at > long_ago), "all checked now");

        // `kept` is being deleted and `gone` was deleted since the pass began: neither costs a
        // call, and the object being deleted is not woken by its own route's tags.
        let (now, mut writer) = reflector::store::<CachedRoute>();
        for o in &objects {
            let mut route = serde_json::to_value(o.route()).unwrap();
            match route["metadata"]["name"].as_str() {
                Some("gone") => continue,
                Some("kept") => {
                    route["metadata"]["deletionTimestamp"] = json!("2026-12-04T00:00:00Z")
                }
                _ => {}
            }
            let route: crate::api::GatewayRoute = serde_json::from_value(route).unwrap();
            writer.apply_watcher_event(&watcher::Event::Apply(route.into()));
        }
        bed.emulator.emulator.reset_counters();
        check_tags(
            &drift,
            &now,
            &objects,
            cadence,
            Duration::ZERO,
            &mut all_long_ago(),
        )
        .await;
        assert_eq!(bed.calls("ListTagsForResource"), 1, "only `changed`");
        assert_eq!(woken(&mut keys), Vec::<String>::new());
    }
}
