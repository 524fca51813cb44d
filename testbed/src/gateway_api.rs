//! The bed's Gateway API side, as objects to apply: a Gateway of Traefik's class, and the
//! Services and EndpointSlices that lead it to echo backends (the bed runs no controllers that
//! would make them).

use std::net::SocketAddr;

use serde_json::{Value, json};

/// An echo backend as Kubernetes sees it.
pub struct Backend {
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// Where the echo backend listens (not loopback: the apiserver refuses loopback
    /// addresses in EndpointSlices).
    pub address: SocketAddr,
    /// A second Service port besides 80 (the port a route names), if any.
    pub target_port: Option<i64>,
    /// The backend speaks h2c (App Mesh spoke HTTP/2 to it).
    pub h2c: bool,
}

/// A Service and an EndpointSlice per backend: port 80 and the target port, both to the echo
/// backend; `appProtocol: kubernetes.io/h2c` where the backend speaks h2c.
pub fn backend_objects(backends: &[Backend]) -> Vec<Value> {
    let mut items = Vec::new();
    for b in backends {
        let mut ports = vec![("http".to_string(), 80)];
        if let Some(p) = b.target_port {
            ports.push((format!("p{p}"), p));
        }
        let app = if b.h2c {
            json!("kubernetes.io/h2c")
        } else {
            Value::Null
        };
        let echo = b.address;
        items.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": b.name, "namespace": b.namespace },
            "spec": { "ports": ports.iter().map(|(n, p)| json!({
                "name": n, "port": p, "targetPort": echo.port(), "appProtocol": app })).collect::<Vec<_>>() },
        }));
        items.push(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": { "name": b.name, "namespace": b.namespace,
                          "labels": { "kubernetes.io/service-name": b.name } },
            "addressType": "IPv4",
            "endpoints": [{ "addresses": [echo.ip().to_string()], "conditions": { "ready": true } }],
            "ports": ports.iter().map(|(n, _)| json!({
                "name": n, "port": echo.port(), "protocol": "TCP", "appProtocol": app })).collect::<Vec<_>>(),
        }));
    }
    items
}

/// GatewayClass `class`, served by the bed's Traefik.
pub fn gateway_class(class: &str) -> Value {
    json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": { "name": class },
            "spec": { "controllerName": crate::TRAEFIK_CONTROLLER } })
}

/// GatewayClass `class` for Traefik, and Gateway `namespace/name` with an HTTP listener per
/// `(name, port)` that admits routes from every namespace.
pub fn gateway_objects(
    class: &str,
    namespace: &str,
    name: &str,
    listeners: &[(&str, u16)],
) -> Vec<Value> {
    let listeners: Vec<Value> = listeners
        .iter()
        .map(|(listener, port)| {
            json!({ "name": listener, "protocol": "HTTP", "port": port,
                    "allowedRoutes": { "namespaces": { "from": "All" } } })
        })
        .collect();
    vec![
        gateway_class(class),
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": namespace } }),
        json!({ "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": { "name": name, "namespace": namespace },
                "spec": { "gatewayClassName": class, "listeners": listeners } }),
    ]
}

/// `items` as one `kubectl apply -f -` document.
pub fn list(items: Vec<Value>) -> String {
    json!({ "apiVersion": "v1", "kind": "List", "items": items }).to_string()
}

/// Which backends serve the bed's virtual gateway in a cut-over: what `--serve` says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AppMesh,
    Both,
    GatewayApi,
}

impl Mode {
    /// The operator's `--serve` rule for the bed's gateway, with Gateway `NAMESPACE/gw`.
    pub fn serve(self, gateway_namespace: &str) -> String {
        let (mesh, gateway) = (crate::MESH, crate::GATEWAY);
        match self {
            Mode::AppMesh => format!("{mesh}/{gateway}=app-mesh"),
            Mode::Both => format!("{mesh}/{gateway}=both:{gateway_namespace}/gw"),
            Mode::GatewayApi => format!("{mesh}/{gateway}=gateway-api:{gateway_namespace}/gw"),
        }
    }
    pub fn app_mesh(self) -> bool {
        self != Mode::GatewayApi
    }
    pub fn gateway_api(self) -> bool {
        self != Mode::AppMesh
    }
    /// The mode's name in `--serve`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::AppMesh => "app-mesh",
            Mode::Both => "both",
            Mode::GatewayApi => "gateway-api",
        }
    }
}
