//! The `Ready` condition's reasons: part of the status contract that users, `kubectl get`, Argo CD
//! and alerts read. The README lists each with what to do about it.

/// The summary condition: True when App Mesh holds exactly the spec.
pub const READY: &str = "Ready";
/// True while meshroute is still working towards Ready and expects to get there by itself
/// (kstatus reads it as InProgress).
pub const RECONCILING: &str = "Reconciling";
/// A warning that leaves Ready alone: a route App Mesh tries first takes every request this
/// route matches, so it never receives one.
pub const SHADOWED: &str = "Shadowed";
/// A warning that leaves Ready alone: how the route's Gateway API route behaves differently from
/// App Mesh (`changed` findings) and what it assumed (`check` findings).
pub const GATEWAY_API_FINDINGS: &str = "GatewayAPIFindings";
/// True when waiting will not help: the spec, a name, IAM, a quota or another owner must change
/// first (kstatus reads it as Failed).
pub const STALLED: &str = "Stalled";

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
    /// A VirtualGatewayPolicy does not let this namespace put this route on its gateway.
    NotPermitted,
    /// An older GatewayRoute on the same virtual gateway has the same match and priority.
    RouteConflict,
    /// Gateway API cannot say what this route does in App Mesh (a `notExported` finding of
    /// `export gateway-api`, named in the message): the Gateway API backend leaves it out.
    NotExported,
    /// The Gateway API implementation has not yet written its status for this generation of the
    /// route.
    GatewayPending,
    /// The Gateway API implementation did not accept the route on its Gateway (its reason and
    /// message follow).
    RouteNotAccepted,
    /// The Gateway API implementation cannot resolve the route's backends (a missing Service, or
    /// a Service in another namespace without a ReferenceGrant).
    BackendRefsUnresolved,
}

impl Reason {
    /// Every reason, as `meshroute_gatewayroutes` and `meshroute_reconciles_total` start them.
    pub const ALL: [Reason; 17] = [
        Reason::Synced,
        Reason::InvalidSpec,
        Reason::UnsupportedSpec,
        Reason::UnreadableRoute,
        Reason::LimitExceeded,
        Reason::AccessDenied,
        Reason::DependencyNotFound,
        Reason::NameInUse,
        Reason::OwnedByOtherCluster,
        Reason::AppMeshUnavailable,
        Reason::DeleteFailed,
        Reason::NotPermitted,
        Reason::RouteConflict,
        Reason::NotExported,
        Reason::GatewayPending,
        Reason::RouteNotAccepted,
        Reason::BackendRefsUnresolved,
    ];

    /// Whether this reason needs someone to change something (`Stalled`) rather than time
    /// (`Reconciling`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Reason::InvalidSpec
                | Reason::UnsupportedSpec
                | Reason::UnreadableRoute
                | Reason::LimitExceeded
                | Reason::AccessDenied
                | Reason::NameInUse
                | Reason::OwnedByOtherCluster
                | Reason::NotPermitted
                | Reason::RouteConflict
                | Reason::NotExported
                | Reason::RouteNotAccepted
        )
    }

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
            Reason::NotPermitted => "NotPermitted",
            Reason::RouteConflict => "RouteConflict",
            Reason::NotExported => "NotExported",
            Reason::GatewayPending => "GatewayPending",
            Reason::RouteNotAccepted => "RouteNotAccepted",
            Reason::BackendRefsUnresolved => "BackendRefsUnresolved",
        }
    }
}
