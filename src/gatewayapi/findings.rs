//! What the mapping reports: a finding per thing a route's Gateway API objects do not say as App
//! Mesh did, with a stable code (which a team can accept), its impact, and the difference it
//! predicts; and how one route's findings are gathered while it is mapped.

use std::collections::BTreeSet;

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Impact {
    /// The route was not exported: emitting it would route traffic App Mesh does not.
    NotExported,
    /// The route was exported, and behaves differently in a way the finding names.
    Changed,
    /// The route was exported as App Mesh behaves, on an assumption or an optional
    /// Gateway API feature the implementation must support: check it.
    Check,
}

/// What a finding is about: a stable code a team can accept once it has reviewed that kind of
/// finding (`export gateway-api --accept CODE`), and the impact every finding of it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Gateway API's PathPrefix matches whole path segments: `/api` no longer takes `/apix`.
    PrefixSegments,
    /// a prefix ending in `/` also takes the bare path (`/api/` takes `/api`).
    PrefixBarePath,
    /// a path or rewrite Gateway API refuses (no leading `/`, `//`, `/./`, `%2F`, ...).
    PathRefused,
    /// a RegularExpression match, whose support and dialect are the implementation's.
    RegexDialect,
    /// a header or metadata name Gateway API refuses.
    HeaderName,
    /// an inverted header match, which Gateway API cannot say.
    HeaderInverted,
    /// a numeric range header match, which Gateway API cannot say.
    HeaderRange,
    /// two matches on one header or query parameter name.
    MatchedTwice,
    /// a query parameter name Gateway API refuses.
    QueryName,
    /// a host name suffix without a leading `.`, which Gateway API matches as a domain.
    HostnameSuffix,
    /// a host name Gateway API refuses (an IP address, a port, `_`).
    HostnameRefused,
    /// App Mesh's Host rewrite to a virtual service name Gateway API cannot rewrite to.
    HostRewrite,
    /// App Mesh's `:authority` rewrite, which GRPCRoute cannot make.
    GrpcHostRewrite,
    /// a gRPC service name GRPCRoute refuses and no path can carry.
    GrpcServiceName,
    /// a gRPC service name GRPCRoute refuses, exported as an HTTPRoute on `POST /<service>/`.
    GrpcAsHttp,
    /// a virtual service name without a namespace: the route's own was taken.
    BackendNamespaceAssumed,
    /// a virtual service name that names no Service (and no `--service-map` entry).
    BackendUnresolved,
    /// a Service reference Kubernetes would refuse.
    BackendInvalid,
    /// no port known for the backend: `--backend-port` was taken.
    BackendPortAssumed,
    /// a listener port match, exported as a parentRef port (an Extended feature).
    ListenerPort,
    /// a route attached to the whole Gateway, which also carries routes App Mesh served on
    /// listeners of another protocol: it takes their requests too.
    ListenerProtocol,
    /// HTTP/2 to the backend, which Gateway API takes from the Service port's appProtocol.
    Http2AppProtocol,
    /// two routes that App Mesh's priorities and Gateway API's precedence order differently.
    PriorityOrder,
    /// two routes that can take the same request, whose order in App Mesh AWS did not document.
    OrderUndocumented,
    /// two routes on one Gateway that take exactly the same requests.
    SameRequests,
    /// a path match type the Lattice controller refuses (a regular expression).
    LatticeRegexPath,
    /// a query parameter match, which the Lattice controller refuses.
    LatticeQueryMatch,
    /// more than 5 header matches, which the Lattice controller refuses.
    LatticeHeaderCount,
    /// a header match other than Exact, which the Lattice controller refuses.
    LatticeHeaderMatch,
    /// a path or Host rewrite, which the Lattice controller does not apply.
    LatticeNoRewrite,
    /// the route becomes a VPC Lattice service reached at its own domain name.
    LatticeServicePerRoute,
    /// a GRPCRoute, which the Lattice controller serves on an HTTPS listener only.
    LatticeGrpcHttps,
    /// a virtual router's route whose match cannot be composed with its gateway route's, or
    /// whose place among the router's routes Gateway API's precedence changes.
    RouterUncomposed,
    /// a virtual router's route's retry policy, which Gateway API's Standard channel cannot say.
    RetryDropped,
    /// a virtual router's route's idle timeout, which Gateway API cannot say.
    IdleTimeoutDropped,
    /// a virtual router's gRPC route's timeouts, which a GRPCRoute cannot say.
    TimeoutDropped,
    /// a virtual node's listener settings (TLS, connection pool, outlier detection, timeout),
    /// which a Service and a route do not say.
    NodeSettingsDropped,
}

