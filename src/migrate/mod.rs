//! On and off App Mesh: `meshroute import` turns the gateway routes App Mesh already holds into
//! GatewayRoute manifests that adopt them in place, and `meshroute export gateway-api` turns
//! GatewayRoutes into Kubernetes Gateway API routes that keep App Mesh's behaviour.

pub mod export;
pub mod import;
pub mod input;
mod yaml;

use crate::appmesh::AppMeshError;

/// Why `import` or `export` stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("App Mesh: {0}")]
    AppMesh(#[from] AppMeshError),
    #[error(
        "Kubernetes API: {0}; check the kubeconfig context and that the GatewayRoute CRD is installed"
    )]
    Kube(#[from] kube::Error),
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("{0} input(s) could not be read; each is listed above with its file and line")]
    Unreadable(usize),
    #[error(
        "{0} finding(s) change or drop App Mesh behaviour and --strict is set; nothing was printed"
    )]
    Strict(usize),
    #[error(
        "{0} request(s) are answered differently by Gateway API and the difference is not announced by a finding and accepted with --accept (--strict)"
    )]
    Differences(usize),
    #[error(
        "{failed} request(s) got no HTTP answer{}; each is listed above",
        if *interrupted { ", and the run was interrupted" } else { "" }
    )]
    Live { failed: usize, interrupted: bool },
}

impl Error {
    /// The outcome of a run that went on past `unreadable` inputs it reported.
    pub fn unless_unreadable(unreadable: usize) -> Result<(), Error> {
        match unreadable {
            0 => Ok(()),
            n => Err(Error::Unreadable(n)),
        }
    }
}
