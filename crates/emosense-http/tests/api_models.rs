//! The model registry through the router: custom models discovered and answering by name, broken models listed with
//! typed errors while the others keep working, health that says when a modality lost its primary tier, ensembles
//! from configuration and models registered in Rust.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{api_with, engine_with, get, model_dir, post_json, send};
use base64::Engine;
use emosense_core::{
    AudioModel, Budget, Config, Emotion, EmotionScores, EnsembleSpec, FaceInput, FaceModel, MemberScores, Modality, ModelManifest, Scored,
    TextModel, Tier, Window,
};
use emosense_http::Api;
use serde_json::{json, Value};

const EXAMPLE: &str = "keyword-emotions-example";

/// A model directory of its own for one test: the built-in modality folders linked in (all of them, or those in
/// `builtin`), and nothing else.
struct ModelDir(PathBuf);

impl ModelDir {
    fn new(name: &str, builtin: &[&str]) -> ModelDir {
        let dir = std::env::temp_dir().join(format!("emosense-models-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for modality in builtin {
            std::os::unix::fs::symlink(model_dir().join(modality).canonicalize().unwrap(), dir.join(modality)).unwrap();
        }
        ModelDir(dir)
    }

    /// Copies the example custom text model into folder `name`, then lets `change` edit its manifest.
    fn add_example(&self, name: &str, change: impl FnOnce(&mut Value, &Path)) -> &Self {
        self.add_from("custom-text-model", name, change)
    }

    /// Copies the files of `examples/<example>` into folder `name`, then lets `change` edit its manifest.
    fn add_from(&self, example: &str, name: &str, change: impl FnOnce(&mut Value, &Path)) -> &Self {
        let folder = self.0.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(example);
        for file in std::fs::read_dir(&example).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), folder.join(file.file_name())).unwrap();
        }
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
        change(&mut manifest["models"][0], &folder);
        std::fs::write(folder.join("manifest.json"), manifest.to_string()).unwrap();
        self
    }

    fn api(&self) -> Api {
        api_with(Config { model_dir: self.0.clone(), ..Config::default() })
    }
}

impl Drop for ModelDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn models(api: &Api) -> Vec<Value> {
    let (status, body) = send(api, get("/api/v1/models"));
    assert_eq!(status, 200);
    body["models"].as_array().unwrap().clone()
}

fn model<'a>(models: &'a [Value], id: &str) -> &'a Value {
    models.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no model {id} in {models:?}"))
}

/// Checks that model `id` is listed as unusable with an error of `kind` whose message contains each of `says`.
fn assert_unusable(listed: &[Value], id: &str, kind: &str, says: &[&str]) {
    let m = model(listed, id);
    assert_eq!((m["available"].as_bool(), m["error"]["kind"].as_str()), (Some(false), Some(kind)), "{m}");
    let message = m["error"]["message"].as_str().unwrap();
    assert!(says.iter().all(|part| message.contains(part)), "{id}: {message}");
}

fn analyze(api: &Api, body: Value) -> (u16, Value) {
    send(api, post_json("/api/v1/emotion/analyze/text", body.to_string()))
}

