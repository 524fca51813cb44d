//! The drift pass, outside the controller's queue: once per period, for each virtual gateway its
//! in-sync objects use, one ListGatewayRoutes page per 100 routes, compared with the versions
//! their statuses recorded. Only objects whose route changed or vanished are reconciled (and
//! described); a pass over N routes on G gateways costs at most ceil(N/100) + G calls plus the
//! changed routes. Gateways are spread evenly over the period, and every call waits in the
//! drift class, behind users' work and retries.
//!
//! Tags do not bump a route's version, so they are checked on their own, slower cadence
//! (`--tag-check-period`): each object once per cadence, spread evenly, one ListTags call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::desired::{Desired, Ownership};
use super::pages::Gateway;
use super::plan::Recorded;
use super::{Context, status};
use crate::api::GatewayRoute;
use crate::fair::Class;

/// Runs drift passes every `period` until the task is dropped. The first comes one period after
/// the start: at the start every object is reconciled anyway, and checked against a page then.
/// (It does not wait on the store's readiness: the store wakes only one waiter, the controller.)
pub async fn run(ctx: Arc<Context>, store: Store<GatewayRoute>, period: Duration) {
    tokio::time::sleep(period).await;
    let mut tags_checked: HashMap<String, Instant> = HashMap::new();
    loop {
        let pass = Instant::now();
        let gateways = in_sync_by_gateway(&store, &ctx.config.cluster_id);
        tracing::debug!(
            gateways = gateways.len(),
            routes = gateways.values().map(Vec::len).sum::<usize>(),
            "drift pass"
        );
        ctx.pages.keep_only(&gateways.keys().cloned().collect());
        let slot = period / u32::try_from(gateways.len().max(1)).unwrap_or(u32::MAX);
        let mut live = HashSet::new();
        for (gateway, objects) in gateways {
            let started = Instant::now();
            compare_page(&ctx, &gateway, &objects).await;
            if let Some(cadence) = ctx.config.tag_check {
                check_tags(&ctx, &objects, cadence, slot, &mut tags_checked).await;
            }
            live.extend(objects.iter().map(|(o, _)| o.uid().unwrap_or_default()));
            tokio::time::sleep_until((started + slot).into()).await;
        }
        tags_checked.retain(|uid, _| live.contains(uid));
        tokio::time::sleep_until((pass + period).into()).await;
    }
}

/// Objects that are in sync at their generation, with what App Mesh should hold for each, by
/// gateway.
fn in_sync_by_gateway(
    store: &Store<GatewayRoute>,
    cluster: &str,
) -> BTreeMap<Gateway, Vec<(Arc<GatewayRoute>, Desired)>> {
    let mut by_gateway: BTreeMap<Gateway, Vec<_>> = BTreeMap::new();
    for route in store.state() {
        if route.metadata.deletion_timestamp.is_some() || !status::ready_now(&route) {
            continue;
        }
        let desired = Desired::of(&route, cluster);
        by_gateway
            .entry(Gateway::of(&desired.key))
            .or_default()
            .push((route, desired));
    }
    by_gateway
}

/// Lists the gateway's routes afresh and reconciles each object whose route is no longer the
/// instance and version it recorded.
async fn compare_page(ctx: &Context, gateway: &Gateway, objects: &[(Arc<GatewayRoute>, Desired)]) {
    let page = Class::Drift
        .scope(ctx.pages.get(gateway, Duration::ZERO, &ctx.appmesh))
        .await;
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, gateway = %gateway.name, "drift pass: cannot list the gateway's routes");
            return;
        }
    };
    let mut changed = 0;
    for (route, desired) in objects {
        if !page.vouches_for(desired, &Recorded::of(route)) {
            changed += 1;
            ctx.wake(ObjectRef::from_obj(route.as_ref()));
        }
    }
    tracing::debug!(gateway = %gateway.name, routes = objects.len(), changed, "drift pass: gateway compared");
    ctx.metrics.drift_checked(objects.len(), changed);
}

/// Reads the tags of the objects whose tag check is due, spread over `slot`; an object whose
/// tags differ from what it wants is reconciled in full.
async fn check_tags(
    ctx: &Context,
    objects: &[(Arc<GatewayRoute>, Desired)],
    cadence: Duration,
    slot: Duration,
    checked: &mut HashMap<String, Instant>,
) {
    let now = Instant::now();
    let due: Vec<&(Arc<GatewayRoute>, Desired)> = objects
        .iter()
        .filter(|(route, _)| {
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
    for (route, desired) in due {
        tokio::time::sleep(gap).await;
        let Some(arn) = route.status.as_ref().and_then(|s| s.arn.clone()) else {
            continue;
        };
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
            ctx.check_in_full(route);
        }
    }
}
