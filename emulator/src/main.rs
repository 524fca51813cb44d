//! `appmesh-emulator`: serve a local App Mesh API on loopback.

use std::path::PathBuf;

use appmesh_emulator::{Emulator, Settings, serve};
use clap::Parser;

/// A local AWS App Mesh API (REST-JSON, /v20190125) with fault injection and call counters.
/// Admin endpoints live under /_emulator/ (see docs/testing.md).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on. Loopback by default; the emulator has no authentication.
    #[arg(
        long,
        env = "APPMESH_EMULATOR_LISTEN",
        default_value = "127.0.0.1:4566"
    )]
    listen: String,
    /// Region used in ARNs.
    #[arg(long, env = "APPMESH_EMULATOR_REGION", default_value = "us-west-2")]
    region: String,
    /// The caller's 12-digit account id (owner of everything created).
    #[arg(
        long,
        env = "APPMESH_EMULATOR_ACCOUNT_ID",
        default_value = "111122223333"
    )]
    account_id: String,
    /// Gateway routes allowed per virtual gateway before LimitExceededException.
    #[arg(
        long,
        env = "APPMESH_EMULATOR_MAX_ROUTES_PER_GATEWAY",
        default_value_t = 50
    )]
    max_gateway_routes_per_gateway: usize,
    /// Meshes allowed per account before LimitExceededException.
    #[arg(long, env = "APPMESH_EMULATOR_MAX_MESHES", default_value_t = 15)]
    max_meshes: usize,
    /// Routes allowed per virtual router before LimitExceededException.
    #[arg(
        long,
        env = "APPMESH_EMULATOR_MAX_ROUTES_PER_ROUTER",
        default_value_t = 50
    )]
    max_routes_per_router: usize,
    /// Load state from this JSON file at start (if it exists) and write it back on shutdown.
    #[arg(long, env = "APPMESH_EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Where a virtual service is served, for the gateway data plane:
    /// `<mesh>/<virtual service>=<ip>:<port>` (repeatable; also PUT /_emulator/backends/...).
    #[arg(long = "backend", value_parser = backend)]
    backends: Vec<(String, String, std::net::SocketAddr)>,
    /// Serve a virtual gateway's listeners (each on a free loopback port, printed at start):
    /// `<mesh>/<virtual gateway>` (repeatable; also POST /_emulator/gateways/.../serve).
    #[arg(long = "serve-gateway")]
    serve_gateways: Vec<String>,
}

/// `<mesh>/<virtual service>=<ip>:<port>`.
fn backend(s: &str) -> Result<(String, String, std::net::SocketAddr), String> {
    let usage = || format!("'{s}': expected <mesh>/<virtual service>=<ip>:<port>");
    let (place, address) = s.split_once('=').ok_or_else(usage)?;
    let (mesh, service) = place.split_once('/').ok_or_else(usage)?;
    let address = address.parse().map_err(|_| usage())?;
    Ok((mesh.to_string(), service.to_string(), address))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("--account-id must be 12 digits, got '{}'", args.account_id).into());
    }
    let settings = Settings {
        region: args.region,
        account_id: args.account_id,
        max_gateway_routes_per_gateway: args.max_gateway_routes_per_gateway,
        max_meshes: args.max_meshes,
        max_routes_per_router: args.max_routes_per_router,
    };
    let emulator = Emulator::new(settings, args.state_file)?;
    for (mesh, service, address) in &args.backends {
        emulator.set_backend(mesh, service, *address);
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "appmesh-emulator listening");
    for gateway in &args.serve_gateways {
        let (mesh, name) = gateway.split_once('/').ok_or_else(|| {
            format!("--serve-gateway '{gateway}': expected <mesh>/<virtual gateway>")
        })?;
        let host = listener.local_addr()?.ip();
        for served in emulator.serve_gateway(mesh, name, host).await? {
            tracing::info!(gateway, port = served.port, protocol = served.protocol, address = %served.address, "serving listener");
        }
    }
    serve(listener, emulator.clone(), shutdown_signal()).await?;
    emulator.save()?;
    tracing::info!("appmesh-emulator stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