#[test]
fn a_custom_model_is_discovered_and_answers_by_name() {
    let dir = ModelDir::new("custom", &["text"]);
    dir.add_example("keywords", |_, _| {});
    let api = dir.api();
    let listed = models(&api);
    let custom = model(&listed, EXAMPLE);
    assert_eq!((custom["custom"].as_bool(), custom["available"].as_bool(), custom["modality"].as_str()), (Some(true), Some(true), Some("text")));
    assert_eq!(custom["manifest"]["label_map"]["love"], "joy");

    for (text, expected) in [
        ("I love this and I am so happy", "joy"),
        ("Ugh, I am annoyed and honestly angry", "anger"),
        ("That was disgusting and gross", "disgust"),
        ("wow, totally unexpected", "surprise"),
        ("banana spreadsheet", "neutral"),
    ] {
        let (status, body) = analyze(&api, json!({"text": text, "model": EXAMPLE}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["dominant_emotion"], expected, "{text}: {body}");
        assert_eq!((body["metadata"]["model"].as_str(), body["metadata"]["model_version"].as_str()), (Some(EXAMPLE), Some("1.0.0")));
        assert!(body["metadata"].get("precision").is_none(), "one graph for every precision: {body}");
        let sum: f64 = body["emotions"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-3, "{body}");
    }
    // Logits: happy 3, love 3, calm 1, the other seven labels 0. Happy and love merge into joy, angry and annoyed
    // into anger; "other" is dropped and the rest renormalised.
    let (_, body) = analyze(&api, json!({"text": "happy love", "model": EXAMPLE}));
    let e3 = 3f64.exp();
    let total = 2.0 * e3 + 1f64.exp() + 7.0;
    let kept = 1.0 - 1.0 / total;
    let expected = [("joy", 2.0 * e3), ("anger", 2.0), ("fear", 1.0), ("neutral", 1f64.exp())];
    for (emotion, share) in expected {
        let probability = body["emotions"][emotion].as_f64().unwrap();
        assert!((probability - share / total / kept).abs() < 1e-3, "{emotion}: {body}");
    }

    let (status, body) = analyze(&api, json!({"text": "I love this and I am so happy"}));
    assert_eq!((status, body["metadata"]["model"].as_str()), (200, Some("text-minilm-goemotions")), "without a name the ladder answers");
    assert_eq!(body["metadata"]["precision"], "int8");
    let (status, body) = send(&api, post_json("/api/v1/emotion/analyze/batch", json!({"texts": ["so sad", "so happy"], "model": EXAMPLE}).to_string()));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().unwrap().iter().map(|r| r["dominant_emotion"].as_str().unwrap()).collect::<Vec<_>>(), ["sadness", "joy"]);

    let (status, body) = analyze(&api, json!({"text": "hello", "model": EXAMPLE, "tier": "primary"}));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("model:"), "{body}");
    let (status, body) = analyze(&api, json!({"text": "hello", "model": "no-such-model"}));
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("text-minilm-goemotions") && message.contains(EXAMPLE), "{message}");
    let (status, body) = analyze(&api, json!({"text": "hello", "model": "text-tfidf-logreg"}));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("secondary")), "built-in models answer by name too: {body}");
}

#[test]
fn broken_models_get_typed_errors_and_the_others_keep_working() {
    let dir = ModelDir::new("broken", &["text"]);
    std::fs::create_dir_all(dir.0.join("unreadable")).unwrap();
    std::fs::write(dir.0.join("unreadable/manifest.json"), "{\"models\": [").unwrap();
    dir.add_example("wrong-sha", |m, _| {
        m["id"] = json!("wrong-sha");
        m["files"][0]["sha256"] = json!("0".repeat(64));
    })
    .add_example("misses-an-emotion", |m, _| {
        m["id"] = json!("misses-an-emotion");
        m["label_map"]["surprised"] = Value::Null;
    })
    .add_example("contract", |m, _| {
        m["id"] = json!("contract");
        m["labels"].as_array_mut().unwrap().pop();
        m["label_map"].as_object_mut().unwrap().remove("other");
    })
    .add_example("missing-file", |m, folder| {
        m["id"] = json!("missing-file");
        std::fs::remove_file(folder.join("tokenizer.json")).unwrap();
    });
    let api = dir.api();
    let (status, body) = analyze(&api, json!({"text": "I love this and I am so happy"}));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("primary")), "{body}");

    for id in ["wrong-sha", "contract", "missing-file"] {
        let (status, body) = analyze(&api, json!({"text": "so happy", "model": id}));
        assert_eq!((status, body["error"]["code"].as_str()), (503, Some("model_unavailable")), "{id}: {body}");
    }
    let listed = models(&api);
    assert_unusable(&listed, "unreadable", "bad_manifest", &["unreadable/manifest.json"]);
    assert_unusable(&listed, "wrong-sha", "checksum_mismatch", &["model.onnx", &"0".repeat(64)]);
    assert_unusable(&listed, "misses-an-emotion", "bad_manifest", &["no label maps to surprise"]);
    assert_unusable(&listed, "contract", "contract_mismatch", &["9 labels"]);
    assert_unusable(&listed, "missing-file", "missing_file", &["tokenizer.json"]);

    let (status, health) = send(&api, get("/api/v1/health"));
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "broken custom models leave the built-in tiers whole: {health}");
    assert_eq!(health["model_errors"].as_array().unwrap().len(), 5, "{health}");
}

