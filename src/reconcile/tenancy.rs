//! Who may put routes on which gateway, as the operator enforces it: the VirtualGatewayPolicies
//! and the namespaces' labels, each kept in a watch's cache, and the GatewayRoutes a change to
//! either concerns woken for a reconcile. The rule itself is `api::policy::refusal` (pure).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use super::cache::{CachedRoute, Key};
use super::wakes::Wakes;
use crate::api::GatewayRoute;
use crate::api::policy::{self, Refusal, VirtualGatewayPolicy};
use crate::backoff;

type Writers = (
    reflector::store::Writer<VirtualGatewayPolicy>,
    reflector::store::Writer<PartialObjectMeta<Namespace>>,
);

/// The policies and namespace labels the operator checks every route against.
pub struct Permits {
    policies: Store<VirtualGatewayPolicy>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    /// `--require-policy`: a gateway no policy governs takes no routes.
    required: bool,
    /// Taken by [`Permits::watch`] when the controller starts.
    writers: Mutex<Option<Writers>>,
}

impl Permits {
    pub fn new(required: bool) -> Permits {
        let (policies, policy_writer) = reflector::store();
        let (namespaces, namespace_writer) = reflector::store();
        Permits {
            policies,
            namespaces,
            required,
            writers: Mutex::new(Some((policy_writer, namespace_writer))),
        }
    }

    /// Why `route` may not be on its gateway, if it may not.
    pub fn refusal(&self, route: &GatewayRoute) -> Option<Refusal> {
        let namespace = route.namespace().unwrap_or_default();
        let labels = self
            .namespaces
            .get(&ObjectRef::new(&namespace))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default();
        let policies = self.policies.state();
        policy::refusal(
            policies.iter().map(AsRef::as_ref),
            &namespace,
            &labels,
            &route.spec,
            self.required,
        )
    }

    /// Watches policies and namespaces until the process ends, waking the routes (`routes`, the
    /// controller's cache) each change concerns. Returns once both caches are filled, so no
    /// route is checked against a policy not yet read.
    pub async fn watch(&self, client: kube::Client, routes: Store<CachedRoute>, wakes: Wakes) {
        let Some((policy_writer, namespace_writer)) = self
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let api = Api::<VirtualGatewayPolicy>::all(client.clone());
        let answer = api.list_metadata(&ListParams::default().limit(1)).await;
        let installed = !matches!(answer, Err(kube::Error::Api(e)) if e.code == 404);
        if !installed {
            tracing::warn!(
                "the VirtualGatewayPolicy CRD is not installed: no policy is enforced{}; \
                 install crds/virtualgatewaypolicies.meshroute.io.yaml (the chart does)",
                if self.required {
                    ", and --require-policy refuses every route"
                } else {
                    ""
                }
            );
        }
        let policies = watcher(api, Default::default())
            .backoff(backoff::WatchBackoff::default())
            .reflect(policy_writer);
        tokio::spawn({
            let (routes, wakes) = (routes.clone(), wakes.clone());
            policies.for_each(move |event| {
                // A new, edited or deleted policy: every route of its mesh is checked again.
                if let Ok(watcher::Event::Apply(p) | watcher::Event::Delete(p)) = event {
                    wake_routes(&routes, &wakes, |r| r.spec.mesh_name == p.spec.mesh_name);
                }
                std::future::ready(())
            })
        });
        let namespaces = watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client),
            Default::default(),
        )
        .backoff(backoff::WatchBackoff::default())
        .reflect(namespace_writer);
        tokio::spawn(async move {
            let mut labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
            namespaces
                .for_each(|event| {
                    // Relabelled: the routes of that namespace are checked again.
                    if let Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns)) = event {
                        let now = ns.labels().clone();
                        let before = labels.insert(ns.name_any(), now.clone());
                        if before.is_some_and(|b| b != now) {
                            let name = ns.name_any();
                            wake_routes(&routes, &wakes, |r| {
                                r.namespace().as_deref() == Some(name.as_str())
                            });
                        }
                    }
                    std::future::ready(())
                })
                .await;
        });
        if installed {
            let _ = self.policies.wait_until_ready().await;
        }
        let _ = self.namespaces.wait_until_ready().await;
    }
}

/// Wakes every cached route for which `concerned` holds.
fn wake_routes(
    routes: &Store<CachedRoute>,
    wakes: &Wakes,
    concerned: impl Fn(&GatewayRoute) -> bool,
) {
    for cached in routes.state() {
        if concerned(&cached.without_status()) {
            wakes.wake(Key::from_obj(cached.as_ref()));
        }
    }
}

/// The message of a route that may not be on its gateway (`why`), with what happens to an
/// App Mesh route it already has. That route is left as it is (a policy edited by mistake must
/// not take traffic down): meshroute stops updating it and says so until the object is deleted
/// (which deletes the route as usual) or permitted again.
pub fn left_alone_message(route: &GatewayRoute, why: &str) -> String {
    match route.status.as_ref().and_then(|s| s.arn.as_deref()) {
        Some(arn) => format!(
            "{why}; its App Mesh route {arn} stays as it is and is no longer updated: delete this \
             GatewayRoute to delete it, or change what refuses it"
        ),
        None => format!("{why}; no App Mesh route was created"),
    }
}
