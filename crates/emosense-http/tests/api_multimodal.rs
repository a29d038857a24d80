//! `POST /api/v1/emotion/analyze/multimodal` through the real router: fusion of one, two and three modalities with the
//! shipped models, weights moving toward the confident modality, degraded modalities, and bad input naming its field.

mod common;
#[path = "../../../tests/support/wav.rs"]
mod wav;

use base64::Engine;
use common::{api, api_with, assert_valid_result, post_json, send};
use emosense_core::Config;
use serde_json::{json, Value};
use wav::{spoken_for, wav};

const ROUTE: &str = "/api/v1/emotion/analyze/multimodal";

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn image(name: &str) -> String {
    encode(&std::fs::read(format!("{}{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/"))).expect("fixture"))
}

fn speech() -> String {
    encode(&wav(&spoken_for(3.0), 16_000, 1, 16, false))
}

fn analyze(body: Value) -> (u16, Value) {
    send(api(), post_json(ROUTE, body.to_string()))
}

/// Checks the fused answer's shape and returns `modality -> weight`.
fn assert_fused(body: &Value, modalities: &[&str]) -> serde_json::Map<String, Value> {
    let emotions = body["emotions"].as_object().expect("emotions");
    assert!((emotions.values().map(|v| v.as_f64().unwrap()).sum::<f64>() - 1.0).abs() < 1e-3, "{body}");
    assert_eq!(emotions[body["dominant_emotion"].as_str().unwrap()], body["confidence"]);
    let metadata = &body["metadata"];
    assert_eq!(metadata["modality"], "multimodal");
    assert_eq!(metadata["modalities_used"], json!(modalities));
    let weights: serde_json::Map<String, Value> = metadata["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["modality"].as_str().unwrap().to_owned(), w["weight"].clone()))
        .collect();
    assert_eq!(weights.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), modalities.iter().copied().collect());
    let total: f64 = weights.values().map(|w| w.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-3, "weights sum to 1: {weights:?}");
    for modality in modalities {
        let own = &body["modalities"][modality];
        assert_valid_result(own);
        assert_eq!(own["metadata"]["modality"], *modality);
    }
    assert_eq!(body["modalities"].as_object().unwrap().len(), modalities.len());
    weights
}

#[test]
fn one_modality_is_that_modality_answer() {
    let (status, body) = analyze(json!({"text": "I am so happy today, this is wonderful news!", "model_type": "multimodal"}));
    assert_eq!(status, 200, "{body}");
    assert_fused(&body, &["text"]);
    assert_eq!(body["emotions"], body["modalities"]["text"]["emotions"]);
    assert_eq!(body["dominant_emotion"], "joy");
    assert!(body["metadata"]["agreement"].is_null(), "agreement needs two modalities");
}

#[test]
fn a_model_type_naming_a_modality_sent_answers_the_same_fused_result() {
    let audio = speech();
    let (_, plain) = analyze(json!({"audio_base64": audio}));
    for (body, named) in [
        (json!({"audio_base64": audio, "model_type": "audio"}), "audio"),
        (json!({"video_base64": image("portrait.png"), "model_type": "video"}), "face"),
        (json!({"video_base64": image("portrait.png"), "model_type": "image"}), "face"),
        (json!({"text": "so glad you came", "audio_base64": audio, "model_type": "text"}), "text"),
    ] {
        let (status, answer) = analyze(body);
        assert_eq!(status, 200, "{answer}");
        assert!(answer["modalities"][named].is_object(), "{answer}");
    }
    let (_, named) = analyze(json!({"audio_base64": audio, "model_type": "audio"}));
    assert_eq!(named["emotions"], plain["emotions"]);
}