impl Code {
    pub const ALL: [Code; 37] = [
        Code::PrefixSegments,
        Code::PrefixBarePath,
        Code::PathRefused,
        Code::RegexDialect,
        Code::HeaderName,
        Code::HeaderInverted,
        Code::HeaderRange,
        Code::MatchedTwice,
        Code::QueryName,
        Code::HostnameSuffix,
        Code::HostnameRefused,
        Code::HostRewrite,
        Code::GrpcHostRewrite,
        Code::GrpcServiceName,
        Code::GrpcAsHttp,
        Code::BackendNamespaceAssumed,
        Code::BackendUnresolved,
        Code::BackendInvalid,
        Code::BackendPortAssumed,
        Code::ListenerPort,
        Code::ListenerProtocol,
        Code::Http2AppProtocol,
        Code::PriorityOrder,
        Code::OrderUndocumented,
        Code::SameRequests,
        Code::LatticeRegexPath,
        Code::LatticeQueryMatch,
        Code::LatticeHeaderCount,
        Code::LatticeHeaderMatch,
        Code::LatticeNoRewrite,
        Code::LatticeServicePerRoute,
        Code::LatticeGrpcHttps,
        Code::RouterUncomposed,
        Code::RetryDropped,
        Code::IdleTimeoutDropped,
        Code::TimeoutDropped,
        Code::NodeSettingsDropped,
    ];

    pub fn impact(self) -> Impact {
        match self {
            Code::PrefixSegments => Impact::Changed,
            Code::PrefixBarePath => Impact::Changed,
            Code::PathRefused => Impact::NotExported,
            Code::RegexDialect => Impact::Check,
            Code::HeaderName => Impact::NotExported,
            Code::HeaderInverted => Impact::NotExported,
            Code::HeaderRange => Impact::NotExported,
            Code::MatchedTwice => Impact::NotExported,
            Code::QueryName => Impact::NotExported,
            Code::HostnameSuffix => Impact::Changed,
            Code::HostnameRefused => Impact::NotExported,
            Code::HostRewrite => Impact::Changed,
            Code::GrpcHostRewrite => Impact::Changed,
            Code::GrpcServiceName => Impact::NotExported,
            Code::GrpcAsHttp => Impact::Check,
            Code::BackendNamespaceAssumed => Impact::Check,
            Code::BackendUnresolved => Impact::NotExported,
            Code::BackendInvalid => Impact::NotExported,
            Code::BackendPortAssumed => Impact::Check,
            Code::ListenerPort => Impact::Check,
            Code::ListenerProtocol => Impact::Changed,
            Code::Http2AppProtocol => Impact::Check,
            Code::PriorityOrder => Impact::Changed,
            Code::OrderUndocumented => Impact::Changed,
            Code::SameRequests => Impact::Changed,
            Code::LatticeRegexPath => Impact::NotExported,
            Code::LatticeQueryMatch => Impact::NotExported,
            Code::LatticeHeaderCount => Impact::NotExported,
            Code::LatticeHeaderMatch => Impact::NotExported,
            Code::LatticeNoRewrite => Impact::Changed,
            Code::LatticeServicePerRoute => Impact::Changed,
            Code::LatticeGrpcHttps => Impact::Check,
            Code::RouterUncomposed => Impact::Changed,
            Code::RetryDropped => Impact::Changed,
            Code::IdleTimeoutDropped => Impact::Check,
            Code::TimeoutDropped => Impact::Changed,
            Code::NodeSettingsDropped => Impact::Changed,
        }
    }

