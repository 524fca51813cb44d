//! appmesh-emulator: a local AWS App Mesh REST-JSON API for the resources a gateway route
//! touches (meshes, virtual gateways, virtual services, virtual routers and their routes,
//! virtual nodes, gateway routes, tags), with the service's validation, errors and
//! idempotency, plus fault injection and call counters for tests.
//!
//! It shares no code with the operator on purpose: a wrong idea in one is caught by the other.

mod dataplane;
mod emulator;
mod error;
mod faults;
pub mod model;
mod operations;
mod rules;
mod server;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

pub use dataplane::{ECHO_DELAY_HEADER, ECHO_FAIL_EVERY_HEADER, Place, Served};
pub use emulator::Emulator;
pub use error::ApiError;
pub use faults::{Fault, RateLimit};
pub use server::serve;
pub use store::Settings;

/// An emulator serving on a loopback port from a runtime thread of its own, so that it outlives
/// any one test's runtime. Dropping the handle stops it.
pub struct Handle {
    pub addr: SocketAddr,
    pub emulator: Arc<Emulator>,
    /// The runtime it serves on, where gateway listeners must run too.
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:<port>`, the endpoint URL for an SDK client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves an echo backend for a virtual service on loopback.
    pub async fn serve_echo(&self, mesh: &str, service: &str) -> Result<SocketAddr, String> {
        self.serve_echo_on(mesh, service, self.addr.ip()).await
    }

    /// Serves an echo backend for a virtual service on `ip` (an address other programs, such
    /// as another gateway, reach it at too).
    pub async fn serve_echo_on(
        &self,
        mesh: &str,
        service: &str,
        ip: std::net::IpAddr,
    ) -> Result<SocketAddr, String> {
        self.serve_place_on(mesh, Place::Service(service.to_string()), ip)
            .await
    }

    /// Serves an echo backend for a virtual node on `ip`: requests a virtual router (or a
    /// virtual service whose provider it is) sends to the node reach it, and it names the node
    /// in its answer.
    pub async fn serve_node_echo_on(
        &self,
        mesh: &str,
        node: &str,
        ip: std::net::IpAddr,
    ) -> Result<SocketAddr, String> {
        self.serve_place_on(mesh, Place::Node(node.to_string()), ip)
            .await
    }

    async fn serve_place_on(
        &self,
        mesh: &str,
        place: Place,
        ip: std::net::IpAddr,
    ) -> Result<SocketAddr, String> {
        let mesh = mesh.to_string();
        self.on_runtime(
            move |emulator, _| async move { emulator.serve_echo(&mesh, place, ip).await },
        )
        .await
    }

    /// Serves a virtual gateway's listeners on loopback.
    pub async fn serve_gateway(&self, mesh: &str, gateway: &str) -> Result<Vec<Served>, String> {
        let (mesh, gateway) = (mesh.to_string(), gateway.to_string());
        self.on_runtime(move |emulator, host| async move {
            emulator.serve_gateway(&mesh, &gateway, host).await
        })
        .await
    }

    /// Runs `work` (given the emulator and the address it listens on) on the emulator's own
    /// runtime, where what it starts keeps serving whatever runtime the caller is on.
    async fn on_runtime<T, F, Fut>(&self, work: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Emulator>, std::net::IpAddr) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
    {
        let job = work(self.emulator.clone(), self.addr.ip());
        self.runtime.spawn(job).await.map_err(|e| e.to_string())?
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts an emulator on `127.0.0.1:port` (0 picks a free port) on a thread of its own.
pub fn spawn(settings: Settings, port: u16) -> std::io::Result<Handle> {
    let emulator = Emulator::new(settings, None).map_err(std::io::Error::other)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (runtime_tx, runtime_rx) = std::sync::mpsc::channel();
    let served = emulator.clone();
    let thread = std::thread::Builder::new()
        .name("appmesh-emulator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            let _ = runtime_tx.send(runtime.handle().clone());
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("emulator listener");
                let _ = serve(listener, served, async {
                    let _ = stopped.await;
                })
                .await;
            });
        })?;
    let runtime = runtime_rx
        .recv()
        .map_err(|_| std::io::Error::other("the emulator's runtime did not start"))?;
    Ok(Handle {
        addr,
        emulator,
        runtime,
        stop: Some(stop),
        thread: Some(thread),
    })
}
