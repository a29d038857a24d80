//! Text analysis through the real router with the shipped models.

mod common;

use common::*;
use emosense_core::{Config, Limits};
use serde_json::{json, Value};

const TEXT: &str = "/api/v1/emotion/analyze/text";
const BATCH: &str = "/api/v1/emotion/analyze/batch";

fn analyze(body: Value) -> (u16, Value) {
    send(api(), post_json(TEXT, body.to_string()))
}

#[test]
fn primary_model_answers_with_a_valid_result() {
    let (status, body) = analyze(json!({"text": "I am so happy and grateful, this is wonderful!", "model_type": "text"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(assert_valid_result(&body), "joy");
    assert_eq!(body["metadata"]["tier"], "primary");
    assert_eq!(body["metadata"]["modality"], "text");
    assert_eq!(body["metadata"]["model"], "text-minilm-goemotions");
    assert!(body["metadata"].get("skipped_tiers").is_none());
}

#[test]
fn primary_model_tells_emotions_apart() {
    for (text, expected) in [
        ("I'm terrified, I think someone is following me home.", "fear"),
        ("This makes me so angry, how dare they lie to us!", "anger"),
        ("My dog died this morning and I can't stop crying.", "sadness"),
        ("Wow, I did not expect that at all!", "surprise"),
        ("The meeting is moved to 3pm in room 4.", "neutral"),
    ] {
        let (status, body) = analyze(json!({"text": text}));
        assert_eq!(status, 200);
        assert_eq!(assert_valid_result(&body), expected, "{text}");
    }
}

#[test]
fn each_tier_answers_when_pinned() {
    for tier in ["primary", "secondary", "fallback"] {
        let (status, body) = analyze(json!({"text": "I love this so much, thank you!", "tier": tier}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["tier"], tier);
        assert_eq!(assert_valid_result(&body), "joy", "tier {tier}");
    }
}

#[test]
fn missing_model_files_fall_back_to_the_next_tier() {
    let empty = std::env::temp_dir().join(format!("emosense-empty-{}", std::process::id()));
    std::fs::create_dir_all(empty.join("text")).unwrap();
    let api = api_with(Config { model_dir: empty.clone(), ..Config::default() });
    let (status, body) = send(&api, post_json(TEXT, json!({"text": "I am not happy about this"}).to_string()));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["tier"], "fallback");
    let skipped: Vec<&str> = body["metadata"]["skipped_tiers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].starts_with("primary (text-minilm-goemotions)"));
    assert!(skipped[1].starts_with("secondary (text-tfidf-logreg)"));
    assert_eq!(assert_valid_result(&body), "sadness", "negated joy");

    // With the linear model present, the secondary tier answers.
    std::fs::copy(model_dir().join("text/linear.json"), empty.join("text/linear.json")).unwrap();
    let api = api_with(Config { model_dir: empty.clone(), ..Config::default() });
    let (_, body) = send(&api, post_json(TEXT, json!({"text": "What a lovely day"}).to_string()));
    assert_eq!(body["metadata"]["tier"], "secondary");
    std::fs::remove_dir_all(empty).unwrap();
}

#[test]
fn fallback_result_matches_golden_json() {
    let (status, mut body) = analyze(json!({"text": "I'm not happy. This is disgusting and gross!", "tier": "fallback", "sentences": true}));
    assert_eq!(status, 200);
    body["metadata"]["latency_ms"] = json!(0.0);
    body["metadata"]["model_version"] = json!("");
    let golden: Value = serde_json::from_str(include_str!("../../../tests/data/golden/text_fallback.json")).unwrap();
    assert_eq!(body, golden, "actual: {}", serde_json::to_string_pretty(&body).unwrap());
}

#[test]
fn long_text_is_chunked_and_sentences_are_reported() {
    let sentence = "I was so happy to see all my old friends again at the reunion last night. ";
    let text = sentence.repeat(12) + "But then I heard the terrible news and I am heartbroken.";
    let (status, body) = analyze(json!({"text": text, "sentences": true}));
    assert_eq!(status, 200, "{body}");
    assert_valid_result(&body);
    assert!(body["metadata"]["chunks"].as_u64().unwrap() >= 2, "{}", body["metadata"]);
    assert!(body["metadata"]["tokens"].as_u64().unwrap() > 128);
    let sentences = body["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 13);
    assert_eq!(sentences[0]["dominant_emotion"], "joy");
    assert_eq!(sentences[12]["dominant_emotion"], "sadness");
    let chars: Vec<char> = text.chars().collect();
    let (start, end) = (sentences[12]["start"].as_u64().unwrap() as usize, sentences[12]["end"].as_u64().unwrap() as usize);
    assert_eq!(chars[start..end].iter().collect::<String>(), sentences[12]["text"].as_str().unwrap());
}

#[test]
fn batch_keeps_order_and_answers_a_bad_text_in_its_place() {
    let texts = ["Thank you so much, I love it!", "I hate this, it makes me furious.", "I'm scared of the dark."];
    let (status, body) = send(api(), post_json(BATCH, json!({"texts": texts}).to_string()));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 3);
    let dominant: Vec<String> = body["results"].as_array().unwrap().iter().map(assert_valid_result).collect();
    assert_eq!(dominant, ["joy", "anger", "fear"]);
    // Batched results equal single-text results.
    let (_, single) = analyze(json!({"text": texts[1]}));
    assert_eq!(single["emotions"], body["results"][1]["emotions"]);

    assert_eq!(body["errors"], 0);

    // A blank or overlong text gets its error in its place; the others are analysed as if sent alone.
    let long = "a".repeat(Limits::default().text_chars as usize + 1);
    let (status, body) = send(api(), post_json(BATCH, json!({"texts": ["  ", texts[1], long, texts[0]]}).to_string()));
    assert_eq!((status, body["count"].as_u64(), body["errors"].as_u64()), (200, Some(4), Some(2)), "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["error"]["code"], "invalid_input");
    assert_eq!(results[0]["error"]["status"], 422);
    assert!(results[0]["error"]["message"].as_str().unwrap().starts_with("texts[0]"), "{body}");
    assert_eq!((results[2]["error"]["code"].as_str(), results[2]["error"]["status"].as_u64()), (Some("payload_too_large"), Some(413)));
    assert!(results[2]["error"]["message"].as_str().unwrap().contains("texts[2]"), "{body}");
    assert_eq!(results[1]["emotions"], single["emotions"]);
    assert_eq!(assert_valid_result(&results[3]), "joy");
    let (status, body) = send(api(), post_json(BATCH, json!({"texts": ["", " "]}).to_string()));
    assert_eq!((status, body["errors"].as_u64()), (200, Some(2)), "every text may be bad: {body}");
    let (status, _) = send(api(), post_json(BATCH, json!({"texts": []}).to_string()));
    assert_eq!(status, 422);
    let (status, _) = send(api(), post_json(BATCH, json!({"texts": vec!["a"; 257]}).to_string()));
    assert_eq!(status, 413);
}

#[test]
fn bad_input_gets_clear_json_errors() {
    let cases: Vec<(http::Request<bytes::Bytes>, u16, &str)> = vec![
        (post_json(TEXT, "{\"text\": "), 400, "bad_request"),
        (post_json(TEXT, vec![b'{', b'"', 0xff, 0xfe, b'"', b'}']), 400, "bad_request"),
        (http::Request::post(TEXT).header("content-type", "text/plain").body("hello".into()).unwrap(), 415, "unsupported_media_type"),
        (http::Request::post(TEXT).body("{\"text\":\"hi\"}".into()).unwrap(), 415, "unsupported_media_type"),
        (post_json(TEXT, "{}"), 422, "invalid_input"),
        (post_json(TEXT, "[1, 2]"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": null}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": 42}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": \"\"}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": \" \\n\\t \"}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": \"hi\", \"tier\": \"best\"}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"text\": \"hi\", \"model_type\": \"audio\"}"), 422, "invalid_input"),
        (post_json(TEXT, "{\"txt\": \"hi\"}"), 422, "invalid_input"),
        (post_json("/api/v1/emotion/analyze/nothing", "{}"), 404, "not_found"),
        (get(TEXT), 405, "method_not_allowed"),
        (post_json("/api/v1/health", "{}"), 405, "method_not_allowed"),
    ];
    for (request, status, code) in cases {
        let described = format!("{} {}", request.method(), request.uri());
        let (actual, body) = send(api(), request);
        assert_eq!((actual, body["error"]["code"].as_str().unwrap()), (status, code), "{described}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn method_not_allowed_names_the_allowed_method() {
    let response = api().handle(get(TEXT));
    assert_eq!(response.headers()["allow"], "POST");
}

#[test]
fn text_over_the_limit_is_413_naming_the_limit() {
    let (status, body) = analyze(json!({"text": "a".repeat(5001)}));
    assert_eq!(status, 413);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("5000") && message.contains("MAX_TEXT_LENGTH"), "{message}");
    let (status, _) = analyze(json!({"text": "é".repeat(5000)}));
    assert_eq!(status, 200, "the limit counts characters, not bytes");
}

#[test]
fn health_and_models() {
    let (status, body) = send(api(), get("/api/v1/health"));
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = send(api(), get("/api/v1/models"));
    assert_eq!(status, 200);
    let models = body["models"].as_array().unwrap();
    let listed: Vec<(&str, &str, &str)> =
        models.iter().map(|m| (m["modality"].as_str().unwrap(), m["tier"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
    let ladder = ["primary", "secondary", "fallback"];
    let mut expected: Vec<(&str, &str, &str)> = ladder.map(|t| ("text", t, "classifier")).to_vec();
    expected.push(("audio", "primary", "voice_activity"));
    expected.extend(ladder.map(|t| ("audio", t, "classifier")));
    expected.extend([("face", "primary", "detector"), ("face", "secondary", "landmarks")]);
    expected.extend(ladder.map(|t| ("face", t, "classifier")));
    assert_eq!(listed, expected);
    for model in models {
        assert_eq!(model["available"], true, "{model}");
        assert!(model["manifest"]["licence"].is_string(), "{model}");
        let metrics = &model["manifest"]["metrics"];
        let measured = metrics["test"]["macro_f1"].is_number() || metrics.as_object().is_some_and(|m| m.values().any(|v| v["uar"].is_number() || v["test"]["macro_f1"].is_number()));
        assert!(measured || model["role"] != "classifier", "every classifier's manifest entry carries its measured accuracy: {model}");
        assert!(metrics.is_object(), "{model}");
    }
    assert!(models[0]["size_bytes"].as_u64().unwrap() > 10_000_000);
}

#[test]
fn the_answer_names_the_language_and_warns_when_no_tier_knows_it() {
    let english = "My flight was cancelled again and nobody at the desk will tell me anything.";
    let german = "Mein Flug wurde schon wieder gestrichen und niemand am Schalter sagt mir etwas.";
    for tier in ["primary", "secondary", "fallback"] {
        let (status, body) = analyze(json!({"text": english, "tier": tier}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["language"]["code"], "eng", "{body}");
        assert!(body["metadata"].get("warnings").is_none(), "{body}");

        let (status, body) = analyze(json!({"text": german, "tier": tier}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["metadata"]["language"]["code"], "deu", "{body}");
        assert_eq!(body["metadata"]["language"]["reliable"], true, "{body}");
        let warnings = body["metadata"]["warnings"].as_array().expect("a warning");
        assert!(warnings[0].as_str().unwrap().contains("German"), "{body}");
    }
    let (_, body) = analyze(json!({"text": "我非常生气"}));
    assert_eq!(body["metadata"]["language"]["script"], "Mandarin", "{body}");
    assert!(body["metadata"]["warnings"][0].as_str().unwrap().contains("English only"), "{body}");
    let (_, body) = analyze(json!({"text": "😡😡😡"}));
    assert!(body["metadata"]["language"].is_null(), "{body}");
    assert!(body["metadata"].get("warnings").is_none(), "{body}");
}

#[test]
fn every_tier_reads_emojis() {
    for tier in ["primary", "secondary", "fallback"] {
        let answer = |text: &str| {
            let (status, body) = analyze(json!({"text": text, "tier": tier}));
            assert_eq!(status, 200, "{body}");
            body
        };
        let (smile, cry) = (answer("🙂"), answer("😭"));
        assert_eq!(smile["dominant_emotion"], "joy", "{tier}: {smile}");
        assert_eq!(cry["dominant_emotion"], "sadness", "{tier}: {cry}");
    }
    // "enraged face" is read by the primary tier: anger leads every emotion but neutral.
    let (_, rage) = analyze(json!({"text": "😡😡😡"}));
    let emotions = rage["emotions"].as_object().unwrap();
    let anger = emotions["anger"].as_f64().unwrap();
    assert!(anger > 0.3 && emotions.iter().all(|(name, p)| name == "neutral" || name == "anger" || p.as_f64().unwrap() < anger), "{rage}");
}
