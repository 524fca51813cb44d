//! The emulated service as one object: settings, state (saved to a file if asked), injected
//! faults and counters, and the data planes of the virtual gateways it serves. The HTTP API in
//! front of it is `server`; what its gateways route by is `appmesh_routing`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use serde_json::{Value, json};

use crate::dataplane::{ControlPlane, Place, Served, serve_echo, serve_listener};
use crate::error::ApiError;
use crate::faults::{Fault, Faults, RateLimit};
use crate::model;
use crate::operations::Operation;
use crate::rules;
use crate::store::{ProviderView, Settings, Store};
use appmesh_routing::gateway as routing;

/// The emulated service: settings, state and injected behaviour, and the data planes of the
/// virtual gateways it serves.
pub struct Emulator {
    pub(crate) settings: Settings,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    state_file: Option<PathBuf>,
    /// Itself, for the listeners it starts.
    me: Weak<Emulator>,
    /// Where each virtual service or virtual node (mesh, place) is served.
    backends: Mutex<BTreeMap<(String, Place), SocketAddr>>,
    /// The virtual gateways (mesh, name) served so far, and their listeners.
    served: tokio::sync::Mutex<BTreeMap<(String, String), Vec<Served>>>,
}

impl Emulator {
    /// A fresh emulator; with `state_file`, state is loaded from it when it exists and written
    /// back by [`Emulator::save`].
    pub fn new(settings: Settings, state_file: Option<PathBuf>) -> Result<Arc<Self>, String> {
        let store = match &state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("read {}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))?
            }
            _ => Store::default(),
        };
        Ok(Arc::new_cyclic(|me| Emulator {
            settings,
            store: Mutex::new(store),
            faults: Mutex::new(Faults::default()),
            state_file,
            me: me.clone(),
            backends: Mutex::default(),
            served: tokio::sync::Mutex::default(),
        }))
    }

    /// Routes requests for the virtual service `service` of `mesh` to `address`, whatever its
    /// provider.
    pub fn set_backend(&self, mesh: &str, service: &str, address: SocketAddr) {
        self.set_place(mesh, Place::Service(service.to_string()), address);
    }

    /// Routes requests for the virtual node `node` of `mesh` to `address`.
    pub fn set_node_backend(&self, mesh: &str, node: &str, address: SocketAddr) {
        self.set_place(mesh, Place::Node(node.to_string()), address);
    }

    pub(crate) fn set_place(&self, mesh: &str, place: Place, address: SocketAddr) {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((mesh.to_string(), place), address);
    }

    /// Serves an echo backend (see `dataplane::serve_echo`) for `place` (a virtual service
    /// or node) of `mesh` on `host` and routes its requests there; returns its address.
    pub async fn serve_echo(
        &self,
        mesh: &str,
        place: Place,
        host: std::net::IpAddr,
    ) -> Result<SocketAddr, String> {
        let address = serve_echo(place.clone(), SocketAddr::new(host, 0))
            .await
            .map_err(|e| format!("serve an echo backend for {place:?}: {e}"))?;
        self.set_place(mesh, place, address);
        Ok(address)
    }

    /// Where `place` of `mesh` is served, if anywhere.
    pub fn backend(&self, mesh: &str, place: &Place) -> Option<SocketAddr> {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(mesh.to_string(), place.clone()))
            .copied()
    }

    /// The gateway routes of a virtual gateway as they are now (none if it does not exist).
    pub fn gateway_routes(
        &self,
        mesh: &str,
        gateway: &str,
    ) -> Vec<appmesh_routing::gateway::StoredRoute> {
        self.store()
            .gateway_view(mesh, gateway)
            .map(|view| view.routes)
            .unwrap_or_default()
    }

    /// Serves every listener of a virtual gateway on `host` (a free port each), once; the
    /// listeners already served are returned as they are. Must run on the runtime that is to
    /// carry the traffic.
    pub async fn serve_gateway(
        &self,
        mesh: &str,
        gateway: &str,
        host: std::net::IpAddr,
    ) -> Result<Vec<Served>, String> {
        let key = (mesh.to_string(), gateway.to_string());
        let mut served = self.served.lock().await;
        if let Some(listeners) = served.get(&key) {
            return Ok(listeners.clone());
        }
        let listeners = self
            .store()
            .gateway_view(mesh, gateway)
            .map(|view| view.listeners)
            .ok_or_else(|| format!("no virtual gateway {gateway} in mesh {mesh}"))?;
        let me = self.me.upgrade().ok_or("the emulator is stopping")?;
        let mut out = Vec::new();
        for (port, protocol) in listeners {
            let bind = SocketAddr::new(host, 0);
            let listener = serve_listener(me.clone(), mesh, gateway, port, &protocol, bind)
                .await
                .map_err(|e| format!("serve listener {port} of {gateway}: {e}"))?;
            out.push(listener);
        }
        served.insert(key, out.clone());
        Ok(out)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs an operation by its App Mesh name (`CreateMesh`) on an input object holding path,
    /// query and body members alike, with the service's validation, bypassing faults and
    /// counters. For seeding state from code.
    pub fn invoke(&self, operation: &str, input: &Value) -> Result<Value, ApiError> {
        let op = Operation::ALL
            .iter()
            .copied()
            .find(|o| o.name() == operation)
            .ok_or_else(|| ApiError::bad_request(format!("unknown operation {operation}")))?;
        self.run(op, input)
    }

    pub(crate) fn run(&self, op: Operation, input: &Value) -> Result<Value, ApiError> {
        let mut errors = model::validate(op.shape(), input);
        if errors.is_empty() {
            errors = rules::check(input);
        }
        if !errors.is_empty() {
            let n = errors.len();
            return Err(ApiError::bad_request(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                errors.join("; ")
            )));
        }
        op.run(&mut self.store(), &self.settings, input)
    }

    /// Adds an injected fault (see [`Fault`]).
    pub fn add_fault(&self, fault: Fault) -> Result<(), String> {
        self.faults().add(fault)
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.faults().clear();
    }

    /// Sets (or with `None` lifts) the service-side rate limit.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) -> Result<(), String> {
        self.faults().set_rate_limit(limit)
    }

    /// Calls so far: `{"operations": {"CreateGatewayRoute": {"ok": 3, ...}}, "total": N}`.
    pub fn counters(&self) -> Value {
        let faults = self.faults();
        let total: u64 = faults.counters().values().flat_map(|m| m.values()).sum();
        json!({ "operations": faults.counters(), "total": total })
    }

    pub fn reset_counters(&self) {
        self.faults().reset_counters();
    }

    /// Forgets every resource, fault, rate limit and counter.
    pub fn reset(&self) {
        *self.store() = Store::default();
        *self.faults() = Faults::default();
    }

    /// Writes the state to the state file, if one was given.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&*self.store()).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
    }
}

impl ControlPlane for Emulator {
    fn gateway_routes(&self, mesh: &str, gateway: &str) -> Vec<routing::StoredRoute> {
        Emulator::gateway_routes(self, mesh, gateway)
    }

    fn backend(&self, mesh: &str, place: &Place) -> Option<SocketAddr> {
        Emulator::backend(self, mesh, place)
    }

    fn provider(&self, mesh: &str, service: &str) -> Option<ProviderView> {
        self.store().provider_view(mesh, service)
    }
}
