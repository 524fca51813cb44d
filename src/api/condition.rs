//! The `Ready` condition's reasons: part of the status contract that users, `kubectl get`, Argo CD
//! and alerts read. The README lists each with what to do about it.

/// The one condition meshroute maintains.
pub const READY: &str = "Ready";

/// Why `Ready` is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// App Mesh holds exactly the spec (Ready=True).
    Synced,
    /// App Mesh refused the spec (400); fix the spec.
    InvalidSpec,
    /// meshroute could not turn the spec into an App Mesh request; fix the field it names.
    UnsupportedSpec,
    /// App Mesh holds a route meshroute cannot read (a field it does not know).
    UnreadableRoute,
    /// An App Mesh quota is used up; raise it or delete routes.
    LimitExceeded,
    /// The IAM role lacks an App Mesh permission.
    AccessDenied,
    /// The mesh, virtual gateway or target virtual service does not exist (yet).
    DependencyNotFound,
    /// Another object of this cluster, or nobody, owns an App Mesh route of that name.
    NameInUse,
    /// meshroute in another cluster (another `--cluster-id`) owns the App Mesh route.
    OwnedByOtherCluster,
    /// App Mesh is throttling, failing or unreachable; meshroute retries with backoff.
    AppMeshUnavailable,
    /// Deleting the App Mesh route failed; the finalizer stays until it succeeds.
    DeleteFailed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Synced => "Synced",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::UnsupportedSpec => "UnsupportedSpec",
            Reason::UnreadableRoute => "UnreadableRoute",
            Reason::LimitExceeded => "LimitExceeded",
            Reason::AccessDenied => "AccessDenied",
            Reason::DependencyNotFound => "DependencyNotFound",
            Reason::NameInUse => "NameInUse",
            Reason::OwnedByOtherCluster => "OwnedByOtherCluster",
            Reason::AppMeshUnavailable => "AppMeshUnavailable",
            Reason::DeleteFailed => "DeleteFailed",
        }
    }
}
