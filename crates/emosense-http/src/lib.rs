//! The EmoSense HTTP API over plain `http::Request<Bytes>` / `http::Response<Bytes>`.
//!
//! Every front end (local server, AWS Lambda, Vercel) hands requests to one [`Api`], so routing, validation and
//! the mapping from errors to status codes live here once.

mod error;
mod gate;
mod log;
mod metrics;
mod openapi;
mod routes;
mod stream;
mod upload;

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use emosense_core::{Budget, Config, ConfigError, EmoSense};
use http::{Request, Response};
use futures_util::StreamExt;
use http_body_util::{BodyDataStream, BodyExt};

pub use error::{ApiError, ItemError};
pub use log::RequestLog;
pub use metrics::Metrics;
pub use openapi::document as openapi_document;
pub use routes::Route;
pub use stream::{stream_error_message, STREAM_ROUTE};
use gate::AnalysisGate;
use log::RequestFacts;

/// The router: one per process, shared by all requests.
pub struct Api {
    engine: Arc<EmoSense>,
    request_log: RequestLog,
    gate: AnalysisGate,
    metrics: Metrics,
}

impl Api {
    /// An API over `engine` that logs a JSON line per request.
    pub fn new(engine: Arc<EmoSense>) -> Self {
        let gate = AnalysisGate::new(engine.config().max_concurrent_analyses, engine.config().max_queued_analyses);
        Api { engine, request_log: RequestLog::default(), gate, metrics: Metrics::default() }
    }

    /// The API a serverless function serves: configuration from the environment (read once), and the models
    /// loaded now when `EMOTION_WARMUP` asks for it (a failure is logged and leaves the lower tiers to answer).
    pub fn from_env(request_log: RequestLog) -> Result<Self, ConfigError> {
        let engine = EmoSense::new(Config::from_env()?);
        if let Some(note) = &engine.config().device_note {
            eprintln!("{}", serde_json::json!({"level": "warn", "message": note}));
        }
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

    /// The process's request counters in the Prometheus text format, with which models are loaded.
    pub fn metrics_text(&self) -> String {
        self.metrics.render(&self.engine.models())
    }

    /// The engine behind the API.
    pub fn engine(&self) -> &EmoSense {
        &self.engine
    }

    /// Largest body the route at `path` accepts: what its largest valid request can take (media arrive
    /// base64-encoded, 4/3 larger), so an oversize body is refused as soon as it passes that.
    pub fn body_limit(&self, path: &str) -> u64 {
        self.body_limit_and_source(path).0
    }

    /// The body limit of the route at `path` (the stream's is the multimodal route's: each message is one such
    /// body), and the settings it follows from.
    fn body_limit_and_source(&self, path: &str) -> (u64, &'static str) {
        const FIELDS: u64 = 64 << 10;
        if path.trim_end_matches('/') == STREAM_ROUTE {
            return self.route_body_limit(Route::AnalyzeMultimodal);
        }
        Route::of(path).map_or((FIELDS, "a path that is no route"), |route| self.route_body_limit(route))
    }

    /// What the largest valid request of `route` can take, and the settings it follows from.
    fn route_body_limit(&self, route: Route) -> (u64, &'static str) {
        let config = self.engine.config();
        let base64 = |bytes: u64| bytes.div_ceil(3) * 4;
        // Each character may take 4 bytes in UTF-8 and up to 12 as a JSON escape of a surrogate pair.
        let text = config.limits.text_chars as u64 * 12;
        const FIELDS: u64 = 64 << 10;
        match route {
            Route::AnalyzeText => (text + FIELDS, "MAX_TEXT_LENGTH"),
            Route::AnalyzeBatch => (text * emosense_core::text::MAX_BATCH_TEXTS as u64 + FIELDS, "MAX_TEXT_LENGTH x 256 texts"),
            Route::AnalyzeAudio => (base64(config.limits.audio_bytes) + FIELDS, "MAX_AUDIO_FILE_SIZE"),
            Route::AnalyzeFace => (base64(config.limits.media_bytes) + FIELDS, "MAX_VIDEO_FILE_SIZE"),
            Route::AnalyzeMultimodal => {
                (text + base64(config.limits.audio_bytes) + base64(config.limits.media_bytes) + FIELDS, "MAX_TEXT_LENGTH, MAX_AUDIO_FILE_SIZE and MAX_VIDEO_FILE_SIZE")
            }
            Route::AnalyzeFile => (upload::body_limit(config), "the largest of MAX_TEXT_LENGTH, MAX_AUDIO_FILE_SIZE and MAX_VIDEO_FILE_SIZE"),
            Route::Health | Route::Models | Route::OpenApi => (FIELDS, "a route that reads no body"),
        }
    }

    /// Answers one request whose body is in memory and logs it, within `REQUEST_TIMEOUT` (serverless front ends,
    /// which run one request at a time). Never panics on any input; errors are JSON
    /// `{"error": {"code", "message"}}`.
    pub fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let started = Instant::now();
        let facts = facts_of(&request);
        let response = self.answer(request, &Budget::with_timeout(self.engine.config().request_timeout));
        self.request_log.write(&facts, &response, started.elapsed());
        self.metrics.record(&facts, &response, started.elapsed());
        response
    }