#[test]
fn health_is_degraded_when_a_modality_loses_its_primary_model() {
    let dir = ModelDir::new("degraded", &[]);
    std::fs::create_dir_all(dir.0.join("text")).unwrap();
    for file in std::fs::read_dir(model_dir().join("text")).unwrap() {
        let file = file.unwrap();
        if !file.file_name().to_string_lossy().ends_with(".onnx") {
            std::fs::copy(file.path(), dir.0.join("text").join(file.file_name())).unwrap();
        }
    }
    let api = dir.api();
    let (status, health) = send(&api, get("/api/v1/health"));
    assert_eq!((status, health["status"].as_str()), (200, Some("degraded")), "{health}");
    assert_eq!(health["modalities"], json!([{"modality": "text", "primary_ready": false, "missing": ["text-minilm-goemotions"]}]));
    let (status, body) = analyze(&api, json!({"text": "I am so happy today"}));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("secondary")), "{body}");

    // A file whose bytes changed is refused even though it still parses.
    let linear = dir.0.join("text/linear.json");
    let mut bytes = std::fs::read(&linear).unwrap();
    bytes.push(b'\n');
    std::fs::write(&linear, bytes).unwrap();
    let api = dir.api();
    let (status, body) = analyze(&api, json!({"text": "I am so happy today", "tier": "secondary"}));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("fallback")), "{body}");
    assert!(body["metadata"]["skipped_tiers"][0].as_str().unwrap().contains("sha256"), "{body}");
    assert_eq!(model(&models(&api), "text-tfidf-logreg")["error"]["kind"], "checksum_mismatch");

    let (status, health) = send(&ModelDir::new("all", &["text", "audio", "face"]).api(), get("/api/v1/health"));
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
    assert_eq!(health["modalities"].as_array().unwrap().len(), 3);
}

#[test]
fn a_configured_ensemble_answers_the_weighted_mean_of_its_members() {
    let dir = ModelDir::new("ensemble", &["text"]);
    dir.add_example("keywords", |_, _| {});
    let ensembles = EnsembleSpec::parse_all("blend=text-minilm-goemotions:3,keyword-emotions-example:1;broken=text-minilm-goemotions:1,nope:1").unwrap();
    let api = api_with(Config { model_dir: dir.0.clone(), ensembles, ..Config::default() });
    let text = "I love this, but wow, I did not expect it";
    let answer = |model: &str| {
        let (status, body) = analyze(&api, json!({"text": text, "model": model}));
        assert_eq!(status, 200, "{body}");
        body
    };
    let (primary, keywords, blend) = (answer("text-minilm-goemotions"), answer(EXAMPLE), answer("blend"));
    for emotion in ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"] {
        let expected = 0.75 * primary["emotions"][emotion].as_f64().unwrap() + 0.25 * keywords["emotions"][emotion].as_f64().unwrap();
        assert!((blend["emotions"][emotion].as_f64().unwrap() - expected).abs() < 3e-4, "{emotion}: {blend}");
    }
    assert_eq!(blend["metadata"]["model"], "blend");
    assert_eq!(blend["metadata"]["model_version"], "text-minilm-goemotions@2.0.0+keyword-emotions-example@1.0.0");
    assert_eq!(blend["metadata"]["ensemble"], json!([{"model": "text-minilm-goemotions", "weight": 0.75}, {"model": EXAMPLE, "weight": 0.25}]));
    let listed = models(&api);
    assert_eq!(model(&listed, "blend")["available"], true);
    let broken = model(&listed, "broken");
    assert_eq!(broken["error"]["kind"], "bad_manifest");
    assert!(broken["error"]["message"].as_str().unwrap().contains("no text model is named \"nope\""), "{broken}");
}

