//! Messages of the streaming endpoint (`GET /ws/emotion/stream` on the local server): each text message is a JSON
//! request as for `/api/v1/emotion/analyze/multimodal` with an optional `id`, each answer the fused result with that
//! `id` echoed. A bad message gets `{"id", "error": {"code", "status", "message"}}` and the stream goes on. While a
//! video or speech is analysed, progress messages `{"id", "progress": {"done", "total", "unit"}}` come before the
//! answer.

use emosense_core::{Budget, Progress};
use serde::Serialize;
use serde_json::Value;

use crate::routes::{multimodal, MultimodalRequest};
use crate::{Api, ApiError};

/// The route of the stream.
pub const STREAM_ROUTE: &str = "/ws/emotion/stream";

impl Api {
    /// Answers one stream message with one JSON text; never fails (errors are answers too).
    pub fn answer_stream_message(&self, message: &str, budget: &Budget) -> String {
        self.answer_stream_message_reporting(message, budget, |_| {})
    }

    /// Answers one stream message, handing `report` a progress message (JSON text with the message's `id`) each
    /// time the analysis says how far it is.
    pub fn answer_stream_message_reporting(&self, message: &str, budget: &Budget, report: impl Fn(String) + Send + Sync + 'static) -> String {
        let (id, outcome) = match serde_json::from_str::<Value>(message) {
            Ok(Value::Object(mut fields)) => {
                let id = fields.remove("id").unwrap_or(Value::Null);
                let progress_id = id.clone();
                let progress = Progress::to(move |done, total, unit| {
                    report(serde_json::json!({"id": progress_id, "progress": {"done": done, "total": total, "unit": unit}}).to_string());
                });
                let outcome = serde_json::from_value::<MultimodalRequest>(Value::Object(fields))
                    .map_err(|e| emosense_core::Error::invalid("message", e.to_string()).into())
                    .and_then(|request| multimodal(self, request, budget, progress));
                (id, outcome)
            }
            Ok(_) => (Value::Null, Err(ApiError::BadRequest("a message must be a JSON object".into()))),
            Err(e) => (Value::Null, Err(ApiError::BadRequest(format!("message is not valid JSON: {e}")))),
        };
        outcome
            .and_then(|result| serde_json::to_string(&WithId { id: &id, answer: result }).map_err(|e| ApiError::Internal(e.to_string())))
            .unwrap_or_else(|e| stream_error_message(&id, &e))
    }
}

/// One message of the stream: an answer's fields with the request's `id` beside them.
#[derive(Serialize)]
struct WithId<'a, T: Serialize> {
    id: &'a Value,
    #[serde(flatten)]
    answer: T,
}

/// The stream's answer to a message that failed: `{"id", "error": {"code", "status", "message"}}`.
pub fn stream_error_message(id: &Value, error: &ApiError) -> String {
    serde_json::to_string(&WithId { id, answer: error.item() }).unwrap_or_default()
}