    /// Answers a request whose body is still streaming in: `Content-Length` is checked first, reading stops with 413
    /// at the route's body limit and with 408 when the body is not in by `REQUEST_TIMEOUT`; the analysis waits for
    /// a slot (at most `MAX_CONCURRENT_ANALYSES` run at once, `MAX_QUEUED_ANALYSES` wait, more get 503) and runs on
    /// a blocking thread under the rest of the deadline. When this future is dropped (the client went away) the
    /// analysis is cancelled at its next check.
    /// File uploads are parsed as they arrive and refused as soon as the file passes its kind's size limit.
    pub async fn handle_streaming<B>(self: Arc<Self>, request: Request<B>) -> Response<Bytes>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let started = Instant::now();
        let facts = facts_of(&request);
        let response = self.clone().answer_streaming(request, started).await.unwrap_or_else(ApiError::into_response);
        self.request_log.write(&facts, &response, started.elapsed());
        self.metrics.record(&facts, &response, started.elapsed());
        response
    }

    async fn answer_streaming<B>(self: Arc<Self>, request: Request<B>, started: Instant) -> Result<Response<Bytes>, ApiError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let timeout = self.engine.config().request_timeout;
        let (parts, body) = request.into_parts();
        let limit = self.body_limit_and_source(parts.uri.path());
        let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit.0) {
            return Err(ApiError::BodyTooLarge { limit: limit.0, limit_source: limit.1 });
        }
        let body_timed_out = || ApiError::RequestTimeout { seconds: timeout.as_secs_f64() };
        if Route::of(parts.uri.path()) == Some(Route::AnalyzeFile) && parts.method == http::Method::POST {
            let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let chunks = BodyDataStream::new(body).map(|chunk| chunk.map(|mut data| data.copy_to_bytes(data.remaining())));
            let upload = tokio::time::timeout(timeout, upload::read(self.engine.config(), content_type, chunks)).await.map_err(|_| body_timed_out())??;
            return self.run_blocking(started, move |api, budget| upload::analyze(api, upload, budget)).await;
        }
        let bytes = tokio::time::timeout(timeout, read_body(body, limit, declared)).await.map_err(|_| body_timed_out())??;
        let request = Request::from_parts(parts, bytes);
        // Health checks, the model list and refusals of unknown routes never wait behind analyses.
        if !Route::of(request.uri().path()).is_some_and(|route| route.analyses() && request.method() == route.method()) {
            return Ok(self.answer(request, &Budget::unlimited()));
        }
        self.run_blocking(started, move |api, budget| Ok(api.answer(request, budget))).await
    }

    /// Runs `work` on a blocking thread once a slot is free, with the budget left of `REQUEST_TIMEOUT` since
    /// `started`; cancels it if this future is dropped first.
    async fn run_blocking<T: Send + 'static>(
        self: Arc<Self>,
        started: Instant,
        work: impl FnOnce(&Api, &Budget) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let timeout = self.engine.config().request_timeout;
        let left = |started: Instant| timeout.saturating_sub(started.elapsed());
        let expired = || ApiError::Core(emosense_core::Error::DeadlineExceeded { seconds: timeout.as_secs_f64() });
        let slot = tokio::time::timeout(left(started), self.gate.enter()).await.map_err(|_| expired())??;
        let budget = Budget::with_timeout(left(started));
        let cancel = budget.cancel_on_drop();
        let api = self.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            contain_panics(|| work(&api, &budget))
        })
        .await
        .unwrap_or_else(|e| Err(ApiError::Internal(format!("request handler failed: {e}"))));
        cancel.disarm();
        answer
    }

    /// The answer to one stream message (see [`Api::answer_stream_message_reporting`]), run like an HTTP request: in
    /// a slot, within `REQUEST_TIMEOUT`, cancelled when the stream goes away; `report` is handed progress messages.
    pub async fn answer_stream_message_in_turn(self: Arc<Self>, message: String, report: impl Fn(String) + Send + Sync + 'static) -> String {
        let started = Instant::now();
        let outcome = self.run_blocking(started, move |api, budget| Ok(api.answer_stream_message_reporting(&message, budget, report))).await;
        outcome.unwrap_or_else(|error| stream_error_message(&serde_json::Value::Null, &error))
    }

    /// Refuses (413) a body in memory that is over its route's limit.
    pub(crate) fn check_body_size(&self, route: Route, body: &[u8]) -> Result<(), ApiError> {
        let (limit, limit_source) = self.route_body_limit(route);
        if body.len() as u64 > limit {
            return Err(ApiError::BodyTooLarge { limit, limit_source });
        }
        Ok(())
    }

    fn answer(&self, request: Request<Bytes>, budget: &Budget) -> Response<Bytes> {
        contain_panics(|| routes::dispatch(self, request, budget)).unwrap_or_else(ApiError::into_response)
    }
}

/// Runs `work`; a panic anywhere below (a bug, or a decoder's on input no check caught) becomes a 500 answer for
/// this request instead of taking the process down.
fn contain_panics<T>(work: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(ApiError::Internal("the analysis failed unexpectedly; the request was not completed".into())))
}

/// Reads a whole body into one buffer (sized from `Content-Length` when given), refusing it (413) once it passes
/// `limit` bytes.
async fn read_body<B>(body: B, (limit, limit_source): (u64, &'static str), declared: Option<u64>) -> Result<Bytes, ApiError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut buffer = BytesMut::with_capacity(usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0));
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("could not read the request body: {}", e.into())))?;
        if let Ok(mut data) = frame.into_data() {
            if (buffer.len() + data.remaining()) as u64 > limit {
                return Err(ApiError::BodyTooLarge { limit, limit_source });
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                buffer.put_slice(chunk);
                let read = chunk.len();
                data.advance(read);
            }
        }
    }
    Ok(buffer.freeze())
}

/// Seconds a client is asked to wait before retrying a refused request.
pub const RETRY_AFTER_SECONDS: u64 = 1;

fn facts_of<B>(request: &Request<B>) -> RequestFacts {
    RequestFacts { method: request.method().clone(), route: Route::of(request.uri().path()).map_or("unmatched", Route::path) }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: http::StatusCode, body: &impl serde::Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|e| format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}").into_bytes());
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
