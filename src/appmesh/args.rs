//! How meshroute reaches App Mesh, as flags: shared by `meshroute run` and `meshroute import`.

use std::time::Duration;

use clap::Args;

use super::Settings;
use crate::flags::duration;

/// How meshroute reaches App Mesh: shared by `run` and `import`.
#[derive(Debug, Clone, Args)]
pub struct AppMeshArgs {
    /// AWS region of App Mesh (default: the SDK's chain: AWS_REGION, profile, instance metadata).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// App Mesh endpoint override: a VPC endpoint, or the local emulator (http://127.0.0.1:4566).
    #[arg(long, env = "MESHROUTE_APPMESH_ENDPOINT")]
    pub appmesh_endpoint: Option<String>,
    /// App Mesh calls per second meshroute allows itself, across all objects.
    #[arg(long, env = "MESHROUTE_APPMESH_RPS", default_value_t = 10.0)]
    pub appmesh_rps: f64,
    /// App Mesh calls allowed at once above --appmesh-rps after a quiet spell.
    #[arg(long, env = "MESHROUTE_APPMESH_BURST", default_value_t = 20)]
    pub appmesh_burst: u32,
    /// Attempts per App Mesh call on throttling, 5xx or no answer, before the reconcile backs off.
    #[arg(long, env = "MESHROUTE_APPMESH_ATTEMPTS", default_value_t = 3)]
    pub appmesh_attempts: u32,
    /// Timeout of one App Mesh call attempt.
    #[arg(long, env = "MESHROUTE_APPMESH_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub appmesh_timeout: Duration,
}

impl AppMeshArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            region: self.region.clone(),
            endpoint: self.appmesh_endpoint.clone(),
            rate: self.appmesh_rps,
            burst: self.appmesh_burst,
            attempts: self.appmesh_attempts,
            attempt_timeout: self.appmesh_timeout,
        }
    }
}
