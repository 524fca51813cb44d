//! What an App Mesh call's failure means for the operator: one classification of every error in
//! the API's table, with the request id kept for the user's support case.

use aws_sdk_appmesh::config::http::HttpResponse;
use aws_sdk_appmesh::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_appmesh::operation::RequestId;

/// The kinds of App Mesh failure, each with its own handling in the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400 BadRequestException: the request itself is wrong; retrying cannot help.
    BadRequest,
    /// 400 LimitExceededException: an account quota is used up.
    LimitExceeded,
    /// 400 TooManyTagsException: more than 50 tags on the resource.
    TooManyTags,
    /// 403 ForbiddenException: the IAM role lacks a permission.
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
    /// Anything else App Mesh may answer.
    Other,
}

impl ErrorKind {
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

fn classify(code: &str, status: Option<u16>) -> ErrorKind {
    match code {
        "BadRequestException" => ErrorKind::BadRequest,
        "LimitExceededException" => ErrorKind::LimitExceeded,
        "TooManyTagsException" => ErrorKind::TooManyTags,
        "ForbiddenException" => ErrorKind::Forbidden,
        "NotFoundException" => ErrorKind::NotFound,
        "ConflictException" => ErrorKind::Conflict,
        "ResourceInUseException" => ErrorKind::ResourceInUse,
        "TooManyRequestsException" | "ThrottlingException" => ErrorKind::Throttled,
        "InternalServerErrorException" | "ServiceUnavailableException" => ErrorKind::ServerError,
        _ => match status {
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
}
