//! Latency of speech analysis end to end (WAV decode, resampling, trimming, voice activity, features, model) for a
//! 5 s clip, per tier: the first call of the process (models loaded on the way) and warm calls; peak RSS of the
//! process. The clip is the spoken sentence of `tests/data/audio/speech.wav` repeated with short pauses to 5 s, as
//! 16 kHz mono WAV and (interpolated) as 44.1 kHz stereo WAV.
//!
//!     cargo bench -p emosense-core --bench audio_latency [-- ITERATIONS]

mod support;

#[path = "../../../tests/support/wav.rs"]
mod wav;

use std::time::Instant;

use emosense_core::{AudioOptions, Config, EmoSense, Tier};
use serde_json::json;
use support::{peak_rss_mb, percentile};

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100);
    let engine = EmoSense::new(Config::from_env().expect("configuration"));
    let clips = [
        ("44.1 kHz stereo 16-bit", wav::wav(&resampled_to_44k(&wav::spoken_for(5.0)), 44_100, 2, 16, false)),
        ("16 kHz mono 16-bit", wav::wav(&wav::spoken_for(5.0), 16_000, 1, 16, false)),
    ];
    let mut rows = Vec::new();
    for tier in [Tier::Primary, Tier::Secondary, Tier::Fallback] {
        let options = AudioOptions { tier: Some(tier), ..AudioOptions::default() };
        for (name, clip) in &clips {
            let started = Instant::now();
            let first = engine.audio().analyze("bench", clip, &options).expect("analysis");
            let first_ms = started.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(first.metadata.tier, tier, "{:?}", first.metadata.warnings);
            let mut times: Vec<f64> = (0..iterations)
                .map(|_| {
                    let started = Instant::now();
                    engine.audio().analyze("bench", clip, &options).expect("analysis");
                    started.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            rows.push(json!({"tier": tier.as_str(), "clip": name, "bytes": clip.len(), "first_call_ms": (first_ms * 10.0).round() / 10.0,
                             "warm_p50_ms": percentile(&times, 0.5), "warm_p95_ms": percentile(&times, 0.95)}));
        }
    }
    println!("{}", json!({"iterations": iterations, "clip_seconds": 5.0, "rows": rows, "peak_rss_mb": peak_rss_mb()}));
}

/// 16 kHz samples at 44.1 kHz by linear interpolation (up-sampling: nothing folds back).
fn resampled_to_44k(samples: &[f32]) -> Vec<f32> {
    let n = samples.len() * 44_100 / 16_000;
    (0..n)
        .map(|i| {
            let x = i as f64 * 16_000.0 / 44_100.0;
            let (k, frac) = (x as usize, (x - x.floor()) as f32);
            let next = samples.get(k + 1).copied().unwrap_or(samples[k]);
            samples[k] + (next - samples[k]) * frac
        })
        .collect()
}
