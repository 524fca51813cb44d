//! What an App Mesh answer means for the operator, decided here and nowhere else: every error in
//! the API's table (and the failures on our side of the wire) becomes a kind, and each kind has
//! one meaning for the object: a `Ready` reason, a retry class and the advice the user reads.
//! The request id is kept for the user's support case.

use aws_sdk_appmesh::config::http::HttpResponse;
use aws_sdk_appmesh::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_appmesh::operation::RequestId;

use crate::api::Reason;
use crate::backoff::Retry;

/// The kinds of App Mesh failure, each with its own handling in the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400 BadRequestException: the request itself is wrong; retrying cannot help.
    BadRequest,
    /// 400 LimitExceededException: an account quota is used up.
    LimitExceeded,
    /// 400 TooManyTagsException: more than 50 tags on the resource.
    TooManyTags,
    /// 403 ForbiddenException, AccessDeniedException (IAM's answer) or any other 403: the
    /// IAM role lacks a permission.
    Forbidden,
    /// 404 NotFoundException: a mesh, gateway, service or the route itself is missing.
    NotFound,
    /// 409 ConflictException: the name is taken, or a client token was reused.
    Conflict,
    /// 409 ResourceInUseException.
    ResourceInUse,
    /// 429 TooManyRequestsException.
    Throttled,
    /// 500 InternalServerErrorException, 503 ServiceUnavailableException and other 5xx.
    ServerError,
    /// No answer: timeout, connection refused or dropped.
    Transport,
    /// App Mesh answered with a route meshroute cannot read (a field it does not know).
    Unreadable,
    /// meshroute could not turn the spec into a request; nothing was sent.
    Unconvertible,
    /// This replica lost the leader Lease; nothing was sent, and nothing may be written.
    NotLeader,
    /// App Mesh failed every recent call and meshroute paused all calls; nothing was sent.
    Paused,
    /// Anything else App Mesh may answer.
    Other,
}

impl ErrorKind {
    /// What a call that was sent can end with besides success: App Mesh's answers, or none
    /// (the `outcome` values of `meshroute_appmesh_calls_total` other than `ok`).
    pub const ANSWERED: [ErrorKind; 11] = [
        Self::BadRequest,
        Self::LimitExceeded,
        Self::TooManyTags,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::ResourceInUse,
        Self::Throttled,
        Self::ServerError,
        Self::Transport,
        Self::Other,
    ];

    /// Whether the same call may succeed if simply tried again.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::ServerError | Self::Transport)
    }

    /// The metric label of this outcome.
    pub fn label(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::LimitExceeded => "limit_exceeded",
            Self::TooManyTags => "too_many_tags",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::ResourceInUse => "resource_in_use",
            Self::Throttled => "throttled",
            Self::ServerError => "server_error",
            Self::Transport => "transport",
            Self::Unreadable => "unreadable",
            Self::Unconvertible => "unconvertible",
            Self::NotLeader => "not_leader",
            Self::Paused => "paused",
            Self::Other => "other",
        }
    }
}

/// A failed App Mesh call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("App Mesh {operation}: {code}: {message}{}", request_id.as_deref().map(|id| format!(" (request id {id})")).unwrap_or_default())]
pub struct AppMeshError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    /// The exception name App Mesh sent, or what went wrong on the way.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl AppMeshError {
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let request_id = err.request_id().map(str::to_string);
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let status = Some(service.raw().status().as_u16());
                AppMeshError {
                    kind: classify(&code, status),
                    operation,
                    message: e.message().unwrap_or_default().to_string(),
                    code,
                    request_id,
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => AppMeshError {
                kind: ErrorKind::Transport,
                operation,
                code: "NoAnswer".into(),
                message: deepest_source(&err),
                request_id,
            },
            _ => AppMeshError {
                kind: ErrorKind::Other,
                operation,
                code: "ClientError".into(),
                message: deepest_source(&err),
                request_id,
            },
        }
    }
}

/// What a failure means for the object: its `Ready` reason, when to try again, and what the
/// user can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meaning {
    pub reason: Reason,
    pub retry: Retry,
    pub advice: &'static str,
}

