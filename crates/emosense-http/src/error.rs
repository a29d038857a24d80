//! API errors and the one place where errors become HTTP status codes.

use bytes::Bytes;
use emosense_core::ErrorKind;
use http::{Response, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;

use crate::json_response;
use crate::log::ErrorCode;

/// The body of every error response.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, JsonSchema)]
struct ErrorDetail {
    /// Machine-readable: `bad_request`, `not_found`, `method_not_allowed`, `unsupported_media_type`,
    /// `payload_too_large`, `request_timeout`, `invalid_input`, `model_unavailable`, `overloaded`, `timeout` or
    /// `internal`.
    code: &'static str,
    /// What to change, naming the field at fault.
    message: String,
}

/// One item's failure inside an answer that goes on (a batch's text, a stream's message):
/// `{"error": {"code", "status", "message"}}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemError {
    error: ItemErrorDetail,
}

/// What went wrong with one item.
#[derive(Debug, Serialize, JsonSchema)]
struct ItemErrorDetail {
    /// As in error responses.
    code: &'static str,
    /// The HTTP status the item would have been answered with alone.
    status: u16,
    /// What to change, naming the field at fault (`texts[3]`).
    message: String,
}

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Body is not valid UTF-8 or not valid JSON.
    #[error("{0}")]
    BadRequest(String),
    /// No route has this path.
    #[error("no route for {0}")]
    NotFound(String),
    /// The path exists but not for this method.
    #[error("{method} is not allowed on {path}; use {allowed}")]
    MethodNotAllowed { method: String, path: String, allowed: &'static str },
    /// The body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body exceeds the largest request the route accepts.
    #[error("request body is larger than {limit} bytes, the most this route accepts (set by {limit_source})")]
    BodyTooLarge { limit: u64, limit_source: &'static str },
    /// The body did not arrive within the request's deadline.
    #[error("the request body did not arrive within {seconds} s (REQUEST_TIMEOUT)")]
    RequestTimeout { seconds: f64 },
    /// Every analysis slot is busy and the queue is full.
    #[error("the server is busy (MAX_CONCURRENT_ANALYSES running, MAX_QUEUED_ANALYSES waiting); retry shortly")]
    Overloaded,
    /// A failure of the server itself.
    #[error("{0}")]
    Internal(String),
    /// An error from analysis.
    #[error(transparent)]
    Core(#[from] emosense_core::Error),
}

impl ApiError {
    /// HTTP status and machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RequestTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Core(e) => match e.kind() {
                ErrorKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
                ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                ErrorKind::UnsupportedFormat => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                ErrorKind::ModelUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "model_unavailable"),
                ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                ErrorKind::DeadlineExceeded => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
                ErrorKind::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "cancelled"),
            },
        }
    }

    /// The error as one item of an answer that goes on.
    pub fn item(&self) -> ItemError {
        let (status, code) = self.status_and_code();
        ItemError { error: ItemErrorDetail { code, status: status.as_u16(), message: self.to_string() } }
    }

    /// The JSON error response.
    pub fn into_response(self) -> Response<Bytes> {
        let (status, code) = self.status_and_code();
        let mut response = json_response(status, &ErrorBody { error: ErrorDetail { code, message: self.to_string() } });
        response.extensions_mut().insert(ErrorCode(code));
        if let ApiError::MethodNotAllowed { allowed, .. } = self {
            response.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static(allowed));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::REQUEST_TIMEOUT {
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(crate::RETRY_AFTER_SECONDS));
        }
        response
    }
}