#[test]
fn two_and_three_modalities_fuse_with_an_agreement_score() {
    let (status, body) = analyze(json!({"text": "I am furious, this is unacceptable!", "audio_base64": speech()}));
    assert_eq!(status, 200, "{body}");
    assert_fused(&body, &["text", "audio"]);
    let agreement = body["metadata"]["agreement"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&agreement));

    let (status, body) = analyze(json!({"text": "What a lovely day, I feel great!", "audio_base64": speech(), "video_base64": image("portrait.jpg")}));
    assert_eq!(status, 200, "{body}");
    let weights = assert_fused(&body, &["text", "audio", "face"]);
    assert_eq!(body["modalities"]["face"]["metadata"]["faces_detected"], 1);
    assert_eq!(body["dominant_emotion"], "joy", "a smiling face and happy words outweigh the synthetic voice: {body}");
    assert!(weights["text"].as_f64().unwrap() > weights["audio"].as_f64().unwrap(), "{weights:?}");
    assert!(body["metadata"]["degraded_modalities"].as_array().unwrap().is_empty());
}

#[test]
fn weight_moves_toward_the_confident_modality() {
    // The same text beside a landscape (no face: the neutral prior, unsure and from the fallback tier) and beside a
    // smiling portrait (a confident face).
    let text = "Honestly I don't know how I feel about it.";
    let (_, unsure_face) = analyze(json!({"text": text, "video_base64": image("landscape.jpg")}));
    let (_, sure_face) = analyze(json!({"text": text, "video_base64": image("portrait.jpg")}));
    let face_weight = |body: &Value| assert_fused(body, &["text", "face"])["face"].as_f64().unwrap();
    assert!(face_weight(&unsure_face) < 0.2, "{unsure_face}");
    assert!(face_weight(&sure_face) > face_weight(&unsure_face) + 0.2, "{sure_face}");
    assert_eq!(unsure_face["metadata"]["degraded_modalities"], json!(["face"]), "no face found answers from the fallback tier");
}

#[test]
fn missing_models_degrade_each_modality_and_say_so() {
    let bare = api_with(Config { model_dir: std::env::temp_dir().join("emosense-no-models-here"), ..Config::default() });
    let body = json!({"text": "I am thrilled!", "audio_base64": speech(), "video_base64": image("portrait.jpg")});
    let (status, body) = send(&bare, post_json(ROUTE, body.to_string()));
    assert_eq!(status, 200, "{body}");
    assert_fused(&body, &["text", "audio", "face"]);
    assert_eq!(body["metadata"]["degraded_modalities"], json!(["text", "audio", "face"]));
    for modality in ["text", "audio", "face"] {
        assert_eq!(body["modalities"][modality]["metadata"]["tier"], "fallback", "{modality}");
        assert!(!body["modalities"][modality]["metadata"]["skipped_tiers"].as_array().unwrap().is_empty());
    }
    let (status, pinned) = analyze(json!({"text": "I am thrilled!", "tier": "fallback"}));
    assert_eq!(status, 200);
    assert!(pinned["metadata"]["degraded_modalities"].as_array().unwrap().is_empty(), "a pinned tier is not a degradation");
}

#[test]
fn bad_input_names_its_field() {
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "at least one of text, audio_base64, video_base64"),
        (json!({"model_type": "multimodal"}), 422, "at least one"),
        (json!({"text": "   "}), 422, "text"),
        (json!({"text": "fine", "audio_base64": "%%%"}), 422, "audio_base64"),
        (json!({"text": "fine", "audio_base64": encode(b"hello there, not audio")}), 415, "audio_base64"),
        (json!({"text": "fine", "video_base64": speech()}), 415, "video_base64"),
        (json!({"text": "fine", "video_base64": encode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16])}), 422, "video_base64"),
        (json!({"text": "fine", "model_type": "audio"}), 422, "model_type: names a modality whose field audio_base64"),
        (json!({"text": "fine", "model_type": "face"}), 422, "must be multimodal, text, audio, video or image"),
        (json!({"text": "fine", "image_base64": image("portrait.png")}), 422, "unknown field"),
        (json!({"text": 5}), 422, "invalid type"),
    ];
    for (body, status, words) in cases {
        let (got, answer) = analyze(body.clone());
        assert_eq!(got, status, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message:?} should mention {words:?}");
    }
}