impl ErrorKind {
    /// The one table from App Mesh failure to what the object shows and how it is retried.
    /// (A 404 on create or update is first explained by the reconciler, which asks App Mesh
    /// which dependency is missing; a 409 on create is a taken name, settled by ownership.)
    pub fn meaning(self) -> Meaning {
        let (reason, retry, advice) = match self {
            Self::BadRequest => (Reason::InvalidSpec, Retry::AwaitChange, "fix the spec"),
            Self::Unconvertible => (
                Reason::UnsupportedSpec,
                Retry::AwaitChange,
                "fix the field named; nothing was sent to App Mesh",
            ),
            Self::Unreadable => (
                Reason::UnreadableRoute,
                Retry::Slow,
                "the route was changed outside meshroute with a field meshroute does not support; \
                 put it back with the AWS CLI or delete it, then meshroute takes over again",
            ),
            Self::LimitExceeded | Self::TooManyTags => (
                Reason::LimitExceeded,
                Retry::Slow,
                "raise the App Mesh quota or remove routes or tags",
            ),
            Self::Forbidden => (
                Reason::AccessDenied,
                Retry::Slow,
                "grant meshroute's IAM role the App Mesh permissions in the README",
            ),
            Self::Paused => (
                Reason::AppMeshUnavailable,
                Retry::Paused,
                "meshroute resumes every object as soon as App Mesh answers a probe",
            ),
            Self::NotFound
            | Self::Conflict
            | Self::ResourceInUse
            | Self::Throttled
            | Self::ServerError
            | Self::Transport
            | Self::NotLeader
            | Self::Other => (
                Reason::AppMeshUnavailable,
                Retry::Transient,
                "meshroute retries with backoff",
            ),
        };
        Meaning {
            reason,
            retry,
            advice,
        }
    }
}

fn classify(code: &str, status: Option<u16>) -> ErrorKind {
    match code {
        "BadRequestException" => ErrorKind::BadRequest,
        "LimitExceededException" => ErrorKind::LimitExceeded,
        "TooManyTagsException" => ErrorKind::TooManyTags,
        "ForbiddenException" | "AccessDeniedException" => ErrorKind::Forbidden,
        "NotFoundException" => ErrorKind::NotFound,
        "ConflictException" => ErrorKind::Conflict,
        "ResourceInUseException" => ErrorKind::ResourceInUse,
        "TooManyRequestsException" | "ThrottlingException" => ErrorKind::Throttled,
        "InternalServerErrorException" | "ServiceUnavailableException" => ErrorKind::ServerError,
        _ => match status {
            Some(403) => ErrorKind::Forbidden,
            Some(429) => ErrorKind::Throttled,
            Some(s) if s >= 500 => ErrorKind::ServerError,
            _ => ErrorKind::Other,
        },
    }
}

fn deepest_source(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_of_the_api_table_is_classified() {
        let table = [
            ("BadRequestException", 400, ErrorKind::BadRequest, false),
            (
                "LimitExceededException",
                400,
                ErrorKind::LimitExceeded,
                false,
            ),
            ("ForbiddenException", 403, ErrorKind::Forbidden, false),
            ("AccessDeniedException", 403, ErrorKind::Forbidden, false),
            ("SomethingNew", 403, ErrorKind::Forbidden, false),
            ("NotFoundException", 404, ErrorKind::NotFound, false),
            ("ConflictException", 409, ErrorKind::Conflict, false),
            ("TooManyRequestsException", 429, ErrorKind::Throttled, true),
            (
                "InternalServerErrorException",
                500,
                ErrorKind::ServerError,
                true,
            ),
            (
                "ServiceUnavailableException",
                503,
                ErrorKind::ServerError,
                true,
            ),
            ("SomethingNew", 502, ErrorKind::ServerError, true),
            ("SomethingNew", 418, ErrorKind::Other, false),
        ];
        for (code, status, kind, transient) in table {
            assert_eq!(classify(code, Some(status)), kind, "{code}");
            assert_eq!(kind.is_transient(), transient, "{code}");
        }
    }

    #[test]
    fn each_kind_has_one_reason_and_retry() {
        let table = [
            (
                ErrorKind::BadRequest,
                Reason::InvalidSpec,
                Retry::AwaitChange,
            ),
            (
                ErrorKind::Unconvertible,
                Reason::UnsupportedSpec,
                Retry::AwaitChange,
            ),
            (ErrorKind::Unreadable, Reason::UnreadableRoute, Retry::Slow),
            (ErrorKind::LimitExceeded, Reason::LimitExceeded, Retry::Slow),
            (ErrorKind::TooManyTags, Reason::LimitExceeded, Retry::Slow),
            (ErrorKind::Forbidden, Reason::AccessDenied, Retry::Slow),
            (
                ErrorKind::Throttled,
                Reason::AppMeshUnavailable,
                Retry::Transient,
            ),
            (
                ErrorKind::ServerError,
                Reason::AppMeshUnavailable,
                Retry::Transient,
            ),
            (
                ErrorKind::Transport,
                Reason::AppMeshUnavailable,
                Retry::Transient,
            ),
            (
                ErrorKind::Other,
                Reason::AppMeshUnavailable,
                Retry::Transient,
            ),
        ];
        for (kind, reason, retry) in table {
            let m = kind.meaning();
            assert_eq!((m.reason, m.retry), (reason, retry), "{kind:?}");
        }
    }
}
