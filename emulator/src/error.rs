//! App Mesh's error responses: the exception name, HTTP status and message the service sends.

/// An error the emulated service answers with, as App Mesh would.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// The exception name, sent as `x-amzn-ErrorType` and `__type`.
    pub kind: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, kind: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: kind.to_string(),
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequestException", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFoundException", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "ConflictException", message)
    }
    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceInUseException", message)
    }
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(400, "LimitExceededException", message)
    }
    pub fn too_many_tags(message: impl Into<String>) -> Self {
        Self::new(400, "TooManyTagsException", message)
    }
    pub fn throttled() -> Self {
        Self::new(
            429,
            "TooManyRequestsException",
            "The maximum request rate permitted by the App Mesh APIs has been exceeded for your account.",
        )
    }

    /// The exception App Mesh sends with an HTTP status, for faults injected by status alone.
    pub fn for_status(status: u16) -> Self {
        let (kind, message) = match status {
            400 => ("BadRequestException", "The request syntax was malformed."),
            403 => (
                "ForbiddenException",
                "You don't have permissions to perform this action.",
            ),
            404 => ("NotFoundException", "The specified resource doesn't exist."),
            409 => (
                "ConflictException",
                "The request conflicts with another request.",
            ),
            429 => return Self::throttled(),
            503 => (
                "ServiceUnavailableException",
                "The request has failed due to a temporary failure of the service.",
            ),
            _ => (
                "InternalServerErrorException",
                "The request processing has failed because of an unknown error, exception, or failure.",
            ),
        };
        Self::new(status, kind, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}
