//! The onnxruntime backend answers as tract does, through the HTTP handlers: on the fixtures of every modality the
//! same answer field for field (dominant emotions, tiers, faces found, segments, landmarks), every number within
//! [`TOLERANCE`] of tract's, timings aside. Built with `--features ort`, ONNX Runtime's library from
//! `ORT_DYLIB_PATH` (`tools/onnxruntime/fetch.sh`).

#![cfg(feature = "ort")]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use emosense_core::{Backend, Config, Device, EmoSense, Inference};
use emosense_http::Api;
use serde_json::{json, Value};

use common::{model_dir, post_json, send};

/// Largest difference allowed between the two backends' numbers, relative to the number's size above 1: one unit
/// of the fourth decimal answers carry (both compute in f32 from the same weights, in another order; on these
/// fixtures every number printed is equal).
const TOLERANCE: f64 = 1e-4;

/// Fields that time the work rather than describe the answer.
const TIMINGS: [&str; 2] = ["latency_ms", "stages_ms"];

fn api_on(backend: Backend) -> Api {
    let inference = Inference { backend, device: Device::Cpu };
    Api::new(Arc::new(EmoSense::new(Config { model_dir: model_dir(), inference, ..Config::default() })))
}

fn fixture(path: &str) -> String {
    let bytes = std::fs::read(format!("{}/../../tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where `ort` and `tract` differ, as `path: ort vs tract` lines.
fn differences(path: &str, ort: &Value, tract: &Value, found: &mut Vec<String>) {
    match (ort, tract) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).filter(|k| !TIMINGS.contains(&k.as_str())).collect();
            for key in keys {
                differences(&format!("{path}.{key}"), a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null), found);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, found);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            if (a - b).abs() > TOLERANCE * a.abs().max(b.abs()).max(1.0) {
                found.push(format!("{path}: {a} vs {b}"));
            }
        }
        (a, b) if a != b => found.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

#[test]
fn onnxruntime_answers_as_tract_on_every_modality() {
    let (ort, tract) = (api_on(Backend::OnnxRuntime), api_on(Backend::Tract));
    let requests = [
        ("/api/v1/emotion/analyze/text", json!({"text": "I can't believe they cancelled my flight again. I am furious! But the hotel was lovely.", "sentences": true})),
        ("/api/v1/emotion/analyze/batch", json!({"texts": ["What a wonderful surprise 🎉", "I heard footsteps downstairs and I'm home alone", "ok"]})),
        ("/api/v1/emotion/analyze/face", json!({"image_base64": fixture("images/portrait.jpg"), "landmarks": true})),
        ("/api/v1/emotion/analyze/face", json!({"image_base64": fixture("images/group.jpg")})),
        ("/api/v1/emotion/analyze/face", json!({"image_base64": fixture("video/faces.mp4")})),
        ("/api/v1/emotion/analyze/audio", json!({"audio_base64": fixture("audio/speech.wav"), "segments": true})),
        ("/api/v1/emotion/analyze/audio", json!({"audio_base64": fixture("audio/speech.ogg")})),
    ];
    for (path, body) in requests {
        let (ort_status, ort_answer) = send(&ort, post_json(path, body.to_string()));
        let (tract_status, tract_answer) = send(&tract, post_json(path, body.to_string()));
        assert_eq!((ort_status, tract_status), (200, 200), "{path}: {ort_answer} / {tract_answer}");
        let mut found = Vec::new();
        differences("", &ort_answer, &tract_answer, &mut found);
        assert!(found.is_empty(), "{path}: onnxruntime differs from tract:\n{}", found.join("\n"));
    }
    let (_, health) = send(&ort, common::get("/api/v1/health"));
    assert_eq!(health["inference"], json!({"backend": "onnxruntime", "device": "cpu"}));
    let (_, models) = send(&ort, common::get("/api/v1/models"));
    let text = models["models"].as_array().unwrap().iter().find(|m| m["id"] == "text-minilm-goemotions").unwrap();
    assert_eq!((&text["runs_on"]["backend"], &text["precision"]), (&json!("onnxruntime"), &json!("int8")));
}
