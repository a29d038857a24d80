//! Warm latency of text analysis per tier for inputs of 16, 32, 64 and 256 WordPiece tokens (one thread).
//! Prints one JSON object; `tools/bench/text_bench.py` runs it beside onnxruntime and the cold-start measurement.
//!
//!     cargo bench -p emosense-core --bench text_latency [-- ITERATIONS]

mod support;

use std::time::Instant;

use emosense_core::{Config, EmoSense, TextOptions, Tier};
use serde_json::json;
use support::{peak_rss_mb, percentile};

const PASSAGE: &str = "I honestly did not expect the concert to be this good, the band played every song I wanted \
and the crowd was singing along the whole night. Afterwards we walked home through the rain, laughing about \
how terrible our seats were and how little it mattered. Tomorrow I have to go back to work, which makes me a bit \
sad, but I am grateful for evenings like this one and for friends who drag me out of the house when I would \
rather stay in. The ticket prices were outrageous though, and the parking was a disaster that nearly ruined it.";

/// A prefix of the passage (repeated as needed) that encodes to `tokens` ids including [CLS] and [SEP].
fn text_with_tokens(tokenizer: &tokenizers::Tokenizer, tokens: usize) -> String {
    let words: Vec<&str> = PASSAGE.split_whitespace().cycle().take(tokens * 2).collect();
    let count = |n: usize| tokenizer.encode(words[..n].join(" "), true).map(|e| e.len()).unwrap_or(usize::MAX);
    let n = (1..words.len()).take_while(|&n| count(n) <= tokens).last().unwrap_or(1);
    words[..n].join(" ")
}

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