    /// The code as written in reports and `--accept`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::PrefixSegments => "prefix-segments",
            Code::PrefixBarePath => "prefix-bare-path",
            Code::PathRefused => "path-refused",
            Code::RegexDialect => "regex-dialect",
            Code::HeaderName => "header-name",
            Code::HeaderInverted => "header-inverted",
            Code::HeaderRange => "header-range",
            Code::MatchedTwice => "matched-twice",
            Code::QueryName => "query-name",
            Code::HostnameSuffix => "hostname-suffix",
            Code::HostnameRefused => "hostname-refused",
            Code::HostRewrite => "host-rewrite",
            Code::GrpcHostRewrite => "grpc-host-rewrite",
            Code::GrpcServiceName => "grpc-service-name",
            Code::GrpcAsHttp => "grpc-as-http",
            Code::BackendNamespaceAssumed => "backend-namespace-assumed",
            Code::BackendUnresolved => "backend-unresolved",
            Code::BackendInvalid => "backend-invalid",
            Code::BackendPortAssumed => "backend-port-assumed",
            Code::ListenerPort => "listener-port",
            Code::ListenerProtocol => "listener-protocol",
            Code::Http2AppProtocol => "http2-app-protocol",
            Code::PriorityOrder => "priority-order",
            Code::OrderUndocumented => "order-undocumented",
            Code::SameRequests => "same-requests",
            Code::LatticeRegexPath => "lattice-regex-path",
            Code::LatticeQueryMatch => "lattice-query-match",
            Code::LatticeHeaderCount => "lattice-header-count",
            Code::LatticeHeaderMatch => "lattice-header-match",
            Code::LatticeNoRewrite => "lattice-no-rewrite",
            Code::LatticeServicePerRoute => "lattice-service-per-route",
            Code::LatticeGrpcHttps => "lattice-grpc-https",
            Code::RouterUncomposed => "router-uncomposed",
            Code::RetryDropped => "retry-dropped",
            Code::IdleTimeoutDropped => "idle-timeout-dropped",
            Code::TimeoutDropped => "timeout-dropped",
            Code::NodeSettingsDropped => "node-settings-dropped",
        }
    }

    /// What of a request a finding of this code says Gateway API does differently; nothing
    /// for a finding to check, which says the export keeps App Mesh's behaviour.
    pub fn differs(self) -> &'static [Aspect] {
        match self.impact() {
            Impact::Check => &[],
            _ => match self {
                Code::HostRewrite | Code::GrpcHostRewrite => &[Aspect::Host],
                Code::LatticeNoRewrite => &[Aspect::Path, Aspect::Host],
                // Another route takes the request: anything the backend sees may differ.
                Code::ListenerProtocol => &[Aspect::Backend, Aspect::Path, Aspect::Host],
                _ => &[Aspect::Backend],
            },
        }
    }

    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// The JSON report writes a code as `as_str` does: one name for each, in one place.
impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What of a request can differ between App Mesh and Gateway API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Aspect {
    /// Which backend answers, or whether one does (the status when none does).
    Backend,
    /// The path the backend is sent.
    Path,
    /// The Host the backend is sent.
    Host,
}

/// The requests a finding is about, among those App Mesh or Gateway API sends by its route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Requests {
    /// Every one.
    All,
    /// Those whose path (without the query) this regular expression matches whole.
    Path(String),
    /// Those whose Host (lower case, without a port) this regular expression matches whole.
    Host(String),
    /// Those the other route (`namespace/name`) also matches: one side sends them by this
    /// route, the other may by that one.
    SharedWith(String),
}

/// The difference a finding predicts: what differs, for which requests. A test or `verify`
/// counts a difference as announced only when a finding of a route involved predicts both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicts {
    pub differs: &'static [Aspect],
    pub requests: Requests,
}

/// Something of one GatewayRoute that Gateway API does not say the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `namespace/name` of the GatewayRoute.
    pub object: String,
    /// The GatewayRoute field concerned.
    pub field: String,
    pub code: Code,
    pub impact: Impact,
    pub problem: String,
    pub advice: String,
    /// The difference it predicts.
    pub predicts: Predicts,
    /// The team accepted this kind of finding (`--accept`): it does not count for `--strict`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
}

/// One GatewayRoute's findings as they are made, and what else its objects need.
pub(super) struct Findings<'a> {
    pub(super) object: String,
    pub(super) found: &'a mut Vec<Finding>,
    pub(super) dropped: bool,
    /// Namespaces its backends are in, other than its own: each needs a ReferenceGrant.
    pub(super) grants: BTreeSet<String>,
}

impl Finding {
    /// A finding of `code`, which predicts that difference for `requests`.
    pub fn about(
        object: String,
        field: &str,
        code: Code,
        problem: String,
        advice: &str,
        requests: Requests,
    ) -> Self {
        Finding {
            object,
            field: field.to_string(),
            code,
            impact: code.impact(),
            problem,
            advice: advice.to_string(),
            predicts: Predicts {
                differs: code.differs(),
                requests,
            },
            accepted: false,
        }
    }
}

impl<'a> Findings<'a> {
    /// Findings gathered into `found` for no route in particular: what a lookup that notes
    /// findings on the way says is not reported.
    pub(super) fn scratch(found: &'a mut Vec<Finding>) -> Findings<'a> {
        Findings {
            object: String::new(),
            found,
            dropped: false,
            grants: BTreeSet::new(),
        }
    }

    pub(super) fn note(&mut self, code: Code, field: &str, problem: String, advice: &str) {
        self.note_about(code, field, problem, advice, Requests::All);
    }

    pub(super) fn note_about(
        &mut self,
        code: Code,
        field: &str,
        problem: String,
        advice: &str,
        requests: Requests,
    ) {
        self.dropped |= code.impact() == Impact::NotExported;
        let object = self.object.clone();
        self.found.push(Finding::about(
            object, field, code, problem, advice, requests,
        ));
    }
}
