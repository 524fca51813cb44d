//! What one reconcile does on each backend, decided once from what it read: whether the route
//! is refused, what happens to its App Mesh route and to its Gateway API route. Pure; the table
//! in the tests walks every cut-over transition (App Mesh -> both -> Gateway API -> both ->
//! App Mesh), a route Gateway API cannot say, refusal, conflict and deletion.

use super::serving::{Parent, Serving, Servings};
use super::status;
use crate::api::GatewayRoute;
use crate::api::Reason;
use crate::gatewayapi::{self, Mapped};

/// What a reconcile read that decides its work.
pub struct Read<'a> {
    pub route: &'a GatewayRoute,
    /// Why tenancy (a VirtualGatewayPolicy) does not permit the route on its gateway.
    pub not_permitted: Option<String>,
    /// An older route (`namespace/name`) with the same match and priority on its gateway.
    pub conflict: Option<&'a str>,
    pub serving: &'a Serving,
    /// How GatewayRoutes become Gateway API routes (`run`'s mapping flags).
    pub mapping: &'a gatewayapi::Options,
}

/// What happens to the route's App Mesh gateway route where Gateway API serves its gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMesh {
    /// Planned and applied as its spec says (`both`, or a route App Mesh keeps).
    Apply,
    /// Deleted: its gateway is served by Gateway API alone, and the status records one.
    Retire,
    /// Nothing to do: Gateway API alone serves it and the status records no App Mesh route.
    Leave,
}

/// How a route whose gateway went back to App Mesh alone left Gateway API, its Gateway API
/// route (recorded in its status) to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// Through `both`: App Mesh held its route throughout.
    ThroughBoth,
    /// Straight from Gateway API alone: no App Mesh route served it until this reconcile's.
    Straight,
}

/// The work of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub enum Work<'a> {
    /// Neither backend is touched; the status says why (`NotPermitted`, `RouteConflict`).
    Refuse { reason: Reason, why: String },
    /// App Mesh alone serves the gateway: its route is applied, and the Gateway API route the
    /// status records, if any, is deleted.
    AppMesh { left_gateway_api: Option<Left> },
    /// Gateway API serves the gateway, alone or with App Mesh.
    GatewayApi {
        /// The Gateway its route attaches to.
        parent: &'a Parent,
        /// The route's HTTPRoute or GRPCRoute, and the findings (no object: Gateway API cannot
        /// say it, and the one written for an earlier spec goes).
        mapped: Mapped,
        app_mesh: AppMesh,
        /// App Mesh keeps serving a route whose gateway Gateway API alone serves, because
        /// Gateway API cannot say it: a cut-over never leaves a route served by nothing.
        kept_on_app_mesh: bool,
    },
}

pub fn decide<'a>(read: &Read<'a>) -> Work<'a> {
    let spec = &read.route.spec;
    if let Some(why) = &read.not_permitted {
        return Work::Refuse {
            reason: Reason::NotPermitted,
            why: why.clone(),
        };
    }
    if let Some(other) = read.conflict {
        return Work::Refuse {
            reason: Reason::RouteConflict,
            why: format!(
                "{other} is older and has the same match and priority on {}/{}: App Mesh would \
                 serve only one of them; change this route's match or priority, or delete one",
                spec.mesh_name, spec.virtual_gateway_name
            ),
        };
    }
    let status = read.route.status.as_ref();
    let has_app_mesh = status.is_some_and(|s| s.arn.is_some());
    let Some(parent) = read.serving.gateway_api() else {
        let has_gateway_api = status.is_some_and(|s| s.gateway_api_route.is_some());
        let left_gateway_api = has_gateway_api.then_some(if has_app_mesh {
            Left::ThroughBoth
        } else {
            Left::Straight
        });
        return Work::AppMesh { left_gateway_api };
    };
    let mapped = gatewayapi::route_object(read.route, parent.reference(), read.mapping);
    let kept_on_app_mesh = !read.serving.app_mesh() && mapped.0.is_none();
    let app_mesh = if read.serving.app_mesh() || kept_on_app_mesh {
        AppMesh::Apply
    } else if has_app_mesh {
        AppMesh::Retire
    } else {
        AppMesh::Leave
    };
    Work::GatewayApi {
        parent,
        mapped,
        app_mesh,
        kept_on_app_mesh,
    }
}

/// Whether an object listed at start-up (a restart, a failover) needs no reconcile of its own:
/// App Mesh alone serves it and its status says it is in sync at its generation, so the drift
/// pass's start-up pass checks it (one page per 100 routes) and wakes it if its route changed.
/// A route Gateway API serves, or whose Gateway API route must go, is reconciled.
pub fn vouched_by_drift(route: &GatewayRoute, servings: &Servings) -> bool {
    status::in_sync(route)
        && servings.of(route).gateway_api().is_none()
        && route
            .status
            .as_ref()
            .is_some_and(|s| s.gateway_api_route.is_none())
}