/// A model written in Rust by a program that embeds the core crate: the share of upper-case letters reads as anger.
struct Shouting;

impl TextModel for Shouting {
    fn score(&self, texts: &[&str], _batch_size: usize, budget: &Budget) -> emosense_core::Result<Vec<Scored>> {
        budget.check()?;
        Ok(texts
            .iter()
            .map(|text| {
                let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
                let upper = letters.iter().filter(|c| c.is_uppercase()).count() as f32 / letters.len().max(1) as f32;
                let mut weights = [0.0; 7];
                (weights[Emotion::Anger.index()], weights[Emotion::Neutral.index()]) = (upper, 1.0 - upper);
                Scored { scores: EmotionScores::normalized(weights), tokens: letters.len(), chunks: 1 }
            })
            .collect())
    }
}

#[test]
fn a_model_registered_in_rust_answers_by_name() {
    let manifest = ModelManifest::in_process("shouting", "0.1.0", Modality::Text, "upper-case share as anger", "Apache-2.0");
    let engine = engine_with(Config { model_dir: model_dir(), ..Config::default() }).with_text_model(manifest.clone(), Arc::new(Shouting)).unwrap();
    assert!(engine_with(Config::default()).with_text_model(ModelManifest { id: "text-tfidf-logreg".into(), ..manifest }, Arc::new(Shouting)).is_err());
    let api = Api::new(Arc::new(engine));
    let (status, body) = analyze(&api, json!({"text": "WHY IS THIS STILL BROKEN", "model": "shouting"}));
    assert_eq!((status, body["dominant_emotion"].as_str(), body["metadata"]["model"].as_str()), (200, Some("anger"), Some("shouting")), "{body}");
    let (_, body) = analyze(&api, json!({"text": "all quiet here", "model": "shouting"}));
    assert_eq!(body["dominant_emotion"], "neutral");
    assert_eq!(model(&models(&api), "shouting")["manifest"]["runtime"], "in-process");
}

const SPEECH_EXAMPLE: &str = "arousal-example";
const FACE_EXAMPLE: &str = "mini-xception-example";

fn fixture_base64(path: &str) -> String {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(path)).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn analyze_at(api: &Api, route: &str, body: Value) -> (u16, Value) {
    send(api, post_json(&format!("/api/v1/emotion/analyze/{route}"), body.to_string()))
}

