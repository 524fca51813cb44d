//! ListGatewayRoutes pages as proof. A page lists up to 100 routes of a virtual gateway with
//! each one's ARN, version and creation time; a route whose ARN, version and `createdAt` are
//! what an object's status recorded is the very route instance the object last saw, unchanged
//! (every UpdateGatewayRoute bumps the version; a route deleted and made again has a new
//! `createdAt`). So one page checks up to 100 routes for drift, after a restart or a leader
//! failover too, and proves a route is the object's own before a delete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::desired::Desired;
use super::plan::Recorded;
use crate::api::GatewayRouteSpec;
use crate::appmesh::{AppMesh, AppMeshError, ListedRoute, ObservedRoute, RouteKey};

/// A virtual gateway, where its routes are listed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gateway {
    pub mesh: String,
    pub mesh_owner: Option<String>,
    pub name: String,
}

impl Gateway {
    pub fn of(key: &RouteKey) -> Gateway {
        Gateway {
            mesh: key.mesh.clone(),
            mesh_owner: key.mesh_owner.clone(),
            name: key.gateway.clone(),
        }
    }

    /// The gateway a spec's route belongs to.
    pub fn of_spec(spec: &GatewayRouteSpec) -> Gateway {
        Gateway {
            mesh: spec.mesh_name.clone(),
            mesh_owner: spec.mesh_owner.clone(),
            name: spec.virtual_gateway_name.clone(),
        }
    }
}

/// Every route of one virtual gateway, as listed at one moment, and as meshroute itself changed
/// them since (its own creates, updates and deletes keep the page true).
#[derive(Debug)]
pub struct Page {
    pub fetched: Instant,
    /// By route name. A page may hold thousands of routes for as long as a drift period, so it
    /// keeps only what tells an instance and version apart.
    routes: Mutex<HashMap<Box<str>, Instance>>,
}

/// Which instance of a route, at which version.
#[derive(Debug)]
struct Instance {
    arn: Box<str>,
    version: i64,
    /// `createdAt` in whole seconds, as the status keeps it.
    created_at: Option<i64>,
}

impl Instance {
    fn of(arn: &str, version: i64, created_at: Option<&Time>) -> Instance {
        Instance {
            arn: arn.into(),
            version,
            created_at: created_at.map(|t| t.0.as_second()),
        }
    }
}

impl Page {
    pub fn new(routes: Vec<ListedRoute>) -> Page {
        Page {
            fetched: Instant::now(),
            routes: Mutex::new(
                routes
                    .into_iter()
                    .map(|r| {
                        let instance = Instance::of(&r.arn, r.version, r.created_at.as_ref());
                        (r.key.name.into_boxed_str(), instance)
                    })
                    .collect(),
            ),
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Instance>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the page proves `d`'s route still exactly as `rec` recorded it: the same
    /// instance at the same version, with the tags (ownership included) `d` wants now.
    pub fn vouches_for(&self, d: &Desired, rec: &Recorded) -> bool {
        rec.tagged_as(d) && self.vouches(&d.key.name, rec)
    }

    /// Whether the route `name` is still exactly the instance and version `rec` recorded.
    fn vouches(&self, name: &str, rec: &Recorded) -> bool {
        let routes = self.routes();
        let Some(listed) = routes.get(name) else {
            return false;
        };
        rec.arn.as_deref() == Some(&*listed.arn)
            && rec.version == Some(listed.version)
            && rec.created_at.is_some()
            && rec.created_at == listed.created_at
    }
}

/// The latest page of every gateway, fetched at most once at a time per gateway.
#[derive(Default)]
pub struct Pages {
    latest: Mutex<HashMap<Gateway, Arc<Page>>>,
    fetching: Mutex<HashMap<Gateway, Arc<tokio::sync::Mutex<()>>>>,
}

impl Pages {
    fn latest(&self) -> std::sync::MutexGuard<'_, HashMap<Gateway, Arc<Page>>> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gateway's routes as listed at most `max_age` ago: the cached list, or a new one
    /// (one ListGatewayRoutes call per 100 routes) shared with every caller waiting meanwhile.
    pub async fn get(
        &self,
        gateway: &Gateway,
        max_age: Duration,
        appmesh: &AppMesh,
    ) -> Result<Arc<Page>, AppMeshError> {
        let fresh = |pages: &Self| {
            pages
                .latest()
                .get(gateway)
                .filter(|p| p.fetched.elapsed() <= max_age)
                .cloned()
        };
        if let Some(page) = fresh(self) {
            return Ok(page);
        }
        let lock = self
            .fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(gateway.clone())
            .or_default()
            .clone();
        let started = Instant::now();
        let _one_at_a_time = lock.lock().await;
        // Fetched by someone else while this caller waited: that one is new enough.
        if let Some(page) = self
            .latest()
            .get(gateway)
            .filter(|p| p.fetched >= started || p.fetched.elapsed() <= max_age)
            .cloned()
        {
            return Ok(page);
        }
        let routes = appmesh
            .list_routes(&gateway.mesh, gateway.mesh_owner.as_deref(), &gateway.name)
            .await?;
        let page = Arc::new(Page::new(routes));
        self.latest().insert(gateway.clone(), page.clone());
        Ok(page)
    }

    /// Records a route as meshroute just created or updated it, in the gateway's page if one
    /// is cached, so the page stays true without being listed again.
    pub fn wrote(&self, key: &RouteKey, route: &ObservedRoute) {
        if let Some(page) = self.latest().get(&Gateway::of(key)) {
            page.routes().insert(
                key.name.as_str().into(),
                Instance::of(&route.arn, route.version, route.created_at.as_ref()),
            );
        }
    }

    /// Records a route as deleted by meshroute.
    pub fn deleted(&self, key: &RouteKey) {
        if let Some(page) = self.latest().get(&Gateway::of(key)) {
            page.routes().remove(key.name.as_str());
        }
    }

    /// Drops the pages of gateways no object uses any more.
    pub fn keep_only(&self, gateways: &std::collections::BTreeSet<Gateway>) {
        self.latest().retain(|g, _| gateways.contains(g));
        self.fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|g, _| gateways.contains(g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, version: i64, created: i64) -> ListedRoute {
        ListedRoute {
            key: RouteKey {
                mesh: "m".into(),
                mesh_owner: None,
                gateway: "g".into(),
                name: name.into(),
            },
            arn: format!("arn/{name}"),
            version,
            // Sub-second precision, which the status does not keep.
            created_at: Some(Time(
                k8s_openapi::jiff::Timestamp::new(created, 250_000_000).unwrap(),
            )),
            last_updated_at: None,
        }
    }

    #[test]
    fn a_page_vouches_only_for_the_same_instance_at_the_same_version() {
        let page = Page::new(vec![listed("a", 3, 100)]);
        let rec = |arn: &str, version: i64, created: i64| Recorded {
            arn: Some(arn.into()),
            version: Some(version),
            created_at: Some(created),
            ..Recorded::default()
        };
        assert!(page.vouches("a", &rec("arn/a", 3, 100)));
        // Updated out of band, re-created out of band, another route, or gone.
        assert!(!page.vouches("a", &rec("arn/a", 2, 100)));
        assert!(!page.vouches("a", &rec("arn/a", 3, 99)));
        assert!(!page.vouches("a", &rec("arn/x", 3, 100)));
        assert!(!page.vouches("b", &rec("arn/b", 1, 100)));
        // Nothing recorded proves nothing.
        assert!(!page.vouches("a", &Recorded::default()));
    }
}