/// What a deleted GatewayRoute's finalizer removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    /// Its Gateway API route, first (the finalizer waits for that).
    pub gateway_api: bool,
    /// Its App Mesh route. Not asked where Gateway API alone serves the gateway and the status
    /// records no App Mesh route: App Mesh may be gone for good.
    pub app_mesh: bool,
}

pub fn cleanup(serving: &Serving, route: &GatewayRoute) -> Cleanup {
    let status = route.status.as_ref();
    Cleanup {
        gateway_api: serving.gateway_api().is_some()
            || status.is_some_and(|s| s.gateway_api_route.is_some()),
        app_mesh: serving.app_mesh() || status.is_some_and(|s| s.arn.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use kube::ResourceExt;

    use super::*;
    use crate::api::{GatewayApiRoute, GatewayRouteStatus};
    use crate::reconcile::testing::object;

    fn gateway() -> Parent {
        Parent {
            namespace: "infra".into(),
            name: "shared".into(),
            section: None,
        }
    }

    /// A route whose status records an App Mesh route (`arn`) and a Gateway API route or not.
    fn recorded(mut route: GatewayRoute, arn: bool, gateway_api: bool) -> GatewayRoute {
        route.status = Some(GatewayRouteStatus {
            arn: arn.then(|| "arn:aws:appmesh:...".into()),
            gateway_api_route: gateway_api.then(|| GatewayApiRoute {
                kind: "HTTPRoute".into(),
                parent: "infra/shared".into(),
            }),
            ..Default::default()
        });
        route
    }

    /// What a row expects: App Mesh alone (how it left Gateway API), or Gateway API with App
    /// Mesh's part and whether App Mesh keeps the route.
    #[derive(Debug, PartialEq)]
    enum Want<'a> {
        AppMesh(Option<Left>),
        GatewayApi(&'a Parent, AppMesh, bool),
    }

    fn summary<'a>(work: &Work<'a>) -> Want<'a> {
        match work {
            Work::GatewayApi {
                parent,
                app_mesh,
                kept_on_app_mesh,
                ..
            } => Want::GatewayApi(parent, *app_mesh, *kept_on_app_mesh),
            Work::AppMesh { left_gateway_api } => Want::AppMesh(*left_gateway_api),
            Work::Refuse { why, .. } => panic!("refused: {why}"),
        }
    }

    #[test]
    fn one_decision_per_reconcile_through_a_whole_cut_over_and_back() {
        let mapping = gatewayapi::Options {
            backend_port: 80,
            ..Default::default()
        };
        let plain = object("web", "/web", "svc");
        // An inverted header match: Gateway API cannot say it.
        let mut unsayable = object("canary", "/pay", "svc");
        unsayable
            .spec
            .http_route
            .as_mut()
            .unwrap()
            .route_match
            .headers = Some(vec![
            serde_json::from_value(serde_json::json!(
                { "name": "x-debug", "invert": true, "match": { "exact": "on" } }
            ))
            .unwrap(),
        ]);
        let gw = gateway();
        let (am, both, ga) = (
            Serving::AppMesh,
            Serving::Both(gw.clone()),
            Serving::GatewayApi(gw.clone()),
        );
        use Want::{AppMesh as Alone, GatewayApi as On};
        // (step, route, serving, what its status records: App Mesh route, Gateway API route;
        // the work), in the order a cut-over takes them.
        type Row<'a> = (
            &'a str,
            &'a GatewayRoute,
            &'a Serving,
            (bool, bool),
            Want<'a>,
        );
        let rows: [Row; 12] = [
            ("new, app-mesh", &plain, &am, (false, false), Alone(None)),
            ("app-mesh", &plain, &am, (true, false), Alone(None)),
            (
                "both",
                &plain,
                &both,
                (true, false),
                On(&gw, AppMesh::Apply, false),
            ),
            (
                "gateway-api",
                &plain,
                &ga,
                (true, true),
                On(&gw, AppMesh::Retire, false),
            ),
            (
                "gateway-api, retired",
                &plain,
                &ga,
                (false, true),
                On(&gw, AppMesh::Leave, false),
            ),
            (
                "back to both",
                &plain,
                &both,
                (false, true),
                On(&gw, AppMesh::Apply, false),
            ),
            (
                "back to app-mesh",
                &plain,
                &am,
                (true, true),
                Alone(Some(Left::ThroughBoth)),
            ),
            // gateway-api straight to app-mesh: a gap `both` avoids.
            (
                "gateway-api to app-mesh",
                &plain,
                &am,
                (false, true),
                Alone(Some(Left::Straight)),
            ),
            // A route Gateway API cannot say: App Mesh keeps it at every step.
            (
                "app-mesh, notExported",
                &unsayable,
                &am,
                (true, false),
                Alone(None),
            ),
            (
                "both, notExported",
                &unsayable,
                &both,
                (true, false),
                On(&gw, AppMesh::Apply, false),
            ),
            (
                "gateway-api, notExported",
                &unsayable,
                &ga,
                (true, false),
                On(&gw, AppMesh::Apply, true),
            ),
            // Deleted from App Mesh by an older meshroute: created again.
            (
                "gateway-api, notExported, gone",
                &unsayable,
                &ga,
                (false, false),
                On(&gw, AppMesh::Apply, true),
            ),
        ];
        for (step, route, serving, (arn, gateway_api), want) in rows {
            let route = recorded(route.clone(), arn, gateway_api);
            let work = decide(&Read {
                route: &route,
                not_permitted: None,
                conflict: None,
                serving,
                mapping: &mapping,
            });
            assert_eq!(summary(&work), want, "{step}");
            if let Work::GatewayApi { mapped, .. } = &work {
                assert_eq!(mapped.0.is_none(), route.name_any() == "canary", "{step}");
            }
        }
    }

    #[test]
    fn a_refused_route_touches_neither_backend() {
        let route = object("web", "/web", "svc");
        let gw = gateway();
        for serving in [
            Serving::AppMesh,
            Serving::Both(gw.clone()),
            Serving::GatewayApi(gw),
        ] {
            let mapping = gatewayapi::Options::default();
            let read = |not_permitted: Option<&str>, conflict| Read {
                route: &route,
                not_permitted: not_permitted.map(String::from),
                conflict,
                serving: &serving,
                mapping: &mapping,
            };
            let refused = decide(&read(Some("team may not use gw"), Some("team/older")));
            assert_eq!(
                refused,
                Work::Refuse {
                    reason: Reason::NotPermitted,
                    why: "team may not use gw".into()
                },
                "tenancy is decided before collisions"
            );
            let Work::Refuse { reason, why } = decide(&read(None, Some("team/older"))) else {
                panic!("a conflict refuses the route");
            };
            assert_eq!(reason, Reason::RouteConflict);
            assert!(why.starts_with("team/older is older"), "{why}");
        }
    }

    #[test]
    fn deletion_removes_what_serves_or_served_it() {
        let gw = gateway();
        let with = |arn, gateway_api| recorded(object("web", "/web", "svc"), arn, gateway_api);
        let cleanup_of =
            |serving: &Serving, arn, gateway_api| cleanup(serving, &with(arn, gateway_api));
        let c = |gateway_api, app_mesh| Cleanup {
            gateway_api,
            app_mesh,
        };
        let (am, ga) = (Serving::AppMesh, Serving::GatewayApi(gw.clone()));
        assert_eq!(cleanup_of(&am, true, false), c(false, true));
        // Taken back from Gateway API: its route still goes.
        assert_eq!(cleanup_of(&am, true, true), c(true, true));
        assert_eq!(
            cleanup_of(&Serving::Both(gw.clone()), true, true),
            c(true, true)
        );
        // Gateway API alone, nothing in App Mesh recorded: App Mesh is not asked.
        assert_eq!(cleanup_of(&ga, false, true), c(true, false));
        // A route App Mesh kept (notExported) is still removed from App Mesh.
        assert_eq!(cleanup_of(&ga, true, false), c(true, true));
    }

    #[test]
    fn only_routes_app_mesh_alone_serves_in_sync_wait_for_the_drift_pass_at_start_up() {
        let servings = |backend: &str| {
            let rule = format!(
                "{}/{}={backend}",
                crate::reconcile::testing::MESH,
                crate::reconcile::testing::GATEWAY
            );
            Servings::new(vec![crate::reconcile::serving::rule(&rule).unwrap()]).unwrap()
        };
        let in_sync = |gateway_api: bool| {
            let mut route = recorded(object("web", "/web", "svc"), true, gateway_api);
            route.metadata.finalizers = Some(vec![crate::api::ownership::FINALIZER.into()]);
            let status = route.status.as_mut().unwrap();
            status.observed_generation = Some(1);
            status.conditions = vec![
                serde_json::from_value(serde_json::json!({
                "type": "Ready", "status": "True", "reason": "Synced", "message": "",
                "observedGeneration": 1, "lastTransitionTime": "2026-12-04T00:00:00Z" }))
                .unwrap(),
            ];
            route
        };
        let failed = recorded(object("web", "/web", "svc"), true, false);
        // (route, serving, left to the drift pass)
        let rows = [
            (in_sync(false), "app-mesh", true),
            (failed, "app-mesh", false),
            // Its Gateway API route must go: reconciled.
            (in_sync(true), "app-mesh", false),
            (in_sync(false), "both:infra/shared", false),
            (in_sync(false), "gateway-api:infra/shared", false),
        ];
        for (i, (route, backend, want)) in rows.into_iter().enumerate() {
            assert_eq!(
                vouched_by_drift(&route, &servings(backend)),
                want,
                "row {i}"
            );
        }
    }
}