#[test]
fn custom_speech_and_face_models_are_discovered_and_answer_by_name() {
    let dir = ModelDir::new("custom-media", &["audio", "face"]);
    dir.add_from("custom-speech-model", "arousal", |_, _| {}).add_from("custom-face-model", "fer", |_, _| {});
    let api = dir.api();
    let listed = models(&api);
    for (id, modality) in [(SPEECH_EXAMPLE, "audio"), (FACE_EXAMPLE, "face")] {
        let m = model(&listed, id);
        assert_eq!((m["custom"].as_bool(), m["available"].as_bool(), m["modality"].as_str()), (Some(true), Some(true), Some(modality)), "{m}");
    }

    let speech = fixture_base64("audio/speech.wav");
    let (status, body) = analyze_at(&api, "audio", json!({"audio_base64": speech, "model": SPEECH_EXAMPLE, "segments": true}));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["metadata"]["model"].as_str(), body["metadata"]["model_version"].as_str()), (Some(SPEECH_EXAMPLE), Some("1.0.0")));
    assert!(body["metadata"].get("precision").is_none(), "one graph for every precision: {body}");
    // "aroused" is shared by four emotions, "subdued" by two: within each group the probabilities are equal.
    let p = |e: &str| body["emotions"][e].as_f64().unwrap();
    assert!(["fear", "joy", "surprise"].iter().all(|e| (p(e) - p("anger")).abs() < 1e-4) && (p("disgust") - p("sadness")).abs() < 1e-4, "{body}");
    assert_eq!(body["segments"].as_array().unwrap().len(), body["metadata"]["windows"].as_u64().unwrap() as usize);
    let (status, body) = analyze_at(&api, "audio", json!({"audio_base64": speech}));
    assert_eq!((status, body["metadata"]["model"].as_str()), (200, Some("audio-whisper-tiny-emodb")), "without a name the ladder answers: {body}");

    // The custom face model is the built-in ensemble's mini-Xception member under other label names: the same
    // graph on the same face gives the same distribution once its labels are mapped (a whole portrait read as one
    // face: a spread distribution, so a label mapped to the wrong emotion shows).
    let face = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/images/portrait.jpg")).unwrap();
    let (status, body) = analyze_at(&api, "face", json!({"image_base64": fixture_base64("images/portrait.jpg"), "aligned_face": true, "model": FACE_EXAMPLE}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["model"], FACE_EXAMPLE);
    let engine = engine_with(Config { model_dir: dir.0.clone(), ..Config::default() });
    let image = engine.face().decode("image", &face).unwrap().rgb;
    let members = engine.face().score_aligned(&[image], Tier::Primary).unwrap();
    let member = members.iter().find(|m| m.name == "mini_xception").unwrap();
    for emotion in Emotion::ALL {
        let expected = f64::from(member.scores[0].get(emotion));
        assert!((body["emotions"][emotion.as_str()].as_f64().unwrap() - expected).abs() < 2e-4, "{emotion:?}: {body}");
    }
    let (status, body) = analyze_at(&api, "face", json!({"image_base64": fixture_base64("images/portrait.jpg"), "model": FACE_EXAMPLE}));
    assert_eq!((status, body["faces"].as_array().map(Vec::len)), (200, Some(1)), "the detector still finds the face: {body}");

    for (route, field, media) in [("audio", "audio_base64", speech.as_str()), ("face", "image_base64", &fixture_base64("images/face_48.png"))] {
        let (status, body) = analyze_at(&api, route, json!({field: media, "model": "text-tfidf-logreg"}));
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")), "another modality's model: {body}");
        let (status, body) = analyze_at(&api, route, json!({field: media, "model": "nope", "tier": "primary"}));
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("model:"), "{body}");
    }
}

#[test]
fn broken_custom_speech_and_face_models_get_typed_errors() {
    let dir = ModelDir::new("broken-media", &["audio", "face"]);
    dir.add_from("custom-speech-model", "three-labels-listed-two", |m, _| {
        m["id"] = json!("two-labels");
        m["labels"] = json!(["aroused", "subdued"]);
        m["label_map"] = json!({"aroused": ["anger", "fear", "joy", "surprise"], "subdued": ["sadness", "disgust", "neutral"]});
    })
    .add_from("custom-speech-model", "wrong-rate", |m, _| {
        m["id"] = json!("wrong-rate");
        m["input"]["sample_rate"] = json!(8000);
    })
    .add_from("custom-face-model", "wrong-side", |m, _| {
        m["id"] = json!("wrong-side");
        m["input"]["patch"]["side"] = json!(48);
    })
    .add_from("custom-face-model", "built-in-architecture", |m, _| {
        m["id"] = json!("built-in-architecture");
        m["architecture"] = json!("face-mesh");
    });
    let api = dir.api();
    let listed = models(&api);
    assert_unusable(&listed, "wrong-rate", "bad_manifest", &["sample_rate must be 16000"]);
    assert_unusable(&listed, "built-in-architecture", "bad_manifest", &["image-classifier"]);

    let (status, body) = analyze_at(&api, "audio", json!({"audio_base64": fixture_base64("audio/speech.wav"), "model": "two-labels"}));
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("model_unavailable")), "{body}");
    let (status, body) = analyze_at(&api, "face", json!({"image_base64": fixture_base64("images/face_48.png"), "aligned_face": true, "model": "wrong-side"}));
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("model_unavailable")), "{body}");
    let listed = models(&api);
    assert_unusable(&listed, "two-labels", "contract_mismatch", &["2 labels"]);
    assert_unusable(&listed, "wrong-side", "contract_mismatch", &["[2, 48, 48, 1]"]);
    let (status, body) = analyze_at(&api, "face", json!({"image_base64": fixture_base64("images/face_48.png"), "aligned_face": true}));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("primary")), "the built-in models keep working: {body}");
}

