//! The EmoSense HTTP API over plain `http::Request<Bytes>` / `http::Response<Bytes>`.
//!
//! Every front end (local server, AWS Lambda, Vercel) hands requests to one [`Api`], so routing, validation and
//! the mapping from errors to status codes live here once.

mod error;
mod log;
mod openapi;
mod routes;
mod stream;
mod upload;

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use emosense_core::{Config, ConfigError, EmoSense};
use http::{Request, Response};
use futures_util::StreamExt;
use http_body_util::{BodyDataStream, BodyExt, LengthLimitError, Limited};

pub use error::ApiError;
pub use log::RequestLog;
pub use openapi::document as openapi_document;
pub use stream::STREAM_ROUTE;
use log::RequestFacts;

/// The router: one per process, shared by all requests.
pub struct Api {
    engine: Arc<EmoSense>,
    request_log: RequestLog,
}

impl Api {
    /// An API over `engine` that logs a JSON line per request.
    pub fn new(engine: Arc<EmoSense>) -> Self {
        Api { engine, request_log: RequestLog::default() }
    }

    /// The API a serverless function serves: configuration from the environment (read once), and the models
    /// loaded now when `EMOTION_WARMUP` asks for it (a failure is logged and leaves the lower tiers to answer).
    pub fn from_env(request_log: RequestLog) -> Result<Self, ConfigError> {
        let engine = EmoSense::new(Config::from_env()?);
        if engine.config().warmup {
            if let Err(e) = engine.warm_up() {
                eprintln!("{}", serde_json::json!({"level": "warn", "message": format!("warm-up failed: {e}")}));
            }
        }
        Ok(Api::new(Arc::new(engine)).with_request_log(request_log))
    }

    /// The same API with another request log format.
    pub fn with_request_log(mut self, request_log: RequestLog) -> Self {
        self.request_log = request_log;
        self
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

    /// Answers one request and logs it. Never panics on any input; errors are JSON `{"error": {"code", "message"}}`.
    pub fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let started = Instant::now();
        let facts = facts_of(&request);
        let response = self.answer(request);
        self.request_log.write(&facts, &response, started.elapsed());
        response
    }

    /// Answers a request whose body is still streaming in: reading stops with 413 at [`Api::max_body_bytes`], and
    /// the analysis runs on a blocking thread so the async runtime keeps serving.
    /// File uploads are parsed as they arrive and refused as soon as the file passes its kind's size limit.
    pub async fn handle_streaming<B>(self: Arc<Self>, request: Request<B>) -> Response<Bytes>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let started = Instant::now();
        let facts = facts_of(&request);
        let (parts, body) = request.into_parts();
        if facts.route == upload::ROUTE && parts.method == http::Method::POST {
            let response = self.clone().answer_upload(&parts, body).await.unwrap_or_else(ApiError::into_response);
            self.request_log.write(&facts, &response, started.elapsed());
            return response;
        }
        let limit = self.max_body_bytes();
        let response = match Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect().await {
            Ok(collected) => {
                let request = Request::from_parts(parts, collected.to_bytes());
                let api = self.clone();
                tokio::task::spawn_blocking(move || api.answer(request))
                    .await
                    .unwrap_or_else(|e| ApiError::Internal(format!("request handler failed: {e}")).into_response())
            }
            Err(e) if e.is::<LengthLimitError>() => ApiError::BodyTooLarge { limit }.into_response(),
            Err(e) => ApiError::BadRequest(format!("could not read the request body: {e}")).into_response(),
        };
        self.request_log.write(&facts, &response, started.elapsed());
        response
    }

    async fn answer_upload<B>(self: Arc<Self>, parts: &http::request::Parts, body: B) -> Result<Response<Bytes>, ApiError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let chunks = BodyDataStream::new(body).map(|chunk| chunk.map(|mut data| data.copy_to_bytes(data.remaining())));
        let upload = upload::read(self.engine.config(), content_type, chunks).await?;
        let api = self.clone();
        tokio::task::spawn_blocking(move || upload::analyze(&api, upload))
            .await
            .unwrap_or_else(|e| Err(ApiError::Internal(format!("request handler failed: {e}"))))
    }

    fn answer(&self, request: Request<Bytes>) -> Response<Bytes> {
        routes::dispatch(self, request).unwrap_or_else(ApiError::into_response)
    }
}

fn facts_of<B>(request: &Request<B>) -> RequestFacts {
    RequestFacts { method: request.method().clone(), route: routes::route_of(request.uri().path()).unwrap_or("unmatched") }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: http::StatusCode, body: &impl serde::Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|e| format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}").into_bytes());
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
