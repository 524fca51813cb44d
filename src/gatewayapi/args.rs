//! The flags that say how a GatewayRoute becomes a Gateway API route, the same for
//! `export gateway-api` and for `run`'s Gateway API backend, so a route exported and then adopted
//! by the backend keeps its backend, port and path match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Code, Options, Service, Target};

/// The mapping's flags.
#[derive(Debug, Clone, Args)]
pub struct MappingArgs {
    /// YAML or JSON file mapping virtual service names to Services:
    /// `my-vs.example: {name: web, namespace: shop, port: 8080}`. Without an entry, a name
    /// `<service>.<namespace>.svc.cluster.local` is taken as that Service. In the chart,
    /// `gatewayAPI.serviceMap` (a ConfigMap mounted as this file).
    #[arg(long, env = "MESHROUTE_SERVICE_MAP")]
    pub service_map: Option<PathBuf>,
    /// Service port of a backend when neither the route's target, --service-map nor the
    /// virtual node's listener (as import recorded it) gives one.
    #[arg(long, env = "MESHROUTE_BACKEND_PORT", default_value_t = 80)]
    pub backend_port: i32,
    /// Keep App Mesh's string-prefix meaning (/api also takes /apix) exactly: a prefix match
    /// whose route needs no prefix rewrite becomes an anchored RegularExpression path (for
    /// implementations that support them) instead of Gateway API's whole-segment PathPrefix.
    /// Gateway API rewrites a prefix only on a PathPrefix match, so routes App Mesh rewrote keep
    /// PathPrefix and their finding.
    #[arg(long, env = "MESHROUTE_STRING_PREFIXES")]
    pub string_prefixes: bool,
    /// The Gateway API implementation supports the experimental channel's HTTPRoute `retry`
    /// (GEP-1731): a virtual router route's retry policy becomes the rule's `retry` (its
    /// attempts and the status codes of its HTTP events) and its per-retry timeout
    /// `timeouts.backendRequest`, instead of a retry-dropped finding.
    #[arg(long, env = "MESHROUTE_EXPERIMENTAL_RETRY")]
    pub experimental_retry: bool,
    /// Finding codes (as reports show them, e.g. prefix-segments,backend-port-assumed) a team
    /// has reviewed and accepts: `export` reports them as accepted and `--strict` does not count
    /// them; the backend leaves them out of the GatewayAPIFindings condition and its Event.
    #[arg(long, env = "MESHROUTE_ACCEPT", value_delimiter = ',', value_parser = finding_code)]
    pub accept: Vec<Code>,
}

/// A finding code, or the list of them in the error.
fn finding_code(code: &str) -> Result<Code, String> {
    Code::parse(code).ok_or_else(|| {
        let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "unknown finding code '{code}'; the codes are {}",
            known.join(", ")
        )
    })
}

/// A service map that cannot be read: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ServiceMapError {
    pub path: String,
    pub message: String,
}

impl MappingArgs {
    /// The mapping's options for `target` (the Gateway's class and port are `export`'s).
    pub fn options(&self, target: Target) -> Result<Options, ServiceMapError> {
        Ok(Options {
            string_prefixes: self.string_prefixes,
            experimental_retry: self.experimental_retry,
            target,
            services: match &self.service_map {
                Some(path) => service_map(path)?,
                None => BTreeMap::new(),
            },
            backend_port: self.backend_port,
            accept: self.accept.clone(),
            ..Default::default()
        })
    }
}

fn service_map(path: &Path) -> Result<BTreeMap<String, Service>, ServiceMapError> {
    let input = |message: String| ServiceMapError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
    serde_saphyr::from_str(&text).map_err(|e| {
        input(format!(
            "{e}; expected `<virtual service name>: {{name: <service>, namespace: <ns>, port: <port>}}` entries"
        ))
    })
}