/// A speech model written in Rust: each window's peak level reads as anger.
struct Loudness;

impl AudioModel for Loudness {
    fn score(&self, windows: &[Window]) -> emosense_core::Result<Vec<EmotionScores>> {
        Ok(windows
            .iter()
            .map(|w| {
                let peak = w.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
                let mut weights = [0.0; 7];
                (weights[Emotion::Anger.index()], weights[Emotion::Neutral.index()]) = (peak, 1.0 - peak);
                EmotionScores::normalized(weights)
            })
            .collect())
    }
}

/// A face model written in Rust: a wide face box reads as joy.
struct WideFaces;

impl FaceModel for WideFaces {
    fn score_members(&self, faces: &[FaceInput]) -> emosense_core::Result<Vec<MemberScores>> {
        let scores = faces
            .iter()
            .map(|f| {
                let b = f.face_box();
                let wide = (b.width / (b.width + b.height)).clamp(0.0, 1.0);
                let mut weights = [0.0; 7];
                (weights[Emotion::Joy.index()], weights[Emotion::Neutral.index()]) = (wide, 1.0 - wide);
                EmotionScores::normalized(weights)
            })
            .collect();
        Ok(vec![MemberScores { name: "wide".into(), weight: 1.0, scores }])
    }
}

#[test]
fn speech_and_face_models_registered_in_rust_answer_by_name() {
    let speech = ModelManifest::in_process("loudness", "0.1.0", Modality::Audio, "peak level as anger", "Apache-2.0");
    let face = ModelManifest::in_process("wide-faces", "0.1.0", Modality::Face, "box shape as joy", "Apache-2.0");
    let engine = || engine_with(Config { model_dir: model_dir(), ..Config::default() });
    let taken = ModelManifest { id: "audio-prosody-rules".into(), ..speech.clone() };
    assert!(engine().with_audio_model(taken, Arc::new(Loudness)).is_err(), "a taken id is refused");
    let engine = engine().with_audio_model(speech, Arc::new(Loudness)).and_then(|e| e.with_face_model(face, Arc::new(WideFaces))).unwrap();
    let api = Api::new(Arc::new(engine));
    let (status, body) = analyze_at(&api, "audio", json!({"audio_base64": fixture_base64("audio/speech.wav"), "model": "loudness"}));
    assert_eq!((status, body["metadata"]["model"].as_str()), (200, Some("loudness")), "{body}");
    assert!(body["emotions"]["anger"].as_f64().unwrap() > 0.0 && body["emotions"]["joy"] == 0.0, "{body}");
    let (status, body) = analyze_at(&api, "face", json!({"image_base64": fixture_base64("images/face_48.png"), "aligned_face": true, "model": "wide-faces"}));
    assert_eq!((status, body["metadata"]["model"].as_str()), (200, Some("wide-faces")), "{body}");
    assert!((body["emotions"]["joy"].as_f64().unwrap() - 0.5).abs() < 1e-3, "a square face is half joy: {body}");
}
