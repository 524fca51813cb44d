//! What the reconcile modules' tests share: an App Mesh emulator in-process, reached by
//! meshroute's real SDK client over loopback, and GatewayRoutes to point at it.

use std::sync::{Arc, Once};
use std::time::Duration;

use serde_json::{Value, json};

use super::deps::Dependencies;
use super::desired::Desired;
use super::execute::{self, Env};
use super::outcome::{self, Did, OnAppMesh};
use super::pages::Pages;
use super::plan::{Change, Recorded};
use crate::api::GatewayRoute;
use crate::appmesh::{AppMesh, Settings};
use crate::telemetry::Metrics;

/// The cluster id of the tests' ownership tags.
pub const CLUSTER: &str = "prod";

pub const MESH: &str = "apps";
pub const GATEWAY: &str = "gw";
pub const SERVICE: &str = "svc.apps.local";

/// An emulator holding [`MESH`], [`GATEWAY`] and [`SERVICE`], and a client for it.
pub struct Bed {
    pub emulator: appmesh_emulator::Handle,
    pub appmesh: Arc<AppMesh>,
    pub deps: Dependencies,
    pub pages: Pages,
    pub cluster: kube::Client,
}

impl Bed {
    pub async fn new() -> Bed {
        static CREDENTIALS: Once = Once::new();
        // SAFETY: set once, before the first client of this test binary reads the environment;
        // nothing else in the library's tests reads or writes it.
        CREDENTIALS.call_once(|| unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
            std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        });
        let emulator =
            appmesh_emulator::spawn(appmesh_emulator::Settings::default(), 0).expect("emulator");
        let e = &emulator.emulator;
        e.invoke("CreateMesh", &json!({ "meshName": MESH }))
            .unwrap();
        e.invoke(
            "CreateVirtualGateway",
            &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "spec": { "listeners": [
                { "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        )
        .unwrap();
        e.invoke(
            "CreateVirtualService",
            &json!({ "meshName": MESH, "virtualServiceName": SERVICE, "spec": {} }),
        )
        .unwrap();
        let appmesh = AppMesh::new(
            &Settings {
                region: Some("us-west-2".into()),
                endpoint: Some(emulator.endpoint()),
                rate: 1000.0,
                burst: 1000,
                attempts: 1,
                attempt_timeout: Duration::from_secs(5),
            },
            Arc::new(Metrics::default()),
        );
        e.reset_counters();
        Bed {
            emulator,
            appmesh: Arc::new(appmesh),
            deps: Dependencies::new(Duration::from_secs(30)),
            pages: Pages::default(),
            cluster: no_cluster(),
        }
    }

    /// What the executor works with for `route`.
    pub fn env(&self, route: &GatewayRoute) -> Env<'_> {
        Env {
            mesh: &self.appmesh,
            client: &self.cluster,
            deps: &self.deps,
            pages: &self.pages,
            page_max_age: Duration::from_secs(60),
            object: super::cache::key(route),
        }
    }

    /// Brings `route` in sync through the executor, and returns it with the status a
    /// reconcile writes for that, and what changed.
    pub async fn sync(&self, mut route: GatewayRoute) -> (GatewayRoute, Change) {
        let d = Desired::of(&route, CLUSTER);
        let (observed, change) = execute::apply(&d, &Recorded::of(&route), &self.env(&route))
            .await
            .unwrap_or_else(|p| {
                panic!("{}: {}", route.metadata.name.as_deref().unwrap(), p.message)
            });
        let did = Did::AppMesh {
            app_mesh: OnAppMesh::Synced {
                route: Box::new(observed),
                change,
                desired: Box::new(d),
            },
            left_gateway_api: false,
        };
        let now = k8s_openapi::jiff::Timestamp::now();
        route.status = outcome::conclude(
            &route,
            &did,
            None,
            "test/shard",
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
        )
        .status;
        (route, change)
    }

    /// The route App Mesh holds under `name` on [`GATEWAY`], if any.
    pub fn route(&self, name: &str) -> Option<Value> {
        self.emulator
            .emulator
            .invoke(
                "DescribeGatewayRoute",
                &json!({ "meshName": MESH, "virtualGatewayName": GATEWAY, "gatewayRouteName": name }),
            )
            .ok()
    }

    /// Calls of `operation` the emulator answered since the last reset, whatever the outcome.
    pub fn calls(&self, operation: &str) -> u64 {
        let counters = self.emulator.emulator.counters();
        counters["operations"][operation]
            .as_object()
            .map_or(0, |outcomes| {
                outcomes.values().filter_map(Value::as_u64).sum()
            })
    }

    /// Every call the emulator answered since the last reset.
    pub fn all_calls(&self) -> u64 {
        self.emulator.emulator.counters()["total"]
            .as_u64()
            .unwrap_or_default()
    }

    /// Calls the emulator's API directly, as someone outside meshroute would.
    pub fn out_of_band(&self, operation: &str, input: Value) -> Value {
        self.emulator.emulator.invoke(operation, &input).unwrap()
    }
}

/// A GatewayRoute `name` in namespace `team` on [`GATEWAY`], routing `prefix` to `target`.
pub fn object(name: &str, prefix: &str, target: &str) -> GatewayRoute {
    serde_json::from_value(json!({
        "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
        "metadata": { "name": name, "namespace": "team", "uid": format!("uid-{name}"),
            "generation": 1 },
        "spec": { "meshName": MESH, "virtualGatewayName": GATEWAY, "httpRoute": {
            "match": { "prefix": prefix },
            "action": { "target": { "virtualService": { "virtualServiceName": target } } } } },
    }))
    .unwrap()
}

/// A client for a cluster that is not there: for code whose tested paths never call it.
pub fn no_cluster() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}
