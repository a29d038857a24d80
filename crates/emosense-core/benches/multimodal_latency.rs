//! Latency of multimodal analysis: a short text, 3 s of spoken WAV (16 kHz mono) and a 640 x 480 photo of one
//! face, analysed together and fused. Cold is the first call of a fresh engine (every model loaded on the way);
//! warm calls follow. Each modality alone is timed warm for comparison; peak RSS of the process.
//!
//!     cargo bench -p emosense-core --bench multimodal_latency [-- ITERATIONS]

mod support;

#[path = "../../../tests/support/wav.rs"]
mod wav;

use std::time::Instant;

use emosense_core::{AudioOptions, Config, EmoSense, FaceOptions, MultimodalInput, MultimodalOptions, TextOptions};
use serde_json::json;
use support::{peak_rss_mb, percentile, photo_640x480, timed};

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    let text = "I can't believe we actually won, this is amazing!";
    let audio = wav::wav(&wav::spoken_for(3.0), 16_000, 1, 16, false);
    let photo = photo_640x480();
    let input = MultimodalInput { text: Some(text), audio: Some(&audio), video: Some(&photo) };
    let options = MultimodalOptions::default();

    let engine = EmoSense::new(Config::from_env().expect("configuration"));
    let started = Instant::now();
    let first = engine.analyze_multimodal(&input, &options).expect("analysis");
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first.metadata.modalities_used.len(), 3);

    let fused = timed(iterations, || {
        engine.analyze_multimodal(&input, &options).expect("analysis");
    });
    let text_alone = timed(iterations, || {
        engine.text().analyze(text, &TextOptions::default()).expect("text");
    });
    let audio_alone = timed(iterations, || {
        engine.audio().analyze("bench", &audio, &AudioOptions::default()).expect("audio");
    });
    let face_alone = timed(iterations, || {
        engine.face().analyze("bench", &photo, &FaceOptions::default()).expect("face");
    });
    let summary = |times: &[f64]| json!({"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95)});
    println!(
        "{}",
        json!({
            "iterations": iterations,
            "inputs": {"text_chars": text.chars().count(), "audio_bytes": audio.len(), "audio_seconds": 3.0, "photo_bytes": photo.len(), "photo": "640x480 one face"},
            "cold_first_call_ms": (cold_ms * 10.0).round() / 10.0,
            "warm_multimodal": summary(&fused),
            "warm_alone": {"text": summary(&text_alone), "audio": summary(&audio_alone), "face": summary(&face_alone)},
            "dominant_emotion": first.dominant_emotion,
            "peak_rss_mb": peak_rss_mb(),
        })
    );
}
