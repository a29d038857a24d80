//! Latency of face analysis end to end (decode, detection, landmarks, expression ensemble) for a 640 x 480 photo
//! of one face and a 1920 px group photo of five, per tier: the first call of the process (model load included)
//! and warm calls, with the warm time of each stage; model load time; the two 3 s fixture videos (H.264 MP4 and
//! animated GIF, six frames analysed each); peak RSS of the process.
//!
//!     cargo bench -p emosense-core --bench face_latency [-- ITERATIONS]

mod support;

use std::time::Instant;

use emosense_core::face::StageTimes;
use emosense_core::{Config, EmoSense, FaceOptions, Tier};
use serde_json::json;
use support::{peak_rss_mb, percentile, photo_640x480, read_image, read_video, timed};

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    let photos = [("640x480 one face", photo_640x480()), ("1920x1398 five faces", read_image("group.jpg"))];

    let loading = EmoSense::new(Config::from_env().expect("configuration"));
    let started = Instant::now();
    loading.face().warm_up().expect("face models");
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let engine = EmoSense::new(Config::from_env().expect("configuration"));
    let mut rows = Vec::new();
    for tier in [Tier::Primary, Tier::Secondary, Tier::Fallback] {
        let options = FaceOptions { tier: Some(tier), ..FaceOptions::default() };
        for (name, photo) in &photos {
            let started = Instant::now();
            let first = engine.face().analyze("bench", photo, &options).expect("analysis");
            let first_ms = started.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(first.metadata.tier, tier);
            let mut stages = Vec::new();
            let mut times: Vec<f64> = (0..iterations)
                .map(|_| {
                    let started = Instant::now();
                    let result = engine.face().analyze("bench", photo, &options).expect("analysis");
                    stages.extend(result.metadata.details.face.and_then(|f| f.stages_ms));
                    started.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let median_stage = |stage: fn(&StageTimes) -> f64| {
                let mut values: Vec<f64> = stages.iter().map(stage).collect();
                values.sort_by(f64::total_cmp);
                percentile(&values, 0.5)
            };
            rows.push(json!({
                "tier": tier.as_str(), "photo": name, "bytes": photo.len(),
                "faces": first.faces.as_ref().map_or(0, Vec::len),
                "first_call_ms": (first_ms * 10.0).round() / 10.0,
                "warm_p50_ms": percentile(&times, 0.5), "warm_p95_ms": percentile(&times, 0.95),
                "warm_stage_p50_ms": {"decode": median_stage(|s| s.decode), "detect": median_stage(|s| s.detect),
                                      "landmarks": median_stage(|s| s.landmarks), "expression": median_stage(|s| s.expression)},
            }));
        }
    }
    let mut videos = Vec::new();
    for name in ["faces.mp4", "faces.gif"] {
        let clip = read_video(name);
        let mut result = None;
        let times = timed(iterations.min(10), || result = Some(engine.face().analyze("bench", &clip, &FaceOptions::default()).expect("analysis")));
        let face = result.and_then(|r| r.metadata.details.face).unwrap_or_default();
        videos.push(json!({"video": name, "bytes": clip.len(), "frames_decoded": face.video.map(|v| v.frames_decoded), "frames_analyzed": face.frames_analyzed,
                           "warm_p50_ms": percentile(&times, 0.5), "warm_p95_ms": percentile(&times, 0.95)}));
    }
    println!("{}", json!({"iterations": iterations, "model_load_ms": (load_ms * 10.0).round() / 10.0, "rows": rows, "videos": videos, "peak_rss_mb": peak_rss_mb()}));
}
