//! Warm latency of text analysis per tier for inputs of 16, 32, 64 and 256 WordPiece tokens (one thread).
//! Prints one JSON object; `tools/bench/text_bench.py` runs it beside onnxruntime and the cold-start measurement.
//!
//!     cargo bench -p emosense-core --bench text_latency [-- ITERATIONS]

mod support;

use std::time::Instant;

use emosense_core::{Config, EmoSense, TextOptions, Tier};
use serde_json::json;
use support::{peak_rss_mb, percentile, text_with_tokens};

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let config = Config::from_env().expect("configuration");
    let mut tokenizer = tokenizers::Tokenizer::from_file(config.model_dir.join("text/tokenizer.json")).expect("tokenizer");
    tokenizer.with_truncation(None).expect("no truncation");
    let engine = EmoSense::new(config);
    let mut report = serde_json::Map::new();
    for tier in [Tier::Primary, Tier::Secondary, Tier::Fallback] {
        let options = TextOptions { tier: Some(tier), ..TextOptions::default() };
        let load_started = Instant::now();
        let first = engine.text().analyze("warm up", &options).expect("analysis");
        assert_eq!(first.metadata.tier, tier, "tier {tier:?} is not available");
        let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
        let mut rows = Vec::new();
        for tokens in [16, 32, 64, 256] {
            let text = text_with_tokens(&tokenizer, tokens);
            let mut times = Vec::with_capacity(iterations);
            for _ in 0..iterations {
                let started = Instant::now();
                std::hint::black_box(engine.text().analyze(&text, &options).expect("analysis"));
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            rows.push(json!({"tokens": tokens, "characters": text.len(), "p50_ms": percentile(&times, 0.5), "p95_ms": percentile(&times, 0.95), "text": text}));
        }
        report.insert(tier.as_str().into(), json!({"first_call_ms": (load_ms * 10.0).round() / 10.0, "latency": rows}));
    }
    report.insert("peak_rss_mb".into(), json!(peak_rss_mb()));
    println!("{}", serde_json::Value::Object(report));
}
