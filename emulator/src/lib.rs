//! appmesh-emulator: a local AWS App Mesh REST-JSON API for the resources a gateway route
//! touches (meshes, virtual gateways, virtual services, gateway routes, tags), with the service's
//! validation, errors and idempotency, plus fault injection and call counters for tests.
//!
//! It shares no code with the operator on purpose: a wrong idea in one is caught by the other.

mod error;
mod faults;
pub mod model;
mod rules;
mod server;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::ApiError;
pub use faults::{Fault, RateLimit};
pub use server::{Emulator, serve};
pub use store::Settings;

/// An emulator serving on a loopback port from a runtime thread of its own, so that it outlives
/// any one test's runtime. Dropping the handle stops it.
pub struct Handle {
    pub addr: SocketAddr,
    pub emulator: Arc<Emulator>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// `http://127.0.0.1:<port>`, the endpoint URL for an SDK client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
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
    let served = emulator.clone();
    let thread = std::thread::Builder::new()
        .name("appmesh-emulator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("emulator listener");
                let _ = serve(listener, served, async {
                    let _ = stopped.await;
                })
                .await;
            });
        })?;
    Ok(Handle {
        addr,
        emulator,
        stop: Some(stop),
        thread: Some(thread),
    })
}
