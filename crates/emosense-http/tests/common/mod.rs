//! Helpers for driving the real router with real models.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use emosense_core::{Config, EmoSense};
use emosense_http::Api;
use http::{Request, Response};
use serde_json::Value;

/// The repository's model folder.
pub fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models-quantized")
}

/// One API over the shipped models, shared by the tests of a binary so the model loads once.
pub fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| api_with(Config { model_dir: model_dir(), ..Config::default() }))
}

/// A fresh API over `config`.
pub fn api_with(config: Config) -> Api {
    Api::new(Arc::new(engine_with(config)))
}

/// An engine over `config`, its graphs run by the inference backend the environment names
/// (`EMOTION_INFERENCE_BACKEND`, `EMOTION_MODEL_DEVICE`): the suite passes on tract and on onnxruntime alike.
pub fn engine_with(config: Config) -> EmoSense {
    let inference = Config::from_env().expect("configuration").inference;
    EmoSense::new(Config { inference, ..config })
}

/// A request with a JSON content type.
pub fn post_json(path: &str, body: impl Into<Bytes>) -> Request<Bytes> {
    Request::post(path).header("content-type", "application/json").body(body.into()).unwrap()
}

/// A GET request.
pub fn get(path: &str) -> Request<Bytes> {
    Request::get(path).body(Bytes::new()).unwrap()
}

/// Status and parsed JSON body of a response (panics if the body is not JSON: every answer must be).
pub fn parts(response: Response<Bytes>) -> (u16, Value) {
    assert_eq!(response.headers()["content-type"], "application/json");
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body()).expect("response body is JSON"))
}

/// Sends `request` to `api`.
pub fn send(api: &Api, request: Request<Bytes>) -> (u16, Value) {
    parts(api.handle(request))
}

/// Checks the shape every analysis result shares and returns the dominant emotion.
pub fn assert_valid_result(result: &Value) -> String {
    const LABELS: [&str; 7] = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"];
    let emotions = result["emotions"].as_object().expect("emotions object");
    assert_eq!(emotions.keys().map(String::as_str).collect::<Vec<_>>(), LABELS);
    let probabilities: Vec<f64> = emotions.values().map(|v| v.as_f64().unwrap()).collect();
    assert!(probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-3, "probabilities sum to 1: {probabilities:?}");
    let dominant = result["dominant_emotion"].as_str().unwrap().to_owned();
    let max = probabilities.iter().cloned().fold(0.0, f64::max);
    assert_eq!(result["confidence"].as_f64().unwrap(), max);
    assert_eq!(emotions[&dominant].as_f64().unwrap(), max);
    let metadata = &result["metadata"];
    for key in ["modality", "tier", "model", "model_version", "latency_ms"] {
        assert!(!metadata[key].is_null(), "metadata.{key} present");
    }
    dominant
}
