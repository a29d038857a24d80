//! The EmoSense HTTP API over plain `http::Request<Bytes>` / `http::Response<Bytes>`.
//!
//! Every front end (local server, AWS Lambda, Vercel) hands requests to one [`Api`], so routing, validation and
//! the mapping from errors to status codes live here once.

mod error;
mod routes;

use std::sync::Arc;

use bytes::Bytes;
use emosense_core::EmoSense;
use http::{Request, Response};

pub use error::ApiError;

/// The router: one per process, shared by all requests.
pub struct Api {
    engine: Arc<EmoSense>,
}

impl Api {
    /// An API over `engine`.
    pub fn new(engine: Arc<EmoSense>) -> Self {
        Api { engine }
    }

    /// The engine behind the API.
    pub fn engine(&self) -> &EmoSense {
        &self.engine
    }

    /// Largest request body any route accepts; front ends stop reading (413) beyond it.
    pub fn max_body_bytes(&self) -> u64 {
        let config = self.engine.config();
        // Media arrive base64-encoded inside JSON (4/3 larger); text requests are far smaller.
        let media = config.max_audio_bytes.max(config.max_video_bytes) / 3 * 4;
        media + (1 << 20)
    }

    /// Answers one request. Never panics on any input; errors are JSON `{"error": {"code", "message"}}`.
    pub fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        routes::dispatch(self, request).unwrap_or_else(ApiError::into_response)
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: http::StatusCode, body: &impl serde::Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|e| format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}").into_bytes());
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
