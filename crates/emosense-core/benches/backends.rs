//! The primary tier of each modality on the configured inference backend, device and precision
//! (`EMOTION_INFERENCE_BACKEND`, `EMOTION_MODEL_DEVICE`, `EMOTION_MODEL_PRECISION`): model load (the first call),
//! then warm p50/p95 for text of 16, 64 and 256 tokens one at a time and 32 texts of 64 tokens as one batch, one
//! 640 x 480 photo of one face, and a 5 s 16 kHz speech clip; peak RSS. Prints one JSON object;
//! `tools/bench/backends.sh` runs it once per backend and precision and writes the table.
//!
//!     cargo bench -p emosense-core --features ort --bench backends [-- ITERATIONS]

mod support;

#[path = "../../../tests/support/wav.rs"]
mod wav;

use std::time::Instant;

use emosense_core::{AudioOptions, Config, EmoSense, FaceOptions, TextOptions, Tier};
use serde_json::{json, Value};
use support::{peak_rss_mb, percentile, photo_640x480, text_with_tokens, timed};

/// Load time of the first call, and warm p50/p95 over `iterations` more.
fn measure(iterations: usize, mut call: impl FnMut()) -> Value {
    let started = Instant::now();
    call();
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let times = timed(iterations, call);
    json!({"first_call_ms": (first_ms * 10.0).round() / 10.0, "p50_ms": percentile(&times, 0.5), "p95_ms": percentile(&times, 0.95)})
}

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(50);
    let config = Config::from_env().expect("configuration");
    let mut tokenizer = tokenizers::Tokenizer::from_file(config.model_dir.join("text/tokenizer.json")).expect("tokenizer");
    tokenizer.with_truncation(None).expect("no truncation");
    let setting = json!({"backend": config.inference.backend, "device": config.inference.device, "precision": config.precision});
    let engine = EmoSense::new(config);

    let text_options = TextOptions { tier: Some(Tier::Primary), ..TextOptions::default() };
    let started = Instant::now();
    let first = engine.text().analyze("warm up", &text_options).expect("text analysis");
    assert_eq!(first.metadata.tier, Tier::Primary, "the primary text model is not available");
    let text_load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut text = serde_json::Map::new();
    text.insert("load_ms".into(), json!((text_load_ms * 10.0).round() / 10.0));
    for tokens in [16, 64, 256] {
        let input = text_with_tokens(&tokenizer, tokens);
        text.insert(format!("{tokens}_tokens"), measure(iterations, || drop(engine.text().analyze(&input, &text_options).expect("analysis"))));
    }
    let batch: Vec<String> = (0..32).map(|_| text_with_tokens(&tokenizer, 64)).collect();
    text.insert("batch_32x64_tokens".into(), measure(iterations.div_ceil(4), || drop(engine.text().analyze_batch(&batch, &text_options).expect("analysis"))));

    let photo = photo_640x480();
    let face_options = FaceOptions { tier: Some(Tier::Primary), ..FaceOptions::default() };
    let face = measure(iterations, || {
        let result = engine.face().analyze("bench", &photo, &face_options).expect("face analysis");
        assert_eq!(result.metadata.tier, Tier::Primary);
    });

    let clip = wav::wav(&wav::spoken_for(5.0), 16_000, 1, 16, false);
    let audio_options = AudioOptions { tier: Some(Tier::Primary), ..AudioOptions::default() };
    let audio = measure(iterations, || {
        let result = engine.audio().analyze("bench", &clip, &audio_options).expect("speech analysis");
        assert_eq!(result.metadata.tier, Tier::Primary, "{:?}", result.metadata.warnings);
    });

    println!("{}", json!({"setting": setting, "text": text, "face_640x480": face, "speech_5s_16khz": audio, "peak_rss_mb": peak_rss_mb()}));
}
