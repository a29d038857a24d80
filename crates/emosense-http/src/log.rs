//! One structured JSON line per request on stderr, queryable in CloudWatch Logs Insights and Vercel's log search.
//!
//! The line names the route, status, latency, tier, model and dominant emotion; never the text or media sent.
//! On Lambda it also carries CloudWatch Embedded Metric Format metadata, so the same line becomes metrics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use emosense_core::{AnalysisResult, Emotion, MultimodalResult, Tier};
use http::Response;
use serde_json::{json, Map, Value};

/// How a front end writes its line per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestLog {
    /// A JSON line.
    #[default]
    Json,
    /// A JSON line that is also a CloudWatch Embedded Metric Format record (namespace `EmoSense`, dimension
    /// `route`): `latency_ms` in milliseconds, `errors`, and `emotion_<label>` counts of dominant emotions.
    JsonWithMetrics,
    /// Nothing.
    Off,
}

/// What a route's answer was, kept in the response extensions for the log line.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    /// `text`, `audio`, `face` or `multimodal`.
    pub(crate) modality: &'static str,
    pub(crate) tier: Tier,
    model: String,
    pub(crate) dominant_emotions: Vec<Emotion>,
}

impl Answered {
    /// The summary of one or more results (a batch reports the tier and model of its first item).
    pub(crate) fn of<'a>(results: impl IntoIterator<Item = &'a AnalysisResult>) -> Option<Answered> {
        let mut results = results.into_iter().peekable();
        let first = results.peek()?;
        let (modality, tier, model) = (first.metadata.modality.as_str(), first.metadata.tier, first.metadata.model.clone());
        Some(Answered { modality, tier, model, dominant_emotions: results.map(|r| r.dominant_emotion).collect() })
    }
}

impl Answered {
    /// The summary of a fused answer: the lowest tier any modality answered from, and the modalities as the model.
    pub(crate) fn fused(result: &MultimodalResult) -> Answered {
        let used: Vec<&str> = result.metadata.modalities_used.iter().map(|m| m.as_str()).collect();
        Answered {
            modality: "multimodal",
            tier: result.metadata.weights.iter().map(|w| w.tier).max().unwrap_or(Tier::Primary),
            model: format!("fusion({})", used.join("+")),
            dominant_emotions: vec![result.dominant_emotion],
        }
    }
}

/// The machine-readable error code of an error response, kept in its extensions for the log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

/// The facts of a request known before it is answered.
#[derive(Debug, Clone)]
pub(crate) struct RequestFacts {
    pub(crate) method: http::Method,
    /// The matched route, or `unmatched` (arbitrary paths are not logged).
    pub(crate) route: &'static str,
}

impl RequestLog {
    /// Writes the line for one answered request.
    pub(crate) fn write(self, facts: &RequestFacts, response: &Response<Bytes>, latency: Duration) {
        if self != RequestLog::Off {
            eprintln!("{}", self.line(facts, response, latency, SystemTime::now()));
        }
    }

    fn line(self, facts: &RequestFacts, response: &Response<Bytes>, latency: Duration, now: SystemTime) -> Value {
        let status = response.status();
        let latency_ms = (latency.as_secs_f64() * 1e5).round() / 100.0;
        let mut line = Map::new();
        line.insert("level".into(), json!(if status.is_server_error() { "error" } else { "info" }));
        line.insert("method".into(), json!(facts.method.as_str()));
        line.insert("route".into(), json!(facts.route));
        line.insert("status".into(), json!(status.as_u16()));
        line.insert("latency_ms".into(), json!(latency_ms));
        if let Some(answered) = response.extensions().get::<Answered>() {
            line.insert("tier".into(), json!(answered.tier.as_str()));
            line.insert("model".into(), json!(answered.model));
            if let [only] = answered.dominant_emotions.as_slice() {
                line.insert("dominant_emotion".into(), json!(only.as_str()));
            }
            line.insert("items".into(), json!(answered.dominant_emotions.len()));
        }
        if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
            line.insert("error_code".into(), json!(code));
        }
        if self == RequestLog::JsonWithMetrics {
            add_metrics(&mut line, response, now);
        }
        Value::Object(line)
    }
}

/// Turns the line into an Embedded Metric Format record whose metrics are fields of the line itself.
fn add_metrics(line: &mut Map<String, Value>, response: &Response<Bytes>, now: SystemTime) {
    let mut metrics = vec![json!({"Name": "latency_ms", "Unit": "Milliseconds"}), json!({"Name": "errors", "Unit": "Count"})];
    line.insert("errors".into(), json!(u8::from(response.status().is_client_error() || response.status().is_server_error())));
    if let Some(answered) = response.extensions().get::<Answered>() {
        for emotion in Emotion::ALL {
            let count = answered.dominant_emotions.iter().filter(|e| **e == emotion).count();
            if count > 0 {
                let name = format!("emotion_{}", emotion.as_str());
                line.insert(name.clone(), json!(count));
                metrics.push(json!({"Name": name, "Unit": "Count"}));
            }
        }
    }
    let timestamp_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": "EmoSense", "Dimensions": [["route"]], "Metrics": metrics}],
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn facts() -> RequestFacts {
        RequestFacts { method: http::Method::POST, route: "/api/v1/emotion/analyze/batch" }
    }

    fn answered_response() -> Response<Bytes> {
        let mut response = Response::new(Bytes::from_static(b"{}"));
        response.extensions_mut().insert(Answered {
            modality: "text",
            tier: Tier::Secondary,
            model: "text-tfidf-logreg".into(),
            dominant_emotions: vec![Emotion::Joy, Emotion::Anger, Emotion::Joy],
        });
        response
    }

    #[test]
    fn json_line_names_the_answer_but_not_the_content() {
        let line = RequestLog::Json.line(&facts(), &answered_response(), Duration::from_micros(8_456), UNIX_EPOCH);
        assert_eq!(
            line,
            json!({"level": "info", "method": "POST", "route": "/api/v1/emotion/analyze/batch", "status": 200,
                   "latency_ms": 8.46, "tier": "secondary", "model": "text-tfidf-logreg", "items": 3})
        );
    }

    #[test]
    fn metrics_line_is_embedded_metric_format_over_its_own_fields() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let line = RequestLog::JsonWithMetrics.line(&facts(), &answered_response(), Duration::from_millis(5), now);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_123u64);
        assert_eq!(directive["Namespace"], "EmoSense");
        assert_eq!(directive["Dimensions"], json!([["route"]]));
        let names: Vec<&str> = directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["latency_ms", "errors", "emotion_anger", "emotion_joy"]);
        for name in names {
            assert!(line.get(name).is_some_and(Value::is_number), "metric {name} must be a numeric field of the line");
        }
        assert_eq!((line["emotion_joy"].clone(), line["errors"].clone()), (json!(2), json!(0)));
    }

    #[test]
    fn error_lines_carry_the_code_and_count_as_errors() {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        response.extensions_mut().insert(ErrorCode("invalid_input"));
        let line = RequestLog::JsonWithMetrics.line(&facts(), &response, Duration::ZERO, UNIX_EPOCH);
        assert_eq!((line["error_code"].clone(), line["errors"].clone(), line["level"].clone()), (json!("invalid_input"), json!(1), json!("info")));
        assert!(line.get("dominant_emotion").is_none());
    }
}
