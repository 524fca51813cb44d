//! `/healthz` (the process is alive), `/readyz` (the watch has synced) and `/metrics`
//! (Prometheus text), on one port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::telemetry::Metrics;

/// What this replica does, as `/readyz` says it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Role {
    /// Not yet elected nor standing by.
    #[default]
    Starting,
    /// Holds the leader Lease and reconciles.
    Leader,
    /// Waits for the leader Lease.
    Standby,
    /// Reconciles without leader election.
    Single,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Starting => "starting",
            Role::Leader => "leader",
            Role::Standby => "standby",
            Role::Single => "single",
        }
    }

    /// Whether a replica in this role reconciles.
    fn reconciles(self) -> bool {
        matches!(self, Role::Leader | Role::Single)
    }
}

/// What `/readyz` reports: this replica's role and whether its watch has synced.
#[derive(Debug, Default)]
pub struct Health {
    role: Mutex<Role>,
    synced: AtomicBool,
}

impl Health {
    pub fn set_role(&self, role: Role) {
        *self.role.lock().unwrap_or_else(|e| e.into_inner()) = role;
    }

    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::Relaxed);
    }

    fn role(&self) -> Role {
        *self.role.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready when standing by, or when reconciling with a synced watch.
    fn readiness(&self) -> (bool, String) {
        let role = self.role();
        let synced = self.synced.load(Ordering::Relaxed);
        match (role, synced) {
            (Role::Standby, _) => (true, "standby: another replica leads\n".into()),
            (Role::Starting, _) => (false, "starting\n".into()),
            (role, true) => (true, format!("{}: watch synced\n", role.as_str())),
            (role, false) => (
                false,
                format!(
                    "{}: the GatewayRoute watch has not synced yet\n",
                    role.as_str()
                ),
            ),
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn answer(req: &Request<Incoming>, metrics: &Metrics, health: &Health) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => match health.readiness() {
            (true, text) => reply(StatusCode::OK, "text/plain", text),
            (false, text) => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", text),
        },
        "/metrics" => {
            metrics.set_leader(health.role().reconciles());
            reply(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                metrics.encode(),
            )
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /healthz, /readyz or /metrics\n".into(),
        ),
    }
}

/// Serves the endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let (metrics, health) = (metrics.clone(), health.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = answer(&req, &metrics, &health);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds the endpoint's address, saying which address when it cannot.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (--http-addr): {e}"),
        )
    })
}
